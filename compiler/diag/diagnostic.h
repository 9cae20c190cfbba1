// compiler/diag: the one catalog of diagnostics (diagnostic_kinds.def) and the sink every phase
// reports to. Rendering for people and programs is in compiler/diag/render.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "compiler/source/source.h"

namespace tariff {

// One value per line of diagnostic_kinds.def.
enum class DiagKind : std::uint16_t {
#define DIAG(kind, code, severity, message, summary) kind,
#include "compiler/diag/diagnostic_kinds.def"
#undef DIAG
};

enum class Severity : std::uint8_t { kError, kWarning };

// The stable code (`E0301`), the default severity and the message format of a kind.
std::string_view DiagCode(DiagKind kind);
// The kind's name in the catalog (`UnknownName`): SARIF's rule `name`.
std::string_view DiagName(DiagKind kind);
Severity DiagSeverity(DiagKind kind);
std::string_view DiagFormat(DiagKind kind);
// One sentence, without placeholders, saying what the kind is about ("a name refers to nothing
// the plan declares"): SARIF's rule description, the heading of its docs/diagnostics.md entry.
std::string_view DiagSummary(DiagKind kind);
// Every kind in the catalog, in catalog order.
std::span<const DiagKind> AllDiagKinds();
// "error" or "warning".
std::string_view SeverityName(Severity severity);

// A secondary location: "first declared here".
struct DiagNote {
  Span span;
  std::string message;
};

// One reported problem. Built by DiagnosticSink::Report; the phases add notes and a hint.
struct Diagnostic {
  DiagKind kind{};
  Severity severity = Severity::kError;
  Span span;                 // the primary location
  std::string message;       // the catalog message with its arguments filled in
  std::vector<DiagNote> notes;
  std::string hint;          // empty when there is none

  // Adds a secondary location. Returns *this for chaining.
  Diagnostic& Note(Span note_span, std::string note_message) {
    notes.push_back({note_span, std::move(note_message)});
    return *this;
  }
  // Sets the hint (an empty hint is no hint). Returns *this for chaining.
  Diagnostic& Hint(std::string text) {
    hint = std::move(text);
    return *this;
  }
};

// Collects the diagnostics of a run. Report returns a reference that stays valid until the
// next Report (use it to add notes and a hint at once).
class DiagnosticSink {
 public:
  // Reports `kind` at `span`, formatting the catalog message with `args` (which must match the
  // `{}` of the message: the catalog states them). Never throws for a count mismatch: the
  // message then says so, so that a bug in a message is visible but harmless.
  template <typename... Args>
  Diagnostic& Report(DiagKind kind, Span span, const Args&... args) {
    return Add(kind, span, FormatMessage(DiagFormat(kind), fmt::make_format_args(args...)));
  }

  // Every diagnostic reported, in the order reported.
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  // Every diagnostic sorted by file, then position, then code (a stable sort: same position
  // keeps report order).
  std::vector<Diagnostic> Sorted() const;
  int error_count() const;
  int warning_count() const;
  bool has_errors() const { return error_count() > 0; }

 private:
  static std::string FormatMessage(std::string_view format, fmt::format_args args);
  Diagnostic& Add(DiagKind kind, Span span, std::string message);

  std::vector<Diagnostic> diagnostics_;
};

}  // namespace tariff
