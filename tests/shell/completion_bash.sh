#!/usr/bin/env bash
# tests/shell: `tariff completion bash`, loaded into bash and asked what it completes, as bash's
# programmable completion asks it (COMP_WORDS / COMP_CWORD, COMPREPLY back).
# Usage: completion_bash.sh TARIFF
set -euo pipefail
tariff="$1"
# shellcheck disable=SC1090
source <("$tariff" completion bash)
complete -p tariff | grep -q -- '-F _tariff' || { echo "FAIL: completion not registered"; exit 1; }
failures=0
expect() {  # expect "WORDS TO COMPLETE" "EXPECTED COMPREPLY, sorted, space-separated"
  read -r -a COMP_WORDS <<< "$1"
  [[ "$1" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _tariff || true  # compgen fails when nothing matches; fine in a shell, fatal under set -e
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
  if [[ "$got" != "$2" ]]; then
    echo "FAIL: '$1' completes to '$got', expected '$2'"
    failures=$((failures + 1))
  else
    echo "ok: '$1' -> '$got'"
  fi
}
expect "tariff ra" "rate"
expect "tariff c" "check completion convert"
expect "tariff check --fo" "--format"
expect "tariff check --format " "github json sarif text"
expect "tariff rate plan.tariff --usage-format j" "jsonl"
expect "tariff test --format " "json junit text"
expect "tariff rate plan.tariff --period " ""
expect "tariff completion " "bash zsh"
expect "tariff test --v" "--verbose"
# a file name where a file goes: this script's own folder
cd "$(dirname "${BASH_SOURCE[0]}")"
expect "tariff check completion_b" "completion_bash.sh"
expect "tariff rate p.tariff --out completion_z" "completion_zsh.zsh"
expect "tariff rate p.tariff --previous completion_z" "completion_zsh.zsh"
expect "tariff rate p.tariff --prev" "--previous"
(( failures == 0 )) || exit 1
echo "bash completion: all expectations hold"
