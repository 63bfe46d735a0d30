#!/usr/bin/env bash
# Installs npm dependencies (npm ci) when node_modules is missing or older than the lockfile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "== installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
