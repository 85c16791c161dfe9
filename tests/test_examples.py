"""The three worked scenarios of docs/your-api.md: each validates, and each runs against a server that
speaks its style: the JWT REST API against a REST server of the test's own, the cookie web app against
the demo API in cookie-and-CSRF mode, the gateway against a real LiteLLM proxy (a mocked model)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.samples import read_samples
from harness.scenario import load_scenario
from tests.helpers import REPO, only_run_dir, read_json, run_harness
from tests.rest_api import ITEM_IDS, RestApi

EXAMPLES = REPO / "docs" / "examples"
GATEWAY_KEY = "sk-harness-test-master-0123456789"  # the proxy's master key, a test value


def test_every_worked_scenario_validates_with_the_routes_of_its_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", GATEWAY_KEY)
    gateway = load_scenario(EXAMPLES / "openai-gateway.toml")
    assert gateway.auth.style == "api_key" and gateway.route("login") is None
    assert gateway.route("chat").name == "completions" and gateway.route("chat").stream == "sse-openai"
    cookie = load_scenario(EXAMPLES / "cookie-webapp.toml")
    assert cookie.auth.style == "cookie" and cookie.route("login").name == "sign_in"
    assert [ep.name for ep in cookie.routes("read")] == ["thread", "whoami"]
    rest = load_scenario(EXAMPLES / "jwt-rest.toml")
    assert rest.auth.token_field == "data.token" and rest.route("chat") is None
    assert [step.route for step in rest.custom_journeys["browse"].steps] == ["token", "items", "item", "profile"]


def endpoint_figures(run_dir: Path) -> dict[str, Any]:
    return read_json(run_dir / "summary.json")["endpoints"]


@pytest.mark.e2e
def test_the_jwt_rest_scenario_reads_items_by_the_ids_it_listed(tmp_path: Path) -> None:
    api = RestApi().start()
    try:
        result = run_harness(
            "run", str(EXAMPLES / "jwt-rest.toml"), "--host", api.url, "--duration", "4s", "--users", "2",
            "--spawn-rate", "2", "--workers", "0", "--out", str(tmp_path), timeout=150,
        )  # fmt: skip
    finally:
        api.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    figures = endpoint_figures(only_run_dir(tmp_path))
    for route in ("token", "items", "item", "profile"):
        assert figures[route]["ok"] > 0 and figures[route]["errors"] == 0, (route, figures[route])
    # three reads per listing; each of the two users' last listing may be cut by the end of the run
    assert figures["item"]["ok"] >= 3 * figures["items"]["ok"] - 3 * 2
    assert set(api.items_read) <= set(ITEM_IDS) and sum(api.items_read.values()) == figures["item"]["requests"]


@pytest.mark.e2e
def test_the_cookie_webapp_scenario_runs_on_cookie_sessions_with_csrf(tmp_path: Path) -> None:
    result = run_harness(
        "run", str(EXAMPLES / "cookie-webapp.toml"), "--duration", "5s", "--users", "3", "--spawn-rate", "3",
        "--workers", "0", "--out", str(tmp_path), timeout=150,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    figures = endpoint_figures(run_dir)
    for route in ("sign_in", "threads", "ask"):
        assert figures[route]["ok"] > 0 and figures[route]["errors"] == 0, (route, figures[route])
    chats = read_samples(run_dir).query("endpoint == 'ask' and status == 200")
    assert (chats["token_source"] == "usage").all() and chats["output_tokens"].min() > 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def litellm_proxy(tmp_path: Path) -> Iterator[str]:
    """A LiteLLM proxy on a free loopback port: one model with a mocked reply, the master key as its key."""
    binary = shutil.which("litellm", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("litellm[proxy] is not installed (the test extra installs it)")
    config = tmp_path / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
        "      api_key: sk-unused\n      mock_response: Price your first package on the outcome you deliver.\n"
        f"general_settings:\n  master_key: {GATEWAY_KEY}\n"
    )
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    log = (tmp_path / "litellm.log").open("w")
    proxy = subprocess.Popen(
        [binary, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proxy.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        assert proxy.poll() is None, (tmp_path / "litellm.log").read_text()[-2000:]
        yield f"http://127.0.0.1:{port}"
    finally:
        proxy.terminate()
        try:
            proxy.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
        log.close()


@pytest.mark.e2e
def test_the_gateway_scenario_against_a_real_litellm_proxy(litellm_proxy: str, tmp_path: Path) -> None:
    """A real OpenAI-compatible gateway keyed by API key: every chat streamed and counted from its usage."""
    # the example as it ships, without its think time and with one chat turn a visit: a visit reads the
    # model list one time in six (chat 5 : account 1). 4 users make about 120 visits here, and even 40 on a
    # busy machine leave a (5/6)^40 = 0.07 % chance that none reads it (2 users, up to 3 turns: about 10
    # visits, 16 %)
    scenario = tmp_path / "openai-gateway.toml"
    shipped = (EXAMPLES / "openai-gateway.toml").read_text()
    scenario.write_text(
        shipped.replace("think_time = [1, 3]", "think_time = [0, 0.2]").replace(
            "chat_turns = [1, 3]", "chat_turns = [1, 1]"
        )
    )
    result = run_harness(
        "run", str(scenario), "--host", litellm_proxy, "--duration", "6s", "--users", "4",
        "--spawn-rate", "4", "--workers", "0", "--out", str(tmp_path / "out"), env={"GATEWAY_KEY": GATEWAY_KEY}, timeout=150,
    )  # fmt: skip
    run_dir = only_run_dir(tmp_path / "out")
    figures = endpoint_figures(run_dir)
    assert figures["completions"]["ok"] > 0 and figures["completions"]["errors"] == 0, figures
    assert figures["models"]["ok"] > 0 and figures["models"]["errors"] == 0, figures
    chats = read_samples(run_dir).query("endpoint == 'completions' and status == 200")
    assert (chats["token_source"] == "usage").all() and (chats["output_tokens"] > 0).all()
    assert chats["ttft_ms"].notna().all()
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1 only if the machine missed a latency target
    texts = [p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert not any(GATEWAY_KEY in text for text in texts)  # the key never reaches the run folder
