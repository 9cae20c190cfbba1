// tests/unit: `tariff plot` (tools/plot and tools/driver/cmd_plot.cc). The sampled amounts at tier
// bounds, on both sides of a step and at the range's end are checked against figures worked out
// by hand from the plans' published prices; the SVG against the coordinates those figures give;
// the command line against the exit codes of docs/cli.md.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/compiler.h"
#include "compiler/lower/lower.h"
#include "tools/driver/driver.h"
#include "tools/plot/plot.h"

namespace {

using namespace tariff;
namespace fs = std::filesystem;

// The rating function of plan `name` in `text` (the only version).
ir::RatingFunction CompileNamed(const std::string& text, const std::string& name) {
  SourceManager sources;
  FileId file = sources.AddFile("plot.tariff", text);
  DiagnosticSink sink;
  CheckedSource checked = CheckSource(sources, file, sink);
  for (const Diagnostic& d : sink.Sorted()) UNSCOPED_INFO(d.message);
  REQUIRE(checked.ok());
  for (const CheckedPlan& p : checked.checked->plans) {
    if (p.plan->name.value != name) continue;
    LowerResult lowered = Lower(*checked.checked, p, sources.file(file));
    REQUIRE(lowered.ok());
    return std::move(lowered.function);
  }
  FAIL("no plan " << name);
  return {};
}

std::string ReadPlan(const std::string& relative) {
  std::ifstream in(fs::path(TARIFF_SOURCE_DIR) / relative);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const plot::Chart& ChartOf(const plot::PlotSet& set, const std::string& charge) {
  for (const plot::Chart& c : set.charts) {
    if (c.charge == charge) return c;
  }
  FAIL("no chart of " << charge);
  return set.charts.front();
}

// The line's amount at quantity `q` (exactly as sampled), or "-" when `q` was not sampled.
std::string AmountAt(const plot::Chart& c, const std::string& q, bool step_side = false) {
  for (const plot::Sample& s : c.samples) {
    if (s.quantity == ExactNumber(Decimal::FromString(q)) && s.step_side == step_side) return s.amount.ToString();
  }
  return "-";
}

std::vector<std::string> MarkLabels(const plot::Chart& c) {
  std::vector<std::string> out;
  for (const plot::Mark& m : c.marks) out.push_back(m.label);
  return out;
}

// Every `<line class="mark" x1="X"` of the chart's SVG, X as written.
std::vector<std::string> MarkXs(const std::string& svg) {
  std::vector<std::string> out;
  const std::regex re(R"re(<line class="mark" x1="([0-9.]+)")re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it) out.push_back((*it)[1]);
  return out;
}

struct RunResult {
  int code;
  std::string out, err;
};

RunResult RunTariff(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = driver::Run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("plot: AWS Lambda's Duration, graduated tiers with a free allowance") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/aws-lambda/aws-lambda.tariff"), "aws-lambda-x86");
  plot::PlotOptions options;
  options.charge = "Duration";
  const plot::PlotSet set = plot::SamplePlan(fn, options);
  REQUIRE(set.charts.size() == 1);
  const plot::Chart& c = set.charts.front();
  CHECK(c.kind == "graduated tiers");
  CHECK(c.currency == "USD");
  // The bounds as the plan writes them, in GiB·s.
  CHECK(MarkLabels(c) == std::vector<std::string>{"up to 400,000", "up to 6,000,000,000", "up to 15,000,000,000"});
  // 1.5 × the last bound (22.5 billion) up to a round 25 billion.
  CHECK(c.samples.front().quantity == ExactNumber(0));
  CHECK(c.samples.back().quantity == ExactNumber(Decimal::FromString("25000000000")));
  // (6,000,000,000 − 400,000) × 0.0000166667 = 99,993.53332 → 99,993.53 (half up to the cent);
  // + 9,000,000,000 × 0.000015 = 234,993.53; + 10,000,000,000 × 0.0000133334 = 368,327.53.
  CHECK(AmountAt(c, "400000") == "0.00");
  CHECK(AmountAt(c, "6000000000") == "99993.53");
  CHECK(AmountAt(c, "15000000000") == "234993.53");
  CHECK(AmountAt(c, "25000000000") == "368327.53");
  CHECK(AmountAt(c, "12500000000") == "197493.53");  // a grid point: 6e9 → 12.5e9 at 0.000015
  // Just past a bound (epsilon: 25e9 ÷ 10^7 = 2500 down to a power of ten, 1000 GiB·s): the next
  // tier's price, no jump: + 1,000 × 0.000015 = 0.015 → 99,993.54832 → 99,993.55.
  CHECK(AmountAt(c, "6000001000", true) == "99993.55");
  // The marginal price over the last tier is its price exactly: the fine amounts' slope.
  const plot::Sample& a = c.samples[c.samples.size() - 2];
  const plot::Sample& b = c.samples.back();
  const ExactNumber slope = ExactNumber::Quotient(b.fine - a.fine, b.quantity - a.quantity);
  CHECK(slope == ExactNumber(Decimal::FromString("0.0000133334")));

  const std::string svg = plot::RenderSvg(set);
  // x = 96 + q ÷ 25e9 × 760: 400,000 → 96.01; 6e9 → 278.40; 15e9 → 552.00.
  CHECK(MarkXs(svg) == std::vector<std::string>{"96.01", "278.40", "552.00"});
  CHECK(svg.find(">up to 6,000,000,000 GiB·s</text>") != std::string::npos);
  // Prices per a million GiB·s: the marginal price of the first paid tier is 16.6667 USD.
  CHECK(svg.find("prices in USD per 1,000,000 GiB·s") != std::string::npos);
  CHECK(svg.find("<title>up to 6,000,000,000 GiB·s: 99,993.53 USD</title>") != std::string::npos);
  CHECK(svg.find("at 25,000,000,000 GiB·s: 368,327.53 USD") != std::string::npos);
  // The one panel starts at y 56: its plot spans y 206 (top) to 476 (bottom). Amounts on 0..400k
  // (ticks of 100k): 234,993.53332 at 15e9 is 476 − 234,993.53332 ÷ 400,000 × 270 = 317.38.
  // Prices on 0..20 per 1,000,000 GiB·s (ticks of 5; the highest, 16.6667, × 1.1): the last
  // tier's 13.3334 is 476 − 13.3334 ÷ 20 × 270 = 296.00, to the plot's right edge (x 856).
  CHECK(svg.find(R"(<circle class="mark-amount" cx="552.00" cy="317.38" r="3.5")") != std::string::npos);
  CHECK(svg.find(" 856.00,296.00\"/>") != std::string::npos);
  CHECK(svg.find(R"(>400k</text>)") != std::string::npos);
  CHECK(svg.find(R"(>25B</text>)") != std::string::npos);
  // Deterministic: the same set, the same bytes.
  CHECK(plot::RenderSvg(plot::SamplePlan(fn, options)) == svg);
}

TEST_CASE("plot: volume tiers jump at their bounds (Lago's API calls, Stripe's seats)") {
  const ir::RatingFunction lago = CompileNamed(ReadPlan("plans/lago-charges/lago-charges.tariff"), "lago-volume");
  const plot::PlotSet set = plot::SamplePlan(lago, {});
  const plot::Chart& c = ChartOf(set, "API calls");
  CHECK(c.kind == "volume tiers");
  CHECK(MarkLabels(c) == std::vector<std::string>{"up to 10,000", "up to 50,000", "up to 100,000"});
  CHECK(c.samples.back().quantity == ExactNumber(200000));  // 1.5 × 100,000 → 200,000
  // 10,000 × 0.0010 + 10 = 20.00; just past it (epsilon 0.01) the whole usage at 0.0008: 18.00.
  CHECK(AmountAt(c, "10000") == "20.00");
  CHECK(AmountAt(c, "10000.01", true) == "18.00");
  CHECK(AmountAt(c, "50000") == "50.00");
  CHECK(AmountAt(c, "50000.01", true) == "40.00");
  CHECK(AmountAt(c, "200000") == "90.00");

  const ir::RatingFunction stripe = CompileNamed(ReadPlan("plans/stripe-tiers/stripe-tiers.tariff"), "stripe-volume");
  const plot::PlotSet seats = plot::SamplePlan(stripe, {});
  const plot::Chart& w = ChartOf(seats, "Seats");  // priced by subscription.seats
  CHECK(w.quantity_label == "subscription.seats");
  CHECK(MarkLabels(w) == std::vector<std::string>{"up to 5", "up to 10"});
  CHECK(w.samples.back().quantity == ExactNumber(20));  // 1.5 × 10 → 20
  CHECK(AmountAt(w, "5") == "35.00");
  CHECK(AmountAt(w, "5.000001", true) == "32.50");
  CHECK(AmountAt(w, "10") == "65.00");
  CHECK(AmountAt(w, "10.000001", true) == "60.00");
  CHECK(AmountAt(w, "20") == "120.00");
}

TEST_CASE("plot: bounds too close to label above the plot are listed under it (CloudFront)") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/aws-cloudfront/aws-cloudfront.tariff"), "aws-cloudfront-north-america");
  plot::PlotOptions options;
  options.charge = "Data transfer out";
  const plot::PlotSet set = plot::SamplePlan(fn, options);
  REQUIRE(set.charts.size() == 1);
  CHECK(set.charts.front().marks.size() == 7);
  const std::string svg = plot::RenderSvg(set);
  CHECK(MarkXs(svg).size() == 7);  // every bound has its line
  // Three rows of labels hold four; the three left over are named in the note line.
  CHECK(svg.find("also marked: up to 153,600 GiB, up to 512,000 GiB, up to 1,048,576 GiB") != std::string::npos);
  CHECK(svg.find(">up to 5,242,880 GiB</text>") != std::string::npos);
}

TEST_CASE("plot: tiers that say `beyond: error` end the chart at their last bound") {
  const std::string path = std::string(TARIFF_SOURCE_DIR) + "/plans/orb-metronome/orb-metronome.tariff";
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/orb-metronome/orb-metronome.tariff"), "orb-bulk-bounded");
  const plot::PlotSet set = plot::SamplePlan(fn, {});
  const plot::Chart& c = ChartOf(set, "Widgets");
  CHECK(MarkLabels(c) == std::vector<std::string>{"up to 10", "limit 1,000"});
  CHECK(c.samples.back().quantity == ExactNumber(1000));  // not 1.5 × 1,000: the engine stops past it
  CHECK(AmountAt(c, "1000") == "400.00");                 // volume: 1,000 × 0.40
  CHECK(c.notes.front() == "rating stops past 1,000 widget (`beyond: error`)");
  // Asked past it, the engine's error, exit 1.
  const fs::path out = fs::temp_directory_path() / "tariff-plot-beyond.svg";
  const RunResult r = RunTariff({"plot", path, "--plan", "orb-bulk-bounded", "--range", "0..2000", "--out", out.string()});
  CHECK(r.code == driver::kExitFailure);
  CHECK(r.err.find("rating a sampled quantity stopped") != std::string::npos);
  CHECK(r.err.find("beyond: error") != std::string::npos);
  CHECK(!fs::exists(out));
}

TEST_CASE("plot: a package price with an allowance steps at every package") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/lago-charges/lago-charges.tariff"), "lago-package");
  const plot::PlotSet set = plot::SamplePlan(fn, {});
  const plot::Chart& c = ChartOf(set, "API calls");
  CHECK(MarkLabels(c) == std::vector<std::string>{"included 100"});
  // The allowance plus ten packages of 100: 1,100 calls, up to a round 2,000.
  CHECK(c.samples.back().quantity == ExactNumber(2000));
  CHECK(AmountAt(c, "100") == "0.00");
  CHECK(AmountAt(c, "100.0001", true) == "5.00");  // epsilon 2000 ÷ 10^7 → 0.0001
  CHECK(AmountAt(c, "1100") == "50.00");
  CHECK(AmountAt(c, "1100.0001", true) == "55.00");
  CHECK(AmountAt(c, "2000") == "95.00");
}

TEST_CASE("plot: a per-event fee against the event's amount, a recurring fee skipped") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/api-platform/api-platform.tariff"), "api-platform");
  const plot::PlotSet set = plot::SamplePlan(fn, {});
  const plot::Chart& c = ChartOf(set, "Processing");
  CHECK(c.kind == "per event");
  CHECK(c.quantity_label == "payment.amount");
  CHECK(c.unit == "USD");
  // 1 USD pays 0.329 USD: the range reaches a fee of about 100 USD (303.95 USD) → 500 USD.
  CHECK(c.samples.back().quantity == ExactNumber(500));
  CHECK(AmountAt(c, "500") == "14.80");  // 500 × 2.9% + 0.30
  CHECK(AmountAt(c, "100") == "3.20");
  bool platform_skipped = false;
  for (const plot::Skipped& s : set.skipped) {
    if (s.charge == "Platform") platform_skipped = s.reason.find("recurring fee") != std::string::npos;
  }
  CHECK(platform_skipped);
  // Prices of money in money are percentages.
  CHECK(plot::RenderSvg(set).find("prices in %") != std::string::npos);
}

