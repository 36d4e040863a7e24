#!/usr/bin/env bash
# The PostgreSQL pass (issue 21): starts a throwaway PostgreSQL 15 cluster in a temporary
# directory (as the `postgres` user when run as root: initdb refuses root), points the test
# kit at it (VOUCH_TEST_POSTGRES: every test server gets a database of its own there and
# is two vouch-server replicas on it behind a round-robin load balancer, so each test's
# clients are spread over both) and runs the server's test suite and the end-to-end tests
# (`cargo test -p vouch-server -p vouch-e2e`) with the given arguments, then a short run of
# the race stress binary on two replicas (`RACE_ROUNDS`, default 20); the cluster is
# removed afterwards.
# Installs PostgreSQL from Debian's packages when it is missing and this runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  fi
fi
. scripts/pg-cluster.sh
# fsync off: a throwaway cluster (the servers' own commits are what the tests check).
pg_cluster_start vouch-pg fsync=off max_connections=400

export VOUCH_TEST_POSTGRES="$PG_URL"
echo "== PostgreSQL pass on $VOUCH_TEST_POSTGRES"
cargo test -p vouch-server -p vouch-e2e --locked "$@"

# The race stress on two replicas of one database (issue 21: device limit, single
# decision, single-use code across replicas), a short run in the debug profile;
# RACE_ROUNDS=0 skips it, the 1,000-round run is `--release` by hand (README).
rounds=${RACE_ROUNDS:-20}
if [ "$rounds" -gt 0 ]; then
  psql "$VOUCH_TEST_POSTGRES" -qc "CREATE DATABASE vouch_race"
  cargo run -p vouch-e2e --locked --bin vouch-server-race -- --rounds "$rounds" \
    --database "postgres://vouch@127.0.0.1:$PG_PORT/vouch_race"
fi
