// runtime/exec: the batch interpreter. A program runs instruction by instruction; each
// instruction loops over every row of the batch (or every invoice line), so the switch is
// taken once per instruction per batch, not once per event.
#include "runtime/exec/exec.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

namespace tariff {
namespace {

using ir::Op;
using ir::ValueKind;

// A register: one value per row, or one value for every row (`scalar`).
struct Reg {
  ValueKind kind = ValueKind::kDecimal;
  bool scalar = false;
  std::vector<Decimal> d;
  std::vector<std::uint8_t> b;
  std::vector<std::string_view> t;
  std::vector<std::int64_t> ts;
  std::vector<std::vector<TierPart>> tiers;  // kTiers: the tiers each row crossed

  std::size_t Index(std::size_t row) const { return scalar ? 0 : row; }
};

// The columns a program reads: event fields (event programs) or line inputs (line programs).
using Inputs = std::vector<Column>;

[[noreturn]] void Throw(const ir::Inst& in, const std::string& what) {
  throw RatingError(fmt::format("{}: {}", ir::OpName(in.op), what), in.source);
}

Decimal TierAmountFor(const ir::TierSpec& s, const Decimal& part) {
  Decimal amount = part * s.unit_price;
  if (s.package) amount = amount + Decimal::Divide(part, *s.package, 0, RoundingMode::kCeiling) * s.package_price;
  if (!s.percent.is_zero()) amount = amount + part * s.percent;
  return amount;
}

// Applies a tier table to one quantity; fills `parts` with each tier crossed.
Decimal ApplyTiers(const ir::TierTable& table, const Decimal& q, std::vector<TierPart>& parts) {
  parts.clear();
  Decimal total;
  Decimal lower;
  if (table.tiers.empty()) return total;
  if (q.sign() <= 0) {
    // No usage: Stripe's rule bills the first tier's flat fee, unless the plan says otherwise.
    const ir::TierSpec& first = table.tiers.front();
    if (table.flat_at_zero && !first.flat.is_zero()) {
      parts.push_back({Decimal(), first.up_to.value_or(Decimal()), Decimal(), first.flat, first.price_text});
      total = first.flat;
    }
    return total;
  }
  if (table.graduated) {
    for (const ir::TierSpec& s : table.tiers) {
      if (q <= lower) break;
      Decimal upper = s.up_to && *s.up_to < q ? *s.up_to : q;
      Decimal part = upper - lower;
      Decimal amount = TierAmountFor(s, part) + s.flat;
      parts.push_back({lower, upper, part, amount, s.price_text});
      total = total + amount;
      if (!s.up_to) break;
      lower = *s.up_to;
    }
    return total;
  }
  for (const ir::TierSpec& s : table.tiers) {
    if (!s.up_to || q <= *s.up_to) {
      Decimal amount = TierAmountFor(s, q) + s.flat;
      parts.push_back({lower, q, q, amount, s.price_text});
      return amount;
    }
    lower = *s.up_to;
  }
  return total;
}

bool CompareOp(Op op, int c) {
  switch (op) {
    case Op::kEq: return c == 0;
    case Op::kNe: return c != 0;
    case Op::kLt: return c < 0;
    case Op::kLe: return c <= 0;
    case Op::kGt: return c > 0;
    default: return c >= 0;
  }
}

// Runs `p` over `n` rows of `inputs`; returns the register file (the result is regs[p.result]).
void Run(const ir::Program& p, const Inputs& inputs, std::size_t n, std::vector<Reg>& regs) {
  regs.resize(p.insts.size());
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    const ir::Inst& in = p.insts[i];
    Reg& r = regs[i];
    r.kind = in.type.kind;
    r.scalar = false;
    r.d.clear();
    r.b.clear();
    r.t.clear();
    r.ts.clear();
    r.tiers.clear();
    const Reg* a = in.a >= 0 ? &regs[static_cast<std::size_t>(in.a)] : nullptr;
    const Reg* b = in.b >= 0 ? &regs[static_cast<std::size_t>(in.b)] : nullptr;
    const bool scalar = (a == nullptr || a->scalar) && (b == nullptr || b->scalar) && in.op != Op::kInput &&
                        in.op != Op::kMatch;
    const std::size_t rows = scalar ? 1 : n;
    r.scalar = scalar;
    try {
      switch (in.op) {
        case Op::kInput: {
          const Column& c = inputs[static_cast<std::size_t>(in.imm)];
          switch (c.type) {
            case ColumnType::kDecimal: r.kind = ValueKind::kDecimal; r.d.assign(c.decimals.begin(), c.decimals.begin() + static_cast<std::ptrdiff_t>(n)); break;
            case ColumnType::kBool: r.kind = ValueKind::kBool; r.b.assign(c.bools.begin(), c.bools.begin() + static_cast<std::ptrdiff_t>(n)); break;
            case ColumnType::kTimestamp: r.kind = ValueKind::kTimestamp; r.ts.assign(c.times.begin(), c.times.begin() + static_cast<std::ptrdiff_t>(n)); break;
            case ColumnType::kText:
              r.kind = ValueKind::kText;
              r.t.reserve(n);
              for (std::size_t row = 0; row < n; ++row) r.t.emplace_back(c.texts[row]);
              break;
          }
          break;
        }
        case Op::kConst: {
          const ir::Constant& c = p.constants[static_cast<std::size_t>(in.imm)];
          r.scalar = true;
          r.kind = c.kind;
          if (c.kind == ValueKind::kDecimal) r.d.push_back(c.number);
          if (c.kind == ValueKind::kBool) r.b.push_back(c.boolean ? 1 : 0);
          if (c.kind == ValueKind::kText) r.t.emplace_back(c.text);
          break;
        }
        case Op::kAdd:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.d[k] = a->d[a->Index(k)] + b->d[b->Index(k)];
          break;
        case Op::kSub:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.d[k] = a->d[a->Index(k)] - b->d[b->Index(k)];
          break;
        case Op::kMul:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.d[k] = a->d[a->Index(k)] * b->d[b->Index(k)];
          break;
        case Op::kDiv:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) {
            const Decimal& x = a->d[a->Index(k)];
            const Decimal& y = b->d[b->Index(k)];
            if (y.is_zero()) Throw(in, "division by zero");
            Decimal q;
            if (!Decimal::TryDivideExact(x, y, &q) || q.scale() > in.scale) q = Decimal::Divide(x, y, in.scale, in.mode);
            r.d[k] = q;
          }
          break;
        case Op::kNeg:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.d[k] = -a->d[a->Index(k)];
          break;
        case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe:
          r.kind = ValueKind::kBool;
          r.b.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) {
            int c = 0;
            switch (a->kind) {
              case ValueKind::kDecimal: c = Decimal::Compare(a->d[a->Index(k)], b->d[b->Index(k)]); break;
              case ValueKind::kText: c = a->t[a->Index(k)].compare(b->t[b->Index(k)]); break;
              case ValueKind::kBool: c = int(a->b[a->Index(k)]) - int(b->b[b->Index(k)]); break;
              case ValueKind::kTimestamp: {
                auto x = a->ts[a->Index(k)], y = b->ts[b->Index(k)];
                c = (x > y) - (x < y);
                break;
              }
            }
            r.b[k] = CompareOp(in.op, c) ? 1 : 0;
          }
          break;
        case Op::kAnd:
          r.b.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.b[k] = a->b[a->Index(k)] & b->b[b->Index(k)];
          break;
        case Op::kOr:
          r.b.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.b[k] = a->b[a->Index(k)] | b->b[b->Index(k)];
          break;
        case Op::kNot:
          r.b.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.b[k] = a->b[a->Index(k)] ^ 1;
          break;
        case Op::kMin:
        case Op::kMax:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) {
            const Decimal& x = a->d[a->Index(k)];
            const Decimal& y = b->d[b->Index(k)];
            bool take_x = in.op == Op::kMin ? Decimal::Compare(x, y) <= 0 : Decimal::Compare(x, y) >= 0;
            r.d[k] = take_x ? x : y;
          }
          break;
        case Op::kCeilStep:
        case Op::kFloorStep:
        case Op::kPackages:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) {
            const Decimal& x = a->d[a->Index(k)];
            const Decimal& step = b->d[b->Index(k)];
            if (step.sign() <= 0) Throw(in, fmt::format("the step {} is not above zero", step.ToString()));
            Decimal blocks = Decimal::Divide(x, step, 0, in.op == Op::kFloorStep ? RoundingMode::kFloor : RoundingMode::kCeiling);
            r.d[k] = in.op == Op::kPackages ? blocks : blocks * step;
          }
          break;
        case Op::kClampZero:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) {
            const Decimal& x = a->d[a->Index(k)];
            r.d[k] = x.sign() < 0 ? Decimal(0) : x;
          }
          break;
        case Op::kRound:
          r.d.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.d[k] = a->d[a->Index(k)].Rescale(in.scale, in.mode);
          break;
        case Op::kTiers: {
          const ir::TierTable& table = p.tier_tables[static_cast<std::size_t>(in.imm)];
          r.d.resize(rows);
          r.tiers.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.d[k] = ApplyTiers(table, a->d[a->Index(k)], r.tiers[k]);
          break;
        }
        case Op::kMatch: {
          const ir::MatchTable& table = p.match_tables[static_cast<std::size_t>(in.imm)];
          const Reg& subject = regs[static_cast<std::size_t>(in.args[0])];
          std::unordered_map<std::string_view, std::size_t> arm_of;
          std::size_t else_arm = table.patterns.size();
          for (std::size_t arm = 0; arm < table.patterns.size(); ++arm) {
            if (table.patterns[arm].empty()) else_arm = std::min(else_arm, arm);
            for (const std::string& pattern : table.patterns[arm]) arm_of.emplace(pattern, arm);
          }
          r.scalar = false;
          for (std::size_t k = 0; k < n; ++k) {
            auto it = arm_of.find(subject.t[subject.Index(k)]);
            std::size_t arm = it != arm_of.end() ? it->second : else_arm;
            if (arm >= table.patterns.size()) Throw(in, fmt::format("no arm matches \"{}\"", subject.t[subject.Index(k)]));
            const Reg& v = regs[static_cast<std::size_t>(in.args[arm + 1])];
            switch (v.kind) {
              case ValueKind::kDecimal: r.d.push_back(v.d[v.Index(k)]); break;
              case ValueKind::kBool: r.b.push_back(v.b[v.Index(k)]); break;
              case ValueKind::kText: r.t.push_back(v.t[v.Index(k)]); break;
              case ValueKind::kTimestamp: r.ts.push_back(v.ts[v.Index(k)]); break;
            }
          }
          break;
        }
      }
    } catch (const DecimalError& e) {
      Throw(in, e.what());
    }
  }
}

