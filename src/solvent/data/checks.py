"""The value rules for bars, checked in bounded chunks so validation allocates almost nothing.

Both ``BarData`` (cells of ``(T, N)`` grids) and the loaders (flat, row-aligned columns,
seen as ``(rows, 1)`` grids) call ``check_cells``. It walks the arrays a block of rows at a
time into two reusable buffers of about ``CHUNK_CELLS`` cells, so a million-bar panel is
validated with a megabyte of scratch instead of copies of every column. Which error is
raised does not depend on the chunking: the rules are ranked, every block is checked
against every rule, and the first rule broken anywhere wins, naming its first bad cell in
row-major order and how many cells break it in all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
TimeArray = npt.NDArray[np.datetime64]

#: Price fields, in the order they are validated and reported.
PRICE_FIELDS = ("open", "high", "low", "close")
#: Every numeric field of a panel, in column order.
FIELDS = (*PRICE_FIELDS, "volume", "dividend", "split")

#: Cells per block: 64k cells is 512 KiB of float scratch and 64 KiB of bool scratch.
CHUNK_CELLS = 1 << 16


class DataError(InvalidInputError):
    """Bar data is unusable; the message names the symbol, timestamp and field.

    ``symbol``, ``timestamp`` and ``column`` are also attributes (``None`` where the
    problem is not tied to one row, e.g. a missing column).
    """

    def __init__(
        self,
        column: str,
        value: object,
        problem: str,
        *,
        symbol: str | None = None,
        timestamp: object = None,
    ) -> None:
        self.symbol = symbol
        self.timestamp = timestamp
        self.column = column
        where = "data"
        if symbol is not None or timestamp is not None:
            parts = [p for p in (symbol, None if timestamp is None else str(timestamp)) if p is not None]
            where = f"data[{' @ '.join(parts)}]"
        super().__init__(f"{where}.{column}", value, problem)


# A rule writes "this cell is bad" into ``out`` for one block; ``tmp`` is float scratch.
_Test = Callable[[Mapping[str, FloatArray], BoolArray, FloatArray], None]


@dataclass(frozen=True, slots=True)
class _Rule:
    column: str
    problem: str
    test: _Test


def _not_finite(name: str) -> _Test:
    def test(c: Mapping[str, FloatArray], out: BoolArray, tmp: FloatArray) -> None:
        np.isfinite(c[name], out=out)
        np.logical_not(out, out=out)

    return test


def _below(name: str, floor: float, *, inclusive: bool) -> _Test:
    """Bad when ``value <= floor`` (``inclusive``) or ``value < floor``."""
    op = np.less_equal if inclusive else np.less

    def test(c: Mapping[str, FloatArray], out: BoolArray, tmp: FloatArray) -> None:
        op(c[name], floor, out=out)

    return test


def _high_below(c: Mapping[str, FloatArray], out: BoolArray, tmp: FloatArray) -> None:
    np.maximum(c["open"], c["close"], out=tmp)
    np.less(c["high"], tmp, out=out)


def _low_above(c: Mapping[str, FloatArray], out: BoolArray, tmp: FloatArray) -> None:
    np.minimum(c["open"], c["close"], out=tmp)
    np.greater(c["low"], tmp, out=out)


#: Every value rule, in the order errors are reported.
RULES: tuple[_Rule, ...] = (
    *(
        rule
        for name in PRICE_FIELDS
        for rule in (
            _Rule(name, "price must be finite", _not_finite(name)),
            _Rule(name, "price must be positive", _below(name, 0.0, inclusive=True)),
        )
    ),
    _Rule("high", "high is below max(open, close)", _high_below),
    _Rule("low", "low is above min(open, close)", _low_above),
    _Rule("volume", "volume must be finite", _not_finite("volume")),
    _Rule("volume", "volume cannot be negative", _below("volume", 0.0, inclusive=False)),
    _Rule("dividend", "dividend must be finite", _not_finite("dividend")),
    _Rule("dividend", "dividend cannot be negative", _below("dividend", 0.0, inclusive=False)),
    _Rule("split", "split ratio must be finite", _not_finite("split")),
    _Rule("split", "split ratio must be positive", _below("split", 0.0, inclusive=True)),
)


def filled(shape: tuple[int, ...], fill: float) -> FloatArray:
    """Return a new C-ordered ``float64`` array of ``fill``.

    Zeros come from ``np.zeros``, whose pages the OS maps lazily: a default dividend grid
    that is never written costs no resident memory until it is read (and reading maps
    the shared zero page), where ``np.full`` would touch every page.
    """
    return np.zeros(shape) if fill == 0.0 else np.full(shape, fill)


#: ``(row, col) -> (symbol, timestamp)`` of a cell, for the error message.
Locate = Callable[[int, int], tuple[str, object]]


def check_cells(cols: Mapping[str, FloatArray], present: BoolArray | None, locate: Locate) -> None:
    """Check every value rule on the cells of 2-D ``(rows, N)`` arrays; raise on the first.

    Parameters
    ----------
    cols
        Field name to ``float64`` array, all of one shape ``(rows, N)`` (any memory
        layout). A field left out is not checked: pass only the fields that may hold
        bad values (a default-filled dividend or split cannot). ``open``, ``high``,
        ``low`` and ``close`` must be present.
    present
        ``bool`` array of the same shape: only cells marked ``True`` are checked.
        ``None`` means every cell.
    locate
        Maps a bad cell's ``(row, col)`` to its ``(symbol, timestamp)``.

    Raises
    ------
    DataError
        For the first rule (in ``RULES`` order) that any checked cell breaks, naming
        that rule's first bad cell in row-major order and the number of bad cells.
    """
    rules = [r for r in RULES if r.column in cols]
    shape = cols["close"].shape
    rows, n = shape
    step = max(1, CHUNK_CELLS // max(n, 1))
    out = np.empty((min(step, rows), n), dtype=bool)
    tmp = np.empty(out.shape, dtype=np.float64)
    count = [0] * len(rules)
    first: list[tuple[int, int] | None] = [None] * len(rules)
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        block = {k: v[r0:r1] for k, v in cols.items()}
        pres = None if present is None else present[r0:r1]
        o, t = out[: r1 - r0], tmp[: r1 - r0]
        for k, rule in enumerate(rules):
            rule.test(block, o, t)
            if pres is not None:
                np.logical_and(o, pres, out=o)
            bad = int(np.count_nonzero(o))
            if bad:
                if count[k] == 0:
                    i = int(np.flatnonzero(o)[0])
                    first[k] = (r0 + i // n, i % n)
                count[k] += bad
    for k, rule in enumerate(rules):
        cell = first[k]
        if cell is None:
            continue
        row, col = cell
        symbol, when = locate(row, col)
        more = f" ({count[k]} rows in all)" if count[k] > 1 else ""
        raise DataError(
            rule.column,
            cols[rule.column][row, col].item(),
            rule.problem + more,
            symbol=symbol,
            timestamp=pd.Timestamp(when),  # type: ignore[arg-type]
        )
