// runtime/billing: segments, routing, merging and credits (see billing.h, docs/billing.md).
#include "runtime/billing/billing.h"
#include "runtime/billing/progressive.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "runtime/calendar/calendar.h"
#include "runtime/columnar/text_dictionary.h"
#include "runtime/exec/exec.h"
#include "runtime/columnar/timestamp.h"

namespace tariff {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kAlways = std::numeric_limits<std::int64_t>::min();

calendar::PeriodRule RuleOf(const ir::RatingFunction& fn) {
  calendar::PeriodRule rule;
  switch (fn.period.length) {
    case ir::PeriodSpec::Length::kMonth: rule.length = calendar::PeriodLength::kMonth; break;
    case ir::PeriodSpec::Length::kQuarter: rule.length = calendar::PeriodLength::kQuarter; break;
    case ir::PeriodSpec::Length::kYear: rule.length = calendar::PeriodLength::kYear; break;
    case ir::PeriodSpec::Length::kDays: rule.length = calendar::PeriodLength::kDays; break;
  }
  rule.count = fn.period.length == ir::PeriodSpec::Length::kDays ? fn.period.count : 1;
  rule.anchor = fn.period.anchor;
  rule.time_zone = fn.period.time_zone;
  return rule;
}

calendar::Calendar CalendarOf(const ir::RatingFunction& fn) {
  try {
    return calendar::Calendar(RuleOf(fn));
  } catch (const calendar::CalendarError& e) {
    throw BillingError(fmt::format("plan \"{}\": period: {}", fn.plan, e.what()));
  }
}

// "api-platform v2", "pro".
std::string Label(const ir::RatingFunction& fn) {
  return fn.version.empty() ? fn.plan : fmt::format("{} v{}", fn.plan, fn.version);
}

// Local calendar days from `a` to `b` for proration by day: (local date of b) − (local date of
// a). The day a part starts counts whole; the day it ends at any time but midnight belongs to
// what follows, so that back-to-back parts share out the period's days exactly.
std::int64_t LocalDays(const ir::RatingFunction& fn, std::int64_t a, std::int64_t b) {
  calendar::PeriodRule day;
  day.length = calendar::PeriodLength::kDays;
  day.count = 1;
  day.time_zone = fn.period.time_zone;
  const calendar::Calendar cal(day);
  const std::int64_t days = cal.Days({a, b});
  return b > a && cal.PeriodContaining(b).start != b ? days - 1 : days;
}

// [a, b) in days of 30-day months, in the plan's time zone (Calendar::Days360).
std::int64_t LocalDays360(const ir::RatingFunction& fn, std::int64_t a, std::int64_t b) {
  calendar::PeriodRule day;
  day.length = calendar::PeriodLength::kDays;
  day.count = 1;
  day.time_zone = fn.period.time_zone;
  return calendar::Calendar(day).Days360({a, b});
}

// Microseconds as exact seconds.
Decimal Seconds(std::int64_t micros) { return Decimal::FromParts(micros, 6).Normalized(); }

bool IsInAdvance(const ir::RatingFunction& fn, const std::string& charge) {
  return std::any_of(fn.charges.begin(), fn.charges.end(), [&](const ir::Charge& c) { return c.in_advance && c.name == charge; });
}

bool HasInAdvance(const ir::RatingFunction& fn) {
  return std::any_of(fn.charges.begin(), fn.charges.end(), [](const ir::Charge& c) { return c.in_advance; });
}

// An instant for a line's name: the local date when it is local midnight, else RFC 3339.
std::string DateText(const calendar::Calendar& cal, std::int64_t t) {
  std::string s = cal.FormatLocal(t);
  return s.size() > 10 && s.compare(10, 9, "T00:00:00") == 0 ? s.substr(0, 10) : s;
}

bool SameSchema(const EventSchema& a, const EventSchema& b) {
  if (a.fields.size() != b.fields.size() || a.key_field != b.key_field) return false;
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    const FieldSchema &x = a.fields[i], &y = b.fields[i];
    if (x.name != y.name || x.type != y.type || x.unit != y.unit || x.currency != y.currency || x.enum_values != y.enum_values) return false;
  }
  return true;
}

}  // namespace

std::optional<std::int64_t> ParsePlanTime(const PlanSet& plans, const std::string& text, std::string* why) {
  const ir::RatingFunction* fn = nullptr;
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan == plans.default_plan) fn = f;
  }
  calendar::PeriodRule rule;
  if (fn != nullptr) rule.time_zone = fn->period.time_zone;
  try {
    return calendar::Calendar(rule).ParseLocal(text);
  } catch (const calendar::CalendarError& e) {
    if (why != nullptr) *why = e.what();
    return std::nullopt;
  }
}

// The versions of one plan, in order of their effective dates.
struct Versions {
  std::vector<int> functions;          // indices into PlanSet::functions
  std::vector<std::int64_t> effective; // kAlways for a version without a date
};

struct Segment {
  std::int64_t start = kAlways, end = kNever;
  int engine = -1;  // -1: no version in force
  std::string why;  // engine -1: why rows here are rejected
};

struct EngineSlot {
  int function = -1;
  std::unique_ptr<Engine> engine;
  Batch pending;
  std::map<std::string, Segment> segments;  // customer → the part of the period it rates (all its parts)
  std::map<std::string, std::vector<SubscriptionPart>> parts;  // customer → its parts, in order
};

struct Biller::State {
  PlanSet plans;
  std::vector<Subscription> subscriptions;
  std::vector<CreditGrant> credits;
  BillingOptions options;
  std::vector<EventSchema> schemas;
  std::vector<std::vector<int>> event_map;  // [function][union event] → the function's event, or -1
  std::map<std::string, Versions> versions;
  std::vector<EngineSlot> engines;
  std::map<std::pair<int, int>, int> engine_of;  // (function, slot) → engines index
  // Customers by dense id (the interpreter's dictionary: a usage row looks its customer up).
  keys::TextDictionary customer_ids;
  std::vector<std::vector<Segment>> segments_of;  // by customer id
  std::vector<std::uint8_t> subscribed;           // by customer id: has its segments
  // The row path's copy of a customer's first two segments, flat, so that routing a row costs
  // one memory access (with many customers, a vector per customer is a cache miss per row).
  struct Routes {
    std::int64_t start[2] = {0, 0}, end[2] = {0, 0};
    std::int32_t engine[2] = {-1, -1};
    std::uint32_t count = 0;  // segments; more than 2: look in segments_of
  };
  std::vector<Routes> routes;  // by customer id
  std::vector<std::uint32_t> row_ids;             // Consume: each row's customer id
  std::vector<RoutingReject> rejects;
  std::vector<int> targets;                       // Consume: each row's engine, or -1
  std::vector<std::vector<std::uint32_t>> rows_of;  // Consume: each engine's rows
  bool simple = false;  // one engine, every row to it
  // Price overrides of contracts: a copy of a plan version per distinct set of overrides, with
  // its engines, rating the customers the overrides are for.
  std::deque<ir::RatingFunction> overridden;
  std::map<std::pair<int, std::string>, int> override_of;  // (function, overrides) → function
  std::set<std::string> all_plans;  // every plan of the file, selected or not
  // Progressive billing (runtime/billing/progressive.h): the rows consumed, kept to find the
  // events thresholds are reached at; credits are drawn on the closing invoices, after.
  bool progressive = false;
  std::vector<Batch> kept_rows;
  std::vector<CreditGrant> deferred_credits;
  std::vector<Invoice> thresholds;

  bool has_period() const { return options.period_start.has_value(); }

  // The billing period of a customer: the run's (slot 0), or that of its own anchor (a contract
  // term) containing options.period_at. Anchored customers with the same period share a slot.
  struct CustomerPeriod {
    std::int64_t start = 0, end = 0;
    std::string start_text, end_text;
  };
  std::vector<CustomerPeriod> periods;
  std::map<std::string, int> period_of;  // anchored customers → slot
  std::int64_t window_start = kAlways, window_end = kNever;  // every customer's period together

  int SlotOf(const std::string& customer) const {
    if (period_of.empty()) return 0;
    auto it = period_of.find(customer);
    return it == period_of.end() ? 0 : it->second;
  }
  const CustomerPeriod& PeriodOf(const std::string& customer) const { return periods[static_cast<std::size_t>(SlotOf(customer))]; }

