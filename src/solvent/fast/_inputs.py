"""Validate and lower the fast path's inputs: bars, instruments, signals, weights, groups.

Everything the compiled loop reads is built here, once and vectorized: prices in ticks
and volume in lots (the event engine's own conversions), per-instrument integers,
signal and weight matrices as ``(M, T)`` C-contiguous arrays over input columns, and
the account layout. Bad input raises a typed error naming the argument, the column and,
where it applies, the timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.data.frame import BarData
from solvent.data.io import from_frame
from solvent.errors import InvalidInputError
from solvent.fast import _layout as ly
from solvent.fast import _snap, decide
from solvent.fast._costs import NotLoweredError
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import USD, Number, to_decimal

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: Weights are kept in parts per million; beyond 1000x NLV the integers could overflow.
_MAX_WEIGHT_PPM = 1_000 * 1_000_000
#: Starting cash above this (minor units, $10 billion) could overflow 64-bit margin math.
MAX_CASH_MINOR = 10**12


@dataclass(frozen=True, slots=True)
class Market:
    """The bars on the integer grid, and the instruments they trade as."""

    panel: BarData
    instruments: tuple[Instrument, ...]
    # The panel's own ``(T, N)`` arrays as read-only views, never copies: prices as given
    # (the loop snaps them to ticks of ``tick`` when read), volume, and ``present``.
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    tick: F64  # (N,)
    lot: F64  # (N,)
    present: B
    inst: I64  # (N, NI)
    dividends: I64  # (E, 4): bar, column, cash per lot num, den; sorted by bar
    index: pd.DatetimeIndex


@dataclass(frozen=True, slots=True)
class Columns:
    """The input columns: labels, the data column each trades, and its combination."""

    labels: pd.Index
    symbols: tuple[str, ...]
    data_col: I64  # (M,)
    combos: tuple[Hashable, ...]  # the outer label of each column (``None`` without one)


@dataclass(frozen=True, slots=True)
class Layout:
    """Which input columns each account holds."""

    labels: pd.Index  # one per account
    start: I64  # (A + 1,)
    slots: I64  # (M,): input columns, account by account


def _instruments(
    panel: BarData,
    given: Mapping[str, Instrument] | Sequence[Instrument] | None,
    default: Callable[[tuple[str, ...]], tuple[Instrument, ...]],
) -> list[Instrument]:
    by_symbol: dict[str, Instrument] = {}
    if given is not None:
        items = list(given.values()) if isinstance(given, Mapping) else list(given)
        for inst in items:
            if not isinstance(inst, Instrument):
                raise InvalidInputError("instruments", inst, "expected Instrument objects")
            if inst.symbol not in panel.symbols:
                raise InvalidInputError("instruments", inst.symbol, "is not a symbol of the data")
            by_symbol[inst.symbol] = inst
    missing = tuple(sym for sym in panel.symbols if sym not in by_symbol)
    by_symbol.update(zip(missing, default(missing), strict=True))  # one call for all of them
    out = []
    for sym in panel.symbols:
        inst = by_symbol[sym]
        if inst.asset_class is AssetClass.FUTURE or inst.initial_margin_fixed is not None:
            raise NotLoweredError(f"{sym}.asset_class", inst.asset_class.value, "futures are not lowered")
        if inst.borrow_ppm:
            raise NotLoweredError(
                f"{sym}.borrow_fee_rate", inst.borrow_fee_rate, "borrow fees are not lowered"
            )
        if inst.currency is not USD and inst.currency != USD:  # identity first: a dataclass ``!=`` is slow
            raise NotLoweredError(f"{sym}.currency", inst.currency.code, "the fast path's account is in USD")
        out.append(inst)
    return out


def refuse_splits(mkt: Market, cols: Columns) -> None:
    """Refuse a split on a traded symbol: the compiled loop does not apply splits."""
    panel = mkt.panel
    if not panel.has_splits:
        return
    traded = np.zeros(len(panel.symbols), dtype=np.bool_)
    traded[cols.data_col] = True
    bad = np.argwhere(panel.present & (panel.split != 1.0) & traded[None, :])
    if bad.size:
        r, c = (int(x) for x in bad[0])
        raise NotLoweredError(
            f"data[{panel.symbols[c]} @ {pd.Timestamp(panel.timestamps[r])}].split",
            float(panel.split[r, c]),
            "splits are not applied by the fast path: split-adjust the data or use solvent.backtest",
        )


def _dividends(panel: BarData, insts: list[Instrument]) -> I64:
    """Return dividend events ``(E, 4)``: bar, data column, and the cash per lot as num/den.

    The amount per lot is ``Account.dividend``'s exact fraction (the per-share decimal
    times lot size, multiplier and 100), so the ledger rule ``per_unit_cash`` gives the
    same cents in both engines.
    """
    if not panel.has_dividends:
        return np.zeros((0, 4), dtype=np.int64)
    rows, cols = np.nonzero(panel.present & (panel.dividend != 0.0))
    out = np.zeros((rows.size, 4), dtype=np.int64)
    for e, (r, c) in enumerate(zip(rows, cols, strict=True)):
        inst = insts[c]
        field = f"data[{inst.symbol} @ {pd.Timestamp(panel.timestamps[r])}].dividend"
        d = to_decimal(float(panel.dividend[r, c]), field, positive=True)
        per_lot = Fraction(d) * Fraction(inst.lot_size) * Fraction(inst.multiplier) * 10**inst.currency.digits
        if per_lot.numerator >= 2**31 or per_lot.denominator >= 2**31:
            raise NotLoweredError(field, d, "too many digits for the fast path's 64-bit arithmetic")
        out[e] = (r, c, per_lot.numerator, per_lot.denominator)
    return out


def market(
    data: BarData | Any,
    instruments: Mapping[str, Instrument] | Sequence[Instrument] | None,
    default: Callable[[tuple[str, ...]], tuple[Instrument, ...]],
) -> Market:
    """Return the bars of ``data`` on the integer grid of each symbol's instrument.

    ``default(symbols)`` makes the instruments of the symbols not in ``instruments``.
    """
    panel = data if isinstance(data, BarData) else from_frame(data)
    if len(panel) == 0:
        raise InvalidInputError("data", panel, "has no bars")
    insts = _instruments(panel, instruments, default)
    # One array from a list of rows, not a row assignment per symbol (each a numpy call).
    rows = [
        (i.k_num, i.k_den, i.im_long_ppm, i.im_short_ppm, int(i.shortable), i.mm_long_ppm, i.mm_short_ppm)
        for i in insts
    ]
    inst = np.array(rows, dtype=np.int64).reshape(len(insts), ly.NI)
    tick = readonly(np.array([i.tick_size for i in insts], dtype=np.float64))
    lot = readonly(np.array([i.lot_size for i in insts], dtype=np.float64))
    # ``copy=False``: the panel's stamps as they are (read only; a copy is fresh memory).
    index = pd.DatetimeIndex(panel.timestamps, name="timestamp", copy=False)
    return Market(
        panel,
        tuple(insts),
        readonly(panel.open),
        readonly(panel.high),
        readonly(panel.low),
        readonly(panel.close),
        readonly(panel.volume),
        tick,
        lot,
        readonly(panel.present),
        inst,
        _dividends(panel, insts),
        index,
    )


def exact(mkt: Market) -> Market:
    """Return ``mkt`` with prices already in exact ticks (the engine's conversion).

    Used when the loop met a price the float rule could not snap (``_snap``).
    """
    op, hi, lo, cl, ones = _snap.exact(mkt.panel, list(mkt.instruments))
    return replace(mkt, open=op, high=hi, low=lo, close=readonly(cl), tick=ones)


def readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return a C-contiguous read-only view (one array type for the compiled loop)."""
    out = np.ascontiguousarray(a).view()
    out.setflags(write=False)
    return out


# -- input columns ------------------------------------------------------------------------


def _same_times(got: pd.DatetimeIndex, index: pd.DatetimeIndex) -> bool:
    """Return whether ``got`` holds exactly ``index``'s timestamps, in any unit.

    The cheap test before ``DatetimeIndex.equals``, which across units (a frame in
    microseconds, the panel in nanoseconds) converts through a slow path. A value the
    finer unit cannot hold does not survive the round trip: then ``equals`` decides.
    """
    if len(got) != len(index):
        return False
    a, b = got.values, index.values
    if a.dtype != b.dtype:
        wide = a.astype(b.dtype)
        if not np.array_equal(wide.astype(a.dtype), a):
            return False
        a = wide
    return bool(np.array_equal(a, b))


def _check_index(frame: pd.DataFrame | pd.Series[Any], name: str, index: pd.DatetimeIndex) -> None:
    got = frame.index
    if not isinstance(got, pd.DatetimeIndex):
        raise InvalidInputError(
            f"{name}.index", type(got).__name__, "must be a DatetimeIndex like the data's"
        )
    if got.tz is not None:
        got = got.tz_convert("UTC").tz_localize(None)
    if got is index or _same_times(got, index) or got.equals(index):
        return
    if len(got) != len(index):
        raise InvalidInputError(
            f"{name}.index", len(got), f"has {len(got)} rows; the data has {len(index)} timestamps"
        )
    diff = np.flatnonzero(got.values.astype("datetime64[ns]") != index.values)
    i = int(diff[0]) if diff.size else 0
    raise InvalidInputError(
        f"{name}.index", pd.Timestamp(got[i]), f"row {i} does not match the data's timestamp {index[i]}"
    )


def _split_label(label: Hashable, multi: bool) -> tuple[Hashable, str]:
    if not multi:
        return None, str(label)
    assert isinstance(label, tuple)  # noqa: S101 - MultiIndex labels are tuples
    outer = label[:-1]
    return (outer[0] if len(outer) == 1 else outer), str(label[-1])


def columns_of(frame: pd.DataFrame, name: str, mkt: Market) -> Columns:
    """Return the columns of an input frame (one per symbol, or (combo..., symbol))."""
    labels = frame.columns
    if labels.has_duplicates:
        dup = labels[labels.duplicated()][0]
        raise InvalidInputError(f"{name}.columns", dup, "appears more than once")
    if len(labels) == 0:
        raise InvalidInputError(f"{name}.columns", [], "no columns: give one per symbol to trade")
    multi = isinstance(labels, pd.MultiIndex)
    where = {sym: j for j, sym in enumerate(mkt.panel.symbols)}
    combos = []
    symbols = []
    cols = []
    # ``tolist``: iterating an Arrow-backed string index yields one scalar at a time.
    for label in labels.tolist():
        combo, sym = _split_label(label, multi)
        if sym not in where:
            raise InvalidInputError(
                f"{name}.columns",
                label,
                f"{sym!r} is not a symbol of the data ({', '.join(mkt.panel.symbols)})",
            )
        combos.append(combo)
        symbols.append(sym)
        cols.append(where[sym])
    return Columns(labels, tuple(symbols), np.array(cols, dtype=np.int64), tuple(combos))


def _as_frame(x: Any, name: str, mkt: Market) -> pd.DataFrame:
    """Return ``x`` as a frame; numpy arrays get the data's index and symbol columns."""
    if isinstance(x, pd.DataFrame):
        return x
    if isinstance(x, pd.Series):
        _check_index(x, name, mkt.index)
        if len(mkt.panel.symbols) != 1:
            raise InvalidInputError(name, "Series", "is ambiguous with several symbols: pass a DataFrame")
        return x.to_frame(mkt.panel.symbols[0])
    if isinstance(x, np.ndarray):
        t, n = len(mkt.index), len(mkt.panel.symbols)
        if x.shape == (t,) and n == 1:
            x = x.reshape(t, 1)
        if x.shape != (t, n):
            raise InvalidInputError(
                name, x.shape, f"an array must be (timestamps, symbols) = {(t, n)} in the data's symbol order"
            )
        return pd.DataFrame(x, index=mkt.index, columns=list(mkt.panel.symbols))
    raise InvalidInputError(
        name, type(x).__name__, "expected a DataFrame (or a numpy array shaped like the data)"
    )


def _align(frame: pd.DataFrame, name: str, mkt: Market, like: Columns | None) -> tuple[pd.DataFrame, Columns]:
    _check_index(frame, name, mkt.index)
    if like is not None and (frame.columns is like.labels or frame.columns.equals(like.labels)):
        return frame, like  # the entries' columns, already checked
    cols = columns_of(frame, name, mkt)
    if like is None:
        return frame, cols
    if set(frame.columns) == set(like.labels):
        return frame[like.labels], like
    if not isinstance(frame.columns, pd.MultiIndex) and isinstance(like.labels, pd.MultiIndex):
        # One column per symbol, shared by every combination: broadcast it.
        wanted = [str(lab[-1]) for lab in like.labels]
        missing = sorted(set(wanted) - {str(c) for c in frame.columns})
        if missing:
            raise InvalidInputError(f"{name}.columns", missing, "symbols missing (the entries trade them)")
        out = frame.set_axis([str(c) for c in frame.columns], axis=1)[wanted]
        return out.set_axis(like.labels, axis=1), like
    extra = [c for c in frame.columns if c not in set(like.labels)]
    raise InvalidInputError(
        f"{name}.columns", extra[:3] or list(frame.columns)[:3], "must be the same columns as the entries"
    )


def signals(x: Any, name: str, mkt: Market, like: Columns | None = None) -> tuple[B, Columns]:
    """Return a boolean signal matrix ``(M, T)`` and its columns."""
    frame, cols = _align(_as_frame(x, name, mkt), name, mkt, like)
    values = frame.to_numpy()
    if values.dtype == np.bool_:
        # The usual case: only a frame whose columns are all numpy booleans gives a boolean
        # array (nullable "boolean" columns give objects), so no per-column dtype check
        # (``DataFrame.dtypes`` builds a Series). One boolean block comes out ``(T, M)``
        # Fortran-ordered, a view: ``.T`` is C-contiguous, so nothing is copied.
        return np.ascontiguousarray(values.T), cols
    for label, dtype in frame.dtypes.items():
        if dtype == np.bool_:
            continue
        if isinstance(dtype, pd.BooleanDtype):
            na = frame[label].isna().to_numpy()
            if na.any():
                i = int(np.flatnonzero(na)[0])
                raise InvalidInputError(f"{name}[{label}]", None, f"is missing (NA) at {mkt.index[i]}")
            continue
        raise InvalidInputError(f"{name}[{label}]", str(dtype), "must be boolean (True: act on this bar)")
    values = frame.to_numpy(dtype=np.bool_)
    return np.ascontiguousarray(values.T), cols


def weights(x: Any, mkt: Market) -> tuple[I64, Columns]:
    """Return target weights ``(M, T)`` in parts per million of NLV, and their columns."""
    name = "weights"
    frame, cols = _align(_as_frame(x, name, mkt), name, mkt, None)
    for label, dtype in frame.dtypes.items():
        if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)):
            raise InvalidInputError(f"{name}[{label}]", str(dtype), "must be numeric (a fraction of NLV)")
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise InvalidInputError(
            f"{name}[{cols.labels[c]}]", float(values[r, c]), f"must be a finite weight at {mkt.index[r]}"
        )
    ppm = decide.weights_ppm(values)
    big = np.abs(ppm) > _MAX_WEIGHT_PPM
    if big.any():
        r, c = (int(v) for v in np.argwhere(big)[0])
        raise InvalidInputError(f"{name}[{cols.labels[c]}]", float(values[r, c]), "is above 1000x NLV")
    return np.ascontiguousarray(ppm.T), cols


