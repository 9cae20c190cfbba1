// tests/unit: runtime/calendar — billing periods (month, quarter, year, N days) with anchors and
// IANA time zones: day clamping, leap years, daylight saving gaps and folds, half-hour offsets,
// local day counts, local formatting and the errors. Expected instants are written in RFC 3339
// and read by runtime/io's own (hand-written) parser, so the two implementations check each other.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/calendar/calendar.h"
#include "runtime/io/usage_reader.h"

namespace {

using tariff::calendar::Calendar;
using tariff::calendar::CalendarError;
using tariff::calendar::CalendarErrorKind;
using tariff::calendar::Interval;
using tariff::calendar::PeriodLength;
using tariff::calendar::PeriodRule;

constexpr std::int64_t kHour = 3600LL * 1000000;

// An RFC 3339 timestamp (a bare date is midnight UTC) as microseconds since the epoch.
std::int64_t T(const char* text) {
  std::string error;
  const auto micros = tariff::ParseTimestamp(text, &error);
  if (!micros) FAIL("bad timestamp in test: " << text << ": " << error);
  return *micros;
}

// "[start, end)" in UTC, for readable comparisons.
std::string S(Interval interval) {
  return "[" + tariff::FormatTimestamp(interval.start) + ", " + tariff::FormatTimestamp(interval.end) + ")";
}

std::vector<std::string> S(const std::vector<Interval>& intervals) {
  std::vector<std::string> out;
  for (const Interval& interval : intervals) out.push_back(S(interval));
  return out;
}

Calendar Make(PeriodLength length, const char* anchor = "", const char* zone = "UTC", int count = 1) {
  PeriodRule rule;
  rule.length = length;
  rule.count = count;
  rule.anchor = anchor;
  rule.time_zone = zone;
  return Calendar(rule);
}

Calendar Months(const char* anchor = "", const char* zone = "UTC") { return Make(PeriodLength::kMonth, anchor, zone); }
Calendar DaysOf(int count, const char* anchor = "", const char* zone = "UTC") {
  return Make(PeriodLength::kDays, anchor, zone, count);
}

// The period containing `instant`, as text.
std::string In(const Calendar& calendar, const char* instant) { return S(calendar.PeriodContaining(T(instant))); }

struct Caught {
  CalendarErrorKind kind;
  std::string message;
};

Caught ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const CalendarError& e) {
    return {e.kind(), e.what()};
  }
  FAIL("no CalendarError thrown");
  return {};
}

}  // namespace

TEST_CASE("calendar: UTC months start on the 1st, Days is the month's length", "[calendar]") {
  const Calendar utc = Months();
  CHECK(In(utc, "2026-02-10T12:34:56Z") == "[2026-02-01T00:00:00Z, 2026-03-01T00:00:00Z)");
  // A boundary belongs to the period it starts.
  CHECK(In(utc, "2026-03-01T00:00:00Z") == "[2026-03-01T00:00:00Z, 2026-04-01T00:00:00Z)");
  CHECK(In(utc, "2026-02-28T23:59:59.999999Z") == "[2026-02-01T00:00:00Z, 2026-03-01T00:00:00Z)");
  CHECK(In(utc, "2024-02-29T12:00:00Z") == "[2024-02-01T00:00:00Z, 2024-03-01T00:00:00Z)");
  CHECK(utc.Days(utc.PeriodContaining(T("2024-02-10"))) == 29);  // leap February
  CHECK(utc.Days(utc.PeriodContaining(T("2026-02-10"))) == 28);
  CHECK(utc.Days(utc.PeriodContaining(T("2026-03-10"))) == 31);
  CHECK(utc.Days(utc.PeriodContaining(T("2026-04-10"))) == 30);
  CHECK(utc.Days(utc.PeriodContaining(T("1900-02-10"))) == 28);  // not a leap year (÷100)
  CHECK(utc.Days(utc.PeriodContaining(T("2000-02-10"))) == 29);  // a leap year (÷400)
  // Far from the default anchor (1970-01-01) in both directions.
  CHECK(In(utc, "1066-10-14T09:00:00Z") == "[1066-10-01T00:00:00Z, 1066-11-01T00:00:00Z)");
  CHECK(In(utc, "9999-12-31T23:59:59Z") == "[9999-12-01T00:00:00Z, 10000-01-01T00:00:00Z)");
}

