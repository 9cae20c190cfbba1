// compiler/lower: checked AST → IR. Expressions become straight-line programs; units are
// converted by explicit instructions; every rounding the plan declares becomes a `round`.
#include "compiler/lower/lower.h"

#include <algorithm>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "compiler/sema/units_adapter.h"

namespace tariff {
namespace {

using ast::BinaryOp;
using ast::LiteralKind;

struct LowerError {
  std::string message;
};

ir::Aggregation ToIr(Aggregation a) {
  switch (a) {
    case Aggregation::kCount: return ir::Aggregation::kCount;
    case Aggregation::kCountDistinct: return ir::Aggregation::kCountDistinct;
    case Aggregation::kSum: return ir::Aggregation::kSum;
    case Aggregation::kMin: return ir::Aggregation::kMin;
    case Aggregation::kMax: return ir::Aggregation::kMax;
    case Aggregation::kLatest: return ir::Aggregation::kLatest;
    case Aggregation::kAverage: return ir::Aggregation::kAverage;
    case Aggregation::kTimeWeightedAverage: return ir::Aggregation::kTimeWeightedAverage;
    case Aggregation::kIntegral: return ir::Aggregation::kIntegral;
  }
  return ir::Aggregation::kCount;
}

ir::ValueKind KindOf(TypeKind k) {
  switch (k) {
    case TypeKind::kBool: return ir::ValueKind::kBool;
    case TypeKind::kText:
    case TypeKind::kId:
    case TypeKind::kEnum: return ir::ValueKind::kText;
    case TypeKind::kTimestamp: return ir::ValueKind::kTimestamp;
    default: return ir::ValueKind::kDecimal;
  }
}

std::string UnitText(const Type& t) {
  switch (t.kind) {
    case TypeKind::kQuantity: return UnitName(*t.unit);
    case TypeKind::kMoney: return t.currency;
    case TypeKind::kRate: return fmt::format("{} per {}", t.currency, UnitName(*t.unit));
    case TypeKind::kPercent: return "fraction";
    default: return "";
  }
}

ir::ValueType VType(const Type& t) { return {KindOf(t.kind), UnitText(t)}; }

// Source text on one line: every run of white space (line breaks included) becomes one space.
// (A comment inside a multi-line pricing stays in the text as written.)
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The exact factor of a unit conversion (`from.scale / to.scale`), from its prime exponents, so
// that no factor is too wide to hold (PB·PB·PB is 10^45).
Fraction FactorOf(const UnitScale& scale) {
  Fraction::Integer numerator = 1, denominator = 1;
  for (std::size_t i = 0; i < UnitScale::kPrimes.size(); ++i) {
    const int e = scale.exponents()[i];
    for (int k = 0; k < (e < 0 ? -e : e); ++k) (e < 0 ? denominator : numerator) *= UnitScale::kPrimes[i];
  }
  return Fraction::Of(numerator, denominator);
}

// An integer part of a factor as a constant: a Decimal when it fits (always, for one built-in
// unit), else the exact integer.
ir::Number IntegerNumber(const Fraction::Integer& v) { return ir::Number::Of(Fraction::Of(v, 1)); }

// Where an expression is lowered: over the rows of one event, or over invoice lines.
struct Stage {
  bool line = false;
  int event = -1;                                   // event stage: the event
  const ir::Event* event_info = nullptr;
  ir::Charge* charge = nullptr;                     // line stage: slots are added here
  std::function<int(const std::string& meter)> meter_instance;  // line stage
  std::optional<Decimal> included;                  // line stage: allowance on the meter
  std::optional<Unit> included_unit;
  Span included_span;                               // the `included Q` option
};

class Lowerer {
 public:
  Lowerer(const CheckedFile& checked, const CheckedPlan& plan, const SourceFile& source)
      : checked_(checked), plan_(plan), source_(source) {}

  ir::RatingFunction Run() {
    fn_.plan = plan_.plan->name.value;
    fn_.currency = plan_.currency;
    fn_.minor_units = plan_.minor_units;
    fn_.rounding = DefaultRounding();
    if (plan_.plan->version) fn_.version = plan_.plan->version->ToString();
    if (plan_.plan->effective) fn_.effective = plan_.plan->effective->text;
    fn_.credit_order = {"expiry", "priority"};
    for (const ast::PlanItem& item : plan_.plan->items) {
      if (const auto* d = std::get_if<ast::RoundingDecl>(&item.kind)) fn_.rounding = Rounding(d->spec);
      if (const auto* d = std::get_if<ast::ProrationDecl>(&item.kind)) {
        proration_ = Basis(d->spec);
        proration_span_ = d->span;
      }
      if (const auto* d = std::get_if<ast::PeriodDecl>(&item.kind)) fn_.period = Period(*d);
      if (const auto* d = std::get_if<ast::ChangeDecl>(&item.kind)) fn_.split_on_change = d->policy.has_value();
      if (const auto* d = std::get_if<ast::ProrateDecl>(&item.kind)) {
        fn_.change_proration = d->behavior.text == "none"  ? ir::RatingFunction::ChangeProration::kNone
                               : d->behavior.text == "now" ? ir::RatingFunction::ChangeProration::kNow
                                                           : ir::RatingFunction::ChangeProration::kNextInvoice;
      }
      if (const auto* d = std::get_if<ast::ThresholdDecl>(&item.kind)) {
        fn_.threshold = DecimalLiteral(*d->amount);
        fn_.threshold_source = d->span;
      }
      if (const auto* d = std::get_if<ast::CreditsDecl>(&item.kind)) {
        fn_.credit_order.clear();
        for (const ast::Name& n : d->order) fn_.credit_order.push_back(n.text);
      }
    }
    for (const auto& [name, info] : plan_.subscription) {
      ir::Field f;
      f.name = name;
      f.kind = KindOf(info.type.kind);
      if (info.type.kind == TypeKind::kQuantity) f.unit = UnitText(info.type);
      if (info.type.kind == TypeKind::kMoney) f.unit = info.type.currency;
      f.enum_values = info.type.values;
      fn_.subscription.push_back(std::move(f));
    }
    // Events in declaration order, fields in declaration order after `customer` and `time`.
    for (const ast::PlanItem& item : plan_.plan->items) {
      if (const auto* d = std::get_if<ast::EventDecl>(&item.kind)) AddEvent(*d);
    }
    for (const ast::PlanItem& item : plan_.plan->items) {
      if (const auto* d = std::get_if<ast::ChargeDecl>(&item.kind)) AddCharge(*d);
    }
    // A charge rounded `per invoice` keeps its line exact, so the invoice total must be rounded
    // (with a Rounding line) even when the plan rounds per line or per event; otherwise the
    // total would keep the line's extra decimals (tests/golden/rate/round_charge_per_invoice).
    // The total is rounded with the plan's mode and scale.
    for (const ir::Charge& c : fn_.charges) {
      if (c.rounding.point == ir::RoundingRule::Point::kInvoice) fn_.rounding.point = ir::RoundingRule::Point::kInvoice;
    }
    for (const ast::PlanItem& item : plan_.plan->items) {
      if (const auto* d = std::get_if<ast::DiscountDecl>(&item.kind)) AddDiscount(*d);
      if (const auto* d = std::get_if<ast::LimitDecl>(&item.kind)) AddLimit(*d);
      if (const auto* d = std::get_if<ast::SubtotalDecl>(&item.kind)) {
        ir::Subtotal st;
        st.name = d->name.value;
        for (const ast::StringLit& p : d->parts) st.parts.push_back(p.value);
        st.source = d->span;
        fn_.subtotals.push_back(std::move(st));
      }
    }
    return std::move(fn_);
  }