// A meter's state for one customer (and group value).
struct Accumulator {
  std::uint64_t count = 0;
  Decimal sum;
  Decimal extreme;
  bool has_extreme = false;
  std::int64_t latest_time = 0;
  Decimal latest;
  bool has_latest = false;
  std::set<std::string> distinct;
  std::vector<std::pair<std::int64_t, Decimal>> samples;
};

// Keys (customer, group values) → dense slots.
struct Slots {
  std::unordered_map<std::string, std::uint32_t> index;
  std::vector<std::uint32_t> customer;
  std::vector<std::vector<std::string>> group;

  std::uint32_t Get(std::uint32_t cust, const std::vector<std::string_view>& values, std::string& key) {
    key.assign(reinterpret_cast<const char*>(&cust), sizeof(cust));
    for (std::string_view v : values) {
      key += '\x1f';
      key += v;
    }
    auto [it, inserted] = index.try_emplace(key, static_cast<std::uint32_t>(customer.size()));
    if (inserted) {
      customer.push_back(cust);
      group.emplace_back(values.begin(), values.end());
    }
    return it->second;
  }
};

struct EventCharge {
  std::int64_t time;
  Decimal amount;
  Decimal free_value;
};

}  // namespace

std::vector<EventSchema> SchemasOf(const ir::RatingFunction& function) {
  std::vector<EventSchema> out;
  for (const ir::Event& e : function.events) {
    EventSchema s;
    s.name = e.name;
    for (const ir::Field& f : e.fields) {
      FieldSchema fs;
      fs.name = f.name;
      switch (f.kind) {
        case ValueKind::kDecimal: fs.type = ColumnType::kDecimal; break;
        case ValueKind::kBool: fs.type = ColumnType::kBool; break;
        case ValueKind::kText: fs.type = ColumnType::kText; break;
        case ValueKind::kTimestamp: fs.type = ColumnType::kTimestamp; break;
      }
      fs.enum_values = f.enum_values;
      if (f.unit == function.currency) fs.currency = f.unit;
      else fs.unit = f.unit;
      s.fields.push_back(std::move(fs));
    }
    s.customer_field = e.customer_field;
    s.time_field = e.time_field;
    s.key_field = e.key_field;
    out.push_back(std::move(s));
  }
  return out;
}

