// tests/golden: runs golden cases through the same driver library as the `tariff` program.
//
//   golden check CASE_DIR [--update]   plan.tariff -> `tariff check` output, compared with
//                                      expected.txt (rewritten with --update, for review)
//   golden rate CASE_DIR [--update]    plan.tariff + usage → `tariff rate` output (invoices, row
//                                      summary, rejects, exit code) compared with expected.txt
//   golden coverage CASES_ROOT [DOC]   every diagnostic code in the catalog appears in some
//                                      case's expected.txt (and has a `### CODE` section in DOC)
//
// Case names say what must happen: `fail_*` must report an error (exit 1), `warn_*` warnings
// only (exit 0, and exit 1 under --strict), `ok_*` nothing at all.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/diag/diagnostic.h"
#include "tools/driver/driver.h"

namespace fs = std::filesystem;

namespace {

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome RunTariff(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = tariff::driver::Run(args, out, err);
  return {code, out.str(), err.str()};
}

int CheckCase(const fs::path& dir, bool update) {
  const std::string name = dir.filename().string();
  fs::current_path(dir);  // diagnostics name the file as `plan.tariff`
  Outcome text = RunTariff({"check", "--format", "text", "plan.tariff"});
  std::string actual = text.out + text.err + "exit " + std::to_string(text.code) + "\n";

  int failures = 0;
  auto fail = [&](const std::string& why) {
    std::cerr << name << ": " << why << "\n";
    ++failures;
  };
  bool has_error = actual.find("error[") != std::string::npos;
  bool has_warning = actual.find("warning[") != std::string::npos;
  if (name.rfind("fail_", 0) == 0) {
    if (text.code != 1 || !has_error) fail("a fail_ case must report an error and exit 1");
  } else if (name.rfind("warn_", 0) == 0) {
    if (text.code != 0 || has_error || !has_warning) fail("a warn_ case must report only warnings and exit 0");
    Outcome strict = RunTariff({"check", "--strict", "plan.tariff"});
    if (strict.code != 1) fail("a warn_ case must exit 1 under --strict");
  } else if (name.rfind("ok_", 0) == 0) {
    if (text.code != 0 || has_error || has_warning) fail("an ok_ case must report nothing and exit 0");
  } else {
    fail("case names start with fail_, warn_ or ok_");
  }
  // The machine-readable formats must carry the same diagnostics: as many entries as the
  // text output has headline diagnostics.
  Outcome json = RunTariff({"check", "--format", "json", "plan.tariff"});
  if (json.code != text.code) fail("--format json exits differently from text");
  std::size_t text_count = 0;
  for (std::size_t pos = 0; (pos = actual.find("]: ", pos)) != std::string::npos; ++pos) ++text_count;
  std::size_t json_count = 0;
  for (std::size_t pos = 0; (pos = json.out.find("\"code\"", pos)) != std::string::npos; ++pos) ++json_count;
  if (json_count != text_count) {
    fail("--format json has " + std::to_string(json_count) + " diagnostics, text has " + std::to_string(text_count));
  }

  const fs::path expected_path = dir / "expected.txt";
  if (update) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    std::cout << name << ": expected.txt written\n";
    return failures == 0 ? 0 : 1;
  }
  if (!fs::exists(expected_path)) {
    fail("no expected.txt; run `golden check " + dir.string() + " --update` and review it");
    std::cerr << actual;
    return 1;
  }
  std::string expected = ReadFile(expected_path);
  if (expected != actual) {
    fail("output differs from expected.txt");
    std::cerr << "--- expected\n" << expected << "--- actual\n" << actual;
  }
  return failures == 0 ? 0 : 1;
}

// `tariff rate plan.tariff ARGS…` in the case folder; ARGS are the lines of the file `args`
// (default: `--usage usage.csv`). The expectation holds stdout, stderr and the exit code, so a
// case pins the invoices, the row summary and every reject message at once.
int RateCase(const fs::path& dir, bool update) {
  const std::string name = dir.filename().string();
  fs::current_path(dir);
  std::vector<std::string> args{"rate", "plan.tariff"};
  if (fs::exists(dir / "args")) {
    std::istringstream lines(ReadFile(dir / "args"));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) args.push_back(line);
    }
  } else {
    args.insert(args.end(), {"--usage", "usage.csv"});
  }
  Outcome r = RunTariff(args);
  std::string actual = r.out + "--- stderr\n" + r.err + "exit " + std::to_string(r.code) + "\n";
  bool must_fail = name.rfind("fail_", 0) == 0;
  int failures = 0;
  if (must_fail != (r.code != 0)) {
    std::cerr << name << ": " << (must_fail ? "a fail_ case must exit non-zero" : "a case must exit 0") << "\n";
    ++failures;
  }
  const fs::path expected_path = dir / "expected.txt";
  if (update) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    std::cout << name << ": expected.txt written\n";
    return failures == 0 ? 0 : 1;
  }
  if (!fs::exists(expected_path)) {
    std::cerr << name << ": no expected.txt; run `golden rate " << dir.string() << " --update` and review it\n" << actual;
    return 1;
  }
  std::string expected = ReadFile(expected_path);
  if (expected != actual) {
    std::cerr << name << ": output differs from expected.txt\n--- expected\n" << expected << "--- actual\n" << actual;
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}

int Coverage(const fs::path& root, const fs::path& docs_path) {
  std::set<std::string> seen;
  std::regex code_re(R"((error|warning)\[([EW][0-9]{4})\])");
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "expected.txt") continue;
    std::string text = ReadFile(entry.path());
    for (std::sregex_iterator it(text.begin(), text.end(), code_re), end; it != end; ++it) {
      seen.insert((*it)[2].str());
    }
  }
  int missing = 0;
  std::string docs = docs_path.empty() ? std::string() : ReadFile(docs_path);
  for (tariff::DiagKind kind : tariff::AllDiagKinds()) {
    std::string code(tariff::DiagCode(kind));
    if (seen.count(code) == 0) {
      std::cerr << "diagnostic " << code << " is triggered by no golden case\n";
      ++missing;
    }
    if (!docs_path.empty() && docs.find("### " + code + " ") == std::string::npos) {
      std::cerr << "diagnostic " << code << " is not documented in " << docs_path.string()
                << " (run scripts/gen-diagnostics-doc.py)\n";
      ++missing;
    }
  }
  std::cout << seen.size() << " codes covered, " << missing << " missing\n";
  return missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "check") {
    bool update = args.size() >= 3 && args[2] == "--update";
    fs::path dir = fs::absolute(args[1]);
    if (!dir.has_filename()) dir = dir.parent_path();  // `case/` names the folder `case`
    return CheckCase(dir, update);
  }
  if (args.size() >= 2 && args[0] == "rate") {
    bool update = args.size() >= 3 && args[2] == "--update";
    fs::path dir = fs::absolute(args[1]);
    if (!dir.has_filename()) dir = dir.parent_path();
    return RateCase(dir, update);
  }
  if ((args.size() == 2 || args.size() == 3) && args[0] == "coverage") {
    return Coverage(args[1], args.size() == 3 ? fs::path(args[2]) : fs::path());
  }
  std::cerr << "usage: golden check CASE_DIR [--update] | golden rate CASE_DIR [--update] | golden coverage CASES_ROOT [DOC]\n";
  return 2;
}
