// runtime/columnar: what the rating engine reads. A usage stream is a sequence of batches; a
// batch holds rows of one event type as typed columns, one column per field of the event's
// schema. Readers (runtime/io) fill batches; the interpreter (runtime/exec) scans them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace tariff {

// The type of a column. Quantities and money are kDecimal: the unit or currency is the field's
// (FieldSchema), so a value is stored as the number alone, exactly as written.
enum class ColumnType : std::uint8_t {
  kDecimal,    // decimal, quantity of UNIT, money, duration (seconds)
  kText,       // text, id, one of "…" (validated against FieldSchema::enum_values)
  kBool,       // true / false
  kTimestamp,  // RFC 3339 instant, stored as microseconds since 1970-01-01T00:00:00Z
};

// One field of an event as the engine sees it.
struct FieldSchema {
  std::string name;
  ColumnType type = ColumnType::kDecimal;
  std::vector<std::string> enum_values;  // non-empty: a `one of` field; other values are rejected
  std::string unit;                      // quantities: the unit values are written in ("GB")
  std::string currency;                  // money fields: the plan's currency
};

// One event type. Every event has the implicit fields `customer` (id) and `time` (timestamp);
// they are listed in `fields` like the others, and their indices are given.
struct EventSchema {
  std::string name;
  std::vector<FieldSchema> fields;
  int customer_field = -1;
  int time_field = -1;
  int key_field = -1;  // the idempotency key (`event request key request_id`), or -1

  // Index of the field named `name`, or -1.
  int FieldIndex(const std::string& field_name) const {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name == field_name) return static_cast<int>(i);
    }
    return -1;
  }
};

// A typed column. Only the vector matching `type` is used.
struct Column {
  ColumnType type = ColumnType::kDecimal;
  std::vector<Decimal> decimals;
  std::vector<std::string> texts;
  std::vector<std::uint8_t> bools;
  std::vector<std::int64_t> times;  // microseconds since the Unix epoch, UTC

  std::size_t size() const;
  void clear();
  void reserve(std::size_t n);
};

// Where a row came from, for rejects and explanations.
struct RowOrigin {
  std::uint32_t file = 0;   // index into the reader's list of files
  std::uint64_t line = 0;   // 1-based line in that file
};

// Rows of one event type. `columns[i]` holds field `i` of `schema`.
struct Batch {
  const EventSchema* schema = nullptr;
  int event = -1;  // index of the schema in the list the reader was given
  std::vector<Column> columns;
  std::vector<RowOrigin> origins;
  // How many identical events each row stands for (`usage request x 1_000_000` in a plan's test
  // is one row of weight 10^6, rated exactly as that many events); empty: every row is one event.
  std::vector<std::uint64_t> weights;

  std::size_t size() const { return origins.size(); }
  // Empties the batch and shapes its columns for `event_schema`.
  void Reset(const EventSchema* event_schema, int event_index);
};

}  // namespace tariff
