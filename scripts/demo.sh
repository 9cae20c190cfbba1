#!/usr/bin/env bash
# Quickstart 1: set up, build, and show tariff at work on what is bundled.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
tariff="${TARIFF_BUILD_DIR:-$root/build}/tariff"
set -x
"$tariff" --help
"$tariff" convert 1.5 GiB MB
"$tariff" convert 90 min h
