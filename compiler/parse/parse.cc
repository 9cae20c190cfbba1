// compiler/parse: drives the ANTLR lexer and parser generated from grammar/Tariff.g4, words
// syntax errors for people, and builds tariff's own AST from the parse tree.
#include "compiler/parse/parse.h"

#include <algorithm>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "TariffLexer.h"
#include "TariffParser.h"
#include "antlr4-runtime.h"
#include "runtime/text/utf8.h"

namespace tariff {
namespace {

using tariff_grammar::TariffLexer;
using tariff_grammar::TariffParser;

constexpr int kMaxSyntaxErrors = 20;

// ANTLR indexes characters by code point; spans are bytes. Maps one to the other.
class OffsetMap {
 public:
  explicit OffsetMap(std::string_view text) {
    ascii_ = std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; });
    if (ascii_) return;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts_.push_back(static_cast<std::uint32_t>(i));
    }
    starts_.push_back(static_cast<std::uint32_t>(text.size()));
    // ANTLR's input stream skips a UTF-8 byte-order mark: its code point 0 is the one after it.
    if (text.substr(0, 3) == "\xEF\xBB\xBF") starts_.erase(starts_.begin());
  }
  std::uint32_t Byte(std::size_t code_point) const {
    if (ascii_) return static_cast<std::uint32_t>(code_point);
    return code_point < starts_.size() ? starts_[code_point] : starts_.back();
  }

 private:
  bool ascii_ = true;
  std::vector<std::uint32_t> starts_;
};

// How a token type reads in a message: `}`, a name, a number…
std::string DescribeTokenType(const antlr4::dfa::Vocabulary& vocab, std::size_t type) {
  if (type == antlr4::Token::EOF) return "end of file";
  switch (type) {
    case TariffParser::ID: return "a name";
    case TariffParser::NUMBER: return "a number";
    case TariffParser::STRING: return "a string";
    case TariffParser::DATETIME: return "a date";
    default: break;
  }
  std::string literal = vocab.getLiteralName(type);
  if (literal.size() >= 2 && literal.front() == '\'') literal = literal.substr(1, literal.size() - 2);
  return fmt::format("`{}`", literal);
}

std::string DescribeToken(const antlr4::Token* token) {
  if (token->getType() == antlr4::Token::EOF) return "end of file";
  std::string text = token->getText();
  if (text.size() > 30) text = text.substr(0, 27) + "...";
  return fmt::format("`{}`", text);
}

// Names of grammar rules as a person would say them, for "in a tier" context.
std::string DescribeRule(const std::string& rule) {
  static const std::pair<const char*, const char*> kRules[] = {
      {"fieldDecl", "a field declaration"}, {"typeSpec", "a field type"},
      {"tier", "a tier"},                   {"tierPrice", "a tier price"},
      {"chargeOption", "a charge option"},  {"pricing", "a charge"},
      {"testStmt", "a test"},               {"fieldInit", "a field value"},
      {"matchArm", "a match arm"},          {"rounding", "a rounding rule"},
      {"periodLength", "a period"},         {"unitExpr", "a unit"},
      {"planVersion", "a plan version"},    {"literal", "a value"},
  };
  for (const auto& [name, words] : kRules) {
    if (rule == name) return words;
  }
  return "";
}

struct PendingError {
  std::uint32_t begin, end;
  std::string message;
  std::string hint;
};

