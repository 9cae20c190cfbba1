// tools/driver: `tariff test [FILE|DIR...]` — runs the tests written inside plans: usage in,
// the engine rates it, expected lines and totals out. Every test of every plan is one result.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/diag/render.h"
#include "compiler/lower/lower.h"
#include "compiler/sema/units_adapter.h"
#include "runtime/billing/billing.h"
#include "runtime/exec/exec.h"
#include "runtime/io/usage_reader.h"
#include "tools/driver/command.h"
#include "tools/driver/driver.h"
#include "tools/driver/inputs.h"
#include "runtime/text/utf8.h"
#include "tools/driver/rating.h"

namespace tariff::driver {
namespace {

constexpr const char* kTestCustomer = "test";

struct TestOutcome {
  std::string file;
  std::string plan;
  std::string test;
  bool passed = true;
  std::vector<std::string> failures;  // one line per expectation that did not hold
  std::string error;                  // the test could not run
  int line = 0;                       // of the test in the plan file
  // The invoices the test produced (shown when it failed, or --verbose): one, or one per
  // billing period of a test with `invoice` blocks, labelled with the block's date.
  std::vector<Invoice> invoices;
  std::vector<std::string> invoice_labels;  // "" for a test of one invoice
  // Every expectation checked, for programs (`--format json`).
  struct Checked {
    std::string what;      // `"Requests" for "eu"`, `total`, `credit "promo" remaining`
    std::string expected;  // the amount the plan states
    std::string actual;    // what the invoice has ("" when it has no such line)
    int line = 0;          // of the expectation in the plan file
    bool passed = false;
  };
  std::vector<Checked> checked;
};

class TestRunner {
 public:
  // `plans`: every plan version of the file, lowered (a test's subscription may name another
  // plan of the file; a test with a period is rated by the versions in force).
  TestRunner(const SourceFile& source, const CheckedFile& checked, const CheckedPlan& plan,
             const ir::RatingFunction& fn, const std::vector<const ir::RatingFunction*>& all, bool explain = false)
      : source_(source), checked_(checked), plan_(plan), fn_(fn), all_(all), explain_(explain) {}

  TestOutcome Run(const ast::TestDecl& test) {
    TestOutcome out;
    out.file = source_.path();
    out.plan = plan_.plan->name.value;
    out.test = test.name.value;
    out.line = static_cast<int>(source_.At(test.span.begin).line);
    std::string rating;  // " (invoice 2026-02-01)" while rating one invoice of several
    try {
      // The plans: with a period, every version of this plan (the one in force rates) and the
      // file's other plans; without one, this version and the other plans.
      PlanSet plans;
      plans.default_plan = fn_.plan;
      const bool period = test.from && test.to;
      for (const ir::RatingFunction* f : all_) {
        if (f->plan != fn_.plan || period || f == &fn_) plans.functions.push_back(f);
      }
      plans_ = &plans;
      BillingOptions options;
      options.subscriptions_input = true;  // the test's customer only
      // Every line's derivation for `tariff explain --test`, and for `expect meter` (a meter's value
      // is the one its lines read).
      bool reads_meters = false;
      ForEachStmt(test, [&](const ast::TestStmt& st, const ast::InvoiceBlock*) {
        const auto* e = std::get_if<ast::Expectation>(&st.kind);
        reads_meters = reads_meters || (e != nullptr && e->meter.has_value());
      });
      options.explain = explain_ || reads_meters;
      options.explain_customer = kTestCustomer;
      // The invoices: one for the test's period (or none given); with `invoice` blocks, one per
      // billing period the test's period overlaps, cut at the plan's period boundaries.
      std::vector<InvoicePart> parts = PartsOf(test, plans);
      std::vector<Subscription> subscriptions;
      std::vector<CreditGrant> credits;
      std::vector<ContractRow> contracts;
      for (const ast::TestStmt& stmt : test.stmts) {
        if (const auto* sub = std::get_if<ast::TestSubscription>(&stmt.kind)) subscriptions.push_back(SubscriptionOf(*sub, plans));
        if (const auto* c = std::get_if<ast::TestCredit>(&stmt.kind)) credits.push_back(CreditOf(*c, plans));
        if (const auto* c = std::get_if<ast::TestContract>(&stmt.kind)) contracts.push_back(ContractOf(stmt, *c));
      }
      if (!contracts.empty()) {
        // The terms of a contracts file (docs/billing.md), checked the same way; they count
        // periods, so the test needs one. Anchors (an interval for everyone) and commitments
        // (earlier periods rated from a file) are `tariff rate`'s.
        if (!period) throw BillingError(fmt::format("{}:{}: a `contract` needs the test's `period`", source_.path(), contracts.front().line));
        std::string why;
        if (!ReadContractRows(source_.path(), contracts, plans, options.contracts, &why)) throw BillingError(why);
        for (const ContractTerm& t : options.contracts) {
          if (t.kind == ContractTerm::Kind::kAnchor || t.kind == ContractTerm::Kind::kCommit) {
            throw BillingError(fmt::format("{}: a test takes discounts and overrides; anchors and commitments are rated by `tariff rate`", t.origin));
          }
        }
      }
      // No subscription block: the test's customer is on this plan for the whole period.
      if (subscriptions.empty()) {
        Subscription whole;
        whole.customer = kTestCustomer;
        whole.origin = fmt::format("test \"{}\"", test.name.value);
        subscriptions.push_back(whole);
      }
      seen_keys_.clear();
      for (const InvoicePart& part : parts) {
        rating = parts.size() > 1 ? " (invoice " + part.label + ")" : "";
        if (part.start) {
          options.period_start = part.start;
          options.period_end = part.end;
          options.period_start_text = part.start_text;
          options.period_end_text = part.end_text;
        }
        // Credits carry over: each invoice draws on what the invoices before it left.
        Biller biller(plans, subscriptions, credits, options);
        schemas_ = &biller.schemas();
        for (const ast::TestStmt& stmt : test.stmts) {
          const auto* u = std::get_if<ast::UsageEvents>(&stmt.kind);
          if (u != nullptr && InPart(*u, part, parts.size())) AddEvents(biller, *u, part.start);
          if (const auto* f = std::get_if<ast::UsageFile>(&stmt.kind)) AddFile(biller, *f, part, parts.size() > 1, out);
          const auto* block = std::get_if<ast::InvoiceBlock>(&stmt.kind);
          if (block == nullptr || block != part.block) continue;
          for (const ast::TestStmt& inner : block->stmts) {
            if (const auto* bu = std::get_if<ast::UsageEvents>(&inner.kind)) AddEvents(biller, *bu, part.start);
            if (const auto* f = std::get_if<ast::UsageFile>(&inner.kind)) AddFile(biller, *f, part, false, out);
          }
        }
        if (out.error.empty() && !biller.rejects().empty()) {
          LineColumn lc = source_.At(test.span.begin);
          out.error = fmt::format("{}:{}: {} usage row(s) of the test not rated{}: {}", source_.path(), lc.line, biller.rejects().size(),
                                  parts.size() > 1 ? " in the invoice of " + part.label : "", biller.rejects().front().reason);
        }
        if (!out.error.empty()) {
          out.passed = false;
          return out;
        }
        // A test rates one customer, `test`: usage statements are its events, and a usage file
        // must hold only its rows (a row for another customer would be silently left out).
        std::vector<Invoice> invoices = biller.Finish();
        thresholds_ = biller.threshold_invoices();  // progressive billing: `expect threshold invoice`
        const Invoice* invoice = nullptr;
        std::vector<const Invoice*> at_changes;  // issued at a change (`on change prorate now`)
        for (const Invoice& inv : invoices) {
          if (inv.customer == kTestCustomer) {
            (inv.issued_at.empty() ? invoice : at_changes.emplace_back()) = &inv;
          } else {
            out.error = fmt::format("the usage has rows for customer `{}`; a test rates the customer `{}` only",
                                    inv.customer, kTestCustomer);
            out.passed = false;
            return out;
          }
        }
        // The expectations of this invoice: the test's own (one invoice), or its block's.
        std::vector<const ast::Expectation*> expectations;
        for (const ast::TestStmt& stmt : test.stmts) {
          const auto* e = std::get_if<ast::Expectation>(&stmt.kind);
          if (e != nullptr && parts.size() == 1) expectations.push_back(e);
          const auto* block = std::get_if<ast::InvoiceBlock>(&stmt.kind);
          if (block == nullptr || block != part.block) continue;
          for (const ast::TestStmt& inner : block->stmts) {
            if (const auto* be = std::get_if<ast::Expectation>(&inner.kind)) expectations.push_back(be);
          }
        }
        if (invoice == nullptr) {
          // A part of the test's period without a subscription has no invoice: an error only
          // when something is expected of it.
          if (parts.size() == 1 || !expectations.empty()) {
            out.error = parts.size() == 1
                            ? std::string("the test's customer has no subscription in the test's period, so there is no invoice")
                            : fmt::format("the test's customer has no subscription in the period of invoice {}, so there is no invoice", part.label);
            out.passed = false;
            return out;
          }
          continue;
        }
        label_ = parts.size() > 1 ? part.label : std::string();
        for (const ast::Expectation* e : expectations) Expect(*e, *invoice, out);
        out.invoices.push_back(*invoice);
        out.invoice_labels.push_back(label_);
        // The invoices issued at the changes within the part: each checked against the block
        // dated at its change, if the test has one.
        for (const Invoice* inv : at_changes) {
          const std::optional<std::int64_t> at = ParsePlanTime(plans, inv->issued_at, nullptr);
          AtChange* block = nullptr;
          for (AtChange& c : at_change_blocks_) {
            if (at && c.at == *at) block = &c;
          }
          label_ = block != nullptr ? block->block->start.text : inv->issued_at;
          if (block != nullptr) {
            block->matched = true;
            for (const ast::TestStmt& inner : block->block->stmts) {
              if (const auto* be = std::get_if<ast::Expectation>(&inner.kind)) Expect(*be, *inv, out);
            }
          }
          out.invoices.push_back(*inv);
          out.invoice_labels.push_back(label_);
        }
        // What the invoice left of each grant is what the next invoice may draw.
        for (const CreditBalance& b : invoice->credits) {
          for (CreditGrant& g : credits) {
            if (g.id == b.id) g.amount = b.remaining;
          }
        }
      }
      for (const AtChange& c : at_change_blocks_) {
        if (c.matched || !out.error.empty()) continue;
        out.error = fmt::format("{}:{}: `invoice {}` is dated at a change of the test's subscriptions, but no invoice was issued at it "
                                "(the change is not prorated `now`, or nothing billed in advance is prorated)",
                                source_.path(), source_.At(c.block->start.span.begin).line, c.block->start.text);
      }
    } catch (const RatingError& e) {
      LineColumn lc = source_.At(e.source().begin);
      out.error = fmt::format("{}:{}:{}: rating failed{}: {}", source_.path(), lc.line, lc.column, rating, e.what());
    } catch (const BillingError& e) {
      out.error = e.what() + rating;
    } catch (const DecimalError& e) {
      out.error = fmt::format("rating failed{}: {}", rating, e.what());
    }
    out.passed = out.error.empty() && out.failures.empty();
    return out;
  }

