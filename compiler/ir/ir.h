// compiler/ir: the rating function as a flat, typed program. `Lower` (compiler/lower) builds it
// from a checked plan; the interpreter (runtime/exec) runs it over batches of usage. Every
// instruction says what it computes, the type of its result (with unit or currency) and the
// plan node it came from; unit conversions and roundings are instructions of their own, so
// nothing is rounded that the IR does not show.
//
// Two kinds of Program run over "rows": event programs over the rows of a usage batch (one row
// an event: filters, meter arguments, per-event charges), and line programs over the lines of
// an invoice (one row a customer's charge line: formulas over meters, tiers). The interpreter
// dispatches once per instruction per batch and loops over the rows inside (Soufflé's reason:
// a switch over an enum, not a visitor, is what makes an interpreter fast).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/source/source.h"
#include "runtime/decimal/decimal.h"
#include "runtime/decimal/fraction.h"

namespace tariff::ir {

// What a value is at run time. Quantities, money, rates and percentages are all kDecimal: the
// unit or currency is static (ValueType::unit) and decided at lowering. A kDecimal value is
// exact: a Decimal while it terminates and fits 38 digits, else a Fraction (runtime/decimal) —
// which of the two is the engine's business, never the plan's: nothing rounds but kRound.
enum class ValueKind : std::uint8_t { kDecimal, kBool, kText, kTimestamp };

// An exact number known when the plan is compiled (a tier bound, a price per unit): a Decimal
// when it has a finite decimal expansion that fits, which is nearly always, else the Fraction
// (`1.00 USD per 7 call` is 1/7 USD per call; `up to 100 s` over a meter in hours is 1/36 h).
using Number = ExactNumber;

// The static type of an instruction's result, for the verifier and the dump: the kind plus
// what the number means ("GB", "USD", "USD per GB", "%", "" for a plain number).
struct ValueType {
  ValueKind kind = ValueKind::kDecimal;
  std::string unit;
};

enum class Op : std::uint8_t {
  kInput,      // a column of the row: event field `a.b` / a line input (meter value, group value)
  kConst,      // a literal                                        `0.20`, `"large"`, `true`
  kAdd,        // a + b (same unit: the lowering converts first)   `x + y`
  kSub,        // a - b                                            `x - y`
  kMul,        // a × b, exact                                     `q * rate`
  kDiv,        // a ÷ b, exact (a fraction when it does not terminate)  `x / 3`, `s → h`
  kNeg,        // -a                                               `-x`
  kEq, kNe, kLt, kLe, kGt, kGe,  // comparisons                    `a < b`
  kAnd, kOr, kNot,               // boolean logic                  `a and b`
  kMin, kMax,  // smaller / larger of a and b                      `min(a, b)`
  kCeilStep,   // ceil(a ÷ b) × b (b > 0)                          `round_up(d, 60 s)`
  kFloorStep,  // floor(a ÷ b) × b                                 `round_down(d, 60 s)`
  kPackages,   // ceil(a ÷ b): started packages of size b          `per started 100 request`
  kMatch,      // args[0] text → the arm value args[1 + arm]       `match x { "a": … else: … }`
  kTiers,      // the tier table `imm` applied to a                `graduated m { … }`
  kRound,      // a rounded once to `scale` decimals with `mode`   `rounding half_even per line`
  kClampZero,  // max(a, 0)                                        `included 100 GB`
};
const char* OpName(Op op);

struct Inst {
  Op op = Op::kConst;
  ValueType type;
  std::int32_t a = -1, b = -1;  // operands: indices of earlier instructions
  std::vector<std::int32_t> args;  // kMatch: subject, then one value per arm
  std::int32_t imm = -1;  // kInput: input slot; kConst: constant index; kTiers: table; kMatch: table
  int scale = 0;          // kRound
  RoundingMode mode = RoundingMode::kHalfEven;  // kRound
  Span source;            // the plan text this instruction implements
};

// A constant. Only the member matching the kind is meaningful.
struct Constant {
  ValueKind kind = ValueKind::kDecimal;
  Decimal number;
  std::optional<Fraction> fraction;  // kDecimal: the value when it is no Decimal (`number` unused)
  std::string text;
  bool boolean = false;
};

// One tier of a tiered price, in the subject's unit and the plan's currency.
struct TierSpec {
  std::optional<Number> up_to;    // absent: `above`
  Number unit_price;              // per one subject unit (a rate), 0 when none
  std::optional<Number> package;  // `per started N`: block size, with `package_price` per block
  Decimal package_price;
  Decimal percent;                // tiers over money: the fraction (2% → 0.02)
  Decimal flat;                   // `10 USD flat`
  std::string price_text;         // as written, for the invoice's tier breakdown
};

// What a table without `above` does past its last bound (`beyond: last price` / `beyond: error`).
enum class Beyond : std::uint8_t { kAbove, kLastPrice, kError };

struct TierTable {
  bool graduated = true;       // false: volume
  bool flat_at_zero = true;    // Stripe's rule: zero usage still pays the first tier's flat fee
  // kAbove: the last tier is `above`. Otherwise the last spec has no `up_to` either (it prices
  // all usage past the bound before it) and `last_bound` is the bound the plan wrote for it, in
  // the subject's unit: kError stops rating a customer whose usage passes it; under kLastPrice it
  // only informs (the explanation says the last tier went on past it).
  Beyond beyond = Beyond::kAbove;
  std::optional<Number> last_bound;
  std::vector<TierSpec> tiers;
  Span source;
};

struct MatchTable {
  std::vector<std::vector<std::string>> patterns;  // per arm; empty for `else`
  std::vector<std::string> arm_text;  // per arm: its value as the plan writes it (`6.00 USD per h`)
};

// A straight-line program; instruction i defines value i. `result` is the value it yields.
struct Program {
  std::vector<Inst> insts;
  std::vector<Constant> constants;
  std::vector<TierTable> tier_tables;
  std::vector<MatchTable> match_tables;
  std::int32_t result = -1;

