"""Plain market orders placed in one pass must leave what ``_place`` leaves.

``SimulatedBroker._market`` (``order_value``, ``close_position``, a plain ``order``)
builds, checks, reserves and records a GTC market order itself when every check passes,
and hands anything else to ``_place``. Random sequences of orders and bars, under every
setting the check depends on, go through a broker with the one-pass path and through
one without it (``_one_pass = False``: every order through ``_place``): the views,
refusals, warnings, status changes, reservations, fills and the ledger must be equal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvent
from solvent import Account
from solvent.data import BarData
from solvent.errors import InsufficientFundsError, InvalidInputError
from solvent.execution.broker import SimulatedBroker
from solvent.execution.costs import BasisPoints, CommissionModel, FixedBps, PercentOfValue, PerShare
from solvent.model.bar import Bar
from solvent.model.instrument import Instrument
from solvent.model.money import Money
from solvent.model.orders import Intent, OrderStatus
from solvent.model.records import ReasonCode


class _Placed(SimulatedBroker):
    """Every order through ``_place``: the reference the one-pass path must match."""

    _one_pass = False


class _GenericFee(PercentOfValue):
    """``PercentOfValue``'s fee through the generic cost function (not a lowered type)."""

    __slots__ = ()


_STAMPS = pd.date_range("2024-01-02 09:30", periods=80, freq="6h")
_SYMBOLS = ("X", "Y", "Z")
_INTENTS = (None, Intent.CLOSE, Intent.REDUCE, Intent.OPEN, Intent.INCREASE, Intent.REVERSE, "close", "bogus")


def _instruments() -> list[Instrument]:
    return [
        Instrument("X", tick_size=Decimal("0.01")),
        Instrument("Y", tick_size=Decimal("0.005"), lot_size=Decimal("0.5")),  # k_den > 1
        Instrument("Z", tick_size=Decimal("0.01"), shortable=False),
    ]


def _commission(name: str) -> CommissionModel:
    return {
        "pct": PercentOfValue("0.001"),
        "bps": BasisPoints(25),
        "share": PerShare("0.01", minimum="1.00"),
        "generic": _GenericFee("0.002"),
    }[name]


# One step: (operation, symbol, lots, budget in cents, intent, next bar's open in cents,
# whether the bar comes now or the next step's order joins this one's while it works).
_step = st.tuples(
    st.sampled_from(["buy", "buy", "sell", "order", "value", "value", "close", "intent", "cancel"]),
    st.integers(0, 2),
    st.integers(-300, 300),
    st.integers(-2_000_000, 5_000_000),
    st.integers(0, len(_INTENTS) - 1),
    st.integers(300, 40_000),
    st.sampled_from([True, False, False]),
)


