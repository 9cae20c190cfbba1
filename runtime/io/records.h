// runtime/io: small tables of named values read whole — the subscriptions and credit grants that
// `tariff rate --subscriptions/--credits` takes. CSV (RFC 4180, a header row naming the
// columns) or JSON Lines (one object a line; strings, numbers as written, booleans, null); the
// format from the extension (.csv, .jsonl, .ndjson). Values stay text: the billing layer types
// them against the plan. Usage, which can be large, has its own streaming reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tariff {

struct Record {
  std::uint64_t line = 0;  // 1-based line where the record starts
  // Column → value, in column order; a JSON null or an empty CSV cell is absent.
  std::vector<std::pair<std::string, std::string>> values;

  // The value of `column`, or nullopt when absent.
  std::optional<std::string> Get(const std::string& column) const;
};

struct RecordFile {
  std::string path;
  std::vector<std::string> columns;  // CSV: the header's columns (line 1); empty for JSON Lines
  std::vector<Record> records;
  std::string error;  // "path:line: reason" for the first problem; empty when read whole
};

RecordFile ReadRecords(const std::string& path);

}  // namespace tariff
