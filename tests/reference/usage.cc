// tests/reference: usage rows from text (see usage.h).
#include "tests/reference/usage.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "runtime/columnar/timestamp.h"

namespace tariff::reference {

FieldValue ValueOf(const Type& type, const std::string& text) {
  switch (type.kind) {
    case TypeKind::kDecimal:
    case TypeKind::kQuantity:
    case TypeKind::kMoney: return FieldValue::Number(ParseRational(text));
    case TypeKind::kBool:
      if (text != "true" && text != "false") throw std::invalid_argument("not a boolean: " + text);
      return FieldValue::Bool(text == "true");
    case TypeKind::kTimestamp: {
      std::optional<std::int64_t> t = ParseTimestamp(text);
      if (!t) throw std::invalid_argument("not a timestamp: " + text);
      return FieldValue::Time(*t);
    }
    case TypeKind::kEnum:
      if (std::find(type.values.begin(), type.values.end(), text) == type.values.end()) {
        throw std::invalid_argument("not one of the enumeration's values: " + text);
      }
      return FieldValue::Text(text);
    default: return FieldValue::Text(text);
  }
}

UsageRow RowOf(const CheckedPlan& plan, const std::string& event, const std::string& customer,
               const std::string& time, const std::map<std::string, std::string>& fields) {
  auto ev = plan.events.find(event);
  if (ev == plan.events.end()) throw std::invalid_argument("no event `" + event + "`");
  UsageRow row;
  row.event = event;
  row.customer = customer;
  std::optional<std::int64_t> t = ParseTimestamp(time);
  if (!t) throw std::invalid_argument("not a timestamp: " + time);
  row.time = *t;
  for (const auto& [name, info] : ev->second.fields) {
    if (name == "customer" || name == "time") continue;
    auto it = fields.find(name);
    if (it == fields.end()) throw std::invalid_argument("missing field `" + name + "` of `" + event + "`");
    row.fields[name] = ValueOf(info.type, it->second);
  }
  return row;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text, std::vector<bool>* malformed) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, any = false, closed = false, bad = false;
  auto end_record = [&] {
    records.push_back(record);
    if (malformed != nullptr) malformed->push_back(bad);
    bad = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
        closed = true;
      } else {
        field += c;
      }
      continue;
    }
    bool separator = c == ',' || c == '\n' || c == '\r';
    if (closed && !separator) bad = true;  // text after a closing quote
    closed = false;
    if (c == '"') {
      if (!field.empty()) bad = true;  // a quote inside an unquoted value
      quoted = true;
      any = true;
    } else if (c == ',') {
      record.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        record.push_back(field);
        end_record();
      }
      record.clear();
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) bad = true;
  if (any || !field.empty()) {
    record.push_back(field);
    end_record();
  }
  return records;
}

std::vector<UsageRow> ReadUsageCsv(const CheckedPlan& plan, const std::string& text, std::optional<std::int64_t> from,
                                   std::optional<std::int64_t> to, std::size_t* rejected) {
  std::vector<bool> malformed;
  std::vector<std::vector<std::string>> records = ParseCsv(text, &malformed);
  std::vector<UsageRow> rows;
  if (records.empty()) return rows;
  const std::vector<std::string>& header = records.front();
  std::set<std::pair<std::string, std::string>> keys;
  for (std::size_t r = 1; r < records.size(); ++r) {
    try {
      if (malformed[r] || records[r].size() != header.size()) throw std::invalid_argument("malformed row");
      std::map<std::string, std::string> values;
      for (std::size_t c = 0; c < header.size(); ++c) {
        if (!records[r][c].empty()) values[header[c]] = records[r][c];
      }
      std::string event = values.count("event") ? values["event"] : plan.events.begin()->first;
      if (values.count("customer") == 0 || values.count("time") == 0) throw std::invalid_argument("missing field");
      UsageRow row = RowOf(plan, event, values["customer"], values["time"], values);
      if ((from && row.time < *from) || (to && row.time >= *to)) throw std::invalid_argument("outside the period");
      const ast::EventDecl* decl = plan.events.at(event).decl;
      if (decl != nullptr && decl->key && !keys.insert({event, values[decl->key->text]}).second) {
        throw std::invalid_argument("duplicate");
      }
      rows.push_back(std::move(row));
    } catch (const std::invalid_argument&) {
      if (rejected == nullptr) throw;
      ++*rejected;
    }
  }
  return rows;
}

}  // namespace tariff::reference
