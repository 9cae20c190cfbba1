// runtime/billing: reading and applying per-customer contract terms (see contracts.h).
#include "runtime/billing/contracts.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "compiler/ir/ir.h"
#include "runtime/billing/billing.h"
#include "runtime/columnar/timestamp.h"
#include "runtime/io/records.h"
#include "runtime/units/unit.h"

namespace tariff {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kAlways = std::numeric_limits<std::int64_t>::min();

const char* const kColumns[] = {"customer", "kind",   "name",     "charge",   "percent", "amount",
                                "multiplier", "rate", "anchor", "quantity", "duration", "start"};
constexpr const char* kColumnList = "customer, kind, name, charge, percent, amount, multiplier, rate, anchor, quantity, duration, start";

// "error[C0107]: contracts.csv:3: column `percent`: …".
std::string Fail(const char* code, const std::string& path, std::uint64_t line, const std::string& column, const std::string& what) {
  if (column.empty()) return fmt::format("error[{}]: {}:{}: {}", code, path, line, what);
  return fmt::format("error[{}]: {}:{}: column `{}`: {}", code, path, line, column, what);
}

std::string Money(const Decimal& d, int minor_units) { return d.Rescale(std::max(d.scale(), minor_units), RoundingMode::kHalfEven).ToString(); }

// "20%", "5.00 USD".
std::string OffText(const ContractTerm& t, const std::string& currency, int minor_units) {
  if (t.percent) return t.percent->Normalized().ToString() + "%";
  return Money(*t.amount, minor_units) + " " + currency;
}

std::string DurationText(const ContractTerm& t) {
  switch (t.duration) {
    case ContractTerm::Duration::kOnce: return "once";
    case ContractTerm::Duration::kForever: return "forever";
    case ContractTerm::Duration::kPeriods: return fmt::format("{} period{}", t.periods, t.periods == 1 ? "" : "s");
  }
  return "";
}

}  // namespace

bool ContractApplies(const ContractTerm& term, std::int64_t period_start) {
  return term.window_start <= period_start && period_start < term.window_end;
}

bool CommitEndsIn(const ContractTerm& term, std::int64_t period_start, std::int64_t period_end) {
  return term.kind == ContractTerm::Kind::kCommit && ContractApplies(term, period_start) && period_end >= term.window_end;
}

namespace {
bool ReadContractFile(const RecordFile& file, const PlanSet& plans, std::vector<ContractTerm>& out, std::string* error);
}  // namespace

bool ReadContracts(const std::string& path, const PlanSet& plans, std::vector<ContractTerm>& out, std::string* error) {
  RecordFile file = ReadRecords(path);
  if (!file.error.empty()) {
    *error = "error[C0101]: " + file.error;
    return false;
  }
  return ReadContractFile(file, plans, out, error);
}

bool ReadContractRows(const std::string& path, const std::vector<ContractRow>& rows, const PlanSet& plans, std::vector<ContractTerm>& out,
                      std::string* error) {
  RecordFile file;
  file.path = path;
  for (const ContractRow& row : rows) file.records.push_back(Record{row.line, row.values});
  return ReadContractFile(file, plans, out, error);
}

