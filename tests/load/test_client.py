"""Body and path templates of the API map (`render`), and the prompt text a body carries."""

from __future__ import annotations

import pytest

from harness.load.client import prompt_texts
from harness.scenario.templates import Unfilled, render

MESSAGES = [{"role": "user", "content": "How do I prepare for a review?"}]


def test_whole_placeholder_keeps_the_value_type():
    assert render("{messages}", {"messages": MESSAGES}) == MESSAGES
    assert render("{n}", {"n": 3}) == 3
    assert render("{flag}", {"flag": False}) is False
    assert render("{nothing}", {"nothing": None}) is None


def test_embedded_placeholders_become_strings():
    assert render("Bearer {token}", {"token": "abc"}) == "Bearer abc"
    assert render("{first} {last}", {"first": "Maya", "last": "Okafor"}) == "Maya Okafor"
    assert render("turn {n} of {total}", {"n": 2, "total": 3}) == "turn 2 of 3"
    assert render("{x}!", {"x": [1, 2]}) == "[1, 2]!"


def test_missing_values_become_empty_strings():
    assert render("{conversation_id}", {}) == ""
    assert render("/api/conversations/{conversation_id}", {}, in_path=True) == "/api/conversations/"
    assert render("hello {name}", {}) == "hello "


def test_strict_rendering_refuses_a_missing_value_and_an_empty_path_segment():
    """Load traffic renders strictly: /users//email answered 405 and was counted as a refused probe."""
    with pytest.raises(Unfilled) as info:
        render("/users/{user_id}/email", {}, in_path=True, strict=True)
    assert str(info.value) == "no value for {user_id} in the path"
    with pytest.raises(Unfilled):
        render("/users/{user_id}/email", {"user_id": ""}, in_path=True, strict=True)
    with pytest.raises(Unfilled) as info:
        render({"a": ["x", {"b": "{token}"}]}, {}, strict=True)
    assert str(info.value) == "no value for {token}"
    # in a body an empty value is a value ("" for no conversation yet starts a new one)
    assert render({"c": "{conversation_id}"}, {"conversation_id": ""}, strict=True) == {"c": ""}
    assert render("/users/{user_id}", {"user_id": 0}, in_path=True, strict=True) == "/users/0"


def test_nested_templates():
    template = {
        "model": "gpt-4o-mini",
        "messages": "{messages}",
        "stream": True,
        "conversation_id": "{conversation_id}",
        "meta": {"tags": ["{tenant}", "static", 7], "note": "from {email}"},
    }
    values = {
        "messages": MESSAGES,
        "conversation_id": "conv_42",
        "tenant": "northstar-coaching",
        "email": "maya@mail.example",
    }
    assert render(template, values) == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "stream": True,
        "conversation_id": "conv_42",
        "meta": {"tags": ["northstar-coaching", "static", 7], "note": "from maya@mail.example"},
    }


def test_template_is_not_modified():
    template = {"a": "{x}", "b": ["{y}"]}
    render(template, {"x": 1, "y": 2})
    assert template == {"a": "{x}", "b": ["{y}"]}


def test_in_path_percent_encodes_values():
    assert (
        render("/api/conversations/{id}", {"id": "a/b?c=d#e f"}, in_path=True)
        == "/api/conversations/a%2Fb%3Fc%3Dd%23e%20f"
    )
    assert render("/users/{email}", {"email": "maya+1@mail.example"}, in_path=True) == "/users/maya%2B1%40mail.example"


def test_in_path_whole_placeholder_is_a_string_and_encoded():
    assert render("{id}", {"id": 12}, in_path=True) == "12"
    assert render("{id}", {"id": "../admin"}, in_path=True) == "..%2Fadmin"


def test_body_values_are_not_percent_encoded():
    assert render({"q": "a/b c"}, {}) == {"q": "a/b c"}
    assert render({"q": "{v}"}, {"v": "a/b c"}) == {"q": "a/b c"}


def test_non_placeholder_braces_and_other_types_pass_through():
    assert render("{not valid}", {}) == "{not valid}"
    assert render("{1abc}", {"1abc": "x"}) == "{1abc}"
    assert render(3.5, {"x": 1}) == 3.5
    assert render(None, {}) is None


