// tools/driver: `tariff diff OLD NEW --usage FILE...` — the revenue effect of a price change. Both
// plans (two files, two plans of one file, or two versions of one plan) rate the same usage
// through the same pipeline as `tariff rate`; per customer the old and new totals and the change,
// and a summary: revenue before and after, how many customers pay more, less or the same,
// percentiles of the change, the largest movers and the change per charge. Every figure is exact
// (Decimal and ExactNumber arithmetic on the invoices' amounts); a percentage is the one value
// rounded, half-even to 2 decimals, for display.
#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/decimal/fraction.h"
#include "runtime/io/invoice_writer.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/rating.h"

namespace tariff::driver {
namespace {

struct CustomerChange {
  std::string customer;
  Decimal before, after;  // totals (zero for a customer one plan does not bill)
  ExactNumber change;     // after - before
};

struct ChargeChange {
  std::string name;
  ExactNumber before, after;
};

struct DiffResult {
  std::string currency;
  int scale = 0;  // the invoices' totals' decimals: sums of nothing are shown at it (0.00, not 0)
  std::vector<CustomerChange> customers;  // by customer id
  std::vector<ChargeChange> charges;      // by first appearance (old plan's lines first)
  ExactNumber before, after;
  int more = 0, less = 0, same = 0;
};

// "+1.50" / "-1.50" / "0.00": a change with its sign.
std::string Signed(const ExactNumber& v) {
  const std::string text = v.Shown().ToString();
  return v.sign() > 0 ? "+" + text : text;
}

// change ÷ before × 100, half-even to 2 decimals; "" when before is zero.
std::string Percent(const ExactNumber& change, const ExactNumber& before) {
  if (before.is_zero()) return "";
  const ExactNumber p = ExactNumber::Quotient(change * ExactNumber(100), before);
  const std::string text = p.Round(2, RoundingMode::kHalfEven).ToString();
  return p.sign() > 0 ? "+" + text + "%" : text + "%";
}

DiffResult Compare(const std::vector<Invoice>& old_invoices, const std::vector<Invoice>& new_invoices) {
  DiffResult r;
  std::map<std::string, CustomerChange> by_customer;
  std::map<std::string, std::size_t> charge_index;
  auto add_lines = [&](const Invoice& inv, bool is_new) {
    for (const InvoiceLine& l : inv.lines) {
      auto [it, inserted] = charge_index.emplace(l.name, r.charges.size());
      if (inserted) r.charges.push_back({l.name, ExactNumber(), ExactNumber()});
      ChargeChange& c = r.charges[it->second];
      (is_new ? c.after : c.before) = (is_new ? c.after : c.before) + ExactNumber(l.amount);
    }
  };
  for (const bool is_new : {false, true}) {
    for (const Invoice& inv : is_new ? new_invoices : old_invoices) {
      CustomerChange& c = by_customer[inv.customer];
      c.customer = inv.customer;
      // Added up: a customer's invoices issued at changes (`on change prorate now`) with its own.
      (is_new ? c.after : c.before) = (is_new ? c.after : c.before) + inv.total;
      if (r.currency.empty()) r.currency = inv.currency;
      r.scale = std::max(r.scale, static_cast<int>(inv.total.scale()));
      add_lines(inv, is_new);
    }
  }
  for (auto& [id, c] : by_customer) {
    c.change = ExactNumber(c.after) - ExactNumber(c.before);
    r.before = r.before + ExactNumber(c.before);
    r.after = r.after + ExactNumber(c.after);
    if (c.change.sign() > 0) ++r.more;
    else if (c.change.sign() < 0) ++r.less;
    else ++r.same;
    r.customers.push_back(c);
  }
  return r;
}

// The nearest-rank percentile of sorted values: the value at rank ceil(p/100 × N), 1-based.
const ExactNumber& Percentile(const std::vector<ExactNumber>& sorted, int p) {
  const std::size_t n = sorted.size();
  std::size_t rank = (static_cast<std::size_t>(p) * n + 99) / 100;
  rank = std::max<std::size_t>(rank, 1);
  return sorted[std::min(rank, n) - 1];
}

constexpr int kPercentiles[] = {0, 10, 25, 50, 75, 90, 100};

std::vector<ExactNumber> SortedChanges(const DiffResult& r) {
  std::vector<ExactNumber> v;
  for (const CustomerChange& c : r.customers) v.push_back(c.change);
  std::sort(v.begin(), v.end(), [](const ExactNumber& a, const ExactNumber& b) { return a < b; });
  return v;
}

// The `top` customers whose totals rose most (or fell most), ties by customer id.
std::vector<const CustomerChange*> Movers(const DiffResult& r, std::size_t top, bool up) {
  std::vector<const CustomerChange*> v;
  for (const CustomerChange& c : r.customers) {
    if (up ? c.change.sign() > 0 : c.change.sign() < 0) v.push_back(&c);
  }
  std::stable_sort(v.begin(), v.end(), [up](const CustomerChange* a, const CustomerChange* b) {
    return up ? b->change < a->change : a->change < b->change;
  });
  if (v.size() > top) v.resize(top);
  return v;
}

std::string Table(const DiffResult& r, std::size_t top) {
  std::ostringstream out;
  const std::string& cur = r.currency;
  const ExactNumber change = r.after - r.before;
  out << fmt::format("revenue     {} {} -> {} {}  ({} {}{})\n", r.before.Shown(r.scale).ToString(), cur, r.after.Shown(r.scale).ToString(), cur,
                     Signed(change), cur, Percent(change, r.before).empty() ? "" : ", " + Percent(change, r.before));
  out << fmt::format("customers   {}: {} pay more, {} less, {} the same\n", r.customers.size(), r.more, r.less, r.same);
  if (!r.customers.empty()) {
    const std::vector<ExactNumber> sorted = SortedChanges(r);
    std::string line;
    for (int p : kPercentiles) {
      const char* label = p == 0 ? "min" : p == 100 ? "max" : nullptr;
      line += fmt::format("  {} {}", label != nullptr ? std::string(label) : fmt::format("p{}", p), Signed(Percentile(sorted, p)));
    }
    out << fmt::format("change ({}) {}\n", cur, line.substr(2));
  }
  out << "\nper charge\n";
  std::size_t width = 0;
  for (const ChargeChange& c : r.charges) width = std::max(width, c.name.size() + 2);
  for (const ChargeChange& c : r.charges) {
    out << fmt::format("  {:<{}}  {:>14} -> {:>14}  {:>14}\n", "\"" + c.name + "\"", width, c.before.Shown(r.scale).ToString(),
                       c.after.Shown(r.scale).ToString(), Signed(c.after - c.before));
  }
  for (bool up : {true, false}) {
    const auto movers = Movers(r, top, up);
    out << fmt::format("\nlargest {}\n", up ? "increases" : "decreases");
    if (movers.empty()) out << "  (none)\n";
    std::size_t w = 0;
    for (const CustomerChange* c : movers) w = std::max(w, c->customer.size());
    for (const CustomerChange* c : movers) {
      const std::string pct = Percent(c->change, c->before);
      out << fmt::format("  {:<{}}  {:>14} -> {:>14}  {:>14}{}\n", c->customer, w, ExactNumber(c->before).Shown(r.scale).ToString(), ExactNumber(c->after).Shown(r.scale).ToString(),
                         Signed(c->change), pct.empty() ? "" : "  " + pct);
    }
  }
  return out.str();
}

std::string Csv(const DiffResult& r) {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string out = "customer,currency,old_total,new_total,change,change_percent\n";
  for (const CustomerChange& c : r.customers) {
    out += fmt::format("{},{},{},{},{},{}\n", quote(c.customer), r.currency, ExactNumber(c.before).Shown(r.scale).ToString(), ExactNumber(c.after).Shown(r.scale).ToString(),
                       c.change.Shown().ToString(), Percent(c.change, c.before));
  }
  return out;
}

nlohmann::json SummaryJson(const DiffResult& r, std::size_t top) {
  nlohmann::json s;
  s["kind"] = "summary";
  s["currency"] = r.currency;
  s["customers"] = r.customers.size();
  s["old_revenue"] = r.before.Shown(r.scale).ToString();
  s["new_revenue"] = r.after.Shown(r.scale).ToString();
  s["change"] = (r.after - r.before).Shown(r.scale).ToString();
  const std::string pct = Percent(r.after - r.before, r.before);
  s["change_percent"] = pct.empty() ? nlohmann::json(nullptr) : nlohmann::json(pct);
  s["pay_more"] = r.more;
  s["pay_less"] = r.less;
  s["pay_same"] = r.same;
  if (!r.customers.empty()) {
    const std::vector<ExactNumber> sorted = SortedChanges(r);
    nlohmann::json p;
    for (int q : kPercentiles) p[fmt::format("p{}", q)] = Percentile(sorted, q).Shown().ToString();
    s["change_percentiles"] = p;
  }
  nlohmann::json charges = nlohmann::json::array();
  for (const ChargeChange& c : r.charges) {
    charges.push_back({{"name", c.name}, {"old", c.before.Shown(r.scale).ToString()}, {"new", c.after.Shown(r.scale).ToString()},
                       {"change", (c.after - c.before).Shown(r.scale).ToString()}});
  }
  s["charges"] = charges;
  for (bool up : {true, false}) {
    nlohmann::json movers = nlohmann::json::array();
    for (const CustomerChange* c : Movers(r, top, up)) movers.push_back(c->customer);
    s[up ? "largest_increases" : "largest_decreases"] = movers;
  }
  return s;
}

std::string Jsonl(const DiffResult& r, std::size_t top) {
  std::string out;
  for (const CustomerChange& c : r.customers) {
    const std::string pct = Percent(c.change, c.before);
    nlohmann::json j = {{"kind", "customer"}, {"customer", c.customer}, {"currency", r.currency}, {"old_total", ExactNumber(c.before).Shown(r.scale).ToString()},
                        {"new_total", ExactNumber(c.after).Shown(r.scale).ToString()}, {"change", c.change.Shown().ToString()},
                        {"change_percent", pct.empty() ? nlohmann::json(nullptr) : nlohmann::json(pct)}};
    out += j.dump() + "\n";
  }
  out += SummaryJson(r, top).dump() + "\n";
  return out;
}

// An SVG histogram of the per-customer change: `bins` equal bins from the smallest change to the
// largest (a customer in a bin by exact arithmetic), the count above each bar, the bins' bounds
// along the axis, and zero marked.
std::string Histogram(const DiffResult& r, int bins) {
  const std::vector<ExactNumber> sorted = SortedChanges(r);
  const double W = 720, H = 360, left = 56, right = 16, top = 40, bottom = 64;
  std::ostringstream svg;
  svg << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  svg << fmt::format("  <rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", W, H);
  svg << fmt::format("  <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Change per customer ({}), {} customers</text>\n", W / 2,
                     r.currency, sorted.size());
  if (sorted.empty()) {
    svg << "</svg>\n";
    return svg.str();
  }
  const ExactNumber& lo = sorted.front();
  const ExactNumber& hi = sorted.back();
  const bool flat = lo == hi;
  if (flat) bins = 1;
  std::vector<std::size_t> counts(static_cast<std::size_t>(bins), 0);
  const ExactNumber span = hi - lo;
  for (const ExactNumber& v : sorted) {
    std::size_t bin = 0;
    if (!flat) {
      const Fraction at = Fraction::Quotient((v - lo).exact() * Fraction(bins), span.exact()).Floor();
      bin = static_cast<std::size_t>(std::min<long long>(bins - 1, std::stoll(at.ToString())));
    }
    ++counts[bin];
  }
  const std::size_t most = *std::max_element(counts.begin(), counts.end());
  const double plot_w = W - left - right, plot_h = H - top - bottom, bar_w = plot_w / bins;
  auto value_at = [&](double x_fraction) {  // for labels only
    return std::stod(lo.Shown().ToString()) + x_fraction * std::stod(span.Shown().ToString());
  };
  for (int b = 0; b < bins; ++b) {
    const double h = most == 0 ? 0 : plot_h * static_cast<double>(counts[static_cast<std::size_t>(b)]) / static_cast<double>(most);
    const double x = left + b * bar_w, y = top + plot_h - h;
    const double mid = value_at((b + 0.5) / bins);
    const char* fill = mid > 0 ? "#d9534f" : mid < 0 ? "#2e86c1" : "#888888";
    svg << fmt::format("  <rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}</title></rect>\n", x + 1, y,
                       std::max(bar_w - 2, 1.0), h, fill, counts[static_cast<std::size_t>(b)]);
    if (counts[static_cast<std::size_t>(b)] > 0) {
      svg << fmt::format("  <text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x + bar_w / 2, y - 4, counts[static_cast<std::size_t>(b)]);
    }
  }
  // Axis and bounds: the lowest, the highest, and zero when it lies between.
  svg << fmt::format("  <line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", left, top + plot_h, W - right, top + plot_h);
  svg << fmt::format("  <text x=\"{}\" y=\"{}\" text-anchor=\"start\">{}</text>\n", left, top + plot_h + 18, Signed(lo));
  svg << fmt::format("  <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", W - right, top + plot_h + 18, Signed(hi));
  if (!flat && lo.sign() < 0 && hi.sign() > 0) {
    const double zero_x = left + plot_w * (-std::stod(lo.Shown().ToString())) / std::stod(span.Shown().ToString());
    svg << fmt::format("  <line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n", zero_x, top, zero_x,
                       top + plot_h + 6);
    svg << fmt::format("  <text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">0</text>\n", zero_x, top + plot_h + 18);
  }
  svg << fmt::format("  <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">change of the invoice total ({}); bars: customers</text>\n", W / 2, H - 18,
                     r.currency);
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace

Action RegisterDiff(CLI::App& app, Streams& streams) {
  struct Options {
    RatingRequest old_request, new_request;
    std::string format = "table";
    std::size_t top = 10;
    std::string histogram;
    int bins = 20;
  };
  auto o = std::make_shared<Options>();
  RatingRequest& r = o->old_request;
  app.add_option("old", r.plan_file, "the plan today (a file; - for standard input)")->required();
  app.add_option("new", o->new_request.plan_file, "the plan proposed (a file, or the same file with --old-version/--new-version)")->required();
  app.add_option("--usage,-u", r.usage, "usage files: .csv, .jsonl or .ndjson (several allowed); - is standard input");
  app.add_option("--usage-format", r.usage_format, "read every usage file as csv or jsonl, whatever its name (needed for -)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  app.add_option("--old-plan", r.plan_name, "the plan in OLD, when the file holds several");
  app.add_option("--new-plan", o->new_request.plan_name, "the plan in NEW, when the file holds several");
  app.add_option("--old-version", r.version, "rate this version of the old plan (as if in force for the whole period)");
  app.add_option("--new-version", o->new_request.version, "rate this version of the new plan (as if in force for the whole period)");
  app.add_option("--period", r.period, "the billing period: START..END (RFC 3339), or one date for the plan's period that contains it");
  app.add_option("--subscriptions", r.subscriptions, "customers' subscriptions (.csv/.jsonl), for both plans");
  app.add_option("--credits", r.credits, "prepaid credit grants (.csv/.jsonl), for both plans");
  app.add_option("--format", o->format, "table (default), jsonl or csv")->check(CLI::IsMember({"table", "jsonl", "csv"}));
  app.add_option("--top", o->top, "how many of the largest increases and decreases to list (default 10)")->check(CLI::Range(0, 1000000));
  app.add_option("--histogram", o->histogram, "write an SVG histogram of the change per customer to this file");
  app.add_option("--bins", o->bins, "the histogram's number of bars (default 20)")->check(CLI::Range(1, 200));

  return [o, &streams]() -> int {
    RatingRequest& old_r = o->old_request;
    RatingRequest& new_r = o->new_request;
    // The same usage, period, subscriptions and credits for both.
    new_r.usage = old_r.usage;
    new_r.usage_format = old_r.usage_format;
    new_r.period = old_r.period;
    new_r.subscriptions = old_r.subscriptions;
    new_r.credits = old_r.credits;
    if (old_r.plan_file == "-" && new_r.plan_file == "-") {
      streams.err << "error: OLD and NEW cannot both be standard input\n";
      return kExitUsage;
    }
    if (std::find(old_r.usage.begin(), old_r.usage.end(), "-") != old_r.usage.end()) {
      streams.err << "error: diff reads the usage twice (once per plan); give it as files, not standard input\n";
      return kExitUsage;
    }
    if (!old_r.subscriptions.empty() && (!old_r.plan_name.empty() || !new_r.plan_name.empty())) {
      // A subscription may name the plan that rates it, which would override --old-plan/--new-plan
      // on both sides and compare a plan with itself.
      streams.err << "error: --old-plan/--new-plan with --subscriptions: the subscriptions choose the plans; compare two files, "
                     "or two versions with --old-version/--new-version\n";
      return kExitUsage;
    }
    if (old_r.plan_file == new_r.plan_file && old_r.plan_name == new_r.plan_name && old_r.version == new_r.version) {
      streams.err << "error: OLD and NEW are the same plan; give two files, --old-plan/--new-plan, or --old-version/--new-version\n";
      return kExitUsage;
    }
    RatingOutcome before, after;
    if (int code = RunRating(old_r, streams, before); code != kExitOk) return code;
    if (int code = RunRating(new_r, streams, after); code != kExitOk) return code;
    for (const auto& [label, outcome] : {std::pair<const char*, RatingOutcome*>{"old", &before}, {"new", &after}}) {
      streams.err << fmt::format("{}: rows read {} = rated {}{} + rejected {} + duplicates {}; {} invoice{}\n", label, outcome->read,
                                 outcome->rated, EarlierRows(*outcome), outcome->read - outcome->rated - outcome->earlier - outcome->duplicates,
                                 outcome->duplicates,
                                 outcome->invoices.size(), outcome->invoices.size() == 1 ? "" : "s");
    }
    if (before.rated != after.rated) {
      streams.err << "warning: the two plans rated different numbers of rows (their events or `where`s differ); "
                     "the change includes what one plan does not rate\n";
    }
    const std::string old_currency = before.invoices.empty() ? "" : before.invoices.front().currency;
    const std::string new_currency = after.invoices.empty() ? "" : after.invoices.front().currency;
    if (!old_currency.empty() && !new_currency.empty() && old_currency != new_currency) {
      streams.err << fmt::format("error: the plans charge in different currencies ({} and {}); a change between them is not a number\n",
                                 old_currency, new_currency);
      return kExitFailure;
    }
    const DiffResult diff = Compare(before.invoices, after.invoices);
    if (diff.customers.empty()) {
      streams.err << "error: neither plan invoiced any customer: nothing to compare (is the usage for the period?)\n";
      return kExitFailure;
    }
    if (!o->histogram.empty()) {
      std::string why;
      if (!WriteFileAtomically(o->histogram, Histogram(diff, o->bins), &why)) {
        streams.err << "error: " << why << "\n";
        return kExitFailure;
      }
    }
    if (o->format == "table") streams.out << Table(diff, o->top);
    if (o->format == "csv") streams.out << Csv(diff);
    if (o->format == "jsonl") streams.out << Jsonl(diff, o->top);
    return kExitOk;
  };
}

}  // namespace tariff::driver
