#!/usr/bin/env bash
# Quickstart 1: set up, build, and show tariff at work: rate a bundled plan over bundled usage
# into invoices, rate subscriptions with proration and credits, run the plans' own tests, check
# them, show what a mistake looks like, and convert units exactly.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
tariff="${TARIFF_BUILD_DIR:-$root/build}/tools/tariff"
cd "$root"

# The command in bold on a terminal (and NO_COLOR unset); plain text into a file or a pipe.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
  step() { printf '\n$ %s\n' "$*"; }
fi

step tariff --version
"$tariff" --version
step tariff rate plans/api-platform/api-platform.tariff --usage plans/api-platform/usage.csv --period 2026-03-01..2026-04-01 --format table
"$tariff" rate plans/api-platform/api-platform.tariff --usage plans/api-platform/usage.csv \
  --period 2026-03-01..2026-04-01 --format table
step tariff rate plans/stripe-billing/stripe-billing.tariff --plan basic --subscriptions plans/stripe-billing/subscriptions.csv --credits plans/stripe-billing/credits.csv --period 2026-04-15 --format table "   # subscriptions: an upgrade halfway (Stripe's +5 USD), a cancellation and a late start prorated, credits drawn"
"$tariff" rate plans/stripe-billing/stripe-billing.tariff --plan basic --subscriptions plans/stripe-billing/subscriptions.csv \
  --credits plans/stripe-billing/credits.csv --period 2026-04-15 --format table
step tariff explain plans/api-platform/api-platform.tariff --usage plans/api-platform/usage.csv --period 2026-03-01..2026-04-01 --customer acme "   # why acme pays what it pays: every step, adding up exactly"
"$tariff" explain plans/api-platform/api-platform.tariff --usage plans/api-platform/usage.csv \
  --period 2026-03-01..2026-04-01 --customer acme 2>/dev/null
step tariff test plans/ "   # every plan proves itself: usage in, expected lines out (vendors' published examples among them)"
"$tariff" test plans/ | tail -n 5
step tariff check --strict plans/
"$tariff" check --strict plans/
step tariff check examples/mistakes.tariff "   # a plan with three mistakes: each is reported with its place and a hint"
"$tariff" check examples/mistakes.tariff || echo "(exit $? — the plan has errors, as intended)"
step tariff check --format json examples/mistakes.tariff "   # the same for programs"
"$tariff" check --format json examples/mistakes.tariff | head -n 16 || true
step tariff fmt --check plans/
"$tariff" fmt --check plans/ && echo "every bundled plan is in canonical layout"
step tariff convert 1.5 GiB MB
"$tariff" convert 1.5 GiB MB
step tariff convert 90 min h
"$tariff" convert 90 min h
