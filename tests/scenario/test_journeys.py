"""Journeys by kind and journeys in TOML, as the parser reads them: presets that call what the API has,
`[journeys.NAME]` with steps, and a one-line error for each mistake."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from harness.scenario import Extract, Step, parse_scenario
from harness.scenario.callers import client_routes, id_source, required_routes
from tests.rest_api import scenario_toml
from tests.scenario.test_scenario import error_of, minimal

REST = tomllib.loads(scenario_toml("http://127.0.0.1:9"))


def rest(**changes: Any) -> dict[str, Any]:
    """The REST scenario (no chat, no conversation list) with `changes` merged into its tables."""
    data = copy.deepcopy(REST)
    for table, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(table), dict):
            data[table] = {**data[table], **value}
        else:
            data[table] = value
    return data


def browse(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The REST scenario whose `browse` journey has these steps."""
    return rest(journeys={"browse": {"weight": 1, "steps": list(steps), **fields}})


def test_an_api_without_chat_or_conversation_list_gets_the_client_journey_on_what_it_has() -> None:
    scenario = parse_scenario(REST, "rest.toml")
    routes = client_routes(scenario.endpoints)
    assert routes.login is not None and routes.login.name == "signin"
    assert [ep.name for ep in routes.lists] == ["items"] and routes.chats == ()
    assert [(read.name, source.name) for read, source in routes.id_reads] == [("item", "items")]
    assert [ep.name for ep in routes.reads] == ["profile"]  # add_note (POST: other) and status (health) are not
    assert required_routes(scenario.endpoints, "client", {}) == (["signin", "items"], "signin")
    only_reads = copy.deepcopy(REST)
    only_reads["endpoints"] = {k: v for k, v in REST["endpoints"].items() if k in ("signin", "profile")}
    del only_reads["journeys"]["browse"]
    scenario = parse_scenario(only_reads, "rest.toml")
    assert required_routes(scenario.endpoints, "client", {}) == (["signin", "profile"], "signin")


def test_the_shipped_map_keeps_its_journeys() -> None:
    from harness.scenario import load_scenario

    scenario = load_scenario("abuse")
    routes = client_routes(scenario.endpoints)
    assert [(r.name, s.name) for r, s in routes.id_reads] == [("conversation", "conversations")]
    assert [ep.name for ep in routes.reads] == ["me"] and [ep.name for ep in routes.chats] == ["chat"]
    assert id_source(scenario.endpoints, scenario.endpoints["chat"]).name == "conversations"  # by the id's name
    assert required_routes(scenario.endpoints, "client", {}) == (["login", "conversations", "chat"], "login")


@pytest.mark.parametrize(
    ("path", "lists", "source"),
    [
        ("/v1/projects/{project_id}", {"all": "/v1/projects", "mine": "/v1/me/projects"}, "all"),  # by path
        ("/v1/p/{project_id}", {"all": "/v1/x", "mine": "/v1/me/projects"}, "mine"),  # by the last segment
        ("/v1/p/{project_id}", {"projects": "/v1/x"}, "projects"),  # by the route's name
        ("/v1/p/{id}", {"projects": "/v1/x"}, None),  # {id} says nothing of where it comes from
        ("/v1/p/{project_id}/tasks/{task_id}", {"projects": "/v1/p"}, None),  # two ids: which is which?
    ],
)
def test_a_read_route_takes_its_id_from_the_list_route_that_fits(path: str, lists: dict, source: str | None) -> None:
    endpoints = {name: {"path": p, "kind": "list"} for name, p in lists.items()}
    scenario = parse_scenario(minimal(endpoints={"read_it": {"path": path, "kind": "other"}, **endpoints}), "x.toml")
    found = id_source(scenario.endpoints, scenario.endpoints["read_it"])
    assert (found.name if found else None) == source


def test_a_read_route_whose_id_the_client_cannot_fill_is_refused_naming_the_fix() -> None:
    data = rest(endpoints={"invoice": {"path": "/billing/{invoice_id}"}})
    assert error_of(data) == (
        "x.toml: endpoints.invoice.path: unknown placeholder {invoice_id} for the client journey, which reads "
        "every route of kind read and takes {invoice_id} from a route of kind list whose path starts as "
        "invoice's or that is named after it, and the API map has none: add that list route, or set kind = "
        '"other" on invoice to leave it to the audit and to journeys of your own (steps with extract)'
    )
    data["endpoints"]["invoice"]["kind"] = "other"
    parse_scenario(data, "x.toml")


