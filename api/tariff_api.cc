// api/: the embedding API (include/tariff/tariff.h), a façade over the compiler front door
// (compiler/compiler.h, compiler/lower) and the runtime (runtime/exec, runtime/columnar,
// runtime/io). It owns nothing the CLI does not: the same checks, the same engine, the same
// reject reasons and invoice writers, so that a plan rated through the library and through
// `tariff rate` gives byte-identical invoices.
#include "tariff/tariff.h"

#include <algorithm>
#include <mutex>
#include <sstream>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "compiler/ir/ir.h"
#include "compiler/lower/lower.h"
#include "runtime/billing/billing.h"
#include "runtime/columnar/batch.h"
#include "runtime/decimal/decimal.h"
#include "runtime/exec/exec.h"
#include "runtime/invoice/invoice.h"
#include "runtime/io/invoice_writer.h"
#include "runtime/io/reader_internal.h"  // ValidUtf8 and Shown: reject reasons as the readers word them
#include "runtime/io/usage_reader.h"     // ParseTimestamp, FormatTimestamp

#ifndef TARIFF_API_VERSION
#define TARIFF_API_VERSION "0.0.0"
#endif

namespace tariff::api {

// Internal types that share a name with a public one are always written ::tariff::X here;
// unqualified names in this namespace are the public ones.

namespace detail {

// The source text of one Compile call, shared by its result and the plan it produced (rating
// errors name plan lines through it).
struct CompileState {
  ::tariff::SourceManager sources;
  ::tariff::FileId file;
  std::vector<::tariff::Diagnostic> diagnostics;  // the catalog's, sorted
  std::vector<Diagnostic> extra;                  // problems outside the catalog (no position)
};

struct PlanState {
  std::shared_ptr<const CompileState> compile;
  ir::RatingFunction function;
  std::vector<::tariff::EventSchema> schemas;  // SchemasOf(function); batches point into it
  std::vector<EventInfo> events;
  std::vector<FieldInfo> subscription;
};

struct BatchState {
  std::shared_ptr<const PlanState> plan;
  const EventInfo* info = nullptr;
  int event = -1;
  ::tariff::Batch batch;
  std::vector<std::uint8_t> present;  // per field: a column was added
  std::size_t rows = 0;
  bool has_rows = false;
  struct Bad {
    std::size_t row;
    int field;
    std::string reason;
  };
  std::vector<Bad> bad;  // rows rejected by their values, in the order found
};

struct RaterState {
  RaterState(std::shared_ptr<const PlanState> p, Plan pub, ::tariff::RatingOptions o)
      : plan(std::move(p)), public_plan(std::move(pub)), engine(plan->function, std::move(o)) {}

