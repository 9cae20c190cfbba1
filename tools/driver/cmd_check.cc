// tools/driver: `tariff check FILE|DIR...` — every diagnostic of every plan, then a summary.
#include <ostream>

#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/inputs.h"

namespace tariff::driver {

Action RegisterCheck(CLI::App& app, Streams& streams) {
  struct Options {
    std::vector<std::string> paths;
    std::string format = "text";
    bool strict = false;
  };
  auto options = std::make_shared<Options>();
  app.add_option("paths", options->paths, "plan files, or directories searched for *.tariff")->required();
  app.add_option("--format", options->format, "text (for people), json, github (workflow annotations) or sarif (SARIF 2.1.0)")
      ->check(CLI::IsMember({"text", "json", "github", "sarif"}));
  app.add_flag("--strict", options->strict, "treat warnings as errors (exit 1)");

  return [options, &streams]() -> int {
    std::optional<std::vector<std::string>> files = ExpandPlanInputs(options->paths, streams.err);
    if (!files) return kExitUsage;
    SourceManager sources;
    DiagnosticSink sink;
    for (const std::string& path : *files) {
      auto loaded = LoadSource(sources, path, streams);
      if (!loaded.ok()) {
        streams.err << "error: " << loaded.error << "\n";
        return kExitUsage;
      }
      CheckSource(sources, loaded.file, sink);
    }
    std::vector<Diagnostic> diagnostics = sink.Sorted();
    const std::string& format = options->format;
    if (format == "text") {
      RenderText(sources, diagnostics, streams.out, streams.out_color);
    } else if (format == "json") {
      RenderJson(sources, diagnostics, streams.out);
    } else if (format == "github") {
      RenderGithub(sources, diagnostics, streams.out);
    } else {
      RenderSarif(sources, diagnostics, streams.out);
    }
    streams.err << SummaryLine(sink.error_count(), sink.warning_count(), files->size()) << "\n";
    if (sink.error_count() > 0) return kExitFailure;
    if (options->strict && sink.warning_count() > 0) return kExitFailure;
    return kExitOk;
  };
}

}  // namespace tariff::driver
