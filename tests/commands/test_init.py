"""`harness init`: the command around the importers (files written, refused, kept), then the draft
through `harness validate`, and a live recording of the demo API drafted by the real command."""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.demo_api.process import RunningTarget
from tests.check.fake_api import reply, serve
from tests.helpers import REPO, run_harness
from tests.scenario.importers.record_har import QUESTION, record_session

PETSTORE = REPO / "tests" / "fixtures" / "openapi" / "petstore-expanded.yaml"
TICTACTOE = REPO / "tests" / "fixtures" / "openapi" / "tictactoe.json"
DEMO_HAR = REPO / "tests" / "fixtures" / "har" / "demo.har"


def test_init_writes_scenario_toml_and_an_accounts_stub_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--openapi", str(PETSTORE)]) == 0
    draft = tomllib.loads((tmp_path / "scenario.toml").read_text())
    assert list(draft["endpoints"]) == ["find_pets", "add_pet", "find_pet_by_id", "delete_pet"]
    assert (tmp_path / "accounts.csv").read_text().splitlines()[0] == "email,password,role"
    out = capsys.readouterr().out
    assert "scenario.toml: drafted 4 endpoints: find_pets (list), add_pet (write)" in out
    assert "lines marked `# review:`" in out


def test_init_never_overwrites_a_scenario_without_force_nor_an_accounts_file_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.toml"
    out.write_text("# my scenario\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("email,password,role\nreal@example.com,not-a-placeholder,client\n")
    assert main(["init", "--har", str(DEMO_HAR), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"harness: {out}: exists; pass --force to overwrite it\n"
    assert out.read_text() == "# my scenario\n"
    assert main(["init", "--har", str(DEMO_HAR), "--out", str(out), "--force"]) == 0
    assert "post_api_auth_login" in tomllib.loads(out.read_text())["endpoints"]
    assert "real@example.com" in accounts.read_text()  # someone's accounts: kept as they were
    assert "accounts.csv: kept as it was" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--openapi", "missing.yaml"], "harness: missing.yaml: file not found"),
        (["--har", "PETSTORE"], "harness: PETSTORE: not a HAR file: not valid JSON: line 1 column 1"),
        (["--openapi", "DEMO_HAR"], "harness: DEMO_HAR: not an OpenAPI 3 document"),
        (["--openapi", "PETSTORE", "--host-filter", "x"], "harness: --host-filter: goes with --har"),
        (["--openapi", "PETSTORE", "--har", "DEMO_HAR"], "harness: init: argument --har: not allowed with argument"),
        ([], "harness: init: one of the arguments --openapi --har is required"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {"PETSTORE": str(PETSTORE), "DEMO_HAR": str(DEMO_HAR)}
    message = message.replace("PETSTORE", str(PETSTORE)).replace("DEMO_HAR", str(DEMO_HAR))
    assert exit_code(["init", *[files.get(a, a) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def exit_code(argv: list[str]) -> int:
    """The command's exit code, whether it returned it or argparse exited with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.e2e
@pytest.mark.parametrize("source", [("--openapi", PETSTORE), ("--openapi", TICTACTOE), ("--har", DEMO_HAR)])
def test_the_draft_passes_harness_validate(tmp_path: Path, source: tuple[str, Path]) -> None:
    out = tmp_path / "draft.toml"
    made = run_harness("init", source[0], str(source[1]), "--out", str(out), timeout=60)
    assert made.returncode == 0, made.stderr
    checked = run_harness("validate", str(out), timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "draft.toml: ok" in checked.stdout


@pytest.mark.e2e
def test_a_live_recording_of_the_demo_api_drafts_its_session_without_a_secret(
    tmp_path: Path, target_factory: Callable[..., RunningTarget]
) -> None:
    target = target_factory()
    recording = record_session(target.url, pause_s=0.1)
    har = tmp_path / "session.har"
    har.write_text(json.dumps(recording.har))
    shutil.copy(har, tmp_path / "kept.har")
    result = run_harness("init", "--har", str(har), "--out", str(tmp_path / "s.toml"), timeout=60)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "s.toml").read_text()
    draft = tomllib.loads(text)
    host = target.url.removeprefix("http://")
    assert f"6 recorded requests to {host}" in draft["scenario"]["description"]
    assert draft["auth"]["style"] == "bearer" and draft["auth"]["token_field"] == "access_token"
    assert [s["route"] for s in draft["journeys"]["recorded"]["steps"]] == [
        "post_api_auth_login",
        "get_api_me",
        "get_api_conversations",
        "post_api_auth_logout",
    ]
    for secret in (recording.password, recording.token, QUESTION):
        assert secret not in text
    assert har.read_bytes() == (tmp_path / "kept.har").read_bytes()  # the recording itself is left as it was


@pytest.mark.e2e
def test_harness_check_runs_the_petstore_draft_against_a_server_implementing_part_of_it(tmp_path: Path) -> None:
    """The third-party document's draft, unedited, checked against a local petstore serving its reads: the
    list answers, the read route gets an id from the list, and the write and delete routes are never sent."""
    out = tmp_path / "petstore.toml"
    assert run_harness("init", "--openapi", str(PETSTORE), "--out", str(out), timeout=60).returncode == 0
    pets = [{"id": 41, "name": "Rex", "tag": "dog"}, {"id": 42, "name": "Tom"}]
    routes = {
        "GET /v2/pets": lambda r: reply(200, pets),
        "GET /v2/pets/*": lambda r: reply(200, pets[0]) if r.path.endswith(("/41", "/42")) else reply(404, {}),
    }
    with serve(routes) as (url, seen):
        checked = run_harness("check", str(out), "--host", url, timeout=120)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    sent = [(r.method, r.path) for r in seen]
    assert ("GET", "/v2/pets") in sent and any(m == "GET" and p in ("/v2/pets/41", "/v2/pets/42") for m, p in sent)
    assert all(m == "GET" for m, _ in sent), sent  # add_pet (write) and delete_pet (delete) never sent
