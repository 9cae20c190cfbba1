// runtime/io: the usage reader — files in order, rows into batches of one event type, every row
// read accounted for as returned, rejected or duplicate. The formats are in csv_reader.cc and
// jsonl_reader.cc; what they share is here.
#include "runtime/io/usage_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/io/reader_internal.h"
#include "runtime/text/utf8.h"

namespace tariff {
namespace io_internal {

// ---------------------------------------------------------------------------------------------
// ChunkedFile

ChunkedFile::~ChunkedFile() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

bool ChunkedFile::Open(const std::string& path, std::size_t max_row_bytes, std::string* error) {
  path_ = path;
  if (path == "-") {
    fd_ = 0;
    owns_fd_ = false;
  } else {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) {
      *error = "cannot open `" + path + "`: " + std::strerror(errno);
      return false;
    }
    owns_fd_ = true;
    (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  max_row_bytes_ = std::max<std::size_t>(max_row_bytes, 64);
  capacity_ = std::min(kChunk, max_row_bytes_);
  buffer_ = std::make_unique<char[]>(capacity_);
  size_ = 0;
  eof_ = false;
  return true;
}

ChunkedFile::Fill ChunkedFile::Refill(std::size_t keep_from, std::string* error) {
  if (keep_from > 0) {
    std::memmove(buffer_.get(), buffer_.get() + keep_from, size_ - keep_from);
    size_ -= keep_from;
  }
  if (eof_) return Fill::kEof;
  if (size_ == capacity_) {
    // One row fills the whole buffer: grow it, up to the limit.
    if (capacity_ >= max_row_bytes_) {
      *error = "cannot read `" + path_ + "`: a row is longer than " + std::to_string(max_row_bytes_) +
               " bytes (the limit; is a quote or a line break missing?)";
      return Fill::kError;
    }
    const std::size_t grown = std::min(capacity_ * 2, max_row_bytes_);
    auto bigger = std::make_unique<char[]>(grown);
    std::memcpy(bigger.get(), buffer_.get(), size_);
    buffer_ = std::move(bigger);
    capacity_ = grown;
  }
  ssize_t n;
  do {
    n = ::read(fd_, buffer_.get() + size_, capacity_ - size_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    *error = "cannot read `" + path_ + "`: " + std::strerror(errno);
    return Fill::kError;
  }
  if (n == 0) {
    eof_ = true;
    return Fill::kEof;
  }
  size_ += static_cast<std::size_t>(n);
  return Fill::kMore;
}

// ---------------------------------------------------------------------------------------------
// Messages

std::string Shown(std::string_view value) {
  static constexpr std::size_t kMax = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "`";
  std::size_t i = 0;
  while (i < value.size()) {
    if (i >= kMax) {
      out += "…";
      break;
    }
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A valid multi-byte UTF-8 sequence is kept as it is; anything else is shown as \xNN.
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    std::size_t bad = 0;
    if (len > 0 && i + len <= value.size() && ValidUtf8(value.substr(i, len), &bad)) {
      out.append(value.substr(i, len));
      i += len;
      continue;
    }
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
    ++i;
  }
  out += '`';
  return out;
}

int FindEvent(const std::vector<EventSchema>& schemas, std::string_view name) {
  for (std::size_t i = 0; i < schemas.size(); ++i) {
    if (schemas[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

std::string EventNames(const std::vector<EventSchema>& schemas) {
  std::string out;
  for (const EventSchema& s : schemas) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

}  // namespace

std::string UnknownEventReason(const std::vector<EventSchema>& schemas, std::string_view name) {
  if (schemas.size() == 1) return "unknown event type " + Shown(name) + " (expected `" + schemas[0].name + "`)";
  return "unknown event type " + Shown(name) + " (expected one of: " + EventNames(schemas) + ")";
}

std::string MissingEventReason(const std::vector<EventSchema>& schemas, const std::string& column) {
  return "missing field `" + column + "` (the event type, one of: " + EventNames(schemas) + ")";
}

std::string FieldList(const EventSchema& schema) {
  std::string out;
  for (const FieldSchema& f : schema.fields) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out;
}

bool ValidUtf8(std::string_view text, std::size_t* bad) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs, eight bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const std::size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      *bad = i;
      return false;
    }
    i += len;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// RowBuilder

RowBuilder::RowBuilder(const std::vector<EventSchema>& schemas) : schemas_(&schemas) {}

void RowBuilder::Begin(int event) {
  event_ = event;
  const std::size_t n = schema().fields.size();
  if (slots_.size() < n) slots_.resize(n);
  for (std::size_t i = 0; i < n; ++i) slots_[i].present = false;
}

namespace {

const char* KindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kString: return "a string";
    case ValueKind::kNumber: return "a number";
    case ValueKind::kBool: return "a boolean";
    case ValueKind::kNull: return "null";
    case ValueKind::kObject: return "an object";
    case ValueKind::kArray: return "an array";
  }
  return "a value";
}

// `[-]digits[.digits]` with at most 18 digits, the common case, in 64-bit arithmetic; the same
// value and scale as Decimal::Parse. False (nothing decided) for anything else.
inline bool ParseShortDecimal(std::string_view text, Decimal* out) {
  const char* p = text.data();
  const char* end = p + text.size();
  const bool negative = p < end && *p == '-';
  p += negative;
  if (end - p > 19 || p == end) return false;
  std::int64_t value = 0;
  int digits = 0;
  int scale = 0;
  const char* point = nullptr;
  for (; p < end; ++p) {
    const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(*p)) - '0';
    if (d <= 9) {
      if (++digits > 18) return false;
      value = value * 10 + d;
    } else if (*p == '.' && point == nullptr) {
      point = p;
    } else {
      return false;
    }
  }
  if (point != nullptr) {
    scale = static_cast<int>(end - point - 1);
    if (scale == 0 || point == text.data() + negative) return false;  // `5.` and `.5` are not numbers
  }
  *out = Decimal::FromParts(negative ? -value : value, scale);
  return true;
}

bool WrongType(const FieldSchema& field, const char* expected, ValueKind kind, std::string_view text,
               std::string* reason) {
  *reason = "field `" + field.name + "`: expected " + expected + ", got " + KindName(kind);
  if (kind == ValueKind::kNumber || kind == ValueKind::kBool || kind == ValueKind::kString) {
    *reason += " (" + Shown(text) + ")";
  }
  return false;
}

}  // namespace

bool RowBuilder::Set(int field, ValueKind kind, std::string_view text, std::string* reason) {
  if (kind == ValueKind::kNull) return true;  // absent; CheckComplete reports it
  const EventSchema& event = schema();
  const FieldSchema& f = event.fields[static_cast<std::size_t>(field)];
  Slot& slot = slots_[static_cast<std::size_t>(field)];
  switch (f.type) {
    case ColumnType::kDecimal: {
      if (kind != ValueKind::kString && kind != ValueKind::kNumber) return WrongType(f, "a number", kind, text, reason);
      if (ParseShortDecimal(text, &slot.decimal)) break;
      DecimalParseResult parsed = Decimal::Parse(text);
      if (!parsed.value) {
        *reason = "field `" + f.name + "`: " + Shown(text) + " is not a number (" + parsed.error + ")";
        return false;
      }
      slot.decimal = *parsed.value;
      break;
    }
    case ColumnType::kText: {
      if (kind != ValueKind::kString) return WrongType(f, "a string", kind, text, reason);
      if (!f.enum_values.empty()) {
        const std::string* found = nullptr;
        for (const std::string& v : f.enum_values) {
          if (v == text) {
            found = &v;
            break;
          }
        }
        if (found == nullptr) {
          *reason = "field `" + f.name + "`: " + Shown(text) + " is not one of ";
          for (std::size_t i = 0; i < f.enum_values.size(); ++i) {
            if (i > 0) *reason += ", ";
            *reason += "`" + f.enum_values[i] + "`";
          }
          return false;
        }
        slot.text = *found;  // interned: the schema's own string
        break;
      }
      std::size_t bad = 0;
      if (!ValidUtf8(text, &bad)) {
        *reason = "field `" + f.name + "`: " + Shown(text) + " is not valid UTF-8 (byte " + std::to_string(bad + 1) + ")";
        return false;
      }
      if (text.empty() && (field == event.customer_field || field == event.key_field)) {
        *reason = "field `" + f.name + "`: an empty " + (field == event.customer_field ? "customer id" : "key");
        return false;
      }
      slot.text = text;
      break;
    }
    case ColumnType::kBool: {
      if (kind != ValueKind::kBool && kind != ValueKind::kString) {
        return WrongType(f, "`true` or `false`", kind, text, reason);
      }
      if (text == "true") {
        slot.boolean = true;
      } else if (text == "false") {
        slot.boolean = false;
      } else {
        *reason = "field `" + f.name + "`: " + Shown(text) + " is not `true` or `false`";
        return false;
      }
      break;
    }
    case ColumnType::kTimestamp: {
      if (kind != ValueKind::kString) return WrongType(f, "an RFC 3339 timestamp string", kind, text, reason);
      std::string why;
      std::optional<std::int64_t> t = ParseTimestamp(text, &why);
      if (!t) {
        *reason = "field `" + f.name + "`: " + Shown(text) + " is not an RFC 3339 timestamp (" + why + ")";
        return false;
      }
      slot.time = *t;
      break;
    }
  }
  slot.present = true;
  return true;
}

bool RowBuilder::CheckComplete(std::string* reason) const {
  const EventSchema& event = schema();
  for (std::size_t i = 0; i < event.fields.size(); ++i) {
    if (!slots_[i].present) {
      *reason = "missing field `" + event.fields[i].name + "`";
      return false;
    }
  }
  return true;
}

}  // namespace io_internal

// -----------------------------------------------------------------------------------------------
// The reader

namespace {

using io_internal::RowBuilder;
using io_internal::RowSource;
using io_internal::RowStatus;

bool EndsWith(const std::string& text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    char c = text[text.size() - suffix.size() + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

class Reader final : public UsageReader {
 public:
  Reader(const std::vector<std::string>& paths, const std::vector<EventSchema>& schemas,
         const UsageReaderOptions& options, std::optional<UsageFormat> format)
      : files_(paths), schemas_(schemas), options_(options), format_(format), row_(schemas) {
    if (schemas_.empty()) error_ = "no event schemas: the plan declares no events to read";
    for (const EventSchema& s : schemas_) {
      if (s.customer_field < 0 || s.time_field < 0) {
        error_ = "event `" + s.name + "` has no `customer` or `time` field";
      }
    }
  }

  bool Next(Batch& batch) override {
    if (batch.schema != nullptr) {
      batch.origins.clear();
      for (Column& c : batch.columns) c.clear();
    }
    if (!error_.empty()) return false;
    const std::size_t limit = std::max<std::size_t>(options_.batch_size, 1);
    std::string reason;
    while (true) {
      if (!source_ && !OpenNextFile()) break;
      const RowStatus status = source_->Read(row_, &reason);
      if (status == RowStatus::kEnd) {
        source_.reset();
        continue;
      }
      if (status == RowStatus::kFatal) {
        error_ = std::move(reason);
        source_.reset();
        return batch.size() > 0;  // rows already taken are returned; the next call returns false
      }
      if (status == RowStatus::kReject) {
        ++rows_read_;
        AddReject(std::move(reason));
        continue;
      }
      const EventSchema& schema = row_.schema();
      const std::int64_t t = row_.slots()[static_cast<std::size_t>(schema.time_field)].time;
      if ((options_.period_start && t < *options_.period_start) || (options_.period_end && t >= *options_.period_end)) {
        ++rows_read_;
        AddReject(OutsidePeriodReason(schema, t));
        continue;
      }
      if (batch.size() > 0 && row_.event() != batch.event) {
        source_->Unread();  // starts the next batch
        return true;
      }
      ++rows_read_;
      if (schema.key_field >= 0 && !FirstTimeSeen(schema)) {
        ++duplicates_;
        continue;
      }
      if (batch.size() == 0) {
        batch.Reset(&schema, row_.event());
        for (Column& c : batch.columns) c.reserve(limit);
        batch.origins.reserve(limit);
      }
      Append(batch);
      ++rows_returned_;
      if (batch.size() >= limit) return true;
    }
    return batch.size() > 0;
  }

  const std::vector<Reject>& rejects() const override { return rejects_; }
  std::uint64_t rows_read() const override { return rows_read_; }
  std::uint64_t rows_returned() const override { return rows_returned_; }
  std::uint64_t duplicates() const override { return duplicates_; }
  std::uint64_t rows_rejected() const override { return rows_rejected_; }
  const std::string& error() const override { return error_; }
  const std::vector<std::string>& files() const override { return files_; }

 private:
  bool OpenNextFile() {
    if (next_file_ >= files_.size()) return false;
    current_file_ = static_cast<std::uint32_t>(next_file_);
    const std::string& path = files_[next_file_++];
    UsageFormat format;
    if (format_) {
      format = *format_;
    } else if (EndsWith(path, ".csv")) {
      format = UsageFormat::kCsv;
    } else if (EndsWith(path, ".jsonl") || EndsWith(path, ".ndjson")) {
      format = UsageFormat::kJsonLines;
    } else {
      error_ = "cannot tell the format of `" + path + "` from its name (expected .csv, .jsonl or .ndjson)";
      return false;
    }
    name_ = path == "-" ? std::string("<stdin>") : path;
    io_internal::SourceContext context{&path, &name_, &schemas_, &options_};
    source_ = format == UsageFormat::kCsv ? io_internal::OpenCsv(context, &error_)
                                          : io_internal::OpenJsonl(context, &error_);
    return source_ != nullptr;
  }

  void AddReject(std::string reason) {
    ++rows_rejected_;
    if (rejects_.size() < options_.max_rejects_kept) {
      rejects_.push_back(Reject{name_, source_->line(), std::move(reason)});
    }
  }

  // "field `time`: `2026-04-01T00:00:00Z` is outside the period [2026-03-01T00:00:00Z, 2026-04-01T00:00:00Z)"
  std::string OutsidePeriodReason(const EventSchema& schema, std::int64_t t) const {
    return "field `" + schema.fields[static_cast<std::size_t>(schema.time_field)].name + "`: `" +
           FormatTimestamp(t) + "` is outside the period [" +
           (options_.period_start ? FormatTimestamp(*options_.period_start) : std::string("…")) + ", " +
           (options_.period_end ? FormatTimestamp(*options_.period_end) : std::string("…")) + ")";
  }

  // Records the row's key; false if it was seen before.
  bool FirstTimeSeen(const EventSchema& schema) {
    const io_internal::Slot& slot = row_.slots()[static_cast<std::size_t>(schema.key_field)];
    key_.clear();
    key_ += schema.name;
    key_ += '\0';
    switch (schema.fields[static_cast<std::size_t>(schema.key_field)].type) {
      case ColumnType::kText: key_.append(slot.text); break;
      case ColumnType::kDecimal: key_ += slot.decimal.Normalized().ToString(); break;
      case ColumnType::kBool: key_ += slot.boolean ? "true" : "false"; break;
      case ColumnType::kTimestamp: key_ += std::to_string(slot.time); break;
    }
    return seen_keys_.insert(key_).second;
  }

  void Append(Batch& batch) {
    const auto& slots = row_.slots();
    for (std::size_t i = 0; i < batch.columns.size(); ++i) {
      Column& c = batch.columns[i];
      const io_internal::Slot& s = slots[i];
      switch (c.type) {
        case ColumnType::kDecimal: c.decimals.push_back(s.decimal); break;
        case ColumnType::kText: c.texts.emplace_back(s.text); break;
        case ColumnType::kBool: c.bools.push_back(s.boolean ? 1 : 0); break;
        case ColumnType::kTimestamp: c.times.push_back(s.time); break;
      }
    }
    batch.origins.push_back(RowOrigin{current_file_, source_->line()});
  }

  std::vector<std::string> files_;
  const std::vector<EventSchema>& schemas_;
  UsageReaderOptions options_;
  std::optional<UsageFormat> format_;
  std::string name_;  // the current file as messages name it
  RowBuilder row_;
  std::size_t next_file_ = 0;
  std::uint32_t current_file_ = 0;
  std::unique_ptr<RowSource> source_;
  std::vector<Reject> rejects_;
  std::uint64_t rows_read_ = 0;
  std::uint64_t rows_returned_ = 0;
  std::uint64_t rows_rejected_ = 0;
  std::uint64_t duplicates_ = 0;
  std::string error_;
  std::unordered_set<std::string> seen_keys_;
  std::string key_;
};

}  // namespace

std::unique_ptr<UsageReader> OpenUsage(const std::vector<std::string>& paths, const std::vector<EventSchema>& schemas,
                                       const UsageReaderOptions& options, std::optional<UsageFormat> format) {
  return std::make_unique<Reader>(paths, schemas, options, format);
}

}  // namespace tariff
