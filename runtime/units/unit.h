// runtime/units: dimensions, units, the plan's unit catalog and exact conversion between units.
// compiler/sema checks quantities and rates with it (through compiler/sema/units_adapter.h);
// the runtime converts with it; `tariff convert` is a thin wrapper around Convert.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace tariff {

// An exact positive rational number of the form 2^a · 3^b · 5^c · 7^d with integer (possibly
// negative) exponents: the factor of a unit relative to base units (GiB = 2^30, KB = 2^3·5^3,
// ms = 2^-3·5^-3, day = 2^7·3^3·5^2). Every factor a unit can have is of this form, so products
// and quotients of units are exact and can never overflow (only exponents are added), and
// whether a conversion terminates in decimal is a question about the exponents of 3 and 7.
class UnitScale {
 public:
  // The primes a scale is made of, in the order of exponents().
  static constexpr std::array<int, 4> kPrimes = {2, 3, 5, 7};

  // 1.
  constexpr UnitScale() = default;
  // 2^e[0] · 3^e[1] · 5^e[2] · 7^e[3].
  static constexpr UnitScale FromExponents(std::array<int, 4> e) {
    UnitScale s;
    s.exponents_ = e;
    return s;
  }
  // `numerator / denominator`; nullopt if either is 0 or has a prime factor other than 2, 3,
  // 5 and 7 (e.g. 11, 13: no unit has such a factor today).
  static std::optional<UnitScale> Fraction(std::uint64_t numerator, std::uint64_t denominator = 1);

  // Exponent of each prime in kPrimes.
  const std::array<int, 4>& exponents() const { return exponents_; }
  bool is_one() const { return exponents_ == std::array<int, 4>{}; }

  // The numerator and denominator in lowest terms, if each fits 128 bits (they always do for
  // single built-in units; a product such as PB·PB·PB does not).
  std::optional<uint128> Numerator() const;
  std::optional<uint128> Denominator() const;
  // "1073741824", "1/1000", "3600"; when a part does not fit 128 bits, prime powers instead
  // ("2^150·5^150").
  std::string ToString() const;

  friend UnitScale operator*(const UnitScale& a, const UnitScale& b);
  friend UnitScale operator/(const UnitScale& a, const UnitScale& b);
  // This scale raised to an integer power.
  UnitScale Pow(int exponent) const;
  friend bool operator==(const UnitScale& a, const UnitScale& b) = default;

 private:
  std::array<int, 4> exponents_{};
};

// The kinds of base dimension. Each declared count unit (`token`, `request`, `seat`) is its own
// base dimension of kind kCount, told apart by name: tokens never convert into requests.
enum class BaseDimensionKind : std::uint8_t {
  kInformation,  // base unit: the byte, B
  kTime,         // base unit: the second, s
  kCount,        // a plan-declared count unit; the unit is its own base
};

// One base dimension: information, time, or one count unit. Ordered (information < time <
// counts by name) so that dimensions have one canonical form.
struct BaseDimension {
  BaseDimensionKind kind = BaseDimensionKind::kCount;
  std::string count_unit;  // kCount only: the unit's name; empty otherwise

  static BaseDimension Information() { return {BaseDimensionKind::kInformation, {}}; }
  static BaseDimension Time() { return {BaseDimensionKind::kTime, {}}; }
  static BaseDimension Count(std::string unit) { return {BaseDimensionKind::kCount, std::move(unit)}; }
  // "information", "time", or the count unit's name ("token").
  std::string Name() const;
  friend auto operator<=>(const BaseDimension& a, const BaseDimension& b) = default;
  friend bool operator==(const BaseDimension& a, const BaseDimension& b) = default;
};

// A product of base dimensions with non-zero integer exponents, in canonical order:
// information·time (GB·h), information/time (B/s), request/time, or dimensionless (no term).
// Two units convert into each other exactly when their dimensions are equal.
class Dimension {
 public:
  // Dimensionless.
  Dimension() = default;
  explicit Dimension(BaseDimension base) { terms_.emplace_back(std::move(base), 1); }