 private:
  [[noreturn]] void Fail(Span span, const std::string& what) {
    LineColumn lc = source_.At(span.begin);
    throw LowerError{fmt::format("{}:{}:{}: {}", source_.path(), lc.line, lc.column, what)};
  }

  const Type& TypeOf(const ast::Node& n) const { return checked_.types[static_cast<std::size_t>(n.id.index)]; }
  std::string_view Text(Span s) const { return std::string_view(source_.text()).substr(s.begin, s.end - s.begin); }

  static ir::ProrationBasis Basis(const ast::ProrationSpec& spec) {
    if (!spec.prorated) return ir::ProrationBasis::kNone;
    if (spec.basis.text == "day") return ir::ProrationBasis::kDay;
    if (spec.basis.text == "thirty_day_month") return ir::ProrationBasis::kThirtyDayMonth;
    return ir::ProrationBasis::kSecond;
  }

  static ir::PeriodSpec Period(const ast::PeriodDecl& d) {
    ir::PeriodSpec p;
    const std::string& l = d.length.text;
    if (l == "quarter" || l == "quarters") p.length = ir::PeriodSpec::Length::kQuarter;
    else if (l == "year" || l == "years") p.length = ir::PeriodSpec::Length::kYear;
    else if (l == "day" || l == "days") p.length = ir::PeriodSpec::Length::kDays;
    else if (l == "week" || l == "weeks") p.length = ir::PeriodSpec::Length::kDays;
    else p.length = ir::PeriodSpec::Length::kMonth;
    int count = d.count ? static_cast<int>(d.count->coefficient()) : 1;
    if (l == "week" || l == "weeks") count *= 7;
    if (l == "quarter" || l == "quarters") count = 1;
    p.count = count;
    if (d.anchor) p.anchor = d.anchor->text;
    if (d.timezone) p.time_zone = d.timezone->value;
    return p;
  }

  ir::RoundingRule DefaultRounding() const {
    ir::RoundingRule r;
    r.scale = plan_.minor_units;
    r.source = plan_.plan->name.span;
    return r;
  }

  ir::RoundingRule Rounding(const ast::RoundingSpec& spec) const {
    ir::RoundingRule r;
    r.mode = ParseRoundingMode(spec.mode.text).value_or(RoundingMode::kHalfEven);
    r.scale = spec.decimals.value_or(plan_.minor_units);
    r.point = spec.point == ast::RoundingPoint::kEvent   ? ir::RoundingRule::Point::kEvent
              : spec.point == ast::RoundingPoint::kLine ? ir::RoundingRule::Point::kLine
                                                        : ir::RoundingRule::Point::kInvoice;
    r.source = spec.span;
    return r;
  }

  void AddEvent(const ast::EventDecl& d) {
    auto info = plan_.events.find(d.name.text);
    if (info == plan_.events.end()) return;
    ir::Event e;
    e.name = d.name.text;
    auto add = [&](const std::string& name, const Type& t) {
      ir::Field f;
      f.name = name;
      f.kind = KindOf(t.kind);
      if (t.kind == TypeKind::kQuantity) f.unit = UnitName(*t.unit);
      if (t.kind == TypeKind::kMoney) f.unit = t.currency;
      f.enum_values = t.values;
      e.fields.push_back(std::move(f));
    };
    add("customer", info->second.fields.at("customer").type);
    add("time", info->second.fields.at("time").type);
    e.customer_field = 0;
    e.time_field = 1;
    for (const ast::FieldDecl& f : d.fields) {
      auto fi = info->second.fields.find(f.name.text);
      if (fi == info->second.fields.end() || fi->second.decl != &f) continue;  // a duplicate
      add(f.name.text, fi->second.type);
      if (d.key && d.key->text == f.name.text) e.key_field = static_cast<int>(e.fields.size() - 1);
    }
    event_index_[e.name] = static_cast<int>(fn_.events.size());
    event_types_.push_back(&info->second);
    fn_.events.push_back(std::move(e));
  }

  int EventIndex(const std::string& name, Span span) {
    auto it = event_index_.find(name);
    if (it == event_index_.end()) Fail(span, fmt::format("internal: event `{}` was not lowered", name));
    return it->second;
  }

  // ---- expressions --------------------------------------------------------------------------

  std::int32_t Emit(ir::Program& p, ir::Inst inst) {
    p.insts.push_back(std::move(inst));
    return static_cast<std::int32_t>(p.insts.size() - 1);
  }

