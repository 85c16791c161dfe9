"""audit.json: the launch checklist's rows from `harness audit`, each from the checks that measured
it (harness.audit.model.scorecard), and the verdict."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from harness.documents.common import load_tolerant, to_builtins

__all__ = ["AUDIT_SCHEMA_VERSION", "RowStatus", "AuditCheck", "AuditRow", "AuditAccount", "AuditReport"]

# 2: untested (was not_measurable), the untested verdict, destructive requests; 3: accounts_created
AUDIT_SCHEMA_VERSION = 3
# a row fails when any of its checks failed, passes when one passed and none failed, is not applicable
# when every check of it is (the API has nothing it is about), and is otherwise untested.
# "not_measurable" is how audit.json said untested before schema 2: read as untested.
RowStatus = Literal["pass", "fail", "untested", "not_applicable", "not_measurable"]


def _current(status: RowStatus) -> RowStatus:
    return "untested" if status == "not_measurable" else status


class AuditCheck(msgspec.Struct, kw_only=True):
    """One check's outcome for its row: findings (what is wrong) and evidence (what was sent and
    seen, secrets redacted)."""

    check: str
    status: RowStatus
    findings: list[str] = msgspec.field(default_factory=list)
    evidence: list[str] = msgspec.field(default_factory=list)
    note: str = ""
    fix: str = ""  # untested: what would let the check judge
    gate: bool = False  # untested, and the audit's verdict needs it (a precondition failed at the target)

    def __post_init__(self) -> None:
        self.status = _current(self.status)


class AuditRow(msgspec.Struct, kw_only=True):
    title: str
    status: RowStatus
    findings: list[str] = msgspec.field(default_factory=list)
    why: str = ""
    fix: str = ""
    note: str = ""
    checks: list[AuditCheck] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = _current(self.status)


class AuditAccount(msgspec.Struct, kw_only=True):
    """An account the audit signed up through a route of kind register, for the user to remove (never
    its password): its address or user name, the route, why it was made, and the id the API gave it."""

    email: str = ""
    username: str = ""
    route: str = ""
    purpose: str = ""
    id: str = ""


class AuditReport(msgspec.Struct, kw_only=True):
    """audit.json. `incomplete`: checks that could not complete (the audit then fails). `verdict`
    untested: no row failed, but a check the verdict needs could not judge (`untested_rows`).
    `destructive`: whether deletes and overwrites of objects the audit did not create were allowed,
    and `destructive_requests` the ones it sent. `accounts_created`: the accounts it signed up."""

    schema_version: int = 0  # 0: written before audit.json had a version
    target: str | None = None
    scenario: str | None = None
    profile: str | None = None
    run: str | None = None  # the load run whose summary gave the rate-limit and latency rows
    started_at: str | None = None
    duration_s: float | None = None
    harness_version: str | None = None
    rows: dict[str, AuditRow] = msgspec.field(default_factory=dict)
    verdict: Literal["pass", "fail", "untested"] = "fail"
    failed_rows: list[str] = msgspec.field(default_factory=list)
    untested_rows: list[str] = msgspec.field(default_factory=list)
    destructive: bool = False
    destructive_requests: list[str] = msgspec.field(default_factory=list)
    accounts_created: list[AuditAccount] = msgspec.field(default_factory=list)
    incomplete: list[str] | UnsetType = UNSET

    @classmethod
    def load(cls, data: Any, where: str = "audit.json") -> tuple[AuditReport, list[str]]:
        return load_tolerant(data, cls, where)

    def to_dict(self) -> dict[str, Any]:
        return to_builtins(self)
