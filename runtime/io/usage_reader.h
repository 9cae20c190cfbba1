// runtime/io: streaming usage readers. CSV (RFC 4180) and JSON Lines files are read in bounded
// batches of typed columns (runtime/columnar); numbers are parsed exactly as decimals, never
// through a float; timestamps are RFC 3339. A row that cannot be rated is never dropped
// silently: it becomes a Reject with its file, line and reason.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/columnar/batch.h"
#include "runtime/columnar/timestamp.h"

namespace tariff {

enum class UsageFormat : std::uint8_t { kCsv, kJsonLines };

// A row that was not rated.
struct Reject {
  std::string file;
  std::uint64_t line = 0;
  std::string reason;  // e.g. "field `tokens_in`: `12x` is not a number"
};

struct UsageReaderOptions {
  std::size_t batch_size = 4096;
  // Rows whose time is outside [period_start, period_end) are rejected ("outside the period").
  // Microseconds since the Unix epoch; absent: no bound.
  std::optional<std::int64_t> period_start;
  std::optional<std::int64_t> period_end;
  // The CSV column / JSON member that names the event type of a row. Required when there is
  // more than one schema; with one schema it may be absent from the data.
  std::string event_column = "event";
  // Rejects kept in rejects() (the rest are only counted in rows_rejected()), so that a file of
  // bad rows cannot exhaust memory. Default: keep all.
  std::size_t max_rejects_kept = static_cast<std::size_t>(-1);
  // The longest row (bytes, including its line break) the reader will hold; a longer one (often
  // a missing closing quote) is a fatal error. Memory is bounded by this and batch_size.
  std::size_t max_row_bytes = std::size_t{64} << 20;
};

// Reads usage files one after another. Not thread-safe; one reader per stream.
class UsageReader {
 public:
  virtual ~UsageReader() = default;

  // Fills `batch` with up to batch_size rows of ONE event type (rows of another type end the
  // batch early and start the next one; order within a type is kept). Returns false when every
  // file is exhausted and nothing was put in `batch`.
  virtual bool Next(Batch& batch) = 0;

  // Rows rejected so far (in file and line order), and the counts: read = rows returned in
  // batches + rejected + duplicates, always (blank lines and the CSV header are not rows).
  virtual const std::vector<Reject>& rejects() const = 0;
  virtual std::uint64_t rows_read() const = 0;
  virtual std::uint64_t rows_returned() const = 0;
  virtual std::uint64_t duplicates() const = 0;
  // Rows rejected so far; equals rejects().size() unless max_rejects_kept was reached.
  virtual std::uint64_t rows_rejected() const = 0;
  // A fatal problem (a file that cannot be opened or read, a CSV header naming a column no
  // event has, a row longer than max_row_bytes): empty when none. Rows gathered before the
  // error are still returned by that call; every later call returns false. Check error() after
  // the loop.
  virtual const std::string& error() const = 0;
  // The files, in order (RowOrigin::file indexes this).
  virtual const std::vector<std::string>& files() const = 0;
};

// Opens a reader over `paths` (each file's format from its extension: .csv, .jsonl, .ndjson;
// or `format` when given; "-" is standard input). `schemas` must outlive the reader. Files are
// opened lazily, one at a time, when Next reaches them. Duplicates: rows of an event with a key
// field whose key was already seen (in any file) are dropped and counted; the set of keys seen
// is the one part of the reader's memory that grows with the input. The formats and every
// reject reason: docs/invoice.md ("Usage input").
std::unique_ptr<UsageReader> OpenUsage(const std::vector<std::string>& paths,
                                       const std::vector<EventSchema>& schemas,
                                       const UsageReaderOptions& options,
                                       std::optional<UsageFormat> format = std::nullopt);

// ParseTimestamp and FormatTimestamp: runtime/columnar/timestamp.h.

}  // namespace tariff
