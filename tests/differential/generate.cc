// tests/differential: the random case generator (see generate.h). Numbers are drawn as exact
// rationals and printed as decimal text, so that a value "on a bound" is exactly on it.
#include "tests/differential/generate.h"

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/columnar/timestamp.h"
#include "tests/reference/reference.h"

namespace tariff::differential {

namespace {

using reference::BaseFactor;
using reference::Integer;
using reference::Rational;
using reference::Terminates;
using reference::ToDecimalText;

const std::vector<std::string> kInformation = {"B", "KB", "MB", "GB", "KiB", "MiB", "GiB", "bit", "Kbit", "Mbit"};
const std::vector<std::string> kTime = {"ms", "s", "min", "h", "day"};

// What a meter's value is, for choosing prices, tier bounds and usage around them.
struct ValueKind {
  enum class Is : std::uint8_t { kQuantity, kCount, kMoney, kDecimal } is = Is::kDecimal;
  std::vector<std::string> units;  // kQuantity: the units of its dimension; kCount: the event
  std::string unit;                // the unit the value is in (for a bare tier bound)
  bool times_seconds = false;      // an integral: the unit × s
};

struct GenMeter {
  std::string name, event, agg;
  ValueKind value;
  std::string field;  // the field it aggregates ("" for count)
};

class Generator {
 public:
  Generator(std::uint64_t seed, const GenerateOptions& options) : rng_(seed), options_(options) { c_.seed = seed; }

  Case Run() {
    c_.period_start = *ParseTimestamp("2026-03-01T00:00:00Z");
    c_.period_end = *ParseTimestamp("2026-04-01T00:00:00Z");
    Currency();
    Rounding();
    if (Chance(0.3)) c_.proration = Pick<std::string>({"proration by day", "proration by second", "proration none"});
    Events();
    if (Chance(0.3)) Subscription();
    int meters = static_cast<int>(Int(1, 5));
    for (int i = 0; i < meters; ++i) Meter(i + 1);
    int charges = static_cast<int>(Int(1, 6));
    for (int i = 0; i < charges; ++i) Charge(i);
    int adjustments = static_cast<int>(Int(0, 3));
    for (int i = 0; i < adjustments; ++i) Adjustment();
    // Keep only the meters some charge reads (an unused meter is only a warning, but noise).
    std::set<std::string> used;
    for (const ChargeDef& ch : c_.charges) used.insert(ch.meters.begin(), ch.meters.end());
    std::vector<MeterDef> kept;
    for (const MeterDef& m : c_.meters) {
      if (used.count(m.name)) kept.push_back(m);
    }
    c_.meters = kept;
    Usage();
    // After the usage, so that a seed's plan and usage are what they were before subtotals.
    if (Chance(0.3)) Subtotals();
    if (options_.allocations) Allocations();
    return c_;
  }

 private:
  // ---- Randomness --------------------------------------------------------------------------

