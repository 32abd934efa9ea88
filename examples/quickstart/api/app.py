"""A tiny HTTP service for the quickstart: standard library only.

GET /health  200 when PostgreSQL and Redis answer, 503 otherwise
GET /visits  increments and returns a counter kept in Redis
"""

import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DB = (os.environ.get("DB_HOST", "db"), 5432)
REDIS = (os.environ.get("REDIS_HOST", "cache"), 6379)


def redis(*args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(REDIS, timeout=2) as sock:
        sock.sendall(payload.encode())
        return sock.recv(4096)


def db_up() -> bool:
    try:
        with socket.create_connection(DB, timeout=1):
            return True
    except OSError:
        return False


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            try:
                cache = redis("PING").startswith(b"+PONG")
            except OSError:
                cache = False
            ok = cache and db_up()
            self.reply(200 if ok else 503, {"db": db_up(), "cache": cache})
        elif self.path == "/visits":
            reply = redis("INCR", "visits")
            self.reply(200, {"visits": int(reply[1:].strip())})
        else:
            self.reply(404, {"error": "not found"})


if __name__ == "__main__":
    print("api listening on :8000", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
