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
  std::string name;               // "meter": the meter's name (what a test's `expect meter` reads)
  std::optional<Decimal> before;  // "round": the value before rounding
  std::int32_t source_begin = -1; // the plan text it implements (byte offsets), -1 when none
  std::int32_t source_end = -1;
  // "round": the mode (`half_even`, …) and the number of decimals; "" and -1 otherwise.
  std::string mode;
  int scale = -1;
  // The named numbers the step worked with, for programs (the text says the same for people):
  // a tier's `from`, `to`, `quantity`, `price`; an allowance's `metered`, `included`; a
  // proration's `active`, `length`; a discount's `base`, `percent`. In the order they were set.
  struct Operand {
    std::string name;
    std::string value;  // a decimal as text ("9000"), or text ("0.20 USD per 100 request")
    std::string unit;   // of a decimal value; "" for a plain number or text
  };
  std::vector<Operand> operands;
};

// A term of the sum that makes the line's amount: the tiers' amounts, the events' amounts, the
// rounding difference. The terms of a line add up to its amount exactly (tests check it on every
// golden case): each is computed on its own from what rating computed, never as "the rest".
struct DerivationTerm {
  std::string label;
  Decimal amount;
};

struct Derivation {
  std::vector<DerivationStep> steps;
  std::vector<DerivationTerm> terms;
};

}  // namespace tariff
