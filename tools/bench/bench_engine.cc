// tools/bench: the rating engine against hand-written loops. Four plans (a per-unit charge,
// a filter with sum/count/max and graduated tiers, a dimension-priced charge, and prices `per 3
// GB` whose amounts are exact fractions until they are rounded) are compiled from
// source text, then rated from in-memory batches of 4096 rows by a fresh Engine per iteration
// (Consume every batch, then Finish). Beside each, C++ loops compute the same charges exactly
// in int64/int128 fixed point, into per-customer arrays:
//   BM_Loop     reads the very batches the engine reads (customer ids as text, Decimal columns)
//               and dictionary-encodes customers with a small open-addressing hash table: the
//               loop a performance-minded engineer writes for this input;
//   BM_LoopStd  the same with std::unordered_map<std::string, …> (the loop most people write);
//   BM_Floor    pre-encoded columns (int32 customer index, int64 coefficients, region id): what
//               is left when nobody has to look at a string.
// The engine's invoices must equal the loop's results (and the floor's), else the benchmark
// stops with an error. Items are events, so ns/event = 1e9 / items_per_second; the engine rows
// also show the loops' ns/event and the ratios. Results: docs/benchmarks.md ("Rating engine").
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "runtime/exec/exec.h"

namespace {

using tariff::Batch;
using tariff::Decimal;
using tariff::int128;
using tariff::Invoice;

constexpr std::size_t kBatchRows = 4096;
constexpr int kQuantityScale = 3;  // every generated `bytes` value has 3 decimals (MB precision)

// ---- The plans ------------------------------------------------------------------------------

// One event shape for all three plans (the generator fills its columns by field name).
const char* const kPlanUnit = R"(plan "bench-unit" {
  currency USD
  period month
  rounding half_even per line
  event e {
    bytes: quantity of GB
    region: one of "eu", "us", "apac"
  }
  meter gb = sum(e.bytes)
  charge "C" = gb * 0.10 USD per GB
}
)";

const char* const kPlanTiers = R"(plan "bench-tiers" {
  currency USD
  period month
  rounding half_even per line
  event e {
    bytes: quantity of GB
    region: one of "eu", "us", "apac"
  }
  meter gb = sum(e.bytes) where e.region == "eu"
  meter n = count(e) where e.region == "eu"
  meter biggest = max(e.bytes) where e.region == "eu"
  charge "Volume" = graduated gb {
    up to 1000 GB free
    up to 100_000 GB 0.05 USD per GB
    above 0.02 USD per GB
  }
  charge "Requests" = n * 0.001 USD per 1 e
  charge "Largest" = biggest * 0.01 USD per GB
}
)";

const char* const kPlanMatrix = R"(plan "bench-matrix" {
  currency USD
  period month
  rounding half_even per line
  event e {
    bytes: quantity of GB
    region: one of "eu", "us", "apac"
  }
  meter gb = sum(e.bytes)
  charge "C" by e.region = gb * match e.region {
    "eu": 0.05 USD per GB
    "us": 0.07 USD per GB
    else: 0.09 USD per GB
  }
}
)";

// A price `per 3 GB` does not terminate per GB: every event's amount and the line are exact
// fractions until their rounding (the interpreter's scaled registers and sums, docs/engine.md).
const char* const kPlanThirds = R"(plan "bench-thirds" {
  currency USD
  period month
  rounding half_even per line
  event e {
    bytes: quantity of GB
    region: one of "eu", "us", "apac"
  }
  meter gb = sum(e.bytes)
  charge "Events" = each e: e.bytes * 0.07 USD per 3 GB rounding half_even per event
  charge "Total" = gb * 0.07 USD per 3 GB
}
)";

enum class Scenario { kUnit, kTiers, kMatrix, kThirds };
const char* ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kUnit: return "unit";
    case Scenario::kTiers: return "tiers";
    case Scenario::kMatrix: return "matrix";
    case Scenario::kThirds: return "thirds";
  }
  return "?";
}

