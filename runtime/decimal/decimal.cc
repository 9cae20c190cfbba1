// runtime/decimal: the exact Decimal. Fast paths work on int64/int128; everything that can
// outgrow 128 bits (products, scaled dividends, sums across distant scales) goes through a
// small 256-bit unsigned type and is rounded once at the end.
#include "runtime/decimal/decimal.h"

#include <array>
#include <string>
#include <utility>

namespace tariff {
namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr std::array<uint128, 39> MakePowers128() {
  std::array<uint128, 39> t{};
  uint128 v = 1;
  for (int i = 0; i < 39; ++i) {
    t[i] = v;
    if (i < 38) v *= 10;
  }
  return t;
}
constexpr std::array<uint128, 39> kPow10 = MakePowers128();
constexpr uint128 kMaxCoefficient = kPow10[38] - 1;  // 38 nines
constexpr uint128 kU64Limit = static_cast<uint128>(1) << 64;

// |c| fits in uint128 for every int128 except the minimum, which no Decimal holds.
inline uint128 Magnitude(int128 c) { return c < 0 ? -static_cast<uint128>(c) : static_cast<uint128>(c); }
inline int128 Signed(uint128 magnitude, bool negative) {
  return negative ? -static_cast<int128>(magnitude) : static_cast<int128>(magnitude);
}
// |c| <= 38 nines, in one unsigned comparison.
inline bool InRange(int128 c) {
  return static_cast<uint128>(c) + kMaxCoefficient <= 2 * kMaxCoefficient;
}
inline bool FitsU64(uint128 v) { return (v >> 64) == 0; }
inline bool FitsI64(int128 v) { return v == static_cast<i64>(v); }

int DigitCount(uint128 v) {
  // Binary search over the power table: digits = index of the first power greater than v.
  int lo = 1, hi = 39;  // answer in [1, 39]
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (v < kPow10[mid]) hi = mid; else lo = mid + 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// 256-bit unsigned arithmetic, little-endian 64-bit limbs. Only what Decimal needs.

struct U256 {
  u64 w[4] = {0, 0, 0, 0};

  static constexpr U256 From(uint128 v) {
    U256 r;
    r.w[0] = static_cast<u64>(v);
    r.w[1] = static_cast<u64>(v >> 64);
    return r;
  }
  constexpr bool IsZero() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
  constexpr bool Fits128() const { return (w[2] | w[3]) == 0; }
  constexpr uint128 Low128() const { return (static_cast<uint128>(w[1]) << 64) | w[0]; }
};

constexpr int Compare256(const U256& a, const U256& b) {
  for (int i = 3; i >= 0; --i) {
    if (a.w[i] != b.w[i]) return a.w[i] < b.w[i] ? -1 : 1;
  }
  return 0;
}

// a + b; callers guarantee no carry out of 256 bits (all sums here are below 2 × 10^76).
constexpr U256 Add(const U256& a, const U256& b) {
  U256 r;
  u64 carry = 0;
  for (int i = 0; i < 4; ++i) {
    uint128 t = static_cast<uint128>(a.w[i]) + b.w[i] + carry;
    r.w[i] = static_cast<u64>(t);
    carry = static_cast<u64>(t >> 64);
  }
  return r;
}

// a - b for a >= b.
constexpr U256 Sub(const U256& a, const U256& b) {
  U256 r;
  u64 borrow = 0;
  for (int i = 0; i < 4; ++i) {
    u64 x = a.w[i] - b.w[i];
    u64 nb = (a.w[i] < b.w[i]) | (x < borrow);
    r.w[i] = x - borrow;
    borrow = nb;
  }
  return r;
}

// a × m; false on overflow past 256 bits.
constexpr bool MulSmall(U256* a, u64 m) {
  u64 carry = 0;
  for (int i = 0; i < 4; ++i) {
    uint128 t = static_cast<uint128>(a->w[i]) * m + carry;
    a->w[i] = static_cast<u64>(t);
    carry = static_cast<u64>(t >> 64);
  }
  return carry == 0;
}

// The full 256-bit product of two 128-bit values.
constexpr U256 Mul(uint128 a, uint128 b) {
  const u64 x[2] = {static_cast<u64>(a), static_cast<u64>(a >> 64)};
  const u64 y[2] = {static_cast<u64>(b), static_cast<u64>(b >> 64)};
  U256 r;
  for (int i = 0; i < 2; ++i) {
    u64 carry = 0;
    for (int j = 0; j < 2; ++j) {
      uint128 t = static_cast<uint128>(x[i]) * y[j] + r.w[i + j] + carry;
      r.w[i + j] = static_cast<u64>(t);
      carry = static_cast<u64>(t >> 64);
    }
    r.w[i + 2] = carry;
  }
  return r;
}

// a /= d, returning the remainder.
inline u64 DivModSmall(U256* a, u64 d) {
  uint128 rem = 0;
  for (int i = 3; i >= 0; --i) {
    uint128 cur = (rem << 64) | a->w[i];
    a->w[i] = static_cast<u64>(cur / d);
    rem = cur % d;
  }
  return static_cast<u64>(rem);
}

constexpr int kMaxPow256 = 77;  // 10^77 < 2^256 < 10^78
constexpr std::array<U256, kMaxPow256 + 1> MakePowers256() {
  std::array<U256, kMaxPow256 + 1> t{};
  U256 v = U256::From(1);
  for (int i = 0; i <= kMaxPow256; ++i) {
    t[i] = v;
    if (i < kMaxPow256) MulSmall(&v, 10);
  }
  return t;
}
constexpr std::array<U256, kMaxPow256 + 1> kPow10Wide = MakePowers256();
constexpr u64 kPow10_19 = 10000000000000000000ULL;

int DigitCount(const U256& v) {
  if (v.Fits128() && v.Low128() < kPow10[38]) return DigitCount(v.Low128());
  int d = 39;
  while (d <= kMaxPow256 && Compare256(v, kPow10Wide[d]) >= 0) ++d;
  return d;
}

// v × 10^n; false on overflow past 256 bits.
bool MulPow10(U256* v, int n) {
  while (n > 0) {
    int step = n < 19 ? n : 19;
    if (!MulSmall(v, static_cast<u64>(kPow10[step]))) return false;
    n -= step;
  }
  return true;
}

int BitLength(const U256& v) {
  for (int i = 3; i >= 0; --i) {
    if (v.w[i] != 0) return i * 64 + 64 - __builtin_clzll(v.w[i]);
  }
  return 0;
}

// n = q × d + r by shift-and-subtract. Only reached when the divisor has more than 64 bits and
// the dividend more than 128 (a 38-digit divisor of a scaled 38-digit dividend); d < 2^255.
void DivModLong(const U256& n, const U256& d, U256* q, U256* r) {
  U256 quotient, rem;
  for (int i = BitLength(n) - 1; i >= 0; --i) {
    for (int k = 3; k > 0; --k) rem.w[k] = (rem.w[k] << 1) | (rem.w[k - 1] >> 63);
    rem.w[0] = (rem.w[0] << 1) | ((n.w[i / 64] >> (i % 64)) & 1);
    if (Compare256(rem, d) >= 0) {
      rem = Sub(rem, d);
      quotient.w[i / 64] |= u64{1} << (i % 64);
    }
  }
  *q = quotient;
  *r = rem;
}

void DivMod(const U256& n, const U256& d, U256* q, U256* r) {
  if (n.Fits128() && d.Fits128()) {
    uint128 a = n.Low128(), b = d.Low128();
    *q = U256::From(a / b);
    *r = U256::From(a % b);
  } else if (d.w[1] == 0 && d.w[2] == 0 && d.w[3] == 0) {
    *q = n;
    *r = U256::From(DivModSmall(q, d.w[0]));
  } else {
    DivModLong(n, d, q, r);
  }
}

// n = q × 10^k + r, in chunks of 10^19 so that only 128/64 divisions are needed.
void DivModPow10(const U256& n, int k, U256* q, U256* r) {
  U256 quotient = n, rem, place = U256::From(1);
  int left = k;
  while (left > 0) {
    int step = left < 19 ? left : 19;
    u64 part = DivModSmall(&quotient, step == 19 ? kPow10_19 : static_cast<u64>(kPow10[step]));
    U256 scaled = place;
    MulSmall(&scaled, part);  // part × place < 10^k: no overflow
    rem = Add(rem, scaled);
    MulSmall(&place, static_cast<u64>(kPow10[step]));
    left -= step;
  }
  *q = quotient;
  *r = rem;
}

// ---------------------------------------------------------------------------------------------
// Rounding: one decision shared by every width.

unsigned LastDigit(u64 v) { return static_cast<unsigned>(v % 10); }
unsigned LastDigit(uint128 v) { return static_cast<unsigned>(v % 10); }
unsigned LastDigit(const U256& v) {
  // 2^64k ≡ 6 (mod 10) for k >= 1.
  u64 sum = v.w[0] % 10 + 6 * (v.w[1] % 10 + v.w[2] % 10 + v.w[3] % 10);
  return static_cast<unsigned>(sum % 10);
}
bool IsOdd(u64 v) { return v & 1; }
bool IsOdd(uint128 v) { return v & 1; }
bool IsOdd(const U256& v) { return v.w[0] & 1; }
bool IsZeroValue(u64 v) { return v == 0; }
bool IsZeroValue(uint128 v) { return v == 0; }
bool IsZeroValue(const U256& v) { return v.IsZero(); }
// Sign of r - (d - r), i.e. of the discarded fraction r/d against one half; r < d.
int HalfCompare(u64 r, u64 d) { return r < d - r ? -1 : r > d - r ? 1 : 0; }
int HalfCompare(uint128 r, uint128 d) { return r < d - r ? -1 : r > d - r ? 1 : 0; }
int HalfCompare(const U256& r, const U256& d) { return Compare256(r, Sub(d, r)); }

// Whether the truncated magnitude q (with remainder r of divisor d) must move one unit away
// from zero under `mode`.
template <class T>
bool RoundsAway(RoundingMode mode, bool negative, const T& q, const T& r, const T& d) {
  if (IsZeroValue(r)) return false;
  switch (mode) {
    case RoundingMode::kHalfEven: {
      int h = HalfCompare(r, d);
      return h > 0 || (h == 0 && IsOdd(q));
    }
    case RoundingMode::kHalfUp: return HalfCompare(r, d) >= 0;
    case RoundingMode::kHalfDown: return HalfCompare(r, d) > 0;
    case RoundingMode::kUp: return true;
    case RoundingMode::kDown: return false;
    case RoundingMode::kCeiling: return !negative;
    case RoundingMode::kFloor: return negative;
    case RoundingMode::kZeroFiveUp: {
      unsigned last = LastDigit(q);
      return last == 0 || last == 5;
    }
  }
  return false;
}

// round(m / d) under `mode` for a value whose sign is `negative`.
template <class T>
T RoundedQuotient(T m, T d, RoundingMode mode, bool negative) {
  T q = m / d;
  T r = m % d;
  return RoundsAway(mode, negative, q, r, d) ? q + 1 : q;
}

U256 RoundedQuotientPow10(const U256& m, int k, RoundingMode mode, bool negative) {
  if (k == 0) return m;
  if (m.Fits128() && k <= 38) {
    uint128 mm = m.Low128();
    if (FitsU64(mm) && k <= 19) {
      return U256::From(RoundedQuotient<u64>(static_cast<u64>(mm), static_cast<u64>(kPow10[k]), mode, negative));
    }
    return U256::From(RoundedQuotient<uint128>(mm, kPow10[k], mode, negative));
  }
  // Callers drop at most 77 digits (a 256-bit magnitude has at most 78).
  U256 q, r;
  DivModPow10(m, k, &q, &r);
  if (RoundsAway(mode, negative, q, r, kPow10Wide[k])) q = Add(q, U256::From(1));
  return q;
}

// ---------------------------------------------------------------------------------------------
// Errors.

[[noreturn]] void FailOverflow(const std::string& what) {
  throw DecimalError(DecimalErrorKind::kOverflow, what + " does not fit in 38 digits");
}
void CheckScale(int scale) {
  if (scale < 0 || scale > Decimal::kMaxScale) {
    throw DecimalError(DecimalErrorKind::kScaleOutOfRange,
                       "scale " + std::to_string(scale) + " is outside 0..38");
  }
}

// A sign-magnitude value with a 256-bit magnitude, for results that may exceed 38 digits
// before rounding.
struct Wide {
  bool negative = false;
  U256 magnitude;
  int scale = 0;
};

// d at `scale` (>= d.scale()): always fits, since 10^38 × 10^38 < 2^256.
Wide Widen(const Decimal& d, int scale) {
  Wide w{d.is_negative(), U256::From(Magnitude(d.coefficient())), scale};
  MulPow10(&w.magnitude, scale - d.scale());
  return w;
}

// a + b for equal scales.
Wide AddWide(const Wide& a, const Wide& b) {
  Wide r{a.negative, U256(), a.scale};
  if (a.negative == b.negative) {
    r.magnitude = Add(a.magnitude, b.magnitude);
  } else if (Compare256(a.magnitude, b.magnitude) >= 0) {
    r.magnitude = Sub(a.magnitude, b.magnitude);
  } else {
    r.negative = b.negative;
    r.magnitude = Sub(b.magnitude, a.magnitude);
  }
  if (r.magnitude.IsZero()) r.negative = false;
  return r;
}

// A Decimal from a wide exact value: at its own scale if that fits, else at the largest smaller
// scale reached by dropping trailing zeros; false if neither fits.
bool FitExact(Wide w, int128* coefficient, int* scale) {
  while ((w.scale > Decimal::kMaxScale || DigitCount(w.magnitude) > Decimal::kMaxDigits) && w.scale > 0) {
    if (LastDigit(w.magnitude) != 0) return false;
    DivModSmall(&w.magnitude, 10);
    --w.scale;
  }
  if (w.scale > Decimal::kMaxScale || !w.magnitude.Fits128() || w.magnitude.Low128() > kMaxCoefficient) {
    return false;
  }
  *coefficient = Signed(w.magnitude.Low128(), w.negative);
  *scale = w.scale;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Rounding mode names.

std::string_view RoundingModeName(RoundingMode mode) {
  switch (mode) {
    case RoundingMode::kHalfEven: return "half_even";
    case RoundingMode::kHalfUp: return "half_up";
    case RoundingMode::kHalfDown: return "half_down";
    case RoundingMode::kUp: return "up";
    case RoundingMode::kDown: return "down";
    case RoundingMode::kCeiling: return "ceiling";
    case RoundingMode::kFloor: return "floor";
    case RoundingMode::kZeroFiveUp: return "05up";
  }
  return "half_even";
}

std::optional<RoundingMode> ParseRoundingMode(std::string_view name) {
  static constexpr RoundingMode kAll[] = {
      RoundingMode::kHalfEven, RoundingMode::kHalfUp,  RoundingMode::kHalfDown, RoundingMode::kUp,
      RoundingMode::kDown,     RoundingMode::kCeiling, RoundingMode::kFloor,    RoundingMode::kZeroFiveUp};
  for (RoundingMode m : kAll) {
    if (RoundingModeName(m) == name) return m;
  }
  return std::nullopt;
}

uint128 PowerOfTen(int n) {
  if (n < 0 || n > 38) {
    throw DecimalError(DecimalErrorKind::kScaleOutOfRange, "10^" + std::to_string(n) + " is outside 10^0..10^38");
  }
  return kPow10[n];
}

// ---------------------------------------------------------------------------------------------
// Construction, parsing, formatting.

Decimal Decimal::FromParts(int128 coefficient, int scale) {
  CheckScale(scale);
  if (!InRange(coefficient)) FailOverflow("coefficient");
  return Decimal(coefficient, static_cast<std::uint8_t>(scale), 0);
}

namespace {

std::string Describe(std::string_view text, std::size_t i) {
  if (i >= text.size()) return "the end of the text";
  unsigned char c = static_cast<unsigned char>(text[i]);
  if (c == ' ') return "a space";
  if (c == '\t') return "a tab";
  if (c == '\n' || c == '\r') return "a line break";
  if (c >= 0x21 && c < 0x7f) return std::string("`") + static_cast<char>(c) + "`";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

DecimalParseResult ParseFailure(std::string_view text, std::size_t offset, const std::string& expected) {
  DecimalParseResult r;
  r.error_offset = offset;
  r.error = "expected " + expected + ", found " + Describe(text, offset);
  return r;
}

DecimalParseResult RangeFailure(std::size_t offset, std::string message) {
  DecimalParseResult r;
  r.error_offset = offset;
  r.error = std::move(message);
  return r;
}

}  // namespace

DecimalParseResult Decimal::Parse(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool negative = false;
  if (i < n && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  uint128 coefficient = 0;
  int significant = 0;      // digits in the coefficient, leading zeros excluded
  int fraction_digits = 0;  // digits after the point
  std::size_t first_excess_fraction = 0;  // offset of the 39th fractional digit, if any

  // One run of digits with `_` separators between digits. `fraction` counts scale.
  auto digit_run = [&](bool fraction, const char* expected) -> std::optional<DecimalParseResult> {
    if (i >= n || !IsDigit(text[i])) return ParseFailure(text, i, expected);
    while (true) {
      char c = text[i];
      if (significant > 0 || c != '0') {
        if (significant == kMaxDigits) {
          return RangeFailure(i, "more than 38 significant digits; a decimal holds at most 38");
        }
        coefficient = coefficient * 10 + static_cast<unsigned>(c - '0');
        ++significant;
      }
      if (fraction) {
        ++fraction_digits;
        if (fraction_digits == kMaxScale + 1) first_excess_fraction = i;
      }
      ++i;
      if (i < n && text[i] == '_') {
        ++i;
        if (i >= n || !IsDigit(text[i])) return ParseFailure(text, i, "a digit after `_`");
        continue;
      }
      if (i >= n || !IsDigit(text[i])) return std::nullopt;
    }
  };

  if (i >= n || !IsDigit(text[i])) {
    return ParseFailure(text, i, i == 0 ? "a digit, `+` or `-`" : "a digit after the sign");
  }
  if (auto failure = digit_run(false, "a digit")) return *failure;
  if (i < n && text[i] == '.') {
    ++i;
    if (auto failure = digit_run(true, "a digit after `.`")) return *failure;
  }
  long long exponent = 0;
  std::size_t exponent_offset = n;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    exponent_offset = i;
    ++i;
    bool exponent_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) {
      exponent_negative = text[i] == '-';
      ++i;
    }
    if (i >= n || !IsDigit(text[i])) return ParseFailure(text, i, "the exponent's digits");
    while (i < n && IsDigit(text[i])) {
      if (exponent < 100000) exponent = exponent * 10 + (text[i] - '0');  // saturates; range is checked below
      ++i;
    }
    if (exponent_negative) exponent = -exponent;
  }
  if (i < n) {
    bool has_point = fraction_digits > 0;
    const char* expected = exponent_offset < n ? "the end of the number"
                           : has_point         ? "a digit, an exponent or the end of the number"
                                               : "a digit, `.`, an exponent or the end of the number";
    return ParseFailure(text, i, expected);
  }

  long long scale = static_cast<long long>(fraction_digits) - exponent;
  if (scale > kMaxScale) {
    if (exponent_offset == n) {
      return RangeFailure(first_excess_fraction, "more than 38 digits after the decimal point");
    }
    return RangeFailure(exponent_offset, "the exponent gives scale " + std::to_string(scale) +
                                             "; a decimal holds at most 38 digits after the point");
  }
  if (scale < 0) {
    if (coefficient != 0) {
      if (significant - scale > kMaxDigits) {
        return RangeFailure(exponent_offset, "the exponent makes the value " +
                                                 std::to_string(significant - scale) +
                                                 " digits long; a decimal holds at most 38");
      }
      coefficient *= kPow10[-scale];
    }
    scale = 0;
  }
  DecimalParseResult r;
  r.value = Decimal(Signed(coefficient, negative), static_cast<std::uint8_t>(scale), 0);
  return r;
}

Decimal Decimal::FromString(std::string_view text) {
  DecimalParseResult r = Parse(text);
  if (!r.value) {
    throw DecimalError(DecimalErrorKind::kParse, "not a decimal number at offset " +
                                                     std::to_string(r.error_offset) + ": " + r.error);
  }
  return *r.value;
}

int Decimal::digits() const { return DigitCount(Magnitude(coefficient_)); }

std::string Decimal::ToString() const {
  // 38 digits, a point, a sign and a leading zero fit in 41 bytes.
  char buffer[48];
  char* end = buffer + sizeof buffer;
  char* p = end;
  uint128 m = Magnitude(coefficient_);
  int written = 0;
  while (m >= kU64Limit) {  // peel 19 digits at a time while above 64 bits
    u64 chunk = static_cast<u64>(m % kPow10_19);
    m /= kPow10_19;
    for (int k = 0; k < 19; ++k) {
      if (written == scale_ && scale_ > 0) *--p = '.';
      *--p = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
      ++written;
    }
  }
  u64 small = static_cast<u64>(m);
  while (small != 0 || written <= scale_) {
    if (written == scale_ && scale_ > 0) *--p = '.';
    *--p = static_cast<char>('0' + small % 10);
    small /= 10;
    ++written;
  }
  if (coefficient_ < 0) *--p = '-';
  return std::string(p, end);
}

// ---------------------------------------------------------------------------------------------
// Exact arithmetic.

namespace {

// c × 10^n when the result is a valid coefficient (|result| < 10^38); false otherwise.
inline bool ScaleUp(int128 c, int n, int128* out) {
  if (n == 0) {
    *out = c;
    return true;
  }
  uint128 m = Magnitude(c);
  uint128 p = kPow10[n];
  uint128 r;
  if (FitsU64(m) && FitsU64(p)) {
    r = static_cast<uint128>(static_cast<u64>(m)) * static_cast<u64>(p);
  } else if (__builtin_mul_overflow(m, p, &r)) {
    return false;
  }
  if (r > kMaxCoefficient) return false;
  *out = Signed(r, c < 0);
  return true;
}

}  // namespace

bool Decimal::TryAddGeneral(const Decimal& a, const Decimal& b, Decimal* out) {
  const int s = a.scale_ < b.scale_ ? b.scale_ : a.scale_;
  int128 x = a.coefficient_, y = b.coefficient_;
  bool aligned = a.scale_ == b.scale_ ||
                 (a.scale_ < b.scale_ ? ScaleUp(x, b.scale_ - a.scale_, &x) : ScaleUp(y, a.scale_ - b.scale_, &y));
  int128 sum;
  if (aligned && !__builtin_add_overflow(x, y, &sum) && InRange(sum)) {
    *out = Decimal(sum, static_cast<std::uint8_t>(s), 0);
    return true;
  }
  // Slow path: exact in 256 bits, then the largest scale that fits.
  Wide w = AddWide(Widen(a, s), Widen(b, s));
  int128 c;
  int fitted;
  if (!FitExact(w, &c, &fitted)) return false;
  *out = Decimal(c, static_cast<std::uint8_t>(fitted), 0);
  return true;
}

bool Decimal::TryMultiplyGeneral(const Decimal& a, const Decimal& b, Decimal* out) {
  int scale = a.scale_ + b.scale_;
  if (scale <= kMaxScale) {
    int128 p;
    bool ok;
    if (FitsI64(a.coefficient_) && FitsI64(b.coefficient_)) {
      p = static_cast<int128>(static_cast<i64>(a.coefficient_)) * static_cast<i64>(b.coefficient_);
      ok = true;
    } else {
      ok = !__builtin_mul_overflow(a.coefficient_, b.coefficient_, &p);
    }
    if (ok && InRange(p)) {
      *out = Decimal(p, static_cast<std::uint8_t>(scale), 0);
      return true;
    }
  }
  Wide w{a.is_negative() != b.is_negative(), Mul(Magnitude(a.coefficient_), Magnitude(b.coefficient_)), scale};
  if (w.magnitude.IsZero()) w.negative = false;
  int128 c;
  int fitted;
  if (!FitExact(w, &c, &fitted)) return false;
  *out = Decimal(c, static_cast<std::uint8_t>(fitted), 0);
  return true;
}

void Decimal::ThrowOverflow(const char* what, const char* op, const Decimal& a, const Decimal& b) {
  FailOverflow(std::string("the ") + what + " " + a.ToString() + op + b.ToString());
}

Decimal Decimal::operator-() const { return Decimal(-coefficient_, scale_, 0); }

Decimal Decimal::Abs() const { return coefficient_ < 0 ? -*this : *this; }

int Decimal::Compare(const Decimal& a, const Decimal& b) {
  if (a.scale_ == b.scale_) return (a.coefficient_ > b.coefficient_) - (a.coefficient_ < b.coefficient_);
  int sa = a.sign(), sb = b.sign();
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  uint128 ma = Magnitude(a.coefficient_), mb = Magnitude(b.coefficient_);
  int magnitude_order;
  // Scale the one with fewer fractional digits up; if that overflows it is the larger.
  if (a.scale_ < b.scale_) {
    uint128 x;
    magnitude_order = __builtin_mul_overflow(ma, kPow10[b.scale_ - a.scale_], &x) ? 1 : (x > mb) - (x < mb);
  } else {
    uint128 y;
    magnitude_order = __builtin_mul_overflow(mb, kPow10[a.scale_ - b.scale_], &y) ? -1 : (ma > y) - (ma < y);
  }
  return sa > 0 ? magnitude_order : -magnitude_order;
}

// ---------------------------------------------------------------------------------------------
// Rounding operations.

namespace {

// A signed magnitude checked against 38 digits.
Decimal Checked(bool negative, const U256& magnitude, int scale, const char* what) {
  if (!magnitude.Fits128() || magnitude.Low128() > kMaxCoefficient) FailOverflow(what);
  return Decimal::FromParts(Signed(magnitude.Low128(), negative), scale);
}

// The wide exact value rounded once to `scale`.
Decimal RoundWideToScale(const Wide& w, int scale, RoundingMode mode, const char* what) {
  U256 m = w.magnitude;
  if (scale >= w.scale) {
    if (!MulPow10(&m, scale - w.scale)) FailOverflow(what);
  } else {
    m = RoundedQuotientPow10(m, w.scale - scale, mode, w.negative);
  }
  return Checked(w.negative && !m.IsZero(), m, scale, what);
}

void CheckDigits(int digits) {
  if (digits < 1 || digits > Decimal::kMaxDigits) {
    throw DecimalError(DecimalErrorKind::kScaleOutOfRange,
                       "precision " + std::to_string(digits) + " is outside 1..38 digits");
  }
}

// m × 10^exponent as a Decimal: at scale -exponent, or at scale 0 for a positive exponent.
Decimal Materialize(bool negative, U256 m, int exponent, const char* what) {
  negative = negative && !m.IsZero();
  if (exponent <= 0) {
    if (-exponent > Decimal::kMaxScale) {
      throw DecimalError(DecimalErrorKind::kScaleOutOfRange,
                         std::string(what) + " needs scale " + std::to_string(-exponent) + ", above 38");
    }
    return Checked(negative, m, -exponent, what);
  }
  if (!m.IsZero() && (exponent > Decimal::kMaxDigits || !MulPow10(&m, exponent))) FailOverflow(what);
  return Checked(negative, m, 0, what);
}

// The wide exact value rounded once to at most `digits` significant digits; see RoundToDigits.
Decimal RoundWideToDigits(const Wide& w, int digits, RoundingMode mode, int* exponent_out, const char* what) {
  CheckDigits(digits);
  U256 m = w.magnitude;
  int exponent = -w.scale;
  int have = DigitCount(m);
  if (have > digits) {
    int drop = have - digits;
    m = RoundedQuotientPow10(m, drop, mode, w.negative);
    exponent += drop;
    if (Compare256(m, kPow10Wide[digits]) == 0) {  // carried into a new digit: 99.9 → 100
      DivModSmall(&m, 10);
      ++exponent;
    }
  }
  if (exponent_out != nullptr) *exponent_out = exponent;
  return Materialize(w.negative, m, exponent, what);
}

}  // namespace

Decimal Decimal::Rescale(int scale, RoundingMode mode) const {
  CheckScale(scale);
  if (scale == scale_) return *this;
  if (scale > scale_) {
    int128 c;
    if (!ScaleUp(coefficient_, scale - scale_, &c)) {
      FailOverflow(ToString() + " at scale " + std::to_string(scale));
    }
    return Decimal(c, static_cast<std::uint8_t>(scale), 0);
  }
  int drop = scale_ - scale;
  bool negative = coefficient_ < 0;
  uint128 m = Magnitude(coefficient_);
  uint128 q;
  if (FitsU64(m) && drop <= 19) {
    q = RoundedQuotient<u64>(static_cast<u64>(m), static_cast<u64>(kPow10[drop]), mode, negative);
  } else {
    q = RoundedQuotient<uint128>(m, kPow10[drop], mode, negative);
  }
  return Decimal(Signed(q, negative), static_cast<std::uint8_t>(scale), 0);  // q <= m: always fits
}

Decimal Decimal::MultiplyRounded(const Decimal& a, const Decimal& b, int scale, RoundingMode mode) {
  CheckScale(scale);
  const bool negative = a.is_negative() != b.is_negative();
  const int product_scale = a.scale_ + b.scale_;
  const uint128 ma = Magnitude(a.coefficient_), mb = Magnitude(b.coefficient_);
  if (FitsU64(ma) && FitsU64(mb)) {
    // Fast path: the exact product fits in 128 bits.
    uint128 p = static_cast<uint128>(static_cast<u64>(ma)) * static_cast<u64>(mb);
    uint128 q;
    if (scale >= product_scale) {
      if (__builtin_mul_overflow(p, kPow10[scale - product_scale], &q) || q > kMaxCoefficient) {
        FailOverflow("the product " + a.ToString() + " * " + b.ToString() + " at scale " + std::to_string(scale));
      }
      return Decimal(Signed(q, negative), static_cast<std::uint8_t>(scale), 0);
    }
    int drop = product_scale - scale;
    if (drop <= 38) {
      q = FitsU64(p) && drop <= 19
              ? RoundedQuotient<u64>(static_cast<u64>(p), static_cast<u64>(kPow10[drop]), mode, negative)
              : RoundedQuotient<uint128>(p, kPow10[drop], mode, negative);
      if (q > kMaxCoefficient) {
        FailOverflow("the product " + a.ToString() + " * " + b.ToString() + " at scale " + std::to_string(scale));
      }
      return Decimal(Signed(q, negative && q != 0), static_cast<std::uint8_t>(scale), 0);
    }
  }
  Wide w{negative, Mul(ma, mb), product_scale};
  return RoundWideToScale(w, scale, mode, "the rounded product");
}

namespace {

// round(|a| / |b|) at `scale`: the exact quotient is |a| × 10^k / |b| with k = scale + b.scale −
// a.scale; formed with 128-bit division when it fits and 256-bit otherwise.
U256 QuotientAtScale(uint128 ma, int sa, uint128 mb, int sb, int scale, RoundingMode mode, bool negative,
                     bool* exact) {
  int k = scale + sb - sa;
  uint128 n = ma, d = mb;
  bool narrow = true;
  if (k > 0) narrow = k <= 38 && !__builtin_mul_overflow(ma, kPow10[k], &n);
  if (k < 0) narrow = -k <= 38 && !__builtin_mul_overflow(mb, kPow10[-k], &d);
  if (narrow) {
    uint128 q = n / d, r = n % d;
    if (exact != nullptr) *exact = r == 0;
    return U256::From(RoundsAway(mode, negative, q, r, d) ? q + 1 : q);
  }
  U256 wn = U256::From(ma), wd = U256::From(mb);
  if (k > 0 && !MulPow10(&wn, k)) {
    // The dividend passes 2^256: the quotient is at least 2^256 / 10^38, far beyond 38 digits.
    return kPow10Wide[kMaxPow256];
  }
  if (k < 0) MulPow10(&wd, -k);  // < 10^76
  U256 q, r;
  DivMod(wn, wd, &q, &r);
  if (exact != nullptr) *exact = r.IsZero();
  if (RoundsAway(mode, negative, q, r, wd)) q = Add(q, U256::From(1));
  return q;
}

void CheckDivisor(const Decimal& b) {
  if (b.is_zero()) throw DecimalError(DecimalErrorKind::kDivisionByZero, "division by zero");
}

}  // namespace

Decimal Decimal::Divide(const Decimal& a, const Decimal& b, int scale, RoundingMode mode) {
  CheckDivisor(b);
  CheckScale(scale);
  const bool negative = a.is_negative() != b.is_negative();
  const uint128 ma = Magnitude(a.coefficient_), mb = Magnitude(b.coefficient_);
  const int k = scale + b.scale_ - a.scale_;
  if (k >= 0 && k <= 19 && FitsU64(ma) && FitsU64(mb)) {
    // Fast path: 64-bit divisor, dividend below 2^128.
    uint128 n = static_cast<uint128>(static_cast<u64>(ma)) * static_cast<u64>(kPow10[k]);
    if (FitsU64(n)) {
      u64 q = RoundedQuotient<u64>(static_cast<u64>(n), static_cast<u64>(mb), mode, negative);
      return Decimal(Signed(q, negative && q != 0), static_cast<std::uint8_t>(scale), 0);
    }
    uint128 q = RoundedQuotient<uint128>(n, mb, mode, negative);
    if (q <= kMaxCoefficient) return Decimal(Signed(q, negative && q != 0), static_cast<std::uint8_t>(scale), 0);
  }
  U256 q = QuotientAtScale(ma, a.scale_, mb, b.scale_, scale, mode, negative, nullptr);
  return Checked(negative && !q.IsZero(), q, scale, "the quotient");
}

bool Decimal::TryDivideExact(const Decimal& a, const Decimal& b, Decimal* out) {
  CheckDivisor(b);
  const int min_scale = a.scale_ > b.scale_ ? a.scale_ - b.scale_ : 0;
  if (a.is_zero()) {
    *out = Decimal(0, static_cast<std::uint8_t>(min_scale), 0);
    return true;
  }
  uint128 x = Magnitude(a.coefficient_), y = Magnitude(b.coefficient_);
  // Reduce the fraction; what is left of the divisor must be 2^i × 5^j for the quotient to end.
  uint128 g = x, h = y;
  while (h != 0) {
    uint128 t = g % h;
    g = h;
    h = t;
  }
  x /= g;
  y /= g;
  int twos = static_cast<u64>(y) != 0 ? __builtin_ctzll(static_cast<u64>(y))
                                       : 64 + __builtin_ctzll(static_cast<u64>(y >> 64));
  y >>= twos;
  int fives = 0;
  while (y % 5 == 0) {
    y /= 5;
    ++fives;
  }
  if (y != 1) return false;
  // x / (2^twos 5^fives) = x × 2^(m−twos) × 5^(m−fives) / 10^m with m = max(twos, fives).
  int m = twos > fives ? twos : fives;
  int scale = a.scale_ - b.scale_ + m;
  if (scale > kMaxScale) return false;
  U256 c = U256::From(x);
  bool fits = true;
  for (int i = twos; i < m && fits; ++i) fits = MulSmall(&c, 2);
  for (int i = fives; i < m && fits; ++i) fits = MulSmall(&c, 5);
  if (fits && scale < min_scale) {
    fits = MulPow10(&c, min_scale - scale);
    scale = min_scale;
  }
  if (!fits) return false;  // past 2^256, so far past 38 digits
  if (scale > kMaxScale || !c.Fits128() || c.Low128() > kMaxCoefficient) return false;
  *out = Decimal(Signed(c.Low128(), a.is_negative() != b.is_negative()), static_cast<std::uint8_t>(scale), 0);
  return true;
}

Decimal Decimal::RoundToDigits(int digits, RoundingMode mode, int* exponent_out) const {
  Wide w{coefficient_ < 0, U256::From(Magnitude(coefficient_)), scale_};
  return RoundWideToDigits(w, digits, mode, exponent_out, "the rounded value");
}

Decimal Decimal::AddToDigits(const Decimal& a, const Decimal& b, int digits, RoundingMode mode, int* exponent_out) {
  const int s = a.scale_ < b.scale_ ? b.scale_ : a.scale_;
  return RoundWideToDigits(AddWide(Widen(a, s), Widen(b, s)), digits, mode, exponent_out, "the rounded sum");
}

Decimal Decimal::MultiplyToDigits(const Decimal& a, const Decimal& b, int digits, RoundingMode mode,
                                  int* exponent_out) {
  Wide w{a.is_negative() != b.is_negative(), Mul(Magnitude(a.coefficient_), Magnitude(b.coefficient_)),
         a.scale_ + b.scale_};
  return RoundWideToDigits(w, digits, mode, exponent_out, "the rounded product");
}

Decimal Decimal::DivideToDigits(const Decimal& a, const Decimal& b, int digits, RoundingMode mode,
                                int* exponent_out) {
  CheckDivisor(b);
  CheckDigits(digits);
  const bool negative = a.is_negative() != b.is_negative();
  const int ideal_exponent = b.scale_ - a.scale_;
  if (a.is_zero()) {
    if (exponent_out != nullptr) *exponent_out = ideal_exponent;
    return Decimal(0, static_cast<std::uint8_t>(ideal_exponent < 0 ? -ideal_exponent : 0), 0);
  }
  const uint128 ma = Magnitude(a.coefficient_), mb = Magnitude(b.coefficient_);
  const int da = DigitCount(ma), db = DigitCount(mb);
  // Exponent of the quotient's leading digit: compare the coefficients as mantissas in [1, 10).
  int adjusted = da - db + b.scale_ - a.scale_;
  if (Compare256(Mul(ma, kPow10[db]), Mul(mb, kPow10[da])) < 0) --adjusted;
  int scale = digits - 1 - adjusted;  // the scale that gives exactly `digits` digits
  bool exact = false;
  U256 q = QuotientAtScale(ma, a.scale_, mb, b.scale_, scale, mode, negative, &exact);
  if (Compare256(q, kPow10Wide[digits]) == 0) {  // rounding carried: 9.99… → 10.0…
    DivModSmall(&q, 10);
    --scale;
  }
  if (exact) {
    // An exact quotient gives back trailing zeros down to the ideal exponent.
    while (-scale < ideal_exponent && LastDigit(q) == 0) {
      DivModSmall(&q, 10);
      --scale;
    }
  }
  if (exponent_out != nullptr) *exponent_out = -scale;
  return Materialize(negative, q, -scale, "the rounded quotient");
}

Decimal Decimal::Normalized() const {
  int128 c = coefficient_;
  int s = scale_;
  while (s > 0 && c % 10 == 0) {
    c /= 10;
    --s;
  }
  return Decimal(c, static_cast<std::uint8_t>(s), 0);
}

}  // namespace tariff
