"""Several hosts for real: the demo API, a master and two `harness worker`s, each on its own network.

Four network namespaces (target, master, worker-a, worker-b) hang off one bridge in a fifth, each with
its own address in a private /24 that no interface of this machine uses; load never leaves them. The
harness runs as real commands (`ip netns exec NS python -m harness ...`). Needs root and `ip netns`;
skipped with the reason otherwise. Every namespace and process is removed in the fixture's teardown,
also when the test fails.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.samples import read_samples
from tests.helpers import REPO, only_run_dir, read_json

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]  # hosts as network namespaces, real processes

ROLES = ("target", "master", "worker-a", "worker-b")
TARGET_PORT = 8000
MASTER_PORT = 5557


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15, check=check)


def _why_not() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root: it creates network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip` command"
    probe = f"lh-probe-{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", probe)
        try:
            _ip("-n", probe, "link", "add", "br0", "type", "bridge")
        finally:
            _ip("netns", "del", probe, check=False)
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"`ip netns` with a bridge does not work here: {detail.strip()}"
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that overlaps no address or route of this machine's own network namespace."""
    used = []
    for line in _ip("-4", "-o", "addr", "show").stdout.splitlines() + _ip("-4", "route", "show").stdout.splitlines():
        for word in line.split():
            try:
                used.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
    for _ in range(200):
        candidate = ipaddress.ip_network(f"10.{random.randint(200, 254)}.{random.randint(0, 255)}.0/24")
        if not any(candidate.overlaps(net) for net in used if net.prefixlen > 0):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 found")


class Lab:
    """The namespaces, their addresses, and every process started in them."""

    def __init__(self, logs: Path) -> None:
        tag = secrets.token_hex(3)
        self.bridge_ns = f"lh-{tag}-bridge"
        self.ns = {role: f"lh-{tag}-{role}" for role in ROLES}
        subnet = _free_subnet()
        self.addr = {role: str(subnet.network_address + i + 1) for i, role in enumerate(ROLES)}  # .1 is the target
        self.prefix = subnet.prefixlen
        self.logs = logs
        self.procs: list[subprocess.Popen] = []
        self.created: list[str] = []

    def build(self) -> None:
        self._add_ns(self.bridge_ns)
        _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        for i, role in enumerate(ROLES):
            ns, port = self.ns[role], f"port{i}"
            self._add_ns(ns)
            _ip("-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.addr[role]}/{self.prefix}", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self.created.append(name)

    def start(self, role: str, *args: str) -> subprocess.Popen:
        """`python -m harness ARGS` inside the role's namespace, output to logs/ROLE.log."""
        log = open(self.logs / f"{role}.log", "wb")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[role], sys.executable, "-m", "harness", *args],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def python(self, role: str, code: str, *args: str) -> str:
        """A short Python snippet inside the role's namespace; its stdout."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns[role], sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout

    def log(self, role: str) -> str:
        return (self.logs / f"{role}.log").read_text(errors="replace")

    def wait_for_log(self, role: str, proc: subprocess.Popen, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(role):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(f"{role}: no {text!r} in {timeout:g} s:\n{self.log(role)[-2000:]}")
            time.sleep(0.1)

    def teardown(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        for ns in reversed(self.created):  # anything still running in our namespaces was started by this test
            pids = _ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _ip("netns", "del", ns, check=False)  # its veth ends go with it; the bridge with the last one


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    (tmp_path / "logs").mkdir()
    lab = Lab(tmp_path / "logs")
    try:
        lab.build()
        yield lab
    finally:
        lab.teardown()


def test_a_master_and_two_workers_on_their_own_hosts_record_every_request(lab: Lab, tmp_path: Path) -> None:
    target_ip, master_ip = lab.addr["target"], lab.addr["master"]
    workers_ip = {lab.addr["worker-a"], lab.addr["worker-b"]}
    target_url = f"http://{target_ip}:{TARGET_PORT}"
    target = lab.start("target", "target", "--host", target_ip, "--port", str(TARGET_PORT))
    lab.wait_for_log("target", target, "listening on", timeout=20)

    scenario = tmp_path / "smoke.toml"  # the smoke scenario, vouching for the lab's target address
    scenario.write_text(
        (REPO / "scenarios" / "smoke.toml").read_text() + f'\n[guardrails]\nallowed_hosts = ["{target_ip}"]\n'
    )
    out = tmp_path / "reports"
    master = lab.start(
        "master",
        "run",
        str(scenario),
        "--host",
        target_url,
        "--workers",
        "0",
        "--expect-workers",
        "2",
        "--master-bind",
        master_ip,
        "--master-port",
        str(MASTER_PORT),
        "--expect-workers-max-wait",
        "40s",
        "--duration",
        "10s",
        "--out",
        str(out),
    )
    workers = [lab.start(role, "worker", "--master", f"{master_ip}:{MASTER_PORT}") for role in ("worker-a", "worker-b")]

    code = master.wait(timeout=120)
    assert code in (0, 1), f"harness run exited {code}:\n{lab.log('master')[-3000:]}"
    for role, worker in zip(("worker-a", "worker-b"), workers):
        assert worker.wait(timeout=20) == 0, f"{role}:\n{lab.log(role)[-2000:]}"

    run_dir = only_run_dir(out)
    meta = read_json(run_dir / "run.json")
    samples = read_samples(run_dir)
    assert meta["aborted"] is False and meta["workers"] == 2
    # Locust's own total equals the rows on disk
    assert meta["locust_totals"]["requests"] == len(samples) > 30
    # both remote workers sent rows, and every row names its worker
    by_worker = meta["samples_by_worker"]
    assert len(by_worker) == 2 and all(rows > 0 for rows in by_worker.values()), by_worker
    assert set(samples["worker"]) == set(by_worker)
    assert sum(by_worker.values()) == len(samples)

    # the demo API saw the load come from the two worker hosts, and only from them
    stats = json.loads(
        lab.python(
            "master",
            "import sys, httpx; print(httpx.get(sys.argv[1], timeout=10).text)",
            f"{target_url}/__demo__/stats",
        )
    )
    load_peers = {peer for route, peers in stats["peers"].items() if not route.startswith("demo_") for peer in peers}
    assert load_peers == workers_ip, stats["peers"]
    assert master_ip not in load_peers
    assert (run_dir / "report.html").exists() and (run_dir / "summary.json").exists()
