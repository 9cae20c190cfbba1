// tests/unit: `tariff explain` and the engine's derivations (RatingOptions::explain). The golden
// runner checks every golden rate case explained (tests/golden: `golden explain-sums`); these
// tests pin what it does not: the command's errors, that rating without explain makes no
// derivation, that tracing one customer traces no other, and that a derivation's terms are
// computed, not filled in.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "runtime/exec/exec.h"
#include "runtime/io/usage_reader.h"
#include "tools/driver/driver.h"

namespace {

using namespace tariff;
namespace fs = std::filesystem;

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult RunTariff(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = driver::Run(args, out, err);
  return {code, out.str(), err.str()};
}

constexpr const char* kPlan = R"tariff(plan "explain-unit" {
  currency USD
  period month
  rounding half_up per line

  unit call

  event api_batch {
    calls: quantity of call
  }
  event payment {
    amount: money
  }

  meter calls = sum(api_batch.calls)

  charge "Calls" = graduated calls {
    up to 100 call  free
    above           0.015 USD per call
  }
  charge "Fees" = each payment: payment.amount * 2.9% + 0.30 USD free first 1 payment
  minimum 5.00 USD
}
)tariff";

constexpr const char* kUsage =
    "event,customer,time,calls,amount\n"
    "api_batch,acme,2026-03-01T10:00:00Z,150,\n"
    "api_batch,beta,2026-03-01T10:00:00Z,1000,\n"
    "payment,acme,2026-03-02T10:00:00Z,,10.00\n"
    "payment,acme,2026-03-03T10:00:00Z,,33.33\n"
    "api_batch,acme,2026-03-04T10:00:00Z,57.5,\n";

