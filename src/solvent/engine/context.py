"""``Context``: what a strategy sees at one bar, and the way it places orders.

One ``Context`` is built per run and reused for every bar: the engine moves ``i`` and
nothing else. The timestamp and the rows of prices are read on demand (a strategy that
never looks at them costs nothing for them), and the account is brought up to date
only when the strategy asks for it: the engine marks it lazily (``docs/engine.md``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.errors import InvalidInputError
from solvent.model.money import Money, Number, to_decimal
from solvent.model.orders import Intent, OrderType, TimeInForce

if TYPE_CHECKING:
    from solvent.accounting.account import Account
    from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
    from solvent.data.frame import BarData
    from solvent.execution.broker import OrderView, SimulatedBroker

FloatRow = npt.NDArray[np.float64]
_ZERO = Decimal(0)
# Read once (an ``Enum.MEMBER`` lookup is not free on Python 3.11).
_CLOSE = Intent.CLOSE
_GTC = TimeInForce.GTC


class CloseRow(np.ndarray):
    """The current bar's closes that can also be called: ``ctx.close("SYM")`` flattens.

    The issue's API names both ``ctx.close`` (bar values) and ``close(symbol)`` (an
    order method); this row is both. Indexing, slicing and arithmetic behave as for any
    float row (results of arithmetic are plain ``ndarray``); calling it is
    ``ctx.close_position(symbol, tag=tag)``.
    """

    # A weak reference: the context holds its row, and a cycle would keep the whole run
    # (broker, ledger, every record) alive until a full garbage collection.
    _ctx_ref: weakref.ReferenceType[Context] | None = None

    def __call__(self, symbol: str, *, tag: str | None = None) -> OrderView | None:
        """Close the position in ``symbol`` at market (``Context.close_position``)."""
        ctx = None if self._ctx_ref is None else self._ctx_ref()
        if ctx is None:
            raise TypeError("this row is detached from its Context; use ctx.close_position(symbol)")
        return ctx.close_position(symbol, tag=tag)

    def __array_wrap__(  # type: ignore[override]  # a plain array or scalar, not Self
        self, arr: npt.NDArray[np.float64], context: object = None, return_scalar: bool = False
    ) -> npt.NDArray[np.float64] | np.float64:
        # Arithmetic on the row gives an ordinary array (or scalar), not a callable row.
        if return_scalar:
            return np.float64(arr[()])
        return arr.view(np.ndarray)


def _no_sync(i: int) -> None:
    """The default ``sync``: the account is always up to date."""


class AccountInfo:
    """Read-only access to the account for strategies (the ledger is never edited here).

    Every figure is the account's at the close of the current bar.
    """

    __slots__ = ("_account", "_ready", "_ready_cash")

    def __init__(
        self,
        account: Account,
        ready: Callable[[], None] | None = None,
        ready_cash: Callable[[], None] | None = None,
    ) -> None:
        self._account = account
        self._ready = ready if ready is not None else (lambda: None)
        # Cash does not move with prices: it needs the ledger's clock, not its marks.
        self._ready_cash = ready_cash if ready_cash is not None else self._ready

    @property
    def cash(self) -> Money:
        """Return the cash balance."""
        self._ready_cash()
        return self._account.cash

    @property
    def nlv(self) -> Money:
        """Return net liquidating value."""
        self._ready()
        return self._account.nlv

    @property
    def buying_power(self) -> Money:
        """Return buying power net of pending orders' reservations."""
        self._ready()
        return self._account.buying_power

    @property
    def initial_margin(self) -> Money:
        """Return the initial margin in use."""
        self._ready()
        return self._account.initial_margin

    @property
    def maintenance_margin(self) -> Money:
        """Return the maintenance margin in use."""
        self._ready()
        return self._account.maintenance_margin

    def quantity(self, symbol: str) -> Decimal:
        """Return the signed quantity held in ``symbol``."""
        return self._account.quantity(symbol)

    def position(self, symbol: str) -> PositionSnapshot:
        """Return a snapshot of one position (lots, average price, P&L)."""
        self._ready()
        return self._account.position(symbol)

    def snapshot(self) -> AccountSnapshot:
        """Return every account figure at this moment."""
        self._ready()
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
        has no bar): numpy views into ``data``, no copy.
    data
        The whole ``BarData``; index arrays precomputed in ``Strategy.init`` by ``i``.
    account
        Read-only account figures (``AccountInfo``).
    """

    __slots__ = (
        "__weakref__",
        "_broker",
        "_close_i",
        "_close_row",
        "_empty",
        "_stamp",
        "_stamp_i",
        "_sync",
        "_sync_orders",
        "_times",
        "_weak",
        "_working",
        "account",
        "data",
        "i",
        "symbols",
    )

    def __init__(
        self,
        data: BarData,
        broker: SimulatedBroker,
        start: pd.Timestamp,
        sync: Callable[[int], None] | None = None,
        sync_orders: Callable[[int], None] | None = None,
    ) -> None:
        self.data = data
        self.symbols = data.symbols
        self._broker = broker
        self._working = broker._open  # the broker's working orders (a list kept in place)
        self._sync = sync if sync is not None else _no_sync
        # What placing an order needs: the clock, cash and last prices, not every mark.
        self._sync_orders = sync_orders if sync_orders is not None else self._sync
        self.account = AccountInfo(broker.account, self._ready, self._ready_orders)
        self._weak = weakref.ref(self)
        self.i = -1
        self._times = data.timestamps
        self._stamp = start
        self._stamp_i = -1
        empty = np.full(len(data.symbols), np.nan)
        empty.setflags(write=False)
        self._empty: FloatRow = empty
        self._close_row: CloseRow = empty.view(CloseRow)
        self._close_row._ctx_ref = self._weak
        self._close_i = -1

    def _finished(self) -> None:
        """The run is over and the ledger final: drop the links back to the engine's loop.

        The account view and the sync callbacks pointed back at the runner (which holds
        this context): without the cycle, a finished run is freed by reference counting
        as soon as its result is dropped, not at the next full garbage collection.
        """
        self._sync = self._sync_orders = _no_sync
        self.account = AccountInfo(self._broker.account)

    def _ready(self) -> None:
        """Bring the account and the broker's last prices up to the close of bar ``i``."""
        self._sync(self.i)

    def _ready_orders(self) -> None:
        """Bring what order placement reads (clock, cash, last prices) up to bar ``i``."""
        self._sync_orders(self.i)

    @property
    def timestamp(self) -> pd.Timestamp:
        """Return the current bar's timestamp (its open time)."""
        i = self.i
        if i != self._stamp_i:
            self._stamp = pd.Timestamp(self._times[i])
            self._stamp_i = i
        return self._stamp

    def _row(self, values: FloatRow) -> FloatRow:
        return self._empty if self.i < 0 else values[self.i]

    @property
    def open(self) -> FloatRow:
        """Return the opens of the current bar (NaN where a symbol has no bar)."""
        return self._row(self.data.open)

    @property
    def high(self) -> FloatRow:
        """Return the highs of the current bar."""
        return self._row(self.data.high)

    @property
    def low(self) -> FloatRow:
        """Return the lows of the current bar."""
        return self._row(self.data.low)

    @property
    def close(self) -> CloseRow:
        """Return the closes of the current bar; ``ctx.close(symbol)`` closes a position."""
        i = self.i
        if i != self._close_i:
            row = self._row(self.data.close).view(CloseRow)
            row._ctx_ref = self._weak
            self._close_row, self._close_i = row, i
        return self._close_row

    @property
    def volume(self) -> FloatRow:
        """Return the volumes of the current bar."""
        return self._row(self.data.volume)

    # -- account --------------------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """Return the signed quantity held in ``symbol`` (0 when flat)."""
        return self._broker.account.quantity(symbol)

    def pending(self, symbol: str) -> Decimal:
        """Return the signed quantity still to fill on working orders for ``symbol``."""
        if not self._working:  # nothing works: the common case, asked every bar
            return _ZERO
        return self._broker.open_quantity(symbol)

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        """Return the working orders (of one symbol, or all)."""
        return self._broker.open_orders(symbol)

    def last_price(self, symbol: str) -> Decimal:
        """Return the last close of ``symbol``; raise if it never had a bar."""
        self._ready_orders()
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
        type: OrderType | str | None = None,
    ) -> OrderView:
        """Place an order after this bar; it can fill from the next bar.

        The type follows the prices given: market, limit, stop or stop-limit; pass
        ``type="market_on_open"`` or ``"market_on_close"`` for an order that fills at
        the open of the next session's first bar or at the close of the session's last
        bar (sessions are calendar dates; a daily bar is one). A refusal is an
        ``OrderView`` with status ``rejected`` and a reason code.
        """
        if type is None and limit is None and stop is None and tif is _GTC:
            # A plain market order (most calls): ``submit``'s one-pass path, without its
            # keyword arguments and type inference.
            self._sync_orders(self.i)
            return self._broker._submit_market(symbol, quantity, self.timestamp, tag, intent)
        if type is not None:
            otype: OrderType | str = type
        elif limit is not None:
            otype = OrderType.STOP_LIMIT if stop is not None else OrderType.LIMIT
        else:
            otype = OrderType.STOP if stop is not None else OrderType.MARKET
        self._ready_orders()
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
        """Return the quantity ``value`` buys at the last close, truncated to the lot step.

        The caller brought the broker's last prices up to this bar (``last_price``
        without its sync).
        """
        broker = self._broker
        inst = broker.account.instrument(symbol)
        price = broker.last_price(symbol)
        if price is None:
            raise InvalidInputError(f"{symbol}.last_price", None, "no bar yet: the order cannot be sized")
        units = value / (price * inst.multiplier)
        return (units // inst.lot_size) * inst.lot_size  # // truncates toward zero

    def order_value(self, symbol: str, value: Number, *, tag: str | None = None) -> OrderView:
        """Buy (``value > 0``) or sell as much of ``symbol`` as ``|value|`` pays for, at market.

        The quantity is resolved at the fill (the next bar's open, after slippage): the
        most lots whose notional plus commission fits in ``|value|``. ``order_value(sym,
        ctx.account.cash.amount)`` is an all-in buy that never spends more than the cash.
        """
        self._sync_orders(self.i)  # ``_ready_orders``, one call less per order
        return self._broker.submit_value(symbol, value, self.timestamp, tag=tag)

    def order_target_percent(self, symbol: str, pct: Number, *, tag: str | None = None) -> OrderView | None:
        """Move ``symbol`` to ``pct`` of net liquidating value at market.

        Target quantity = NLV × ``pct`` / last close, truncated toward zero to the lot
        step; the order is the target less the position less what working orders for
        the symbol will still fill. Returns ``None`` when nothing is to trade.
        """
        share = to_decimal(pct, f"{symbol}.order_target_percent")
        self._ready()
        target = self._lots_of(symbol, self._broker.account.nlv.amount * share)
        delta = target - self.position(symbol) - self.pending(symbol)
        if delta == 0:
            return None
        return self.order(symbol, delta, tag=tag)

    def close_position(self, symbol: str, *, tag: str | None = None) -> OrderView | None:
        """Close the position in ``symbol`` at market (``None`` when flat).

        ``ctx.close(symbol)`` is the same call (``ctx.close`` is also the row of closes).
        Working orders are left alone; cancel them first for a clean exit.
        """
        lots = self._broker.account.position_lots(symbol)
        if lots == 0:
            return None
        # ``order(symbol, -position, intent="close")`` with the position's own lots: no
        # decimal quantity to convert back and check against the lot grid.
        self._sync_orders(self.i)
        return self._broker._submit_lots(symbol, -lots, self.timestamp, tag, _CLOSE)

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
        self._ready_orders()
        return self._broker.cancel(oid, self.timestamp)
