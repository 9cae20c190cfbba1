// tests/unit: the embedding API (include/tariff/tariff.h), used exactly as a billing engine
// would: only the public header, never an internal one.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <tariff/tariff.h>

namespace tf = tariff::api;

namespace {

// Requests in graduated tiers, large-model tokens per thousand, card fees per payment (an event
// with an idempotency key), and a minimum.
constexpr const char* kPlan = R"(plan "api-test" {
  currency USD
  period month
  rounding half_even per line

  unit token

  event request {
    tokens: quantity of token
    model: one of "small", "large"
  }
  event payment key payment_id {
    payment_id: id
    amount: money
  }

  meter requests = count(request)
  meter tokens = sum(request.tokens) where request.model == "large"

  charge "Platform" = 10.00 USD
  charge "Requests" = graduated requests {
    up to 3 request  free
    above            0.25 USD per 1 request
  }
  charge "Tokens" = tokens * 3.00 USD per 1000 token
  charge "Processing" = each payment: payment.amount * 2.9% + 0.30 USD

  minimum 12.00 USD
}
)";

tf::Plan Compiled(const char* source = kPlan, std::string_view plan_name = {}) {
  tf::CompileResult r = tf::Plan::Compile(source, "test.tariff", plan_name);
  INFO(r.RenderText());
  REQUIRE(r.ok());
  return *r.plan;
}

const tf::InvoiceLine* Line(const tf::Invoice& invoice, const std::string& name) {
  for (const tf::InvoiceLine& l : invoice.lines) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

// Deterministic usage: `n` requests over a few customers and both models.
struct Requests {
  std::vector<std::string> customer, time, tokens, model;

  explicit Requests(int n) {
    const char* customers[] = {"acme", "globex", "initech", "umbrella", "hooli"};
    for (int i = 0; i < n; ++i) {
      customer.push_back(customers[(i * 7) % 5]);
      time.push_back("2026-03-" + std::string(i % 28 < 9 ? "0" : "") + std::to_string(i % 28 + 1) + "T12:00:00Z");
      tokens.push_back(std::to_string(i * 13 % 1000) + "." + std::to_string(i % 10));
      model.push_back(i % 3 == 0 ? "small" : "large");
    }
  }
  std::size_t size() const { return customer.size(); }

  // Rows [from, to) as a batch.
  tf::UsageBatch Batch(const tf::Plan& plan, std::size_t from, std::size_t to) const {
    auto slice = [&](const std::vector<std::string>& v) {
      return std::vector<std::string>(v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(to));
    };
    tf::UsageBatch batch(plan, "request");
    batch.AddTextColumn("customer", slice(customer))
        .AddTimestampTextColumn("time", slice(time))
        .AddDecimalColumn("tokens", slice(tokens))
        .AddTextColumn("model", slice(model));
    return batch;
  }
};

std::string RateInBatches(const tf::Plan& plan, const Requests& requests, std::size_t batch_size) {
  tf::Rater rater(plan);
  for (std::size_t from = 0; from < requests.size(); from += batch_size) {
    rater.Feed(requests.Batch(plan, from, std::min(requests.size(), from + batch_size)));
  }
  return tf::FormatInvoices(rater.Finish());
}

}  // namespace

TEST_CASE("api: a plan with errors gives diagnostics with code, line and column, and no plan") {
  const char* source = R"(plan "bad" {
  currency USD
  period month

  event upload {
    bytes: quantity of GB
  }

  meter stored = sum(upload.bytes)
  charge "Storage" = stored * 0.02 EUR per GB
}
)";
  tf::CompileResult r = tf::Plan::Compile(source, "bad.tariff");
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.plan.has_value());
  REQUIRE(r.diagnostics.size() == 1);
  const tf::Diagnostic& d = r.diagnostics[0];
  CHECK(d.code == "E0304");
  CHECK(d.severity == tf::Severity::kError);
  CHECK(d.file == "bad.tariff");
  CHECK(d.line == 10);
  CHECK(d.column == 36);
  CHECK(d.end_column == 39);
  CHECK(d.message.find("EUR") != std::string::npos);
  CHECK_FALSE(d.hint.empty());
  REQUIRE(d.notes.size() == 1);
  CHECK(d.notes[0].line == 2);
  CHECK(r.error_count() == 1);
  CHECK(r.warning_count() == 0);
  // Rendered as `tariff check` does, for people and for programs.
  std::string text = r.RenderText();
  CHECK(text.find("bad.tariff:10:36: error[E0304]") == 0);
  CHECK(text.find("^^^") != std::string::npos);
  CHECK(r.RenderJson().find("[\n  {\n    \"code\": \"E0304\",\n    \"severity\": \"error\",") == 0);
}

