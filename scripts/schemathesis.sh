#!/usr/bin/env bash
# The OpenAPI document as the contract: schemathesis (PyPI) generates requests from
# GET /v1/openapi.json against a real `vouch-server --dev`, with a trusted device's token,
# and checks every answer (documented status, body schema, schema-valid requests taken,
# schema-violating ones refused). Exits non-zero on any failure.
# Needs python3 with venv; installs schemathesis into target/schemathesis-venv once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/target/schemathesis-venv
if [ ! -x "$VENV/bin/st" ]; then
  echo "== installing schemathesis (PyPI) into $VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian splits venv (and ensurepip) out of python3.
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV" && python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet "schemathesis==4.32.5"
fi
cargo build --quiet -p vouch-server --bin vouch-server
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
TOKENS=$(python3 scripts/dev-device-token.py "$URL")
DEVICE_TOKEN=$(echo "$TOKENS" | sed -n 1p)
ACCOUNT_TOKEN=$(echo "$TOKENS" | sed -n 2p)
# Twice: as a trusted device (key holder), and as a signed-in session (registration,
# email codes, approval requests).
for who in device account; do
  if [ "$who" = device ]; then TOKEN=$DEVICE_TOKEN; else TOKEN=$ACCOUNT_TOKEN; fi
  echo "== schemathesis against $URL with a $who token"
  "$VENV/bin/st" run "$URL/v1/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all --phases examples,coverage,fuzzing \
    --exclude-path-regex '^/v1/dev/' \
    --max-examples "${ST_MAX_EXAMPLES:-30}" --seed "${ST_SEED:-1}" \
    --no-color
done
