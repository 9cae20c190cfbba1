// Unit tests for runtime/decimal's Fraction: exact arithmetic, every rounding mode on ties and
// non-ties of both signs, conversion back to Decimal, canonical text. Expected values are written
// out by hand.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "runtime/decimal/fraction.h"

namespace {

using tariff::Decimal;
using tariff::DecimalError;
using tariff::DecimalErrorKind;
using tariff::Fraction;
using tariff::RoundingMode;

Decimal D(const char* text) { return Decimal::FromString(text); }
Fraction F(long n, long d) { return Fraction::Of(n, d); }

TEST_CASE("fraction: lowest terms, sign in the numerator, canonical text", "[fraction]") {
  CHECK(F(2, 6).ToString() == "1/3");
  CHECK(F(-4, 8).ToString() == "-1/2");
  CHECK(F(4, -8).ToString() == "-1/2");
  CHECK(F(9, 3).ToString() == "3");
  CHECK(Fraction().ToString() == "0");
  CHECK(Fraction(D("1.50")).ToString() == "3/2");
  CHECK(Fraction(D("-0.125")).ToString() == "-1/8");
  CHECK(F(1, 3) == F(2, 6));
  CHECK_THROWS_AS(F(1, 0), DecimalError);
}

TEST_CASE("fraction: exact arithmetic", "[fraction]") {
  CHECK((F(1, 3) + F(1, 6)).ToString() == "1/2");
  CHECK((F(1, 3) - F(1, 2)).ToString() == "-1/6");
  CHECK((F(2, 3) * F(9, 4)).ToString() == "3/2");
  CHECK(Fraction::Quotient(F(1, 3), F(2, 9)).ToString() == "3/2");
  CHECK_THROWS_AS(Fraction::Quotient(F(1, 3), Fraction()), DecimalError);
  // 3600 s × (1.00 USD ÷ 3600 s) is exactly 1.
  const Fraction per_second = Fraction::Quotient(D("1.00"), D("3600"));
  CHECK((Fraction(D("3600")) * per_second) == Fraction(1));
  // Far beyond 38 digits, still exact.
  Fraction big(D("99999999999999999999999999999999999999"));
  Fraction product = big * big * big;
  CHECK(Fraction::Quotient(product, big * big) == big);
  CHECK(Fraction::Compare(F(1, 3), F(1, 2)) == -1);
  CHECK(Fraction::Compare(F(2, 4), F(1, 2)) == 0);
  CHECK(Fraction::Compare(F(-1, 2), F(-2, 3)) == 1);
}

TEST_CASE("fraction: floor and ceiling", "[fraction]") {
  CHECK(F(7, 2).Floor() == Fraction(3));
  CHECK(F(7, 2).Ceil() == Fraction(4));
  CHECK(F(-7, 2).Floor() == Fraction(-4));
  CHECK(F(-7, 2).Ceil() == Fraction(-3));
  CHECK(F(6, 2).Floor() == Fraction(3));
  CHECK(F(6, 2).Ceil() == Fraction(3));
}

struct RoundCase {
  long n, d;
  RoundingMode mode;
  int scale;
  const char* expected;
};

TEST_CASE("fraction: every rounding mode, ties decided exactly", "[fraction]") {
  using M = RoundingMode;
  const RoundCase cases[] = {
      // 1/8 = 0.125: an exact tie at 2 decimals.
      {1, 8, M::kHalfEven, 2, "0.12"},  {1, 8, M::kHalfUp, 2, "0.13"},  {1, 8, M::kHalfDown, 2, "0.12"},
      {1, 8, M::kUp, 2, "0.13"},        {1, 8, M::kDown, 2, "0.12"},    {1, 8, M::kCeiling, 2, "0.13"},
      {1, 8, M::kFloor, 2, "0.12"},     {1, 8, M::kZeroFiveUp, 2, "0.12"},
      {-1, 8, M::kHalfEven, 2, "-0.12"}, {-1, 8, M::kHalfUp, 2, "-0.13"}, {-1, 8, M::kHalfDown, 2, "-0.12"},
      {-1, 8, M::kUp, 2, "-0.13"},       {-1, 8, M::kDown, 2, "-0.12"},   {-1, 8, M::kCeiling, 2, "-0.12"},
      {-1, 8, M::kFloor, 2, "-0.13"},
      // 3/8 = 0.375: half_even goes up to the even 0.38.
      {3, 8, M::kHalfEven, 2, "0.38"},
      // 1/3 = 0.333…: never a tie.
      {1, 3, M::kHalfEven, 2, "0.33"},  {1, 3, M::kHalfUp, 2, "0.33"},  {1, 3, M::kUp, 2, "0.34"},
      {1, 3, M::kCeiling, 2, "0.34"},   {-1, 3, M::kCeiling, 2, "-0.33"}, {-1, 3, M::kFloor, 2, "-0.34"},
      {2, 3, M::kHalfDown, 2, "0.67"},  {2, 3, M::kDown, 0, "0"},       {2, 3, M::kUp, 0, "1"},
      // 0.0030555 (11.34 s at 0.97 EUR per h): a tie at 6 decimals that must not be lost.
      {30555, 10000000, M::kHalfUp, 6, "0.003056"}, {30555, 10000000, M::kHalfEven, 6, "0.003056"},
      {30555, 10000000, M::kHalfDown, 6, "0.003055"},
      // Exact values: every mode leaves them alone (at the asked scale).
      {1, 1, M::kCeiling, 2, "1.00"},   {7, 7, M::kDown, 2, "1.00"},     {4, 9, M::kHalfEven, 2, "0.44"},
      // 05up: away from zero only when the kept last digit would be 0 or 5.
      {101, 1000, M::kZeroFiveUp, 2, "0.11"}, {111, 1000, M::kZeroFiveUp, 2, "0.11"}, {151, 1000, M::kZeroFiveUp, 2, "0.16"},
  };
  for (const RoundCase& c : cases) {
    INFO(c.n << "/" << c.d << " mode " << static_cast<int>(c.mode) << " scale " << c.scale);
    const Decimal r = F(c.n, c.d).Round(c.scale, c.mode);
    CHECK(r.ToString() == c.expected);
    CHECK(r.scale() == c.scale);
  }
}

TEST_CASE("fraction: rounding agrees with Decimal::Divide on random quotients", "[fraction]") {
  std::mt19937_64 rng(20261203);
  const RoundingMode modes[] = {RoundingMode::kHalfEven, RoundingMode::kHalfUp, RoundingMode::kHalfDown, RoundingMode::kUp,
                                RoundingMode::kDown,     RoundingMode::kCeiling, RoundingMode::kFloor};
  for (int i = 0; i < 2000; ++i) {
    const auto a = static_cast<std::int64_t>(rng() % 2000001) - 1000000;
    const auto b = static_cast<std::int64_t>(rng() % 9999) + 1;
    const int scale = static_cast<int>(rng() % 6);
    const RoundingMode mode = modes[rng() % 7];
    const Decimal x = Decimal::FromParts(a, 3);
    const Decimal y = Decimal::FromParts(b, 1);
    INFO(x.ToString() << " / " << y.ToString() << " scale " << scale);
    CHECK(Fraction::Quotient(x, y).Round(scale, mode).IdenticalTo(Decimal::Divide(x, y, scale, mode)));
  }
}

TEST_CASE("fraction: rounding that does not fit is an overflow", "[fraction]") {
  const Fraction big = Fraction(D("99999999999999999999999999999999999999")) * Fraction(10);
  try {
    (void)big.Round(0, RoundingMode::kHalfEven);
    FAIL("no overflow");
  } catch (const DecimalError& e) {
    CHECK(e.kind() == DecimalErrorKind::kOverflow);
  }
  // 38 nines + 0.4 rounds back into range; + 0.5 rounded half-up does not.
  const Fraction nines(D("99999999999999999999999999999999999999"));
  CHECK(Fraction(nines + F(2, 5)).Round(0, RoundingMode::kHalfUp).ToString() == "99999999999999999999999999999999999999");
  CHECK_THROWS_AS((nines + F(1, 2)).Round(0, RoundingMode::kHalfUp), DecimalError);
  CHECK_THROWS_AS(F(1, 3).Round(39, RoundingMode::kHalfUp), DecimalError);
}

TEST_CASE("fraction: back to Decimal only when exact", "[fraction]") {
  CHECK(F(1, 8).ToDecimal()->ToString() == "0.125");
  CHECK(F(1, 8).ToDecimal(5)->ToString() == "0.12500");
  CHECK(F(5, 1).ToDecimal(2)->ToString() == "5.00");
  CHECK(F(1, 1024).ToDecimal()->ToString() == "0.0009765625");
  CHECK_FALSE(F(1, 3).ToDecimal().has_value());
  CHECK_FALSE(F(1, 3).Terminates());
  CHECK(F(3, 40).Terminates());
  // Terminates, but needs 39 decimals.
  const Fraction tiny = Fraction::Quotient(D("0.00000000000000000000000000000000000001"), Fraction(2));
  CHECK(tiny.Terminates());
  CHECK_FALSE(tiny.ToDecimal().has_value());
  CHECK(F(113, 900).Describe() == "113/900 (≈ 0.12555555555555555556)");
  CHECK(F(1, 4).Describe() == "0.25");
}

}  // namespace

