// compiler/lower: a checked plan → its rating function (compiler/ir). Runs only on plans that
// checked without errors; every construct the checker accepts is lowered, so a failure here is
// a bug in tariff, reported as an internal error with the plan line.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "compiler/sema/sema.h"

namespace tariff {

struct LowerResult {
  ir::RatingFunction function;
  std::vector<std::string> errors;  // empty on success; each names the plan line
  bool ok() const { return errors.empty(); }
};

// Lowers `plan` (one of `checked.plans`, from a file without errors) of `source`.
LowerResult Lower(const CheckedFile& checked, const CheckedPlan& plan, const SourceFile& source);

}  // namespace tariff
