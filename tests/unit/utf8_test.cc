// tests/unit: runtime/text/utf8.h, the one UTF-8 check the parser, readers and writers share.
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "runtime/text/utf8.h"

using tariff::FirstInvalidUtf8;
using tariff::Utf8SequenceLength;

TEST_CASE("utf8: lengths of well-formed sequences") {
  CHECK(Utf8SequenceLength("a", 0) == 1);
  CHECK(Utf8SequenceLength("\xc2\xb7", 0) == 2);          // U+00B7 MIDDLE DOT, as in `GB·h`
  CHECK(Utf8SequenceLength("\xe2\x82\xac", 0) == 3);      // U+20AC EURO SIGN
  CHECK(Utf8SequenceLength("\xf0\x9f\x92\xb6", 0) == 4);  // U+1F4B6
  CHECK(Utf8SequenceLength("\xf4\x8f\xbf\xbf", 0) == 4);  // U+10FFFF, the last code point
}

TEST_CASE("utf8: every ill-formed sequence is refused") {
  CHECK(Utf8SequenceLength("\x80", 0) == 0);              // a stray continuation byte
  CHECK(Utf8SequenceLength("\xc0\xaf", 0) == 0);          // overlong `/`
  CHECK(Utf8SequenceLength("\xe0\x80\xaf", 0) == 0);      // overlong, three bytes
  CHECK(Utf8SequenceLength("\xf0\x80\x80\xaf", 0) == 0);  // overlong, four bytes
  CHECK(Utf8SequenceLength("\xed\xa0\x80", 0) == 0);      // U+D800, a surrogate
  CHECK(Utf8SequenceLength("\xf4\x90\x80\x80", 0) == 0);  // U+110000
  CHECK(Utf8SequenceLength("\xe2\x82", 0) == 0);          // cut short by the end
  CHECK(Utf8SequenceLength("\xe2\x41\xac", 0) == 0);      // a continuation byte missing
  CHECK(Utf8SequenceLength("\xff", 0) == 0);
}

TEST_CASE("utf8: the first invalid byte of a text") {
  CHECK(FirstInvalidUtf8("plan \"caf\xc3\xa9\" {}") == std::string_view::npos);
  CHECK(FirstInvalidUtf8("") == std::string_view::npos);
  CHECK(FirstInvalidUtf8("// caf\xe9 in Latin-1\n") == 6);
  CHECK(FirstInvalidUtf8(std::string_view("ok\0\xc2", 4)) == 3);
}