TEST_CASE("plot: a per-event fee of a sum of fields is plotted against the sum (Etsy's fees)") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/marketplace-fees/marketplace-fees.tariff"), "etsy-seller-fees");
  const plot::PlotSet set = plot::SamplePlan(fn, {});
  const plot::Chart& t = ChartOf(set, "Transaction fees");  // (order.items + order.shipping) * 6.5%
  CHECK(t.quantity_label == "order.items + order.shipping");
  // 1 USD pays 0.065 USD: a fee of 100 USD at 1,538.46 USD → 2,000 USD.
  CHECK(t.samples.back().quantity == ExactNumber(2000));
  CHECK(AmountAt(t, "2000") == "130.00");
  const plot::Chart& p = ChartOf(set, "Payment processing");  // (items + shipping + sales_tax) * 3% + 0.25 USD
  CHECK(p.quantity_label == "order.items + order.shipping + order.sales_tax");
  CHECK(AmountAt(p, "500") == "15.25");
  // min((items + shipping) × 15%, 100.00 USD): capped from 100 ÷ 15% = 666⅔ USD, shown as such.
  const plot::Chart& ads = ChartOf(set, "Offsite Ads");
  CHECK(MarkLabels(ads) == std::vector<std::string>{"cap from \u2248 666.666667"});
  CHECK(ads.samples.back().quantity == ExactNumber(1000));  // 1.5 × 666⅔ = 1,000
  CHECK(AmountAt(ads, "500") == "75.00");
  CHECK(AmountAt(ads, "1000") == "100.00");
  CHECK(set.skipped.empty());
}

