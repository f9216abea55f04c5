"""The account figures of bars the engine did not mark one by one.

Between two bars where something happens (an order works, a dividend, a split) a
long-only account without a loan keeps its cash, positions and reservations: only the
prices move. The engine then leaves the ledger alone and fills in, after the run and in
one vectorized pass, the figures the ledger would have recorded at each of those bars'
closes (``FigureModel.rows``), with the same rules (``accounting.rules``), on the same
integers. ``FigureModel.row`` computes the same figures for one bar the scalar way, so
the engine can check the model against the ledger itself before it relies on it.

The model covers what the backtest engine trades: instruments whose ``ticks × lots``
is a whole number of minor units (``k_den == 1``: cent ticks, whole shares), margined
as a percentage of value, without borrow fees or debit interest, and an account in
cash or overnight (Reg T) margin mode. Anything else (``FigureModel.of`` returns
``None``) is marked bar by bar by the ledger itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from solvent.accounting import rules
from solvent.accounting.account import Account, AccountKind
from solvent.model.instrument import AssetClass, Instrument

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Rows per block of the vectorized pass (bounds the temporary ``rows × symbols`` arrays).
BLOCK_ROWS = 1 << 16
#: Largest intermediate product the int64 pass may form (a margin of ``value × rate``).
INT64_SAFE = 1 << 62

# ``rules.margin_requirement`` is plain integer arithmetic (a ceiling division), so
# numpy evaluates the very same rule elementwise on int64 arrays.
_margin_rows = cast(Callable[[IntArray, IntArray], IntArray], cast(Any, rules.margin_requirement))


@dataclass(frozen=True, slots=True)
class FigureModel:
    """What the per-bar figures of a long-only account depend on besides prices and lots.

    Attributes
    ----------
    k_num
        Minor units per ``tick × lot`` of each symbol (``k_den`` is 1).
    im_ppm, mm_ppm
        Initial and maintenance margin rates of a long position per symbol (ppm).
    base_ppm
        The rate buying power is quoted at (Reg T: 50%).
    cash_account
        A cash account: margin is the full value and buying power is the cash.
    """

    k_num: IntArray
    im_ppm: IntArray
    mm_ppm: IntArray
    base_ppm: int
    cash_account: bool

    @classmethod
    def of(cls, account: Account, instruments: Sequence[Instrument]) -> FigureModel | None:
        """Return the model of ``account`` trading ``instruments``, or ``None`` if not covered."""
        for inst in instruments:
            if (
                inst.k_den != 1
                or inst.initial_margin_fixed is not None
                or inst.asset_class is AssetClass.FUTURE
                or inst.borrow_ppm
            ):
                return None
        # Overnight charges and settlement would move cash between two busy bars.
        if account.settlement_days or account.day_trading or getattr(account, "_debit_ppm", 1):
            return None
        cash = account.kind is AccountKind.CASH
        return cls(
            np.array([i.k_num for i in instruments], dtype=np.int64),
            np.array([i.im_long_ppm for i in instruments], dtype=np.int64),
            np.array([i.mm_long_ppm for i in instruments], dtype=np.int64),
            rules.RATE_SCALE if cash else int(account.base_im_rate_ppm),
            cash,
        )

    def row(
        self, cash: int, lots: Mapping[int, int], marks: Sequence[int], bp: int | None = None
    ) -> tuple[int, int, int, int]:
        """Return ``(nlv, buying_power, initial_margin, maintenance_margin)`` of one bar.

        ``lots`` maps a symbol's column to its (positive) lots, ``marks`` gives every
        column's mark in ticks. The scalar rules, as the ledger applies them. ``bp``:
        a buying power that does not move with prices (cash buying power of a margin
        account restricted by the PDT rule, day-trade buying power) is given as is.
        """
        nlv, im, mm = cash, 0, 0
        # ``item``: a plain int per held position (``int(array[j])`` builds a numpy scalar
        # first; ``tolist`` would convert every symbol's, held or not).
        k_num, notional = self.k_num, rules.notional_minor
        if self.cash_account:
            # Margin is the value held, in full, at both rates.
            for j, q in lots.items():
                value = notional(marks[j], q, k_num.item(j), 1)
                nlv += value
                im += abs(value)
            mm = im
        else:
            im_ppm, mm_ppm = self.im_ppm, self.mm_ppm
            for j, q in lots.items():
                value = notional(marks[j], q, k_num.item(j), 1)
                nlv += value
                im += rules.margin_requirement(abs(value), im_ppm.item(j))
                mm += rules.margin_requirement(abs(value), mm_ppm.item(j))
        if bp is None:
            if self.cash_account:
                bp = rules.cash_buying_power(cash, 0)
            else:
                bp = rules.margin_buying_power(nlv - im, self.base_ppm)
        return nlv, bp, im, mm

    def rows(
        self, cash: IntArray, lots: IntArray, marks: IntArray
    ) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Return ``row`` for many bars at once: ``cash`` (R,), ``lots`` and ``marks`` (R, N)."""
        r = cash.shape[0]
        if r <= BLOCK_ROWS:  # one block (``fill``'s): its arrays are the result, no copies
            return self._block(cash, lots, marks)
        out = tuple(np.empty(r, dtype=np.int64) for _ in range(4))
        for start in range(0, r, BLOCK_ROWS):
            s = slice(start, start + BLOCK_ROWS)
            for a, v in zip(out, self._block(cash[s], lots[s], marks[s]), strict=True):
                a[s] = v
        return out[0], out[1], out[2], out[3]

    def _block(
        self, cash: IntArray, lots: IntArray, marks: IntArray
    ) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        # In place where the rules allow (integers: the order of the sums is exact): each
        # new block-sized array is fresh memory, dearer than the arithmetic.
        value = np.multiply(lots, marks)
        value *= self.k_num
        nlv = value.sum(axis=1)
        nlv += cash
        gross = np.abs(value, out=value)
        if self.cash_account:
            im = mm = gross.sum(axis=1)
            # rules.cash_buying_power(cash, 0): the cash, floored at zero.
            bp = np.maximum(cash, 0)
        else:
            im = _margin_rows(gross, self.im_ppm).sum(axis=1)
            mm = _margin_rows(gross, self.mm_ppm).sum(axis=1)
            excess = nlv - im
            # rules.margin_buying_power: max(0, excess) / base rate, rounded down.
            bp = np.where(excess > 0, excess * rules.RATE_SCALE // self.base_ppm, 0)
        return nlv, bp, im, mm

    def fill(
        self,
        rows: BoolArray,
        keep_bp: BoolArray,
        cash: IntArray,
        lots: IntArray,
        marks: IntArray,
        out: tuple[IntArray, IntArray, IntArray, IntArray],
    ) -> None:
        """Write ``rows``'s figures into ``out`` (``nlv, buying_power, im, mm``, each (T,)) in place.

        ``cash`` (T,), ``lots`` and ``marks`` (T, N) are the whole run's; the rows where
        ``rows`` is set get ``self.rows`` of their cash, lots and marks, but for buying
        power where ``keep_bp`` is set. Block by block over slices: no copy of the rows
        picked out, and no run-sized temporary (the other rows of a block are computed
        and dropped; their values may be anything).
        """
        t = cash.shape[0]
        for start in range(0, t, BLOCK_ROWS):
            s = slice(start, start + BLOCK_ROWS)
            pick = rows[s]
            if not pick.any():
                continue
            figures = self.rows(cash[s], lots[s], marks[s])
            for k, (dst, src) in enumerate(zip(out, figures, strict=True)):
                np.copyto(dst[s], src, where=pick & ~keep_bp[s] if k == 1 else pick)

    def fits_int64(self, lots: Mapping[int, int], max_ticks: Sequence[int]) -> bool:
        """Return whether ``lots`` at the panel's highest prices keep the pass in int64."""
        worst = sum(abs(q) * max_ticks[j] * int(self.k_num[j]) for j, q in lots.items())
        return worst * rules.RATE_SCALE < INT64_SAFE


def exposure(lots: IntArray, prices: IntArray, k_num: IntArray) -> IntArray:
    """Return the gross exposure (long value plus absolute short value) per row of ``prices``.

    ``lots`` (H,) and ``k_num`` (H,) are the held columns, ``prices`` (R, H) their marks:
    what ``Account`` tracks as capital used after each mark.
    """
    out: IntArray = np.abs(prices * (lots * k_num)).sum(axis=1)
    return out
