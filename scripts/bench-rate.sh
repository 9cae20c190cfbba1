#!/usr/bin/env bash
# `tariff rate` end to end on a generated usage CSV: MB/s, events/s and peak memory.
# Usage: scripts/bench-rate.sh [BUILD_DIR] [ROWS] [CUSTOMERS] [--subscriptions]
#   (defaults: build, 20000000, 100000). With --subscriptions every customer has a subscription
#   and half of them two (a change on March 16), so every row goes through the billing layer's
#   routing to the part of the period it falls in, and the flat fee is prorated.
# Needs /usr/bin/time (Debian package `time`). The CSV is written to a temporary directory and
# removed afterwards. Figures go in docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
rows="${2:-20000000}"
customers="${3:-100000}"
subscriptions="${4:-}"
tariff="$build/tools/tariff"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/plan.tariff" <<'PLAN'
plan "bench" {
  currency USD
  period month
  rounding half_even per line

  event call {
    bytes: quantity of MB
    region: one of "eu", "us", "apac"
  }

  meter transfer = sum(call.bytes) where call.region == "eu"
  meter calls = count(call)
  meter largest = max(call.bytes)

  charge "Transfer" = graduated transfer {
    up to 1000 MB  free
    up to 50 GB    0.09 USD per GB
    above          0.05 USD per GB
  }
  charge "Calls" = calls * 0.20 USD per 1000 call
  charge "Largest" = largest * 0.001 USD per MB
  charge "Platform" = 31.00 USD
}
PLAN

# Deterministic rows: customer, time within March 2026, a decimal with two places, a region.
awk -v rows="$rows" -v customers="$customers" 'BEGIN {
  srand(42);
  split("eu us apac", regions, " ");
  print "customer,time,bytes,region";
  for (i = 0; i < rows; i++) {
    c = int(rand() * customers);
    s = int(rand() * 2678400);
    d = int(s / 86400) + 1; h = int((s % 86400) / 3600); m = int((s % 3600) / 60); sec = s % 60;
    printf "cust%06d,2026-03-%02dT%02d:%02d:%02dZ,%d.%02d,%s\n", c, d, h, m, sec, int(rand() * 500), int(rand() * 100), regions[1 + int(rand() * 3)];
  }
}' > "$work/usage.csv"
extra=()
if [[ "$subscriptions" == "--subscriptions" ]]; then
  # Half of the customers change plan on March 16 (two subscriptions to two versions of the
  # seats), the others are subscribed all along: every row is routed, none is rejected.
  awk -v customers="$customers" 'BEGIN {
    print "customer,start,end";
    for (c = 0; c < customers; c++) {
      if (c % 2) { printf "cust%06d,2026-01-01,2026-03-16\ncust%06d,2026-03-16,\n", c, c; }
      else { printf "cust%06d,2026-01-01,\n", c; }
    }
  }' > "$work/subscriptions.csv"
  extra=(--subscriptions "$work/subscriptions.csv")
fi
bytes=$(stat -c %s "$work/usage.csv")
echo "usage: $rows rows, $customers customers, $(( bytes / 1000000 )) MB"

for run in 1 2; do
  /usr/bin/time -f "%e %M" -o "$work/time" "$tariff" rate "$work/plan.tariff" --usage "$work/usage.csv" \
    --period 2026-03-01..2026-04-01 "${extra[@]}" > "$work/invoices.jsonl" 2> "$work/stderr"
  read -r seconds kb < "$work/time"
  tail -n 1 "$work/stderr" | grep -q 'rows read' || tail -n 3 "$work/stderr"
  awk -v s="$seconds" -v kb="$kb" -v b="$bytes" -v r="$rows" -v run="$run" 'BEGIN {
    printf "run %d: %.2f s, %.0f MB/s, %.2f M events/s, peak RSS %.0f MB\n", run, s, b / 1e6 / s, r / 1e6 / s, kb / 1024 }'
done
grep 'rows read' "$work/stderr"
echo "invoices: $(wc -l < "$work/invoices.jsonl")"
