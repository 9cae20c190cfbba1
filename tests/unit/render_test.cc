// tests/unit: the four renderers of compiler/diag on one known diagnostic — positions, escaping
// and structure, asserted value by value (the golden cases cover the text renderer in bulk).
#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"

namespace {

constexpr const char* kPlan =
    "plan \"p\" {\n"
    "  currency USD\n"
    "  event e { n: quantity of GB }\n"
    "  meter gigabytes = sum(e.n)\n"
    "  charge \"C\" = gigabites * 1 USD per GB\n"
    "}\n";

struct Checked {
  tariff::SourceManager sources;
  std::vector<tariff::Diagnostic> diagnostics;
};

Checked CheckPlan(const std::string& path, const std::string& text) {
  Checked c;
  tariff::FileId id = c.sources.AddFile(path, text);
  tariff::DiagnosticSink sink;
  tariff::CheckSource(c.sources, id, sink);
  c.diagnostics = sink.Sorted();
  return c;
}

}  // namespace

TEST_CASE("render: text has location, code, source line, carets and hint") {
  Checked c = CheckPlan("plan.tariff", kPlan);
  REQUIRE(c.diagnostics.size() == 1);
  std::ostringstream out;
  tariff::RenderText(c.sources, c.diagnostics, out);
  CHECK(out.str() ==
        "plan.tariff:5:16: error[E0201]: unknown name `gigabites`\n"
        "  |\n"
        "5 |   charge \"C\" = gigabites * 1 USD per GB\n"
        "  |                ^^^^^^^^^\n"
        "  = hint: did you mean `gigabytes`?\n"
        "\n");
}

TEST_CASE("render: colour only when asked") {
  Checked c = CheckPlan("plan.tariff", kPlan);
  std::ostringstream plain, color;
  tariff::RenderText(c.sources, c.diagnostics, plain, false);
  tariff::RenderText(c.sources, c.diagnostics, color, true);
  CHECK(plain.str().find('\x1b') == std::string::npos);
  CHECK(color.str().find("\x1b[1;31m") != std::string::npos);
}

TEST_CASE("render: json carries every field with exclusive end positions") {
  Checked c = CheckPlan("plan.tariff", kPlan);
  std::ostringstream out;
  tariff::RenderJson(c.sources, c.diagnostics, out);
  nlohmann::json j = nlohmann::json::parse(out.str());
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 1);
  CHECK(j[0]["code"] == "E0201");
  CHECK(j[0]["severity"] == "error");
  CHECK(j[0]["message"] == "unknown name `gigabites`");
  CHECK(j[0]["file"] == "plan.tariff");
  CHECK(j[0]["line"] == 5);
  CHECK(j[0]["column"] == 16);
  CHECK(j[0]["end_line"] == 5);
  CHECK(j[0]["end_column"] == 25);
  CHECK(j[0]["notes"].is_array());
  CHECK(j[0]["hint"] == "did you mean `gigabytes`?");
}

TEST_CASE("render: json notes and a null hint") {
  Checked c = CheckPlan("plan.tariff",
                        "plan \"p\" {\n  currency USD\n  currency EUR\n}\n");
  REQUIRE(c.diagnostics.size() == 1);
  std::ostringstream out;
  tariff::RenderJson(c.sources, c.diagnostics, out);
  nlohmann::json j = nlohmann::json::parse(out.str());
  CHECK(j[0]["code"] == "E0204");
  REQUIRE(j[0]["notes"].size() == 1);
  CHECK(j[0]["notes"][0]["message"] == "first set here");
  CHECK(j[0]["notes"][0]["line"] == 2);
  CHECK(j[0]["notes"][0]["column"] == 3);
  CHECK(j[0]["hint"].is_null());
}

TEST_CASE("render: github annotations escape properties and data") {
  Checked c = CheckPlan("dir,with:odd%name.tariff", kPlan);
  std::ostringstream out;
  tariff::RenderGithub(c.sources, c.diagnostics, out);
  CHECK(out.str() ==
        "::error file=dir%2Cwith%3Aodd%25name.tariff,line=5,col=16,endLine=5,endColumn=25,title=E0201::"
        "unknown name `gigabites`%0Ahint: did you mean `gigabytes`?\n");
}

TEST_CASE("render: sarif 2.1.0 with rules for the whole catalog") {
  Checked c = CheckPlan("plan.tariff", kPlan);
  std::ostringstream out;
  tariff::RenderSarif(c.sources, c.diagnostics, out);
  nlohmann::json log = nlohmann::json::parse(out.str());
  CHECK(log["version"] == "2.1.0");
  const auto& run = log["runs"][0];
  CHECK(run["tool"]["driver"]["name"] == "tariff");
  CHECK(run["tool"]["driver"]["rules"].size() == tariff::AllDiagKinds().size());
  REQUIRE(run["results"].size() == 1);
  const auto& r = run["results"][0];
  CHECK(r["ruleId"] == "E0201");
  CHECK(r["level"] == "error");
  const auto& region = r["locations"][0]["physicalLocation"]["region"];
  CHECK(region["startLine"] == 5);
  CHECK(region["startColumn"] == 16);
  CHECK(region["endColumn"] == 25);
  CHECK(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "plan.tariff");
}

