"""`harness audit`: the launch checklist measured from outside (see harness.audit.runner).

Each check module has `run(ctx: AuditContext) -> list[CheckResult]`; `model.scorecard` adds the
results up into the checklist's rows."""
