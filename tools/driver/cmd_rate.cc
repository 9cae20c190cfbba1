// tools/driver: `tariff rate PLAN --usage FILE...` — tariff's main job. The plan is checked and
// lowered; usage streams through the interpreter in batches; invoices go to stdout or, atomically,
// to --out; every row read is rated, rejected (with file, line and reason) or a duplicate, and
// the summary on stderr says so.
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "compiler/lower/lower.h"
#include "runtime/exec/exec.h"
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

}  // namespace

Action RegisterRate(CLI::App& app, Streams& streams) {
  struct Options {
    RatingRequest request;
    std::string format = "jsonl";
    std::string out;
    std::string rejects;
    std::string dump;
    bool strict = false;
  };
  auto o = std::make_shared<Options>();
  RatingRequest& r = o->request;
  AddRatingOptions(app, r);
  app.add_option("--format", o->format, "jsonl (default), csv or table")->check(CLI::IsMember({"jsonl", "csv", "table"}));
  app.add_option("--out,-o", o->out, "write invoices to this file (atomically) instead of stdout");
  app.add_option("--rejects", o->rejects, "write rejected rows (file,line,reason) to this CSV file");
  app.add_option("--dump", o->dump, "print the compiled form instead of rating: `ir`")->check(CLI::IsMember({"ir"}));
  app.add_flag("--strict", o->strict, "any rejected row is an error: no invoice is written, exit 1");

  return [o, &streams]() -> int {
    if (o->dump == "ir") return DumpIr(o->request, streams);
    RatingOutcome outcome;
    int code = RunRating(o->request, streams, outcome);
    if (code != kExitOk) return code;
    const std::vector<Invoice>& invoices = outcome.invoices;
    const std::vector<Reject>& rejects = outcome.rejects;
    streams.err << fmt::format("rows read {} = rated {} + rejected {} + duplicates {}; {} invoice{}\n", outcome.read,
                               outcome.rated, outcome.read - outcome.rated - outcome.duplicates, outcome.duplicates,
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
    if (o->format == "jsonl") WriteInvoicesJsonl(invoices, text);
    if (o->format == "csv") WriteInvoicesCsv(invoices, text);
    if (o->format == "table") WriteInvoicesTable(invoices, text);
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
