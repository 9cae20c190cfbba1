// tests/unit: runtime/io — the streaming usage readers (CSV and JSON Lines: exact values, every
// reject reason with its file and line, duplicates, the conservation identity, batch and buffer
// boundaries), RFC 3339 timestamps, and the invoice writers (JSON Lines, CSV, table) against
// exact expected text, plus the atomic file write.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/columnar/batch.h"
#include "runtime/decimal/decimal.h"
#include "runtime/invoice/invoice.h"
#include "runtime/io/invoice_writer.h"
#include "runtime/io/records.h"
#include "runtime/io/usage_reader.h"

namespace {

namespace fs = std::filesystem;
using tariff::Batch;
using tariff::ColumnType;
using tariff::Decimal;
using tariff::EventSchema;
using tariff::FieldSchema;
using tariff::FormatTimestamp;
using tariff::Invoice;
using tariff::InvoiceLine;
using tariff::ReadRecords;
using tariff::RecordFile;
using tariff::LineKind;
using tariff::OpenUsage;
using tariff::ParseTimestamp;
using tariff::Reject;
using tariff::TierPart;
using tariff::UsageFormat;
using tariff::UsageReader;
using tariff::UsageReaderOptions;
using tariff::WriteInvoicesCsv;
using tariff::WriteInvoicesJsonl;
using tariff::WriteInvoicesTable;

Decimal D(const char* text) { return Decimal::FromString(text); }

// A fresh directory per test, removed at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("tariff-io-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string Write(const std::string& name, const std::string& content) const {
    const std::string p = (path_ / name).string();
    std::ofstream out(p, std::ios::binary);
    out << content;
    return p;
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

FieldSchema Field(const char* name, ColumnType type, std::vector<std::string> enum_values = {}) {
  FieldSchema f;
  f.name = name;
  f.type = type;
  f.enum_values = std::move(enum_values);
  return f;
}

EventSchema Schema(const char* name, std::vector<FieldSchema> fields, const char* key = nullptr) {
  EventSchema s;
  s.name = name;
  s.fields = std::move(fields);
  s.customer_field = s.FieldIndex("customer");
  s.time_field = s.FieldIndex("time");
  s.key_field = key != nullptr ? s.FieldIndex(key) : -1;
  return s;
}

// One event: usage(customer, time, gb, region).
std::vector<EventSchema> UsageSchemas() {
  return {Schema("usage", {Field("customer", ColumnType::kText), Field("time", ColumnType::kTimestamp),
                           Field("gb", ColumnType::kDecimal), Field("region", ColumnType::kText, {"eu", "us"})})};
}

// Two events: request(customer, time, tokens, model, id: key) and payment(customer, time, amount,
// refunded).
std::vector<EventSchema> TwoSchemas() {
  return {Schema("request",
                 {Field("customer", ColumnType::kText), Field("time", ColumnType::kTimestamp),
                  Field("tokens", ColumnType::kDecimal), Field("model", ColumnType::kText, {"small", "large"}),
                  Field("id", ColumnType::kText)},
                 "id"),
          Schema("payment", {Field("customer", ColumnType::kText), Field("time", ColumnType::kTimestamp),
                             Field("amount", ColumnType::kDecimal), Field("refunded", ColumnType::kBool)})};
}

std::string Value(const Batch& b, std::size_t column, std::size_t row) {
  const tariff::Column& c = b.columns[column];
  switch (c.type) {
    case ColumnType::kDecimal: return c.decimals[row].ToString();
    case ColumnType::kText: return c.texts[row];
    case ColumnType::kBool: return c.bools[row] != 0 ? "true" : "false";
    case ColumnType::kTimestamp: return FormatTimestamp(c.times[row]);
  }
  return "?";
}

struct ReadResult {
  std::vector<std::string> rows;          // "event@line: v1 | v2 | …"
  std::vector<std::size_t> batch_sizes;
  std::vector<std::string> rejects;       // "file:line: reason" (file name only)
  std::uint64_t read = 0, returned = 0, duplicates = 0, rejected = 0;
  std::string error;
};

ReadResult ReadAll(const std::vector<std::string>& paths, const std::vector<EventSchema>& schemas,
                   UsageReaderOptions options = {}, std::optional<UsageFormat> format = std::nullopt) {
  ReadResult r;
  std::unique_ptr<UsageReader> reader = OpenUsage(paths, schemas, options, format);
  Batch batch;
  while (reader->Next(batch)) {
    REQUIRE(batch.size() > 0);
    REQUIRE(batch.size() <= std::max<std::size_t>(options.batch_size, 1));
    REQUIRE(batch.schema == &schemas[static_cast<std::size_t>(batch.event)]);
    r.batch_sizes.push_back(batch.size());
    for (std::size_t row = 0; row < batch.size(); ++row) {
      std::string text = batch.schema->name + "@" + fs::path(reader->files()[batch.origins[row].file]).filename().string() +
                         ":" + std::to_string(batch.origins[row].line) + ":";
      for (std::size_t c = 0; c < batch.columns.size(); ++c) text += (c == 0 ? " " : " | ") + Value(batch, c, row);
      r.rows.push_back(text);
    }
  }
  for (const Reject& j : reader->rejects()) {
    r.rejects.push_back(fs::path(j.file).filename().string() + ":" + std::to_string(j.line) + ": " + j.reason);
  }
  r.read = reader->rows_read();
  r.returned = reader->rows_returned();
  r.duplicates = reader->duplicates();
  r.rejected = reader->rows_rejected();
  r.error = reader->error();
  // Invariant 2: every row read is returned, rejected or a duplicate.
  CHECK(r.read == r.returned + r.rejected + r.duplicates);
  CHECK(r.returned == r.rows.size());
  CHECK(Batch().size() == 0);
  return r;
}

using Rows = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reading CSV

TEST_CASE("io: CSV values are read exactly, with quotes, doubled quotes, CRLF and quoted line breaks") {
  TempDir dir;
  const std::string path = dir.Write(
      "u.csv",
      "customer,time,gb,region\r\n"
      "acme,2026-03-01T00:00:00Z,0.1,eu\r\n"
      "\"big, \"\"quoted\"\" co\",2026-03-01T12:30:00.25+01:00,12.50,\"us\"\r\n"
      "\"two\r\nlines\",2026-03-02,1e3,eu\r\n"
      "zeta,2026-03-31T23:59:59.999999Z,-0.000000000000000000000000000000000001,us");  // no final line break
  ReadResult r = ReadAll({path}, UsageSchemas());
  CHECK(r.error.empty());
  CHECK(r.rejects.empty());
  CHECK(r.rows == Rows{
                      "usage@u.csv:2: acme | 2026-03-01T00:00:00Z | 0.1 | eu",
                      "usage@u.csv:3: big, \"quoted\" co | 2026-03-01T11:30:00.25Z | 12.50 | us",
                      "usage@u.csv:4: two\r\nlines | 2026-03-02T00:00:00Z | 1000 | eu",
                      "usage@u.csv:6: zeta | 2026-03-31T23:59:59.999999Z | -0.000000000000000000000000000000000001 | us",
                  });
  CHECK(r.read == 4);
}

TEST_CASE("io: CSV header order is free, an event column may name the one event, blank lines and a BOM are skipped") {
  TempDir dir;
  const std::string path = dir.Write("u.csv",
                                     "\xEF\xBB\xBFregion,event,gb,time,customer\n"
                                     "eu,usage,1,2026-03-01T00:00:00Z,a\n"
                                     "\n"
                                     "us,,2,2026-03-01T00:00:00Z,b\n"
                                     "\r\n"
                                     "\n");
  ReadResult r = ReadAll({path}, UsageSchemas());
  CHECK(r.error.empty());
  CHECK(r.rejects.empty());
  CHECK(r.rows == Rows{"usage@u.csv:2: a | 2026-03-01T00:00:00Z | 1 | eu", "usage@u.csv:4: b | 2026-03-01T00:00:00Z | 2 | us"});
  CHECK(r.read == 2);
}

TEST_CASE("io: a decimal is read from its text, never through a double: 0.1 + 0.2 is exactly 0.3") {
  TempDir dir;
  const std::string csv = dir.Write("u.csv",
                                    "customer,time,gb,region\n"
                                    "a,2026-03-01,0.1,eu\n"
                                    "a,2026-03-01,0.2,eu\n"
                                    "a,2026-03-01,99999999999999999999999999999999999999,eu\n"
                                    "a,2026-03-01,1_000.000,eu\n");
  const std::string jsonl = dir.Write("u.jsonl",
                                      "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":0.1,\"region\":\"eu\"}\n"
                                      "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":0.2,\"region\":\"eu\"}\n"
                                      "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":9007199254740993,\"region\":\"eu\"}\n"
                                      "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":1.50E+2,\"region\":\"eu\"}\n"
                                      "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":\"12.5\",\"region\":\"eu\"}\n"
                                      "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":-0.10,\"region\":\"eu\"}\n");
  std::vector<EventSchema> schemas = UsageSchemas();
  std::unique_ptr<UsageReader> reader = OpenUsage({csv, jsonl}, schemas, {});
  Batch batch;
  REQUIRE(reader->Next(batch));
  REQUIRE(batch.size() == 10);
  const std::vector<Decimal>& gb = batch.columns[2].decimals;
  CHECK((gb[0] + gb[1]).ToString() == "0.3");
  CHECK(gb[0].IdenticalTo(Decimal::FromParts(1, 1)));
  CHECK(gb[2].ToString() == "99999999999999999999999999999999999999");
  CHECK(gb[3].ToString() == "1000.000");
  CHECK((gb[4] + gb[5]).ToString() == "0.3");
  CHECK(gb[6].ToString() == "9007199254740993");  // 2^53 + 1: a double would say ...992
  CHECK(gb[7].ToString() == "150");
  CHECK(gb[8].ToString() == "12.5");
  CHECK(gb[9].ToString() == "-0.10");
  CHECK_FALSE(reader->Next(batch));
  CHECK(reader->rows_read() == 10);
}

TEST_CASE("io: the reader's number fast path gives exactly what Decimal::Parse gives") {
  TempDir dir;
  const std::vector<std::string> numbers = {
      "0", "-0", "0.000", "-0.0", "007", "-007.50", "1", "12.5", "123456789012345678", "-123456789012345678",
      "12345678901234567.8", "1234567890123456789", "-9223372036854775808", "9223372036854775807",
      "99999999999999999999", "0.123456789012345678", "0.1234567890123456789", "1e3", "+5", "1_000", "5.", ".5",
      "-.5", "1.2.3", "-", "--1", "1-", "0x10", "١"};
  std::mt19937_64 rng(3);
  std::vector<std::string> all = numbers;
  for (int i = 0; i < 2000; ++i) {
    std::string n = (rng() & 1) != 0 ? "-" : "";
    n += std::to_string(rng() >> (rng() % 64));
    if (rng() % 3 != 0) n.insert(n.size() - std::min<std::size_t>(n.size() - (n[0] == '-'), rng() % 20), ".");
    all.push_back(n);
  }
  std::string csv = "customer,time,gb,region\n";
  for (const std::string& n : all) csv += "a,2026-03-01," + n + ",eu\n";
  std::vector<EventSchema> schemas = UsageSchemas();
  std::unique_ptr<UsageReader> reader = OpenUsage({dir.Write("n.csv", csv)}, schemas, {});
  Batch batch;
  std::vector<Decimal> read;
  while (reader->Next(batch)) read.insert(read.end(), batch.columns[2].decimals.begin(), batch.columns[2].decimals.end());
  std::size_t k = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(all[i]);
    tariff::DecimalParseResult expected = Decimal::Parse(all[i]);
    const bool rejected = std::find_if(reader->rejects().begin(), reader->rejects().end(), [i](const Reject& j) {
                            return j.line == i + 2;
                          }) != reader->rejects().end();
    CHECK(rejected == !expected.value.has_value());
    if (expected.value) {
      REQUIRE(k < read.size());
      CHECK(read[k].IdenticalTo(*expected.value));
      ++k;
    }
  }
  CHECK(k == read.size());
}

