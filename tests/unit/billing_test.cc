// tests/unit: the billing layer (runtime/billing) driven directly, the way `tariff rate` drives
// it: plans compiled from text (CheckSource + Lower), subscriptions and credit grants built
// here, usage fed in batches of one event type. Every amount asserted is worked out by hand in
// the comment beside it (docs/billing.md states the rules).
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "runtime/billing/billing.h"
#include "runtime/exec/exec.h"
#include "runtime/io/invoice_writer.h"
#include "runtime/io/usage_reader.h"

namespace {

using namespace tariff;

// ---- Plans --------------------------------------------------------------------------------

// Every plan (and version) of one source text, lowered; the functions never move.
struct Plans {
  SourceManager sources;
  CheckedSource checked;
  std::vector<ir::RatingFunction> functions;

  PlanSet Set(const std::string& default_plan) const {
    PlanSet set;
    set.default_plan = default_plan;
    for (const ir::RatingFunction& f : functions) set.functions.push_back(&f);
    return set;
  }
};

std::unique_ptr<Plans> Compile(const std::string& text) {
  auto p = std::make_unique<Plans>();
  FileId file = p->sources.AddFile("billing.tariff", text);
  DiagnosticSink sink;
  p->checked = CheckSource(p->sources, file, sink);
  for (const Diagnostic& d : sink.Sorted()) UNSCOPED_INFO(d.message);
  REQUIRE(p->checked.ok());
  p->functions.reserve(p->checked.checked->plans.size());
  for (const CheckedPlan& plan : p->checked.checked->plans) {
    LowerResult lowered = Lower(*p->checked.checked, plan, p->sources.file(file));
    for (const std::string& e : lowered.errors) UNSCOPED_INFO(e);
    REQUIRE(lowered.ok());
    p->functions.push_back(std::move(lowered.function));
  }
  return p;
}

// A flat fee, a usage charge, a fee that is never prorated and one prorated by day in a plan
// prorated by second. March 2026 in UTC: 31 days = 2,678,400 s.
constexpr const char* kFeePlan = R"tariff(
plan "fee" {
  currency USD
  period month
  proration by second

  unit request
  event request {}
  meter requests = count(request)

  charge "Platform" = 31.00 USD
  charge "Requests" = requests * 1.00 USD per request
  charge "Support" = 31.00 USD not prorated
  charge "Daily" = 31.00 USD prorated by day
}

plan "fee-none" {
  currency USD
  period month
  proration none

  charge "Platform" = 31.00 USD
}
)tariff";

// Months in New York: March 2026 has 743 hours (clocks spring forward on March 8).
constexpr const char* kNewYorkPlan = R"tariff(
plan "ny" {
  currency USD
  period month timezone "America/New_York"
  proration by second

  charge "Hourly" = 743.00 USD
}

plan "ny-day" {
  currency USD
  period month timezone "America/New_York"
  proration by day

  charge "Daily" = 31.00 USD
}
)tariff";

// docs/billing.md's by-day example: 49.00 × 15 ÷ 31 = 23.709677… → 23.71.
constexpr const char* kByDayPlan = R"tariff(
plan "by-day" {
  currency USD
  period month
  proration by day

  unit request
  event request {}
  meter requests = count(request)

  charge "Platform" = 49.00 USD
  charge "Requests" = requests * 0.01 USD per request
  minimum 100.00 USD on "Requests"
}
)tariff";

// Minimums: prorated by the plan (second), not prorated, prorated by day. April: 30 days.
constexpr const char* kMinimumPlans = R"tariff(
plan "min-second" {
  currency USD
  period month
  proration by second

  unit request
  event request {}
  meter requests = count(request)

  charge "Requests" = requests * 1.00 USD per request
  minimum 100.00 USD on "Requests"
}

plan "min-none" {
  currency USD
  period month
  proration by second

  unit request
  event request {}
  meter requests = count(request)

  charge "Requests" = requests * 1.00 USD per request
  minimum 100.00 USD on "Requests" not prorated
}

plan "min-day" {
  currency USD
  period month
  proration by second

  unit request
  event request {}
  meter requests = count(request)

  charge "Requests" = requests * 1.00 USD per request
  minimum 100.00 USD on "Requests" prorated by day
}
)tariff";

// Stripe's upgrade case, and seats from the subscription.
constexpr const char* kUpgradePlans = R"tariff(
plan "basic" {
  currency USD
  period month
  proration by second

  unit request
  event request {}
  meter requests = count(request)

  charge "Basic" = 10.00 USD
  charge "Basic requests" = requests * 1.00 USD per request
}

plan "pro" {
  currency USD
  period month
  proration by second

  unit request
  event request {}
  meter requests = count(request)

  charge "Pro" = 20.00 USD
  charge "Pro requests" = requests * 0.50 USD per request
}

plan "seats" {
  currency USD
  period month

  unit seat
  subscription {
    seats: quantity of seat
  }

  charge "Seats" = subscription.seats * 1.00 USD per seat
}
)tariff";

// Two versions: v1 from January 15, v2 from March 16. Tiers: the first 2 requests are free.
// v2 does not read `legacy` events. `api` splits at the change; `api-next` waits for the next
// period.
constexpr const char* kVersionPlans = R"tariff(
plan "api" version 1 effective 2026-01-15 {
  currency USD
  period month
  proration by second

  unit request, legacy
  event request {}
  event legacy {}
  meter requests = count(request)
  meter legacy_calls = count(legacy)

  charge "Platform" = 31.00 USD
  charge "Requests" = graduated requests {
    up to 2 request  free
    above            1.00 USD per request
  }
  charge "Legacy" = legacy_calls * 0.50 USD per legacy
}

plan "api" version 2 effective 2026-03-16 {
  currency USD
  period month
  proration by second
  on change split

  unit request
  event request {}
  meter requests = count(request)

  charge "Platform" = 62.00 USD
  charge "Requests" = graduated requests {
    up to 2 request  free
    above            2.00 USD per request
  }
}

plan "api-next" version 1 effective 2026-01-15 {
  currency USD
  period month
  proration by second

  unit request, legacy
  event request {}
  event legacy {}
  meter requests = count(request)
  meter legacy_calls = count(legacy)

  charge "Platform" = 31.00 USD
  charge "Requests" = graduated requests {
    up to 2 request  free
    above            1.00 USD per request
  }
  charge "Legacy" = legacy_calls * 0.50 USD per legacy
}

plan "api-next" version 2 effective 2026-03-16 {
  currency USD
  period month
  proration by second
  on change next period

  unit request
  event request {}
  meter requests = count(request)

  charge "Platform" = 62.00 USD
  charge "Requests" = graduated requests {
    up to 2 request  free
    above            2.00 USD per request
  }
}
)tariff";

// A 25.00 USD monthly fee in plans that draw credits in every declared order.
constexpr const char* kCreditPlans = R"tariff(
plan "cr-default" {
  currency USD
  period month
  charge "Platform" = 25.00 USD
}

plan "cr-expiry" {
  currency USD
  period month
  credits drawn by expiry
  charge "Platform" = 25.00 USD
}

plan "cr-priority" {
  currency USD
  period month
  credits drawn by priority
  charge "Platform" = 25.00 USD
}

plan "cr-created" {
  currency USD
  period month
  credits drawn by created
  charge "Platform" = 25.00 USD
}

plan "cr-amount" {
  currency USD
  period month
  credits drawn by amount
  charge "Platform" = 25.00 USD
}

plan "cr-amount-priority" {
  currency USD
  period month
  credits drawn by amount, priority
  charge "Platform" = 25.00 USD
}

plan "cr-usage" {
  currency USD
  period month

  unit request
  event request {}
  meter requests = count(request)

  charge "Requests" = requests * 1.00 USD per request
}
)tariff";

// ---- Inputs -------------------------------------------------------------------------------

std::int64_t At(const PlanSet& plans, const std::string& text) {
  std::string why;
  auto t = ParsePlanTime(plans, text, &why);
  INFO(text << ": " << why);
  REQUIRE(t.has_value());
  return *t;
}

BillingOptions Period(const PlanSet& plans, const std::string& start, const std::string& end) {
  BillingOptions o;
  o.period_start = At(plans, start);
  o.period_end = At(plans, end);
  o.period_start_text = start;
  o.period_end_text = end;
  return o;
}

// Options for a run with a subscriptions input.
BillingOptions Input(BillingOptions o) {
  o.subscriptions_input = true;
  return o;
}
BillingOptions March(const PlanSet& plans) { return Period(plans, "2026-03-01", "2026-04-01"); }
BillingOptions April(const PlanSet& plans) { return Period(plans, "2026-04-01", "2026-05-01"); }

Subscription Sub(const PlanSet& plans, const std::string& customer, const std::string& start = "",
                 const std::string& end = "", const std::string& plan = "", const std::string& version = "") {
  Subscription s;
  s.customer = customer;
  s.plan = plan;
  s.version = version;
  if (!start.empty()) s.start = At(plans, start);
  if (!end.empty()) s.end = At(plans, end);
  s.origin = "subscriptions.csv:" + customer;
  return s;
}

Subscription WithSeats(Subscription s, std::int64_t seats) {
  SubscriptionValue v;
  v.field = "seats";
  v.kind = ir::ValueKind::kDecimal;
  v.number = Decimal(seats);
  s.values.push_back(v);
  return s;
}

CreditGrant Grant(const PlanSet& plans, const std::string& customer, const std::string& id, const std::string& amount,
                  const std::string& expires = "", std::int64_t priority = 0, const std::string& created = "") {
  CreditGrant g;
  g.customer = customer;
  g.id = id;
  DecimalParseResult d = Decimal::Parse(amount);
  REQUIRE(d.value.has_value());
  g.amount = *d.value;
  if (!expires.empty()) g.expires = At(plans, expires);
  if (!created.empty()) g.created = At(plans, created);
  g.priority = priority;
  g.origin = "credits.csv:" + id;
  return g;
}

