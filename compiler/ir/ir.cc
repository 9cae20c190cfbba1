// compiler/ir: names, the dump and the verifier.
#include "compiler/ir/ir.h"

#include <fmt/format.h>

namespace tariff::ir {

const char* OpName(Op op) {
  switch (op) {
    case Op::kInput: return "input";
    case Op::kConst: return "const";
    case Op::kAdd: return "add";
    case Op::kSub: return "sub";
    case Op::kMul: return "mul";
    case Op::kDiv: return "div";
    case Op::kNeg: return "neg";
    case Op::kEq: return "eq";
    case Op::kNe: return "ne";
    case Op::kLt: return "lt";
    case Op::kLe: return "le";
    case Op::kGt: return "gt";
    case Op::kGe: return "ge";
    case Op::kAnd: return "and";
    case Op::kOr: return "or";
    case Op::kNot: return "not";
    case Op::kMin: return "min";
    case Op::kMax: return "max";
    case Op::kCeilStep: return "ceil_step";
    case Op::kFloorStep: return "floor_step";
    case Op::kPackages: return "packages";
    case Op::kMatch: return "match";
    case Op::kTiers: return "tiers";
    case Op::kRound: return "round";
    case Op::kClampZero: return "clamp_zero";
  }
  return "?";
}

const char* ProrationBasisName(ProrationBasis basis) {
  switch (basis) {
    case ProrationBasis::kNone: return "none";
    case ProrationBasis::kDay: return "day";
    case ProrationBasis::kSecond: return "second";
    case ProrationBasis::kThirtyDayMonth: return "thirty_day_month";
  }
  return "?";
}

const char* AggregationName(Aggregation aggregation) {
  switch (aggregation) {
    case Aggregation::kCount: return "count";
    case Aggregation::kCountDistinct: return "count_distinct";
    case Aggregation::kSum: return "sum";
    case Aggregation::kMin: return "min";
    case Aggregation::kMax: return "max";
    case Aggregation::kLatest: return "latest";
    case Aggregation::kAverage: return "average";
    case Aggregation::kTimeWeightedAverage: return "time_weighted_average";
    case Aggregation::kIntegral: return "integral";
  }
  return "?";
}

namespace {

const char* KindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kDecimal: return "decimal";
    case ValueKind::kBool: return "bool";
    case ValueKind::kText: return "text";
    case ValueKind::kTimestamp: return "timestamp";
  }
  return "?";
}

std::string TypeText(const ValueType& t) {
  return t.unit.empty() ? KindName(t.kind) : fmt::format("{}[{}]", KindName(t.kind), t.unit);
}

void DumpProgram(const Program& p, const std::string& indent, std::string& out) {
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    const Inst& in = p.insts[i];
    std::string line = fmt::format("{}%{} = {} {}", indent, i, OpName(in.op), TypeText(in.type));
    switch (in.op) {
      case Op::kInput: line += fmt::format(" slot {}", in.imm); break;
      case Op::kConst: {
        const Constant& c = p.constants[static_cast<std::size_t>(in.imm)];
        if (c.kind == ValueKind::kText) line += fmt::format(" \"{}\"", c.text);
        else if (c.kind == ValueKind::kBool) line += c.boolean ? " true" : " false";
        else line += " " + (c.fraction ? c.fraction->ToString() : c.number.ToString());
        break;
      }
      case Op::kMatch: {
        const MatchTable& t = p.match_tables[static_cast<std::size_t>(in.imm)];
        line += fmt::format(" %{}", in.args[0]);
        for (std::size_t arm = 0; arm < t.patterns.size(); ++arm) {
          std::string pats;
          for (const auto& s : t.patterns[arm]) pats += (pats.empty() ? "\"" : ", \"") + s + "\"";
          line += fmt::format(" [{}: %{}]", pats.empty() ? "else" : pats, in.args[arm + 1]);
        }
        break;
      }
      case Op::kTiers: {
        const TierTable& t = p.tier_tables[static_cast<std::size_t>(in.imm)];
        line += fmt::format(" %{} {}{}", in.a, t.graduated ? "graduated" : "volume", t.flat_at_zero ? "" : " no_flat_at_zero");
        for (const TierSpec& s : t.tiers) {
          line += fmt::format(" [{} {}]", s.up_to ? "up_to " + s.up_to->ToString() : std::string("above"), s.price_text);
        }
        if (t.beyond != Beyond::kAbove && t.last_bound) {
          line += fmt::format(" beyond {} {}", t.last_bound->ToString(), t.beyond == Beyond::kError ? "error" : "last_price");
        }
        break;
      }
      case Op::kRound:
        line += fmt::format(" %{}", in.a);
        if (in.b >= 0) line += fmt::format(" %{}", in.b);
        line += fmt::format(" scale {} {}", in.scale, RoundingModeName(in.mode));
        break;
      default:
        if (in.a >= 0) line += fmt::format(" %{}", in.a);
        if (in.b >= 0) line += fmt::format(" %{}", in.b);
    }
    out += line + "\n";
  }
  out += fmt::format("{}yield %{}\n", indent, p.result);
}