  void AnchorPeriods() {
    if (!has_period()) return;
    periods.push_back({*options.period_start, *options.period_end, options.period_start_text, options.period_end_text});
    window_start = *options.period_start;
    window_end = *options.period_end;
    for (const ContractTerm& t : options.contracts) {
      if (t.kind != ContractTerm::Kind::kAnchor) continue;
      if (!options.period_at) throw BillingError(fmt::format("error[C0111]: {}: a billing anchor needs `--period DATE`, not an interval", t.origin));
      PeriodBounds b = BillingPeriodAt(plans, *options.period_at, t.anchor);
      int slot = -1;
      for (std::size_t i = 1; i < periods.size(); ++i) {
        if (periods[i].start == b.start && periods[i].end == b.end) slot = static_cast<int>(i);
      }
      if (slot < 0) {
        slot = static_cast<int>(periods.size());
        periods.push_back({b.start, b.end, b.start_text, b.end_text});
      }
      period_of[t.customer] = slot;
      window_start = std::min(window_start, b.start);
      window_end = std::max(window_end, b.end);
    }
  }

  const ir::RatingFunction& Fn(int f) const { return *plans.functions[static_cast<std::size_t>(f)]; }

  // Keeps the plan versions this run can use: the rated plan's and those of plans a
  // subscription names, and with a period only the versions in force at some instant of it
  // (so that versions or plans that change an event's fields can still be rated apart).
  void Select() {
    std::set<std::string> named = {plans.default_plan};
    std::set<std::pair<std::string, std::string>> pinned;
    for (const Subscription& s : subscriptions) {
      if (!s.plan.empty()) named.insert(s.plan);
      if (!s.version.empty()) pinned.emplace(s.plan.empty() ? plans.default_plan : s.plan, s.version);
    }
    // Fees billed in advance look back one period (a change there is prorated on this invoice):
    // keep the versions in force then too.
    std::int64_t lo = window_start;
    if (has_period() && std::any_of(plans.functions.begin(), plans.functions.end(), [](const ir::RatingFunction* f) { return HasInAdvance(*f); })) {
      try {
        lo = std::min(lo, BillingPeriodAt(plans, window_start - 1).start);
      } catch (const BillingError&) {
      }
    }
    std::vector<const ir::RatingFunction*> kept;
    for (const ir::RatingFunction* f : plans.functions) {
      all_plans.insert(f->plan);
      if (named.count(f->plan) == 0) continue;
      if (pinned.count({f->plan, f->version}) != 0) {
        kept.push_back(f);  // grandfathered: a subscription pins it, in force or not
        continue;
      }
      if (has_period() && !f->effective.empty()) {
        // In force from its effective date until the next version's.
        std::int64_t from = EffectiveOf(*f), until = kNever;
        for (const ir::RatingFunction* g : plans.functions) {
          if (g->plan != f->plan || g == f) continue;
          std::int64_t e = g->effective.empty() ? kAlways : EffectiveOf(*g);
          if (e > from) until = std::min(until, e);
        }
        if (from >= window_end || until <= lo) continue;
      }
      kept.push_back(f);
    }
    plans.functions = std::move(kept);
  }

  static std::int64_t EffectiveOf(const ir::RatingFunction& fn) {
    std::string why;
    PlanSet one{{&fn}, fn.plan};
    auto t = ParsePlanTime(one, fn.effective, &why);
    if (!t) throw BillingError(fmt::format("plan \"{}\" version {}: effective {}: {}", fn.plan, fn.version, fn.effective, why));
    return *t;
  }

  void Prepare() {
    if (!options.subscriptions_input) subscriptions.clear();
    AnchorPeriods();
    Select();
    if (plans.functions.empty()) throw BillingError(fmt::format("no version of plan \"{}\" is in force in the period", plans.default_plan));
    const std::string& currency = plans.functions.front()->currency;
    for (std::size_t f = 0; f < plans.functions.size(); ++f) {
      const ir::RatingFunction& fn = *plans.functions[f];
      if (fn.currency != currency) {
        throw BillingError(fmt::format("plans \"{}\" ({}) and \"{}\" ({}) bill in different currencies; rate them separately",
                                       plans.functions.front()->plan, currency, fn.plan, fn.currency));
      }
      Versions& v = versions[fn.plan];
      v.functions.push_back(static_cast<int>(f));
      v.effective.push_back(fn.effective.empty() ? kAlways : EffectiveOf(fn));
    }
    for (auto& [name, v] : versions) {
      std::vector<std::size_t> order(v.functions.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v.effective[a] < v.effective[b]; });
      Versions sorted;
      for (std::size_t i : order) {
        sorted.functions.push_back(v.functions[i]);
        sorted.effective.push_back(v.effective[i]);
      }
      v = std::move(sorted);
    }
    if (versions.count(plans.default_plan) == 0) throw BillingError(fmt::format("no plan \"{}\"", plans.default_plan));

    // The union of every version's events; one event name, one shape.
    event_map.resize(plans.functions.size());
    for (std::size_t f = 0; f < plans.functions.size(); ++f) {
      std::vector<EventSchema> own = SchemasOf(*plans.functions[f]);
      for (std::size_t e = 0; e < own.size(); ++e) {
        auto it = std::find_if(schemas.begin(), schemas.end(), [&](const EventSchema& s) { return s.name == own[e].name; });
        if (it == schemas.end()) {
          schemas.push_back(own[e]);
        } else if (!SameSchema(*it, own[e])) {
          throw BillingError(fmt::format("plan \"{}\" declares event `{}` with other fields than another plan rated with it; "
                                         "plans rated together must declare their shared events alike",
                                         Label(*plans.functions[f]), own[e].name));
        }
      }
    }
    for (std::size_t f = 0; f < plans.functions.size(); ++f) {
      const ir::RatingFunction& fn = *plans.functions[f];
      event_map[f].assign(schemas.size(), -1);
      for (std::size_t u = 0; u < schemas.size(); ++u) {
        for (std::size_t e = 0; e < fn.events.size(); ++e) {
          if (fn.events[e].name == schemas[u].name) event_map[f][u] = static_cast<int>(e);
        }
      }
    }

