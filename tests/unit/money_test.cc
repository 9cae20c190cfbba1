// tests/unit: runtime/money — the ISO 4217 table, Money arithmetic across currencies, rounding
// to minor units, and allocation that conserves the total to the last minor unit.
#include <cstdint>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/money/money.h"

namespace {

using tariff::Allocate;
using tariff::Currency;
using tariff::Decimal;
using tariff::FindCurrency;
using tariff::Money;
using tariff::MoneyError;
using tariff::MoneyErrorKind;
using tariff::RoundingMode;

Decimal D(const char* text) { return Decimal::FromString(text); }
Money M(const char* text) { return Money::FromString(text); }

std::vector<std::string> Texts(const std::vector<Money>& parts) {
  std::vector<std::string> out;
  for (const Money& m : parts) out.push_back(m.ToString());
  return out;
}

std::vector<std::string> Split(const char* total, std::vector<Decimal> weights) {
  return Texts(Allocate(M(total), weights));
}

MoneyErrorKind ErrorKindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const MoneyError& e) {
    return e.kind();
  }
  FAIL("no MoneyError thrown");
  return MoneyErrorKind::kParse;
}

}  // namespace

TEST_CASE("money: minor units come from ISO 4217 (JPY 0, USD 2, BHD 3, CLF 4)") {
  struct Row {
    const char* code;
    int minor_units;
    int numeric;
  };
  const Row rows[] = {
      {"JPY", 0, 392}, {"KRW", 0, 410}, {"CLP", 0, 152}, {"ISK", 0, 352}, {"VND", 0, 704}, {"XOF", 0, 952},
      {"USD", 2, 840}, {"EUR", 2, 978}, {"GBP", 2, 826}, {"CHF", 2, 756}, {"INR", 2, 356}, {"XCG", 2, 532},
      {"BHD", 3, 48},  {"KWD", 3, 414}, {"OMR", 3, 512}, {"JOD", 3, 400}, {"TND", 3, 788}, {"IQD", 3, 368},
      {"LYD", 3, 434}, {"CLF", 4, 990}, {"UYW", 4, 927},
  };
  for (const Row& row : rows) {
    INFO(row.code);
    const Currency* c = FindCurrency(row.code);
    REQUIRE(c != nullptr);
    CHECK(c->code == row.code);
    CHECK(c->minor_units == row.minor_units);
    CHECK(c->numeric == row.numeric);
    CHECK_FALSE(c->name.empty());
  }
  CHECK(FindCurrency("USD")->name == "US Dollar");
  CHECK(FindCurrency("USD") == FindCurrency(std::string("USD")));  // one table entry per code
}

TEST_CASE("money: unknown, lower-case, withdrawn and unit-less codes are not currencies") {
  for (const char* code : {"usd", "Usd", "US", "USDX", "", "ABC", "XXX", "XTS", "XAU", "XDR", "HRK", "ANG", "BGN", "ZWL", "SLL"}) {
    INFO(code);
    CHECK(FindCurrency(code) == nullptr);
  }
  CHECK(ErrorKindOf([] { Money::Of(D("1"), "usd"); }) == MoneyErrorKind::kUnknownCurrency);
}

TEST_CASE("money: AllCurrencies is the whole sorted table and FindCurrency finds each entry") {
  auto all = tariff::AllCurrencies();
  CHECK(all.size() >= 160);
  std::set<int> numerics;
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(all[i].code);
    if (i > 0) CHECK(all[i - 1].code < all[i].code);
    CHECK(FindCurrency(all[i].code) == &all[i]);
    CHECK((all[i].minor_units >= 0 && all[i].minor_units <= 4));
    CHECK(numerics.insert(all[i].numeric).second);  // numeric codes are unique too
  }
}

