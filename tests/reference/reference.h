// tests/reference: the reference evaluator, the oracle every rating engine is tested against.
// It reads a checked plan (compiler/compiler.h: the AST and sema's side tables) and usage rows,
// and evaluates every construct with exact rationals, written from docs/ only — it shares no
// code with compiler/lower, compiler/ir or runtime/exec, and converts units with its own table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/multiprecision/cpp_int.hpp>

#include "compiler/sema/sema.h"

namespace tariff::reference {

// An exact rational number of any size.
using Rational = boost::multiprecision::cpp_rational;
using Integer = boost::multiprecision::cpp_int;

// One value of a usage row or of a subscription: a number (in the field's declared unit or
// currency, exactly as written), a text (text, id, enumeration), a boolean or an instant.
struct FieldValue {
  enum class Kind : std::uint8_t { kNumber, kText, kBool, kTime };
  Kind kind = Kind::kNumber;
  Rational number;
  std::string text;
  bool flag = false;
  std::int64_t micros = 0;

  static FieldValue Number(Rational n);
  static FieldValue Text(std::string t);
  static FieldValue Bool(bool b);
  static FieldValue Time(std::int64_t us);
};

// One usage event: its type, customer, time (µs since the epoch, UTC) and declared fields.
// `weight` identical events in one row (a test's `usage e x N`): every aggregation and every
// per-event charge counts them as that many events.
struct UsageRow {
  std::string event;
  std::string customer;
  std::int64_t time = 0;
  std::map<std::string, FieldValue> fields;
  Integer weight = 1;
};

// What a customer's subscription says for the period (the billing layer's inputs to an engine).
struct CustomerOptions {
  // The part of the period the customer is active, in both proration bases. Absent: the whole
  // period (no proration).
  struct Active {
    Rational active_seconds, length_seconds;
    Rational active_days, length_days;
  };
  std::optional<Active> active;
  // Until when (µs) time-weighted meters hold the customer's last sample; absent: the period's end.
  std::optional<std::int64_t> end_micros;
  // `subscription.FIELD` values (numbers in the field's unit). A missing field reads as 0, "" or false.
  std::map<std::string, FieldValue> subscription;
};

struct Options {
  // The period's end (µs): time-weighted meters hold the last sample until then. Absent: until
  // the customer's last sample.
  std::optional<std::int64_t> period_end_micros;
  // Customers with options; each gets an invoice even without usage.
  std::map<std::string, CustomerOptions> customers;
};

// One invoice line. `amount` is what an engine must print: the rounded value for a line rounded
// at its point, else the exact value — or, when the exact value does not terminate or needs more
// than 38 digits, that value rounded half-even to 20 decimals, fewer when its integer part is
// wider than 18 digits (the `Rounding` line absorbs the rest; docs/engine.md, "Numbers").
struct Line {
  std::string kind;  // "charge", "discount", "minimum", "maximum", "rounding" (as runtime/invoice names them)
  std::string name;
  std::vector<std::string> group;
  Rational exact;             // before the line's own rounding point (after per-event rounding)
  Rational amount;            // as shown (see above)
  std::optional<int> scale;   // the decimals the line was rounded to, when it was rounded
};

struct Invoice {
  std::string customer;
  std::vector<Line> lines;
  Rational total;  // exactly the sum of the lines' amounts
  // `subtotal "NAME" of …`, in the plan's order: the sum of the shown amounts of the lines so named.
  std::vector<std::pair<std::string, Rational>> subtotals;
  // Progressive billing (EvaluateProgressive): "threshold" for a threshold invoice, with the time
  // (µs) of the event that reached the threshold; empty for the period's (closing) invoice.
  std::string kind;
  std::optional<std::int64_t> issued_at;
};

// The invoices, sorted by customer id — or, when rating must stop, the reason (`error` is then
// non-empty and `invoices` empty). Rating stops only when a final amount (a rounded value, a
// line's integer part, a total) needs more than 38 significant digits, on a division by zero,
// or when usage passes the last bound of a tier table that says `beyond: error`.
struct Result {
  std::vector<Invoice> invoices;
  std::string error;
  bool ok() const { return error.empty(); }
};

// Rates `rows` (of any order) with `plan` (one of `file.plans`; the file must have checked
// without errors). Never throws for a plan
// that checked; a construct the reference does not model throws std::logic_error naming it.
//
// The semantics implemented (docs/testing.md, "Reference evaluator and differential testing",
// lists every decision taken where the docs are silent):
// - every value is an exact rational; quantities are carried in base units (B, s, each
//   declared unit and event name), rates as money per base unit, so conversions are exact;
// - meters per customer (and per group of a grouped charge): count, count_distinct (by value),
//   sum, min, max (0 without events), latest (ties: the larger value), average (sum ÷ count),
//   integral (Σ value × seconds to the next sample, the last held to the customer's end, the
//   period's end, or its own time), time_weighted_average (integral ÷ seconds from the first
//   sample to that end); a `where` guards the evaluation of the rows it excludes;
// - tiers (graduated: each unit at its tier's price, a tier's flat fee once entered; volume: all
//   units at the final tier's price and flat fee; zero usage pays the first tier's flat fee
//   unless `no flat at zero`; a table without `above`: `beyond: last price` prices past the
//   last bound as if the last tier had none, `beyond: error` stops rating), packages (`per started N`: whole blocks), allowances (deducted
//   from the meter, never below zero), matrix prices (`match`), per-event charges with
//   `free first N … or M` (time order, ties by amount, then by the money field);
// - proration of recurring charges and minimums by active ÷ length (second or day basis);
// - adjustments in plan order over the named lines or the invoice so far;
// - rounding only at the declared points: per event, per line, or per invoice (total rounded
//   once, a `Rounding (MODE to N decimals)` line for the difference).
Result Evaluate(const CheckedFile& file, const CheckedPlan& plan, const std::vector<UsageRow>& rows,
                const Options& options);

// The plan's `invoice when usage reaches AMOUNT`, when it has one.
std::optional<Rational> ThresholdOf(const CheckedPlan& plan);

// Progressive billing, from docs/billing.md "Progressive billing" (rules 1–4), by brute force:
// per customer, the events of `rows` in time order (ties: input order; a row of weight N is N
// events), each prefix rated with Evaluate. The usage lines are the `charge` lines of charges
// that read a meter or events (sema's ChargeInfo::recurring false). A threshold invoice is issued
// at the first event where the usage lines of the prefix's rating, less what earlier threshold
// invoices billed, come to at least `threshold`: per usage line, rated so far less billed
// (a line whose amount has not moved is left out: the reference has no quantities). Returns,
// per customer (sorted), its threshold invoices in the order issued, then the closing invoice:
// Evaluate's invoice over all rows, with under each usage line a threshold invoice billed a line
// of kind "billed_earlier", same name and group, of minus what they billed of it; the total
// falls by as much. O(events²); throws std::logic_error for a plan with subtotals (not modelled).
Result EvaluateProgressive(const CheckedFile& file, const CheckedPlan& plan, const std::vector<UsageRow>& rows,
                           const Options& options, const Rational& threshold);

// The exact value of a decimal text (`12.50`, `-0.001`); throws std::invalid_argument otherwise.
Rational ParseRational(const std::string& text);
// True when `value` has a finite decimal expansion.
bool Terminates(const Rational& value);
// `value` rounded to `decimals` decimals with a plan-language mode (`half_even`, `up`, …).
Rational Round(const Rational& value, int decimals, const std::string& mode);
// Decimal text of a terminating `value` with at least `min_scale` decimals; a value that does
// not terminate is written rounded half-even to 20 decimals.
std::string ToDecimalText(const Rational& value, int min_scale = 0);
// The significant digits `value` needs at `min_scale` or its own (terminating) scale, whichever
// is larger: the engine's decimals hold at most 38.
int DigitsNeeded(const Rational& value, int min_scale = 0);

// 1 of the unit named `name` in base units (B, s; 1 for declared units and event names).
Rational BaseFactor(const std::string& name);

}  // namespace tariff::reference
