// tools/driver: `tariff convert VALUE FROM TO` — exact unit conversion from the command line, a
// thin wrapper around runtime/units Convert/ConvertRounded (docs/cli.md, docs/units-and-money.md).
#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/decimal/decimal.h"
#include "runtime/units/unit.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"

namespace tariff::driver {
namespace {

// Spellings people type for the built-in units, for the hint.
constexpr std::pair<const char*, const char*> kAliases[] = {
    {"byte", "B"},      {"bytes", "B"},   {"bits", "bit"},     {"millisecond", "ms"}, {"milliseconds", "ms"},
    {"sec", "s"},       {"secs", "s"},    {"second", "s"},     {"seconds", "s"},      {"minute", "min"},
    {"minutes", "min"}, {"mins", "min"},  {"hour", "h"},       {"hours", "h"},        {"hr", "h"},
    {"hrs", "h"},       {"days", "day"},
};

std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

bool EqualIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The unit `name` was probably meant to be, or empty.
std::string SuggestUnit(std::string_view name, const UnitCatalog& catalog) {
  std::vector<std::string> names = catalog.Names();
  for (const std::string& n : names) {
    if (EqualIgnoringCase(n, name)) return n;  // `gb` → `GB`, `MIB` → `MiB`
  }
  for (const auto& [alias, unit] : kAliases) {
    if (name == alias) return unit;
  }
  std::string best;
  std::size_t best_distance = name.size() <= 3 ? 2 : 3;  // only close matches
  for (const std::string& n : names) {
    std::size_t d = Distance(name, n);
    if (d < best_distance) best_distance = d, best = n;
  }
  return best;
}

// Resolves a unit argument, reporting why it is not one. nullopt after reporting.
std::optional<Unit> ResolveUnit(const std::string& text, const UnitCatalog& catalog, std::ostream& err) {
  std::string unknown;
  std::optional<Unit> unit = catalog.Parse(text, &unknown);
  if (unit) return unit;
  if (unknown.empty()) {
    err << fmt::format("error: `{}` is not a unit expression\n", text);
    err << "hint: write one unit (`GB`) or units joined by `*`, `·` or `/` (`GB*h`, `B/s`)\n";
    return std::nullopt;
  }
  err << fmt::format("error: unknown unit `{}`\n", unknown);
  std::string suggestion = SuggestUnit(unknown, catalog);
  if (!suggestion.empty()) {
    err << fmt::format("hint: did you mean `{}`?\n", suggestion);
  } else {
    err << fmt::format("hint: built-in units are {}; declare a count unit with `--unit {}`\n",
                       fmt::join(catalog.Names(), " "), unknown);
  }
  return std::nullopt;
}

}  // namespace

Action RegisterConvert(CLI::App& app, Streams& streams) {
  struct Options {
    std::string value;
    std::string from;
    std::string to;
    std::optional<int> scale;
    std::optional<std::string> rounding;
    std::vector<std::string> count_units;
  };
  auto options = std::make_shared<Options>();
  app.add_option("value", options->value, "the amount, an exact decimal (`1.5`, `1_000`, `2e3`)")->required();
  app.add_option("from", options->from, "its unit: `GiB`, `min`, `GB*h`, `B/s`")->required();
  app.add_option("to", options->to, "the unit to express it in, of the same dimension")->required();
  app.add_option("--scale", options->scale, "round the result to this many decimals (0..38) instead of requiring an exact result")
      ->check(CLI::Range(0, Decimal::kMaxScale));
  app.add_option("--rounding", options->rounding, "rounding mode with --scale: half_even (default), half_up, half_down, up, down, ceiling, floor, 05up");
  app.add_option("--unit", options->count_units, "declare a count unit, as a plan's `unit NAME` does (repeatable): `--unit request`")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.footer(
      "The result is exact or an error: a conversion with no finite decimal form (1 min in h = 1/60 h)\n"
      "is reported with its exact fraction (exit 1) unless --scale asks for rounding.");

  return [options, &streams]() -> int {
    std::ostream& err = streams.err;
    RoundingMode mode = RoundingMode::kHalfEven;
    if (options->rounding) {
      std::optional<RoundingMode> parsed = ParseRoundingMode(*options->rounding);
      if (!parsed) {
        err << fmt::format("error: unknown rounding mode `{}`\n", *options->rounding);
        err << "hint: half_even, half_up, half_down, up, down, ceiling, floor or 05up\n";
        return kExitUsage;
      }
      if (!options->scale) {
        err << "error: --rounding needs --scale: say how many decimals to round to\n";
        return kExitUsage;
      }
      mode = *parsed;
    }

    UnitCatalog catalog;
    for (const std::string& name : options->count_units) {
      if (!catalog.DeclareCount(name)) {
        err << fmt::format("error: `{}` cannot be declared as a count unit: {}\n", name,
                           catalog.Lookup(name) ? "it is already a unit" : "it is not a unit name");
        return kExitUsage;
      }
    }

    DecimalParseResult parsed = Decimal::Parse(options->value);
    if (!parsed.value) {
      err << fmt::format("error: `{}` is not an exact decimal number: {} (at byte {})\n", options->value, parsed.error,
                         parsed.error_offset);
      return kExitFailure;
    }
    std::optional<Unit> from = ResolveUnit(options->from, catalog, err);
    if (!from) return kExitFailure;
    std::optional<Unit> to = ResolveUnit(options->to, catalog, err);
    if (!to) return kExitFailure;

    const Decimal& value = *parsed.value;
    Conversion result = options->scale ? ConvertRounded(value, *from, *to, *options->scale, mode)
                                       : Convert(value, *from, *to);
    if (result.ok()) {
      streams.out << result.value->ToString() << " " << to->Name() << "\n";
      return kExitOk;
    }
    const std::string from_text = fmt::format("{} {}", value.ToString(), from->Name());
    switch (result.error) {
      case ConversionError::kIncompatible:
        err << fmt::format("error: cannot convert {} ({}) to {} ({}): different dimensions\n", from->Name(),
                           from->dimension().Name(), to->Name(), to->dimension().Name());
        err << "hint: only units of one dimension convert: information (B, GB, GiB, bit…), time (ms, s, min, h, day), "
               "or one count unit\n";
        break;
      case ConversionError::kNotTerminating: {
        if (result.fraction) {
          err << fmt::format("error: {} is exactly {} {}, which has no finite decimal form\n", from_text,
                             result.fraction->ToString(), to->Name());
        } else {
          err << fmt::format("error: {} in {} has no finite decimal form\n", from_text, to->Name());
        }
        Conversion example = ConvertRounded(value, *from, *to, 6, RoundingMode::kHalfEven);
        if (example.ok()) {
          err << fmt::format("hint: to round, pass --scale: `--scale 6` gives {} {} (half_even)\n",
                             example.value->ToString(), to->Name());
        }
        break;
      }
      case ConversionError::kOverflow:
        err << fmt::format("error: {} in {} needs more than {} digits or decimals\n", from_text, to->Name(),
                           Decimal::kMaxDigits);
        if (!options->scale) err << "hint: pass --scale to round the result\n";
        break;
    }
    return kExitFailure;
  };
}

}  // namespace tariff::driver