// Compiles a plan as `tariff test` does: CheckSource, then Lower.
tariff::ir::RatingFunction Compile(Scenario s) {
  const char* text = s == Scenario::kUnit ? kPlanUnit : s == Scenario::kTiers ? kPlanTiers : s == Scenario::kMatrix ? kPlanMatrix : kPlanThirds;
  tariff::SourceManager sources;
  tariff::FileId file = sources.AddFile(fmt::format("bench-{}.tariff", ScenarioName(s)), text);
  tariff::DiagnosticSink sink;
  tariff::CheckedSource checked_source = tariff::CheckSource(sources, file, sink);
  if (!checked_source.ok()) throw std::runtime_error(fmt::format("plan {} does not check", ScenarioName(s)));
  tariff::LowerResult lowered = tariff::Lower(*checked_source.checked, checked_source.checked->plans.front(), sources.file(file));
  if (!lowered.ok()) throw std::runtime_error(fmt::format("plan {} does not lower: {}", ScenarioName(s), lowered.errors.front()));
  return std::move(lowered.function);
}

const tariff::ir::RatingFunction& Function(Scenario s) {
  static const tariff::ir::RatingFunction functions[4] = {Compile(Scenario::kUnit), Compile(Scenario::kTiers),
                                                          Compile(Scenario::kMatrix), Compile(Scenario::kThirds)};
  return functions[static_cast<int>(s)];
}

// ---- The data -------------------------------------------------------------------------------

const char* const kRegions[3] = {"eu", "us", "apac"};

// Events of one customer population, generated with a fixed seed and grown on demand (so the
// first N rows are the same whatever size was asked for first). Customers are uniform (the
// worst case for caches); regions 50% eu, 30% us, 20% apac; bytes 0.001 to 100.000 GB.
struct Dataset {
  std::size_t customers = 0;
  tariff::EventSchema schema;
  std::vector<std::string> ids;  // customer index → id
  std::vector<Batch> batches;
  // The same rows, pre-encoded (for BM_Floor).
  std::vector<std::uint32_t> customer;
  std::vector<std::int64_t> bytes;  // coefficient at kQuantityScale
  std::vector<std::uint8_t> region;  // index into kRegions
  std::mt19937_64 rng{20260301};
  int field_customer = -1, field_time = -1, field_bytes = -1, field_region = -1;

  explicit Dataset(std::size_t n) : customers(n) {
    schema = tariff::SchemasOf(Function(Scenario::kUnit)).front();
    for (Scenario s : {Scenario::kTiers, Scenario::kMatrix, Scenario::kThirds}) {
      const tariff::EventSchema other = tariff::SchemasOf(Function(s)).front();
      for (std::size_t f = 0; f < schema.fields.size(); ++f) {
        if (other.fields.size() != schema.fields.size() || other.fields[f].name != schema.fields[f].name) {
          throw std::runtime_error("the bench plans disagree on the event's fields");
        }
      }
    }
    field_customer = schema.customer_field;
    field_time = schema.time_field;
    field_bytes = schema.FieldIndex("bytes");
    field_region = schema.FieldIndex("region");
    for (std::size_t c = 0; c < n; ++c) ids.push_back(fmt::format("cus_{:07}", c));
  }

  void Grow(std::size_t rows) {
    constexpr std::int64_t kStart = 1772323200000000;  // 2026-03-01T00:00:00Z in microseconds
    while (batches.size() * kBatchRows < rows) {
      Batch& b = batches.emplace_back();
      b.Reset(&schema, 0);
      for (auto& col : b.columns) col.reserve(kBatchRows);
      for (std::size_t k = 0; k < kBatchRows; ++k) {
        const std::size_t row = customer.size();
        const auto c = static_cast<std::uint32_t>(rng() % customers);
        const std::uint64_t r = rng() % 10;
        const std::uint8_t reg = r < 5 ? 0 : r < 8 ? 1 : 2;
        const auto q = static_cast<std::int64_t>(rng() % 100000) + 1;
        b.columns[static_cast<std::size_t>(field_customer)].texts.push_back(ids[c]);
        b.columns[static_cast<std::size_t>(field_time)].times.push_back(kStart + static_cast<std::int64_t>(row) * 100);
        b.columns[static_cast<std::size_t>(field_bytes)].decimals.push_back(Decimal::FromParts(q, kQuantityScale));
        b.columns[static_cast<std::size_t>(field_region)].texts.push_back(kRegions[reg]);
        b.origins.push_back({0, row + 2});
        customer.push_back(c);
        bytes.push_back(q);
        region.push_back(reg);
      }
    }
  }
};