  std::shared_ptr<const PlanState> plan;
  Plan public_plan;
  ::tariff::Engine engine;
  std::optional<std::int64_t> period_start;
  std::optional<std::int64_t> period_end;
  std::unordered_set<std::string> seen_keys;
  std::string key;
  ::tariff::Batch kept;  // the rows of a batch that are rated, when some are not
  // SetSubscriptionDates: the part of the period each customer is subscribed, [start, end).
  std::unordered_map<std::string, std::pair<std::int64_t, std::int64_t>> windows;
  std::vector<::tariff::CreditGrant> credits;  // AddCredit
  bool fed = false;
  RowCounts counts;
  bool finished = false;
  bool broken = false;
};

}  // namespace detail

namespace {

using detail::BatchState;
using detail::CompileState;
using detail::PlanState;
using detail::RaterState;

// ANTLR's generated parser shares caches between instances; one compile at a time keeps the
// front end free of data races whatever the thread.
std::mutex& CompileMutex() {
  static std::mutex mutex;
  return mutex;
}

struct Position {
  std::string file;
  int line = 0, column = 0, end_line = 0, end_column = 0;
};

Position PositionOf(const ::tariff::SourceManager& sources, ::tariff::Span span) {
  Position p;
  if (!span.file.valid() || static_cast<std::size_t>(span.file.index) >= sources.size()) return p;
  const ::tariff::SourceFile& file = sources.file(span.file);
  ::tariff::LineColumn b = file.At(span.begin);
  ::tariff::LineColumn e = file.At(std::max(span.end, span.begin));
  p.file = file.path();
  p.line = b.line;
  p.column = b.column;
  p.end_line = e.line;
  p.end_column = e.column;
  return p;
}

Diagnostic Convert(const ::tariff::SourceManager& sources, const ::tariff::Diagnostic& d) {
  Diagnostic out;
  out.code = std::string(::tariff::DiagCode(d.kind));
  out.severity = d.severity == ::tariff::Severity::kError ? Severity::kError : Severity::kWarning;
  out.message = d.message;
  Position p = PositionOf(sources, d.span);
  out.file = p.file;
  out.line = p.line;
  out.column = p.column;
  out.end_line = p.end_line;
  out.end_column = p.end_column;
  out.hint = d.hint;
  for (const ::tariff::DiagNote& n : d.notes) {
    Position np = PositionOf(sources, n.span);
    out.notes.push_back({n.message, np.file, np.line, np.column, np.end_line, np.end_column});
  }
  return out;
}

FieldType TypeOf(::tariff::ColumnType type) {
  switch (type) {
    case ::tariff::ColumnType::kDecimal: return FieldType::kDecimal;
    case ::tariff::ColumnType::kText: return FieldType::kText;
    case ::tariff::ColumnType::kBool: return FieldType::kBool;
    case ::tariff::ColumnType::kTimestamp: return FieldType::kTimestamp;
  }
  return FieldType::kDecimal;
}

EventInfo InfoOf(const ::tariff::EventSchema& schema) {
  EventInfo info;
  info.name = schema.name;
  for (const ::tariff::FieldSchema& f : schema.fields) {
    FieldInfo field;
    field.name = f.name;
    field.type = TypeOf(f.type);
    field.unit = f.unit;
    field.currency = f.currency;
    field.allowed_values = f.enum_values;
    info.fields.push_back(std::move(field));
  }
  auto name_of = [&](int index) {
    return index >= 0 ? schema.fields[static_cast<std::size_t>(index)].name : std::string();
  };
  info.customer_field = name_of(schema.customer_field);
  info.time_field = name_of(schema.time_field);
  info.key_field = name_of(schema.key_field);
  return info;
}

FieldInfo SubscriptionInfo(const std::string& name, const ::tariff::Type& type) {
  FieldInfo field;
  field.name = name;
  switch (type.kind) {
    case ::tariff::TypeKind::kBool: field.type = FieldType::kBool; break;
    case ::tariff::TypeKind::kText:
    case ::tariff::TypeKind::kId: field.type = FieldType::kText; break;
    case ::tariff::TypeKind::kEnum:
      field.type = FieldType::kText;
      field.allowed_values = type.values;
      break;
    case ::tariff::TypeKind::kTimestamp: field.type = FieldType::kTimestamp; break;
    case ::tariff::TypeKind::kQuantity:
      field.type = FieldType::kDecimal;
      if (type.unit) field.unit = type.unit->Name();
      break;
    case ::tariff::TypeKind::kMoney:
      field.type = FieldType::kDecimal;
      field.currency = type.currency;
      break;
    default: field.type = FieldType::kDecimal; break;
  }
  return field;
}

Diagnostic Problem(std::string_view file, std::string message) {
  Diagnostic d;
  d.severity = Severity::kError;
  d.message = std::move(message);
  d.file = std::string(file);
  return d;
}

std::string Quoted(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + fmt::format("\"{}\"", n);
  return out;
}

std::string Listed(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "`" : ", `") + v + "`";
  return out;
}

std::string FieldNames(const EventInfo& event) {
  std::vector<std::string> names;
  for (const FieldInfo& f : event.fields) names.push_back(f.name);
  return Listed(names);
}

// How a message names a field's type: "decimal (quantity of token)", "text (one of …)".
std::string Describe(const FieldInfo& f) {
  std::string out = FieldTypeName(f.type);
  if (!f.unit.empty()) out += " (quantity of " + f.unit + ")";
  if (!f.currency.empty()) out += " (money in " + f.currency + ")";
  if (!f.allowed_values.empty()) out += " (one of " + Listed(f.allowed_values) + ")";
  return out;
}

const char* MethodFor(FieldType type) {
  switch (type) {
    case FieldType::kDecimal: return "AddDecimalColumn";
    case FieldType::kText: return "AddTextColumn";
    case FieldType::kBool: return "AddBoolColumn";
    case FieldType::kTimestamp: return "AddTimestampColumn or AddTimestampTextColumn";
  }
  return "?";
}

// Converts an invoice either way; decimals are exact text on the public side.
Invoice ToPublic(const ::tariff::Invoice& in) {
  Invoice out;
  out.customer = in.customer;
  out.plan = in.plan;
  out.period_start = in.period_start;
  out.period_end = in.period_end;
  out.currency = in.currency;
  out.total = in.total.ToString();
  out.lines.reserve(in.lines.size());
  for (const ::tariff::InvoiceLine& l : in.lines) {
    InvoiceLine line;
    switch (l.kind) {
      case ::tariff::LineKind::kCharge: line.kind = LineKind::kCharge; break;
      case ::tariff::LineKind::kMinimum: line.kind = LineKind::kMinimum; break;
      case ::tariff::LineKind::kMaximum: line.kind = LineKind::kMaximum; break;
      case ::tariff::LineKind::kDiscount: line.kind = LineKind::kDiscount; break;
      case ::tariff::LineKind::kRounding: line.kind = LineKind::kRounding; break;
      case ::tariff::LineKind::kCredit: line.kind = LineKind::kCredit; break;
      case ::tariff::LineKind::kBilledEarlier: line.kind = LineKind::kBilledEarlier; break;
    }
    line.name = l.name;
    line.group = l.group;
    if (l.has_quantity) line.quantity = l.quantity.ToString();
    line.unit = l.unit;
    for (const ::tariff::TierPart& t : l.tiers) {
      line.tiers.push_back({t.from.ToString(), t.to.ToString(), t.quantity.ToString(), t.amount.ToString(), t.price});
    }
    line.amount = l.amount.ToString();
    out.lines.push_back(std::move(line));
  }
  for (const ::tariff::CreditBalance& b : in.credits) {
    out.credits.push_back({b.id, b.before.ToString(), b.used.ToString(), b.remaining.ToString(), b.expires, b.priority});
  }
  for (const ::tariff::InvoiceSubtotal& st : in.subtotals) out.subtotals.push_back({st.name, st.parts, st.amount.ToString()});
  return out;
}

::tariff::Decimal ParseExact(const std::string& text, const char* what) {
  ::tariff::DecimalParseResult parsed = ::tariff::Decimal::Parse(text);
  if (!parsed.value) throw UsageError(fmt::format("{} `{}` is not a decimal ({})", what, text, parsed.error));
  return *parsed.value;
}

::tariff::Invoice ToInternal(const Invoice& in) {
  ::tariff::Invoice out;
  out.customer = in.customer;
  out.plan = in.plan;
  out.period_start = in.period_start;
  out.period_end = in.period_end;
  out.currency = in.currency;
  out.total = ParseExact(in.total, "invoice total");
  for (const InvoiceLine& l : in.lines) {
    ::tariff::InvoiceLine line;
    switch (l.kind) {
      case LineKind::kCharge: line.kind = ::tariff::LineKind::kCharge; break;
      case LineKind::kMinimum: line.kind = ::tariff::LineKind::kMinimum; break;
      case LineKind::kMaximum: line.kind = ::tariff::LineKind::kMaximum; break;
      case LineKind::kDiscount: line.kind = ::tariff::LineKind::kDiscount; break;
      case LineKind::kRounding: line.kind = ::tariff::LineKind::kRounding; break;
      case LineKind::kCredit: line.kind = ::tariff::LineKind::kCredit; break;
      case LineKind::kBilledEarlier: line.kind = ::tariff::LineKind::kBilledEarlier; break;
    }
    line.name = l.name;
    line.group = l.group;
    line.has_quantity = l.quantity.has_value();
    if (l.quantity) line.quantity = ParseExact(*l.quantity, "line quantity");
    line.unit = l.unit;
    for (const TierPart& t : l.tiers) {
      line.tiers.push_back({ParseExact(t.from, "tier start"), ParseExact(t.to, "tier end"),
                            ParseExact(t.quantity, "tier quantity"), ParseExact(t.amount, "tier amount"), t.price});
    }
    line.amount = ParseExact(l.amount, "line amount");
    out.lines.push_back(std::move(line));
  }
  for (const CreditBalance& b : in.credits) {
    ::tariff::CreditBalance c;
    c.id = b.grant;
    c.before = ParseExact(b.balance, "credit balance");
    c.used = ParseExact(b.used, "credit used");
    c.remaining = ParseExact(b.remaining, "credit remaining");
    c.expires = b.expires;
    c.priority = b.priority;
    out.credits.push_back(std::move(c));
  }
  for (const Subtotal& st : in.subtotals) {
    ::tariff::InvoiceSubtotal s;
    s.name = st.name;
    s.parts = st.of;
    s.amount = ParseExact(st.amount, "subtotal amount");
    out.subtotals.push_back(std::move(s));
  }
  return out;
}

// A rating failure at plan text `span`, as the public error.
[[noreturn]] void ThrowRating(const PlanState& plan, const std::string& message, ::tariff::Span span) {
  Position p = PositionOf(plan.compile->sources, span);
  if (p.file.empty()) p.file = plan.compile->sources.file(plan.compile->file).path();
  std::string where = p.line > 0 ? fmt::format("{}:{}:{}: ", p.file, p.line, p.column) : p.file + ": ";
  throw RatingError(where + "rating failed: " + message, p.file, p.line, p.column);
}

}  // namespace

