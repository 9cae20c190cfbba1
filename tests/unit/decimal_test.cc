// Unit tests for runtime/decimal: rounding, overflow boundaries, parsing, formatting, division
// and the precision forms. Expected values are written out (or, for the wide-intermediate
// table, produced by Python's decimal module at 300 digits), never recomputed with Decimal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace {

using tariff::Decimal;
using tariff::DecimalError;
using tariff::DecimalErrorKind;
using tariff::int128;
using tariff::RoundingMode;

Decimal D(const char* text) { return Decimal::FromString(text); }

constexpr RoundingMode kModes[] = {RoundingMode::kHalfEven, RoundingMode::kHalfUp,  RoundingMode::kHalfDown,
                                   RoundingMode::kUp,       RoundingMode::kDown,    RoundingMode::kCeiling,
                                   RoundingMode::kFloor,    RoundingMode::kZeroFiveUp};

const char* const kMax = "99999999999999999999999999999999999999";   // 38 nines
const char* const kMin = "-99999999999999999999999999999999999999";

// Catches a DecimalError and returns its kind; fails the test if nothing is thrown.
template <class F>
DecimalErrorKind ErrorKindOf(F&& f) {
  try {
    f();
  } catch (const DecimalError& e) {
    return e.kind();
  }
  FAIL("expected a DecimalError");
  return DecimalErrorKind::kParse;
}

// One value rounded to an integer under every mode, in kModes order:
// half_even, half_up, half_down, up, down, ceiling, floor, 05up.
struct RoundingRow {
  const char* value;
  const char* expected[8];
};

const RoundingRow kRoundingTable[] = {
    // ties, positive and negative
    {"5.5", {"6", "6", "5", "6", "5", "6", "5", "6"}},
    {"2.5", {"2", "3", "2", "3", "2", "3", "2", "2"}},
    {"3.5", {"4", "4", "3", "4", "3", "4", "3", "3"}},
    {"0.5", {"0", "1", "0", "1", "0", "1", "0", "1"}},
    {"-0.5", {"0", "-1", "0", "-1", "0", "0", "-1", "-1"}},
    {"-2.5", {"-2", "-3", "-2", "-3", "-2", "-2", "-3", "-2"}},
    {"-3.5", {"-4", "-4", "-3", "-4", "-3", "-3", "-4", "-3"}},
    {"-5.5", {"-6", "-6", "-5", "-6", "-5", "-5", "-6", "-6"}},
    // non-ties
    {"1.6", {"2", "2", "2", "2", "1", "2", "1", "1"}},
    {"1.1", {"1", "1", "1", "2", "1", "2", "1", "1"}},
    {"2.51", {"3", "3", "3", "3", "2", "3", "2", "2"}},
    {"0.4", {"0", "0", "0", "1", "0", "1", "0", "1"}},
    {"10.1", {"10", "10", "10", "11", "10", "11", "10", "11"}},
    {"15.3", {"15", "15", "15", "16", "15", "16", "15", "16"}},
    {"-1.1", {"-1", "-1", "-1", "-2", "-1", "-1", "-2", "-1"}},
    {"-1.6", {"-2", "-2", "-2", "-2", "-1", "-1", "-2", "-1"}},
    {"-2.49", {"-2", "-2", "-2", "-3", "-2", "-2", "-3", "-2"}},
    {"-0.4", {"0", "0", "0", "-1", "0", "0", "-1", "-1"}},
    {"-15.3", {"-15", "-15", "-15", "-16", "-15", "-15", "-16", "-16"}},
    // exact values never move
    {"1.0", {"1", "1", "1", "1", "1", "1", "1", "1"}},
    {"-7.000", {"-7", "-7", "-7", "-7", "-7", "-7", "-7", "-7"}},
    {"0.00", {"0", "0", "0", "0", "0", "0", "0", "0"}},
};

}  // namespace

TEST_CASE("decimal: rounding mode names round-trip", "[decimal]") {
  const char* names[] = {"half_even", "half_up", "half_down", "up", "down", "ceiling", "floor", "05up"};
  for (int i = 0; i < 8; ++i) {
    CHECK(tariff::RoundingModeName(kModes[i]) == names[i]);
    REQUIRE(tariff::ParseRoundingMode(names[i]).has_value());
    CHECK(*tariff::ParseRoundingMode(names[i]) == kModes[i]);
  }
  CHECK_FALSE(tariff::ParseRoundingMode("HALF_EVEN").has_value());
  CHECK_FALSE(tariff::ParseRoundingMode("bankers").has_value());
  CHECK_FALSE(tariff::ParseRoundingMode("").has_value());
}

TEST_CASE("decimal: every rounding mode, ties and non-ties, both signs (Rescale)", "[decimal]") {
  for (const RoundingRow& row : kRoundingTable) {
    for (int m = 0; m < 8; ++m) {
      INFO(row.value << " with " << tariff::RoundingModeName(kModes[m]));
      Decimal got = D(row.value).Rescale(0, kModes[m]);
      CHECK(got.ToString() == row.expected[m]);
    }
  }
}

TEST_CASE("decimal: every rounding mode through Divide, MultiplyRounded and their 256-bit paths", "[decimal]") {
  // 10^20 at scale 20 (= 1) pushes the product past 64 bits; 10^37 at scale 37 (= 1) makes the
  // divisor wider than 64 bits and the dividend wider than 128: both take the 256-bit routes.
  const Decimal wide_one = Decimal::FromParts(static_cast<int128>(tariff::PowerOfTen(20)), 20);
  const Decimal wider_one = Decimal::FromParts(static_cast<int128>(tariff::PowerOfTen(37)), 37);
  for (const RoundingRow& row : kRoundingTable) {
    const Decimal v = D(row.value);
    const Decimal ten_v = v * Decimal(10);
    for (int m = 0; m < 8; ++m) {
      INFO(row.value << " with " << tariff::RoundingModeName(kModes[m]));
      CHECK(Decimal::MultiplyRounded(v, Decimal(1), 0, kModes[m]).ToString() == row.expected[m]);
      CHECK(Decimal::MultiplyRounded(v, wide_one, 0, kModes[m]).ToString() == row.expected[m]);
      CHECK(Decimal::Divide(v, Decimal(1), 0, kModes[m]).ToString() == row.expected[m]);
      CHECK(Decimal::Divide(ten_v, Decimal(10), 0, kModes[m]).ToString() == row.expected[m]);
      CHECK(Decimal::Divide(v, wider_one, 0, kModes[m]).ToString() == row.expected[m]);
    }
  }
}

