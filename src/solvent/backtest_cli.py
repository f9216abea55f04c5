"""``solvent backtest``: load a strategy file, run it, print and write the results.

The command's arguments are declared in ``solvent.cli``; this module does the work:
importing the strategy file, loading the data, running ``solvent.backtest`` and writing
``summary.json``, ``fills.csv``, ``equity.csv`` and ``events.csv``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import sys
import threading
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from solvent.cli import FROM_PROFILE, broker_costs, profile_settings, risk_settings
from solvent.data import read_csv, read_parquet, sample
from solvent.data.files import CSV_SUFFIXES, PARQUET_SUFFIXES
from solvent.engine.backtest import backtest
from solvent.engine.strategy import Strategy
from solvent.errors import InsufficientFundsError, SolventError
from solvent.model.records import ReasonCode
from solvent.results.result import EVENT_COLUMNS, Result

PROG = "solvent backtest"
PROGRESS_DELAY = 1.0  # seconds before a run shows its progress bar


class UsageError(Exception):
    """Bad input from the command line: reported on one stderr line, exit code 2."""


# -- strategy and data -------------------------------------------------------------------


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path`` as a fresh module."""
    if not path.is_file():
        raise UsageError(f"strategy file not found: {path}")
    name = f"_solvent_strategy_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise UsageError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    return module


def pick_strategy(module: ModuleType, path: Path, name: str | None) -> type[Strategy]:
    """Return the module's one ``Strategy`` subclass, or the one called ``name``."""
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if name is not None:
        for cls in found:
            if cls.__name__ == name:
                return cls
        known = ", ".join(c.__name__ for c in found) or "none"
        raise UsageError(f"{path} defines no Strategy subclass named {name!r} (found: {known})")
    if not found:
        raise UsageError(f"{path} defines no Strategy subclass")
    if len(found) > 1:
        names = ", ".join(c.__name__ for c in found)
        raise UsageError(f"{path} defines several Strategy subclasses ({names}); pick one with --strategy")
    return found[0]


def _zero_volume_waits(result: Result) -> int:
    """Return how many orders waited on a zero-volume bar (the run's fill-time refusals)."""
    rej = result.rejections
    if rej.empty:
        return 0
    hit = rej[(rej["reason"] == ReasonCode.ZERO_VOLUME.value) & rej["at_fill"].astype(bool)]
    return int(hit["order_id"].nunique())


def load_data(spec: str, symbol: str | None = None) -> Any:
    """Return ``sample()`` for ``"sample"``, else read a CSV or Parquet file or directory.

    ``symbol`` names the bars of a single-symbol file (by default its stem). A directory
    is read as Parquet if it holds ``.parquet`` files, else as CSV.
    """
    if spec == "sample":
        if symbol is not None:
            raise UsageError("--symbol names the bars of a data file, not of 'sample'")
        return sample()
    path = Path(spec)
    if not path.exists():
        raise UsageError(f"data not found: {path}")
    name = path.name.lower()
    try:
        if path.is_dir():
            parquet = any(f.name.lower().endswith(PARQUET_SUFFIXES) for f in path.iterdir())
            return read_parquet(path) if parquet else read_csv(path)
        if name.endswith(PARQUET_SUFFIXES):
            return read_parquet(path, symbol=symbol)
        if name.endswith((*CSV_SUFFIXES, ".gz")):
            return read_csv(path, symbol=symbol)
    except SolventError as exc:
        raise UsageError(f"bad data in {path}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    raise UsageError(f"unknown data format {path.suffix!r}: give a .csv or .parquet file, or 'sample'")


# -- JSON and CSV --------------------------------------------------------------------------


def load_inputs(args: argparse.Namespace) -> tuple[type[Strategy], Any]:
    """Return the strategy class and the data the run flags name (``UsageError`` if bad)."""
    module = load_module(args.strategy_file)
    cls = pick_strategy(module, args.strategy_file, args.strategy)
    return cls, load_data(args.data, getattr(args, "symbol", None))


def json_safe(value: Any) -> Any:
    """Return ``value`` with Decimals as strings, NaN/inf/NaT as null, timestamps as ISO."""
    if value is None or (isinstance(value, (bool, str, int)) and not isinstance(value, np.generic)):
        return value
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, timedelta)):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    return str(value)


