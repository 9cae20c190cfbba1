// runtime/billing: per-customer contract terms on top of the plan (`tariff rate --contracts`):
// discounts with a duration, applied to each customer's invoice after the plan's own adjustments
// and before prepaid credits, and price overrides (a multiplier or a replacement rate for a
// charge), applied to a copy of the plan's rating function that rates that customer.
// Semantics and error codes: docs/billing.md ("Contracts").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace tariff {

struct PlanSet;
struct Invoice;
namespace ir {
struct RatingFunction;
}

// One term of a customer's contract, as one row of the contracts file gives it.
struct ContractTerm {
  enum class Kind : std::uint8_t { kDiscount, kOverride, kAnchor, kCommit, kDrawn };
  enum class Duration : std::uint8_t { kOnce, kPeriods, kForever };
  Kind kind = Kind::kDiscount;
  std::string customer;
  std::string name;    // the invoice line's name
  std::string charge;  // the charge it applies to; "": the whole invoice
  std::optional<Decimal> percent;  // discount: percent off (20 is 20%), in (0, 100]
  std::optional<Decimal> amount;   // discount: a fixed amount of the plan's currency, above zero;
                                   // commit: the commitment over the term
  std::optional<Decimal> multiplier;  // override: the charge's amount × this, before its rounding
  std::string rate;                   // override: a replacement rate as written ("0.15 USD per 1000 request")
  std::string anchor;                 // anchor: the customer's billing anchor (RFC 3339), as the plan's `anchor` takes it
  // drawn: what other usage of the customer already drew, in each period of the term, from the
  // free allowance of `charge`: `quantity` from `included Q` (in a unit of the meter's
  // dimension, "300 GiB·s") or from `free first N events` (a count: "2", "2 upload"), and
  // `amount` (money) from `… or M`. The allowance left is never below zero.
  std::string quantity;
  Duration duration = Duration::kForever;
  int periods = 0;                       // kPeriods: how many billing periods, from the start
  std::optional<std::int64_t> start;     // µs; absent: always (kForever only)
  // The periods the term applies to, µs, computed from `start`, `duration` and the plan's
  // period rule: a period is discounted when its start lies in [window_start, window_end).
  std::int64_t window_start = 0, window_end = 0;
  std::string origin;  // "contracts.csv:3", for messages and explanations
  bool origin_named = false;  // `name` was given (else the default: "Contract discount 20% on Requests")
  // commit: the customer's invoice totals (before credits) of the term's periods before the one
  // rated, each with its period ("2026-01-01T00:00:00Z to 2026-02-01T00:00:00Z"); filled by
  // whoever rated them (tools/driver rates them from the same usage in the same run).
  std::vector<std::pair<std::string, Decimal>> prior;
  // commit: the customer has an invoice in one of those earlier periods (so a customer known to
  // the run, and owed an invoice for the true-up even with no usage in the last period).
  bool invoiced_before = false;
};

// Reads a contracts file. Columns: customer, kind (`discount`, `override`, `anchor`, `commit`,
// `drawn`), name, charge, percent, amount, multiplier, rate, anchor, quantity, duration (`once`,
// `forever`, `N periods`), start (RFC 3339).
// An override is checked against every plan version with its charge (a rate must be in the
// plan's currency per a unit of the charge's meter's dimension, on a charge priced per unit). On a problem returns false with
// "error[CODE]: path:line: column `x`: reason" in *error (codes: docs/billing.md).
bool ReadContracts(const std::string& path, const PlanSet& plans, std::vector<ContractTerm>& out, std::string* error);

// The same checks on rows given as (column, value) text pairs, each with its line in `path` (a
// plan test's `contract { … }` statements).
struct ContractRow {
  std::uint64_t line = 0;
  std::vector<std::pair<std::string, std::string>> values;
};
bool ReadContractRows(const std::string& path, const std::vector<ContractRow>& rows, const PlanSet& plans, std::vector<ContractTerm>& out,
                      std::string* error);

// Whether `term` applies to the billing period that starts at `period_start`.
bool ContractApplies(const ContractTerm& term, std::int64_t period_start);

// Whether the period [period_start, period_end) is the last of commitment `term`'s term: the
// one whose invoice gets the true-up.
bool CommitEndsIn(const ContractTerm& term, std::int64_t period_start, std::int64_t period_end);

// Rewrites `fn` (a copy) with the price overrides and the allowances drawn elsewhere among
// `terms` (a drawn term lowers the charge's `included` allowance or its `free first N events or
// M`, never below zero; C0113 when the charge has no such allowance or the quantity's unit does
// not fit it). A multiplier scales the named
// charge's amount (per line, or per event for a per-event charge) before its rounding; a rate
// replaces the per-unit price of an aggregate charge priced `meter * RATE` (its price shown on
// the line becomes the rate as written). A term on a charge `fn` does not have is skipped.
// Returns "" or why the override cannot apply (C0104 not priced per unit, C0110 wrong unit).
std::string OverrideCharges(ir::RatingFunction& fn, const std::vector<const ContractTerm*>& terms);

// Applies `terms` (the invoice's customer's, in file order) to `invoice`: discounts on a charge
// first, then discounts on the whole invoice; each a `discount` line named by the term, rounded
// by `fn`'s rounding mode to its rounding scale, never more than what it applies to. Adds to
// the total. `explain` fills each line's derivation (the term's origin, base, percent, rounding)
// and adds a first step naming the override to each line of an overridden charge.
// Then, in the last period of a commitment's term, a true-up (a `minimum` line named by the term)
// for what the term's invoices (term.prior and this one, before credits) fall short of it.
void ApplyContracts(Invoice& invoice, const std::vector<const ContractTerm*>& terms, const ir::RatingFunction& fn,
                    std::int64_t period_start, std::int64_t period_end, bool explain);

}  // namespace tariff
