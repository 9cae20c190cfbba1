// tests/differential: the shrinker — greedy delta debugging on the structured case. Each pass
// tries to remove or simplify one kind of piece; a change is kept when the case still fails the
// same way. Passes repeat until none makes progress or the budget is spent.
#include <algorithm>
#include <set>
#include <string>

#include "tests/differential/harness.h"

namespace tariff::differential {

namespace {

class Shrinker {
 public:
  Shrinker(const std::function<bool(const Case&)>& still_fails, int budget) : still_fails_(still_fails), budget_(budget) {}

  Case Run(Case c) {
    bool progress = true;
    while (progress && budget_ > 0) {
      progress = false;
      progress |= DropCustomers(c);
      progress |= DropRows(c);
      progress |= DropAdjustments(c);
      progress |= DropCharges(c);
      progress |= DropTiers(c);
      progress |= DropOptions(c);
      progress |= DropWheres(c);
      progress |= DropUnused(c);
      progress |= SimplifyRows(c);
      progress |= SimplifyPlan(c);
    }
    return c;
  }

 private:
  // Keeps `candidate` in `c` when it still fails.
  bool Try(Case& c, const Case& candidate) {
    if (budget_ <= 0) return false;
    --budget_;
    if (!still_fails_(candidate)) return false;
    c = candidate;
    return true;
  }

  bool DropCustomers(Case& c) {
    std::set<std::string> ids;
    for (const RowDef& r : c.rows) ids.insert(r.customer);
    for (const CustomerDef& o : c.customers) ids.insert(o.id);
    bool any = false;
    for (const std::string& id : ids) {
      Case t = c;
      std::erase_if(t.rows, [&](const RowDef& r) { return r.customer == id; });
      std::erase_if(t.customers, [&](const CustomerDef& o) { return o.id == id; });
      any |= Try(c, t);
    }
    // Options the failure does not need: the part of the period, subscription values.
    for (std::size_t i = 0; i < c.customers.size(); ++i) {
      if (c.customers[i].part) {
        Case t = c;
        t.customers[i].part.reset();
        any |= Try(c, t);
      }
    }
    return any;
  }

  bool DropRows(Case& c) {
    bool any = false;
    for (std::size_t chunk = std::max<std::size_t>(c.rows.size() / 2, 1); chunk >= 1; chunk /= 2) {
      for (std::size_t start = 0; start < c.rows.size();) {
        Case t = c;
        t.rows.erase(t.rows.begin() + static_cast<std::ptrdiff_t>(start),
                     t.rows.begin() + static_cast<std::ptrdiff_t>(std::min(start + chunk, t.rows.size())));
        if (Try(c, t)) {
          any = true;
        } else {
          start += chunk;
        }
      }
      if (chunk == 1) break;
    }
    return any;
  }

  bool DropAdjustments(Case& c) {
    bool any = false;
    for (std::size_t i = c.adjustments.size(); i-- > 0;) {
      Case t = c;
      t.adjustments.erase(t.adjustments.begin() + static_cast<std::ptrdiff_t>(i));
      any |= Try(c, t);
    }
    for (std::size_t i = c.subtotals.size(); i-- > 0;) {
      Case t = c;
      t.subtotals.erase(t.subtotals.begin() + static_cast<std::ptrdiff_t>(i));
      any |= Try(c, t);
    }
    return any;
  }

  static void RemoveCharge(Case& t, const std::string& name) {
    std::erase_if(t.charges, [&](const ChargeDef& ch) { return ch.name == name; });
    for (AdjustmentDef& a : t.adjustments) {
      auto it = std::find(a.on.begin(), a.on.end(), name);
      if (it == a.on.end()) continue;
      a.on.erase(it);
      if (a.on.empty()) a.head.clear();  // it named only this charge: drop it
    }
    std::erase_if(t.adjustments, [](const AdjustmentDef& a) { return a.head.empty(); });
    for (SubtotalDef& st : t.subtotals) std::erase(st.of, name);
    std::erase_if(t.subtotals, [](const SubtotalDef& st) { return st.of.empty(); });
  }