TEST_CASE("calendar: an anchor on the 31st ends short months on their last day, without drift", "[calendar]") {
  const Calendar c = Months("2026-01-31");
  CHECK(In(c, "2026-02-15") == "[2026-01-31T00:00:00Z, 2026-02-28T00:00:00Z)");
  CHECK(In(c, "2026-03-05") == "[2026-02-28T00:00:00Z, 2026-03-31T00:00:00Z)");  // back to the 31st
  CHECK(In(c, "2026-04-30T00:00:00Z") == "[2026-04-30T00:00:00Z, 2026-05-31T00:00:00Z)");
  CHECK(In(c, "2026-04-29T23:59:59Z") == "[2026-03-31T00:00:00Z, 2026-04-30T00:00:00Z)");
  // 2028 is a leap year: the February boundary is the 29th.
  CHECK(In(c, "2028-02-10") == "[2028-01-31T00:00:00Z, 2028-02-29T00:00:00Z)");
  CHECK(In(c, "2028-02-29T12:00:00Z") == "[2028-02-29T00:00:00Z, 2028-03-31T00:00:00Z)");
  CHECK(c.Days(c.PeriodContaining(T("2028-02-10"))) == 29);  // Jan 31 .. Feb 28
  CHECK(c.Days(c.PeriodContaining(T("2026-03-05"))) == 31);  // Feb 28 .. Mar 30
  // Before the anchor, and centuries away.
  CHECK(In(c, "2025-12-01") == "[2025-11-30T00:00:00Z, 2025-12-31T00:00:00Z)");
  CHECK(In(c, "1900-03-15") == "[1900-02-28T00:00:00Z, 1900-03-31T00:00:00Z)");
  CHECK(In(c, "2400-03-15") == "[2400-02-29T00:00:00Z, 2400-03-31T00:00:00Z)");
  // With a time of day.
  const Calendar nine = Months("2026-01-31T09:00:00");
  CHECK(In(nine, "2026-02-28T08:59:59Z") == "[2026-01-31T09:00:00Z, 2026-02-28T09:00:00Z)");
  CHECK(In(nine, "2026-02-28T09:00:00Z") == "[2026-02-28T09:00:00Z, 2026-03-31T09:00:00Z)");
}

TEST_CASE("calendar: a yearly anchor on Feb 29 gives Feb 28 in other years", "[calendar]") {
  const Calendar c = Make(PeriodLength::kYear, "2024-02-29");
  CHECK(In(c, "2024-03-01") == "[2024-02-29T00:00:00Z, 2025-02-28T00:00:00Z)");
  CHECK(In(c, "2025-06-01") == "[2025-02-28T00:00:00Z, 2026-02-28T00:00:00Z)");
  CHECK(In(c, "2028-03-01") == "[2028-02-29T00:00:00Z, 2029-02-28T00:00:00Z)");
  CHECK(In(c, "2028-02-28T23:00:00Z") == "[2027-02-28T00:00:00Z, 2028-02-29T00:00:00Z)");
  CHECK(In(c, "2000-01-01") == "[1999-02-28T00:00:00Z, 2000-02-29T00:00:00Z)");
  CHECK(c.Days(c.PeriodContaining(T("2025-06-01"))) == 365);
  CHECK(c.Days(c.PeriodContaining(T("2024-03-01"))) == 365);  // Feb 29 2024 .. Feb 27 2025
  CHECK(c.Days(c.PeriodContaining(T("2027-06-01"))) == 366);  // Feb 28 2027 .. Feb 28 2028
}

TEST_CASE("calendar: quarters and years by default start on Jan/Apr/Jul/Oct 1 and Jan 1", "[calendar]") {
  const Calendar quarters = Make(PeriodLength::kQuarter);
  CHECK(In(quarters, "2026-05-20") == "[2026-04-01T00:00:00Z, 2026-07-01T00:00:00Z)");
  CHECK(In(quarters, "2026-12-31T23:59:59Z") == "[2026-10-01T00:00:00Z, 2027-01-01T00:00:00Z)");
  CHECK(In(quarters, "1969-02-01") == "[1969-01-01T00:00:00Z, 1969-04-01T00:00:00Z)");
  CHECK(quarters.Days(quarters.PeriodContaining(T("2026-02-01"))) == 90);
  CHECK(quarters.Days(quarters.PeriodContaining(T("2024-02-01"))) == 91);
  // An anchor sets the phase: quarters from Feb 15 → Feb/May/Aug/Nov 15.
  const Calendar shifted = Make(PeriodLength::kQuarter, "2026-02-15");
  CHECK(In(shifted, "2026-06-01") == "[2026-05-15T00:00:00Z, 2026-08-15T00:00:00Z)");
  CHECK(In(shifted, "2026-02-14") == "[2025-11-15T00:00:00Z, 2026-02-15T00:00:00Z)");
  // Quarters anchored on the 31st clamp every time from the anchor (Aug 31 → Nov 30 → Feb 28 → May 31).
  const Calendar end_of_month = Make(PeriodLength::kQuarter, "2025-08-31");
  CHECK(In(end_of_month, "2026-01-01") == "[2025-11-30T00:00:00Z, 2026-02-28T00:00:00Z)");
  CHECK(In(end_of_month, "2026-03-01") == "[2026-02-28T00:00:00Z, 2026-05-31T00:00:00Z)");

  const Calendar years = Make(PeriodLength::kYear);
  CHECK(In(years, "2026-07-04") == "[2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z)");
  CHECK(years.Days(years.PeriodContaining(T("2026-07-04"))) == 365);
  CHECK(years.Days(years.PeriodContaining(T("2024-07-04"))) == 366);
}

