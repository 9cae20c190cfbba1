// runtime/calendar: billing periods (month, quarter, year, N days) with an anchor and an IANA
// time zone, and the local-day count that proration "by day" uses. Every calendar fact (days in
// a month, leap years, UTC offsets, daylight saving time) comes from Howard Hinnant's date
// library over the system time zone database; nothing here does calendar arithmetic by hand.
// The rules, with examples: docs/periods.md.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tariff::calendar {

// What went wrong when a rule was made ready or a question was asked of it.
enum class CalendarErrorKind : std::uint8_t {
  kUnknownTimeZone,  // the zone is not in the IANA time zone database (message names it)
  kBadAnchor,        // the anchor is not an RFC 3339 date or date-time (message says why)
  kBadRule,          // count out of range for the length (kDays: 1..3660; otherwise 1)
  kOutOfRange,       // an instant outside [kMinInstant, kMaxInstant]
  kBadInterval,      // an interval or range whose end is before its start
};

class CalendarError : public std::runtime_error {
 public:
  CalendarError(CalendarErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  CalendarErrorKind kind() const { return kind_; }

 private:
  CalendarErrorKind kind_;
};

enum class PeriodLength : std::uint8_t { kMonth, kQuarter, kYear, kDays };

// A billing period rule, as a plan's `period LENGTH [anchor DATE] [timezone "ZONE"]` says it.
struct PeriodRule {
  PeriodLength length = PeriodLength::kMonth;
  // kDays: the number of days, 1..3660. kMonth, kQuarter, kYear: must be 1 (a quarter is 3
  // months, a year 12).
  int count = 1;
  // "" (the default anchor, below) or RFC 3339: a date `2026-01-31`, a local date-time
  // `2026-01-31T09:00:00` (fractions up to microseconds; `T`, `t` or a space between), or a
  // date-time with an offset `…Z` / `…+01:00` (an instant).
  std::string anchor;
  // An IANA time zone name ("UTC", "America/New_York", "Asia/Kolkata", …).
  std::string time_zone = "UTC";
};

// [start, end) in microseconds since the Unix epoch, UTC.
struct Interval {
  std::int64_t start = 0;
  std::int64_t end = 0;
  friend bool operator==(const Interval&, const Interval&) = default;
};

// The instants a Calendar answers for: -9999-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z
// (every RFC 3339 timestamp, in any offset, is inside). Boundaries of periods that contain them
// may lie slightly outside (a period containing 9999-12-31 may end in 10000).
inline constexpr std::int64_t kMinInstant = -377705116800LL * 1000000;  // -9999-01-01T00:00:00Z
inline constexpr std::int64_t kMaxInstant = 253402300799999999LL;       // 9999-12-31T23:59:59.999999Z

namespace internal {
class Zone;  // a looked-up time zone (runtime/calendar/zone.h)
}  // namespace internal

// A PeriodRule made ready: the anchor parsed and the zone looked up once. Cheap to copy (the
// zone is shared); every member is const and safe to call from several threads at once.
//
// The rules:
//
// Anchor. A date-only anchor means local midnight in the rule's zone on that date. A date-time
//   without an offset is local wall-clock time in the zone. A date-time with an offset (or `Z`)
//   is an instant, converted to the zone's wall-clock time at that instant. What the anchor
//   fixes is that local wall-clock time: its year and month (the phase of quarters and years),
//   its day of the month, and its time of day. A local anchor that falls in a DST gap or fold
//   keeps its wall-clock time (02:30 stays 02:30 for every other boundary); only the boundaries
//   that land in the gap or fold are mapped by the rule below.
// Default anchor (anchor ""): 1970-01-01T00:00:00 local, i.e. months start on the 1st at 00:00
//   local, quarters on Jan/Apr/Jul/Oct 1, years on Jan 1, and N-day periods count from
//   1970-01-01 00:00 local.
// Months, quarters, years. Boundary k (k any integer, negative before the anchor) is the local
//   wall-clock time anchor + k·M months (M = 1, 3, 12), computed from the anchor every time (no
//   drift): the anchor's day of the month clamped to the last day of the target month, at the
//   anchor's time of day. An anchor on the 31st gives Jan 31, Feb 28 (29 in a leap year),
//   Mar 31, Apr 30, …; a yearly anchor on Feb 29 gives Feb 28 in other years.
// N days. Boundary k is the anchor's local date + k·N calendar days, at the anchor's time of
//   day; so a 1-day period across a daylight saving change is 23 or 25 hours long.
// Local time to instant. A boundary's local wall-clock time becomes an instant in the zone: a
//   time that does not exist (skipped by a spring-forward gap) maps to the first instant after
//   the gap, i.e. the instant of the transition (02:30 on 2026-03-08 in New York → 03:00 EDT,
//   07:00Z; not 03:30); a time that occurs twice (fall-back) maps to the earlier instant
//   (01:30 on 2026-11-01 in New York → 01:30 EDT, 05:30Z). These are date::choose::earliest's
//   semantics. Periods are [boundary k, boundary k+1). A period whose boundaries map to the same
//   instant (a 1-day period on a date the zone skipped entirely, e.g. 2011-12-30 in
//   Pacific/Apia) is empty: it contains no instant and PeriodsOverlapping leaves it out.
// Time zone data. Offsets come from the system database (/usr/share/zoneinfo, the one the date
//   library reads). Past the last transition a zone file lists (2037 in Debian's files), the
//   zone's POSIX TZ rule stored at the end of the same file continues daylight saving time,
//   evaluated by the date library's ptz.h. Three zones whose rule that parser cannot read
//   (America/Nuuk, America/Godthab, America/Scoresbysund: negative transition times) keep their
//   last listed offset after 2037.
class Calendar {
 public:
  // Throws CalendarError: kUnknownTimeZone (message names the zone), kBadAnchor, kBadRule.
  explicit Calendar(const PeriodRule& rule);

