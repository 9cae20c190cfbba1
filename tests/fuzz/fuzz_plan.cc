// tests/fuzz: plan text through the whole front end — parse, check, format, re-check, lower,
// verify, and a rating with no usage — asserting the promises of compiler.h, format.h and
// lower.h rather than only the absence of a crash.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/compiler.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/format/format.h"
#include "compiler/ir/ir.h"
#include "compiler/lower/lower.h"
#include "runtime/decimal/decimal.h"
#include "runtime/exec/exec.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr std::string_view kHarness = "fuzz_plan";

// One text through CheckSource, with the sink it reported to. Lives on the heap: the checked
// file points into the parse result and the source manager.
struct FrontEnd {
  tariff::SourceManager sources;
  tariff::FileId id;
  tariff::DiagnosticSink sink;
  tariff::CheckedSource checked;

  const tariff::SourceFile& source() const { return sources.file(id); }
  bool parsed() const { return checked.parse.file != nullptr; }
};

std::unique_ptr<FrontEnd> RunFrontEnd(std::string text, const char* what) {
  auto fe = std::make_unique<FrontEnd>();
  fe->id = fe->sources.AddFile("fuzz.tariff", std::move(text));
  try {
    fe->checked = tariff::CheckSource(fe->sources, fe->id, fe->sink);
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("CheckSource threw on the ") + what + " text: " + e.what());
  }
  // The sink and the result agree: a file is ok exactly when no error was reported.
  FUZZ_CHECK(fe->checked.ok() == !fe->sink.has_errors(),
             std::string("CheckSource says ok=") + (fe->checked.ok() ? "true" : "false") + " with " +
                 std::to_string(fe->sink.error_count()) + " errors reported (" + what + " text)");
  FUZZ_CHECK(fe->parsed() == (fe->checked.checked != nullptr), std::string("a parsed file was not checked (") + what + ")");
  return fe;
}

std::string Format(const FrontEnd& fe, const char* what) {
  try {
    return tariff::Format(*fe.checked.parse.file, fe.checked.parse.comments, fe.source().text());
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("Format threw on the ") + what + " text: " + e.what());
  }
}

// Code, severity and message of every diagnostic, in the order reported (positions left out:
// formatting moves them).
std::string Messages(const tariff::DiagnosticSink& sink) {
  std::string out;
  for (const tariff::Diagnostic& d : sink.diagnostics()) {
    out += std::string(tariff::DiagCode(d.kind)) + " " + std::string(tariff::SeverityName(d.severity)) + ": " + d.message + "\n";
  }
  return out;
}

// Rates one customer with no usage: recurring fees, minimums and adjustments only. Totals are
// the exact sum of their lines; a RatingError (an overflow the plan's numbers cause) is the
// documented way to fail.
void RateWithoutUsage(const tariff::ir::RatingFunction& function) {
  std::vector<tariff::Invoice> invoices;
  try {
    tariff::Engine engine(function);
    engine.AddCustomer("fuzz");
    invoices = engine.Finish();
  } catch (const tariff::RatingError&) {
    return;
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("rating with no usage threw a non-RatingError: ") + e.what());
  }
  FUZZ_CHECK(invoices.size() == 1, "one customer added, " + std::to_string(invoices.size()) + " invoices");
  for (const tariff::Invoice& invoice : invoices) {
    tariff::Decimal sum;
    for (const tariff::InvoiceLine& line : invoice.lines) {
      if (!tariff::Decimal::TryAdd(sum, line.amount, &sum)) tariff::fuzz::Fail(kHarness, "the lines' sum overflows");
    }
    FUZZ_CHECK(sum == invoice.total, "invoice total " + invoice.total.ToString() + " != sum of lines " + sum.ToString());
  }
}

// The harness proper; LLVMFuzzerTestOneInput below wraps it.
int TestOneInput(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<FrontEnd> original = RunFrontEnd(std::string(reinterpret_cast<const char*>(data), size), "original");
  if (!original->parsed()) {
    FUZZ_CHECK(original->sink.has_errors(), "the file did not parse and no error was reported");
    return 0;
  }

  // Formatting: the output parses to the same tree, formats to itself, and checks the same.
  const std::string formatted = Format(*original, "original");
  std::unique_ptr<FrontEnd> reformatted = RunFrontEnd(formatted, "formatted");
  if (!reformatted->parsed()) {
    std::string first = reformatted->sink.diagnostics().empty() ? "" : reformatted->sink.diagnostics().front().message;
    tariff::fuzz::Fail(kHarness, "the formatted text does not parse: " + first + "\n--- formatted ---\n" + formatted);
  }
  FUZZ_CHECK(tariff::ast::Dump(*original->checked.parse.file) == tariff::ast::Dump(*reformatted->checked.parse.file),
             "formatting changed the tree\n--- formatted ---\n" + formatted);
  const std::string twice = Format(*reformatted, "formatted");
  FUZZ_CHECK(twice == formatted, "formatting is not idempotent\n--- fmt(x) ---\n" + formatted + "\n--- fmt(fmt(x)) ---\n" + twice);
  const std::string before = Messages(original->sink), after = Messages(reformatted->sink);
  FUZZ_CHECK(before == after, "formatting changed the diagnostics\n--- original ---\n" + before + "--- formatted ---\n" + after);

  if (!original->checked.ok()) return 0;

  // A clean plan lowers (a failure is a bug, lower.h), to IR that verifies, and rates.
  const tariff::CheckedFile& checked = *original->checked.checked;
  for (const tariff::CheckedPlan& plan : checked.plans) {
    tariff::LowerResult lowered;
    try {
      lowered = tariff::Lower(checked, plan, original->source());
    } catch (const std::exception& e) {
      tariff::fuzz::Fail(kHarness, std::string("Lower threw on a clean plan: ") + e.what());
    }
    FUZZ_CHECK(lowered.ok(), "Lower failed on a clean plan: " + lowered.errors.front());
    std::vector<std::string> problems = tariff::ir::Verify(lowered.function);
    FUZZ_CHECK(problems.empty(), "ir::Verify after Lower: " + (problems.empty() ? std::string() : problems.front()));
    RateWithoutUsage(lowered.function);
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tariff::fuzz::Guarded([&] { return TestOneInput(data, size); });
}
