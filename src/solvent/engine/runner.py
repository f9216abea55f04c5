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

Bringing the ledger forward over quiet bars replays what bar-by-bar marks would have
changed besides the figures: the session roll (prior-close NLV and margin, the
mark-to-market basis of the lots), made at the last new session with the marks of the
close before it, and the high-water mark of capital used, made at the first mark of its
peak. Both are exact because a quiet stretch has no fills and no overnight charges (no
borrow fees, no debit interest, no unsettled cash: ``FigureModel.of`` and
``Runner._quiet_until``); the roll's mark-to-market basis telescopes, and every other
effect of a roll is overwritten by the last one.

Unmarked positions are brought forward the same way (``Runner._refresh``): re-based on
the close before the last session roll they missed, then marked. While they wait, the
ledger's high-water mark of capital used counts them at the prices a mark would have
used (``Account._unmarked``, set before the bar's opens and closes are marked), and
order placement does not wait for them (``sync_orders``): no placement check of a cash
account reads a mark. Bringing the ledger forward for a placement leaves every held
position of such an account unmarked (``_catch_up``), and the broker's last prices are
written when it reads them (``LastCloses``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.accounting import rules
from solvent.accounting.account import AccountFigures, AccountKind, BuyingPowerMode
from solvent.data.frame import BarData
from solvent.engine.context import Context
from solvent.engine.figures import INT64_SAFE, FigureModel, exposure
from solvent.engine.gcpause import fewer_collections
from solvent.engine.strategy import Strategy
from solvent.execution.broker import SimulatedBroker
from solvent.execution.matching import FillTiming
from solvent.model.bar import Bar
from solvent.model.instrument import Instrument
from solvent.model.records import Fill
from solvent.model.slots import maker
from solvent.risk.pdt import PATTERN_DAY_TRADES, PdtPolicy
from solvent.risk.state import TradingState

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_DAY = 86_400 * 10**9
#: ``progress`` is called about this many times per run (plus once at the end).
PROGRESS_STEPS = 200
_ASK = -2  # ``Runner.quiet_to`` before ``_quiet_until`` looked at the state

#: ``Bar(...)`` without its frozen ``__init__`` (fields: timestamp, open, high, low,
#: close, volume): ints from the checked grid, 1.7 µs → under 1 µs.
_new_bar: Callable[..., Bar] = maker(Bar)

Progress = Callable[[int, int], None]


def last_close_ticks(close: IntArray, present: BoolArray) -> IntArray:
    """Return each symbol's last close as of every row, in ticks (0 before its first bar)."""
    t = close.shape[0]
    idx = np.where(present, np.arange(t)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = close[np.maximum(idx, 0), np.arange(close.shape[1])]
    out: IntArray = np.where(idx >= 0, filled, 0)
    return out


def events(
    values: FloatArray, neutral: float, symbols: tuple[str, ...]
) -> dict[int, list[tuple[str, float]]]:
    """Return ``{row: [(symbol, value), ...]}`` for the cells that differ from ``neutral``."""
    out: dict[int, list[tuple[str, float]]] = {}
    for r, c in zip(*np.nonzero(values != neutral), strict=True):
        out.setdefault(int(r), []).append((symbols[c], float(values[r, c])))
    return out


class LastCloses(dict[str, int]):
    """The broker's last prices, each written from the runner's row when first read.

    After quiet bars every symbol's last close has moved, but placing an order reads
    only its own symbol's (and those of working orders): writing all of them at each
    placement bar cost more than the placement. ``catch_up(row)`` makes ``row`` (the
    last closes as of a bar, 0 where a symbol had no bar yet) the truth for every symbol;
    a read of one symbol (``get``, ``[]``, ``in``: the broker reads no other way) writes
    its entry from it first. A write by the broker (a bar's close, a split) is newer than
    the row and stays.
    """

    __slots__ = ("_col", "_gen", "_row", "_seen")

    def __init__(self, col: dict[str, int], seed: Mapping[str, int]) -> None:
        super().__init__(seed)
        self._col = col
        self._row: IntArray = np.zeros(len(col), dtype=np.int64)
        self._gen = 0  # bumped by each ``catch_up``
        self._seen = [0] * len(col)  # the generation each symbol's entry is up to date with

    def catch_up(self, row: IntArray) -> None:
        """Let every symbol's entry be ``row``'s from now on (0: leave the entry as it is)."""
        self._row = row
        self._gen += 1

    def _read(self, key: str) -> None:
        j = self._col.get(key)
        if j is not None and self._seen[j] != self._gen:
            self._seen[j] = self._gen
            ticks: int = self._row.item(j)
            if ticks:
                dict.__setitem__(self, key, ticks)

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """Return the last price of ``key`` (``default`` when it has none)."""
        self._read(key)
        return dict.get(self, key, default)

    def __getitem__(self, key: str) -> int:
        self._read(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._read(key)
        return dict.__contains__(self, key)

    def __setitem__(self, key: str, value: int) -> None:
        j = self._col.get(key)
        if j is not None:
            self._seen[j] = self._gen
        dict.__setitem__(self, key, value)

    def update(self, other: Mapping[str, int]) -> None:  # type: ignore[override]
        """Write the entries of ``other`` (newer than the row)."""
        col, seen, gen = self._col, self._seen, self._gen
        for key in other:
            j = col.get(key)
            if j is not None:
                seen[j] = gen
        dict.update(self, other)


class Runner:
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

    def __init__(
        self,
        strategy: Strategy,
        panel: BarData,
        broker: SimulatedBroker,
        instruments: list[Instrument],
        ticks: tuple[IntArray, IntArray, IntArray, IntArray, IntArray],
        *,
        lazy: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.strat = strategy
        self.panel = panel
        self.broker = broker
        self.acct = broker.account
        self.symbols = list(panel.symbols)
        self.col = {s: j for j, s in enumerate(self.symbols)}
        self.t, self.n = panel.shape
        t = self.t
        self.o, self.h, self.lo, self.c, self.v = ticks
        self.present = panel.present
        # Every run-sized array costs fresh pages of memory on a first run (dear: more
        # than the arithmetic), so the common panel, where every symbol has every bar,
        # shares its arrays: its last closes are its closes, its opens its own.
        full = bool(self.present.all())
        self.lastc = self.c if full else last_close_ticks(self.c, self.present)
        # The mark a bar's open gives each symbol (its last close when it has no bar).
        if full:
            open_eff = self.o
        else:
            prev = np.vstack([np.zeros((1, self.n), dtype=np.int64), self.lastc[:-1]])
            open_eff = np.where(self.present, self.o, prev)
        self.max_ticks = [int(x) for x in self.c.max(axis=0, initial=0)]
        #: Each symbol's highest mark of the run (effective open or last close), in ticks.
        self.top_mark: list[int] = np.maximum(
            open_eff.max(axis=0, initial=0), self.lastc.max(axis=0, initial=0)
        ).tolist()
        self.times = panel.timestamps
        day = self.times.astype("datetime64[ns]").view(np.int64) // NS_PER_DAY
        # Sessions are calendar dates of the (exchange-time) timestamps: the rows where
        # one starts and ends, a few thousand (lookups by set and bisection, no arrays of
        # the run's length).
        new_days = (np.flatnonzero(day[1:] != day[:-1]) + 1).tolist()
        del day
        self.new_days: list[int] = new_days
        self.session_starts: list[int] = [0, *new_days]
        self.session_ends: list[int] = [d - 1 for d in new_days] + [t - 1]
        # Read once per busy bar.
        self.opens_session = frozenset(self.session_starts)
        self.closes_session = frozenset(self.session_ends)
        self.dividends = events(panel.dividend, 0.0, panel.symbols)
        self.splits = events(panel.split, 1.0, panel.symbols)
        self.multiplier = [float(i.multiplier) for i in instruments]
        self.model = FigureModel.of(self.acct, instruments) if lazy else None
        self.eager = not lazy
        self.same_bar = broker.fill_timing is FillTiming.SAME_BAR_CLOSE
        self.progress = progress
        # Busy bars may leave held positions without orders unmarked when buying power
        # does not move with prices (a cash account) and the figures model covers it.
        self.sym_lazy = (
            self.model is not None
            and self.acct.kind is AccountKind.CASH
            and not self.same_bar
            and not broker.check_extremes
        )
        # Read where positions go unmarked (``sym_lazy``), and for the bound on capital
        # used over a quiet stretch (``_catch_up``: the higher of each bar's open and close
        # as the ledger would see them, from the two maxima, with no array of its own).
        self.open_eff = open_eff
        k_num = self.model.k_num if self.model is not None else np.zeros(self.n, dtype=np.int64)
        self.k_num_list = [int(k) for k in k_num]
        self.stale: dict[int, int] = {}  # held column -> the bar whose close it is marked at
        self.stale_lk = np.zeros(self.n, dtype=np.int64)  # lots x k_num of the stale columns
        self.stale_mv = 0  # the stale positions' market values at their marks
        self.fresh: set[int] = set()  # held columns marked at the close of ``at``
        self.shorts = 0  # columns held short
        self.worst = 0  # sum of |lots| x highest close x k_num: bounds the int64 passes

        self.equity = np.zeros(t, dtype=np.int64)
        self.cash = np.zeros(t, dtype=np.int64)
        self.bp = np.zeros(t, dtype=np.int64)
        self.im = np.zeros(t, dtype=np.int64)
        self.mm = np.zeros(t, dtype=np.int64)
        self.traded = np.zeros(t)  # written after the run from ``_traded``
        self._traded: dict[int, float] = {}  # bar -> value traded (a numpy cell per fill is dear)
        self.lazy_rows = np.zeros(t, dtype=bool)  # figures computed by the model after the run
        self.lots = np.zeros(self.n, dtype=np.int64)
        self.held: dict[int, int] = {}  # column -> lots, the open positions
        self._lot_rows: list[int] = []
        self._lot_values: list[IntArray] = []
        #: Lots held per symbol after each bar (T, N), built after the run.
        self.lots_hist = np.zeros((0, self.n), dtype=np.int64)

        self.at = -1  # the ledger is marked at the close of bar ``at``
        self.cap_max = 0  # the ledger's high-water mark of capital used, as last read
        self.lc_at = -1  # the broker's last prices are the closes of bar ``lc_at``
        # The broker's last prices, written from ``lastc`` when it reads them.
        self.last_closes = LastCloses(self.col, broker._last_close)
        broker._last_close = self.last_closes
        self.stretch = -1  # first bar of the current run of quiet bars (-1: none)
        self.quiet_to = _ASK  # the last bar that may go unmarked (-1: none, _ASK: to look at)
        self.stretch_cash = 0
        self.stretch_bp: int | None = None  # buying power fixed for the stretch, or None
        self.const_bp_rows = np.zeros(t, dtype=bool)
        self._stretches: list[tuple[int, int, int, int | None]] = []  # quiet runs: start, end, cash, bp
        self.seen = 0  # rejections dispatched
        self.events_seen = 0  # margin events dispatched
        #: Counts for tests: busy and quiet bars, failed checks of the figure model, and
        #: positions a busy bar left unmarked.
        self.stats = {"busy": 0, "quiet": 0, "model_mismatch": 0, "unmarked": 0}
        self.lazy_bar = False  # the last busy bar left positions unmarked
        # The figures ``_record`` read, while nothing could have changed them since: the
        # strategy reaches the ledger only through ``sync_orders`` (placing, cancelling,
        # reading), which drops them. ``_quiet_until`` reads them instead of the ledger.
        self.recorded: AccountFigures | None = None
        before = pd.Timestamp(self.times[0]) - pd.Timedelta(1, "ns")
        self.ctx = Context(panel, broker, before, self.sync, self.sync_orders)

    def last_new_day(self, k: int) -> int:
        """Return the last bar at or before ``k`` that opens a new session (-1: none after the first)."""
        n = bisect_right(self.new_days, k)
        return self.new_days[n - 1] if n else -1

    def session_end(self, k: int) -> int:
        """Return the last bar of bar ``k``'s session."""
        return self.session_ends[bisect_right(self.session_starts, k) - 1]

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        """Run the strategy over every bar (with fewer cyclic collections: ``gcpause``)."""
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

    def _stamp_of(self, i: int) -> pd.Timestamp:
        # One cache with the context: the strategy's ``ctx.timestamp`` of a bar is the
        # stamp the engine gave the ledger (a ``pd.Timestamp`` costs microseconds).
        ctx = self.ctx
        if i != ctx._stamp_i:
            ctx._stamp = pd.Timestamp(self.times[i])
            ctx._stamp_i = i
        return ctx._stamp

    # -- busy bars ---------------------------------------------------------------------

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
        if lazy:
            # Only the positions with orders are marked; the others stay where they were
            # (marked at the close of ``i - 1`` or earlier) until someone reads them.
            for j in self.fresh.difference(wanted):
                self._go_stale(j, i - 1)
            if self.stale:
                self._refresh([j for j in wanted if j in self.stale], i - 1, self.lastc[i - 1])
        elif self.stale:
            self._refresh(list(self.stale), i - 1, self.lastc[i - 1])
        if events:
            self._events(i, ts)
        broker._begin_bar(ts)
        o_row = self.o[i]
        if self.eager:
            cols = np.flatnonzero(present).tolist()
            bar_cols = cols
        else:
            held = self.held
            bar_cols = [j for j in wanted if present[j]]
            cols = [j for j in bar_cols if j in held] if lazy else [j for j in held if present[j]]
        if lazy:  # (no row to read when nothing is unmarked)
            acct._unmarked = self._stale_value(self.open_eff[i]) if self.stale else 0
        acct.mark_ticks({syms[j]: o_row.item(j) for j in cols}, ts)
        bars = {syms[j]: self._bar(i, j, ts) for j in bar_cols}
        fills = broker._match(
            ts, bars, session_open=i in self.opens_session, session_close=i in self.closes_session
        )
        if fills:
            self._booked(i, fills)
        if lazy and not self._lazy_ok():
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
        if broker.check_extremes and not self.eager:
            check = {syms[j]: bars.get(syms[j]) or self._bar(i, j, ts) for j in self.held if present[j]}
        broker._end_bar(ts, {syms[j]: c_row.item(j) for j in cols}, check)
        self.at = i
        self.lazy_bar = lazy
        if self.eager:
            self.lc_at = i
        return fills

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
        acct, lastc, syms = self.acct, self.lastc, self.symbols
        b = self.last_new_day(upto)
        for j in cols:
            k = self.stale.pop(j)
            self.stale_mv -= self.stale_lk.item(j) * lastc.item(k, j)
            self.stale_lk[j] = 0
            acct._restate(syms[j], int(lastc[b - 1, j]) if b > k else None, int(prices[j]))
            self.fresh.add(j)
        if not self.stale:
            acct._unmarked = 0

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
        value = 0.0
        touched = []
        for f in fills:
            value += abs(float(f.quantity * f.price)) * self.multiplier[self.col[f.symbol]]
            touched.append(f.symbol)
        self._traded[i] = self._traded.get(i, 0.0) + value
        self._lots_changed(i, touched)

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

    # -- quiet bars ----------------------------------------------------------------------

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

    # -- bringing the ledger forward -------------------------------------------------------

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
        if ceiling > self.cap_max:
            if len(cols) == 1:  # one position: a plain slice, no fancy indexing
                c0 = cols[0]
                top = [max(int(self.open_eff[rows, c0].max()), int(self.lastc[rows, c0].max()))]
                bound = lots[0] * k_num[0] * top[0]
            else:
                top = np.maximum(
                    self.open_eff[rows, cols].max(axis=0), self.lastc[rows, cols].max(axis=0)
                ).tolist()
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
                opens = np.where(self.present[rows, cols], self.o[rows, cols], self.lastc[a:k, cols])
                seen = np.empty(2 * (k - a), dtype=np.int64)
                seen[0::2] = exposure(q, opens, kn)
                seen[1::2] = exposure(q, self.lastc[rows, cols], kn)
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

    def _finish(self) -> None:
        """After the last bar: the ledger at the last close, every symbol marked at it."""
        k = self.t - 1
        self.sync(k)
        row = self.lastc[k]
        cols = np.flatnonzero(row).tolist()
        self.acct.mark_ticks({self.symbols[j]: int(row[j]) for j in cols}, self._stamp_of(k))
        self.ctx.i = k
