// compiler/sema: resolves names and checks types, units, currencies, tiers and tests of each
// plan. An expression whose type cannot be determined gets TypeKind::kError, and nothing that
// depends on it is reported again: one mistake, one message.
#include "compiler/sema/sema.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>

#include <boost/multiprecision/cpp_int.hpp>
#include <fmt/format.h>

#include "compiler/sema/units_adapter.h"
#include "runtime/calendar/calendar.h"
#include "runtime/money/currency.h"

namespace tariff {

Type Type::Money(std::string currency) {
  Type t;
  t.kind = TypeKind::kMoney;
  t.currency = std::move(currency);
  return t;
}

Type Type::Quantity(Unit unit) {
  Type t;
  t.kind = TypeKind::kQuantity;
  t.unit = std::move(unit);
  return t;
}

std::string Type::Describe() const {
  switch (kind) {
    case TypeKind::kError: return "<error>";
    case TypeKind::kDecimal: return "a number";
    case TypeKind::kPercent: return "a percentage";
    case TypeKind::kBool: return "a boolean";
    case TypeKind::kText: return "text";
    case TypeKind::kId: return "an id";
    case TypeKind::kTimestamp: return "a timestamp";
    case TypeKind::kEnum: return "an enumeration";
    case TypeKind::kQuantity: return fmt::format("a quantity of {}", UnitName(*unit));
    case TypeKind::kMoney: return fmt::format("money in {}", currency);
    case TypeKind::kRate: return fmt::format("a rate in {} per {}", currency, UnitName(*unit));
    case TypeKind::kEvent: return fmt::format("the event `{}`", event);
  }
  return "?";
}

std::optional<Aggregation> ParseAggregation(const std::string& name) {
  static const std::pair<const char*, Aggregation> kNames[] = {
      {"count", Aggregation::kCount},
      {"count_distinct", Aggregation::kCountDistinct},
      {"sum", Aggregation::kSum},
      {"min", Aggregation::kMin},
      {"max", Aggregation::kMax},
      {"latest", Aggregation::kLatest},
      {"average", Aggregation::kAverage},
      {"time_weighted_average", Aggregation::kTimeWeightedAverage},
      {"integral", Aggregation::kIntegral},
  };
  for (const auto& [text, value] : kNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

namespace {

using ast::BinaryOp;
using ast::LiteralKind;

// Exact arithmetic on what plans write (tier bounds in other units, prices per N, totals at a
// bound): an unbounded rational never rounds and never overflows, so no literal, however long,
// can make the checker throw (Decimal would stop at 38 digits).
using BigInt = boost::multiprecision::cpp_int;
using Rational = boost::multiprecision::cpp_rational;

BigInt ToBigInt(int128 v) {
  const bool negative = v < 0;
  const uint128 magnitude = negative ? uint128(0) - static_cast<uint128>(v) : static_cast<uint128>(v);
  BigInt out = static_cast<std::uint64_t>(magnitude >> 64);
  out <<= 64;
  out += static_cast<std::uint64_t>(magnitude);
  return negative ? BigInt(-out) : out;
}

Rational ToRational(const Decimal& d) {
  return Rational(ToBigInt(d.coefficient()), boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(d.scale())));
}

Rational ToRational(const UnitScale& scale) {
  BigInt numerator = 1, denominator = 1;
  for (std::size_t i = 0; i < UnitScale::kPrimes.size(); ++i) {
    const int e = scale.exponents()[i];
    BigInt power = boost::multiprecision::pow(BigInt(UnitScale::kPrimes[i]), static_cast<unsigned>(e < 0 ? -e : e));
    (e < 0 ? denominator : numerator) *= power;
  }
  return Rational(numerator, denominator);
}

// `value` for a message: rounded half-even to at most 4 decimals, trailing zeros removed
// (`10`, `8.3333`); the digits before the point are all kept, however many.
std::string ApproximateText(const Rational& value) {
  constexpr unsigned kDecimals = 4;
  const BigInt scaled = boost::multiprecision::numerator(value) * boost::multiprecision::pow(BigInt(10), kDecimals);
  const BigInt& denominator = boost::multiprecision::denominator(value);
  const bool negative = scaled < 0;
  BigInt quotient = (negative ? BigInt(-scaled) : scaled) / denominator;
  const BigInt twice_rest = ((negative ? BigInt(-scaled) : scaled) % denominator) * 2;
  if (twice_rest > denominator || (twice_rest == denominator && (quotient & 1) != 0)) ++quotient;
  std::string digits = quotient.str();
  if (digits.size() <= kDecimals) digits.insert(0, kDecimals + 1 - digits.size(), '0');
  std::string whole = digits.substr(0, digits.size() - kDecimals);
  std::string fraction = digits.substr(digits.size() - kDecimals);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return (negative && quotient != 0 ? "-" : "") + whole + (fraction.empty() ? "" : "." + fraction);
}

// Warnings a plan or charge may acknowledge with `allow NAME`.
struct WarningName {
  const char* name;
  DiagKind kind;
};
constexpr WarningName kWarningNames[] = {
    {"unused_meter", DiagKind::UnusedMeter},
    {"falling_total", DiagKind::VolumeTotalFalls},
    {"dropped_precision", DiagKind::PrecisionDropped},
    {"unused_event", DiagKind::UnusedEvent},
};

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "did you mean `x`?" for the closest candidate within a small distance.
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  std::size_t best_distance = name.size() <= 3 ? 2 : 3;
  for (const auto& c : candidates) {
    std::size_t d = EditDistance(name, c);
    if (d < best_distance) best_distance = d, best = &c;
  }
  return best == nullptr ? std::string() : fmt::format("did you mean `{}`?", *best);
}

template <typename Map>
std::vector<std::string> Keys(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : map) keys.push_back(k);
  return keys;
}

// Validates an RFC 3339 date or date-time as written in plans; returns an empty string when
// valid, otherwise what is wrong.
std::string CheckDateTime(const std::string& text) {
  auto num = [&](std::size_t pos, std::size_t len) { return std::stoi(text.substr(pos, len)); };
  int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (m < 1 || m > 12) return fmt::format("month {} does not exist", m);
  if (!ymd.ok()) return fmt::format("{:04}-{:02} has no day {}", y, m, d);
  if (text.size() > 10) {
    int hh = num(11, 2), mm = num(14, 2);
    int ss = text.size() > 16 && text[16] == ':' ? num(17, 2) : 0;
    if (hh > 23) return fmt::format("hour {} does not exist", hh);
    if (mm > 59) return fmt::format("minute {} does not exist", mm);
    if (ss > 59) return fmt::format("second {} does not exist", ss);
  }
  return "";
}

bool IsNumeric(TypeKind k) {
  return k == TypeKind::kDecimal || k == TypeKind::kPercent || k == TypeKind::kQuantity ||
         k == TypeKind::kMoney || k == TypeKind::kRate;
}

bool IsTextual(TypeKind k) { return k == TypeKind::kText || k == TypeKind::kEnum || k == TypeKind::kId; }

// Two types a value can flow between (arms of a match, sides of min/max, a test value).
bool SameType(const Type& a, const Type& b) {
  if (a.kind != b.kind) {
    return IsTextual(a.kind) && IsTextual(b.kind);
  }
  switch (a.kind) {
    case TypeKind::kMoney: return a.currency == b.currency;
    case TypeKind::kQuantity: return SameDimension(*a.unit, *b.unit);
    case TypeKind::kRate: return a.currency == b.currency && SameDimension(*a.unit, *b.unit);
    default: return true;
  }
}

// Where an expression is being checked: what it may refer to.
enum class Place : std::uint8_t {
  kMeterArg,    // inside `sum(…)`: fields of the meter's event
  kMeterWhere,  // a meter's filter: fields of the meter's event
  kCharge,      // an aggregate charge: meters, subscription fields, constants
  kEach,        // a per-event charge: fields of the `each` event, subscription fields
  kGroupBy,     // `by request.model`
  kConstant,    // tier bounds, adjustments, test values: literals only
  kTestField,   // a field value in a test's usage
};

struct Scope {
  Place place = Place::kConstant;
  std::string event;                   // the event whose fields are visible ("" = not fixed yet)
  std::string* seen_event = nullptr;   // meters: records the first event read
  ChargeInfo* charge = nullptr;        // aggregate charges: records meters read
  const ast::MeterDecl* meter = nullptr;
  // A grouped charge (`by request.model`): the fields it is grouped by have one value per
  // invoice line, so the charge may read them (matrix prices: `match request.model { … }`).
  std::vector<std::pair<std::string, std::string>> group_fields;
};

class Checker {
 public:
  Checker(const ast::File& file, const SourceFile& source, DiagnosticSink& sink)
      : file_(file), source_(source), sink_(sink) {
    result_ = std::make_unique<CheckedFile>();
    result_->file = &file;
    result_->types.resize(static_cast<std::size_t>(file.node_count));
  }

  std::unique_ptr<CheckedFile> Run() {
    std::map<std::pair<std::string, std::string>, const ast::Plan*> versions;
    for (const ast::Plan& plan : file_.plans) {
      std::string version = plan.version ? plan.version->ToString() : "";
      auto [it, inserted] = versions.emplace(std::make_pair(plan.name.value, version), &plan);
      if (!inserted) {
        Report(DiagKind::DuplicatePlanVersion, plan.name.span, plan.name.value,
               version.empty() ? std::string("without a version") : "version " + version)
            .Note(it->second->name.span, "first declared here")
            .Hint("give each plan version its own `version N effective DATE`");
      }
      CheckPlan(plan);
    }
    result_->ok = errors_ == 0;
    return std::move(result_);
  }

 private:
  // ---- reporting --------------------------------------------------------------------------

  template <typename... Args>
  Diagnostic& Report(DiagKind kind, Span span, const Args&... args) {
    Diagnostic& d = sink_.Report(kind, span, args...);
    if (d.severity == Severity::kError) ++errors_;
    return d;
  }

  // Warnings pass through `allow` first.
  template <typename... Args>
  void Warn(DiagKind kind, Span span, const std::set<DiagKind>& allowed, const Args&... args) {
    if (allowed.count(kind) != 0 || plan_allowed_.count(kind) != 0) return;
    Report(kind, span, args...);
  }

  std::set<DiagKind> ParseAllow(const std::vector<ast::Name>& names) {
    std::set<DiagKind> out;
    for (const ast::Name& n : names) {
      bool found = false;
      for (const auto& w : kWarningNames) {
        if (n.text == w.name) out.insert(w.kind), found = true;
      }
      if (!found) {
        std::vector<std::string> all;
        for (const auto& w : kWarningNames) all.push_back(w.name);
        auto& d = Report(DiagKind::UnknownName, n.span, "warning", n.text);
        std::string s = Suggest(n.text, all);
        d.Hint(s.empty() ? "warnings that can be allowed: unused_meter, falling_total, dropped_precision, unused_event" : s);
      }
    }
    return out;
  }

  void SetType(const ast::Node& node, const Type& type) {
    if (node.id.valid() && static_cast<std::size_t>(node.id.index) < result_->types.size()) {
      result_->types[static_cast<std::size_t>(node.id.index)] = type;
    }
  }

  // ---- plan -------------------------------------------------------------------------------

