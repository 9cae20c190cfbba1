// runtime/columnar: column bookkeeping.
#include "runtime/columnar/batch.h"

namespace tariff {

std::size_t Column::size() const {
  switch (type) {
    case ColumnType::kDecimal: return decimals.size();
    case ColumnType::kText: return texts.size();
    case ColumnType::kBool: return bools.size();
    case ColumnType::kTimestamp: return times.size();
  }
  return 0;
}

void Column::clear() {
  decimals.clear();
  texts.clear();
  bools.clear();
  times.clear();
}

void Column::reserve(std::size_t n) {
  switch (type) {
    case ColumnType::kDecimal: decimals.reserve(n); break;
    case ColumnType::kText: texts.reserve(n); break;
    case ColumnType::kBool: bools.reserve(n); break;
    case ColumnType::kTimestamp: times.reserve(n); break;
  }
}

void Batch::Reset(const EventSchema* event_schema, int event_index) {
  schema = event_schema;
  event = event_index;
  origins.clear();
  weights.clear();
  columns.resize(event_schema->fields.size());
  for (std::size_t i = 0; i < columns.size(); ++i) {
    columns[i].type = event_schema->fields[i].type;
    columns[i].clear();
  }
}

}  // namespace tariff
