// tests/unit: runtime/units — built-in factors, exact conversion both ways, dimension checks,
// non-terminating detection, declared count units and the spelling of compound units.
#include <string>

#include <catch2/catch.hpp>

#include "runtime/units/unit.h"

namespace {

using tariff::Conversion;
using tariff::ConversionError;
using tariff::Decimal;
using tariff::RoundingMode;
using tariff::Unit;
using tariff::UnitCatalog;
using tariff::UnitScale;

const UnitCatalog& Builtins() {
  static const UnitCatalog catalog;
  return catalog;
}

Unit U(const std::string& text, const UnitCatalog& catalog = Builtins()) {
  std::optional<Unit> u = catalog.Parse(text);
  REQUIRE(u.has_value());
  return *u;
}

Decimal D(const char* text) { return Decimal::FromString(text); }

// Converts exactly and returns the canonical text of the result ("" if there is none).
std::string Exact(const char* value, const std::string& from, const std::string& to) {
  Conversion c = tariff::Convert(D(value), U(from), U(to));
  return c.ok() ? c.value->ToString() : "";
}

}  // namespace

TEST_CASE("units: every built-in unit has its documented exact factor") {
  struct Row {
    const char* name;
    const char* factor;
    const char* dimension;
  };
  const Row rows[] = {
      {"B", "1", "information"},
      {"KB", "1000", "information"},
      {"MB", "1000000", "information"},
      {"GB", "1000000000", "information"},
      {"TB", "1000000000000", "information"},
      {"PB", "1000000000000000", "information"},
      {"KiB", "1024", "information"},
      {"MiB", "1048576", "information"},
      {"GiB", "1073741824", "information"},
      {"TiB", "1099511627776", "information"},
      {"PiB", "1125899906842624", "information"},
      {"bit", "1/8", "information"},
      {"Kbit", "125", "information"},
      {"Mbit", "125000", "information"},
      {"Gbit", "125000000", "information"},
      {"Tbit", "125000000000", "information"},
      {"ms", "1/1000", "time"},
      {"s", "1", "time"},
      {"min", "60", "time"},
      {"h", "3600", "time"},
      {"day", "86400", "time"},
  };
  REQUIRE(tariff::BuiltinUnits().size() == std::size(rows));
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    INFO(rows[i].name);
    CHECK(tariff::BuiltinUnits()[i].name == rows[i].name);
    std::optional<Unit> u = Builtins().Lookup(rows[i].name);
    REQUIRE(u.has_value());
    CHECK(u->scale().ToString() == rows[i].factor);
    CHECK(u->dimension().Name() == rows[i].dimension);
    CHECK(u->Name() == rows[i].name);
    CHECK(tariff::IsBuiltinUnitName(rows[i].name));
  }
}

TEST_CASE("units: there is no month, year or lower-case spelling") {
  for (const char* name : {"month", "year", "week", "gb", "mib", "S", "H", "kb", "mbit", ""}) {
    INFO(name);
    CHECK_FALSE(Builtins().Lookup(name).has_value());
    CHECK_FALSE(tariff::IsBuiltinUnitName(name));
  }
}

TEST_CASE("units: information converts exactly both ways (GiB <-> MB, KiB <-> B, bit <-> B)") {
  CHECK(Exact("1.5", "GiB", "MB") == "1610.612736");
  CHECK(Exact("1610.612736", "MB", "GiB") == "1.500000");
  CHECK(Exact("1", "GiB", "MB") == "1073.741824");
  CHECK(Exact("1073.741824", "MB", "GiB") == "1.000000");
  CHECK(Exact("1", "MB", "MiB") == "0.95367431640625");
  CHECK(Exact("0.95367431640625", "MiB", "MB") == "1.00000000000000");
  CHECK(Exact("1", "KiB", "B") == "1024");
  CHECK(Exact("1024", "B", "KiB") == "1");
  CHECK(Exact("1", "GB", "B") == "1000000000");
  CHECK(Exact("1", "B", "GB") == "0.000000001");
  CHECK(Exact("1", "PiB", "B") == "1125899906842624");
  CHECK(Exact("1", "B", "GiB") == "0.000000000931322574615478515625");  // 5^30 / 10^30
  CHECK(Exact("8", "bit", "B") == "1");
  CHECK(Exact("1", "B", "bit") == "8");
  CHECK(Exact("1", "Gbit", "MB") == "125");
  CHECK(Exact("100", "Mbit", "MB") == "12.5");
}