    const Versions& dv = versions.at(plans.default_plan);
    // One engine takes every row unchanged when there is nothing to route: no subscriptions
    // input, and one version, in force from the period's start.
    simple = !options.subscriptions_input && plans.functions.size() == 1 && !HasOverrides() && period_of.empty() &&
             (!has_period() || plans.functions.front()->effective.empty() ||
              EffectiveOf(*plans.functions.front()) <= *options.period_start);
    if (!options.subscriptions_input && !simple && dv.functions.size() > 1 && !has_period()) {
      throw BillingError(fmt::format("plan \"{}\" has {} versions: give a billing period so that the version in force can be chosen",
                                     plans.default_plan, dv.functions.size()));
    }
    if (simple) {
      // Identity routing: the engine's events are the schemas.
      EngineFor(0, /*slot=*/0);
    }
    const ir::RatingFunction& rated = *plans.functions.front();
    for (const CreditGrant& g : credits) {
      if (g.amount.sign() < 0 || g.amount.Normalized().scale() > rated.minor_units) {
        throw BillingError(fmt::format("{}: credit `{}` of {} {}: a credit is an amount of money at or above zero, in {} with at most {} decimals",
                                       g.origin, g.id, g.amount.ToString(), rated.currency, rated.currency, rated.minor_units));
      }
    }
    // In time order per customer, whatever the order of the input: a customer's first part
    // (its values for charges that read usage too) is the earliest.
    std::stable_sort(subscriptions.begin(), subscriptions.end(), [](const Subscription& x, const Subscription& y) {
      if (x.customer != y.customer) return x.customer < y.customer;
      return x.start.value_or(kAlways) < y.start.value_or(kAlways);
    });
    for (const Subscription& s : subscriptions) Subscribe(s);
  }

  // The terms that change how `customer` is rated in the period: price overrides and
  // allowances drawn elsewhere.
  static bool ChangesRating(const ContractTerm& t) { return t.kind == ContractTerm::Kind::kOverride || t.kind == ContractTerm::Kind::kDrawn; }
  std::vector<const ContractTerm*> OverridesOf(const std::string& customer) const {
    std::vector<const ContractTerm*> out;
    for (const ContractTerm& t : options.contracts) {
      if (ChangesRating(t) && t.customer == customer && has_period() && ContractApplies(t, PeriodOf(customer).start)) {
        out.push_back(&t);
      }
    }
    return out;
  }

  bool HasOverrides() const {
    return std::any_of(options.contracts.begin(), options.contracts.end(), [&](const ContractTerm& t) {
      return ChangesRating(t) && has_period() && ContractApplies(t, PeriodOf(t.customer).start);
    });
  }

  // The function that rates `customer` where `function` would: a copy with the customer's
  // price overrides, shared by customers with the same overrides.
  int FunctionFor(const std::string& customer, int function) {
    const std::vector<const ContractTerm*> terms = OverridesOf(customer);
    if (terms.empty()) return function;
    std::string key;
    for (const ContractTerm* t : terms) {
      key += t->charge + '\x1f' + (t->multiplier ? t->multiplier->ToString() : "") + '\x1f' + t->rate + '\x1f' + t->quantity + '\x1f' +
             (t->kind == ContractTerm::Kind::kDrawn && t->amount ? t->amount->ToString() : "") + '\x1e';
    }
    auto [it, inserted] = override_of.emplace(std::make_pair(function, key), -1);
    if (!inserted) return it->second;
    ir::RatingFunction copy = Fn(function);
    const std::string why = OverrideCharges(copy, terms);
    if (!why.empty()) {
      // Checked when the file was read; a plan version read later (another plan) may still refuse.
      throw BillingError(fmt::format("error[{}]: {}: {} (plan \"{}\")", why.substr(0, 5), terms.front()->origin, why.substr(7), Label(copy)));
    }
    overridden.push_back(std::move(copy));
    plans.functions.push_back(&overridden.back());
    event_map.push_back(event_map[static_cast<std::size_t>(function)]);
    it->second = static_cast<int>(plans.functions.size() - 1);
    return it->second;
  }

  // The engine of (function, slot), made on first use.
  int EngineFor(int function, int slot) {
    auto [it, inserted] = engine_of.emplace(std::make_pair(function, slot), static_cast<int>(engines.size()));
    if (inserted) {
      RatingOptions o;
      o.period_start = options.period_start_text;
      o.period_end = options.period_end_text;
      if (options.period_end) o.period_end_micros = options.period_end;
      if (slot > 0) {  // an anchored customer's own period
        const CustomerPeriod& p = periods[static_cast<std::size_t>(slot)];
        o.period_start = p.start_text;
        o.period_end = p.end_text;
        o.period_end_micros = p.end;
      }
      o.explain = options.explain;
      o.explain_customer = options.explain_customer;
      EngineSlot slot_state;
      slot_state.function = function;
      slot_state.engine = std::make_unique<tariff::Engine>(Fn(function), o);
      engines.push_back(std::move(slot_state));
    }
    return it->second;
  }

  // The segments of subscription `s`: the parts of the period it covers, each rated by the
  // version in force (split at a version's effective date when that version says `on change
  // split`).
  std::vector<Segment> SegmentsOf(const Subscription& s, std::optional<std::pair<std::int64_t, std::int64_t>> window = std::nullopt) {
    const std::string plan = s.plan.empty() ? plans.default_plan : s.plan;
    const std::int64_t period_start = window ? window->first : has_period() ? PeriodOf(s.customer).start : kAlways;
    const std::int64_t period_end = window ? window->second : has_period() ? PeriodOf(s.customer).end : kNever;
    auto vit = versions.find(plan);
    if (vit == versions.end() && all_plans.count(plan) == 0) throw BillingError(fmt::format("{}: no plan \"{}\" in the plan file", s.origin, plan));
    std::int64_t a = s.start.value_or(kAlways), b = s.end.value_or(kNever);
    if (has_period()) {
      a = std::max(a, period_start);
      b = std::min(b, period_end);
    } else if (s.start || s.end) {
      throw BillingError(fmt::format("{}: a subscription with a start or an end needs a billing period (--period)", s.origin));
    }
    if (a >= b) return {};
    if (vit == versions.end()) {
      // A plan of the file with no version in force in the period.
      return {Segment{a, b, -1, fmt::format("no version of plan \"{}\" is in force in the period", plan)}};
    }
    const Versions& v = vit->second;
    if (!has_period() && s.version.empty() && v.functions.size() == 1) {
      // No period: the plan's one version rates all the usage, whatever its effective date.
      return {Segment{a, b, v.functions.front(), ""}};
    }
    if (!s.version.empty()) {
      for (int f : v.functions) {
        if (Fn(f).version == s.version) return {Segment{a, b, f, ""}};
      }
      throw BillingError(fmt::format("{}: plan \"{}\" has no version {}", s.origin, plan, s.version));
    }
    if (v.functions.size() > 1 && !has_period()) {
      throw BillingError(fmt::format("plan \"{}\" has {} versions: give a billing period so that the version in force can be chosen",
                                     plan, v.functions.size()));
    }
    std::vector<std::int64_t> cuts = {a};
    for (std::size_t i = 0; i < v.functions.size(); ++i) {
      if (v.effective[i] > a && v.effective[i] < b && Fn(v.functions[i]).split_on_change) cuts.push_back(v.effective[i]);
    }
    cuts.push_back(b);
    std::vector<Segment> out;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      int in_force = -1;
      for (std::size_t k = 0; k < v.functions.size(); ++k) {
        // A version that takes effect `on change next period` rates from the first period that
        // starts at or after its effective date.
        const bool next_period = !Fn(v.functions[k]).split_on_change && has_period() && v.effective[k] > period_start;
        if (v.effective[k] <= cuts[i] && !next_period) in_force = v.functions[k];
      }
      Segment seg{cuts[i], cuts[i + 1], in_force, ""};
      if (in_force < 0) seg.why = fmt::format("no version of plan \"{}\" is in force yet", plan);
      if (!out.empty() && out.back().engine == seg.engine) {
        out.back().end = seg.end;
      } else {
        out.push_back(seg);
      }
    }
    return out;
  }

  // Segment `seg` of subscription `s` on `function`: its values, its share of the period and
  // how its lines are labelled.
  SubscriptionPart PartOf(const Subscription& s, const Segment& seg, int function) const {
    SubscriptionPart part;
    for (const SubscriptionValue& v : s.values) part.values.push_back({v.field, v.kind, v.number, v.text, v.flag});
    if (!has_period()) {
      part.active = ActivePeriod{Decimal(1), Decimal(1), Decimal(1), Decimal(1), Decimal(1), Decimal(1), std::nullopt};
      return part;
    }
    try {
      part.active = ActivePeriodOf(Fn(function), seg.start, seg.end, PeriodOf(s.customer).start, PeriodOf(s.customer).end);
      calendar::Calendar cal = CalendarOf(Fn(function));
      part.from = cal.FormatLocal(seg.start);
      part.to = cal.FormatLocal(seg.end);
    } catch (const calendar::CalendarError& err) {
      throw BillingError(fmt::format("{}: {}", s.origin, err.what()));
    }
    return part;
  }

  // Registers the segments of `s` with their engines: the customer, its subscription values and,
  // for a segment that covers part of the period, the part it is active (for proration).
  void Subscribe(const Subscription& s) {
    std::vector<Segment> segments = SegmentsOf(s);
    const std::uint32_t id = customer_ids.Intern(s.customer);
    if (segments_of.size() <= id) {
      segments_of.resize(id + 1);
      subscribed.resize(id + 1);
    }
    subscribed[id] = 1;
    std::vector<Segment>& mine = segments_of[id];
    for (Segment seg : segments) {
      for (const Segment& other : mine) {
        if (seg.start < other.end && other.start < seg.end) {
          throw BillingError(fmt::format("{}: customer `{}` has two subscriptions in force at once", s.origin, s.customer));
        }
      }
      if (seg.engine >= 0) {
        const int function = FunctionFor(s.customer, seg.engine);
        const int e = EngineFor(function, SlotOf(s.customer));
        seg.engine = e;
        EngineSlot& es = engines[static_cast<std::size_t>(e)];
        tariff::Engine& engine = *es.engine;
        if (options.subscriptions_input) {
          for (const ir::Field& f : Fn(function).subscription) {
            const bool given = std::any_of(s.values.begin(), s.values.end(), [&](const SubscriptionValue& v) { return v.field == f.name; });
            if (!given) {
              throw BillingError(fmt::format("{}: customer `{}` has no `{}`, which plan \"{}\" reads (a subscription gives every field of "
                                             "the version that rates it)", s.origin, s.customer, f.name, Label(Fn(function))));
            }
          }
        }
        SubscriptionPart part = PartOf(s, seg, function);
        auto known = es.segments.find(s.customer);
        if (known == es.segments.end()) {
          // The customer's first part on this plan version: its values for the whole period,
          // and its share of the period when it covers only part of it.
          es.segments[s.customer] = seg;
          es.parts[s.customer] = {part};
          engine.AddCustomer(s.customer);
          for (const SubscriptionPart::Value& v : part.values) {
            switch (v.kind) {
              case ir::ValueKind::kText: engine.SetSubscription(s.customer, v.field, v.text); break;
              case ir::ValueKind::kBool: engine.SetSubscription(s.customer, v.field, v.flag); break;
              default: engine.SetSubscription(s.customer, v.field, v.number); break;
            }
          }
          if (has_period() && (seg.start != PeriodOf(s.customer).start || seg.end != PeriodOf(s.customer).end)) {
            engine.SetActive(s.customer, part.active);
          }
        } else {
          // Another part on the same plan version (a change of seats, a pause): one engine
          // rates the customer's usage for the whole of it (allowances, tiers and minimums
          // once), and each recurring charge gets a line per part with the part's values.
          std::vector<SubscriptionPart>& mine_parts = es.parts[s.customer];
          if (mine_parts.size() == 1) engine.AddPart(s.customer, mine_parts.front());
          engine.AddPart(s.customer, part);
          mine_parts.push_back(part);
          ActivePeriod together = mine_parts.front().active;
          together.active_seconds = Decimal();
          together.active_days = Decimal();
          together.active_days360 = Decimal();
          for (const SubscriptionPart& x : mine_parts) {
            together.active_seconds = together.active_seconds + x.active.active_seconds;
            together.active_days = together.active_days + x.active.active_days;
            together.active_days360 = together.active_days360 + x.active.active_days360;
          }
          Segment& whole = known->second;
          whole.start = std::min(whole.start, seg.start);
          whole.end = std::max(whole.end, seg.end);
          together.end_micros = whole.end;
          engine.SetActive(s.customer, together);
        }
      }
      mine.push_back(seg);
    }
    std::sort(mine.begin(), mine.end(), [](const Segment& x, const Segment& y) { return x.start < y.start; });
    if (routes.size() <= id) routes.resize(id + 1);
    Routes& fast = routes[id];
    fast.count = static_cast<std::uint32_t>(mine.size());
    for (std::size_t k = 0; k < mine.size() && k < 2; ++k) {
      fast.start[k] = mine[k].start;
      fast.end[k] = mine[k].end;
      fast.engine[k] = mine[k].engine;
    }
  }

  bool InPeriod(std::int64_t t) const { return !has_period() || (window_start <= t && t < window_end); }

  // The engine row `r` goes to, or -1 after recording why it is rejected.
  int Target(const Batch& batch, std::size_t r, const EventSchema& schema, const std::string& customer, std::int64_t t) {
    if (!InPeriod(t)) {
      rejects.push_back({batch.origins[r], fmt::format("field `time`: `{}` is outside the period [{}, {})", FormatTimestamp(t),
                                                       FormatTimestamp(*options.period_start), FormatTimestamp(*options.period_end))});
      return -1;
    }
    if (!period_of.empty() && has_period()) {
      // Read for every anchored customer's period: each row must be in its own customer's.
      const CustomerPeriod& p = PeriodOf(customer);
      if (t < p.start || t >= p.end) {
        rejects.push_back({batch.origins[r], fmt::format("field `time`: `{}` is outside customer `{}`'s period [{}, {})", FormatTimestamp(t),
                                                         customer, FormatTimestamp(p.start), FormatTimestamp(p.end))});
        return -1;
      }
    }
    if (simple) return 0;
    const std::uint32_t id = row_ids[r];
    if (!subscribed[id]) {
      if (options.subscriptions_input) {
        rejects.push_back({batch.origins[r], fmt::format("customer `{}` has no subscription", customer)});
        return -1;
      }
      Subscription implicit;
      implicit.customer = customer;
      implicit.origin = fmt::format("customer `{}`", customer);
      Subscribe(implicit);
    }
    // The segment in force at t: from the flat copy when it holds them all.
    int engine = -2;  // -2: none in force
    const Routes& fast = routes[id];
    if (fast.count <= 2) {
      for (std::uint32_t k = 0; k < fast.count; ++k) {
        if (fast.start[k] <= t && t < fast.end[k]) engine = fast.engine[k];
      }
    } else {
      for (const Segment& seg : segments_of[id]) {
        if (seg.start <= t && t < seg.end) engine = seg.engine;
      }
    }
    if (engine == -2) {
      rejects.push_back({batch.origins[r], fmt::format("customer `{}` has no subscription in force at {}", customer, FormatTimestamp(t))});
      return -1;
    }
    if (engine < 0) {
      for (const Segment& seg : segments_of[id]) {
        if (seg.start <= t && t < seg.end) rejects.push_back({batch.origins[r], seg.why});
      }
      return -1;
    }
    const EngineSlot& es = engines[static_cast<std::size_t>(engine)];
    if (event_map[static_cast<std::size_t>(es.function)][static_cast<std::size_t>(batch.event)] < 0) {
      rejects.push_back({batch.origins[r], fmt::format("plan \"{}\", in force for customer `{}` at {}, reads no `{}` events",
                                                       Label(Fn(es.function)), customer, FormatTimestamp(t), schema.name)});
      return -1;
    }
    return engine;
  }

  void Consume(const Batch& batch) {
    const std::size_t n = batch.size();
    const EventSchema& schema = schemas[static_cast<std::size_t>(batch.event)];
    const Column& customer_col = batch.columns[static_cast<std::size_t>(schema.customer_field)];
    const Column& time_col = batch.columns[static_cast<std::size_t>(schema.time_field)];
    if (simple) {
      // The readers reject rows outside the period; a batch built by hand may hold some.
      bool all_in = true;
      for (std::size_t r = 0; r < n && all_in; ++r) all_in = InPeriod(time_col.times[r]);
      if (all_in) {
        engines[0].engine->Consume(batch);
        return;
      }
    }
    // Each row's engine, then each engine's rows gathered column by column.
    targets.resize(n);
    if (!simple) {
      row_ids.resize(n);
      customer_ids.Encode(customer_col.texts.data(), n, row_ids.data());
      segments_of.resize(customer_ids.size());
      subscribed.resize(customer_ids.size());
      routes.resize(customer_ids.size());
    }
    constexpr std::size_t kAhead = 8;  // prefetch a customer's routes a few rows ahead
    for (std::size_t r = 0; r < n; ++r) {
      if (!simple && r + kAhead < n) __builtin_prefetch(&routes[row_ids[r + kAhead]]);
      targets[r] = Target(batch, r, schema, customer_col.texts[r], time_col.times[r]);
    }
    rows_of.resize(engines.size());
    for (auto& rows : rows_of) rows.clear();
    for (std::size_t r = 0; r < n; ++r) {
      if (targets[r] >= 0) rows_of[static_cast<std::size_t>(targets[r])].push_back(static_cast<std::uint32_t>(r));
    }
    for (std::size_t e = 0; e < engines.size(); ++e) {
      const std::vector<std::uint32_t>& rows = rows_of[e];
      if (rows.empty()) continue;
      EngineSlot& es = engines[e];
      const int event = event_map[static_cast<std::size_t>(es.function)][static_cast<std::size_t>(batch.event)];
      Batch& p = es.pending;
      p.Reset(&schema, event);
      for (std::size_t c = 0; c < batch.columns.size(); ++c) {
        const Column& from = batch.columns[c];
        Column& to = p.columns[c];
        switch (from.type) {
          case ColumnType::kDecimal:
            to.decimals.reserve(rows.size());
            for (std::uint32_t r : rows) to.decimals.push_back(from.decimals[r]);
            break;
          case ColumnType::kText:
            to.texts.reserve(rows.size());
            for (std::uint32_t r : rows) to.texts.push_back(from.texts[r]);
            break;
          case ColumnType::kBool:
            to.bools.reserve(rows.size());
            for (std::uint32_t r : rows) to.bools.push_back(from.bools[r]);
            break;
          case ColumnType::kTimestamp:
            to.times.reserve(rows.size());
            for (std::uint32_t r : rows) to.times.push_back(from.times[r]);
            break;
        }
      }
      p.origins.clear();
      p.origins.reserve(rows.size());
      for (std::uint32_t r : rows) p.origins.push_back(batch.origins[r]);
      if (!batch.weights.empty()) {
        p.weights.reserve(rows.size());
        for (std::uint32_t r : rows) p.weights.push_back(batch.weights[r]);
      }
      es.engine->Consume(p);
    }
  }

  // ---- fees billed in advance (docs/billing.md, "Fees billed in advance") ----------------------

  // A stretch of a customer's subscriptions within [qs, qe): its plan version (overrides applied)
  // and its subscription.
  struct AdvancePart {
    std::int64_t start, end;
    int function;
    const Subscription* subscription;
  };

  std::map<std::string, Subscription> implicit_subscriptions;  // customers without a subscriptions input

  std::vector<AdvancePart> AdvanceTimeline(const std::string& customer, std::int64_t qs, std::int64_t qe) {
    std::vector<const Subscription*> mine;
    if (options.subscriptions_input) {
      // Sorted by customer (Prepare): one binary search, not a scan per customer.
      auto it = std::lower_bound(subscriptions.begin(), subscriptions.end(), customer,
                                 [](const Subscription& s, const std::string& c) { return s.customer < c; });
      for (; it != subscriptions.end() && it->customer == customer; ++it) mine.push_back(&*it);
    } else {
      auto [it, fresh] = implicit_subscriptions.try_emplace(customer);
      if (fresh) {
        it->second.customer = customer;
        it->second.origin = fmt::format("customer `{}`", customer);
      }
      mine.push_back(&it->second);
    }
    std::vector<AdvancePart> out;
    for (const Subscription* s : mine) {
      for (const Segment& seg : SegmentsOf(*s, std::make_pair(qs, qe))) {
        if (seg.engine < 0) continue;
        out.push_back({seg.start, seg.end, FunctionFor(customer, seg.engine), s});
      }
    }
    std::sort(out.begin(), out.end(), [](const AdvancePart& x, const AdvancePart& y) { return x.start < y.start; });
    return out;
  }

  // The in-advance charges' lines of `function` for `s` in the period [qs, qe), the customer
  // active in [a, b) of it (the whole period: not prorated), rated by an engine of their own.
  std::vector<InvoiceLine> AdvanceFees(const std::string& customer, int function, const Subscription& s, std::int64_t qs, std::int64_t qe,
                                       std::int64_t a, std::int64_t b) {
    const ir::RatingFunction& fn = Fn(function);
    calendar::Calendar cal = CalendarOf(fn);
    RatingOptions o;
    o.period_start = cal.FormatLocal(qs);
    o.period_end = cal.FormatLocal(qe);
    o.period_end_micros = qe;
    o.explain = options.explain;
    o.explain_customer = options.explain_customer;
    tariff::Engine engine(fn, o);
    engine.AddCustomer(customer);
    for (const SubscriptionValue& v : s.values) {
      switch (v.kind) {
        case ir::ValueKind::kText: engine.SetSubscription(customer, v.field, v.text); break;
        case ir::ValueKind::kBool: engine.SetSubscription(customer, v.field, v.flag); break;
        default: engine.SetSubscription(customer, v.field, v.number); break;
      }
    }
    if (a != qs || b != qe) engine.SetActive(customer, ActivePeriodOf(fn, a, b, qs, qe));
    std::vector<InvoiceLine> out;
    for (Invoice& inv : engine.Finish()) {
      for (InvoiceLine& line : inv.lines) {
        if (line.kind == LineKind::kCharge && IsInAdvance(fn, line.name)) out.push_back(std::move(line));
      }
    }
    return out;
  }

  static void Prepend(InvoiceLine& line, DerivationStep step) {
    if (!line.derivation) return;
    line.derivation->steps.insert(line.derivation->steps.begin(), std::move(step));
  }

  // The lines of the fees billed in advance on the invoice of `period`: each in-advance charge's
  // fee for the period, for the subscription in force at its start (or, for one that starts
  // within it, from its start), and the proration lines of the changes within the period before.
  std::vector<InvoiceLine> AdvanceLines(const std::string& customer, const CustomerPeriod& period) {
    std::vector<InvoiceLine> out;
    const std::vector<AdvancePart> now = AdvanceTimeline(customer, period.start, period.end);
    std::string prorated_where = "on the next invoice";
    for (const Change& change : ChangesWithin(customer, period.start, period.end)) {
      if (BehaviourOf(change) == ChangeProration::kNow) prorated_where = "on an invoice issued at the change";
    }
    if (!now.empty()) {
      const AdvancePart& first = now.front();
      const ir::RatingFunction& fn = Fn(first.function);
      calendar::Calendar cal = CalendarOf(fn);
      for (InvoiceLine& line : AdvanceFees(customer, first.function, *first.subscription, period.start, period.end, first.start, period.end)) {
        const bool partial = first.start != period.start;
        if (partial || now.size() > 1 || !fn.version.empty()) {
          line.rated_by = Label(fn);
          line.from = cal.FormatLocal(first.start);
          line.to = cal.FormatLocal(period.end);
        }
        DerivationStep step;
        step.kind = "advance";
        step.text = partial ? fmt::format("billed in advance: the fee of plan \"{}\" from the subscription's start ({}, {}) to the period's end",
                                          Label(fn), cal.FormatLocal(first.start), first.subscription->origin)
                            : fmt::format("billed in advance: the period's fee, for the subscription in force at its start (plan \"{}\", {}); "
                                          "a change within the period is prorated {}",
                                          Label(fn), first.subscription->origin, prorated_where);
        Prepend(line, std::move(step));
        out.push_back(std::move(line));
      }
    }
    // The period before: its changes prorated `next_invoice`, here (Stripe's `create_prorations`).
    std::int64_t ps = 0;
    try {
      ps = BillingPeriodAt(plans, period.start - 1, AnchorOf(customer)).start;
    } catch (const BillingError&) {
      return out;
    }
    for (const Change& change : ChangesWithin(customer, ps, period.start)) {
      if (BehaviourOf(change) != ChangeProration::kNextInvoice) continue;
      std::vector<InvoiceLine> lines = ProrationLines(customer, change, ps, period.start, false);
      std::move(lines.begin(), lines.end(), std::back_inserter(out));
    }
    return out;
  }

  using ChangeProration = ir::RatingFunction::ChangeProration;

  // A change within a period: a subscription part ending at an instant strictly inside it and
  // the customer's next one starting there (a gap, a pause or an end, is no change).
  struct Change {
    AdvancePart old_part, new_part;
  };

  std::vector<Change> ChangesWithin(const std::string& customer, std::int64_t ps, std::int64_t pe) {
    std::vector<Change> out;
    const std::vector<AdvancePart> parts = AdvanceTimeline(customer, ps, pe);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const AdvancePart &old_part = parts[i], &new_part = parts[i + 1];
      if (old_part.end != new_part.start || new_part.start <= ps) continue;
      if (old_part.function == new_part.function && old_part.subscription == new_part.subscription) continue;
      out.push_back({old_part, new_part});
    }
    return out;
  }

  // The subscription changed to decides (its `proration_behavior`), else the plan changed to.
  ChangeProration BehaviourOf(const Change& change) {
    if (change.new_part.subscription->proration_behavior) return *change.new_part.subscription->proration_behavior;
    return Fn(change.new_part.function).change_proration;
  }

  // Where the behaviour of `change` comes from, for explain.
  std::string BehaviourSource(const Change& change) {
    if (change.new_part.subscription->proration_behavior) {
      return fmt::format("`proration_behavior` of {}", change.new_part.subscription->origin);
    }
    return fmt::format("`on change prorate` of plan \"{}\"", Label(Fn(change.new_part.function)));
  }

  // The two proration lines of `change` within the period [ps, pe): a credit for the unused time
  // on the old price and a debit for the remaining time on the new one, both for [t, pe). `now`:
  // for the invoice issued at the change (else for the next period's invoice).
  std::vector<InvoiceLine> ProrationLines(const std::string& customer, const Change& change, std::int64_t ps, std::int64_t pe, bool now) {
    std::vector<InvoiceLine> out;
    const AdvancePart &old_part = change.old_part, &new_part = change.new_part;
    const std::int64_t t = new_part.start;
    {
      const ir::RatingFunction &old_fn = Fn(old_part.function), &new_fn = Fn(new_part.function);
      const calendar::Calendar cal = CalendarOf(new_fn);
      const std::string span = fmt::format("{} to {}", DateText(cal, t), DateText(cal, pe));
      // Which behaviour put the lines here, when it is not the plan's default (next_invoice).
      const std::string why = now ? fmt::format(" (prorated now, by the {})", BehaviourSource(change))
                              : change.new_part.subscription->proration_behavior ? fmt::format(" (prorated on the next invoice, by the {})", BehaviourSource(change))
                                                                                  : std::string();
      auto prorated = [&](const ir::RatingFunction& fn, const std::string& charge) {
        for (const ir::Charge& c : fn.charges) {
          if (c.name == charge) return c.proration != ir::ProrationBasis::kNone;
        }
        return false;
      };
      for (InvoiceLine& line : AdvanceFees(customer, old_part.function, *old_part.subscription, ps, pe, t, pe)) {
        if (!prorated(old_fn, line.name)) continue;
        const std::string charge = line.name;
        line.name = fmt::format("Unused time on {} ({})", charge, span);
        line.prorates = charge;
        line.amount = -line.amount;
        line.rated_by = Label(old_fn);
        line.from = cal.FormatLocal(t);
        line.to = cal.FormatLocal(pe);
        if (line.derivation) {
          DerivationStep step;
          step.kind = "advance";
          step.text = fmt::format("\"{}\" was billed in advance for {} to {} on plan \"{}\" ({}); the subscription changed at {} ({}), "
                                  "so the time from then to the period's end is credited: the fee for that time, negated{}",
                                  charge, cal.FormatLocal(ps), cal.FormatLocal(pe), Label(old_fn), old_part.subscription->origin,
                                  cal.FormatLocal(t), new_part.subscription->origin, why);
          Prepend(line, std::move(step));
          DerivationStep negate;
          negate.kind = "credit";
          negate.text = fmt::format("credited for the unused time: {} {}", line.amount.ToString(), new_fn.currency);
          negate.value = line.amount;
          negate.unit = new_fn.currency;
          line.derivation->steps.push_back(std::move(negate));
          for (DerivationTerm& term : line.derivation->terms) {
            term.label = "unused time: " + term.label;
            term.amount = -term.amount;
          }
        }
        out.push_back(std::move(line));
      }
      for (InvoiceLine& line : AdvanceFees(customer, new_part.function, *new_part.subscription, ps, pe, t, pe)) {
        if (!prorated(new_fn, line.name)) continue;
        const std::string charge = line.name;
        line.name = fmt::format("Remaining time on {} ({})", charge, span);
        line.prorates = charge;
        line.rated_by = Label(new_fn);
        line.from = cal.FormatLocal(t);
        line.to = cal.FormatLocal(pe);
        if (line.derivation) {
          DerivationStep step;
          step.kind = "advance";
          step.text = fmt::format("the subscription changed at {} to plan \"{}\" ({}); the fee of \"{}\" for the rest of the period "
                                  "{} to {} is billed on this, {}{}",
                                  cal.FormatLocal(t), Label(new_fn), new_part.subscription->origin, charge, cal.FormatLocal(ps),
                                  cal.FormatLocal(pe), now ? "the invoice issued at the change" : "the next invoice", why);
          Prepend(line, std::move(step));
          for (DerivationTerm& term : line.derivation->terms) term.label = "remaining time: " + term.label;
        }
        out.push_back(std::move(line));
      }
    }
    return out;
  }

  // The invoices issued at the changes within `period` prorated `now` (Stripe's
  // `always_invoice`): one per change, holding only its two proration lines, for [t, period's
  // end), in the order of the changes. `regular` is the customer's invoice for the period.
  std::vector<Invoice> NowInvoices(const std::string& customer, const CustomerPeriod& period, const Invoice& regular) {
    std::vector<Invoice> out;
    for (const Change& change : ChangesWithin(customer, period.start, period.end)) {
      if (BehaviourOf(change) != ChangeProration::kNow) continue;
      std::vector<InvoiceLine> lines = ProrationLines(customer, change, period.start, period.end, true);
      if (lines.empty()) continue;  // nothing billed in advance is prorated: no invoice
      const ir::RatingFunction& fn = Fn(change.new_part.function);
      Invoice inv;
      inv.customer = customer;
      inv.plan = fn.plan;
      inv.period_start = regular.period_start;
      inv.period_end = regular.period_end;
      inv.issued_at = CalendarOf(fn).FormatLocal(change.new_part.start);
      inv.currency = fn.currency;
      for (const InvoiceLine& l : lines) inv.total = inv.total + l.amount;
      const int scale = std::max(fn.rounding.scale, inv.total.Normalized().scale());
      inv.total = inv.total.Rescale(std::max(scale, 0), RoundingMode::kHalfEven);
      inv.lines = std::move(lines);
      out.push_back(std::move(inv));
    }
    return out;
  }

  std::string AnchorOf(const std::string& customer) const {
    for (const ContractTerm& t : options.contracts) {
      if (t.kind == ContractTerm::Kind::kAnchor && t.customer == customer) return t.anchor;
    }
    return "";
  }

  std::vector<Invoice> Finish() {
    struct Part {
      std::int64_t start;
      int engine;
      Invoice invoice;
    };
    std::map<std::string, std::vector<Part>> parts;
    // Fees billed in advance (docs/billing.md) replace, in the engine of the customer's first part
    // of the period, the lines its in-advance charges were rated with as in arrears (in its other
    // parts' engines they are only removed), before the plan's adjustments: a discount, a
    // minimum or a cap applies to what the invoice bills.
    const bool any_advance =
        has_period() && std::any_of(plans.functions.begin(), plans.functions.end(), [](const ir::RatingFunction* f) { return HasInAdvance(*f); });
    std::map<std::string, std::pair<std::int64_t, std::size_t>> first_part;  // customer → (start, engine)
    std::set<std::string> claimed;  // customers without parts: one engine rates them
    if (any_advance) {
      for (std::size_t e = 0; e < engines.size(); ++e) {
        for (const auto& [customer, seg] : engines[e].segments) {
          auto [it, inserted] = first_part.emplace(customer, std::make_pair(seg.start, e));
          if (!inserted && std::make_pair(seg.start, e) < it->second) it->second = {seg.start, e};
        }
      }
      for (std::size_t e = 0; e < engines.size(); ++e) {
        engines[e].engine->SetInAdvanceLines([this, e, &first_part, &claimed](const std::string& customer) -> std::optional<std::vector<InvoiceLine>> {
          auto it = first_part.find(customer);
          const bool first = it != first_part.end() ? it->second.second == e : claimed.insert(customer).second;
          if (!first) return std::vector<InvoiceLine>{};
          std::vector<InvoiceLine> lines = AdvanceLines(customer, PeriodOf(customer));
          for (InvoiceLine& l : lines) l.in_advance = true;
          return lines;
        });
      }
    }
    for (std::size_t e = 0; e < engines.size(); ++e) {
      EngineSlot& es = engines[e];
      for (Invoice& inv : es.engine->Finish()) {
        auto seg = es.segments.find(inv.customer);
        std::int64_t start = seg == es.segments.end() ? kAlways : seg->second.start;
        std::string customer = inv.customer;
        parts[customer].push_back(Part{start, static_cast<int>(e), std::move(inv)});
      }
    }
    std::vector<Invoice> out;
    out.reserve(parts.size());
    for (auto& [customer, list] : parts) {
      std::sort(list.begin(), list.end(), [](const Part& x, const Part& y) {
        return x.start != y.start ? x.start < y.start : x.engine < y.engine;
      });
      Invoice merged;
      merged.customer = customer;
      merged.currency = list.front().invoice.currency;
      const CustomerPeriod* own = has_period() ? &PeriodOf(customer) : nullptr;
      merged.period_start = own ? own->start_text : options.period_start_text;
      merged.period_end = own ? own->end_text : options.period_end_text;
      const EngineSlot& last = engines[static_cast<std::size_t>(list.back().engine)];
      merged.plan = Fn(last.function).plan;
      // Fees billed in advance (docs/billing.md): only with a period, for customers whose plan
      // has them.
      // (Any plan of the run: a change from a fee in advance to a plan without one is still
      // credited on the next invoice.)
      const bool advance = own != nullptr && std::any_of(plans.functions.begin(), plans.functions.end(),
                                                         [](const ir::RatingFunction* f) { return HasInAdvance(*f); });
      for (Part& part : list) {
        const EngineSlot& es = engines[static_cast<std::size_t>(part.engine)];
        auto seg = es.segments.find(customer);
        const bool partial = seg != es.segments.end() && own != nullptr && (seg->second.start != own->start || seg->second.end != own->end);
        // A versioned plan always says which version rated the line.
        const bool several = list.size() > 1 || !Fn(es.function).version.empty();
        std::string from, to;
        if (partial || several) {
          calendar::Calendar cal = CalendarOf(Fn(es.function));
          if (seg != es.segments.end() && seg->second.start != kAlways) from = cal.FormatLocal(seg->second.start);
          if (seg != es.segments.end() && seg->second.end != kNever) to = cal.FormatLocal(seg->second.end);
        }
        for (InvoiceLine& line : part.invoice.lines) {
          const bool own_part = !line.from.empty();  // a recurring line of one part: labelled by the engine
          // A line billed in advance (the engine put it in) is labelled already, when it needs to be.
          if (!line.in_advance && (partial || several || own_part)) {
            line.rated_by = Label(Fn(es.function));
            if (!own_part) {
              line.from = from;
              line.to = to;
              if (line.from.empty() && own != nullptr) line.from = CalendarOf(Fn(es.function)).FormatLocal(own->start);
              if (line.to.empty() && own != nullptr) line.to = CalendarOf(Fn(es.function)).FormatLocal(own->end);
            }
          }
          merged.lines.push_back(std::move(line));
        }
      }
      const ir::RatingFunction& rule_fn = Fn(last.function);
      if (list.size() > 1 && rule_fn.rounding.point == ir::RoundingRule::Point::kInvoice) {
        // Rounded per invoice: once, on the whole invoice, not per part.
        std::erase_if(merged.lines, [](const InvoiceLine& l) { return l.kind == LineKind::kRounding; });
        Decimal exact;
        for (const InvoiceLine& l : merged.lines) exact = exact + l.amount;
        Decimal rounded = exact.Rescale(rule_fn.rounding.scale, rule_fn.rounding.mode);
        if (rounded != exact) {
          InvoiceLine r;
          r.kind = LineKind::kRounding;
          r.name = fmt::format("Rounding ({} to {} decimals)", RoundingModeName(rule_fn.rounding.mode), rule_fn.rounding.scale);
          r.amount = rounded - exact;
          if (options.explain) {
            auto d = std::make_shared<Derivation>();
            DerivationStep sum;
            sum.kind = "base";
            sum.text = fmt::format("the lines of every part of the period add up to {} {}, exactly", exact.ToString(), merged.currency);
            sum.value = exact;
            sum.unit = merged.currency;
            d->steps.push_back(sum);
            DerivationStep round;
            round.kind = "round";
            round.text = fmt::format("rounded once for the invoice, {} to {} decimals: {} {}", RoundingModeName(rule_fn.rounding.mode),
                                     rule_fn.rounding.scale, rounded.ToString(), merged.currency);
            round.value = rounded;
            round.before = exact;
            round.unit = merged.currency;
            round.mode = std::string(RoundingModeName(rule_fn.rounding.mode));
            round.scale = rule_fn.rounding.scale;
            round.source_begin = static_cast<std::int32_t>(rule_fn.rounding.source.begin);
            round.source_end = static_cast<std::int32_t>(rule_fn.rounding.source.end);
            d->steps.push_back(round);
            d->terms.push_back({"rounding difference", r.amount});
            r.derivation = d;
          }
          merged.lines.push_back(std::move(r));
        }
        merged.total = rounded;
      } else if (list.size() == 1) {
        merged.total = list.front().invoice.total;
      } else {
        // The sum, exact, at the currency's scale or finer (lines rounded per invoice keep
        // more decimals; their Rounding lines make the sum come out at the plan's scale).
        for (const InvoiceLine& l : merged.lines) merged.total = merged.total + l.amount;
        const int scale = std::max(Fn(last.function).rounding.scale, merged.total.Normalized().scale());
        merged.total = merged.total.Rescale(std::max(scale, 0), RoundingMode::kHalfEven);
      }
      if (!options.contracts.empty() && has_period()) {
        std::vector<const ContractTerm*> terms;
        for (const ContractTerm& t : options.contracts) {
          if (t.customer == customer) terms.push_back(&t);
        }
        const bool traced = options.explain && (options.explain_customer.empty() || options.explain_customer == customer);
        ApplyContracts(merged, terms, Fn(last.function), own->start, own->end, traced);
      }
      DrawCredits(merged, Fn(last.function));
      std::vector<const ir::RatingFunction*> rated_by;
      for (const Part& part : list) rated_by.push_back(&Fn(engines[static_cast<std::size_t>(part.engine)].function));
      try {
        AddSubtotals(merged, rated_by);
      } catch (const DecimalError& e) {
        throw RatingError(e.what(), Fn(last.function).subtotals.empty() ? Span{} : Fn(last.function).subtotals.front().source);
      }
      std::vector<Invoice> at_changes = advance ? NowInvoices(customer, *own, merged) : std::vector<Invoice>{};
      out.push_back(std::move(merged));
      std::move(at_changes.begin(), at_changes.end(), std::back_inserter(out));
    }
    TrueUpInvoices(out);
    if (options.check_contract_customers) CheckContractCustomers(out);
    return out;
  }

  // A customer whose commitment's term ends in the period, with invoices in the term's earlier
  // periods but no usage (no invoice) in this one, still owes the true-up: an invoice of its
  // own, with the true-up line (and credits drawn on it).
  void TrueUpInvoices(std::vector<Invoice>& out) {
    if (options.contracts.empty() || !has_period()) return;
    std::set<std::string> have;
    for (const Invoice& inv : out) have.insert(inv.customer);
    bool added = false;
    for (const ContractTerm& t : options.contracts) {
      if (t.kind != ContractTerm::Kind::kCommit || !t.invoiced_before || have.count(t.customer) != 0) continue;
      const CustomerPeriod& p = PeriodOf(t.customer);
      if (!CommitEndsIn(t, p.start, p.end)) continue;
      const EngineSlot* slot = nullptr;  // the rated plan's version in force at the period's start
      for (const EngineSlot& es : engines) {
        const ir::RatingFunction& f = Fn(es.function);
        if (f.plan != plans.default_plan) continue;
        if (slot == nullptr || f.effective.empty() || ParsePlanTime(plans, f.effective, nullptr).value_or(kAlways) <= p.start) slot = &es;
      }
      if (slot == nullptr) continue;
      const ir::RatingFunction& fn = Fn(slot->function);
      Invoice inv;
      inv.customer = t.customer;
      inv.plan = fn.plan;
      inv.currency = fn.currency;
      inv.period_start = p.start_text;
      inv.period_end = p.end_text;
      inv.total = Decimal(0).Rescale(fn.rounding.scale, RoundingMode::kHalfEven);
      std::vector<const ContractTerm*> terms;
      for (const ContractTerm& c : options.contracts) {
        if (c.customer == t.customer) terms.push_back(&c);
      }
      const bool traced = options.explain && (options.explain_customer.empty() || options.explain_customer == t.customer);
      ApplyContracts(inv, terms, fn, p.start, p.end, traced);
      DrawCredits(inv, fn);
      have.insert(t.customer);
      out.push_back(std::move(inv));
      added = true;
    }
    if (added) std::stable_sort(out.begin(), out.end(), [](const Invoice& a, const Invoice& b) { return a.customer < b.customer; });
  }

  // A contract term in force in the period for a customer with no invoice (no usage) and no
  // subscription: most likely a misspelled customer id, whose negotiated terms would otherwise
  // be dropped without a word.
  void CheckContractCustomers(const std::vector<Invoice>& invoices) const {
    std::set<std::string> known;
    for (const Invoice& inv : invoices) known.insert(inv.customer);
    for (const Subscription& s : subscriptions) known.insert(s.customer);
    // A customer with an invoice in a commitment's earlier periods is in the run's usage.
    for (const ContractTerm& t : options.contracts) {
      if (t.kind == ContractTerm::Kind::kCommit && t.invoiced_before) known.insert(t.customer);
    }
    for (const ContractTerm& t : options.contracts) {
      if (known.count(t.customer) != 0 || !has_period()) continue;
      // Only a term that would change this period's bill: one ended or not yet begun is history
      // or future, and a customer without usage this period is no mistake then.
      const CustomerPeriod& p = PeriodOf(t.customer);
      const bool in_force = t.kind == ContractTerm::Kind::kCommit ? CommitEndsIn(t, p.start, p.end)
                            : t.kind == ContractTerm::Kind::kAnchor ? false
                                                                    : ContractApplies(t, p.start);
      if (!in_force) continue;
      throw BillingError(fmt::format("error[C0102]: {}: column `customer`: customer `{}` has no usage in this run and no subscription",
                                     t.origin, t.customer));
    }
  }

  void DrawCredits(Invoice& inv, const ir::RatingFunction& fn) {
    std::vector<const CreditGrant*> grants;
    for (const CreditGrant& g : credits) {
      if (g.customer == inv.customer) grants.push_back(&g);
    }
    tariff::DrawCredits(inv, std::move(grants), fn, has_period() ? std::optional<std::int64_t>(PeriodOf(inv.customer).start) : std::nullopt,
                        options.explain);
  }
};