TEST_CASE("api: a syntax error is a diagnostic, never an exception") {
  tf::CompileResult r = tf::Plan::Compile("plan \"x\" { currency USD charge = }", "syntax.tariff");
  CHECK_FALSE(r.ok());
  REQUIRE_FALSE(r.diagnostics.empty());
  CHECK_FALSE(r.diagnostics[0].code.empty());
  CHECK(r.diagnostics[0].line == 1);
  CHECK(r.diagnostics[0].column > 1);
}

TEST_CASE("api: warnings accompany a plan that compiled") {
  const char* source = R"(plan "warn" {
  currency USD
  period month
  event request { }
  meter requests = count(request)
  meter unused = count(request)
  charge "Requests" = requests * 0.01 USD per 1 request
}
)";
  tf::CompileResult r = tf::Plan::Compile(source, "warn.tariff");
  INFO(r.RenderText());
  REQUIRE(r.ok());
  CHECK(r.error_count() == 0);
  REQUIRE(r.warning_count() >= 1);
  CHECK(r.diagnostics[0].severity == tf::Severity::kWarning);
  CHECK(r.diagnostics[0].line == 6);
}

TEST_CASE("api: choosing among several plans in one source") {
  const char* source = R"(plan "a" {
  currency USD
  period month
  charge "Fee" = 1.00 USD
}
plan "b" {
  currency EUR
  period month
  charge "Fee" = 2.00 EUR
}
)";
  tf::CompileResult both = tf::Plan::Compile(source, "two.tariff");
  CHECK_FALSE(both.ok());
  REQUIRE(both.diagnostics.size() == 1);
  CHECK(both.diagnostics[0].code.empty());
  CHECK(both.diagnostics[0].message.find("holds 2 plans (\"a\", \"b\")") != std::string::npos);
  CHECK(both.RenderText().find("two.tariff: error: the source holds 2 plans") == 0);
  CHECK(both.RenderJson().find("\"code\": null") != std::string::npos);

  tf::CompileResult b = tf::Plan::Compile(source, "two.tariff", "b");
  REQUIRE(b.ok());
  CHECK(b.plan->name() == "b");
  CHECK(b.plan->currency() == "EUR");

  tf::CompileResult none = tf::Plan::Compile(source, "two.tariff", "c");
  CHECK_FALSE(none.ok());
  CHECK(none.diagnostics[0].message.find("no plan \"c\"") != std::string::npos);
}

TEST_CASE("api: a plan describes the columns its events need") {
  tf::Plan plan = Compiled();
  CHECK(plan.name() == "api-test");
  CHECK(plan.currency() == "USD");
  CHECK(plan.minor_units() == 2);
  REQUIRE(plan.events().size() == 2);
  const tf::EventInfo* request = plan.FindEvent("request");
  REQUIRE(request != nullptr);
  CHECK(request->customer_field == "customer");
  CHECK(request->time_field == "time");
  CHECK(request->key_field.empty());
  REQUIRE(request->FindField("customer") != nullptr);
  CHECK(request->FindField("customer")->type == tf::FieldType::kText);
  CHECK(request->FindField("time")->type == tf::FieldType::kTimestamp);
  const tf::FieldInfo* tokens = request->FindField("tokens");
  REQUIRE(tokens != nullptr);
  CHECK(tokens->type == tf::FieldType::kDecimal);
  CHECK(tokens->unit == "token");
  CHECK(request->FindField("model")->allowed_values == std::vector<std::string>{"small", "large"});
  const tf::EventInfo* payment = plan.FindEvent("payment");
  REQUIRE(payment != nullptr);
  CHECK(payment->key_field == "payment_id");
  CHECK(payment->FindField("amount")->currency == "USD");
  CHECK(plan.FindEvent("nope") == nullptr);
  CHECK(plan.DumpIr().find("plan \"api-test\"") == 0);
}

