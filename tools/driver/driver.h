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

// Runs `tariff ARGS...` (args excludes the program name). Data goes to `out`, messages to
// `err`. Never throws; returns one of ExitCode.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tariff::driver
