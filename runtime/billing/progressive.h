// runtime/billing: progressive (threshold) billing — `invoice when usage reaches AMOUNT`
// (Stripe's billing thresholds, `billing_thresholds.amount_gte`). Within the period, each time the
// usage lines not yet billed reach the plan's amount, a threshold invoice bills them; the period's
// invoice (the closing invoice) takes off, line by line, what the threshold invoices billed.
// The rules and where each comes from: docs/billing.md, "Progressive billing".
#pragma once

#include <vector>

#include "runtime/billing/billing.h"
#include "runtime/columnar/batch.h"
#include "runtime/invoice/invoice.h"

namespace tariff {

// Whether a plan version of `plans` declares `invoice when usage reaches`.
bool HasThreshold(const PlanSet& plans);

// Given the period's invoices `closing` (one per customer, rated over every row of `rows` by a
// Biller with these inputs, before prepaid credits) and the rows (the batches the Biller
// consumed, in the order consumed), makes the threshold invoices of every customer whose plan
// declares a threshold and adds to its closing invoice a `billed_earlier` line under each usage
// line a threshold invoice billed (the closing total falls by as much). Returns the threshold
// invoices, by customer id, each customer's in the order issued. Throws RatingError, BillingError.
std::vector<Invoice> BillProgressively(const PlanSet& plans, const std::vector<Subscription>& subscriptions,
                                       const BillingOptions& options, const std::vector<Batch>& rows,
                                       std::vector<Invoice>& closing);

// Whether the usage amount of `function` provably never falls as events are added (so that the
// event a threshold is reached at can be found by bisection): every charge that reads usage is
// built from counts, sums and maxima of values that are not negative, graduated tiers, packages,
// rates and allowances with prices that are not negative. Sums and per-event amounts of event
// fields are so only if the fields are not negative: `fields` gets those (event, field) names,
// to be checked on the rows.
bool UsageNeverFalls(const ir::RatingFunction& function, std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace tariff
