// tools/driver: `tariff explain PLAN --usage FILE... --customer ID` — why a customer was charged
// what they were (invariant 4, "explained"). The usage is rated as `tariff rate` rates it, with
// the engine tracing one customer; each line of that customer's invoice is printed with the steps
// that computed it (events matched, meter values, conversions, allowances, tiers, packages,
// proration, every rounding, adjustments), each with the plan line it comes from, and the terms
// its amount is the exact sum of. Text for people, JSON for programs (docs/explain.md).
#include <algorithm>
#include <ostream>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compiler/source/source.h"
#include "runtime/decimal/fraction.h"
#include "runtime/invoice/invoice.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/rating.h"

namespace tariff::driver {
namespace {

// `Requests [large, eu]`.
std::string LineTitle(const InvoiceLine& line) {
  std::string title = line.name;
  if (!line.group.empty()) {
    title += " [";
    for (std::size_t g = 0; g < line.group.size(); ++g) title += (g > 0 ? ", " : "") + line.group[g];
    title += "]";
  }
  return title;
}

// `21.75 = 0 (tier 1) + 18.000 (tier 2) - 0.54 (discount)`: the terms with their signs between.
std::string SumText(const std::string& amount, const std::vector<std::pair<std::string, Decimal>>& terms) {
  std::string text = amount + " =";
  if (terms.empty()) return text + " 0 (nothing)";
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const auto& [label, value] = terms[i];
    if (i == 0) {
      text += " " + value.ToString();
    } else {
      text += value.is_negative() ? " - " + value.Abs().ToString() : " + " + value.ToString();
    }
    if (!label.empty()) text += " (" + label + ")";
  }
  return text;
}

// A step's sentence. A rounding whose rule points at the plan's name (not at a `rounding`
// declaration) is the currency's default, and says so: there is no line to look it up on.
std::string StepText(const SourceFile& source, const DerivationStep& step) {
  if (step.kind != "round" || step.source_begin < 0) return step.text;
  const std::string_view text = source.text();
  const auto begin = static_cast<std::size_t>(step.source_begin);
  if (begin < text.size() && text.substr(begin).starts_with("rounding")) return step.text;
  return step.text + " (the plan declares no `rounding`: the default for its currency)";
}

std::string Location(const SourceFile& source, const DerivationStep& step) {
  if (step.source_begin < 0) return "";
  LineColumn lc = source.At(static_cast<std::uint32_t>(step.source_begin));
  return fmt::format("[{}:{}]", lc.line, lc.column);
}

void WriteText(const Invoice& inv, const SourceFile& source, std::ostream& out) {
  out << fmt::format("customer  {}\n", inv.customer);
  out << fmt::format("plan      {} ({})\n", inv.plan, source.path());
  out << fmt::format("period    {}\n", inv.period_start.empty() && inv.period_end.empty()
                                          ? std::string("(not given)")
                                          : fmt::format("{} to {}", inv.period_start, inv.period_end));
  if (inv.kind.empty() && !inv.issued_at.empty()) {
    out << fmt::format("issued    {} (an invoice at a change, `on change prorate now`: only the change's proration lines)\n",
                       inv.issued_at);
  }
  out << fmt::format("currency  {}\n", inv.currency);
  if (!inv.kind.empty()) out << fmt::format("invoice   {}, issued at {}\n", inv.kind, inv.issued_at);
  std::vector<std::pair<std::string, Decimal>> line_terms;
  for (const InvoiceLine& line : inv.lines) {
    out << "\n";
    std::string header = fmt::format("{}: {} {}", LineTitle(line), line.amount.ToString(), inv.currency);
    if (line.kind != LineKind::kCharge) header += fmt::format(" ({})", LineKindName(line.kind));
    if (!line.rated_by.empty() || !line.from.empty()) {
      header += fmt::format("  [{}{}{}]", line.rated_by.empty() ? "" : "rated by " + line.rated_by,
                            !line.rated_by.empty() && !line.from.empty() ? ", " : "",
                            line.from.empty() ? "" : fmt::format("{} to {}", line.from, line.to));
    }
    out << header << "\n";
    line_terms.emplace_back(LineTitle(line), line.amount);
    if (!line.derivation) {
      out << "  (no derivation)\n";
      continue;
    }
    const Derivation& d = *line.derivation;
    std::size_t width = 0;
    for (const DerivationStep& step : d.steps) width = std::max(width, Location(source, step).size());
    const int number_width = d.steps.size() >= 10 ? 2 : 1;
    for (std::size_t i = 0; i < d.steps.size(); ++i) {
      const std::string where = Location(source, d.steps[i]);
      if (width == 0) {
        out << fmt::format("  {:>{}}. {}\n", i + 1, number_width, StepText(source, d.steps[i]));
      } else {
        out << fmt::format("  {:>{}}. {:<{}}  {}\n", i + 1, number_width, where, width, StepText(source, d.steps[i]));
      }
    }
    std::vector<std::pair<std::string, Decimal>> terms;
    for (const DerivationTerm& t : d.terms) terms.emplace_back(t.label, t.amount);
    out << "  " << SumText(line.amount.ToString(), terms) << "\n";
  }
  out << "\n" << "total " << SumText(fmt::format("{} {}", inv.total.ToString(), inv.currency), line_terms) << "\n";
  if (!inv.subtotals.empty()) {
    // Sums of lines above, in the plan's order; the total does not include them again.
    out << "\nsubtotals (sums of the lines above, not added to the total):\n";
    for (const InvoiceSubtotal& st : inv.subtotals) {
      std::vector<std::pair<std::string, Decimal>> terms;
      for (std::size_t i : st.lines) terms.emplace_back(LineTitle(inv.lines[i]), inv.lines[i].amount);
      std::string where;
      if (st.source_begin >= 0) {
        LineColumn lc = source.At(static_cast<std::uint32_t>(st.source_begin));
        where = fmt::format("  [{}:{}]", lc.line, lc.column);
      }
      std::string of;
      for (const std::string& p : st.parts) of += (of.empty() ? "" : ", ") + ("\"" + p + "\"");
      out << fmt::format("  {}: {}{}\n", st.name, SumText(fmt::format("{} {}", st.amount.ToString(), inv.currency), terms), where);
      if (st.lines.empty()) out << fmt::format("    (no line of the invoice is {})\n", of);
    }
  }
  if (!inv.credits.empty()) {
    out << "\ncredits, in the order drawn (balance - used = remaining):\n";
    for (const CreditBalance& b : inv.credits) {
      std::string note = b.expires.empty() ? std::string("never expires") : "expires " + b.expires;
      note += fmt::format(", priority {}", b.priority);
      if (b.expired) note += ", expired before the period: not drawn";
      else if (b.used.is_zero() && b.before.sign() > 0) note += ", not needed: nothing left to pay";
      out << fmt::format("  {}: {} - {} = {} {} ({})\n", b.id, b.before.ToString(), b.used.ToString(), b.remaining.ToString(),
                         inv.currency, note);
    }
  }
}

nlohmann::ordered_json StepJson(const SourceFile& source, const DerivationStep& step) {
  nlohmann::ordered_json j;
  j["kind"] = step.kind;
  j["text"] = StepText(source, step);
  if (step.value) j["value"] = step.value->ToString();
  if (step.value && !step.unit.empty()) j["unit"] = step.unit;
  if (step.before) j["before"] = step.before->ToString();
  if (!step.mode.empty()) j["mode"] = step.mode;
  if (step.scale >= 0) j["scale"] = step.scale;
  if (!step.operands.empty()) {
    nlohmann::ordered_json operands = nlohmann::ordered_json::array();
    for (const auto& o : step.operands) {
      nlohmann::ordered_json x;
      x["name"] = o.name;
      x["value"] = o.value;
      if (!o.unit.empty()) x["unit"] = o.unit;
      operands.push_back(std::move(x));
    }
    j["operands"] = std::move(operands);
  }
  if (step.source_begin >= 0) {
    LineColumn begin = source.At(static_cast<std::uint32_t>(step.source_begin));
    LineColumn end = source.At(static_cast<std::uint32_t>(std::max(step.source_begin, step.source_end)));
    j["source"] = {{"line", begin.line}, {"column", begin.column}, {"end_line", end.line}, {"end_column", end.column}};
  }
  return j;
}

nlohmann::ordered_json InvoiceJson(const Invoice& inv, const SourceFile& source) {
  nlohmann::ordered_json j;
  if (!inv.kind.empty()) {
    j["kind"] = inv.kind;
    j["issued_at"] = inv.issued_at;
  }
  j["customer"] = inv.customer;
  j["plan"] = inv.plan;
  j["period"] = {{"start", inv.period_start}, {"end", inv.period_end}};
  if (!inv.issued_at.empty()) j["issued_at"] = inv.issued_at;
  j["currency"] = inv.currency;
  j["total"] = inv.total.ToString();
  nlohmann::ordered_json lines = nlohmann::ordered_json::array();
  for (const InvoiceLine& line : inv.lines) {
    nlohmann::ordered_json l;
    l["kind"] = LineKindName(line.kind);
    l["name"] = line.name;
    l["group"] = line.group;
    if (line.has_quantity) {
      l["quantity"] = line.quantity.ToString();
      l["unit"] = line.unit;
    }
    if (!line.rated_by.empty()) l["rated_by"] = line.rated_by;
    if (!line.from.empty()) {
      l["from"] = line.from;
      l["to"] = line.to;
    }
    l["amount"] = line.amount.ToString();
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    nlohmann::ordered_json terms = nlohmann::ordered_json::array();
    if (line.derivation) {
      for (const DerivationStep& step : line.derivation->steps) steps.push_back(StepJson(source, step));
      for (const DerivationTerm& t : line.derivation->terms) terms.push_back({{"label", t.label}, {"amount", t.amount.ToString()}});
    }
    l["steps"] = std::move(steps);
    l["terms"] = std::move(terms);
    lines.push_back(std::move(l));
  }
  j["lines"] = std::move(lines);
  if (!inv.subtotals.empty()) {
    nlohmann::ordered_json subtotals = nlohmann::ordered_json::array();
    for (const InvoiceSubtotal& st : inv.subtotals) {
      nlohmann::ordered_json s;
      s["name"] = st.name;
      s["of"] = st.parts;
      s["amount"] = st.amount.ToString();
      nlohmann::ordered_json indexes = nlohmann::ordered_json::array();
      for (std::size_t i : st.lines) indexes.push_back(i);  // into "lines"
      s["lines"] = std::move(indexes);
      if (st.source_begin >= 0) {
        LineColumn lc = source.At(static_cast<std::uint32_t>(st.source_begin));
        s["source"] = {{"line", lc.line}, {"column", lc.column}};
      }
      subtotals.push_back(std::move(s));
    }
    j["subtotals"] = std::move(subtotals);
  }
  if (!inv.credits.empty()) {
    nlohmann::ordered_json credits = nlohmann::ordered_json::array();
    for (const CreditBalance& b : inv.credits) {
      credits.push_back({{"grant", b.id}, {"balance", b.before.ToString()}, {"used", b.used.ToString()},
                         {"remaining", b.remaining.ToString()}, {"expires", b.expires.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(b.expires)},
                         {"priority", b.priority}, {"expired", b.expired}});
    }
    j["credits"] = std::move(credits);
  }
  return j;
}

// One JSON document per invoice explained; a closing invoice of progressive billing holds its
// customer's threshold invoices, in the order issued, as `threshold_invoices`.
void WriteJson(const Invoice& inv, const SourceFile& source, std::ostream& out, const std::vector<const Invoice*>& early = {}) {
  nlohmann::ordered_json j = InvoiceJson(inv, source);
  if (!early.empty()) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Invoice* t : early) list.push_back(InvoiceJson(*t, source));
    j["threshold_invoices"] = std::move(list);
  }
  out << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

}  // namespace

