// tools/driver: the command line. Parses argv with CLI11, dispatches to one subcommand, and
// turns every outcome into a documented exit code.
#include "tools/driver/driver.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <ostream>
#include <string_view>

#include <fmt/format.h>
#include <unistd.h>

#include "tariff/version.h"
#include "tools/driver/command.h"

namespace tariff::driver {
namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  Register reg;
  bool diagnostics;  // prints a plan's diagnostics: takes --color
};

// The subcommands that exist today, in the order `--help` lists them.
constexpr Subcommand kSubcommands[] = {
    {"check", "check plans for errors: names, types, units, currencies, tiers", &RegisterCheck, true},
    {"fmt", "print plans in canonical layout (--write in place, --check to verify)", &RegisterFmt, true},
    {"rate", "rate usage with a plan into invoices: exact, with every row accounted for", &RegisterRate, true},
    {"explain", "show how each line of a customer's invoice was computed, step by step", &RegisterExplain, true},
    {"test", "run the tests written in plans: usage in, expected lines and totals out", &RegisterTest, true},
    {"diff", "the revenue effect of a price change: two plans (or versions) rated over the same usage", &RegisterDiff, true},
    {"plot", "chart a plan's charges: amount, average and marginal price against the quantity (SVG or PNG)", &RegisterPlot, true},
    {"convert", "convert a quantity between units exactly (e.g. `1.5 GiB` to `MB`)", &RegisterConvert, false},
    {"completion", "print shell completion for bash or zsh (e.g. `source <(tariff completion bash)`)", &RegisterCompletion, false},
    {"man", "print the manual page (roff; e.g. `tariff man | man -l -`)", &RegisterMan, false},
};

// Levenshtein distance, for "did you mean" hints.
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diag = up;
    }
  }
  return row[b.size()];
}

int ReportUnknownSubcommand(std::string_view name, std::ostream& err) {
  err << fmt::format("error: unknown subcommand `{}`\n", name);
  const Subcommand* best = nullptr;
  std::size_t best_distance = 3;  // suggest only close matches
  for (const auto& sub : kSubcommands) {
    std::size_t d = EditDistance(name, sub.name);
    if (d < best_distance) best_distance = d, best = &sub;
  }
  if (best != nullptr) err << fmt::format("hint: did you mean `{}`?\n", best->name);
  err << "see `tariff --help` for the list of subcommands\n";
  return kExitUsage;
}

}  // namespace

Terminal ProcessTerminal(const std::ostream& out, const std::ostream& err) {
  Terminal t;
  t.out_is_terminal = &out == &std::cout && isatty(STDOUT_FILENO) != 0;
  t.err_is_terminal = &err == &std::cerr && isatty(STDERR_FILENO) != 0;
  const char* no_color = std::getenv("NO_COLOR");
  t.no_color = no_color != nullptr ? no_color : "";
  return t;
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return Run(args, out, err, ProcessTerminal(out, err));
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const Terminal& terminal) {
  return Run(args, std::cin, out, err, terminal);
}

int Run(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err, const Terminal& terminal) {
  Streams streams{out, err};
  streams.in = &in;
  CLI::App app{"tariff: typed price plans, checked before launch and rated exactly", "tariff"};
  app.set_version_flag("--version", std::string("tariff ") + TARIFF_VERSION);
  app.require_subcommand(0, 1);
  app.footer("Exit codes: 0 ok, 1 the plan or data is wrong, 2 usage error, 3 internal error.");

  std::vector<std::pair<CLI::App*, Action>> actions;
  std::string color = "auto";
  for (const auto& sub : kSubcommands) {
    CLI::App* cmd = app.add_subcommand(sub.name, sub.summary);
    actions.emplace_back(cmd, sub.reg(*cmd, streams));
    if (sub.diagnostics) {
      cmd->add_option("--color", color, "colour the output: auto (when the stream it goes to is a terminal and NO_COLOR is unset), always or never")
          ->check(CLI::IsMember({"auto", "always", "never"}));
    }
  }

  if (!args.empty() && !args[0].empty() && args[0][0] != '-' &&
      std::none_of(std::begin(kSubcommands), std::end(kSubcommands),
                   [&](const Subcommand& s) { return args[0] == s.name; })) {
    return ReportUnknownSubcommand(args[0], err);
  }

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    err << "error: " << e.what() << "\n";
    err << "see `tariff --help`\n";
    return kExitUsage;
  }

  // Colour follows the stream the text goes to (diagnostics are on stdout for `check`); NO_COLOR
  // (any value but the empty one, https://no-color.org) turns `auto` off, never `always`.
  auto colored = [&](bool is_terminal) {
    return color == "always" || (color == "auto" && is_terminal && terminal.no_color.empty());
  };
  streams.out_color = colored(terminal.out_is_terminal);
  streams.color = colored(terminal.err_is_terminal);

  try {
    for (auto& [cmd, action] : actions) {
      if (cmd->parsed()) return action();
    }
    err << app.help();
    return kExitUsage;  // no subcommand given
  } catch (const std::exception& e) {
    err << "internal error: " << e.what() << "\nthis is a bug in tariff; please report it with the input that caused it\n";
    return kExitInternal;
  }
}

}  // namespace tariff::driver