// One usage row: an event of `customer` at `time` (RFC 3339 with an offset); other fields by name.
struct UsageRow {
  std::string event;
  std::string customer;
  std::string time;
  std::map<std::string, std::string> fields = {};
  std::uint64_t line = 0;  // 0: numbered in order, from 2 (after a header)
};

struct Rated {
  std::vector<Invoice> invoices;
  std::string jsonl;
  std::uint64_t rated = 0;
  std::vector<RoutingReject> rejects;
};

// Feeds `rows` to `biller` in batches of at most `batch_size` rows of one event type, as the
// usage reader makes them.
void Feed(Biller& biller, const std::vector<UsageRow>& rows, std::size_t batch_size) {
  const std::vector<EventSchema>& schemas = biller.schemas();
  Batch batch;
  auto flush = [&]() {
    if (batch.schema != nullptr && batch.size() > 0) {
      biller.Consume(batch);
      batch.Reset(batch.schema, batch.event);
    }
  };
  std::uint64_t line = 1;
  for (const UsageRow& row : rows) {
    ++line;
    int event = -1;
    for (std::size_t i = 0; i < schemas.size(); ++i) {
      if (schemas[i].name == row.event) event = static_cast<int>(i);
    }
    INFO("event " << row.event);
    REQUIRE(event >= 0);
    if (batch.schema != nullptr && batch.size() > 0 && (batch.event != event || batch.size() >= batch_size)) flush();
    if (batch.schema == nullptr || batch.size() == 0) batch.Reset(&schemas[static_cast<std::size_t>(event)], event);
    const EventSchema& schema = schemas[static_cast<std::size_t>(event)];
    for (std::size_t f = 0; f < schema.fields.size(); ++f) {
      const FieldSchema& field = schema.fields[f];
      Column& col = batch.columns[f];
      if (static_cast<int>(f) == schema.customer_field) {
        col.texts.push_back(row.customer);
        continue;
      }
      if (static_cast<int>(f) == schema.time_field) {
        auto t = ParseTimestamp(row.time);
        INFO("time " << row.time);
        REQUIRE(t.has_value());
        col.times.push_back(*t);
        continue;
      }
      auto it = row.fields.find(field.name);
      INFO("field " << field.name);
      REQUIRE(it != row.fields.end());
      switch (col.type) {
        case ColumnType::kDecimal: col.decimals.push_back(*Decimal::Parse(it->second).value); break;
        case ColumnType::kText: col.texts.push_back(it->second); break;
        case ColumnType::kBool: col.bools.push_back(it->second == "true" ? 1 : 0); break;
        case ColumnType::kTimestamp: col.times.push_back(*ParseTimestamp(it->second)); break;
      }
    }
    batch.origins.push_back(RowOrigin{0, row.line != 0 ? row.line : line});
  }
  flush();
}

Rated Rate(const PlanSet& plans, std::vector<Subscription> subscriptions, std::vector<CreditGrant> credits,
           const BillingOptions& given, const std::vector<UsageRow>& rows = {}, std::size_t batch_size = 4096) {
  // Subscriptions given: they are the subscriptions input (as `rate --subscriptions`).
  BillingOptions options = given;
  if (!subscriptions.empty()) options.subscriptions_input = true;
  Biller biller(plans, std::move(subscriptions), std::move(credits), options);
  Feed(biller, rows, batch_size);
  Rated out;
  out.invoices = biller.Finish();
  out.rated = biller.rows_rated();
  out.rejects = biller.rejects();
  std::ostringstream text;
  WriteInvoicesJsonl(out.invoices, text);
  out.jsonl = text.str();
  return out;
}

// ---- Looking at invoices ------------------------------------------------------------------

const Invoice& InvoiceOf(const Rated& r, const std::string& customer) {
  for (const Invoice& inv : r.invoices) {
    if (inv.customer == customer) return inv;
  }
  FAIL("no invoice for " << customer << "; invoices:\n" << r.jsonl);
  throw std::logic_error("unreachable");
}

bool HasInvoice(const Rated& r, const std::string& customer) {
  return std::any_of(r.invoices.begin(), r.invoices.end(), [&](const Invoice& i) { return i.customer == customer; });
}

std::vector<const InvoiceLine*> LinesNamed(const Invoice& inv, const std::string& name) {
  std::vector<const InvoiceLine*> out;
  for (const InvoiceLine& l : inv.lines) {
    if (l.name == name) out.push_back(&l);
  }
  return out;
}

// The amount of the one line called `name`, as written ("5.00").
std::string Amount(const Invoice& inv, const std::string& name) {
  std::vector<const InvoiceLine*> lines = LinesNamed(inv, name);
  INFO("line " << name << " of " << inv.customer);
  REQUIRE(lines.size() == 1);
  return lines.front()->amount.ToString();
}

const InvoiceLine* LineOfKind(const Invoice& inv, LineKind kind) {
  for (const InvoiceLine& l : inv.lines) {
    if (l.kind == kind) return &l;
  }
  return nullptr;
}

// The sum of the lines equals the total, exactly (invariant 2).
void CheckConserved(const Invoice& inv) {
  Decimal sum;
  for (const InvoiceLine& l : inv.lines) sum = sum + l.amount;
  INFO("invoice of " << inv.customer);
  CHECK(sum == inv.total);
}

const CreditBalance& Balance(const Invoice& inv, const std::string& grant) {
  for (const CreditBalance& b : inv.credits) {
    if (b.id == grant) return b;
  }
  FAIL("no grant " << grant << " on the invoice of " << inv.customer);
  throw std::logic_error("unreachable");
}

std::vector<std::string> CreditOrder(const Invoice& inv) {
  std::vector<std::string> ids;
  for (const CreditBalance& b : inv.credits) ids.push_back(b.id);
  return ids;
}

std::vector<std::string> CreditLines(const Invoice& inv) {
  std::vector<std::string> out;
  for (const InvoiceLine& l : inv.lines) {
    if (l.kind == LineKind::kCredit) out.push_back(l.name + " " + l.amount.ToString());
  }
  return out;
}

std::vector<UsageRow> Requests(const std::string& customer, const std::vector<std::string>& times) {
  std::vector<UsageRow> rows;
  for (const std::string& t : times) rows.push_back(UsageRow{"request", customer, t});
  return rows;
}

}  // namespace

// ---- The period ---------------------------------------------------------------------------

TEST_CASE("billing: a date reads in the plan's time zone, the period containing it is the plan's") {
  auto p = Compile(kNewYorkPlan);
  PlanSet ny = p->Set("ny");
  CHECK(FormatTimestamp(At(ny, "2026-03-01")) == "2026-03-01T05:00:00Z");
  CHECK(FormatTimestamp(At(ny, "2026-03-15T12:00:00")) == "2026-03-15T16:00:00Z");  // EDT
  CHECK(FormatTimestamp(At(ny, "2026-03-15T12:00:00Z")) == "2026-03-15T12:00:00Z");
  PeriodBounds b = BillingPeriodAt(ny, At(ny, "2026-03-15"));
  CHECK(b.start_text == "2026-03-01T00:00:00-05:00");
  CHECK(b.end_text == "2026-04-01T00:00:00-04:00");
  CHECK(b.end - b.start == 743LL * 3600 * 1'000'000);  // 31 days less the hour skipped on March 8
  // The last instant of the period is in it; the first of the next is not.
  CHECK(BillingPeriodAt(ny, b.end - 1).start == b.start);
  CHECK(BillingPeriodAt(ny, b.end).start == b.end);
}

TEST_CASE("billing: the period of a plan anchored on the 31st, in New York") {
  auto p = Compile(R"tariff(
plan "anchored" {
  currency USD
  period month anchor 2026-01-31 timezone "America/New_York"
  charge "Fee" = 1.00 USD
}
)tariff");
  PlanSet set = p->Set("anchored");
  PeriodBounds b = BillingPeriodAt(set, At(set, "2026-02-10"));
  CHECK(b.start_text == "2026-01-31T00:00:00-05:00");
  CHECK(b.end_text == "2026-02-28T00:00:00-05:00");
  b = BillingPeriodAt(set, At(set, "2026-03-15"));
  CHECK(b.start_text == "2026-02-28T00:00:00-05:00");
  CHECK(b.end_text == "2026-03-31T00:00:00-04:00");
}

TEST_CASE("billing: a date before the first version still names its period (by the first version's rule)") {
  auto p = Compile(kVersionPlans);
  PlanSet set = p->Set("api");
  CHECK(BillingPeriodAt(set, At(set, "2026-01-10")).start == At(set, "2026-01-01"));
  CHECK(BillingPeriodAt(set, At(set, "2026-01-20")).start == At(set, "2026-01-01"));
  CHECK_THROWS_AS(BillingPeriodAt(p->Set("no-such-plan"), At(set, "2026-01-20")), BillingError);
}

// ---- Proration ----------------------------------------------------------------------------

