// tools/bench: what exactness costs. Decimal add, multiply, MultiplyRounded, Rescale, Divide,
// Parse and ToString against raw int64 and __int128 arithmetic on the same data: arrays of
// 4096 values, every result passed through benchmark::DoNotOptimize, items = operations.
// Results and the command that produced them: docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "runtime/decimal/decimal.h"

namespace {

using tariff::Decimal;
using tariff::int128;
using tariff::RoundingMode;

constexpr std::size_t kCount = 4096;

// Money-like data: amounts of up to 10^9 with 2 or 4 decimals and quantities of up to 10^6
// with 3 decimals. The raw integer arrays hold the very same coefficients.
struct Data {
  std::vector<std::int64_t> a64, b64;
  std::vector<int128> a128, b128;
  std::vector<Decimal> amounts;      // scale 2
  std::vector<Decimal> prices;       // scale 4
  std::vector<Decimal> quantities;   // scale 3
  std::vector<Decimal> wide;         // 30..38-digit coefficients, scale 20 (256-bit paths)
  std::vector<std::string> texts;    // amounts as text

  Data() {
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i < kCount; ++i) {
      std::int64_t a = static_cast<std::int64_t>(rng() % 100000000000ULL) - 50000000000LL;  // ±5×10^8.00
      std::int64_t b = static_cast<std::int64_t>(rng() % 1000000000ULL) + 1;
      a64.push_back(a);
      b64.push_back(b);
      a128.push_back(a);
      b128.push_back(b);
      amounts.push_back(Decimal::FromParts(a, 2));
      prices.push_back(Decimal::FromParts(static_cast<std::int64_t>(rng() % 10000000ULL) + 1, 4));
      quantities.push_back(Decimal::FromParts(static_cast<std::int64_t>(rng() % 1000000000ULL) + 1, 3));
      int128 w = static_cast<int128>(rng()) * static_cast<int128>(rng() % 1000000000000000000ULL + 1);
      if (w < 0) w = -w;
      wide.push_back(Decimal::FromParts(w % static_cast<int128>(tariff::PowerOfTen(38)), 20));
      texts.push_back(amounts.back().ToString());
    }
  }
};

const Data& TheData() {
  static const Data data;
  return data;
}

void Finish(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(kCount));
}

// ---- raw baselines --------------------------------------------------------------------------

void BM_Int64Add(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.a64[i] + d.b64[i]);
  }
  Finish(state);
}
BENCHMARK(BM_Int64Add);

void BM_Int64Multiply(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.a64[i] * d.b64[i]);
  }
  Finish(state);
}
BENCHMARK(BM_Int64Multiply);

void BM_Int128Add(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.a128[i] + d.b128[i]);
  }
  Finish(state);
}
BENCHMARK(BM_Int128Add);

void BM_Int128Multiply(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.a128[i] * d.b128[i]);
  }
  Finish(state);
}
BENCHMARK(BM_Int128Multiply);

// Overflow-checked int128 multiply, the minimum an exact type must do.
void BM_Int128MultiplyChecked(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) {
      int128 r;
      bool overflow = __builtin_mul_overflow(d.a128[i], d.b128[i], &r);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(overflow);
    }
  }
  Finish(state);
}
BENCHMARK(BM_Int128MultiplyChecked);

// ---- Decimal --------------------------------------------------------------------------------

void BM_DecimalAdd(benchmark::State& state) {  // same scale
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.amounts[i] + d.amounts[kCount - 1 - i]);
  }
  Finish(state);
}
BENCHMARK(BM_DecimalAdd);

void BM_DecimalAddMixedScale(benchmark::State& state) {  // scale 2 + scale 4
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.amounts[i] + d.prices[i]);
  }
  Finish(state);
}
BENCHMARK(BM_DecimalAddMixedScale);

void BM_DecimalTryAdd(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) {
      Decimal r;
      bool ok = Decimal::TryAdd(d.amounts[i], d.amounts[kCount - 1 - i], &r);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(ok);
    }
  }
  Finish(state);
}
BENCHMARK(BM_DecimalTryAdd);

void BM_DecimalMultiply(benchmark::State& state) {  // price × quantity, exact (scale 7)
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.prices[i] * d.quantities[i]);
  }
  Finish(state);
}
BENCHMARK(BM_DecimalMultiply);

void BM_DecimalMultiplyRounded(benchmark::State& state) {  // price × quantity → cents, half_even
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) {
      benchmark::DoNotOptimize(Decimal::MultiplyRounded(d.prices[i], d.quantities[i], 2, RoundingMode::kHalfEven));
    }
  }
  Finish(state);
}
BENCHMARK(BM_DecimalMultiplyRounded);

void BM_DecimalMultiplyRoundedWide(benchmark::State& state) {  // 38-digit operands: 256-bit product
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) {
      benchmark::DoNotOptimize(Decimal::MultiplyRounded(d.wide[i], d.wide[kCount - 1 - i], 2, RoundingMode::kHalfEven));
    }
  }
  Finish(state);
}
BENCHMARK(BM_DecimalMultiplyRoundedWide);

void BM_DecimalRescale(benchmark::State& state) {  // scale 4 → 2, half_even
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.prices[i].Rescale(2, RoundingMode::kHalfEven));
  }
  Finish(state);
}
BENCHMARK(BM_DecimalRescale);

void BM_DecimalDivide(benchmark::State& state) {  // amount ÷ quantity → scale 6
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) {
      benchmark::DoNotOptimize(Decimal::Divide(d.amounts[i], d.quantities[i], 6, RoundingMode::kHalfEven));
    }
  }
  Finish(state);
}
BENCHMARK(BM_DecimalDivide);

void BM_DecimalCompareMixedScale(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(Decimal::Compare(d.amounts[i], d.prices[i]));
  }
  Finish(state);
}
BENCHMARK(BM_DecimalCompareMixedScale);

void BM_DecimalParse(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(Decimal::Parse(d.texts[i]));
  }
  Finish(state);
}
BENCHMARK(BM_DecimalParse);

void BM_DecimalToString(benchmark::State& state) {
  const Data& d = TheData();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.amounts[i].ToString());
  }
  Finish(state);
}
BENCHMARK(BM_DecimalToString);

}  // namespace

BENCHMARK_MAIN();
