// tests/reference: usage rows for the reference evaluator from text — a value as a usage file
// writes it, and RFC 4180 CSV files (the format `tariff rate` reads), for the golden cases and
// the unit tests. Reading is not evaluation: timestamps are parsed by runtime/columnar.
#pragma once

#include <string>
#include <vector>

#include "tests/reference/reference.h"

namespace tariff::reference {

// The value of a field of type `type` written as `text` in a usage file (a number in the
// field's unit, `true`/`false`, any text). Throws std::invalid_argument when it is not one.
FieldValue ValueOf(const Type& type, const std::string& text);

// A row of `event` from its values as text (every declared field; `time` in RFC 3339).
// Throws std::invalid_argument naming what is wrong.
UsageRow RowOf(const CheckedPlan& plan, const std::string& event, const std::string& customer,
               const std::string& time, const std::map<std::string, std::string>& fields);

// Splits RFC 4180 CSV text into records of fields (quotes, doubled quotes, CRLF). With
// `malformed`, one flag per record: text after a closing quote, a quote inside an unquoted
// value, or a quote never closed.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text, std::vector<bool>* malformed = nullptr);

// The rows of a usage CSV file (a header naming the columns; an `event` column when the plan
// has several events). Rows whose time is outside [from, to) (when given) are left out, as
// `tariff rate --period` rejects them. With `rejected`, a row that is not valid (a missing or
// unparsable value, an unknown event) or repeats an idempotency key is left out and counted
// there; without it, such a row throws std::invalid_argument.
std::vector<UsageRow> ReadUsageCsv(const CheckedPlan& plan, const std::string& text,
                                   std::optional<std::int64_t> from = std::nullopt,
                                   std::optional<std::int64_t> to = std::nullopt, std::size_t* rejected = nullptr);

}  // namespace tariff::reference
