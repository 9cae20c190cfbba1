// tests/golden: runs golden cases through the same driver library as the `tariff` program.
//
//   golden check CASE_DIR [--update]   plan.tariff -> `tariff check` output, compared with
//                                      expected.txt (rewritten with --update, for review)
//   golden rate CASE_DIR [--update]    plan.tariff + usage → `tariff rate` output (invoices, row
//                                      summary, rejects, exit code) compared with expected.txt
//   golden coverage CASES_ROOT [DOC]   every diagnostic code in the catalog appears in some
//                                      case's expected.txt (and has a `### CODE` section in DOC)
//   golden explain CASE_DIR [--update] plan.tariff + usage + args (with --customer) → `tariff
//                                      explain` as text and as JSON, compared with expected.txt
//   golden threshold-sums RATE_CASE_DIR  a golden rate case of a plan billed progressively: its
//                                      threshold invoices and closing invoice add up, line by line
//                                      and in total, to the invoices of the same plan without its
//                                      `invoice when usage reaches` (before credits; exit 77 for a
//                                      case whose plan has none, or that rates nothing)
//   golden explain-sums RATE_CASE_DIR  a golden rate case explained for each of its customers:
//                                      every line's terms add up to its amount exactly, and the
//                                      lines and total are those `tariff rate` gives (exit 77,
//                                      "skipped", for a case that rates nothing: --dump, fail_)
//
// Case names say what must happen: `fail_*` must report an error (exit 1), `warn_*` warnings
// only (exit 0, and exit 1 under --strict), `ok_*` nothing at all.
#include <algorithm>
#include <map>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/diag/diagnostic.h"
#include "runtime/decimal/decimal.h"
#include "runtime/decimal/fraction.h"
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

// `actual` against the case's expected.txt (or written there with --update); `failures` found
// before. Returns the exit code of the case.
int CompareExpected(const fs::path& dir, const std::string& name, const char* mode, const std::string& actual, bool update,
                    int failures) {
  const fs::path expected_path = dir / "expected.txt";
  if (update) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    std::cout << name << ": expected.txt written\n";
    return failures == 0 ? 0 : 1;
  }
  if (!fs::exists(expected_path)) {
    std::cerr << name << ": no expected.txt; run `golden " << mode << " " << dir.string() << " --update` and review it\n" << actual;
    return 1;
  }
  std::string expected = ReadFile(expected_path);
  if (expected != actual) {
    std::cerr << name << ": output differs from expected.txt\n--- expected\n" << expected << "--- actual\n" << actual;
    ++failures;
  }
  return failures == 0 ? 0 : 1;
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

  return CompareExpected(dir, name, "check", actual, update, failures);
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
  return CompareExpected(dir, name, "rate", actual, update, failures);
}

// The lines of a case's `args` file (`--usage usage.csv` when there is none).
std::vector<std::string> CaseArgs(const fs::path& dir) {
  std::vector<std::string> args;
  if (fs::exists(dir / "args")) {
    std::istringstream lines(ReadFile(dir / "args"));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) args.push_back(line);
    }
  } else {
    args = {"--usage", "usage.csv"};
  }
  return args;
}

