"""Redirects: abuse traffic never follows one (the 3xx is its answer), legit traffic follows at most 5.

Pure checks first (how a 3xx and geventhttpclient's redirect limit are counted), then real ones: a
`harness run` whose target answers every abuse request with 307 to a host in a network namespace this
test creates (never listed in allowed_hosts), the audit's HTTPS check meeting the same redirect, and a
legit run against a redirect loop and a chain of exactly 5 redirects. Nothing is ever sent to an
address outside this machine: the namespace host hangs off a veth pair made here.

The redirecting target of the abuse run is the veth pair's own end on this side (listed in
allowed_hosts, as a staging host would be), not 127.0.0.1: against a loopback target every attacker
binds a 127.x source address, from which the kernel refuses to reach any non-local address (EINVAL), so
a loopback target redirecting to the namespace would never reach it even with redirects followed, and
the test would prove nothing.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from geventhttpclient.useragent import RetriesExceeded

from harness.analysis.abuse import abuse_summary, abuse_verdict
from harness.analysis.outcomes import passed_limiter_mask, redirected_mask
from harness.analysis.ratelimits import REDIRECTED_NOTE, rate_limits
from harness.analysis.wallet import wallet_summary
from harness.audit import transport
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.model import UNTESTED
from harness.load.client import LEGIT_MAX_REDIRECTS
from harness.protocol.failures import describe_exception
from harness.samples import read_samples
from harness.scenario import load_scenario
from harness.scenario.accounts import Account, Credentials
from tests.analysis.test_ratelimits import IP5, frame, rows
from tests.audit.fake_site import FakeSite, Page
from tests.commands.test_multihost import _free_subnet, _ip
from tests.helpers import REPO, only_run_dir, read_json, run_harness

HOPS = LEGIT_MAX_REDIRECTS + 1  # requests the target sees for one legit sample in a redirect loop


# --- pure checks ------------------------------------------------------------------------------------
def test_geventhttpclients_redirect_limit_is_too_many_redirects() -> None:
    url = "http://127.0.0.1:9/loop"
    assert describe_exception(RetriesExceeded(url, "Redirection limit reached (5)"), 0) == "too many redirects"
    # retries given up on a timeout are still a timeout, not a redirect
    assert describe_exception(RetriesExceeded(url, 1, original=TimeoutError()), 0, timeout_s=2).startswith("timeout:")


def test_a_3xx_is_redirected_never_admitted_nor_an_error() -> None:
    f = frame(rows("x", "baseline", range(7), [200, 301, 302, 307, 308, 401, 429]))
    assert redirected_mask(f).tolist() == [False, True, True, True, True, False, False]
    assert passed_limiter_mask(f).tolist() == [True, False, False, False, False, True, False]


def test_an_attack_answered_only_with_redirects_is_untested() -> None:
    redirected = abuse_summary(frame(rows("login", "", [0, 1, 2], [307] * 3, role="credential_stuffing")))
    a = redirected["credential_stuffing"]
    assert (a["requests"], a["admitted"], a["blocked"], a["redirected"], a["failed"]) == (3, 0, 0, 3, 0)
    assert a["status_counts"] == {"307": 3} and a["findings"] == []
    assert a["verdict"] == "untested" and a["notes"] == [REDIRECTED_NOTE.format(n=3, of=3)]
    assert abuse_verdict(redirected) == "untested"
    # once an attempt got through, the attack is judged on it as before; the redirects stay a note
    mixed = abuse_summary(frame(rows("login", "", [0, 1, 2], [307, 401, 401], role="credential_stuffing")))
    m = mixed["credential_stuffing"]
    assert (m["admitted"], m["rejected"], m["redirected"], m["failed"]) == (0, 2, 1, 0)
    assert m["verdict"] == "findings" and m["findings"] == ["no attempt was blocked (0 of 3 admitted, 2 rejected)"]


def test_a_limit_probed_only_through_redirects_is_untested_not_absent() -> None:
    login = rate_limits(frame(rows("login", "baseline", range(15), [307] * 15)), {"limits": IP5})["login"]
    assert login["verdict"] == "untested" and login["note"] == REDIRECTED_NOTE.format(n=15, of=15)
    assert login["fix"] == []


def test_a_redirected_wallet_probe_is_inconclusive_not_failed() -> None:
    sizes = [16, 8, 4, 2]
    probe = frame(
        [{**r, "input_tokens_estimate": n} for r, n in zip(rows("chat", "prompt-size", range(4), [307] * 4), sizes)]
    )
    wallet = wallet_summary(probe, {"wallet": {"route": "chat", "prompt_cap_tokens": 64, "output_ask_tokens": 16}})
    assert wallet is not None
    assert wallet["prompt"]["verdict"] == "inconclusive" and wallet["findings"] == []
    assert [s["outcome"] for s in wallet["prompt"]["steps"]] == ["redirected"] * 4


# --- servers ----------------------------------------------------------------------------------------
@dataclass
class Hit:
    method: str
    path: str
    user_agent: str


class Redirector:
    """An HTTP server on a free port of `address` (a local one) answering every request with
    `answer(path)` -> (status, Location or ""), after `delay_s`; it records every request it read."""

    def __init__(
        self, answer: Callable[[str], tuple[int, str]], delay_s: float = 0.0, address: str = "127.0.0.1"
    ) -> None:
        self.hits: list[Hit] = []
        lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    owner.hits.append(Hit(self.command, self.path, self.headers.get("User-Agent", "")))
                time.sleep(delay_s)
                status, location = answer(self.path)
                body = b"" if location else b"{}"
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((address, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{address}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="redirector", daemon=True)
        self.thread.start()

    def harness_hits(self, prefix: str = "/") -> list[Hit]:
        """Requests of the load (Locust's client), not the harness's own set-up calls (httpx)."""
        return [h for h in self.hits if h.path.startswith(prefix) and "httpx" not in h.user_agent]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


# The recording server inside the namespace: one line per connection and per request, in a file.
RECORDER = r"""
import http.server, socket, sys
addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def note(line):
    with open(log, "a") as f:
        f.write(line + "\n")

class Handler(http.server.BaseHTTPRequestHandler):
    timeout = 5

    def handle(self):
        note("connection")  # a TLS handshake too, which never becomes a request: closed at once
        if self.connection.recv(1, socket.MSG_PEEK) != b"\x16":
            super().handle()

    def handle_any(self):
        note(f"request {self.command} {self.path}")
        self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 1 << 20))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer((addr, port), Handler)
