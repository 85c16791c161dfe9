"""Values a journey step reads from its answer: JSON paths, headers, cookies, regular expressions."""

from __future__ import annotations

import json
import random

import pytest
from geventhttpclient.header import Headers

from harness.protocol.extract import extract, header_values

BODY = json.dumps(
    {"data": {"token": "tok-1", "items": [{"id": 7, "name": "a"}, {"name": "no id"}, {"id": "x-9"}], "none": None}}
).encode()


def test_json_paths_read_keys_indexes_and_a_random_item() -> None:
    assert extract("json", "data.token", BODY, None) == ("tok-1", "")
    assert extract("json", "data.items.0.id", BODY, None) == (7, "")  # the JSON type is kept for bodies
    assert extract("json", "data.items.2.id", BODY, None) == ("x-9", "")
    random.seed(3)
    picked = {extract("json", "data.items.*.id", BODY, None)[0] for _ in range(40)}
    assert picked == {7, "x-9"}  # only items that have the key
    assert extract("json", "", b'"just a string"', None) == ("just a string", "")
    assert extract("json", "data.token", b"", None, parsed={"data": {"token": "given"}}) == ("given", "")


@pytest.mark.parametrize(
    ("source", "expr", "body", "why"),
    [
        ("json", "data.items.5.id", BODY, "nothing at json:data.items.5.id in the answer"),
        ("json", "data.none", BODY, "nothing at json:data.none in the answer"),  # null is no value
        ("json", "data.token.x", BODY, "nothing at json:data.token.x in the answer"),
        ("json", "data", b"<html>not json</html>", "nothing at json:data in the answer"),
        ("regex", r"order-(\d+)", b"no order here", r"regex:order-(\d+) matches nothing in the answer"),
        ("header", "X-CSRF-Token", b"", "no X-CSRF-Token header in the answer"),
        ("cookie", "sid", b"", "the answer sets no cookie sid"),
    ],
)
def test_what_is_not_there_is_a_reason_never_an_empty_value(source: str, expr: str, body: bytes, why: str) -> None:
    assert extract(source, expr, body, Headers()) == (None, why)


def test_regex_takes_the_first_group_else_the_whole_match() -> None:
    body = "Order confirmed: order-4711 (ünïcode ok)".encode()
    assert extract("regex", r"order-(\d+)", body, None) == ("4711", "")
    assert extract("regex", r"order-\d+", body, None) == ("order-4711", "")


def test_headers_and_cookies_whatever_the_case_and_however_many() -> None:
    headers = Headers()
    headers.add("x-csrf-token", "csrf-abc")
    headers.add("Set-Cookie", "theme=dark; Path=/")
    headers.add("Set-Cookie", "sid=s-123; Path=/; HttpOnly; Expires=Wed, 21 Oct 2037 07:28:00 GMT")
    assert extract("header", "X-CSRF-Token", b"", headers) == ("csrf-abc", "")
    assert extract("cookie", "sid", b"", headers) == ("s-123", "")
    assert extract("cookie", "theme", b"", headers) == ("dark", "")
    assert header_values({"Set-Cookie": ["a=1", "b=2"], "X-A": "1"}, "set-cookie") == ["a=1", "b=2"]
    assert header_values(None, "X-A") == []
