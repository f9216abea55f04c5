"""Busy bars: one bar through the broker (opens, matching, closes, margin check).

The fourth layer of ``Runner`` (``runner_state`` lists them). A busy bar brings the ledger
to the previous close (``marking``), applies dividends and splits, marks the account at
the opens of the positions it must (an unmarked position with an order goes there in
one step, once the clock has moved), matches the working orders against the bars of
their symbols, books the fills (traded value, positions held) and marks at the closes;
in same-bar mode the orders placed at a bar fill at its close (``_close_pass``).
Refusals and margin events are handed to the strategy (``_dispatch``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from solvent.engine.quiet import QuietBars
from solvent.model.bar import Bar
from solvent.model.records import Fill
from solvent.model.slots import maker

#: ``Bar(...)`` without its frozen ``__init__`` (fields: timestamp, open, high, low,
#: close, volume): ints from the checked grid, 1.7 µs → under 1 µs.
_new_bar: Callable[..., Bar] = maker(Bar)


class BusyBars(QuietBars):
    """A bar processed through the broker, its fills booked, its news dispatched."""

    def _busy(self, i: int) -> list[Fill]:
        """Process bar ``i`` through the broker; return its fills."""
        acct, broker = self.acct, self.broker
        self.stats["busy"] += 1
        self.recorded = None
        if self.at < i - 1:
            self._catch_up(i - 1)
        ts = self._stamp_of(i)
        events = i in self.dividends or i in self.splits
        present = self.present[i]
        syms = self.symbols
        col = self.col
        wanted = {col[w.order.symbol] for w in broker._open}
        lazy = self.sym_lazy and not events and self._lazy_ok()
        opened: list[int] = []  # unmarked positions with orders, marked at the open below
        if lazy:
            # Only the positions with orders are marked; the others stay where they were
            # (marked at the close of ``i - 1`` or earlier) until someone reads them.
            for j in self.fresh.difference(wanted):
                self._go_stale(j, i - 1)
            if self.stale:
                opened = [j for j in wanted if j in self.stale]
        elif self.stale:
            self._refresh(list(self.stale), i - 1, self.lastc[i - 1])
        if events:
            self._events(i, ts)
        broker._begin_bar(ts)
        if opened:
            # Once the clock is at bar ``i``: re-based on the close before the last session
            # roll, then marked straight at this bar's open (a mark at the previous close
            # and its roll in between would be overwritten: the roll's re-basing
            # telescopes, and its prior-close figures are read by margin accounts only).
            # The open's mark of capital used below counts them at the open, as before.
            self._refresh(opened, i, self.open_eff[i])
        o_row = self.o[i]
        if self.eager:
            cols = np.flatnonzero(present).tolist()
            bar_cols = cols
        else:
            held = self.held
            bar_cols = [j for j in wanted if present[j]]
            if not lazy:
                cols = [j for j in held if present[j]]
            elif opened:
                cols = [j for j in bar_cols if j in held and j not in opened]
            else:
                cols = [j for j in bar_cols if j in held]
        if lazy:  # (no row to read when nothing is unmarked)
            acct._unmarked = self._stale_value(self.open_eff[i]) if self.stale else 0
        if cols:
            acct.mark_ticks({syms[j]: o_row.item(j) for j in cols}, ts)
        else:
            # Nothing to mark (the clock is at ``ts`` already): only the mark's check of
            # capital used, which counts the unmarked positions at this open.
            with acct._lock:
                acct._track_capital(ts)
        bars = {syms[j]: self._bar(i, j, ts) for j in bar_cols}
        fills = broker._match(
            ts, bars, session_open=i in self.opens_session, session_close=i in self.closes_session
        )
        if fills:
            self._booked(i, fills)
        if lazy and fills and not self._lazy_ok():  # (without a fill nothing it reads moved)
            # The fills left a state the shortcut does not cover: mark every position at
            # this bar's open (where the ledger would have them) and close as usual.
            self._refresh(list(self.stale), i, self.open_eff[i])
            lazy = False
        c_row = self.c[i]
        if self.eager:
            cols = bar_cols
        elif lazy:
            cols = bar_cols
            acct._unmarked = self._stale_value(self.lastc[i]) if self.stale else 0
        else:
            cols = sorted({j for j in self.held if present[j]}.union(bar_cols))
        check = bars
        if broker.check_extremes and not self.eager and not lazy:
            check = {syms[j]: bars.get(syms[j]) or self._bar(i, j, ts) for j in self.held if present[j]}
        # Under ``_lazy_ok`` (long-only, no loan, healthy, still so after the fills) the
        # margin check finds the account healthy at any prices: it is skipped.
        broker._end_bar(ts, {syms[j]: c_row.item(j) for j in cols}, check, check=not lazy)
        self.at = i
        self.lazy_bar = lazy
        if self.eager:
            self.lc_at = i
        return fills

    def _bar(self, i: int, j: int, ts: pd.Timestamp) -> Bar:
        return _new_bar(
            ts, self.o.item(i, j), self.h.item(i, j), self.lo.item(i, j), self.c.item(i, j), self.v.item(i, j)
        )

    def _events(self, i: int, ts: pd.Timestamp) -> None:
        """Apply bar ``i``'s dividends and splits, before the bar trades (as ``replay`` does)."""
        acct, broker = self.acct, self.broker
        if i > 0:
            # The ledger and the broker saw the previous closes of every symbol: a split
            # divides those prices (and records the mark), held or not.
            self._sync_last_close(i - 1)
            split_cols = [self.col[s] for s, _ in self.splits.get(i, ())]
            marks = {self.symbols[j]: int(self.lastc[i - 1, j]) for j in split_cols if self.lastc[i - 1, j]}
            acct.mark_ticks(marks, self._stamp_of(i - 1))
        for sym, amount in self.dividends.get(i, ()):
            acct.dividend(sym, amount, ts)
        touched = []
        for sym, ratio in self.splits.get(i, ()):
            broker.apply_split(sym, ratio, ts)  # divides the broker's last price too
            touched.append(sym)
        if touched:
            self._lots_changed(i, touched)

    def _booked(self, i: int, fills: list[Fill]) -> None:
        """Account for bar ``i``'s fills: traded value, positions held."""
        # The broker sums the fills' exact notionals (minor units): one float per bar.
        broker = self.broker
        value = broker.traded_minor / self.minor_per_unit
        broker.traded_minor = 0
        self._traded[i] = self._traded.get(i, 0.0) + value
        self._lots_changed(i, [f.symbol for f in fills])

    def _lots_changed(self, i: int, symbols: list[str]) -> None:
        acct = self.acct
        for sym in symbols:
            j = self.col[sym]
            q = acct.position_lots(sym)
            old: int = self.lots.item(j)
            self.shorts += (q < 0) - (old < 0)
            self.worst += (abs(q) - abs(old)) * self.max_ticks[j] * self.k_num_list[j]
            self.lots[j] = q
            if q:
                self.held[j] = q
                self.fresh.add(j)  # booked and marked now (a stale position is marked first)
            else:
                self.held.pop(j, None)
                self.fresh.discard(j)
        self._lot_rows.append(i)
        self._lot_values.append(self.lots.copy())

    def _close_pass(self, i: int) -> bool:
        """``same_bar_close``: fill the orders placed at bar ``i`` at its close (look-ahead)."""
        broker = self.broker
        ts = self._stamp_of(i)
        wanted = broker._submitted_at(ts)
        if not wanted:
            return False
        self.sync(i)
        present = self.present[i]
        cols = {self.col[s] for s in wanted}.union(self.held)
        bars = {self.symbols[j]: self._bar(i, j, ts) for j in sorted(cols) if present[j]}
        fills = broker.fill_at_close(ts, bars, session_close=i in self.closes_session)
        if fills:
            self._booked(i, fills)
            for f in fills:
                self.strat.on_fill(self.ctx, f)
        self._dispatch()
        return True

    def _dispatch(self) -> None:
        """Hand new refusals (``on_reject``) and margin events (``on_margin_call``) over."""
        broker, strat, ctx = self.broker, self.strat, self.ctx
        while self.seen < len(broker.rejections):
            rej = broker.rejections[self.seen]
            self.seen += 1
            strat.on_reject(ctx, rej)
        while self.events_seen < len(broker.margin_events):
            event = broker.margin_events[self.events_seen]
            self.events_seen += 1
            strat.on_margin_call(ctx, event)
