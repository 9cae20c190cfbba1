// runtime/io: pieces shared by the CSV and JSON Lines readers (not a public header).
//
// Flow of one row: a RowSource (csv_reader.cc, jsonl_reader.cc) cuts the next record out of a
// ChunkedFile's buffer, names its event type and hands each value to RowBuilder::Set, which
// parses it into a typed Slot (string_views into the buffer; nothing is allocated for a valid
// row until it is appended to the batch). The reader (usage_reader.cc) then checks the period,
// the duplicate key and the batch's event type, and appends the row's slots to the columns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/columnar/batch.h"
#include "runtime/decimal/decimal.h"
#include "runtime/io/usage_reader.h"

namespace tariff::io_internal {

// A file read in chunks into one buffer that holds at least the record being parsed. The buffer
// starts at kChunk bytes and grows (doubling) only for a record longer than it, up to
// max_row_bytes; memory is therefore bounded by the longest row, not by the file.
class ChunkedFile {
 public:
  static constexpr std::size_t kChunk = std::size_t{1} << 20;

  ChunkedFile() = default;
  ~ChunkedFile();
  ChunkedFile(const ChunkedFile&) = delete;
  ChunkedFile& operator=(const ChunkedFile&) = delete;

  // Opens `path` ("-" is standard input). On failure returns false with the reason in *error.
  bool Open(const std::string& path, std::size_t max_row_bytes, std::string* error);

  const char* data() const { return buffer_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool eof() const { return eof_; }

  enum class Fill { kMore, kEof, kError };
  // Discards the bytes before `keep_from` (moving the rest to the front; the caller's offsets
  // shift by keep_from) and reads more. kEof when nothing more can be read, kError (with
  // *error set) on a read failure or when a single row would exceed max_row_bytes.
  Fill Refill(std::size_t keep_from, std::string* error);

 private:
  std::string path_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool eof_ = false;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::size_t max_row_bytes_ = 0;
};

// A value as a source found it. CSV values are all kString; JSON gives the rest.
enum class ValueKind : std::uint8_t { kString, kNumber, kBool, kNull, kObject, kArray };

// One parsed field of the row being built.
struct Slot {
  Decimal decimal;
  std::int64_t time = 0;
  bool boolean = false;
  std::string_view text;  // into the file buffer, a scratch buffer, or the schema (enums)
  bool present = false;
};

// Builds one row of one event type from values, validating each against its FieldSchema.
class RowBuilder {
 public:
  explicit RowBuilder(const std::vector<EventSchema>& schemas);

  // Starts a row of event `event`.
  void Begin(int event);
  int event() const { return event_; }
  const EventSchema& schema() const { return (*schemas_)[static_cast<std::size_t>(event_)]; }
  const std::vector<Slot>& slots() const { return slots_; }
  bool has(int field) const { return slots_[static_cast<std::size_t>(field)].present; }

  // Parses `text` (of JSON kind `kind`; kBool text is "true"/"false") into field `field`.
  // kNull leaves the field absent. On failure returns false with the reason in *reason.
  bool Set(int field, ValueKind kind, std::string_view text, std::string* reason);

  // After every value: the first absent field as "missing field `x`", or true.
  bool CheckComplete(std::string* reason) const;

 private:
  const std::vector<EventSchema>* schemas_;
  int event_ = -1;
  std::vector<Slot> slots_;
};

// What a source found next.
enum class RowStatus : std::uint8_t {
  kRow,     // a complete, valid row is in the RowBuilder (event and slots)
  kReject,  // a row that cannot be rated: reason in *reason, line in line()
  kEnd,     // the file is exhausted
  kFatal,   // the file cannot be read further: message in *reason
};

// One open usage file.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // Reads the next row. For kRow and kReject, line() is the 1-based line where it starts.
  virtual RowStatus Read(RowBuilder& row, std::string* reason) = 0;
  // Puts back the row Read just returned (kRow only), so that the next Read returns it again.
  virtual void Unread() = 0;
  virtual std::uint64_t line() const = 0;
};

struct SourceContext {
  const std::string* path = nullptr;  // what to open ("-": standard input)
  const std::string* name = nullptr;  // what messages call it ("<stdin>" for "-")
  const std::vector<EventSchema>* schemas = nullptr;
  const UsageReaderOptions* options = nullptr;
};

std::unique_ptr<RowSource> OpenCsv(const SourceContext& context, std::string* error);
std::unique_ptr<RowSource> OpenJsonl(const SourceContext& context, std::string* error);

// Helpers shared by the sources.

// `value` for a message: back-quoted, at most 64 bytes (then `…`), control characters and
// invalid UTF-8 shown as \xNN.
std::string Shown(std::string_view value);
// The index of the schema named `name`, or -1.
int FindEvent(const std::vector<EventSchema>& schemas, std::string_view name);
// "unknown event type `x` (expected one of: a, b)" and friends.
std::string UnknownEventReason(const std::vector<EventSchema>& schemas, std::string_view name);
std::string MissingEventReason(const std::vector<EventSchema>& schemas, const std::string& column);
// "a, b, c": the field names of an event.
std::string FieldList(const EventSchema& schema);
// Whether `text` is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF); when not, the
// offset of the first bad byte in *bad.
bool ValidUtf8(std::string_view text, std::size_t* bad);

}  // namespace tariff::io_internal