TEST_CASE("io: the timestamp fast path (`…Z`) agrees with the general parser (`…+00:00`)") {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t t = static_cast<std::int64_t>(rng() % 253402300800ULL) * 1000000 - 62135596800000000;
    std::string z = FormatTimestamp(t);
    REQUIRE(z.size() == 20);
    std::string offset = z.substr(0, 19) + "+00:00";
    REQUIRE(ParseTimestamp(z) == t);
    REQUIRE(ParseTimestamp(offset) == t);
  }
  for (const char* bad : {"2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
                          "2026-01-01T00:00:60Z", "2026-0a-01T00:00:00Z", "2026-01-01T00:00:0/Z", "2026-01-01T00:00:00X"}) {
    INFO(bad);
    std::string error;
    CHECK_FALSE(ParseTimestamp(bad, &error).has_value());
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("io: every CSV reject reason names the file, the line and the field") {
  TempDir dir;
  const std::string path = dir.Write(
      "bad.csv",
      "event,customer,time,tokens,model,id,amount,refunded\n"                             // 1
      "request,acme,2026-03-01T00:00:00Z,10,small,r1,,\n"                                 // 2 ok
      "request,acme,2026-03-01T00:00:00Z,12x,small,r2,,\n"                                // 3 number
      "request,acme,2026-02-30T00:00:00Z,1,small,r3,,\n"                                  // 4 time
      "request,acme,2026-03-01T24:00:00Z,1,small,r4,,\n"                                  // 5 hour 24
      "request,acme,2026-03-01T00:00:00Z,1,medium,r5,,\n"                                 // 6 enum
      "request,acme,2026-03-01T00:00:00Z,,small,r6,,\n"                                   // 7 missing
      "request,acme,2026-03-01T00:00:00Z,1,small,r7,5.00,\n"                              // 8 other event's field
      "refund,acme,2026-03-01T00:00:00Z,1,small,r8,,\n"                                   // 9 unknown event
      ",acme,2026-03-01T00:00:00Z,1,small,r9,,\n"                                         // 10 no event
      "request,acme,2026-03-01T00:00:00Z,1,small\n"                                       // 11 column count
      "request,acme,\"2026-03-01T00:00:00Z\"x,1,small,r10,,\n"                            // 12 after quote
      "request,ac\"me,2026-03-01T00:00:00Z,1,small,r11,,\n"                               // 13 bare quote
      "payment,acme,2026-03-01T00:00:00Z,,,,5.00,yes\n"                                   // 14 bool
      "payment,acme,2026-03-01T00:00:00Z,,,,5.00,false\n"                                 // 15 ok
      "request,,2026-03-01T00:00:00Z,1,small,r12,,\n"                                     // 16 no customer
      "request,acme,2026-03-01T00:00:00,1,small,r13,,\n"                                  // 17 no zone
      "payment,acme,2026-03-01T00:00:00Z,,,,1e-39,true\n"                                 // 18 scale
      "request,acme,2026-03-01T00:00:00Z,1,small,r\r14,,\n"                               // 19 lone CR
      "request,\"ac\"me\",2026-03-01T00:00:00Z,1,small,\"r\n15\",,\n"                        // 20-21 bad, then
      "request,acme,2026-03-01T00:00:00Z,1,small,r16,,\n"                                // 22 ok: resynced
      "request,acme,2026-03-01T00:00:00Z,1,small,\"r17\n"                                 // 23 never closed
      "request,acme,2026-03-01T00:00:00Z,1,small,r18,,\n");                               // 24 (inside the quote)
  ReadResult r = ReadAll({path}, TwoSchemas());
  CHECK(r.error.empty());
  CHECK(r.rows == Rows{"request@bad.csv:2: acme | 2026-03-01T00:00:00Z | 10 | small | r1",
                       "payment@bad.csv:15: acme | 2026-03-01T00:00:00Z | 5.00 | false",
                       "request@bad.csv:22: acme | 2026-03-01T00:00:00Z | 1 | small | r16"});
  const Rows expected = {
      "bad.csv:3: field `tokens`: `12x` is not a number (expected a digit, `.`, an exponent or the end of the number, "
      "found `x`)",
      "bad.csv:4: field `time`: `2026-02-30T00:00:00Z` is not an RFC 3339 timestamp (February 2026 has no day 30)",
      "bad.csv:5: field `time`: `2026-03-01T24:00:00Z` is not an RFC 3339 timestamp (hour 24 does not exist (00 to 23))",
      "bad.csv:6: field `model`: `medium` is not one of `small`, `large`",
      "bad.csv:7: missing field `tokens`",
      "bad.csv:8: field `amount` is not a field of event `request` (value `5.00`)",
      "bad.csv:9: unknown event type `refund` (expected one of: request, payment)",
      "bad.csv:10: missing field `event` (the event type, one of: request, payment)",
      "bad.csv:11: malformed row: 5 values, the header has 8 columns",
      "bad.csv:12: malformed row: column 3: `x` after the closing quote (expected `,` or the end of the line)",
      "bad.csv:13: malformed row: column 2: a quote inside an unquoted value (quote the whole value and double the "
      "quote: `\"5\"\" screen\"`)",
      "bad.csv:14: field `refunded`: `yes` is not `true` or `false`",
      "bad.csv:16: missing field `customer`",
      "bad.csv:17: field `time`: `2026-03-01T00:00:00` is not an RFC 3339 timestamp (expected a time zone (`Z` or an "
      "offset such as `+01:00`))",
      "bad.csv:18: field `amount`: `1e-39` is not a number (the exponent gives scale 39; a decimal holds at most 38 "
      "digits after the point)",
      "bad.csv:19: malformed row: column 6: a carriage return inside a value (line breaks are LF or CRLF)",
      "bad.csv:20: malformed row: column 2: `m` after the closing quote (expected `,` or the end of the line)",
      "bad.csv:23: malformed row: column 6: a quoted value is never closed",
  };
  CHECK(r.rejects == expected);
  CHECK(r.read == 21);
  CHECK(r.rejected == 18);
}

TEST_CASE("io: an unknown CSV column is a fatal error naming it, before any row is read") {
  TempDir dir;
  const std::string path = dir.Write("u.csv", "customer,time,gb,regoin\na,2026-03-01T00:00:00Z,1,eu\n");
  ReadResult r = ReadAll({path}, UsageSchemas());
  CHECK(r.error == path +
                       ":1: unknown column `regoin`: no event has a field of that name (event `usage`: customer, time, "
                       "gb, region)");
  CHECK(r.rows.empty());
  CHECK(r.read == 0);
}

TEST_CASE("io: CSV header problems are fatal: a missing column, no event column for several events, a repeated column") {
  TempDir dir;
  SECTION("missing column with one event") {
    const std::string path = dir.Write("u.csv", "customer,time,region\na,2026-03-01T00:00:00Z,eu\n");
    CHECK(ReadAll({path}, UsageSchemas()).error ==
          path + ":1: no column `gb`: event `usage` needs every one of its fields (customer, time, gb, region)");
  }
  SECTION("no event column") {
    const std::string path = dir.Write("u.csv", "customer,time,tokens,model,id\n");
    CHECK(ReadAll({path}, TwoSchemas()).error ==
          path + ":1: no column `event`: the plan has several events (request, payment), so each row must name its "
                 "event type");
  }
  SECTION("repeated column") {
    const std::string path = dir.Write("u.csv", "\n\ncustomer,time,gb,region,gb\n");
    CHECK(ReadAll({path}, UsageSchemas()).error == path + ":3: column `gb` appears twice in the header");
  }
  SECTION("empty file: no header, no rows, no error") {
    const std::string path = dir.Write("u.csv", "");
    ReadResult r = ReadAll({path}, UsageSchemas());
    CHECK(r.error.empty());
    CHECK(r.read == 0);
  }
  SECTION("with several events a missing column only rejects the rows that need it") {
    const std::string path = dir.Write("u.csv",
                                       "event,customer,time,amount,refunded\n"
                                       "payment,a,2026-03-01T00:00:00Z,1.00,false\n"
                                       "request,a,2026-03-01T00:00:00Z,,\n");
    ReadResult r = ReadAll({path}, TwoSchemas());
    CHECK(r.error.empty());
    CHECK(r.rows.size() == 1);
    CHECK(r.rejects == Rows{"u.csv:3: missing field `tokens`"});
  }
}

// ---------------------------------------------------------------------------------------------
// Reading JSON Lines

TEST_CASE("io: JSON Lines rows: members in any order, escapes, numbers from their text, blank lines skipped") {
  TempDir dir;
  const std::string path = dir.Write(
      "u.jsonl",
      "{\"event\":\"request\",\"customer\":\"acme\",\"time\":\"2026-03-01T00:00:00Z\",\"tokens\":1.50,\"model\":\"large\",\"id\":\"r1\"}\n"
      "\n"
      "   \r\n"
      "{ \"time\" : \"2026-03-01T01:00:00-05:00\", \"amount\" : \"0.30\", \"refunded\" : true, \"customer\" : \"caf\\u00e9 \\\"q\\\"\\n\\ud83d\\ude00\", \"event\" : \"payment\" }\r\n"
      "{\"event\":\"request\",\"customer\":\"b\\/c\",\"time\":\"2026-03-01\",\"tokens\":-0,\"model\":\"small\",\"id\":\"r2\"}");
  ReadResult r = ReadAll({path}, TwoSchemas());
  CHECK(r.error.empty());
  CHECK(r.rejects.empty());
  CHECK(r.rows == Rows{
                      "request@u.jsonl:1: acme | 2026-03-01T00:00:00Z | 1.50 | large | r1",
                      "payment@u.jsonl:4: café \"q\"\n\xF0\x9F\x98\x80 | 2026-03-01T06:00:00Z | 0.30 | true",
                      "request@u.jsonl:5: b/c | 2026-03-01T00:00:00Z | 0 | small | r2",
                  });
  CHECK(r.read == 3);
  CHECK(r.batch_sizes == std::vector<std::size_t>{1, 1, 1});
}

TEST_CASE("io: every JSON Lines reject reason names the file, the line and the field") {
  TempDir dir;
  const std::string ok = R"("customer":"a","time":"2026-03-01T00:00:00Z")";
  const std::string path = dir.Write(
      "bad.jsonl",
      "{\"event\":\"request\"," + ok + ",\"tokens\":1,\"model\":\"small\",\"id\":\"r1\"}\n" +           // 1 ok
          "{\"event\":\"request\"," + ok + ",\"tokens\":1,\"model\":\"small\",\"id\":\"r2\",\"x\":1}\n" +  // 2 unknown
          "{\"event\":\"request\"," + ok + ",\"tokens\":true,\"model\":\"small\",\"id\":\"r3\"}\n" +       // 3 type
          "{\"event\":\"request\"," + ok + ",\"tokens\":\"12x\",\"model\":\"small\",\"id\":\"r4\"}\n" +    // 4 number
          "{\"event\":\"request\"," + ok + ",\"tokens\":1,\"model\":\"small\"}\n" +                        // 5 missing
          "{\"event\":\"request\"," + ok + ",\"tokens\":1,\"model\":\"huge\",\"id\":\"r5\"}\n" +           // 6 enum
          "{\"event\":\"req\"," + ok + "}\n" +                                                             // 7 event
          "{" + ok + "}\n" +                                                                               // 8 no event
          "{\"event\":\"request\"," + ok + ",\"tokens\":1,\n" +                                            // 9 JSON
          "[1,2]\n" +                                                                                      // 10 array
          "{\"event\":\"payment\"," + ok + ",\"amount\":01,\"refunded\":false}\n" +                        // 11 zero
          "{\"event\":\"payment\"," + ok + ",\"amount\":1,\"refunded\":false,\"amount\":2}\n" +            // 12 twice
          "{\"event\":\"payment\",\"customer\":7,\"time\":\"2026-03-01T00:00:00Z\",\"amount\":1,\"refunded\":false}\n" +
          "{\"event\":\"payment\",\"customer\":\"a\",\"time\":1767225600,\"amount\":1,\"refunded\":false}\n" +
          "{\"event\":\"payment\"," + ok + ",\"amount\":{\"v\":1},\"refunded\":false}\n" +                 // 15 object
          "{\"event\":\"payment\"," + ok + ",\"amount\":null,\"refunded\":false}\n" +                      // 16 null
          "{\"event\":\"payment\"," + ok + ",\"amount\":1,\"refunded\":\"no\"}\n" +                        // 17 bool
          "{\"event\":\"payment\"," + ok + ",\"amount\":1,\"refunded\":1}\n" +                             // 18 bool type
          "{\"event\":\"payment\"," + ok + ",\"amount\":\"1\",\"refunded\":false} x\n" +                   // 19 trailing
          "{\"event\":\"payment\"," + ok + ",\"amount\":1,\"refunded\":false,\"note\":\"\\q\"}\n" +        // 20 escape
          "{\"event\":\"payment\",\"customer\":\"\\ud800\"," + ok.substr(15) + ",\"amount\":1,\"refunded\":false}\n" +
          "{\"event\":\"payment\",\"customer\":\"\xff\"," + ok.substr(15) + ",\"amount\":1,\"refunded\":false}\n" +
          "{\"event\":7," + ok + "}\n" +                                                                   // 23
          "{\"event\":\"payment\",\"event\":\"payment\"," + ok + ",\"amount\":1,\"refunded\":false}\n" +    // 24
          "{\"event\":\"payment\",\"customer\":\"\"," + ok.substr(15) + ",\"amount\":1,\"refunded\":false}\n" +   // 25
          "{\"event\":\"payment\"," + ok + ",\"amount\":\" 1\",\"refunded\":false}\n");                       // 26
  ReadResult r = ReadAll({path}, TwoSchemas());
  CHECK(r.error.empty());
  CHECK(r.rows == Rows{"request@bad.jsonl:1: a | 2026-03-01T00:00:00Z | 1 | small | r1"});
  const Rows expected = {
      "bad.jsonl:2: unknown field `x` for event `request` (its fields: customer, time, tokens, model, id)",
      "bad.jsonl:3: field `tokens`: expected a number, got a boolean (`true`)",
      "bad.jsonl:4: field `tokens`: `12x` is not a number (expected a digit, `.`, an exponent or the end of the "
      "number, found `x`)",
      "bad.jsonl:5: missing field `id`",
      "bad.jsonl:6: field `model`: `huge` is not one of `small`, `large`",
      "bad.jsonl:7: unknown event type `req` (expected one of: request, payment)",
      "bad.jsonl:8: missing field `event` (the event type, one of: request, payment)",
      "bad.jsonl:9: malformed row: invalid JSON at column 76: expected a member name in double quotes, found the end "
      "of the line",
      "bad.jsonl:10: malformed row: invalid JSON at column 1: expected a JSON object `{…}`, found `[`",
      "bad.jsonl:11: malformed row: invalid JSON at column 75: a number with a leading zero, found `1`",
      "bad.jsonl:12: field `amount` appears twice",
      "bad.jsonl:13: field `customer`: expected a string, got a number (`7`)",
      "bad.jsonl:14: field `time`: expected an RFC 3339 timestamp string, got a number (`1767225600`)",
      "bad.jsonl:15: field `amount`: expected a number, got an object",
      "bad.jsonl:16: missing field `amount`",
      "bad.jsonl:17: field `refunded`: `no` is not `true` or `false`",
      "bad.jsonl:18: field `refunded`: expected `true` or `false`, got a number (`1`)",
      "bad.jsonl:19: malformed row: invalid JSON at column 96: unexpected text after the object, found `x`",
      "bad.jsonl:20: malformed row: invalid JSON at column 102: an unknown escape `\\q`, found `q`",
      "bad.jsonl:21: malformed row: invalid JSON at column 38: a lone high surrogate in a `\\u` escape, found `\"`",
      "bad.jsonl:22: field `customer`: `\\xff` is not valid UTF-8 (byte 1)",
      "bad.jsonl:23: field `event`: expected a string (the event type), got a number",
      "bad.jsonl:24: field `event` appears twice",
      "bad.jsonl:25: field `customer`: an empty customer id",
      "bad.jsonl:26: field `amount`: ` 1` is not a number (expected a digit, `+` or `-`, found a space)",
  };
  CHECK(r.rejects == expected);
  CHECK(r.read == 26);
}

TEST_CASE("io: with one event the event member is optional, but must name that event when given") {
  TempDir dir;
  const std::string path = dir.Write("u.jsonl",
                                     "{\"customer\":\"a\",\"time\":\"2026-03-01\",\"gb\":1,\"region\":\"eu\"}\n"
                                     "{\"event\":\"usage\",\"customer\":\"b\",\"time\":\"2026-03-01\",\"gb\":2,\"region\":\"us\"}\n"
                                     "{\"event\":\"other\",\"customer\":\"c\",\"time\":\"2026-03-01\",\"gb\":3,\"region\":\"us\"}\n");
  ReadResult r = ReadAll({path}, UsageSchemas());
  CHECK(r.rows.size() == 2);
  CHECK(r.rejects == Rows{"u.jsonl:3: unknown event type `other` (expected `usage`)"});
}

TEST_CASE("io: a custom event column") {
  TempDir dir;
  const std::string csv = dir.Write("u.csv", "type,customer,time,amount,refunded\npayment,a,2026-03-01,1,true\n");
  const std::string jsonl =
      dir.Write("u.jsonl", "{\"type\":\"payment\",\"customer\":\"a\",\"time\":\"2026-03-01\",\"amount\":2,\"refunded\":false}\n");
  UsageReaderOptions options;
  options.event_column = "type";
  ReadResult r = ReadAll({csv, jsonl}, TwoSchemas(), options);
  CHECK(r.error.empty());
  CHECK(r.rows == Rows{"payment@u.csv:2: a | 2026-03-01T00:00:00Z | 1 | true",
                       "payment@u.jsonl:1: a | 2026-03-01T00:00:00Z | 2 | false"});
}

// ---------------------------------------------------------------------------------------------
// Accounting: duplicates, the period, conservation, batches

TEST_CASE("io: rows whose key was seen before, in any file, are dropped and counted") {
  TempDir dir;
  const std::string a = dir.Write("a.csv",
                                  "event,customer,time,tokens,model,id\n"
                                  "request,x,2026-03-01T00:00:00Z,1,small,r1\n"
                                  "request,x,2026-03-01T00:00:00Z,2,small,r2\n"
                                  "request,y,2026-03-02T00:00:00Z,9,large,r1\n"  // same key, other values
                                  "request,x,2026-03-01T00:00:00Z,bad,small,r3\n"  // rejected: key not recorded
                                  "request,x,2026-03-01T00:00:00Z,3,small,r3\n");
  const std::string b = dir.Write("b.jsonl",
                                  "{\"event\":\"request\",\"customer\":\"x\",\"time\":\"2026-03-01\",\"tokens\":1,\"model\":\"small\",\"id\":\"r2\"}\n"
                                  "{\"event\":\"request\",\"customer\":\"x\",\"time\":\"2026-03-01\",\"tokens\":4,\"model\":\"small\",\"id\":\"r4\"}\n"
                                  "{\"event\":\"payment\",\"customer\":\"x\",\"time\":\"2026-03-01\",\"amount\":1,\"refunded\":false}\n"
                                  "{\"event\":\"payment\",\"customer\":\"x\",\"time\":\"2026-03-01\",\"amount\":1,\"refunded\":false}\n");
  ReadResult r = ReadAll({a, b}, TwoSchemas());
  CHECK(r.rows == Rows{"request@a.csv:2: x | 2026-03-01T00:00:00Z | 1 | small | r1",
                       "request@a.csv:3: x | 2026-03-01T00:00:00Z | 2 | small | r2",
                       "request@a.csv:6: x | 2026-03-01T00:00:00Z | 3 | small | r3",
                       "request@b.jsonl:2: x | 2026-03-01T00:00:00Z | 4 | small | r4",
                       // payment has no key: identical rows are both kept
                       "payment@b.jsonl:3: x | 2026-03-01T00:00:00Z | 1 | false",
                       "payment@b.jsonl:4: x | 2026-03-01T00:00:00Z | 1 | false"});
  CHECK(r.duplicates == 2);
  CHECK(r.rejected == 1);
  CHECK(r.read == 9);
}

TEST_CASE("io: rows outside the period are rejected, the end is exclusive") {
  TempDir dir;
  const std::string path = dir.Write("u.csv",
                                     "customer,time,gb,region\n"
                                     "a,2026-02-28T23:59:59.999999Z,1,eu\n"
                                     "a,2026-03-01T00:00:00Z,2,eu\n"
                                     "a,2026-03-01T00:30:00+01:00,3,eu\n"
                                     "a,2026-03-31T23:59:59.999999Z,4,eu\n"
                                     "a,2026-04-01T00:00:00Z,5,eu\n");
  UsageReaderOptions options;
  options.period_start = *ParseTimestamp("2026-03-01T00:00:00Z");
  options.period_end = *ParseTimestamp("2026-04-01T00:00:00Z");
  ReadResult r = ReadAll({path}, UsageSchemas(), options);
  CHECK(r.rows.size() == 2);
  CHECK(r.rejects ==
        Rows{
            "u.csv:2: field `time`: `2026-02-28T23:59:59.999999Z` is outside the period [2026-03-01T00:00:00Z, "
            "2026-04-01T00:00:00Z)",
            "u.csv:4: field `time`: `2026-02-28T23:30:00Z` is outside the period [2026-03-01T00:00:00Z, "
            "2026-04-01T00:00:00Z)",
            "u.csv:6: field `time`: `2026-04-01T00:00:00Z` is outside the period [2026-03-01T00:00:00Z, "
            "2026-04-01T00:00:00Z)",
        });
}

namespace {

// A mixed file: two event types interleaved, rejects and duplicates sprinkled through.
std::string MixedCsv(int rows) {
  std::string text = "event,customer,time,tokens,model,id,amount,refunded\n";
  for (int i = 0; i < rows; ++i) {
    const std::string n = std::to_string(i);
    switch (i % 7) {
      case 0:
      case 1:
      case 2:
        text += "request,c" + std::to_string(i % 13) + ",2026-03-01T00:00:" + (i % 60 < 10 ? "0" : "") +
                std::to_string(i % 60) + "Z," + n + ".5,small,r" + std::to_string(i % 50 == 0 ? 0 : i) + ",,\n";
        break;
      case 3:
      case 4: text += "payment,\"c," + n + "\",2026-03-02T00:00:00Z,,,," + n + ".00,false\n"; break;
      case 5: text += "request,c1,2026-03-01T00:00:00Z,x" + n + ",small,q" + n + ",,\n"; break;  // rejected
      case 6: text += "request,c1,2026-03-01T00:00:00Z,1,small,r" + std::to_string(i - 6) + ",,\n"; break;  // dup
    }
  }
  return text;
}

}  // namespace

TEST_CASE("io: read = returned + rejected + duplicates over a mixed file, and batch sizes change nothing") {
  TempDir dir;
  const std::string path = dir.Write("mixed.csv", MixedCsv(500));
  ReadResult reference = ReadAll({path}, TwoSchemas());
  CHECK(reference.error.empty());
  CHECK(reference.read == 500);
  CHECK(reference.rejected == 71);                  // every 7th row from 5
  // Every 7th row from 6 repeats the id of the row 6 before it (70 times: row 350 took id r0, so
  // row 356's r350 is new), and rows 50, 100, 350, 400 and 450 repeat r0.
  CHECK(reference.duplicates == 70 + 5);
  CHECK(reference.returned == 500 - 71 - 75);
  for (std::size_t batch_size : {1, 2, 3, 7, 4096}) {
    INFO("batch_size " << batch_size);
    UsageReaderOptions options;
    options.batch_size = batch_size;
    ReadResult r = ReadAll({path}, TwoSchemas(), options);
    CHECK(r.rows == reference.rows);
    CHECK(r.rejects == reference.rejects);
    CHECK(r.duplicates == reference.duplicates);
    for (std::size_t size : r.batch_sizes) CHECK(size <= batch_size);
  }
  // A batch holds one event type: with a large batch size, every switch of type ends a batch.
  CHECK(reference.batch_sizes.size() > 100);
}

TEST_CASE("io: rows crossing buffer boundaries: any buffer size reads the same rows") {
  TempDir dir;
  // Quoted values with line breaks and doubled quotes, long enough to straddle small buffers.
  std::string csv = "customer,time,gb,region\n";
  std::string jsonl;
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(i);
    csv += "\"cust \"\"" + n + "\"\"\nline2, part " + n + "\"," + "2026-03-01T00:00:00.5Z," + n + ".25,\"eu\"\r\n";
    jsonl += "{\"customer\":\"cust \\\"" + n + "\\\"\\nline2, part " + n + "\",\"time\":\"2026-03-01T00:00:00.5Z\",\"gb\":" +
             n + ".25,\"region\":\"eu\"}\n";
  }
  const std::string csv_path = dir.Write("big.csv", csv);
  const std::string jsonl_path = dir.Write("big.jsonl", jsonl);
  ReadResult reference = ReadAll({csv_path}, UsageSchemas());
  REQUIRE(reference.rows.size() == 300);
  CHECK(reference.rows[7] == "usage@big.csv:16: cust \"7\"\nline2, part 7 | 2026-03-01T00:00:00.5Z | 7.25 | eu");
  for (std::size_t limit : {100, 127, 128, 333, 4096}) {
    INFO("max_row_bytes " << limit);
    UsageReaderOptions options;
    options.max_row_bytes = limit;
    options.batch_size = 64;
    ReadResult r = ReadAll({csv_path}, UsageSchemas(), options);
    CHECK(r.error.empty());
    CHECK(r.rows == reference.rows);
    if (limit < 127) continue;  // the longest JSON line is 104 bytes
    ReadResult j = ReadAll({jsonl_path}, UsageSchemas(), options);
    CHECK(j.error.empty());
    REQUIRE(j.rows.size() == 300);
    CHECK(j.rows[7] == "usage@big.jsonl:8: cust \"7\"\nline2, part 7 | 2026-03-01T00:00:00.5Z | 7.25 | eu");
  }
  SECTION("a row longer than max_row_bytes is a fatal error") {
    UsageReaderOptions options;
    options.max_row_bytes = 64;
    ReadResult r = ReadAll({csv_path}, UsageSchemas(), options);
    CHECK(r.error == "cannot read `" + csv_path + "`: a row is longer than 64 bytes (the limit; is a quote or a line "
                                                  "break missing?)");
  }
}