  std::int32_t Const(ir::Program& p, const ir::Number& value, const std::string& unit, Span span) {
    ir::Constant c;
    if (value.is_decimal()) c.number = value.decimal();
    else c.fraction = value.exact();
    p.constants.push_back(c);
    ir::Inst in;
    in.op = ir::Op::kConst;
    in.type = {ir::ValueKind::kDecimal, unit};
    in.imm = static_cast<std::int32_t>(p.constants.size() - 1);
    in.source = span;
    return Emit(p, in);
  }

  std::int32_t Binary(ir::Program& p, ir::Op op, std::int32_t a, std::int32_t b, ir::ValueType type, Span span) {
    ir::Inst in;
    in.op = op;
    in.a = a;
    in.b = b;
    in.type = std::move(type);
    in.source = span;
    return Emit(p, in);
  }

  // The exact factor that turns a value in `from` into `to` (1 `from` = factor `to`).
  Fraction Factor(const Unit& from, const Unit& to, Span span) {
    std::optional<UnitScale> factor = ConversionFactor(from, to);
    if (!factor) Fail(span, fmt::format("internal: cannot convert {} to {}", UnitName(from), UnitName(to)));
    return FactorOf(*factor);
  }

  // `v` (in `from`) expressed in `to`: multiply by the factor's numerator, divide by its
  // denominator (an exact `div`: a value that divides evenly stays a Decimal, one that does not
  // is carried as a fraction). Nothing is emitted when the units are the same scale.
  std::int32_t Convert(ir::Program& p, std::int32_t v, const Unit& from, const Unit& to, Span span) {
    return Scale(p, v, Factor(from, to, span), {ir::ValueKind::kDecimal, UnitName(to)}, span);
  }

  // `v` × `factor`, as a multiplication by its numerator and a division by its denominator,
  // typed `type`; `v` itself when the factor is 1.
  std::int32_t Scale(ir::Program& p, std::int32_t v, const Fraction& factor, ir::ValueType type, Span span) {
    const Fraction::Integer num = factor.numerator(), den = factor.denominator();
    if (num != 1) v = Binary(p, ir::Op::kMul, v, Const(p, IntegerNumber(num), "", span), type, span);
    if (den != 1) v = Binary(p, ir::Op::kDiv, v, Const(p, IntegerNumber(den), "", span), type, span);
    if (num == 1 && den == 1) return v;
    p.insts[static_cast<std::size_t>(v)].type = std::move(type);
    return v;
  }

  // `value` in `from`, exactly in `to`.
  ir::Number ConvertNumber(const Decimal& value, const Unit& from, const Unit& to, Span span) {
    Conversion c = tariff::Convert(value, from, to);
    if (c.ok()) return *c.value;
    return ir::Number::Of(Fraction(value) * Factor(from, to, span));
  }

  // A literal quantity or money amount, exactly, in `unit` (when given and a quantity).
  ir::Number LiteralIn(const ast::Expr& e, const std::optional<Unit>& unit) {
    const auto* lit = std::get_if<ast::Literal>(&e.kind);
    if (lit == nullptr) Fail(e.span, "internal: expected a literal");
    const Type& t = TypeOf(e);
    if (t.kind == TypeKind::kQuantity && unit) return ConvertNumber(lit->number, *t.unit, *unit, e.span);
    // A percentage as a fraction of one, at the literal's scale + 2 (+ 4 for basis points).
    if (lit->kind == LiteralKind::kPercent || lit->kind == LiteralKind::kBasisPoints) {
      const int digits = lit->kind == LiteralKind::kPercent ? 2 : 4;
      const Fraction f = Fraction::Quotient(lit->number, Decimal(lit->kind == LiteralKind::kPercent ? 100 : 10000));
      if (std::optional<Decimal> d = f.ToDecimal(lit->number.scale() + digits)) return *d;
      return ir::Number::Of(f);
    }
    return lit->number;
  }

  // A literal that is a plain decimal, money or percentage: always a Decimal.
  Decimal DecimalLiteral(const ast::Expr& e) {
    ir::Number n = LiteralIn(e, std::nullopt);
    if (!n.is_decimal()) Fail(e.span, fmt::format("internal: `{}` is not a decimal", Text(e.span)));
    return n.decimal();
  }

  // A rate literal as money per one unit of `unit` (which must have the rate's dimension), or
  // for `per started N` a package: size in `unit` and the price per package.
  struct RateValue {
    ir::Number unit_price;               // when not a package
    std::optional<ir::Number> package;   // block size in `unit`
    Decimal package_price;
  };
  RateValue RateIn(const ast::Expr& e, const Unit& unit) {
    const auto* lit = std::get_if<ast::Literal>(&e.kind);
    const Type& t = TypeOf(e);
    if (lit == nullptr || lit->kind != LiteralKind::kRate) Fail(e.span, "internal: expected a rate literal");
    Decimal per = lit->per.value_or(Decimal(1));
    RateValue r;
    if (lit->per_started) {
      r.package = ConvertNumber(per, *t.unit, unit, e.span);
      r.package_price = lit->number;
      return r;
    }
    // price ÷ per is the price of one rate unit; one `unit` is factor(unit → rate unit) of them.
    // One exact fraction; a Decimal when it terminates (at the price's own scale or more, as
    // Decimal division gives it: `0.40 USD per widget` stays 0.40).
    Conversion one = tariff::Convert(Decimal(1), unit, *t.unit);
    Decimal numerator, quotient;
    if (one.ok() && Decimal::TryMultiply(lit->number, *one.value, &numerator) && Decimal::TryDivideExact(numerator, per, &quotient)) {
      r.unit_price = quotient;
    } else {
      r.unit_price = ir::Number::Of(Fraction::Quotient(lit->number, per) * Factor(unit, *t.unit, e.span));
    }
    return r;
  }