TEST_CASE("billing: by second, a subscription starting or ending mid-period pays its share") {
  auto p = Compile(kFeePlan);
  PlanSet plans = p->Set("fee");
  std::vector<Subscription> subs = {
      Sub(plans, "whole", "2026-01-01"),
      Sub(plans, "starts", "2026-03-11"),                            // 21 of 31 days
      Sub(plans, "starts-noon", "2026-03-11T12:00:00Z"),             // 20.5 days
      Sub(plans, "ends-noon", "", "2026-03-11T12:00:00Z"),           // 10.5 days
      Sub(plans, "both", "2026-03-11T12:00:00Z", "2026-03-21T12:00:00Z"),  // 10 days
      Sub(plans, "last-hour", "2026-03-31T23:00:00Z"),               // 3600 of 2,678,400 s
  };
  Rated r = Rate(plans, subs, {}, March(plans), Requests("starts", {"2026-03-12T00:00:00Z", "2026-03-13T00:00:00Z"}));
  REQUIRE(r.invoices.size() == 6);

  const Invoice& whole = InvoiceOf(r, "whole");
  CHECK(Amount(whole, "Platform") == "31.00");
  CHECK(Amount(whole, "Daily") == "31.00");
  CHECK(Amount(whole, "Support") == "31.00");
  CHECK(whole.lines.front().rated_by.empty());  // the whole period: no part to name
  CHECK(whole.lines.front().from.empty());
  CHECK(whole.total.ToString() == "93.00");

  const Invoice& starts = InvoiceOf(r, "starts");
  CHECK(Amount(starts, "Platform") == "21.00");
  CHECK(Amount(starts, "Daily") == "21.00");     // March 11..31: 21 days
  CHECK(Amount(starts, "Support") == "31.00");   // not prorated
  CHECK(Amount(starts, "Requests") == "2.00");   // usage is never prorated
  CHECK(starts.total.ToString() == "75.00");
  const InvoiceLine& platform = *LinesNamed(starts, "Platform").front();
  CHECK(platform.rated_by == "fee");
  CHECK(platform.from == "2026-03-11T00:00:00Z");
  CHECK(platform.to == "2026-04-01T00:00:00Z");

  const Invoice& noon = InvoiceOf(r, "starts-noon");
  CHECK(Amount(noon, "Platform") == "20.50");
  CHECK(Amount(noon, "Daily") == "21.00");       // the started day counts whole
  CHECK(Amount(noon, "Support") == "31.00");

  const Invoice& ends = InvoiceOf(r, "ends-noon");
  CHECK(Amount(ends, "Platform") == "10.50");
  CHECK(Amount(ends, "Daily") == "10.00");       // March 1..10: the day it ends at noon belongs to what follows
  CHECK(LinesNamed(ends, "Platform").front()->from == "2026-03-01T00:00:00Z");  // open start: the period's
  CHECK(LinesNamed(ends, "Platform").front()->to == "2026-03-11T12:00:00Z");

  const Invoice& both = InvoiceOf(r, "both");
  CHECK(Amount(both, "Platform") == "10.00");
  CHECK(Amount(both, "Daily") == "10.00");       // March 11..20 (ends on the 21st at noon)

  const Invoice& hour = InvoiceOf(r, "last-hour");
  CHECK(Amount(hour, "Platform") == "0.04");     // 31 × 3600 ÷ 2678400 = 0.041666…
  CHECK(Amount(hour, "Daily") == "1.00");
  for (const Invoice& inv : r.invoices) CheckConserved(inv);
}

TEST_CASE("billing: proration none bills the whole fee for part of the period") {
  auto p = Compile(kFeePlan);
  PlanSet plans = p->Set("fee-none");
  Rated r = Rate(plans, {Sub(plans, "late", "2026-03-31")}, {}, March(plans));
  CHECK(Amount(InvoiceOf(r, "late"), "Platform") == "31.00");
}

TEST_CASE("billing: by second across daylight saving time, a New York March is 743 hours") {
  auto p = Compile(kNewYorkPlan);
  PlanSet plans = p->Set("ny");
  PeriodBounds b = BillingPeriodAt(plans, At(plans, "2026-03-15"));
  BillingOptions o;
  o.period_start = b.start;
  o.period_end = b.end;
  o.period_start_text = b.start_text;
  o.period_end_text = b.end_text;
  std::vector<Subscription> subs = {
      Sub(plans, "whole"),
      Sub(plans, "last-day", "2026-03-31"),          // 24 h
      Sub(plans, "before-dst", "", "2026-03-08"),    // 7 × 24 = 168 h
      Sub(plans, "from-dst", "2026-03-08"),          // 24 × 24 − 1 = 575 h
      Sub(plans, "after-dst", "2026-03-09"),         // 23 × 24 = 552 h
      Sub(plans, "utc-start", "2026-03-17T03:00:00Z"),  // to 2026-04-01T04:00Z: 361 h
  };
  Rated r = Rate(plans, subs, {}, o);
  CHECK(Amount(InvoiceOf(r, "whole"), "Hourly") == "743.00");
  CHECK(Amount(InvoiceOf(r, "last-day"), "Hourly") == "24.00");
  CHECK(Amount(InvoiceOf(r, "before-dst"), "Hourly") == "168.00");
  CHECK(Amount(InvoiceOf(r, "from-dst"), "Hourly") == "575.00");
  CHECK(Amount(InvoiceOf(r, "after-dst"), "Hourly") == "552.00");
  CHECK(Amount(InvoiceOf(r, "utc-start"), "Hourly") == "361.00");
  const InvoiceLine& line = *LinesNamed(InvoiceOf(r, "from-dst"), "Hourly").front();
  CHECK(line.from == "2026-03-08T00:00:00-05:00");
  CHECK(line.to == "2026-04-01T00:00:00-04:00");
  CHECK(InvoiceOf(r, "whole").period_start == "2026-03-01T00:00:00-05:00");
}

TEST_CASE("billing: by day counts local calendar days, a started day whole") {
  auto ny = Compile(kNewYorkPlan);
  PlanSet plans = ny->Set("ny-day");
  std::vector<Subscription> subs = {
      Sub(plans, "late-evening", "2026-03-17T03:00:00Z"),  // March 16, 23:00 EDT: 16 days
      Sub(plans, "midnight", "2026-03-17"),                // 15 days
      Sub(plans, "ends-midnight", "", "2026-03-17"),       // March 1..16: 16 days
      Sub(plans, "ends-after", "", "2026-03-17T00:00:01"), // ends after midnight: the 17th is what follows': 16 days
      Sub(plans, "one-hour", "2026-03-08T01:00:00", "2026-03-08T03:00:00"),  // starts and ends on one local date: 0 days
  };
  Rated r = Rate(plans, subs, {}, March(plans));
  CHECK(Amount(InvoiceOf(r, "late-evening"), "Daily") == "16.00");
  CHECK(Amount(InvoiceOf(r, "midnight"), "Daily") == "15.00");
  CHECK(Amount(InvoiceOf(r, "ends-midnight"), "Daily") == "16.00");
  CHECK(Amount(InvoiceOf(r, "ends-after"), "Daily") == "16.00");
  CHECK(Amount(InvoiceOf(r, "one-hour"), "Daily") == "0.00");
}

TEST_CASE("billing: by day, docs/billing.md's example: 49.00 × 15 ÷ 31 = 23.71, the minimum is prorated too") {
  auto p = Compile(kByDayPlan);
  PlanSet plans = p->Set("by-day");
  Rated r = Rate(plans, {Sub(plans, "late", "2026-03-17T15:30:00Z"), Sub(plans, "whole", "2026-01-01")}, {}, March(plans),
                 Requests("late", {"2026-03-18T00:00:00Z", "2026-03-19T00:00:00Z"}));
  const Invoice& late = InvoiceOf(r, "late");
  CHECK(Amount(late, "Platform") == "23.71");
  CHECK(Amount(late, "Requests") == "0.02");
  // 100.00 × 15 ÷ 31 = 48.387… → 48.39, less the 0.02 of requests.
  REQUIRE(LineOfKind(late, LineKind::kMinimum) != nullptr);
  CHECK(LineOfKind(late, LineKind::kMinimum)->amount.ToString() == "48.37");
  CHECK(late.total.ToString() == "72.10");
  const Invoice& whole = InvoiceOf(r, "whole");
  CHECK(Amount(whole, "Platform") == "49.00");
  CHECK(LineOfKind(whole, LineKind::kMinimum)->amount.ToString() == "100.00");
  CheckConserved(late);
  CheckConserved(whole);
}

TEST_CASE("billing: a minimum is prorated by the plan's basis, its own, or not at all") {
  auto p = Compile(kMinimumPlans);
  std::vector<UsageRow> rows;
  for (int i = 0; i < 10; ++i) rows.push_back(UsageRow{"request", "half", "2026-04-20T00:00:00Z"});
  for (int i = 0; i < 10; ++i) rows.push_back(UsageRow{"request", "noon", "2026-04-20T00:00:00Z"});
  auto minimum = [](const Rated& r, const std::string& customer) {
    const InvoiceLine* l = LineOfKind(InvoiceOf(r, customer), LineKind::kMinimum);
    return l == nullptr ? std::string("none") : l->amount.ToString();
  };
  {
    PlanSet plans = p->Set("min-second");
    Rated r = Rate(plans, {Sub(plans, "half", "2026-04-16"), Sub(plans, "noon", "2026-04-16T12:00:00Z")}, {}, April(plans), rows);
    CHECK(minimum(r, "half") == "40.00");   // 100 × 15/30 = 50.00, less 10.00 of requests
    CHECK(minimum(r, "noon") == "38.33");   // 100 × 14.5/30 = 48.333… → 48.33, less 10.00
    CHECK(InvoiceOf(r, "half").total.ToString() == "50.00");
  }
  {
    PlanSet plans = p->Set("min-none");
    Rated r = Rate(plans, {Sub(plans, "half", "2026-04-16"), Sub(plans, "noon", "2026-04-16T12:00:00Z")}, {}, April(plans), rows);
    CHECK(minimum(r, "half") == "90.00");
    CHECK(minimum(r, "noon") == "90.00");
  }
  {
    PlanSet plans = p->Set("min-day");
    Rated r = Rate(plans, {Sub(plans, "half", "2026-04-16"), Sub(plans, "noon", "2026-04-16T12:00:00Z")}, {}, April(plans), rows);
    CHECK(minimum(r, "half") == "40.00");   // 15 of 30 days
    CHECK(minimum(r, "noon") == "40.00");   // the 16th started: still 15 days
  }
  {
    // Usage above the prorated minimum: no true-up line.
    PlanSet plans = p->Set("min-second");
    std::vector<UsageRow> many;
    for (int i = 0; i < 60; ++i) many.push_back(UsageRow{"request", "busy", "2026-04-20T00:00:00Z"});
    Rated r = Rate(plans, {Sub(plans, "busy", "2026-04-16")}, {}, April(plans), many);
    CHECK(minimum(r, "busy") == "none");
    CHECK(InvoiceOf(r, "busy").total.ToString() == "60.00");
  }
}

