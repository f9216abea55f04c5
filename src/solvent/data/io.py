"""Load bars from pandas, polars, CSV and Parquet into a validated ``BarData`` panel.

Every input is first reduced to flat, row-aligned columns (symbol, timestamp, fields),
validated as a whole, and only then scattered into the ``(T, N)`` panel: an error never
leaves a half-loaded panel behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.data.checks import FIELDS, PRICE_FIELDS, DataError, FloatArray, TimeArray, check_cells, filled
from solvent.data.frame import BarData
from solvent.data.wide import wide_parts

REQUIRED = ("timestamp", *PRICE_FIELDS, "volume")
OPTIONAL_DEFAULTS = {"dividend": 0.0, "split": 1.0}
FILLS = {"open": np.nan, "high": np.nan, "low": np.nan, "close": np.nan, "volume": 0.0, **OPTIONAL_DEFAULTS}
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class _Rows:
    """Flat bar rows: one entry per (symbol, timestamp).

    Symbols are held as codes into ``names`` (not one string object per row: a million
    rows would cost tens of MB). ``cols`` holds only the fields the input had: a missing
    ``dividend`` or ``split`` is its default everywhere and is never materialized.
    """

    codes: IntArray
    names: list[str]
    times: TimeArray
    cols: dict[str, FloatArray]
    tz: str | None

    def symbol(self, i: int) -> str:
        return self.names[int(self.codes[i])]


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


#: Other names of the timestamp column, in the order they are looked for (a ``date``
#: column with a ``time`` column beside it is the two joined).
TIME_ALIASES = ("datetime", "date")


#: Other names of the symbol column (used only when there is no ``symbol`` column).
SYMBOL_ALIASES = ("ticker",)


def _lower_columns(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Return ``df`` with stripped, lower-case column names and a timestamp column.

    The timestamp is the ``timestamp`` column, else the index (a ``DatetimeIndex``, or one
    named ``timestamp``, ``datetime`` or ``date``), else a ``datetime`` column, else a
    ``date`` column (joined with a ``time`` column when there is one, as intraday
    exports split them): what Yahoo, broker and vendor exports name it. A row index of
    several named levels (``(timestamp, symbol)``) becomes columns; a ``ticker`` column is
    the symbol when there is no ``symbol`` column.
    """
    if df.index.nlevels > 1 and all(n is not None for n in df.index.names):
        df = df.reset_index()
    names = [str(c).strip().lower() for c in df.columns]
    if "symbol" not in names:
        names = ["symbol" if n in SYMBOL_ALIASES else n for n in names]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{where}.columns", dupes, "duplicate column names (names are case-insensitive)")
    df = df.set_axis(names, axis=1)
    if "timestamp" in names:
        return df
    index_names = [str(n).strip().lower() if n is not None else None for n in df.index.names]
    if isinstance(df.index, pd.DatetimeIndex) or (
        len(index_names) == 1 and index_names[0] in ("timestamp", *TIME_ALIASES)
    ):
        df = df.rename_axis("timestamp").reset_index()
        return df.set_axis([str(c).strip().lower() for c in df.columns], axis=1)
    for alias in TIME_ALIASES:
        if alias in df.columns:
            if alias == "date" and "time" in df.columns:
                stamp = df["date"].astype(str).str.strip() + " " + df["time"].astype(str).str.strip()
                return df.drop(columns=["date", "time"]).assign(timestamp=stamp)
            return df.rename(columns={alias: "timestamp"})
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


def _symbol_codes(raw: pd.Series[Any]) -> tuple[IntArray, list[str]]:
    """Return per-row codes (-1 where missing) into the stripped string symbols.

    Factorized first, so each distinct symbol is converted and stripped once; symbols
    equal after stripping share a code.
    """
    codes, uniques = pd.factorize(raw)
    stripped = [str(u).strip() for u in uniques]
    names = sorted(set(stripped))
    lookup = {s: j for j, s in enumerate(names)}
    remap = np.array([lookup[s] for s in stripped], dtype=np.intp)
    if not np.array_equal(remap, np.arange(remap.size)):
        codes = np.where(codes < 0, -1, remap[codes])
    return np.asarray(codes, dtype=np.intp), names