void DrawCredits(Invoice& inv, std::vector<const CreditGrant*> grants, const ir::RatingFunction& fn,
               std::optional<std::int64_t> period_start, bool explain) {
  if (grants.empty()) return;
  auto key_less = [&](const CreditGrant* x, const CreditGrant* y) {
    for (const std::string& key : fn.credit_order) {
      if (key == "expiry") {
        std::int64_t a = x->expires.value_or(kNever), b = y->expires.value_or(kNever);
        if (a != b) return a < b;
      } else if (key == "priority") {
        if (x->priority != y->priority) return x->priority < y->priority;
      } else if (key == "created") {
        std::int64_t a = x->created.value_or(kNever), b = y->created.value_or(kNever);
        if (a != b) return a < b;
      } else if (key == "amount") {
        if (x->amount != y->amount) return x->amount < y->amount;
      }
    }
    return x->id < y->id;
  };
  std::stable_sort(grants.begin(), grants.end(), key_less);
  Decimal owed = inv.total.sign() > 0 ? inv.total : Decimal();
  const int scale = fn.minor_units;
  for (const CreditGrant* g : grants) {
    CreditBalance b;
    b.id = g->id;
    b.before = g->amount;
    b.priority = g->priority;
    if (g->expires) b.expires = FormatTimestamp(*g->expires);
    const bool expired = g->expires && period_start && *g->expires <= *period_start;
    b.expired = expired;
    Decimal use = expired ? Decimal() : std::min(owed, g->amount);
    if (use.sign() < 0) use = Decimal();
    auto money = [scale](const Decimal& d) { return d.Rescale(std::max(d.scale(), scale), RoundingMode::kHalfEven); };
    b.before = money(g->amount);
    b.used = money(use);
    b.remaining = money(g->amount - use);
    if (use.sign() > 0) {
      InvoiceLine line;
      line.kind = LineKind::kCredit;
      line.name = fmt::format("Credit {}", g->id);
      line.amount = -use.Rescale(std::max(use.scale(), scale), RoundingMode::kHalfEven);
      if (explain) {
        auto d = std::make_shared<Derivation>();
        DerivationStep balance;
        balance.kind = "credit";
        balance.text = fmt::format("grant `{}` holds {} {}{}{}", g->id, g->amount.ToString(), inv.currency,
                                   g->expires ? ", expires " + FormatTimestamp(*g->expires) : std::string(),
                                   fmt::format(", priority {}", g->priority));
        balance.value = g->amount;
        balance.unit = inv.currency;
        balance.operands.push_back({"balance", g->amount.ToString(), inv.currency});
        if (g->expires) balance.operands.push_back({"expires", FormatTimestamp(*g->expires), ""});
        balance.operands.push_back({"priority", std::to_string(g->priority), ""});
        d->steps.push_back(balance);
        DerivationStep drawn;
        drawn.kind = "credit";
        drawn.text = fmt::format("the invoice still owed {} {}; the grant pays {} {} (drawn by {}), leaving {} {}", owed.ToString(),
                                 inv.currency, use.ToString(), inv.currency, fmt::join(fn.credit_order, ", "),
                                 b.remaining.ToString(), inv.currency);
        drawn.value = use;
        drawn.unit = inv.currency;
        drawn.operands.push_back({"owed", owed.ToString(), inv.currency});
        drawn.operands.push_back({"used", use.ToString(), inv.currency});
        drawn.operands.push_back({"remaining", b.remaining.ToString(), inv.currency});
        d->steps.push_back(drawn);
        d->terms.push_back({fmt::format("credit {}", g->id), line.amount});
        line.derivation = d;
      }
      inv.total = inv.total + line.amount;
      inv.lines.push_back(std::move(line));
      owed = owed - use;
    }
    inv.credits.push_back(std::move(b));
  }
}

