#!/usr/bin/env bash
# Quickstart 2: set up, build, and run the whole test suite with CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" "$@"
cd "${TARIFF_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)"