  void CheckPlan(const ast::Plan& plan) {
    CheckedPlan checked;
    checked.plan = &plan;
    plan_ = &checked;
    const int errors_before_plan = errors_;
    plan_allowed_.clear();
    units_ = UnitCatalog();
    declared_units_.clear();
    rounding_ = nullptr;
    currency_decl_ = nullptr;
    currency_written_ = false;
    plan_has_threshold_ = false;
    if (plan.effective) CheckDate(*plan.effective);

    // Pass 1: settings, units and declarations, so that order of items does not matter.
    std::map<std::string, const ast::Node*> settings;
    auto once = [&](const char* what, const ast::Node& node) {
      auto [it, inserted] = settings.emplace(what, &node);
      if (!inserted) {
        Report(DiagKind::DuplicateSetting, node.span, what, plan.name.value)
            .Note(it->second->span, "first set here");
        return false;
      }
      return true;
    };
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::AllowDecl>(&item.kind)) {
        auto allowed = ParseAllow(d->names);
        plan_allowed_.insert(allowed.begin(), allowed.end());
      }
    }
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::CurrencyDecl>(&item.kind)) {
        if (once("currency", *d)) CheckCurrencyDecl(*d);
      } else if (const auto* d = std::get_if<ast::PeriodDecl>(&item.kind)) {
        if (once("period", *d)) CheckPeriod(*d);
      } else if (const auto* d = std::get_if<ast::RoundingDecl>(&item.kind)) {
        if (once("rounding", *d)) {
          CheckRounding(d->spec);
          rounding_ = &d->spec;
        }
      } else if (const auto* d = std::get_if<ast::ProrationDecl>(&item.kind)) {
        if (once("proration", *d)) CheckProration(d->spec);
      } else if (const auto* d = std::get_if<ast::UnitDecl>(&item.kind)) {
        for (const ast::Name& n : d->names) DeclareUnit(n);
      } else if (const auto* d = std::get_if<ast::CreditsDecl>(&item.kind)) {
        if (once("credits", *d)) CheckCredits(*d);
      } else if (const auto* d = std::get_if<ast::ProrateDecl>(&item.kind)) {
        if (once("on change prorate", *d) && d->behavior.text != "next_invoice" && d->behavior.text != "now" &&
            d->behavior.text != "none") {
          auto& diag = Report(DiagKind::UnknownName, d->behavior.span, "proration behaviour", d->behavior.text);
          if (d->behavior.text == "always_invoice" || d->behavior.text == "create_prorations") {
            diag.Hint(fmt::format("Stripe's `{}` is written `on change prorate {}`", d->behavior.text,
                                  d->behavior.text == "always_invoice" ? "now" : "next_invoice"));
          } else {
            diag.Hint("write `on change prorate next_invoice` (the proration lines on the next invoice), `now` (an invoice at the "
                      "change) or `none`");
          }
        }
      } else if (const auto* d = std::get_if<ast::ThresholdDecl>(&item.kind)) {
        if (once("invoice when usage reaches", *d)) thresholds_.push_back(d);
        plan_has_threshold_ = true;
      } else if (const auto* d = std::get_if<ast::ChangeDecl>(&item.kind)) {
        if (once("on change", *d) && d->policy && d->policy->text != "split") {
          Report(DiagKind::UnknownName, d->policy->span, "version change policy", d->policy->text)
              .Hint("write `on change split` or `on change next period`");
        }
      }
    }
    if (currency_decl_ == nullptr && !currency_written_) {  // an unknown code is reported already
      Report(DiagKind::MissingCurrency, plan.name.span, plan.name.value)
          .Hint("add a line such as `currency USD` to the plan");
    }
    // Events first (meters and charges refer to them), then the subscription.
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::EventDecl>(&item.kind)) DeclareEvent(*d);
    }
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::SubscriptionDecl>(&item.kind)) {
        if (once("subscription", *d)) {
          for (const ast::FieldDecl& f : d->fields) {
            static const std::set<std::string> kBuiltIn = {"customer", "plan", "version", "start", "end", "proration_behavior"};
            if (kBuiltIn.count(f.name.text) != 0) {
              Report(DiagKind::DuplicateName, f.name.span, "subscription field", f.name.text)
                  .Hint(fmt::format("every subscription has `{}` already (customer, plan, version, start, end, proration_behavior); it "
                                    "need not be declared",
                                    f.name.text));
              continue;
            }
            if (checked.subscription.count(f.name.text) != 0) {
              Report(DiagKind::DuplicateName, f.name.span, "subscription field", f.name.text)
                  .Note(checked.subscription[f.name.text].decl->name.span, "first declared here");
              continue;
            }
            ReportBuiltInName(f.name, "subscription field");
            checked.subscription[f.name.text] = FieldInfo{&f, FieldType(f.type, "")};
          }
        }
      }
    }
    // Meters, in any order relative to charges.
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::MeterDecl>(&item.kind)) CheckMeter(*d);
    }
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::ChargeDecl>(&item.kind)) DeclareCharge(*d);
    }
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::ChargeDecl>(&item.kind)) CheckCharge(*d);
    }
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::DiscountDecl>(&item.kind)) CheckDiscount(*d);
      if (const auto* d = std::get_if<ast::LimitDecl>(&item.kind)) CheckLimit(*d);
    }
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::SubtotalDecl>(&item.kind)) CheckSubtotal(*d);
    }
    for (const ast::ThresholdDecl* d : thresholds_) CheckThreshold(*d);
    thresholds_.clear();
    for (const ast::PlanItem& item : plan.items) {
      if (const auto* d = std::get_if<ast::TestDecl>(&item.kind)) CheckTest(*d);
    }
    // A plan with errors may not use what it meant to (a misspelt meter name): warning that the
    // meter is unused would repeat the error in other words. One mistake, one message.
    const bool plan_has_errors = errors_ > errors_before_plan;
    for (const auto& [name, meter] : checked.meters) {
      if (!meter.used && !plan_has_errors) {
        Warn(DiagKind::UnusedMeter, meter.decl->name.span, {}, name);
      }
    }
    for (const auto& [name, event] : checked.events) {
      if (used_events_.count(name) == 0 && !plan_has_errors) Warn(DiagKind::UnusedEvent, event.decl->name.span, {}, name);
    }
    used_events_.clear();
    result_->plans.push_back(std::move(checked));
    plan_ = nullptr;
  }

  void CheckCurrencyDecl(const ast::CurrencyDecl& d) {
    currency_written_ = true;
    const Currency* currency = FindCurrency(d.code.text);
    if (currency == nullptr) {
      ReportUnknownCurrency(d.code);
      return;
    }
    currency_decl_ = &d;
    plan_->currency = d.code.text;
    plan_->minor_units = currency->minor_units;
  }

  void ReportUnknownCurrency(const ast::Name& code) {
    auto& d = Report(DiagKind::UnknownCurrency, code.span, code.text);
    std::string upper = code.text;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper != code.text && FindCurrency(upper) != nullptr) {
      d.Hint(fmt::format("currency codes are upper case: `{}`", upper));
    } else {
      d.Hint("use an ISO 4217 code such as `USD`, `EUR` or `JPY`");
    }
  }

  void CheckPeriod(const ast::PeriodDecl& d) {
    static const std::set<std::string> kLengths = {"month", "quarter", "year", "day", "days", "week", "weeks", "months", "years", "quarters"};
    if (kLengths.count(d.length.text) == 0) {
      Report(DiagKind::UnknownPeriod, d.length.span, d.length.text)
          .Hint("a period is `month`, `quarter`, `year`, or a number of days such as `30 day`");
    }
    if (d.count && (d.count->scale() != 0 || *d.count <= Decimal(0) || *d.count > Decimal(3660))) {
      Report(DiagKind::ExpectedType, d.count_span, "a period's length", "a whole number from 1 to 3660",
             d.count->ToString());
    }
    const bool days = d.length.text == "day" || d.length.text == "days" || d.length.text == "week" || d.length.text == "weeks";
    if (d.count && !days && kLengths.count(d.length.text) != 0 && *d.count != Decimal(1)) {
      Report(DiagKind::ExpectedType, d.count_span, fmt::format("a number of {}s", d.length.text), "1 (a period counts days or weeks, or is one month, quarter or year)",
             d.count->ToString())
          .Hint(d.length.text.rfind("month", 0) == 0 && *d.count == Decimal(3) ? std::string("write `period quarter`")
                                                                                 : std::string("write `period month`, `period quarter`, `period year` or `period 30 day`"));
    }
    if (d.anchor) CheckDate(*d.anchor);
    if (d.timezone) CheckTimeZone(*d.timezone);
  }

  void CheckTimeZone(const ast::StringLit& tz) {
    const std::string& name = tz.value;
    bool plausible = !name.empty() && name.find("..") == std::string::npos && name.front() != '/';
    if (!plausible || !std::filesystem::is_regular_file(std::filesystem::path("/usr/share/zoneinfo") / name)) {
      Report(DiagKind::UnknownTimeZone, tz.span, name)
          .Hint("use an IANA time zone name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"");
    }
  }

  // A test rates one invoice: its period must be non-empty and lie within one billing period of
  // the plan (the one that contains its start, by the plan's `period` rule, its anchor and time
  // zone; dates read in that zone as `tariff rate --period` reads them). A plan whose rule does
  // not hold (an unknown zone, a bad anchor) has its own diagnostic; nothing is said here then.
  // The invoices a test rates: its period cut at the plan's billing period boundaries (one part
  // for a test without `invoice` blocks), with the calendar that cut it. Empty when the period
  // could not be read (reported elsewhere) or is reported here.
  struct TestInvoices {
    std::vector<calendar::Interval> parts;
    std::optional<calendar::Calendar> cal;
  };

  TestInvoices CheckTestPeriod(const ast::TestDecl& test, bool blocks) {
    TestInvoices out;
    // A test that subscribes to another plan of the file is rated by that plan's period rule:
    // only the order of its dates is checked here.
    const bool other_plan = std::any_of(test.stmts.begin(), test.stmts.end(), [&](const ast::TestStmt& st) {
      const auto* s = std::get_if<ast::TestSubscription>(&st.kind);
      if (s == nullptr) return false;
      return std::any_of(s->fields.begin(), s->fields.end(), [&](const ast::FieldInit& f) {
        const auto* lit = f.value ? std::get_if<ast::Literal>(&f.value->kind) : nullptr;
        return f.name.text == "plan" && lit != nullptr && lit->text != plan_->plan->name.value;
      });
    });
    calendar::PeriodRule rule;
    for (const ast::PlanItem& item : plan_->plan->items) {
      const auto* d = std::get_if<ast::PeriodDecl>(&item.kind);
      if (d == nullptr) continue;
      const std::string& l = d->length.text;
      const bool days = l == "day" || l == "days";
      const bool weeks = l == "week" || l == "weeks";
      rule.length = days || weeks ? calendar::PeriodLength::kDays
                    : l.rfind("quarter", 0) == 0 ? calendar::PeriodLength::kQuarter
                    : l.rfind("year", 0) == 0    ? calendar::PeriodLength::kYear
                                                 : calendar::PeriodLength::kMonth;
      const int count = d->count && d->count->scale() == 0 && *d->count > Decimal(0) && *d->count <= Decimal(3660)
                            ? static_cast<int>(d->count->coefficient())
                            : 1;
      rule.count = days ? count : weeks ? count * 7 : 1;
      if (d->anchor) rule.anchor = d->anchor->text;
      if (d->timezone) rule.time_zone = d->timezone->value;
    }
    try {
      const calendar::Calendar cal(rule);
      const std::int64_t start = cal.ParseLocal(test.from->text);
      const std::int64_t end = cal.ParseLocal(test.to->text);
      if (end <= start) {
        Report(DiagKind::TestPeriodEmpty, Span{test.from->span.file, test.from->span.begin, test.to->span.end}, test.name.value,
               test.from->text, test.to->text)
            .Hint("a test's period is START .. END with END after START, e.g. `period 2026-03-01 .. 2026-04-01`");
        return out;
      }
      const calendar::Interval period = cal.PeriodContaining(start);
      if (!other_plan && !blocks && end > period.end) {
        Report(DiagKind::TestPeriodTooLong, test.to->span, test.name.value, cal.FormatLocal(period.end))
            .Note(test.from->span, fmt::format("the billing period that contains the start is {} .. {}", cal.FormatLocal(period.start),
                                               cal.FormatLocal(period.end)))
            .Hint(fmt::format("a test without `invoice` blocks rates one invoice: end it at the period's end, or state each "
                              "invoice's expectations in blocks such as `invoice {} {{ expect total = … }}`",
                              cal.FormatLocal(period.end).substr(0, 10)));
        return out;
      }
      // A test of several invoices is cut by this plan's rule, as the test runner cuts it (a
      // subscription to another plan of the file does not change where its invoices start).
      if (other_plan && !blocks) {
        out.parts.push_back(calendar::Interval{start, end});
      } else {
        for (calendar::Interval part : cal.PeriodsOverlapping(start, end)) {
          out.parts.push_back(calendar::Interval{std::max(part.start, start), std::min(part.end, end)});
        }
      }
      out.cal.emplace(cal);
    } catch (const calendar::CalendarError&) {
      // the rule or a date is reported elsewhere
    }
    return out;
  }

  // `invoice DATE { … }` blocks: each at the start of one of the test's invoices, once; inside,
  // only usage and expectations, the usage timed within the block's invoice. Returns the
  // statements to check as one list (the blocks' statements in place of the blocks).
  std::vector<const ast::TestStmt*> CheckInvoiceBlocks(const ast::TestDecl& test, const TestInvoices& invoices) {
    std::vector<const ast::TestStmt*> flat;
    const bool several = invoices.parts.size() > 1;
    std::map<std::int64_t, const ast::InvoiceBlock*> seen;
    bool any_block = false;
    // The instants of the test's changes of subscription (one subscription starting where
    // another ends): a block may be dated at one, for the invoice issued at the change
    // (`on change prorate now`; the runner says when there is none).
    std::set<std::int64_t> changes;
    if (invoices.cal) {
      std::set<std::int64_t> starts, ends;
      for (const ast::TestStmt& stmt : test.stmts) {
        const auto* s = std::get_if<ast::TestSubscription>(&stmt.kind);
        if (s == nullptr) continue;
        for (const ast::FieldInit& init : s->fields) {
          const auto* lit = init.value ? std::get_if<ast::Literal>(&init.value->kind) : nullptr;
          if (lit == nullptr || lit->kind != ast::LiteralKind::kDateTime || (init.name.text != "start" && init.name.text != "end") ||
              !CheckDateTime(lit->text).empty()) {
            continue;
          }
          try {
            (init.name.text == "start" ? starts : ends).insert(invoices.cal->ParseLocal(lit->text));
          } catch (const calendar::CalendarError&) {
          }
        }
      }
      for (std::int64_t t : starts) {
        if (ends.count(t) != 0) changes.insert(t);
      }
    }
    for (const ast::TestStmt& stmt : test.stmts) {
      const auto* block = std::get_if<ast::InvoiceBlock>(&stmt.kind);
      if (block == nullptr) {
        flat.push_back(&stmt);
        const auto* e = std::get_if<ast::Expectation>(&stmt.kind);
        const auto* u = std::get_if<ast::UsageEvents>(&stmt.kind);
        if (several && (e != nullptr || (u != nullptr && !u->at))) {
          Report(DiagKind::TestNeedsInvoiceBlock, stmt.span, test.name.value, invoices.parts.size(), e != nullptr ? "`expect`" : "`usage`")
              .Hint(e != nullptr ? fmt::format("put it in the block of its invoice, e.g. `invoice {} {{ … }}`", invoices.cal->FormatLocal(invoices.parts.front().start).substr(0, 10))
                                 : "put it in the block of its invoice (its time is then the invoice's start), or give its time with `at`");
        }
        continue;
      }
      any_block = true;
      const calendar::Interval* part = nullptr;
      bool at_change = false;
      bool date_ok = CheckDate(block->start);
      if (date_ok && invoices.cal) {
        try {
          const std::int64_t at = invoices.cal->ParseLocal(block->start.text);
          for (const calendar::Interval& p : invoices.parts) {
            if (p.start == at) part = &p;
          }
          at_change = part == nullptr && changes.count(at) != 0;
          if (at_change) {
            if (auto [it, fresh] = seen.emplace(at, block); !fresh) {
              Report(DiagKind::DuplicateName, block->start.span, "invoice", block->start.text).Note(it->second->start.span, "first declared here");
            }
          } else if (part == nullptr) {
            std::string starts;
            for (std::size_t i = 0; i < invoices.parts.size() && i < 12; ++i) {
              starts += (i == 0 ? "" : ", ") + invoices.cal->FormatLocal(invoices.parts[i].start);
            }
            if (invoices.parts.size() > 12) starts += ", …";
            Report(DiagKind::InvoiceNotInTest, block->start.span, block->start.text, test.name.value)
                .Note(test.name.span, fmt::format("its invoices start at {}", starts))
                .Hint("an `invoice` block is dated with its invoice's start, in the plan's time zone (or, for an invoice issued at a "
                      "change prorated `now`, with a subscription's `start` that is another's `end`)");
          } else if (auto [it, fresh] = seen.emplace(at, block); !fresh) {
            Report(DiagKind::DuplicateName, block->start.span, "invoice", block->start.text).Note(it->second->start.span, "first declared here");
          }
        } catch (const calendar::CalendarError&) {
          // an instant out of range: the date is reported by CheckDate
        }
      }
      for (const ast::TestStmt& inner : block->stmts) {
        const char* misplaced = std::holds_alternative<ast::TestSubscription>(inner.kind) ? "subscription"
                                : std::holds_alternative<ast::TestCredit>(inner.kind)     ? "credit"
                                : std::holds_alternative<ast::TestContract>(inner.kind)   ? "contract"
                                : std::holds_alternative<ast::InvoiceBlock>(inner.kind)   ? "invoice"
                                                                                          : nullptr;
        if (misplaced == nullptr && at_change &&
            (std::holds_alternative<ast::UsageEvents>(inner.kind) || std::holds_alternative<ast::UsageFile>(inner.kind))) {
          Report(DiagKind::MisplacedInInvoiceBlock, inner.span, "usage")
              .Note(stmt.span, "the block of an invoice issued at a change")
              .Hint("an invoice at a change holds only the change's proration lines: put the usage in the block of its period's invoice");
          continue;
        }
        if (misplaced != nullptr) {
          Report(DiagKind::MisplacedInInvoiceBlock, inner.span, misplaced)
              .Note(stmt.span, "the block")
              .Hint(std::string(misplaced) == "invoice" ? "blocks are not nested: write each invoice's block in the test"
                                                        : "it applies to every invoice of the test: write it in the test, before the blocks");
          continue;
        }
        const auto* u = std::get_if<ast::UsageEvents>(&inner.kind);
        if (u != nullptr && u->at && part != nullptr && CheckDateTime(u->at->text).empty()) {
          try {
            const std::int64_t t = invoices.cal->ParseLocal(u->at->text);
            if (t < part->start || t >= part->end) {
              Report(DiagKind::UsageOutsideInvoice, u->at->span, u->at->text, block->start.text, invoices.cal->FormatLocal(part->start),
                     invoices.cal->FormatLocal(part->end))
                  .Hint("move it to the block of the invoice it falls in, or change its time");
            }
          } catch (const calendar::CalendarError&) {
          }
        }
        flat.push_back(&inner);
      }
    }
    if (any_block && !(test.from && test.to)) {
      Report(DiagKind::InvoiceBlockWithoutPeriod, test.name.span, test.name.value)
          .Hint("give the test the period its invoices cover, e.g. `test \"" + test.name.value + "\" period 2026-01-01 .. 2026-04-01 { … }`");
    }
    return flat;
  }

  bool CheckDate(const ast::DateTimeLit& lit) {
    std::string problem = CheckDateTime(lit.text);
    if (!problem.empty()) {
      Report(DiagKind::InvalidDate, lit.span, lit.text, problem);
      return false;
    }
    return true;
  }

  void CheckRounding(const ast::RoundingSpec& spec) {
    static const char* kModes[] = {"half_even", "half_up", "half_down", "up", "down", "ceiling", "floor"};
    bool known = std::any_of(std::begin(kModes), std::end(kModes), [&](const char* m) { return spec.mode.text == m; });
    if (!known) {
      auto& d = Report(DiagKind::UnknownRoundingMode, spec.mode.span, spec.mode.text);
      std::string s = Suggest(spec.mode.text, {std::begin(kModes), std::end(kModes)});
      d.Hint(s.empty() ? "rounding modes: half_even, half_up, half_down, up, down, ceiling, floor" : s);
    }
    if (spec.decimals && *spec.decimals < 0) {
      Report(DiagKind::InvalidRoundingScale, spec.decimals_span,
             std::string_view(source_.text()).substr(spec.decimals_span.begin,
                                                     spec.decimals_span.end - spec.decimals_span.begin));
    }
  }

  void CheckProration(const ast::ProrationSpec& spec) {
    if (spec.prorated && spec.basis.text != "day" && spec.basis.text != "second" && spec.basis.text != "thirty_day_month") {
      Report(DiagKind::UnknownName, spec.basis.span, "proration basis", spec.basis.text)
          .Hint("prorate `by second`, `by day` (actual days) or `by thirty_day_month` (30-day months, 30/360)");
    }
  }

  void CheckCredits(const ast::CreditsDecl& d) {
    static const std::vector<std::string> kOrders = {"expiry", "priority", "created", "amount"};
    std::set<std::string> seen;
    for (const ast::Name& n : d.order) {
      if (std::find(kOrders.begin(), kOrders.end(), n.text) == kOrders.end()) {
        auto& diag = Report(DiagKind::UnknownName, n.span, "credit order", n.text);
        std::string s = Suggest(n.text, kOrders);
        diag.Hint(s.empty() ? "credits are drawn by `expiry`, `priority`, `created` or `amount`" : s);
      } else if (!seen.insert(n.text).second) {
        Report(DiagKind::DuplicateName, n.span, "credit order", n.text);
      }
    }
  }

  // E0216: an event, a field or a meter may not take the name of a built-in unit or of a
  // currency (an event's name is the unit `count(EVENT)` counts in, so `event GB` would count
  // gigabytes). Returns true when `n` is such a name (and reports it).
  bool ReportBuiltInName(const ast::Name& n, const char* what) {
    const bool unit = IsBuiltinUnit(n.text);
    if (!unit && FindCurrency(n.text) == nullptr) return false;
    Report(DiagKind::NameIsBuiltIn, n.span, what, n.text, unit ? "a built-in unit" : "a currency")
        .Hint(fmt::format("`{}` always means the {} in a plan; give the {} another name", n.text, unit ? "unit" : "currency", what));
    return true;
  }

  void DeclareUnit(const ast::Name& n) {
    if (IsBuiltinUnit(n.text)) {
      Report(DiagKind::UnitShadowsBuiltin, n.span, n.text)
          .Hint("built-in units convert exactly; declare only count units such as `token` or `seat`");
      return;
    }
    if (FindCurrency(n.text) != nullptr) {
      Report(DiagKind::CurrencyAsUnit, n.span, n.text).Hint("money is written `12.50 USD` and needs no unit");
      return;
    }
    auto it = declared_units_.find(n.text);
    if (it != declared_units_.end()) {
      Report(DiagKind::DuplicateName, n.span, "unit", n.text).Note(it->second, "first declared here");
      return;
    }
    declared_units_[n.text] = n.span;
    DeclareCountUnit(units_, n.text);
  }

  // ---- events and fields ------------------------------------------------------------------

  Type FieldType(const ast::TypeSpec& spec, const std::string& event) {
    Type type;
    switch (spec.kind) {
      case ast::TypeSpec::Kind::kQuantity: {
        std::optional<Unit> unit = ResolveUnitExpr(spec.unit);
        if (!unit) return Type::Error();
        type = Type::Quantity(*unit);
        break;
      }
      case ast::TypeSpec::Kind::kEnum: {
        type.kind = TypeKind::kEnum;
        std::map<std::string, const ast::StringLit*> seen;
        for (const ast::StringLit& v : spec.values) {
          auto [it, inserted] = seen.emplace(v.value, &v);
          if (!inserted) {
            Report(DiagKind::DuplicateName, v.span, "value", v.value).Note(it->second->span, "first listed here");
            continue;
          }
          type.values.push_back(v.value);
        }
        break;
      }
      case ast::TypeSpec::Kind::kNamed: {
        static const std::pair<const char*, TypeKind> kNamed[] = {
            {"decimal", TypeKind::kDecimal}, {"text", TypeKind::kText},   {"id", TypeKind::kId},
            {"boolean", TypeKind::kBool},    {"timestamp", TypeKind::kTimestamp},
        };
        const std::string& n = spec.named.text;
        if (n == "money") return currency_decl_ ? Type::Money(plan_->currency) : Type::Error();
        if (n == "duration") return Type::Quantity(*LookupUnit(units_, "s"));
        for (const auto& [text, kind] : kNamed) {
          if (n == text) return Type::Of(kind);
        }
        auto& d = Report(DiagKind::UnknownType, spec.named.span, n);
        std::string s = Suggest(n, {"decimal", "text", "id", "boolean", "timestamp", "duration", "money"});
        if (!s.empty()) {
          d.Hint(s);
        } else if (LookupUnit(units_, n)) {
          d.Hint(fmt::format("a quantity is written `quantity of {}`", n));
        } else {
          d.Hint("types: decimal, text, id, boolean, timestamp, duration, money, `quantity of UNIT`, `one of \"a\", \"b\"`");
        }
        return Type::Error();
      }
    }
    type.event = event;
    return type;
  }

  void DeclareEvent(const ast::EventDecl& d) {
    if (plan_->events.count(d.name.text) != 0) {
      Report(DiagKind::DuplicateName, d.name.span, "event", d.name.text)
          .Note(plan_->events[d.name.text].decl->name.span, "first declared here");
      return;
    }
    // An event's name is also the unit its count is measured in: `count(request)` is a quantity
    // of `request`, priced `0.20 USD per 1000 request`.
    if (!ReportBuiltInName(d.name, "event") && !LookupUnit(units_, d.name.text)) DeclareCountUnit(units_, d.name.text);
    EventInfo info;
    info.decl = &d;
    info.fields["customer"] = FieldInfo{nullptr, Type::Of(TypeKind::kId)};
    info.fields["time"] = FieldInfo{nullptr, Type::Of(TypeKind::kTimestamp)};
    for (const ast::FieldDecl& f : d.fields) {
      auto it = info.fields.find(f.name.text);
      if (it != info.fields.end()) {
        auto& diag = Report(DiagKind::DuplicateName, f.name.span, "field", f.name.text);
        if (it->second.decl != nullptr) {
          diag.Note(it->second.decl->name.span, "first declared here");
        } else {
          diag.Hint(fmt::format("every event has `{}` already; it need not be declared", f.name.text));
        }
        continue;
      }
      ReportBuiltInName(f.name, "field");
      info.fields[f.name.text] = FieldInfo{&f, FieldType(f.type, d.name.text)};
    }
    if (d.key && info.fields.count(d.key->text) == 0) {
      auto& diag = Report(DiagKind::UnknownName, d.key->span, "field", d.key->text);
      std::string s = Suggest(d.key->text, Keys(info.fields));
      diag.Hint(s.empty() ? "the idempotency key must be one of the event's fields" : s);
    }
    plan_->events[d.name.text] = std::move(info);
  }

  // ---- units ------------------------------------------------------------------------------

  std::optional<Unit> ResolveUnitName(const ast::Name& n) {
    if (std::optional<Unit> u = LookupUnit(units_, n.text)) return u;
    if (FindCurrency(n.text) != nullptr) {
      Report(DiagKind::CurrencyAsUnit, n.span, n.text)
          .Hint(fmt::format("money is written `12.50 {}`; a price per unit is `0.10 {} per GB`", n.text, n.text));
      return std::nullopt;
    }
    auto& d = Report(DiagKind::UnknownUnit, n.span, n.text);
    std::vector<std::string> candidates = AllUnitNames(units_);
    std::string s = Suggest(n.text, candidates);
    if (n.text.size() > 1 && n.text.back() == 's' && LookupUnit(units_, n.text.substr(0, n.text.size() - 1))) {
      d.Hint(fmt::format("units are singular: `{}`", n.text.substr(0, n.text.size() - 1)));
    } else if (!s.empty()) {
      d.Hint(s);
    } else {
      d.Hint(fmt::format("declare a count unit with `unit {}`", n.text));
    }
    return std::nullopt;
  }

  std::optional<Unit> ResolveUnitExpr(const ast::UnitExpr& expr) {
    std::optional<Unit> result;
    for (const auto& f : expr.factors) {
      std::optional<Unit> u = ResolveUnitName(f.name);
      if (!u) return std::nullopt;
      if (!result) {
        result = f.exponent > 0 ? *u : UnitQuotient(DimensionlessUnit(), *u);
      } else {
        result = f.exponent > 0 ? UnitProduct(*result, *u) : UnitQuotient(*result, *u);
      }
    }
    return result;
  }

  // ---- expressions ------------------------------------------------------------------------

  Type CheckLiteral(const ast::Expr& e, const ast::Literal& lit) {
    switch (lit.kind) {
      case LiteralKind::kNumber: return Type::Of(TypeKind::kDecimal);
      case LiteralKind::kPercent:
      case LiteralKind::kBasisPoints: return Type::Of(TypeKind::kPercent);
      case LiteralKind::kString: return Type::Of(TypeKind::kText);
      case LiteralKind::kBool: return Type::Of(TypeKind::kBool);
      case LiteralKind::kDateTime: {
        ast::DateTimeLit d;
        d.span = e.span;
        d.text = lit.text;
        return CheckDate(d) ? Type::Of(TypeKind::kTimestamp) : Type::Error();
      }
      case LiteralKind::kUnit: {
        // `12.50 USD` is money; `1000 token` is a quantity.
        if (lit.unit.factors.size() == 1) {
          const ast::Name& n = lit.unit.factors[0].name;
          if (!LookupUnit(units_, n.text) && FindCurrency(n.text) != nullptr) return CheckMoney(n);
          if (!LookupUnit(units_, n.text) && LooksLikeCurrency(n.text)) {
            ReportUnknownCurrency(n);
            return Type::Error();
          }
        }
        std::optional<Unit> unit = ResolveUnitExpr(lit.unit);
        return unit ? Type::Quantity(*unit) : Type::Error();
      }
      case LiteralKind::kRate: {
        const ast::Name& price = lit.unit.factors[0].name;
        Type money = Type::Error();
        if (lit.unit.factors.size() == 1 && FindCurrency(price.text) != nullptr) {
          money = CheckMoney(price);
        } else if (lit.unit.factors.size() == 1 && LooksLikeCurrency(price.text) && !LookupUnit(units_, price.text)) {
          ReportUnknownCurrency(price);
          return Type::Error();
        } else {
          Report(DiagKind::ExpectedType, lit.unit.span, "the price of a rate", "money such as `0.10 USD`",
                 fmt::format("`{}`", std::string_view(source_.text()).substr(lit.unit.span.begin, lit.unit.span.end - lit.unit.span.begin)));
          return Type::Error();
        }
        if (lit.per && lit.per->is_zero()) {
          Report(DiagKind::DivisionByZero, e.span).Hint("a rate is per a positive amount, e.g. `per 1000 request`");
          return Type::Error();
        }
        std::optional<Unit> unit = ResolveUnitExpr(lit.per_unit);
        if (money.is_error() || !unit) return Type::Error();
        Type rate;
        rate.kind = TypeKind::kRate;
        rate.currency = money.currency;
        rate.unit = *unit;
        return rate;
      }
    }
    return Type::Error();
  }

  static bool LooksLikeCurrency(const std::string& s) {
    return s.size() == 3 && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  }

  Type CheckMoney(const ast::Name& code) {
    if (currency_decl_ == nullptr) return Type::Error();  // reported once as a missing currency
    if (code.text != plan_->currency) {
      Report(DiagKind::CurrencyMismatch, code.span, code.text, plan_->currency)
          .Note(currency_decl_->code.span, "the plan's currency is declared here")
          .Hint("a plan charges in one currency; write a separate plan for each currency");
      return Type::Error();
    }
    return Type::Money(code.text);
  }

  Type Check(const ast::Expr& e, Scope& scope) {
    Type t = std::visit([&](const auto& k) { return CheckKind(e, k, scope); }, e.kind);
    SetType(e, t);
    return t;
  }

  Type CheckKind(const ast::Expr& e, const ast::Literal& lit, Scope&) { return CheckLiteral(e, lit); }

  Type CheckKind(const ast::Expr& e, const ast::NameRef& ref, Scope& scope) {
    const std::string& n = ref.name.text;
    if (scope.place == Place::kCharge) {
      auto it = plan_->meters.find(n);
      if (it != plan_->meters.end()) {
        it->second.used = true;
        if (scope.charge != nullptr &&
            std::find(scope.charge->meters.begin(), scope.charge->meters.end(), n) == scope.charge->meters.end()) {
          scope.charge->meters.push_back(n);
        }
        return it->second.type;
      }
    }
    if (scope.place == Place::kMeterArg && plan_->events.count(n) != 0) {
      NoteEvent(scope, n, ref.name.span);
      Type t;
      t.kind = TypeKind::kEvent;
      t.event = n;
      return t;
    }
    if (plan_->events.count(n) != 0 || n == "subscription") {
      Report(DiagKind::ExpectedType, e.span, fmt::format("`{}`", n), "a value",
             n == "subscription" ? "the subscription" : fmt::format("the event `{}`", n))
          .Hint(n == "subscription" ? "name a field: `subscription.seats`"
                                    : fmt::format("name a field such as `{}.customer`, or count events with a meter: `meter {}s = count({})`", n, n, n));
      return Type::Error();
    }
    if (plan_->meters.count(n) != 0) {
      Report(DiagKind::MeterOutsideCharge, e.span, n)
          .Hint("meters are totals over a period; a meter is used in a charge");
      return Type::Error();
    }
    std::vector<std::string> candidates = Keys(plan_->meters);
    for (const auto& [name, ev] : plan_->events) candidates.push_back(name);
    auto& d = Report(DiagKind::UnknownName, e.span, "name", n);
    std::string s = Suggest(n, candidates);
    if (!s.empty()) d.Hint(s);
    else if (LookupUnit(units_, n) || FindCurrency(n) != nullptr) d.Hint(fmt::format("a unit follows a number: `1 {}`", n));
    return Type::Error();
  }

  void NoteEvent(Scope& scope, const std::string& event, Span span) {
    used_events_.insert(event);
    if (scope.seen_event == nullptr) return;
    if (scope.seen_event->empty()) {
      *scope.seen_event = event;
    } else if (*scope.seen_event != event && scope.meter != nullptr) {
      Report(DiagKind::MixedEvents, span, scope.meter->name.text, *scope.seen_event, event)
          .Hint("a meter reads one event; write one meter per event and add them in the charge");
    }
  }

  Type CheckKind(const ast::Expr& e, const ast::Member& m, Scope& scope) {
    const auto* base = std::get_if<ast::NameRef>(&m.object->kind);
    if (base == nullptr) {
      Type t = Check(*m.object, scope);
      if (!t.is_error()) {
        Report(DiagKind::ExpectedType, m.object->span, "the left of `.`", "an event or `subscription`", t.Describe());
      }
      return Type::Error();
    }
    const std::string& object = base->name.text;
    if (object == "subscription") {
      auto it = plan_->subscription.find(m.member.text);
      if (it == plan_->subscription.end()) {
        auto& d = Report(DiagKind::UnknownName, m.member.span, "subscription field", m.member.text);
        std::string s = Suggest(m.member.text, Keys(plan_->subscription));
        d.Hint(s.empty() ? "declare it in the plan's `subscription { … }` block" : s);
        return Type::Error();
      }
      if (scope.place != Place::kCharge && scope.place != Place::kEach) {
        Report(DiagKind::EventFieldOutsideEvent, e.span, fmt::format("subscription.{}", m.member.text),
               "here")
            .Hint("subscription values can be used in charges");
        return Type::Error();
      }
      return it->second.type;
    }
    auto ev = plan_->events.find(object);
    if (ev == plan_->events.end()) {
      auto& d = Report(DiagKind::UnknownName, base->name.span, "event", object);
      std::string s = Suggest(object, Keys(plan_->events));
      if (!s.empty()) d.Hint(s);
      return Type::Error();
    }
    auto field = ev->second.fields.find(m.member.text);
    if (field == ev->second.fields.end()) {
      auto& d = Report(DiagKind::UnknownName, m.member.span, "field", fmt::format("{}.{}", object, m.member.text));
      std::string s = Suggest(m.member.text, Keys(ev->second.fields));
      if (!s.empty()) d.Hint(s);
      if (ev->second.decl != nullptr) d.Note(ev->second.decl->name.span, fmt::format("event `{}` is declared here", object));
      return Type::Error();
    }
    switch (scope.place) {
      case Place::kMeterArg:
      case Place::kMeterWhere:
      case Place::kGroupBy:
        NoteEvent(scope, object, base->name.span);
        break;
      case Place::kEach:
        if (object != scope.event) {
          Report(DiagKind::MixedEvents, base->name.span, fmt::format("each {}", scope.event), scope.event, object)
              .Hint(fmt::format("a per-event charge reads the fields of `{}` only", scope.event));
          return Type::Error();
        }
        used_events_.insert(object);
        break;
      case Place::kCharge:
        if (std::find(scope.group_fields.begin(), scope.group_fields.end(),
                      std::make_pair(object, m.member.text)) != scope.group_fields.end()) {
          used_events_.insert(object);
          break;
        }
        [[fallthrough]];
      default:
        Report(DiagKind::EventFieldOutsideEvent, e.span, fmt::format("{}.{}", object, m.member.text),
               scope.place == Place::kCharge ? "in a charge over a period" : "here")
            .Hint(scope.place == Place::kCharge
                      ? fmt::format("aggregate it in a meter (`meter x = sum({}.{})`), price each event with `each {}: …`, or group the charge with `by {}.{}`",
                                    object, m.member.text, object, object, m.member.text)
                      : "use a literal value here");
        return Type::Error();
    }
    return field->second.type;
  }

  Type CheckKind(const ast::Expr& e, const ast::Call& call, Scope& scope) {
    const std::string& f = call.callee.text;
    // An aggregation outside a meter is one mistake: its argument (an event field, which has
    // no single value here) is not checked, or it would be reported a second time.
    const bool pair_function = f == "min" || f == "max";
    if (ParseAggregation(f) && (!pair_function || call.args.size() == 1)) {
      Report(DiagKind::AggregationOutsideMeter, call.callee.span, f)
          .Hint(pair_function ? fmt::format("`{}(a, b)` with two values picks the smaller or larger; `{}(event.field)` belongs in a meter", f, f)
                              : fmt::format("declare a meter: `meter name = {}(…)` and use its name here", f));
      return Type::Error();
    }
    std::vector<Type> args;
    for (const auto& a : call.args) args.push_back(Check(*a, scope));
    bool any_error = std::any_of(args.begin(), args.end(), [](const Type& t) { return t.is_error(); });
    if (f == "min" || f == "max") {
      if (args.size() != 2) {
        Report(DiagKind::ArgumentCount, e.span, f, "2 values", std::to_string(args.size()));
        return Type::Error();
      }
      if (any_error) return Type::Error();
      if (!IsNumeric(args[0].kind) || !SameType(args[0], args[1])) {
        Report(DiagKind::TypeMismatch, e.span, fmt::format("take the {} of", f == "min" ? "minimum" : "maximum"),
               args[0].Describe(), args[1].Describe());
        return Type::Error();
      }
      return args[0];
    }
    if (f == "round_up" || f == "round_down") {
      if (args.size() != 2) {
        Report(DiagKind::ArgumentCount, e.span, f, "2 values (a quantity and a step)", std::to_string(args.size()));
        return Type::Error();
      }
      if (any_error) return Type::Error();
      if (args[0].kind != TypeKind::kQuantity && args[0].kind != TypeKind::kDecimal && args[0].kind != TypeKind::kMoney) {
        Report(DiagKind::ExpectedType, call.args[0]->span, fmt::format("the first argument of `{}`", f), "a quantity", args[0].Describe());
        return Type::Error();
      }
      if (!SameType(args[0], args[1])) {
        Report(DiagKind::TypeMismatch, e.span, fmt::format("round ({})", f), args[0].Describe(), args[1].Describe())
            .Hint(f + "(call.duration, 60 s) rounds a duration up to whole minutes");
        return Type::Error();
      }
      if (IsConstantZero(*call.args[1])) {
        Report(DiagKind::DivisionByZero, call.args[1]->span).Hint("round to a positive step such as `60 s`");
        return Type::Error();
      }
      return args[0];
    }
    auto& d = Report(DiagKind::UnknownName, call.callee.span, "function", f);
    std::string s = Suggest(f, {"min", "max", "round_up", "round_down"});
    d.Hint(s.empty() ? "functions: min, max, round_up, round_down" : s);
    return Type::Error();
  }

  static bool IsConstantZero(const ast::Expr& e) {
    const auto* lit = std::get_if<ast::Literal>(&e.kind);
    return lit != nullptr &&
           (lit->kind == LiteralKind::kNumber || lit->kind == LiteralKind::kUnit ||
            lit->kind == LiteralKind::kPercent || lit->kind == LiteralKind::kBasisPoints) &&
           lit->number.is_zero();
  }

  Type CheckKind(const ast::Expr& e, const ast::Unary& u, Scope& scope) {
    Type t = Check(*u.operand, scope);
    if (t.is_error()) return t;
    if (u.op == ast::UnaryOp::kNot) {
      if (t.kind != TypeKind::kBool) {
        Report(DiagKind::ExpectedType, u.operand->span, "the operand of `not`", "a boolean", t.Describe());
        return Type::Error();
      }
      return t;
    }
    if (!IsNumeric(t.kind)) {
      Report(DiagKind::ExpectedType, u.operand->span, "a negated value", "a number, quantity or money", t.Describe());
      return Type::Error();
    }
    (void)e;
    return t;
  }

  // The rate literal `e` ends with, if any: `0.01 USD per GB` in `x * 0.01 USD per GB`.
  static const ast::Literal* TrailingRate(const ast::Expr& e) {
    if (const auto* lit = std::get_if<ast::Literal>(&e.kind)) return lit->kind == LiteralKind::kRate ? lit : nullptr;
    if (const auto* b = std::get_if<ast::Binary>(&e.kind)) return TrailingRate(*b->rhs);
    return nullptr;
  }

  Type CheckKind(const ast::Expr& e, const ast::Binary& b, Scope& scope) {
    // `0.01 USD per GB*h`: the unit after `per` ends at `*`, so `h` is read as a name. When it is
    // nothing but a unit, say how a compound unit is written, and only that (the left side, a
    // rate per `GB`, would be a second message about the same mistake).
    const auto* unit_ref = std::get_if<ast::NameRef>(&b.rhs->kind);
    const ast::Literal* rate = b.op == BinaryOp::kMul ? TrailingRate(*b.lhs) : nullptr;
    if (rate != nullptr && unit_ref != nullptr && LookupUnit(units_, unit_ref->name.text) &&
        plan_->meters.count(unit_ref->name.text) == 0 && plan_->events.count(unit_ref->name.text) == 0) {
      std::string per;
      for (const auto& f : rate->per_unit.factors) per += (per.empty() ? "" : "·") + f.name.text;
      Report(DiagKind::UnknownName, b.rhs->span, "name", unit_ref->name.text)
          .Hint(fmt::format("a unit after `per` is one name or names joined by `·`: `per {}·{}`", per, unit_ref->name.text));
      return Type::Error();
    }
    Type l = Check(*b.lhs, scope);
    Type r = Check(*b.rhs, scope);
    if (l.is_error() || r.is_error()) return Type::Error();
    switch (b.op) {
      case BinaryOp::kAdd:
      case BinaryOp::kSub: return CheckAdd(e, b, l, r);
      case BinaryOp::kMul: return CheckMul(e, b, l, r);
      case BinaryOp::kDiv: return CheckDiv(e, b, l, r);
      case BinaryOp::kAnd:
      case BinaryOp::kOr: {
        for (const auto* side : {&l, &r}) {
          if (side->kind != TypeKind::kBool) {
            Report(DiagKind::ExpectedType, (side == &l ? b.lhs : b.rhs)->span,
                   fmt::format("an operand of `{}`", ast::BinaryOpSpelling(b.op)), "a boolean", side->Describe());
            return Type::Error();
          }
        }
        return l;
      }
      default: return CheckCompare(e, b, l, r);
    }
  }

  Type CheckAdd(const ast::Expr& e, const ast::Binary& b, const Type& l, const Type& r) {
    const char* verb = b.op == BinaryOp::kAdd ? "add" : "subtract";
    if (l.kind == r.kind && l.kind == TypeKind::kQuantity && !SameDimension(*l.unit, *r.unit)) {
      Report(DiagKind::DimensionMismatch, b.op_span, verb, UnitName(*l.unit), UnitName(*r.unit),
             DimensionName(*l.unit), DimensionName(*r.unit))
          .Note(b.lhs->span, l.Describe())
          .Note(b.rhs->span, r.Describe());
      return Type::Error();
    }
    if (l.kind == r.kind && (l.kind == TypeKind::kDecimal || l.kind == TypeKind::kPercent ||
                             l.kind == TypeKind::kQuantity || l.kind == TypeKind::kMoney)) {
      return l;  // currencies already agree: every money literal is in the plan's currency
    }
    auto& d = Report(DiagKind::TypeMismatch, b.op_span, verb, l.Describe(), r.Describe());
    d.Note(b.lhs->span, l.Describe()).Note(b.rhs->span, r.Describe());
    if ((l.kind == TypeKind::kMoney && r.kind == TypeKind::kQuantity) ||
        (l.kind == TypeKind::kQuantity && r.kind == TypeKind::kMoney)) {
      d.Hint("to price a quantity, multiply it by a rate: `quantity * 0.10 USD per GB`");
    } else if ((l.kind == TypeKind::kMoney && r.kind == TypeKind::kPercent) ||
               (l.kind == TypeKind::kPercent && r.kind == TypeKind::kMoney)) {
      d.Hint("a percentage applies to an amount: `payment.amount * 2.9%`");
    }
    (void)e;
    return Type::Error();
  }

  Type CheckMul(const ast::Expr& e, const ast::Binary& b, const Type& l, const Type& r) {
    auto scalar = [](const Type& t) { return t.kind == TypeKind::kDecimal || t.kind == TypeKind::kPercent; };
    if (scalar(l) && scalar(r)) return l.kind == TypeKind::kPercent && r.kind == TypeKind::kPercent ? l : (l.kind == TypeKind::kDecimal ? r : l);
    if (scalar(l) && IsNumeric(r.kind)) return r;
    if (scalar(r) && IsNumeric(l.kind)) return l;
    const Type* rate = l.kind == TypeKind::kRate ? &l : r.kind == TypeKind::kRate ? &r : nullptr;
    const Type* quantity = l.kind == TypeKind::kQuantity ? &l : r.kind == TypeKind::kQuantity ? &r : nullptr;
    if (rate != nullptr && quantity != nullptr) {
      if (!SameDimension(*rate->unit, *quantity->unit)) {
        const auto& q_expr = quantity == &l ? b.lhs : b.rhs;
        Report(DiagKind::RateUnitMismatch, b.op_span, UnitName(*rate->unit), UnitName(*quantity->unit))
            .Note(q_expr->span, fmt::format("this is {}", quantity->Describe()))
            .Hint(fmt::format("a rate per {} prices a quantity of {} ({}); check the meter or the rate's unit",
                              UnitName(*rate->unit), DimensionName(*rate->unit), UnitName(*rate->unit)));
        return Type::Error();
      }
      return Type::Money(rate->currency);
    }
    if (l.kind == TypeKind::kQuantity && r.kind == TypeKind::kQuantity) {
      return Type::Quantity(UnitProduct(*l.unit, *r.unit));
    }
    auto& d = Report(DiagKind::TypeMismatch, b.op_span, "multiply", l.Describe(), r.Describe());
    if ((l.kind == TypeKind::kMoney && r.kind == TypeKind::kQuantity) ||
        (l.kind == TypeKind::kQuantity && r.kind == TypeKind::kMoney)) {
      d.Hint("price a quantity with a rate: `0.10 USD per GB`, not `0.10 USD`");
    }
    (void)e;
    return Type::Error();
  }

  Type CheckDiv(const ast::Expr& e, const ast::Binary& b, const Type& l, const Type& r) {
    if (IsConstantZero(*b.rhs)) {
      Report(DiagKind::DivisionByZero, b.rhs->span).Note(e.span, "in this division");
      return Type::Error();
    }
    if (r.kind == TypeKind::kDecimal && IsNumeric(l.kind)) return l;
    if (l.kind == TypeKind::kQuantity && r.kind == TypeKind::kQuantity) {
      if (SameDimension(*l.unit, *r.unit)) return Type::Of(TypeKind::kDecimal);
      return Type::Quantity(UnitQuotient(*l.unit, *r.unit));
    }
    if (l.kind == TypeKind::kMoney && r.kind == TypeKind::kMoney) return Type::Of(TypeKind::kDecimal);
    if (l.kind == TypeKind::kMoney && r.kind == TypeKind::kQuantity) {
      Type rate;
      rate.kind = TypeKind::kRate;
      rate.currency = l.currency;
      rate.unit = r.unit;
      return rate;
    }
    Report(DiagKind::TypeMismatch, b.op_span, "divide", l.Describe(), r.Describe());
    return Type::Error();
  }

  Type CheckCompare(const ast::Expr& e, const ast::Binary& b, const Type& l, const Type& r) {
    bool ordered = b.op != BinaryOp::kEq && b.op != BinaryOp::kNe;
    // An enumeration compared with a string literal: the literal must be one of its values.
    auto check_enum = [&](const Type& en, const ast::Expr& other) {
      const auto* lit = std::get_if<ast::Literal>(&other.kind);
      if (en.kind != TypeKind::kEnum || lit == nullptr || lit->kind != LiteralKind::kString) return true;
      if (std::find(en.values.begin(), en.values.end(), lit->text) == en.values.end()) {
        std::string values;
        for (const auto& v : en.values) values += (values.empty() ? "" : ", ") + fmt::format("\"{}\"", v);
        auto& d = Report(DiagKind::EnumValueUnknown, other.span, lit->text, std::string_view(source_.text()).substr(
                                                                               (&other == b.lhs.get() ? b.rhs : b.lhs)->span.begin,
                                                                               (&other == b.lhs.get() ? b.rhs : b.lhs)->span.end -
                                                                                   (&other == b.lhs.get() ? b.rhs : b.lhs)->span.begin));
        std::string s = Suggest(lit->text, en.values);
        d.Hint(s.empty() ? fmt::format("the values are {}", values) : s);
        return false;
      }
      return true;
    };
    if (!check_enum(l, *b.rhs) || !check_enum(r, *b.lhs)) return Type::Error();
    bool comparable = SameType(l, r) && l.kind != TypeKind::kEvent && l.kind != TypeKind::kRate;
    if (comparable && ordered && (IsTextual(l.kind) || l.kind == TypeKind::kBool)) comparable = false;
    if (!comparable) {
      auto& d = Report(DiagKind::CompareMismatch, b.op_span, l.Describe(), r.Describe());
      d.Note(b.lhs->span, l.Describe()).Note(b.rhs->span, r.Describe());
      if ((IsTextual(l.kind) && IsNumeric(r.kind)) || (IsNumeric(l.kind) && IsTextual(r.kind))) {
        d.Hint("text is compared with text in quotes (`== \"large\"`); declare the field as a number or quantity to compare amounts");
      } else if (l.kind == TypeKind::kQuantity && r.kind == TypeKind::kDecimal) {
        d.Hint(fmt::format("write the unit: `{}`", fmt::format("… {}", UnitName(*l.unit))));
      }
      return Type::Error();
    }
    (void)e;
    return Type::Of(TypeKind::kBool);
  }

  Type CheckKind(const ast::Expr& e, const ast::Match& m, Scope& scope) {
    Type subject = Check(*m.subject, scope);
    bool has_else = false;
    std::map<std::string, const ast::StringLit*> seen;
    Type result = Type::Error();
    bool poisoned = subject.is_error();
    if (!subject.is_error() && !IsTextual(subject.kind)) {
      Report(DiagKind::ExpectedType, m.subject->span, "a `match` subject", "text or an enumeration", subject.Describe());
      poisoned = true;
    }
    for (const ast::MatchArm& arm : m.arms) {
      if (has_else) {
        Report(DiagKind::UnreachableArm, arm.span).Hint("`else` matches everything; put it last");
      }
      if (arm.is_else) has_else = true;
      for (const ast::StringLit& p : arm.patterns) {
        auto [it, inserted] = seen.emplace(p.value, &p);
        if (!inserted) {
          Report(DiagKind::DuplicateMatchArm, p.span, p.value).Note(it->second->span, "first matched here");
          continue;
        }
        if (!poisoned && subject.kind == TypeKind::kEnum &&
            std::find(subject.values.begin(), subject.values.end(), p.value) == subject.values.end()) {
          auto& d = Report(DiagKind::EnumValueUnknown, p.span, p.value,
                           std::string_view(source_.text()).substr(m.subject->span.begin, m.subject->span.end - m.subject->span.begin));
          std::string s = Suggest(p.value, subject.values);
          if (!s.empty()) d.Hint(s);
        }
      }
      Type t = Check(*arm.value, scope);
      if (t.is_error()) {
        poisoned = true;
        continue;
      }
      if (result.is_error()) {
        result = t;
      } else if (!SameType(result, t)) {
        Report(DiagKind::ExpectedType, arm.value->span, "every arm of a `match`", result.Describe(), t.Describe());
        poisoned = true;
      }
    }
    if (!poisoned && !has_else) {
      std::vector<std::string> missing;
      if (subject.kind == TypeKind::kEnum) {
        for (const auto& v : subject.values) {
          if (seen.count(v) == 0) missing.push_back(fmt::format("\"{}\"", v));
        }
      } else {
        missing.push_back("other values");
      }
      if (!missing.empty()) {
        std::string list;
        for (std::size_t i = 0; i < missing.size(); ++i) list += (i ? ", " : "") + missing[i];
        Report(DiagKind::NonExhaustiveMatch, e.span,
               std::string_view(source_.text()).substr(m.subject->span.begin, m.subject->span.end - m.subject->span.begin),
               list)
            .Hint("add an arm for each value, or `else: …`");
        poisoned = true;
      }
    }
    return poisoned ? Type::Error() : result;
  }

  // ---- meters -----------------------------------------------------------------------------

  void CheckMeter(const ast::MeterDecl& d) {
    if (plan_->meters.count(d.name.text) != 0) {
      Report(DiagKind::DuplicateName, d.name.span, "meter", d.name.text)
          .Note(plan_->meters[d.name.text].decl->name.span, "first declared here");
      return;
    }
    ReportBuiltInName(d.name, "meter");
    MeterInfo info;
    info.decl = &d;
    std::string event;
    Scope scope;
    scope.place = Place::kMeterArg;
    scope.seen_event = &event;
    scope.meter = &d;
    const auto* call = std::get_if<ast::Call>(&d.value->kind);
    std::optional<Aggregation> agg = call ? ParseAggregation(call->callee.text) : std::nullopt;
    Type type = Type::Error();
    if (!agg) {
      if (call != nullptr) {
        auto& diag = Report(DiagKind::UnknownName, call->callee.span, "aggregation", call->callee.text);
        std::string s = Suggest(call->callee.text, {"count", "count_distinct", "sum", "min", "max", "latest", "average", "time_weighted_average", "integral"});
        diag.Hint(s.empty() ? "aggregations: count, count_distinct, sum, min, max, latest, average, time_weighted_average, integral" : s);
      } else {
        Report(DiagKind::ExpectedType, d.value->span, "a meter", "an aggregation such as `sum(event.field)` or `count(event)`",
               "an expression")
            .Hint("compute with meters in a charge: `charge \"X\" = meter_a * 0.10 USD per GB`");
      }
    } else if (call->args.size() != 1) {
      Report(DiagKind::ArgumentCount, d.value->span, call->callee.text, "1 argument", std::to_string(call->args.size()));
    } else {
      info.aggregation = *agg;
      Type arg = Check(*call->args[0], scope);
      SetType(*d.value, arg);
      if (!arg.is_error()) type = AggregateType(*agg, arg, *call);
    }
    if (d.where) {
      scope.place = Place::kMeterWhere;
      Type w = Check(*d.where, scope);
      if (!w.is_error() && w.kind != TypeKind::kBool) {
        Report(DiagKind::ExpectedType, d.where->span, "a `where` filter", "a boolean condition", w.Describe());
      }
    }
    info.event = event;
    info.type = type;
    SetType(*d.value, type);
    plan_->meters[d.name.text] = std::move(info);
  }

  Type AggregateType(Aggregation agg, const Type& arg, const ast::Call& call) {
    if (agg == Aggregation::kCount) {
      if (arg.kind != TypeKind::kEvent) {
        Report(DiagKind::BadAggregation, call.args[0]->span, "count", arg.Describe())
            .Hint("count events by name: `count(request)`; count distinct values with `count_distinct(request.user)`");
        return Type::Error();
      }
      // An event named like a built-in unit or a currency counts in no unit (E0216, reported).
      std::optional<Unit> unit = LookupUnit(units_, arg.event);
      if (!unit || IsBuiltinUnit(arg.event)) return Type::Error();
      return Type::Quantity(*unit);
    }
    if (arg.kind == TypeKind::kEvent) {
      Report(DiagKind::BadAggregation, call.args[0]->span, call.callee.text, arg.Describe())
          .Hint(fmt::format("name a field: `{}({}.field)`; to count events write `count({})`", call.callee.text, arg.event, arg.event));
      return Type::Error();
    }
    if (agg == Aggregation::kCountDistinct) return Type::Of(TypeKind::kDecimal);
    if (agg == Aggregation::kTimeWeightedAverage || agg == Aggregation::kIntegral) {
      if (arg.kind != TypeKind::kQuantity && arg.kind != TypeKind::kDecimal) {
        Report(DiagKind::BadAggregation, call.args[0]->span, call.callee.text, arg.Describe());
        return Type::Error();
      }
      if (agg == Aggregation::kIntegral) {
        Unit seconds = *LookupUnit(units_, "s");
        return Type::Quantity(arg.kind == TypeKind::kQuantity ? UnitProduct(*arg.unit, seconds) : seconds);
      }
      return arg;
    }
    if (arg.kind != TypeKind::kQuantity && arg.kind != TypeKind::kMoney && arg.kind != TypeKind::kDecimal) {
      Report(DiagKind::BadAggregation, call.args[0]->span, call.callee.text, arg.Describe())
          .Hint(IsTextual(arg.kind) ? "count distinct values with `count_distinct(…)`" : "");
      return Type::Error();
    }
    return arg;
  }

  // ---- charges ----------------------------------------------------------------------------

  void DeclareCharge(const ast::ChargeDecl& d) {
    auto it = plan_->charges.find(d.name.value);
    if (it != plan_->charges.end()) {
      Report(DiagKind::DuplicateName, d.name.span, "charge", d.name.value)
          .Note(it->second.decl->name.span, "first declared here");
      return;
    }
    ChargeInfo info;
    info.decl = &d;
    plan_->charges[d.name.value] = std::move(info);
  }

  bool IsMoneyOrReport(const Type& t, const ast::Expr& e, const char* what) {
    if (t.is_error()) return false;
    if (t.kind != TypeKind::kMoney) {
      auto& d = Report(DiagKind::ExpectedType, e.span, what, fmt::format("money in {}", plan_->currency.empty() ? "the plan's currency" : plan_->currency),
                       t.Describe());
      if (t.kind == TypeKind::kQuantity) d.Hint(fmt::format("multiply by a rate: `… * 0.10 {} per {}`", plan_->currency, UnitName(*t.unit)));
      if (t.kind == TypeKind::kRate) d.Hint("apply the rate to a meter: `meter_name * rate`");
      return false;
    }
    return true;
  }

  void CheckCharge(const ast::ChargeDecl& d) {
    auto info_it = plan_->charges.find(d.name.value);
    if (info_it == plan_->charges.end() || info_it->second.decl != &d) return;  // a duplicate
    ChargeInfo& info = info_it->second;

    std::set<DiagKind> allowed;
    std::map<ast::ChargeOptionKind, const ast::ChargeOption*> seen_options;
    const ast::RoundingSpec* rounding = rounding_;
    for (const ast::ChargeOption& o : d.options) {
      auto [it, inserted] = seen_options.emplace(o.kind, &o);
      if (!inserted) {
        Report(DiagKind::DuplicateOption, o.span,
               std::string_view(source_.text()).substr(o.span.begin, std::min<std::uint32_t>(o.span.end - o.span.begin, 40)))
            .Note(it->second->span, "first given here");
        continue;
      }
      if (o.kind == ast::ChargeOptionKind::kAllow) allowed = ParseAllow(o.names);
      if (o.kind == ast::ChargeOptionKind::kRounding) {
        CheckRounding(o.rounding);
        if (o.rounding.point == ast::RoundingPoint::kInvoice) {
          auto& diag = Report(DiagKind::ChargeRoundingPerInvoice, o.rounding.span, d.name.value);
          // On a line of its own right after the charge, it was probably meant as the plan's.
          const std::uint32_t before = &o == &d.options.front() ? d.pricing.span.end : (&o - 1)->span.end;
          if (source_.At(before).line != source_.At(o.span.begin).line) {
            diag.Note(d.name.span, "a `rounding` right after a charge is that charge's option")
                .Hint("rounding per invoice rounds the invoice's total, which is the plan's rule: to declare it, move this line above the plan's charges");
          } else {
            diag.Hint("rounding per invoice rounds the invoice's total, which is the plan's rule: declare `rounding … per invoice` at the plan level");
          }
        }
        rounding = &o.rounding;
      }
      if (o.kind == ast::ChargeOptionKind::kProration) CheckProration(o.proration);
    }

    // The event whose fields `by` and `each` read.
    std::string group_event;
    const ast::Pricing& p = d.pricing;
    Scope scope;
    scope.charge = &info;
    for (const auto& g : d.group_by) {
      const auto* m = std::get_if<ast::Member>(&g->kind);
      const auto* base = m != nullptr ? std::get_if<ast::NameRef>(&m->object->kind) : nullptr;
      if (base != nullptr) scope.group_fields.emplace_back(base->name.text, m->member.text);
    }
    bool ok = true;
    switch (p.kind) {
      case ast::PricingKind::kFormula: {
        scope.place = Place::kCharge;
        Type t = Check(*p.value, scope);
        ok = IsMoneyOrReport(t, *p.value, fmt::format("charge \"{}\"", d.name.value).c_str());
        break;
      }
      case ast::PricingKind::kPerEvent: {
        if (plan_->events.count(p.event.text) == 0) {
          auto& diag = Report(DiagKind::UnknownName, p.event.span, "event", p.event.text);
          std::string s = Suggest(p.event.text, Keys(plan_->events));
          if (!s.empty()) diag.Hint(s);
          ok = false;
          break;
        }
        used_events_.insert(p.event.text);
        scope.place = Place::kEach;
        scope.event = p.event.text;
        group_event = p.event.text;
        if (p.where) {
          Type w = Check(*p.where, scope);
          if (!w.is_error() && w.kind != TypeKind::kBool) {
            Report(DiagKind::ExpectedType, p.where->span, "a `where` filter", "a boolean condition", w.Describe());
          }
        }
        Type t = Check(*p.value, scope);
        ok = IsMoneyOrReport(t, *p.value, fmt::format("the amount for each `{}`", p.event.text).c_str());
        break;
      }
      case ast::PricingKind::kGraduated:
      case ast::PricingKind::kVolume: {
        scope.place = Place::kCharge;
        Type subject = Check(*p.value, scope);
        if (!subject.is_error()) ok = CheckTiers(d, subject, allowed);
        break;
      }
    }
    info.recurring = p.kind == ast::PricingKind::kFormula && info.meters.empty();
    for (const ast::ChargeOption& o : d.options) {
      // Usage is known only when the period is over: only a fee can be billed at its start.
      if (o.kind == ast::ChargeOptionKind::kInAdvance && !info.recurring && ok) {
        Report(DiagKind::OptionNotApplicable, o.span, "billed in advance", "a charge priced by usage")
            .Note(d.name.span, fmt::format("charge \"{}\" reads usage, which is known only at the period's end", d.name.value))
            .Hint("only a recurring fee (a price that reads no meter and no event, such as `49.00 USD` or `subscription.seats * 12.00 USD per seat`) is billed in advance; usage is billed in arrears");
      }
    }

    // Grouping: `by event.field` — the charge's meters must read that event.
    for (const auto& g : d.group_by) {
      std::string event = group_event;
      Scope gs;
      gs.place = Place::kGroupBy;
      gs.seen_event = &event;
      Type t = Check(*g, gs);
      if (t.is_error()) continue;
      if (std::get_if<ast::Member>(&g->kind) == nullptr || !(IsTextual(t.kind) || t.kind == TypeKind::kBool)) {
        Report(DiagKind::ExpectedType, g->span, "a charge's `by`", "an event field of text, id, enumeration or boolean type", t.Describe());
        continue;
      }
      if (group_event.empty()) group_event = event;
      for (const std::string& m : info.meters) {
        const MeterInfo& meter = plan_->meters[m];
        if (!meter.event.empty() && meter.event != event) {
          Report(DiagKind::GroupByMismatch, g->span, d.name.value, event, m, meter.event)
              .Note(meter.decl->name.span, fmt::format("meter `{}` is declared here", m));
        }
      }
    }
    if (!d.group_by.empty() && info.meters.empty() && p.kind == ast::PricingKind::kFormula) {
      Report(DiagKind::OptionNotApplicable, d.group_by.front()->span, "by", "a charge that reads no meter")
          .Hint("a fixed fee has one line; group a usage charge instead");
    }

    // Options that depend on the pricing.
    for (const ast::ChargeOption& o : d.options) {
      if (o.kind == ast::ChargeOptionKind::kAllocated) CheckAllocation(d, info, o);
      if (o.kind == ast::ChargeOptionKind::kIncluded) CheckIncluded(d, info, o);
      if (o.kind == ast::ChargeOptionKind::kFreeFirst) {
        if (p.kind != ast::PricingKind::kPerEvent) {
          Report(DiagKind::OptionNotApplicable, o.span, "free first", "a charge that is not priced per event")
              .Hint("`free first N events` belongs to `each event: …` charges; use `included` for an allowance on a meter");
        } else {
          Scope cs;
          Type first = CheckFreeCount(*o.first, cs);
          const auto* count = std::get_if<ast::Literal>(&o.first->kind);
          if (!first.is_error() && first.kind != TypeKind::kMoney && count != nullptr && count->number.Normalized().scale() != 0) {
            Report(DiagKind::ExpectedType, o.first->span, "`free first`", "a whole number of events", count->number.ToString());
          } else if (!first.is_error() && first.kind != TypeKind::kDecimal &&
              !(first.kind == TypeKind::kQuantity && LookupUnit(units_, p.event.text) && SameDimension(*first.unit, *LookupUnit(units_, p.event.text))) &&
              first.kind != TypeKind::kMoney) {
            Report(DiagKind::ExpectedType, o.first->span, "`free first`", fmt::format("a number of events or an amount of money"), first.Describe());
          }
          Type second;
          if (o.second) {
            second = Check(*o.second, cs);
            if (!second.is_error() && second.kind != TypeKind::kMoney && second.kind != TypeKind::kDecimal) {
              Report(DiagKind::ExpectedType, o.second->span, "`free first … or`", "money", second.Describe());
            }
          }
          // An amount of money is counted against the event's money field: the event needs one.
          const ast::Expr* money = first.kind == TypeKind::kMoney ? o.first.get() : second.kind == TypeKind::kMoney ? o.second.get() : nullptr;
          auto event = plan_->events.find(p.event.text);
          if (money != nullptr && event != plan_->events.end() &&
              std::none_of(event->second.fields.begin(), event->second.fields.end(),
                           [](const auto& f) { return f.second.type.kind == TypeKind::kMoney; })) {
            Report(DiagKind::ExpectedType, money->span, "`free first … USD`", "an event with a money field to count the amount in",
                   fmt::format("event `{}` with no money field", p.event.text))
                .Hint("free events by number (`free first 3 events`), or give the event a `money` field");
          }
        }
      }
      if (o.kind == ast::ChargeOptionKind::kFlatAtZero && p.kind != ast::PricingKind::kGraduated && p.kind != ast::PricingKind::kVolume) {
        Report(DiagKind::OptionNotApplicable, o.span, "flat at zero", "a charge without tiers");
      }
    }

    if (ok) CheckPrecision(d, rounding, allowed);
  }

  // The N of `free first N events`: written `3`, `3 events` (or `1 event`: a number of events,
  // whatever the event is called) or `3 payment` (in the event's own count unit).
  Type CheckFreeCount(const ast::Expr& e, Scope& scope) {
    const auto* lit = std::get_if<ast::Literal>(&e.kind);
    if (lit != nullptr && lit->kind == LiteralKind::kUnit && lit->unit.factors.size() == 1) {
      const std::string& word = lit->unit.factors[0].name.text;
      if ((word == "events" || word == "event") && !LookupUnit(units_, word)) {
        Type t = Type::Of(TypeKind::kDecimal);
        SetType(e, t);
        return t;
      }
    }
    return Check(e, scope);
  }

  // `allocated by EVENT.FIELD in proportion to METER`: the charge is priced once, over the
  // customer's whole usage, and split over the field's values in proportion to the meter. The
  // meter must add up usage (a sum or a count: the groups' values then add up to the whole), and
  // the field must be one of the meter's event, of a type that groups.
  void CheckAllocation(const ast::ChargeDecl& d, ChargeInfo& info, const ast::ChargeOption& o) {
    const ast::Pricing& p = d.pricing;
    const std::string_view dimension_text =
        std::string_view(source_.text()).substr(o.first->span.begin, o.first->span.end - o.first->span.begin);
    if (!d.group_by.empty()) {
      const ast::Expr& g = *d.group_by.front();
      Report(DiagKind::AllocationConflict, o.span, d.name.value,
             fmt::format("grouped by `{}`", std::string_view(source_.text()).substr(g.span.begin, g.span.end - g.span.begin)))
          .Note(g.span, "grouped here")
          .Hint(fmt::format("remove `by …`: `allocated by {}` already gives the charge one line per value", dimension_text));
      return;
    }
    for (const ast::ChargeOption& other : d.options) {
      if (other.kind != ast::ChargeOptionKind::kInAdvance) continue;
      // A fee billed in advance is billed before the period's usage is known: there is nothing
      // to split it by yet.
      Report(DiagKind::AllocationConflict, o.span, d.name.value, "billed in advance")
          .Note(other.span, "billed in advance here")
          .Hint("the usage that would split it comes after the fee is billed: bill it in arrears (remove `billed in advance`) to allocate it");
      return;
    }
    if (p.kind == ast::PricingKind::kPerEvent) {
      Report(DiagKind::AllocationConflict, o.span, d.name.value, fmt::format("priced per event (`each {}`)", p.event.text))
          .Hint(fmt::format("each event is already charged to its own line: group the charge with `by {}` instead", dimension_text));
      return;
    }
    auto meter = plan_->meters.find(o.proportion.text);
    if (meter == plan_->meters.end()) {
      auto& diag = Report(DiagKind::UnknownName, o.proportion.span, "meter", o.proportion.text);
      std::string s = Suggest(o.proportion.text, Keys(plan_->meters));
      if (!s.empty()) diag.Hint(s);
      return;
    }
    meter->second.used = true;
    const MeterInfo& m = meter->second;
    if (m.type.is_error()) return;
    const char* why = nullptr;
    switch (m.aggregation) {
      case Aggregation::kCount: break;
      case Aggregation::kSum:
        if (m.type.kind == TypeKind::kMoney) why = "adds up money, not usage";
        break;
      case Aggregation::kCountDistinct: why = "counts distinct values, which do not add up over the groups"; break;
      case Aggregation::kMin: why = "takes the smallest value"; break;
      case Aggregation::kMax: why = "takes the largest value"; break;
      case Aggregation::kLatest: why = "takes the latest value"; break;
      case Aggregation::kAverage: why = "averages its events"; break;
      case Aggregation::kTimeWeightedAverage: why = "averages its samples over time"; break;
      case Aggregation::kIntegral: break;
    }
    if (why != nullptr) {
      Report(DiagKind::AllocationMeterNotAdditive, o.proportion.span, o.proportion.text, why)
          .Note(m.decl->name.span, fmt::format("meter `{}` is declared here", o.proportion.text))
          .Hint("allocate in proportion to a meter that adds usage up: `sum(event.quantity)`, `count(event)` or `integral(…)`");
      return;
    }
    std::string event;
    Scope gs;
    gs.place = Place::kGroupBy;
    gs.seen_event = &event;
    Type t = Check(*o.first, gs);
    if (t.is_error()) return;
    const auto* member = std::get_if<ast::Member>(&o.first->kind);
    if (member == nullptr || !(IsTextual(t.kind) || t.kind == TypeKind::kBool)) {
      Report(DiagKind::ExpectedType, o.first->span, "`allocated by`", "an event field of text, id, enumeration or boolean type", t.Describe());
      return;
    }
    if (!m.event.empty() && event != m.event) {
      Report(DiagKind::AllocationDimensionMismatch, o.first->span, dimension_text, m.event, o.proportion.text)
          .Note(m.decl->name.span, fmt::format("meter `{}` is declared here", o.proportion.text))
          .Hint(fmt::format("allocate by a field of `{}`, or in proportion to a meter of `{}`", m.event, event));
      return;
    }
    info.allocation_meter = o.proportion.text;
    info.allocation_event = event;
    info.allocation_field = member->member.text;
  }

  void CheckIncluded(const ast::ChargeDecl& d, const ChargeInfo& info, const ast::ChargeOption& o) {
    Scope cs;
    Type t = Check(*o.first, cs);
    if (t.is_error()) return;
    if (info.meters.size() != 1) {
      Report(DiagKind::OptionNotApplicable, o.span, "included",
             info.meters.empty() ? "a charge that reads no meter" : "a charge that reads several meters")
          .Hint("an allowance is deducted from the one meter a charge prices");
      return;
    }
    const MeterInfo& meter = plan_->meters[info.meters[0]];
    if (meter.type.is_error()) return;
    if (!SameType(meter.type, t) && !(t.kind == TypeKind::kDecimal && meter.type.kind == TypeKind::kQuantity)) {
      Report(DiagKind::TierUnitMismatch, o.first->span,
             std::string_view(source_.text()).substr(o.first->span.begin, o.first->span.end - o.first->span.begin),
             info.meters[0], meter.type.Describe());
    }
    (void)d;
  }

  // A tier bound, exactly, in the unit of what the tiers measure.
  struct Bound {
    Rational value;
    std::string text;  // how messages write it: in that unit, or as written when it has no finite decimal form there
  };

  // What the falling-total analysis knows of one tier: its total is `bound × per_unit + flat`
  // when `linear` (per-unit prices and flat fees only, every term understood).
  struct PricedTier {
    std::optional<Bound> bound;  // unset for `above`
    Rational per_unit = 0;       // money for one unit of what the tiers measure
    Rational flat = 0;
    bool linear = true;
  };

  // One tier bound, for ordering checks and the falling-total analysis; nullopt (reported) if it
  // does not measure what the tiers measure.
  std::optional<Bound> TierBound(const ast::Tier& tier, const Type& subject) {
    Scope cs;
    Type t = Check(*tier.bound, cs);
    if (t.is_error()) return std::nullopt;
    const auto& lit = std::get<ast::Literal>(tier.bound->kind);
    if (t.kind == TypeKind::kDecimal || (subject.kind == TypeKind::kMoney && t.kind == TypeKind::kMoney)) {
      return Bound{ToRational(lit.number), lit.number.ToString()};  // a bare number is in the meter's unit
    }
    if (subject.kind == TypeKind::kQuantity && t.kind == TypeKind::kQuantity && SameDimension(*t.unit, *subject.unit)) {
      Rational value = ToRational(lit.number) * ToRational(*ConversionFactor(*t.unit, *subject.unit));
      std::optional<Decimal> shown = ConvertValue(lit.number, *t.unit, *subject.unit);
      return Bound{std::move(value), shown ? shown->ToString() : BoundText(*tier.bound)};
    }
    Report(DiagKind::TierUnitMismatch, tier.bound->span, BoundText(*tier.bound), "the metered value",
           subject.Describe());
    return std::nullopt;
  }

  // Checks one term of a tier's price against what the tiers measure and adds its price to
  // `pt`. Returns false after reporting an error.
  bool CheckTierTerm(const ast::PriceTerm& term, const Type& subject, const ast::Pricing& p, PricedTier& pt) {
    Scope cs;
    Type t = Check(*term.value, cs);
    if (t.is_error()) {
      pt.linear = false;
      return false;
    }
    const auto& lit = std::get<ast::Literal>(term.value->kind);
    const std::string_view written = SourceText(term.value->span);
    if (term.flat) {
      if (t.kind != TypeKind::kMoney) {
        Report(DiagKind::ExpectedType, term.value->span, "a flat fee", "money", t.Describe());
        return false;
      }
      pt.flat += ToRational(lit.number);
      return true;
    }
    switch (t.kind) {
      case TypeKind::kRate: {
        if (subject.kind == TypeKind::kDecimal) {
          Report(DiagKind::TierRateOnNumber, term.value->span, UnitName(*t.unit), SourceText(p.value->span))
              .Hint(fmt::format("write `{0}` for the price of each one, or `{0} flat` for a fee per tier", PriceOfOne(lit, t)));
          return false;
        }
        if (subject.kind == TypeKind::kMoney) {
          Report(DiagKind::ExpectedType, term.value->span, "a tier price over money", "a percentage or a flat fee", t.Describe())
              .Note(p.value->span, fmt::format("the tiers measure {}", subject.Describe()));
          return false;
        }
        if (!SameDimension(*t.unit, *subject.unit)) {
          Report(DiagKind::RateUnitMismatch, term.value->span, UnitName(*t.unit), UnitName(*subject.unit))
              .Note(p.value->span, fmt::format("the tiers measure {}", subject.Describe()));
          return false;
        }
        if (lit.per_started) {
          pt.linear = false;  // a package: the price steps with started blocks
          return true;
        }
        // One unit of what the tiers measure, in the rate's unit, at PRICE per N.
        pt.per_unit += ToRational(lit.number) * ToRational(*ConversionFactor(*subject.unit, *t.unit)) /
                       ToRational(lit.per.value_or(Decimal(1)));
        return true;
      }
      case TypeKind::kPercent:
        if (subject.kind != TypeKind::kMoney) {
          Report(DiagKind::ExpectedType, term.value->span, "a percentage tier price", "tiers over money", subject.Describe());
          return false;
        }
        pt.per_unit += ToRational(lit.number) / (lit.kind == LiteralKind::kBasisPoints ? 10000 : 100);
        return true;
      case TypeKind::kMoney:
        // Over a plain number (`count_distinct`, a sum of decimals), money is the price of one,
        // as `users * 0.50 USD` prices the same meter outside tiers.
        if (subject.kind == TypeKind::kDecimal) {
          pt.per_unit += ToRational(lit.number);
          return true;
        }
        Report(DiagKind::ExpectedType, term.value->span, "a tier price", "a rate, a percentage or a flat fee", t.Describe())
            .Hint(fmt::format("write `{} per {}` for a unit price or `{} flat` for a fee per tier", written,
                              subject.kind == TypeKind::kQuantity ? UnitName(*subject.unit) : "UNIT", written));
        return false;
      default:
        Report(DiagKind::ExpectedType, term.value->span, "a tier price", "a rate, a percentage or a flat fee", t.Describe());
        return false;
    }
  }

  // How the hint of E0509 writes the price of one unit of `rate` as money: `0.50 USD` for
  // `0.50 USD per user`, `0.005 USD` for `5 USD per 1000 user`.
  static std::string PriceOfOne(const ast::Literal& rate, const Type& t) {
    Decimal one = rate.number;
    if (rate.per && !Decimal::TryDivideExact(rate.number, *rate.per, &one)) {
      return fmt::format("{} {}", rate.number.ToString(), t.currency);  // 1 USD per 3 user: the price as written
    }
    return fmt::format("{} {}", one.ToString(), t.currency);
  }

  // True when tiers over `subject` (a plain number) count whole things: a `count_distinct` meter.
  bool CountsWholeThings(const ast::Expr& subject) const {
    const auto* ref = std::get_if<ast::NameRef>(&subject.kind);
    if (ref == nullptr) return false;
    auto it = plan_->meters.find(ref->name.text);
    return it != plan_->meters.end() && it->second.aggregation == Aggregation::kCountDistinct;
  }

  bool CheckTiers(const ast::ChargeDecl& d, const Type& subject, const std::set<DiagKind>& allowed) {
    const ast::Pricing& p = d.pricing;
    if (subject.kind != TypeKind::kQuantity && subject.kind != TypeKind::kMoney && subject.kind != TypeKind::kDecimal) {
      Report(DiagKind::ExpectedType, p.value->span, "tiers", "a quantity or money to tier", subject.Describe());
      return false;
    }
    bool ok = true;
    std::optional<Bound> previous;
    const ast::Tier* previous_tier = nullptr;
    const ast::Tier* above = nullptr;
    std::vector<PricedTier> priced;
    const Rational beyond_any_meter(boost::multiprecision::pow(BigInt(10), 38));
    bool reported_beyond = false;
    for (const ast::Tier& tier : p.tiers) {
      if (above != nullptr) {
        Report(DiagKind::UnreachableTier, tier.span, "it comes after the `above` tier")
            .Note(above->span, "`above` covers all remaining usage");
        ok = false;
        continue;
      }
      PricedTier pt;
      // A meter holds less than 10^38 of its unit (38 digits): past a bound that large, no
      // usage ever comes.
      if (previous && previous->value >= beyond_any_meter && !reported_beyond) {
        Report(DiagKind::UnreachableTier, tier.span,
               fmt::format("the tier before it ends at {}, and a meter holds less than {}",
                           BoundText(*previous_tier->bound), WithMeterUnit("10^38", subject)))
            .Note(previous_tier->bound->span, "the previous tier ends here");
        reported_beyond = true;
        ok = false;
      }
      if (tier.above) {
        above = &tier;
      } else {
        std::optional<Bound> bound = TierBound(tier, subject);
        if (!bound) {
          ok = false;
        } else if (bound->value <= 0) {
          Report(DiagKind::UnreachableTier, tier.bound->span, "it ends at zero and covers no usage");
          ok = false;
        } else if (previous && bound->value == previous->value) {
          Report(DiagKind::TierOverlap, tier.bound->span, bound->text)
              .Note(previous_tier->bound->span, "the previous tier ends here");
          ok = false;
        } else if (previous && bound->value < previous->value) {
          Report(DiagKind::TiersOutOfOrder, tier.bound->span, bound->text, previous->text)
              .Note(previous_tier->bound->span, "the previous tier ends here")
              .Hint("list tiers from the smallest bound to the largest");
          ok = false;
        }
        if (bound) {
          previous = bound;
          previous_tier = &tier;
          pt.bound = std::move(bound);
        }
      }
      for (const ast::PriceTerm& term : tier.terms) {
        if (!CheckTierTerm(term, subject, p, pt)) ok = false;
      }
      priced.push_back(std::move(pt));
    }
    const char* beyond_text = p.beyond == ast::Beyond::kError ? "error" : "last price";
    if (above != nullptr && p.beyond != ast::Beyond::kNone) {
      Report(DiagKind::BeyondWithAbove, p.beyond_span, beyond_text)
          .Note(above->span, "`above` covers all remaining usage")
          .Hint("keep either the `above` tier or the `beyond:` rule");
      ok = false;
    } else if (above == nullptr && previous && p.beyond == ast::Beyond::kNone) {
      Report(DiagKind::TiersWithoutAbove, p.tiers.back().span, previous->text)
          .Hint(fmt::format("end the table with `above PRICE`, or with `beyond: last price` (the last tier's price goes on "
                            "past {0}) or `beyond: error` (rating a customer past {0} fails)",
                            WithMeterUnit(previous->text, subject)));
      ok = false;
    }
    // Volume tiers: the whole quantity is priced at the tier it ends in, so the total can drop
    // when usage crosses a bound. Whole things step by one past the bound; other amounts go on
    // continuously. Exact: totals are compared as rationals, never rounded.
    if (ok && p.kind == ast::PricingKind::kVolume) {
      const bool discrete = (subject.kind == TypeKind::kQuantity && IsCountDimension(*subject.unit)) ||
                            (subject.kind == TypeKind::kDecimal && CountsWholeThings(*p.value));
      for (std::size_t i = 0; i + 1 < priced.size(); ++i) {
        const PricedTier& a = priced[i];
        const PricedTier& b = priced[i + 1];
        if (!a.linear || !b.linear || !a.bound) continue;
        Rational last = a.bound->value;  // the most usage tier `a` prices
        Rational next = last;            // the least usage past it
        if (discrete) {
          last = Rational(boost::multiprecision::numerator(last) / boost::multiprecision::denominator(last));
          next = last + 1;
        }
        Rational before = last * a.per_unit + a.flat;
        Rational after = next * b.per_unit + b.flat;
        if (after < before) {
          Warn(DiagKind::VolumeTotalFalls, p.tiers[i + 1].span, allowed,
               fmt::format("{} {}", ApproximateText(before), plan_->currency),
               fmt::format("{} {}", ApproximateText(after), plan_->currency),
               WithMeterUnit(a.bound->text, subject));
          break;
        }
      }
    }
    return ok;
  }

  // `amount` followed by the unit what the tiers measure is counted in, for messages: `100 GB`,
  // `50 USD`, or `10` for a plain number.
  static std::string WithMeterUnit(std::string_view amount, const Type& subject) {
    if (subject.kind == TypeKind::kQuantity) return fmt::format("{} {}", amount, UnitName(*subject.unit));
    if (subject.kind == TypeKind::kMoney) return fmt::format("{} {}", amount, subject.currency);
    return std::string(amount);
  }

  // A quantity literal as a message quotes it, whatever its layout: the number as written, one
  // space, the unit (`99…9 KB` for `99…9KB`), so that formatting a plan never changes what its
  // diagnostics say. Anything else: its source text.
  std::string BoundText(const ast::Expr& e) const {
    const auto* lit = std::get_if<ast::Literal>(&e.kind);
    if (lit == nullptr || lit->kind != ast::LiteralKind::kUnit) return std::string(SourceText(e.span));
    std::string unit;
    for (std::size_t i = 0; i < lit->unit.factors.size(); ++i) {
      const auto& f = lit->unit.factors[i];
      if (i > 0) unit += f.exponent < 0 ? "/" : "·";
      unit += f.name.text;
    }
    return std::string(SourceText(lit->number_span)) + " " + unit;
  }

  std::string_view SourceText(Span span) const {
    return std::string_view(source_.text()).substr(span.begin, span.end - span.begin);
  }

  // W0003: a price finer than the rounding applied to it.
  void CheckPrecision(const ast::ChargeDecl& d, const ast::RoundingSpec* rounding, const std::set<DiagKind>& allowed) {
    if (currency_decl_ == nullptr) return;
    int decimals = plan_->minor_units;
    ast::RoundingPoint point = ast::RoundingPoint::kLine;
    if (rounding != nullptr) {
      if (rounding->decimals) decimals = *rounding->decimals;
      point = rounding->point;
    }
    if (decimals < 0) return;
    bool per_event = d.pricing.kind == ast::PricingKind::kPerEvent && point == ast::RoundingPoint::kEvent;
    bool fixed_fee = d.pricing.kind == ast::PricingKind::kFormula && plan_->charges[d.name.value].recurring;
    if (!per_event && !fixed_fee) return;
    std::function<void(const ast::Expr&)> visit = [&](const ast::Expr& e) {
      if (const auto* lit = std::get_if<ast::Literal>(&e.kind)) {
        bool money = (lit->kind == LiteralKind::kUnit || lit->kind == LiteralKind::kRate) &&
                     !lit->unit.factors.empty() && lit->unit.factors[0].name.text == plan_->currency;
        if (money && lit->number.Normalized().scale() > decimals) {
          Warn(DiagKind::PrecisionDropped, e.span, allowed,
               std::string_view(source_.text()).substr(e.span.begin, e.span.end - e.span.begin),
               std::to_string(decimals), per_event ? "event" : "line");
        }
      } else if (const auto* b = std::get_if<ast::Binary>(&e.kind)) {
        visit(*b->lhs);
        visit(*b->rhs);
      } else if (const auto* c = std::get_if<ast::Call>(&e.kind)) {
        for (const auto& a : c->args) visit(*a);
      } else if (const auto* u = std::get_if<ast::Unary>(&e.kind)) {
        visit(*u->operand);
      } else if (const auto* m = std::get_if<ast::Match>(&e.kind)) {
        for (const auto& arm : m->arms) visit(*arm.value);
      }
    };
    visit(*d.pricing.value);
  }

  // ---- adjustments ------------------------------------------------------------------------

  bool CheckChargeNames(const std::vector<ast::StringLit>& names) {
    bool ok = true;
    for (const ast::StringLit& n : names) {
      if (plan_->charges.count(n.value) == 0) {
        auto& d = Report(DiagKind::UnknownName, n.span, "charge", n.value);
        std::string s = Suggest(n.value, Keys(plan_->charges));
        if (!s.empty()) d.Hint(s);
        ok = false;
      }
    }
    return ok;
  }

  // Values that the engine and the test runner read as written, never evaluate: adjustments'
  // amounts, test values and expected amounts are literals (`5.00 USD`, `10%`); where an amount
  // may be negative (an expected credit line), a negated literal too (`-4.00 USD`). Reports an
  // expression anywhere else once, so that nothing checks cleanly and then fails (or, in a test,
  // passes unchecked) later.
  bool RequireLiteral(const ast::Expr& e, const std::string& what, bool negative) {
    const ast::Expr* inner = &e;
    const auto* minus = std::get_if<ast::Unary>(&e.kind);
    if (negative && minus != nullptr && minus->op == ast::UnaryOp::kNegate) inner = minus->operand.get();
    if (std::get_if<ast::Literal>(&inner->kind) != nullptr) return true;
    Report(DiagKind::ExpectedType, e.span, what,
           negative ? "an amount written as a literal (`50.00 USD`, `-4.00 USD`)" : "a value written as a literal (`50.00 USD`, `10%`)",
           "an expression")
        .Hint("write the value itself; the plan's charges compute, its adjustments and tests state");
    return false;
  }

  void CheckDiscount(const ast::DiscountDecl& d) {
    CheckChargeNames(d.charges);
    if (!RequireLiteral(*d.amount, "a discount", false)) return;
    Scope cs;
    Type t = Check(*d.amount, cs);
    if (t.is_error()) return;
    if (t.kind == TypeKind::kPercent) {
      const auto& lit = std::get<ast::Literal>(d.amount->kind);
      // 100% is 10000 bp: compared as written, so that no literal can overflow a division.
      if (lit.number > Decimal(lit.kind == LiteralKind::kBasisPoints ? 10000 : 100)) {
        Report(DiagKind::PercentOutOfRange, d.amount->span,
               std::string_view(source_.text()).substr(d.amount->span.begin, d.amount->span.end - d.amount->span.begin));
      }
      return;
    }
    if (t.kind != TypeKind::kMoney) {
      Report(DiagKind::ExpectedType, d.amount->span, "a discount", "a percentage or money", t.Describe());
    }
  }

  // `subtotal "NAME" of "A", "B"`: a name no charge, adjustment line or other subtotal has (an
  // `expect "NAME"` must mean one thing), summing each line at most once.
  void CheckSubtotal(const ast::SubtotalDecl& d) {
    const std::vector<std::string> adjustments = AdjustmentLines();
    auto is_adjustment = [&](const std::string& name) { return std::find(adjustments.begin(), adjustments.end(), name) != adjustments.end(); };
    if (auto c = plan_->charges.find(d.name.value); c != plan_->charges.end()) {
      Report(DiagKind::DuplicateName, d.name.span, "line", d.name.value)
          .Note(c->second.decl->name.span, "a charge has this name")
          .Hint("give the subtotal a name of its own, e.g. \"" + d.name.value + " total\"");
    } else if (is_adjustment(d.name.value)) {
      Report(DiagKind::DuplicateName, d.name.span, "line", d.name.value)
          .Hint("an adjustment's line has this name; give the subtotal a name of its own");
    } else if (auto s = plan_->subtotals.find(d.name.value); s != plan_->subtotals.end()) {
      Report(DiagKind::DuplicateName, d.name.span, "subtotal", d.name.value).Note(s->second->name.span, "first declared here");
    } else {
      plan_->subtotals.emplace(d.name.value, &d);
    }
    for (std::size_t i = 0; i < d.parts.size(); ++i) {
      const ast::StringLit& part = d.parts[i];
      const auto first = std::find_if(d.parts.begin(), d.parts.begin() + static_cast<std::ptrdiff_t>(i),
                                      [&](const ast::StringLit& p) { return p.value == part.value; });
      if (first != d.parts.begin() + static_cast<std::ptrdiff_t>(i)) {
        Report(DiagKind::SubtotalCountsTwice, part.span, part.value, d.name.value)
            .Note(first->span, "first listed here")
            .Hint("list each line once");
        continue;
      }
      if (plan_->charges.count(part.value) != 0 || is_adjustment(part.value)) continue;
      auto& diag = Report(DiagKind::UnknownName, part.span, "charge or adjustment line", part.value);
      if (auto s = plan_->subtotals.find(part.value); s != plan_->subtotals.end() && s->second != &d) {
        diag.Note(s->second->name.span, "a subtotal has this name")
            .Hint("a subtotal sums lines, not other subtotals: list the lines of \"" + part.value + "\" here");
        continue;
      }
      if (part.value.rfind("Credit ", 0) == 0) {
        diag.Hint("a credit line pays the invoice; it is no line of the plan and never counts in a subtotal");
        continue;
      }
      std::vector<std::string> lines = Keys(plan_->charges);
      lines.insert(lines.end(), adjustments.begin(), adjustments.end());
      std::string sug = Suggest(part.value, lines);
      if (!sug.empty()) diag.Hint(sug);
    }
  }

  void CheckLimit(const ast::LimitDecl& d) {
    CheckChargeNames(d.charges);
    if (!RequireLiteral(*d.amount, d.is_minimum ? "a minimum" : "a maximum", false)) {
      if (d.proration) CheckProration(*d.proration);
      return;
    }
    Scope cs;
    Type t = Check(*d.amount, cs);
    if (d.proration) CheckProration(*d.proration);
    IsMoneyOrReport(t, *d.amount, d.is_minimum ? "a minimum" : "a maximum");
  }

  // `invoice when usage reaches AMOUNT`: money in the plan's currency (E0301, E0304), written as
  // a literal, above zero (E0312). Checked after the currency is known.
  void CheckThreshold(const ast::ThresholdDecl& d) {
    if (!RequireLiteral(*d.amount, "`invoice when usage reaches`", true)) return;
    Scope cs;
    Type t = Check(*d.amount, cs);
    if (!IsMoneyOrReport(t, *d.amount, "`invoice when usage reaches`")) return;
    const ast::Expr* inner = d.amount.get();
    bool negated = false;
    if (const auto* minus = std::get_if<ast::Unary>(&inner->kind); minus != nullptr && minus->op == ast::UnaryOp::kNegate) {
      inner = minus->operand.get();
      negated = true;
    }
    const auto* lit = std::get_if<ast::Literal>(&inner->kind);
    if (lit != nullptr && (negated || lit->number.sign() <= 0)) {
      Report(DiagKind::ThresholdNotPositive, d.amount->span)
          .Hint("write the amount at which an invoice is issued within the period, such as `invoice when usage reaches 100.00 USD`");
    }
  }

  // ---- tests ------------------------------------------------------------------------------

  // `reserved`: names checked elsewhere (a test subscription's `plan`, `start`, …).
  void CheckInits(const std::vector<ast::FieldInit>& inits, const std::map<std::string, FieldInfo>& fields,
                  const std::string& owner, const std::set<std::string>& reserved = {}) {
    std::map<std::string, const ast::FieldInit*> seen;
    for (const ast::FieldInit& init : inits) {
      auto [it, inserted] = seen.emplace(init.name.text, &init);
      if (!inserted) {
        Report(DiagKind::DuplicateName, init.name.span, "field value", init.name.text).Note(it->second->name.span, "first set here");
        continue;
      }
      if (reserved.count(init.name.text) != 0) continue;
      auto f = fields.find(init.name.text);
      if (!RequireLiteral(*init.value, fmt::format("`{}.{}`", owner, init.name.text), false)) continue;
      Scope cs;
      cs.place = Place::kTestField;
      Type t = Check(*init.value, cs);
      if (f == fields.end()) {
        auto& d = Report(DiagKind::UnknownName, init.name.span, "field", fmt::format("{}.{}", owner, init.name.text));
        std::string s = Suggest(init.name.text, Keys(fields));
        if (!s.empty()) d.Hint(s);
        continue;
      }
      if (t.is_error() || f->second.type.is_error()) continue;
      const Type& want = f->second.type;
      bool fits = SameType(want, t) || (want.kind == TypeKind::kQuantity && t.kind == TypeKind::kQuantity && SameDimension(*want.unit, *t.unit));
      if (want.kind == TypeKind::kEnum && t.kind == TypeKind::kText) {
        const auto& lit = std::get<ast::Literal>(init.value->kind);
        if (std::find(want.values.begin(), want.values.end(), lit.text) == want.values.end()) {
          auto& d = Report(DiagKind::EnumValueUnknown, init.value->span, lit.text, fmt::format("{}.{}", owner, init.name.text));
          std::string s = Suggest(lit.text, want.values);
          if (!s.empty()) d.Hint(s);
        }
        continue;
      }
      if (!fits) {
        Report(DiagKind::ExpectedType, init.value->span, fmt::format("`{}.{}`", owner, init.name.text), want.Describe(), t.Describe());
      }
    }
  }

  // A test's subscription block: values of the plan's `subscription` fields, and the
  // subscription itself: `plan` (a plan of this file), `version`, `start`, `end`.
  void CheckTestSubscription(const ast::TestSubscription& s) {
    for (const ast::FieldInit& init : s.fields) {
      const std::string& name = init.name.text;
      if (name == "proration_behavior") {
        // The behaviour of the change to this subscription, as the subscriptions file's column.
        const auto* lit = std::get_if<ast::Literal>(&init.value->kind);
        Scope cs;
        cs.place = Place::kTestField;
        const Type t = lit == nullptr ? Type{} : Check(*init.value, cs);
        if (lit == nullptr || t.kind != TypeKind::kText) {
          if (lit == nullptr || !t.is_error()) {
            Report(DiagKind::ExpectedType, init.value->span, "`subscription.proration_behavior`", "\"next_invoice\", \"now\" or \"none\"",
                   lit == nullptr ? std::string("an expression") : t.Describe());
          }
        } else if (lit->text != "next_invoice" && lit->text != "now" && lit->text != "none") {
          Report(DiagKind::UnknownName, init.value->span, "proration behaviour", lit->text)
              .Hint("write \"next_invoice\" (the proration lines on the next invoice), \"now\" (an invoice at the change) or \"none\"");
        }
        continue;
      }
      if (name != "plan" && name != "version" && name != "start" && name != "end") continue;
      if (std::get_if<ast::Literal>(&init.value->kind) == nullptr) {
        Report(DiagKind::ExpectedType, init.value->span, fmt::format("`subscription.{}`", name), "a literal", "an expression");
        continue;
      }
      Scope cs;
      cs.place = Place::kTestField;
      Type t = Check(*init.value, cs);
      if (t.is_error()) continue;
      const auto* lit = std::get_if<ast::Literal>(&init.value->kind);
      if (name == "plan") {
        if (t.kind != TypeKind::kText) {
          Report(DiagKind::ExpectedType, init.value->span, "`subscription.plan`", "the name of a plan, as text", t.Describe());
          continue;
        }
        bool known = std::any_of(file_.plans.begin(), file_.plans.end(), [&](const ast::Plan& p) { return p.name.value == lit->text; });
        if (!known) Report(DiagKind::UnknownName, init.value->span, "plan", lit->text).Hint("a test's subscription names a plan of the same file");
      } else if (name == "version") {
        if (t.kind != TypeKind::kDecimal) Report(DiagKind::ExpectedType, init.value->span, "`subscription.version`", "a version number", t.Describe());
      } else if (t.kind != TypeKind::kTimestamp) {
        Report(DiagKind::ExpectedType, init.value->span, fmt::format("`subscription.{}`", name), "a date or date-time", t.Describe());
      } else {
        CheckDate(ast::DateTimeLit{{init.value->id, init.value->span}, lit->text});
      }
    }
    CheckInits(s.fields, plan_->subscription, "subscription", {"plan", "version", "start", "end", "proration_behavior"});
  }

  // Whether `name` is a line a test's invoice can have besides this plan's charges: a charge of
  // another plan a `subscription { plan = … }` names, or `Credit ID` for a `credit "ID"`.
  // `expect meter NAME [for GROUP] = VALUE`: a meter of the plan, and a literal of its type (a
  // quantity in any unit of its dimension: `1_500_000 GiB·s` for a meter in B·s).
  void CheckMeterExpectation(const ast::Expectation& e) {
    auto m = plan_->meters.find(e.meter->text);
    if (m == plan_->meters.end()) {
      auto& d = Report(DiagKind::UnknownName, e.meter->span, "meter", e.meter->text);
      std::string sug = Suggest(e.meter->text, Keys(plan_->meters));
      if (!sug.empty()) d.Hint(sug);
      return;
    }
    if (!RequireLiteral(*e.value, "an expected meter value", true)) return;
    Scope cs;
    const Type t = Check(*e.value, cs);
    const Type& want = m->second.type;
    if (t.is_error() || want.is_error()) return;
    if (!SameType(want, t)) {
      Report(DiagKind::ExpectedType, e.value->span, fmt::format("the value of meter `{}`", e.meter->text), want.Describe(), t.Describe());
    }
  }

  // The names of the lines the plan's adjustments make (and, under `rounding … per invoice`, the
  // rounding line), as the engine names them: what `expect` may name besides charges.
  std::vector<std::string> AdjustmentLines() const {
    std::vector<std::string> names;
    for (const ast::PlanItem& item : plan_->plan->items) {
      if (const auto* d = std::get_if<ast::DiscountDecl>(&item.kind)) names.push_back(ast::AdjustmentName(*d, source_.text()));
      if (const auto* d = std::get_if<ast::LimitDecl>(&item.kind)) names.push_back(ast::AdjustmentName(*d, source_.text()));
    }
    if (rounding_ != nullptr && rounding_->point == ast::RoundingPoint::kInvoice) {
      names.push_back(fmt::format("Rounding ({} to {} decimals)", rounding_->mode.text, rounding_->decimals.value_or(plan_->minor_units)));
    }
    return names;
  }

  // A `contract` value as a contracts file's column holds it: a string's contents, a date as
  // written, a number (`20`, `20%` and `"20"` are all "20"; `2.00 USD` in the plan's currency is
  // "2.00"), anything else as written (a rate).
  // A value as a message quotes it: literals spelled as `tariff fmt` writes them
  // (compiler/format's LiteralText), so a message reads the same before and after formatting —
  // fuzz_plan's invariant; anything else is named, and the caret shows what was written.
  std::string QuotedValue(const ast::Expr& v) const {
    if (const auto* u = std::get_if<ast::Unary>(&v.kind); u != nullptr && u->op == ast::UnaryOp::kNegate) {
      const std::string inner = QuotedValue(*u->operand);
      if (inner.size() > 1 && inner[0] == '`') return "`-" + inner.substr(1);
    }
    const auto* lit = std::get_if<ast::Literal>(&v.kind);
    if (lit == nullptr) return "an expression";
    auto number = [&] { return std::string(source_.text().substr(lit->number_span.begin, lit->number_span.end - lit->number_span.begin)); };
    using K = ast::LiteralKind;
    switch (lit->kind) {
      case K::kNumber: return "`" + number() + "`";
      case K::kPercent: return "`" + number() + "%`";
      case K::kBasisPoints: return "`" + number() + " bp`";
      case K::kString: return "`\"" + lit->text + "\"`";
      case K::kDateTime: return "`" + lit->text + "`";
      case K::kBool: return lit->bool_value ? "`true`" : "`false`";
      case K::kUnit: {
        std::string unit;
        for (std::size_t i = 0; i < lit->unit.factors.size(); ++i) {
          const auto& f = lit->unit.factors[i];
          if (i > 0) unit += f.exponent < 0 ? "/" : "·";
          unit += f.name.text;
        }
        return "`" + number() + " " + unit + "`";
      }
      default: return "a rate";
    }
  }

  std::string ContractValueText(const ast::FieldInit& init) const {
    const ast::Expr& v = *init.value;
    const std::string written(source_.text().substr(v.span.begin, v.span.end - v.span.begin));
    const auto* lit = std::get_if<ast::Literal>(&v.kind);
    if (lit == nullptr) return written;
    switch (lit->kind) {
      case ast::LiteralKind::kString:
      case ast::LiteralKind::kDateTime: return lit->text;
      case ast::LiteralKind::kNumber:
      case ast::LiteralKind::kPercent: return lit->number.ToString();
      case ast::LiteralKind::kUnit: {
        std::string unit = written.substr(std::min(written.size(), static_cast<std::size_t>(lit->number_span.end - v.span.begin)));
        unit.erase(0, unit.find_first_not_of(' '));
        return unit == plan_->currency ? lit->number.ToString() : written;
      }
      default: return written;
    }
  }

  // The name of the line a test's `contract` discount makes: its `name`, or the default
  // (runtime/billing/contracts.cc): "Contract discount 20% on Requests", "Contract discount 5.00 USD".
  std::string ContractLineName(const ast::TestContract& c) const {
    std::map<std::string, std::string> v;
    for (const ast::FieldInit& init : c.fields) v.emplace(init.name.text, ContractValueText(init));
    if (v.count("name") != 0) return v["name"];
    if (v["kind"] != "discount") return "";
    std::string off;
    if (v.count("percent") != 0) {
      DecimalParseResult d = Decimal::Parse(v["percent"]);
      if (!d.value) return "";
      off = d.value->Normalized().ToString() + "%";
    } else if (v.count("amount") != 0) {
      DecimalParseResult d = Decimal::Parse(v["amount"]);
      if (!d.value) return "";
      off = d.value->Rescale(std::max(d.value->scale(), plan_->minor_units), RoundingMode::kHalfEven).ToString() + " " + plan_->currency;
    } else {
      return "";
    }
    return "Contract discount " + off + (v.count("charge") != 0 ? " on " + v["charge"] : std::string());
  }

  // A test's `contract { … }`: the columns of a contracts file (docs/billing.md, "Contracts"),
  // each once, with values a contracts file takes, checked here so that `tariff check` finds
  // what `tariff test` would stop at. Anchors and commitments are `tariff rate`'s.
  void CheckTestContract(const ast::TestDecl& test, const ast::TestStmt& stmt, const ast::TestContract& c) {
    if (!(test.from && test.to)) {
      Report(DiagKind::ContractWithoutPeriod, stmt.span, test.name.value)
          .Note(test.name.span, "this test")
          .Hint(fmt::format("contract durations count billing periods: give the test one, e.g. `test \"{}\" period 2026-03-01 .. 2026-04-01 {{ … }}`",
                            test.name.value));
    }
    static const std::vector<std::string> kFields = {"customer", "kind", "name",   "charge",   "percent",  "amount",
                                                     "multiplier", "rate", "anchor", "quantity", "duration", "start"};
    std::map<std::string, const ast::FieldInit*> seen;
    bool unknown_field = false;  // then a term missing a field is most likely that field misspelled: one message
    for (const ast::FieldInit& init : c.fields) {
      auto [it, inserted] = seen.emplace(init.name.text, &init);
      if (!inserted) {
        Report(DiagKind::DuplicateName, init.name.span, "field value", init.name.text).Note(it->second->name.span, "first set here");
        continue;
      }
      if (std::find(kFields.begin(), kFields.end(), init.name.text) == kFields.end()) {
        seen.erase(it);
        unknown_field = true;
        auto& d = Report(DiagKind::UnknownName, init.name.span, "field", "contract." + init.name.text);
        std::string s = Suggest(init.name.text, kFields);
        d.Hint(s.empty() ? std::string("a contract's fields are the columns of a contracts file: customer, kind, name, charge, percent, amount, "
                                       "multiplier, rate, anchor, quantity, duration, start")
                         : s);
      }
    }
    auto value = [&](const std::string& f) -> std::optional<std::string> {
      auto it = seen.find(f);
      if (it == seen.end()) return std::nullopt;
      return ContractValueText(*it->second);
    };
    auto bad = [&](const std::string& f, const std::string& must, const std::string& hint) {
      const ast::FieldInit& init = *seen.at(f);
      auto& d = Report(DiagKind::ContractValueInvalid, init.value->span, f, QuotedValue(*init.value), must);
      if (!hint.empty()) d.Hint(hint);
    };
    auto number = [&](const std::string& f) -> std::optional<Decimal> {
      std::optional<std::string> v = value(f);
      if (!v) return std::nullopt;
      DecimalParseResult d = Decimal::Parse(*v);
      return d.value;
    };
    const std::optional<std::string> kind = value("kind");
    bool discount = false, override_ = false, drawn = false;
    if (!kind && unknown_field) {
      // Reported: the misspelled field.
    } else if (!kind) {
      Report(DiagKind::ContractTermIncomplete, stmt.span, "has no `kind`")
          .Hint("write `kind = \"discount\"`, `kind = \"override\"` or `kind = \"drawn\"`");
    } else if (*kind == "discount" || *kind == "override" || *kind == "drawn") {
      discount = *kind == "discount";
      override_ = *kind == "override";
      drawn = *kind == "drawn";
    } else if (*kind == "anchor" || *kind == "commit") {
      bad("kind", "a kind a test takes (`discount`, `override` or `drawn`)", "anchors and commitments are rated by `tariff rate --contracts`");
    } else {
      std::string s = Suggest(*kind, {"discount", "override", "drawn"});
      bad("kind", "a kind of contract term (`discount`, `override` or `drawn`)", s);
    }
    if (std::optional<std::string> ch = value("charge"); ch && plan_->charges.count(*ch) == 0) {
      auto& d = Report(DiagKind::UnknownName, seen.at("charge")->value->span, "charge", *ch);
      std::string s = Suggest(*ch, Keys(plan_->charges));
      if (!s.empty()) d.Hint(s);
    }
    if (seen.count("percent") != 0) {
      std::optional<Decimal> p = number("percent");
      if (!p || p->sign() <= 0 || *p > Decimal(100) || p->Normalized().scale() > 10) {
        bad("percent", "a percentage above 0 and at most 100 (at most 10 decimals)", "write it as `percent = 20` or `percent = 20%`");
      }
    }
    if (seen.count("amount") != 0 && drawn) {
      std::optional<Decimal> a = number("amount");
      if (!a || a->sign() < 0) {
        bad("amount", fmt::format("an amount of {} at or above zero", plan_->currency), fmt::format("write it as `amount = 100.00 {}`", plan_->currency));
      }
    } else if (seen.count("amount") != 0) {
      std::optional<Decimal> a = number("amount");
      if (!a || a->sign() <= 0 || a->Normalized().scale() > plan_->minor_units) {
        bad("amount", fmt::format("an amount of {} above zero with at most {} decimals", plan_->currency, plan_->minor_units),
            fmt::format("write it as the plan does, `amount = 5.00 {}`", plan_->currency));
      }
    }
    if (seen.count("multiplier") != 0) {
      std::optional<Decimal> m = number("multiplier");
      if (!m || m->sign() < 0 || m->Normalized().scale() > 10) bad("multiplier", "a number at or above zero (at most 10 decimals)", "");
    }
    if (std::optional<std::string> d = value("duration")) {
      bool ok = *d == "once" || *d == "forever";
      const std::size_t space = d->find(' ');
      if (!ok && space != std::string::npos) {
        const std::string count = d->substr(0, space), word = d->substr(space + 1);
        ok = !count.empty() && count.size() <= 4 && count.find_first_not_of("0123456789") == std::string::npos && std::stoi(count) >= 1 &&
             std::stoi(count) <= 1200 && (word == "periods" || word == "period");
      }
      if (!ok) bad("duration", "a duration (`once`, `forever` or `N periods`, N from 1 to 1200)", "");
      if (ok && *d != "forever" && seen.count("start") == 0) {
        Report(DiagKind::ContractTermIncomplete, stmt.span, fmt::format("counts `{}` from its start, but has no `start`", *d))
            .Hint("add `start = 2026-01-01`, the date of the period it starts in");
      }
    }
    if (auto it = seen.find("start"); it != seen.end()) {
      const auto* lit = std::get_if<ast::Literal>(&it->second->value->kind);
      if (lit != nullptr && lit->kind == ast::LiteralKind::kDateTime) {
        CheckDate(ast::DateTimeLit{{it->second->value->id, it->second->value->span}, lit->text});
      } else if (lit == nullptr || lit->kind != ast::LiteralKind::kString || !CheckDateTime(lit->text).empty()) {
        bad("start", "a date or date-time", "write it as `start = 2026-01-01`");
      }
    }
    if (discount) {
      for (const char* f : {"multiplier", "rate", "anchor"}) {
        if (seen.count(f) != 0) Report(DiagKind::ContractTermIncomplete, seen.at(f)->name.span, fmt::format("is a discount, which has no `{}`", f));
      }
      const bool p = seen.count("percent") != 0, a = seen.count("amount") != 0;
      if (p && a) {
        Report(DiagKind::ContractTermIncomplete, seen.at("amount")->name.span, "has both `percent` and `amount`").Hint("a discount is one or the other");
      } else if (!p && !a && !unknown_field) {
        Report(DiagKind::ContractTermIncomplete, stmt.span, "is a discount without `percent` or `amount`").Hint("add `percent = 20` or `amount = 5.00 " + plan_->currency + "`");
      }
    }
    if (drawn) CheckTestDrawn(stmt, seen, unknown_field);
    if (override_) {
      for (const char* f : {"percent", "amount", "anchor"}) {
        if (seen.count(f) != 0) Report(DiagKind::ContractTermIncomplete, seen.at(f)->name.span, fmt::format("is an override, which has no `{}`", f));
      }
      if (seen.count("charge") == 0 && !unknown_field) {
        Report(DiagKind::ContractTermIncomplete, stmt.span, "is an override without the `charge` whose price it changes");
      }
      const bool m = seen.count("multiplier") != 0, r = seen.count("rate") != 0;
      if (m && r) {
        Report(DiagKind::ContractTermIncomplete, seen.at("rate")->name.span, "has both `multiplier` and `rate`").Hint("an override is one or the other");
      } else if (!m && !r && !unknown_field) {
        Report(DiagKind::ContractTermIncomplete, stmt.span, "is an override without `multiplier` or `rate`");
      }
    }
  }

  // `contract { kind = "drawn", charge = "Compute", quantity = 300 GiB·s }`: usage elsewhere
  // drew on the charge's free allowance. The charge must have one that fits what is drawn:
  // `included Q` (a quantity), `free first N events` (a count), `or M` (an `amount`).
  void CheckTestDrawn(const ast::TestStmt& stmt, const std::map<std::string, const ast::FieldInit*>& seen, bool unknown_field) {
    for (const char* f : {"percent", "multiplier", "rate", "anchor"}) {
      if (seen.count(f) != 0) Report(DiagKind::ContractTermIncomplete, seen.at(f)->name.span, fmt::format("is an allowance drawn, which has no `{}`", f));
    }
    const bool q = seen.count("quantity") != 0, a = seen.count("amount") != 0;
    if (!q && !a && !unknown_field) {
      Report(DiagKind::ContractTermIncomplete, stmt.span, "is an allowance drawn without `quantity` or `amount`")
          .Hint("add `quantity = 300 GiB·s` (from `included`), `quantity = 2 request` (from `free first N`) or `amount = 100.00 " + plan_->currency +
                "` (from `or M`)");
    }
    if (seen.count("charge") == 0) {
      if (!unknown_field) Report(DiagKind::ContractTermIncomplete, stmt.span, "is an allowance drawn without the `charge` whose allowance it is");
      return;
    }
    const auto* charge_value = std::get_if<ast::Literal>(&seen.at("charge")->value->kind);
    if (charge_value == nullptr || charge_value->kind != ast::LiteralKind::kString) return;
    auto info = plan_->charges.find(charge_value->text);
    if (info == plan_->charges.end() || info->second.decl == nullptr) return;  // E0201, above
    bool included = false, free_first = false, free_money = false;
    for (const ast::ChargeOption& o : info->second.decl->options) {
      included |= o.kind == ast::ChargeOptionKind::kIncluded;
      free_first |= o.kind == ast::ChargeOptionKind::kFreeFirst;
      free_money |= o.kind == ast::ChargeOptionKind::kFreeFirst && o.second != nullptr;
    }
    if (q) {
      const ast::Expr& v = *seen.at("quantity")->value;
      const auto* lit = std::get_if<ast::Literal>(&v.kind);
      if (lit == nullptr || (lit->kind != ast::LiteralKind::kNumber && lit->kind != ast::LiteralKind::kUnit) || lit->number.sign() < 0) {
        Report(DiagKind::ContractValueInvalid, v.span, "quantity", QuotedValue(v), "a quantity at or above zero").Hint("write it as `quantity = 300 GiB·s`");
      } else if (!included && !free_first) {
        Report(DiagKind::ContractValueInvalid, v.span, "quantity", QuotedValue(v),
               fmt::format("something charge `{}` gives free: it has no `included` allowance and no `free first N events`", charge_value->text));
      }
    }
    if (a && !free_money) {
      const ast::Expr& v = *seen.at("amount")->value;
      Report(DiagKind::ContractValueInvalid, v.span, "amount", QuotedValue(v),
             fmt::format("something charge `{}` gives free: it has no `free first N events or M` limit of money", charge_value->text));
    }
  }

  bool OtherLineOfTest(const ast::TestDecl& test, const std::string& name) const {
    // The proration lines of a fee billed in advance: `Unused time on CHARGE (FROM to TO)` and
    // `Remaining time on CHARGE (FROM to TO)`, for a charge of any plan of the file (a change of
    // plan names the other plan's charge).
    for (const char* prefix : {"Unused time on ", "Remaining time on "}) {
      if (name.rfind(prefix, 0) != 0 || name.back() != ')') continue;
      for (const ast::Plan& other : file_.plans) {
        for (const ast::PlanItem& item : other.items) {
          const auto* charge = std::get_if<ast::ChargeDecl>(&item.kind);
          if (charge == nullptr) continue;
          const bool advance = std::any_of(charge->options.begin(), charge->options.end(),
                                           [](const ast::ChargeOption& o) { return o.kind == ast::ChargeOptionKind::kInAdvance; });
          if (advance && name.rfind(prefix + charge->name.value + " (", 0) == 0) return true;
        }
      }
    }
    for (const ast::TestStmt& stmt : test.stmts) {
      if (const auto* c = std::get_if<ast::TestCredit>(&stmt.kind)) {
        if (name == "Credit " + c->id.value) return true;
      }
      if (const auto* k = std::get_if<ast::TestContract>(&stmt.kind)) {
        // A contract's line, by its `name` or its default name (docs/billing.md, "In tests").
        if (!name.empty() && ContractLineName(*k) == name) return true;
      }
      const auto* s = std::get_if<ast::TestSubscription>(&stmt.kind);
      if (s == nullptr) continue;
      for (const ast::FieldInit& init : s->fields) {
        const auto* lit = init.name.text == "plan" ? std::get_if<ast::Literal>(&init.value->kind) : nullptr;
        if (lit == nullptr || lit->text == plan_->plan->name.value) continue;
        for (const ast::Plan& other : file_.plans) {
          if (other.name.value != lit->text) continue;
          for (const ast::PlanItem& item : other.items) {
            const auto* charge = std::get_if<ast::ChargeDecl>(&item.kind);
            if (charge != nullptr && charge->name.value == name) return true;
          }
        }
      }
    }
    return false;
  }

  void CheckTest(const ast::TestDecl& test) {
    const bool from_ok = test.from && CheckDate(*test.from);
    const bool to_ok = test.to && CheckDate(*test.to);
    const bool blocks = std::any_of(test.stmts.begin(), test.stmts.end(),
                                    [](const ast::TestStmt& st) { return std::holds_alternative<ast::InvoiceBlock>(st.kind); });
    TestInvoices invoices;
    if (from_ok && to_ok) invoices = CheckTestPeriod(test, blocks);
    const std::vector<const ast::TestStmt*> stmts = CheckInvoiceBlocks(test, invoices);
    // Every count a test rates is exact in 64 bits: at most 10^18 events a statement and a test.
    const Decimal max_events(1'000'000'000'000'000'000);
    Decimal events_in_test = 0;
    bool test_over = false;
    for (const ast::TestStmt* stmt_ptr : stmts) {
      const ast::TestStmt& stmt = *stmt_ptr;
      if (const auto* u = std::get_if<ast::UsageEvents>(&stmt.kind)) {
        auto ev = plan_->events.find(u->event.text);
        if (u->count && (u->count->scale() != 0 || *u->count <= Decimal(0))) {
          Report(DiagKind::ExpectedType, u->count_span, "a number of events", "a whole number above zero", u->count->ToString());
        } else if (u->count && *u->count > max_events) {
          Report(DiagKind::UsageCountOutOfRange, u->count_span, "this `usage`", u->count->ToString())
              .Hint("a `usage` repeats an event 1 to 1_000_000_000_000_000_000 times, so that every count of a test is exact");
        } else if (!test_over) {
          events_in_test = events_in_test + u->count.value_or(Decimal(1));  // both at most 10^18: no overflow
          if (events_in_test > max_events) {
            Report(DiagKind::UsageCountOutOfRange, stmt.span, fmt::format("test \"{}\"", test.name.value), events_in_test.ToString())
                .Note(test.name.span, "the events of all its `usage` statements count")
                .Hint("split the usage over several tests: one test rates at most 1_000_000_000_000_000_000 events");
            test_over = true;
          }
        }
        if (u->at) CheckDate(*u->at);
        if (ev == plan_->events.end()) {
          auto& d = Report(DiagKind::UnknownName, u->event.span, "event", u->event.text);
          std::string s = Suggest(u->event.text, Keys(plan_->events));
          if (!s.empty()) d.Hint(s);
          continue;
        }
        CheckInits(u->fields, ev->second.fields, u->event.text);
      } else if (const auto* s = std::get_if<ast::TestSubscription>(&stmt.kind)) {
        CheckTestSubscription(*s);
      } else if (const auto* k = std::get_if<ast::TestContract>(&stmt.kind)) {
        CheckTestContract(test, stmt, *k);
      } else if (const auto* c = std::get_if<ast::TestCredit>(&stmt.kind)) {
        for (const ast::TestStmt& other : test.stmts) {
          const auto* o = std::get_if<ast::TestCredit>(&other.kind);
          if (o == c) break;
          if (o != nullptr && o->id.value == c->id.value) {
            Report(DiagKind::DuplicateName, c->id.span, "credit", c->id.value).Note(o->id.span, "first granted here");
          }
        }
        if (std::get_if<ast::Literal>(&c->amount->kind) == nullptr) {
          Report(DiagKind::ExpectedType, c->amount->span, "a credit", "an amount written as a literal (`50.00 USD`)", "an expression");
          continue;
        }
        Scope cs;
        Type t = Check(*c->amount, cs);
        if (IsMoneyOrReport(t, *c->amount, "a credit")) {
          const auto* lit = std::get_if<ast::Literal>(&c->amount->kind);
          if (lit != nullptr && (lit->number.sign() < 0 || lit->number.Normalized().scale() > plan_->minor_units)) {
            Report(DiagKind::ExpectedType, c->amount->span, "a credit",
                   fmt::format("money at or above zero with at most {} decimals", plan_->minor_units), lit->number.ToString() + " " + plan_->currency);
          }
        }
        if (c->expires) CheckDate(*c->expires);
        if (c->priority && (c->priority->scale() != 0 || *c->priority > Decimal(1'000'000'000))) {
          Report(DiagKind::ExpectedType, c->priority_span, "a credit's priority", "a whole number up to 1000000000", c->priority->ToString());
        }
      } else if (const auto* e = std::get_if<ast::Expectation>(&stmt.kind)) {
        if (e->meter) {
          CheckMeterExpectation(*e);
          continue;
        }
        if (e->credit) {
          bool granted = std::any_of(test.stmts.begin(), test.stmts.end(), [&](const ast::TestStmt& other) {
            const auto* c = std::get_if<ast::TestCredit>(&other.kind);
            return c != nullptr && c->id.value == e->charge->value;
          });
          if (!granted) {
            Report(DiagKind::UnknownName, e->charge->span, "credit", e->charge->value)
                .Hint("grant it in the test first: `credit \"" + e->charge->value + "\" = 50.00 " + plan_->currency + "`");
          }
        } else if (e->charge && OtherLineOfTest(test, e->charge->value)) {
          // A line of another plan the test subscribes to, a credit the test grants, a contract's line.
        } else if (e->charge) {
          auto c = plan_->charges.find(e->charge->value);
          const std::vector<std::string> adjustments = AdjustmentLines();
          const bool adjustment = std::find(adjustments.begin(), adjustments.end(), e->charge->value) != adjustments.end();
          if (adjustment && !e->group.empty()) {
            Report(DiagKind::OptionNotApplicable, e->group.front().span, "for", fmt::format("the line \"{}\", which is not grouped", e->charge->value));
          } else if (adjustment) {
            // An adjustment's line, by the name the invoice gives it (docs/invoice.md).
          } else if (c == plan_->charges.end() && plan_->subtotals.count(e->charge->value) != 0) {
            if (!e->group.empty()) {
              Report(DiagKind::OptionNotApplicable, e->group.front().span, "for", fmt::format("subtotal \"{}\", which sums whole lines", e->charge->value));
            }
          } else if (c == plan_->charges.end()) {
            auto& d = Report(DiagKind::UnknownName, e->charge->span, "charge", e->charge->value);
            std::vector<std::string> lines = Keys(plan_->charges);
            lines.insert(lines.end(), adjustments.begin(), adjustments.end());
            for (const auto& [name, decl] : plan_->subtotals) lines.push_back(name);
            std::string sug = Suggest(e->charge->value, lines);
            if (!sug.empty()) d.Hint(sug);
          } else if (!e->group.empty() && !c->second.allocation_meter.empty()) {
            if (e->group.size() != 1) {
              Report(DiagKind::OptionNotApplicable, e->group[1].span, "for",
                     fmt::format("charge \"{}\", which is allocated over one value", e->charge->value));
            }
          } else if (!e->group.empty() && c->second.decl->group_by.size() != e->group.size()) {
            Report(DiagKind::OptionNotApplicable, e->group.front().span, "for",
                   c->second.decl->group_by.empty() ? fmt::format("charge \"{}\", which is not grouped", e->charge->value)
                                                    : fmt::format("charge \"{}\" with {} grouping value(s)", e->charge->value, c->second.decl->group_by.size()));
          }
        }
        if (e->from) {
          CheckDate(*e->from);
          if (e->charge && plan_->charges.count(e->charge->value) == 0 && plan_->subtotals.count(e->charge->value) != 0) {
            Report(DiagKind::OptionNotApplicable, e->from->span, "from",
                   fmt::format("subtotal \"{}\", which sums the lines of every part of the period", e->charge->value));
          }
        }
        if (e->threshold_at) {
          CheckDate(*e->threshold_at);
          if (!plan_has_threshold_) {
            Report(DiagKind::OptionNotApplicable, e->threshold_at->span, "expect threshold invoice",
                   fmt::format("plan \"{}\", which declares no `invoice when usage reaches`", plan_->plan->name.value))
                .Hint("a threshold invoice is issued within the period only by a plan billed progressively: add `invoice when usage reaches AMOUNT` to the plan, or expect the period's invoice");
          }
        }
        if (!RequireLiteral(*e->value, "an expected amount", true)) continue;
        Scope cs;
        Type t = Check(*e->value, cs);
        IsMoneyOrReport(t, *e->value, "an expected amount");
      }
    }
  }

  const ast::File& file_;
  const SourceFile& source_;
  DiagnosticSink& sink_;
  std::unique_ptr<CheckedFile> result_;
  CheckedPlan* plan_ = nullptr;
  UnitCatalog units_;
  std::map<std::string, Span> declared_units_;
  const ast::RoundingSpec* rounding_ = nullptr;
  std::vector<const ast::ThresholdDecl*> thresholds_;  // the plan's `invoice when usage reaches`, checked after charges
  bool plan_has_threshold_ = false;                    // for `expect threshold invoice`
  const ast::CurrencyDecl* currency_decl_ = nullptr;
  std::set<DiagKind> plan_allowed_;
  std::set<std::string> used_events_;
  int errors_ = 0;
  bool currency_written_ = false;  // a `currency` line, known code or not
};

}  // namespace

std::unique_ptr<CheckedFile> Check(const ast::File& file, const SourceFile& source, DiagnosticSink& sink) {
  return Checker(file, source, sink).Run();
}

}  // namespace tariff
