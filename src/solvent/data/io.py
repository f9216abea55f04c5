"""Load bars from pandas, polars, CSV and Parquet into a validated ``BarData`` panel.

Every input is first reduced to flat, row-aligned columns (symbol, timestamp, fields),
validated as a whole, and only then scattered into the ``(T, N)`` panel: an error never
leaves a half-loaded panel behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.data.frame import FIELDS, PRICE_FIELDS, BarData, DataError, FloatArray, TimeArray, check_values

REQUIRED = ("timestamp", *PRICE_FIELDS, "volume")
OPTIONAL_DEFAULTS = {"dividend": 0.0, "split": 1.0}


@dataclass(frozen=True, slots=True)
class _Rows:
    """Flat bar rows: one entry per (symbol, timestamp)."""

    symbols: npt.NDArray[Any]  # object array of str
    times: TimeArray
    cols: dict[str, FloatArray]
    tz: str | None


def _is_polars(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "polars"


def _to_pandas(obj: object, where: str) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj
    if _is_polars(obj):
        collect = getattr(obj, "collect", None)
        if callable(collect) and type(obj).__name__ == "LazyFrame":
            obj = collect()
        to_pandas = getattr(obj, "to_pandas", None)
        if callable(to_pandas):
            out = to_pandas()
            if isinstance(out, pd.DataFrame):
                return out
    raise DataError(where, type(obj).__name__, "expected a pandas or polars DataFrame")


def _lower_columns(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Return ``df`` with stripped, lower-case column names and a timestamp column."""
    names = [str(c).strip().lower() for c in df.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{where}.columns", dupes, "duplicate column names (names are case-insensitive)")
    df = df.set_axis(names, axis=1)
    if "timestamp" not in names:
        index_names = [str(n).strip().lower() if n is not None else None for n in df.index.names]
        if "timestamp" in index_names or isinstance(df.index, pd.DatetimeIndex):
            if isinstance(df.index, pd.DatetimeIndex) and df.index.name is None:
                df = df.rename_axis("timestamp")
            df = df.reset_index()
            df = df.set_axis([str(c).strip().lower() for c in df.columns], axis=1)
    return df


def _require(df: pd.DataFrame, names: tuple[str, ...], where: str, symbol: str | None) -> None:
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise DataError(
            "columns",
            list(df.columns),
            f"{where}: missing required column(s) {missing}",
            symbol=symbol,
        )


def _parse_times(raw: pd.Series[Any], symbols: npt.NDArray[Any]) -> tuple[TimeArray, str | None]:
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(raw, errors="coerce"))
    except (ValueError, TypeError) as exc:
        first = str(symbols[0]) if symbols.size else None
        raise DataError("timestamp", None, f"cannot parse timestamps ({exc})", symbol=first) from None
    nat = np.asarray(idx.isna())
    if nat.any():
        i = int(np.flatnonzero(nat)[0])
        raise DataError(
            "timestamp",
            raw.iloc[i],
            "is missing or not a timestamp",
            symbol=str(symbols[i]),
        )
    tz = None
    if idx.tz is not None:
        tz = str(idx.tz)
        idx = idx.tz_convert("UTC").tz_localize(None)
    return np.asarray(idx.as_unit("ns").to_numpy(), dtype="datetime64[ns]"), tz


def _numeric(raw: pd.Series[Any], name: str, symbols: npt.NDArray[Any], times: TimeArray) -> FloatArray:
    num = pd.to_numeric(raw, errors="coerce")
    out = np.asarray(num, dtype=np.float64)
    bad = np.isnan(out) & ~np.asarray(raw.isna())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            name,
            raw.iloc[i],
            "is not a number",
            symbol=str(symbols[i]),
            timestamp=pd.Timestamp(times[i]),
        )
    return out