// One population at a time: 20M rows take about 2.5 GB.
Dataset& DataFor(std::size_t customers, std::size_t rows) {
  static std::unique_ptr<Dataset> data;
  if (!data || data->customers != customers) {
    data.reset();
    data = std::make_unique<Dataset>(customers);
  }
  data->Grow(rows);
  return *data;
}

// ---- Exact fixed-point helpers ---------------------------------------------------------------

// x / 10^digits rounded half to even (the plans' `rounding half_even`).
int128 RoundHalfEven(int128 x, int digits) {
  int128 p = 1;
  for (int i = 0; i < digits; ++i) p *= 10;
  int128 q = x / p, r = x % p;
  const int128 twice = 2 * (r < 0 ? -r : r);
  if (twice > p || (twice == p && (q & 1) != 0)) q += x < 0 ? -1 : 1;
  return q;
}

// Graduated `up to 1000 GB free / up to 100_000 GB 0.05 / above 0.02`, at scale 3 + 2 = 5.
int128 GraduatedAmount(int128 gb) {
  constexpr int128 kTier1 = 1000 * 1000, kTier2 = int128{100000} * 1000;  // GB at scale 3
  int128 amount = 0;
  if (gb > kTier1) amount += ((gb < kTier2 ? gb : kTier2) - kTier1) * 5;
  if (gb > kTier2) amount += (gb - kTier2) * 2;
  return amount;
}

// num ÷ den (both > 0) rounded half to even: a quotient that does not terminate, decided exactly.
int128 RoundHalfEvenQuotient(int128 num, int128 den) {
  int128 q = num / den;
  const int128 twice = 2 * (num % den);
  if (twice > den || (twice == den && (q & 1) != 0)) ++q;
  return q;
}

// Prices per GB by region at scale 2 (eu 0.05, us 0.07, else 0.09).
constexpr std::int64_t kMatrixPrice[3] = {5, 7, 9};

// ---- What both loops compute, and what the engine must match ----------------------------------

// Per customer (index = first-seen order for BM_Loop, dataset index for BM_Floor): the meters
// and the charged amounts (scale 2), computed inside the timed region.
struct LoopState {
  std::vector<std::string> names;  // BM_Loop: the dictionary's keys; BM_Floor: empty (use ids)
  std::vector<int128> sum;         // unit: gb; tiers: eu gb; scale 3
  std::vector<std::int64_t> count;
  std::vector<std::int64_t> max;   // scale 3, 0 when none
  std::vector<std::uint8_t> seen_max;
  std::vector<int128> region_sum;  // matrix: 3 per customer
  std::vector<std::uint8_t> region_seen;
  std::vector<int128> event_sum;   // thirds: the events' rounded amounts, scale 2
  std::vector<int128> amount;      // unit/matrix: the charge(s) per customer; tiers: 3; thirds: 2
  std::vector<std::uint8_t> present;  // BM_Floor: customers with at least one event
};

// A customer's expected invoice lines: (charge name, group, amount at scale 2).
struct ExpectedLine {
  std::string name;
  std::string group;
  int128 amount = 0;
  bool check_quantity = false;
  int128 quantity = 0;  // scale kQuantityScale

  bool operator==(const ExpectedLine&) const = default;
};
using Expected = std::map<std::string, std::vector<ExpectedLine>>;

