// tests/fuzz: rating through the public API (include/tariff/tariff.h) only. The input chooses a
// plan from a template — currency, rounding, units, a pricing model, its numbers, options and
// adjustments — and then the usage rows. Asserted: Plan::Compile never throws; every exception
// while rating is a tariff::api::Error (and, for a well-formed batch, a RatingError); rows fed
// = rated + rejected + duplicates; every invoice's total is exactly the sum of its lines; and
// the invoices do not depend on how the rows are cut into batches or partitioned by customer
// over two Raters (tariff.h's "Deterministic").
//
// The regression inputs under regressions/fuzz_rate/ mean the plans this generator makes of
// them (regressions/fuzz_rate/README.md shows each): a change to Generate or Rows changes what
// they mean, so re-check (TARIFF_FUZZ_DEBUG=1) and re-minimize them after one.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/decimal/decimal.h"
#include "runtime/decimal/fraction.h"
#include "tariff/tariff.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr std::string_view kHarness = "fuzz_rate";

namespace api = tariff::api;
using tariff::fuzz::ByteReader;

struct Currency {
  const char* code;
  int minor;
};
constexpr Currency kCurrencies[] = {{"USD", 2}, {"JPY", 0}, {"BHD", 3}};
constexpr const char* kModes[] = {"half_even", "half_up", "half_down", "up", "down", "ceiling", "floor"};
constexpr const char* kPoints[] = {"line", "invoice", "event"};
// Units of one dimension each; the event's quantity and every price take units of one group.
const std::vector<std::vector<const char*>> kUnitGroups = {
    {"s", "min", "h", "ms", "day"},
    {"B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB"},
    {"call"},
};

// Every read of the input is a statement of its own: the order in which operands of one
// expression are evaluated is unspecified, and g++ and clang differ, so an input must not
// depend on it (the replay executables are built with g++, the fuzzers with clang).

// A decimal literal of up to `int_digits` integer digits and `frac_digits` decimals.
std::string Number(ByteReader& in, int int_digits, int frac_digits, bool positive = false) {
  std::uint64_t mod = 1;
  for (int i = 0; i < int_digits; ++i) mod *= 10;
  std::uint64_t whole = in.U64(int_digits > 4 ? 4 : 2) % mod;
  const int f = static_cast<int>(in.Below(static_cast<std::uint32_t>(frac_digits + 1)));
  std::string frac;
  for (int i = 0; i < f; ++i) frac += static_cast<char>('0' + in.Below(10));
  if (positive && whole == 0 && frac.find_first_not_of('0') == std::string::npos) whole = 1 + in.Below(9);
  return frac.empty() ? std::to_string(whole) : std::to_string(whole) + "." + frac;
}

struct Generated {
  std::string text;
  std::vector<const char*> units;  // the quantity's group
  const char* qty_unit = "s";
  int minor = 2;
};

std::string Rate(ByteReader& in, const Generated& g, const char* currency, bool package = false) {
  std::string per;
  switch (in.Below(6)) {
    case 0: per = ""; break;
    case 1: per = "1000 "; break;
    case 2: per = "7 "; break;
    case 3: per = "0.5 "; break;
    case 4: per = "3 "; break;
    default: per = Number(in, 3, 1, true) + " "; break;
  }
  const char* unit = g.units[in.Below(static_cast<std::uint32_t>(g.units.size()))];
  return Number(in, 3, 4) + " " + currency + " per " + (package ? "started " : "") + per + unit;
}

std::string TierTable(ByteReader& in, const Generated& g, const char* currency) {
  std::string table = " {\n";
  const int tiers = 1 + static_cast<int>(in.Below(3));
  std::uint64_t bound = 0;
  const char* bound_unit = g.units[in.Below(static_cast<std::uint32_t>(g.units.size()))];
  for (int t = 0; t <= tiers; ++t) {
    std::string price;
    switch (in.Below(4)) {
      case 0: price = "free"; break;
      case 1: {
        price = Rate(in, g, currency);
        price += " + " + Number(in, 2, 2) + " " + currency + " flat";
        break;
      }
      default: price = Rate(in, g, currency, in.Below(4) == 0); break;
    }
    if (t == tiers) {
      table += "    above  " + price + "\n";
    } else {
      bound += 1 + in.U64(2) % 2000;
      std::string frac = in.Below(3) == 0 ? "." + std::to_string(in.Below(100)) : "";
      table += "    up to " + std::to_string(bound) + frac + " " + bound_unit + "  " + price + "\n";
    }
  }
  return table + "  }";
}

