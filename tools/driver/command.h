// tools/driver: the shape every subcommand shares. Internal to the driver library (CLI11 types
// do not leave tools/driver).
#pragma once

#include <functional>
#include <iosfwd>

#include <CLI/CLI.hpp>

namespace tariff::driver {

// Where a subcommand writes: data to `out`, messages to `err`. Each stream has its own colour
// decision, since diagnostics go to `out` for `check` and to `err` elsewhere: `color` says
// whether text written to `err` may use ANSI colours, `out_color` the same for `out`. Both are
// settled once the command line is parsed (--color, NO_COLOR, whether that stream is a
// terminal: docs/cli.md), before the action runs.
struct Streams {
  std::ostream& out;
  std::ostream& err;
  bool color = false;      // for text written to `err`
  bool out_color = false;  // for text written to `out`
  std::istream* in = nullptr;  // what `-` reads as a plan (standard input; a test's stream)
};

// A subcommand registers its options on `app` (a CLI11 subcommand) and returns the action
// that runs once the command line parsed; the action returns an ExitCode.
using Action = std::function<int()>;
using Register = Action (*)(CLI::App& app, Streams& streams);

// One per subcommand, each defined in tools/driver/cmd_*.cc.
Action RegisterCheck(CLI::App& app, Streams& streams);
Action RegisterFmt(CLI::App& app, Streams& streams);
Action RegisterConvert(CLI::App& app, Streams& streams);
Action RegisterTest(CLI::App& app, Streams& streams);
Action RegisterRate(CLI::App& app, Streams& streams);
Action RegisterExplain(CLI::App& app, Streams& streams);
Action RegisterDiff(CLI::App& app, Streams& streams);
Action RegisterPlot(CLI::App& app, Streams& streams);
Action RegisterCompletion(CLI::App& app, Streams& streams);
Action RegisterMan(CLI::App& app, Streams& streams);

}  // namespace tariff::driver