// The accumulate step of each scenario for one row, shared by both loops.
inline void Accumulate(Scenario s, LoopState& st, std::uint32_t c, std::int64_t q, int reg) {
  switch (s) {
    case Scenario::kUnit: st.sum[c] += q; break;
    case Scenario::kTiers:
      if (reg != 0) break;
      st.sum[c] += q;
      ++st.count[c];
      if (!st.seen_max[c] || q > st.max[c]) st.max[c] = q;
      st.seen_max[c] = 1;
      break;
    case Scenario::kMatrix:
      st.region_sum[c * 3 + static_cast<std::uint32_t>(reg)] += q;
      st.region_seen[c * 3 + static_cast<std::uint32_t>(reg)] = 1;
      break;
    case Scenario::kThirds:
      // q GB/1000 × 0.07 ÷ 3 USD, in cents: q × 7 ÷ 3000.
      st.sum[c] += q;
      st.event_sum[c] += RoundHalfEvenQuotient(int128{q} * 7, 3000);
      break;
  }
}

void Resize(Scenario s, LoopState& st, std::size_t n) {
  switch (s) {
    case Scenario::kUnit: st.sum.resize(n); break;
    case Scenario::kTiers:
      st.sum.resize(n);
      st.count.resize(n);
      st.max.resize(n);
      st.seen_max.resize(n);
      break;
    case Scenario::kMatrix:
      st.region_sum.resize(n * 3);
      st.region_seen.resize(n * 3);
      break;
    case Scenario::kThirds:
      st.sum.resize(n);
      st.event_sum.resize(n);
      break;
  }
}

// The charges from the meters, per customer (the loops' equivalent of Finish).
void Charges(Scenario s, LoopState& st, std::size_t n) {
  switch (s) {
    case Scenario::kUnit:
      st.amount.resize(n);
      for (std::size_t c = 0; c < n; ++c) st.amount[c] = RoundHalfEven(st.sum[c] * 10, 3);
      break;
    case Scenario::kTiers:
      st.amount.resize(n * 3);
      for (std::size_t c = 0; c < n; ++c) {
        st.amount[c * 3] = RoundHalfEven(GraduatedAmount(st.sum[c]), 3);
        st.amount[c * 3 + 1] = RoundHalfEven(st.count[c], 1);  // n × 0.001 at scale 3
        st.amount[c * 3 + 2] = RoundHalfEven(int128{st.max[c]}, 3);  // max × 0.01 at scale 5
      }
      break;
    case Scenario::kMatrix:
      st.amount.resize(n * 3);
      for (std::size_t c = 0; c < n * 3; ++c) st.amount[c] = RoundHalfEven(st.region_sum[c] * kMatrixPrice[c % 3], 3);
      break;
    case Scenario::kThirds:
      st.amount.resize(n * 2);
      for (std::size_t c = 0; c < n; ++c) {
        st.amount[c * 2] = st.event_sum[c];
        st.amount[c * 2 + 1] = RoundHalfEvenQuotient(st.sum[c] * 7, 3000);
      }
      break;
  }
}

// Customer id → dense index, open addressing with linear probing; a slot holds the index + 1
// and 32 bits of the hash (so a probe compares the text only when the hash bits agree).
class FastDictionary {
 public:
  explicit FastDictionary(std::vector<std::string>& names) : names_(names), slots_(1024), mask_(1023) {}