TEST_CASE("plot: a match on a text field gives a chart per named value and one for the rest (Stripe's cards)") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/stripe-payments/stripe-payments.tariff"), "stripe-payments-us");
  const plot::PlotSet set = plot::SamplePlan(fn, {});
  REQUIRE(set.charts.size() == 6);
  CHECK(set.charts[0].dimension == "card_payment.presentment_currency = \"USD\"");
  CHECK(set.charts[1].dimension == "card_payment.presentment_currency: any other value");
  // 500 × 2.9% + 0.30 = 14.80; in another currency + 1% = 19.80.
  CHECK(AmountAt(set.charts[0], "500") == "14.80");
  CHECK(AmountAt(set.charts[1], "500") == "19.80");
  // ACH: min(amount × 0.8%, 5.00 USD), capped from 625 USD; the range 1.5 × 625 → 1,000.
  const plot::Chart& ach = ChartOf(set, "ACH Direct Debit");
  CHECK(MarkLabels(ach) == std::vector<std::string>{"cap from 625"});
  CHECK(AmountAt(ach, "500") == "4.00");
  CHECK(AmountAt(ach, "625") == "5.00");
  CHECK(AmountAt(ach, "1000") == "5.00");
}

TEST_CASE("plot: a matrix price gives a chart per value (telecom calls by destination)") {
  const ir::RatingFunction fn = CompileNamed(ReadPlan("plans/telecom-calls/telecom-calls.tariff"), "telecom");
  const plot::PlotSet set = plot::SamplePlan(fn, {});
  REQUIRE(set.charts.size() == 3);
  CHECK(set.charts[0].dimension == "call.destination = \"mobile\"");
  CHECK(set.charts[2].dimension == "call.destination = \"international\"");
  const plot::Chart& mobile = set.charts[0];
  // Against the call's duration in the unit the prices are written in (GBP per min), not seconds.
  CHECK(mobile.unit == "min");
  CHECK(mobile.samples.back().quantity == ExactNumber(10));  // ten started minutes
  // max(round_up(duration, 60 s), 60 s) × 0.10 GBP per min: a 1-minute minimum, then per started minute.
  CHECK(AmountAt(mobile, "0") == "0.10");
  CHECK(AmountAt(mobile, "1") == "0.10");
  CHECK(AmountAt(mobile, "1.000001", true) == "0.20");
  CHECK(AmountAt(set.charts[2], "10") == "6.00");
  CHECK(mobile.notes.back().find("each started package of 1 min") != std::string::npos);
  // "Line rental" is a recurring fee; "Texts" adds two meters.
  REQUIRE(set.skipped.size() == 2);
  CHECK(set.skipped[0].charge == "Line rental");
  CHECK(set.skipped[1].charge == "Texts");
  CHECK(set.skipped[1].reason.find("2 quantities (`roaming_texts`, `texts`)") != std::string::npos);
}

