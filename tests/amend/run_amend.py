#!/usr/bin/env python3
"""tests/amend: `tariff rate --previous` end to end, checked with exact decimals.

    run_amend.py TARIFF SOURCE_DIR WORK_DIR SCENARIO

SCENARIO is one of: sum, rerun, chain, unchanged, formats, subscriptions, omitted, anchor, now. Each rates the plan of SOURCE_DIR
(plan.tariff) over its usage files into WORK_DIR and checks, with Python's decimal module (never a
float), that what was issued plus every amendment equals a fresh re-rate, customer by customer and
line by line. Exits 1 with a message on the first difference.
"""
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal

TARIFF, SOURCE, WORK, SCENARIO = sys.argv[1:5]
PLAN = os.path.join(SOURCE, "plan.tariff")
ISSUE_PERIOD = ["--period", "2026-03-01..2026-04-01"]
# The re-rates give the same period another way (the plan's month containing the date): the
# previous invoices' period is compared by instant, not by text.
RERATE_PERIOD = ["--period", "2026-03-15"]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def run(args, expect=0):
    p = subprocess.run([TARIFF] + args, capture_output=True)
    if p.returncode != expect:
        fail("`tariff %s` exited %d (expected %d)\nstdout:\n%s\nstderr:\n%s"
             % (" ".join(args), p.returncode, expect, p.stdout.decode(), p.stderr.decode()))
    return p.stdout, p.stderr.decode()


def usage(n):
    return os.path.join(SOURCE, "usage%d.csv" % n)


def rate(n, out, previous=(), extra=(), period=None):
    if period is None:
        period = RERATE_PERIOD if previous else ISSUE_PERIOD
    args = ["rate", PLAN, "--usage", usage(n)] + period
    for p in previous:
        args += ["--previous", p]
    args += list(extra)
    stdout, stderr = run(args)
    with open(out, "wb") as f:
        f.write(stdout)
    return stdout, stderr


def records(path):
    out = []
    with open(path, "rb") as f:
        for line in f.read().decode().splitlines():
            if line.strip():
                # Decimals are strings; a JSON number (revision) is parsed as Decimal, never a float.
                out.append(json.loads(line, parse_float=Decimal, parse_int=Decimal))
    return out


def key(line):
    return (line["kind"], line["name"], tuple(line["group"]), line.get("unit", "") if "quantity" in line else "",
            line.get("rated_by", ""), line.get("from", ""), line.get("to", ""))


def summed(paths):
    """customer -> (total, {line key -> [amount, quantity]}) over every record of `paths`."""
    customers = {}
    for path in paths:
        for r in records(path):
            total, lines = customers.setdefault(r["customer"], [Decimal(0), {}])
            customers[r["customer"]][0] = total + Decimal(r["total"])
            line_sum = Decimal(0)
            for line in r["lines"]:
                entry = lines.setdefault(key(line), [Decimal(0), Decimal(0)])
                entry[0] += Decimal(line["amount"])
                line_sum += Decimal(line["amount"])
                if "quantity" in line:
                    entry[1] += Decimal(line["quantity"])
            if line_sum != Decimal(r["total"]):
                fail("%s: customer %s: total %s is not the sum of its lines %s" % (path, r["customer"], r["total"], line_sum))
    return customers


def same(issued_paths, fresh_path):
    """Everything issued adds up to the fresh re-rate exactly (a line absent on one side is 0)."""
    issued = summed(issued_paths)
    fresh = summed([fresh_path])
    for customer in sorted(set(issued) | set(fresh)):
        i_total, i_lines = issued.get(customer, [Decimal(0), {}])
        f_total, f_lines = fresh.get(customer, [Decimal(0), {}])
        if i_total != f_total:
            fail("customer %s: issued + amendments total %s, re-rated %s" % (customer, i_total, f_total))
        for k in sorted(set(i_lines) | set(f_lines)):
            i = i_lines.get(k, [Decimal(0), Decimal(0)])
            f = f_lines.get(k, [Decimal(0), Decimal(0)])
            if i != f:
                fail("customer %s line %s: issued + amendments %s, re-rated %s" % (customer, k, i, f))
    return issued, fresh


