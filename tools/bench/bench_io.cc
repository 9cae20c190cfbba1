// tools/bench: how fast usage is read. A generated file of (customer, time, decimal, enum) rows —
// `cust-012345,2026-03-04T05:06:07Z,31384.246,us-east`, 51 bytes a row — is read end to end by
// the CSV and the JSON Lines reader (from the page cache; the file is written once per run in the
// temporary directory). Bytes and items (rows) per second are reported; the design asks that
// reading CSV never be the bottleneck of `tariff rate` (docs/benchmarks.md).
//   bench_io [--benchmark_filter=Csv] [TARIFF_BENCH_IO_MB=100]
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "runtime/columnar/batch.h"
#include "runtime/io/usage_reader.h"

namespace {

using tariff::Batch;
using tariff::ColumnType;
using tariff::EventSchema;
using tariff::FieldSchema;

std::size_t TargetBytes() {
  const char* mb = std::getenv("TARIFF_BENCH_IO_MB");
  return static_cast<std::size_t>(mb != nullptr ? std::atol(mb) : 100) * 1000 * 1000;
}

const std::vector<EventSchema>& Schemas() {
  static const std::vector<EventSchema> schemas = [] {
    EventSchema s;
    s.name = "usage";
    auto field = [](const char* name, ColumnType type, std::vector<std::string> values = {}) {
      FieldSchema f;
      f.name = name;
      f.type = type;
      f.enum_values = std::move(values);
      return f;
    };
    s.fields = {field("customer", ColumnType::kText), field("time", ColumnType::kTimestamp),
                field("gb", ColumnType::kDecimal), field("region", ColumnType::kText, {"eu-west", "us-east"})};
    s.customer_field = 0;
    s.time_field = 1;
    return std::vector<EventSchema>{s};
  }();
  return schemas;
}

// Writes the file once (per format) and removes it at exit.
const std::string& File(bool jsonl) {
  static std::string paths[2];
  std::string& path = paths[jsonl ? 1 : 0];
  if (!path.empty()) return path;
  path = (std::filesystem::temp_directory_path() /
          ("tariff-bench-io-" + std::to_string(::getpid()) + (jsonl ? ".jsonl" : ".csv")))
             .string();
  std::ofstream out(path, std::ios::binary);
  if (!jsonl) out << "customer,time,gb,region\n";
  std::mt19937_64 rng(1);
  std::string buffer;
  std::size_t total = 0;
  char line[160];
  const std::size_t target = TargetBytes();
  while (total < target) {
    const unsigned customer = static_cast<unsigned>(rng() % 100000);
    const unsigned second = static_cast<unsigned>(rng() % (31 * 86400));
    const auto whole = static_cast<unsigned long>(rng() % 100000);
    const auto fraction = static_cast<unsigned long>(rng() % 1000);
    const char* region = (rng() & 1) != 0 ? "eu-west" : "us-east";
    const int n =
        jsonl ? std::snprintf(line, sizeof line,
                              "{\"customer\":\"cust-%06u\",\"time\":\"2026-03-%02uT%02u:%02u:%02uZ\",\"gb\":%lu.%03lu,"
                              "\"region\":\"%s\"}\n",
                              customer, second / 86400 + 1, second / 3600 % 24, second / 60 % 60, second % 60, whole,
                              fraction, region)
              : std::snprintf(line, sizeof line, "cust-%06u,2026-03-%02uT%02u:%02u:%02uZ,%lu.%03lu,%s\n", customer,
                              second / 86400 + 1, second / 3600 % 24, second / 60 % 60, second % 60, whole, fraction,
                              region);
    buffer.append(line, static_cast<std::size_t>(n));
    total += static_cast<std::size_t>(n);
    if (buffer.size() > (1u << 20)) {
      out << buffer;
      buffer.clear();
    }
  }
  out << buffer;
  static const struct Cleanup {
    ~Cleanup() {
      for (const std::string& p : paths) {
        if (!p.empty()) std::remove(p.c_str());
      }
    }
  } cleanup;
  return path;
}

void Read(benchmark::State& state, bool jsonl) {
  const std::string& path = File(jsonl);
  const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(path));
  std::int64_t rows = 0;
  for (auto _ : state) {
    tariff::UsageReaderOptions options;
    std::unique_ptr<tariff::UsageReader> reader = tariff::OpenUsage({path}, Schemas(), options);
    Batch batch;
    while (reader->Next(batch)) {
      rows += static_cast<std::int64_t>(batch.size());
      benchmark::DoNotOptimize(batch.columns[2].decimals.data());
    }
    if (!reader->error().empty() || !reader->rejects().empty()) state.SkipWithError("the reader rejected rows");
  }
  state.SetBytesProcessed(bytes * static_cast<std::int64_t>(state.iterations()));
  state.SetItemsProcessed(rows);
}

void BM_ReadCsv(benchmark::State& state) { Read(state, false); }
void BM_ReadJsonl(benchmark::State& state) { Read(state, true); }

BENCHMARK(BM_ReadCsv)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_ReadJsonl)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