class ErrorCollector : public antlr4::BaseErrorListener {
 public:
  ErrorCollector(const OffsetMap& map) : map_(map) {}

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t line, size_t,
                   const std::string&, std::exception_ptr) override {
    if (!lines_.insert(line).second) return;  // one message per line: the rest is cascade
    if (errors.size() >= kMaxSyntaxErrors) return;
    auto* parser = dynamic_cast<antlr4::Parser*>(recognizer);
    PendingError error;
    if (offending == nullptr || parser == nullptr) {
      error = {0, 0, "unexpected input", ""};
      errors.push_back(error);
      return;
    }
    error.begin = map_.Byte(offending->getStartIndex());
    error.end = offending->getType() == antlr4::Token::EOF
                    ? error.begin
                    : map_.Byte(offending->getStopIndex() + 1);
    std::vector<std::string> expected;
    antlr4::misc::IntervalSet set = parser->getExpectedTokens();
    bool wants_name = false;
    for (std::size_t type : set.toList()) {
      // Soft keywords are names too; list them as "a name" once.
      if (type == TariffParser::ID) wants_name = true;
    }
    for (std::size_t type : set.toList()) {
      if (wants_name && IsSoftKeyword(parser, type)) continue;
      expected.push_back(DescribeTokenType(parser->getVocabulary(), type));
    }
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
    std::string context;
    for (const std::string& rule : parser->getRuleInvocationStack()) {
      context = DescribeRule(rule);
      if (!context.empty()) break;
    }
    std::string found = offending->getType() == TariffLexer::BAD_CHAR
                            ? fmt::format("character {}", DescribeToken(offending))
                            : DescribeToken(offending);
    error.message = fmt::format("unexpected {}{}", found, context.empty() ? "" : " in " + context);
    if (!expected.empty() && expected.size() <= 8) {
      std::string list;
      for (std::size_t i = 0; i < expected.size(); ++i) {
        if (i > 0) list += i + 1 == expected.size() ? " or " : ", ";
        list += expected[i];
      }
      error.message += fmt::format("; expected {}", list);
    }
    if (offending->getType() == TariffLexer::BAD_CHAR && offending->getText() == "'") {
      error.hint = "strings are written in double quotes: \"like this\"";
    } else if (offending->getText() == "=" && context == "a charge") {
      error.hint = "compare with `==`";
    } else if ((offending->getText() == "up" || offending->getText() == "above") && context == "a charge" &&
               parser->getTokenStream()->LT(-1) != nullptr &&
               (parser->getTokenStream()->LT(-1)->getText() == "price" || parser->getTokenStream()->LT(-1)->getText() == "error")) {
      error.hint = "a `beyond:` rule is the last row of its tier table: write every tier before it";
    }
    errors.push_back(std::move(error));
  }

  std::vector<PendingError> errors;

 private:
  static bool IsSoftKeyword(antlr4::Parser* parser, std::size_t type) {
    std::string literal = parser->getVocabulary().getLiteralName(type);
    if (literal.size() < 3) return false;
    std::string word = literal.substr(1, literal.size() - 2);
    static const std::set<std::string> kSoft = {
        "x", "key", "anchor", "timezone", "effective", "started", "decimals", "drawn", "zero",
        "first", "next", "change", "up", "to", "above", "line", "invoice", "included", "prorated",
        "proration", "quantity", "one", "of", "total", "from", "at", "period", "unit", "version",
        "credits", "bp", "none", "no", "usage", "expect", "for", "test", "event", "subscription",
        "credit", "expires", "priority", "remaining", "subtotal", "beyond", "last", "price", "error", "contract",
        "allocated", "in", "proportion", "billed", "advance", "prorate", "when", "reaches", "threshold"};
    return kSoft.count(word) != 0;
  }

  const OffsetMap& map_;
  std::set<std::size_t> lines_;
};

// Checks that brackets balance before parsing, so that a missing `}` is reported as what it
// is — with what the bracket opened and where — instead of as a cascade of parser errors.
bool CheckBrackets(const std::vector<antlr4::Token*>& tokens, const OffsetMap& map,
                   const SourceFile& source, FileId file_id, DiagnosticSink& sink) {
  struct Open {
    antlr4::Token* token;
    std::string what;  // "plan `pro`", "event `request`", "test `quiet month`"
  };
  std::vector<Open> stack;
  auto describe_opener = [&](std::size_t index) {
    // The words before the bracket since the last statement boundary name what it opens.
    std::size_t start = index;
    while (start > 0) {
      const std::string t = tokens[start - 1]->getText();
      if (t == "{" || t == "}" || t == "(" || t == ")") break;
      if (index - start >= 6) break;
      --start;
    }
    std::string head;
    std::string keyword;
    std::string name;
    for (std::size_t i = start; i < index; ++i) {
      std::string t = tokens[i]->getText();
      if (keyword.empty() && (t == "plan" || t == "event" || t == "test" || t == "subscription" ||
                              t == "graduated" || t == "volume" || t == "match" || t == "charge")) {
        keyword = t;
        if (i + 1 < index) name = tokens[i + 1]->getText();
      }
    }
    if (tokens[index]->getText() == "(") return std::string("`(`");
    if (keyword.empty()) return std::string("block");
    if (!name.empty() && name.front() == '"') name = name.substr(1, name.size() - 2);
    if (keyword == "subscription" || name.empty() || name == "{") return fmt::format("{}", keyword);
    if (keyword == "graduated" || keyword == "volume") return fmt::format("{} tiers", keyword);
    if (keyword == "match") return std::string("match");
    return fmt::format("{} `{}`", keyword, name);
  };
  auto where = [&](antlr4::Token* t) {
    LineColumn lc = source.At(map.Byte(t->getStartIndex()));
    return fmt::format("{}:{}", lc.line, lc.column);
  };
  auto span_of = [&](antlr4::Token* t) {
    std::uint32_t b = map.Byte(t->getStartIndex());
    std::uint32_t e = t->getType() == antlr4::Token::EOF ? b : map.Byte(t->getStopIndex() + 1);
    return Span{file_id, b, e};
  };
  // Words that begin a declaration or a test statement. A `(` still open when a line starts
  // with one of them was never closed: report it at the end of the line it was opened on and
  // go on, so that one file can show several such mistakes.
  static const std::set<std::string> kStatementWords = {
      "plan", "currency", "period", "rounding", "proration", "unit", "event", "subscription",
      "meter", "charge", "discount", "minimum", "maximum", "credits", "allow", "test", "usage",
      "expect"};
  bool ok = true;
  auto line_of = [&](antlr4::Token* t) { return source.At(map.Byte(t->getStartIndex())).line; };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    antlr4::Token* t = tokens[i];
    if (t->getType() == antlr4::Token::EOF) break;
    std::string text = t->getText();
    if (i > 0 && !stack.empty() && stack.back().token->getText() == "(" && kStatementWords.count(text) != 0 &&
        line_of(tokens[i - 1]) < line_of(t)) {
      while (!stack.empty() && stack.back().token->getText() == "(") {
        const Open& open = stack.back();
        antlr4::Token* last = tokens[i - 1];
        std::uint32_t end = map.Byte(last->getStopIndex() + 1);
        sink.Report(DiagKind::SyntaxError, Span{file_id, end, end},
                    fmt::format("expected `)` to close `(` opened at {}", where(open.token)))
            .Note(span_of(open.token), "opened here");
        stack.pop_back();
      }
      ok = false;
    }
    if (text == "{" || text == "(") {
      stack.push_back({t, describe_opener(i)});
    } else if (text == "}" || text == ")") {
      const char* want = text == "}" ? "{" : "(";
      if (stack.empty()) {
        sink.Report(DiagKind::SyntaxError, span_of(t),
                    fmt::format("unexpected `{}` with no `{}` open", text, want));
        return false;
      }
      if (stack.back().token->getText() != want) {
        const Open& open = stack.back();
        sink.Report(DiagKind::SyntaxError, span_of(t),
                    fmt::format("expected `{}` to close {} opened at {}, found `{}`",
                                open.token->getText() == "{" ? "}" : ")", open.what,
                                where(open.token), text))
            .Note(span_of(open.token), "opened here");
        return false;
      }
      stack.pop_back();
    }
  }
  if (!stack.empty() && ok) {
    const Open& open = stack.back();
    antlr4::Token* eof = tokens.back();
    sink.Report(DiagKind::SyntaxError, span_of(eof),
                fmt::format("expected `{}` to close {} opened at {}",
                            open.token->getText() == "{" ? "}" : ")", open.what, where(open.token)))
        .Note(span_of(open.token), "opened here");
    return false;
  }
  return ok;
}