@pytest.mark.parametrize(
    "body, texts",
    [
        (
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
            ["Be brief.", "Hi"],
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": "x"}}],
                    }
                ]
            },
            ["Look"],
        ),
        ({"prompt": "Complete me"}, ["Complete me"]),
        # Anthropic: a top-level system prompt, content blocks
        (
            {"system": "Be brief.", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]},
            ["Be brief.", "Hi"],
        ),
        # Gemini: contents of parts, a system instruction
        (
            {
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "contents": [{"role": "user", "parts": [{"text": "Hi"}, {"inlineData": {"data": "..."}}]}],
            },
            ["Be brief.", "Hi"],
        ),
        # the Responses API: instructions, and input as a list of messages
        (
            {
                "instructions": "Be brief.",
                "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
            },
            ["Be brief.", "Hi"],
        ),
        # the Vercel AI SDK's UI messages keep their text in parts
        ({"messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}, ["Hi"]),
        ({"input": ["a", "b"]}, ["a", "b"]),
        ({"model": "m"}, []),
        (None, []),
    ],
)
def test_prompt_texts_are_what_the_model_reads(body, texts):
    assert prompt_texts(body) == texts


def _endpoint(stream: str = "none"):
    from harness.scenario import Endpoint

    return Endpoint(name="me", method="GET", path="/me", stream=stream)


@pytest.mark.parametrize(
    "content_type, body, stream, error",
    [
        ("application/json", b'{"id": 1}', "none", ""),
        ("application/json; charset=utf-8", b'{"items": [1, ', "none", "bad response: invalid JSON"),
        ("application/problem+json", b"oops", "none", "bad response: invalid JSON"),
        ("text/html; charset=utf-8", b"<html>Sign in</html>", "none", "bad response: text/html, expected JSON"),
        ("text/plain", b"ok", "none", ""),  # a webhook's "ok" is no JSON, and need not be
        ("", b"", "none", ""),  # 204 and friends
        ("text/plain", b"not json", "json", "bad response: invalid JSON"),  # a completion route must parse
    ],
)
def test_a_2xx_body_that_cannot_be_what_the_route_returns_is_an_error(content_type, body, stream, error):
    from harness.load.client import _check_body

    headers = {"content-type": content_type} if content_type else {}
    assert _check_body(_endpoint(stream), headers, body)[0] == error


def test_call_result_parses_its_body_once():
    from harness.load.client import CallResult

    result = CallResult(status=200, ok=True, blocked=False, error="", body=b'{"access_token": "t"}')
    assert result.json() == {"access_token": "t"}
    assert result.json() is result.json()
    assert CallResult(status=200, ok=True, blocked=False, error="", body=b"<html>").json() is None
    assert CallResult(200, True, False, "", body=b"{}", parsed={"already": "parsed"}).json() == {"already": "parsed"}


def test_a_call_whose_template_cannot_be_filled_is_a_failed_sample_and_nothing_is_sent():
    """The sample names the placeholder; the request is never made (an empty id would ask the list route)."""
    import tomllib

    from harness.load.client import ApiClient
    from harness.scenario import parse_scenario
    from tests.rest_api import scenario_toml

    class Session:  # fires request events as Locust's session does; sending anything fails the test
        def __init__(self) -> None:
            self.request_event = self
            self.fired: list[dict] = []

        def fire(self, **sample: object) -> None:
            self.fired.append(sample)

        def request(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("a request was sent")

    session = Session()
    api = ApiClient(session, parse_scenario(tomllib.loads(scenario_toml("http://127.0.0.1:9")), "rest.toml"))
    api.identity = "abc123"
    result = api.call("item", {"message": "hi"})
    assert (result.status, result.ok, result.error) == (0, False, "template: no value for {item_id} in the path")
    [sample] = session.fired
    assert (sample["name"], sample["request_type"], sample["response"]) == ("item", "GET", None)
    assert sample["context"]["error"] == result.error and sample["context"]["identity"] == "abc123"
    assert sample["exception"] is not None