TEST_CASE("api: batches are rated into exact invoices") {
  tf::Plan plan = Compiled();
  tf::Rater rater(plan, {"2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"});

  tf::UsageBatch requests(plan, "request");
  requests.AddTextColumn("customer", {"acme", "acme", "acme", "acme", "acme", "globex"})
      .AddTimestampTextColumn("time", {"2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z",
                                       "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"})
      .AddDecimalColumn("tokens", std::vector<std::int64_t>{10005, 5, 20000, 1, 0, 99999}, 1)
      .AddTextColumn("model", {"large", "large", "large", "small", "small", "small"});
  CHECK(requests.rows() == 6);
  CHECK(requests.complete());
  tf::FeedResult fed = rater.Feed(requests);
  CHECK(fed.rows == 6);
  CHECK(fed.rated == 6);
  CHECK(fed.rejects.empty());

  tf::UsageBatch payments(plan, "payment");
  payments.AddTextColumn("customer", {"acme", "acme"})
      .AddTimestampColumn("time", std::vector<std::int64_t>{1772323200000000, 1772409600000000})
      .AddTextColumn("payment_id", {"p1", "p2"})
      .AddDecimalColumn("amount", {"100.00", "0.01"});
  CHECK(rater.Feed(payments).rated == 2);
  rater.AddCustomer("initech");  // no usage: still billed the platform fee (and the minimum)

  std::vector<tf::Invoice> invoices = rater.Finish();
  REQUIRE(invoices.size() == 3);
  const tf::Invoice& acme = invoices[0];
  CHECK(acme.customer == "acme");
  CHECK(acme.plan == "api-test");
  CHECK(acme.currency == "USD");
  CHECK(acme.period_start == "2026-03-01T00:00:00Z");
  // 5 requests, 3 free: 2 × 0.25.
  REQUIRE(Line(acme, "Requests") != nullptr);
  CHECK(Line(acme, "Requests")->amount == "0.50");
  CHECK(Line(acme, "Requests")->quantity == std::optional<std::string>("5"));
  CHECK(Line(acme, "Requests")->tiers.size() == 2);
  // 1000.5 + 0.5 + 2000.0 large tokens = 3001.0 at 3.00 per 1000 = 9.003 → 9.00.
  CHECK(Line(acme, "Tokens")->quantity == std::optional<std::string>("3001.0"));
  CHECK(Line(acme, "Tokens")->amount == "9.00");
  // 100.00 × 2.9% + 0.30 = 3.20 and 0.01 × 2.9% + 0.30 = 0.30029 → 3.50029 → 3.50.
  CHECK(Line(acme, "Processing")->amount == "3.50");
  CHECK(acme.total == "23.00");
  // globex: 1 small request; 10.00 < the 12.00 minimum: a true-up line of 2.00.
  const tf::Invoice& globex = invoices[1];
  CHECK(globex.customer == "globex");
  CHECK(globex.total == "12.00");
  const tf::InvoiceLine& minimum = globex.lines.back();
  CHECK(minimum.kind == tf::LineKind::kMinimum);
  CHECK(minimum.name == "Minimum 12.00 USD");
  CHECK(minimum.amount == "2.00");
  CHECK(invoices[2].customer == "initech");
  CHECK(invoices[2].total == "12.00");

  tf::RowCounts counts = rater.counts();
  CHECK(counts.received == 8);
  CHECK(counts.rated == 8);

  // JSON Lines: one invoice a line, decimals as strings.
  std::string jsonl = tf::FormatInvoices(invoices);
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 3);
  CHECK(jsonl.find("{\"customer\":\"acme\",\"plan\":\"api-test\"") == 0);
  CHECK(jsonl.find("\"total\":\"23.00\"}\n") != std::string::npos);
  CHECK(tf::FormatInvoices(invoices, tf::InvoiceFormat::kCsv).find("acme") != std::string::npos);
}