  // The index of `id` and whether it is new.
  std::pair<std::uint32_t, bool> Find(const std::string& id) {
    const std::uint64_t h = Hash(id);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) {
        names_.push_back(id);
        slots_[i] = (std::uint64_t{tag} << 32) | names_.size();
        if (names_.size() * 2 > slots_.size()) Rehash();
        return {static_cast<std::uint32_t>(names_.size() - 1), true};
      }
      if (static_cast<std::uint32_t>(slot >> 32) == tag && Equal(names_[(slot & 0xffffffffu) - 1], id)) {
        return {static_cast<std::uint32_t>((slot & 0xffffffffu) - 1), false};
      }
    }
  }

 private:
  // a == b without a library call for short ids (two overlapping words from 8 bytes up).
  static bool Equal(const std::string& a, const std::string& b) {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n < 8 || n > 16) return a == b;
    std::uint64_t x[2], y[2];
    std::memcpy(&x[0], a.data(), 8);
    std::memcpy(&x[1], a.data() + n - 8, 8);
    std::memcpy(&y[0], b.data(), 8);
    std::memcpy(&y[1], b.data() + n - 8, 8);
    return x[0] == y[0] && x[1] == y[1];
  }
  static std::uint64_t Load(const char* p, std::size_t n) {  // n <= 8 bytes, little-endian
    std::uint64_t w = 0;
    for (std::size_t i = 0; i < n; ++i) w |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    return w;
  }
  static std::uint64_t Hash(const std::string& s) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 29;
    }
    h = (h ^ Load(s.data() + i, s.size() - i)) * 0x94d049bb133111ebull;
    return h ^ (h >> 32);
  }
  void Rehash() {
    std::vector<std::uint64_t> old(slots_.size() * 2);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (std::uint64_t slot : old) {
      if (slot == 0) continue;
      std::size_t i = Hash(names_[(slot & 0xffffffffu) - 1]) & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<std::string>& names_;
  std::vector<std::uint64_t> slots_;
  std::size_t mask_;
};

class StdDictionary {
 public:
  explicit StdDictionary(std::vector<std::string>& names) : names_(names) {}
  std::pair<std::uint32_t, bool> Find(const std::string& id) {
    auto [it, inserted] = index_.try_emplace(id, static_cast<std::uint32_t>(names_.size()));
    if (inserted) names_.push_back(id);
    return {it->second, inserted};
  }

 private:
  std::vector<std::string>& names_;
  std::unordered_map<std::string, std::uint32_t> index_;
};

// BM_Loop's and BM_LoopStd's body: the engine's input, read by hand.
template <typename Dictionary>
void RunLoop(Scenario s, const Dataset& d, std::size_t nbatches, LoopState& st) {
  Dictionary index(st.names);
  const auto fc = static_cast<std::size_t>(d.field_customer), fb = static_cast<std::size_t>(d.field_bytes),
             fr = static_cast<std::size_t>(d.field_region);
  for (std::size_t i = 0; i < nbatches; ++i) {
    const Batch& b = d.batches[i];
    const auto& customers = b.columns[fc].texts;
    const auto& bytes = b.columns[fb].decimals;
    const auto& regions = b.columns[fr].texts;
    for (std::size_t k = 0; k < b.size(); ++k) {
      auto [c, inserted] = index.Find(customers[k]);
      if (inserted) Resize(s, st, st.names.size());
      if (bytes[k].scale() != kQuantityScale) throw std::runtime_error("a value not at the loop's scale");
      const auto q = static_cast<std::int64_t>(bytes[k].coefficient());
      const std::string& r = regions[k];
      const int reg = r == "eu" ? 0 : r == "us" ? 1 : 2;
      Accumulate(s, st, c, q, reg);
    }
  }
  Charges(s, st, st.names.size());
}

// BM_Floor's body: pre-encoded columns, dense arrays.
void RunFloor(Scenario s, const Dataset& d, std::size_t rows, LoopState& st) {
  Resize(s, st, d.customers);
  st.present.assign(d.customers, 0);
  for (std::size_t k = 0; k < rows; ++k) {
    const std::uint32_t c = d.customer[k];
    st.present[c] = 1;
    Accumulate(s, st, c, d.bytes[k], d.region[k]);
  }
  Charges(s, st, d.customers);
}

Expected ExpectationsOf(Scenario s, const Dataset& d, const LoopState& st) {
  Expected out;
  const bool floor = st.names.empty();
  const std::size_t n = floor ? d.customers : st.names.size();
  for (std::size_t c = 0; c < n; ++c) {
    if (floor && !st.present[c]) continue;
    std::vector<ExpectedLine>& lines = out[floor ? d.ids[c] : st.names[c]];
    switch (s) {
      case Scenario::kUnit: lines.push_back({"C", "", st.amount[c], true, st.sum[c]}); break;
      case Scenario::kTiers:
        lines.push_back({"Volume", "", st.amount[c * 3], true, st.sum[c]});
        lines.push_back({"Requests", "", st.amount[c * 3 + 1], false, 0});
        lines.push_back({"Largest", "", st.amount[c * 3 + 2], false, 0});
        break;
      case Scenario::kMatrix:
        for (std::size_t r : {2, 0, 1}) {  // the engine orders a customer's lines by group text
          if (st.region_seen[c * 3 + r]) lines.push_back({"C", kRegions[r], st.amount[c * 3 + r], true, st.region_sum[c * 3 + r]});
        }
        break;
      case Scenario::kThirds:
        lines.push_back({"Events", "", st.amount[c * 2], false, 0});
        lines.push_back({"Total", "", st.amount[c * 2 + 1], true, st.sum[c]});
        break;
    }
  }
  return out;
}

// "" when the invoices say exactly what `want` says, else the first difference.
std::string Compare(const std::vector<Invoice>& invoices, const Expected& want) {
  if (invoices.size() != want.size()) return fmt::format("{} invoices, expected {}", invoices.size(), want.size());
  auto w = want.begin();
  for (const Invoice& inv : invoices) {
    if (inv.customer != w->first) return fmt::format("invoice for {}, expected {}", inv.customer, w->first);
    const auto& lines = w->second;
    if (inv.lines.size() != lines.size()) return fmt::format("{}: {} lines, expected {}", inv.customer, inv.lines.size(), lines.size());
    int128 total = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const tariff::InvoiceLine& got = inv.lines[i];
      const ExpectedLine& e = lines[i];
      const std::string group = got.group.empty() ? "" : got.group.front();
      const Decimal amount = Decimal::FromParts(e.amount, 2);
      if (got.name != e.name || group != e.group || !got.amount.IdenticalTo(amount)) {
        return fmt::format("{}: line \"{}\" {} = {}, expected \"{}\" {} = {}", inv.customer, got.name, group,
                           got.amount.ToString(), e.name, e.group, amount.ToString());
      }
      if (e.check_quantity) {
        const Decimal quantity = e.quantity == 0 ? Decimal() : Decimal::FromParts(e.quantity, kQuantityScale);
        if (!got.quantity.IdenticalTo(quantity)) {
          return fmt::format("{}: line \"{}\" quantity {}, expected {}", inv.customer, got.name, got.quantity.ToString(),
                             quantity.ToString());
        }
      }
      total += e.amount;
    }
    if (!inv.total.IdenticalTo(Decimal::FromParts(total, 2))) {
      return fmt::format("{}: total {}, expected {}", inv.customer, inv.total.ToString(), Decimal::FromParts(total, 2).ToString());
    }
    ++w;
  }
  return "";
}

