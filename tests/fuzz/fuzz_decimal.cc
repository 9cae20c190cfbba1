// tests/fuzz: runtime/decimal against its own promises and an independent oracle. Text round
// trips (Parse → ToString → Parse keeps coefficient and scale; a plain number parses to the
// coefficient and scale its digits spell), and +, −, ×, Rescale, Divide, MultiplyRounded and
// Compare against direct computations on __int128 where the operands are small enough for it.
//
// Input: text; every token between separators (white space , ; : { } " =) is parsed. Pairs of
// consecutive numbers are combined; the rounding mode and target scale come from the bytes.
// The first 17 bytes, whatever they are, also make a Decimal through FromParts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/decimal/decimal.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr std::string_view kHarness = "fuzz_decimal";

using tariff::Decimal;
using tariff::DecimalError;
using tariff::int128;
using tariff::RoundingMode;
using tariff::uint128;

std::string Show(const Decimal& d) {
  return d.ToString() + " (scale " + std::to_string(d.scale()) + ")";
}

std::string Int128Text(int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  uint128 u = negative ? -static_cast<uint128>(v) : static_cast<uint128>(v);
  std::string s;
  while (u > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return negative ? "-" + s : s;
}

// 10^n for 0 <= n <= 38, computed here rather than taken from the library under test.
uint128 Pow10(int n) {
  uint128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

const uint128 kLimit = Pow10(38);  // coefficients are below this in magnitude

bool Fits(int128 c) {
  uint128 m = c < 0 ? -static_cast<uint128>(c) : static_cast<uint128>(c);
  return m < kLimit;
}

bool Small(const Decimal& d) {
  return d.coefficient() == static_cast<std::int64_t>(d.coefficient());
}

// The exact value q + r/d (q truncated towards zero, |r| < |d|, r of the dividend's sign)
// rounded to an integer with `mode`; `negative` is the sign of the exact value.
int128 RoundQuotient(int128 q, int128 r, int128 d, bool negative, RoundingMode mode) {
  if (r == 0) return q;
  uint128 twice_r = 2 * (r < 0 ? -static_cast<uint128>(r) : static_cast<uint128>(r));
  uint128 abs_d = d < 0 ? -static_cast<uint128>(d) : static_cast<uint128>(d);
  int half = twice_r < abs_d ? -1 : twice_r == abs_d ? 0 : 1;
  uint128 abs_q = q < 0 ? -static_cast<uint128>(q) : static_cast<uint128>(q);
  bool away = false;
  switch (mode) {
    case RoundingMode::kUp: away = true; break;
    case RoundingMode::kDown: away = false; break;
    case RoundingMode::kCeiling: away = !negative; break;
    case RoundingMode::kFloor: away = negative; break;
    case RoundingMode::kHalfUp: away = half >= 0; break;
    case RoundingMode::kHalfDown: away = half > 0; break;
    case RoundingMode::kHalfEven: away = half > 0 || (half == 0 && abs_q % 2 == 1); break;
    case RoundingMode::kZeroFiveUp: away = abs_q % 10 == 0 || abs_q % 10 == 5; break;
  }
  return away ? q + (negative ? -1 : 1) : q;
}

// value = c × 10^-from (|c| < 2^127, from and to in 0..38) brought to scale `to` with `mode`.
// Nullopt when the result does not fit 38 digits.
std::optional<int128> RescaleOracle(int128 c, int from, int to, RoundingMode mode) {
  if (to >= from) {
    const uint128 m = c < 0 ? -static_cast<uint128>(c) : static_cast<uint128>(c);
    const uint128 f = Pow10(to - from);
    if (m != 0 && m > (~uint128{0} >> 1) / f) return std::nullopt;  // past int128, so past 10^38
    int128 p = c * static_cast<int128>(f);
    return Fits(p) ? std::optional<int128>(p) : std::nullopt;
  }
  int128 d = static_cast<int128>(Pow10(from - to));
  int128 r = RoundQuotient(c / d, c % d, d, c < 0, mode);
  return Fits(r) ? std::optional<int128>(r) : std::nullopt;
}

void CheckRoundTrip(const Decimal& d, std::string_view origin) {
  const std::string text = d.ToString();
  tariff::DecimalParseResult again = Decimal::Parse(text);
  FUZZ_CHECK(again.value.has_value(), "ToString of " + std::string(origin) + " does not parse: " + text + ": " + again.error);
  FUZZ_CHECK(again.value->IdenticalTo(d), "round trip of " + std::string(origin) + ": " + Int128Text(d.coefficient()) +
                                              "e-" + std::to_string(d.scale()) + " → " + text + " → " + Show(*again.value));
  FUZZ_CHECK(again.value->ToString() == text, "ToString is not stable for " + text);
  FUZZ_CHECK(text.rfind("-", 0) != 0 || d.is_negative(), "a zero printed negative: " + text);
  // digits(): the coefficient's digit count.
  std::string digits = Int128Text(d.coefficient());
  if (digits[0] == '-') digits.erase(0, 1);
  FUZZ_CHECK(d.digits() == static_cast<int>(digits.size()), "digits() of " + text + " is " + std::to_string(d.digits()));
  Decimal n = d.Normalized();
  FUZZ_CHECK(n == d, "Normalized changed the value of " + text + ": " + Show(n));
  FUZZ_CHECK(n.scale() == 0 || n.coefficient() % 10 != 0, "Normalized kept a trailing zero: " + Show(n));
}

// A plain `[+-]digits[.digits]` (no `_`, no exponent) parses exactly when it has at most 38
// significant digits and 38 decimals, to the coefficient and scale its digits spell.
void CheckPlainParse(std::string_view token, const tariff::DecimalParseResult& parsed) {
  std::size_t i = 0;
  bool negative = false;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) negative = token[i++] == '-';
  std::size_t int_start = i;
  while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
  std::size_t int_digits = i - int_start;
  std::size_t frac_digits = 0;
  if (i < token.size() && token[i] == '.') {
    std::size_t frac_start = ++i;
    while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
    frac_digits = i - frac_start;
    if (frac_digits == 0) return;  // `5.`: not plain
  }
  if (int_digits == 0 || i != token.size()) return;  // not a plain number: no oracle
  uint128 coefficient = 0;
  int significant = 0;
  bool too_long = false;
  for (char ch : token.substr(int_start)) {
    if (ch == '.') continue;
    if (significant > 0 || ch != '0') ++significant;
    if (significant > 38) {
      too_long = true;
      break;
    }
    coefficient = coefficient * 10 + static_cast<unsigned>(ch - '0');
  }
  const bool should_parse = !too_long && frac_digits <= 38;
  FUZZ_CHECK(parsed.value.has_value() == should_parse,
             "`" + std::string(token) + "` " + (should_parse ? "did not parse: " + parsed.error : std::string("parsed")));
  if (!should_parse) return;
  int128 c = negative ? -static_cast<int128>(coefficient) : static_cast<int128>(coefficient);
  FUZZ_CHECK(parsed.value->coefficient() == c && parsed.value->scale() == static_cast<int>(frac_digits),
             "`" + std::string(token) + "` parsed to " + Show(*parsed.value));
}

void CheckPair(const Decimal& a, const Decimal& b, int scale, RoundingMode mode) {
  const std::string ab = Show(a) + " and " + Show(b);
  // Compare is the sign of the difference, whenever the difference fits.
  Decimal diff;
  if (Decimal::TrySubtract(a, b, &diff)) {
    FUZZ_CHECK(Decimal::Compare(a, b) == diff.sign(), "Compare disagrees with a - b for " + ab);
    Decimal back;
    if (Decimal::TryAdd(diff, b, &back)) FUZZ_CHECK(back == a, "(a - b) + b != a for " + ab);
  }
  Decimal sum;
  if (Decimal::TryAdd(a, b, &sum)) {
    Decimal back;
    if (Decimal::TrySubtract(sum, b, &back)) FUZZ_CHECK(back == a, "(a + b) - b != a for " + ab + ": " + Show(back));
    FUZZ_CHECK(Decimal::Compare(sum, a) == b.sign(), "a + b compares wrongly with a for " + ab);
  }

  const bool small = Small(a) && Small(b);
  const int sa = a.scale(), sb = b.scale();
  if (small && (sa > sb ? sa - sb : sb - sa) <= 18) {
    // Aligned at the larger scale both fit int128 (|c| < 2^63, × 10^18 < 2^123).
    const int s = sa > sb ? sa : sb;
    const int128 x = a.coefficient() * static_cast<int128>(Pow10(s - sa));
    const int128 y = b.coefficient() * static_cast<int128>(Pow10(s - sb));
    FUZZ_CHECK(Decimal::Compare(a, b) == (x > y) - (x < y), "Compare is wrong for " + ab);
    Decimal r;
    FUZZ_CHECK(Decimal::TryAdd(a, b, &r) && r.coefficient() == x + y && r.scale() == s,
               "a + b for " + ab + ": expected " + Int128Text(x + y) + "e-" + std::to_string(s));
    FUZZ_CHECK(Decimal::TrySubtract(a, b, &r) && r.coefficient() == x - y && r.scale() == s, "a - b for " + ab);
  }
  if (small && sa + sb <= 38) {
    const int128 p = a.coefficient() * b.coefficient();  // < 2^126
    Decimal r;
    if (Fits(p)) {
      FUZZ_CHECK(Decimal::TryMultiply(a, b, &r) && r.coefficient() == p && r.scale() == sa + sb,
                 "a * b for " + ab + ": expected " + Int128Text(p) + "e-" + std::to_string(sa + sb));
    }
    // MultiplyRounded: the exact product brought to `scale` once.
    const std::optional<int128> expected = RescaleOracle(p, sa + sb, scale, mode);
    const std::string what = "MultiplyRounded(" + ab + ", " + std::to_string(scale) + ", " +
                             std::string(tariff::RoundingModeName(mode)) + ")";
    try {
      Decimal m = Decimal::MultiplyRounded(a, b, scale, mode);
      FUZZ_CHECK(expected.has_value(), what + " = " + Show(m) + " but the result needs more than 38 digits");
      FUZZ_CHECK(m.coefficient() == *expected && m.scale() == scale, what + " = " + Show(m) + ", expected " + Int128Text(*expected));
    } catch (const DecimalError& e) {
      FUZZ_CHECK(!expected.has_value(), what + " threw: " + e.what());
    }
  }
  // Divide(a, b, scale): q = a.c × 10^(scale + sb − sa) ÷ b.c, rounded once.
  if (small && !b.is_zero()) {
    const int e = scale + sb - sa;
    if (e >= -18 && e <= 18) {
      int128 n = a.coefficient(), d = b.coefficient();
      if (e >= 0) n *= static_cast<int128>(Pow10(e));
      else d *= static_cast<int128>(Pow10(-e));
      const bool negative = (n < 0) != (d < 0);
      const int128 q = RoundQuotient(n / d, n % d, d, negative, mode);
      const std::string what = "Divide(" + ab + ", " + std::to_string(scale) + ", " + std::string(tariff::RoundingModeName(mode)) + ")";
      try {
        Decimal r = Decimal::Divide(a, b, scale, mode);
        FUZZ_CHECK(Fits(q), what + " = " + Show(r) + " but the quotient needs more than 38 digits");
        FUZZ_CHECK(r.coefficient() == q && r.scale() == scale, what + " = " + Show(r) + ", expected " + Int128Text(q));
      } catch (const DecimalError& err) {
        FUZZ_CHECK(!Fits(q), what + " threw: " + err.what());
      }
    }
  }
  // An exact quotient multiplies back to the dividend.
  if (!b.is_zero()) {
    Decimal q, back;
    if (Decimal::TryDivideExact(a, b, &q) && Decimal::TryMultiply(q, b, &back)) {
      FUZZ_CHECK(back == a, "TryDivideExact(" + ab + ") = " + Show(q) + ", and q × b = " + Show(back));
    }
  }
}

void CheckRescale(const Decimal& a, int scale, RoundingMode mode) {
  const std::string what = "Rescale(" + Show(a) + ", " + std::to_string(scale) + ", " + std::string(tariff::RoundingModeName(mode)) + ")";
  const std::optional<int128> expected = RescaleOracle(a.coefficient(), a.scale(), scale, mode);
  try {
    Decimal r = a.Rescale(scale, mode);
    FUZZ_CHECK(expected.has_value(), what + " = " + Show(r) + " but the value needs more than 38 digits");
    FUZZ_CHECK(r.coefficient() == *expected && r.scale() == scale, what + " = " + Show(r) + ", expected " + Int128Text(*expected));
    if (scale >= a.scale()) FUZZ_CHECK(r == a, what + " changed the value");
  } catch (const DecimalError& e) {
    FUZZ_CHECK(!expected.has_value(), what + " threw: " + e.what());
  }
}

bool IsSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' || c == ':' || c == '{' || c == '}' ||
         c == '"' || c == '=';
}

