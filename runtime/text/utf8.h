// runtime/text: well-formed UTF-8 (RFC 3629), the one definition every reader and writer of text
// in tariff uses: the plan parser, the usage readers and the invoice writers. Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tariff {

// The length (1–4) of the well-formed UTF-8 sequence that starts at byte `i` of `text`, or 0 when
// none does: a stray continuation byte, an overlong form, a surrogate, a code point above
// U+10FFFF, or a sequence cut short by the end of the text.
inline std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return 1;
  std::size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  std::uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}

// Offset of the first byte of `text` that does not start a well-formed sequence, or npos.
inline std::size_t FirstInvalidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace tariff
