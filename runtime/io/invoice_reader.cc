// runtime/io: the JSON Lines invoice reader. nlohmann's SAX interface builds a small tree whose
// numbers keep their own text (number_float hands over the text as read; integers are exact), so
// that a decimal is parsed by Decimal::Parse and never rounded through a double.
#include "runtime/io/invoice_reader.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace tariff {

namespace {

struct JValue {
  enum class Type : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;  // a string's contents, or a number's text as written
  std::vector<JValue> items;
  // An object's members: keys[i] names values[i] (two vectors, not a vector of pairs: a pair
  // holding a JValue cannot be instantiated before JValue is complete, which clang enforces).
  std::vector<std::string> keys;
  std::vector<JValue> values;
  std::string pending_key;  // while building an object

  const JValue* Find(std::string_view key) const;
};

const JValue* JValue::Find(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &values[i];
  }
  return nullptr;
}

const char* TypeName(JValue::Type t) {
  switch (t) {
    case JValue::Type::kNull: return "null";
    case JValue::Type::kBool: return "a boolean";
    case JValue::Type::kNumber: return "a number";
    case JValue::Type::kString: return "a string";
    case JValue::Type::kArray: return "an array";
    case JValue::Type::kObject: return "an object";
  }
  return "?";
}

// Builds a JValue from nlohmann's SAX events; refuses a member given twice.
class TreeBuilder {
 public:
  using json = nlohmann::json;

  bool null() { return Put(JValue{}); }
  bool boolean(bool b) {
    JValue v;
    v.type = JValue::Type::kBool;
    v.boolean = b;
    return Put(std::move(v));
  }
  bool number_integer(json::number_integer_t n) { return Number(std::to_string(n)); }
  bool number_unsigned(json::number_unsigned_t n) { return Number(std::to_string(n)); }
  bool number_float(json::number_float_t, const json::string_t& text) { return Number(text); }
  bool string(json::string_t& s) {
    JValue v;
    v.type = JValue::Type::kString;
    v.text = std::move(s);
    return Put(std::move(v));
  }
  bool binary(json::binary_t&) { return false; }
  bool start_object(std::size_t) {
    stack_.emplace_back();
    stack_.back().type = JValue::Type::kObject;
    return true;
  }
  bool key(json::string_t& k) {
    if (stack_.back().Find(k) != nullptr) {
      duplicate_ = k;
      return false;
    }
    stack_.back().pending_key = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) {
    stack_.emplace_back();
    stack_.back().type = JValue::Type::kArray;
    return true;
  }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    error_position_ = position;
    error_ = ex.what();
    return false;
  }

  JValue root;
  std::string duplicate_;
  std::string error_;
  std::size_t error_position_ = 0;

 private:
  bool Number(std::string text) {
    JValue v;
    v.type = JValue::Type::kNumber;
    v.text = std::move(text);
    return Put(std::move(v));
  }
  bool Close() {
    JValue v = std::move(stack_.back());
    stack_.pop_back();
    return Put(std::move(v));
  }
  bool Put(JValue v) {
    if (stack_.empty()) {
      root = std::move(v);
    } else if (stack_.back().type == JValue::Type::kArray) {
      stack_.back().items.push_back(std::move(v));
    } else {
      stack_.back().keys.push_back(std::move(stack_.back().pending_key));
      stack_.back().values.push_back(std::move(v));
    }
    return true;
  }
  std::vector<JValue> stack_;
};

