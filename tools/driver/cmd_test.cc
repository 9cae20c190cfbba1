// tools/driver: `tariff test [FILE|DIR...]` — runs the tests written inside plans: usage in,
// the engine rates it, expected lines and totals out. Every test of every plan is one result.
#include <filesystem>
#include <map>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "compiler/lower/lower.h"
#include "compiler/sema/units_adapter.h"
#include "runtime/exec/exec.h"
#include "runtime/io/usage_reader.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/inputs.h"

namespace tariff::driver {
namespace {

constexpr const char* kTestCustomer = "test";

struct TestOutcome {
  std::string file;
  std::string plan;
  std::string test;
  bool passed = true;
  std::vector<std::string> failures;  // one line per expectation that did not hold
  std::string error;                  // the test could not run
};

class TestRunner {
 public:
  TestRunner(const SourceFile& source, const CheckedFile& checked, const CheckedPlan& plan,
             const ir::RatingFunction& fn)
      : source_(source), checked_(checked), plan_(plan), fn_(fn), schemas_(SchemasOf(fn)) {}

  TestOutcome Run(const ast::TestDecl& test) {
    TestOutcome out;
    out.file = source_.path();
    out.plan = plan_.plan->name.value;
    out.test = test.name.value;
    RatingOptions options;
    std::optional<std::int64_t> start;
    if (test.from && test.to) {
      options.period_start = test.from->text;
      options.period_end = test.to->text;
      start = ParseTimestamp(test.from->text);
      options.period_end_micros = ParseTimestamp(test.to->text);
    }
    try {
      Engine engine(fn_, options);
      engine.AddCustomer(kTestCustomer);
      for (const ast::TestStmt& stmt : test.stmts) {
        if (const auto* u = std::get_if<ast::UsageEvents>(&stmt.kind)) AddEvents(engine, *u, start);
        if (const auto* s = std::get_if<ast::TestSubscription>(&stmt.kind)) AddSubscription(engine, *s);
        if (const auto* f = std::get_if<ast::UsageFile>(&stmt.kind)) AddFile(engine, *f, options, out);
      }
      if (!out.error.empty()) {
        out.passed = false;
        return out;
      }
      // A test rates one customer, `test`: usage statements are its events, and a usage file
      // must hold only its rows (a row for another customer would be silently left out).
      std::vector<Invoice> invoices = engine.Finish();
      const Invoice* invoice = nullptr;
      for (const Invoice& inv : invoices) {
        if (inv.customer == kTestCustomer) {
          invoice = &inv;
        } else {
          out.error = fmt::format("the usage has rows for customer `{}`; a test rates the customer `{}` only",
                                  inv.customer, kTestCustomer);
          out.passed = false;
          return out;
        }
      }
      for (const ast::TestStmt& stmt : test.stmts) {
        if (const auto* e = std::get_if<ast::Expectation>(&stmt.kind)) Expect(*e, *invoice, out);
      }
    } catch (const RatingError& e) {
      LineColumn lc = source_.At(e.source().begin);
      out.error = fmt::format("{}:{}:{}: rating failed: {}", source_.path(), lc.line, lc.column, e.what());
    } catch (const DecimalError& e) {
      out.error = fmt::format("rating failed: {}", e.what());
    }
    out.passed = out.error.empty() && out.failures.empty();
    return out;
  }

