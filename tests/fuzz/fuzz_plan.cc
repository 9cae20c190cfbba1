// tests/fuzz: plan text through the whole front end — parse, check, format, re-check, lower,
// verify, and a rating of a few sample rows — asserting the promises of compiler.h, format.h and
// lower.h rather than only the absence of a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "runtime/columnar/batch.h"
#include "runtime/decimal/decimal.h"
#include "runtime/decimal/fraction.h"
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

// A few rows of every event the plan reads, the same for every plan: decimals 0, 1.5 and
// 1000 (in the field's unit or currency), each `one of` value in turn, distinct keys, both
// booleans, an hour apart from 2026-03-01T00:00:00Z, for two customers.
tariff::Batch SampleRows(const tariff::EventSchema& schema, int event) {
  static const tariff::Decimal kNumbers[] = {tariff::Decimal(0), tariff::Decimal::FromParts(15, 1), tariff::Decimal(1000)};
  constexpr std::int64_t kMarch = 1772323200000000;  // 2026-03-01T00:00:00Z in µs
  constexpr int kRows = 3;
  tariff::Batch batch;
  batch.Reset(&schema, event);
  for (int row = 0; row < kRows; ++row) {
    for (std::size_t f = 0; f < schema.fields.size(); ++f) {
      const tariff::FieldSchema& field = schema.fields[f];
      tariff::Column& column = batch.columns[f];
      switch (field.type) {
        case tariff::ColumnType::kDecimal: column.decimals.push_back(kNumbers[row % 3]); break;
        case tariff::ColumnType::kBool: column.bools.push_back(static_cast<std::uint8_t>(row % 2)); break;
        case tariff::ColumnType::kTimestamp: column.times.push_back(kMarch + row * std::int64_t{3600000000}); break;
        case tariff::ColumnType::kText:
          if (!field.enum_values.empty()) {
            column.texts.push_back(field.enum_values[static_cast<std::size_t>(row) % field.enum_values.size()]);
          } else if (static_cast<int>(f) == schema.customer_field) {
            column.texts.push_back(row % 2 == 0 ? "c1" : "c2");
          } else {
            column.texts.push_back(schema.name + "-" + std::to_string(row));
          }
          break;
      }
    }
    batch.origins.push_back({0, static_cast<std::uint64_t>(row + 1)});
  }
  return batch;
}

// Rates the sample rows of every event, and a customer without usage but with subscription
// values. Totals are the exact sum of their lines; a RatingError is the documented way to fail
// (an overflow the plan's numbers cause, a division by zero), unless it says "internal".
void RateSampleUsage(const tariff::ir::RatingFunction& function) {
  std::vector<tariff::Invoice> invoices;
  try {
    const std::vector<tariff::EventSchema> schemas = tariff::SchemasOf(function);
    tariff::Engine engine(function);
    engine.AddCustomer("c0");
    for (const tariff::ir::Field& field : function.subscription) {
      switch (field.kind) {
        case tariff::ir::ValueKind::kDecimal: engine.SetSubscription("c0", field.name, tariff::Decimal(3)); break;
        case tariff::ir::ValueKind::kBool: engine.SetSubscription("c0", field.name, true); break;
        default:
          engine.SetSubscription("c0", field.name, field.enum_values.empty() ? std::string("x") : field.enum_values.front());
          break;
      }
    }
    for (std::size_t e = 0; e < schemas.size(); ++e) engine.Consume(SampleRows(schemas[e], static_cast<int>(e)));
    invoices = engine.Finish();
  } catch (const tariff::RatingError& e) {
    if (std::getenv("TARIFF_FUZZ_DEBUG") != nullptr) std::fprintf(stderr, "fuzz_plan: rating stopped: %s\n", e.what());
    FUZZ_CHECK(std::string_view(e.what()).find("internal") == std::string_view::npos,
               std::string("an internal error while rating a clean plan: ") + e.what());
    return;
  } catch (const std::exception& e) {
    tariff::fuzz::Fail(kHarness, std::string("rating threw a non-RatingError: ") + e.what());
  }
  if (std::getenv("TARIFF_FUZZ_DEBUG") != nullptr) std::fprintf(stderr, "fuzz_plan: %zu invoices\n", invoices.size());
  FUZZ_CHECK(!invoices.empty(), "no invoice for customer c0");
  for (const tariff::Invoice& invoice : invoices) {
    // Exactly: lines shown to 20 decimals may add up past 38 digits on their way to the total.
    tariff::Fraction sum;
    for (const tariff::InvoiceLine& line : invoice.lines) sum += line.amount;
    FUZZ_CHECK(sum == tariff::Fraction(invoice.total), "invoice total " + invoice.total.ToString() + " != sum of lines " + sum.ToString());
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
  // Failures say when the text starts with a UTF-8 byte-order mark: a known open bug shifts
  // every span of such a file (tests/fuzz/KNOWN_FAILING), and its signature needs to tell.
  const std::string bom = size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF
                              ? " [the text starts with a UTF-8 byte-order mark]"
                              : "";
  const std::string formatted = Format(*original, "original");
  std::unique_ptr<FrontEnd> reformatted = RunFrontEnd(formatted, "formatted");
  if (!reformatted->parsed()) {
    std::string first = reformatted->sink.diagnostics().empty() ? "" : reformatted->sink.diagnostics().front().message;
    tariff::fuzz::Fail(kHarness, "the formatted text does not parse: " + first + bom + "\n--- formatted ---\n" + formatted);
  }
  FUZZ_CHECK(tariff::ast::Dump(*original->checked.parse.file) == tariff::ast::Dump(*reformatted->checked.parse.file),
             "formatting changed the tree" + bom + "\n--- formatted ---\n" + formatted);
  const std::string twice = Format(*reformatted, "formatted");
  FUZZ_CHECK(twice == formatted, "formatting is not idempotent" + bom + "\n--- fmt(x) ---\n" + formatted + "\n--- fmt(fmt(x)) ---\n" + twice);
  const std::string before = Messages(original->sink), after = Messages(reformatted->sink);
  FUZZ_CHECK(before == after, "formatting changed the diagnostics" + bom + "\n--- original ---\n" + before + "--- formatted ---\n" + after);

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
    RateSampleUsage(lowered.function);
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tariff::fuzz::Guarded([&] { return TestOneInput(data, size); });
}
