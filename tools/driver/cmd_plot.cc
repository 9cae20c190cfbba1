// tools/driver: `tariff plot PLAN --out FILE.svg|png` — each usage-priced charge of a plan as a
// chart of its amount, average and marginal price against the quantity. The sampling and the
// drawing are tools/plot's; this file reads the command line, picks the plan and writes the file.
#include <algorithm>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runtime/exec/exec.h"
#include "runtime/io/invoice_writer.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/rating.h"
#include "tools/plot/plot.h"

namespace tariff::driver {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), s.rbegin());
}

// "LO..HI": two decimals, 0 <= LO < HI. An error message, or "" with the bounds set.
std::string ParseRange(const std::string& text, plot::PlotOptions& options) {
  const auto dots = text.find("..");
  if (dots == std::string::npos) return fmt::format("--range `{}`: expected LO..HI (e.g. 0..2000000)", text);
  const auto low = Decimal::Parse(text.substr(0, dots));
  const auto high = Decimal::Parse(text.substr(dots + 2));
  if (!low.value || !high.value) return fmt::format("--range `{}`: LO and HI must be decimal numbers (e.g. 0..2000000)", text);
  if (low.value->sign() < 0) return fmt::format("--range `{}`: LO must not be negative", text);
  if (!(*low.value < *high.value)) return fmt::format("--range `{}`: LO must be below HI", text);
  options.low = *low.value;
  options.high = *high.value;
  return "";
}

}  // namespace

Action RegisterPlot(CLI::App& app, Streams& streams) {
  struct Options {
    std::string plan_file, plan_name, charge, range, out;
  };
  auto o = std::make_shared<Options>();
  app.add_option("plan", o->plan_file, "the plan file (- for standard input)")->required();
  app.add_option("--out,-o", o->out, "write the chart to this file: FILE.svg, or FILE.png (rendered with headless Chromium)")->required();
  app.add_option("--charge", o->charge, "plot this charge only (default: every charge with a quantity to plot against)");
  app.add_option("--plan", o->plan_name, "which plan, when the file holds several (its latest version is plotted)");
  app.add_option("--range", o->range, "the quantities to plot, LO..HI in the chart's unit (default: chosen from the tiers)");

  return [o, &streams]() -> int {
    plot::PlotOptions options;
    options.charge = o->charge;
    const bool png = EndsWith(o->out, ".png");
    if (!png && !EndsWith(o->out, ".svg")) {
      streams.err << fmt::format("error: --out `{}`: the file name must end in .svg or .png\n", o->out);
      return kExitUsage;
    }
    if (!o->range.empty()) {
      if (std::string why = ParseRange(o->range, options); !why.empty()) {
        streams.err << "error: " << why << "\n";
        return kExitUsage;
      }
    }
    SourceManager sources;
    LoadedPlans loaded;
    if (int code = LoadPlans(sources, o->plan_file, streams, "not plotted", loaded); code != kExitOk) return code;
    std::vector<std::string> names;
    for (const ir::RatingFunction& f : loaded.functions) {
      if (std::find(names.begin(), names.end(), f.plan) == names.end()) names.push_back(f.plan);
    }
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
    std::string plan_name = o->plan_name;
    if (plan_name.empty()) {
      if (names.size() != 1) {
        streams.err << fmt::format("error: `{}` holds {} plans ({}); choose one with --plan NAME\n", o->plan_file, names.size(), list);
        return kExitUsage;
      }
      plan_name = names.front();
    } else if (std::find(names.begin(), names.end(), plan_name) == names.end()) {
      streams.err << fmt::format("error: `{}` has no plan \"{}\" (it has {})\n", o->plan_file, plan_name, list);
      return kExitUsage;
    }
    // The latest version: the last effective date (a version without one is the earliest).
    const ir::RatingFunction* function = nullptr;
    int versions = 0;
    for (const ir::RatingFunction& f : loaded.functions) {
      if (f.plan != plan_name) continue;
      ++versions;
      if (function == nullptr || function->effective <= f.effective) function = &f;
    }
    if (versions > 1) {
      streams.err << fmt::format("note: plan \"{}\" has {} versions; plotting version {}{}\n", plan_name, versions, function->version,
                                 function->effective.empty() ? "" : " (effective " + function->effective + ")");
    }
    plot::PlotSet set;
    try {
      set = plot::SamplePlan(*function, options);
    } catch (const std::invalid_argument& e) {
      streams.err << "error: " << e.what() << "\n";
      return kExitUsage;
    } catch (const RatingError& e) {
      streams.err << "error: rating a sampled quantity stopped: " << e.what() << "\n";
      return kExitFailure;
    } catch (const DecimalError& e) {
      // A quantity (or its amount) past 38 digits: only a --range that large gets here.
      streams.err << "error: a sampled quantity cannot be rated exactly (" << e.what() << "); plot a smaller --range\n";
      return kExitFailure;
    }
    for (const plot::Skipped& s : set.skipped) streams.err << fmt::format("note: charge \"{}\" not plotted: {}\n", s.charge, s.reason);
    if (set.charts.empty()) {
      streams.err << fmt::format("error: plan \"{}\" has no charge to plot against a quantity{}\n", plan_name,
                                 set.skipped.empty() ? "" : " (see the notes above)");
      return kExitFailure;
    }
    std::string svg;
    try {
      svg = plot::RenderSvg(set);
    } catch (const DecimalError& e) {
      streams.err << "error: a plotted value cannot be shown exactly (" << e.what() << "); plot a smaller --range\n";
      return kExitFailure;
    }
    std::string why;
    const bool written = png ? plot::RenderPng(svg, plot::SvgWidth(), plot::SvgHeight(set), o->out, &why) : WriteFileAtomically(o->out, svg, &why);
    if (!written) {
      streams.err << "error: " << why << "\n";
      return kExitFailure;
    }
    std::string charts;
    for (const plot::Chart& c : set.charts) {
      charts += (charts.empty() ? "\"" : ", \"") + c.charge + "\"" + (c.dimension.empty() ? "" : " (" + c.dimension + ")");
    }
    streams.err << fmt::format("wrote {}: {} chart{}: {}\n", o->out, set.charts.size(), set.charts.size() == 1 ? "" : "s", charts);
    return kExitOk;
  };
}

}  // namespace tariff::driver
