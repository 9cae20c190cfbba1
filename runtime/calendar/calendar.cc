// runtime/calendar: period boundaries, local day counts and local formatting (rules:
// calendar.h). Dates are date::year_month_day / date::local_days, offsets come from Zone; the
// only arithmetic here is on period indexes.
#include "runtime/calendar/calendar.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/calendar/zone.h"

namespace tariff::calendar {

using internal::LocalMicros;
using internal::Micros;
using internal::SysMicros;
using internal::Zone;

namespace {

constexpr std::int64_t ToMicros(date::sys_days day) {
  return std::chrono::duration_cast<Micros>(day.time_since_epoch()).count();
}
static_assert(kMinInstant == ToMicros(date::sys_days{date::year{-9999} / date::January / 1}));
static_assert(kMaxInstant == ToMicros(date::sys_days{date::year{10000} / date::January / 1}) - 1);

constexpr int kMaxDays = 3660;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

void CheckInstant(std::int64_t instant, const char* what) {
  if (instant < kMinInstant || instant > kMaxInstant) {
    throw CalendarError(CalendarErrorKind::kOutOfRange,
                        std::string(what) + " " + std::to_string(instant) +
                            " µs is outside the calendar's range (-9999-01-01 to 9999-12-31, UTC)");
  }
}

std::string Pad(std::int64_t value, int width) {
  std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  return digits;
}

// Reads exactly `count` digits at `pos`.
bool Digits(std::string_view text, std::size_t pos, int count, int* out) {
  if (pos + static_cast<std::size_t>(count) > text.size()) return false;
  int value = 0;
  for (int i = 0; i < count; ++i) {
    const char c = text[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

// The anchor as local wall-clock time in the rule's zone.
struct LocalAnchor {
  date::year_month_day date;
  Micros time_of_day{0};
};

// What is being parsed, for messages: "period anchor" or "date".
thread_local const char* parsing = "period anchor";

[[noreturn]] void BadAnchor(std::string_view anchor, const std::string& why) {
  throw CalendarError(CalendarErrorKind::kBadAnchor, std::string("bad ") + parsing + " \"" + std::string(anchor) + "\": " + why);
}

// RFC 3339: `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss[.f…]` (local), or the same with `Z` / `±hh:mm`.
LocalAnchor ParseAnchor(std::string_view text, const Zone& zone) {
  int y = 0, m = 0, d = 0;
  if (!Digits(text, 0, 4, &y) || text.size() < 5 || text[4] != '-' || !Digits(text, 5, 2, &m) || text.size() < 8 ||
      text[7] != '-' || !Digits(text, 8, 2, &d)) {
    BadAnchor(text, "expected an RFC 3339 date `YYYY-MM-DD` or date-time `YYYY-MM-DDThh:mm:ss`");
  }
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.month().ok()) BadAnchor(text, "month " + Pad(m, 2) + " does not exist");
  if (!ymd.ok()) {
    const unsigned last = static_cast<unsigned>((ymd.year() / ymd.month() / date::last).day());
    BadAnchor(text, Pad(y, 4) + "-" + Pad(m, 2) + " has " + std::to_string(last) + " days, not " + Pad(d, 2));
  }
  if (text.size() == 10) return {ymd, Micros{0}};  // a date: local midnight

  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') BadAnchor(text, "expected `T` between date and time");
  int hour = 0, minute = 0, second = 0;
  if (!Digits(text, 11, 2, &hour) || text.size() < 14 || text[13] != ':' || !Digits(text, 14, 2, &minute) ||
      text.size() < 17 || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    BadAnchor(text, "expected a time `hh:mm:ss` after the date");
  }
  if (hour > 23) BadAnchor(text, "hour " + Pad(hour, 2) + " does not exist (00 to 23)");
  if (minute > 59) BadAnchor(text, "minute " + Pad(minute, 2) + " does not exist (00 to 59)");
  if (second > 59) BadAnchor(text, "second " + Pad(second, 2) + " does not exist (00 to 59; no leap seconds)");
  Micros time_of_day = std::chrono::hours{hour} + std::chrono::minutes{minute} + std::chrono::seconds{second};

  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t fraction = 0;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count == 6) BadAnchor(text, "more than 6 fractional digits (microseconds are the finest resolution)");
      fraction = fraction * 10 + (text[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) BadAnchor(text, "expected a digit after `.`");
    for (int i = count; i < 6; ++i) fraction *= 10;
    time_of_day += Micros{fraction};
  }
  if (pos == text.size()) return {ymd, time_of_day};  // local wall-clock time

  std::chrono::minutes offset{0};
  const char sign = text[pos];
  if (sign == 'Z' || sign == 'z') {
    ++pos;
  } else if (sign == '+' || sign == '-') {
    int oh = 0, om = 0;
    if (!Digits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, &om)) {
      BadAnchor(text, "expected an offset `+hh:mm` or `-hh:mm`");
    }
    if (oh > 23 || om > 59) BadAnchor(text, "offset " + std::string(text.substr(pos, 6)) + " does not exist");
    offset = std::chrono::minutes{(oh * 60 + om) * (sign == '-' ? -1 : 1)};
    pos += 6;
  } else {
    BadAnchor(text, "expected the end, `Z` or an offset such as `+01:00` after the time");
  }
  if (pos != text.size()) BadAnchor(text, "unexpected text after the offset");

  // An instant: the zone's wall-clock time at it.
  const SysMicros instant = date::sys_days{ymd} + time_of_day - offset;
  const LocalMicros local = zone.ToLocal(instant);
  const auto local_day = date::floor<date::days>(local);
  return {date::year_month_day{local_day}, local - local_day};
}

const char* LengthName(PeriodLength length) {
  switch (length) {
    case PeriodLength::kMonth:
      return "month";
    case PeriodLength::kQuarter:
      return "quarter";
    case PeriodLength::kYear:
      return "year";
    case PeriodLength::kDays:
      return "day";
  }
  return "?";
}

}  // namespace

Calendar::Calendar(const PeriodRule& rule) : rule_(rule) {
  switch (rule.length) {
    case PeriodLength::kMonth:
      months_per_period_ = 1;
      break;
    case PeriodLength::kQuarter:
      months_per_period_ = 3;
      break;
    case PeriodLength::kYear:
      months_per_period_ = 12;
      break;
    case PeriodLength::kDays:
      months_per_period_ = 0;
      break;
  }
  if (rule.length == PeriodLength::kDays) {
    if (rule.count < 1 || rule.count > kMaxDays) {
      throw CalendarError(CalendarErrorKind::kBadRule, "a period of N days needs N from 1 to " +
                                                           std::to_string(kMaxDays) + ", not " +
                                                           std::to_string(rule.count));
    }
  } else if (rule.count != 1) {
    throw CalendarError(CalendarErrorKind::kBadRule, std::string("a ") + LengthName(rule.length) +
                                                         " period has count 1, not " + std::to_string(rule.count));
  }

  zone_ = Zone::Find(rule.time_zone);
  if (!rule.anchor.empty()) {
    const LocalAnchor anchor = ParseAnchor(rule.anchor, *zone_);
    anchor_year_ = static_cast<int>(anchor.date.year());
    anchor_month_ = static_cast<unsigned>(anchor.date.month());
    anchor_day_ = static_cast<unsigned>(anchor.date.day());
    anchor_time_of_day_ = anchor.time_of_day.count();
  }
}

std::int64_t Calendar::Boundary(std::int64_t k) const {
  date::local_days day;
  if (months_per_period_ > 0) {
    // From the anchor every time: no drift; the day clamped to the month's last day.
    const date::year_month month = date::year{anchor_year_} / date::month{anchor_month_} +
                                   date::months{static_cast<int>(k * months_per_period_)};
    const date::day last = (month / date::last).day();
    day = date::local_days{month / std::min(date::day{anchor_day_}, last)};
  } else {
    day = date::local_days{date::year{anchor_year_} / date::month{anchor_month_} / date::day{anchor_day_}} +
          date::days{static_cast<int>(k * rule_.count)};
  }
  return zone_->ToSys(day + Micros{anchor_time_of_day_}).time_since_epoch().count();
}

// The index of the period whose local start date is nearest below the instant's local date;
// exact except near a boundary's time of day, which IndexContaining settles.
std::int64_t Calendar::IndexEstimate(std::int64_t instant) const {
  const LocalMicros local = zone_->ToLocal(SysMicros{Micros{instant}});
  const auto local_day = date::floor<date::days>(local);
  if (months_per_period_ > 0) {
    const date::year_month_day ymd{local_day};
    const date::months elapsed =
        ymd.year() / ymd.month() - date::year{anchor_year_} / date::month{anchor_month_};
    return FloorDiv(elapsed.count(), months_per_period_);
  }
  const date::local_days anchor_day{date::year{anchor_year_} / date::month{anchor_month_} / date::day{anchor_day_}};
  return FloorDiv((local_day - anchor_day).count(), rule_.count);
}

std::int64_t Calendar::IndexContaining(std::int64_t instant) const {
  std::int64_t k = IndexEstimate(instant);
  while (Boundary(k) > instant) --k;
  while (Boundary(k + 1) <= instant) ++k;
  return k;
}

Interval Calendar::PeriodContaining(std::int64_t instant) const {
  CheckInstant(instant, "instant");
  const std::int64_t k = IndexContaining(instant);
  return {Boundary(k), Boundary(k + 1)};
}

std::vector<Interval> Calendar::PeriodsOverlapping(std::int64_t from, std::int64_t to) const {
  CheckInstant(from, "from");
  CheckInstant(to, "to");
  if (to < from) {
    throw CalendarError(CalendarErrorKind::kBadInterval,
                        "range ends (" + std::to_string(to) + ") before it starts (" + std::to_string(from) + ")");
  }
  std::vector<Interval> periods;
  if (from == to) return periods;
  std::int64_t k = IndexContaining(from);
  std::int64_t start = Boundary(k);
  while (start < to) {
    const std::int64_t end = Boundary(++k);
    if (end > start) {  // an empty period (a skipped day) is left out
      periods.push_back({start, end});
      start = end;
    }
  }
  return periods;
}

namespace {
// Both ends inside [kMinInstant, kMaxInstant], and the end not before the start.
void CheckInterval(Interval interval) {
  CheckInstant(interval.start, "interval start");
  CheckInstant(interval.end, "interval end");
  if (interval.end < interval.start) {
    throw CalendarError(CalendarErrorKind::kBadInterval, "interval ends (" + std::to_string(interval.end) +
                                                             ") before it starts (" +
                                                             std::to_string(interval.start) + ")");
  }
}
}  // namespace

std::int64_t Calendar::Days(Interval interval) const {
  CheckInterval(interval);
  if (interval.end == interval.start) return 0;
  const auto first = date::floor<date::days>(zone_->ToLocal(SysMicros{Micros{interval.start}}));
  auto last = date::floor<date::days>(zone_->ToLocal(SysMicros{Micros{interval.end}}));
  // Rounded up unless the end is the first instant of its local date.
  if (zone_->ToSys(LocalMicros{last}).time_since_epoch().count() != interval.end) last += date::days{1};
  return (last - first).count();
}

std::int64_t Calendar::Days360(Interval interval) const {
  CheckInterval(interval);
  auto f = [this](std::int64_t instant) -> std::int64_t {
    const date::year_month_day ymd{date::floor<date::days>(zone_->ToLocal(SysMicros{Micros{instant}}))};
    const auto day = static_cast<std::int64_t>(static_cast<unsigned>(ymd.day()));
    return 360 * static_cast<std::int64_t>(static_cast<int>(ymd.year())) + 30 * static_cast<std::int64_t>(static_cast<unsigned>(ymd.month())) +
           std::min<std::int64_t>(day, 30);
  };
  return f(interval.end) - f(interval.start);
}

std::string Calendar::FormatLocal(std::int64_t instant) const {
  CheckInstant(instant, "instant");
  const SysMicros sys{Micros{instant}};
  const std::chrono::seconds offset = zone_->OffsetAt(sys);
  const LocalMicros local{sys.time_since_epoch() + offset};
  const auto local_day = date::floor<date::days>(local);
  const date::year_month_day ymd{local_day};
  const date::hh_mm_ss<Micros> time{local - local_day};

  const int year = static_cast<int>(ymd.year());
  std::string out = year >= 0 && year <= 9999 ? Pad(year, 4) : std::to_string(year);
  out += '-' + Pad(static_cast<unsigned>(ymd.month()), 2) + '-' + Pad(static_cast<unsigned>(ymd.day()), 2);
  out += 'T' + Pad(time.hours().count(), 2) + ':' + Pad(time.minutes().count(), 2) + ':' +
         Pad(time.seconds().count(), 2);
  if (const std::int64_t fraction = time.subseconds().count(); fraction != 0) {
    std::string digits = Pad(fraction, 6);
    digits.erase(digits.find_last_not_of('0') + 1);
    out += '.' + digits;
  }
  if (offset == std::chrono::seconds{0}) return out + 'Z';
  const date::hh_mm_ss<std::chrono::seconds> magnitude{offset < std::chrono::seconds{0} ? -offset : offset};
  out += offset < std::chrono::seconds{0} ? '-' : '+';
  out += Pad(magnitude.hours().count(), 2) + ':' + Pad(magnitude.minutes().count(), 2);
  if (magnitude.seconds().count() != 0) out += ':' + Pad(magnitude.seconds().count(), 2);
  return out;
}

std::int64_t Calendar::ParseLocal(std::string_view text) const {
  parsing = "date";
  try {
    const LocalAnchor local = ParseAnchor(text, *zone_);
    parsing = "period anchor";
    return zone_->ToSys(date::local_days{local.date} + local.time_of_day).time_since_epoch().count();
  } catch (...) {
    parsing = "period anchor";
    throw;
  }
}

}  // namespace tariff::calendar
