// tests/fuzz: usage files through the readers (runtime/io) and the billing layer, as
// `tariff rate` runs them, against three fixed plans. Every row read is rated, rejected with a
// reason, or dropped as a duplicate, and the counts add up; every batch holds valid rows of one
// event; invoices total the sum of their lines; and the result does not depend on the batch size.
//
// Input: the bytes of a usage file. One starting with `{` is read as JSON Lines, anything else
// as CSV (so the bundled .csv and .jsonl files are seeds as they are). Each input is read
// against each plan (their schemas suit most bundled usage files), twice: in batches of 4096
// rows and of 1 to 3, with a longest row of 256 bytes or 16 KiB.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/decimal/fraction.h"
#include "compiler/compiler.h"
#include "compiler/ir/ir.h"
#include "compiler/lower/lower.h"
#include "runtime/billing/billing.h"
#include "runtime/columnar/batch.h"
#include "runtime/columnar/timestamp.h"
#include "runtime/exec/exec.h"
#include "runtime/io/invoice_writer.h"
#include "runtime/io/usage_reader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr std::string_view kHarness = "fuzz_usage";

// Two events (one with a key), an enumeration, a boolean, a timestamp field, a `where` and a
// `by`: the schema of most golden reject cases. Rated without a period.
constexpr const char* kCallsPlan = R"(plan "calls" {
  currency USD
  period month
  rounding half_up per line
  unit request
  event call key call_id {
    call_id: id
    units: quantity of request
    region: one of "eu", "us"
    cached: boolean
  }
  event ping {
    at: timestamp
  }
  meter units = sum(call.units) where call.cached == false
  meter pings = count(ping)
  meter regions = count_distinct(call.region)
  charge "Units" by call.region = units * match call.region {
    "eu": 1.00 USD per request
    else: 0.90 USD per request
  }
  charge "Pings" = pings * 0.10 USD per ping
  charge "Regions" = regions * 2.00 USD
}
)";

// One money field (`customer,time,amount`), per-event rounding; rated for March 2026, so rows
// outside it are rejected.
constexpr const char* kPaymentsPlan = R"(plan "payments" {
  currency JPY
  period month
  rounding half_up per event
  event payment {
    amount: money
  }
  meter paid = sum(payment.amount)
  meter largest = max(payment.amount)
  meter mean = average(payment.amount)
  charge "Fees" = each payment: max(payment.amount * 3.6% + 30 JPY, 50 JPY)
  charge "Largest" = largest * 1%
  charge "Mean" = mean * 25 bp
  charge "Paid" = graduated paid {
    up to 10_000 JPY  free
    above             0.5%
  }
}
)";

// One quantity field (`customer,time,bytes`) in GB: time-weighted meters, volume tiers in TB,
// a package in GiB, rounding per invoice in a currency of three decimals.
constexpr const char* kStoragePlan = R"(plan "storage" {
  currency BHD
  period month
  rounding half_even per invoice
  event sample {
    bytes: quantity of GB
  }
  meter stored = time_weighted_average(sample.bytes)
  meter held = integral(sample.bytes)
  meter latest_bytes = latest(sample.bytes)
  meter smallest = min(sample.bytes)
  charge "Stored" = volume stored {
    up to 1 TB    0.023 BHD per GB
    up to 500 TB  0.022 BHD per GB + 1.000 BHD flat
    above         0.021 BHD per GB
  }
  charge "Held" = held * 0.001 BHD per GB·h
  charge "Latest" = latest_bytes * 0.007 BHD per started 3 GiB
  charge "Smallest" = smallest * 0.5 BHD per TB
}
)";

struct FixedPlan {
  std::string name;
  tariff::ir::RatingFunction function;
  std::optional<std::int64_t> period_start, period_end;
  std::string period_start_text, period_end_text;
};

FixedPlan Compile(const char* text, const char* start = nullptr, const char* end = nullptr) {
  tariff::SourceManager sources;
  tariff::FileId id = sources.AddFile("fixed.tariff", text);
  tariff::DiagnosticSink sink;
  tariff::CheckedSource checked = tariff::CheckSource(sources, id, sink);
  if (!checked.ok()) tariff::fuzz::Fail(kHarness, "a fixed plan does not check");
  tariff::LowerResult lowered = tariff::Lower(*checked.checked, checked.checked->plans.front(), sources.file(id));
  if (!lowered.ok()) tariff::fuzz::Fail(kHarness, "a fixed plan does not lower: " + lowered.errors.front());
  FixedPlan plan{lowered.function.plan, std::move(lowered.function), {}, {}, {}, {}};
  if (start != nullptr) {
    plan.period_start = tariff::ParseTimestamp(start);
    plan.period_end = tariff::ParseTimestamp(end);
    plan.period_start_text = start;
    plan.period_end_text = end;
  }
  return plan;
}

