// tariff/tariff.h: the embedding API of tariff. It is the one header a billing engine
// includes: compile a price plan from its source text (diagnostics, or a compiled plan), feed
// the compiled plan batches of usage columns, get exact invoices back.
//
//   #include <tariff/tariff.h>
//   namespace tf = tariff::api;
//
//   tf::CompileResult compiled = tf::Plan::Compile(source_text, "api-platform.tariff");
//   if (!compiled.ok()) { std::cerr << compiled.RenderText(); return 1; }
//   const tf::Plan& plan = *compiled.plan;
//
//   tf::Rater rater(plan, {.period_start = "2026-03-01T00:00:00Z", .period_end = "2026-04-01T00:00:00Z"});
//   tf::UsageBatch batch(plan, "request");
//   batch.AddTextColumn("customer", {"acme", "globex"})
//        .AddTimestampTextColumn("time", {"2026-03-01T09:00:00Z", "2026-03-02T10:00:00Z"})
//        .AddDecimalColumn("tokens_in", std::vector<std::int64_t>{1200, 40}, 0)
//        .AddTextColumn("model", {"large", "small"})
//        .AddTextColumn("region", {"eu", "us"});
//   tf::FeedResult fed = rater.Feed(batch);        // fed.rejects: rows that could not be rated
//   std::vector<tf::Invoice> invoices = rater.Finish();
//   std::cout << tf::FormatInvoices(invoices);     // JSON Lines, the shape `tariff rate` writes
//
// The whole guide (building with find_package, every guarantee) is docs/library.md.
//
// Guarantees:
// - Exact. No binary floating point is involved anywhere: numbers go in as decimal text or as an
//   integer coefficient with a decimal scale, are computed as exact decimals, and come out as
//   decimal text ("12.50"), rounded only where the plan says (its `rounding` rules).
// - Conserved. Every row fed is rated, rejected with a reason, or dropped as a duplicate (of an
//   event `key`), and the counts add up (RowCounts). An invoice's total is exactly the sum of
//   its lines.
// - Deterministic. The same plan and the same rows give identical invoices whatever the batch
//   sizes, the order of the rows within the period, and the number of Raters the customers are
//   partitioned over (see Rater). FormatInvoices output is byte-identical to `tariff rate`'s.
// - Thread safety. Plan and CompileResult are immutable: share them freely between threads.
//   Plan::Compile may be called from any thread (calls are serialized inside). A Rater and a
//   UsageBatch are not synchronized: use one Rater per thread (a filled UsageBatch may be fed
//   to several Raters at once, since Feed only reads it).
// - Errors. Compile problems are diagnostics (never exceptions). Misuse (an unknown event or
//   field, a column of the wrong type or length, feeding after Finish) throws UsageError. A
//   failure while rating (an overflow past 38 digits, a division by zero in the plan) throws
//   RatingError naming the plan line; the Rater is then unusable. Bad data in a row (a value not
//   in `one of`, an unparsable number or timestamp, an empty customer id, a time outside the
//   period) is not an exception: the row is rejected and reported by Feed. Every exception the
//   library throws derives from Error, even for a bug in tariff itself: inside Compile such a
//   bug is one diagnostic without a code whose message begins `internal error:`, and while
//   rating it is a RatingError whose message begins the same way.
// - Self-contained. This header includes only the standard library; none of tariff's internals
//   (the compiler, the runtime, ANTLR) is visible through it. The library is linked as the CMake
//   target tariff::tariff (find_package(tariff)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tariff::api {

// The library's version, "MAJOR.MINOR.PATCH".
const char* Version();

// ---- Errors -----------------------------------------------------------------------------------

// Every exception the API throws derives from Error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller used the API wrongly: an unknown event or field, a column of the wrong type or
// length, a missing column, a bad period, feeding a Rater after Finish. The message says which.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Rating could not go on: a value overflowed 38 digits, the plan divided by zero. `file`,
// `line` and `column` are the plan text that failed (line 0 when unknown). The Rater that threw
// is unusable afterwards (every later call throws UsageError).
class RatingError : public Error {
 public:
  RatingError(const std::string& message, std::string file, int line, int column);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  std::string file_;
  int line_ = 0;
  int column_ = 0;
};

