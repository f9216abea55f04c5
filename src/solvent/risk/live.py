"""The margin monitor on a background thread, for live and paper accounts.

Every ``heartbeat`` seconds the thread takes ``account.snapshot()`` under the
account's lock (one consistent set of figures, never half of a fill), files the account
into its margin band with the same rule as the backtest (``rules.margin_band``), and
puts every transition of band or trading state on ``events`` (a ``queue.Queue``) as a
``MarginEvent``. A flat account has a ratio of 1 (no division by zero).

The monitor reports; it does not trade. Whoever owns the broker connection reads the
queue and acts (reduce, liquidate, halt).

::

    with LiveMarginMonitor(account, heartbeat=0.5) as monitor:
        ...
        event = monitor.events.get(timeout=1)
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd

from solvent.accounting import rules
from solvent.errors import InvalidInputError
from solvent.model.money import Number
from solvent.risk.monitor import EventKind, MarginBands, MarginEvent, MarginMonitor, resolve_bands
from solvent.risk.state import TradingStateMachine

if TYPE_CHECKING:
    from solvent.accounting.account import Account

#: Default time between two checks, in seconds.
DEFAULT_HEARTBEAT = 0.5


class LiveMarginMonitor:
    """Check an account's margin health on a background thread.

    Parameters
    ----------
    account
        The live ledger; read only through ``account.snapshot()`` under its lock.
    bands
        Band thresholds (``MarginBands`` or a mapping); Reg T style defaults.
    heartbeat
        Seconds between checks (default 0.5).
    events
        The queue transitions are put on (a new ``queue.Queue`` by default).
    on_event
        Optional callback, called on the monitor thread for each event.
    clock
        Returns the timestamp of a check; default: the account's last event time, or
        the wall clock when the account has seen none.

    Notes
    -----
    ``start()`` and ``stop()`` are idempotent; ``stop()`` joins the thread. The monitor
    can be started again after a stop. An exception raised while checking (by
    ``on_event``, say) is kept in ``error`` and stops the thread; ``stop()`` then
    re-raises it.
    """

    def __init__(
        self,
        account: Account,
        *,
        bands: MarginBands | Mapping[str, Number] | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
        events: queue.Queue[MarginEvent] | None = None,
        on_event: Callable[[MarginEvent], None] | None = None,
        clock: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        if (
            isinstance(heartbeat, bool)
            or not isinstance(heartbeat, (int, float))
            or not 0 < heartbeat < math.inf
        ):
            raise InvalidInputError("heartbeat", heartbeat, "must be a positive number of seconds")
        self.account = account
        self.heartbeat = float(heartbeat)
        self.events: queue.Queue[MarginEvent] = events if events is not None else queue.Queue()
        self.on_event = on_event
        self.clock = clock
        self.error: BaseException | None = None
        self.checks = 0
        self._monitor = MarginMonitor(resolve_bands(bands))
        self._state = TradingStateMachine()
        self._guard = threading.Lock()  # start/stop from several threads
        self._checking = threading.Lock()  # check() from the thread and from a caller
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Return whether the monitor thread is alive."""
        t = self._thread
        return t is not None and t.is_alive()

    @property
    def band(self) -> str:
        """Return the band found by the last check."""
        return self._monitor.band.value

    @property
    def state(self) -> str:
        """Return the trading state found by the last check."""
        return self._state.state.value

    def start(self) -> LiveMarginMonitor:
        """Start the thread (a no-op when it is already running); return ``self``."""
        with self._guard:
            if self.running:
                return self
            self.error = None
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="solvent-margin-monitor", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread and wait for it (a no-op when it is not running).

        Raises
        ------
        BaseException
            The error that stopped the thread, if one did.
        """
        with self._guard:
            thread, self._thread = self._thread, None
            self._stop.set()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
        error, self.error = self.error, None
        if error is not None:
            raise error

    def __enter__(self) -> LiveMarginMonitor:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, stop: threading.Event) -> None:
        try:
            while True:
                self.check()
                if stop.wait(self.heartbeat):
                    return
        except BaseException as exc:  # kept for stop() to re-raise in the owner's thread
            self.error = exc

    def check(self) -> list[MarginEvent]:
        """Run one check now (the thread calls this each heartbeat); return its events."""
        with self._checking:
            return self._check()

    def _check(self) -> list[MarginEvent]:
        account = self.account
        with account.lock:
            snap = account.snapshot()
        ts = self.clock() if self.clock is not None else snap.timestamp
        if ts is None:
            ts = pd.Timestamp.now()
        out: list[MarginEvent] = []
        before = self._state.state
        event = self._monitor.check(ts, snap.nlv, snap.gross_exposure, snap.maintenance_margin)
        if event is not None:
            out.append(event)
        halted = rules.is_halted(snap.nlv.minor, snap.gross_exposure.minor)
        step = self._state.update(self._monitor.band, halted)
        if step.state is not before:
            ratio = rules.margin_ratio_ppm(snap.nlv.minor, snap.gross_exposure.minor)
            out.append(
                MarginEvent(
                    ts,
                    EventKind.TRADING_STATE,
                    before.value,
                    step.state.value,
                    ratio,
                    snap.nlv,
                    snap.maintenance_margin,
                )
            )
        self.checks += 1
        for e in out:
            self.events.put(e)
            if self.on_event is not None:
                self.on_event(e)
        return out
