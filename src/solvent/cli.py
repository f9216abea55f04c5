"""The ``solvent`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from solvent import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="solvent",
        description="Backtests and paper trading that cannot spend money they do not have.",
    )
    parser.add_argument("--version", action="version", version=f"solvent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="walk through the ledger with a few fills")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from solvent.demo import run_demo

        run_demo()
        return 0
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
