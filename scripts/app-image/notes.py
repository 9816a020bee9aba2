#!/usr/bin/env python3
"""A SQLite writer for the volume replication tests (roost-test/app image, /app/notes.py).

Keeps its database in $DB (default /data/notes.db), committing every insert (journal in
rollback mode, synchronous=FULL: an acknowledged row is on disk).

  POST /rows?id=N   insert row N, commit -> 200 "ok" (only after the commit)
  GET  /rows        every id, comma separated -> 200
  GET  /check       PRAGMA integrity_check -> 200 "ok" or 500 with what it found
  GET  /health      200 "ok"
"""
import os
import signal
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = int(os.environ.get("PORT", "8000"))
DB = os.environ.get("DB", "/data/notes.db")
LOCK = threading.Lock()


def connect():
    db = sqlite3.connect(DB, timeout=10)
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY)")
    db.commit()
    return db


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        url = urlparse(self.path)
        if url.path != "/rows":
            return self.answer(404, "not found")
        try:
            row = int(parse_qs(url.query)["id"][0])
            with LOCK:
                db = connect()
                db.execute("INSERT OR IGNORE INTO rows (id) VALUES (?)", (row,))
                db.commit()
                db.close()
            self.answer(200, "ok")
        except Exception as e:  # a failed insert is an error answer, never a crash
            self.answer(503, str(e))

    def do_GET(self):
        try:
            if self.path == "/health":
                return self.answer(200, "ok")
            with LOCK:
                db = connect()
                if self.path == "/rows":
                    ids = [str(r[0]) for r in db.execute("SELECT id FROM rows ORDER BY id")]
                    db.close()
                    return self.answer(200, ",".join(ids))
                if self.path == "/check":
                    found = [r[0] for r in db.execute("PRAGMA integrity_check")]
                    db.close()
                    return self.answer(200 if found == ["ok"] else 500, "\n".join(found))
                db.close()
            self.answer(404, "not found")
        except Exception as e:
            self.answer(503, str(e))

    def log_message(self, *args):
        pass


def main():
    os.makedirs(os.path.dirname(DB), exist_ok=True)
    connect().close()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