  std::int32_t Lower(ir::Program& p, const ast::Expr& e, Stage& stage) {
    return std::visit([&](const auto& k) { return LowerKind(p, e, k, stage); }, e.kind);
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::Literal& lit, Stage&) {
    const Type& t = TypeOf(e);
    ir::Constant c;
    switch (lit.kind) {
      case LiteralKind::kString:
        c.kind = ir::ValueKind::kText;
        c.text = lit.text;
        break;
      case LiteralKind::kBool:
        c.kind = ir::ValueKind::kBool;
        c.boolean = lit.bool_value;
        break;
      case LiteralKind::kDateTime:
        Fail(e.span, "a date cannot be used in a price");
      case LiteralKind::kRate: {
        // A rate used as a value on its own (e.g. a `match` arm): money per one rate unit.
        RateValue r = RateIn(e, *t.unit);
        if (r.package) Fail(e.span, "a `per started` package price can only multiply a quantity directly");
        return Const(p, r.unit_price, UnitText(t), e.span);
      }
      default:
        return Const(p, LiteralIn(e, t.kind == TypeKind::kQuantity ? t.unit : std::nullopt), UnitText(t), e.span);
    }
    p.constants.push_back(c);
    ir::Inst in;
    in.op = ir::Op::kConst;
    in.type = VType(t);
    in.imm = static_cast<std::int32_t>(p.constants.size() - 1);
    in.source = e.span;
    return Emit(p, in);
  }

  std::int32_t Input(ir::Program& p, int slot, ir::ValueType type, Span span) {
    ir::Inst in;
    in.op = ir::Op::kInput;
    in.imm = slot;
    in.type = std::move(type);
    in.source = span;
    return Emit(p, in);
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::NameRef& n, Stage& stage) {
    if (!stage.line) Fail(e.span, fmt::format("internal: `{}` read per event", n.name.text));
    auto meter = plan_.meters.find(n.name.text);
    if (meter == plan_.meters.end()) Fail(e.span, fmt::format("internal: `{}` is no meter", n.name.text));
    ir::Charge::LineInput input;
    input.kind = ir::Charge::LineInput::Kind::kMeter;
    input.meter_instance = stage.meter_instance(n.name.text);
    stage.charge->line_inputs.push_back(input);
    int slot = static_cast<int>(stage.charge->line_inputs.size() - 1);
    const Type& t = meter->second.type;
    std::int32_t v = Input(p, slot, VType(t), e.span);
    if (stage.charge->quantity_input < 0) {
      stage.charge->quantity_input = slot;
      stage.charge->quantity_unit = UnitText(t);
    }
    if (stage.included) {
      ir::Number allowance = *stage.included;
      if (stage.included_unit && t.kind == TypeKind::kQuantity) {
        allowance = ConvertNumber(*stage.included, *stage.included_unit, *t.unit, e.span);
      }
      // The allowance's instructions implement the `included Q` option (where explain points).
      const Span at = stage.included_span.end > stage.included_span.begin ? stage.included_span : e.span;
      const std::int32_t allowance_const = Const(p, allowance, UnitText(t), at);
      stage.charge->included_consts.push_back(allowance_const);
      std::int32_t sub = Binary(p, ir::Op::kSub, v, allowance_const, VType(t), at);
      ir::Inst clamp;
      clamp.op = ir::Op::kClampZero;
      clamp.a = sub;
      clamp.type = VType(t);
      clamp.source = at;
      v = Emit(p, clamp);
    }
    return v;
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::Member& m, Stage& stage) {
    const auto* base = std::get_if<ast::NameRef>(&m.object->kind);
    if (base == nullptr) Fail(e.span, "internal: member of an expression");
    const Type& t = TypeOf(e);
    if (base->name.text == "subscription") {
      if (!stage.line) Fail(e.span, "a per-event charge reads no subscription value yet (TODO: issue 5, subscriptions)");
      ir::Charge::LineInput input;
      input.kind = ir::Charge::LineInput::Kind::kSubscription;
      input.field = m.member.text;
      input.value_kind = KindOf(t.kind);
      stage.charge->line_inputs.push_back(input);
      int slot = static_cast<int>(stage.charge->line_inputs.size() - 1);
      if (stage.charge->quantity_input < 0 && t.kind == TypeKind::kQuantity) {
        stage.charge->quantity_input = slot;
        stage.charge->quantity_unit = UnitText(t);
      }
      return Input(p, slot, VType(t), e.span);
    }
    if (!stage.line) {
      int field = stage.event_info->FieldIndex(m.member.text);
      if (field < 0) Fail(e.span, "internal: unknown field");
      return Input(p, field, VType(t), e.span);
    }
    // Line stage: a field the charge is grouped by.
    ir::Charge& c = *stage.charge;
    for (std::size_t g = 0; g < c.group_names.size(); ++g) {
      if (c.group_names[g] == fmt::format("{}.{}", base->name.text, m.member.text)) {
        ir::Charge::LineInput input;
        input.kind = ir::Charge::LineInput::Kind::kGroupValue;
        input.group_index = static_cast<int>(g);
        c.line_inputs.push_back(input);
        return Input(p, static_cast<int>(c.line_inputs.size() - 1), VType(t), e.span);
      }
    }
    Fail(e.span, "internal: event field in a charge that is not grouped by it");
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::Call& call, Stage& stage) {
    const std::string& f = call.callee.text;
    const Type& t = TypeOf(e);
    if ((f == "min" || f == "max") && call.args.size() == 2) {
      std::int32_t a = Lower(p, *call.args[0], stage);
      std::int32_t b = Lower(p, *call.args[1], stage);
      b = ToUnitOf(p, b, *call.args[1], TypeOf(*call.args[0]), call.args[1]->span);
      return Binary(p, f == "min" ? ir::Op::kMin : ir::Op::kMax, a, b, VType(t), e.span);
    }
    if ((f == "round_up" || f == "round_down") && call.args.size() == 2) {
      std::int32_t a = Lower(p, *call.args[0], stage);
      std::int32_t b = Lower(p, *call.args[1], stage);
      b = ToUnitOf(p, b, *call.args[1], TypeOf(*call.args[0]), call.args[1]->span);
      return Binary(p, f == "round_up" ? ir::Op::kCeilStep : ir::Op::kFloorStep, a, b, VType(t), e.span);
    }
    Fail(e.span, fmt::format("internal: call to `{}` outside a meter", f));
  }

