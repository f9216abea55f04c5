"""Quiet bars: how far the ledger may go unmarked, and each bar's figures recorded.

The third layer of ``Runner`` (``runner_state`` lists them). A busy bar's figures are read
from the ledger (``_record``); from there, ``_quiet_until`` decides how many bars may go
unmarked while no order works; the quiet stretches' cash (and buying power) are kept
(``_end_stretch``) and their other figures filled in after the run by
``figures.FigureModel`` (``_fill_quiet_rows``), with the positions held after each bar.
"""

from __future__ import annotations

import numpy as np

from solvent.accounting import rules
from solvent.accounting.account import AccountKind, BuyingPowerMode
from solvent.engine.figures import INT64_SAFE
from solvent.engine.marking import Marking
from solvent.engine.runner_state import _ASK, IntArray
from solvent.risk.pdt import PATTERN_DAY_TRADES, PdtPolicy
from solvent.risk.state import TradingState


class QuietBars(Marking):
    """Which bars go unmarked, and the figures of every bar, recorded or filled in."""

    def _record(self, i: int) -> None:
        """Record bar ``i``'s figures from the ledger; the bars ahead are to be looked at again.

        After a busy bar that left positions unmarked, only cash and buying power (which
        prices do not move in a cash account) come from the ledger; the model fills in
        the rest after the run, as for quiet bars.
        """
        f = self.acct.figures_minor()
        self.recorded = f
        self.cap_max = f.max_capital_used
        self.cash[i] = f.cash
        self.bp[i] = f.buying_power
        if self.lazy_bar and self.stale:
            self.lazy_rows[i] = self.const_bp_rows[i] = True
        else:
            self.equity[i] = f.nlv
            self.im[i] = f.initial_margin
            self.mm[i] = f.maintenance_margin
        self.quiet_to = _ASK

    def _quiet_until(self) -> int:
        """Return the last bar that may go unmarked from here, or -1.

        Bars may go unmarked while no order works when no overnight charge can fall due
        (``FigureModel.of``), the account holds only longs and owes no loan (so every
        margin check finds it healthy, at any prices), and the model reproduces the
        ledger's figures at this close. Until the end of the run if the buying power
        mode cannot change without a fill; else until the end of this session (the mode
        and day-trade buying power are fixed within a session).
        """
        model = self.model
        if model is None:
            return -1
        f = self.recorded
        if f is None:
            f = self.acct.figures_minor()
        self.cap_max = f.max_capital_used
        acct, broker = self.acct, self.broker
        held = self.held
        if f.cash < 0 or self.shorts:
            return -1
        # A long-only account without a loan has NLV >= gross exposure >= maintenance
        # margin: healthy, unless "at risk" is set at 100% and the cash is exactly zero.
        if broker._band_code != rules.BAND_HEALTHY or broker.trading_state is not TradingState.ACTIVE:
            return -1
        if f.cash == 0 and held and broker.margin_bands.at_risk_ppm >= rules.RATE_SCALE:
            return -1
        if self.worst * rules.RATE_SCALE >= INT64_SAFE:  # ``FigureModel.fits_int64``, kept up to date
            return -1
        mode = acct.mode
        bp: int | None = None if mode is BuyingPowerMode.MARGIN else f.buying_power
        marks = self.lastc[self.at].tolist() if self.at >= 0 else [0] * self.n
        # Positions a busy bar left unmarked (a cash account, where margin is the value):
        # the ledger's figures at this close are its own plus their change of value.
        u = self._stale_value(self.lastc[self.at]) if self.stale else 0
        expected = (f.nlv + u, f.buying_power, f.initial_margin + u, f.maintenance_margin + u)
        if model.row(f.cash, held, marks, bp) != expected:
            self.stats["model_mismatch"] += 1  # a case the model does not cover: mark it
            return -1
        self.stretch_cash, self.stretch_bp = f.cash, bp
        stable = acct.kind is AccountKind.CASH or (
            mode is BuyingPowerMode.MARGIN
            and not acct.day_trading
            and (acct.pdt_policy is not PdtPolicy.DOWNGRADE or acct.day_trades < PATTERN_DAY_TRADES)
        )
        if stable:
            return self.t - 1
        return self.session_end(max(self.at, 0))

    def _end_stretch(self, end: int) -> None:
        """Close the run of quiet bars before ``end``: their cash, to fill the rest in later."""
        start = self.stretch
        if start >= 0 and end > start:
            # Written after the run, all stretches at once (``_fill_quiet_rows``).
            self._stretches.append((start, end, self.stretch_cash, self.stretch_bp))
            self.stats["quiet"] += end - start
        self.stretch = -1

    def _fill_quiet_rows(self) -> None:
        """Compute the quiet bars' figures from their cash, positions and closes."""
        if self._stretches:
            self._write_stretches()
        elif not self.lazy_rows.any():
            return
        assert self.model is not None  # noqa: S101 - only the model makes rows quiet
        # The others keep their stretch's buying power (``const_bp_rows``).
        self.model.fill(
            self.lazy_rows,
            self.const_bp_rows,
            self.cash,
            self.lots_hist,
            self.lastc,
            (self.equity, self.bp, self.im, self.mm),
        )

    def _write_stretches(self) -> None:
        """Write each quiet stretch's constant cash (and buying power) over its rows.

        The stretches are disjoint and in time order: the rows they cover are one mask,
        ``np.repeat`` of the gaps and stretches, and their values go in through it, in
        order (a slice write per stretch cost more, at thousands of stretches).
        """
        t = self.t
        start, end, cash, bp = zip(*self._stretches, strict=True)
        edges = np.empty(2 * len(start) + 2, dtype=np.int64)
        edges[0], edges[-1] = 0, t
        edges[1:-1:2], edges[2:-1:2] = start, end
        lengths: IntArray = np.diff(edges)  # gap, stretch, gap, ..., stretch, gap
        inside = np.zeros(lengths.size, dtype=bool)
        inside[1::2] = True
        quiet = np.repeat(inside, lengths)
        self.lazy_rows |= quiet
        self.cash[quiet] = np.repeat(np.array(cash, dtype=np.int64), lengths[1::2])
        # Buying power fixed over the stretch (``stretch_bp``): the others get the model's.
        fixed = np.array([b is not None for b in bp], dtype=bool)
        if fixed.any():
            inside[1::2] = fixed
            held = np.repeat(inside, lengths)
            self.const_bp_rows |= held
            values = np.array([b for b in bp if b is not None], dtype=np.int64)
            self.bp[held] = np.repeat(values, lengths[1::2][fixed])

    def positions(self) -> IntArray:
        """Return the lots held per symbol after each bar (T, N)."""
        # Each change holds from its bar to the next change's (the last of a bar wins: the
        # others are repeated zero times), nothing is held before the first: one
        # ``np.repeat`` of the changes (a slice write per change cost 2 µs each).
        rows = self._lot_rows
        if not rows:
            return np.zeros((self.t, self.n), dtype=np.int64)
        values = np.empty((len(rows) + 1, self.n), dtype=np.int64)
        values[0] = 0
        values[1:] = self._lot_values
        bounds = np.array([0, *rows, self.t], dtype=np.int64)
        counts = bounds[1:] - bounds[:-1]
        out: IntArray = np.repeat(values, counts, axis=0)
        return out
