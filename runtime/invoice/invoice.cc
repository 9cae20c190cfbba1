// runtime/invoice: names of line kinds.
#include "runtime/invoice/invoice.h"

namespace tariff {

const char* LineKindName(LineKind kind) {
  switch (kind) {
    case LineKind::kCharge: return "charge";
    case LineKind::kMinimum: return "minimum";
    case LineKind::kMaximum: return "maximum";
    case LineKind::kDiscount: return "discount";
    case LineKind::kRounding: return "rounding";
    case LineKind::kCredit: return "credit";
    case LineKind::kBilledEarlier: return "billed_earlier";
  }
  return "?";
}

}  // namespace tariff