TEST_CASE("io: random CSV, well-formed and not, reads the same whatever the buffer size") {
  TempDir dir;
  std::mt19937 rng(7);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::string csv = "customer,time,gb,region\n";
  for (int row = 0; row < 3000; ++row) {
    const int columns = pick(10) == 0 ? 3 : 4;  // sometimes the wrong count
    for (int c = 0; c < columns; ++c) {
      if (c > 0) csv += ',';
      switch (pick(12)) {
        case 0: csv += "\"q,\"\"\n" + std::to_string(row) + "\r\nz\""; break;  // quoted: comma, quote, breaks
        case 1: csv += "a\"b"; break;                                      // a bare quote
        case 2: csv += "\"a\"b"; break;                                    // text after the closing quote
        case 3: csv += "a\rb"; break;                                      // a lone CR
        case 4: csv += ""; break;                                          // empty: absent
        case 5: csv += c == 1 ? "2026-03-01T00:00:0" + std::to_string(pick(10)) + "Z" : "eu"; break;
        case 6: csv += c == 2 ? std::to_string(pick(1000)) + "." + std::to_string(pick(100)) : "us"; break;
        default: csv += c == 1 ? "2026-03-01" : c == 2 ? "1.5" : c == 3 ? "eu" : "cust" + std::to_string(pick(50));
      }
    }
    csv += pick(3) == 0 ? "\r\n" : "\n";
    if (pick(20) == 0) csv += "\n";  // a blank line
  }
  const std::string path = dir.Write("random.csv", csv);
  ReadResult reference = ReadAll({path}, UsageSchemas());
  REQUIRE(reference.error.empty());
  CHECK(reference.read == 3000);  // a malformed record still ends where RFC 4180 says
  CHECK(reference.returned > 100);
  CHECK(reference.rejected > 100);
  for (std::size_t limit : {96, 128, 200, 1000}) {
    INFO("max_row_bytes " << limit);
    UsageReaderOptions options;
    options.max_row_bytes = limit;
    options.batch_size = 5;
    ReadResult r = ReadAll({path}, UsageSchemas(), options);
    CHECK(r.error.empty());
    CHECK(r.rows == reference.rows);
    CHECK(r.rejects == reference.rejects);
  }
}

