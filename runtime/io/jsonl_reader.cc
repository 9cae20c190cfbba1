// runtime/io: JSON Lines usage files — one JSON object per line, members are fields.
//
// The parser is hand-written rather than nlohmann::json or simdjson: a decimal field must be
// read from the number's own text (nlohmann's DOM and SAX hand back binary doubles for
// fractions, and simdjson is not in the build), every row needs a precise, stable reason when it
// is malformed, and a flat object of scalars parses into string_views of the buffer with no
// allocation. It accepts exactly RFC 8259 JSON; members that are objects or arrays are parsed
// (to find where they end) and then rejected as the wrong type.
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io/reader_internal.h"

namespace tariff::io_internal {

namespace {

struct Member {
  std::string_view key;
  ValueKind kind;
  std::string_view text;  // strings unescaped; numbers, true/false and nested values raw
};

// Parses one line as a JSON object. Strings with escapes are unescaped into `scratch`, which
// must hold at least as many bytes as the line (an escape never grows).
class LineParser {
 public:
  LineParser(std::string_view line, char* scratch) : begin_(line.data()), p_(line.data()), end_(line.data() + line.size()), out_(scratch) {}

  bool Object(std::vector<Member>* members, std::string* error) {
    members->clear();
    SkipSpace();
    if (p_ == end_ || *p_ != '{') return Fail("expected a JSON object `{…}`", error);
    ++p_;
    SkipSpace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
    } else {
      while (true) {
        SkipSpace();
        if (p_ == end_ || *p_ != '"') return Fail("expected a member name in double quotes", error);
        Member m{};
        if (!String(&m.key, error)) return false;
        SkipSpace();
        if (p_ == end_ || *p_ != ':') return Fail("expected `:` after the member name", error);
        ++p_;
        SkipSpace();
        if (!Value(&m.kind, &m.text, 0, error)) return false;
        members->push_back(m);
        SkipSpace();
        if (p_ < end_ && *p_ == ',') {
          ++p_;
          continue;
        }
        if (p_ < end_ && *p_ == '}') {
          ++p_;
          break;
        }
        return Fail("expected `,` or `}`", error);
      }
    }
    SkipSpace();
    if (p_ != end_) return Fail("unexpected text after the object", error);
    return true;
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool Fail(const std::string& what, std::string* error) {
    *error = "invalid JSON at column " + std::to_string(p_ - begin_ + 1) + ": " + what;
    if (p_ < end_) {
      *error += ", found " + Shown(std::string_view(p_, 1));
    } else {
      *error += ", found the end of the line";
    }
    return false;
  }

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
  }

  bool Value(ValueKind* kind, std::string_view* text, int depth, std::string* error) {
    if (p_ == end_) return Fail("expected a value", error);
    const char c = *p_;
    if (c == '"') {
      *kind = ValueKind::kString;
      return String(text, error);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      *kind = ValueKind::kNumber;
      return Number(text, error);
    }
    if (c == '{' || c == '[') {
      *kind = c == '{' ? ValueKind::kObject : ValueKind::kArray;
      const char* start = p_;
      if (!Nested(depth, error)) return false;
      *text = std::string_view(start, static_cast<std::size_t>(p_ - start));
      return true;
    }
    for (const auto& [word, k] : {std::pair<std::string_view, ValueKind>{"true", ValueKind::kBool},
                                  {"false", ValueKind::kBool},
                                  {"null", ValueKind::kNull}}) {
      if (static_cast<std::size_t>(end_ - p_) >= word.size() && std::memcmp(p_, word.data(), word.size()) == 0) {
        *kind = k;
        *text = std::string_view(p_, word.size());
        p_ += word.size();
        return true;
      }
    }
    return Fail("expected a value (a string, number, object, array, `true`, `false` or `null`)", error);
  }

