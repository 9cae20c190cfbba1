// runtime/columnar: RFC 3339 timestamps, parsed and formatted by hand (a fixed layout; faster than a
// general date library on the reader's hot path, and every rule is visible here).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/columnar/timestamp.h"

namespace tariff {

namespace {

constexpr std::int64_t kMicrosPerSecond = 1000000;
constexpr std::int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

constexpr std::array<const char*, 12> kMonthNames = {"January", "February", "March",     "April",   "May",      "June",
                                                     "July",    "August",   "September", "October", "November", "December"};

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms", days_from_civil).
[[gnu::always_inline]] inline std::int64_t DaysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The inverse (civil_from_days).
void CivilFromDays(std::int64_t z, std::int64_t* year, int* month, int* day) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  *day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *year = yoe + era * 400 + (*month <= 2);
}

// Reads exactly `count` digits at `pos`; false if any is not a digit (or the text ends).
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

std::string Two(int v) { return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)}; }

// The common layout `YYYY-MM-DDThh:mm:ssZ`, valid: true and *out set. Anything else (including
// an invalid value in this layout) is left to the general parser, which explains it.
inline bool ParseCommon(std::string_view text, std::int64_t* out) {
  if (text.size() != 20) return false;
  const char* s = text.data();
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z') return false;
  auto digit = [s](int i) { return static_cast<unsigned>(static_cast<unsigned char>(s[i])) - '0'; };
  const unsigned y0 = digit(0), y1 = digit(1), y2 = digit(2), y3 = digit(3), mo0 = digit(5), mo1 = digit(6),
                 d0 = digit(8), d1 = digit(9), h0 = digit(11), h1 = digit(12), mi0 = digit(14), mi1 = digit(15),
                 s0 = digit(17), s1 = digit(18);
  if ((y0 | y1 | y2 | y3 | mo0 | mo1 | d0 | d1 | h0 | h1 | mi0 | mi1 | s0 | s1) > 9) {
    // Some "digit" wrapped around or was above 9 (an OR of values <= 9 stays <= 15, so check each).
    if (y0 > 9 || y1 > 9 || y2 > 9 || y3 > 9 || mo0 > 9 || mo1 > 9 || d0 > 9 || d1 > 9 || h0 > 9 || h1 > 9 ||
        mi0 > 9 || mi1 > 9 || s0 > 9 || s1 > 9) {
      return false;
    }
  }
  const int year = static_cast<int>(y0 * 1000 + y1 * 100 + y2 * 10 + y3);
  const int month = static_cast<int>(mo0 * 10 + mo1);
  const int day = static_cast<int>(d0 * 10 + d1);
  const int hour = static_cast<int>(h0 * 10 + h1);
  const int minute = static_cast<int>(mi0 * 10 + mi1);
  const int second = static_cast<int>(s0 * 10 + s1);
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  *out = DaysFromCivil(year, month, day) * kMicrosPerDay +
         static_cast<std::int64_t>(hour * 3600 + minute * 60 + second) * kMicrosPerSecond;
  return true;
}

// Every other layout, and the reason for anything invalid. Out of line, so that the common
// path above needs no stack frame for the messages.
[[gnu::noinline]] std::optional<std::int64_t> ParseGeneral(std::string_view text, std::string* error) {
  auto fail = [error](std::string message) -> std::optional<std::int64_t> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  int year = 0, month = 0, day = 0;
  if (!Digits(text, 0, 4, &year) || text.size() < 5 || text[4] != '-' || !Digits(text, 5, 2, &month) ||
      text.size() < 8 || text[7] != '-' || !Digits(text, 8, 2, &day)) {
    return fail("expected a date `YYYY-MM-DD` at the start");
  }
  if (month < 1 || month > 12) return fail("month " + Two(month) + " does not exist");
  if (day < 1 || day > DaysInMonth(year, month)) {
    return fail(std::string(kMonthNames[static_cast<std::size_t>(month - 1)]) + " " + std::to_string(year) +
                " has no day " + Two(day));
  }
  const std::int64_t days = DaysFromCivil(year, month, day);
  if (text.size() == 10) return days * kMicrosPerDay;  // a bare date: midnight UTC

  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') {
    return fail("expected `T` between the date and the time");
  }
  int hour = 0, minute = 0, second = 0;
  if (!Digits(text, 11, 2, &hour) || text.size() < 14 || text[13] != ':' || !Digits(text, 14, 2, &minute) ||
      text.size() < 17 || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return fail("expected a time `hh:mm:ss` after the date");
  }
  if (hour > 23) return fail("hour " + Two(hour) + " does not exist (00 to 23)");
  if (minute > 59) return fail("minute " + Two(minute) + " does not exist (00 to 59)");
  if (second == 60) return fail("leap second 60 is not supported");
  if (second > 59) return fail("second " + Two(second) + " does not exist (00 to 59)");

  std::size_t pos = 19;
  std::int64_t fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count == 6) return fail("more than 6 fractional digits (microseconds are the finest resolution)");
      fraction = fraction * 10 + (text[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) return fail("expected a digit after `.`");
    for (int i = count; i < 6; ++i) fraction *= 10;
  }

  std::int64_t offset_seconds = 0;
  if (pos >= text.size()) return fail("expected a time zone (`Z` or an offset such as `+01:00`)");
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    int oh = 0, om = 0;
    if (!Digits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, &om)) {
      return fail("expected an offset `+hh:mm` or `-hh:mm`");
    }
    if (oh > 23 || om > 59) return fail("offset " + std::string(text.substr(pos, 6)) + " does not exist");
    offset_seconds = (oh * 3600 + om * 60) * (zone == '-' ? -1 : 1);
    pos += 6;
  } else {
    return fail("expected a time zone (`Z` or an offset such as `+01:00`)");
  }
  if (pos != text.size()) return fail("unexpected text after the time zone");

  const std::int64_t seconds_of_day = hour * 3600 + minute * 60 + second;
  return days * kMicrosPerDay + (seconds_of_day - offset_seconds) * kMicrosPerSecond + fraction;
}

}  // namespace

std::optional<std::int64_t> ParseTimestamp(std::string_view text, std::string* error) {
  std::int64_t common;
  if (ParseCommon(text, &common)) return common;
  return ParseGeneral(text, error);
}

std::string FormatTimestamp(std::int64_t micros) {
  std::int64_t days = micros / kMicrosPerDay;
  std::int64_t rest = micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  std::int64_t year = 0;
  int month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  const int seconds = static_cast<int>(rest / kMicrosPerSecond);
  const int fraction = static_cast<int>(rest % kMicrosPerSecond);

  std::string out;
  out.reserve(28);
  if (year >= 0 && year <= 9999) {
    const int y = static_cast<int>(year);
    out += Two(y / 100);
    out += Two(y % 100);
  } else {
    out += std::to_string(year);  // outside RFC 3339; still unambiguous
  }
  out += '-';
  out += Two(month);
  out += '-';
  out += Two(day);
  out += 'T';
  out += Two(seconds / 3600);
  out += ':';
  out += Two(seconds / 60 % 60);
  out += ':';
  out += Two(seconds % 60);
  if (fraction != 0) {
    char digits[6];
    int f = fraction;
    for (int i = 5; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + f % 10);
      f /= 10;
    }
    int count = 6;
    while (digits[count - 1] == '0') --count;
    out += '.';
    out.append(digits, static_cast<std::size_t>(count));
  }
  out += 'Z';
  return out;
}

}  // namespace tariff