def by_customer(path):
    return {r["customer"]: r for r in records(path)}


def line_of(record, name, group=()):
    for line in record["lines"]:
        if line["name"] == name and tuple(line["group"]) == tuple(group):
            return line
    fail("customer %s has no line %s %s: %s" % (record["customer"], name, group, record))


def expect(what, got, want):
    if got != want:
        fail("%s: got %r, expected %r" % (what, got, want))


def p(name):
    return os.path.join(WORK, name)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    rate(1, p("issued.jsonl"))
    _, err1 = rate(2, p("amend1.jsonl"), [p("issued.jsonl")])
    rate(2, p("fresh2.jsonl"), period=RERATE_PERIOD)

    if SCENARIO == "sum":
        same([p("issued.jsonl"), p("amend1.jsonl")], p("fresh2.jsonl"))
        expect("summary", err1.splitlines()[-1], "amendments 3: customers amended 2 + new 1 + absent 0; unchanged 2")
        a = by_customer(p("amend1.jsonl"))
        expect("customers amended", sorted(a), ["acme", "beta", "echo"])
        for r in a.values():
            expect("record kind", r["kind"], "amendment")
            expect("revision", r["revision"], 1)
        # acme: a late row of 1,000 requests crosses from the second tier (10.00 per 1000) into the
        # third (5.00 per 1000): 4,500 → 5,500 requests, 35.00 → 42.50; Tokens [small] +250,000
        # tokens +0.75; the minimum's true-up falls from 10.50 to 2.25.
        acme = a["acme"]
        expect("acme status", acme["status"], "changed")
        req = line_of(acme, "Requests")
        expect("acme Requests", (req["issued_quantity"], req["rerated_quantity"], req["quantity"], req["issued_amount"],
                                 req["rerated_amount"], req["amount"]),
               ("4500", "5500", "1000", "35.00", "42.50", "7.50"))
        expect("acme Tokens [small]", line_of(acme, "Tokens", ["small"])["amount"], "0.75")
        expect("acme Tokens [large] unchanged", [l for l in acme["lines"] if l["group"] == ["large"]], [])
        mini = line_of(acme, "Minimum 60.00 USD")
        expect("acme minimum", (mini["kind"], mini["issued_amount"], mini["rerated_amount"], mini["amount"]),
               ("minimum", "10.50", "2.25", "-8.25"))
        expect("acme total", (acme["issued_total"], acme["rerated_total"], acme["total"]), ("60.00", "60.00", "0.00"))
        # beta: 800 → 8,000 requests (a corrected row): 0.00 → 55.00 (4,000 at 10.00 + 3,000 at
        # 5.00 per 1000), the minimum's true-up of 49.40 goes.
        beta = a["beta"]
        expect("beta Requests", line_of(beta, "Requests")["amount"], "55.00")
        expect("beta Minimum", line_of(beta, "Minimum 60.00 USD")["amount"], "-49.40")
        expect("beta total", beta["total"], "5.60")
        expect("echo", (a["echo"]["status"], a["echo"]["issued_total"], a["echo"]["total"]), ("new", "0.00", "60.00"))
    elif SCENARIO == "rerun":
        # The same inputs give the same bytes, to stdout and through --out.
        rate(2, p("amend1-again.jsonl"), [p("issued.jsonl")])
        run(["rate", PLAN, "--usage", usage(2)] + RERATE_PERIOD + ["--previous", p("issued.jsonl"), "--out", p("amend1-out.jsonl")])
        for other in ("amend1-again.jsonl", "amend1-out.jsonl"):
            with open(p("amend1.jsonl"), "rb") as a, open(p(other), "rb") as b:
                if a.read() != b.read():
                    fail("%s differs from amend1.jsonl" % other)
        if os.path.getsize(p("amend1.jsonl")) == 0:
            fail("amend1.jsonl is empty")
    elif SCENARIO == "chain":
        _, err2 = rate(3, p("amend2.jsonl"), [p("issued.jsonl"), p("amend1.jsonl")])
        rate(3, p("amend2-swapped.jsonl"), [p("amend1.jsonl"), p("issued.jsonl")])
        rate(3, p("fresh3.jsonl"), period=RERATE_PERIOD)
        with open(p("amend2.jsonl"), "rb") as a, open(p("amend2-swapped.jsonl"), "rb") as b:
            if a.read() != b.read():
                fail("the order of --previous changed the amendment")
        same([p("issued.jsonl"), p("amend1.jsonl"), p("amend2.jsonl")], p("fresh3.jsonl"))
        expect("summary", err2.splitlines()[-1], "amendments 3: customers amended 2 + new 0 + absent 1; unchanged 2")
        a = by_customer(p("amend2.jsonl"))
        expect("customers amended", sorted(a), ["acme", "delta", "gama"])
        expect("acme revision", a["acme"]["revision"], 2)
        expect("gama revision", a["gama"]["revision"], 1)
        # acme's late row moves from the small model to the large: one line of the same name
        # falls, the other rises.
        expect("acme Tokens [small]", line_of(a["acme"], "Tokens", ["small"])["amount"], "-0.75")
        expect("acme Tokens [large]", line_of(a["acme"], "Tokens", ["large"])["amount"], "0.75")
        # delta is absent from the corrected usage: amended to zero, its minimum's true-up too.
        d = a["delta"]
        expect("delta", (d["status"], d["issued_total"], d["rerated_total"], d["total"]), ("absent", "60.00", "0.00", "-60.00"))
        # Its period as this run writes it, like every other amendment of the run (it was issued
        # as 2026-03-01..2026-04-01, the same instants).
        expect("delta period", d["period"], a["acme"]["period"])
        expect("acme period", a["acme"]["period"], {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"})
        expect("delta lines", sorted((l["change"], l["name"], l["amount"]) for l in d["lines"]),
               [("removed", "Minimum 60.00 USD", "-40.00"), ("removed", "Platform", "-10.00"), ("removed", "Requests", "-10.00")])
        # A third re-rate of the same usage, given all three, changes nothing.
        out, err3 = rate(3, p("amend3.jsonl"), [p("amend2.jsonl"), p("issued.jsonl"), p("amend1.jsonl")])
        expect("amendment of unchanged usage", out, b"")
        expect("summary", err3.splitlines()[-1], "amendments 0: customers amended 0 + new 0 + absent 0; unchanged 5")
    elif SCENARIO == "unchanged":
        out, err = rate(1, p("amend0.jsonl"), [p("issued.jsonl")])
        expect("amendment of unchanged usage", out, b"")
        expect("summary", err.splitlines()[-1], "amendments 0: customers amended 0 + new 0 + absent 0; unchanged 4")
        out, _ = rate(1, p("amend0.csv"), [p("issued.jsonl")], ["--format", "csv"])
        expect("empty CSV", out.decode(), "customer,plan,period_start,period_end,currency,revision,status,change,kind,name,"
               "group,unit,issued_quantity,rerated_quantity,quantity,issued_amount,rerated_amount,amount,rated_by,from,to\n")
    elif SCENARIO == "formats":
        out, _ = rate(2, p("amend1.csv"), [p("issued.jsonl")], ["--format", "csv"])
        rows = out.decode().splitlines()
        expect("CSV acme Requests", [r for r in rows if r.startswith("acme,") and ",Requests," in r],
               ["acme,amend,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,1,changed,changed,charge,Requests,,request,"
                "4500,5500,1000,35.00,42.50,7.50,,,"])
        expect("CSV acme total", [r for r in rows if r.startswith("acme,") and ",total," in r],
               ["acme,amend,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,USD,1,changed,total,,,,,,,,60.00,60.00,0.00,,,"])
        out, _ = rate(2, p("amend1.txt"), [p("issued.jsonl")], ["--format", "table"])
        text = out.decode()
        for needle in ("customer  acme", "amendment 1 (changed)", "4500 → 5500 request", "amendment 1 (new)"):
            if needle not in text:
                fail("table has no %r:\n%s" % (needle, text))
        req = [l for l in text.splitlines() if l.startswith("Requests") and "4500" in l]
        expect("table Requests row", [l.split() for l in req],
               [["Requests", "changed", "4500", "→", "5500", "request", "35.00", "42.50", "7.50"]])
    elif SCENARIO == "subscriptions":
        # Subscribed customers are billed whether or not they used anything: delta, whose usage
        # turned out not to be theirs, keeps its fee and minimum; only what moved is amended.
        subs = ["--subscriptions", os.path.join(SOURCE, "subscriptions.csv")]
        rate(2, p("issued-s.jsonl"), extra=subs)
        _, err = rate(3, p("amend-s.jsonl"), [p("issued-s.jsonl")], subs)
        rate(3, p("fresh-s.jsonl"), extra=subs, period=RERATE_PERIOD)
        same([p("issued-s.jsonl"), p("amend-s.jsonl")], p("fresh-s.jsonl"))
        expect("summary", err.splitlines()[-1], "amendments 3: customers amended 3 + new 0 + absent 0; unchanged 2")
        d = by_customer(p("amend-s.jsonl"))["delta"]
        expect("delta", (d["status"], d["issued_total"], d["rerated_total"], d["total"]), ("changed", "60.00", "60.00", "0.00"))
        expect("delta lines", sorted((l["change"], l["name"], l["amount"]) for l in d["lines"]),
               [("changed", "Minimum 60.00 USD", "10.00"), ("changed", "Requests", "-10.00")])
    elif SCENARIO == "omitted":
        # Invoices paid in full by a prepaid credit total 0.00, so an amendment's issued_total
        # cannot tell whether the invoice it amends was given: its lines must.
        src = os.path.join(SOURCE, "credits")
        plan = os.path.join(src, "plan.tariff")
        credits = ["--credits", os.path.join(src, "credits.csv")]

        def credited(n, previous=()):
            args = ["rate", plan, "--usage", os.path.join(src, "usage%d.csv" % n)] + ISSUE_PERIOD + credits
            for path in previous:
                args += ["--previous", path]
            return args

        out, _ = run(credited(1))
        with open(p("c-issued.jsonl"), "wb") as f:
            f.write(out)
        expect("issued total", records(p("c-issued.jsonl"))[0]["total"], "0.00")
        out, _ = run(credited(2, [p("c-issued.jsonl")]))
        with open(p("c-am1.jsonl"), "wb") as f:
            f.write(out)
        am1 = by_customer(p("c-am1.jsonl"))["u"]
        expect("am1 Req", (line_of(am1, "Req")["issued_amount"], line_of(am1, "Req")["amount"]), ("10.00", "2.00"))
        # The original left out: refused, not billed again.
        _, err = run(credited(3, [p("c-am1.jsonl")]), expect=1)
        expect("error", err.splitlines()[-1],
               "%s:1: error[A0107]: amendment 1 of customer `u` amends what was issued before it (status `changed`), but no "
               "invoice or amendment of the customer before it is given: give exactly the invoices and amendments issued "
               "for the period" % p("c-am1.jsonl"))
        # Given, it adds up: Req 10.00 + 2.00 + 3.00 = 15.00.
        out, _ = run(credited(3, [p("c-am1.jsonl"), p("c-issued.jsonl")]))
        with open(p("c-am2.jsonl"), "wb") as f:
            f.write(out)
        am2 = by_customer(p("c-am2.jsonl"))["u"]
        expect("am2", (am2["revision"], line_of(am2, "Req")["issued_amount"], line_of(am2, "Req")["rerated_amount"],
                       line_of(am2, "Req")["amount"]), (2, "12.00", "15.00", "3.00"))
        # The customer's whole invoice sent as a `new` amendment (rated against nothing issued)
        # and given beside that zero-total invoice: refused, not billed twice.
        open(p("c-empty.jsonl"), "w").close()
        out, _ = run(credited(1, [p("c-empty.jsonl")]))
        with open(p("c-new.jsonl"), "wb") as f:
            f.write(out)
        expect("new", by_customer(p("c-new.jsonl"))["u"]["status"], "new")
        _, err = run(credited(2, [p("c-issued.jsonl"), p("c-new.jsonl")]), expect=1)
        expect("error", err.splitlines()[-1],
               "%s:1: error[A0107]: amendment 1 of customer `u` is the customer's whole first invoice (status `new`), but "
               "%s:1 was issued to it before: give exactly the invoices and amendments issued for the period"
               % (p("c-new.jsonl"), p("c-issued.jsonl")))
    elif SCENARIO == "anchor":
        # A customer with its own billing anchor (contracts) was invoiced for its own period:
        # `--previous` takes the run's own output back, and amends each customer in its period.
        src = os.path.join(SOURCE, "anchor")
        plan = os.path.join(src, "plan.tariff")

        def anchored(usage_file, contracts, previous=()):
            args = ["rate", plan, "--usage", os.path.join(src, usage_file), "--contracts", os.path.join(src, contracts),
                    "--period", "2026-03-20"]
            for path in previous:
                args += ["--previous", path]
            return args

        out, _ = run(anchored("usage.csv", "contracts.csv"))
        with open(p("a-issued.jsonl"), "wb") as f:
            f.write(out)
        expect("acme's own period", by_customer(p("a-issued.jsonl"))["acme"]["period"],
               {"start": "2026-03-15T00:00:00Z", "end": "2026-04-15T00:00:00Z"})
        out, err = run(anchored("usage.csv", "contracts.csv", [p("a-issued.jsonl")]))
        expect("amendment of unchanged usage", out, b"")
        expect("summary", err.splitlines()[-1], "amendments 0: customers amended 0 + new 0 + absent 0; unchanged 2")
        # A late row of acme's (April 12, in its period, not in the run's): amended in its period.
        out, err = run(anchored("usage-late.csv", "contracts.csv", [p("a-issued.jsonl")]))
        with open(p("a-am1.jsonl"), "wb") as f:
            f.write(out)
        expect("summary", err.splitlines()[-1], "amendments 1: customers amended 1 + new 0 + absent 0; unchanged 1")
        acme = by_customer(p("a-am1.jsonl"))["acme"]
        expect("acme amendment period", acme["period"], {"start": "2026-03-15T00:00:00Z", "end": "2026-04-15T00:00:00Z"})
        expect("acme Requests", (line_of(acme, "Requests")["issued_amount"], line_of(acme, "Requests")["amount"]),
               ("2.00", "1.00"))
        # acme's usage gone: amended to zero in its own period, not the run's.
        out, err = run(anchored("usage-beta.csv", "anchor-only.csv", [p("a-issued.jsonl"), p("a-am1.jsonl")]))
        with open(p("a-am2.jsonl"), "wb") as f:
            f.write(out)
        acme = by_customer(p("a-am2.jsonl"))["acme"]
        expect("acme absent", (acme["status"], acme["revision"], acme["rerated_total"], acme["period"]),
               ("absent", 2, "0.00", {"start": "2026-03-15T00:00:00Z", "end": "2026-04-15T00:00:00Z"}))
        # An invoice of acme's for the run's period is not for its own.
        with open(p("a-issued.jsonl")) as f, open(p("a-wrong.jsonl"), "w") as g:
            g.write(f.read().replace("2026-03-15T00:00:00Z", "2026-03-01T00:00:00Z").replace("2026-04-15T00:00:00Z",
                                                                                             "2026-04-01T00:00:00Z"))
        _, err = run(anchored("usage.csv", "contracts.csv", [p("a-wrong.jsonl")]), expect=1)
        expect("error", err.splitlines()[-1],
               "%s:1: error[A0104]: invoice of customer `acme` is for the period 2026-03-01T00:00:00Z..2026-04-01T00:00:00Z; "
               "this run rates its period (its own billing anchor) 2026-03-15T00:00:00Z..2026-04-15T00:00:00Z"
               % p("a-wrong.jsonl"))
    elif SCENARIO == "now":
        # A change prorated `now` (tests/amend/now): the run for March issues acme's invoice for
        # March and, after it, an invoice at the change (issued_at). `--previous` reads both back
        # as acme's originals and amends what they add up to.
        src = os.path.join(SOURCE, "now")
        plan = os.path.join(src, "plan.tariff")

        def seats(n, previous=(), out=None, code=0):
            args = ["rate", plan, "--subscriptions", os.path.join(src, "subscriptions%d.csv" % n), "--period", "2026-03-01"]
            for path in previous:
                args += ["--previous", path]
            stdout, stderr = run(args, expect=code)
            if out is not None:
                with open(p(out), "wb") as f:
                    f.write(stdout)
            return stdout, stderr

        seats(1, out="n-issued.jsonl")
        issued = records(p("n-issued.jsonl"))
        expect("issued invoices", [(r["customer"], r.get("issued_at"), r["total"]) for r in issued],
               [("acme", None, "60.00"), ("acme", "2026-03-16T00:00:00Z", "18.00"), ("beta", None, "36.00")])
        expect("the invoice at the change", [(l["name"], l["amount"]) for l in issued[1]["lines"]],
               [("Unused time on Seats (2026-03-16 to 2026-04-01)", "-30.00"),
                ("Remaining time on Seats (2026-03-16 to 2026-04-01)", "48.00")])
        # The same subscriptions: nothing to amend.
        out, err = seats(1, [p("n-issued.jsonl")])
        expect("amendment of unchanged subscriptions", out, b"")
        expect("summary", err.splitlines()[-1], "amendments 0: customers amended 0 + new 0 + absent 0; unchanged 2")
        # 8 seats were 10: the invoice at the change's debit grows by 2 seats for half of March.
        seats(2, [p("n-issued.jsonl")], out="n-amend1.jsonl")
        seats(2, out="n-fresh2.jsonl")
        same([p("n-issued.jsonl"), p("n-amend1.jsonl")], p("n-fresh2.jsonl"))
        acme = by_customer(p("n-amend1.jsonl"))["acme"]
        expect("acme", (acme["status"], acme["revision"], acme["issued_total"], acme["rerated_total"], acme["total"]),
               ("changed", 1, "78.00", "90.00", "12.00"))
        line = line_of(acme, "Remaining time on Seats (2026-03-16 to 2026-04-01)")
        expect("acme remaining time", (line["issued_quantity"], line["rerated_quantity"], line["issued_amount"],
                                       line["rerated_amount"], line["amount"]), ("8", "10", "48.00", "60.00", "12.00"))
        # No change after all: both proration lines are taken back; the amendment of the
        # amendment adds up to the fresh re-rate. (March's fee is the same 60.00, but no longer
        # a part of a split period: its line's identity, rated_by/from/to, changes.)
        seats(3, [p("n-amend1.jsonl"), p("n-issued.jsonl")], out="n-amend2.jsonl")
        seats(3, out="n-fresh3.jsonl")
        same([p("n-issued.jsonl"), p("n-amend1.jsonl"), p("n-amend2.jsonl")], p("n-fresh3.jsonl"))
        acme = by_customer(p("n-amend2.jsonl"))["acme"]
        expect("acme revision 2", (acme["revision"], acme["issued_total"], acme["rerated_total"], acme["total"]),
               (2, "90.00", "60.00", "-30.00"))
        expect("acme lines", sorted((l["change"], l["name"], l["amount"]) for l in acme["lines"]),
               [("new", "Seats", "60.00"), ("removed", "Remaining time on Seats (2026-03-16 to 2026-04-01)", "-60.00"),
                ("removed", "Seats", "-60.00"), ("removed", "Unused time on Seats (2026-03-16 to 2026-04-01)", "30.00")])
        # The invoice at the change given twice would bill the change twice.
        with open(p("n-issued.jsonl")) as f:
            at_change = f.read().splitlines()[1] + "\n"
        with open(p("n-at-change.jsonl"), "w") as f:
            f.write(at_change)
        _, err = seats(1, [p("n-issued.jsonl"), p("n-at-change.jsonl")], code=1)
        expect("error", err.splitlines()[-1],
               "%s:2: error[A0106]: customer `acme` has two invoices for the period issued at 2026-03-16T00:00:00Z (the other "
               "at %s:1): it would be billed twice; give each issued invoice once" % (p("n-issued.jsonl"), p("n-at-change.jsonl")))
    else:
        fail("unknown scenario " + SCENARIO)
    print("ok: " + SCENARIO)


main()
