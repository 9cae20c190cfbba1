// runtime/decimal: the exact number at the bottom of every money and quantity path.
// A Decimal is a signed 128-bit coefficient with a decimal scale: value = coefficient × 10^-scale.
// Written by hand (not a library) because no Debian library gives exact fixed-point decimal at
// int128 speed with the rounding modes billing needs; see docs/decimal.md.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tariff {

using int128 = __int128;
using uint128 = unsigned __int128;

// How a value that does not fit the target scale is brought to it. Names follow the plan
// language (`half_even`, …) and IEEE 754 / the General Decimal Arithmetic specification.
enum class RoundingMode : std::uint8_t {
  kHalfEven,    // ties to the even neighbour (banker's rounding)
  kHalfUp,      // ties away from zero
  kHalfDown,    // ties towards zero
  kUp,          // away from zero
  kDown,        // towards zero (truncate)
  kCeiling,     // towards +infinity
  kFloor,       // towards -infinity
  kZeroFiveUp,  // towards zero, unless that would leave 0 or 5 as the last digit; then away
};

// The plan-language spelling of a mode (`half_even`, `half_up`, …, `05up`).
std::string_view RoundingModeName(RoundingMode mode);
// Parses a plan-language spelling; nullopt if it names no mode.
std::optional<RoundingMode> ParseRoundingMode(std::string_view name);

// What went wrong in a Decimal operation.
enum class DecimalErrorKind : std::uint8_t {
  kOverflow,        // the exact (or rounded) result needs more than 38 digits
  kDivisionByZero,  // divisor is zero
  kScaleOutOfRange, // a scale outside [0, kMaxScale] was asked for
  kParse,           // text is not a decimal number
};

// Thrown by the throwing operations below. Carries the kind and a message; callers higher up
// (the interpreter) catch it and add the plan line that caused it.
class DecimalError : public std::runtime_error {
 public:
  DecimalError(DecimalErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  DecimalErrorKind kind() const { return kind_; }

 private:
  DecimalErrorKind kind_;
};

// Result of Decimal::Parse; defined below the class (it holds a Decimal).
struct DecimalParseResult;

// An exact signed decimal: |coefficient| < 10^38 and 0 <= scale <= 38.
//
// Guarantees:
// - Never rounds unless an operation takes a RoundingMode; add, subtract, multiply and
//   rescale-to-a-larger-scale are exact or throw DecimalError(kOverflow).
// - Scale is part of the value's representation (1.0 and 1.00 compare equal but format
//   differently), as in the General Decimal Arithmetic specification; results of add and
//   subtract take the larger scale, multiply the sum of scales. Only when the exact result does
//   not fit at that scale (more than 38 digits, or a product scale above 38) but would at a
//   smaller one because the digits dropped are trailing zeros, the largest scale that fits is
//   used instead (9.99…9 [38 digits] + 0.00…1 = 10.00…0 at one scale less); the value is still
//   exact, and only when no scale holds it is kOverflow thrown.
// - Trivially copyable; 32 bytes with alignment. Hot loops in the engine should work on raw
//   int64/int128 columns with a scale fixed at compile time; this class is the reference.
class Decimal {
 public:
  static constexpr int kMaxDigits = 38;
  static constexpr int kMaxScale = 38;

  // Zero with scale 0.
  constexpr Decimal() = default;
  // An integer (scale 0).
  constexpr Decimal(std::int64_t value) : coefficient_(value), scale_(0) {}  // NOLINT: implicit on purpose

  // coefficient × 10^-scale. Throws kOverflow if |coefficient| >= 10^38, kScaleOutOfRange if
  // scale is outside [0, 38].
  static Decimal FromParts(int128 coefficient, int scale);

