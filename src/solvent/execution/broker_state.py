"""The broker's state: its settings, its working orders and the record of every order.

``SimulatedBroker`` is built in layers, one module each: this state with the records
kept of every order (``BrokerState``), placing and sizing orders (``placement``, and
``market`` for plain market orders in one pass), matching them and booking their fills
(``filling``), and the bar cycle, the order API and the margin watch (``broker``). Each
layer only calls the layers below it.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pandas as pd

from solvent.accounting import rules
from solvent.accounting.account import Account, AccountKind
from solvent.errors import InvalidInputError
from solvent.execution import gatekeeper as gk
from solvent.execution import matching
from solvent.execution.costs import (
    BasisPoints,
    CommissionModel,
    PercentOfValue,
    SlippageModel,
    resolve_commission,
    resolve_slippage,
)
from solvent.execution.policies import (
    FixedFeePer,
    ShortCash,
    Unfunded,
    ZeroVolume,
    setting,
)
from solvent.model.calendar import BusinessCalendar
from solvent.model.instrument import Instrument
from solvent.model.money import Money, Number, new_money, to_decimal
from solvent.model.orders import (
    GateWarning,
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    StatusChange,
    TimeInForce,
    new_rejection,
    new_status_change,
)
from solvent.model.records import Fill, ReasonCode, TimeLike, Verdict, to_timestamp
from solvent.model.slots import maker
from solvent.risk.liquidation import LiquidationPolicy, resolve_policy
from solvent.risk.monitor import MarginBands, MarginEvent, resolve_bands
from solvent.risk.pdt import PdtPolicy
from solvent.risk.state import TradingState, TradingStateMachine

_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
# Commission models whose fee is ``value_fee(cumulative notional, *model._ratio)``.
_VALUE_FEE_MODELS = (PercentOfValue, BasisPoints)
# Initial-margin rates (instrument, base) of a cash account: buying power is cash.
_CASH_RATES = (rules.RATE_SCALE, rules.RATE_SCALE)
_ZERO = Decimal(0)
# Enum members the placement path compares with, read once: on Python 3.11 every
# ``Enum.MEMBER`` lookup costs about as much as a small function call.
_V_OFF, _V_REJECT, _V_WARN, _V_STRICT = (
    gk.Validation.OFF, gk.Validation.REJECT, gk.Validation.WARN, gk.Validation.STRICT,
)  # fmt: skip
_CASH_ACCOUNT = AccountKind.CASH
_PER_LEG = FixedFeePer.LEG
_ACCEPTED = OrderStatus.ACCEPTED
_REJECTED = OrderStatus.REJECTED
_MARKET, _LIMIT, _TRAILING_STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.TRAILING_STOP
_STOP, _STOP_LIMIT = OrderType.STOP, OrderType.STOP_LIMIT
_GTC, _GTD, _DAY = TimeInForce.GTC, TimeInForce.GTD, TimeInForce.DAY
_NO_BP = ReasonCode.INSUFFICIENT_BUYING_POWER
_PDT_BLOCK = PdtPolicy.BLOCK
_HALTED, _REDUCE_ONLY = TradingState.HALTED, TradingState.REDUCE_ONLY


_BY_SEQ = operator.attrgetter("seq")


@dataclass(slots=True, eq=False)  # identity: ``_open.remove(w)`` must not compare fields
class _Working:
    """The broker's mutable state of one order (never exposed directly)."""

    order: Order
    inst: Instrument
    seq: int
    lots: int  # signed working quantity (after a placement cut)
    limit: int | None
    stop: int | None
    trail_amount: int | None = None
    trail_ppm: int | None = None
    trail: int | None = None
    triggered: bool = False
    filled: int = 0  # signed
    notional: int = 0  # cumulative abs notional filled
    commission: int = 0  # commission charged so far
    month_lots: int = 0
    status: OrderStatus = OrderStatus.ACCEPTED
    reason: ReasonCode | None = None
    history: list[StatusChange] = field(default_factory=list)
    reserved: bool = False
    credit: int = 0  # buying power of pending exits this order relied on at placement
    session: date | None = None  # DAY orders: the session they work in
    active: bool = True  # bracket exits wait for their entry
    eligible_after: pd.Timestamp | None = None
    deferred: ReasonCode | None = None
    children: tuple[str, ...] = ()
    value: int | None = None  # order_value: a money budget (commission included) sized at fill
    cut: ReasonCode | None = None  # SCALED_DOWN: the working quantity is less than the request
    # Closing side's cumulative (lots, notional, commission): fixed_fee_per="leg" only.
    closed: tuple[int, int, int] = (0, 0, 0)

    @property
    def remaining(self) -> int:
        return self.lots - self.filled