// The problems with one explained invoice (JSON from `tariff explain --format json`): a line
// whose terms do not add up to its amount, lines that do not add up to the total, a line without
// steps. With `rated` (the customer's invoice from `tariff rate --format jsonl`), also every
// difference from it: explaining must not change a single amount.
std::vector<std::string> CheckExplained(const nlohmann::json& explained, const nlohmann::json* rated) {
  using tariff::Decimal;
  std::vector<std::string> problems;
  const std::string customer = explained.value("customer", std::string());
  auto where = [&](std::size_t i, const nlohmann::json& line) {
    return "customer " + customer + ", line " + std::to_string(i + 1) + " \"" + line.value("name", std::string()) + "\"";
  };
  tariff::Fraction lines_sum;  // exact: lines shown to 20 decimals may pass 38 digits together
  const nlohmann::json& lines = explained.at("lines");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json& line = lines[i];
    const Decimal amount = Decimal::FromString(line.at("amount").get<std::string>());
    lines_sum += amount;
    Decimal terms;
    std::string shown;
    for (const nlohmann::json& t : line.at("terms")) {
      terms = terms + Decimal::FromString(t.at("amount").get<std::string>());
      shown += " " + t.at("amount").get<std::string>() + " (" + t.at("label").get<std::string>() + ")";
    }
    if (terms != amount) {
      problems.push_back(where(i, line) + ": the terms add up to " + terms.ToString() + ", the amount is " +
                         amount.ToString() + ":" + shown);
    }
    if (line.at("terms").empty()) problems.push_back(where(i, line) + ": no terms");
    if (line.at("steps").empty()) problems.push_back(where(i, line) + ": no steps");
  }
  const Decimal total = Decimal::FromString(explained.at("total").get<std::string>());
  if (!(lines_sum == tariff::Fraction(total))) problems.push_back("customer " + customer + ": the lines add up to " + lines_sum.ToString() + ", the total is " + total.ToString());
  // A subtotal is exactly the sum of the lines it names (credit lines never), and it lists them.
  for (const nlohmann::json& st : explained.value("subtotals", nlohmann::json::array())) {
    const std::vector<std::string> of = st.at("of").get<std::vector<std::string>>();
    tariff::Fraction sum;
    std::vector<std::size_t> named;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].at("kind") == "credit" || std::find(of.begin(), of.end(), lines[i].at("name").get<std::string>()) == of.end()) continue;
      sum += Decimal::FromString(lines[i].at("amount").get<std::string>());
      named.push_back(i);
    }
    const std::string st_name = st.at("name").get<std::string>();
    if (!(sum == tariff::Fraction(Decimal::FromString(st.at("amount").get<std::string>())))) {
      problems.push_back("customer " + customer + ": subtotal \"" + st_name + "\" is " + st.at("amount").get<std::string>() + ", its lines add up to " + sum.ToString());
    }
    if (st.at("lines").get<std::vector<std::size_t>>() != named) problems.push_back("customer " + customer + ": subtotal \"" + st_name + "\" lists other lines");
  }
  if (rated == nullptr) return problems;
  if (explained.value("subtotals", nlohmann::json::array()).size() != rated->value("subtotals", nlohmann::json::array()).size()) {
    problems.push_back("customer " + customer + ": the subtotals differ from `rate`'s");
  }
  if (explained.at("total") != rated->at("total")) {
    problems.push_back("customer " + customer + ": total " + explained.at("total").dump() + ", `rate` says " + rated->at("total").dump());
  }
  const nlohmann::json& rated_lines = rated->at("lines");
  if (rated_lines.size() != lines.size()) {
    problems.push_back("customer " + customer + ": " + std::to_string(lines.size()) + " lines, `rate` gives " + std::to_string(rated_lines.size()));
    return problems;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    for (const char* key : {"kind", "name", "group", "amount", "quantity", "unit"}) {
      const bool has = lines[i].contains(key), rated_has = rated_lines[i].contains(key);
      if (has != rated_has || (has && lines[i].at(key) != rated_lines[i].at(key))) {
        problems.push_back(where(i, lines[i]) + ": " + key + " " + (has ? lines[i].at(key).dump() : "(none)") + ", `rate` says " +
                           (rated_has ? rated_lines[i].at(key).dump() : "(none)"));
      }
    }
  }
  return problems;
}

// Every JSON document of `text`, in order: `tariff explain --format json` writes one a invoice,
// and a customer may have several (an invoice issued at a change, `on change prorate now`).
std::vector<nlohmann::json> ParseDocuments(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  while (in >> std::ws && in.peek() != std::char_traits<char>::eof()) {
    nlohmann::json j;
    in >> j;
    out.push_back(std::move(j));
  }
  return out;
}

