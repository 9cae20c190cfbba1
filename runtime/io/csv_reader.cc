// runtime/io: CSV usage files (RFC 4180). A header row names the columns; each later record is
// one row. Records are cut out of the file buffer in place: a line without a quote is split
// with memchr (the common case, and the fast path); a line with quotes goes through a small
// state machine that follows quoted fields across line breaks and undoes `""` escapes into a
// scratch buffer. Values are string_views; nothing is copied for a valid row until the reader
// appends it to the batch.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/io/reader_internal.h"

namespace tariff::io_internal {

namespace {

class CsvSource final : public RowSource {
 public:
  explicit CsvSource(const SourceContext& context) : context_(context) {}

  bool Init(std::string* error);
  RowStatus Read(RowBuilder& row, std::string* reason) override;
  void Unread() override {
    pos_ = record_start_;
    line_ = record_line_;
  }
  std::uint64_t line() const override { return record_line_; }

 private:
  enum class Parse { kRecord, kBlank, kMalformed, kNeedMore, kEnd };
  enum class Record { kRecord, kMalformed, kEnd, kFatal };

  Record NextRecord(std::string* reason);
  Parse ParseRecord(std::string* reason);
  Parse ParseQuoted(const char* p, std::string* reason);
  bool Header(std::string* error);
  std::string Where() const { return *context_.name + ":" + std::to_string(record_line_) + ": "; }

  SourceContext context_;
  ChunkedFile file_;
  std::size_t pos_ = 0;
  std::uint64_t line_ = 1;
  std::size_t record_start_ = 0;
  std::uint64_t record_line_ = 1;
  std::vector<std::string_view> fields_;
  std::unique_ptr<char[]> scratch_;  // unescaped quoted values; never longer than the record
  std::size_t scratch_capacity_ = 0;
  std::size_t scratch_size_ = 0;

  std::vector<std::string> columns_;
  int event_column_ = -1;
  std::vector<std::vector<int>> column_field_;  // [event][column]: field index or -1
};

bool CsvSource::Init(std::string* error) {
  if (!file_.Open(*context_.path, context_.options->max_row_bytes, error)) return false;
  if (file_.Refill(0, error) == ChunkedFile::Fill::kError) return false;
  if (file_.size() >= 3 && std::memcmp(file_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;  // a UTF-8 BOM
  std::string reason;
  switch (NextRecord(&reason)) {
    case Record::kEnd: return true;  // an empty file: no header, no rows
    case Record::kFatal: *error = reason; return false;
    case Record::kMalformed: *error = Where() + "malformed header: " + reason; return false;
    case Record::kRecord: return Header(error);
  }
  return false;
}

bool CsvSource::Header(std::string* error) {
  const std::vector<EventSchema>& schemas = *context_.schemas;
  const std::string& event_name = context_.options->event_column;
  columns_.assign(fields_.begin(), fields_.end());
  column_field_.assign(schemas.size(), std::vector<int>(columns_.size(), -1));
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const std::string& name = columns_[i];
    if (name.empty()) {
      *error = Where() + "column " + std::to_string(i + 1) + " of the header has no name";
      return false;
    }
    if (std::find(columns_.begin(), columns_.begin() + static_cast<std::ptrdiff_t>(i), name) !=
        columns_.begin() + static_cast<std::ptrdiff_t>(i)) {
      *error = Where() + "column " + Shown(name) + " appears twice in the header";
      return false;
    }
    if (name == event_name) {
      event_column_ = static_cast<int>(i);
      continue;
    }
    bool known = false;
    for (std::size_t s = 0; s < schemas.size(); ++s) {
      column_field_[s][i] = schemas[s].FieldIndex(name);
      known = known || column_field_[s][i] >= 0;
    }
    if (!known) {
      // Every row would be rejected for it: stop before reading them.
      *error = Where() + "unknown column " + Shown(name) + ": no event has a field of that name (";
      for (std::size_t s = 0; s < schemas.size(); ++s) {
        if (s > 0) *error += "; ";
        *error += "event `" + schemas[s].name + "`: " + FieldList(schemas[s]);
      }
      *error += ")";
      return false;
    }
  }
  if (schemas.size() > 1 && event_column_ < 0) {
    *error = Where() + "no column `" + event_name + "`: the plan has several events (";
    for (std::size_t s = 0; s < schemas.size(); ++s) *error += (s > 0 ? ", " : "") + schemas[s].name;
    *error += "), so each row must name its event type";
    return false;
  }
  if (schemas.size() == 1) {
    // With one event every row needs every field: a missing column would reject them all.
    for (std::size_t f = 0; f < schemas[0].fields.size(); ++f) {
      if (std::find(column_field_[0].begin(), column_field_[0].end(), static_cast<int>(f)) == column_field_[0].end()) {
        *error = Where() + "no column `" + schemas[0].fields[f].name + "`: event `" + schemas[0].name +
                 "` needs every one of its fields (" + FieldList(schemas[0]) + ")";
        return false;
      }
    }
  }
  return true;
}

CsvSource::Record CsvSource::NextRecord(std::string* reason) {
  while (true) {
    if (scratch_capacity_ < file_.capacity()) {
      scratch_capacity_ = file_.capacity();
      scratch_ = std::make_unique<char[]>(scratch_capacity_);
    }
    record_start_ = pos_;
    record_line_ = line_;
    switch (ParseRecord(reason)) {
      case Parse::kRecord: return Record::kRecord;
      case Parse::kBlank: continue;
      case Parse::kMalformed: return Record::kMalformed;
      case Parse::kEnd: return Record::kEnd;
      case Parse::kNeedMore:
        if (file_.Refill(pos_, reason) == ChunkedFile::Fill::kError) return Record::kFatal;
        pos_ = 0;
        continue;
    }
  }
}

// The first `,`, `\n`, `\r` or `"` in [q, end), or end: 16 bytes at a time with SSE2.
inline const char* FindSpecial(const char* q, const char* end) {
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i quote = _mm_set1_epi8('"');
  while (end - q >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
                                      _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, quote)));
    const int mask = _mm_movemask_epi8(hits);
    if (mask != 0) return q + __builtin_ctz(static_cast<unsigned>(mask));
    q += 16;
  }
#endif
  while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"') ++q;
  return q;
}