// ---- Small things -----------------------------------------------------------------------------

const char* Version() { return TARIFF_API_VERSION; }

RatingError::RatingError(const std::string& message, std::string file, int line, int column)
    : Error(message), file_(std::move(file)), line_(line), column_(column) {}

const char* SeverityName(Severity severity) { return severity == Severity::kError ? "error" : "warning"; }

const char* FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kDecimal: return "decimal";
    case FieldType::kText: return "text";
    case FieldType::kBool: return "bool";
    case FieldType::kTimestamp: return "timestamp";
  }
  return "?";
}

const char* LineKindName(LineKind kind) {
  switch (kind) {
    case LineKind::kCharge: return "charge";
    case LineKind::kMinimum: return "minimum";
    case LineKind::kMaximum: return "maximum";
    case LineKind::kDiscount: return "discount";
    case LineKind::kRounding: return "rounding";
    case LineKind::kCredit: return "credit";
    case LineKind::kBilledEarlier: return "billed_earlier";
  }
  return "?";
}

const FieldInfo* EventInfo::FindField(std::string_view field_name) const {
  for (const FieldInfo& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

// ---- Compiling --------------------------------------------------------------------------------

Plan::Plan(std::shared_ptr<const PlanState> state) : state_(std::move(state)) {}

CompileResult Plan::Compile(std::string_view source, std::string_view file_name, std::string_view plan_name) {
  std::lock_guard<std::mutex> lock(CompileMutex());
  auto compile = std::make_shared<CompileState>();
  compile->file = compile->sources.AddFile(std::string(file_name), std::string(source));

  // Parse, check, choose the plan, lower. (A lambda: it shares Compile's access to the result.)
  auto compile_plan = [&]() -> CompileResult {
    CompileResult result;
    ::tariff::DiagnosticSink sink;
    ::tariff::CheckedSource checked = ::tariff::CheckSource(compile->sources, compile->file, sink);
    compile->diagnostics = sink.Sorted();
    for (const ::tariff::Diagnostic& d : compile->diagnostics) {
      result.diagnostics.push_back(Convert(compile->sources, d));
    }
    auto finish = [&]() {
      for (const Diagnostic& d : compile->extra) result.diagnostics.push_back(d);
      result.state_ = compile;
      return std::move(result);
    };
    if (!checked.ok()) return finish();

    // The plan to compile: the only one, or the one named.
    const std::vector<::tariff::CheckedPlan>& plans = checked.checked->plans;
    const ::tariff::CheckedPlan* chosen = nullptr;
    std::vector<std::string> names;
    for (const ::tariff::CheckedPlan& p : plans) {
      names.push_back(p.plan->name.value);
      if (plan_name.empty() ? plans.size() == 1 : p.plan->name.value == plan_name) {
        if (chosen != nullptr) {
          compile->extra.push_back(Problem(file_name, fmt::format("the source holds several versions of plan \"{}\"; "
                                                                  "rating by version is not available yet",
                                                                  p.plan->name.value)));
          return finish();
        }
        chosen = &p;
      }
    }
    if (chosen == nullptr) {
      std::string message;
      if (plans.empty()) {
        message = "the source holds no plan";
      } else if (plan_name.empty()) {
        message = fmt::format("the source holds {} plans ({}); choose one with plan_name", plans.size(), Quoted(names));
      } else {
        message = fmt::format("the source has no plan \"{}\" (it has {})", plan_name, Quoted(names));
      }
      compile->extra.push_back(Problem(file_name, std::move(message)));
      return finish();
    }

    const ::tariff::SourceFile& file = compile->sources.file(compile->file);
    ::tariff::LowerResult lowered = ::tariff::Lower(*checked.checked, *chosen, file);
    if (!lowered.ok()) {
      for (const std::string& e : lowered.errors) compile->extra.push_back(Problem(file_name, "internal error: " + e));
      return finish();
    }

    auto state = std::make_shared<PlanState>();
    state->compile = compile;
    state->function = std::move(lowered.function);
    state->schemas = ::tariff::SchemasOf(state->function);
    for (const ::tariff::EventSchema& s : state->schemas) state->events.push_back(InfoOf(s));
    for (const auto& [name, field] : chosen->subscription) state->subscription.push_back(SubscriptionInfo(name, field.type));
    result.plan = Plan(std::move(state));
    return finish();
  };

  // tariff.h promises that a bad plan never throws and that nothing but api::Error leaves the
  // library. An exception from inside the compiler is a bug in tariff, not a problem of the
  // plan: it becomes one internal-error diagnostic (no code, no position), and no plan.
  auto internal_failure = [&](std::string_view what) {
    compile->diagnostics.clear();
    compile->extra.assign({Problem(file_name, fmt::format("internal error: {}; this is a bug in tariff, please report "
                                                          "it with the plan that caused it",
                                                          what))});
    CompileResult result;
    result.diagnostics = compile->extra;
    result.state_ = compile;
    return result;
  };
  try {
    return compile_plan();
  } catch (const std::exception& e) {
    return internal_failure(e.what());
  } catch (...) {
    return internal_failure("an exception that is not a std::exception");
  }
}

const std::string& Plan::name() const { return state_->function.plan; }
const std::string& Plan::currency() const { return state_->function.currency; }
int Plan::minor_units() const { return state_->function.minor_units; }
const std::vector<EventInfo>& Plan::events() const { return state_->events; }
const std::vector<FieldInfo>& Plan::subscription() const { return state_->subscription; }
std::string Plan::DumpIr() const { return ir::Dump(state_->function); }

const EventInfo* Plan::FindEvent(std::string_view event_name) const {
  for (const EventInfo& e : state_->events) {
    if (e.name == event_name) return &e;
  }
  return nullptr;
}

int CompileResult::error_count() const {
  return static_cast<int>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                        [](const Diagnostic& d) { return d.severity == Severity::kError; }));
}