# -- accounts ------------------------------------------------------------------------------


def layout(cols: Columns, group: bool) -> Layout:
    """Return the accounts: one per column, or one per combination when ``group``."""
    m = len(cols.symbols)
    if not group:
        return Layout(cols.labels, np.arange(m + 1, dtype=np.int64), np.arange(m, dtype=np.int64))
    order: dict[Hashable, list[int]] = {}
    for i, combo in enumerate(cols.combos):
        order.setdefault(combo, []).append(i)
    keys = list(order)
    if keys == [None]:
        labels = pd.Index(["portfolio"])
    elif isinstance(cols.labels, pd.MultiIndex) and cols.labels.nlevels > 2:
        labels = pd.MultiIndex.from_tuples(
            [k for k in keys if isinstance(k, tuple)], names=cols.labels.names[:-1]
        )
    else:
        labels = pd.Index(keys, name=cols.labels.names[0] if isinstance(cols.labels, pd.MultiIndex) else None)
    start = np.zeros(len(keys) + 1, dtype=np.int64)
    slots = []
    for a, key in enumerate(keys):
        slots.extend(order[key])
        start[a + 1] = len(slots)
    return Layout(labels, start, np.array(slots, dtype=np.int64))


# -- scalar settings ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Size:
    """An entry size: a budget fraction of the account's cash, or lots per data column."""

    kind: int
    pct: Fraction
    lots: I64  # (N,) for SIZE_LOTS
    text: str