TEST_CASE("api: bad rows are rejected with a reason, and every row is accounted for") {
  tf::Plan plan = Compiled();
  tf::Rater rater(plan, {"2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"});
  tf::UsageBatch batch(plan, "request");
  // Columns in any order; one reason per row (the first field's).
  batch.AddTextColumn("model", {"large", "medium", "small", "small", "large", "large"})
      .AddDecimalColumn("tokens", {"1", "2", "3x", "4", "5", "6"})
      .AddTextColumn("customer", {"acme", "acme", "acme", "", "acme", "acme"})
      .AddTimestampTextColumn("time", {"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-04-01T00:00:00Z",
                                       "yesterday"});
  tf::FeedResult r = rater.Feed(batch);
  CHECK(r.rows == 6);
  CHECK(r.rated == 1);
  CHECK(r.rejected == 5);
  CHECK(r.rated + r.rejected + r.duplicates == r.rows);
  REQUIRE(r.rejects.size() == 5);
  CHECK(r.rejects[0].row == 1);
  CHECK(r.rejects[0].reason == "field `model`: `medium` is not one of `small`, `large`");
  CHECK(r.rejects[1].row == 2);
  CHECK(r.rejects[1].reason.find("field `tokens`: `3x` is not a number") == 0);
  CHECK(r.rejects[2].row == 3);
  CHECK(r.rejects[2].reason == "field `customer`: an empty customer id");
  CHECK(r.rejects[3].row == 4);
  CHECK(r.rejects[3].reason.find("is outside the period [2026-03-01T00:00:00Z, 2026-04-01T00:00:00Z)") !=
        std::string::npos);
  CHECK(r.rejects[4].row == 5);
  CHECK(r.rejects[4].reason.find("field `time`: `yesterday` is not an RFC 3339 timestamp") == 0);

  std::vector<tf::Invoice> invoices = rater.Finish();
  REQUIRE(invoices.size() == 1);
  CHECK(Line(invoices[0], "Requests")->quantity == std::optional<std::string>("1"));
}

TEST_CASE("api: a repeated event key is a duplicate, across batches too") {
  tf::Plan plan = Compiled();
  tf::Rater rater(plan);
  auto payments = [&](std::vector<std::string> ids) {
    tf::UsageBatch batch(plan, "payment");
    std::vector<std::string> customers(ids.size(), "acme");
    std::vector<std::int64_t> times(ids.size(), 0);
    std::vector<std::int64_t> amounts(ids.size(), 1000);
    batch.AddTextColumn("customer", customers)
        .AddTimestampColumn("time", times)
        .AddTextColumn("payment_id", std::move(ids))
        .AddDecimalColumn("amount", amounts, 2);
    return rater.Feed(batch);
  };
  tf::FeedResult first = payments({"p1", "p2", "p1"});
  CHECK(first.rated == 2);
  CHECK(first.duplicates == 1);
  tf::FeedResult second = payments({"p2", "p3"});
  CHECK(second.rated == 1);
  CHECK(second.duplicates == 1);
  tf::RowCounts c = rater.counts();
  CHECK(c.received == 5);
  CHECK(c.rated == 3);
  CHECK(c.duplicates == 2);
  CHECK(c.received == c.rated + c.rejected + c.duplicates);
  // 3 × (10.00 × 2.9% + 0.30) = 3 × 0.59.
  CHECK(Line(rater.Finish()[0], "Processing")->amount == "1.77");
}