// ---- Several subscriptions ----------------------------------------------------------------

TEST_CASE("billing: Stripe's upgrade halfway: 10.00 × ½ + 20.00 × ½ = 15.00, usage to the plan in force") {
  auto p = Compile(kUpgradePlans);
  PlanSet plans = p->Set("basic");
  std::vector<Subscription> subs = {
      Sub(plans, "cus_upgrade", "2026-04-01", "2026-04-16", "basic"),
      Sub(plans, "cus_upgrade", "2026-04-16", "", "pro"),
      Sub(plans, "cus_stays", "2026-03-01"),
  };
  std::vector<UsageRow> rows = Requests("cus_upgrade", {"2026-04-15T23:59:59Z", "2026-04-16T00:00:00Z", "2026-04-30T00:00:00Z"});
  Rated r = Rate(plans, subs, {}, April(plans), rows);
  REQUIRE(r.invoices.size() == 2);
  const Invoice& up = InvoiceOf(r, "cus_upgrade");
  CHECK(Amount(up, "Basic") == "5.00");
  CHECK(Amount(up, "Pro") == "10.00");
  CHECK(Amount(up, "Basic requests") == "1.00");  // the row before the change
  CHECK(Amount(up, "Pro requests") == "1.00");    // two rows at 0.50
  CHECK(up.total.ToString() == "17.00");
  CHECK(up.plan == "pro");  // the plan in force at the end
  // The basic part's lines come first, each naming its plan and part.
  REQUIRE(up.lines.size() == 4);
  CHECK(up.lines[0].name == "Basic");
  CHECK(up.lines[0].rated_by == "basic");
  CHECK(up.lines[0].from == "2026-04-01T00:00:00Z");
  CHECK(up.lines[0].to == "2026-04-16T00:00:00Z");
  CHECK(up.lines[2].name == "Pro");
  CHECK(up.lines[2].rated_by == "pro");
  CHECK(up.lines[2].from == "2026-04-16T00:00:00Z");
  CHECK(up.lines[2].to == "2026-05-01T00:00:00Z");
  CheckConserved(up);
  const Invoice& stays = InvoiceOf(r, "cus_stays");
  CHECK(Amount(stays, "Basic") == "10.00");
  CHECK(stays.total.ToString() == "10.00");
  CHECK(r.rated == 3);
  CHECK(r.rejects.empty());
}

TEST_CASE("billing: a change of seats mid-period is two subscriptions to one plan, each prorated") {
  auto p = Compile(kUpgradePlans);
  PlanSet plans = p->Set("seats");
  std::vector<Subscription> subs = {
      WithSeats(Sub(plans, "acme", "2026-01-01", "2026-04-16"), 10),
      WithSeats(Sub(plans, "acme", "2026-04-16"), 20),
  };
  Rated r = Rate(plans, subs, {}, April(plans));
  const Invoice& acme = InvoiceOf(r, "acme");
  std::vector<const InvoiceLine*> seats = LinesNamed(acme, "Seats");
  REQUIRE(seats.size() == 2);
  CHECK(seats[0]->amount.ToString() == "5.00");   // 10 seats × 1.00 × ½
  CHECK(seats[0]->to == "2026-04-16T00:00:00Z");
  CHECK(seats[1]->amount.ToString() == "10.00");  // 20 seats × 1.00 × ½
  CHECK(seats[1]->from == "2026-04-16T00:00:00Z");
  CHECK(acme.total.ToString() == "15.00");
}

TEST_CASE("billing: two subscriptions of a customer in force at once are an error, back to back is not") {
  auto p = Compile(kUpgradePlans);
  PlanSet plans = p->Set("basic");
  std::vector<Subscription> overlapping = {
      Sub(plans, "acme", "2026-04-01", "2026-04-20", "basic"),
      Sub(plans, "acme", "2026-04-10", "", "pro"),
  };
  CHECK_THROWS_WITH(Biller(plans, overlapping, {}, Input(April(plans))), Catch::Contains("two subscriptions in force at once") &&
                                                                       Catch::Contains("acme"));
  std::vector<Subscription> same = {Sub(plans, "acme"), Sub(plans, "acme")};
  CHECK_THROWS_AS(Biller(plans, same, {}, Input(April(plans))), BillingError);
  std::vector<Subscription> touching = {
      Sub(plans, "acme", "2026-04-01", "2026-04-10", "basic"),
      Sub(plans, "acme", "2026-04-10", "", "pro"),
  };
  CHECK_NOTHROW(Biller(plans, touching, {}, Input(April(plans))));
}

TEST_CASE("billing: a subscription entirely outside the period gives no invoice, its usage is rejected") {
  auto p = Compile(kUpgradePlans);
  PlanSet plans = p->Set("basic");
  std::vector<Subscription> subs = {
      Sub(plans, "gone", "2026-01-01", "2026-04-01"),  // ends at the period's start
      Sub(plans, "future", "2026-05-01"),              // starts at its end
      Sub(plans, "here", "2026-04-01", "2026-05-01"),
  };
  std::vector<UsageRow> rows = Requests("gone", {"2026-04-05T00:00:00Z"});
  Rated r = Rate(plans, subs, {}, April(plans), rows);
  CHECK_FALSE(HasInvoice(r, "gone"));
  CHECK_FALSE(HasInvoice(r, "future"));
  REQUIRE(HasInvoice(r, "here"));
  CHECK(Amount(InvoiceOf(r, "here"), "Basic") == "10.00");
  CHECK(LinesNamed(InvoiceOf(r, "here"), "Basic").front()->rated_by.empty());  // covers the whole period
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].origin.line == 2);
  CHECK(r.rejects[0].reason == "customer `gone` has no subscription in force at 2026-04-05T00:00:00Z");
  CHECK(r.rated == 0);
}

TEST_CASE("billing: every subscribed customer gets an invoice, usage or not, unsubscribed usage is rejected") {
  auto p = Compile(kFeePlan);
  PlanSet plans = p->Set("fee");
  std::vector<Subscription> subs = {Sub(plans, "idle"), Sub(plans, "late", "2026-03-10")};
  std::vector<UsageRow> rows = {
      {"request", "late", "2026-03-09T23:59:59Z"},   // line 2: before its subscription
      {"request", "late", "2026-03-10T00:00:00Z"},   // 3: rated
      {"request", "stranger", "2026-03-11T00:00:00Z"},  // 4: no subscription
      {"request", "idle", "2026-03-31T23:59:59Z"},   // 5: rated
  };
  Rated r = Rate(plans, subs, {}, March(plans), rows);
  CHECK(r.invoices.size() == 2);
  CHECK_FALSE(HasInvoice(r, "stranger"));
  REQUIRE(r.rejects.size() == 2);
  CHECK(r.rejects[0].origin.line == 2);
  CHECK(r.rejects[0].reason == "customer `late` has no subscription in force at 2026-03-09T23:59:59Z");
  CHECK(r.rejects[1].origin.line == 4);
  CHECK(r.rejects[1].reason == "customer `stranger` has no subscription");
  CHECK(r.rated == 2);
  CHECK(r.rated + r.rejects.size() == rows.size());
}

// ---- Plan versions ------------------------------------------------------------------------

namespace {

// March usage of `acme` for kVersionPlans: 3 requests and a legacy call before the change,
// 3 requests and a legacy call after.
std::vector<UsageRow> VersionUsage() {
  return {
      {"request", "acme", "2026-03-01T00:00:00Z"},
      {"request", "acme", "2026-03-02T00:00:00Z"},
      {"request", "acme", "2026-03-15T23:59:59Z"},
      {"legacy", "acme", "2026-03-05T00:00:00Z"},
      {"request", "acme", "2026-03-16T00:00:00Z"},
      {"request", "acme", "2026-03-20T00:00:00Z"},
      {"request", "acme", "2026-03-31T00:00:00Z"},
      {"legacy", "acme", "2026-03-20T00:00:00Z"},
  };
}

}  // namespace

TEST_CASE("billing: on change split: each version rates its part, tiers restart, fees prorated by share") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api");
  std::vector<UsageRow> rows = VersionUsage();
  Rated r = Rate(plans, {}, {}, March(plans), rows);
  REQUIRE(r.invoices.size() == 1);
  const Invoice& acme = r.invoices[0];
  std::vector<const InvoiceLine*> platform = LinesNamed(acme, "Platform");
  std::vector<const InvoiceLine*> requests = LinesNamed(acme, "Requests");
  REQUIRE(platform.size() == 2);
  REQUIRE(requests.size() == 2);
  CHECK(platform[0]->amount.ToString() == "15.00");  // 31.00 × 15/31
  CHECK(platform[0]->rated_by == "api v1");
  CHECK(platform[0]->from == "2026-03-01T00:00:00Z");
  CHECK(platform[0]->to == "2026-03-16T00:00:00Z");
  CHECK(platform[1]->amount.ToString() == "32.00");  // 62.00 × 16/31
  CHECK(platform[1]->rated_by == "api v2");
  CHECK(platform[1]->from == "2026-03-16T00:00:00Z");
  CHECK(platform[1]->to == "2026-04-01T00:00:00Z");
  // 3 requests in each part, 2 free in each: 1 × 1.00 and 1 × 2.00 (not 4 billable over 6).
  CHECK(requests[0]->amount.ToString() == "1.00");
  CHECK(requests[1]->amount.ToString() == "2.00");
  CHECK(Amount(acme, "Legacy") == "0.50");  // v1's legacy call; v2 reads no legacy events
  CHECK(acme.total.ToString() == "50.50");
  CheckConserved(acme);
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].origin.line == 9);
  CHECK(r.rejects[0].reason == "plan \"api v2\", in force for customer `acme` at 2026-03-20T00:00:00Z, reads no `legacy` events");
  CHECK(r.rated == 7);
}

