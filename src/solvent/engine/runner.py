"""The bar loop of ``solvent.backtest``: the broker works only where something can happen.

Per timestamp ``i`` (``docs/engine.md``):

1. if an order is working, or a dividend or split falls on bar ``i``, or the account is
   in a state the lazy path does not cover, the bar is *busy*: the ledger is brought to
   the previous close, dividends and splits are applied, the broker marks the account
   at the opens, matches the working orders against the bars of their symbols, marks
   at the closes and runs the margin check; the figures of bar ``i`` are read from the
   ledger; ``on_fill``, ``on_reject`` and ``on_margin_call`` follow. In a cash
   account (buying power does not move with prices) a busy bar marks only the
   positions with working orders; the others stay *unmarked* (``Runner.stale``) until
   the strategy reads the account, and the bar's equity and margin are filled in like
   a quiet bar's;
2. otherwise the bar is *quiet*: nothing can fill, so nothing is marked; its figures
   are filled in after the run by ``figures.FigureModel`` from the account's (constant)
   cash and positions and the bar's closes;
3. ``on_bar``. When the strategy reads the account or places an order, the ledger is
   first brought to the close of bar ``i`` (``sync``), so it sees exactly what marking
   every bar would have shown.

Bringing the ledger forward over quiet bars replays the marks that leave a trace (the
session roll, the high-water mark of capital used) exactly: see ``marking``.

``Runner`` is built in layers, one module each, every layer calling only those below it:
``runner_state`` (``RunnerState``: the panel on the grid, sessions, positions, the
figure arrays), ``marking`` (``Marking``: unmarked positions, ``sync``), ``quiet``
(``QuietBars``: how far bars may go unmarked, recording figures), ``busy``
(``BusyBars``: a bar through the broker) and this module (the loop).
"""

from __future__ import annotations

import numpy as np

from solvent.engine.busy import BusyBars
from solvent.engine.gcpause import fewer_collections
from solvent.engine.runner_state import _ASK
from solvent.engine.strategy import Strategy

#: ``progress`` is called about this many times per run (plus once at the end).
PROGRESS_STEPS = 200


class Runner(BusyBars):
    """Run one strategy over one panel through one broker (used once).

    Parameters
    ----------
    strategy, panel, broker, instruments
        What to run; ``instruments[j]`` belongs to ``panel.symbols[j]``.
    ticks
        ``(open, high, low, close, volume)`` of the panel on the integer grid (T, N).
    lazy
        Skip the ledger on quiet bars (default). ``False`` marks every bar and builds
        every symbol's bar: the reference the lazy path is tested against.
    progress
        Called as ``progress(bars_done, bars_total)`` every ~0.5% of the run.
    """

    def run(self) -> None:
        """Run the strategy over every bar (with fewer cyclic collections: ``gcpause``)."""
        # From here the strategy reads the ledger through the context: it is brought
        # forward first (``Marking.sync``), by the layer below that owns it.
        ctx = self.ctx
        ctx._sync, ctx._sync_orders = self.sync, self.sync_orders
        with fewer_collections():
            self._run()

    def _run(self) -> None:
        strat, ctx, broker = self.strat, self.ctx, self.broker
        t = self.t
        open_orders = broker._open  # the broker's list of working orders, kept in place
        rejections = broker.rejections
        on_bar = strat.on_bar
        # A refusal at placement changes nothing the loop reads (no reservation, no
        # fill): it only has to end a run of quiet bars for an ``on_reject`` to hear it.
        hears_rejects = getattr(strat.on_reject, "__func__", None) is not Strategy.on_reject
        same_bar = self.same_bar
        event_rows = [*sorted(set(self.dividends) | set(self.splits)), t]
        next_event, event_k = event_rows[0], 0
        step = max(1, t // PROGRESS_STEPS)
        tick_at = step if self.progress is not None else t

        strat.init(self.panel)
        strat.on_start(ctx)
        self._dispatch()
        i = 0
        while i < t:
            if i >= tick_at:
                assert self.progress is not None  # noqa: S101 - tick_at is t without it
                self.progress(i, t)
                tick_at += step
            if i == next_event:
                busy = True
                event_k += 1
                next_event = event_rows[event_k]
            elif open_orders:
                busy = True
            else:
                if self.quiet_to == _ASK:  # first quiet candidate since the last busy bar
                    self.quiet_to = self._quiet_until()
                busy = i > self.quiet_to
            if busy:
                self._end_stretch(i)
                fills = self._busy(i)
                if not same_bar:
                    self._record(i)
                ctx.i = i
                for f in fills:
                    strat.on_fill(ctx, f)
                self._dispatch()
            elif self.stretch < 0:
                self.stretch = i
            if busy or same_bar:
                self._after_bar(i, busy)
                i += 1
                continue
            # Quiet bars in a row: only the strategy runs, until it places an order (or
            # has one refused, when it hears of refusals before its next bar).
            seen = self.seen
            j = i
            stop = min(self.quiet_to + 1, next_event, tick_at)
            if hears_rejects:
                for j in range(i, stop):
                    ctx.i = j
                    on_bar(ctx)
                    if open_orders or len(rejections) != seen:
                        break
            else:
                for j in range(i, stop):
                    ctx.i = j
                    on_bar(ctx)
                    if open_orders:
                        break
            self._dispatch()
            i = j + 1
        self._end_stretch(t)
        self._finish()
        strat.on_end(ctx)
        self._dispatch()
        self.lots_hist = self.positions()
        self.traded[list(self._traded)] = list(self._traded.values())
        self._fill_quiet_rows()
        self._drop_bars()
        ctx._finished()
        if self.progress is not None:
            self.progress(t, t)

    def _after_bar(self, i: int, busy: bool) -> None:
        """Call ``on_bar`` for bar ``i``; in same-bar mode, fill at the close and record."""
        ctx = self.ctx
        ctx.i = i
        self.strat.on_bar(ctx)
        self._dispatch()
        if self.same_bar:
            passed = self._close_pass(i)
            if passed or busy:
                self._end_stretch(i)
                self._record(i)

    def _finish(self) -> None:
        """After the last bar: the ledger at the last close, every symbol marked at it."""
        k = self.t - 1
        self.sync(k)
        row = self.lastc[k]
        cols = np.flatnonzero(row).tolist()
        self.acct.mark_ticks({self.symbols[j]: int(row[j]) for j in cols}, self._stamp_of(k))
        self.ctx.i = k
