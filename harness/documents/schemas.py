"""The JSON Schemas of run.json, summary.json and audit.json, generated from their types.

    python -m harness.documents.schemas [DIR]     # rewrites DIR (default docs/schemas) from the types

A test checks that the shipped files equal what the types generate now. The schemas describe what
the harness writes: the fields it always writes are required, although the types themselves read
an older or partial document with defaults.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from harness.documents.audit import AuditReport
from harness.documents.run import RunMeta
from harness.documents.summary import Summary

__all__ = ["DOCUMENTS", "schema", "render", "write_schemas"]

# file name -> (type, the top-level fields the harness always writes, what the document is)
DOCUMENTS: dict[str, tuple[type[msgspec.Struct], tuple[str, ...], str]] = {
    "run.schema.json": (RunMeta, ("id", "scenario", "host", "aborted"), "run.json: what the Locust master knew"),
    "summary.schema.json": (
        Summary,
        ("run", "endpoints", "totals", "thresholds", "verdict", "verdict_reasons", "notes", "generator"),
        "summary.json: every figure of a run and its verdict",
    ),
    "audit.schema.json": (
        AuditReport,
        ("target", "rows", "verdict", "failed_rows"),
        "audit.json: the launch checklist's rows and the verdict",
    ),
}
SCHEMA_DIR = Path("docs") / "schemas"


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one document, by its file name."""
    kind, required, title = DOCUMENTS[name]
    generated = msgspec.json.schema(kind)
    root = generated["$defs"][kind.__name__]
    root["required"] = sorted(set(root.get("required", [])) | set(required))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **generated}


def render(name: str) -> str:
    return json.dumps(schema(name), indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DOCUMENTS:
        path = folder / name
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)