// ---- Bookkeeping shared by the three benchmarks of one case -----------------------------------

struct Case {
  Scenario scenario;
  std::size_t events;
  std::size_t customers;
  std::string Key() const { return fmt::format("{}/{}/{}", ScenarioName(scenario), events, customers); }
};

std::map<std::string, Expected>& ExpectedCache() {
  static std::map<std::string, Expected> cache;
  return cache;
}
std::map<std::string, double>& LoopNs() {  // case → BM_Loop's ns/event
  static std::map<std::string, double> ns;
  return ns;
}
std::map<std::string, double>& FloorNs() {
  static std::map<std::string, double> ns;
  return ns;
}
std::map<std::string, double>& StdNs() {
  static std::map<std::string, double> ns;
  return ns;
}

const Expected& ExpectedFor(const Case& c, const Dataset& d) {
  auto& cache = ExpectedCache();
  auto it = cache.find(c.Key());
  if (it == cache.end()) {
    LoopState st;
    RunLoop<FastDictionary>(c.scenario, d, c.events / kBatchRows, st);
    it = cache.emplace(c.Key(), ExpectationsOf(c.scenario, d, st)).first;
  }
  return it->second;
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

void Finish(benchmark::State& state, const Case& c, double seconds) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * c.events));
  state.counters["ns/event"] = seconds * 1e9 / static_cast<double>(state.iterations() * c.events);
}

