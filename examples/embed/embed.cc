// examples/embed: tariff inside a program, through its one public header. Compiles a plan from
// a string, rates two batches of usage columns, and prints the invoices as JSON Lines (the
// shape `tariff rate` writes). Build it against an installed tariff with the CMakeLists.txt
// beside it (docs/library.md).
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <tariff/tariff.h>

namespace tf = tariff::api;

namespace {

constexpr const char* kPlan = R"(plan "embed-demo" {
  currency USD
  period month
  rounding half_even per line

  unit token

  event request {
    tokens: quantity of token
    model: one of "small", "large"
  }

  meter requests = count(request)
  meter large_tokens = sum(request.tokens) where request.model == "large"

  charge "Platform" = 20.00 USD
  charge "Requests" = graduated requests {
    up to 2 request  free
    above            0.50 USD per 1 request
  }
  charge "Tokens" = large_tokens * 3.00 USD per 1000 token
}
)";

}  // namespace

int main() {
  tf::CompileResult compiled = tf::Plan::Compile(kPlan, "embed-demo.tariff");
  std::cerr << compiled.RenderText();  // warnings, if any; errors when it did not compile
  if (!compiled.ok()) return 1;
  const tf::Plan& plan = *compiled.plan;

  try {
    tf::Rater rater(plan, {.period_start = "2026-03-01T00:00:00Z", .period_end = "2026-04-01T00:00:00Z"});
    tf::UsageBatch batch(plan, "request");

    // Batch 1: decimals as exact text, timestamps as RFC 3339 text.
    batch.AddTextColumn("customer", {"acme", "acme", "globex"})
        .AddTimestampTextColumn("time", {"2026-03-01T09:00:00Z", "2026-03-02T10:30:00Z", "2026-03-03T11:00:00Z"})
        .AddDecimalColumn("tokens", {"1200", "800.5", "40"})
        .AddTextColumn("model", {"large", "large", "small"});
    tf::FeedResult first = rater.Feed(batch);

    // Batch 2, the fast path: integer coefficients with a scale, timestamps in microseconds.
    // The third row is rejected (`medium` is not a model) and reported, not rated.
    batch.Clear();
    const std::vector<std::int64_t> tokens = {2500, 100, 7};  // scale 1: 250.0, 10.0, 0.7
    const std::vector<std::int64_t> times = {1772560800000000, 1772647200000000, 1772733600000000};
    batch.AddTextColumn("customer", {"acme", "globex", "globex"})
        .AddTimestampColumn("time", times)
        .AddDecimalColumn("tokens", tokens, 1)
        .AddTextColumn("model", {"large", "small", "medium"});
    tf::FeedResult second = rater.Feed(batch);
    for (const tf::RowReject& reject : second.rejects) {
      std::cerr << "batch 2, row " << reject.row << " rejected: " << reject.reason << "\n";
    }

    std::vector<tf::Invoice> invoices = rater.Finish();
    std::cout << tf::FormatInvoices(invoices);
    tf::RowCounts counts = rater.counts();
    std::cerr << "rows " << counts.received << " = rated " << counts.rated << " + rejected " << counts.rejected
              << " + duplicates " << counts.duplicates << " (batches: " << first.rated << " + " << second.rated
              << " rated)\n";
  } catch (const tf::RatingError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const tf::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
