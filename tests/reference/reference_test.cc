// tests/reference: the reference evaluator against values computed by hand — the repros of
// issue 10, the billing vendors' published examples (../shared/KNOWN-ANSWERS.md) and one case
// per construct. Every expected amount is written out in the test with its arithmetic.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/compiler.h"
#include "runtime/columnar/timestamp.h"
#include "tests/reference/reference.h"
#include "tests/reference/usage.h"

namespace {

using namespace tariff;
using namespace tariff::reference;

struct Rated {
  SourceManager sources;
  CheckedSource checked;
  Result result;

  const CheckedPlan& plan() const { return checked.checked->plans.at(0); }
  const Invoice& Of(const std::string& customer) const {
    for (const Invoice& i : result.invoices) {
      if (i.customer == customer) return i;
    }
    FAIL("no invoice for " << customer);
    return result.invoices.front();
  }
  // The amount of the line `name` (with `group`) of `customer`'s invoice, as decimal text.
  std::string Amount(const std::string& customer, const std::string& name, const std::vector<std::string>& group = {}) const {
    for (const Line& l : Of(customer).lines) {
      if (l.name == name && l.group == group) return ToDecimalText(l.amount, l.scale.value_or(plan().minor_units));
    }
    FAIL("no line " << name << " for " << customer);
    return "";
  }
  std::string Total(const std::string& customer) const { return ToDecimalText(Of(customer).total, 2); }
};

struct In {
  std::string event, customer, time;
  std::map<std::string, std::string> fields;
};

std::unique_ptr<Rated> Rate(const std::string& text, const std::vector<In>& usage, Options options = {}, bool must_rate = true) {
  auto r = std::make_unique<Rated>();
  FileId file = r->sources.AddFile("test.tariff", text);
  DiagnosticSink sink;
  r->checked = CheckSource(r->sources, file, sink);
  for (const Diagnostic& d : sink.Sorted()) UNSCOPED_INFO(d.message);
  REQUIRE(r->checked.ok());
  std::vector<UsageRow> rows;
  for (const In& in : usage) rows.push_back(RowOf(r->plan(), in.event, in.customer, in.time, in.fields));
  if (!options.period_end_micros) options.period_end_micros = ParseTimestamp("2026-04-01T00:00:00Z");
  r->result = Evaluate(*r->checked.checked, r->plan(), rows, options);
  INFO(r->result.error);
  if (must_rate) REQUIRE(r->result.ok());
  return r;
}

const char* kT = "2026-03-01T10:00:00Z";

TEST_CASE("rounding: modes on ties, halves and negatives") {
  CHECK(Round(ParseRational("2.345"), 2, "half_even") == ParseRational("2.34"));
  CHECK(Round(ParseRational("2.355"), 2, "half_even") == ParseRational("2.36"));
  CHECK(Round(ParseRational("2.345"), 2, "half_up") == ParseRational("2.35"));
  CHECK(Round(ParseRational("2.345"), 2, "half_down") == ParseRational("2.34"));
  CHECK(Round(ParseRational("2.3451"), 2, "half_down") == ParseRational("2.35"));
  CHECK(Round(ParseRational("-2.345"), 2, "half_up") == ParseRational("-2.35"));
  CHECK(Round(ParseRational("2.341"), 2, "up") == ParseRational("2.35"));
  CHECK(Round(ParseRational("-2.341"), 2, "up") == ParseRational("-2.35"));
  CHECK(Round(ParseRational("2.349"), 2, "down") == ParseRational("2.34"));
  CHECK(Round(ParseRational("-2.341"), 2, "ceiling") == ParseRational("-2.34"));
  CHECK(Round(ParseRational("-2.341"), 2, "floor") == ParseRational("-2.35"));
  CHECK(Round(Rational(1, 3), 0, "ceiling") == 1);
  CHECK(Round(Rational(12, 1), 0, "up") == 12);
}

TEST_CASE("decimal text: terminating values exactly, others at 20 decimals") {
  CHECK(ToDecimalText(ParseRational("12.50"), 2) == "12.50");
  CHECK(ToDecimalText(ParseRational("0.0030555")) == "0.0030555");
  CHECK(ToDecimalText(Rational(1, 3)) == "0.33333333333333333333");
  CHECK(ToDecimalText(Rational(-2, 3)) == "-0.66666666666666666667");
  CHECK(ToDecimalText(ParseRational("-0.05"), 2) == "-0.05");
  CHECK(DigitsNeeded(ParseRational("1234.5"), 2) == 6);
  CHECK(DigitsNeeded(Rational(1, 3)) == 20);
}

TEST_CASE("units: the table of docs/units-and-money.md") {
  CHECK(BaseFactor("GiB") == Rational(1073741824));
  CHECK(BaseFactor("bit") == Rational(1, 8));
  CHECK(BaseFactor("Kbit") == 125);
  CHECK(BaseFactor("ms") == Rational(1, 1000));
  CHECK(BaseFactor("day") == 86400);
  CHECK(BaseFactor("token") == 1);
}

// ---- The repros of issue 10 -------------------------------------------------------------------

TEST_CASE("issue 10: 3600 s at 1.00 USD per h, ceiling, is 1.00 (and per 3 h at 3.00)") {
  for (const char* price : {"1.00 USD per h", "3.00 USD per 3 h"}) {
    auto r = Rate(std::string(R"(plan "p" {
  currency USD
  period month
  rounding ceiling per line
  event call {
    duration: quantity of s
  }
  meter seconds = sum(call.duration)
  charge "Calls" = seconds * )") + price + "\n}\n",
                  {{"call", "acme", kT, {{"duration", "3600"}}}});
    CHECK(r->Amount("acme", "Calls") == "1.00");
  }
}