@dataclass(frozen=True, slots=True)
class OrderView:
    """A read-only view of an order and what became of it."""

    order: Order
    status: OrderStatus
    quantity: Decimal  # the working quantity (the request, or the affordable part)
    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    commission: Money
    # Why it was refused, cancelled or expired; for an order cut at placement to what
    # buying power affords, SCALED_DOWN (``quantity`` < ``order.quantity``).
    reason: ReasonCode | None
    history: tuple[StatusChange, ...]

    @property
    def order_id(self) -> str:
        """Return the order's id."""
        return self.order.order_id

    @property
    def is_open(self) -> bool:
        """Return whether the order still works."""
        return self.status.is_open


#: One order as the orders table reads it (``SimulatedBroker.order_states``): the order,
#: its status, working and filled quantity, average fill price, commission and reason.
OrderState = tuple[Order, OrderStatus, Decimal, Decimal, Decimal | None, Decimal, ReasonCode | None]

#: One order's raw figures (``SimulatedBroker.order_facts``): the order, its status and
#: instrument, working and filled lots, notional and commission filled (minor units),
#: and its reason (or ``SCALED_DOWN`` when it was cut at placement).
OrderFacts = tuple[Order, OrderStatus, Instrument, int, int, int, int, ReasonCode | None]


def _reason_of(w: _Working) -> ReasonCode | None:
    """Return why ``w`` was refused, cancelled or expired, else ``SCALED_DOWN`` if it was cut."""
    return w.reason if w.reason is not None else w.cut


def order_states_of(digits: int, facts: Iterable[OrderFacts]) -> list[OrderState]:
    """Return ``SimulatedBroker.order_states`` from ``order_facts`` (the account's ``digits``)."""
    # Every instrument is in the account's currency (``add_instrument`` checks): one
    # scale for every average price, one zero for every order that paid nothing.
    scale = Decimal(10) ** digits
    no_commission = Decimal(0).scaleb(-digits)
    out: list[OrderState] = []
    append = out.append
    for order, status, inst, lots, filled, notional, comm, reason in facts:
        # The same quotient as ``_view``'s.
        avg = Decimal(notional) / (abs(filled) * inst.lot_size * inst.multiplier * scale) if filled else None
        append(
            (
                order,
                status,
                inst.quantity(lots),
                inst.quantity(filled),
                avg,
                Decimal(comm).scaleb(-digits) if comm else no_commission,
                reason,
            )
        )
    return out


#: ``OrderView(...)`` of values typed already, without its frozen ``__init__`` (a view
#: is built for every order). Fields: order, status, quantity, filled_quantity,
#: avg_fill_price, commission, reason, history.
_new_view: Callable[..., OrderView] = maker(OrderView)


