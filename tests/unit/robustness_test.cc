// tests/unit: the front end never crashes or hangs on broken plans, and says something about
// each one. Inputs are every bundled plan, truncated and mutated byte by byte.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/compiler.h"

namespace {

std::vector<std::string> BundledPlans() {
  std::vector<std::string> texts;
  std::filesystem::path root = std::filesystem::path(TARIFF_SOURCE_DIR) / "plans";
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().extension() == ".tariff") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    texts.push_back(s.str());
  }
  return texts;
}

// Runs the whole front end; returns how many diagnostics it reported.
std::size_t CheckText(const std::string& text) {
  tariff::SourceManager sources;
  tariff::FileId id = sources.AddFile("fuzz.tariff", text);
  tariff::DiagnosticSink sink;
  tariff::CheckSource(sources, id, sink);
  return sink.Sorted().size();
}

}  // namespace

TEST_CASE("robustness: bundled plans exist and check cleanly") {
  std::vector<std::string> plans = BundledPlans();
  REQUIRE(plans.size() >= 5);
  for (const std::string& text : plans) {
    tariff::SourceManager sources;
    tariff::FileId id = sources.AddFile("plan.tariff", text);
    tariff::DiagnosticSink sink;
    tariff::CheckedSource checked = tariff::CheckSource(sources, id, sink);
    CHECK(checked.ok());
  }
}

TEST_CASE("robustness: every truncation inside the last plan is reported") {
  for (const std::string& text : BundledPlans()) {
    // Cutting anywhere after the last plan's `{` and before its closing `}` leaves it unclosed.
    std::size_t last_plan = text.rfind("\nplan ");
    last_plan = last_plan == std::string::npos ? text.find("plan ") : last_plan + 1;
    std::size_t open = text.find('{', last_plan);
    std::size_t close = text.rfind('}');
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    // Every 7th cut keeps the test quick while crossing every kind of token.
    for (std::size_t cut = open + 1; cut < close; cut += 7) {
      INFO("cut at byte " << cut);
      CHECK(CheckText(text.substr(0, cut)) >= 1);
    }
  }
}

TEST_CASE("robustness: removing a closing brace is reported") {
  for (const std::string& text : BundledPlans()) {
    for (std::size_t pos = text.find('}'); pos != std::string::npos; pos = text.find('}', pos + 1)) {
      std::string mutated = text;
      mutated[pos] = ' ';
      INFO("removed `}` at byte " << pos);
      CHECK(CheckText(mutated) >= 1);
    }
  }
}

TEST_CASE("robustness: random byte mutations never crash") {
  std::mt19937_64 rng(20261122);
  const std::string alphabet = "{}()\"'.,:;=+-*/%<>!_ azAZ09\n\t\xc2\xb7\xff\x00";
  std::size_t reported = 0, total = 0;
  for (const std::string& text : BundledPlans()) {
    for (int i = 0; i < 150; ++i) {
      std::string mutated = text;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        std::size_t pos = rng() % mutated.size();
        switch (rng() % 3) {
          case 0: mutated[pos] = alphabet[rng() % alphabet.size()]; break;
          case 1: mutated.erase(pos, 1 + rng() % 8); break;
          default: mutated.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        }
        if (mutated.empty()) mutated = "x";
      }
      ++total;
      if (CheckText(mutated) > 0) ++reported;
    }
  }
  // Most random edits break a plan; some land in comments or strings and are harmless.
  CHECK(total > 0);
  CHECK(reported * 2 > total);
}
