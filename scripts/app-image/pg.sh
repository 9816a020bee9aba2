#!/bin/sh
# PostgreSQL 15 in the foreground as user postgres (the image's entrypoint for a `db` service).
# Initialises $PGDATA (default /var/lib/postgresql/data) when it holds no cluster yet, with
# trust authentication from anywhere (a test image: never expose it), then execs postgres.
# A fresh Docker named volume (owned by root) works: the folder is chowned first.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
BIN=/usr/lib/postgresql/15/bin
export PGDATA
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
chmod 2775 /run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "pg.sh: initialising a new cluster in $PGDATA" >&2
  as_postgres "$BIN/initdb" -D "$PGDATA" --auth=trust --username=postgres \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  {
    echo "listen_addresses = '*'"
    echo "unix_socket_directories = '/run/postgresql'"
    echo "jit = off  # the image leaves out LLVM"
  } >>"$PGDATA/postgresql.conf"
  {
    echo "host all all 0.0.0.0/0 trust"
    echo "host all all ::/0 trust"
  } >>"$PGDATA/pg_hba.conf"
else
  # A volume reused by another container may carry other owners.
  chown -R postgres:postgres "$PGDATA"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$BIN/postgres" -D "$PGDATA" "$@"
