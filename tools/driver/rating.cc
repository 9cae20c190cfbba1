// tools/driver: the rating pipeline shared by `rate` and `explain` (see rating.h).
#include "tools/driver/rating.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>

#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "compiler/lower/lower.h"
#include "runtime/billing/billing.h"
#include "runtime/billing/inputs.h"
#include "runtime/billing/progressive.h"
#include "tools/driver/inputs.h"
#include "runtime/exec/exec.h"
#include "tools/driver/driver.h"

namespace tariff::driver {

void AddRatingOptions(CLI::App& app, RatingRequest& r) {
  app.add_option("plan", r.plan_file, "the plan file")->required();
  app.add_option("--usage,-u", r.usage, "usage files: .csv, .jsonl or .ndjson (several allowed); - is standard input");
  app.add_option("--usage-format", r.usage_format, "read every usage file as csv or jsonl, whatever its name (needed for -)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  app.add_option("--plan", r.plan_name, "the plan to rate, when the file holds several");
  app.add_option("--period", r.period,
                 "the billing period: START..END (RFC 3339), or one date for the plan's period that contains it; "
                 "rows outside are rejected");
  app.add_option("--subscriptions", r.subscriptions,
                 "customers' subscriptions (.csv/.jsonl: customer, plan, version, start, end, subscription fields)");
  app.add_option("--credits", r.credits, "prepaid credit grants (.csv/.jsonl: customer, grant, amount, expires, priority)");
  app.add_option("--contracts", r.contracts,
                 "per-customer contract terms (.csv/.jsonl: customer, kind (discount, override, anchor, commit), name, charge, "
                 "percent, amount, multiplier, rate, anchor, duration, start); needs --period");
  app.add_option("--batch-size", r.batch_size, "rows per batch (results never depend on it)")->check(CLI::Range(1, 1 << 20));
}

namespace {

// Commitments whose term ends in the period rated: rates the term's earlier periods (each its
// customer's own, by its anchor) from the same usage and subscriptions, with the contract's
// discounts and overrides and without credits, and keeps each commitment's customer's totals in
// its `prior`. Returns kExitOk, or the exit code after writing the message. Throws BillingError,
// RatingError.
// `earlier_rows` gets the rows (file, line) rated into a committed customer's earlier periods:
// the main run rejects them as outside its period, but they are counted, not rejected.
int RateCommitments(const RatingRequest& request, const PlanSet& plans, BillingOptions& billing, const std::vector<Subscription>& subscriptions,
                    Streams& streams, std::set<std::pair<std::string, std::uint64_t>>& earlier_rows) {
  std::map<std::string, std::string> anchors;
  for (const ContractTerm& t : billing.contracts) {
    if (t.kind == ContractTerm::Kind::kAnchor) anchors[t.customer] = t.anchor;
  }
  struct Earlier {
    std::string start_text, end_text;
    std::vector<std::size_t> terms;
  };
  std::map<std::pair<std::int64_t, std::int64_t>, Earlier> earlier;  // in time order
  for (std::size_t i = 0; i < billing.contracts.size(); ++i) {
    const ContractTerm& t = billing.contracts[i];
    if (t.kind != ContractTerm::Kind::kCommit || !billing.period_start) continue;
    auto a = anchors.find(t.customer);
    const std::string anchor = a == anchors.end() ? "" : a->second;
    std::int64_t start = *billing.period_start, end = *billing.period_end;
    if (!anchor.empty() && billing.period_at) {
      PeriodBounds own = BillingPeriodAt(plans, *billing.period_at, anchor);
      start = own.start;
      end = own.end;
    }
    if (!CommitEndsIn(t, start, end)) continue;
    for (PeriodBounds p = BillingPeriodAt(plans, t.window_start, anchor); p.start < start; p = BillingPeriodAt(plans, p.end, anchor)) {
      Earlier& e = earlier[{p.start, p.end}];
      e.start_text = p.start_text;
      e.end_text = p.end_text;
      e.terms.push_back(i);
    }
  }
  if (earlier.empty()) return kExitOk;
  if (std::count(request.usage.begin(), request.usage.end(), "-") > 0) {
    streams.err << "error: a commitment's earlier periods are rated from the usage again: give the usage as files, not `-`\n";
    return kExitUsage;
  }
  std::optional<UsageFormat> format;
  if (!request.usage_format.empty()) format = request.usage_format == "csv" ? UsageFormat::kCsv : UsageFormat::kJsonLines;
  for (const auto& [interval, e] : earlier) {
    BillingOptions o;
    o.period_start = interval.first;
    o.period_end = interval.second;
    o.period_start_text = e.start_text;
    o.period_end_text = e.end_text;
    o.subscriptions_input = billing.subscriptions_input;
    o.check_contract_customers = false;
    // A commitment counts what a period's invoices came to: with progressive billing, the
    // threshold invoices and the closing invoice together, which is the period rated once.
    o.progressive = false;
    for (const ContractTerm& t : billing.contracts) {
      if (t.kind == ContractTerm::Kind::kDiscount || t.kind == ContractTerm::Kind::kOverride || t.kind == ContractTerm::Kind::kDrawn) {
        o.contracts.push_back(t);
      }
    }
    Biller biller(plans, subscriptions, {}, o);
    if (!request.usage.empty() && !biller.schemas().empty()) {
      UsageReaderOptions reading;
      reading.batch_size = request.batch_size;
      reading.period_start = interval.first;
      reading.period_end = interval.second;
      std::unique_ptr<UsageReader> reader = OpenUsage(request.usage, biller.schemas(), reading, format);
      std::set<std::string> committed;  // the customers whose term has this earlier period
      for (std::size_t i : e.terms) committed.insert(billing.contracts[i].customer);
      std::set<std::pair<std::uint32_t, std::uint64_t>> mine;
      Batch batch;
      while (reader->Next(batch)) {
        const EventSchema& schema = biller.schemas()[static_cast<std::size_t>(batch.event)];
        for (std::size_t r = 0; r < batch.size() && schema.customer_field >= 0; ++r) {
          const Column& c = batch.columns[static_cast<std::size_t>(schema.customer_field)];
          if (r < c.texts.size() && committed.count(c.texts[r]) != 0) mine.insert({batch.origins[r].file, batch.origins[r].line});
        }
        biller.Consume(batch);
      }
      if (!reader->error().empty()) {
        streams.err << "error: " << reader->error() << "\n";
        return kExitFailure;
      }
      for (const RoutingReject& r : biller.rejects()) mine.erase({r.origin.file, r.origin.line});
      const auto& files = reader->files();
      for (const auto& [file, line] : mine) earlier_rows.insert({files[file], line});
    }
    std::vector<Invoice> invoices = biller.Finish();
    for (std::size_t i : e.terms) {
      ContractTerm& t = billing.contracts[i];
      Decimal total;
      for (const Invoice& inv : invoices) {
        if (inv.customer != t.customer) continue;
        total = total + inv.total;  // with any invoice issued at a change (`on change prorate now`)
        t.invoiced_before = true;
      }
      t.prior.emplace_back(fmt::format("{} to {}", e.start_text, e.end_text), total);
    }
  }
  return kExitOk;
}

}  // namespace

std::string EarlierRows(const RatingOutcome& outcome) {
  return outcome.earlier == 0 ? std::string() : fmt::format(" + {} in earlier periods", outcome.earlier);
}

int LoadPlans(SourceManager& sources, const std::string& path, Streams& streams, const char* not_done, LoadedPlans& out) {
  auto loaded = LoadSource(sources, path, streams);
  if (!loaded.ok()) {
    streams.err << "error: " << loaded.error << "\n";
    return kExitUsage;
  }
  out.file = loaded.file;
  DiagnosticSink sink;
  out.checked = CheckSource(sources, loaded.file, sink);
  if (!out.checked.ok()) {
    RenderText(sources, sink.Sorted(), streams.err, streams.color);
    streams.err << fmt::format("{}: {}: the plan has errors\n", path, not_done);
    return kExitFailure;
  }
  out.functions.reserve(out.checked.checked->plans.size());
  for (const CheckedPlan& p : out.checked.checked->plans) {
    LowerResult lowered = Lower(*out.checked.checked, p, sources.file(loaded.file));
    if (!lowered.ok()) {
      for (const auto& e : lowered.errors) streams.err << "error: " << e << "\n";
      return kExitFailure;
    }
    out.functions.push_back(std::move(lowered.function));
  }
  return kExitOk;
}

int RunRating(const RatingRequest& request, Streams& streams, RatingOutcome& outcome) {
  // Standard input is read once: by the plan or by one usage file (whose format must be said);
  // subscriptions and credits are files.
  const auto usage_dashes = std::count(request.usage.begin(), request.usage.end(), "-");
  if (request.subscriptions == "-" || request.credits == "-" || request.contracts == "-") {
    streams.err << "error: --subscriptions, --credits and --contracts read files, not standard input\n";
    return kExitUsage;
  }
  if (usage_dashes + (request.plan_file == "-" ? 1 : 0) > 1) {
    streams.err << "error: `-` (standard input) is given more than once; give the others as files\n";
    return kExitUsage;
  }
  if (usage_dashes > 0 && request.usage_format.empty()) {
    streams.err << "error: usage from standard input needs its format: add --usage-format csv or --usage-format jsonl\n";
    return kExitUsage;
  }
  LoadedPlans loaded;
  if (int code = LoadPlans(outcome.sources, request.plan_file, streams, request.explain ? "not explained" : "not rated", loaded);
      code != kExitOk) {
    return code;
  }
  const CheckedSource& checked = loaded.checked;
  const SourceFile& source = outcome.sources.file(loaded.file);

  // The plan rated: --plan, or the file's only plan (in any number of versions).
  std::vector<std::string> names;
  for (const CheckedPlan& p : checked.checked->plans) {
    if (std::find(names.begin(), names.end(), p.plan->name.value) == names.end()) names.push_back(p.plan->name.value);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
  std::string plan_name = request.plan_name;
  if (plan_name.empty()) {
    if (names.size() != 1) {
      streams.err << fmt::format("error: `{}` holds {} plans ({}); choose one with --plan NAME\n", request.plan_file, names.size(), list);
      return kExitUsage;
    }
    plan_name = names.front();
  } else if (std::find(names.begin(), names.end(), plan_name) == names.end()) {
    streams.err << fmt::format("error: `{}` has no plan \"{}\" (it has {})\n", request.plan_file, plan_name, list);
    return kExitUsage;
  }

  // Every plan version of the file: a subscription may name any of them. With a version chosen
  // (diff), that version alone, in force from any date.
  const std::vector<ir::RatingFunction>& functions = loaded.functions;
  PlanSet plans;
  plans.default_plan = plan_name;
  if (request.version.empty()) {
    for (const ir::RatingFunction& f : functions) plans.functions.push_back(&f);
  } else {
    std::string versions;
    for (const ir::RatingFunction& f : functions) {
      if (f.plan != plan_name) continue;
      versions += (versions.empty() ? "" : ", ") + (f.version.empty() ? std::string("(none)") : f.version);
      if (f.version == request.version) outcome.pinned = f;
    }
    if (outcome.pinned.plan.empty()) {
      streams.err << fmt::format("error: plan \"{}\" has no version {} (it has {})\n", plan_name, request.version, versions);
      return kExitUsage;
    }
    outcome.pinned.effective.clear();
    plans.functions.push_back(&outcome.pinned);
  }

  // The billing period.
  BillingOptions billing;
  billing.explain = request.explain;
  billing.explain_customer = request.explain_customer;
  billing.subscriptions_input = !request.subscriptions.empty();
  UsageReaderOptions reading;
  reading.batch_size = request.batch_size;
  try {
    if (!request.period.empty()) {
      std::size_t dots = request.period.find("..");
      std::string why;
      if (request.period.find(" ..") != std::string::npos || request.period.find(".. ") != std::string::npos) {
        streams.err << fmt::format("error: --period `{}`: write it without spaces, e.g. `2026-03-01..2026-04-01`\n", request.period);
        return kExitUsage;
      }
      if (dots == std::string::npos) {
        auto at = ParsePlanTime(plans, request.period, &why);
        if (!at) {
          streams.err << fmt::format("error: --period `{}`: {} (give START..END or one date)\n", request.period, why);
          return kExitUsage;
        }
        PeriodBounds p = BillingPeriodAt(plans, *at);
        billing.period_at = at;
        billing.period_start = p.start;
        billing.period_end = p.end;
        billing.period_start_text = p.start_text;
        billing.period_end_text = p.end_text;
      } else {
        std::string start = request.period.substr(0, dots), end = request.period.substr(dots + 2);
        auto s = ParsePlanTime(plans, start, &why);
        if (!s) {
          streams.err << fmt::format("error: --period start `{}`: {}\n", start, why);
          return kExitUsage;
        }
        auto e = ParsePlanTime(plans, end, &why);
        if (!e) {
          streams.err << fmt::format("error: --period end `{}`: {}\n", end, why);
          return kExitUsage;
        }
        if (*e < *s) {
          streams.err << fmt::format("error: --period `{}` ends before it starts\n", request.period);
          return kExitUsage;
        }
        if (*e == *s) {
          streams.err << fmt::format("error: --period `{}` is empty: it ends where it starts (the end is exclusive)\n", request.period);
          return kExitUsage;
        }
        billing.period_start = s;
        billing.period_end = e;
        billing.period_start_text = start;
        billing.period_end_text = end;
      }
      reading.period_start = billing.period_start;
      reading.period_end = billing.period_end;
    }
    std::string ignored;
    for (const std::string& t : request.resolve_times) outcome.resolved_times[t] = ParsePlanTime(plans, t, &ignored);
  } catch (const BillingError& e) {
    streams.err << "error: " << e.what() << "\n";
    return kExitFailure;
  }
  outcome.period_start = billing.period_start;
  outcome.period_end = billing.period_end;
  outcome.period_start_text = billing.period_start_text;
  outcome.period_end_text = billing.period_end_text;
  outcome.plan_names = request.subscriptions.empty() ? std::vector<std::string>{plan_name} : names;
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan == plan_name) outcome.currency = f->currency;
  }

  // Files on the command line that are not there are usage errors (exit 2); files that are
  // there but wrong are wrong data (exit 1).
  std::vector<std::string> given = request.usage;
  if (!request.subscriptions.empty()) given.push_back(request.subscriptions);
  if (!request.credits.empty()) given.push_back(request.credits);
  if (!request.contracts.empty()) given.push_back(request.contracts);
  for (const std::string& path : given) {
    std::error_code ec;
    if (path != "-" && !std::filesystem::exists(path, ec)) {
      streams.err << fmt::format("error: cannot open `{}`: No such file or directory\n", path);
      return kExitUsage;
    }
  }
  if (request.usage.empty() && request.subscriptions.empty() && !request.allow_no_usage) {
    streams.err << "error: no usage given; pass one or more files with --usage FILE (or customers with --subscriptions FILE)\n";
    return kExitUsage;
  }
  if (request.subscriptions.empty()) {
    // A plan that reads subscription values (seats) cannot be rated from usage alone: every
    // customer would have none, and be billed for none.
    for (const ir::RatingFunction* f : plans.functions) {
      if (f->plan != plan_name || f->subscription.empty()) continue;
      std::string fields;
      for (const ir::Field& x : f->subscription) fields += (fields.empty() ? "" : ", ") + x.name;
      streams.err << fmt::format("error: plan \"{}\" reads subscription values ({}); give them per customer with --subscriptions FILE\n",
                                 plan_name, fields);
      return kExitUsage;
    }
  }
  std::vector<Subscription> subscriptions;
  std::vector<CreditGrant> credits;
  std::string why;
  if (!request.subscriptions.empty() && !ReadSubscriptions(request.subscriptions, plans, subscriptions, &why)) {
    streams.err << (why.rfind("error[", 0) == 0 ? "" : "error: ") << why << "\n";  // S01xx carry their code
    return kExitFailure;
  }
  if (!request.credits.empty() && !ReadCredits(request.credits, plans, credits, &why)) {
    streams.err << "error: " << why << "\n";
    return kExitFailure;
  }
  if (!request.contracts.empty()) {
    // Durations count the plan's billing periods: a contract is applied to one period.
    if (request.period.empty()) {
      streams.err << "error: --contracts needs a billing period: add --period DATE or --period START..END\n";
      return kExitUsage;
    }
    if (!ReadContracts(request.contracts, plans, billing.contracts, &why)) {
      streams.err << why << "\n";  // "error[CODE]: file:line: …"
      return kExitFailure;
    }
    // Customers with their own billing anchor: read the usage of each one's period (and say
    // which period each is rated for: `--previous` compares it with what was issued).
    try {
      auto [from, until] = BillingWindow(plans, billing);
      reading.period_start = from;
      reading.period_end = until;
      for (const ContractTerm& t : billing.contracts) {
        if (t.kind != ContractTerm::Kind::kAnchor || !billing.period_at) continue;
        PeriodBounds b = BillingPeriodAt(plans, *billing.period_at, t.anchor);
        outcome.own_periods[t.customer] = {b.start, b.end, b.start_text, b.end_text};
      }
    } catch (const BillingError& e) {
      streams.err << "error: " << e.what() << "\n";
      return kExitFailure;
    }
  }

  try {
    std::set<std::pair<std::string, std::uint64_t>> earlier_rows;
    if (int code = RateCommitments(request, plans, billing, subscriptions, streams, earlier_rows); code != kExitOk) return code;
    outcome.progressive = HasThreshold(plans);
    Biller biller(plans, std::move(subscriptions), std::move(credits), billing);
    if (request.usage.empty()) {
      // Subscriptions only: recurring fees and minimums.
      outcome.invoices = biller.Finish();
      outcome.threshold_invoices = biller.threshold_invoices();
      return kExitOk;
    }
    if (biller.schemas().empty()) {
      streams.err << fmt::format("error: plan \"{}\" reads no usage events; rate it without --usage (its customers from --subscriptions)\n", plan_name);
      return kExitUsage;
    }
    std::optional<UsageFormat> format;
    if (!request.usage_format.empty()) format = request.usage_format == "csv" ? UsageFormat::kCsv : UsageFormat::kJsonLines;
    std::unique_ptr<UsageReader> reader = OpenUsage(request.usage, biller.schemas(), reading, format);
    Batch batch;
    while (reader->Next(batch)) biller.Consume(batch);
    if (!reader->error().empty()) {
      streams.err << "error: " << reader->error() << "\n";
      return kExitFailure;
    }
    outcome.invoices = biller.Finish();
    outcome.threshold_invoices = biller.threshold_invoices();
    outcome.read = reader->rows_read();
    outcome.rated = biller.rows_rated();
    outcome.duplicates = reader->duplicates();
    outcome.rejects = reader->rejects();
    const auto& files = reader->files();
    for (const RoutingReject& r : biller.rejects()) {
      outcome.rejects.push_back({files[r.origin.file], r.origin.line, r.reason});
    }
    auto rank = [&](const std::string& f) { return std::find(files.begin(), files.end(), f) - files.begin(); };
    std::stable_sort(outcome.rejects.begin(), outcome.rejects.end(), [&](const Reject& a, const Reject& b) {
      auto ra = rank(a.file), rb = rank(b.file);
      return ra != rb ? ra < rb : a.line < b.line;
    });
    // A row of a commitment's earlier period was rated there: counted apart, not rejected.
    if (!earlier_rows.empty()) {
      std::erase_if(outcome.rejects, [&](const Reject& r) {
        const bool outside = r.reason.find("` is outside ") != std::string::npos;
        if (!outside || earlier_rows.count({r.file, r.line}) == 0) return false;
        ++outcome.earlier;
        return true;
      });
    }
    std::uint64_t rejected = reader->rows_rejected() + biller.rejects().size() - outcome.earlier;
    if (outcome.read != outcome.rated + outcome.earlier + rejected + outcome.duplicates) {
      streams.err << fmt::format("internal error: rows read {} != rated {} + rated in earlier periods {} + rejected {} + duplicates {}\n",
                                 outcome.read, outcome.rated, outcome.earlier, rejected, outcome.duplicates);
      return kExitInternal;
    }
  } catch (const BillingError& e) {
    const std::string what = e.what();
    streams.err << (what.rfind("error[", 0) == 0 ? "" : "error: ") << what << "\n";  // contract errors carry their code
    return kExitFailure;
  } catch (const RatingError& e) {
    LineColumn lc = source.At(e.source().begin);
    streams.err << fmt::format("{}:{}:{}: error: rating stopped: {}\n", source.path(), lc.line, lc.column, e.what());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tariff::driver
