// compiler/diag: the catalog tables, generated from diagnostic_kinds.def, and the sink.
#include "compiler/diag/diagnostic.h"

#include <algorithm>
#include <array>
#include <tuple>

namespace tariff {
namespace {

struct KindInfo {
  std::string_view name;
  std::string_view code;
  Severity severity;
  std::string_view format;
  std::string_view summary;
};

constexpr KindInfo kKinds[] = {
#define DIAG(kind, code, severity, message, summary) {#kind, code, Severity::severity, message, summary},
#include "compiler/diag/diagnostic_kinds.def"
#undef DIAG
};

constexpr DiagKind kAllKinds[] = {
#define DIAG(kind, code, severity, message, summary) DiagKind::kind,
#include "compiler/diag/diagnostic_kinds.def"
#undef DIAG
};

const KindInfo& Info(DiagKind kind) { return kKinds[static_cast<std::size_t>(kind)]; }

}  // namespace

std::string_view DiagCode(DiagKind kind) { return Info(kind).code; }
std::string_view DiagName(DiagKind kind) { return Info(kind).name; }
Severity DiagSeverity(DiagKind kind) { return Info(kind).severity; }
std::string_view DiagFormat(DiagKind kind) { return Info(kind).format; }
std::string_view DiagSummary(DiagKind kind) { return Info(kind).summary; }
std::span<const DiagKind> AllDiagKinds() { return kAllKinds; }
std::string_view SeverityName(Severity severity) { return severity == Severity::kError ? "error" : "warning"; }

std::string DiagnosticSink::FormatMessage(std::string_view format, fmt::format_args args) {
  try {
    return fmt::vformat(format, args);
  } catch (const fmt::format_error& e) {
    return fmt::format("{} (internal: message arguments do not match the catalog: {})", format, e.what());
  }
}

Diagnostic& DiagnosticSink::Add(DiagKind kind, Span span, std::string message) {
  Diagnostic& d = diagnostics_.emplace_back();
  d.kind = kind;
  d.severity = DiagSeverity(kind);
  d.span = span;
  d.message = std::move(message);
  return d;
}

std::vector<Diagnostic> DiagnosticSink::Sorted() const {
  std::vector<Diagnostic> out = diagnostics_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.span.file, a.span.begin, a.span.end) < std::tie(b.span.file, b.span.begin, b.span.end);
  });
  return out;
}

int DiagnosticSink::error_count() const {
  return static_cast<int>(std::count_if(diagnostics_.begin(), diagnostics_.end(),
                                        [](const Diagnostic& d) { return d.severity == Severity::kError; }));
}

int DiagnosticSink::warning_count() const {
  return static_cast<int>(std::count_if(diagnostics_.begin(), diagnostics_.end(),
                                        [](const Diagnostic& d) { return d.severity == Severity::kWarning; }));
}

}  // namespace tariff
