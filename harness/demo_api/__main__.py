"""`python -m harness.demo_api`: the same as `harness target`."""

from __future__ import annotations

import argparse
import sys

from harness.demo_api.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo_api", description="Run the demo chatbot API.")
    add_arguments(parser)
    try:
        return run(parser.parse_args())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
