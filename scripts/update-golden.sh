#!/usr/bin/env bash
# Rewrites every golden case's expected output from the current build, for review with
# `git diff` before committing. Usage: scripts/update-golden.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
for case in "$root"/tests/golden/check/*/; do
  "$build/tests/golden" check "$case" --update || true
done
for case in "$root"/tests/golden/rate/*/; do
  [[ -d "$case" ]] && { "$build/tests/golden" rate "$case" --update || true; }
done
