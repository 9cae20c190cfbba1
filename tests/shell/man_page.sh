#!/usr/bin/env bash
# tests/shell: `tariff man` is a manual page groff reads without a warning, and it documents every
# subcommand `tariff --help` lists and every option of each (from the same definitions).
# Usage: man_page.sh TARIFF
set -euo pipefail
tariff="$1"
page=$(mktemp)
trap 'rm -f "$page"' EXIT
"$tariff" man > "$page"
warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1 || true)
[[ -z "$warnings" ]] || { echo "FAIL: groff warns:"; echo "$warnings"; exit 1; }
text=$(groff -man -Tascii -P-cbou "$page" 2>/dev/null)
failures=0
subcommands=$("$tariff" --help | awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && !NF {exit}')
[[ -n "$subcommands" ]] || { echo "FAIL: no subcommands in --help"; exit 1; }
for sub in $subcommands; do
  grep -q "^   tariff $sub \[options\]" <<< "$text" || { echo "FAIL: no section for $sub"; failures=$((failures + 1)); }
  for opt in $("$tariff" "$sub" --help | grep -oE '^  +(-[a-zA-Z],)?--[a-z-]+' | sed 's/.*--/--/'); do
    grep -qe "$opt" <<< "$text" || { echo "FAIL: $sub $opt is not in the page"; failures=$((failures + 1)); }
  done
done
grep -q "^EXIT STATUS" <<< "$text" || { echo "FAIL: no EXIT STATUS"; failures=$((failures + 1)); }
(( failures == 0 )) || exit 1
echo "man page: $(wc -w <<< "$subcommands") subcommands and their options, no groff warning"