 private:
  // One invoice a test rates: its period (absent: the test has none) and the block that states
  // its usage and expectations (null: the test's own statements).
  struct InvoicePart {
    std::optional<std::int64_t> start, end;
    std::string start_text, end_text;
    std::string label;  // the block's date as written, else the period's start
    const ast::InvoiceBlock* block = nullptr;
  };

  // Calls f(statement, block) for every statement of `test`, those of its `invoice` blocks too.
  template <typename F>
  static void ForEachStmt(const ast::TestDecl& test, F&& f) {
    for (const ast::TestStmt& st : test.stmts) {
      f(st, nullptr);
      if (const auto* b = std::get_if<ast::InvoiceBlock>(&st.kind)) {
        for (const ast::TestStmt& inner : b->stmts) f(inner, b);
      }
    }
  }

  std::vector<InvoicePart> PartsOf(const ast::TestDecl& test, const PlanSet& plans) {
    test_start_.reset();
    test_end_.reset();
    at_change_blocks_.clear();
    if (!test.from || !test.to) return {InvoicePart{}};
    std::string why;
    test_start_ = ParsePlanTime(plans, test.from->text, &why);
    test_end_ = ParsePlanTime(plans, test.to->text, &why);
    if (!test_start_ || !test_end_) throw BillingError("the test's period: " + why);
    std::vector<const ast::InvoiceBlock*> blocks;
    for (const ast::TestStmt& st : test.stmts) {
      if (const auto* b = std::get_if<ast::InvoiceBlock>(&st.kind)) blocks.push_back(b);
    }
    if (blocks.empty()) {
      return {InvoicePart{test_start_, test_end_, test.from->text, test.to->text, test.from->text, nullptr}};
    }
    std::vector<InvoicePart> parts;
    for (std::int64_t at = *test_start_; at < *test_end_;) {
      const PeriodBounds bounds = BillingPeriodAt(plans, at);
      InvoicePart part;
      part.start = at;
      part.end = std::min(bounds.end, *test_end_);
      // Each part starts where the one before ended (the first at the test's start).
      part.start_text = parts.empty() ? test.from->text : parts.back().end_text;
      part.end_text = *part.end == *test_end_ ? test.to->text : bounds.end_text;
      part.label = part.start_text;
      for (const ast::InvoiceBlock* b : blocks) {
        if (ParsePlanTime(plans, b->start.text, nullptr) == part.start) {
          part.block = b;
          part.label = b->start.text;
        }
      }
      parts.push_back(std::move(part));
      at = *parts.back().end;
    }
    // What the checker rules out, and the cut (by the plan version in force at each instant)
    // can still leave out: nothing a test states may go unchecked or unrated.
    // A block at a change of the test's subscriptions is for the invoice issued there
    // (`on change prorate now`): matched once the invoices are rated.
    std::set<std::int64_t> sub_starts, sub_ends;
    for (const ast::TestStmt& st : test.stmts) {
      if (const auto* s = std::get_if<ast::TestSubscription>(&st.kind)) {
        const Subscription sub = SubscriptionOf(*s, plans);
        if (sub.start) sub_starts.insert(*sub.start);
        if (sub.end) sub_ends.insert(*sub.end);
      }
    }
    for (const ast::InvoiceBlock* b : blocks) {
      if (std::any_of(parts.begin(), parts.end(), [&](const InvoicePart& p) { return p.block == b; })) continue;
      const std::optional<std::int64_t> at = ParsePlanTime(plans, b->start.text, nullptr);
      if (at && sub_starts.count(*at) != 0 && sub_ends.count(*at) != 0) at_change_blocks_.push_back({*at, b});
    }
    for (const ast::InvoiceBlock* b : blocks) {
      if (std::any_of(at_change_blocks_.begin(), at_change_blocks_.end(), [&](const AtChange& c) { return c.block == b; })) continue;
      if (std::none_of(parts.begin(), parts.end(), [&](const InvoicePart& p) { return p.block == b; })) {
        std::string starts;
        for (const InvoicePart& p : parts) starts += (starts.empty() ? "" : ", ") + p.start_text;
        throw BillingError(fmt::format("{}:{}: `invoice {}` is not the start of one of the test's invoices ({}; the plan version in force "
                                       "decides where billing periods start)",
                                       source_.path(), source_.At(b->start.span.begin).line, b->start.text, starts));
      }
    }
    for (const ast::TestStmt& st : test.stmts) {
      const LineColumn lc = source_.At(st.span.begin);
      if (parts.size() > 1 && std::holds_alternative<ast::Expectation>(st.kind)) {
        throw BillingError(fmt::format("{}:{}: an `expect` outside the `invoice` blocks of a test of {} invoices", source_.path(), lc.line, parts.size()));
      }
      const auto* u = std::get_if<ast::UsageEvents>(&st.kind);
      if (parts.size() > 1 && u != nullptr &&
          std::none_of(parts.begin(), parts.end(), [&](const InvoicePart& p) { return InPart(*u, p, parts.size()); })) {
        throw BillingError(fmt::format("{}:{}: usage {} is in none of the test's invoices ({} .. {})", source_.path(), lc.line,
                                       u->at ? "at " + u->at->text : std::string("without `at`"), test.from->text, test.to->text));
      }
    }
    return parts;
  }

