// tests/reference: the reference evaluator (see reference.h). Slow and plain on purpose: every
// value is a cpp_rational, every meter is recomputed from the rows it reads, nothing is cached.
#include "tests/reference/reference.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace tariff::reference {

FieldValue FieldValue::Number(Rational n) {
  FieldValue v;
  v.kind = Kind::kNumber;
  v.number = std::move(n);
  return v;
}
FieldValue FieldValue::Text(std::string t) {
  FieldValue v;
  v.kind = Kind::kText;
  v.text = std::move(t);
  return v;
}
FieldValue FieldValue::Bool(bool b) {
  FieldValue v;
  v.kind = Kind::kBool;
  v.flag = b;
  return v;
}
FieldValue FieldValue::Time(std::int64_t us) {
  FieldValue v;
  v.kind = Kind::kTime;
  v.micros = us;
  return v;
}

namespace {

Integer Pow10(int n) {
  Integer r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

// The number of decimals of a terminating value (its denominator is 2^a·5^b: max(a, b)).
std::optional<int> TerminatingScale(const Rational& value) {
  Integer d = boost::multiprecision::denominator(value);
  int twos = 0, fives = 0;
  while (d % 2 == 0) { d /= 2; ++twos; }
  while (d % 5 == 0) { d /= 5; ++fives; }
  if (d != 1) return std::nullopt;
  return std::max(twos, fives);
}

std::string IntegerText(const Integer& coefficient, int scale) {
  bool negative = coefficient < 0;
  std::string digits = (negative ? Integer(-coefficient) : coefficient).str();
  if (scale > 0) {
    if (static_cast<int>(digits.size()) <= scale) digits.insert(0, static_cast<std::size_t>(scale) + 1 - digits.size(), '0');
    digits.insert(digits.size() - static_cast<std::size_t>(scale), ".");
  }
  return (negative ? "-" : "") + digits;
}

}  // namespace

Rational ParseRational(const std::string& text) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  Integer coefficient = 0;
  int scale = 0;
  bool point = false, any = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') continue;
    if (c == '.' && !point) { point = true; continue; }
    if (c < '0' || c > '9') throw std::invalid_argument("not a decimal: " + text);
    coefficient = coefficient * 10 + (c - '0');
    any = true;
    if (point) ++scale;
  }
  if (!any) throw std::invalid_argument("not a decimal: " + text);
  Rational r(coefficient, Pow10(scale));
  return negative ? Rational(-r) : r;
}

bool Terminates(const Rational& value) { return TerminatingScale(value).has_value(); }

Rational Round(const Rational& value, int decimals, const std::string& mode) {
  Integer scale = Pow10(decimals);
  Rational scaled = value * scale;
  Integer n = boost::multiprecision::numerator(scaled);
  Integer d = boost::multiprecision::denominator(scaled);
  Integer q = n / d;  // toward zero
  Integer r = n % d;  // the sign of n
  if (r == 0) return Rational(q, scale);
  bool negative = n < 0;
  Integer away = negative ? Integer(q - 1) : Integer(q + 1);
  Integer twice = 2 * (r < 0 ? Integer(-r) : r);
  Integer result;
  if (mode == "down") {
    result = q;
  } else if (mode == "up") {
    result = away;
  } else if (mode == "ceiling") {
    result = negative ? q : away;
  } else if (mode == "floor") {
    result = negative ? away : q;
  } else if (mode == "half_up" || mode == "half_down" || mode == "half_even") {
    if (twice > d) {
      result = away;
    } else if (twice < d) {
      result = q;
    } else if (mode == "half_up") {
      result = away;
    } else if (mode == "half_down") {
      result = q;
    } else {
      result = (q % 2 == 0) ? q : away;
    }
  } else {
    throw std::logic_error("reference: unknown rounding mode `" + mode + "`");
  }
  return Rational(result, scale);
}

std::string ToDecimalText(const Rational& value, int min_scale) {
  std::optional<int> own = TerminatingScale(value);
  Rational shown = own ? value : Round(value, 20, "half_even");
  int scale = std::max(own.value_or(20), min_scale);
  Rational scaled = shown * Pow10(scale);
  return IntegerText(boost::multiprecision::numerator(scaled), scale);
}

int DigitsNeeded(const Rational& value, int min_scale) {
  std::optional<int> own = TerminatingScale(value);
  Rational shown = own ? value : Round(value, 20, "half_even");
  int scale = std::max(own.value_or(20), min_scale);
  Integer coefficient = boost::multiprecision::numerator(Rational(shown * Pow10(scale)));
  if (coefficient < 0) coefficient = -coefficient;
  int digits = static_cast<int>(coefficient.str().size());
  // A decimal also holds at most 38 digits after the point.
  return std::max(digits, scale);
}

Rational BaseFactor(const std::string& name) {
  static const std::map<std::string, Rational> kFactors = {
      {"B", 1},
      {"KB", Rational(1000)},
      {"MB", Rational(1000000)},
      {"GB", Rational(Pow10(9))},
      {"TB", Rational(Pow10(12))},
      {"PB", Rational(Pow10(15))},
      {"KiB", Rational(1024)},
      {"MiB", Rational(Integer(1024) * 1024)},
      {"GiB", Rational(Integer(1024) * 1024 * 1024)},
      {"TiB", Rational(Integer(1024) * 1024 * 1024 * 1024)},
      {"PiB", Rational(Integer(1024) * 1024 * 1024 * 1024 * 1024)},
      {"bit", Rational(1, 8)},
      {"Kbit", Rational(125)},
      {"Mbit", Rational(125000)},
      {"Gbit", Rational(125000000)},
      {"Tbit", Rational(Integer(125000000) * 1000)},
      {"ms", Rational(1, 1000)},
      {"s", 1},
      {"min", 60},
      {"h", 3600},
      {"day", 86400},
  };
  auto it = kFactors.find(name);
  return it == kFactors.end() ? Rational(1) : it->second;
}