TEST_CASE("calendar: N-day periods count from the anchor, or from 1970-01-01", "[calendar]") {
  const Calendar thirty = DaysOf(30, "2026-01-10");
  CHECK(In(thirty, "2026-01-10") == "[2026-01-10T00:00:00Z, 2026-02-09T00:00:00Z)");
  CHECK(In(thirty, "2026-02-09") == "[2026-02-09T00:00:00Z, 2026-03-11T00:00:00Z)");
  CHECK(In(thirty, "2026-01-01") == "[2025-12-11T00:00:00Z, 2026-01-10T00:00:00Z)");  // before the anchor
  CHECK(In(thirty, "1943-12-01") == "[1943-11-22T00:00:00Z, 1943-12-22T00:00:00Z)");  // 1000 periods before
  CHECK(thirty.Days(thirty.PeriodContaining(T("2026-02-20"))) == 30);
  // The default anchor: 1970-01-01 was a Thursday, so weeks run Thursday to Thursday.
  const Calendar weeks = DaysOf(7);
  CHECK(In(weeks, "2026-03-04T15:00:00Z") == "[2026-02-26T00:00:00Z, 2026-03-05T00:00:00Z)");
  CHECK(In(weeks, "1969-12-31T23:59:59Z") == "[1969-12-25T00:00:00Z, 1970-01-01T00:00:00Z)");
  // A time of day in the anchor.
  const Calendar daily = DaysOf(1, "2026-01-01T06:00:00");
  CHECK(In(daily, "2026-03-04T05:59:59Z") == "[2026-03-03T06:00:00Z, 2026-03-04T06:00:00Z)");
}

TEST_CASE("calendar: PeriodsOverlapping lists every period touching a range, in order", "[calendar]") {
  const Calendar c = Months("2026-01-31");
  CHECK(S(c.PeriodsOverlapping(T("2026-01-15"), T("2026-05-01"))) ==
        std::vector<std::string>{"[2025-12-31T00:00:00Z, 2026-01-31T00:00:00Z)",
                                 "[2026-01-31T00:00:00Z, 2026-02-28T00:00:00Z)",
                                 "[2026-02-28T00:00:00Z, 2026-03-31T00:00:00Z)",
                                 "[2026-03-31T00:00:00Z, 2026-04-30T00:00:00Z)",
                                 "[2026-04-30T00:00:00Z, 2026-05-31T00:00:00Z)"});
  // The range's end is exclusive: a range ending on a boundary does not reach the next period.
  CHECK(S(c.PeriodsOverlapping(T("2026-02-28"), T("2026-03-31"))) ==
        std::vector<std::string>{"[2026-02-28T00:00:00Z, 2026-03-31T00:00:00Z)"});
  CHECK(c.PeriodsOverlapping(T("2026-02-28"), T("2026-02-28")).empty());
  // Before the anchor.
  const Calendar thirty = DaysOf(30, "2026-01-10");
  CHECK(S(thirty.PeriodsOverlapping(T("2025-11-01"), T("2026-01-10"))) ==
        std::vector<std::string>{"[2025-10-12T00:00:00Z, 2025-11-11T00:00:00Z)",
                                 "[2025-11-11T00:00:00Z, 2025-12-11T00:00:00Z)",
                                 "[2025-12-11T00:00:00Z, 2026-01-10T00:00:00Z)"});
  // A long range: every period abuts the next.
  const auto years = Months().PeriodsOverlapping(T("1999-12-31T23:00:00Z"), T("2100-01-01"));
  REQUIRE(years.size() == 100 * 12 + 1);
  CHECK(S(years.front()) == "[1999-12-01T00:00:00Z, 2000-01-01T00:00:00Z)");
  CHECK(S(years.back()) == "[2099-12-01T00:00:00Z, 2100-01-01T00:00:00Z)");
  for (std::size_t i = 1; i < years.size(); ++i) REQUIRE(years[i].start == years[i - 1].end);
}