// ---------------------------------------------------------------------------------------------
// Files

TEST_CASE("io: a missing or unreadable file is a fatal error that names it, files are read in order") {
  TempDir dir;
  const std::string good = dir.Write("good.csv", "customer,time,gb,region\na,2026-03-01,1,eu\n");
  SECTION("missing") {
    const std::string missing = dir.Path("missing.csv");
    std::vector<EventSchema> schemas = UsageSchemas();
    std::unique_ptr<UsageReader> reader = OpenUsage({good, missing, good}, schemas, {});
    Batch batch;
    CHECK(reader->Next(batch));  // the rows gathered before the error
    CHECK(batch.size() == 1);
    CHECK(reader->error() == "cannot open `" + missing + "`: No such file or directory");
    CHECK_FALSE(reader->Next(batch));
    CHECK(batch.size() == 0);
    CHECK_FALSE(reader->Next(batch));
  }
  SECTION("a directory") {
    ReadResult r = ReadAll({dir.path().string() + "/x.csv/.."}, UsageSchemas(), {}, UsageFormat::kCsv);
    CHECK(r.error.find("cannot") == 0);
  }
  SECTION("a directory named like a file") {
    fs::create_directory(dir.Path("d.csv"));
    ReadResult r = ReadAll({dir.Path("d.csv")}, UsageSchemas());
    CHECK(r.error == "cannot read `" + dir.Path("d.csv") + "`: Is a directory");
  }
  SECTION("an extension that names no format") {
    const std::string txt = dir.Write("u.txt", "");
    CHECK(ReadAll({txt}, UsageSchemas()).error ==
          "cannot tell the format of `" + txt + "` from its name (expected .csv, .jsonl or .ndjson)");
    CHECK(ReadAll({txt}, UsageSchemas(), {}, UsageFormat::kJsonLines).error.empty());
  }
  SECTION("two files, one after the other, .NDJSON in capitals") {
    const std::string nd = dir.Write("x.NDJSON", "{\"customer\":\"b\",\"time\":\"2026-03-02\",\"gb\":2,\"region\":\"us\"}");
    ReadResult r = ReadAll({good, nd}, UsageSchemas());
    CHECK(r.rows == Rows{"usage@good.csv:2: a | 2026-03-01T00:00:00Z | 1 | eu", "usage@x.NDJSON:1: b | 2026-03-02T00:00:00Z | 2 | us"});
  }
}

