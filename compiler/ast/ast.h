// compiler/ast: tariff's own syntax tree, built by compiler/parse and read by everything after.
// Immutable once built (the parser hands out `const File`); every node has a NodeId and a
// byte-offset Span. Meaning (types, resolved names) lives in side tables keyed by NodeId
// (compiler/sema), never in these structs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "compiler/source/source.h"
#include "runtime/decimal/decimal.h"

namespace tariff::ast {

// Dense id of a node within one File: 0 .. File::node_count - 1, assigned in source order.
struct NodeId {
  std::int32_t index = -1;
  bool valid() const { return index >= 0; }
  friend bool operator==(NodeId, NodeId) = default;
};

// What every node carries.
struct Node {
  NodeId id;
  Span span;
};

// An identifier as written: `request`, `tokens_in`, `USD`, `half_even`.
struct Name : Node {
  std::string text;
};

// A string literal, unescaped: `"Platform"`.
struct StringLit : Node {
  std::string value;
};

// A date or date-time literal as written: `2026-03-01`, `2026-03-01T12:00:00Z`. Checked and
// converted by sema (time zones need the plan's context).
struct DateTimeLit : Node {
  std::string text;
};

// A unit: `GB`, `GB·h`, `GB*h`, `B/s`. Each factor is a name with exponent +1 or -1.
struct UnitExpr : Node {
  struct Factor {
    Name name;
    int exponent = 1;
  };
  std::vector<Factor> factors;
};

struct Expr;
using ExprPtr = std::unique_ptr<const Expr>;

enum class LiteralKind : std::uint8_t {
  kNumber,       // 42, 0.5
  kPercent,      // 2.9%
  kBasisPoints,  // 25 bp
  kUnit,         // 1000 token, 12.50 USD (money when the unit names a currency; sema decides)
  kRate,         // 0.20 USD per 1000 request, 5 USD per started 100 request
  kString,       // "large"
  kBool,         // true
  kDateTime,     // 2026-03-01
};

// A literal. Which fields are meaningful depends on `kind` (see each field).
struct Literal {
  LiteralKind kind = LiteralKind::kNumber;
  Decimal number;                 // every numeric kind: the number as written
  Span number_span;
  UnitExpr unit;                  // kUnit: the unit; kRate: the currency (one factor)
  bool per_started = false;       // kRate: `per started N unit` (a package: started blocks count whole)
  std::optional<Decimal> per;     // kRate: the N in `per N unit` (absent means 1)
  UnitExpr per_unit;              // kRate: the unit after `per`
  std::string text;               // kString: unescaped value; kDateTime: as written
  bool bool_value = false;        // kBool
};

// `request` / `USD` / `requests` (a meter) — resolved by sema.
struct NameRef {
  Name name;
};
// `request.tokens_in`
struct Member {
  ExprPtr object;
  Name member;
};
// `sum(request.tokens_in)`, `max(a, b)`, `round_up(x, 60 s)`
struct Call {
  Name callee;
  std::vector<ExprPtr> args;
};
enum class UnaryOp : std::uint8_t { kNegate, kNot };
struct Unary {
  UnaryOp op;
  ExprPtr operand;
};
enum class BinaryOp : std::uint8_t { kAdd, kSub, kMul, kDiv, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr };
struct Binary {
  BinaryOp op;
  ExprPtr lhs;
  ExprPtr rhs;
  Span op_span;
};
// `"us", "ca": 0.10 USD per h` or `else: 0.15 USD per h`
struct MatchArm : Node {
  std::vector<StringLit> patterns;  // empty for `else`
  bool is_else = false;
  ExprPtr value;
};
// `match request.region { "us": … else: … }`
struct Match {
  ExprPtr subject;
  std::vector<MatchArm> arms;
};

struct Expr : Node {
  std::variant<Literal, NameRef, Member, Call, Unary, Binary, Match> kind;
};

// Operator spelling as written in plans: `+`, `==`, `and`, …
const char* BinaryOpSpelling(BinaryOp op);
// Binding strength: higher binds tighter (or=1, and=2, compare=3, add=4, mul=5).
int BinaryOpPrecedence(BinaryOp op);

// ---------------------------------------------------------------------------------------------
// Plan items

enum class RoundingPoint : std::uint8_t { kEvent, kLine, kInvoice };
const char* RoundingPointSpelling(RoundingPoint point);

// `rounding half_even per line`, `rounding half_up to 4 decimals per event`
struct RoundingSpec : Node {
  Name mode;
  std::optional<int> decimals;  // absent: the currency's minor units
  Span decimals_span;
  RoundingPoint point = RoundingPoint::kLine;
};

// `prorated by day`, `not prorated` (and plan-level `proration by second` / `proration none`)
struct ProrationSpec : Node {
  bool prorated = true;
  Name basis;  // `day` or `second` when prorated
};

// `currency USD`
struct CurrencyDecl : Node {
  Name code;
};
// `period month anchor 2026-01-31 timezone "America/New_York"`, `period 30 day`
struct PeriodDecl : Node {
  std::optional<Decimal> count;
  Span count_span;
  Name length;  // month, quarter, year, day (with count)
  std::optional<DateTimeLit> anchor;
  std::optional<StringLit> timezone;
};
// `rounding half_even per line`
struct RoundingDecl : Node {
  RoundingSpec spec;
};
// `proration by day`
struct ProrationDecl : Node {
  ProrationSpec spec;
};
// `unit token, request, seat`
struct UnitDecl : Node {
  std::vector<Name> names;
};

// A field's type: `id`, `text`, `decimal`, `boolean`, `timestamp`, `duration`, `money`,
// `quantity of GB`, `one of "small", "large"`.
struct TypeSpec : Node {
  enum class Kind : std::uint8_t { kNamed, kQuantity, kEnum };
  Kind kind = Kind::kNamed;
  Name named;                     // kNamed
  UnitExpr unit;                  // kQuantity
  std::vector<StringLit> values;  // kEnum
};
// `tokens_in: quantity of token`
struct FieldDecl : Node {
  Name name;
  TypeSpec type;
};
// `event request key request_id { … }`
struct EventDecl : Node {
  Name name;
  std::optional<Name> key;
  std::vector<FieldDecl> fields;
};
// `subscription { seats: quantity of seat }`
struct SubscriptionDecl : Node {
  std::vector<FieldDecl> fields;
};
// `meter tokens = sum(request.tokens_in) where request.model == "large"`
struct MeterDecl : Node {
  Name name;
  ExprPtr value;
  ExprPtr where;  // may be null
};

// One term of a tier's price: `0.20 USD per 1000 request`, `10 USD flat`, `1%`.
struct PriceTerm : Node {
  ExprPtr value;  // a literal
  bool flat = false;
};
// `up to 10_000_000 request  0.20 USD per 1000 request` / `above  free`
struct Tier : Node {
  bool above = false;
  ExprPtr bound;  // a literal; null when `above`
  bool free = false;
  std::vector<PriceTerm> terms;
};

// What a tier table without `above` says of usage past its last bound: `beyond: last price`
// (the last tier goes on without a bound) or `beyond: error` (rating that customer fails).
enum class Beyond : std::uint8_t { kNone, kLastPrice, kError };

enum class PricingKind : std::uint8_t { kFormula, kGraduated, kVolume, kPerEvent };
// The right-hand side of a charge.
struct Pricing : Node {
  PricingKind kind = PricingKind::kFormula;
  ExprPtr value;            // kFormula: the amount; kGraduated/kVolume: the metered quantity;
                            // kPerEvent: the amount for one event
  std::vector<Tier> tiers;  // kGraduated/kVolume
  Beyond beyond = Beyond::kNone;  // kGraduated/kVolume: the table's `beyond:` clause, if any
  Span beyond_span;               // where that clause is written (empty when kNone)
  Name event;               // kPerEvent: `each payment`
  ExprPtr where;            // kPerEvent: optional filter
};

enum class ChargeOptionKind : std::uint8_t { kRounding, kProration, kIncluded, kFreeFirst, kFlatAtZero, kAllow, kAllocated, kInAdvance };
// Options after a charge's pricing: `rounding …`, `prorated by day`, `included 100 request`,
// `free first 3 events or 500 USD`, `no flat at zero`,
// `allocated by transfer.source in proportion to transferred`, `billed in advance` (kInAdvance).
struct ChargeOption : Node {
  ChargeOptionKind kind = ChargeOptionKind::kRounding;
  RoundingSpec rounding;   // kRounding
  ProrationSpec proration; // kProration
  ExprPtr first;           // kIncluded, kFreeFirst; kAllocated: the dimension (`transfer.source`)
  ExprPtr second;          // kFreeFirst `or …` (may be null)
  bool flag = true;        // kFlatAtZero: false for `no flat at zero`
  std::vector<Name> names; // kAllow: warnings this charge acknowledges (`allow falling_total`)
  Name proportion;         // kAllocated: the meter the amount is split in proportion to
};
// `charge "Tokens" by request.model = tokens * 3.00 USD per 1_000_000 token`
struct ChargeDecl : Node {
  StringLit name;
  std::vector<ExprPtr> group_by;
  Pricing pricing;
  std::vector<ChargeOption> options;
};

// `discount 10% on "Tokens", "Requests"` / `discount 5 USD on "Platform"`
struct DiscountDecl : Node {
  ExprPtr amount;
  std::vector<StringLit> charges;
};
// `subtotal "Infrastructure" of "Compute", "Storage"`: the sum of the named lines (charges, and
// adjustment lines by the name the invoice gives them), shown on the invoice beside its lines.
struct SubtotalDecl : Node {
  StringLit name;
  std::vector<StringLit> parts;
};
// `minimum 100.00 USD`, `minimum 20 USD on "Tokens"`; `maximum …` likewise.
struct LimitDecl : Node {
  bool is_minimum = true;
  ExprPtr amount;
  std::vector<StringLit> charges;  // empty: the whole invoice
  std::optional<ProrationSpec> proration;
};
// `credits drawn by expiry, priority`
struct CreditsDecl : Node {
  std::vector<Name> order;
};
// `on change split` / `on change next period`
struct ChangeDecl : Node {
  std::optional<Name> policy;  // absent for `next period`
};

// `on change prorate next_invoice|now|none`: what a mid-period change of a subscription does to the
// fees billed in advance (Stripe's `proration_behavior`; docs/billing.md).
struct ProrateDecl : Node {
  Name behavior;
};

// `invoice when usage reaches 100.00 USD`: progressive (threshold) billing — an invoice within
// the period each time the usage billed so far reaches the amount (docs/billing.md, "Progressive
// billing").
struct ThresholdDecl : Node {
  ExprPtr amount;
};

// `allow unused_meter, unused_event`: warnings the plan acknowledges as intended.
struct AllowDecl : Node {
  std::vector<Name> names;
};

// `subscription.seats = 10 seat`, `tokens_in = 1000 token`
struct FieldInit : Node {
  Name name;
  ExprPtr value;
};
// `usage from "usage.csv"`
struct UsageFile {
  StringLit path;
};
// `usage request x 500_000 at 2026-01-05 { tokens_in = 1000 token }`
struct UsageEvents {
  Name event;
  std::optional<Decimal> count;
  Span count_span;
  std::optional<DateTimeLit> at;
  std::vector<FieldInit> fields;
};
// `subscription { seats = 10 seat }`; also `plan = "pro"`, `version = 2`, `start = DATE`,
// `end = DATE` (each block one subscription of the test's customer).
struct TestSubscription {
  std::vector<FieldInit> fields;
};
// `contract { kind = "discount", percent = 20, duration = "3 periods", start = 2026-01-01 }`:
// one contract term of the test's customer, with the columns of a contracts file (docs/billing.md).
struct TestContract {
  std::vector<FieldInit> fields;
};
// `credit "promo" = 50.00 USD expires 2026-12-31 priority 1`: a prepaid credit grant.
struct TestCredit {
  StringLit id;
  ExprPtr amount;
  std::optional<DateTimeLit> expires;
  std::optional<Decimal> priority;
  Span priority_span;
};
// `expect "Requests" = 0.00 USD`, `expect "Tokens" for "large" = …`, `expect total = …`
struct Expectation {
  bool credit = false;              // `expect credit "promo" remaining = …`: `charge` is the grant
  std::optional<Name> meter;        // `expect meter compute = 1_500_000 GiB·s`: a meter's value
  std::optional<StringLit> charge;  // absent: `total` (or a meter)
  std::vector<StringLit> group;
  // `expect "Platform" from 2026-03-16 = …`: the line of the part of a split period (a plan
  // version, a change of plan) that starts then.
  std::optional<DateTimeLit> from;
  // `expect threshold invoice 2026-03-05T10:00:00Z = 10.00 USD`: the total of the threshold
  // invoice issued then (progressive billing).
  std::optional<DateTimeLit> threshold_at;
  ExprPtr value;
};
struct TestStmt;
// `invoice 2026-02-01 { usage … expect … }` in a test of several billing periods: the usage
// and expectations of the invoice of the period that starts at `start`.
struct InvoiceBlock {
  DateTimeLit start;
  std::vector<TestStmt> stmts;
};
struct TestStmt : Node {
  std::variant<UsageFile, UsageEvents, TestSubscription, TestCredit, Expectation, InvoiceBlock, TestContract> kind;
};
// `test "quiet month" period 2026-01-01 .. 2026-02-01 { … }`; a test whose period spans several
// billing periods states each invoice's expectations in `invoice DATE { … }` blocks.
struct TestDecl : Node {
  StringLit name;
  std::optional<DateTimeLit> from;
  std::optional<DateTimeLit> to;
  std::vector<TestStmt> stmts;
};

struct PlanItem : Node {
  std::variant<CurrencyDecl, PeriodDecl, RoundingDecl, ProrationDecl, UnitDecl, EventDecl,
               SubscriptionDecl, MeterDecl, ChargeDecl, DiscountDecl, LimitDecl, CreditsDecl,
               ChangeDecl, AllowDecl, TestDecl, SubtotalDecl, ProrateDecl, ThresholdDecl>
      kind;
};

// `plan "api-platform" version 2 effective 2026-03-01 { … }`
struct Plan : Node {
  StringLit name;
  std::optional<Decimal> version;
  Span version_span;
  std::optional<DateTimeLit> effective;
  std::vector<PlanItem> items;
  Span open_brace;
};

// One parsed file.
struct File : Node {
  std::vector<Plan> plans;
  std::int32_t node_count = 0;  // ids run 0 .. node_count - 1
};

// A deterministic S-expression dump of `file` that omits ids and spans, so that two parses of
// differently laid-out text compare equal when their trees are the same.
std::string Dump(const File& file);

// The name of the invoice line an adjustment makes — "Discount 10% on Calls", "Minimum 20.00 USD",
// "Maximum 500 USD on Egress" — from its amount as written in `source` (the plan file's text).
// The engine names the line so (compiler/lower) and `expect` may name it (compiler/sema).
std::string AdjustmentName(const DiscountDecl& d, std::string_view source);
std::string AdjustmentName(const LimitDecl& d, std::string_view source);

}  // namespace tariff::ast