open(log + ".ready", "w").close()
server.serve_forever()
"""
NS_PORT = 8080


@dataclass
class NamespaceHost:
    """A host on this machine but off loopback: an address in a network namespace, behind a veth pair
    whose other end (`near`) is an address of this side."""

    addr: str
    near: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{NS_PORT}"

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root: it creates a network namespace"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip` command"
    return None


@pytest.fixture(scope="module")
def ns_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespaceHost]:
    """The recording server in namespace lhr<pid>, reachable from here at its veth address; the namespace
    (and with it the veth pair) and the server are removed afterwards, also when a test failed."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tag = f"lhr{os.getpid()}"
    ns, outside, inside = tag, f"{tag}h", f"{tag}n"
    subnet = _free_subnet()
    host_addr, ns_addr = str(subnet.network_address + 1), str(subnet.network_address + 2)
    log = tmp_path_factory.mktemp("nshost") / "requests.log"
    server: subprocess.Popen | None = None
    made = False
    try:
        try:
            _ip("netns", "add", ns)
            made = True
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns)
        except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(
                f"`ip netns` with a veth pair does not work here: {(getattr(exc, 'stderr', '') or str(exc)).strip()}"
            )
        _ip("addr", "add", f"{host_addr}/{subnet.prefixlen}", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", ns, "addr", "add", f"{ns_addr}/{subnet.prefixlen}", "dev", inside)
        _ip("-n", ns, "link", "set", inside, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", RECORDER, ns_addr, str(NS_PORT), str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not Path(f"{log}.ready").exists():
            assert server.poll() is None and time.monotonic() < deadline, "the namespace server did not start"
            time.sleep(0.05)
        host = NamespaceHost(ns_addr, host_addr, log)
        # the redirect target is really reachable from here: what the tests count is not a dead route
        assert httpx.get(f"{host.url}/reachable", timeout=5).status_code == 200
        assert host.lines() == ["connection", "request GET /reachable"]
        yield host
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        if made:
            _ip("netns", "del", ns, check=False)  # takes the veth pair with it
        _ip("link", "del", outside, check=False)


# --- abuse traffic meets a redirect off loopback --------------------------------------------------
ABUSE_SCENARIO = """
[scenario]
name = "redirected-abuse"

[accounts]
source = "inline"
inline = [{ email = "ana@example.test", password = "pw-ana" }, { email = "ben@example.test", password = "pw-ben" },
          { email = "cy@example.test", password = "pw-cy" }, { email = "dee@example.test", password = "pw-dee" }]

[endpoints.login]
method = "POST"
path = "/api/auth/login"
body = { email = "{email}", password = "{password}" }
auth = false

[endpoints.leads]
method = "POST"
path = "/api/leads"
body = { name = "{name}", email = "{lead_email}", message = "{message}" }
auth = false

[endpoints.chat]
method = "POST"
path = "/api/chat"
body = { messages = "{messages}", stream = true }
stream = "sse-openai"

[load]
stages = [{ duration = "6s", users = 0 }]   # no legit users: they may follow redirects

[guardrails]
allowed_hosts = ["ALLOWED"]   # the redirecting target, vouched for; not where it redirects to

[journeys.visitor]
weight = 1

[attacks.credential_stuffing]
rate = 5
[attacks.lead_spam]
rate = 5

[[limits]]
route = "login"
key = "ip"
quota = 2
window = "10s"

[probes]
routes = ["login"]
techniques = ["baseline"]
start_after = "0.1s"

[wallet]
route = "chat"
start_after = "0.1s"
prompt_start_tokens = 16
prompt_cap_tokens = 64
output_ask_tokens = 16
"""


@pytest.fixture(scope="module")
def abuse_run(ns_host: NamespaceHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    before = len(ns_host.lines())
    redirector = Redirector(lambda path: (307, f"{ns_host.url}{path}"), address=ns_host.near)
    try:
        tmp = tmp_path_factory.mktemp("redirected-abuse")
        scenario = tmp / "abuse.toml"
        scenario.write_text(ABUSE_SCENARIO.replace("ALLOWED", ns_host.near))
        result = run_harness(
            "run", str(scenario), "--host", redirector.url, "--workers", "1", "--out", str(tmp / "out"), timeout=120
        )
    finally:
        redirector.stop()
    # every attack and probe got a 307 and followed none: nothing reached a handler, so nothing is
    # judged, and an untested run is not a pass (exit 4)
    assert result.returncode == 4, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    yield {"run_dir": only_run_dir(tmp / "out"), "redirector": redirector, "ns_lines": ns_host.lines()[before:]}


@pytest.mark.e2e
def test_abuse_traffic_never_follows_a_redirect_off_allowed_hosts(abuse_run: dict) -> None:
    run_dir = abuse_run["run_dir"]
    assert abuse_run["ns_lines"] == []  # not one connection reached the namespace host
    samples = read_samples(run_dir)
    abuse = samples[samples["role"] != "legit"]
    assert set(abuse["role"]) == {"credential_stuffing", "lead_spam", "probe"}
    assert set(abuse["status"]) == {307} and set(abuse["error"]) == {""} and not abuse["blocked"].any()
    assert len(abuse) == len(samples)
    # every sample is one request the redirector answered (in-flight ones at the stop have no sample)
    assert len(abuse_run["redirector"].harness_hits()) >= len(abuse) >= 10


@pytest.mark.e2e
def test_redirected_abuse_is_counted_as_redirected(abuse_run: dict) -> None:
    summary = read_json(abuse_run["run_dir"] / "summary.json")
    for name in ("credential_stuffing", "lead_spam"):
        a = summary["abuse"][name]
        assert a["requests"] >= 3 and a["redirected"] == a["requests"], a
        assert (a["admitted"], a["rejected"], a["blocked"], a["failed"]) == (0, 0, 0, 0)
        assert a["status_counts"] == {"307": a["requests"]} and a["verdict"] == "untested"
    assert summary["abuse_verdict"] == "untested"
    login = summary["rate_limits"]["login"]
    assert login["verdict"] == "untested" and "redirect" in login["note"]
    prompt = summary["spend"]["denial_of_wallet"]["prompt"]
    assert prompt["verdict"] == "inconclusive" and prompt["steps"]
    assert {s["outcome"] for s in prompt["steps"]} == {"redirected"}


# --- the audit meets the same redirect --------------------------------------------------------------
def _audit_ctx(base_url: str, allowed: tuple[str, ...] = ()) -> AuditContext:
    scenario = load_scenario(REPO / "scenarios" / "abuse.toml")
    scenario = replace(scenario, guardrails=replace(scenario.guardrails, allowed_hosts=allowed))
    credentials = Credentials([Account("coach@example.test", "pw-coach-123", "coach", "t1")])
    return AuditContext(base_url, scenario, credentials, AuditSettings(), timeout_s=3.0)


@pytest.mark.e2e
def test_the_audit_checks_no_https_origin_a_redirect_names_off_limits(
    ns_host: NamespaceHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "is_loopback", lambda host: False)  # as if the plain site were public
    https_origin = f"https://{ns_host.addr}:{NS_PORT}"
    site = FakeSite(default=lambda path: Page(301, {"location": f"{https_origin}{path}"}, b""))
    try:
        before = len(ns_host.lines())
        checks = {r.check: r for r in transport.run(_audit_ctx(site.url))}
        assert ns_host.lines()[before:] == []
        assert checks["HTTPS"].status == UNTESTED
        assert checks["HTTPS"].note == transport.OFF_LIMITS_NOTE.format(origin=f"{https_origin}/")
        assert "TLS" not in checks and "HSTS" not in checks
        assert ("POST", "/api/auth/login") in {(m, p) for m, p, _ in site.requests}  # the login stayed here
        # listed in allowed_hosts, the same origin is checked: the guard, not the route, kept it away
        checks = {r.check: r for r in transport.run(_audit_ctx(site.url, allowed=(ns_host.addr,)))}
        assert "TLS" in checks and ns_host.lines()[before:].count("connection") >= 1
    finally:
        site.close()


# --- legit traffic: at most 5 redirects, one sample per chain --------------------------------------
DELAY_S = 0.02
LEGIT_USERS = 2
LEGIT_SCENARIO = f"""
[scenario]
name = "redirect-loop"

[accounts]
source = "inline"
inline = [{{ email = "ana@example.test", password = "pw-ana" }}]

[endpoints.leads]
method = "POST"
path = "/loop/leads"
body = {{ name = "{{name}}", email = "{{lead_email}}" }}
auth = false

[endpoints.webhook]
method = "POST"
path = "/chain/{LEGIT_MAX_REDIRECTS}"
auth = false

[load]
users = {LEGIT_USERS}
spawn_rate = {LEGIT_USERS}
duration = "4s"

[journeys.visitor]
weight = 1
think_time = [0, 0.05]

[journeys.webhook]
weight = 1
think_time = [0, 0.05]

[abort]
error_rate = 1   # the loop fails every lead on purpose
"""


def _loop_or_chain(path: str) -> tuple[int, str]:
    """/loop/...: 307 to itself, forever; /chain/N: 307 to /chain/N-1, and 200 at 0."""
    if path.startswith("/chain/"):
        left = int(path.rsplit("/", 1)[1])
        return (307, f"/chain/{left - 1}") if left else (200, "")
    return 307, path


@pytest.mark.e2e
def test_legit_traffic_follows_at_most_5_redirects_as_one_sample(tmp_path: Path) -> None:
    redirector = Redirector(_loop_or_chain, delay_s=DELAY_S)
    try:
        scenario = tmp_path / "loop.toml"
        scenario.write_text(LEGIT_SCENARIO)
        result = run_harness(
            "run",
            str(scenario),
            "--host",
            redirector.url,
            "--workers",
            "1",
            "--out",
            str(tmp_path / "out"),
            timeout=120,
        )
    finally:
        redirector.stop()
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    samples = read_samples(only_run_dir(tmp_path / "out"))
    assert set(samples["role"]) == {"legit"}
    slack = HOPS * LEGIT_USERS  # a chain cut by the stop at the planned end has no sample
    for endpoint, prefix, status, error in (
        ("leads", "/loop/", 0, "too many redirects"),
        ("webhook", "/chain/", 200, ""),
    ):
        rows_ = samples[samples["endpoint"] == endpoint]
        n = len(rows_)
        assert n >= 3, endpoint
        assert set(rows_["status"]) == {status} and set(rows_["error"]) == {error}, endpoint
        # the hops are no samples: each sample cost the target exactly cap + 1 requests
        hits = len(redirector.harness_hits(prefix))
        assert HOPS * n <= hits <= HOPS * n + slack, (endpoint, n, hits)
        # and its latency covers the whole chain, every hop's delay included
        assert rows_["latency_ms"].min() >= HOPS * DELAY_S * 1000, endpoint