// ---- Compiling: diagnostics -----------------------------------------------------------------

enum class Severity : std::uint8_t { kError, kWarning };
// "error" or "warning".
const char* SeverityName(Severity severity);

// A secondary location of a diagnostic ("first declared here").
struct DiagnosticNote {
  std::string message;
  std::string file;
  int line = 0;  // 1-based; columns count Unicode code points; the end is exclusive
  int column = 0;
  int end_line = 0;
  int end_column = 0;
};

// One problem found in a plan. Codes are stable and documented in docs/diagnostics.md
// (`E0301`); `code` is empty only for the few problems outside that catalog (the source holds
// no plan or several, and internal errors), which have no position (line 0).
struct Diagnostic {
  std::string code;
  Severity severity = Severity::kError;
  std::string message;
  std::string file;  // the file name given to Plan::Compile
  int line = 0;      // 1-based; 0 when the problem has no position
  int column = 0;    // 1-based, in Unicode code points
  int end_line = 0;  // the position just after the span
  int end_column = 0;
  std::string hint;  // empty when there is none
  std::vector<DiagnosticNote> notes;
};

// ---- Compiling: the plan --------------------------------------------------------------------

// What a column holds; each field of an event takes exactly one column type.
enum class FieldType : std::uint8_t {
  kDecimal,    // decimal, quantity of UNIT (in `unit`), money (in `currency`), duration (s),
               // percent (as a fraction: 2.9% is 0.029)
  kText,       // text, id, `one of` (the value must be one of `allowed_values`)
  kBool,       // true / false
  kTimestamp,  // an instant: microseconds since 1970-01-01T00:00:00Z, or RFC 3339 text
};
// "decimal", "text", "bool", "timestamp".
const char* FieldTypeName(FieldType type);

struct FieldInfo {
  std::string name;
  FieldType type = FieldType::kDecimal;
  std::string unit;      // quantities: the unit the numbers are written in ("GB"); else empty
  std::string currency;  // money: the plan's currency; else empty
  std::vector<std::string> allowed_values;  // `one of` fields: the values; else empty
};

// An event the plan reads: the columns a UsageBatch of it must have, one per field.
struct EventInfo {
  std::string name;
  std::vector<FieldInfo> fields;  // every field, including `customer` and `time`
  std::string customer_field;     // "customer": whose invoice a row counts on (text)
  std::string time_field;         // "time": when it happened (timestamp)
  std::string key_field;          // the idempotency key (`event x key id`), or "" when none

  // The field named `name`, or null.
  const FieldInfo* FindField(std::string_view name) const;
};

struct CompileResult;

namespace detail {
struct PlanState;
struct CompileState;
struct BatchState;
struct RaterState;
}  // namespace detail

// A compiled price plan: immutable, cheap to copy (copies share the compiled form), safe to use
// from any number of threads. Obtained only from Plan::Compile.
class Plan {
 public:
  // Parses, checks and compiles the plan in `source`. `file_name` is how diagnostics name the
  // source (no file is read). A source may hold several plans: `plan_name` chooses one, and may
  // be empty when it holds exactly one. Never throws, whatever the source: the problems are in
  // the result's diagnostics (warnings may accompany a plan that compiled), and a failure that
  // is a bug in tariff rather than in the plan is a diagnostic too (no code, line 0, a message
  // beginning `internal error:`), with no plan.
  static CompileResult Compile(std::string_view source, std::string_view file_name = "plan.tariff",
                               std::string_view plan_name = {});

