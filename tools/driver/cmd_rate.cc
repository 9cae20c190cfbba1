// tools/driver: `tariff rate PLAN --usage FILE...` — tariff's main job. The plan is checked and
// lowered; usage streams through the interpreter in batches; invoices go to stdout or, atomically,
// to --out; every row read is rated, rejected (with file, line and reason) or a duplicate, and
// the summary on stderr says so.
#include <filesystem>
#include <iterator>
#include <map>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "compiler/lower/lower.h"
#include "runtime/exec/exec.h"
#include "runtime/invoice/amendment.h"
#include "runtime/io/invoice_reader.h"
#include "runtime/io/invoice_writer.h"
#include "runtime/io/usage_reader.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/rating.h"

namespace tariff::driver {
namespace {

// Rejects as CSV: file,line,reason (RFC 4180 quoting).
std::string RejectsCsv(const std::vector<Reject>& rejects) {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string out = "file,line,reason\n";
  for (const Reject& r : rejects) out += fmt::format("{},{},{}\n", quote(r.file), r.line, quote(r.reason));
  return out;
}

// `--dump ir`: the rating function of the chosen plan (each version, when it has several).
int DumpIr(const RatingRequest& request, Streams& streams) {
  SourceManager sources;
  LoadedPlans loaded;
  if (int code = LoadPlans(sources, request.plan_file, streams, "not rated", loaded); code != kExitOk) return code;
  const std::vector<CheckedPlan>& plans = loaded.checked.checked->plans;
  std::set<std::string> names;
  for (const CheckedPlan& p : plans) names.insert(p.plan->name.value);
  if (request.plan_name.empty() && names.size() != 1) {
    streams.err << fmt::format("error: `{}` holds {} plans; choose one with --plan NAME\n", request.plan_file, names.size());
    return kExitUsage;
  }
  if (!request.plan_name.empty() && names.count(request.plan_name) == 0) {
    streams.err << fmt::format("error: `{}` has no plan \"{}\"\n", request.plan_file, request.plan_name);
    return kExitUsage;
  }
  for (std::size_t i = 0; i < plans.size(); ++i) {
    if (request.plan_name.empty() || plans[i].plan->name.value == request.plan_name) streams.out << ir::Dump(loaded.functions[i]);
  }
  return kExitOk;
}

// `--previous`: checks what was issued against this run, adds it up per customer and line, and
// writes the amendments (runtime/invoice/amendment.h) in `format`; the counts go to stderr.
int Amendments(const std::vector<IssuedRecord>& issued, const RatingOutcome& outcome, const std::string& format,
               Streams& streams, std::ostream& text) {
  IssuedExpectations run;
  run.plans = outcome.plan_names;
  run.currency = outcome.currency;
  run.period_start = outcome.period_start_text;
  run.period_end = outcome.period_end_text;
  // A customer with its own billing anchor is rated, and so was issued, for its own period.
  for (const auto& [customer, own] : outcome.own_periods) run.own_periods[customer] = {own.start_text, own.end_text};
  run.same_period = [&outcome](const std::string& customer, const std::string& start, const std::string& end) {
    if (!outcome.period_start || !outcome.period_end) return start.empty() && end.empty();
    auto at = [&outcome](const std::string& t) -> std::optional<std::int64_t> {
      auto it = outcome.resolved_times.find(t);
      return it == outcome.resolved_times.end() ? std::nullopt : it->second;
    };
    if (auto own = outcome.own_periods.find(customer); own != outcome.own_periods.end()) {
      return at(start) == own->second.start && at(end) == own->second.end;
    }
    return at(start) == outcome.period_start && at(end) == outcome.period_end;
  };
  std::vector<Amendment> amendments;
  AmendmentCounts counts;
  try {
    CheckIssued(issued, run);
    const std::vector<IssuedInvoice> sums = SumIssued(issued);
    amendments = AmendAll(sums, outcome.invoices, &counts);
    // A customer not re-rated is amended for the period this run rates it for (its own, with a
    // billing anchor), as this run writes it (its issued records may give the same period in
    // another form).
    for (Amendment& a : amendments) {
      if (a.status != AmendmentStatus::kAbsent) continue;
      auto own = outcome.own_periods.find(a.customer);
      a.period_start = own != outcome.own_periods.end() ? own->second.start_text : outcome.period_start_text;
      a.period_end = own != outcome.own_periods.end() ? own->second.end_text : outcome.period_end_text;
    }
  } catch (const AmendmentError& e) {
    streams.err << e.Render() << "\n";
    return kExitFailure;
  } catch (const DecimalError& e) {
    streams.err << "error: amending: " << e.what() << "\n";
    return kExitFailure;
  }
  streams.err << fmt::format("amendments {}: customers amended {} + new {} + absent {}; unchanged {}\n", amendments.size(),
                             counts.amended, counts.added, counts.absent, counts.unchanged);
  if (format == "jsonl") WriteAmendmentsJsonl(amendments, text);
  if (format == "csv") WriteAmendmentsCsv(amendments, text);
  if (format == "table") WriteAmendmentsTable(amendments, text);
  return kExitOk;
}

}  // namespace

Action RegisterRate(CLI::App& app, Streams& streams) {
  struct Options {
    RatingRequest request;
    std::string format = "jsonl";
    std::string out;
    std::string rejects;
    std::string dump;
    bool strict = false;
    std::vector<std::string> previous;
  };
  auto o = std::make_shared<Options>();
  RatingRequest& r = o->request;
  AddRatingOptions(app, r);
  app.add_option("--format", o->format, "jsonl (default), csv or table")->check(CLI::IsMember({"jsonl", "csv", "table"}));
  app.add_option("--out,-o", o->out, "write invoices to this file (atomically) instead of stdout");
  app.add_option("--rejects", o->rejects, "write rejected rows (file,line,reason) to this CSV file");
  app.add_option("--dump", o->dump, "print the compiled form instead of rating: `ir`")->check(CLI::IsMember({"ir"}));
  app.add_option("--previous", o->previous,
                 "invoices and amendments already issued for the period, JSON Lines files (repeatable): write the "
                 "amendment that makes them the re-rated invoices");
  app.add_flag("--strict", o->strict, "any rejected row is an error: no invoice is written, exit 1");

  return [o, &streams]() -> int {
    if (o->dump == "ir") return DumpIr(o->request, streams);
    // --previous: what was issued is read (and any mistake in it reported) before rating.
    std::vector<IssuedRecord> issued;
    for (const std::string& path : o->previous) {
      if (path == "-") {
        streams.err << "error: --previous reads files, not standard input\n";
        return kExitUsage;
      }
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        streams.err << fmt::format("error: cannot open `{}`: No such file or directory\n", path);
        return kExitUsage;
      }
    }
    try {
      for (const std::string& path : o->previous) {
        std::vector<IssuedRecord> records = ReadIssuedInvoices(path);
        std::move(records.begin(), records.end(), std::back_inserter(issued));
      }
    } catch (const AmendmentError& e) {
      streams.err << e.Render() << "\n";
      return kExitFailure;
    }
    for (const IssuedRecord& record : issued) {
      for (const std::string* t : {&record.invoice.period_start, &record.invoice.period_end}) {
        if (!t->empty()) o->request.resolve_times.push_back(*t);
      }
    }
    RatingOutcome outcome;
    int code = RunRating(o->request, streams, outcome);
    if (code != kExitOk) return code;
    if (outcome.progressive && !o->previous.empty()) {
      // Amendments add up one invoice per customer; the threshold invoices are more.
      streams.err << "error: --previous cannot amend a plan billed progressively (`invoice when usage reaches`): not supported yet\n";
      return kExitUsage;
    }
    // Progressive billing: each customer's threshold invoices, in the order issued, then its
    // closing invoice.
    std::vector<Invoice> all;
    if (!outcome.threshold_invoices.empty()) {
      std::map<std::string, std::vector<const Invoice*>> early;
      for (const Invoice& inv : outcome.threshold_invoices) early[inv.customer].push_back(&inv);
      for (const Invoice& inv : outcome.invoices) {
        if (auto it = early.find(inv.customer); it != early.end()) {
          for (const Invoice* t : it->second) all.push_back(*t);
        }
        all.push_back(inv);
      }
    }
    const std::vector<Invoice>& invoices = outcome.threshold_invoices.empty() ? outcome.invoices : all;
    const std::vector<Reject>& rejects = outcome.rejects;
    streams.err << fmt::format("rows read {} = rated {}{} + rejected {} + duplicates {}; {} invoice{}\n", outcome.read, outcome.rated,
                               EarlierRows(outcome), outcome.read - outcome.rated - outcome.earlier - outcome.duplicates, outcome.duplicates,
                               invoices.size(), invoices.size() == 1 ? "" : "s");
    if (!o->rejects.empty()) {
      std::string why;
      if (!WriteFileAtomically(o->rejects, RejectsCsv(rejects), &why)) {
        streams.err << "error: " << why << "\n";
        return kExitFailure;
      }
    }
    if (!rejects.empty()) {
      std::size_t shown = std::min<std::size_t>(rejects.size(), 10);
      for (std::size_t i = 0; i < shown; ++i) {
        streams.err << fmt::format("rejected: {}:{}: {}\n", rejects[i].file, rejects[i].line, rejects[i].reason);
      }
      if (shown < rejects.size()) {
        streams.err << fmt::format("… and {} more{}\n", rejects.size() - shown,
                                   o->rejects.empty() ? " (write them all with --rejects FILE)" : fmt::format(" (all in {})", o->rejects));
      }
      if (o->strict) {
        streams.err << "error: rows were rejected and --strict is on: no invoice written\n";
        return kExitFailure;
      }
    }

    std::ostringstream text;
    if (!o->previous.empty()) {
      if (int amended = Amendments(issued, outcome, o->format, streams, text); amended != kExitOk) return amended;
    } else {
      if (o->format == "jsonl") WriteInvoicesJsonl(invoices, text);
      if (o->format == "csv") WriteInvoicesCsv(invoices, text);
      if (o->format == "table") WriteInvoicesTable(invoices, text);
    }
    if (o->out.empty()) {
      streams.out << text.str();
    } else {
      std::string why;
      if (!WriteFileAtomically(o->out, text.str(), &why)) {
        streams.err << "error: " << why << "\n";
        return kExitFailure;
      }
    }
    return kExitOk;
  };
}

}  // namespace tariff::driver