TEST_CASE("api: misuse is a UsageError that says what is wrong") {
  tf::Plan plan = Compiled();
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const tf::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no UsageError");
  };
  CHECK(message([&] { (void)tf::UsageBatch(plan, "reqest"); }) ==
        "plan \"api-test\" has no event `reqest` (its events: `request`, `payment`)");

  tf::UsageBatch batch(plan, "request");
  CHECK(message([&] { batch.AddTextColumn("tokns", {"1"}); }).find("event `request` has no field `tokns` (its fields: "
                                                                   "`customer`, `time`, `tokens`, `model`)") == 0);
  CHECK(message([&] { batch.AddTextColumn("tokens", {"1"}); }) ==
        "field `tokens` of event `request` is decimal (quantity of token); give it with AddDecimalColumn, not as a "
        "text column");
  CHECK(message([&] { batch.AddBoolColumn("model", std::vector<std::uint8_t>{1}); }).find("field `model`") == 0);
  CHECK(message([&] { batch.AddDecimalColumn("tokens", std::vector<std::int64_t>{1}, 39); }).find("scale 39") !=
        std::string::npos);

  batch.AddTextColumn("customer", {"acme", "acme"});
  CHECK(message([&] { batch.AddTextColumn("customer", {"x", "y"}); }).find("already has a column") != std::string::npos);
  CHECK(message([&] { batch.AddDecimalColumn("tokens", {"1"}); }) ==
        "column `tokens` has 1 value, but the batch has 2 rows");
  CHECK_FALSE(batch.complete());

  tf::Rater rater(plan);
  CHECK(message([&] { rater.Feed(batch); }) ==
        "the `request` batch has no column for `time`, `tokens`, `model` (every field needs one)");
  tf::Plan other = Compiled();
  tf::UsageBatch foreign(other, "request");
  CHECK(message([&] { rater.Feed(foreign); }).find("another plan") != std::string::npos);
  CHECK(message([&] { rater.SetSubscriptionDecimal("acme", "seats", "1"); }).find("no subscription fields") !=
        std::string::npos);
  CHECK(message([&] { (void)tf::Rater(plan, {"2026-03-01", ""}); }).find("both") != std::string::npos);
  CHECK(message([&] { (void)tf::Rater(plan, {"2026-04-01", "2026-03-01"}); }).find("ends before it starts") !=
        std::string::npos);
  CHECK(message([&] { (void)tf::Rater(plan, {"March", "April"}); }).find("period_start `March`") == 0);

  rater.Finish();
  CHECK(message([&] { rater.Finish(); }).find("has finished") != std::string::npos);
  batch.Clear();
  CHECK(batch.rows() == 0);
  CHECK(message([&] { rater.Feed(batch); }).find("has finished") != std::string::npos);

  // A decimal edited into something else cannot be formatted.
  tf::Invoice invoice;
  invoice.total = "12,00";
  CHECK(message([&] { tf::FormatInvoices(std::vector<tf::Invoice>{invoice}); }).find("`12,00` is not a decimal") !=
        std::string::npos);
}

TEST_CASE("api: invoices are identical whether fed in one batch or many, in any order") {
  tf::Plan plan = Compiled();
  Requests requests(500);
  std::string whole = RateInBatches(plan, requests, requests.size());
  CHECK(std::count(whole.begin(), whole.end(), '\n') == 5);
  CHECK(RateInBatches(plan, requests, 1) == whole);
  CHECK(RateInBatches(plan, requests, 7) == whole);
  CHECK(RateInBatches(plan, requests, 128) == whole);

  // Reversed row order.
  Requests reversed = requests;
  std::reverse(reversed.customer.begin(), reversed.customer.end());
  std::reverse(reversed.time.begin(), reversed.time.end());
  std::reverse(reversed.tokens.begin(), reversed.tokens.end());
  std::reverse(reversed.model.begin(), reversed.model.end());
  CHECK(RateInBatches(plan, reversed, 33) == whole);
}

TEST_CASE("api: raters on several threads, customers partitioned, give one rater's invoices") {
  tf::Plan plan = Compiled();
  Requests requests(300);
  std::string single = RateInBatches(plan, requests, 64);

  // Two partitions by customer, each rated on its own thread by its own Rater.
  std::vector<tf::Invoice> parts[2];
  std::vector<std::thread> threads;
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      Requests mine(0);
      for (std::size_t i = 0; i < requests.size(); ++i) {
        if ((requests.customer[i] < "i") == (p == 0)) {
          mine.customer.push_back(requests.customer[i]);
          mine.time.push_back(requests.time[i]);
          mine.tokens.push_back(requests.tokens[i]);
          mine.model.push_back(requests.model[i]);
        }
      }
      tf::Rater rater(plan);
      rater.Feed(mine.Batch(plan, 0, mine.size()));
      parts[p] = rater.Finish();
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<tf::Invoice> merged = parts[0];
  merged.insert(merged.end(), parts[1].begin(), parts[1].end());
  std::sort(merged.begin(), merged.end(), [](const tf::Invoice& a, const tf::Invoice& b) { return a.customer < b.customer; });
  CHECK(tf::FormatInvoices(merged) == single);
}

TEST_CASE("api: plans compile on several threads at once") {
  std::string expected = RateInBatches(Compiled(), Requests(50), 50);
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      tf::CompileResult r = tf::Plan::Compile(kPlan, "test.tariff");
      if (r.ok()) got[t] = RateInBatches(*r.plan, Requests(50), 50);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& g : got) CHECK(g == expected);
}

