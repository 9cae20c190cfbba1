// runtime/billing: progressive (threshold) billing (see progressive.h, docs/billing.md).
//
// How the event a threshold is reached at is found. f(k), the customer's usage amount over its
// first k events (time order, ties in input order), is what the usage lines come to when the
// period is rated over those events alone: a Biller fed the rows cut at k (a row of weight w
// straddling the cut counts in part). A threshold invoice is issued at the first k with
// f(k) ≥ billed + threshold. When the plan's usage provably never falls as events are added
// (UsageNeverFalls, and the summed fields of the rows are not negative), f is non-decreasing and
// that k is found by bisection: O(log n) ratings per threshold invoice. Otherwise every k is
// tried in turn (O(n) ratings per invoice: quadratic, exact). Customers are searched together,
// one rating pass per step, each with its own cut.
#include "runtime/billing/progressive.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "runtime/calendar/calendar.h"
#include "runtime/invoice/amendment.h"

namespace tariff {
namespace {

using ir::Op;

// What a value of a program does as events are added: `up` never falls, `nonneg` is never below
// zero, `constant` does not depend on usage at all.
struct Trend {
  bool up = false, nonneg = false, constant = false;
};

bool NonNegative(const ir::Constant& c) {
  if (c.kind != ir::ValueKind::kDecimal) return false;
  return (c.fraction ? c.fraction->sign() : c.number.sign()) >= 0;
}

bool TableNonNegative(const ir::TierTable& t) {
  return std::all_of(t.tiers.begin(), t.tiers.end(), [](const ir::TierSpec& s) {
    return s.unit_price.sign() >= 0 && s.package_price.sign() >= 0 && s.percent.sign() >= 0 && s.flat.sign() >= 0;
  });
}

// An event program (a meter's value, a per-event amount): whether its value is never negative,
// given that the decimal fields it reads are not (those are added to `fields`).
bool EventValueNonNegative(const ir::Program& p, const ir::Event& event, std::vector<std::pair<std::string, std::string>>& fields) {
  if (p.empty()) return true;
  std::vector<std::uint8_t> nn(p.insts.size(), 0);
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    const ir::Inst& in = p.insts[i];
    auto at = [&](std::int32_t k) { return k >= 0 && static_cast<std::size_t>(k) < i && nn[static_cast<std::size_t>(k)] != 0; };
    bool v = false;
    switch (in.op) {
      case Op::kInput:
        if (in.type.kind == ir::ValueKind::kDecimal && in.imm >= 0 && static_cast<std::size_t>(in.imm) < event.fields.size()) {
          fields.emplace_back(event.name, event.fields[static_cast<std::size_t>(in.imm)].name);
          v = true;
        }
        break;
      case Op::kConst: v = NonNegative(p.constants[static_cast<std::size_t>(in.imm)]); break;
      case Op::kAdd: case Op::kMul: case Op::kDiv: case Op::kMin:
      case Op::kCeilStep: case Op::kFloorStep: case Op::kPackages: v = at(in.a) && at(in.b); break;
      case Op::kMax: v = at(in.a) || at(in.b); break;
      case Op::kRound: v = at(in.a); break;
      case Op::kClampZero: v = true; break;
      case Op::kTiers: v = at(in.a) && TableNonNegative(p.tier_tables[static_cast<std::size_t>(in.imm)]); break;
      case Op::kMatch: {
        v = in.args.size() > 1;
        for (std::size_t k = 1; k < in.args.size(); ++k) v = v && at(in.args[k]);
        break;
      }
      default: v = false; break;
    }
    nn[i] = v ? 1 : 0;
  }
  return nn[static_cast<std::size_t>(p.result)] != 0;
}

}  // namespace

