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

namespace {

// Numbers that stress exact arithmetic: 38 digits either side of the point, 10^18 and 2^64,
// zero, and divisors whose quotients do not terminate.
const std::vector<std::string> kAdversarialNumbers = {
    "0",
    "1",
    "7",
    "0.5",
    "3",
    "99999999999999999999999999999999999999",
    "0.00000000000000000000000000000000000001",
    "9999999999999999999.9999999999999999999",
    "1_000_000_000_000_000_000",
    "18446744073709551616",
    "123456789012345678901234567890.12345678",
    "0.0000001",
};

// Every built-in unit, a declared count unit and an event's own unit.
const std::vector<std::string> kAdversarialUnits = {
    "B",  "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB", "bit",
    "Kbit", "Mbit", "Gbit", "Tbit", "ms", "s", "min", "h", "day", "token", "e",
};

// A plan whose meter is in `meter_unit`, with charges that price it in every unit of
// kAdversarialUnits, and every numeric position of the language (tier bounds, prices, `per N`,
// allowances, `free first`, percentages, adjustments, rounding decimals, the period, the
// version, test counts, amounts and priorities) filled with kAdversarialNumbers in rotation.
std::string AdversarialPlan(std::size_t plan_index) {
  const auto& n = kAdversarialNumbers;
  const std::string& meter_unit = kAdversarialUnits[plan_index % kAdversarialUnits.size()];
  auto num = [&](std::size_t k) { return n[k % n.size()]; };
  std::ostringstream s;
  s << "plan \"adversarial\" version " << num(plan_index) << " {\n"
    << "  currency " << (plan_index % 3 == 0 ? "USD" : plan_index % 3 == 1 ? "JPY" : "KWD") << "\n"
    << "  period " << num(plan_index + 1) << " day\n"
    << "  rounding half_up to " << num(plan_index + 2) << " decimals per line\n"
    << "  unit token\n"
    << "  event e {\n    q: quantity of " << meter_unit << "\n    amount: money\n    n: decimal\n    user: id\n  }\n"
    << "  meter m = sum(e.q)\n  meter spend = sum(e.amount)\n  meter users = count_distinct(e.user)\n"
    << "  meter events = count(e)\n";
  const std::string cur = plan_index % 3 == 0 ? "USD" : plan_index % 3 == 1 ? "JPY" : "KWD";
  for (std::size_t j = 0; j < kAdversarialUnits.size(); ++j) {
    const std::string& u = kAdversarialUnits[j];
    const std::string x = num(plan_index + j), y = num(plan_index + 2 * j + 1), p = num(3 * plan_index + j + 2);
    s << "  charge \"g" << j << "\" = graduated m {\n"
      << "    up to " << x << " " << meter_unit << "  " << p << " " << cur << " per " << y << " " << u << "\n"
      << "    up to " << y << " " << u << "  " << p << " " << cur << " per " << u << " + " << x << " " << cur << " flat\n"
      << "    above  " << p << " " << cur << " per started " << y << " " << u << "\n  }\n"
      << "  charge \"v" << j << "\" = volume m {\n"
      << "    up to " << x << " " << u << "  " << p << " " << cur << " per " << y << " " << u << "\n"
      << "    up to " << y << "  " << x << " " << cur << " per " << meter_unit << "\n"
      << "    above  " << p << " " << cur << " per " << u << "\n  } allow falling_total\n"
      << "  charge \"f" << j << "\" = m * " << p << " " << cur << " per " << y << " " << u << " included " << x << " " << u << "\n"
      << "  charge \"e" << j << "\" = each e: e.q * " << p << " " << cur << " per " << y << " " << u << " + " << x << " " << cur
      << " free first " << x << " events or " << y << " " << cur << " rounding half_up to 2 decimals per event\n"
      << "  charge \"s" << j << "\" = volume spend {\n"
      << "    up to " << x << " " << cur << "  " << p << "%\n"
      << "    up to " << y << " " << cur << "  " << p << " bp + " << x << " " << cur << " flat\n"
      << "    above  " << y << "%\n  }\n"
      << "  charge \"d" << j << "\" = volume users {\n"
      << "    up to " << x << "  " << p << " " << cur << "\n"
      << "    up to " << y << "  " << p << " " << cur << " + " << x << " " << cur << " flat\n"
      << "    above  " << y << " " << cur << " per " << u << "\n  }\n"
      << "  charge \"c" << j << "\" = volume events {\n"
      << "    up to " << x << "  " << p << " " << cur << " per e\n"
      << "    above  " << y << " " << cur << " per " << x << " e\n  }\n";
  }
  s << "  discount " << num(plan_index) << "% on \"f0\"\n"
    << "  discount " << num(plan_index + 1) << " bp on \"f1\"\n"
    << "  discount " << num(plan_index + 2) << " " << cur << " on \"f2\"\n"
    << "  minimum " << num(plan_index + 3) << " " << cur << "\n"
    << "  maximum " << num(plan_index + 4) << " " << cur << " on \"g0\"\n"
    << "  test \"t\" {\n"
    << "    usage e x " << num(plan_index + 5) << " { q = " << num(plan_index + 6) << " " << meter_unit << ", amount = "
    << num(plan_index + 7) << " " << cur << ", n = " << num(plan_index + 8) << " }\n"
    << "    usage e x " << num(plan_index + 9) << "\n"
    << "    credit \"c\" = " << num(plan_index + 10) << " " << cur << " priority " << num(plan_index + 11) << "\n"
    << "    expect total = " << num(plan_index + 1) << " " << cur << "\n  }\n"
    << "}\n";
  return s.str();
}

}  // namespace

TEST_CASE("robustness: no literal, however large, small or long, makes the checker throw") {
  std::size_t plans = 0, diagnostics = 0;
  // Every meter unit, and every number in every position through the rotation.
  for (std::size_t i = 0; i < kAdversarialUnits.size() * 3; ++i) {
    const std::string text = AdversarialPlan(i);
    INFO(text);
    tariff::SourceManager sources;
    tariff::FileId id = sources.AddFile("adversarial.tariff", text);
    tariff::DiagnosticSink sink;
    std::string thrown;
    try {
      tariff::CheckSource(sources, id, sink);
    } catch (const std::exception& e) {
      thrown = e.what();
    }
    CHECK(thrown.empty());
    for (const tariff::Diagnostic& d : sink.diagnostics()) {
      INFO(d.message);
      CHECK(d.message.find("internal") == std::string::npos);
      CHECK(d.span.file.valid());  // every problem has a place in the plan
    }
    ++plans;
    diagnostics += sink.diagnostics().size();
  }
  CHECK(plans == kAdversarialUnits.size() * 3);
  CHECK(diagnostics > plans);  // the plans are full of mistakes, and each is reported
}
