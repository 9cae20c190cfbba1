// tools/plot: `tariff plot` without the command line. Samples a plan's usage-priced charges with
// the rating engine (runtime/exec) — the amount of a charge's line at chosen quantities, exactly —
// and draws them as an SVG chart: the amount, the average price and the marginal price against
// the quantity, tier bounds marked (docs/plot.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/decimal/decimal.h"
#include "runtime/decimal/fraction.h"

namespace tariff::plot {

// What to plot: every charge of the function that has a quantity to plot against, or the one
// named; the quantities from `low` to `high` (in the unit the chart shows), or a range chosen from
// the charge's tiers, allowances and packages.
struct PlotOptions {
  std::string charge;             // "" for every charge
  std::optional<Decimal> low, high;  // both or neither; low < high, low >= 0
};

// A quantity marked on a chart, in the chart's unit: a tier bound (`up to N`), an allowance
// (`included N`), or where a `min(…, CAP)` / `max(…, FLOOR)` of the quantity starts to bite.
struct Mark {
  enum class Kind { kTierBound, kAllowance, kLimit } kind = Kind::kTierBound;
  ExactNumber quantity;
  std::string label;  // "up to 6,000,000,000" / "included 3,000" / "cap from 625" (the unit follows)
};

// One quantity and the charge's line at it, as the engine rated it.
struct Sample {
  ExactNumber quantity;  // in the chart's unit
  Decimal amount;        // the line's amount, rounded as the plan rounds it (what an invoice says)
  ExactNumber fine;      // the same line with every rounding carried to 16 decimals (the curves)
  bool step_side = false;  // sampled just past a bound or a package boundary (quantity + epsilon)
};

// One chart: one charge, or one value of the field a charge's price depends on (matrix pricing).
struct Chart {
  std::string charge;
  std::string dimension;        // "message.model = \"large\"" for one value of a matrix; else ""
  std::string kind;             // "graduated tiers", "volume tiers", "per unit", "per event", …
  std::string quantity_label;   // what the x axis is: "compute", "payment.amount", "subscription.seats"
  std::string unit;             // the x axis's unit ("GiB·s", "request"; the currency for money)
  std::string currency;
  std::vector<Mark> marks;
  std::vector<Sample> samples;  // sorted by quantity; the first at the range's low end
  std::vector<std::string> notes;  // shown under the chart ("free first 100 events not shown")
};

// A charge that gets no chart, and why (written to standard error by `tariff plot`).
struct Skipped {
  std::string charge;
  std::string reason;
};

struct PlotSet {
  std::string plan;
  std::string version;  // "" when the plan has none
  std::vector<Chart> charts;
  std::vector<Skipped> skipped;
};

// Samples the charges of `function` (see PlotOptions); a charge with no single quantity to plot
// against (a recurring fee, an amount of two meters, …) is listed in `skipped` with the reason. Every amount comes from runtime/exec's
// Engine rating a function reduced to the one charge, with one customer per sampled quantity.
// Sampled: an even grid of 200 steps over the range, every mark and the quantity just past it
// (epsilon: the range ÷ 10^7, a power of ten), and every package boundary (and just past it) when
// there are at most 400 in the range. Throws RatingError when the engine does (an overflow) and
// std::invalid_argument when `options.charge` names no charge (the message lists the charges).
PlotSet SamplePlan(const ir::RatingFunction& function, const PlotOptions& options);

// The charts of `set` as one self-contained SVG document, one panel a chart stacked vertically:
// the amount (left axis, the currency), the average and the marginal price (right axis, the
// currency per a power of ten of the unit, or % when the quantity is money), the marks as
// labelled vertical lines, a legend. Values are converted to double only here, for coordinates
// and tick positions; every number written as text comes from the exact samples. The same set
// gives the same bytes. `set.charts` must not be empty.
std::string RenderSvg(const PlotSet& set);

// Width and height in pixels of RenderSvg(set) (for rendering it to PNG at its size).
int SvgWidth();
int SvgHeight(const PlotSet& set);

// Renders `svg` (width × height pixels) to a PNG file at `png_path` with headless Chromium: the
// program named by $TARIFF_CHROMIUM, else the first of chromium, chromium-browser, google-chrome
// on $PATH. The SVG is written to a temporary directory, Chromium takes a screenshot of it at
// exactly its size, and the PNG is moved to `png_path` (replacing it only when Chromium
// succeeded). False with `*error` set when no Chromium is found, it fails or writes no image.
bool RenderPng(const std::string& svg, int width, int height, const std::string& png_path, std::string* error);

// The Chromium RenderPng would run, or "" when there is none.
std::string FindChromium();

// `text` escaped for SVG/XML character data and attribute values (&, <, >, ", ').
std::string XmlEscape(const std::string& text);

}  // namespace tariff::plot