TEST_CASE("plot: --range, text escaped, several quantities skipped") {
  const ir::RatingFunction fn = CompileNamed(R"tariff(
plan "R&D <beta>" {
  currency EUR
  period month
  unit call
  event call {
    size: quantity of call
  }
  meter calls = sum(call.size)
  meter big = max(call.size)
  charge "Calls & \"more\"" = graduated calls {
    up to 10 call  1.00 EUR per call
    above          0.50 EUR per call
  }
  charge "Two meters" = calls * 1.00 EUR per call + big * 2.00 EUR per call
}
)tariff",
                                              "R&D <beta>");
  plot::PlotOptions options;
  options.low = Decimal(5);
  options.high = Decimal(25);
  const plot::PlotSet set = plot::SamplePlan(fn, options);
  REQUIRE(set.charts.size() == 1);
  const plot::Chart& c = set.charts.front();
  CHECK(c.samples.front().quantity == ExactNumber(5));
  CHECK(c.samples.back().quantity == ExactNumber(25));
  CHECK(AmountAt(c, "5") == "5.00");
  CHECK(AmountAt(c, "25") == "17.50");  // 10 + 15 × 0.50
  REQUIRE(set.skipped.size() == 1);
  CHECK(set.skipped.front().charge == "Two meters");
  CHECK(set.skipped.front().reason.find("2 quantities (`big`, `calls`)") != std::string::npos);
  const std::string svg = plot::RenderSvg(set);
  CHECK(svg.find("Plan \u201cR&amp;D &lt;beta&gt;\u201d") != std::string::npos);
  CHECK(svg.find("\u201cCalls &amp; &quot;more&quot;\u201d") != std::string::npos);
  CHECK(svg.find("R&D") == std::string::npos);
  // x of the bound at 10 in 5..25: 96 + 5 ÷ 20 × 760 = 286.00.
  CHECK(MarkXs(svg) == std::vector<std::string>{"286.00"});
  CHECK(plot::XmlEscape("a<b>&'\"") == "a&lt;b&gt;&amp;&#39;&quot;");
}