TEST_CASE("calendar: America/New_York months and days across daylight saving changes", "[calendar]") {
  const Calendar month = Months("", "America/New_York");
  const Interval march = month.PeriodContaining(T("2026-03-15T12:00:00Z"));  // DST starts 2026-03-08
  CHECK(S(march) == "[2026-03-01T05:00:00Z, 2026-04-01T04:00:00Z)");
  CHECK(march.end - march.start == 743 * kHour);
  CHECK(month.Days(march) == 31);
  CHECK(month.FormatLocal(march.start) == "2026-03-01T00:00:00-05:00");
  CHECK(month.FormatLocal(march.end) == "2026-04-01T00:00:00-04:00");
  const Interval november = month.PeriodContaining(T("2026-11-15T12:00:00Z"));  // DST ends 2026-11-01
  CHECK(S(november) == "[2026-11-01T04:00:00Z, 2026-12-01T05:00:00Z)");
  CHECK(november.end - november.start == 721 * kHour);
  CHECK(month.Days(november) == 30);
  // An instant late on Feb 28 local is already March in UTC, but February in New York.
  CHECK(In(month, "2026-03-01T04:59:59Z") == "[2026-02-01T05:00:00Z, 2026-03-01T05:00:00Z)");

  const Calendar day = DaysOf(1, "", "America/New_York");
  const Interval spring = day.PeriodContaining(T("2026-03-08T12:00:00Z"));
  CHECK(S(spring) == "[2026-03-08T05:00:00Z, 2026-03-09T04:00:00Z)");
  CHECK(spring.end - spring.start == 23 * kHour);
  CHECK(day.Days(spring) == 1);
  const Interval fall = day.PeriodContaining(T("2026-11-01T12:00:00Z"));
  CHECK(S(fall) == "[2026-11-01T04:00:00Z, 2026-11-02T05:00:00Z)");
  CHECK(fall.end - fall.start == 25 * kHour);
  CHECK(day.Days(fall) == 1);
}

TEST_CASE("calendar: a boundary in a DST gap is the end of the gap, in a fold, the earlier instant", "[calendar]") {
  // 02:30 does not exist on 2026-03-08 in New York (02:00 EST → 03:00 EDT): that boundary is
  // 03:00 EDT = 07:00Z; in other months 02:30 exists.
  const Calendar gap = Months("2026-03-08T02:30:00", "America/New_York");
  CHECK(In(gap, "2026-03-20") == "[2026-03-08T07:00:00Z, 2026-04-08T06:30:00Z)");
  CHECK(In(gap, "2026-03-01") == "[2026-02-08T07:30:00Z, 2026-03-08T07:00:00Z)");
  CHECK(gap.FormatLocal(gap.PeriodContaining(T("2026-03-20")).start) == "2026-03-08T03:00:00-04:00");
  const Calendar gap_days = DaysOf(1, "2026-03-08T02:30:00", "America/New_York");
  CHECK(In(gap_days, "2026-03-08T12:00:00Z") == "[2026-03-08T07:00:00Z, 2026-03-09T06:30:00Z)");
  CHECK(In(gap_days, "2026-03-08T06:59:59Z") == "[2026-03-07T07:30:00Z, 2026-03-08T07:00:00Z)");
  // Any instant inside a skipped hour of wall-clock time is the same boundary.
  CHECK(In(DaysOf(1, "2026-01-01T02:59:59.999999", "America/New_York"), "2026-03-08T12:00:00Z") ==
        "[2026-03-08T07:00:00Z, 2026-03-09T06:59:59.999999Z)");

  // Santiago springs forward at midnight (2025-09-07 00:00 -04:00 → 01:00 -03:00): that day
  // starts at the end of the gap, is 23 hours long and still counts as 1 day.
  const Calendar santiago = DaysOf(1, "", "America/Santiago");
  const Interval skipped_midnight = santiago.PeriodContaining(T("2025-09-07T12:00:00Z"));
  CHECK(S(skipped_midnight) == "[2025-09-07T04:00:00Z, 2025-09-08T03:00:00Z)");
  CHECK(santiago.FormatLocal(skipped_midnight.start) == "2025-09-07T01:00:00-03:00");
  CHECK(santiago.Days(skipped_midnight) == 1);
  CHECK(In(santiago, "2025-09-07T03:59:59Z") == "[2025-09-06T04:00:00Z, 2025-09-07T04:00:00Z)");

  // 01:30 happens twice on 2026-11-01 (EDT, then EST): the boundary is the first, 05:30Z.
  const Calendar fold = Months("2026-11-01T01:30:00", "America/New_York");
  CHECK(In(fold, "2026-11-15") == "[2026-11-01T05:30:00Z, 2026-12-01T06:30:00Z)");
  CHECK(fold.FormatLocal(T("2026-11-01T05:30:00Z")) == "2026-11-01T01:30:00-04:00");
  CHECK(fold.FormatLocal(T("2026-11-01T06:30:00Z")) == "2026-11-01T01:30:00-05:00");
}