TEST_CASE("issue 10: 7 calls at 1.00 USD per 7 call, down, is 1.00") {
  std::vector<In> usage(7, In{"call", "acme", kT, {{"region", "eu"}}});
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  rounding down per line
  event call {
    region: text
  }
  meter calls = count(call)
  charge "Calls" = calls * 1.00 USD per 7 call
}
)",
                usage);
  CHECK(r->Amount("acme", "Calls") == "1.00");
}

TEST_CASE("issue 10: 11.34 s at 0.97 EUR per h, half_up to 6 decimals: 0.003056 per line and per invoice") {
  // 11.34 × 0.97 ÷ 3600 = 0.0030555 exactly: a tie, up.
  auto line = Rate(R"(plan "p" {
  currency EUR
  period month
  rounding half_up to 6 decimals per line
  event call {
    duration: quantity of s
  }
  meter seconds = sum(call.duration)
  charge "Calls" = seconds * 0.97 EUR per h
}
)",
                   {{"call", "acme", kT, {{"duration", "11.34"}}}});
  CHECK(line->Amount("acme", "Calls") == "0.003056");
  auto invoice = Rate(R"(plan "p" {
  currency EUR
  period month
  rounding half_up to 6 decimals per invoice
  event call {
    duration: quantity of s
  }
  meter seconds = sum(call.duration)
  charge "Calls" = seconds * 0.97 EUR per h
}
)",
                      {{"call", "acme", kT, {{"duration", "11.34"}}}});
  CHECK(invoice->Amount("acme", "Calls") == "0.0030555");
  CHECK(invoice->Amount("acme", "Rounding (half_up to 6 decimals)") == "0.0000005");
  CHECK(ToDecimalText(invoice->Of("acme").total, 6) == "0.003056");
}

TEST_CASE("issue 10: average of 1, 1 and 2 seats at 1.00 USD per 3 seat is 0.44") {
  // (1 + 1 + 2) ÷ 3 = 4/3 seats × 1.00 ÷ 3 = 4/9 = 0.444… → 0.44
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  unit seat
  event report {
    seats: quantity of seat
  }
  meter seats = average(report.seats)
  charge "Seats" = seats * 1.00 USD per 3 seat
}
)",
                {{"report", "acme", kT, {{"seats", "1"}}}, {"report", "acme", kT, {{"seats", "1"}}}, {"report", "acme", kT, {{"seats", "2"}}}});
  CHECK(r->Amount("acme", "Seats") == "0.44");
}

TEST_CASE("issue 10: match arms are converted to the quantity's unit") {
  // 22.6 s at 1.00 USD per 3 min = 22.6 ÷ 180 = 0.12555… → 0.13 (half_even).
  // 3600 s at 6.00 USD per h = 6.00 and at 0.10 USD per min = 60 × 0.10 = 6.00.
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  event call {
    duration: quantity of s
    region: one of "eu", "us", "ap"
  }
  meter seconds = sum(call.duration)
  charge "Calls" by call.region = seconds * match call.region {
    "eu": 6.00 USD per h
    "ap": 1.00 USD per 3 min
    else: 0.10 USD per min
  }
}
)",
                {{"call", "acme", kT, {{"duration", "3600"}, {"region", "eu"}}},
                 {"call", "acme", kT, {{"duration", "3600"}, {"region", "us"}}},
                 {"call", "acme", kT, {{"duration", "22.6"}, {"region", "ap"}}}});
  CHECK(r->Amount("acme", "Calls", {"eu"}) == "6.00");
  CHECK(r->Amount("acme", "Calls", {"us"}) == "6.00");
  CHECK(r->Amount("acme", "Calls", {"ap"}) == "0.13");
  CHECK(r->Total("acme") == "12.13");
}

