// runtime/invoice: amendments — how the invoices already issued for a period differ from the
// same period re-rated. Pure functions over Invoices: sum what was issued per customer and line
// (SumIssued), then the difference against the re-rated invoices (Amend). Reading the issued
// JSON Lines and writing amendments are in runtime/io; the rules are in docs/billing.md.
#pragma once

#include <compare>
#include <functional>
#include <map>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/decimal/decimal.h"
#include "runtime/invoice/invoice.h"

namespace tariff {

// The identity of a line within one customer's invoice for one period: two lines with the same
// key are the same line (their amounts and quantities add up), lines with different keys never
// are. The kind keeps a charge and an adjustment of the same name apart; the group the lines of
// one `by` charge; the unit a charge whose unit changed; rated_by, from and to the parts of a
// split period (plan versions, changes of plan or seats). Price and tiers are descriptions of
// how an amount was computed, not part of the identity.
struct LineKey {
  LineKind kind = LineKind::kCharge;
  std::string name;
  std::vector<std::string> group;
  std::string unit;
  std::string rated_by, from, to;

  friend bool operator==(const LineKey&, const LineKey&) = default;
  friend std::strong_ordering operator<=>(const LineKey&, const LineKey&) = default;
};
LineKey KeyOf(const InvoiceLine& line);

// Where a record of issued invoices was read: file and 1-based line.
struct RecordOrigin {
  std::string file;
  std::uint64_t line = 0;
};

// How a line of an amendment changes.
enum class LineChange : std::uint8_t {
  kChanged,  // issued and re-rated, with another amount or quantity
  kNew,      // re-rated, never issued
  kRemoved,  // issued, not in the re-rated invoice: its whole issued amount is taken back
};
// "changed", "new", "removed".
const char* LineChangeName(LineChange change);

// Why a customer is amended.
enum class AmendmentStatus : std::uint8_t {
  kChanged,  // issued before and re-rated, differently
  kNew,      // re-rated, never issued: the amendment is the whole invoice
  kAbsent,   // issued, but not in the re-rated invoices: amended to zero
};
// "changed", "new", "absent".
const char* AmendmentStatusName(AmendmentStatus status);

// One record of what was issued: an original invoice, as `tariff rate` writes it, or an
// amendment, as `tariff rate --previous` writes it. For an amendment, each line's amount and
// quantity are the changes (re-rated − issued) and `invoice.total` is the change of the total,
// so that adding every record of a customer gives what the customer has been billed.
struct IssuedRecord {
  RecordOrigin origin;
  bool amendment = false;
  std::uint64_t revision = 0;  // 0 for an original invoice; 1, 2, … for amendments
  Invoice invoice;
  // An amendment's `issued_total`: what the records before it added up to when it was computed.
  std::optional<Decimal> issued_total;
  // An amendment's `status`, and for each of `invoice.lines` (in the same order) its `change` and
  // what was issued of the line before it (`issued_amount`, `issued_quantity`; 0 for a line
  // without a quantity). SumIssued checks them against the records before it.
  AmendmentStatus status = AmendmentStatus::kChanged;
  struct Basis {
    LineChange change = LineChange::kChanged;
    Decimal issued_amount, issued_quantity;
  };
  std::vector<Basis> bases;
};

// One line of what a customer has been issued: the sum of the records' lines with its key.
struct IssuedLine {
  LineKey key;
  Decimal amount;
  Decimal quantity;
  bool has_quantity = false;
};

// What has been issued to one customer for the period: every record of the customer added up,
// line by line. Lines are in the order they first appear, records taken by revision (so the
// order never depends on the order of the files read).
struct IssuedInvoice {
  std::string customer, plan, period_start, period_end, currency;
  std::vector<IssuedLine> lines;
  Decimal total;                 // the sum of the records' totals (= the sum of `lines`)
  std::uint64_t revision = 0;    // the highest revision issued
  bool has_original = false;     // an original invoice is among the records
  RecordOrigin first;            // the record of the lowest revision
};

// An error in the issued records: a code (docs/cli.md, "Amendments"), the record's place and
// a message. column is 0 when no column applies.
class AmendmentError : public std::runtime_error {
 public:
  AmendmentError(std::string code, RecordOrigin origin, std::uint64_t column, const std::string& message);
  const std::string& code() const { return code_; }
  const RecordOrigin& origin() const { return origin_; }
  std::uint64_t column() const { return column_; }
  // "FILE:LINE[:COLUMN]: error[CODE]: message"
  std::string Render() const;

