// compiler/sema: names, types, units, currencies and tiers. Reads the immutable AST, reports
// diagnostics, and records what it learned in side tables keyed by ast::NodeId.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/source/source.h"
#include "runtime/units/unit.h"

namespace tariff {

enum class TypeKind : std::uint8_t {
  kError,      // could not be determined; anything depending on it is not checked again
  kDecimal,    // exact number without unit
  kPercent,    // 2.9%, 25 bp: a dimensionless factor
  kBool,
  kText,
  kId,
  kTimestamp,
  kEnum,       // `one of "a", "b"`: `values` lists them
  kQuantity,   // decimal with `unit`
  kMoney,      // decimal in `currency`
  kRate,       // `currency` per `unit`
  kEvent,      // an event name used as a value: `count(request)`
};

// The type of an expression or field.
struct Type {
  TypeKind kind = TypeKind::kError;
  std::string currency;             // kMoney, kRate
  std::optional<Unit> unit;         // kQuantity; kRate: the unit priced
  std::vector<std::string> values;  // kEnum
  std::string event;                // kEvent; for an enum or field type: the event it belongs to

  static Type Error() { return Type{}; }
  static Type Of(TypeKind kind) {
    Type t;
    t.kind = kind;
    return t;
  }
  static Type Money(std::string currency);
  static Type Quantity(Unit unit);
  bool is_error() const { return kind == TypeKind::kError; }
  // How a message names the type: "money in USD", "a quantity of GB", "text", …
  std::string Describe() const;
};

// What a meter measures, as the engine will need it.
enum class Aggregation : std::uint8_t {
  kCount, kCountDistinct, kSum, kMin, kMax, kLatest, kAverage, kTimeWeightedAverage, kIntegral,
};
// The plan-language spelling (`count_distinct`, …); nullopt for any other name.
std::optional<Aggregation> ParseAggregation(const std::string& name);

struct FieldInfo {
  const ast::FieldDecl* decl = nullptr;  // null for the implicit `customer` and `time`
  Type type;
};

struct EventInfo {
  const ast::EventDecl* decl = nullptr;
  std::map<std::string, FieldInfo> fields;  // including customer and time
};

struct MeterInfo {
  const ast::MeterDecl* decl = nullptr;
  Aggregation aggregation = Aggregation::kCount;
  std::string event;  // the event it reads
  Type type;          // its value's type
  bool used = false;
};

struct ChargeInfo {
  const ast::ChargeDecl* decl = nullptr;
  std::vector<std::string> meters;  // meters it reads, in order of first use
  bool recurring = false;           // a fixed fee: reads no meter and no event
  // `allocated by EVENT.FIELD in proportion to METER`: the amount, priced once for the customer,
  // is split over the values of EVENT.FIELD in proportion to METER (empty: not allocated).
  std::string allocation_meter;
  std::string allocation_event;
  std::string allocation_field;
};

// Everything sema learned about one plan.
struct CheckedPlan {
  const ast::Plan* plan = nullptr;
  std::string currency;
  int minor_units = 2;
  std::map<std::string, EventInfo> events;
  std::map<std::string, MeterInfo> meters;
  std::map<std::string, ChargeInfo> charges;
  std::map<std::string, FieldInfo> subscription;
  // `subtotal "NAME" of …`, by name (each name once; a subtotal is no charge's or line's name).
  std::map<std::string, const ast::SubtotalDecl*> subtotals;
};

// The result of checking one file.
struct CheckedFile {
  const ast::File* file = nullptr;
  // The type of every expression node, indexed by NodeId (kError for nodes that are not
  // expressions or whose type could not be determined).
  std::vector<Type> types;
  std::vector<CheckedPlan> plans;
  bool ok = false;  // no errors (warnings allowed)
};

// Checks `file`, reporting every problem to `sink`. Never throws for bad input.
std::unique_ptr<CheckedFile> Check(const ast::File& file, const SourceFile& source,
                                   DiagnosticSink& sink);

}  // namespace tariff