// ---- The vendors' published examples (../shared/KNOWN-ANSWERS.md) -----------------------------

std::string Tiered(const char* mode) {
  return std::string(R"(plan "stripe" {
  currency USD
  period month
  unit seat
  event report {
    seats: quantity of seat
  }
  meter seats = sum(report.seats)
  charge "Seats" = )") + mode + R"( seats {
    up to 5 seat   7.00 USD per seat
    up to 10 seat  6.50 USD per seat
    above          6.00 USD per seat
  } allow falling_total
}
)";
}

TEST_CASE("Stripe tiers: volume and graduated at 1, 5, 6, 20 and 25 units") {
  std::vector<In> usage;
  for (const char* n : {"1", "5", "6", "20", "25"}) usage.push_back({"report", std::string("c") + (n[1] ? "" : "0") + n, kT, {{"seats", n}}});
  auto volume = Rate(Tiered("volume"), usage);
  CHECK(volume->Amount("c01", "Seats") == "7.00");
  CHECK(volume->Amount("c05", "Seats") == "35.00");
  CHECK(volume->Amount("c06", "Seats") == "39.00");
  CHECK(volume->Amount("c20", "Seats") == "120.00");
  CHECK(volume->Amount("c25", "Seats") == "150.00");
  auto graduated = Rate(Tiered("graduated"), usage);
  CHECK(graduated->Amount("c01", "Seats") == "7.00");
  CHECK(graduated->Amount("c05", "Seats") == "35.00");
  CHECK(graduated->Amount("c06", "Seats") == "41.50");
  CHECK(graduated->Amount("c20", "Seats") == "127.50");
  CHECK(graduated->Amount("c25", "Seats") == "157.50");
}

// A table that stops at 10 seats, with each `beyond:` rule; the last tier has a flat fee.
std::string Stopping(const char* mode, const char* rule) {
  return std::string(R"(plan "p" {
  currency USD
  period month
  unit seat
  event report {
    seats: quantity of seat
  }
  meter seats = sum(report.seats)
  charge "Seats" = )") + mode + R"( seats {
    up to 5 seat   7.00 USD per seat
    up to 10 seat  6.50 USD per seat + 1 USD flat
    beyond:        )" + rule + R"(
  } allow falling_total
}
)";
}

TEST_CASE("beyond: last price goes on past the last bound (its flat fee once); error stops past it, not at it") {
  std::vector<In> usage;
  for (const char* n : {"4", "10", "25"}) usage.push_back({"report", std::string("c") + (n[1] ? "" : "0") + n, kT, {{"seats", n}}});
  auto graduated = Rate(Stopping("graduated", "last price"), usage);
  CHECK(graduated->Amount("c04", "Seats") == "28.00");
  CHECK(graduated->Amount("c10", "Seats") == "68.50");   // 35 + 5 × 6.50 + 1
  CHECK(graduated->Amount("c25", "Seats") == "166.00");  // 35 + 20 × 6.50 + 1: the flat fee once
  auto volume = Rate(Stopping("volume", "last price"), usage);
  CHECK(volume->Amount("c04", "Seats") == "28.00");
  CHECK(volume->Amount("c10", "Seats") == "66.00");
  CHECK(volume->Amount("c25", "Seats") == "163.50");
  usage.pop_back();
  for (const char* mode : {"graduated", "volume"}) {
    auto at = Rate(Stopping(mode, "error"), usage);
    CHECK(at->Amount("c10", "Seats") == (std::string(mode) == "volume" ? "66.00" : "68.50"));
    auto past = Rate(Stopping(mode, "error"), {{"report", "c11", kT, {{"seats", "11"}}}}, {}, false);
    CHECK_FALSE(past->result.ok());
    CHECK(past->result.invoices.empty());
  }
}

TEST_CASE("Stripe flat fee per tier: 12 units volume 66, graduated 111, zero units 10 either way") {
  std::string table = R"( units {
    up to 5 unit   5 USD per unit + 10 USD flat
    up to 10 unit  4 USD per unit + 20 USD flat
    above          3 USD per unit + 30 USD flat
  })";
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  unit unit
  event report {
    units: quantity of unit
  }
  meter units = sum(report.units)
  charge "Volume" = volume)" + table + R"( allow falling_total
  charge "Graduated" = graduated)" + table + R"(
}
)",
                {{"report", "twelve", kT, {{"units", "12"}}}, {"report", "zero", kT, {{"units", "0"}}}});
  CHECK(r->Amount("twelve", "Volume") == "66.00");
  CHECK(r->Amount("twelve", "Graduated") == "111.00");
  CHECK(r->Amount("zero", "Volume") == "10.00");
  CHECK(r->Amount("zero", "Graduated") == "10.00");
}

