// compiler/compiler.h: the front door of the compiler. Source text in; diagnostics and, when the
// plan is sound, the checked plan out. Drivers and the engine's library use only this header
// (plus the diagnostics they render), never the phases one by one.
#pragma once

#include <memory>

#include "compiler/diag/diagnostic.h"
#include "compiler/parse/parse.h"
#include "compiler/sema/sema.h"
#include "compiler/source/source.h"

namespace tariff {

// One file through the front end. `checked` is null when the file did not parse.
struct CheckedSource {
  FileId file;
  ParseResult parse;
  std::unique_ptr<CheckedFile> checked;

  // True when the file parsed and checked without errors (warnings allowed).
  bool ok() const { return checked != nullptr && checked->ok; }
};

// Parses and checks the file `file` of `sources`, reporting every diagnostic to `sink`.
CheckedSource CheckSource(const SourceManager& sources, FileId file, DiagnosticSink& sink);

}  // namespace tariff