  bool DropCharges(Case& c) {
    bool any = false;
    for (std::size_t i = c.charges.size(); i-- > 0;) {
      if (i >= c.charges.size()) continue;
      Case t = c;
      RemoveCharge(t, c.charges[i].name);
      any |= Try(c, t);
    }
    return any;
  }

  bool DropTiers(Case& c) {
    bool any = false;
    for (std::size_t i = 0; i < c.charges.size(); ++i) {
      for (std::size_t k = c.charges[i].tiers.size(); k-- > 0;) {
        if (c.charges[i].tiers.size() <= 1 || k + 1 >= c.charges[i].tiers.size()) continue;  // keep `above`
        Case t = c;
        t.charges[i].tiers.erase(t.charges[i].tiers.begin() + static_cast<std::ptrdiff_t>(k));
        any |= Try(c, t);
      }
      for (std::size_t k = 0; k < c.charges[i].tiers.size(); ++k) {
        const std::string& price = c.charges[i].tiers[k].price;
        std::size_t flat = price.find(" + ");
        if (flat == std::string::npos) continue;
        Case t = c;
        t.charges[i].tiers[k].price = price.substr(0, flat);
        any |= Try(c, t);
      }
    }
    return any;
  }

  bool DropOptions(Case& c) {
    bool any = false;
    for (std::size_t i = 0; i < c.charges.size(); ++i) {
      for (std::size_t k = c.charges[i].options.size(); k-- > 0;) {
        if (k >= c.charges[i].options.size()) continue;
        Case t = c;
        t.charges[i].options.erase(t.charges[i].options.begin() + static_cast<std::ptrdiff_t>(k));
        any |= Try(c, t);
      }
    }
    for (std::size_t i = 0; i < c.adjustments.size(); ++i) {
      if (c.adjustments[i].tail.empty()) continue;
      Case t = c;
      t.adjustments[i].tail.clear();
      any |= Try(c, t);
    }
    return any;
  }

  bool DropWheres(Case& c) {
    bool any = false;
    for (std::size_t i = 0; i < c.meters.size(); ++i) {
      std::size_t w = c.meters[i].text.find(" where ");
      if (w == std::string::npos) continue;
      Case t = c;
      t.meters[i].text = c.meters[i].text.substr(0, w);
      any |= Try(c, t);
    }
    for (std::size_t i = 0; i < c.charges.size(); ++i) {
      const std::string& body = c.charges[i].body;
      std::size_t w = body.find(" where ");
      std::size_t colon = body.find(": ");
      if (body.rfind("each ", 0) != 0 || w == std::string::npos || colon == std::string::npos || w > colon) continue;
      Case t = c;
      t.charges[i].body = body.substr(0, w) + body.substr(colon);
      any |= Try(c, t);
    }
    return any;
  }