// `golden threshold-sums`: see the top of the file (docs/billing.md, "Progressive billing",
// rule 5).
int ThresholdSumsCase(const fs::path& dir) {
  using tariff::Decimal;
  const std::string name = dir.filename().string();
  fs::current_path(dir);
  const std::string plan = ReadFile(dir / "plan.tariff");
  const std::regex threshold(R"(\n[ \t]*invoice when usage reaches [^\n]*)");
  if (!std::regex_search(plan, threshold) || name.rfind("fail_", 0) == 0) {
    std::cout << name << ": skipped (no threshold, or a case that rates nothing)\n";
    return 77;
  }
  // The case's options without credits (the invariant is before credits), as JSON Lines.
  std::vector<std::string> options;
  const std::vector<std::string> args = CaseArgs(dir);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--format" || args[i] == "--out" || args[i] == "-o" || args[i] == "--rejects" || args[i] == "--credits") {
      ++i;
      continue;
    }
    if (args[i] == "--strict") continue;
    options.push_back(args[i]);
  }
  const fs::path once = fs::temp_directory_path() / ("golden-threshold-sums-" + name + ".tariff");
  {
    std::ofstream out(once);
    out << std::regex_replace(plan, threshold, "");
  }
  auto rate = [&](const std::string& file) {
    std::vector<std::string> a{"rate", file};
    a.insert(a.end(), options.begin(), options.end());
    a.insert(a.end(), {"--format", "jsonl"});
    return RunTariff(a);
  };
  const Outcome progressive = rate("plan.tariff"), plain = rate(once.string());
  fs::remove(once);
  if (progressive.code != 0 || plain.code != 0) {
    std::cerr << name << ": `tariff rate` exits " << progressive.code << " / " << plain.code << "\n" << progressive.err << plain.err;
    return 1;
  }
  // Per customer: line key (kind, name, group, unit, part; a billed_earlier line counts with the
  // charge line above it) → amount, and the total.
  using Sums = std::map<std::string, std::map<std::string, Decimal>>;
  auto sums = [](const std::string& jsonl, std::size_t* threshold_invoices) {
    Sums out;
    std::istringstream in(jsonl);
    for (std::string text; std::getline(in, text);) {
      if (text.empty()) continue;
      const nlohmann::json inv = nlohmann::json::parse(text);
      if (inv.value("kind", std::string()) == "threshold") ++*threshold_invoices;
      auto& m = out[inv.at("customer").get<std::string>()];
      m["total"] = m["total"] + Decimal::FromString(inv.at("total").get<std::string>());
      for (const nlohmann::json& l : inv.at("lines")) {
        std::string kind = l.at("kind").get<std::string>();
        if (kind == "billed_earlier") kind = "charge";
        const std::string key = kind + "|" + l.at("name").dump() + "|" + l.at("group").dump() + "|" + l.value("unit", std::string()) + "|" +
                                l.value("rated_by", std::string()) + "|" + l.value("from", std::string()) + "|" + l.value("to", std::string());
        m[key] = m[key] + Decimal::FromString(l.at("amount").get<std::string>());
      }
    }
    return out;
  };
  std::size_t issued = 0, none = 0;
  const Sums got = sums(progressive.out, &issued), want = sums(plain.out, &none);
  int failures = 0;
  for (const auto& [customer, lines] : want) {
    auto it = got.find(customer);
    for (const auto& [key, amount] : lines) {
      const Decimal have = it == got.end() || it->second.count(key) == 0 ? Decimal() : it->second.at(key);
      if (have != amount) {
        std::cerr << name << ": customer " << customer << ": " << key << ": " << have.ToString() << " over the period, " << amount.ToString()
                  << " rated once\n";
        ++failures;
      }
    }
  }
  for (const auto& [customer, lines] : got) {
    for (const auto& [key, amount] : lines) {
      auto it = want.find(customer);
      if ((it == want.end() || it->second.count(key) == 0) && !amount.is_zero()) {
        std::cerr << name << ": customer " << customer << ": " << key << ": " << amount.ToString() << " over the period, not rated once\n";
        ++failures;
      }
    }
  }
  std::cout << name << ": " << issued << " threshold invoices, " << want.size() << " customers, " << failures << " problems\n";
  return failures == 0 ? 0 : 1;
}

