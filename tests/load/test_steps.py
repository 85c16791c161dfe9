"""Journeys in TOML at run time: the StepRunner's logic against real answers of a real server (in a thread
of the test process, over HTTP), and one real run of a master and a worker.

Locust's HTTP session cannot be used in this process (importing Locust patches its threads with gevent's,
under pytest-xdist's own), so the fast tests hand the StepRunner `HttpApi`: what it needs of an ApiClient,
over httpx; ApiClient itself is in the run at the end (and tests/load/test_client.py).
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.load.client import CallResult
from harness.load.steps import StepRunner
from harness.protocol.auth import Credential, read_login
from harness.samples import read_samples
from harness.scenario import Endpoint, Journey, Scenario, Step, parse_scenario
from harness.scenario.accounts import Account
from harness.scenario.templates import Unfilled, render
from tests.helpers import only_run_dir, read_json, run_harness
from tests.rest_api import ACCOUNTS, ITEM_IDS, RestApi, scenario_toml

ANA = Account("ana@example.test", ACCOUNTS["ana@example.test"])


class HttpApi:
    """What a StepRunner uses of an ApiClient (call, log_in, unsent, credential, identity, scenario), over
    real HTTP, for the bearer style; `samples` lists (route, error) of every call, as the samples of a run
    would."""

    def __init__(self, scenario: Scenario, url: str) -> None:
        self.scenario = scenario
        self.credential: Credential | None = None
        self.identity = ""
        self.http = httpx.Client(base_url=url, timeout=10)
        self.samples: list[tuple[str, str]] = []

    def log_in(
        self, account: Account, route: Endpoint | None = None, values: Any = None, check: Any = None
    ) -> tuple[Credential | None, CallResult]:
        """As ApiClient.log_in: a 2xx without a token at auth.token_field is a failed sample."""
        found: list[Credential | None] = [None]

        def usable(result: CallResult) -> str:
            found[0], why = read_login(self.scenario.auth, list(result.headers.items()), result.json(), {}, 0.0)
            return why or (check(result) if check is not None else "")

        login = route or self.scenario.route("login")
        assert login is not None
        result = self.call(login, {**account.values(), **(values or {})}, check=usable)
        self.credential = found[0] if result.ok else None
        return self.credential, result

    def call(
        self,
        endpoint: str | Endpoint,
        values: dict[str, Any],
        headers: Any = None,
        conversation: str = "",
        check: Any = None,
    ) -> CallResult:
        ep = endpoint if isinstance(endpoint, Endpoint) else self.scenario.endpoints[endpoint]
        try:
            path = render(ep.path, values, in_path=True, strict=True)
            body = render(ep.body, values, strict=True) if ep.body is not None else None
        except Unfilled as exc:
            return self.unsent(ep.method, ep.name, f"template: {exc}")
        token = self.credential.token if self.credential else ""
        sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if ep.auth and token else {})}
        answer = self.http.request(ep.method, path, json=body, headers=sent)
        ok = answer.is_success
        result = CallResult(
            answer.status_code,
            ok,
            False,
            "" if ok else f"http {answer.status_code}",
            body=answer.content,
            headers=answer.headers,
        )
        if check is not None and ok and (why := check(result)):
            result.ok, result.error = False, why
        self.samples.append((ep.name, result.error))
        return result

    def unsent(self, method: str, name: str, why: str, context: Any = None) -> CallResult:
        self.samples.append((name, why))
        return CallResult(status=0, ok=False, blocked=False, error=why)


@pytest.fixture(scope="module")
def server() -> Iterator[RestApi]:
    api = RestApi().start()
    yield api
    api.stop()


def runner(server: RestApi, journey: Journey | None = None) -> tuple[StepRunner, list[tuple[str, str]]]:
    """A StepRunner of the REST scenario's `browse` journey (or `journey`), and the (route, error) it sent."""
    scenario = parse_scenario(tomllib.loads(scenario_toml(server.url)), "rest.toml")
    api = HttpApi(scenario, server.url)
    steps = StepRunner(api, journey or scenario.custom_journeys["browse"], ANA, [], pause=lambda s: None)  # type: ignore[arg-type]
    return steps, api.samples


def test_a_journey_logs_in_lists_and_reads_by_the_ids_it_extracted(server: RestApi) -> None:
    steps, samples = runner(server)
    before = sum(server.items_read.values())
    assert steps.iteration() and steps.iteration()
    routes = ["signin", "items", "item", "item", "add_note", "status"]
    assert samples == [(r, "") for r in routes * 2]
    # what the server saw: the ids it listed, the CSRF token of the session it handed out
    assert sum(server.items_read.values()) - before == 4 and set(server.items_read) <= set(ITEM_IDS)
    assert server.notes_refused == 0 and server.statuses[404] == 0
    credential = steps.api.credential
    assert credential is not None and steps.values["csrf"] == server.sessions[credential.token][1]
    assert steps.values["item_id"] in ITEM_IDS and steps.values["order"] == "4711"
    assert steps.values["sid"].startswith("s-")


