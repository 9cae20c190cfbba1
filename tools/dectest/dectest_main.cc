// tools/dectest: runs General Decimal Arithmetic decTest files (speleotrove.com/decimal) against
// tariff::Decimal. Usage: dectest [--show-skips] FILE.decTest...
//
// How a floating-point test applies to a fixed-point type: each case's operands are converted
// with Decimal::Parse, the exact result is computed with Decimal and rounded once to the case's
// `precision` significant digits with its `rounding` (RoundToDigits, or the *ToDigits forms when
// the exact intermediate is wider than 38 digits). Where two Decimal routes can compute the same
// result (exact + RoundToDigits vs *ToDigits, MultiplyRounded/Divide at the result's scale),
// both run and must agree.
//
// Comparison, as strict as the fixed-point form allows:
// - no operand has a positive exponent and the expected exponent is in [-38, 0]: the form is
//   representable, so coefficient AND scale must match (IdenticalTo; 1.20 ≠ 1.2) and so must
//   the exponent the computation reports;
// - no operand has a positive exponent but the result's is positive (1.2E+3, which a Decimal
//   holds as 1200 at scale 0): the value and the reported exponent must match;
// - an operand has a positive exponent (Parse folds 1E+2 into 100 at scale 0, so its form, on
//   which the result's exponent depends, is lost): the value must match.
// The sign of a zero is not compared (Decimal has no negative zero) and conditions (Inexact,
// Rounded, …) are not checked (Decimal has no status flags). A case is skipped only for a named
// reason that makes it inapplicable to a 38-digit fixed-point type; a failure is never turned
// into a skip.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace {

using tariff::Decimal;
using tariff::DecimalError;
using tariff::RoundingMode;

// The context a group of cases runs in (the directives above them).
struct Context {
  long long precision = 9;
  RoundingMode rounding = RoundingMode::kHalfUp;
  long long max_exponent = 999;
  long long min_exponent = -999;
  int clamp = 0;
};

// A decTest numeric string as the specification reads it: sign, coefficient digits, exponent.
struct Form {
  enum class Kind { kFinite, kSpecial, kEncoded, kMalformed } kind = Kind::kMalformed;
  bool negative = false;
  std::string digits;  // coefficient digits, leading zeros removed ("0" for zero)
  long long exponent = 0;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Form ReadForm(const std::string& text) {
  Form f;
  if (text.find('#') != std::string::npos) {
    f.kind = Form::Kind::kEncoded;
    return f;
  }
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) f.negative = text[i++] == '-';
  std::string rest = Lower(text.substr(i));
  if (rest.rfind("inf", 0) == 0 || rest.rfind("nan", 0) == 0 || rest.rfind("snan", 0) == 0) {
    f.kind = Form::Kind::kSpecial;
    return f;
  }
  std::string digits;
  long long fraction = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
      if (point) ++fraction;
    } else if (c == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (digits.empty()) return f;
  long long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative_exponent = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative_exponent = text[i++] == '-';
    if (i >= text.size()) return f;
    for (; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return f;
      if (exponent < 1000000000000LL) exponent = exponent * 10 + (text[i] - '0');
    }
    if (negative_exponent) exponent = -exponent;
  }
  if (i != text.size()) return f;
  std::size_t nz = digits.find_first_not_of('0');
  f.digits = nz == std::string::npos ? "0" : digits.substr(nz);
  f.exponent = exponent - fraction;
  f.kind = Form::Kind::kFinite;
  return f;
}

bool IsZero(const Form& f) { return f.digits == "0"; }

// Why a finite form cannot be a Decimal, or nullopt if it can. `what` is "operand" or "result".
std::optional<std::string> WhyNotRepresentable(const Form& f, const std::string& what) {
  if (f.exponent < -Decimal::kMaxScale) return what + " exponent below -38";
  if (static_cast<long long>(f.digits.size()) > Decimal::kMaxDigits) return what + " has more than 38 digits";
  if (f.exponent > 0 && !IsZero(f) && static_cast<long long>(f.digits.size()) + f.exponent > Decimal::kMaxDigits) {
    return what + " magnitude at or above 10^38";
  }
  return std::nullopt;
}

// The form as our grammar spells it (Parse folds the exponent into the scale).
std::string Canonical(const Form& f) {
  return fmt::format("{}{}E{}", f.negative ? "-" : "", f.digits, f.exponent);
}