TEST_CASE("api: a rating failure is a RatingError naming the plan line, and stops the rater") {
  // Intermediates are exact whatever their size (a sum past 38 digits is carried as a fraction):
  // only an amount that itself needs more than 38 digits stops rating: 400 × (10^38 − 1) tokens
  // at 3.00 USD per 1000 token is about 1.2 × 10^39 USD.
  tf::Plan plan = Compiled();
  tf::Rater rater(plan);
  tf::UsageBatch batch(plan, "request");
  const std::string huge = "99999999999999999999999999999999999999";  // 38 digits
  const std::size_t rows = 400;
  batch.AddTextColumn("customer", std::vector<std::string>(rows, "acme"))
      .AddTimestampColumn("time", std::vector<std::int64_t>(rows, 0))
      .AddDecimalColumn("tokens", std::vector<std::string>(rows, huge))
      .AddTextColumn("model", std::vector<std::string>(rows, "large"));
  CHECK(rater.Feed(batch).rejects.empty());
  try {
    (void)rater.Finish();
    FAIL("no RatingError");
  } catch (const tf::RatingError& e) {
    CHECK(e.file() == "test.tariff");
    CHECK(e.line() == 25);  // charge "Tokens" = tokens * 3.00 USD per 1000 token
    CHECK(std::string(e.what()).find("test.tariff:25:") == 0);
    CHECK(std::string(e.what()).find("does not fit in 38 digits") != std::string::npos);
  }
  CHECK_THROWS_AS(rater.Finish(), tf::UsageError);
}

TEST_CASE("api: a product wider than 38 digits is carried exactly until it is rounded") {
  // 999…9.99 (38 digits) × 2.9% = 28999999999999999999999999999999999.99971 needs 40 digits; + 0.30
  // and rounded half-even per line it is 29000000000000000000000000000000000.30, which fits.
  tf::Plan plan = Compiled();
  tf::Rater rater(plan);
  tf::UsageBatch batch(plan, "payment");
  batch.AddTextColumn("customer", {"acme"})
      .AddTimestampColumn("time", std::vector<std::int64_t>{0})
      .AddTextColumn("payment_id", {"p1"})
      .AddDecimalColumn("amount", {"999999999999999999999999999999999999.99"});
  rater.Feed(batch);
  const std::vector<tf::Invoice> invoices = rater.Finish();
  REQUIRE(invoices.size() == 1);
  std::string processing;
  for (const auto& line : invoices[0].lines) {
    if (line.name == "Processing") processing = line.amount;
  }
  CHECK(processing == "29000000000000000000000000000000000.30");
}

TEST_CASE("api: subscription values per customer") {
  const char* source = R"(plan "seats" {
  currency USD
  period month
  unit seat
  subscription {
    seats: quantity of seat
    tier: one of "basic", "pro"
    annual: boolean
  }
  charge "Seats" = volume subscription.seats {
    up to 5 seat   7.00 USD per seat
    above          6.00 USD per seat
  }
}
)";
  tf::Plan plan = Compiled(source);
  REQUIRE(plan.subscription().size() == 3);
  CHECK(plan.subscription()[0].name == "annual");
  CHECK(plan.subscription()[0].type == tf::FieldType::kBool);
  CHECK(plan.subscription()[1].name == "seats");
  CHECK(plan.subscription()[1].unit == "seat");
  CHECK(plan.subscription()[2].allowed_values == std::vector<std::string>{"basic", "pro"});

  tf::Rater rater(plan);
  rater.SetSubscriptionDecimal("acme", "seats", "5");
  rater.SetSubscriptionDecimal("globex", "seats", "6");
  rater.SetSubscriptionText("globex", "tier", "pro");
  rater.SetSubscriptionBool("globex", "annual", true);
  CHECK_THROWS_AS(rater.SetSubscriptionText("globex", "tier", "gold"), tf::UsageError);
  CHECK_THROWS_AS(rater.SetSubscriptionText("globex", "seats", "6"), tf::UsageError);
  CHECK_THROWS_AS(rater.SetSubscriptionDecimal("globex", "seats", "six"), tf::UsageError);
  std::vector<tf::Invoice> invoices = rater.Finish();
  REQUIRE(invoices.size() == 2);
  CHECK(invoices[0].total == "35.00");
  CHECK(invoices[1].total == "36.00");
}

TEST_CASE("api: the version is the project's") {
  std::string v = tf::Version();
  CHECK(std::count(v.begin(), v.end(), '.') == 2);
}