  std::int64_t Int(std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  T Pick(const std::vector<T>& v) { return v[static_cast<std::size_t>(Int(0, static_cast<std::int64_t>(v.size()) - 1))]; }

  static Integer Pow10(int n) {
    Integer r = 1;
    for (int i = 0; i < n; ++i) r *= 10;
    return r;
  }
  // A number with up to `digits` integer digits and exactly `decimals` decimals (not all zero
  // unless `zero_ok`).
  Rational Number(int digits, int decimals) {
    Integer whole = Int(0, static_cast<std::int64_t>(std::min<Integer>(Pow10(digits) - 1, Integer(999999999999LL))));
    Integer frac = decimals > 0 ? Integer(Int(0, static_cast<std::int64_t>(Pow10(std::min(decimals, 18)) - 1))) : Integer(0);
    Rational r = Rational(whole) + Rational(frac, Pow10(std::min(decimals, 18)));
    return r;
  }
  // A positive price: 0.0001 … 99.99, with 0 to 4 decimals.
  std::string Price() {
    int decimals = static_cast<int>(Int(0, 4));
    Rational r;
    do {
      r = Number(static_cast<int>(Int(0, 2)), decimals);
    } while (r == 0);
    return ToDecimalText(r, decimals);
  }
  std::string MoneyAmount(int max_digits) {
    int decimals = static_cast<int>(Int(0, MoneyDecimals()));
    Rational r;
    do {
      r = Number(static_cast<int>(Int(1, max_digits)), decimals);
    } while (r == 0);
    return ToDecimalText(r, decimals) + " " + c_.currency;
  }
  int MoneyDecimals() const { return std::min(c_.minor_units, rounding_decimals_); }

  // ---- Plan --------------------------------------------------------------------------------

  void Currency() {
    std::vector<std::pair<std::string, int>> currencies = {{"USD", 2}, {"EUR", 2}, {"JPY", 0}, {"KWD", 3}, {"BHD", 3}};
    auto [code, minor] = Pick(currencies);
    c_.currency = code;
    c_.minor_units = minor;
    rounding_decimals_ = minor;
  }

  void Rounding() {
    if (Chance(0.1)) return;  // the default: half_even per line
    std::string mode = Pick<std::string>({"half_even", "half_up", "half_down", "up", "down", "ceiling", "floor"});
    std::string point = Pick<std::string>({"event", "line", "line", "invoice"});
    std::string decimals;
    if (Chance(0.4)) {
      rounding_decimals_ = c_.minor_units + static_cast<int>(Int(0, 4));
      decimals = " to " + std::to_string(rounding_decimals_) + " decimals";
    }
    c_.rounding = "rounding " + mode + decimals + " per " + point;
  }

  std::string Rule() {
    std::string mode = Pick<std::string>({"half_even", "half_up", "half_down", "up", "down", "ceiling", "floor"});
    std::string decimals = Chance(0.5) ? "" : " to " + std::to_string(c_.minor_units + Int(0, 3)) + " decimals";
    return "rounding " + mode + decimals + " per " + Pick<std::string>({"event", "line"});
  }

  void Events() {
    std::vector<std::string> names = {"api", "upload", "pay", "probe"};
    std::shuffle(names.begin(), names.end(), rng_);
    int n = static_cast<int>(Int(1, 3));
    std::set<std::string> declared;
    for (int i = 0; i < n; ++i) {
      EventDef e;
      e.name = names[static_cast<std::size_t>(i)];
      int quantities = static_cast<int>(Int(1, 2));
      for (int q = 0; q < quantities; ++q) {
        FieldDef f;
        f.name = q == 0 ? "qty" : "size";
        f.kind = FieldKind::kQuantity;
        int dim = static_cast<int>(Int(0, 2));
        if (dim == 0) {
          f.unit = Pick(kInformation);
        } else if (dim == 1) {
          f.unit = Pick(kTime);
        } else {
          f.unit = Pick<std::string>({"token", "seat", "msg"});
          if (declared.insert(f.unit).second) c_.units.push_back(f.unit);
        }
        e.fields.push_back(f);
      }
      if (Chance(0.6)) e.fields.push_back({"amount", FieldKind::kMoney, "", {}});
      if (Chance(0.3)) e.fields.push_back({"n", FieldKind::kDecimal, "", {}});
      if (Chance(0.7)) e.fields.push_back({"kind", FieldKind::kEnum, "", {"a", "b", "c"}});
      if (Chance(0.5)) e.fields.push_back({"region", FieldKind::kText, "", {"eu", "us", "ap"}});
      if (Chance(0.4)) e.fields.push_back({"flag", FieldKind::kBool, "", {}});
      if (Chance(0.4)) e.fields.push_back({"user", FieldKind::kId, "", {"u1", "u2", "u3", "u4"}});
      c_.events.push_back(e);
    }
  }

  void Subscription() {
    if (std::find(c_.units.begin(), c_.units.end(), "seat") == c_.units.end()) c_.units.push_back("seat");
    c_.subscription.push_back({"seats", FieldKind::kQuantity, "seat", {}});
    if (Chance(0.5)) c_.subscription.push_back({"tier", FieldKind::kEnum, "", {"basic", "pro"}});
  }

  static std::vector<std::string> UnitsOf(const std::string& unit) {
    if (std::find(kInformation.begin(), kInformation.end(), unit) != kInformation.end()) return kInformation;
    if (std::find(kTime.begin(), kTime.end(), unit) != kTime.end()) return kTime;
    return {unit};
  }

  // A `where` condition over event `e`; records the thresholds it compares with.
  std::string Atom(const EventDef& e) {
    std::vector<std::string> atoms;
    for (int tries = 0; tries < 8; ++tries) {
      const FieldDef& f = Pick(e.fields);
      std::string ref = e.name + "." + f.name;
      switch (f.kind) {
        case FieldKind::kQuantity: {
          std::string unit = Pick(UnitsOf(f.unit));
          Rational v = Number(static_cast<int>(Int(0, 3)), static_cast<int>(Int(0, 3)));
          thresholds_[e.name + "." + f.name].push_back(v * BaseFactor(unit));
          return ref + " " + Pick<std::string>({">", ">=", "<", "<=", "==", "!="}) + " " + ToDecimalText(v) + " " + unit;
        }
        case FieldKind::kMoney: {
          int decimals = static_cast<int>(Int(0, c_.minor_units));
          Rational v = Number(static_cast<int>(Int(1, 3)), decimals);
          thresholds_[ref].push_back(v);
          return ref + " " + Pick<std::string>({">", ">=", "<", "<="}) + " " + ToDecimalText(v, decimals) + " " + c_.currency;
        }
        case FieldKind::kDecimal: {
          Rational v = Number(1, static_cast<int>(Int(0, 2)));
          thresholds_[ref].push_back(v);
          return ref + " " + Pick<std::string>({">", "<=", "!="}) + " " + ToDecimalText(v);
        }
        case FieldKind::kEnum:
        case FieldKind::kText: return ref + " " + Pick<std::string>({"==", "!="}) + " \"" + Pick(f.values) + "\"";
        case FieldKind::kBool: return Chance(0.5) ? ref : "not " + ref;
        case FieldKind::kId: break;
      }
    }
    return e.name + ".qty > 0 " + e.fields[0].unit;
  }
  std::string Where(const EventDef& e) {
    std::string w = Atom(e);
    if (Chance(0.35)) w += (Chance(0.5) ? " and " : " or ") + Atom(e);
    if (Chance(0.15)) w += (Chance(0.5) ? " and " : " or ") + Atom(e);
    return w;
  }

  void Meter(int index) {
    const EventDef& e = Pick(c_.events);
    GenMeter m;
    m.name = "m" + std::to_string(index);
    m.event = e.name;
    std::vector<const FieldDef*> numbers, distinct;
    for (const FieldDef& f : e.fields) {
      if (f.kind == FieldKind::kQuantity || f.kind == FieldKind::kMoney || f.kind == FieldKind::kDecimal) numbers.push_back(&f);
      if (f.kind != FieldKind::kBool) distinct.push_back(&f);
    }
    std::string text;
    int shape = static_cast<int>(Int(0, 9));
    if (shape <= 1) {
      m.agg = "count";
      m.value.is = ValueKind::Is::kCount;
      m.value.units = {e.name};
      m.value.unit = e.name;
      text = "count(" + e.name + ")";
    } else if (shape == 2) {
      const FieldDef* f = Pick(distinct);
      m.agg = "count_distinct";
      m.value.is = ValueKind::Is::kDecimal;
      text = "count_distinct(" + e.name + "." + f->name + ")";
    } else {
      const FieldDef* f = Pick(numbers);
      std::vector<std::string> aggs = {"sum", "sum", "sum", "min", "max", "latest", "average"};
      if (f->kind == FieldKind::kQuantity) {
        aggs.push_back("time_weighted_average");
        aggs.push_back("integral");
      }
      m.agg = Pick(aggs);
      m.field = f->name;
      if (f->kind == FieldKind::kQuantity) {
        m.value.is = ValueKind::Is::kQuantity;
        m.value.units = UnitsOf(f->unit);
        m.value.unit = f->unit;
        m.value.times_seconds = m.agg == "integral";
      } else if (f->kind == FieldKind::kMoney) {
        m.value.is = ValueKind::Is::kMoney;
      } else {
        m.value.is = ValueKind::Is::kDecimal;
      }
      text = m.agg + "(" + e.name + "." + f->name + ")";
    }
    if (Chance(0.35)) text += " where " + Where(e);
    c_.meters.push_back({m.name, m.event, text});
    meters_.push_back(m);
  }

  // A unit of the dimension of `v` for a rate or a bound, written as a plan writes it.
  std::string UnitFor(const ValueKind& v) {
    std::string u = Pick(v.units);
    if (v.times_seconds) u += "·" + Pick(kTime);
    return u;
  }

  // A price for one unit of a meter's value: a rate, a percentage, or money.
  std::string PriceFor(const ValueKind& v, bool allow_started = true) {
    switch (v.is) {
      case ValueKind::Is::kMoney:
        if (Chance(0.3)) return std::to_string(Int(1, 250)) + " bp";
        return ToDecimalText(Number(1, static_cast<int>(Int(0, 2)))) + "%";
      case ValueKind::Is::kDecimal: return Price() + " " + c_.currency;
      case ValueKind::Is::kQuantity:
      case ValueKind::Is::kCount: {
        std::string per;
        if (Chance(0.55)) {
          std::vector<std::string> ns = {"7", "3", "1000", "60", "100", "12", "1024", "0.5", "2.5"};
          if (!options_.odd_volume_packages) ns = {"1000", "100", "10"};
          per = Pick(ns) + " ";
        }
        bool started = allow_started && Chance(0.15);
        return Price() + " " + c_.currency + " per " + (started ? "started " : "") + per + UnitFor(v);
      }
    }
    return "";
  }

  const GenMeter* MeterOf(const std::string& event = "") {
    std::vector<const GenMeter*> options;
    for (const GenMeter& m : meters_) {
      if (event.empty() || m.event == event) options.push_back(&m);
    }
    if (options.empty()) return nullptr;
    return Pick(options);
  }

  std::string Name(int index) { return std::string(1, static_cast<char>('A' + index)); }

  void Charge(int index) {
    ChargeDef ch;
    ch.name = Name(index);
    int shape = static_cast<int>(Int(0, 15));
    if (shape <= 1) {
      Recurring(ch);
    } else if (shape <= 5) {
      Formula(ch);
    } else if (shape <= 7) {
      Matrix(ch);
    } else if (shape <= 11) {
      Tiered(ch);
    } else {
      PerEvent(ch);
    }
    if (ch.body.empty()) return;
    if (ch.kind != "recurring" && Chance(0.15)) ch.options.push_back(Rule());
    c_.charges.push_back(ch);
  }

  void Recurring(ChargeDef& ch) {
    ch.kind = "recurring";
    if (!c_.subscription.empty() && Chance(0.6)) {
      const bool tiered = c_.subscription.size() > 1 && Chance(0.5);
      ch.body = tiered ? "subscription.seats * match subscription.tier { \"basic\": " + Price() + " " + c_.currency +
                             " per seat  else: " + Price() + " " + c_.currency + " per seat }"
                       : "subscription.seats * " + Price() + " " + c_.currency + " per seat";
    } else {
      ch.body = MoneyAmount(3);
    }
    if (Chance(0.3)) ch.options.push_back(Pick<std::string>({"prorated by day", "prorated by second", "not prorated"}));
  }

  std::string Included(const GenMeter& m) {
    if (m.value.is == ValueKind::Is::kQuantity) {
      return "included " + ToDecimalText(Number(static_cast<int>(Int(0, 3)), static_cast<int>(Int(0, 2)))) + " " + UnitFor(m.value);
    }
    if (m.value.is == ValueKind::Is::kCount) return "included " + std::to_string(Int(0, 5)) + " " + m.event;
    return "";
  }

  void Formula(ChargeDef& ch) {
    const GenMeter* m = MeterOf();
    if (m == nullptr) return;
    ch.kind = "formula";
    ch.meters.push_back(m->name);
    std::string term = m->name + " * " + PriceFor(m->value);
    int shape = static_cast<int>(Int(0, 6));
    if (shape == 1) {
      const GenMeter* other = MeterOf();
      if (other->name != m->name) {
        ch.meters.push_back(other->name);
        term += " + " + other->name + " * " + PriceFor(other->value);
      }
    } else if (shape == 2) {
      term = Pick<std::string>({"max(", "min("}) + term + ", " + MoneyAmount(2) + ")";
    } else if (shape == 3 && m->value.is == ValueKind::Is::kQuantity && !m->value.times_seconds) {
      std::string step = ToDecimalText(Number(1, static_cast<int>(Int(0, 1))) + 1) + " " + UnitFor(m->value);
      term = Pick<std::string>({"round_up(", "round_down("}) + m->name + ", " + step + ") * " + PriceFor(m->value);
    } else if (shape == 4) {
      term = m->name + " / " + Pick<std::string>({"3", "7", "2", "1.5"}) + " * " + PriceFor(m->value);
    } else if (shape == 5) {
      term += " + " + MoneyAmount(2);
    }
    ch.body = term;
    if (ch.meters.size() == 1 && shape != 2 && Chance(0.3)) {
      std::string inc = Included(*m);
      if (!inc.empty()) ch.options.push_back(inc);
    }
  }

  // The grouping fields of event `e` a `by` may use (enumerations, text, booleans).
  std::vector<const FieldDef*> GroupFields(const EventDef& e) {
    std::vector<const FieldDef*> out;
    for (const FieldDef& f : e.fields) {
      if (f.kind == FieldKind::kEnum || f.kind == FieldKind::kText || f.kind == FieldKind::kBool) out.push_back(&f);
    }
    return out;
  }

  std::string By(const EventDef& e, std::vector<const FieldDef*>* chosen) {
    std::vector<const FieldDef*> fields = GroupFields(e);
    if (fields.empty()) return "";
    std::shuffle(fields.begin(), fields.end(), rng_);
    std::size_t n = fields.size() > 1 && Chance(0.3) ? 2 : 1;
    std::string by;
    for (std::size_t i = 0; i < n; ++i) {
      by += (i ? ", " : "") + e.name + "." + fields[i]->name;
      chosen->push_back(fields[i]);
    }
    return by;
  }

  std::string MatchOn(const std::string& subject, const FieldDef& f, const std::function<std::string()>& value) {
    std::string out = "match " + subject + " {";
    std::vector<std::string> values = f.values;
    std::shuffle(values.begin(), values.end(), rng_);
    std::size_t arms = static_cast<std::size_t>(Int(1, static_cast<std::int64_t>(values.size())));
    bool exhaustive = f.kind == FieldKind::kEnum && arms == values.size() && Chance(0.5);
    for (std::size_t i = 0; i < arms; ++i) {
      if (i + 1 < arms && !exhaustive && Chance(0.2)) {
        out += " \"" + values[i] + "\", \"" + values[i + 1] + "\": " + value();
        ++i;
      } else {
        out += " \"" + values[i] + "\": " + value();
      }
    }
    if (!exhaustive) out += "  else: " + value();
    return out + " }";
  }

  void Matrix(ChargeDef& ch) {
    const GenMeter* m = MeterOf();
    if (m == nullptr) return;
    const EventDef& e = *c_.Event(m->event);
    std::vector<const FieldDef*> chosen;
    ch.by = By(e, &chosen);
    if (ch.by.empty()) {
      Formula(ch);
      return;
    }
    ch.kind = "matrix";
    ch.meters.push_back(m->name);
    const FieldDef& subject = *chosen[static_cast<std::size_t>(Int(0, static_cast<std::int64_t>(chosen.size()) - 1))];
    if (subject.kind == FieldKind::kBool) {
      ch.body = m->name + " * " + PriceFor(m->value);  // a boolean is no `match` subject: grouped only
    } else {
      ch.body = m->name + " * " + MatchOn(e.name + "." + subject.name, subject, [&] { return PriceFor(m->value, false); });
    }
    // A second meter of the same event, priced flat.
    const GenMeter* other = MeterOf(m->event);
    if (other != nullptr && other->name != m->name && Chance(0.3)) {
      ch.meters.push_back(other->name);
      ch.body += " + " + other->name + " * " + PriceFor(other->value);
    }
    if (ch.meters.size() == 1 && Chance(0.2)) {
      std::string inc = Included(*m);
      if (!inc.empty()) ch.options.push_back(inc);
    }
  }

  // A tier bound for a meter, written in a unit of its dimension (or bare), above `lower`.
  std::pair<Rational, std::string> Bound(const GenMeter& m, const Rational& lower) {
    for (int tries = 0; tries < 20; ++tries) {
      Rational v = Number(static_cast<int>(Int(0, 3)), static_cast<int>(Int(0, 2)));
      if (v == 0) continue;
      switch (m.value.is) {
        case ValueKind::Is::kQuantity: {
          std::string unit = Chance(0.3) ? "" : UnitFor(m.value);
          Rational meter_unit = BaseFactor(m.value.unit);  // an integral's unit is this × s (factor 1)
          Rational base = v * (unit.empty() ? meter_unit : Factor(unit));
          if (base <= lower) continue;
          if (!options_.inexact_tier_bounds && !Terminates(Rational(base / meter_unit))) continue;
          return {base, ToDecimalText(v) + (unit.empty() ? "" : " " + unit)};
        }
        case ValueKind::Is::kCount: {
          Rational n = Rational(Integer(boost::multiprecision::numerator(v) / boost::multiprecision::denominator(v)) + 1);
          if (n <= lower) continue;
          return {n, ToDecimalText(n) + (Chance(0.5) ? " " + m.event : "")};
        }
        case ValueKind::Is::kMoney: {
          if (v <= lower) continue;
          return {v, ToDecimalText(v) + (Chance(0.5) ? " " + c_.currency : "")};
        }
        case ValueKind::Is::kDecimal: {
          if (v <= lower) continue;
          return {v, ToDecimalText(v)};
        }
      }
    }
    return {lower, ""};
  }
  static Rational Factor(const std::string& unit) {
    Rational r = 1;
    std::size_t start = 0;
    while (start <= unit.size()) {
      std::size_t dot = unit.find("·", start);
      std::string name = unit.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      r *= BaseFactor(name);
      if (dot == std::string::npos) break;
      start = dot + std::string("·").size();
    }
    return r;
  }

  std::string TierPrice(const GenMeter& m) {
    if (Chance(0.12)) return "free";
    // A dimensionless meter has no unit to write a rate per: a money term is the price of one.
    if (m.value.is == ValueKind::Is::kDecimal) return Price() + " " + c_.currency + (Chance(0.3) ? " + " + MoneyAmount(2) + " flat" : "");
    std::string p = PriceFor(m.value);
    if (Chance(0.3)) p += " + " + MoneyAmount(2) + " flat";
    return p;
  }

  void Tiered(ChargeDef& ch) {
    const GenMeter* m = MeterOf();
    if (m == nullptr) return;
    if (m->value.is == ValueKind::Is::kDecimal && !options_.tiers_on_decimal_meters) {
      Formula(ch);
      return;
    }
    bool volume = Chance(0.45);
    ch.kind = volume ? "volume" : "graduated";
    ch.body = std::string(volume ? "volume " : "graduated ") + m->name;
    ch.meters.push_back(m->name);
    int bounds = static_cast<int>(Int(1, 4));
    Rational lower = 0;
    for (int i = 0; i < bounds; ++i) {
      auto [base, text] = Bound(*m, lower);
      if (text.empty()) break;
      lower = base;
      ch.tiers.push_back({text, TierPrice(*m)});
      if (!m->field.empty() && m->agg != "integral" && m->agg != "time_weighted_average") {
        thresholds_[m->event + "." + m->field].push_back(base);
      }
    }
    if (options_.tables_without_above && !ch.tiers.empty() && Chance(0.25)) {
      ch.beyond = Chance(0.5) ? "last price" : "error";  // the table stops at its last bound
    } else {
      ch.tiers.push_back({"", TierPrice(*m)});
    }
    if (volume) ch.options.push_back("allow falling_total");
    if (Chance(0.2)) ch.options.push_back("no flat at zero");
    if (Chance(0.15)) {
      std::string inc = Included(*m);
      if (!inc.empty()) ch.options.push_back(inc);
    }
    if (Chance(0.2)) {
      const EventDef& e = *c_.Event(m->event);
      std::vector<const FieldDef*> chosen;
      ch.by = By(e, &chosen);
    }
  }

  void PerEvent(ChargeDef& ch) {
    const EventDef& e = Pick(c_.events);
    ch.kind = "per-event";
    const FieldDef* money = e.Field("amount");
    const FieldDef& q = *e.Field("qty");
    ValueKind qv;
    qv.is = ValueKind::Is::kQuantity;
    qv.units = UnitsOf(q.unit);
    qv.unit = q.unit;
    std::string ref = e.name + ".";
    std::string expr;
    int shape = static_cast<int>(Int(0, 6));
    if (money != nullptr && shape <= 2) {
      std::string pct = ToDecimalText(Number(1, static_cast<int>(Int(0, 2)))) + "%";
      if (shape == 0) expr = ref + "amount * " + pct + (Chance(0.5) ? " + " + MoneyAmount(1) : "");
      if (shape == 1) expr = ref + "amount * " + std::to_string(Int(1, 300)) + " bp";
      if (shape == 2) expr = "max(min(" + ref + "amount * " + pct + " + " + MoneyAmount(1) + ", " + MoneyAmount(2) + "), " + MoneyAmount(1) + ")";
    } else if (shape == 3) {
      std::string step = ToDecimalText(Number(1, 0) + 1) + " " + Pick(qv.units);
      std::string round = Chance(0.7) ? "round_up(" : "round_down(";
      expr = (Chance(0.5) ? "max(" + round + ref + "qty, " + step + "), " + step + ")" : round + ref + "qty, " + step + ")") +
             " * " + PriceFor(qv, false);
    } else if (shape == 4) {
      expr = MoneyAmount(1);
    } else if (shape == 5 && e.Field("kind") != nullptr) {
      expr = ref + "qty * " + MatchOn(ref + "kind", *e.Field("kind"), [&] { return PriceFor(qv, false); });
      std::vector<const FieldDef*> chosen;
      ch.by = ref + "kind";
    } else {
      expr = ref + "qty * " + PriceFor(qv, false);
    }
    ch.body = "each " + e.name + (Chance(0.35) ? " where " + Where(e) : "") + ": " + expr;
    if (ch.by.empty() && Chance(0.2)) {
      std::vector<const FieldDef*> chosen;
      ch.by = By(e, &chosen);
    }
    if (Chance(0.3)) {
      std::string opt = "free first " + std::to_string(Int(0, 4)) + " " + e.name;
      bool reads_money = expr.find(ref + "amount") != std::string::npos;
      if (money != nullptr && (reads_money || options_.free_first_money_unread) && Chance(0.5)) opt += " or " + MoneyAmount(3);
      ch.options.push_back(opt);
    }
  }

  void Adjustment() {
    if (c_.charges.empty()) return;
    std::vector<std::string> names;
    for (const ChargeDef& ch : c_.charges) {
      if (options_.stacked_adjustments || !adjusted_.count(ch.name)) names.push_back(ch.name);
    }
    std::shuffle(names.begin(), names.end(), rng_);
    std::vector<std::string> on;
    std::size_t n = names.empty() ? 0 : static_cast<std::size_t>(Int(1, std::min<std::int64_t>(2, static_cast<std::int64_t>(names.size()))));
    on.assign(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(n));
    AdjustmentDef a;
    int kind = static_cast<int>(Int(0, 3));
    if (kind <= 1 && on.empty()) kind = 2;
    if (kind == 0) {
      a.head = "discount " + (Chance(0.8) ? ToDecimalText(Number(2, static_cast<int>(Int(0, 1)))) + "%" : std::to_string(Int(1, 500)) + " bp");
    } else if (kind == 1) {
      a.head = "discount " + MoneyAmount(2);
    } else if (kind == 2) {
      a.head = "minimum " + MoneyAmount(3);
      if (Chance(0.5)) on.clear();
      if (Chance(0.25)) a.tail = " " + Pick<std::string>({"prorated by day", "prorated by second", "not prorated"});
    } else {
      a.head = "maximum " + MoneyAmount(3);
      if (Chance(0.3)) on.clear();
    }
    a.on = on;
    for (const std::string& name : on) adjusted_.insert(name);
    c_.adjustments.push_back(a);
  }

  // One or two subtotals, each of one to three distinct charges (sometimes overlapping).
  void Subtotals() {
    int count = static_cast<int>(Int(1, 2));
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> names;
      for (const ChargeDef& ch : c_.charges) names.push_back(ch.name);
      std::shuffle(names.begin(), names.end(), rng_);
      std::size_t n = static_cast<std::size_t>(Int(1, std::min<std::int64_t>(3, static_cast<std::int64_t>(names.size()))));
      names.resize(n);
      c_.subtotals.push_back(SubtotalDef{"Subtotal " + std::to_string(i + 1), names});
    }
  }

