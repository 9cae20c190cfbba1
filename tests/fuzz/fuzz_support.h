// tests/fuzz: what the libFuzzer harnesses share. A harness states invariants with FUZZ_CHECK;
// a broken one prints what was expected and aborts, which libFuzzer records as a crash (and the
// replay executable as a failed CTest). Nothing here is part of tariff itself.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace tariff::fuzz {

// Thrown by Fail, instead of aborting, for a failure that is a known open bug (below); the
// harness's entry point (Guarded) turns it into "skip this input".
struct KnownFailure {};

// The signatures of known open bugs, when the environment variable TARIFF_FUZZ_KNOWN names a
// file of them (extended regular expressions, one a line; scripts/fuzz.sh writes it from
// tests/fuzz/KNOWN_FAILING). Without it, every failure aborts.
inline const std::vector<std::regex>& KnownSignatures() {
  static const std::vector<std::regex> signatures = [] {
    std::vector<std::regex> out;
    const char* path = std::getenv("TARIFF_FUZZ_KNOWN");
    if (path == nullptr) return out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      try {
        out.emplace_back(line, std::regex::extended);
      } catch (const std::regex_error& e) {
        std::fprintf(stderr, "fuzz: a known-bug signature is no extended regular expression (%s): %s\n", e.what(), line.c_str());
        std::abort();
      }
    }
    return out;
  }();
  return signatures;
}

// Reports a broken invariant: prints "fuzz: <harness>: invariant broken: <what>" to stderr and
// aborts — unless `what` matches a known open bug's signature, which is reported once per
// signature ("fuzz: <harness>: known open bug (…), not a new failure: …") and skipped.
[[noreturn]] inline void Fail(std::string_view harness, std::string_view what) {
  const std::string text(what);
  const std::vector<std::regex>& known = KnownSignatures();
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (std::regex_search(text, known[i])) {
      static std::vector<bool> reported;
      reported.resize(known.size());
      if (!reported[i]) {
        reported[i] = true;
        std::fprintf(stderr, "fuzz: %.*s: known open bug (signature %zu), not a new failure: %.*s\n", static_cast<int>(harness.size()),
                     harness.data(), i + 1, static_cast<int>(std::min<std::size_t>(text.find('\n'), text.size())), text.data());
      }
      throw KnownFailure{};
    }
  }
  std::fprintf(stderr, "fuzz: %.*s: invariant broken: %s\n", static_cast<int>(harness.size()), harness.data(), text.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs a harness's body: an input that hit a known open bug is rejected (-1: libFuzzer keeps
// it out of the corpus), so that fuzzing goes past the bug rather than stopping at it.
template <typename Body>
int Guarded(Body body) {
  try {
    return body();
  } catch (const KnownFailure&) {
    return -1;
  }
}

// Reads an input as a sequence of small decisions (the harnesses' own FuzzedDataProvider, so
// that the replay executables need no clang header). Past the end every read returns 0 / "".
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  std::size_t remaining() const { return size_ - pos_; }

  std::uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // A number in [0, n) for n >= 1, from one byte (n <= 256) or more.
  std::uint32_t Below(std::uint32_t n) {
    if (n <= 1) return 0;
    std::uint32_t v = Byte();
    if (n > 256) v = v << 8 | Byte();
    if (n > 65536) v = v << 8 | Byte();
    return v % n;
  }
  bool Bool() { return (Byte() & 1) != 0; }
  // An unsigned 64-bit value from up to 8 bytes, little end first.
  std::uint64_t U64(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{Byte()} << (8 * i);
    return v;
  }
  // Up to `max` bytes as text.
  std::string Text(std::size_t max) {
    std::size_t n = Below(static_cast<std::uint32_t>(max + 1));
    n = n < remaining() ? n : remaining();
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace tariff::fuzz

// Checks an invariant of harness `kHarness` (a constant each harness defines).
#define FUZZ_CHECK(cond, what)                                        \
  do {                                                                \
    if (!(cond)) ::tariff::fuzz::Fail(kHarness, std::string(what));   \
  } while (0)