TEST_CASE("decimal: rounding at a fractional scale and of long coefficients", "[decimal]") {
  CHECK(D("1.005").Rescale(2, RoundingMode::kHalfEven).ToString() == "1.00");
  CHECK(D("1.015").Rescale(2, RoundingMode::kHalfEven).ToString() == "1.02");
  CHECK(D("1.005").Rescale(2, RoundingMode::kHalfUp).ToString() == "1.01");
  CHECK(D("-1.005").Rescale(2, RoundingMode::kHalfUp).ToString() == "-1.01");
  CHECK(D("-1.0051").Rescale(2, RoundingMode::kHalfDown).ToString() == "-1.01");
  CHECK(D("2.675").Rescale(2, RoundingMode::kHalfEven).ToString() == "2.68");  // no binary float here
  CHECK(D("0.125").Rescale(2, RoundingMode::kHalfEven).ToString() == "0.12");
  CHECK(D("0.135").Rescale(2, RoundingMode::kHalfEven).ToString() == "0.14");
  CHECK(D("-0.001").Rescale(2, RoundingMode::kCeiling).ToString() == "0.00");  // never "-0.00"
  CHECK(D("-0.001").Rescale(2, RoundingMode::kFloor).ToString() == "-0.01");
  CHECK(D("0.9999999999999999999999999999999999999").Rescale(0, RoundingMode::kHalfEven).ToString() == "1");
  CHECK(D("0.5000000000000000000000000000000000001").Rescale(0, RoundingMode::kHalfDown).ToString() == "1");
  CHECK(D("0.5000000000000000000000000000000000000").Rescale(0, RoundingMode::kHalfDown).ToString() == "0");
  CHECK(D(kMax).Rescale(0, RoundingMode::kHalfEven).ToString() == kMax);
  CHECK(D("9999999999999999999.9999999999999999999").Rescale(0, RoundingMode::kUp).ToString() ==
        "10000000000000000000");
  // rescaling up is exact
  CHECK(D("1.5").Rescale(4, RoundingMode::kDown).ToString() == "1.5000");
  // regression (found by differential fuzzing against Python's decimal): a rescaled coefficient
  // between 2^126 and 10^38 fits and must not be reported as an overflow
  CHECK(D("-8821.0").Rescale(34, RoundingMode::kHalfDown).ToString() == "-8821.0000000000000000000000000000000000");
  CHECK(D("0.91").Rescale(38, RoundingMode::kHalfEven).ToString() == "0.91000000000000000000000000000000000000");
  CHECK(D("0.99999999999999999999999999999999999999").Rescale(38, RoundingMode::kDown).digits() == 38);
  CHECK((D("8821") + D("0.0000000000000000000000000000000001")).ToString() ==
        "8821.0000000000000000000000000000000001");
  const int128 minus_three_e37 = -3 * static_cast<int128>(tariff::PowerOfTen(37));
  CHECK(D("-3").Rescale(37, RoundingMode::kDown).IdenticalTo(Decimal::FromParts(minus_three_e37, 37)));
  CHECK(D("-3").Rescale(37, RoundingMode::kDown).digits() == 38);
}