const char* PointName(RoundingRule::Point p) {
  switch (p) {
    case RoundingRule::Point::kEvent: return "event";
    case RoundingRule::Point::kLine: return "line";
    case RoundingRule::Point::kInvoice: return "invoice";
  }
  return "?";
}

void VerifyProgram(const Program& p, std::size_t slots, const std::string& where, std::vector<std::string>& problems) {
  auto fail = [&](std::size_t i, const std::string& what) {
    problems.push_back(fmt::format("{}: %{}: {}", where, i, what));
  };
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    const Inst& in = p.insts[i];
    auto operand = [&](std::int32_t v, const char* name) {
      if (v < 0 || static_cast<std::size_t>(v) >= i) fail(i, fmt::format("operand {} is not defined before use", name));
    };
    switch (in.op) {
      case Op::kInput:
        if (in.imm < 0 || static_cast<std::size_t>(in.imm) >= slots) fail(i, "input slot out of range");
        break;
      case Op::kConst:
        if (in.imm < 0 || static_cast<std::size_t>(in.imm) >= p.constants.size()) fail(i, "constant out of range");
        break;
      case Op::kNeg: case Op::kNot: case Op::kRound: case Op::kClampZero:
        operand(in.a, "a");
        break;
      case Op::kTiers:
        operand(in.a, "a");
        if (in.imm < 0 || static_cast<std::size_t>(in.imm) >= p.tier_tables.size()) fail(i, "tier table out of range");
        break;
      case Op::kMatch:
        if (in.imm < 0 || static_cast<std::size_t>(in.imm) >= p.match_tables.size()) {
          fail(i, "match table out of range");
        } else if (in.args.size() != p.match_tables[static_cast<std::size_t>(in.imm)].patterns.size() + 1) {
          fail(i, "match arms and values differ in number");
        }
        for (std::int32_t v : in.args) operand(v, "arm");
        break;
      default:
        operand(in.a, "a");
        operand(in.b, "b");
    }
    bool logical = in.op == Op::kAnd || in.op == Op::kOr || in.op == Op::kNot;
    if (logical && in.type.kind != ValueKind::kBool) fail(i, "logic yields a non-boolean");
    if (in.op == Op::kRound && (in.scale < 0 || in.scale > Decimal::kMaxScale)) fail(i, "rounding scale out of range");
  }
  if (!p.insts.empty() && (p.result < 0 || static_cast<std::size_t>(p.result) >= p.insts.size())) {
    problems.push_back(where + ": result is not an instruction");
  }
}

}  // namespace

