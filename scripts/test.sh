#!/usr/bin/env bash
# Quickstart 2 (and what CI runs, through .ci/run): set up, build, and run the whole test suite.
#   1. the Release build (build/) and every CTest;
#   2. the sanitizer build (build-asan/: g++ with TARIFF_SANITIZE=ON, ASan + UBSan) and every
#      CTest again, failing on any sanitizer report;
#   3. the fuzz build (build-fuzz/: clang-19, libFuzzer) and a brief run of each harness from
#      its seed corpora (scripts/fuzz.sh; TARIFF_FUZZ_SECONDS each, default 45), failing on any
#      crash, leak or sanitizer report that is not a known open bug (tests/fuzz/KNOWN_FAILING).
# Usage: scripts/test.sh [--quick] [CMAKE_ARGS...]
#   --quick  step 1 only (what a developer runs between edits). Other arguments go to the
#            Release build's configure step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
args=()
for a in "$@"; do
  if [[ "$a" == "--quick" ]]; then quick=1; else args+=("$a"); fi
done
jobs="$(nproc)"
start=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" $(( $(date +%s) - start )); }

step "Release build and CTest"
"$root/scripts/build.sh" "${args[@]}"
(cd "${TARIFF_BUILD_DIR:-$root/build}" && ctest --output-on-failure -j "$jobs")
if (( quick )); then exit 0; fi

step "sanitizer build (g++, ASan + UBSan) and CTest"
# -O1: half the compile time of -O3, and the suite still takes well under a minute.
TARIFF_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DTARIFF_SANITIZE=ON -DTARIFF_BUILD_BENCHMARKS=OFF \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG"
# Any report fails its test: UBSan aborts (-fno-sanitize-recover), ASan and LeakSanitizer exit non-zero.
(cd "$root/build-asan" &&
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ctest --output-on-failure -j "$jobs")

step "fuzz build (clang-19, libFuzzer) and ${TARIFF_FUZZ_SECONDS:-45} s of each harness"
# A fixed seed: the suite is a merge gate, so the brief run explores the same inputs every time
# (a finding is reproducible, not luck). Exploring — random seeds, longer runs — is
# scripts/fuzz.sh on its own (docs/testing.md, "Fuzzing and sanitizers").
TARIFF_FUZZ_ARGS="${TARIFF_FUZZ_ARGS:--seed=1}" "$root/scripts/fuzz.sh" all "${TARIFF_FUZZ_SECONDS:-45}"

step "done"