TEST_CASE("render: every SARIF rule describes itself in a sentence, never a message template") {
  // A plan with an error, a note and a hint, so that results carry every part.
  Checked c = CheckPlan("plan.tariff", "plan \"p\" {\n  currency USD\n  charge \"C\" = 1 EUR\n}\n");
  REQUIRE(c.diagnostics.size() == 1);
  std::ostringstream out;
  tariff::RenderSarif(c.sources, c.diagnostics, out);
  nlohmann::json log = nlohmann::json::parse(out.str());
  CHECK(log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json");
  CHECK(log["version"] == "2.1.0");
  REQUIRE(log["runs"].size() == 1);
  const auto& rules = log["runs"][0]["tool"]["driver"]["rules"];
  REQUIRE(rules.size() == tariff::AllDiagKinds().size());
  std::set<std::string> ids;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& rule = rules[i];
    const tariff::DiagKind kind = tariff::AllDiagKinds()[i];
    const std::string text = rule["shortDescription"]["text"];
    INFO(rule.dump());
    CHECK(rule["id"] == std::string(tariff::DiagCode(kind)));
    CHECK(rule["name"] == std::string(tariff::DiagName(kind)));
    CHECK(ids.insert(rule["id"].get<std::string>()).second);  // ids are unique
    // A sentence of the catalog's style: no placeholder, lower-case start, no trailing period,
    // and not the message template.
    CHECK(text.size() > 10);
    CHECK(text.find('{') == std::string::npos);
    CHECK(text.find('}') == std::string::npos);
    CHECK(std::islower(static_cast<unsigned char>(text.front())));
    CHECK(text.back() != '.');
    CHECK(text != std::string(tariff::DiagFormat(kind)));
    const std::string level = rule["defaultConfiguration"]["level"];
    CHECK(level == (tariff::DiagSeverity(kind) == tariff::Severity::kError ? "error" : "warning"));
    // helpUri must be an absolute URI in SARIF 2.1.0; the docs are a file, so `help` names them.
    CHECK_FALSE(rule.contains("helpUri"));
    CHECK(rule["help"]["text"].get<std::string>().find(tariff::DiagCode(kind)) != std::string::npos);
  }
  const auto& result = log["runs"][0]["results"][0];
  CHECK(result["ruleId"] == "E0304");
  REQUIRE(result["ruleIndex"].is_number_unsigned());
  CHECK(rules[result["ruleIndex"].get<std::size_t>()]["id"] == "E0304");
  CHECK(result["message"]["text"].get<std::string>().find("hint: ") != std::string::npos);
  CHECK(result["relatedLocations"][0]["message"]["text"] == "the plan's currency is declared here");
  CHECK(result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 2);
}

TEST_CASE("render: columns count code points, not bytes") {
  Checked c = CheckPlan("plan.tariff",
                        "// prix en €\nplan \"p\" {\n  currency USD\n  event é { n: decimal }\n}\n");
  REQUIRE_FALSE(c.diagnostics.empty());
  std::ostringstream out;
  tariff::RenderJson(c.sources, c.diagnostics, out);
  nlohmann::json j = nlohmann::json::parse(out.str());
  CHECK(j[0]["line"] == 4);
  CHECK(j[0]["column"] == 9);
}

TEST_CASE("render: the summary line") {
  CHECK(tariff::SummaryLine(0, 0, 1) == "checked 1 file: no problems");
  CHECK(tariff::SummaryLine(2, 1, 3) == "checked 3 files: 2 errors, 1 warning");
  CHECK(tariff::SummaryLine(0, 2, 2) == "checked 2 files: 2 warnings");
}

TEST_CASE("render: every catalog message follows the style guide") {
  for (tariff::DiagKind kind : tariff::AllDiagKinds()) {
    std::string_view format = tariff::DiagFormat(kind);
    INFO(tariff::DiagCode(kind));
    REQUIRE_FALSE(format.empty());
    if (format != "{}") {
      CHECK_FALSE((format[0] >= 'A' && format[0] <= 'Z'));  // starts lower-case
      CHECK(format.back() != '.');                           // no trailing period
      CHECK(format.find("valid") == std::string_view::npos);
      CHECK(format.find("legal") == std::string_view::npos);
      CHECK(format.find("allowed") == std::string_view::npos);
    }
  }
}
