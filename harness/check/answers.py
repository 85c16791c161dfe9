"""One recorded exchange of `harness check`: the answer a route gave, kept whole enough to judge.

The diagnosis rules read only this, never a live response, so each rule is tested on answers recorded
as data (tests/check/test_diagnose.py) and the runner is the one place that speaks HTTP.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "JWT", "looks_like_token", "dig"]

# header.payload.signature, base64url: how most session tokens look
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_OPAQUE = re.compile(r"[A-Za-z0-9._~+/=-]{20,}")  # a long opaque string without spaces: a session id, a key


@dataclass(frozen=True)
class Answer:
    """What came back for one request: status (0: none), headers in order, the body (bounded), and
    `error`, why there was no answer or why it stopped short."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str:
        """The first value of a header (any case), "" when absent."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()

    def cookies(self) -> list[str]:
        """The names of the cookies the answer sets, in order."""
        names = [v.split("=", 1)[0].strip() for k, v in self.headers if k.lower() == "set-cookie" and "=" in v]
        return [n for i, n in enumerate(names) if n and n not in names[:i]]

    def json(self) -> Any:
        """The body as JSON, None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def looks_like_token(value: Any) -> bool:
    """A string a session could be: a JWT, or a long opaque string without spaces."""
    return isinstance(value, str) and bool(JWT.fullmatch(value) or _OPAQUE.fullmatch(value))


def dig(data: Any, path: str) -> Any:
    """The value at a dot path of a JSON value ("data.token"), None when it is not there; "" is the whole."""
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
