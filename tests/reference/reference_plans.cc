// tests/reference: the reference evaluator against the tests written in a bundled plan
// (plans/NAME/*.tariff: `test` blocks with usage in and expected lines and totals out). Exit 0
// when every test the reference models agrees, 1 when one does not. Tests of the billing layer
// (credits, a change of plan or version, several subscription parts) or with local times in a
// zone other than UTC are skipped and named. `usage e x N` is one row of weight N.
//
//   reference_plans plans/NAME/NAME.tariff
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/compiler.h"
#include "runtime/columnar/timestamp.h"
#include "tests/reference/reference.h"
#include "tests/reference/usage.h"

namespace {

using namespace tariff;
using namespace tariff::reference;
namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Skip {
  std::string why;
};

Rational FactorOf(const ast::UnitExpr& unit) {
  Rational r = 1;
  for (const ast::UnitExpr::Factor& f : unit.factors) {
    for (int i = 0; i < (f.exponent < 0 ? -f.exponent : f.exponent); ++i) {
      r = f.exponent < 0 ? Rational(r / BaseFactor(f.name.text)) : Rational(r * BaseFactor(f.name.text));
    }
  }
  return r;
}

Rational FactorOf(const Type& type) {
  if (type.kind != TypeKind::kQuantity || !type.unit) return 1;
  Rational r = 1;
  for (const tariff::UnitFactor& f : type.unit->factors()) {
    for (int i = 0; i < (f.exponent < 0 ? -f.exponent : f.exponent); ++i) {
      r = f.exponent < 0 ? Rational(r / BaseFactor(f.name)) : Rational(r * BaseFactor(f.name));
    }
  }
  return r;
}

std::int64_t Instant(const ast::DateTimeLit& d, bool utc);

// A test's literal as a value of a field of type `type` (a quantity in the field's unit).
FieldValue ValueOfLiteral(const ast::Expr& e, const Type& type) {
  if (const auto* u = std::get_if<ast::Unary>(&e.kind)) {
    FieldValue v = ValueOfLiteral(*u->operand, type);
    v.number = -v.number;
    return v;
  }
  const auto* lit = std::get_if<ast::Literal>(&e.kind);
  if (lit == nullptr) throw Skip{"a value that is not a literal"};
  switch (lit->kind) {
    case ast::LiteralKind::kString: return FieldValue::Text(lit->text);
    case ast::LiteralKind::kBool: return FieldValue::Bool(lit->bool_value);
    case ast::LiteralKind::kNumber: return FieldValue::Number(ParseRational(lit->number.ToString()));
    case ast::LiteralKind::kDateTime: {
      ast::DateTimeLit d;
      d.text = lit->text;
      return FieldValue::Time(Instant(d, true));
    }
    case ast::LiteralKind::kUnit: {
      Rational n = ParseRational(lit->number.ToString());
      if (type.kind == TypeKind::kQuantity) n = n * FactorOf(lit->unit) / FactorOf(type);
      return FieldValue::Number(n);
    }
    default: throw Skip{"a literal of another kind in a usage value"};
  }
}

std::int64_t Instant(const ast::DateTimeLit& d, bool utc) {
  bool has_zone = d.text.find('T') == std::string::npos ? false : (d.text.back() == 'Z' || d.text.find('+', 10) != std::string::npos ||
                                                                   d.text.find('-', 10) != std::string::npos);
  if (!has_zone && !utc) throw Skip{"a local time outside UTC"};
  std::string text = d.text;
  if (text.find('T') != std::string::npos && !has_zone) text += "Z";
  std::optional<std::int64_t> t = ParseTimestamp(text);
  if (!t) throw Skip{"an instant the reference cannot read: " + d.text};
  return *t;
}

std::int64_t FloorDay(std::int64_t us) {
  const std::int64_t day = 86400000000LL;
  return us / day - ((us % day != 0) && (us < 0));
}

std::string Label(const std::string& name, const std::vector<std::string>& group) {
  std::string out = name;
  for (std::size_t i = 0; i < group.size(); ++i) out += (i ? ", " : " for ") + group[i];
  return out;
}

// Runs one test; returns the failures (empty: agreed). Throws Skip for what is not modelled.
std::vector<std::string> RunTest(const CheckedFile& file, const CheckedPlan& plan, const ast::TestDecl& test, const fs::path& dir,
                                 bool utc) {
  const std::string customer = "test";
  Options options;
  std::optional<std::int64_t> from, to;
  if (test.from && test.to) {
    from = Instant(*test.from, utc);
    to = Instant(*test.to, utc);
    options.period_end_micros = to;
  }
  CustomerOptions& me = options.customers[customer];
  std::vector<UsageRow> rows;
  std::set<std::string> keys;
  int subscriptions = 0;
  for (const ast::PlanItem& item : plan.plan->items) {
    if (std::holds_alternative<ast::ThresholdDecl>(item.kind)) throw Skip{"progressive billing, `invoice when usage reaches` (the billing layer's)"};
  }
  for (const ast::TestStmt& stmt : test.stmts) {
    if (std::holds_alternative<ast::TestCredit>(stmt.kind)) throw Skip{"credits (the billing layer's)"};
    if (std::holds_alternative<ast::TestContract>(stmt.kind)) throw Skip{"contracts (the billing layer's)"};
    if (const auto* s = std::get_if<ast::TestSubscription>(&stmt.kind)) {
      if (++subscriptions > 1) throw Skip{"several subscription parts (the billing layer's)"};
      std::optional<std::int64_t> start, end;
      for (const ast::FieldInit& f : s->fields) {
        const std::string& n = f.name.text;
        if (n == "plan" || n == "version") throw Skip{"a subscription to another plan or version"};
        if (n == "start" || n == "end") {
          const auto& lit = std::get<ast::Literal>(f.value->kind);
          ast::DateTimeLit d;
          d.text = lit.text;
          (n == "start" ? start : end) = Instant(d, utc);
          continue;
        }
        me.subscription[n] = ValueOfLiteral(*f.value, plan.subscription.at(n).type);
      }
      if ((start || end) && from && to) {
        std::int64_t a = std::max(start.value_or(*from), *from), b = std::min(end.value_or(*to), *to);
        me.active = CustomerOptions::Active{Rational(b - a, 1000000), Rational(*to - *from, 1000000),
                                            Rational(FloorDay(b) - FloorDay(a)), Rational(FloorDay(*to) - FloorDay(*from))};
        me.end_micros = b;
      }
    }
  }
  for (const ast::TestStmt& stmt : test.stmts) {
    if (const auto* u = std::get_if<ast::UsageEvents>(&stmt.kind)) {
      UsageRow row;
      if (u->count) row.weight = boost::multiprecision::numerator(ParseRational(u->count->ToString()));
      row.event = u->event.text;
      row.customer = customer;
      row.time = u->at ? Instant(*u->at, utc) : from.value_or(0);
      const EventInfo& ev = plan.events.at(row.event);
      for (const ast::FieldInit& f : u->fields) row.fields[f.name.text] = ValueOfLiteral(*f.value, ev.fields.at(f.name.text).type);
      // The event's idempotency key, as `tariff rate` honours it: statements that give the key
      // share it (a repeat is a duplicate, `x N` is one event); the others have keys of their own.
      if (ev.decl != nullptr && ev.decl->key) {
        auto k = row.fields.find(ev.decl->key->text);
        if (k != row.fields.end()) {
          if (!keys.insert(row.event + "\n" + k->second.text).second) continue;
          row.weight = 1;
        }
      }
      // A field the statement leaves out is 0, "" or false (as `tariff test` reads it).
      for (const auto& [name, info] : ev.fields) {
        if (name == "customer" || name == "time" || row.fields.count(name)) continue;
        switch (info.type.kind) {
          case TypeKind::kBool: row.fields[name] = FieldValue::Bool(false); break;
          case TypeKind::kText:
          case TypeKind::kId:
          case TypeKind::kEnum: row.fields[name] = FieldValue::Text(""); break;
          case TypeKind::kTimestamp: row.fields[name] = FieldValue::Time(row.time); break;
          default: row.fields[name] = FieldValue::Number(0);
        }
      }
      rows.push_back(row);
    }
    if (const auto* f = std::get_if<ast::UsageFile>(&stmt.kind)) {
      std::size_t dropped = 0;  // rejected rows and duplicates, as `tariff test` drops them
      std::vector<UsageRow> part = ReadUsageCsv(plan, ReadFile(dir / f->path.value), from, to, &dropped);
      rows.insert(rows.end(), part.begin(), part.end());
    }
  }
  Result result = Evaluate(file, plan, rows, options);
  if (!result.ok()) return {"the reference stopped: " + result.error};
  const Invoice* invoice = nullptr;
  for (const Invoice& i : result.invoices) {
    if (i.customer == customer) invoice = &i;
  }
  if (invoice == nullptr) return {"no invoice"};
  std::vector<std::string> failures;
  for (const ast::TestStmt& stmt : test.stmts) {
    const auto* e = std::get_if<ast::Expectation>(&stmt.kind);
    if (e == nullptr) continue;
    if (e->credit) throw Skip{"credit balances (the billing layer's)"};
    Rational expected = ValueOfLiteral(*e->value, Type::Of(TypeKind::kMoney)).number;
    if (!e->charge) {
      if (invoice->total != expected) failures.push_back("total: expected " + ToDecimalText(expected) + ", reference " + ToDecimalText(invoice->total));
      continue;
    }
    std::vector<std::string> group;
    for (const ast::StringLit& g : e->group) group.push_back(g.value);
    // Without `for`, every line of the name (every group, as `tariff test` adds them up).
    bool found = false;
    Rational sum = 0;
    for (const Line& l : invoice->lines) {
      if (l.name == e->charge->value && (group.empty() || l.group == group)) {
        found = true;
        sum += l.amount;
      }
    }
    std::string label = Label(e->charge->value, group);
    if (!found) {
      if (expected != 0) failures.push_back(label + ": expected " + ToDecimalText(expected) + ", the reference has no such line");
    } else if (sum != expected) {
      failures.push_back(label + ": expected " + ToDecimalText(expected) + ", reference " + ToDecimalText(sum));
    }
  }
  return failures;
}

int Run(const fs::path& path) {
  SourceManager sources;
  FileId id = sources.AddFile(path.filename().string(), ReadFile(path));
  DiagnosticSink sink;
  CheckedSource checked = CheckSource(sources, id, sink);
  if (!checked.ok()) {
    std::cout << "FAIL: the plan does not check\n";
    return 1;
  }
  int passed = 0, failed = 0, skipped = 0;
  for (const CheckedPlan& plan : checked.checked->plans) {
    bool versions = false;
    for (const CheckedPlan& other : checked.checked->plans) {
      if (&other != &plan && other.plan->name.value == plan.plan->name.value) versions = true;
    }
    bool utc = true;
    for (const ast::PlanItem& item : plan.plan->items) {
      if (const auto* p = std::get_if<ast::PeriodDecl>(&item.kind)) utc = !p->timezone || p->timezone->value == "UTC";
    }
    for (const ast::PlanItem& item : plan.plan->items) {
      const auto* test = std::get_if<ast::TestDecl>(&item.kind);
      if (test == nullptr) continue;
      std::string name = plan.plan->name.value + ": " + test->name.value;
      try {
        if (versions) throw Skip{"a plan with versions (the billing layer's)"};
        std::vector<std::string> failures = RunTest(*checked.checked, plan, *test, path.parent_path(), utc);
        if (failures.empty()) {
          ++passed;
          std::cout << "ok      " << name << "\n";
        } else {
          ++failed;
          std::cout << "FAIL    " << name << "\n";
          for (const std::string& f : failures) std::cout << "        " << f << "\n";
        }
      } catch (const Skip& s) {
        ++skipped;
        std::cout << "skipped " << name << " (" << s.why << ")\n";
      }
    }
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: reference_plans PLAN.tariff\n";
    return 2;
  }
  try {
    return Run(argv[1]);
  } catch (const std::exception& e) {
    std::cout << "FAIL: " << e.what() << "\n";
    return 1;
  }
}
