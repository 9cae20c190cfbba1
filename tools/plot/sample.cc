// tools/plot: sampling a charge with the rating engine. Each chart's function is the plan's
// rating function reduced to one charge, fed one customer per sampled quantity; the engine's
// invoices are the plotted amounts (docs/plot.md, "How the values are computed").
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/columnar/batch.h"
#include "runtime/exec/exec.h"
#include "runtime/invoice/invoice.h"
#include "runtime/units/unit.h"
#include "tools/plot/numbers.h"
#include "tools/plot/plot.h"

namespace tariff::plot {
namespace {

using ir::Op;
using Kind = ir::Charge::LineInput::Kind;

constexpr int kGridSteps = 200;      // 2^3 × 5^2: every grid quantity of a decimal range is a decimal
constexpr int kMaxPackageSteps = 400;
constexpr int kFineScale = 16;       // roundings carried this far for the price curves

// The value of a program's instruction as k·x + c in the plotted quantity x, when it is one
// (x read through `slots`, then multiplied, divided, offset by constants).
struct Linear {
  Fraction k, c;
};

std::optional<Fraction> ConstantOf(const ir::Program& p, std::int32_t i) {
  const ir::Inst& in = p.insts[static_cast<std::size_t>(i)];
  if (in.op != Op::kConst) return std::nullopt;
  const ir::Constant& c = p.constants[static_cast<std::size_t>(in.imm)];
  if (c.kind != ir::ValueKind::kDecimal) return std::nullopt;
  return c.fraction ? *c.fraction : Fraction(c.number);
}

std::optional<Linear> LinearOf(const ir::Program& p, std::int32_t i, const std::set<int>& slots, const Fraction& scale,
                               const std::set<std::int32_t>& sums = {}) {
  const ir::Inst& in = p.insts[static_cast<std::size_t>(i)];
  if (sums.count(i) != 0) return Linear{scale, Fraction(0)};  // the sum of the fields the chart is against
  switch (in.op) {
    case Op::kInput:
      if (slots.count(in.imm) != 0) return Linear{scale, Fraction(0)};
      return std::nullopt;
    case Op::kMul: case Op::kDiv: case Op::kAdd: case Op::kSub: {
      std::optional<Fraction> cb = ConstantOf(p, in.b), ca = ConstantOf(p, in.a);
      if (cb) {
        auto l = LinearOf(p, in.a, slots, scale, sums);
        if (!l || (in.op == Op::kDiv && cb->is_zero())) return std::nullopt;
        if (in.op == Op::kMul) return Linear{l->k * *cb, l->c * *cb};
        if (in.op == Op::kDiv) return Linear{Fraction::Quotient(l->k, *cb), Fraction::Quotient(l->c, *cb)};
        if (in.op == Op::kAdd) return Linear{l->k, l->c + *cb};
        return Linear{l->k, l->c - *cb};
      }
      if (ca && (in.op == Op::kMul || in.op == Op::kAdd)) {
        auto l = LinearOf(p, in.b, slots, scale, sums);
        if (!l) return std::nullopt;
        if (in.op == Op::kMul) return Linear{l->k * *ca, l->c * *ca};
        return Linear{l->k, l->c + *ca};
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// x where k·x + c = v.
Fraction Solve(const Linear& l, const Fraction& v) { return Fraction::Quotient(v - l.c, l.k); }

// The largest power of ten not above v (> 0), at most 10^-30 small.
Fraction PowerOfTenBelow(const Fraction& v) {
  Fraction p(1);
  int exponent = 0;
  while (p * Fraction(10) <= v) p = p * Fraction(10), ++exponent;
  while (p > v && exponent > -30) p = Fraction::Quotient(p, Fraction(10)), --exponent;
  return p;
}

// A quantity the engine can be fed: the value itself, or (when it has no finite decimal form)
// its value rounded down to 12 decimals, so that a bound stays on its own side.
Decimal Feedable(const Fraction& q) {
  if (auto d = q.ToDecimal()) return *d;
  return q.Round(12, RoundingMode::kFloor);
}

// What a chart's quantity is and how the engine is fed it.
struct Subject {
  enum class Source { kMeter, kSubscription, kEventField } source = Source::kMeter;
  std::set<int> slots;           // line input slots (meter, subscription) or the event field
  int meter_instance = -1;       // kMeter
  std::string field;             // kSubscription: the field; kEventField: its name
  int event_field = -1;          // kEventField
  std::string unit, label;
  Fraction scale = Fraction(1);  // the engine's value of one unit of the chart (GiB·s → 1024 s·MiB)
  std::set<std::int32_t> sums;   // instructions that add up the fields the chart is against
};

// The field whose values the price depends on (a matrix), when there is one.
struct Dimension {
  bool present = false;
  int event = -1, field = -1;    // the event field
  int group_index = -1;          // aggregate charges: its index in charge.group_fields
  std::vector<std::string> values;
  bool other_last = false;       // the last value stands for every value no `match` names
  std::string name;              // "message.model"
};

bool Reads(const ir::Program& p, int slot) {
  return std::any_of(p.insts.begin(), p.insts.end(), [&](const ir::Inst& in) { return in.op == Op::kInput && in.imm == slot; });
}

std::string List(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// True when the program reads the event fields `fields` (2 or more) only through their sum,
// written once or several times (`(order.items + order.shipping) * 6.5%`; a `match` whose arms
// each add them): then the amount is a function of that sum.
bool OnlySum(const ir::Program& p, const std::vector<int>& fields, std::set<std::int32_t>* sums) {
  auto is_field = [&](const ir::Inst& in) {
    return in.op == Op::kInput && std::find(fields.begin(), fields.end(), in.imm) != fields.end();
  };
  std::set<std::int32_t> covered, roots;
  for (std::size_t root = 0; root < p.insts.size(); ++root) {
    if (p.insts[root].op != Op::kAdd) continue;
    // The additions under `root`: a sum of the fields, each once?
    std::vector<std::int32_t> nodes, stack;
    stack.push_back(static_cast<std::int32_t>(root));
    std::vector<int> leaves;
    bool ok = true;
    while (!stack.empty() && ok) {
      const std::int32_t i = stack.back();
      stack.pop_back();
      const ir::Inst& in = p.insts[static_cast<std::size_t>(i)];
      nodes.push_back(i);
      if (in.op == Op::kAdd) {
        stack.push_back(in.a);
        stack.push_back(in.b);
      } else if (is_field(in)) {
        leaves.push_back(in.imm);
      } else {
        ok = false;
      }
    }
    std::sort(leaves.begin(), leaves.end());
    std::vector<int> wanted = fields;
    std::sort(wanted.begin(), wanted.end());
    if (!ok || leaves != wanted) continue;
    covered.insert(nodes.begin(), nodes.end());
    roots.insert(static_cast<std::int32_t>(root));
  }
  if (roots.empty()) return false;
  // Every read of a field is inside such a sum, and nothing else reads a part of one.
  for (std::size_t j = 0; j < p.insts.size(); ++j) {
    const ir::Inst& in = p.insts[j];
    const bool inside = covered.count(static_cast<std::int32_t>(j)) != 0;
    if (is_field(in) && !inside) return false;
    if (inside && roots.count(static_cast<std::int32_t>(j)) == 0 && in.op == Op::kAdd) continue;
    std::vector<std::int32_t> operands = in.args;
    if (in.a >= 0) operands.push_back(in.a);
    if (in.b >= 0) operands.push_back(in.b);
    for (std::int32_t o : operands) {
      if (covered.count(o) != 0 && roots.count(o) == 0 && !inside) return false;
    }
  }
  if (p.result >= 0 && covered.count(p.result) != 0 && roots.count(p.result) == 0) return false;
  *sums = roots;
  return true;
}

// The values a text input read through `slots` is told apart by, when the program reads it only
// as the subject of `match`es: every pattern, then (when a match has `else`) one value none names,
// with `*other` set. Empty when the input is read otherwise.
std::vector<std::string> MatchedValues(const ir::Program& p, const std::set<int>& slots, bool* other) {
  std::set<std::int32_t> inputs;
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    if (p.insts[i].op == Op::kInput && slots.count(p.insts[i].imm) != 0) inputs.insert(static_cast<std::int32_t>(i));
  }
  std::vector<std::string> values;
  bool has_else = false;
  for (const ir::Inst& in : p.insts) {
    std::vector<std::int32_t> operands = in.args;
    if (in.a >= 0) operands.push_back(in.a);
    if (in.b >= 0) operands.push_back(in.b);
    const bool reads = std::any_of(operands.begin(), operands.end(), [&](std::int32_t o) { return inputs.count(o) != 0; });
    if (!reads) continue;
    if (in.op != Op::kMatch || in.args.empty() || inputs.count(in.args.front()) == 0 ||
        std::any_of(in.args.begin() + 1, in.args.end(), [&](std::int32_t o) { return inputs.count(o) != 0; })) {
      return {};
    }
    for (const auto& patterns : p.match_tables[static_cast<std::size_t>(in.imm)].patterns) {
      if (patterns.empty()) has_else = true;
      for (const std::string& v : patterns) {
        if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
      }
    }
  }
  if (has_else && !values.empty()) {
    std::string none = "other";
    while (std::find(values.begin(), values.end(), none) != values.end()) none += "_";
    values.push_back(none);
    *other = true;
  }
  return values;
}

// Values of a `one of` or boolean field, for a dimension; empty for a field of any text.
std::vector<std::string> ValuesOf(const ir::Field& f) {
  if (!f.enum_values.empty()) return f.enum_values;
  if (f.kind == ir::ValueKind::kBool) return {"true", "false"};
  return {};
}

// The unit the plan writes the charge's prices in (`0.0000166667 USD per GiB·s` → `GiB·s`), from
// its tiers' prices or its rate; "" when it writes none.
std::string WrittenUnit(const ir::Charge& charge, const ir::Program& program) {
  std::vector<std::string> texts;
  for (const ir::TierTable& t : program.tier_tables) {
    for (const ir::TierSpec& tier : t.tiers) texts.push_back(tier.price_text);
  }
  texts.push_back(charge.price_text);
  for (const std::string& text : texts) {
    const auto per = text.find(" per ");
    if (per == std::string::npos) continue;
    std::string rest = text.substr(per + 5);
    if (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') {  // `per 1_000_000 invocation`
      const auto space = rest.find(' ');
      if (space == std::string::npos) continue;
      rest = rest.substr(space + 1);
    }
    return rest.substr(0, rest.find(' '));
  }
  return "";
}

// How many `to` one `from` is (GiB·s in s·MiB: 1024), when both are units of one dimension.
std::optional<Fraction> UnitsPer(const std::string& from, const std::string& to) {
  UnitCatalog catalog;
  for (const std::string& text : {from, to}) {
    std::string name;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      const bool separator = i == text.size() || text[i] == '*' || text[i] == '/' || text.compare(i, 2, "\xC2\xB7") == 0;
      if (!separator) {
        name += text[i];
        continue;
      }
      if (!name.empty() && !catalog.Lookup(name)) catalog.DeclareCount(name);
      name.clear();
      if (i < text.size() && text[i] == '\xC2') ++i;  // the two bytes of `·`
    }
  }
  const auto a = catalog.Parse(from), b = catalog.Parse(to);
  if (!a || !b) return std::nullopt;
  const auto factor = ConversionFactor(*a, *b);
  if (!factor) return std::nullopt;
  const auto num = factor->Numerator(), den = factor->Denominator();
  if (!num || !den) return std::nullopt;
  auto to_integer = [](uint128 v) {
    Fraction::Integer r = static_cast<std::uint64_t>(v >> 64);
    r <<= 64;
    r += static_cast<std::uint64_t>(v);
    return r;
  };
  return Fraction::Of(to_integer(*num), to_integer(*den));
}

// The engine's amounts for charge 0 of `fn`, one per quantity (and the dimension's value).
struct Feed {
  Subject subject;
  Dimension dimension;
  std::string dimension_value;
  int event = -1;  // the event rows are fed as (meter: the plot event; per event: the charge's)
};

std::string CustomerOf(std::size_t i) { return fmt::format("q{:07}", i); }

std::vector<ExactNumber> Rate(const ir::RatingFunction& fn, const Feed& feed, const std::vector<Decimal>& shown) {
  // Quantities in the engine's unit.
  std::vector<Decimal> quantities;
  for (const Decimal& q : shown) quantities.push_back(feed.subject.scale == Fraction(1) ? q : Feedable(Fraction(q) * feed.subject.scale));
  const std::vector<EventSchema> schemas = SchemasOf(fn);
  Engine engine(fn);
  if (feed.subject.source == Subject::Source::kSubscription) {
    for (std::size_t i = 0; i < quantities.size(); ++i) engine.SetSubscription(CustomerOf(i), feed.subject.field, quantities[i]);
  } else {
    const EventSchema& schema = schemas[static_cast<std::size_t>(feed.event)];
    Batch batch;
    batch.Reset(&schema, feed.event);
    const int quantity_field = feed.subject.source == Subject::Source::kMeter ? 2 : feed.subject.event_field;
    for (std::size_t i = 0; i < quantities.size(); ++i) {
      for (std::size_t f = 0; f < schema.fields.size(); ++f) {
        Column& c = batch.columns[f];
        const int fi = static_cast<int>(f);
        switch (c.type) {
          case ColumnType::kDecimal: c.decimals.push_back(fi == quantity_field ? quantities[i] : Decimal()); break;
          case ColumnType::kText: {
            std::string v;
            if (fi == schema.customer_field || fi == schema.key_field) v = CustomerOf(i);
            else if (feed.dimension.present && fi == feed.dimension.field) v = feed.dimension_value;
            else if (!schema.fields[f].enum_values.empty()) v = schema.fields[f].enum_values.front();
            c.texts.push_back(v);
            break;
          }
          case ColumnType::kBool:
            c.bools.push_back(feed.dimension.present && fi == feed.dimension.field && feed.dimension_value == "true" ? 1 : 0);
            break;
          case ColumnType::kTimestamp: c.times.push_back(0); break;
        }
      }
      batch.origins.push_back(RowOrigin{0, i + 1});
    }
    engine.Consume(batch);
  }
  std::vector<ExactNumber> out(quantities.size());
  for (const Invoice& inv : engine.Finish()) {
    const std::size_t i = std::stoul(inv.customer.substr(1));
    ExactNumber sum;
    for (const InvoiceLine& l : inv.lines) {
      if (l.name == fn.charges.front().name) sum = sum + ExactNumber(l.amount);
    }
    if (i < out.size()) out[i] = sum;
  }
  return out;
}

// The plan's function reduced to charge `c` alone, fed through `feed`: for a meter, a plot event
// whose one row per customer makes the meter's value the sampled quantity.
ir::RatingFunction Reduce(const ir::RatingFunction& fn, std::size_t c, Feed& feed) {
  ir::RatingFunction out;
  out.plan = fn.plan;
  out.currency = fn.currency;
  out.minor_units = fn.minor_units;
  out.rounding = fn.rounding;
  out.period = fn.period;
  out.subscription = fn.subscription;
  out.version = fn.version;
  ir::Charge charge = fn.charges[c];
  charge.allocation.reset();
  if (charge.per_event) {
    out.events = fn.events;
    charge.filter = ir::Program{};
    charge.free_events.reset();
    charge.free_amount.reset();
    charge.free_amount_field = -1;
    feed.event = charge.event;
  } else if (feed.subject.source == Subject::Source::kMeter) {
    const ir::MeterInstance& meter = fn.meters[static_cast<std::size_t>(feed.subject.meter_instance)];
    ir::Event e;
    e.name = "plot";
    e.fields.push_back({"customer", ir::ValueKind::kText, "", {}});
    e.fields.push_back({"time", ir::ValueKind::kTimestamp, "", {}});
    e.fields.push_back({"quantity", ir::ValueKind::kDecimal, meter.unit, {}});
    e.customer_field = 0;
    e.time_field = 1;
    ir::MeterInstance m;
    m.meter = meter.meter;
    m.event = 0;
    m.aggregation = ir::Aggregation::kSum;
    m.unit = meter.unit;
    m.source = meter.source;
    ir::Inst input;
    input.op = Op::kInput;
    input.type = {ir::ValueKind::kDecimal, meter.unit};
    input.imm = 2;
    m.value.insts.push_back(input);
    m.value.result = 0;
    // The grouping fields (a matrix's dimension among them), copied after the quantity.
    std::vector<int> groups;
    for (int g : charge.group_fields) {
      const ir::Field& f = fn.events[static_cast<std::size_t>(charge.event)].fields[static_cast<std::size_t>(g)];
      if (feed.dimension.present && g == feed.dimension.field) feed.dimension.field = static_cast<int>(e.fields.size());
      groups.push_back(static_cast<int>(e.fields.size()));
      e.fields.push_back(f);
    }
    m.group_fields = groups;
    out.events.push_back(std::move(e));
    out.meters.push_back(std::move(m));
    if (!charge.group_fields.empty()) charge.event = 0;
    charge.group_fields = groups;
    for (auto& in : charge.line_inputs) {
      if (in.kind == Kind::kMeter) in.meter_instance = 0;
    }
    feed.event = 0;
  }
  out.charges.push_back(std::move(charge));
  return out;
}

// The same function with the charge's roundings carried to kFineScale decimals.
ir::RatingFunction Fine(ir::RatingFunction fn) {
  for (ir::Charge& charge : fn.charges) {
    charge.rounding.scale = std::max(charge.rounding.scale, kFineScale);
    for (ir::Program* p : {&charge.line, &charge.amount}) {
      for (ir::Inst& in : p->insts) {
        if (in.op == Op::kRound) in.scale = std::max(in.scale, kFineScale);
      }
    }
  }
  fn.rounding.scale = std::max(fn.rounding.scale, kFineScale);
  return fn;
}

}  // namespace

// 1234567.5 → "1,234,567.5".
std::string Grouped(const std::string& number) {
  std::string sign, digits = number, rest;
  if (!digits.empty() && digits[0] == '-') sign = "-", digits = digits.substr(1);
  if (auto dot = digits.find('.'); dot != std::string::npos) rest = digits.substr(dot), digits = digits.substr(0, dot);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return sign + out + rest;
}

std::string ShowQuantity(const Fraction& q) {
  const ExactNumber n = ExactNumber::Of(q);
  if (n.is_decimal()) return Grouped(n.decimal().Normalized().ToString());
  return "≈ " + Grouped(n.Round(6, RoundingMode::kHalfEven).Normalized().ToString());  // no finite decimal form
}

// The smallest of 1, 2, 2.5, 5 × 10^n that is at least `v` (> 0).
Fraction Nice(const Fraction& v) {
  Fraction p(1);
  while (p < v) p = p * Fraction(10);
  while (Fraction::Quotient(p, Fraction(10)) >= v) p = Fraction::Quotient(p, Fraction(10));
  // v in (p/10, p]
  const Fraction tenth = Fraction::Quotient(p, Fraction(10));
  for (const Fraction& m : {Fraction(1), Fraction(2), Fraction::Quotient(Fraction(5), Fraction(2)), Fraction(5), Fraction(10)}) {
    if (tenth * m >= v) return tenth * m;
  }
  return p;
}

double ToDouble(const ExactNumber& n) { return std::strtod(n.Shown().ToString().c_str(), nullptr); }

PlotSet SamplePlan(const ir::RatingFunction& fn, const PlotOptions& options) {
  PlotSet set;
  set.plan = fn.plan;
  set.version = fn.version;
  bool found = options.charge.empty();
  for (std::size_t c = 0; c < fn.charges.size(); ++c) {
    const ir::Charge& charge = fn.charges[c];
    if (!options.charge.empty() && charge.name != options.charge) continue;
    found = true;
    auto skip = [&](std::string why) { set.skipped.push_back({charge.name, std::move(why)}); };
    Feed feed;
    Subject& subject = feed.subject;
    Dimension& dim = feed.dimension;
    const ir::Program& program = charge.per_event ? charge.amount : charge.line;
    std::vector<std::string> notes;

    if (charge.per_event) {
      const ir::Event& event = fn.events[static_cast<std::size_t>(charge.event)];
      std::vector<int> numbers, others;
      for (const ir::Inst& in : program.insts) {
        if (in.op != Op::kInput || in.imm == event.customer_field || in.imm == event.time_field) continue;
        std::vector<int>& into = in.type.kind == ir::ValueKind::kDecimal ? numbers : others;
        if (std::find(into.begin(), into.end(), in.imm) == into.end()) into.push_back(in.imm);
      }
      auto name_of = [&](int f) { return event.name + "." + event.fields[static_cast<std::size_t>(f)].name; };
      if (numbers.empty()) {
        skip("a per-event charge whose amount reads no number of the event: the same amount for every event");
        continue;
      }
      std::string sum_label;  // `order.items + order.shipping` when the amount reads only their sum
      if (numbers.size() > 1 && OnlySum(program, numbers, &subject.sums)) {
        for (int f : numbers) sum_label += (sum_label.empty() ? "" : " + ") + name_of(f);
        notes.push_back(fmt::format("against the sum {}: the amount depends on the fields only through it", sum_label));
        numbers.erase(numbers.begin() + 1, numbers.end());  // fed the whole sum, the other fields 0
      }
      if (numbers.size() > 1) {
        std::vector<std::string> names;
        for (int f : numbers) names.push_back("`" + name_of(f) + "`");
        skip(fmt::format("its amount per event depends on {} fields ({}); a chart against one of them would hide the others",
                         numbers.size(), List(names)));
        continue;
      }
      if (others.size() > 1) {
        skip("its amount per event depends on more than one text or boolean field");
        continue;
      }
      if (others.size() == 1) {
        const ir::Field& f = event.fields[static_cast<std::size_t>(others.front())];
        dim.values = ValuesOf(f);
        if (dim.values.empty()) dim.values = MatchedValues(program, {others.front()}, &dim.other_last);
        if (dim.values.empty()) {
          skip(fmt::format("its amount depends on `{}`, a text field with no fixed set of values (read otherwise than by a `match`)", name_of(others.front())));
          continue;
        }
        dim.present = true;
        dim.event = charge.event;
        dim.field = others.front();
        dim.name = name_of(others.front());
      }
      subject.source = Subject::Source::kEventField;
      subject.event_field = numbers.front();
      subject.slots = {numbers.front()};
      subject.unit = event.fields[static_cast<std::size_t>(numbers.front())].unit;
      subject.label = sum_label.empty() ? name_of(numbers.front()) : sum_label;
      if (!charge.filter.empty()) notes.push_back("the amount of one event the charge applies to (its `where` is not drawn)");
      if (charge.free_events) notes.push_back(fmt::format("the first {} events are free (not drawn)", charge.free_events->ToString()));
    } else {
      std::set<int> meters;
      std::set<int> meter_slots, subscription_slots, group_slots;
      for (std::size_t s = 0; s < charge.line_inputs.size(); ++s) {
        const auto& in = charge.line_inputs[s];
        if (!Reads(program, static_cast<int>(s))) continue;
        if (in.kind == Kind::kMeter) meters.insert(in.meter_instance), meter_slots.insert(static_cast<int>(s));
        if (in.kind == Kind::kSubscription) subscription_slots.insert(static_cast<int>(s));
        if (in.kind == Kind::kGroupValue) group_slots.insert(static_cast<int>(s));
      }
      std::set<std::string> meter_names;
      for (int m : meters) meter_names.insert(fn.meters[static_cast<std::size_t>(m)].meter);
      if (meter_names.size() + subscription_slots.size() == 0) {
        skip(charge.recurring ? "a recurring fee: the same amount at any usage" : "its amount reads no quantity");
        continue;
      }
      if (meters.size() + subscription_slots.size() > 1) {
        std::vector<std::string> names;
        for (const auto& m : meter_names) names.push_back("`" + m + "`");
        for (int s : subscription_slots) names.push_back("`subscription." + charge.line_inputs[static_cast<std::size_t>(s)].field + "`");
        skip(fmt::format("its amount depends on {} quantities ({}); a chart against one of them would hide the others", names.size(),
                         List(names)));
        continue;
      }
      if (!meters.empty()) {
        const ir::MeterInstance& m = fn.meters[static_cast<std::size_t>(*meters.begin())];
        subject.source = Subject::Source::kMeter;
        subject.meter_instance = *meters.begin();
        subject.slots = meter_slots;
        subject.unit = m.unit;
        subject.label = m.meter;
      } else {
        const auto& in = charge.line_inputs[static_cast<std::size_t>(*subscription_slots.begin())];
        if (in.value_kind != ir::ValueKind::kDecimal) {
          skip(fmt::format("its amount depends on `subscription.{}`, which is not a number", in.field));
          continue;
        }
        subject.source = Subject::Source::kSubscription;
        subject.slots = subscription_slots;
        subject.field = in.field;
        for (const ir::Field& f : fn.subscription) {
          if (f.name == in.field) subject.unit = f.unit;
        }
        subject.label = "subscription." + in.field;
      }
      if (!group_slots.empty()) {
        std::set<int> indices;
        for (int s : group_slots) indices.insert(charge.line_inputs[static_cast<std::size_t>(s)].group_index);
        const ir::Event& event = fn.events[static_cast<std::size_t>(charge.event)];
        if (indices.size() > 1 || subject.source != Subject::Source::kMeter) {
          skip("its price depends on more than one field it is grouped by");
          continue;
        }
        const int field = charge.group_fields[static_cast<std::size_t>(*indices.begin())];
        dim.values = ValuesOf(event.fields[static_cast<std::size_t>(field)]);
        dim.name = event.name + "." + event.fields[static_cast<std::size_t>(field)].name;
        if (dim.values.empty()) dim.values = MatchedValues(program, group_slots, &dim.other_last);
        if (dim.values.empty()) {
          skip(fmt::format("its price depends on `{}`, a text field with no fixed set of values (read otherwise than by a `match`)", dim.name));
          continue;
        }
        dim.present = true;
        dim.event = charge.event;
        dim.field = field;
        dim.group_index = *indices.begin();
      } else if (!charge.group_fields.empty()) {
        std::vector<std::string> names;
        const ir::Event& event = fn.events[static_cast<std::size_t>(charge.event)];
        for (int g : charge.group_fields) names.push_back("`" + event.name + "." + event.fields[static_cast<std::size_t>(g)].name + "`");
        notes.push_back(fmt::format("a line for each value of {}, each priced alike", List(names)));
      }
      if (charge.allocation) notes.push_back(fmt::format("the amount before it is allocated by `{}`", charge.allocation->dimension));
    }
    // Shown in the unit the plan writes its prices in, when that is another unit of the quantity's
    // dimension (Lambda's tiers in GiB·s over a meter in s·MiB).
    if (const std::string written = WrittenUnit(charge, program); !written.empty() && written != subject.unit && !subject.unit.empty()) {
      if (auto per = UnitsPer(written, subject.unit)) {
        subject.scale = *per;
        subject.unit = written;
      }
    }
    if (subject.unit.empty()) subject.unit = "unit";

    // Marks and package boundaries, from the program's tier tables, allowances and packages.
    Chart chart;
    chart.charge = charge.name;
    chart.currency = fn.currency;
    chart.unit = subject.unit;
    chart.quantity_label = subject.label;
    chart.notes = notes;
    std::vector<std::pair<Fraction, Fraction>> packages;  // (x at package count 0, x per package)
    std::string kind;
    std::optional<Fraction> limit;  // `beyond: error`: rating stops past this quantity
    for (std::size_t i = 0; i < program.insts.size(); ++i) {
      const ir::Inst& in = program.insts[i];
      if (in.op == Op::kTiers) {
        const ir::TierTable& table = program.tier_tables[static_cast<std::size_t>(in.imm)];
        if (kind.empty()) kind = table.graduated ? "graduated tiers" : "volume tiers";
        auto l = LinearOf(program, in.a, subject.slots, subject.scale, subject.sums);
        if (!l || l->k.sign() <= 0) continue;
        Fraction start(0);
        for (std::size_t t = 0; t < table.tiers.size(); ++t) {
          const ir::TierSpec& tier = table.tiers[t];
          std::optional<Fraction> bound;
          if (tier.up_to) bound = tier.up_to->exact();
          else if (t + 1 == table.tiers.size() && table.last_bound && table.beyond != ir::Beyond::kAbove) bound = table.last_bound->exact();
          if (tier.package && tier.package->sign() > 0) {
            packages.push_back({Solve(*l, start), Fraction::Quotient(tier.package->exact(), l->k)});
          }
          if (!bound) continue;
          const Fraction x = Solve(*l, *bound);
          const bool last = t + 1 == table.tiers.size();
          if (last && table.beyond == ir::Beyond::kError) limit = limit ? std::min(*limit, x) : x;
          chart.marks.push_back({Mark::Kind::kTierBound, ExactNumber::Of(x),
                                 fmt::format("{} {}", last ? (table.beyond == ir::Beyond::kError ? "limit" : "last bound") : "up to",
                                             ShowQuantity(x))});
          start = *bound;
        }
      } else if (in.op == Op::kPackages || in.op == Op::kCeilStep) {
        auto l = LinearOf(program, in.a, subject.slots, subject.scale, subject.sums);
        // Through an allowance: max(x - included, 0).
        if (!l && program.insts[static_cast<std::size_t>(in.a)].op == Op::kClampZero) {
          l = LinearOf(program, program.insts[static_cast<std::size_t>(in.a)].a, subject.slots, subject.scale, subject.sums);
        }
        auto size = ConstantOf(program, in.b);
        if (kind.empty()) kind = "per started package";
        if (l && size && l->k.sign() > 0 && size->sign() > 0) packages.push_back({Solve(*l, Fraction(0)), Fraction::Quotient(*size, l->k)});
      } else if (in.op == Op::kMin || in.op == Op::kMax) {
        // min(k·x + c, CAP): capped from where k·x + c reaches CAP; max(…, FLOOR): the floor until then.
        auto l = LinearOf(program, in.a, subject.slots, subject.scale, subject.sums);
        auto bound = ConstantOf(program, in.b);
        if (!l || !bound) l = LinearOf(program, in.b, subject.slots, subject.scale, subject.sums), bound = ConstantOf(program, in.a);
        if (l && bound && l->k.sign() > 0) {
          const Fraction x = Solve(*l, *bound);
          if (x.sign() > 0) {
            chart.marks.push_back({Mark::Kind::kLimit, ExactNumber::Of(x),
                                   fmt::format("{} {}", in.op == Op::kMin ? "cap from" : "minimum up to", ShowQuantity(x))});
          }
        }
      } else if (in.op == Op::kClampZero) {
        auto l = LinearOf(program, in.a, subject.slots, subject.scale, subject.sums);
        if (l && l->k.sign() > 0 && l->c.sign() < 0) {
          const Fraction x = Solve(*l, Fraction(0));
          chart.marks.push_back({Mark::Kind::kAllowance, ExactNumber::Of(x), fmt::format("included {}", ShowQuantity(x))});
        }
      }
    }
    const bool allowance = std::any_of(chart.marks.begin(), chart.marks.end(), [](const Mark& m) { return m.kind == Mark::Kind::kAllowance; });
    if (kind.empty()) {
      kind = charge.per_event ? "per event" : subject.source == Subject::Source::kSubscription ? "per unit (subscription)" : "per unit";
      if (allowance) kind += " past an allowance";
    }
    else if (charge.per_event) kind += ", per event";
    chart.kind = kind;
    std::sort(chart.marks.begin(), chart.marks.end(), [](const Mark& a, const Mark& b) { return a.quantity < b.quantity; });
    chart.marks.erase(std::unique(chart.marks.begin(), chart.marks.end(),
                                  [](const Mark& a, const Mark& b) { return a.quantity == b.quantity; }),
                      chart.marks.end());

    if (limit) chart.notes.push_back(fmt::format("rating stops past {} {} (`beyond: error`)", ShowQuantity(*limit), subject.unit));
    if (!packages.empty()) {
      chart.notes.push_back(fmt::format("the amount steps up with each started package of {} {}; between steps one more unit costs nothing (marginal price 0)",
                                        ShowQuantity(packages.front().second), subject.unit));
    }
    Feed base = feed;
    const ir::RatingFunction reduced = Reduce(fn, c, base);
    const ir::RatingFunction fine = Fine(reduced);

    // The range.
    Fraction low(0), high(0);
    if (options.low && options.high) {
      low = *options.low;
      high = *options.high;
    } else {
      Fraction top(0);
      for (const Mark& m : chart.marks) top = std::max(top, m.quantity.exact());
      Fraction candidate = top * Fraction::Quotient(Fraction(3), Fraction(2));
      for (const auto& [from, step] : packages) candidate = std::max(candidate, std::max(from, Fraction(0)) + step * Fraction(10));
      if (candidate.sign() <= 0) {
        // No tiers: as far as an amount of 1000 (per event: 100) in the currency.
        const std::vector<ExactNumber> one = Rate(fine, base.dimension.present ? Feed{base.subject, base.dimension, base.dimension.values.front(), base.event} : base,
                                                  {Decimal(1)});
        const Fraction per_unit = one.front().exact();
        candidate = per_unit.sign() > 0 ? Fraction::Quotient(Fraction(charge.per_event ? 100 : 1000), per_unit) : Fraction(100);
      }
      high = Nice(candidate);
      if (limit && *limit < high) high = *limit;  // past it the engine would stop: end the chart there
    }
    const Fraction span = high - low;
    const Fraction epsilon = PowerOfTenBelow(Fraction::Quotient(span, Fraction(10000000)));

    std::map<Fraction, bool> planned;  // quantity → sampled just past a step
    for (int i = 0; i <= kGridSteps; ++i) {
      planned.emplace(low + Fraction::Quotient(span * Fraction(i), Fraction(kGridSteps)), false);
    }
    auto both_sides = [&](const Fraction& x) {
      if (x < low || x >= high) return;
      planned.emplace(Feedable(x), false);
      planned[x + epsilon] = true;
    };
    for (const Mark& m : chart.marks) both_sides(m.quantity.exact());
    for (const auto& [from, step] : packages) {
      if (step.sign() <= 0) continue;
      // Boundaries from + n·step inside the range.
      const Fraction first = std::max(Fraction(0), Fraction::Quotient(low - from, step).Floor());
      const Fraction last = Fraction::Quotient(high - from, step).Ceil();
      if (last - first > Fraction(kMaxPackageSteps)) continue;
      for (Fraction n = first; n <= last; n += Fraction(1)) both_sides(from + n * step);
    }
    std::vector<Decimal> quantities;
    std::vector<bool> sides;
    for (const auto& [q, side] : planned) {
      quantities.push_back(Feedable(q));
      sides.push_back(side);
    }

    std::vector<std::string> values = dim.present ? dim.values : std::vector<std::string>{""};
    for (const std::string& value : values) {
      Feed f = base;
      f.dimension_value = value;
      const std::vector<ExactNumber> amounts = Rate(reduced, f, quantities);
      const std::vector<ExactNumber> fines = Rate(fine, f, quantities);
      Chart one = chart;
      if (dim.present) {
        one.dimension = dim.other_last && value == dim.values.back() ? fmt::format("{}: any other value", dim.name)
                                                                    : fmt::format("{} = \"{}\"", dim.name, value);
      }
      for (std::size_t i = 0; i < quantities.size(); ++i) {
        one.samples.push_back({ExactNumber(quantities[i]), amounts[i].is_decimal() ? amounts[i].decimal() : amounts[i].Shown(), fines[i],
                               sides[i]});
      }
      set.charts.push_back(std::move(one));
    }
  }
  if (!found) {
    std::vector<std::string> names;
    for (const ir::Charge& ch : fn.charges) names.push_back("\"" + ch.name + "\"");
    throw std::invalid_argument(fmt::format("plan \"{}\" has no charge \"{}\" (charges: {})", fn.plan, options.charge, List(names)));
  }
  return set;
}

}  // namespace tariff::plot