int CompileResult::warning_count() const {
  return static_cast<int>(diagnostics.size()) - error_count();
}

std::string CompileResult::RenderText(bool color) const {
  if (!state_) return {};
  std::ostringstream out;
  ::tariff::RenderText(state_->sources, state_->diagnostics, out, color);
  for (const Diagnostic& d : state_->extra) {
    out << fmt::format("{}{}:{} {}error{}: {}{}{}\n\n", color ? "\x1b[1m" : "", d.file, color ? "\x1b[0m" : "",
                       color ? "\x1b[1;31m" : "", color ? "\x1b[0m" : "", color ? "\x1b[1m" : "", d.message,
                       color ? "\x1b[0m" : "");
  }
  return out.str();
}

std::string CompileResult::RenderJson() const {
  if (!state_) return "[]\n";
  // The catalog's diagnostics exactly as `tariff check --format json` writes them; the problems
  // outside the catalog appended in the same shape (code null, position 0).
  std::ostringstream out;
  ::tariff::RenderJson(state_->sources, state_->diagnostics, out);
  if (state_->extra.empty()) return out.str();
  nlohmann::ordered_json all = nlohmann::ordered_json::parse(out.str());
  for (const Diagnostic& d : state_->extra) {
    all.push_back({{"code", nullptr}, {"severity", SeverityName(d.severity)}, {"message", d.message},
                   {"file", d.file}, {"line", 0}, {"column", 0}, {"end_line", 0}, {"end_column", 0},
                   {"notes", nlohmann::ordered_json::array()}, {"hint", nullptr}});
  }
  return all.dump(2) + "\n";
}

// ---- Usage batches ----------------------------------------------------------------------------

namespace {

// The field `name` of the batch's event, checked to take `type` and to have no column yet.
std::size_t FieldFor(BatchState& s, std::string_view name, FieldType type) {
  const EventInfo& event = *s.info;
  const FieldInfo* field = event.FindField(name);
  if (field == nullptr) {
    throw UsageError(fmt::format("event `{}` has no field `{}` (its fields: {})", event.name, name, FieldNames(event)));
  }
  if (field->type != type) {
    throw UsageError(fmt::format("field `{}` of event `{}` is {}; give it with {}, not as a {} column", name,
                                 event.name, Describe(*field), MethodFor(field->type), FieldTypeName(type)));
  }
  auto index = static_cast<std::size_t>(field - event.fields.data());
  if (s.present[index]) {
    throw UsageError(fmt::format("the batch already has a column for field `{}` (Clear it to refill it)", name));
  }
  return index;
}

// Checks that a column of `count` values fits the batch's rows.
void CheckRows(const BatchState& s, std::string_view field, std::size_t count) {
  if (s.has_rows && count != s.rows) {
    throw UsageError(fmt::format("column `{}` has {} value{}, but the batch has {} row{}", field, count,
                                 count == 1 ? "" : "s", s.rows, s.rows == 1 ? "" : "s"));
  }
}

// Marks the column present and, for the first column, sets the number of rows.
void Added(BatchState& s, std::size_t index, std::size_t count) {
  s.present[index] = 1;
  if (!s.has_rows) {
    s.has_rows = true;
    s.rows = count;
    s.batch.origins.assign(count, ::tariff::RowOrigin{});
    for (std::size_t i = 0; i < count; ++i) s.batch.origins[i].line = i + 1;
  }
}

}  // namespace

