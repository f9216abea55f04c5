"""Speed round 3: the orders table from the broker's state, and fewer GC passes in a run.

The orders table is built from ``SimulatedBroker.order_states`` (no ``OrderView`` per
order); it must equal the table built from the views, row for row and to the cent.
``gcpause.fewer_collections`` raises the young GC threshold for a run and gives the
caller's thresholds back.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import solvent
from _bars import day, flat
from solvent import Account
from solvent.data import BarData
from solvent.engine.gcpause import YOUNG_THRESHOLD, fewer_collections
from solvent.execution.broker import SimulatedBroker
from solvent.model.orders import OrderStatus
from solvent.results.result import orders_frame, orders_frame_of


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    """Give the test the current GC thresholds and put them back afterwards."""
    old = gc.get_threshold()
    yield old
    gc.set_threshold(*old)


def test_fewer_collections_raises_young_threshold_then_restores(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_fewer_collections_restores_thresholds_on_error(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(500, 7, 3)
    with pytest.raises(ZeroDivisionError), fewer_collections():
        _ = 1 / 0
    assert gc.get_threshold() == (500, 7, 3)


def test_fewer_collections_keeps_thresholds_set_inside_block(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        gc.set_threshold(1234, 5, 5)  # user code chose its own: not ours to undo
    assert gc.get_threshold() == (1234, 5, 5)


def test_fewer_collections_leaves_disabled_threshold_at_zero(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(0, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (0, 10, 10)
    assert gc.get_threshold() == (0, 10, 10)


def test_fewer_collections_exit_collects_nothing(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[int] = []

    def log(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(log)
    try:
        with fewer_collections():
            kept = [[k] for k in range(5_000)]  # young containers, under the raised threshold
            seen.clear()
        after = [[k] for k in range(100)]  # would trigger a collection of the 5,000 at 700
    finally:
        gc.callbacks.remove(log)
    # Spliced into the oldest generation on the way out, the young count reset: nothing
    # was scanned for the allocations after the block.
    assert seen == []
    assert gc.get_freeze_count() == 0
    assert len(kept) == 5_000 and len(after) == 100


def test_fewer_collections_leaves_program_frozen_objects_frozen(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            kept = [[k] for k in range(1_000)]
        # ``unfreeze`` would have released them all (count 0). Not ``== frozen``: a frozen
        # object that dies meanwhile leaves the permanent generation (a flaky equality).
        assert gc.get_freeze_count() > frozen // 2
        assert len(kept) == 1_000
    finally:
        gc.unfreeze()


def test_backtest_restores_gc_thresholds_after_run(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    panel = _panel()

    class BuyOnce(solvent.Strategy):
        def on_bar(self, ctx: solvent.Context) -> None:
            if ctx.i == 3:
                ctx.order("A", 10)

    res = solvent.backtest(BuyOnce, panel, cash=10_000, account="cash")
    assert len(res.fills) == 1
    assert gc.get_threshold() == (700, 10, 10)


def _panel(n: int = 30) -> BarData:
    close = np.linspace(100.0, 129.0, n).reshape(n, 1)
    volume = np.full((n, 1), 1e6)
    times = pd.date_range("2024-01-02", periods=n, freq="D").to_numpy()
    return BarData(times, ("A",), close, close, close, close, volume)


def test_finished_run_is_freed_without_cycle_collector() -> None:
    # The context, its account view and its close row pointed back at the runner that
    # holds them: that cycle kept every record of the run alive until a full collection.
    refs: list[weakref.ReferenceType[solvent.Context]] = []

    class Touch(solvent.Strategy):
        def on_start(self, ctx: solvent.Context) -> None:
            refs.append(weakref.ref(ctx))

        def on_bar(self, ctx: solvent.Context) -> None:
            _ = ctx.account.cash, ctx.close, ctx.timestamp  # build the view, row and stamp
            if ctx.i == 3:
                ctx.order_value("A", ctx.account.cash.amount)
            elif ctx.i == 8:
                ctx.close("A")

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        res = solvent.backtest(Touch, _panel(), cash=10_000, account="cash")
        assert len(res.fills) == 2
        del res
        assert refs[0]() is None  # freed by reference counting alone
    finally:
        if was_enabled:
            gc.enable()


def test_order_states_frame_equals_views_frame_to_the_cent() -> None:
    # A: a cut order (10,000 cash at the 100.00 estimate buys 99 after 10 bps, asked 150),
    # filled at 100.00 with 9.90 commission; B: refused (90.10 left buys no share at 100.00);
    # A again: a working limit sell.
    acct = Account(10_000, kind="cash", instruments=["A", "B"])
    broker = SimulatedBroker(acct, commission=Decimal("0.001"))
    broker.on_bar(day(0), {"A": flat(day(0), "100"), "B": flat(day(0), "100")})
    cut = broker.submit("A", 150, day(0), tag="t")
    broker.on_bar(day(1), {"A": flat(day(1), "100"), "B": flat(day(1), "100")})
    refused = broker.submit("B", 10, day(1))
    working = broker.submit("A", -40, day(1), limit="120")
    by_views = orders_frame(broker.orders())
    by_states = orders_frame_of(broker.order_states())
    pd.testing.assert_frame_equal(by_states, by_views)
    rows = by_states.set_index("order_id")
    assert rows.loc[cut.order_id, ["accepted_quantity", "status", "filled_quantity"]].tolist() == [
        Decimal(99),
        "filled",
        Decimal(99),
    ]
    assert rows.loc[cut.order_id, "avg_fill_price"] == Decimal("100.00")
    assert rows.loc[cut.order_id, "commission"] == Decimal("9.90")  # 9,900.00 × 0.001
    assert rows.loc[cut.order_id, "reason"] == "SCALED_DOWN"
    assert rows.loc[refused.order_id, ["accepted_quantity", "status", "reason"]].tolist() == [
        Decimal(0),
        "rejected",
        "INSUFFICIENT_BUYING_POWER",
    ]
    assert broker.view(working.order_id).status is OrderStatus.ACCEPTED
    assert rows.loc[working.order_id, ["status", "limit", "commission"]].tolist() == [
        "accepted",
        Decimal("120.00"),
        Decimal("0.00"),
    ]