def _rows(df: pd.DataFrame, symbols: npt.NDArray[Any]) -> _Rows:
    """Convert a lower-cased frame (required columns checked) into flat rows."""
    times, tz = _parse_times(df["timestamp"], symbols)
    cols: dict[str, FloatArray] = {}
    for name in FIELDS:
        if name in df.columns:
            cols[name] = _numeric(df[name], name, symbols, times)
        else:
            cols[name] = np.full(len(df), OPTIONAL_DEFAULTS[name])
    # Blank optional cells mean "no event": no dividend, no split (a split of 0 too).
    cols["dividend"] = np.where(np.isnan(cols["dividend"]), 0.0, cols["dividend"])
    s = cols["split"]
    cols["split"] = np.where(np.isnan(s) | (s == 0), 1.0, s)
    return _Rows(symbols, times, cols, tz)


def _long_rows(df: pd.DataFrame, where: str) -> _Rows:
    _require(df, ("symbol", *REQUIRED), where, None)
    raw = df["symbol"]
    null = np.asarray(raw.isna())
    syms = raw.astype(str).str.strip().to_numpy(dtype=object)
    empty = null | (syms == "")
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise DataError(
            "symbol", raw.iloc[i], f"{where}: row {i} has no symbol", timestamp=df["timestamp"].iloc[i]
        )
    return _rows(df, syms)


def _symbol_rows(df: pd.DataFrame, symbol: str, where: str) -> _Rows:
    """Rows of one symbol's frame, which must already be in time order."""
    _require(df, REQUIRED, where, symbol)
    if "symbol" in df.columns:
        col = df["symbol"].astype(str).str.strip().to_numpy(dtype=object)
        other = col != symbol
        if other.any():
            i = int(np.flatnonzero(other)[0])
            raise DataError(
                "symbol", col[i], f"{where}: the frame for {symbol!r} holds another symbol", symbol=symbol
            )
    rows = _rows(df, np.full(len(df), symbol, dtype=object))
    t = rows.times
    if t.size > 1:
        step = t[1:] - t[:-1]
        bad = np.flatnonzero(step <= np.timedelta64(0, "ns"))
        if bad.size:
            i = int(bad[0]) + 1
            problem = "duplicate timestamp" if t[i] == t[i - 1] else "timestamps are not sorted ascending"
            raise DataError(
                "timestamp", pd.Timestamp(t[i]), problem, symbol=symbol, timestamp=pd.Timestamp(t[i])
            )
    return rows


def _build(parts: list[_Rows], order: list[str] | None, meta: Mapping[str, Any] | None) -> BarData:
    """Validate every row of every part, then build the aligned panel."""
    tzs = {p.tz for p in parts if p.symbols.size}
    if len(tzs) > 1:
        raise DataError("timestamp", sorted(str(t) for t in tzs), "mixed time zones (naive and aware)")
    if parts:
        syms = np.concatenate([p.symbols for p in parts])
        times = np.concatenate([p.times for p in parts])
        cols = {k: np.concatenate([p.cols[k] for p in parts]) for k in FIELDS}
    else:
        syms = np.array([], dtype=object)
        times = np.array([], dtype="datetime64[ns]")
        cols = {k: np.array([], dtype=np.float64) for k in FIELDS}
    check_values(syms, times, cols)
    names = order if order is not None else sorted(set(syms.tolist()))
    lookup = {s: j for j, s in enumerate(names)}
    codes = (
        pd.Series(syms, dtype=object).map(lookup).to_numpy(dtype=np.int64)
        if syms.size
        else np.array([], dtype=np.int64)
    )
    # Duplicates: the same (symbol, timestamp) twice, wherever they sit in the input.
    srt = np.lexsort((times, codes))
    same = (codes[srt][1:] == codes[srt][:-1]) & (times[srt][1:] == times[srt][:-1])
    if same.any():
        i = int(srt[int(np.flatnonzero(same)[0]) + 1])
        raise DataError(
            "timestamp",
            pd.Timestamp(times[i]),
            "duplicate timestamp for this symbol",
            symbol=str(syms[i]),
            timestamp=pd.Timestamp(times[i]),
        )
    stamps, ti = np.unique(times, return_inverse=True)
    shape = (stamps.size, len(names))

    def grid(name: str, fill: float) -> FloatArray:
        a = np.full(shape, fill)
        a[ti, codes] = cols[name]
        return a

    present = np.zeros(shape, dtype=bool)
    present[ti, codes] = True
    info = dict(meta or {})
    tz = next(iter(tzs)) if tzs else None
    if tz is not None:
        info.setdefault("timezone", f"UTC (converted from {tz})")
    return BarData(
        stamps,
        tuple(names),
        grid("open", np.nan),
        grid("high", np.nan),
        grid("low", np.nan),
        grid("close", np.nan),
        grid("volume", 0.0),
        dividend=grid("dividend", 0.0),
        split=grid("split", 1.0),
        present=present,
        meta=info,
    )


