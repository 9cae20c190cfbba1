// tests/unit: progressive billing (`invoice when usage reaches`, runtime/billing/progressive.h)
// on random usage, against a brute force: every prefix of each customer's events rated on its
// own. Checked: each threshold invoice is issued at the first event at which the usage lines
// not yet billed reach the threshold, and bills exactly the difference; and the threshold
// invoices plus the closing invoice add up, line by line, to the invoice without a threshold
// (docs/billing.md, "Progressive billing", rules 2–5). One plan whose usage never falls (the
// search bisects) and one with falling volume tiers (it goes event by event).
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "runtime/billing/billing.h"
#include "runtime/billing/progressive.h"
#include "runtime/columnar/timestamp.h"
#include "runtime/invoice/amendment.h"

namespace {

using namespace tariff;

struct Plans {
  SourceManager sources;
  CheckedSource checked;
  std::vector<ir::RatingFunction> functions;
  PlanSet Set() const {
    PlanSet set;
    set.default_plan = functions.front().plan;
    for (const ir::RatingFunction& f : functions) set.functions.push_back(&f);
    return set;
  }
};

std::unique_ptr<Plans> Compile(const std::string& text) {
  auto p = std::make_unique<Plans>();
  FileId file = p->sources.AddFile("progressive.tariff", text);
  DiagnosticSink sink;
  p->checked = CheckSource(p->sources, file, sink);
  for (const Diagnostic& d : sink.Sorted()) UNSCOPED_INFO(d.message);
  REQUIRE(p->checked.ok());
  for (const CheckedPlan& plan : p->checked.checked->plans) {
    LowerResult lowered = Lower(*p->checked.checked, plan, p->sources.file(file));
    REQUIRE(lowered.ok());
    p->functions.push_back(std::move(lowered.function));
  }
  return p;
}

// Never falls: sums of token counts that are not negative, graduated tiers, packages, per-event
// amounts; a fee and a minimum that only the closing invoice settles.
constexpr const char* kRising = R"tariff(
plan "rising" {
  currency USD
  period month
  unit token

  event req {
    model: one of "a", "b"
    tokens: quantity of token
  }
  meter tokens = sum(req.tokens)
  meter calls = count(req)

  charge "Fee" = 5.00 USD
  charge "Tokens" by req.model = graduated tokens {
    up to 100 token  0.05 USD per token
    above            0.02 USD per token
  }
  charge "Calls" = calls * 1.00 USD per started 3 req
  charge "Each" = each req: req.tokens * 0.003 USD per token

  minimum 30.00 USD
  invoice when usage reaches 7.50 USD
}
)tariff";

// May fall: volume tiers whose price drops at 200 tokens (200 tokens cost less than 199).
constexpr const char* kFalling = R"tariff(
plan "falling" {
  currency USD
  period month
  unit token

  event req {
    model: one of "a", "b"
    tokens: quantity of token
  }
  meter tokens = sum(req.tokens)

  charge "Tokens" = volume tokens {
    up to 200 token  0.10 USD per token
    above            0.04 USD per token
  } allow falling_total

  invoice when usage reaches 6.00 USD
}
)tariff";

struct Row {
  std::string customer;
  std::int64_t time;
  std::string model;
  std::string tokens;
  std::uint64_t line;
};

void Feed(Biller& biller, const std::vector<Row>& rows) {
  const EventSchema& schema = biller.schemas().front();
  Batch batch;
  batch.Reset(&schema, 0);
  for (const Row& r : rows) {
    for (std::size_t f = 0; f < schema.fields.size(); ++f) {
      Column& col = batch.columns[f];
      const std::string& name = schema.fields[f].name;
      if (static_cast<int>(f) == schema.customer_field) col.texts.push_back(r.customer);
      else if (static_cast<int>(f) == schema.time_field) col.times.push_back(r.time);
      else if (name == "model") col.texts.push_back(r.model);
      else col.decimals.push_back(*Decimal::Parse(r.tokens).value);
    }
    batch.origins.push_back(RowOrigin{0, r.line});
    if (batch.size() == 7) {  // small batches: a customer's events span several
      biller.Consume(batch);
      batch.Reset(&schema, 0);
    }
  }
  if (batch.size() > 0) biller.Consume(batch);
}

BillingOptions March(const PlanSet& set) {
  BillingOptions o;
  o.period_start = ParsePlanTime(set, "2026-03-01", nullptr);
  o.period_end = ParsePlanTime(set, "2026-04-01", nullptr);
  o.period_start_text = "2026-03-01T00:00:00Z";
  o.period_end_text = "2026-04-01T00:00:00Z";
  return o;
}

std::vector<Row> RandomRows(std::uint32_t seed, bool negative) {
  std::mt19937 rng(seed);
  const std::int64_t start = *ParseTimestamp("2026-03-01T00:00:00Z");
  std::vector<Row> rows;
  const int n = 20 + static_cast<int>(rng() % 40);
  for (int i = 0; i < n; ++i) {
    Row r;
    r.customer = std::string(1, static_cast<char>('p' + rng() % 3));
    r.time = start + static_cast<std::int64_t>(rng() % 40) * 3600LL * 1000000LL * 12;  // ties happen
    r.model = rng() % 2 != 0 ? "a" : "b";
    int tokens = static_cast<int>(rng() % 90);
    if (negative && rng() % 6 == 0) tokens = -tokens;
    r.tokens = std::to_string(tokens) + (rng() % 3 == 0 ? ".5" : "");
    if (r.tokens[0] == '-' && r.tokens == "-0.5") r.tokens = "0.5";
    r.line = static_cast<std::uint64_t>(i) + 2;
    rows.push_back(r);
  }
  return rows;
}