TEST_CASE("units: time converts exactly both ways (h <-> min, ms <-> s, day <-> h)") {
  CHECK(Exact("90", "min", "h") == "1.5");
  CHECK(Exact("1.5", "h", "min") == "90.0");
  CHECK(Exact("2", "h", "min") == "120");
  CHECK(Exact("2.00", "h", "min") == "120.00");
  CHECK(Exact("1", "ms", "s") == "0.001");
  CHECK(Exact("0.001", "s", "ms") == "1.000");
  CHECK(Exact("1500", "ms", "s") == "1.5");
  CHECK(Exact("1", "day", "h") == "24");
  CHECK(Exact("36", "h", "day") == "1.5");
  CHECK(Exact("1", "day", "ms") == "86400000");
  CHECK(Exact("-45", "min", "h") == "-0.75");
}

TEST_CASE("units: compound units convert exactly (GB·h <-> MB·s, B/s <-> GB/h)") {
  CHECK(Exact("1", "GB·h", "MB·s") == "3600000");
  CHECK(Exact("3600000", "MB·s", "GB·h") == "1");
  CHECK(Exact("1", "GB*h", "MB*s") == "3600000");
  CHECK(Exact("720", "GB·h", "GB·day") == "30");
  CHECK(Exact("1", "B/s", "GB/h") == "0.0000036");
  CHECK(Exact("0.0000036", "GB/h", "B/s") == "1.0000000");
  CHECK(Exact("1", "GiB·h", "MiB·min") == "61440");
}

TEST_CASE("units: the result keeps the written precision and uses no more digits than it needs") {
  Conversion c = tariff::Convert(D("1.50"), U("GiB"), U("MB"));
  REQUIRE(c.ok());
  CHECK(c.value->scale() == 6);  // needs 6 > 2 written
  c = tariff::Convert(D("1.000"), U("h"), U("min"));
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "60.000");  // 3 written, 0 needed
  c = tariff::Convert(D("0.00"), U("GiB"), U("MB"));
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "0.00");
}

TEST_CASE("units: converting between different dimensions is an error, not a number") {
  Conversion c = tariff::Convert(D("1"), U("GB"), U("h"));
  CHECK_FALSE(c.ok());
  CHECK(c.error == ConversionError::kIncompatible);
  CHECK_FALSE(tariff::ConversionFactor(U("GB"), U("h")).has_value());
  CHECK_FALSE(tariff::Convert(D("1"), U("GB·h"), U("GB")).ok());
  CHECK_FALSE(tariff::Convert(D("1"), U("B/s"), U("B·s")).ok());
  CHECK(tariff::ConvertRounded(D("1"), U("GB"), U("h"), 2, RoundingMode::kHalfEven).error ==
        ConversionError::kIncompatible);
}

TEST_CASE("units: a conversion without a finite decimal form is detected and given as a fraction") {
  Conversion c = tariff::Convert(D("1"), U("min"), U("h"));
  CHECK_FALSE(c.ok());
  CHECK(c.error == ConversionError::kNotTerminating);
  REQUIRE(c.fraction.has_value());
  CHECK(c.fraction->ToString() == "1/60");

  c = tariff::Convert(D("-0.7"), U("min"), U("h"));
  REQUIRE(c.fraction.has_value());
  CHECK(c.fraction->ToString() == "-7/600");

  c = tariff::Convert(D("1"), U("s"), U("day"));
  REQUIRE(c.fraction.has_value());
  CHECK(c.fraction->ToString() == "1/86400");

  // 1.5 min is 1/40 h = 0.025 h: terminates even though min → h does not in general.
  CHECK(Exact("1.5", "min", "h") == "0.025");
  CHECK(Exact("3", "min", "h") == "0.05");
}