UsageBatch::UsageBatch(const Plan& plan, std::string_view event) : state_(std::make_unique<BatchState>()) {
  const PlanState& p = *plan.state_;
  const EventInfo* info = plan.FindEvent(event);
  if (info == nullptr) {
    std::vector<std::string> names;
    for (const EventInfo& e : p.events) names.push_back(e.name);
    throw UsageError(names.empty() ? fmt::format("plan \"{}\" reads no events (no event `{}`)", p.function.plan, event)
                                   : fmt::format("plan \"{}\" has no event `{}` (its events: {})", p.function.plan,
                                                 event, Listed(names)));
  }
  state_->plan = plan.state_;
  state_->info = info;
  state_->event = static_cast<int>(info - p.events.data());
  state_->batch.Reset(&p.schemas[static_cast<std::size_t>(state_->event)], state_->event);
  state_->present.assign(info->fields.size(), 0);
}

UsageBatch::~UsageBatch() = default;
UsageBatch::UsageBatch(UsageBatch&&) noexcept = default;
UsageBatch& UsageBatch::operator=(UsageBatch&&) noexcept = default;

const EventInfo& UsageBatch::event() const { return *state_->info; }
std::size_t UsageBatch::rows() const { return state_->rows; }

bool UsageBatch::complete() const {
  return std::all_of(state_->present.begin(), state_->present.end(), [](std::uint8_t p) { return p != 0; });
}

void UsageBatch::Clear() {
  BatchState& s = *state_;
  s.batch.Reset(s.batch.schema, s.event);
  std::fill(s.present.begin(), s.present.end(), 0);
  s.rows = 0;
  s.has_rows = false;
  s.bad.clear();
}

UsageBatch& UsageBatch::AddDecimalColumn(std::string_view field, const std::vector<std::string>& values) {
  BatchState& s = *state_;
  std::size_t index = FieldFor(s, field, FieldType::kDecimal);
  CheckRows(s, field, values.size());
  std::vector<::tariff::Decimal>& column = s.batch.columns[index].decimals;
  column.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    ::tariff::DecimalParseResult parsed = ::tariff::Decimal::Parse(values[i]);
    if (parsed.value) {
      column[i] = *parsed.value;
    } else {
      column[i] = ::tariff::Decimal();
      s.bad.push_back({i, static_cast<int>(index),
                       fmt::format("field `{}`: {} is not a number ({})", field, io_internal::Shown(values[i]), parsed.error)});
    }
  }
  Added(s, index, values.size());
  return *this;
}

UsageBatch& UsageBatch::AddDecimalColumn(std::string_view field, std::span<const std::int64_t> coefficients, int scale) {
  BatchState& s = *state_;
  std::size_t index = FieldFor(s, field, FieldType::kDecimal);
  CheckRows(s, field, coefficients.size());
  if (scale < 0 || scale > ::tariff::Decimal::kMaxScale) {
    throw UsageError(fmt::format("column `{}`: scale {} is outside 0..{}", field, scale, ::tariff::Decimal::kMaxScale));
  }
  std::vector<::tariff::Decimal>& column = s.batch.columns[index].decimals;
  column.resize(coefficients.size());
  for (std::size_t i = 0; i < coefficients.size(); ++i) column[i] = ::tariff::Decimal::FromParts(coefficients[i], scale);
  Added(s, index, coefficients.size());
  return *this;
}

UsageBatch& UsageBatch::AddTextColumn(std::string_view field, std::vector<std::string> values) {
  BatchState& s = *state_;
  std::size_t index = FieldFor(s, field, FieldType::kText);
  CheckRows(s, field, values.size());
  const ::tariff::EventSchema& schema = *s.batch.schema;
  const ::tariff::FieldSchema& f = schema.fields[index];
  const bool must_be_set = static_cast<int>(index) == schema.customer_field || static_cast<int>(index) == schema.key_field;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string& v = values[i];
    std::string reason;
    if (!f.enum_values.empty()) {
      if (std::find(f.enum_values.begin(), f.enum_values.end(), v) == f.enum_values.end()) {
        reason = fmt::format("field `{}`: {} is not one of {}", f.name, io_internal::Shown(v), Listed(f.enum_values));
      }
    } else if (std::size_t bad = 0; !io_internal::ValidUtf8(v, &bad)) {
      reason = fmt::format("field `{}`: {} is not valid UTF-8 (byte {})", f.name, io_internal::Shown(v), bad + 1);
    } else if (v.empty() && must_be_set) {
      reason = fmt::format("field `{}`: an empty {}", f.name,
                           static_cast<int>(index) == schema.customer_field ? "customer id" : "key");
    }
    if (!reason.empty()) s.bad.push_back({i, static_cast<int>(index), std::move(reason)});
  }
  s.batch.columns[index].texts = std::move(values);
  Added(s, index, s.batch.columns[index].texts.size());
  return *this;
}

UsageBatch& UsageBatch::AddBoolColumn(std::string_view field, std::span<const std::uint8_t> values) {
  BatchState& s = *state_;
  std::size_t index = FieldFor(s, field, FieldType::kBool);
  CheckRows(s, field, values.size());
  std::vector<std::uint8_t>& column = s.batch.columns[index].bools;
  column.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) column[i] = values[i] != 0 ? 1 : 0;
  Added(s, index, values.size());
  return *this;
}