TEST_CASE("billing: on change next period: the version in force at the period's start rates all of it") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api-next");
  Rated march = Rate(plans, {}, {}, March(plans), VersionUsage());
  REQUIRE(march.invoices.size() == 1);
  const Invoice& acme = march.invoices[0];
  CHECK(Amount(acme, "Platform") == "31.00");
  CHECK(Amount(acme, "Requests") == "4.00");  // 6 requests, 2 free, 1.00 each
  CHECK(Amount(acme, "Legacy") == "1.00");
  CHECK(LinesNamed(acme, "Platform").front()->rated_by == "api-next v1");  // a versioned plan names the version
  CHECK(acme.total.ToString() == "36.00");
  CHECK(march.rejects.empty());
  // April: version 2.
  std::vector<UsageRow> rows = Requests("acme", {"2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"});
  Rated april = Rate(plans, {}, {}, April(plans), rows);
  REQUIRE(april.invoices.size() == 1);
  CHECK(Amount(april.invoices[0], "Platform") == "62.00");
  CHECK(Amount(april.invoices[0], "Requests") == "2.00");
}

TEST_CASE("billing: a pinned version rates the whole period, whatever takes effect in it") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api");
  std::vector<Subscription> subs = {Sub(plans, "acme", "", "", "", "1")};
  Rated v1 = Rate(plans, subs, {}, March(plans), VersionUsage());
  REQUIRE(v1.invoices.size() == 1);
  CHECK(Amount(v1.invoices[0], "Platform") == "31.00");
  CHECK(Amount(v1.invoices[0], "Requests") == "4.00");
  CHECK(Amount(v1.invoices[0], "Legacy") == "1.00");
  CHECK(v1.invoices[0].total.ToString() == "36.00");
  CHECK(v1.rejects.empty());

  subs = {Sub(plans, "acme", "", "", "", "2")};
  Rated v2 = Rate(plans, subs, {}, March(plans), VersionUsage());
  REQUIRE(v2.invoices.size() == 1);
  CHECK(Amount(v2.invoices[0], "Platform") == "62.00");
  CHECK(Amount(v2.invoices[0], "Requests") == "8.00");  // 6 requests, 2 free, 2.00 each
  CHECK(v2.rejects.size() == 2);                          // v2 reads no legacy events
  CHECK(v2.rated == 6);

  subs = {Sub(plans, "acme", "", "", "", "3")};
  CHECK_THROWS_WITH(Biller(plans, subs, {}, Input(March(plans))), Catch::Contains("has no version 3"));
}

TEST_CASE("billing: usage before the first version's effective date is rejected with the reason") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api");
  std::vector<UsageRow> rows = Requests("acme", {"2026-01-10T00:00:00Z", "2026-01-14T23:59:59Z", "2026-01-15T00:00:00Z",
                                                 "2026-01-20T00:00:00Z", "2026-01-21T00:00:00Z"});
  // acme is subscribed for the whole period.
  Rated r = Rate(plans, {Sub(plans, "acme")}, {}, Period(plans, "2026-01-01", "2026-02-01"), rows);
  INFO(r.jsonl);
  REQUIRE(r.rejects.size() == 2);
  CHECK(r.rejects[0].origin.line == 2);
  CHECK(r.rejects[0].reason == "no version of plan \"api\" is in force yet");
  CHECK(r.rejects[1].origin.line == 3);
  CHECK(r.rated == 3);
  REQUIRE(r.invoices.size() == 1);
  const Invoice& acme = r.invoices[0];
  CHECK(Amount(acme, "Platform") == "17.00");  // January 15..31: 31.00 × 17/31
  CHECK(Amount(acme, "Requests") == "1.00");   // 3 requests, 2 free
  CHECK(LinesNamed(acme, "Platform").front()->from == "2026-01-15T00:00:00Z");
  CHECK(LinesNamed(acme, "Platform").front()->rated_by == "api v1");
  // No version at all in the period.
  CHECK_THROWS_AS(Biller(plans, {}, {}, Period(plans, "2025-12-01", "2026-01-01")), BillingError);
}

TEST_CASE("billing: without a period, one version rates everything unprorated, several versions need a period") {
  auto fee = Compile(kFeePlan);
  PlanSet plans = fee->Set("fee");
  Rated r = Rate(plans, {}, {}, BillingOptions{}, Requests("acme", {"2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z"}));
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Platform") == "31.00");
  CHECK(Amount(r.invoices[0], "Requests") == "2.00");
  // A subscription bounded in time needs a period.
  CHECK_THROWS_WITH(Biller(plans, {Sub(plans, "acme", "2026-03-10")}, {}, Input(BillingOptions{})), Catch::Contains("--period"));

  auto versions = Compile(kVersionPlans);
  PlanSet api = versions->Set("api");
  CHECK_THROWS_WITH(Biller(api, {}, {}, BillingOptions{}), Catch::Contains("give a billing period"));
}

TEST_CASE("billing: plans rated together must bill in one currency") {
  auto p = Compile(R"tariff(
plan "usd" {
  currency USD
  period month
  charge "Fee" = 1.00 USD
}
plan "eur" {
  currency EUR
  period month
  charge "Fee" = 1.00 EUR
}
)tariff");
  PlanSet plans = p->Set("usd");
  CHECK_THROWS_WITH(Biller(plans, {Sub(plans, "acme", "", "", "eur")}, {}, Input(April(plans))), Catch::Contains("different currencies"));
  CHECK_THROWS_WITH(Biller(plans, {Sub(plans, "acme", "", "", "gbp")}, {}, Input(April(plans))), Catch::Contains("no plan \"gbp\""));
}

// ---- Routing and conservation -------------------------------------------------------------

TEST_CASE("billing: every row is rated or rejected, once") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api");
  std::vector<Subscription> subs = {
      Sub(plans, "a", "2026-03-10"),
      Sub(plans, "b"),
      Sub(plans, "c", "2026-03-01", "2026-03-20", "", "1"),
  };
  std::vector<UsageRow> rows = {
      {"request", "a", "2026-03-09T00:00:00Z"},   // rejected: before a's subscription
      {"request", "a", "2026-03-10T00:00:00Z"},   // v1
      {"request", "a", "2026-03-17T00:00:00Z"},   // v2
      {"legacy", "a", "2026-03-17T00:00:00Z"},    // rejected: v2 reads no legacy
      {"legacy", "b", "2026-03-01T00:00:00Z"},    // v1
      {"request", "nobody", "2026-03-01T00:00:00Z"},  // rejected: no subscription
      {"legacy", "c", "2026-03-19T00:00:00Z"},    // pinned v1
      {"legacy", "c", "2026-03-20T00:00:00Z"},    // rejected: c's subscription has ended
  };
  Rated r = Rate(plans, subs, {}, March(plans), rows, 3);
  CHECK(r.rated == 4);
  REQUIRE(r.rejects.size() == 4);
  CHECK(r.rated + r.rejects.size() == rows.size());
  std::vector<std::uint64_t> lines;
  for (const RoutingReject& x : r.rejects) lines.push_back(x.origin.line);
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<std::uint64_t>{2, 5, 7, 9});
  CHECK(r.invoices.size() == 3);
  // c is pinned to v1 from March 1 to 20: 31.00 × 19/31 = 19.00, one legacy call.
  const Invoice& c = InvoiceOf(r, "c");
  CHECK(Amount(c, "Platform") == "19.00");
  CHECK(Amount(c, "Legacy") == "0.50");
  CHECK(LinesNamed(c, "Platform").front()->rated_by == "api v1");
  // a: v1 from March 10 to 16 (6 days: 6.00), v2 from March 16 (16 days: 32.00).
  const Invoice& a = InvoiceOf(r, "a");
  std::vector<const InvoiceLine*> platform = LinesNamed(a, "Platform");
  REQUIRE(platform.size() == 2);
  CHECK(platform[0]->amount.ToString() == "6.00");
  CHECK(platform[1]->amount.ToString() == "32.00");
  for (const Invoice& inv : r.invoices) CheckConserved(inv);
}

// ---- Credits ------------------------------------------------------------------------------

TEST_CASE("billing: credits by expiry then priority (the default): soonest first, never last, expired unused") {
  auto p = Compile(kCreditPlans);
  PlanSet plans = p->Set("cr-default");
  std::vector<CreditGrant> grants = {
      Grant(plans, "acme", "never", "100.00", "", 0),
      Grant(plans, "acme", "dec-p2", "15.00", "2026-12-31", 2),
      Grant(plans, "acme", "jun", "10.00", "2026-06-30", 5),
      Grant(plans, "acme", "old", "50.00", "2026-04-01", 0),  // expires at the period's start
      Grant(plans, "acme", "dec-p1", "3.00", "2026-12-31", 1),
      Grant(plans, "other", "theirs", "500.00"),
  };
  Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
  REQUIRE(r.invoices.size() == 1);
  const Invoice& acme = r.invoices[0];
  CHECK(CreditOrder(acme) == std::vector<std::string>{"old", "jun", "dec-p1", "dec-p2", "never"});
  CHECK(CreditLines(acme) == std::vector<std::string>{"Credit jun -10.00", "Credit dec-p1 -3.00", "Credit dec-p2 -12.00"});
  CHECK(acme.total.ToString() == "0.00");
  CHECK(Balance(acme, "old").used.ToString() == "0.00");
  CHECK(Balance(acme, "old").remaining.ToString() == "50.00");
  CHECK(Balance(acme, "jun").remaining.ToString() == "0.00");
  CHECK(Balance(acme, "dec-p2").before.ToString() == "15.00");
  CHECK(Balance(acme, "dec-p2").used.ToString() == "12.00");
  CHECK(Balance(acme, "dec-p2").remaining.ToString() == "3.00");
  CHECK(Balance(acme, "dec-p2").priority == 2);
  CHECK(Balance(acme, "dec-p2").expires == "2026-12-31T00:00:00Z");
  CHECK(Balance(acme, "never").used.ToString() == "0.00");
  CHECK(Balance(acme, "never").remaining.ToString() == "100.00");
  CHECK(Balance(acme, "never").expires.empty());
  CheckConserved(acme);
}

