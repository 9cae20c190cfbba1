// runtime/billing: reading subscriptions and credit grants (see inputs.h).
#include "runtime/billing/inputs.h"

#include <algorithm>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "runtime/io/records.h"
#include "runtime/columnar/timestamp.h"

namespace tariff {
namespace {

// The fields of `plan`'s subscription, as its latest version (by effective date) declares
// them, or null when there is no such plan.
const std::vector<ir::Field>* FieldsOf(const PlanSet& plans, const std::string& plan) {
  const std::vector<ir::Field>* fields = nullptr;
  std::int64_t latest = 0;
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan != plan) continue;
    std::int64_t when = std::numeric_limits<std::int64_t>::min();
    if (!f->effective.empty()) when = ParsePlanTime(PlanSet{{f}, f->plan}, f->effective, nullptr).value_or(when);
    if (fields == nullptr || when >= latest) {
      fields = &f->subscription;
      latest = when;
    }
  }
  return fields;
}

std::string Where(const RecordFile& file, const Record& r, const std::string& column) {
  return fmt::format("{}:{}: column `{}`", file.path, r.line, column);
}

}  // namespace

bool ReadSubscriptions(const std::string& path, const PlanSet& plans, std::vector<Subscription>& out, std::string* error) {
  RecordFile file = ReadRecords(path);
  if (!file.error.empty()) {
    *error = file.error;
    return false;
  }
  // A CSV header naming a column no plan's subscription has is reported where it is: line 1.
  for (const std::string& column : file.columns) {
    static const std::set<std::string> kBuiltIn = {"customer", "plan", "version", "start", "end", "proration_behavior"};
    bool known = kBuiltIn.count(column) != 0;
    for (const ir::RatingFunction* f : plans.functions) {
      for (const ir::Field& x : f->subscription) known = known || x.name == column;
    }
    if (!known) {
      std::string names = "customer, plan, version, start, end, proration_behavior";
      if (const std::vector<ir::Field>* fields = FieldsOf(plans, plans.default_plan)) {
        for (const ir::Field& x : *fields) names += ", " + x.name;
      }
      *error = fmt::format("{}:1: column `{}`: no plan of the file has such a subscription field (columns: {})", path, column, names);
      return false;
    }
  }
  const std::size_t first = out.size();
  for (const Record& r : file.records) {
    Subscription s;
    s.origin = fmt::format("{}:{}", path, r.line);
    auto customer = r.Get("customer");
    if (!customer) {
      *error = fmt::format("{}:{}: no `customer`", path, r.line);
      return false;
    }
    s.customer = *customer;
    s.plan = r.Get("plan").value_or("");
    s.version = r.Get("version").value_or("");
    const std::string plan = s.plan.empty() ? plans.default_plan : s.plan;
    const std::vector<ir::Field>* fields = FieldsOf(plans, plan);
    if (fields == nullptr) {
      *error = fmt::format("{}: no plan \"{}\" in the plan file", Where(file, r, "plan"), plan);
      return false;
    }
    for (const auto& [column, value] : r.values) {
      if (column == "customer" || column == "plan" || column == "version") continue;
      if (column == "proration_behavior") {
        using Behaviour = ir::RatingFunction::ChangeProration;
        if (value == "next_invoice") {
          s.proration_behavior = Behaviour::kNextInvoice;
        } else if (value == "now") {
          s.proration_behavior = Behaviour::kNow;
        } else if (value == "none") {
          s.proration_behavior = Behaviour::kNone;
        } else {
          const std::string stripe = value == "create_prorations" ? " (Stripe's `create_prorations` is `next_invoice`)"
                                     : value == "always_invoice"  ? " (Stripe's `always_invoice` is `now`)"
                                                                  : "";
          *error = fmt::format("error[S0101]: {}: `{}` is not a proration behaviour (next_invoice, now, none){}", Where(file, r, column),
                               value, stripe);
          return false;
        }
        continue;
      }
      if (column == "start" || column == "end") {
        std::string why;
        auto t = ParsePlanTime(plans, value, &why);
        if (!t) {
          *error = fmt::format("{}: `{}`: {}", Where(file, r, column), value, why);
          return false;
        }
        (column == "start" ? s.start : s.end) = *t;
        continue;
      }
      // The field as the latest version declaring it has it (versions may add fields; each
      // subscription must give those of the version that rates it: runtime/billing checks).
      const ir::Field* f = nullptr;
      for (const ir::Field& x : *fields) {
        if (x.name == column) f = &x;
      }
      for (const ir::RatingFunction* fn : plans.functions) {
        if (f != nullptr || fn->plan != plan) continue;
        for (const ir::Field& x : fn->subscription) {
          if (x.name == column) f = &x;
        }
      }
      if (f == nullptr) {
        std::string names = "customer, plan, version, start, end, proration_behavior";
        for (const ir::Field& x : *fields) names += ", " + x.name;
        *error = fmt::format("{}: plan \"{}\" has no subscription field `{}` (columns: {})", Where(file, r, column), plan, column, names);
        return false;
      }
      SubscriptionValue v;
      v.field = column;
      v.kind = f->kind;
      if (f->kind == ir::ValueKind::kDecimal) {
        DecimalParseResult d = Decimal::Parse(value);
        if (!d.value) {
          *error = fmt::format("{}: `{}` is not a number{}", Where(file, r, column), value, f->unit.empty() ? "" : " (of " + f->unit + ")");
          return false;
        }
        v.number = *d.value;
        if (!f->unit.empty() && v.number.sign() < 0) {
          *error = fmt::format("{}: `{}` is below zero: a subscription holds no negative {}", Where(file, r, column), value, f->unit);
          return false;
        }
      } else if (f->kind == ir::ValueKind::kBool) {
        if (value != "true" && value != "false") {
          *error = fmt::format("{}: `{}` is not true or false", Where(file, r, column), value);
          return false;
        }
        v.flag = value == "true";
      } else if (f->kind == ir::ValueKind::kText) {
        if (!f->enum_values.empty() && std::find(f->enum_values.begin(), f->enum_values.end(), value) == f->enum_values.end()) {
          *error = fmt::format("{}: `{}` is not one of {}", Where(file, r, column), value, fmt::join(f->enum_values, ", "));
          return false;
        }
        v.text = value;
      } else {
        *error = fmt::format("{}: a timestamp subscription field is not supported", Where(file, r, column));
        return false;
      }
      s.values.push_back(std::move(v));
    }
    if (s.start && s.end && *s.end <= *s.start) {
      *error = fmt::format("{}:{}: the subscription ends before it starts", path, r.line);
      return false;
    }
    out.push_back(std::move(s));
  }
  // A behaviour per change is given on the subscription changed to: one that starts where
  // another of its customer's ends. Anywhere else it would change nothing, silently.
  for (std::size_t i = first; i < out.size(); ++i) {
    const Subscription& s = out[i];
    if (!s.proration_behavior) continue;
    const bool change = s.start && std::any_of(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), [&](const Subscription& o) {
                          return o.customer == s.customer && o.end && *o.end == *s.start;
                        });
    if (!change) {
      *error = fmt::format("error[S0102]: {}: column `proration_behavior`: the subscription is no change (no subscription of customer "
                           "`{}` ends where it starts); give the behaviour on the row of the subscription changed to",
                           s.origin, s.customer);
      return false;
    }
  }
  return true;
}

