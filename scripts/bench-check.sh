#!/usr/bin/env bash
# Measures `tariff check` on one generated ~200-line plan and on 1,000 plan files (copies of the
# bundled plans). Usage: scripts/bench-check.sh [BUILD_DIR]   (a Release build; see docs/benchmarks.md)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
tariff="$build/tariff"
[[ -x "$tariff" ]] || tariff="$build/tools/tariff"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One plan of ~200 lines: 40 metered charges in graduated tiers over one event.
{
  echo 'plan "bench" {'
  echo '  currency USD'
  echo '  period month'
  echo '  rounding half_even per line'
  echo '  unit request'
  echo '  event call {'
  echo '    bytes: quantity of GB'
  echo '    region: one of "eu", "us"'
  echo '  }'
  for i in $(seq 1 40); do
    echo "  meter m$i = sum(call.bytes) where call.region == \"eu\""
    echo "  charge \"C$i\" = graduated m$i {"
    echo "    up to 1000 GB  0.10 USD per GB"
    echo "    above          0.08 USD per GB"
    echo "  }"
  done
  echo '}'
} > "$work/big.tariff"

mkdir "$work/many"
plans=("$root"/plans/*/*.tariff)
for i in $(seq 1 1000); do
  cp "${plans[$(( i % ${#plans[@]} ))]}" "$work/many/plan$i.tariff"
done

TIMEFORMAT='%R'
echo "lines in the generated plan: $(wc -l < "$work/big.tariff")"
for run in 1 2 3; do
  t=$( { time "$tariff" check "$work/big.tariff" >/dev/null 2>&1; } 2>&1 )
  echo "check 1 plan of $(wc -l < "$work/big.tariff") lines, run $run: ${t} s"
done
for run in 1 2 3; do
  t=$( { time "$tariff" check "$work/many" >/dev/null 2>&1; } 2>&1 )
  echo "check 1000 plan files ($(cat "$work"/many/*.tariff | wc -l) lines), run $run: ${t} s"
done