def _parse_times(raw: pd.Series[Any], symbol: Callable[[int], str]) -> tuple[TimeArray, str | None]:
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(raw, errors="coerce"))
    except (ValueError, TypeError) as exc:
        first = symbol(0) if len(raw) else None
        raise DataError("timestamp", None, f"cannot parse timestamps ({exc})", symbol=first) from None
    nat = np.asarray(idx.isna())
    if nat.any():
        i = int(np.flatnonzero(nat)[0])
        raise DataError("timestamp", raw.iloc[i], "is missing or not a timestamp", symbol=symbol(i))
    tz = None
    if idx.tz is not None:
        tz = str(idx.tz)
        idx = idx.tz_convert("UTC").tz_localize(None)
    if idx.unit != "ns":
        idx = idx.as_unit("ns")
    return np.asarray(idx.to_numpy(), dtype="datetime64[ns]"), tz


def _numeric(raw: pd.Series[Any], name: str, symbol: Callable[[int], str], times: TimeArray) -> FloatArray:
    if isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "fiub":
        # Numbers already (plain numpy): nothing to parse, and a float64 column is read
        # in place, a view of the frame, until it is scattered into the panel's grid.
        return np.asarray(raw.to_numpy(), dtype=np.float64)
    out = np.asarray(pd.to_numeric(raw, errors="coerce"), dtype=np.float64)
    bad = np.isnan(out) & ~np.asarray(raw.isna())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            name,
            raw.iloc[i],
            "is not a number",
            symbol=symbol(i),
            timestamp=pd.Timestamp(times[i]),
        )
    return out


def _rows(df: pd.DataFrame, codes: IntArray, names: list[str]) -> _Rows:
    """Convert a lower-cased frame (required columns checked) into flat rows."""

    def symbol(i: int) -> str:
        return names[int(codes[i])]

    times, tz = _parse_times(df["timestamp"], symbol)
    cols = {name: _numeric(df[name], name, symbol, times) for name in FIELDS if name in df.columns}
    # Blank optional cells mean "no event": no dividend, no split (a split of 0 too).
    if "dividend" in cols:
        blank = np.isnan(cols["dividend"])
        if blank.any():
            cols["dividend"] = np.where(blank, 0.0, cols["dividend"])
    if "split" in cols:
        s = cols["split"]
        blank = np.isnan(s) | (s == 0)
        if blank.any():
            cols["split"] = np.where(blank, 1.0, s)
    return _Rows(codes, names, times, cols, tz)


def _long_rows(df: pd.DataFrame, where: str) -> _Rows:
    _require(df, ("symbol", *REQUIRED), where, None)
    raw = df["symbol"]
    codes, names = _symbol_codes(raw)
    valid = np.array([bool(s) for s in names] + [False])  # code -1 (missing) reads the last
    empty = ~valid[codes]
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise DataError(
            "symbol", raw.iloc[i], f"{where}: row {i} has no symbol", timestamp=df["timestamp"].iloc[i]
        )
    return _rows(df, codes, names)