// `golden explain-sums`: see the top of the file.
int ExplainSumsCase(const fs::path& dir) {
  const std::string name = dir.filename().string();
  fs::current_path(dir);
  // The rate case's options, but always JSON Lines to stdout.
  std::vector<std::string> options;
  const std::vector<std::string> args = CaseArgs(dir);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--dump") {
      std::cout << name << ": skipped (--dump rates nothing)\n";
      return 77;
    }
    if (args[i] == "--format" || args[i] == "--out" || args[i] == "-o" || args[i] == "--rejects") {
      ++i;
      continue;
    }
    if (args[i] == "--strict") continue;
    options.push_back(args[i]);
  }
  if (name.rfind("fail_", 0) == 0) {
    std::cout << name << ": skipped (a fail_ case rates nothing)\n";
    return 77;
  }
  std::vector<std::string> rate_args{"rate", "plan.tariff"};
  rate_args.insert(rate_args.end(), options.begin(), options.end());
  rate_args.insert(rate_args.end(), {"--format", "jsonl"});
  Outcome rated = RunTariff(rate_args);
  if (rated.code != 0) {
    std::cerr << name << ": `tariff rate` exits " << rated.code << "\n" << rated.err;
    return 1;
  }
  int failures = 0;
  std::size_t customers = 0, lines = 0;
  std::istringstream invoices(rated.out);
  std::map<std::string, std::size_t> seen;  // invoices of each customer so far
  std::map<std::string, std::size_t> thresholds;  // progressive billing: threshold invoices seen per customer
  for (std::string text; std::getline(invoices, text);) {
    if (text.empty()) continue;
    const nlohmann::json invoice = nlohmann::json::parse(text);
    const std::string customer = invoice.at("customer").get<std::string>();
    if (invoice.value("kind", std::string()) == "threshold") {
      // A threshold invoice: explained inside its closing invoice's document, in the order issued.
      const std::size_t index = thresholds[customer]++;
      std::vector<std::string> explain_args{"explain", "plan.tariff"};
      explain_args.insert(explain_args.end(), options.begin(), options.end());
      explain_args.insert(explain_args.end(), {"--customer", customer, "--format", "json"});
      Outcome json = RunTariff(explain_args);
      const nlohmann::json explained = json.code == 0 ? ParseDocuments(json.out).front() : nlohmann::json();
      if (json.code != 0 || !explained.contains("threshold_invoices") || explained.at("threshold_invoices").size() <= index) {
        std::cerr << name << ": customer " << customer << ": threshold invoice " << index + 1 << " is not explained\n";
        ++failures;
        continue;
      }
      const nlohmann::json& early = explained.at("threshold_invoices")[index];
      lines += early.at("lines").size();
      for (const std::string& problem : CheckExplained(early, &invoice)) {
        std::cerr << name << ": threshold invoice " << index + 1 << ": " << problem << "\n";
        ++failures;
      }
      if (early.value("issued_at", std::string()) != invoice.value("issued_at", std::string())) {
        std::cerr << name << ": customer " << customer << ": threshold invoice " << index + 1 << " issued at another time\n";
        ++failures;
      }
      continue;
    }
    const std::size_t nth = seen[customer]++;  // explain explains each of the customer's invoices in turn
    ++customers;
    std::vector<std::string> explain_args{"explain", "plan.tariff"};
    explain_args.insert(explain_args.end(), options.begin(), options.end());
    explain_args.insert(explain_args.end(), {"--customer", customer, "--format", "json"});
    Outcome json = RunTariff(explain_args);
    if (json.code != 0) {
      std::cerr << name << ": `tariff explain --customer " << customer << "` exits " << json.code << "\n" << json.err;
      ++failures;
      continue;
    }
    const std::vector<nlohmann::json> documents = ParseDocuments(json.out);
    if (nth >= documents.size()) {
      std::cerr << name << ": `tariff explain --customer " << customer << "` explains " << documents.size() << " invoices, `rate` gives more\n";
      ++failures;
      continue;
    }
    const nlohmann::json& explained = documents[nth];
    lines += explained.at("lines").size();
    for (const std::string& problem : CheckExplained(explained, &invoice)) {
      std::cerr << name << ": " << problem << "\n";
      ++failures;
    }
    // Derivations are deterministic like invoices: the batch size changes nothing.
    if (std::find(options.begin(), options.end(), "--batch-size") == options.end()) {
      std::vector<std::string> small = explain_args;
      small.insert(small.end(), {"--batch-size", "1"});
      Outcome one = RunTariff(small);
      if (one.out != json.out) {
        std::cerr << name << ": customer " << customer << ": `--batch-size 1` explains differently\n";
        ++failures;
      }
    }
    explain_args[explain_args.size() - 1] = "text";
    Outcome plain = RunTariff(explain_args);
    if (plain.code != 0 || plain.out.empty()) {
      std::cerr << name << ": customer " << customer << ": `--format text` exits " << plain.code << "\n" << plain.err;
      ++failures;
    }
  }
  std::cout << name << ": " << customers << " customers, " << lines << " lines explained, " << failures << " problems\n";
  return failures == 0 ? 0 : 1;
}

