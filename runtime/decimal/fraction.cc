// runtime/decimal: Fraction, over boost::multiprecision's rational numbers. Rounding is done here,
// on the integers, so that a tie is a tie exactly (2 × remainder == denominator).
#include "runtime/decimal/fraction.h"

#include <algorithm>
#include <string>

namespace tariff {
namespace {

using Integer = Fraction::Integer;

Integer Pow10(int n) {
  Integer r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

const Integer& MaxCoefficient() {
  static const Integer max = Pow10(38) - 1;
  return max;
}

Integer FromInt128(int128 v) {
  const bool negative = v < 0;
  uint128 m = negative ? -static_cast<uint128>(v) : static_cast<uint128>(v);
  Integer r = static_cast<std::uint64_t>(m >> 64);
  r <<= 64;
  r += static_cast<std::uint64_t>(m);
  return negative ? Integer(-r) : r;
}

int128 ToInt128(const Integer& v) {
  const bool negative = v < 0;
  Integer m = negative ? Integer(-v) : v;
  const auto lo = static_cast<std::uint64_t>(m & Integer(~std::uint64_t{0}));
  const auto hi = static_cast<std::uint64_t>(m >> 64);
  const uint128 u = (static_cast<uint128>(hi) << 64) | lo;
  return negative ? -static_cast<int128>(u) : static_cast<int128>(u);
}

// Whether |q| (an integer) fits a Decimal coefficient.
bool Fits(const Integer& q) { return boost::multiprecision::abs(q) <= MaxCoefficient(); }

}  // namespace

Fraction::Fraction(const Decimal& d) {
  const Integer n = FromInt128(d.coefficient());
  value_ = Rational(n, Pow10(d.scale()));
}

Fraction Fraction::Of(const Integer& numerator, const Integer& denominator) {
  if (denominator.is_zero()) throw DecimalError(DecimalErrorKind::kDivisionByZero, "division by zero");
  if (denominator < 0) return Fraction(Rational(Integer(-numerator), Integer(-denominator)));
  return Fraction(Rational(numerator, denominator));
}

Fraction Fraction::Quotient(const Fraction& a, const Fraction& b) {
  if (b.is_zero()) throw DecimalError(DecimalErrorKind::kDivisionByZero, "division by zero");
  return Fraction(a.value_ / b.value_);
}

Fraction::Integer Fraction::numerator() const { return boost::multiprecision::numerator(value_); }
Fraction::Integer Fraction::denominator() const { return boost::multiprecision::denominator(value_); }

Fraction Fraction::Floor() const {
  const Integer n = numerator(), d = denominator();
  Integer q = n / d;  // truncates towards zero
  if (n < 0 && q * d != n) q -= 1;
  return Fraction(Rational(q));
}

Fraction Fraction::Ceil() const {
  const Integer n = numerator(), d = denominator();
  Integer q = n / d;
  if (n > 0 && q * d != n) q += 1;
  return Fraction(Rational(q));
}

Decimal Fraction::Round(int scale, RoundingMode mode) const {
  if (scale < 0 || scale > Decimal::kMaxScale) {
    throw DecimalError(DecimalErrorKind::kScaleOutOfRange, "scale " + std::to_string(scale) + " is outside [0, 38]");
  }
  const Integer n = numerator(), d = denominator();
  const bool negative = n < 0;
  const Integer scaled = (negative ? Integer(-n) : n) * Pow10(scale);
  Integer q = scaled / d;
  const Integer r = scaled - q * d;  // 0 <= r < d
  bool up = false;
  if (!r.is_zero()) {
    const Integer twice = 2 * r;
    const int half = twice.compare(d);  // the remainder against half the denominator
    switch (mode) {
      case RoundingMode::kDown: up = false; break;
      case RoundingMode::kUp: up = true; break;
      case RoundingMode::kHalfUp: up = half >= 0; break;
      case RoundingMode::kHalfDown: up = half > 0; break;
      case RoundingMode::kHalfEven: up = half > 0 || (half == 0 && (q & 1) != 0); break;
      case RoundingMode::kCeiling: up = !negative; break;
      case RoundingMode::kFloor: up = negative; break;
      case RoundingMode::kZeroFiveUp: {
        const int last = static_cast<int>(q % 10);
        up = last == 0 || last == 5;
        break;
      }
    }
  }
  if (up) q += 1;
  // The rounded value at fewer decimals when its last ones are zeros and it does not fit at
  // `scale` (4.20 of a 38-digit value is 4.2): the value is the same, and it fits.
  while (!Fits(q) && scale > 0 && q % 10 == 0) {
    q /= 10;
    --scale;
  }
  if (!Fits(q)) {
    std::string value = ToString();
    if (value.size() > 90) value = "of " + std::to_string(q.str().size()) + " digits";
    throw DecimalError(DecimalErrorKind::kOverflow,
                       "the value " + value + " rounded to " + std::to_string(scale) + " decimals does not fit in 38 digits");
  }
  return Decimal::FromParts(ToInt128(negative ? Integer(-q) : q), scale);
}

bool Fraction::Terminates() const {
  Integer d = denominator();
  while ((d & 1) == 0) d >>= 1;
  while (d % 5 == 0) d /= 5;
  return d == 1;
}

std::optional<Decimal> Fraction::ToDecimal(int min_scale) const {
  if (!Terminates()) return std::nullopt;
  const Integer n = numerator(), d = denominator();
  // The smallest k with d | 10^k; then n × 10^k ÷ d is exact.
  int k = 0;
  Integer p = 1;
  while (p % d != 0) {
    p *= 10;
    if (++k > Decimal::kMaxScale) return std::nullopt;
  }
  Integer c = n * (p / d);
  while (k < min_scale) {
    c *= 10;
    ++k;
  }
  if (k > Decimal::kMaxScale || !Fits(c)) return std::nullopt;
  return Decimal::FromParts(ToInt128(c), k);
}

std::string Fraction::ToString() const {
  const Integer d = denominator();
  if (d == 1) return numerator().str();
  return numerator().str() + "/" + d.str();
}

std::string Fraction::Describe() const {
  if (std::optional<Decimal> exact = ToDecimal()) return exact->ToString();
  std::string approx;
  try {
    approx = Round(20, RoundingMode::kHalfEven).ToString();
  } catch (const DecimalError&) {
    approx = "a value wider than 38 digits";
  }
  return ToString() + " (≈ " + approx + ")";
}

ExactNumber ExactNumber::Of(const Fraction& f) {
  if (std::optional<Decimal> d = f.ToDecimal()) return ExactNumber(*d);
  ExactNumber n;
  n.fraction_ = f;
  return n;
}

// Decimal op Decimal is Decimal arithmetic (its scale rules) while the result fits; a result that
// does not becomes the exact value (a Decimal at its smallest scale when it has one). Once either
// operand is a quotient, so is the result: a value that went through a division keeps no scale of
// its own, whichever path computed it (see the class comment).
ExactNumber ExactNumber::Combine(const ExactNumber& a, const ExactNumber& b, Fraction exact) {
  if (a.is_quotient() || b.is_quotient()) return Keep(std::move(exact));
  return Of(exact);
}

ExactNumber operator+(const ExactNumber& a, const ExactNumber& b) {
  Decimal r;
  if (a.is_decimal() && b.is_decimal() && Decimal::TryAdd(a.decimal_, b.decimal_, &r)) return r;
  return ExactNumber::Combine(a, b, a.exact() + b.exact());
}

ExactNumber operator-(const ExactNumber& a, const ExactNumber& b) {
  Decimal r;
  if (a.is_decimal() && b.is_decimal() && Decimal::TrySubtract(a.decimal_, b.decimal_, &r)) return r;
  return ExactNumber::Combine(a, b, a.exact() - b.exact());
}

ExactNumber operator*(const ExactNumber& a, const ExactNumber& b) {
  Decimal r;
  if (a.is_decimal() && b.is_decimal() && Decimal::TryMultiply(a.decimal_, b.decimal_, &r)) return r;
  return ExactNumber::Combine(a, b, a.exact() * b.exact());
}

ExactNumber ExactNumber::operator-() const {
  if (is_decimal()) return -decimal_;
  ExactNumber n;
  n.fraction_ = -*fraction_;
  n.quotient_ = quotient_;
  return n;
}

ExactNumber ExactNumber::Quotient(const ExactNumber& a, const ExactNumber& b) {
  return Keep(Fraction::Quotient(a.exact(), b.exact()));
}

int ExactNumber::Compare(const ExactNumber& a, const ExactNumber& b) {
  if (a.is_decimal() && b.is_decimal()) return Decimal::Compare(a.decimal_, b.decimal_);
  return Fraction::Compare(a.exact(), b.exact());
}

Decimal ExactNumber::Round(int scale, RoundingMode mode) const {
  if (!is_decimal()) return fraction_->Round(scale, mode);
  return RoundDecimal(decimal_, scale, mode);
}

Decimal RoundDecimal(const Decimal& x, int scale, RoundingMode mode) {
  if (scale <= x.scale() || x.digits() + (scale - x.scale()) <= Decimal::kMaxDigits) return x.Rescale(scale, mode);
  return Fraction(x).Round(scale, mode);  // more decimals than fit: the value as it is
}

Decimal ExactNumber::Shown(int min_scale) const {
  if (is_decimal()) {
    // At least `min_scale` decimals when they fit (trailing zeros: the value is the same).
    Decimal wider;
    if (min_scale > decimal_.scale() && Decimal::TryMultiply(decimal_, Decimal::FromParts(1, 0).Rescale(min_scale - decimal_.scale(), RoundingMode::kHalfEven), &wider) &&
        wider.scale() == min_scale) {
      return wider;
    }
    return decimal_;
  }
  if (std::optional<Decimal> d = fraction_->ToDecimal(min_scale)) return *d;
  if (std::optional<Decimal> d = fraction_->ToDecimal()) return *d;
  // Integer digits of |value|, to leave room for them.
  const Fraction::Integer whole = boost::multiprecision::abs(fraction_->numerator() / fraction_->denominator());
  const int digits = whole.is_zero() ? 1 : static_cast<int>(whole.str().size());
  if (digits > Decimal::kMaxDigits) {
    std::string value = fraction_->ToString();
    if (value.size() > 90) value = "of " + std::to_string(digits) + " integer digits";
    throw DecimalError(DecimalErrorKind::kOverflow, "the value " + value + " does not fit in 38 digits");
  }
  return fraction_->Round(std::max(0, std::min(kShownDecimals, Decimal::kMaxDigits - digits)), RoundingMode::kHalfEven);
}

std::string ExactNumber::ToString() const { return is_decimal() ? decimal_.ToString() : fraction_->ToString(); }

std::string ExactNumber::Describe() const { return is_decimal() ? decimal_.ToString() : fraction_->Describe(); }

}  // namespace tariff
