// tests/fuzz: what the libFuzzer harnesses share. A harness states invariants with FUZZ_CHECK;
// a broken one prints what was expected and aborts, which libFuzzer records as a crash (and the
// replay executable as a failed CTest). Nothing here is part of tariff itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace tariff::fuzz {

// Prints "fuzz: <harness>: <what>" to stderr and aborts. Never returns.
[[noreturn]] inline void Fail(std::string_view harness, std::string_view what) {
  std::fprintf(stderr, "fuzz: %.*s: invariant broken: %.*s\n", static_cast<int>(harness.size()), harness.data(),
               static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  std::abort();
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
