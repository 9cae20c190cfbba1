// runtime/io: invoice writers. JSON Lines (one invoice per line; the shape is in
// docs/invoice.md and stable), CSV (one row per invoice line) and a human table.
#pragma once

#include <iosfwd>
#include <span>

#include "runtime/invoice/invoice.h"

namespace tariff {

void WriteInvoicesJsonl(std::span<const Invoice> invoices, std::ostream& out);
void WriteInvoicesCsv(std::span<const Invoice> invoices, std::ostream& out);
void WriteInvoicesTable(std::span<const Invoice> invoices, std::ostream& out);

// Writes `text` to `path` atomically: a temporary file in the same directory, fsync, rename.
// On failure the target is untouched, the temporary removed, and false returned with a reason.
bool WriteFileAtomically(const std::string& path, const std::string& text, std::string* error);

}  // namespace tariff