  // An object or array (its contents are only checked).
  bool Nested(int depth, std::string* error) {
    if (depth >= kMaxDepth) return Fail("nested more than 64 levels deep", error);
    const char close = *p_ == '{' ? '}' : ']';
    ++p_;
    SkipSpace();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (close == '}') {
        std::string_view key;
        if (p_ == end_ || *p_ != '"') return Fail("expected a member name in double quotes", error);
        if (!String(&key, error)) return false;
        SkipSpace();
        if (p_ == end_ || *p_ != ':') return Fail("expected `:` after the member name", error);
        ++p_;
        SkipSpace();
      }
      ValueKind kind;
      std::string_view text;
      if (!Value(&kind, &text, depth + 1, error)) return false;
      SkipSpace();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == close) {
        ++p_;
        return true;
      }
      return Fail(close == '}' ? "expected `,` or `}`" : "expected `,` or `]`", error);
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, kept as text.
  bool Number(std::string_view* text, std::string* error) {
    const char* start = p_;
    auto digit = [this] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
    if (*p_ == '-') ++p_;
    if (!digit()) return Fail("expected a digit", error);
    if (*p_ == '0') {
      ++p_;
      if (digit()) return Fail("a number with a leading zero", error);
    } else {
      while (digit()) ++p_;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digit()) return Fail("expected a digit after `.`", error);
      while (digit()) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digit()) return Fail("expected the exponent's digits", error);
      while (digit()) ++p_;
    }
    *text = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return true;
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Hex4(std::uint32_t* out) {
    if (end_ - p_ < 4) return false;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = Hex(p_[i]);
      if (h < 0) return false;
      v = v * 16 + static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    *out = v;
    return true;
  }