def test_a_preset_or_an_attack_without_its_kind_is_an_error_only_when_asked_for() -> None:
    assert error_of(rest(journeys={"visitor": 1})).startswith(
        'x.toml: journeys.visitor: the visitor journey needs a route of kind "lead"'
    )
    assert error_of(rest(attacks={"chat_flood": {"users": 1}})) == (
        'x.toml: attacks.chat_flood: the chat_flood attack needs a route of kind "chat" (sends messages to the '
        'LLM and answers (streamed or not)) and the API map has none: add kind = "chat" to the [endpoints.NAME] '
        "it should attack, or set enabled = false"
    )
    parse_scenario(rest(attacks={"chat_flood": {"enabled": False}, "brute_force": {"users": 1}}), "x.toml")


def test_a_path_the_probes_would_send_with_an_empty_segment_is_refused() -> None:
    """Bug: the probes filled {conversation_id} with "": /api/conversations/ answered 405, counted as refused."""
    data = minimal(
        endpoints={
            **minimal()["endpoints"],
            "conversation": {"path": "/api/conversations/{conversation_id}"},
        },
        limits=[{"route": "conversation", "quota": 3}],
        probes={},
    )
    assert error_of(data).startswith(
        "x.toml: endpoints.conversation.path: {conversation_id} in a path would be sent empty by the bypass probes"
    )


def test_a_toml_journey_reads_as_its_steps() -> None:
    scenario = parse_scenario(REST, "rest.toml")
    assert scenario.journeys == {"client": 1.0, "browse": 1.0}
    journey = scenario.custom_journeys["browse"]
    assert journey.think_time == (0.0, 0.2)
    assert [s.route for s in journey.steps] == ["signin", "items", "item", "add_note", "status"]
    assert journey.steps[0].extract == (Extract("csrf", "header", "X-CSRF-Token"), Extract("sid", "cookie", "sid"))
    assert journey.steps[1].extract == (Extract("item_id", "json", "items.*.id"),)
    assert (journey.steps[2].repeat, journey.steps[2].think_s) == (2, (0.0, 0.0))
    assert journey.steps[3].headers == (("X-CSRF-Token", "{csrf}"),)
    assert journey.steps[4].extract == (Extract("order", "regex", r"order-(\d+)"),)
    assert required_routes(scenario.endpoints, "browse", scenario.custom_journeys) == (
        ["signin", "items", "item", "add_note", "status"],
        "signin",
    )


def test_json_paths_in_any_usual_spelling_and_steps_picked_by_weight() -> None:
    data = browse(
        {"route": "items", "extract": {"item_id": "json:$.items[0].id", "b": "json:items[*].id", "c": "json:$"}},
        {"route": "item", "weight": 3, "think": "1.5s"},
        {"route": "profile", "weight": 1, "think": [0.5, 2]},
        {"route": "items"},
    )
    journey = parse_scenario(data, "x.toml").custom_journeys["browse"]
    assert [e.expr for e in journey.steps[0].extract] == ["items.0.id", "items.*.id", ""]
    assert [len(group) for group in journey.groups()] == [1, 2, 1]
    assert journey.steps[1].think_s == (1.5, 1.5) and journey.steps[2].think_s == (0.5, 2.0)
    # the journey logs in by itself before its first step that sends the session
    assert required_routes(parse_scenario(data, "x.toml").endpoints, "browse", {"browse": journey}) == (
        ["signin", "items"],
        "signin",
    )


