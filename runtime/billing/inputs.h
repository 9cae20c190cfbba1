// runtime/billing: the subscriptions and credit grants `tariff rate` reads (--subscriptions,
// --credits), typed against the plans. Formats: docs/billing.md.
#pragma once

#include <string>
#include <vector>

#include "runtime/billing/billing.h"

namespace tariff {

// Columns: customer (required), plan, version, start, end (RFC 3339), proration_behavior
// (next_invoice, now, none: on a subscription changed to), and the plan's `subscription` fields
// (numbers in the field's unit, true/false, text). On a problem returns false with "path:line:
// column `x`: reason" in *error, or for a bad `proration_behavior` "error[S0101]: path:line: …"
// (not a behaviour) or "error[S0102]: …" (on a subscription that is no change).
bool ReadSubscriptions(const std::string& path, const PlanSet& plans, std::vector<Subscription>& out, std::string* error);

// Columns: customer, grant (the grant's id), amount (in the plan's currency), and optionally
// currency (must be the plan's), expires, created (RFC 3339) and priority (a whole number).
bool ReadCredits(const std::string& path, const PlanSet& plans, std::vector<CreditGrant>& out, std::string* error);

}  // namespace tariff