// Every benchmark makes one untimed run first, which checks the result: the timed runs then
// see warm caches and an allocator that has the memory already (on this VM, touching fresh
// pages for 100K invoices costs more than building them; a rating service runs warm).

template <typename Dictionary>
void BM_Loop(benchmark::State& state, Case c, std::map<std::string, double>& record) {
  Dataset& d = DataFor(c.customers, c.events);
  {
    LoopState st;
    RunLoop<Dictionary>(c.scenario, d, c.events / kBatchRows, st);
    Expected got = ExpectationsOf(c.scenario, d, st);
    auto it = ExpectedCache().find(c.Key());
    if (it == ExpectedCache().end()) {
      ExpectedCache().emplace(c.Key(), std::move(got));
    } else if (it->second != got) {
      state.SkipWithError("the loops disagree");
      return;
    }
  }
  std::chrono::steady_clock::duration spent{};
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    LoopState st;
    RunLoop<Dictionary>(c.scenario, d, c.events / kBatchRows, st);
    benchmark::DoNotOptimize(st.amount.data());
    spent += std::chrono::steady_clock::now() - t0;
  }
  Finish(state, c, Seconds(spent));
  record[c.Key()] = state.counters["ns/event"];
}

void BM_Floor(benchmark::State& state, Case c) {
  Dataset& d = DataFor(c.customers, c.events);
  {
    LoopState st;
    RunFloor(c.scenario, d, c.events, st);
    if (ExpectationsOf(c.scenario, d, st) != ExpectedFor(c, d)) {
      state.SkipWithError("the floor loop disagrees with the loop");
      return;
    }
  }
  std::chrono::steady_clock::duration spent{};
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    LoopState st;
    RunFloor(c.scenario, d, c.events, st);
    benchmark::DoNotOptimize(st.amount.data());
    spent += std::chrono::steady_clock::now() - t0;
  }
  Finish(state, c, Seconds(spent));
  FloorNs()[c.Key()] = state.counters["ns/event"];
}

