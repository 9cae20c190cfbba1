// runtime/columnar: RFC 3339 timestamps, the text form of a kTimestamp column (microseconds
// since the Unix epoch, UTC). The usage readers parse with it, the invoice writers, the billing
// layer and the interpreter's explanations format with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tariff {

// Parses an RFC 3339 timestamp (`2026-03-01T12:00:00Z`, `…+01:00`, fractions up to
// microseconds; a bare date `2026-03-01` is midnight UTC). Returns microseconds since the Unix
// epoch, or nullopt (and a reason in *error) for anything else.
std::optional<std::int64_t> ParseTimestamp(std::string_view text, std::string* error = nullptr);
// Formats microseconds since the epoch as RFC 3339 in UTC (`2026-03-01T00:00:00Z`; fractions
// only when non-zero).
std::string FormatTimestamp(std::int64_t micros);

}  // namespace tariff