std::string Show(const Decimal& d, int exponent) {
  return fmt::format("{} (coefficient {} digits, scale {}, exponent {})", d.ToString(), d.digits(), d.scale(),
                     exponent);
}

struct Case {
  std::string id, operation;
  std::vector<std::string> operands;
  std::string expected;
  std::vector<std::string> conditions;
};

// What running one case gives.
struct Skip {
  std::string reason;
};
struct Fail {
  std::string detail;
};
struct Computed {
  Decimal value;
  int exponent = 0;  // the specification's exponent of the result
};
using Outcome = std::variant<Skip, Fail, Computed>;

int Digits(long long precision) { return static_cast<int>(std::min<long long>(precision, Decimal::kMaxDigits)); }

// Both routes to one result must agree exactly.
std::optional<Fail> Agree(const char* first, const Decimal& a, const char* second, const Decimal& b) {
  if (a.IdenticalTo(b)) return std::nullopt;
  return Fail{fmt::format("{} gave {} but {} gave {}", first, a.ToString(), second, b.ToString())};
}

Outcome AddOrSubtract(const Decimal& a, const Decimal& b, bool subtract, const Context& ctx) {
  const int p = Digits(ctx.precision);
  Decimal exact;
  int wide_exponent = 0;
  Decimal wide = Decimal::AddToDigits(a, subtract ? -b : b, p, ctx.rounding, &wide_exponent);
  bool fits = subtract ? Decimal::TrySubtract(a, b, &exact) : Decimal::TryAdd(a, b, &exact);
  if (fits && exact.scale() == std::max(a.scale(), b.scale())) {
    int exponent = 0;
    Decimal rounded = exact.RoundToDigits(p, ctx.rounding, &exponent);
    if (auto f = Agree("exact sum + RoundToDigits", rounded, "AddToDigits", wide)) return *f;
    if (exponent != wide_exponent) return Fail{"RoundToDigits and AddToDigits disagree on the exponent"};
    return Computed{rounded, exponent};
  }
  return Computed{wide, wide_exponent};
}

Outcome Multiply(const Decimal& a, const Decimal& b, const Context& ctx) {
  const int p = Digits(ctx.precision);
  int exponent = 0;
  Decimal result = Decimal::MultiplyToDigits(a, b, p, ctx.rounding, &exponent);
  Decimal exact;
  if (Decimal::TryMultiply(a, b, &exact) && exact.scale() == a.scale() + b.scale()) {
    int e = 0;
    Decimal rounded = exact.RoundToDigits(p, ctx.rounding, &e);
    if (auto f = Agree("exact product + RoundToDigits", rounded, "MultiplyToDigits", result)) return *f;
    if (e != exponent) return Fail{"RoundToDigits and MultiplyToDigits disagree on the exponent"};
  }
  if (exponent <= 0) {
    Decimal at_scale = Decimal::MultiplyRounded(a, b, -exponent, ctx.rounding);
    if (auto f = Agree("MultiplyToDigits", result, "MultiplyRounded at the result scale", at_scale)) return *f;
  }
  return Computed{result, exponent};
}

Outcome DivideCase(const Decimal& a, const Decimal& b, const Context& ctx) {
  const int p = Digits(ctx.precision);
  int exponent = 0;
  Decimal result = Decimal::DivideToDigits(a, b, p, ctx.rounding, &exponent);
  Decimal exact;
  if (Decimal::TryDivideExact(a, b, &exact)) {
    // TryDivideExact stops at scale 0 where the specification's ideal exponent is positive; the
    // value is the same, and so is the value after rounding.
    int e = 0;
    Decimal rounded = exact.RoundToDigits(p, ctx.rounding, &e);
    if (rounded != result) {
      return Fail{fmt::format("TryDivideExact + RoundToDigits gave {} but DivideToDigits gave {}", rounded.ToString(),
                              result.ToString())};
    }
    if (exponent <= 0 && b.scale() - a.scale() <= 0) {
      if (auto f = Agree("TryDivideExact + RoundToDigits", rounded, "DivideToDigits", result)) return *f;
    }
  }
  if (exponent <= 0) {
    Decimal at_scale = Decimal::Divide(a, b, -exponent, ctx.rounding);
    if (auto f = Agree("DivideToDigits", result, "Divide at the result scale", at_scale)) return *f;
  }
  return Computed{result, exponent};
}

