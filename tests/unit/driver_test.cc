// tests/unit: the driver library, exercised exactly as the `tariff` program runs it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

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

TEST_CASE("driver: fmt --check lists an unformatted file and exits 1, --write fixes it atomically") {
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

namespace {

// A plan with one error: its diagnostic is what colour applies to.
constexpr const char* kBrokenPlan = "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 EUR\n}\n";

bool HasEscape(const std::string& text) { return text.find("\x1b[") != std::string::npos; }

RunResult RunIn(const tariff::driver::Terminal& terminal, std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = tariff::driver::Run(args, out, err, terminal);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("driver: colour follows the stream the text goes to, NO_COLOR and --color") {
  TempPlan plan("tariff-driver-color.tariff", kBrokenPlan);
  const std::string path = plan.path.string();
  using tariff::driver::Terminal;
  // `check` writes diagnostics to stdout: stdout redirected to a file while stderr is still the
  // terminal gets no escape codes (it used to follow stderr).
  auto r = RunIn(Terminal{false, true, ""}, {"check", path});
  CHECK(r.code == 1);
  CHECK(r.out.find("error[E0304]") != std::string::npos);
  CHECK_FALSE(HasEscape(r.out));
  r = RunIn(Terminal{true, false, ""}, {"check", path});
  CHECK(HasEscape(r.out));
  CHECK(r.out.find("error") != std::string::npos);
  // NO_COLOR: any value but the empty one turns `auto` off, never `always`.
  CHECK_FALSE(HasEscape(RunIn(Terminal{true, true, "1"}, {"check", path}).out));
  CHECK(HasEscape(RunIn(Terminal{true, true, ""}, {"check", "--color", "auto", path}).out));
  CHECK(HasEscape(RunIn(Terminal{false, false, "1"}, {"check", "--color", "always", path}).out));
  CHECK_FALSE(HasEscape(RunIn(Terminal{true, true, ""}, {"check", "--color", "never", path}).out));
  // `fmt` writes a plan's syntax errors to stderr: its colour follows stderr.
  TempPlan broken("tariff-driver-color-broken.tariff", "plan \"p\" {\n  currency USD\n");
  r = RunIn(Terminal{false, true, ""}, {"fmt", broken.path.string()});
  CHECK(r.code == 1);
  CHECK(HasEscape(r.err));
  r = RunIn(Terminal{true, false, ""}, {"fmt", broken.path.string()});
  CHECK(r.err.find("error[E0101]") != std::string::npos);
  CHECK_FALSE(HasEscape(r.err));
  // Every command that prints diagnostics takes --color; a bad value is a usage error.
  for (const char* command : {"check", "fmt", "rate", "explain", "test"}) {
    INFO(command);
    r = RunIn(Terminal{}, {command, "--color", "purple", path});
    CHECK(r.code == 2);
    CHECK(r.err.find("--color") != std::string::npos);
  }
  CHECK(RunIn(Terminal{}, {"convert", "1", "GB", "MB", "--color", "always"}).code == 2);
}

TEST_CASE("driver: in a real terminal, `check > file` writes no colour and the terminal gets it") {
  int master = -1, slave = -1;
  REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  TempPlan plan("tariff-driver-pty.tariff", kBrokenPlan);
  TempPlan captured("tariff-driver-pty.out", "");
  const char* no_color = std::getenv("NO_COLOR");
  const std::string saved_no_color = no_color != nullptr ? no_color : "";
  unsetenv("NO_COLOR");
  // Runs the driver as the program does (on std::cout and std::cerr, whose descriptors 1 and 2
  // are pointed at `out_fd` and `err_fd` for the call).
  auto run = [&](int out_fd, int err_fd) {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    const int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    int code = tariff::driver::Run({"check", plan.path.string()}, std::cout, std::cerr);
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    return code;
  };
  auto drain = [&]() {
    std::string text;
    char buffer[4096];
    pollfd p{master, POLLIN, 0};
    while (poll(&p, 1, 200) > 0 && (p.revents & POLLIN) != 0) {
      ssize_t n = read(master, buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
  };

  // stdout to a file, stderr on the terminal: the file holds the diagnostics, without escapes.
  const int file = open(captured.path.c_str(), O_WRONLY | O_TRUNC);
  REQUIRE(file >= 0);
  CHECK(run(file, slave) == 1);
  close(file);
  const std::string in_file = captured.Read();
  const std::string summary = drain();
  CHECK(in_file.find("error[E0304]") != std::string::npos);
  CHECK_FALSE(HasEscape(in_file));
  CHECK(summary.find("checked 1 file: 1 error") != std::string::npos);

  // stdout on the terminal: coloured; with NO_COLOR set, plain.
  const int null = open("/dev/null", O_WRONLY);
  CHECK(run(slave, null) == 1);
  const std::string on_terminal = drain();
  CHECK(HasEscape(on_terminal));
  CHECK(on_terminal.find("E0304") != std::string::npos);
  setenv("NO_COLOR", "1", 1);
  CHECK(run(slave, null) == 1);
  const std::string without = drain();
  CHECK(without.find("E0304") != std::string::npos);
  CHECK_FALSE(HasEscape(without));
  close(null);

  if (no_color != nullptr) {
    setenv("NO_COLOR", saved_no_color.c_str(), 1);
  } else {
    unsetenv("NO_COLOR");
  }
  close(slave);
  close(master);
}

TEST_CASE("driver: rate: a usage file it cannot read as a whole exits 1, a missing one 2 (docs/invoice.md)") {
  const std::string single = std::string(TARIFF_SOURCE_DIR) + "/plans/api-platform/api-platform.tariff";
  TempPlan extension("tariff-driver-usage.txt", "customer,time\n");
  auto r = RunTariff({"rate", single, "--usage", extension.path.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("cannot tell the format of") != std::string::npos);
  TempPlan header("tariff-driver-usage-header.csv", "customer,time,bogus\n");
  r = RunTariff({"rate", single, "--usage", header.path.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("unknown column `bogus`") != std::string::npos);
  r = RunTariff({"rate", single, "--usage", "/no/such/usage.csv"});
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot open `/no/such/usage.csv`") != std::string::npos);
}

TEST_CASE("driver: test: `free first N events` as documented, and `* name` after a rate, rate as written") {
  // `free first 2 events` used to fail with "unknown unit `events`"; `per call * subscription.mult`
  // with "unknown unit `subscription`".
  TempPlan plan("tariff-driver-forms.tariff",
                "plan \"p\" {\n"
                "  currency USD\n"
                "  rounding half_up per event\n"
                "  event payment { amount: money }\n"
                "  subscription { mult: decimal }\n"
                "  meter payments = count(payment)\n"
                "  charge \"A\" = each payment: payment.amount * 10% free first 2 events\n"
                "  charge \"B\" = each payment: payment.amount * 10% free first 1 event or 500.00 USD\n"
                "  charge \"C\" = each payment: payment.amount * 10% free first 2 payment\n"
                "  charge \"D\" = payments * 0.5 USD per payment * subscription.mult\n"
                "  test \"three payments\" {\n"
                "    subscription { mult = 3 }\n"
                "    usage payment x 3 { amount = 10.00 USD }\n"
                "    expect \"A\" = 1.00 USD\n"
                "    expect \"B\" = 2.00 USD\n"
                "    expect \"C\" = 1.00 USD\n"
                "    expect \"D\" = 4.50 USD\n"
                "    expect total = 8.50 USD\n"
                "  }\n"
                "}\n");
  auto r = RunTariff({"test", plan.path.string()});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("PASS") != std::string::npos);
  CHECK((r.out + r.err).find("1 passed, 0 failed") != std::string::npos);
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

// ---- rate: billing periods, subscriptions and credits (docs/billing.md) -------------------

namespace {

// A plan with seats from the subscription and a usage charge; March 2026 is 31 days.
constexpr const char* kBillingPlan =
    "plan \"seats\" {\n"
    "  currency USD\n"
    "  period month\n"
    "\n"
    "  unit seat, request\n"
    "  subscription {\n"
    "    seats: quantity of seat\n"
    "  }\n"
    "  event request {}\n"
    "  meter requests = count(request)\n"
    "\n"
    "  charge \"Seats\" = subscription.seats * 1.00 USD per seat\n"
    "  charge \"Requests\" = requests * 0.10 USD per request\n"
    "}\n";

constexpr const char* kBillingUsage = "customer,time\nacme,2026-03-12T00:00:00Z\nacme,2026-03-13T00:00:00Z\n";

}  // namespace

TEST_CASE("driver: rate --subscriptions/--credits: a missing file is a usage error (exit 2)") {
  TempPlan plan("tariff-billing-missing.tariff", kBillingPlan);
  TempPlan usage("tariff-billing-missing-usage.csv", kBillingUsage);
  auto r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15",
                      "--subscriptions", "/no/such/subscriptions.csv"});
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot open `/no/such/subscriptions.csv`") != std::string::npos);
  CHECK(r.out.empty());
  r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15", "--credits",
                 "/no/such/credits.csv"});
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot open `/no/such/credits.csv`") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("driver: rate --subscriptions: wrong data exits 1 naming the file, line and column") {
  TempPlan plan("tariff-billing-subs.tariff", kBillingPlan);
  TempPlan usage("tariff-billing-subs-usage.csv", kBillingUsage);
  auto rate = [&](const TempPlan& subs) {
    return RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15",
                      "--subscriptions", subs.path.string()});
  };
  {
    TempPlan subs("tariff-billing-unknown-column.csv", "customer,seats,colour\nacme,10,red\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":1: column `colour`") != std::string::npos);  // the header names it
    CHECK(r.err.find("no plan of the file has such a subscription field") != std::string::npos);
    CHECK(r.out.empty());
  }
  {
    TempPlan subs("tariff-billing-bad-start.csv", "customer,seats,start\nacme,10,2026-03-01\nglobex,5,2026-02-30\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":3: column `start`: `2026-02-30`") != std::string::npos);
    CHECK(r.out.empty());
  }
  {
    TempPlan subs("tariff-billing-end-first.csv", "customer,seats,start,end\nacme,10,2026-03-20,2026-03-10\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: the subscription ends before it starts") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-unknown-plan.csv", "customer,plan,seats\nacme,gold,10\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: column `plan`: no plan \"gold\" in the plan file") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-bad-seats.csv", "customer,seats\nacme,ten\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: column `seats`: `ten` is not a number (of seat)") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-no-customer.csv", "seats\n10\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: no `customer`") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-overlap.csv", "customer,seats,start,end\nacme,10,2026-03-01,2026-03-20\nacme,20,2026-03-10,\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find("customer `acme` has two subscriptions in force at once") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-pin.csv", "customer,version,seats\nacme,9,10\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find("plan \"seats\" has no version 9") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-ragged.csv", "customer,seats\nacme,10,extra\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: 3 values for 2 columns") != std::string::npos);
  }
}

TEST_CASE("driver: rate --subscriptions in JSON Lines: a fractional JSON number is refused, a string is not") {
  TempPlan plan("tariff-billing-jsonl.tariff", kBillingPlan);
  TempPlan usage("tariff-billing-jsonl-usage.csv", kBillingUsage);
  auto rate = [&](const TempPlan& subs) {
    return RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15",
                      "--subscriptions", subs.path.string()});
  };
  {
    TempPlan subs("tariff-billing-fraction.jsonl", "{\"customer\":\"acme\",\"seats\":10}\n{\"customer\":\"globex\",\"seats\":2.5}\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: `seats`: write decimal amounts as strings") != std::string::npos);
    CHECK(r.out.empty());
  }
  {
    TempPlan subs("tariff-billing-not-json.jsonl", "{\"customer\":\"acme\",\"seats\":10}\n{\"customer\":\"globex\",\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":2: not JSON") != std::string::npos);
  }
  {
    TempPlan subs("tariff-billing-array.jsonl", "[\"acme\", 10]\n");
    auto r = rate(subs);
    CHECK(r.code == 1);
    CHECK(r.err.find(subs.path.string() + ":1: expected a JSON object") != std::string::npos);
  }
  {
    // Whole numbers and strings are fine; null is absent; blank lines are skipped.
    TempPlan subs("tariff-billing-good.jsonl",
                  "{\"customer\":\"acme\",\"seats\":10,\"start\":\"2026-03-11\",\"end\":null}\n\n"
                  "{\"customer\":\"globex\",\"seats\":\"2.5\"}\n");
    auto r = rate(subs);
    CHECK(r.code == 0);
    // acme: 10 seats × 21/31 of March = 6.774… → 6.77, and 2 requests; globex: 2.5 seats all March.
    CHECK(r.out.find("\"customer\":\"acme\"") != std::string::npos);
    CHECK(r.out.find("\"amount\":\"6.77\"") != std::string::npos);
    CHECK(r.out.find("\"total\":\"6.97\"") != std::string::npos);
    CHECK(r.out.find("\"amount\":\"2.50\"") != std::string::npos);
    CHECK(r.err.find("rows read 2 = rated 2 + rejected 0 + duplicates 0; 2 invoices") != std::string::npos);
  }
}