UsageBatch& UsageBatch::AddTimestampColumn(std::string_view field, std::span<const std::int64_t> micros) {
  BatchState& s = *state_;
  std::size_t index = FieldFor(s, field, FieldType::kTimestamp);
  CheckRows(s, field, micros.size());
  s.batch.columns[index].times.assign(micros.begin(), micros.end());
  Added(s, index, micros.size());
  return *this;
}

UsageBatch& UsageBatch::AddTimestampTextColumn(std::string_view field, const std::vector<std::string>& values) {
  BatchState& s = *state_;
  std::size_t index = FieldFor(s, field, FieldType::kTimestamp);
  CheckRows(s, field, values.size());
  std::vector<std::int64_t>& column = s.batch.columns[index].times;
  column.resize(values.size());
  std::string why;
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::optional<std::int64_t> t = ::tariff::ParseTimestamp(values[i], &why);
    column[i] = t.value_or(0);
    if (!t) {
      s.bad.push_back({i, static_cast<int>(index),
                       fmt::format("field `{}`: {} is not an RFC 3339 timestamp ({})", field,
                                   io_internal::Shown(values[i]), why)});
    }
  }
  Added(s, index, values.size());
  return *this;
}

// ---- The rater --------------------------------------------------------------------------------

namespace {

void CheckUsable(const RaterState& s) {
  if (s.broken) throw UsageError("the rater stopped at a rating error and takes no more calls");
  if (s.finished) throw UsageError("the rater has finished (Finish was called) and takes no more rows");
}

std::string OutsidePeriodReason(const RaterState& s, const ::tariff::EventSchema& schema, std::int64_t t) {
  return fmt::format("field `{}`: `{}` is outside the period [{}, {})",
                     schema.fields[static_cast<std::size_t>(schema.time_field)].name, ::tariff::FormatTimestamp(t),
                     ::tariff::FormatTimestamp(*s.period_start), ::tariff::FormatTimestamp(*s.period_end));
}

// Records the key of row `row`; false when it was seen before (by this rater, in any batch).
bool FirstTimeSeen(RaterState& s, const ::tariff::Batch& batch, std::size_t row) {
  const ::tariff::EventSchema& schema = *batch.schema;
  const ::tariff::Column& column = batch.columns[static_cast<std::size_t>(schema.key_field)];
  s.key.clear();
  s.key += schema.name;
  s.key += '\0';
  switch (column.type) {
    case ::tariff::ColumnType::kText: s.key += column.texts[row]; break;
    case ::tariff::ColumnType::kDecimal: s.key += column.decimals[row].Normalized().ToString(); break;
    case ::tariff::ColumnType::kBool: s.key += column.bools[row] ? "true" : "false"; break;
    case ::tariff::ColumnType::kTimestamp: s.key += std::to_string(column.times[row]); break;
  }
  return s.seen_keys.insert(s.key).second;
}

// Runs `f` (which feeds or finishes the engine), turning the engine's errors, and any other
// exception from inside the library, into RatingError.
template <typename F>
auto Rating(RaterState& s, F&& f) {
  try {
    return f();
  } catch (const ::tariff::RatingError& e) {
    s.broken = true;
    ThrowRating(*s.plan, e.what(), e.source());
  } catch (const ::tariff::DecimalError& e) {
    s.broken = true;
    ThrowRating(*s.plan, e.what(), ::tariff::Span{});
  } catch (const Error&) {
    throw;  // the API's own (UsageError) pass as they are
  } catch (const std::exception& e) {
    // Anything else from inside is a bug in tariff; it still leaves as an api::Error.
    s.broken = true;
    ThrowRating(*s.plan, std::string("internal error: ") + e.what(), ::tariff::Span{});
  }
}

}  // namespace

Rater::Rater(const Plan& plan, RatingOptions options) {
  ::tariff::RatingOptions internal;
  std::optional<std::int64_t> start, end;
  if (!options.period_start.empty() || !options.period_end.empty()) {
    if (options.period_start.empty() || options.period_end.empty()) {
      throw UsageError("a period needs both period_start and period_end (or neither)");
    }
    std::string why;
    start = ::tariff::ParseTimestamp(options.period_start, &why);
    if (!start) throw UsageError(fmt::format("period_start `{}`: {}", options.period_start, why));
    end = ::tariff::ParseTimestamp(options.period_end, &why);
    if (!end) throw UsageError(fmt::format("period_end `{}`: {}", options.period_end, why));
    if (*end <= *start) {
      throw UsageError(fmt::format("the period {} .. {} ends before it starts", options.period_start, options.period_end));
    }
    internal.period_start = options.period_start;
    internal.period_end = options.period_end;
    internal.period_end_micros = end;
  }
  state_ = std::make_unique<RaterState>(plan.state_, plan, std::move(internal));
  state_->period_start = start;
  state_->period_end = end;
}

Rater::~Rater() = default;
Rater::Rater(Rater&&) noexcept = default;
Rater& Rater::operator=(Rater&&) noexcept = default;

const Plan& Rater::plan() const { return state_->public_plan; }