struct Engine::State {
  const ir::RatingFunction& fn;
  RatingOptions options;
  std::unordered_map<std::string, std::uint32_t> customer_index;
  std::vector<std::string> customers;
  std::vector<Slots> meter_slots;                      // per meter instance
  std::vector<std::vector<Accumulator>> meter_state;   // per meter instance, per slot
  std::vector<Slots> charge_slots;                     // per charge (per-event charges)
  std::vector<std::vector<Decimal>> charge_sums;       // per charge, per slot
  std::vector<std::vector<std::vector<EventCharge>>> charge_events;  // `free first`: kept events
  std::uint64_t rated = 0;
  struct SubscriptionValue {
    Decimal number;
    std::string text;
    bool flag = false;
  };
  std::unordered_map<std::uint32_t, std::map<std::string, SubscriptionValue>> subscriptions;
  std::vector<Reg> regs;
  std::vector<std::uint32_t> row_customer;
  std::string key;
  bool finished = false;

  State(const ir::RatingFunction& f, RatingOptions o) : fn(f), options(std::move(o)) {
    meter_slots.resize(fn.meters.size());
    meter_state.resize(fn.meters.size());
    charge_slots.resize(fn.charges.size());
    charge_sums.resize(fn.charges.size());
    charge_events.resize(fn.charges.size());
  }

