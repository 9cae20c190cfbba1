// tools/driver: the shape every subcommand shares. Internal to the driver library (CLI11 types
// do not leave tools/driver).
#pragma once

#include <functional>
#include <iosfwd>

#include <CLI/CLI.hpp>

namespace tariff::driver {

// Where a subcommand writes: data to `out`, messages to `err`; `color` when err is a terminal.
struct Streams {
  std::ostream& out;
  std::ostream& err;
  bool color = false;
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

}  // namespace tariff::driver
