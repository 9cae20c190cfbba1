// runtime/invoice: how an invoice line was computed, for `tariff explain` (invariant 4,
// "explained"). The engine fills a line's derivation only when asked (RatingOptions::explain);
// the billing layer adds the steps of what it does to lines (proration by segment, credits).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace tariff {

// One step of a derivation: events matched, a meter's value, a unit conversion, an allowance,
// tiers crossed, packages, proration, a rounding (before and after), an adjustment, a credit.
struct DerivationStep {
  std::string kind;               // "events", "meter", "convert", "allowance", "tier", "packages",
                                  // "prorate", "round", "adjustment", "credit", …
  std::string text;               // one sentence a support engineer can read to a customer
  std::optional<Decimal> value;   // the value this step produced, if it is a number
  std::string unit;               // of `value`: "request", "GB", "USD"; "" for a plain number
  std::optional<Decimal> before;  // "round": the value before rounding
  std::int32_t source_begin = -1; // the plan text it implements (byte offsets), -1 when none
  std::int32_t source_end = -1;
};

// A term of the sum that makes the line's amount: the tiers' amounts, the events' amounts, the
// rounding difference. The terms of a line add up to its amount exactly.
struct DerivationTerm {
  std::string label;
  Decimal amount;
};

struct Derivation {
  std::vector<DerivationStep> steps;
  std::vector<DerivationTerm> terms;
};

}  // namespace tariff
