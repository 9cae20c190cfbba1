// tools/driver: `tariff fmt FILE|DIR...` — canonical layout; `--write` in place (atomically),
// `--check` lists files that are not formatted. A file that does not parse is never touched.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>

#include <fmt/format.h>
#include <unistd.h>

#include "compiler/diag/render.h"
#include "compiler/format/format.h"
#include "compiler/parse/parse.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/inputs.h"

namespace tariff::driver {
namespace {

// Writes `text` to `path` through a temporary file in the same directory and a rename, so a
// reader sees the old file or the new one, never a half-written one.
bool WriteAtomically(const std::string& path, const std::string& text, std::string* error) {
  std::filesystem::path target(path);
  std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".tariff-fmt-XXXXXX")).string();
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    *error = fmt::format("cannot create a temporary file beside `{}`", path);
    return false;
  }
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  std::error_code ec;
  auto perms = std::filesystem::status(target, ec).permissions();
  bool ok = written == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (ok && !ec) std::filesystem::permissions(tmp, perms, ec);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    *error = fmt::format("cannot write `{}`", path);
    return false;
  }
  return true;
}

}  // namespace

Action RegisterFmt(CLI::App& app, Streams& streams) {
  struct Options {
    std::vector<std::string> paths;
    bool write = false;
    bool check = false;
  };
  auto options = std::make_shared<Options>();
  app.add_option("paths", options->paths, "plan files, or directories searched for *.tariff")->required();
  auto* write = app.add_flag("--write,-w", options->write, "rewrite files in place instead of printing them");
  app.add_flag("--check", options->check, "list files whose layout is not canonical and exit 1")->excludes(write);

  return [options, &streams]() -> int {
    std::optional<std::vector<std::string>> files = ExpandPlanInputs(options->paths, streams.err);
    if (!files) return kExitUsage;
    SourceManager sources;
    DiagnosticSink sink;
    int unformatted = 0;
    bool failed = false;
    if (options->write && std::find(files->begin(), files->end(), "-") != files->end()) {
      streams.err << "error: `fmt --write` cannot rewrite standard input; without --write the formatted plan goes to standard output\n";
      return kExitUsage;
    }
    for (const std::string& path : *files) {
      const std::string& shown = path == "-" ? std::string(kStdinName) : path;
      auto loaded = LoadSource(sources, path, streams);
      if (!loaded.ok()) {
        streams.err << "error: " << loaded.error << "\n";
        return kExitUsage;
      }
      const SourceFile& source = sources.file(loaded.file);
      DiagnosticSink file_sink;
      ParseResult parsed = Parse(source, loaded.file, file_sink);
      if (parsed.file == nullptr) {
        RenderText(sources, file_sink.Sorted(), streams.err, streams.color);
        streams.err << fmt::format("{}: not formatted: it does not parse\n", shown);
        failed = true;
        continue;
      }
      std::string formatted = Format(*parsed.file, parsed.comments, source.text());
      bool changed = formatted != source.text();
      if (options->check) {
        if (changed) {
          streams.out << shown << "\n";
          ++unformatted;
        }
      } else if (options->write) {
        std::string error;
        if (changed && !WriteAtomically(path, formatted, &error)) {
          streams.err << "error: " << error << "\n";
          failed = true;
        }
      } else {
        streams.out << formatted;
      }
    }
    if (options->check && unformatted > 0) {
      streams.err << fmt::format("{} of {} file(s) not formatted; run `tariff fmt --write`\n", unformatted, files->size());
    }
    return failed || unformatted > 0 ? kExitFailure : kExitOk;
  };
}

}  // namespace tariff::driver