namespace {

Rational Power(const Rational& base, int exponent) {
  Rational r = 1;
  for (int i = 0; i < (exponent < 0 ? -exponent : exponent); ++i) r *= base;
  return exponent < 0 ? Rational(1 / r) : r;
}

Rational FactorOf(const ast::UnitExpr& unit) {
  Rational r = 1;
  for (const ast::UnitExpr::Factor& f : unit.factors) r *= Power(BaseFactor(f.name.text), f.exponent);
  return r;
}

Rational FactorOf(const Type& type) {
  if (type.kind != TypeKind::kQuantity || !type.unit) return 1;
  Rational r = 1;
  for (const tariff::UnitFactor& f : type.unit->factors()) r *= Power(BaseFactor(f.name), f.exponent);
  return r;
}

Rational FromDecimal(const Decimal& d) { return ParseRational(d.ToString()); }

// Rating stops: an amount needs more than 38 digits, or a division by zero.
struct Stop {
  std::string reason;
};

[[noreturn]] void Unsupported(const std::string& what) { throw std::logic_error("reference: unsupported " + what); }

// A rate: `price` money per `per_base` base units; `started` counts whole blocks.
struct Rate {
  Rational price;
  Rational per_base = 1;
  bool started = false;
};

// A value during evaluation. Numbers (decimals, percentages as factors, money, quantities in
// base units) are kNumber.
struct Val {
  enum class Kind : std::uint8_t { kNumber, kRate, kText, kBool, kTime };
  Kind kind = Kind::kNumber;
  Rational number;
  Rate rate;
  std::string text;
  bool flag = false;
  std::int64_t micros = 0;
};

Val Num(Rational n) {
  Val v;
  v.number = std::move(n);
  return v;
}
Val Bool(bool b) {
  Val v;
  v.kind = Val::Kind::kBool;
  v.flag = b;
  return v;
}
Val Text(std::string t) {
  Val v;
  v.kind = Val::Kind::kText;
  v.text = std::move(t);
  return v;
}

Rational Apply(const Rational& quantity, const Rate& rate) {
  if (!rate.started) return quantity * rate.price / rate.per_base;
  Rational blocks = quantity / rate.per_base;
  Integer n = boost::multiprecision::numerator(blocks);
  Integer d = boost::multiprecision::denominator(blocks);
  Integer whole = n / d;
  if (n % d != 0 && n > 0) whole += 1;  // a started block counts whole
  return Rational(whole) * rate.price;
}

std::string GroupText(const FieldValue& v) {
  switch (v.kind) {
    case FieldValue::Kind::kText: return v.text;
    case FieldValue::Kind::kBool: return v.flag ? "true" : "false";
    case FieldValue::Kind::kNumber: return ToDecimalText(v.number);
    case FieldValue::Kind::kTime: return std::to_string(v.micros);
  }
  return "";
}

struct Rule {
  std::string mode = "half_even";
  int decimals = 2;
  ast::RoundingPoint point = ast::RoundingPoint::kLine;
};

// Where an expression is evaluated: one event (meter arguments, filters, per-event prices) or
// one line (meter values, the line's group values, subscription values).
struct Scope {
  const UsageRow* row = nullptr;
  const std::map<std::string, Rational>* meters = nullptr;
  const std::map<std::string, std::string>* group = nullptr;  // "event.field" → value
  const CustomerOptions* customer = nullptr;
};

struct WorkLine {
  Line line;
  Rational value;  // what adjustments and the total add: the rounded amount, or the exact value
  bool is_charge = false;
};

class Evaluator {
 public:
  Evaluator(const CheckedFile& file, const CheckedPlan& plan, const Options& options)
      : file_(file), plan_(plan), options_(options) {
    plan_rule_.decimals = plan.minor_units;
    for (const ast::PlanItem& item : plan.plan->items) {
      if (const auto* r = std::get_if<ast::RoundingDecl>(&item.kind)) plan_rule_ = RuleOf(r->spec);
      if (const auto* p = std::get_if<ast::ProrationDecl>(&item.kind)) plan_proration_ = BasisOf(p->spec);
    }
  }

  Invoice Rate(const std::string& customer, const std::vector<const UsageRow*>& rows) {
    static const CustomerOptions kNone;
    auto it = options_.customers.find(customer);
    customer_ = it == options_.customers.end() ? &kNone : &it->second;
    rows_ = &rows;
    std::vector<WorkLine> lines;
    for (const ast::PlanItem& item : plan_.plan->items) {
      if (const auto* c = std::get_if<ast::ChargeDecl>(&item.kind)) RateCharge(*c, lines);
    }
    for (const ast::PlanItem& item : plan_.plan->items) {
      if (const auto* d = std::get_if<ast::DiscountDecl>(&item.kind)) Discount(*d, lines);
      if (const auto* l = std::get_if<ast::LimitDecl>(&item.kind)) Limit(*l, lines);
    }
    Invoice invoice;
    invoice.customer = customer;
    Rational exact_sum = 0, shown_sum = 0;
    for (WorkLine& w : lines) {
      exact_sum += w.value;
      shown_sum += w.line.amount;
      // A rounded amount fits when its value does: trailing zeros the scale would add beyond 38
      // digits are not shown (4.20 of a 38-digit value is 4.2; the engine's Fraction::Round).
      CheckFits(w.line.amount, 0, "the line `" + w.line.name + "`");
      invoice.lines.push_back(std::move(w.line));
    }
    if (plan_rule_.point == ast::RoundingPoint::kInvoice) {
      Rational total = Round(exact_sum, plan_rule_.decimals, plan_rule_.mode);
      Rational difference = total - shown_sum;
      if (difference != 0) {
        Line r;
        r.kind = "rounding";
        r.name = "Rounding (" + plan_rule_.mode + " to " + std::to_string(plan_rule_.decimals) + " decimals)";
        r.exact = difference;
        r.amount = difference;
        CheckFits(difference, 0, "the rounding line");
        invoice.lines.push_back(r);
      }
      invoice.total = total;
    } else {
      invoice.total = shown_sum;
    }
    CheckFits(invoice.total, 0, "the total");
    // Subtotals: the lines whose names a `subtotal` lists, as shown (written from the language
    // reference, docs/language.md "Subtotals", not from the engine).
    for (const ast::PlanItem& item : plan_.plan->items) {
      const auto* st = std::get_if<ast::SubtotalDecl>(&item.kind);
      if (st == nullptr) continue;
      Rational sum = 0;
      for (const Line& l : invoice.lines) {
        for (const ast::StringLit& part : st->parts) {
          if (part.value == l.name) sum += l.amount;
        }
      }
      CheckFits(sum, 0, "the subtotal \"" + st->name.value + "\"");
      invoice.subtotals.emplace_back(st->name.value, sum);
    }
    return invoice;
  }

 private:
  // ---- Rules and options -------------------------------------------------------------------

  Rule RuleOf(const ast::RoundingSpec& spec) const {
    Rule r;
    r.mode = spec.mode.text;
    r.decimals = spec.decimals.value_or(plan_.minor_units);
    r.point = spec.point;
    return r;
  }
  static std::string BasisOf(const ast::ProrationSpec& spec) { return spec.prorated ? spec.basis.text : "none"; }

  Rational Share(const std::string& basis) const {
    if (!customer_->active || basis == "none") return 1;
    const CustomerOptions::Active& a = *customer_->active;
    if (basis == "day") return a.length_days == 0 ? Rational(1) : Rational(a.active_days / a.length_days);
    return a.length_seconds == 0 ? Rational(1) : Rational(a.active_seconds / a.length_seconds);
  }

  void CheckFits(const Rational& value, int scale, const std::string& what) const {
    if (DigitsNeeded(value, scale) > 38) throw Stop{what + " needs more than 38 digits: " + ToDecimalText(value, scale)};
  }

  const Type& TypeOf(const ast::Expr& e) const { return file_.types.at(static_cast<std::size_t>(e.id.index)); }