// Builds the AST from a parse tree that has no syntax errors.
class Builder {
 public:
  Builder(const OffsetMap& map, FileId file_id, DiagnosticSink& sink)
      : map_(map), file_id_(file_id), sink_(sink) {}

  std::unique_ptr<ast::File> BuildFile(TariffParser::FileContext* ctx) {
    auto file = std::make_unique<ast::File>();
    Init(*file, ctx);
    for (auto* plan : ctx->plan()) file->plans.push_back(BuildPlan(plan));
    file->node_count = next_id_;
    return file;
  }

  bool ok() const { return ok_; }

 private:
  Span SpanOf(antlr4::ParserRuleContext* ctx) const {
    std::uint32_t begin = map_.Byte(ctx->getStart()->getStartIndex());
    antlr4::Token* stop = ctx->getStop();
    std::uint32_t end = (stop == nullptr || stop->getType() == antlr4::Token::EOF ||
                         stop->getTokenIndex() < ctx->getStart()->getTokenIndex())
                            ? begin
                            : map_.Byte(stop->getStopIndex() + 1);
    return Span{file_id_, begin, end};
  }
  Span SpanOf(antlr4::tree::TerminalNode* node) const { return SpanOf(node->getSymbol()); }
  Span SpanOf(antlr4::Token* token) const {
    return Span{file_id_, map_.Byte(token->getStartIndex()), map_.Byte(token->getStopIndex() + 1)};
  }

  template <typename N>
  void Init(N& node, Span span) {
    node.id = ast::NodeId{next_id_++};
    node.span = span;
  }
  template <typename N>
  void Init(N& node, antlr4::ParserRuleContext* ctx) {
    Init(node, SpanOf(ctx));
  }

  ast::Name BuildName(TariffParser::IdentContext* ctx) {
    ast::Name name;
    Init(name, ctx);
    name.text = ctx->getText();
    return name;
  }

  ast::StringLit BuildString(antlr4::tree::TerminalNode* node) {
    ast::StringLit lit;
    Init(lit, SpanOf(node));
    lit.value = Unescape(node->getText());
    return lit;
  }

