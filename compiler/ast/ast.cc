// compiler/ast: operator tables and the layout-independent dump used by the formatter tests.
#include "compiler/ast/ast.h"

#include <fmt/format.h>

namespace tariff::ast {

const char* BinaryOpSpelling(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kEq: return "==";
    case BinaryOp::kNe: return "!=";
    case BinaryOp::kLt: return "<";
    case BinaryOp::kLe: return "<=";
    case BinaryOp::kGt: return ">";
    case BinaryOp::kGe: return ">=";
    case BinaryOp::kAnd: return "and";
    case BinaryOp::kOr: return "or";
  }
  return "?";
}

int BinaryOpPrecedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr: return 1;
    case BinaryOp::kAnd: return 2;
    case BinaryOp::kEq:
    case BinaryOp::kNe:
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe: return 3;
    case BinaryOp::kAdd:
    case BinaryOp::kSub: return 4;
    case BinaryOp::kMul:
    case BinaryOp::kDiv: return 5;
  }
  return 0;
}

const char* RoundingPointSpelling(RoundingPoint point) {
  switch (point) {
    case RoundingPoint::kEvent: return "event";
    case RoundingPoint::kLine: return "line";
    case RoundingPoint::kInvoice: return "invoice";
  }
  return "?";
}

namespace {

class Dumper {
 public:
  std::string out;

  void Open(const char* tag) { out += fmt::format("({}", tag); }
  void Close() { out += ")"; }
  void Atom(const std::string& s) { out += " " + s; }
  void Quoted(const std::string& s) { out += fmt::format(" {:?}", s); }

  void Unit(const UnitExpr& u) {
    Open("unit");
    for (const auto& f : u.factors) Atom(fmt::format("{}^{}", f.name.text, f.exponent));
    Close();
  }

  void Expr(const ast::Expr* e) {
    if (e == nullptr) {
      Atom("null");
      return;
    }
    out += " ";
    std::visit([this](const auto& k) { Kind(k); }, e->kind);
  }

  void Kind(const Literal& l) {
    switch (l.kind) {
      case LiteralKind::kNumber: Open("number"); Atom(l.number.ToString()); break;
      case LiteralKind::kPercent: Open("percent"); Atom(l.number.ToString()); break;
      case LiteralKind::kBasisPoints: Open("bp"); Atom(l.number.ToString()); break;
      case LiteralKind::kUnit: Open("quantity"); Atom(l.number.ToString()); Unit(l.unit); break;
      case LiteralKind::kRate:
        Open("rate");
        Atom(l.number.ToString());
        Unit(l.unit);
        Atom(l.per_started ? "started" : "pro-rata");
        Atom(l.per ? l.per->ToString() : "1");
        Unit(l.per_unit);
        break;
      case LiteralKind::kString: Open("string"); Quoted(l.text); break;
      case LiteralKind::kBool: Open("bool"); Atom(l.bool_value ? "true" : "false"); break;
      case LiteralKind::kDateTime: Open("datetime"); Atom(l.text); break;
    }
    Close();
  }
  void Kind(const NameRef& n) { Open("name"); Atom(n.name.text); Close(); }
  void Kind(const Member& m) { Open("member"); Expr(m.object.get()); Atom(m.member.text); Close(); }
  void Kind(const Call& c) {
    Open("call");
    Atom(c.callee.text);
    for (const auto& a : c.args) Expr(a.get());
    Close();
  }
  void Kind(const Unary& u) { Open(u.op == UnaryOp::kNot ? "not" : "neg"); Expr(u.operand.get()); Close(); }
  void Kind(const Binary& b) { Open(BinaryOpSpelling(b.op)); Expr(b.lhs.get()); Expr(b.rhs.get()); Close(); }
  void Kind(const Match& m) {
    Open("match");
    Expr(m.subject.get());
    for (const auto& arm : m.arms) {
      out += " ";
      Open(arm.is_else ? "else" : "case");
      for (const auto& p : arm.patterns) Quoted(p.value);
      Expr(arm.value.get());
      Close();
    }
    Close();
  }