bool UsageNeverFalls(const ir::RatingFunction& fn, std::vector<std::pair<std::string, std::string>>& fields) {
  for (const ir::Charge& c : fn.charges) {
    if (c.recurring) continue;
    if (c.per_event) {
      // Each event's amount is not negative: more events never cost less (with `free first`,
      // an event added among the free ones makes another one charged).
      if (!EventValueNonNegative(c.amount, fn.events[static_cast<std::size_t>(c.event)], fields)) return false;
      continue;
    }
    const ir::Program& p = c.line;
    if (p.empty()) continue;
    std::vector<Trend> t(p.insts.size());
    for (std::size_t i = 0; i < p.insts.size(); ++i) {
      const ir::Inst& in = p.insts[i];
      auto get = [&](std::int32_t k) { return k >= 0 && static_cast<std::size_t>(k) < i ? t[static_cast<std::size_t>(k)] : Trend{}; };
      const Trend a = get(in.a), b = get(in.b);
      Trend r;
      switch (in.op) {
        case Op::kInput: {
          const ir::Charge::LineInput& li = c.line_inputs[static_cast<std::size_t>(in.imm)];
          if (li.kind != ir::Charge::LineInput::Kind::kMeter) {
            // Group values, subscription values (never below zero), the active part: fixed.
            r = {true, li.kind != ir::Charge::LineInput::Kind::kGroupValue, true};
            break;
          }
          const ir::MeterInstance& m = fn.meters[static_cast<std::size_t>(li.meter_instance)];
          const ir::Event& ev = fn.events[static_cast<std::size_t>(m.event)];
          switch (m.aggregation) {
            case ir::Aggregation::kCount:
            case ir::Aggregation::kCountDistinct: r = {true, true, false}; break;
            case ir::Aggregation::kSum:
            case ir::Aggregation::kIntegral: {
              const bool nn = EventValueNonNegative(m.value, ev, fields);
              r = {nn, nn, false};
              break;
            }
            case ir::Aggregation::kMax: r = {true, EventValueNonNegative(m.value, ev, fields), false}; break;
            default: r = {}; break;  // min, latest, averages: may fall
          }
          break;
        }
        case Op::kConst: r = {true, NonNegative(p.constants[static_cast<std::size_t>(in.imm)]), true}; break;
        case Op::kAdd: r = {a.up && b.up, a.nonneg && b.nonneg, a.constant && b.constant}; break;
        case Op::kSub: r = {a.up && b.constant, a.constant && b.constant && false, a.constant && b.constant}; break;
        case Op::kMul: r = {(a.constant && b.constant) || (a.up && a.nonneg && b.up && b.nonneg), a.nonneg && b.nonneg, a.constant && b.constant}; break;
        case Op::kDiv: r = {(a.constant && b.constant) || (a.up && a.nonneg && b.constant && b.nonneg), a.nonneg && b.nonneg, a.constant && b.constant}; break;
        case Op::kNeg: r = {a.constant, false, a.constant}; break;
        case Op::kMin: r = {a.up && b.up, a.nonneg && b.nonneg, a.constant && b.constant}; break;
        case Op::kMax: r = {a.up && b.up, a.nonneg || b.nonneg, a.constant && b.constant}; break;
        case Op::kCeilStep: case Op::kFloorStep: case Op::kPackages:
          r = {(a.constant && b.constant) || (a.up && b.constant && b.nonneg), a.nonneg && b.nonneg, a.constant && b.constant};
          break;
        case Op::kTiers: {
          const ir::TierTable& table = p.tier_tables[static_cast<std::size_t>(in.imm)];
          const bool prices = TableNonNegative(table);
          r = {a.constant || (table.graduated && prices && a.up && a.nonneg), prices, a.constant};
          break;
        }
        case Op::kRound: r = {a.up, a.nonneg, a.constant}; break;
        case Op::kClampZero: r = {a.up, true, a.constant}; break;
        default: {
          // Comparisons, logic, `match`: fixed only when everything they read is.
          bool constant = (in.a < 0 || a.constant) && (in.b < 0 || b.constant);
          bool nonneg = in.op == Op::kMatch && in.args.size() > 1;
          for (std::size_t k = 0; k < in.args.size(); ++k) {
            constant = constant && get(in.args[k]).constant;
            if (k > 0) nonneg = nonneg && get(in.args[k]).nonneg;
          }
          r = {constant, nonneg && constant, constant};
          break;
        }
      }
      t[i] = r;
    }
    if (!t[static_cast<std::size_t>(p.result)].up) return false;
  }
  return true;
}

