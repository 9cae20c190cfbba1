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

// Result of parsing text. On failure `value` is empty, `error_offset` is the byte offset in
// the input of the first offending character and `error` says what was expected there.
struct DecimalParseResult {
  std::optional<class Decimal> value;
  std::size_t error_offset = 0;
  std::string error;
};

// An exact signed decimal: |coefficient| < 10^38 and 0 <= scale <= 38.
//
// Guarantees:
// - Never rounds unless an operation takes a RoundingMode; add, subtract, multiply and
//   rescale-to-a-larger-scale are exact or throw DecimalError(kOverflow).
// - Scale is part of the value's representation (1.0 and 1.00 compare equal but format
//   differently), as in the General Decimal Arithmetic specification; results of add and
//   subtract take the larger scale, multiply the sum of scales.
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

  // Exact arithmetic; throws DecimalError(kOverflow) if the result does not fit.
  friend Decimal operator+(const Decimal& a, const Decimal& b);
  friend Decimal operator-(const Decimal& a, const Decimal& b);
  friend Decimal operator*(const Decimal& a, const Decimal& b);
  Decimal operator-() const;
  Decimal Abs() const;

  // Non-throwing forms for hot paths: return false (and leave *out unspecified) on overflow.
  static bool TryAdd(const Decimal& a, const Decimal& b, Decimal* out);
  static bool TrySubtract(const Decimal& a, const Decimal& b, Decimal* out);
  static bool TryMultiply(const Decimal& a, const Decimal& b, Decimal* out);

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
  // Rounds to at most `digits` significant digits (1..38), as the decTest `precision` does.
  // The scale shrinks by the number of digits dropped but never below 0; `*exponent_out`, when
  // given, receives the exponent the General Decimal Arithmetic result would have (which can be
  // positive for large values; the returned Decimal is then that value at scale 0).
  Decimal RoundToDigits(int digits, RoundingMode mode, int* exponent_out = nullptr) const;
  // Removes trailing fractional zeros (1.500 → 1.5, 2.00 → 2).
  Decimal Normalized() const;

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

  int128 coefficient_ = 0;
  std::uint8_t scale_ = 0;
};

// 10^n for 0 <= n <= 38.
uint128 PowerOfTen(int n);

}  // namespace tariff