TEST_CASE("io: max_rejects_kept bounds the rejects kept, not the count") {
  TempDir dir;
  std::string text = "customer,time,gb,region\n";
  for (int i = 0; i < 10; ++i) text += "a,2026-03-01,x,eu\n";
  const std::string path = dir.Write("u.csv", text);
  UsageReaderOptions options;
  options.max_rejects_kept = 3;
  ReadResult r = ReadAll({path}, UsageSchemas(), options);
  CHECK(r.rejects.size() == 3);
  CHECK(r.rejected == 10);
  CHECK(r.read == 10);
}

// ---------------------------------------------------------------------------------------------
// Timestamps

TEST_CASE("io: RFC 3339 timestamps: Z, offsets, fractions, bare dates") {
  CHECK(*ParseTimestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(*ParseTimestamp("1970-01-01") == 0);
  CHECK(*ParseTimestamp("2026-03-01T12:00:00Z") == 1772366400000000);
  CHECK(*ParseTimestamp("2026-03-01T13:00:00+01:00") == 1772366400000000);
  CHECK(*ParseTimestamp("2026-03-01t07:30:00-04:30") == 1772366400000000);
  CHECK(*ParseTimestamp("2026-03-01 12:00:00z") == 1772366400000000);
  CHECK(*ParseTimestamp("2026-03-01T12:00:00-00:00") == 1772366400000000);
  CHECK(*ParseTimestamp("2026-03-01T12:00:00.5Z") == 1772366400500000);
  CHECK(*ParseTimestamp("2026-03-01T12:00:00.000001Z") == 1772366400000001);
  CHECK(*ParseTimestamp("1969-12-31T23:59:59.999999Z") == -1);
  CHECK(*ParseTimestamp("2024-02-29T00:00:00Z") == 1709164800000000);
  CHECK(*ParseTimestamp("2000-02-29") == 951782400000000);
  CHECK(*ParseTimestamp("0001-01-01T00:00:00Z") == -62135596800000000);
  CHECK(*ParseTimestamp("9999-12-31T23:59:59.999999Z") == 253402300799999999);

  CHECK(FormatTimestamp(0) == "1970-01-01T00:00:00Z");
  CHECK(FormatTimestamp(1772366400500000) == "2026-03-01T12:00:00.5Z");
  CHECK(FormatTimestamp(1772366400000001) == "2026-03-01T12:00:00.000001Z");
  CHECK(FormatTimestamp(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(FormatTimestamp(253402300799999999) == "9999-12-31T23:59:59.999999Z");
  // Round trip over a spread of instants.
  for (std::int64_t t = -62135596800000000; t < 253402300799999999; t += 86399999999 * 37 + 12345) {
    REQUIRE(ParseTimestamp(FormatTimestamp(t)) == t);
  }
}

TEST_CASE("io: invalid timestamps are rejected with a reason") {
  auto why = [](const char* text) {
    std::string error;
    CHECK_FALSE(ParseTimestamp(text, &error).has_value());
    return error;
  };
  CHECK(why("2026-02-30T00:00:00Z") == "February 2026 has no day 30");
  CHECK(why("2025-02-29") == "February 2025 has no day 29");
  CHECK(why("1900-02-29") == "February 1900 has no day 29");
  CHECK(why("2026-04-31T00:00:00Z") == "April 2026 has no day 31");
  CHECK(why("2026-13-01T00:00:00Z") == "month 13 does not exist");
  CHECK(why("2026-00-01") == "month 00 does not exist");
  CHECK(why("2026-03-00") == "March 2026 has no day 00");
  CHECK(why("2026-03-01T24:00:00Z") == "hour 24 does not exist (00 to 23)");
  CHECK(why("2026-03-01T12:60:00Z") == "minute 60 does not exist (00 to 59)");
  CHECK(why("2026-03-01T23:59:60Z") == "leap second 60 is not supported");
  CHECK(why("2026-03-01T23:59:61Z") == "second 61 does not exist (00 to 59)");
  CHECK(why("2026-03-01T12:00:00") == "expected a time zone (`Z` or an offset such as `+01:00`)");
  CHECK(why("2026-03-01T12:00:00+0100") == "expected an offset `+hh:mm` or `-hh:mm`");
  CHECK(why("2026-03-01T12:00:00+24:00") == "offset +24:00 does not exist");
  CHECK(why("2026-03-01T12:00:00.Z") == "expected a digit after `.`");
  CHECK(why("2026-03-01T12:00:00.1234567Z") == "more than 6 fractional digits (microseconds are the finest resolution)");
  CHECK(why("2026-03-01T12:00:00Zjunk") == "unexpected text after the time zone");
  CHECK(why("2026-03-01T12:00Z") == "expected a time `hh:mm:ss` after the date");
  CHECK(why("2026-03-01X12:00:00Z") == "expected `T` between the date and the time");
  CHECK(why("26-03-01") == "expected a date `YYYY-MM-DD` at the start");
  CHECK(why("2026-3-1") == "expected a date `YYYY-MM-DD` at the start");
  CHECK(why("") == "expected a date `YYYY-MM-DD` at the start");
  CHECK(why(" 2026-03-01") == "expected a date `YYYY-MM-DD` at the start");
  CHECK(why("1772366400") == "expected a date `YYYY-MM-DD` at the start");
}

// ---------------------------------------------------------------------------------------------
// Invoice writers

namespace {

std::vector<Invoice> SampleInvoices() {
  Invoice a;
  a.customer = "acme";
  a.plan = "api-platform";
  a.period_start = "2026-03-01T00:00:00Z";
  a.period_end = "2026-04-01T00:00:00Z";
  a.currency = "USD";
  InvoiceLine platform;
  platform.name = "Platform";
  platform.amount = D("49.00");
  InvoiceLine requests;
  requests.name = "Requests";
  requests.quantity = D("12500000");
  requests.unit = "request";
  requests.has_quantity = true;
  requests.tiers = {TierPart{D("0"), D("1000000"), D("1000000"), D("0"), "free"},
                    TierPart{D("1000000"), D("10000000"), D("9000000"), D("1800.00"), "0.20 USD per 1000 request"},
                    TierPart{D("10000000"), D("12500000"), D("2500000"), D("375.00"), "0.15 USD per 1000 request"}};
  requests.amount = D("2175.00");
  InvoiceLine tokens;
  tokens.name = "Tokens";
  tokens.group = {"large", "eu, west"};
  tokens.quantity = D("2.5");
  tokens.unit = "GB·h";
  tokens.has_quantity = true;
  tokens.amount = D("0.125");
  InvoiceLine discount;
  discount.kind = LineKind::kDiscount;
  discount.name = "Launch \"promo\"";
  discount.amount = D("-10.00");
  a.lines = {platform, requests, tokens, discount};
  a.total = D("2214.125");

  Invoice b;
  b.customer = "béta\n";
  b.plan = "api-platform";
  b.period_start = a.period_start;
  b.period_end = a.period_end;
  b.currency = "USD";
  InvoiceLine minimum;
  minimum.kind = LineKind::kMinimum;
  minimum.name = "Minimum";
  minimum.amount = D("100.00");
  b.lines = {minimum};
  b.total = D("100.00");
  return {a, b};
}

}  // namespace

TEST_CASE("io: invoices as JSON Lines: fixed key order, decimals as exact strings") {
  std::ostringstream out;
  WriteInvoicesJsonl(SampleInvoices(), out);
  CHECK(out.str() ==
        R"({"customer":"acme","plan":"api-platform","period":{"start":"2026-03-01T00:00:00Z","end":"2026-04-01T00:00:00Z"},"currency":"USD","lines":[)"
        R"({"kind":"charge","name":"Platform","group":[],"amount":"49.00"},)"
        R"({"kind":"charge","name":"Requests","group":[],"quantity":"12500000","unit":"request","tiers":[)"
        R"({"from":"0","to":"1000000","quantity":"1000000","amount":"0","price":"free"},)"
        R"({"from":"1000000","to":"10000000","quantity":"9000000","amount":"1800.00","price":"0.20 USD per 1000 request"},)"
        R"({"from":"10000000","to":"12500000","quantity":"2500000","amount":"375.00","price":"0.15 USD per 1000 request"}],"amount":"2175.00"},)"
        R"({"kind":"charge","name":"Tokens","group":["large","eu, west"],"quantity":"2.5","unit":"GB·h","amount":"0.125"},)"
        R"({"kind":"discount","name":"Launch \"promo\"","group":[],"amount":"-10.00"}],"total":"2214.125"})"
        "\n"
        R"({"customer":"béta\n","plan":"api-platform","period":{"start":"2026-03-01T00:00:00Z","end":"2026-04-01T00:00:00Z"},"currency":"USD","lines":[)"
        R"({"kind":"minimum","name":"Minimum","group":[],"amount":"100.00"}],"total":"100.00"})"
        "\n");
  std::ostringstream none;
  WriteInvoicesJsonl({}, none);
  CHECK(none.str().empty());
}

