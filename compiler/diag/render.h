// compiler/diag: diagnostics rendered for people (text, like rustc and clang) and for programs
// (JSON, GitHub workflow annotations, SARIF 2.1.0). Formats are documented in docs/cli.md and
// docs/diagnostics.md; positions are 1-based lines and columns in code points, and an end
// position is the one just after the span (exclusive).
#pragma once

#include <iosfwd>
#include <span>
#include <string>

#include "compiler/diag/diagnostic.h"
#include "compiler/source/source.h"

namespace tariff {

// `file:line:col: error[E0201]: message`, the source line, carets under the span, each note
// with its own location and source line, and `= hint: …`. ANSI colours when `color`.
void RenderText(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out,
                bool color = false);
// A JSON array, one object per diagnostic: code, severity, message, file, line, column,
// end_line, end_column, notes (array of {message, file, line, column, end_line, end_column}),
// hint (string or null).
void RenderJson(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out);
// One `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=CODE::message` line each
// (`::warning` for warnings), escaped as GitHub's workflow commands require.
void RenderGithub(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out);
// A SARIF 2.1.0 log with one run. Every catalog kind is a rule: `id` the code, `name` the kind,
// `shortDescription` its one-sentence summary (never a message template), a default level and a
// `help` text naming its section of docs/diagnostics.md; each result has `ruleId` and `ruleIndex`.
void RenderSarif(const SourceManager& sources, std::span<const Diagnostic> diagnostics, std::ostream& out);

// The closing line of `tariff check`: "checked 3 files: 2 errors, 1 warning" or
// "checked 1 file: no problems".
std::string SummaryLine(int errors, int warnings, std::size_t files);

}  // namespace tariff
