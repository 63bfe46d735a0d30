#!/usr/bin/env bash
# `npm run demo`: the whole pipeline on a fresh machine. Installs npm dependencies when missing
# or stale, brings the local stack up (cached tools), starts a worker and the ingest API in the
# background (tracked by the stack: `npm run stack:down` stops them), then runs `pinpipe demo`
# with the arguments given (e.g. `npm run demo -- --events 20000 --down`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-deps.sh
# The API signs the mark of each record it validated and the worker's sink trusts only marks that
# verify, so both need the same PINPIPE_RECORD_KEY; app-up starts both with this environment.
# Unless the caller brings one, a random key kept in the stack's folder (with its data, like the
# rest of the local stack), so a worker or API restarted later by app-up gets the same key.
if [[ -z "${PINPIPE_RECORD_KEY:-}" ]]; then
  key_file="${PINPIPE_STACK_DIR:-.stack}/record-key"
  if [[ ! -s "$key_file" ]]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$key_file")
  fi
  PINPIPE_RECORD_KEY="$(cat "$key_file")"
  export PINPIPE_RECORD_KEY
fi
echo "== local stack, worker and ingest API (scripts/stack.sh app-up)" >&2
bash scripts/stack.sh app-up >/dev/null
eval "$(bash scripts/stack.sh env)"
export NODE_NO_WARNINGS=1
exec node --require tsx/cjs src/cli/main.ts demo "$@"