  const std::string& name() const;      // the plan's name, `plan "api-platform"`
  const std::string& currency() const;  // ISO 4217 code, e.g. "USD"
  int minor_units() const;              // of the currency: 2 for USD, 0 for JPY
  // The events the plan reads, in declaration order.
  const std::vector<EventInfo>& events() const;
  // The event named `name`, or null.
  const EventInfo* FindEvent(std::string_view name) const;
  // The fields of the plan's `subscription { … }` block (set per customer with
  // Rater::SetSubscription*), sorted by name; empty when it has none.
  const std::vector<FieldInfo>& subscription() const;
  // The rating function the plan compiled to, as `tariff rate --dump ir` prints it (for
  // debugging; the format is not stable).
  std::string DumpIr() const;

 private:
  friend class UsageBatch;
  friend class Rater;
  explicit Plan(std::shared_ptr<const detail::PlanState> state);
  std::shared_ptr<const detail::PlanState> state_;
};

// What Plan::Compile returns: the plan when it compiled, and every diagnostic either way.
struct CompileResult {
  std::optional<Plan> plan;  // present exactly when there was no error
  std::vector<Diagnostic> diagnostics;  // errors and warnings, sorted by position

  bool ok() const { return plan.has_value(); }
  int error_count() const;
  int warning_count() const;
  // The diagnostics as `tariff check` prints them: `file:line:col: error[E0301]: …`, the source
  // line with carets under the problem, notes and hints. ANSI colours when `color`. Empty when
  // there are no diagnostics.
  std::string RenderText(bool color = false) const;
  // As a JSON array, byte for byte what `tariff check --format json` writes (docs/cli.md); a
  // problem outside the catalog has `"code": null` and line and column 0.
  std::string RenderJson() const;

 private:
  friend class Plan;
  std::shared_ptr<const detail::CompileState> state_;
};

// ---- Rating: usage in -----------------------------------------------------------------------

// Rows of one event type, given column by column: one column per field of the event (every
// field, `customer` and `time` included), all of the same length. A batch belongs to the plan it
// was made for; it may be refilled after Clear and fed any number of times.
//
// Each Add*Column checks the field and the column type at once (UsageError), and validates the
// values: a value that cannot be rated (a number or timestamp that does not parse, a text that is
// not one of the field's `allowed_values` or not valid UTF-8, an empty customer id or key) marks
// its row rejected, with a reason that Feed reports. Rows are numbered from 0 in the order given.
class UsageBatch {
 public:
  // A batch of `event` rows. Throws UsageError when the plan has no such event.
  UsageBatch(const Plan& plan, std::string_view event);
  ~UsageBatch();
  UsageBatch(UsageBatch&&) noexcept;
  UsageBatch& operator=(UsageBatch&&) noexcept;
  UsageBatch(const UsageBatch&) = delete;
  UsageBatch& operator=(const UsageBatch&) = delete;

  const EventInfo& event() const;
  // The number of rows (set by the first column added; 0 before).
  std::size_t rows() const;
  // Whether a column was given for every field of the event.
  bool complete() const;

  // A decimal field from exact decimal text ("12.50", "-3", "1e-3", "1_000"); never a float.
  UsageBatch& AddDecimalColumn(std::string_view field, const std::vector<std::string>& values);
  // A decimal field from integer coefficients: value = coefficient × 10^-scale (scale 0..38),
  // e.g. cents as {1250, 99} with scale 2 for 12.50 and 0.99. The fast path for engines.
  UsageBatch& AddDecimalColumn(std::string_view field, std::span<const std::int64_t> coefficients, int scale);
  // A text, id or `one of` field. Taken by value: std::move a vector in to avoid copying it.
  UsageBatch& AddTextColumn(std::string_view field, std::vector<std::string> values);
  // A boolean field: 0 is false, anything else true.
  UsageBatch& AddBoolColumn(std::string_view field, std::span<const std::uint8_t> values);
  // A timestamp field as microseconds since 1970-01-01T00:00:00Z (UTC).
  UsageBatch& AddTimestampColumn(std::string_view field, std::span<const std::int64_t> micros);
  // A timestamp field as RFC 3339 text (`2026-03-01T12:00:00Z`, `…+01:00`, fractions up to
  // microseconds; a bare date is midnight UTC).
  UsageBatch& AddTimestampTextColumn(std::string_view field, const std::vector<std::string>& values);