TEST_CASE("Stripe quantity transform: 150 minutes at 10 USD per hour, rounded up to hours, is 30") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  event usage {
    minutes: quantity of min
  }
  meter used = sum(usage.minutes)
  charge "Hours" = round_up(used, 1 h) * 10.00 USD per h
}
)",
                {{"usage", "acme", kT, {{"minutes", "150"}}}});
  CHECK(r->Amount("acme", "Hours") == "30.00");
}

TEST_CASE("Lago package with free units: 201 units at 5 USD per started 100, 100 free, is 10") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  unit unit
  event usage {
    units: quantity of unit
  }
  meter units = sum(usage.units)
  charge "Units" = units * 5.00 USD per started 100 unit included 100 unit
}
)",
                {{"usage", "acme", kT, {{"units", "201"}}}});
  CHECK(r->Amount("acme", "Units") == "10.00");
}

TEST_CASE("Lago percentage with a fixed fee: 200, 100, 100, 50 with 3 events or 500 USD free is 0.70") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  event transaction {
    amount: money
  }
  charge "Transactions" = each transaction: transaction.amount * 1.2% + 0.10 USD free first 3 transaction or 500.00 USD
}
)",
                {{"transaction", "lago", "2026-01-08T10:00:00Z", {{"amount", "50.00"}}},
                 {"transaction", "lago", "2026-01-05T10:00:00Z", {{"amount", "200.00"}}},
                 {"transaction", "lago", "2026-01-07T10:00:00Z", {{"amount", "100.00"}}},
                 {"transaction", "lago", "2026-01-06T10:00:00Z", {{"amount", "100.00"}}}});
  CHECK(r->Amount("lago", "Transactions") == "0.70");
}

TEST_CASE("Lago graduated percentage with flat fees: 500, then 550, then 4,000 cost 205, 306 and 80") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  event transaction {
    amount: money
  }
  meter volume_usd = sum(transaction.amount)
  charge "Transactions" = graduated volume_usd {
    up to 1_000 USD   1% + 200 USD flat
    up to 10_000 USD  2% + 300 USD flat
    above             3% + 400 USD flat
  } no flat at zero
}
)",
                {{"transaction", "one", kT, {{"amount", "500.00"}}},
                 {"transaction", "two", kT, {{"amount", "500.00"}}},
                 {"transaction", "two", kT, {{"amount", "550.00"}}},
                 {"transaction", "three", kT, {{"amount", "500.00"}}},
                 {"transaction", "three", kT, {{"amount", "550.00"}}},
                 {"transaction", "three", kT, {{"amount", "4000.00"}}}});
  CHECK(r->Amount("one", "Transactions") == "205.00");          // 500 × 1% + 200
  CHECK(r->Amount("two", "Transactions") == "511.00");          // + 50 × 2% + 300 + 1000 × 1% - 5 … = 205 + 306
  CHECK(r->Amount("three", "Transactions") == "591.00");        // + 4000 × 2% = 80
}

TEST_CASE("Lago volume with a flat fee, spending minimum, Orb bulk and basis points, Metronome tiers") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  unit call, user
  event usage {
    calls: quantity of call
    users: quantity of user
    gb: quantity of GB
  }
  event payment {
    amount: money
  }
  meter calls = sum(usage.calls)
  meter users = sum(usage.users)
  meter gb = sum(usage.gb)
  charge "Lago volume" = volume calls {
    up to 10_000 call   0.0010 USD per call + 10 USD flat
    up to 50_000 call   0.0008 USD per call + 10 USD flat
    up to 100_000 call  0.0006 USD per call + 10 USD flat
    above               0.0004 USD per call + 10 USD flat
  }
  charge "Users" = users * 0.010 USD per user
  charge "Orb bulk" = volume calls {
    up to 10 call     0.50 USD per call
    up to 1_000 call  0.40 USD per call
    above             0.40 USD per call
  }
  charge "Orb bp" = each payment: min(payment.amount * 25 bp, 25.00 USD)
  charge "Metronome" = graduated gb {
    up to 1_000 GB  0.10 USD per GB
    above           0.09 USD per GB
  }
  charge "Metronome volume" = volume gb {
    up to 1_000 GB  0.10 USD per GB
    above           0.09 USD per GB
  } allow falling_total
  minimum 100.00 USD on "Users"
}
)",
                {{"usage", "lago", kT, {{"calls", "65000"}, {"users", "5000"}, {"gb", "0"}}},
                 {"usage", "orb", kT, {{"calls", "101"}, {"users", "0"}, {"gb", "1500"}}},
                 {"payment", "orb", kT, {{"amount", "20000.00"}}},
                 {"payment", "orb", kT, {{"amount", "4000.00"}}}});
  CHECK(r->Amount("lago", "Lago volume") == "49.00");                 // 65,000 × 0.0006 + 10
  CHECK(r->Amount("lago", "Users") == "50.00");                       // 5,000 × 0.010
  CHECK(r->Amount("lago", "Minimum 100.00 USD on Users") == "50.00");  // the true-up
  CHECK(r->Amount("orb", "Orb bulk") == "40.40");                     // 101 × 0.40
  CHECK(r->Amount("orb", "Orb bp") == "35.00");                       // 25 (capped) + 10
  CHECK(r->Amount("orb", "Metronome") == "145.00");                   // 100 + 500 × 0.09
  CHECK(r->Amount("orb", "Metronome volume") == "135.00");            // 1,500 × 0.09
}

