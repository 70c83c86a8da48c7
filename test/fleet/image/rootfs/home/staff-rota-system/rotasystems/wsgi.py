"""WSGI entry point of the staff rota system (standard library only).

Routes:
  /            200 text/html
  /health/     200 {"status": "ok", ...} while the database marker exists,
               503 {"status": "error", ...} otherwise
  /dashboard/  302 to /login/?next=/dashboard/
  anything else 404
"""

import datetime
import json
import os

DB_MARKER = "/home/staff-rota-system/db/available"

INDEX = b"""<!doctype html>
<html><head><title>Staff rota</title></head>
<body><h1>Staff rota</h1><p>Log in to see this week's rota.</p></body></html>
"""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _json(start_response, status, payload):
    body = json.dumps(payload).encode("utf-8")
    start_response(status, [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ])
    return [body]


def health(environ, start_response):
    if os.path.exists(DB_MARKER):
        return _json(start_response, "200 OK", {
            "status": "ok",
            "timestamp": _now(),
            "checks": {"database": "ok"},
        })
    return _json(start_response, "503 Service Unavailable", {
        "status": "error",
        "timestamp": _now(),
        "checks": {"database": "error: database unavailable"},
    })


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/") or "/"
    if path == "/":
        start_response("200 OK", [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(INDEX))),
        ])
        return [INDEX]
    if path == "/health/":
        return health(environ, start_response)
    if path == "/dashboard/":
        start_response("302 Found", [
            ("Location", "/login/?next=/dashboard/"),
            ("Content-Length", "0"),
        ])
        return [b""]
    body = b"Not Found\n"
    start_response("404 Not Found", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