const std::vector<FixedPlan>& Plans() {
  static const std::vector<FixedPlan> plans = [] {
    std::vector<FixedPlan> p;
    p.push_back(Compile(kCallsPlan));
    p.push_back(Compile(kPaymentsPlan, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"));
    p.push_back(Compile(kStoragePlan));
    return p;
  }();
  return plans;
}

// The input as a file the readers can open: an anonymous memory file, rewritten per input.
const std::string& InputPath(std::string_view data) {
  static int fd = memfd_create("fuzz-usage", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0) tariff::fuzz::Fail(kHarness, "cannot make the memory file");
  for (std::size_t done = 0; done < data.size();) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n <= 0) tariff::fuzz::Fail(kHarness, "cannot write the memory file");
    done += static_cast<std::size_t>(n);
  }
  return path;
}

// What one read-and-rate did, for comparing two batch sizes.
struct Outcome {
  std::uint64_t read = 0, returned = 0, rejected = 0, duplicates = 0, rated = 0;
  std::string rejects;          // reader's, then the billing layer's: "line: reason"
  std::string error;            // the reader's fatal error
  std::string rating_error;     // a RatingError's message ("" when rating went through)
  std::string invoices;         // JSON Lines
  bool operator==(const Outcome&) const = default;
};

std::string Describe(const Outcome& o) {
  std::ostringstream s;
  s << "read " << o.read << " returned " << o.returned << " rejected " << o.rejected << " duplicates " << o.duplicates
    << " rated " << o.rated << "\nerror: " << o.error << "\nrating error: " << o.rating_error << "\nrejects:\n"
    << o.rejects << "invoices:\n" << o.invoices;
  return s.str();
}

void CheckBatch(const tariff::Batch& batch, const std::vector<tariff::EventSchema>& schemas, std::size_t batch_size,
                const FixedPlan& plan, std::map<int, std::set<std::string>>& keys) {
  FUZZ_CHECK(batch.event >= 0 && static_cast<std::size_t>(batch.event) < schemas.size(), "a batch of an unknown event");
  const tariff::EventSchema& schema = schemas[static_cast<std::size_t>(batch.event)];
  FUZZ_CHECK(batch.schema == &schema, "a batch's schema is not the one of its event");
  FUZZ_CHECK(batch.size() >= 1 && batch.size() <= batch_size,
             "a batch of " + std::to_string(batch.size()) + " rows (batch size " + std::to_string(batch_size) + ")");
  FUZZ_CHECK(batch.columns.size() == schema.fields.size(), "a batch without one column per field");
  for (std::size_t f = 0; f < schema.fields.size(); ++f) {
    const tariff::Column& column = batch.columns[f];
    const tariff::FieldSchema& field = schema.fields[f];
    FUZZ_CHECK(column.type == field.type && column.size() == batch.size(), "column `" + field.name + "` has the wrong type or length");
    for (std::size_t r = 0; r < batch.size(); ++r) {
      if (!field.enum_values.empty()) {
        bool known = false;
        for (const auto& v : field.enum_values) known = known || v == column.texts[r];
        FUZZ_CHECK(known, "field `" + field.name + "` holds `" + column.texts[r] + "`, not one of its values");
      }
      if (static_cast<int>(f) == schema.customer_field) FUZZ_CHECK(!column.texts[r].empty(), "a row with an empty customer");
      if (static_cast<int>(f) == schema.time_field && plan.period_start) {
        FUZZ_CHECK(column.times[r] >= *plan.period_start && column.times[r] < *plan.period_end, "a row outside the period was returned");
      }
      if (static_cast<int>(f) == schema.key_field) {
        FUZZ_CHECK(keys[batch.event].insert(column.texts[r]).second, "key `" + column.texts[r] + "` was returned twice");
      }
    }
  }
  for (const tariff::RowOrigin& origin : batch.origins) FUZZ_CHECK(origin.file == 0 && origin.line >= 1, "a row without its line");
}

