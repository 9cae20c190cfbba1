// tests/differential: one generated case — a plan and its usage as a structured model that
// prints as plan text (`tariff check`/`rate` read it) and as usage CSV, and that the shrinker
// can cut down piece by piece (customers, rows, charges, meters, adjustments, tiers, options,
// numbers) while it still fails.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tariff::differential {

enum class FieldKind : std::uint8_t { kQuantity, kMoney, kDecimal, kEnum, kText, kBool, kId };

// A declared field of an event or of the subscription: `size: quantity of KiB`.
struct FieldDef {
  std::string name;
  FieldKind kind = FieldKind::kDecimal;
  std::string unit;                 // kQuantity: the unit as written
  std::vector<std::string> values;  // kEnum: its values; kText/kId: the values usage draws from
  std::string TypeText(const std::string& currency) const;
};

struct EventDef {
  std::string name;
  std::vector<FieldDef> fields;
  const FieldDef* Field(const std::string& name) const;
};

// `meter NAME = TEXT` (TEXT holds the aggregation and its `where`).
struct MeterDef {
  std::string name;
  std::string event;
  std::string text;
};

// One row of a tier table: `up to BOUND  PRICE` (BOUND empty: `above`).
struct TierDef {
  std::string bound;
  std::string price;
};

struct ChargeDef {
  std::string name;
  std::string kind;   // what it exercises: recurring, formula, matrix, graduated, volume, per-event
  std::string by;     // `request.model, request.region` or ""
  std::string body;   // the pricing: a formula, `each e where …: …`, or `graduated m` / `volume m`
  std::vector<TierDef> tiers;
  std::string beyond;                // a table without `above`: `last price` or `error` (`beyond: …`); else ""
  std::vector<std::string> options;  // each a charge option as written: `included 5 GB`
  std::vector<std::string> meters;   // the meters it reads
};

// `discount 10% on "A", "B"`, `minimum 20.00 USD on "A" prorated by day`, `maximum 5 USD`.
struct AdjustmentDef {
  std::string head;               // `discount 10%`
  std::vector<std::string> on;    // charge names (empty: the whole invoice)
  std::string tail;               // ` prorated by day` or ""
};

// `subtotal "Subtotal 1" of "C1", "C3"`.
struct SubtotalDef {
  std::string name;
  std::vector<std::string> of;  // charge names
};

struct RowDef {
  std::string event;
  std::string customer;
  std::int64_t time = 0;  // µs since the epoch
  std::map<std::string, std::string> values;  // every declared field, as a usage file writes it
};

struct CustomerDef {
  std::string id;
  // A subscription covering [start, end) of the period (proration); absent: the whole period.
  std::optional<std::pair<std::int64_t, std::int64_t>> part;
  std::map<std::string, std::string> subscription;  // values of the plan's subscription fields
};

struct Case {
  std::uint64_t seed = 0;
  std::string currency = "USD";
  int minor_units = 2;
  std::string rounding;   // `rounding half_up to 3 decimals per line`, or "" (the default)
  std::string proration;  // `proration by day`, or ""
  std::vector<std::string> units;
  std::vector<EventDef> events;
  std::vector<FieldDef> subscription;
  std::vector<MeterDef> meters;
  std::vector<ChargeDef> charges;
  std::vector<AdjustmentDef> adjustments;
  std::vector<SubtotalDef> subtotals;
  std::vector<RowDef> rows;
  std::vector<CustomerDef> customers;  // customers with options (a part, subscription values)
  std::int64_t period_start = 0, period_end = 0;

  const EventDef* Event(const std::string& name) const;
  std::string PlanText() const;
  // Usage as CSV that `tariff rate` reads: `event` first when the plan has several events,
  // then customer, time and the union of the events' fields.
  std::string UsageCsv() const;
  // Subscriptions as CSV for `tariff rate --subscriptions` (customers with options), or "".
  std::string SubscriptionsCsv() const;
  // `tariff rate` arguments that rate this case as the harness does.
  std::vector<std::string> RateArgs() const;
};

// RFC 3339 in UTC, with a fraction when the instant has one.
std::string TimeText(std::int64_t micros);

}  // namespace tariff::differential
