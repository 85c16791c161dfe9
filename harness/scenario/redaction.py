r"""The run folder's copy of a scenario: written from the parsed data with every secret replaced.

A search and replace in the file's text misses a password written with a TOML escape (`\"`,
`\uXXXX`); writing the parsed data back out does not.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import tomli_w

__all__ = ["REDACTED", "redacted_raw", "redacted_copy"]

REDACTED = "[redacted]"


def redacted_raw(raw: dict[str, Any], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of a scenario's parsed data fit for a run folder: the password fields (inline accounts,
    attacks), the password in target.host's user-info, and every occurrence of `secrets` (the passwords
    and webhook secret the run was handed) anywhere else, replaced by "[redacted]"."""
    data = copy.deepcopy(raw)
    accounts, attacks, target = (data.get(k) for k in ("accounts", "attacks", "target"))
    inline = accounts.get("inline", []) if isinstance(accounts, dict) else []
    tables = [a for a in inline if isinstance(a, dict)] if isinstance(inline, list) else []
    tables += [a for a in attacks.values() if isinstance(a, dict)] if isinstance(attacks, dict) else []
    for table in tables:
        if "password" in table:
            table["password"] = REDACTED
    if isinstance(target, dict) and isinstance(target.get("host"), str):
        target["host"] = _redact_userinfo(target["host"])
    values = sorted({s for s in secrets if isinstance(s, str) and s}, key=len, reverse=True)
    return _replace_secrets(data, values) if values else data


def redacted_copy(raw: dict[str, Any], secrets: Iterable[str] = (), name: str = "scenario.toml") -> str:
    """The text of a run folder's `scenario.toml`: TOML written from the parsed data by `redacted_raw`,
    never a search and replace in the file's text (that misses a password written with an escape)."""
    return (
        f"# Written by launch-harness from the parsed scenario {name!r}, passwords and secrets redacted;\n"
        "# the original's comments and layout are not kept.\n\n" + tomli_w.dumps(redacted_raw(raw, secrets))
    )


def _redact_userinfo(url: str) -> str:
    """`http://user:pass@host` -> `http://user:[redacted]@host`."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{REDACTED}@{host}{rest[end:]}"


def _replace_secrets(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_replace_secrets(k, secrets): _replace_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secrets(v, secrets) for v in value]
    return value
