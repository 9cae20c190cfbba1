// compiler/compiler.cc: parse, then check — the phases in order, nothing else.
#include "compiler/compiler.h"

namespace tariff {

CheckedSource CheckSource(const SourceManager& sources, FileId file, DiagnosticSink& sink) {
  CheckedSource result;
  result.file = file;
  const SourceFile& source = sources.file(file);
  result.parse = Parse(source, file, sink);
  if (result.parse.file != nullptr) result.checked = Check(*result.parse.file, source, sink);
  return result;
}

}  // namespace tariff