// The record at pos_. On kRecord, kBlank and kMalformed, pos_ and line_ move past it; on
// kNeedMore nothing moves (the caller refills and the record is parsed again from its start).
// Fast path: a record without quotes is one physical line, split at its commas as it is scanned;
// at the first quote or lone CR the record goes to ParseQuoted instead.
CsvSource::Parse CsvSource::ParseRecord(std::string* reason) {
  const char* data = file_.data();
  const char* p = data + pos_;
  const char* end = data + file_.size();
  const bool eof = file_.eof();
  if (p == end) return eof ? Parse::kEnd : Parse::kNeedMore;

  fields_.clear();
  const char* field = p;
  const char* content_end;
  const char* next;
  while (true) {
    const char* special = FindSpecial(field, end);
    if (special == end) {
      if (!eof) return Parse::kNeedMore;
      content_end = next = end;  // the last record, without a line break
      break;
    }
    const char c = *special;
    if (c == ',') {
      fields_.emplace_back(field, static_cast<std::size_t>(special - field));
      field = special + 1;
      continue;
    }
    if (c == '\n') {
      content_end = special;
      next = special + 1;
      break;
    }
    if (c == '\r' && special + 1 < end && special[1] == '\n') {
      content_end = special;
      next = special + 2;
      break;
    }
    if (c == '\r' && special + 1 == end) {
      if (!eof) return Parse::kNeedMore;
      content_end = special;
      next = end;
      break;
    }
    return ParseQuoted(p, reason);  // a quote, or a lone CR
  }
  pos_ = static_cast<std::size_t>(next - data);
  ++line_;
  if (content_end == p) return Parse::kBlank;
  fields_.emplace_back(field, static_cast<std::size_t>(content_end - field));
  return Parse::kRecord;
}

