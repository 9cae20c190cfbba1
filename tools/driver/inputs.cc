// tools/driver: FILE|DIR arguments -> plan files.
#include "tools/driver/inputs.h"

#include <algorithm>
#include <filesystem>
#include <istream>
#include <iostream>
#include <iterator>
#include <ostream>

#include <fmt/format.h>

#include "tools/driver/command.h"

namespace tariff::driver {

std::optional<std::vector<std::string>> ExpandPlanInputs(const std::vector<std::string>& args, std::ostream& err) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  bool ok = true;
  bool stdin_seen = false;
  for (const std::string& arg : args) {
    if (arg == "-") {
      if (stdin_seen) {
        err << "error: `-` (standard input) is given twice\n";
        ok = false;
      }
      stdin_seen = true;
      files.push_back(arg);
      continue;
    }
    std::error_code ec;
    fs::file_status status = fs::status(arg, ec);
    if (ec || !fs::exists(status)) {
      err << fmt::format("error: `{}` does not exist\n", arg);
      ok = false;
      continue;
    }
    if (fs::is_directory(status)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(arg, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".tariff") found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(arg);
    }
  }
  if (!ok) return std::nullopt;
  return files;
}

SourceManager::LoadResult LoadSource(SourceManager& sources, const std::string& path, Streams& streams) {
  if (path != "-") return sources.Load(path);
  std::istream& in = streams.in != nullptr ? *streams.in : std::cin;
  constexpr std::size_t kMax = std::size_t{64} << 20;  // as SourceManager::Load
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMax) return {FileId{}, "cannot read standard input: larger than 64 MiB"};
  }
  if (in.bad()) return {FileId{}, "cannot read standard input: read error"};
  return {sources.AddFile(kStdinName, std::move(text)), ""};
}

}  // namespace tariff::driver