  // Converts value `v` of expression `e` to the unit of `target` when both are quantities.
  std::int32_t ToUnitOf(ir::Program& p, std::int32_t v, const ast::Expr& e, const Type& target, Span span) {
    const Type& t = TypeOf(e);
    if (t.kind == TypeKind::kQuantity && target.kind == TypeKind::kQuantity && !(*t.unit == *target.unit)) {
      return Convert(p, v, *t.unit, *target.unit, span);
    }
    return v;
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::Unary& u, Stage& stage) {
    std::int32_t a = Lower(p, *u.operand, stage);
    ir::Inst in;
    in.op = u.op == ast::UnaryOp::kNot ? ir::Op::kNot : ir::Op::kNeg;
    in.a = a;
    in.type = VType(TypeOf(e));
    in.source = e.span;
    return Emit(p, in);
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::Binary& b, Stage& stage) {
    const Type& t = TypeOf(e);
    const Type& lt = TypeOf(*b.lhs);
    const Type& rt = TypeOf(*b.rhs);
    if (b.op == BinaryOp::kMul && (lt.kind == TypeKind::kRate || rt.kind == TypeKind::kRate)) {
      return LowerRateProduct(p, e, b, stage);
    }
    std::int32_t l = Lower(p, *b.lhs, stage);
    std::int32_t r = Lower(p, *b.rhs, stage);
    switch (b.op) {
      case BinaryOp::kAdd:
      case BinaryOp::kSub:
        r = ToUnitOf(p, r, *b.rhs, lt, b.op_span);
        return Binary(p, b.op == BinaryOp::kAdd ? ir::Op::kAdd : ir::Op::kSub, l, r, VType(t), b.op_span);
      case BinaryOp::kMul: return Binary(p, ir::Op::kMul, l, r, VType(t), b.op_span);
      case BinaryOp::kDiv:
        if (lt.kind == TypeKind::kQuantity && rt.kind == TypeKind::kQuantity && SameDimension(*lt.unit, *rt.unit)) {
          r = ToUnitOf(p, r, *b.rhs, lt, b.op_span);
        }
        return Binary(p, ir::Op::kDiv, l, r, VType(t), b.op_span);
      case BinaryOp::kAnd: return Binary(p, ir::Op::kAnd, l, r, VType(t), b.op_span);
      case BinaryOp::kOr: return Binary(p, ir::Op::kOr, l, r, VType(t), b.op_span);
      default: break;
    }
    r = ToUnitOf(p, r, *b.rhs, lt, b.op_span);
    ir::Op op = b.op == BinaryOp::kEq   ? ir::Op::kEq
                : b.op == BinaryOp::kNe ? ir::Op::kNe
                : b.op == BinaryOp::kLt ? ir::Op::kLt
                : b.op == BinaryOp::kLe ? ir::Op::kLe
                : b.op == BinaryOp::kGt ? ir::Op::kGt
                                        : ir::Op::kGe;
    return Binary(p, op, l, r, {ir::ValueKind::kBool, ""}, b.op_span);
  }

  // quantity × rate: the quantity in the rate's unit times the price per unit; a package rate
  // counts started blocks. A rate that is not a literal (a `match` of rates) is already money
  // per one unit of its own unit.
  std::int32_t LowerRateProduct(ir::Program& p, const ast::Expr& e, const ast::Binary& b, Stage& stage) {
    const Type& lt = TypeOf(*b.lhs);
    const ast::Expr& rate_expr = lt.kind == TypeKind::kRate ? *b.lhs : *b.rhs;
    const ast::Expr& q_expr = lt.kind == TypeKind::kRate ? *b.rhs : *b.lhs;
    const Type& rate_t = TypeOf(rate_expr);
    const Type& q_t = TypeOf(q_expr);
    const Type& t = TypeOf(e);
    std::int32_t q = Lower(p, q_expr, stage);
    if (q_t.kind != TypeKind::kQuantity) Fail(e.span, "internal: a rate times something that is not a quantity");
    const auto* lit = std::get_if<ast::Literal>(&rate_expr.kind);
    if (lit != nullptr && lit->kind == LiteralKind::kRate) {
      RateValue r = RateIn(rate_expr, *q_t.unit);
      if (r.package) {
        std::int32_t blocks = Binary(p, ir::Op::kPackages, q, Const(p, *r.package, UnitName(*q_t.unit), rate_expr.span),
                                     {ir::ValueKind::kDecimal, "package"}, rate_expr.span);
        return Binary(p, ir::Op::kMul, blocks, Const(p, r.package_price, t.currency, rate_expr.span), VType(t), b.op_span);
      }
      // The rate per one unit of the quantity it multiplies (`MB × 0.004 USD per GB` multiplies
      // by 0.000004 USD per MB), typed as such.
      return Binary(p, ir::Op::kMul, q, Const(p, r.unit_price, fmt::format("{} per {}", rate_t.currency, UnitName(*q_t.unit)), rate_expr.span),
                    VType(t), b.op_span);
    }
    // A computed rate (a `match` of rates, `min`/`max` of rates): every rate in it priced per one
    // unit of the quantity, so that arms written in different units agree.
    std::int32_t rate = LowerRateIn(p, rate_expr, *q_t.unit, stage);
    return Binary(p, ir::Op::kMul, q, rate, VType(t), b.op_span);
  }

  // The rate expression `e` as money per one `unit` (which has the rate's dimension).
  std::int32_t LowerRateIn(ir::Program& p, const ast::Expr& e, const Unit& unit, Stage& stage) {
    const Type& t = TypeOf(e);
    const std::string type_unit = fmt::format("{} per {}", t.currency, UnitName(unit));
    if (const auto* lit = std::get_if<ast::Literal>(&e.kind); lit != nullptr && lit->kind == LiteralKind::kRate) {
      RateValue r = RateIn(e, unit);
      if (r.package) Fail(e.span, "a `per started` package price can only multiply a quantity directly");
      return Const(p, r.unit_price, type_unit, e.span);
    }
    if (const auto* m = std::get_if<ast::Match>(&e.kind)) {
      return LowerMatch(p, e, *m, stage, [&](const ast::Expr& arm) { return LowerRateIn(p, arm, unit, stage); }, type_unit);
    }
    if (const auto* call = std::get_if<ast::Call>(&e.kind);
        call != nullptr && (call->callee.text == "min" || call->callee.text == "max") && call->args.size() == 2) {
      std::int32_t a = LowerRateIn(p, *call->args[0], unit, stage);
      std::int32_t b = LowerRateIn(p, *call->args[1], unit, stage);
      return Binary(p, call->callee.text == "min" ? ir::Op::kMin : ir::Op::kMax, a, b, {ir::ValueKind::kDecimal, type_unit}, e.span);
    }
    // Money per one `t.unit`; per one `unit` that is × (1 `unit` in `t.unit`).
    std::int32_t v = Lower(p, e, stage);
    return Scale(p, v, Factor(unit, *t.unit, e.span), {ir::ValueKind::kDecimal, type_unit}, e.span);
  }

