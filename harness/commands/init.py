"""`harness init --openapi SPEC | --har FILE [--out FILE]`: a scenario drafted for a person to review.

Nothing is sent: the draft is made from the file alone. It never overwrites a scenario (without
--force), and never an accounts file at all: that one may already hold someone's test accounts.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import ExitCode, UsageError

__all__ = ["run_init"]

ACCOUNTS_FILE = "accounts.csv"


def run_init(openapi: Path | None, har: Path | None, out: Path, force: bool, host_filter: str | None) -> int:
    """Draft, write `out` and the accounts stub beside it, and say what a person must review."""
    from harness.scenario.importers.draft import accounts_stub, render_draft
    from harness.scenario.importers.har import draft_from_har
    from harness.scenario.importers.openapi import draft_from_openapi

    if host_filter and openapi is not None:
        raise UsageError("--host-filter: goes with --har (an OpenAPI document has no recorded hosts)")
    if out.exists() and not force:
        raise UsageError(f"{out}: exists; pass --force to overwrite it")
    if openapi is not None:
        draft = draft_from_openapi(openapi, f"harness init --openapi {openapi.name}")
    else:
        assert har is not None, "the command line requires --openapi or --har"
        draft = draft_from_har(har, host_filter, f"harness init --har {har.name}")
    text = render_draft(draft, ACCOUNTS_FILE)
    _write(out, text, force)
    accounts = out.parent / ACCOUNTS_FILE
    kept = accounts.exists()
    if not kept:
        _write(accounts, accounts_stub(draft), force=False)
    reviews = text.count("# review:")
    kinds = ", ".join(f"{r.name} ({r.kind})" for r in draft.routes)
    print(f"{out}: drafted {len(draft.routes)} endpoints: {kinds}")
    print(f"  auth style {draft.auth.style}; journey {', '.join(j.name for j in draft.journeys)}")
    print(f"  {accounts}: {'kept as it was' if kept else 'placeholder accounts: put test accounts there'}")
    print(f"  {reviews} lines marked `# review:`: check each, set the host, then: harness validate {out}")
    return ExitCode.PASS


def _write(path: Path, text: str, force: bool) -> None:
    """Write a new file (or replace one with --force): a file that appeared meanwhile is not clobbered."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w" if force else "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except FileExistsError:
        raise UsageError(f"{path}: exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