namespace {
bool ReadContractFile(const RecordFile& file, const PlanSet& plans, std::vector<ContractTerm>& out, std::string* error) {
  const std::string& path = file.path;
  auto known_column = [](const std::string& c) { return std::find(std::begin(kColumns), std::end(kColumns), c) != std::end(kColumns); };
  for (const std::string& column : file.columns) {
    if (!known_column(column)) {
      *error = Fail("C0101", path, 1, column, fmt::format("unknown column (columns: {})", kColumnList));
      return false;
    }
  }
  const ir::RatingFunction* rated = nullptr;
  std::set<std::string> charges;  // of every plan version of the file
  std::string rated_charges;
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan == plans.default_plan && rated == nullptr) rated = f;
    for (const ir::Charge& c : f->charges) charges.insert(c.name);
  }
  if (rated != nullptr) {
    for (const ir::RatingFunction* f : plans.functions) {
      if (f != rated) continue;
      for (const ir::Charge& c : f->charges) rated_charges += (rated_charges.empty() ? "\"" : ", \"") + c.name + "\"";
    }
  }
  const std::string currency = rated != nullptr ? rated->currency : "";
  const int minor_units = rated != nullptr ? rated->minor_units : 2;
  const std::size_t first = out.size();
  for (const Record& r : file.records) {
    auto fail = [&](const char* code, const std::string& column, const std::string& what) {
      *error = Fail(code, path, r.line, column, what);
      return false;
    };
    for (const auto& [column, value] : r.values) {
      if (!known_column(column)) return fail("C0101", column, fmt::format("unknown column (columns: {})", kColumnList));
    }
    ContractTerm t;
    t.origin = fmt::format("{}:{}", path, r.line);
    auto customer = r.Get("customer");
    if (!customer) return fail("C0109", "", "no `customer`");
    t.customer = *customer;
    auto kind = r.Get("kind");
    if (!kind) return fail("C0109", "", "no `kind` (a term is a `discount`, an `override`, an `anchor`, a `commit` or `drawn`)");
    if (*kind == "anchor") {
      // The customer's own billing anchor: its periods follow the plan's rule from there.
      t.kind = ContractTerm::Kind::kAnchor;
      for (const auto& [column, value] : r.values) {
        if (column != "customer" && column != "kind" && column != "anchor" && column != "name") {
          return fail("C0109", column, fmt::format("an `anchor` has no `{}` (it holds from the customer's first period on)", column));
        }
      }
      auto a = r.Get("anchor");
      if (!a) return fail("C0109", "", "an `anchor` needs the `anchor` date");
      t.anchor = *a;
      try {
        std::string why;
        auto at = ParsePlanTime(plans, *a, &why);
        if (!at) return fail("C0106", "anchor", fmt::format("`{}`: {}", *a, why));
        (void)BillingPeriodAt(plans, *at, t.anchor);
      } catch (const BillingError& e) {
        return fail("C0106", "anchor", fmt::format("`{}`: {}", *a, e.what()));
      }
      t.name = r.Get("name").value_or("Billing anchor " + *a);
      t.window_start = kAlways;
      t.window_end = kNever;
      for (std::size_t i = first; i < out.size(); ++i) {
        if (out[i].customer == t.customer && out[i].kind == ContractTerm::Kind::kAnchor) {
          return fail("C0105", "", fmt::format("customer `{}` has two billing anchors (the other: {})", t.customer, out[i].origin));
        }
      }
      out.push_back(std::move(t));
      continue;
    }
    if (*kind == "commit") {
      // A commitment over a term of N periods, trued up on the term's last invoice.
      t.kind = ContractTerm::Kind::kCommit;
      for (const auto& [column, value] : r.values) {
        if (column != "customer" && column != "kind" && column != "name" && column != "amount" && column != "duration" && column != "start") {
          return fail("C0109", column, fmt::format("a `commit` has no `{}` (it covers the whole invoice)", column));
        }
      }
      auto amount = r.Get("amount");
      if (!amount) return fail("C0109", "", "a `commit` needs the committed `amount`");
      DecimalParseResult d = Decimal::Parse(*amount);
      if (!d.value || d.value->sign() <= 0) return fail("C0107", "amount", fmt::format("`{}` is not an amount of money above zero", *amount));
      if (d.value->Normalized().scale() > minor_units) {
        return fail("C0107", "amount", fmt::format("`{}` is finer than {} allows ({} decimals)", *amount, currency, minor_units));
      }
      t.amount = *d.value;
    } else if (*kind == "drawn") {
      // Usage of the customer's elsewhere (another workload, another account of an organization)
      // already drew on the charge's free allowance in the term's periods.
      t.kind = ContractTerm::Kind::kDrawn;
      for (const auto& [column, value] : r.values) {
        if (column != "customer" && column != "kind" && column != "name" && column != "charge" && column != "quantity" &&
            column != "amount" && column != "duration" && column != "start") {
          return fail("C0109", column, fmt::format("a `drawn` term has no `{}` (it gives the `quantity` or `amount` drawn)", column));
        }
      }
      if (!r.Get("charge")) return fail("C0109", "", "a `drawn` term needs the `charge` whose allowance was drawn");
      auto quantity = r.Get("quantity");
      auto amount = r.Get("amount");
      if (!quantity && !amount) {
        return fail("C0109", "", "a `drawn` term needs the `quantity` drawn (from `included` or `free first N`) or the `amount` (from `or M`)");
      }
      if (quantity) t.quantity = *quantity;
      if (amount) {
        DecimalParseResult d = Decimal::Parse(*amount);
        if (!d.value || d.value->sign() < 0) return fail("C0107", "amount", fmt::format("`{}` is not an amount of money at or above zero", *amount));
        t.amount = *d.value;
      }
    } else if (*kind != "discount" && *kind != "override") {
      return fail("C0109", "kind", fmt::format("`{}` is not a kind of contract term (kinds: discount, override, anchor, commit, drawn)", *kind));
    } else {
      t.kind = *kind == "discount" ? ContractTerm::Kind::kDiscount : ContractTerm::Kind::kOverride;
    }
    const bool discount = t.kind == ContractTerm::Kind::kDiscount;
    const bool commit = t.kind == ContractTerm::Kind::kCommit;
    const bool drawn = t.kind == ContractTerm::Kind::kDrawn;
    if (r.Get("anchor")) return fail("C0109", "anchor", fmt::format("{} `{}` has no `anchor`", *kind == "discount" ? "a" : "an", *kind));
    for (const char* column : {"percent", "amount", "multiplier", "rate"}) {
      if (commit || drawn) break;  // their columns are checked above
      const bool of_discount = std::string(column) == "percent" || std::string(column) == "amount";
      if (r.Get(column) && of_discount != discount) {
        return fail("C0109", column, fmt::format("{} `{}` has no `{}`", discount ? "a" : "an", *kind, column));
      }
    }
    if (auto c = r.Get("charge")) {
      if (charges.count(*c) == 0) {
        return fail("C0103", "charge", fmt::format("no charge \"{}\" in plan \"{}\" (charges: {})", *c, plans.default_plan, rated_charges));
      }
      t.charge = *c;
    }
    auto percent = r.Get("percent");
    auto amount = r.Get("amount");
    auto multiplier = r.Get("multiplier");
    auto rate = r.Get("rate");
    if (commit || drawn) {
      // Checked above.
    } else if (!discount) {
      if (t.charge.empty()) return fail("C0109", "", "an override needs the `charge` whose price it changes");
      if (multiplier && rate) return fail("C0109", "rate", "an override is a `multiplier` or a `rate`, not both");
      if (!multiplier && !rate) return fail("C0109", "", "an override needs a `multiplier` or a `rate`");
      if (multiplier) {
        DecimalParseResult d = Decimal::Parse(*multiplier);
        if (!d.value || d.value->sign() < 0 || d.value->Normalized().scale() > 10) {
          return fail("C0107", "multiplier", fmt::format("`{}` is not a number at or above zero (at most 10 decimals)", *multiplier));
        }
        t.multiplier = d.value->Normalized();
      } else {
        t.rate = *rate;
      }
    } else if (percent && amount) {
      return fail("C0109", "amount", "a discount is a `percent` or an `amount`, not both");
    } else if (!percent && !amount) {
      return fail("C0109", "", "a discount needs a `percent` or an `amount`");
    } else if (percent) {
      DecimalParseResult d = Decimal::Parse(*percent);
      if (!d.value || d.value->sign() <= 0 || *d.value > Decimal(100) || d.value->Normalized().scale() > 10) {
        return fail("C0107", "percent", fmt::format("`{}` is not a percentage above 0 and at most 100 (at most 10 decimals)", *percent));
      }
      t.percent = d.value->Normalized();
    } else if (amount) {
      DecimalParseResult d = Decimal::Parse(*amount);
      if (!d.value || d.value->sign() <= 0) {
        return fail("C0107", "amount", fmt::format("`{}` is not an amount of money above zero", *amount));
      }
      if (d.value->Normalized().scale() > minor_units) {
        return fail("C0107", "amount", fmt::format("`{}` is finer than {} allows ({} decimals)", *amount, currency, minor_units));
      }
      t.amount = *d.value;
    }
    if (auto s = r.Get("start")) {
      std::string why;
      auto at = ParsePlanTime(plans, *s, &why);
      if (!at) return fail("C0106", "start", fmt::format("`{}`: {}", *s, why));
      t.start = *at;
    }
    const std::string duration = r.Get("duration").value_or("forever");  // Metronome's overrides and a plain discount: open-ended
    if (duration == "once") {
      t.duration = ContractTerm::Duration::kOnce;
      t.periods = 1;
    } else if (duration == "forever") {
      t.duration = ContractTerm::Duration::kForever;
    } else {
      // "N periods" (or "1 period"): N billing periods of the plan, the first the one `start` is in.
      const std::size_t space = duration.find(' ');
      const std::string count = duration.substr(0, space);
      const std::string word = space == std::string::npos ? "" : duration.substr(space + 1);
      DecimalParseResult n = Decimal::Parse(count);
      const bool whole = n.value && n.value->scale() == 0 && n.value->coefficient() >= 1 && n.value->coefficient() <= 1200 &&
                         count.find_first_not_of("0123456789") == std::string::npos;
      if (duration.empty() || !whole || (word != "periods" && word != "period")) {
        return fail("C0108", "duration",
                    fmt::format("`{}` is not a duration (write `once`, `forever`, or `N periods` with N from 1 to 1200)", duration));
      }
      t.duration = ContractTerm::Duration::kPeriods;
      t.periods = static_cast<int>(n.value->coefficient());
    }
    if (commit && t.duration == ContractTerm::Duration::kForever) {
      return fail("C0108", "duration", "a commitment needs a term: `once` or `N periods` from its `start`");
    }
    if (!t.start && t.duration != ContractTerm::Duration::kForever) {
      return fail("C0108", "duration", fmt::format("`{}` counts periods from the contract's start: give `start`", duration));
    }
    if (t.start) {
      try {
        PeriodBounds p = BillingPeriodAt(plans, *t.start);
        t.window_start = p.start;
        for (int i = 1; i < t.periods; ++i) p = BillingPeriodAt(plans, p.end);
        t.window_end = t.duration == ContractTerm::Duration::kForever ? kNever : p.end;
      } catch (const BillingError& e) {
        return fail("C0106", "start", fmt::format("`{}`: {}", *r.Get("start"), e.what()));
      }
    } else {
      t.window_start = kAlways;
      t.window_end = kNever;
    }
    if (auto n = r.Get("name")) {
      t.name = *n;
      t.origin_named = true;
    } else if (commit) {
      t.name = fmt::format("Commitment {} {} true-up", Money(*t.amount, minor_units), currency);
    } else if (drawn) {
      t.name = fmt::format("Allowance of {} drawn elsewhere", t.charge);
    } else if (!discount) {
      t.name = fmt::format("Override of {}", t.charge);
    } else {
      // "Contract discount …": distinct from the plan's own adjustment lines ("Discount 10% on
      // Requests"), which the same percent on the same charge would otherwise repeat.
      t.name = fmt::format("Contract discount {}{}", OffText(t, currency, minor_units), t.charge.empty() ? "" : " on " + t.charge);
    }
    if (t.kind == ContractTerm::Kind::kOverride || drawn) {
      // Checked against every plan version with the charge, where the row is.
      for (const ir::RatingFunction* f : plans.functions) {
        ir::RatingFunction copy = *f;
        const std::string why = OverrideCharges(copy, {&t});
        const char* column = drawn ? (why.find("`or M`") != std::string::npos ? "amount" : "quantity") : t.rate.empty() ? "multiplier" : "rate";
        if (!why.empty()) return fail(why.substr(0, 5).c_str(), column, why.substr(7));
      }
    }
    out.push_back(std::move(t));
  }
  // A customer with its own billing anchor counts durations in its own periods.
  std::map<std::string, std::string> anchors;
  for (std::size_t i = first; i < out.size(); ++i) {
    if (out[i].kind == ContractTerm::Kind::kAnchor) anchors[out[i].customer] = out[i].anchor;
  }
  for (std::size_t i = first; i < out.size(); ++i) {
    ContractTerm& t = out[i];
    auto a = anchors.find(t.customer);
    if (t.kind == ContractTerm::Kind::kAnchor || !t.start || a == anchors.end()) continue;
    try {
      PeriodBounds p = BillingPeriodAt(plans, *t.start, a->second);
      t.window_start = p.start;
      for (int k = 1; k < t.periods; ++k) p = BillingPeriodAt(plans, p.end, a->second);
      t.window_end = t.duration == ContractTerm::Duration::kForever ? kNever : p.end;
    } catch (const BillingError& e) {
      *error = fmt::format("error[C0106]: {}: column `start`: {}", t.origin, e.what());
      return false;
    }
  }
  // Two discounts of one customer on the same charge (or both on the whole invoice), or two
  // overrides of one charge, in one period would leave their order to chance: an error at the
  // later row, naming the other.
  for (std::size_t i = first; i < out.size(); ++i) {
    const ContractTerm& t = out[i];
    if (t.kind == ContractTerm::Kind::kAnchor) continue;
    for (std::size_t j = first; j < i; ++j) {
      const ContractTerm& o = out[j];
      if (o.customer != t.customer || o.kind != t.kind || o.charge != t.charge) continue;
      if (std::max(o.window_start, t.window_start) < std::min(o.window_end, t.window_end)) {
        *error = fmt::format("error[C0105]: {}: customer `{}` has two {} on {} in force in the same period (the other: {})", t.origin,
                             t.customer,
                             t.kind == ContractTerm::Kind::kDiscount ? "discounts"
                             : t.kind == ContractTerm::Kind::kCommit ? "commitments"
                             : t.kind == ContractTerm::Kind::kDrawn  ? "allowances drawn elsewhere"
                                                                     : "price overrides",
                             t.charge.empty() ? std::string("the whole invoice") : "\"" + t.charge + "\"", o.origin);
        return false;
      }
    }
  }
  // A discount's or a commitment's line is named by the term: a name the plan already gives a
  // line (a charge, an adjustment, a subtotal, in any plan version of the file), or another of
  // the customer's lines in the same period, would make two lines with one identity (and an
  // `expect` of it ambiguous).
  std::map<std::string, std::string> taken;  // name → what the plan calls it
  for (const ir::RatingFunction* f : plans.functions) {
    for (const ir::Charge& c : f->charges) taken.emplace(c.name, "a charge");
    for (const ir::Adjustment& a : f->adjustments) taken.emplace(a.name, "an adjustment line");
    for (const ir::Subtotal& st : f->subtotals) taken.emplace(st.name, "a subtotal");
  }
  auto has_line = [](const ContractTerm& t) { return t.kind == ContractTerm::Kind::kDiscount || t.kind == ContractTerm::Kind::kCommit; };
  for (std::size_t i = first; i < out.size(); ++i) {
    const ContractTerm& t = out[i];
    if (!has_line(t)) continue;
    const bool named = t.origin_named;
    const std::string hint = named ? "give it another `name`" : "give it a `name`";
    auto it = taken.find(t.name);
    if (it != taken.end()) {
      *error = fmt::format("error[C0112]: {}: {}the line name \"{}\" is {} of plan \"{}\": two lines would have one name; {}", t.origin,
                           named ? "column `name`: " : "", t.name, it->second, plans.default_plan, hint);
      return false;
    }
    for (std::size_t j = first; j < i; ++j) {
      const ContractTerm& o = out[j];
      if (!has_line(o) || o.customer != t.customer || o.name != t.name) continue;
      if (std::max(o.window_start, t.window_start) < std::min(o.window_end, t.window_end)) {
        *error = fmt::format("error[C0112]: {}: {}customer `{}` has another term named \"{}\" in force in the same period (the other: {}); {}",
                             t.origin, named ? "column `name`: " : "", t.customer, t.name, o.origin, hint);
        return false;
      }
    }
  }
  return true;
}
}  // namespace

