"""Bars from files: CSV and Parquet, one file or a directory of them.

A file is long format (it has a ``symbol`` column) or holds one symbol's bars, named by
``symbol=`` or else by the file's stem (``AAPL.csv`` is ``AAPL``), or is a wide frame
with two header rows (fields and symbols, as ``DataFrame.to_csv`` writes
``yfinance.download``'s frame) holding several symbols. A directory holds
files of either kind, read in name order into one panel. Everything is validated before
the panel is built (``solvent.data.io``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from solvent.data.checks import PRICE_FIELDS, DataError
from solvent.data.frame import BarData
from solvent.data.io import _build, _long_rows, _lower_columns, _Rows, _symbol_rows
from solvent.data.wide import wide_parts

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


def _is_text(cell: str) -> bool:
    """Return whether a header cell is a name (not empty, not a number)."""
    if not cell.strip():
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _wide_header(head: pd.DataFrame) -> bool:
    """Return whether a file's first rows are a wide frame's two header rows.

    ``DataFrame.to_csv`` writes a frame with two column levels (``yfinance.download``'s
    ``(Price, Ticker)``, or ``(Ticker, Price)``) as two rows of names, then a row holding
    only the index's name (``Date,,,``) when it has one: the first two rows are names
    after their first cell, and one of them holds the price fields. A long or
    single-symbol file has numbers on its second row.
    """
    if len(head) < 2 or head.shape[1] < 2:
        return False
    rows = [[str(v) for v in head.iloc[r, 1:]] for r in (0, 1)]
    if not all(_is_text(v) for row in rows for v in row):
        return False
    return any(set(PRICE_FIELDS) <= {v.strip().lower() for v in row} for row in rows)


def _read_csv_file(path: Path) -> pd.DataFrame:
    """Read one CSV file: long, single-symbol, or wide with two header rows."""
    head = pd.read_csv(path, header=None, nrows=3, dtype=str, keep_default_na=False)
    if not _wide_header(head):
        return pd.read_csv(path)
    df = pd.read_csv(path, header=[0, 1], index_col=0)
    if df.index.name is None:  # no ``Date,,,`` row: the first column holds the stamps
        df = df.rename_axis("timestamp")
    return df


def _file_rows(df: pd.DataFrame, path: Path, symbol: str | None) -> list[_Rows]:
    """Return the rows of one file: long format, one symbol's, or a wide file's symbols."""
    where = f"file {path.name}"
    if isinstance(df.columns, pd.MultiIndex):
        if symbol is not None:
            raise DataError("symbol", symbol, f"{where} is a wide file: it names its symbols in its header")
        return [
            _symbol_rows(_lower_columns(frame, f"{where}, {sym!r}"), sym, where)
            for sym, frame in wide_parts(df).items()
        ]
    df = _lower_columns(df, where)
    if symbol is None and "symbol" in df.columns:
        return [_long_rows(df, where)]
    sym = _stem(path) if symbol is None else str(symbol).strip()
    if not sym:
        raise DataError("symbol", symbol, "symbol must be a non-empty string")
    return [_symbol_rows(df, sym, where)]


def _read(
    path: str | Path, symbol: str | None, read: Callable[[Path], pd.DataFrame], suffixes: tuple[str, ...]
) -> BarData:
    p = Path(path)
    meta = {"source": str(p)}
    if not p.is_dir():
        return _build(_file_rows(read(p), p, symbol), None, meta)
    if symbol is not None:
        raise DataError("symbol", symbol, f"{p} is a directory: its files are named by their stems")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(suffixes))
    if not files:
        raise DataError("path", str(p), f"directory holds no {suffixes[0]} files")
    return _build([rows for f in files for rows in _file_rows(read(f), f, None)], None, meta)


def read_csv(path: str | Path, *, symbol: str | None = None) -> BarData:
    """Read a CSV file, or a directory of CSV files, into a panel.

    Parameters
    ----------
    path
        A long-format file (``timestamp, symbol, open, high, low, close, volume``), a
        single-symbol file (no ``symbol`` column), or a directory of such files
        (``*.csv``, ``*.txt``, gzipped too). The timestamp column may also be named
        ``datetime`` or ``date`` (with an optional ``time`` column); names are
        case-insensitive and extra columns (``adj close``) are ignored. A file with two
        header rows, fields and symbols (a wide frame saved with ``to_csv``, as
        ``yfinance.download([...]).to_csv(path)`` writes), loads every symbol in it.
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
    return _read(path, symbol, _read_csv_file, CSV_SUFFIXES)


def read_parquet(path: str | Path, *, symbol: str | None = None) -> BarData:
    """Read a Parquet file, or a directory of Parquet files, into a panel.

    As ``read_csv``: a file is long format, or one symbol's bars named by ``symbol=``
    or by its stem (``AAPL.parquet``); a directory's files may mix both kinds.
    """
    return _read(path, symbol, pd.read_parquet, PARQUET_SUFFIXES)