FeedResult Rater::Feed(const UsageBatch& usage) {
  RaterState& s = *state_;
  CheckUsable(s);
  const BatchState& b = *usage.state_;
  if (b.plan != s.plan) throw UsageError("the batch was made for another plan than this rater's");
  if (!usage.complete()) {
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < b.present.size(); ++i) {
      if (!b.present[i]) missing.push_back(b.info->fields[i].name);
    }
    throw UsageError(fmt::format("the `{}` batch has no column for {} (every field needs one)", b.info->name, Listed(missing)));
  }

  FeedResult result;
  const std::size_t n = b.rows;
  result.rows = n;
  const ::tariff::Batch& batch = b.batch;
  const ::tariff::EventSchema& schema = *batch.schema;
  const bool period = s.period_start.has_value();
  const bool keyed = schema.key_field >= 0;
  const bool windowed = !s.windows.empty();
  s.fed = true;

  const ::tariff::Batch* rated = &batch;
  if (!b.bad.empty() || period || keyed || windowed) {
    // One reason per rejected row: the first field's, whatever order the columns came in.
    std::vector<const BatchState::Bad*> bad;
    bad.reserve(b.bad.size());
    for (const BatchState::Bad& x : b.bad) bad.push_back(&x);
    std::sort(bad.begin(), bad.end(), [](const BatchState::Bad* x, const BatchState::Bad* y) {
      return x->row != y->row ? x->row < y->row : x->field < y->field;
    });
    std::vector<std::uint8_t> keep(n, 1);
    const std::vector<std::int64_t>& times = batch.columns[static_cast<std::size_t>(schema.time_field)].times;
    std::size_t next_bad = 0;
    for (std::size_t row = 0; row < n; ++row) {
      if (next_bad < bad.size() && bad[next_bad]->row == row) {
        result.rejects.push_back({row, bad[next_bad]->reason});
        while (next_bad < bad.size() && bad[next_bad]->row == row) ++next_bad;
        keep[row] = 0;
        continue;
      }
      if (period && (times[row] < *s.period_start || times[row] >= *s.period_end)) {
        result.rejects.push_back({row, OutsidePeriodReason(s, schema, times[row])});
        keep[row] = 0;
        continue;
      }
      if (windowed) {
        const std::string& customer = batch.columns[static_cast<std::size_t>(schema.customer_field)].texts[row];
        auto w = s.windows.find(customer);
        if (w != s.windows.end() && (times[row] < w->second.first || times[row] >= w->second.second)) {
          result.rejects.push_back({row, fmt::format("customer `{}` has no subscription in force at {}", customer,
                                                     ::tariff::FormatTimestamp(times[row]))});
          keep[row] = 0;
          continue;
        }
      }
      if (keyed && !FirstTimeSeen(s, batch, row)) {
        ++result.duplicates;
        keep[row] = 0;
      }
    }
    result.rejected = result.rejects.size();
    if (result.rejected + result.duplicates > 0) {
      // Only the rows to rate, in their order.
      ::tariff::Batch& kept = s.kept;
      kept.Reset(batch.schema, batch.event);
      for (std::size_t f = 0; f < batch.columns.size(); ++f) {
        const ::tariff::Column& from = batch.columns[f];
        ::tariff::Column& to = kept.columns[f];
        for (std::size_t row = 0; row < n; ++row) {
          if (!keep[row]) continue;
          switch (from.type) {
            case ::tariff::ColumnType::kDecimal: to.decimals.push_back(from.decimals[row]); break;
            case ::tariff::ColumnType::kText: to.texts.push_back(from.texts[row]); break;
            case ::tariff::ColumnType::kBool: to.bools.push_back(from.bools[row]); break;
            case ::tariff::ColumnType::kTimestamp: to.times.push_back(from.times[row]); break;
          }
        }
      }
      for (std::size_t row = 0; row < n; ++row) {
        if (keep[row]) kept.origins.push_back(batch.origins[row]);
      }
      rated = &kept;
    }
  }
  result.rated = n - result.rejected - result.duplicates;
  Rating(s, [&] { s.engine.Consume(*rated); });
  s.counts.received += n;
  s.counts.rated += result.rated;
  s.counts.rejected += result.rejected;
  s.counts.duplicates += result.duplicates;
  return result;
}

void Rater::SetSubscriptionDates(std::string_view customer, std::string_view start, std::string_view end) {
  RaterState& s = *state_;
  CheckUsable(s);
  if (customer.empty()) throw UsageError("SetSubscriptionDates: an empty customer id");
  if (s.fed) throw UsageError("SetSubscriptionDates: set subscriptions before the first Feed");
  if (!s.period_start) throw UsageError("SetSubscriptionDates: proration needs the rater's period (RatingOptions)");
  const ::tariff::ir::RatingFunction& fn = s.plan->function;
  const ::tariff::PlanSet plans{{&fn}, fn.plan};
  auto parse = [&](std::string_view text, std::int64_t open, const char* what) {
    if (text.empty()) return open;
    std::string why;
    auto t = ::tariff::ParsePlanTime(plans, std::string(text), &why);
    if (!t) throw UsageError(fmt::format("SetSubscriptionDates: {} `{}`: {}", what, text, why));
    return *t;
  };
  const std::int64_t from = std::max(parse(start, *s.period_start, "start"), *s.period_start);
  const std::int64_t until = std::min(parse(end, *s.period_end, "end"), *s.period_end);
  if (until < from) throw UsageError(fmt::format("SetSubscriptionDates: customer `{}`: the subscription is not in force in the period", customer));
  const std::string id(customer);
  s.windows[id] = {from, until};
  s.engine.AddCustomer(id);
  if (from != *s.period_start || until != *s.period_end) {
    try {
      s.engine.SetActive(id, ::tariff::ActivePeriodOf(fn, from, until, *s.period_start, *s.period_end));
    } catch (const ::tariff::BillingError& e) {
      throw UsageError(fmt::format("SetSubscriptionDates: {}", e.what()));
    }
  }
}

