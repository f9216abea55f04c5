"""Bars from files: CSV and Parquet, one file or a directory of them.

A file is long format (it has a ``symbol`` column) or holds one symbol's bars, named by
``symbol=`` or else by the file's stem (``AAPL.csv`` is ``AAPL``). A directory holds
files of either kind, read in name order into one panel. Everything is validated before
the panel is built (``solvent.data.io``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from solvent.data.checks import DataError
from solvent.data.frame import BarData
from solvent.data.io import _build, _long_rows, _lower_columns, _Rows, _symbol_rows

#: The suffixes each reader takes from a directory.
CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _stem(path: Path) -> str:
    """Return the symbol a single-symbol file is named by: its name less every suffix."""
    name = path.name
    for suffix in (".gz", ".csv", ".txt", ".parquet", ".pq"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name.strip() or path.name


def _file_rows(df: pd.DataFrame, path: Path, symbol: str | None) -> _Rows:
    """Return the rows of one file: long format, or one symbol's (``symbol`` or the stem)."""
    where = f"file {path.name}"
    df = _lower_columns(df, where)
    if symbol is None and "symbol" in df.columns:
        return _long_rows(df, where)
    sym = _stem(path) if symbol is None else str(symbol).strip()
    if not sym:
        raise DataError("symbol", symbol, "symbol must be a non-empty string")
    return _symbol_rows(df, sym, where)


def _read(
    path: str | Path, symbol: str | None, read: Callable[[Path], pd.DataFrame], suffixes: tuple[str, ...]
) -> BarData:
    p = Path(path)
    meta = {"source": str(p)}
    if not p.is_dir():
        return _build([_file_rows(read(p), p, symbol)], None, meta)
    if symbol is not None:
        raise DataError("symbol", symbol, f"{p} is a directory: its files are named by their stems")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(suffixes))
    if not files:
        raise DataError("path", str(p), f"directory holds no {suffixes[0]} files")
    return _build([_file_rows(read(f), f, None) for f in files], None, meta)


def read_csv(path: str | Path, *, symbol: str | None = None) -> BarData:
    """Read a CSV file, or a directory of CSV files, into a panel.

    Parameters
    ----------
    path
        A long-format file (``timestamp, symbol, open, high, low, close, volume``), a
        single-symbol file (no ``symbol`` column), or a directory of such files
        (``*.csv``, ``*.txt``, gzipped too). The timestamp column may also be named
        ``datetime`` or ``date`` (with an optional ``time`` column); names are
        case-insensitive and extra columns (``adj close``) are ignored.
    symbol
        The symbol of a single-symbol file; by default the file's stem (``AAPL.csv``).

    Returns
    -------
    BarData
        The validated, aligned panel.

    Raises
    ------
    DataError
        Naming the symbol, timestamp and field of the first bad value; nothing is built.
    """
    return _read(path, symbol, pd.read_csv, CSV_SUFFIXES)


def read_parquet(path: str | Path, *, symbol: str | None = None) -> BarData:
    """Read a Parquet file, or a directory of Parquet files, into a panel.

    As ``read_csv``: a file is long format, or one symbol's bars named by ``symbol=``
    or by its stem (``AAPL.parquet``); a directory's files may mix both kinds.
    """
    return _read(path, symbol, pd.read_parquet, PARQUET_SUFFIXES)
