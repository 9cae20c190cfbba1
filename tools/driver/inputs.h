// tools/driver: turning FILE|DIR arguments into the list of plan files a command works on.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace tariff::driver {

// Expands each argument: a file is taken as given; a directory is searched recursively for
// `*.tariff` files (sorted, so output order never depends on the file system). A path that
// does not exist is reported on `err` and makes the result empty (a usage error, exit 2).
std::optional<std::vector<std::string>> ExpandPlanInputs(const std::vector<std::string>& args, std::ostream& err);

}  // namespace tariff::driver
