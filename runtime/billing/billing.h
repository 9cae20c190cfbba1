// runtime/billing: from usage and subscriptions to the invoices of one billing period. It sits
// above the interpreter (runtime/exec): it decides which plan version rates which part of the
// period for each customer (subscriptions starting, ending or changing plan mid-period; plan
// versions taking effect), runs one Engine per plan version, routes every usage row to the
// engine of the segment it falls in, merges each customer's lines into one invoice, and draws
// prepaid credits down in the plan's declared order. `tariff rate`, `tariff test` and
// `tariff explain` all rate through it. Semantics: docs/billing.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/columnar/batch.h"
#include "runtime/exec/exec.h"
#include "runtime/billing/contracts.h"
#include "runtime/invoice/invoice.h"

namespace tariff {

// A value of a plan's `subscription` field for one subscription.
struct SubscriptionValue {
  std::string field;
  ir::ValueKind kind = ir::ValueKind::kDecimal;
  Decimal number;    // kDecimal: in the field's unit or currency
  std::string text;  // kText
  bool flag = false; // kBool
};

// A customer's subscription to a plan (or one version of it) from `start` to `end`.
struct Subscription {
  std::string customer;
  std::string plan;     // "" : the plan being rated
  std::string version;  // "" : the version in force (by effective date); else pinned
  std::optional<std::int64_t> start, end;  // µs since the epoch; absent: open
  std::vector<SubscriptionValue> values;
  std::string origin;   // "subscriptions.csv:3", for messages
  // The `proration_behavior` column: how the change to this subscription (from the customer's
  // subscription ending where it starts) is prorated, overriding the `on change prorate` of the
  // plan changed to. Absent: the plan's.
  std::optional<ir::RatingFunction::ChangeProration> proration_behavior;
};

// A prepaid credit grant: `amount` of the plan's currency a customer may draw on.
struct CreditGrant {
  std::string customer;
  std::string id;
  Decimal amount;
  std::optional<std::int64_t> expires;  // usable for periods that start before it
  std::optional<std::int64_t> created;
  std::int64_t priority = 0;            // lower first, when the order says `priority`
  std::string origin;
};

// A problem in the subscriptions or credits, or plans that cannot be rated together.
class BillingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A usage row no segment takes (no subscription in force at its time, or a plan version that
// does not read its event).
struct RoutingReject {
  RowOrigin origin;
  std::string reason;
};

struct BillingOptions {
  // The billing period [start, end), µs. Absent: no period — every customer is rated by the
  // plan's one version over all of its usage, without proration (needs a plan with one
  // version and no subscription starting or ending).
  std::optional<std::int64_t> period_start, period_end;
  std::string period_start_text, period_end_text;  // as shown on invoices
  bool explain = false;
  std::string explain_customer;  // "" : every customer
  // A subscriptions input was given (even an empty one): only its customers are rated.
  bool subscriptions_input = false;
  // Contract terms (--contracts; needs a period). Applied to each customer's invoice after the
  // plan's adjustments and before credits. A term in force in the period of a customer who has
  // neither an invoice nor a subscription is an error (C0102), thrown by Finish.
  std::vector<ContractTerm> contracts;
  // `--period DATE`: the instant the period was chosen by. A customer with an `anchor` contract
  // term is rated for the period of its own anchor that contains it (the reader must then take
  // rows of every such period: see BillingWindow).
  std::optional<std::int64_t> period_at;
  // Off for the runs that rate a commitment's earlier periods (a customer may have had no usage
  // then).
  bool check_contract_customers = true;
  // Progressive billing (`invoice when usage reaches`): off for the ratings that look for the
  // event a threshold is reached at (runtime/billing/progressive.h).
  bool progressive = true;
};

// The interval usage must be read for: the period, and every anchored customer's period
// containing options.period_at. Throws BillingError.
std::pair<std::int64_t, std::int64_t> BillingWindow(const PlanSet& plans, const BillingOptions& options);

// The plan versions of a file that subscriptions may name.
struct PlanSet {
  std::vector<const ir::RatingFunction*> functions;
  std::string default_plan;  // what a subscription without `plan` (and a customer without one) is on
};

// The billing period of `plan`'s rule (its version in force at `instant`) that contains
// `instant`. Throws BillingError (unknown zone, bad anchor, no version in force).
struct PeriodBounds {
  std::int64_t start = 0, end = 0;
  std::string start_text, end_text;  // RFC 3339 in the plan's time zone
};
// With `anchor` (RFC 3339, as a plan's `period … anchor` takes it; "" for the plan's own), the
// period of the plan's rule anchored there instead: a customer's own billing anchor.
PeriodBounds BillingPeriodAt(const PlanSet& plans, std::int64_t instant, const std::string& anchor = "");

// An RFC 3339 date or date-time as an instant: a date without offset is local midnight in the
// default plan's time zone, a date-time without offset local wall-clock time there.
std::optional<std::int64_t> ParsePlanTime(const PlanSet& plans, const std::string& text, std::string* why);

// Draws `grants` (the invoice's customer's) against `invoice`'s total, never below zero, in
// `fn`'s `credits drawn by` order (then by grant id): a `credit` line per draw and every grant's
// balance in invoice.credits. A grant that expired at or before `period_start` is not drawn.
void DrawCredits(Invoice& invoice, std::vector<const CreditGrant*> grants, const ir::RatingFunction& fn,
                 std::optional<std::int64_t> period_start, bool explain);

// How the engine prorates a customer active in [start, end) of the period [period_start,
// period_end) of `fn` (exact seconds; local days in the plan's zone, docs/billing.md). Throws
// BillingError for a period within one local day when `fn` prorates by day.
ActivePeriod ActivePeriodOf(const ir::RatingFunction& fn, std::int64_t start, std::int64_t end, std::int64_t period_start,
                            std::int64_t period_end);

class Biller {
 public:
  // Without a subscriptions input (options.subscriptions_input false; `subscriptions` is then
  // ignored), every customer in the usage is on the default plan for the whole period. With
  // one, only customers with a subscription are rated (their usage outside every subscription
  // is rejected), and every customer with one gets an invoice, usage or not.
  // Throws BillingError.
  Biller(const PlanSet& plans, std::vector<Subscription> subscriptions, std::vector<CreditGrant> credits,
         BillingOptions options);
  ~Biller();
  Biller(const Biller&) = delete;
  Biller& operator=(const Biller&) = delete;

  // The event schemas usage must be read with (every plan version's events, by name).
  const std::vector<EventSchema>& schemas() const;
  // Rates a batch read with schemas(). Throws RatingError.
  void Consume(const Batch& batch);
  // One invoice per customer, sorted by customer id, credits drawn; after a customer's invoice,
  // one more per change within the period prorated `now` (Invoice::issued_at set; only its
  // proration lines, no credits, contracts or subtotals), in the order of the changes.
  // Throws RatingError.
  // With a plan billed progressively (`invoice when usage reaches`), the customer's invoice is
  // the closing invoice, which takes off what the threshold invoices billed (threshold_invoices()).
  std::vector<Invoice> Finish();
  // After Finish: the threshold invoices issued within the period, by customer id, each
  // customer's in the order issued; empty without a threshold.
  const std::vector<Invoice>& threshold_invoices() const;

  std::uint64_t rows_rated() const;
  const std::vector<RoutingReject>& rejects() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tariff