  bool empty() const { return result < 0; }
};

// ---- The rating function ------------------------------------------------------------------

enum class Aggregation : std::uint8_t { kCount, kCountDistinct, kSum, kMin, kMax, kLatest, kAverage, kTimeWeightedAverage, kIntegral };
const char* AggregationName(Aggregation aggregation);

// A field of an event as the engine reads it.
struct Field {
  std::string name;
  ValueKind kind = ValueKind::kDecimal;
  std::string unit;                     // quantities: as declared; money: the currency
  std::vector<std::string> enum_values; // `one of`
};
struct Event {
  std::string name;
  std::vector<Field> fields;  // includes `customer` and `time`
  int customer_field = -1;
  int time_field = -1;
  int key_field = -1;

  // Index of the field named `field_name`, or -1.
  int FieldIndex(const std::string& field_name) const {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name == field_name) return static_cast<int>(i);
    }
    return -1;
  }
};

// A meter aggregated per customer and per value of `group_fields` (fields of `event`): one
// instance per (meter, grouping) pair the charges need.
struct MeterInstance {
  std::string meter;
  int event = -1;
  std::vector<int> group_fields;
  Aggregation aggregation = Aggregation::kCount;
  Program filter;  // event program → bool; empty: every event
  Program value;   // event program → the aggregated value; empty for count
  std::string unit;  // of the meter's value
  Span source;
};

// How a recurring fee or a minimum is prorated for a customer active in part of the period:
// by the exact seconds active, by local calendar days active (a started day counts whole), or
// not at all.
enum class ProrationBasis : std::uint8_t { kNone, kDay, kSecond, kThirtyDayMonth };
const char* ProrationBasisName(ProrationBasis basis);  // "none", "day", "second", "thirty_day_month"

struct RoundingRule {
  RoundingMode mode = RoundingMode::kHalfEven;
  int scale = 2;
  enum class Point : std::uint8_t { kEvent, kLine, kInvoice } point = Point::kLine;
  Span source;  // where the rule is declared (the plan's or the charge's `rounding`)
};