// x^n for an integral n: the exact power by repeated exact multiplication, rounded once (for
// n < 0, 1 ÷ x^|n| rounded once by DivideToDigits).
Outcome Power(const Decimal& x, const Decimal& n, const Context& ctx) {
  if (n.Normalized().scale() != 0) return Skip{"power with a non-integral exponent"};
  if (n.Abs() > Decimal(1000)) return Skip{"exact power wider than 38 digits"};
  const int p = Digits(ctx.precision);
  long long count = static_cast<long long>(n.Rescale(0, RoundingMode::kDown).coefficient());
  long long magnitude = count < 0 ? -count : count;
  Decimal power(1);
  for (long long i = 0; i < magnitude; ++i) {
    if (!Decimal::TryMultiply(power, x, &power)) return Skip{"exact power wider than 38 digits"};
  }
  int exponent = 0;
  if (count >= 0) return Computed{power.RoundToDigits(p, ctx.rounding, &exponent), exponent};
  if (x.is_zero()) return Skip{"NaN/Infinity"};
  Decimal r = Decimal::DivideToDigits(Decimal(1), power, p, ctx.rounding, &exponent);
  return Computed{r, exponent};
}

// How a computed result is compared with the expected one.
enum class Comparison {
  kForm,              // exponent in [-38, 0]: coefficient and scale (IdenticalTo) and exponent
  kValueAndExponent,  // positive expected exponent: value, and the specification's exponent
  kValueOnly,         // an operand had a positive exponent, whose form Parse folds away: value
};

Outcome Run(const Case& c, const Context& ctx, Comparison* comparison) {
  static const std::map<std::string, int> kArity = {
      {"add", 2},      {"subtract", 2},   {"multiply", 2},    {"divide", 2}, {"compare", 2},
      {"quantize", 2}, {"tointegral", 1}, {"tointegralx", 1}, {"power", 2},  {"apply", 1}};
  auto arity = kArity.find(c.operation);
  if (arity == kArity.end()) return Skip{"unsupported operation " + c.operation};
  if (static_cast<int>(c.operands.size()) != arity->second) {
    return Fail{fmt::format("expected {} operands, found {}", arity->second, c.operands.size())};
  }

  std::vector<Form> forms;
  for (const std::string& o : c.operands) forms.push_back(ReadForm(o));
  Form expected = ReadForm(c.expected);
  for (const Form& f : forms) {
    if (f.kind == Form::Kind::kEncoded) return Skip{"encoded # operand"};
  }
  if (expected.kind == Form::Kind::kEncoded) return Skip{"encoded # result"};
  for (const Form& f : forms) {
    if (f.kind == Form::Kind::kSpecial) return Skip{"NaN/Infinity"};
  }
  if (expected.kind == Form::Kind::kSpecial) return Skip{"NaN/Infinity"};
  for (const Form& f : forms) {
    if (f.kind == Form::Kind::kMalformed) return Fail{"operand is not a decTest number"};
  }
  if (expected.kind == Form::Kind::kMalformed) return Fail{"expected result is not a decTest number"};

  // quantize reads only the exponent of its second operand.
  const bool quantize = c.operation == "quantize";
  std::vector<Decimal> values;
  for (std::size_t i = 0; i < forms.size(); ++i) {
    const Form& f = forms[i];
    if (quantize && i == 1) {
      // Only the exponent matters: a scale, or for a positive exponent a power of ten to round to.
      if (f.exponent > Decimal::kMaxDigits - 1) return Skip{"quantize to a power of ten at or above 10^38"};
      if (f.exponent < -Decimal::kMaxScale) return Skip{"operand exponent below -38"};
      const int exponent = static_cast<int>(f.exponent);
      values.push_back(exponent > 0 ? Decimal::FromParts(static_cast<tariff::int128>(tariff::PowerOfTen(exponent)), 0)
                                    : Decimal::FromParts(0, -exponent));
      continue;
    }
    if (auto why = WhyNotRepresentable(f, "operand")) return Skip{*why};
    tariff::DecimalParseResult r = Decimal::Parse(Canonical(f));
    if (!r.value) return Fail{fmt::format("Decimal::Parse(\"{}\") failed: {}", Canonical(f), r.error)};
    values.push_back(*r.value);
  }
  if (auto why = WhyNotRepresentable(expected, "result")) return Skip{*why};
  for (const std::string& condition : c.conditions) {
    std::string k = Lower(condition);
    // Clamped only changes an exponent at the format's limits, never a value: not a reason.
    if (k == "overflow" || k == "underflow" || k == "subnormal") {
      return Skip{"exponent-limit condition (" + condition + ")"};
    }
  }

  bool folded_operand = false;
  for (const Form& f : forms) folded_operand = folded_operand || (f.exponent > 0 && !quantize);
  *comparison = folded_operand ? Comparison::kValueOnly
                : expected.exponent > 0 ? Comparison::kValueAndExponent
                                        : Comparison::kForm;

  const std::string& op = c.operation;
  if (op == "add" || op == "subtract") return AddOrSubtract(values[0], values[1], op == "subtract", ctx);
  if (op == "multiply") return Multiply(values[0], values[1], ctx);
  if (op == "divide") {
    if (values[1].is_zero()) return Fail{"division by zero with a finite expected result"};
    return DivideCase(values[0], values[1], ctx);
  }
  if (op == "compare") return Computed{Decimal(Decimal::Compare(values[0], values[1])), 0};
  if (op == "quantize") {
    if (!values[1].is_zero()) {
      // A positive exponent k: round to a multiple of 10^k as a ÷ 10^k rounded to scale 0,
      // times 10^k (Decimal has no negative scale); compared by value.
      Decimal unit = values[1];
      Decimal r = Decimal::Divide(values[0], unit, 0, ctx.rounding) * unit;
      return Computed{r, static_cast<int>(forms[1].exponent)};
    }
    Decimal r = values[0].Rescale(values[1].scale(), ctx.rounding);
    return Computed{r, -r.scale()};
  }
  if (op == "tointegral" || op == "tointegralx") {
    Decimal r = values[0].scale() > 0 ? values[0].Rescale(0, ctx.rounding) : values[0];
    return Computed{r, -r.scale()};
  }
  if (op == "power") return Power(values[0], values[1], ctx);
  if (op == "apply") {
    int exponent = 0;
    Decimal r = values[0].RoundToDigits(Digits(ctx.precision), ctx.rounding, &exponent);
    return Computed{r, exponent};
  }
  return Skip{"unsupported operation " + op};
}