TEST_CASE("units: rounding happens only when asked, once, with the given mode and scale") {
  Conversion c = tariff::ConvertRounded(D("1"), U("min"), U("h"), 6, RoundingMode::kHalfEven);
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "0.016667");
  c = tariff::ConvertRounded(D("1"), U("min"), U("h"), 6, RoundingMode::kDown);
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "0.016666");
  c = tariff::ConvertRounded(D("-1"), U("min"), U("h"), 3, RoundingMode::kFloor);
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "-0.017");
  c = tariff::ConvertRounded(D("1.5"), U("GiB"), U("MB"), 2, RoundingMode::kHalfUp);
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "1610.61");
  c = tariff::ConvertRounded(D("90"), U("min"), U("h"), 3, RoundingMode::kHalfEven);
  REQUIRE(c.ok());
  CHECK(c.value->ToString() == "1.500");
}

TEST_CASE("units: results beyond 38 digits are reported as overflow") {
  // 10^37 PB in bit = 8·10^52.
  Conversion c = tariff::Convert(D("10000000000000000000000000000000000000"), U("PB"), U("bit"));
  CHECK_FALSE(c.ok());
  CHECK(c.error == ConversionError::kOverflow);
  // 1 B in PiB is 5^50 / 10^50: exact, finite, but 50 decimals.
  CHECK(tariff::Convert(D("1"), U("B"), U("PiB")).error == ConversionError::kOverflow);
  // 1 bit in PB·PB·PB needs 46 decimals.
  Unit pb3 = U("PB") * U("PB") * U("PB");
  Unit bit3 = U("bit") * U("bit") * U("bit");
  c = tariff::Convert(D("1"), bit3, pb3);
  CHECK(c.error == ConversionError::kOverflow);
}

TEST_CASE("units: count units declared in a catalog are each their own dimension") {
  UnitCatalog plan;
  CHECK(plan.DeclareCount("token"));
  CHECK(plan.DeclareCount("request"));
  CHECK_FALSE(plan.DeclareCount("token"));  // already declared
  CHECK_FALSE(plan.DeclareCount("GB"));     // built-in
  CHECK_FALSE(plan.DeclareCount(""));
  CHECK_FALSE(plan.DeclareCount("per s"));
  CHECK_FALSE(plan.DeclareCount("a/b"));
  CHECK_FALSE(plan.DeclareCount("1k"));
  CHECK(plan.IsDeclared("token"));

  Unit token = U("token", plan);
  Unit request = U("request", plan);
  CHECK(token.dimension().Name() == "token");
  CHECK(token.scale().is_one());
  CHECK(tariff::Convert(D("5"), token, token).value->ToString() == "5");
  CHECK(tariff::Convert(D("5"), token, request).error == ConversionError::kIncompatible);
  CHECK(tariff::Convert(D("5"), token, U("B")).error == ConversionError::kIncompatible);
  CHECK(tariff::Convert(D("120"), U("request/min", plan), U("request/s", plan)).value->ToString() == "2");

  // A count unit named like a base dimension is still a count unit: no conversion to bytes.
  CHECK(plan.DeclareCount("information"));
  CHECK(tariff::Convert(D("1"), U("information", plan), U("B")).error == ConversionError::kIncompatible);

  // Catalogs are values: a copy is independent, and the default one has no count unit.
  UnitCatalog copy = plan;
  CHECK(copy.DeclareCount("seat"));
  CHECK_FALSE(plan.Lookup("seat").has_value());
  CHECK_FALSE(UnitCatalog().Lookup("token").has_value());

  std::vector<std::string> names = plan.Names();
  REQUIRE(names.size() == tariff::BuiltinUnits().size() + 3);
  CHECK(names.front() == "B");
  CHECK(names[names.size() - 3] == "token");
  CHECK(names.back() == "information");
}

