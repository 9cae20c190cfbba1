// runtime/exec: the batch interpreter. A program runs instruction by instruction; each
// instruction loops over every row of the batch (or every invoice line), so the switch is
// taken once per instruction per batch, not once per event.
//
// Where the time goes, and what is done about it (docs/benchmarks.md, "Rating engine"):
// - Customer ids arrive as text, so every event costs one hash lookup. The dictionary is an
//   open-addressing table over an arena of id bytes; with many customers a batch is encoded in
//   two passes (hash and prefetch, then probe), so that the cache misses overlap.
// - Meter state lives in flat arrays per meter and aggregation: indexed by customer when the
//   meter is not grouped, by a dense slot of (customer, group values) when it is; group values
//   are interned to small ids, so no key is ever built from strings. The accumulate loops
//   prefetch the slots of rows a few ahead (the slots of a batch are random).
// - Registers are views: an input register points at the batch's column instead of copying it.
// - Meters with the same filter share one evaluation of it per batch, and a meter's value (or
//   a per-event charge's amount) is computed only for the rows its filter selects (so a
//   `where` guards the value: `sum(e.a / e.b) where e.b != 0` never divides by zero).
// - Finish makes the invoices in their final order (by customer id) and appends every line in
//   that order; with 100K customers, building the Invoice objects is most of what is left.
#include "runtime/exec/exec.h"

#include "runtime/columnar/text_dictionary.h"
#include "runtime/columnar/timestamp.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

namespace tariff {
namespace {

using ir::Aggregation;
using ir::Op;
using ir::ValueKind;

// ---- Dictionaries ------------------------------------------------------------------------------
// TextDictionary and the text hash: runtime/columnar/text_dictionary.h.
using keys::HashText;
using keys::Load32;
using keys::Load64;
using keys::Mix;
using keys::SameBytes;
using keys::TextDictionary;

// (customer, group combination) → dense slot, for grouped meters and charges.
class PairIndex {
 public:
  PairIndex() : entries_(16), mask_(15) {}

  // The slots of `n` keys; a key seen for the first time gets `next` (and `next` is advanced).
  // Two passes with a prefetch, as TextDictionary::Encode.
  template <typename OnNew>
  void Encode(const std::uint64_t* keys, std::size_t n, std::uint32_t* out, OnNew on_new) {
    hashes_.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      hashes_[k] = Mix(keys[k]);
      __builtin_prefetch(&entries_[hashes_[k] & mask_]);
    }
    for (std::size_t k = 0; k < n; ++k) out[k] = Find(keys[k], hashes_[k], on_new);
  }

 private:
  struct Entry {
    std::uint64_t key = 0;
    std::uint32_t slot = 0;  // slot + 1; 0: empty
  };

  template <typename OnNew>
  std::uint32_t Find(std::uint64_t key, std::uint64_t h, OnNew& on_new) {
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Entry& e = entries_[i];
      if (e.slot == 0) {
        const std::uint32_t slot = on_new(key);
        e = {key, slot + 1};
        if (++size_ * 4 > entries_.size() * 3) Grow();
        return slot;
      }
      if (e.key == key) return e.slot - 1;
    }
  }

  void Grow() {
    std::vector<Entry> old(entries_.size() * 2);
    old.swap(entries_);
    mask_ = entries_.size() - 1;
    for (const Entry& e : old) {
      if (e.slot == 0) continue;
      std::size_t i = Mix(e.key) & mask_;
      while (entries_[i].slot != 0) i = (i + 1) & mask_;
      entries_[i] = e;
    }
  }

  std::vector<Entry> entries_;
  std::size_t mask_;
  std::size_t size_ = 0;
  std::vector<std::uint64_t> hashes_;
};

// ---- Registers and programs --------------------------------------------------------------------

// A register: one value per row, or one value for every row (`scalar`). The pointers are what
// instructions read: the register's own storage, or an input column (no copy). A decimal register
// is exact in one of three forms:
// - plain: Decimals (`d`), while every value is one;
// - scaled: Decimals over one common positive denominator (`d[k] ÷ *den`), what a rate `per 7
//   call`, a conversion of seconds to minutes or a division by a constant gives: the values stay
//   Decimal numerators, so that multiplying, adding and the final rounding (one Decimal division)
//   run at Decimal speed;
// - exact: ExactNumbers (`q`), row by row, for anything else (a quotient by a row's own value,
//   a value that outgrows 38 digits). A row whose operands are Decimals holds the Decimal that
//   the plain form gives it (ExactNumber's arithmetic is Decimal's while it fits), so that what
//   one row shows never depends on the other rows of its batch.
// Only kRound turns a scaled or fraction value back into a plain Decimal. An instruction that has
// no scaled form turns its scaled operands into fractions first (Materialize).
struct Reg {
  ValueKind kind = ValueKind::kDecimal;
  bool scalar = false;
  const Decimal* d = nullptr;
  const Decimal* den = nullptr;  // scaled: the common denominator (> 0)
  const ExactNumber* q = nullptr;
  const std::uint8_t* b = nullptr;
  const std::string_view* t = nullptr;
  const std::int64_t* ts = nullptr;
  std::vector<Decimal> own_d;
  Decimal own_den;
  std::vector<ExactNumber> own_q;
  std::vector<std::uint8_t> own_b;
  std::vector<std::string_view> own_t;
  std::vector<std::int64_t> own_ts;
  std::vector<std::vector<TierPart>> tiers;  // kTiers: the tiers each row crossed

  std::size_t Index(std::size_t row) const { return scalar ? 0 : row; }
  // Plain Decimals (the fast paths read `d` directly).
  bool plain() const { return q == nullptr && den == nullptr; }
  // Row `row` of a decimal register, exactly.
  ExactNumber At(std::size_t row) const {
    if (q != nullptr) return q[Index(row)];
    if (den != nullptr) return ExactNumber::Quotient(d[Index(row)], *den);
    return d[Index(row)];
  }
};

// Turns a scaled register into exact values (for an instruction that has no scaled form).
void Materialize(Reg& r, std::size_t rows) {
  if (r.den == nullptr) return;
  const std::size_t n = r.scalar ? 1 : rows;
  std::vector<ExactNumber> values(n);
  for (std::size_t k = 0; k < n; ++k) values[k] = r.At(k);
  r.own_q = std::move(values);
  r.q = r.own_q.data();
  r.d = nullptr;
  r.den = nullptr;
}

// The columns a program reads: event fields (event programs) or line inputs (line programs).
using Inputs = std::vector<Column>;
// Line inputs whose values are not all Decimals (an average of thirds): per slot, the exact
// values, or empty when the slot's Decimal column holds them.
using ExactInputs = std::vector<std::vector<ExactNumber>>;

// The rows of a batch a program runs over: all of them, or those a filter selected.
struct Selection {
  bool all = true;
  std::size_t count = 0;
  std::vector<std::uint32_t> rows;  // when !all

  std::uint32_t Row(std::size_t j) const { return all ? static_cast<std::uint32_t>(j) : rows[j]; }
};

[[noreturn]] void Throw(const ir::Inst& in, const std::string& what) {
  throw RatingError(fmt::format("{}: {}", ir::OpName(in.op), what), in.source);
}

// A running exact sum: the coefficient and scale the Decimal `0 + v1 + v2 + …` would hold.
// The usual add (same scale, in range) is one 128-bit add and a range check in the loop; any
// other is handed to Decimal::TryAdd, so the value is the same. Add returns false, leaving the
// sum as it was, when the sum would no longer be a Decimal: the caller keeps that addend exactly
// elsewhere (a meter's `spill`). (Calling the out-of-line add was most of a sum's cost.)
struct Sum {
  int128 coefficient = 0;
  int scale = 0;

  [[nodiscard, gnu::always_inline]] bool Add(const Decimal& v) {
    if (v.scale() == scale) {
      int128 r;
      if (!__builtin_add_overflow(coefficient, v.coefficient(), &r) && InRange(r)) {
        coefficient = r;
        return true;
      }
    } else if (coefficient == 0 && scale < v.scale()) {  // 0 + v is v, at v's scale
      coefficient = v.coefficient();
      scale = v.scale();
      return true;
    }
    return AddSlow(v);
  }
  Decimal value() const { return coefficient == 0 && scale == 0 ? Decimal() : Decimal::FromParts(coefficient, scale); }

 private:
  [[gnu::noinline]] bool AddSlow(const Decimal& v) {
    Decimal d;
    if (!Decimal::TryAdd(value(), v, &d)) return false;
    coefficient = d.coefficient();
    scale = d.scale();
    return true;
  }
  // |c| <= 10^38 - 1, Decimal's range.
  static bool InRange(int128 c) {
    constexpr uint128 kMax = static_cast<uint128>(10000000000000000000ULL) * 10000000000000000000ULL - 1;
    return static_cast<uint128>(c) + kMax <= 2 * kMax;
  }
};

// Per slot, what a Sum could not hold, exactly (allocated on first use: nearly always never).
// Also, per slot, the sum of values that arrive scaled by one denominator (a per-minute price over
// seconds): their numerators are summed as Decimals and divided once, at the end.
//
// A slot that was given a quotient (ExactNumber::is_quotient) totals to a quotient, as
// ExactNumber's sum of those values would (`kept`), whether the quotient arrived as a scaled
// numerator or as an exact value: what a slot totals to never depends on which path the rows of
// its batches took.
struct Spill {
  std::vector<Fraction> values;
  std::vector<std::uint8_t> used;
  std::vector<std::uint8_t> kept;  // per slot: a quotient was added
  Decimal den;               // the scaled values' denominator; zero until the first
  std::vector<Sum> scaled;   // per slot: their numerators' sum

  // Out of line and cold: called from the hot loops only when a Decimal sum gives up.
  [[gnu::noinline, gnu::cold]] void Add(std::size_t slot, const Decimal& v) { AddExact(slot, Fraction(v), false); }
  // Adds an exact value (from the exact loops: a Decimal the sum could not hold, or a Fraction).
  [[gnu::noinline]] void Add(std::size_t slot, const ExactNumber& v) { AddExact(slot, v.exact(), v.is_quotient()); }
  // Whether values scaled by `d` can be summed here (the first denominator seen is the one).
  bool UseDenominator(const Decimal& d) {
    if (den.is_zero()) den = d;
    return den == d;
  }
  // Adds x ÷ den (after UseDenominator).
  void AddNumerator(std::size_t slot, const Decimal& x) {
    if (scaled.size() <= slot) scaled.resize(slot + 1);
    Keep(slot);
    if (!scaled[slot].Add(x)) AddExact(slot, Fraction::Quotient(x, den), true);
  }
  // `sum` plus what spilled from it in `slot`.
  ExactNumber Total(std::size_t slot, const Decimal& sum) const {
    const bool spilled = slot < used.size() && used[slot];
    const bool is_kept = slot < kept.size() && kept[slot];
    const bool has_scaled = slot < scaled.size() && !scaled[slot].value().is_zero();
    if (!spilled && !is_kept) return sum;
    Fraction total = Fraction(sum);
    if (spilled) total += values[slot];
    if (has_scaled) total += Fraction::Quotient(scaled[slot].value(), den);
    return is_kept ? ExactNumber::Keep(total) : ExactNumber::Of(total);
  }

 private:
  void Keep(std::size_t slot) {
    if (kept.size() <= slot) kept.resize(slot + 1);
    kept[slot] = 1;
  }
  void AddExact(std::size_t slot, const Fraction& v, bool is_kept) {
    if (values.size() <= slot) {
      values.resize(slot + 1);
      used.resize(slot + 1);
    }
    values[slot] += v;
    used[slot] = 1;
    if (is_kept) Keep(slot);
  }
};

// Numeric a < b, inline when the scales agree (the common case in a column).
inline bool Less(const Decimal& a, const Decimal& b) {
  return a.scale() == b.scale() ? a.coefficient() < b.coefficient() : Decimal::Compare(a, b) < 0;
}

// Marks a tier breakdown that cannot be shown (AddPart).
const std::string kTooWide = "\x01too wide";

ExactNumber ApplyTiersTo(const ir::TierTable& table, const ExactNumber& q, std::vector<TierPart>& parts);

// The bound tier `t` was written with: its `up_to`, or for the last tier of a table without
// `above` (whose spec has none: it goes on past it) the table's last bound. Absent for `above`.
const std::optional<ir::Number>& WrittenBound(const ir::TierTable& table, std::size_t t) {
  const ir::TierSpec& s = table.tiers[t];
  return !s.up_to && t + 1 == table.tiers.size() && table.beyond != ir::Beyond::kAbove ? table.last_bound : s.up_to;
}

// A tier's amount for `part` units of usage: the rate, started packages, the percentage.
ExactNumber TierAmountFor(const ir::TierSpec& s, const ExactNumber& part) {
  ExactNumber amount = part * s.unit_price;
  if (s.package) {
    const ExactNumber blocks = ExactNumber::Of(Fraction::Quotient(part.exact(), s.package->exact()).Ceil());
    amount = amount + blocks * ExactNumber(s.package_price);
  }
  if (!s.percent.is_zero()) amount = amount + part * ExactNumber(s.percent);
  return amount;
}

// Adds a tier crossed to an invoice line's breakdown, its values as shown (runtime/invoice holds
// Decimals). A value too wide to show leaves the line without a breakdown (`parts` gets one
// empty part, which the caller drops): the breakdown informs, the amount is exact regardless.
void AddPart(std::vector<TierPart>& parts, const ExactNumber& from, const ExactNumber& to, const ExactNumber& quantity,
             const ExactNumber& amount, const std::string& price) {
  if (!parts.empty() && parts.back().price == kTooWide) return;
  try {
    parts.push_back({from.Shown(), to.Shown(), quantity.Shown(), amount.Shown(), price});
  } catch (const DecimalError&) {
    parts.assign(1, TierPart{Decimal(), Decimal(), Decimal(), Decimal(), kTooWide});
  }
}

// Applies a tier table to one quantity, exactly; fills `parts` with each tier crossed (their
// values as shown: runtime/invoice holds Decimals).
ExactNumber ApplyTiers(const ir::TierTable& table, const ExactNumber& q, std::vector<TierPart>& parts) {
  parts.clear();
  const ExactNumber total = ApplyTiersTo(table, q, parts);
  if (!parts.empty() && parts.back().price == kTooWide) parts.clear();
  return total;
}

ExactNumber ApplyTiersTo(const ir::TierTable& table, const ExactNumber& q, std::vector<TierPart>& parts) {
  ExactNumber total;
  ExactNumber lower;
  if (table.tiers.empty()) return total;
  if (q.sign() <= 0) {
    // No usage: Stripe's rule bills the first tier's flat fee, unless the plan says otherwise.
    const ir::TierSpec& first = table.tiers.front();
    if (table.flat_at_zero && !first.flat.is_zero()) {
      const std::optional<ir::Number>& bound = WrittenBound(table, 0);
      parts.push_back({Decimal(), bound ? bound->Shown() : Decimal(), Decimal(), first.flat, first.price_text});
      total = first.flat;
    }
    return total;
  }
  if (table.graduated) {
    for (const ir::TierSpec& s : table.tiers) {
      if (q <= lower) break;
      ExactNumber upper = s.up_to && *s.up_to < q ? *s.up_to : q;
      ExactNumber part = upper - lower;
      ExactNumber amount = TierAmountFor(s, part) + ExactNumber(s.flat);
      AddPart(parts, lower, upper, part, amount, s.price_text);
      total = total + amount;
      if (!s.up_to) break;
      lower = *s.up_to;
    }
    return total;
  }
  for (const ir::TierSpec& s : table.tiers) {
    if (!s.up_to || q <= *s.up_to) {
      ExactNumber amount = TierAmountFor(s, q) + ExactNumber(s.flat);
      AddPart(parts, lower, q, q, amount, s.price_text);
      return amount;
    }
    lower = *s.up_to;
  }
  return total;
}

