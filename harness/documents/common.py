"""Reading a document tolerantly: an older, partial or hand-edited file still loads."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

__all__ = ["load_tolerant", "to_builtins"]

T = TypeVar("T", bound=msgspec.Struct)
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def to_builtins(document: msgspec.Struct) -> dict[str, Any]:
    """The document as plain JSON types (dicts, lists...), fields left unset omitted."""
    built = msgspec.to_builtins(document, enc_hook=str)  # as run.json always did: str() for anything else
    assert isinstance(built, dict)
    return built


def load_tolerant(data: Any, kind: type[T], where: str) -> tuple[T, list[str]]:
    """`data` (parsed JSON) as `kind`, and a note per field that could not be read.

    Every field of `kind` has a default, so a missing one takes it; a field of the wrong type is
    dropped (its default taken) and named in a note, never a crash: a killed run's run.json, or one
    from an older version, still gives a report. Unknown fields are ignored.
    """
    if not isinstance(data, dict):
        return kind(), [f"{where} is not a JSON object: ignored"]
    data = dict(data)
    notes: list[str] = []
    for _ in range(len(data) + 1):
        try:
            return msgspec.convert(data, kind, strict=False), notes
        except msgspec.ValidationError as exc:
            match = _AT.match(str(exc))
            path = (match.group("path") or "") if match else ""
            key = re.match(r"\.([A-Za-z_]\w*)", path)
            if key is None or key.group(1) not in data:
                break
            what = match.group("what") if match else str(exc)
            notes.append(f"{where}: {path.lstrip('.')}: {what[:1].lower()}{what[1:]}; the field is ignored")
            del data[key.group(1)]
    return kind(), [*notes, f"{where}: could not be read as a whole: ignored"]
