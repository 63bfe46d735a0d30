#!/usr/bin/env bash
# The Chromium the browser tests drive (through playwright-core, which brings no browser of its
# own: downloading one is not possible everywhere this runs, Debian's package is).
#
#   bash scripts/browser.sh path   print the Chromium executable; install Debian's `chromium`
#                                  package first when there is none
#
# PINPIPE_CHROMIUM=/path/to/chrome overrides the search (and is never second-guessed). Quiet on
# stdout except for the path; install progress goes to stderr. Exit 1 with a reason otherwise.
set -euo pipefail

die() {
  echo "browser.sh: $*" >&2
  exit 1
}

find_chromium() {
  local candidate
  # Debian's /usr/bin/chromium is a shell wrapper that sources /etc/chromium.d (extension
  # loading, GPU flags, a noisy /dev/shm check); the binary behind it takes Playwright's flags
  # as they are, so prefer it.
  for candidate in /usr/lib/chromium/chromium; do
    [[ -x $candidate ]] && { echo "$candidate"; return 0; }
  done
  for candidate in chromium chromium-browser google-chrome-stable google-chrome; do
    command -v "$candidate" 2>/dev/null && return 0
  done
  for candidate in \
    "/Applications/Chromium.app/Contents/MacOS/Chromium" \
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"; do
    [[ -x $candidate ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

install_chromium() {
  command -v apt-get >/dev/null ||
    die "no Chromium found and no apt-get to install one; install Chromium or Chrome and set PINPIPE_CHROMIUM=/path/to/it"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "no Chromium found; installing it needs root: apt-get install chromium"
    sudo=(sudo -n)
  fi
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
  echo "browser.sh: no Chromium found; installing Debian's chromium package" >&2
  # The package lists may be missing or stale on a fresh machine: refresh them only then.
  if ! "${apt[@]}" install -y --no-install-recommends chromium >&2; then
    echo "browser.sh: install failed; running apt-get update and trying again" >&2
    "${apt[@]}" update >&2 || die "apt-get update failed"
    "${apt[@]}" install -y --no-install-recommends chromium >&2 ||
      die "apt-get install chromium failed; install Chromium and set PINPIPE_CHROMIUM=/path/to/it"
  fi
}

cmd_path() {
  if [[ -n ${PINPIPE_CHROMIUM:-} ]]; then
    [[ -x $PINPIPE_CHROMIUM ]] || die "PINPIPE_CHROMIUM=$PINPIPE_CHROMIUM is not an executable file"
    echo "$PINPIPE_CHROMIUM"
    return
  fi
  find_chromium && return
  install_chromium
  find_chromium || die "installed Debian's chromium package but found no chromium executable"
}

case "${1:-}" in
  path) cmd_path ;;
  *) die "usage: bash scripts/browser.sh path" ;;
esac