  // ---- Expressions -------------------------------------------------------------------------

  Val Literal(const ast::Expr& e, const ast::Literal& lit) const {
    switch (lit.kind) {
      case ast::LiteralKind::kNumber: return Num(FromDecimal(lit.number));
      case ast::LiteralKind::kPercent: return Num(FromDecimal(lit.number) / 100);
      case ast::LiteralKind::kBasisPoints: return Num(FromDecimal(lit.number) / 10000);
      case ast::LiteralKind::kUnit: {
        const Type& t = TypeOf(e);
        if (t.kind == TypeKind::kMoney) return Num(FromDecimal(lit.number));
        return Num(FromDecimal(lit.number) * FactorOf(lit.unit));
      }
      case ast::LiteralKind::kRate: {
        Val v;
        v.kind = Val::Kind::kRate;
        v.rate.price = FromDecimal(lit.number);
        v.rate.per_base = (lit.per ? FromDecimal(*lit.per) : Rational(1)) * FactorOf(lit.per_unit);
        v.rate.started = lit.per_started;
        return v;
      }
      case ast::LiteralKind::kString: return Text(lit.text);
      case ast::LiteralKind::kBool: return Bool(lit.bool_value);
      case ast::LiteralKind::kDateTime: Unsupported("a date literal in an expression");
    }
    Unsupported("a literal");
  }

  Val FieldOf(const FieldValue& v, const Type& type) const {
    switch (v.kind) {
      case FieldValue::Kind::kNumber: return Num(v.number * FactorOf(type));
      case FieldValue::Kind::kText: return Text(v.text);
      case FieldValue::Kind::kBool: return Bool(v.flag);
      case FieldValue::Kind::kTime: {
        Val t;
        t.kind = Val::Kind::kTime;
        t.micros = v.micros;
        return t;
      }
    }
    Unsupported("a field value");
  }

  Val Member(const ast::Member& m, const Scope& scope) const {
    const auto* object = std::get_if<ast::NameRef>(&m.object->kind);
    if (object == nullptr) Unsupported("a member of something other than a name");
    const std::string& owner = object->name.text;
    const std::string& field = m.member.text;
    if (owner == "subscription") {
      auto info = plan_.subscription.find(field);
      if (info == plan_.subscription.end()) Unsupported("subscription field `" + field + "`");
      const Type& t = info->second.type;
      auto v = scope.customer->subscription.find(field);
      if (v != scope.customer->subscription.end()) return FieldOf(v->second, t);
      if (t.kind == TypeKind::kBool) return Bool(false);
      if (t.kind == TypeKind::kText || t.kind == TypeKind::kEnum || t.kind == TypeKind::kId) return Text("");
      return Num(0);
    }
    if (scope.row != nullptr && scope.row->event == owner) {
      if (field == "customer") return Text(scope.row->customer);
      if (field == "time") return FieldOf(FieldValue::Time(scope.row->time), Type::Of(TypeKind::kTimestamp));
      auto v = scope.row->fields.find(field);
      if (v == scope.row->fields.end()) throw std::logic_error("reference: a row of `" + owner + "` has no `" + field + "`");
      return FieldOf(v->second, plan_.events.at(owner).fields.at(field).type);
    }
    if (scope.group != nullptr) {
      auto g = scope.group->find(owner + "." + field);
      if (g != scope.group->end()) {
        const Type& t = plan_.events.at(owner).fields.at(field).type;
        if (t.kind == TypeKind::kBool) return Bool(g->second == "true");
        return Text(g->second);
      }
    }
    Unsupported("`" + owner + "." + field + "` here");
  }

  static int Compare(const Val& a, const Val& b) {
    if (a.kind == Val::Kind::kNumber && b.kind == Val::Kind::kNumber) return a.number < b.number ? -1 : (b.number < a.number ? 1 : 0);
    if (a.kind == Val::Kind::kText && b.kind == Val::Kind::kText) return a.text.compare(b.text) < 0 ? -1 : (a.text == b.text ? 0 : 1);
    if (a.kind == Val::Kind::kBool && b.kind == Val::Kind::kBool) return static_cast<int>(a.flag) - static_cast<int>(b.flag);
    if (a.kind == Val::Kind::kTime && b.kind == Val::Kind::kTime) return a.micros < b.micros ? -1 : (a.micros > b.micros ? 1 : 0);
    Unsupported("a comparison of these kinds");
  }

  Val Binary(const ast::Binary& b, const Scope& scope) const {
    if (b.op == ast::BinaryOp::kAnd) {
      if (!Eval(*b.lhs, scope).flag) return Bool(false);
      return Bool(Eval(*b.rhs, scope).flag);
    }
    if (b.op == ast::BinaryOp::kOr) {
      if (Eval(*b.lhs, scope).flag) return Bool(true);
      return Bool(Eval(*b.rhs, scope).flag);
    }
    Val l = Eval(*b.lhs, scope);
    Val r = Eval(*b.rhs, scope);
    switch (b.op) {
      case ast::BinaryOp::kAdd:
      case ast::BinaryOp::kSub:
        if (l.kind != Val::Kind::kNumber || r.kind != Val::Kind::kNumber) Unsupported("+/- of non-numbers");
        return Num(b.op == ast::BinaryOp::kAdd ? Rational(l.number + r.number) : Rational(l.number - r.number));
      case ast::BinaryOp::kMul:
        if (l.kind == Val::Kind::kNumber && r.kind == Val::Kind::kNumber) return Num(l.number * r.number);
        if (l.kind == Val::Kind::kNumber && r.kind == Val::Kind::kRate) return Num(Apply(l.number, r.rate));
        if (l.kind == Val::Kind::kRate && r.kind == Val::Kind::kNumber) return Num(Apply(r.number, l.rate));
        Unsupported("a product of these kinds");
      case ast::BinaryOp::kDiv:
        if (l.kind != Val::Kind::kNumber || r.kind != Val::Kind::kNumber) Unsupported("a quotient of these kinds");
        if (r.number == 0) throw Stop{"division by zero"};
        return Num(l.number / r.number);
      case ast::BinaryOp::kEq: return Bool(Compare(l, r) == 0);
      case ast::BinaryOp::kNe: return Bool(Compare(l, r) != 0);
      case ast::BinaryOp::kLt: return Bool(Compare(l, r) < 0);
      case ast::BinaryOp::kLe: return Bool(Compare(l, r) <= 0);
      case ast::BinaryOp::kGt: return Bool(Compare(l, r) > 0);
      case ast::BinaryOp::kGe: return Bool(Compare(l, r) >= 0);
      case ast::BinaryOp::kAnd:
      case ast::BinaryOp::kOr: break;
    }
    Unsupported("an operator");
  }

