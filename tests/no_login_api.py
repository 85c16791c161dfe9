"""An API on which no login ever yields a usable credential: what every check that needs a login is
tried against (it must come out "untested", never pass, clean, effective or absent).

A tests.thread_server.ThreadServer. Routes:
- `POST /login` -> 200 {"error": "invalid credentials"}: a failed login answered 200, no token ever
- `GET /status` -> 200 "ok" (public)
- anything else -> 401 {"error": "unauthorized"}
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler

from tests.thread_server import ThreadServer

ACCOUNTS = {"ana@example.test": "pw-ana-1", "ben@example.test": "pw-ben-2"}
REFUSAL = "invalid credentials"


class NoLoginApi(ThreadServer):
    """Start with `start()`, read `url`, stop with `stop()`; `statuses` counts what it answered."""

    name = "no-login-api"

    def __init__(self) -> None:
        super().__init__()
        self.statuses: Counter[tuple[str, int]] = Counter()  # (path, status) -> answers
        self.lock = threading.Lock()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length:
            request.rfile.read(length)
        path = request.path.split("?")[0]
        if path == "/login":
            status, data = 200, json.dumps({"error": REFUSAL}).encode()
        elif path == "/status":
            status, data = 200, b"ok"
        else:
            status, data = 401, json.dumps({"error": "unauthorized"}).encode()
        with self.lock:
            self.statuses[(path, status)] += 1
        request.send_response(status)
        request.send_header("Content-Type", "text/plain" if path == "/status" else "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def scenario_toml(host: str) -> str:
    """Attacks that log in first, the bypass matrix of the chat route and the wallet probe, beside a
    legit journey on the public route only (so nothing but the untested checks can decide the verdict)."""
    accounts = ", ".join(f'{{ email = "{e}", password = "{p}" }}' for e, p in ACCOUNTS.items())
    return f"""
[scenario]
name = "no-login"

[target]
host = "{host}"

[auth]
token_field = "token"

[accounts]
source = "inline"
inline = [{accounts}]

[endpoints.login]
method = "POST"
path = "/login"
body = {{ email = "{{email}}", password = "{{password}}" }}
auth = false
rejected_when = {{ statuses = [200], body_pattern = "{REFUSAL}" }}

[endpoints.status]
path = "/status"
auth = false
kind = "health"

[endpoints.chat]
method = "POST"
path = "/chat"
body = {{ messages = "{{messages}}", stream = true }}
stream = "sse-openai"

[endpoints.admin_users]
path = "/admin/users"

[load]
users = 1
spawn_rate = 1
duration = "5s"

[journeys.status]
weight = 1
think_time = [0.2, 0.4]
steps = [{{ route = "status" }}]

[[limits]]
route = "chat"
key = "user"
quota = 3
window = "10s"

[attacks]
start_after = "1s"
[attacks.chat_flood]
rate = 5
[attacks.admin_probe]
rate = 5

[probes]
start_after = "1s"
routes = ["chat"]
techniques = ["baseline"]

[wallet]
route = "chat"
start_after = "1s"
prompt_start_tokens = 64
prompt_cap_tokens = 256
output_ask_tokens = 50
"""