  // Removes every column and row (memory is kept for the next fill).
  void Clear();

 private:
  friend class Rater;
  std::unique_ptr<detail::BatchState> state_;
};

// ---- Rating: the rater ----------------------------------------------------------------------

// The billing period. Both empty (the default): rows at any time are rated and invoices carry no
// period. Both set (RFC 3339, end after start): rows whose time is outside [start, end) are
// rejected, invoices carry the period, and time-weighted meters hold the last sample until end.
struct RatingOptions {
  std::string period_start;
  std::string period_end;
};

// A row that was not rated, by its index in the batch.
struct RowReject {
  std::size_t row = 0;
  std::string reason;  // e.g. "field `model`: `medium` is not one of `small`, `large`"
};

// What one Feed did with the rows of a batch: rows == rated + rejected + duplicates.
struct FeedResult {
  std::size_t rows = 0;
  std::size_t rated = 0;
  std::size_t rejected = 0;
  std::size_t duplicates = 0;  // rows whose key was seen before (in this or an earlier batch)
  std::vector<RowReject> rejects;  // every rejected row, in row order
};

// Every row fed to a Rater so far: received == rated + rejected + duplicates.
struct RowCounts {
  std::uint64_t received = 0;
  std::uint64_t rated = 0;
  std::uint64_t rejected = 0;
  std::uint64_t duplicates = 0;
};

// ---- Rating: invoices out -------------------------------------------------------------------

enum class LineKind : std::uint8_t {
  kCharge,    // a charge of the plan
  kMinimum,   // a minimum commitment's true-up
  kMaximum,   // a cap (negative amount)
  kDiscount,  // a discount (negative amount)
  kRounding,  // `rounding … per invoice`: the difference that makes the total exact
  kCredit,    // a prepaid credit drawn down (negative amount)
  kBilledEarlier,  // progressive billing: what threshold invoices billed of the usage line above
};
// "charge", "minimum", "maximum", "discount", "rounding", "credit", "billed_earlier".
const char* LineKindName(LineKind kind);

// One tier crossed by a tiered line. Decimals are exact text.
struct TierPart {
  std::string from;      // usage where the tier starts (exclusive), in the line's unit
  std::string to;        // where it ends (inclusive), or the usage, whichever is smaller
  std::string quantity;  // usage priced in this tier (graduated) or the whole usage (volume)
  std::string amount;    // before the line's rounding
  std::string price;     // as the plan writes it: "0.20 USD per 1000 request"
};

struct InvoiceLine {
  LineKind kind = LineKind::kCharge;
  std::string name;                   // the charge or adjustment, e.g. "Requests"
  std::vector<std::string> group;     // `by` values, in the order the charge lists them
  std::optional<std::string> quantity;  // the quantity priced (after allowances), if any
  std::string unit;                   // its unit ("request", "GB·h"); empty when none
  std::vector<TierPart> tiers;        // tiered charges: each tier crossed
  std::string amount;                 // exact decimal text in the invoice currency ("12.50")
};

// A prepaid credit grant after the invoice drew on it (Rater::AddCredit).
struct CreditBalance {
  std::string grant;
  std::string balance;    // as granted
  std::string used;       // drawn by this invoice
  std::string remaining;  // balance − used
  std::string expires;    // RFC 3339 UTC; "" when it never expires
  std::int64_t priority = 0;
};

// `subtotal "NAME" of …`: the exact sum of the lines with those names, beside the lines (never
// one of them; docs/language.md).
struct Subtotal {
  std::string name;
  std::vector<std::string> of;  // the line names it sums, as the plan lists them
  std::string amount;           // decimal text
};

struct Invoice {
  std::string customer;
  std::string plan;
  std::string period_start;  // as given in RatingOptions ("" when none)
  std::string period_end;
  std::string currency;
  std::vector<InvoiceLine> lines;
  std::string total;  // exactly the sum of the lines' amounts, as decimal text
  std::vector<CreditBalance> credits;  // the customer's grants, in the order drawn
  std::vector<Subtotal> subtotals;     // the plan's subtotals, in its order; empty when none
};

