// runtime/units: unit algebra, the built-in catalog, unit expressions and exact conversion.
#include "runtime/units/unit.h"

#include <algorithm>
#include <map>

namespace tariff {
namespace {

constexpr std::size_t kTwo = 0, kThree = 1, kFive = 2, kSeven = 3;

constexpr UnitScale Scale(int two, int three, int five, int seven = 0) {
  return UnitScale::FromExponents({two, three, five, seven});
}

// 1000^n = 2^3n·5^3n, 1024^n = 2^10n.
constexpr UnitScale Thousand(int n) { return Scale(3 * n, 0, 3 * n); }
constexpr UnitScale Kibi(int n) { return Scale(10 * n, 0, 0); }

using K = BaseDimensionKind;
constexpr BuiltinUnit kBuiltins[] = {
    {"B", K::kInformation, Thousand(0)},
    {"KB", K::kInformation, Thousand(1)},
    {"MB", K::kInformation, Thousand(2)},
    {"GB", K::kInformation, Thousand(3)},
    {"TB", K::kInformation, Thousand(4)},
    {"PB", K::kInformation, Thousand(5)},
    {"KiB", K::kInformation, Kibi(1)},
    {"MiB", K::kInformation, Kibi(2)},
    {"GiB", K::kInformation, Kibi(3)},
    {"TiB", K::kInformation, Kibi(4)},
    {"PiB", K::kInformation, Kibi(5)},
    {"bit", K::kInformation, Scale(-3, 0, 0)},  // 1/8 B
    {"Kbit", K::kInformation, Scale(0, 0, 3)},  // 1000/8 = 125 B
    {"Mbit", K::kInformation, Scale(3, 0, 6)},  // 125000 B
    {"Gbit", K::kInformation, Scale(6, 0, 9)},
    {"Tbit", K::kInformation, Scale(9, 0, 12)},
    {"ms", K::kTime, Scale(-3, 0, -3)},
    {"s", K::kTime, Scale(0, 0, 0)},
    {"min", K::kTime, Scale(2, 1, 1)},   // 60
    {"h", K::kTime, Scale(4, 2, 2)},     // 3600
    {"day", K::kTime, Scale(7, 3, 2)},   // 86400
};

const BuiltinUnit* FindBuiltin(std::string_view name) {
  for (const BuiltinUnit& u : kBuiltins) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

BaseDimension BaseOf(BaseDimensionKind kind) {
  return kind == K::kInformation ? BaseDimension::Information() : BaseDimension::Time();
}

// Multiplies *v by p^e (e >= 0); false on overflow of 128 bits.
bool MultiplyPower(uint128* v, uint128 p, int e) {
  for (int i = 0; i < e; ++i) {
    if (__builtin_mul_overflow(*v, p, v)) return false;
  }
  return true;
}

// "a·b/c/c": the shared spelling of units and dimensions.
std::string JoinFactors(const std::vector<std::pair<std::string, int>>& factors, const char* empty) {
  if (factors.empty()) return empty;
  std::string numerator, denominator;
  for (const auto& [name, exponent] : factors) {
    for (int i = 0; i < exponent; ++i) {
      if (!numerator.empty()) numerator.append("·");
      numerator.append(name);
    }
    for (int i = 0; i < -exponent; ++i) denominator.append("/").append(name);
  }
  // (Built by append rather than `a + b`: GCC 12 -O3 reports a false -Wrestrict otherwise.)
  return numerator.empty() ? std::string("1").append(denominator) : numerator.append(denominator);
}

std::string ToDecimalString(uint128 v) {
  if (v == 0) return "0";
  std::string digits;
  while (v != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return {digits.rbegin(), digits.rend()};
}

bool IsUnitNameChar(std::string_view text, std::size_t i) {
  char c = text[i];
  if (c == ' ' || c == '*' || c == '/' || c == '^') return false;
  return !(static_cast<unsigned char>(c) == 0xC2 && i + 1 < text.size() &&
           static_cast<unsigned char>(text[i + 1]) == 0xB7);  // `·` in UTF-8
}

// The exact converted value as sign · rest · Π primes^exponents, rest coprime to 2, 3, 5, 7.
struct Factored {
  bool negative = false;
  uint128 rest = 0;
  std::array<int, 4> exponents{};
};

Factored FactorConversion(const Decimal& value, const UnitScale& ratio) {
  Factored f;
  f.negative = value.is_negative();
  int128 c = value.coefficient();
  f.rest = c < 0 ? uint128(0) - static_cast<uint128>(c) : static_cast<uint128>(c);
  for (std::size_t i = 0; i < UnitScale::kPrimes.size(); ++i) {
    uint128 p = static_cast<uint128>(UnitScale::kPrimes[i]);
    while (f.rest % p == 0) {
      f.rest /= p;
      ++f.exponents[i];
    }
    f.exponents[i] += ratio.exponents()[i];
  }
  f.exponents[kTwo] -= value.scale();  // × 10^-scale
  f.exponents[kFive] -= value.scale();
  return f;
}

// The value as a fraction P/Q of integers (P = rest · primes with positive exponents); false if
// either does not fit 128 bits.
bool AsFraction(const Factored& f, uint128* numerator, uint128* denominator) {
  *numerator = f.rest;
  *denominator = 1;
  for (std::size_t i = 0; i < UnitScale::kPrimes.size(); ++i) {
    uint128 p = static_cast<uint128>(UnitScale::kPrimes[i]);
    int e = f.exponents[i];
    if (!MultiplyPower(e > 0 ? numerator : denominator, p, e > 0 ? e : -e)) return false;
  }
  return true;
}

Conversion Failure(ConversionError error) {
  Conversion c;
  c.error = error;
  return c;
}

Conversion Success(Decimal value) {
  Conversion c;
  c.value = value;
  return c;
}

}  // namespace

// ---- UnitScale ------------------------------------------------------------------------------

std::optional<UnitScale> UnitScale::Fraction(std::uint64_t numerator, std::uint64_t denominator) {
  if (numerator == 0 || denominator == 0) return std::nullopt;
  UnitScale s;
  for (std::size_t i = 0; i < kPrimes.size(); ++i) {
    std::uint64_t p = static_cast<std::uint64_t>(kPrimes[i]);
    for (; numerator % p == 0; numerator /= p) ++s.exponents_[i];
    for (; denominator % p == 0; denominator /= p) --s.exponents_[i];
  }
  if (numerator != 1 || denominator != 1) return std::nullopt;
  return s;
}

std::optional<uint128> UnitScale::Numerator() const {
  uint128 v = 1;
  for (std::size_t i = 0; i < kPrimes.size(); ++i) {
    if (exponents_[i] > 0 && !MultiplyPower(&v, static_cast<uint128>(kPrimes[i]), exponents_[i])) return std::nullopt;
  }
  return v;
}

std::optional<uint128> UnitScale::Denominator() const {
  uint128 v = 1;
  for (std::size_t i = 0; i < kPrimes.size(); ++i) {
    if (exponents_[i] < 0 && !MultiplyPower(&v, static_cast<uint128>(kPrimes[i]), -exponents_[i])) return std::nullopt;
  }
  return v;
}

std::string UnitScale::ToString() const {
  std::optional<uint128> n = Numerator(), d = Denominator();
  if (n && d) {
    std::string text = ToDecimalString(*n);
    if (*d != 1) text.append("/").append(ToDecimalString(*d));
    return text;
  }
  std::string num, den;
  for (std::size_t i = 0; i < kPrimes.size(); ++i) {
    int e = exponents_[i];
    if (e == 0) continue;
    std::string& side = e > 0 ? num : den;
    if (!side.empty()) side.append("·");
    side.append(std::to_string(kPrimes[i])).append("^").append(std::to_string(e > 0 ? e : -e));
  }
  std::string text = num.empty() ? std::string("1") : num;
  if (!den.empty()) text.append("/").append(den);
  return text;
}

UnitScale operator*(const UnitScale& a, const UnitScale& b) {
  UnitScale r = a;
  for (std::size_t i = 0; i < r.exponents_.size(); ++i) r.exponents_[i] += b.exponents_[i];
  return r;
}

UnitScale operator/(const UnitScale& a, const UnitScale& b) {
  UnitScale r = a;
  for (std::size_t i = 0; i < r.exponents_.size(); ++i) r.exponents_[i] -= b.exponents_[i];
  return r;
}

UnitScale UnitScale::Pow(int exponent) const {
  UnitScale r = *this;
  for (int& e : r.exponents_) e *= exponent;
  return r;
}

// ---- dimensions -----------------------------------------------------------------------------

std::string BaseDimension::Name() const {
  switch (kind) {
    case BaseDimensionKind::kInformation: return "information";
    case BaseDimensionKind::kTime: return "time";
    case BaseDimensionKind::kCount: return count_unit;
  }
  return count_unit;
}

Dimension operator*(const Dimension& a, const Dimension& b) {
  std::map<BaseDimension, int> terms(a.terms_.begin(), a.terms_.end());
  for (const auto& [base, exponent] : b.terms_) terms[base] += exponent;
  Dimension r;
  for (const auto& [base, exponent] : terms) {
    if (exponent != 0) r.terms_.emplace_back(base, exponent);
  }
  return r;
}

Dimension operator/(const Dimension& a, const Dimension& b) {
  Dimension inverse = b;
  for (auto& term : inverse.terms_) term.second = -term.second;
  return a * inverse;
}

std::string Dimension::Name() const {
  std::vector<std::pair<std::string, int>> named;
  for (const auto& [base, exponent] : terms_) named.emplace_back(base.Name(), exponent);
  return JoinFactors(named, "dimensionless");
}

// ---- units ----------------------------------------------------------------------------------

Unit Unit::Named(std::string name, BaseDimension base, UnitScale scale) {
  Unit u;
  u.dimension_ = Dimension(base);
  u.scale_ = scale;
  u.factors_.push_back(UnitFactor{std::move(name), 1, std::move(base), scale});
  return u;
}

void Unit::Merge(const Unit& other, int sign) {
  for (const UnitFactor& f : other.factors_) {
    auto it = std::find_if(factors_.begin(), factors_.end(), [&](const UnitFactor& g) { return g.name == f.name; });
    if (it == factors_.end()) {
      factors_.push_back(f);
      factors_.back().exponent = sign * f.exponent;
    } else if ((it->exponent += sign * f.exponent) == 0) {
      factors_.erase(it);
    }
  }
  dimension_ = Dimension();
  scale_ = UnitScale();
  for (const UnitFactor& f : factors_) {
    Dimension d(f.base);
    for (int i = 0; i < (f.exponent > 0 ? f.exponent : -f.exponent); ++i) {
      dimension_ = f.exponent > 0 ? dimension_ * d : dimension_ / d;
    }
    scale_ = scale_ * f.scale.Pow(f.exponent);
  }
}

Unit operator*(const Unit& a, const Unit& b) {
  Unit r = a;
  r.Merge(b, 1);
  return r;
}

Unit operator/(const Unit& a, const Unit& b) {
  Unit r = a;
  r.Merge(b, -1);
  return r;
}

std::string Unit::Name() const {
  std::vector<std::pair<std::string, int>> named;
  for (const UnitFactor& f : factors_) named.emplace_back(f.name, f.exponent);
  return JoinFactors(named, "1");
}

// ---- catalog --------------------------------------------------------------------------------

std::span<const BuiltinUnit> BuiltinUnits() { return kBuiltins; }

bool IsBuiltinUnitName(std::string_view name) { return FindBuiltin(name) != nullptr; }

std::optional<Unit> UnitCatalog::Lookup(std::string_view name) const {
  if (const BuiltinUnit* b = FindBuiltin(name)) return Unit::Named(std::string(name), BaseOf(b->kind), b->scale);
  if (IsDeclared(name)) return Unit::Named(std::string(name), BaseDimension::Count(std::string(name)), UnitScale());
  return std::nullopt;
}

bool UnitCatalog::IsDeclared(std::string_view name) const {
  return std::find(declared_.begin(), declared_.end(), name) != declared_.end();
}

bool UnitCatalog::DeclareCount(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!IsUnitNameChar(name, i)) return false;
  }
  if (IsBuiltinUnitName(name) || IsDeclared(name)) return false;
  declared_.emplace_back(name);
  return true;
}

std::vector<std::string> UnitCatalog::Names() const {
  std::vector<std::string> names;
  for (const BuiltinUnit& b : kBuiltins) names.emplace_back(b.name);
  names.insert(names.end(), declared_.begin(), declared_.end());
  return names;
}

std::optional<Unit> UnitCatalog::Parse(std::string_view text, std::string* unknown) const {
  if (unknown != nullptr) unknown->clear();
  Unit result;
  int sign = 1;
  bool expect_name = true;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    if (!IsUnitNameChar(text, i) || text[i] == '^') {
      if (expect_name || text[i] == '^') return std::nullopt;  // operator where a name belongs
      sign = text[i] == '/' ? -1 : 1;
      i += text[i] == '*' || text[i] == '/' ? 1 : 2;         // `·` is two bytes
      expect_name = true;
      continue;
    }
    if (!expect_name) return std::nullopt;  // two names in a row: `GB h`
    std::size_t start = i;
    while (i < text.size() && IsUnitNameChar(text, i)) ++i;
    std::string_view name = text.substr(start, i - start);
    std::optional<Unit> u = Lookup(name);
    if (!u) {
      if (unknown != nullptr) *unknown = std::string(name);
      return std::nullopt;
    }
    result = sign > 0 ? result * *u : result / *u;
    expect_name = false;
  }
  if (expect_name) return std::nullopt;  // empty, or ends with an operator
  return result;
}

