// tests/unit: amendments — the JSON Lines invoice reader (runtime/io/invoice_reader: exact
// decimals, every malformed input with its line and column), the sum of issued records and the
// difference against a re-rated invoice (runtime/invoice/amendment), and the round trip: an
// amendment written and read back adds up to the re-rated invoice exactly.
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/decimal/decimal.h"
#include "runtime/invoice/amendment.h"
#include "runtime/invoice/invoice.h"
#include "runtime/io/invoice_reader.h"
#include "runtime/io/invoice_writer.h"

namespace {

using tariff::AmendmentError;
using tariff::Decimal;
using tariff::Invoice;
using tariff::InvoiceLine;
using tariff::IssuedRecord;
using tariff::LineKind;

Decimal D(const char* text) { return Decimal::FromString(text); }

InvoiceLine Line(LineKind kind, std::string name, std::vector<std::string> group, const char* amount,
                 const char* quantity = nullptr, std::string unit = "") {
  InvoiceLine l;
  l.kind = kind;
  l.name = std::move(name);
  l.group = std::move(group);
  l.amount = D(amount);
  if (quantity != nullptr) {
    l.quantity = D(quantity);
    l.unit = std::move(unit);
    l.has_quantity = true;
  }
  return l;
}

Invoice MakeInvoice(std::string customer, std::vector<InvoiceLine> lines) {
  Invoice inv;
  inv.customer = std::move(customer);
  inv.plan = "api";
  inv.period_start = "2026-03-01";
  inv.period_end = "2026-04-01";
  inv.currency = "USD";
  for (const InvoiceLine& l : lines) inv.total = inv.total + l.amount;
  inv.lines = std::move(lines);
  return inv;
}

std::string Jsonl(const std::vector<Invoice>& invoices) {
  std::ostringstream out;
  tariff::WriteInvoicesJsonl(invoices, out);
  return out.str();
}

// The code and rendered message of the error `text` raises.
std::string ErrorOf(const std::string& text) {
  try {
    tariff::ParseIssuedInvoices(text, "issued.jsonl");
  } catch (const AmendmentError& e) {
    return e.Render();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("amend: the reader gives back exactly what the writer wrote, decimals and scales included") {
  InvoiceLine tiered = Line(LineKind::kCharge, "Requests", {}, "2175.00", "12500000", "request");
  tiered.tiers.push_back({D("0"), D("1000000"), D("1000000"), D("0"), "free"});
  InvoiceLine split = Line(LineKind::kCharge, "Seats", {}, "50.00");
  split.rated_by = "api v2";
  split.from = "2026-03-16T00:00:00Z";
  split.to = "2026-04-01T00:00:00Z";
  Invoice inv = MakeInvoice("Big, \"Quoted\" Co", {
                                                      Line(LineKind::kCharge, "Platform", {}, "49.00"),
                                                      tiered,
                                                      Line(LineKind::kCharge, "Tokens", {"large", "eu, west"}, "0.125",
                                                           "2.5", "GB·h"),
                                                      split,
                                                      Line(LineKind::kMinimum, "Minimum", {}, "0.33333333333333333333"),
                                                      Line(LineKind::kDiscount, "Launch \"promo\"", {}, "-10.00"),
                                                  });
  const std::vector<IssuedRecord> read = tariff::ParseIssuedInvoices(Jsonl({inv}), "issued.jsonl");
  REQUIRE(read.size() == 1);
  const IssuedRecord& r = read[0];
  CHECK_FALSE(r.amendment);
  CHECK(r.revision == 0);
  CHECK(r.origin.line == 1);
  CHECK(r.invoice.customer == "Big, \"Quoted\" Co");
  CHECK(r.invoice.period_start == "2026-03-01");
  CHECK(r.invoice.currency == "USD");
  REQUIRE(r.invoice.lines.size() == 6);
  CHECK(r.invoice.lines[0].amount.ToString() == "49.00");
  CHECK(r.invoice.lines[1].quantity.ToString() == "12500000");
  CHECK(r.invoice.lines[1].unit == "request");
  CHECK(r.invoice.lines[2].group == std::vector<std::string>{"large", "eu, west"});
  CHECK(r.invoice.lines[2].amount.ToString() == "0.125");
  CHECK(r.invoice.lines[2].unit == "GB·h");
  CHECK(r.invoice.lines[3].rated_by == "api v2");
  CHECK(r.invoice.lines[3].from == "2026-03-16T00:00:00Z");
  CHECK(r.invoice.lines[4].kind == LineKind::kMinimum);
  CHECK(r.invoice.lines[4].amount.ToString() == "0.33333333333333333333");  // 20 decimals, not a double
  CHECK(r.invoice.lines[5].name == "Launch \"promo\"");
  CHECK(r.invoice.total.ToString() == inv.total.ToString());
}

TEST_CASE("amend: keys the reader does not know are ignored (the invoice format may add keys)") {
  const std::string text =
      R"({"customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","lines":[)"
      R"({"kind":"charge","name":"X","group":[],"future":{"x":[1,2]},"amount":"1.00"}],"total":"1.00",)"
      R"("credits":[{"grant":"g","balance":"5.00","used":"0","remaining":"5.00","expires":null,"priority":0}],)"
      R"("subtotals":[{"name":"Usage","of":["X"],"amount":"1.00"}]})" "\n";
  const auto read = tariff::ParseIssuedInvoices(text, "f.jsonl");
  REQUIRE(read.size() == 1);
  REQUIRE(read[0].invoice.lines.size() == 1);
  CHECK(read[0].invoice.total.ToString() == "1.00");
}

TEST_CASE("amend: a JSON number is read from its text, never through a double") {
  const std::string text =
      R"({"customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","lines":[)"
      R"({"kind":"charge","name":"X","group":[],"quantity":9007199254740993.000000000000000001,"unit":"B","amount":0.1},)"
      R"({"kind":"charge","name":"Y","group":[],"amount":"0.2"}],"total":0.30})" "\n";
  const auto read = tariff::ParseIssuedInvoices(text, "n.jsonl");
  REQUIRE(read.size() == 1);
  CHECK(read[0].invoice.lines[0].quantity.ToString() == "9007199254740993.000000000000000001");
  CHECK(read[0].invoice.lines[0].amount.ToString() == "0.1");
  CHECK(read[0].invoice.total.ToString() == "0.30");
}

TEST_CASE("amend: malformed issued invoices are errors with file, line, column and code") {
  const std::string good = Jsonl({MakeInvoice("acme", {Line(LineKind::kCharge, "Platform", {}, "49.00")})});
  // Line 3 (after a good record and a blank line) is cut short.
  CHECK(ErrorOf(good + "\n" + R"({"customer":"b","plan":)" + "\n") ==
        "issued.jsonl:3:24: error[A0101]: invalid JSON: syntax error while parsing value - unexpected end of input; "
        "expected '[', '{', or a literal");
  CHECK(ErrorOf("{\"customer\":\"a\",\"customer\":\"b\"}\n") ==
        "issued.jsonl:1: error[A0102]: member `customer` appears twice in an object");
  CHECK(ErrorOf("[1]\n") == "issued.jsonl:1: error[A0102]: expected an invoice object `{…}`, found an array");
  CHECK(ErrorOf(R"({"customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","lines":[]})" "\n") ==
        "issued.jsonl:1: error[A0102]: `total`: missing");
  CHECK(ErrorOf(R"({"customer":"a","plan":"api","period":{"start":"s"},"currency":"USD","lines":[],"total":"0"})" "\n") ==
        "issued.jsonl:1: error[A0102]: `period.end`: missing");
  CHECK(ErrorOf(R"({"customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","lines":[)"
                R"({"kind":"charge","name":"X","group":[],"amount":"12x"}],"total":"0"})" "\n")
            .starts_with("issued.jsonl:1: error[A0102]: `lines[0].amount`: `12x` is not a decimal number ("));
  CHECK(ErrorOf(R"({"customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","lines":[)"
                R"({"kind":"refund","name":"X","group":[],"amount":"1"}],"total":"1"})" "\n") ==
        "issued.jsonl:1: error[A0102]: `lines[0].kind`: `refund` is not a line kind (charge, minimum, maximum, "
        "discount, rounding, credit)");
  CHECK(ErrorOf(R"({"customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","lines":[)"
                R"({"kind":"charge","name":"X","group":[],"amount":"1.00"}],"total":"1.01"})" "\n") ==
        "issued.jsonl:1: error[A0102]: `total`: `1.01` is not the sum of the lines' amounts (1.00)");
  CHECK(ErrorOf(R"({"kind":"credit-note","customer":"a"})" "\n") ==
        "issued.jsonl:1: error[A0102]: `kind`: `credit-note` is not a record kind (expected `amendment`, or no `kind` "
        "for an invoice)");
  CHECK(ErrorOf(R"({"kind":"amendment","customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD",)"
                R"("revision":0,"lines":[],"total":"0"})" "\n") ==
        "issued.jsonl:1: error[A0102]: `revision`: `0` is not a revision (a whole number from 1)");
  CHECK(ErrorOf(R"({"kind":"amendment","customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD",)"
                R"("revision":1,"status":"changed","lines":[{"change":"changed","kind":"charge","name":"X","group":[],)"
                R"("issued_amount":"1.00","rerated_amount":"3.00","amount":"1.00"}],"issued_total":"1.00",)"
                R"("rerated_total":"3.00","total":"1.00"})" "\n") ==
        "issued.jsonl:1: error[A0102]: `lines[0].amount`: `1.00` is not rerated_amount − issued_amount (3.00 − 1.00)");
  CHECK(ErrorOf("\xEF\xBB\xBF\n\n") == "(no error)");  // a BOM and blank lines: no records
}

TEST_CASE("amend: a late row changes a line, a corrected one removes another, a new line appears") {
  const Invoice issued_inv = MakeInvoice("acme", {
                                                     Line(LineKind::kCharge, "Platform", {}, "10.00"),
                                                     Line(LineKind::kCharge, "Requests", {}, "35.00", "4500", "request"),
                                                     Line(LineKind::kCharge, "Tokens", {"large"}, "3.00", "1000000", "token"),
                                                     Line(LineKind::kCharge, "Tokens", {"small"}, "1.50", "500000", "token"),
                                                     Line(LineKind::kMinimum, "Minimum", {}, "10.50"),
                                                 });
  const Invoice rerated = MakeInvoice("acme", {
                                                  Line(LineKind::kCharge, "Platform", {}, "10.0"),  // equal by value
                                                  Line(LineKind::kCharge, "Requests", {}, "42.50", "5500", "request"),
                                                  Line(LineKind::kCharge, "Tokens", {"large"}, "6.75", "2250000", "token"),
                                                  Line(LineKind::kMinimum, "Minimum", {}, "0.75"),
                                              });
  std::vector<IssuedRecord> records(1);
  records[0].origin = {"issued.jsonl", 1};
  records[0].invoice = issued_inv;
  const auto sums = tariff::SumIssued(records);
  REQUIRE(sums.size() == 1);
  CHECK(sums[0].total.ToString() == "60.00");
  const auto a = tariff::Amend(&sums[0], &rerated);
  REQUIRE(a.has_value());
  CHECK(a->status == tariff::AmendmentStatus::kChanged);
  CHECK(a->revision == 1);
  REQUIRE(a->lines.size() == 4);  // Platform is unchanged
  CHECK(a->lines[0].key.name == "Requests");
  CHECK(a->lines[0].change == tariff::LineChange::kChanged);
  CHECK(a->lines[0].amount.ToString() == "7.50");
  CHECK(a->lines[0].quantity.ToString() == "1000");
  CHECK(a->lines[1].key.group == std::vector<std::string>{"large"});
  CHECK(a->lines[1].amount.ToString() == "3.75");
  CHECK(a->lines[2].key.kind == LineKind::kMinimum);
  CHECK(a->lines[2].amount.ToString() == "-9.75");
  CHECK(a->lines[3].key.group == std::vector<std::string>{"small"});
  CHECK(a->lines[3].change == tariff::LineChange::kRemoved);
  CHECK(a->lines[3].amount.ToString() == "-1.50");
  CHECK(a->lines[3].quantity.ToString() == "-500000");
  CHECK(a->issued_total.ToString() == "60.00");
  CHECK(a->rerated_total.ToString() == "60.00");
  CHECK(a->total.ToString() == "0.00");  // the minimum absorbs the change; the lines still move
}

TEST_CASE("amend: issued + amendment read back = re-rated, and an amendment of an amendment adds up again") {
  const Invoice v0 = MakeInvoice("acme", {Line(LineKind::kCharge, "Requests", {}, "35.00", "4500", "request"),
                                          Line(LineKind::kCharge, "Tokens", {"small"}, "1.50", "500000", "token")});
  const Invoice v1 = MakeInvoice("acme", {Line(LineKind::kCharge, "Requests", {}, "42.50", "5500", "request")});
  const Invoice v2 = MakeInvoice("acme", {Line(LineKind::kCharge, "Requests", {}, "40.00", "5000", "request"),
                                          Line(LineKind::kCharge, "Tokens", {"large"}, "0.75", "250000", "token")});
  std::vector<IssuedRecord> records = tariff::ParseIssuedInvoices(Jsonl({v0}), "issued.jsonl");
  auto step = [&records](const Invoice& rerated, const char* name) {
    const auto sums = tariff::SumIssued(records);
    std::vector<Invoice> now{rerated};
    tariff::AmendmentCounts counts;
    const auto amendments = tariff::AmendAll(sums, now, &counts);
    REQUIRE(amendments.size() == 1);
    CHECK(counts.amended == 1);
    std::ostringstream out;
    tariff::WriteAmendmentsJsonl(amendments, out);
    auto back = tariff::ParseIssuedInvoices(out.str(), name);
    REQUIRE(back.size() == 1);
    CHECK(back[0].amendment);
    records.push_back(back[0]);
    return out.str();
  };
  const std::string first = step(v1, "amend1.jsonl");
  CHECK(first ==
        R"({"kind":"amendment","customer":"acme","plan":"api","period":{"start":"2026-03-01","end":"2026-04-01"},)"
        R"("currency":"USD","revision":1,"status":"changed","lines":[)"
        R"({"change":"changed","kind":"charge","name":"Requests","group":[],"issued_quantity":"4500",)"
        R"("rerated_quantity":"5500","quantity":"1000","unit":"request","issued_amount":"35.00","rerated_amount":"42.50",)"
        R"("amount":"7.50"},)"
        R"({"change":"removed","kind":"charge","name":"Tokens","group":["small"],"issued_quantity":"500000",)"
        R"("rerated_quantity":"0","quantity":"-500000","unit":"token","issued_amount":"1.50","rerated_amount":"0.00",)"
        R"("amount":"-1.50"}],"issued_total":"36.50","rerated_total":"42.50","total":"6.00"})"
        "\n");
  const std::string second = step(v2, "amend2.jsonl");
  CHECK(second.find(R"("revision":2)") != std::string::npos);
  // Everything issued now adds up to v2, line by line; the Tokens [small] line is 0.
  const auto sums = tariff::SumIssued(records);
  REQUIRE(sums.size() == 1);
  CHECK(sums[0].revision == 2);
  CHECK(sums[0].total.ToString() == "40.75");
  REQUIRE(sums[0].lines.size() == 3);
  CHECK(sums[0].lines[0].amount.ToString() == "40.00");
  CHECK(sums[0].lines[0].quantity.ToString() == "5000");
  CHECK(sums[0].lines[1].amount.is_zero());
  CHECK(sums[0].lines[1].quantity.is_zero());
  CHECK(sums[0].lines[2].amount.ToString() == "0.75");
  // Re-rating v2 again changes nothing.
  std::vector<Invoice> same{v2};
  tariff::AmendmentCounts counts;
  CHECK(tariff::AmendAll(sums, same, &counts).empty());
  CHECK(counts.unchanged == 1);
}

TEST_CASE("amend: new and absent customers, and unchanged ones give nothing") {
  std::vector<IssuedRecord> records(2);
  records[0].origin = {"a.jsonl", 1};
  records[0].invoice = MakeInvoice("gone", {Line(LineKind::kCharge, "Platform", {}, "10.00"),
                                            Line(LineKind::kMinimum, "Minimum", {}, "50.00")});
  records[1].origin = {"a.jsonl", 2};
  records[1].invoice = MakeInvoice("same", {Line(LineKind::kCharge, "Platform", {}, "10.00")});
  const auto sums = tariff::SumIssued(records);
  std::vector<Invoice> now{MakeInvoice("same", {Line(LineKind::kCharge, "Platform", {}, "10.00")}),
                           MakeInvoice("fresh", {Line(LineKind::kCharge, "Platform", {}, "10.00"),
                                                 Line(LineKind::kCharge, "Requests", {}, "0.00", "0", "request")})};
  tariff::AmendmentCounts counts;
  const auto out = tariff::AmendAll(sums, now, &counts);
  CHECK(counts.amended == 0);
  CHECK(counts.unchanged == 1);
  CHECK(counts.added == 1);
  CHECK(counts.absent == 1);
  REQUIRE(out.size() == 2);  // sorted by customer
  CHECK(out[0].customer == "fresh");
  CHECK(out[0].status == tariff::AmendmentStatus::kNew);
  REQUIRE(out[0].lines.size() == 2);  // a new customer's zero line is still its first invoice
  CHECK(out[0].lines[1].change == tariff::LineChange::kNew);
  CHECK(out[0].total.ToString() == "10.00");
  CHECK(out[1].customer == "gone");
  CHECK(out[1].status == tariff::AmendmentStatus::kAbsent);
  REQUIRE(out[1].lines.size() == 2);
  CHECK(out[1].lines[1].amount.ToString() == "-50.00");
  CHECK(out[1].total.ToString() == "-60.00");
}

TEST_CASE("amend: double issues, repeated or missing amendments and foreign records are refused") {
  auto record = [](const char* file, std::uint64_t line, const char* customer, bool amendment, std::uint64_t revision) {
    IssuedRecord r;
    r.origin = {file, line};
    r.amendment = amendment;
    r.revision = revision;
    r.invoice = MakeInvoice(customer, {Line(LineKind::kCharge, "Platform", {}, "10.00")});
    if (amendment) {  // a change of 10.00 to the Platform line of an original invoice
      r.issued_total = D("10.00");
      r.bases.push_back({tariff::LineChange::kChanged, D("10.00"), D("0")});
    }
    return r;
  };
  auto error_of = [](const std::vector<IssuedRecord>& records) -> std::string {
    try {
      tariff::SumIssued(records);
    } catch (const AmendmentError& e) {
      return e.Render();
    }
    return "(no error)";
  };
  CHECK(error_of({record("b.jsonl", 4, "acme", false, 0), record("a.jsonl", 2, "acme", false, 0)}) ==
        "b.jsonl:4: error[A0106]: customer `acme` has two invoices for the period (the other at a.jsonl:2): it would be "
        "billed twice; give each issued invoice once");
  CHECK(error_of({record("i.jsonl", 1, "acme", false, 0), record("m.jsonl", 1, "acme", true, 1),
                  record("m2.jsonl", 1, "acme", true, 1)}) ==
        "m2.jsonl:1: error[A0107]: amendment 1 of customer `acme` is given twice (the other at m.jsonl:1): its change "
        "would be billed twice; give each amendment once");
  CHECK(error_of({record("i.jsonl", 1, "acme", false, 0), record("m2.jsonl", 1, "acme", true, 2)}) ==
        "m2.jsonl:1: error[A0107]: amendment 2 of customer `acme` without amendment 1: give every amendment issued for "
        "the period");
  CHECK(error_of({record("i.jsonl", 1, "acme", false, 0), record("m.jsonl", 1, "acme", true, 1)}) == "(no error)");
  // An amendment computed without the invoice (a `new` customer's whole invoice) given with it.
  IssuedRecord whole = record("m.jsonl", 3, "acme", true, 1);
  whole.issued_total = D("0");
  CHECK(error_of({record("i.jsonl", 1, "acme", false, 0), whole}) ==
        "m.jsonl:3: error[A0107]: amendment 1 of customer `acme` was computed against an issued total of 0, but what "
        "was issued before it adds up to 10.00: give exactly the invoices and amendments issued for the period");
  whole.issued_total = D("10.0");  // the same by value
  CHECK(error_of({record("i.jsonl", 1, "acme", false, 0), whole}) == "(no error)");

  tariff::IssuedExpectations run;
  run.plans = {"api"};
  run.currency = "USD";
  run.period_start = "2026-03-01";
  run.period_end = "2026-04-01";
  auto check_error = [&run](IssuedRecord r) -> std::string {
    try {
      std::vector<IssuedRecord> one{std::move(r)};
      tariff::CheckIssued(one, run);
    } catch (const AmendmentError& e) {
      return e.Render();
    }
    return "(no error)";
  };
  IssuedRecord r = record("i.jsonl", 7, "acme", false, 0);
  CHECK(check_error(r) == "(no error)");
  r.invoice.plan = "other";
  CHECK(check_error(r) == "i.jsonl:7: error[A0103]: invoice of customer `acme` is for plan \"other\"; this run rates \"api\"");
  r.invoice.plan = "api";
  r.invoice.period_start = "2026-02-01";
  r.invoice.period_end = "2026-03-01";
  CHECK(check_error(r) ==
        "i.jsonl:7: error[A0104]: invoice of customer `acme` is for the period 2026-02-01..2026-03-01; this run rates "
        "2026-03-01..2026-04-01");
  r.invoice.period_start = "2026-03-01";
  r.invoice.period_end = "2026-04-01";
  r.invoice.currency = "EUR";
  CHECK(check_error(r) == "i.jsonl:7: error[A0105]: invoice of customer `acme` is in EUR; this run bills in USD");
}

TEST_CASE("amend: line identity keeps apart the parts of a split period, kinds, groups and units") {
  InvoiceLine first = Line(LineKind::kCharge, "Seats", {}, "50.00", "10", "seat");
  first.rated_by = "api";
  first.from = "2026-04-01T00:00:00Z";
  first.to = "2026-04-16T00:00:00Z";
  InvoiceLine second = first;
  second.amount = D("100.00");
  second.quantity = D("20");
  second.from = "2026-04-16T00:00:00Z";
  second.to = "2026-05-01T00:00:00Z";
  const Invoice issued_inv = MakeInvoice("acme", {first, second, Line(LineKind::kCharge, "Seats", {}, "5.00"),
                                                  Line(LineKind::kDiscount, "Seats", {}, "-5.00")});
  // Re-rated: the second part has 25 seats; the unprefixed charge now prices a quantity (a new
  // line: its unit is part of its identity); the discount is unchanged.
  InvoiceLine second_now = second;
  second_now.amount = D("125.00");
  second_now.quantity = D("25");
  const Invoice rerated = MakeInvoice("acme", {first, second_now, Line(LineKind::kCharge, "Seats", {}, "5.00", "1", "seat"),
                                               Line(LineKind::kDiscount, "Seats", {}, "-5.00")});
  std::vector<IssuedRecord> records(1);
  records[0].origin = {"i.jsonl", 1};
  records[0].invoice = issued_inv;
  const auto sums = tariff::SumIssued(records);
  REQUIRE(sums.size() == 1);
  REQUIRE(sums[0].lines.size() == 4);
  const auto a = tariff::Amend(&sums[0], &rerated);
  REQUIRE(a.has_value());
  REQUIRE(a->lines.size() == 3);
  CHECK(a->lines[0].key.from == "2026-04-16T00:00:00Z");
  CHECK(a->lines[0].amount.ToString() == "25.00");
  CHECK(a->lines[0].quantity.ToString() == "5");
  CHECK(a->lines[1].change == tariff::LineChange::kNew);
  CHECK(a->lines[1].key.unit == "seat");
  CHECK(a->lines[1].amount.ToString() == "5.00");
  CHECK(a->lines[2].change == tariff::LineChange::kRemoved);
  CHECK(a->lines[2].key.unit.empty());
  CHECK(a->lines[2].amount.ToString() == "-5.00");
  CHECK(a->total.ToString() == "25.00");
  // Written and read back, the split lines keep their identity.
  std::ostringstream out;
  tariff::WriteAmendmentsJsonl(std::vector<tariff::Amendment>{*a}, out);
  const auto back = tariff::ParseIssuedInvoices(out.str(), "a.jsonl");
  REQUIRE(back.size() == 1);
  CHECK(tariff::KeyOf(back[0].invoice.lines[0]) == a->lines[0].key);
  CHECK(back[0].invoice.lines[0].rated_by == "api");
  CHECK(back[0].invoice.lines[0].to == "2026-05-01T00:00:00Z");
}

TEST_CASE("amend: every one-byte damage to a record is read or refused with an AmendmentError, nothing else") {
  const std::string good =
      R"({"kind":"amendment","customer":"acme","plan":"api","period":{"start":"s","end":"e"},"currency":"USD",)"
      R"("revision":2,"status":"changed","lines":[{"change":"changed","kind":"charge","name":"Requests","group":["eu"],)"
      R"("issued_quantity":"4500","rerated_quantity":"5500","quantity":"1000","unit":"request","issued_amount":"35.00",)"
      R"("rerated_amount":"42.50","amount":"7.50"}],"issued_total":"35.00","rerated_total":"42.50","total":"7.50"})";
  REQUIRE(tariff::ParseIssuedInvoices(good, "g.jsonl").size() == 1);
  std::size_t read = 0, refused = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const std::string& with : {std::string(), std::string("\""), std::string("9"), std::string("{"),
                                    std::string("\n"), std::string("\xff")}) {
      std::string damaged = good;
      damaged.replace(i, 1, with);
      try {
        const auto records = tariff::ParseIssuedInvoices(damaged, "d.jsonl");
        for (const IssuedRecord& r : records) {
          // Whatever was read is consistent: the total is the sum of the lines.
          Decimal sum;
          for (const InvoiceLine& l : r.invoice.lines) sum = sum + l.amount;
          CHECK(sum == r.invoice.total);
        }
        ++read;
      } catch (const AmendmentError& e) {
        CHECK(e.origin().line >= 1);
        CHECK((e.code() == tariff::kAmendInvalidJson || e.code() == tariff::kAmendNotAnInvoice));
        ++refused;
      }
    }
  }
  CHECK(read + refused == good.size() * 6);
  CHECK(refused > read);  // most damage is refused
}

namespace {

// Rates `rerated` against `records` (SumIssued, AmendAll), writes the amendments and reads them
// back as a file named `name`.
std::vector<IssuedRecord> AmendAndReadBack(const std::vector<IssuedRecord>& records, const std::vector<Invoice>& rerated,
                                           const char* name) {
  const auto sums = tariff::SumIssued(records);
  const auto amendments = tariff::AmendAll(sums, rerated, nullptr);
  std::ostringstream out;
  tariff::WriteAmendmentsJsonl(amendments, out);
  return tariff::ParseIssuedInvoices(out.str(), name);
}

std::string SumError(const std::vector<IssuedRecord>& records) {
  try {
    tariff::SumIssued(records);
  } catch (const AmendmentError& e) {
    return e.Render();
  }
  return "(no error)";
}

// An invoice paid in full by a prepaid credit: its total is 0.
Invoice PaidByCredit(const char* requests, const char* amount) {
  const std::string credit = "-" + std::string(amount);
  return MakeInvoice("u", {Line(LineKind::kCharge, "Req", {}, amount, requests, "req"),
                           Line(LineKind::kCredit, "Credit", {}, credit.c_str())});
}

}  // namespace

TEST_CASE("amend: an amendment given without the invoice it amends is refused, even when that invoice's total is 0") {
  // Req 10.00 paid by a credit (total 0.00), then 12 requests (amendment 1), then 15.
  std::vector<IssuedRecord> issued = tariff::ParseIssuedInvoices(Jsonl({PaidByCredit("10", "10.00")}), "issued.jsonl");
  const std::vector<IssuedRecord> am1 = AmendAndReadBack(issued, {PaidByCredit("12", "12.00")}, "am1.jsonl");
  REQUIRE(am1.size() == 1);
  CHECK(am1[0].issued_total->ToString() == "0.00");
  REQUIRE(am1[0].bases.size() == 2);
  CHECK(am1[0].bases[0].issued_amount.ToString() == "10.00");
  CHECK(am1[0].bases[0].issued_quantity.ToString() == "10");
  // The original and its amendment: fine, and amendment 2 adds up.
  std::vector<IssuedRecord> both = issued;
  both.push_back(am1[0]);
  CHECK(SumError(both) == "(no error)");
  const auto am2 = AmendAndReadBack(both, {PaidByCredit("15", "15.00")}, "am2.jsonl");
  REQUIRE(am2.size() == 1);
  CHECK(am2[0].invoice.lines[0].amount.ToString() == "3.00");
  // The amendment alone: its issued_total (0.00) is what nothing adds up to, but it changes a
  // line nothing before it issued; re-rating against it would bill the first 10.00 again.
  CHECK(SumError(am1) ==
        "am1.jsonl:1: error[A0107]: amendment 1 of customer `u` amends what was issued before it (status `changed`), but "
        "no invoice or amendment of the customer before it is given: give exactly the invoices and amendments issued for "
        "the period");
}

TEST_CASE("amend: each amendment line must have been computed against what the records before it add up to") {
  // Amendment 1 was computed against another original (Req 5.00, paid by credit): the totals
  // agree (0.00), the lines do not.
  const std::vector<IssuedRecord> other = tariff::ParseIssuedInvoices(Jsonl({PaidByCredit("5", "5.00")}), "other.jsonl");
  const std::vector<IssuedRecord> am1 = AmendAndReadBack(other, {PaidByCredit("12", "12.00")}, "am1.jsonl");
  REQUIRE(am1.size() == 1);
  std::vector<IssuedRecord> records = tariff::ParseIssuedInvoices(Jsonl({PaidByCredit("10", "10.00")}), "issued.jsonl");
  records.push_back(am1[0]);
  CHECK(SumError(records) ==
        "am1.jsonl:1: error[A0107]: amendment 1 of customer `u`: line `Req` (lines[0]) was computed against an issued "
        "amount of 5.00, but what was issued of it before adds up to 10.00: give exactly the invoices and amendments "
        "issued for the period");
  // The same amount, another quantity.
  records[1].bases[0].issued_amount = D("10.00");
  CHECK(SumError(records).find("line `Req` (lines[0]) was computed against an issued quantity of 5, but what was issued "
                               "of it before adds up to 10") != std::string::npos);
  // A `new` line that was issued before, a `changed` one that was not.
  records[1].bases[0].issued_quantity = D("10");
  records[1].bases[0].change = tariff::LineChange::kNew;
  CHECK(SumError(records).find("error[A0107]: amendment 1 of customer `u`: line `Req` (lines[0]) is `new`, but it was "
                               "issued before it") != std::string::npos);
  records[1].bases[0].change = tariff::LineChange::kChanged;
  records[1].invoice.lines[0].name = "Other";
  CHECK(SumError(records).find("line `Other` (lines[0]) is `changed`, but nothing before it issued it") != std::string::npos);
}

TEST_CASE("amend: a customer's whole first invoice as a `new` amendment given beside its zero-total invoice is refused") {
  std::vector<IssuedRecord> records = tariff::ParseIssuedInvoices(Jsonl({PaidByCredit("10", "10.00")}), "issued.jsonl");
  const std::vector<IssuedRecord> whole = AmendAndReadBack({}, {PaidByCredit("10", "10.00")}, "new.jsonl");
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].status == tariff::AmendmentStatus::kNew);
  CHECK(SumError(whole) == "(no error)");
  records.push_back(whole[0]);
  CHECK(SumError(records) ==
        "new.jsonl:1: error[A0107]: amendment 1 of customer `u` is the customer's whole first invoice (status `new`), but "
        "issued.jsonl:1 was issued to it before: give exactly the invoices and amendments issued for the period");
}