  Val Call(const ast::Call& c, const Scope& scope) const {
    const std::string& f = c.callee.text;
    if (c.args.size() != 2) Unsupported("`" + f + "` with " + std::to_string(c.args.size()) + " arguments");
    Val a = Eval(*c.args[0], scope);
    Val b = Eval(*c.args[1], scope);
    if (a.kind != Val::Kind::kNumber || b.kind != Val::Kind::kNumber) Unsupported("`" + f + "` of non-numbers");
    if (f == "min") return Num(a.number < b.number ? a.number : b.number);
    if (f == "max") return Num(a.number < b.number ? b.number : a.number);
    if (f == "round_up" || f == "round_down") {
      if (b.number == 0) throw Stop{"division by zero"};
      Rational steps = a.number / b.number;
      Integer n = boost::multiprecision::numerator(steps), d = boost::multiprecision::denominator(steps);
      Integer q = n / d;  // toward zero
      if (n % d != 0) {
        if (f == "round_up" && n > 0) q += 1;
        if (f == "round_down" && n < 0) q -= 1;
      }
      return Num(Rational(q) * b.number);
    }
    Unsupported("the function `" + f + "`");
  }

  Val Match(const ast::Match& m, const Scope& scope) const {
    Val subject = Eval(*m.subject, scope);
    std::string key = subject.kind == Val::Kind::kBool ? (subject.flag ? "true" : "false") : subject.text;
    for (const ast::MatchArm& arm : m.arms) {
      if (arm.is_else) return Eval(*arm.value, scope);
      for (const ast::StringLit& p : arm.patterns) {
        if (p.value == key) return Eval(*arm.value, scope);
      }
    }
    Unsupported("a match without an arm for `" + key + "`");
  }

  Val Eval(const ast::Expr& e, const Scope& scope) const {
    if (const auto* lit = std::get_if<ast::Literal>(&e.kind)) return Literal(e, *lit);
    if (const auto* ref = std::get_if<ast::NameRef>(&e.kind)) {
      if (scope.meters != nullptr) {
        auto it = scope.meters->find(ref->name.text);
        if (it != scope.meters->end()) return Num(it->second);
      }
      Unsupported("the name `" + ref->name.text + "` here");
    }
    if (const auto* m = std::get_if<ast::Member>(&e.kind)) return Member(*m, scope);
    if (const auto* c = std::get_if<ast::Call>(&e.kind)) return Call(*c, scope);
    if (const auto* u = std::get_if<ast::Unary>(&e.kind)) {
      Val v = Eval(*u->operand, scope);
      if (u->op == ast::UnaryOp::kNot) return Bool(!v.flag);
      if (v.kind == Val::Kind::kRate) {
        v.rate.price = -v.rate.price;
        return v;
      }
      return Num(-v.number);
    }
    if (const auto* b = std::get_if<ast::Binary>(&e.kind)) return Binary(*b, scope);
    if (const auto* m = std::get_if<ast::Match>(&e.kind)) return Match(*m, scope);
    Unsupported("an expression");
  }

  bool Passes(const ast::Expr* where, const UsageRow& row) const {
    if (where == nullptr) return true;
    Scope s;
    s.row = &row;
    s.customer = customer_;
    Val v = Eval(*where, s);
    if (v.kind != Val::Kind::kBool) Unsupported("a `where` that is not boolean");
    return v.flag;
  }

  // ---- Meters ------------------------------------------------------------------------------

  using GroupKey = std::vector<std::string>;

  static GroupKey KeyOf(const UsageRow& row, const std::vector<std::string>& fields) {
    GroupKey key;
    for (const std::string& f : fields) {
      if (f == "customer") {
        key.push_back(row.customer);
        continue;
      }
      auto it = row.fields.find(f);
      key.push_back(it == row.fields.end() ? "" : GroupText(it->second));
    }
    return key;
  }

  // The rows of `event` that pass `where`, restricted to one group when `fields` is given.
  std::vector<const UsageRow*> Matching(const std::string& event, const ast::Expr* where,
                                        const std::vector<std::string>* fields, const GroupKey* key) const {
    std::vector<const UsageRow*> out;
    for (const UsageRow* row : *rows_) {
      if (row->event != event) continue;
      if (fields != nullptr && KeyOf(*row, *fields) != *key) continue;
      if (Passes(where, *row)) out.push_back(row);
    }
    return out;
  }

  Rational Meter(const MeterInfo& meter, const std::vector<std::string>* fields, const GroupKey* key) const {
    std::vector<const UsageRow*> rows = Matching(meter.event, meter.decl->where.get(), fields, key);
    if (meter.aggregation == Aggregation::kCount) {
      Integer n = 0;
      for (const UsageRow* row : rows) n += row->weight;
      return Rational(n);
    }
    const auto& call = std::get<ast::Call>(meter.decl->value->kind);
    const ast::Expr& arg = *call.args.at(0);
    std::vector<std::pair<const UsageRow*, Val>> values;
    for (const UsageRow* row : rows) {
      Scope s;
      s.row = row;
      s.customer = customer_;
      values.emplace_back(row, Eval(arg, s));
    }
    if (meter.aggregation == Aggregation::kCountDistinct) {
      std::set<std::string> seen;
      for (const auto& [row, v] : values) {
        switch (v.kind) {
          case Val::Kind::kNumber: seen.insert("n" + ToDecimalText(v.number)); break;
          case Val::Kind::kText: seen.insert("t" + v.text); break;
          case Val::Kind::kBool: seen.insert(v.flag ? "b1" : "b0"); break;
          case Val::Kind::kTime: seen.insert("m" + std::to_string(v.micros)); break;
          case Val::Kind::kRate: Unsupported("count_distinct of a rate");
        }
      }
      return Rational(static_cast<long long>(seen.size()));
    }
    for (const auto& [row, v] : values) {
      if (v.kind != Val::Kind::kNumber) Unsupported("an aggregation of a non-number");
    }
    if (values.empty()) return 0;
    switch (meter.aggregation) {
      case Aggregation::kSum:
      case Aggregation::kAverage: {
        Rational sum = 0;
        Integer n = 0;
        for (const auto& [row, v] : values) {
          sum += v.number * row->weight;
          n += row->weight;
        }
        return meter.aggregation == Aggregation::kSum ? sum : Rational(sum / n);
      }
      case Aggregation::kMin:
      case Aggregation::kMax: {
        Rational best = values.front().second.number;
        for (const auto& [row, v] : values) {
          if (meter.aggregation == Aggregation::kMin ? v.number < best : best < v.number) best = v.number;
        }
        return best;
      }
      case Aggregation::kLatest: {
        const auto* best = &values.front();
        for (const auto& item : values) {
          if (item.first->time > best->first->time ||
              (item.first->time == best->first->time && best->second.number < item.second.number)) {
            best = &item;
          }
        }
        return best->second.number;
      }
      case Aggregation::kIntegral:
      case Aggregation::kTimeWeightedAverage: {
        std::vector<std::pair<std::int64_t, Rational>> samples;
        for (const auto& [row, v] : values) samples.emplace_back(row->time, v.number);
        std::sort(samples.begin(), samples.end());  // by time, ties by value: the larger holds
        std::int64_t end = samples.back().first;
        if (customer_->end_micros) {
          end = *customer_->end_micros;
        } else if (options_.period_end_micros) {
          end = *options_.period_end_micros;
        }
        Rational integral = 0;
        for (std::size_t i = 0; i < samples.size(); ++i) {
          std::int64_t until = i + 1 < samples.size() ? samples[i + 1].first : end;
          integral += samples[i].second * Rational(until - samples[i].first, 1000000);
        }
        if (meter.aggregation == Aggregation::kIntegral) return integral;
        Rational span(end - samples.front().first, 1000000);
        if (span == 0) return samples.back().second;
        return integral / span;
      }
      case Aggregation::kCount:
      case Aggregation::kCountDistinct: break;
    }
    Unsupported("an aggregation");
  }