def _run(cls: type[SimulatedBroker], config: dict[str, Any], steps: list[tuple[Any, ...]]) -> list[Any]:
    acct = Account(
        Decimal(config["cash"]) / 100, kind=config["kind"], instruments=_instruments(), pdt=config["pdt"]
    )
    broker = cls(
        acct,
        commission=_commission(config["commission"]),
        slippage=FixedBps(7) if config["slippage"] else None,
        volume_limit=None,
        partial_fills=config["partial"],
        validation=config["validation"],
        short_cash=config["short_cash"],
        placement_check=config["placement_check"],
    )
    for sym in _SYMBOLS[: config["priced"]]:
        broker.observe_close(sym, 10_000)
    out: list[Any] = []
    for k, (op, j, lots, cents, intent_k, open_cents, bar) in enumerate(steps):
        ts = _STAMPS[2 * k]
        sym = _SYMBOLS[j]
        try:
            if op in ("buy", "sell", "order"):
                n = lots
                if op == "buy":
                    n = abs(lots) + 1
                elif op == "sell":  # part of what is held (or a short where nothing is)
                    n = -min(abs(lots) + 1, acct.position_lots(sym)) or -abs(lots) - 1
                view = broker.submit(sym, broker.account.instrument(sym).quantity(n), ts)
            elif op == "value":
                view = broker.submit_value(sym, Decimal(cents) / 100, ts, tag="v")
            elif op == "close":
                held = acct.position_lots(sym)
                view = broker._submit_lots(sym, -held, ts, "c", Intent.CLOSE) if held else None
            elif op == "intent":
                view = broker._submit_market(sym, lots, ts, None, _INTENTS[intent_k])
            elif op == "cancel" and broker._open:
                view = broker.cancel(broker._open[0].order.order_id, ts)
            else:
                view = None
        except (InsufficientFundsError, InvalidInputError, ValueError) as exc:
            view = (type(exc).__name__, str(exc))
        book = acct._reservations
        # What placement leaves before any fill: reservations and the credit relied on.
        out.append((view, book.total, book.total_long, book.total_short, sorted(book._by_id)))
        out.append([(w.order.order_id, w.credit, w.reserved, w.lots) for w in broker._open])
        if not bar and k + 1 < len(steps):
            continue
        nxt = _STAMPS[2 * k + 1]
        price = open_cents if sym != "Y" else open_cents // 2 * 2 + 1  # Y on its half-cent grid
        bars = {s: Bar(nxt, price, price * 103 // 100, price * 97 // 100, price, 10**9) for s in _SYMBOLS}
        try:
            broker.on_bar(nxt, bars)
        except InsufficientFundsError as exc:  # ``strict`` at the fill
            out.append(str(exc))
    out += [
        broker.rejections,
        broker.warnings,
        broker.status_changes,
        broker.fills,
        broker.orders(),
        [(w.order.order_id, w.credit, w.reserved, w.lots, w.value) for w in broker._orders.values()],
        sorted((oid, r.amount, r.remaining, r.symbol, r.short, r.tag) for oid, r in book._by_id.items()),
        (book.total, book.total_long, book.total_short),
        (acct._cash, acct.nlv, acct.buying_power, broker.margin_events),
    ]
    return out


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["cash", "margin"]),
    validation=st.sampled_from(["reject", "reject", "off", "warn", "strict"]),
    commission=st.sampled_from(["pct", "bps", "share", "generic"]),
    slippage=st.booleans(),
    short_cash=st.sampled_from(["reg_t", "reg_t", "credit"]),
    partial=st.booleans(),
    placement_check=st.sampled_from([True, True, False]),
    pdt=st.sampled_from(["block", None]),
    cash=st.integers(0, 10_000_000),
    priced=st.sampled_from([3, 3, 3, 1, 0]),
    steps=st.lists(_step, min_size=1, max_size=14),
)
def test_one_pass_market_orders_same_records_as_place(**config: Any) -> None:
    steps = config.pop("steps")
    assert _run(SimulatedBroker, config, steps) == _run(_Placed, config, steps)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["cash", "margin"]),
    commission=st.sampled_from(["pct", "bps", "share"]),
    partial=st.booleans(),
    cash=st.integers(1, 2_000).map(lambda k: k * 100_000),
    steps=st.lists(_step, min_size=2, max_size=14),
)
def test_one_pass_checked_orders_same_records_as_place(**config: Any) -> None:
    # The checked path itself (``reject``, every symbol priced), where pending exits
    # and reservations meet.
    steps = config.pop("steps")
    config |= {
        "validation": "reject",
        "slippage": False,
        "short_cash": "reg_t",
        "placement_check": True,
        "pdt": "block",
        "priced": 3,
    }
    assert _run(SimulatedBroker, config, steps) == _run(_Placed, config, steps)


def test_order_value_accepted_reserves_cost_and_records_one_change() -> None:
    # 1,000.00 at 100.00 a share, 0.1%: 9 shares (900.90; 10 would cost 1,001.00).
    acct = Account(cash=Decimal("5000.00"), kind="cash", instruments=["X"])
    broker = SimulatedBroker(acct, commission=PercentOfValue("0.001"), volume_limit=None)
    broker.observe_close("X", 10_000)
    view = broker.submit_value("X", Decimal("1000.00"), pd.Timestamp("2024-01-02"))
    assert view.status is OrderStatus.ACCEPTED
    assert view.quantity == Decimal(9)
    assert view.filled_quantity == Decimal(0)
    assert view.commission == Money(0)
    assert view.reason is None
    assert [c.status for c in view.history] == [OrderStatus.ACCEPTED]
    assert acct.reserved == Money(90_090)
    assert broker.view(view.order_id) == view


def test_order_reservation_id_held_by_caller_not_reserved_twice() -> None:
    acct = Account(cash=Decimal("1000.00"), kind="cash", instruments=["X"])
    broker = SimulatedBroker(acct, commission=PercentOfValue("0.001"), volume_limit=None)
    broker.observe_close("X", 10_000)
    assert acct.reserve("o1", Money(5_000))  # held under the id the next order gets
    view = broker.submit("X", 2, pd.Timestamp("2024-01-02"))
    assert view.status is OrderStatus.ACCEPTED
    assert acct.reserved == Money(5_000)  # not 200.20 more
    assert broker._orders["o1"].reserved is False