  const PeriodRule& rule() const { return rule_; }

  // The period that contains `instant`: start <= instant < end. Never empty.
  // Throws CalendarError(kOutOfRange) outside [kMinInstant, kMaxInstant].
  Interval PeriodContaining(std::int64_t instant) const;

  // Every non-empty period that overlaps [from, to) (start < to and end > from), in order; the
  // first contains `from`. from == to gives none. Throws CalendarError: kBadInterval if
  // to < from, kOutOfRange if either is outside [kMinInstant, kMaxInstant].
  std::vector<Interval> PeriodsOverlapping(std::int64_t from, std::int64_t to) const;

  // Local calendar days of [start, end): the number of local dates d with
  // date(start) <= d < date(end rounded up), where a partial day counts as a whole one:
  //   Days = (local date of end, plus one unless end is the first instant of its local date)
  //          − (local date of start).
  // "The first instant of a local date" is local midnight mapped by the rule above (so in a
  // zone whose clocks skip midnight, the day starts at the end of the gap). An empty interval
  // has 0 days. Days of a full month period is the month's length (31 for March, also across a
  // DST change), of a 1-day period 1. A date the zone skipped entirely still counts (in
  // Pacific/Apia, [2011-12-29 00:00, 2011-12-31 00:00) local is 2 days). Used for proration
  // "by day".
  // Throws CalendarError: kBadInterval if end < start, kOutOfRange as above.
  std::int64_t Days(Interval interval) const;

  // Days of [start, end) counted in 30-day months (30E/360, the "30-day month" proration of
  // billing platforms): D(a, b) = f(date of b) − f(date of a), with f(y, m, d) = 360·y + 30·m +
  // min(d, 30) over local dates (a partial last day is not counted). A calendar month (from a
  // day-of-month at most 30 to the same day of the next) is 30 days whatever its length, a
  // quarter 90, a year 360; the 31st is day 30, and the last day of February counts its missing
  // days (2026-02-28 .. 2026-03-01 is 3). With an anchor on the 31st, periods are not all 30
  // days (January 31 .. February 28 is 28): that is the convention, 30E/360. Additive: D(a, c) = D(a, b) + D(b, c),
  // so a period split at a change of plan adds up to the whole. Throws as Days.
  std::int64_t Days360(Interval interval) const;

  // RFC 3339 local time with the zone's offset at that instant: `2026-03-01T00:00:00-05:00`;
  // `Z` when the offset is 0; fractions only when non-zero (trailing zeros dropped). Historical
  // offsets with seconds (local mean time, before ~1900) print as `±hh:mm:ss`, which RFC 3339
  // cannot express; years outside 0000..9999 print with as many digits as they need.
  // Throws CalendarError(kOutOfRange) as above.
  std::string FormatLocal(std::int64_t instant) const;

  // An RFC 3339 date or date-time as an instant, read as the anchor is: a date is local
  // midnight in the zone, a date-time without offset local wall-clock time (gaps and overlaps
  // as above), one with an offset the instant it names. Throws CalendarError(kBadAnchor) with
  // the reason ("bad date \"…\": …").
  std::int64_t ParseLocal(std::string_view text) const;

 private:
  std::int64_t Boundary(std::int64_t k) const;  // boundary k as an instant
  std::int64_t IndexEstimate(std::int64_t instant) const;
  std::int64_t IndexContaining(std::int64_t instant) const;

  PeriodRule rule_;
  std::shared_ptr<const internal::Zone> zone_;
  int months_per_period_ = 1;  // 1, 3, 12; 0 for kDays
  // The anchor as local wall-clock time.
  int anchor_year_ = 1970;
  unsigned anchor_month_ = 1;
  unsigned anchor_day_ = 1;
  std::int64_t anchor_time_of_day_ = 0;  // microseconds since local midnight
};

}  // namespace tariff::calendar