TEST_CASE("io: JSON strings are escaped, invalid UTF-8 becomes U+FFFD") {
  Invoice invoice;
  invoice.customer = std::string("a\x01\t\\\xff", 5);
  std::ostringstream out;
  WriteInvoicesJsonl(std::span<const Invoice>(&invoice, 1), out);
  CHECK(out.str().rfind(R"({"customer":"a\u0001\t\\\ufffd","plan":"",)", 0) == 0);
}

TEST_CASE("io: invoices as CSV: one row per line and a total row, RFC 4180 quoting") {
  std::ostringstream out;
  WriteInvoicesCsv(SampleInvoices(), out);
  CHECK(out.str() ==
        "customer,plan,period_start,period_end,currency,kind,name,group,quantity,unit,price,amount,rated_by,from,to\n"
        "acme,api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,charge,Platform,,,,,49.00,,,\n"
        "acme,api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,charge,Requests,,12500000,request,,2175.00,,,\n"
        "acme,api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,charge,Tokens,\"large|eu, west\",2.5,GB·h,,0.125,,,\n"
        "acme,api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,discount,\"Launch \"\"promo\"\"\",,,,,-10.00,,,\n"
        "acme,api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,total,,,,,,2214.125,,,\n"
        "\"béta\n\",api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,minimum,Minimum,,,,,100.00,,,\n"
        "\"béta\n\",api-platform,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,total,,,,,,100.00,,,\n");
  std::ostringstream none;
  WriteInvoicesCsv({}, none);
  CHECK(none.str() == "customer,plan,period_start,period_end,currency,kind,name,group,quantity,unit,price,amount,rated_by,from,to\n");
}