def size_of(size: str | Number, mkt: Market) -> Size:
    """Parse ``size``: ``"all"``, a percentage string ``"50%"`` or a quantity of units."""
    n = len(mkt.instruments)
    if isinstance(size, str) and size.strip().lower() == "all":
        return Size(ly.SIZE_VALUE, Fraction(1), np.zeros(n, dtype=np.int64), "all")
    if isinstance(size, str) and size.strip().endswith("%"):
        pct = to_decimal(size.strip()[:-1], "size", positive=True) / 100
        return Size(ly.SIZE_VALUE, Fraction(pct), np.zeros(n, dtype=np.int64), size.strip())
    if isinstance(size, bool) or not isinstance(size, int | float | Decimal | str):
        raise InvalidInputError("size", size, 'expected "all", a percentage like "50%" or a number of units')
    lots = np.array([i.qty_lots(size, "size") for i in mkt.instruments], dtype=np.int64)
    if (lots <= 0).any():
        raise InvalidInputError("size", size, "must be a positive number of units")
    return Size(ly.SIZE_LOTS, Fraction(1), lots, str(size))


def volume_limit_of(volume_limit: Number | None) -> tuple[int, int]:
    """Return the volume cap as ``(num, den)``; ``(0, 0)`` is no cap."""
    if volume_limit is None:
        return 0, 0
    v = to_decimal(volume_limit, "volume_limit", positive=True)
    if v > 1:
        raise InvalidInputError("volume_limit", volume_limit, "is a share of bar volume: at most 1")
    f = Fraction(v)
    return f.numerator, f.denominator