 private:
  int EventIndex(const std::string& name) const {
    for (std::size_t i = 0; i < fn_.events.size(); ++i) {
      if (fn_.events[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }

  const Type& TypeOf(const ast::Node& n) const { return checked_.types[static_cast<std::size_t>(n.id.index)]; }

  // A literal as the number a column of `field_type` holds (quantities in the field's unit).
  Decimal Number(const ast::Expr& value, const Type& field_type) const {
    const auto* lit = std::get_if<ast::Literal>(&value.kind);
    if (lit == nullptr) throw DecimalError(DecimalErrorKind::kParse, "a test value is a literal");
    const Type& t = TypeOf(value);
    if (t.kind == TypeKind::kQuantity && field_type.kind == TypeKind::kQuantity) {
      Conversion c = Convert(lit->number, *t.unit, *field_type.unit);
      if (!c.ok()) throw DecimalError(DecimalErrorKind::kParse, fmt::format("`{}` is not a whole amount of {}", lit->number.ToString(), UnitName(*field_type.unit)));
      return *c.value;
    }
    if (lit->kind == ast::LiteralKind::kPercent) return Decimal::Divide(lit->number, Decimal(100), lit->number.scale() + 2, RoundingMode::kHalfEven);
    return lit->number;
  }

  void AddEvents(Engine& engine, const ast::UsageEvents& u, std::optional<std::int64_t> start) {
    int event = EventIndex(u.event.text);
    if (event < 0) return;
    const EventSchema& schema = schemas_[static_cast<std::size_t>(event)];
    const EventInfo& info = plan_.events.at(u.event.text);
    std::int64_t count = u.count ? static_cast<std::int64_t>(u.count->coefficient()) : 1;
    std::int64_t time = start.value_or(0);
    if (u.at) time = ParseTimestamp(u.at->text).value_or(time);
    // One row's values, then repeated `count` times in batches.
    Batch row;
    row.Reset(&schema, event);
    for (std::size_t f = 0; f < schema.fields.size(); ++f) {
      const FieldSchema& field = schema.fields[f];
      Column& col = row.columns[f];
      const ast::FieldInit* init = nullptr;
      for (const ast::FieldInit& i : u.fields) {
        if (i.name.text == field.name) init = &i;
      }
      const auto* lit = init ? std::get_if<ast::Literal>(&init->value->kind) : nullptr;
      switch (field.type) {
        case ColumnType::kDecimal:
          col.decimals.push_back(init ? Number(*init->value, info.fields.at(field.name).type) : Decimal());
          break;
        case ColumnType::kText:
          col.texts.push_back(static_cast<int>(f) == schema.customer_field ? std::string(kTestCustomer)
                                                                           : (lit ? lit->text : std::string()));
          break;
        case ColumnType::kBool: col.bools.push_back(lit && lit->bool_value ? 1 : 0); break;
        case ColumnType::kTimestamp:
          col.times.push_back(lit && lit->kind == ast::LiteralKind::kDateTime ? ParseTimestamp(lit->text).value_or(time) : time);
          break;
      }
    }
    constexpr std::int64_t kBatch = 4096;
    Batch batch;
    for (std::int64_t done = 0; done < count;) {
      std::int64_t n = std::min(kBatch, count - done);
      batch.Reset(&schema, event);
      for (std::size_t f = 0; f < schema.fields.size(); ++f) {
        const Column& src = row.columns[f];
        Column& dst = batch.columns[f];
        auto rows = static_cast<std::size_t>(n);
        switch (src.type) {
          case ColumnType::kDecimal: dst.decimals.assign(rows, src.decimals[0]); break;
          case ColumnType::kText: dst.texts.assign(rows, src.texts[0]); break;
          case ColumnType::kBool: dst.bools.assign(rows, src.bools[0]); break;
          case ColumnType::kTimestamp: dst.times.assign(rows, src.times[0]); break;
        }
      }
      batch.origins.assign(static_cast<std::size_t>(n), RowOrigin{});
      engine.Consume(batch);
      done += n;
    }
  }

  void AddSubscription(Engine& engine, const ast::TestSubscription& s) {
    for (const ast::FieldInit& init : s.fields) {
      auto field = plan_.subscription.find(init.name.text);
      if (field == plan_.subscription.end()) continue;
      const auto* lit = std::get_if<ast::Literal>(&init.value->kind);
      if (lit == nullptr) continue;
      switch (field->second.type.kind) {
        case TypeKind::kBool: engine.SetSubscription(kTestCustomer, init.name.text, lit->bool_value); break;
        case TypeKind::kText:
        case TypeKind::kId:
        case TypeKind::kEnum: engine.SetSubscription(kTestCustomer, init.name.text, lit->text); break;
        default: engine.SetSubscription(kTestCustomer, init.name.text, Number(*init.value, field->second.type));
      }
    }
  }

  void AddFile(Engine& engine, const ast::UsageFile& f, const RatingOptions& options, TestOutcome& out) {
    std::filesystem::path path = std::filesystem::path(source_.path()).parent_path() / f.path.value;
    UsageReaderOptions reader_options;
    if (!options.period_start.empty()) {
      reader_options.period_start = ParseTimestamp(options.period_start);
      reader_options.period_end = options.period_end_micros;
    }
    std::unique_ptr<UsageReader> reader = OpenUsage({path.string()}, schemas_, reader_options);
    Batch batch;
    while (reader->Next(batch)) engine.Consume(batch);
    if (!reader->error().empty()) {
      out.error = reader->error();
    } else if (!reader->rejects().empty()) {
      const Reject& r = reader->rejects().front();
      out.error = fmt::format("{}:{}: {} ({} rows rejected)", r.file, r.line, r.reason, reader->rejects().size());
    }
  }

  void Expect(const ast::Expectation& e, const Invoice& invoice, TestOutcome& out) {
    const auto* lit = std::get_if<ast::Literal>(&e.value->kind);
    if (lit == nullptr) return;
    const Decimal& want = lit->number;
    std::string what;
    Decimal got;
    bool found = false;
    if (!e.charge) {
      what = "total";
      got = invoice.total;
      found = true;
    } else {
      std::vector<std::string> group;
      for (const ast::StringLit& g : e.group) group.push_back(g.value);
      what = fmt::format("\"{}\"", e.charge->value);
      if (!group.empty()) {
        std::string joined;
        for (const auto& g : group) joined += (joined.empty() ? "\"" : ", \"") + g + "\"";
        what += " for " + joined;
      }
      for (const InvoiceLine& line : invoice.lines) {
        if (line.name == e.charge->value && (group.empty() || line.group == group)) {
          got = got + line.amount;
          found = true;
        }
      }
    }
    if (!found) {
      out.failures.push_back(fmt::format("expect {} = {} {}: the invoice has no such line", what, want.ToString(), fn_.currency));
      return;
    }
    if (got != want) {
      LineColumn lc = source_.At(e.value->span.begin);
      out.failures.push_back(fmt::format("{}:{}: expect {} = {} {}, got {} {}", source_.path(), lc.line, what,
                                         want.ToString(), fn_.currency, got.ToString(), fn_.currency));
    }
  }

  const SourceFile& source_;
  const CheckedFile& checked_;
  const CheckedPlan& plan_;
  const ir::RatingFunction& fn_;
  std::vector<EventSchema> schemas_;
};

}  // namespace

Action RegisterTest(CLI::App& app, Streams& streams) {
  struct Options {
    std::vector<std::string> paths;
    std::string format = "text";
  };
  auto options = std::make_shared<Options>();
  app.add_option("paths", options->paths, "plan files, or directories searched for *.tariff (default: .)");
  app.add_option("--format", options->format, "text (for people) or json")->check(CLI::IsMember({"text", "json"}));

  return [options, &streams]() -> int {
    std::vector<std::string> args = options->paths.empty() ? std::vector<std::string>{"."} : options->paths;
    std::optional<std::vector<std::string>> files = ExpandPlanInputs(args, streams.err);
    if (!files) return kExitUsage;
    SourceManager sources;
    std::vector<TestOutcome> outcomes;
    bool broken = false;
    for (const std::string& path : *files) {
      auto loaded = sources.Load(path);
      if (!loaded.ok()) {
        streams.err << "error: " << loaded.error << "\n";
        return kExitUsage;
      }
      DiagnosticSink sink;
      CheckedSource checked = CheckSource(sources, loaded.file, sink);
      if (!checked.ok()) {
        RenderText(sources, sink.Sorted(), streams.err, streams.color);
        streams.err << fmt::format("{}: tests not run: the plan has errors\n", path);
        broken = true;
        continue;
      }
      const SourceFile& source = sources.file(loaded.file);
      for (const CheckedPlan& plan : checked.checked->plans) {
        LowerResult lowered = Lower(*checked.checked, plan, source);
        if (!lowered.ok()) {
          for (const auto& e : lowered.errors) streams.err << "error: " << e << "\n";
          broken = true;
          continue;
        }
        TestRunner runner(source, *checked.checked, plan, lowered.function);
        for (const ast::PlanItem& item : plan.plan->items) {
          if (const auto* t = std::get_if<ast::TestDecl>(&item.kind)) outcomes.push_back(runner.Run(*t));
        }
      }
    }
    int passed = 0, failed = 0;
    for (const TestOutcome& o : outcomes) (o.passed ? passed : failed)++;
    if (options->format == "json") {
      nlohmann::json all = nlohmann::json::array();
      for (const TestOutcome& o : outcomes) {
        all.push_back({{"file", o.file}, {"plan", o.plan}, {"test", o.test}, {"passed", o.passed},
                       {"failures", o.failures}, {"error", o.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.error)}});
      }
      streams.out << all.dump(2) << "\n";
    } else {
      for (const TestOutcome& o : outcomes) {
        streams.out << fmt::format("{} {}: plan \"{}\": test \"{}\"\n", o.passed ? "PASS" : "FAIL", o.file, o.plan, o.test);
        if (!o.error.empty()) streams.out << "    " << o.error << "\n";
        for (const std::string& f : o.failures) streams.out << "    " << f << "\n";
      }
    }
    (options->format == "json" ? streams.err : streams.out) << fmt::format("{} passed, {} failed\n", passed, failed);
    return failed > 0 || broken ? kExitFailure : kExitOk;
  };
}

}  // namespace tariff::driver
