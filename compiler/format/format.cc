// compiler/format: prints the AST line by line, remembering which source bytes each output
// line came from, then places the comments and blank lines by those source ranges.
#include "compiler/format/format.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <variant>
#include <vector>

namespace tariff {
namespace {

constexpr std::uint32_t kNoOffset = std::numeric_limits<std::uint32_t>::max();

// One output line of code, before comments are placed.
struct Line {
  int indent = 0;
  std::string text;
  std::uint32_t begin = kNoOffset;  // source range of the tokens printed on this line
  std::uint32_t end = 0;
  bool closer = false;      // starts with a `}` that closes a block
  bool plan_start = false;  // `plan "…" {`
  bool plan_end = false;    // the `}` of a plan
};

// One line of the final text: code (with its trailing comments) or an own-line comment.
struct OutLine {
  int indent = 0;
  std::string text;
  std::uint32_t begin = kNoOffset;
  std::uint32_t end = 0;
  bool opens = false;  // its code ends with `{`: no blank line after it
  bool closer = false;
  bool plan_start = false;  // a plan header, or a comment placed right before one
  bool plan_end = false;
};

std::size_t CodePoints(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c; break;
    }
  }
  out += '"';
  return out;
}

bool IsLineComment(const Comment& c) { return c.text.rfind("//", 0) == 0; }

std::string CommentText(const Comment& c) {
  std::string text = c.text;
  if (IsLineComment(c)) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.pop_back();
    return text;
  }
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

class Printer {
 public:
  Printer(const std::vector<Comment>& comments, std::string_view text) : comments_(comments), text_(text) {}

  std::string Run(const ast::File& file) {
    for (const ast::Plan& plan : file.plans) Plan(plan);
    return Assemble();
  }

 private:
  // ---- building lines ----------------------------------------------------------------------

  void StartLine(int indent, std::uint32_t at) {
    lines_.push_back(Line{});
    lines_.back().indent = indent;
    Touch(at, at);
  }
  int Indent() const { return lines_.back().indent; }

  void Touch(std::uint32_t begin, std::uint32_t end) {
    if (begin > end || end > text_.size()) return;
    Line& line = lines_.back();
    line.begin = std::min(line.begin, begin);
    line.end = std::max(line.end, end);
  }
  void Put(std::string_view s) { lines_.back().text += s; }
  void Put(std::string_view s, const Span& span) {
    Put(s);
    Touch(span.begin, span.end);
  }
  // A `}` closing a block opened at `indent`; what follows it continues on this line.
  void Closer(int indent, const Span& owner) {
    std::uint32_t at = owner.end > 0 ? owner.end - 1 : 0;
    StartLine(indent, at);
    lines_.back().closer = true;
    Put("}", Span{owner.file, at, owner.end});
  }

  std::string_view Source(const Span& span) const {
    if (span.end <= span.begin || span.end > text_.size()) return {};
    return text_.substr(span.begin, span.end - span.begin);
  }
  // A number as written; the value is the fallback when the span is missing.
  std::string NumberText(const Decimal& value, const Span& span) const {
    std::string_view s = Source(span);
    return s.empty() ? value.ToString() : std::string(s);
  }
  bool NewlineBetween(std::uint32_t a, std::uint32_t b) const {
    if (a >= b || b > text_.size()) return false;
    return text_.substr(a, b - a).find('\n') != std::string_view::npos;
  }
  // Offset of the next token at or after `from`, past white space and comments.
  std::uint32_t NextToken(std::uint32_t from) const {
    std::size_t pos = from;
    while (pos < text_.size()) {
      if (text_[pos] == ' ' || text_[pos] == '\t' || text_[pos] == '\r' || text_[pos] == '\n') {
        ++pos;
      } else if (text_.compare(pos, 2, "//") == 0) {
        pos = text_.find('\n', pos);
        if (pos == std::string_view::npos) pos = text_.size();
      } else if (text_.compare(pos, 2, "/*") == 0) {
        std::size_t close = text_.find("*/", pos + 2);
        pos = close == std::string_view::npos ? text_.size() : close + 2;
      } else {
        break;
      }
    }
    return static_cast<std::uint32_t>(pos);
  }
  // Prints punctuation that the AST does not record (`{`, `=`, `:`), touching its position so
  // that comments around it are placed on the right side of it.
  void Punct(std::string_view s, char c, std::uint32_t after) {
    std::uint32_t at = NextToken(after);
    if (at < text_.size() && text_[at] == c) {
      Put(s, Span{FileId{}, at, at + 1});
    } else {
      Put(s);
    }
  }