TEST_CASE("units: compound units print as they are written in a plan") {
  UnitCatalog plan;
  plan.DeclareCount("request");
  plan.DeclareCount("seat");
  CHECK(U("GB*h").Name() == "GB·h");
  CHECK(U("GB·h").Name() == "GB·h");
  CHECK(U("B/s").Name() == "B/s");
  CHECK(U("request/s", plan).Name() == "request/s");
  CHECK(U("seat*day", plan).Name() == "seat·day");
  CHECK(U("B/s/s").Name() == "B/s/s");
  CHECK(U("GB * GB").Name() == "GB·GB");
  CHECK(U("B/s*request", plan).Name() == "B·request/s");
  CHECK((Unit() / U("s")).Name() == "1/s");
  CHECK(Unit().Name() == "1");

  CHECK(U("GB*h").dimension().Name() == "information·time");
  CHECK(U("B/s").dimension().Name() == "information/time");
  CHECK(U("request/s", plan).dimension().Name() == "request/time");
  CHECK((Unit() / U("s")).dimension().Name() == "1/time");
  CHECK(Unit().dimension().Name() == "dimensionless");
  CHECK(U("h*GB").dimension().Name() == "information·time");  // canonical order

  // Every printed name reads back as the same unit.
  for (const char* text : {"GB·h", "B/s", "B/s/s", "GB·GB", "B·request/s", "MiB·min/request"}) {
    INFO(text);
    Unit u = U(text, plan);
    CHECK(U(u.Name(), plan) == u);
  }
}

TEST_CASE("units: products and quotients merge factors of the same name") {
  CHECK(U("GB*h") / U("h") == U("GB"));
  CHECK((U("GB") / U("GB")).is_dimensionless());
  CHECK((U("GB") / U("GB")).Name() == "1");
  Unit ratio = U("GB") / U("MB");  // different names: kept, dimensionless with factor 1000
  CHECK(ratio.Name() == "GB/MB");
  CHECK(ratio.is_dimensionless());
  CHECK(ratio.scale().ToString() == "1000");
  CHECK(tariff::Convert(D("1"), ratio, Unit()).value->ToString() == "1000");
  CHECK(U("h*GB").EquivalentTo(U("GB*h")));
  CHECK_FALSE(U("h*GB") == U("GB*h"));
  CHECK(U("KB*MB").EquivalentTo(U("B*GB")));
  CHECK(U("GB*h").scale().ToString() == "3600000000000");
}

TEST_CASE("units: malformed or unknown unit expressions are rejected") {
  UnitCatalog catalog;
  std::string unknown;
  CHECK_FALSE(catalog.Parse("GB*hour", &unknown).has_value());
  CHECK(unknown == "hour");
  CHECK_FALSE(catalog.Parse("gb", &unknown).has_value());
  CHECK(unknown == "gb");
  for (const char* bad : {"", "*", "GB*", "/s", "GB h", "GB**h", "GB^2"}) {
    INFO(bad);
    CHECK_FALSE(catalog.Parse(bad, &unknown).has_value());
    CHECK(unknown.empty());
  }
}

TEST_CASE("units: UnitScale arithmetic is exact and never overflows") {
  UnitScale gib = *UnitScale::Fraction(1073741824);
  UnitScale mb = *UnitScale::Fraction(1000000);
  CHECK((gib / mb).ToString() == "16777216/15625");
  CHECK(gib.Pow(10).ToString() == "2^300");  // too large for 128 bits: prime powers
  CHECK_FALSE(gib.Pow(10).Numerator().has_value());
  CHECK(UnitScale::Fraction(1, 60)->ToString() == "1/60");
  CHECK_FALSE(UnitScale::Fraction(11).has_value());
  CHECK_FALSE(UnitScale::Fraction(0).has_value());
  CHECK((UnitScale() / *UnitScale::Fraction(1, 1000)).ToString() == "1000");
  CHECK(*UnitScale::Fraction(86400) == Builtins().Lookup("day")->scale());
}