// nlohmann's message without its prefix: "[json.exception.parse_error.101] parse error at line 1,
// column 7: syntax error while parsing value - …" → "syntax error while parsing value - …".
std::string JsonErrorText(const std::string& what) {
  std::size_t column = what.find("column ");
  std::size_t colon = column == std::string::npos ? std::string::npos : what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// Reads one record's JSON tree into an IssuedRecord; throws A0102 with the key path.
class RecordReader {
 public:
  explicit RecordReader(const RecordOrigin& origin) : origin_(origin) {}

  IssuedRecord Read(const JValue& root) {
    if (root.type != JValue::Type::kObject) Fail("", std::string("expected an invoice object `{…}`, found ") + TypeName(root.type));
    IssuedRecord r;
    r.origin = origin_;
    if (const JValue* kind = root.Find("kind")) {
      const std::string k = String(*kind, "kind");
      if (k == "amendment") {
        r.amendment = true;
      } else if (k != "invoice") {
        Fail("kind", "`" + k + "` is not a record kind (expected `amendment`, or no `kind` for an invoice)");
      }
    }
    Invoice& inv = r.invoice;
    inv.customer = String(Need(root, "customer", ""), "customer");
    if (inv.customer.empty()) Fail("customer", "an empty customer id");
    inv.plan = String(Need(root, "plan", ""), "plan");
    const JValue& period = Need(root, "period", "");
    if (period.type != JValue::Type::kObject) Fail("period", std::string("expected an object, found ") + TypeName(period.type));
    inv.period_start = String(Need(period, "start", "period."), "period.start");
    inv.period_end = String(Need(period, "end", "period."), "period.end");
    if (const JValue* at = root.Find("issued_at"); at != nullptr && at->type != JValue::Type::kNull) {
      // An invoice issued at a change (`on change prorate now`): one more original of the period.
      if (r.amendment) Fail("issued_at", "an amendment is not issued at a change (it amends every invoice of the period)");
      inv.issued_at = String(*at, "issued_at");
      if (inv.issued_at.empty()) Fail("issued_at", "an empty instant");
    }
    inv.currency = String(Need(root, "currency", ""), "currency");
    if (r.amendment) {
      const JValue& rev = Need(root, "revision", "");
      auto n = Number(rev, "revision");
      if (n.scale() != 0 || n.sign() <= 0 || n.coefficient() > static_cast<int128>(UINT32_MAX)) {
        Fail("revision", "`" + rev.text + "` is not a revision (a whole number from 1)");
      }
      r.revision = static_cast<std::uint64_t>(n.coefficient());
      const std::string status = String(Need(root, "status", ""), "status");
      bool known = false;
      for (AmendmentStatus st : {AmendmentStatus::kChanged, AmendmentStatus::kNew, AmendmentStatus::kAbsent}) {
        if (status == AmendmentStatusName(st)) {
          r.status = st;
          known = true;
        }
      }
      if (!known) Fail("status", "`" + status + "` is not an amendment status (changed, new, absent)");
    }
    const JValue& lines = Need(root, "lines", "");
    if (lines.type != JValue::Type::kArray) Fail("lines", std::string("expected an array, found ") + TypeName(lines.type));
    Decimal sum;
    for (std::size_t i = 0; i < lines.items.size(); ++i) {
      IssuedRecord::Basis basis;
      inv.lines.push_back(Line(lines.items[i], "lines[" + std::to_string(i) + "]", r.amendment ? &basis : nullptr));
      if (r.amendment) {
        if (r.status == AmendmentStatus::kNew && basis.change != LineChange::kNew) {
          Fail("lines[" + std::to_string(i) + "].change",
               std::string("`") + LineChangeName(basis.change) + "` in an amendment of status `new` (every line is `new`)");
        }
        if (r.status == AmendmentStatus::kAbsent && basis.change != LineChange::kRemoved) {
          Fail("lines[" + std::to_string(i) + "].change",
               std::string("`") + LineChangeName(basis.change) + "` in an amendment of status `absent` (every line is `removed`)");
        }
        r.bases.push_back(basis);
      }
      sum = Add(sum, inv.lines.back().amount, "lines");
    }
    inv.total = Number(Need(root, "total", ""), "total");
    if (inv.total != sum) {
      Fail("total", "`" + inv.total.ToString() + "` is not the sum of the lines' amounts (" + sum.ToString() + ")");
    }
    if (r.amendment) {
      const auto [issued, rerated] = Consistent(root, "issued_total", "total", "rerated_total", "");
      r.issued_total = issued;
      if (r.status == AmendmentStatus::kAbsent && !rerated.is_zero()) {
        Fail("rerated_total", "`" + rerated.ToString() + "` in an amendment of status `absent` (amended to zero)");
      }
    }
    return r;
  }

 private:
  [[noreturn]] void Fail(const std::string& path, const std::string& message) const {
    throw AmendmentError(kAmendNotAnInvoice, origin_, 0, path.empty() ? message : "`" + path + "`: " + message);
  }
  const JValue& Need(const JValue& object, const char* key, const std::string& prefix) const {
    const JValue* v = object.Find(key);
    if (v == nullptr || v->type == JValue::Type::kNull) Fail(prefix + key, "missing");
    return *v;
  }
  std::string String(const JValue& v, const std::string& path) const {
    if (v.type != JValue::Type::kString) Fail(path, std::string("expected a string, found ") + TypeName(v.type));
    return v.text;
  }
  // A decimal: a string holding one (as the writer emits) or a JSON number, from its text.
  Decimal Number(const JValue& v, const std::string& path) const {
    if (v.type != JValue::Type::kString && v.type != JValue::Type::kNumber) {
      Fail(path, std::string("expected a decimal string, found ") + TypeName(v.type));
    }
    DecimalParseResult parsed = Decimal::Parse(v.text);
    if (!parsed.value) Fail(path, "`" + v.text + "` is not a decimal number (" + parsed.error + ")");
    return *parsed.value;
  }
  Decimal Add(const Decimal& a, const Decimal& b, const std::string& path) const {
    Decimal out;
    if (!Decimal::TryAdd(a, b, &out)) Fail(path, "the sum does not fit in 38 digits");
    return out;
  }
  // For an amendment: the issued and re-rated values (both required), with issued + change =
  // re-rated.
  std::pair<Decimal, Decimal> Consistent(const JValue& object, const char* issued_key, const char* change_key,
                                         const char* rerated_key, const std::string& prefix) const {
    Decimal i = Number(Need(object, issued_key, prefix), prefix + issued_key),
            c = Number(Need(object, change_key, prefix), prefix + change_key),
            n = Number(Need(object, rerated_key, prefix), prefix + rerated_key);
    if (Add(i, c, prefix + change_key) != n) {
      Fail(prefix + change_key, "`" + c.ToString() + "` is not " + rerated_key + " − " + issued_key + " (" + n.ToString() +
                                    " − " + i.ToString() + ")");
    }
    return {i, n};
  }
  // One line; for an amendment's line (`basis` not null) also its change and what it was
  // computed against.
  InvoiceLine Line(const JValue& v, const std::string& path, IssuedRecord::Basis* basis) const {
    if (v.type != JValue::Type::kObject) Fail(path, std::string("expected a line object, found ") + TypeName(v.type));
    const std::string prefix = path + ".";
    InvoiceLine line;
    const std::string kind = String(Need(v, "kind", prefix), prefix + "kind");
    bool known = false;
    for (LineKind k : {LineKind::kCharge, LineKind::kMinimum, LineKind::kMaximum, LineKind::kDiscount, LineKind::kRounding,
                       LineKind::kCredit, LineKind::kBilledEarlier}) {
      if (kind == LineKindName(k)) {
        line.kind = k;
        known = true;
      }
    }
    if (!known) {
      Fail(prefix + "kind", "`" + kind + "` is not a line kind (charge, minimum, maximum, discount, rounding, credit)");
    }
    line.name = String(Need(v, "name", prefix), prefix + "name");
    const JValue& group = Need(v, "group", prefix);
    if (group.type != JValue::Type::kArray) Fail(prefix + "group", std::string("expected an array, found ") + TypeName(group.type));
    for (std::size_t g = 0; g < group.items.size(); ++g) {
      line.group.push_back(String(group.items[g], prefix + "group[" + std::to_string(g) + "]"));
    }
    if (const JValue* q = v.Find("quantity"); q != nullptr && q->type != JValue::Type::kNull) {
      line.quantity = Number(*q, prefix + "quantity");
      line.has_quantity = true;
      line.unit = String(Need(v, "unit", prefix), prefix + "unit");
    } else if (const JValue* u = v.Find("unit"); u != nullptr && u->type != JValue::Type::kNull) {
      line.unit = String(*u, prefix + "unit");
    }
    for (auto [key, field] : {std::pair{"rated_by", &line.rated_by}, std::pair{"from", &line.from}, std::pair{"to", &line.to}}) {
      if (const JValue* s = v.Find(key); s != nullptr && s->type != JValue::Type::kNull) *field = String(*s, prefix + key);
    }
    line.amount = Number(Need(v, "amount", prefix), prefix + "amount");
    if (basis != nullptr) {
      const std::string change = String(Need(v, "change", prefix), prefix + "change");
      bool known_change = false;
      for (LineChange c : {LineChange::kChanged, LineChange::kNew, LineChange::kRemoved}) {
        if (change == LineChangeName(c)) {
          basis->change = c;
          known_change = true;
        }
      }
      if (!known_change) Fail(prefix + "change", "`" + change + "` is not a line change (changed, new, removed)");
      const auto [issued_amount, rerated_amount] = Consistent(v, "issued_amount", "amount", "rerated_amount", prefix);
      basis->issued_amount = issued_amount;
      Decimal rerated_quantity;
      if (line.has_quantity) {
        const auto [issued_q, rerated_q] = Consistent(v, "issued_quantity", "quantity", "rerated_quantity", prefix);
        basis->issued_quantity = issued_q;
        rerated_quantity = rerated_q;
      }
      if (basis->change == LineChange::kRemoved && (!rerated_amount.is_zero() || !rerated_quantity.is_zero())) {
        Fail(prefix + "change", "a `removed` line re-rated to something other than 0");
      }
    }
    return line;
  }

  const RecordOrigin& origin_;
};

}  // namespace

