"""A small JSON REST API with no chat route and no conversation list: what a scenario of free route
names, kinds and journeys in TOML is tried against.

A tests.thread_server.ThreadServer. It counts what it was asked, so a
test can tell from the server's side which ids and tokens the harness really sent.

Routes:
- `POST /auth/token` {email, password} -> 200 {"data": {"token"}}, header `X-CSRF-Token`, cookie `sid`;
  401 for a wrong password
- `GET /items` (bearer) -> {"items": [{"id"}, ...]}: the ids are opaque and known only from this list
- `GET /items/{id}` (bearer) -> the item, 404 for an id it never listed
- `POST /items/{id}/notes` (bearer, `X-CSRF-Token` of that session) -> 201, 403 without it
- `GET /profile` (bearer) -> {"email"}
- `GET /status` -> text "ok: order-NNNN ready" (for a regex)
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.thread_server import ThreadServer

ACCOUNTS = {"ana@example.test": "pw-ana-1", "ben@example.test": "pw-ben-2", "cy@example.test": "pw-cy-3"}
ITEM_IDS = [f"it-{secrets.token_hex(4)}" for _ in range(5)]
ORDER = "order-4711"


class RestApi(ThreadServer):
    """Start with `start()`, read `url`, stop with `stop()`; the counters say what was asked."""

    name = "rest-api"

    def __init__(self) -> None:
        super().__init__()
        self.routes: Counter[str] = Counter()  # "METHOD /route/template" -> requests
        self.items_read: Counter[str] = Counter()  # item id asked for (a known one or not)
        self.notes: Counter[str] = Counter()  # item id a note was posted to, with the session's CSRF token
        self.statuses: Counter[int] = Counter()
        self.notes_refused = 0  # notes without the session's CSRF token
        self.sessions: dict[str, tuple[str, str]] = {}  # token -> (e-mail, csrf)
        self.lock = threading.Lock()

    # --- the routes --------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        method = request.command
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        parts = request.path.split("?")[0].strip("/").split("/")
        session = self.sessions.get((request.headers.get("Authorization") or "").removeprefix("Bearer "))
        route, status, answer, headers = self.route(method, parts, body, session, request.headers)
        with self.lock:
            self.routes[f"{method} {route}"] += 1
            self.statuses[status] += 1
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "text/plain" if isinstance(answer, bytes) else "application/json")
        request.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def route(
        self, method: str, parts: list[str], body: bytes, session: tuple[str, str] | None, headers: Any
    ) -> tuple[str, int, Any, list[tuple[str, str]]]:
        """(route template, status, answer, extra headers)."""
        if method == "POST" and parts == ["auth", "token"]:
            return ("/auth/token", *self.log_in(body))
        if method == "GET" and parts == ["status"]:
            return "/status", 200, f"ok: {ORDER} ready".encode(), []
        template = "/" + "/".join("{id}" if i == 1 else p for i, p in enumerate(parts))
        if session is None:
            return template, 401, {"error": "unauthorized"}, []
        if method == "GET" and parts == ["items"]:
            return template, 200, {"items": [{"id": i, "name": f"Item {i}"} for i in ITEM_IDS]}, []
        if method == "GET" and parts == ["profile"]:
            return template, 200, {"email": session[0]}, []
        if method == "GET" and len(parts) == 2 and parts[0] == "items":
            with self.lock:
                self.items_read[parts[1]] += 1
            found = parts[1] in ITEM_IDS
            return template, 200 if found else 404, {"id": parts[1]} if found else {"error": "no such item"}, []
        if method == "POST" and len(parts) == 3 and parts[0] == "items" and parts[2] == "notes":
            if headers.get("X-CSRF-Token") != session[1]:
                with self.lock:
                    self.notes_refused += 1
                return template, 403, {"error": "csrf"}, []
            with self.lock:
                self.notes[parts[1]] += 1
            return template, 201, {"ok": True}, []
        return template, 404, {"error": "not found"}, []

    def log_in(self, body: bytes) -> tuple[int, Any, list[tuple[str, str]]]:
        try:
            given = json.loads(body)
        except ValueError:
            return 400, {"error": "bad json"}, []
        email = given.get("email") if isinstance(given, dict) else None
        if not isinstance(email, str) or ACCOUNTS.get(email) != given.get("password"):
            return 401, {"error": "bad credentials"}, []
        token, csrf = f"tok-{secrets.token_hex(8)}", f"csrf-{secrets.token_hex(6)}"
        with self.lock:
            self.sessions[token] = (email, csrf)
        cookie = f"sid=s-{secrets.token_hex(6)}; Path=/; HttpOnly; SameSite=Lax"
        return 200, {"data": {"token": token}}, [("X-CSRF-Token", csrf), ("Set-Cookie", cookie)]


def scenario_toml(host: str = "", duration: str = "6s", users: int = 4) -> str:
    """A scenario for this API: free route names with kinds, no chat, no conversation list; the client
    journey reads what it has, and a journey in TOML logs in, lists, reads by extracted id and posts a
    note with the extracted CSRF token."""
    accounts = ", ".join(f'{{ email = "{e}", password = "{p}" }}' for e, p in ACCOUNTS.items())
    return f"""
[scenario]
name = "rest"

[target]
host = "{host}"

[auth]
token_field = "data.token"

[accounts]
source = "inline"
inline = [{accounts}]

[endpoints.signin]
method = "POST"
path = "/auth/token"
body = {{ email = "{{email}}", password = "{{password}}" }}
auth = false
kind = "login"

[endpoints.items]
path = "/items"
kind = "list"
list_field = "items"

[endpoints.item]
path = "/items/{{item_id}}"

[endpoints.profile]
path = "/profile"

[endpoints.add_note]
method = "POST"
path = "/items/{{item_id}}/notes"
body = {{ text = "{{message}}" }}

[endpoints.status]
path = "/status"
auth = false
kind = "health"

[load]
users = {users}
spawn_rate = {users}
duration = "{duration}"

[journeys.client]
weight = 1
think_time = [0, 0.2]

[journeys.browse]
weight = 1
think_time = [0, 0.2]
steps = [
  {{ route = "signin", extract = {{ csrf = "header:X-CSRF-Token", sid = "cookie:sid" }} }},
  {{ route = "items", extract = {{ item_id = "json:items.*.id" }} }},
  {{ route = "item", repeat = 2, think = 0 }},
  {{ route = "add_note", headers = {{ X-CSRF-Token = "{{csrf}}" }} }},
  {{ route = "status", extract = {{ order = "regex:order-(\\\\d+)" }} }},
]
"""