  // ---- Charges -----------------------------------------------------------------------------

  static std::vector<std::string> GroupFields(const ast::ChargeDecl& c, std::string* event) {
    std::vector<std::string> fields;
    for (const ast::ExprPtr& g : c.group_by) {
      const auto* m = std::get_if<ast::Member>(&g->kind);
      if (m == nullptr) Unsupported("a `by` that is not `event.field`");
      *event = std::get<ast::NameRef>(m->object->kind).name.text;
      fields.push_back(m->member.text);
    }
    return fields;
  }

  Rational Tiers(const ast::Pricing& p, const Rational& q, const Type& qtype, bool flat_at_zero) const {
    struct T {
      std::optional<Rational> upper;
      Rational flat = 0;
      std::vector<Val> terms;
    };
    std::vector<T> tiers;
    for (const ast::Tier& tier : p.tiers) {
      T t;
      if (!tier.above) {
        const auto& lit = std::get<ast::Literal>(tier.bound->kind);
        Rational b = FromDecimal(lit.number);
        if (lit.kind == ast::LiteralKind::kUnit && TypeOf(*tier.bound).kind != TypeKind::kMoney) {
          b *= FactorOf(lit.unit);
        } else if (lit.kind == ast::LiteralKind::kNumber) {
          b *= FactorOf(qtype);
        }
        t.upper = b;
      }
      for (const ast::PriceTerm& term : tier.terms) {
        Val v = Eval(*term.value, Scope{});
        if (term.flat) {
          t.flat += v.number;
        } else {
          t.terms.push_back(v);
        }
      }
      tiers.push_back(std::move(t));
    }
    // A table that ends without `above` (docs/language.md): past the last bound, `beyond: error`
    // stops rating; `beyond: last price` prices on as if the last tier had no bound.
    if (p.beyond != ast::Beyond::kNone && !tiers.empty() && tiers.back().upper) {
      if (p.beyond == ast::Beyond::kError && q > *tiers.back().upper) throw Stop{"usage past the last tier's bound"};
      tiers.back().upper.reset();
    }
    auto price = [](const T& t, const Rational& quantity) {
      Rational a = 0;
      for (const Val& v : t.terms) a += v.kind == Val::Kind::kRate ? Apply(quantity, v.rate) : Rational(quantity * v.number);
      return a;
    };
    if (q == 0 && !flat_at_zero) return 0;
    if (p.kind == ast::PricingKind::kVolume) {
      for (const T& t : tiers) {
        if (!t.upper || q <= *t.upper) return price(t, q) + t.flat;
      }
      Unsupported("a volume table without `above`");
    }
    Rational total = 0, lower = 0;
    for (std::size_t i = 0; i < tiers.size(); ++i) {
      const T& t = tiers[i];
      bool entered = q > lower || (i == 0 && q == 0);
      if (!entered) break;
      Rational part = (t.upper && q > *t.upper) ? Rational(*t.upper - lower) : Rational(q - lower);
      total += price(t, part) + t.flat;
      if (!t.upper) break;
      lower = *t.upper;
    }
    return total;
  }

  // The line of one aggregate charge for one group (or the customer): exact, before rounding.
  Rational AggregateLine(const ast::ChargeDecl& c, const ChargeInfo& info, const std::vector<std::string>* fields,
                         const GroupKey* key, const std::string& group_event) const {
    std::map<std::string, Rational> meters;
    for (const std::string& name : info.meters) meters[name] = Meter(plan_.meters.at(name), fields, key);
    std::map<std::string, std::string> group;
    if (fields != nullptr) {
      for (std::size_t i = 0; i < fields->size(); ++i) group[group_event + "." + (*fields)[i]] = (*key)[i];
    }
    bool flat_at_zero = true;
    for (const ast::ChargeOption& o : c.options) {
      if (o.kind == ast::ChargeOptionKind::kFlatAtZero) flat_at_zero = o.flag;
      if (o.kind == ast::ChargeOptionKind::kIncluded && !info.meters.empty()) {
        const MeterInfo& m = plan_.meters.at(info.meters.front());
        const auto& lit = std::get<ast::Literal>(o.first->kind);
        Rational q = FromDecimal(lit.number);
        if (lit.kind == ast::LiteralKind::kUnit && m.type.kind == TypeKind::kQuantity) {
          q *= FactorOf(lit.unit);
        } else if (lit.kind == ast::LiteralKind::kNumber) {
          q *= FactorOf(m.type);
        }
        Rational& v = meters[info.meters.front()];
        v = v > q ? Rational(v - q) : Rational(0);
      }
    }
    Scope s;
    s.meters = &meters;
    s.group = fields != nullptr ? &group : nullptr;
    s.customer = customer_;
    const ast::Pricing& p = c.pricing;
    if (p.kind == ast::PricingKind::kFormula) {
      Val v = Eval(*p.value, s);
      if (v.kind != Val::Kind::kNumber) Unsupported("a charge whose amount is not money");
      return v.number;
    }
    Val q = Eval(*p.value, s);
    return Tiers(p, q.number, TypeOf(*p.value), flat_at_zero);
  }

  // A line that is not rounded at its own point, as an invoice shows it (docs/engine.md,
  // "Numbers"): exactly when it terminates and fits 38 digits, else rounded half-even to 20
  // decimals, or fewer when its integer part is wider than 18 digits.
  static Rational Shown(const Rational& exact) {
    if (Terminates(exact) && DigitsNeeded(exact) <= 38) return exact;
    Integer whole = boost::multiprecision::numerator(exact) / boost::multiprecision::denominator(exact);
    if (whole < 0) whole = -whole;
    int integer_digits = whole == 0 ? 0 : static_cast<int>(whole.str().size());
    int decimals = std::min(20, 38 - integer_digits);
    if (decimals < 0) throw Stop{"a line needs more than 38 integer digits: " + whole.str()};
    return Round(exact, decimals, "half_even");
  }

