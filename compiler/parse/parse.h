// compiler/parse: source text -> AST. The only code in tariff that touches ANTLR; no ANTLR type
// appears in this header.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/source/source.h"

namespace tariff {

// A comment as written, kept for the formatter (the AST has none).
struct Comment {
  Span span;
  std::string text;         // including `//` or `/* */`
  bool own_line = false;    // nothing but white space before it on its line
};

struct ParseResult {
  // The tree, or null when the file has syntax errors (each reported to the sink). A file with
  // syntax errors is not checked further: one mistake, one message.
  std::unique_ptr<const ast::File> file;
  std::vector<Comment> comments;  // in source order
};

// Parses `source` (registered as `file_id`). Syntax errors are worded for people: what was
// found, what was expected, and for an unclosed bracket what it was opened for and where.
// Reports at most one syntax error per line and at most 20 per file.
ParseResult Parse(const SourceFile& source, FileId file_id, DiagnosticSink& sink);

}  // namespace tariff