TEST_CASE("io: a line of a split period says which version rated it, in JSON Lines and CSV, credits are listed") {
  Invoice invoice;
  invoice.customer = "acme";
  invoice.plan = "api";
  invoice.currency = "USD";
  InvoiceLine line;
  line.name = "Platform";
  line.amount = Decimal::FromString("15.00");
  line.rated_by = "api v1";
  line.from = "2026-03-01T00:00:00Z";
  line.to = "2026-03-16T00:00:00Z";
  invoice.lines.push_back(line);
  InvoiceLine credit;
  credit.kind = LineKind::kCredit;
  credit.name = "Credit promo";
  credit.amount = Decimal::FromString("-5.00");
  invoice.lines.push_back(credit);
  invoice.total = Decimal::FromString("10.00");
  invoice.credits.push_back({"promo", Decimal::FromString("8.00"), Decimal::FromString("5.00"), Decimal::FromString("3.00"), "", 1, false});
  std::ostringstream jsonl, csv;
  WriteInvoicesJsonl(std::span<const Invoice>(&invoice, 1), jsonl);
  CHECK(jsonl.str().find(R"("rated_by":"api v1","from":"2026-03-01T00:00:00Z","to":"2026-03-16T00:00:00Z","amount":"15.00")") != std::string::npos);
  CHECK(jsonl.str().find(R"({"kind":"credit","name":"Credit promo","group":[],"amount":"-5.00"})") != std::string::npos);
  CHECK(jsonl.str().find(R"("credits":[{"grant":"promo","balance":"8.00","used":"5.00","remaining":"3.00","expires":null,"priority":1}])") != std::string::npos);
  WriteInvoicesCsv(std::span<const Invoice>(&invoice, 1), csv);
  CHECK(csv.str().find("acme,api,,,USD,charge,Platform,,,,,15.00,api v1,2026-03-01T00:00:00Z,2026-03-16T00:00:00Z\n") != std::string::npos);
  CHECK(csv.str().find("acme,api,,,USD,credit,Credit promo,,,,,-5.00,,,\n") != std::string::npos);
}