// The same over Decimals, for a table whose numbers are all Decimals: false (and `parts` to be
// refilled) when a value leaves Decimal, so that the caller applies the exact form instead.
// (The common case, kept free of ExactNumber's bookkeeping.)
bool TryApplyTiers(const ir::TierTable& table, const Decimal& q, std::vector<TierPart>& parts, Decimal* out) {
  parts.clear();
  Decimal total, lower;
  *out = Decimal();
  if (table.tiers.empty()) return true;
  if (q.sign() <= 0) {
    const ir::TierSpec& first = table.tiers.front();
    if (table.flat_at_zero && !first.flat.is_zero()) {
      const std::optional<ir::Number>& bound = WrittenBound(table, 0);
      parts.push_back({Decimal(), bound ? bound->decimal() : Decimal(), Decimal(), first.flat, first.price_text});
      *out = first.flat;
    }
    return true;
  }
  auto amount_for = [](const ir::TierSpec& s, const Decimal& part, Decimal* amount) {
    if (!Decimal::TryMultiply(part, s.unit_price.decimal(), amount)) return false;
    if (s.package) {
      Decimal blocks, price;
      try {
        blocks = Decimal::Divide(part, s.package->decimal(), 0, RoundingMode::kCeiling);
      } catch (const DecimalError&) {
        return false;
      }
      if (!Decimal::TryMultiply(blocks, s.package_price, &price) || !Decimal::TryAdd(*amount, price, amount)) return false;
    }
    Decimal percent;
    if (!s.percent.is_zero() && !(Decimal::TryMultiply(part, s.percent, &percent) && Decimal::TryAdd(*amount, percent, amount))) return false;
    return Decimal::TryAdd(*amount, s.flat, amount);
  };
  if (table.graduated) {
    for (const ir::TierSpec& s : table.tiers) {
      if (q <= lower) break;
      const Decimal upper = s.up_to && s.up_to->decimal() < q ? s.up_to->decimal() : q;
      Decimal part, amount;
      if (!Decimal::TrySubtract(upper, lower, &part) || !amount_for(s, part, &amount) || !Decimal::TryAdd(total, amount, &total)) return false;
      parts.push_back({lower, upper, part, amount, s.price_text});
      if (!s.up_to) break;
      lower = s.up_to->decimal();
    }
    *out = total;
    return true;
  }
  for (const ir::TierSpec& s : table.tiers) {
    if (!s.up_to || q <= s.up_to->decimal()) {
      Decimal amount;
      if (!amount_for(s, q, &amount)) return false;
      parts.push_back({lower, q, q, amount, s.price_text});
      *out = amount;
      return true;
    }
    lower = s.up_to->decimal();
  }
  return true;
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

// out[k] = f(a[k], b[k]) for `rows` rows, scalars broadcast; the scalar test is outside the
// loop so that the loop body is only `f`.
template <typename T, typename U, typename F>
void Binary(const T* a, bool a_scalar, const T* b, bool b_scalar, std::size_t rows, U* out, F f) {
  if (!a_scalar && !b_scalar) {
    for (std::size_t k = 0; k < rows; ++k) out[k] = f(a[k], b[k]);
  } else if (b_scalar) {
    for (std::size_t k = 0; k < rows; ++k) out[k] = f(a[k], b[0]);
  } else {
    for (std::size_t k = 0; k < rows; ++k) out[k] = f(a[0], b[k]);
  }
}

// The same for a Decimal operation that can fail (`f(x, y, &out)` false: the result is no
// Decimal); false as soon as one row fails.
template <typename F>
bool TryBinary(const Decimal* a, bool a_scalar, const Decimal* b, bool b_scalar, std::size_t rows, Decimal* out, F f) {
  if (!a_scalar && !b_scalar) {
    for (std::size_t k = 0; k < rows; ++k) {
      if (!f(a[k], b[k], &out[k])) return false;
    }
  } else if (b_scalar) {
    for (std::size_t k = 0; k < rows; ++k) {
      if (!f(a[k], b[0], &out[k])) return false;
    }
  } else {
    for (std::size_t k = 0; k < rows; ++k) {
      if (!f(a[0], b[k], &out[k])) return false;
    }
  }
  return true;
}

// r = a op b over decimal registers: `fast` on Decimals while every row's result is one, else
// `exact` on ExactNumbers for every row (the same Decimal for a row whose `fast` succeeds).
template <typename Fast, typename Exact>
void Arithmetic(Reg& r, const Reg& a, const Reg& b, std::size_t rows, Fast fast, Exact exact) {
  if (a.plain() && b.plain()) {
    r.own_d.resize(rows);
    if (TryBinary(a.d, a.scalar, b.d, b.scalar, rows, r.own_d.data(), fast)) {
      r.d = r.own_d.data();
      return;
    }
  }
  r.own_q.resize(rows);
  for (std::size_t k = 0; k < rows; ++k) r.own_q[k] = exact(a.At(k), b.At(k));
  r.q = r.own_q.data();
}

// r = f(a) row by row: `fast(x, &out)` on Decimals while it succeeds, else `exact` on exact values.
template <typename Fast, typename Exact>
void Unary(Reg& r, const Reg& a, std::size_t rows, Fast fast, Exact exact) {
  if (a.plain()) {
    r.own_d.resize(rows);
    std::size_t k = 0;
    while (k < rows && fast(a.d[a.Index(k)], &r.own_d[k])) ++k;
    if (k == rows) {
      r.d = r.own_d.data();
      return;
    }
  }
  r.own_q.resize(rows);
  for (std::size_t k = 0; k < rows; ++k) r.own_q[k] = exact(a.At(k));
  r.q = r.own_q.data();
}

// The scaled forms (see Reg). Each returns false, leaving `r` to the caller's general path, when a
// numerator or the denominator would not be a Decimal.

// r = a ÷ b for a scalar plain b > 0 and a plain (the numerators are a itself) or scaled (the
// denominator grows by b).
bool ScaledQuotient(Reg& r, const Reg& a, const Reg& b) {
  if (a.q != nullptr || !b.plain() || !b.scalar || b.d[0].sign() <= 0) return false;
  if (a.den == nullptr) {
    r.d = a.d;  // a register outlives the instructions after it: no copy
    r.den = b.d;
    return true;
  }
  if (!Decimal::TryMultiply(*a.den, b.d[0], &r.own_den)) return false;
  r.d = a.d;
  r.den = &r.own_den;
  return true;
}

// r = a × b where one is scaled and the other plain (or both scaled).
bool ScaledProduct(Reg& r, const Reg& a, const Reg& b, std::size_t rows) {
  if (a.q != nullptr || b.q != nullptr || (a.den == nullptr && b.den == nullptr)) return false;
  if (a.den != nullptr && b.den != nullptr) {
    if (!Decimal::TryMultiply(*a.den, *b.den, &r.own_den)) return false;
  } else {
    r.own_den = a.den != nullptr ? *a.den : *b.den;
  }
  r.own_d.resize(rows);
  if (!TryBinary(a.d, a.scalar, b.d, b.scalar, rows, r.own_d.data(),
                 [](const Decimal& x, const Decimal& y, Decimal* o) { return Decimal::TryMultiply(x, y, o); })) {
    return false;
  }
  r.d = r.own_d.data();
  r.den = &r.own_den;
  return true;
}

// r = a ± b where one is scaled and the other plain, or both scaled by equal denominators:
// (x ± y × den) ÷ den.
bool ScaledSum(Reg& r, const Reg& a, const Reg& b, std::size_t rows, bool subtract) {
  if (a.q != nullptr || b.q != nullptr || (a.den == nullptr && b.den == nullptr)) return false;
  if (a.den != nullptr && b.den != nullptr && !(*a.den == *b.den)) return false;
  const Decimal den = a.den != nullptr ? *a.den : *b.den;
  const bool a_scale = a.den == nullptr, b_scale = b.den == nullptr;  // the plain side times den
  r.own_d.resize(rows);
  for (std::size_t k = 0; k < rows; ++k) {
    Decimal x = a.d[a.Index(k)], y = b.d[b.Index(k)];
    if ((a_scale && !Decimal::TryMultiply(x, den, &x)) || (b_scale && !Decimal::TryMultiply(y, den, &y)) ||
        !(subtract ? Decimal::TrySubtract(x, y, &r.own_d[k]) : Decimal::TryAdd(x, y, &r.own_d[k]))) {
      return false;
    }
  }
  r.own_den = den;
  r.d = r.own_d.data();
  r.den = &r.own_den;
  return true;
}

// Compares a scaled register with a plain one (or two equally scaled) row by row, exactly:
// x ÷ den against y is x against y × den. False when a product does not fit a Decimal.
bool ScaledCompare(const Reg& a, const Reg& b, std::size_t rows, std::uint8_t* out, Op op) {
  if (a.q != nullptr || b.q != nullptr || (a.den == nullptr && b.den == nullptr)) return false;
  if (a.den != nullptr && b.den != nullptr && !(*a.den == *b.den)) return false;
  const Decimal den = a.den != nullptr ? *a.den : *b.den;
  const bool a_scale = a.den == nullptr, b_scale = b.den == nullptr;
  for (std::size_t k = 0; k < rows; ++k) {
    Decimal x = a.d[a.Index(k)], y = b.d[b.Index(k)];
    if ((a_scale && !Decimal::TryMultiply(x, den, &x)) || (b_scale && !Decimal::TryMultiply(y, den, &y))) return false;
    out[k] = CompareOp(op, Decimal::Compare(x, y));
  }
  return true;
}

// Sets r to rows of exact values (plain when every one is a Decimal).
void SetExact(Reg& r, const std::vector<ExactNumber>& values) {
  const bool decimals = std::all_of(values.begin(), values.end(), [](const ExactNumber& v) { return v.is_decimal(); });
  if (decimals) {
    r.own_d.resize(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) r.own_d[k] = values[k].decimal();
    r.d = r.own_d.data();
  } else {
    r.own_q = values;
    r.q = r.own_q.data();
  }
}

// Whether a tier table's numbers are all Decimals (then the Decimal path may try it first).
bool DecimalTable(const ir::TierTable& table) {
  return std::all_of(table.tiers.begin(), table.tiers.end(), [](const ir::TierSpec& s) {
    return s.unit_price.is_decimal() && (!s.up_to || s.up_to->is_decimal()) && (!s.package || s.package->is_decimal());
  });
}

// Runs `p` over `sel.count` rows of `inputs` (row j of every register is input row sel.Row(j));
// fills the register file (the result is regs[p.result]). `exact_inputs`, for line programs:
// the inputs whose values are Fractions.
void Run(const ir::Program& p, const Inputs& inputs, const Selection& sel, std::vector<Reg>& regs,
         const ExactInputs* exact_inputs = nullptr) {
  const std::size_t n = sel.count;
  if (regs.size() < p.insts.size()) regs.resize(p.insts.size());
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    const ir::Inst& in = p.insts[i];
    Reg& r = regs[i];
    r.kind = in.type.kind;
    r.d = nullptr;
    r.den = nullptr;
    r.q = nullptr;
    r.b = nullptr;
    r.t = nullptr;
    r.ts = nullptr;
    r.tiers.clear();
    const Reg* a = in.a >= 0 ? &regs[static_cast<std::size_t>(in.a)] : nullptr;
    const Reg* b = in.b >= 0 ? &regs[static_cast<std::size_t>(in.b)] : nullptr;
    const bool scalar = (a == nullptr || a->scalar) && (b == nullptr || b->scalar) && in.op != Op::kInput &&
                        in.op != Op::kMatch;
    const std::size_t rows = scalar ? 1 : n;
    r.scalar = scalar;
    switch (in.op) {
      case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kDiv: case Op::kNeg: case Op::kRound:
      case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe:
        break;  // these read scaled registers as they are
      default:
        if (in.a >= 0) Materialize(regs[static_cast<std::size_t>(in.a)], n);
        if (in.b >= 0) Materialize(regs[static_cast<std::size_t>(in.b)], n);
        for (std::int32_t x : in.args) Materialize(regs[static_cast<std::size_t>(x)], n);
    }
    try {
      switch (in.op) {
        case Op::kInput: {
          const auto slot = static_cast<std::size_t>(in.imm);
          const Column& c = inputs[slot];
          if (exact_inputs != nullptr && !(*exact_inputs)[slot].empty()) {  // line programs run over all rows
            r.kind = ValueKind::kDecimal;
            r.q = (*exact_inputs)[slot].data();
            break;
          }
          // All rows: the register is the column. Selected rows: gather them.
          switch (c.type) {
            case ColumnType::kDecimal:
              r.kind = ValueKind::kDecimal;
              if (sel.all) {
                r.d = c.decimals.data();
              } else {
                r.own_d.resize(n);
                for (std::size_t j = 0; j < n; ++j) r.own_d[j] = c.decimals[sel.rows[j]];
                r.d = r.own_d.data();
              }
              break;
            case ColumnType::kBool:
              r.kind = ValueKind::kBool;
              if (sel.all) {
                r.b = c.bools.data();
              } else {
                r.own_b.resize(n);
                for (std::size_t j = 0; j < n; ++j) r.own_b[j] = c.bools[sel.rows[j]];
                r.b = r.own_b.data();
              }
              break;
            case ColumnType::kTimestamp:
              r.kind = ValueKind::kTimestamp;
              if (sel.all) {
                r.ts = c.times.data();
              } else {
                r.own_ts.resize(n);
                for (std::size_t j = 0; j < n; ++j) r.own_ts[j] = c.times[sel.rows[j]];
                r.ts = r.own_ts.data();
              }
              break;
            case ColumnType::kText:
              r.kind = ValueKind::kText;
              r.own_t.resize(n);
              for (std::size_t j = 0; j < n; ++j) r.own_t[j] = c.texts[sel.Row(j)];
              r.t = r.own_t.data();
              break;
          }
          break;
        }
        case Op::kConst: {
          const ir::Constant& c = p.constants[static_cast<std::size_t>(in.imm)];
          r.scalar = true;
          r.kind = c.kind;
          if (c.kind == ValueKind::kDecimal) {
            if (!c.fraction) {
              r.d = &c.number;
            } else if (std::optional<Decimal> num = Fraction::Of(c.fraction->numerator(), 1).ToDecimal(),
                       den = Fraction::Of(c.fraction->denominator(), 1).ToDecimal();
                       num && den) {
              r.own_d.assign(1, *num);  // scaled: `1/600` is 1 over 600
              r.own_den = *den;
              r.d = r.own_d.data();
              r.den = &r.own_den;
            } else {
              r.own_q.assign(1, ExactNumber::Keep(*c.fraction));
              r.q = r.own_q.data();
            }
          }
          if (c.kind == ValueKind::kBool) {
            r.own_b.assign(1, c.boolean ? 1 : 0);
            r.b = r.own_b.data();
          }
          if (c.kind == ValueKind::kText) {
            r.own_t.assign(1, c.text);
            r.t = r.own_t.data();
          }
          break;
        }
        case Op::kAdd:
        case Op::kSub:
          if (!a->plain() || !b->plain()) {
            if (ScaledSum(r, *a, *b, rows, in.op == Op::kSub)) break;
            r.den = nullptr;
            Materialize(regs[static_cast<std::size_t>(in.a)], n);
            Materialize(regs[static_cast<std::size_t>(in.b)], n);
          }
          if (in.op == Op::kAdd) {
            Arithmetic(r, *a, *b, rows, [](const Decimal& x, const Decimal& y, Decimal* o) { return Decimal::TryAdd(x, y, o); },
                       [](const ExactNumber& x, const ExactNumber& y) { return x + y; });
          } else {
            Arithmetic(r, *a, *b, rows, [](const Decimal& x, const Decimal& y, Decimal* o) { return Decimal::TrySubtract(x, y, o); },
                       [](const ExactNumber& x, const ExactNumber& y) { return x - y; });
          }
          break;
        case Op::kMul:
          if (!a->plain() || !b->plain()) {
            if (ScaledProduct(r, *a, *b, rows)) break;
            r.den = nullptr;
            Materialize(regs[static_cast<std::size_t>(in.a)], n);
            Materialize(regs[static_cast<std::size_t>(in.b)], n);
          }
          Arithmetic(r, *a, *b, rows, [](const Decimal& x, const Decimal& y, Decimal* o) { return Decimal::TryMultiply(x, y, o); },
                     [](const ExactNumber& x, const ExactNumber& y) { return x * y; });
          break;
        case Op::kDiv: {
          // A quotient is exact and keeps no scale (ExactNumber::Quotient): by a constant, the
          // scaled form; else row by row.
          if (ScaledQuotient(r, *a, *b)) break;
          r.d = nullptr;
          r.den = nullptr;
          Materialize(regs[static_cast<std::size_t>(in.a)], n);
          Materialize(regs[static_cast<std::size_t>(in.b)], n);
          r.own_q.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) {
            const ExactNumber y = b->At(k);
            if (y.is_zero()) Throw(in, "division by zero");
            r.own_q[k] = ExactNumber::Quotient(a->At(k), y);
          }
          r.q = r.own_q.data();
          break;
        }
        case Op::kNeg:
          if (a->den != nullptr) {
            r.own_d.resize(rows);
            for (std::size_t k = 0; k < rows; ++k) r.own_d[k] = -a->d[a->Index(k)];
            r.own_den = *a->den;
            r.d = r.own_d.data();
            r.den = &r.own_den;
            break;
          }
          Unary(r, *a, rows, [](const Decimal& x, Decimal* o) { return *o = -x, true; }, [](const ExactNumber& x) { return -x; });
          break;
        case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe: {
          r.kind = ValueKind::kBool;
          r.own_b.resize(rows);
          std::uint8_t* out = r.own_b.data();
          const Op op = in.op;
          switch (a->kind) {
            case ValueKind::kDecimal:
              if (a->plain() && b->plain()) {
                Binary(a->d, a->scalar, b->d, b->scalar, rows, out,
                       [op](const Decimal& x, const Decimal& y) -> std::uint8_t { return CompareOp(op, Decimal::Compare(x, y)); });
              } else if (!ScaledCompare(*a, *b, rows, out, op)) {
                for (std::size_t k = 0; k < rows; ++k) out[k] = CompareOp(op, ExactNumber::Compare(a->At(k), b->At(k)));
              }
              break;
            case ValueKind::kText:
              if (op == Op::kEq || op == Op::kNe) {  // the usual filter: a field against a literal
                const std::uint8_t eq = op == Op::kEq;
                Binary(a->t, a->scalar, b->t, b->scalar, rows, out, [eq](std::string_view x, std::string_view y) -> std::uint8_t {
                  return (x.size() == y.size() && SameBytes(x.data(), y.data(), x.size())) == eq;
                });
              } else {
                Binary(a->t, a->scalar, b->t, b->scalar, rows, out,
                       [op](std::string_view x, std::string_view y) -> std::uint8_t { return CompareOp(op, x.compare(y)); });
              }
              break;
            case ValueKind::kBool:
              Binary(a->b, a->scalar, b->b, b->scalar, rows, out,
                     [op](std::uint8_t x, std::uint8_t y) -> std::uint8_t { return CompareOp(op, int(x) - int(y)); });
              break;
            case ValueKind::kTimestamp:
              Binary(a->ts, a->scalar, b->ts, b->scalar, rows, out, [op](std::int64_t x, std::int64_t y) -> std::uint8_t {
                return CompareOp(op, (x > y) - (x < y));
              });
              break;
          }
          r.b = out;
          break;
        }
        case Op::kAnd:
        case Op::kOr: {
          r.own_b.resize(rows);
          if (in.op == Op::kAnd) {
            Binary(a->b, a->scalar, b->b, b->scalar, rows, r.own_b.data(),
                   [](std::uint8_t x, std::uint8_t y) -> std::uint8_t { return x & y; });
          } else {
            Binary(a->b, a->scalar, b->b, b->scalar, rows, r.own_b.data(),
                   [](std::uint8_t x, std::uint8_t y) -> std::uint8_t { return x | y; });
          }
          r.b = r.own_b.data();
          break;
        }
        case Op::kNot:
          r.own_b.resize(rows);
          for (std::size_t k = 0; k < rows; ++k) r.own_b[k] = a->b[k] ^ 1;
          r.b = r.own_b.data();
          break;
        case Op::kMin:
        case Op::kMax: {
          const bool min = in.op == Op::kMin;
          Arithmetic(
              r, *a, *b, rows,
              [min](const Decimal& x, const Decimal& y, Decimal* o) {
                const int c = Decimal::Compare(x, y);
                *o = (min ? c <= 0 : c >= 0) ? x : y;
                return true;
              },
              [min](const ExactNumber& x, const ExactNumber& y) {
                const int c = ExactNumber::Compare(x, y);
                return (min ? c <= 0 : c >= 0) ? x : y;
              });
          break;
        }
        case Op::kCeilStep:
        case Op::kFloorStep:
        case Op::kPackages: {
          // blocks = ceil (floor) of a ÷ b, exactly; the step or packages from there.
          const Op op = in.op;
          auto step_check = [&in](int sign, const std::string& step) {
            if (sign <= 0) Throw(in, fmt::format("the step {} is not above zero", step));
          };
          Arithmetic(
              r, *a, *b, rows,
              [&, op](const Decimal& x, const Decimal& step, Decimal* o) {
                step_check(step.sign(), step.ToString());
                try {
                  const Decimal blocks = Decimal::Divide(x, step, 0, op == Op::kFloorStep ? RoundingMode::kFloor : RoundingMode::kCeiling);
                  if (op == Op::kPackages) {
                    *o = blocks;
                    return true;
                  }
                  return Decimal::TryMultiply(blocks, step, o);
                } catch (const DecimalError&) {
                  return false;  // more blocks than 38 digits hold: exactly, below
                }
              },
              [&, op](const ExactNumber& x, const ExactNumber& step) {
                step_check(step.sign(), step.ToString());
                const Fraction q = Fraction::Quotient(x.exact(), step.exact());
                // A whole number of blocks (a Decimal of scale 0, as the Decimal form's).
                const ExactNumber blocks = ExactNumber::Of(op == Op::kFloorStep ? q.Floor() : q.Ceil());
                return op == Op::kPackages ? blocks : blocks * step;
              });
          break;
        }
        case Op::kClampZero:
          Unary(r, *a, rows, [](const Decimal& x, Decimal* o) { return *o = x.sign() < 0 ? Decimal(0) : x, true; },
                [](const ExactNumber& x) { return x.sign() < 0 ? ExactNumber(0) : x; });
          break;
        case Op::kRound: {
          // The one way a Fraction becomes a Decimal: rounded once, exactly.
          r.own_d.resize(rows);
          if (a->plain()) {
            for (std::size_t k = 0; k < rows; ++k) r.own_d[k] = RoundDecimal(a->d[a->Index(k)], in.scale, in.mode);
          } else if (a->den != nullptr) {
            const Decimal& den = *a->den;
            for (std::size_t k = 0; k < rows; ++k) {
              try {
                r.own_d[k] = Decimal::Divide(a->d[a->Index(k)], den, in.scale, in.mode);
              } catch (const DecimalError&) {  // wide: the exact form decides (see RoundDecimal)
                r.own_d[k] = Fraction::Quotient(a->d[a->Index(k)], den).Round(in.scale, in.mode);
              }
            }
          } else {
            for (std::size_t k = 0; k < rows; ++k) r.own_d[k] = a->q[a->Index(k)].Round(in.scale, in.mode);
          }
          r.d = r.own_d.data();
          break;
        }
        case Op::kTiers: {
          const ir::TierTable& table = p.tier_tables[static_cast<std::size_t>(in.imm)];
          r.tiers.resize(rows);
          if (a->plain() && DecimalTable(table)) {
            r.own_d.resize(rows);
            std::size_t k = 0;
            while (k < rows && TryApplyTiers(table, a->d[a->Index(k)], r.tiers[k], &r.own_d[k])) ++k;
            if (k == rows) {
              r.d = r.own_d.data();
              break;
            }
          }
          std::vector<ExactNumber> values(rows);
          for (std::size_t k = 0; k < rows; ++k) values[k] = ApplyTiers(table, a->At(k), r.tiers[k]);
          SetExact(r, values);
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
          // Decimal arms any of which is not plain: the match holds exact values.
          bool exact = false;
          if (r.kind == ValueKind::kDecimal) {
            for (std::size_t arm = 0; arm < table.patterns.size(); ++arm) exact |= !regs[static_cast<std::size_t>(in.args[arm + 1])].plain();
          }
          r.scalar = false;
          switch (r.kind) {
            case ValueKind::kDecimal:
              if (exact) r.own_q.resize(n);
              else r.own_d.resize(n);
              break;
            case ValueKind::kBool: r.own_b.resize(n); break;
            case ValueKind::kText: r.own_t.resize(n); break;
            case ValueKind::kTimestamp: r.own_ts.resize(n); break;
          }
          for (std::size_t k = 0; k < n; ++k) {
            const std::string_view key = subject.t[subject.Index(k)];
            auto it = arm_of.find(key);
            std::size_t arm = it != arm_of.end() ? it->second : else_arm;
            if (arm >= table.patterns.size()) Throw(in, fmt::format("no arm matches \"{}\"", key));
            const Reg& v = regs[static_cast<std::size_t>(in.args[arm + 1])];
            const std::size_t x = v.Index(k);
            switch (r.kind) {
              case ValueKind::kDecimal:
                if (exact) r.own_q[k] = v.At(k);
                else r.own_d[k] = v.d[x];
                break;
              case ValueKind::kBool: r.own_b[k] = v.b[x]; break;
              case ValueKind::kText: r.own_t[k] = v.t[x]; break;
              case ValueKind::kTimestamp: r.own_ts[k] = v.ts[x]; break;
            }
          }
          if (r.kind == ValueKind::kDecimal && exact) r.q = r.own_q.data();
          else r.d = r.own_d.data();
          r.b = r.own_b.data();
          r.t = r.own_t.data();
          r.ts = r.own_ts.data();
          break;
        }
      }
    } catch (const DecimalError& e) {
      Throw(in, e.what());
    }
  }
}

