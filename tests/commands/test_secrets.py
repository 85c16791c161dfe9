"""Secret hygiene: passwords, session tokens and the webhook secret handed to the harness never reach the
run folder. A real run plants canaries (an accounts file, an environment variable) and every file the
run wrote is scanned, Parquet samples decoded cell by cell. Passwords come from an accounts file in one
run and from the scenario itself in the other."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.helpers import REPO, only_run_dir, read_json, run_harness

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

CANARY_PASSWORD = "canary-pw-7f3a9c1e5b"
CANARY_WEBHOOK_SECRET = "whsec_canary_52d1e8b0a4"
TOKEN = re.compile(rb"Bearer\s+[A-Za-z0-9._~+/=-]{8,}")


def escaped(text: str) -> str:
    """Every other character as a TOML \\uXXXX escape: the same string once parsed."""
    return "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(text))


def texts_of(path: Path) -> list[bytes]:
    """A file's bytes, and for Parquet every cell as text (its pages are compressed)."""
    out = [path.read_bytes()]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        out += [str(value).encode() for column in table.columns for value in column.to_pylist()]
    return out


@pytest.mark.parametrize("source", ["file", "inline"])
def test_no_secret_reaches_any_file_of_the_run_folder(target_factory, tmp_path: Path, source: str) -> None:
    target = target_factory({"ttft": 1, "token_delay": 1, "output_tokens": [3, 6]})
    accounts = httpx.get(target.url + "/__demo__/accounts", timeout=10).json()["accounts"]
    clients = [a for a in accounts if a["role"] == "client"]
    pairs = [(a["email"], a["password"]) for a in clients] + [("nobody@example.test", CANARY_PASSWORD)]
    if source == "file":  # an accounts file beside the scenario
        (tmp_path / "accounts.csv").write_text("email,password,role\n" + "".join(f"{e},{p},client\n" for e, p in pairs))
        table = 'source = "file"\nfile = "accounts.csv"'
    else:  # the passwords written in the scenario itself, with TOML escapes (a text search would miss them)
        table = (
            'source = "inline"\ninline = ['
            + ", ".join(f'{{email = "{e}", password = "{escaped(p)}", role = "client"}}' for e, p in pairs)
            + "]"
        )
    scenario = tmp_path / "secrets.toml"
    smoke = (REPO / "scenarios" / "smoke.toml").read_text()
    scenario.write_text(
        smoke.replace('source = "demo"', table).replace(
            'secret_env = "HARNESS_WEBHOOK_SECRET"', 'secret_env = "CANARY_WEBHOOK_SECRET"'
        )
    )
    result = run_harness(
        "run",
        str(scenario),
        "--host",
        target.url,
        "--workers",
        "1",
        "--duration",
        "5s",
        "--out",
        str(tmp_path / "out"),
        env={"CANARY_WEBHOOK_SECRET": CANARY_WEBHOOK_SECRET},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")

    secrets = [CANARY_PASSWORD, CANARY_WEBHOOK_SECRET] + [a["password"] for a in clients]
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"samples", "logs"} <= {p.relative_to(run_dir).parts[0] for p in files}
    for path in files:
        for text in texts_of(path):
            for secret in secrets:
                assert secret.encode() not in text, f"{secret[:6]}… found in {path.relative_to(run_dir)}"
            assert not TOKEN.search(text), f"a bearer token in {path.relative_to(run_dir)}"
    for stream in (result.stdout, result.stderr):
        assert not any(secret in stream for secret in secrets)
    # the run really used them: logins succeeded with the file's passwords, webhooks were signed
    summary = read_json(run_dir / "summary.json")
    assert summary["endpoints"]["login"]["status_counts"].get("200", 0) > 0
    copied = (run_dir / "scenario.toml").read_text()
    assert copied.count("[redacted]") == (len(pairs) if source == "inline" else 0)
    assert not [p for _, p in pairs if escaped(p) in copied]