TEST_CASE("plot: the command line's errors and exit codes") {
  const std::string lambda = std::string(TARIFF_SOURCE_DIR) + "/plans/aws-lambda/aws-lambda.tariff";
  const fs::path dir = fs::temp_directory_path() / "tariff-plot-test";
  fs::create_directories(dir);
  const std::string out = (dir / "lambda.svg").string();

  auto r = RunTariff({"plot", lambda, "--charge", "Durations", "--out", out});
  CHECK(r.code == driver::kExitUsage);
  CHECK(r.err.find("no charge \"Durations\" (charges: \"Requests\", \"Duration\")") != std::string::npos);
  r = RunTariff({"plot", lambda, "--plan", "aws-lambda-arm", "--out", out});
  CHECK(r.code == driver::kExitUsage);
  CHECK(r.err.find("has no plan \"aws-lambda-arm\" (it has \"aws-lambda-x86\")") != std::string::npos);
  for (const char* range : {"10", "5..2", "-1..3", "a..b", "1..1"}) {
    r = RunTariff({"plot", lambda, "--range", range, "--out", out});
    CHECK(r.code == driver::kExitUsage);
    CHECK(r.err.find("--range") != std::string::npos);
  }
  r = RunTariff({"plot", lambda, "--out", (dir / "lambda.txt").string()});
  CHECK(r.code == driver::kExitUsage);
  r = RunTariff({"plot", (dir / "missing.tariff").string(), "--out", out});
  CHECK(r.code == driver::kExitUsage);
  r = RunTariff({"plot", std::string(TARIFF_SOURCE_DIR) + "/plans/lago-charges/lago-charges.tariff", "--out", out});
  CHECK(r.code == driver::kExitUsage);  // several plans and no --plan

  r = RunTariff({"plot", lambda, "--range", "0..1e37", "--out", out});  // past 38 digits once in s·MiB
  CHECK(r.code == driver::kExitFailure);
  CHECK(r.err.find("plot a smaller --range") != std::string::npos);

  r = RunTariff({"plot", lambda, "--out", out});
  CHECK(r.code == driver::kExitOk);
  CHECK(r.err.find("wrote " + out + ": 2 charts: \"Requests\", \"Duration\"") != std::string::npos);
  std::ifstream in(out);
  std::ostringstream svg;
  svg << in.rdbuf();
  CHECK(svg.str().rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"1096\"", 0) == 0);
  r = RunTariff({"plot", lambda, "--range", "0..1000000", "--charge", "Requests", "--out", out});
  CHECK(r.code == driver::kExitOk);
  fs::remove_all(dir);
}
