#!/usr/bin/env bash
# The web console in a real headless Chromium (issue 17): Debian's `chromium` and
# `chromium-driver` (installed with apt when missing, as root), Selenium from PyPI into
# target/console-browser-venv, a real `vouch-server --dev` and real `vouch` CLI devices.
# Screenshots of every page go to target/console-shots/ (CONSOLE_SHOTS=docs/console to
# refresh the ones committed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
VENV=$ROOT/target/console-browser-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
  echo "== installing selenium (PyPI) into $VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV" && python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet "selenium==4.38.0"
fi
cargo build --quiet -p vouch-server --bin vouch-server -p vouch-cli --bin vouch
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DATA=$(mktemp -d)
LOG=$DATA/server.log
"$TARGET_DIR/debug/vouch-server" --dev --data "$DATA/data" --listen 127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  URL=$(grep -o 'http://[0-9.:]*' "$LOG" | head -1 || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "${URL:-}" ] || { echo "the server did not start:"; cat "$LOG"; exit 1; }
SHOTS=${CONSOLE_SHOTS:-$ROOT/target/console-shots}
mkdir -p "$SHOTS"
"$VENV/bin/python" scripts/console_browser.py "$URL" "$TARGET_DIR/debug/vouch" "$SHOTS"
# No secret in the server's log: the console's pages are logged by route template only.
if grep -E 'vcs_|dev-password' "$LOG"; then
  echo "a console secret reached the server log" >&2
  exit 1
fi