// The slow path: a record with quoted values, which may span lines. A problem (a bare quote, text
// after a closing quote, a lone CR) makes the record malformed, but parsing goes on to the
// record's true end, so that the next record starts where RFC 4180 says it does.
CsvSource::Parse CsvSource::ParseQuoted(const char* p, std::string* reason) {
  const char* data = file_.data();
  const char* end = data + file_.size();
  const bool eof = file_.eof();
  fields_.clear();
  scratch_size_ = 0;
  std::string problem;  // the first one
  auto note = [&problem](std::string message) {
    if (problem.empty()) problem = std::move(message);
  };
  std::uint64_t lines = 0;  // line breaks inside quoted values so far
  const char* q = p;
  const char* next = nullptr;
  // Scans an unquoted value (or what follows a closing quote) to `,` or the end of the line.
  // Returns false when the data ends first and more may come.
  auto unquoted = [&](const char** value_end) {
    while (true) {
      while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"') ++q;
      if (q == end) {
        if (!eof) return false;
        *value_end = q;
        next = end;
        return true;
      }
      if (*q == '"') {
        note("column " + std::to_string(fields_.size() + 1) +
             ": a quote inside an unquoted value (quote the whole value and double the quote: `\"5\"\" screen\"`)");
        ++q;
        continue;
      }
      if (*q == '\r') {
        if (q + 1 == end && !eof) return false;
        if (q + 1 < end && q[1] != '\n') {
          note("column " + std::to_string(fields_.size() + 1) +
               ": a carriage return inside a value (line breaks are LF or CRLF)");
          ++q;
          continue;
        }
      }
      *value_end = q;
      if (*q == ',') {
        ++q;
      } else if (*q == '\n') {
        next = q + 1;
      } else {  // CR LF, or a CR that ends the file
        next = q + 1 < end ? q + 2 : end;
      }
      return true;
    }
  };
  while (next == nullptr) {
    if (q == end) {  // after a comma at the end of the data
      if (!eof) return Parse::kNeedMore;
      fields_.emplace_back();
      next = end;
      break;
    }
    if (*q == '"') {
      ++q;
      const char* segment = q;
      char* out = nullptr;  // set once an escaped quote forces a copy
      char* out_start = nullptr;
      while (true) {
        const auto* quote = static_cast<const char*>(std::memchr(q, '"', static_cast<std::size_t>(end - q)));
        if (quote == nullptr) {
          if (!eof) return Parse::kNeedMore;
          pos_ = static_cast<std::size_t>(end - data);
          line_ += lines + static_cast<std::uint64_t>(std::count(q, end, '\n')) + 1;
          *reason = "column " + std::to_string(fields_.size() + 1) + ": a quoted value is never closed";
          return Parse::kMalformed;
        }
        lines += static_cast<std::uint64_t>(std::count(q, quote, '\n'));
        if (quote + 1 == end && !eof) return Parse::kNeedMore;  // `""` or the closing quote?
        if (quote + 1 < end && quote[1] == '"') {
          if (out == nullptr) out = out_start = scratch_.get() + scratch_size_;
          const auto n = static_cast<std::size_t>(quote + 1 - segment);  // keeps one quote
          std::memcpy(out, segment, n);
          out += n;
          q = segment = quote + 2;
          continue;
        }
        if (out == nullptr) {
          fields_.emplace_back(segment, static_cast<std::size_t>(quote - segment));
        } else {
          const auto n = static_cast<std::size_t>(quote - segment);
          std::memcpy(out, segment, n);
          out += n;
          fields_.emplace_back(out_start, static_cast<std::size_t>(out - out_start));
          scratch_size_ = static_cast<std::size_t>(out - scratch_.get());
        }
        q = quote + 1;
        break;
      }
      if (q < end && *q != ',' && *q != '\n' && !(*q == '\r' && (q + 1 == end || q[1] == '\n'))) {
        note("column " + std::to_string(fields_.size()) + ": " + Shown(std::string_view(q, 1)) +
             " after the closing quote (expected `,` or the end of the line)");
      }
      const char* ignored;
      if (!unquoted(&ignored)) return Parse::kNeedMore;
    } else {
      const char* start = q;
      const char* value_end = nullptr;
      if (!unquoted(&value_end)) return Parse::kNeedMore;
      fields_.emplace_back(start, static_cast<std::size_t>(value_end - start));
    }
  }
  pos_ = static_cast<std::size_t>(next - data);
  line_ += lines + 1;
  if (!problem.empty()) {
    *reason = std::move(problem);
    return Parse::kMalformed;
  }
  return Parse::kRecord;
}

RowStatus CsvSource::Read(RowBuilder& row, std::string* reason) {
  switch (NextRecord(reason)) {
    case Record::kEnd: return RowStatus::kEnd;
    case Record::kFatal: return RowStatus::kFatal;
    case Record::kMalformed: *reason = "malformed row: " + *reason; return RowStatus::kReject;
    case Record::kRecord: break;
  }
  if (fields_.size() != columns_.size()) {
    *reason = "malformed row: " + std::to_string(fields_.size()) + (fields_.size() == 1 ? " value" : " values") +
              ", the header has " + std::to_string(columns_.size()) + " columns";
    return RowStatus::kReject;
  }
  const std::vector<EventSchema>& schemas = *context_.schemas;
  int event = 0;
  if (event_column_ >= 0) {
    const std::string_view name = fields_[static_cast<std::size_t>(event_column_)];
    if (name.empty()) {
      if (schemas.size() > 1) {
        *reason = MissingEventReason(schemas, context_.options->event_column);
        return RowStatus::kReject;
      }
    } else {
      event = FindEvent(schemas, name);
      if (event < 0) {
        *reason = UnknownEventReason(schemas, name);
        return RowStatus::kReject;
      }
    }
  }
  row.Begin(event);
  const std::vector<int>& field_of = column_field_[static_cast<std::size_t>(event)];
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const std::string_view value = fields_[i];
    if (value.empty()) continue;  // an empty value is an absent one
    const int field = field_of[i];
    if (field < 0) {
      if (static_cast<int>(i) == event_column_) continue;
      *reason = "field `" + columns_[i] + "` is not a field of event `" + schemas[static_cast<std::size_t>(event)].name +
                "` (value " + Shown(value) + ")";
      return RowStatus::kReject;
    }
    if (!row.Set(field, ValueKind::kString, value, reason)) return RowStatus::kReject;
  }
  if (!row.CheckComplete(reason)) return RowStatus::kReject;
  return RowStatus::kRow;
}

}  // namespace

std::unique_ptr<RowSource> OpenCsv(const SourceContext& context, std::string* error) {
  auto source = std::make_unique<CsvSource>(context);
  if (!source->Init(error)) return nullptr;
  return source;
}

}  // namespace tariff::io_internal
