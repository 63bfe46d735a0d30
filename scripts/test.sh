#!/usr/bin/env bash
# `npm test`: everything a fresh clone needs, in order. Installs dependencies when they are
# missing or stale, runs the static checks, brings up the local stack (idempotent), then runs
# every mocha suite against it. Exit code is non-zero if any step fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

bash scripts/ensure-deps.sh

step "typecheck"
npx tsc --noEmit -p .
step "lint"
npx eslint .
step "format check"
npx prettier --check . >/dev/null && echo "prettier: all files formatted"

step "local stack (scripts/stack.sh up)"
bash scripts/stack.sh up >/dev/null

step "time-skipping test server (for the *.fast.test.ts files)"
PINPIPE_TEST_SERVER="$(bash scripts/test-fast.sh --server-path)"
export PINPIPE_TEST_SERVER
echo "$PINPIPE_TEST_SERVER"

step "tests"
# The AWS SDK warns once per process that Node 20 support ends in 2027; nothing to act on here.
export NODE_NO_WARNINGS=1
npx mocha "${@:-test/**/*.test.ts}"