Generated Generate(ByteReader& in) {
  Generated g;
  const Currency& currency = kCurrencies[in.Below(3)];
  const char* cur = currency.code;
  g.minor = currency.minor;
  g.units = kUnitGroups[in.Below(static_cast<std::uint32_t>(kUnitGroups.size()))];
  g.qty_unit = g.units[in.Below(static_cast<std::uint32_t>(g.units.size()))];

  std::string t = "plan \"fuzz\" {\n  currency " + std::string(cur) + "\n  period month\n";
  t += "  rounding " + std::string(kModes[in.Below(7)]);
  if (in.Below(3) == 0) t += " to " + std::to_string(in.Below(7)) + " decimals";
  t += " per " + std::string(kPoints[in.Below(3)]) + "\n";
  t += "  unit call\n";
  t += "  event use key id {\n    id: id\n    qty: quantity of " + std::string(g.qty_unit) +
       "\n    kind: one of \"a\", \"b\", \"c\"\n    amount: money\n  }\n";
  static constexpr const char* kAggregations[] = {"sum", "max", "min", "latest", "average", "time_weighted_average"};
  std::string meter;
  switch (in.Below(10)) {
    case 0: meter = "count(use)"; break;
    case 1: meter = "count_distinct(use.id)"; break;
    default: meter = std::string(kAggregations[in.Below(6)]) + "(use.qty)"; break;
  }
  if (meter.rfind("count", 0) == 0) g.units = {"use"};
  t += "  meter m = " + meter;
  if (in.Below(3) == 0) t += " where use.kind == \"a\"";
  t += "\n";

  switch (in.Below(7)) {
    case 0: t += "  charge \"Usage\" = m * " + Rate(in, g, cur); break;
    case 1: t += "  charge \"Usage\" = m * " + Rate(in, g, cur, true); break;
    case 2: t += "  charge \"Usage\" = graduated m" + TierTable(in, g, cur); break;
    case 3: t += "  charge \"Usage\" = volume m" + TierTable(in, g, cur); break;
    case 4:
      t += "  charge \"Usage\" = each use: use.amount * " + Number(in, 1, 2) + "%";
      t += " + " + Number(in, 1, 2) + " " + cur;
      meter.clear();
      break;
    case 5:
      t += "  charge \"Usage\" by use.kind = m * match use.kind {\n    \"a\": " + Rate(in, g, cur);
      t += "\n    else: " + Rate(in, g, cur) + "\n  }";
      break;
    default:
      if (g.units.front() == std::string("use")) {  // a count: no per-event quantity to price
        t += "  charge \"Usage\" = m * " + Rate(in, g, cur);
      } else {
        t += "  charge \"Usage\" = each use: use.qty * " + Rate(in, g, cur);
        meter.clear();
      }
      break;
  }
  if (!meter.empty() && in.Below(4) == 0) {
    t += " included " + Number(in, 3, 1);
    t += std::string(" ") + g.units[in.Below(static_cast<std::uint32_t>(g.units.size()))];
  }
  if (in.Below(4) == 0) {
    t += " rounding " + std::string(kModes[in.Below(7)]);
    t += " per " + std::string(kPoints[in.Below(2)]);
  }
  t += "\n";
  if (in.Bool()) t += "  charge \"Fee\" = " + Number(in, 3, 2) + " " + cur + "\n";
  if (in.Below(4) == 0) t += "  minimum " + Number(in, 3, 2) + " " + cur + "\n";
  if (in.Below(4) == 0) t += "  maximum " + Number(in, 4, 2) + " " + cur + " on \"Usage\"\n";
  if (in.Below(4) == 0) t += "  discount " + Number(in, 2, 1) + "% on \"Usage\"\n";
  t += "}\n";
  g.text = std::move(t);
  return g;
}

// One usage row as text columns (the API validates and rejects the bad ones).
struct Row {
  std::string customer, id, qty, kind, amount;
  std::int64_t time = 0;
};

constexpr std::int64_t kMarch = 1772323200000000;  // 2026-03-01T00:00:00Z in µs
constexpr std::int64_t kDay = 86400000000;