TEST_CASE("calendar: an anchor with an offset is an instant, read as the zone's wall-clock time", "[calendar]") {
  // 23:00 at -05:00 on Jan 31 is 04:00 on Feb 1 in UTC: months start on the 1st at 04:00.
  const Calendar utc = Months("2026-01-31T23:00:00-05:00");
  CHECK(In(utc, "2026-03-10") == "[2026-03-01T04:00:00Z, 2026-04-01T04:00:00Z)");
  // 05:00Z on Jan 15 is midnight in New York (EST): months start on the 15th at local midnight,
  // which is 04:00Z in summer.
  const Calendar ny = Months("2026-01-15T05:00:00Z", "America/New_York");
  CHECK(In(ny, "2026-07-20") == "[2026-07-15T04:00:00Z, 2026-08-15T04:00:00Z)");
  // A date-only anchor is local midnight in the zone.
  CHECK(In(Months("2026-01-15", "America/New_York"), "2026-07-20") == "[2026-07-15T04:00:00Z, 2026-08-15T04:00:00Z)");
  // Fractions of a second in an anchor are kept.
  CHECK(In(Months("2026-01-01T00:00:00.25"), "2026-05-05") == "[2026-05-01T00:00:00.25Z, 2026-06-01T00:00:00.25Z)");
}

TEST_CASE("calendar: Europe/Paris, Asia/Kolkata (+05:30), Australia/Lord_Howe (30-minute DST)", "[calendar]") {
  const Calendar paris = Months("", "Europe/Paris");  // DST starts 2026-03-29
  const Interval march = paris.PeriodContaining(T("2026-03-15"));
  CHECK(S(march) == "[2026-02-28T23:00:00Z, 2026-03-31T22:00:00Z)");
  CHECK(march.end - march.start == 743 * kHour);
  CHECK(paris.FormatLocal(march.start) == "2026-03-01T00:00:00+01:00");
  CHECK(paris.FormatLocal(march.end) == "2026-04-01T00:00:00+02:00");

  const Calendar kolkata = Months("", "Asia/Kolkata");
  CHECK(In(kolkata, "2026-02-10") == "[2026-01-31T18:30:00Z, 2026-02-28T18:30:00Z)");
  CHECK(kolkata.FormatLocal(T("2026-01-31T18:30:00Z")) == "2026-02-01T00:00:00+05:30");
  // 01:30 to 22:30 on Feb 11 in Kolkata is one local day (in UTC it touches two).
  CHECK(kolkata.Days({T("2026-02-10T20:00:00Z"), T("2026-02-11T17:00:00Z")}) == 1);
  CHECK(Months().Days({T("2026-02-10T20:00:00Z"), T("2026-02-11T17:00:00Z")}) == 2);

  // Lord Howe Island: +11:00 in summer, +10:30 in winter. DST ends 2026-04-05 at 02:00 → 01:30,
  // so that local day is 24.5 hours long; it starts again 2026-10-04 at 02:00 → 02:30 (23.5 h).
  const Calendar lord_howe = DaysOf(1, "", "Australia/Lord_Howe");
  const Interval april = lord_howe.PeriodContaining(T("2026-04-05T00:00:00Z"));
  CHECK(S(april) == "[2026-04-04T13:00:00Z, 2026-04-05T13:30:00Z)");
  CHECK(april.end - april.start == 49 * kHour / 2);
  CHECK(lord_howe.FormatLocal(april.start) == "2026-04-05T00:00:00+11:00");
  CHECK(lord_howe.FormatLocal(april.end) == "2026-04-06T00:00:00+10:30");
  const Interval october = lord_howe.PeriodContaining(T("2026-10-04T00:00:00Z"));
  CHECK(S(october) == "[2026-10-03T13:30:00Z, 2026-10-04T13:00:00Z)");
  CHECK(october.end - october.start == 47 * kHour / 2);
}

