// tools/driver: FILE|DIR arguments -> plan files.
#include "tools/driver/inputs.h"

#include <algorithm>
#include <filesystem>
#include <ostream>

#include <fmt/format.h>

namespace tariff::driver {

std::optional<std::vector<std::string>> ExpandPlanInputs(const std::vector<std::string>& args, std::ostream& err) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  bool ok = true;
  for (const std::string& arg : args) {
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

}  // namespace tariff::driver