  // Whether a `usage` statement of the test itself (not of a block) belongs to invoice `part`:
  // with one invoice, every one; with several, those whose `at` falls in its period (the checker
  // refuses one without `at`, E0605).
  bool InPart(const ast::UsageEvents& u, const InvoicePart& part, std::size_t parts) const {
    if (parts == 1) return true;
    if (!u.at) return false;
    const std::optional<std::int64_t> t = ParsePlanTime(*plans_, u.at->text, nullptr);
    return t && part.start && *t >= *part.start && *t < *part.end;
  }

  int EventIndex(const std::string& name) const {
    for (std::size_t i = 0; i < schemas_->size(); ++i) {
      if ((*schemas_)[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }

  const Type& TypeOf(const ast::Node& n) const { return checked_.types[static_cast<std::size_t>(n.id.index)]; }

  // A literal as the number a column of `field_type` holds (quantities in the field's unit).
  Decimal Number(const ast::Expr& value, const Type& field_type) const {
    const auto* lit = std::get_if<ast::Literal>(&value.kind);
    if (lit == nullptr) throw DecimalError(DecimalErrorKind::kParse, "a test value is a literal");
    const Type& t = TypeOf(value);
    if (t.kind == TypeKind::kQuantity && field_type.kind == TypeKind::kQuantity) {
      Conversion c = Convert(lit->number, *t.unit, *field_type.unit);
      if (!c.ok()) throw DecimalError(DecimalErrorKind::kParse, fmt::format("`{}` is not a whole amount of {}", lit->number.ToString(), UnitName(*field_type.unit)));
      return *c.value;
    }
    if (lit->kind == ast::LiteralKind::kPercent) return Decimal::Divide(lit->number, Decimal(100), lit->number.scale() + 2, RoundingMode::kHalfEven);
    return lit->number;
  }

  void AddEvents(Biller& biller, const ast::UsageEvents& u, std::optional<std::int64_t> start) {
    int event = EventIndex(u.event.text);
    if (event < 0) return;
    const EventSchema& schema = (*schemas_)[static_cast<std::size_t>(event)];
    const EventInfo& info = plan_.events.at(u.event.text);
    // 1 <= N <= 10^18 (the checker's limit), so N fits a uint64 and every count stays exact.
    std::uint64_t count = u.count ? static_cast<std::uint64_t>(u.count->coefficient()) : 1;
    std::int64_t time = start.value_or(0);
    if (u.at) time = ParsePlanTime(*plans_, u.at->text, nullptr).value_or(time);
    // One row's values, then repeated `count` times in batches.
    Batch row;
    row.Reset(&schema, event);
    for (std::size_t f = 0; f < schema.fields.size(); ++f) {
      const FieldSchema& field = schema.fields[f];
      Column& col = row.columns[f];
      const ast::FieldInit* init = nullptr;
      for (const ast::FieldInit& i : u.fields) {
        if (i.name.text == field.name) init = &i;
      }
      const auto* lit = init ? std::get_if<ast::Literal>(&init->value->kind) : nullptr;
      switch (field.type) {
        case ColumnType::kDecimal:
          col.decimals.push_back(init ? Number(*init->value, info.fields.at(field.name).type) : Decimal());
          break;
        case ColumnType::kText:
          col.texts.push_back(static_cast<int>(f) == schema.customer_field ? std::string(kTestCustomer)
                                                                           : (lit ? lit->text : std::string()));
          break;
        case ColumnType::kBool: col.bools.push_back(lit && lit->bool_value ? 1 : 0); break;
        case ColumnType::kTimestamp:
          col.times.push_back(lit && lit->kind == ast::LiteralKind::kDateTime ? ParsePlanTime(*plans_, lit->text, nullptr).value_or(time) : time);
          break;
      }
    }
    // The event's idempotency key, as `rate` honours it: a row whose key was seen (in this
    // test's usage statements or files) is a duplicate, and `x N` events that give the key share
    // it, so only the first is rated. Events that do not give the key have keys of their own,
    // each distinct (`usage message x 10_000 { … }` is 10,000 messages).
    const bool key_given = schema.key_field >= 0 && std::any_of(u.fields.begin(), u.fields.end(), [&](const ast::FieldInit& i) {
                             return i.name.text == schema.fields[static_cast<std::size_t>(schema.key_field)].name;
                           });
    if (key_given) {
      if (!FirstTimeSeen(schema, row, 0)) return;
      count = 1;
    }
    // `x N` is one row standing for N identical events (Batch::weights): rated exactly, at once.
    row.origins.assign(1, RowOrigin{});
    if (count != 1) row.weights.assign(1, count);
    biller.Consume(row);
  }

  // Records the key of row `r` of `batch` (of `schema`, which has a key); false if it was seen
  // before in this test. The key is the event and the value as the usage readers compare it.
  bool FirstTimeSeen(const EventSchema& schema, const Batch& batch, std::size_t r) {
    const Column& c = batch.columns[static_cast<std::size_t>(schema.key_field)];
    std::string key = schema.name;
    key += '\0';
    switch (c.type) {
      case ColumnType::kText: key += c.texts[r]; break;
      case ColumnType::kDecimal: key += c.decimals[r].Normalized().ToString(); break;
      case ColumnType::kBool: key += c.bools[r] ? "true" : "false"; break;
      case ColumnType::kTimestamp: key += std::to_string(c.times[r]); break;
    }
    return seen_keys_.insert(std::move(key)).second;
  }

  Subscription SubscriptionOf(const ast::TestSubscription& s, const PlanSet& plans) const {
    Subscription sub;
    sub.customer = kTestCustomer;
    LineColumn lc = source_.At(s.fields.empty() ? 0 : s.fields.front().span.begin);
    sub.origin = fmt::format("{}:{}", source_.path(), lc.line);
    for (const ast::FieldInit& init : s.fields) {
      const auto* lit = std::get_if<ast::Literal>(&init.value->kind);
      if (lit == nullptr) continue;
      const std::string& name = init.name.text;
      if (name == "plan") {
        sub.plan = lit->text;
      } else if (name == "version") {
        sub.version = lit->number.ToString();
      } else if (name == "start" || name == "end") {
        std::string why;
        auto t = ParsePlanTime(plans, lit->text, &why);
        if (!t) throw BillingError(fmt::format("{}: `{}`: {}", sub.origin, lit->text, why));
        (name == "start" ? sub.start : sub.end) = t;
      } else if (name == "proration_behavior") {
        using Behaviour = ir::RatingFunction::ChangeProration;
        sub.proration_behavior = lit->text == "now" ? Behaviour::kNow : lit->text == "none" ? Behaviour::kNone : Behaviour::kNextInvoice;
      }
    }
    // Values of the plan's subscription fields (of the plan the subscription is to).
    const CheckedPlan* target = &plan_;
    for (const CheckedPlan& p : checked_.plans) {
      if (!sub.plan.empty() && p.plan->name.value == sub.plan) target = &p;
    }
    for (const ast::FieldInit& init : s.fields) {
      auto field = target->subscription.find(init.name.text);
      if (field == target->subscription.end()) continue;
      const auto* lit = std::get_if<ast::Literal>(&init.value->kind);
      if (lit == nullptr) continue;
      SubscriptionValue v;
      v.field = init.name.text;
      switch (field->second.type.kind) {
        case TypeKind::kBool:
          v.kind = ir::ValueKind::kBool;
          v.flag = lit->bool_value;
          break;
        case TypeKind::kText:
        case TypeKind::kId:
        case TypeKind::kEnum:
          v.kind = ir::ValueKind::kText;
          v.text = lit->text;
          break;
        default: v.number = Number(*init.value, field->second.type);
      }
      sub.values.push_back(std::move(v));
    }
    return sub;
  }

  // A `contract { … }` statement as a contracts-file row of the test's customer: each value as
  // written (a string's contents, a date, a number, a rate such as `0.15 USD per 1000 request`);
  // a percent and an amount also as a plan writes them (`percent = 20%`, `amount = 2.00 USD` in
  // the plan's currency), which a contracts file's column holds as `20` and `2.00`.
  ContractRow ContractOf(const ast::TestStmt& stmt, const ast::TestContract& c) const {
    ContractRow row;
    row.line = source_.At(stmt.span.begin).line;
    bool customer = false;
    for (const ast::FieldInit& init : c.fields) {
      const auto* lit = std::get_if<ast::Literal>(&init.value->kind);
      std::string value;
      const std::string written(source_.text().substr(init.value->span.begin, init.value->span.end - init.value->span.begin));
      if (lit != nullptr && (lit->kind == ast::LiteralKind::kString || lit->kind == ast::LiteralKind::kDateTime)) {
        value = lit->text;
      } else if (lit != nullptr && lit->kind == ast::LiteralKind::kPercent) {
        value = lit->number.ToString();
      } else if (lit != nullptr && lit->kind == ast::LiteralKind::kUnit) {
        std::string unit = written.substr(std::min(written.size(), static_cast<std::size_t>(lit->number_span.end - init.value->span.begin)));
        unit.erase(0, unit.find_first_not_of(' '));
        value = unit == fn_.currency ? lit->number.ToString() : written;
      } else {
        value = written;
      }
      customer = customer || init.name.text == "customer";
      row.values.emplace_back(init.name.text, std::move(value));
    }
    if (!customer) row.values.emplace(row.values.begin(), "customer", kTestCustomer);
    return row;
  }

  CreditGrant CreditOf(const ast::TestCredit& c, const PlanSet& plans) const {
    CreditGrant g;
    g.customer = kTestCustomer;
    g.id = c.id.value;
    const auto* lit = std::get_if<ast::Literal>(&c.amount->kind);
    if (lit != nullptr) g.amount = lit->number;
    if (c.expires) {
      std::string why;
      g.expires = ParsePlanTime(plans, c.expires->text, &why);
      if (!g.expires) throw BillingError(fmt::format("credit \"{}\": expires {}: {}", g.id, c.expires->text, why));
    }
    if (c.priority) g.priority = static_cast<std::int64_t>(c.priority->coefficient());
    g.origin = fmt::format("credit \"{}\"", g.id);
    return g;
  }

  // The rows of a usage file for invoice `part`. A file of the test itself in a test of several
  // invoices is read over the whole test's period (a row outside it is an error) and gives each
  // invoice the rows in its period (`split`); otherwise every row must be in the part's period.
  void AddFile(Biller& biller, const ast::UsageFile& f, const InvoicePart& part, bool split, TestOutcome& out) {
    std::filesystem::path path = std::filesystem::path(source_.path()).parent_path() / f.path.value;
    UsageReaderOptions reader_options;
    reader_options.period_start = split ? test_start_ : part.start;
    reader_options.period_end = split ? test_end_ : part.end;
    std::unique_ptr<UsageReader> reader = OpenUsage({path.string()}, *schemas_, reader_options);
    Batch batch, kept;
    while (reader->Next(batch)) {
      const EventSchema& schema = (*schemas_)[static_cast<std::size_t>(batch.event)];
      if (schema.key_field < 0 && !split) {
        biller.Consume(batch);
        continue;
      }
      // Keys are the test's, across its statements and files (the reader knows only its file).
      kept.Reset(&schema, batch.event);
      for (std::size_t r = 0; r < batch.size(); ++r) {
        if (split) {
          const std::int64_t t = batch.columns[static_cast<std::size_t>(schema.time_field)].times[r];
          if (t < *part.start || t >= *part.end) continue;
        }
        if (schema.key_field >= 0 && !FirstTimeSeen(schema, batch, r)) continue;
        for (std::size_t c = 0; c < batch.columns.size(); ++c) {
          const Column& from = batch.columns[c];
          Column& to = kept.columns[c];
          switch (from.type) {
            case ColumnType::kDecimal: to.decimals.push_back(from.decimals[r]); break;
            case ColumnType::kText: to.texts.push_back(from.texts[r]); break;
            case ColumnType::kBool: to.bools.push_back(from.bools[r]); break;
            case ColumnType::kTimestamp: to.times.push_back(from.times[r]); break;
          }
        }
        kept.origins.push_back(batch.origins[r]);
      }
      if (kept.size() > 0) biller.Consume(kept);
    }
    const std::string in_invoice = part.block != nullptr && !split ? " (invoice " + part.label + ")" : "";
    if (!reader->error().empty()) {
      out.error = reader->error();
    } else if (!reader->rejects().empty()) {
      const Reject& r = reader->rejects().front();
      out.error = fmt::format("{}:{}: {} ({} rows rejected{})", r.file, r.line, r.reason, reader->rejects().size(), in_invoice);
    }
  }

  // Whether `name` is the line of one of the plan's adjustments, or its per-invoice rounding line.
  bool IsAdjustmentLine(const std::string& name) const {
    for (const ir::Adjustment& a : fn_.adjustments) {
      if (a.name == name) return true;
    }
    return fn_.rounding.point == ir::RoundingRule::Point::kInvoice &&
           name == fmt::format("Rounding ({} to {} decimals)", RoundingModeName(fn_.rounding.mode), fn_.rounding.scale);
  }

  // An expected amount: a literal, or a negated one (`-5.00 USD`, a credit or a discount line);
  // the checker refuses anything else.
  static std::optional<Decimal> ExpectedAmount(const ast::Expr& e) {
    if (const auto* lit = std::get_if<ast::Literal>(&e.kind)) return lit->number;
    if (const auto* u = std::get_if<ast::Unary>(&e.kind); u != nullptr && u->op == ast::UnaryOp::kNegate) {
      if (std::optional<Decimal> v = ExpectedAmount(*u->operand)) return -*v;
    }
    return std::nullopt;
  }

  // `expect meter NAME [for GROUP] = VALUE`: the meter's value as the invoice's lines read it (the
  // "meter" steps of their derivations), the expected value converted exactly to its unit.
  void ExpectMeter(const ast::Expectation& e, const Invoice& invoice, TestOutcome& out) {
    const std::string& name = e.meter->text;
    std::vector<std::string> group;
    for (const ast::StringLit& g : e.group) group.push_back(g.value);
    std::string what = fmt::format("meter {}", name);
    if (!group.empty()) {
      std::string joined;
      for (const auto& g : group) joined += (joined.empty() ? "\"" : ", \"") + g + "\"";
      what += " for " + joined;
    }
    if (!label_.empty()) what += " in invoice " + label_;
    const LineColumn where = source_.At(e.value->span.begin);
    const auto* lit = std::get_if<ast::Literal>(&e.value->kind);
    const auto* minus = std::get_if<ast::Unary>(&e.value->kind);
    if (lit == nullptr && minus != nullptr) lit = std::get_if<ast::Literal>(&minus->operand->kind);
    const MeterInfo& meter = plan_.meters.at(name);
    Decimal want = lit != nullptr ? lit->number : Decimal();
    if (minus != nullptr) want = -want;
    std::string want_text = lit != nullptr ? std::string(source_.text().substr(e.value->span.begin, e.value->span.end - e.value->span.begin)) : "";
    const Type& t = TypeOf(*e.value);
    if (t.kind == TypeKind::kQuantity && meter.type.kind == TypeKind::kQuantity) {
      Conversion c = Convert(want, *t.unit, *meter.type.unit);
      if (!c.ok()) {
        out.failures.push_back(fmt::format("{}:{}: expect {} = {}: not a whole amount of {}, the meter's unit", source_.path(), where.line, what,
                                           want_text, UnitName(*meter.type.unit)));
        out.checked.push_back({what, want_text, "", static_cast<int>(where.line), false});
        return;
      }
      want = *c.value;
    }
    std::vector<std::pair<std::vector<std::string>, Decimal>> seen;  // (group, value) of each line reading it
    std::string unit;
    for (const InvoiceLine& line : invoice.lines) {
      if (!line.derivation || (!group.empty() && line.group != group)) continue;
      for (const DerivationStep& step : line.derivation->steps) {
        if (step.kind != "meter" || step.name != name || !step.value) continue;
        unit = step.unit;
        if (std::none_of(seen.begin(), seen.end(), [&](const auto& s) { return s.first == line.group && s.second == *step.value; })) {
          seen.emplace_back(line.group, *step.value);
        }
      }
    }
    std::vector<Decimal> values;
    for (const auto& s : seen) {
      if (std::none_of(values.begin(), values.end(), [&](const Decimal& v) { return v == s.second; })) values.push_back(s.second);
    }
    if (values.empty()) {
      out.failures.push_back(fmt::format("{}:{}: expect {} = {}: no line of the invoice reads meter `{}`{}", source_.path(), where.line, what, want_text,
                                         name, group.empty() ? "" : " for that group"));
      out.checked.push_back({what, want_text, "", static_cast<int>(where.line), false});
      return;
    }
    if (values.size() > 1) {
      const bool grouped = std::any_of(seen.begin(), seen.end(), [](const auto& s) { return !s.first.empty(); });
      out.failures.push_back(fmt::format("{}:{}: expect {} = {}: the meter has {} values on the invoice's lines{}", source_.path(), where.line,
                                         what, want_text, values.size(),
                                         grouped && group.empty() ? " (one per group); say which with `for`"
                                                                  : " (lines of several plan versions or parts of the period)"));
      out.checked.push_back({what, want_text, "", static_cast<int>(where.line), false});
      return;
    }
    const Decimal& got = values.front();
    const std::string got_text = got.ToString() + (unit.empty() ? "" : " " + unit);
    out.checked.push_back({what, want_text, got_text, static_cast<int>(where.line), got == want});
    if (!(got == want)) {
      out.failures.push_back(fmt::format("{}:{}: expect {} = {}, got {}", source_.path(), where.line, what, want_text, got_text));
    }
  }

  void Expect(const ast::Expectation& e, const Invoice& invoice, TestOutcome& out) {
    if (e.meter) {
      ExpectMeter(e, invoice, out);
      return;
    }
    const std::optional<Decimal> expected = ExpectedAmount(*e.value);
    if (!expected) {
      LineColumn lc = source_.At(e.value->span.begin);
      out.failures.push_back(fmt::format("{}:{}: the expected amount is not a number", source_.path(), lc.line));
      return;
    }
    const Decimal& want = *expected;
    std::string what;
    Decimal got;
    bool found = false;
    if (e.threshold_at) {
      // Progressive billing: the threshold invoice issued at that instant (read in the plan's
      // time zone), by its total.
      what = "threshold invoice " + e.threshold_at->text;
      const std::optional<std::int64_t> at = plans_ != nullptr ? ParsePlanTime(*plans_, e.threshold_at->text, nullptr) : std::nullopt;
      std::string issued;
      for (const Invoice& t : thresholds_) {
        if (t.customer != kTestCustomer) continue;
        issued += (issued.empty() ? "" : ", ") + t.issued_at;
        if (at && plans_ != nullptr && ParsePlanTime(*plans_, t.issued_at, nullptr) == at) {
          got = t.total;
          found = true;
        }
      }
      if (!found) {
        if (!label_.empty()) what += " in invoice " + label_;
        LineColumn lc = source_.At(e.value->span.begin);
        out.checked.push_back({what, want.ToString(), "", static_cast<int>(lc.line), false});
        out.failures.push_back(fmt::format("{}:{}: expect {} = {} {}: no threshold invoice was issued then ({})", source_.path(), lc.line,
                                           what, want.ToString(), fn_.currency,
                                           issued.empty() ? std::string("none was issued") : "issued at " + issued));
        return;
      }
    } else if (e.credit) {
      what = fmt::format("credit \"{}\" remaining", e.charge->value);
      for (const CreditBalance& b : invoice.credits) {
        if (b.id == e.charge->value) {
          got = b.remaining;
          found = true;
        }
      }
    } else if (!e.charge) {
      what = "total";
      got = invoice.total;
      found = true;
    } else {
      std::vector<std::string> group;
      for (const ast::StringLit& g : e.group) group.push_back(g.value);
      what = fmt::format("\"{}\"", e.charge->value);
      if (!group.empty()) {
        std::string joined;
        for (const auto& g : group) joined += (joined.empty() ? "\"" : ", \"") + g + "\"";
        what += " for " + joined;
      }
      // `from DATE`: the line of the part of a split period that starts then (a plan version, a
      // change of plan or of seats); lines of an unsplit period have no part.
      std::optional<std::int64_t> from;
      if (e.from) {
        from = ParsePlanTime(*plans_, e.from->text, nullptr);
        what += " from " + e.from->text;
      }
      bool split = false;
      for (const InvoiceLine& line : invoice.lines) {
        if (line.name != e.charge->value || (!group.empty() && line.group != group)) continue;
        if (e.from) {
          split = split || !line.from.empty();
          if (line.from.empty() || !from || ParsePlanTime(*plans_, line.from, nullptr) != from) continue;
        }
        got = got + line.amount;
        found = true;
      }
      if (e.from && !found && split) {
        std::string starts;
        for (const InvoiceLine& line : invoice.lines) {
          if (line.name == e.charge->value && (group.empty() || line.group == group) && !line.from.empty()) {
            starts += (starts.empty() ? "" : ", ") + line.from;
          }
        }
        if (!label_.empty()) what += " in invoice " + label_;
        const LineColumn lc = source_.At(e.value->span.begin);
        out.checked.push_back({what, want.ToString(), "", static_cast<int>(lc.line), false});
        out.failures.push_back(fmt::format("{}:{}: expect {} = {} {}: no part of the line starts then; its parts start at {}", source_.path(),
                                           lc.line, what, want.ToString(), fn_.currency, starts));
        return;
      }
      if (e.from && !found && !split) {
        // Say why: the line exists, but its period is not split.
        for (const InvoiceLine& line : invoice.lines) {
          if (line.name == e.charge->value && (group.empty() || line.group == group)) {
            if (!label_.empty()) what += " in invoice " + label_;
            const LineColumn lc = source_.At(e.value->span.begin);
            out.checked.push_back({what, want.ToString(), "", static_cast<int>(lc.line), false});
            out.failures.push_back(fmt::format("{}:{}: expect {} = {} {}: the invoice's period is not split, so its lines have no part starting then",
                                               source_.path(), lc.line, what, want.ToString(), fn_.currency));
            return;
          }
        }
      }
      // A subtotal: the invoice shows it beside the lines (a plan's name is a charge's, an
      // adjustment line's or a subtotal's, never two of them).
      for (const InvoiceSubtotal& st : invoice.subtotals) {
        if (!found && st.name == e.charge->value && group.empty()) {
          got = st.amount;
          found = true;
        }
      }
      // An adjustment that did not apply (a cap not reached, a minimum met) makes no line: its
      // amount is zero.
      if (!found && IsAdjustmentLine(e.charge->value)) {
        got = Decimal();
        found = true;
      }
      // So does a contract discount of the test not in force this period (a coupon that ended),
      // or one with nothing to discount, and a credit the test grants that nothing was drawn from.
      if (!found && group.empty() && !e.from) {
        for (const ast::PlanItem& item : plan_.plan->items) {
          const auto* test = std::get_if<ast::TestDecl>(&item.kind);
          if (test == nullptr || found) continue;
          bool mine = false;
          ForEachStmt(*test, [&](const ast::TestStmt& st, const ast::InvoiceBlock*) { mine = mine || std::get_if<ast::Expectation>(&st.kind) == &e; });
          if (!mine) continue;
          std::vector<ContractRow> rows;
          for (const ast::TestStmt& st : test->stmts) {
            if (const auto* c = std::get_if<ast::TestCredit>(&st.kind); c != nullptr && "Credit " + c->id.value == e.charge->value) found = true;
            if (const auto* c = std::get_if<ast::TestContract>(&st.kind)) rows.push_back(ContractOf(st, *c));
          }
          std::vector<ContractTerm> terms;
          std::string why;
          if (!rows.empty() && plans_ != nullptr && ReadContractRows(source_.path(), rows, *plans_, terms, &why)) {
            for (const ContractTerm& t : terms) {
              if (t.kind == ContractTerm::Kind::kDiscount && t.name == e.charge->value) found = true;
            }
          }
        }
        if (found) got = Decimal();
      }
    }
    if (!label_.empty()) what += " in invoice " + label_;
    LineColumn where = source_.At(e.value->span.begin);
    out.checked.push_back({what, want.ToString(), found ? got.ToString() : std::string(), static_cast<int>(where.line), found && got == want});
    if (!found) {
      LineColumn lc = where;
      out.failures.push_back(fmt::format("{}:{}: expect {} = {} {}: the invoice has no such {}", source_.path(), lc.line, what,
                                         want.ToString(), fn_.currency, e.credit ? "credit" : "line"));
      return;
    }
    if (got != want) {
      LineColumn lc = where;
      out.failures.push_back(fmt::format("{}:{}: expect {} = {} {}, got {} {}", source_.path(), lc.line, what,
                                         want.ToString(), fn_.currency, got.ToString(), fn_.currency));
    }
  }

  const SourceFile& source_;
  const CheckedFile& checked_;
  const CheckedPlan& plan_;
  const ir::RatingFunction& fn_;
  const std::vector<const ir::RatingFunction*>& all_;
  const bool explain_;
  const std::vector<EventSchema>* schemas_ = nullptr;
  const PlanSet* plans_ = nullptr;  // the plans of the test being run (dates read in their zone)
  std::set<std::string> seen_keys_;  // idempotency keys of the test being run
  std::vector<Invoice> thresholds_;  // the threshold invoices of the invoice being checked
  std::optional<std::int64_t> test_start_, test_end_;  // the period of the test being run
  std::string label_;  // the invoice being checked, in a test of several ("" otherwise)
  // `invoice DATE` blocks dated at a change of the test's subscriptions: for the invoice issued
  // at the change (`on change prorate now`), not for a billing period.
  struct AtChange {
    std::int64_t at;
    const ast::InvoiceBlock* block;
    bool matched = false;
  };
  std::vector<AtChange> at_change_blocks_;
};

// A test's invoice, every line (a failed test's, so that the expectations can be read against
// it; every test's with --verbose): the label an `expect` would use, the quantity, the amount.
std::string InvoiceLines(const Invoice& invoice, const std::string& header) {
  struct Row {
    std::string label, quantity, unit, amount;
  };
  std::vector<Row> rows;
  for (const InvoiceLine& l : invoice.lines) {
    std::string label = "\"" + l.name + "\"";
    if (!l.group.empty()) {
      std::string joined;
      for (const auto& g : l.group) joined += (joined.empty() ? "\"" : ", \"") + g + "\"";
      label += " for " + joined;
    }
    if (!l.rated_by.empty()) label += " (" + l.rated_by + ")";
    if (l.kind != LineKind::kCharge) label += fmt::format(" [{}]", LineKindName(l.kind));
    Row row{label, "", "", l.amount.ToString()};
    if (l.has_quantity) {
      row.quantity = l.quantity.ToString();
      row.unit = l.unit;
    }
    rows.push_back(std::move(row));
  }
  rows.push_back({"total", "", "", invoice.total.ToString()});
  // Subtotals after the total: sums of the lines above, named as `expect` names them.
  for (const InvoiceSubtotal& st : invoice.subtotals) rows.push_back({"\"" + st.name + "\" [subtotal]", "", "", st.amount.ToString()});
  std::size_t width = 0, qwidth = 0, uwidth = 0, awidth = 0;
  for (const Row& r : rows) {
    width = std::max(width, r.label.size());
    qwidth = std::max(qwidth, r.quantity.size());
    uwidth = std::max(uwidth, r.unit.size());
    awidth = std::max(awidth, r.amount.size());
  }
  std::string out = fmt::format("    {}:\n", header);
  for (const Row& r : rows) {
    std::string line = fmt::format("      {:<{}}  ", r.label, width);
    if (qwidth > 0) line += fmt::format("{:>{}} {:<{}}  ", r.quantity, qwidth, r.unit, uwidth);
    line += fmt::format("{:>{}} {}", r.amount, awidth, invoice.currency);
    out += line + "\n";
  }
  return out;
}

// Every invoice a test produced, each headed `invoice` (or `invoice 2026-02-01` in a test of
// several invoices).
std::string AllInvoiceLines(const TestOutcome& o, const char* header) {
  std::string out;
  for (std::size_t i = 0; i < o.invoices.size(); ++i) {
    const std::string& label = o.invoice_labels[i];
    out += InvoiceLines(o.invoices[i], label.empty() ? std::string(header) : std::string(header) + " " + label);
  }
  return out;
}

// Text for XML character data and attribute values (JUnit). What XML 1.0 cannot hold becomes
// U+FFFD: control characters, bytes that are not well-formed UTF-8 (a plan's source excerpt may
// hold them), and the non-characters U+FFFE and U+FFFF.
std::string XmlEscape(std::string_view text) {
  constexpr const char* kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (len > 1) {
      const std::string_view seq = text.substr(i, len);
      out += seq == "\xEF\xBF\xBE" || seq == "\xEF\xBF\xBF" ? std::string_view(kReplacement) : seq;
      i += len;
      continue;
    }
    const char c = text[i++];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') out += kReplacement;
        else out += c;
    }
  }
  return out;
}

// A plan file whose tests could not run (it does not check, or does not lower): what was said.
struct BrokenFile {
  std::string file;
  std::string why;
};

// JUnit XML (the form CI systems read: Jenkins, GitLab, GitHub actions' reporters): one
// <testsuite> per plan file, one <testcase> per test (classname `FILE.PLAN`), a <failure> per
// failed test with every expectation that did not hold and the actual invoice, an <error> for a
// test that could not run and for a plan file with errors. With `verbose`, every test's invoice
// is its <system-out>.
void WriteJUnit(std::ostream& out, const std::vector<std::string>& files, const std::vector<TestOutcome>& outcomes,
                const std::vector<BrokenFile>& broken, bool verbose) {
  int failures = 0, errors = 0;
  for (const TestOutcome& o : outcomes) {
    if (!o.error.empty()) ++errors;
    else if (!o.passed) ++failures;
  }
  errors += static_cast<int>(broken.size());
  const std::size_t total = outcomes.size() + broken.size();
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << fmt::format("<testsuites name=\"tariff test\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n", total, failures, errors);
  for (const std::string& given : files) {
    const std::string file = given == "-" ? std::string(kStdinName) : given;  // as the outcomes name it
    std::vector<const TestOutcome*> mine;
    for (const TestOutcome& o : outcomes) {
      if (o.file == file) mine.push_back(&o);
    }
    const BrokenFile* broken_file = nullptr;
    for (const BrokenFile& b : broken) {
      if (b.file == given) broken_file = &b;
    }
    int f = 0, e = broken_file != nullptr ? 1 : 0;
    for (const TestOutcome* o : mine) {
      if (!o->error.empty()) ++e;
      else if (!o->passed) ++f;
    }
    out << fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n", XmlEscape(file),
                       mine.size() + (broken_file != nullptr ? 1 : 0), f, e);
    if (broken_file != nullptr) {
      out << fmt::format("    <testcase classname=\"{}\" name=\"check\" file=\"{}\">\n", XmlEscape(file), XmlEscape(file));
      out << fmt::format("      <error message=\"the plan has errors; its tests did not run\" type=\"check\">{}</error>\n",
                         XmlEscape(broken_file->why));
      out << "    </testcase>\n";
    }
    for (const TestOutcome* o : mine) {
      out << fmt::format("    <testcase classname=\"{}.{}\" name=\"{}\" file=\"{}\" line=\"{}\">\n", XmlEscape(file), XmlEscape(o->plan),
                         XmlEscape(o->test), XmlEscape(file), o->line);
      if (!o->error.empty()) {
        out << fmt::format("      <error message=\"{}\" type=\"error\">{}</error>\n", XmlEscape(o->error), XmlEscape(o->error));
      } else if (!o->passed) {
        std::string body;
        for (const std::string& failure : o->failures) body += failure + "\n";
        body += AllInvoiceLines(*o, "actual invoice");
        out << fmt::format("      <failure message=\"{}\" type=\"expectation\">{}</failure>\n",
                           XmlEscape(o->failures.empty() ? std::string("failed") : o->failures.front()), XmlEscape(body));
      }
      if (verbose && !o->invoices.empty()) out << fmt::format("      <system-out>{}</system-out>\n", XmlEscape(AllInvoiceLines(*o, "invoice")));
      out << "    </testcase>\n";
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace

int RunTestExplained(const std::string& path, const std::string& plan_name, const std::string& test_name, Streams& streams,
                     ExplainedTest& out) {
  LoadedPlans loaded;
  if (int code = LoadPlans(out.sources, path, streams, "not explained", loaded); code != kExitOk) return code;
  out.file = loaded.file;
  const CheckedSource& checked = loaded.checked;
  const SourceFile& source = out.sources.file(loaded.file);
  std::vector<const ir::RatingFunction*> all;
  for (const ir::RatingFunction& f : loaded.functions) all.push_back(&f);
  std::vector<std::string> names;
  for (std::size_t p = 0; p < checked.checked->plans.size(); ++p) {
    const CheckedPlan& plan = checked.checked->plans[p];
    if (!plan_name.empty() && plan.plan->name.value != plan_name) continue;
    for (const ast::PlanItem& item : plan.plan->items) {
      const auto* t = std::get_if<ast::TestDecl>(&item.kind);
      if (t == nullptr) continue;
      names.push_back(t->name.value);
      if (t->name.value != test_name) continue;
      TestRunner runner(source, *checked.checked, plan, loaded.functions[p], all, /*explain=*/true);
      TestOutcome outcome = runner.Run(*t);
      if (!outcome.error.empty()) {
        streams.err << "error: test \"" << test_name << "\": " << outcome.error << "\n";
        return kExitFailure;
      }
      out.invoices = std::move(outcome.invoices);
      for (const std::string& f : outcome.failures) streams.err << "note: the test fails: " << f << "\n";
      return kExitOk;
    }
  }
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
  streams.err << fmt::format("error: `{}` has no test \"{}\"{}\n", path, test_name,
                             names.empty() ? std::string(" (it has no tests)") : fmt::format(" (it has {})", list));
  return kExitUsage;
}

Action RegisterTest(CLI::App& app, Streams& streams) {
  struct Options {
    std::vector<std::string> paths;
    std::string format = "text";
    bool verbose = false;
  };
  auto options = std::make_shared<Options>();
  app.add_option("paths", options->paths, "plan files, or directories searched for *.tariff (default: .)");
  app.add_option("--format", options->format, "text (for people), json, or junit (JUnit XML, for CI systems)")
      ->check(CLI::IsMember({"text", "json", "junit"}));
  app.add_flag("-v,--verbose", options->verbose, "show every line of every invoice a test produced, passed or not");

  return [options, &streams]() -> int {
    std::vector<std::string> args = options->paths.empty() ? std::vector<std::string>{"."} : options->paths;
    std::optional<std::vector<std::string>> files = ExpandPlanInputs(args, streams.err);
    if (!files) return kExitUsage;
    // A file given twice (or found twice, under two directories given) runs once.
    std::vector<std::string> unique;
    for (const std::string& f : *files) {
      if (std::find(unique.begin(), unique.end(), f) == unique.end()) unique.push_back(f);
    }
    files = std::move(unique);
    SourceManager sources;
    std::vector<TestOutcome> outcomes;
    std::vector<BrokenFile> broken_files;
    bool broken = false;
    for (const std::string& path : *files) {
      LoadedPlans loaded;
      // What loading says goes to stderr as always; JUnit also keeps it for the file's <error>.
      std::ostringstream said;
      Streams load_streams{streams.out, said, false, false, streams.in};
      const bool junit = options->format == "junit";
      int code = junit ? LoadPlans(sources, path, load_streams, "tests not run", loaded)
                       : LoadPlans(sources, path, streams, "tests not run", loaded);
      if (junit) streams.err << said.str();
      if (code != kExitOk) {
        if (code == kExitUsage) return code;
        broken = true;
        broken_files.push_back({path, said.str()});
        continue;
      }
      const CheckedSource& checked = loaded.checked;
      const SourceFile& source = sources.file(loaded.file);
      // Every plan version of the file, lowered: a test may subscribe to another plan, and a
      // test with a period is rated by the version in force.
      const std::vector<ir::RatingFunction>& functions = loaded.functions;
      std::vector<const ir::RatingFunction*> all;
      for (const ir::RatingFunction& f : functions) all.push_back(&f);
      for (std::size_t p = 0; p < checked.checked->plans.size(); ++p) {
        const CheckedPlan& plan = checked.checked->plans[p];
        TestRunner runner(source, *checked.checked, plan, functions[p], all);
        for (const ast::PlanItem& item : plan.plan->items) {
          if (const auto* t = std::get_if<ast::TestDecl>(&item.kind)) outcomes.push_back(runner.Run(*t));
        }
      }
    }
    int passed = 0, failed = 0;
    for (const TestOutcome& o : outcomes) (o.passed ? passed : failed)++;
    if (options->format == "json") {
      nlohmann::json all = nlohmann::json::array();
      for (const TestOutcome& o : outcomes) {
        nlohmann::json one = {{"file", o.file}, {"plan", o.plan}, {"test", o.test}, {"passed", o.passed},
                              {"failures", o.failures}, {"error", o.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.error)}};
        nlohmann::json expectations = nlohmann::json::array();
        for (const TestOutcome::Checked& c : o.checked) {
          expectations.push_back({{"expect", c.what}, {"expected", c.expected},
                                  {"actual", c.actual.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.actual)},
                                  {"line", c.line}, {"passed", c.passed}});
        }
        one["expectations"] = std::move(expectations);
        auto invoice_json = [](const Invoice& inv) {
          nlohmann::json lines = nlohmann::json::array();
          for (const InvoiceLine& l : inv.lines) {
            nlohmann::json line = {{"kind", LineKindName(l.kind)}, {"name", l.name}, {"group", l.group}, {"amount", l.amount.ToString()}};
            if (l.has_quantity) {
              line["quantity"] = l.quantity.ToString();
              line["unit"] = l.unit;
            }
            lines.push_back(std::move(line));
          }
          nlohmann::json j = {{"lines", lines}, {"total", inv.total.ToString()}, {"currency", inv.currency}};
          if (!inv.issued_at.empty()) j["issued_at"] = inv.issued_at;  // an invoice at a change (`on change prorate now`)
          if (!inv.subtotals.empty()) {
            nlohmann::json subtotals = nlohmann::json::array();
            for (const InvoiceSubtotal& st : inv.subtotals) subtotals.push_back({{"name", st.name}, {"of", st.parts}, {"amount", st.amount.ToString()}});
            j["subtotals"] = std::move(subtotals);
          }
          return j;
        };
        const bool several = o.invoices.size() > 1 || (o.invoices.size() == 1 && !o.invoice_labels.front().empty());
        if (!o.invoices.empty() && (!o.passed || options->verbose) && !several) {
          // "actual" for a failed test (as before --verbose existed); "invoice" with --verbose.
          one[o.passed ? "invoice" : "actual"] = invoice_json(o.invoices.front());
          if (!o.passed && options->verbose) one["invoice"] = one["actual"];
        } else if (!o.invoices.empty() && (!o.passed || options->verbose)) {
          // A test of several invoices: each, with the date of its `invoice` block.
          nlohmann::json invoices = nlohmann::json::array();
          for (std::size_t i = 0; i < o.invoices.size(); ++i) {
            nlohmann::json j = invoice_json(o.invoices[i]);
            j["invoice"] = o.invoice_labels[i];
            invoices.push_back(std::move(j));
          }
          one["invoices"] = std::move(invoices);
        }
        all.push_back(std::move(one));
      }
      streams.out << all.dump(2) << "\n";
    } else if (options->format == "junit") {
      WriteJUnit(streams.out, *files, outcomes, broken_files, options->verbose);
    } else {
      for (const TestOutcome& o : outcomes) {
        streams.out << fmt::format("{} {}: plan \"{}\": test \"{}\"\n", o.passed ? "PASS" : "FAIL", o.file, o.plan, o.test);
        if (!o.error.empty()) streams.out << "    " << o.error << "\n";
        for (const std::string& f : o.failures) streams.out << "    " << f << "\n";
        if (!o.passed || options->verbose) streams.out << AllInvoiceLines(o, o.passed ? "invoice" : "actual invoice");
      }
    }
    (options->format == "text" ? streams.out : streams.err) << fmt::format("{} passed, {} failed\n", passed, failed);
    return failed > 0 || broken ? kExitFailure : kExitOk;
  };
}

}  // namespace tariff::driver