TEST_CASE("billing: a grant expiring just after the period's start is still used") {
  auto p = Compile(kCreditPlans);
  PlanSet plans = p->Set("cr-expiry");
  std::vector<CreditGrant> grants = {
      Grant(plans, "acme", "at-start", "5.00", "2026-04-01T00:00:00Z"),
      Grant(plans, "acme", "just-after", "5.00", "2026-04-01T00:00:01Z"),
      Grant(plans, "acme", "before", "5.00", "2026-03-31T23:59:59Z"),
  };
  Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
  const Invoice& acme = r.invoices.at(0);
  CHECK(Balance(acme, "before").used.ToString() == "0.00");
  CHECK(Balance(acme, "at-start").used.ToString() == "0.00");
  CHECK(Balance(acme, "just-after").used.ToString() == "5.00");
  CHECK(acme.total.ToString() == "20.00");
}

TEST_CASE("billing: credits drawn by priority: lowest first") {
  auto p = Compile(kCreditPlans);
  PlanSet plans = p->Set("cr-priority");
  std::vector<CreditGrant> grants = {
      Grant(plans, "acme", "a", "20.00", "2026-05-01", 3),
      Grant(plans, "acme", "b", "10.00", "2027-01-01", 1),
      Grant(plans, "acme", "c", "10.00", "", 2),
      Grant(plans, "acme", "neg", "1.00", "", -5),  // a negative priority is lower still
  };
  Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
  const Invoice& acme = r.invoices.at(0);
  CHECK(CreditOrder(acme) == std::vector<std::string>{"neg", "b", "c", "a"});
  CHECK(CreditLines(acme) == std::vector<std::string>{"Credit neg -1.00", "Credit b -10.00", "Credit c -10.00", "Credit a -4.00"});
  CHECK(Balance(acme, "a").remaining.ToString() == "16.00");
  CHECK(acme.total.ToString() == "0.00");
}

TEST_CASE("billing: credits drawn by created: oldest first, undated last") {
  auto p = Compile(kCreditPlans);
  PlanSet plans = p->Set("cr-created");
  std::vector<CreditGrant> grants = {
      Grant(plans, "acme", "undated", "20.00"),
      Grant(plans, "acme", "new", "20.00", "", 0, "2026-02-01"),
      Grant(plans, "acme", "old", "20.00", "", 9, "2025-01-01"),
  };
  Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
  const Invoice& acme = r.invoices.at(0);
  CHECK(CreditOrder(acme) == std::vector<std::string>{"old", "new", "undated"});
  CHECK(CreditLines(acme) == std::vector<std::string>{"Credit old -20.00", "Credit new -5.00"});
  CHECK(Balance(acme, "new").remaining.ToString() == "15.00");
  CHECK(Balance(acme, "undated").remaining.ToString() == "20.00");
}

TEST_CASE("billing: credits drawn by amount: smallest first, then the next key, then the grant id") {
  auto p = Compile(kCreditPlans);
  {
    PlanSet plans = p->Set("cr-amount");
    std::vector<CreditGrant> grants = {
        Grant(plans, "acme", "big", "30.00"),
        Grant(plans, "acme", "small", "10.00"),
        Grant(plans, "acme", "mid", "20.00"),
    };
    Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
    const Invoice& acme = r.invoices.at(0);
    CHECK(CreditOrder(acme) == std::vector<std::string>{"small", "mid", "big"});
    CHECK(CreditLines(acme) == std::vector<std::string>{"Credit small -10.00", "Credit mid -15.00"});
    CHECK(Balance(acme, "big").remaining.ToString() == "30.00");
  }
  {
    // Equal amounts (10 and 10.00 are equal): priority decides; equal priority: the id.
    PlanSet plans = p->Set("cr-amount-priority");
    std::vector<CreditGrant> grants = {
        Grant(plans, "acme", "zeta", "10.00", "", 1),
        Grant(plans, "acme", "alpha", "10", "", 1),
        Grant(plans, "acme", "first", "10.00", "", 0),
    };
    Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
    const Invoice& acme = r.invoices.at(0);
    CHECK(CreditOrder(acme) == std::vector<std::string>{"first", "alpha", "zeta"});
    CHECK(CreditLines(acme) == std::vector<std::string>{"Credit first -10.00", "Credit alpha -10.00", "Credit zeta -5.00"});
    CHECK(Balance(acme, "zeta").remaining.ToString() == "5.00");
    CHECK(Balance(acme, "alpha").before.ToString() == "10.00");  // shown at the currency's scale
  }
  {
    // The default order, all keys equal: by grant id, whatever order the file gives.
    PlanSet plans = p->Set("cr-default");
    std::vector<CreditGrant> grants = {Grant(plans, "acme", "b", "20.00"), Grant(plans, "acme", "a", "20.00")};
    Rated r = Rate(plans, {Sub(plans, "acme")}, grants, April(plans));
    CHECK(CreditLines(r.invoices.at(0)) == std::vector<std::string>{"Credit a -20.00", "Credit b -5.00"});
  }
}

TEST_CASE("billing: credits never take a total below zero, a zero total draws nothing") {
  auto p = Compile(kCreditPlans);
  {
    PlanSet plans = p->Set("cr-default");
    Rated r = Rate(plans, {Sub(plans, "acme")}, {Grant(plans, "acme", "big", "100.00")}, April(plans));
    const Invoice& acme = r.invoices.at(0);
    CHECK(CreditLines(acme) == std::vector<std::string>{"Credit big -25.00"});
    CHECK(acme.total.ToString() == "0.00");
    CHECK(Balance(acme, "big").used.ToString() == "25.00");
    CHECK(Balance(acme, "big").remaining.ToString() == "75.00");
  }
  {
    // A customer with no usage on a usage-only plan: a zero invoice, the grant untouched.
    PlanSet plans = p->Set("cr-usage");
    std::vector<CreditGrant> grants = {Grant(plans, "idle", "promo", "8.00"), Grant(plans, "idle", "empty", "0.00")};
    Rated r = Rate(plans, {Sub(plans, "idle")}, grants, April(plans));
    const Invoice& idle = r.invoices.at(0);
    CHECK(idle.total.ToString() == "0.00");
    CHECK(CreditLines(idle).empty());
    CHECK(Balance(idle, "promo").used.ToString() == "0.00");
    CHECK(Balance(idle, "promo").remaining.ToString() == "8.00");
    CHECK(Balance(idle, "empty").remaining.ToString() == "0.00");
  }
  {
    // Usage and a partial draw: 3 requests = 3.00, the grant pays it all.
    PlanSet plans = p->Set("cr-usage");
    Rated r = Rate(plans, {}, {Grant(plans, "acme", "promo", "8.00")}, April(plans),
                   Requests("acme", {"2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z", "2026-04-04T00:00:00Z"}));
    const Invoice& acme = r.invoices.at(0);
    CHECK(CreditLines(acme) == std::vector<std::string>{"Credit promo -3.00"});
    CHECK(Balance(acme, "promo").remaining.ToString() == "5.00");
    CHECK(acme.total.ToString() == "0.00");
    CheckConserved(acme);
  }
}

TEST_CASE("billing: credits draw on the merged invoice of a customer who changed plan") {
  auto p = Compile(kUpgradePlans);
  PlanSet plans = p->Set("basic");
  std::vector<Subscription> subs = {
      Sub(plans, "up", "2026-04-01", "2026-04-16", "basic"),
      Sub(plans, "up", "2026-04-16", "", "pro"),
  };
  Rated r = Rate(plans, subs, {Grant(plans, "up", "promo", "8.00", "2026-12-31", 1)}, April(plans));
  const Invoice& up = r.invoices.at(0);
  CHECK(CreditLines(up) == std::vector<std::string>{"Credit promo -8.00"});
  CHECK(up.total.ToString() == "7.00");  // 5.00 + 10.00 − 8.00, as docs/billing.md's test
  CHECK(Balance(up, "promo").remaining.ToString() == "0.00");
  CheckConserved(up);
}

// ---- Results depend on neither batch size nor row order -----------------------------------

namespace {

struct Scenario {
  std::string name;
  std::string default_plan;
  bool with_subscriptions = true;
};

std::vector<UsageRow> RandomUsage(std::uint32_t seed, int count) {
  std::mt19937 rng(seed);
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  const std::vector<std::string> customers = {"cus_a", "cus_b", "cus_c", "cus_d", "cus_e", "stranger"};
  const std::int64_t start = *ParseTimestamp("2026-03-01T00:00:00Z");
  const std::int64_t length = 31LL * 86'400;
  std::vector<UsageRow> rows;
  for (int i = 0; i < count; ++i) {
    UsageRow row;
    row.event = pick(0, 4) == 0 ? "legacy" : "request";
    row.customer = customers[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(customers.size()) - 1))];
    // One row in five lands on a change: March 10, 16 or 20 at midnight.
    std::int64_t second = pick(0, 4) == 0 ? (std::vector<std::int64_t>{9, 15, 19}[static_cast<std::size_t>(pick(0, 2))]) * 86'400
                                          : pick(0, length - 1);
    row.time = FormatTimestamp(start + second * 1'000'000);
    row.line = static_cast<std::uint64_t>(i) + 2;
    rows.push_back(row);
  }
  return rows;
}

