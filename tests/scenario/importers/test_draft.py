"""The draft's TOML text is written by hand (tomli-w writes no comments): whatever a foreign document
holds, tomllib must read back exactly what the importer meant, and a comment must stay a comment."""

from __future__ import annotations

import csv
import datetime
import io
import tomllib

import pytest

from harness.scenario.importers.draft import (
    Auth,
    Draft,
    Journey,
    Route,
    Step,
    accounts_stub,
    comment,
    literal,
    render_draft,
    toml_key,
    toml_string,
    toml_value,
)

HOSTILE = [
    "",
    'a "quoted" word',
    "back\\slash \\n not a newline",
    "line\nbreak\r\nand\ttab",
    "nul \x00 bell \x07 escape \x1b del \x7f c1 \x85",
    "line separator \u2028 paragraph \u2029",
    "'''triple''' \"\"\"quotes\"\"\"",
    "# not a comment",
    "key = 1",
    "[table]",
    "]]",
    "ключ 日本語 emoji \U0001f600",
    "zero width \u200b and bidi \u202e",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_string_round_trips_as_a_value_and_as_a_key(text: str) -> None:
    data = tomllib.loads(f"v = {toml_string(text)}\n{toml_key(text)} = 1\n")
    assert data["v"] == text
    assert data[text] == 1


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    text = "half \ud800 pair"  # json.loads('"\\ud800"') gives one: no UTF-8 or TOML can carry it
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == "half \ufffd pair"
    assert tomllib.loads(f"{toml_key(text)} = 1") == {"half \ufffd pair": 1}


def test_nested_values_round_trip() -> None:
    value = {
        "a b": [1, -2, 3.5, 1e300, -0.0, True, False, "x"],
        "": {"nested": {"deeper": ["\n", {'k"ey': "v\\"}]}},
        "empty": {},
        "list": [],
        "big": 2**63 - 1,
    }
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


def test_literal_makes_foreign_values_inert_and_json_safe() -> None:
    value = {
        "text": "hello {email} and {not a placeholder} and {{double}}",
        "none": None,
        "nan": float("nan"),
        "inf": float("inf"),
        "huge": 2**70,
        "date": datetime.date(2024, 5, 1),
        "when": datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.UTC),
        7: "int key",
        "list": [None, 1, "{x}"],
    }
    out = literal(value)
    # {email} would be filled with each account's e-mail: a foreign example must not ask for that
    assert out["text"] == "hello (email) and {not a placeholder} and {(double)}"
    assert "none" not in out and "nan" not in out and "inf" not in out
    assert out["huge"] == str(2**70)
    assert out["date"] == "2024-05-01" and out["when"] == "2024-05-01T10:00:00+00:00"
    assert out["7"] == "int key" and out["list"] == [1, "(x)"]


def test_literal_cuts_what_is_nested_too_deep() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(100):
        node["d"] = {}
        node = node["d"]  # type: ignore[assignment]
    depth, node = 0, literal(deep)
    while isinstance(node, dict) and "d" in node:
        depth, node = depth + 1, node["d"]
    assert depth <= 25  # the parser refuses more than 32 levels


def _hostile_draft() -> Draft:
    routes = tuple(
        Route(
            name=name,
            method="POST",
            path="/x",
            kind="write",
            why=f"why\nstyle = 'injected'\n{name}",
            body={name: literal(text), "n": 1},
            notes=(f"note\n[endpoints.injected]\r{text}",),
        )
        for name, text in zip(['a"b', "x.y", "", "[z]", "ключ", "# c", "a b"], HOSTILE)
    )
    return Draft(
        name="n",
        description='desc "q"\nnext line',
        command="harness init --openapi 'weird\nname'.yaml",
        auth=Auth("api_key", "why\nstyle = 'none'", fields=(("header", "X-Key\n", "r\n#"),)),
        routes=routes,
        journeys=(Journey("j\n", "why\n", (Step('a"b', 1.2), Step("x.y", None, "skip\nsteps = []"))),),
        hosts=(("https://h.example/\n", "host\nwhy"),),
        notes=("note\nwith = break",),
        left_out=("gone\n[x]",),
    )


def test_a_hostile_draft_reads_back_as_meant_and_its_comments_stay_comments() -> None:
    draft = _hostile_draft()
    data = tomllib.loads(render_draft(draft))
    assert set(data) == {"scenario", "target", "auth", "accounts", "endpoints", "load", "journeys"}
    assert data["target"] == {}  # the host stays commented out
    assert data["auth"] == {"style": "api_key", "header": "X-Key\n"}
    assert list(data["endpoints"]) == [r.name for r in draft.routes]
    for route in draft.routes:
        assert data["endpoints"][route.name] == {"method": "POST", "path": "/x", "kind": "write", "body": route.body}
    assert data["journeys"] == {"j\n": {"steps": [{"route": 'a"b', "think": "1.2s"}]}}
    assert data["scenario"]["description"] == 'desc "q"\nnext line'


def test_a_comment_is_one_line_without_control_characters() -> None:
    assert comment("a\nb\r\nc\x00d\x7fe\u2028f\tg") == "a b c d e f\tg"


def test_the_accounts_stub_has_a_header_row_and_placeholder_values_only() -> None:
    draft = Draft("n", "d", "c", Auth("api_key", "w", account_columns=("api_key", "username")), (), ())
    rows = list(csv.DictReader(io.StringIO(accounts_stub(draft))))
    assert [list(r) for r in rows] == [["email", "password", "role", "api_key", "username"]] * 2
    assert [r["email"] for r in rows] == ["client1@example.com", "client2@example.com"]
    assert {r["password"] for r in rows} == {"CHANGE-ME"}
    assert all(r["api_key"].startswith("CHANGE-ME") for r in rows)
