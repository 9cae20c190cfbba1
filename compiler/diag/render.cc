// compiler/diag: renderers. Text mimics rustc/clang; JSON and SARIF go through nlohmann::ordered_json so
// that escaping is never hand-written.
#include "compiler/diag/render.h"

#include <algorithm>
#include <map>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tariff {
namespace {

struct Position {
  int line, column, end_line, end_column;
};

Position PositionOf(const SourceManager& sources, Span span) {
  if (!span.file.valid()) return {1, 1, 1, 1};
  const SourceFile& file = sources.file(span.file);
  LineColumn b = file.At(span.begin);
  LineColumn e = file.At(std::max(span.end, span.begin));
  return {b.line, b.column, e.line, e.column};
}

std::string PathOf(const SourceManager& sources, Span span) {
  return span.file.valid() ? sources.file(span.file).path() : std::string("<unknown>");
}

struct Style {
  bool on;
  std::string_view Paint(std::string_view code) const { return on ? code : std::string_view(); }
};

std::size_t CodePoints(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The source line of `span`'s start with carets under the span (to the end of that line for a
// span that runs on). Tabs in the line are kept in the caret line so that carets align.
void Snippet(const SourceManager& sources, Span span, std::ostream& out, const Style& style,
             std::string_view caret_color) {
  if (!span.file.valid()) return;
  const SourceFile& file = sources.file(span.file);
  LineColumn b = file.At(span.begin);
  std::string_view line = file.Line(b.line);
  std::uint32_t line_start = file.LineStart(b.line);
  std::size_t start = std::min<std::size_t>(span.begin - line_start, line.size());
  std::size_t end = std::min<std::size_t>(std::max(span.end, span.begin) - line_start, line.size());
  std::string number = std::to_string(b.line);
  std::string gutter(number.size(), ' ');
  std::string pad;
  for (std::size_t i = 0; i < start; ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    pad += line[i] == '\t' ? '\t' : ' ';
  }
  std::size_t width = std::max<std::size_t>(1, CodePoints(line.substr(start, end - start)));
  out << fmt::format("{}{} |{}\n", style.Paint("\x1b[1;34m"), gutter, style.Paint("\x1b[0m"));
  out << fmt::format("{}{} |{} {}\n", style.Paint("\x1b[1;34m"), number, style.Paint("\x1b[0m"), line);
  out << fmt::format("{}{} |{} {}{}{}{}\n", style.Paint("\x1b[1;34m"), gutter, style.Paint("\x1b[0m"), pad,
                     style.Paint(caret_color), std::string(width, '^'), style.Paint("\x1b[0m"));
}

std::string GithubData(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  return out;
}

std::string GithubProperty(std::string_view s) {
  std::string out;
  for (char c : GithubData(s)) {
    if (c == ':') out += "%3A";
    else if (c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

nlohmann::ordered_json JsonLocation(const SourceManager& sources, Span span) {
  Position p = PositionOf(sources, span);
  return {{"file", PathOf(sources, span)}, {"line", p.line}, {"column", p.column},
          {"end_line", p.end_line}, {"end_column", p.end_column}};
}

nlohmann::ordered_json SarifLocation(const SourceManager& sources, Span span, const std::string* message) {
  Position p = PositionOf(sources, span);
  nlohmann::ordered_json loc = {{"physicalLocation",
                         {{"artifactLocation", {{"uri", PathOf(sources, span)}}},
                          {"region", {{"startLine", p.line}, {"startColumn", p.column},
                                      {"endLine", p.end_line}, {"endColumn", p.end_column}}}}}};
  if (message != nullptr) loc["message"] = {{"text", *message}};
  return loc;
}

}  // namespace

void RenderText(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out,
                bool color) {
  Style style{color};
  for (const Diagnostic& d : diagnostics) {
    Position p = PositionOf(sources, d.span);
    bool error = d.severity == Severity::kError;
    std::string_view severity_color = error ? "\x1b[1;31m" : "\x1b[1;33m";
    out << fmt::format("{}{}:{}:{}:{} {}{}[{}]{}: {}{}{}\n", style.Paint("\x1b[1m"), PathOf(sources, d.span), p.line,
                       p.column, style.Paint("\x1b[0m"), style.Paint(severity_color), SeverityName(d.severity),
                       DiagCode(d.kind), style.Paint("\x1b[0m"), style.Paint("\x1b[1m"), d.message,
                       style.Paint("\x1b[0m"));
    Snippet(sources, d.span, out, style, severity_color);
    for (const DiagNote& n : d.notes) {
      Position np = PositionOf(sources, n.span);
      out << fmt::format("{}note{}: {}:{}:{}: {}\n", style.Paint("\x1b[1;36m"), style.Paint("\x1b[0m"),
                         PathOf(sources, n.span), np.line, np.column, n.message);
      Snippet(sources, n.span, out, style, "\x1b[1;36m");
    }
    if (!d.hint.empty()) {
      out << fmt::format("  = {}hint{}: {}\n", style.Paint("\x1b[1;32m"), style.Paint("\x1b[0m"), d.hint);
    }
    out << "\n";
  }
}

void RenderJson(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const Diagnostic& d : diagnostics) {
    nlohmann::ordered_json j = {{"code", std::string(DiagCode(d.kind))},
                        {"severity", std::string(SeverityName(d.severity))},
                        {"message", d.message}};
    j.update(JsonLocation(sources, d.span));
    nlohmann::ordered_json notes = nlohmann::ordered_json::array();
    for (const DiagNote& n : d.notes) {
      nlohmann::ordered_json note = {{"message", n.message}};
      note.update(JsonLocation(sources, n.span));
      notes.push_back(std::move(note));
    }
    j["notes"] = std::move(notes);
    j["hint"] = d.hint.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(d.hint);
    all.push_back(std::move(j));
  }
  out << all.dump(2) << "\n";
}

void RenderGithub(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out) {
  for (const Diagnostic& d : diagnostics) {
    Position p = PositionOf(sources, d.span);
    std::string message = d.message;
    for (const DiagNote& n : d.notes) {
      Position np = PositionOf(sources, n.span);
      message += fmt::format("\nnote: {}:{}:{}: {}", PathOf(sources, n.span), np.line, np.column, n.message);
    }
    if (!d.hint.empty()) message += "\nhint: " + d.hint;
    out << fmt::format("::{} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
                       SeverityName(d.severity), GithubProperty(PathOf(sources, d.span)), p.line, p.column,
                       p.end_line, p.end_column, GithubProperty(DiagCode(d.kind)), GithubData(message));
  }
}

void RenderSarif(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out) {
  // helpUri must be an absolute URI (the schema's "format": "uri"), and the documentation is a
  // file of the repository, not a web page: the rule's `help` names the section instead.
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  std::map<std::string_view, std::size_t> rule_index;
  for (DiagKind kind : AllDiagKinds()) {
    rule_index[DiagCode(kind)] = rules.size();
    rules.push_back({{"id", std::string(DiagCode(kind))},
                     {"name", std::string(DiagName(kind))},
                     {"shortDescription", {{"text", std::string(DiagSummary(kind))}}},
                     {"defaultConfiguration",
                      {{"level", DiagSeverity(kind) == Severity::kError ? "error" : "warning"}}},
                     {"help", {{"text", fmt::format("see docs/diagnostics.md, section {}", DiagCode(kind))}}}});
  }
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Diagnostic& d : diagnostics) {
    std::string text = d.message;
    if (!d.hint.empty()) text += "\nhint: " + d.hint;
    nlohmann::ordered_json r = {{"ruleId", std::string(DiagCode(d.kind))},
                        {"ruleIndex", rule_index[DiagCode(d.kind)]},
                        {"level", d.severity == Severity::kError ? "error" : "warning"},
                        {"message", {{"text", text}}},
                        {"locations", nlohmann::ordered_json::array({SarifLocation(sources, d.span, nullptr)})}};
    if (!d.notes.empty()) {
      nlohmann::ordered_json related = nlohmann::ordered_json::array();
      int id = 0;
      for (const DiagNote& n : d.notes) {
        nlohmann::ordered_json loc = SarifLocation(sources, n.span, &n.message);
        loc["id"] = id++;
        related.push_back(std::move(loc));
      }
      r["relatedLocations"] = std::move(related);
    }
    results.push_back(std::move(r));
  }
  nlohmann::ordered_json log = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", nlohmann::ordered_json::array({{{"tool", {{"driver", {{"name", "tariff"}, {"rules", rules}}}}},
                                       {"results", results}}})}};
  out << log.dump(2) << "\n";
}

std::string SummaryLine(int errors, int warnings, std::size_t files) {
  std::string checked = fmt::format("checked {} file{}", files, files == 1 ? "" : "s");
  if (errors == 0 && warnings == 0) return checked + ": no problems";
  std::string out = checked + ": ";
  if (errors > 0) out += fmt::format("{} error{}", errors, errors == 1 ? "" : "s");
  if (errors > 0 && warnings > 0) out += ", ";
  if (warnings > 0) out += fmt::format("{} warning{}", warnings, warnings == 1 ? "" : "s");
  return out;
}

}  // namespace tariff