TEST_CASE("calendar: daylight saving continues past the zone file's last transition (2037)", "[calendar]") {
  const Calendar month = Months("", "America/New_York");
  CHECK(In(month, "2040-07-10") == "[2040-07-01T04:00:00Z, 2040-08-01T04:00:00Z)");  // EDT
  CHECK(In(month, "2040-01-10") == "[2040-01-01T05:00:00Z, 2040-02-01T05:00:00Z)");  // EST
  CHECK(In(month, "2525-07-10") == "[2525-07-01T04:00:00Z, 2525-08-01T04:00:00Z)");
  const Calendar day = DaysOf(1, "", "America/New_York");
  const Interval spring = day.PeriodContaining(T("2040-03-11T12:00:00Z"));  // second Sunday of March
  CHECK(S(spring) == "[2040-03-11T05:00:00Z, 2040-03-12T04:00:00Z)");
  CHECK(spring.end - spring.start == 23 * kHour);
  CHECK(day.FormatLocal(T("2040-07-04T16:00:00Z")) == "2040-07-04T12:00:00-04:00");
  const Calendar sydney = Months("", "Australia/Sydney");  // southern hemisphere: DST in January
  CHECK(sydney.FormatLocal(T("2050-01-01T00:00:00Z")) == "2050-01-01T11:00:00+11:00");
  CHECK(sydney.FormatLocal(T("2050-07-01T00:00:00Z")) == "2050-07-01T10:00:00+10:00");
  // And the far past: New York kept local mean time (-04:56:02) until 1883-11-18.
  CHECK(In(month, "1900-03-10") == "[1900-03-01T05:00:00Z, 1900-04-01T05:00:00Z)");
  CHECK(month.FormatLocal(T("1850-01-01T00:00:00Z")) == "1849-12-31T19:03:58-04:56:02");
}

TEST_CASE("calendar: a day a zone skipped entirely is an empty period, left out", "[calendar]") {
  // Samoa moved across the date line: 2011-12-29 24:00 (-10:00) was 2011-12-31 00:00 (+14:00).
  const Calendar apia = DaysOf(1, "", "Pacific/Apia");
  CHECK(S(apia.PeriodsOverlapping(T("2011-12-29T10:00:00Z"), T("2011-12-31T10:00:00Z"))) ==
        std::vector<std::string>{"[2011-12-29T10:00:00Z, 2011-12-30T10:00:00Z)",
                                 "[2011-12-30T10:00:00Z, 2011-12-31T10:00:00Z)"});
  CHECK(In(apia, "2011-12-30T10:00:00Z") == "[2011-12-30T10:00:00Z, 2011-12-31T10:00:00Z)");
  CHECK(apia.FormatLocal(T("2011-12-30T10:00:00Z")) == "2011-12-31T00:00:00+14:00");
  // Days counts local dates between the ends, the skipped 30th included.
  CHECK(apia.Days({T("2011-12-29T10:00:00Z"), T("2011-12-30T10:00:00Z")}) == 2);
}

TEST_CASE("calendar: Days counts local dates, a partial day as a whole one", "[calendar]") {
  const Calendar utc = Months();
  CHECK(utc.Days({T("2026-04-16T00:00:00Z"), T("2026-05-01T00:00:00Z")}) == 15);
  CHECK(utc.Days({T("2026-04-16T10:00:00Z"), T("2026-04-20T00:00:00Z")}) == 4);
  CHECK(utc.Days({T("2026-04-16T10:00:00Z"), T("2026-04-20T00:00:00.000001Z")}) == 5);
  CHECK(utc.Days({T("2026-04-16T10:00:00Z"), T("2026-04-16T11:00:00Z")}) == 1);
  CHECK(utc.Days({T("2026-04-16T23:59:59Z"), T("2026-04-17T00:00:01Z")}) == 2);
  CHECK(utc.Days({T("2026-04-16T10:00:00Z"), T("2026-04-16T10:00:00Z")}) == 0);
  // In New York, local dates: [Apr 15 20:00 EDT, Apr 19 20:00 EDT) touches Apr 15..19.
  const Calendar ny = Months("", "America/New_York");
  CHECK(ny.Days({T("2026-04-16T00:00:00Z"), T("2026-04-20T00:00:00Z")}) == 5);
  CHECK(ny.Days({T("2026-04-16T04:00:00Z"), T("2026-04-20T04:00:00Z")}) == 4);
}

