#!/usr/bin/env bash
# `npm run demo`: the whole pipeline on a fresh machine. Installs npm dependencies when missing
# or stale, brings the local stack up (cached tools), starts a worker and the ingest API in the
# background (tracked by the stack: `npm run stack:down` stops them), then runs `pinpipe demo`
# with the arguments given (e.g. `npm run demo -- --events 20000 --down`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-deps.sh
echo "== local stack, worker and ingest API (scripts/stack.sh app-up)" >&2
bash scripts/stack.sh app-up >/dev/null
eval "$(bash scripts/stack.sh env)"
export NODE_NO_WARNINGS=1
exec node --require tsx/cjs src/cli/main.ts demo "$@"