  std::uint32_t Customer(const std::string& id) {
    auto [it, inserted] = customer_index.try_emplace(id, static_cast<std::uint32_t>(customers.size()));
    if (inserted) customers.push_back(id);
    return it->second;
  }

  // Rows of the batch that pass `filter` (all rows when it is empty).
  std::vector<std::uint8_t> Mask(const ir::Program& filter, const Batch& batch) {
    std::vector<std::uint8_t> mask(batch.size(), 1);
    if (filter.empty()) return mask;
    Run(filter, batch.columns, batch.size(), regs);
    const Reg& r = regs[static_cast<std::size_t>(filter.result)];
    for (std::size_t k = 0; k < batch.size(); ++k) mask[k] = r.b[r.Index(k)];
    return mask;
  }

  std::uint32_t SlotFor(Slots& slots, const std::vector<int>& group_fields, const Batch& batch, std::size_t row) {
    std::vector<std::string_view> values;
    values.reserve(group_fields.size());
    for (int g : group_fields) values.emplace_back(batch.columns[static_cast<std::size_t>(g)].texts[row]);
    return slots.Get(row_customer[row], values, key);
  }

  void Consume(const Batch& batch) {
    const std::size_t n = batch.size();
    if (n == 0) return;
    const ir::Event& event = fn.events[static_cast<std::size_t>(batch.event)];
    const Column& customer_column = batch.columns[static_cast<std::size_t>(event.customer_field)];
    row_customer.resize(n);
    for (std::size_t k = 0; k < n; ++k) row_customer[k] = Customer(customer_column.texts[k]);
    const Column& time_column = batch.columns[static_cast<std::size_t>(event.time_field)];

    for (std::size_t m = 0; m < fn.meters.size(); ++m) {
      const ir::MeterInstance& meter = fn.meters[m];
      if (meter.event != batch.event) continue;
      std::vector<std::uint8_t> mask = Mask(meter.filter, batch);
      const Reg* value = nullptr;
      if (!meter.value.empty()) {
        Run(meter.value, batch.columns, n, regs);
        value = &regs[static_cast<std::size_t>(meter.value.result)];
      }
      std::vector<Accumulator>& state = meter_state[m];
      for (std::size_t k = 0; k < n; ++k) {
        if (!mask[k]) continue;
        std::uint32_t slot = SlotFor(meter_slots[m], meter.group_fields, batch, k);
        if (slot >= state.size()) state.resize(slot + 1);
        Accumulator& acc = state[slot];
        ++acc.count;
        if (value == nullptr) continue;
        try {
          if (meter.aggregation == ir::Aggregation::kCountDistinct) {
            std::string key_text;
            switch (value->kind) {
              case ValueKind::kDecimal: key_text = value->d[value->Index(k)].Normalized().ToString(); break;
              case ValueKind::kText: key_text = std::string(value->t[value->Index(k)]); break;
              case ValueKind::kBool: key_text = value->b[value->Index(k)] ? "true" : "false"; break;
              case ValueKind::kTimestamp: key_text = std::to_string(value->ts[value->Index(k)]); break;
            }
            acc.distinct.insert(std::move(key_text));
            continue;
          }
          const Decimal& v = value->d[value->Index(k)];
          std::int64_t t = time_column.times[k];
          switch (meter.aggregation) {
            case ir::Aggregation::kSum:
            case ir::Aggregation::kAverage: acc.sum = acc.sum + v; break;
            case ir::Aggregation::kMin:
              if (!acc.has_extreme || v < acc.extreme) acc.extreme = v;
              acc.has_extreme = true;
              break;
            case ir::Aggregation::kMax:
              if (!acc.has_extreme || v > acc.extreme) acc.extreme = v;
              acc.has_extreme = true;
              break;
            case ir::Aggregation::kLatest:
              // Ties in time take the larger value, so that the order of events never matters.
              if (!acc.has_latest || t > acc.latest_time || (t == acc.latest_time && v > acc.latest)) {
                acc.latest = v;
                acc.latest_time = t;
              }
              acc.has_latest = true;
              break;
            case ir::Aggregation::kTimeWeightedAverage:
            case ir::Aggregation::kIntegral: acc.samples.emplace_back(t, v); break;
            default: break;
          }
        } catch (const DecimalError& e) {
          throw RatingError(fmt::format("meter `{}`: {}", meter.meter, e.what()), meter.source);
        }
      }
    }

    for (std::size_t c = 0; c < fn.charges.size(); ++c) {
      const ir::Charge& charge = fn.charges[c];
      if (!charge.per_event || charge.event != batch.event) continue;
      std::vector<std::uint8_t> mask = Mask(charge.filter, batch);
      Run(charge.amount, batch.columns, n, regs);
      const Reg& amount = regs[static_cast<std::size_t>(charge.amount.result)];
      const bool keep = charge.free_events || charge.free_amount;
      for (std::size_t k = 0; k < n; ++k) {
        if (!mask[k]) continue;
        std::uint32_t slot = SlotFor(charge_slots[c], charge.group_fields, batch, k);
        const Decimal& v = amount.d[amount.Index(k)];
        if (keep) {
          if (slot >= charge_events[c].size()) charge_events[c].resize(slot + 1);
          Decimal free_value = charge.free_amount_field >= 0
                                   ? batch.columns[static_cast<std::size_t>(charge.free_amount_field)].decimals[k]
                                   : Decimal();
          charge_events[c][slot].push_back({time_column.times[k], v, free_value});
        } else {
          if (slot >= charge_sums[c].size()) charge_sums[c].resize(slot + 1);
          try {
            charge_sums[c][slot] = charge_sums[c][slot] + v;
          } catch (const DecimalError& e) {
            throw RatingError(fmt::format("charge \"{}\": {}", charge.name, e.what()), charge.source);
          }
        }
      }
    }
    rated += n;
  }