  std::int32_t LowerKind(ir::Program& p, const ast::Expr& e, const ast::Match& m, Stage& stage) {
    const Type& t = TypeOf(e);
    if (t.kind == TypeKind::kRate) {
      // A rate used alone: priced per one unit of the match's own rate unit.
      return LowerRateIn(p, e, *t.unit, stage);
    }
    auto arm_value = [&](const ast::Expr& arm) { return ToUnitOf(p, Lower(p, arm, stage), arm, t, arm.span); };
    return LowerMatch(p, e, m, stage, arm_value, UnitText(t));
  }

  // A `match`: the subject, then each arm's value as `arm_value` lowers it (converted to the
  // match's unit), typed `unit`.
  template <typename ArmValue>
  std::int32_t LowerMatch(ir::Program& p, const ast::Expr& e, const ast::Match& m, Stage& stage, ArmValue arm_value,
                          const std::string& unit) {
    std::int32_t subject = Lower(p, *m.subject, stage);
    ir::MatchTable table;
    std::vector<std::int32_t> args{subject};
    const Type& t = TypeOf(e);
    for (const ast::MatchArm& arm : m.arms) {
      std::vector<std::string> patterns;
      for (const ast::StringLit& s : arm.patterns) patterns.push_back(s.value);
      table.patterns.push_back(std::move(patterns));
      table.arm_text.push_back(OneLine(Text(arm.value->span)));
      args.push_back(arm_value(*arm.value));
    }
    p.match_tables.push_back(std::move(table));
    ir::Inst in;
    in.op = ir::Op::kMatch;
    in.args = std::move(args);
    in.imm = static_cast<std::int32_t>(p.match_tables.size() - 1);
    in.type = {KindOf(t.kind), unit};
    in.source = e.span;
    return Emit(p, in);
  }

  std::int32_t Round(ir::Program& p, std::int32_t v, const ir::RoundingRule& rule) {
    ir::Inst in;
    in.op = ir::Op::kRound;
    in.a = v;
    in.scale = rule.scale;
    in.mode = rule.mode;
    in.type = p.insts[static_cast<std::size_t>(v)].type;
    in.source = rule.source;
    return Emit(p, in);
  }

  // ---- meters -------------------------------------------------------------------------------

  // The instance of `meter` aggregated per customer and per `group_fields` of its event.
  int MeterInstance(const std::string& meter, const std::vector<int>& group_fields) {
    auto key = std::make_pair(meter, group_fields);
    auto it = meter_instances_.find(key);
    if (it != meter_instances_.end()) return it->second;
    const MeterInfo& info = plan_.meters.at(meter);
    const ast::MeterDecl& d = *info.decl;
    ir::MeterInstance mi;
    mi.meter = meter;
    mi.event = EventIndex(info.event, d.name.span);
    mi.group_fields = group_fields;
    mi.aggregation = ToIr(info.aggregation);
    mi.unit = UnitText(info.type);
    mi.source = d.span;
    Stage stage;
    stage.event = mi.event;
    stage.event_info = &fn_.events[static_cast<std::size_t>(mi.event)];
    const auto* call = std::get_if<ast::Call>(&d.value->kind);
    if (call == nullptr || call->args.size() != 1) Fail(d.value->span, "internal: a meter that is not an aggregation");
    if (info.aggregation != Aggregation::kCount) {
      mi.value.result = Lower(mi.value, *call->args[0], stage);
    }
    if (d.where) mi.filter.result = Lower(mi.filter, *d.where, stage);
    fn_.meters.push_back(std::move(mi));
    int index = static_cast<int>(fn_.meters.size() - 1);
    meter_instances_[key] = index;
    return index;
  }

  // ---- charges ------------------------------------------------------------------------------

