// tools/driver: turning FILE|DIR arguments into the list of plan files a command works on.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "compiler/source/source.h"

namespace tariff::driver {

struct Streams;

// The name diagnostics give a plan read from standard input (`-`).
inline constexpr const char* kStdinName = "<stdin>";

// Expands each argument: a file is taken as given; a directory is searched recursively for
// `*.tariff` files (sorted, so output order never depends on the file system). A path that
// does not exist is reported on `err` and makes the result empty (a usage error, exit 2).
// `-` is standard input, at most once.
std::optional<std::vector<std::string>> ExpandPlanInputs(const std::vector<std::string>& args, std::ostream& err);

// Loads a plan file, or standard input (streams.in) for `-`, named kStdinName in diagnostics.
SourceManager::LoadResult LoadSource(SourceManager& sources, const std::string& path, Streams& streams);

}  // namespace tariff::driver
