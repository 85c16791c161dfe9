"""The `harness` command: distributed load and abuse tests for AI chatbot APIs,
on real Locust.

`harness run SCENARIO` loads the API (the embedded demo API when no host is
given) and writes a run folder: samples, summary.json, report.html. `harness
validate SCENARIO` checks a scenario without sending anything. `harness COMMAND
--help` tells more about each command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from harness import __version__
from harness.errors import ExitCode, HarnessError
from harness.scenario import ScenarioError, parse_duration

__all__ = ["main", "EXIT_CODES"]

EXIT_CODES = """exit codes:
  0  pass: every threshold passed, every declared limit held, no abuse finding
  1  a threshold failed (or a limit, an attack, the wallet probe found a flaw)
  2  bad usage or scenario: a one-line error, nothing was sent
  3  run aborted (guardrail, target unreachable, interrupted, internal
     failure); the run folder still holds what was measured
  4  untested: nothing failed, but a verdict the gate depends on could not
     be judged (no usable login, no accepted signed delivery...); not a pass"""


def _duration(value: str) -> float:
    try:
        return parse_duration(value, "--duration")
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value!r}")
    return number


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (and exit 2) like every other harness error."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        self.exit(2, f"harness: {command + ': ' if command else ''}{message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness", description=__doc__, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"launch-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario (starts the embedded demo API when no host is given)")
    run.add_argument(
        "scenario", type=Path, help="scenario TOML file, or a shipped scenario's name (smoke, load-day, abuse)"
    )
    run.add_argument(
        "--host", help="base URL of the API under test (default: the scenario's, else the embedded demo API)"
    )
    run.add_argument("--profile", choices=["hardened", "vulnerable"], help="profile of the embedded demo API")
    run.add_argument(
        "--workers", type=_positive_int, help="local Locust worker processes (default: CPU count; 0: one process)"
    )
    run.add_argument("--users", type=_at_least_one, help="concurrent users (replaces the scenario's load and stages)")
    run.add_argument("--spawn-rate", type=_positive_float, help="users started per second")
    run.add_argument(
        "--arrival-rate",
        type=_positive_float,
        metavar="R",
        help="open model: start R journeys per second across all workers, however fast the target "
        "answers (replaces the scenario's load; --users then sizes the pool)",
    )
    run.add_argument("--duration", type=_duration, help="run time, e.g. 90s or 5m")
    run.add_argument(
        "--find-capacity",
        action="store_true",
        help="search the highest arrival rate that passes every criterion (the scenario's [search], else "
        "its defaults) instead of running the scenario's load (docs/capacity.md)",
    )
    run.add_argument("--out", type=Path, default=Path("reports"), help="folder for run folders (default: reports/)")
    run.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help='add a threshold, e.g. "p99(*) < 1s" (repeatable)',
    )
    run.add_argument(
        "--abort-on-fail",
        action="append",
        default=[],
        metavar="EXPR",
        help='add a threshold that stops the run as soon as it fails, e.g. "error_rate(*) < 5%%" (repeatable)',
    )
    run.add_argument(
        "--screenshot", action="store_true", help="also save report.png, the report rendered by headless Chromium"
    )
    run.add_argument(
        "--web",
        action="store_true",
        help="serve Locust's web UI and the harness panel (live p95 per route, spend, capacity search) on "
        "127.0.0.1 while the run goes; the run starts and ends by itself as without it",
    )
    run.add_argument(
        "--web-port", type=_positive_int, metavar="P", help="port of the --web live view (default: a free port)"
    )
    run.add_argument(
        "--check-first",
        action="store_true",
        help="run `harness check` first and start the load only when every step worked (else exit 4, no load sent)",
    )
    run.add_argument(
        "--expect-workers",
        type=_positive_int,
        metavar="N",
        help="start once N workers joined, local --workers included (default --workers 0: all remote)",
    )
    run.add_argument(
        "--master-bind",
        metavar="ADDR",
        help="address the master listens on for workers (default 127.0.0.1; 0.0.0.0: every interface)",
    )
    run.add_argument("--master-port", type=_positive_int, metavar="P", help="port the master listens on (default 5557)")
    run.add_argument(
        "--expect-workers-max-wait",
        type=_duration,
        default=60.0,
        metavar="DURATION",
        help="give up (exit 3) when the workers have not all joined by then (default 60s)",
    )

    worker = sub.add_parser("worker", help="Locust worker process(es) joining a `harness run` master on another host")
    worker.add_argument(
        "--master",
        required=True,
        metavar="HOST[:PORT]",
        help="the master's address as this host reaches it (port default 5557)",
    )
    worker.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes to start (default 1; about one per CPU core)",
    )

    target = sub.add_parser("target", help="run the embedded demo chatbot API alone")
    from harness.demo_api.cli import add_arguments

    add_arguments(target)

    report = sub.add_parser("report", help="recompute every output of a run from its samples on disk")
    report.add_argument("run_dir", type=Path)
    report.add_argument(
        "--screenshot", action="store_true", help="also save report.png, the page as headless Chromium renders it"
    )

    compare = sub.add_parser("compare", help="two runs side by side; exit 1 when NEW regressed")
    compare.add_argument("base", type=Path, help="the run folder to compare against")
    compare.add_argument("new", type=Path, help="the run folder under test")
    compare.add_argument(
        "--tolerance", default="10%", help="how much worse a p95/p99 may get before it is a regression (default: 10%%)"
    )
    compare.add_argument("--min-ms", default="5", help="...and by at least this many ms (default: 5)")
    compare.add_argument(
        "--out",
        type=Path,
        help="folder (or NAME.md / NAME.json) for compare.md and compare.json (default: NEW's folder)",
    )

    cost = sub.add_parser("cost", help="offline what-if: LLM spend per day, legit and under abuse (sends nothing)")
    cost.add_argument("scenario", type=Path)

    audit = sub.add_parser("audit", help="launch-readiness checks from outside and the checklist scorecard")
    audit.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        help="scenario with the API map and [audit] settings (default: the shipped audit scenario)",
    )
    audit.add_argument(
        "--host", help="base URL of the API to audit (default: the scenario's, else the embedded demo API)"
    )
    audit.add_argument("--profile", choices=["hardened", "vulnerable"], help="profile of the embedded demo API")
    audit.add_argument(
        "--run",
        type=Path,
        metavar="RUN_DIR",
        help="a load run whose rate-limit and latency figures fill those rows; its report gains the audit",
    )
    audit.add_argument(
        "--out", type=Path, default=Path("reports"), help="folder for the audit folder (default: reports/)"
    )
    audit.add_argument(
        "--allow-destructive",
        action="store_true",
        help="let the audit delete, and write to, objects it did not create (default: never; listed in audit.json)",
    )
    audit.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this check (repeatable): access, tenancy, validation, cors, secrets, injection, "
        "transport, edge, email",
    )

    init = sub.add_parser(
        "init",
        help="draft a scenario from an OpenAPI document or a browser recording (HAR), for a person to review",
    )
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument("--openapi", type=Path, metavar="SPEC", help="an OpenAPI 3 document, JSON or YAML")
    source.add_argument("--har", type=Path, metavar="FILE", help="a browser recording saved as HAR")
    init.add_argument(
        "--out",
        type=Path,
        default=Path("scenario.toml"),
        metavar="FILE",
        help="the draft to write, with accounts.csv beside it (default: scenario.toml)",
    )
    init.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    init.add_argument(
        "--host-filter",
        metavar="HOST",
        help="--har: draft the requests to this host (default: the host most requests went to)",
    )

    check = sub.add_parser(
        "check",
        help="a bounded, non-destructive smoke of the API map: each role logs in, each read route answers, "
        "one signed webhook; prints what worked and the likely fix (exit 1 when something did not)",
        description="Sends a login per role, one GET per read, list and health route, one chat turn with a tiny "
        "prompt per chat route and one signed test delivery per webhook route; never a write, delete or reset. "
        "Prints a table of what worked and, for what did not, the likely fix (docs/check.md).",
        epilog="exit codes: 0 every step worked; 1 a step did not; 2 bad usage or scenario (nothing sent); "
        "3 the demo accounts could not be fetched",
    )
    check.add_argument("scenario", type=Path, help="scenario TOML file, or a shipped scenario's name")
    check.add_argument(
        "--host", help="base URL of the API to check (default: the scenario's, else the embedded demo API)"
    )

    validate = sub.add_parser("validate", help="check a scenario file (and its accounts file and prices) and exit")
    validate.add_argument("scenario", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a `HarnessError` that rises out of it is its one-line message and exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(_dispatch(args))
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return int(exc.exit_code)


def _checked_first(args: argparse.Namespace) -> bool:
    """`--check-first`: the mapping checked (a few requests, each route once) before any load is sent, so a
    login, a token field or a webhook scheme that does not work stops the run instead of making every
    verdict that needs it untested."""
    from harness.check.command import run_check

    if run_check(args.scenario, args.host, profile=args.profile) == ExitCode.PASS:
        return True
    print(
        "harness: run: --check-first: a step of the check did not work (the table above says which, and the fix): "
        "no load was sent; fix the mapping, or run without --check-first",
        file=sys.stderr,
    )
    return False


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from harness.commands.run import RunOptions, run

        if args.check_first and not _checked_first(args):
            return ExitCode.UNTESTED
        return run(
            RunOptions(
                scenario=args.scenario,
                host=args.host,
                profile=args.profile,
                workers=args.workers,
                users=args.users,
                spawn_rate=args.spawn_rate,
                arrival_rate=args.arrival_rate,
                duration_s=args.duration,
                find_capacity=args.find_capacity,
                out=args.out,
                thresholds=tuple(args.threshold),
                abort_on_fail=tuple(args.abort_on_fail),
                screenshot=args.screenshot,
                expect_workers=args.expect_workers,
                master_bind=args.master_bind,
                master_port=args.master_port,
                expect_workers_max_wait_s=args.expect_workers_max_wait,
                web=args.web,
                web_port=args.web_port,
            )
        )
    if args.command == "worker":
        from harness.commands.worker import run_worker

        return run_worker(args.master, args.processes)
    if args.command == "target":
        from harness.demo_api.cli import run as run_target

        return run_target(args)
    if args.command == "report":
        from harness.commands.report import run_report

        return run_report(args.run_dir, args.screenshot)
    if args.command == "compare":
        from harness.commands.compare import run_compare

        return run_compare(args.base, args.new, args.tolerance, args.min_ms, args.out)
    if args.command == "cost":
        from harness.commands.cost import run_cost

        return run_cost(args.scenario)
    if args.command == "audit":
        from harness.audit.command import run_audit
        from harness.audit.runner import CHECKS

        return run_audit(
            args.scenario,
            args.host,
            args.profile,
            args.run,
            args.out,
            tuple(args.check) or CHECKS,
            destructive=args.allow_destructive,
        )
    if args.command == "init":
        from harness.commands.init import run_init

        return run_init(args.openapi, args.har, args.out, args.force, args.host_filter)
    if args.command == "check":
        from harness.check.command import run_check

        return run_check(args.scenario, args.host)
    from harness.commands.validate import run_validate

    return run_validate(args.scenario)


if __name__ == "__main__":
    raise SystemExit(main())