TEST_CASE("amend: an amendment must say what it was computed against, with documented changes and statuses") {
  const std::string head =
      R"({"kind":"amendment","customer":"a","plan":"api","period":{"start":"s","end":"e"},"currency":"USD","revision":1,)";
  const std::string line =
      R"({"change":"changed","kind":"charge","name":"X","group":[],"issued_amount":"1.00","rerated_amount":"3.00","amount":"2.00"})";
  const std::string totals = R"("issued_total":"1.00","rerated_total":"3.00","total":"2.00"})";
  auto record = [&](const std::string& status, const std::string& l, const std::string& t) {
    return head + status + R"("lines":[)" + l + "]," + t + "\n";
  };
  const std::string changed = R"("status":"changed",)";
  CHECK(ErrorOf(record(changed, line, totals)) == "(no error)");
  auto without = [](std::string text, const std::string& cut) {
    const std::size_t at = text.find(cut);
    REQUIRE(at != std::string::npos);
    return text.erase(at, cut.size());
  };
  CHECK(ErrorOf(record("", line, totals)) == "issued.jsonl:1: error[A0102]: `status`: missing");
  CHECK(ErrorOf(record(R"("status":"paid",)", line, totals)) ==
        "issued.jsonl:1: error[A0102]: `status`: `paid` is not an amendment status (changed, new, absent)");
  CHECK(ErrorOf(record(changed, line, without(totals, R"("issued_total":"1.00",)"))) ==
        "issued.jsonl:1: error[A0102]: `issued_total`: missing");
  CHECK(ErrorOf(record(changed, line, without(totals, R"("rerated_total":"3.00",)"))) ==
        "issued.jsonl:1: error[A0102]: `rerated_total`: missing");
  CHECK(ErrorOf(record(changed, without(line, R"("issued_amount":"1.00",)"), totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].issued_amount`: missing");
  CHECK(ErrorOf(record(changed, without(line, R"("rerated_amount":"3.00",)"), totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].rerated_amount`: missing");
  CHECK(ErrorOf(record(changed, without(line, R"("change":"changed",)"), totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].change`: missing");
  std::string bad_change = line;
  bad_change.replace(bad_change.find("changed"), 7, "moved");
  CHECK(ErrorOf(record(changed, bad_change, totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].change`: `moved` is not a line change (changed, new, removed)");
  // With a quantity, what was issued of it too.
  const std::string with_quantity =
      R"({"change":"changed","kind":"charge","name":"X","group":[],"rerated_quantity":"3","quantity":"2","unit":"req",)"
      R"("issued_amount":"1.00","rerated_amount":"3.00","amount":"2.00"})";
  CHECK(ErrorOf(record(changed, with_quantity, totals)) == "issued.jsonl:1: error[A0102]: `lines[0].issued_quantity`: missing");
  // A `new` amendment's lines are all `new`; an `absent` one's all `removed`, re-rated to 0.
  CHECK(ErrorOf(record(R"("status":"new",)", line, totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].change`: `changed` in an amendment of status `new` (every line is `new`)");
  CHECK(ErrorOf(record(R"("status":"absent",)", line, totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].change`: `changed` in an amendment of status `absent` (every line is "
        "`removed`)");
  std::string removed = line;
  removed.replace(removed.find("changed"), 7, "removed");
  CHECK(ErrorOf(record(changed, removed, totals)) ==
        "issued.jsonl:1: error[A0102]: `lines[0].change`: a `removed` line re-rated to something other than 0");
}

TEST_CASE("amend: a side that is not there is written as 0 at the currency's minor units") {
  std::vector<IssuedRecord> records(1);
  records[0].origin = {"i.jsonl", 1};
  records[0].invoice = MakeInvoice("gone", {Line(LineKind::kCharge, "Platform", {}, "10.00")});
  records.push_back(records[0]);
  records[1].origin = {"i.jsonl", 2};
  records[1].invoice = MakeInvoice("acme", {Line(LineKind::kCharge, "Old", {}, "5.00")});
  const auto sums = tariff::SumIssued(records);
  const std::vector<Invoice> now{MakeInvoice("acme", {Line(LineKind::kCharge, "New", {}, "7.00", "7", "req")}),
                                 MakeInvoice("fresh", {Line(LineKind::kCharge, "Platform", {}, "10.00")})};
  const auto amendments = tariff::AmendAll(sums, now, nullptr);
  std::ostringstream jsonl, csv, table;
  tariff::WriteAmendmentsJsonl(amendments, jsonl);
  tariff::WriteAmendmentsCsv(amendments, csv);
  tariff::WriteAmendmentsTable(amendments, table);
  const std::string j = jsonl.str();
  CHECK(j.find(R"("change":"new","kind":"charge","name":"New","group":[],"issued_quantity":"0","rerated_quantity":"7",)"
               R"("quantity":"7","unit":"req","issued_amount":"0.00","rerated_amount":"7.00","amount":"7.00"})") !=
        std::string::npos);
  CHECK(j.find(R"("change":"removed","kind":"charge","name":"Old","group":[],"issued_amount":"5.00",)"
               R"("rerated_amount":"0.00","amount":"-5.00"})") != std::string::npos);
  CHECK(j.find(R"("issued_total":"10.00","rerated_total":"0.00","total":"-10.00"})") != std::string::npos);  // gone
  CHECK(j.find(R"("issued_total":"0.00","rerated_total":"10.00","total":"10.00"})") != std::string::npos);   // fresh
  for (const char* key : {"issued_amount", "rerated_amount", "issued_total", "rerated_total"}) {
    CHECK(j.find("\"" + std::string(key) + "\":\"0\"") == std::string::npos);
  }
  const std::string c = csv.str();
  CHECK(c.find("acme,api,2026-03-01,2026-04-01,USD,1,changed,new,charge,New,,req,0,7,7,0.00,7.00,7.00,,,") != std::string::npos);
  CHECK(c.find("acme,api,2026-03-01,2026-04-01,USD,1,changed,removed,charge,Old,,,,,,5.00,0.00,-5.00,,,") != std::string::npos);
  CHECK(c.find("fresh,api,2026-03-01,2026-04-01,USD,1,new,total,,,,,,,,0.00,10.00,10.00,,,") != std::string::npos);
  CHECK(c.find("gone,api,2026-03-01,2026-04-01,USD,1,absent,total,,,,,,,,10.00,0.00,-10.00,,,") != std::string::npos);
  // The table: issued, re-rated and change columns.
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(table.str());
  for (std::string row; std::getline(lines, row);) {
    std::istringstream words(row);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    rows.push_back(w);
  }
  auto has_row = [&rows](const std::vector<std::string>& want) {
    for (const auto& r : rows) {
      if (r == want) return true;
    }
    return false;
  };
  CHECK(has_row({"New", "new", "0", "→", "7", "req", "0.00", "7.00", "7.00"}));
  CHECK(has_row({"Old", "removed", "5.00", "0.00", "-5.00"}));
  CHECK(has_row({"total", "0.00", "10.00", "10.00"}));  // fresh
  CHECK(has_row({"total", "10.00", "0.00", "-10.00"}));  // gone
  // A currency without minor units: plain 0.
  Invoice yen = MakeInvoice("jp", {Line(LineKind::kCharge, "Platform", {}, "1000")});
  yen.currency = "JPY";
  const auto a = tariff::Amend(nullptr, &yen);
  REQUIRE(a.has_value());
  CHECK(a->issued_total.ToString() == "0");
  CHECK(a->lines[0].issued_amount.ToString() == "0");
}

TEST_CASE("amend: a customer with its own billing anchor is compared with its own period") {
  tariff::IssuedExpectations run;
  run.plans = {"api"};
  run.currency = "USD";
  run.period_start = "2026-03-01";
  run.period_end = "2026-04-01";
  run.own_periods["acme"] = {"2026-03-15", "2026-04-15"};
  std::vector<IssuedRecord> records(1);
  records[0].origin = {"i.jsonl", 1};
  records[0].invoice = MakeInvoice("acme", {Line(LineKind::kCharge, "Platform", {}, "10.00")});
  records[0].invoice.period_start = "2026-03-15";
  records[0].invoice.period_end = "2026-04-15";
  CHECK_NOTHROW(tariff::CheckIssued(records, run));
  records[0].invoice.customer = "beta";  // beta is rated for the run's period
  try {
    tariff::CheckIssued(records, run);
    FAIL("no error");
  } catch (const AmendmentError& e) {
    CHECK(e.Render() ==
          "i.jsonl:1: error[A0104]: invoice of customer `beta` is for the period 2026-03-15..2026-04-15; this run rates "
          "2026-03-01..2026-04-01");
  }
  records[0].invoice.customer = "acme";
  records[0].invoice.period_start = "2026-03-01";
  records[0].invoice.period_end = "2026-04-01";
  try {
    tariff::CheckIssued(records, run);
    FAIL("no error");
  } catch (const AmendmentError& e) {
    CHECK(e.Render() ==
          "i.jsonl:1: error[A0104]: invoice of customer `acme` is for the period 2026-03-01..2026-04-01; this run rates "
          "its period (its own billing anchor) 2026-03-15..2026-04-15");
  }
}

TEST_CASE("amend: an invoice issued at a change (issued_at) is one more original of its customer, amended with the period's") {
  Invoice period = MakeInvoice("acme", {Line(LineKind::kCharge, "Seats", {}, "60.00")});
  InvoiceLine unused = Line(LineKind::kCharge, "Unused time on Seats (2026-03-16 to 2026-04-01)", {}, "-30.00");
  InvoiceLine remaining = Line(LineKind::kCharge, "Remaining time on Seats (2026-03-16 to 2026-04-01)", {}, "48.00");
  for (InvoiceLine* l : {&unused, &remaining}) {
    l->rated_by = "team";
    l->from = "2026-03-16T00:00:00Z";
    l->to = "2026-04-01T00:00:00Z";
  }
  Invoice at_change = MakeInvoice("acme", {unused, remaining});
  at_change.issued_at = "2026-03-16T00:00:00Z";
  const std::string text = Jsonl({period, at_change});
  // Written after `period`, only on the invoice at the change.
  CHECK(text.find(R"("end":"2026-04-01"},"issued_at":"2026-03-16T00:00:00Z","currency")") != std::string::npos);
  CHECK(text.find("issued_at") == text.rfind("issued_at"));
  const std::vector<IssuedRecord> read = tariff::ParseIssuedInvoices(text, "issued.jsonl");
  REQUIRE(read.size() == 2);
  CHECK(read[0].invoice.issued_at.empty());
  CHECK(read[1].invoice.issued_at == "2026-03-16T00:00:00Z");
  const std::vector<tariff::IssuedInvoice> sums = tariff::SumIssued(read);
  REQUIRE(sums.size() == 1);
  CHECK(sums[0].total.ToString() == "78.00");
  CHECK(sums[0].lines.size() == 3);
  // Re-rated the same (two invoices): nothing to amend. With 10 seats from the change: +12.00.
  tariff::AmendmentCounts counts;
  CHECK(tariff::AmendAll(sums, std::vector<Invoice>{period, at_change}, &counts).empty());
  CHECK(counts.unchanged == 1);
  Invoice more = at_change;
  more.lines[1].amount = D("60.00");
  more.total = D("30.00");
  const std::vector<tariff::Amendment> a = tariff::AmendAll(sums, std::vector<Invoice>{period, more}, &counts);
  REQUIRE(a.size() == 1);
  CHECK(a[0].total.ToString() == "12.00");
  CHECK(a[0].rerated_total.ToString() == "90.00");
  REQUIRE(a[0].lines.size() == 1);
  CHECK(a[0].lines[0].key.name == "Remaining time on Seats (2026-03-16 to 2026-04-01)");
  // The same invoice at the change given twice: A0106.
  std::vector<IssuedRecord> twice = read;
  twice.push_back(read[1]);
  twice.back().origin.line = 3;
  CHECK_THROWS_WITH(tariff::SumIssued(twice), Catch::Contains("has two invoices for the period issued at 2026-03-16T00:00:00Z"));
  // An amendment is never issued at a change.
  CHECK(ErrorOf(R"({"kind":"amendment","customer":"a","plan":"api","period":{"start":"s","end":"e"},"issued_at":"t",)"
                R"("currency":"USD","revision":1,"status":"new","lines":[],"total":"0","issued_total":"0","rerated_total":"0"})"
                "\n")
            .find("error[A0102]: `issued_at`: an amendment is not issued at a change") != std::string::npos);
}