bool IsUsage(const InvoiceLine& l) { return l.kind == LineKind::kCharge && l.name != "Fee"; }

Decimal UsageOf(const Invoice& inv) {
  Decimal s;
  for (const InvoiceLine& l : inv.lines) {
    if (IsUsage(l)) s = s + l.amount;
  }
  return s;
}

// Returns how many threshold invoices were issued (so that a test can require some).
std::size_t Check(const char* text, std::uint32_t seed, bool negative) {
  auto plans = Compile(text);
  const PlanSet set = plans->Set();
  const Decimal threshold = *plans->functions.front().threshold;
  const std::vector<Row> rows = RandomRows(seed, negative);

  BillingOptions options = March(set);
  Biller progressive(set, {}, {}, options);
  Feed(progressive, rows);
  std::vector<Invoice> closing = progressive.Finish();
  const std::vector<Invoice>& early = progressive.threshold_invoices();

  BillingOptions once = options;
  once.progressive = false;
  Biller plain(set, {}, {}, once);
  Feed(plain, rows);
  const std::vector<Invoice> full = plain.Finish();
  REQUIRE(full.size() == closing.size());

  for (std::size_t c = 0; c < full.size(); ++c) {
    const std::string& customer = full[c].customer;
    INFO("seed " << seed << " customer " << customer);
    std::vector<const Invoice*> mine;
    for (const Invoice& inv : early) {
      if (inv.customer == customer) mine.push_back(&inv);
    }
    // Brute force: the customer's events in time order (ties by line), each prefix rated.
    std::vector<Row> own;
    for (const Row& r : rows) {
      if (r.customer == customer) own.push_back(r);
    }
    std::stable_sort(own.begin(), own.end(), [](const Row& a, const Row& b) { return a.time != b.time ? a.time < b.time : a.line < b.line; });
    Decimal billed;
    std::vector<std::pair<std::int64_t, Decimal>> expected;  // (time, total) of each threshold invoice
    for (std::size_t k = 1; k <= own.size(); ++k) {
      Biller prefix(set, {}, {}, once);
      Feed(prefix, std::vector<Row>(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(k)));
      const Decimal f = UsageOf(prefix.Finish().front());
      if (f - billed >= threshold) {
        expected.emplace_back(own[k - 1].time, f - billed);
        billed = f;
      }
    }
    REQUIRE(mine.size() == expected.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
      CHECK(mine[i]->kind == "threshold");
      CHECK(*ParseTimestamp(mine[i]->issued_at) == expected[i].first);
      CHECK(mine[i]->total == expected[i].second);
      CHECK(mine[i]->total >= threshold);
    }
    // Threshold invoices + closing = the invoice without a threshold, line by line and in total.
    std::map<LineKey, Decimal> sum, want;
    Decimal total = closing[c].total;
    for (const Invoice* inv : mine) total = total + inv->total;
    CHECK(total == full[c].total);
    auto add = [](std::map<LineKey, Decimal>& m, const InvoiceLine& l) {
      LineKey k = KeyOf(l);
      if (l.kind == LineKind::kBilledEarlier) k.kind = LineKind::kCharge;  // it belongs to the line above
      m[k] = m[k] + l.amount;
    };
    for (const Invoice* inv : mine) {
      for (const InvoiceLine& l : inv->lines) add(sum, l);
    }
    for (const InvoiceLine& l : closing[c].lines) add(sum, l);
    for (const InvoiceLine& l : full[c].lines) add(want, l);
    for (auto& [k, v] : sum) CHECK(v == want[k]);
    for (auto& [k, v] : want) CHECK(v == sum[k]);
  }
  return early.size();
}

}  // namespace

TEST_CASE("progressive: a plan whose usage never falls is bisected", "[progressive]") {
  auto plans = Compile(kRising);
  std::vector<std::pair<std::string, std::string>> fields;
  CHECK(UsageNeverFalls(plans->functions.front(), fields));
  CHECK(std::find(fields.begin(), fields.end(), std::make_pair(std::string("req"), std::string("tokens"))) != fields.end());
  auto falling = Compile(kFalling);
  CHECK_FALSE(UsageNeverFalls(falling->functions.front(), fields));
}

TEST_CASE("progressive: threshold invoices against every prefix rated, rising usage", "[progressive]") {
  std::size_t issued = 0;
  for (std::uint32_t seed = 1; seed <= 12; ++seed) issued += Check(kRising, seed, false);
  CHECK(issued > 20);
}

TEST_CASE("progressive: negative rows make the search go event by event, still exact", "[progressive]") {
  std::size_t issued = 0;
  for (std::uint32_t seed = 100; seed <= 106; ++seed) issued += Check(kRising, seed, true);
  CHECK(issued > 10);
}

TEST_CASE("progressive: falling volume tiers, event by event", "[progressive]") {
  std::size_t issued = 0;
  for (std::uint32_t seed = 200; seed <= 208; ++seed) issued += Check(kFalling, seed, false);
  CHECK(issued > 10);
}
