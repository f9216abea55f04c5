"""The threaded margin monitor on a live account (short heartbeats keep these fast)."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from solvent import Account, Money, make_fill
from solvent.errors import InvalidInputError
from solvent.risk import LiveMarginMonitor, MarginEvent

T0 = "2024-01-02 10:00"


def _levered() -> Account:
    """10,000 of cash, 200 X bought at 100.00: 2x, healthy (ratio 50%)."""
    acct = Account(10_000, kind="margin", instruments=["X"])
    acct.apply_fill(make_fill("X", 200, "100.00", T0))
    return acct


def test_crash_on_a_live_account_is_reported_within_one_second() -> None:
    acct = _levered()
    with LiveMarginMonitor(acct, heartbeat=0.02) as monitor:
        deadline = time.monotonic() + 1.0
        while monitor.checks == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert monitor.events.empty()  # healthy: nothing to report
        crashed_at = time.monotonic()
        acct.mark("X", "40.00", "2024-01-02 10:01")  # another thread's price update
        event = monitor.events.get(timeout=1.0)
        elapsed = time.monotonic() - crashed_at
        state = monitor.events.get(timeout=1.0)
    assert elapsed < 1.0
    # 200 x 40 = 8,000; NLV -10,000 + 8,000 = -2,000; MM 25% x 8,000 = 2,000.
    assert (event.kind.value, event.from_, event.to) == ("margin", "healthy", "liquidating")
    assert (event.nlv, event.maintenance_margin) == (Money.of(-2000), Money.of(2000))
    assert event.timestamp.isoformat() == "2024-01-02T10:01:00"  # the account's time, not the wall clock
    assert (state.kind.value, state.from_, state.to) == ("trading_state", "active", "halted")
    assert not monitor.running


def test_flat_account_is_checked_without_division_by_zero_and_reports_nothing() -> None:
    acct = Account(5_000, kind="margin", instruments=["X"])
    monitor = LiveMarginMonitor(acct, heartbeat=0.005)
    monitor.start()
    deadline = time.monotonic() + 1.0
    while monitor.checks < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    monitor.stop()
    assert monitor.checks >= 5
    assert monitor.events.empty()
    assert (monitor.band, monitor.state) == ("healthy", "active")


def test_hundred_start_stop_cycles_leak_no_threads() -> None:
    acct = _levered()
    before = threading.active_count()
    monitor = LiveMarginMonitor(acct, heartbeat=0.001)
    for _ in range(100):
        monitor.start()
        monitor.start()  # idempotent: still one thread
        assert threading.active_count() == before + 1
        monitor.stop()
        monitor.stop()  # idempotent
    assert not monitor.running
    assert threading.active_count() == before


def test_check_runs_synchronously_and_reports_recovery() -> None:
    acct = _levered()
    got: list[MarginEvent] = []
    monitor = LiveMarginMonitor(acct, on_event=got.append, events=queue.Queue())
    assert monitor.check() == []
    acct.mark("X", "65.00", "2024-01-02 10:01")  # NLV 3,000 on 13,000: 23.1%, a call
    assert [(e.kind.value, e.to) for e in monitor.check()] == [
        ("margin", "margin_call"),
        ("trading_state", "reduce_only"),
    ]
    acct.mark("X", "100.00", "2024-01-02 10:02")
    assert [(e.kind.value, e.to) for e in monitor.check()] == [
        ("margin", "healthy"),
        ("trading_state", "active"),
    ]
    assert len(got) == 4 and monitor.events.qsize() == 4


def test_an_error_in_the_callback_stops_the_thread_and_is_raised_by_stop() -> None:
    acct = _levered()
    acct.mark("X", "40.00", "2024-01-02 10:01")

    def boom(event: MarginEvent) -> None:
        raise RuntimeError("callback failed")

    monitor = LiveMarginMonitor(acct, heartbeat=0.005, on_event=boom).start()
    deadline = time.monotonic() + 1.0
    while monitor.running and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not monitor.running
    with pytest.raises(RuntimeError, match="callback failed"):
        monitor.stop()
    monitor.stop()  # the error was handed over once


@pytest.mark.parametrize("heartbeat", [0, -1, float("nan"), float("inf"), True])
def test_bad_heartbeat_is_refused(heartbeat: float) -> None:
    with pytest.raises(InvalidInputError, match="heartbeat"):
        LiveMarginMonitor(Account(1000), heartbeat=heartbeat)