// Whether two programs compute the same thing (spans aside): meters with the same `where`
// share one evaluation of it per batch.
bool SameProgram(const ir::Program& x, const ir::Program& y) {
  if (x.result != y.result || x.insts.size() != y.insts.size() || x.constants.size() != y.constants.size() ||
      !x.tier_tables.empty() || !y.tier_tables.empty() || x.match_tables.size() != y.match_tables.size()) {
    return false;
  }
  for (std::size_t i = 0; i < x.insts.size(); ++i) {
    const ir::Inst& a = x.insts[i];
    const ir::Inst& b = y.insts[i];
    if (a.op != b.op || a.type.kind != b.type.kind || a.type.unit != b.type.unit || a.a != b.a || a.b != b.b ||
        a.args != b.args || a.imm != b.imm || a.scale != b.scale || a.mode != b.mode) {
      return false;
    }
  }
  for (std::size_t i = 0; i < x.constants.size(); ++i) {
    const ir::Constant& a = x.constants[i];
    const ir::Constant& b = y.constants[i];
    if (a.kind != b.kind || !a.number.IdenticalTo(b.number) || a.fraction.has_value() != b.fraction.has_value() ||
        (a.fraction && !(*a.fraction == *b.fraction)) || a.text != b.text || a.boolean != b.boolean) {
      return false;
    }
  }
  for (std::size_t i = 0; i < x.match_tables.size(); ++i) {
    if (x.match_tables[i].patterns != y.match_tables[i].patterns) return false;
  }
  return true;
}

// ---- Engine state ------------------------------------------------------------------------------

// Customers × the values of some fields of one event: one slot per combination seen. Meters and
// per-event charges grouped by the same fields share it (each keeps which slots it saw).
struct Grouping {
  int event = -1;
  std::vector<int> fields;
  TextDictionary tuples;  // more than one field: the bytes of the value ids → combination
  std::vector<std::vector<std::uint32_t>> tuple_values;  // combination → value id per field
  PairIndex index;        // (customer, combination) → slot
  std::vector<std::uint32_t> slot_customer, slot_combo;
  std::vector<std::uint32_t> row_slot;  // the current batch's rows
};

// A meter's state, one entry per slot (per customer when it is not grouped). Only the arrays its
// aggregation needs are used.
struct MeterState {
  int grouping = -1;   // index into State::groupings, or -1
  int filter = -1;     // index into State::filters, or -1
  int value_field = -1;  // the value program is just this field of the event (read in place)
  std::vector<std::uint64_t> count;
  std::vector<Sum> sum;
  Spill spill;                       // sum, average: what a slot's Sum could not hold
  std::vector<Decimal> value;        // min/max: the extreme; latest: the latest value
  std::vector<std::uint8_t> has;     // min/max/latest: a value was seen
  std::vector<std::int64_t> time;    // latest: its time
  // min/max/latest: the slot's value when it is no Decimal (is_exact[slot]); any_exact once one is.
  std::vector<ExactNumber> exact;
  std::vector<std::uint8_t> is_exact;
  bool any_exact = false;
  std::vector<std::set<std::string>> distinct;
  std::vector<std::vector<std::pair<std::int64_t, Decimal>>> samples;
  std::vector<std::vector<std::pair<std::int64_t, ExactNumber>>> exact_samples;  // samples that are no Decimal
  std::vector<std::uint8_t> present;  // grouped: the slots this meter saw

  // min/max/latest: the value held in `slot`.
  ExactNumber Held(std::size_t slot) const {
    return slot < is_exact.size() && is_exact[slot] ? exact[slot] : ExactNumber(value[slot]);
  }
  void Hold(std::size_t slot, const ExactNumber& v) {
    if (v.is_decimal()) {
      value[slot] = v.decimal();
      if (slot < is_exact.size()) is_exact[slot] = 0;
      return;
    }
    if (exact.size() <= slot) {
      exact.resize(value.size());
      is_exact.resize(value.size());
    }
    exact[slot] = v;
    is_exact[slot] = 1;
    any_exact = true;
  }

  void Resize(Aggregation aggregation, std::size_t n) {
    if (grouping >= 0 && present.size() < n) present.resize(n);
    switch (aggregation) {
      case Aggregation::kCount: if (count.size() < n) count.resize(n); break;
      case Aggregation::kCountDistinct: if (distinct.size() < n) distinct.resize(n); break;
      case Aggregation::kSum: if (sum.size() < n) sum.resize(n); break;
      case Aggregation::kAverage:
        if (sum.size() < n) sum.resize(n);
        if (count.size() < n) count.resize(n);
        break;
      case Aggregation::kMin:
      case Aggregation::kMax:
        if (value.size() < n) value.resize(n);
        if (has.size() < n) has.resize(n);
        break;
      case Aggregation::kLatest:
        if (value.size() < n) value.resize(n);
        if (has.size() < n) has.resize(n);
        if (time.size() < n) time.resize(n);
        break;
      case Aggregation::kTimeWeightedAverage:
      case Aggregation::kIntegral: if (samples.size() < n) samples.resize(n); break;
    }
  }
};

// A priced event kept for `free first` (decided at Finish): `weight` identical events.
struct EventCharge {
  std::int64_t time;
  ExactNumber amount;
  Decimal free_value;
  std::uint64_t weight = 1;
};

// A per-event charge's state, per slot (per customer when it is not grouped).
struct ChargeState {
  int grouping = -1;
  int filter = -1;
  std::vector<Sum> sum;
  Spill spill;  // what a slot's Sum could not hold
  std::vector<std::uint8_t> present;
  std::vector<std::vector<EventCharge>> kept;  // `free first`: the events, decided at Finish
};

// A total order on exact values for ties: by value, then Decimals before Fractions, then by scale
// (5.0 before 5.00), so that which of two equal values a meter keeps never depends on the order
// of events.
int CompareForTies(const ExactNumber& x, const ExactNumber& y) {
  if (const int c = ExactNumber::Compare(x, y); c != 0) return c;
  if (x.is_decimal() != y.is_decimal()) return x.is_decimal() ? 1 : -1;
  if (!x.is_decimal()) return 0;
  return (x.decimal().scale() > y.decimal().scale()) - (x.decimal().scale() < y.decimal().scale());
}

// `v` × `weight` (a repeated row), exactly.
ExactNumber Weighted(const ExactNumber& v, std::uint64_t weight) {
  if (weight == 1) return v;
  return v * ExactNumber(Decimal::FromParts(static_cast<int128>(weight), 0));
}

// count += weight; more than 2^64 - 1 events (beyond any test's `x N` limit) is an overflow.
void AddCount(std::uint64_t& count, std::uint64_t weight) {
  if (__builtin_add_overflow(count, weight, &count)) throw DecimalError(DecimalErrorKind::kOverflow, "the count of events passes 2^64");
}

// ---- Explaining (RatingOptions::explain) -------------------------------------------------------
// What `tariff explain` shows of a line: the steps of its computation, read from the registers of
// the program that computed it, and the terms its amount is the exact sum of. Nothing here runs
// unless explain is on.

// What the engine keeps of a traced per-event charge line (per slot).
struct EventTrace {
  struct Event {
    std::int64_t time;
    ExactNumber amount, before;
    Decimal free_value;
    std::vector<Decimal> fields;  // the event's decimal fields the charge reads, for the listing
    std::uint64_t weight = 1;     // identical events the row stands for (a test's `x N`)
  };
  std::uint64_t events = 0;            // events the charge priced (its `where` selected)
  ExactNumber before, after;           // their amounts before the per-event rounding, and after
                                       // (not Sum: Sum stays inlined in the hot loops)
  std::vector<std::uint64_t> changed;  // per instruction of the amount program: events a limit changed
  // `free first`: every event (which are free is decided at Finish). Otherwise the first
  // kListedEvents in time order, for the listing (the list is cut back as it grows).
  std::vector<Event> kept;
};

// Events a per-event line lists one by one; the rest are counted.
constexpr std::size_t kListedEvents = 20;

// A total order on decimals: by value, then by scale (5.0 before 5.00), so that which of two
// equal values is listed never depends on the order of events.
int CompareExactly(const Decimal& x, const Decimal& y) {
  const int c = Decimal::Compare(x, y);
  return c != 0 ? c : (x.scale() > y.scale()) - (x.scale() < y.scale());
}

// Events in time order, ties by amount, then the free value (as Finish decides `free first`),
// then everything else the listing shows.
bool EventBefore(const EventTrace::Event& x, const EventTrace::Event& y) {
  if (x.time != y.time) return x.time < y.time;
  if (const int c = CompareForTies(x.amount, y.amount); c != 0) return c < 0;
  if (const int c = CompareExactly(x.free_value, y.free_value); c != 0) return c < 0;
  if (const int c = CompareForTies(x.before, y.before); c != 0) return c < 0;
  for (std::size_t i = 0; i < x.fields.size() && i < y.fields.size(); ++i) {
    if (const int c = CompareExactly(x.fields[i], y.fields[i]); c != 0) return c < 0;
  }
  return false;
}


// A proration share for people: "15 days", "1 day", "1296000 s (15 days)", "43200 s".
std::string ShareText(const Decimal& v, const std::string& unit) {
  if (unit == "day") return v.ToString() + (v == Decimal(1) ? " day" : " days");
  Decimal days;
  if (unit == "s" && Decimal::TryDivideExact(v, Decimal(86400), &days) && days.Normalized().scale() == 0) {
    const Decimal whole = days.Normalized();
    return fmt::format("{} s ({} {})", v.ToString(), whole.ToString(), whole == Decimal(1) ? "day" : "days");
  }
  return v.ToString() + " " + unit;
}

// `12.5 GB`, `21.75 USD`, `2.9%` (a fraction), `3` (a plain number).
std::string Show(const Decimal& v, const std::string& unit) {
  if (unit.empty()) return v.ToString();
  if (unit == "fraction") return (v * Decimal(100)).Normalized().ToString() + "%";
  return v.ToString() + " " + unit;
}

std::string Plural(std::uint64_t n, const char* one, const char* many) { return fmt::format("{} {}", n, n == 1 ? one : many); }

// `half_even to 2 decimals`.
std::string RuleText(RoundingMode mode, int scale) {
  return fmt::format("{} to {} decimal{}", RoundingModeName(mode), scale, scale == 1 ? "" : "s");
}

DerivationStep& AddStep(Derivation& d, std::string kind, std::string text, Span source) {
  DerivationStep& step = d.steps.emplace_back();
  step.kind = std::move(kind);
  step.text = std::move(text);
  if (source.file.valid() || source.end > source.begin) {
    step.source_begin = static_cast<std::int32_t>(source.begin);
    step.source_end = static_cast<std::int32_t>(source.end);
  }
  return step;
}

// An exact value with its unit: `12.5 GB`, or `1/3 (≈ 0.33333333333333333333) USD`.
std::string Show(const ExactNumber& v, const std::string& unit) {
  if (v.is_decimal()) return Show(v.decimal(), unit);
  if (unit.empty()) return v.Describe();
  if (unit == "fraction") return (v * ExactNumber(100)).Describe() + "%";
  return v.Describe() + " " + unit;
}

// A step's value: as shown (a value with no finite decimal expansion to 20 decimals).
void SetValue(DerivationStep& step, const ExactNumber& v, const std::string& unit) {
  step.value = v.Shown();
  step.unit = unit;
}

// An operand for programs: a decimal as text, or a fraction as `n/d`.
void AddOperand(DerivationStep& step, std::string name, const ExactNumber& v, const std::string& unit) {
  step.operands.push_back({std::move(name), v.ToString(), unit});
}

void AddRounding(DerivationStep& step, const ExactNumber& before, RoundingMode mode, int scale) {
  step.before = before.Shown();
  step.mode = std::string(RoundingModeName(mode));
  step.scale = scale;
}

// A term of a line's amount while it is computed: exact, and whether it is a rounding's
// difference (FinalizeTerms needs to know).
struct ExactTerm {
  std::string label;
  ExactNumber amount;
  bool rounding = false;
};

// The terms of a line whose amount is `amount`, as Decimals that add up to it exactly. Each term
// is shown as computed; when one has no finite decimal expansion (1/3) it is shown to 20 decimals,
// and the (last) rounding term is then the amount minus the other terms as shown — the rounded
// value minus the value it rounded, both as the reader sees them. Without a rounding term, a term
// for the difference the 20 decimals make is added.
void FinalizeTerms(const std::vector<ExactTerm>& terms, const Decimal& amount, std::vector<DerivationTerm>& out) {
  const bool decimals = std::all_of(terms.begin(), terms.end(), [](const ExactTerm& t) { return t.amount.is_decimal(); });
  std::size_t first = out.size();
  for (const ExactTerm& t : terms) out.push_back({t.label, t.amount.Shown()});
  if (decimals) return;
  std::size_t rounding = out.size();
  for (std::size_t i = 0; i < terms.size(); ++i) {
    if (terms[i].rounding) rounding = first + i;
  }
  Decimal others;
  for (std::size_t i = first; i < out.size(); ++i) {
    if (i != rounding) others = others + out[i].amount;
  }
  if (rounding < out.size()) {
    out[rounding].amount = amount - others;
  } else if (amount != others) {
    out.push_back({fmt::format("values with no finite decimal expansion, shown to {} decimals", ExactNumber::kShownDecimals), amount - others});
  }
}

// A rounding of money `before` to `after` by `mode` and `scale`, the rule declared at `source`.
DerivationStep& AddRoundStep(Derivation& d, const ExactNumber& before, const Decimal& after, RoundingMode mode, int scale, Span source,
                             const std::string& currency) {
  DerivationStep& step =
      AddStep(d, "round", fmt::format("{} rounded {} = {}", Show(before, currency), RuleText(mode, scale), Show(after, currency)), source);
  SetValue(step, after, currency);
  AddRounding(step, before, mode, scale);
  return step;
}

// The sentence for a meter's value.
std::string MeterText(const ir::MeterInstance& m, const std::string& value) {
  switch (m.aggregation) {
    case Aggregation::kCount: return fmt::format("meter `{}` counts them: {}", m.meter, value);
    case Aggregation::kCountDistinct: return fmt::format("meter `{}` counts their distinct values: {}", m.meter, value);
    case Aggregation::kSum: return fmt::format("meter `{}` adds up their values: {}", m.meter, value);
    case Aggregation::kMin: return fmt::format("meter `{}` takes the smallest value: {}", m.meter, value);
    case Aggregation::kMax: return fmt::format("meter `{}` takes the largest value: {}", m.meter, value);
    case Aggregation::kLatest: return fmt::format("meter `{}` takes the latest value: {}", m.meter, value);
    case Aggregation::kAverage: return fmt::format("meter `{}` averages their values: {}", m.meter, value);
    case Aggregation::kTimeWeightedAverage:
      return fmt::format("meter `{}` averages the samples weighted by the time each held: {}", m.meter, value);
    case Aggregation::kIntegral:
      return fmt::format("meter `{}` adds up each sample × the seconds it held: {}", m.meter, value);
  }
  return fmt::format("meter `{}`: {}", m.meter, value);
}

// The operand of a limit (min/max, a step) that is a constant, or -1.
std::int32_t ConstOperand(const ir::Program& p, const ir::Inst& in) {
  if (in.b >= 0 && p.insts[static_cast<std::size_t>(in.b)].op == Op::kConst) return in.b;
  if (in.a >= 0 && p.insts[static_cast<std::size_t>(in.a)].op == Op::kConst) return in.a;
  return -1;
}

