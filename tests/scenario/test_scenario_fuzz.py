"""Fuzzing `harness validate`: random bytes, random TOML, and structured mutations of the shipped
scenarios. Whatever the file, validate ends with exit 0 (warnings allowed) or exit 2 and exactly one
line `harness: ...` on stderr; it never raises. Reproducible: the seed is printed with any failure
(set HARNESS_FUZZ_SEED to replay another)."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import random
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from harness.cli import main
from tests.helpers import REPO, run_harness

SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "20260111"))
SHIPPED = sorted((REPO / "scenarios").glob("*.toml"))
ODD_TEXT = [
    "",
    " ",
    "\u202e\u0645\u0631\u062d\u0628\u0627",
    "e\u0301\u0301",
    "\U0001f600" * 3,
    "\ufeff",
    "a\nb",
    "\u2028",
    "\x7f",
    "{bogus_id}",
    "{conversation_id}",
    "x" * 5000,
    "NaN",
    "1e999",
    "\\u0000",
    "\ud7ff",
    "0x10",
    "../../etc/passwd",
    "${HOME}",
    "\x00",
    "\\0",
]
HUGE = [2**63 - 1, -(2**63), 10**30, -(10**30), 1e308, -1e308, 5e-324, 0, -1, 2**64]


def random_scalar(rng: random.Random) -> Any:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice([math.nan, math.inf, -math.inf])
    if kind == 1:
        return rng.choice(HUGE)
    if kind == 2:
        return rng.choice(ODD_TEXT)
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return datetime(2026, 1, 11, 12, 0, tzinfo=UTC)
    if kind == 5:
        return rng.uniform(-1e6, 1e6)
    if kind == 6:
        return rng.randint(-5, 100_000)
    if kind == 7:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xA0, 0x2FFF)])) for _ in range(8))
    return rng.choice(["90s", "1m30s", "0s", "-1s", "client", "demo", "file", "GET", "/api/x", "sse-openai"])


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.15:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 4 and roll < 0.3:
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return random_scalar(rng)


def random_key(rng: random.Random) -> str:
    return rng.choice(
        [
            "users",
            "duration",
            "body",
            "path",
            "x",
            "source",
            "stages",
            "weight",
            "\u00e9t\u00e9",
            "a.b",
            "",
            "\U0001f600",
            "password",
            "arrival_rate",
            "spawn_rate",
            "max_users",
        ]
    )


def deep(rng: random.Random, levels: int) -> Any:
    value: Any = random_scalar(rng)
    for _ in range(levels):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value (table keys and list indexes), the tables themselves included."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += paths(value, (*prefix, i))
    return found


def parent_of(data: Any, path: tuple) -> tuple[Any, Any]:
    for key in path[:-1]:
        data = data[key]
    return data, path[-1]


def mutate(rng: random.Random, data: dict[str, Any]) -> str:
    """One structured mutation of `data`, in place; its description."""
    path = rng.choice(paths(data))
    parent, key = parent_of(data, path)
    kind = rng.choice(["delete", "retype", "nan", "huge", "deep", "unknown", "unicode", "empty"])
    if kind == "delete":
        del parent[key]
    elif kind == "retype":
        parent[key] = random_value(rng)
    elif kind == "nan":
        parent[key] = rng.choice([math.nan, math.inf, -math.inf])
    elif kind == "huge":
        parent[key] = rng.choice(HUGE)
    elif kind == "deep":
        parent[key] = deep(rng, rng.choice([20, 40, 80]))
    elif kind == "unknown":
        target = parent[key] if isinstance(parent[key], dict) else data
        target[random_key(rng) + "_extra"] = random_value(rng)
    elif kind == "unicode":
        parent[key] = rng.choice(ODD_TEXT)
    else:
        parent[key] = rng.choice([{}, [], ""])
    return f"{kind} at {'.'.join(map(str, path))}"


def cases(seed: int) -> list[tuple[str, bytes]]:
    """(description, file bytes), the same list for the same seed."""
    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    for i in range(40):  # random bytes, and random text
        size = rng.randrange(0, 600)
        raw = (
            bytes(rng.randrange(256) for _ in range(size))
            if i % 2
            else "".join(chr(rng.randrange(9, 0x3000)) for _ in range(size)).encode()
        )
        out.append((f"random bytes #{i}", raw))
    for i in range(60):  # random TOML documents
        doc = {random_key(rng) or "k": random_value(rng) for _ in range(rng.randrange(1, 6))}
        doc.update(rng.choice([{}, {"endpoints": random_value(rng)}, {"load": random_value(rng)}]))
        out.append((f"random TOML #{i}", tomli_w.dumps(doc).encode()))
    shipped = [(p.name, tomllib.loads(p.read_text(encoding="utf-8"))) for p in SHIPPED]
    for _ in range(220):  # structured mutations of the shipped scenarios, one to three each
        name, original = rng.choice(shipped)
        data = copy.deepcopy(original)
        done = [mutate(rng, data) for _ in range(rng.choice([1, 1, 2, 3]))]
        out.append((f"{name}: {'; '.join(done)}", tomli_w.dumps(data).encode()))
    for _ in range(20):  # the text itself: cut short, a byte-order mark, UTF-16, a line doubled
        name, _ = rng.choice(shipped)
        text = (REPO / "scenarios" / name).read_text(encoding="utf-8")
        how = rng.choice(["cut", "bom", "utf16", "double"])
        if how == "cut":
            raw = text.encode()[: rng.randrange(len(text))]
        elif how == "bom":
            raw = b"\xef\xbb\xbf" + text.encode()
        elif how == "utf16":
            raw = text.encode("utf-16")
        else:
            lines = text.splitlines(keepends=True)
            at = rng.randrange(len(lines))
            raw = "".join(lines[: at + 1] + lines[at:]).encode()
        out.append((f"{name}: {how}", raw))
    return out


def validate(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(path)])
    return code, err.getvalue()


def check_outcome(code: int, stderr: str) -> str | None:
    """What breaks the promise, or None."""
    lines = stderr.splitlines()
    if code == 0:
        bad = [line for line in lines if not line.startswith("harness: warning: ")]
        return f"exit 0 with stray stderr {bad[:2]}" if bad else None
    if code != 2:
        return f"exit {code}"
    if len(lines) != 1 or not lines[0].startswith("harness: ") or not stderr.endswith("\n"):
        return f"exit 2 but stderr is not one 'harness: ' line: {stderr[:300]!r}"
    return None


def test_validate_never_raises_and_answers_in_one_line(tmp_path: Path) -> None:
    all_cases = cases(SEED)
    assert len(all_cases) >= 300
    exits = {0: 0, 2: 0}
    for i, (what, raw) in enumerate(all_cases):
        path = tmp_path / f"case{i}.toml"
        path.write_bytes(raw)
        try:
            code, stderr = validate(path)
        except BaseException as exc:  # noqa: BLE001 - the point: nothing may escape
            pytest.fail(f"seed {SEED}, case {i} ({what}): raised {type(exc).__name__}: {exc}"[:2000])
        problem = check_outcome(code, stderr)
        assert problem is None, f"seed {SEED}, case {i} ({what}): {problem}"
        exits[code] += 1
    # the mutations are not all rejected: some still validate, so the accepted path is fuzzed too
    assert exits[0] >= 10 and exits[2] >= 200, exits


@pytest.mark.e2e
def test_a_handful_as_real_processes(tmp_path: Path) -> None:
    picked = random.Random(SEED).sample(cases(SEED), 6)
    for i, (what, raw) in enumerate(picked):
        path = tmp_path / f"case{i}.toml"
        path.write_bytes(raw)
        result = run_harness("validate", str(path), timeout=60)
        assert "Traceback" not in result.stderr, f"seed {SEED}, {what}"
        problem = check_outcome(result.returncode, result.stderr)
        assert problem is None, f"seed {SEED}, {what}: {problem}"