// Splits a decTest line into tokens: whitespace-separated, quotes ('…' or "…", doubled to
// escape) group, `--` outside quotes starts a comment.
std::vector<std::string> Tokenize(const std::string& line) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) break;
    if (line.compare(i, 2, "--") == 0) break;
    std::string token;
    if (line[i] == '\'' || line[i] == '"') {
      char quote = line[i++];
      while (i < line.size()) {
        if (line[i] == quote) {
          if (i + 1 < line.size() && line[i + 1] == quote) {
            token += quote;
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        token += line[i++];
      }
    } else {
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) token += line[i++];
    }
    tokens.push_back(token);
  }
  return tokens;
}

struct FileResult {
  long long passed = 0, failed = 0, skipped = 0;
  long long passed_by_value = 0;               // of `passed`, those compared by value only
  long long passed_by_value_and_exponent = 0;  // … by value and exponent
  std::map<std::string, long long> reasons;
};

std::string JoinOperands(const std::vector<std::string>& operands) {
  std::string s;
  for (const std::string& o : operands) {
    if (!s.empty()) s += ' ';
    s += o;
  }
  return s;
}

std::string ContextText(const Context& ctx) {
  return fmt::format("precision {}, rounding {}", ctx.precision, tariff::RoundingModeName(ctx.rounding));
}