class BrokerState:
    """The settings, orders and records of a ``SimulatedBroker`` (its docstring has the parameters)."""

    def __init__(
        self,
        account: Account,
        *,
        commission: CommissionModel | Number | None = None,
        slippage: SlippageModel | Number | None = None,
        volume_limit: Number | None = Decimal("0.1"),
        partial_fills: bool = True,
        validation: gk.Validation | str = gk.Validation.REJECT,
        margin_bands: MarginBands | Mapping[str, Number] | None = None,
        check_extremes: bool = False,
        liquidation: LiquidationPolicy | str = LiquidationPolicy.SMALLEST_FIRST_THEN_LOSERS,
        pdt: PdtPolicy | str | None = "account",
        holidays: Iterable[TimeLike] | None = None,
        fill_timing: matching.FillTiming | str = matching.FillTiming.NEXT_BAR,
        zero_volume: ZeroVolume | str = ZeroVolume.DEFER,
        short_cash: ShortCash | str = ShortCash.REG_T,
        fixed_fee_per: FixedFeePer | str = FixedFeePer.ORDER,
        placement_check: bool = True,
        unfunded: Unfunded | str = Unfunded.DEFER,
    ) -> None:
        self.account = account
        self.fill_timing = matching.FillTiming(fill_timing)
        self.zero_volume = setting(ZeroVolume, zero_volume, "zero_volume")
        self.short_cash = setting(ShortCash, short_cash, "short_cash")
        self.fixed_fee_per = setting(FixedFeePer, fixed_fee_per, "fixed_fee_per")
        self.unfunded = setting(Unfunded, unfunded, "unfunded")
        if not isinstance(placement_check, bool):
            raise InvalidInputError("placement_check", placement_check, "must be True or False")
        self.placement_check = placement_check
        self._credit = self.short_cash is ShortCash.CREDIT
        self._step = account.currency.step  # one minor unit, as a Decimal
        self._digits = account.currency.digits
        self._minor_per_unit = 10**self._digits
        self._zero = Money(0, account.currency)
        self.commission_model = resolve_commission(commission)
        self._counts_month = self.commission_model.uses_month_volume
        self.slippage_model = resolve_slippage(slippage)
        if volume_limit is None:
            self.volume_limit: Fraction | None = None
        else:
            v = to_decimal(volume_limit, "volume_limit", positive=True)
            if v > 1:
                raise InvalidInputError("volume_limit", volume_limit, "is a share of bar volume: at most 1")
            self.volume_limit = Fraction(v)
        self.partial_fills = bool(partial_fills)
        self.validation = gk.Validation(validation)
        self._orders: dict[str, _Working] = {}
        self._oco_seen = False  # an order in an OCO group was ever built (``_match``'s order)
        self._trail_seen = False  # a trailing stop was ever built (``_match`` ratchets them)
        self._open: list[_Working] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._last_close: dict[str, int] = {}
        self._month: tuple[int, int] | None = None
        # The month's traded units across the account (Tiered commission), in currency-free
        # quantity units so instruments with different lot sizes add up.
        self._month_units = Decimal(0)
        self.fills: list[Fill] = []
        self.rejections: list[Rejection] = []
        self.warnings: list[GateWarning] = []
        self.status_changes: list[StatusChange] = []
        self.on_fill: Callable[[Fill], None] | None = None
        # Session bookkeeping of ``on_bar`` (market-on-open/close): the previous bar's
        # ``session_close`` flag and date.
        self._prev_session_close: bool | None = None
        self._prev_day: date | None = None
        # The volume left per symbol after the last bar's pass (a same-bar close pass shares it).
        self._budget: dict[str, int | None] = {}
        self._budget_ts: pd.Timestamp | None = None
        self._init_risk(margin_bands, check_extremes, liquidation, pdt, holidays)

    def _minor_of(self, value: Number) -> int | None:
        """Return an amount in minor units when it is an exact ``Decimal`` or ``int``, else ``None``.

        ``to_minor``'s answer for the amounts strategies pass (``ctx.account.cash.amount``)
        without its general checks; anything else (floats, strings, an amount off the
        grid, NaN) gets ``None`` and goes through ``to_minor``, which converts or raises.
        """
        if type(value) is int:  # not a bool: ``to_minor`` refuses those
            minor: int = value * self._minor_per_unit
            return minor
        if type(value) is Decimal and value.is_finite():
            num, den = value.as_integer_ratio()
            whole, rest = divmod(num * self._minor_per_unit, den)
            return None if rest else whole
        return None

    def _text(self, minor: int) -> str:
        """Return ``str(Money(minor, currency))`` from the integer (refusal details).

        The same digits as ``format(Decimal(minor).scaleb(-digits), "f")``, without the
        ``Money`` and the decimal formatting (a refused order formats two amounts).
        """
        digits = self._digits
        if digits == 0:
            return str(minor)
        whole, part = divmod(-minor if minor < 0 else minor, self._minor_per_unit)
        return f"{'-' if minor < 0 else ''}{whole}.{part:0{digits}d}"

    def _expire(self, ts: pd.Timestamp) -> None:
        for w in list(self._open):
            o = w.order
            if o.tif is _DAY and w.session is not None and ts.date() > w.session:
                self._finish(w, OrderStatus.EXPIRED, ts, None, "DAY order: session ended")
            elif o.tif is _GTD and o.expire_at is not None and ts > o.expire_at:
                self._finish(w, OrderStatus.EXPIRED, ts, None, "GTD order: expire_at passed")

    def _roll_month(self, ts: pd.Timestamp) -> None:
        month = (ts.year, ts.month)
        if month != self._month:
            self._month = month
            self._month_units = Decimal(0)

    def _month_lots_for(self, inst: Instrument) -> int:
        """Return the month's traded volume so far in ``inst``'s lots (floored)."""
        return int(self._month_units // inst.lot_size)

    # -- bookkeeping ----------------------------------------------------------------

    def _note_deferred(self, w: _Working, ts: pd.Timestamp, reason: ReasonCode) -> None:
        """Record (once per order) that a working order could not fill this bar."""
        if w.deferred is None:
            w.deferred = reason
            self._refusal_at_fill(w, ts, reason, "order stays working")

    def _refusal_at_fill(self, w: _Working, ts: pd.Timestamp, reason: ReasonCode, detail: str) -> None:
        """Record a fill-time refusal of what ``w`` has left (it may keep working or not)."""
        order = w.order
        self.rejections.append(
            Rejection(
                order.order_id, order.symbol, ts, w.inst.quantity(w.remaining), reason, detail, at_fill=True
            )
        )

    def _refuse(self, w: _Working, ts: pd.Timestamp, verdict: Verdict) -> None:
        assert verdict.reason is not None  # noqa: S101 - refusals carry a reason
        self._refuse_for(w, ts, verdict.reason, verdict.detail)

    def _refuse_for(self, w: _Working, ts: pd.Timestamp, reason: ReasonCode, detail: str) -> None:
        """Refuse ``w`` at placement: its refusal record and its ``REJECTED`` status, nothing else."""
        order = w.order
        self.rejections.append(
            new_rejection(order.order_id, order.symbol, ts, order.quantity, reason, detail)
        )
        w.reason = reason
        self._record(w, _REJECTED, ts, reason, detail)  # sets the status

    def _warn(self, w: _Working, ts: pd.Timestamp, reason: ReasonCode, detail: str) -> None:
        self.warnings.append(GateWarning(w.order.order_id, w.order.symbol, ts, reason, detail))

    def _finish(
        self, w: _Working, status: OrderStatus, ts: pd.Timestamp, reason: ReasonCode | None, detail: str
    ) -> None:
        w.reason = reason
        self._record(w, status, ts, reason, detail)
        self._close(w)

    def _close(self, w: _Working) -> None:
        if w.reserved:
            acct = self.account
            with acct._lock:  # ``Account.release`` without the ``Money`` it returns
                acct._reservations.release(w.order.order_id)
            w.reserved = False
        w.credit = 0
        if w in self._open:
            self._open.remove(w)

    def _record(
        self, w: _Working, status: OrderStatus, ts: pd.Timestamp, reason: ReasonCode | None, detail: str
    ) -> None:
        w.status = status
        change = new_status_change(
            w.order.order_id, ts, status, w.inst.quantity(abs(w.filled)), reason, detail
        )
        w.history.append(change)
        self.status_changes.append(change)

    def _get(self, order_id: str) -> _Working:
        try:
            return self._orders[order_id]
        except KeyError:
            raise InvalidInputError("order_id", order_id, "no such order") from None

    # -- views ----------------------------------------------------------------------

    def view(self, order_id: str) -> OrderView:
        """Return a read-only view of an order."""
        return self._view(self._get(order_id))

    def _view(self, w: _Working) -> OrderView:
        inst = w.inst
        avg = None
        if w.filled:
            denom = abs(w.filled) * inst.lot_size * inst.multiplier * (Decimal(10) ** inst.currency.digits)
            avg = Decimal(w.notional) / denom
        comm = w.commission
        # Nothing charged yet (every view at placement): one shared zero (Money is immutable).
        commission = self._zero if comm == 0 else new_money(comm, self.account.currency)
        reason = _reason_of(w)
        return _new_view(
            w.order,
            w.status,
            inst.quantity(w.lots),
            inst.quantity(w.filled),
            avg,
            commission,
            reason,
            tuple(w.history),
        )

    def orders(self) -> list[OrderView]:
        """Return every order placed, in submission order."""
        return [self._view(w) for w in self._orders.values()]

    def order_states(self) -> list[OrderState]:
        """Return every order placed with what became of it, in submission order.

        The fields of ``orders()``'s views but the history and with the commission as
        a ``Decimal`` amount: what the orders table needs, without a view per order.
        """
        return order_states_of(*self.order_facts())

    def order_facts(self) -> tuple[int, list[OrderFacts]]:
        """Return ``(currency digits, each order's raw figures)``: ``order_states`` later.

        What ``order_states_of`` turns into ``order_states()``, read now as it is (no
        decimals built): a finished run keeps this, not the broker, until its orders
        table is read.
        """
        return self.account.currency.digits, [
            (w.order, w.status, w.inst, w.lots, w.filled, w.notional, w.commission, _reason_of(w))
            for w in self._orders.values()
        ]

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        """Return the working orders (of one symbol, or all)."""
        return [self.view(w.order.order_id) for w in self._open if symbol is None or w.order.symbol == symbol]

    def open_quantity(self, symbol: str) -> Decimal:
        """Return the signed quantity the working orders of ``symbol`` have still to fill."""
        if not self._open:  # the common case in a strategy's loop: nothing is working
            return _ZERO
        lots = 0
        for w in self._open:  # a loop, not ``sum`` over a generator: asked per symbol per bar
            if w.order.symbol == symbol:
                lots += w.lots - w.filled  # ``w.remaining``
        return self.account.instrument(symbol).quantity(lots) if lots else _ZERO

    @property
    def has_open_orders(self) -> bool:
        """Return whether any order is still working."""
        return bool(self._open)

    def last_price(self, symbol: str) -> Decimal | None:
        """Return the last close seen for ``symbol``."""
        t = self._last_close.get(symbol)
        return None if t is None else self.account.instrument(symbol).price(t)

    def observe_close(self, symbol: str, ticks: int) -> None:
        """Record a last price without a bar (e.g. a seed price before the first bar)."""
        self._last_close[symbol] = ticks

    # -- margin health, trading state, liquidation, PDT (solvent.risk) ---------------

    def _init_risk(
        self,
        margin_bands: MarginBands | Mapping[str, Number] | None,
        check_extremes: bool,
        liquidation: LiquidationPolicy | str,
        pdt: PdtPolicy | str | None,
        holidays: Iterable[TimeLike] | None,
    ) -> None:
        if not isinstance(check_extremes, bool):
            raise InvalidInputError("check_extremes", check_extremes, "must be True or False")
        self.margin_bands = resolve_bands(margin_bands)
        self.check_extremes = check_extremes
        self.liquidation_policy = resolve_policy(liquidation)
        days = None if holidays is None else tuple(to_timestamp(h, "holiday").date() for h in holidays)
        calendar = None if days is None else BusinessCalendar(days)
        if pdt != "account":
            self.account.set_pdt(pdt, calendar)
        elif calendar is not None:
            self.account.set_pdt(self.account.pdt_policy, calendar)
        #: The holidays given for the PDT window (``()`` when the account's calendar is used).
        self.holidays = days or ()
        #: Every transition of margin band and trading state, in order.
        self.margin_events: list[MarginEvent] = []
        #: Why trading halted (the debit and when), or ``None``.
        self.halt_reason: str | None = None
        self._band = self.margin_bands.classify(0, 0, 0)  # an account starts healthy
        self._band_code = rules.BAND_HEALTHY
        self._trading = TradingStateMachine()
        self._liquidation_ids: set[str] = set()
        self._liq_seq = itertools.count(1)

    @property
    def trading_state(self) -> TradingState:
        """Return the trading state in force: active, reduce-only or halted."""
        return self._trading.state

    @property
    def margin_band(self) -> str:
        """Return the margin band found by the last check."""
        return self._band.value