TEST_CASE("io: invoices as a table: aligned columns, tiers under their line, a rule and the total") {
  std::ostringstream out;
  WriteInvoicesTable(SampleInvoices(), out);
  CHECK(out.str() ==
        "customer  acme\n"
        "plan      api-platform\n"
        "period    2026-03-01T00:00:00Z to 2026-04-01T00:00:00Z\n"
        "currency  USD\n"
        "\n"
        "line                              quantity    amount\n"
        "Platform                                       49.00\n"
        "Requests                  12500000 request   2175.00\n"
        "  0 to 1000000             1000000 request         0  at free\n"
        "  1000000 to 10000000      9000000 request   1800.00  at 0.20 USD per 1000 request\n"
        "  10000000 to 12500000     2500000 request    375.00  at 0.15 USD per 1000 request\n"
        "Tokens [large, eu, west]          2.5 GB·h     0.125\n"
        "Launch \"promo\"                                -10.00  (discount)\n"
        "----------------------------------------------------\n"
        "total                                       2214.125\n"
        "\n"
        "customer  béta\\n\n"
        "plan      api-platform\n"
        "period    2026-03-01T00:00:00Z to 2026-04-01T00:00:00Z\n"
        "currency  USD\n"
        "\n"
        "line     amount\n"
        "Minimum  100.00  (minimum)\n"
        "---------------\n"
        "total    100.00\n");
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

TEST_CASE("io: WriteFileAtomically replaces the file and leaves no temporary behind") {
  TempDir dir;
  const std::string target = dir.Path("invoices.jsonl");
  std::string error;
  REQUIRE(tariff::WriteFileAtomically(target, "first\n", &error));
  REQUIRE(tariff::WriteFileAtomically(target, "second\n", &error));
  std::ifstream in(target);
  std::stringstream content;
  content << in.rdbuf();
  CHECK(content.str() == "second\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  CHECK(names == std::vector<std::string>{"invoices.jsonl"});
  CHECK((fs::status(target).permissions() & fs::perms::others_read) != fs::perms::none);
}

TEST_CASE("io: WriteFileAtomically into an unwritable directory fails and leaves the target untouched") {
  TempDir dir;
  const std::string target = dir.Write("out.csv", "old\n");
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(dir.path().c_str(), W_OK) == 0) {
    // Running as root: permissions do not stop us. sysfs refuses new files even to root.
    fs::permissions(dir.path(), fs::perms::owner_all);
    if (!fs::is_directory("/sys/kernel")) {
      WARN("running as root without /sys: the failure path is not exercised");
      return;
    }
    std::string error;
    CHECK_FALSE(tariff::WriteFileAtomically("/sys/kernel/tariff-io-test", "new\n", &error));
    CHECK(error.rfind("cannot create a temporary file in `/sys/kernel`: ", 0) == 0);
    CHECK_FALSE(fs::exists("/sys/kernel/tariff-io-test"));
    return;
  }
  std::string error;
  CHECK_FALSE(tariff::WriteFileAtomically(target, "new\n", &error));
  CHECK(error == "cannot create a temporary file in `" + dir.path().string() + "`: Permission denied");
  fs::permissions(dir.path(), fs::perms::owner_all);
  std::ifstream in(target);
  std::stringstream content;
  content << in.rdbuf();
  CHECK(content.str() == "old\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  CHECK(names == std::vector<std::string>{"out.csv"});
}

TEST_CASE("io: WriteFileAtomically onto a directory fails and removes its temporary") {
  TempDir dir;
  fs::create_directory(dir.Path("sub"));
  std::string error;
  CHECK_FALSE(tariff::WriteFileAtomically(dir.Path("sub"), "x", &error));
  CHECK(error == "cannot write `" + dir.Path("sub") + "`: rename: Is a directory");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  CHECK(names == std::vector<std::string>{"sub"});
  CHECK_FALSE(tariff::WriteFileAtomically(dir.Path("no/such/dir/x"), "x", &error));
  CHECK(error == "cannot create a temporary file in `" + dir.Path("no/such/dir") + "`: No such file or directory");
}

TEST_CASE("io: records: CSV with quotes and blanks, JSON Lines with typed values, a BOM is skipped") {
  TempDir dir;
  RecordFile csv = ReadRecords(dir.Write("subs.csv", "\xEF\xBB\xBF" "customer,start,seats\r\nacme,2026-03-01,10\n\n\"b,\"\"c\"\"\",,3\n"));
  REQUIRE(csv.error.empty());
  REQUIRE(csv.records.size() == 2);
  CHECK(csv.records[0].line == 2);
  CHECK(csv.records[0].Get("customer") == std::optional<std::string>("acme"));
  CHECK(csv.records[0].Get("seats") == std::optional<std::string>("10"));
  CHECK(csv.records[1].line == 4);
  CHECK(csv.records[1].Get("customer") == std::optional<std::string>("b,\"c\""));
  CHECK_FALSE(csv.records[1].Get("start").has_value());  // an empty cell is absent

  RecordFile jsonl = ReadRecords(dir.Write("subs.jsonl", R"({"customer":"acme","seats":10,"paused":false,"end":null,"amount":"12.50"})" "\n"));
  REQUIRE(jsonl.error.empty());
  REQUIRE(jsonl.records.size() == 1);
  CHECK(jsonl.records[0].Get("seats") == std::optional<std::string>("10"));
  CHECK(jsonl.records[0].Get("paused") == std::optional<std::string>("false"));
  CHECK_FALSE(jsonl.records[0].Get("end").has_value());
  CHECK(jsonl.records[0].Get("amount") == std::optional<std::string>("12.50"));
}

TEST_CASE("io: records: every problem names the file and line") {
  TempDir dir;
  CHECK(ReadRecords(dir.Write("a.jsonl", "{\"customer\":\"a\"}\n{\"customer\":\"a\",\"customer\":\"b\"}\n")).error ==
        dir.Path("a.jsonl") + ":2: member `customer` appears twice");
  CHECK(ReadRecords(dir.Write("b.jsonl", "{\"amount\":12.5}\n")).error.find(":1: `amount`: write decimal amounts as strings") != std::string::npos);
  CHECK(ReadRecords(dir.Write("c.csv", "customer,start\nacme\n")).error == dir.Path("c.csv") + ":2: 1 values for 2 columns");
  CHECK(ReadRecords(dir.Write("d.csv", "customer,customer\n")).error == dir.Path("d.csv") + ":1: column `customer` appears twice in the header");
  CHECK(ReadRecords(dir.Write("e.csv", "customer\n\"open\n")).error == dir.Path("e.csv") + ":2: a quoted value is not closed");
  CHECK(ReadRecords(dir.Write("f.txt", "customer\n")).error.find("expected a .csv, .jsonl or .ndjson file") != std::string::npos);
  CHECK(ReadRecords(dir.Path("missing.csv")).error.find("cannot open") != std::string::npos);
  RecordFile header_only = ReadRecords(dir.Write("g.csv", "customer,start\n"));
  CHECK(header_only.error.empty());
  CHECK(header_only.records.empty());
}