  // `allocated by E.F in proportion to M`: M a new meter (its usage rows are already drawn:
  // they carry every declared field).
  void Allocations() {
    int index = 0;
    for (ChargeDef& ch : c_.charges) {
      if (!ch.by.empty() || ch.kind == "per-event" || !Chance(0.25)) continue;
      std::vector<const EventDef*> events;
      for (const EventDef& e : c_.events) {
        if (std::any_of(e.fields.begin(), e.fields.end(), [](const FieldDef& f) {
              return f.kind == FieldKind::kEnum || f.kind == FieldKind::kText || f.kind == FieldKind::kBool || f.kind == FieldKind::kId;
            })) {
          events.push_back(&e);
        }
      }
      if (events.empty()) return;
      const EventDef& e = *Pick(events);
      std::vector<const FieldDef*> groupable, numbers;
      for (const FieldDef& f : e.fields) {
        if (f.kind == FieldKind::kEnum || f.kind == FieldKind::kText || f.kind == FieldKind::kBool || f.kind == FieldKind::kId) groupable.push_back(&f);
        if (f.kind == FieldKind::kQuantity || f.kind == FieldKind::kDecimal) numbers.push_back(&f);
      }
      const FieldDef* g = Pick(groupable);
      std::string meter = "share" + std::to_string(++index);
      std::string text;
      if (numbers.empty() || Chance(0.35)) {
        text = "count(" + e.name + ")";
      } else {
        const FieldDef* f = Pick(numbers);
        text = (f->kind == FieldKind::kQuantity && Chance(0.2) ? "integral(" : "sum(") + e.name + "." + f->name + ")";
      }
      if (Chance(0.3)) text += " where " + Where(e);
      c_.meters.push_back({meter, e.name, text});
      ch.options.push_back("allocated by " + e.name + "." + g->name + " in proportion to " + meter);
      ch.meters.push_back(meter);
    }
  }