namespace {
bool Prorates(const ir::RatingFunction& fn, ir::ProrationBasis basis) {
  for (const ir::Charge& c : fn.charges) {
    if (c.proration == basis) return true;
  }
  for (const ir::Adjustment& a : fn.adjustments) {
    if (a.proration == basis) return true;
  }
  return false;
}
}  // namespace

ActivePeriod ActivePeriodOf(const ir::RatingFunction& fn, std::int64_t start, std::int64_t end, std::int64_t period_start,
                            std::int64_t period_end) {
  ActivePeriod active;
  try {
    active.active_seconds = Seconds(end - start);
    active.length_seconds = Seconds(period_end - period_start);
    active.active_days = Decimal(LocalDays(fn, start, end));
    active.length_days = Decimal(LocalDays(fn, period_start, period_end));
    active.active_days360 = Decimal(LocalDays360(fn, start, end));
    active.length_days360 = Decimal(LocalDays360(fn, period_start, period_end));
  } catch (const calendar::CalendarError& e) {
    throw BillingError(e.what());
  }
  const bool by_360 = Prorates(fn, ir::ProrationBasis::kThirtyDayMonth);
  if (active.length_days.is_zero() && (by_360 || Prorates(fn, ir::ProrationBasis::kDay))) {
    throw BillingError(fmt::format("the period [{}, {}) lies within one local day, so plan \"{}\" cannot prorate by day; "
                                   "rate a period of whole days or prorate by second",
                                   FormatTimestamp(period_start), FormatTimestamp(period_end), Label(fn)));
  }
  if (active.length_days360.is_zero() && by_360) {
    throw BillingError(fmt::format("the period [{}, {}) counts no day in 30-day months (a 31st is day 30), so plan \"{}\" cannot "
                                   "prorate by thirty_day_month; prorate such periods by day or by second",
                                   FormatTimestamp(period_start), FormatTimestamp(period_end), Label(fn)));
  }
  active.end_micros = end;
  return active;
}