void Rater::AddCredit(std::string_view customer, std::string_view grant, std::string_view amount, std::string_view expires,
                      std::int64_t priority) {
  RaterState& s = *state_;
  CheckUsable(s);
  if (customer.empty() || grant.empty()) throw UsageError("AddCredit: an empty customer id or grant id");
  const ::tariff::ir::RatingFunction& fn = s.plan->function;
  ::tariff::CreditGrant g;
  g.customer = std::string(customer);
  g.id = std::string(grant);
  g.amount = ParseExact(std::string(amount), "AddCredit: the amount");
  if (g.amount.sign() < 0 || g.amount.Normalized().scale() > fn.minor_units) {
    throw UsageError(fmt::format("AddCredit: `{}` is not an amount of {} at or above zero with at most {} decimals", amount, fn.currency,
                                 fn.minor_units));
  }
  if (!expires.empty()) {
    std::string why;
    g.expires = ::tariff::ParsePlanTime(::tariff::PlanSet{{&fn}, fn.plan}, std::string(expires), &why);
    if (!g.expires) throw UsageError(fmt::format("AddCredit: expires `{}`: {}", expires, why));
  }
  g.priority = priority;
  g.origin = fmt::format("grant `{}`", grant);
  for (const ::tariff::CreditGrant& other : s.credits) {
    if (other.customer == g.customer && other.id == g.id) throw UsageError(fmt::format("AddCredit: customer `{}` has grant `{}` already", customer, grant));
  }
  s.credits.push_back(std::move(g));
}

void Rater::AddCustomer(std::string_view customer) {
  RaterState& s = *state_;
  CheckUsable(s);
  if (customer.empty()) throw UsageError("AddCustomer: an empty customer id");
  s.engine.AddCustomer(std::string(customer));
}

namespace {

const FieldInfo& SubscriptionField(const RaterState& s, std::string_view customer, std::string_view field,
                                   FieldType type) {
  CheckUsable(s);
  if (customer.empty()) throw UsageError("SetSubscription: an empty customer id");
  const std::vector<FieldInfo>& fields = s.plan->subscription;
  auto it = std::find_if(fields.begin(), fields.end(), [&](const FieldInfo& f) { return f.name == field; });
  if (it == fields.end()) {
    std::vector<std::string> names;
    for (const FieldInfo& f : fields) names.push_back(f.name);
    throw UsageError(names.empty() ? fmt::format("plan \"{}\" has no subscription fields (no `{}`)", s.plan->function.plan, field)
                                   : fmt::format("plan \"{}\" has no subscription field `{}` (its fields: {})",
                                                 s.plan->function.plan, field, Listed(names)));
  }
  if (it->type != type) {
    throw UsageError(fmt::format("subscription field `{}` is {}, not {}", field, Describe(*it), FieldTypeName(type)));
  }
  return *it;
}

}  // namespace

void Rater::SetSubscriptionDecimal(std::string_view customer, std::string_view field, std::string_view value) {
  RaterState& s = *state_;
  SubscriptionField(s, customer, field, FieldType::kDecimal);
  ::tariff::DecimalParseResult parsed = ::tariff::Decimal::Parse(value);
  if (!parsed.value) {
    throw UsageError(fmt::format("subscription field `{}`: `{}` is not a decimal ({})", field, value, parsed.error));
  }
  s.engine.SetSubscription(std::string(customer), std::string(field), *parsed.value);
}

void Rater::SetSubscriptionText(std::string_view customer, std::string_view field, std::string_view value) {
  RaterState& s = *state_;
  const FieldInfo& f = SubscriptionField(s, customer, field, FieldType::kText);
  if (!f.allowed_values.empty() &&
      std::find(f.allowed_values.begin(), f.allowed_values.end(), value) == f.allowed_values.end()) {
    throw UsageError(fmt::format("subscription field `{}`: `{}` is not one of {}", field, value, Listed(f.allowed_values)));
  }
  s.engine.SetSubscription(std::string(customer), std::string(field), std::string(value));
}

void Rater::SetSubscriptionBool(std::string_view customer, std::string_view field, bool value) {
  RaterState& s = *state_;
  SubscriptionField(s, customer, field, FieldType::kBool);
  s.engine.SetSubscription(std::string(customer), std::string(field), value);
}

std::vector<Invoice> Rater::Finish() {
  RaterState& s = *state_;
  CheckUsable(s);
  s.finished = true;
  std::vector<::tariff::Invoice> invoices = Rating(s, [&] { return s.engine.Finish(); });
  if (!s.credits.empty()) {
    for (::tariff::Invoice& invoice : invoices) {
      std::vector<const ::tariff::CreditGrant*> grants;
      for (const ::tariff::CreditGrant& g : s.credits) {
        if (g.customer == invoice.customer) grants.push_back(&g);
      }
      ::tariff::DrawCredits(invoice, std::move(grants), s.plan->function, s.period_start, false);
    }
  }
  std::vector<Invoice> out;
  out.reserve(invoices.size());
  for (const ::tariff::Invoice& invoice : invoices) out.push_back(ToPublic(invoice));
  return out;
}

RowCounts Rater::counts() const { return state_->counts; }

// ---- Invoices out -----------------------------------------------------------------------------

std::string FormatInvoices(std::span<const Invoice> invoices, InvoiceFormat format) {
  std::vector<::tariff::Invoice> internal;
  internal.reserve(invoices.size());
  for (const Invoice& invoice : invoices) internal.push_back(ToInternal(invoice));
  std::ostringstream out;
  switch (format) {
    case InvoiceFormat::kJsonLines: ::tariff::WriteInvoicesJsonl(internal, out); break;
    case InvoiceFormat::kCsv: ::tariff::WriteInvoicesCsv(internal, out); break;
    case InvoiceFormat::kTable: ::tariff::WriteInvoicesTable(internal, out); break;
  }
  return out.str();
}

}  // namespace tariff::api
