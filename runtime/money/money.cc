// runtime/money: Money arithmetic, rounding to minor units, and largest-remainder allocation.
#include "runtime/money/money.h"

#include <algorithm>
#include <numeric>

namespace tariff {
namespace {

[[noreturn]] void ThrowMismatch(const char* verb, const Money& a, const Money& b) {
  std::string left(a.code());
  std::string right(b.code());
  throw MoneyError(MoneyErrorKind::kCurrencyMismatch,
                   std::string("cannot ") + verb + " money in two currencies: " + a.ToString() + " and " +
                       b.ToString() + " (" + left + " vs " + right + ")",
                   left, right);
}

void RequireSameCurrency(const char* verb, const Money& a, const Money& b) {
  if (!a.SameCurrency(b)) ThrowMismatch(verb, a, b);
}

uint128 Magnitude(int128 v) { return v < 0 ? uint128(0) - static_cast<uint128>(v) : static_cast<uint128>(v); }

// A 256-bit unsigned integer as two 128-bit halves: the exact product of two 128-bit values.
struct U256 {
  uint128 hi;
  uint128 lo;
};

U256 MultiplyWide(uint128 a, uint128 b) {
  constexpr uint128 kMask = ~std::uint64_t{0};
  uint128 a0 = a & kMask, a1 = a >> 64, b0 = b & kMask, b1 = b >> 64;
  uint128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint128 mid = (p00 >> 64) + (p01 & kMask) + (p10 & kMask);
  return U256{p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (mid << 64) | (p00 & kMask)};
}

// n / d and n % d for a quotient known to fit 128 bits (n.hi < d). Shift-and-subtract long
// division: allocation is not a hot path, and this is short enough to check by eye.
void DivideWide(U256 n, uint128 d, uint128* quotient, uint128* remainder) {
  uint128 r = n.hi;
  uint128 q = 0;
  for (int bit = 127; bit >= 0; --bit) {
    bool carry = (r >> 127) != 0;  // r << 1 would exceed 128 bits; then it certainly exceeds d
    r = (r << 1) | ((n.lo >> bit) & 1);
    q <<= 1;
    if (carry || r >= d) {
      r -= d;  // exact modulo 2^128: the true value minus d is below d
      q |= 1;
    }
  }
  *quotient = q;
  *remainder = r;
}

}  // namespace

Money Money::Of(const Decimal& amount, std::string_view code) {
  const Currency* currency = FindCurrency(code);
  if (currency == nullptr) {
    throw MoneyError(MoneyErrorKind::kUnknownCurrency, "unknown currency `" + std::string(code) + "`");
  }
  return Money(amount, *currency);
}

Money Money::Zero(const Currency& currency) { return Money(Decimal::FromParts(0, currency.minor_units), currency); }

Money Money::FromString(std::string_view text) {
  std::size_t space = text.find(' ');
  if (space == std::string_view::npos || text.find(' ', space + 1) != std::string_view::npos) {
    throw MoneyError(MoneyErrorKind::kParse, "expected `AMOUNT CODE` such as `12.50 USD`, got `" + std::string(text) + "`");
  }
  DecimalParseResult parsed = Decimal::Parse(text.substr(0, space));
  if (!parsed.value) {
    throw MoneyError(MoneyErrorKind::kParse, "`" + std::string(text) + "`: amount is not a decimal number: " + parsed.error);
  }
  return Of(*parsed.value, text.substr(space + 1));
}

bool Money::IsAtMinorUnits() const {
  int extra = amount_.scale() - currency_->minor_units;
  if (extra <= 0) return true;
  return amount_.coefficient() % static_cast<int128>(PowerOfTen(extra)) == 0;
}

Money Money::RoundToMinorUnits(RoundingMode mode) const {
  return Money(amount_.Rescale(currency_->minor_units, mode), *currency_);
}

std::string Money::ToString() const { return amount_.ToString() + " " + std::string(currency_->code); }

Money operator+(const Money& a, const Money& b) {
  RequireSameCurrency("add", a, b);
  return Money(a.amount_ + b.amount_, *a.currency_);
}

Money operator-(const Money& a, const Money& b) {
  RequireSameCurrency("subtract", a, b);
  return Money(a.amount_ - b.amount_, *a.currency_);
}

Money operator*(const Money& a, const Decimal& factor) { return Money(a.amount_ * factor, *a.currency_); }

bool operator==(const Money& a, const Money& b) {
  RequireSameCurrency("compare", a, b);
  return a.amount_ == b.amount_;
}

std::strong_ordering operator<=>(const Money& a, const Money& b) {
  RequireSameCurrency("compare", a, b);
  return a.amount_ <=> b.amount_;
}

std::vector<Money> Allocate(const Money& total, std::span<const Decimal> weights,
                            std::optional<RoundingMode> round_total) {
  const Currency& currency = total.currency();
  const int minor = currency.minor_units;
  if (weights.empty()) {
    throw MoneyError(MoneyErrorKind::kInvalidWeights, "cannot allocate " + total.ToString() + " over no weights");
  }
  int common_scale = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].is_negative()) {
      throw MoneyError(MoneyErrorKind::kInvalidWeights, "cannot allocate " + total.ToString() + ": weight " +
                                                            std::to_string(i) + " is negative (" +
                                                            weights[i].ToString() + ")");
    }
    common_scale = std::max(common_scale, weights[i].scale());
  }
  // Weights as integers at one scale, and their sum, exactly.
  std::vector<uint128> w(weights.size());
  uint128 sum = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    uint128 factor = PowerOfTen(common_scale - weights[i].scale());
    if (__builtin_mul_overflow(static_cast<uint128>(weights[i].coefficient()), factor, &w[i]) ||
        __builtin_add_overflow(sum, w[i], &sum)) {
      throw MoneyError(MoneyErrorKind::kInvalidWeights,
                       "cannot allocate " + total.ToString() + ": the weights are too large to add up exactly");
    }
  }
  if (sum == 0) {
    throw MoneyError(MoneyErrorKind::kInvalidWeights, "cannot allocate " + total.ToString() + ": every weight is zero");
  }

  Decimal amount = total.amount();
  if (round_total) {
    amount = amount.Rescale(minor, *round_total);
  } else if (!total.IsAtMinorUnits()) {
    throw MoneyError(MoneyErrorKind::kNotAtMinorUnits,
                     "cannot allocate " + total.ToString() + ": it has digits below the smallest unit of " +
                         std::string(currency.code) + " (" + std::to_string(minor) +
                         " decimals); round it to minor units first");
  } else {
    amount = amount.Rescale(minor, RoundingMode::kDown);  // exact: no digit is dropped
  }
  const bool negative = amount.is_negative();
  const uint128 units = Magnitude(amount.coefficient());

  std::vector<uint128> parts(weights.size());
  std::vector<uint128> remainders(weights.size());
  uint128 given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    DivideWide(MultiplyWide(units, w[i]), sum, &parts[i], &remainders[i]);
    given += parts[i];
  }
  // Fewer than weights.size() units are left; hand them out by largest remainder, then index.
  std::vector<std::size_t> order(weights.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainders[a] > remainders[b]; });
  for (uint128 k = 0, left = units - given; k < left; ++k) parts[order[static_cast<std::size_t>(k)]] += 1;

  std::vector<Money> result;
  result.reserve(weights.size());
  for (uint128 p : parts) {
    int128 coefficient = static_cast<int128>(p);
    result.emplace_back(Decimal::FromParts(negative ? -coefficient : coefficient, minor), currency);
  }
  return result;
}

}  // namespace tariff