// ---- Constructs ---------------------------------------------------------------------------------

TEST_CASE("aggregations: count_distinct by value, latest ties, min, max, integral, time-weighted average") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  event sample {
    stored: quantity of GB
    user: id
  }
  meter users = count_distinct(sample.stored)
  meter last = latest(sample.stored)
  meter low = min(sample.stored)
  meter high = max(sample.stored)
  meter hours = integral(sample.stored)
  meter avg = time_weighted_average(sample.stored)
  charge "Distinct" = users * 1.00 USD
  charge "Latest" = last * 1.00 USD per GB
  charge "Min" = low * 1.00 USD per GB
  charge "Max" = high * 1.00 USD per GB
  charge "Hours" = hours * 0.01 USD per GB·h
  charge "Average" = avg * 3.00 USD per GB
}
)",
                // 2 GB from 03-30 00:00, then 5.0 and 5 GB at 03-31 00:00 (one value: 5), held to 04-01.
                {{"sample", "acme", "2026-03-31T00:00:00Z", {{"stored", "5.0"}, {"user", "a"}}},
                 {"sample", "acme", "2026-03-30T00:00:00Z", {{"stored", "2"}, {"user", "b"}}},
                 {"sample", "acme", "2026-03-31T00:00:00Z", {{"stored", "5"}, {"user", "c"}}}});
  CHECK(r->Amount("acme", "Distinct") == "2.00");   // 2 and 5 (5.0 = 5)
  CHECK(r->Amount("acme", "Latest") == "5.00");
  CHECK(r->Amount("acme", "Min") == "2.00");
  CHECK(r->Amount("acme", "Max") == "5.00");
  CHECK(r->Amount("acme", "Hours") == "1.68");      // 2 × 24 + 5 × 24 = 168 GB·h × 0.01
  CHECK(r->Amount("acme", "Average") == "10.50");   // 168 GB·h ÷ 48 h = 3.5 GB × 3.00
}

TEST_CASE("where across units, and/or/not, grouping in two dimensions, allowance per line") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  event upload {
    size: quantity of KiB
    kind: one of "img", "doc"
    region: text
    cached: boolean
  }
  meter big = count(upload) where upload.size > 1 MB and not upload.cached or upload.kind == "doc"
  meter bytes = sum(upload.size)
  charge "Big" = big * 1.00 USD per 3 upload
  charge "Bytes" by upload.kind, upload.region = bytes * 0.50 USD per MB included 1000 B
}
)",
                {{"upload", "acme", kT, {{"size", "977"}, {"kind", "img"}, {"region", "eu"}, {"cached", "false"}}},     // 1,000,448 B > 1 MB
                 {"upload", "acme", kT, {{"size", "976"}, {"kind", "img"}, {"region", "eu"}, {"cached", "false"}}},     // 999,424 B
                 {"upload", "acme", kT, {{"size", "2000"}, {"kind", "img"}, {"region", "us"}, {"cached", "true"}}},     // cached
                 {"upload", "acme", kT, {{"size", "1"}, {"kind", "doc"}, {"region", "eu"}, {"cached", "true"}}}});
  // big: the first (size) and the last (doc) = 2 × 1.00 ÷ 3 = 0.666… → 0.67
  CHECK(r->Amount("acme", "Big") == "0.67");
  // [doc, eu]: 1 KiB = 1024 B − 1000 = 24 B → 0.000012 USD → 0.00
  CHECK(r->Amount("acme", "Bytes", {"doc", "eu"}) == "0.00");
  // [img, eu]: 1953 KiB = 1,999,872 B − 1000 = 1,998,872 B × 0.5 ÷ 10^6 = 0.999436 → 1.00
  CHECK(r->Amount("acme", "Bytes", {"img", "eu"}) == "1.00");
  // [img, us]: 2000 KiB = 2,048,000 B − 1000 = 2,047,000 × 0.5 ÷ 10^6 = 1.0235 → 1.02 (half_even)
  CHECK(r->Amount("acme", "Bytes", {"img", "us"}) == "1.02");
  REQUIRE(r->Of("acme").lines.size() == 4);
  CHECK(r->Of("acme").lines[1].group == std::vector<std::string>{"doc", "eu"});
}

