#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz. Builds the fuzz build (build-fuzz/: clang-19,
# libFuzzer, ASan + UBSan) when needed, then runs each harness for SECONDS from its seed corpora.
#
# Usage: scripts/fuzz.sh [HARNESS|all] [SECONDS]     (defaults: all, 60)
#   HARNESS is fuzz_plan, fuzz_usage, fuzz_rate or fuzz_decimal.
# Environment:
#   TARIFF_FUZZ_OUT        where corpora, logs and crashes go (default: a new /tmp/tariff-fuzz.XXXXXX;
#                          reuse one to continue from its corpus)
#   TARIFF_FUZZ_BUILD_DIR  the build directory (default: build-fuzz)
#   TARIFF_FUZZ_ARGS       extra libFuzzer flags (e.g. "-seed=1" or "-jobs=2")
#
# Each harness's writable corpus is OUT/HARNESS/corpus; the seeds are read-only links to the
# bundled plans/ and tests/golden/ files (and tests/fuzz/seeds/HARNESS). A crash, leak, timeout
# or sanitizer report is saved as OUT/HARNESS/crashes/crash-… with its log; minimize one with
#   build-fuzz/tests/fuzz/HARNESS -minimize_crash=1 -runs=100000 OUT/HARNESS/crashes/crash-…
# and keep it as tests/fuzz/regressions/HARNESS/NAME (docs/testing.md). A failure that matches
# the signature of an entry of tests/fuzz/KNOWN_FAILING is a known open bug: the harness skips
# the input (or, for a sanitizer report, the script restarts the harness) and fuzzing goes on;
# any other failure makes the script exit 1 when all harnesses are done. "known bugs hit"
# counts the distinct known signatures met.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
which="${1:-all}"
seconds="${2:-60}"
build="${TARIFF_FUZZ_BUILD_DIR:-$root/build-fuzz}"
all=(fuzz_plan fuzz_usage fuzz_rate fuzz_decimal)
if [[ "$which" == "all" ]]; then
  harnesses=("${all[@]}")
elif [[ " ${all[*]} " == *" $which "* ]]; then
  harnesses=("$which")
else
  echo "usage: scripts/fuzz.sh [all|${all[*]// /|}] [SECONDS]" >&2
  exit 2
fi
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz: SECONDS must be a positive number" >&2; exit 2; }

"$root/scripts/setup.sh"
if [[ ! -f "$build/build.ninja" ]]; then
  # Warnings are not errors here: clang 19 warns where g++ 12 does not (docs/testing.md lists them);
  # the g++ builds keep -Werror.
  # -O1, as libFuzzer's documentation builds: quick to compile, fast enough to run.
  CXX=clang++-19 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" \
    -DTARIFF_FUZZ=ON -DTARIFF_WERROR=OFF -DTARIFF_BUILD_TESTS=OFF -DTARIFF_BUILD_BENCHMARKS=OFF >/dev/null
fi
cmake --build "$build" --target fuzzers -j "$(nproc)"

# Crash reports with function names and lines (package llvm-19).
if [[ -x /usr/lib/llvm-19/bin/llvm-symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-19/bin/llvm-symbolizer; fi

out="${TARIFF_FUZZ_OUT:-$(mktemp -d /tmp/tariff-fuzz.XXXXXX)}"
mkdir -p "$out"
echo "fuzz: corpora, logs and crashes under $out"

# The seed files of a harness (the same lists as tests/fuzz/CMakeLists.txt).
seed_files() {
  case "$1" in
    fuzz_plan) find "$root/plans" "$root/tests/golden" -type f -name '*.tariff' ;;
    fuzz_usage) find "$root/plans" "$root/tests/golden" -type f \( -name '*.csv' -o -name '*.jsonl' -o -name '*.ndjson' \) ;;
    fuzz_rate) find "$root/tests/fuzz/seeds/fuzz_rate" -type f ;;
    fuzz_decimal) find "$root/plans" "$root/tests/golden" "$root/tests/fuzz/seeds/fuzz_decimal" -type f \
                    \( -name '*.csv' -o -name '*.jsonl' -o -name '*.txt' \) ;;
  esac
}
# The longest input each harness is given (plans are small; usage is cut to a few rows' worth).
max_len() {
  case "$1" in
    fuzz_plan) echo 16384 ;;
    fuzz_usage) echo 4096 ;;
    fuzz_rate) echo 1024 ;;
    fuzz_decimal) echo 512 ;;
  esac
}
# Signatures (extended regular expressions) of open bugs, from tests/fuzz/KNOWN_FAILING:
# lines `HARNESS/NAME | SIGNATURE | why` (fields separated by " | ").
known_signatures() {
  grep -v '^[[:space:]]*#' "$root/tests/fuzz/KNOWN_FAILING" 2>/dev/null | awk -F' [|] ' -v h="$1/" \
    'index($1, h) && NF >= 3 { s = $2; gsub(/^[ \t]+|[ \t]+$/, "", s); if (s != "") print s }'
}

