#!/usr/bin/env zsh
# tests/shell: `tariff completion zsh` in a real interactive zsh (driven through zsh/zpty, as a
# terminal would drive it): each line is typed with a Tab, and the command line zsh's completion
# system leaves is read back (a widget writes $BUFFER to a file). Only unique completions are
# asked, so the line shows exactly what was completed.
# Usage: completion_zsh.zsh TARIFF
emulate -L zsh
setopt err_return
tariff=${1:A}
work=$(mktemp -d)
trap 'rm -rf $work; zpty -d z 2>/dev/null' EXIT
$tariff completion zsh > $work/_tariff
print -r -- 'plan' > $work/plan.tariff
zmodload zsh/zpty
zpty z "cd ${(q)work} && TERM=dumb zsh -f -i"
zpty -w z "PS1=''; fpath=(${(q)work} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)work}/zcompdump"
zpty -w z "tariff() { : }"
zpty -w z "dump() { print -r -- \"\$BUFFER\" > ${(q)work}/buffer; BUFFER= }; zle -N dump; bindkey '^X' dump"
failures=0
expect() {  # expect TYPED EXPECTED-LINE
  rm -f $work/buffer
  zpty -w -n z "$1"$'\t'$'\x18'
  local i
  for i in {1..50}; do [[ -s $work/buffer ]] && break; sleep 0.1; done
  local got=$(<$work/buffer 2>/dev/null)
  if [[ $got == $2 ]]; then
    print -r -- "ok: '$1' -> '$got'"
  else
    print -r -- "FAIL: '$1' -> '$got', expected '$2'"
    (( failures++ ))
  fi
}
expect 'tariff ra' 'tariff rate '
expect 'tariff conv' 'tariff convert '
expect 'tariff check --fo' 'tariff check --format '
expect 'tariff check --format sa' 'tariff check --format sarif '
expect 'tariff rate plan.tariff --usage-format j' 'tariff rate plan.tariff --usage-format jsonl '
expect 'tariff test --format ju' 'tariff test --format junit '
expect 'tariff completion z' 'tariff completion zsh '
expect 'tariff check pla' 'tariff check plan.tariff '
(( failures == 0 )) || { print "zsh completion: $failures failed"; exit 1 }
print "zsh completion: all expectations hold"
