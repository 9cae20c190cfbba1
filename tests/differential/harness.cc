// tests/differential: running a case on an engine and on the reference, comparing, shrinking.
// The engine side compiles with CheckSource + Lower and rates with tariff::Engine, as
// tools/bench/bench_engine.cc does; the reference side reads the same checked plan.
#include "tests/differential/harness.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "runtime/columnar/timestamp.h"
#include "runtime/decimal/decimal.h"
#include "runtime/exec/exec.h"
#include "tests/reference/usage.h"

namespace tariff::differential {

using reference::Rational;

namespace {

constexpr std::int64_t kMicrosPerDay = 86400000000LL;

std::string Label(const std::string& name, const std::vector<std::string>& group) {
  if (group.empty()) return name;
  std::string out = name + " [";
  for (std::size_t i = 0; i < group.size(); ++i) out += (i ? ", " : "") + group[i];
  return out + "]";
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The seconds (µs exact) and UTC calendar days of a part of the period (docs/billing.md).
struct Share {
  Rational active_seconds, length_seconds, active_days, length_days;
};
Share ShareOf(const Case& c, std::int64_t start, std::int64_t end) {
  Share s;
  s.active_seconds = Rational(end - start, 1000000);
  s.length_seconds = Rational(c.period_end - c.period_start, 1000000);
  s.active_days = FloorDiv(end, kMicrosPerDay) - FloorDiv(start, kMicrosPerDay);
  s.length_days = FloorDiv(c.period_end, kMicrosPerDay) - FloorDiv(c.period_start, kMicrosPerDay);
  return s;
}

Decimal ToDecimal(const Rational& r) { return Decimal::FromString(reference::ToDecimalText(r)); }

struct Compiled {
  SourceManager sources;
  FileId file;
  CheckedSource checked;
  std::string diagnostics;
  std::string first_error_code;
};

std::unique_ptr<Compiled> Compile(const Case& c) {
  auto out = std::make_unique<Compiled>();
  out->file = out->sources.AddFile("plan.tariff", c.PlanText());
  DiagnosticSink sink;
  out->checked = CheckSource(out->sources, out->file, sink);
  std::ostringstream text;
  for (const Diagnostic& d : sink.Sorted()) {
    if (d.severity != Severity::kError) continue;
    const SourceFile& f = out->sources.file(out->file);
    LineColumn at = f.At(d.span.begin);
    text << "plan.tariff:" << at.line << ":" << at.column << ": error[" << DiagCode(d.kind) << "]: " << d.message << "\n";
    if (out->first_error_code.empty()) out->first_error_code = std::string(DiagCode(d.kind));
  }
  out->diagnostics = text.str();
  return out;
}

// ---- The engine side ----------------------------------------------------------------------

Answer RunInterpreter(const Case& c, const Compiled& compiled) {
  Answer a;
  const CheckedPlan& plan = compiled.checked.checked->plans.at(0);
  LowerResult lowered = Lower(*compiled.checked.checked, plan, compiled.sources.file(compiled.file));
  if (!lowered.ok()) {
    a.stopped = true;
    a.error = "lower: " + lowered.errors.front();
    return a;
  }
  const ir::RatingFunction& fn = lowered.function;
  std::vector<EventSchema> schemas = SchemasOf(fn);
  RatingOptions options;
  options.period_start = TimeText(c.period_start);
  options.period_end = TimeText(c.period_end);
  options.period_end_micros = c.period_end;
  Engine engine(fn, options);
  for (const CustomerDef& customer : c.customers) {
    if (customer.part) {
      Share s = ShareOf(c, customer.part->first, customer.part->second);
      // The generator makes no `prorated by thirty_day_month` plan (the reference does not model
      // 30-day months), so the engine never reads the days360 fields here.
      ActivePeriod active{ToDecimal(s.active_seconds), ToDecimal(s.length_seconds), ToDecimal(s.active_days),
                          ToDecimal(s.length_days), Decimal(), Decimal(), customer.part->second};
      engine.SetActive(customer.id, active);
    } else {
      engine.AddCustomer(customer.id);
    }
    for (const FieldDef& f : c.subscription) {
      auto it = customer.subscription.find(f.name);
      if (it == customer.subscription.end()) continue;
      if (f.kind == FieldKind::kQuantity || f.kind == FieldKind::kDecimal || f.kind == FieldKind::kMoney) {
        engine.SetSubscription(customer.id, f.name, Decimal::FromString(it->second));
      } else if (f.kind == FieldKind::kBool) {
        engine.SetSubscription(customer.id, f.name, it->second == "true");
      } else {
        engine.SetSubscription(customer.id, f.name, it->second);
      }
    }
  }
  // One batch per run of rows of one event, in usage order, as a reader makes them.
  Batch batch;
  std::uint64_t line = 1;
  auto flush = [&] {
    if (batch.schema != nullptr && batch.size() > 0) engine.Consume(batch);
  };
  for (const RowDef& row : c.rows) {
    int event = -1;
    for (std::size_t i = 0; i < schemas.size(); ++i) {
      if (schemas[i].name == row.event) event = static_cast<int>(i);
    }
    if (event < 0) continue;
    if (batch.schema == nullptr || batch.event != event || batch.size() >= 4096) {
      flush();
      batch.Reset(&schemas[static_cast<std::size_t>(event)], event);
    }
    const EventSchema& schema = schemas[static_cast<std::size_t>(event)];
    for (std::size_t f = 0; f < schema.fields.size(); ++f) {
      const FieldSchema& field = schema.fields[f];
      Column& col = batch.columns[f];
      std::string value;
      if (field.name == "customer") {
        value = row.customer;
      } else if (field.name != "time") {
        value = row.values.at(field.name);
      }
      switch (col.type) {
        case ColumnType::kDecimal: col.decimals.push_back(Decimal::FromString(value)); break;
        case ColumnType::kText: col.texts.push_back(value); break;
        case ColumnType::kBool: col.bools.push_back(value == "true" ? 1 : 0); break;
        case ColumnType::kTimestamp: col.times.push_back(row.time); break;
      }
    }
    batch.origins.push_back(RowOrigin{0, ++line});
  }
  flush();
  for (const Invoice& inv : engine.Finish()) {
    Answer::Invoice out;
    out.customer = inv.customer;
    for (const InvoiceLine& l : inv.lines) {
      Answer::Line line_out;
      line_out.kind = LineKindName(l.kind);
      line_out.name = l.name;
      line_out.group = l.group;
      line_out.amount = l.amount.ToString();
      line_out.value = reference::ParseRational(line_out.amount);
      line_out.scale = l.amount.scale();
      out.lines.push_back(line_out);
    }
    out.total = inv.total.ToString();
    out.total_value = reference::ParseRational(out.total);
    for (const InvoiceSubtotal& st : inv.subtotals) out.subtotals.emplace_back(st.name, reference::ParseRational(st.amount.ToString()));
    a.invoices.push_back(out);
  }
  return a;
}

Answer RunEngine(const Case& c, const Compiled& compiled, const std::string& engine) {
  Answer a;
  try {
    if (engine == "interpreter") return RunInterpreter(c, compiled);
    a.stopped = true;
    a.error = "no engine named `" + engine + "`";
  } catch (const RatingError& e) {
    a.stopped = true;
    a.error = e.what();
  } catch (const std::exception& e) {
    a.stopped = true;
    a.error = std::string("exception: ") + e.what();
  }
  return a;
}

// ---- The reference side -------------------------------------------------------------------

Answer RunReference(const Case& c, const Compiled& compiled) {
  Answer a;
  const CheckedPlan& plan = compiled.checked.checked->plans.at(0);
  std::vector<reference::UsageRow> rows;
  for (const RowDef& r : c.rows) rows.push_back(reference::RowOf(plan, r.event, r.customer, TimeText(r.time), r.values));
  reference::Options options;
  options.period_end_micros = c.period_end;
  for (const CustomerDef& customer : c.customers) {
    reference::CustomerOptions o;
    if (customer.part) {
      Share s = ShareOf(c, customer.part->first, customer.part->second);
      o.active = reference::CustomerOptions::Active{s.active_seconds, s.length_seconds, s.active_days, s.length_days};
      o.end_micros = customer.part->second;
    }
    for (const auto& [field, value] : customer.subscription) {
      o.subscription[field] = reference::ValueOf(plan.subscription.at(field).type, value);
    }
    options.customers[customer.id] = o;
  }
  reference::Result result = reference::Evaluate(*compiled.checked.checked, plan, rows, options);
  if (!result.ok()) {
    a.stopped = true;
    a.error = result.error;
    return a;
  }
  for (const reference::Invoice& inv : result.invoices) {
    Answer::Invoice out;
    out.customer = inv.customer;
    for (const reference::Line& l : inv.lines) {
      Answer::Line line_out;
      line_out.kind = l.kind;
      line_out.name = l.name;
      line_out.group = l.group;
      line_out.amount = reference::ToDecimalText(l.amount, l.scale.value_or(0));
      line_out.value = l.amount;
      line_out.scale = l.scale.value_or(-1);
      out.lines.push_back(line_out);
    }
    out.total = reference::ToDecimalText(inv.total);
    out.total_value = inv.total;
    out.subtotals = inv.subtotals;
    a.invoices.push_back(out);
  }
  return a;
}

// ---- Comparison ---------------------------------------------------------------------------

std::string ErrorClass(const std::string& error) {
  if (error.rfind("lower:", 0) == 0) return "lower failed";
  if (error.rfind("exception:", 0) == 0) return "engine threw";
  if (error.find("does not fit") != std::string::npos || error.find("38 digits") != std::string::npos) return "overflow";
  if (error.find("division by zero") != std::string::npos) return "division by zero";
  if (error.find("beyond: error") != std::string::npos || error.find("last tier's bound") != std::string::npos) return "past the last tier bound";
  return "stopped";
}

std::string PointOf(const Case& c) {
  std::size_t per = c.rounding.rfind("per ");
  return per == std::string::npos ? "line" : c.rounding.substr(per + 4);
}

std::string KindOf(const Case& c, const Answer::Line& l) {
  if (l.kind != "charge") return l.kind;
  for (const ChargeDef& ch : c.charges) {
    if (ch.name == l.name) return ch.kind;
  }
  return "charge";
}

void Compare(const Case& c, Outcome& o) {
  const Answer& e = o.engine;
  const Answer& r = o.reference;
  if (e.stopped || r.stopped) {
    if (e.stopped && r.stopped) {
      o.detail = "both stopped: engine `" + e.error + "`; reference `" + r.error + "`";
      return;
    }
    o.verdict = Outcome::Verdict::kMismatch;
    o.category = e.stopped ? "engine stopped (" + ErrorClass(e.error) + "), the reference did not" : "the reference stopped (" + ErrorClass(r.error) + "), the engine did not";
    o.detail = e.stopped ? e.error : r.error;
    return;
  }
  auto mismatch = [&](const std::string& category, const std::string& detail) {
    if (o.verdict == Outcome::Verdict::kMismatch) return;
    o.verdict = Outcome::Verdict::kMismatch;
    o.category = category;
    o.detail = detail;
  };
  std::map<std::string, const Answer::Invoice*> engine_invoices;
  for (const Answer::Invoice& inv : e.invoices) engine_invoices[inv.customer] = &inv;
  std::set<std::string> customers;
  for (const Answer::Invoice& inv : r.invoices) {
    customers.insert(inv.customer);
    auto it = engine_invoices.find(inv.customer);
    if (it == engine_invoices.end()) {
      mismatch("invoices differ", "the engine has no invoice for " + inv.customer);
      continue;
    }
    const Answer::Invoice& ei = *it->second;
    std::size_t n = std::max(ei.lines.size(), inv.lines.size());
    for (std::size_t k = 0; k < n; ++k) {
      const Answer::Line* el = k < ei.lines.size() ? &ei.lines[k] : nullptr;
      const Answer::Line* rl = k < inv.lines.size() ? &inv.lines[k] : nullptr;
      if (el == nullptr || rl == nullptr || el->kind != rl->kind || el->name != rl->name || el->group != rl->group) {
        std::string what = rl != nullptr ? KindOf(c, *rl) : KindOf(c, *el);
        mismatch("lines differ: " + what,
                 inv.customer + " line " + std::to_string(k + 1) + ": engine " + (el ? el->kind + " " + Label(el->name, el->group) : "(none)") +
                     ", reference " + (rl ? rl->kind + " " + Label(rl->name, rl->group) : "(none)"));
        break;
      }
      if (el->value != rl->value) {
        mismatch("amount differs: " + KindOf(c, *rl) + " (per " + PointOf(c) + ")",
                 inv.customer + " " + Label(rl->name, rl->group) + ": engine " + el->amount + ", reference " + rl->amount);
      } else if (rl->scale >= 0 && el->scale != rl->scale) {
        if (o.scale_differences++ == 0) {
          o.scale_detail = inv.customer + " " + Label(rl->name, rl->group) + ": engine " + el->amount + ", reference " + rl->amount;
        }
      }
    }
    if (ei.total_value != inv.total_value) mismatch("total differs", inv.customer + " total: engine " + ei.total + ", reference " + inv.total);
    if (ei.subtotals != inv.subtotals) {
      auto text = [](const std::vector<std::pair<std::string, reference::Rational>>& v) {
        std::string t;
        for (const auto& [sn, x] : v) t += (t.empty() ? "" : ", ") + sn + " = " + reference::ToDecimalText(x);
        return t.empty() ? std::string("(none)") : t;
      };
      mismatch("subtotals differ", inv.customer + " subtotals: engine " + text(ei.subtotals) + "; reference " + text(inv.subtotals));
    }
  }
  for (const Answer::Invoice& inv : e.invoices) {
    if (!customers.count(inv.customer)) mismatch("invoices differ", "the reference has no invoice for " + inv.customer);
  }
}

}  // namespace

std::string Answer::Text() const {
  if (stopped) return "rating stopped: " + error + "\n";
  std::ostringstream out;
  for (const Invoice& inv : invoices) {
    out << inv.customer << "\n";
    for (const Line& l : inv.lines) {
      out << "  " << (l.kind == "charge" ? "" : "(" + l.kind + ") ") << Label(l.name, l.group) << " = " << l.amount << "\n";
    }
    out << "  total = " << inv.total << "\n";
    for (const auto& [n, x] : inv.subtotals) out << "  subtotal " << n << " = " << reference::ToDecimalText(x) << "\n";
  }
  return out.str();
}

const std::vector<std::string>& EngineNames() {
  static const std::vector<std::string> kNames = {"interpreter"};
  return kNames;
}

Outcome RunCase(const Case& c, const std::string& engine) {
  Outcome o;
  std::unique_ptr<Compiled> compiled;
  try {
    compiled = Compile(c);
  } catch (const std::exception& e) {
    o.verdict = Outcome::Verdict::kMismatch;
    o.category = "the checker threw";
    o.detail = e.what();
    return o;
  }
  if (!compiled->checked.ok()) {
    o.verdict = Outcome::Verdict::kInvalid;
    o.category = "does not check: " + compiled->first_error_code;
    o.detail = compiled->diagnostics;
    return o;
  }
  o.engine = RunEngine(c, *compiled, engine);
  try {
    o.reference = RunReference(c, *compiled);
  } catch (const std::exception& e) {
    o.verdict = Outcome::Verdict::kInvalid;
    o.category = "reference: unsupported";
    o.detail = e.what();
    return o;
  }
  Compare(c, o);
  return o;
}

}  // namespace tariff::differential