  // A string at p_ (the opening quote). Without escapes: a view of the line.
  bool String(std::string_view* text, std::string* error) {
    ++p_;
    const char* start = p_;
    while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
    if (p_ < end_ && *p_ == '"') {
      *text = std::string_view(start, static_cast<std::size_t>(p_ - start));
      ++p_;
      return true;
    }
    char* out_start = out_;
    std::memcpy(out_, start, static_cast<std::size_t>(p_ - start));
    out_ += p_ - start;
    while (true) {
      if (p_ == end_) return Fail("a string is never closed", error);
      const char c = *p_;
      if (c == '"') {
        ++p_;
        break;
      }
      if (static_cast<unsigned char>(c) < 0x20) return Fail("a control character inside a string (escape it)", error);
      if (c != '\\') {
        *out_++ = c;
        ++p_;
        continue;
      }
      ++p_;
      if (p_ == end_) return Fail("a string is never closed", error);
      const char e = *p_++;
      switch (e) {
        case '"': *out_++ = '"'; break;
        case '\\': *out_++ = '\\'; break;
        case '/': *out_++ = '/'; break;
        case 'b': *out_++ = '\b'; break;
        case 'f': *out_++ = '\f'; break;
        case 'n': *out_++ = '\n'; break;
        case 'r': *out_++ = '\r'; break;
        case 't': *out_++ = '\t'; break;
        case 'u': {
          std::uint32_t cp;
          if (!Hex4(&cp)) return Fail("expected four hex digits after `\\u`", error);
          if (cp >= 0xdc00 && cp <= 0xdfff) return Fail("a lone low surrogate in a `\\u` escape", error);
          if (cp >= 0xd800 && cp <= 0xdbff) {
            std::uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return Fail("a lone high surrogate in a `\\u` escape", error);
            p_ += 2;
            if (!Hex4(&low) || low < 0xdc00 || low > 0xdfff) {
              return Fail("a high surrogate not followed by a low one in a `\\u` escape", error);
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          if (cp < 0x80) {
            *out_++ = static_cast<char>(cp);
          } else if (cp < 0x800) {
            *out_++ = static_cast<char>(0xc0 | (cp >> 6));
            *out_++ = static_cast<char>(0x80 | (cp & 0x3f));
          } else if (cp < 0x10000) {
            *out_++ = static_cast<char>(0xe0 | (cp >> 12));
            *out_++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            *out_++ = static_cast<char>(0x80 | (cp & 0x3f));
          } else {
            *out_++ = static_cast<char>(0xf0 | (cp >> 18));
            *out_++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            *out_++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            *out_++ = static_cast<char>(0x80 | (cp & 0x3f));
          }
          break;
        }
        default: --p_; return Fail("an unknown escape `\\" + std::string(1, e) + "`", error);
      }
    }
    *text = std::string_view(out_start, static_cast<std::size_t>(out_ - out_start));
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  char* out_;
};

class JsonlSource final : public RowSource {
 public:
  explicit JsonlSource(const SourceContext& context) : context_(context) {}

  bool Init(std::string* error) { return file_.Open(*context_.path, context_.options->max_row_bytes, error); }
  RowStatus Read(RowBuilder& row, std::string* reason) override;
  void Unread() override {
    pos_ = record_start_;
    line_ = record_line_;
  }
  std::uint64_t line() const override { return record_line_; }

 private:
  RowStatus Row(std::string_view line, RowBuilder& row, std::string* reason);
  int FieldIndex(const EventSchema& schema, std::string_view name) const {
    for (std::size_t i = 0; i < schema.fields.size(); ++i) {
      if (schema.fields[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }

  SourceContext context_;
  ChunkedFile file_;
  std::size_t pos_ = 0;
  std::uint64_t line_ = 1;
  std::size_t record_start_ = 0;
  std::uint64_t record_line_ = 1;
  std::vector<Member> members_;
  std::unique_ptr<char[]> scratch_;
  std::size_t scratch_capacity_ = 0;
};

RowStatus JsonlSource::Read(RowBuilder& row, std::string* reason) {
  while (true) {
    const char* data = file_.data();
    const char* p = data + pos_;
    const char* end = data + file_.size();
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (nl == nullptr && !file_.eof()) {
      if (file_.Refill(pos_, reason) == ChunkedFile::Fill::kError) return RowStatus::kFatal;
      pos_ = 0;
      continue;
    }
    if (p == end) return RowStatus::kEnd;
    const char* line_end = nl != nullptr ? nl : end;
    record_start_ = pos_;
    record_line_ = line_;
    pos_ = static_cast<std::size_t>((nl != nullptr ? nl + 1 : end) - data);
    ++line_;
    const std::string_view line(p, static_cast<std::size_t>(line_end - p));
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // a blank line
    return Row(line, row, reason);
  }
}

RowStatus JsonlSource::Row(std::string_view line, RowBuilder& row, std::string* reason) {
  if (scratch_capacity_ < file_.capacity()) {
    scratch_capacity_ = file_.capacity();
    scratch_ = std::make_unique<char[]>(scratch_capacity_);
  }
  LineParser parser(line, scratch_.get());
  std::string why;
  if (!parser.Object(&members_, &why)) {
    *reason = "malformed row: " + why;
    return RowStatus::kReject;
  }
  const std::vector<EventSchema>& schemas = *context_.schemas;
  const std::string& event_member = context_.options->event_column;
  const Member* named = nullptr;
  for (const Member& m : members_) {
    if (m.key != event_member) continue;
    if (named != nullptr) {
      *reason = "field `" + event_member + "` appears twice";
      return RowStatus::kReject;
    }
    named = &m;
  }
  int event = 0;
  if (named != nullptr && named->kind != ValueKind::kNull) {
    if (named->kind != ValueKind::kString) {
      *reason = "field `" + event_member + "`: expected a string (the event type), got " +
                (named->kind == ValueKind::kNumber   ? "a number"
                 : named->kind == ValueKind::kBool   ? "a boolean"
                 : named->kind == ValueKind::kObject ? "an object"
                                                     : "an array");
      return RowStatus::kReject;
    }
    event = FindEvent(schemas, named->text);
    if (event < 0) {
      *reason = UnknownEventReason(schemas, named->text);
      return RowStatus::kReject;
    }
  } else if (schemas.size() > 1) {
    *reason = MissingEventReason(schemas, event_member);
    return RowStatus::kReject;
  }
  const EventSchema& schema = schemas[static_cast<std::size_t>(event)];
  row.Begin(event);
  for (const Member& m : members_) {
    if (&m == named) continue;
    const int field = FieldIndex(schema, m.key);
    if (field < 0) {
      *reason = "unknown field " + Shown(m.key) + " for event `" + schema.name + "` (its fields: " + FieldList(schema) + ")";
      return RowStatus::kReject;
    }
    if (row.has(field)) {
      *reason = "field `" + schema.fields[static_cast<std::size_t>(field)].name + "` appears twice";
      return RowStatus::kReject;
    }
    if (!row.Set(field, m.kind, m.text, reason)) return RowStatus::kReject;
  }
  if (!row.CheckComplete(reason)) return RowStatus::kReject;
  return RowStatus::kRow;
}

}  // namespace

std::unique_ptr<RowSource> OpenJsonl(const SourceContext& context, std::string* error) {
  auto source = std::make_unique<JsonlSource>(context);
  if (!source->Init(error)) return nullptr;
  return source;
}

}  // namespace tariff::io_internal
