#!/usr/bin/env python3
"""A small three-tier test web app (roost-test/app image, /app/web.py).

Listens on 0.0.0.0:$PORT (default 8000); PostgreSQL at $DB_HOST (default db; user and
database postgres, trust auth) and Redis at $REDIS_HOST (default cache) port 6379.

  GET  /        insert a row into `visits`, count the rows, INCR a redis counter ->
                200 {"visits": N, "cache_hits": M, "db_host_ip": IP, "served_by": HOSTNAME}
  POST /notes   store the request body as a row of `notes` -> 201 {"id": ID}
  GET  /notes   every note -> 200 [{"id": ID, "body": TEXT, "at": ISO}, ...]
  GET  /health  200 "ok" without touching the database or the cache

Survives a database failover without a restart: every request resolves the names again and
opens new connections (connect timeout 2 s); any database or cache error is a 503 with a JSON
body naming what failed, never a crash.
"""
import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import redis

PORT = int(os.environ.get("PORT", "8000"))
DB_HOST = os.environ.get("DB_HOST", "db")
DB_PORT = int(os.environ.get("DB_PORT", "5432"))
REDIS_HOST = os.environ.get("REDIS_HOST", "cache")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
TIMEOUT = 2
HOSTNAME = socket.gethostname()
QUIET = os.environ.get("WEB_QUIET", "") not in ("", "0")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS visits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), served_by text)",
    "CREATE TABLE IF NOT EXISTS notes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)",
)


class Unavailable(Exception):
    def __init__(self, component, target, err):
        super().__init__(f"{component} {target}: {err}")
        self.component, self.target, self.err = component, target, err


def resolve(name, component):
    """Resolve NAME now (no caching): the first IPv4 address, else any."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError as e:
        raise Unavailable(component, name, f"cannot resolve: {e}")
    v4 = [i[4][0] for i in infos if i[0] == socket.AF_INET]
    return v4[0] if v4 else infos[0][4][0]


def db_connect():
    ip = resolve(DB_HOST, "db")
    try:
        conn = psycopg2.connect(host=DB_HOST, hostaddr=ip, port=DB_PORT, user="postgres",
                                dbname="postgres", connect_timeout=TIMEOUT,
                                application_name=f"web@{HOSTNAME}")
        conn.autocommit = True
    except Exception as e:  # psycopg2.Error and anything from the socket layer
        raise Unavailable("db", f"{DB_HOST} ({ip})", str(e).strip())
    return conn, ip


def with_db(fn):
    """Runs fn(cursor) on a new connection (the schema made first); -> (result, ip)."""
    conn, ip = db_connect()
    try:
        with conn.cursor() as cur:
            for attempt in range(3):
                try:
                    for stmt in SCHEMA:
                        cur.execute(stmt)
                    break
                except psycopg2.errors.UniqueViolation:
                    # Two requests creating the same table at once: the other one won.
                    if attempt == 2:
                        raise
            return fn(cur), ip
    except Unavailable:
        raise
    except Exception as e:
        raise Unavailable("db", f"{DB_HOST} ({ip})", str(e).strip())
    finally:
        try:
            conn.close()
        except Exception:
            pass


def cache_incr():
    ip = resolve(REDIS_HOST, "cache")
    r = redis.Redis(host=ip, port=REDIS_PORT, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        return int(r.incr("cache_hits"))
    except Exception as e:
        raise Unavailable("cache", f"{REDIS_HOST} ({ip})", str(e).strip())
    finally:
        try:
            r.close()
        except Exception:
            pass


class Handler(BaseHTTPRequestHandler):
    server_version = "roost-test-web/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if not QUIET:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body, ctype="application/json"):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def guarded(self, fn):
        try:
            fn()
        except Unavailable as e:
            self.reply(503, {"error": f"{e.component} unavailable", "failed": e.component,
                             "target": e.target, "detail": e.err, "served_by": HOSTNAME})
        except Exception as e:  # never let a request kill the server
            self.reply(500, {"error": "internal error", "detail": repr(e), "served_by": HOSTNAME})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.reply(200, "ok\n", "text/plain")
        elif path == "/":
            self.guarded(self.index)
        elif path == "/notes":
            self.guarded(self.list_notes)
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length > 0 else ""
        if path == "/notes":
            self.guarded(lambda: self.add_note(body))
        else:
            self.reply(404, {"error": "not found"})

    def index(self):
        def visit(cur):
            cur.execute("INSERT INTO visits (served_by) VALUES (%s)", (HOSTNAME,))
            cur.execute("SELECT count(*) FROM visits")
            return cur.fetchone()[0]
        visits, ip = with_db(visit)
        hits = cache_incr()
        self.reply(200, {"visits": visits, "cache_hits": hits, "db_host_ip": ip, "served_by": HOSTNAME})

    def add_note(self, body):
        def add(cur):
            cur.execute("INSERT INTO notes (body) VALUES (%s) RETURNING id", (body,))
            return cur.fetchone()[0]
        note_id, ip = with_db(add)
        self.reply(201, {"id": note_id, "db_host_ip": ip, "served_by": HOSTNAME})

    def list_notes(self):
        def notes(cur):
            cur.execute("SELECT id, body, at FROM notes ORDER BY id")
            return [{"id": i, "body": b, "at": a.isoformat()} for i, b, a in cur.fetchall()]
        rows, _ = with_db(notes)
        self.reply(200, rows)


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    # As PID 1 Python has no default SIGTERM action: stop promptly on `docker stop`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"web.py: listening on 0.0.0.0:{PORT} (db {DB_HOST}:{DB_PORT}, cache {REDIS_HOST}:{REDIS_PORT})",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