// `tariff explain plan.tariff ARGS…` in the case folder, as text and as JSON; ARGS are the lines
// of `args` (they name the customer). The expectation holds both outputs, stderr and the exit
// code; the JSON's terms must add up (CheckExplained).
int ExplainCase(const fs::path& dir, bool update) {
  const std::string name = dir.filename().string();
  fs::current_path(dir);
  std::vector<std::string> args{"explain", "plan.tariff"};
  const std::vector<std::string> case_args = CaseArgs(dir);
  args.insert(args.end(), case_args.begin(), case_args.end());
  std::vector<std::string> text_args = args, json_args = args;
  text_args.insert(text_args.end(), {"--format", "text"});
  json_args.insert(json_args.end(), {"--format", "json"});
  Outcome text = RunTariff(text_args);
  Outcome json = RunTariff(json_args);
  std::string actual = text.out + "--- json\n" + json.out + "--- stderr\n" + text.err + "exit " + std::to_string(text.code) + "\n";
  int failures = 0;
  const bool must_fail = name.rfind("fail_", 0) == 0;
  if (must_fail != (text.code != 0)) {
    std::cerr << name << ": " << (must_fail ? "a fail_ case must exit non-zero" : "a case must exit 0") << "\n";
    ++failures;
  }
  if (json.code != text.code || json.err != text.err) {
    std::cerr << name << ": --format json exits " << json.code << " (text: " << text.code << ") or reports differently\n";
    ++failures;
  }
  if (json.code == 0) {
    for (const nlohmann::json& explained : ParseDocuments(json.out)) {
      for (const std::string& problem : CheckExplained(explained, nullptr)) {
        std::cerr << name << ": " << problem << "\n";
        ++failures;
      }
    }
  }
  return CompareExpected(dir, name, "explain", actual, update, failures);
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
  if (args.size() >= 2 && args[0] == "explain") {
    bool update = args.size() >= 3 && args[2] == "--update";
    fs::path dir = fs::absolute(args[1]);
    if (!dir.has_filename()) dir = dir.parent_path();
    return ExplainCase(dir, update);
  }
  if (args.size() == 2 && args[0] == "threshold-sums") {
    fs::path dir = fs::absolute(args[1]);
    if (!dir.has_filename()) dir = dir.parent_path();
    return ThresholdSumsCase(dir);
  }
  if (args.size() == 2 && args[0] == "explain-sums") {
    fs::path dir = fs::absolute(args[1]);
    if (!dir.has_filename()) dir = dir.parent_path();
    return ExplainSumsCase(dir);
  }
  if ((args.size() == 2 || args.size() == 3) && args[0] == "coverage") {
    return Coverage(args[1], args.size() == 3 ? fs::path(args[2]) : fs::path());
  }
  std::cerr << "usage: golden check CASE_DIR [--update] | golden rate CASE_DIR [--update] | golden coverage CASES_ROOT [DOC]\n"
               "       golden explain CASE_DIR [--update] | golden explain-sums RATE_CASE_DIR\n"
               "       golden threshold-sums RATE_CASE_DIR\n";
  return 2;
}