  void AddCharge(const ast::ChargeDecl& d) {
    auto info = plan_.charges.find(d.name.value);
    if (info == plan_.charges.end() || info->second.decl != &d) return;
    ir::Charge c;
    c.name = d.name.value;
    c.source = d.span;
    c.rounding = fn_.rounding;
    std::optional<Decimal> included;
    std::optional<Unit> included_unit;
    bool flat_at_zero = true;
    Span included_span;
    ir::ProrationBasis proration = proration_;
    Span proration_span = proration_span_;  // the rule's declaration; empty: the default
    for (const ast::ChargeOption& o : d.options) {
      switch (o.kind) {
        case ast::ChargeOptionKind::kRounding: c.rounding = Rounding(o.rounding); break;
        case ast::ChargeOptionKind::kIncluded: {
          const Type& t = TypeOf(*o.first);
          included = DecimalLiteral(*o.first);
          if (t.kind == TypeKind::kQuantity) included_unit = t.unit;
          included_span = o.span;
          break;
        }
        case ast::ChargeOptionKind::kFreeFirst: {
          for (const ast::Expr* x : {o.first.get(), o.second.get()}) {
            if (x == nullptr) continue;
            if (TypeOf(*x).kind == TypeKind::kMoney) {
              c.free_amount = DecimalLiteral(*x);
            } else {
              c.free_events = DecimalLiteral(*x);
            }
          }
          break;
        }
        case ast::ChargeOptionKind::kFlatAtZero: flat_at_zero = o.flag; break;
        case ast::ChargeOptionKind::kAllocated: {
          const auto* m = std::get_if<ast::Member>(&o.first->kind);
          const auto* base = m != nullptr ? std::get_if<ast::NameRef>(&m->object->kind) : nullptr;
          if (base == nullptr || info->second.allocation_meter.empty()) Fail(o.span, "internal: `allocated by` is not checked");
          int event = EventIndex(base->name.text, o.first->span);
          ir::Charge::Allocation a;
          a.meter_instance = MeterInstance(info->second.allocation_meter,
                                           {fn_.events[static_cast<std::size_t>(event)].FieldIndex(m->member.text)});
          a.dimension = fmt::format("{}.{}", base->name.text, m->member.text);
          a.meter = info->second.allocation_meter;
          a.source = o.span;
          c.allocation = std::move(a);
          break;
        }
        case ast::ChargeOptionKind::kInAdvance: c.in_advance = true; break;
        case ast::ChargeOptionKind::kProration:
          proration = Basis(o.proration);
          proration_span = o.span;
          break;
        default: break;
      }
    }
    // Grouping.
    for (const auto& g : d.group_by) {
      const auto* m = std::get_if<ast::Member>(&g->kind);
      const auto* base = m != nullptr ? std::get_if<ast::NameRef>(&m->object->kind) : nullptr;
      if (base == nullptr) Fail(g->span, "internal: `by` is not an event field");
      int event = EventIndex(base->name.text, g->span);
      if (c.event >= 0 && c.event != event) Fail(g->span, "a charge is grouped by fields of one event");
      c.event = event;
      c.group_fields.push_back(fn_.events[static_cast<std::size_t>(event)].FieldIndex(m->member.text));
      c.group_names.push_back(fmt::format("{}.{}", base->name.text, m->member.text));
    }
    const ast::Pricing& p = d.pricing;
    if (p.kind == ast::PricingKind::kFormula || p.kind == ast::PricingKind::kPerEvent) {
      c.price_text = OneLine(Text(p.value->span));
      const auto* product = std::get_if<ast::Binary>(&p.value->kind);
      if (product != nullptr && product->op == BinaryOp::kMul) {
        for (const ast::Expr* side : {product->lhs.get(), product->rhs.get()}) {
          const auto* lit = std::get_if<ast::Literal>(&side->kind);
          if (lit != nullptr && lit->kind == LiteralKind::kRate) c.price_text = OneLine(Text(side->span));
        }
      }
    }
    if (p.kind == ast::PricingKind::kPerEvent) {
      c.per_event = true;
      int event = EventIndex(p.event.text, p.event.span);
      if (c.event >= 0 && c.event != event) Fail(d.span, "a per-event charge is grouped by fields of its own event");
      c.event = event;
      Stage stage;
      stage.event = event;
      stage.event_info = &fn_.events[static_cast<std::size_t>(event)];
      if (p.where) c.filter.result = Lower(c.filter, *p.where, stage);
      std::int32_t amount = Lower(c.amount, *p.value, stage);
      if (c.rounding.point == ir::RoundingRule::Point::kEvent) amount = Round(c.amount, amount, c.rounding);
      c.amount.result = amount;
      if (c.free_amount) {
        // `or M USD`: the money the events carry: the first money field the charge reads, else
        // the event's first money field (the checker makes sure there is one).
        for (const ir::Inst& in : c.amount.insts) {
          if (in.op == ir::Op::kInput && in.type.unit == fn_.currency) {
            c.free_amount_field = in.imm;
            break;
          }
        }
        const ir::Event& ev = fn_.events[static_cast<std::size_t>(event)];
        for (std::size_t f = 0; f < ev.fields.size() && c.free_amount_field < 0; ++f) {
          if (ev.fields[f].kind == ir::ValueKind::kDecimal && ev.fields[f].unit == fn_.currency) c.free_amount_field = static_cast<int>(f);
        }
        if (c.free_amount_field < 0) Fail(d.span, "`free first … USD` needs a charge that reads a money field of its event");
      }
    } else {
      Stage stage;
      stage.line = true;
      stage.charge = &c;
      stage.included = included;
      stage.included_unit = included_unit;
      stage.included_span = included_span;
      std::vector<int> group_fields = c.group_fields;
      stage.meter_instance = [&](const std::string& meter) { return MeterInstance(meter, group_fields); };
      std::int32_t v = Lower(c.line, *p.value, stage);
      if (p.kind == ast::PricingKind::kGraduated || p.kind == ast::PricingKind::kVolume) {
        v = Tiers(c.line, v, p, TypeOf(*p.value), flat_at_zero);
      }
      // A fee that reads no usage (a flat fee, seats from the subscription) is recurring: one
      // line per customer, prorated for a customer active in part of the period, exactly
      // (`fee × active ÷ length`, the division at the intermediate scale) and before rounding.
      c.recurring = std::none_of(c.line_inputs.begin(), c.line_inputs.end(), [](const ir::Charge::LineInput& in) {
        return in.kind == ir::Charge::LineInput::Kind::kMeter || in.kind == ir::Charge::LineInput::Kind::kGroupValue;
      });
      if (c.recurring && proration != ir::ProrationBasis::kNone) {
        c.proration = proration;
        v = Prorate(c, v, proration, proration_span.end > proration_span.begin ? proration_span : p.span);
      }
      if (c.rounding.point != ir::RoundingRule::Point::kInvoice) v = Round(c.line, v, c.rounding);
      c.line.result = v;
    }
    fn_.charges.push_back(std::move(c));
  }

  std::int32_t Prorate(ir::Charge& c, std::int32_t v, ir::ProrationBasis basis, Span span) {
    const char* unit = basis == ir::ProrationBasis::kSecond ? "s" : "day";
    auto input = [&](ir::Charge::LineInput::Kind kind) {
      ir::Charge::LineInput in;
      in.kind = kind;
      in.basis = basis;
      c.line_inputs.push_back(in);
      return Input(c.line, static_cast<int>(c.line_inputs.size() - 1), {ir::ValueKind::kDecimal, unit}, span);
    };
    std::int32_t active = input(ir::Charge::LineInput::Kind::kActive);
    std::int32_t length = input(ir::Charge::LineInput::Kind::kLength);
    const ir::ValueType money{ir::ValueKind::kDecimal, fn_.currency};
    std::int32_t product = Binary(c.line, ir::Op::kMul, v, active, {ir::ValueKind::kDecimal, fmt::format("{}·{}", fn_.currency, unit)}, span);
    ir::Inst div;
    div.op = ir::Op::kDiv;
    div.a = product;
    div.b = length;
    div.type = money;
    div.source = span;
    return Emit(c.line, div);
  }

