// runtime/decimal: the exact rational number behind every intermediate that a Decimal cannot hold
// — a rate `per 7 call`, seconds turned into hours, an average, a proration share, a product wider
// than 38 digits. The engine computes in Decimal while values fit and terminate, and in Fraction
// otherwise; a declared rounding (Fraction::Round) is the only way back, so nothing is ever rounded
// that the plan does not round. See docs/engine.md, "Numbers".
#pragma once

#include <optional>
#include <string>

#include <boost/multiprecision/cpp_int.hpp>

#include "runtime/decimal/decimal.h"

namespace tariff {

// An exact rational number, always in lowest terms with a positive denominator, with
// arbitrary-precision numerator and denominator (boost::multiprecision::cpp_rational): no
// operation ever overflows or rounds. Slow compared to Decimal (a gcd per operation), which is why
// the engine uses it only for values that do not fit a Decimal.
class Fraction {
 public:
  using Integer = boost::multiprecision::cpp_int;

  // Zero.
  Fraction() = default;
  // The exact value of a Decimal.
  Fraction(const Decimal& d);  // NOLINT: implicit on purpose, a Decimal is a fraction
  Fraction(std::int64_t v) : value_(v) {}  // NOLINT
  // numerator ÷ denominator; throws DecimalError(kDivisionByZero) when denominator is zero.
  static Fraction Of(const Integer& numerator, const Integer& denominator);
  // a ÷ b exactly; throws DecimalError(kDivisionByZero) when b is zero.
  static Fraction Quotient(const Fraction& a, const Fraction& b);

  Integer numerator() const;
  Integer denominator() const;  // > 0
  int sign() const { return value_.sign(); }
  bool is_zero() const { return value_.is_zero(); }

  friend Fraction operator+(const Fraction& a, const Fraction& b) { return Fraction(a.value_ + b.value_); }
  friend Fraction operator-(const Fraction& a, const Fraction& b) { return Fraction(a.value_ - b.value_); }
  friend Fraction operator*(const Fraction& a, const Fraction& b) { return Fraction(a.value_ * b.value_); }
  Fraction operator-() const { return Fraction(-value_); }
  Fraction& operator+=(const Fraction& b) {
    value_ += b.value_;
    return *this;
  }
  friend bool operator==(const Fraction& a, const Fraction& b) { return a.value_ == b.value_; }
  friend bool operator<(const Fraction& a, const Fraction& b) { return a.value_ < b.value_; }
  friend bool operator<=(const Fraction& a, const Fraction& b) { return a.value_ <= b.value_; }
  friend bool operator>(const Fraction& a, const Fraction& b) { return a.value_ > b.value_; }
  friend bool operator>=(const Fraction& a, const Fraction& b) { return a.value_ >= b.value_; }
  // -1, 0 or 1.
  static int Compare(const Fraction& a, const Fraction& b) { return a.value_.compare(b.value_) < 0 ? -1 : a.value_ == b.value_ ? 0 : 1; }

  // The largest integer <= this, and the smallest integer >= this.
  Fraction Floor() const;
  Fraction Ceil() const;

  // Rounded once to `scale` decimals (0..38) with `mode`, ties decided exactly. The result has
  // exactly `scale` decimals, unless it would then need more than 38 digits and its last decimals
  // are zeros: it then has as few of them as it takes to fit (the value rounded is the same).
  // Throws DecimalError(kOverflow) when the rounded value itself needs more than 38 digits,
  // kScaleOutOfRange for a scale outside [0, 38].
  Decimal Round(int scale, RoundingMode mode) const;
  // The exact value as a Decimal when it has a finite decimal expansion that fits (38 digits,
  // scale <= 38): at the smallest scale >= `min_scale` that holds it. nullopt otherwise (1/3, or
  // a value wider than 38 digits).
  std::optional<Decimal> ToDecimal(int min_scale = 0) const;
  // Whether the value has a finite decimal expansion (its denominator is 2^a × 5^b).
  bool Terminates() const;

  // Canonical text: "7", "-3/4", "1/3" — the numerator and denominator in lowest terms. Equal
  // values give equal text (the key a distinct count uses).
  std::string ToString() const;
  // For people: the decimal when ToDecimal succeeds ("0.125"), else the fraction with its value
  // to 20 decimals: "113/900 (≈ 0.12555555555555555556)".
  std::string Describe() const;