TEST_CASE("api: subscription dates prorate recurring fees and reject usage outside them, credits are drawn at Finish") {
  const char* source = R"(
plan "stripe" {
  currency USD
  period month
  proration by second
  credits drawn by expiry, priority
  unit request
  event request {}
  meter requests = count(request)
  charge "Basic" = 10.00 USD
  charge "Requests" = requests * 1.00 USD per request
}
)";
  tf::Plan plan = Compiled(source);
  tf::Rater rater(plan, {"2026-04-01", "2026-05-01"});
  // Cancelled halfway through April: half the fee; a row after the end is rejected.
  rater.SetSubscriptionDates("half", "", "2026-04-16");
  rater.SetSubscriptionDates("whole", "2026-01-01", "");
  rater.AddCredit("whole", "promo", "4.00", "2026-12-31", 1);
  rater.AddCredit("whole", "goodwill", "50.00");
  CHECK_THROWS_AS(rater.AddCredit("whole", "promo", "1.00"), tf::UsageError);
  CHECK_THROWS_AS(rater.AddCredit("whole", "fine", "1.001"), tf::UsageError);
  CHECK_THROWS_AS(rater.SetSubscriptionDates("x", "2026-04-20", "2026-04-10"), tf::UsageError);
  tf::UsageBatch batch(plan, "request");
  batch.AddTextColumn("customer", {"half", "half", "whole"});
  batch.AddTimestampTextColumn("time", {"2026-04-10T00:00:00Z", "2026-04-20T00:00:00Z", "2026-04-10T00:00:00Z"});
  tf::FeedResult fed = rater.Feed(batch);
  CHECK(fed.rated == 2);
  REQUIRE(fed.rejects.size() == 1);
  CHECK(fed.rejects[0].row == 1);
  CHECK(fed.rejects[0].reason == "customer `half` has no subscription in force at 2026-04-20T00:00:00Z");
  CHECK_THROWS_AS(rater.SetSubscriptionDates("late", "2026-04-20", ""), tf::UsageError);  // after Feed
  std::vector<tf::Invoice> invoices = rater.Finish();
  REQUIRE(invoices.size() == 2);
  CHECK(invoices[0].customer == "half");
  CHECK(invoices[0].lines[0].amount == "5.00");  // 10.00 × 15/30
  CHECK(invoices[0].total == "6.00");
  CHECK(invoices[1].customer == "whole");
  CHECK(invoices[1].total == "0.00");  // 11.00, paid by promo 4.00 then goodwill 7.00
  REQUIRE(invoices[1].credits.size() == 2);
  CHECK(invoices[1].credits[0].grant == "promo");
  CHECK(invoices[1].credits[0].remaining == "0.00");
  CHECK(invoices[1].credits[1].grant == "goodwill");
  CHECK(invoices[1].credits[1].used == "7.00");
  CHECK(invoices[1].credits[1].remaining == "43.00");
  CHECK(tf::FormatInvoices(invoices).find(R"("credits":[{"grant":"promo","balance":"4.00","used":"4.00","remaining":"0.00")") != std::string::npos);
  // Without a period there is nothing to prorate against.
  tf::Rater no_period(plan);
  CHECK_THROWS_AS(no_period.SetSubscriptionDates("a", "2026-04-01", ""), tf::UsageError);
}

namespace {

// Plan::Compile's whole outcome, or the exception it let out (which it never may).
struct Outcome {
  std::optional<tf::CompileResult> result;
  std::string foreign;  // what() of an exception that escaped, "" when none did
};

Outcome CompileCatching(const std::string& source) {
  Outcome o;
  try {
    o.result = tf::Plan::Compile(source, "plan.tariff");
  } catch (const std::exception& e) {
    o.foreign = e.what();
  }
  return o;
}

// A volume or graduated table on a meter in `meter_unit`, priced per `per` of `price_unit`.
std::string TieredPlan(const std::string& model, const std::string& meter_unit, const std::string& bound,
                       const std::string& price) {
  return "plan \"p\" {\n  currency USD\n  event upload { size: quantity of " + meter_unit + " }\n"
         "  meter data = sum(upload.size)\n  charge \"Data\" = " + model + " data {\n    up to " + bound + "  " +
         price + "\n    above  1 USD per " + meter_unit + "\n  } allow falling_total\n}\n";
}

}  // namespace

