"""A safe audit by default, and honest without a login: the access, tenancy and validation checks
against a small API in a thread of the test process that records every request it gets.

The API (bearer tokens; two tenants, each user with an item made before the audit):
- `POST /login` {email, password} -> {"token"} (or, `broken_login`, 200 with no token at all)
- `POST /register` {email, password} -> 201 {"id"}: a new client in a new tenant, with no item (409 for a
  known address; `signup_closed`: 403 always); mapped only in the tests of the audit's own accounts
- `GET /items` -> the caller's items; `POST /items` {text} -> 201 {"id"}: a new item of the caller's
- `GET /items/{item_id}`, `PUT /items/{item_id}` {text}, `DELETE /items/{item_id}`: any tenant's item
  (no tenant check, like the flawed APIs the audit is for); `ignore_ids`: the id is ignored and the
  caller's own first item is used instead (a 204 that proves nothing)
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.audit.command import run_audit
from harness.audit.context import AuditContext, parse_audit_settings
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.audit.runner import audit
from harness.errors import ExitCode
from harness.scenario import parse_scenario
from harness.scenario.accounts import resolve_credentials

USERS = {  # e-mail -> (password, tenant, role)
    "ana@a.example": ("pw-ana-12345", "a", "client"),
    "ben@b.example": ("pw-ben-12345", "b", "client"),
    "cy@b.example": ("pw-cy-123456", "b", "coach"),
}


@dataclass
class Recorder:
    """The API above; `requests` is every (method, path, caller's e-mail or "") it was sent."""

    broken_login: bool = False
    ignore_ids: bool = False
    signup_closed: bool = False
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    items: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {owner, text}
    seeded: set[str] = field(default_factory=set)  # the ids made before the audit
    sessions: dict[str, str] = field(default_factory=dict)
    users: dict[str, tuple[str, str, str]] = field(default_factory=lambda: dict(USERS))
    signed_up: dict[str, str] = field(default_factory=dict)  # e-mail -> password of the accounts made here
    made: dict[str, str] = field(default_factory=dict)  # id -> owner of every item made by POST /items

    def __post_init__(self) -> None:
        for email in USERS:
            item = f"it-{secrets.token_hex(4)}"
            self.items[item] = {"owner": email, "text": f"notes of {email.split('@')[0]}"}
            self.seeded.add(item)
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
                with api.lock:
                    caller = api.sessions.get(token, "")
                    api.requests.append((self.command, self.path.split("?")[0], caller))
                    status, data = api.route(self.command, self.path.split("?")[0].strip("/").split("/"), body, caller)
                raw = json.dumps(data).encode() if data is not None else b""
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_DELETE = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def route(self, method: str, parts: list[str], body: bytes, caller: str) -> tuple[int, Any]:
        try:
            given = json.loads(body) if body else {}
        except (ValueError, RecursionError):
            return 400, {"error": "bad json"}
        if not isinstance(given, dict):
            return 400, {"error": "expected an object"}
        if parts == ["register"] and method == "POST":
            email, password = given.get("email"), given.get("password")
            if self.signup_closed:
                return 403, {"error": "sign-up is closed"}
            if not isinstance(email, str) or "@" not in email or not isinstance(password, str) or len(password) < 10:
                return 400, {"error": "email and a password of 10+ characters"}
            if email in self.users:
                return 409, {"error": "taken"}
            self.users[email] = (password, f"t-{secrets.token_hex(3)}", "client")
            self.signed_up[email] = password
            return 201, {"id": f"usr-{secrets.token_hex(4)}"}
        if parts == ["login"] and method == "POST":
            user = self.users.get(str(given.get("email")))
            if user is None or user[0] != given.get("password"):
                return 401, {"error": "bad credentials"}
            if self.broken_login:
                return 200, {"ok": True}  # a 200 that sets no usable credential
            token = f"tok-{secrets.token_hex(8)}"
            self.sessions[token] = str(given["email"])
            return 200, {"token": token}
        if not caller:
            return 401, {"error": "unauthorized"}
        own = [i for i, item in self.items.items() if item["owner"] == caller]
        if parts == ["items"] and method == "GET":
            return 200, [{"id": i} for i in own]
        if parts == ["items"] and method == "POST":
            if not isinstance(given.get("text"), str):
                return 422, {"error": "text: expected a string"}
            item = f"it-{secrets.token_hex(4)}"
            self.items[item] = {"owner": caller, "text": given["text"]}
            self.made[item] = caller
            return 201, {"id": item}
        if len(parts) == 2 and parts[0] == "items":
            item = own[0] if self.ignore_ids and own else parts[1]
            if item not in self.items:
                return 404, {"error": "no such item"}
            if method == "GET":
                return 200, {"id": item, **self.items[item]}
            if method == "PUT":
                if not isinstance(given.get("text"), str):
                    return 422, {"error": "text: expected a string"}
                self.items[item]["text"] = given["text"]
                return 204, None
            if method == "DELETE":
                del self.items[item]
                return 204, None
        return 404, {"error": "not found"}


SCENARIO = {
    "endpoints": {
        "login": {
            "method": "POST",
            "path": "/login",
            "auth": False,
            "body": {"email": "{email}", "password": "{password}"},
        },
        "items": {"method": "GET", "path": "/items", "kind": "list", "list_field": "", "id_field": "id"},
        "new_item": {"method": "POST", "path": "/items", "body": {"text": "{message}"}, "kind": "write"},
        "item": {"method": "GET", "path": "/items/{item_id}", "kind": "read"},
        "edit_item": {"method": "PUT", "path": "/items/{item_id}", "body": {"text": "{message}"}},
        "delete_item": {"method": "DELETE", "path": "/items/{item_id}"},
    },
    "auth": {"token_field": "token"},
    "accounts": {
        "source": "inline",
        "inline": [{"email": e, "password": p, "tenant": t, "role": r} for e, (p, t, r) in USERS.items()],
    },
}


@pytest.fixture
def api(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    recorder = Recorder(**getattr(request, "param", {}))
    yield recorder
    recorder.stop()


def context(api: Recorder, **audit_settings: Any) -> AuditContext:
    scenario = parse_scenario({**SCENARIO, "audit": audit_settings})
    return AuditContext(api.url, scenario, resolve_credentials(scenario, api.url), parse_audit_settings(scenario))


def touched(api: Recorder, method: str) -> set[str]:
    """The items made before the audit that got a `method` request."""
    return {path.rpartition("/")[2] for m, path, _ in api.requests if m == method} & api.seeded


def test_by_default_the_audit_deletes_and_overwrites_nothing_it_did_not_create(api: Recorder) -> None:
    ctx = context(api)
    report = audit(ctx, names=("access", "tenancy", "validation"))
    assert touched(api, "DELETE") == set() and touched(api, "PUT") == set()
    assert all(api.items[i]["owner"] for i in api.seeded)  # every item of before is still there
    assert report.destructive is False and report.destructive_requests == []
    writes = next(c for c in report.rows["tenant_isolation"].checks if c.check.startswith("cross-tenant writes"))
    assert writes.status == UNTESTED and "--allow-destructive" in writes.fix
    assert "not sent: PUT would write to an object the audit did not create" in writes.note
    # reads are still judged, by content: ana's item as she reads it, given to ben, is the leak
    reads = next(c for c in report.rows["tenant_isolation"].checks if c.check == "cross-tenant reads")
    assert reads.status == FAIL and "the same object its owner reads" in reads.findings[0]
    # nothing of the audit's text went into a password or an e-mail
    assert not any("audit" in USERS.get(i["owner"], ("",))[0] for i in api.items.values())


def test_with_the_opt_in_it_does_and_lists_every_such_request(api: Recorder) -> None:
    ctx = context(api, destructive=True)
    report = audit(ctx, names=("access", "tenancy"))
    assert touched(api, "PUT")  # the intruders' writes to ana's item did go out
    listed = report.destructive_requests
    assert report.destructive and listed and all(line.startswith(("PUT /items/", "DELETE /items/")) for line in listed)
    sent = {f"{m} {p}" for m, p, _ in api.requests if m in ("PUT", "DELETE") and p.rpartition("/")[2] in api.seeded}
    assert sent <= set(listed)
    writes = next(c for c in report.rows["tenant_isolation"].checks if c.check.startswith("cross-tenant writes"))
    assert writes.status == FAIL and "landed in that tenant's object" in writes.findings[0]


@pytest.mark.parametrize("api", [{"ignore_ids": True}], indirect=True)
def test_a_2xx_from_an_api_that_ignores_the_id_is_no_finding(api: Recorder) -> None:
    """ben's PUT and GET with ana's id answer 204 and 200, but on ben's own item: the owner's read-back
    and her object say so."""
    report = audit(context(api, destructive=True), names=("tenancy",))
    checks = {c.check: c for c in report.rows["tenant_isolation"].checks}
    assert checks["cross-tenant reads"].status == PASS, checks["cross-tenant reads"].findings
    assert checks["cross-tenant writes (read back by the owner)"].status == PASS
    assert "not counted as a leak" in checks["cross-tenant reads"].note


@pytest.mark.parametrize("api", [{"broken_login": True}], indirect=True)
def test_no_usable_login_leaves_every_row_that_needs_one_untested_and_exits_4(api: Recorder, tmp_path: Path) -> None:
    """Must-show 1, the audit's part: the login answers 200 with no token; nothing that needs a login
    passes, and the exit code says the audit could not judge."""
    path = tmp_path / "api.toml"
    import tomli_w

    path.write_bytes(tomli_w.dumps(SCENARIO).encode())
    code = run_audit(path, api.url, None, None, tmp_path / "out", ("access", "tenancy", "validation"))
    [folder] = (tmp_path / "out").iterdir()
    report = json.loads((folder / "audit.json").read_text())
    assert code == ExitCode.UNTESTED and report["verdict"] == "untested"
    assert report["rows"]["auth"]["status"] == UNTESTED and report["rows"]["tenant_isolation"]["status"] == UNTESTED
    assert set(report["untested_rows"]) >= {"auth", "tenant_isolation"}
    for row in ("auth", "tenant_isolation"):
        for check in report["rows"][row]["checks"]:
            assert check["status"] != PASS, check
    every = next(c for c in report["rows"]["auth"]["checks"] if c["check"] == "auth on every route")
    assert "no login yielded a usable credential" in every["note"] and every["fix"] and every["gate"]
    assert {m for m, _, _ in api.requests} <= {"POST", "GET"}  # and nothing was deleted or overwritten


SIGN_UP = {"method": "POST", "path": "/register", "auth": False, "kind": "register"}
SIGN_UP["body"] = {"email": "{email}", "password": "{password}"}


def audit_with_sign_up(api: Recorder, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    """`harness audit` of the access, tenancy and validation checks, with the sign-up route mapped: its
    exit code, audit.json and audit.html."""
    import tomli_w

    path = tmp_path / "api.toml"
    path.write_bytes(tomli_w.dumps({**SCENARIO, "endpoints": {**SCENARIO["endpoints"], "register": SIGN_UP}}).encode())
    code = run_audit(path, api.url, None, None, tmp_path / "out", ("access", "tenancy", "validation"))
    [folder] = (tmp_path / "out").iterdir()
    return code, json.loads((folder / "audit.json").read_text()), (folder / "audit.html").read_text()


@pytest.mark.e2e
def test_with_a_sign_up_route_it_writes_only_into_what_its_own_accounts_made(api: Recorder, tmp_path: Path) -> None:
    """Issue 14's safe audit: two accounts of its own, every write into an object they made, their
    passwords nowhere, and the cross-tenant writes measured without the opt-in."""
    before = {i: dict(api.items[i]) for i in api.seeded}
    code, report, page = audit_with_sign_up(api, tmp_path)
    # (a) it signed up its owner and its intruder, and lists them (a bad-body probe the route took, too)
    listed = [a["email"] for a in report["accounts_created"]]
    assert len(api.signed_up) >= 2 and sorted(listed) == sorted(api.signed_up)
    assert all(e.endswith("@audit.invalid") and e.startswith("audit-") for e in listed)
    assert [a["purpose"].split(",")[0] for a in report["accounts_created"][:2]] == [
        "the audit's owner",
        "the audit's intruder",
    ]
    assert all(a["id"].startswith("usr-") for a in report["accounts_created"])
    # (b) every write it sent named an item its own accounts made, and every item it made is theirs
    own_items = {i for i, owner in api.made.items() if owner in api.signed_up}
    for method, path, caller in api.requests:
        if method in ("PUT", "DELETE", "POST") and path.startswith("/items/"):
            assert path.rpartition("/")[2] in own_items, (method, path, caller)
        if method == "POST" and path == "/items":
            assert caller in api.signed_up or caller == "", (method, path, caller)  # "": refused with 401
    assert {api.made[i] for i in own_items} == set(list(api.signed_up)[:2])  # the owner's and the intruder's
    assert {i: api.items[i] for i in api.seeded} == before  # the users' own items as they were
    # (c) none of their passwords in audit.json or audit.html
    assert not any(password in json.dumps(report) + page for password in api.signed_up.values())
    assert all(e in page for e in listed) and 'id="audit-accounts-created"' in page
    # (d) the writes are measured: this API has no tenant check, so the intruder's text lands
    checks = {c["check"]: c for c in report["rows"]["tenant_isolation"]["checks"]}
    writes = checks["cross-tenant writes (read back by the owner)"]
    assert writes["status"] == FAIL and "landed in that tenant's object" in writes["findings"][0]
    assert "a client of tenant audit-intruder" in writes["findings"][0] and "audit-owner's" in writes["findings"][0]
    assert checks["cross-tenant reads"]["status"] == FAIL
    assert "as the audit's own accounts, signed up through register" in writes["note"]
    assert report["destructive"] is False and report["destructive_requests"] == [] and code == ExitCode.FAIL


@pytest.mark.e2e
@pytest.mark.parametrize("api", [{"signup_closed": True}], indirect=True)
def test_a_refused_sign_up_falls_back_to_the_scenarios_accounts_and_says_so(api: Recorder, tmp_path: Path) -> None:
    code, report, _ = audit_with_sign_up(api, tmp_path)
    assert report["accounts_created"] == [] and api.signed_up == {}
    checks = {c["check"]: c for c in report["rows"]["tenant_isolation"]["checks"]}
    writes = checks["cross-tenant writes (read back by the owner)"]
    refused = "could not sign up an account of its own through register (it answered 403): the scenario's accounts"
    assert refused in writes["note"] and refused in checks["cross-tenant reads"]["note"]
    # as without a sign-up route: reads judged on the users' items, writes to them not sent
    assert writes["status"] == UNTESTED and "--allow-destructive" in writes["fix"] and "kind register" in writes["fix"]
    assert checks["cross-tenant reads"]["status"] == FAIL
    assert touched(api, "PUT") == set() and touched(api, "DELETE") == set() and code == ExitCode.FAIL