def test_a_value_not_found_fails_its_step_with_the_reason_and_ends_the_iteration(server: RestApi) -> None:
    journey = Journey(
        name="browse",
        steps=(
            Step(route="items", extract=(parse_extract("item_id", "json:items.9.id"),)),
            Step(route="item"),
        ),
    )
    steps, samples = runner(server, journey)
    reads = server.routes["GET /items/{id}"]
    assert steps.iteration() is False
    assert samples == [("signin", ""), ("items", "extract item_id: nothing at json:items.9.id in the answer")]
    assert server.routes["GET /items/{id}"] == reads  # the step after it was never sent
    assert "item_id" not in steps.values


def test_a_placeholder_without_a_value_is_a_failed_sample_and_nothing_is_sent(server: RestApi) -> None:
    """What validate refuses can still happen at run time (a value an earlier run of the step lost): the
    sample fails naming the placeholder; /items/ (the list route) is never asked."""
    steps, samples = runner(server, Journey(name="browse", steps=(Step(route="item"),)))
    lists = server.routes["GET /items"]
    assert steps.iteration() is False
    assert samples == [("signin", ""), ("item", "template: no value for {item_id} in the path")]
    assert server.routes["GET /items"] == lists


def test_the_session_is_made_once_and_again_after_it_ends(server: RestApi) -> None:
    steps, samples = runner(server, Journey(name="browse", steps=(Step(route="profile"),)))
    assert steps.iteration() and steps.iteration()
    assert [name for name, _ in samples] == ["signin", "profile", "profile"]
    assert steps.api.credential is not None
    server.sessions.pop(steps.api.credential.token)  # the server forgets the session: the next step is a 401
    assert steps.iteration() is False and steps.api.credential is None
    assert steps.iteration()
    assert [name for name, _ in samples][3:] == ["profile", "signin", "profile"]


def test_weighted_neighbours_send_one_of_them_and_repeat_sends_many(server: RestApi) -> None:
    journey = Journey(
        name="browse",
        steps=(
            Step(route="status", repeat=3),
            Step(route="profile", weight=1.0),
            Step(route="items", weight=3.0),
        ),
    )
    steps, samples = runner(server, journey)
    random.seed(11)
    for _ in range(40):
        assert steps.iteration()
    names = [name for name, _ in samples if name != "signin"]
    assert names.count("status") == 120
    picked = names.count("profile") + names.count("items")
    assert picked == 40 and 0 < names.count("profile") < names.count("items")


ROUTES = {  # the scenario's route -> what the server counted it as
    "signin": "POST /auth/token",
    "items": "GET /items",
    "item": "GET /items/{id}",
    "profile": "GET /profile",
    "add_note": "POST /items/{id}/notes",
    "status": "GET /status",
}


@pytest.mark.e2e
def test_an_api_without_chat_or_conversation_list_validates_and_runs_its_own_journey(tmp_path: Path) -> None:
    """The client journey reads what the API has (sign in, list, read by listed id, profile); the journey in
    TOML signs in, lists, reads and posts a note with the id and the CSRF token it extracted. A master and
    a worker: the worker makes the journey's user class from the plan, as the master did."""
    server = RestApi().start()
    try:
        scenario = tmp_path / "rest.toml"
        scenario.write_text(scenario_toml(server.url, duration="6s", users=4))
        checked = run_harness("validate", str(scenario), timeout=60)
        assert checked.returncode == 0 and "journeys client, browse" in checked.stdout, checked.stderr
        result = run_harness("run", str(scenario), "--workers", "1", "--out", str(tmp_path / "out"), timeout=180)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    samples = read_samples(run_dir)
    per_route = samples["endpoint"].value_counts().to_dict()
    # every request the server answered is a sample of its route, but for those in flight when the users
    # were stopped (at most one per user)
    assert set(per_route) == set(ROUTES)
    for route, counted in ROUTES.items():
        assert 0 <= server.routes[counted] - per_route[route] <= 4, (route, per_route, server.routes)
    summary = read_json(run_dir / "summary.json")
    assert summary["verdict"] == "pass", summary["verdict_reasons"]
    assert all(summary["endpoints"][route]["errors"] == 0 for route in ROUTES)
    assert set(server.statuses) <= {200, 201}, server.statuses
    # the ids in the paths were the ones the list gave: read by both journeys, noted by the TOML one only
    assert set(server.items_read) <= set(ITEM_IDS) and sum(server.items_read.values()) == server.routes[ROUTES["item"]]
    assert set(server.notes) <= set(ITEM_IDS) and sum(server.notes.values()) == server.routes[ROUTES["add_note"]] > 0
    assert server.notes_refused == 0  # the CSRF token extracted from the sign-in's header went back
    journeys = read_json(run_dir / "run.json")["journeys"]
    assert journeys["browse"]["user_class"] == "Journey_browse" and journeys["browse"]["login"] == "signin"
    assert journeys["client"]["required"] == ["signin", "items"] and journeys["browse"]["users"] >= 1


def parse_extract(name: str, spec: str) -> Any:
    """An Extract as the parser makes it from `NAME = "SPEC"`."""
    data = tomllib.loads(scenario_toml("http://127.0.0.1:9"))
    data["journeys"] = {"x": {"steps": [{"route": "items", "extract": {name: spec}}]}}
    return parse_scenario(data, "x.toml").custom_journeys["x"].steps[0].extract[0]
