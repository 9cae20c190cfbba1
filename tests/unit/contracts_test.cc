// tests/unit: per-customer contract terms (runtime/billing/contracts.h): reading the contracts
// file (columns, numbers, durations, windows, overlaps, the error codes of docs/billing.md) and
// Stripe's coupon example rated month by month through the CLI library.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "runtime/billing/billing.h"
#include "runtime/billing/contracts.h"
#include "runtime/decimal/decimal.h"
#include "tools/driver/driver.h"

namespace {

using namespace tariff;
namespace fs = std::filesystem;

constexpr const char* kPlan = R"(
plan "basic" {
  currency USD
  period month

  unit request
  event request {}
  meter requests = count(request)

  charge "Basic" = 10.00 USD
  charge "Requests" = requests * 0.01 USD per request
}
)";

struct Compiled {
  SourceManager sources;
  CheckedSource checked;
  std::vector<ir::RatingFunction> functions;
  PlanSet Set() const {
    PlanSet set;
    set.default_plan = "basic";
    for (const ir::RatingFunction& f : functions) set.functions.push_back(&f);
    return set;
  }
};

std::unique_ptr<Compiled> Compile(const std::string& text) {
  auto c = std::make_unique<Compiled>();
  FileId file = c->sources.AddFile("contracts.tariff", text);
  DiagnosticSink sink;
  c->checked = CheckSource(c->sources, file, sink);
  REQUIRE(c->checked.ok());
  for (const CheckedPlan& p : c->checked.checked->plans) {
    LowerResult lowered = Lower(*c->checked.checked, p, c->sources.file(file));
    REQUIRE(lowered.ok());
    c->functions.push_back(std::move(lowered.function));
  }
  return c;
}

