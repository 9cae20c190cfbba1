// tools/plot: SVG to PNG through headless Chromium, run as a child process (no shell: the
// arguments are passed as they are). docs/plot.md says why Chromium rather than a library.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "tools/plot/plot.h"

extern char** environ;

namespace tariff::plot {
namespace {

bool Executable(const std::string& path) { return !path.empty() && access(path.c_str(), X_OK) == 0; }

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The last `n` lines of `text`.
std::string Tail(const std::string& text, std::size_t n) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

}  // namespace

std::string FindChromium() {
  if (const char* env = std::getenv("TARIFF_CHROMIUM"); env != nullptr && env[0] != '\0') return Executable(env) ? env : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::size_t start = 0;
    while (start <= dirs.size()) {
      std::size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      const std::string candidate = dirs.substr(start, end - start) + "/" + name;
      if (end > start && Executable(candidate)) return candidate;
      start = end + 1;
    }
  }
  return "";
}

bool RenderPng(const std::string& svg, int width, int height, const std::string& png_path, std::string* error) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    *error = "no Chromium to render the PNG with (install the Debian package `chromium`, or set TARIFF_CHROMIUM); an .svg needs none";
    return false;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "tariff-plot-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    *error = fmt::format("cannot create a temporary directory: {}", std::strerror(errno));
    return false;
  }
  const std::filesystem::path dir(buffer.data());
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::filesystem::path svg_file = dir / "plot.svg", png_file = dir / "plot.png", log_file = dir / "chromium.log";
  {
    std::ofstream out(svg_file, std::ios::binary);
    out << svg;
    if (!out) {
      *error = fmt::format("cannot write {}", svg_file.string());
      return false;
    }
  }
  std::vector<std::string> args = {chromium,
                                   "--headless",
                                   "--no-sandbox",  // root in containers and CI has no user namespace sandbox
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--hide-scrollbars",
                                   "--force-device-scale-factor=1",
                                   "--default-background-color=ffffffff",
                                   "--user-data-dir=" + (dir / "profile").string(),
                                   fmt::format("--window-size={},{}", width, height),
                                   "--screenshot=" + png_file.string(),
                                   "file://" + svg_file.string()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, chromium.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    *error = fmt::format("cannot run {}: {}", chromium, std::strerror(spawned));
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) break;
  }
  std::error_code ec;
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!exited_ok || !std::filesystem::exists(png_file, ec) || std::filesystem::file_size(png_file, ec) == 0) {
    *error = fmt::format("{} did not render the PNG ({}); its last output:\n{}", chromium,
                         WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : std::string("killed"), Tail(ReadAll(log_file), 8));
    return false;
  }
  // Into place: a rename when on the same file system, else a copy.
  std::filesystem::rename(png_file, png_path, ec);
  if (ec) {
    ec.clear();
    std::filesystem::copy_file(png_file, png_path, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      *error = fmt::format("cannot write {}: {}", png_path, ec.message());
      return false;
    }
  }
  return true;
}

}  // namespace tariff::plot