std::vector<IssuedRecord> ParseIssuedInvoices(std::string_view text, const std::string& name) {
  std::vector<IssuedRecord> out;
  std::uint64_t line_number = 0;
  std::size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // a byte order mark
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    RecordOrigin origin{name, line_number};
    TreeBuilder builder;
    const bool ok = nlohmann::json::sax_parse(line, &builder);
    if (!builder.duplicate_.empty()) {
      throw AmendmentError(kAmendNotAnInvoice, origin, 0, "member `" + builder.duplicate_ + "` appears twice in an object");
    }
    if (!ok) {
      throw AmendmentError(kAmendInvalidJson, origin, builder.error_position_,
                           "invalid JSON: " + JsonErrorText(builder.error_));
    }
    out.push_back(RecordReader(origin).Read(builder.root));
  }
  return out;
}

std::vector<IssuedRecord> ReadIssuedInvoices(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw AmendmentError(kAmendUnreadable, RecordOrigin{path, 0}, 0, "cannot read the file: Is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AmendmentError(kAmendUnreadable, RecordOrigin{path, 0}, 0, "cannot open the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw AmendmentError(kAmendUnreadable, RecordOrigin{path, 0}, 0, "cannot read the file");
  return ParseIssuedInvoices(buffer.str(), path);
}

}  // namespace tariff