// A file in a fresh temporary folder, removed with it.
struct TempFile {
  fs::path dir, path;
  TempFile(const std::string& name, const std::string& text) {
    static int n = 0;  // and the process: CTest runs test cases in parallel processes
    dir = fs::temp_directory_path() / ("tariff-contracts-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(dir);
    path = dir / name;
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

struct Read {
  bool ok = false;
  std::vector<ContractTerm> terms;
  std::string error;
};

Read ReadText(const std::string& name, const std::string& text) {
  static const std::unique_ptr<Compiled> plans = Compile(kPlan);
  TempFile file(name, text);
  Read r;
  r.ok = ReadContracts(file.path.string(), plans->Set(), r.terms, &r.error);
  // Messages name the file; make them stable for the assertions.
  const std::string p = file.path.string();
  for (std::size_t at; (at = r.error.find(p)) != std::string::npos;) r.error.replace(at, p.size(), name);
  return r;
}

std::int64_t At(const std::string& rfc3339) {
  static const std::unique_ptr<Compiled> plans = Compile(kPlan);
  return *ParsePlanTime(plans->Set(), rfc3339, nullptr);
}

}  // namespace

TEST_CASE("contracts: a percent discount for N periods covers the periods from the one its start is in") {
  Read r = ReadText("c.csv", "customer,kind,name,charge,percent,duration,start\nacme,discount,Coupon,Requests,20,3 periods,2026-01-15\n");
  REQUIRE(r.ok);
  REQUIRE(r.terms.size() == 1);
  const ContractTerm& t = r.terms[0];
  CHECK(t.customer == "acme");
  CHECK(t.name == "Coupon");
  CHECK(t.charge == "Requests");
  CHECK(t.percent == Decimal::FromString("20"));
  CHECK(!t.amount);
  CHECK(t.duration == ContractTerm::Duration::kPeriods);
  CHECK(t.periods == 3);
  CHECK(t.origin.ends_with("c.csv:2"));
  // January (where 2026-01-15 is) to the end of March.
  CHECK(t.window_start == At("2026-01-01"));
  CHECK(t.window_end == At("2026-04-01"));
  CHECK_FALSE(ContractApplies(t, At("2025-12-01")));
  CHECK(ContractApplies(t, At("2026-01-01")));
  CHECK(ContractApplies(t, At("2026-03-01")));
  CHECK_FALSE(ContractApplies(t, At("2026-04-01")));
}

TEST_CASE("contracts: once is the start's period, forever has no end, a default name, JSON Lines") {
  Read plain = ReadText("c.csv", "customer,kind,percent,start\na,discount,10,2026-02-10\n");  // no duration: forever
  REQUIRE(plain.ok);
  CHECK(plain.terms[0].duration == ContractTerm::Duration::kForever);
  CHECK(plain.terms[0].window_start == At("2026-02-01"));
  CHECK(ContractApplies(plain.terms[0], At("2030-02-01")));
  Read r = ReadText("c.jsonl",
                    "{\"customer\":\"a\",\"kind\":\"discount\",\"amount\":\"5\",\"duration\":\"once\",\"start\":\"2026-02-10\"}\n"
                    "{\"customer\":\"b\",\"kind\":\"discount\",\"percent\":\"12.50\",\"charge\":\"Basic\",\"duration\":\"forever\"}\n");
  REQUIRE(r.ok);
  REQUIRE(r.terms.size() == 2);
  CHECK(r.terms[0].amount == Decimal::FromString("5"));
  CHECK(r.terms[0].name == "Contract discount 5.00 USD");
  CHECK(r.terms[0].window_start == At("2026-02-01"));
  CHECK(r.terms[0].window_end == At("2026-03-01"));
  CHECK(r.terms[1].name == "Contract discount 12.5% on Basic");
  CHECK(ContractApplies(r.terms[1], At("1999-01-01")));
  CHECK(ContractApplies(r.terms[1], At("2099-01-01")));
}

TEST_CASE("contracts: discounts on different targets may overlap, on the same target only back to back") {
  CHECK(ReadText("c.csv", "customer,kind,charge,percent,duration,start\n"
                          "a,discount,,10,forever,2026-01-01\n"
                          "a,discount,Basic,10,forever,2026-01-01\n"
                          "b,discount,Basic,10,2 periods,2026-01-01\n"
                          "b,discount,Basic,50,once,2026-03-31\n")
            .ok);
  Read r = ReadText("c.csv", "customer,kind,charge,percent,duration,start\n"
                             "b,discount,Basic,10,2 periods,2026-01-01\n"
                             "b,discount,Basic,50,once,2026-02-28\n");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "error[C0105]: c.csv:3: customer `b` has two discounts on \"Basic\" in force in the same period (the other: c.csv:2)");
}

TEST_CASE("contracts: every problem is an error with its code, file, line and column") {
  using Case = std::pair<std::string, std::string>;
  const std::vector<Case> cases = {
      {"customer,kind,percent,duration,start,x\n", "error[C0101]: c.csv:1: column `x`: unknown column"},
      {"customer,kind,charge,percent,duration\na,discount,Nope,10,forever\n", "error[C0103]: c.csv:2: column `charge`: no charge \"Nope\""},
      {"customer,kind,percent,duration\na,discount,10,forever\na,discount,5,forever\n", "error[C0105]: c.csv:3: customer `a` has two"},
      {"customer,kind,percent,duration,start\na,discount,10,once,2026-13-01\n", "error[C0106]: c.csv:2: column `start`: `2026-13-01`"},
      {"customer,kind,percent,duration\na,discount,0,forever\n", "error[C0107]: c.csv:2: column `percent`: `0` is not a percentage"},
      {"customer,kind,percent,duration\na,discount,100.5,forever\n", "error[C0107]: c.csv:2: column `percent`"},
      {"customer,kind,percent,duration\na,discount,ten,forever\n", "error[C0107]: c.csv:2: column `percent`"},
      {"customer,kind,percent,duration\na,discount,12.12345678901,forever\n", "error[C0107]: c.csv:2: column `percent`"},
      {"customer,kind,amount,duration\na,discount,-1,forever\n", "error[C0107]: c.csv:2: column `amount`: `-1` is not an amount"},
      {"customer,kind,amount,duration\na,discount,0.001,forever\n", "error[C0107]: c.csv:2: column `amount`: `0.001` is finer than USD"},
      {"customer,kind,percent,duration,start\na,discount,10,3 months,2026-01-01\n", "error[C0108]: c.csv:2: column `duration`: `3 months`"},
      {"customer,kind,percent,duration,start\na,discount,10,0 periods,2026-01-01\n", "error[C0108]: c.csv:2: column `duration`"},
      {"customer,kind,percent,duration,start\na,discount,10,1.5 periods,2026-01-01\n", "error[C0108]: c.csv:2: column `duration`"},
      {"customer,kind,percent,duration,start\na,discount,10,periods,2026-01-01\n", "error[C0108]: c.csv:2: column `duration`: `periods` is not"},
      {"customer,kind,percent,duration\na,discount,10,once\n", "error[C0108]: c.csv:2: column `duration`: `once` counts periods from"},
      {"customer,kind,percent,duration\na,coupon,10,once\n", "error[C0109]: c.csv:2: column `kind`: `coupon` is not a kind"},
      {"customer,kind,percent,amount,duration\na,discount,10,5,forever\n", "error[C0109]: c.csv:2: column `amount`: a discount is a"},
      {"customer,kind,duration\na,discount,forever\n", "error[C0109]: c.csv:2: a discount needs a `percent` or an `amount`"},
      {"kind,percent,duration\ndiscount,10,forever\n", "error[C0109]: c.csv:2: no `customer`"},
      // A line name the plan or another term of the customer already gives a line.
      {"customer,kind,name,percent,duration\na,discount,Basic,10,forever\n",
       "error[C0112]: c.csv:2: column `name`: the line name \"Basic\" is a charge of plan \"basic\""},
      {"customer,kind,name,charge,percent,amount,duration,start\na,discount,Loyal,Basic,10,,forever,\na,discount,Loyal,,,5.00,once,2026-03-01\n",
       "error[C0112]: c.csv:3: column `name`: customer `a` has another term named \"Loyal\" in force in the same period (the other: c.csv:2)"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    Read r = ReadText("c.csv", text);
    CHECK_FALSE(r.ok);
    CHECK(r.error.rfind(expected, 0) == 0);
  }
}

TEST_CASE("contracts: a percent discount is rounded by the plan's rule, a fixed one is at most its base") {
  const std::unique_ptr<Compiled> plans = Compile(kPlan);
  const ir::RatingFunction& fn = plans->functions.front();
  Invoice inv;
  inv.customer = "a";
  inv.currency = "USD";
  InvoiceLine basic;
  basic.name = "Basic";
  basic.amount = Decimal::FromString("10.00");
  InvoiceLine requests;
  requests.name = "Requests";
  requests.amount = Decimal::FromString("0.37");
  inv.lines = {basic, requests};
  inv.total = Decimal::FromString("10.37");
  ContractTerm on_requests;
  on_requests.customer = "a";
  on_requests.name = "Cheaper requests";
  on_requests.charge = "Requests";
  on_requests.amount = Decimal::FromString("1.00");
  on_requests.window_start = std::numeric_limits<std::int64_t>::min();
  on_requests.window_end = std::numeric_limits<std::int64_t>::max();
  ContractTerm whole = on_requests;
  whole.name = "Partner";
  whole.charge = "";
  whole.amount.reset();
  whole.percent = Decimal::FromString("12.5");
  // Listed whole-invoice first: charge discounts still go first.
  ApplyContracts(inv, {&whole, &on_requests}, fn, 0, 0, /*explain=*/true);
  REQUIRE(inv.lines.size() == 4);
  CHECK(inv.lines[2].name == "Cheaper requests");
  CHECK(inv.lines[2].kind == LineKind::kDiscount);
  CHECK(inv.lines[2].amount.ToString() == "-0.37");  // at most the 0.37 of Requests
  CHECK(inv.lines[3].name == "Partner");
  CHECK(inv.lines[3].amount.ToString() == "-1.25");  // 12.5% of 10.00
  CHECK(inv.total.ToString() == "8.75");
  // 12.5% of 10.01 = 1.25125 → 1.25 (half_even to 2 decimals), the terms add up exactly.
  inv.lines.resize(1);
  inv.lines[0].amount = Decimal::FromString("10.01");
  inv.total = Decimal::FromString("10.01");
  ApplyContracts(inv, {&whole}, fn, 0, 0, true);
  REQUIRE(inv.lines.size() == 2);
  CHECK(inv.lines[1].amount.ToString() == "-1.25");
  REQUIRE(inv.lines[1].derivation);
  Decimal sum;
  for (const DerivationTerm& t : inv.lines[1].derivation->terms) sum = sum + t.amount;
  CHECK(sum == Decimal::FromString("-1.25"));
  CHECK(inv.lines[1].derivation->steps.front().kind == "contract");
}

TEST_CASE("contracts: under a rounding per invoice, a fixed discount is at most its base at the plan's scale") {
  // Requests 333 × 0.001 = 0.333 (exact: the plan rounds the invoice, 10.333 → 10.33); 5.00 off
  // Requests is capped at 0.33, not 0.333, so the total stays at the plan's scale: 10.00, as the
  // plan's own `discount 5.00 USD on "Requests"` gives.
  const std::unique_ptr<Compiled> plans = Compile(R"(
plan "basic" {
  currency USD
  period month
  rounding half_even per invoice
  charge "Basic" = 10.00 USD
}
)");
  const ir::RatingFunction& fn = plans->functions.front();
  Invoice inv;
  inv.customer = "a";
  inv.currency = "USD";
  InvoiceLine basic;
  basic.name = "Basic";
  basic.amount = Decimal::FromString("10.00");
  InvoiceLine requests;
  requests.name = "Requests";
  requests.amount = Decimal::FromString("0.333");
  InvoiceLine rounding;
  rounding.kind = LineKind::kRounding;
  rounding.name = "Rounding (half_even to 2 decimals)";
  rounding.amount = Decimal::FromString("-0.003");
  inv.lines = {basic, requests, rounding};
  inv.total = Decimal::FromString("10.33");
  ContractTerm off;
  off.customer = "a";
  off.name = "Contract discount 5.00 USD on Requests";
  off.charge = "Requests";
  off.amount = Decimal::FromString("5.00");
  off.window_start = std::numeric_limits<std::int64_t>::min();
  off.window_end = std::numeric_limits<std::int64_t>::max();
  ApplyContracts(inv, {&off}, fn, 0, 0, /*explain=*/true);
  REQUIRE(inv.lines.size() == 4);
  CHECK(inv.lines[3].amount.ToString() == "-0.33");
  CHECK(inv.total.ToString() == "10.00");
  REQUIRE(inv.lines[3].derivation);
  Decimal sum;
  for (const DerivationTerm& t : inv.lines[3].derivation->terms) sum = sum + t.amount;
  CHECK(sum == Decimal::FromString("-0.33"));
}

TEST_CASE("contracts: Stripe's coupon, 20% off for 3 months on a 10 USD monthly plan: 8.00, 8.00, 8.00, then 10.00") {
  TempFile plan("plan.tariff", "plan \"basic\" {\n  currency USD\n  period month\n\n  charge \"Basic\" = 10.00 USD\n}\n");
  const fs::path dir = plan.dir;
  std::ofstream(dir / "subscriptions.csv") << "customer,start\nacme,2026-01-01\n";
  std::ofstream(dir / "contracts.csv") << "customer,kind,name,percent,duration,start\nacme,discount,Coupon,20,3 periods,2026-01-01\n";
  const std::vector<std::pair<std::string, std::string>> months = {
      {"2026-01-01", "8.00"}, {"2026-02-01", "8.00"}, {"2026-03-01", "8.00"}, {"2026-04-01", "10.00"}, {"2025-12-01", "10.00"}};
  for (const auto& [month, total] : months) {
    INFO(month);
    std::ostringstream out, err;
    int code = driver::Run({"rate", plan.path.string(), "--subscriptions", (dir / "subscriptions.csv").string(), "--contracts",
                            (dir / "contracts.csv").string(), "--period", month},
                           out, err);
    INFO(err.str());
    REQUIRE(code == 0);
    if (month == "2025-12-01") {
      CHECK(out.str().empty());  // not subscribed yet: no invoice
      continue;
    }
    nlohmann::json inv = nlohmann::json::parse(out.str());
    CHECK(inv.at("total") == total);
    CHECK(inv.at("lines").size() == (total == "8.00" ? 2u : 1u));
  }
}

TEST_CASE("contracts: a replacement rate is converted exactly to the meter's unit, the line shows it as written") {
  const std::unique_ptr<Compiled> plans = Compile(R"(
plan "basic" {
  currency USD
  period month

  unit request
  event request { n: quantity of request  bytes: quantity of MB }
  meter requests = sum(request.n)
  meter transferred = sum(request.bytes)

  charge "Requests" = requests * 0.20 USD per 1000 request
  charge "Transfer" = transferred * 0.09 USD per GB
  charge "Tiered" = graduated requests {
    up to 10 request  free
    above             0.01 USD per request
  }
  charge "Basic" = 10.00 USD
}
)");
  auto rate_of = [](const ir::RatingFunction& fn, const std::string& charge) -> ExactNumber {
    for (const ir::Charge& c : fn.charges) {
      if (c.name != charge) continue;
      for (const ir::Inst& in : c.line.insts) {
        if (in.op == ir::Op::kConst && in.type.unit.find(" per ") != std::string::npos) {
          const ir::Constant& k = c.line.constants[static_cast<std::size_t>(in.imm)];
          return k.fraction ? ExactNumber::Of(*k.fraction) : ExactNumber(k.number);
        }
      }
    }
    FAIL("no rate");
    return {};
  };
  auto override_with = [&](const std::string& charge, const std::string& rate) {
    ContractTerm t;
    t.kind = ContractTerm::Kind::kOverride;
    t.charge = charge;
    t.rate = rate;
    ir::RatingFunction copy = plans->functions.front();
    std::string why = OverrideCharges(copy, {&t});
    return std::make_pair(copy, why);
  };
  {
    auto [fn, why] = override_with("Requests", "0.15 USD per 1_000 request");
    CHECK(why.empty());
    CHECK(rate_of(fn, "Requests") == ExactNumber(Decimal::FromString("0.00015")));
    CHECK(fn.charges[0].price_text == "0.15 USD per 1_000 request");
  }
  {
    auto [fn, why] = override_with("Requests", "1 USD per 3 request");  // 1/3 USD a request: exact, as a fraction
    CHECK(why.empty());
    CHECK(!rate_of(fn, "Requests").is_decimal());
    CHECK(rate_of(fn, "Requests") * ExactNumber(3) == ExactNumber(1));
  }
  {
    auto [fn, why] = override_with("Transfer", "0.05 USD per GB");  // over a meter in MB: 0.00005 USD per MB
    CHECK(why.empty());
    CHECK(rate_of(fn, "Transfer") == ExactNumber(Decimal::FromString("0.00005")));
  }
  {
    auto [fn, why] = override_with("Transfer", "0.05 USD per GiB");  // 1 MB = 10^6 / 2^30 GiB
    CHECK(why.empty());
    CHECK(rate_of(fn, "Transfer") == ExactNumber::Of(Fraction::Quotient(Fraction(Decimal::FromString("0.05")) * Fraction(1000000),
                                                                         Fraction(Decimal::FromString("1073741824")))));
  }
  CHECK(override_with("Tiered", "0.02 USD per request").second.rfind("C0104: charge \"Tiered\" is tiered", 0) == 0);
  CHECK(override_with("Basic", "0.02 USD per request").second.rfind("C0104: charge \"Basic\" is a recurring fee", 0) == 0);
  CHECK(override_with("Requests", "0.02 USD per GB").second.rfind("C0110: `0.02 USD per GB` is a price per GB", 0) == 0);
  CHECK(override_with("Requests", "0.02 EUR per request").second.rfind("C0110: `0.02 EUR per request` is in EUR", 0) == 0);
  CHECK(override_with("Requests", "0.02 USD per requests").second.rfind("C0110: unknown unit `requests`", 0) == 0);
  CHECK(override_with("Requests", "cheap").second.rfind("C0110: `cheap` is not a rate", 0) == 0);
  CHECK(override_with("Requests", "0.02 USD request").second.rfind("C0110: `0.02 USD request` is not a rate", 0) == 0);
}

TEST_CASE("contracts: overrides read from a file: multiplier, rate, and their errors") {
  Read ok = ReadText("c.csv", "customer,kind,charge,multiplier,rate\n"
                              "a,override,Basic,0.8,\n"
                              "b,override,Requests,,0.005 USD per request\n");
  REQUIRE(ok.ok);
  REQUIRE(ok.terms.size() == 2);
  CHECK(ok.terms[0].kind == ContractTerm::Kind::kOverride);
  CHECK(ok.terms[0].multiplier == Decimal::FromString("0.8"));
  CHECK(ok.terms[0].name == "Override of Basic");
  CHECK(ok.terms[1].rate == "0.005 USD per request");
  CHECK(ok.terms[1].duration == ContractTerm::Duration::kForever);
  using Case = std::pair<std::string, std::string>;
  const std::vector<Case> cases = {
      {"customer,kind,charge,rate\na,override,Basic,0.02 USD per request\n", "error[C0104]: c.csv:2: column `rate`: charge \"Basic\" is a recurring fee"},
      {"customer,kind,charge,rate\na,override,Requests,0.02 USD per GB\n", "error[C0110]: c.csv:2: column `rate`: `0.02 USD per GB` is a price per GB"},
      {"customer,kind,charge,multiplier\na,override,Requests,-1\n", "error[C0107]: c.csv:2: column `multiplier`: `-1` is not a number"},
      {"customer,kind,multiplier\na,override,0.5\n", "error[C0109]: c.csv:2: an override needs the `charge`"},
      {"customer,kind,charge,multiplier,rate\na,override,Requests,0.5,0.01 USD per request\n", "error[C0109]: c.csv:2: column `rate`: an override is"},
      {"customer,kind,charge\na,override,Requests\n", "error[C0109]: c.csv:2: an override needs a `multiplier` or a `rate`"},
      {"customer,kind,charge,percent\na,override,Requests,10\n", "error[C0109]: c.csv:2: column `percent`: an `override` has no `percent`"},
      {"customer,kind,multiplier\na,discount,0.5\n", "error[C0109]: c.csv:2: column `multiplier`: a `discount` has no `multiplier`"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    Read r = ReadText("c.csv", text);
    CHECK_FALSE(r.ok);
    CHECK(r.error.rfind(expected, 0) == 0);
  }
}

TEST_CASE("contracts: the same inputs give the same bytes, whatever the batch size or the order of the rows") {
  const fs::path dir = fs::path(TARIFF_SOURCE_DIR) / "tests/golden/rate/contract_price_override";
  std::ifstream in(dir / "usage.csv");
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  REQUIRE(rows.size() > 2);
  std::string reversed = rows.front() + "\n";
  for (std::size_t i = rows.size() - 1; i >= 1; --i) reversed += rows[i] + "\n";
  TempFile usage("usage.csv", reversed);
  auto rate = [&](const std::string& usage_path, const std::string& batch) {
    std::ostringstream out, err;
    int code = driver::Run({"rate", (dir / "plan.tariff").string(), "--usage", usage_path, "--contracts", (dir / "contracts.csv").string(),
                            "--period", "2026-03-01", "--batch-size", batch},
                           out, err);
    REQUIRE(code == 0);
    return out.str();
  };
  const std::string first = rate((dir / "usage.csv").string(), "4096");
  CHECK(first.find("\"amount\":\"185.19\"") != std::string::npos);
  CHECK(rate((dir / "usage.csv").string(), "1") == first);
  CHECK(rate(usage.path.string(), "2") == first);
}

TEST_CASE("contracts: a billing anchor moves the customer's periods, and its errors") {
  Read ok = ReadText("c.csv", "customer,kind,anchor\na,anchor,2026-01-15\nb,anchor,2026-01-31T12:00:00Z\n");
  REQUIRE(ok.ok);
  REQUIRE(ok.terms.size() == 2);
  CHECK(ok.terms[0].kind == ContractTerm::Kind::kAnchor);
  CHECK(ok.terms[0].anchor == "2026-01-15");
  CHECK(ok.terms[0].name == "Billing anchor 2026-01-15");
  // The plan's rule (monthly, UTC) anchored on the 15th, and on the 31st at noon (month ends).
  static const std::unique_ptr<Compiled> plans = Compile(kPlan);
  PeriodBounds march = BillingPeriodAt(plans->Set(), At("2026-03-20"), "2026-01-15");
  CHECK(march.start == At("2026-03-15"));
  CHECK(march.end == At("2026-04-15"));
  PeriodBounds feb = BillingPeriodAt(plans->Set(), At("2026-03-01"), "2026-01-31T12:00:00Z");
  CHECK(feb.start_text == "2026-02-28T12:00:00Z");
  CHECK(feb.end_text == "2026-03-31T12:00:00Z");
  // Durations of an anchored customer count its own periods, from the one its start is in,
  // whichever row comes first.
  Read counted = ReadText("c.csv", "customer,kind,anchor,percent,duration,start\n"
                                   "a,discount,,10,3 periods,2026-01-10\n"
                                   "a,anchor,2026-01-15,,,\n");
  REQUIRE(counted.ok);
  CHECK(counted.terms[0].window_start == At("2025-12-15"));
  CHECK(counted.terms[0].window_end == At("2026-03-15"));
  using Case = std::pair<std::string, std::string>;
  const std::vector<Case> cases = {
      {"customer,kind,anchor\na,anchor,2026-02-30\n", "error[C0106]: c.csv:2: column `anchor`: `2026-02-30`"},
      {"customer,kind,anchor\na,anchor,soon\n", "error[C0106]: c.csv:2: column `anchor`: `soon`"},
      {"customer,kind,anchor\na,anchor,2026-01-15\na,anchor,2026-01-16\n", "error[C0105]: c.csv:3: customer `a` has two billing anchors"},
      {"customer,kind\na,anchor\n", "error[C0109]: c.csv:2: an `anchor` needs the `anchor` date"},
      {"customer,kind,anchor,percent\na,anchor,2026-01-15,10\n", "error[C0109]: c.csv:2: column `percent`: an `anchor` has no `percent`"},
      {"customer,kind,anchor,percent,duration\na,discount,2026-01-15,10,forever\n", "error[C0109]: c.csv:2: column `anchor`: a `discount` has no `anchor`"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    Read r = ReadText("c.csv", text);
    CHECK_FALSE(r.ok);
    CHECK(r.error.rfind(expected, 0) == 0);
  }
}

TEST_CASE("contracts: a commitment is trued up on its term's last invoice only, counting the earlier periods' invoices") {
  const fs::path dir = fs::path(TARIFF_SOURCE_DIR) / "tests/golden/rate/contract_commitment";
  auto rate = [&](const std::string& period, const std::string& contracts) {
    TempFile file("contracts.csv", contracts);
    std::ostringstream out, err;
    int code = driver::Run({"rate", (dir / "plan.tariff").string(), "--usage", (dir / "usage.csv").string(), "--contracts",
                            file.path.string(), "--period", period, "--format", "csv"},
                           out, err);
    INFO(err.str());
    REQUIRE(code == 0);
    return out.str();
  };
  const std::string acme = "customer,kind,amount,duration,start\nacme,commit,150.00,3 periods,2026-01-01\n";
  // January and February: no true-up yet (40.00, 35.00); March: 150 − (40 + 35 + 20) = 55.00.
  CHECK(rate("2026-01-01", acme).find("true-up") == std::string::npos);
  CHECK(rate("2026-02-01", acme).find("true-up") == std::string::npos);
  const std::string march = rate("2026-03-01", acme);
  CHECK(march.find("Commitment 150.00 USD true-up") != std::string::npos);
  CHECK(march.find("55.00") != std::string::npos);
  // April is after the term: nothing.
  CHECK(rate("2026-04-01", acme).find("true-up") == std::string::npos);
  // With its own anchor on the 15th, acme's term from 2026-01-01 is the periods from December 15
  // to March 15; rated for the period containing March 1 (February 15 to March 15), it spent
  // 40.00 (December 15 to January 15) + 35.00 (January 15 to February 15) + 20.00 (March 10)
  // = 95.00 of 100.00: a true-up of 5.00.
  const std::string anchored = rate("2026-03-01", "customer,kind,amount,duration,start,anchor\n"
                                                  "acme,anchor,,,,2026-01-15\n"
                                                  "acme,commit,100.00,3 periods,2026-01-01,\n");
  CHECK(anchored.find("Commitment 100.00 USD true-up") != std::string::npos);
  CHECK(anchored.find(",5.00") != std::string::npos);
  CHECK(anchored.find("2026-02-15T00:00:00Z") != std::string::npos);
}

TEST_CASE("contracts: a commitment's earlier periods are read again, so its usage cannot come from standard input") {
  const fs::path dir = fs::path(TARIFF_SOURCE_DIR) / "tests/golden/rate/contract_commitment";
  std::ifstream usage(dir / "usage.csv");
  std::istringstream in(std::string(std::istreambuf_iterator<char>(usage), {}));
  std::ostringstream out, err;
  int code = driver::Run({"rate", (dir / "plan.tariff").string(), "--usage", "-", "--usage-format", "csv", "--contracts",
                          (dir / "contracts.csv").string(), "--period", "2026-03-01"},
                         in, out, err, driver::Terminal{});
  CHECK(code == 2);
  CHECK(err.str().find("give the usage as files") != std::string::npos);
}

TEST_CASE("contracts: a plan test's `contract` is checked like a row of a contracts file, with the plan's line") {
  TempFile plan("plan.tariff",
                "plan \"basic\" {\n  currency USD\n  period month\n\n  charge \"Basic\" = 10.00 USD\n\n"
                "  test \"bad percent\" period 2026-03-01 .. 2026-04-01 {\n"
                "    contract { kind = \"discount\", name = \"Coupon\", percent = 120, duration = \"once\", start = 2026-03-01 }\n"
                "    expect total = 8.00 USD\n  }\n\n"
                "  test \"no period\" {\n"
                "    contract { kind = \"discount\", percent = 20 }\n"
                "    expect total = 8.00 USD\n  }\n\n"
                "  test \"half off\" period 2026-03-01 .. 2026-04-01 {\n"
                "    contract { kind = \"discount\", name = \"Half\", percent = 50 }\n"
                "    expect \"Half\" = -5.00 USD\n"
                "    expect total = 5.00 USD\n  }\n}\n");
  std::ostringstream out, err;
  int code = driver::Run({"test", plan.path.string()}, out, err);
  const std::string text = out.str() + err.str();
  INFO(text);
  // `tariff check`'s own checks (run first by `tariff test`) find both, with their spans.
  CHECK(code == 1);
  CHECK(text.find(plan.path.string() + ":8:") != std::string::npos);
  CHECK(text.find("error[E0610]: `contract.percent` is `120`, not a percentage") != std::string::npos);
  CHECK(text.find(plan.path.string() + ":13:") != std::string::npos);
  CHECK(text.find("error[E0609]: test \"no period\" has a `contract` but no period") != std::string::npos);
}