  // (base, exponent) pairs sorted by base, every exponent non-zero.
  const std::vector<std::pair<BaseDimension, int>>& terms() const { return terms_; }
  bool is_dimensionless() const { return terms_.empty(); }
  // How messages name it: "information", "time", "token", "information·time",
  // "information/time", "1/time", "time·time", "dimensionless". Same spelling rules as
  // Unit::Name (see there).
  std::string Name() const;

  friend Dimension operator*(const Dimension& a, const Dimension& b);
  friend Dimension operator/(const Dimension& a, const Dimension& b);
  friend bool operator==(const Dimension& a, const Dimension& b) = default;

 private:
  std::vector<std::pair<BaseDimension, int>> terms_;
};

// One named factor of a unit as it was written: `GB` (exponent 1) and `h` (exponent 1) in
// `GB·h`; `s` with exponent -1 in `B/s`. `base` and `scale` describe one `name`.
struct UnitFactor {
  std::string name;
  int exponent = 1;
  BaseDimension base;
  UnitScale scale;
  friend bool operator==(const UnitFactor& a, const UnitFactor& b) = default;
};

// A unit: named factors with integer exponents, from which follow its dimension and its exact
// scale relative to base units (B, s, and each count unit).
//
// Guarantees:
// - Value type: copyable, comparable, no reference to the catalog it came from.
// - Factors keep the order in which they were first written; multiplying or dividing merges a
//   factor with an existing one of the same name (GB·h / h = GB) and drops exponents that
//   reach zero. Factors of different names are never merged, even of one dimension: MB·GB
//   stays MB·GB (information·information, scale 10^15).
// - Unit::Name prints a unit so that it reads back as the same unit in a plan's unit
//   expression (`quantity of …`, `per …`): factors with positive exponents joined by `·`, then
//   `/` before each factor with a negative exponent, a factor repeated |exponent| times
//   (`GB·h`, `B/s`, `request/s`, `B/s/s`, `GB·GB`). A unit with no positive factor starts with
//   `1` (`1/s`, which the plan language cannot write); the dimensionless unit is `1`.
class Unit {
 public:
  // Dimensionless, scale 1, no factors (prints as `1`).
  Unit() = default;
  // A unit of one name: Named("GiB", BaseDimension::Information(), 2^30).
  static Unit Named(std::string name, BaseDimension base, UnitScale scale);

  const std::vector<UnitFactor>& factors() const { return factors_; }
  const Dimension& dimension() const { return dimension_; }
  // 1 of this unit in base units: 1073741824 for GiB, 3600 for h, 3.6·10^12 for GB·h.
  const UnitScale& scale() const { return scale_; }
  bool is_dimensionless() const { return dimension_.is_dimensionless(); }
  std::string Name() const;

  friend Unit operator*(const Unit& a, const Unit& b);
  friend Unit operator/(const Unit& a, const Unit& b);
  // Same factors, in the same order, with the same exponents (GB·h == GB·h; h·GB differs).
  friend bool operator==(const Unit& a, const Unit& b) { return a.factors_ == b.factors_; }
  // Same dimension and scale: 1 of one is exactly 1 of the other (h·GB and GB·h; KB·MB and
  // B·GB).
  bool EquivalentTo(const Unit& other) const {
    return dimension_ == other.dimension_ && scale_ == other.scale_;
  }

 private:
  void Merge(const Unit& other, int sign);

  std::vector<UnitFactor> factors_;
  Dimension dimension_;
  UnitScale scale_;
};

// A unit the language defines, for tables and tests.
struct BuiltinUnit {
  std::string_view name;   // "GiB"
  BaseDimensionKind kind;  // kInformation or kTime
  UnitScale scale;         // in bytes or seconds
};

// Every built-in unit, in the order the docs list them: B KB MB GB TB PB (powers of 1000),
// KiB MiB GiB TiB PiB (powers of 1024), bit Kbit Mbit Gbit Tbit (1/8 B, then powers of 1000),
// ms s min h day (1/1000, 1, 60, 3600, 86400 s). There is no month or year: their length
// varies, so they are periods, not units. `day` is exactly 86400 s (no leap seconds, no DST).
std::span<const BuiltinUnit> BuiltinUnits();
// True if `name` is a built-in unit (case-sensitive: `gb` is not, `Mbit` is, `mbit` is not).
bool IsBuiltinUnitName(std::string_view name);

