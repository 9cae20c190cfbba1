// runtime/exec: the interpreter. It runs a rating function (compiler/ir) over batches of usage
// (runtime/columnar) and produces invoices (runtime/invoice). Each IR instruction is
// dispatched once per batch and loops over the batch's rows inside; customers are
// dictionary-encoded to dense indices and their meter state lives in flat arrays, so memory
// grows with the number of customers (and groups), not with the number of events — except for
// the aggregations that must see every sample (count_distinct, time_weighted_average,
// integral) and per-event charges with `free first`, which keep what they need per customer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/columnar/batch.h"
#include "runtime/invoice/invoice.h"

namespace tariff {

// A failure while rating (an overflow, a division by zero) at the plan text `source`.
class RatingError : public std::runtime_error {
 public:
  RatingError(const std::string& message, Span source) : std::runtime_error(message), source_(source) {}
  Span source() const { return source_; }

 private:
  Span source_;
};

struct RatingOptions {
  std::string period_start;  // RFC 3339, copied to every invoice ("" when not given)
  std::string period_end;
  // The period's end in microseconds since the epoch: time-weighted meters hold the last
  // sample until then. Absent: until the last sample.
  std::optional<std::int64_t> period_end_micros;
  // Fill every line's derivation (InvoiceLine::derivation) for `tariff explain`. Costs time and
  // memory per event matched; meant for one customer's usage. Off, rating does no work for it.
  bool explain = false;
  // With `explain`: trace only this customer's lines (the others are rated as usual, without a
  // derivation); "" traces every customer.
  std::string explain_customer;
};

// Event schemas for readers (runtime/io), in the rating function's event order.
std::vector<EventSchema> SchemasOf(const ir::RatingFunction& function);

// `subtotal` of the plan versions that rated `invoice` (in their order; a name two versions
// declare sums the lines either lists): invoice.subtotals, each the exact sum of the lines with
// the names it lists (credit lines excluded). Lines are not changed; the total is theirs alone.
void AddSubtotals(Invoice& invoice, const std::vector<const ir::RatingFunction*>& functions);
// Throws DecimalError when a subtotal needs more than 38 digits.

// The part of the billing period a customer's subscription is active, for proration: recurring
// fees and minimums are multiplied by active ÷ length in the basis the plan declares. Without
// one, a customer is active the whole period.
struct ActivePeriod {
  Decimal active_seconds, length_seconds;
  Decimal active_days, length_days;  // local calendar days (runtime/calendar)
  Decimal active_days360, length_days360;  // days in 30-day months (Calendar::Days360)
  // When the customer's part ends (µs): time-weighted meters hold the last sample until then
  // rather than until the period's end.
  std::optional<std::int64_t> end_micros;
};

// One part of the period for a customer whose subscription changes within it on one plan
// version (a change of seats): each recurring charge gives a line per part, with the part's
// values, prorated by the part's share; usage charges, minimums and allowances stay one for the
// whole period.
struct SubscriptionPart {
  struct Value {
    std::string field;
    ir::ValueKind kind = ir::ValueKind::kDecimal;
    Decimal number;
    std::string text;
    bool flag = false;
  };
  std::vector<Value> values;
  ActivePeriod active;
  std::string from, to;  // shown on the part's lines (RFC 3339)
};

class Engine {
 public:
  // `function` must outlive the engine and have passed ir::Verify.
  explicit Engine(const ir::RatingFunction& function, RatingOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Rates the rows of one batch (its `event` indexes function.events). Throws RatingError.
  void Consume(const Batch& batch);
  // Registers a customer that has no usage (so that recurring fees and minimums apply).
  void AddCustomer(const std::string& customer);
  // Sets `subscription.FIELD` for `customer` (registering the customer). A field a customer
  // has no value for reads as 0, "" or false.
  void SetSubscription(const std::string& customer, const std::string& field, const Decimal& value);
  void SetSubscription(const std::string& customer, const std::string& field, const std::string& value);
  void SetSubscription(const std::string& customer, const std::string& field, bool value);
  // Sets the part of the period `customer` is active (registering the customer). With parts,
  // this is the whole of what the customer is active (the parts together), for minimums.
  void SetActive(const std::string& customer, const ActivePeriod& active);
  // Adds a part of the period with its own subscription values (see SubscriptionPart), in time
  // order. A customer without parts has one line per recurring charge, from SetSubscription.
  void AddPart(const std::string& customer, SubscriptionPart part);
  // Fees billed in advance (runtime/billing, docs/billing.md): at Finish, for each customer the
  // provider gives lines for, the lines of the function's `billed in advance` charges (rated as
  // in arrears) are replaced by the given ones — before the plan's adjustments and a per-invoice
  // rounding, which so apply to what the invoice bills. nullopt: the customer's lines stay.
  using InAdvanceLines = std::function<std::optional<std::vector<InvoiceLine>>(const std::string& customer)>;
  void SetInAdvanceLines(InAdvanceLines provider);
  // The invoices, one per customer, sorted by customer id; each total is the exact sum of its
  // lines. The engine can not be fed after Finish.
  std::vector<Invoice> Finish();

  std::uint64_t rows_rated() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tariff
