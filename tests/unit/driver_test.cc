// tests/unit: the driver library, exercised exactly as the `tariff` program runs it.
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