void ApplyContracts(Invoice& inv, const std::vector<const ContractTerm*>& terms, const ir::RatingFunction& fn, std::int64_t period_start,
                    std::int64_t period_end, bool explain) {
  std::vector<const ContractTerm*> order;
  for (const ContractTerm* t : terms) {
    if (!ContractApplies(*t, period_start)) continue;
    if (t->kind == ContractTerm::Kind::kAnchor || t->kind == ContractTerm::Kind::kCommit) continue;  // below, or the invoice's period
    if (t->kind == ContractTerm::Kind::kOverride || t->kind == ContractTerm::Kind::kDrawn) {
      if (!explain) continue;
      // The override (or the allowance drawn) changed the line's price before rating; say where it came from.
      for (InvoiceLine& l : inv.lines) {
        if (l.kind != LineKind::kCharge || l.name != t->charge || !l.derivation) continue;
        DerivationStep step;
        step.kind = "contract";
        const std::string drawn = !t->quantity.empty() && t->amount ? t->quantity + " and " + t->amount->ToString() + " " + fn.currency
                                  : t->amount                       ? t->amount->ToString() + " " + fn.currency
                                                                    : t->quantity;
        step.text = t->kind == ContractTerm::Kind::kDrawn
                        ? fmt::format("allowance drawn elsewhere {} (customer `{}`): other usage already drew {} from the charge's free "
                                      "allowance; what is left of it is used below",
                                      t->origin, inv.customer, drawn)
                    : t->multiplier ? fmt::format("price override {} of customer `{}` (`{}`): the plan's price × {}", t->origin, inv.customer,
                                                t->name, t->multiplier->ToString())
                                  : fmt::format("price override {} of customer `{}` (`{}`): {} replaces the plan's rate", t->origin,
                                                inv.customer, t->name, t->rate);
        step.operands.push_back({"origin", t->origin, ""});
        if (t->multiplier) step.operands.push_back({"multiplier", t->multiplier->ToString(), ""});
        if (!t->rate.empty()) step.operands.push_back({"rate", t->rate, ""});
        if (t->kind == ContractTerm::Kind::kDrawn) step.operands.push_back({"drawn", drawn, ""});
        auto d = std::make_shared<Derivation>(*l.derivation);
        d->steps.insert(d->steps.begin(), std::move(step));
        l.derivation = std::move(d);
      }
      continue;
    }
    if (!t->charge.empty()) order.push_back(t);
  }
  for (const ContractTerm* t : terms) {
    if (t->kind == ContractTerm::Kind::kDiscount && ContractApplies(*t, period_start) && t->charge.empty()) order.push_back(t);
  }
  const std::string& currency = inv.currency;
  const int scale = fn.rounding.scale;
  for (const ContractTerm* t : order) {
    Decimal base;
    std::string parts;
    if (t->charge.empty()) {
      base = inv.total;
    } else {
      // The charge's lines and the plan's adjustments on that charge alone (a discount, a cap, a
      // minimum's true-up): contract terms come after the plan's own adjustments, so a contract
      // discount applies to what the customer pays for the charge by the plan, and 50% off by
      // the plan then 60% off by contract leaves 20%, never a negative charge. An adjustment on
      // several charges has no share of its own in one of them and is not counted here.
      std::set<std::string> own;
      for (const ir::Adjustment& a : fn.adjustments) {
        if (a.charges.size() == 1 && a.charges.front() == t->charge) own.insert(a.name);
      }
      for (const InvoiceLine& l : inv.lines) {
        const bool adjustment = l.kind == LineKind::kDiscount || l.kind == LineKind::kMaximum || l.kind == LineKind::kMinimum;
        const bool of_charge = l.name == t->charge || l.prorates == t->charge;  // a proration line of a fee billed in advance too
        if (l.kind == LineKind::kCharge ? !of_charge : !adjustment || own.count(l.name) == 0) continue;
        base = base + l.amount;
        const std::string label = l.kind == LineKind::kCharge ? "" : " (" + l.name + ")";
        if (parts.empty()) parts = l.amount.ToString() + label;
        else parts += (l.amount.sign() < 0 ? " - " : " + ") + l.amount.Abs().ToString() + label;
      }
    }
    if (base.sign() <= 0) continue;  // nothing to discount
    Decimal off, exact;
    if (t->percent) {
      exact = base * *t->percent;
      exact = Decimal::FromParts(exact.coefficient(), exact.scale() + 2);  // ÷ 100, exactly
      off = exact.Rescale(scale, fn.rounding.mode);
    } else {
      // Never more than the base at the plan's scale: under a rounding per invoice a charge's
      // lines are exact (0.333) while the invoice's total is rounded (10.33); a cap at the exact
      // base would leave the total off the plan's scale (9.997). The plan's own fixed discount
      // comes off the exact total before its one rounding, which gives the same total (10.00).
      const Decimal cap = base.scale() > scale ? base.Rescale(scale, fn.rounding.mode) : base;
      off = std::min(*t->amount, cap);
      if (off.sign() <= 0) continue;  // a base that rounds to nothing
      exact = off;
    }
    InvoiceLine line;
    line.kind = LineKind::kDiscount;
    line.name = t->name;
    line.amount = -off.Rescale(std::max(off.scale(), scale), RoundingMode::kHalfEven);
    if (explain) {
      auto d = std::make_shared<Derivation>();
      DerivationStep term;
      term.kind = "contract";
      std::string window;
      if (t->start) {
        window = t->window_end == kNever ? fmt::format(", for every period from {}", FormatTimestamp(t->window_start))
                                         : fmt::format(", for periods starting in [{}, {})", FormatTimestamp(t->window_start),
                                                       FormatTimestamp(t->window_end));
      }
      term.text = fmt::format("contract term {} of customer `{}`: {} off {}, {}{}", t->origin, inv.customer,
                              OffText(*t, currency, fn.minor_units),
                              t->charge.empty() ? std::string("the whole invoice") : "\"" + t->charge + "\"", DurationText(*t), window);
      term.operands.push_back({"origin", t->origin, ""});
      term.operands.push_back({"duration", DurationText(*t), ""});
      d->steps.push_back(term);
      DerivationStep b;
      b.kind = "base";
      b.text = t->charge.empty() ? fmt::format("the invoice so far: {} {}", base.ToString(), currency)
                                 : fmt::format("the lines it applies to: {} {} = {} {}", t->charge, parts, base.ToString(), currency);
      b.value = base;
      b.unit = currency;
      d->steps.push_back(b);
      DerivationStep s;
      s.kind = "discount";
      s.unit = currency;
      s.operands.push_back({"base", base.ToString(), currency});
      if (t->percent) {
        s.text = fmt::format("{}% of {} {} = {} {}", t->percent->ToString(), base.ToString(), currency, exact.ToString(), currency);
        s.value = exact;
        s.operands.push_back({"percent", t->percent->ToString(), "%"});
        d->steps.push_back(s);
        DerivationStep round;
        round.kind = "round";
        round.text = fmt::format("{} {} rounded {} to {} decimal{} = {} {}", exact.ToString(), currency,
                                 RoundingModeName(fn.rounding.mode), scale, scale == 1 ? "" : "s", off.ToString(), currency);
        round.value = off;
        round.before = exact;
        round.unit = currency;
        round.mode = std::string(RoundingModeName(fn.rounding.mode));
        round.scale = scale;
        round.source_begin = static_cast<std::int32_t>(fn.rounding.source.begin);
        round.source_end = static_cast<std::int32_t>(fn.rounding.source.end);
        d->steps.push_back(round);
        d->terms.push_back({fmt::format("{}% of {}", t->percent->ToString(), base.ToString()), -exact});
        if (exact != off) {
          d->terms.push_back({fmt::format("rounding {} to {} decimal{}", RoundingModeName(fn.rounding.mode), scale, scale == 1 ? "" : "s"),
                              exact - off});
        }
      } else {
        const bool capped = off < *t->amount;
        s.text = capped ? (off == base ? fmt::format("{} {} off, at most what it applies to: {} {}", Money(*t->amount, fn.minor_units),
                                                     currency, off.ToString(), currency)
                                       : fmt::format("{} {} off, at most what it applies to rounded {} to {} decimal{}: {} {}",
                                                     Money(*t->amount, fn.minor_units), currency, RoundingModeName(fn.rounding.mode), scale,
                                                     scale == 1 ? "" : "s", off.ToString(), currency))
                        : fmt::format("{} {} off", Money(*t->amount, fn.minor_units), currency);
        s.value = off;
        s.operands.push_back({"discount", t->amount->ToString(), currency});
        d->steps.push_back(s);
        d->terms.push_back({capped ? std::string("capped at what it applies to")
                                   : fmt::format("the discount {}", Money(*t->amount, fn.minor_units)),
                            line.amount});
      }
      line.derivation = d;
    }
    inv.total = inv.total + line.amount;
    inv.lines.push_back(std::move(line));
  }
  for (const ContractTerm* t : terms) {
    if (!CommitEndsIn(*t, period_start, period_end)) continue;
    Decimal spent = inv.total;
    for (const auto& [period, total] : t->prior) spent = spent + total;
    if (spent >= *t->amount) continue;
    InvoiceLine line;
    line.kind = LineKind::kMinimum;
    line.name = t->name;
    const Decimal due = *t->amount - spent;
    line.amount = due.Rescale(std::max(due.scale(), fn.rounding.scale), RoundingMode::kHalfEven);
    if (explain) {
      auto d = std::make_shared<Derivation>();
      DerivationStep term;
      term.kind = "contract";
      term.text = fmt::format("commitment {} of customer `{}`: {} {} over {}, for periods starting in [{}, {})", t->origin, inv.customer,
                              Money(*t->amount, fn.minor_units), currency, DurationText(*t), FormatTimestamp(t->window_start),
                              FormatTimestamp(t->window_end));
      term.operands.push_back({"origin", t->origin, ""});
      term.operands.push_back({"commitment", t->amount->ToString(), currency});
      d->steps.push_back(term);
      std::string sum;
      for (const auto& [period, total] : t->prior) {
        DerivationStep p;
        p.kind = "base";
        p.text = fmt::format("the invoice of {}: {} {} (before credits)", period, total.ToString(), currency);
        p.value = total;
        p.unit = currency;
        d->steps.push_back(p);
        sum += (sum.empty() ? "" : " + ") + total.ToString();
      }
      DerivationStep now;
      now.kind = "base";
      now.text = fmt::format("this invoice so far: {} {}", inv.total.ToString(), currency);
      now.value = inv.total;
      now.unit = currency;
      d->steps.push_back(now);
      sum += (sum.empty() ? "" : " + ") + inv.total.ToString();
      DerivationStep m;
      m.kind = "minimum";
      m.text = fmt::format("the term's invoices add up to {} = {} {}, below the commitment {} {}: the true-up is {} - {} = {} {}", sum,
                           spent.ToString(), currency, Money(*t->amount, fn.minor_units), currency, Money(*t->amount, fn.minor_units),
                           spent.ToString(), line.amount.ToString(), currency);
      m.value = line.amount;
      m.unit = currency;
      m.operands.push_back({"spent", spent.ToString(), currency});
      m.operands.push_back({"commitment", t->amount->ToString(), currency});
      d->steps.push_back(m);
      d->terms.push_back({fmt::format("the commitment {}", Money(*t->amount, fn.minor_units)), *t->amount});
      for (const auto& [period, total] : t->prior) d->terms.push_back({"the invoice of " + period, -total});
      d->terms.push_back({"this invoice so far", -inv.total});
      line.derivation = d;
    }
    inv.total = inv.total + line.amount;
    inv.lines.push_back(std::move(line));
  }
}


