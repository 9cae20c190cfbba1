// tools/driver: every piece of command-line logic lives here, so that tests drive exactly what
// the `tariff` program runs. tools/driver/tariff_main.cc only forwards argv.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace tariff::driver {

// Documented exit codes (docs/cli.md), the same for every subcommand.
enum ExitCode : int {
  kExitOk = 0,        // success (warnings allowed unless --strict)
  kExitFailure = 1,   // a plan or the data is wrong (diagnostics, failed tests, rejected rows)
  kExitUsage = 2,     // the command line is wrong: unknown subcommand or flag, missing file
  kExitInternal = 3,  // a bug in tariff: an unexpected exception
};

// What the colour of the output depends on besides the command line (docs/cli.md, "Colour").
struct Terminal {
  bool out_is_terminal = false;  // what is written to `out` reaches a terminal
  bool err_is_terminal = false;  // what is written to `err` reaches a terminal
  std::string no_color;          // the value of the NO_COLOR variable; empty when it is unset
};

// This process's Terminal for `out` and `err`: a stream reaches a terminal only when it is
// std::cout (std::cerr) and file descriptor 1 (2) is a terminal; `no_color` from the environment.
Terminal ProcessTerminal(const std::ostream& out, const std::ostream& err);

// Runs `tariff ARGS...` (args excludes the program name). Data goes to `out`, messages to
// `err`. Text on a stream is coloured when `--color always` is given, or under `--color auto`
// (the default) when that stream reaches a terminal and NO_COLOR is empty; `--color never` and
// anything else writes plain text. Never throws; returns one of ExitCode.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const Terminal& terminal);
// The same in this process's terminal: Run(args, out, err, ProcessTerminal(out, err)).
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// The same, a plan given as `-` read from `in` (the others read std::cin). Usage given as `-`
// is always this process's standard input (the usage reader reads file descriptor 0).
int Run(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err, const Terminal& terminal);

}  // namespace tariff::driver
