// tests/differential: one case through an engine and through the reference evaluator, and the
// comparison of their invoices; and the shrinker that cuts a failing case down to a repro.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tests/differential/case.h"
#include "tests/reference/reference.h"

namespace tariff::differential {

// One side's answer, in the form both sides can be compared in.
struct Answer {
  struct Line {
    std::string kind, name;
    std::vector<std::string> group;
    std::string amount;          // as the side prints it
    reference::Rational value;   // its exact value
    int scale = -1;              // the decimals the side printed it with (-1: not fixed)
  };
  struct Invoice {
    std::string customer;
    std::vector<Line> lines;
    std::string total;
    reference::Rational total_value;
    std::vector<std::pair<std::string, reference::Rational>> subtotals;  // name and exact value
  };
  bool stopped = false;   // rating stopped (an amount past 38 digits, a division by zero)
  std::string error;      // why it stopped
  std::vector<Invoice> invoices;

  // The invoices as text, one line per invoice line: `customer  name [group]  amount`.
  std::string Text() const;
};

struct Outcome {
  enum class Verdict : std::uint8_t {
    kAgree,     // every line and total equal by value (or both stopped)
    kMismatch,  // the engine and the reference differ
    kInvalid,   // the generated plan does not check (a generator or checker defect: see detail)
  };
  Verdict verdict = Verdict::kAgree;
  std::string category;  // a short name for the kind of difference, for the summary and shrinking
  std::string detail;    // what differs, first difference first
  Answer engine, reference;
  int scale_differences = 0;  // lines equal by value but printed at another scale
  std::string scale_detail;   // the first of them: `customer line: engine 1.5, reference 1.50`
};

// The engines the harness can run: "interpreter" (runtime/exec). A JIT adds its name here.
const std::vector<std::string>& EngineNames();

// Compiles `c` (CheckSource, then Lower), rates its usage with `engine` and with the reference
// evaluator, and compares them per customer: the same lines (kind, name, group values, in
// order), each amount and each total equal by value. Never throws.
Outcome RunCase(const Case& c, const std::string& engine = "interpreter");

// Cuts `c` down while `still_fails` holds: drops customers, rows, adjustments, charges, meters,
// tiers, charge options, `where` filters and events, simplifies usage numbers and times; at most
// `budget` calls of `still_fails`. Returns the smallest case found.
Case Shrink(const Case& c, const std::function<bool(const Case&)>& still_fails, int budget = 600);

}  // namespace tariff::differential