TEST_CASE("calendar: FormatLocal writes RFC 3339 with the zone's offset", "[calendar]") {
  CHECK(Months().FormatLocal(T("2026-03-01T00:00:00Z")) == "2026-03-01T00:00:00Z");
  CHECK(Months().FormatLocal(T("2026-03-01T00:00:00.5Z")) == "2026-03-01T00:00:00.5Z");
  CHECK(Months().FormatLocal(T("2026-03-01T00:00:00.000123Z")) == "2026-03-01T00:00:00.000123Z");
  const Calendar ny = Months("", "America/New_York");
  CHECK(ny.FormatLocal(T("2026-03-01T05:00:00Z")) == "2026-03-01T00:00:00-05:00");
  CHECK(ny.FormatLocal(T("2026-03-08T06:59:59Z")) == "2026-03-08T01:59:59-05:00");
  CHECK(ny.FormatLocal(T("2026-03-08T07:00:00Z")) == "2026-03-08T03:00:00-04:00");
  CHECK(ny.FormatLocal(T("2026-01-01T00:00:00Z")) == "2025-12-31T19:00:00-05:00");
  const Calendar london = Months("", "Europe/London");
  CHECK(london.FormatLocal(T("2026-01-15T12:00:00Z")) == "2026-01-15T12:00:00Z");  // offset 0
  CHECK(london.FormatLocal(T("2026-07-15T12:00:00Z")) == "2026-07-15T13:00:00+01:00");
  CHECK(Months("", "Asia/Kathmandu").FormatLocal(T("2026-01-01T00:00:00Z")) == "2026-01-01T05:45:00+05:45");
}

TEST_CASE("calendar: unknown zones, bad anchors, bad counts and out-of-range instants throw", "[calendar]") {
  const Caught zone = ErrorOf([] { Months("", "Mars/Olympus"); });
  CHECK(zone.kind == CalendarErrorKind::kUnknownTimeZone);
  CHECK_THAT(zone.message, Catch::Contains("\"Mars/Olympus\""));
  CHECK(ErrorOf([] { Months("", ""); }).kind == CalendarErrorKind::kUnknownTimeZone);
  CHECK(ErrorOf([] { Months("", "america/new_york"); }).kind == CalendarErrorKind::kUnknownTimeZone);

  const Caught feb30 = ErrorOf([] { Months("2026-02-30"); });
  CHECK(feb30.kind == CalendarErrorKind::kBadAnchor);
  CHECK_THAT(feb30.message, Catch::Contains("2026-02 has 28 days, not 30"));
  CHECK_THAT(ErrorOf([] { Months("2026-13-01"); }).message, Catch::Contains("month 13 does not exist"));
  CHECK_THAT(ErrorOf([] { Months("2026-01-31T24:00:00"); }).message, Catch::Contains("hour 24 does not exist"));
  CHECK_THAT(ErrorOf([] { Months("2026-01-31T09:00"); }).message, Catch::Contains("expected a time `hh:mm:ss`"));
  CHECK_THAT(ErrorOf([] { Months("2026-01-31T09:00:60"); }).message, Catch::Contains("no leap seconds"));
  CHECK_THAT(ErrorOf([] { Months("2026-01-31T09:00:00+25:00"); }).message, Catch::Contains("offset +25:00"));
  CHECK_THAT(ErrorOf([] { Months("2026-01-31T09:00:00 UTC"); }).message, Catch::Contains("after the time"));
  CHECK_THAT(ErrorOf([] { Months("2026-01-31T09:00:00.1234567"); }).message, Catch::Contains("6 fractional"));
  CHECK(ErrorOf([] { Months("next monday"); }).kind == CalendarErrorKind::kBadAnchor);
  CHECK(ErrorOf([] { Months("2026-1-31"); }).kind == CalendarErrorKind::kBadAnchor);

  CHECK(ErrorOf([] { DaysOf(0); }).kind == CalendarErrorKind::kBadRule);
  CHECK(ErrorOf([] { DaysOf(3661); }).kind == CalendarErrorKind::kBadRule);
  CHECK(DaysOf(3660).Days(DaysOf(3660).PeriodContaining(T("2026-01-01"))) == 3660);
  CHECK(ErrorOf([] { Make(PeriodLength::kMonth, "", "UTC", 2); }).kind == CalendarErrorKind::kBadRule);

  const Calendar c = Months();
  using tariff::calendar::kMaxInstant;
  using tariff::calendar::kMinInstant;
  CHECK(ErrorOf([&] { c.PeriodContaining(kMaxInstant + 1); }).kind == CalendarErrorKind::kOutOfRange);
  CHECK(ErrorOf([&] { c.PeriodContaining(kMinInstant - 1); }).kind == CalendarErrorKind::kOutOfRange);
  CHECK(S(c.PeriodContaining(kMinInstant)) == "[-9999-01-01T00:00:00Z, -9999-02-01T00:00:00Z)");
  CHECK(ErrorOf([&] { c.PeriodsOverlapping(T("2026-02-01"), T("2026-01-01")); }).kind ==
        CalendarErrorKind::kBadInterval);
  CHECK(ErrorOf([&] { c.Days({T("2026-02-01"), T("2026-01-01")}); }).kind == CalendarErrorKind::kBadInterval);
}

