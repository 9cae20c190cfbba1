#!/usr/bin/env bash
# Installs the Debian packages tariff's build and tests need, only those that are missing.
# Safe to run twice: a second run finds nothing to install and says so.
# Usage: scripts/setup.sh [--with-jit]   (the LLVM JIT is optional; issue "JIT" needs llvm-19-dev)
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  antlr4 libantlr4-runtime-dev     # grammar tool 4.7 + runtime 4.9: the pair Debian ships and that works together
  libfmt-dev                       # formatting
  libcli11-dev                     # command-line parsing
  nlohmann-json3-dev               # JSON diagnostics / invoices
  catch2                           # unit tests (v2)
  libbenchmark-dev                 # Google Benchmark
  libhowardhinnant-date-dev        # calendar + IANA time zones
  libboost-dev                     # Boost.Multiprecision (header-only): exact fractions in runtime/decimal, the checker and the reference evaluator
  tzdata
  python3                          # tests/junit: the JUnit XML checked with a real XML parser
  zsh groff-base                   # tests/shell: zsh completion in a real zsh, the man page through groff
  clang-19 libclang-rt-19-dev      # libFuzzer + ASan/UBSan runtimes for tests/fuzz (Debian's clang 14 cannot build tariff)
  llvm-19                          # llvm-symbolizer: function names and lines in the fuzzers' crash reports
  chromium                         # `tariff plot --out FILE.png` renders the SVG headless; tests/plot renders every plan's charts
)
if [[ "${1:-}" == "--with-jit" ]]; then packages+=(llvm-19-dev); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