bool RunFile(const std::string& path, bool show_skips, FileResult* result) {
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "dectest: cannot open {}\n", path);
    return false;
  }
  Context ctx;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::vector<std::string> tokens = Tokenize(line);
    if (tokens.empty()) continue;
    if (tokens[0].size() > 1 && tokens[0].back() == ':') {
      std::string key = Lower(tokens[0].substr(0, tokens[0].size() - 1));
      std::string value = tokens.size() > 1 ? tokens[1] : "";
      if (key == "precision") {
        ctx.precision = std::stoll(value);
      } else if (key == "rounding") {
        std::optional<RoundingMode> mode = tariff::ParseRoundingMode(Lower(value));
        if (!mode) {
          fmt::print(stderr, "{}:{}: unknown rounding `{}`\n", path, line_number, value);
          return false;
        }
        ctx.rounding = *mode;
      } else if (key == "maxexponent") {
        ctx.max_exponent = std::stoll(value);
      } else if (key == "minexponent") {
        ctx.min_exponent = std::stoll(value);
      } else if (key == "clamp") {
        ctx.clamp = std::stoi(value);
      } else if (key == "extended" || key == "version" || key == "dectest") {
        // extended: 1 throughout; version is informational.
      } else {
        fmt::print(stderr, "{}:{}: unknown directive `{}`\n", path, line_number, key);
        return false;
      }
      continue;
    }
    auto arrow = std::find(tokens.begin(), tokens.end(), "->");
    if (tokens.size() < 4 || arrow == tokens.end() || arrow + 1 == tokens.end() || arrow - tokens.begin() < 3) {
      fmt::print(stderr, "{}:{}: not a test case: {}\n", path, line_number, line);
      return false;
    }
    Case c;
    c.id = tokens[0];
    c.operation = Lower(tokens[1]);
    c.operands.assign(tokens.begin() + 2, arrow);
    c.expected = *(arrow + 1);
    c.conditions.assign(arrow + 2, tokens.end());

    Comparison comparison = Comparison::kForm;
    Outcome outcome;
    try {
      outcome = Run(c, ctx, &comparison);
    } catch (const DecimalError& e) {
      outcome = Fail{fmt::format("threw DecimalError: {}", e.what())};
    }
    std::string failure;
    if (auto* skip = std::get_if<Skip>(&outcome)) {
      ++result->skipped;
      ++result->reasons[skip->reason];
      if (show_skips) fmt::print("SKIP {}:{}: {} ({})\n", path, line_number, line, skip->reason);
      continue;
    }
    if (auto* fail = std::get_if<Fail>(&outcome)) {
      failure = fail->detail;
    } else {
      const Computed& got = std::get<Computed>(outcome);
      Form e = ReadForm(c.expected);
      Decimal want = Decimal::FromString(Canonical(e));
      bool ok = comparison == Comparison::kValueOnly         ? got.value == want
                : comparison == Comparison::kValueAndExponent ? got.value == want && got.exponent == e.exponent
                                                              : got.value.IdenticalTo(want) && got.exponent == e.exponent;
      if (!ok) failure = fmt::format("got {}", Show(got.value, got.exponent));
      if (!ok && comparison == Comparison::kValueOnly) failure += " (compared by value)";
      if (!ok && comparison == Comparison::kValueAndExponent) failure += " (compared by value and exponent)";
    }
    if (failure.empty()) {
      ++result->passed;
      if (comparison == Comparison::kValueOnly) ++result->passed_by_value;
      if (comparison == Comparison::kValueAndExponent) ++result->passed_by_value_and_exponent;
    } else {
      ++result->failed;
      fmt::print("FAIL {}:{}: {} {} {} -> expected {} [{}]: {}\n", path, line_number, c.id, c.operation,
                 JoinOperands(c.operands), c.expected, ContextText(ctx), failure);
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  bool show_skips = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--show-skips") {
      show_skips = true;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    fmt::print(stderr, "usage: dectest [--show-skips] FILE.decTest...\n");
    return 2;
  }
  FileResult total;
  bool io_ok = true;
  for (const std::string& file : files) {
    FileResult r;
    if (!RunFile(file, show_skips, &r)) {
      io_ok = false;
      continue;
    }
    std::string reasons;
    for (const auto& [reason, count] : r.reasons) {
      reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : ", ", reason, count);
      total.reasons[reason] += count;
    }
    fmt::print("{}: {} passed, {} failed, {} skipped{}\n", file, r.passed, r.failed, r.skipped,
               reasons.empty() ? "" : " (" + reasons + ")");
    total.passed += r.passed;
    total.failed += r.failed;
    total.skipped += r.skipped;
    total.passed_by_value += r.passed_by_value;
    total.passed_by_value_and_exponent += r.passed_by_value_and_exponent;
  }
  std::string reasons;
  for (const auto& [reason, count] : total.reasons) {
    reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : ", ", reason, count);
  }
  if (!reasons.empty()) fmt::print("skipped by reason: {}\n", reasons);
  fmt::print(
      "passed cases compared by coefficient, scale and exponent: {}; by value and exponent (positive result "
      "exponent): {}; by value only (an operand with a positive exponent): {}\n",
      total.passed - total.passed_by_value - total.passed_by_value_and_exponent, total.passed_by_value_and_exponent,
      total.passed_by_value);
  fmt::print("{} passed, {} failed, {} skipped\n", total.passed, total.failed, total.skipped);
  return total.failed == 0 && io_ok ? 0 : 1;
}