  WorkLine MakeLine(const std::string& kind, const std::string& name, std::vector<std::string> group,
                    const Rational& exact, const std::optional<Rule>& rounding) const {
    WorkLine w;
    w.line.kind = kind;
    w.line.name = name;
    w.line.group = std::move(group);
    w.line.exact = exact;
    w.is_charge = kind == "charge";
    if (rounding) {
      w.value = Round(exact, rounding->decimals, rounding->mode);
      w.line.amount = w.value;
      w.line.scale = rounding->decimals;
    } else {
      // A line no rule rounds (an adjustment, or any line under `per invoice`) is shown to 20
      // decimals when it does not terminate or fit; but where the plan rounds per line or per
      // event, lines are Decimals, so one that needs more than 38 digits stops rating.
      if (plan_rule_.point != ast::RoundingPoint::kInvoice && !(Terminates(exact) && DigitsNeeded(exact, 0) <= 38)) {
        throw Stop{"the line `" + name + "` needs more than 38 digits: " + ToDecimalText(exact, 0)};
      }
      w.value = exact;
      w.line.amount = Shown(exact);
    }
    return w;
  }

  // The rounding a line gets at its own point: none under `per invoice`.
  std::optional<Rule> LineRounding(const Rule& rule) const {
    if (rule.point == ast::RoundingPoint::kInvoice) return std::nullopt;
    return rule;
  }

  void RateCharge(const ast::ChargeDecl& c, std::vector<WorkLine>& lines) {
    const ChargeInfo& info = plan_.charges.at(c.name.value);
    Rule rule = plan_rule_;
    std::string proration = plan_proration_;
    for (const ast::ChargeOption& o : c.options) {
      if (o.kind == ast::ChargeOptionKind::kRounding) rule = RuleOf(o.rounding);
      if (o.kind == ast::ChargeOptionKind::kProration) proration = BasisOf(o.proration);
    }
    if (c.pricing.kind == ast::PricingKind::kPerEvent) {
      PerEvent(c, rule, lines);
      return;
    }
    std::string group_event;
    std::vector<std::string> fields = GroupFields(c, &group_event);
    std::optional<Rule> rounding = LineRounding(rule);
    if (fields.empty()) {
      Rational exact = AggregateLine(c, info, nullptr, nullptr, "");
      if (info.recurring) exact *= Share(proration);
      if (!info.allocation_meter.empty()) {
        Allocate(c, info, exact, rounding, lines);
        return;
      }
      lines.push_back(MakeLine("charge", c.name.value, {}, exact, rounding));
      return;
    }
    // One line per group value its meters counted (after their `where`), sorted by value.
    std::set<GroupKey> keys;
    for (const std::string& name : info.meters) {
      const MeterInfo& m = plan_.meters.at(name);
      for (const UsageRow* row : Matching(m.event, m.decl->where.get(), nullptr, nullptr)) keys.insert(KeyOf(*row, fields));
    }
    for (const GroupKey& key : keys) {
      Rational exact = AggregateLine(c, info, &fields, &key, group_event);
      lines.push_back(MakeLine("charge", c.name.value, key, exact, rounding));
    }
  }

  // `allocated by E.F in proportion to M` (docs/language.md, "Allocation"): the amount, rounded
  // once by the charge's rule, is split over the values of E.F that M saw (after its `where`),
  // value v getting amount × M(v) ÷ Σ M. Rounded: in units of the rule's last decimal, every
  // part is its share's integer part (of the magnitude: a negative amount is split as its
  // magnitude, then negated), and the units left over go one each to the largest fractional
  // parts, ties to the smaller value. Per invoice: the exact shares. Σ M = 0: the whole amount
  // on one line without a group. A negative M(v) stops rating.
  void Allocate(const ast::ChargeDecl& c, const ChargeInfo& info, const Rational& exact, const std::optional<Rule>& rounding,
                std::vector<WorkLine>& lines) const {
    const MeterInfo& m = plan_.meters.at(info.allocation_meter);
    const std::vector<std::string> fields{info.allocation_field};
    std::set<GroupKey> keys;
    for (const UsageRow* row : Matching(m.event, m.decl->where.get(), nullptr, nullptr)) keys.insert(KeyOf(*row, fields));
    std::vector<std::pair<GroupKey, Rational>> usage;
    Rational total = 0;
    for (const GroupKey& key : keys) {
      Rational u = Meter(m, &fields, &key);
      if (u < 0) throw Stop{"negative usage to allocate by"};
      total += u;
      usage.emplace_back(key, u);
    }
    if (total == 0) {
      lines.push_back(MakeLine("charge", c.name.value, {}, exact, rounding));
      return;
    }
    if (!rounding) {
      for (const auto& [key, u] : usage) lines.push_back(MakeLine("charge", c.name.value, key, exact * u / total, std::nullopt));
      return;
    }
    const Rational whole = Round(exact, rounding->decimals, rounding->mode);
    Integer scale = 1;
    for (int i = 0; i < rounding->decimals; ++i) scale *= 10;
    Rational units = (whole < 0 ? Rational(-whole) : whole) * scale;  // a whole number
    const Integer n = boost::multiprecision::numerator(units);
    std::vector<Integer> parts;
    std::vector<Rational> fractional;
    Integer given = 0;
    for (const auto& [key, u] : usage) {
      Rational share = Rational(n) * u / total;
      Integer floor = boost::multiprecision::numerator(share) / boost::multiprecision::denominator(share);
      parts.push_back(floor);
      fractional.push_back(share - Rational(floor));
      given += floor;
    }
    Integer left = n - given;
    // The largest fractional parts first; among equal ones, the smaller value (keys are sorted).
    std::vector<std::size_t> order(usage.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return fractional[b] < fractional[a]; });
    for (std::size_t j = 0; left > 0; ++j, --left) parts[order[j]] += 1;
    for (std::size_t i = 0; i < usage.size(); ++i) {
      Rational part = Rational(parts[i]) / scale;
      if (whole < 0) part = -part;
      lines.push_back(MakeLine("charge", c.name.value, usage[i].first, part, rounding));
    }
  }

