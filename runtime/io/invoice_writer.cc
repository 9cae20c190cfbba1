// runtime/io: invoice writers — JSON Lines (the stable, machine-read shape), CSV (one row per
// line, for spreadsheets) and a human table. Every decimal is written with Decimal::ToString:
// exact, in its own scale ("12.50" stays "12.50"). In JSON decimals are strings, not numbers,
// because most JSON readers (JavaScript, Python's json, jq) turn a number into a binary double,
// which cannot hold 0.1 exactly, loses digits past 2^53 and drops trailing zeros; a string is
// carried unchanged and parsed exactly by whoever needs the value. The shapes are documented in
// docs/invoice.md.
#include "runtime/io/invoice_writer.h"
#include "runtime/text/utf8.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tariff {

namespace {

// Appends `text` as a JSON string. Control characters are escaped; invalid UTF-8 becomes
// U+FFFD so that the output is always valid JSON (the readers only ever produce valid UTF-8).
void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: copied when well-formed.
    const std::size_t len = Utf8SequenceLength(text, i);
    const bool valid = len > 1;
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

void AppendJsonDecimal(std::string& out, const Decimal& value) {
  out += '"';
  out += value.ToString();
  out += '"';
}

// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
void AppendCsvField(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Width on a terminal: code points (UTF-8 continuation bytes do not count).
std::size_t DisplayWidth(std::string_view text) {
  std::size_t width = 0;
  for (char c : text) width += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return width;
}

void PadRight(std::string& out, std::string_view text, std::size_t width) {
  out.append(text);
  for (std::size_t w = DisplayWidth(text); w < width; ++w) out += ' ';
}

void PadLeft(std::string& out, std::string_view text, std::size_t width) {
  for (std::size_t w = DisplayWidth(text); w < width; ++w) out += ' ';
  out.append(text);
}

// Text for the table: control characters (a line break in a customer id) shown as escapes, so
// that one cell stays on one line.
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string LineLabel(const InvoiceLine& line) {
  std::string label = Printable(line.name);
  if (!line.group.empty()) {
    label += " [";
    for (std::size_t i = 0; i < line.group.size(); ++i) {
      if (i > 0) label += ", ";
      label += Printable(line.group[i]);
    }
    label += ']';
  }
  return label;
}

std::string WithUnit(const Decimal& quantity, const std::string& unit) {
  std::string text = quantity.ToString();
  if (!unit.empty()) {
    text += ' ';
    text += unit;
  }
  return text;
}

}  // namespace

void WriteInvoicesJsonl(std::span<const Invoice> invoices, std::ostream& out) {
  std::string text;
  for (const Invoice& invoice : invoices) {
    text.clear();
    text += '{';
    if (!invoice.kind.empty()) {
      // Progressive billing: an invoice issued within the period, and when.
      text += "\"kind\":";
      AppendJsonString(text, invoice.kind);
      text += ",\"issued_at\":";
      AppendJsonString(text, invoice.issued_at);
      text += ',';
    }
    text += "\"customer\":";
    AppendJsonString(text, invoice.customer);
    text += ",\"plan\":";
    AppendJsonString(text, invoice.plan);
    text += ",\"period\":{\"start\":";
    AppendJsonString(text, invoice.period_start);
    text += ",\"end\":";
    AppendJsonString(text, invoice.period_end);
    text += '}';
    if (invoice.kind.empty() && !invoice.issued_at.empty()) {  // an invoice issued at a change
      text += ",\"issued_at\":";
      AppendJsonString(text, invoice.issued_at);
    }
    text += ",\"currency\":";
    AppendJsonString(text, invoice.currency);
    text += ",\"lines\":[";
    for (std::size_t i = 0; i < invoice.lines.size(); ++i) {
      const InvoiceLine& line = invoice.lines[i];
      if (i > 0) text += ',';
      text += "{\"kind\":";
      AppendJsonString(text, LineKindName(line.kind));
      text += ",\"name\":";
      AppendJsonString(text, line.name);
      text += ",\"group\":[";
      for (std::size_t g = 0; g < line.group.size(); ++g) {
        if (g > 0) text += ',';
        AppendJsonString(text, line.group[g]);
      }
      text += ']';
      if (line.has_quantity) {
        text += ",\"quantity\":";
        AppendJsonDecimal(text, line.quantity);
        text += ",\"unit\":";
        AppendJsonString(text, line.unit);
      }
      if (!line.price.empty()) {
        text += ",\"price\":";
        AppendJsonString(text, line.price);
      }
      if (!line.tiers.empty()) {
        text += ",\"tiers\":[";
        for (std::size_t t = 0; t < line.tiers.size(); ++t) {
          const TierPart& tier = line.tiers[t];
          if (t > 0) text += ',';
          text += "{\"from\":";
          AppendJsonDecimal(text, tier.from);
          text += ",\"to\":";
          AppendJsonDecimal(text, tier.to);
          text += ",\"quantity\":";
          AppendJsonDecimal(text, tier.quantity);
          text += ",\"amount\":";
          AppendJsonDecimal(text, tier.amount);
          text += ",\"price\":";
          AppendJsonString(text, tier.price);
          text += '}';
        }
        text += ']';
      }
      if (!line.rated_by.empty()) {
        text += ",\"rated_by\":";
        AppendJsonString(text, line.rated_by);
        text += ",\"from\":";
        AppendJsonString(text, line.from);
        text += ",\"to\":";
        AppendJsonString(text, line.to);
      }
      text += ",\"amount\":";
      AppendJsonDecimal(text, line.amount);
      text += '}';
    }
    text += "],\"total\":";
    AppendJsonDecimal(text, invoice.total);
    if (!invoice.credits.empty()) {
      text += ",\"credits\":[";
      for (std::size_t c = 0; c < invoice.credits.size(); ++c) {
        const CreditBalance& b = invoice.credits[c];
        if (c > 0) text += ',';
        text += "{\"grant\":";
        AppendJsonString(text, b.id);
        text += ",\"balance\":";
        AppendJsonDecimal(text, b.before);
        text += ",\"used\":";
        AppendJsonDecimal(text, b.used);
        text += ",\"remaining\":";
        AppendJsonDecimal(text, b.remaining);
        text += ",\"expires\":";
        if (b.expires.empty()) text += "null"; else AppendJsonString(text, b.expires);
        text += ",\"priority\":" + std::to_string(b.priority) + "}";
      }
      text += ']';
    }
    if (!invoice.subtotals.empty()) {
      text += ",\"subtotals\":[";
      for (std::size_t i = 0; i < invoice.subtotals.size(); ++i) {
        const InvoiceSubtotal& st = invoice.subtotals[i];
        if (i > 0) text += ',';
        text += "{\"name\":";
        AppendJsonString(text, st.name);
        text += ",\"of\":[";
        for (std::size_t p = 0; p < st.parts.size(); ++p) {
          if (p > 0) text += ',';
          AppendJsonString(text, st.parts[p]);
        }
        text += "],\"amount\":";
        AppendJsonDecimal(text, st.amount);
        text += '}';
      }
      text += ']';
    }
    text += "}\n";
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
}

void WriteInvoicesCsv(std::span<const Invoice> invoices, std::ostream& out) {
  // Two kinds of invoice issued within the period are told apart by more columns, written only
  // when the run has such an invoice (other runs keep their shape): progressive billing's,
  // `invoice` (its kind, "threshold") and `issued_at`; without those, an invoice issued at a
  // change (`on change prorate now`), `issued_at` alone (in a progressive run, its `invoice` is "").
  const bool progressive = std::any_of(invoices.begin(), invoices.end(), [](const Invoice& i) { return !i.kind.empty(); });
  const bool issued_at =
      progressive || std::any_of(invoices.begin(), invoices.end(), [](const Invoice& invoice) { return !invoice.issued_at.empty(); });
  std::string text = "customer,plan,period_start,period_end,currency,kind,name,group,quantity,unit,price,amount,rated_by,from,to";
  text += progressive ? ",invoice,issued_at\n" : issued_at ? ",issued_at\n" : "\n";
  auto row = [&text, progressive, issued_at](const Invoice& invoice, std::string_view kind, std::string_view name, std::string_view group,
                                             std::string_view quantity, std::string_view unit, std::string_view price,
                                             std::string_view amount, std::string_view rated_by, std::string_view from,
                                             std::string_view to) {
    for (std::string_view field : {std::string_view(invoice.customer), std::string_view(invoice.plan),
                                   std::string_view(invoice.period_start), std::string_view(invoice.period_end),
                                   std::string_view(invoice.currency), kind, name, group, quantity, unit, price, amount,
                                   rated_by, from}) {
      AppendCsvField(text, field);
      text += ',';
    }
    AppendCsvField(text, to);
    if (progressive) {
      text += ',';
      AppendCsvField(text, invoice.kind);
    }
    if (issued_at) {
      text += ',';
      AppendCsvField(text, invoice.issued_at);
    }
    text += '\n';
  };
  for (const Invoice& invoice : invoices) {
    for (const InvoiceLine& line : invoice.lines) {
      std::string group;
      for (std::size_t g = 0; g < line.group.size(); ++g) {
        if (g > 0) group += '|';
        group += line.group[g];
      }
      row(invoice, LineKindName(line.kind), line.name, group, line.has_quantity ? line.quantity.ToString() : "",
          line.has_quantity ? line.unit : "", line.price, line.amount.ToString(), line.rated_by, line.from, line.to);
    }
    // Subtotals after the lines, before the total: rows of kind "subtotal", which (like "total")
    // are sums of lines, not lines.
    for (const InvoiceSubtotal& st : invoice.subtotals) {
      row(invoice, "subtotal", st.name, "", "", "", "", st.amount.ToString(), "", "", "");
    }
    row(invoice, "total", "", "", "", "", "", invoice.total.ToString(), "", "", "");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    text.clear();
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));  // the header, if no invoices
}

void WriteInvoicesTable(std::span<const Invoice> invoices, std::ostream& out) {
  struct Row {
    std::string label, quantity, amount, note;
  };
  std::string text;
  bool first = true;
  for (const Invoice& invoice : invoices) {
    std::vector<Row> rows;
    rows.push_back({"line", "quantity", "amount", ""});
    bool any_quantity = false;
    for (const InvoiceLine& line : invoice.lines) {
      any_quantity = any_quantity || line.has_quantity || !line.tiers.empty();
      std::string note = line.kind != LineKind::kCharge ? std::string("(") + LineKindName(line.kind) + ")"
                         : line.price.empty()           ? std::string()
                                                        : "at " + Printable(line.price);
      if (!line.rated_by.empty()) {
        note += (note.empty() ? "" : " ") + std::string("[") + Printable(line.rated_by) + ", " +
                (line.from.empty() ? std::string("…") : Printable(line.from)) + " to " +
                (line.to.empty() ? std::string("…") : Printable(line.to)) + "]";
      }
      rows.push_back({LineLabel(line), line.has_quantity ? Printable(WithUnit(line.quantity, line.unit)) : "",
                      line.amount.ToString(), note});
      for (const TierPart& tier : line.tiers) {
        rows.push_back({"  " + tier.from.ToString() + " to " + tier.to.ToString(),
                        Printable(WithUnit(tier.quantity, line.unit)), tier.amount.ToString(),
                        "at " + Printable(tier.price)});
      }
    }
    const std::string total = invoice.total.ToString();
    std::size_t w_label = DisplayWidth("total"), w_quantity = 0, w_amount = DisplayWidth(total);
    for (const Row& r : rows) {
      w_label = std::max(w_label, DisplayWidth(r.label));
      w_quantity = std::max(w_quantity, DisplayWidth(r.quantity));
      w_amount = std::max(w_amount, DisplayWidth(r.amount));
    }
    // label, quantity (only when some line has one), amount, and a note after the amount.
    auto append_row = [&](std::string_view label, std::string_view quantity, std::string_view amount,
                          std::string_view note) {
      PadRight(text, label, w_label);
      if (any_quantity) {
        text += "  ";
        PadLeft(text, quantity, w_quantity);
      }
      text += "  ";
      PadLeft(text, amount, w_amount);
      if (!note.empty()) {
        text += "  ";
        text += note;
      }
      text += '\n';
    };

    if (!first) text += '\n';
    first = false;
    text += "customer  " + Printable(invoice.customer) + "\n";
    text += "plan      " + Printable(invoice.plan) + "\n";
    text += invoice.period_start.empty() && invoice.period_end.empty()
                ? std::string("period    (not given)\n")
                : "period    " + Printable(invoice.period_start) + " to " + Printable(invoice.period_end) + "\n";
    if (invoice.kind.empty() && !invoice.issued_at.empty()) {
      text += "issued    " + Printable(invoice.issued_at) + " (at a change: on change prorate now)\n";
    }
    text += "currency  " + Printable(invoice.currency) + "\n";
    if (!invoice.kind.empty()) text += "invoice   " + Printable(invoice.kind) + ", issued at " + Printable(invoice.issued_at) + "\n";
    text += "\n";
    for (const Row& r : rows) append_row(r.label, r.quantity, r.amount, r.note);
    text.append(w_label + (any_quantity ? 2 + w_quantity : 0) + 2 + w_amount, '-');
    text += '\n';
    append_row("total", "", total, "");
    if (!invoice.subtotals.empty()) {
      // Below the total, apart from it: sums of lines shown above, not more lines.
      text += "\nsubtotals\n";
      std::size_t w_name = 0, w_sub = 0;
      for (const InvoiceSubtotal& st : invoice.subtotals) {
        w_name = std::max(w_name, DisplayWidth(Printable(st.name)));
        w_sub = std::max(w_sub, DisplayWidth(st.amount.ToString()));
      }
      for (const InvoiceSubtotal& st : invoice.subtotals) {
        std::string of;
        for (const std::string& p : st.parts) of += (of.empty() ? "" : " + ") + Printable(p);
        text += "          ";
        PadRight(text, Printable(st.name), w_name);
        text += "  ";
        PadLeft(text, st.amount.ToString(), w_sub);
        text += "  = " + of + "\n";
      }
    }
    if (!invoice.credits.empty()) {
      text += "\ncredits   grant: balance - used = remaining\n";
      for (const CreditBalance& b : invoice.credits) {
        text += "          " + Printable(b.id) + ": " + b.before.ToString() + " - " + b.used.ToString() + " = " +
                b.remaining.ToString() + (b.expires.empty() ? std::string() : " (expires " + b.expires + ")") + "\n";
      }
    }
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

namespace {

std::string KeyLabel(const LineKey& key) {
  std::string label = Printable(key.name);
  if (!key.group.empty()) {
    label += " [";
    for (std::size_t i = 0; i < key.group.size(); ++i) {
      if (i > 0) label += ", ";
      label += Printable(key.group[i]);
    }
    label += ']';
  }
  return label;
}

}  // namespace

void WriteAmendmentsJsonl(std::span<const Amendment> amendments, std::ostream& out) {
  std::string text;
  for (const Amendment& a : amendments) {
    text.clear();
    text += "{\"kind\":\"amendment\",\"customer\":";
    AppendJsonString(text, a.customer);
    text += ",\"plan\":";
    AppendJsonString(text, a.plan);
    text += ",\"period\":{\"start\":";
    AppendJsonString(text, a.period_start);
    text += ",\"end\":";
    AppendJsonString(text, a.period_end);
    text += "},\"currency\":";
    AppendJsonString(text, a.currency);
    text += ",\"revision\":" + std::to_string(a.revision) + ",\"status\":";
    AppendJsonString(text, AmendmentStatusName(a.status));
    text += ",\"lines\":[";
    for (std::size_t i = 0; i < a.lines.size(); ++i) {
      const AmendmentLine& line = a.lines[i];
      if (i > 0) text += ',';
      text += "{\"change\":";
      AppendJsonString(text, LineChangeName(line.change));
      text += ",\"kind\":";
      AppendJsonString(text, LineKindName(line.key.kind));
      text += ",\"name\":";
      AppendJsonString(text, line.key.name);
      text += ",\"group\":[";
      for (std::size_t g = 0; g < line.key.group.size(); ++g) {
        if (g > 0) text += ',';
        AppendJsonString(text, line.key.group[g]);
      }
      text += ']';
      if (line.has_quantity) {
        text += ",\"issued_quantity\":";
        AppendJsonDecimal(text, line.issued_quantity);
        text += ",\"rerated_quantity\":";
        AppendJsonDecimal(text, line.rerated_quantity);
        text += ",\"quantity\":";
        AppendJsonDecimal(text, line.quantity);
        text += ",\"unit\":";
        AppendJsonString(text, line.key.unit);
      }
      if (!line.key.rated_by.empty() || !line.key.from.empty() || !line.key.to.empty()) {
        text += ",\"rated_by\":";
        AppendJsonString(text, line.key.rated_by);
        text += ",\"from\":";
        AppendJsonString(text, line.key.from);
        text += ",\"to\":";
        AppendJsonString(text, line.key.to);
      }
      text += ",\"issued_amount\":";
      AppendJsonDecimal(text, line.issued_amount);
      text += ",\"rerated_amount\":";
      AppendJsonDecimal(text, line.rerated_amount);
      text += ",\"amount\":";
      AppendJsonDecimal(text, line.amount);
      text += '}';
    }
    text += "],\"issued_total\":";
    AppendJsonDecimal(text, a.issued_total);
    text += ",\"rerated_total\":";
    AppendJsonDecimal(text, a.rerated_total);
    text += ",\"total\":";
    AppendJsonDecimal(text, a.total);
    text += "}\n";
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
}

void WriteAmendmentsCsv(std::span<const Amendment> amendments, std::ostream& out) {
  std::string text =
      "customer,plan,period_start,period_end,currency,revision,status,change,kind,name,group,unit,issued_quantity,"
      "rerated_quantity,quantity,issued_amount,rerated_amount,amount,rated_by,from,to\n";
  for (const Amendment& a : amendments) {
    auto row = [&](std::initializer_list<std::string_view> rest) {
      for (std::string_view field : {std::string_view(a.customer), std::string_view(a.plan), std::string_view(a.period_start),
                                     std::string_view(a.period_end), std::string_view(a.currency)}) {
        AppendCsvField(text, field);
        text += ',';
      }
      text += std::to_string(a.revision);
      text += ',';
      text += AmendmentStatusName(a.status);
      for (std::string_view field : rest) {
        text += ',';
        AppendCsvField(text, field);
      }
      text += '\n';
    };
    for (const AmendmentLine& line : a.lines) {
      std::string group;
      for (std::size_t g = 0; g < line.key.group.size(); ++g) {
        if (g > 0) group += '|';
        group += line.key.group[g];
      }
      const bool q = line.has_quantity;
      row({LineChangeName(line.change), LineKindName(line.key.kind), line.key.name, group, q ? line.key.unit : "",
           q ? line.issued_quantity.ToString() : "", q ? line.rerated_quantity.ToString() : "",
           q ? line.quantity.ToString() : "", line.issued_amount.ToString(), line.rerated_amount.ToString(),
           line.amount.ToString(), line.key.rated_by, line.key.from, line.key.to});
    }
    row({"total", "", "", "", "", "", "", "", a.issued_total.ToString(), a.rerated_total.ToString(), a.total.ToString(), "",
         "", ""});
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    text.clear();
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));  // the header, if no amendments
}

void WriteAmendmentsTable(std::span<const Amendment> amendments, std::ostream& out) {
  struct Row {
    std::string label, change, quantity, issued, rerated, amount;
  };
  std::string text;
  bool first = true;
  for (const Amendment& a : amendments) {
    std::vector<Row> rows;
    rows.push_back({"line", "change", "quantity", "issued", "re-rated", "change"});
    for (const AmendmentLine& line : a.lines) {
      std::string label = KeyLabel(line.key);
      if (line.key.kind != LineKind::kCharge) label += std::string(" (") + LineKindName(line.key.kind) + ")";
      if (!line.key.rated_by.empty() || !line.key.from.empty()) {
        label += " [" + Printable(line.key.rated_by) + ", " + (line.key.from.empty() ? std::string("…") : Printable(line.key.from)) +
                 " to " + (line.key.to.empty() ? std::string("…") : Printable(line.key.to)) + "]";
      }
      std::string quantity;
      if (line.has_quantity) {
        quantity = line.issued_quantity.ToString() + " → " + Printable(WithUnit(line.rerated_quantity, line.key.unit));
      }
      rows.push_back({label, LineChangeName(line.change), quantity, line.issued_amount.ToString(),
                      line.rerated_amount.ToString(), line.amount.ToString()});
    }
    rows.push_back({"total", "", "", a.issued_total.ToString(), a.rerated_total.ToString(), a.total.ToString()});
    std::size_t w[6] = {0, 0, 0, 0, 0, 0};
    for (const Row& r : rows) {
      const std::string* cells[6] = {&r.label, &r.change, &r.quantity, &r.issued, &r.rerated, &r.amount};
      for (int c = 0; c < 6; ++c) w[c] = std::max(w[c], DisplayWidth(*cells[c]));
    }
    auto append_row = [&](const Row& r) {
      PadRight(text, r.label, w[0]);
      text += "  ";
      PadRight(text, r.change, w[1]);
      text += "  ";
      PadLeft(text, r.quantity, w[2]);
      const std::string* money[3] = {&r.issued, &r.rerated, &r.amount};
      for (int c = 0; c < 3; ++c) {
        text += "  ";
        PadLeft(text, *money[c], w[3 + c]);
      }
      while (!text.empty() && text.back() == ' ') text.pop_back();
      text += '\n';
    };
    if (!first) text += '\n';
    first = false;
    text += "customer  " + Printable(a.customer) + "\n";
    text += "plan      " + Printable(a.plan) + "\n";
    text += a.period_start.empty() && a.period_end.empty()
                ? std::string("period    (not given)\n")
                : "period    " + Printable(a.period_start) + " to " + Printable(a.period_end) + "\n";
    text += "currency  " + Printable(a.currency) + "\n";
    text += "amendment " + std::to_string(a.revision) + " (" + AmendmentStatusName(a.status) + ")\n\n";
    for (std::size_t i = 0; i + 1 < rows.size(); ++i) append_row(rows[i]);
    text.append(w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + 10, '-');
    text += '\n';
    append_row(rows.back());
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

bool WriteFileAtomically(const std::string& path, const std::string& text, std::string* error) {
  namespace fs = std::filesystem;
  auto set_error = [error](std::string message) {
    if (error != nullptr) *error = std::move(message);
    return false;
  };
  const fs::path target(path);
  if (target.filename().empty()) return set_error("cannot write `" + path + "`: not a file name");
  fs::path directory = target.parent_path();
  if (directory.empty()) directory = ".";
  std::string temporary = (directory / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    return set_error("cannot create a temporary file in `" + directory.string() + "`: " + std::strerror(errno));
  }
  auto fail = [&](const char* what, int fd_to_close) {
    const int saved = errno;
    if (fd_to_close >= 0) ::close(fd_to_close);
    ::unlink(temporary.c_str());
    return set_error("cannot write `" + path + "`: " + what + ": " + std::strerror(saved));
  };
  // The new file keeps the old one's permissions; a new one gets rw-r--r-- (mkstemp's are 0600).
  struct stat existing;
  const mode_t mode = ::stat(path.c_str(), &existing) == 0 ? (existing.st_mode & 07777) : 0644;
  if (::fchmod(fd, mode) != 0) return fail("fchmod", fd);
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", fd);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync", fd);
  if (::close(fd) != 0) return fail("close", -1);
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail("rename", -1);
  // Make the rename itself durable (best effort: not every file system can sync a directory).
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return true;
}

}  // namespace tariff
