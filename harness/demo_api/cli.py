"""`harness target`: run the demo API alone, in the foreground, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.demo_api.config import TargetConfig

__all__ = ["add_arguments", "run", "config_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Values are checked in `run`, so bad input gives one error line instead of argparse's usage dump.
    parser.add_argument("--profile", help="hardened (default) or vulnerable")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", default="0", help="port to listen on (default 0: any free port)")
    parser.add_argument("--seed", help="seed for the demo accounts and the model (default 7)")
    parser.add_argument("--processes", help="server processes sharing the port (default 1)")
    parser.add_argument("--config", metavar="FILE", help="JSON file with a full target configuration")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> TargetConfig:
    """The configuration the arguments describe; `ValueError` with a one-line message otherwise."""
    data: Any = {}
    if args.config:
        try:
            data = json.loads(Path(args.config).read_text())
        except OSError as exc:
            raise ValueError(f"--config: cannot read {args.config}: {exc.strerror}") from None
        except ValueError as exc:
            raise ValueError(f"--config: {args.config} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"--config: {args.config} must hold a JSON object")
    if args.profile is not None:
        data["profile"] = args.profile
    if args.seed is not None:
        try:
            data["seed"] = int(args.seed)
        except ValueError:
            raise ValueError(f"--seed: expected an integer, got {args.seed!r}") from None
    if args.processes is not None:
        try:
            data["processes"] = int(args.processes)
        except ValueError:
            raise ValueError(f"--processes: expected an integer, got {args.processes!r}") from None
    return TargetConfig.from_dict(data)


def _port(text: str) -> int:
    if not str(text).isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"--port: expected 0-65535, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 stopped by a signal, 1 a server process died (processes > 1), 2 bad arguments or
    configuration, 3 cannot listen."""
    try:
        config = config_from_args(args)
        port = _port(args.port)
    except ValueError as exc:
        print(f"harness target: error: {exc}", file=sys.stderr)
        return 2
    from harness.demo_api.server import bind  # uvicorn and the app load only when serving
    from harness.demo_api.supervisor import serve

    try:
        sock = bind(args.host, port, reuse_port=config.processes > 1)
    except OSError as exc:
        print(f"harness target: error: cannot listen on {args.host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    try:
        return serve(config, sock=sock, watch_stdin=args.exit_on_stdin_eof)
    except KeyboardInterrupt:  # a Ctrl-C that lands before the server installed its handlers
        return 0
