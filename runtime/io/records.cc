// runtime/io: reading small tables of named values (see records.h).
#include "runtime/io/records.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/text/utf8.h"

namespace tariff {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// RFC 4180 records of `text`: fields split on commas, quotes doubled inside quoted fields, line
// breaks CRLF or LF (also inside quoted fields). Returns false with *why on an unclosed quote or
// text after a closing quote.
bool SplitCsv(const std::string& text, std::vector<std::pair<std::uint64_t, std::vector<std::string>>>& rows,
              std::string* why, std::uint64_t* bad_line) {
  std::uint64_t line = 1;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    std::uint64_t start_line = line;
    std::vector<std::string> fields;
    std::string field;
    bool blank = true;
    for (;;) {
      if (i < n && text[i] == '"') {
        blank = false;
        ++i;
        for (;;) {
          if (i >= n) {
            *why = "a quoted value is not closed";
            *bad_line = start_line;
            return false;
          }
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field += '"';
              ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          *why = "text after a closing quote";
          *bad_line = line;
          return false;
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          field += text[i++];
          blank = false;
        }
      }
      fields.push_back(std::move(field));
      field.clear();
      if (i < n && text[i] == ',') {
        blank = false;
        ++i;
        continue;
      }
      break;
    }
    if (i < n && text[i] == '\r') ++i;
    if (i < n && text[i] == '\n') {
      ++i;
      ++line;
    }
    if (!blank) rows.emplace_back(start_line, std::move(fields));
  }
  return true;
}

void ReadCsv(const std::string& text, RecordFile& out) {
  std::vector<std::pair<std::uint64_t, std::vector<std::string>>> rows;
  std::string why;
  std::uint64_t bad = 0;
  if (!SplitCsv(text, rows, &why, &bad)) {
    out.error = fmt::format("{}:{}: {}", out.path, bad, why);
    return;
  }
  if (rows.empty()) {
    out.error = fmt::format("{}:1: the file is empty; expected a header row naming the columns", out.path);
    return;
  }
  const std::vector<std::string> header = rows[0].second;
  out.columns = header;
  for (std::size_t c = 0; c < header.size(); ++c) {
    for (std::size_t d = 0; d < c; ++d) {
      if (header[c] == header[d]) {
        out.error = fmt::format("{}:{}: column `{}` appears twice in the header", out.path, rows[0].first, header[c]);
        return;
      }
    }
  }
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& [line, fields] = rows[r];
    if (fields.size() != header.size()) {
      out.error = fmt::format("{}:{}: {} values for {} columns", out.path, line, fields.size(), header.size());
      return;
    }
    Record rec;
    rec.line = line;
    for (std::size_t c = 0; c < fields.size(); ++c) {
      if (!fields[c].empty()) rec.values.emplace_back(header[c], fields[c]);
    }
    out.records.push_back(std::move(rec));
  }
}

void ReadJsonl(const std::string& text, RecordFile& out) {
  std::istringstream in(text);
  std::string line_text;
  std::uint64_t line = 0;
  while (std::getline(in, line_text)) {
    ++line;
    if (!line_text.empty() && line_text.back() == '\r') line_text.pop_back();
    if (line_text.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::ordered_json j;
    std::string duplicate;
    try {
      // A member given twice would silently keep one value: refuse it.
      std::vector<std::string> keys;
      auto seen = [&](int d, nlohmann::ordered_json::parse_event_t event, nlohmann::ordered_json& parsed) {
        using E = nlohmann::ordered_json::parse_event_t;
        if (event == E::key && d == 1 && duplicate.empty()) {
          const std::string key = parsed.get<std::string>();
          if (std::find(keys.begin(), keys.end(), key) != keys.end()) duplicate = key;
          keys.push_back(key);
        }
        return true;
      };
      j = nlohmann::ordered_json::parse(line_text, seen);
    } catch (const nlohmann::json::parse_error& e) {
      out.error = fmt::format("{}:{}: not JSON: {}", out.path, line, e.what());
      return;
    }
    if (!duplicate.empty()) {
      out.error = fmt::format("{}:{}: member `{}` appears twice", out.path, line, duplicate);
      return;
    }
    if (!j.is_object()) {
      out.error = fmt::format("{}:{}: expected a JSON object", out.path, line);
      return;
    }
    Record rec;
    rec.line = line;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const auto& v = it.value();
      if (v.is_null()) continue;
      if (v.is_string()) {
        rec.values.emplace_back(it.key(), v.get<std::string>());
      } else if (v.is_boolean()) {
        rec.values.emplace_back(it.key(), v.get<bool>() ? "true" : "false");
      } else if (v.is_number()) {
        // The number as written: re-parse the member's text so that no float touches it.
        rec.values.emplace_back(it.key(), v.dump());
        if (v.is_number_float()) {
          out.error = fmt::format("{}:{}: `{}`: write decimal amounts as strings (\"12.50\") so that they stay exact",
                                  out.path, line, it.key());
          return;
        }
      } else {
        out.error = fmt::format("{}:{}: `{}`: expected a string, number, boolean or null", out.path, line, it.key());
        return;
      }
    }
    out.records.push_back(std::move(rec));
  }
}

}  // namespace

std::optional<std::string> Record::Get(const std::string& column) const {
  for (const auto& [name, value] : values) {
    if (name == column) return value;
  }
  return std::nullopt;
}

RecordFile ReadRecords(const std::string& path) {
  RecordFile out;
  out.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = fmt::format("cannot open `{}`", path);
    return out;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte order mark (Excel writes one)
  std::size_t bad = FirstInvalidUtf8(text);
  if (bad != std::string::npos && bad < text.size()) {
    std::uint64_t line = 1;
    for (std::size_t i = 0; i < bad; ++i) line += text[i] == '\n' ? 1 : 0;
    out.error = fmt::format("{}:{}: invalid UTF-8", path, line);
    return out;
  }
  if (EndsWith(path, ".jsonl") || EndsWith(path, ".ndjson")) {
    ReadJsonl(text, out);
  } else if (EndsWith(path, ".csv")) {
    ReadCsv(text, out);
  } else {
    out.error = fmt::format("`{}`: expected a .csv, .jsonl or .ndjson file", path);
  }
  if (!out.error.empty()) out.records.clear();
  return out;
}

}  // namespace tariff