  // Parses `[+-]digits[.digits][(e|E)[+-]digits]`. Underscores between digits are allowed as
  // separators (`1_000_000`), as in the plan language. An exponent is accepted and folded into
  // the scale (`1e-3` = 0.001, `1.5E+2` = 150); the result must have scale in [0, 38] and at
  // most 38 digits, otherwise the parse fails (no silent rounding). Leading/trailing spaces,
  // empty text, `.5`, `5.`, `inf`, `nan`, hex and any other text fail with the offset of the
  // first bad byte.
  static DecimalParseResult Parse(std::string_view text);
  // Parse, throwing DecimalError(kParse) with the offset in the message.
  static Decimal FromString(std::string_view text);

  int128 coefficient() const { return coefficient_; }
  int scale() const { return scale_; }
  bool is_zero() const { return coefficient_ == 0; }
  bool is_negative() const { return coefficient_ < 0; }
  // -1, 0 or 1.
  int sign() const { return (coefficient_ > 0) - (coefficient_ < 0); }
  // Number of digits in the coefficient (1 for zero).
  int digits() const;

  // Canonical text: plain notation, never an exponent, exactly `scale` digits after the point,
  // a leading `-` for negatives (zero is never negative: -0.00 prints 0.00). Round-trips
  // through Parse to an identical (coefficient, scale).
  std::string ToString() const;

  // Exact arithmetic; throws DecimalError(kOverflow) if the result does not fit (the scale of
  // the result is described in the class comment).
  // Inline fast paths: add/subtract at equal scales, or at scales up to 18 apart when the
  // coefficient to be scaled fits in int64; multiply of int64-sized coefficients. Everything
  // else goes out of line.
  friend Decimal operator+(const Decimal& a, const Decimal& b) {
    Decimal r;
    if (!(FastAddAny(a, b.coefficient_, b.scale_, &r) || TryAddGeneral(a, b, &r))) ThrowOverflow("sum", " + ", a, b);
    return r;
  }
  friend Decimal operator-(const Decimal& a, const Decimal& b) {
    Decimal r;
    if (!(FastAddAny(a, -b.coefficient_, b.scale_, &r) || TryAddGeneral(a, -b, &r))) {
      ThrowOverflow("difference", " - ", a, b);
    }
    return r;
  }
  friend Decimal operator*(const Decimal& a, const Decimal& b) {
    Decimal r;
    if (!(FastMultiply(a, b, &r) || TryMultiplyGeneral(a, b, &r))) ThrowOverflow("product", " * ", a, b);
    return r;
  }
  Decimal operator-() const;
  Decimal Abs() const;

  // Non-throwing forms for hot paths: return false (and leave *out unspecified) on overflow.
  // Same results as the operators. Values whose coefficients fit in int64 take a fast path.
  static bool TryAdd(const Decimal& a, const Decimal& b, Decimal* out) {
    if (a.scale_ == b.scale_ && FastAdd(a.coefficient_, b.coefficient_, a.scale_, out)) return true;
    return (a.scale_ != b.scale_ && FastAddMixed(a, b.coefficient_, b.scale_, out)) || TryAddGeneral(a, b, out);
  }
  static bool TrySubtract(const Decimal& a, const Decimal& b, Decimal* out) {
    if (a.scale_ == b.scale_ && FastAdd(a.coefficient_, -b.coefficient_, a.scale_, out)) return true;
    return (a.scale_ != b.scale_ && FastAddMixed(a, -b.coefficient_, b.scale_, out)) || TryAddGeneral(a, -b, out);
  }
  static bool TryMultiply(const Decimal& a, const Decimal& b, Decimal* out) {
    return FastMultiply(a, b, out) || TryMultiplyGeneral(a, b, out);
  }

  // a × b rounded once to `scale` with `mode` (the exact product is formed in 256 bits, so an
  // intermediate wider than 38 digits is fine as long as the rounded result fits).
  static Decimal MultiplyRounded(const Decimal& a, const Decimal& b, int scale, RoundingMode mode);
  // a ÷ b rounded once to `scale` with `mode`. Throws kDivisionByZero, kOverflow.
  static Decimal Divide(const Decimal& a, const Decimal& b, int scale, RoundingMode mode);