PeriodBounds BillingPeriodAt(const PlanSet& plans, std::int64_t instant, const std::string& anchor) {
  const ir::RatingFunction* in_force = nullptr;
  std::int64_t best = kAlways;
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan != plans.default_plan) continue;
    std::int64_t when = kAlways;
    if (!f->effective.empty()) {
      std::string why;
      auto t = ParsePlanTime(PlanSet{{f}, f->plan}, f->effective, &why);
      if (!t) throw BillingError(fmt::format("plan \"{}\" version {}: effective {}: {}", f->plan, f->version, f->effective, why));
      when = *t;
    }
    if (when <= instant && (in_force == nullptr || when >= best)) {
      in_force = f;
      best = when;
    }
  }
  if (in_force == nullptr) {
    // Before the first version: its period rule still says which period the date is in (the
    // rating then rejects the usage before the version takes effect, with the reason).
    std::int64_t first = kNever;
    for (const ir::RatingFunction* f : plans.functions) {
      if (f->plan != plans.default_plan) continue;
      std::string why;
      auto t = ParsePlanTime(PlanSet{{f}, f->plan}, f->effective, &why);
      if (t && *t < first) {
        first = *t;
        in_force = f;
      }
    }
  }
  if (in_force == nullptr) throw BillingError(fmt::format("no plan \"{}\"", plans.default_plan));
  ir::RatingFunction anchored;
  if (!anchor.empty()) {
    anchored.plan = in_force->plan;
    anchored.period = in_force->period;
    anchored.period.anchor = anchor;
    in_force = &anchored;
  }
  calendar::Calendar cal = CalendarOf(*in_force);
  try {
    calendar::Interval i = cal.PeriodContaining(instant);
    return PeriodBounds{i.start, i.end, cal.FormatLocal(i.start), cal.FormatLocal(i.end)};
  } catch (const calendar::CalendarError& e) {
    throw BillingError(e.what());
  }
}