// A charge. Aggregate charges compute each line from meter values (`line` program, whose input
// slots are `line_inputs`); per-event charges price each event (`amount`) and sum per line.
struct Charge {
  std::string name;
  bool per_event = false;
  int event = -1;                  // per-event: the event; grouped: the event grouped by
  std::vector<int> group_fields;   // `by` fields of `event`
  std::vector<std::string> group_names;
  // Aggregate charges.
  struct LineInput {
    // kActive / kLength: the customer's active part of the period and the period's length, in
    // `basis` units (seconds or local days); a prorated line is `amount × active ÷ length`.
    enum class Kind : std::uint8_t { kMeter, kGroupValue, kSubscription, kActive, kLength } kind = Kind::kMeter;
    int meter_instance = -1;  // kMeter
    int group_index = -1;     // kGroupValue: index into group_fields
    std::string field;        // kSubscription: `subscription.FIELD`
    ValueKind value_kind = ValueKind::kDecimal;  // kSubscription
    ProrationBasis basis = ProrationBasis::kNone;  // kActive, kLength
  };
  std::vector<LineInput> line_inputs;
  Program line;                     // → money, rounded per the rule (kRound at the end)
  int quantity_input = -1;          // the line input shown as the line's quantity, or -1
  std::string quantity_unit;
  bool recurring = false;           // reads no meter: one line per customer
  // `billed in advance` (recurring only): the period's fee is billed at the period's start for
  // the subscription in force then, and a change within the period is prorated on the next
  // invoice (runtime/billing, docs/billing.md "Fees billed in advance").
  bool in_advance = false;
  ProrationBasis proration = ProrationBasis::kNone;  // recurring: how the line is prorated
  // `included Q`: the allowance's constants in `line` (one per meter the charge reads), which a
  // customer's allowance drawn elsewhere lowers (runtime/billing/contracts, kind `drawn`).
  std::vector<std::int32_t> included_consts;
  std::string price_text;           // the price as the plan writes it, shown on the line:
                                    // the rate of `meter * RATE`, else the whole pricing
                                    // (`payment.amount * 2.9% + 0.30 USD`); "" for tiers
  // Per-event charges.
  Program filter;                   // → bool; empty: every event of `event`
  Program amount;                   // → money per event (rounded if the rule is per event)
  std::optional<Decimal> free_events;       // `free first N events`
  std::optional<Decimal> free_amount;       // `… or M USD` of the money field `free_amount_field`
  int free_amount_field = -1;
  // `allocated by EVENT.FIELD in proportion to METER` (aggregate charges): each line's amount,
  // computed once for the customer and rounded by the rule, is split over the values of the
  // field that `meter_instance` (METER grouped by the field) saw, in proportion to each value's
  // usage, by largest remainder at the rule's scale (docs/language.md, "Allocation").
  struct Allocation {
    int meter_instance = -1;  // the proportion meter, grouped by the allocation's field
    std::string dimension;    // `transfer.source`
    std::string meter;        // the proportion meter's name
    Span source;              // the `allocated by …` option
  };
  std::optional<Allocation> allocation;
  RoundingRule rounding;
  Span source;
};

struct Adjustment {
  enum class Kind : std::uint8_t { kPercentDiscount, kFixedDiscount, kMinimum, kMaximum } kind;
  Decimal amount;                   // percent as a fraction, or money
  std::vector<std::string> charges; // empty: the whole invoice
  std::string name;                 // the line's name: "Minimum 100.00 USD", "Discount 10% on Tokens"
  ProrationBasis proration = ProrationBasis::kNone;  // minimums: prorated like recurring fees
  Span source;
};

// `subtotal "Infrastructure" of "Compute", "Storage"`: the sum of the invoice's lines with these
// names (every group, version and part of the period), shown beside the lines, not one of them.
struct Subtotal {
  std::string name;
  std::vector<std::string> parts;  // charge names and adjustment line names, as the plan lists them
  Span source;
};

// The billing period as the plan declares it (`period month anchor … timezone "…"`); the
// billing layer (runtime/billing) turns it into intervals with runtime/calendar.
struct PeriodSpec {
  enum class Length : std::uint8_t { kMonth, kQuarter, kYear, kDays } length = Length::kMonth;
  int count = 1;             // kDays: the number of days
  std::string anchor;        // as written; "" for the default
  std::string time_zone = "UTC";
};

// The whole rating function of one plan.
struct RatingFunction {
  std::string plan;
  std::string currency;
  int minor_units = 2;
  std::vector<Event> events;
  std::vector<MeterInstance> meters;
  std::vector<Charge> charges;
  std::vector<Adjustment> adjustments;
  std::vector<Subtotal> subtotals;
  RoundingRule rounding;  // the plan's
  PeriodSpec period;
  // The plan's `subscription` fields (what a subscriptions input may give per customer).
  std::vector<Field> subscription;
  // `version N effective DATE`: "" when the plan has no version / no effective date.
  std::string version;
  std::string effective;
  bool split_on_change = true;             // `on change split` (default) or `next period`
  // `on change prorate next_invoice|now|none` (Stripe's proration_behavior `create_prorations` /
  // `always_invoice` / `none`): whether a mid-period change of a subscription gives proration
  // lines for the fees billed in advance, and on which invoice (the next period's, or one issued
  // at the change). The behaviour of the plan changed to applies, unless the subscription changed
  // to says otherwise (its `proration_behavior` column).
  enum class ChangeProration : std::uint8_t { kNextInvoice, kNone, kNow } change_proration = ChangeProration::kNextInvoice;
  std::vector<std::string> credit_order;   // `credits drawn by expiry, priority`; default expiry, priority
  // `invoice when usage reaches AMOUNT` (progressive billing, Stripe's billing thresholds): an
  // invoice within the period each time the usage lines not yet billed reach it (runtime/billing,
  // docs/billing.md "Progressive billing"). Absent: one invoice at the period's end.
  std::optional<Decimal> threshold;
  Span threshold_source;
};

// A deterministic text form, for golden tests (`tariff rate --dump ir`).
std::string Dump(const RatingFunction& function);
// Checks the invariants the interpreter relies on (operands defined before use and of the
// right kind, input slots in range, tables present). Returns the problems; empty when sound.
std::vector<std::string> Verify(const RatingFunction& function);

}  // namespace tariff::ir
