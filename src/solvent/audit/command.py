"""``solvent audit``: load a strategy file, audit it against a peer, print and write.

The arguments are declared in ``solvent.cli``; the strategy file and the data are
loaded by the same helpers as ``solvent backtest`` (``solvent.backtest_cli``).
"""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console

from solvent.audit.core import audit
from solvent.backtest_cli import UsageError, load_inputs
from solvent.cli import broker_costs
from solvent.errors import SolventError

PROG = "solvent audit"


def run(args: argparse.Namespace) -> int:
    """Run ``solvent audit`` with parsed arguments; return the exit code.

    0 on success; 2 for bad input (strategy file, data, parameters) or an unwritable
    output directory, with one line on stderr.
    """
    try:
        cls, data = load_inputs(args)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    commission, slippage = broker_costs(args)
    started = time.perf_counter()
    try:
        result = audit(
            cls,
            data,
            against=args.against,
            cash=args.cash,
            account=args.account,
            commission=commission,
            slippage=slippage,
            **dict(args.param or []),
        )
    except SolventError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    console = Console()
    console.print(result.table())
    console.print(
        f"{cls.__name__}: {len(result.steps) + 1} runs in {elapsed:.2f}s", highlight=False, markup=False
    )
    if args.out is not None:
        try:
            result.write(args.out)
        except OSError as exc:
            print(f"{PROG}: cannot write results: {exc}", file=sys.stderr)
            return 2
        console.print(f"audit.json, audit.html -> {args.out}", highlight=False, markup=False)
    return 0