  // ---- Usage -------------------------------------------------------------------------------

  // A value for a quantity or number field: often on or next to a threshold.
  std::string NumberValue(const std::string& key, const std::string& unit, int money_decimals) {
    auto it = thresholds_.find(key);
    if (it != thresholds_.end() && !it->second.empty() && Chance(0.35)) {
      Rational base = Pick(it->second);
      Rational v = base / (unit.empty() ? Rational(1) : BaseFactor(unit));
      int nudge = static_cast<int>(Int(-1, 1));
      if (Terminates(v)) {
        std::string text = ToDecimalText(v);
        std::size_t dot = text.find('.');
        int decimals = dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
        if (decimals <= 12) {
          Rational step(1, Pow10(std::max(decimals, 1)));
          Rational nudged = v + step * nudge;
          if (nudged >= 0) return ToDecimalText(nudged, decimals);
        }
      }
    }
    if (overflow_ && Chance(0.3)) return "1" + std::string(static_cast<std::size_t>(Int(33, 36)), '0');
    int shape = static_cast<int>(Int(0, 9));
    if (money_decimals >= 0) {
      int decimals = Chance(0.8) ? money_decimals : static_cast<int>(Int(0, 6));
      return ToDecimalText(Number(static_cast<int>(Int(1, 4)), decimals), decimals);
    }
    if (shape == 0) return "0";
    if (shape <= 3) return std::to_string(Int(1, 20));
    if (shape <= 7) {
      int decimals = static_cast<int>(Int(1, 12));
      return ToDecimalText(Number(static_cast<int>(Int(0, 3)), decimals), decimals);
    }
    if (shape == 8) return ToDecimalText(Number(static_cast<int>(Int(5, 12)), 0));
    return ToDecimalText(Number(static_cast<int>(Int(0, 6)), 12), 12);
  }