// The units one plan can use: the built-ins and the count units the plan declares.
// A value type: copyable, cheap (it stores only the declared names), default-constructed with
// the built-ins and no count unit.
class UnitCatalog {
 public:
  UnitCatalog() = default;

  // The unit called `name` (one name, not an expression), or nullopt.
  std::optional<Unit> Lookup(std::string_view name) const;
  // Declares a count unit `name`, its own dimension with scale 1. Returns false and changes
  // nothing if `name` is already a unit here (built-in or declared) or cannot be a unit name
  // (empty, or containing a space, `·`, `*`, `/`, `^` or a digit first).
  bool DeclareCount(std::string_view name);
  bool IsDeclared(std::string_view name) const;
  // Every unit name, built-ins first (in BuiltinUnits order) then declared units in
  // declaration order; for "did you mean" hints.
  std::vector<std::string> Names() const;

  // Reads a unit expression as the plan language writes it in a type or after `per`: names
  // joined by `*` or `·` (multiply) and `/` (divide), left to right: `GB`, `GB*h`, `GB·h`,
  // `B/s`, `request/s`. Spaces around operators are allowed. On failure returns nullopt and,
  // if `unknown` is given, stores the first name that is not a unit (empty if the text is
  // malformed instead: empty, `GB*`, `*h`).
  std::optional<Unit> Parse(std::string_view text, std::string* unknown = nullptr) const;

 private:
  std::vector<std::string> declared_;
};

// Why a conversion has no result.
enum class ConversionError : std::uint8_t {
  kIncompatible,    // the two units have different dimensions (GB and h; token and request)
  kNotTerminating,  // the exact result has no finite decimal form (1 min in h = 1/60 h)
  kOverflow,        // the exact result needs more than 38 digits or a scale above 38
};

// The exact value of a non-terminating result: numerator / denominator in lowest terms
// (denominator > 1, sign on the numerator).
struct ExactFraction {
  int128 numerator = 0;
  uint128 denominator = 1;
  // "1/60", "-7/600".
  std::string ToString() const;
};

// The outcome of Convert / ConvertRounded: a value, or why there is none.
struct Conversion {
  std::optional<Decimal> value;
  ConversionError error = ConversionError::kIncompatible;  // meaningful only without a value
  // kNotTerminating: the exact result, when numerator and denominator fit 128 bits.
  std::optional<ExactFraction> fraction;

  bool ok() const { return value.has_value(); }
};

// from.scale / to.scale: 1 `from` in `to` (GiB → MB: 1073741824/1000000); nullopt if the
// dimensions differ.
std::optional<UnitScale> ConversionFactor(const Unit& from, const Unit& to);

// `value` in `from`, expressed exactly in `to`, never rounded.
// - Dimensions differ → kIncompatible.
// - The exact result does not terminate in decimal (its reduced denominator has a prime factor
//   other than 2 and 5, e.g. 1 min → h = 1/60) → kNotTerminating, with the exact fraction.
// - It needs more than 38 digits or 38 decimals → kOverflow.
// Otherwise the value, at the smallest scale that is >= value.scale() and holds it exactly:
// 1.5 GiB → 1610.612736 MB, 90 min → 1.5 h, 2 h → 120 min, 2.00 h → 120.00 min (the written
// precision is kept, no digit is invented). Zero converts to zero at value's scale.
Conversion Convert(const Decimal& value, const Unit& from, const Unit& to);

// The same, rounded once with `mode` to exactly `scale` decimals (0..38); used only where a
// plan asks for rounding. Never kNotTerminating; kIncompatible and kOverflow as for Convert
// (kOverflow also when the exact fraction's numerator or denominator exceeds 38 digits, even
// if the rounded value would fit). A scale outside 0..38 throws DecimalError(kScaleOutOfRange).
Conversion ConvertRounded(const Decimal& value, const Unit& from, const Unit& to, int scale, RoundingMode mode);

}  // namespace tariff