bool ReadCredits(const std::string& path, const PlanSet& plans, std::vector<CreditGrant>& out, std::string* error) {
  RecordFile file = ReadRecords(path);
  if (!file.error.empty()) {
    *error = file.error;
    return false;
  }
  std::string currency;
  for (const ir::RatingFunction* f : plans.functions) {
    if (f->plan == plans.default_plan) currency = f->currency;
  }
  std::set<std::pair<std::string, std::string>> seen;
  static const std::set<std::string> kColumns = {"customer", "grant", "amount", "currency", "expires", "created", "priority"};
  for (const std::string& column : file.columns) {
    if (kColumns.count(column) == 0) {
      *error = fmt::format("{}:1: column `{}`: unknown column (columns: customer, grant, amount, currency, expires, created, priority)", path, column);
      return false;
    }
  }
  for (const Record& r : file.records) {
    CreditGrant g;
    g.origin = fmt::format("{}:{}", path, r.line);
    for (const auto& [column, value] : r.values) {
      if (kColumns.count(column) == 0) {
        *error = fmt::format("{}: unknown column (columns: customer, grant, amount, currency, expires, created, priority)", Where(file, r, column));
        return false;
      }
    }
    for (const char* required : {"customer", "grant", "amount"}) {
      if (!r.Get(required)) {
        *error = fmt::format("{}:{}: no `{}`", path, r.line, required);
        return false;
      }
    }
    g.customer = *r.Get("customer");
    g.id = *r.Get("grant");
    if (!seen.emplace(g.customer, g.id).second) {
      *error = fmt::format("{}: customer `{}` has grant `{}` twice", Where(file, r, "grant"), g.customer, g.id);
      return false;
    }
    DecimalParseResult amount = Decimal::Parse(*r.Get("amount"));
    if (!amount.value || amount.value->sign() < 0) {
      *error = fmt::format("{}: `{}` is not an amount of money at or above zero", Where(file, r, "amount"), *r.Get("amount"));
      return false;
    }
    g.amount = *amount.value;
    if (auto c = r.Get("currency"); c && *c != currency) {
      *error = fmt::format("{}: `{}`, but the plan bills in {}", Where(file, r, "currency"), *c, currency);
      return false;
    }
    for (const char* column : {"expires", "created"}) {
      if (auto v = r.Get(column)) {
        std::string why;
        auto t = ParsePlanTime(plans, *v, &why);
        if (!t) {
          *error = fmt::format("{}: `{}`: {}", Where(file, r, column), *v, why);
          return false;
        }
        (std::string(column) == "expires" ? g.expires : g.created) = *t;
      }
    }
    if (auto p = r.Get("priority")) {
      DecimalParseResult d = Decimal::Parse(*p);
      if (!d.value || d.value->scale() != 0 || d.value->coefficient() > 1'000'000'000 || d.value->coefficient() < -1'000'000'000) {
        *error = fmt::format("{}: `{}` is not a whole number", Where(file, r, "priority"), *p);
        return false;
      }
      g.priority = static_cast<std::int64_t>(d.value->coefficient());
    }
    out.push_back(std::move(g));
  }
  return true;
}

}  // namespace tariff