TEST_CASE("calendar: every instant lies in exactly one period, and periods abut (random rules and zones)",
          "[calendar]") {
  const std::vector<PeriodRule> rules = {
      {PeriodLength::kMonth, 1, "", "America/New_York"},
      {PeriodLength::kMonth, 1, "2026-01-31T02:30:00", "America/New_York"},
      {PeriodLength::kQuarter, 1, "2026-11-30T23:30:00", "Europe/Paris"},
      {PeriodLength::kYear, 1, "2024-02-29T12:00:00+14:00", "Australia/Lord_Howe"},
      {PeriodLength::kDays, 1, "", "Pacific/Apia"},
      {PeriodLength::kDays, 1, "", "America/Santiago"},  // clocks skip midnight
      {PeriodLength::kDays, 7, "2026-03-08T02:00:00", "America/New_York"},
      {PeriodLength::kDays, 30, "2000-01-01T00:00:00", "Asia/Kolkata"},
      {PeriodLength::kDays, 3660, "", "UTC"},
  };
  std::mt19937_64 random(20260301);
  std::uniform_int_distribution<std::int64_t> instants(T("1850-01-01"), T("2150-01-01"));
  for (const PeriodRule& rule : rules) {
    const Calendar calendar(rule);
    for (int i = 0; i < 300; ++i) {
      const std::int64_t t = instants(random);
      const Interval p = calendar.PeriodContaining(t);
      INFO(rule.time_zone << " " << rule.anchor << " t=" << tariff::FormatTimestamp(t) << " p=" << S(p));
      REQUIRE(p.start <= t);
      REQUIRE(t < p.end);
      REQUIRE(calendar.PeriodContaining(p.start) == p);
      REQUIRE(calendar.PeriodContaining(p.end).start == p.end);
      REQUIRE(calendar.PeriodContaining(p.start - 1).end == p.start);
      REQUIRE(calendar.Days(p) >= 1);
      const auto around = calendar.PeriodsOverlapping(p.start - 1, p.end + 1);
      REQUIRE(around.size() == 3);
      REQUIRE(around[1] == p);
    }
  }
}

TEST_CASE("calendar: Days360 counts 30-day months, additively, in local dates", "[calendar]") {
  const Calendar utc = Months();
  auto d = [&](const Calendar& c, const char* a, const char* b) { return c.Days360({T(a), T(b)}); };
  CHECK(d(utc, "2026-02-01", "2026-03-01") == 30);  // February is 30 days
  CHECK(d(utc, "2026-03-01", "2026-04-01") == 30);  // and so is March
  CHECK(d(utc, "2026-01-01", "2026-04-01") == 90);
  CHECK(d(utc, "2026-01-01", "2027-01-01") == 360);
  CHECK(d(utc, "2026-02-15", "2026-03-01") == 16);  // by actual days: 14 of 28
  CHECK(d(utc, "2026-02-01", "2026-02-15") == 14);  // 14 + 16 = 30: additive
  CHECK(d(utc, "2026-02-28", "2026-03-01") == 3);   // the last day of February counts its missing days
  CHECK(d(utc, "2026-03-01", "2026-03-31") == 29);  // the 31st is day 30
  CHECK(d(utc, "2026-03-31", "2026-04-01") == 1);
  CHECK(d(utc, "2026-03-10T15:00:00Z", "2026-03-12T09:00:00Z") == 2);  // local dates; a partial last day is not counted
  CHECK(d(utc, "2026-03-10", "2026-03-10") == 0);
  // Local dates in the rule's zone: 2026-03-01T02:00Z is still February 28 in New York.
  PeriodRule ny_rule;
  ny_rule.time_zone = "America/New_York";
  const Calendar ny(ny_rule);
  CHECK(d(ny, "2026-03-01T02:00:00Z", "2026-03-02T05:00:00Z") == 4);  // Feb 28 21:00 → Mar 2 00:00 local: 3 + 1
  CHECK(ErrorOf([&] { d(utc, "2026-03-02", "2026-03-01"); }).kind == CalendarErrorKind::kBadInterval);
}
