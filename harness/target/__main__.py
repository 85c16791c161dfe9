"""`python -m harness.target`: the same as `harness target`."""

from __future__ import annotations

import argparse
import sys

from harness.target.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.target", description="Run the demo chatbot API.")
    add_arguments(parser)
    try:
        return run(parser.parse_args())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