  std::int32_t Tiers(ir::Program& prog, std::int32_t subject, const ast::Pricing& p, const Type& subject_t, bool flat_at_zero) {
    ir::TierTable table;
    table.graduated = p.kind == ast::PricingKind::kGraduated;
    table.flat_at_zero = flat_at_zero;
    table.source = p.span;
    std::optional<Unit> unit = subject_t.kind == TypeKind::kQuantity ? subject_t.unit : std::nullopt;
    // Over a plain number (`count_distinct`), a tier's money term without `flat` is the price of
    // one, as `u * 0.50 USD` is outside tiers.
    const bool dimensionless = subject_t.kind == TypeKind::kDecimal;
    for (const ast::Tier& tier : p.tiers) {
      ir::TierSpec s;
      if (!tier.above) s.up_to = LiteralIn(*tier.bound, unit);
      if (tier.free) {
        s.price_text = "free";
      } else {
        std::string text;
        for (const ast::PriceTerm& term : tier.terms) {
          if (!text.empty()) text += " + ";
          text += std::string(Text(term.span));
          const Type& tt = TypeOf(*term.value);
          const auto* lit = std::get_if<ast::Literal>(&term.value->kind);
          if (tt.kind == TypeKind::kMoney && !term.flat && dimensionless) {
            s.unit_price = s.unit_price + ir::Number(DecimalLiteral(*term.value));
          } else if (term.flat || tt.kind == TypeKind::kMoney) {
            s.flat = s.flat + DecimalLiteral(*term.value);
          } else if (tt.kind == TypeKind::kPercent) {
            s.percent = s.percent + DecimalLiteral(*term.value);
          } else if (lit != nullptr && lit->kind == LiteralKind::kRate && unit) {
            RateValue r = RateIn(*term.value, *unit);
            if (r.package) {
              s.package = r.package;
              s.package_price = r.package_price;
            } else {
              s.unit_price = s.unit_price + r.unit_price;
            }
          } else {
            Fail(term.span, "internal: a tier price that is not a rate, percentage or flat fee");
          }
        }
        s.price_text = text;
      }
      table.tiers.push_back(std::move(s));
    }
    // Without `above`, the last tier prices everything past the bound before it; what happens
    // past its own bound is the table's `beyond` rule (sema requires one).
    if (p.beyond != ast::Beyond::kNone && !table.tiers.empty() && table.tiers.back().up_to) {
      table.beyond = p.beyond == ast::Beyond::kError ? ir::Beyond::kError : ir::Beyond::kLastPrice;
      table.last_bound = std::move(table.tiers.back().up_to);
      table.tiers.back().up_to.reset();
    }
    prog.tier_tables.push_back(std::move(table));
    ir::Inst in;
    in.op = ir::Op::kTiers;
    in.a = subject;
    in.imm = static_cast<std::int32_t>(prog.tier_tables.size() - 1);
    in.type = {ir::ValueKind::kDecimal, fn_.currency};
    in.source = p.span;
    return Emit(prog, in);
  }

  // ---- adjustments --------------------------------------------------------------------------

  void AddDiscount(const ast::DiscountDecl& d) {
    ir::Adjustment a;
    const Type& t = TypeOf(*d.amount);
    a.kind = t.kind == TypeKind::kPercent ? ir::Adjustment::Kind::kPercentDiscount : ir::Adjustment::Kind::kFixedDiscount;
    a.amount = DecimalLiteral(*d.amount);
    for (const ast::StringLit& s : d.charges) a.charges.push_back(s.value);
    a.name = ast::AdjustmentName(d, source_.text());
    a.source = d.span;
    fn_.adjustments.push_back(std::move(a));
  }

  void AddLimit(const ast::LimitDecl& d) {
    ir::Adjustment a;
    a.kind = d.is_minimum ? ir::Adjustment::Kind::kMinimum : ir::Adjustment::Kind::kMaximum;
    a.amount = DecimalLiteral(*d.amount);
    for (const ast::StringLit& s : d.charges) a.charges.push_back(s.value);
    a.name = ast::AdjustmentName(d, source_.text());
    // A minimum commitment is prorated like a recurring fee (the plan's rule unless the minimum
    // says `prorated by …` / `not prorated`); a cap is not.
    if (d.is_minimum) a.proration = d.proration ? Basis(*d.proration) : proration_;
    a.source = d.span;
    fn_.adjustments.push_back(std::move(a));
  }

  const CheckedFile& checked_;
  const CheckedPlan& plan_;
  const SourceFile& source_;
  ir::RatingFunction fn_;
  std::map<std::string, int> event_index_;
  std::vector<const EventInfo*> event_types_;
  std::map<std::pair<std::string, std::vector<int>>, int> meter_instances_;
  // `proration by …`; Stripe's default, by the second, when the plan does not say.
  ir::ProrationBasis proration_ = ir::ProrationBasis::kSecond;
  Span proration_span_;
};

}  // namespace

LowerResult Lower(const CheckedFile& checked, const CheckedPlan& plan, const SourceFile& source) {
  LowerResult result;
  try {
    result.function = Lowerer(checked, plan, source).Run();
  } catch (const LowerError& e) {
    result.errors.push_back(e.message);
    return result;
  } catch (const DecimalError& e) {
    result.errors.push_back(fmt::format("{}: plan \"{}\": {}", source.path(), plan.plan->name.value, e.what()));
    return result;
  }
  for (std::string& problem : ir::Verify(result.function)) {
    result.errors.push_back("internal: the IR verifier found: " + problem);
  }
  return result;
}

}  // namespace tariff