  // a ÷ b exactly, when the quotient terminates within 38 digits and scale 38 (e.g. 1 ÷ 1024);
  // the result has the smallest scale >= max(a.scale - b.scale, 0) that holds it exactly.
  // Returns false for a non-terminating quotient (1 ÷ 3) or one that does not fit; throws
  // kDivisionByZero for b == 0.
  static bool TryDivideExact(const Decimal& a, const Decimal& b, Decimal* out);

  // The same value at another scale: exact when scale >= this scale (throws kOverflow if the
  // coefficient no longer fits), otherwise rounded with `mode`.
  Decimal Rescale(int scale, RoundingMode mode) const;
  // Rounds once to at most `digits` significant digits (1..38, else kScaleOutOfRange), as the
  // decTest `precision` does; a value that already fits (zero included) is returned as is.
  // The scale shrinks by the number of digits dropped but never below 0; `*exponent_out`, when
  // given, receives the exponent the General Decimal Arithmetic result would have (which can be
  // positive for large values; the returned Decimal is then that value at scale 0). Throws
  // kOverflow if rounding up passes 10^38 (99…9 to 1 digit).
  Decimal RoundToDigits(int digits, RoundingMode mode, int* exponent_out = nullptr) const;
  // Removes trailing fractional zeros (1.500 → 1.5, 2.00 → 2).
  Decimal Normalized() const;

  // Precision ("context") forms of the General Decimal Arithmetic / IEEE 754 decimal operations,
  // used for significant-digit rounding and by the decTest conformance runner (tools/dectest).
  // Each forms the exact result in 256 bits (so it may be far wider than 38 digits, e.g.
  // 1E+30 + 1E-30 or a 76-digit product), rounds it ONCE to at most `digits` (1..38) significant
  // digits with `mode`, and returns it as RoundToDigits does: `*exponent_out` receives the
  // specification's exponent of the result (-scale, or positive for values rounded to tens,
  // hundreds, …, which are then returned at scale 0). An unrounded result keeps the exponent the
  // specification gives it (the smaller operand exponent for add, the sum for multiply).
  // Throw kOverflow if the rounded value has more than 38 integer digits and kScaleOutOfRange if
  // the result's exponent is below -38 (the value would need scale > 38).
  static Decimal AddToDigits(const Decimal& a, const Decimal& b, int digits, RoundingMode mode,
                             int* exponent_out = nullptr);
  static Decimal MultiplyToDigits(const Decimal& a, const Decimal& b, int digits, RoundingMode mode,
                                  int* exponent_out = nullptr);
  // As above for a ÷ b: a quotient that does not terminate within `digits` digits is rounded to
  // exactly `digits` digits; an exact one takes the exponent closest to the ideal exponent
  // (b.scale − a.scale) that holds it in at most `digits` digits, as the specification says.
  // Throws kDivisionByZero for b == 0.
  static Decimal DivideToDigits(const Decimal& a, const Decimal& b, int digits, RoundingMode mode,
                                int* exponent_out = nullptr);

  // Numeric comparison, independent of scale (1.0 == 1.00).
  friend bool operator==(const Decimal& a, const Decimal& b) { return Compare(a, b) == 0; }
  friend std::strong_ordering operator<=>(const Decimal& a, const Decimal& b) {
    int c = Compare(a, b);
    return c < 0 ? std::strong_ordering::less
                 : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
  }
  static int Compare(const Decimal& a, const Decimal& b);
  // Same coefficient and same scale (1.0 and 1.00 differ).
  bool IdenticalTo(const Decimal& other) const {
    return coefficient_ == other.coefficient_ && scale_ == other.scale_;
  }

 private:
  constexpr Decimal(int128 coefficient, std::uint8_t scale, int /*unchecked*/)
      : coefficient_(coefficient), scale_(scale) {}