TEST_CASE("driver: rate: a plan that reads subscription values needs them, every one, at or above zero") {
  TempPlan plan("tariff-billing-seats.tariff", kBillingPlan);
  TempPlan usage("tariff-billing-seats-usage.csv", kBillingUsage);
  auto r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15"});
  CHECK(r.code == 2);
  CHECK(r.err.find("reads subscription values (seats); give them per customer with --subscriptions FILE") != std::string::npos);
  TempPlan missing("tariff-billing-seats-missing.csv", "customer,start\nacme,2026-03-01\n");
  r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15", "--subscriptions", missing.path.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find(missing.path.string() + ":2: customer `acme` has no `seats`, which plan \"seats\" reads") != std::string::npos);
  TempPlan negative("tariff-billing-seats-negative.csv", "customer,seats\nacme,-3\n");
  r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15", "--subscriptions", negative.path.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find(negative.path.string() + ":2: column `seats`: `-3` is below zero") != std::string::npos);
}

TEST_CASE("driver: rate --credits: wrong data exits 1 naming the file, line and column") {
  TempPlan plan("tariff-billing-credits.tariff", kBillingPlan);
  TempPlan usage("tariff-billing-credits-usage.csv", kBillingUsage);
  TempPlan seats("tariff-billing-credits-subs.csv", "customer,seats\nacme,1\nglobex,1\n");
  auto rate = [&](const TempPlan& credits) {
    return RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15", "--credits",
                      credits.path.string(), "--subscriptions", seats.path.string()});
  };
  {
    TempPlan credits("tariff-billing-currency.csv", "customer,grant,amount,currency\nacme,promo,10.00,USD\nacme,euro,10.00,EUR\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":3: column `currency`: `EUR`, but the plan bills in USD") != std::string::npos);
    CHECK(r.out.empty());
  }
  {
    TempPlan credits("tariff-billing-duplicate.csv", "customer,grant,amount\nacme,promo,10.00\nglobex,promo,5.00\nacme,promo,1.00\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":4: column `grant`: customer `acme` has grant `promo` twice") != std::string::npos);
  }
  {
    TempPlan credits("tariff-billing-credit-column.csv", "customer,grant,amount,colour\nacme,promo,10.00,red\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":1: column `colour`: unknown column") != std::string::npos);
  }
  {
    TempPlan credits("tariff-billing-negative.csv", "customer,grant,amount\nacme,promo,-1.00\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":2: column `amount`: `-1.00` is not an amount of money at or above zero") !=
          std::string::npos);
  }
  {
    TempPlan credits("tariff-billing-priority.csv", "customer,grant,amount,priority\nacme,promo,1.00,high\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":2: column `priority`: `high` is not a whole number") != std::string::npos);
  }
  {
    TempPlan credits("tariff-billing-expires.csv", "customer,grant,amount,expires\nacme,promo,1.00,soon\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":2: column `expires`: `soon`") != std::string::npos);
  }
  {
    TempPlan credits("tariff-billing-no-amount.csv", "customer,grant\nacme,promo\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":2: no `amount`") != std::string::npos);
  }
  {
    TempPlan credits("tariff-billing-credits.jsonl", "{\"customer\":\"acme\",\"grant\":\"promo\",\"amount\":0.5}\n");
    auto r = rate(credits);
    CHECK(r.code == 1);
    CHECK(r.err.find(credits.path.string() + ":1: `amount`: write decimal amounts as strings") != std::string::npos);
  }
  {
    // Good credits: acme owes 1.20 (1 seat, 2 requests), drawn from `promo`.
    TempPlan credits("tariff-billing-good-credits.jsonl",
                     "{\"customer\":\"acme\",\"grant\":\"promo\",\"amount\":\"5.00\",\"currency\":\"USD\",\"priority\":1}\n");
    auto r = rate(credits);
    CHECK(r.code == 0);
    CHECK(r.out.find("{\"kind\":\"credit\",\"name\":\"Credit promo\",\"group\":[],\"amount\":\"-1.20\"}") != std::string::npos);
    CHECK(r.out.find("\"total\":\"0.00\"") != std::string::npos);
    CHECK(r.out.find("{\"grant\":\"promo\",\"balance\":\"5.00\",\"used\":\"1.20\",\"remaining\":\"3.80\",\"expires\":null,\"priority\":1}") !=
          std::string::npos);
  }
}

// (A `;` in a test's name splits it for CTest, which then runs no test and passes: this one hid
// that way, failing, since rating began to require --subscriptions for a plan that reads them.)
TEST_CASE("driver: rate --period DATE rates the plan's period containing it, START..END exactly that interval") {
  // Usage only: kBillingPlan's seats would need --subscriptions.
  TempPlan plan("tariff-billing-period.tariff",
                "plan \"requests\" {\n  currency USD\n  period month\n\n  unit request\n  event request {}\n"
                "  meter requests = count(request)\n\n  charge \"Requests\" = requests * 0.10 USD per request\n}\n");
  TempPlan usage("tariff-billing-period-usage.csv",
                 "customer,time\nacme,2026-02-28T23:59:59Z\nacme,2026-03-01T00:00:00Z\nacme,2026-03-31T23:59:59Z\nacme,2026-04-01T00:00:00Z\n");
  auto r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15"});
  CHECK(r.code == 0);
  CHECK(r.out.find("\"period\":{\"start\":\"2026-03-01T00:00:00Z\",\"end\":\"2026-04-01T00:00:00Z\"}") != std::string::npos);
  CHECK(r.out.find("\"quantity\":\"2\"") != std::string::npos);
  CHECK(r.err.find("rows read 4 = rated 2 + rejected 2") != std::string::npos);
  CHECK(r.err.find(":2: field `time`: `2026-02-28T23:59:59Z` is outside the period") != std::string::npos);
  CHECK(r.err.find(":5: field `time`: `2026-04-01T00:00:00Z` is outside the period") != std::string::npos);
  // A date-time picks the same period; so does the period's last instant.
  auto same = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-31T23:59:59Z"});
  CHECK(same.code == 0);
  CHECK(same.out == r.out);
  // START..END: exactly that interval, shown as given.
  auto range = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-01..2026-04-01"});
  CHECK(range.code == 0);
  CHECK(range.out.find("\"period\":{\"start\":\"2026-03-01\",\"end\":\"2026-04-01\"}") != std::string::npos);
  CHECK(range.out.find("\"quantity\":\"2\"") != std::string::npos);
  auto narrow = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15..2026-04-15"});
  CHECK(narrow.code == 0);
  CHECK(narrow.out.find("\"quantity\":\"2\"") != std::string::npos);  // March 31 and April 1
  CHECK(narrow.err.find("rows read 4 = rated 2 + rejected 2") != std::string::npos);
  // Without a period every row is rated.
  auto all = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string()});
  CHECK(all.code == 0);
  CHECK(all.out.find("\"quantity\":\"4\"") != std::string::npos);
}

TEST_CASE("driver: rate --period on a plan with a time zone: the date is local, the period local months") {
  TempPlan plan("tariff-billing-zone.tariff",
                "plan \"ny\" {\n  currency USD\n  period month timezone \"America/New_York\"\n\n  unit request\n  event request {}\n"
                "  meter requests = count(request)\n\n  charge \"Requests\" = requests * 1.00 USD per request\n}\n");
  TempPlan usage("tariff-billing-zone-usage.csv",
                 "customer,time\nacme,2026-03-01T04:59:59Z\nacme,2026-03-01T05:00:00Z\nacme,2026-04-01T03:59:59Z\nacme,2026-04-01T04:00:00Z\n");
  auto r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15"});
  CHECK(r.code == 0);
  CHECK(r.out.find("\"period\":{\"start\":\"2026-03-01T00:00:00-05:00\",\"end\":\"2026-04-01T00:00:00-04:00\"}") != std::string::npos);
  CHECK(r.out.find("\"quantity\":\"2\"") != std::string::npos);
  CHECK(r.err.find("rows read 4 = rated 2 + rejected 2") != std::string::npos);
}

TEST_CASE("driver: rate of a plan with two versions needs a period") {
  TempPlan plan("tariff-billing-versions.tariff",
                "plan \"api\" version 1 effective 2026-01-01 {\n  currency USD\n  period month\n\n  unit request\n  event request {}\n"
                "  meter requests = count(request)\n\n  charge \"Fee\" = 31.00 USD\n  charge \"Requests\" = requests * 1.00 USD per request\n}\n\n"
                "plan \"api\" version 2 effective 2026-03-16 {\n  currency USD\n  period month\n\n  unit request\n  event request {}\n"
                "  meter requests = count(request)\n\n  charge \"Fee\" = 62.00 USD\n  charge \"Requests\" = requests * 2.00 USD per request\n}\n");
  TempPlan usage("tariff-billing-versions-usage.csv", "customer,time\nacme,2026-03-12T00:00:00Z\n");
  auto r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("plan \"api\" has 2 versions: give a billing period") != std::string::npos);
  CHECK(r.out.empty());
  // With one, the period is split at version 2: 31.00 × 15/31 + 62.00 × 16/31, and the
  // request of March 12 at version 1's price.
  r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2026-03-15"});
  CHECK(r.code == 0);
  CHECK(r.out.find("\"rated_by\":\"api v1\"") != std::string::npos);
  CHECK(r.out.find("\"amount\":\"15.00\"") != std::string::npos);
  CHECK(r.out.find("\"rated_by\":\"api v2\"") != std::string::npos);
  CHECK(r.out.find("\"amount\":\"32.00\"") != std::string::npos);
  CHECK(r.out.find("\"total\":\"48.00\"") != std::string::npos);
  // A date before the first version: no version is in force.
  r = RunTariff({"rate", plan.path.string(), "--usage", usage.path.string(), "--period", "2025-12-15"});
  CHECK(r.code == 1);
  CHECK(r.err.find("no version of plan \"api\" is in force") != std::string::npos);
}

TEST_CASE("driver: rate with subscriptions only bills recurring fees, prorated") {
  TempPlan plan("tariff-billing-only-subs.tariff", kBillingPlan);
  TempPlan subs("tariff-billing-only-subs.csv", "customer,seats,start,end\nacme,31,2026-03-11,\nglobex,31,2026-01-01,2026-03-04T12:00:00Z\n");
  auto r = RunTariff({"rate", plan.path.string(), "--subscriptions", subs.path.string(), "--period", "2026-03-15", "--format", "csv"});
  CHECK(r.code == 0);
  // 31 seats × 1.00 × 21/31 = 21.00; × 3.5/31 = 3.50.
  CHECK(r.out.find("acme,seats,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,charge,Seats,,31,seat,") != std::string::npos);
  CHECK(r.out.find(",21.00,seats,2026-03-11T00:00:00Z,2026-04-01T00:00:00Z\n") != std::string::npos);
  CHECK(r.out.find(",3.50,seats,2026-03-01T00:00:00Z,2026-03-04T12:00:00Z\n") != std::string::npos);
  CHECK(r.err.find("2 invoices") != std::string::npos);
}

TEST_CASE("driver: test: dates in a test are read in the plan's time zone, like --period") {
  TempPlan plan("tariff-test-new-york.tariff",
                "plan \"ny\" {\n"
                "  currency USD\n"
                "  period month timezone \"America/New_York\"\n"
                "\n"
                "  unit request\n"
                "  event request {}\n"
                "  meter requests = count(request)\n"
                "\n"
                "  charge \"Requests\" = requests * 1.00 USD per request\n"
                "\n"
                "  test \"local midnight is in March\" period 2026-03-01 .. 2026-04-01 {\n"
                "    usage request x 10 at 2026-03-01\n"
                "    expect total = 10.00 USD\n"
                "  }\n"
                "\n"
                "  test \"local April 1 is not\" period 2026-03-01 .. 2026-04-01 {\n"
                "    usage request at 2026-04-01\n"
                "    expect total = 0.00 USD\n"
                "  }\n"
                "}\n");
  auto r = RunTariff({"test", plan.path.string()});
  CHECK(r.out.find("PASS " + plan.path.string() + ": plan \"ny\": test \"local midnight is in March\"") != std::string::npos);
  // A row outside the test's period is reported with the test's line, not silently left out.
  CHECK(r.out.find("FAIL " + plan.path.string() + ": plan \"ny\": test \"local April 1 is not\"") != std::string::npos);
  CHECK(r.out.find(plan.path.string() + ":16: 1 usage row(s) of the test not rated: field `time`: `2026-04-01T04:00:00Z` is outside the period") !=
        std::string::npos);
  CHECK(r.code == 1);
}

TEST_CASE("driver: rate --period: spaces around .. and an empty period are explained") {
  TempPlan plan("tariff-period-msg.tariff", kBillingPlan);
  TempPlan seats("tariff-period-msg-subs.csv", "customer,seats\nacme,1\n");
  auto r = RunTariff({"rate", plan.path.string(), "--subscriptions", seats.path.string(), "--period", "2026-03-01 .. 2026-04-01"});
  CHECK(r.code == 2);
  CHECK(r.err.find("write it without spaces, e.g. `2026-03-01..2026-04-01`") != std::string::npos);
  r = RunTariff({"rate", plan.path.string(), "--subscriptions", seats.path.string(), "--period", "2026-03-01..2026-03-01"});
  CHECK(r.code == 2);
  CHECK(r.err.find("is empty: it ends where it starts") != std::string::npos);
  // A space before the time of a date-time is RFC 3339's own and is accepted.
  r = RunTariff({"rate", plan.path.string(), "--subscriptions", seats.path.string(), "--period", "2026-03-01 00:00:00..2026-04-01 00:00:00"});
  CHECK(r.code == 0);
}

TEST_CASE("driver: test --verbose shows every line of every invoice, passed or not") {
  TempPlan plan("tariff-driver-verbose.tariff",
                "plan \"p\" {\n"
                "  currency USD\n"
                "  unit call\n"
                "  event api { calls: quantity of call }\n"
                "  meter calls = sum(api.calls)\n"
                "  charge \"Calls\" = calls * 0.25 USD per call\n"
                "  charge \"Platform\" = 10.00 USD\n"
                "  minimum 20.00 USD\n"
                "  test \"small\" {\n"
                "    usage api { calls = 12 call }\n"
                "    expect total = 20.00 USD\n"
                "  }\n"
                "}\n");
  auto quiet = RunTariff({"test", plan.path.string()});
  INFO(quiet.out << quiet.err);
  CHECK(quiet.code == 0);
  CHECK(quiet.out.find("invoice:") == std::string::npos);  // a passing test shows no lines by default
  auto r = RunTariff({"test", "--verbose", plan.path.string()});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("    invoice:\n"
                   "      \"Calls\"                        12 call   3.00 USD\n"
                   "      \"Platform\"                              10.00 USD\n"
                   "      \"Minimum 20.00 USD\" [minimum]            7.00 USD\n"
                   "      total                                   20.00 USD\n") != std::string::npos);
  auto json = RunTariff({"test", "-v", "--format", "json", plan.path.string()});
  INFO(json.out);
  CHECK(json.out.find("\"invoice\"") != std::string::npos);
  CHECK(json.out.find("\"quantity\": \"12\"") != std::string::npos);
  CHECK(json.out.find("\"actual\": {") == std::string::npos);  // only a failed test has an "actual" invoice
}

TEST_CASE("driver: test --format junit: a testcase per test, failures, errors and broken plans") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "tariff-driver-junit";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.tariff") << "plan \"a & b\" {\n"
                                     "  currency USD\n"
                                     "  charge \"Fee\" = 10.00 USD\n"
                                     "  test \"passes\" {\n"
                                     "    expect \"Fee\" = 10.00 USD\n"
                                     "  }\n"
                                     "  test \"fails <here>\" {\n"
                                     "    expect \"Fee\" = 11.00 USD\n"
                                     "  }\n"
                                     "}\n";
  std::ofstream(dir / "b.tariff") << "plan \"b\" {\n  currency USD\n  charge \"Fee\" = 10.00 XYZ\n}\n";
  auto r = RunTariff({"test", "--format", "junit", dir.string()});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  const std::string a = (dir / "a.tariff").string(), b = (dir / "b.tariff").string();
  CHECK(r.out.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tariff test\" tests=\"3\" failures=\"1\" errors=\"1\">\n", 0) == 0);
  CHECK(r.out.find("<testsuite name=\"" + a + "\" tests=\"2\" failures=\"1\" errors=\"0\">") != std::string::npos);
  CHECK(r.out.find("<testcase classname=\"" + a + ".a &amp; b\" name=\"passes\" file=\"" + a + "\" line=\"4\">\n    </testcase>") !=
        std::string::npos);
  CHECK(r.out.find("name=\"fails &lt;here&gt;\"") != std::string::npos);
  CHECK(r.out.find("<failure message=\"" + a + ":8: expect &quot;Fee&quot; = 11.00 USD, got 10.00 USD\" type=\"expectation\">") !=
        std::string::npos);
  CHECK(r.out.find("<testsuite name=\"" + b + "\" tests=\"1\" failures=\"0\" errors=\"1\">") != std::string::npos);
  CHECK(r.out.find("<error message=\"the plan has errors; its tests did not run\" type=\"check\">") != std::string::npos);
  CHECK(r.out.find("XYZ") != std::string::npos);     // the diagnostics are in the error
  CHECK(r.err.find("XYZ") != std::string::npos);     // and on stderr, as always
  CHECK(r.err.find("1 passed, 1 failed") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("driver: `-` reads a plan from standard input for check, fmt, test and rate") {
  auto run = [](std::vector<std::string> args, const std::string& input) {
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = tariff::driver::Run(args, in, out, err, tariff::driver::Terminal{});
    return RunResult{code, out.str(), err.str()};
  };
  const std::string plan =
      "plan \"p\" {\n"
      "  currency USD\n"
      "  charge \"Fee\" = 10.00 USD\n"
      "  test \"fee\" {\n"
      "    expect total = 10.00 USD\n"
      "  }\n"
      "}\n";
  auto check = run({"check", "-"}, plan);
  INFO(check.out << check.err);
  CHECK(check.code == 0);
  auto bad = run({"check", "-"}, "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 EUR\n}\n");
  CHECK(bad.code == 1);
  CHECK(bad.out.find("<stdin>:3:") != std::string::npos);  // diagnostics name standard input
  auto fmt = run({"fmt", "-"}, "plan \"p\" {currency USD\ncharge \"Fee\"=10.00 USD}\n");
  CHECK(fmt.code == 0);
  CHECK(fmt.out == "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 USD\n}\n");
  auto unformatted = run({"fmt", "--check", "-"}, "plan \"p\" {currency USD}\n");
  CHECK(unformatted.code == 1);
  CHECK(unformatted.out == "<stdin>\n");
  auto write = run({"fmt", "--write", "-"}, plan);
  CHECK(write.code == 2);
  CHECK(write.err.find("cannot rewrite standard input") != std::string::npos);
  auto test = run({"test", "-"}, plan);
  CHECK(test.code == 0);
  CHECK(test.out.find("PASS <stdin>: plan \"p\": test \"fee\"") != std::string::npos);
  auto twice = run({"check", "-", "-"}, plan);
  CHECK(twice.code == 2);
  CHECK(twice.err.find("given twice") != std::string::npos);
  // rate: the plan from standard input; usage from it needs --usage-format, and stdin is read once.
  const std::filesystem::path usage = std::filesystem::temp_directory_path() / "tariff-driver-stdin-usage.csv";
  std::ofstream(usage) << "event,customer,time,calls\napi,acme,2026-03-02T00:00:00Z,3\n";
  const std::string metered =
      "plan \"m\" {\n  currency USD\n  unit call\n  event api { calls: quantity of call }\n"
      "  meter calls = sum(api.calls)\n  charge \"Calls\" = calls * 0.50 USD per call\n}\n";
  auto rate = run({"rate", "-", "--usage", usage.string()}, metered);
  INFO(rate.err);
  CHECK(rate.code == 0);
  CHECK(rate.out.find("\"customer\":\"acme\"") != std::string::npos);
  CHECK(rate.out.find("\"total\":\"1.50\"") != std::string::npos);
  auto no_format = run({"rate", "-", "--usage", "-"}, metered);
  CHECK(no_format.code == 2);
  CHECK(no_format.err.find("given more than once") != std::string::npos);
  TempPlan file("tariff-driver-stdin.tariff", metered);
  auto needs_format = run({"rate", file.path.string(), "--usage", "-"}, "");
  CHECK(needs_format.code == 2);
  CHECK(needs_format.err.find("add --usage-format csv or --usage-format jsonl") != std::string::npos);
  std::filesystem::remove(usage);
}

TEST_CASE("driver: diff rates two versions over the same usage, exactly, per customer and in summary") {
  const std::string dir = std::string(TARIFF_SOURCE_DIR) + "/tests/diff/";
  const std::vector<std::string> common = {"--usage", dir + "usage.csv", "--period", "2026-03-01..2026-04-01"};
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"diff", dir + "prices.tariff", dir + "prices.tariff", "--old-version", "1", "--new-version", "2"};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  // Version 1: 100 calls free, then 0.010 USD; version 2: 50 free, then 0.012 USD, and 1.00 USD a month.
  auto table = RunTariff(args({}));
  INFO(table.out << table.err);
  REQUIRE(table.code == 0);
  CHECK(table.out.find("revenue     1013.50 USD -> 1222.36 USD  (+208.86 USD, +20.61%)\n") == 0);
  CHECK(table.out.find("customers   4: 4 pay more, 0 less, 0 the same\n") != std::string::npos);
  // nearest rank over +1.36, +1.70, +4.40, +201.40
  CHECK(table.out.find("change (USD) min +1.36  p10 +1.36  p25 +1.36  p50 +1.70  p75 +4.40  p90 +201.40  max +201.40\n") !=
        std::string::npos);
  CHECK(table.out.find("\"Platform\"            0.00 ->           4.00           +4.00") != std::string::npos);
  CHECK(table.out.find("cora          999.00 ->        1200.40         +201.40  +20.16%") != std::string::npos);
  CHECK(table.err.find("old: rows read 5 = rated 5 + rejected 0 + duplicates 0; 4 invoices") != std::string::npos);
  auto csv = RunTariff(args({"--format", "csv"}));
  CHECK(csv.out ==
        "customer,currency,old_total,new_total,change,change_percent\n"
        "acme,USD,14.00,18.40,4.40,+31.43%\n"
        "beta,USD,0.00,1.36,1.36,\n"
        "cora,USD,999.00,1200.40,201.40,+20.16%\n"
        "dove,USD,0.50,2.20,1.70,+340.00%\n");
  auto jsonl = RunTariff(args({"--format", "jsonl", "--top", "2"}));
  CHECK(jsonl.out.find("\"largest_increases\":[\"cora\",\"acme\"]") != std::string::npos);
  CHECK(jsonl.out.find("\"kind\":\"summary\"") != std::string::npos);
  // The reverse change mirrors it.
  auto back = RunTariff({"diff", dir + "prices.tariff", dir + "prices.tariff", "--old-version", "2", "--new-version", "1", "--usage",
                         dir + "usage.csv", "--period", "2026-03-01..2026-04-01", "--format", "csv"});
  CHECK(back.out.find("cora,USD,1200.40,999.00,-201.40,-16.78%") != std::string::npos);
  // Mistakes: the same plan twice, an unknown version, usage from standard input.
  CHECK(RunTariff({"diff", dir + "prices.tariff", dir + "prices.tariff", "--old-version", "1", "--new-version", "1", "--usage",
                   dir + "usage.csv"}).code == 2);
  auto unknown = RunTariff({"diff", dir + "prices.tariff", dir + "prices.tariff", "--old-version", "1", "--new-version", "7", "--usage",
                            dir + "usage.csv", "--period", "2026-03-01..2026-04-01"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("has no version 7 (it has 1, 2)") != std::string::npos);
  // Subscriptions may name the plan that rates them: with --old-plan/--new-plan that is refused.
  auto subs = RunTariff({"diff", dir + "prices.tariff", dir + "prices.tariff", "--old-plan", "prices", "--new-plan", "prices", "--old-version",
                         "1", "--new-version", "2", "--usage", dir + "usage.csv", "--subscriptions", dir + "usage.csv"});
  CHECK(subs.code == 2);
  CHECK(subs.err.find("the subscriptions choose the plans") != std::string::npos);
  auto from_stdin = RunTariff({"diff", dir + "prices.tariff", dir + "prices.tariff", "--old-version", "1", "--new-version", "2", "--usage",
                               "-", "--usage-format", "csv"});
  CHECK(from_stdin.code == 2);
}

TEST_CASE("driver: explain --test explains a test's invoice from the test itself") {
  const std::string plan = std::string(TARIFF_SOURCE_DIR) + "/tests/test-runner/adjustments.tariff";
  auto r = RunTariff({"explain", plan, "--test", "a small month: the minimum tops it up"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("customer  test\n") == 0);
  CHECK(r.out.find("  2. [11:3]   meter `calls` adds up their values: 13 call\n") != std::string::npos);
  CHECK(r.out.find("  2. [13:3]  3.25 USD is below the minimum 20.00 USD: the true-up is 20.00 - 3.25 = 16.75 USD\n") != std::string::npos);
  CHECK(r.out.find("total 19.7 USD = 3.25 (Calls) + 16.75 (Minimum 20.00 USD) - 0.325 (Discount 10% on Calls) + 0.025 "
                   "(Rounding (half_up to 1 decimals))\n") != std::string::npos);
  auto json = RunTariff({"explain", plan, "--test", "a big month: the cap binds", "--format", "json"});
  CHECK(json.code == 0);
  CHECK(json.out.find("\"total\": \"75.0\"") != std::string::npos);
  auto unknown = RunTariff({"explain", plan, "--test", "no such test"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("has no test \"no such test\" (it has \"a small month: the minimum tops it up\", \"a big month: the cap binds\")") !=
        std::string::npos);
  auto both = RunTariff({"explain", plan, "--test", "a big month: the cap binds", "--customer", "acme"});
  CHECK(both.code == 2);
  auto neither = RunTariff({"explain", plan});
  CHECK(neither.code == 2);
  CHECK(neither.err.find("--customer ID (or --test NAME") != std::string::npos);
  // A failing test is still explained; its failures are noted.
  TempPlan failing("tariff-driver-explain-failing.tariff",
                   "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 USD\n  test \"wrong\" {\n    expect total = 11.00 USD\n  }\n}\n");
  auto f = RunTariff({"explain", failing.path.string(), "--test", "wrong"});
  CHECK(f.code == 0);
  CHECK(f.err.find("note: the test fails: ") != std::string::npos);
  CHECK(f.out.find("total 10.00 USD") != std::string::npos);
}

TEST_CASE("driver: test: expect meter compares a meter's value as the lines read it, and says why not") {
  TempPlan plan("tariff-driver-expect-meter.tariff",
                "plan \"p\" {\n"
                "  currency USD\n"
                "  unit call\n"
                "  event api {\n    calls: quantity of call\n    region: one of \"eu\", \"us\"\n  }\n"
                "  event job {\n    bytes: quantity of GB\n  }\n"
                "  meter calls = sum(api.calls)\n"
                "  meter stored = sum(job.bytes)\n"
                "  meter unread = sum(job.bytes)\n"
                "  charge \"Calls\" by api.region = calls * 0.25 USD per call\n"
                "  charge \"Storage\" = stored * 0.10 USD per GB\n"
                "  allow unused_meter\n"
                "  test \"wrong\" {\n"
                "    usage api { calls = 12 call, region = \"eu\" }\n"
                "    usage api { calls = 3 call, region = \"us\" }\n"
                "    usage job { bytes = 1 GB }\n"
                "    expect meter calls = 15 call\n"
                "    expect meter stored = 1001 MB\n"
                "    expect meter calls for \"eu\" = 11 call\n"
                "    expect meter unread = 1 GB\n"
                "  }\n"
                "}\n");
  auto r = RunTariff({"test", plan.path.string()});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  const std::string p = plan.path.string();
  CHECK(r.out.find(p + ":21: expect meter calls = 15 call: the meter has 2 values on the invoice's lines (one per group); say which with `for`") !=
        std::string::npos);
  CHECK(r.out.find(p + ":22: expect meter stored = 1001 MB, got 1 GB") != std::string::npos);
  CHECK(r.out.find(p + ":23: expect meter calls for \"eu\" = 11 call, got 12 call") != std::string::npos);
  CHECK(r.out.find(p + ":24: expect meter unread = 1 GB: no line of the invoice reads meter `unread`") != std::string::npos);
  auto fmt = RunTariff({"fmt", plan.path.string()});
  CHECK(fmt.out.find("    expect meter calls for \"eu\" = 11 call\n") != std::string::npos);
}

TEST_CASE("driver: test --format junit: standard input, text XML cannot hold, and a file given twice") {
  // Found in review: a plan from `-` lost its testcases (named `-` in one place, <stdin> in the
  // other); a name with U+FFFF or a source line with a byte that is not UTF-8 made the XML
  // ill-formed; a file given twice was counted twice.
  auto run = [](std::vector<std::string> args, const std::string& input) {
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = tariff::driver::Run(args, in, out, err, tariff::driver::Terminal{});
    return RunResult{code, out.str(), err.str()};
  };
  const std::string plan = "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 USD\n  test \"odd \xEF\xBF\xBF name\" {\n    expect total = 11.00 USD\n  }\n}\n";
  auto r = run({"test", "-", "--format", "junit"}, plan);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.out.find("<testsuite name=\"&lt;stdin&gt;\" tests=\"1\" failures=\"1\" errors=\"0\">") != std::string::npos);
  CHECK(r.out.find("name=\"odd \xEF\xBF\xBD name\"") != std::string::npos);  // U+FFFF → U+FFFD
  auto broken = run({"test", "-", "--format", "junit"}, "plan \"p\" {\n  currency USD \xFF\n}\n");
  CHECK(broken.code == 1);
  CHECK(broken.out.find("\xFF") == std::string::npos);  // the raw byte of the source excerpt is replaced
  CHECK(broken.out.find("type=\"check\"") != std::string::npos);
  TempPlan file("tariff-driver-junit-twice.tariff",
                "plan \"p\" {\n  currency USD\n  charge \"Fee\" = 10.00 USD\n  test \"t\" {\n    expect total = 10.00 USD\n  }\n}\n");
  auto twice = RunTariff({"test", file.path.string(), file.path.string(), "--format", "junit"});
  CHECK(twice.code == 0);
  CHECK(twice.out.find("<testsuites name=\"tariff test\" tests=\"1\" failures=\"0\" errors=\"0\">") != std::string::npos);
  CHECK(twice.err.find("1 passed, 0 failed") != std::string::npos);
}