std::vector<Row> Rows(ByteReader& in, const Generated& g) {
  std::vector<Row> rows;
  while (!in.empty() && rows.size() < 64) {
    Row r;
    const unsigned customer = in.Below(4);
    r.customer = "c" + std::to_string(customer);
    // Keys belong to one customer, so that partitioning customers over Raters changes nothing.
    r.id = r.customer + "-" + std::to_string(in.Below(12));
    r.time = kMarch - kDay + static_cast<std::int64_t>(in.U64(4) % static_cast<std::uint64_t>(33 * kDay));
    switch (in.Below(16)) {
      case 0: r.qty = "-" + Number(in, 3, 2); break;
      case 1: r.qty = Number(in, 18, 12); break;
      case 2: r.qty = "1e" + std::to_string(in.Below(40)); break;
      case 3: r.qty = "x" + Number(in, 1, 0); break;
      default: r.qty = Number(in, 4, 3); break;
    }
    static constexpr const char* kKinds[] = {"a", "b", "c", "a", "b", "c", "A", ""};
    r.kind = kKinds[in.Below(8)];
    r.amount = Number(in, 5, g.minor);
    rows.push_back(std::move(r));
  }
  return rows;
}

// Fills a batch of `plan` with `rows`.
api::UsageBatch Batch(const api::Plan& plan, const std::vector<const Row*>& rows) {
  api::UsageBatch batch(plan, "use");
  std::vector<std::string> customers, ids, qtys, kinds, amounts;
  std::vector<std::int64_t> times;
  for (const Row* r : rows) {
    customers.push_back(r->customer);
    ids.push_back(r->id);
    qtys.push_back(r->qty);
    kinds.push_back(r->kind);
    amounts.push_back(r->amount);
    times.push_back(r->time);
  }
  batch.AddTextColumn("customer", std::move(customers))
      .AddTimestampColumn("time", times)
      .AddTextColumn("id", std::move(ids))
      .AddDecimalColumn("qty", qtys)
      .AddTextColumn("kind", std::move(kinds))
      .AddDecimalColumn("amount", amounts);
  return batch;
}

tariff::Decimal Exact(const std::string& text, const char* what) {
  tariff::DecimalParseResult parsed = tariff::Decimal::Parse(text);
  FUZZ_CHECK(parsed.value.has_value(), std::string(what) + " `" + text + "` is not a decimal");
  return *parsed.value;
}

// Rates `rows` with one Rater, `cut` rows a batch. Returns the invoices as JSON Lines, or ""
// after a RatingError (then *stopped is set).
std::string RateAll(const api::Plan& plan, const api::RatingOptions& options, const std::vector<const Row*>& rows,
                    std::size_t cut, bool* stopped, std::vector<api::Invoice>* kept = nullptr) {
  *stopped = false;
  try {
    api::Rater rater(plan, options);
    std::uint64_t fed = 0, rated = 0, rejected = 0, duplicates = 0;
    for (std::size_t begin = 0; begin < rows.size(); begin += cut) {
      std::vector<const Row*> part(rows.begin() + static_cast<std::ptrdiff_t>(begin),
                                   rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), begin + cut)));
      api::UsageBatch batch = Batch(plan, part);
      api::FeedResult r = rater.Feed(batch);
      FUZZ_CHECK(r.rows == part.size(), "Feed counted " + std::to_string(r.rows) + " rows of " + std::to_string(part.size()));
      FUZZ_CHECK(r.rows == r.rated + r.rejected + r.duplicates, "rows != rated + rejected + duplicates in a FeedResult");
      FUZZ_CHECK(r.rejects.size() == r.rejected, "FeedResult lists " + std::to_string(r.rejects.size()) + " of " +
                                                     std::to_string(r.rejected) + " rejected rows");
      for (std::size_t i = 0; i < r.rejects.size(); ++i) {
        FUZZ_CHECK(r.rejects[i].row < r.rows && !r.rejects[i].reason.empty(), "a reject without its row or reason");
        FUZZ_CHECK(i == 0 || r.rejects[i - 1].row < r.rejects[i].row, "rejects out of row order");
      }
      fed += r.rows;
      rated += r.rated;
      rejected += r.rejected;
      duplicates += r.duplicates;
    }
    api::RowCounts counts = rater.counts();
    FUZZ_CHECK(counts.received == fed && counts.rated == rated && counts.rejected == rejected && counts.duplicates == duplicates,
               "Rater::counts() disagrees with the FeedResults");
    std::vector<api::Invoice> invoices = rater.Finish();
    for (const api::Invoice& invoice : invoices) {
      FUZZ_CHECK(invoice.currency == plan.currency(), "an invoice in " + invoice.currency);
      // Exactly: lines shown to 20 decimals may add up past 38 digits on their way to the total.
      tariff::Fraction sum;
      for (const api::InvoiceLine& line : invoice.lines) sum += Exact(line.amount, "a line amount");
      FUZZ_CHECK(sum == tariff::Fraction(Exact(invoice.total, "a total")),
                 "invoice of " + invoice.customer + ": total " + invoice.total + " != sum of lines " + sum.ToString() + "\n" +
                     api::FormatInvoices(invoices));
    }
    for (std::size_t i = 1; i < invoices.size(); ++i) {
      FUZZ_CHECK(invoices[i - 1].customer < invoices[i].customer, "invoices not sorted by customer");
    }
    api::FormatInvoices(invoices, api::InvoiceFormat::kCsv);
    api::FormatInvoices(invoices, api::InvoiceFormat::kTable);
    std::string text = api::FormatInvoices(invoices);
    if (kept != nullptr) *kept = std::move(invoices);
    return text;
  } catch (const api::RatingError&) {
    *stopped = true;
    return "";
  } catch (const api::Error& e) {
    tariff::fuzz::Fail(kHarness, std::string("a well-formed batch gave a non-RatingError: ") + e.what());
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("an exception that is not a tariff::api::Error: ") + e.what());
  }
}