TEST_CASE("per event: rounding per event, min/max, free first by count") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  rounding half_up per event
  event payment {
    amount: money
  }
  charge "Fees" = each payment: max(payment.amount * 2.9% + 0.30 USD, 0.50 USD) free first 1 payment
}
)",
                {{"payment", "acme", "2026-03-01T10:00:00Z", {{"amount", "20.00"}}},      // free
                 {"payment", "acme", "2026-03-02T10:00:00Z", {{"amount", "33.33"}}},      // 1.26657 → 1.27
                 {"payment", "acme", "2026-03-03T10:00:00Z", {{"amount", "5.00"}}}});     // 0.445 → min 0.50
  CHECK(r->Amount("acme", "Fees") == "1.77");
}

TEST_CASE("adjustments in plan order: percent and fixed discounts, maximum, minimum on the invoice so far") {
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  unit call
  event api {
    calls: quantity of call
  }
  meter calls = sum(api.calls)
  charge "Platform" = 10.00 USD
  charge "API" = calls * 0.015 USD per call
  discount 10% on "API"
  discount 1.00 USD on "Platform"
  maximum 5.00 USD on "API"
  minimum 30.00 USD
}
)",
                {{"api", "acme", kT, {{"calls", "1000"}}}, {"api", "beta", kT, {{"calls", "100"}}}});
  // acme: API 15.00; discount 1.50; −1.00; cap 5.00 on API (15.00) → −10.00; so far 12.50 → true-up 17.50
  CHECK(r->Amount("acme", "API") == "15.00");
  CHECK(r->Amount("acme", "Discount 10% on API") == "-1.50");
  CHECK(r->Amount("acme", "Discount 1.00 USD on Platform") == "-1.00");
  CHECK(r->Amount("acme", "Maximum 5.00 USD on API") == "-10.00");
  CHECK(r->Amount("acme", "Minimum 30.00 USD") == "17.50");
  CHECK(r->Total("acme") == "30.00");
  // beta: API 1.50; −0.15; −1.00; under the cap; so far 10.35 → true-up 19.65
  CHECK(r->Amount("beta", "Minimum 30.00 USD") == "19.65");
  CHECK(r->Of("beta").lines.size() == 5);
}

TEST_CASE("proration: recurring fees and minimums by second and by day, usage never") {
  Options o;
  CustomerOptions c;
  c.active = CustomerOptions::Active{Rational(15 * 86400 - 3600), Rational(31 * 86400), 15, 31};
  o.customers["half"] = c;
  auto r = Rate(R"(plan "p" {
  currency USD
  period month
  unit call
  subscription {
    seats: quantity of seat
  }
  unit seat
  event api {
    calls: quantity of call
  }
  meter calls = sum(api.calls)
  charge "Platform" = 49.00 USD prorated by day
  charge "Seats" = subscription.seats * 10.00 USD per seat
  charge "API" = calls * 1.00 USD per call
  minimum 100.00 USD
}
)",
                {{"api", "half", kT, {{"calls", "3"}}}}, o);
  CHECK(r->Amount("half", "Platform") == "23.71");  // 49 × 15 ÷ 31 = 23.709…
  CHECK(r->Amount("half", "Seats") == "0.00");      // no seats given: 0
  CHECK(r->Amount("half", "API") == "3.00");
  // 100 × (15 days − 1 h) ÷ 31 days = 48.252688… → 48.25; so far 26.71 → 21.54
  CHECK(r->Amount("half", "Minimum 100.00 USD") == "21.54");
}