 private:
  std::string code_;
  RecordOrigin origin_;
  std::uint64_t column_;
};

// Error codes of amendments (docs/cli.md).
inline constexpr const char* kAmendInvalidJson = "A0101";      // a line that is not JSON
inline constexpr const char* kAmendNotAnInvoice = "A0102";     // JSON, but not an invoice or amendment record
inline constexpr const char* kAmendOtherPlan = "A0103";        // issued for another plan
inline constexpr const char* kAmendOtherPeriod = "A0104";      // issued for another period
inline constexpr const char* kAmendOtherCurrency = "A0105";    // issued in another currency
inline constexpr const char* kAmendIssuedTwice = "A0106";      // two original invoices of one customer
inline constexpr const char* kAmendRevision = "A0107";         // an amendment given twice, or one missing
inline constexpr const char* kAmendUnreadable = "A0108";       // the file cannot be read

// What this run rates, for CheckIssued: the plans it may bill (a customer's plan may change by
// subscription), its currency, and whether a record's period is its customer's period.
struct IssuedExpectations {
  std::vector<std::string> plans;
  std::string currency;
  std::string period_start, period_end;  // as this run writes them (for messages)
  // Customers this run rates for a period of their own (a billing anchor: contracts), start and
  // end as this run writes them; every other customer is rated for period_start..period_end.
  std::map<std::string, std::pair<std::string, std::string>> own_periods;
  // Whether the record's period texts name the period this run rates `customer` for (the same
  // instants, however written); null: compared as text.
  std::function<bool(const std::string& customer, const std::string& start, const std::string& end)> same_period;
};

// Throws AmendmentError for the first record (in the order given) issued for a plan this run
// does not rate (A0103), for another period than the one this run rates its customer for
// (A0104) or in another currency (A0105).
void CheckIssued(std::span<const IssuedRecord> records, const IssuedExpectations& run);

// Adds up the records per customer (its invoices issued at changes, `issued_at`, with the
// period's own). Throws AmendmentError: two original invoices for one customer with the same
// `issued_at` (A0106: the period was issued twice); two amendments of one customer with the same
// revision, or a revision missing between 1 and the highest (A0107: an amendment given twice
// would bill its change twice, one left out would bill it again); an amendment whose
// issued_total is not what the records before it add up to, or one of whose lines'
// issued_amount or issued_quantity is not what the records before it add up to for that line
// (A0107: it was computed against other records — say without the invoice it amends, which
// would bill that invoice twice, or with it omitted now, which would bill the change again); an
// amendment of status `changed` or `absent` with no record before it, one of status `new` with
// records before it, a `new` line that was issued before or a `changed` or `removed` one that
// was not (A0107); an amendment record without its issued_total or the bases of its lines
// (A0102: the reader always gives them); records of one customer in
// two currencies (A0105). Plan and period are not compared here (a later record may name another
// plan of the file, or the same period written another way): CheckIssued compares every record
// with the run. An IssuedInvoice names the plan and period of its latest record. Customers come
// out sorted by id.
std::vector<IssuedInvoice> SumIssued(std::span<const IssuedRecord> records);

struct AmendmentLine {
  LineKey key;
  LineChange change = LineChange::kChanged;
  Decimal issued_amount, rerated_amount;
  Decimal amount;  // rerated_amount − issued_amount
  bool has_quantity = false;  // either side has a quantity (a side without one counts as 0)
  Decimal issued_quantity, rerated_quantity;
  Decimal quantity;  // rerated_quantity − issued_quantity
};

// One customer's amendment: issued + amendment = re-rated, line by line and in total.
struct Amendment {
  std::string customer, plan, period_start, period_end, currency;
  std::uint64_t revision = 1;  // the issued revision + 1
  AmendmentStatus status = AmendmentStatus::kChanged;
  std::vector<AmendmentLine> lines;  // the re-rated invoice's order, then lines only issued
  Decimal issued_total, rerated_total;
  Decimal total;  // rerated_total − issued_total = the sum of lines' amounts
};

struct AmendmentCounts {
  std::uint64_t amended = 0;    // issued and re-rated differently
  std::uint64_t unchanged = 0;  // issued and re-rated the same (no amendment)
  std::uint64_t added = 0;      // re-rated, never issued
  std::uint64_t absent = 0;     // issued, amended to zero
};

// One customer: the amendment that turns `issued` into `rerated`, or nullopt when nothing
// changes. Either may be null (not both): no issued invoice makes a new customer, whose every
// line is in the amendment even when zero (it is the customer's first invoice); no re-rated
// invoice makes every issued line removed. A line absent on one side counts as amount 0 and
// quantity 0 there, so a line issued at 0 and gone since changes nothing. Amounts compare
// exactly by value (12.5 = 12.50); a change is written in the finer of the two scales.
std::optional<Amendment> Amend(const IssuedInvoice* issued, const Invoice* rerated);

// Every customer of either side, sorted by customer id; counts, when given, says how many of each.
// A customer with several re-rated invoices (the period's, then those issued at changes
// prorated `now`) is amended once, against all of them added up (as SumIssued adds up its
// issued invoices).
std::vector<Amendment> AmendAll(std::span<const IssuedInvoice> issued, std::span<const Invoice> rerated,
                                AmendmentCounts* counts);

}  // namespace tariff
