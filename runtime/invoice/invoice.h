// runtime/invoice: what rating produces. One Invoice per customer and period (and one more per
// change prorated `now`, issued at the change: Invoice::issued_at); its total is the
// exact sum of its lines (invariant 2, "conserved"). Writers are in runtime/io; the JSON shape is
// documented in docs/invoice.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"
#include "runtime/invoice/derivation.h"

namespace tariff {

// One tier crossed by a tiered line: `up to 10_000_000 request at 0.20 USD per 1000 request`.
struct TierPart {
  Decimal from;       // usage where the tier starts (exclusive), in the line's unit
  Decimal to;         // where it ends (inclusive), or the usage, whichever is smaller
  Decimal quantity;   // usage priced in this tier (graduated) or the whole usage (volume)
  Decimal amount;     // before the line's rounding
  std::string price;  // the tier's price as the plan writes it: "0.20 USD per 1000 request"
};

enum class LineKind : std::uint8_t {
  kCharge,    // a charge of the plan
  kMinimum,   // a minimum commitment's true-up
  kMaximum,   // a cap (negative amount)
  kDiscount,  // a discount (negative amount)
  kRounding,  // `rounding … per invoice`: the difference that makes the total exact
  kCredit,    // a prepaid credit drawn down (negative amount)
  // Progressive billing, on the period's (closing) invoice: what threshold invoices within the
  // period billed of the usage line above it (negative amount and quantity).
  kBilledEarlier,
};
// "charge", "minimum", "maximum", "discount", "rounding", "credit", "billed_earlier".
const char* LineKindName(LineKind kind);

struct InvoiceLine {
  LineKind kind = LineKind::kCharge;
  std::string name;                // the charge or adjustment, e.g. "Requests"
  std::vector<std::string> group;  // `by` values, in the order the charge lists them
  Decimal quantity;                // the metered quantity priced (after allowances)
  std::string unit;                // its unit ("request", "GB·h"); empty when not a quantity
  bool has_quantity = false;
  std::string price;               // the price as the plan writes it ("0.10 USD per GB",
                                   // "payment.amount * 2.9% + 0.30 USD"); "" for tiers and
                                   // adjustments
  std::vector<TierPart> tiers;     // tiered charges: each tier crossed
  Decimal amount;                  // in the invoice currency, after this line's rounding
  // When the period is split (a plan version taking effect mid-period, a change of plan, a
  // subscription starting or ending mid-period): the plan version that rated the line
  // ("api-platform v2", "pro") and the part of the period it covers (RFC 3339); "" when the
  // whole period was rated by one plan version.
  std::string rated_by;
  std::string from, to;
  // A fee billed in advance or one of its proration lines, put on the invoice by runtime/billing
  // (labelled there); not written.
  bool in_advance = false;
  // A proration line of a fee billed in advance (`Unused time on Seats (…)`): the charge it
  // prorates, so that an adjustment on that charge covers it; "" otherwise. Not written.
  std::string prorates;
  // How the amount was computed; null unless the rating was asked to explain.
  std::shared_ptr<Derivation> derivation;
};

// A prepaid credit grant after the invoice drew on it.
struct CreditBalance {
  std::string id;
  Decimal before;     // the balance the input gave
  Decimal used;       // drawn by this invoice
  Decimal remaining;  // before − used
  std::string expires;  // RFC 3339, "" when it never expires
  std::int64_t priority = 0;
  bool expired = false;  // expired at or before the period's start: not drawn
};

// `subtotal "NAME" of …`: the exact sum of the invoice's lines with the named names, shown beside
// the lines (never one of them: the total is the sum of the lines alone).
struct InvoiceSubtotal {
  std::string name;
  std::vector<std::string> parts;  // the line names it sums, as the plan lists them
  Decimal amount;
  // The lines it summed, by index into Invoice::lines, in invoice order (for explain).
  std::vector<std::size_t> lines;
  std::int32_t source_begin = -1;  // the `subtotal` declaration (byte offset in the plan), -1 when none
};

struct Invoice {
  std::string customer;
  std::string plan;
  std::string period_start;  // RFC 3339, as the period was given
  std::string period_end;
  // An invoice issued at a change within the period (`on change prorate now`, Stripe's
  // `always_invoice`): the instant of the change (RFC 3339, local); it holds only the change's
  // proration lines. "" for the period's own invoice.
  std::string issued_at;
  std::string currency;
  std::vector<InvoiceLine> lines;
  Decimal total;  // exactly the sum of lines[i].amount
  std::vector<CreditBalance> credits;  // in the order they were drawn; empty without credits
  std::vector<InvoiceSubtotal> subtotals;  // in the plan's order; empty when it declares none
  // Progressive billing (`invoice when usage reaches`, docs/billing.md): "threshold" for an
  // invoice issued within the period when the usage reached the threshold, with `issued_at` the
  // time of the event that reached it (RFC 3339 in the plan's time zone); "" for the period's
  // invoice and an invoice issued at a change.
  std::string kind;
};

// Rows of usage: every row read is rated, rejected or dropped as a duplicate.
struct RowCounts {
  std::uint64_t read = 0;
  std::uint64_t rated = 0;
  std::uint64_t rejected = 0;
  std::uint64_t duplicates = 0;
};

}  // namespace tariff