TEST_CASE("money: arithmetic across two currencies throws an error naming both") {
  Money usd = M("10.00 USD");
  Money eur = M("5.00 EUR");
  auto expect_mismatch = [](const std::function<void()>& f) {
    try {
      f();
      FAIL("no MoneyError thrown");
    } catch (const MoneyError& e) {
      CHECK(e.kind() == MoneyErrorKind::kCurrencyMismatch);
      CHECK(e.left_currency() == "USD");
      CHECK(e.right_currency() == "EUR");
      CHECK(std::string(e.what()).find("USD") != std::string::npos);
      CHECK(std::string(e.what()).find("EUR") != std::string::npos);
    }
  };
  expect_mismatch([&] { (void)(usd + eur); });
  expect_mismatch([&] { (void)(usd - eur); });
  expect_mismatch([&] { (void)(usd == eur); });
  expect_mismatch([&] { (void)(usd < eur); });
  expect_mismatch([&] { (void)(usd >= eur); });
  CHECK_FALSE(usd.SameCurrency(eur));
  CHECK_FALSE(usd.IdenticalTo(eur));
}

TEST_CASE("money: arithmetic within one currency is exact") {
  CHECK((M("10.00 USD") + M("0.005 USD")).ToString() == "10.005 USD");
  CHECK((M("10.00 USD") - M("10.01 USD")).ToString() == "-0.01 USD");
  CHECK((-M("3 JPY")).ToString() == "-3 JPY");
  CHECK((M("0.20 USD") * D("0.029")).ToString() == "0.00580 USD");
  CHECK((D("3") * M("1.5 EUR")).ToString() == "4.5 EUR");
  CHECK(M("12.5 USD") == M("12.50 USD"));
  CHECK_FALSE(M("12.5 USD").IdenticalTo(M("12.50 USD")));
  CHECK(M("1.00 USD") < M("1.01 USD"));
  CHECK(M("-1 USD") < Money::Zero(*FindCurrency("USD")));
  CHECK(Money::Zero(*FindCurrency("BHD")).ToString() == "0.000 BHD");
  CHECK(Money::Zero(*FindCurrency("JPY")).ToString() == "0 JPY");
}

TEST_CASE("money: FromString reads what ToString prints and nothing else") {
  for (const char* text : {"12.50 USD", "-3 JPY", "0.000 BHD", "1.2345 CLF"}) {
    CHECK(M(text).ToString() == text);
  }
  for (const char* text : {"12.50USD", "12.50  USD", "USD 12.50", "12,50 USD", "", " 1 USD"}) {
    INFO(text);
    CHECK(ErrorKindOf([&] { M(text); }) == MoneyErrorKind::kParse);
  }
  CHECK(ErrorKindOf([] { M("1 usd"); }) == MoneyErrorKind::kUnknownCurrency);
}

TEST_CASE("money: rounding to minor units uses the mode it is given") {
  struct Row {
    const char* amount;
    RoundingMode mode;
    const char* expected;
  };
  const Row rows[] = {
      {"2.345 USD", RoundingMode::kHalfEven, "2.34 USD"},  {"2.355 USD", RoundingMode::kHalfEven, "2.36 USD"},
      {"2.345 USD", RoundingMode::kHalfUp, "2.35 USD"},    {"2.345 USD", RoundingMode::kHalfDown, "2.34 USD"},
      {"2.341 USD", RoundingMode::kUp, "2.35 USD"},        {"2.349 USD", RoundingMode::kDown, "2.34 USD"},
      {"-2.341 USD", RoundingMode::kCeiling, "-2.34 USD"}, {"-2.341 USD", RoundingMode::kFloor, "-2.35 USD"},
      {"-2.345 USD", RoundingMode::kHalfUp, "-2.35 USD"},  {"-2.345 USD", RoundingMode::kHalfEven, "-2.34 USD"},
      {"12.5 JPY", RoundingMode::kHalfEven, "12 JPY"},     {"13.5 JPY", RoundingMode::kHalfEven, "14 JPY"},
      {"1.23456 BHD", RoundingMode::kHalfUp, "1.235 BHD"}, {"1.23455 CLF", RoundingMode::kHalfEven, "1.2346 CLF"},
      {"12.5 USD", RoundingMode::kHalfEven, "12.50 USD"},  {"7 USD", RoundingMode::kDown, "7.00 USD"},
  };
  for (const Row& row : rows) {
    INFO(row.amount << " " << tariff::RoundingModeName(row.mode));
    Money rounded = M(row.amount).RoundToMinorUnits(row.mode);
    CHECK(rounded.ToString() == row.expected);
    CHECK(rounded.IsAtMinorUnits());
  }
  CHECK(M("12.500 USD").IsAtMinorUnits());
  CHECK_FALSE(M("12.505 USD").IsAtMinorUnits());
  CHECK(M("100 JPY").IsAtMinorUnits());
  CHECK_FALSE(M("100.5 JPY").IsAtMinorUnits());
}