TEST_CASE("api: Compile keeps its promise: the issue's crashes are diagnostics or plans, never exceptions") {
  // Each used to escape Plan::Compile as a raw tariff::DecimalError (and exit 3 in `tariff check`).
  const std::vector<std::string> sources = {
      TieredPlan("volume", "MB", "825 MB", "41 USD per 7 B"),
      TieredPlan("volume", "MB", "140.13 MB", "83 USD per 0.5 B"),
      TieredPlan("graduated", "GB", "10 GB", "0.10 USD per B"),
  };
  for (const std::string& source : sources) {
    INFO(source);
    Outcome o = CompileCatching(source);
    CHECK(o.foreign.empty());
    REQUIRE(o.result.has_value());
    for (const tf::Diagnostic& d : o.result->diagnostics) {
      INFO(d.message);
      CHECK_FALSE(d.code.empty());  // the plan's own problems have a code; none is internal
      CHECK(d.severity == tf::Severity::kWarning);
    }
  }
}

TEST_CASE("api: no literal in a tier table lets an exception out of Compile") {
  // Every unit pair of the information and time dimensions, with bounds and prices at the edges
  // of 38 digits. Whatever the compiler thinks of each, the answer is a CompileResult.
  const std::vector<std::string> information = {"B", "KB", "MB", "GB", "PB", "KiB", "GiB", "PiB", "bit", "Tbit"};
  const std::vector<std::string> time = {"ms", "s", "min", "h", "day"};
  const std::vector<std::string> numbers = {"7", "0.5", "99999999999999999999999999999999999999",
                                            "0.00000000000000000000000000000000000001", "9999999999999999999.9999999999999999999"};
  std::size_t compiled = 0, refused = 0;
  for (const auto* dimension : {&information, &time}) {
    for (const std::string& meter : *dimension) {
      for (const std::string& unit : *dimension) {
        for (std::size_t k = 0; k < numbers.size(); ++k) {
          const std::string& n = numbers[k];
          const std::string& m = numbers[(k + 2) % numbers.size()];
          for (const char* model : {"volume", "graduated"}) {
            std::string source = TieredPlan(model, meter, n + " " + unit, m + " USD per " + n + " " + unit);
            INFO(source);
            Outcome o = CompileCatching(source);
            CHECK(o.foreign.empty());
            if (o.result && o.result->ok()) ++compiled;
            if (o.result && !o.result->ok()) {
              CHECK(o.result->error_count() > 0);  // refused with a reason, never silently
              ++refused;
            }
          }
        }
      }
    }
  }
  CHECK(compiled + refused == 2 * 5 * (information.size() * information.size() + time.size() * time.size()));
}

TEST_CASE("api: an invoice's subtotals cross the public API and back into its formats") {
  const char* source = R"(plan "sub" {
  currency USD
  period month

  unit request
  event request {}
  meter requests = count(request)
  charge "Basic" = 10.00 USD
  charge "Requests" = requests * 0.25 USD per request
  discount 10% on "Requests"
  subtotal "Usage" of "Requests", "Discount 10% on Requests"
}
)";
  tf::Plan plan = Compiled(source);
  tf::Rater rater(plan, {"2026-04-01", "2026-05-01"});
  tf::UsageBatch batch(plan, "request");
  batch.AddTextColumn("customer", {"acme", "acme", "acme"});
  batch.AddTimestampTextColumn("time", {"2026-04-10T00:00:00Z", "2026-04-11T00:00:00Z", "2026-04-12T00:00:00Z"});
  rater.Feed(batch);
  std::vector<tf::Invoice> invoices = rater.Finish();
  REQUIRE(invoices.size() == 1);
  REQUIRE(invoices[0].subtotals.size() == 1);
  CHECK(invoices[0].subtotals[0].name == "Usage");
  CHECK(invoices[0].subtotals[0].of == std::vector<std::string>{"Requests", "Discount 10% on Requests"});
  CHECK(invoices[0].subtotals[0].amount == "0.67");  // 0.75 - 0.08 (10% of 0.75 = 0.075, half_even to 0.08)
  CHECK(invoices[0].total == "10.67");
  const std::string jsonl = tf::FormatInvoices(invoices);
  CHECK(jsonl.find(R"("subtotals":[{"name":"Usage","of":["Requests","Discount 10% on Requests"],"amount":"0.67"}])") != std::string::npos);
}