// The harness proper; LLVMFuzzerTestOneInput below wraps it.
int TestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  unsigned checksum = 0;
  for (std::uint8_t byte : text) checksum = checksum * 31 + byte;

  // A Decimal from raw bytes: FromParts accepts exactly |c| < 10^38 and scale 0..38.
  if (size >= 17) {
    uint128 raw = 0;
    for (int i = 0; i < 16; ++i) raw = raw << 8 | data[i];
    int128 c = static_cast<int128>(raw);
    const int scale = data[16] % 41;  // 39 and 40 are out of range on purpose
    const bool expect = Fits(c) && scale <= 38;
    try {
      Decimal d = Decimal::FromParts(c, scale);
      FUZZ_CHECK(expect, "FromParts accepted " + Int128Text(c) + "e-" + std::to_string(scale));
      FUZZ_CHECK(d.coefficient() == c && d.scale() == scale, "FromParts changed " + Int128Text(c));
      CheckRoundTrip(d, "FromParts");
      CheckRescale(d, static_cast<int>(checksum % 39), static_cast<RoundingMode>(checksum / 39 % 8));
    } catch (const DecimalError&) {
      FUZZ_CHECK(!expect, "FromParts refused " + Int128Text(c) + "e-" + std::to_string(scale));
    }
  }

  std::vector<Decimal> numbers;
  std::size_t tokens = 0;
  for (std::size_t i = 0; i < text.size() && tokens < 64;) {
    while (i < text.size() && IsSeparator(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !IsSeparator(text[i])) ++i;
    if (i == start) break;
    ++tokens;
    const std::string_view token = text.substr(start, i - start);
    tariff::DecimalParseResult parsed = Decimal::Parse(token);
    CheckPlainParse(token, parsed);
    if (!parsed.value) {
      FUZZ_CHECK(!parsed.error.empty() && parsed.error_offset <= token.size(),
                 "a failed parse of `" + std::string(token) + "` without a reason or with offset " + std::to_string(parsed.error_offset));
      continue;
    }
    CheckRoundTrip(*parsed.value, "`" + std::string(token) + "`");
    numbers.push_back(*parsed.value);
  }

  for (std::size_t i = 0; i < numbers.size() && i < 16; ++i) {
    const unsigned k = checksum + static_cast<unsigned>(i) * 7919u;
    const int scale = static_cast<int>(k % 39);
    const auto mode = static_cast<RoundingMode>(k / 39 % 8);
    CheckRescale(numbers[i], scale, mode);
    if (i + 1 < numbers.size()) CheckPair(numbers[i], numbers[i + 1], scale, mode);
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tariff::fuzz::Guarded([&] { return TestOneInput(data, size); });
}