def from_frame(
    data: Any,
    *,
    symbol: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> BarData:
    """Build a validated ``BarData`` panel from pandas or polars frames.

    Accepted shapes (column names are case-insensitive):

    * a long frame with ``timestamp, symbol, open, high, low, close, volume`` and
      optionally ``dividend, split`` (any row order; symbols are sorted);
    * a mapping ``{symbol: frame}``, each frame indexed by timestamp or with a
      ``timestamp`` column, in ascending time order (symbols keep the mapping's order);
    * a single-symbol frame without a ``symbol`` column, with ``symbol="X"``.

    Raises ``DataError`` (an ``InvalidInputError``) naming the symbol, timestamp and
    field of the first bad value; nothing is built unless every row is valid.
    """
    if isinstance(data, Mapping):
        parts = []
        order = []
        for key, frame in data.items():
            sym = str(key).strip()
            if not sym:
                raise DataError("symbol", key, "empty symbol in the mapping of frames")
            where = f"frame for {sym!r}"
            df = _lower_columns(_to_pandas(frame, where), where)
            parts.append(_symbol_rows(df, sym, where))
            order.append(sym)
        return _build(parts, order, meta)
    df = _lower_columns(_to_pandas(data, "data"), "data")
    if symbol is not None:
        sym = str(symbol).strip()
        if not sym:
            raise DataError("symbol", symbol, "symbol must be a non-empty string")
        return _build([_symbol_rows(df, sym, f"frame for {sym!r}")], [sym], meta)
    if "symbol" not in df.columns:
        raise DataError(
            "columns",
            list(df.columns),
            "missing column 'symbol' (pass symbol='X' for a single-symbol frame)",
        )
    return _build([_long_rows(df, "data")], None, meta)


def read_csv(path: str | Path, *, symbol: str | None = None) -> BarData:
    """Read a long-format CSV (or a single-symbol CSV with ``symbol=``) into a panel."""
    p = Path(path)
    df = pd.read_csv(p)
    return from_frame(df, symbol=symbol, meta={"source": str(p)})


def read_parquet(path: str | Path, *, symbol: str | None = None) -> BarData:
    """Read a Parquet file, or a directory of Parquet files, into a panel.

    A file is long format, or single-symbol with ``symbol=``. In a directory, each
    ``*.parquet`` file is either long format (it has a ``symbol`` column) or one symbol's
    bars named by the file's stem (``AAPL.parquet``); both kinds may be mixed.
    """
    p = Path(path)
    meta = {"source": str(p)}
    if not p.is_dir():
        return from_frame(pd.read_parquet(p), symbol=symbol, meta=meta)
    files = sorted(f for f in p.iterdir() if f.suffix == ".parquet" and f.is_file())
    if not files:
        raise DataError("path", str(p), "directory holds no .parquet files")
    parts: list[_Rows] = []
    for f in files:
        where = f"file {f.name}"
        df = _lower_columns(pd.read_parquet(f), where)
        if "symbol" in df.columns:
            parts.append(_long_rows(df, where))
        else:
            parts.append(_symbol_rows(df, f.stem, where))
    return _build(parts, None, meta)