  Decimal MeterValue(std::size_t m, const Accumulator* acc) const {
    const ir::MeterInstance& meter = fn.meters[m];
    if (acc == nullptr) return Decimal();
    switch (meter.aggregation) {
      case ir::Aggregation::kCount: return Decimal(static_cast<std::int64_t>(acc->count));
      case ir::Aggregation::kCountDistinct: return Decimal(static_cast<std::int64_t>(acc->distinct.size()));
      case ir::Aggregation::kSum: return acc->sum;
      case ir::Aggregation::kMin:
      case ir::Aggregation::kMax: return acc->has_extreme ? acc->extreme : Decimal();
      case ir::Aggregation::kLatest: return acc->has_latest ? acc->latest : Decimal();
      case ir::Aggregation::kAverage: {
        if (acc->count == 0) return Decimal();
        Decimal q;
        Decimal count(static_cast<std::int64_t>(acc->count));
        if (Decimal::TryDivideExact(acc->sum, count, &q) && q.scale() <= 20) return q;
        return Decimal::Divide(acc->sum, count, 20, RoundingMode::kHalfEven);
      }
      case ir::Aggregation::kTimeWeightedAverage:
      case ir::Aggregation::kIntegral: {
        if (acc->samples.empty()) return Decimal();
        auto samples = acc->samples;
        std::sort(samples.begin(), samples.end(), [](const auto& x, const auto& y) {
          return x.first != y.first ? x.first < y.first : x.second < y.second;
        });
        std::int64_t end = options.period_end_micros.value_or(samples.back().first);
        Decimal integral;  // value × microseconds
        for (std::size_t i = 0; i < samples.size(); ++i) {
          std::int64_t until = i + 1 < samples.size() ? samples[i + 1].first : std::max(end, samples[i].first);
          integral = integral + samples[i].second * Decimal(until - samples[i].first);
        }
        if (meter.aggregation == ir::Aggregation::kIntegral) {
          return Decimal::Divide(integral, Decimal(1'000'000), std::max(integral.scale(), 6), RoundingMode::kHalfEven).Normalized();
        }
        std::int64_t span = std::max(end, samples.back().first) - samples.front().first;
        if (span == 0) return samples.back().second;
        Decimal q;
        if (Decimal::TryDivideExact(integral, Decimal(span), &q) && q.scale() <= 20) return q;
        return Decimal::Divide(integral, Decimal(span), 20, RoundingMode::kHalfEven);
      }
    }
    return Decimal();
  }