  std::int64_t Time(std::int64_t from, std::int64_t to) {
    if (Chance(0.2) && !shared_times_.empty()) {
      std::int64_t t = Pick(shared_times_);
      if (t >= from && t < to) return t;
    }
    std::int64_t seconds = (to - from) / 1000000;
    std::int64_t t = from + Int(0, std::max<std::int64_t>(seconds - 1, 0)) * 1000000;
    if (Chance(0.15)) t += Int(0, 999999);
    return std::min(t, to - 1);
  }

  void Usage() {
    overflow_ = options_.overflow_cases && Chance(0.01);
    for (int i = 0; i < 4; ++i) shared_times_.push_back(c_.period_start + Int(0, 30) * 86400000000LL + Int(0, 3) * 3600000000LL);
    int customers = static_cast<int>(Int(1, 4));
    for (int i = 0; i < customers; ++i) {
      std::string id = "c" + std::to_string(i + 1);
      std::int64_t from = c_.period_start, to = c_.period_end;
      CustomerDef options;
      options.id = id;
      bool has_options = false;
      if (Chance(0.25)) {
        from = c_.period_start + Int(0, 20) * 86400000000LL + (Chance(0.5) ? Int(0, 86399) * 1000000LL : 0);
        to = Chance(0.5) ? c_.period_end : std::min<std::int64_t>(c_.period_end, from + Int(1, 10) * 86400000000LL + Int(0, 86399) * 1000000LL);
        options.part = std::make_pair(from, to);
        has_options = true;
      }
      if (!c_.subscription.empty()) {
        SubscriptionValues(options);
        has_options = true;
      }
      if (has_options) c_.customers.push_back(options);
      int rows = Chance(0.4) ? static_cast<int>(Int(0, 2)) : static_cast<int>(Int(1, 12));
      for (int r = 0; r < rows; ++r) Row(id, from, to);
    }
    if (Chance(0.2)) {
      CustomerDef quiet;
      quiet.id = "c9-no-usage";
      if (Chance(0.5)) quiet.part = std::make_pair(c_.period_start + Int(1, 15) * 86400000000LL, c_.period_end);
      if (!c_.subscription.empty()) SubscriptionValues(quiet);
      c_.customers.push_back(quiet);
    }
  }