  // 10^38 − 1, the largest coefficient.
  static constexpr uint128 kMaxCoefficient =
      static_cast<uint128>(10000000000000000000ULL) * 10000000000000000000ULL - 1;
  // |c| <= kMaxCoefficient, in one unsigned comparison.
  static constexpr bool InRange(int128 c) {
    return static_cast<uint128>(c) + kMaxCoefficient <= 2 * kMaxCoefficient;
  }
  // 10^0 … 10^18, the factors an int64 can be scaled by without leaving int128.
  static constexpr std::int64_t kSmallPowers[19] = {1,
                                                    10,
                                                    100,
                                                    1000,
                                                    10000,
                                                    100000,
                                                    1000000,
                                                    10000000,
                                                    100000000,
                                                    1000000000,
                                                    10000000000,
                                                    100000000000,
                                                    1000000000000,
                                                    10000000000000,
                                                    100000000000000,
                                                    1000000000000000,
                                                    10000000000000000,
                                                    100000000000000000,
                                                    1000000000000000000};
  // x + y at `scale` when it fits; false sends the caller to the general path.
  static bool FastAdd(int128 x, int128 y, std::uint8_t scale, Decimal* out) {
    int128 sum;
    if (__builtin_add_overflow(x, y, &sum) || !InRange(sum)) return false;
    *out = Decimal(sum, scale, 0);
    return true;
  }
  // a + (y at scale y_scale) for different scales at most 18 apart, when the coefficient to be
  // scaled fits in int64 (so |scaled| < 2^123); false sends the caller to the general path.
  static bool FastAddMixed(const Decimal& a, int128 y, std::uint8_t y_scale, Decimal* out) {
    int128 x = a.coefficient_;
    std::uint8_t scale = a.scale_;
    if (a.scale_ < y_scale) {
      const int d = y_scale - a.scale_;
      if (d > 18 || x != static_cast<std::int64_t>(x)) return false;
      x = static_cast<int128>(static_cast<std::int64_t>(x)) * kSmallPowers[d];
      scale = y_scale;
    } else {
      const int d = a.scale_ - y_scale;
      if (d > 18 || y != static_cast<std::int64_t>(y)) return false;
      y = static_cast<int128>(static_cast<std::int64_t>(y)) * kSmallPowers[d];
    }
    return FastAdd(x, y, scale, out);
  }
  // Either of the above.
  static bool FastAddAny(const Decimal& a, int128 y, std::uint8_t y_scale, Decimal* out) {
    return a.scale_ == y_scale ? FastAdd(a.coefficient_, y, y_scale, out) : FastAddMixed(a, y, y_scale, out);
  }
  // a × b when both coefficients fit in int64 (one 64×64→128 multiply, which cannot overflow
  // int128) and the product fits at the summed scale.
  static bool FastMultiply(const Decimal& a, const Decimal& b, Decimal* out) {
    const int scale = a.scale_ + b.scale_;
    if (scale > kMaxScale || a.coefficient_ != static_cast<std::int64_t>(a.coefficient_) ||
        b.coefficient_ != static_cast<std::int64_t>(b.coefficient_)) {
      return false;
    }
    const int128 p = static_cast<int128>(static_cast<std::int64_t>(a.coefficient_)) *
                     static_cast<std::int64_t>(b.coefficient_);
    if (!InRange(p)) return false;
    *out = Decimal(p, static_cast<std::uint8_t>(scale), 0);
    return true;
  }
  // The general (out-of-line) forms: any scales, 256-bit slow path, trailing-zero fitting.
  static bool TryAddGeneral(const Decimal& a, const Decimal& b, Decimal* out);
  static bool TryMultiplyGeneral(const Decimal& a, const Decimal& b, Decimal* out);
  [[noreturn]] static void ThrowOverflow(const char* what, const char* op, const Decimal& a, const Decimal& b);

  int128 coefficient_ = 0;
  std::uint8_t scale_ = 0;
};

// Result of parsing text. On failure `value` is empty, `error_offset` is the byte offset in
// the input of the first offending character and `error` says what was expected there (or, for
// a well-formed number out of range, which limit it passes).
struct DecimalParseResult {
  std::optional<Decimal> value;
  std::size_t error_offset = 0;
  std::string error;
};

// 10^n for 0 <= n <= 38; throws kScaleOutOfRange for any other n.
uint128 PowerOfTen(int n);

}  // namespace tariff