std::pair<std::int64_t, std::int64_t> BillingWindow(const PlanSet& plans, const BillingOptions& options) {
  std::int64_t a = options.period_start.value_or(kAlways), b = options.period_end.value_or(kNever);
  for (const ContractTerm& t : options.contracts) {
    if (t.kind != ContractTerm::Kind::kAnchor || !options.period_at) continue;
    PeriodBounds p = BillingPeriodAt(plans, *options.period_at, t.anchor);
    a = std::min(a, p.start);
    b = std::max(b, p.end);
  }
  return {a, b};
}

Biller::Biller(const PlanSet& plans, std::vector<Subscription> subscriptions, std::vector<CreditGrant> credits,
               BillingOptions options)
    : state_(std::make_unique<State>()) {
  state_->plans = plans;
  state_->subscriptions = std::move(subscriptions);
  state_->options = std::move(options);
  state_->progressive = state_->options.progressive && HasThreshold(plans);
  (state_->progressive ? state_->deferred_credits : state_->credits) = std::move(credits);
  state_->Prepare();
}

Biller::~Biller() = default;

const std::vector<EventSchema>& Biller::schemas() const { return state_->schemas; }

void Biller::Consume(const Batch& batch) {
  if (state_->progressive) state_->kept_rows.push_back(batch);
  state_->Consume(batch);
}