def minor_to_str(minor: int, digits: int) -> str:
    """Return an amount in minor units as an exact decimal string (``12345, 2 -> "123.45"``)."""
    if digits == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def write_outputs(result: Any, out: Path) -> None:
    """Write ``summary.json``, ``fills.csv``, ``equity.csv``, ``events.csv`` and the report."""
    out.mkdir(parents=True, exist_ok=True)
    digits = result.account.currency.digits
    summary = {
        "final_equity": minor_to_str(int(result.final_equity.minor), digits),
        "currency": str(result.account.currency.code),
        "trades": len(result.trades),
        "fills": len(result.fills),
        "orders": len(result.orders),
        "rejections": len(result.rejections),
        "metrics": json_safe(result.metrics),
        "settings": json_safe(result.settings),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    fills = result.fills.copy()
    fills["timestamp"] = [pd.Timestamp(t).isoformat() for t in fills["timestamp"]]
    fills.to_csv(out / "fills.csv", index=False)
    stamps = pd.DatetimeIndex(result.equity.index)
    with (out / "equity.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "equity", "cash"])
        for ts, eq, cash in zip(
            stamps, result.equity_minor.tolist(), result.cash_minor.tolist(), strict=True
        ):
            w.writerow([ts.isoformat(), minor_to_str(eq, digits), minor_to_str(cash, digits)])
    with (out / "events.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(EVENT_COLUMNS)
        for row in result.events.itertuples(index=False):
            w.writerow([pd.Timestamp(row[0]).isoformat(), *row[1:4], format(row[4], "f"), row[5], row[6]])
    if hasattr(result, "report"):
        result.report(out / "report.html")


# -- the command ---------------------------------------------------------------------------


class DelayedProgress:
    """A progress bar (bars done of total) on stderr, shown once a run lasts ``delay`` s.

    ``update`` is ``backtest``'s ``progress`` callback, called about 200 times per run:
    it only stores the count until the bar is up, so a short run prints nothing and a
    long one costs nothing measurable. Nothing is drawn when stderr is not a terminal.
    """

    def __init__(self, console: Console, label: str, delay: float = PROGRESS_DELAY) -> None:
        self.console = console
        self.label = label
        self._lock = threading.Lock()
        self._done = False
        self._count = (0, 0)
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._timer = threading.Timer(delay, self._start)
        self._timer.daemon = True

    def update(self, done: int, total: int) -> None:
        """Record that ``done`` of ``total`` bars are processed."""
        with self._lock:
            self._count = (done, total)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=done, total=total)

    def _start(self) -> None:
        with self._lock:
            if self._done:
                return
            done, total = self._count
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("bars"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._bar.add_task(self.label, total=total or None, completed=done)
            self._bar.start()

    def __enter__(self) -> DelayedProgress:
        if self.console.is_terminal:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            if self._bar is not None:
                self._bar.stop()


def run(args: argparse.Namespace) -> int:
    """Run ``solvent backtest`` with parsed arguments; return the exit code."""
    err = Console(stderr=True)
    try:
        cls, data = load_inputs(args)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    params = dict(args.param or [])
    commission, slippage = broker_costs(args)
    try:
        risk: dict[str, Any] = dict(risk_settings(args))
    except SolventError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if args.pdt is FROM_PROFILE:
        del risk["pdt"]  # the profile's policy
    settings = profile_settings(args)
    started = time.perf_counter()
    try:
        with DelayedProgress(err, f"backtesting {cls.__name__}") as bar:
            result = backtest(
                cls,
                data,
                cash=args.cash,
                account=args.account,
                commission=commission,
                slippage=slippage,
                validation=args.validation,
                lot_size=args.lot_size,
                progress=bar.update,
                **settings,
                **risk,
                **params,
            )
    except InsufficientFundsError as exc:
        print(f"{PROG}: insufficient funds (validation=strict): {exc}", file=sys.stderr)
        return 1
    except SolventError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    console = Console()
    console.print(result.summary())
    console.print(
        f"{cls.__name__} {result.settings['params']}: {len(result.fills)} fills, "
        f"{len(result.trades)} trades, {len(result.rejections)} refusals in {elapsed:.2f}s",
        highlight=False,
    )
    loose = result.settings.get("permissive") or []
    if loose:
        console.print(
            f"note: profile {result.settings.get('profile')}: permissive settings "
            f"{', '.join(loose)} (a broker would not allow what they allow)",
            highlight=False,
        )
    waited = _zero_volume_waits(result)
    if waited:
        console.print(
            f"note: {waited} order(s) waited on zero-volume bars (ZERO_VOLUME in the refusals); "
            "VectorBT, Backtrader and backtesting.py fill on such bars: --zero-volume fill does too",
            highlight=False,
        )
    if args.out is not None:
        try:
            write_outputs(result, args.out)
        except OSError as exc:
            print(f"{PROG}: cannot write results: {exc}", file=sys.stderr)
            return 2
        console.print(f"results -> {args.out}", highlight=False)
    return 0
