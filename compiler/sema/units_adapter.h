// compiler/sema: the vocabulary sema.cc uses for units, as free functions over runtime/units.
// Header-only and thin on purpose: every rule (dimensions, scales, exact conversion, spelling)
// lives in runtime/units/unit.h, so the checker and the engine cannot disagree about a unit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"
#include "runtime/units/unit.h"

namespace tariff {

// The unit called `name` in `catalog` (a built-in or a count unit the plan declared), or
// nullopt. One name only: `GB·h` is resolved factor by factor with UnitProduct/UnitQuotient.
inline std::optional<Unit> LookupUnit(const UnitCatalog& catalog, const std::string& name) {
  return catalog.Lookup(name);
}

// Declares the count unit `name` (its own dimension: tokens never convert into requests).
// Returns false and changes nothing if the name is already a unit of the catalog or cannot be
// a unit name; sema reports shadowing and duplicates itself before calling this.
inline bool DeclareCountUnit(UnitCatalog& catalog, const std::string& name) { return catalog.DeclareCount(name); }

// True if `name` is a built-in unit (B, KB, …, GiB, bit, Mbit, ms, s, min, h, day): a plan
// may not declare a count unit of that name.
inline bool IsBuiltinUnit(const std::string& name) { return IsBuiltinUnitName(name); }

// Every unit name the catalog knows (built-ins, then declared units in declaration order), as
// candidates for "did you mean".
inline std::vector<std::string> AllUnitNames(const UnitCatalog& catalog) { return catalog.Names(); }

// The product unit: GB × h = GB·h. Exact (scales multiply); factors of the same name merge.
inline Unit UnitProduct(const Unit& a, const Unit& b) { return a * b; }

// The quotient unit: B ÷ s = B/s; GB·h ÷ h = GB. Exact; factors of the same name cancel.
inline Unit UnitQuotient(const Unit& a, const Unit& b) { return a / b; }

// The unit of a pure number (no factor, scale 1); UnitQuotient(DimensionlessUnit(), s) is 1/s.
inline Unit DimensionlessUnit() { return Unit(); }

// How messages write a unit: `GB`, `GB·h`, `B/s`, `request/s` (spelling rules: Unit::Name).
inline std::string UnitName(const Unit& unit) { return unit.Name(); }

// How messages name a unit's dimension: "information", "time", "token", "information·time",
// "information/time", "dimensionless" (Dimension::Name).
inline std::string DimensionName(const Unit& unit) { return unit.dimension().Name(); }

// True if quantities in `a` and `b` can be added, compared and converted (GB and MiB; h and
// ms; GB·h and MB·s), false otherwise (GB and h; token and request).
inline bool SameDimension(const Unit& a, const Unit& b) { return a.dimension() == b.dimension(); }

// True if `unit` counts discrete things: its dimension is exactly one count unit to the first
// power (`request`, `token`, `seat`), so quantities step by one. False for information, time,
// products and quotients (`seat·h`, `request/s`) and dimensionless units.
inline bool IsCountDimension(const Unit& unit) {
  const auto& terms = unit.dimension().terms();
  return terms.size() == 1 && terms[0].first.kind == BaseDimensionKind::kCount && terms[0].second == 1;
}

// `value` in `from` expressed exactly in `to`, or nullopt if the dimensions differ, the exact
// result has no finite decimal form (1 min in h), or it does not fit 38 digits. Never rounds.
inline std::optional<Decimal> ConvertValue(const Decimal& value, const Unit& from, const Unit& to) {
  return Convert(value, from, to).value;
}

}  // namespace tariff
