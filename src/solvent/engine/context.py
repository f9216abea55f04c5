"""``Context``: what a strategy sees at one bar, and the way it places orders.

One ``Context`` is built per run and reused for every bar: the engine moves ``i``,
``timestamp`` and the row views; nothing else is allocated per bar.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.errors import InvalidInputError
from solvent.model.money import Money, Number, to_decimal
from solvent.model.orders import Intent, TimeInForce

if TYPE_CHECKING:
    from solvent.accounting.account import Account
    from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
    from solvent.data.frame import BarData
    from solvent.execution.broker import OrderView, SimulatedBroker

FloatRow = npt.NDArray[np.float64]


class AccountInfo:
    """Read-only access to the account for strategies (the ledger is never edited here)."""

    __slots__ = ("_account",)

    def __init__(self, account: Account) -> None:
        self._account = account

    @property
    def cash(self) -> Money:
        """Return the cash balance."""
        return self._account.cash

    @property
    def nlv(self) -> Money:
        """Return net liquidating value."""
        return self._account.nlv

    @property
    def buying_power(self) -> Money:
        """Return buying power net of pending orders' reservations."""
        return self._account.buying_power

    @property
    def initial_margin(self) -> Money:
        """Return the initial margin in use."""
        return self._account.initial_margin

    @property
    def maintenance_margin(self) -> Money:
        """Return the maintenance margin in use."""
        return self._account.maintenance_margin

    def quantity(self, symbol: str) -> Decimal:
        """Return the signed quantity held in ``symbol``."""
        return self._account.quantity(symbol)

    def position(self, symbol: str) -> PositionSnapshot:
        """Return a snapshot of one position (lots, average price, P&L)."""
        return self._account.position(symbol)

    def snapshot(self) -> AccountSnapshot:
        """Return every account figure at this moment."""
        return self._account.snapshot()


class Context:
    """The strategy's view of bar ``i`` and its order methods.

    Attributes
    ----------
    i
        Index of the current bar in ``data`` (``-1`` in ``on_start``).
    timestamp
        The current bar's timestamp (its open time).
    symbols
        The panel's symbols; column ``j`` of each row belongs to ``symbols[j]``.
    open, high, low, close, volume
        Read-only float rows of the current bar over ``symbols`` (NaN where a symbol
        has no bar). Precomputed views into ``data``: no copy per bar.
    data
        The whole ``BarData``; index arrays precomputed in ``Strategy.init`` by ``i``.
    account
        Read-only account figures (``AccountInfo``).
    """

    __slots__ = (
        "_broker",
        "account",
        "close",
        "data",
        "high",
        "i",
        "low",
        "open",
        "symbols",
        "timestamp",
        "volume",
    )

    def __init__(self, data: BarData, broker: SimulatedBroker, start: pd.Timestamp) -> None:
        self.data = data
        self.symbols = data.symbols
        self._broker = broker
        self.account = AccountInfo(broker.account)
        self.i = -1
        self.timestamp = start
        empty = np.full(len(data.symbols), np.nan)
        empty.setflags(write=False)
        self.open: FloatRow = empty
        self.high: FloatRow = empty
        self.low: FloatRow = empty
        self.close: FloatRow = empty
        self.volume: FloatRow = empty

    # -- account --------------------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """Return the signed quantity held in ``symbol`` (0 when flat)."""
        return self._broker.account.quantity(symbol)

    def pending(self, symbol: str) -> Decimal:
        """Return the signed quantity still to fill on working orders for ``symbol``."""
        return sum((v.quantity - v.filled_quantity for v in self._broker.open_orders(symbol)), Decimal(0))

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        """Return the working orders (of one symbol, or all)."""
        return self._broker.open_orders(symbol)

    def last_price(self, symbol: str) -> Decimal:
        """Return the last close of ``symbol``; raise if it never had a bar."""
        price = self._broker.last_price(symbol)
        if price is None:
            raise InvalidInputError(f"{symbol}.last_price", None, "no bar yet: the order cannot be sized")
        return price

    # -- orders ---------------------------------------------------------------------

    def order(
        self,
        symbol: str,
        quantity: Number,
        *,
        limit: Number | None = None,
        stop: Number | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        tag: str | None = None,
        intent: Intent | str | None = None,
    ) -> OrderView:
        """Place an order after this bar; it can fill from the next bar.

        The type follows the prices given: market, limit, stop or stop-limit. A refusal
        is an ``OrderView`` with status ``rejected`` and a reason code.
        """
        if limit is not None:
            otype = "stop_limit" if stop is not None else "limit"
        else:
            otype = "stop" if stop is not None else "market"
        return self._broker.submit(
            symbol,
            quantity,
            self.timestamp,
            type=otype,
            limit=limit,
            stop=stop,
            tif=tif,
            tag=tag,
            intent=intent,
        )

    def _lots_of(self, symbol: str, value: Decimal) -> Decimal:
        """Return the quantity ``value`` buys at the last close, truncated to the lot step."""
        inst = self._broker.account.instrument(symbol)
        units = value / (self.last_price(symbol) * inst.multiplier)
        return (units // inst.lot_size) * inst.lot_size  # // truncates toward zero

    def order_value(self, symbol: str, value: Number, *, tag: str | None = None) -> OrderView:
        """Buy (``value > 0``) or sell as much of ``symbol`` as ``|value|`` pays for, at market.

        The quantity is resolved at the fill (the next bar's open, after slippage): the
        most lots whose notional plus commission fits in ``|value|``. ``order_value(sym,
        ctx.account.cash.amount)`` is an all-in buy that never spends more than the cash.
        """
        return self._broker.submit_value(symbol, value, self.timestamp, tag=tag)

    def order_target_percent(self, symbol: str, pct: Number, *, tag: str | None = None) -> OrderView | None:
        """Move ``symbol`` to ``pct`` of net liquidating value at market.

        Target quantity = NLV × ``pct`` / last close, truncated toward zero to the lot
        step; the order is the target less the position less what working orders for
        the symbol will still fill. Returns ``None`` when nothing is to trade.
        """
        share = to_decimal(pct, f"{symbol}.order_target_percent")
        target = self._lots_of(symbol, self._broker.account.nlv.amount * share)
        delta = target - self.position(symbol) - self.pending(symbol)
        if delta == 0:
            return None
        return self.order(symbol, delta, tag=tag)

    def close_position(self, symbol: str, *, tag: str | None = None) -> OrderView | None:
        """Close the position in ``symbol`` at market (``None`` when flat).

        Named ``close_position`` because ``ctx.close`` is the row of closing prices.
        Working orders are left alone; cancel them first for a clean exit.
        """
        qty = self.position(symbol)
        if qty == 0:
            return None
        return self.order(symbol, -qty, tag=tag, intent=Intent.CLOSE)

    def close_all(self, *, tag: str | None = None) -> list[OrderView]:
        """Close every open position at market."""
        out = []
        for symbol in self.symbols:
            view = self.close_position(symbol, tag=tag)
            if view is not None:
                out.append(view)
        return out

    def cancel(self, order: OrderView | str) -> OrderView:
        """Cancel a working order (an ``OrderView`` or an order id)."""
        oid = order if isinstance(order, str) else order.order_id
        return self._broker.cancel(oid, self.timestamp)