std::vector<Subscription> ScenarioSubscriptions(const PlanSet& plans) {
  return {
      Sub(plans, "cus_a"),                                         // split by the version change
      Sub(plans, "cus_b", "2026-03-10", "2026-03-20"),             // starts and ends mid-period
      Sub(plans, "cus_c", "", "2026-03-16", "", "1"),              // pinned to v1, ends at the change
      Sub(plans, "cus_c", "2026-03-16", "", "api-next"),           // then another plan
      Sub(plans, "cus_d", "2026-03-20"),
      Sub(plans, "cus_e", "2026-01-01", "2026-02-01"),             // not in March
      Sub(plans, "cus_idle", "2026-03-05"),                        // no usage
  };
}

std::string RejectsText(std::vector<RoutingReject> rejects) {
  std::sort(rejects.begin(), rejects.end(), [](const RoutingReject& a, const RoutingReject& b) {
    return std::tie(a.origin.line, a.reason) < std::tie(b.origin.line, b.reason);
  });
  std::string out;
  for (const RoutingReject& r : rejects) out += std::to_string(r.origin.line) + ": " + r.reason + "\n";
  return out;
}

}  // namespace

TEST_CASE("billing: invoices and rejects depend on neither the batch size nor the order of the rows") {
  auto p = Compile(kVersionPlans);
  for (bool with_subscriptions : {true, false}) {
    PlanSet plans = p->Set("api");
    std::vector<Subscription> subs = with_subscriptions ? ScenarioSubscriptions(plans) : std::vector<Subscription>{};
    std::vector<CreditGrant> grants = {
        Grant(plans, "cus_a", "promo", "7.50", "2026-12-31", 1),
        Grant(plans, "cus_a", "small", "1.25", "", 0),
        Grant(plans, "cus_d", "big", "1000.00"),
    };
    const std::vector<UsageRow> rows = RandomUsage(with_subscriptions ? 2026 : 7, 600);
    Rated reference = Rate(plans, subs, grants, March(plans), rows, 4096);
    REQUIRE_FALSE(reference.invoices.empty());
    CHECK(reference.rated + reference.rejects.size() == rows.size());
    if (with_subscriptions) {
      CHECK_FALSE(reference.rejects.empty());
      CHECK(HasInvoice(reference, "cus_idle"));
      CHECK_FALSE(HasInvoice(reference, "cus_e"));
      CHECK_FALSE(HasInvoice(reference, "stranger"));
    }
    for (const Invoice& inv : reference.invoices) CheckConserved(inv);
    const std::string reference_rejects = RejectsText(reference.rejects);

    std::mt19937 rng(99);
    for (std::size_t batch_size : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}, std::size_t{4096}}) {
      for (int shuffle = 0; shuffle < 3; ++shuffle) {
        std::vector<UsageRow> shuffled = rows;
        if (shuffle > 0) std::shuffle(shuffled.begin(), shuffled.end(), rng);
        Rated r = Rate(plans, subs, grants, March(plans), shuffled, batch_size);
        INFO("subscriptions " << with_subscriptions << ", batch size " << batch_size << ", shuffle " << shuffle);
        CHECK(r.jsonl == reference.jsonl);
        CHECK(r.rated == reference.rated);
        CHECK(RejectsText(r.rejects) == reference_rejects);
      }
    }
    // The order of the subscriptions and grants does not matter either.
    std::reverse(subs.begin(), subs.end());
    std::reverse(grants.begin(), grants.end());
    Rated reversed = Rate(plans, subs, grants, March(plans), rows, 5);
    CHECK(reversed.jsonl == reference.jsonl);
  }
}


// ---- Regressions (found by review; each failed before its fix) -----------------------------

TEST_CASE("billing: one version taking effect mid-period, without subscriptions: usage before it is rejected, the fee prorated") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api");
  std::vector<UsageRow> rows = Requests("acme", {"2026-01-10T00:00:00Z", "2026-01-20T00:00:00Z"});
  Rated r = Rate(plans, {}, {}, Period(plans, "2026-01-01", "2026-02-01"), rows);
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].reason == "no version of plan \"api\" is in force yet");
  CHECK(r.rated == 1);
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Platform") == "17.00");  // January 15..31
}

TEST_CASE("billing: a pinned version no longer in force still rates its subscriber (grandfathering)") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api");
  Rated r = Rate(plans, {Sub(plans, "acme", "", "", "", "1")}, {}, April(plans),
                 Requests("acme", {"2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z", "2026-04-04T00:00:00Z"}));
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Platform") == "31.00");
  CHECK(Amount(r.invoices[0], "Requests") == "1.00");  // v1's price, not v2's 2.00
}

TEST_CASE("billing: a subscription to a plan with no version in force in the period rates nothing, without failing the run") {
  auto p = Compile(std::string(kUpgradePlans) + R"tariff(
plan "later" version 1 effective 2026-05-01 {
  currency USD
  period month
  charge "Later" = 5.00 USD
}
)tariff");
  PlanSet plans = p->Set("basic");
  std::vector<Subscription> subs = {Sub(plans, "acme", "2026-04-01", "2026-04-20"), Sub(plans, "acme", "2026-04-20", "", "later")};
  Rated r = Rate(plans, subs, {}, April(plans), Requests("acme", {"2026-04-10T00:00:00Z", "2026-04-25T00:00:00Z"}));
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Basic requests") == "1.00");
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].reason == "no version of plan \"later\" is in force in the period");
}

TEST_CASE("billing: on change next period also holds for a subscription that starts after the change") {
  auto p = Compile(kVersionPlans);
  PlanSet plans = p->Set("api-next");
  Rated r = Rate(plans, {Sub(plans, "late", "2026-03-20")}, {}, March(plans), Requests("late", {"2026-03-21T00:00:00Z"}));
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Platform") == "12.00");  // version 1's 31.00 × 12/31, not version 2's
}

TEST_CASE("billing: an empty subscriptions input rates nobody: every row is rejected") {
  auto p = Compile(kUpgradePlans);
  PlanSet plans = p->Set("basic");
  Biller biller(plans, {}, {}, Input(April(plans)));
  Feed(biller, Requests("stranger", {"2026-04-10T00:00:00Z"}), 4096);
  CHECK(biller.Finish().empty());
  REQUIRE(biller.rejects().size() == 1);
  CHECK(biller.rejects()[0].reason == "customer `stranger` has no subscription");
}

TEST_CASE("billing: rounding per invoice rounds a split invoice once") {
  auto p = Compile(R"tariff(
plan "a" {
  currency USD
  period month
  rounding half_up per invoice
  charge "A" = 10.00 USD
}
plan "b" {
  currency USD
  period month
  rounding half_up per invoice
  charge "B" = 20.00 USD
}
)tariff");
  PlanSet plans = p->Set("a");
  // April: 10 days on a (3.333…), 20 days on b (13.333…): 16.666… → 16.67 with one Rounding line.
  Rated r = Rate(plans, {Sub(plans, "acme", "2026-04-01", "2026-04-11"), Sub(plans, "acme", "2026-04-11", "", "b")}, {}, April(plans));
  REQUIRE(r.invoices.size() == 1);
  const Invoice& acme = r.invoices[0];
  CHECK(acme.total.ToString() == "16.67");
  int rounding_lines = 0;
  for (const InvoiceLine& l : acme.lines) rounding_lines += l.kind == LineKind::kRounding ? 1 : 0;
  CHECK(rounding_lines == 1);
  CheckConserved(acme);
}

TEST_CASE("billing: a credit finer than the currency's minor unit is refused") {
  auto p = Compile(kCreditPlans);
  PlanSet plans = p->Set("cr-default");
  CHECK_THROWS_WITH(Biller(plans, {}, {Grant(plans, "acme", "odd", "12.345")}, April(plans)), Catch::Contains("at most 2 decimals"));
  CHECK_NOTHROW(Biller(plans, {}, {Grant(plans, "acme", "fine", "12.30")}, April(plans)));
}

TEST_CASE("billing: by day, back-to-back subscriptions share the period's days exactly") {
  auto p = Compile(kByDayPlan);
  PlanSet plans = p->Set("by-day");
  // A change on March 17 at 15:30: the 17th belongs to the new subscription.
  std::vector<Subscription> subs = {Sub(plans, "acme", "", "2026-03-17T15:30:00Z"), Sub(plans, "acme", "2026-03-17T15:30:00Z")};
  Rated r = Rate(plans, subs, {}, March(plans));
  REQUIRE(r.invoices.size() == 1);
  Decimal sum;
  std::vector<const InvoiceLine*> platform = LinesNamed(r.invoices[0], "Platform");
  REQUIRE(platform.size() == 2);
  CHECK(platform[0]->amount.ToString() == "25.29");  // 49.00 × 16/31 (March 1..16)
  CHECK(platform[1]->amount.ToString() == "23.71");  // 49.00 × 15/31 (March 17..31)
  for (const InvoiceLine* l : platform) sum = sum + l->amount;
  CHECK(sum.ToString() == "49.00");  // not 49.00 × 32/31
}