enum class InvoiceFormat : std::uint8_t {
  kJsonLines,  // one JSON object per invoice a line; decimals as strings (docs/invoice.md)
  kCsv,        // one row per invoice line, with a header
  kTable,      // for people
};

// Invoices as `tariff rate --format jsonl|csv|table` writes them. Throws UsageError if a decimal
// was edited into text that is not a decimal.
std::string FormatInvoices(std::span<const Invoice> invoices, InvoiceFormat format = InvoiceFormat::kJsonLines);

// Rates usage by one plan: feed it batches, then Finish for the invoices, one per customer.
// Memory grows with the number of customers (and `by` groups), not with the rows fed.
//
// Not synchronized: one Rater per thread. To rate on several threads, partition the usage BY
// CUSTOMER (every row of a customer to the same Rater), give each thread its own Rater over
// the same Plan, and concatenate the invoices of all Finish calls sorted by customer: the
// result is what a single Rater would have produced. (Event keys are deduplicated per Rater,
// which is exact when a key belongs to one customer.)
class Rater {
 public:
  // Throws UsageError for a bad period (see RatingOptions).
  explicit Rater(const Plan& plan, RatingOptions options = {});
  ~Rater();
  Rater(Rater&&) noexcept;
  Rater& operator=(Rater&&) noexcept;
  Rater(const Rater&) = delete;
  Rater& operator=(const Rater&) = delete;

  const Plan& plan() const;

  // Rates the rows of `batch` (which must be of this Rater's plan and complete). Rows marked
  // rejected by the batch, rows outside the period and rows whose key was seen before are not
  // rated; the result says which. Throws UsageError for a batch of another plan, an incomplete
  // batch, or after Finish; RatingError when rating fails.
  FeedResult Feed(const UsageBatch& batch);

  // Registers a customer that may have no usage, so that recurring fees and minimums apply.
  void AddCustomer(std::string_view customer);
  // Sets `subscription.FIELD` for `customer` (registering the customer). A field left unset
  // reads as 0, "" or false. Decimal values are exact text in the field's unit or currency.
  // Throws UsageError for a field the plan's subscription does not declare, a value of the
  // wrong type, a decimal that does not parse, or a value not among `allowed_values`.
  void SetSubscriptionDecimal(std::string_view customer, std::string_view field, std::string_view value);
  void SetSubscriptionText(std::string_view customer, std::string_view field, std::string_view value);
  void SetSubscriptionBool(std::string_view customer, std::string_view field, bool value);
  // The customer's subscription runs from `start` to `end` (RFC 3339 dates or date-times, read
  // in the plan's time zone; "" for open), within the period (which must be set): rows of the
  // customer outside it are rejected, and its recurring fees and minimums are prorated as the
  // plan declares (`proration by second|day`, docs/billing.md). Registers the customer. Throws
  // UsageError without a period, for a bad date, an end before the start, or after Feed.
  void SetSubscriptionDates(std::string_view customer, std::string_view start, std::string_view end);
  // A prepaid credit grant of `amount` (exact text in the plan's currency, at most its minor
  // units) for `customer`, drawn at Finish against the invoice's total in the plan's
  // `credits drawn by` order; `expires` ("" never) as RFC 3339. Throws UsageError for a bad
  // amount or date, or a grant id the customer already has.
  void AddCredit(std::string_view customer, std::string_view grant, std::string_view amount, std::string_view expires = {},
                 std::int64_t priority = 0);

  // The invoices, one per customer seen or added, sorted by customer id. Call once; the Rater
  // takes no more rows afterwards. Throws RatingError when rating fails.
  std::vector<Invoice> Finish();

  RowCounts counts() const;

 private:
  std::unique_ptr<detail::RaterState> state_;
};

}  // namespace tariff::api