  void PerEvent(const ast::ChargeDecl& c, const Rule& rule, std::vector<WorkLine>& lines) {
    const ast::Pricing& p = c.pricing;
    const std::string& event = p.event.text;
    std::optional<Rational> free_count, free_money;
    for (const ast::ChargeOption& o : c.options) {
      if (o.kind != ast::ChargeOptionKind::kFreeFirst) continue;
      free_count = FromDecimal(std::get<ast::Literal>(o.first->kind).number);
      if (o.second) free_money = FromDecimal(std::get<ast::Literal>(o.second->kind).number);
    }
    // The money field `free first … or M` counts: the first money field of the event the price
    // reads, else the event's first money field.
    std::string money_field;
    const EventInfo& ev = plan_.events.at(event);
    std::vector<std::string> read;
    FieldsRead(*p.value, event, &read);
    for (const std::string& f : read) {
      if (money_field.empty() && ev.fields.at(f).type.kind == TypeKind::kMoney) money_field = f;
    }
    for (const ast::FieldDecl& f : ev.decl->fields) {
      if (money_field.empty() && ev.fields.at(f.name.text).type.kind == TypeKind::kMoney) money_field = f.name.text;
    }
    std::string group_event;
    std::vector<std::string> fields = GroupFields(c, &group_event);
    std::map<GroupKey, std::vector<const UsageRow*>> groups;
    for (const UsageRow* row : Matching(event, p.where.get(), nullptr, nullptr)) groups[KeyOf(*row, fields)].push_back(row);
    if (fields.empty() && groups.empty()) groups[{}];
    for (auto& [key, rows] : groups) {
      struct Priced {
        const UsageRow* row;
        Rational amount, money, charged;
      };
      std::vector<Priced> priced;
      for (const UsageRow* row : rows) {
        Scope s;
        s.row = row;
        s.customer = customer_;
        Val v = Eval(*p.value, s);
        if (v.kind != Val::Kind::kNumber) Unsupported("a per-event amount that is not money");
        Rational money = 0;
        if (!money_field.empty()) money = row->fields.at(money_field).number;
        priced.push_back({row, v.number, money, v.number});
        // Ties at one instant go by the amount as charged: rounded, when the rule rounds per
        // event (docs/engine.md, "Per-event charges"; differential seed 7113927).
        if (rule.point == ast::RoundingPoint::kEvent) priced.back().charged = Round(v.number, rule.decimals, rule.mode);
      }
      std::sort(priced.begin(), priced.end(), [](const Priced& a, const Priced& b) {
        return std::tie(a.row->time, a.charged, a.money) < std::tie(b.row->time, b.charged, b.money);
      });
      // A row of weight w is w events in a row: some may be free, the rest are charged.
      Rational sum = 0, running = 0;
      Integer before = 0;
      bool still_free = free_count.has_value();
      for (const Priced& e : priced) {
        // Every event's amount is rounded at `per event`, a free one's too ("free (it would cost
        // …)" in explain): one that needs more than 38 digits stops rating, free or not.
        if (rule.point == ast::RoundingPoint::kEvent) {
          CheckFits(Round(e.amount, rule.decimals, rule.mode), 0, "an event's amount of `" + c.name.value + "`");
        }
        Integer w = e.row->weight, free = 0;
        if (still_free) {
          Integer by_count = Integer(boost::multiprecision::numerator(*free_count) / boost::multiprecision::denominator(*free_count));
          if (Rational(by_count) < *free_count) by_count += 1;  // N events: fewer than N before it
          free = by_count > before ? Integer(by_count - before) : Integer(0);
          if (free > w) free = w;
          if (free_money && e.money > 0) {
            Rational room = (*free_money - running) / e.money;
            Integer by_money = room < 0 ? Integer(-1)
                                        : Integer(boost::multiprecision::numerator(room) / boost::multiprecision::denominator(room));
            if (by_money < 0) by_money = 0;
            if (by_money < free) free = by_money;
          } else if (free_money && running + e.money * w > *free_money) {
            // a money value at or below zero never makes the total grow past M
            if (running > *free_money) free = 0;
          }
          if (free < w) still_free = false;
        }
        running += e.money * w;
        before += w;
        Integer charged = w - free;
        if (charged == 0) continue;
        if (rule.point == ast::RoundingPoint::kEvent) {
          Rational r = Round(e.amount, rule.decimals, rule.mode);
          CheckFits(r, 0, "an event's amount of `" + c.name.value + "`");
          sum += r * charged;
        } else {
          sum += e.amount * charged;
        }
      }
      lines.push_back(MakeLine("charge", c.name.value, key, sum, LineRounding(rule)));
    }
  }

  // The fields of `event` that `e` reads, in the order they are written.
  static void FieldsRead(const ast::Expr& e, const std::string& event, std::vector<std::string>* out) {
    if (const auto* m = std::get_if<ast::Member>(&e.kind)) {
      const auto* object = std::get_if<ast::NameRef>(&m->object->kind);
      if (object != nullptr && object->name.text == event) out->push_back(m->member.text);
    } else if (const auto* c = std::get_if<ast::Call>(&e.kind)) {
      for (const ast::ExprPtr& a : c->args) FieldsRead(*a, event, out);
    } else if (const auto* u = std::get_if<ast::Unary>(&e.kind)) {
      FieldsRead(*u->operand, event, out);
    } else if (const auto* b = std::get_if<ast::Binary>(&e.kind)) {
      FieldsRead(*b->lhs, event, out);
      FieldsRead(*b->rhs, event, out);
    } else if (const auto* mt = std::get_if<ast::Match>(&e.kind)) {
      FieldsRead(*mt->subject, event, out);
      for (const ast::MatchArm& arm : mt->arms) FieldsRead(*arm.value, event, out);
    }
  }

  // ---- Adjustments -------------------------------------------------------------------------

  static std::string Joined(const std::vector<ast::StringLit>& names) {
    std::string out;
    for (const ast::StringLit& n : names) out += (out.empty() ? "" : ", ") + n.value;
    return out;
  }

  Rational Base(const std::vector<ast::StringLit>& charges, const std::vector<WorkLine>& lines) const {
    Rational sum = 0;
    for (const WorkLine& w : lines) {
      if (charges.empty()) {
        sum += w.value;
        continue;
      }
      if (!w.is_charge) continue;
      for (const ast::StringLit& n : charges) {
        if (n.value == w.line.name) sum += w.value;
      }
    }
    return sum;
  }

  std::string AmountText(const ast::Expr& e) const {
    const auto& lit = std::get<ast::Literal>(e.kind);
    std::string n = lit.number.ToString();
    switch (lit.kind) {
      case ast::LiteralKind::kPercent: return n + "%";
      case ast::LiteralKind::kBasisPoints: return n + " bp";
      default: return n + " " + plan_.currency;
    }
  }

  void Discount(const ast::DiscountDecl& d, std::vector<WorkLine>& lines) {
    const auto& lit = std::get<ast::Literal>(d.amount->kind);
    std::string name = "Discount " + AmountText(*d.amount) + (d.charges.empty() ? "" : " on " + Joined(d.charges));
    Rational base = Base(d.charges, lines);
    if (lit.kind == ast::LiteralKind::kPercent || lit.kind == ast::LiteralKind::kBasisPoints) {
      Rational off = base * Literal(*d.amount, lit).number;
      std::optional<Rule> rounding = LineRounding(plan_rule_);
      if (rounding) off = Round(off, rounding->decimals, rounding->mode);
      if (off == 0) return;  // no discount, no line
      WorkLine w = MakeLine("discount", name, {}, -off, std::nullopt);
      if (rounding) w.line.scale = rounding->decimals;
      lines.push_back(std::move(w));
      return;
    }
    Rational amount = FromDecimal(lit.number);
    Rational limit = base > 0 ? base : Rational(0);
    Rational off = amount < limit ? amount : limit;
    if (off == 0) return;
    lines.push_back(MakeLine("discount", name, {}, -off, std::nullopt));
  }