TEST_CASE("decimal: overflow at each boundary", "[decimal]") {
  const Decimal max = D(kMax), min = D(kMin);
  Decimal out;
  SECTION("add and subtract") {
    CHECK(ErrorKindOf([&] { (void)(max + Decimal(1)); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(min - Decimal(1)); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(min + Decimal(-1)); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(max - min); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(max + D("0.1")); }) == DecimalErrorKind::kOverflow);
    CHECK_FALSE(Decimal::TryAdd(max, Decimal(1), &out));
    CHECK_FALSE(Decimal::TrySubtract(min, Decimal(1), &out));
    CHECK((max + Decimal(0)).ToString() == kMax);
    CHECK((max - Decimal(1)).ToString() == "99999999999999999999999999999999999998");
    CHECK((min + Decimal(1)).ToString() == "-99999999999999999999999999999999999998");
    CHECK((max + min).ToString() == "0");
    CHECK((-max).ToString() == kMin);
    CHECK(min.Abs().ToString() == kMax);
  }
  SECTION("add keeps the exact value at a smaller scale when only trailing zeros are lost") {
    Decimal a = D("9.9999999999999999999999999999999999999");  // 38 digits, scale 37
    Decimal b = D("0.0000000000000000000000000000000000001");
    Decimal sum = a + b;
    CHECK(sum.ToString() == "10.000000000000000000000000000000000000");
    CHECK(sum.scale() == 36);
    CHECK((D("99.999999999999999999999999999999999999") + D("0.000000000000000000000000000000000001")).ToString() ==
          "100.00000000000000000000000000000000000");
    // …but not when a non-zero digit would be lost.
    CHECK(ErrorKindOf([&] { (void)(D("99.999999999999999999999999999999999999") + D("0.000000000000000000000000000000000002")); }) ==
          DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(D("10000000000000000000000000000000000000") + D("0.1")); }) ==
          DecimalErrorKind::kOverflow);
  }
  SECTION("multiply") {
    const Decimal p19 = Decimal::FromParts(static_cast<int128>(tariff::PowerOfTen(19)), 0);
    CHECK(ErrorKindOf([&] { (void)(p19 * p19); }) == DecimalErrorKind::kOverflow);  // 10^38
    CHECK((D("9999999999999999999") * D("10000000000000000001")).ToString() == kMax);  // (10^19-1)(10^19+1)
    CHECK(ErrorKindOf([&] { (void)(max * Decimal(2)); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(min * Decimal(-2)); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)(max * max); }) == DecimalErrorKind::kOverflow);
    CHECK_FALSE(Decimal::TryMultiply(max, D("1.1"), &out));
    CHECK((max * Decimal(-1)).ToString() == kMin);
    // scale 20 + 20 > 38: exact only if trailing zeros can go
    CHECK((D("0.10000000000000000000") * D("0.10000000000000000000")).ToString() ==
          "0.01000000000000000000000000000000000000");
    CHECK(ErrorKindOf([&] { (void)(D("0.00000000000000000001") * D("0.00000000000000000001")); }) ==
          DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal::MultiplyRounded(max, max, 0, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal::MultiplyRounded(max, Decimal(1), 1, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kOverflow);
  }
  SECTION("rescale") {
    CHECK(ErrorKindOf([&] { (void)max.Rescale(1, RoundingMode::kHalfEven); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal(1).Rescale(38, RoundingMode::kHalfEven); }) == DecimalErrorKind::kOverflow);
    CHECK(Decimal(1).Rescale(37, RoundingMode::kHalfEven).ToString() == "1.0000000000000000000000000000000000000");
    CHECK(ErrorKindOf([&] { (void)Decimal(1).Rescale(39, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kScaleOutOfRange);
    CHECK(ErrorKindOf([&] { (void)Decimal(1).Rescale(-1, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kScaleOutOfRange);
  }
  SECTION("construction and parse") {
    CHECK(ErrorKindOf([&] { (void)Decimal::FromParts(static_cast<int128>(tariff::PowerOfTen(38)), 0); }) ==
          DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal::FromParts(-static_cast<int128>(tariff::PowerOfTen(38)), 5); }) ==
          DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal::FromParts(1, 39); }) == DecimalErrorKind::kScaleOutOfRange);
    CHECK(ErrorKindOf([&] { (void)Decimal::FromParts(1, -1); }) == DecimalErrorKind::kScaleOutOfRange);
    CHECK(Decimal::FromParts(static_cast<int128>(tariff::PowerOfTen(38)) - 1, 38).ToString() ==
          "0.99999999999999999999999999999999999999");
    tariff::DecimalParseResult r = Decimal::Parse("999999999999999999999999999999999999999");  // 39 digits
    CHECK_FALSE(r.value.has_value());
    CHECK(r.error_offset == 38);
    CHECK(Decimal::Parse(kMax).value.has_value());
    CHECK(Decimal::Parse(kMin).value.has_value());
    CHECK(Decimal::Parse("-100000000000000000000000000000000000000").error_offset == 39);
    CHECK(ErrorKindOf([&] { (void)Decimal::FromString("1" + std::string(38, '0')); }) == DecimalErrorKind::kParse);
    CHECK(ErrorKindOf([] { (void)tariff::PowerOfTen(39); }) == DecimalErrorKind::kScaleOutOfRange);
  }
  SECTION("divide") {
    CHECK(ErrorKindOf([&] { (void)Decimal::Divide(max, D("0.1"), 0, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal::Divide(Decimal(1), D("0.00000000000000000000000000000000000001"), 1,
                                                  RoundingMode::kHalfEven); }) == DecimalErrorKind::kOverflow);
    CHECK(ErrorKindOf([&] { (void)Decimal::Divide(Decimal(1), Decimal(0), 2, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kDivisionByZero);
    CHECK(ErrorKindOf([&] { (void)Decimal::Divide(Decimal(0), D("0.00"), 2, RoundingMode::kHalfEven); }) ==
          DecimalErrorKind::kDivisionByZero);
    CHECK(Decimal::Divide(max, Decimal(1), 0, RoundingMode::kHalfEven).ToString() == kMax);
  }
}

TEST_CASE("decimal: parse errors report the offset of the first bad byte", "[decimal]") {
  struct Bad {
    const char* text;
    std::size_t offset;
    const char* message_part;
  };
  const Bad cases[] = {
      {"", 0, "expected a digit, `+` or `-`, found the end of the text"},
      {" 1", 0, "found a space"},
      {"1 ", 1, "found a space"},
      {"+", 1, "expected a digit after the sign"},
      {"-x", 1, "found `x`"},
      {".5", 0, "found `.`"},
      {"5.", 2, "expected a digit after `.`"},
      {"5.x", 2, "found `x`"},
      {"1..2", 2, "expected a digit after `.`"},
      {"1.2.3", 3, "found `.`"},
      {"_1", 0, "found `_`"},
      {"1_", 2, "expected a digit after `_`"},
      {"1__000", 2, "expected a digit after `_`"},
      {"1_.5", 2, "expected a digit after `_`"},
      {"1._5", 2, "found `_`"},
      {"1.5_", 4, "expected a digit after `_`"},
      {"1e", 2, "expected the exponent's digits"},
      {"1e+", 3, "expected the exponent's digits"},
      {"1e_2", 2, "expected the exponent's digits"},
      {"1e2.5", 3, "expected the end of the number"},
      {"12abc", 2, "found `a`"},
      {"inf", 0, "found `i`"},
      {"nan", 0, "found `n`"},
      {"-Infinity", 1, "found `I`"},
      {"0x10", 1, "found `x`"},
      {"1,000", 1, "found `,`"},
      {"\xff", 0, "byte 0xff"},
      {"1\n", 1, "a line break"},
      {"0.000000000000000000000000000000000000001", 40, "more than 38 digits after the decimal point"},
      {"1e-39", 1, "scale 39"},
      {"1.5e37x", 6, "expected the end of the number"},
      {"1.5e38", 3, "39 digits long"},
      {"123456789012345678901234567890123456789", 38, "more than 38 significant digits"},
      {"0.123456789012345678901234567890123456789", 40, "more than 38 significant digits"},
  };
  for (const Bad& bad : cases) {
    INFO("text: \"" << bad.text << "\"");
    tariff::DecimalParseResult r = Decimal::Parse(bad.text);
    CHECK_FALSE(r.value.has_value());
    CHECK(r.error_offset == bad.offset);
    CHECK_THAT(r.error, Catch::Contains(bad.message_part));
  }
  try {
    (void)Decimal::FromString("12.x");
    FAIL("no throw");
  } catch (const DecimalError& e) {
    CHECK(e.kind() == DecimalErrorKind::kParse);
    CHECK_THAT(e.what(), Catch::Contains("offset 3"));
  }
}

TEST_CASE("decimal: parse accepts the grammar and folds exponents", "[decimal]") {
  struct Good {
    const char* text;
    const char* canonical;
    int scale;
  };
  const Good cases[] = {
      {"0", "0", 0},
      {"-0", "0", 0},
      {"+0.00", "0.00", 2},
      {"-0.00", "0.00", 2},
      {"007", "7", 0},
      {"1_000_000", "1000000", 0},
      {"1_000.000_5", "1000.0005", 4},
      {"-12.50", "-12.50", 2},
      {"1e-3", "0.001", 3},
      {"1E3", "1000", 0},
      {"1.5E+2", "150", 0},
      {"1.50E+1", "15.0", 1},
      {"1.25e1", "12.5", 1},
      {"0e5", "0", 0},
      {"12.5e-2", "0.125", 3},
      {"0.0000000000000000000000000000000000000001e+5", "0.00000000000000000000000000000000001", 35},
      {"0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000001", 38},
      {"99999999999999999999999999999999999999", "99999999999999999999999999999999999999", 0},
      {"9.9999999999999999999999999999999999999e37", "99999999999999999999999999999999999999", 0},
      {"00000000000000000000000000000000000000000000001", "1", 0},
  };
  for (const Good& good : cases) {
    INFO("text: \"" << good.text << "\"");
    tariff::DecimalParseResult r = Decimal::Parse(good.text);
    REQUIRE(r.value.has_value());
    CHECK(r.value->ToString() == good.canonical);
    CHECK(r.value->scale() == good.scale);
    CHECK(r.error.empty());
  }
}

TEST_CASE("decimal: format/parse round-trip over 100k pseudo-random values", "[decimal]") {
  std::mt19937_64 rng(0x7a71ff5eedULL);
  for (int i = 0; i < 100000; ++i) {
    // A random coefficient of 1..38 digits (digits drawn one by one), sign and scale.
    int digits = static_cast<int>(rng() % 38) + 1;
    std::string coefficient;
    for (int k = 0; k < digits; ++k) coefficient += static_cast<char>('0' + rng() % 10);
    std::size_t nz = coefficient.find_first_not_of('0');
    coefficient = nz == std::string::npos ? "0" : coefficient.substr(nz);
    bool negative = rng() % 2 == 0;
    int scale = static_cast<int>(rng() % 39);
    int128 c = 0;
    for (char ch : coefficient) c = c * 10 + (ch - '0');
    if (negative) c = -c;
    // The expected canonical text, built by string manipulation only.
    // (Built by appending only: GCC 12 at -O3 warns falsely, -Wrestrict, on `"x" + string`.)
    const std::size_t width = std::max(coefficient.size(), static_cast<std::size_t>(scale) + 1);
    const std::string padded = std::string(width - coefficient.size(), '0') + coefficient;
    std::string expected = negative && coefficient != "0" ? "-" : "";
    expected += padded.substr(0, width - static_cast<std::size_t>(scale));
    if (scale > 0) {
      expected += '.';
      expected += padded.substr(width - static_cast<std::size_t>(scale));
    }

    Decimal d = Decimal::FromParts(c, scale);
    std::string text = d.ToString();
    INFO("coefficient " << coefficient << " scale " << scale);
    REQUIRE(text == expected);
    tariff::DecimalParseResult back = Decimal::Parse(text);
    REQUIRE(back.value.has_value());
    REQUIRE(back.value->IdenticalTo(d));
    REQUIRE(d.digits() == static_cast<int>(coefficient.size()));
    if (i % 10 == 0) {
      // The same value with `_` separators between integer digits parses identically.
      std::string underscored;
      std::size_t point = text.find('.');
      for (std::size_t k = 0; k < text.size(); ++k) {
        underscored += text[k];
        bool between = k + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[k])) &&
                       std::isdigit(static_cast<unsigned char>(text[k + 1])) && (point == std::string::npos || k < point);
        if (between && rng() % 3 == 0) underscored += '_';
      }
      tariff::DecimalParseResult u = Decimal::Parse(underscored);
      REQUIRE(u.value.has_value());
      REQUIRE(u.value->IdenticalTo(d));
    }
  }
}

TEST_CASE("decimal: exact add, subtract and multiply keep the documented scale", "[decimal]") {
  CHECK((D("1.5") + D("2.25")).ToString() == "3.75");
  CHECK((D("1.50") + D("2")).ToString() == "3.50");
  CHECK((D("0.1") + D("0.2")).ToString() == "0.3");
  CHECK((D("1.00") - D("1")).ToString() == "0.00");
  CHECK((D("-1.00") + D("1")).ToString() == "0.00");
  CHECK((D("1.10") * D("2.0")).ToString() == "2.200");
  CHECK((D("-0.5") * D("0.5")).ToString() == "-0.25");
  CHECK((D("-0.5") * D("0")).ToString() == "0.0");
  CHECK((Decimal(-4) * Decimal(-25)).ToString() == "100");
  CHECK((D("12345678901234567890.123") + D("0.00000000000000001")).ToString() ==
        "12345678901234567890.12300000000000001");
  // the inline mixed-scale path (int64 coefficient, scales <= 18 apart) and the general one
  CHECK((D("9223372036854775807") + D("0.000000000000000001")).ToString() == "9223372036854775807.000000000000000001");
  CHECK((Decimal(INT64_MIN) - D("0.1")).ToString() == "-9223372036854775808.1");
  CHECK((D("0.1") - Decimal(INT64_MIN)).ToString() == "9223372036854775808.1");
  CHECK((D("1") + D("0.0000000000000000001")).ToString() == "1.0000000000000000001");  // 19 apart
  CHECK((D("9223372036854775808") + D("0.5")).ToString() == "9223372036854775808.5");  // not int64
  CHECK((D("9000000000000000000") + D("91000000000000000000.000000000000000000")).ToString() ==
        "100000000000000000000.00000000000000000");  // 10^38 at scale 18: one trailing zero goes
  CHECK(ErrorKindOf([] { (void)(D("9000000000000000000") + D("91000000000000000000.000000000000000001")); }) ==
        DecimalErrorKind::kOverflow);
  Decimal sum;
  CHECK_FALSE(Decimal::TrySubtract(D("-9000000000000000000"), D("91000000000000000000.000000000000000001"), &sum));
  REQUIRE(Decimal::TrySubtract(D("2.50"), D("0.125"), &sum));
  CHECK(sum.ToString() == "2.375");
  // int64 fast path and int128 path give the same answers
  CHECK((D("123456789012345678901234567890") * D("3")).ToString() == "370370367037037036703703703670");
  CHECK((D("1234567890123456789") * D("-1234567890123456789")).ToString() ==
        "-1524157875323883675019051998750190521");
}

TEST_CASE("decimal: divide rounded and TryDivideExact", "[decimal]") {
  CHECK(Decimal::Divide(Decimal(1), Decimal(3), 10, RoundingMode::kHalfEven).ToString() == "0.3333333333");
  CHECK(Decimal::Divide(Decimal(2), Decimal(3), 10, RoundingMode::kHalfEven).ToString() == "0.6666666667");
  CHECK(Decimal::Divide(Decimal(2), Decimal(3), 10, RoundingMode::kDown).ToString() == "0.6666666666");
  CHECK(Decimal::Divide(Decimal(-2), Decimal(3), 2, RoundingMode::kFloor).ToString() == "-0.67");
  CHECK(Decimal::Divide(Decimal(-2), Decimal(3), 2, RoundingMode::kCeiling).ToString() == "-0.66");
  CHECK(Decimal::Divide(D("10.00"), D("4"), 2, RoundingMode::kHalfEven).ToString() == "2.50");
  CHECK(Decimal::Divide(D("1"), D("0.001"), 0, RoundingMode::kHalfEven).ToString() == "1000");
  CHECK(Decimal::Divide(D("0.125"), D("1"), 2, RoundingMode::kHalfEven).ToString() == "0.12");
  CHECK(Decimal::Divide(D("0.125"), D("-1"), 2, RoundingMode::kHalfUp).ToString() == "-0.13");
  CHECK(Decimal::Divide(D("49.00"), D("1000"), 2, RoundingMode::kHalfUp).ToString() == "0.05");
  // 1 at scale 38 would need 39 digits
  CHECK(ErrorKindOf([&] { (void)Decimal::Divide(D(kMax), D(kMax), 38, RoundingMode::kHalfEven); }) ==
        DecimalErrorKind::kOverflow);
  CHECK(Decimal::Divide(D(kMax), D(kMax), 37, RoundingMode::kHalfEven).ToString() ==
        "1.0000000000000000000000000000000000000");
  CHECK(Decimal::Divide(Decimal(1), D(kMax), 38, RoundingMode::kHalfEven).ToString() ==
        "0.00000000000000000000000000000000000001");
  CHECK(Decimal::Divide(D("0.00000000000000000000000000000000000001"), D("3"), 38, RoundingMode::kUp).ToString() ==
        "0.00000000000000000000000000000000000001");

  Decimal q;
  REQUIRE(Decimal::TryDivideExact(Decimal(1), Decimal(1024), &q));
  CHECK(q.ToString() == "0.0009765625");
  CHECK(q.scale() == 10);
  CHECK_FALSE(Decimal::TryDivideExact(Decimal(1), Decimal(3), &q));
  CHECK_FALSE(Decimal::TryDivideExact(Decimal(2), D("0.7"), &q));
  REQUIRE(Decimal::TryDivideExact(D("10"), D("4"), &q));
  CHECK(q.ToString() == "2.5");
  REQUIRE(Decimal::TryDivideExact(D("6.0"), D("2"), &q));
  CHECK(q.ToString() == "3.0");  // smallest scale >= 1 - 0
  REQUIRE(Decimal::TryDivideExact(D("6"), D("0.02"), &q));
  CHECK(q.ToString() == "300");
  REQUIRE(Decimal::TryDivideExact(D("-1.00"), D("8"), &q));
  CHECK(q.ToString() == "-0.125");
  REQUIRE(Decimal::TryDivideExact(D("0.000"), D("7"), &q));
  CHECK(q.ToString() == "0.000");
  // terminating but needing more than 38 digits after the point
  CHECK_FALSE(Decimal::TryDivideExact(D("0.00000000000000000000000000000000000001"), Decimal(4), &q));
  // a divisor of 2^60 needs 60 fractional digits
  CHECK_FALSE(Decimal::TryDivideExact(Decimal(1), Decimal(1LL << 60), &q));
  CHECK(ErrorKindOf([&] { (void)Decimal::TryDivideExact(Decimal(1), Decimal(0), &q); }) ==
        DecimalErrorKind::kDivisionByZero);
}

TEST_CASE("decimal: compare across scales", "[decimal]") {
  CHECK(D("1.0") == D("1.00"));
  CHECK(D("1.0") == Decimal(1));
  CHECK_FALSE(D("1.0").IdenticalTo(D("1.00")));
  CHECK(D("1.01") > D("1.0"));
  CHECK(D("-1.5") < D("-1.49"));
  CHECK(D("-0.00") == Decimal(0));
  CHECK(D("0.00000000000000000000000000000000000001") > Decimal(0));
  CHECK(D("-0.00000000000000000000000000000000000001") < Decimal(0));
  CHECK(D(kMax) > D("0.99999999999999999999999999999999999999"));
  CHECK(D(kMin) < D("-0.99999999999999999999999999999999999999"));
  CHECK(D("9999999999999999999999999999999999999.9") < D(kMax));
  CHECK(D("9999999999999999999999999999999999999.9") > D("9999999999999999999999999999999999999"));
  CHECK(D("12345678901234567890") == D("12345678901234567890.000000000000000000"));
  CHECK(Decimal::Compare(D("2"), D("10.5")) == -1);
  CHECK(Decimal::Compare(D("-2"), D("-10.5")) == 1);
  CHECK(Decimal::Compare(D("3.50"), D("3.5")) == 0);
  CHECK((D("3.50") <=> D("3.5")) == std::strong_ordering::equal);
}

TEST_CASE("decimal: Normalized", "[decimal]") {
  CHECK(D("1.500").Normalized().ToString() == "1.5");
  CHECK(D("2.00").Normalized().ToString() == "2");
  CHECK(D("0.000").Normalized().ToString() == "0");
  CHECK(D("-10.10").Normalized().ToString() == "-10.1");
  CHECK(D("100").Normalized().ToString() == "100");  // integer zeros are not fractional
  CHECK(D("0.00000000000000000000000000000000000010").Normalized().scale() == 37);
  CHECK(D("1.000").Normalized() == D("1.000"));
}

TEST_CASE("decimal: RoundToDigits", "[decimal]") {
  int e = 99;
  CHECK(D("123.456").RoundToDigits(4, RoundingMode::kHalfEven, &e).ToString() == "123.5");
  CHECK(e == -1);
  CHECK(D("123.456").RoundToDigits(6, RoundingMode::kHalfEven, &e).ToString() == "123.456");
  CHECK(e == -3);
  CHECK(D("123.456").RoundToDigits(10, RoundingMode::kHalfEven, &e).ToString() == "123.456");
  CHECK(e == -3);
  CHECK(D("99.99").RoundToDigits(3, RoundingMode::kHalfEven, &e).ToString() == "100");
  CHECK(e == 0);
  CHECK(D("99.99").RoundToDigits(2, RoundingMode::kHalfEven, &e).ToString() == "100");
  CHECK(e == 1);  // 1.0E+2
  CHECK(D("123456").RoundToDigits(2, RoundingMode::kHalfEven, &e).ToString() == "120000");
  CHECK(e == 4);
  CHECK(D("125000").RoundToDigits(2, RoundingMode::kHalfEven, &e).ToString() == "120000");
  CHECK(D("135000").RoundToDigits(2, RoundingMode::kHalfEven, &e).ToString() == "140000");
  CHECK(D("-125001").RoundToDigits(2, RoundingMode::kHalfEven, &e).ToString() == "-130000");
  CHECK(D("0.000123456").RoundToDigits(3, RoundingMode::kDown, &e).ToString() == "0.000123");
  CHECK(e == -6);
  CHECK(D("0.000").RoundToDigits(1, RoundingMode::kHalfEven, &e).ToString() == "0.000");
  CHECK(D("-0.0000005").RoundToDigits(1, RoundingMode::kUp).ToString() == "-0.0000005");
  // 05up: truncate, then step away from zero only if the kept last digit is 0 or 5
  CHECK(D("1.05").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "1.1");
  CHECK(D("1.25").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "1.2");
  CHECK(D("1.29").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "1.2");
  CHECK(D("-1.001").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "-1.1");
  CHECK(D("1.000").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "1.0");
  CHECK(D("1.01").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "1.1");
  CHECK(D("1.51").RoundToDigits(2, RoundingMode::kZeroFiveUp).ToString() == "1.6");
  CHECK(ErrorKindOf([&] { (void)D(kMax).RoundToDigits(1, RoundingMode::kHalfEven); }) == DecimalErrorKind::kOverflow);
  CHECK(ErrorKindOf([&] { (void)D("1").RoundToDigits(0, RoundingMode::kHalfEven); }) ==
        DecimalErrorKind::kScaleOutOfRange);
  CHECK(ErrorKindOf([&] { (void)D("1").RoundToDigits(39, RoundingMode::kHalfEven); }) ==
        DecimalErrorKind::kScaleOutOfRange);
}

TEST_CASE("decimal: precision forms round the wide exact result once", "[decimal]") {
  int e = 0;
  // 1E+30 + 1E-30 is 61 digits exactly
  Decimal big = D("1000000000000000000000000000000");
  Decimal tiny = D("0.000000000000000000000000000001");
  Decimal s = Decimal::AddToDigits(big, tiny, 34, RoundingMode::kHalfEven, &e);
  CHECK(s.ToString() == "1000000000000000000000000000000.000");
  CHECK(e == -3);  // 1.000000000000000000000000000000000E+30: 34 digits
  CHECK(Decimal::AddToDigits(big, tiny, 34, RoundingMode::kUp, &e).ToString() == "1000000000000000000000000000000.001");
  CHECK(Decimal::AddToDigits(big, -tiny, 34, RoundingMode::kDown, &e).ToString() == "999999999999999999999999999999.9999");
  CHECK(Decimal::AddToDigits(D("1.00"), D("-1"), 5, RoundingMode::kHalfEven, &e).ToString() == "0.00");
  CHECK(e == -2);
  // a 76-digit product rounded to 10 digits is still 9.999999999E+75: too large for a Decimal
  CHECK(ErrorKindOf([&] { (void)Decimal::MultiplyToDigits(D(kMax), D(kMax), 10, RoundingMode::kHalfEven, &e); }) ==
        DecimalErrorKind::kOverflow);
  CHECK(Decimal::MultiplyToDigits(D("0.1234567890123456789"), D("0.9876543210987654321"), 20, RoundingMode::kHalfEven, &e)
            .ToString() == "0.12193263113702179522");
  CHECK(e == -20);
  // divide: exact quotients take the ideal exponent, inexact ones exactly `digits` digits
  CHECK(Decimal::DivideToDigits(Decimal(1), Decimal(3), 9, RoundingMode::kHalfUp, &e).ToString() == "0.333333333");
  CHECK(Decimal::DivideToDigits(Decimal(2), Decimal(3), 9, RoundingMode::kHalfUp, &e).ToString() == "0.666666667");
  CHECK(Decimal::DivideToDigits(D("1.00"), Decimal(4), 9, RoundingMode::kHalfUp, &e).ToString() == "0.25");
  CHECK(Decimal::DivideToDigits(D("12.000"), D("3"), 9, RoundingMode::kHalfUp, &e).ToString() == "4.000");
  CHECK(Decimal::DivideToDigits(D("1000"), D("1"), 2, RoundingMode::kHalfUp, &e).ToString() == "1000");
  CHECK(e == 2);  // 1.0E+3
  CHECK(Decimal::DivideToDigits(Decimal(0), D("0.5"), 9, RoundingMode::kHalfUp, &e).ToString() == "0");
  CHECK(e == 1);
  CHECK(ErrorKindOf([&] { (void)Decimal::DivideToDigits(Decimal(1), Decimal(0), 9, RoundingMode::kHalfUp); }) ==
        DecimalErrorKind::kDivisionByZero);
}

TEST_CASE("decimal: MultiplyRounded and Divide against an independent oracle (256-bit intermediates)", "[decimal]") {
  // Rows produced by Python's decimal module at 300 digits of precision: op, a, b, scale, mode,
  // expected (a × b or a ÷ b quantized to `scale` with `mode`).
  struct Row {
    const char* op;
    const char* a;
    const char* b;
    int scale;
    RoundingMode mode;
    const char* expected;
  };
  const Row rows[] = {
  {"div", "-6.7493653", "-15649850294.284981540699370974431423", 26, RoundingMode::kHalfEven, "0.00000000043127347374464891"},
  {"mul", "414560133696783.5163", "-0.000966762215866453268", 24, RoundingMode::kUp, "-400781073462.595553217771603286666269"},
  {"div", "297.95715683064574710047201187813758558", "0.6097187358", 34, RoundingMode::kCeiling, "488.6796802130444670197586076510027193"},
  {"mul", "0.007444394175", "0.7581", 15, RoundingMode::kHalfDown, "0.005643595224067"},
  {"div", "0.07840", "-827896715.80907284063236865838897545774", 1, RoundingMode::kHalfDown, "-0.0"},
  {"mul", "-354926455918428.61", "-9234.333709782812", 6, RoundingMode::kHalfDown, "3277509336381288556.443431"},
  {"div", "-550.427", "-0.089058034669754906741027714", 23, RoundingMode::kUp, "6180.54285658889680268911390"},
  {"mul", "-98625.3066", "0.30897152", 19, RoundingMode::kCeiling, "-30472.4108906680320000000"},
  {"mul", "0.051", "-0.1075453209948", 27, RoundingMode::kZeroFiveUp, "-0.005484811370734800000000000"},
  {"mul", "2.7801", "5.2", 5, RoundingMode::kDown, "14.45652"},
  {"mul", "-66721992.190806866415625839", "-40161732.65925", 8, RoundingMode::kCeiling, "2679670812859751.58453360"},
  {"div", "-9198410162675235542.064", "-1405.22229532605612842460425087222326", 9, RoundingMode::kCeiling, "6545875476976340.406619819"},
  {"mul", "0.03", "0.56120659061266475054016112402434060", 20, RoundingMode::kHalfEven, "0.01683619771837994252"},
  {"mul", "0.88", "-85.5437805664118998", 7, RoundingMode::kFloor, "-75.2785269"},
  {"mul", "-2360886992981231312.34687901031", "-8", 15, RoundingMode::kFloor, "18887095943849850498.775032082480000"},
  {"div", "0.0008", "-65186653400087019318.9557", 19, RoundingMode::kFloor, "-0.0000000000000000001"},
  {"div", "0.00616362", "-0.000568086003620238719375379", 22, RoundingMode::kHalfDown, "-10.8498008412830643544736"},
  {"mul", "688844.9511836105925395738729950049315", "0.0074", 1, RoundingMode::kFloor, "5097.4"},
  {"div", "0.015347563759", "0.01096289548152", 20, RoundingMode::kHalfEven, "1.39995531152068120661"},
  {"div", "36671596244.6673292556341308505150", "-0.024", 3, RoundingMode::kFloor, "-1527983176861.139"},
  {"div", "89806410419452841.2246593", "107210919984940.1966791235", 30, RoundingMode::kHalfUp, "837.661037066633246804003140075938"},
  {"div", "839099449933032.4478316740544174749", "4652806755172613484849032635.8", 14, RoundingMode::kDown, "0.00000000000018"},
  {"mul", "-0.006", "-56992389611092402540298096082481.9575", 5, RoundingMode::kUp, "341954337666554415241788576494.89175"},
  {"mul", "1639.6562454490433053468", "-0.00060576206849", 34, RoundingMode::kUp, "-0.9932415588557596215384642448023320"},
  {"mul", "18.6277609226902043116302408048", "0.0000", 6, RoundingMode::kHalfDown, "0.000000"},
  {"div", "94093752187673.965159562", "-1.60562142574754", 22, RoundingMode::kZeroFiveUp, "-58602700909939.6528800963850404604238"},
  {"div", "-42913189326726304245102095193415.29743", "-0.011347", 4, RoundingMode::kCeiling, "3781897358484736427699135911995707.8902"},
  {"div", "584801629510659161789.32831", "-0.0007651", 9, RoundingMode::kFloor, "-764346659927668490118060.789439289"},
  {"div", "29696665705205414.80754", "-3695745625.855", 5, RoundingMode::kZeroFiveUp, "-8035365.17704"},
  {"mul", "-765547680568209.21835", "-97607.3308893", 11, RoundingMode::kZeroFiveUp, "74723065768757337013.83896337866"},
  {"div", "952014237994866428.3972035477322", "-50281.634", 11, RoundingMode::kDown, "-18933637637847.37839659712"},
  {"mul", "54429969509130854771040.025206425", "-17510.25", 10, RoundingMode::kHalfUp, "-953082373597258549754603601.3708033563"},
  {"mul", "237.2", "-4.211369523478270", 25, RoundingMode::kHalfEven, "-998.9368509690456440000000000"},
  {"mul", "-5.798087562558352195566254", "-2877815.36428667295354287653", 4, RoundingMode::kHalfDown, "16685825.4710"},
  {"div", "-703041225354", "1.79094177417888657264", 13, RoundingMode::kDown, "-392553926370.0135086219131"},
  {"mul", "3.2305186229368", "-146358093244.555254794167", 10, RoundingMode::kFloor, "-472812545844.0564124721"},
  {"div", "842", "-365", 8, RoundingMode::kUp, "-2.30684932"},
  {"div", "0.69446198890872493771084421948", "-233900.9379", 3, RoundingMode::kHalfDown, "-0.000"},
  {"mul", "0.72", "-0.003702425555167551727697895661", 34, RoundingMode::kCeiling, "-0.0026657463997206372439424848759200"},
  {"div", "5917017435324560.3246633272394673152", "6422736678845.836856562897795888098", 3, RoundingMode::kCeiling, "921.262"},
  {"mul", "-16112", "901419.5515887837964079141", 5, RoundingMode::kCeiling, "-14523671815.19848"},
  {"div", "-744.3148437604162158099119772", "0.58676303120313092653", 23, RoundingMode::kHalfDown, "-1268.51012108624576861077054"},
  {"mul", "0.85", "-99512862734570058000.88775864701459127", 10, RoundingMode::kDown, "-84585933324384549300.7545948499"},
  {"div", "440653.8445", "-99808149314.17", 12, RoundingMode::kHalfDown, "-0.000004415009"},
  {"div", "-27.213398064298608401644760323226315", "-3441347957185.6673218027", 15, RoundingMode::kHalfDown, "0.000000000007908"},
  {"div", "5814789918998932481618391717056314.546", "4974764092028984891.07293", 5, RoundingMode::kDown, "1168857419453499.84178"},
  {"div", "6367096499.085264208646", "-9941200.624865624661678474787328689295", 5, RoundingMode::kZeroFiveUp, "-640.47561"},
  {"mul", "972672.453042882109528316739", "-1945215830.8294895026272403428942", 7, RoundingMode::kDown, "-1892057853870767.5375720"},
  {"mul", "-0.040906180161", "-560052089.632270936361197339814", 26, RoundingMode::kUp, "22909591.67804219516235530415210543"},
  {"div", "849082955629.7609841220415654220281", "50209.39699056084061502699452062", 3, RoundingMode::kZeroFiveUp, "16910837.542"},
  {"div", "-0.89489122275545489675428173344511", "0.0007", 12, RoundingMode::kDown, "-1278.416032507792"},
  {"div", "-4331995.7", "957974579487923165.1120545147328637088", 8, RoundingMode::kHalfEven, "-0.00000000"},
  {"div", "-31491522.984505", "13759079548923113", 1, RoundingMode::kZeroFiveUp, "-0.1"},
  {"mul", "76415037571956.2156", "-0.7", 22, RoundingMode::kDown, "-53490526300369.3509200000000000000000"},
  {"mul", "-5706296295539106565863952233653.278943", "0.00023339352818", 8, RoundingMode::kFloor, "-1331812625256336076571991361.69133051"},
  {"mul", "73956331.2978825847987678506254367", "628207634.71315470682035562", 19, RoundingMode::kHalfDown, "46459931956705273.5704888627561562377"},
  {"mul", "4699.726596449", "-75.3980013101766811503", 0, RoundingMode::kFloor, "-354350"},
  {"mul", "-0.093", "1005620862968.01015297942171142592670", 11, RoundingMode::kDown, "-93522740256.02494422708"},
  {"div", "-0.08487424776696758", "5846670040962.45757", 16, RoundingMode::kFloor, "-0.0000000000000146"},
  {"div", "0.00099", "-459.134073161375549257458721691880193", 31, RoundingMode::kZeroFiveUp, "-0.0000021562329129339889556579856"},
  {"mul", "-0.000308752325937121", "-810690455.57", 26, RoundingMode::kFloor, "250302.56377226175066421397000000"},
  {"mul", "0.00095", "65289944.980500143548289488259057", 13, RoundingMode::kHalfDown, "62025.4477314751364"},
  {"div", "0.08645", "-0.0001", 29, RoundingMode::kCeiling, "-864.50000000000000000000000000000"},
  {"mul", "-9113289.687378946206446300954", "0.133039268981", 29, RoundingMode::kFloor, "-1212425.39802098102523573898875168291"},
  {"div", "51.3", "31.52793", 27, RoundingMode::kHalfEven, "1.627128707783860215370942526"},
  {"div", "-0.0186007007162715755832451016265979960", "451392.9", 27, RoundingMode::kZeroFiveUp, "-0.000000041207340027438569776"},
  {"div", "-79452990.7202", "-6157336.2699635767611", 30, RoundingMode::kHalfDown, "12.903792685123237214992371391960"},
  {"div", "-0.00098814268803349945648550130197517560", "70466351.499287047711962879858", 9, RoundingMode::kZeroFiveUp, "-0.000000001"},
  {"mul", "0.04", "0.000007259629", 16, RoundingMode::kHalfDown, "0.0000002903851600"},
  {"div", "-2651.3", "46036974455124.9", 37, RoundingMode::kFloor, "-0.0000000000575906655765223424231103147"},
  {"div", "0.2", "692964311.58218695", 32, RoundingMode::kHalfDown, "0.00000000028861515182990718988465"},
  {"mul", "0.9524716871449439", "-972170045.37267", 5, RoundingMode::kUp, "-925964443.30789"},
  {"div", "-518787449629222775293510.529", "-461.563998316098788147552661612528", 13, RoundingMode::kFloor, "1123977284887663438679.0790383621588"},
  {"div", "-855584.54875900866976752917491", "834.413671834034", 6, RoundingMode::kZeroFiveUp, "-1025.372159"},
  {"div", "2.084369152875069292", "8.1", 18, RoundingMode::kCeiling, "0.257329525046304851"},
  {"div", "-93247454242.003447135785339447951", "1118679885497.1259279", 10, RoundingMode::kDown, "-0.0833549038"},
  {"mul", "-0.00789", "44576035.3407050099480959", 24, RoundingMode::kZeroFiveUp, "-351704.918838162528490476651000"},
  {"div", "85946.13564630684924583450543", "3350155656167.86024407736125256", 8, RoundingMode::kFloor, "0.00000002"},
  {"div", "8651161388841121382931042192.98", "7652973962690641514813299870", 9, RoundingMode::kUp, "1.130431311"},
  {"mul", "506", "-3463.2893", 13, RoundingMode::kHalfEven, "-1752424.3858000000000"},
  {"div", "43415483541411569521062.203", "-55701.98004944774", 15, RoundingMode::kUp, "-779424420871049707.895122642263813"},
  {"mul", "-0.00079", "326538198.98569678506079", 5, RoundingMode::kDown, "-257965.17719"},
  {"div", "2832.692106", "-4101010.37102162584015502681753103", 1, RoundingMode::kHalfDown, "-0.0"},
  {"div", "-3401457945601712854046844.879034", "318060485376593235831909.9567", 3, RoundingMode::kZeroFiveUp, "-10.694"},
  {"div", "6092011719537507.97", "16736160725454594.96114090081", 11, RoundingMode::kDown, "0.36400294066"},
  {"mul", "-72678.59", "0.0008", 35, RoundingMode::kUp, "-58.14287200000000000000000000000000000"},
  {"mul", "0.06127371440163867", "0.0774499969006866267759", 37, RoundingMode::kHalfEven, "0.0047456489905004725193871375576588641"},
  {"div", "-20541321733.01", "-7.696", 23, RoundingMode::kZeroFiveUp, "2669090661.77364864864864864864864"},
  {"div", "8839834.3736229231559652", "409785111634066828592.18", 8, RoundingMode::kHalfEven, "0.00000000"},
  {"div", "52202884192386.25124485734880674162942", "4371624073744.884363906018067297", 15, RoundingMode::kCeiling, "11.941302205262004"},
  {"mul", "0.0007115602992620753861962914026", "330975.0284253", 17, RoundingMode::kUp, "235.50869027458037557"},
  {"mul", "0.0817", "935133198154319883112546.3010450798497", 6, RoundingMode::kHalfUp, "76400382289207934450295.032795"},
  {"mul", "5691995341709656723.86688108211184", "-7533.91249613796384", 3, RoundingMode::kFloor, "-42882994832865462330415.494"},
  {"div", "4733338053818463345054.45556883", "-64525654384.414", 18, RoundingMode::kZeroFiveUp, "-73355909350.712273414690964564"},
  {"mul", "0.65669861283910397842296614529993573", "-73739872997.73614606297906044", 16, RoundingMode::kHalfDown, "-48424872308.5450270625922686"},
  {"div", "53496.14609419875600452108681920383", "81904.30663501536", 26, RoundingMode::kHalfDown, "0.65315425149241572057925966"},
  {"div", "-26845077872.20650101478197460637", "-0.000482", 15, RoundingMode::kDown, "55695182307482.367250585009556"},
  {"mul", "-32982.3904852175331816997", "-0.4202296706317", 1, RoundingMode::kUp, "13860.2"},
  {"div", "-0.009131267628759", "99", 19, RoundingMode::kUp, "-0.0000922350265531213"},
  {"div", "271295305110741660.32", "-5754509148398.3491918754", 28, RoundingMode::kHalfUp, "-47144.8212374901170074455178376388"},
  {"mul", "-7812.036139581512271864506377929", "1372695083.36882091455", 21, RoundingMode::kHalfDown, "-10723543599903.085886790671957586393"},
  {"mul", "-8762190579367244566.8432198092", "0.0211", 11, RoundingMode::kDown, "-184882221224648860.36039193797"},
  {"div", "0.022", "8.8", 6, RoundingMode::kFloor, "0.002500"},
  {"div", "0.009", "-0.664547558", 12, RoundingMode::kHalfUp, "-0.013543048788"},
  {"mul", "0.001546626", "93606133469444214117286442163525", 7, RoundingMode::kHalfDown, "144773679783312627103362260897.6040166"},
  {"div", "28.58", "-7959159498575364.10", 36, RoundingMode::kZeroFiveUp, "-0.000000000000003590831419462774599631"},
  {"mul", "0.098113", "96.555992969125867802888020764818280", 3, RoundingMode::kDown, "9.473"},
  {"div", "-0.0080533988292155", "-9904423784515259.15410643229098517", 21, RoundingMode::kDown, "0.000000000000000000813"},
  {"mul", "-0.000788137", "707446002516.836963604222509075549", 17, RoundingMode::kZeroFiveUp, "-557564370.08561233398414111"},
  {"mul", "-315280044172195110.2951", "0.0014", 2, RoundingMode::kHalfEven, "-441392061841073.15"},
  {"div", "-62.53", "-67280438129.5782326488726292070144408", 26, RoundingMode::kZeroFiveUp, "0.00000000092939347213481036"},
  {"div", "-529399007686.113615243510", "0.00543826791498287999300194984754", 2, RoundingMode::kHalfDown, "-97346989144756.06"},
  {"div", "940.44293391806677884308159", "-21.596907264241952", 0, RoundingMode::kHalfUp, "-44"},
  {"div", "-0.76336054102436", "-7161300860652523379772038.0101", 22, RoundingMode::kFloor, "0.0000000000000000000000"},
  {"mul", "-133.360143", "969.405663826663879324395922417576", 29, RoundingMode::kCeiling, "-129280.07795293382215963618360222484"},
  {"div", "0.04563604709267265067321853651", "363.4", 11, RoundingMode::kHalfUp, "0.00012558076"},
  {"mul", "-22.061262531915964095503", "-84846480372.042714566771148036", 11, RoundingMode::kDown, "1871820478396.68920845402"},
  {"div", "-0.767869632444708623090334410777586985", "0.633756379", 0, RoundingMode::kHalfUp, "-1"},
  {"mul", "-0.04049168591758541185659840930", "2038.715436552324", 7, RoundingMode::kHalfUp, "-82.5510251"},
  {"div", "-17.34906837800", "21.4", 26, RoundingMode::kCeiling, "-0.81070412981308411214953271"},
  {"div", "-4948.60609394437775102653550", "325734060909.73476367210714411", 24, RoundingMode::kCeiling, "-0.000000015192166518059351"},
  {"mul", "-75654662.952427160605729438932", "-0.0003659", 8, RoundingMode::kZeroFiveUp, "27682.04117429"},
  {"div", "9082406093648880.3497182344931", "-0.00610249005691151428019462317", 3, RoundingMode::kZeroFiveUp, "-1488311493987998260.749"},
  {"div", "-0.01", "0.5", 25, RoundingMode::kZeroFiveUp, "-0.0200000000000000000000000"},
  {"mul", "3541.08036", "63191933220.15734980936506057910", 20, RoundingMode::kHalfEven, "223767713636330.74751959236008686124"},
  {"div", "-97158.8050968", "32210609024.720368", 4, RoundingMode::kDown, "-0.0000"},
  {"div", "-8.201573673804", "-29636026637831.72880535619", 22, RoundingMode::kDown, "0.0000000000002767433628"},
  {"div", "11", "39.3480672320", 25, RoundingMode::kHalfEven, "0.2795562977755156032462886"},
  {"div", "34.87158237961866474426914559669980615", "-31560.6407719", 30, RoundingMode::kUp, "-0.001104907299938807322079139514"},
  {"div", "0.17514201866", "295699473293.4101441333152845953117004", 10, RoundingMode::kFloor, "0.0000000000"},
  {"div", "93710203.78693", "-0.0052", 17, RoundingMode::kHalfDown, "-18021193035.94807692307692308"},
  {"div", "62071824910297023705176.2", "-78361594680262.36031593012271750110442", 26, RoundingMode::kCeiling, "-792120491.72260671919640332597913859"},
  {"div", "8962601397787846.6977241437", "0.029207", 13, RoundingMode::kHalfDown, "306864840544658701.6031822405588"},
  {"div", "170.5656091678496458175129090086557749", "8694732727.740934938324", 11, RoundingMode::kDown, "0.00000001961"},
  {"mul", "13327757357741.0146", "-66494285.1344107", 2, RoundingMode::kHalfDown, "-886219697947871176885.68"},
  {"mul", "-759403647.45053613987", "-0.627723349847521", 11, RoundingMode::kDown, "476695401.46407639625"},
  {"div", "77889554550801663.736240087336", "-359.5892165818922608939949035634", 12, RoundingMode::kUp, "-216607036471193.022536219685"},
  {"div", "-5056.5615104137648859780744873", "-2611", 31, RoundingMode::kZeroFiveUp, "1.9366378821960034032853598189582"},
  {"mul", "-1716908.7979795590351535", "0.002281635679368129", 26, RoundingMode::kUp, "-3917.36037169120892618445792978"},
  {"div", "-17804.90", "-711.394770009346", 4, RoundingMode::kZeroFiveUp, "25.0281"},
  {"mul", "3574737559956939.2171532604896085", "-258015.796939451860516204", 4, RoundingMode::kZeroFiveUp, "-922338760381681249396.1172"},
  {"div", "9.220439569436", "0.0065514082117601", 1, RoundingMode::kFloor, "1407.3"},
  {"div", "-0.006009472369983251436471848585", "7269967538906.0569863631130", 11, RoundingMode::kHalfDown, "-0.00000000000"},
  {"div", "-90084681663172301678133378.48462606", "-0.00367773662546", 6, RoundingMode::kCeiling, "24494598400423735186295038269.340547"},
  {"div", "147.254", "-809976.38", 33, RoundingMode::kZeroFiveUp, "-0.000181800363116761503588536742268"},
  {"mul", "-0.084071095368", "3174149.552022228836747356892487342", 2, RoundingMode::kHalfUp, "-266854.23"},
  {"div", "76211.7", "16830779853118.084", 30, RoundingMode::kUp, "0.000000004528114601052247636184"},
  {"mul", "-849722594652.2369838935477797232", "-494687.533249506648606158123961501481", 13, RoundingMode::kHalfUp, "420347174294885543.3302685151839"},
  {"div", "87741687650651838540635.84", "-4554160633455481.10915", 8, RoundingMode::kCeiling, "-19266269.83819795"},
  {"div", "670682255199.93663912", "2367210705707245673395571841875.12", 9, RoundingMode::kHalfEven, "0.000000000"},
  {"div", "87980795.6916", "-72395434317209386988.03291985072598794", 20, RoundingMode::kDown, "-0.00000000000121528099"},
  {"div", "1", "95.3352211118226944", 16, RoundingMode::kHalfUp, "0.0104893027816766"},
  {"mul", "0.0009856795078624417", "-69370789.20486412593032", 9, RoundingMode::kZeroFiveUp, "-68377.365363479"},
  {"mul", "1324139580.17721156", "-0.000784527817628237030914246467148262", 3, RoundingMode::kHalfEven, "-1038824.335"},
  {"div", "-0.988574309917510", "-58965514068715991.3738478599617117", 1, RoundingMode::kCeiling, "0.1"},
  {"div", "-52", "-0.006856", 22, RoundingMode::kHalfUp, "7584.5974329054842473745624"},
  {"div", "98253.9", "-182105132355708.8907941516317616721", 27, RoundingMode::kHalfDown, "-0.000000000539544925115449647"},
  {"div", "-97929.8003034292", "-384232034.454358484", 11, RoundingMode::kHalfEven, "0.00025487151"},
  {"mul", "56235580450.9343", "-5.31", 20, RoundingMode::kUp, "-298610932194.46113300000000000000"},
  {"div", "98693009334690561061.808887", "497601.212", 1, RoundingMode::kCeiling, "198337558178396.5"},
  };
  for (const Row& row : rows) {
    INFO(row.op << " " << row.a << " " << row.b << " scale " << row.scale << " " << tariff::RoundingModeName(row.mode));
    Decimal got = std::string(row.op) == "mul" ? Decimal::MultiplyRounded(D(row.a), D(row.b), row.scale, row.mode)
                                               : Decimal::Divide(D(row.a), D(row.b), row.scale, row.mode);
    CHECK(got.IdenticalTo(D(row.expected)));
  }
}

TEST_CASE("decimal: value type guarantees", "[decimal]") {
  STATIC_REQUIRE(std::is_trivially_copyable_v<Decimal>);
  STATIC_REQUIRE(sizeof(Decimal) == 32);
  Decimal zero;
  CHECK(zero.is_zero());
  CHECK(zero.scale() == 0);
  CHECK(zero.digits() == 1);
  CHECK(zero.sign() == 0);
  CHECK(Decimal(-5).sign() == -1);
  CHECK(Decimal(INT64_MIN).ToString() == "-9223372036854775808");
  CHECK(Decimal(INT64_MAX).ToString() == "9223372036854775807");
  CHECK((Decimal(INT64_MIN) * Decimal(INT64_MIN)).ToString() == "85070591730234615865843651857942052864");
  CHECK((-Decimal(INT64_MIN)).ToString() == "9223372036854775808");
}
