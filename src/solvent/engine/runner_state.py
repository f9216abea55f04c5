"""The runner's state: the panel on the integer grid, the sessions, what is held and marked.

``Runner`` is built in layers, one module each, every layer calling only those below it:
this state (``RunnerState``: the arrays read per bar, the sessions, the positions held
and the arrays the figures are written to), ``marking`` (positions left unmarked and
bringing the ledger forward over quiet bars: ``sync`` for the context), ``quiet`` (which
bars may go unmarked, and recording each bar's figures), ``busy`` (a bar processed
through the broker) and ``runner`` (the loop).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.accounting.account import AccountFigures, AccountKind
from solvent.data.frame import BarData
from solvent.engine.context import Context
from solvent.engine.figures import FigureModel
from solvent.engine.last_closes import LastCloses
from solvent.engine.strategy import Strategy
from solvent.execution.broker import SimulatedBroker
from solvent.execution.matching import FillTiming
from solvent.model.instrument import Instrument

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_DAY = 86_400 * 10**9
_ASK = -2  # ``RunnerState.quiet_to`` before ``QuietBars._quiet_until`` looked at the state

Progress = Callable[[int, int], None]


def last_close_ticks(close: IntArray, present: BoolArray) -> IntArray:
    """Return each symbol's last close as of every row, in ticks (0 before its first bar)."""
    t = close.shape[0]
    idx = np.where(present, np.arange(t)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = close[np.maximum(idx, 0), np.arange(close.shape[1])]
    out: IntArray = np.where(idx >= 0, filled, 0)
    return out


#: Timestamps read per block by ``new_day_rows`` (its temporaries are reused).
DAY_BLOCK = 1 << 16


def new_day_rows(times: npt.NDArray[np.datetime64]) -> list[int]:
    """Return the rows whose calendar date differs from the row before's, in order.

    Block by block: the day numbers of a million stamps would be fresh run-sized memory.
    """
    ns = times.astype("datetime64[ns]", copy=False).view(np.int64)
    out: list[int] = []
    prev = 0
    for r0 in range(0, len(ns), DAY_BLOCK):
        day = ns[r0 : r0 + DAY_BLOCK] // NS_PER_DAY
        if r0 and day.item(0) != prev:
            out.append(r0)
        out.extend((np.flatnonzero(day[1:] != day[:-1]) + (r0 + 1)).tolist())
        prev = day.item(-1)
    return out


def events(
    values: FloatArray, neutral: float, symbols: tuple[str, ...]
) -> dict[int, list[tuple[str, float]]]:
    """Return ``{row: [(symbol, value), ...]}`` for the cells that differ from ``neutral``."""
    out: dict[int, list[tuple[str, float]]] = {}
    for r, c in zip(*np.nonzero(values != neutral), strict=True):
        out.setdefault(int(r), []).append((symbols[c], float(values[r, c])))
    return out


class RunnerState:
    """The state ``Runner`` works on (its parameters are ``Runner``'s)."""

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
        # Sessions are calendar dates of the (exchange-time) timestamps: the rows where
        # one starts and ends, a few thousand (lookups by set and bisection, no arrays of
        # the run's length).
        new_days = new_day_rows(self.times)
        self.new_days: list[int] = new_days
        self.session_starts: list[int] = [0, *new_days]
        self.session_ends: list[int] = [d - 1 for d in new_days] + [t - 1]
        # Read once per busy bar.
        self.opens_session = frozenset(self.session_starts)
        self.closes_session = frozenset(self.session_ends)
        self.dividends = events(panel.dividend, 0.0, panel.symbols) if panel.has_dividends else {}
        self.splits = events(panel.split, 1.0, panel.symbols) if panel.has_splits else {}
        # Minor units per currency unit: traded value arrives in minor units (``_booked``).
        self.minor_per_unit = 10**self.acct.currency.digits
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
        # A cash account's margin is what it holds, in full, for both rates (the ledger's
        # ``_position_margin``; it never holds a short): one array serves both.
        self.mm = self.im if self.acct.kind is AccountKind.CASH else np.zeros(t, dtype=np.int64)
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
        # Wired to ``Marking.sync`` and ``Marking.sync_orders`` when the run starts
        # (``Runner.run``).
        self.ctx = Context(panel, broker, before)

    def _drop_bars(self) -> None:
        """Let the bars' ticks go once the run is over (nothing reads them after).

        Five or more arrays of the run's size: the result is built without them, which
        lowers the run's peak memory by as much.
        """
        none = np.zeros((0, self.n), dtype=np.int64)
        self.o = self.h = self.lo = self.c = self.v = self.lastc = self.open_eff = none

    def last_new_day(self, k: int) -> int:
        """Return the last bar at or before ``k`` that opens a new session (-1: none after the first)."""
        n = bisect_right(self.new_days, k)
        return self.new_days[n - 1] if n else -1

    def session_end(self, k: int) -> int:
        """Return the last bar of bar ``k``'s session."""
        return self.session_ends[bisect_right(self.session_starts, k) - 1]

    def _stamp_of(self, i: int) -> pd.Timestamp:
        # One cache with the context: the strategy's ``ctx.timestamp`` of a bar is the
        # stamp the engine gave the ledger (a ``pd.Timestamp`` costs microseconds).
        ctx = self.ctx
        if i != ctx._stamp_i:
            ctx._stamp = pd.Timestamp(self.times[i])
            ctx._stamp_i = i
        return ctx._stamp