  void Rounding(const RoundingSpec& r) {
    out += " ";
    Open("rounding");
    Atom(r.mode.text);
    Atom(r.decimals ? std::to_string(*r.decimals) : "minor");
    Atom(RoundingPointSpelling(r.point));
    Close();
  }
  void Proration(const ProrationSpec& p) {
    out += " ";
    Open("proration");
    Atom(p.prorated ? p.basis.text : "none");
    Close();
  }
  void Strings(const std::vector<StringLit>& v) {
    for (const auto& s : v) Quoted(s.value);
  }
  void Fields(const std::vector<FieldDecl>& fields) {
    for (const auto& f : fields) {
      out += " ";
      Open("field");
      Atom(f.name.text);
      out += " ";
      switch (f.type.kind) {
        case TypeSpec::Kind::kNamed: Open("type"); Atom(f.type.named.text); Close(); break;
        case TypeSpec::Kind::kQuantity: Open("quantity-of"); out += " "; Unit(f.type.unit); Close(); break;
        case TypeSpec::Kind::kEnum: Open("one-of"); Strings(f.type.values); Close(); break;
      }
      Close();
    }
  }
  void Inits(const std::vector<FieldInit>& inits) {
    for (const auto& i : inits) {
      out += " ";
      Open("set");
      Atom(i.name.text);
      Expr(i.value.get());
      Close();
    }
  }

  void Item(const CurrencyDecl& d) { Open("currency"); Atom(d.code.text); Close(); }
  void Item(const PeriodDecl& d) {
    Open("period");
    Atom(d.count ? d.count->ToString() : "1");
    Atom(d.length.text);
    if (d.anchor) Atom("anchor=" + d.anchor->text);
    if (d.timezone) Quoted(d.timezone->value);
    Close();
  }
  void Item(const RoundingDecl& d) { Rounding(d.spec); }
  void Item(const ProrationDecl& d) { Proration(d.spec); }
  void Item(const UnitDecl& d) {
    Open("units");
    for (const auto& n : d.names) Atom(n.text);
    Close();
  }
  void Item(const EventDecl& d) {
    Open("event");
    Atom(d.name.text);
    if (d.key) Atom("key=" + d.key->text);
    Fields(d.fields);
    Close();
  }
  void Item(const SubscriptionDecl& d) { Open("subscription"); Fields(d.fields); Close(); }
  void Item(const MeterDecl& d) {
    Open("meter");
    Atom(d.name.text);
    Expr(d.value.get());
    if (d.where) Expr(d.where.get());
    Close();
  }
  void Item(const ChargeDecl& d) {
    Open("charge");
    Quoted(d.name.value);
    for (const auto& g : d.group_by) {
      out += " ";
      Open("by");
      Expr(g.get());
      Close();
    }
    const Pricing& p = d.pricing;
    out += " ";
    switch (p.kind) {
      case PricingKind::kFormula: Open("formula"); Expr(p.value.get()); break;
      case PricingKind::kPerEvent:
        Open("each");
        Atom(p.event.text);
        if (p.where) Expr(p.where.get());
        Expr(p.value.get());
        break;
      case PricingKind::kGraduated:
      case PricingKind::kVolume:
        Open(p.kind == PricingKind::kGraduated ? "graduated" : "volume");
        Expr(p.value.get());
        for (const auto& t : p.tiers) {
          out += " ";
          Open(t.above ? "above" : "up-to");
          if (!t.above) Expr(t.bound.get());
          if (t.free) Atom("free");
          for (const auto& term : t.terms) {
            out += " ";
            Open(term.flat ? "flat" : "price");
            Expr(term.value.get());
            Close();
          }
          Close();
        }
        if (p.beyond != Beyond::kNone) {
          out += " ";
          Open("beyond");
          Atom(p.beyond == Beyond::kLastPrice ? "last-price" : "error");
          Close();
        }
        break;
    }
    Close();
    for (const auto& o : d.options) {
      switch (o.kind) {
        case ChargeOptionKind::kRounding: Rounding(o.rounding); break;
        case ChargeOptionKind::kProration: Proration(o.proration); break;
        case ChargeOptionKind::kIncluded: out += " "; Open("included"); Expr(o.first.get()); Close(); break;
        case ChargeOptionKind::kFreeFirst:
          out += " ";
          Open("free-first");
          Expr(o.first.get());
          if (o.second) Expr(o.second.get());
          Close();
          break;
        case ChargeOptionKind::kFlatAtZero: out += " "; Open("flat-at-zero"); Atom(o.flag ? "yes" : "no"); Close(); break;
        case ChargeOptionKind::kAllocated:
          out += " ";
          Open("allocated");
          Expr(o.first.get());
          Atom(o.proportion.text);
          Close();
          break;
        case ChargeOptionKind::kInAdvance: out += " "; Open("in-advance"); Close(); break;
        case ChargeOptionKind::kAllow:
          out += " ";
          Open("allow");
          for (const auto& n : o.names) Atom(n.text);
          Close();
          break;
      }
    }
    Close();
  }
  void Item(const DiscountDecl& d) { Open("discount"); Expr(d.amount.get()); Strings(d.charges); Close(); }
  void Item(const SubtotalDecl& d) { Open("subtotal"); Strings({d.name}); Strings(d.parts); Close(); }
  void Item(const LimitDecl& d) {
    Open(d.is_minimum ? "minimum" : "maximum");
    Expr(d.amount.get());
    Strings(d.charges);
    if (d.proration) Proration(*d.proration);
    Close();
  }
  void Item(const CreditsDecl& d) {
    Open("credits");
    for (const auto& n : d.order) Atom(n.text);
    Close();
  }
  void Item(const ChangeDecl& d) { Open("on-change"); Atom(d.policy ? d.policy->text : "next-period"); Close(); }
  void Item(const ProrateDecl& d) { Open("on-change-prorate"); Atom(d.behavior.text); Close(); }
  void Item(const ThresholdDecl& d) {
    Open("invoice-when-usage-reaches");
    Expr(d.amount.get());
    Close();
  }
  void Item(const AllowDecl& d) {
    Open("allow");
    for (const auto& n : d.names) Atom(n.text);
    Close();
  }
  void Item(const TestDecl& d) {
    Open("test");
    Quoted(d.name.value);
    if (d.from) Atom(d.from->text + ".." + d.to->text);
    for (const auto& s : d.stmts) {
      out += " ";
      std::visit([this](const auto& k) { Stmt(k); }, s.kind);
    }
    Close();
  }
  void Stmt(const UsageFile& u) { Open("usage-file"); Quoted(u.path.value); Close(); }
  void Stmt(const InvoiceBlock& b) {
    Open("invoice");
    Atom(b.start.text);
    for (const auto& s : b.stmts) {
      out += " ";
      std::visit([this](const auto& k) { Stmt(k); }, s.kind);
    }
    Close();
  }
  void Stmt(const UsageEvents& u) {
    Open("usage");
    Atom(u.event.text);
    Atom(u.count ? u.count->ToString() : "1");
    if (u.at) Atom("at=" + u.at->text);
    Inits(u.fields);
    Close();
  }
  void Stmt(const TestSubscription& s) { Open("subscription"); Inits(s.fields); Close(); }
  void Stmt(const TestContract& s) { Open("contract"); Inits(s.fields); Close(); }
  void Stmt(const TestCredit& c) {
    Open("credit");
    Quoted(c.id.value);
    Expr(c.amount.get());
    if (c.expires) Atom("expires=" + c.expires->text);
    if (c.priority) Atom("priority=" + c.priority->ToString());
    Close();
  }
  void Stmt(const Expectation& e) {
    Open("expect");
    if (e.credit) Atom("credit-remaining");
    if (e.meter) Atom("meter=" + e.meter->text);
    else if (e.threshold_at) Atom("threshold-invoice=" + e.threshold_at->text);
    else if (e.charge) Quoted(e.charge->value);
    else Atom("total");
    Strings(e.group);
    if (e.from) Atom("from=" + e.from->text);
    Expr(e.value.get());
    Close();
  }
};

}  // namespace