  bool OnlySpace(std::uint32_t a, std::uint32_t b) const {
    if (a > b || b > text_.size()) return false;
    return text_.substr(a, b - a).find_first_not_of(" \t\r\n") == std::string_view::npos;
  }
  bool HasCommentIn(const Span& span) const {
    return std::any_of(comments_.begin(), comments_.end(), [&](const Comment& c) {
      return c.span.begin >= span.begin && c.span.end <= span.end;
    });
  }

  // ---- literals and units -------------------------------------------------------------------

  // `GB·h`, `B/s`, `GB*h`: `/` for a negative exponent, otherwise the separator as written
  // (a unit right after a number only allows `·`).
  std::string UnitText(const ast::UnitExpr& unit, bool atom) const {
    std::string out;
    for (std::size_t i = 0; i < unit.factors.size(); ++i) {
      const auto& f = unit.factors[i];
      if (i > 0) {
        if (f.exponent < 0) {
          out += "/";
        } else if (atom) {
          out += "·";
        } else {
          Span between{f.name.span.file, unit.factors[i - 1].name.span.end, f.name.span.begin};
          out += Source(between).find('*') != std::string_view::npos ? "*" : "·";
        }
      }
      out += f.name.text;
    }
    return out;
  }

  // The N of `per N unit`, which the AST keeps only as a value: the last number-like word
  // between the literal's first number and the unit after `per`, skipping comments.
  std::string PerText(const ast::Literal& lit) const {
    std::uint32_t pos = lit.number_span.end;
    std::uint32_t stop = lit.per_unit.span.begin;
    std::string last;
    while (pos < stop && stop <= text_.size()) {
      char c = text_[pos];
      if (text_.compare(pos, 2, "//") == 0) {
        while (pos < stop && text_[pos] != '\n') ++pos;
      } else if (text_.compare(pos, 2, "/*") == 0) {
        std::size_t close = text_.find("*/", pos + 2);
        pos = close == std::string_view::npos ? stop : static_cast<std::uint32_t>(close + 2);
      } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.') {
        std::uint32_t start = pos;
        while (pos < stop && ((text_[pos] >= '0' && text_[pos] <= '9') || (text_[pos] >= 'a' && text_[pos] <= 'z') ||
                              (text_[pos] >= 'A' && text_[pos] <= 'Z') || text_[pos] == '_' || text_[pos] == '.')) {
          ++pos;
        }
        last = std::string(text_.substr(start, pos - start));
      } else {
        ++pos;
      }
    }
    if (!last.empty() && last[0] >= '0' && last[0] <= '9') return last;
    return lit.per ? lit.per->ToString() : "1";
  }

  std::string LiteralText(const ast::Literal& lit) const {
    using K = ast::LiteralKind;
    switch (lit.kind) {
      case K::kNumber: return NumberText(lit.number, lit.number_span);
      case K::kPercent: return NumberText(lit.number, lit.number_span) + "%";
      case K::kBasisPoints: return NumberText(lit.number, lit.number_span) + " bp";
      case K::kUnit: return NumberText(lit.number, lit.number_span) + " " + UnitText(lit.unit, true);
      case K::kRate: {
        std::string out = NumberText(lit.number, lit.number_span) + " " + UnitText(lit.unit, true) + " per";
        if (lit.per_started) out += " started";
        if (lit.per) out += " " + PerText(lit);
        return out + " " + UnitText(lit.per_unit, false);
      }
      case K::kString: return Quote(lit.text);
      case K::kBool: return lit.bool_value ? "true" : "false";
      case K::kDateTime: return lit.text;
    }
    return "";
  }

  void Name(const ast::Name& n) { Put(n.text, n.span); }
  void String(const ast::StringLit& s) { Put(Quote(s.value), s.span); }
  void Strings(const std::vector<ast::StringLit>& strings) {
    for (std::size_t i = 0; i < strings.size(); ++i) {
      if (i > 0) Put(", ");
      String(strings[i]);
    }
  }
  void Names(const std::vector<ast::Name>& names) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) Put(", ");
      Name(names[i]);
    }
  }

  // ---- expressions --------------------------------------------------------------------------

  static const ast::Binary* AsBinary(const ast::Expr* e) { return e ? std::get_if<ast::Binary>(&e->kind) : nullptr; }

  // Parentheses only where the grammar would read the text differently without them
  // (operators are left-associative, unary binds tighter than every binary operator, and `.`
  // tighter still), and around `and` inside `or` (MixesAndOr).
  void Operand(const ast::Expr* e, bool parens) {
    if (parens) Put("(");
    Expr(e);
    if (parens) Put(")");
  }

  void Expr(const ast::Expr* e) {
    if (e == nullptr) return;
    std::visit([this, e](const auto& k) { Kind(*e, k); }, e->kind);
  }

  void Kind(const ast::Expr& e, const ast::Literal& lit) { Put(LiteralText(lit), e.span); }
  void Kind(const ast::Expr&, const ast::NameRef& n) { Name(n.name); }
  void Kind(const ast::Expr&, const ast::Member& m) {
    const auto* obj = m.object.get();
    bool simple = obj != nullptr && (std::holds_alternative<ast::NameRef>(obj->kind) ||
                                     std::holds_alternative<ast::Member>(obj->kind) ||
                                     std::holds_alternative<ast::Call>(obj->kind));
    Operand(obj, !simple);
    Put(".");
    Name(m.member);
  }
  void Kind(const ast::Expr& e, const ast::Call& c) {
    Name(c.callee);
    Put("(");
    for (std::size_t i = 0; i < c.args.size(); ++i) {
      if (i > 0) Put(", ");
      Expr(c.args[i].get());
    }
    Put(")", Span{e.span.file, e.span.end > 0 ? e.span.end - 1 : 0, e.span.end});
  }
  void Kind(const ast::Expr& e, const ast::Unary& u) {
    Put(u.op == ast::UnaryOp::kNot ? "not " : "-", Span{e.span.file, e.span.begin, e.span.begin});
    // `-(-x)`, not `--x`.
    bool nested_negate = u.op == ast::UnaryOp::kNegate && u.operand != nullptr &&
                         std::holds_alternative<ast::Unary>(u.operand->kind);
    Operand(u.operand.get(), AsBinary(u.operand.get()) != nullptr || nested_negate);
  }
  // `and` inside `or`: parenthesized although `and` binds tighter, so that a reader never has to
  // know which does — `(a and b) or c` stays as written, and `a and b or c` gains them. (The
  // tree is the same either way; only the text is clearer.)
  static bool MixesAndOr(ast::BinaryOp outer, const ast::Binary* inner) {
    return inner != nullptr && outer == ast::BinaryOp::kOr && inner->op == ast::BinaryOp::kAnd;
  }

  // An author's line break around a binary operator is kept: the operator starts the next line,
  // indented two levels past the line the expression started on (`where a > 1\n    and b < 2`),
  // wherever the author put the break (before or after the operator). A long expression keeps
  // the shape it was given; one written on one line stays on one line.
  bool BreakBefore(const ast::Binary& b) const {
    if (b.lhs == nullptr || b.rhs == nullptr) return false;
    return NewlineBetween(b.lhs->span.end, b.op_span.begin) || NewlineBetween(b.op_span.end, b.rhs->span.begin);
  }

  void Kind(const ast::Expr&, const ast::Binary& b) {
    int prec = ast::BinaryOpPrecedence(b.op);
    const ast::Binary* lhs = AsBinary(b.lhs.get());
    const ast::Binary* rhs = AsBinary(b.rhs.get());
    const bool outermost = continuation_ < 0;
    if (outermost) continuation_ = Indent() + 2;
    Operand(b.lhs.get(), (lhs != nullptr && ast::BinaryOpPrecedence(lhs->op) < prec) || MixesAndOr(b.op, lhs));
    if (BreakBefore(b)) {
      StartLine(continuation_, b.op_span.begin);
    } else {
      Put(" ");
    }
    Put(ast::BinaryOpSpelling(b.op), b.op_span);
    Put(" ");
    Operand(b.rhs.get(), (rhs != nullptr && ast::BinaryOpPrecedence(rhs->op) <= prec) || MixesAndOr(b.op, rhs));
    if (outermost) continuation_ = -1;
  }
  void Kind(const ast::Expr& e, const ast::Match& m) {
    // Its arms are lines of their own: an expression in one continues from the arm's line.
    const int outer = continuation_;
    continuation_ = -1;
    MatchBody(e, m);
    continuation_ = outer;
  }
  void MatchBody(const ast::Expr& e, const ast::Match& m) {
    Put("match ");
    Expr(m.subject.get());
    Punct(" {", '{', m.subject ? m.subject->span.end : e.span.begin);
    int base = Indent();
    for (const ast::MatchArm& arm : m.arms) {
      StartLine(base + 1, arm.span.begin);
      if (arm.is_else) {
        Put("else");
      } else {
        Strings(arm.patterns);
      }
      Put(": ");
      Expr(arm.value.get());
    }
    Closer(base, e.span);
  }

  // ---- plan items ---------------------------------------------------------------------------

  void Plan(const ast::Plan& plan) {
    StartLine(0, plan.span.begin);
    lines_.back().plan_start = true;
    Put("plan ");
    String(plan.name);
    if (plan.version) {
      Put(" version ");
      Put(NumberText(*plan.version, plan.version_span), plan.version_span);
      if (plan.effective) {
        Put(" effective ");
        Put(plan.effective->text, plan.effective->span);
      }
    }
    if (plan.items.empty() && !HasCommentIn(Span{plan.span.file, plan.open_brace.begin, plan.span.end})) {
      Put(" {}", plan.span);
      lines_.back().plan_end = true;
      return;
    }
    Put(" {", plan.open_brace);
    for (const ast::PlanItem& item : plan.items) {
      std::visit([this, &item](const auto& k) { Item(item, k); }, item.kind);
    }
    Closer(0, plan.span);
    lines_.back().plan_end = true;
  }

  void Rounding(const ast::RoundingSpec& r) {
    Put("rounding ", Span{r.span.file, r.span.begin, r.span.begin});
    Name(r.mode);
    if (r.decimals) {
      Put(" to ");
      std::string_view written = Source(r.decimals_span);
      Put(written.empty() ? std::to_string(*r.decimals) : std::string(written), r.decimals_span);
      Put(" decimals");
    }
    Put(" per ");
    Put(ast::RoundingPointSpelling(r.point), r.span);
  }
  void Proration(const ast::ProrationSpec& p) {
    if (p.prorated) {
      Put("prorated by ");
      Name(p.basis);
    } else {
      Put("not prorated", p.span);
    }
  }

  void Item(const ast::PlanItem& item, const ast::CurrencyDecl& d) {
    StartLine(1, item.span.begin);
    Put("currency ");
    Name(d.code);
  }
  void Item(const ast::PlanItem& item, const ast::PeriodDecl& d) {
    StartLine(1, item.span.begin);
    Put("period ");
    if (d.count) Put(NumberText(*d.count, d.count_span) + " ", d.count_span);
    Name(d.length);
    if (d.anchor) {
      Put(" anchor ");
      Put(d.anchor->text, d.anchor->span);
    }
    if (d.timezone) {
      Put(" timezone ");
      String(*d.timezone);
    }
  }
  void Item(const ast::PlanItem& item, const ast::RoundingDecl& d) {
    StartLine(1, item.span.begin);
    Rounding(d.spec);
  }
  void Item(const ast::PlanItem& item, const ast::ProrationDecl& d) {
    StartLine(1, item.span.begin);
    if (d.spec.prorated) {
      Put("proration by ");
      Name(d.spec.basis);
    } else {
      Put("proration none", item.span);
    }
  }
  void Item(const ast::PlanItem& item, const ast::UnitDecl& d) {
    StartLine(1, item.span.begin);
    Put("unit ");
    Names(d.names);
  }
  void Fields(const std::vector<ast::FieldDecl>& fields, int indent) {
    for (const ast::FieldDecl& f : fields) {
      StartLine(indent, f.span.begin);
      Name(f.name);
      Put(": ");
      switch (f.type.kind) {
        case ast::TypeSpec::Kind::kNamed: Name(f.type.named); break;
        case ast::TypeSpec::Kind::kQuantity: Put("quantity of " + UnitText(f.type.unit, false), f.type.span); break;
        case ast::TypeSpec::Kind::kEnum:
          Put("one of ");
          Strings(f.type.values);
          break;
      }
    }
  }
  // ` {` + fields + `}`, or ` {}` when there is nothing inside the braces, not even a comment (a
  // comment before the `{` goes before or after the line, like any other).
  void FieldBlock(const std::vector<ast::FieldDecl>& fields, const Span& owner, std::uint32_t after) {
    if (fields.empty() && !HasCommentIn(Span{owner.file, NextToken(after), owner.end})) {
      Put(" {}", owner);
      return;
    }
    Punct(" {", '{', after);
    Fields(fields, 2);
    Closer(1, owner);
  }
  void Item(const ast::PlanItem& item, const ast::EventDecl& d) {
    StartLine(1, item.span.begin);
    Put("event ");
    Name(d.name);
    if (d.key) {
      Put(" key ");
      Name(*d.key);
    }
    FieldBlock(d.fields, item.span, d.key ? d.key->span.end : d.name.span.end);
  }
  void Item(const ast::PlanItem& item, const ast::SubscriptionDecl& d) {
    StartLine(1, item.span.begin);
    Put("subscription", Span{item.span.file, item.span.begin, item.span.begin + 12});
    FieldBlock(d.fields, item.span, item.span.begin + 12);
  }
  void Item(const ast::PlanItem& item, const ast::MeterDecl& d) {
    StartLine(1, item.span.begin);
    Put("meter ");
    Name(d.name);
    Put(" = ");
    Expr(d.value.get());
    if (d.where) {
      Put(" where ");
      Expr(d.where.get());
    }
  }

  std::string TierLeft(const ast::Tier& t) const {
    if (t.above || t.bound == nullptr) return "above";
    const auto* lit = std::get_if<ast::Literal>(&t.bound->kind);
    return "up to " + (lit ? LiteralText(*lit) : std::string());
  }
  std::string TierPrice(const ast::Tier& t) const {
    if (t.free) return "free";
    std::string out;
    for (std::size_t i = 0; i < t.terms.size(); ++i) {
      if (i > 0) out += " + ";
      const auto* lit = t.terms[i].value ? std::get_if<ast::Literal>(&t.terms[i].value->kind) : nullptr;
      if (lit) out += LiteralText(*lit);
      if (t.terms[i].flat) out += " flat";
    }
    return out;
  }

  // The tiers, then the `beyond:` rule as a row of the same table (`beyond:  last price`).
  void Tiers(const ast::Pricing& p, int indent) {
    static const std::string kBeyond = "beyond:";
    std::size_t width = p.beyond == ast::Beyond::kNone ? 0 : kBeyond.size();
    for (const ast::Tier& t : p.tiers) width = std::max(width, CodePoints(TierLeft(t)));
    for (const ast::Tier& t : p.tiers) {
      StartLine(indent, t.span.begin);
      std::string left = TierLeft(t);
      Put(left + std::string(width + 2 - CodePoints(left), ' ') + TierPrice(t), t.span);
    }
    if (p.beyond != ast::Beyond::kNone) {
      StartLine(indent, p.beyond_span.begin);
      Put(kBeyond + std::string(width + 2 - kBeyond.size(), ' ') + (p.beyond == ast::Beyond::kError ? "error" : "last price"),
          p.beyond_span);
    }
  }

  void ChargeOption(const ast::ChargeOption& o) {
    switch (o.kind) {
      case ast::ChargeOptionKind::kRounding: Rounding(o.rounding); break;
      case ast::ChargeOptionKind::kProration: Proration(o.proration); break;
      case ast::ChargeOptionKind::kIncluded:
        Put("included ", Span{o.span.file, o.span.begin, o.span.begin});
        Expr(o.first.get());
        break;
      case ast::ChargeOptionKind::kFreeFirst:
        Put("free first ", Span{o.span.file, o.span.begin, o.span.begin});
        Expr(o.first.get());
        if (o.second) {
          Put(" or ");
          Expr(o.second.get());
        }
        break;
      case ast::ChargeOptionKind::kFlatAtZero: Put(o.flag ? "flat at zero" : "no flat at zero", o.span); break;
      case ast::ChargeOptionKind::kAllocated:
        Put("allocated by ", Span{o.span.file, o.span.begin, o.span.begin});
        Expr(o.first.get());
        Put(" in proportion to ");
        Name(o.proportion);
        break;
      case ast::ChargeOptionKind::kInAdvance: Put("billed in advance", o.span); break;
      case ast::ChargeOptionKind::kAllow:
        Put("allow ", Span{o.span.file, o.span.begin, o.span.begin});
        Names(o.names);
        break;
    }
  }

  void Item(const ast::PlanItem& item, const ast::ChargeDecl& d) {
    StartLine(1, item.span.begin);
    Put("charge ");
    String(d.name);
    std::uint32_t header_end = d.name.span.end;
    if (!d.group_by.empty()) {
      Put(" by ");
      for (std::size_t i = 0; i < d.group_by.size(); ++i) {
        if (i > 0) Put(", ");
        Expr(d.group_by[i].get());
      }
      header_end = d.group_by.back()->span.end;
    }
    Punct(" =", '=', header_end);
    const ast::Pricing& p = d.pricing;
    // The author's line breaks at the three soft places are kept (see format.h).
    if (NewlineBetween(header_end, p.span.begin)) {
      StartLine(2, p.span.begin);
    } else {
      Put(" ");
    }
    switch (p.kind) {
      case ast::PricingKind::kFormula: Expr(p.value.get()); break;
      case ast::PricingKind::kGraduated:
      case ast::PricingKind::kVolume: {
        Put(p.kind == ast::PricingKind::kGraduated ? "graduated " : "volume ", Span{p.span.file, p.span.begin, p.span.begin});
        Expr(p.value.get());
        Punct(" {", '{', p.value ? p.value->span.end : p.span.begin);
        int base = Indent();
        Tiers(p, base + 1);
        Closer(base, p.span);
        break;
      }
      case ast::PricingKind::kPerEvent: {
        Put("each ", Span{p.span.file, p.span.begin, p.span.begin});
        Name(p.event);
        std::uint32_t colon_before = p.event.span.end;
        if (p.where) {
          Put(" where ");
          Expr(p.where.get());
          colon_before = p.where->span.end;
        }
        std::uint32_t colon = NextToken(colon_before);
        Punct(":", ':', colon_before);
        if (p.value != nullptr && NewlineBetween(colon_before, p.value->span.begin)) {
          StartLine(2, std::min(p.value->span.begin, NextToken(colon + 1)));
        } else {
          Put(" ");
        }
        Expr(p.value.get());
        break;
      }
    }
    if (!d.options.empty()) {
      bool tiered = p.kind == ast::PricingKind::kGraduated || p.kind == ast::PricingKind::kVolume;
      for (std::size_t i = 0; i < d.options.size(); ++i) {
        const ast::ChargeOption& o = d.options[i];
        const std::uint32_t before = i > 0 ? d.options[i - 1].span.end : p.span.end;
        // A break before the first option is kept (not after a tier table's `}`); `allocated
        // by …` is long: a break the author made before it is kept wherever it stands.
        const bool allocated_break = o.kind == ast::ChargeOptionKind::kAllocated && NewlineBetween(before, o.span.begin);
        const bool first_break = i == 0 && !tiered && NewlineBetween(before, o.span.begin);
        if (allocated_break || first_break) {
          StartLine(2, o.span.begin);
        } else {
          Put(" ");
        }
        ChargeOption(d.options[i]);
      }
    }
  }

  void Item(const ast::PlanItem& item, const ast::DiscountDecl& d) {
    StartLine(1, item.span.begin);
    Put("discount ");
    Expr(d.amount.get());
    Put(" on ");
    Strings(d.charges);
  }
  void Item(const ast::PlanItem& item, const ast::SubtotalDecl& d) {
    StartLine(1, item.span.begin);
    Put("subtotal ");
    String(d.name);
    Put(" of ");
    Strings(d.parts);
  }
  void Item(const ast::PlanItem& item, const ast::LimitDecl& d) {
    StartLine(1, item.span.begin);
    Put(d.is_minimum ? "minimum " : "maximum ");
    Expr(d.amount.get());
    if (!d.charges.empty()) {
      Put(" on ");
      Strings(d.charges);
    }
    if (d.proration) {
      Put(" ");
      Proration(*d.proration);
    }
  }
  void Item(const ast::PlanItem& item, const ast::CreditsDecl& d) {
    StartLine(1, item.span.begin);
    Put("credits drawn by ");
    Names(d.order);
  }
  void Item(const ast::PlanItem& item, const ast::ProrateDecl& d) {
    StartLine(1, item.span.begin);
    Put("on change prorate ");
    Name(d.behavior);
  }
  void Item(const ast::PlanItem& item, const ast::ThresholdDecl& d) {
    StartLine(1, item.span.begin);
    Put("invoice when usage reaches ");
    Expr(d.amount.get());
  }
  void Item(const ast::PlanItem& item, const ast::ChangeDecl& d) {
    StartLine(1, item.span.begin);
    Put("on change ");
    if (d.policy) {
      Name(*d.policy);
    } else {
      Put("next period", item.span);
    }
  }
  void Item(const ast::PlanItem& item, const ast::AllowDecl& d) {
    StartLine(1, item.span.begin);
    Put("allow ");
    Names(d.names);
  }

  void Inits(const std::vector<ast::FieldInit>& inits) {
    for (std::size_t i = 0; i < inits.size(); ++i) {
      if (i > 0) Put(", ");
      Name(inits[i].name);
      Put(" = ");
      Expr(inits[i].value.get());
    }
  }
  void Stmt(const ast::TestStmt& s, const ast::UsageFile& u) {
    Put("usage from ", Span{s.span.file, s.span.begin, s.span.begin});
    String(u.path);
  }
  void Stmt(const ast::TestStmt& s, const ast::UsageEvents& u) {
    Put("usage ", Span{s.span.file, s.span.begin, s.span.begin});
    Name(u.event);
    if (u.count) Put(" x " + NumberText(*u.count, u.count_span), u.count_span);
    if (u.at) {
      Put(" at ");
      Put(u.at->text, u.at->span);
    }
    if (!u.fields.empty()) {
      Put(" { ");
      Inits(u.fields);
      Put(" }", Span{s.span.file, s.span.end > 0 ? s.span.end - 1 : 0, s.span.end});  // the `}` only: a statement broken over lines keeps each token on its own line's range
    }
  }
  void Stmt(const ast::TestStmt& s, const ast::TestSubscription& t) {
    Put("subscription", Span{s.span.file, s.span.begin, s.span.begin});
    if (t.fields.empty()) {
      Put(" {}", s.span);
      return;
    }
    Put(" { ");
    Inits(t.fields);
    Put(" }", Span{s.span.file, s.span.end > 0 ? s.span.end - 1 : 0, s.span.end});  // the `}` only: a statement broken over lines keeps each token on its own line's range
  }
  void Stmt(const ast::TestStmt& s, const ast::TestContract& t) {
    Put("contract", Span{s.span.file, s.span.begin, s.span.begin});
    if (t.fields.empty()) {
      Put(" {}", s.span);
      return;
    }
    Put(" { ");
    Inits(t.fields);
    Put(" }", Span{s.span.file, s.span.end > 0 ? s.span.end - 1 : 0, s.span.end});  // the `}` only: a statement broken over lines keeps each token on its own line's range
  }
  void Stmt(const ast::TestStmt& s, const ast::TestCredit& c) {
    Put("credit ", Span{s.span.file, s.span.begin, s.span.begin});
    String(c.id);
    Put(" = ");
    Expr(c.amount.get());
    if (c.expires) {
      Put(" expires ");
      Put(c.expires->text, c.expires->span);
    }
    if (c.priority) Put(" priority " + NumberText(*c.priority, c.priority_span), c.priority_span);
  }
  void Stmt(const ast::TestStmt& s, const ast::Expectation& e) {
    Put("expect ", Span{s.span.file, s.span.begin, s.span.begin});
    if (e.credit) {
      Put("credit ");
      String(*e.charge);
      Put(" remaining");
    } else if (e.meter) {
      Put("meter ");
      Name(*e.meter);
      if (!e.group.empty()) {
        Put(" for ");
        Strings(e.group);
      }
    } else if (e.threshold_at) {
      Put("threshold invoice ");
      Put(e.threshold_at->text, e.threshold_at->span);
    } else if (e.charge) {
      String(*e.charge);
      if (!e.group.empty()) {
        Put(" for ");
        Strings(e.group);
      }
      if (e.from) {
        Put(" from ");
        Put(e.from->text, e.from->span);
      }
    } else {
      Put("total");
    }
    Put(" = ");
    Expr(e.value.get());
  }
  void Stmt(const ast::TestStmt& s, const ast::InvoiceBlock& b) {
    const int level = Indent();
    Put("invoice ", Span{s.span.file, s.span.begin, s.span.begin});
    Put(b.start.text, b.start.span);
    if (b.stmts.empty() && !HasCommentIn(Span{s.span.file, NextToken(b.start.span.end), s.span.end})) {
      Put(" {}", s.span);
      return;
    }
    Punct(" {", '{', b.start.span.end);
    for (const ast::TestStmt& inner : b.stmts) {
      StartLine(level + 1, inner.span.begin);
      std::visit([this, &inner](const auto& k) { Stmt(inner, k); }, inner.kind);
    }
    Closer(level, s.span);
  }
  void Item(const ast::PlanItem& item, const ast::TestDecl& d) {
    StartLine(1, item.span.begin);
    Put("test ");
    String(d.name);
    if (d.from && d.to) {
      Put(" period ");
      Put(d.from->text, d.from->span);
      Put(" .. ");
      Put(d.to->text, d.to->span);
    }
    if (d.stmts.empty() && !HasCommentIn(Span{item.span.file, NextToken(d.to ? d.to->span.end : d.name.span.end), item.span.end})) {
      Put(" {}", item.span);
      return;
    }
    Punct(" {", '{', d.to ? d.to->span.end : d.name.span.end);
    for (const ast::TestStmt& s : d.stmts) {
      StartLine(2, s.span.begin);
      std::visit([this, &s](const auto& k) { Stmt(s, k); }, s.kind);
    }
    Closer(1, item.span);
  }

  // ---- comments and blank lines -------------------------------------------------------------

  bool GapHasBlankLine(std::uint32_t a, std::uint32_t b) const {
    if (a >= b || b > text_.size()) return false;
    for (std::uint32_t p = a; p < b; ++p) {
      if (text_[p] != '\n') continue;
      std::uint32_t q = p + 1;
      while (q < b && (text_[q] == ' ' || text_[q] == '\t' || text_[q] == '\r')) ++q;
      if (q < b && text_[q] == '\n') return true;
    }
    return false;
  }

  std::string Assemble() {
    const std::size_t n = lines_.size();
    // Which comments go before line i (own-line) and which at its end (trailing).
    std::vector<std::deque<const Comment*>> before(n + 1);
    std::vector<std::vector<const Comment*>> trailing(n);
    // Suffix minima of line begins and prefix maxima of line ends make both searches below
    // binary: "the last line that starts at or before x" and "the first line that ends after x".
    std::vector<std::uint32_t> begin_suffix_min(n), end_prefix_max(n);
    for (std::size_t i = n; i-- > 0;) {
      begin_suffix_min[i] = i + 1 < n ? std::min(lines_[i].begin, begin_suffix_min[i + 1]) : lines_[i].begin;
    }
    for (std::size_t i = 0; i < n; ++i) {
      end_prefix_max[i] = i > 0 ? std::max(lines_[i].end, end_prefix_max[i - 1]) : lines_[i].end;
    }
    bool previous_alone = false;  // the previous comment had no code before it on its line
    for (std::size_t k = 0; k < comments_.size(); ++k) {
      const Comment& c = comments_[k];
      // A comment after only comments on its line counts as alone, like the one before it.
      bool alone = c.own_line || (previous_alone && !NewlineBetween(comments_[k - 1].span.end, c.span.begin) &&
                                  OnlySpace(comments_[k - 1].span.end, c.span.begin));
      previous_alone = alone;
      // The last line with begin <= c (n when there is none).
      auto first_after = std::partition_point(begin_suffix_min.begin(), begin_suffix_min.end(),
                                              [&](std::uint32_t b) { return b <= c.span.begin; });
      std::size_t last_started = first_after == begin_suffix_min.begin()
                                     ? n
                                     : static_cast<std::size_t>(first_after - begin_suffix_min.begin()) - 1;
      if (!alone && last_started < n) {
        trailing[last_started].push_back(&c);
        continue;
      }
      // The first line that holds code after the comment starts (n when there is none).
      std::size_t target = static_cast<std::size_t>(
          std::partition_point(end_prefix_max.begin(), end_prefix_max.end(),
                               [&](std::uint32_t e) { return e <= c.span.begin; }) -
          end_prefix_max.begin());
      // Inside a joined line that already has a trailing comment before this one: going above
      // the line would reorder the comments, so it trails too.
      if (target < n && !trailing[target].empty() && lines_[target].begin <= c.span.begin) {
        trailing[target].push_back(&c);
        continue;
      }
      before[target].push_back(&c);
    }

    std::vector<OutLine> out;
    for (std::size_t i = 0; i <= n; ++i) {
      int comment_indent = 0;
      if (i < n) comment_indent = lines_[i].closer ? lines_[i].indent + 1 : lines_[i].indent;
      for (const Comment* c : before[i]) {
        OutLine o;
        o.indent = comment_indent;
        o.text = CommentText(*c);
        o.begin = c->span.begin;
        o.end = c->span.end;
        o.plan_start = i < n && lines_[i].plan_start;
        out.push_back(std::move(o));
      }
      if (i == n) break;
      const Line& line = lines_[i];
      OutLine o;
      o.indent = line.indent;
      o.text = line.text;
      o.begin = line.begin;
      o.end = line.end;
      o.opens = !line.text.empty() && line.text.back() == '{';
      o.closer = line.closer;
      o.plan_start = line.plan_start;
      o.plan_end = line.plan_end;
      bool after_line_comment = false;
      for (std::size_t k = 0; k < trailing[i].size(); ++k) {
        const Comment* c = trailing[i][k];
        if (after_line_comment) {
          // Nothing may follow a `//` comment on its line: the rest go below, in order.
          before[i + 1].insert(before[i + 1].begin(), trailing[i].begin() + static_cast<std::ptrdiff_t>(k),
                               trailing[i].end());
          break;
        }
        o.text += k == 0 ? "  " : " ";
        o.text += CommentText(*c);
        o.end = std::max(o.end, c->span.end);
        after_line_comment = IsLineComment(*c);
      }
      out.push_back(std::move(o));
    }

    std::string result;
    for (std::size_t k = 0; k < out.size(); ++k) {
      const OutLine& cur = out[k];
      if (k > 0) {
        const OutLine& prev = out[k - 1];
        bool blank = false;
        if (prev.plan_end && cur.plan_start) {
          blank = true;
        } else if (!prev.opens && !cur.closer && prev.begin != kNoOffset && cur.begin != kNoOffset) {
          blank = GapHasBlankLine(prev.end, cur.begin);
        }
        if (blank) result += "\n";
      }
      result.append(static_cast<std::size_t>(cur.indent) * 2, ' ');
      result += cur.text;
      result += "\n";
    }
    return result;
  }

  const std::vector<Comment>& comments_;
  std::string_view text_;
  std::vector<Line> lines_;
  int continuation_ = -1;  // the indent of an expression's continuation lines (-1: not in one)
};

}  // namespace

std::string Format(const ast::File& file, const std::vector<Comment>& comments, std::string_view text) {
  return Printer(comments, text).Run(file);
}

}  // namespace tariff