  static std::string Unescape(const std::string& raw) {
    std::string value;
    for (std::size_t i = 1; i + 1 < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 2 < raw.size()) {
        char c = raw[++i];
        value += c == 'n' ? '\n' : c == 't' ? '\t' : c;
      } else {
        value += raw[i];
      }
    }
    return value;
  }

  ast::DateTimeLit BuildDateTime(antlr4::tree::TerminalNode* node) {
    ast::DateTimeLit lit;
    Init(lit, SpanOf(node));
    lit.text = node->getText();
    return lit;
  }

  Decimal BuildNumber(antlr4::tree::TerminalNode* node) {
    DecimalParseResult r = Decimal::Parse(node->getText());
    if (!r.value) {
      sink_.Report(DiagKind::NumberOutOfRange, SpanOf(node), node->getText())
          .Hint("a number has at most 38 digits, 38 of them after the point");
      ok_ = false;
      return Decimal();
    }
    return *r.value;
  }

  ast::UnitExpr BuildUnitExpr(TariffParser::UnitExprContext* ctx) {
    ast::UnitExpr unit;
    Init(unit, ctx);
    int exponent = 1;
    for (auto* child : ctx->children) {
      if (auto* id = dynamic_cast<TariffParser::IdentContext*>(child)) {
        unit.factors.push_back({BuildName(id), exponent});
      } else {
        exponent = child->getText() == "/" ? -1 : 1;
      }
    }
    return unit;
  }

  ast::UnitExpr BuildUnitAtom(TariffParser::UnitAtomContext* ctx) {
    ast::UnitExpr unit;
    Init(unit, ctx);
    for (auto* id : ctx->ident()) unit.factors.push_back({BuildName(id), 1});
    return unit;
  }

  ast::ExprPtr BuildLiteral(TariffParser::LiteralContext* ctx) {
    auto expr = std::make_unique<ast::Expr>();
    Init(*expr, ctx);
    ast::Literal lit;
    if (auto* c = dynamic_cast<TariffParser::PercentLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kPercent;
      lit.number = BuildNumber(c->NUMBER());
      lit.number_span = SpanOf(c->NUMBER());
    } else if (auto* c = dynamic_cast<TariffParser::BasisPointsLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kBasisPoints;
      lit.number = BuildNumber(c->NUMBER());
      lit.number_span = SpanOf(c->NUMBER());
    } else if (auto* c = dynamic_cast<TariffParser::RateLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kRate;
      lit.number = BuildNumber(c->NUMBER(0));
      lit.number_span = SpanOf(c->NUMBER(0));
      lit.unit = BuildUnitAtom(c->unitAtom(0));
      for (auto* child : c->children) {
        if (child->getText() == "started" && dynamic_cast<antlr4::tree::TerminalNode*>(child)) lit.per_started = true;
      }
      if (c->NUMBER().size() > 1) lit.per = BuildNumber(c->NUMBER(1));
      lit.per_unit = BuildUnitAtom(c->unitAtom(1));
    } else if (auto* c = dynamic_cast<TariffParser::UnitLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kUnit;
      lit.number = BuildNumber(c->NUMBER());
      lit.number_span = SpanOf(c->NUMBER());
      lit.unit = BuildUnitAtom(c->unitAtom());
    } else if (auto* c = dynamic_cast<TariffParser::NumberLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kNumber;
      lit.number = BuildNumber(c->NUMBER());
      lit.number_span = SpanOf(c->NUMBER());
    } else if (auto* c = dynamic_cast<TariffParser::StringLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kString;
      lit.text = Unescape(c->STRING()->getText());
    } else if (dynamic_cast<TariffParser::BoolLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kBool;
      lit.bool_value = ctx->getText() == "true";
    } else if (auto* c = dynamic_cast<TariffParser::DateTimeLiteralContext*>(ctx)) {
      lit.kind = ast::LiteralKind::kDateTime;
      lit.text = c->DATETIME()->getText();
    }
    expr->kind = std::move(lit);
    return expr;
  }

  static ast::BinaryOp BinaryOpFor(const std::string& op) {
    static const std::pair<const char*, ast::BinaryOp> kOps[] = {
        {"+", ast::BinaryOp::kAdd}, {"-", ast::BinaryOp::kSub},  {"*", ast::BinaryOp::kMul},
        {"/", ast::BinaryOp::kDiv}, {"==", ast::BinaryOp::kEq},  {"!=", ast::BinaryOp::kNe},
        {"<", ast::BinaryOp::kLt},  {"<=", ast::BinaryOp::kLe},  {">", ast::BinaryOp::kGt},
        {">=", ast::BinaryOp::kGe}, {"and", ast::BinaryOp::kAnd}, {"or", ast::BinaryOp::kOr}};
    for (const auto& [text, value] : kOps) {
      if (op == text) return value;
    }
    return ast::BinaryOp::kAdd;
  }

  ast::ExprPtr BuildExpr(TariffParser::ExprContext* ctx) {
    if (auto* c = dynamic_cast<TariffParser::ParenExprContext*>(ctx)) return BuildExpr(c->expr());
    if (auto* c = dynamic_cast<TariffParser::LiteralExprContext*>(ctx)) return BuildLiteral(c->literal());
    auto expr = std::make_unique<ast::Expr>();
    Init(*expr, ctx);
    if (auto* c = dynamic_cast<TariffParser::NameExprContext*>(ctx)) {
      expr->kind = ast::NameRef{BuildName(c->ident())};
    } else if (auto* c = dynamic_cast<TariffParser::MemberExprContext*>(ctx)) {
      ast::Member m;
      m.object = BuildExpr(c->expr());
      m.member = BuildName(c->ident());
      expr->kind = std::move(m);
    } else if (auto* c = dynamic_cast<TariffParser::CallExprContext*>(ctx)) {
      ast::Call call;
      call.callee = BuildName(c->ident());
      for (auto* arg : c->expr()) call.args.push_back(BuildExpr(arg));
      expr->kind = std::move(call);
    } else if (auto* c = dynamic_cast<TariffParser::UnaryExprContext*>(ctx)) {
      ast::Unary u;
      u.op = c->children[0]->getText() == "not" ? ast::UnaryOp::kNot : ast::UnaryOp::kNegate;
      u.operand = BuildExpr(c->expr());
      expr->kind = std::move(u);
    } else if (auto* c = dynamic_cast<TariffParser::MatchExprContext*>(ctx)) {
      ast::Match m;
      m.subject = BuildExpr(c->expr());
      for (auto* arm_ctx : c->matchArm()) {
        ast::MatchArm arm;
        Init(arm, arm_ctx);
        if (auto* a = dynamic_cast<TariffParser::CaseArmContext*>(arm_ctx)) {
          for (auto* s : a->STRING()) arm.patterns.push_back(BuildString(s));
          arm.value = BuildExpr(a->expr());
        } else if (auto* e = dynamic_cast<TariffParser::ElseArmContext*>(arm_ctx)) {
          arm.is_else = true;
          arm.value = BuildExpr(e->expr());
        }
        m.arms.push_back(std::move(arm));
      }
      expr->kind = std::move(m);
    } else {
      // Binary: mul, add, compare, and, or — children are expr, operator, expr.
      ast::Binary b;
      auto* lhs = dynamic_cast<TariffParser::ExprContext*>(ctx->children[0]);
      auto* op = dynamic_cast<antlr4::tree::TerminalNode*>(ctx->children[1]);
      auto* rhs = dynamic_cast<TariffParser::ExprContext*>(ctx->children[2]);
      b.op = BinaryOpFor(op->getText());
      b.op_span = SpanOf(op);
      b.lhs = BuildExpr(lhs);
      b.rhs = BuildExpr(rhs);
      expr->kind = std::move(b);
    }
    return expr;
  }

  ast::RoundingSpec BuildRounding(TariffParser::RoundingContext* ctx) {
    ast::RoundingSpec spec;
    Init(spec, ctx);
    spec.mode = BuildName(ctx->ident());
    if (ctx->NUMBER() != nullptr) {
      Decimal d = BuildNumber(ctx->NUMBER());
      spec.decimals_span = SpanOf(ctx->NUMBER());
      spec.decimals = (d.scale() == 0 && d >= Decimal(0) && d <= Decimal(38))
                          ? static_cast<int>(d.coefficient())
                          : -1;  // sema reports it
    }
    std::string point = ctx->children.back()->getText();
    spec.point = point == "event" ? ast::RoundingPoint::kEvent
                 : point == "invoice" ? ast::RoundingPoint::kInvoice
                                      : ast::RoundingPoint::kLine;
    return spec;
  }

  ast::ProrationSpec BuildProration(TariffParser::ProrationContext* ctx) {
    ast::ProrationSpec spec;
    Init(spec, ctx);
    spec.prorated = ctx->children[0]->getText() != "not";
    if (ctx->ident() != nullptr) spec.basis = BuildName(ctx->ident());
    return spec;
  }

  ast::TypeSpec BuildType(TariffParser::TypeSpecContext* ctx) {
    ast::TypeSpec type;
    Init(type, ctx);
    if (auto* c = dynamic_cast<TariffParser::QuantityTypeContext*>(ctx)) {
      type.kind = ast::TypeSpec::Kind::kQuantity;
      type.unit = BuildUnitExpr(c->unitExpr());
    } else if (auto* c = dynamic_cast<TariffParser::EnumTypeContext*>(ctx)) {
      type.kind = ast::TypeSpec::Kind::kEnum;
      for (auto* s : c->STRING()) type.values.push_back(BuildString(s));
    } else if (auto* c = dynamic_cast<TariffParser::NamedTypeContext*>(ctx)) {
      type.kind = ast::TypeSpec::Kind::kNamed;
      type.named = BuildName(c->ident());
    }
    return type;
  }

  std::vector<ast::FieldDecl> BuildFields(const std::vector<TariffParser::FieldDeclContext*>& ctxs) {
    std::vector<ast::FieldDecl> fields;
    for (auto* f : ctxs) {
      ast::FieldDecl field;
      Init(field, f);
      field.name = BuildName(f->ident());
      field.type = BuildType(f->typeSpec());
      fields.push_back(std::move(field));
    }
    return fields;
  }

  std::vector<ast::FieldInit> BuildInits(TariffParser::FieldInitsContext* ctx) {
    std::vector<ast::FieldInit> inits;
    if (ctx == nullptr) return inits;
    for (auto* f : ctx->fieldInit()) {
      ast::FieldInit init;
      Init(init, f);
      if (f->ident() != nullptr) {
        init.name = BuildName(f->ident());
      } else {  // `plan` or `charge`, keywords
        Init(init.name, SpanOf(f->getStart()));
        init.name.text = f->getStart()->getText();
      }
      init.value = BuildExpr(f->expr());
      inits.push_back(std::move(init));
    }
    return inits;
  }

  ast::Pricing BuildPricing(TariffParser::PricingContext* ctx) {
    ast::Pricing pricing;
    Init(pricing, ctx);
    if (auto* c = dynamic_cast<TariffParser::TieredPricingContext*>(ctx)) {
      pricing.kind = c->children[0]->getText() == "graduated" ? ast::PricingKind::kGraduated
                                                             : ast::PricingKind::kVolume;
      pricing.value = BuildExpr(c->expr());
      for (auto* t : c->tier()) {
        ast::Tier tier;
        Init(tier, t);
        tier.above = t->literal() == nullptr;
        if (!tier.above) tier.bound = BuildLiteral(t->literal());
        if (dynamic_cast<TariffParser::FreeTierContext*>(t->tierPrice())) {
          tier.free = true;
        } else if (auto* p = dynamic_cast<TariffParser::PricedTierContext*>(t->tierPrice())) {
          for (auto* term_ctx : p->priceTerm()) {
            ast::PriceTerm term;
            Init(term, term_ctx);
            term.value = BuildLiteral(term_ctx->literal());
            term.flat = term_ctx->children.size() > 1;
            tier.terms.push_back(std::move(term));
          }
        }
        pricing.tiers.push_back(std::move(tier));
      }
      if (auto* b = c->beyond()) {
        pricing.beyond = b->getStop()->getText() == "error" ? ast::Beyond::kError : ast::Beyond::kLastPrice;
        pricing.beyond_span = SpanOf(b);
      }
    } else if (auto* c = dynamic_cast<TariffParser::PerEventPricingContext*>(ctx)) {
      pricing.kind = ast::PricingKind::kPerEvent;
      pricing.event = BuildName(c->ident());
      auto exprs = c->expr();
      if (exprs.size() == 2) {
        pricing.where = BuildExpr(exprs[0]);
        pricing.value = BuildExpr(exprs[1]);
      } else {
        pricing.value = BuildExpr(exprs[0]);
      }
    } else if (auto* c = dynamic_cast<TariffParser::FormulaPricingContext*>(ctx)) {
      pricing.kind = ast::PricingKind::kFormula;
      pricing.value = BuildExpr(c->expr());
    }
    return pricing;
  }

  ast::ChargeOption BuildChargeOption(TariffParser::ChargeOptionContext* ctx) {
    ast::ChargeOption option;
    Init(option, ctx);
    if (auto* c = dynamic_cast<TariffParser::ChargeRoundingContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kRounding;
      option.rounding = BuildRounding(c->rounding());
    } else if (auto* c = dynamic_cast<TariffParser::ChargeProrationContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kProration;
      option.proration = BuildProration(c->proration());
    } else if (auto* c = dynamic_cast<TariffParser::IncludedOptionContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kIncluded;
      option.first = BuildLiteral(c->literal());
    } else if (auto* c = dynamic_cast<TariffParser::FreeFirstOptionContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kFreeFirst;
      option.first = BuildLiteral(c->literal(0));
      if (c->literal().size() > 1) option.second = BuildLiteral(c->literal(1));
    } else if (dynamic_cast<TariffParser::FlatAtZeroOptionContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kFlatAtZero;
      option.flag = ctx->children[0]->getText() != "no";
    } else if (auto* c = dynamic_cast<TariffParser::AllocatedOptionContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kAllocated;
      option.first = BuildExpr(c->expr());
      option.proportion = BuildName(c->ident());
    } else if (dynamic_cast<TariffParser::AdvanceOptionContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kInAdvance;
    } else if (auto* c = dynamic_cast<TariffParser::AllowOptionContext*>(ctx)) {
      option.kind = ast::ChargeOptionKind::kAllow;
      for (auto* id : c->ident()) option.names.push_back(BuildName(id));
    }
    return option;
  }

  std::vector<ast::StringLit> BuildStrings(const std::vector<antlr4::tree::TerminalNode*>& nodes,
                                           std::size_t skip = 0) {
    std::vector<ast::StringLit> out;
    for (std::size_t i = skip; i < nodes.size(); ++i) out.push_back(BuildString(nodes[i]));
    return out;
  }

  ast::TestDecl BuildTest(TariffParser::TestContext* ctx) {
    ast::TestDecl test;
    Init(test, ctx);
    test.name = BuildString(ctx->STRING());
    if (ctx->DATETIME().size() == 2) {
      test.from = BuildDateTime(ctx->DATETIME(0));
      test.to = BuildDateTime(ctx->DATETIME(1));
    }
    for (auto* s : ctx->testStmt()) test.stmts.push_back(BuildTestStmt(s));
    return test;
  }

  ast::TestStmt BuildTestStmt(TariffParser::TestStmtContext* s) {
    ast::TestStmt stmt;
    Init(stmt, s);
    if (auto* c = dynamic_cast<TariffParser::UsageFileContext*>(s)) {
      stmt.kind = ast::UsageFile{BuildString(c->STRING())};
    } else if (auto* c = dynamic_cast<TariffParser::UsageEventsContext*>(s)) {
      ast::UsageEvents usage;
      usage.event = BuildName(c->ident());
      if (c->NUMBER() != nullptr) {
        usage.count = BuildNumber(c->NUMBER());
        usage.count_span = SpanOf(c->NUMBER());
      }
      if (c->DATETIME() != nullptr) usage.at = BuildDateTime(c->DATETIME());
      usage.fields = BuildInits(c->fieldInits());
      stmt.kind = std::move(usage);
    } else if (auto* c = dynamic_cast<TariffParser::TestSubscriptionContext*>(s)) {
      stmt.kind = ast::TestSubscription{BuildInits(c->fieldInits())};
    } else if (auto* c = dynamic_cast<TariffParser::TestContractContext*>(s)) {
      stmt.kind = ast::TestContract{BuildInits(c->fieldInits())};
    } else if (auto* c = dynamic_cast<TariffParser::TestCreditContext*>(s)) {
      ast::TestCredit credit;
      credit.id = BuildString(c->STRING());
      credit.amount = BuildExpr(c->expr());
      if (c->DATETIME() != nullptr) credit.expires = BuildDateTime(c->DATETIME());
      if (c->NUMBER() != nullptr) {
        credit.priority = BuildNumber(c->NUMBER());
        credit.priority_span = SpanOf(c->NUMBER());
      }
      stmt.kind = std::move(credit);
    } else if (auto* c = dynamic_cast<TariffParser::CreditExpectationContext*>(s)) {
      ast::Expectation e;
      e.credit = true;
      e.charge = BuildString(c->STRING());
      e.value = BuildExpr(c->expr());
      stmt.kind = std::move(e);
    } else if (auto* c = dynamic_cast<TariffParser::MeterExpectationContext*>(s)) {
      ast::Expectation e;
      e.meter = BuildName(c->ident());
      e.group = BuildStrings(c->STRING(), 0);
      e.value = BuildExpr(c->expr());
      stmt.kind = std::move(e);
    } else if (auto* c = dynamic_cast<TariffParser::ThresholdExpectationContext*>(s)) {
      ast::Expectation e;
      e.threshold_at = BuildDateTime(c->DATETIME());
      e.value = BuildExpr(c->expr());
      stmt.kind = std::move(e);
    } else if (auto* c = dynamic_cast<TariffParser::ExpectationContext*>(s)) {
      ast::Expectation e;
      auto strings = c->STRING();
      if (!strings.empty()) {
        e.charge = BuildString(strings[0]);
        e.group = BuildStrings(strings, 1);
      }
      if (c->DATETIME() != nullptr) e.from = BuildDateTime(c->DATETIME());
      e.value = BuildExpr(c->expr());
      stmt.kind = std::move(e);
    } else if (auto* c = dynamic_cast<TariffParser::InvoiceBlockContext*>(s)) {
      ast::InvoiceBlock block;
      block.start = BuildDateTime(c->DATETIME());
      for (auto* inner : c->testStmt()) block.stmts.push_back(BuildTestStmt(inner));
      stmt.kind = std::move(block);
    }
    return stmt;
  }

  ast::PlanItem BuildItem(TariffParser::PlanItemContext* ctx) {
    ast::PlanItem item;
    Init(item, ctx);
    if (auto* c = dynamic_cast<TariffParser::CurrencyItemContext*>(ctx)) {
      ast::CurrencyDecl d;
      Init(d, c);
      d.code = BuildName(c->ident());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::PeriodItemContext*>(ctx)) {
      ast::PeriodDecl d;
      Init(d, c);
      if (c->periodLength()->NUMBER() != nullptr) {
        d.count = BuildNumber(c->periodLength()->NUMBER());
        d.count_span = SpanOf(c->periodLength()->NUMBER());
      }
      d.length = BuildName(c->periodLength()->ident());
      for (auto* o : c->periodOption()) {
        if (auto* a = dynamic_cast<TariffParser::AnchorOptionContext*>(o)) {
          d.anchor = BuildDateTime(a->DATETIME());
        } else if (auto* z = dynamic_cast<TariffParser::TimezoneOptionContext*>(o)) {
          d.timezone = BuildString(z->STRING());
        }
      }
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::RoundingItemContext*>(ctx)) {
      ast::RoundingDecl d;
      Init(d, c);
      d.spec = BuildRounding(c->rounding());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::ProrationItemContext*>(ctx)) {
      ast::ProrationDecl d;
      Init(d, c);
      d.spec.id = ast::NodeId{next_id_++};
      d.spec.span = d.span;
      d.spec.prorated = c->ident() != nullptr;
      if (c->ident() != nullptr) d.spec.basis = BuildName(c->ident());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::UnitItemContext*>(ctx)) {
      ast::UnitDecl d;
      Init(d, c);
      for (auto* id : c->ident()) d.names.push_back(BuildName(id));
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::EventItemContext*>(ctx)) {
      ast::EventDecl d;
      Init(d, c);
      d.name = BuildName(c->ident(0));
      if (c->ident().size() > 1) d.key = BuildName(c->ident(1));
      d.fields = BuildFields(c->fieldDecl());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::SubscriptionItemContext*>(ctx)) {
      ast::SubscriptionDecl d;
      Init(d, c);
      d.fields = BuildFields(c->fieldDecl());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::MeterItemContext*>(ctx)) {
      ast::MeterDecl d;
      Init(d, c);
      d.name = BuildName(c->ident());
      d.value = BuildExpr(c->expr(0));
      if (c->expr().size() > 1) d.where = BuildExpr(c->expr(1));
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::ChargeItemContext*>(ctx)) {
      ast::ChargeDecl d;
      Init(d, c);
      d.name = BuildString(c->STRING());
      for (auto* e : c->expr()) d.group_by.push_back(BuildExpr(e));
      d.pricing = BuildPricing(c->pricing());
      for (auto* o : c->chargeOption()) d.options.push_back(BuildChargeOption(o));
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::DiscountItemContext*>(ctx)) {
      ast::DiscountDecl d;
      Init(d, c);
      d.amount = BuildExpr(c->expr());
      d.charges = BuildStrings(c->STRING());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::SubtotalItemContext*>(ctx)) {
      ast::SubtotalDecl d;
      Init(d, c);
      std::vector<ast::StringLit> strings = BuildStrings(c->STRING());
      d.name = strings.front();
      d.parts.assign(strings.begin() + 1, strings.end());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::MinimumItemContext*>(ctx)) {
      ast::LimitDecl d;
      Init(d, c);
      d.is_minimum = true;
      d.amount = BuildExpr(c->expr());
      d.charges = BuildStrings(c->STRING());
      if (c->proration() != nullptr) d.proration = BuildProration(c->proration());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::MaximumItemContext*>(ctx)) {
      ast::LimitDecl d;
      Init(d, c);
      d.is_minimum = false;
      d.amount = BuildExpr(c->expr());
      d.charges = BuildStrings(c->STRING());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::CreditsItemContext*>(ctx)) {
      ast::CreditsDecl d;
      Init(d, c);
      for (auto* id : c->ident()) d.order.push_back(BuildName(id));
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::ProrateItemContext*>(ctx)) {
      ast::ProrateDecl d;
      Init(d, c);
      d.behavior = BuildName(c->ident());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::ThresholdItemContext*>(ctx)) {
      ast::ThresholdDecl d;
      Init(d, c);
      d.amount = BuildExpr(c->expr());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::ChangeItemContext*>(ctx)) {
      ast::ChangeDecl d;
      Init(d, c);
      if (c->ident() != nullptr) d.policy = BuildName(c->ident());
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::AllowItemContext*>(ctx)) {
      ast::AllowDecl d;
      Init(d, c);
      for (auto* id : c->ident()) d.names.push_back(BuildName(id));
      item.kind = std::move(d);
    } else if (auto* c = dynamic_cast<TariffParser::TestItemContext*>(ctx)) {
      item.kind = BuildTest(c->test());
    }
    return item;
  }

  ast::Plan BuildPlan(TariffParser::PlanContext* ctx) {
    ast::Plan plan;
    Init(plan, ctx);
    plan.name = BuildString(ctx->STRING());
    if (auto* v = ctx->planVersion()) {
      plan.version = BuildNumber(v->NUMBER());
      plan.version_span = SpanOf(v->NUMBER());
      if (v->DATETIME() != nullptr) plan.effective = BuildDateTime(v->DATETIME());
    }
    for (auto* child : ctx->children) {
      auto* t = dynamic_cast<antlr4::tree::TerminalNode*>(child);
      if (t != nullptr && t->getText() == "{") {
        plan.open_brace = SpanOf(t);
        break;
      }
    }
    for (auto* item : ctx->planItem()) plan.items.push_back(BuildItem(item));
    return plan;
  }

  const OffsetMap& map_;
  FileId file_id_;
  DiagnosticSink& sink_;
  std::int32_t next_id_ = 0;
  bool ok_ = true;
};

}  // namespace

