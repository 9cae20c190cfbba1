// tests/fuzz: the replay executable — a harness linked without libFuzzer, fed files, so that the
// regression inputs and the seed corpora run as ordinary CTests in every build (any compiler).
//
// Usage: HARNESS_replay [--known-failing FILE] [--ext .EXT]... PATH...
//   Every PATH is a file or a directory (read recursively, in sorted order). Each file is given
//   to LLVMFuzzerTestOneInput once; a broken invariant aborts, which fails the test.
//   --ext keeps only files with one of the given extensions (for seed directories that hold
//   other files). --known-failing names a list of inputs that still fail (one
//   `HARNESS/NAME | SIGNATURE | why` a line): each is replayed in a child process; one that still fails is
//   reported and skipped, one that now passes fails the run, so that it moves out of the list.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Entries of a KNOWN_FAILING file: lines `HARNESS/NAME | SIGNATURE | why` (fields separated by
// " | "; `#` starts a comment line) as "HARNESS/NAME" → why.
std::map<std::string, std::string> ReadKnownFailing(const fs::path& path) {
  std::map<std::string, std::string> known;
  std::istringstream lines(ReadFile(path));
  std::string line;
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(" \t\r"));
    s.erase(s.find_last_not_of(" \t\r") + 1);
    return s;
  };
  while (std::getline(lines, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const std::size_t first = line.find(" | ");
    const std::size_t last = line.rfind(" | ");
    if (first == std::string::npos || first == last) {
      std::cerr << "replay: " << path.generic_string() << ": not `HARNESS/NAME | SIGNATURE | why`: " << line << "\n";
      std::exit(2);
    }
    // The signature must be one that scripts/fuzz.sh and the harnesses can use.
    const std::string signature = trim(line.substr(first + 3, last - first - 3));
    try {
      std::regex check(signature, std::regex::extended);
    } catch (const std::regex_error& e) {
      std::cerr << "replay: " << path.generic_string() << ": the signature is no extended regular expression (" << e.what()
                << "): " << signature << "\n";
      std::exit(2);
    }
    known[trim(line.substr(0, first))] = trim(line.substr(last + 3));
  }
  return known;
}

// The KNOWN_FAILING entry that names `file` (its last two path components), or "".
std::string KnownEntry(const std::map<std::string, std::string>& known, const fs::path& file) {
  std::string entry = (file.parent_path().filename() / file.filename()).generic_string();
  return known.count(entry) ? entry : "";
}

void Replay(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

// Replays `input` in a child process, its output discarded; true when it ran to the end.
bool PassesInChild(const std::string& input) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    Replay(input);
    _exit(0);  // skips leak checks at exit: the parent's run is the one that counts
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::map<std::string, std::string> known;
  std::vector<std::string> extensions;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--known-failing" || arg == "--ext") && i + 1 < argc) {
      if (arg == "--ext") {
        extensions.push_back(argv[++i]);
      } else {
        known = ReadKnownFailing(argv[++i]);
      }
      continue;
    }
    fs::path path(arg);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) found.push_back(entry.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      std::cerr << "replay: no such file or directory: " << arg << "\n";
      return 2;
    }
  }
  if (!extensions.empty()) {
    std::erase_if(files, [&](const fs::path& f) {
      return std::find(extensions.begin(), extensions.end(), f.extension().string()) == extensions.end();
    });
  }

  int replayed = 0, still_failing = 0, now_passing = 0;
  std::set<std::string> harness_dirs, seen;
  for (const fs::path& file : files) {
    if (file.filename() == "KNOWN_FAILING" || file.filename() == "README.md") continue;
    harness_dirs.insert(file.parent_path().filename().string());
    const std::string input = ReadFile(file);
    if (std::string entry = KnownEntry(known, file); !entry.empty()) {
      seen.insert(entry);
      if (PassesInChild(input)) {
        std::cout << "NOW PASSES (remove it from KNOWN_FAILING): " << entry << "\n";
        ++now_passing;
      } else {
        std::cout << "known failure, skipped: " << entry << " — " << known[entry] << "\n";
        ++still_failing;
      }
      continue;
    }
    std::cout << "replay: " << file.generic_string() << "\n" << std::flush;
    Replay(input);
    ++replayed;
  }
  // An entry of these directories' harness that names no file is a typo or a removed input.
  int stale = 0;
  for (const auto& [entry, why] : known) {
    if (harness_dirs.count(entry.substr(0, entry.find('/'))) && !seen.count(entry)) {
      std::cout << "KNOWN_FAILING names an input that does not exist: " << entry << "\n";
      ++stale;
    }
  }
  std::cout << replayed << " inputs replayed, " << still_failing << " known failures skipped, " << now_passing
            << " known failures now passing\n";
  if (replayed == 0 && still_failing == 0 && now_passing == 0) {
    std::cerr << "replay: no inputs found\n";
    return 1;
  }
  return now_passing == 0 && stale == 0 ? 0 : 1;
}