Outcome ReadAndRate(const FixedPlan& plan, const std::string& path, tariff::UsageFormat format, std::size_t batch_size,
                    std::size_t max_row_bytes) {
  Outcome out;
  tariff::PlanSet plans;
  plans.functions.push_back(&plan.function);
  plans.default_plan = plan.name;
  tariff::BillingOptions billing;
  billing.period_start = plan.period_start;
  billing.period_end = plan.period_end;
  billing.period_start_text = plan.period_start_text;
  billing.period_end_text = plan.period_end_text;
  tariff::UsageReaderOptions reading;
  reading.batch_size = batch_size;
  reading.max_row_bytes = max_row_bytes;
  reading.period_start = plan.period_start;
  reading.period_end = plan.period_end;

  try {
    tariff::Biller biller(plans, {}, {}, billing);
    std::unique_ptr<tariff::UsageReader> reader = tariff::OpenUsage({path}, biller.schemas(), reading, format);
    tariff::Batch batch;
    std::map<int, std::set<std::string>> keys;
    while (reader->Next(batch)) {
      CheckBatch(batch, biller.schemas(), batch_size, plan, keys);
      out.returned += batch.size();
      try {
        biller.Consume(batch);
      } catch (const tariff::RatingError& e) {
        out.rating_error = e.what();
        break;
      }
    }
    out.read = reader->rows_read();
    out.rejected = reader->rows_rejected();
    out.duplicates = reader->duplicates();
    out.error = reader->error();
    FUZZ_CHECK(reader->rows_returned() == out.returned, "rows_returned() is not the rows in the batches");
    FUZZ_CHECK(out.read == out.returned + out.rejected + out.duplicates,
               "rows read != returned + rejected + duplicates\n" + Describe(out));
    FUZZ_CHECK(reader->rejects().size() == out.rejected, "rejects() does not hold every rejected row");
    if (!out.error.empty() && out.rating_error.empty()) {
      FUZZ_CHECK(!reader->Next(batch), "Next returned rows after a fatal error");
    }
    std::uint64_t last_line = 0;
    for (const tariff::Reject& r : reader->rejects()) {
      FUZZ_CHECK(!r.reason.empty() && r.line >= 1 && r.file == path, "a reject without its file, line or reason");
      FUZZ_CHECK(r.line >= last_line, "rejects out of line order");
      last_line = r.line;
      out.rejects += std::to_string(r.line) + ": " + r.reason + "\n";
    }
    if (!out.rating_error.empty()) return out;

    for (const tariff::RoutingReject& r : biller.rejects()) {
      FUZZ_CHECK(!r.reason.empty(), "a billing reject without a reason");
      out.rejects += std::to_string(r.origin.line) + ": " + r.reason + "\n";
    }
    out.rated = biller.rows_rated();
    FUZZ_CHECK(out.rated + biller.rejects().size() == out.returned,
               "rows returned != rated + rejected by billing\n" + Describe(out));
    std::vector<tariff::Invoice> invoices;
    try {
      invoices = biller.Finish();
    } catch (const tariff::RatingError& e) {
      out.rating_error = e.what();
      return out;
    }
    for (const tariff::Invoice& invoice : invoices) {
      // Exactly: lines shown to 20 decimals may add up past 38 digits on their way to the total.
      tariff::Fraction sum;
      for (const tariff::InvoiceLine& line : invoice.lines) sum += line.amount;
      FUZZ_CHECK(sum == tariff::Fraction(invoice.total), "invoice of " + invoice.customer + ": total " + invoice.total.ToString() +
                                           " != sum of lines " + sum.ToString());
    }
    std::ostringstream jsonl;
    tariff::WriteInvoicesJsonl(invoices, jsonl);
    out.invoices = jsonl.str();
  } catch (const tariff::BillingError& e) {
    tariff::fuzz::Fail(kHarness, std::string("BillingError without subscriptions: ") + e.what());
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("an undocumented exception: ") + e.what());
  }
  return out;
}

// The harness proper; LLVMFuzzerTestOneInput below wraps it.
int TestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const tariff::UsageFormat format = !text.empty() && text[0] == '{' ? tariff::UsageFormat::kJsonLines : tariff::UsageFormat::kCsv;
  const std::string& path = InputPath(text);
  const std::size_t small_batch = 1 + size % 3;
  // The reader's buffer is as large as the longest row it accepts (up to 1 MiB): a small one
  // makes rows cross buffer refills, and rows longer than it the documented fatal error.
  const std::size_t max_row_bytes = size % 2 == 0 ? 256 : 16384;
  for (const FixedPlan& plan : Plans()) {
    Outcome whole = ReadAndRate(plan, path, format, 4096, max_row_bytes);
    Outcome pieces = ReadAndRate(plan, path, format, small_batch, max_row_bytes);
    if (!whole.rating_error.empty() || !pieces.rating_error.empty()) {
      // Rating stopped (an overflow): how far the reader got depends on the batch size.
      FUZZ_CHECK(!whole.rating_error.empty() && !pieces.rating_error.empty(),
                 "plan \"" + plan.name + "\": rating stopped with one batch size only: " + whole.rating_error + pieces.rating_error);
      continue;
    }
    FUZZ_CHECK(whole == pieces, "plan \"" + plan.name + "\": batches of 4096 and of " + std::to_string(small_batch) +
                                    " rows differ\n--- 4096 ---\n" + Describe(whole) + "--- " + std::to_string(small_batch) +
                                    " ---\n" + Describe(pieces));
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tariff::fuzz::Guarded([&] { return TestOneInput(data, size); });
}
