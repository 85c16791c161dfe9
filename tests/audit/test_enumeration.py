"""Account enumeration (row auth): login and reset answers for an existing and an unknown account,
compared by status, body and time, against a server in a thread that leaks one way, or none."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.audit import enumeration
from harness.audit.context import AuditContext
from harness.audit.enumeration import normalised, timing_leak
from harness.audit.model import FAIL, NOT_APPLICABLE, PASS, UNTESTED
from harness.scenario import parse_scenario
from harness.scenario.accounts import Account, Credentials

EXISTING = Account("maya@coach.example", "pw-maya-123")
# (status, headers, body) for an answer; `known` says whether the address sent is EXISTING's
Answer = Callable[[str, bool], tuple[int, dict[str, str], dict[str, Any]]]


class Server:
    """POST /login and /reset: `answer(route, known)`; records what it was sent."""

    def __init__(self, answer: Answer) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                server.sent.append((self.path, body))
                status, headers, data = answer(self.path, body.get("email") == EXISTING.email)
                raw = json.dumps(data).encode()
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=2)


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Server]]:
    started: list[Server] = []

    def start(answer: Answer) -> Server:
        started.append(Server(answer))
        return started[-1]

    yield start
    for server in started:
        server.close()


def context(server: Server, reset: bool = True) -> AuditContext:
    endpoints: dict[str, Any] = {
        "login": {
            "method": "POST",
            "path": "/login",
            "auth": False,
            "body": {"email": "{email}", "password": "{password}"},
        },
    }
    if reset:
        endpoints["forgot"] = {
            "method": "POST",
            "path": "/reset",
            "auth": False,
            "kind": "reset",
            "body": {"email": "{email}"},
        }
    endpoints["me"] = {"path": "/me", "kind": "list"}  # the client journey needs one
    scenario = parse_scenario({"endpoints": endpoints})
    return AuditContext(server.url, scenario, Credentials(accounts=[EXISTING]))


def same(route: str, known: bool) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Alike for both: the same status and message; a request id and a clock that differ every time."""
    status = 401 if route == "/login" else 202
    return (
        status,
        {},
        {"error": "invalid_credentials", "request_id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat()},
    )


def by_status(route: str, known: bool) -> tuple[int, dict[str, str], dict[str, Any]]:
    return (401 if known else 404), {}, {"error": "invalid_credentials"}


def by_body(route: str, known: bool) -> tuple[int, dict[str, str], dict[str, Any]]:
    return 401, {}, {"error": "wrong password" if known else "no account with this e-mail"}


def by_timing(route: str, known: bool) -> tuple[int, dict[str, str], dict[str, Any]]:
    if known:
        time.sleep(0.25)  # a real password hash only for a real account
    return same(route, known)


def results(ctx: AuditContext) -> dict[str, Any]:
    return {r.check: r for r in enumeration.run(ctx)}


def test_an_api_that_answers_alike_passes_and_is_asked_with_a_wrong_password_and_an_unknown_address(serve):
    server = serve(same)
    found = results(context(server))
    assert {c: r.status for c, r in found.items()} == {
        "account enumeration (login)": PASS,
        "account enumeration (forgot)": PASS,
    }
    logins = [body for path, body in server.sent if path == "/login"]
    assert len(logins) == 2 * enumeration.TRIES and all(b["password"] != EXISTING.password for b in logins)
    unknown = {b["email"] for b in logins} - {EXISTING.email}
    assert len(unknown) == 1 and unknown.pop().endswith("@coach.example")  # a random address on the same domain
    assert "existing account: statuses 401 401 401" in found["account enumeration (login)"].evidence[0]


def test_a_status_that_differs_is_a_finding(serve):
    found = results(context(serve(by_status)))
    [finding] = found["account enumeration (login)"].findings
    assert found["account enumeration (login)"].status == FAIL
    assert finding.startswith(
        "login: the status tells accounts apart: 401 for an existing account, 404 for an unknown one"
    )


def test_a_body_that_differs_is_a_finding_without_the_address(serve):
    result = results(context(serve(by_body)))["account enumeration (forgot)"]
    assert result.status == FAIL
    assert result.findings == [
        'forgot: the body tells accounts apart: \'{"error": "wrong password"}\' for an existing account, '
        '\'{"error": "no account with this e-mail"}\' for an unknown one; answer both alike'
    ]


def test_a_slower_answer_for_existing_accounts_is_a_timing_finding(serve):
    result = results(context(serve(by_timing)))["account enumeration (login)"]
    assert result.status == FAIL
    [finding] = result.findings
    assert finding.startswith("login: timing tells accounts apart: an existing account answers ")
    gap_ms = int(finding.split("answers ")[1].split(" ms")[0])
    assert 200 <= gap_ms <= 400  # the 250 ms the server adds, within scheduling noise


def test_one_noisy_sample_is_never_a_finding():
    leaks, gap, threshold = timing_leak([0.010, 0.011, 0.012], [0.010, 0.011, 0.400])
    assert not leaks and threshold >= 3 * 0.39
    assert timing_leak([0.210, 0.212, 0.215], [0.010, 0.011, 0.013])[0]
    assert not timing_leak([0.040, 0.041, 0.042], [0.010, 0.011, 0.012])[0]  # under 50 ms: no finding


def test_bodies_are_compared_without_ids_times_numbers_or_the_address():
    a = normalised(
        '{"error":"no match for maya@coach.example","id":"3f2b8c1e-0d4a-4b7e-9c2f-1a2b3c4d5e6f","t":"2026-12-07T05:38:14Z","n":17}',
        "maya@coach.example",
    )
    b = normalised(
        '{"error":"no match for audit-1a2b3c@coach.example","id":"7e1d2c3b-4a5f-4e6d-8c7b-9a0b1c2d3e4f","t":"2026-12-07T05:38:15.123Z","n":18}',
        "audit-1a2b3c@coach.example",
    )
    assert a == b == '{"error":"no match for <account>","id":"<id>","t":"<time>","n":#}'


def test_blocked_or_failing_answers_are_untested_with_why_and_a_fix(serve):
    blocked = results(context(serve(lambda route, known: (429, {"retry-after": "60"}, {}))))
    result = blocked["account enumeration (login)"]
    assert (
        result.status == UNTESTED and result.gate and "blocked by a rate limit (429, Retry-After 60.2 s)" in result.note
    )
    assert "limit has room" in result.fix
    failing = results(context(serve(lambda route, known: (500 if known else 401, {}, {}))))
    result = failing["account enumeration (login)"]
    assert result.status == UNTESTED and result.gate and result.note == "login: answered 500" and result.fix


def test_no_reset_route_is_not_applicable(serve):
    found = results(context(serve(same), reset=False))
    assert found["account enumeration (password reset)"].status == NOT_APPLICABLE
    assert found["account enumeration (password reset)"].note == "the API map has no route of kind reset"