  void Limit(const ast::LimitDecl& l, std::vector<WorkLine>& lines) {
    std::string name = std::string(l.is_minimum ? "Minimum " : "Maximum ") + AmountText(*l.amount) +
                       (l.charges.empty() ? "" : " on " + Joined(l.charges));
    Rational amount = FromDecimal(std::get<ast::Literal>(l.amount->kind).number);
    Rational base = Base(l.charges, lines);
    if (l.is_minimum) {
      Rational share = Share(l.proration ? BasisOf(*l.proration) : plan_proration_);
      if (share != 1) {
        amount *= share;
        std::optional<Rule> rounding = LineRounding(plan_rule_);
        if (rounding) amount = Round(amount, rounding->decimals, rounding->mode);
      }
      if (base < amount) lines.push_back(MakeLine("minimum", name, {}, amount - base, std::nullopt));
      return;
    }
    if (base > amount) lines.push_back(MakeLine("maximum", name, {}, amount - base, std::nullopt));
  }

  const CheckedFile& file_;
  const CheckedPlan& plan_;
  const Options& options_;
  Rule plan_rule_;
  std::string plan_proration_ = "second";
  const CustomerOptions* customer_ = nullptr;
  const std::vector<const UsageRow*>* rows_ = nullptr;
};

}  // namespace

Result Evaluate(const CheckedFile& file, const CheckedPlan& plan, const std::vector<UsageRow>& rows,
                const Options& options) {
  std::map<std::string, std::vector<const UsageRow*>> by_customer;
  for (const UsageRow& row : rows) {
    if (plan.events.count(row.event) == 0) continue;
    by_customer[row.customer].push_back(&row);
  }
  for (const auto& [customer, o] : options.customers) by_customer[customer];
  Result result;
  Evaluator evaluator(file, plan, options);
  try {
    for (const auto& [customer, customer_rows] : by_customer) result.invoices.push_back(evaluator.Rate(customer, customer_rows));
  } catch (const Stop& stop) {
    result.invoices.clear();
    result.error = stop.reason;
  }
  return result;
}

}  // namespace tariff::reference

namespace tariff::reference {

std::optional<Rational> ThresholdOf(const CheckedPlan& plan) {
  for (const ast::PlanItem& item : plan.plan->items) {
    if (const auto* t = std::get_if<ast::ThresholdDecl>(&item.kind)) {
      const auto* lit = std::get_if<ast::Literal>(&t->amount->kind);
      if (lit == nullptr) throw std::logic_error("a threshold that is not a literal amount");
      return FromDecimal(lit->number);
    }
  }
  return std::nullopt;
}

namespace {

using LineKey = std::pair<std::string, std::vector<std::string>>;  // name, group

// Rule 1: a usage line is a charge's line whose charge reads a meter or events.
bool IsUsageLine(const CheckedPlan& plan, const Line& line) {
  if (line.kind != "charge") return false;
  auto it = plan.charges.find(line.name);
  return it != plan.charges.end() && !it->second.recurring;
}

}  // namespace

Result EvaluateProgressive(const CheckedFile& file, const CheckedPlan& plan, const std::vector<UsageRow>& rows,
                           const Options& options, const Rational& threshold) {
  if (!plan.subtotals.empty()) throw std::logic_error("subtotals with progressive billing");
  Result full = Evaluate(file, plan, rows, options);
  if (!full.ok()) return full;
  std::map<std::string, std::vector<std::size_t>> by_customer;  // indexes into rows
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (plan.events.count(rows[i].event) != 0) by_customer[rows[i].customer].push_back(i);
  }
  Result result;
  for (const Invoice& whole : full.invoices) {
    // Rule 2: the customer's events in time order, ties in input order.
    std::vector<std::size_t>& events = by_customer[whole.customer];
    std::sort(events.begin(), events.end(),
              [&](std::size_t a, std::size_t b) { return std::tie(rows[a].time, a) < std::tie(rows[b].time, b); });
    Options one = options;
    one.customers.clear();
    if (auto it = options.customers.find(whole.customer); it != options.customers.end()) one.customers.insert(*it);
    std::map<LineKey, Rational> billed;
    Rational billed_total = 0;
    std::vector<UsageRow> prefix;
    for (std::size_t index : events) {
      const UsageRow& row = rows[index];
      for (Integer n = 1; n <= row.weight; ++n) {
        if (n == 1) {
          prefix.push_back(row);
          prefix.back().weight = 1;
        } else {
          prefix.back().weight = n;
        }
        Result so_far = Evaluate(file, plan, prefix, one);
        if (!so_far.ok()) return so_far;
        const Invoice* rated = nullptr;
        for (const Invoice& inv : so_far.invoices) {
          if (inv.customer == whole.customer) rated = &inv;
        }
        std::vector<const Line*> usage;
        Rational usage_total = 0;
        if (rated != nullptr) {
          for (const Line& l : rated->lines) {
            if (!IsUsageLine(plan, l)) continue;
            usage.push_back(&l);
            usage_total += l.amount;
          }
        }
        if (usage_total - billed_total < threshold) continue;
        // Rule 3: a threshold invoice of what each usage line moved since the last one.
        Invoice t;
        t.customer = whole.customer;
        t.kind = "threshold";
        t.issued_at = row.time;
        std::map<LineKey, Rational> now;
        for (const Line* l : usage) {
          LineKey key{l->name, l->group};
          now[key] += l->amount;
          Rational diff = l->amount - billed[key];
          if (diff == 0) continue;
          t.lines.push_back({"charge", l->name, l->group, diff, diff, l->scale});
        }
        for (const auto& [key, amount] : billed) {
          if (now.count(key) == 0 && amount != 0) t.lines.push_back({"charge", key.first, key.second, -amount, -amount, std::nullopt});
        }
        for (const Line& l : t.lines) t.total += l.amount;
        result.invoices.push_back(std::move(t));
        billed = std::move(now);
        billed_total = usage_total;
      }
    }
    // Rule 4: the closing invoice, each usage line followed by what was billed of it earlier.
    Invoice closing = whole;
    closing.lines.clear();
    std::set<LineKey> settled;
    for (const Line& l : whole.lines) {
      closing.lines.push_back(l);
      if (!IsUsageLine(plan, l)) continue;
      LineKey key{l.name, l.group};
      auto it = billed.find(key);
      if (it == billed.end() || it->second == 0) continue;
      closing.lines.push_back({"billed_earlier", l.name, l.group, -it->second, -it->second, l.scale});
      settled.insert(key);
    }
    for (const auto& [key, amount] : billed) {
      if (amount != 0 && settled.count(key) == 0) throw std::logic_error("a line billed at a threshold is not on the closing invoice");
    }
    closing.total -= billed_total;
    result.invoices.push_back(std::move(closing));
  }
  return result;
}

}  // namespace tariff::reference
