#!/usr/bin/env bash
# `npm run demo`: the whole pipeline on a fresh machine. Installs npm dependencies when missing
# or stale, brings the local stack up (cached tools), starts a worker and the ingest API in the
# background (tracked by the stack: `npm run stack:down` stops them), then runs `pinpipe demo`
# with the arguments given (e.g. `npm run demo -- --events 20000 --down`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-deps.sh
# The ingest API serves only the pipelines it is told (PINPIPE_PIPELINE_IDS): a demo of another
# pipeline (--pipeline <id>) must be among them when app-up starts the API. An API already
# running keeps what it was started with (`npm run stack:down` to restart it).
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --pipeline) demo_pipeline="${args[i + 1]:-}" ;;
    --pipeline=*) demo_pipeline="${args[i]#--pipeline=}" ;;
  esac
done
if [[ -n "${demo_pipeline:-}" ]]; then
  export PINPIPE_PIPELINE_IDS="${PINPIPE_PIPELINE_IDS:-${PINPIPE_PIPELINE_ID:-5eedcafe0001}},$demo_pipeline"
fi
echo "== local stack, worker and ingest API (scripts/stack.sh app-up)" >&2
bash scripts/stack.sh app-up >/dev/null
eval "$(bash scripts/stack.sh env)"
export NODE_NO_WARNINGS=1
exec node --require tsx/cjs src/cli/main.ts demo "$@"