namespace {

using tariff::ExactNumber;

TEST_CASE("exact number: Decimal arithmetic while it fits, a quotient is a Fraction", "[fraction]") {
  const ExactNumber third = ExactNumber::Quotient(D("1.00"), D("3"));
  CHECK_FALSE(third.is_decimal());
  CHECK(third.ToString() == "1/3");
  // A quotient keeps no scale, even when it terminates: shown with the decimals it needs.
  const ExactNumber quarter = ExactNumber::Quotient(D("1.00"), D("4"));
  CHECK_FALSE(quarter.is_decimal());
  CHECK(quarter.Shown().ToString() == "0.25");
  CHECK(ExactNumber::Quotient(D("1500.00"), D("1000")).Shown().ToString() == "1.5");
  // Once a Fraction, always: the fractions cancel to 1, which is shown as 1.
  const ExactNumber one = third + third + third;
  CHECK_FALSE(one.is_decimal());
  CHECK(one.Shown().ToString() == "1");
  // So a quotient times a Decimal reads the same as the product divided (0.25 × 2.0 = 2.0 ÷ 4),
  // whichever order the engine computed it in.
  CHECK((quarter * ExactNumber(D("2.0"))).Shown().ToString() == "0.5");
  CHECK(ExactNumber::Quotient(D("2.0"), D("4")).Shown().ToString() == "0.5");
  // Two Decimals: Decimal arithmetic and its scale rules.
  const ExactNumber sum = ExactNumber(D("1.50")) + ExactNumber(D("1"));
  REQUIRE(sum.is_decimal());
  CHECK(sum.decimal().ToString() == "2.50");
  const ExactNumber product = ExactNumber(D("1.5")) * ExactNumber(D("2.0"));
  REQUIRE(product.is_decimal());
  CHECK(product.decimal().ToString() == "3.00");
  // A product wider than 38 digits is kept exactly, and rounds back.
  const ExactNumber wide = ExactNumber(D("999999999999999999999999999999999999.99")) * ExactNumber(D("0.029"));
  CHECK_FALSE(wide.is_decimal());
  CHECK(wide.Round(2, RoundingMode::kHalfEven).ToString() == "29000000000000000000000000000000000.00");
  // Too wide is not a quotient: adding it back into range gives a Decimal (a total of lines where
  // a cap takes back most of a huge one), while anything with a quotient in it stays one.
  CHECK_FALSE(wide.is_quotient());
  const ExactNumber back = wide - ExactNumber(D("28999999999999999999999999999999999.99"));
  REQUIRE(back.is_decimal());
  CHECK(back.decimal().ToString() == "0.00971");
  CHECK((wide + quarter).is_quotient());
  CHECK(quarter.is_quotient());
  CHECK((-quarter).is_quotient());
  // A sum of Decimals past 38 digits at its scale, exact at a smaller one: a Decimal again.
  const ExactNumber shifted = ExactNumber(D("99999999999999999999999999999999999999")) + ExactNumber(D("0.0"));
  REQUIRE(shifted.is_decimal());
  CHECK(shifted.decimal().ToString() == "99999999999999999999999999999999999999");
  CHECK(ExactNumber::Compare(third, quarter) == 1);
  CHECK(-third < quarter);
  CHECK_THROWS_AS(ExactNumber::Quotient(D("1"), D("0")), DecimalError);
}

TEST_CASE("exact number: shown as a Decimal", "[fraction]") {
  CHECK(ExactNumber(D("1.5")).Shown(2).ToString() == "1.50");
  CHECK(ExactNumber(D("1.505")).Shown(2).ToString() == "1.505");
  CHECK(ExactNumber::Keep(Fraction::Of(3, 8)).Shown().ToString() == "0.375");
  CHECK(ExactNumber::Keep(Fraction::Of(3, 8)).Shown(4).ToString() == "0.3750");
  CHECK(ExactNumber::Keep(Fraction::Of(1, 3)).Shown(2).ToString() == "0.33333333333333333333");
  CHECK(ExactNumber::Keep(Fraction::Of(2, 3)).Shown().ToString() == "0.66666666666666666667");
  // A wide integer part leaves fewer decimals, so that the value fits 38 digits.
  const Fraction big = Fraction(D("12345678901234567890123456789")) + Fraction::Of(1, 3);
  CHECK(ExactNumber::Keep(big).Shown().ToString() == "12345678901234567890123456789.333333333");
  const Fraction huge = Fraction(D("99999999999999999999999999999999999999")) * Fraction(100);
  CHECK_THROWS_AS(ExactNumber::Keep(huge).Shown(), DecimalError);
}

}  // namespace
