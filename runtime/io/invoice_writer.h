// runtime/io: invoice writers. JSON Lines (one invoice per line; the shape is in
// docs/invoice.md and stable), CSV (one row per invoice line) and a human table.
#pragma once

#include <iosfwd>
#include <span>

#include "runtime/invoice/amendment.h"
#include "runtime/invoice/invoice.h"

namespace tariff {

void WriteInvoicesJsonl(std::span<const Invoice> invoices, std::ostream& out);
void WriteInvoicesCsv(std::span<const Invoice> invoices, std::ostream& out);
void WriteInvoicesTable(std::span<const Invoice> invoices, std::ostream& out);

// Amendments (`tariff rate --previous`; shapes in docs/cli.md). JSON Lines: one object a
// customer, `"kind":"amendment"` first, then the invoice's keys (customer, plan, period,
// currency), `revision`, `status`, the changed lines — each with `change`, the line's identity
// (kind, name, group, unit, rated_by/from/to), `issued_…`, `rerated_…` and the change as
// `quantity` and `amount` — and `issued_total`, `rerated_total`, `total` (the change). What it
// writes ParseIssuedInvoices reads back. CSV: one row a changed line and a `total` row a
// customer. Table: for people.
void WriteAmendmentsJsonl(std::span<const Amendment> amendments, std::ostream& out);
void WriteAmendmentsCsv(std::span<const Amendment> amendments, std::ostream& out);
void WriteAmendmentsTable(std::span<const Amendment> amendments, std::ostream& out);

// Writes `text` to `path` atomically: a temporary file in the same directory, fsync, rename.
// On failure the target is untouched, the temporary removed, and false returned with a reason.
bool WriteFileAtomically(const std::string& path, const std::string& text, std::string* error);

}  // namespace tariff
