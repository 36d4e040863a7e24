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

. scripts/pg-cluster.sh
cargo build --release --locked -p vouch-e2e --bin vouch-server-load
# fsync and synchronous_commit stay on (the defaults): the figures include the WAL flush.
pg_cluster_start vouch-pg-bench max_connections=200

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $("$PG_BIN/postgres" --version)"
target/release/vouch-server-load --database "$PG_URL" "$@"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
