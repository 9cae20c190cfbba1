// tests/differential: printing a case as plan text, usage CSV and subscriptions CSV.
#include "tests/differential/case.h"

#include <set>
#include <sstream>

#include "runtime/columnar/timestamp.h"

namespace tariff::differential {

std::string TimeText(std::int64_t micros) { return FormatTimestamp(micros); }

std::string FieldDef::TypeText(const std::string& currency) const {
  (void)currency;
  switch (kind) {
    case FieldKind::kQuantity: return "quantity of " + unit;
    case FieldKind::kMoney: return "money";
    case FieldKind::kDecimal: return "decimal";
    case FieldKind::kText: return "text";
    case FieldKind::kBool: return "boolean";
    case FieldKind::kId: return "id";
    case FieldKind::kEnum: {
      std::string out = "one of ";
      for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", \"" : "\"") + values[i] + "\"";
      return out;
    }
  }
  return "";
}

const FieldDef* EventDef::Field(const std::string& field_name) const {
  for (const FieldDef& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

const EventDef* Case::Event(const std::string& name) const {
  for (const EventDef& e : events) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

namespace {

std::string Quoted(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", \"" : "\"") + names[i] + "\"";
  return out;
}

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string Case::PlanText() const {
  std::ostringstream p;
  p << "plan \"differential\" {\n";
  p << "  currency " << currency << "\n";
  p << "  period month\n";
  if (!rounding.empty()) p << "  " << rounding << "\n";
  if (!proration.empty()) p << "  " << proration << "\n";
  if (!units.empty()) {
    p << "\n  unit ";
    for (std::size_t i = 0; i < units.size(); ++i) p << (i ? ", " : "") << units[i];
    p << "\n";
  }
  for (const EventDef& e : events) {
    p << "\n  event " << e.name << " {\n";
    for (const FieldDef& f : e.fields) p << "    " << f.name << ": " << f.TypeText(currency) << "\n";
    p << "  }\n";
  }
  if (!subscription.empty()) {
    p << "\n  subscription {\n";
    for (const FieldDef& f : subscription) p << "    " << f.name << ": " << f.TypeText(currency) << "\n";
    p << "  }\n";
  }
  if (!meters.empty()) p << "\n";
  for (const MeterDef& m : meters) p << "  meter " << m.name << " = " << m.text << "\n";
  if (!charges.empty()) p << "\n";
  for (const ChargeDef& c : charges) {
    p << "  charge \"" << c.name << "\"";
    if (!c.by.empty()) p << " by " << c.by;
    p << " = " << c.body;
    if (!c.tiers.empty()) {
      p << " {\n";
      for (const TierDef& t : c.tiers) {
        p << "    " << (t.bound.empty() ? std::string("above") : "up to " + t.bound) << "  " << t.price << "\n";
      }
      if (!c.beyond.empty()) p << "    beyond: " << c.beyond << "\n";
      p << "  }";
    }
    for (const std::string& o : c.options) p << " " << o;
    p << "\n";
  }
  if (!adjustments.empty()) p << "\n";
  for (const AdjustmentDef& a : adjustments) {
    p << "  " << a.head;
    if (!a.on.empty()) p << " on " << Quoted(a.on);
    p << a.tail << "\n";
  }
  for (const SubtotalDef& st : subtotals) p << "  subtotal \"" << st.name << "\" of " << Quoted(st.of) << "\n";
  p << "}\n";
  return p.str();
}

std::string Case::UsageCsv() const {
  std::vector<std::string> columns;
  bool several = events.size() > 1;
  if (several) columns.push_back("event");
  columns.push_back("customer");
  columns.push_back("time");
  std::set<std::string> seen(columns.begin(), columns.end());
  for (const EventDef& e : events) {
    for (const FieldDef& f : e.fields) {
      if (seen.insert(f.name).second) columns.push_back(f.name);
    }
  }
  std::ostringstream out;
  for (std::size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << columns[i];
  out << "\n";
  for (const RowDef& r : rows) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string& c = columns[i];
      std::string v;
      if (c == "event") {
        v = r.event;
      } else if (c == "customer") {
        v = r.customer;
      } else if (c == "time") {
        v = TimeText(r.time);
      } else {
        auto it = r.values.find(c);
        if (it != r.values.end()) v = it->second;
      }
      out << (i ? "," : "") << CsvField(v);
    }
    out << "\n";
  }
  return out.str();
}

std::string Case::SubscriptionsCsv() const {
  if (customers.empty()) return "";
  std::ostringstream out;
  out << "customer,start,end";
  for (const FieldDef& f : subscription) out << "," << f.name;
  out << "\n";
  // Every customer of the usage needs a subscription once a file is given.
  std::set<std::string> listed;
  auto line = [&](const std::string& id, std::int64_t start, std::int64_t end, const std::map<std::string, std::string>& values) {
    out << CsvField(id) << "," << TimeText(start) << "," << TimeText(end);
    for (const FieldDef& f : subscription) {
      auto it = values.find(f.name);
      out << "," << (it == values.end() ? std::string(f.kind == FieldKind::kQuantity ? "0" : "") : CsvField(it->second));
    }
    out << "\n";
    listed.insert(id);
  };
  for (const CustomerDef& c : customers) {
    auto [start, end] = c.part.value_or(std::make_pair(period_start, period_end));
    line(c.id, start, end, c.subscription);
  }
  for (const RowDef& r : rows) {
    if (!listed.count(r.customer)) line(r.customer, period_start, period_end, {});
  }
  return out.str();
}

std::vector<std::string> Case::RateArgs() const {
  std::vector<std::string> args = {"--usage", "usage.csv", "--period", TimeText(period_start) + ".." + TimeText(period_end)};
  if (!customers.empty()) {
    args.push_back("--subscriptions");
    args.push_back("subscriptions.csv");
  }
  return args;
}

}  // namespace tariff::differential