TEST_CASE("money: allocation gives exact expected splits") {
  CHECK(Split("100.00 USD", {1, 1, 1}) == std::vector<std::string>{"33.34 USD", "33.33 USD", "33.33 USD"});
  CHECK(Split("-100.00 USD", {1, 1, 1}) == std::vector<std::string>{"-33.34 USD", "-33.33 USD", "-33.33 USD"});
  CHECK(Split("0.05 USD", {3, 7}) == std::vector<std::string>{"0.02 USD", "0.03 USD"});  // 0.015 | 0.035: tie → index 0
  CHECK(Split("100 JPY", {1, 1, 1}) == std::vector<std::string>{"34 JPY", "33 JPY", "33 JPY"});
  CHECK(Split("10.000 BHD", {1, 2}) == std::vector<std::string>{"3.333 BHD", "6.667 BHD"});
  CHECK(Split("1.00 USD", {D("0.5"), D("0.25"), D("0.25")}) ==
        std::vector<std::string>{"0.50 USD", "0.25 USD", "0.25 USD"});
  CHECK(Split("0.01 USD", {1, 1, 1}) == std::vector<std::string>{"0.01 USD", "0.00 USD", "0.00 USD"});
  CHECK(Split("0.02 USD", {1, 0, 1}) == std::vector<std::string>{"0.01 USD", "0.00 USD", "0.01 USD"});
  CHECK(Split("10 USD", {D("1.5"), 1}) == std::vector<std::string>{"6.00 USD", "4.00 USD"});
  CHECK(Split("0.00 USD", {1, 2}) == std::vector<std::string>{"0.00 USD", "0.00 USD"});
  CHECK(Split("5.00 EUR", {7}) == std::vector<std::string>{"5.00 EUR"});
  // Largest remainder, not the first index: 10 cents over 1:2:4 is 1.43, 2.86, 5.71 cents.
  CHECK(Split("0.10 USD", {1, 2, 4}) == std::vector<std::string>{"0.01 USD", "0.03 USD", "0.06 USD"});
  // Equal remainders: the lower indices get the spare units.
  CHECK(Split("0.10 USD", {1, 1, 4}) == std::vector<std::string>{"0.02 USD", "0.02 USD", "0.06 USD"});
}