STEP = "x.toml: journeys.browse.steps"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [{"route": "itemz"}],
            f"{STEP}[0].route: expected a route of the API map (signin, items, item, profile, add_note, status), "
            "got 'itemz'",
            id="unknown-route",
        ),
        pytest.param([{"path": "/items"}], f"{STEP}[0].path: unknown field", id="unknown-field"),
        pytest.param(
            [{"route": "items", "extract": {"id": "jsonpath:items.0.id"}}],
            f'{STEP}[0].extract.id: expected "SOURCE:WHAT" with SOURCE one of json, header, cookie, regex',
            id="unknown-source",
        ),
        pytest.param(
            [{"route": "items", "extract": {"id": "json:items..id"}}],
            f'{STEP}[0].extract.id: expected a path of keys like "json:items.0.id"',
            id="bad-json-path",
        ),
        pytest.param(
            [{"route": "items", "extract": {"id": "regex:order-(\\d+"}}],
            f"{STEP}[0].extract.id: not a valid regular expression: missing ), unterminated subpattern",
            id="bad-regex",
        ),
        pytest.param(
            [{"route": "items", "extract": {"id": "header:X CSRF"}}],
            f"{STEP}[0].extract.id: expected a header name after header:",
            id="bad-header",
        ),
        pytest.param(
            [{"route": "items", "extract": {"2id": "json:items.0.id"}}],
            f"{STEP}[0].extract.2id: a value's name is a placeholder name",
            id="bad-name",
        ),
        pytest.param(
            [{"route": "item"}],
            f"{STEP}[0]: unknown placeholder {{item_id}} in route item's path: no earlier step extracts it "
            '(extract = { item_id = "json:..." } on a step before it); known: email, lead_email, message, '
            "messages, name, password, tenant",
            id="placeholder-not-extracted",
        ),
        pytest.param(
            [
                {"route": "items", "weight": 1, "extract": {"item_id": "json:items.0.id"}},
                {"route": "profile", "weight": 1},
                {"route": "item"},
            ],
            f"{STEP}[2]: unknown placeholder {{item_id}} in route item's path: no earlier step extracts it",
            id="extracted-by-one-of-a-weighted-pick",
        ),
        pytest.param(
            [{"route": "items", "extract": {"x": "json:items.0.id"}}, {"route": "add_note"}],
            f"{STEP}[1]: unknown placeholder {{item_id}} in route add_note's path",
            id="extracted-under-another-name",
        ),
        pytest.param(
            [{"route": "items", "headers": {"X-CSRF-Token": "{csrf}"}}],
            f"{STEP}[0]: unknown placeholder {{csrf}} in headers.X-CSRF-Token: no earlier step extracts it",
            id="header-placeholder",
        ),
        pytest.param([{"route": "items", "repeat": 0}], f"{STEP}[0].repeat: expected a whole number >= 1, got 0"),
        pytest.param([{"route": "items", "weight": 0}], f"{STEP}[0].weight: expected a weight above 0"),
        pytest.param([{"route": "items", "think": "soon"}], f'{STEP}[0].think: expected a duration like 90, "90s"'),
        pytest.param([], "x.toml: journeys.browse.steps: expected a non-empty list of steps"),
        pytest.param(["items"], f"{STEP}[0]: expected a table like {{ route = \"login\" }}, got 'items'"),
    ],
)
def test_each_mistake_in_a_toml_journey_is_one_line_naming_the_step(steps: list, expected: str) -> None:
    assert error_of(rest(journeys={"browse": {"steps": steps}})).startswith(expected)


def test_a_journey_name_and_a_streamed_route_are_checked() -> None:
    assert error_of(rest(journeys={"my journey": {"steps": [{"route": "items"}]}})).startswith(
        "x.toml: journeys.my journey: a journey's name takes letters, digits, '-' and '_'"
    )
    data = minimal(journeys={"talk": {"steps": [{"route": "chat", "extract": {"x": "regex:."}}]}})
    assert error_of(data) == (
        "x.toml: journeys.talk.steps[0].extract.x: chat streams its answer (sse-openai), which keeps no body to "
        "read: use header: or cookie:"
    )


def test_a_toml_journey_may_use_what_the_harness_fills_and_conversation_ids_it_extracts() -> None:
    data = minimal(
        endpoints={
            **minimal()["endpoints"],
            "thread": {"path": "/api/threads/{conversation_id}", "kind": "other"},
        },
        journeys={
            "talk": {
                "steps": [
                    {"route": "conversations", "extract": {"conversation_id": "json:0.id"}},
                    {"route": "thread"},
                ]
            }
        },
    )
    assert [s.route for s in parse_scenario(data, "x.toml").custom_journeys["talk"].steps] == [
        "conversations",
        "thread",
    ]
    data["journeys"]["talk"]["steps"] = [{"route": "thread"}]
    assert error_of(data).startswith("x.toml: journeys.talk.steps[0]: unknown placeholder {conversation_id}")


def test_steps_are_frozen() -> None:
    step = Step(route="items")
    with pytest.raises(AttributeError):
        step.route = "x"  # type: ignore[misc]
