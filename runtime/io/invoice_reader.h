// runtime/io: reads tariff's own JSON Lines invoices back — what `tariff rate` writes (original
// invoices) and what `tariff rate --previous` writes (amendments, `"kind":"amendment"`) — as the
// issued records that amendments are computed against (runtime/invoice/amendment.h). Every
// decimal is parsed exactly from its own text; nothing goes through a binary double.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/invoice/amendment.h"

namespace tariff {

// Parses `text` (the contents of a file named `name` in messages), one record a non-blank line.
// Decimals are JSON strings as the writer emits them (a JSON number is also accepted, read from
// its text); keys the reader does not know are ignored (the format may add keys), keys it needs
// must be there with the right type. An amendment must give its `revision`, `status` (changed,
// new, absent), `issued_total` and `rerated_total`, and each line its `change` (changed, new,
// removed), `issued_amount` and `rerated_amount` (with a quantity, `issued_quantity` and
// `rerated_quantity` too): what it was computed against, which SumIssued checks. Checks each
// record's total against the sum of its lines and, for an amendment, issued + change = re-rated
// (total and lines), every line of a `new` amendment `new`, every line of an `absent` one
// `removed` and its re-rated total 0, a `removed` line re-rated to 0. Throws AmendmentError: A0101 (not
// JSON; with the column), A0102 (not an invoice or amendment record; the key path in the message).
std::vector<IssuedRecord> ParseIssuedInvoices(std::string_view text, const std::string& name);

// Reads the file at `path` (ParseIssuedInvoices). A file that cannot be read is A0108.
std::vector<IssuedRecord> ReadIssuedInvoices(const std::string& path);

}  // namespace tariff