def _symbol_rows(df: pd.DataFrame, symbol: str, where: str) -> _Rows:
    """Rows of one symbol's frame, which must already be in time order."""
    _require(df, REQUIRED, where, symbol)
    if "symbol" in df.columns:
        codes, names = _symbol_codes(df["symbol"])
        other = np.array([s != symbol for s in names] + [True])
        wrong = other[codes]
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            value = names[codes[i]] if codes[i] >= 0 else df["symbol"].iloc[i]
            raise DataError(
                "symbol", value, f"{where}: the frame for {symbol!r} holds another symbol", symbol=symbol
            )
    # ``np.zeros`` maps zeroed pages lazily: a single-symbol frame's codes cost nothing.
    rows = _rows(df, np.zeros(len(df), dtype=np.intp), [symbol])
    t = rows.times
    if t.size > 1:
        bad = np.flatnonzero(t[1:] <= t[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            problem = "duplicate timestamp" if t[i] == t[i - 1] else "timestamps are not sorted ascending"
            raise DataError(
                "timestamp", pd.Timestamp(t[i]), problem, symbol=symbol, timestamp=pd.Timestamp(t[i])
            )
    return rows


def _merge(parts: list[_Rows], names: list[str]) -> tuple[IntArray, TimeArray, dict[str, FloatArray]]:
    """Return the rows of every part, with codes into ``names`` (no copy for one part)."""
    lookup = {s: j for j, s in enumerate(names)}
    codes: list[IntArray] = []
    for p in parts:
        remap = np.array([lookup[s] for s in p.names], dtype=np.intp)
        if np.array_equal(remap, np.arange(remap.size)):
            codes.append(p.codes)
        elif remap.size == 1:
            codes.append(np.full(p.codes.size, remap[0], dtype=np.intp))
        else:
            codes.append(remap[p.codes])
    if not parts:
        empty = np.array([], dtype=np.float64)
        return np.array([], dtype=np.intp), np.array([], dtype="datetime64[ns]"), dict.fromkeys(FIELDS, empty)
    if len(parts) == 1:
        return codes[0], parts[0].times, parts[0].cols
    cols: dict[str, FloatArray] = {}
    for k in FIELDS:
        if any(k in p.cols for p in parts):
            cols[k] = np.concatenate([p.cols.get(k, np.full(p.times.size, FILLS[k])) for p in parts])
    return np.concatenate(codes), np.concatenate([p.times for p in parts]), cols


def _stamps(times: TimeArray) -> tuple[TimeArray, IntArray]:
    """Return ``np.unique(times, return_inverse=True)``, without the sort if already in order."""
    n = times.size
    if n == 0 or not bool((times[1:] >= times[:-1]).all()):
        stamps, inverse = np.unique(times, return_inverse=True)
        return stamps, np.asarray(inverse, dtype=np.intp)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(times[1:], times[:-1], out=new[1:])
    ti = np.cumsum(new, dtype=np.intp)
    ti -= 1
    return times[new], ti


def _raise_duplicate(codes: IntArray, times: TimeArray, names: list[str]) -> None:
    """Raise for the (symbol, timestamp) that occurs twice: the first in (symbol, time) order."""
    srt = np.lexsort((times, codes))
    same = (codes[srt][1:] == codes[srt][:-1]) & (times[srt][1:] == times[srt][:-1])
    i = int(srt[int(np.flatnonzero(same)[0]) + 1])
    raise DataError(
        "timestamp",
        pd.Timestamp(times[i]),
        "duplicate timestamp for this symbol",
        symbol=names[int(codes[i])],
        timestamp=pd.Timestamp(times[i]),
    )


def _build(parts: list[_Rows], order: list[str] | None, meta: Mapping[str, Any] | None) -> BarData:
    """Validate every row of every part, then build the aligned panel."""
    tzs = {p.tz for p in parts if p.codes.size}
    if len(tzs) > 1:
        raise DataError("timestamp", sorted(str(t) for t in tzs), "mixed time zones (naive and aware)")
    names = order if order is not None else sorted({s for p in parts for s in p.names})
    codes, times, cols = _merge(parts, names)
    del parts  # converted columns are freed as soon as they are scattered below
    check_cells(
        {k: v.reshape(-1, 1) for k, v in cols.items()},
        None,
        lambda row, _col: (names[int(codes[row])], times[row]),
    )
    stamps, ti = _stamps(times)
    n = len(names)
    shape = (stamps.size, n)
    # Flat index of each row's cell in the C-ordered (T, N) grids: one index for every scatter.
    cell = ti
    if n != 1:
        cell *= n  # ti is ours (a cumsum or np.unique's inverse): scaled in place
        cell += codes
    del ti
    # Rows already one per cell in (time, symbol) order (a sorted single-symbol frame, or
    # an aligned long frame): the grids are plain copies, no scatter and no duplicate.
    dense = cell.size == stamps.size * n and bool((cell[1:] > cell[:-1]).all())
    if dense:
        present = np.ones(shape, dtype=bool)
    else:
        present = np.zeros(shape, dtype=bool)
        present.reshape(-1)[cell] = True  # a view: C-ordered grids reshape without copying
        if int(np.count_nonzero(present)) != cell.size:  # two rows landed on one cell
            _raise_duplicate(codes, times, names)

    def grid(name: str) -> FloatArray:
        if name not in cols:
            return filled(shape, FILLS[name])
        values = cols.pop(name)
        if dense:
            a = np.empty(shape)
            np.copyto(a.reshape(-1), values)
        else:
            a = filled(shape, FILLS[name])
            a.reshape(-1)[cell] = values
        return a

    fields = tuple(grid(k) for k in FIELDS)
    info = dict(meta or {})
    tz = next(iter(tzs)) if tzs else None
    if tz is not None:
        info.setdefault("timezone", f"UTC (converted from {tz})")
    return BarData._adopt(stamps, tuple(names), fields, present, info)


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
    * a single-symbol frame without a ``symbol`` column, with ``symbol="X"``;
    * a wide pandas frame with two column levels, the fields and the symbols in either
      order, as ``yfinance.download`` returns several tickers (``solvent.data.wide``): a
      symbol whose four prices are all missing on a row has no bar there.

    Raises ``DataError`` (an ``InvalidInputError``) naming the symbol, timestamp and
    field of the first bad value; nothing is built unless every row is valid.
    """
    if isinstance(data, pd.DataFrame) and isinstance(data.columns, pd.MultiIndex):
        if symbol is not None:
            raise DataError("symbol", symbol, "a wide frame names its symbols in its columns")
        data = wide_parts(data)
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