// Whether instruction `i` of a per-event program is a limit whose effect explain counts: a
// min/max against a constant, a step (`round_up(d, 60 s)`), a clamp at zero.
bool IsCountedLimit(const ir::Program& p, std::size_t i) {
  const ir::Inst& in = p.insts[i];
  switch (in.op) {
    case Op::kMin:
    case Op::kMax: return ConstOperand(p, in) >= 0 && in.type.kind == ValueKind::kDecimal;
    case Op::kCeilStep:
    case Op::kFloorStep:
    case Op::kClampZero: return true;
    default: return false;
  }
}

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
  TextDictionary customers;
  std::vector<Grouping> groupings;
  std::vector<std::pair<int, const ir::Program*>> filters;  // distinct filters: (event, program)
  std::vector<MeterState> meters;    // per meter instance
  std::vector<ChargeState> charges;  // per charge (per-event charges)
  std::vector<std::vector<TextDictionary>> field_values;  // [event][field]: group values → ids
  std::uint64_t rated = 0;
  struct SubscriptionValue {
    Decimal number;
    std::string text;
    bool flag = false;
  };
  std::unordered_map<std::uint32_t, std::map<std::string, SubscriptionValue>> subscriptions;
  std::unordered_map<std::uint32_t, ActivePeriod> active;  // customers active in part of the period
  std::unordered_map<std::uint32_t, std::vector<SubscriptionPart>> customer_parts;  // customers whose values change
  bool finished = false;
  Engine::InAdvanceLines in_advance_lines;  // see Engine::SetInAdvanceLines

  // Per-batch scratch.
  std::vector<Reg> regs;
  std::vector<std::uint32_t> row_customer;
  std::vector<Selection> selections;     // per filter
  std::vector<std::uint8_t> selected;    // per filter: computed for this batch
  std::vector<std::vector<std::uint32_t>> field_ids;  // per field of the batch's event
  std::vector<std::uint64_t> pair_keys;
  std::vector<std::uint32_t> slot_list;
  // Finish: customers in invoice order, and each customer's place in it.
  std::vector<std::uint32_t> customer_order, customer_rank;
  // Finish: per invoice (rank), the lines whose exact amount is no Decimal (possible only when
  // the plan rounds per invoice): (line index, exact amount − shown amount).
  std::unordered_map<std::uint32_t, std::vector<std::pair<std::size_t, Fraction>>> residues;
  // Explaining (only with options.explain): the traced customer's id once it is seen (-1 before,
  // and when every customer is traced), the events each meter matched per slot, and the traced
  // lines of per-event charges per slot.
  std::int64_t traced_customer = -1;
  std::vector<std::vector<std::uint64_t>> meter_events;  // [meter instance][slot]
  std::vector<std::vector<EventTrace>> event_traces;     // [charge][slot]
  std::vector<std::vector<int>> charge_fields;           // [charge]: the decimal fields its amount reads

  State(const ir::RatingFunction& f, RatingOptions o) : fn(f), options(std::move(o)) {
    field_values.resize(fn.events.size());
    for (std::size_t e = 0; e < fn.events.size(); ++e) field_values[e].resize(fn.events[e].fields.size());
    meters.resize(fn.meters.size());
    for (std::size_t m = 0; m < fn.meters.size(); ++m) {
      const ir::MeterInstance& meter = fn.meters[m];
      MeterState& ms = meters[m];
      ms.filter = FilterId(meter.event, meter.filter);
      if (!meter.group_fields.empty()) ms.grouping = GroupingId(meter.event, meter.group_fields);
      const ir::Program& v = meter.value;
      if (!v.empty() && v.insts.size() == 1 && v.result == 0 && v.insts[0].op == Op::kInput &&
          v.insts[0].type.kind == ValueKind::kDecimal) {
        ms.value_field = v.insts[0].imm;
      }
    }
    charges.resize(fn.charges.size());
    for (std::size_t c = 0; c < fn.charges.size(); ++c) {
      const ir::Charge& charge = fn.charges[c];
      if (!charge.per_event) continue;
      charges[c].filter = FilterId(charge.event, charge.filter);
      if (!charge.group_fields.empty()) charges[c].grouping = GroupingId(charge.event, charge.group_fields);
    }
    if (options.explain) {
      meter_events.resize(fn.meters.size());
      event_traces.resize(fn.charges.size());
      charge_fields.resize(fn.charges.size());
      for (std::size_t c = 0; c < fn.charges.size(); ++c) {
        const ir::Charge& charge = fn.charges[c];
        if (!charge.per_event) continue;
        const ir::Event& event = fn.events[static_cast<std::size_t>(charge.event)];
        for (const ir::Inst& in : charge.amount.insts) {
          if (in.op != Op::kInput || in.type.kind != ValueKind::kDecimal || in.imm == event.customer_field || in.imm == event.time_field) continue;
          std::vector<int>& fields = charge_fields[c];
          if (std::find(fields.begin(), fields.end(), in.imm) == fields.end()) fields.push_back(in.imm);
        }
      }
    }
  }

  int FilterId(int event, const ir::Program& filter) {
    if (filter.empty()) return -1;
    for (std::size_t i = 0; i < filters.size(); ++i) {
      if (filters[i].first == event && SameProgram(*filters[i].second, filter)) return static_cast<int>(i);
    }
    filters.emplace_back(event, &filter);
    return static_cast<int>(filters.size() - 1);
  }

  int GroupingId(int event, const std::vector<int>& fields) {
    for (std::size_t i = 0; i < groupings.size(); ++i) {
      if (groupings[i].event == event && groupings[i].fields == fields) return static_cast<int>(i);
    }
    Grouping& g = groupings.emplace_back();
    g.event = event;
    g.fields = fields;
    return static_cast<int>(groupings.size() - 1);
  }

  std::uint32_t Customer(const std::string& id) { return customers.Intern(id); }

  // The rows of the batch that pass filter `f` (all rows for -1), evaluated once per batch.
  const Selection& Select(int f, const Batch& batch) {
    if (f < 0) return selections.back();  // the "all rows" selection, set up by Consume
    auto i = static_cast<std::size_t>(f);
    if (selected[i]) return selections[i];
    const ir::Program& filter = *filters[i].second;
    Run(filter, batch.columns, selections.back(), regs);
    const Reg& r = regs[static_cast<std::size_t>(filter.result)];
    Selection& s = selections[i];
    const std::size_t n = batch.size();
    if (r.scalar) {
      s.all = r.b[0] != 0;
      s.count = s.all ? n : 0;
      s.rows.clear();
    } else {
      s.all = false;
      s.rows.resize(n);
      std::size_t count = 0;
      for (std::size_t k = 0; k < n; ++k) {
        s.rows[count] = static_cast<std::uint32_t>(k);
        count += r.b[k] != 0;  // branch-free: the filter's outcome is data, not a pattern
      }
      s.count = count;
    }
    selected[i] = 1;
    return s;
  }

  // Ids of the values of group field `field` for every row of the batch. Booleans read as
  // "true"/"false", the group value an invoice line shows.
  const std::vector<std::uint32_t>& FieldIds(const Batch& batch, int field) {
    auto f = static_cast<std::size_t>(field);
    std::vector<std::uint32_t>& ids = field_ids[f];
    if (!ids.empty()) return ids;
    const Column& col = batch.columns[f];
    TextDictionary& dict = field_values[static_cast<std::size_t>(batch.event)][f];
    const std::size_t n = batch.size();
    ids.resize(n);
    switch (col.type) {
      case ColumnType::kText: dict.Encode(col.texts.data(), n, ids.data()); break;
      case ColumnType::kBool: {
        const std::uint32_t no = dict.Intern("false"), yes = dict.Intern("true");
        for (std::size_t k = 0; k < n; ++k) ids[k] = col.bools[k] ? yes : no;
        break;
      }
      case ColumnType::kDecimal:
        for (std::size_t k = 0; k < n; ++k) ids[k] = dict.Intern(col.decimals[k].ToString());
        break;
      case ColumnType::kTimestamp:
        for (std::size_t k = 0; k < n; ++k) ids[k] = dict.Intern(std::to_string(col.times[k]));
        break;
    }
    return ids;
  }

  // Every row's slot in grouping `g` (new combinations get new slots).
  void Assign(Grouping& g, const Batch& batch) {
    const std::size_t n = batch.size();
    std::vector<std::uint64_t>& keys = pair_keys;
    keys.resize(n);
    if (g.fields.size() == 1) {
      const std::vector<std::uint32_t>& ids = FieldIds(batch, g.fields[0]);
      for (std::size_t k = 0; k < n; ++k) keys[k] = (std::uint64_t{row_customer[k]} << 32) | ids[k];
    } else {
      std::vector<const std::vector<std::uint32_t>*> columns;
      for (int field : g.fields) columns.push_back(&FieldIds(batch, field));
      std::vector<std::uint32_t> tuple(g.fields.size());
      for (std::size_t k = 0; k < n; ++k) {
        for (std::size_t i = 0; i < tuple.size(); ++i) tuple[i] = (*columns[i])[k];
        std::uint32_t combo = g.tuples.Intern({reinterpret_cast<const char*>(tuple.data()), tuple.size() * sizeof(std::uint32_t)});
        if (combo == g.tuple_values.size()) g.tuple_values.push_back(tuple);
        keys[k] = (std::uint64_t{row_customer[k]} << 32) | combo;
      }
    }
    g.row_slot.resize(n);
    g.index.Encode(keys.data(), n, g.row_slot.data(), [&g](std::uint64_t key) {
      g.slot_customer.push_back(static_cast<std::uint32_t>(key >> 32));
      g.slot_combo.push_back(static_cast<std::uint32_t>(key));
      return static_cast<std::uint32_t>(g.slot_customer.size() - 1);
    });
  }

  void Consume(const Batch& batch) {
    const std::size_t n = batch.size();
    if (n == 0) return;
    const ir::Event& event = fn.events[static_cast<std::size_t>(batch.event)];
    const Column& customer_column = batch.columns[static_cast<std::size_t>(event.customer_field)];
    row_customer.resize(n);
    customers.Encode(customer_column.texts.data(), n, row_customer.data());
    const Column& time_column = batch.columns[static_cast<std::size_t>(event.time_field)];
    if (options.explain) ResolveTraced();

    selections.resize(filters.size() + 1);
    selected.assign(filters.size(), 0);
    Selection& all = selections.back();
    all.all = true;
    all.count = n;
    field_ids.resize(batch.columns.size());
    for (auto& ids : field_ids) ids.clear();
    for (Grouping& g : groupings) {
      if (g.event == batch.event) Assign(g, batch);
    }

    for (std::size_t m = 0; m < fn.meters.size(); ++m) {
      const ir::MeterInstance& meter = fn.meters[m];
      if (meter.event != batch.event) continue;
      MeterState& ms = meters[m];
      const Selection& sel = Select(ms.filter, batch);
      const std::uint32_t* slot_of = row_customer.data();
      std::size_t slots = customers.size();
      if (ms.grouping >= 0) {
        const Grouping& g = groupings[static_cast<std::size_t>(ms.grouping)];
        slot_of = g.row_slot.data();
        slots = g.slot_customer.size();
      }
      ms.Resize(meter.aggregation, slots);
      try {
        Accumulate(meter, ms, batch, sel, slot_of, time_column);
        if (options.explain) TraceMeter(m, sel, slot_of, slots, batch);
      } catch (const DecimalError& e) {
        throw RatingError(fmt::format("meter `{}`: {}", meter.meter, e.what()), meter.source);
      }
    }

    for (std::size_t c = 0; c < fn.charges.size(); ++c) {
      const ir::Charge& charge = fn.charges[c];
      if (!charge.per_event || charge.event != batch.event) continue;
      ChargeState& cs = charges[c];
      const Selection& sel = Select(cs.filter, batch);
      if (sel.count == 0) continue;
      Run(charge.amount, batch.columns, sel, regs);
      const Reg& amount = regs[static_cast<std::size_t>(charge.amount.result)];
      const std::uint32_t* slot_of = row_customer.data();
      std::size_t slots = customers.size();
      if (cs.grouping >= 0) {
        const Grouping& g = groupings[static_cast<std::size_t>(cs.grouping)];
        slot_of = g.row_slot.data();
        slots = g.slot_customer.size();
      }
      if (cs.present.size() < slots) cs.present.resize(slots);
      const bool keep = charge.free_events || charge.free_amount;
      if (keep && cs.kept.size() < slots) cs.kept.resize(slots);
      if (!keep && cs.sum.size() < slots) cs.sum.resize(slots);
      const std::uint64_t* weights = batch.weights.empty() ? nullptr : batch.weights.data();
      if (!keep && weights == nullptr && amount.q == nullptr && amount.den != nullptr && cs.spill.UseDenominator(*amount.den)) {
        // Amounts scaled by one denominator (a per-minute price over seconds, not rounded per
        // event): their numerators are summed, divided once at Finish.
        for (std::size_t j = 0; j < sel.count; ++j) {
          const std::uint32_t slot = slot_of[sel.Row(j)];
          cs.present[slot] = 1;
          cs.spill.AddNumerator(slot, amount.d[amount.Index(j)]);
        }
      } else if (keep || weights != nullptr || !amount.plain()) {
        // `free first` keeps the events; weighted rows and amounts that are Fractions are added
        // exactly. (The usual case is the loop below.)
        for (std::size_t j = 0; j < sel.count; ++j) {
          const std::uint32_t row = sel.Row(j);
          const std::uint32_t slot = slot_of[row];
          const std::uint64_t weight = weights != nullptr ? weights[row] : 1;
          cs.present[slot] = 1;
          if (keep) {
            Decimal free_value = charge.free_amount_field >= 0
                                     ? batch.columns[static_cast<std::size_t>(charge.free_amount_field)].decimals[row]
                                     : Decimal();
            cs.kept[slot].push_back({time_column.times[row], amount.At(j), free_value, weight});
            continue;
          }
          const ExactNumber add = Weighted(amount.At(j), weight);
          if (!add.is_decimal() || !cs.sum[slot].Add(add.decimal())) cs.spill.Add(slot, add);
        }
      } else {
        for (std::size_t j = 0; j < sel.count; ++j) {
          const std::uint32_t row = sel.Row(j);
          const std::uint32_t slot = slot_of[row];
          const Decimal& v = amount.d[amount.Index(j)];
          if (j + 16 < sel.count) __builtin_prefetch(&cs.sum[slot_of[sel.Row(j + 16)]]);  // as in Accumulate
          cs.present[slot] = 1;
          if (__builtin_expect(!cs.sum[slot].Add(v), 0)) cs.spill.Add(slot, v);
        }
      }
      if (options.explain) TraceEvents(c, sel, slot_of, slots, batch, time_column);
    }
    rated += n;
  }

  // ---- Explaining: what Consume records (only with options.explain) ----

  bool Traced(std::uint32_t customer) const {
    return options.explain_customer.empty() || static_cast<std::int64_t>(customer) == traced_customer;
  }

  void ResolveTraced() {
    if (!options.explain_customer.empty() && traced_customer < 0) traced_customer = customers.Lookup(options.explain_customer);
  }

  // Counts the traced rows meter `m` selected, per slot.
  void TraceMeter(std::size_t m, const Selection& sel, const std::uint32_t* slot_of, std::size_t slots, const Batch& batch) {
    std::vector<std::uint64_t>& events = meter_events[m];
    if (events.size() < slots) events.resize(slots);
    for (std::size_t j = 0; j < sel.count; ++j) {
      const std::uint32_t row = sel.Row(j);
      if (Traced(row_customer[row])) events[slot_of[row]] += batch.weights.empty() ? 1 : batch.weights[row];
    }
  }

  // Records the traced rows a per-event charge priced: their amounts before and after the
  // per-event rounding, and which limits changed them. The registers still hold the charge's
  // amount program over `sel`.
  void TraceEvents(std::size_t c, const Selection& sel, const std::uint32_t* slot_of, std::size_t slots, const Batch& batch,
                   const Column& time_column) {
    const ir::Charge& charge = fn.charges[c];
    const ir::Program& p = charge.amount;
    const Reg& amount = regs[static_cast<std::size_t>(p.result)];
    const ir::Inst& last = p.insts[static_cast<std::size_t>(p.result)];
    const Reg& before = last.op == Op::kRound ? regs[static_cast<std::size_t>(last.a)] : amount;
    const bool keep = charge.free_events || charge.free_amount;
    std::vector<EventTrace>& traces = event_traces[c];
    if (traces.size() < slots) traces.resize(slots);
    for (std::size_t j = 0; j < sel.count; ++j) {
      const std::uint32_t row = sel.Row(j);
      if (!Traced(row_customer[row])) continue;
      EventTrace& t = traces[slot_of[row]];
      const std::uint64_t weight = batch.weights.empty() ? 1 : batch.weights[row];
      t.events += weight;
      const ExactNumber v = amount.At(j);
      const ExactNumber b = before.At(j);
      EventTrace::Event& e = t.kept.emplace_back();
      e.time = time_column.times[row];
      e.amount = v;
      e.before = b;
      e.weight = weight;
      if (charge.free_amount_field >= 0) e.free_value = batch.columns[static_cast<std::size_t>(charge.free_amount_field)].decimals[row];
      for (int f : charge_fields[c]) e.fields.push_back(batch.columns[static_cast<std::size_t>(f)].decimals[row]);
      if (!keep) {
        t.before = t.before + Weighted(b, weight);
        t.after = t.after + Weighted(v, weight);
        if (t.kept.size() >= 2 * kListedEvents) {  // keep the first kListedEvents only
          std::sort(t.kept.begin(), t.kept.end(), EventBefore);
          t.kept.resize(kListedEvents);
        }
      }
      t.changed.resize(p.insts.size());
      for (std::size_t i = 0; i < p.insts.size(); ++i) {
        if (!IsCountedLimit(p, i)) continue;
        const ir::Inst& in = p.insts[i];
        const std::int32_t bound = in.op == Op::kMin || in.op == Op::kMax ? ConstOperand(p, in) : -1;
        const Reg& x = regs[static_cast<std::size_t>(bound == in.a ? in.b : in.a)];
        const Reg& r = regs[i];
        if (ExactNumber::Compare(x.At(j), r.At(j)) != 0) t.changed[i] += weight;
      }
    }
  }

  // Folds the selected rows into the meter's slots: one loop per aggregation, so that the
  // switch is outside the loop over rows. Rows of weight 1 whose values are Decimals take the fast
  // loops; weighted rows (a test's `usage … x N`) and values that are Fractions take one exact loop.
  void Accumulate(const ir::MeterInstance& meter, MeterState& ms, const Batch& batch, const Selection& sel,
                  const std::uint32_t* slot_of, const Column& time_column) {
    const std::size_t count = sel.count;
    if (count == 0) return;
    // The selected rows' slots, in order. They are random: with many customers the state does
    // not fit the cache, so each loop prefetches the slot it will need kAhead rows later.
    slot_list.resize(count);
    std::uint32_t* slots = slot_list.data();
    for (std::size_t j = 0; j < count; ++j) slots[j] = slot_of[sel.Row(j)];
    constexpr std::size_t kAhead = 16;
    auto ahead = [&](const auto& state, std::size_t j) {
      if (j + kAhead < count) __builtin_prefetch(&state[slots[j + kAhead]]);
    };
    const std::uint64_t* weights = batch.weights.empty() ? nullptr : batch.weights.data();
    if (ms.grouping >= 0) {
      for (std::size_t j = 0; j < count; ++j) ms.present[slots[j]] = 1;
    }
    if (meter.aggregation == Aggregation::kCount) {
      if (weights != nullptr) {
        for (std::size_t j = 0; j < count; ++j) AddCount(ms.count[slots[j]], weights[sel.Row(j)]);
        return;
      }
      for (std::size_t j = 0; j < count; ++j) {
        ahead(ms.count, j);
        ++ms.count[slots[j]];
      }
      return;
    }
    // The values: the event's column itself (indexed by row) when the meter reads a field as
    // is, else the value program's result over the selected rows (indexed by position).
    const Decimal* values = nullptr;
    bool by_row = false, scalar = false;
    const Reg* reg = nullptr;
    const auto field = static_cast<std::size_t>(ms.value_field);
    if (ms.value_field >= 0 && batch.columns[field].type == ColumnType::kDecimal) {
      values = batch.columns[field].decimals.data();
      by_row = true;
    } else {
      Run(meter.value, batch.columns, sel, regs);
      reg = &regs[static_cast<std::size_t>(meter.value.result)];
      values = reg->d;
      scalar = reg->scalar;
    }
    if (meter.aggregation == Aggregation::kCountDistinct) {
      // A repeated row adds no new value: weights do not matter. Numbers by value (1.0 = 1).
      for (std::size_t j = 0; j < count; ++j) {
        std::string key_text;
        if (reg == nullptr) {
          key_text = values[sel.Row(j)].Normalized().ToString();
        } else {
          const std::size_t x = reg->Index(j);
          switch (reg->kind) {
            case ValueKind::kDecimal:
              if (reg->plain()) {
                key_text = reg->d[x].Normalized().ToString();
              } else {
                const Fraction f = reg->At(j).exact();
                std::optional<Decimal> d = f.ToDecimal();
                key_text = d ? d->Normalized().ToString() : f.ToString();
              }
              break;
            case ValueKind::kText: key_text = std::string(reg->t[x]); break;
            case ValueKind::kBool: key_text = reg->b[x] ? "true" : "false"; break;
            case ValueKind::kTimestamp: key_text = std::to_string(reg->ts[x]); break;
          }
        }
        ms.distinct[slots[j]].insert(std::move(key_text));
      }
      return;
    }
    const std::int64_t* times = time_column.times.data();
    if (weights == nullptr && reg != nullptr && reg->q == nullptr && reg->den != nullptr &&
        (meter.aggregation == Aggregation::kSum || meter.aggregation == Aggregation::kAverage) && ms.spill.UseDenominator(*reg->den)) {
      // Values scaled by one denominator: their numerators are summed (see Spill).
      for (std::size_t j = 0; j < count; ++j) {
        if (meter.aggregation == Aggregation::kAverage) ++ms.count[slots[j]];
        ms.spill.AddNumerator(slots[j], reg->d[reg->Index(j)]);
      }
      return;
    }
    if (weights != nullptr || (reg != nullptr && !reg->plain()) || ms.any_exact) {
      AccumulateExact(meter, ms, sel, slots, weights, reg, values, by_row, times);
      return;
    }
    auto value = [&](std::size_t j) -> const Decimal& { return values[scalar ? 0 : by_row ? sel.Row(j) : j]; };
    switch (meter.aggregation) {
      case Aggregation::kCount:
      case Aggregation::kCountDistinct: break;
      case Aggregation::kSum:
        for (std::size_t j = 0; j < count; ++j) {
          ahead(ms.sum, j);
          if (__builtin_expect(!ms.sum[slots[j]].Add(value(j)), 0)) ms.spill.Add(slots[j], value(j));
        }
        break;
      case Aggregation::kAverage:
        for (std::size_t j = 0; j < count; ++j) {
          ahead(ms.sum, j);
          ahead(ms.count, j);
          ++ms.count[slots[j]];
          if (__builtin_expect(!ms.sum[slots[j]].Add(value(j)), 0)) ms.spill.Add(slots[j], value(j));
        }
        break;
      case Aggregation::kMin:
      case Aggregation::kMax: {
        const bool max = meter.aggregation == Aggregation::kMax;
        for (std::size_t j = 0; j < count; ++j) {
          ahead(ms.value, j);
          const std::uint32_t slot = slots[j];
          const Decimal& v = value(j);
          // Equal values written with different decimals (5.0, 5.00) tie-break on the larger
          // scale, so that which one is kept never depends on the order of events.
          if (!ms.has[slot] || (max ? Less(ms.value[slot], v) : Less(v, ms.value[slot])) ||
              (!Less(v, ms.value[slot]) && !Less(ms.value[slot], v) && v.scale() > ms.value[slot].scale())) {
            ms.value[slot] = v;
          }
          ms.has[slot] = 1;
        }
        break;
      }
      case Aggregation::kLatest:
        for (std::size_t j = 0; j < count; ++j) {
          const std::uint32_t slot = slots[j];
          const Decimal& v = value(j);
          const std::int64_t t = times[sel.Row(j)];
          // Ties in time take the larger value, then the larger scale, so that the order of
          // events never matters.
          if (!ms.has[slot] || t > ms.time[slot] ||
              (t == ms.time[slot] && (Less(ms.value[slot], v) ||
                                      (!Less(v, ms.value[slot]) && v.scale() > ms.value[slot].scale())))) {
            ms.value[slot] = v;
            ms.time[slot] = t;
          }
          ms.has[slot] = 1;
        }
        break;
      case Aggregation::kTimeWeightedAverage:
      case Aggregation::kIntegral:
        for (std::size_t j = 0; j < count; ++j) ms.samples[slots[j]].emplace_back(times[sel.Row(j)], value(j));
        break;
    }
  }

  // The exact form of Accumulate, for weighted rows and values that are Fractions: the same rules
  // on ExactNumbers. A row of weight w counts w times in counts, sums and averages; it is one
  // value for extremes, `latest` and time-weighted meters (w identical samples at one instant).
  void AccumulateExact(const ir::MeterInstance& meter, MeterState& ms, const Selection& sel, const std::uint32_t* slots,
                       const std::uint64_t* weights, const Reg* reg, const Decimal* values, bool by_row, const std::int64_t* times) {
    auto value = [&](std::size_t j) -> ExactNumber {
      if (reg != nullptr) return reg->At(j);
      return values[by_row ? sel.Row(j) : j];
    };
    auto weight = [&](std::size_t j) -> std::uint64_t { return weights != nullptr ? weights[sel.Row(j)] : 1; };
    for (std::size_t j = 0; j < sel.count; ++j) {
      const std::uint32_t slot = slots[j];
      const ExactNumber v = value(j);
      switch (meter.aggregation) {
        case Aggregation::kCount:
        case Aggregation::kCountDistinct: break;
        case Aggregation::kAverage: AddCount(ms.count[slot], weight(j)); [[fallthrough]];
        case Aggregation::kSum: {
          const ExactNumber add = Weighted(v, weight(j));
          if (!add.is_decimal() || !ms.sum[slot].Add(add.decimal())) ms.spill.Add(slot, add);
          break;
        }
        case Aggregation::kMin:
        case Aggregation::kMax: {
          // The extreme; equal values tie-break as in Accumulate (the larger scale wins).
          bool take = !ms.has[slot];
          if (!take) {
            const ExactNumber held = ms.Held(slot);
            const int by_value = ExactNumber::Compare(v, held);
            take = (meter.aggregation == Aggregation::kMax ? by_value > 0 : by_value < 0) ||
                   (by_value == 0 && CompareForTies(v, held) > 0);
          }
          if (take) ms.Hold(slot, v);
          ms.has[slot] = 1;
          break;
        }
        case Aggregation::kLatest: {
          const std::int64_t t = times[sel.Row(j)];
          if (!ms.has[slot] || t > ms.time[slot] || (t == ms.time[slot] && CompareForTies(v, ms.Held(slot)) > 0)) {
            ms.Hold(slot, v);
            ms.time[slot] = t;
          }
          ms.has[slot] = 1;
          break;
        }
        case Aggregation::kTimeWeightedAverage:
        case Aggregation::kIntegral:
          if (v.is_decimal()) {
            ms.samples[slot].emplace_back(times[sel.Row(j)], v.decimal());
          } else {
            if (ms.exact_samples.size() < ms.samples.size()) ms.exact_samples.resize(ms.samples.size());
            ms.exact_samples[slot].emplace_back(times[sel.Row(j)], v);
          }
          break;
      }
    }
  }

  // A meter's value in `slot` of `customer` (a slot the meter never filled reads as its empty
  // state), exactly: an average of 1, 1 and 2 is 4/3.
  ExactNumber MeterValue(std::size_t m, std::size_t slot, std::uint32_t customer) const {
    const ir::MeterInstance& meter = fn.meters[m];
    const MeterState& ms = meters[m];
    switch (meter.aggregation) {
      case Aggregation::kCount:
        return slot < ms.count.size() ? Decimal::FromParts(static_cast<int128>(ms.count[slot]), 0) : Decimal();
      case Aggregation::kCountDistinct:
        return slot < ms.distinct.size() ? Decimal(static_cast<std::int64_t>(ms.distinct[slot].size())) : Decimal();
      case Aggregation::kSum: return slot < ms.sum.size() ? ms.spill.Total(slot, ms.sum[slot].value()) : ExactNumber();
      case Aggregation::kMin:
      case Aggregation::kMax:
      case Aggregation::kLatest: return slot < ms.has.size() && ms.has[slot] ? ms.Held(slot) : ExactNumber();
      case Aggregation::kAverage: {
        if (slot >= ms.count.size() || ms.count[slot] == 0) return Decimal();
        const ExactNumber sum = ms.spill.Total(slot, ms.sum[slot].value());
        return ExactNumber::Quotient(sum, Decimal::FromParts(static_cast<int128>(ms.count[slot]), 0));
      }
      case Aggregation::kTimeWeightedAverage:
      case Aggregation::kIntegral: {
        std::vector<std::pair<std::int64_t, ExactNumber>> samples;
        if (slot < ms.samples.size()) {
          for (const auto& [t, v] : ms.samples[slot]) samples.emplace_back(t, v);
        }
        if (slot < ms.exact_samples.size()) {
          for (const auto& [t, v] : ms.exact_samples[slot]) samples.emplace_back(t, v);
        }
        if (samples.empty()) return Decimal();
        std::sort(samples.begin(), samples.end(), [](const auto& x, const auto& y) {
          return x.first != y.first ? x.first < y.first : CompareForTies(x.second, y.second) < 0;
        });
        // The last sample holds until the customer's part of the period ends (a subscription
        // ending, a version change), else the period's end, else the last sample.
        auto part = active.find(customer);
        std::optional<std::int64_t> hold = part != active.end() && part->second.end_micros ? part->second.end_micros : options.period_end_micros;
        std::int64_t end = hold.value_or(samples.back().first);
        ExactNumber integral;  // value × microseconds
        for (std::size_t i = 0; i < samples.size(); ++i) {
          std::int64_t until = i + 1 < samples.size() ? samples[i + 1].first : std::max(end, samples[i].first);
          integral = integral + samples[i].second * ExactNumber(until - samples[i].first);
        }
        if (meter.aggregation == Aggregation::kIntegral) {
          // value × seconds: a Decimal with up to 6 more decimals (a microsecond is 10^-6 s).
          // Normalized, so a Decimal whenever it has one, however its samples were computed.
          const ExactNumber v = ExactNumber::Of(ExactNumber::Quotient(integral, Decimal(1'000'000)).exact());
          return v.is_decimal() ? ExactNumber(v.decimal().Normalized()) : v;
        }
        std::int64_t span = std::max(end, samples.back().first) - samples.front().first;
        if (span == 0) return samples.back().second;
        return ExactNumber::Quotient(integral, ExactNumber(span));
      }
    }
    return Decimal();
  }

  // The value of the `i`th group field of combination `combo` of `g`.
  std::string_view GroupValue(const Grouping& g, std::uint32_t combo, std::size_t i) const {
    const std::uint32_t id = g.fields.size() == 1 ? combo : g.tuple_values[combo][i];
    return field_values[static_cast<std::size_t>(g.event)][static_cast<std::size_t>(g.fields[i])].Text(id);
  }

  // The group values of combination `combo` of `g`, as an invoice line shows them.
  std::vector<std::string> GroupValues(const Grouping& g, std::uint32_t combo) const {
    std::vector<std::string> values;
    values.reserve(g.fields.size());
    for (std::size_t i = 0; i < g.fields.size(); ++i) values.emplace_back(GroupValue(g, combo, i));
    return values;
  }

  // An invoice line to make: the slot its state is in, the invoice (customer rank) it goes to,
  // and its group combination. Lines are made in invoice order, so that only the meter state
  // is read out of order.
  struct LineKey {
    std::uint32_t slot, rank, combo;
    std::uint32_t part = 0;  // recurring charges of a customer with parts: part + 1; else 0
  };

  // One key per customer, in invoice order (ungrouped charges: the slot is the customer).
  std::vector<LineKey> CustomerKeys() const {
    std::vector<LineKey> keys(customer_order.size());
    for (std::uint32_t r = 0; r < keys.size(); ++r) keys[r] = {customer_order[r], r, 0};
    return keys;
  }

  // The slots of `g` that `present` marks, in invoice order: by customer rank, then by group
  // values (the order of a customer's lines).
  std::vector<LineKey> OrderedSlots(const Grouping& g, const std::vector<std::uint8_t>& present) const {
    // Rank the combinations by their values once.
    std::size_t combos = 0;
    for (std::uint32_t c : g.slot_combo) combos = std::max<std::size_t>(combos, c + 1);
    std::vector<std::vector<std::string_view>> values(combos);
    for (std::uint32_t c = 0; c < combos; ++c) {
      for (std::size_t i = 0; i < g.fields.size(); ++i) values[c].push_back(GroupValue(g, c, i));
    }
    std::vector<std::uint32_t> by_value(combos), rank(combos);
    std::iota(by_value.begin(), by_value.end(), 0);
    std::sort(by_value.begin(), by_value.end(), [&](std::uint32_t x, std::uint32_t y) { return values[x] < values[y]; });
    for (std::uint32_t r = 0; r < combos; ++r) rank[by_value[r]] = r;
    // Slots by customer rank with a counting sort (ranks are dense), then each customer's few
    // slots by combination rank.
    const std::size_t n = customer_order.size();
    std::vector<std::uint32_t> start(n + 1, 0);
    for (std::uint32_t s = 0; s < present.size(); ++s) {
      if (present[s]) ++start[customer_rank[g.slot_customer[s]] + 1];
    }
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<LineKey> keys(start[n]);
    std::vector<std::uint32_t> next(start.begin(), start.end() - 1);
    for (std::uint32_t s = 0; s < present.size(); ++s) {
      if (!present[s]) continue;
      const std::uint32_t r = customer_rank[g.slot_customer[s]];
      keys[next[r]++] = {s, r, g.slot_combo[s]};
    }
    auto by_combo = [&rank](const LineKey& x, const LineKey& y) { return rank[x.combo] < rank[y.combo]; };
    for (std::size_t r = 0; r < n; ++r) {
      if (start[r + 1] - start[r] > 1) std::sort(keys.begin() + start[r], keys.begin() + start[r + 1], by_combo);
    }
    return keys;
  }

  // Customer indices in id order. Ids usually share a prefix ("cus_…"), so the sort key is the
  // 16 bytes after the prefix all ids share, big-endian: two integer compares decide almost
  // every comparison, and equal keys fall back to the text.
  std::vector<std::uint32_t> SortedCustomers() const {
    struct Key {
      std::uint64_t hi, lo;
      std::uint32_t id;
    };
    const std::uint32_t n = customers.size();
    std::size_t common = n > 0 ? customers.Text(0).size() : 0;
    for (std::uint32_t i = 1; i < n && common > 0; ++i) {
      const std::string_view a = customers.Text(0), b = customers.Text(i);
      common = std::min({common, b.size()});
      std::size_t k = 0;
      while (k < common && a[k] == b[k]) ++k;
      common = k;
    }
    std::vector<Key> keys(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      unsigned char bytes[16] = {};
      const std::string_view text = customers.Text(i).substr(common);
      std::memcpy(bytes, text.data(), std::min<std::size_t>(text.size(), 16));
      std::uint64_t hi = 0, lo = 0;
      for (int b = 0; b < 8; ++b) {
        hi = hi << 8 | bytes[b];
        lo = lo << 8 | bytes[8 + b];
      }
      keys[i] = {hi, lo, i};
    }
    std::sort(keys.begin(), keys.end(), [this](const Key& x, const Key& y) {
      if (x.hi != y.hi) return x.hi < y.hi;
      if (x.lo != y.lo) return x.lo < y.lo;
      return customers.Text(x.id) < customers.Text(y.id);
    });
    std::vector<std::uint32_t> order(n);
    for (std::uint32_t r = 0; r < n; ++r) order[r] = keys[r].id;
    return order;
  }

  std::vector<Invoice> Finish() {
    finished = true;
    // Invoices are made in their final order (by customer id), and every charge appends its
    // lines in that order: with many customers, filling them in first-seen order and reading
    // them back sorted was a cache miss per customer and line.
    if (options.explain) ResolveTraced();
    customer_order = SortedCustomers();
    const std::uint32_t n = customers.size();
    customer_rank.resize(n);
    for (std::uint32_t r = 0; r < n; ++r) customer_rank[customer_order[r]] = r;
    // The lines of every charge first, so that each invoice's lines are allocated once: one
    // per key, and room for every adjustment and a rounding line.
    std::vector<std::vector<LineKey>> keys(fn.charges.size());
    std::vector<std::size_t> lines_of(n, fn.adjustments.size() + 1);
    for (std::size_t c = 0; c < fn.charges.size(); ++c) {
      keys[c] = LineKeys(c);
      for (const LineKey& k : keys[c]) ++lines_of[k.rank];
    }
    std::vector<Invoice> invoices;
    invoices.reserve(n);
    for (std::uint32_t r = 0; r < n; ++r) {
      Invoice& inv = invoices.emplace_back();
      inv.customer = customers.Text(customer_order[r]);
      inv.plan = fn.plan;
      inv.period_start = options.period_start;
      inv.period_end = options.period_end;
      inv.currency = fn.currency;
      inv.lines.reserve(lines_of[r]);
    }
    for (std::size_t c = 0; c < fn.charges.size(); ++c) {
      const ir::Charge& charge = fn.charges[c];
      try {
        if (charge.per_event) {
          FinishPerEvent(c, keys[c], invoices);
        } else {
          FinishAggregate(c, keys[c], invoices);
        }
      } catch (const DecimalError& e) {
        throw RatingError(fmt::format("charge \"{}\": {}", charge.name, e.what()), charge.source);
      } catch (const RatingError& e) {
        // An instruction's error (a rounding declared at the plan's top) names the charge's line.
        if (e.source().begin == charge.source.begin) throw;
        throw RatingError(fmt::format("charge \"{}\": {}", charge.name, e.what()), charge.source);
      }
    }
    if (in_advance_lines) {
      for (std::size_t rank = 0; rank < invoices.size(); ++rank) ReplaceInAdvance(invoices[rank], static_cast<std::uint32_t>(rank));
    }
    for (std::size_t rank = 0; rank < invoices.size(); ++rank) {
      Invoice& inv = invoices[rank];
      const auto r32 = static_cast<std::uint32_t>(rank);
      for (const ir::Adjustment& a : fn.adjustments) {
        try {
          Adjust(a, inv, r32, customer_order[rank]);
        } catch (const DecimalError& e) {
          throw RatingError(fmt::format("{}: {}", a.name, e.what()), a.source);
        }
      }
      try {
        if (fn.rounding.point == ir::RoundingRule::Point::kInvoice) {
          // The exact total rounded once; the Rounding line makes the shown lines add up to it.
          // (Their sum is exact too: 20-decimal lines of a wide total need not fit 38 digits.)
          ExactNumber shown;
          for (const InvoiceLine& l : inv.lines) shown = shown + ExactNumber(l.amount);
          const ExactNumber total = ExactTotal(inv, r32, {});
          Decimal rounded = total.Round(fn.rounding.scale, fn.rounding.mode);
          if (!(shown == ExactNumber(rounded))) {
            InvoiceLine r;
            r.kind = LineKind::kRounding;
            r.name = fmt::format("Rounding ({} to {} decimals)", RoundingModeName(fn.rounding.mode), fn.rounding.scale);
            r.amount = (ExactNumber(rounded) - shown).Shown();
            if (options.explain && Traced(customer_order[rank])) r.derivation = ExplainInvoiceRounding(total, shown, rounded);
            inv.lines.push_back(std::move(r));
          }
          inv.total = rounded;
        } else {
          // Every line is a Decimal here (nothing was left exact): the total is their exact sum,
          // which must fit (lines that do need not add up to one that does at every step).
          Decimal sum;
          bool fits = true;
          for (const InvoiceLine& l : inv.lines) fits = fits && Decimal::TryAdd(sum, l.amount, &sum);
          if (!fits) {
            const ExactNumber total = ExactTotal(inv, r32, {});
            if (!total.is_decimal()) {
              throw DecimalError(DecimalErrorKind::kOverflow, fmt::format("the total {} does not fit in 38 digits", total.ToString()));
            }
            sum = total.decimal();
          }
          inv.total = sum;
        }
      } catch (const DecimalError& e) {
        throw RatingError(fmt::format("the invoice's total: {}", e.what()), fn.rounding.source);
      }
      if (!fn.subtotals.empty()) {
        try {
          AddSubtotals(inv, {&fn});
        } catch (const DecimalError& e) {
          throw RatingError(e.what(), fn.subtotals.front().source);
        }
      }
    }
    return invoices;
  }

  // Replaces the `billed in advance` charges' lines of invoice `rank` by the lines the provider
  // gives for its customer, at the place of the first of them (else after the charges' lines),
  // keeping the residues of the other lines with them.
  void ReplaceInAdvance(Invoice& inv, std::uint32_t rank) {
    std::optional<std::vector<InvoiceLine>> given = in_advance_lines(inv.customer);
    if (!given) return;
    auto in_advance = [this](const InvoiceLine& l) {
      if (l.kind != LineKind::kCharge) return false;
      return std::any_of(fn.charges.begin(), fn.charges.end(), [&](const ir::Charge& c) { return c.in_advance && c.name == l.name; });
    };
    std::vector<InvoiceLine> lines;
    lines.reserve(inv.lines.size() + given->size());
    std::vector<std::size_t> moved(inv.lines.size(), SIZE_MAX);  // old index → new index
    std::ptrdiff_t at = -1;
    for (std::size_t i = 0; i < inv.lines.size(); ++i) {
      if (in_advance(inv.lines[i])) {
        if (at < 0) at = static_cast<std::ptrdiff_t>(lines.size());
        continue;
      }
      moved[i] = lines.size();
      lines.push_back(std::move(inv.lines[i]));
    }
    if (at < 0) at = static_cast<std::ptrdiff_t>(lines.size());
    const std::size_t inserted = given->size();
    lines.insert(lines.begin() + at, std::make_move_iterator(given->begin()), std::make_move_iterator(given->end()));
    if (auto it = residues.find(rank); it != residues.end()) {
      std::vector<std::pair<std::size_t, Fraction>> kept;
      for (auto& [index, residue] : it->second) {
        if (moved[index] == SIZE_MAX) continue;  // an in-advance line, replaced
        const std::size_t now = moved[index] >= static_cast<std::size_t>(at) ? moved[index] + inserted : moved[index];
        kept.emplace_back(now, std::move(residue));
      }
      it->second = std::move(kept);
    }
    inv.lines = std::move(lines);
  }

  // Appends `line` with the amount `exact` to the invoice of rank `rank`: shown as it is when it is
  // a Decimal, else shown (ExactNumber::Shown) with the difference kept as the line's residue, so
  // that totals and adjustments use the exact value.
  void PushLine(Invoice& inv, std::uint32_t rank, InvoiceLine line, const ExactNumber& exact) {
    line.amount = exact.Shown(fn.rounding.scale);
    if (!exact.is_decimal()) {
      const Fraction residue = exact.exact() - Fraction(line.amount);
      if (!residue.is_zero()) residues[rank].emplace_back(inv.lines.size(), residue);
    }
    inv.lines.push_back(std::move(line));
  }

  // The residue of line `index` of invoice `rank` (zero for nearly every line).
  Fraction Residue(std::uint32_t rank, std::size_t index) const {
    auto it = residues.find(rank);
    if (it == residues.end()) return Fraction();
    for (const auto& [i, r] : it->second) {
      if (i == index) return r;
    }
    return Fraction();
  }

  // Whether an adjustment on the charges `named` covers line `l`: a line of one of them, or a
  // proration line of one (a fee billed in advance).
  static bool Covers(const std::vector<std::string>& named, const InvoiceLine& l) {
    return std::find(named.begin(), named.end(), l.name) != named.end() ||
           (!l.prorates.empty() && std::find(named.begin(), named.end(), l.prorates) != named.end());
  }

  // The exact sum of the invoice's lines (of the charges named; all when none are).
  ExactNumber ExactTotal(const Invoice& inv, std::uint32_t rank, const std::vector<std::string>& charges_named) const {
    ExactNumber sum;  // exact: lines shown to 20 decimals may add up past 38 digits
    for (const InvoiceLine& l : inv.lines) {
      if (charges_named.empty() || Covers(charges_named, l)) {
        sum = sum + ExactNumber(l.amount);
      }
    }
    auto it = residues.find(rank);
    if (it == residues.end()) return sum;
    Fraction exact = sum.exact();
    for (const auto& [i, r] : it->second) {
      if (charges_named.empty() || Covers(charges_named, inv.lines[i])) exact += r;
    }
    return ExactNumber::Of(exact);
  }

  // The grouping a charge's lines are keyed by, or null when it is not grouped.
  const Grouping* GroupingOf(std::size_t c) const {
    const ir::Charge& charge = fn.charges[c];
    if (charge.group_fields.empty()) return nullptr;
    if (charge.per_event) return &groupings[static_cast<std::size_t>(charges[c].grouping)];
    int grouping = -1;
    for (const auto& in : charge.line_inputs) {
      if (in.kind != ir::Charge::LineInput::Kind::kMeter) continue;
      const MeterState& ms = meters[static_cast<std::size_t>(in.meter_instance)];
      if (grouping >= 0 && ms.grouping != grouping) {
        throw RatingError(fmt::format("internal: the meters of charge \"{}\" are grouped differently", charge.name), charge.source);
      }
      grouping = ms.grouping;
    }
    return grouping >= 0 ? &groupings[static_cast<std::size_t>(grouping)] : nullptr;
  }

  // The lines of charge `c`, in invoice order: every customer; a grouped charge, every group
  // value its meters (or its events) saw.
  std::vector<LineKey> LineKeys(std::size_t c) const {
    const ir::Charge& charge = fn.charges[c];
    if (charge.group_fields.empty() && charge.recurring && !customer_parts.empty()) {
      // A line per part for the customers whose subscription changes within the period.
      std::vector<LineKey> keys;
      for (const LineKey& k : CustomerKeys()) {
        auto it = customer_parts.find(customer_order[k.rank]);
        if (it == customer_parts.end() || it->second.empty()) {
          keys.push_back(k);
          continue;
        }
        for (std::uint32_t p = 0; p < it->second.size(); ++p) keys.push_back({k.slot, k.rank, k.combo, p + 1});
      }
      return keys;
    }
    if (charge.group_fields.empty()) return CustomerKeys();
    const Grouping* g = GroupingOf(c);
    if (g == nullptr) return {};
    if (charge.per_event) return OrderedSlots(*g, charges[c].present);
    std::vector<std::uint8_t> seen;
    for (const auto& in : charge.line_inputs) {
      if (in.kind != ir::Charge::LineInput::Kind::kMeter) continue;
      const MeterState& ms = meters[static_cast<std::size_t>(in.meter_instance)];
      if (seen.size() < ms.present.size()) seen.resize(ms.present.size());
      for (std::size_t s = 0; s < ms.present.size(); ++s) seen[s] |= ms.present[s];
    }
    return OrderedSlots(*g, seen);
  }

  // `beyond: error`: a line whose usage passed the last bound of tier table `in` stops rating,
  // naming the customer (and group), the usage and the bound, at the table's plan text (the
  // caller adds the charge's name). Checked after the program ran: the tiers themselves price the
  // last tier on, so that the check is one comparison a line, in one place.
  void CheckBeyond(const ir::Program& p, const ir::Inst& in, const std::vector<LineKey>& keys, const Grouping* g) const {
    const ir::TierTable& table = p.tier_tables[static_cast<std::size_t>(in.imm)];
    if (table.beyond != ir::Beyond::kError || !table.last_bound) return;
    const Reg& q = regs[static_cast<std::size_t>(in.a)];
    const std::string& unit = p.insts[static_cast<std::size_t>(in.a)].type.unit;
    const ExactNumber bound(*table.last_bound);
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const ExactNumber v = q.At(k);
      if (!(bound < v)) continue;
      std::string who = fmt::format("customer `{}`", customers.Text(customer_order[keys[k].rank]));
      if (g != nullptr) {
        std::string values;
        for (const std::string& x : GroupValues(*g, keys[k].combo)) values += (values.empty() ? "" : ", ") + x;
        who += fmt::format(" (for {})", values);
      }
      throw RatingError(fmt::format("{}: usage of {} is past {}, the last bound of its tiers, and the table says `beyond: error`",
                                    who, Show(v, unit), Show(bound, unit)),
                        table.source);
    }
  }

  void FinishAggregate(std::size_t c, const std::vector<LineKey>& keys, std::vector<Invoice>& invoices) {
    const ir::Charge& charge = fn.charges[c];
    const Grouping* g = GroupingOf(c);
    if (keys.empty()) return;
    Inputs inputs(charge.line_inputs.size());
    ExactInputs exact_inputs(charge.line_inputs.size());
    // Per slot, the lines whose meter value is too wide to show as a quantity.
    std::vector<std::set<std::size_t>> too_wide(charge.line_inputs.size());
    for (std::size_t s = 0; s < charge.line_inputs.size(); ++s) {
      const auto& in = charge.line_inputs[s];
      Column& col = inputs[s];
      if (in.kind == ir::Charge::LineInput::Kind::kMeter) {
        // Meter values as they are shown (a line's quantity); when one is no Decimal (an average
        // of thirds), the program reads the exact values of every line.
        col.type = ColumnType::kDecimal;
        auto m = static_cast<std::size_t>(in.meter_instance);
        col.decimals.reserve(keys.size());
        std::vector<ExactNumber> exact;
        bool any_exact = false;
        for (std::size_t k = 0; k < keys.size(); ++k) {
          ExactNumber v = MeterValue(m, keys[k].slot, customer_order[keys[k].rank]);
          if (!v.is_decimal() && !any_exact) {
            any_exact = true;
            exact.reserve(keys.size());
            for (std::size_t i = 0; i < k; ++i) exact.emplace_back(col.decimals[i]);
          }
          // A value whose integer part needs more than 38 digits cannot be shown: its line has no
          // quantity, and the amount is priced from the exact value.
          try {
            col.decimals.push_back(v.is_decimal() ? v.decimal() : v.Shown());
          } catch (const DecimalError&) {
            col.decimals.emplace_back();
            too_wide[s].insert(k);
            if (!any_exact) {
              any_exact = true;
              exact.reserve(keys.size());
              for (std::size_t i = 0; i < k; ++i) exact.emplace_back(col.decimals[i]);
            }
          }
          if (any_exact) exact.push_back(std::move(v));
        }
        if (any_exact) {
          exact_inputs[s].reserve(exact.size());
          exact_inputs[s] = std::move(exact);
        }
      } else if (in.kind == ir::Charge::LineInput::Kind::kGroupValue) {
        const auto gi = static_cast<std::size_t>(in.group_index);
        const ir::Event& event = fn.events[static_cast<std::size_t>(g->event)];
        const bool boolean = event.fields[static_cast<std::size_t>(g->fields[gi])].kind == ValueKind::kBool;
        col.type = boolean ? ColumnType::kBool : ColumnType::kText;
        for (const LineKey& k : keys) {
          const std::string_view v = GroupValue(*g, k.combo, gi);
          if (boolean) col.bools.push_back(v == "true" ? 1 : 0);
          else col.texts.emplace_back(v);
        }
      } else if (in.kind == ir::Charge::LineInput::Kind::kActive || in.kind == ir::Charge::LineInput::Kind::kLength) {
        col.type = ColumnType::kDecimal;
        col.decimals.reserve(keys.size());
        for (const LineKey& k : keys) {
          const SubscriptionPart* part = PartOf(k);
          col.decimals.push_back(part != nullptr ? Share(part->active, in.kind, in.basis) : PeriodShare(customer_order[k.rank], in.kind, in.basis));
        }
      } else {
        col.type = in.value_kind == ValueKind::kText ? ColumnType::kText
                   : in.value_kind == ValueKind::kBool ? ColumnType::kBool
                                                        : ColumnType::kDecimal;
        for (const LineKey& k : keys) {
          SubscriptionValue v;
          if (const SubscriptionPart* part = PartOf(k)) {
            for (const SubscriptionPart::Value& x : part->values) {
              if (x.field == in.field) v = SubscriptionValue{x.number, x.text, x.flag};
            }
          } else if (auto cust = subscriptions.find(customer_order[k.rank]); cust != subscriptions.end()) {
            auto f = cust->second.find(in.field);
            if (f != cust->second.end()) v = f->second;
          }
          col.decimals.push_back(v.number);
          col.texts.push_back(v.text);
          col.bools.push_back(v.flag ? 1 : 0);
        }
      }
    }
    Selection all;
    all.count = keys.size();
    Run(charge.line, inputs, all, regs, &exact_inputs);
    const Reg& amount = regs[static_cast<std::size_t>(charge.line.result)];
    // The tiers crossed, if the program applied a tier table.
    Reg* tiers = nullptr;
    for (std::size_t i = 0; i < charge.line.insts.size(); ++i) {
      const ir::Inst& in = charge.line.insts[i];
      if (in.op != Op::kTiers) continue;
      tiers = &regs[i];
      CheckBeyond(charge.line, in, keys, g);
    }
    // `allocated by`: the slots of the proportion meter, by customer rank.
    std::vector<LineKey> alloc_keys;
    std::vector<std::pair<std::size_t, std::size_t>> alloc_range;
    if (charge.allocation) {
      const MeterState& ms = meters[static_cast<std::size_t>(charge.allocation->meter_instance)];
      alloc_keys = OrderedSlots(groupings[static_cast<std::size_t>(ms.grouping)], ms.present);
      alloc_range.assign(customer_order.size(), {0, 0});
      for (std::size_t i = 0; i < alloc_keys.size();) {
        std::size_t j = i;
        while (j < alloc_keys.size() && alloc_keys[j].rank == alloc_keys[i].rank) ++j;
        alloc_range[alloc_keys[i].rank] = {i, j};
        i = j;
      }
    }
    for (std::size_t k = 0; k < keys.size(); ++k) {
      InvoiceLine line;
      line.name = charge.name;
      line.price = charge.price_text;
      if (g != nullptr) line.group = GroupValues(*g, keys[k].combo);
      if (charge.quantity_input >= 0 && too_wide[static_cast<std::size_t>(charge.quantity_input)].count(k) == 0) {
        line.has_quantity = true;
        line.quantity = inputs[static_cast<std::size_t>(charge.quantity_input)].decimals[k];
        line.unit = charge.quantity_unit;
      }
      if (options.explain && Traced(customer_order[keys[k].rank])) line.derivation = ExplainAggregate(c, inputs, exact_inputs, keys[k].slot, k);
      if (tiers != nullptr) {
        // Each row's tiers go to one line; a scalar's are shared, so copied.
        if (tiers->scalar) line.tiers = tiers->tiers[0];
        else line.tiers = std::move(tiers->tiers[k]);
      }
      if (const SubscriptionPart* part = PartOf(keys[k])) {
        line.from = part->from;
        line.to = part->to;
      }
      if (charge.allocation) {
        const auto [from, to] = alloc_range[keys[k].rank];
        Allocate(c, invoices[keys[k].rank], keys[k].rank, std::move(line), amount.At(k),
                 std::vector<LineKey>(alloc_keys.begin() + static_cast<std::ptrdiff_t>(from), alloc_keys.begin() + static_cast<std::ptrdiff_t>(to)));
        continue;
      }
      PushLine(invoices[keys[k].rank], keys[k].rank, std::move(line), amount.At(k));
    }
  }

  // `allocated by FIELD in proportion to METER`: `whole`, the line priced once for the customer
  // (its amount `amount`, rounded by the charge's rule unless the plan rounds per invoice), split
  // into one line per value of FIELD the meter saw (`slots`, in value order), each value's part
  // the amount × its usage ÷ the total usage. Rounded: every part is its exact share rounded
  // down (toward zero) to the rule's decimals, and the units of the last decimal that leaves
  // over go one each to the parts with the largest remainders, ties to the earlier value — so the
  // parts add up to the amount exactly. Per invoice: the exact shares. No usage in all: the whole
  // amount stays on one line without a group value (docs/language.md, "Allocation").
  void Allocate(std::size_t c, Invoice& inv, std::uint32_t rank, InvoiceLine whole, const ExactNumber& amount,
                const std::vector<LineKey>& slots) {
    const ir::Charge& charge = fn.charges[c];
    const ir::Charge::Allocation& a = *charge.allocation;
    const auto m = static_cast<std::size_t>(a.meter_instance);
    const ir::MeterInstance& meter = fn.meters[m];
    const Grouping& g = groupings[static_cast<std::size_t>(meters[m].grouping)];
    const std::uint32_t customer = customer_order[rank];
    std::vector<ExactNumber> usage;
    usage.reserve(slots.size());
    Fraction total;
    for (const LineKey& k : slots) {
      usage.push_back(MeterValue(m, k.slot, customer));
      if (usage.back().sign() < 0) {
        throw RatingError(fmt::format("customer `{}` (for {}): usage of {} by meter `{}` is negative, and an allocation splits the amount in "
                                      "proportion to usage of zero or more",
                                      customers.Text(customer), GroupValues(g, k.combo).front(), Show(usage.back(), meter.unit), a.meter),
                          a.source);
      }
      total += usage.back().exact();
    }
    const ExactNumber total_usage = ExactNumber::Of(total);
    const std::shared_ptr<Derivation> base = whole.derivation;
    if (total.is_zero()) {
      if (base != nullptr) {
        AddStep(*base, "allocate",
                fmt::format("meter `{}` is 0 for {}: nothing to allocate by, so the whole amount {} stays on one line", a.meter,
                            slots.empty() ? fmt::format("every value of `{}` (none was used)", a.dimension)
                                          : fmt::format("every value of `{}`", a.dimension),
                            Show(amount, fn.currency)),
                a.source);
      }
      PushLine(inv, rank, std::move(whole), amount);
      return;
    }
    const bool rounded = charge.rounding.point != ir::RoundingRule::Point::kInvoice;
    const int scale = charge.rounding.scale;
    Fraction unit_value = 1;  // one unit of the last decimal kept: 10^-scale
    for (int i = 0; i < scale; ++i) unit_value = Fraction::Quotient(unit_value, Fraction(10));
    const Fraction whole_exact = amount.exact();
    const bool negative = whole_exact.sign() < 0;
    const Fraction magnitude = negative ? -whole_exact : whole_exact;
    std::vector<Fraction> share(slots.size()), parts(slots.size());
    std::vector<std::uint8_t> extra(slots.size());
    Fraction left_over;  // what the parts rounded toward zero leave of the amount
    for (std::size_t i = 0; i < slots.size(); ++i) share[i] = Fraction::Quotient(magnitude * usage[i].exact(), total);
    if (rounded) {
      // In units of the last decimal: floors, then the units left over by largest remainder.
      std::vector<Fraction> remainder(slots.size());
      Fraction given;
      for (std::size_t i = 0; i < slots.size(); ++i) {
        const Fraction units = Fraction::Quotient(share[i], unit_value);
        const Fraction floor = units.Floor();
        remainder[i] = units - floor;
        parts[i] = floor * unit_value;
        given += parts[i];
      }
      left_over = magnitude - given;
      const Fraction left_units = Fraction::Quotient(left_over, unit_value);  // a whole number below slots.size()
      std::vector<std::size_t> order(slots.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return remainder[y] < remainder[x]; });
      for (std::size_t j = 0; Fraction(static_cast<std::int64_t>(j)) < left_units; ++j) {
        extra[order[j]] = 1;
        parts[order[j]] += unit_value;
      }
    } else {
      parts = share;
    }
    for (std::size_t i = 0; i < slots.size(); ++i) {
      InvoiceLine line;
      line.name = whole.name;
      line.price = whole.price;
      line.group = GroupValues(g, slots[i].combo);
      line.rated_by = whole.rated_by;
      line.from = whole.from;
      line.to = whole.to;
      if (usage[i].is_decimal()) {
        line.has_quantity = true;
        line.quantity = usage[i].decimal();
        line.unit = meter.unit;
      }
      const Fraction signed_part = negative ? -parts[i] : parts[i];
      const Fraction signed_share = negative ? -share[i] : share[i];
      ExactNumber part = rounded ? ExactNumber(signed_part.Round(scale, RoundingMode::kHalfEven)) : ExactNumber::Of(signed_part);
      if (base != nullptr) {
        auto d = std::make_shared<Derivation>();
        d->steps = base->steps;
        const ExactNumber exact_share = ExactNumber::Of(signed_share);
        DerivationStep& step = AddStep(*d, "allocate",
                                       fmt::format("the whole amount {} is allocated over {} of `{}` in proportion to meter `{}`: {} in all",
                                                   Show(amount, fn.currency), Plural(slots.size(), "value", "values"), a.dimension, a.meter,
                                                   Show(total_usage, meter.unit)),
                                       a.source);
        SetValue(step, amount, fn.currency);
        AddOperand(step, "total_usage", total_usage, meter.unit);
        DerivationStep& share_step =
            AddStep(*d, "share",
                    fmt::format("`{}` used {} of {}: {} × {} ÷ {} = {}", line.group.front(), Show(usage[i], meter.unit),
                                Show(total_usage, meter.unit), Show(amount, fn.currency), Show(usage[i], ""), Show(total_usage, ""),
                                Show(exact_share, fn.currency)),
                    a.source);
        SetValue(share_step, exact_share, fn.currency);
        AddOperand(share_step, "usage", usage[i], meter.unit);
        AddOperand(share_step, "total_usage", total_usage, meter.unit);
        std::vector<ExactTerm> terms{{fmt::format("{} × {} ÷ {}", Show(amount, ""), Show(usage[i], ""), Show(total_usage, "")), exact_share, false}};
        if (rounded) {
          const Decimal down = (negative ? -(parts[i] - (extra[i] ? unit_value : Fraction())) : parts[i] - (extra[i] ? unit_value : Fraction()))
                                   .Round(scale, RoundingMode::kHalfEven);
          const Decimal one = unit_value.Round(scale, RoundingMode::kHalfEven);
          DerivationStep& r = AddStep(
              *d, "distribute",
              extra[i] ? fmt::format("{} rounded toward zero to {} decimals = {}; the parts so rounded leave {} of the amount, given {} "
                                     "at a time to the largest remainders (ties to the earlier value): {} {} {} = {}",
                                     Show(exact_share, fn.currency), scale, Show(down, fn.currency),
                                     Show(left_over.Round(scale, RoundingMode::kHalfEven), fn.currency), Show(one, fn.currency),
                                     Show(down, ""), negative ? "-" : "+", Show(one, ""), Show(part, fn.currency))
                       : fmt::format("{} rounded toward zero to {} decimals = {}", Show(exact_share, fn.currency), scale, Show(part, fn.currency)),
              a.source);
          SetValue(r, part, fn.currency);
          r.before = exact_share.Shown();
          r.scale = scale;
          terms.push_back({extra[i] ? "allocation rounding, with a unit left over by largest remainder" : "allocation rounding", part - exact_share, true});
        }
        d->terms.clear();
        FinalizeTerms(terms, part.Shown(fn.rounding.scale), d->terms);
        // Terms that are zero say nothing.
        if (d->terms.size() > 1) {
          d->terms.erase(std::remove_if(d->terms.begin() + 1, d->terms.end(), [](const DerivationTerm& t) { return t.amount.is_zero(); }),
                         d->terms.end());
        }
        line.derivation = std::move(d);
      }
      PushLine(inv, rank, std::move(line), part);
    }
  }

  // The part a line key is for, or null.
  const SubscriptionPart* PartOf(const LineKey& k) const {
    if (k.part == 0) return nullptr;
    return &customer_parts.at(customer_order[k.rank])[k.part - 1];
  }

  void FinishPerEvent(std::size_t c, const std::vector<LineKey>& keys, std::vector<Invoice>& invoices) {
    const ir::Charge& charge = fn.charges[c];
    ChargeState& cs = charges[c];
    const Grouping* g = GroupingOf(c);
    // One line per slot with events; an ungrouped charge gives every other customer a line at
    // zero.
    for (const LineKey& key : keys) {
      const std::uint32_t slot = key.slot;
      InvoiceLine line;
      line.name = charge.name;
      line.price = charge.price_text;
      if (options.explain && Traced(customer_order[key.rank])) line.derivation = ExplainPerEvent(c, slot);
      if (g == nullptr && (slot >= cs.present.size() || !cs.present[slot])) {
        line.amount = Decimal().Rescale(charge.rounding.point == ir::RoundingRule::Point::kInvoice ? 0 : charge.rounding.scale,
                                        RoundingMode::kHalfEven);
        invoices[key.rank].lines.push_back(std::move(line));
        continue;
      }
      ExactNumber sum = slot < cs.sum.size() ? cs.spill.Total(slot, cs.sum[slot].value()) : ExactNumber();
      // Rounded per event, a line whose events were all free is still a zero at the rule's
      // scale (0.00, not 0), like any other line of the charge.
      if (charge.rounding.point == ir::RoundingRule::Point::kEvent && sum.is_decimal()) {
        sum = RoundDecimal(sum.decimal(), std::max(sum.decimal().scale(), charge.rounding.scale), RoundingMode::kHalfEven);
      }
      if (slot < cs.kept.size()) {
        auto& kept = cs.kept[slot];
        SortKept(kept);
        FreeFirst free(charge);
        for (const EventCharge& e : kept) {
          const std::uint64_t charged = e.weight - free.Next(e.free_value, e.weight);
          if (charged > 0) sum = sum + Weighted(e.amount, charged);
        }
      }
      if (g != nullptr) line.group = GroupValues(*g, key.combo);
      if (charge.rounding.point == ir::RoundingRule::Point::kLine) {
        line.amount = sum.Round(charge.rounding.scale, charge.rounding.mode);
        invoices[key.rank].lines.push_back(std::move(line));
      } else if (charge.rounding.point == ir::RoundingRule::Point::kEvent && !sum.is_decimal()) {
        // A sum of amounts rounded per event is a Decimal unless it needs more than 38 digits.
        throw DecimalError(DecimalErrorKind::kOverflow, fmt::format("the line's amount {} does not fit in 38 digits", sum.ToString()));
      } else {
        PushLine(invoices[key.rank], key.rank, std::move(line), sum);
      }
    }
  }

  // `free first N events or M`: events in time order (ties by amount, then the free value, so
  // that input order never matters).
  static void SortKept(std::vector<EventCharge>& kept) {
    std::sort(kept.begin(), kept.end(), [](const EventCharge& x, const EventCharge& y) {
      if (x.time != y.time) return x.time < y.time;
      if (const int c = CompareForTies(x.amount, y.amount); c != 0) return c < 0;
      return x.free_value < y.free_value;
    });
  }

  // Decides which events of a line are free under `free first N events or M`, in time order: an
  // event is free while both limits hold — fewer than N events before it, and the money field's
  // running total including it at most M; from the first event that is not free on, none is. A
  // row of weight w is w identical events in a row.
  class FreeFirst {
   public:
    explicit FreeFirst(const ir::Charge& charge) : charge_(charge) {}

    // How many of the next `weight` events, each carrying `free_value`, are free (a prefix).
    std::uint64_t Next(const Decimal& free_value, std::uint64_t weight) {
      const ExactNumber w = Decimal::FromParts(static_cast<int128>(weight), 0);
      std::uint64_t free = done_ ? 0 : weight;
      // The event limit: copies j with index_ + j < N.
      if (!done_ && charge_.free_events) {
        const ExactNumber left = ExactNumber(*charge_.free_events) - ExactNumber(Decimal::FromParts(static_cast<int128>(index_), 0));
        free = ToCount(Clamp(ExactNumber::Of(left.exact().Ceil()), w));
      }
      // The money limit: copies j with cumulative_ + (j+1) × v <= M. With v > 0 that holds for a
      // prefix of them; with v <= 0 for all of them or, if the first fails, none.
      const ExactNumber v = free_value;
      if (!done_ && charge_.free_amount) {
        const ExactNumber room = ExactNumber(*charge_.free_amount) - cumulative_;
        if (v.sign() > 0) {
          free = std::min(free, ToCount(Clamp(ExactNumber::Of(ExactNumber::Quotient(room, v).exact().Floor()), w)));
        } else if (room < v) {
          free = 0;
        }
      }
      if (free < weight) done_ = true;
      if (charge_.free_amount) cumulative_ = cumulative_ + Weighted(v, weight);
      index_ += weight;
      return free;
    }

   private:
    static ExactNumber Clamp(const ExactNumber& x, const ExactNumber& hi) { return x.sign() < 0 ? ExactNumber() : x > hi ? hi : x; }
    static std::uint64_t ToCount(const ExactNumber& x) { return static_cast<std::uint64_t>(x.decimal().coefficient()); }

    const ir::Charge& charge_;
    std::uint64_t index_ = 0;  // events before the next one
    ExactNumber cumulative_;   // the money field's running total
    bool done_ = false;        // an event was not free: none after it is
  };

  // ---- Explaining: the derivation of a line (only with options.explain) ----

  // An aggregate charge's line `k` (slot `slot`): its inputs, then the interesting instructions
  // of its line program in order, with the values the registers hold for the row; the terms
  // come from the program's shape (a rounding adds its difference, a sum its parts, tiers one
  // term per tier crossed). Called right after Run, before the registers are reused.
  std::shared_ptr<Derivation> ExplainAggregate(std::size_t c, const Inputs& inputs, const ExactInputs& exact_inputs, std::uint32_t slot,
                                               std::size_t k) const {
    const ir::Charge& charge = fn.charges[c];
    const ir::Program& p = charge.line;
    auto d = std::make_shared<Derivation>();
    const std::size_t n = p.insts.size();
    auto inst = [&p](std::int32_t i) -> const ir::Inst& { return p.insts[static_cast<std::size_t>(i)]; };
    auto num = [this, k](std::int32_t i) -> ExactNumber { return regs[static_cast<std::size_t>(i)].At(k); };
    // Units as shown. The lowering turns a rate into money per one unit of the quantity it
    // multiplies (`MB × 0.004 USD per GB` is `MB × 0.000004 USD per MB`, `0.20 USD per 1000
    // request` is 0.0002 USD per request); such a constant is shown with the plan's price beside
    // it, when the two are written differently.
    std::vector<std::string> units(n);
    std::vector<std::uint8_t> converted_rate(n);
    for (std::size_t i = 0; i < n; ++i) units[i] = p.insts[i].type.unit;
    for (std::size_t i = 0; i < n; ++i) {
      const ir::Inst& in = p.insts[i];
      if (in.op != Op::kMul || in.type.unit != fn.currency) continue;
      for (auto [x, rate] : {std::pair{in.a, in.b}, std::pair{in.b, in.a}}) {
        const std::string& rate_unit = inst(rate).type.unit;
        if (inst(rate).op != Op::kConst || rate_unit.find(" per ") == std::string::npos || inst(x).type.unit.empty()) continue;
        if (charge.price_text.empty() || charge.price_text == Show(num(rate), rate_unit)) continue;
        converted_rate[static_cast<std::size_t>(rate)] = 1;
      }
    }
    auto unit = [&units](std::int32_t i) -> const std::string& { return units[static_cast<std::size_t>(i)]; };
    auto show = [&](std::int32_t i) { return Show(num(i), unit(i)); };
    auto input_kind = [&](std::int32_t i) {
      const ir::Inst& in = inst(i);
      return in.op == Op::kInput ? charge.line_inputs[static_cast<std::size_t>(in.imm)].kind : ir::Charge::LineInput::Kind::kGroupValue;
    };
    auto is_input = [&](std::int32_t i, ir::Charge::LineInput::Kind kind) { return inst(i).op == Op::kInput && input_kind(i) == kind; };
    // Values that depend on an input (the rest are the plan's constants, not worth a step).
    std::vector<std::uint8_t> live(n);
    for (std::size_t i = 0; i < n; ++i) {
      const ir::Inst& in = p.insts[i];
      live[i] = in.op == Op::kInput || (in.a >= 0 && live[static_cast<std::size_t>(in.a)]) ||
                (in.b >= 0 && live[static_cast<std::size_t>(in.b)]);
      for (std::int32_t x : in.args) live[i] |= live[static_cast<std::size_t>(x)];
    }
    // Instructions shown by a later one's step: the subtraction of an allowance (by its clamp),
    // the fee × active of a proration (by its division by the period's length).
    std::vector<std::uint8_t> folded(n);
    for (std::size_t i = 0; i < n; ++i) {
      const ir::Inst& in = p.insts[i];
      if (in.op == Op::kClampZero && inst(in.a).op == Op::kSub) folded[static_cast<std::size_t>(in.a)] = 1;
      if (in.op == Op::kDiv && is_input(in.b, ir::Charge::LineInput::Kind::kLength) && inst(in.a).op == Op::kMul) {
        folded[static_cast<std::size_t>(in.a)] = 1;
      }
    }

    // The inputs: the events each meter matched and its value; subscription values.
    for (std::size_t s = 0; s < charge.line_inputs.size(); ++s) {
      const ir::Charge::LineInput& li = charge.line_inputs[s];
      if (li.kind == ir::Charge::LineInput::Kind::kMeter) {
        const auto m = static_cast<std::size_t>(li.meter_instance);
        const ir::MeterInstance& meter = fn.meters[m];
        const std::uint64_t events = slot < meter_events[m].size() ? meter_events[m][slot] : 0;
        const std::string& event = fn.events[static_cast<std::size_t>(meter.event)].name;
        Span where = meter.filter.empty() ? meter.source : meter.filter.insts[static_cast<std::size_t>(meter.filter.result)].source;
        DerivationStep& e = AddStep(*d, "events",
                                    fmt::format("{} `{}` {} matched{}", events, event, events == 1 ? "event" : "events",
                                                meter.filter.empty() ? "" : " the meter's `where`"),
                                    where);
        SetValue(e, Decimal(static_cast<std::int64_t>(events)), "event");
        const ExactNumber v = exact_inputs[s].empty() ? ExactNumber(inputs[s].decimals[k]) : exact_inputs[s][k];
        DerivationStep& step = AddStep(*d, "meter", MeterText(meter, Show(v, meter.unit)), meter.source);
        SetValue(step, v, meter.unit);
        step.name = meter.meter;
      } else if (li.kind == ir::Charge::LineInput::Kind::kSubscription) {
        const Column& col = inputs[s];
        if (col.type == ColumnType::kDecimal) {
          SetValue(AddStep(*d, "subscription", fmt::format("subscription.{} = {}", li.field, col.decimals[k].ToString()), charge.source),
                   col.decimals[k], "");
        } else if (col.type == ColumnType::kText) {
          AddStep(*d, "subscription", fmt::format("subscription.{} = \"{}\"", li.field, col.texts[k]), charge.source);
        } else {
          AddStep(*d, "subscription", fmt::format("subscription.{} = {}", li.field, col.bools[k] ? "true" : "false"), charge.source);
        }
      }
    }

    const std::string& currency = fn.currency;
    for (std::size_t i = 0; i < n; ++i) {
      const ir::Inst& in = p.insts[i];
      const auto self = static_cast<std::int32_t>(i);
      if (!live[i] || folded[i] || in.type.kind != ValueKind::kDecimal) continue;
      const ExactNumber r = num(self);
      switch (in.op) {
        case Op::kInput:
        case Op::kConst: break;
        case Op::kAdd:
        case Op::kSub:
        case Op::kNeg: {
          std::string text = in.op == Op::kNeg ? fmt::format("-({}) = {}", show(in.a), show(self))
                                                : fmt::format("{} {} {} = {}", show(in.a), in.op == Op::kAdd ? "+" : "-", show(in.b), show(self));
          SetValue(AddStep(*d, in.op == Op::kAdd ? "add" : in.op == Op::kSub ? "subtract" : "negate", std::move(text), in.source), r, in.type.unit);
          break;
        }
        case Op::kMul:
        case Op::kDiv: {
          if (in.op == Op::kDiv && is_input(in.b, ir::Charge::LineInput::Kind::kLength) && inst(in.a).op == Op::kMul) {
            const ir::Inst& product = inst(in.a);
            const ExactNumber fee = num(product.a);
            const ExactNumber share = num(product.b);
            const ExactNumber length = num(in.b);
            std::string text =
                share == length
                    ? fmt::format("active for the whole period: {} is not prorated", show(product.a))
                    : fmt::format("active {} of {}: {} × {} ÷ {} = {}", ShareText(share.Shown(), unit(product.b)), ShareText(length.Shown(), unit(in.b)),
                                  show(product.a), share.ToString(), length.ToString(), show(self));
            DerivationStep& step = AddStep(*d, "prorate", std::move(text), in.source);
            SetValue(step, r, in.type.unit);
            AddOperand(step, "amount", fee, unit(product.a));
            AddOperand(step, "active", share, unit(product.b));
            AddOperand(step, "length", length, unit(in.b));
            break;
          }
          const char* sign = in.op == Op::kMul ? "×" : "÷";
          // A conversion: a quantity times or divided by a plain constant, into another unit.
          const bool a_live = live[static_cast<std::size_t>(in.a)] != 0;
          const std::int32_t x = a_live ? in.a : in.b, factor = a_live ? in.b : in.a;
          const bool conversion = !live[static_cast<std::size_t>(factor)] && unit(factor).empty() && !unit(x).empty() &&
                                  !in.type.unit.empty() && unit(x) != in.type.unit && in.type.unit != currency;
          const char* kind = conversion ? "convert" : in.type.unit == currency ? "price" : in.op == Op::kMul ? "multiply" : "divide";
          std::string text = fmt::format("{} {} {} = {}", show(in.a), sign, show(in.b), show(self));
          if (conversion) text += fmt::format(" ({} to {})", unit(x), in.type.unit);
          if ((converted_rate[static_cast<std::size_t>(in.a)] || converted_rate[static_cast<std::size_t>(in.b)]) &&
              !charge.price_text.empty()) {
            text += fmt::format(" (the plan's {}, converted)", charge.price_text);
          }
          SetValue(AddStep(*d, kind, std::move(text), in.source), r, in.type.unit);
          break;
        }
        case Op::kMin:
        case Op::kMax: {
          const std::int32_t bound = ConstOperand(p, in);
          std::string text;
          if (bound < 0) {
            text = fmt::format("{}({}, {}) = {}", in.op == Op::kMin ? "min" : "max", show(in.a), show(in.b), show(self));
          } else {
            const std::int32_t x = bound == in.b ? in.a : in.b;
            const bool changed = !(num(x) == r);
            if (in.op == Op::kMin) {
              text = changed ? fmt::format("{} is above the maximum {}: {}", show(x), show(bound), show(self))
                             : fmt::format("{} is within the maximum {}", show(x), show(bound));
            } else {
              text = changed ? fmt::format("{} is below the minimum {}: {}", show(x), show(bound), show(self))
                             : fmt::format("{} is at least the minimum {}", show(x), show(bound));
            }
          }
          SetValue(AddStep(*d, "limit", std::move(text), in.source), r, in.type.unit);
          break;
        }
        case Op::kCeilStep:
        case Op::kFloorStep:
          SetValue(AddStep(*d, "increment",
                           fmt::format("{} rounded {} to a multiple of {}: {}", show(in.a), in.op == Op::kCeilStep ? "up" : "down",
                                       show(in.b), show(self)),
                           in.source),
                   r, in.type.unit);
          break;
        case Op::kPackages: {
          DerivationStep& step = AddStep(
              *d, "packages",
              fmt::format("{} in packages of {}: {} started {}", show(in.a), show(in.b), r.ToString(), r == ExactNumber(1) ? "package" : "packages"),
              in.source);
          SetValue(step, r, in.type.unit);
          AddOperand(step, "quantity", num(in.a), unit(in.a));
          AddOperand(step, "size", num(in.b), unit(in.b));
          break;
        }
        case Op::kClampZero: {
          const ir::Inst& sub = inst(in.a);
          if (sub.op != Op::kSub) {
            SetValue(AddStep(*d, "clamp", fmt::format("{} is never below zero: {}", show(in.a), show(self)), in.source), r, in.type.unit);
            break;
          }
          const ExactNumber used = num(sub.a);
          const ExactNumber included = num(sub.b);
          std::string text = used <= included
                                 ? fmt::format("{} used, {} included: all of it within the allowance, {} billable", show(sub.a),
                                               show(sub.b), show(self))
                                 : fmt::format("{} used - {} included = {} billable", show(sub.a), show(sub.b), show(self));
          DerivationStep& step = AddStep(*d, "allowance", std::move(text), in.source);
          SetValue(step, r, in.type.unit);
          AddOperand(step, "used", used, unit(sub.a));
          AddOperand(step, "included", included, unit(sub.b));
          AddOperand(step, "remaining", r, in.type.unit);
          break;
        }
        case Op::kMatch: {
          // The arm's price as the plan writes it, and the value it is per unit of the quantity
          // when that reads differently (`0.10 USD per min` over seconds is 1/600 USD per s).
          const ir::MatchTable& table = p.match_tables[static_cast<std::size_t>(in.imm)];
          const Reg& subject = regs[static_cast<std::size_t>(in.args[0])];
          const std::string_view key = subject.t[subject.Index(k)];
          std::size_t arm = table.patterns.size();
          for (std::size_t a = 0; a < table.patterns.size() && arm == table.patterns.size(); ++a) {
            if (std::find(table.patterns[a].begin(), table.patterns[a].end(), key) != table.patterns[a].end()) arm = a;
          }
          for (std::size_t a = 0; a < table.patterns.size() && arm == table.patterns.size(); ++a) {
            if (table.patterns[a].empty()) arm = a;
          }
          std::string choice = show(self);
          if (arm < table.arm_text.size() && !table.arm_text[arm].empty() && table.arm_text[arm] != choice) {
            choice = fmt::format("{} (= {})", table.arm_text[arm], choice);
          }
          SetValue(AddStep(*d, "match", fmt::format("`{}` selects {}", key, choice), in.source), r, in.type.unit);
          break;
        }
        case Op::kTiers: ExplainTiers(*d, p, in, num(in.a), unit(in.a), r, regs[i].tiers[regs[i].Index(k)]); break;
        case Op::kRound: {
          DerivationStep& step = AddStep(
              *d, "round", fmt::format("{} rounded {} = {}", show(in.a), RuleText(in.mode, in.scale), show(self)), in.source);
          SetValue(step, r, in.type.unit);
          AddRounding(step, num(in.a), in.mode, in.scale);
          break;
        }
        default: break;
      }
    }
    const ir::Inst& result = inst(p.result);
    if (!live[static_cast<std::size_t>(p.result)]) {
      const std::string price = charge.price_text.empty() ? show(p.result) : charge.price_text;
      SetValue(AddStep(*d, "fee", fmt::format("a fixed fee: {}", price), charge.source), num(p.result), result.type.unit);
    }
    std::vector<ExactTerm> terms;
    AggregateTerms(p, k, p.result, false, charge, units, terms);
    FinalizeTerms(terms, num(p.result).Shown(fn.rounding.scale), d->terms);
    return d;
  }

  // The steps of a tier table applied to `q`: which kind, then each tier crossed.
  void ExplainTiers(Derivation& d, const ir::Program& p, const ir::Inst& in, const ExactNumber& q, const std::string& q_unit,
                    const ExactNumber& total, const std::vector<TierPart>& parts) const {
    const ir::TierTable& table = p.tier_tables[static_cast<std::size_t>(in.imm)];
    const std::string& currency = in.type.unit;
    std::string text = table.graduated
                           ? fmt::format("graduated tiers over {}: each unit at the price of its tier", Show(q, q_unit))
                           : fmt::format("volume tiers over {}: all of it at the price of the tier it ends in", Show(q, q_unit));
    SetValue(AddStep(d, "tiers", std::move(text), table.source), total, currency);
    for (const TierPart& part : parts) {
      const std::size_t t = TierIndex(table, part);
      std::string tier_text;
      if (q.sign() <= 0) {
        tier_text = fmt::format("tier {}: no usage, the first tier's flat fee {}", t + 1, Show(part.amount, currency));
      } else {
        // The price per unit of the quantity, when the plan writes it another way (`0.09 USD per
        // GB` over MB is 0.00009 USD per MB): the multiplication the amount comes from.
        std::string price = part.price;
        const ir::TierSpec& spec = table.tiers[t];
        const std::string per_unit = fmt::format(
            "{} {} per {}", spec.unit_price.is_decimal() ? spec.unit_price.decimal().Normalized().ToString() : spec.unit_price.Describe(),
            currency, q_unit);
        if (!spec.unit_price.is_zero() && !q_unit.empty() && price != per_unit) price += " (" + per_unit + ")";
        const std::optional<ir::Number>& bound = WrittenBound(table, t);
        if (table.graduated) {
          tier_text = fmt::format("tier {}, {} to {}: {} at {} = {}", t + 1, part.from.ToString(), Show(part.to, q_unit),
                                  Show(part.quantity, q_unit), price, Show(part.amount, currency));
        } else {
          tier_text = fmt::format("tier {}, above {}{}: all {} at {} = {}", t + 1, Show(part.from, q_unit),
                                  bound ? fmt::format(" up to {}", Show(*bound, q_unit)) : std::string(),
                                  Show(part.quantity, q_unit), price, Show(part.amount, currency));
        }
        // A table without `above` whose last tier went on past its bound (`beyond: last price`).
        if (table.beyond == ir::Beyond::kLastPrice && !spec.up_to && bound && *bound < ExactNumber(part.to)) {
          tier_text += fmt::format(" (past the table's last bound {}: `beyond: last price`)", Show(*bound, q_unit));
        }
      }
      DerivationStep& step = AddStep(d, "tier", std::move(tier_text), table.source);
      SetValue(step, part.amount, currency);
      AddOperand(step, "from", part.from, q_unit);
      AddOperand(step, "to", part.to, q_unit);
      AddOperand(step, "quantity", part.quantity, q_unit);
      step.operands.push_back({"price", part.price, ""});
    }
  }

  // Which tier of `table` a part crossed: the first whose bound reaches the part's end.
  static std::size_t TierIndex(const ir::TierTable& table, const TierPart& part) {
    for (std::size_t t = 0; t < table.tiers.size(); ++t) {
      if (!table.tiers[t].up_to || ExactNumber(part.to) <= *table.tiers[t].up_to) return t;
    }
    return table.tiers.empty() ? 0 : table.tiers.size() - 1;
  }

  // The terms of value `i` of line program `p` at row `k` (negated when `negate`): a rounding is
  // its operand's terms and the difference it made; a sum or difference, its operands' terms;
  // tiers, one term per tier crossed; anything else is one term. Each term is a value the
  // program computed, exactly, so the terms add up to the line's amount exactly when, and only
  // when, the registers do (FinalizeTerms then shows them as Decimals).
  void AggregateTerms(const ir::Program& p, std::size_t k, std::int32_t i, bool negate, const ir::Charge& charge,
                      const std::vector<std::string>& units, std::vector<ExactTerm>& out) const {
    const ir::Inst& in = p.insts[static_cast<std::size_t>(i)];
    const Reg& r = regs[static_cast<std::size_t>(i)];
    const ExactNumber v = r.At(k);
    auto add = [&](std::string label, const ExactNumber& amount, bool rounding = false) {
      out.push_back({std::move(label), negate ? -amount : amount, rounding});
    };
    auto value = [&](std::int32_t x) -> ExactNumber { return regs[static_cast<std::size_t>(x)].At(k); };
    auto show = [&](std::int32_t x) { return Show(value(x), units[static_cast<std::size_t>(x)]); };
    switch (in.op) {
      case Op::kRound: {
        AggregateTerms(p, k, in.a, negate, charge, units, out);
        const ExactNumber difference = v - value(in.a);
        if (!difference.is_zero()) add(fmt::format("rounding {}", RuleText(in.mode, in.scale)), difference, true);
        return;
      }
      case Op::kAdd:
        AggregateTerms(p, k, in.a, negate, charge, units, out);
        AggregateTerms(p, k, in.b, negate, charge, units, out);
        return;
      case Op::kSub:
        AggregateTerms(p, k, in.a, negate, charge, units, out);
        AggregateTerms(p, k, in.b, !negate, charge, units, out);
        return;
      case Op::kNeg: AggregateTerms(p, k, in.a, !negate, charge, units, out); return;
      case Op::kTiers: {
        const std::vector<TierPart>& parts = r.tiers[r.Index(k)];
        if (parts.empty()) {
          add(v.is_zero() ? "no usage" : "tiers", v);
          return;
        }
        // One term per tier, when the tiers' amounts as shown are exactly the tiers' total (they
        // are unless a tier's amount has no finite decimal expansion); else the total.
        ExactNumber sum;
        for (const TierPart& part : parts) sum = sum + part.amount;
        if (!(sum == v)) {
          add("tiers", v);
          return;
        }
        const ir::TierTable& table = p.tier_tables[static_cast<std::size_t>(in.imm)];
        for (const TierPart& part : parts) add(fmt::format("tier {}", TierIndex(table, part) + 1), part.amount);
        return;
      }
      case Op::kMul:
        add(fmt::format("{} × {}", show(in.a), show(in.b)), v);
        return;
      case Op::kDiv: {
        const ir::Inst& product = p.insts[static_cast<std::size_t>(in.a)];
        const ir::Inst& divisor = p.insts[static_cast<std::size_t>(in.b)];
        if (product.op == Op::kMul && divisor.op == Op::kInput &&
            charge.line_inputs[static_cast<std::size_t>(divisor.imm)].kind == ir::Charge::LineInput::Kind::kLength) {
          if (value(product.b) == value(in.b)) {
            add(fmt::format("{} for the whole period", show(product.a)), v);
          } else {
            add(fmt::format("{} × {} ÷ {}", show(product.a), value(product.b).ToString(), value(in.b).ToString()), v);
          }
        } else {
          add(fmt::format("{} ÷ {}", show(in.a), show(in.b)), v);
        }
        return;
      }
      case Op::kConst: add(charge.price_text.empty() ? "fee" : charge.price_text, v); return;
      default: add(ir::OpName(in.op), v); return;
    }
  }

  // A per-event charge's line in `slot`: the events priced and the free ones, the price of each
  // (the first kListedEvents in time order), the limits that changed them, the per-event and
  // the line's rounding. Terms: the charged events' amounts before the per-event rounding, its
  // difference, the line rounding's difference — all from the trace Consume kept, not from the
  // line.
  std::shared_ptr<Derivation> ExplainPerEvent(std::size_t c, std::uint32_t slot) const {
    const ir::Charge& charge = fn.charges[c];
    const ir::Program& p = charge.amount;
    const ir::Event& event = fn.events[static_cast<std::size_t>(charge.event)];
    const std::string& currency = fn.currency;
    auto d = std::make_shared<Derivation>();
    const std::vector<EventTrace>& traces = event_traces[c];
    EventTrace empty;
    const EventTrace& t = slot < traces.size() ? traces[slot] : empty;
    const bool keep = charge.free_events || charge.free_amount;
    const Span where = charge.filter.empty() ? charge.source : charge.filter.insts[static_cast<std::size_t>(charge.filter.result)].source;
    DerivationStep& events = AddStep(*d, "events",
                                     fmt::format("{} `{}` {} priced{}", t.events, event.name, t.events == 1 ? "event" : "events",
                                                 charge.filter.empty() ? "" : " (the charge's `where` matched)"),
                                     where);
    SetValue(events, Decimal(static_cast<std::int64_t>(t.events)), "event");
    const ir::Inst& last = p.insts[static_cast<std::size_t>(p.result)];
    const bool round_each = last.op == Op::kRound;
    const ir::Inst& priced = round_each ? p.insts[static_cast<std::size_t>(last.a)] : last;
    if (!charge.price_text.empty()) AddStep(*d, "price", fmt::format("each event costs {}", charge.price_text), priced.source);

    // The events in time order; with `free first`, which are free, as Finish decides.
    std::vector<EventTrace::Event> listed = t.kept;
    std::sort(listed.begin(), listed.end(), EventBefore);
    std::vector<std::uint64_t> free_of(listed.size());  // per listed row: how many of its events are free
    ExactNumber before, after;
    std::uint64_t charged = t.events;
    if (keep) {
      FreeFirst decide(charge);
      ExactNumber free_sum;
      std::uint64_t free = 0;
      for (std::size_t i = 0; i < listed.size(); ++i) {
        const EventTrace::Event& e = listed[i];
        free_of[i] = decide.Next(e.free_value, e.weight);
        free += free_of[i];
        free_sum = free_sum + Weighted(e.amount, free_of[i]);
        before = before + Weighted(e.before, e.weight - free_of[i]);
        after = after + Weighted(e.amount, e.weight - free_of[i]);
      }
      charged -= free;
      std::string limits;
      if (charge.free_events) limits = fmt::format("the first {} events", charge.free_events->ToString());
      if (charge.free_amount) {
        limits += fmt::format("{}up to {} of `{}`", limits.empty() ? "" : " and ", Show(*charge.free_amount, currency),
                              event.fields[static_cast<std::size_t>(charge.free_amount_field)].name);
      }
      DerivationStep& step = AddStep(*d, "free",
                                     fmt::format("{} free ({} are free, in time order): {} not charged", Plural(free, "event", "events"),
                                                 limits, Show(free_sum, currency)),
                                     charge.source);
      SetValue(step, free_sum, currency);
      AddOperand(step, "free_events", Decimal(static_cast<std::int64_t>(free)), "event");
      AddOperand(step, "charged_events", Decimal(static_cast<std::int64_t>(charged)), "event");
    } else {
      before = t.before;
      after = t.after;
    }
    // Each event (the first kListedEvents): its time, the fields it is priced on, its amount.
    const std::vector<int>& fields = charge_fields[c];
    for (std::size_t i = 0; i < listed.size() && i < kListedEvents; ++i) {
      const EventTrace::Event& e = listed[i];
      std::string shown;
      for (std::size_t f = 0; f < fields.size() && f < e.fields.size(); ++f) {
        const ir::Field& field = event.fields[static_cast<std::size_t>(fields[f])];
        shown += fmt::format("{}{} {}", f == 0 ? ", " : ", ", field.name, Show(e.fields[f], field.unit));
      }
      std::string amount = round_each && !(e.before == e.amount)
                               ? fmt::format("{} rounded to {}", Show(e.before, currency), Show(e.amount, currency))
                               : Show(e.amount, currency);
      if (e.weight > 1) {
        amount = fmt::format("{} events at {} each", e.weight, amount);
        if (free_of[i] > 0) amount += fmt::format(", {} of them free", free_of[i]);
      }
      const bool all_free = free_of[i] == e.weight;
      std::string text = all_free && e.weight == 1
                             ? fmt::format("`{}` at {}{}: free (it would cost {})", event.name, FormatTimestamp(e.time), shown, amount)
                             : fmt::format("`{}` at {}{}: {}", event.name, FormatTimestamp(e.time), shown, amount);
      DerivationStep& step = AddStep(*d, "event", std::move(text), priced.source);
      // The amount charged for the row (0 when free), and before the per-event rounding what it
      // costs (would cost, when free).
      const std::uint64_t charged_here = e.weight - free_of[i];
      SetValue(step, all_free ? ExactNumber() : Weighted(e.amount, charged_here), currency);
      if (round_each) {
        step.before = Weighted(e.before, charged_here > 0 ? charged_here : e.weight).Shown();
      }
    }
    if (listed.size() > kListedEvents || (!keep && t.events > listed.size())) {
      std::uint64_t shown_events = 0;
      for (std::size_t i = 0; i < listed.size() && i < kListedEvents; ++i) shown_events += listed[i].weight;
      AddStep(*d, "event", fmt::format("… and {} more `{}` events", t.events - shown_events, event.name), priced.source);
    }
    // The limits that changed some events' amounts.
    for (std::size_t i = 0; i < t.changed.size(); ++i) {
      if (t.changed[i] == 0) continue;
      const ir::Inst& in = p.insts[i];
      const auto bound = in.op == Op::kMin || in.op == Op::kMax ? ConstOperand(p, in) : in.b;
      std::string limit = "a computed step";
      if (bound >= 0 && p.insts[static_cast<std::size_t>(bound)].op == Op::kConst) {
        const ir::Constant& k = p.constants[static_cast<std::size_t>(p.insts[static_cast<std::size_t>(bound)].imm)];
        limit = Show(k.fraction ? ExactNumber::Keep(*k.fraction) : ExactNumber(k.number), p.insts[static_cast<std::size_t>(bound)].type.unit);
      }
      const std::string of = fmt::format("{} of {}", t.changed[i], Plural(t.events, "event", "events"));
      std::string text;
      switch (in.op) {
        case Op::kMin: text = fmt::format("{} capped at the maximum {}", of, limit); break;
        case Op::kMax: text = fmt::format("{} raised to the minimum {}", of, limit); break;
        case Op::kCeilStep: text = fmt::format("{}: {} rounded up to a multiple of {}", of, in.type.unit, limit); break;
        case Op::kFloorStep: text = fmt::format("{}: {} rounded down to a multiple of {}", of, in.type.unit, limit); break;
        default: text = fmt::format("{} raised to zero", of); break;
      }
      SetValue(AddStep(*d, "limit", std::move(text), in.source), Decimal(static_cast<std::int64_t>(t.changed[i])), "event");
    }
    if (round_each) {
      DerivationStep& step = AddStep(*d, "round",
                                     fmt::format("each charged event's amount rounded {}: {} before, {} after", RuleText(last.mode, last.scale),
                                                 Show(before, currency), Show(after, currency)),
                                     last.source);
      SetValue(step, after, currency);
      AddRounding(step, before, last.mode, last.scale);
    }
    SetValue(AddStep(*d, "sum", fmt::format("{} charged, {} in all", Plural(charged, "event", "events"), Show(after, currency)),
                     charge.source),
             after, currency);
    std::vector<ExactTerm> terms;
    if (t.events == 0) {
      terms.push_back({fmt::format("no `{}` events", event.name), Decimal()});
    } else if (round_each) {
      terms.push_back({fmt::format("{} before rounding", Plural(charged, "event", "events")), before});
      const ExactNumber difference = after - before;
      if (!difference.is_zero()) terms.push_back({fmt::format("rounding per event {}", RuleText(last.mode, last.scale)), difference, true});
    } else {
      terms.push_back({Plural(charged, "event", "events"), after});
    }
    // The line's amount, as FinishPerEvent makes it.
    Decimal amount = after.Shown(fn.rounding.scale);
    if (charge.rounding.point == ir::RoundingRule::Point::kLine) {
      const Decimal rounded = after.Round(charge.rounding.scale, charge.rounding.mode);
      AddRoundStep(*d, after, rounded, charge.rounding.mode, charge.rounding.scale, charge.rounding.source, currency);
      const ExactNumber difference = ExactNumber(rounded) - after;
      if (!difference.is_zero()) terms.push_back({fmt::format("rounding {}", RuleText(charge.rounding.mode, charge.rounding.scale)), difference, true});
      amount = rounded;
    }
    FinalizeTerms(terms, amount, d->terms);
    return d;
  }

  // A customer's active part of the period, or its length, in the basis' unit; 1 and 1 (no
  // proration) for a customer without an ActivePeriod.
  Decimal PeriodShare(std::uint32_t customer, ir::Charge::LineInput::Kind kind, ir::ProrationBasis basis) const {
    auto it = active.find(customer);
    if (it == active.end()) return Decimal(1);
    return Share(it->second, kind, basis);
  }

  static Decimal Share(const ActivePeriod& a, ir::Charge::LineInput::Kind kind, ir::ProrationBasis basis) {
    const bool active = kind == ir::Charge::LineInput::Kind::kActive;
    switch (basis) {
      case ir::ProrationBasis::kDay: return active ? a.active_days : a.length_days;
      case ir::ProrationBasis::kThirtyDayMonth: return active ? a.active_days360 : a.length_days360;
      default: return active ? a.active_seconds : a.length_seconds;
    }
  }

  void Adjust(const ir::Adjustment& a, Invoice& inv, std::uint32_t rank, std::uint32_t customer) {
    const ExactNumber base = ExactTotal(inv, rank, a.charges);
    ExactNumber amount;
    LineKind kind = LineKind::kDiscount;
    const bool per_invoice = fn.rounding.point == ir::RoundingRule::Point::kInvoice;
    // Explaining: the steps and terms are gathered as the amount is computed.
    std::shared_ptr<Derivation> d;
    std::vector<ExactTerm> terms;
    if (options.explain && Traced(customer)) d = ExplainBase(a, inv, base);
    const std::string& currency = fn.currency;
    auto round_by_plan = [&](const ExactNumber& exact, bool negative_line) {
      // Rounded like a line by the plan's rule; rounding per invoice keeps it exact (the
      // invoice's total is the one rounding).
      if (per_invoice) return exact;
      const ExactNumber rounded = exact.Round(fn.rounding.scale, fn.rounding.mode);
      if (d) {
        AddRoundStep(*d, exact, rounded.decimal(), fn.rounding.mode, fn.rounding.scale, fn.rounding.source, currency);
        const ExactNumber difference = negative_line ? exact - rounded : rounded - exact;
        if (!difference.is_zero()) terms.push_back({fmt::format("rounding {}", RuleText(fn.rounding.mode, fn.rounding.scale)), difference, true});
      }
      return rounded;
    };
    switch (a.kind) {
      case ir::Adjustment::Kind::kPercentDiscount: {
        const ExactNumber exact = base * ExactNumber(a.amount);
        if (d) {
          const std::string percent = Show(a.amount, "fraction");
          DerivationStep& step = AddStep(*d, "discount", fmt::format("{} of {} = {}", percent, Show(base, currency), Show(exact, currency)), a.source);
          SetValue(step, exact, currency);
          AddOperand(step, "base", base, currency);
          AddOperand(step, "percent", (a.amount * Decimal(100)).Normalized(), "%");
          terms.push_back({fmt::format("{} of {}", percent, base.ToString()), -exact});
        }
        amount = -round_by_plan(exact, true);
        if (per_invoice && amount.is_decimal()) amount = amount.decimal().Normalized();
        break;
      }
      case ir::Adjustment::Kind::kFixedDiscount: {
        const bool capped = base < ExactNumber(a.amount);
        const ExactNumber off = capped ? (base.sign() > 0 ? base : ExactNumber()) : ExactNumber(a.amount);
        amount = -off;
        if (d) {
          std::string text = capped ? fmt::format("{} off, at most what the lines add up to: {}", Show(a.amount, currency), Show(off, currency))
                                    : fmt::format("{} off", Show(a.amount, currency));
          DerivationStep& step = AddStep(*d, "discount", std::move(text), a.source);
          SetValue(step, off, currency);
          AddOperand(step, "base", base, currency);
          AddOperand(step, "discount", a.amount, currency);
          if (capped) {
            terms.push_back({"the lines' sum (the discount is at most that)", -off});
          } else {
            terms.push_back({fmt::format("the discount {}", a.amount.ToString()), -off});
          }
        }
        break;
      }
      case ir::Adjustment::Kind::kMinimum: {
        kind = LineKind::kMinimum;
        ExactNumber minimum = a.amount;
        std::vector<ExactTerm> minimum_terms;  // explaining: the minimum's own terms
        if (d) minimum_terms.push_back({fmt::format("the minimum {}", a.amount.ToString()), a.amount});
        if (a.proration != ir::ProrationBasis::kNone && active.count(customer) != 0) {
          // Prorated like a recurring fee, exactly, then rounded by the plan's rule.
          const Decimal part = PeriodShare(customer, ir::Charge::LineInput::Kind::kActive, a.proration);
          const Decimal whole = PeriodShare(customer, ir::Charge::LineInput::Kind::kLength, a.proration);
          minimum = ExactNumber::Quotient(ExactNumber(a.amount) * ExactNumber(part), whole);
          if (d) {
            const std::string u = a.proration == ir::ProrationBasis::kSecond ? "s" : "day";
            DerivationStep& step = AddStep(*d, "prorate",
                                           fmt::format("active {} of {}: {} × {} ÷ {} = {}", ShareText(part, u), ShareText(whole, u),
                                                       Show(a.amount, currency), part.ToString(), whole.ToString(), Show(minimum, currency)),
                                           a.source);
            SetValue(step, minimum, currency);
            AddOperand(step, "amount", a.amount, currency);
            AddOperand(step, "active", part, u);
            AddOperand(step, "length", whole, u);
            minimum_terms = {{fmt::format("the minimum {} × {} ÷ {}", a.amount.ToString(), part.ToString(), whole.ToString()), minimum}};
          }
          std::swap(terms, minimum_terms);
          minimum = round_by_plan(minimum, false);
          std::swap(terms, minimum_terms);
        }
        if (base >= minimum) return;
        amount = minimum - base;
        if (d) {
          DerivationStep& step = AddStep(*d, "minimum",
                                         fmt::format("{} is below the minimum {}: the true-up is {} - {} = {}", Show(base, currency),
                                                     Show(minimum, currency), minimum.ToString(), base.ToString(), Show(amount, currency)),
                                         a.source);
          SetValue(step, amount, currency);
          AddOperand(step, "base", base, currency);
          AddOperand(step, "minimum", minimum, currency);
          terms = std::move(minimum_terms);
          terms.push_back({a.charges.empty() ? "the invoice so far" : "the lines it covers", -base});
        }
        break;
      }
      case ir::Adjustment::Kind::kMaximum:
        kind = LineKind::kMaximum;
        if (base <= ExactNumber(a.amount)) return;
        amount = ExactNumber(a.amount) - base;
        if (d) {
          DerivationStep& step = AddStep(*d, "maximum",
                                         fmt::format("{} is above the maximum {}: {} - {} = {}", Show(base, currency), Show(a.amount, currency),
                                                     a.amount.ToString(), base.ToString(), Show(amount, currency)),
                                         a.source);
          SetValue(step, amount, currency);
          AddOperand(step, "base", base, currency);
          AddOperand(step, "maximum", a.amount, currency);
          terms.push_back({fmt::format("the maximum {}", a.amount.ToString()), a.amount});
          terms.push_back({a.charges.empty() ? "the invoice so far" : "the lines it covers", -base});
        }
        break;
    }
    if (amount.is_zero() && kind == LineKind::kDiscount) return;
    InvoiceLine line;
    line.kind = kind;
    line.name = a.name;
    if (!amount.is_decimal() && !per_invoice) {
      // Lines rounded per line or event are Decimals, so this one needs more than 38 digits.
      throw DecimalError(DecimalErrorKind::kOverflow, fmt::format("the line's amount {} does not fit in 38 digits", amount.ToString()));
    }
    if (amount.is_decimal()) {
      line.amount = RoundDecimal(amount.decimal(), std::max(amount.decimal().scale(), fn.rounding.scale), RoundingMode::kHalfEven);
      if (d) FinalizeTerms(terms, line.amount, d->terms);
      line.derivation = std::move(d);
      inv.lines.push_back(std::move(line));
    } else {
      if (d) FinalizeTerms(terms, amount.Shown(fn.rounding.scale), d->terms);
      line.derivation = std::move(d);
      PushLine(inv, rank, std::move(line), amount);
    }
  }

  // An adjustment's first step: the lines it applies to and what they add up to.
  std::shared_ptr<Derivation> ExplainBase(const ir::Adjustment& a, const Invoice& inv, const ExactNumber& base) const {
    auto d = std::make_shared<Derivation>();
    std::string parts;
    std::size_t count = 0;
    for (const InvoiceLine& l : inv.lines) {
      if (!a.charges.empty() && !Covers(a.charges, l)) continue;
      std::string name = l.name;
      if (!l.group.empty()) {
        name += " [";
        for (std::size_t g = 0; g < l.group.size(); ++g) name += (g > 0 ? ", " : "") + l.group[g];
        name += "]";
      }
      if (count == 0) {
        parts += fmt::format("{} {}", name, l.amount.ToString());
      } else {
        parts += fmt::format(" {} {} {}", l.amount.is_negative() ? "-" : "+", name, l.amount.Abs().ToString());
      }
      ++count;
    }
    const std::string what = a.charges.empty() ? std::string("the invoice so far") : std::string("the lines it applies to");
    std::string text = count == 0 ? fmt::format("{}: no lines, {}", what, Show(base, fn.currency))
                                  : fmt::format("{}: {} = {}", what, parts, Show(base, fn.currency));
    SetValue(AddStep(*d, "base", std::move(text), a.source), base, fn.currency);
    return d;
  }

  // The `Rounding` line of an invoice rounded as a whole: the lines' exact sum, its rounding, and
  // the difference to the lines as they are shown.
  std::shared_ptr<Derivation> ExplainInvoiceRounding(const ExactNumber& total, const ExactNumber& shown, const Decimal& rounded) const {
    auto d = std::make_shared<Derivation>();
    const std::string& currency = fn.currency;
    SetValue(AddStep(*d, "base", fmt::format("the lines add up to {}", Show(total, currency)), fn.rounding.source), total, currency);
    DerivationStep& step = AddStep(*d, "round",
                                   fmt::format("the total {} rounded {} = {}", Show(total, currency),
                                               RuleText(fn.rounding.mode, fn.rounding.scale), Show(rounded, currency)),
                                   fn.rounding.source);
    SetValue(step, ExactNumber(rounded) - shown, currency);
    AddRounding(step, total, fn.rounding.mode, fn.rounding.scale);
    step.operands.push_back({"total", rounded.ToString(), currency});
    FinalizeTerms({{"the rounded total", rounded}, {"the lines as shown", -shown}}, (ExactNumber(rounded) - shown).Shown(), d->terms);
    return d;
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

void Engine::SetActive(const std::string& customer, const ActivePeriod& period) {
  state_->active[state_->Customer(customer)] = period;
}

void Engine::AddPart(const std::string& customer, SubscriptionPart part) {
  state_->customer_parts[state_->Customer(customer)].push_back(std::move(part));
}

void AddSubtotals(Invoice& invoice, const std::vector<const ir::RatingFunction*>& functions) {
  invoice.subtotals.clear();
  for (const ir::RatingFunction* fn : functions) {
    for (const ir::Subtotal& st : fn->subtotals) {
      auto it = std::find_if(invoice.subtotals.begin(), invoice.subtotals.end(), [&](const InvoiceSubtotal& s) { return s.name == st.name; });
      if (it == invoice.subtotals.end()) {
        invoice.subtotals.push_back(InvoiceSubtotal{st.name, {}, Decimal(), {}, static_cast<std::int32_t>(st.source.begin)});
        it = invoice.subtotals.end() - 1;
      }
      for (const std::string& part : st.parts) {
        if (std::find(it->parts.begin(), it->parts.end(), part) == it->parts.end()) it->parts.push_back(part);
      }
    }
  }
  for (InvoiceSubtotal& st : invoice.subtotals) {
    // Exact, like the total: lines shown to 20 decimals (rounded per invoice) may add up past 38
    // digits on the way to a sum that fits.
    ExactNumber sum;
    bool fits = true;  // the Decimal sum, at the lines' scale, while it fits
    for (std::size_t i = 0; i < invoice.lines.size(); ++i) {
      const InvoiceLine& line = invoice.lines[i];
      if (line.kind == LineKind::kCredit) continue;  // credits pay the invoice; they are no plan's line
      if (std::find(st.parts.begin(), st.parts.end(), line.name) == st.parts.end()) continue;
      fits = fits && Decimal::TryAdd(st.amount, line.amount, &st.amount);
      sum = sum + ExactNumber(line.amount);
      st.lines.push_back(i);
    }
    if (fits) continue;
    const ExactNumber total = ExactNumber::Of(sum.exact());
    if (!total.is_decimal()) {
      throw DecimalError(DecimalErrorKind::kOverflow, fmt::format("the subtotal \"{}\" does not fit in 38 digits", st.name));
    }
    st.amount = total.decimal();
  }
}

void Engine::SetInAdvanceLines(InAdvanceLines provider) { state_->in_advance_lines = std::move(provider); }

std::vector<Invoice> Engine::Finish() { return state_->Finish(); }

std::uint64_t Engine::rows_rated() const { return state_->rated; }

}  // namespace tariff