status=0
summary=""
for h in "${harnesses[@]}"; do
  dir="$out/$h"
  mkdir -p "$dir/corpus" "$dir/crashes" "$dir/seeds"
  rm -f "$dir/seeds"/*
  i=0
  while IFS= read -r f; do
    i=$((i + 1))
    ln -s "$f" "$dir/seeds/$i-$(basename "$f")"
  done < <(seed_files "$h" | sort)
  mapfile -t signatures < <(known_signatures "$h")
  # The harness skips inputs whose failure matches one of these (tests/fuzz/fuzz_support.h).
  printf '%s\n' "${signatures[@]}" > "$dir/known-signatures"
  export TARIFF_FUZZ_KNOWN="$dir/known-signatures"
  deadline=$(( $(date +%s) + seconds ))
  execs=0 known=0 new=0 run=0
  # libFuzzer stops at the first crash: a known one is set aside and the run resumes (from the
  # corpus gathered so far) until the time is up.
  while (( $(date +%s) < deadline )); do
    run=$((run + 1))
    left=$(( deadline - $(date +%s) ))
    (( left > 0 )) || break
    log="$dir/run-$run.log"
    set +e
    dict=()
    [[ -f "$root/tests/fuzz/$h.dict" ]] && dict=(-dict="$root/tests/fuzz/$h.dict")
    # shellcheck disable=SC2086
    "$build/tests/fuzz/$h" -max_total_time="$left" -timeout=30 -rss_limit_mb=2048 -max_len="$(max_len "$h")" \
      "${dict[@]}" -print_final_stats=1 -artifact_prefix="$dir/crashes/" ${TARIFF_FUZZ_ARGS:-} "$dir/corpus" "$dir/seeds" \
      > "$log" 2>&1
    code=$?
    set -e
    n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
    if [[ "$n" == 0 ]]; then
      n=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
      n=${n:-0}
    fi
    execs=$((execs + n))
    grep -o 'known open bug (signature [0-9]*)' "$log" >> "$dir/known-hits" || true
    (( code == 0 )) && break
    artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
    matched=""
    for s in "${signatures[@]}"; do
      if grep -v 'known open bug (signature' "$log" | grep -qE -- "$s"; then matched="$s"; break; fi
    done
    if [[ -n "$matched" ]]; then
      known=$((known + 1))
      echo "fuzz: $h: a known open bug (KNOWN_FAILING: /$matched/): ${artifact:-no artifact}; going on"
      [[ -n "$artifact" ]] && cp "$log" "$artifact.log"
      (( known < 50 )) || break
      continue
    fi
    new=$((new + 1))
    status=1
    echo "fuzz: $h: FAILED (exit $code): ${artifact:-no artifact}; log $log"
    grep -E 'fuzz: .*invariant broken|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY' "$log" | head -n 5 | sed 's/^/  /'
    [[ -n "$artifact" ]] && cp "$log" "$artifact.log"
    break
  done
  known=$(( known + $(sort -u "$dir/known-hits" 2>/dev/null | wc -l) ))
  rm -f "$dir/known-hits"
  corpus=$(find "$dir/corpus" -type f | wc -l)
  line=$(printf '%-13s %10s execs in %4ss  corpus %5s  seeds %4s  known bugs hit %3s  new failures %s' \
    "$h" "$execs" "$seconds" "$corpus" "$i" "$known" "$new")
  echo "fuzz: $line"
  summary+="$line"$'\n'
done
echo
echo "fuzz: summary (under $out)"
printf '%s' "$summary"
exit $status
