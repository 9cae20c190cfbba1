// tools/driver: the rating pipeline `tariff rate` and `tariff explain` share — check and lower
// the plan file, read subscriptions and credits, decide the billing period, stream the usage
// through the billing layer (runtime/billing), and account for every row.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compiler.h"
#include "compiler/ir/ir.h"
#include "compiler/source/source.h"
#include "runtime/invoice/invoice.h"
#include "runtime/io/usage_reader.h"
#include "tools/driver/command.h"

namespace tariff::driver {

// A plan file loaded, checked and lowered: one rating function per plan version, in the file's
// order (checked.checked->plans[i] lowers to functions[i]).
struct LoadedPlans {
  FileId file;
  CheckedSource checked;
  std::vector<ir::RatingFunction> functions;
};

// Loads `path` into `sources`, checks it and lowers every plan. On a problem writes it to
// streams.err — diagnostics, then "PATH: <not_done>: the plan has errors" — and returns the exit
// code (2: no such file, 1: errors); kExitOk otherwise.
int LoadPlans(SourceManager& sources, const std::string& path, Streams& streams, const char* not_done, LoadedPlans& out);

struct RatingRequest {
  std::string plan_file;
  std::string plan_name;                 // --plan
  std::string version;                   // one version of the plan, rated as if in force for the whole period (diff)
  std::vector<std::string> usage;        // --usage
  std::string usage_format;              // --usage-format: csv or jsonl (empty: from each name)
  std::string period;                    // --period: START..END or one date (the plan's period containing it)
  std::string subscriptions;             // --subscriptions
  std::string credits;                   // --credits
  std::string contracts;                 // --contracts: per-customer contract terms (needs --period)
  std::size_t batch_size = 4096;
  bool explain = false;                  // fill derivations
  std::string explain_customer;
  bool allow_no_usage = false;           // explain/rate with subscriptions only
  // Times to read as --period is read (in the plan's time zone); the instants come back in
  // RatingOutcome::resolved_times (rate --previous: the periods of issued invoices).
  std::vector<std::string> resolve_times;
};

struct RatingOutcome {
  SourceManager sources;                 // the plan file, for spans in derivations
  ir::RatingFunction pinned;             // request.version's function, its effective date cleared
  std::vector<Invoice> invoices;
  // Progressive billing: the invoices issued within the period (Biller::threshold_invoices);
  // `invoices` are then the closing invoices.
  std::vector<Invoice> threshold_invoices;
  bool progressive = false;              // a plan rated declares `invoice when usage reaches`
  std::vector<Reject> rejects;           // the readers' and the billing layer's, in file and line order
  std::uint64_t read = 0, rated = 0, duplicates = 0;
  // Rows rated into the earlier periods of a commitment whose term ends in the period (read
  // = rated + earlier + rejected + duplicates).
  std::uint64_t earlier = 0;
  // What was rated: the plans this run may bill (the rated one; with --subscriptions every plan
  // of the file), their currency, and the period (absent without --period) as written on
  // invoices.
  std::vector<std::string> plan_names;
  std::string currency;
  std::optional<std::int64_t> period_start, period_end;
  std::string period_start_text, period_end_text;
  // Customers rated for a period of their own (a billing anchor, --contracts with --period
  // DATE): start and end as instants and as written on invoices.
  struct OwnPeriod {
    std::int64_t start = 0, end = 0;
    std::string start_text, end_text;
  };
  std::map<std::string, OwnPeriod> own_periods;
  // request.resolve_times, each read as a time (nullopt: not a time).
  std::map<std::string, std::optional<std::int64_t>> resolved_times;
};

// The options `rate` and `explain` share: the plan file, --usage, --plan, --period,
// --subscriptions, --credits, --contracts, --batch-size.
void AddRatingOptions(CLI::App& app, RatingRequest& request);

// `tariff explain PLAN --test NAME`: runs the plan's test NAME (of plan `plan_name` when given)
// as `tariff test` does, with every line's derivation. kExitOk with `out.invoice` filled (a test
// whose expectations fail still has its invoice; each failure is noted on streams.err), or the
// exit code to stop with, the message written (no such test: 2; the test cannot run: 1).
struct ExplainedTest {
  SourceManager sources;
  FileId file;
  std::vector<Invoice> invoices;  // one, or one per billing period of a test with `invoice` blocks
};
int RunTestExplained(const std::string& path, const std::string& plan_name, const std::string& test_name, Streams& streams,
                     ExplainedTest& out);

// Runs the pipeline; messages go to streams.err. Returns kExitOk with `outcome` filled, or
// the exit code to stop with (the message already written). --dump is not handled here.
int RunRating(const RatingRequest& request, Streams& streams, RatingOutcome& outcome);

// " + 3 in earlier periods" when rows were rated into a commitment's earlier periods, for the
// "rows read … = rated …" summary line; "" otherwise.
std::string EarlierRows(const RatingOutcome& outcome);

}  // namespace tariff::driver
