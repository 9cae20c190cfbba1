// runtime/columnar: text → dense id, for the keys rating groups by (customers, group values).
// Shared by the interpreter (runtime/exec) and the billing layer's routing (runtime/billing):
// both look up a key per usage row, with up to millions of distinct keys, so a node-based
// std::unordered_map<std::string, …> (a pointer chase and a std::string per key) would dominate.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tariff::keys {

// ---- ------------------------------------------------------------------

inline std::uint64_t Load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t Load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline std::uint64_t Mix(std::uint64_t h) {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  return h ^ (h >> 32);
}

// A fast hash of short text (ids, enumeration values): whole words, the tail read as one
// overlapping word, so that a 10-byte id costs two multiplies and no loop over bytes.
[[gnu::always_inline]] inline std::uint64_t HashText(std::string_view s) {
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  if (n > 8) {
    for (; n > 8; p += 8, n -= 8) {
      h = (h ^ Load64(p)) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 31;
    }
    h ^= Load64(p + n - 8);
  } else if (n >= 4) {
    h ^= (Load32(p) << 32) | Load32(p + n - 4);
  } else if (n > 0) {
    h ^= (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
         (std::uint64_t{static_cast<unsigned char>(p[n >> 1])} << 8) | static_cast<unsigned char>(p[n - 1]);
  }
  return Mix(h);
}

// a == b for texts of equal length `n`, without a call for the short ones (ids, enumeration
// values): overlapping word loads, as in HashText, all within both texts.
[[gnu::always_inline]] inline bool SameBytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8 && n <= 16) return Load64(a) == Load64(b) && Load64(a + n - 8) == Load64(b + n - 8);
  if (n >= 4 && n < 8) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  if (n < 4) {
    for (std::size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

// Text → dense id (0, 1, 2, … in order of first sight). Open addressing with linear probing;
// a slot carries 32 bits of the hash and where the text is in the arena, so a probe reads the
// text only when the hash bits agree, and no std::string is allocated per key.
class TextDictionary {
 public:
  TextDictionary() : slots_(16), mask_(15) {}

  std::uint32_t size() const { return static_cast<std::uint32_t>(offsets_.size()); }
  std::string_view Text(std::uint32_t id) const { return {bytes_.data() + offsets_[id], lengths_[id]}; }
  std::uint32_t Intern(std::string_view text) { return Find(text, HashText(text)); }
  // The id of `text`, or -1 when it was never interned (nothing is added).
  std::int64_t Lookup(std::string_view text) const {
    const std::uint64_t h = HashText(text);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == 0) return -1;
      if (s.tag == tag && s.length == text.size() && SameBytes(bytes_.data() + s.offset, text.data(), text.size())) {
        return s.id - 1;
      }
    }
  }

  // The ids of `n` texts. The first pass hashes every text and prefetches its slot, the second
  // probes (prefetching the arena bytes a few rows ahead): with many customers the table is
  // larger than the cache, and a miss per row one after the other would dominate.
  void Encode(const std::string* texts, std::size_t n, std::uint32_t* out) {
    if (slots_.size() <= kCachedSlots) {  // the table is in cache: nothing to hide
      for (std::size_t k = 0; k < n; ++k) out[k] = Intern(texts[k]);
      return;
    }
    hashes_.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint64_t h = HashText(texts[k]);
      hashes_[k] = h;
      __builtin_prefetch(&slots_[h & mask_]);
    }
    constexpr std::size_t kAhead = 8;
    for (std::size_t k = 0; k < n; ++k) {
      if (k + kAhead < n) {
        const Slot& s = slots_[hashes_[k + kAhead] & mask_];
        if (s.id != 0) __builtin_prefetch(bytes_.data() + s.offset);
      }
      out[k] = Find(texts[k], hashes_[k]);
    }
  }

 private:
  static constexpr std::size_t kCachedSlots = 16384;  // 256 KiB of slots

  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t id = 0;  // id + 1; 0: empty
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  std::uint32_t Find(std::string_view text, std::uint64_t h) {
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id == 0) return Insert(s, text, tag);
      if (s.tag == tag && s.length == text.size() && SameBytes(bytes_.data() + s.offset, text.data(), text.size())) {
        return s.id - 1;
      }
    }
  }

  std::uint32_t Insert(Slot& s, std::string_view text, std::uint32_t tag) {
    if (bytes_.size() + text.size() > 0xffffffffu) throw std::length_error("more than 4 GiB of distinct text");
    const auto id = size();
    s = {tag, id + 1, static_cast<std::uint32_t>(bytes_.size()), static_cast<std::uint32_t>(text.size())};
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    offsets_.push_back(s.offset);
    lengths_.push_back(s.length);
    if (std::size_t{size()} * 4 > slots_.size() * 3) Grow();
    return id;
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.id == 0) continue;
      std::size_t i = HashText(Text(s.id - 1)) & mask_;
      while (slots_[i].id != 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_;
  std::vector<char> bytes_;
  std::vector<std::uint32_t> offsets_, lengths_;
  std::vector<std::uint64_t> hashes_;  // Encode's scratch
};

}  // namespace tariff::keys