std::string Dump(const RatingFunction& f) {
  std::string out = fmt::format("plan \"{}\" currency {} minor_units {} rounding {} scale {} per {}\n", f.plan,
                                f.currency, f.minor_units, RoundingModeName(f.rounding.mode), f.rounding.scale,
                                PointName(f.rounding.point));
  const char* lengths[] = {"month", "quarter", "year", "day"};
  out += fmt::format("period {} {} anchor \"{}\" timezone \"{}\"", f.period.count, lengths[static_cast<int>(f.period.length)],
                     f.period.anchor, f.period.time_zone);
  if (!f.version.empty()) out += fmt::format(" version {}", f.version);
  if (!f.effective.empty()) out += fmt::format(" effective {}", f.effective);
  out += fmt::format(" on_change {}", f.split_on_change ? "split" : "next_period");
  if (f.change_proration == RatingFunction::ChangeProration::kNone) out += " on_change_prorate none";
  if (f.change_proration == RatingFunction::ChangeProration::kNow) out += " on_change_prorate now";
  if (f.threshold) out += fmt::format(" invoice_when_usage_reaches {}", f.threshold->ToString());
  if (!f.credit_order.empty()) {
    out += " credits";
    for (const auto& o : f.credit_order) out += " " + o;
  }
  out += "\n";
  for (const Event& e : f.events) {
    out += fmt::format("event {}", e.name);
    for (const Field& field : e.fields) {
      out += fmt::format(" {}:{}", field.name, TypeText({field.kind, field.unit}));
    }
    out += "\n";
  }
  for (std::size_t i = 0; i < f.meters.size(); ++i) {
    const MeterInstance& m = f.meters[i];
    out += fmt::format("meter #{} {} = {} over {}", i, m.meter, AggregationName(m.aggregation),
                       f.events[static_cast<std::size_t>(m.event)].name);
    for (int g : m.group_fields) out += " by " + f.events[static_cast<std::size_t>(m.event)].fields[static_cast<std::size_t>(g)].name;
    out += fmt::format(" unit \"{}\"\n", m.unit);
    if (!m.filter.empty()) {
      out += "  filter:\n";
      DumpProgram(m.filter, "    ", out);
    }
    if (!m.value.empty()) {
      out += "  value:\n";
      DumpProgram(m.value, "    ", out);
    }
  }
  for (const Charge& c : f.charges) {
    out += fmt::format("charge \"{}\" {} rounding {} scale {} per {}", c.name, c.per_event ? "per_event" : "aggregate",
                       RoundingModeName(c.rounding.mode), c.rounding.scale, PointName(c.rounding.point));
    if (c.proration != ProrationBasis::kNone) out += fmt::format(" prorated by {}", ProrationBasisName(c.proration));
    for (const auto& g : c.group_names) out += " by " + g;
    if (c.allocation) out += fmt::format(" allocated by {} in proportion to meter #{}", c.allocation->dimension, c.allocation->meter_instance);
    out += "\n";
    if (c.per_event) {
      if (!c.filter.empty()) {
        out += "  filter:\n";
        DumpProgram(c.filter, "    ", out);
      }
      out += "  amount:\n";
      DumpProgram(c.amount, "    ", out);
      if (c.free_events) out += fmt::format("  free first {} events\n", c.free_events->ToString());
      if (c.free_amount) out += fmt::format("  free first {} of field {}\n", c.free_amount->ToString(), c.free_amount_field);
    } else {
      for (std::size_t s = 0; s < c.line_inputs.size(); ++s) {
        const auto& in = c.line_inputs[s];
        switch (in.kind) {
          case Charge::LineInput::Kind::kMeter: out += fmt::format("  slot {} = meter #{}\n", s, in.meter_instance); break;
          case Charge::LineInput::Kind::kGroupValue: out += fmt::format("  slot {} = group value {}\n", s, in.group_index); break;
          case Charge::LineInput::Kind::kSubscription: out += fmt::format("  slot {} = subscription.{}\n", s, in.field); break;
          case Charge::LineInput::Kind::kActive: out += fmt::format("  slot {} = active {}s\n", s, ProrationBasisName(in.basis)); break;
          case Charge::LineInput::Kind::kLength: out += fmt::format("  slot {} = period {}s\n", s, ProrationBasisName(in.basis)); break;
        }
      }
      out += "  line:\n";
      DumpProgram(c.line, "    ", out);
    }
  }
  for (const Adjustment& a : f.adjustments) {
    const char* kinds[] = {"percent_discount", "fixed_discount", "minimum", "maximum"};
    out += fmt::format("adjustment {} {}", kinds[static_cast<int>(a.kind)], a.amount.ToString());
    for (const auto& c : a.charges) out += fmt::format(" on \"{}\"", c);
    if (a.proration != ProrationBasis::kNone) out += fmt::format(" prorated by {}", ProrationBasisName(a.proration));
    out += "\n";
  }
  for (const Subtotal& st : f.subtotals) {
    out += fmt::format("subtotal \"{}\" of", st.name);
    for (std::size_t i = 0; i < st.parts.size(); ++i) out += fmt::format("{} \"{}\"", i == 0 ? "" : ",", st.parts[i]);
    out += "\n";
  }
  return out;
}

std::vector<std::string> Verify(const RatingFunction& f) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < f.meters.size(); ++i) {
    const MeterInstance& m = f.meters[i];
    if (m.event < 0 || static_cast<std::size_t>(m.event) >= f.events.size()) {
      problems.push_back(fmt::format("meter #{}: no such event", i));
      continue;
    }
    std::size_t fields = f.events[static_cast<std::size_t>(m.event)].fields.size();
    VerifyProgram(m.filter, fields, fmt::format("meter #{} filter", i), problems);
    VerifyProgram(m.value, fields, fmt::format("meter #{} value", i), problems);
    if (m.aggregation != Aggregation::kCount && m.value.empty()) problems.push_back(fmt::format("meter #{}: no value", i));
  }
  for (const Charge& c : f.charges) {
    if (c.per_event) {
      if (c.event < 0 || static_cast<std::size_t>(c.event) >= f.events.size()) {
        problems.push_back(fmt::format("charge \"{}\": no such event", c.name));
        continue;
      }
      std::size_t fields = f.events[static_cast<std::size_t>(c.event)].fields.size();
      VerifyProgram(c.filter, fields, fmt::format("charge \"{}\" filter", c.name), problems);
      VerifyProgram(c.amount, fields, fmt::format("charge \"{}\" amount", c.name), problems);
      if (c.amount.empty()) problems.push_back(fmt::format("charge \"{}\": no amount", c.name));
    } else {
      VerifyProgram(c.line, c.line_inputs.size(), fmt::format("charge \"{}\" line", c.name), problems);
      if (c.line.empty()) problems.push_back(fmt::format("charge \"{}\": no line program", c.name));
      for (const auto& in : c.line_inputs) {
        if (in.kind == Charge::LineInput::Kind::kMeter &&
            (in.meter_instance < 0 || static_cast<std::size_t>(in.meter_instance) >= f.meters.size())) {
          problems.push_back(fmt::format("charge \"{}\": meter instance out of range", c.name));
        }
      }
    }
  }
  return problems;
}

}  // namespace tariff::ir
