"""Marking lazily: positions left unmarked, and the ledger brought forward over quiet bars.

The second layer of ``Runner`` (``runner_state`` lists them). Bringing the ledger forward
over quiet bars (``Marking._catch_up``) replays what bar-by-bar marks would have changed
besides the figures: the session roll (prior-close NLV and margin, the mark-to-market
basis of the lots), made at the last new session with the marks of the close before it,
and the high-water mark of capital used, made at the first mark of its peak. Both are
exact because a quiet stretch has no fills and no overnight charges (no borrow fees, no
debit interest, no unsettled cash: ``FigureModel.of`` and ``QuietBars._quiet_until``);
the roll's mark-to-market basis telescopes, and every other effect of a roll is
overwritten by the last one.

Unmarked positions are brought forward the same way (``Marking._refresh``): re-based on
the close before the last session roll they missed, then marked. While they wait, the
ledger's high-water mark of capital used counts them at the prices a mark would have
used (``Account._unmarked``, set before the bar's opens and closes are marked), and
order placement does not wait for them (``sync_orders``): no placement check of a cash
account reads a mark. Bringing the ledger forward for a placement leaves every held
position of such an account unmarked (``_catch_up``), and the broker's last prices are
written when it reads them (``LastCloses``).
"""

from __future__ import annotations

import numpy as np

from solvent.accounting import rules
from solvent.engine.figures import INT64_SAFE, exposure
from solvent.engine.runner_state import IntArray, RunnerState
from solvent.risk.state import TradingState

#: Most cells of symbols not held that ``Marking._catch_up`` multiplies by zero to scan a
#: stretch by whole rows (a wide panel's long stretch picks the held columns out instead).
DOT_WASTE = 1 << 16