Action RegisterExplain(CLI::App& app, Streams& streams) {
  struct Options {
    RatingRequest request;
    std::string format = "text";
    std::string test;
  };
  auto o = std::make_shared<Options>();
  RatingRequest& r = o->request;
  AddRatingOptions(app, r);
  app.add_option("--customer,-c", r.explain_customer, "the customer whose invoice to explain");
  app.add_option("--test", o->test, "explain the invoice of this test of the plan instead (its usage, subscriptions and credits)");
  app.add_option("--format", o->format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));

  // The conserved invariant, checked where it is shown: the total is the sum of the lines, and
  // each line the sum of its terms. Then the invoice, explained.
  auto show = [o, &streams](const Invoice& inv, const SourceFile& source, const std::vector<const Invoice*>& early = {}) -> int {
    // Exact sums (Fraction): lines shown to 20 decimals may add up past 38 digits on the way
    // to a total that fits.
    Fraction sum;
    for (const InvoiceLine& line : inv.lines) {
      sum += line.amount;
      if (!line.derivation) continue;
      Fraction terms;
      for (const DerivationTerm& t : line.derivation->terms) terms += t.amount;
      if (!(terms == Fraction(line.amount))) {
        streams.err << fmt::format("internal error: the terms of line \"{}\" add up to {}, not to its amount {}\n", line.name,
                                   terms.ToString(), line.amount.ToString());
        return kExitInternal;
      }
    }
    if (!(sum == Fraction(inv.total))) {
      streams.err << fmt::format("internal error: the lines add up to {}, not to the total {}\n", sum.ToString(), inv.total.ToString());
      return kExitInternal;
    }
    if (o->format == "json") {
      WriteJson(inv, source, streams.out, early);
    } else {
      WriteText(inv, source, streams.out);
    }
    return kExitOk;
  };

  return [o, &streams, show]() -> int {
    if (!o->test.empty()) {
      const RatingRequest& q = o->request;
      if (!q.explain_customer.empty() || !q.usage.empty() || !q.subscriptions.empty() || !q.credits.empty() || !q.contracts.empty() ||
          !q.period.empty()) {
        streams.err << "error: --test explains a test's invoice from the test itself; it takes no --customer, --usage, --period, "
                       "--subscriptions, --credits or --contracts\n";
        return kExitUsage;
      }
      ExplainedTest explained;
      if (int code = RunTestExplained(q.plan_file, q.plan_name, o->test, streams, explained); code != kExitOk) return code;
      if (explained.invoices.empty()) {
        streams.err << fmt::format("error: test \"{}\" produced no invoice\n", o->test);
        return kExitFailure;
      }
      // A test of several invoices: each explained in turn (its period heads it).
      for (std::size_t i = 0; i < explained.invoices.size(); ++i) {
        if (i > 0 && o->format == "text") streams.out << "\n";
        if (int code = show(explained.invoices[i], explained.sources.file(explained.file)); code != kExitOk) return code;
      }
      return kExitOk;
    }
    if (o->request.explain_customer.empty()) {
      streams.err << "error: say whose invoice to explain: --customer ID (or --test NAME for a test of the plan)\n";
      return kExitUsage;
    }
    // The rating, exactly as `tariff rate` does it (tools/driver/rating.h), with the engine
    // tracing the one customer.
    RatingRequest request = o->request;
    request.explain = true;
    RatingOutcome rated;
    int code = RunRating(request, streams, rated);
    if (code != kExitOk) return code;
    const SourceFile& source = rated.sources.file(FileId{0});
    const std::string& customer = request.explain_customer;
    streams.err << fmt::format("rows read {} = rated {}{} + rejected {} + duplicates {}\n", rated.read, rated.rated, EarlierRows(rated),
                               rated.read - rated.rated - rated.earlier - rated.duplicates, rated.duplicates);
    const std::size_t shown = std::min<std::size_t>(rated.rejects.size(), 10);
    for (std::size_t i = 0; i < shown; ++i) {
      streams.err << fmt::format("rejected: {}:{}: {}\n", rated.rejects[i].file, rated.rejects[i].line, rated.rejects[i].reason);
    }
    if (shown < rated.rejects.size()) streams.err << fmt::format("… and {} more\n", rated.rejects.size() - shown);

    // The customer's invoice for the period, then any issued at a change (`on change prorate
    // now`): each explained in turn.
    std::vector<const Invoice*> mine;
    for (const Invoice& inv : rated.invoices) {
      if (inv.customer == customer) mine.push_back(&inv);
    }
    if (mine.empty()) {
      std::string list;
      const std::size_t listed = std::min<std::size_t>(rated.invoices.size(), 5);
      for (std::size_t i = 0; i < listed; ++i) list += (i > 0 ? ", " : "") + rated.invoices[i].customer;
      if (listed < rated.invoices.size()) list += ", …";
      if (!rated.rejects.empty()) {
        streams.err << fmt::format("note: {} row{} rejected (listed above); rows of `{}` among them are not rated\n", rated.rejects.size(),
                                   rated.rejects.size() == 1 ? " was" : "s were", customer);
      }
      streams.err << fmt::format("error: customer `{}` has no invoice: no rated usage and no subscription{}\n", customer,
                                 rated.invoices.empty() ? std::string(" (no customer has one)")
                                                        : fmt::format(" (invoiced: {} customer{}: {})", rated.invoices.size(),
                                                                      rated.invoices.size() == 1 ? "" : "s", list));
      return kExitFailure;
    }
    // Progressive billing: the customer's threshold invoices first, in the order issued (in
    // JSON, inside the closing invoice's document).
    std::vector<const Invoice*> early;
    for (const Invoice& inv : rated.threshold_invoices) {
      if (inv.customer != customer) continue;
      early.push_back(&inv);
      if (o->format != "text") continue;
      if (int shown_code = show(inv, source); shown_code != kExitOk) return shown_code;
      streams.out << "\n";
    }
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (i > 0 && o->format == "text") streams.out << "\n";
      if (int shown_code = i == 0 ? show(*mine[i], source, early) : show(*mine[i], source); shown_code != kExitOk) return shown_code;
    }
    return kExitOk;
  };
}

}  // namespace tariff::driver