TEST_CASE("rounding per invoice: exact lines, one rounding of the total, a Rounding line") {
  auto r = Rate(R"(plan "p" {
  currency JPY
  period month
  rounding floor per invoice
  unit call
  event api {
    calls: quantity of call
  }
  meter calls = sum(api.calls)
  charge "A" = calls * 10 JPY per 3 call
  charge "B" = calls * 0.7 JPY per call
}
)",
                {{"api", "acme", kT, {{"calls", "2"}}}});
  // A = 20/3 = 6.666… shown at 20 decimals; B = 1.4; total floor(8.0666…) = 8
  CHECK(r->Amount("acme", "A") == "6.66666666666666666667");
  CHECK(r->Amount("acme", "B") == "1.4");
  CHECK(r->Amount("acme", "Rounding (floor to 0 decimals)") == "-0.06666666666666666667");
  CHECK(ToDecimalText(r->Of("acme").total) == "8");
}

TEST_CASE("overflow: only a final amount beyond 38 digits stops rating") {
  SourceManager sources;
  FileId file = sources.AddFile("t.tariff", R"(plan "p" {
  currency USD
  period month
  unit call
  event api {
    calls: quantity of call
  }
  meter calls = sum(api.calls)
  charge "API" = calls * 10000000000 USD per 3 call
}
)");
  DiagnosticSink sink;
  CheckedSource checked = CheckSource(sources, file, sink);
  REQUIRE(checked.ok());
  const CheckedPlan& plan = checked.checked->plans[0];
  // 3 × 10^28 calls: 10^38 USD needs 39 digits → stops. (10^37 USD would fit: rounded to 2
  // decimals it is shown without the two zeros 38 digits have no room for.)
  std::vector<UsageRow> big = {RowOf(plan, "api", "acme", kT, {{"calls", "30000000000000000000000000000"}})};
  Result stopped = Evaluate(*checked.checked, plan, big, {});
  CHECK(!stopped.ok());
  CHECK(stopped.error.find("38 digits") != std::string::npos);
  // 3 × 10^20 calls: 10^30 USD at 2 decimals = 33 digits, although 10^30 ÷ 3 × 3 passes through thirds.
  std::vector<UsageRow> fits = {RowOf(plan, "api", "acme", kT, {{"calls", "300000000000000000000"}})};
  Result ok = Evaluate(*checked.checked, plan, fits, {});
  REQUIRE(ok.ok());
  CHECK(ToDecimalText(ok.invoices[0].total, 2) == "1000000000000000000000000000000.00");
}

}  // namespace

namespace {

TEST_CASE("weighted rows: a row of weight N counts as N events everywhere") {
  SourceManager sources;
  FileId file = sources.AddFile("t.tariff", R"(plan "p" {
  currency USD
  period month
  event pay {
    amount: money
  }
  meter payments = count(pay)
  meter volume_usd = sum(pay.amount)
  meter mean = average(pay.amount)
  charge "Count" = payments * 0.01 USD per pay
  charge "Sum" = volume_usd * 1%
  charge "Mean" = mean * 10%
  charge "Fees" = each pay: 1.00 USD free first 3 pay or 250.00 USD
}
)");
  DiagnosticSink sink;
  CheckedSource checked = CheckSource(sources, file, sink);
  REQUIRE(checked.ok());
  const CheckedPlan& plan = checked.checked->plans[0];
  // 5 × 100.00 at 10:00, then 1 × 40.00 at 11:00.
  UsageRow five = RowOf(plan, "pay", "acme", "2026-03-01T10:00:00Z", {{"amount", "100.00"}});
  five.weight = 5;
  UsageRow one = RowOf(plan, "pay", "acme", "2026-03-01T11:00:00Z", {{"amount", "40.00"}});
  Result r = Evaluate(*checked.checked, plan, {five, one}, {});
  REQUIRE(r.ok());
  const std::vector<Line>& lines = r.invoices.at(0).lines;
  CHECK(lines[0].amount == ParseRational("0.06"));  // 6 payments
  CHECK(lines[1].amount == ParseRational("5.40"));  // 540.00 × 1%
  CHECK(lines[2].amount == ParseRational("9.00"));  // 540 ÷ 6 = 90 × 10%
  // Free while fewer than 3 came before and the running total is at most 250: the first two
  // (100, 200); the third would make 300. Charged: 3 of the five and the 40.00 one.
  CHECK(lines[3].amount == ParseRational("4.00"));
}

}  // namespace