// The harness proper; LLVMFuzzerTestOneInput below wraps it.
int TestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const Generated g = Generate(in);
  api::CompileResult compiled;
  try {
    compiled = api::Plan::Compile(g.text, "fuzz.tariff");
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("Plan::Compile threw: ") + e.what() + "\n--- plan ---\n" + g.text);
  }
  FUZZ_CHECK(compiled.ok() == (compiled.error_count() == 0), "CompileResult::ok() disagrees with its error count");
  for (const api::Diagnostic& d : compiled.diagnostics) {
    // A plan the checker accepts always lowers: an internal error is a bug, not a diagnostic.
    FUZZ_CHECK(d.message.find("internal") == std::string::npos, "Plan::Compile: " + d.message + "\n--- plan ---\n" + g.text);
  }
  if (std::getenv("TARIFF_FUZZ_DEBUG") != nullptr) {
    // What an input means, for reading a regression input: the plan and what the checker said.
    std::fprintf(stderr, "--- plan ---\n%s%s", g.text.c_str(), compiled.RenderText().c_str());
  }
  if (!compiled.ok()) return 0;
  const api::Plan& plan = *compiled.plan;

  api::RatingOptions options;
  if (in.Below(4) != 0) {
    options.period_start = "2026-03-01T00:00:00Z";
    options.period_end = "2026-04-01T00:00:00Z";
  }
  const std::vector<Row> rows = Rows(in, g);
  std::vector<const Row*> all;
  for (const Row& r : rows) all.push_back(&r);

  // One batch; batches of 1 to 4 rows; customers partitioned over two Raters.
  bool stopped = false, stopped_cut = false, stopped_even = false, stopped_odd = false;
  std::vector<api::Invoice> whole_invoices;
  const std::string whole = RateAll(plan, options, all, all.empty() ? 1 : all.size(), &stopped, &whole_invoices);
  const std::size_t cut = 1 + size % 4;
  const std::string pieces = RateAll(plan, options, all, cut, &stopped_cut);
  std::vector<const Row*> even, odd;
  for (const Row* r : all) ((r->customer.back() - '0') % 2 == 0 ? even : odd).push_back(r);
  std::vector<api::Invoice> a, b;
  RateAll(plan, options, even, 4, &stopped_even, &a);
  RateAll(plan, options, odd, 4, &stopped_odd, &b);

  FUZZ_CHECK(stopped == stopped_cut, "rating stopped with one batch size only\n--- plan ---\n" + g.text);
  if (stopped || stopped_even || stopped_odd) return 0;
  FUZZ_CHECK(whole == pieces, "batches of " + std::to_string(all.size()) + " and of " + std::to_string(cut) +
                                  " rows give different invoices\n--- plan ---\n" + g.text + "--- one batch ---\n" + whole +
                                  "--- batches ---\n" + pieces);
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end(), [](const api::Invoice& x, const api::Invoice& y) { return x.customer < y.customer; });
  const std::string partitioned = api::FormatInvoices(a);
  FUZZ_CHECK(whole == partitioned, "two Raters partitioned by customer differ from one\n--- plan ---\n" + g.text +
                                       "--- one Rater ---\n" + whole + "--- two ---\n" + partitioned);
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tariff::fuzz::Guarded([&] { return TestOneInput(data, size); });
}