  void SubscriptionValues(CustomerDef& c) {
    for (const FieldDef& f : c_.subscription) {
      if (f.kind == FieldKind::kQuantity) c.subscription[f.name] = Chance(0.8) ? std::to_string(Int(0, 50)) : ToDecimalText(Number(1, 2), 2);
      if (f.kind == FieldKind::kEnum) c.subscription[f.name] = Pick(f.values);
    }
  }

  void Row(const std::string& customer, std::int64_t from, std::int64_t to) {
    const EventDef& e = Pick(c_.events);
    RowDef row;
    row.event = e.name;
    row.customer = customer;
    row.time = Time(from, to);
    for (const FieldDef& f : e.fields) {
      std::string key = e.name + "." + f.name;
      switch (f.kind) {
        case FieldKind::kQuantity: row.values[f.name] = NumberValue(key, f.unit, -1); break;
        case FieldKind::kMoney: row.values[f.name] = NumberValue(key, "", c_.minor_units); break;
        case FieldKind::kDecimal: row.values[f.name] = NumberValue(key, "", -1); break;
        case FieldKind::kEnum:
        case FieldKind::kText:
        case FieldKind::kId: row.values[f.name] = Pick(f.values); break;
        case FieldKind::kBool: row.values[f.name] = Chance(0.5) ? "true" : "false"; break;
      }
    }
    c_.rows.push_back(row);
  }

  std::mt19937_64 rng_;
  GenerateOptions options_;
  Case c_;
  int rounding_decimals_ = 2;
  std::vector<GenMeter> meters_;
  std::map<std::string, std::vector<Rational>> thresholds_;  // "event.field" → base-unit values
  std::set<std::string> adjusted_;
  std::vector<std::int64_t> shared_times_;
  bool overflow_ = false;
};

}  // namespace

Case Generate(std::uint64_t seed, const GenerateOptions& options) { return Generator(seed, options).Run(); }

}  // namespace tariff::differential