class Marking(RunnerState):
    """Positions a busy bar left unmarked, and ``sync``: the ledger brought to a close."""

    def _lazy_ok(self) -> bool:
        """Return whether a busy bar may leave positions without orders unmarked.

        As for quiet bars (``_quiet_until``): a long-only cash account without a loan
        (every margin check finds it healthy at any prices, so the marks it skips could
        not change one) whose figures stay within the int64 pass of the model.
        """
        broker = self.broker
        cash = self.acct._cash
        return (
            cash >= 0
            and self.shorts == 0
            and broker._band_code == rules.BAND_HEALTHY
            and broker.trading_state is TradingState.ACTIVE
            and not (cash == 0 and self.held and broker.margin_bands.at_risk_ppm >= rules.RATE_SCALE)
            and self.worst * rules.RATE_SCALE < INT64_SAFE
        )

    def _stale_value(self, prices: IntArray) -> int:
        """Return what the stale positions would add to capital used if marked at ``prices``."""
        stale = self.stale
        if not stale:
            return 0
        if len(stale) <= 4:  # a few positions: plain ints cost less than a dot product
            lk = self.stale_lk
            return sum(lk.item(j) * prices.item(j) for j in stale) - self.stale_mv
        return int(self.stale_lk.dot(prices)) - self.stale_mv

    def _go_stale(self, j: int, k: int) -> None:
        """Leave held column ``j`` (marked at the close of bar ``k``) unmarked from now on."""
        lk: int = self.lots.item(j) * self.k_num_list[j]
        self.stats["unmarked"] += 1
        self.stale[j] = k
        self.stale_lk[j] = lk
        self.stale_mv += lk * self.lastc.item(k, j)
        self.fresh.discard(j)

    def _refresh(self, cols: list[int], upto: int, prices: IntArray) -> None:
        """Mark the stale positions ``cols`` at ``prices`` as if they had been marked all along.

        The ledger's clock is at bar ``upto``. A position unmarked since the close of bar
        ``k`` missed the session rolls after ``k``: its lots are re-based on the close
        before the last of them (``Account._restate``).
        """
        if not cols:
            return
        lastc, syms, stale, stale_lk, fresh = self.lastc, self.symbols, self.stale, self.stale_lk, self.fresh
        restate = self.acct._restate
        b = self.last_new_day(upto)
        mv = 0
        for j in cols:
            k = stale.pop(j)
            mv += stale_lk.item(j) * lastc.item(k, j)
            stale_lk[j] = 0
            restate(syms[j], lastc.item(b - 1, j) if b > k else None, prices.item(j))
            fresh.add(j)
        self.stale_mv -= mv
        if not stale:
            self.acct._unmarked = 0

    def sync(self, i: int) -> None:
        """Bring the ledger to the close of bar ``i`` and the broker's last prices to it."""
        if i < 0:
            return
        self.sync_orders(i)
        if self.stale:
            self._refresh(list(self.stale), self.at, self.lastc[self.at])

    def sync_orders(self, i: int) -> None:
        """Bring the ledger as far as placing an order needs (``sync`` but for marks).

        Positions a busy bar left unmarked stay so: in a cash account, which is the only
        one where the engine leaves them, no placement check reads a mark.
        """
        self.recorded = None  # the strategy may change the ledger from here
        if i < 0:
            return
        if self.at < i:
            self._catch_up(i)
        if self.lc_at < i:
            self._sync_last_close(i)

    def _sync_last_close(self, k: int) -> None:
        if self.lc_at == k:
            return
        # Written when the broker reads them (``LastCloses``): a pass over every symbol
        # per placement bar cost more than the placement.
        self.last_closes.catch_up(self.lastc[k])
        self.lc_at = k

    def _catch_up(self, k: int) -> None:
        """Mark the ledger at the close of bar ``k`` as if every bar since ``at`` had been.

        The bars ``at + 1 .. k`` were quiet. Their marks are replayed where they leave a
        trace: the close before the last new session (then the session rolls), the first
        mark at the peak of capital used if it beats the high-water mark, and the close
        of ``k``, in time order.
        """
        a, acct = self.at, self.acct
        held = self.held
        # In a cash account (``sym_lazy``) the positions need not be marked to place an
        # order: they are all left unmarked (``_go_stale``) and only the replayed marks'
        # traces are kept here (the clock, the session roll, the high-water mark of
        # capital used, via ``Account._unmarked``); ``_refresh`` re-bases and marks each
        # when it is read or traded. O(symbols traded), not O(symbols held).
        unmarked = self.sym_lazy and bool(held) and self._lazy_ok()
        if unmarked:
            for j in list(self.fresh):
                self._go_stale(j, a)
        elif self.stale:
            self._refresh(list(self.stale), a, self.lastc[a])
        self.at = k
        if not held:  # flat: marks move nothing, a roll records NLV = cash
            acct.advance(self._stamp_of(k))
            return
        assert self.model is not None  # noqa: S101 - bars go unmarked only under the model
        cols = list(held)
        lots = [held[j] for j in cols]
        k_num = [self.k_num_list[j] for j in cols]  # no fancy index per placement bar
        rows = slice(a + 1, k + 1)
        marks: dict[int, None] = {}  # positions to mark at: bar m's open 2m, its close 2m + 1
        # Capital used peaks at most at every symbol's highest mark of the run, then of the
        # stretch: look closer only when a bound beats the high-water mark. The run's
        # (``top_mark``, no scan of the stretch) settles most placements.
        if len(cols) == 1:
            ceiling = max(lots[0], 0) * k_num[0] * self.top_mark[cols[0]]
        else:
            ceiling = sum(
                max(q, 0) * kn * self.top_mark[j] for q, kn, j in zip(lots, k_num, cols, strict=True)
            )
        if ceiling > self.cap_max:
            self.cap_max = acct._max_capital  # ``figures_minor().max_capital_used``
        if (
            ceiling > self.cap_max
            and unmarked
            and len(cols) > 1
            and ceiling < INT64_SAFE
            and (k - a) * (self.n - len(cols)) <= DOT_WASTE
        ):
            # Every held position is unmarked (all long): capital used at a mark is the
            # row's dot product with ``stale_lk`` (exact in int64: below ``ceiling``), whole
            # rows, where picking the held columns out cost more. The first mark at its
            # peak, opens before closes within a bar, is replayed.
            lk = self.stale_lk
            seen = np.empty(2 * (k - a), dtype=np.int64)
            seen[0::2] = self.open_eff[rows].dot(lk)
            seen[1::2] = self.lastc[rows].dot(lk)
            peak = int(seen.argmax())
            if seen.item(peak) > self.cap_max:
                marks[peak] = None
        elif ceiling > self.cap_max:
            opens: IntArray | None = None
            if len(cols) == 1:  # one position: a plain slice, no fancy indexing
                c0 = cols[0]
                top = [max(int(self.open_eff[rows, c0].max()), int(self.lastc[rows, c0].max()))]
                bound = lots[0] * k_num[0] * top[0]
            else:
                # The marks each bar's open and close give the held columns, read once.
                opens, closes = self.open_eff[rows, cols], self.lastc[rows, cols]
                top = np.maximum(opens.max(axis=0), closes.max(axis=0)).tolist()
                bound = sum(q * kn * px for q, kn, px in zip(lots, k_num, top, strict=True))
            if bound > self.cap_max:
                self.cap_max = acct._max_capital  # ``figures_minor().max_capital_used``
            if bound > self.cap_max and len(cols) == 1 and lots[0] > 0 and self.sym_lazy:
                # One long position: capital used peaks exactly at its highest mark, ``top``
                # (the larger of each bar's effective open and close). Its
                # first occurrence, opens before closes within a bar, is the peak.
                j, px = cols[0], top[0]
                hit_o = self.open_eff[rows, j] == px
                hit_c = self.lastc[rows, j] == px
                first_o = 2 * int(hit_o.argmax()) if hit_o.any() else 2 * (k - a)
                first_c = 2 * int(hit_c.argmax()) + 1 if hit_c.any() else 2 * (k - a)
                marks[min(first_o, first_c)] = None
            elif bound > self.cap_max:
                q = np.array(lots, dtype=np.int64)
                kn = np.array(k_num, dtype=np.int64)
                if opens is None:
                    opens, closes = self.open_eff[rows, cols], self.lastc[rows, cols]
                seen = np.empty(2 * (k - a), dtype=np.int64)
                seen[0::2] = exposure(q, opens, kn)
                seen[1::2] = exposure(q, closes, kn)
                peak = int(seen.argmax())
                if int(seen[peak]) > self.cap_max:
                    marks[peak] = None
        if unmarked:
            # No mark moves money here: only the peak (the high-water mark of capital
            # used, counted through ``Account._unmarked``) and the clock leave a trace.
            # The session rolls where the clock reaches a new day (the peak's stamp or
            # ``k``'s, not bar ``b``'s): no overnight charge falls due under ``_lazy_ok``,
            # a cash account reads no prior-close figure, and the lots are re-based on
            # the right close by ``_refresh``.
            for p in marks:
                m, r = divmod(p, 2)
                row = a + 1 + m
                acct._unmarked = self._stale_value(self.lastc[row] if r else self.open_eff[row])
                acct.mark_ticks({}, self._stamp_of(row))
            acct._unmarked = self._stale_value(self.lastc[k])
            acct.advance(self._stamp_of(k))
            return
        names = [self.symbols[j] for j in cols]
        b = self.last_new_day(k)
        roll_at = 2 * (b - a - 1)  # the position of bar b's open
        if b > a + 1:
            marks[roll_at - 1] = None  # the close of bar b - 1
        marks[2 * (k - a) - 1] = None
        rolled = b <= a
        for p in sorted(marks):
            if not rolled and p >= roll_at:
                acct.advance(self._stamp_of(b))  # the session rolls with the last close's marks
                rolled = True
            m, r = divmod(p, 2)
            row = a + 1 + m
            if r:
                prices = self.lastc[row, cols].tolist()
            else:
                prices = [
                    int(self.o[row, j]) if self.present[row, j] else int(self.lastc[row - 1, j]) for j in cols
                ]
            acct.mark_ticks(dict(zip(names, prices, strict=True)), self._stamp_of(row))
