// runtime/invoice: the sum of issued records and the amendment against a re-rated invoice.
#include "runtime/invoice/amendment.h"

#include <algorithm>
#include <map>

#include "runtime/money/currency.h"

namespace tariff {

namespace {

std::string Where(const RecordOrigin& o) { return o.file + ":" + std::to_string(o.line); }

constexpr const char* kGiveExactly = ": give exactly the invoices and amendments issued for the period";

// An amendment against what the records before it add up to (`sum`, its lines by key in
// `index`): it must have been computed against exactly that, or adding it would bill a change
// twice or leave one out. `first`: no record of the customer comes before it.
void CheckAmendmentBasis(const IssuedRecord& r, const std::string& customer, const IssuedInvoice& sum,
                         const std::map<LineKey, std::size_t>& index, bool first) {
  const std::string what = "amendment " + std::to_string(r.revision) + " of customer `" + customer + "`";
  if (!r.issued_total || r.bases.size() != r.invoice.lines.size()) {
    throw AmendmentError(kAmendNotAnInvoice, r.origin, 0, what + " does not say what it was computed against");
  }
  if (*r.issued_total != sum.total) {
    throw AmendmentError(kAmendRevision, r.origin, 0,
                         what + " was computed against an issued total of " + r.issued_total->ToString() +
                             ", but what was issued before it adds up to " + sum.total.ToString() + kGiveExactly);
  }
  if (r.status == AmendmentStatus::kNew && !first) {
    throw AmendmentError(kAmendRevision, r.origin, 0,
                         what + " is the customer's whole first invoice (status `new`), but " + Where(sum.first) +
                             " was issued to it before" + kGiveExactly);
  }
  if (r.status != AmendmentStatus::kNew && first) {
    throw AmendmentError(kAmendRevision, r.origin, 0,
                         what + " amends what was issued before it (status `" + AmendmentStatusName(r.status) +
                             "`), but no invoice or amendment of the customer before it is given" + kGiveExactly);
  }
  for (std::size_t i = 0; i < r.invoice.lines.size(); ++i) {
    const InvoiceLine& line = r.invoice.lines[i];
    const IssuedRecord::Basis& basis = r.bases[i];
    auto it = index.find(KeyOf(line));
    const IssuedLine* before = it == index.end() ? nullptr : &sum.lines[it->second];
    std::string label = "line `" + line.name;
    for (std::size_t g = 0; g < line.group.size(); ++g) label += (g == 0 ? " [" : ", ") + line.group[g];
    label += line.group.empty() ? "`" : "]`";
    const std::string where = what + ": " + label + " (lines[" + std::to_string(i) + "])";
    if (basis.change == LineChange::kNew && before != nullptr) {
      throw AmendmentError(kAmendRevision, r.origin, 0,
                           where + " is `new`, but it was issued before it" + kGiveExactly);
    }
    if (basis.change != LineChange::kNew && before == nullptr) {
      throw AmendmentError(kAmendRevision, r.origin, 0,
                           where + " is `" + LineChangeName(basis.change) + "`, but nothing before it issued it" +
                               kGiveExactly);
    }
    const Decimal issued_amount = before != nullptr ? before->amount : Decimal();
    if (basis.issued_amount != issued_amount) {
      throw AmendmentError(kAmendRevision, r.origin, 0,
                           where + " was computed against an issued amount of " + basis.issued_amount.ToString() +
                               ", but what was issued of it before adds up to " + issued_amount.ToString() + kGiveExactly);
    }
    const Decimal issued_quantity = before != nullptr ? before->quantity : Decimal();
    if (basis.issued_quantity != issued_quantity) {
      throw AmendmentError(kAmendRevision, r.origin, 0,
                           where + " was computed against an issued quantity of " + basis.issued_quantity.ToString() +
                               ", but what was issued of it before adds up to " + issued_quantity.ToString() + kGiveExactly);
    }
  }
}

}  // namespace

LineKey KeyOf(const InvoiceLine& line) {
  // A unit only with a quantity: the writer leaves it off otherwise, so a line read back has none.
  return LineKey{line.kind, line.name, line.group, line.has_quantity ? line.unit : std::string(), line.rated_by, line.from,
                 line.to};
}

AmendmentError::AmendmentError(std::string code, RecordOrigin origin, std::uint64_t column, const std::string& message)
    : std::runtime_error(message), code_(std::move(code)), origin_(std::move(origin)), column_(column) {}

std::string AmendmentError::Render() const {
  std::string out = origin_.file;
  if (origin_.line > 0) out += ":" + std::to_string(origin_.line);
  if (column_ > 0) out += ":" + std::to_string(column_);
  return out + ": error[" + code_ + "]: " + what();
}

const char* LineChangeName(LineChange change) {
  switch (change) {
    case LineChange::kChanged: return "changed";
    case LineChange::kNew: return "new";
    case LineChange::kRemoved: return "removed";
  }
  return "?";
}

const char* AmendmentStatusName(AmendmentStatus status) {
  switch (status) {
    case AmendmentStatus::kChanged: return "changed";
    case AmendmentStatus::kNew: return "new";
    case AmendmentStatus::kAbsent: return "absent";
  }
  return "?";
}

void CheckIssued(std::span<const IssuedRecord> records, const IssuedExpectations& run) {
  auto period = [](const std::string& start, const std::string& end) {
    return start.empty() && end.empty() ? std::string("(no period)") : start + ".." + end;
  };
  for (const IssuedRecord& r : records) {
    const Invoice& inv = r.invoice;
    const std::string what = std::string(r.amendment ? "amendment" : "invoice") + " of customer `" + inv.customer + "`";
    if (std::find(run.plans.begin(), run.plans.end(), inv.plan) == run.plans.end()) {
      std::string list;
      for (const std::string& p : run.plans) list += (list.empty() ? "\"" : ", \"") + p + "\"";
      throw AmendmentError(kAmendOtherPlan, r.origin, 0,
                           what + " is for plan \"" + inv.plan + "\"; this run rates " + list);
    }
    auto own = run.own_periods.find(inv.customer);
    const bool anchored = own != run.own_periods.end();
    const std::string& start = anchored ? own->second.first : run.period_start;
    const std::string& end = anchored ? own->second.second : run.period_end;
    const bool same = run.same_period ? run.same_period(inv.customer, inv.period_start, inv.period_end)
                                      : inv.period_start == start && inv.period_end == end;
    if (!same) {
      throw AmendmentError(kAmendOtherPeriod, r.origin, 0,
                           what + " is for the period " + period(inv.period_start, inv.period_end) + "; this run rates " +
                               (anchored ? "its period (its own billing anchor) " : "") + period(start, end));
    }
    if (inv.currency != run.currency) {
      throw AmendmentError(kAmendOtherCurrency, r.origin, 0,
                           what + " is in " + inv.currency + "; this run bills in " + run.currency);
    }
  }
}

std::vector<IssuedInvoice> SumIssued(std::span<const IssuedRecord> records) {
  // A customer's records by revision: the order of the files never matters.
  std::map<std::string, std::vector<const IssuedRecord*>> by_customer;
  for (const IssuedRecord& r : records) by_customer[r.invoice.customer].push_back(&r);
  std::vector<IssuedInvoice> out;
  out.reserve(by_customer.size());
  for (auto& [customer, list] : by_customer) {
    std::stable_sort(list.begin(), list.end(), [](const IssuedRecord* a, const IssuedRecord* b) {
      if (a->revision != b->revision) return a->revision < b->revision;
      if (a->origin.file != b->origin.file) return a->origin.file < b->origin.file;
      return a->origin.line < b->origin.line;
    });
    // Original invoices: the period's own, and one per change prorated `now` (issued_at).
    std::map<std::string, const IssuedRecord*> originals;
    for (const IssuedRecord* r : list) {
      if (r->amendment) continue;
      auto [it, fresh] = originals.emplace(r->invoice.issued_at, r);
      if (fresh) continue;
      throw AmendmentError(kAmendIssuedTwice, r->origin, 0,
                           "customer `" + customer + "` has two invoices for the period" +
                               (r->invoice.issued_at.empty() ? std::string() : " issued at " + r->invoice.issued_at) + " (the other at " +
                               Where(it->second->origin) + "): it would be billed twice; give each issued invoice once");
    }
    for (std::size_t i = 1; i < list.size(); ++i) {
      const IssuedRecord& a = *list[i - 1];
      const IssuedRecord& b = *list[i];
      if (a.revision != b.revision || !b.amendment) continue;
      throw AmendmentError(kAmendRevision, b.origin, 0,
                           "amendment " + std::to_string(b.revision) + " of customer `" + customer +
                               "` is given twice (the other at " + Where(a.origin) +
                               "): its change would be billed twice; give each amendment once");
    }
    // Amendments are numbered 1, 2, … with none left out.
    std::uint64_t expected = 1;
    for (const IssuedRecord* r : list) {
      if (!r->amendment) continue;
      if (r->revision != expected) {
        throw AmendmentError(kAmendRevision, r->origin, 0,
                             "amendment " + std::to_string(r->revision) + " of customer `" + customer + "` without amendment " +
                                 std::to_string(expected) + ": give every amendment issued for the period");
      }
      ++expected;
    }
    IssuedInvoice sum;
    const Invoice& head = list.front()->invoice;
    sum.customer = customer;
    sum.plan = head.plan;
    sum.period_start = head.period_start;
    sum.period_end = head.period_end;
    sum.currency = head.currency;
    sum.first = list.front()->origin;
    std::map<LineKey, std::size_t> index;
    for (const IssuedRecord* r : list) {
      const Invoice& inv = r->invoice;
      auto differs = [&](const char* code, const char* what, const std::string& theirs, const std::string& ours) {
        if (theirs == ours) return;
        throw AmendmentError(code, r->origin, 0,
                             "customer `" + customer + "`: " + what + " `" + theirs + "` differs from `" + ours + "` at " +
                                 Where(sum.first));
      };
      // Plan and period may be written differently by later records (a change of plan; the
      // period given in another form): CheckIssued compares them with the run. The latest
      // record names them.
      differs(kAmendOtherCurrency, "currency", inv.currency, sum.currency);
      sum.plan = inv.plan;
      sum.period_start = inv.period_start;
      sum.period_end = inv.period_end;
      if (r->amendment) CheckAmendmentBasis(*r, customer, sum, index, r == list.front());
      sum.has_original = sum.has_original || !r->amendment;
      sum.revision = std::max(sum.revision, r->revision);
      sum.total = sum.total + inv.total;
      for (const InvoiceLine& line : inv.lines) {
        LineKey key = KeyOf(line);
        auto [it, inserted] = index.emplace(key, sum.lines.size());
        if (inserted) sum.lines.push_back(IssuedLine{std::move(key), Decimal(), Decimal(), false});
        IssuedLine& l = sum.lines[it->second];
        l.amount = l.amount + line.amount;
        if (line.has_quantity) {
          l.quantity = l.quantity + line.quantity;
          l.has_quantity = true;
        }
      }
    }
    out.push_back(std::move(sum));
  }
  return out;
}

std::optional<Amendment> Amend(const IssuedInvoice* issued, const Invoice* rerated) {
  if (issued == nullptr && rerated == nullptr) return std::nullopt;
  Amendment a;
  const bool is_new = issued == nullptr;
  // A side that is not there counts as 0, written at the currency's minor units ("0.00"), as an
  // invoice writes its zeros.
  const Currency* currency = FindCurrency(rerated != nullptr ? rerated->currency : issued->currency);
  const Decimal zero = currency != nullptr ? Decimal::FromParts(0, currency->minor_units) : Decimal();
  a.issued_total = zero;
  a.rerated_total = zero;
  if (rerated != nullptr) {
    a.customer = rerated->customer;
    a.plan = rerated->plan;
    a.period_start = rerated->period_start;
    a.period_end = rerated->period_end;
    a.currency = rerated->currency;
    a.rerated_total = rerated->total;
  } else {
    a.customer = issued->customer;
    a.plan = issued->plan;
    a.period_start = issued->period_start;
    a.period_end = issued->period_end;
    a.currency = issued->currency;
  }
  a.status = is_new ? AmendmentStatus::kNew : rerated == nullptr ? AmendmentStatus::kAbsent : AmendmentStatus::kChanged;
  a.revision = is_new ? 1 : issued->revision + 1;
  if (issued != nullptr) a.issued_total = issued->total;

  // The re-rated lines, summed by key as issued lines are (a key occurring twice is one line).
  std::vector<IssuedLine> now;
  std::map<LineKey, std::size_t> now_index;
  if (rerated != nullptr) {
    for (const InvoiceLine& line : rerated->lines) {
      LineKey key = KeyOf(line);
      auto [it, inserted] = now_index.emplace(key, now.size());
      if (inserted) now.push_back(IssuedLine{std::move(key), Decimal(), Decimal(), false});
      IssuedLine& l = now[it->second];
      l.amount = l.amount + line.amount;
      if (line.has_quantity) {
        l.quantity = l.quantity + line.quantity;
        l.has_quantity = true;
      }
    }
  }
  std::map<LineKey, const IssuedLine*> before;
  if (issued != nullptr) {
    for (const IssuedLine& l : issued->lines) before.emplace(l.key, &l);
  }

  bool changed = false;
  auto add = [&](const IssuedLine* was, const IssuedLine* is) {
    AmendmentLine line;
    line.issued_amount = zero;
    line.rerated_amount = zero;
    line.key = is != nullptr ? is->key : was->key;
    line.change = was == nullptr ? LineChange::kNew : is == nullptr ? LineChange::kRemoved : LineChange::kChanged;
    if (was != nullptr) line.issued_amount = was->amount;
    if (is != nullptr) line.rerated_amount = is->amount;
    line.amount = line.rerated_amount - line.issued_amount;
    line.has_quantity = (was != nullptr && was->has_quantity) || (is != nullptr && is->has_quantity);
    if (line.has_quantity) {
      if (was != nullptr) line.issued_quantity = was->quantity;
      if (is != nullptr) line.rerated_quantity = is->quantity;
      line.quantity = line.rerated_quantity - line.issued_quantity;
    }
    const bool moves = !line.amount.is_zero() || !line.quantity.is_zero();
    if (!moves && !is_new) return;
    changed = changed || moves;
    a.lines.push_back(std::move(line));
  };
  for (const IssuedLine& is : now) {
    auto it = before.find(is.key);
    add(it == before.end() ? nullptr : it->second, &is);
  }
  if (issued != nullptr) {
    for (const IssuedLine& was : issued->lines) {
      if (now_index.count(was.key) == 0) add(&was, nullptr);
    }
  }
  a.total = a.rerated_total - a.issued_total;
  if (!is_new && !changed && a.total.is_zero()) return std::nullopt;
  return a;
}

std::vector<Amendment> AmendAll(std::span<const IssuedInvoice> issued, std::span<const Invoice> rerated,
                                AmendmentCounts* counts) {
  std::map<std::string, std::pair<const IssuedInvoice*, const Invoice*>> customers;
  for (const IssuedInvoice& i : issued) customers[i.customer].first = &i;
  // A customer's invoices at changes (`on change prorate now`) are amended with its invoice for
  // the period, as one: their lines after its lines, their totals added.
  std::map<std::string, Invoice> merged;
  for (const Invoice& r : rerated) {
    auto& slot = customers[r.customer].second;
    if (slot == nullptr) {
      slot = &r;
      continue;
    }
    auto [it, fresh] = merged.try_emplace(r.customer, *slot);
    Invoice& m = it->second;  // named as the first (the period's invoice: Biller::Finish's order)
    if (fresh) m.issued_at.clear();
    m.lines.insert(m.lines.end(), r.lines.begin(), r.lines.end());
    m.total = m.total + r.total;
    slot = &m;
  }
  AmendmentCounts c;
  std::vector<Amendment> out;
  for (const auto& [customer, pair] : customers) {
    std::optional<Amendment> a = Amend(pair.first, pair.second);
    if (!a) {
      ++c.unchanged;
      continue;
    }
    switch (a->status) {
      case AmendmentStatus::kChanged: ++c.amended; break;
      case AmendmentStatus::kNew: ++c.added; break;
      case AmendmentStatus::kAbsent: ++c.absent; break;
    }
    out.push_back(std::move(*a));
  }
  if (counts != nullptr) *counts = c;
  return out;
}

}  // namespace tariff
