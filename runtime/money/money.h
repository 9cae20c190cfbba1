// runtime/money: an exact amount in one ISO 4217 currency, and the one place where amounts are
// brought to a currency's minor units (rounding) or split into parts that add up (allocation).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/decimal/decimal.h"
#include "runtime/money/currency.h"

namespace tariff {

// What went wrong in a Money operation.
enum class MoneyErrorKind : std::uint8_t {
  kCurrencyMismatch,  // two amounts in different currencies were added, compared, …
  kUnknownCurrency,   // a code FindCurrency does not know
  kNotAtMinorUnits,   // an amount with digits below its currency's smallest unit where none may be
  kInvalidWeights,    // Allocate: no weights, a negative weight, or only zero weights
  kParse,             // text is not `AMOUNT CODE`
};

// Thrown by Money operations. For kCurrencyMismatch, left_currency() and right_currency() give
// the two codes (both also appear in the message); otherwise they are empty.
class MoneyError : public std::runtime_error {
 public:
  MoneyError(MoneyErrorKind kind, const std::string& message, std::string left_currency = {},
             std::string right_currency = {})
      : std::runtime_error(message),
        kind_(kind),
        left_currency_(std::move(left_currency)),
        right_currency_(std::move(right_currency)) {}
  MoneyErrorKind kind() const { return kind_; }
  const std::string& left_currency() const { return left_currency_; }
  const std::string& right_currency() const { return right_currency_; }

 private:
  MoneyErrorKind kind_;
  std::string left_currency_;
  std::string right_currency_;
};

// An exact Decimal amount in one currency.
//
// Guarantees:
// - Never rounds implicitly. Any scale is allowed (a unit price of 0.000123 USD is a Money);
//   only RoundToMinorUnits (with an explicit mode) and Allocate bring an amount to the
//   currency's minor units.
// - Every operation that combines two amounts (+, -, ==, <, <=>, …) requires one currency and
//   otherwise throws MoneyError(kCurrencyMismatch) naming both codes. There is no implicit
//   conversion between currencies, and no "zero of any currency".
// - Arithmetic follows Decimal: exact, the result of + and - takes the larger scale, × a
//   Decimal the sum of scales; overflow throws DecimalError(kOverflow).
// - Cheap to copy: a Decimal and a pointer into the static currency table.
class Money {
 public:
  // `amount` in `currency` (which must come from FindCurrency/AllCurrencies, as every
  // `const Currency&` in a program does).
  Money(const Decimal& amount, const Currency& currency) : amount_(amount), currency_(&currency) {}
  // `amount` in the currency with `code`; throws MoneyError(kUnknownCurrency).
  static Money Of(const Decimal& amount, std::string_view code);
  // Zero at the currency's minor units ("0.00 USD", "0 JPY").
  static Money Zero(const Currency& currency);
  // Parses `AMOUNT CODE` with exactly one space, as ToString prints it ("12.50 USD", "-3 JPY").
  // Throws MoneyError(kParse) for any other shape and MoneyError(kUnknownCurrency).
  static Money FromString(std::string_view text);

  const Decimal& amount() const { return amount_; }
  const Currency& currency() const { return *currency_; }
  std::string_view code() const { return currency_->code; }
  bool is_zero() const { return amount_.is_zero(); }
  bool is_negative() const { return amount_.is_negative(); }

  // True if the amount has no non-zero digit below the currency's smallest unit: 12.50 USD and
  // 12.500 USD are, 12.505 USD is not; 100 JPY is, 100.5 JPY is not.
  bool IsAtMinorUnits() const;
  // The amount rounded once with `mode` to exactly the currency's minor units (scale 2 for USD,
  // 0 for JPY, 3 for BHD, 4 for CLF): 2.345 USD half_even → 2.34, half_up → 2.35. An amount
  // already at minor units keeps its value and is given that scale (12.5 USD → 12.50 USD).
  Money RoundToMinorUnits(RoundingMode mode) const;

  // "12.50 USD": the amount as Decimal::ToString prints it (its own scale), a space, the code.
  std::string ToString() const;

  bool SameCurrency(const Money& other) const { return currency_ == other.currency_; }
  // Same currency, same coefficient and same scale (12.5 USD and 12.50 USD are not identical).
  // Never throws.
  bool IdenticalTo(const Money& other) const {
    return currency_ == other.currency_ && amount_.IdenticalTo(other.amount_);
  }

  // Exact; throw MoneyError(kCurrencyMismatch) across currencies, DecimalError on overflow.
  friend Money operator+(const Money& a, const Money& b);
  friend Money operator-(const Money& a, const Money& b);
  Money operator-() const { return Money(-amount_, *currency_); }
  // Exact scaling by a dimensionless factor (a quantity, a percentage); round afterwards.
  friend Money operator*(const Money& a, const Decimal& factor);
  friend Money operator*(const Decimal& factor, const Money& a) { return a * factor; }

  // Numeric comparison within one currency (12.5 USD == 12.50 USD); throws
  // MoneyError(kCurrencyMismatch) across currencies — comparing USD with EUR is always a bug
  // in a billing path, so it is not answered with `false`. Use SameCurrency/IdenticalTo to ask
  // without throwing.
  friend bool operator==(const Money& a, const Money& b);
  friend std::strong_ordering operator<=>(const Money& a, const Money& b);

 private:
  Decimal amount_;
  const Currency* currency_;
};

// Splits `total` into weights.size() parts in proportion to `weights`, each part at exactly the
// currency's minor units, such that the parts add up EXACTLY to the total (no cent created or
// lost). Used to spread a minimum, a discount or a credit across lines.
//
// Algorithm (largest remainder, a.k.a. Hamilton): with the total as an integer number T of
// minor units and W the sum of the weights, part i first gets floor(|T|·wᵢ / W) minor units;
// the k minor units left over (k < number of parts) go, one each, to the k parts with the
// largest remainders (|T|·wᵢ mod W), ties broken by the lower index. A negative total is
// split as its absolute value and every part negated, so the split of −T mirrors that of T.
// All arithmetic is exact integer arithmetic (256-bit products), whatever the weights' scales.
// Consequences: parts with equal weights differ by at most one minor unit, earlier parts
// getting the extra unit (100.00 USD over 1:1:1 → 33.34, 33.33, 33.33); a zero weight always
// gets exactly zero; each part is within one minor unit of its exact share.
//
// `total` must be at minor units: with `round_total` empty, a total like 10.005 USD throws
// MoneyError(kNotAtMinorUnits) (allocation does not round silently); with a mode, the total is
// first rounded to minor units with it and that rounded total is what the parts add up to.
// Throws MoneyError(kInvalidWeights) if `weights` is empty, any weight is negative, or all
// are zero; and also if the weights do not fit exact 128-bit arithmetic once brought to a
// common scale (only absurd weights, e.g. sums beyond 10^38).
std::vector<Money> Allocate(const Money& total, std::span<const Decimal> weights,
                            std::optional<RoundingMode> round_total = std::nullopt);

}  // namespace tariff