std::vector<Invoice> Biller::Finish() {
  std::vector<Invoice> out = state_->Finish();
  if (!state_->progressive) return out;
  State& s = *state_;
  try {
    s.thresholds = BillProgressively(s.plans, s.subscriptions, s.options, s.kept_rows, out);
  } catch (const DecimalError& e) {  // a sum past 38 digits: rating stops there, as elsewhere
    Span at;
    for (const ir::RatingFunction* f : s.plans.functions) {
      if (f->threshold) at = f->threshold_source;
    }
    throw RatingError(e.what(), at);
  }
  s.kept_rows = {};
  // Credits pay what is left to pay: the closing invoice, after what was billed earlier.
  s.credits = std::move(s.deferred_credits);
  for (Invoice& inv : out) {
    const ir::RatingFunction* fn = nullptr;
    for (const ir::RatingFunction* f : s.plans.functions) {
      if (f->plan == inv.plan) fn = f;
    }
    if (fn != nullptr) s.DrawCredits(inv, *fn);
  }
  return out;
}

const std::vector<Invoice>& Biller::threshold_invoices() const { return state_->thresholds; }

std::uint64_t Biller::rows_rated() const {
  std::uint64_t n = 0;
  for (const EngineSlot& e : state_->engines) n += e.engine->rows_rated();
  return n;
}

const std::vector<RoutingReject>& Biller::rejects() const { return state_->rejects; }

}  // namespace tariff