// The plan and usage in a fresh folder, removed at the end of the test.
struct Files {
  fs::path dir;
  std::string plan, usage;
  Files() {
    dir = fs::temp_directory_path() / ("tariff-explain-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    plan = (dir / "plan.tariff").string();
    usage = (dir / "usage.csv").string();
    std::ofstream(plan) << kPlan;
    std::ofstream(usage) << kUsage;
  }
  ~Files() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Rates kUsage with `options` straight through the engine.
std::vector<Invoice> Rate(const Files& files, const RatingOptions& options) {
  SourceManager sources;
  auto loaded = sources.Load(files.plan);
  REQUIRE(loaded.ok());
  DiagnosticSink sink;
  CheckedSource checked = CheckSource(sources, loaded.file, sink);
  REQUIRE(checked.ok());
  LowerResult lowered = Lower(*checked.checked, checked.checked->plans[0], sources.file(loaded.file));
  REQUIRE(lowered.ok());
  std::vector<EventSchema> schemas = SchemasOf(lowered.function);
  auto reader = OpenUsage({files.usage}, schemas, UsageReaderOptions{});
  Engine engine(lowered.function, options);
  Batch batch;
  while (reader->Next(batch)) engine.Consume(batch);
  REQUIRE(reader->error().empty());
  return engine.Finish();
}

Decimal SumOfTerms(const Derivation& d) {
  Decimal sum;
  for (const DerivationTerm& t : d.terms) sum = sum + t.amount;
  return sum;
}

}  // namespace

TEST_CASE("explain: --customer is required (a usage error, exit 2)") {
  Files files;
  auto r = RunTariff({"explain", files.plan, "--usage", files.usage});
  CHECK(r.code == 2);
  CHECK(r.err.find("--customer") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("explain: a customer that appears nowhere is an error naming it (exit 1)") {
  Files files;
  auto r = RunTariff({"explain", files.plan, "--usage", files.usage, "--customer", "zeta"});
  CHECK(r.code == 1);
  CHECK(r.err.find("customer `zeta` has no invoice: no rated usage and no subscription") != std::string::npos);
  CHECK(r.err.find("acme, beta") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("explain: other usage errors exit 2 like rate's") {
  Files files;
  CHECK(RunTariff({"explain", files.plan, "--customer", "acme"}).code == 2);  // no --usage
  CHECK(RunTariff({"explain", files.plan, "--usage", files.usage, "--customer", "acme", "--format", "csv"}).code == 2);
  CHECK(RunTariff({"explain", files.plan, "--usage", (files.dir / "nope.csv").string(), "--customer", "acme"}).code == 2);
  CHECK(RunTariff({"explain", (files.dir / "nope.tariff").string(), "--usage", files.usage, "--customer", "acme"}).code == 2);
}

TEST_CASE("explain: text and JSON show the same lines, and the text adds up every line and the total") {
  Files files;
  auto text = RunTariff({"explain", files.plan, "--usage", files.usage, "--customer", "acme"});
  REQUIRE(text.code == 0);
  CHECK(text.out.find("Calls: 1.61 USD") != std::string::npos);  // 207.5 - 100 = 107.5 × 0.015 = 1.6125
  CHECK(text.out.find("1.61 = 0 (tier 1) + 1.6125 (tier 2) - 0.0025 (rounding half_up to 2 decimals)") != std::string::npos);
  CHECK(text.out.find("total 5.00 USD = ") != std::string::npos);
  auto json = RunTariff({"explain", files.plan, "--usage", files.usage, "--customer", "acme", "--format", "json"});
  REQUIRE(json.code == 0);
  CHECK(json.out.find("\"customer\": \"acme\"") != std::string::npos);
  CHECK(json.out.find("\"kind\": \"minimum\"") != std::string::npos);
}

TEST_CASE("explain: without RatingOptions::explain no line has a derivation") {
  Files files;
  for (const Invoice& inv : Rate(files, RatingOptions{})) {
    for (const InvoiceLine& line : inv.lines) CHECK(line.derivation == nullptr);
  }
}

TEST_CASE("explain: explain_customer traces that customer only, exactly as tracing everyone does") {
  Files files;
  RatingOptions everyone;
  everyone.explain = true;
  RatingOptions one = everyone;
  one.explain_customer = "acme";
  const std::vector<Invoice> all = Rate(files, everyone), traced = Rate(files, one);
  REQUIRE(all.size() == 2);
  REQUIRE(traced.size() == 2);
  for (std::size_t i = 0; i < all.size(); ++i) {
    REQUIRE(all[i].lines.size() == traced[i].lines.size());
    CHECK(all[i].total == traced[i].total);
    for (std::size_t l = 0; l < all[i].lines.size(); ++l) {
      const InvoiceLine& a = all[i].lines[l];
      const InvoiceLine& t = traced[i].lines[l];
      CHECK(a.amount.IdenticalTo(t.amount));
      REQUIRE(a.derivation != nullptr);
      CHECK(SumOfTerms(*a.derivation) == a.amount);
      if (all[i].customer != "acme") {
        CHECK(t.derivation == nullptr);
        continue;
      }
      REQUIRE(t.derivation != nullptr);
      REQUIRE(t.derivation->steps.size() == a.derivation->steps.size());
      for (std::size_t s = 0; s < a.derivation->steps.size(); ++s) CHECK(t.derivation->steps[s].text == a.derivation->steps[s].text);
    }
  }
}

TEST_CASE("explain: the steps carry the numbers — events, meter, tiers, free events, roundings") {
  Files files;
  RatingOptions options;
  options.explain = true;
  options.explain_customer = "acme";
  const std::vector<Invoice> invoices = Rate(files, options);
  const Invoice& acme = invoices[0];
  REQUIRE(acme.customer == "acme");
  REQUIRE(acme.lines.size() == 3);  // Calls, Fees, the minimum's true-up
  auto step = [](const InvoiceLine& line, const std::string& kind, int nth = 0) -> const DerivationStep* {
    for (const DerivationStep& s : line.derivation->steps) {
      if (s.kind == kind && nth-- == 0) return &s;
    }
    return nullptr;
  };

  const InvoiceLine& calls = acme.lines[0];
  REQUIRE(calls.derivation);
  REQUIRE(step(calls, "events"));
  CHECK(*step(calls, "events")->value == Decimal(2));
  CHECK(*step(calls, "meter")->value == Decimal::FromString("207.5"));
  CHECK(step(calls, "meter")->unit == "call");
  REQUIRE(step(calls, "tier", 1));
  CHECK(*step(calls, "tier", 1)->value == Decimal::FromString("1.6125"));
  const DerivationStep* round = step(calls, "round");
  REQUIRE(round);
  CHECK(*round->before == Decimal::FromString("1.6125"));
  CHECK(round->value->IdenticalTo(Decimal::FromString("1.61")));
  CHECK(round->mode == "half_up");
  CHECK(round->scale == 2);
  CHECK(round->source_begin >= 0);
  CHECK(std::string(kPlan).substr(static_cast<std::size_t>(round->source_begin), 8) == "rounding");
  CHECK(SumOfTerms(*calls.derivation) == calls.amount);

  // Fees: the 10.00 payment is free; 33.33 × 2.9% + 0.30 = 1.26657 → 1.27.
  const InvoiceLine& fees = acme.lines[1];
  CHECK(fees.amount.IdenticalTo(Decimal::FromString("1.27")));
  REQUIRE(step(fees, "free"));
  CHECK(*step(fees, "free")->value == Decimal::FromString("0.59"));
  CHECK(*step(fees, "events")->value == Decimal(2));
  CHECK(SumOfTerms(*fees.derivation) == fees.amount);

  // The minimum: 5.00 − (1.61 + 1.27) = 2.12.
  const InvoiceLine& minimum = acme.lines[2];
  CHECK(minimum.kind == LineKind::kMinimum);
  CHECK(minimum.amount == Decimal::FromString("2.12"));
  REQUIRE(minimum.derivation);
  REQUIRE(minimum.derivation->terms.size() == 2);
  CHECK(minimum.derivation->terms[0].amount == Decimal::FromString("5.00"));
  CHECK(minimum.derivation->terms[1].amount == Decimal::FromString("-2.88"));
}

TEST_CASE("explain: a long per-event line lists its first events in time order, whatever the batch size") {
  Files files;
  // 100 payments in reverse time order, with ties in time: the listing must not depend on the
  // order they arrive in or on how they are cut into batches.
  std::ofstream usage(files.usage);
  usage << "event,customer,time,calls,amount\n";
  for (int i = 99; i >= 0; --i) {
    usage << fmt::format("payment,acme,2026-03-{:02}T10:00:00Z,,{}.{:02}\n", 1 + i / 4, 10 + i % 7, i);
  }
  usage.close();
  std::string first;
  for (const char* batch : {"4096", "1", "7"}) {
    auto r = RunTariff({"explain", files.plan, "--usage", files.usage, "--customer", "acme", "--format", "json", "--batch-size", batch});
    REQUIRE(r.code == 0);
    if (first.empty()) first = r.out;
    CHECK(r.out == first);
  }
  CHECK(first.find("… and 80 more `payment` events") != std::string::npos);
  CHECK(first.find("`payment` at 2026-03-01T10:00:00Z, amount 10.00 USD: free") != std::string::npos);
}

TEST_CASE("explain: a plan with errors is reported and not explained (exit 1)") {
  Files files;
  const std::string broken = (files.dir / "broken.tariff").string();
  std::ofstream(broken) << "plan \"x\" {\n  currency USD\n  charge \"A\" = 1 GB\n}\n";
  auto r = RunTariff({"explain", broken, "--usage", files.usage, "--customer", "acme"});
  CHECK(r.code == 1);
  CHECK(r.err.find(broken + ":3:16: error[E0301]") != std::string::npos);
  CHECK(r.err.find(broken + ": not explained: the plan has errors") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("explain: proration reads in days and points at the plan's proration rule") {
  Files files;
  const std::string plan = (files.dir / "by-day.tariff").string();
  const std::string subs = (files.dir / "subs.csv").string();
  std::ofstream(plan) << "plan \"by-day\" {\n  currency USD\n  period month\n  proration by day\n\n  charge \"Platform\" = 49.00 USD\n}\n";
  std::ofstream(subs) << "customer,start\nlate,2026-03-17T15:30:00Z\n";
  auto r = RunTariff({"explain", plan, "--subscriptions", subs, "--period", "2026-03-05", "--customer", "late"});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("[4:3]  active 15 days of 31 days: 49.00 USD × 15 ÷ 31 = ") != std::string::npos);
  CHECK(r.out.find("Platform: 23.71 USD") != std::string::npos);
}
