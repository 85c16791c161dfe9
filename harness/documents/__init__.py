"""The three JSON documents a run and an audit leave behind, as typed structures (msgspec Structs):
run.json (`RunMeta`, what the master knew), summary.json (`Summary`, every figure and the verdict)
and audit.json (`AuditReport`). Each carries a `schema_version`; `harness.documents.schemas`
writes their JSON Schemas to docs/schemas/.

msgspec rather than dataclasses: it decodes JSON straight into the types with validation (the
tolerant readers here turn a wrong field into a note), encodes them, and generates the JSON Schema
from the same declarations, so the shipped schema cannot drift from the code.

This package imports nothing else of the harness: every stage may read and write the documents.
"""

from harness.documents.common import load_tolerant, to_builtins
from harness.documents.run import RUN_SCHEMA_VERSION, RunMeta
from harness.documents.summary import (
    REASON_KINDS,
    SUMMARY_SCHEMA_VERSION,
    EndpointFigures,
    Reason,
    RunSection,
    Summary,
    ThresholdRow,
    Totals,
    Verdict,
)

__all__ = [
    "load_tolerant",
    "to_builtins",
    "RUN_SCHEMA_VERSION",
    "RunMeta",
    "REASON_KINDS",
    "SUMMARY_SCHEMA_VERSION",
    "EndpointFigures",
    "Reason",
    "RunSection",
    "Summary",
    "ThresholdRow",
    "Totals",
    "Verdict",
]
