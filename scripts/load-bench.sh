#!/usr/bin/env bash
# The load bench on all three configurations (issue 21, README "Speed"): starts a
# throwaway PostgreSQL 15 cluster in a temporary directory (as the `postgres` user when
# run as root: initdb refuses root) with fsync ON, as production runs it, builds the bench
# in release and runs it with that cluster as --database: SQLite, PostgreSQL with one
# replica and with two, side by side. Arguments go to the bench, e.g.
#   scripts/load-bench.sh --clients 8 --cycles 50 --repeats 2
# The cluster is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "error: PostgreSQL 15 is not installed ($PG_BIN/initdb): apt-get install postgresql" >&2
  exit 1
fi
cargo build --release --locked -p vouch-e2e --bin vouch-server-load

dir=$(mktemp -d /tmp/vouch-pg-bench.XXXXXX)
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_owner=(runuser -u postgres --)
fi
stop() {
  "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$PG_BIN/initdb" -D "$dir/data" -U vouch --auth=trust -E UTF8 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# fsync and synchronous_commit stay on (the defaults): the figures include the WAL flush.
"${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $("$PG_BIN/postgres" --version)"
target/release/vouch-server-load --database "postgres://vouch@127.0.0.1:$port/postgres" "$@"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
