// tools/plot: the SVG document of a PlotSet, written by hand (docs/plot.md says why). Exact
// values become doubles here and only here, for coordinates; every number shown as text is
// formatted from the exact samples or from exact tick values.
#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "tools/plot/numbers.h"
#include "tools/plot/plot.h"

namespace tariff::plot {
namespace {

constexpr int kWidth = 960;
constexpr int kHeader = 56;
constexpr int kPanel = 520;
constexpr double kLeft = 96, kRight = kWidth - 104;  // the plot area's sides
constexpr double kTopOffset = 150, kBottomOffset = 420;  // the plot area within a panel

constexpr const char* kAmountColor = "#1f5fa8";
constexpr const char* kAverageColor = "#e07b00";
constexpr const char* kMarginalColor = "#2a9d5c";
constexpr const char* kMarkColor = "#8a8a8a";

std::string Num(double v) { return fmt::format("{:.2f}", v); }

// A tick value for an axis label, exactly: grouped below ten thousand (2,500), then compact with
// k, M, B, T (25k, 2.5M).
std::string Compact(const Fraction& v) {
  static const char* kSuffix[] = {"", "k", "M", "B", "T"};
  Fraction scaled = v;
  int s = 0;
  const Fraction thousand(1000);
  const bool large = v >= Fraction(10000) || -v >= Fraction(10000);
  while (large && s < 4 && (scaled >= thousand || -scaled >= thousand)) scaled = Fraction::Quotient(scaled, thousand), ++s;
  const ExactNumber n = ExactNumber::Of(scaled);
  const std::string text = n.is_decimal() ? n.decimal().Normalized().ToString() : n.Round(3, RoundingMode::kHalfEven).Normalized().ToString();
  return Grouped(text) + kSuffix[s];
}

// 0, step, 2·step … up to the first tick at or above `max` (max > 0): about five ticks.
std::vector<Fraction> Ticks(const Fraction& low, const Fraction& max) {
  const Fraction step = Nice(Fraction::Quotient(max - low, Fraction(5)));
  std::vector<Fraction> ticks;
  Fraction t = Fraction::Quotient(low, step).Floor() * step;
  for (int i = 0; i < 12; ++i, t += step) {
    ticks.push_back(t);
    if (t >= max) break;
  }
  return ticks;
}

// "USD per 1,000,000 GiB·s" for a price scale of 10^6.
std::string PriceUnit(const Chart& c, const Fraction& per, bool percent) {
  if (percent) return "%";
  if (per == Fraction(1)) return fmt::format("{} per {}", c.currency, c.unit);
  return fmt::format("{} per {} {}", c.currency, Grouped(ExactNumber::Of(per).decimal().Normalized().ToString()), c.unit);
}

// Estimated width of `text` at font size 11 (for placing labels without overlap).
double TextWidth(const std::string& text, double size = 11) {
  std::size_t chars = 0;
  for (unsigned char ch : text) chars += (ch & 0xC0) != 0x80 ? 1 : 0;  // UTF-8 code points
  return static_cast<double>(chars) * size * 0.56;
}

void Polyline(std::ostringstream& svg, const std::vector<std::pair<double, double>>& points, const char* color, double width,
              const char* dash, const char* cls) {
  if (points.size() < 2) return;
  svg << fmt::format(R"svg(    <polyline class="{}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round")svg", cls, color, width);
  if (dash[0] != '\0') svg << fmt::format(R"svg( stroke-dasharray="{}")svg", dash);
  svg << " points=\"";
  for (std::size_t i = 0; i < points.size(); ++i) svg << (i == 0 ? "" : " ") << Num(points[i].first) << "," << Num(points[i].second);
  svg << "\"/>\n";
}

void Panel(std::ostringstream& svg, const Chart& c, int index, double y0) {
  const double top = y0 + kTopOffset, bottom = y0 + kBottomOffset;
  const auto& s = c.samples;
  const Fraction low = s.front().quantity.exact(), high = s.back().quantity.exact();
  const double lo = ToDouble(s.front().quantity), hi = ToDouble(s.back().quantity);
  auto x_of = [&](double q) { return kLeft + (q - lo) / (hi - lo) * (kRight - kLeft); };
  const bool percent = c.unit == c.currency;

  // Prices, exact: the average (amount ÷ quantity) at each positive quantity and the marginal
  // (the slope of the amount) over each segment between samples that is not a step's side.
  std::vector<std::optional<Fraction>> average(s.size());
  std::vector<std::optional<Fraction>> marginal(s.size());  // over [i, i+1]
  std::optional<Fraction> price_max;
  const Fraction near_zero = low + Fraction::Quotient(high - low, Fraction(20));
  auto consider = [&](const Fraction& p) {
    if (!price_max || *price_max < p) price_max = p;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Fraction q = s[i].quantity.exact();
    if (q.sign() > 0) {
      average[i] = Fraction::Quotient(s[i].fine.exact(), q);
      if (q >= near_zero) consider(*average[i]);
    }
    if (i + 1 < s.size() && !s[i + 1].step_side) {
      marginal[i] = Fraction::Quotient(s[i + 1].fine.exact() - s[i].fine.exact(), s[i + 1].quantity.exact() - q);
      consider(*marginal[i]);
    }
  }
  // The price scale: a power of a thousand of the unit that brings the highest price to 0.1 or more.
  Fraction per(1);
  if (percent) per = Fraction(100);
  else if (price_max && price_max->sign() > 0) {
    const Fraction tenth = Fraction::Quotient(Fraction(1), Fraction(10));
    while (*price_max * per < tenth && per < Fraction(1000000000000LL)) per = per * Fraction(1000);
  }
  // Amount axis.
  Fraction amount_max(0), amount_min(0);
  for (const Sample& x : s) {
    for (const Fraction& a : {Fraction(x.amount), x.fine.exact()}) amount_max = std::max(amount_max, a), amount_min = std::min(amount_min, a);
  }
  if (amount_max == amount_min) amount_max = amount_min + Fraction(1);
  const std::vector<Fraction> amount_ticks = Ticks(amount_min, amount_max);
  const double a_lo = ToDouble(ExactNumber::Of(amount_ticks.front())), a_hi = ToDouble(ExactNumber::Of(amount_ticks.back()));
  auto ya = [&](double a) { return bottom - (a - a_lo) / (a_hi - a_lo) * (bottom - top); };
  Fraction price_top = price_max && price_max->sign() > 0 ? *price_max * per * Fraction::Quotient(Fraction(11), Fraction(10)) : Fraction(1);
  Fraction price_bottom(0);
  for (const auto& m : marginal) {
    if (m && m->sign() < 0) price_bottom = std::min(price_bottom, *m * per);
  }
  const std::vector<Fraction> price_ticks = Ticks(price_bottom, price_top);
  const double p_lo = ToDouble(ExactNumber::Of(price_ticks.front())), p_hi = ToDouble(ExactNumber::Of(price_ticks.back()));
  // Kept near the plot area (the clip hides the rest): an average near zero quantity can be
  // millions of pixels high, which breaks a dashed line's rendering.
  auto yp = [&](double p) { return std::clamp(bottom - (p - p_lo) / (p_hi - p_lo) * (bottom - top), top - 40, bottom + 40); };
  const std::string price_unit = PriceUnit(c, per, percent);

  svg << fmt::format(R"svg(  <g class="chart" id="chart-{}" data-charge="{}">)svg", index, XmlEscape(c.charge)) << "\n";
  // Title, subtitle, legend.
  std::string title = "\u201c" + c.charge + "\u201d";
  if (!c.dimension.empty()) title += " \u2014 " + c.dimension;
  svg << fmt::format(R"svg(    <text class="title" x="{}" y="{}" font-size="17" font-weight="bold">{}</text>)svg", kLeft, Num(y0 + 30), XmlEscape(title)) << "\n";
  svg << fmt::format(R"svg(    <text class="subtitle" x="{}" y="{}" font-size="12" fill="#555">{} on {} ({}); amounts in {}, prices in {}</text>)svg", kLeft,
                     Num(y0 + 50), XmlEscape(c.kind), XmlEscape(c.quantity_label), XmlEscape(c.unit), XmlEscape(c.currency), XmlEscape(price_unit))
      << "\n";
  struct Entry {
    const char* color;
    const char* dash;
    std::string text;
  };
  const Entry legend[] = {{kAmountColor, "", "amount (left axis)"},
                          {kAverageColor, "7 4", "average price (right axis)"},
                          {kMarginalColor, "", "marginal price (right axis)"}};
  double lx = kLeft;
  svg << "    <g class=\"legend\">\n";
  for (const Entry& e : legend) {
    svg << fmt::format(R"svg(      <line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3")svg", Num(lx), Num(y0 + 72), Num(lx + 26), Num(y0 + 72), e.color);
    if (e.dash[0] != '\0') svg << fmt::format(R"svg( stroke-dasharray="{}")svg", e.dash);
    svg << "/>\n";
    svg << fmt::format(R"svg(      <text x="{}" y="{}" font-size="12">{}</text>)svg", Num(lx + 32), Num(y0 + 76), XmlEscape(e.text)) << "\n";
    lx += 32 + TextWidth(e.text, 12) + 22;
  }
  svg << "    </g>\n";

  // Grid and axes.
  svg << fmt::format(R"svg(    <rect x="{}" y="{}" width="{}" height="{}" fill="#fafafa" stroke="#cccccc"/>)svg", kLeft, Num(top), Num(kRight - kLeft), Num(bottom - top)) << "\n";
  for (const Fraction& t : amount_ticks) {
    const double y = ya(ToDouble(ExactNumber::Of(t)));
    svg << fmt::format(R"svg(    <line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e3e3e3"/>)svg", kLeft, Num(y), kRight, Num(y)) << "\n";
    svg << fmt::format(R"svg(    <text class="amount-tick" x="{}" y="{}" font-size="11" text-anchor="end" fill="{}">{}</text>)svg", kLeft - 6, Num(y + 4),
                       kAmountColor, XmlEscape(Compact(t)))
        << "\n";
  }
  for (const Fraction& t : price_ticks) {
    const double y = yp(ToDouble(ExactNumber::Of(t)));
    svg << fmt::format(R"svg(    <text class="price-tick" x="{}" y="{}" font-size="11" fill="{}">{}</text>)svg", kRight + 6, Num(y + 4), kMarginalColor,
                       XmlEscape(Compact(t)))
        << "\n";
  }
  const std::vector<Fraction> x_ticks = Ticks(low, high);
  for (const Fraction& t : x_ticks) {
    if (t > high) break;
    const double x = x_of(ToDouble(ExactNumber::Of(t)));
    svg << fmt::format(R"svg(    <line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#444444"/>)svg", Num(x), Num(bottom), Num(x), Num(bottom + 5)) << "\n";
    svg << fmt::format(R"svg(    <text class="x-tick" x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>)svg", Num(x), Num(bottom + 18), XmlEscape(Compact(t)))
        << "\n";
  }
  svg << fmt::format(R"svg(    <text class="x-title" x="{}" y="{}" font-size="12" text-anchor="middle">{} ({})</text>)svg", Num((kLeft + kRight) / 2), Num(bottom + 40),
                     XmlEscape(c.quantity_label), XmlEscape(c.unit))
      << "\n";
  svg << fmt::format(R"svg(    <text class="y-title" transform="translate({},{}) rotate(-90)" font-size="12" text-anchor="middle" fill="{}">amount ({})</text>)svg",
                     Num(kLeft - 62), Num((top + bottom) / 2), kAmountColor, XmlEscape(c.currency))
      << "\n";
  svg << fmt::format(R"svg(    <text class="y-title" transform="translate({},{}) rotate(90)" font-size="12" text-anchor="middle" fill="{}">price ({})</text>)svg",
                     Num(kRight + 64), Num((top + bottom) / 2), kMarginalColor, XmlEscape(price_unit))
      << "\n";

  // Marks: a dashed line and a label above the plot, labels moved up a row when they would
  // overlap the one before them.
  std::vector<double> row_end(3, -1e9);
  std::vector<std::string> unlabelled;  // marks too close to the others to label above: in the notes
  for (const Mark& m : c.marks) {
    if (m.quantity.exact() < low || m.quantity.exact() > high) continue;
    const double x = x_of(ToDouble(m.quantity));
    const std::string label = m.label + " " + c.unit;
    const double w = TextWidth(label);
    const double lx0 = std::clamp(x - w / 2, kLeft - 40, static_cast<double>(kWidth) - 8 - w);
    std::size_t row = 0;
    while (row < row_end.size() && lx0 < row_end[row] + 8) ++row;
    const char* dash = m.kind == Mark::Kind::kTierBound ? "5 4" : "2 3";
    const double ly = top - 10 - 16 * static_cast<double>(std::min(row, row_end.size() - 1));
    svg << fmt::format(R"svg(    <line class="mark" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-dasharray="{}"/>)svg", Num(x),
                       Num(row == 0 ? ly + 3 : top), Num(x), Num(bottom), kMarkColor, dash)  // up to its label on the lowest row
        << "\n";
    if (row == row_end.size()) {
      unlabelled.push_back(label);
      continue;
    }
    row_end[row] = lx0 + w;
    svg << fmt::format(R"svg(    <text class="mark-label" x="{}" y="{}" font-size="11" fill="#333">{}</text>)svg", Num(lx0), Num(ly), XmlEscape(label)) << "\n";
  }

  // Curves, clipped to the plot area.
  svg << fmt::format(R"svg(    <clipPath id="clip-{}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath>)svg", index, kLeft, Num(top - 1), Num(kRight - kLeft),
                     Num(bottom - top + 2))
      << "\n";
  svg << fmt::format(R"svg(    <g clip-path="url(#clip-{})">)svg", index) << "\n";
  std::vector<std::pair<double, double>> amount_points, average_points, marginal_points;
  for (std::size_t i = 0; i < s.size(); ++i) {
    amount_points.emplace_back(x_of(ToDouble(s[i].quantity)), ya(ToDouble(s[i].fine)));
    if (average[i]) average_points.emplace_back(x_of(ToDouble(s[i].quantity)), yp(ToDouble(ExactNumber::Of(*average[i] * per))));
    if (marginal[i]) {
      const double y = yp(ToDouble(ExactNumber::Of(*marginal[i] * per)));
      marginal_points.emplace_back(x_of(ToDouble(s[i].quantity)), y);
      marginal_points.emplace_back(x_of(ToDouble(s[i + 1].quantity)), y);
    }
  }
  Polyline(svg, marginal_points, kMarginalColor, 2, "", "marginal");
  Polyline(svg, average_points, kAverageColor, 2, "7 4", "average");
  Polyline(svg, amount_points, kAmountColor, 2.5, "", "amount");
  svg << "    </g>\n";
  // The amount at each mark: a dot on the curve, the figure in its tooltip.
  for (const Mark& m : c.marks) {
    if (m.quantity.exact() < low || m.quantity.exact() > high) continue;
    for (const Sample& x : s) {
      if (x.quantity == m.quantity) {
        svg << fmt::format(R"svg(    <circle class="mark-amount" cx="{}" cy="{}" r="3.5" fill="{}"><title>{} {}: {} {}</title></circle>)svg",
                           Num(x_of(ToDouble(x.quantity))), Num(ya(ToDouble(x.fine))), kAmountColor, XmlEscape(m.label),
                           XmlEscape(c.unit), XmlEscape(Grouped(x.amount.ToString())), XmlEscape(c.currency))
            << "\n";
      }
    }
  }
  // Notes: the amount at the range's end, and what the chart leaves out.
  std::vector<std::string> notes;
  notes.push_back(fmt::format("at {} {}: {} {}", ShowQuantity(high), c.unit, Grouped(s.back().amount.ToString()), c.currency));
  if (!unlabelled.empty()) {
    std::string list;
    for (const std::string& u : unlabelled) list += (list.empty() ? "" : ", ") + u;
    notes.push_back("also marked: " + list);
  }
  for (const std::string& n : c.notes) notes.push_back(n);
  // Joined by "; ", a new line when the next would pass the right edge.
  std::vector<std::string> lines(1);
  for (const std::string& n : notes) {
    if (!lines.back().empty() && kLeft + TextWidth(lines.back() + "; " + n) > kWidth - 16) lines.emplace_back();
    lines.back() += (lines.back().empty() ? "" : "; ") + n;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    svg << fmt::format(R"svg(    <text class="note" x="{}" y="{}" font-size="11" fill="#555">{}</text>)svg", kLeft, Num(bottom + 62 + 15 * static_cast<double>(i)),
                       XmlEscape(lines[i]))
        << "\n";
  }
  svg << "  </g>\n";
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab and newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n') out += "\xEF\xBF\xBD";  // U+FFFD
        else out += ch;
    }
  }
  return out;
}

int SvgWidth() { return kWidth; }
int SvgHeight(const PlotSet& set) { return kHeader + kPanel * static_cast<int>(set.charts.size()); }

std::string RenderSvg(const PlotSet& set) {
  std::ostringstream svg;
  const int height = SvgHeight(set);
  svg << R"svg(<?xml version="1.0" encoding="UTF-8"?>)svg" << "\n";
  svg << fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">)svg",
                     kWidth, height, kWidth, height)
      << "\n";
  std::string heading = "Plan \u201c" + set.plan + "\u201d";
  if (!set.version.empty()) heading += ", version " + set.version;
  heading += ": price by quantity";
  svg << fmt::format(R"svg(  <title>{}</title>)svg", XmlEscape(heading)) << "\n";
  svg << fmt::format(R"svg(  <rect width="{}" height="{}" fill="white"/>)svg", kWidth, height) << "\n";
  svg << fmt::format(R"svg(  <text class="heading" x="24" y="34" font-size="20" font-weight="bold">{}</text>)svg", XmlEscape(heading)) << "\n";
  for (std::size_t i = 0; i < set.charts.size(); ++i) {
    const double y0 = kHeader + kPanel * static_cast<double>(i);
    if (i > 0) svg << fmt::format(R"svg(  <line x1="24" y1="{}" x2="{}" y2="{}" stroke="#dddddd"/>)svg", Num(y0), kWidth - 24, Num(y0)) << "\n";
    Panel(svg, set.charts[i], static_cast<int>(i), y0);
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace tariff::plot
