"""``BarData``: an aligned, read-only panel of OHLCV bars (T timestamps × N symbols)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.data.checks import (
    FIELDS,
    PRICE_FIELDS,
    BoolArray,
    DataError,
    FloatArray,
    TimeArray,
    check_cells,
    filled,
)
from solvent.errors import UnknownSymbolError

__all__ = ["FIELDS", "PRICE_FIELDS", "BarData", "BoolArray", "DataError", "FloatArray", "TimeArray"]


def _readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.setflags(write=False)
    return a


def _to_ns(value: object, field: str) -> np.datetime64:
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise DataError(field, value, "is not a timestamp") from None
    if pd.isna(ts):
        raise DataError(field, value, "is missing (NaT)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.as_unit("ns").value, "ns")


def _symbols(symbols: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    syms = tuple(str(s) for s in symbols)
    if len(set(syms)) != len(syms) or any(not s for s in syms):
        raise DataError("symbol", syms, "symbols must be unique non-empty strings")
    return syms


class BarData:
    """An aligned panel of bars: ``T`` timestamps × ``N`` symbols, held as numpy arrays.

    Attributes
    ----------
    timestamps
        ``datetime64[ns]`` of shape ``(T,)``: the sorted, unique union of every symbol's
        bar timestamps (a bar's timestamp is its open time). Time-zone aware input is
        converted to UTC and stored naive; ``meta["timezone"]`` then says so.
    symbols
        Tuple of ``N`` symbols; column ``j`` of every array belongs to ``symbols[j]``.
    open, high, low, close, volume
        ``float64`` arrays of shape ``(T, N)``, raw (unadjusted) prices.
    dividend, split
        ``float64`` ``(T, N)``: cash dividend per share going ex on that bar (default 0)
        and split ratio effective from that bar (default 1; 2 means 2-for-1).
    has_dividends, has_splits
        Whether any cell of ``dividend`` is not 0, of ``split`` not 1: found once when
        the panel is built, so a run need not read two grids of defaults to learn it.
    present
        ``bool`` ``(T, N)``: whether the symbol has a bar at that timestamp. A missing
        bar means *no trading*: prices are NaN, volume 0, dividend 0, split 1. It is never
        a zero price.
    meta
        Read-only mapping of facts about the data set (``synthetic``, ``source``, ...).

    All arrays are read-only, so a panel can be shared (``sample()`` is cached).
    """

    __slots__ = (
        "close",
        "dividend",
        "has_dividends",
        "has_splits",
        "high",
        "low",
        "meta",
        "open",
        "present",
        "split",
        "symbols",
        "timestamps",
        "volume",
    )

    timestamps: TimeArray
    symbols: tuple[str, ...]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    dividend: FloatArray
    split: FloatArray
    present: BoolArray
    meta: Mapping[str, Any]
    has_dividends: bool
    has_splits: bool

    def __init__(
        self,
        timestamps: npt.ArrayLike,
        symbols: tuple[str, ...] | list[str],
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
        *,
        dividend: npt.ArrayLike | None = None,
        split: npt.ArrayLike | None = None,
        present: npt.ArrayLike | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        ts = np.asarray(timestamps)
        if ts.dtype.kind != "M":
            raise DataError("timestamp", ts.dtype, "timestamps must be datetime64")
        ts = ts.astype("datetime64[ns]")
        if ts.ndim != 1:
            raise DataError("timestamp", ts.shape, "timestamps must be one-dimensional")
        if np.isnat(ts).any():
            raise DataError("timestamp", None, "timestamps contain NaT")
        if ts.size > 1 and not (ts[1:] > ts[:-1]).all():
            i = int(np.flatnonzero(ts[1:] <= ts[:-1])[0]) + 1
            raise DataError("timestamp", pd.Timestamp(ts[i]), "panel timestamps must be sorted and unique")
        syms = _symbols(symbols)
        shape = (ts.size, len(syms))

        def grid(name: str, a: npt.ArrayLike | None, fill: float) -> FloatArray:
            # One copy, the panel's own (``np.array`` copies even a float64 input, so the
            # caller's array is never aliased or made read-only); never a second one.
            arr = filled(shape, fill) if a is None else np.array(a, dtype=np.float64)
            if arr.shape != shape:
                raise DataError(name, arr.shape, f"shape must be {shape} (timestamps × symbols)")
            return arr

        o, h, lo, c = (
            grid(k, a, np.nan) for k, a in zip(PRICE_FIELDS, (open, high, low, close), strict=True)
        )
        vol = grid("volume", volume, 0.0)
        div = grid("dividend", dividend, 0.0)
        spl = grid("split", split, 1.0)
        pres = np.isfinite(c) if present is None else np.array(present, dtype=bool)
        if pres.shape != shape:
            raise DataError("present", pres.shape, f"shape must be {shape} (timestamps × symbols)")
        full = bool(pres.all())
        cols = {"open": o, "high": h, "low": lo, "close": c, "volume": vol}
        # A default-filled dividend or split is valid by construction: not checked.
        if dividend is not None:
            cols["dividend"] = div
        if split is not None:
            cols["split"] = spl
        check_cells(cols, None if full else pres, lambda row, col: (syms[col], ts[row]))
        if not full:
            # Absent cells hold "no bar" whatever the input had there.
            absent = ~pres
            for a, fill in ((o, np.nan), (h, np.nan), (lo, np.nan), (c, np.nan), (vol, 0.0)):
                np.copyto(a, fill, where=absent)
            if dividend is not None:
                np.copyto(div, 0.0, where=absent)
            if split is not None:
                np.copyto(spl, 1.0, where=absent)
        self._set(ts, syms, (o, h, lo, c, vol, div, spl), pres, meta)

    def _set(
        self,
        ts: TimeArray,
        syms: tuple[str, ...],
        fields: tuple[FloatArray, ...],
        pres: BoolArray,
        meta: Mapping[str, Any] | None,
    ) -> None:
        self.timestamps = _readonly(ts)
        self.symbols = syms
        (self.open, self.high, self.low, self.close, self.volume, self.dividend, self.split) = (
            _readonly(a) for a in fields
        )
        self.present = _readonly(pres)
        self.meta = MappingProxyType(dict(meta or {}))
        # Absent cells hold the defaults, so a whole-grid test is the events' test.
        self.has_dividends = bool(self.dividend.any())
        self.has_splits = not bool((self.split == 1.0).all())

    @classmethod
    def _adopt(
        cls,
        ts: TimeArray,
        syms: tuple[str, ...],
        fields: tuple[FloatArray, ...],
        pres: BoolArray,
        meta: Mapping[str, Any] | None,
    ) -> BarData:
        """Wrap arrays the loaders built and validated, without copying or re-checking them.

        For ``solvent.data.io`` only: ``ts`` is sorted and unique, ``fields`` are the
        seven ``FIELDS`` grids of shape ``(T, N)`` with absent cells already NaN / 0 / 1,
        every present cell passed ``check_cells``, and nothing else refers to them (they
        are made read-only in place).
        """
        panel = cls.__new__(cls)
        panel._set(ts, _symbols(syms), fields, pres, meta)
        return panel

    # -- shape -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Return the number of timestamps ``T``."""
        return int(self.timestamps.size)

    @property
    def shape(self) -> tuple[int, int]:
        """``(T, N)``: timestamps × symbols."""
        return (len(self), len(self.symbols))

    def __repr__(self) -> str:
        span = ""
        if len(self):
            span = f", {pd.Timestamp(self.timestamps[0])} .. {pd.Timestamp(self.timestamps[-1])}"
        label = ", synthetic" if self.meta.get("synthetic") else ""
        return f"BarData({len(self)} timestamps × {len(self.symbols)} symbols{span}{label})"

    def index(self, symbol: str) -> int:
        """Return the column of ``symbol``; raise ``UnknownSymbolError`` if absent."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise UnknownSymbolError(symbol, "data") from None

    # -- views -----------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """Return the present bars as a long pandas frame sorted by timestamp, then symbol.

        Columns: ``timestamp, symbol, open, high, low, close, volume, dividend, split``.
        ``from_frame(panel.to_frame())`` rebuilds an equal panel (symbol order sorted).
        """
        rows, cols = np.nonzero(self.present)
        data: dict[str, Any] = {
            "timestamp": self.timestamps[rows],
            "symbol": np.array(self.symbols, dtype=object)[cols] if self.symbols else [],
        }
        for name in FIELDS:
            data[name] = getattr(self, name)[rows, cols]
        return pd.DataFrame(data)

    def symbol_frame(self, symbol: str, *, aligned: bool = False) -> pd.DataFrame:
        """Return one symbol's bars as a pandas frame indexed by ``timestamp``.

        By default only the symbol's own bars; with ``aligned=True`` every panel
        timestamp, with a ``present`` column and NaN prices where it has no bar.
        """
        j = self.index(symbol)
        mask = slice(None) if aligned else self.present[:, j]
        data: dict[str, Any] = {name: getattr(self, name)[mask, j] for name in FIELDS}
        if aligned:
            data["present"] = self.present[:, j]
        idx = pd.DatetimeIndex(self.timestamps[mask], name="timestamp")
        return pd.DataFrame(data, index=idx)

    def slice(self, start: object = None, end: object = None) -> BarData:
        """Return the panel for ``start <= timestamp < end`` (either bound may be ``None``).

        Bounds are anything ``pd.Timestamp`` accepts; aware bounds are compared in UTC.
        The symbols are kept even if one has no bar in the window.
        """
        lo = 0 if start is None else int(np.searchsorted(self.timestamps, _to_ns(start, "start")))
        hi = len(self) if end is None else int(np.searchsorted(self.timestamps, _to_ns(end, "end")))
        hi = max(lo, hi)
        return BarData(
            self.timestamps[lo:hi],
            self.symbols,
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
            dividend=self.dividend[lo:hi],
            split=self.split[lo:hi],
            present=self.present[lo:hi],
            meta=self.meta,
        )

    def select(self, symbols: tuple[str, ...] | list[str]) -> BarData:
        """Return the panel restricted to ``symbols`` (in that order).

        Timestamps where none of them has a bar are dropped, so the union rule holds.
        """
        idx = [self.index(s) for s in symbols]
        keep = self.present[:, idx].any(axis=1)
        return BarData(
            self.timestamps[keep],
            tuple(symbols),
            *(getattr(self, k)[keep][:, idx] for k in (*PRICE_FIELDS, "volume")),
            dividend=self.dividend[keep][:, idx],
            split=self.split[keep][:, idx],
            present=self.present[keep][:, idx],
            meta=self.meta,
        )

    def equals(self, other: BarData) -> bool:
        """Return whether two panels hold the same bars (``meta`` is ignored)."""
        if self.symbols != other.symbols or self.shape != other.shape:
            return False
        if not np.array_equal(self.timestamps, other.timestamps):
            return False
        if not np.array_equal(self.present, other.present):
            return False
        return all(np.array_equal(getattr(self, k), getattr(other, k), equal_nan=True) for k in FIELDS)