// Bytes the heap holds in use (small blocks and mmapped ones).
std::size_t HeapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void BM_Engine(benchmark::State& state, Case c) {
  Dataset& d = DataFor(c.customers, c.events);
  const tariff::ir::RatingFunction& fn = Function(c.scenario);
  const std::size_t nbatches = c.events / kBatchRows;
  double state_mb = 0;
  try {  // the untimed run: the result must be the loop's
    const std::size_t heap_before = HeapInUse();
    tariff::Engine engine(fn);
    for (std::size_t i = 0; i < nbatches; ++i) engine.Consume(d.batches[i]);
    // The engine's state once every event is in: it grows with customers, not events.
    state_mb = static_cast<double>(HeapInUse() - heap_before) / (1 << 20);
    std::string diff = Compare(engine.Finish(), ExpectedFor(c, d));
    if (!diff.empty()) {
      state.SkipWithError(("the engine disagrees with the loop: " + diff).c_str());
      return;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  std::chrono::steady_clock::duration spent{}, finishing{};
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Invoice> invoices;
    {
      tariff::Engine engine(fn);
      for (std::size_t i = 0; i < nbatches; ++i) engine.Consume(d.batches[i]);
      auto t1 = std::chrono::steady_clock::now();
      invoices = engine.Finish();
      finishing += std::chrono::steady_clock::now() - t1;
    }
    spent += std::chrono::steady_clock::now() - t0;
    state.PauseTiming();  // the caller's business
    invoices = {};
    state.ResumeTiming();
  }
  Finish(state, c, Seconds(spent));
  const double ns = state.counters["ns/event"];
  state.counters["state_MB"] = state_mb;
  state.counters["finish_%"] = 100.0 * Seconds(finishing) / Seconds(spent);
  if (LoopNs().count(c.Key())) {
    state.counters["loop_ns"] = LoopNs()[c.Key()];
    state.counters["x_loop"] = ns / LoopNs()[c.Key()];
  }
  if (StdNs().count(c.Key())) state.counters["x_std"] = ns / StdNs()[c.Key()];
  if (FloorNs().count(c.Key())) {
    state.counters["floor_ns"] = FloorNs()[c.Key()];
    state.counters["x_floor"] = ns / FloorNs()[c.Key()];
  }
}

// Reading the batches and nothing else (every column the plans read, one pass): the cost of
// the input format, which no engine can go below.
void BM_Scan(benchmark::State& state, std::size_t events, std::size_t customers) {
  Dataset& d = DataFor(customers, events);
  const auto fc = static_cast<std::size_t>(d.field_customer), fb = static_cast<std::size_t>(d.field_bytes),
             fr = static_cast<std::size_t>(d.field_region);
  std::chrono::steady_clock::duration spent{};
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < events / kBatchRows; ++i) {
      const Batch& b = d.batches[i];
      const auto& ids = b.columns[fc].texts;
      const auto& bytes = b.columns[fb].decimals;
      const auto& regions = b.columns[fr].texts;
      for (std::size_t k = 0; k < b.size(); ++k) {
        sum += static_cast<std::uint64_t>(ids[k].back()) + static_cast<std::uint64_t>(bytes[k].coefficient()) +
               static_cast<std::uint64_t>(regions[k].front());
      }
    }
    benchmark::DoNotOptimize(sum);
    spent += std::chrono::steady_clock::now() - t0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events));
  state.counters["ns/event"] = Seconds(spent) * 1e9 / static_cast<double>(state.iterations() * events);
}

std::string SizeName(std::size_t n) {
  return n >= (1u << 20) ? fmt::format("{}M", n >> 20) : fmt::format("{}K", n / 1000);
}

// Order matters: one population at a time, and the loops of a case before its engine run (the
// engine row reports the ratios to them).
void RegisterAll() {
  for (std::size_t customers : {std::size_t{1000}, std::size_t{100000}}) {
    for (std::size_t events : {std::size_t{1} << 20, std::size_t{20} << 20}) {
      auto* scan = benchmark::RegisterBenchmark(fmt::format("BM_Scan/{}/{}", SizeName(events), SizeName(customers)).c_str(),
                                                [events, customers](benchmark::State& st) { BM_Scan(st, events, customers); });
      scan->Unit(benchmark::kMillisecond);
      if (events > (std::size_t{1} << 20)) scan->Iterations(1);
      for (Scenario s : {Scenario::kUnit, Scenario::kTiers, Scenario::kMatrix, Scenario::kThirds}) {
        const Case c{s, events, customers};
        const std::string suffix = fmt::format("{}/{}/{}", ScenarioName(s), SizeName(events), SizeName(customers));
        benchmark::internal::Benchmark* runs[4] = {
            benchmark::RegisterBenchmark(("BM_Loop/" + suffix).c_str(),
                                         [c](benchmark::State& st) { BM_Loop<FastDictionary>(st, c, LoopNs()); }),
            benchmark::RegisterBenchmark(("BM_LoopStd/" + suffix).c_str(),
                                         [c](benchmark::State& st) { BM_Loop<StdDictionary>(st, c, StdNs()); }),
            benchmark::RegisterBenchmark(("BM_Floor/" + suffix).c_str(), [c](benchmark::State& st) { BM_Floor(st, c); }),
            benchmark::RegisterBenchmark(("BM_Engine/" + suffix).c_str(), [c](benchmark::State& st) { BM_Engine(st, c); })};
        for (auto* r : runs) {
          r->Unit(benchmark::kMillisecond);
          if (events > (std::size_t{1} << 20)) r->Iterations(1);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
