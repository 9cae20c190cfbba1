// tests/unit: the driver library, exercised exactly as the `tariff` program runs it.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tools/driver/driver.h"

namespace {

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult RunTariff(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = tariff::driver::Run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("driver: --version prints the version and exits 0") {
  auto r = RunTariff({"--version"});
  CHECK(r.code == 0);
  CHECK(r.out.rfind("tariff 0.", 0) == 0);
}

TEST_CASE("driver: --help lists the subcommands that exist") {
  auto r = RunTariff({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("convert") != std::string::npos);
  CHECK(r.out.find("Exit codes") != std::string::npos);
}

TEST_CASE("driver: unknown subcommand is a usage error with a hint") {
  auto r = RunTariff({"convrt"});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown subcommand `convrt`") != std::string::npos);
  CHECK(r.err.find("did you mean `convert`?") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("driver: unknown flag is a usage error") {
  auto r = RunTariff({"--frobnicate"});
  CHECK(r.code == 2);
  CHECK_FALSE(r.err.empty());
}

TEST_CASE("driver: no subcommand prints help to stderr and exits 2") {
  auto r = RunTariff({});
  CHECK(r.code == 2);
  CHECK(r.err.find("convert") != std::string::npos);
}

TEST_CASE("driver: convert between units exactly") {
  auto r = RunTariff({"convert", "1.5", "GiB", "MB"});
  CHECK(r.code == 0);
  CHECK(r.out == "1610.612736 MB\n");
  r = RunTariff({"convert", "90", "min", "h"});
  CHECK(r.code == 0);
  CHECK(r.out == "1.5 h\n");
}

TEST_CASE("driver: convert reports what it cannot do exactly") {
  auto r = RunTariff({"convert", "1", "min", "h"});
  CHECK(r.code == 1);
  CHECK(r.err.find("1/60") != std::string::npos);
  r = RunTariff({"convert", "1", "GB", "h"});
  CHECK(r.code == 1);
  r = RunTariff({"convert", "1", "gb", "MB"});
  CHECK(r.code == 1);
  CHECK(r.err.find("`GB`") != std::string::npos);
  r = RunTariff({"convert", "1", "GB", "MB", "--rounding", "up"});
  CHECK(r.code == 2);
}

namespace {

// A scratch file under the system temp directory, removed at scope exit.
struct TempPlan {
  std::filesystem::path path;
  explicit TempPlan(const std::string& name, const std::string& text)
      : path(std::filesystem::temp_directory_path() / name) {
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempPlan() { std::filesystem::remove(path); }
  std::string Read() const {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
};

}  // namespace

TEST_CASE("driver: fmt --check lists an unformatted file and exits 1; --write fixes it atomically") {
  TempPlan plan("tariff-driver-fmt.tariff", "plan \"p\" {\n    currency   USD\n}\n");
  auto r = RunTariff({"fmt", "--check", plan.path.string()});
  CHECK(r.code == 1);
  CHECK(r.out == plan.path.string() + "\n");
  r = RunTariff({"fmt", "--write", plan.path.string()});
  CHECK(r.code == 0);
  CHECK(plan.Read() == "plan \"p\" {\n  currency USD\n}\n");
  r = RunTariff({"fmt", "--check", plan.path.string()});
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  // No temporary file is left beside it.
  int leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(plan.path.parent_path())) {
    if (e.path().filename().string().find("tariff-driver-fmt.tariff-fmt") != std::string::npos) ++leftovers;
  }
  CHECK(leftovers == 0);
}

TEST_CASE("driver: fmt refuses a file that does not parse and leaves it untouched") {
  const std::string broken = "plan \"p\" {\n  currency USD\n";
  TempPlan plan("tariff-driver-broken.tariff", broken);
  auto r = RunTariff({"fmt", "--write", plan.path.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("error[E0101]") != std::string::npos);
  CHECK(r.err.find("does not parse") != std::string::npos);
  CHECK(plan.Read() == broken);
}

TEST_CASE("driver: check exit codes: clean 0, warnings 0 or 1 with --strict, errors 1, missing 2") {
  TempPlan clean("tariff-driver-clean.tariff", "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 USD\n}\n");
  TempPlan warn("tariff-driver-warn.tariff",
                "plan \"p\" {\n  currency USD\n  event e { n: decimal }\n  meter m = count(e)\n  charge \"Fee\" = 10.00 USD\n}\n");
  TempPlan bad("tariff-driver-bad.tariff", "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 EUR\n}\n");
  CHECK(RunTariff({"check", clean.path.string()}).code == 0);
  CHECK(RunTariff({"check", warn.path.string()}).code == 0);
  CHECK(RunTariff({"check", "--strict", warn.path.string()}).code == 1);
  CHECK(RunTariff({"check", bad.path.string()}).code == 1);
  CHECK(RunTariff({"check", "/no/such/plan.tariff"}).code == 2);
  CHECK(RunTariff({"check", "--format", "yaml", clean.path.string()}).code == 2);
}

TEST_CASE("driver: rate's usage errors exit 2 with a message that says what to do") {
  const std::string plans = std::string(TARIFF_SOURCE_DIR) + "/plans/lago-charges/lago-charges.tariff";
  const std::string single = std::string(TARIFF_SOURCE_DIR) + "/plans/api-platform/api-platform.tariff";
  auto r = RunTariff({"rate", single});
  CHECK(r.code == 2);
  CHECK(r.err.find("no usage given") != std::string::npos);
  r = RunTariff({"rate", plans, "--usage", "u.csv"});
  CHECK(r.code == 2);
  CHECK(r.err.find("choose one with --plan NAME") != std::string::npos);
  r = RunTariff({"rate", plans, "--plan", "nope", "--usage", "u.csv"});
  CHECK(r.code == 2);
  CHECK(r.err.find("has no plan \"nope\"") != std::string::npos);
  r = RunTariff({"rate", single, "--usage", "u.csv", "--period", "2026-03-01..2026-02-01"});
  CHECK(r.code == 2);
  CHECK(r.err.find("ends before it starts") != std::string::npos);
  r = RunTariff({"rate", single, "--usage", "u.csv", "--period", "2026-13-01..2026-02-01"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--period start") != std::string::npos);
  r = RunTariff({"rate", single, "--usage", "u.csv", "--period", "march"});
  CHECK(r.code == 2);
}