bool HasThreshold(const PlanSet& plans) {
  return std::any_of(plans.functions.begin(), plans.functions.end(), [](const ir::RatingFunction* f) { return f->threshold.has_value(); });
}

namespace {

// The plan version whose threshold a customer's invoice follows: of the invoice's plan, the
// version in force at the period's end (the latest effective date not after it; a version
// without a date is in force from the start).
const ir::RatingFunction* ThresholdFunction(const PlanSet& plans, const std::string& plan, std::optional<std::int64_t> period_end) {
  const ir::RatingFunction* best = nullptr;
  std::int64_t best_at = std::numeric_limits<std::int64_t>::min();
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan != plan) continue;
    std::int64_t at = std::numeric_limits<std::int64_t>::min();
    if (!f->effective.empty()) at = ParsePlanTime(plans, f->effective, nullptr).value_or(at);
    if (period_end && at >= *period_end && best != nullptr) continue;
    if (best == nullptr || at >= best_at) {
      best = f;
      best_at = at;
    }
  }
  return best;
}

struct Event {
  std::int64_t time;
  RowOrigin origin;
  std::uint32_t batch, row;
  std::uint64_t weight;
};

}  // namespace

std::vector<Invoice> BillProgressively(const PlanSet& plans, const std::vector<Subscription>& subscriptions,
                                       const BillingOptions& options, const std::vector<Batch>& rows,
                                       std::vector<Invoice>& closing) {
  // Usage lines: charge lines of a charge that reads usage (a meter or events).
  std::set<std::string> usage_charges;
  for (const ir::RatingFunction* f : plans.functions) {
    for (const ir::Charge& c : f->charges) {
      if (!c.recurring) usage_charges.insert(c.name);
    }
  }
  auto is_usage = [&](const InvoiceLine& l) { return l.kind == LineKind::kCharge && usage_charges.count(l.name) != 0; };
  auto usage_of = [&](const Invoice& inv) {
    Invoice u = inv;
    u.lines.clear();
    u.total = Decimal();
    u.credits.clear();
    u.subtotals.clear();
    for (const InvoiceLine& l : inv.lines) {
      if (!is_usage(l)) continue;
      u.lines.push_back(l);
      u.lines.back().derivation = nullptr;
      u.total = u.total + l.amount;
    }
    return u;
  };

  // The customers billed progressively, with their thresholds.
  struct Customer {
    std::string id;
    std::size_t closing = 0;  // index into `closing`
    Decimal threshold;
    const ir::RatingFunction* fn = nullptr;
    std::vector<Event> events;      // time order, ties in input order
    std::vector<std::uint64_t> at;  // events before each one (weights summed)
    std::uint64_t n = 0;            // all of its events
    // The search.
    std::uint64_t lo = 0, hi = 0, probe = 0;
    bool searching = false;
    Invoice at_hi;    // its usage lines rated over the first `hi` events
    // Bisection: the probes rated so far past `lo` (f never falls, so each bounds later
    // searches too: a round starts from what the one before learned).
    std::map<std::uint64_t, Invoice> known;
    Decimal target;   // billed + threshold
    std::vector<Invoice> issued;  // its threshold invoices so far
  };
  std::vector<Customer> customers;
  std::map<std::string, std::size_t> slot;
  for (std::size_t i = 0; i < closing.size(); ++i) {
    const ir::RatingFunction* f = ThresholdFunction(plans, closing[i].plan, options.period_end);
    if (f == nullptr || !f->threshold) continue;
    slot[closing[i].customer] = customers.size();
    Customer c;
    c.id = closing[i].customer;
    c.closing = i;
    c.threshold = *f->threshold;
    c.fn = f;
    customers.push_back(std::move(c));
  }
  if (customers.empty()) return {};

  // Each customer's events, and each row's customer.
  std::vector<std::vector<std::int32_t>> row_customer(rows.size());
  for (std::size_t b = 0; b < rows.size(); ++b) {
    const Batch& batch = rows[b];
    const Column& cc = batch.columns[static_cast<std::size_t>(batch.schema->customer_field)];
    const Column& tc = batch.columns[static_cast<std::size_t>(batch.schema->time_field)];
    row_customer[b].assign(batch.size(), -1);
    for (std::size_t r = 0; r < batch.size(); ++r) {
      auto it = slot.find(cc.texts[r]);
      if (it == slot.end()) continue;
      row_customer[b][r] = static_cast<std::int32_t>(it->second);
      customers[it->second].events.push_back(
          Event{tc.times[r], batch.origins[r], static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(r), batch.weights.empty() ? 1 : batch.weights[r]});
    }
  }
  std::vector<std::vector<std::uint64_t>> row_start(rows.size());
  for (std::size_t b = 0; b < rows.size(); ++b) row_start[b].assign(rows[b].size(), 0);
  for (Customer& c : customers) {
    std::stable_sort(c.events.begin(), c.events.end(), [](const Event& x, const Event& y) {
      if (x.time != y.time) return x.time < y.time;
      if (x.origin.file != y.origin.file) return x.origin.file < y.origin.file;
      if (x.origin.line != y.origin.line) return x.origin.line < y.origin.line;
      return x.batch != y.batch ? x.batch < y.batch : x.row < y.row;
    });
    c.at.reserve(c.events.size());
    for (const Event& e : c.events) {
      c.at.push_back(c.n);
      row_start[e.batch][e.row] = c.n;
      c.n += e.weight;
    }
  }

  // Bisection when the usage provably never falls; else one event at a time.
  std::vector<std::pair<std::string, std::string>> fields;
  bool bisect = true;
  for (const ir::RatingFunction* f : plans.functions) bisect = bisect && UsageNeverFalls(*f, fields);
  for (const Batch& batch : rows) {
    if (!bisect) break;
    for (const auto& [event, field] : fields) {
      if (batch.schema->name != event) continue;
      const int k = batch.schema->FieldIndex(field);
      if (k < 0 || batch.columns[static_cast<std::size_t>(k)].type != ColumnType::kDecimal) continue;
      for (const Decimal& d : batch.columns[static_cast<std::size_t>(k)].decimals) {
        if (d.sign() < 0) bisect = false;
      }
    }
  }

  // One rating of every searching customer's first `probe` events.
  BillingOptions sub = options;
  sub.explain = false;
  sub.check_contract_customers = false;
  sub.progressive = false;
  // `explained`: the one customer's lines rated with their derivations (for `tariff explain`).
  auto rate = [&](auto cut_of, const std::string& explained = std::string()) {
    BillingOptions o = sub;
    o.explain = !explained.empty();
    o.explain_customer = explained;
    Biller biller(plans, subscriptions, {}, o);
    Batch part;
    for (std::size_t b = 0; b < rows.size(); ++b) {
      const Batch& batch = rows[b];
      std::vector<std::uint32_t> keep;
      std::vector<std::uint64_t> weights;
      for (std::size_t r = 0; r < batch.size(); ++r) {
        const std::int32_t c = row_customer[b][r];
        if (c < 0) continue;
        const std::uint64_t cut = cut_of(customers[static_cast<std::size_t>(c)]);
        const std::uint64_t start = row_start[b][r];
        if (cut <= start) continue;
        const std::uint64_t w = batch.weights.empty() ? 1 : batch.weights[r];
        keep.push_back(static_cast<std::uint32_t>(r));
        weights.push_back(std::min(w, cut - start));
      }
      if (keep.empty()) continue;
      part.Reset(batch.schema, batch.event);
      for (std::size_t k = 0; k < batch.columns.size(); ++k) {
        const Column& from = batch.columns[k];
        Column& to = part.columns[k];
        for (std::uint32_t r : keep) {
          switch (from.type) {
            case ColumnType::kDecimal: to.decimals.push_back(from.decimals[r]); break;
            case ColumnType::kText: to.texts.push_back(from.texts[r]); break;
            case ColumnType::kBool: to.bools.push_back(from.bools[r]); break;
            case ColumnType::kTimestamp: to.times.push_back(from.times[r]); break;
          }
        }
      }
      for (std::uint32_t r : keep) part.origins.push_back(batch.origins[r]);
      const bool all_one = std::all_of(weights.begin(), weights.end(), [](std::uint64_t w) { return w == 1; });
      if (!all_one || !batch.weights.empty()) part.weights = std::move(weights);
      biller.Consume(part);
    }
    std::map<std::string, Invoice> out;
    for (Invoice& inv : biller.Finish()) {
      auto it = slot.find(inv.customer);
      if (!explained.empty() && inv.customer == explained) {
        Invoice u = usage_of(inv);
        std::size_t k = 0;
        for (const InvoiceLine& l : inv.lines) {
          if (is_usage(l)) u.lines[k++].derivation = l.derivation;
        }
        out.emplace(inv.customer, std::move(u));
      } else if (it != slot.end() && customers[it->second].searching) {
        out.emplace(inv.customer, usage_of(inv));
      }
    }
    return out;
  };
  auto amount_of = [](const std::map<std::string, Invoice>& rated, const Customer& c) {
    auto it = rated.find(c.id);
    return it == rated.end() ? Decimal() : it->second.total;
  };

  auto traced = [&](const Customer& c) { return options.explain && (options.explain_customer.empty() || options.explain_customer == c.id); };

  // What a customer's threshold invoices have billed, line by line (as an amendment's issued side).
  auto billed_of = [&](const Customer& c) {
    IssuedInvoice issued;
    const Invoice& full = closing[c.closing];
    issued.customer = c.id;
    issued.plan = full.plan;
    issued.period_start = full.period_start;
    issued.period_end = full.period_end;
    issued.currency = full.currency;
    std::map<LineKey, std::size_t> index;
    for (const Invoice& inv : c.issued) {
      for (const InvoiceLine& l : inv.lines) {
        LineKey key = KeyOf(l);
        auto [it, inserted] = index.emplace(key, issued.lines.size());
        if (inserted) issued.lines.push_back(IssuedLine{std::move(key), Decimal(), Decimal(), false});
        IssuedLine& s = issued.lines[it->second];
        s.amount = s.amount + l.amount;
        if (l.has_quantity) {
          s.quantity = s.quantity + l.quantity;
          s.has_quantity = true;
        }
      }
      issued.total = issued.total + inv.total;
      issued.revision = 1;
    }
    issued.has_original = !c.issued.empty();
    return issued;
  };

  // Round after round: each customer's next threshold invoice, while its usage reaches one more.
  // Bisection needs f(hi) ≥ target to start from: the whole period's usage. Event by event, hi
  // starts past the last event (n + 1: not reached, unless some event reaches it).
  auto start_search = [&](Customer& c, std::uint64_t from) {
    c.lo = from;
    c.at_hi = usage_of(closing[c.closing]);
    if (bisect) {
      c.hi = c.n;
      c.searching = c.lo < c.n && c.at_hi.total >= c.target;
      c.known.erase(c.known.begin(), c.known.upper_bound(from));
      for (auto& [k, inv] : c.known) {
        if (inv.total >= c.target) {
          if (k < c.hi) {
            c.hi = k;
            c.at_hi = inv;
          }
          break;  // the first probe reaching the target; those after it are above too
        }
        c.lo = k;
      }
    } else {
      c.hi = c.n + 1;
      c.searching = c.lo < c.n;
    }
  };
  for (Customer& c : customers) {
    c.target = c.threshold;
    start_search(c, 0);
  }
  for (;;) {
    // Search every customer's next crossing together.
    for (;;) {
      bool any = false;
      for (Customer& c : customers) {
        if (!c.searching || c.hi - c.lo <= 1) continue;
        c.probe = bisect ? c.lo + (c.hi - c.lo) / 2 : c.lo + 1;
        any = true;
      }
      if (!any) break;
      std::map<std::string, Invoice> rated =
          rate([](const Customer& c) { return c.searching && c.hi - c.lo > 1 ? c.probe : 0; });
      for (Customer& c : customers) {
        if (!c.searching || c.hi - c.lo <= 1) continue;
        if (amount_of(rated, c) >= c.target) {
          c.hi = c.probe;
          auto it = rated.find(c.id);
          c.at_hi = it == rated.end() ? Invoice{} : it->second;
        } else {
          c.lo = c.probe;
        }
        if (bisect) {
          auto it = rated.find(c.id);
          c.known[c.probe] = it == rated.end() ? Invoice{} : std::move(it->second);
        }
      }
    }
    // The threshold invoices of this round: at event `hi`, what the usage lines come to less
    // what was billed, line by line (Amend: issued + amendment = re-rated).
    bool more = false;
    for (Customer& c : customers) {
      if (!c.searching) continue;
      if (c.hi > c.n) {  // event by event, and no event reached it
        c.searching = false;
        continue;
      }
      const Invoice& full = closing[c.closing];
      IssuedInvoice billed = billed_of(c);
      std::optional<Amendment> diff = Amend(&billed, &c.at_hi);
      Invoice inv;
      inv.customer = c.id;
      inv.plan = full.plan;
      inv.period_start = full.period_start;
      inv.period_end = full.period_end;
      inv.currency = full.currency;
      inv.kind = "threshold";
      // The event the threshold was reached at: the `hi`-th (1-based).
      const auto pos = std::upper_bound(c.at.begin(), c.at.end(), c.hi - 1) - c.at.begin() - 1;
      const Event& e = c.events[static_cast<std::size_t>(pos)];
      calendar::PeriodRule day;
      day.length = calendar::PeriodLength::kDays;
      day.count = 1;
      day.time_zone = c.fn->period.time_zone;
      inv.issued_at = calendar::Calendar(day).FormatLocal(e.time);
      std::map<LineKey, const InvoiceLine*> rated_line;
      for (const InvoiceLine& l : c.at_hi.lines) rated_line.emplace(KeyOf(l), &l);
      // Explain: the usage so far rated once more, with derivations, for this customer alone.
      std::map<std::string, Invoice> explained;
      std::map<LineKey, const InvoiceLine*> explained_line;
      if (traced(c)) {
        const std::uint64_t cut = c.hi;
        const std::string id = c.id;
        explained = rate([&](const Customer& x) { return x.id == id ? cut : 0; }, id);
        if (auto it = explained.find(id); it != explained.end()) {
          for (const InvoiceLine& l : it->second.lines) explained_line.emplace(KeyOf(l), &l);
        }
      }
      if (diff) {
        for (const AmendmentLine& d : diff->lines) {
          InvoiceLine l;
          auto it = rated_line.find(d.key);
          if (it != rated_line.end()) {
            l = *it->second;
            l.tiers.clear();  // the tiers of the usage so far, not of what this invoice bills
          }
          l.kind = d.key.kind;
          l.name = d.key.name;
          l.group = d.key.group;
          l.unit = d.key.unit;
          l.rated_by = d.key.rated_by;
          l.from = d.key.from;
          l.to = d.key.to;
          l.has_quantity = d.has_quantity;
          l.quantity = d.quantity;
          l.amount = d.amount;
          l.derivation = nullptr;
          if (traced(c)) {
            // Explain: the line as rated so far, less what was billed of it.
            auto dv = std::make_shared<Derivation>();
            auto how = explained_line.find(d.key);
            const bool derived = how != explained_line.end() && how->second->derivation != nullptr;
            if (derived) dv->steps = how->second->derivation->steps;  // how the line so far was computed
            DerivationStep so_far;
            so_far.kind = "threshold";
            so_far.text = fmt::format("rated over the customer's first {} event{} of the period (to {}, when its usage reached the "
                                      "threshold), the line comes to {} {}",
                                      c.hi, c.hi == 1 ? "" : "s", inv.issued_at, d.rerated_amount.ToString(), inv.currency);
            so_far.value = d.rerated_amount;
            so_far.unit = inv.currency;
            so_far.source_begin = static_cast<std::int32_t>(c.fn->threshold_source.begin);
            so_far.source_end = static_cast<std::int32_t>(c.fn->threshold_source.end);
            dv->steps.push_back(so_far);
            if (derived) {
              dv->terms = how->second->derivation->terms;
            } else {
              dv->terms.push_back({"rated so far", d.rerated_amount});
            }
            if (!d.issued_amount.is_zero()) {
              DerivationStep before;
              before.kind = "billed_earlier";
              before.text = fmt::format("earlier threshold invoices billed {} {} of it", d.issued_amount.ToString(), inv.currency);
              before.value = d.issued_amount;
              before.unit = inv.currency;
              dv->steps.push_back(before);
              dv->terms.push_back({"billed earlier", Decimal() - d.issued_amount});
            }
            l.derivation = dv;
          }
          inv.total = inv.total + l.amount;
          inv.lines.push_back(std::move(l));
        }
      }
      c.issued.push_back(std::move(inv));
      // The next one: from this event on, at what is billed now plus the threshold.
      c.target = c.at_hi.total + c.threshold;
      start_search(c, c.hi);
      more = more || c.searching;
    }
    if (!more) break;
  }

  // The closing invoices: under each usage line, what the threshold invoices billed of it.
  std::vector<Invoice> out;
  for (Customer& c : customers) {
    if (c.issued.empty()) continue;
    Invoice& full = closing[c.closing];
    IssuedInvoice billed = billed_of(c);
    std::vector<InvoiceLine> lines;
    std::set<LineKey> placed;
    auto earlier = [&](const IssuedLine& b) {
      InvoiceLine l;
      l.kind = LineKind::kBilledEarlier;
      l.name = b.key.name;
      l.group = b.key.group;
      l.unit = b.key.unit;
      l.rated_by = b.key.rated_by;
      l.from = b.key.from;
      l.to = b.key.to;
      l.has_quantity = b.has_quantity;
      l.quantity = Decimal() - b.quantity;
      l.amount = Decimal() - b.amount;
      if (traced(c)) {
        // Explain: each threshold invoice's part of the line.
        auto dv = std::make_shared<Derivation>();
        for (const Invoice& inv : c.issued) {
          for (const InvoiceLine& x : inv.lines) {
            if (KeyOf(x) != b.key) continue;
            DerivationStep step;
            step.kind = "billed_earlier";
            step.text = fmt::format("the threshold invoice issued at {} billed {} {} of this line{}", inv.issued_at, x.amount.ToString(),
                                    inv.currency, x.has_quantity ? fmt::format(" ({} {})", x.quantity.ToString(), x.unit) : "");
            step.value = x.amount;
            step.unit = inv.currency;
            step.source_begin = static_cast<std::int32_t>(c.fn->threshold_source.begin);
            step.source_end = static_cast<std::int32_t>(c.fn->threshold_source.end);
            dv->steps.push_back(step);
            dv->terms.push_back({"threshold invoice " + inv.issued_at, Decimal() - x.amount});
          }
        }
        l.derivation = dv;
      }
      return l;
    };
    std::map<LineKey, const IssuedLine*> by_key;
    for (const IssuedLine& b : billed.lines) by_key.emplace(b.key, &b);
    std::size_t after_usage = 0;
    for (InvoiceLine& l : full.lines) {
      const LineKey key = KeyOf(l);
      const bool usage = is_usage(l);
      lines.push_back(std::move(l));
      if (!usage) continue;
      auto it = by_key.find(key);
      if (it != by_key.end() && placed.insert(key).second) lines.push_back(earlier(*it->second));
      after_usage = lines.size();
    }
    // A line billed earlier that the period's invoice does not have (its usage fell away).
    std::vector<InvoiceLine> rest;
    for (const IssuedLine& b : billed.lines) {
      if (placed.count(b.key) == 0) rest.push_back(earlier(b));
    }
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(after_usage), rest.begin(), rest.end());
    full.lines = std::move(lines);
    full.total = full.total - billed.total;
    // Subtotals sum lines by name: a usage line's billed_earlier line is counted with it.
    for (InvoiceSubtotal& st : full.subtotals) {
      st.amount = Decimal();
      st.lines.clear();
      for (std::size_t i = 0; i < full.lines.size(); ++i) {
        const InvoiceLine& l = full.lines[i];
        if (l.kind == LineKind::kCredit || std::find(st.parts.begin(), st.parts.end(), l.name) == st.parts.end()) continue;
        st.amount = st.amount + l.amount;
        st.lines.push_back(i);
      }
    }
    for (Invoice& inv : c.issued) out.push_back(std::move(inv));
  }
  return out;
}

}  // namespace tariff