  const Accumulator* Find(std::size_t m, std::uint32_t cust, const std::vector<std::string>& group) {
    std::vector<std::string_view> values(group.begin(), group.end());
    std::string k;
    k.assign(reinterpret_cast<const char*>(&cust), sizeof(cust));
    for (std::string_view v : values) {
      k += '\x1f';
      k += v;
    }
    auto it = meter_slots[m].index.find(k);
    if (it == meter_slots[m].index.end() || it->second >= meter_state[m].size()) return nullptr;
    return &meter_state[m][it->second];
  }

  struct LineKey {
    std::uint32_t customer;
    std::vector<std::string> group;
  };

  std::vector<Invoice> Finish() {
    finished = true;
    // Lines of every charge, per customer.
    std::vector<std::vector<InvoiceLine>> lines(customers.size());
    for (std::size_t c = 0; c < fn.charges.size(); ++c) {
      const ir::Charge& charge = fn.charges[c];
      try {
        if (charge.per_event) {
          FinishPerEvent(c, lines);
        } else {
          FinishAggregate(c, lines);
        }
      } catch (const DecimalError& e) {
        throw RatingError(fmt::format("charge \"{}\": {}", charge.name, e.what()), charge.source);
      }
    }
    std::vector<std::uint32_t> order(customers.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return customers[x] < customers[y]; });
    std::vector<Invoice> invoices;
    invoices.reserve(order.size());
    for (std::uint32_t cust : order) {
      Invoice inv;
      inv.customer = customers[cust];
      inv.plan = fn.plan;
      inv.period_start = options.period_start;
      inv.period_end = options.period_end;
      inv.currency = fn.currency;
      inv.lines = std::move(lines[cust]);
      for (const ir::Adjustment& a : fn.adjustments) {
        try {
          Adjust(a, inv);
        } catch (const DecimalError& e) {
          throw RatingError(fmt::format("{}: {}", a.name, e.what()), a.source);
        }
      }
      Decimal total;
      for (const InvoiceLine& l : inv.lines) total = total + l.amount;
      if (fn.rounding.point == ir::RoundingRule::Point::kInvoice) {
        Decimal rounded = total.Rescale(fn.rounding.scale, fn.rounding.mode);
        if (!rounded.IdenticalTo(total) && rounded != total) {
          InvoiceLine r;
          r.kind = LineKind::kRounding;
          r.name = fmt::format("Rounding ({} to {} decimals)", RoundingModeName(fn.rounding.mode), fn.rounding.scale);
          r.amount = rounded - total;
          inv.lines.push_back(std::move(r));
        }
        total = rounded;
      }
      inv.total = total;
      invoices.push_back(std::move(inv));
    }
    return invoices;
  }

  void FinishAggregate(std::size_t c, std::vector<std::vector<InvoiceLine>>& lines) {
    const ir::Charge& charge = fn.charges[c];
    // The lines: every customer; a grouped charge, every group value its meters saw.
    std::vector<LineKey> keys;
    if (charge.group_fields.empty()) {
      for (std::uint32_t cust = 0; cust < customers.size(); ++cust) keys.push_back({cust, {}});
    } else {
      std::set<std::pair<std::uint32_t, std::vector<std::string>>> seen;
      for (const auto& in : charge.line_inputs) {
        if (in.kind != ir::Charge::LineInput::Kind::kMeter) continue;
        const Slots& s = meter_slots[static_cast<std::size_t>(in.meter_instance)];
        for (std::size_t slot = 0; slot < s.customer.size(); ++slot) seen.emplace(s.customer[slot], s.group[slot]);
      }
      for (const auto& [cust, group] : seen) keys.push_back({cust, group});
    }
    if (keys.empty()) return;
    Inputs inputs(charge.line_inputs.size());
    for (std::size_t s = 0; s < charge.line_inputs.size(); ++s) {
      const auto& in = charge.line_inputs[s];
      Column& col = inputs[s];
      if (in.kind == ir::Charge::LineInput::Kind::kMeter) {
        col.type = ColumnType::kDecimal;
        auto m = static_cast<std::size_t>(in.meter_instance);
        for (const LineKey& k : keys) col.decimals.push_back(MeterValue(m, Find(m, k.customer, k.group)));
      } else if (in.kind == ir::Charge::LineInput::Kind::kGroupValue) {
        col.type = ColumnType::kText;
        for (const LineKey& k : keys) col.texts.push_back(k.group[static_cast<std::size_t>(in.group_index)]);
      } else {
        col.type = in.value_kind == ValueKind::kText ? ColumnType::kText
                   : in.value_kind == ValueKind::kBool ? ColumnType::kBool
                                                        : ColumnType::kDecimal;
        for (const LineKey& k : keys) {
          SubscriptionValue v;
          auto cust = subscriptions.find(k.customer);
          if (cust != subscriptions.end()) {
            auto f = cust->second.find(in.field);
            if (f != cust->second.end()) v = f->second;
          }
          col.decimals.push_back(v.number);
          col.texts.push_back(v.text);
          col.bools.push_back(v.flag ? 1 : 0);
        }
      }
    }
    Run(charge.line, inputs, keys.size(), regs);
    const Reg& amount = regs[static_cast<std::size_t>(charge.line.result)];
    // The tiers crossed, if the program applied a tier table.
    const Reg* tiers = nullptr;
    for (std::size_t i = 0; i < charge.line.insts.size(); ++i) {
      if (charge.line.insts[i].op == Op::kTiers) tiers = &regs[i];
    }
    for (std::size_t k = 0; k < keys.size(); ++k) {
      InvoiceLine line;
      line.name = charge.name;
      line.group = keys[k].group;
      if (charge.quantity_input >= 0) {
        line.has_quantity = true;
        line.quantity = inputs[static_cast<std::size_t>(charge.quantity_input)].decimals[k];
        line.unit = charge.quantity_unit;
      }
      if (tiers != nullptr) line.tiers = tiers->tiers[tiers->Index(k)];
      line.amount = amount.d[amount.Index(k)];
      lines[keys[k].customer].push_back(std::move(line));
    }
  }

  void FinishPerEvent(std::size_t c, std::vector<std::vector<InvoiceLine>>& lines) {
    const ir::Charge& charge = fn.charges[c];
    Slots& slots = charge_slots[c];
    std::vector<std::size_t> order(slots.customer.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      return slots.group[x] < slots.group[y];
    });
    std::vector<std::uint8_t> has_line(customers.size(), 0);
    for (std::size_t slot : order) {
      Decimal sum = slot < charge_sums[c].size() ? charge_sums[c][slot] : Decimal();
      std::uint64_t events = 0;
      if (slot < charge_events[c].size()) {
        auto& kept = charge_events[c][slot];
        // `free first N events or M`: events in time order (ties by amount, then the free
        // value, so that input order never matters); an event is free while both limits hold.
        std::sort(kept.begin(), kept.end(), [](const EventCharge& x, const EventCharge& y) {
          if (x.time != y.time) return x.time < y.time;
          if (x.amount != y.amount) return x.amount < y.amount;
          return x.free_value < y.free_value;
        });
        Decimal cumulative;
        for (std::size_t i = 0; i < kept.size(); ++i) {
          cumulative = cumulative + kept[i].free_value;
          bool free = (!charge.free_events || Decimal(static_cast<std::int64_t>(i)) < *charge.free_events) &&
                      (!charge.free_amount || cumulative <= *charge.free_amount);
          if (!free) sum = sum + kept[i].amount;
        }
        events = kept.size();
      }
      (void)events;
      if (charge.rounding.point == ir::RoundingRule::Point::kLine) sum = sum.Rescale(charge.rounding.scale, charge.rounding.mode);
      InvoiceLine line;
      line.name = charge.name;
      line.group = slots.group[slot];
      line.amount = sum;
      has_line[slots.customer[slot]] = 1;
      lines[slots.customer[slot]].push_back(std::move(line));
    }
    if (charge.group_fields.empty()) {
      // Customers with no event of this charge still see the line, at zero.
      for (std::uint32_t cust = 0; cust < customers.size(); ++cust) {
        if (has_line[cust]) continue;
        InvoiceLine line;
        line.name = charge.name;
        line.amount = Decimal().Rescale(charge.rounding.point == ir::RoundingRule::Point::kInvoice ? 0 : charge.rounding.scale,
                                        RoundingMode::kHalfEven);
        lines[cust].push_back(std::move(line));
      }
    }
  }

  Decimal SumOf(const Invoice& inv, const std::vector<std::string>& charges) const {
    Decimal sum;
    for (const InvoiceLine& l : inv.lines) {
      if (charges.empty() || std::find(charges.begin(), charges.end(), l.name) != charges.end()) sum = sum + l.amount;
    }
    return sum;
  }

  void Adjust(const ir::Adjustment& a, Invoice& inv) {
    Decimal base = SumOf(inv, a.charges);
    Decimal amount;
    LineKind kind = LineKind::kDiscount;
    const int scale = fn.rounding.point == ir::RoundingRule::Point::kInvoice ? std::max(base.scale(), fn.rounding.scale) : fn.rounding.scale;
    switch (a.kind) {
      case ir::Adjustment::Kind::kPercentDiscount:
        amount = -(base * a.amount).Rescale(scale, fn.rounding.mode);
        break;
      case ir::Adjustment::Kind::kFixedDiscount:
        amount = -(base < a.amount ? (base.sign() > 0 ? base : Decimal()) : a.amount);
        break;
      case ir::Adjustment::Kind::kMinimum:
        kind = LineKind::kMinimum;
        if (base >= a.amount) return;
        amount = a.amount - base;
        break;
      case ir::Adjustment::Kind::kMaximum:
        kind = LineKind::kMaximum;
        if (base <= a.amount) return;
        amount = a.amount - base;
        break;
    }
    if (amount.is_zero() && kind == LineKind::kDiscount) return;
    InvoiceLine line;
    line.kind = kind;
    line.name = a.name;
    line.amount = amount.Rescale(std::max(amount.scale(), fn.rounding.scale), RoundingMode::kHalfEven);
    inv.lines.push_back(std::move(line));
  }
};

Engine::Engine(const ir::RatingFunction& function, RatingOptions options)
    : state_(std::make_unique<State>(function, std::move(options))) {}

Engine::~Engine() = default;

void Engine::Consume(const Batch& batch) { state_->Consume(batch); }

void Engine::AddCustomer(const std::string& customer) { state_->Customer(customer); }

void Engine::SetSubscription(const std::string& customer, const std::string& field, const Decimal& value) {
  state_->subscriptions[state_->Customer(customer)][field].number = value;
}

void Engine::SetSubscription(const std::string& customer, const std::string& field, const std::string& value) {
  state_->subscriptions[state_->Customer(customer)][field].text = value;
}

void Engine::SetSubscription(const std::string& customer, const std::string& field, bool value) {
  state_->subscriptions[state_->Customer(customer)][field].flag = value;
}

std::vector<Invoice> Engine::Finish() { return state_->Finish(); }

std::uint64_t Engine::rows_rated() const { return state_->rated; }

}  // namespace tariff
