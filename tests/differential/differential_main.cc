// tests/differential: the `differential` program — random plans and usage rated by an engine
// and by the reference evaluator, compared line by line; a mismatch is shrunk and written out as
// a repro. docs/testing.md ("Reference evaluator and differential testing") shows how to run it.
//
//   differential [--seed N] [--cases N | --soak SECONDS] [--engine NAME] [--out DIR] [--verbose]
//                [--print] [--no-shrink] [--repros N] [--without SWITCH]…
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "tests/differential/generate.h"
#include "tests/differential/harness.h"

namespace {

using namespace tariff::differential;
namespace fs = std::filesystem;

struct Args {
  std::uint64_t seed = 1;
  std::uint64_t cases = 1000;
  double soak_seconds = 0;
  std::string engine = "interpreter";
  std::string out;
  bool verbose = false;
  bool print = false;  // print every case (plan and usage), failing or not
  bool shrink = true;
  int repros = 1;  // shrunk repros printed (and written) per category
  GenerateOptions generate;
};

int Usage(const std::string& why) {
  std::cerr << "differential: " << why << "\n"
            << "usage: differential [--seed N] [--cases N | --soak SECONDS] [--engine NAME] [--out DIR] [--verbose]\n"
            << "                    [--print] [--no-shrink] [--repros N] [--without SWITCH]...\n"
            << "switches (--without): tiers_on_decimal_meters, overflow_cases, odd_volume_packages, free_first_money_unread,\n"
            << "          inexact_tier_bounds, tables_without_above, allocations; (--with): stacked_adjustments\n";
  return 2;
}

bool SetSwitch(GenerateOptions& g, const std::string& name, bool on) {
  if (name == "tiers_on_decimal_meters") g.tiers_on_decimal_meters = on;
  else if (name == "stacked_adjustments") g.stacked_adjustments = on;
  else if (name == "overflow_cases") g.overflow_cases = on;
  else if (name == "odd_volume_packages") g.odd_volume_packages = on;
  else if (name == "inexact_tier_bounds") g.inexact_tier_bounds = on;
  else if (name == "tables_without_above") g.tables_without_above = on;
  else if (name == "free_first_money_unread") g.free_first_money_unread = on;
  else if (name == "allocations") g.allocations = on;
  else return false;
  return true;
}

std::string Slug(const std::string& s) {
  std::string out;
  for (char ch : s) {
    bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (keep) {
      out += ch;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.substr(0, 60);
}

void Write(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// Prints a case (and writes it under `dir` when given) with both answers.
void Report(const Case& c, const Outcome& o, const std::string& engine, const std::string& dir) {
  std::cout << "---- seed " << c.seed << ": " << o.category << "\n" << o.detail << "\n";
  std::cout << "plan.tariff:\n" << c.PlanText() << "usage.csv:\n" << c.UsageCsv();
  std::string subscriptions = c.SubscriptionsCsv();
  if (!subscriptions.empty()) std::cout << "subscriptions.csv:\n" << subscriptions;
  std::cout << "engine (" << engine << "):\n" << o.engine.Text() << "reference:\n" << o.reference.Text();
  std::cout << "rate it: tariff rate plan.tariff";
  for (const std::string& a : c.RateArgs()) std::cout << " " << a;
  std::cout << "\n\n";
  if (dir.empty()) return;
  fs::path d = fs::path(dir) / (Slug(o.category) + "-seed" + std::to_string(c.seed));
  fs::create_directories(d);
  Write(d / "plan.tariff", c.PlanText());
  Write(d / "usage.csv", c.UsageCsv());
  if (!subscriptions.empty()) Write(d / "subscriptions.csv", subscriptions);
  std::string args;
  for (const std::string& a : c.RateArgs()) args += a + "\n";
  Write(d / "args", args);
  Write(d / "engine.txt", o.engine.Text());
  Write(d / "reference.txt", o.reference.Text());
  Write(d / "mismatch.txt", "seed " + std::to_string(c.seed) + "\n" + o.category + "\n" + o.detail + "\n");
}

struct Tally {
  std::uint64_t count = 0;
  std::uint64_t first_seed = 0;
  int reported = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& s = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(s + " needs a value");
        return args[++i];
      };
      if (s == "--seed") a.seed = std::stoull(value());
      else if (s == "--cases") a.cases = std::stoull(value());
      else if (s == "--soak") a.soak_seconds = std::stod(value());
      else if (s == "--engine") a.engine = value();
      else if (s == "--out") a.out = value();
      else if (s == "--verbose") a.verbose = true;
      else if (s == "--print") a.print = true;
      else if (s == "--no-shrink") a.shrink = false;
      else if (s == "--repros") a.repros = std::stoi(value());
      else if (s == "--without" || s == "--with") {
        if (!SetSwitch(a.generate, value(), s == "--with")) return Usage("unknown switch `" + args[i] + "`");
      } else return Usage("unknown option `" + s + "`");
    }
  } catch (const std::exception& e) {
    return Usage(e.what());
  }
  bool known = false;
  for (const std::string& n : EngineNames()) known |= n == a.engine;
  if (!known) return Usage("no engine named `" + a.engine + "`");

  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::map<std::string, Tally> mismatches, invalid;
  std::uint64_t run = 0, agree = 0, scale_lines = 0, shrink_seconds_ms = 0;
  for (std::uint64_t i = 0;; ++i) {
    if (a.soak_seconds > 0 ? elapsed() >= a.soak_seconds : i >= a.cases) break;
    std::uint64_t seed = a.seed + i;
    Case c = Generate(seed, a.generate);
    Outcome o = RunCase(c, a.engine);
    ++run;
    if (a.print) {
      std::cout << "---- seed " << seed << "\nplan.tariff:\n" << c.PlanText() << "usage.csv:\n" << c.UsageCsv() << c.SubscriptionsCsv()
                << "engine (" << a.engine << "):\n" << o.engine.Text() << "reference:\n" << o.reference.Text();
    }
    scale_lines += static_cast<std::uint64_t>(o.scale_differences);
    if (o.verdict == Outcome::Verdict::kAgree) {
      ++agree;
      if (a.verbose) {
        std::cout << "seed " << seed << ": agree";
        if (o.scale_differences > 0) std::cout << " (" << o.scale_differences << " at another scale: " << o.scale_detail << ")";
        std::cout << "\n";
      }
      continue;
    }
    auto& tallies = o.verdict == Outcome::Verdict::kInvalid ? invalid : mismatches;
    Tally& t = tallies[o.category];
    if (t.count++ == 0) t.first_seed = seed;
    if (a.verbose) std::cout << "seed " << seed << ": " << o.category << ": " << o.detail << "\n";
    if (t.reported >= a.repros) continue;
    ++t.reported;
    Case shown = c;
    Outcome shown_outcome = o;
    if (a.shrink && o.verdict == Outcome::Verdict::kMismatch) {
      auto shrink_start = std::chrono::steady_clock::now();
      std::string category = o.category;
      shown = Shrink(c, [&](const Case& candidate) { return RunCase(candidate, a.engine).category == category; });
      shown_outcome = RunCase(shown, a.engine);
      shrink_seconds_ms += static_cast<std::uint64_t>(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - shrink_start).count());
    }
    Report(shown, shown_outcome, a.engine, a.out);
  }
  double seconds = elapsed();
  std::uint64_t failed = run - agree;
  std::cout << "differential: engine " << a.engine << ", seeds " << a.seed << ".." << a.seed + (run ? run - 1 : 0) << ", "
            << run << " cases in " << seconds << " s (" << (seconds > 0 ? static_cast<double>(run) / seconds : 0)
            << " cases/s; shrinking " << static_cast<double>(shrink_seconds_ms) / 1000 << " s)\n";
  std::cout << "  agree: " << agree << "\n";
  for (const auto& [category, t] : mismatches) {
    std::cout << "  mismatch: " << category << ": " << t.count << " (first seed " << t.first_seed << ")\n";
  }
  for (const auto& [category, t] : invalid) {
    std::cout << "  invalid case: " << category << ": " << t.count << " (first seed " << t.first_seed << ")\n";
  }
  std::cout << "  lines equal by value but printed at another scale (not failures): " << scale_lines << "\n";
  std::cout << agree << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