namespace {

TEST_CASE("per invoice: a line too long to show exactly is shown at 20 decimals, the Rounding line takes the rest") {
  // 1 MB = 1,000,000 B: 85,300 B at 0.7283 BHD per GiB, then 914,700 B at 48.34 per 2.5 Kbit
  // (312.5 B): C = 141493.11365785747431218624114990234375 (38 digits: shown exactly).
  // 79 bp of it = 1117.795597897074047066271305084228515625 needs 41 digits: shown at 20 decimals.
  auto r = Rate(R"(plan "p" {
  currency BHD
  period month
  rounding half_up to 3 decimals per invoice
  event api {
    qty: quantity of MB
  }
  meter m1 = max(api.qty)
  charge "C" = graduated m1 {
    up to 85.3 KB  0.7283 BHD per GiB
    above  48.34 BHD per 2.5 Kbit
  }
  discount 79 bp on "C"
}
)",
                {{"api", "c3", kT, {{"qty", "1"}}}});
  CHECK(r->Amount("c3", "C") == "141493.11365785747431218624114990234375");
  CHECK(r->Amount("c3", "Discount 79 bp on C") == "-1117.79559789707404706627");
  CHECK(r->Amount("c3", "Rounding (half_up to 3 decimals)") == "-0.00005996040026511997114990234375");
  CHECK(r->Total("c3") == "140375.318");
}

}  // namespace

TEST_CASE("allocated by: one amount, split in proportion to usage, the cents by largest remainder") {
  const std::string plan = R"(plan "p" {
  currency USD
  period month
  ROUNDING
  event job {
    team: text
    minutes: decimal
  }
  meter minutes = sum(job.minutes)
  charge "Shared" = 10.00 USD allocated by job.team in proportion to minutes
  charge "Pool" = graduated minutes {
    up to 100  free
    above      0.07 USD
  } allocated by job.team in proportion to minutes
  discount 10% on "Pool"
}
)";
  auto with = [&](const std::string& rounding) {
    std::string text = plan;
    text.replace(text.find("ROUNDING"), 8, rounding);
    return text;
  };
  std::vector<In> usage = {{"job", "acme", kT, {{"team", "red"}, {"minutes", "31"}}},
                           {"job", "acme", kT, {{"team", "blue"}, {"minutes", "31"}}},
                           {"job", "acme", kT, {{"team", "green"}, {"minutes", "62"}}},
                           {"job", "acme", kT, {{"team", "grey"}, {"minutes", "0"}}},
                           {"job", "beta", kT, {{"team", "red"}, {"minutes", "0"}}}};
  auto r = Rate(with("rounding half_even per line"), usage);
  // Shared: 10.00 × 31/124 = 2.50 (blue, red), × 62/124 = 5.00 (green), grey 0.00
  CHECK(r->Amount("acme", "Shared", {"blue"}) == "2.50");
  CHECK(r->Amount("acme", "Shared", {"green"}) == "5.00");
  CHECK(r->Amount("acme", "Shared", {"grey"}) == "0.00");
  CHECK(r->Amount("acme", "Shared", {"red"}) == "2.50");
  // Pool: (124 - 100) × 0.07 = 1.68; blue, red 1.68 × 31/124 = 0.42; green 0.84 — exact.
  CHECK(r->Amount("acme", "Pool", {"green"}) == "0.84");
  // The discount is 10% of the whole 1.68 = 0.168 → 0.17, one line.
  CHECK(r->Amount("acme", "Discount 10% on Pool") == "-0.17");
  CHECK(r->Total("acme") == "11.51");
  // beta's only team used nothing: each amount stays whole on one line without a group.
  CHECK(r->Amount("beta", "Shared") == "10.00");
  CHECK(r->Amount("beta", "Pool") == "0.00");

  // 10.00 over 31 : 31 : 31 (three equal) is 3.34 + 3.33 + 3.33: the cent goes to the first by value.
  std::vector<In> equal = {{"job", "acme", kT, {{"team", "c"}, {"minutes", "31"}}},
                           {"job", "acme", kT, {{"team", "a"}, {"minutes", "31"}}},
                           {"job", "acme", kT, {{"team", "b"}, {"minutes", "31"}}}};
  auto e = Rate(with("rounding half_even per line"), equal);
  CHECK(e->Amount("acme", "Shared", {"a"}) == "3.34");
  CHECK(e->Amount("acme", "Shared", {"b"}) == "3.33");
  CHECK(e->Amount("acme", "Shared", {"c"}) == "3.33");

  // Per invoice: the exact shares, 10/3 each at 20 decimals, and one rounding of the total.
  auto x = Rate(with("rounding half_even per invoice"), equal);
  CHECK(x->Amount("acme", "Shared", {"a"}) == "3.33333333333333333333");
  CHECK(x->Total("acme") == "10.00");

  // A negative usage stops rating.
  auto n = Rate(with("rounding half_even per line"), {{"job", "acme", kT, {{"team", "a"}, {"minutes", "-1"}}}}, {}, false);
  CHECK(!n->result.ok());
}
