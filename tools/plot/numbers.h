// tools/plot: number helpers the sampler and the SVG writer share (internal to tools/plot).
#pragma once

#include <string>

#include "runtime/decimal/fraction.h"

namespace tariff::plot {

// The smallest of 1, 2, 2.5, 5 × 10^n that is at least `v` (v > 0).
Fraction Nice(const Fraction& v);
// 1234567.5 → "1,234,567.5" (a decimal number's text with its integer digits grouped).
std::string Grouped(const std::string& number);
// A quantity for people: its exact decimal, digits grouped; a fraction with no finite decimal
// form as "≈ " and 6 decimals.
std::string ShowQuantity(const Fraction& q);
// For coordinates only: the nearest double (through the value's decimal text).
double ToDouble(const ExactNumber& n);

}  // namespace tariff::plot