  bool DropUnused(Case& c) {
    bool any = false;
    // Meters no charge reads.
    std::set<std::string> used;
    for (const ChargeDef& ch : c.charges) used.insert(ch.meters.begin(), ch.meters.end());
    Case t = c;
    std::erase_if(t.meters, [&](const MeterDef& m) { return !used.count(m.name); });
    if (t.meters.size() != c.meters.size()) any |= Try(c, t);
    // Events nothing reads (and their rows).
    for (std::size_t i = c.events.size(); i-- > 0;) {
      if (i >= c.events.size() || c.events.size() == 1) continue;
      const std::string name = c.events[i].name;
      bool read = false;
      for (const MeterDef& m : c.meters) read |= m.event == name;
      for (const ChargeDef& ch : c.charges) read |= ch.body.find(name + ".") != std::string::npos || ch.body.find("each " + name) != std::string::npos;
      if (read) continue;
      Case u = c;
      u.events.erase(u.events.begin() + static_cast<std::ptrdiff_t>(i));
      std::erase_if(u.rows, [&](const RowDef& r) { return r.event == name; });
      any |= Try(c, u);
    }
    // Fields nothing reads (in meters, charges, groupings and options), and declared units.
    std::string text;
    for (const MeterDef& m : c.meters) text += m.text + "\n";
    for (const ChargeDef& ch : c.charges) {
      text += ch.body + " " + ch.by + "\n";
      for (const std::string& o : ch.options) text += o + "\n";
    }
    for (std::size_t i = 0; i < c.events.size(); ++i) {
      for (std::size_t k = c.events[i].fields.size(); k-- > 0;) {
        if (k >= c.events[i].fields.size()) continue;
        const std::string field = c.events[i].fields[k].name;
        if (text.find(c.events[i].name + "." + field) != std::string::npos) continue;
        Case u = c;
        u.events[i].fields.erase(u.events[i].fields.begin() + static_cast<std::ptrdiff_t>(k));
        for (RowDef& r : u.rows) {
          if (r.event == c.events[i].name) r.values.erase(field);
        }
        any |= Try(c, u);
      }
    }
    for (std::size_t i = c.units.size(); i-- > 0;) {
      if (i >= c.units.size()) continue;
      Case u = c;
      u.units.erase(u.units.begin() + static_cast<std::ptrdiff_t>(i));
      any |= Try(c, u);
    }
    // The subscription, when no charge reads it.
    if (!c.subscription.empty()) {
      bool read = false;
      for (const ChargeDef& ch : c.charges) read |= ch.body.find("subscription.") != std::string::npos;
      if (!read) {
        Case u = c;
        u.subscription.clear();
        for (CustomerDef& o : u.customers) o.subscription.clear();
        std::erase_if(u.customers, [](const CustomerDef& o) { return !o.part; });
        any |= Try(c, u);
      }
    }
    return any;
  }

  static std::vector<std::string> Simpler(const std::string& v) {
    std::vector<std::string> out;
    if (v.empty() || (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) return out;
    for (const char* s : {"0", "1"}) {
      if (v != s) out.push_back(s);
    }
    std::size_t dot = v.find('.');
    if (dot != std::string::npos) {
      out.push_back(v.substr(0, dot));
      std::size_t decimals = v.size() - dot - 1;
      for (std::size_t keep = 1; keep < decimals; keep *= 2) out.push_back(v.substr(0, dot + 1 + keep));
    }
    if (v.size() > 3 && dot == std::string::npos) out.push_back(v.substr(0, v.size() / 2));
    return out;
  }

  bool SimplifyRows(Case& c) {
    bool any = false;
    for (std::size_t i = 0; i < c.rows.size(); ++i) {
      for (auto& [field, value] : c.rows[i].values) {
        for (const std::string& s : Simpler(value)) {
          Case t = c;
          t.rows[i].values[field] = s;
          if (Try(c, t)) {
            any = true;
            break;
          }
        }
      }
      // The time: midnight of its day, then the period's start.
      std::int64_t day = 86400000000LL;
      for (std::int64_t simpler : {c.rows[i].time - c.rows[i].time % day, c.period_start}) {
        if (simpler == c.rows[i].time) continue;
        Case t = c;
        t.rows[i].time = simpler;
        if (Try(c, t)) {
          any = true;
          break;
        }
      }
    }
    return any;
  }

  bool SimplifyPlan(Case& c) {
    bool any = false;
    if (!c.proration.empty()) {
      Case t = c;
      t.proration.clear();
      any |= Try(c, t);
    }
    for (std::size_t i = 0; i < c.charges.size(); ++i) {
      if (c.charges[i].by.empty()) continue;
      std::size_t comma = c.charges[i].by.find(", ");
      if (comma == std::string::npos) continue;
      Case t = c;
      t.charges[i].by = c.charges[i].by.substr(0, comma);
      any |= Try(c, t);
    }
    return any;
  }

  const std::function<bool(const Case&)>& still_fails_;
  int budget_;
};

}  // namespace

Case Shrink(const Case& c, const std::function<bool(const Case&)>& still_fails, int budget) {
  return Shrinker(still_fails, budget).Run(c);
}

}  // namespace tariff::differential