TEST_CASE("billing: a time-weighted meter holds its last sample until the customer's part ends, not the period's end") {
  auto p = Compile(R"tariff(
plan "s1" {
  currency USD
  period month
  event sample { gb: quantity of GB }
  meter stored = integral(sample.gb)
  charge "Storage" = stored * 0.01 USD per GB·h
}
plan "s2" {
  currency USD
  period month
  event sample { gb: quantity of GB }
  meter stored = integral(sample.gb)
  charge "Storage 2" = stored * 0.01 USD per GB·h
}
)tariff");
  PlanSet plans = p->Set("s1");
  auto sample = [](const std::string& customer, const std::string& time) {
    return UsageRow{"sample", customer, time, {{"gb", "100"}}};
  };
  // Cancelled on April 2: one day of 100 GB = 2400 GB·h = 24.00, not the 30 days to May 1.
  Rated r = Rate(plans, {Sub(plans, "gone", "2026-03-01", "2026-04-02")}, {}, April(plans), {sample("gone", "2026-04-01T00:00:00Z")});
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Storage") == "24.00");
  // Moved from s1 to s2 on April 16: s1 holds its sample 15 days, s2 its own 15 days; no day twice.
  std::vector<Subscription> moved = {Sub(plans, "moved", "2026-04-01", "2026-04-16"), Sub(plans, "moved", "2026-04-16", "", "s2")};
  Rated m = Rate(plans, moved, {}, April(plans), {sample("moved", "2026-04-01T00:00:00Z"), sample("moved", "2026-04-16T00:00:00Z")});
  REQUIRE(m.invoices.size() == 1);
  CHECK(Amount(m.invoices[0], "Storage") == "360.00");    // 100 GB × 360 h × 0.01
  CHECK(Amount(m.invoices[0], "Storage 2") == "360.00");
}

TEST_CASE("billing: a change of seats on one plan keeps usage, allowances and the minimum whole, the seat fee splits by part") {
  auto p = Compile(R"tariff(
plan "saas" {
  currency USD
  period month
  proration by second

  unit seat, request
  subscription { seats: quantity of seat }
  event request {}
  meter requests = count(request)

  charge "Seats" = subscription.seats * 10.00 USD per seat
  charge "Requests" = requests * 1.00 USD per request included 2 request
  minimum 200.00 USD
}
)tariff");
  PlanSet plans = p->Set("saas");
  // April: 10 seats to the 16th, 20 seats after (half and half).
  std::vector<Subscription> subs = {WithSeats(Sub(plans, "acme", "2026-04-01", "2026-04-16"), 10), WithSeats(Sub(plans, "acme", "2026-04-16"), 20)};
  Rated r = Rate(plans, subs, {}, April(plans),
                 Requests("acme", {"2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z", "2026-04-20T00:00:00Z", "2026-04-21T00:00:00Z"}));
  REQUIRE(r.invoices.size() == 1);
  const Invoice& acme = r.invoices[0];
  std::vector<const InvoiceLine*> seats = LinesNamed(acme, "Seats");
  REQUIRE(seats.size() == 2);
  CHECK(seats[0]->amount.ToString() == "50.00");   // 10 × 10.00 × ½
  CHECK(seats[0]->from == "2026-04-01T00:00:00Z");
  CHECK(seats[0]->to == "2026-04-16T00:00:00Z");
  CHECK(seats[1]->amount.ToString() == "100.00");  // 20 × 10.00 × ½
  CHECK(seats[1]->from == "2026-04-16T00:00:00Z");
  CHECK(seats[1]->to == "2026-05-01T00:00:00Z");
  // One Requests line for the month: 4 requests, 2 included once (not once per part).
  REQUIRE(LinesNamed(acme, "Requests").size() == 1);
  CHECK(Amount(acme, "Requests") == "2.00");
  // One minimum for the month, the customer active all of it: 200 - 152 = 48.
  const InvoiceLine* minimum = LineOfKind(acme, LineKind::kMinimum);
  REQUIRE(minimum != nullptr);
  CHECK(minimum->amount.ToString() == "48.00");
  CHECK(acme.total.ToString() == "200.00");
  CheckConserved(acme);
}

TEST_CASE("billing: a pause is two parts on one plan: the minimum prorated by the time active in all") {
  auto p = Compile(kMinimumPlans);
  PlanSet plans = p->Set("min-second");
  // Active April 1–11 and April 21–May 1: 20 of 30 days, so 100.00 × 20/30 = 66.67, once.
  std::vector<Subscription> subs = {Sub(plans, "acme", "2026-04-01", "2026-04-11"), Sub(plans, "acme", "2026-04-21")};
  Rated r = Rate(plans, subs, {}, April(plans), Requests("acme", {"2026-04-05T00:00:00Z", "2026-04-25T00:00:00Z"}));
  INFO(r.jsonl);
  REQUIRE(r.invoices.size() == 1);
  CHECK(Amount(r.invoices[0], "Requests") == "2.00");
  const InvoiceLine* minimum = LineOfKind(r.invoices[0], LineKind::kMinimum);
  REQUIRE(minimum != nullptr);
  CHECK(minimum->amount.ToString() == "64.67");  // 66.67 - 2.00
  CHECK(r.invoices[0].total.ToString() == "66.67");
  // A row in the pause is rejected.
  Rated paused = Rate(plans, subs, {}, April(plans), Requests("acme", {"2026-04-15T00:00:00Z"}));
  REQUIRE(paused.rejects.size() == 1);
  CHECK(paused.rejects[0].reason == "customer `acme` has no subscription in force at 2026-04-15T00:00:00Z");
}

TEST_CASE("billing: the order of the subscriptions input never changes an invoice") {
  auto p = Compile(R"tariff(
plan "saas" {
  currency USD
  period month
  unit seat, request
  subscription { seats: quantity of seat }
  event request {}
  meter requests = count(request)
  charge "Seats" = subscription.seats * 10.00 USD per seat
  charge "Per seat" = requests * 0.10 USD per request * (subscription.seats / 1 seat)
}
)tariff");
  PlanSet plans = p->Set("saas");
  Subscription first = WithSeats(Sub(plans, "c1", "2026-04-01", "2026-04-16"), 10);
  Subscription second = WithSeats(Sub(plans, "c1", "2026-04-16"), 20);
  std::vector<UsageRow> rows = Requests("c1", {"2026-04-02T00:00:00Z", "2026-04-20T00:00:00Z"});
  Rated in_order = Rate(plans, {first, second}, {}, April(plans), rows);
  Rated reversed = Rate(plans, {second, first}, {}, April(plans), rows);
  CHECK(in_order.jsonl == reversed.jsonl);
  REQUIRE(in_order.invoices.size() == 1);
  CHECK(Amount(in_order.invoices[0], "Per seat") == "2.00");  // the first part's 10 seats × 2 requests × 0.10
}

TEST_CASE("billing: a subscription gives the fields of the version that rates it, not of a later one") {
  auto p = Compile(R"tariff(
plan "p" version 1 effective 2026-01-01 {
  currency USD
  period month
  unit seat
  subscription { seats: quantity of seat }
  charge "Seats" = subscription.seats * 1.00 USD per seat
}
plan "p" version 2 effective 2026-06-01 {
  currency USD
  period month
  unit seat
  subscription {
    seats: quantity of seat
    support: boolean
  }
  charge "Seats" = subscription.seats * 2.00 USD per seat
}
)tariff");
  PlanSet plans = p->Set("p");
  Rated march = Rate(plans, {WithSeats(Sub(plans, "c1"), 5)}, {}, March(plans));
  REQUIRE(march.invoices.size() == 1);
  CHECK(Amount(march.invoices[0], "Seats") == "5.00");
  // In July version 2 rates it, and it reads `support`, which the subscription does not give.
  CHECK_THROWS_WITH(Biller(plans, {WithSeats(Sub(plans, "c1"), 5)}, {}, Input(Period(plans, "2026-07-01", "2026-08-01"))),
                    Catch::Contains("has no `support`, which plan \"p v2\" reads"));
  // Pinned to version 1 (grandfathered), it still rates in July.
  Rated july = Rate(plans, {WithSeats(Sub(plans, "c1", "", "", "", "1"), 5)}, {}, Period(plans, "2026-07-01", "2026-08-01"));
  REQUIRE(july.invoices.size() == 1);
  CHECK(Amount(july.invoices[0], "Seats") == "5.00");
}

TEST_CASE("billing: proration by day over a period within one day is an error that says so") {
  auto p = Compile(kByDayPlan);
  PlanSet plans = p->Set("by-day");
  CHECK_THROWS_WITH(Biller(plans, {Sub(plans, "acme", "2026-03-01T06:00:00Z")}, {}, Input(Period(plans, "2026-03-01T00:00:00Z", "2026-03-01T12:00:00Z"))),
                    Catch::Contains("cannot prorate by day"));
}

TEST_CASE("billing: explain: the one Rounding line of a split invoice is explained, its terms adding up") {
  auto p = Compile(R"tariff(
plan "a" {
  currency USD
  period month
  rounding half_up per invoice
  charge "A" = 10.00 USD
}
plan "b" {
  currency USD
  period month
  rounding half_up per invoice
  charge "B" = 20.00 USD
}
)tariff");
  PlanSet plans = p->Set("a");
  BillingOptions o = Input(April(plans));
  o.explain = true;
  Biller biller(plans, {Sub(plans, "acme", "2026-04-01", "2026-04-11"), Sub(plans, "acme", "2026-04-11", "", "b")}, {}, o);
  std::vector<Invoice> invoices = biller.Finish();
  REQUIRE(invoices.size() == 1);
  const InvoiceLine* rounding = LineOfKind(invoices[0], LineKind::kRounding);
  REQUIRE(rounding != nullptr);
  REQUIRE(rounding->derivation != nullptr);
  Decimal terms;
  for (const DerivationTerm& t : rounding->derivation->terms) terms = terms + t.amount;
  CHECK(terms == rounding->amount);
  for (const InvoiceLine& line : invoices[0].lines) CHECK(line.derivation != nullptr);
}