ParseResult Parse(const SourceFile& source, FileId file_id, DiagnosticSink& sink) {
  ParseResult result;
  const std::string& text = source.text();
  // ANTLR's input stream would throw on malformed UTF-8: report it in our words instead.
  if (std::size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    auto offset = static_cast<std::uint32_t>(bad);
    sink.Report(DiagKind::SyntaxError, Span{file_id, offset, offset + 1},
                fmt::format("byte 0x{:02X} is not UTF-8 text", static_cast<unsigned char>(text[bad])))
        .Hint("save the plan as UTF-8");
    return result;
  }
  OffsetMap map(text);
  antlr4::ANTLRInputStream input(text);
  TariffLexer lexer(&input);
  lexer.removeErrorListeners();  // bad characters become BAD_CHAR tokens; the parser reports them
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();

  std::vector<antlr4::Token*> visible;
  for (antlr4::Token* t : tokens.getTokens()) {
    if (t->getType() == TariffLexer::LINE_COMMENT || t->getType() == TariffLexer::BLOCK_COMMENT) {
      Comment comment;
      comment.span = Span{file_id, map.Byte(t->getStartIndex()), map.Byte(t->getStopIndex() + 1)};
      comment.text = text.substr(comment.span.begin, comment.span.end - comment.span.begin);
      std::size_t line_start = text.rfind('\n', comment.span.begin == 0 ? 0 : comment.span.begin - 1);
      line_start = line_start == std::string::npos ? 0 : line_start + 1;
      if (comment.span.begin == 0) line_start = 0;
      comment.own_line = text.find_first_not_of(" \t", line_start) == comment.span.begin;
      result.comments.push_back(std::move(comment));
    } else if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL) {
      visible.push_back(t);
    }
  }
  if (!CheckBrackets(visible, map, source, file_id, sink)) return result;

  TariffParser parser(&tokens);
  parser.removeErrorListeners();
  ErrorCollector errors(map);
  parser.addErrorListener(&errors);
  TariffParser::FileContext* tree = parser.file();
  if (!errors.errors.empty()) {
    for (const PendingError& e : errors.errors) {
      auto& d = sink.Report(DiagKind::SyntaxError, Span{file_id, e.begin, e.end}, e.message);
      if (!e.hint.empty()) d.Hint(e.hint);
    }
    return result;
  }
  Builder builder(map, file_id, sink);
  std::unique_ptr<ast::File> file = builder.BuildFile(tree);
  if (builder.ok()) result.file = std::move(file);
  return result;
}

}  // namespace tariff