def test_order_with_pending_sale_relies_on_its_proceeds() -> None:
    # Hold 10 X; a pending sale of 10 at 100.00 frees 999.00 (0.1% commission); a buy
    # of 5 Y at 100.00 (500.50) relies on it wholly and reserves nothing.
    acct = Account(cash=Decimal("1000.00"), kind="cash", instruments=["X", "Y"])
    broker = SimulatedBroker(acct, commission=PercentOfValue("0.001"), volume_limit=None)
    t0, t1, t2 = pd.date_range("2024-01-02", periods=3, freq="D")
    broker.observe_close("X", 9_000)
    broker.observe_close("Y", 10_000)
    broker.submit("X", 10, t0)
    broker.on_bar(t1, {s: Bar(t1, 9_000, 9_000, 9_000, 10_000, 10**6) for s in ("X", "Y")})
    sale = broker.submit("X", -10, t2)
    buy = broker.submit("Y", 5, t2)
    assert (sale.status, buy.status) == (OrderStatus.ACCEPTED, OrderStatus.ACCEPTED)
    assert broker._orders[buy.order_id].credit == 50_050
    assert acct.reserved == Money(0)


def test_order_over_buying_power_refused_with_reason_and_detail() -> None:
    acct = Account(cash=Decimal("100.00"), kind="cash", instruments=["X"])
    broker = SimulatedBroker(acct, commission=PercentOfValue("0.001"), volume_limit=None, partial_fills=False)
    broker.observe_close("X", 10_000)
    view = broker.submit("X", 1, pd.Timestamp("2024-01-02"))
    assert view.status is OrderStatus.REJECTED
    assert view.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert broker.rejections[-1].detail == "needs 100.10, 100.00 available"
    assert acct.reserved == Money(0)


@pytest.mark.parametrize(
    ("quantity", "intent", "error"),
    [(0, None, "quantity"), (1.5, None, "quantity"), (3, "bogus", "bogus"), (True, None, "quantity")],
)
def test_plain_order_bad_input_raises_and_takes_id_as_build_does(
    quantity: Any, intent: str | None, error: str
) -> None:
    brokers = []
    for cls in (SimulatedBroker, _Placed):
        acct = Account(cash=Decimal("1000.00"), kind="cash", instruments=["X"])
        broker = cls(acct, volume_limit=None)
        broker.observe_close("X", 1_000)
        with pytest.raises((InvalidInputError, ValueError), match=error):
            broker._submit_market("X", quantity, pd.Timestamp("2024-01-02"), None, intent)
        brokers.append(broker.submit("X", 1, pd.Timestamp("2024-01-02")).order_id)
    assert brokers[0] == brokers[1]


class _Mixed(solvent.Strategy):
    """Plain orders through ``ctx.order`` (or the typed path), a close and a target."""

    typed = False

    def on_bar(self, ctx: solvent.Context) -> None:
        kw: dict[str, Any] = {"type": "market"} if self.typed else {}
        if ctx.i == 0:
            ctx.order("X", 4, tag="a", **kw)
            ctx.order("Y", Decimal("2"), intent="open", **kw)
            ctx.order("X", 10_000, **kw)  # cut to what is left, or refused
        elif ctx.i == 1:
            ctx.order("Y", -2, intent=Intent.CLOSE, **kw)
            ctx.order("X", 1, intent="reduce", **kw)  # intent mismatch
        elif ctx.i == 2:
            ctx.order_target_percent("Y", "0.3")
            ctx.close_position("X", tag="out")


@pytest.mark.parametrize("account", ["cash", "margin"])
def test_context_plain_order_same_tables_as_typed_market_order(account: str) -> None:
    n = 5
    close = np.array([[10.0, 20.0], [11.0, 19.0], [12.0, 21.0], [13.0, 22.0], [12.5, 20.5]])
    times = pd.date_range("2024-01-02", periods=n, freq="D").to_numpy()
    data = BarData(times, ("X", "Y"), close, close, close, close, np.full((n, 2), 1e6))
    plain, typed = (
        solvent.backtest(_Mixed(typed=t), data, cash=1_000, account=account, commission=0.001)
        for t in (False, True)
    )
    pd.testing.assert_frame_equal(plain.orders, typed.orders)
    pd.testing.assert_frame_equal(plain.fills, typed.fills)
    pd.testing.assert_frame_equal(plain.rejections, typed.rejections)
    assert set(plain.rejections["reason"]) == {"INSUFFICIENT_BUYING_POWER", "INTENT_MISMATCH"}
