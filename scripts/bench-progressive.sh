#!/usr/bin/env bash
# Progressive billing (`invoice when usage reaches`) end to end: `tariff rate` on a generated
# usage CSV with and without the threshold, to show what finding the threshold events costs.
# Usage: scripts/bench-progressive.sh [BUILD_DIR] [ROWS] [CUSTOMERS] [THRESHOLD] [TIERS]
#   (defaults: build, 1000000, 1000, 25.00, graduated). TIERS `volume` prices the tokens by volume
#   tiers instead, whose total can fall: the search then goes event by event (quadratic). Rows are spread evenly over the customers and over
#   March 2026, each with 0–99 tokens at 0.001 USD a token plus a call count in packages; about
#   50 USD of usage a customer at the defaults, so each gets one threshold invoice per 25 USD.
# Needs /usr/bin/time (Debian package `time`). Figures go in docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
rows="${2:-1000000}"
customers="${3:-1000}"
threshold="${4:-25.00}"
tiers="${5:-graduated}"
tariff="$build/tools/tariff"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

plan() {
  cat <<PLAN
plan "bench" {
  currency USD
  period month
  unit token

  event call {
    tokens: quantity of token
  }
  meter tokens = sum(call.tokens)
  meter calls = count(call)

  charge "Tokens" = $tiers tokens {
    up to 10_000 token  free
    above               0.001 USD per token
  } allow falling_total
  charge "Calls" = calls * 0.50 USD per started 100 call
  charge "Platform" = 31.00 USD
$1
}
PLAN
}
plan "" > "$work/once.tariff"
plan "  invoice when usage reaches $threshold USD" > "$work/progressive.tariff"

awk -v rows="$rows" -v customers="$customers" 'BEGIN {
  srand(42);
  print "customer,time,tokens";
  span = 31 * 86400;
  for (i = 0; i < rows; i++) {
    t = int(i * span / rows);
    d = int(t / 86400); h = int((t % 86400) / 3600); m = int((t % 3600) / 60); s = t % 60;
    printf "cus_%05d,2026-03-%02dT%02d:%02d:%02dZ,%d\n", i % customers, d + 1, h, m, s, int(rand() * 100);
  }
}' > "$work/usage.csv"

for p in once progressive; do
  for run in 1 2; do
    /usr/bin/time -f "$p run $run: %e s, peak RSS %M KB" "$tariff" rate "$work/$p.tariff" --usage "$work/usage.csv" \
      --period 2026-03-01 > "$work/$p.jsonl" 2> "$work/$p.err" || { cat "$work/$p.err"; exit 1; }
    tail -1 "$work/$p.err"
  done
  grep -c '"kind":"threshold"' "$work/$p.jsonl" | sed "s/^/$p: threshold invoices /" || true
done