 private:
  using Rational = boost::multiprecision::cpp_rational;
  explicit Fraction(Rational v) : value_(std::move(v)) {}
  Rational value_;
};

// `x` rounded once to `scale` decimals with `mode`, as Fraction::Round: Decimal::Rescale, except
// that a value with fewer decimals than `scale` that cannot take the trailing zeros within 38
// digits keeps as many as fit, instead of overflowing.
Decimal RoundDecimal(const Decimal& x, int scale, RoundingMode mode);

// An exact number: a Decimal, or a Fraction. Arithmetic on two Decimals is Decimal arithmetic
// (decTest's scale rules: 1.50 + 1 = 2.50, 1.5 × 2.0 = 3.00) while the result fits 38 digits, and
// falls back to the exact value otherwise, so no result is ever rounded or overflows; Round and
// Shown are the only ways to a Decimal that may differ from the exact value.
//
// A quotient is always a Fraction (Keep, is_quotient()), and so is any result with a quotient
// operand: a value that went through a division — a rate `per 7 call`, a conversion, an average — has no scale of
// its own and is shown with the decimals it needs (1500 MB in GB is 1.5, an average of 1.50 and
// 2.50 is 2). That is what makes a value the same whichever path computed it: the engine keeps
// quotients as Decimal numerators over a common denominator or as Fractions depending on what
// the other rows of a batch need, and a Decimal quotient's scale (TryDivideExact's) would differ
// between those paths after a multiplication (0.25 × 2.0 = 0.500, but 2.0 ÷ 4 = 0.5). See
// docs/engine.md, "Numbers".
class ExactNumber {
 public:
  ExactNumber() = default;  // 0
  ExactNumber(const Decimal& d) : decimal_(d) {}  // NOLINT: implicit on purpose
  ExactNumber(std::int64_t v) : decimal_(v) {}    // NOLINT
  // `f` as a Decimal when it has one (at its smallest scale), else as the fraction.
  static ExactNumber Of(const Fraction& f);
  // `f` as a quotient: a Fraction even when it terminates, with no scale of its own (see above).
  static ExactNumber Keep(Fraction f) {
    ExactNumber n;
    n.fraction_ = std::move(f);
    n.quotient_ = true;
    return n;
  }

  bool is_decimal() const { return !fraction_.has_value(); }
  // A value that went through a division (Keep): results with it as an operand are quotients too.
  // A Fraction that is no quotient is a sum or product of Decimals wider than 38 digits.
  bool is_quotient() const { return quotient_; }
  // The value; only when is_decimal().
  const Decimal& decimal() const { return decimal_; }
  Fraction exact() const { return fraction_ ? *fraction_ : Fraction(decimal_); }
  int sign() const { return fraction_ ? fraction_->sign() : decimal_.sign(); }
  bool is_zero() const { return sign() == 0; }

  friend ExactNumber operator+(const ExactNumber& a, const ExactNumber& b);
  friend ExactNumber operator-(const ExactNumber& a, const ExactNumber& b);
  friend ExactNumber operator*(const ExactNumber& a, const ExactNumber& b);
  ExactNumber operator-() const;
  // a ÷ b exactly, as a Fraction (see above); throws DecimalError(kDivisionByZero) when b is zero.
  static ExactNumber Quotient(const ExactNumber& a, const ExactNumber& b);
  // -1, 0 or 1, by value.
  static int Compare(const ExactNumber& a, const ExactNumber& b);
  friend bool operator==(const ExactNumber& a, const ExactNumber& b) { return Compare(a, b) == 0; }
  friend bool operator<(const ExactNumber& a, const ExactNumber& b) { return Compare(a, b) < 0; }
  friend bool operator<=(const ExactNumber& a, const ExactNumber& b) { return Compare(a, b) <= 0; }
  friend bool operator>(const ExactNumber& a, const ExactNumber& b) { return Compare(a, b) > 0; }
  friend bool operator>=(const ExactNumber& a, const ExactNumber& b) { return Compare(a, b) >= 0; }

  // Rounded once to `scale` decimals with `mode` (a Decimal at exactly that scale). Throws
  // DecimalError(kOverflow) when that needs more than 38 digits.
  Decimal Round(int scale, RoundingMode mode) const;
  // The value as it is shown where a Decimal must hold it without a rounding rule (an exact line
  // under `rounding … per invoice`, a meter's value as a line's quantity): the Decimal itself,
  // the exact Decimal of a terminating fraction (at least at `min_scale` where the zeros fit), or else the value
  // rounded half-even to kShownDecimals decimals (fewer when the integer part is wider than 18
  // digits, so that it fits). Throws DecimalError(kOverflow) when even the integer part needs
  // more than 38 digits.
  static constexpr int kShownDecimals = 20;
  Decimal Shown(int min_scale = 0) const;
  // "12.50" (a Decimal, as it is) or "1/3".
  std::string ToString() const;
  // For people: a Decimal as it is, else Fraction::Describe ("1/3 (≈ 0.33333333333333333333)").
  std::string Describe() const;

 private:
  // The result of an operation that left Decimal: a quotient when either operand is one, else
  // a Decimal when it has one (at its smallest scale), else the Fraction (wider than 38 digits).
  static ExactNumber Combine(const ExactNumber& a, const ExactNumber& b, Fraction exact);

  Decimal decimal_;                   // the value, when fraction_ is empty
  std::optional<Fraction> fraction_;  // the value, when it is no Decimal (or did not stay one)
  bool quotient_ = false;             // fraction_ went through a division
};

}  // namespace tariff
