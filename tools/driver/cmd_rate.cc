// tools/driver: `tariff rate PLAN --usage FILE...` — tariff's main job. The plan is checked and
// lowered; usage streams through the interpreter in batches; invoices go to stdout or, atomically,
// to --out; every row read is rated, rejected (with file, line and reason) or a duplicate, and
// the summary on stderr says so.
#include <filesystem>
#include <fstream>
#include <ostream>
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

}  // namespace

Action RegisterRate(CLI::App& app, Streams& streams) {
  struct Options {
    std::string plan_file;
    std::vector<std::string> usage;
    std::string plan_name;
    std::string period;
    std::string format = "jsonl";
    std::string out;
    std::string rejects;
    std::string dump;
    std::size_t batch_size = 4096;
    bool strict = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("plan", o->plan_file, "the plan file")->required();
  app.add_option("--usage,-u", o->usage, "usage files: .csv, .jsonl or .ndjson (several allowed)");
  app.add_option("--plan", o->plan_name, "the plan to rate, when the file holds several");
  app.add_option("--period", o->period, "START..END (RFC 3339): rows outside are rejected")
      ->check([](const std::string& v) { return v.find("..") == std::string::npos ? std::string("expected START..END") : std::string(); });
  app.add_option("--format", o->format, "jsonl (default), csv or table")->check(CLI::IsMember({"jsonl", "csv", "table"}));
  app.add_option("--out,-o", o->out, "write invoices to this file (atomically) instead of stdout");
  app.add_option("--rejects", o->rejects, "write rejected rows (file,line,reason) to this CSV file");
  app.add_option("--dump", o->dump, "print the compiled form instead of rating: `ir`")->check(CLI::IsMember({"ir"}));
  app.add_option("--batch-size", o->batch_size, "rows per batch (results never depend on it)")->check(CLI::Range(1, 1 << 20));
  app.add_flag("--strict", o->strict, "any rejected row is an error: no invoice is written, exit 1");

  return [o, &streams]() -> int {
    SourceManager sources;
    auto loaded = sources.Load(o->plan_file);
    if (!loaded.ok()) {
      streams.err << "error: " << loaded.error << "\n";
      return kExitUsage;
    }
    DiagnosticSink sink;
    CheckedSource checked = CheckSource(sources, loaded.file, sink);
    if (!checked.ok()) {
      RenderText(sources, sink.Sorted(), streams.err, streams.color);
      streams.err << fmt::format("{}: not rated: the plan has errors\n", o->plan_file);
      return kExitFailure;
    }
    const std::vector<CheckedPlan>& plans = checked.checked->plans;
    const CheckedPlan* plan = nullptr;
    std::vector<std::string> names;
    for (const CheckedPlan& p : plans) {
      names.push_back(fmt::format("\"{}\"", p.plan->name.value));
      if (o->plan_name.empty() ? plans.size() == 1 : p.plan->name.value == o->plan_name) {
        if (plan != nullptr) {
          streams.err << fmt::format("error: `{}` holds several versions of plan \"{}\"; rating by version is not available yet\n",
                                     o->plan_file, p.plan->name.value);
          return kExitUsage;
        }
        plan = &p;
      }
    }
    if (plan == nullptr) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      streams.err << (o->plan_name.empty() ? fmt::format("error: `{}` holds {} plans ({}); choose one with --plan NAME\n", o->plan_file, plans.size(), list)
                                           : fmt::format("error: `{}` has no plan \"{}\" (it has {})\n", o->plan_file, o->plan_name, list));
      return kExitUsage;
    }
    const SourceFile& source = sources.file(loaded.file);
    LowerResult lowered = Lower(*checked.checked, *plan, source);
    if (!lowered.ok()) {
      for (const auto& e : lowered.errors) streams.err << "error: " << e << "\n";
      return kExitFailure;
    }
    if (o->dump == "ir") {
      streams.out << ir::Dump(lowered.function);
      return kExitOk;
    }
    if (o->usage.empty()) {
      streams.err << "error: no usage given; pass one or more files with --usage FILE\n";
      return kExitUsage;
    }

    RatingOptions rating;
    UsageReaderOptions reading;
    reading.batch_size = o->batch_size;
    if (!o->period.empty()) {
      std::size_t dots = o->period.find("..");
      std::string start = o->period.substr(0, dots), end = o->period.substr(dots + 2);
      std::string why;
      auto s = ParseTimestamp(start, &why);
      if (!s) {
        streams.err << fmt::format("error: --period start `{}`: {}\n", start, why);
        return kExitUsage;
      }
      auto e = ParseTimestamp(end, &why);
      if (!e) {
        streams.err << fmt::format("error: --period end `{}`: {}\n", end, why);
        return kExitUsage;
      }
      if (*e <= *s) {
        streams.err << fmt::format("error: --period `{}` ends before it starts\n", o->period);
        return kExitUsage;
      }
      rating.period_start = start;
      rating.period_end = end;
      rating.period_end_micros = e;
      reading.period_start = s;
      reading.period_end = e;
    }

    // A usage file that is not there is a mistake on the command line (exit 2); a file that is
    // there but wrong (an unknown column, a read error) is wrong data (exit 1).
    for (const std::string& path : o->usage) {
      std::error_code ec;
      if (path != "-" && !std::filesystem::exists(path, ec)) {
        streams.err << fmt::format("error: cannot open `{}`: No such file or directory\n", path);
        return kExitUsage;
      }
    }
    const ir::RatingFunction& fn = lowered.function;
    std::vector<EventSchema> schemas = SchemasOf(fn);
    std::unique_ptr<UsageReader> reader = OpenUsage(o->usage, schemas, reading);
    Engine engine(fn, rating);
    std::vector<Invoice> invoices;
    try {
      Batch batch;
      while (reader->Next(batch)) engine.Consume(batch);
      if (!reader->error().empty()) {
        streams.err << "error: " << reader->error() << "\n";
        return kExitFailure;
      }
      invoices = engine.Finish();
    } catch (const RatingError& e) {
      LineColumn lc = source.At(e.source().begin);
      streams.err << fmt::format("{}:{}:{}: error: rating stopped: {}\n", source.path(), lc.line, lc.column, e.what());
      return kExitFailure;
    }

    const auto& rejects = reader->rejects();
    std::uint64_t read = reader->rows_read(), rated = engine.rows_rated(), duplicates = reader->duplicates();
    std::uint64_t rejected = rejects.size();
    if (read != rated + rejected + duplicates) {
      streams.err << fmt::format("internal error: rows read {} != rated {} + rejected {} + duplicates {}\n", read, rated,
                                 rejected, duplicates);
      return kExitInternal;
    }
    streams.err << fmt::format("rows read {} = rated {} + rejected {} + duplicates {}; {} invoice{}\n", read, rated,
                               rejected, duplicates, invoices.size(), invoices.size() == 1 ? "" : "s");
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