std::string Dump(const File& file) {
  Dumper d;
  for (const Plan& plan : file.plans) {
    d.Open("plan");
    d.Quoted(plan.name.value);
    if (plan.version) d.Atom("version=" + plan.version->ToString());
    if (plan.effective) d.Atom("effective=" + plan.effective->text);
    for (const PlanItem& item : plan.items) {
      d.out += "\n  ";
      std::visit([&d](const auto& k) { d.Item(k); }, item.kind);
    }
    d.Close();
    d.out += "\n";
  }
  return d.out;
}

namespace {
std::string AmountText(const ExprPtr& amount, std::string_view source) {
  if (amount == nullptr || amount->span.end > source.size() || amount->span.end < amount->span.begin) return "";
  return std::string(source.substr(amount->span.begin, amount->span.end - amount->span.begin));
}
std::string ChargesText(const std::vector<StringLit>& charges) {
  std::string on;
  for (const StringLit& s : charges) on += (on.empty() ? "" : ", ") + s.value;
  return on;
}
}  // namespace

std::string AdjustmentName(const DiscountDecl& d, std::string_view source) {
  return "Discount " + AmountText(d.amount, source) + " on " + ChargesText(d.charges);
}

std::string AdjustmentName(const LimitDecl& d, std::string_view source) {
  const std::string on = ChargesText(d.charges);
  return std::string(d.is_minimum ? "Minimum " : "Maximum ") + AmountText(d.amount, source) + (on.empty() ? "" : " on " + on);
}

}  // namespace tariff::ast
