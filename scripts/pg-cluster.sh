# Sourced by the scripts that need a throwaway PostgreSQL 15 cluster (the PostgreSQL test
# pass, the load bench): `pg_cluster_start NAME [postgres -c options…]` runs initdb and
# pg_ctl in a temporary directory /tmp/NAME.XXXXXX (as the `postgres` user when run as
# root: initdb refuses root), on a free loopback port, user `vouch` trusted, and sets
# PG_URL=postgres://vouch@127.0.0.1:PORT/postgres and PG_PORT; the cluster is stopped and
# removed when the script exits. PG_BIN (default /usr/lib/postgresql/15/bin) must hold it.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_cluster_start() {
  local name=$1
  shift
  if [ ! -x "$PG_BIN/initdb" ] || ! command -v psql >/dev/null; then
    echo "error: PostgreSQL 15 is not installed ($PG_BIN/initdb, psql): apt-get install postgresql" >&2
    exit 1
  fi
  PG_DIR=$(mktemp -d "/tmp/$name.XXXXXX")
  PG_AS_OWNER=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    PG_AS_OWNER=(runuser -u postgres --)
  fi
  trap pg_cluster_stop EXIT
  "${PG_AS_OWNER[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U vouch --auth=trust -E UTF8 >/dev/null
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1"
  for o in "$@"; do opts="$opts -c $o"; done
  "${PG_AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o "$opts" start >/dev/null
  PG_URL="postgres://vouch@127.0.0.1:$PG_PORT/postgres"
}

pg_cluster_stop() {
  "${PG_AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