// ---- conversion -----------------------------------------------------------------------------

std::string ExactFraction::ToString() const {
  uint128 magnitude = numerator < 0 ? uint128(0) - static_cast<uint128>(numerator) : static_cast<uint128>(numerator);
  std::string text = numerator < 0 ? "-" : "";
  text.append(ToDecimalString(magnitude)).append("/").append(ToDecimalString(denominator));
  return text;
}

std::optional<UnitScale> ConversionFactor(const Unit& from, const Unit& to) {
  if (from.dimension() != to.dimension()) return std::nullopt;
  return from.scale() / to.scale();
}

Conversion Convert(const Decimal& value, const Unit& from, const Unit& to) {
  std::optional<UnitScale> ratio = ConversionFactor(from, to);
  if (!ratio) return Failure(ConversionError::kIncompatible);
  if (value.is_zero()) return Success(value);

  Factored f = FactorConversion(value, *ratio);
  if (f.exponents[kThree] < 0 || f.exponents[kSeven] < 0) {
    // A 3 or 7 left in the denominator: no finite decimal. rest is coprime to every prime
    // in the denominator and each prime sits on one side only, so P/Q is in lowest terms.
    Conversion c = Failure(ConversionError::kNotTerminating);
    uint128 p = 0, q = 0;
    if (AsFraction(f, &p, &q) && p <= static_cast<uint128>(~uint128(0) >> 1)) {
      c.fraction = ExactFraction{f.negative ? -static_cast<int128>(p) : static_cast<int128>(p), q};
    }
    return c;
  }
  // Only 2s and 5s below the line: 1/(2^a·5^b) = 2^(m-a)·5^(m-b) / 10^m with m = max(a, b).
  int m = std::max({0, -f.exponents[kTwo], -f.exponents[kFive]});
  int scale = std::max(m, value.scale());
  if (scale > Decimal::kMaxScale) return Failure(ConversionError::kOverflow);
  uint128 coefficient = f.rest;
  if (!MultiplyPower(&coefficient, 3, f.exponents[kThree]) || !MultiplyPower(&coefficient, 7, f.exponents[kSeven]) ||
      !MultiplyPower(&coefficient, 2, f.exponents[kTwo] + m) || !MultiplyPower(&coefficient, 5, f.exponents[kFive] + m) ||
      !MultiplyPower(&coefficient, 10, scale - m) || coefficient >= PowerOfTen(Decimal::kMaxDigits)) {
    return Failure(ConversionError::kOverflow);
  }
  int128 signed_coefficient = static_cast<int128>(coefficient);
  return Success(Decimal::FromParts(f.negative ? -signed_coefficient : signed_coefficient, scale));
}

Conversion ConvertRounded(const Decimal& value, const Unit& from, const Unit& to, int scale, RoundingMode mode) {
  Conversion exact = Convert(value, from, to);
  if (exact.error == ConversionError::kIncompatible && !exact.ok()) return exact;
  try {
    if (exact.ok()) return Success(exact.value->Rescale(scale, mode));
    // Not terminating, or too long to hold exactly: one rounded division P / Q.
    Factored f = FactorConversion(value, *ConversionFactor(from, to));
    uint128 p = 0, q = 0;
    uint128 limit = PowerOfTen(Decimal::kMaxDigits);
    if (!AsFraction(f, &p, &q) || p >= limit || q >= limit) return Failure(ConversionError::kOverflow);
    int128 numerator = f.negative ? -static_cast<int128>(p) : static_cast<int128>(p);
    return Success(Decimal::Divide(Decimal::FromParts(numerator, 0), Decimal::FromParts(static_cast<int128>(q), 0),
                                   scale, mode));
  } catch (const DecimalError& e) {
    if (e.kind() == DecimalErrorKind::kScaleOutOfRange) throw;
    return Failure(ConversionError::kOverflow);
  }
}

}  // namespace tariff