TEST_CASE("money: allocation conserves the total over many random cases") {
  std::mt19937_64 rng(20261124);  // fixed seed: the same cases every run
  const char* codes[] = {"USD", "JPY", "BHD", "CLF"};
  for (int round = 0; round < 2000; ++round) {
    const Currency& currency = *FindCurrency(codes[rng() % 4]);
    std::int64_t units = static_cast<std::int64_t>(rng() % 2000001) - 1000000;  // negative totals too
    if (round % 10 == 0) units *= 1000000007;                                  // and large ones
    Money total(Decimal::FromParts(units, currency.minor_units), currency);
    std::size_t n = 1 + rng() % 12;
    std::vector<Decimal> weights;
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      int kind = static_cast<int>(rng() % 4);
      Decimal w = kind == 0 ? Decimal(0)  // zero weights among non-zero ones
                            : Decimal::FromParts(static_cast<std::int64_t>(rng() % 100000), static_cast<int>(rng() % 5));
      any = any || !w.is_zero();
      weights.push_back(w);
    }
    if (!any) weights.back() = Decimal(1);
    INFO("total " << total.ToString() << ", " << n << " weights");

    std::vector<Money> parts = Allocate(total, weights);
    REQUIRE(parts.size() == weights.size());
    Money sum = Money::Zero(currency);
    Decimal weight_sum(0);
    for (const Decimal& w : weights) weight_sum = weight_sum + w;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      CHECK(parts[i].SameCurrency(total));
      CHECK(parts[i].amount().scale() == currency.minor_units);
      if (weights[i].is_zero()) CHECK(parts[i].is_zero());
      // Within one minor unit of the exact share, and on the total's side of zero.
      Decimal exact = Decimal::Divide(total.amount() * weights[i], weight_sum, 12, RoundingMode::kHalfEven);
      Decimal one = Decimal::FromParts(1, currency.minor_units);
      CHECK((parts[i].amount() - exact).Abs() < one);
      CHECK(parts[i].amount().sign() * total.amount().sign() >= 0);
      sum = sum + parts[i];
    }
    CHECK(sum == total);
    // Mirror image: −total splits into exactly the negated parts.
    std::vector<Money> mirrored = Allocate(-total, weights);
    for (std::size_t i = 0; i < parts.size(); ++i) CHECK(mirrored[i].amount() == -parts[i].amount());
  }
}

TEST_CASE("money: allocation is exact with weights far beyond 64 bits") {
  Money total = M("99999999999999999999999999999999999.99 USD");
  std::vector<Decimal> weights = {D("33333333333333333333333333333333333"), D("33333333333333333333333333333333333"),
                                  D("33333333333333333333333333333333334")};
  std::vector<Money> parts = Allocate(total, weights);
  CHECK(parts[0] + parts[1] + parts[2] == total);
  // Shares 33…33.2999…, 33…33.2999…, 33…33.9999…: the two largest remainders round up.
  CHECK(Texts(parts) == std::vector<std::string>{"33333333333333333333333333333333333.00 USD",
                                                 "33333333333333333333333333333333333.00 USD",
                                                 "33333333333333333333333333333333333.99 USD"});
}

TEST_CASE("money: allocation rejects bad weights and totals below the minor unit") {
  std::vector<Decimal> none;
  CHECK(ErrorKindOf([&] { Allocate(M("1.00 USD"), none); }) == MoneyErrorKind::kInvalidWeights);
  CHECK(ErrorKindOf([] { Allocate(M("1.00 USD"), std::vector<Decimal>{1, -1}); }) == MoneyErrorKind::kInvalidWeights);
  CHECK(ErrorKindOf([] { Allocate(M("1.00 USD"), std::vector<Decimal>{0, D("0.00")}); }) ==
        MoneyErrorKind::kInvalidWeights);
  CHECK(ErrorKindOf([] { Allocate(M("10.005 USD"), std::vector<Decimal>{1, 1}); }) == MoneyErrorKind::kNotAtMinorUnits);
  // Asked to round first: the rounded total is what is split.
  std::vector<Decimal> halves = {1, 1};
  CHECK(Texts(Allocate(M("10.005 USD"), halves, RoundingMode::kHalfUp)) ==
        std::vector<std::string>{"5.01 USD", "5.00 USD"});
  CHECK(Texts(Allocate(M("10.005 USD"), halves, RoundingMode::kHalfEven)) ==
        std::vector<std::string>{"5.00 USD", "5.00 USD"});
  // A total with trailing zeros below the minor unit is already at minor units.
  CHECK(Texts(Allocate(M("10.000 USD"), halves)) == std::vector<std::string>{"5.00 USD", "5.00 USD"});
}