namespace {

// 1 `from` in `to`, exactly (as compiler/lower's FactorOf).
Fraction FactorOf(const UnitScale& scale) {
  Fraction::Integer numerator = 1, denominator = 1;
  for (std::size_t i = 0; i < UnitScale::kPrimes.size(); ++i) {
    const int e = scale.exponents()[i];
    for (int k = 0; k < (e < 0 ? -e : e); ++k) (e < 0 ? denominator : numerator) *= UnitScale::kPrimes[i];
  }
  return Fraction::Of(numerator, denominator);
}

// `p`'s result × `m`, before the result's rounding when it ends with one.
void Multiply(ir::Program& p, const Decimal& m) {
  const ir::Inst last = p.insts[static_cast<std::size_t>(p.result)];
  const bool rounded = last.op == ir::Op::kRound;
  // The rounding (the program's last instruction, which nothing else reads) moves after the
  // multiplication, so that no instruction is left over (explanations show every one).
  if (rounded && static_cast<std::size_t>(p.result) + 1 == p.insts.size()) p.insts.pop_back();
  const std::int32_t base = rounded ? last.a : p.result;
  ir::Constant c;
  c.number = m;
  p.constants.push_back(c);
  ir::Inst k;
  k.op = ir::Op::kConst;
  k.type = {ir::ValueKind::kDecimal, ""};
  k.imm = static_cast<std::int32_t>(p.constants.size() - 1);
  k.source = last.source;
  p.insts.push_back(k);
  ir::Inst mul;
  mul.op = ir::Op::kMul;
  mul.type = p.insts[static_cast<std::size_t>(base)].type;
  mul.a = base;
  mul.b = static_cast<std::int32_t>(p.insts.size() - 1);
  mul.source = last.source;
  p.insts.push_back(mul);
  p.result = static_cast<std::int32_t>(p.insts.size() - 1);
  if (rounded) {
    ir::Inst round = last;
    round.a = p.result;
    p.insts.push_back(round);
    p.result = static_cast<std::int32_t>(p.insts.size() - 1);
  }
}

// The names of the units in a unit expression ("GB·h" → GB, h).
std::vector<std::string> UnitNames(const std::string& expression) {
  std::vector<std::string> names;
  std::string name;
  auto flush = [&] {
    if (!name.empty()) names.push_back(name);
    name.clear();
  };
  for (std::size_t i = 0; i < expression.size(); ++i) {
    const char ch = expression[i];
    if (ch == '*' || ch == '/' || ch == ' ' || ch == '^') {
      flush();
    } else if (expression.compare(i, 2, "·") == 0) {
      flush();
      ++i;
    } else {
      name += ch;
    }
  }
  flush();
  return names;
}

// Replaces the per-unit price of `charge` with `text` ("0.15 USD per 1000 request"); "" or why not.
std::string ReplaceRate(const ir::RatingFunction& fn, ir::Charge& charge, const std::string& text) {
  const std::string name = "\"" + charge.name + "\"";
  if (charge.per_event) return fmt::format("C0104: charge {} is priced per event; a rate replaces a per-unit price (use a multiplier)", name);
  ir::Program& p = charge.line;
  std::int32_t rate = -1;
  int rates = 0;
  for (std::size_t i = 0; i < p.insts.size(); ++i) {
    const ir::Inst& in = p.insts[i];
    switch (in.op) {
      case ir::Op::kTiers:
        return fmt::format("C0104: charge {} is tiered: a replacement rate would leave its tiers undefined; use a multiplier, "
                           "which scales every tier's price",
                           name);
      case ir::Op::kMatch: return fmt::format("C0104: charge {} is priced by a `match`; use a multiplier", name);
      case ir::Op::kPackages: return fmt::format("C0104: charge {} is priced per package; use a multiplier", name);
      default: break;
    }
    if (in.op == ir::Op::kMul && in.type.unit == fn.currency) {
      for (std::int32_t x : {in.a, in.b}) {
        const ir::Inst& operand = p.insts[static_cast<std::size_t>(x)];
        if (operand.op == ir::Op::kConst && operand.type.unit.find(" per ") != std::string::npos) {
          rate = x;
          ++rates;
        }
      }
    }
  }
  if (charge.recurring) return fmt::format("C0104: charge {} is a recurring fee, not priced per unit; use a multiplier", name);
  if (rates != 1) return fmt::format("C0104: charge {} is not priced as one meter times one rate; use a multiplier", name);
  ir::Inst& rate_inst = p.insts[static_cast<std::size_t>(rate)];
  const std::string& typed = rate_inst.type.unit;  // "USD per MB": per one unit of the meter
  const std::string meter_unit = typed.substr(typed.find(" per ") + 5);

  // NUMBER CURRENCY per [NUMBER] UNIT, as a plan writes a rate.
  std::vector<std::string> words;
  {
    std::string w;
    for (char ch : text + " ") {
      if (ch == ' ') {
        if (!w.empty()) words.push_back(w);
        w.clear();
      } else {
        w += ch;
      }
    }
  }
  auto number = [](std::string w) -> std::optional<Decimal> {
    if (w.empty() || w.front() == '_' || w.back() == '_') return std::nullopt;
    std::erase(w, '_');
    if (w.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
    DecimalParseResult d = Decimal::Parse(w);
    return d.value;
  };
  const std::string shape = fmt::format("`{}` is not a rate: write it as the plan would, e.g. `0.15 {} per 1000 {}`", text, fn.currency, meter_unit);
  if (words.size() < 4 || words[2] != "per") return "C0110: " + shape;
  std::optional<Decimal> price = number(words[0]);
  if (!price) return "C0110: " + shape;
  if (words[1] != fn.currency) return fmt::format("C0110: `{}` is in {}, but the plan bills in {}", text, words[1], fn.currency);
  Decimal per = Decimal(1);
  std::size_t unit_at = 3;
  if (std::optional<Decimal> n = number(words[3])) {
    if (n->sign() <= 0) return "C0110: " + shape;
    per = *n;
    unit_at = 4;
  }
  std::string unit_text;
  for (std::size_t i = unit_at; i < words.size(); ++i) unit_text += words[i];
  if (unit_text.empty()) return "C0110: " + shape;
  UnitCatalog units;
  for (const std::string& u : UnitNames(meter_unit)) {
    if (!units.Lookup(u)) units.DeclareCount(u);
  }
  std::string unknown;
  std::optional<Unit> written = units.Parse(unit_text, &unknown);
  std::optional<Unit> metered = units.Parse(meter_unit);
  if (!written) {
    return unknown.empty() ? "C0110: " + shape
                           : fmt::format("C0110: unknown unit `{}` (charge {} meters {})", unknown, name, meter_unit);
  }
  std::optional<UnitScale> factor = metered ? ConversionFactor(*metered, *written) : std::nullopt;
  if (!factor) {
    return fmt::format("C0110: `{}` is a price per {}, but charge {} meters {}, which does not convert to it", text, unit_text, name, meter_unit);
  }
  // Per one meter unit: price ÷ per × (1 meter unit in the written unit), exactly.
  const ExactNumber exact = ExactNumber::Of(Fraction::Quotient(Fraction(*price) * FactorOf(*factor), Fraction(per)));
  ir::Constant& c = p.constants[static_cast<std::size_t>(rate_inst.imm)];
  if (exact.is_decimal()) {
    c.number = exact.decimal().Normalized();
    c.fraction.reset();
  } else {
    c.fraction = exact.exact();
  }
  charge.price_text = text;
  return "";
}

// Lowers `charge`'s free allowance by what term `t` says other usage of the customer drew from
// it: `quantity` from `included Q` (converted exactly to the meter's unit) or from `free first
// N events`, `amount` from `… or M`; never below zero. "" or why not (C0113).
std::string DrawAllowance(const ir::RatingFunction& fn, ir::Charge& charge, const ContractTerm& t) {
  const std::string name = "\"" + charge.name + "\"";
  if (!t.quantity.empty()) {
    const std::size_t space = t.quantity.find(' ');
    std::string number_text = t.quantity.substr(0, space);
    std::string unit_text = space == std::string::npos ? "" : t.quantity.substr(space + 1);
    std::erase(unit_text, ' ');
    std::erase(number_text, '_');
    DecimalParseResult n = number_text.find_first_not_of("0123456789.") == std::string::npos ? Decimal::Parse(number_text) : DecimalParseResult{};
    if (!n.value || n.value->sign() < 0) {
      return fmt::format("C0113: `{}` is not a quantity at or above zero: write a number and a unit, e.g. `300 GiB·s` or `2 request`", t.quantity);
    }
    if (charge.per_event) {
      if (!charge.free_events) return fmt::format("C0113: charge {} has no `free first N events` for a quantity to be drawn from", name);
      const std::string event = charge.event >= 0 ? fn.events[static_cast<std::size_t>(charge.event)].name : "";
      if (!unit_text.empty() && unit_text != "event" && unit_text != "events" && unit_text != event) {
        return fmt::format("C0113: `{}` is not a number of events: charge {} gives its first {} `{}` events free", t.quantity, name,
                           charge.free_events->ToString(), event);
      }
      if (n.value->Normalized().scale() > 0) return fmt::format("C0113: `{}` is not a whole number of events", t.quantity);
      const Decimal left = *charge.free_events - *n.value;
      charge.free_events = left.sign() < 0 ? Decimal(0) : left;
    } else {
      if (charge.included_consts.empty()) return fmt::format("C0113: charge {} has no `included` allowance for a quantity to be drawn from", name);
      for (const std::int32_t at : charge.included_consts) {
        ir::Inst& in = charge.line.insts[static_cast<std::size_t>(at)];
        const std::string& metered_text = in.type.unit;
        Fraction drawn = Fraction(*n.value);
        if (unit_text != metered_text) {
          UnitCatalog units;
          for (const std::string& u : UnitNames(metered_text)) {
            if (!units.Lookup(u)) units.DeclareCount(u);
          }
          std::string unknown;
          std::optional<Unit> written = unit_text.empty() ? std::nullopt : units.Parse(unit_text, &unknown);
          std::optional<Unit> metered = units.Parse(metered_text);
          std::optional<UnitScale> factor = written && metered ? ConversionFactor(*written, *metered) : std::nullopt;
          if (!factor) {
            return fmt::format("C0113: `{}` is not a quantity of {}, the unit charge {} meters (its `included` allowance is in it)", t.quantity,
                               metered_text.empty() ? std::string("no unit") : metered_text, name);
          }
          drawn = drawn * FactorOf(*factor);
        }
        ir::Constant& c = charge.line.constants[static_cast<std::size_t>(in.imm)];
        Fraction left = (c.fraction ? *c.fraction : Fraction(c.number)) - drawn;
        if (left.sign() < 0) left = Fraction(Decimal(0));
        const ExactNumber exact = ExactNumber::Of(left);
        if (exact.is_decimal()) {
          c.number = exact.decimal();
          c.fraction.reset();
        } else {
          c.fraction = exact.exact();
        }
      }
    }
  }
  if (t.amount) {
    if (!charge.free_amount) return fmt::format("C0113: charge {} has no `or M` limit of money for an amount to be drawn from", name);
    const Decimal left = *charge.free_amount - *t.amount;
    charge.free_amount = left.sign() < 0 ? Decimal(0) : left;
  }
  return "";
}

}  // namespace

std::string OverrideCharges(ir::RatingFunction& fn, const std::vector<const ContractTerm*>& terms) {
  for (const ContractTerm* t : terms) {
    if (t->kind != ContractTerm::Kind::kOverride && t->kind != ContractTerm::Kind::kDrawn) continue;
    for (ir::Charge& c : fn.charges) {
      if (c.name != t->charge) continue;
      if (t->kind == ContractTerm::Kind::kDrawn) {
        if (std::string why = DrawAllowance(fn, c, *t); !why.empty()) return why;
      } else if (t->multiplier) {
        Multiply(c.per_event ? c.amount : c.line, *t->multiplier);
        // The price the line shows says so: `49.00 USD × 0.5`; `tiers × 0.8` for a tiered line
        // (whose tiers list their amounts before the multiplier).
        std::string price = c.price_text.empty() ? std::string("tiers") : c.price_text;
        if (price.find_first_of("+-*/(") != std::string::npos) price = "(" + price + ")";
        c.price_text = price + " × " + t->multiplier->ToString();
      } else if (std::string why = ReplaceRate(fn, c, t->rate); !why.empty()) {
        return why;
      }
    }
  }
  return "";
}

}  // namespace tariff
