"""The simulated broker: orders in, bars in, fills out, through the gatekeeper.

Per bar, in this order (docs/execution.md):

1. expire DAY and GTD orders whose time is up;
2. mark the account at each symbol's open (the first price of the bar, no look-ahead);
3. find each eligible order's reference price (``matching``) and apply slippage;
4. **exits first**: the closing part of every order that reduces a position, in
   submission order (in a bracket, the stop-loss before the take-profit);
5. **entries**, with the buying power the exits freed: each opening part is checked
   against the account at that moment (the authoritative check) and scaled down to
   what is affordable when partial fills are on;
6. IOC remainders are cancelled, FOK orders that could not fill whole are cancelled;
7. mark the account at each symbol's close.

Every fill is capped by a share of the bar's volume shared by all orders on that
symbol in that bar; a bar with zero volume fills nothing.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TypeVar

import pandas as pd

from solvent.accounting import rules
from solvent.accounting.account import Account, AccountKind
from solvent.errors import InsufficientFundsError, InvalidInputError
from solvent.execution import gatekeeper as gk
from solvent.execution import matching
from solvent.execution.costs import (
    BasisPoints,
    CommissionModel,
    NoSlippage,
    PercentOfValue,
    SlippageModel,
    resolve_commission,
    resolve_slippage,
    slip_ticks,
    value_fee,
)
from solvent.execution.policies import (
    FixedFeePer,
    ShortCash,
    Unfunded,
    ZeroVolume,
    credit_available,
    leg_commission,
)
from solvent.model.bar import Bar
from solvent.model.calendar import BusinessCalendar
from solvent.model.instrument import Instrument
from solvent.model.money import Money, Number, new_money, to_decimal, to_minor
from solvent.model.orders import (
    GateWarning,
    Intent,
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    StatusChange,
    TimeInForce,
    new_order,
    new_rejection,
    new_status_change,
)
from solvent.model.records import ALLOWED, Fill, ReasonCode, TimeLike, Verdict, to_timestamp
from solvent.model.slots import maker
from solvent.risk.liquidation import Holding, LiquidationPolicy, plan_liquidation, resolve_policy
from solvent.risk.monitor import EventKind, MarginBands, MarginEvent, resolve_bands
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
_GTC, _GTD = TimeInForce.GTC, TimeInForce.GTD
_NO_BP = ReasonCode.INSUFFICIENT_BUYING_POWER
_PDT_BLOCK = PdtPolicy.BLOCK
_HALTED, _REDUCE_ONLY = TradingState.HALTED, TradingState.REDUCE_ONLY


_E = TypeVar("_E", bound=StrEnum)
_BY_SEQ = operator.attrgetter("seq")


def _setting(enum: type[_E], value: object, name: str) -> _E:
    """Return ``value`` as a member of ``enum``; raise naming the valid values."""
    if isinstance(value, str):  # a member is a str too
        try:
            return enum(value)
        except ValueError:
            pass
    valid = ", ".join(repr(m.value) for m in enum)
    raise InvalidInputError(name, value, f"must be one of {valid}")


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

#: ``OrderView(...)`` of values typed already, without its frozen ``__init__`` (a view
#: is built for every order). Fields: order, status, quantity, filled_quantity,
#: avg_fill_price, commission, reason, history.
_new_view: Callable[..., OrderView] = maker(OrderView)


class SimulatedBroker:
    """Accept orders, match them against bars, and book the fills in an ``Account``.

    Parameters
    ----------
    account
        The ledger the fills go to.
    commission, slippage
        Cost models, or a plain number meaning a fraction of traded value / price.
    volume_limit
        Largest share of a bar's volume that fills on one symbol in that bar (default
        10%); ``None`` turns the cap off (zero-volume bars still fill nothing).
    partial_fills
        Scale entries down to what buying power affords (default). Off: refuse them.
    validation
        ``"reject"`` (default), ``"warn"``, ``"strict"`` or ``"off"``.
    margin_bands
        Margin-ratio thresholds (``solvent.risk.MarginBands`` or a mapping with
        ``at_risk``, ``margin_call``, ``liquidating``); default 35% / 25% / 10%.
    check_extremes
        Check margin against each bar's adverse extreme (low for longs, high for
        shorts) instead of its close.
    liquidation
        The order a liquidation sells in: ``"smallest_first_then_losers"`` (default) or
        ``"largest_losers_first"`` (``solvent.risk.liquidation``).
    pdt
        The Pattern Day Trader policy: ``"block"``, ``"downgrade"`` or ``None`` (off).
        Default ``"account"``: keep the account's own (``block`` unless it was built
        with another).
    holidays
        Market holidays for the PDT window (weekends are always skipped); default: the
        account's calendar.
    fill_timing
        ``"next_bar"`` (default) or ``"same_bar_close"`` (look-ahead; ``fill_at_close``).
    zero_volume
        ``"defer"`` (default): a zero-volume bar fills nothing. ``"fill"``: it fills as a
        bar without volume data, uncapped (permissive; the peers' behaviour).
    short_cash
        ``"reg_t"`` (default): every opening needs buying power. ``"credit"``: opening a
        short is not checked and buys are checked against cash, short proceeds
        included (permissive; VectorBT, Backtrader).
    fixed_fee_per
        ``"order"`` (default): a commission's fixed part or minimum is charged once per
        order. ``"leg"``: the closing and opening legs of a flip are charged as two
        orders (Backtrader, backtesting.py).
    placement_check
        Check (and reserve) an opening order's cost when it is placed (default). Off:
        only the fill-time check runs (VectorBT, backtesting.py); permissive.
    unfunded
        ``"defer"`` (default): an entry the fill-time check cannot fund (wholly, or at
        all with partial fills) keeps working. ``"cancel"``: what it cannot fund is
        cancelled with ``INSUFFICIENT_BUYING_POWER`` (the peers).

    Notes
    -----
    After each bar the margin monitor files the account into its band
    (``docs/margin.md``); transitions of band and trading state are recorded in
    ``margin_events``. In a margin call the account is reduce-only; a call not cured by
    the next check, or a liquidating band, is liquidated with market orders tagged
    ``liquidation`` that fill from the next bar; NLV <= 0 halts trading.
    """

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
        self.zero_volume = _setting(ZeroVolume, zero_volume, "zero_volume")
        self.short_cash = _setting(ShortCash, short_cash, "short_cash")
        self.fixed_fee_per = _setting(FixedFeePer, fixed_fee_per, "fixed_fee_per")
        self.unfunded = _setting(Unfunded, unfunded, "unfunded")
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

    # -- placement ------------------------------------------------------------------

    def submit(
        self,
        symbol: str,
        quantity: Number,
        timestamp: TimeLike,
        *,
        type: OrderType | str = OrderType.MARKET,
        limit: Number | None = None,
        stop: Number | None = None,
        trail_amount: Number | None = None,
        trail_percent: Number | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        expire_at: TimeLike | None = None,
        tag: str | None = None,
        intent: Intent | str | None = None,
        order_id: str | None = None,
        client_id: str | None = None,
    ) -> OrderView:
        """Place an order after the bar at ``timestamp``; it can fill from the next bar.

        Caller bugs (unknown symbol, a price off the tick grid, a missing limit) raise
        typed errors. A refusal (cannot afford, short in a cash account, intent
        mismatch) is an order with status ``rejected`` and a reason code.
        """
        w = self._build(
            symbol,
            quantity,
            timestamp,
            type,
            limit,
            stop,
            trail_amount,
            trail_percent,
            tif,
            expire_at,
            tag,
            intent,
            order_id,
            client_id,
            None,
            None,
        )
        self._place(w)
        return self._view(w)

    def _submit_lots(
        self, symbol: str, lots: int, timestamp: pd.Timestamp, tag: str | None, intent: Intent | None
    ) -> OrderView:
        """``submit`` of a GTC market order of ``lots`` lot steps (``Context.close_position``).

        The quantity is already on the lot grid (a position's): no decimal to check.
        """
        if type(timestamp) is pd.Timestamp and lots != 0:
            w = self._build_market(self.account.instrument(symbol), lots, timestamp, tag, intent)
        else:  # ``_build`` converts the stamp and names a zero quantity
            w = self._build(
                symbol, lots, timestamp, _MARKET, None, None, None, None,
                _GTC, None, tag, intent, None, None, None, None, lots=lots,
            )  # fmt: skip
        self._place(w)
        return self._view(w)

    def submit_value(
        self,
        symbol: str,
        value: Number,
        timestamp: TimeLike,
        *,
        limit: Number | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        tag: str | None = None,
        order_id: str | None = None,
    ) -> OrderView:
        """Buy (``value > 0``) or sell as much as ``|value|`` pays for, sized at the fill.

        The quantity is resolved on the bar that fills the order: the most lots whose
        notional plus commission fits in ``|value|`` at the fill price (after
        slippage), so an all-in buy of ``cash`` spends at most ``cash``. Until then the
        order is checked and reserved at an estimate from the last close (or the
        limit). A value that buys nothing at the fill price cancels the order.
        """
        inst = self.account.instrument(symbol)
        budget = self._minor_of(value)
        if budget is None:  # not a finite Decimal or int on the minor-unit grid: check it
            budget = to_minor(value, self.account.currency, f"{symbol}.order_value")
        if budget == 0:
            raise InvalidInputError(f"{symbol}.order_value", value, "must not be zero")
        ref = inst.price_ticks(limit, "order.limit") if limit is not None else self._last_close.get(symbol)
        if ref is None:
            raise InvalidInputError(
                f"{symbol}.order_value", value, "no price yet to estimate a quantity from"
            )
        side = 1 if budget > 0 else -1
        est = max(1, self._lots_for_value(inst, abs(budget), ref, 0))
        if limit is None and order_id is None and tif is _GTC and type(timestamp) is pd.Timestamp:
            w = self._build_market(inst, side * est, timestamp, tag, None)
        else:
            otype = _LIMIT if limit is not None else _MARKET
            w = self._build(
                symbol, side * est, timestamp, otype,
                limit, None, None, None, tif, None, tag, None, order_id, None, None, None, lots=side * est,
            )  # fmt: skip
        w.value = abs(budget)
        self._place(w, None if limit is not None else ref)  # a market order's estimate starts at ref
        return self._view(w)

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

    def _lots_for_value(self, inst: Instrument, budget: int, price: int, filled: int) -> int:
        """Return the most lots whose notional plus commission fits in ``budget``."""
        per_lot = price * inst.k_num  # minor units per lot, times k_den
        if per_lot <= 0 or budget <= 0:
            return 0
        k_den = inst.k_den
        upper = budget * k_den // per_lot + 1  # its notional alone is over the budget
        model = self.commission_model
        if k_den == 1 and type(model) in _VALUE_FEE_MODELS:
            # ``_cost_fn``'s ``value_cost`` (nothing paid before: sizing happens before
            # the first fill) asked directly: the guess and its two checks are most
            # calls, and building the function cost as much as them.
            num, den = model._ratio  # type: ignore[attr-defined]  # both value models have it
            notional = per_lot * upper
            c_upper = notional + value_fee(notional, num, den)
            if c_upper <= budget:
                return upper
            if upper == 1:  # one lot is over the budget: none fits
                return 0
            hint = gk.value_hint(budget, upper, c_upper)
            if 0 < hint < upper:
                notional = per_lot * hint
                if notional + value_fee(notional, num, den) <= budget:
                    notional += per_lot
                    if notional + value_fee(notional, num, den) > budget:
                        return hint  # ``affordable_lots``'s confirmation of its hint
        cost = self._cost_fn(inst, price, lots0=filled)
        c_upper = cost(upper)
        if c_upper <= budget:  # only when rounding the notional brings it back within
            return upper
        hint = gk.value_hint(budget, upper, c_upper)
        return gk.affordable_lots(upper, budget, cost, over=True, hint=hint)

    def _opening_rates(self, symbol: str, lots: int) -> tuple[int, int]:
        """Return ``(acct.im_rate_ppm(symbol, lots), acct.base_im_rate_ppm)`` for ``_cost_fn``.

        Under cash rates (a cash account, or PDT's cash buying power) both are 100%:
        one shared pair, without asking the ledger twice.
        """
        acct = self.account
        if acct._cash_rates():
            return _CASH_RATES
        return acct.im_rate_ppm(symbol, lots), acct.base_im_rate_ppm

    def _cost_fn(
        self,
        inst: Instrument,
        price: int,
        *,
        lots0: int = 0,
        notional0: int = 0,
        paid: int = 0,
        month_lots: int = 0,
        rates: tuple[int, int] | None = None,
    ) -> Callable[[int], int]:
        """Return ``cost(n)``: what ``n`` more lots at ``price`` cost (for ``gk.affordable_lots``).

        The commission is the order's cumulative commission once ``lots0`` lots worth
        ``notional0`` and then the ``n`` lots have filled, less the ``paid`` part. With
        ``rates`` (the instrument's and the base initial-margin rate, ppm) the cost is
        buying power (``gk.bp_cost``); without, cash (notional plus commission). One
        helper for the placement check, the fill-time check and ``order_value`` sizing.
        """
        k_num, k_den = inst.k_num, inst.k_den
        model = self.commission_model
        if k_den == 1 and type(model) in _VALUE_FEE_MODELS:
            # The common case, lowered once per call instead of per ``cost(n)``: whole
            # cents per lot (the notional needs no rounding) and a fee that is a share of
            # value (``value_fee``, the models' own integer rule).
            per_lot = price * k_num
            num, den = model._ratio  # type: ignore[attr-defined]  # both value models have it
            if rates is None or rates == _CASH_RATES:
                # At 100% / 100% ``opening_bp_cost`` is notional plus commission exactly.

                def value_cost(n: int) -> int:
                    notional = per_lot * n
                    return notional + value_fee(notional0 + notional, num, den) - paid

                return value_cost
            rate, base = rates

            def value_bp_cost(n: int) -> int:
                notional = per_lot * n
                comm = value_fee(notional0 + notional, num, den) - paid
                return rules.opening_bp_cost(notional, comm, rate, base)

            return value_bp_cost
        commission = model.order_commission

        def cost(n: int) -> int:
            notional = abs(rules.notional_minor(price, n, k_num, k_den))
            comm = commission(inst, lots0 + n, notional0 + notional, month_lots) - paid
            if rates is None:
                return notional + comm
            return gk.bp_cost(notional, comm, rates[0], rates[1])

        return cost

    def submit_bracket(
        self,
        symbol: str,
        quantity: Number,
        timestamp: TimeLike,
        *,
        take_profit: Number,
        stop_loss: Number,
        type: OrderType | str = OrderType.MARKET,
        limit: Number | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        tag: str | None = None,
    ) -> tuple[OrderView, OrderView, OrderView]:
        """Place an entry with a take-profit limit and a stop-loss that cancel each other.

        The exits work once the entry fills (from the next bar), for the quantity the
        entry filled; when one exit fills the other is cut by as much, and cancelled
        when the position is closed.
        """
        entry = self._build(
            symbol,
            quantity,
            timestamp,
            type,
            limit,
            None,
            None,
            None,
            tif,
            None,
            tag,
            None,
            None,
            None,
            None,
            None,
        )
        tp = self._bracket_exit(entry, OrderType.LIMIT, take_profit, None, timestamp, tag)
        sl = self._bracket_exit(entry, OrderType.STOP, None, stop_loss, timestamp, tag)
        entry.children = (sl.order.order_id, tp.order.order_id)
        self._place(entry)
        for child in (sl, tp):
            child.active = False
            child.lots = 0
            self._orders[child.order.order_id] = child
            self._record(child, OrderStatus.ACCEPTED, child.order.submitted_at, None, "waits for its entry")
            if entry.status.is_open:
                self._open.append(child)
            else:
                self._finish(
                    child, OrderStatus.CANCELLED, child.order.submitted_at, None, "entry not accepted"
                )
        return self.view(entry.order.order_id), self.view(tp.order.order_id), self.view(sl.order.order_id)

    def _bracket_exit(
        self,
        entry: _Working,
        type_: OrderType,
        limit: Number | None,
        stop: Number | None,
        timestamp: TimeLike,
        tag: str | None,
    ) -> _Working:
        """Build one exit of a bracket: opposite to the entry, GTC, in the entry's OCO group."""
        group = entry.order.order_id
        qty = entry.inst.quantity(-entry.lots)
        return self._build(
            entry.order.symbol, qty, timestamp, type_, limit, stop, None, None,
            TimeInForce.GTC, None, tag, None, None, None, group, group,
        )  # fmt: skip

    def _build(
        self,
        symbol: str,
        quantity: Number,
        timestamp: TimeLike,
        type_: OrderType | str,
        limit: Number | None,
        stop: Number | None,
        trail_amount: Number | None,
        trail_percent: Number | None,
        tif: TimeInForce | str,
        expire_at: TimeLike | None,
        tag: str | None,
        intent: Intent | str | None,
        order_id: str | None,
        client_id: str | None,
        parent_id: str | None,
        oco_group: str | None,
        *,
        lots: int | None = None,
    ) -> _Working:
        """Validate an order and build its working state; ``lots`` given: the quantity in lots."""
        inst = self.account.instrument(symbol)
        # (The engines pass a ``Timestamp``: no field name to format for it.)
        ts = (
            timestamp
            if type(timestamp) is pd.Timestamp
            else to_timestamp(timestamp, f"{symbol}.order.timestamp")
        )
        otype = type_ if type(type_) is OrderType else OrderType(type_)
        otif = tif if type(tif) is TimeInForce else TimeInForce(tif)
        if lots is None:
            if type(quantity) is int and inst.lot_size == 1:  # whole shares: lots as given
                lots = quantity
            else:
                lots = inst.qty_lots(quantity, "order.quantity")
        if lots == 0:
            raise InvalidInputError(f"{symbol}.order.quantity", quantity, "must not be zero")
        limit_t = None if limit is None else inst.price_ticks(limit, "order.limit")
        stop_t = None if stop is None else inst.price_ticks(stop, "order.stop")
        if limit_t is None and otype in _PRICED:
            raise InvalidInputError(
                f"{symbol}.order.limit", None, f"a {otype.value} order needs a limit price"
            )
        if stop_t is None and (otype is _STOP or otype is _STOP_LIMIT):
            raise InvalidInputError(f"{symbol}.order.stop", None, f"a {otype.value} order needs a stop price")
        trail_t = trail_ppm = None
        if otype is _TRAILING_STOP:
            if (trail_amount is None) == (trail_percent is None):
                raise InvalidInputError(
                    f"{symbol}.order.trail", None, "give exactly one of trail_amount, trail_percent"
                )
            if trail_amount is not None:
                trail_t = inst.price_ticks(trail_amount, "order.trail_amount")
            else:
                pct = to_decimal(trail_percent, f"{symbol}.order.trail_percent", positive=True)
                if pct >= 1:
                    raise InvalidInputError(
                        f"{symbol}.order.trail_percent", trail_percent, "is a fraction below 1"
                    )
                trail_ppm = int(pct * rules.RATE_SCALE)
        exp = None
        if otif is _GTD:
            if expire_at is None:
                raise InvalidInputError(f"{symbol}.order.expire_at", None, "a GTD order needs expire_at")
            exp = to_timestamp(expire_at, f"{symbol}.order.expire_at")
        oid = order_id if order_id is not None else f"o{next(self._ids)}"
        if oid in self._orders:
            raise InvalidInputError("order_id", oid, "is already used by another order")
        order = new_order(
            oid,
            symbol,
            inst.quantity(lots),
            otype,
            ts,
            None if limit_t is None else inst.price(limit_t),
            None if stop_t is None else inst.price(stop_t),
            None if trail_t is None else inst.price(trail_t),
            None if trail_ppm is None else Decimal(trail_ppm) / rules.RATE_SCALE,
            otif,
            exp,
            tag,
            None if intent is None else intent if type(intent) is Intent else Intent(intent),
            client_id,
            parent_id,
            oco_group,
        )
        w = _Working(order, inst, next(self._seq), lots, limit_t, stop_t, trail_t, trail_ppm)
        if oco_group is not None:
            self._oco_seen = True
        w.eligible_after = ts
        if otype is _TRAILING_STOP:
            self._trail_seen = True
            ref = self._last_close.get(symbol)
            if ref is None:
                raise InvalidInputError(
                    f"{symbol}.order", None, "a trailing stop needs a last price to trail"
                )
            w.trail = matching.trail_level(w.order.side, ref, trail_t, trail_ppm)
        return w

    def _build_market(
        self, inst: Instrument, lots: int, ts: pd.Timestamp, tag: str | None, intent: Intent | None
    ) -> _Working:
        """``_build`` of a GTC market order of ``lots`` (non-zero, on the lot grid) at ``ts``.

        What the engines' ``close_position`` and ``order_value`` place: nothing to parse
        or check but the id, so ``_build``'s conversions and checks are skipped.
        """
        oid = f"o{next(self._ids)}"
        if oid in self._orders:  # a user's own id took it
            raise InvalidInputError("order_id", oid, "is already used by another order")
        order = new_order(
            oid, inst.symbol, inst.quantity(lots), _MARKET, ts, None, None, None, None,
            _GTC, None, tag, intent, None, None, None,
        )  # fmt: skip
        w = _Working(order, inst, next(self._seq), lots, None, None)
        w.eligible_after = ts
        return w

    def _place(self, w: _Working, last: int | None = None) -> None:
        """Run the placement checks and accept, cut or refuse the order.

        ``last``: the symbol's last close as the caller just read it (``submit_value``),
        so the estimate does not read it again.
        """
        order = w.order
        self._orders[order.order_id] = w
        ts = order.submitted_at
        acct = self.account
        if ts is not acct._last_ts:  # the engines place every order of a bar with one stamp
            acct.advance(ts)
        if self._counts_month:  # the placement estimate uses the tier in force now
            self._roll_month(ts)
            w.month_lots = self._month_lots_for(w.inst)
        pos = acct.position_lots(order.symbol)
        _, opening = rules.split_fill(pos, w.lots)
        verdict = ALLOWED if order.intent is None else gk.check_intent(order.intent, pos, w.lots)
        if verdict.ok and opening < 0:
            verdict = gk.check_short(w.inst, acct.kind is _CASH_ACCOUNT, opening)
        if verdict.ok:
            verdict = self._risk_verdict(w, opening)
        if not verdict.ok:
            self._refuse(w, ts, verdict)
            return
        # Without the placement check only the fill-time check runs (no reservation);
        # with credited shorts (ShortCash.CREDIT) opening a short is never checked.
        checked = opening and self.placement_check and not (self._credit and opening < 0)
        validation = self.validation
        if checked and validation is not _V_OFF:
            plain = w.limit is None and w.stop is None and type(self.slippage_model) is NoSlippage
            if last is not None and plain:
                price: int | None = last  # ``_estimate_price``'s answer, without the call
            else:
                price = self._estimate_price(w, last)
            if price is None:
                self._refuse(
                    w, ts, Verdict(False, ReasonCode.MARKET_CLOSED, "no price seen yet to estimate the cost")
                )
                return
            closing = w.lots - opening
            inst = w.inst
            cost: Callable[[int], int] | None = None
            if self._credit:  # cash buys: proceeds of pending sales count, covers cost
                credit = self._pending_cash_credit()
                if closing:
                    credit += self._closing_cash(inst, closing, price)
                available = credit_available(acct.cash.minor, acct.reserved.minor, credit)
                cost = self._cost_fn(inst, price, lots0=abs(closing))
                need = cost(abs(opening))
            else:
                # A cash account is always at cash rates: no call to ask.
                cash_kind = acct.kind is _CASH_ACCOUNT
                rates = _CASH_RATES if cash_kind else self._opening_rates(order.symbol, opening)
                credit = self._pending_exit_credit() if self._open else 0
                if closing:  # a flip: its own closing leg frees buying power before the opening leg
                    # (no commission here: ``cost`` below charges the whole order's commission)
                    credit += self._closing_credit(inst, pos, closing, price, 0)
                if cash_kind:  # ``acct._buying_power()`` of a cash account, without two calls
                    gross = rules.cash_buying_power(acct._cash - acct._unsettled_total, 0)
                    bp = gross - acct._reservations.total
                    bp = bp if bp > 0 else 0
                else:
                    bp = acct._buying_power()
                available = bp + credit
                model = self.commission_model
                if rates is _CASH_RATES and inst.k_den == 1 and type(model) in _VALUE_FEE_MODELS:
                    # ``_cost_fn``'s ``value_cost`` for this one question, without building
                    # it (the search below builds it if the order does not fit).
                    notional = price * inst.k_num * abs(opening)
                    num, den = model._ratio  # type: ignore[attr-defined]  # both value models have it
                    need = notional + value_fee(notional, num, den)
                else:
                    # The closing part's lots count toward the order's commission (a per-order
                    # minimum is charged once for the whole order).
                    cost = self._cost_fn(inst, price, lots0=abs(closing), rates=rates)
                    need = cost(abs(opening))
            if need > available:
                if validation is _V_STRICT:
                    self._orders.pop(order.order_id)
                    raise InsufficientFundsError(
                        f"order {order.order_id} ({order.symbol} {order.quantity}) needs "
                        f"{self._text(need)} of buying power; {self._text(max(available, 0))} is available",
                        order_id=order.order_id,
                    )
                if validation is _V_WARN:
                    self._warn(w, ts, _NO_BP, f"needs {self._text(need)}")
                else:
                    # One lot that does not fit: nothing fits (no search, no cost function).
                    n = 0
                    if self.partial_fills and abs(opening) > 1:
                        if cost is None:
                            cost = self._cost_fn(inst, price, lots0=abs(closing), rates=_CASH_RATES)
                        n = gk.affordable_lots(abs(opening), available, cost, over=True)
                    if n == 0:
                        detail = f"needs {self._text(need)}, {self._text(max(available, 0))} available"
                        self._refuse_for(w, ts, _NO_BP, detail)
                        return
                    cut = abs(opening) - n
                    w.lots -= cut if w.lots > 0 else -cut
                    # The order shows why it works less than asked (its reason, orders.csv).
                    w.cut = ReasonCode.SCALED_DOWN
                    self._warn(
                        w,
                        ts,
                        ReasonCode.SCALED_DOWN,
                        f"cut to {w.inst.quantity(abs(w.lots))} (affordable part)",
                    )
                    assert cost is not None  # noqa: S101 - the search above built it
                    need = cost(n)
            w.credit = min(need, max(0, credit))  # a negative credit (covers to pay) is none
            own = need - w.credit
            if own > 0 and validation is _V_REJECT:
                if self._credit:
                    w.reserved = acct._reserve(
                        order.order_id, min(own, acct._buying_power()), order.symbol, opening < 0, order.tag
                    )
                else:
                    # ``acct._reserve`` without asking the ledger for its buying power again:
                    # ``bp`` still is (nothing was booked or reserved since), and the amount
                    # is at most ``bp`` by construction.
                    book = acct._reservations
                    with acct._lock:
                        w.reserved = order.order_id not in book._by_id
                        if w.reserved:
                            book.add(order.order_id, min(own, bp), order.symbol, opening < 0, order.tag)
        self._record(w, _ACCEPTED, ts, None, "")
        self._open.append(w)

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

    def _estimate_price(self, w: _Working, last: int | None = None) -> int | None:
        if w.limit is not None:
            return w.limit
        if w.stop is not None:
            return w.stop
        if last is None:
            last = self._last_close.get(w.order.symbol)
        if last is None:
            return None
        if type(self.slippage_model) is NoSlippage:
            return last  # the price clamped into a bar that is the price itself
        bar = Bar(w.order.submitted_at, last, last, last, last, 0)
        return self.slippage_model.fill_price(w.inst, w.order.side, last, abs(w.lots), bar)

    def _pending_exit_credit(self) -> int:
        """Buying power that pending exits will free, less what entries already rely on."""
        acct = self.account
        positions = acct._positions  # every working order's symbol is registered
        credit = 0
        relied = 0
        for o in self._open:
            if not o.active:
                continue
            relied += o.credit
            pos = positions[o.order.symbol].qty
            if pos == 0:  # nothing to close (``split_fill``'s first case)
                continue
            closing, _ = rules.split_fill(pos, o.remaining)
            if closing:
                price = self._last_close.get(o.order.symbol) or o.limit or o.stop
                if price is None:
                    continue
                notional = abs(rules.notional_minor(price, closing, o.inst.k_num, o.inst.k_den))
                comm = self.commission_model.order_commission(o.inst, abs(closing), notional)
                credit += self._closing_credit(o.inst, pos, closing, price, comm)
        return max(0, credit - relied)

    def _pending_cash_credit(self) -> int:
        """Cash that pending exits will bring (``ShortCash.CREDIT``): sales add, covers cost."""
        acct = self.account
        credit = 0
        relied = 0
        for o in self._open:
            if not o.active:
                continue
            relied += o.credit
            closing, _ = rules.split_fill(acct.position_lots(o.order.symbol), o.remaining)
            if closing:
                price = self._last_close.get(o.order.symbol) or o.limit or o.stop
                if price is not None:
                    credit += self._closing_cash(o.inst, closing, price)
        return credit - relied

    def _closing_cash(self, inst: Instrument, closing: int, price: int) -> int:
        """Return the signed cash a closing leg of ``closing`` lots at ``price`` moves."""
        notional = rules.notional_minor(price, closing, inst.k_num, inst.k_den)
        comm = self.commission_model.order_commission(inst, abs(closing), abs(notional))
        return rules.fill_cash_delta(notional, comm)

    def _closing_credit(self, inst: Instrument, pos: int, closing: int, price: int, comm: int) -> int:
        """Buying power that closing ``closing`` lots of a ``pos`` position at ``price`` frees."""
        acct = self.account
        notional = abs(rules.notional_minor(price, closing, inst.k_num, inst.k_den))
        rate = acct.im_rate_ppm(inst.symbol, pos)
        return max(0, rules.closing_bp_credit(notional, comm, rate, acct.base_im_rate_ppm))

    # -- cancel and modify ----------------------------------------------------------

    def cancel(self, order_id: str, timestamp: TimeLike) -> OrderView:
        """Cancel a working order (and a bracket's exits with their entry)."""
        w = self._get(order_id)
        ts = to_timestamp(timestamp)
        if w.status.is_open:
            self._finish(w, OrderStatus.CANCELLED, ts, None, "cancelled by request")
            for child in w.children:
                c = self._orders[child]
                if c.status.is_open and not c.active:
                    self._finish(c, OrderStatus.CANCELLED, ts, None, "entry cancelled")
        return self.view(order_id)

    def modify(
        self,
        order_id: str,
        timestamp: TimeLike,
        *,
        quantity: Number | None = None,
        limit: Number | None = None,
        stop: Number | None = None,
    ) -> OrderView:
        """Replace a working order's quantity or prices; the checks run again.

        The replacement is a new order (new id, same tag and intent) placed through the
        gatekeeper with the original's reservation freed for it. If the gatekeeper
        refuses it, the original keeps working unchanged, as a broker keeps an order
        whose replace request is rejected; otherwise the original is cancelled.
        Returns the replacement's view (``rejected`` with its reason when refused).
        """
        w = self._get(order_id)
        if not w.status.is_open:
            raise InvalidInputError(
                "order_id", order_id, f"is {w.status.value}; only working orders can be modified"
            )
        ts = to_timestamp(timestamp)
        o = w.order
        new_qty = w.inst.quantity(w.remaining) if quantity is None else quantity
        replacement = self._build(
            o.symbol, new_qty, ts, o.type,
            o.limit if limit is None else limit, o.stop if stop is None else stop,
            o.trail_amount, o.trail_percent, o.tif, o.expire_at, o.tag, o.intent, None, o.client_id,
            None, None,
        )  # fmt: skip
        acct = self.account
        with acct.lock:
            held = acct.release(order_id) if w.reserved else None
            w.reserved = False
            credit, w.credit = w.credit, 0
            self._open.remove(w)
            self._place(replacement)
            if replacement.status is OrderStatus.REJECTED:
                self._open.append(w)
                self._open.sort(key=lambda x: x.seq)
                w.credit = credit
                if held is not None:
                    w.reserved = acct.reserve(
                        order_id, held, symbol=o.symbol, short=o.quantity < 0, tag=o.tag
                    ).ok
            else:
                self._finish(w, OrderStatus.CANCELLED, ts, None, f"replaced by {replacement.order.order_id}")
        return self.view(replacement.order.order_id)

    # -- corporate actions ----------------------------------------------------------

    def apply_split(self, symbol: str, ratio: Number, timestamp: TimeLike) -> None:
        """Split ``symbol`` in the ledger and adjust its working orders to match.

        Each working order keeps what it already filled; its remaining quantity is
        multiplied by ``ratio`` (truncated to the lot grid; an order left with nothing
        is cancelled) and its limit, stop and trailing level are divided by it (snapped
        half-even to the tick). The last price is divided too. Reservations keep their
        amount: a split changes no values.
        """
        r = Fraction(to_decimal(ratio, f"{symbol}.split", positive=True))
        ts = to_timestamp(timestamp)
        self.account.split(symbol, r, ts)

        def scale(ticks: int | None) -> int | None:
            return None if ticks is None else max(1, round(Fraction(ticks) / r))

        for w in list(self._open):
            if w.order.symbol != symbol:
                continue
            remaining = int(w.remaining * r)  # truncates toward zero for sells too
            w.lots = w.filled + remaining
            w.limit, w.stop, w.trail = scale(w.limit), scale(w.stop), scale(w.trail)
            if w.trail_amount is not None:
                w.trail_amount = scale(w.trail_amount)
            if remaining == 0 and w.active:
                self._finish(w, OrderStatus.CANCELLED, ts, None, f"split {r} left nothing to fill")
        last = self._last_close.get(symbol)
        if last is not None:
            self._last_close[symbol] = max(1, round(Fraction(last) / r))

    # -- bars -----------------------------------------------------------------------

    def on_bar(
        self, timestamp: TimeLike, bars: Mapping[str, Bar], *, session_close: bool | None = None
    ) -> list[Fill]:
        """Process one timestamp's bars (one per symbol that traded); return the fills.

        Parameters
        ----------
        timestamp
            The bars' timestamp: their open time, in exchange time.
        bars
            One ``Bar`` per symbol that traded at ``timestamp``.
        session_close
            Whether this is the last bar of its session (the calendar date of the
            timestamps). Market-on-close orders fill at the close of a session's last
            bar only; market-on-open orders at the open of a session's first bar (the
            bar after one that closed a session, or the first of a new date). ``None``
            (default): the bar is its own session, as a daily or coarser bar is.

        Returns
        -------
        list[Fill]
            The fill legs booked in this bar, in order.
        """
        ts = to_timestamp(timestamp)
        day = ts.date()
        opens = self._prev_session_close is not False or day != self._prev_day
        self._prev_session_close, self._prev_day = session_close, day
        self._begin_bar(ts)
        self.account.mark_ticks({s: b.open for s, b in bars.items()}, ts)
        fills = self._match(ts, bars, session_open=opens, session_close=session_close is not False)
        self._end_bar(ts, {s: b.close for s, b in bars.items()}, bars)
        return fills

    def fill_at_close(
        self, timestamp: TimeLike, bars: Mapping[str, Bar], *, session_close: bool | None = None
    ) -> list[Fill]:
        """Fill the orders submitted at ``timestamp`` at that bar's close (look-ahead).

        Only with ``fill_timing="same_bar_close"``: call it after ``on_bar`` for the
        same bars and after submitting the orders. Each order submitted at
        ``timestamp`` gets one pass against the bar's close (a bar whose open, high and
        low are its close, with the volume ``on_bar`` left): market orders fill at the
        close, limits and stops when the close satisfies them; what does not fill works
        on from the next bar as usual. The account is marked at the closes again
        afterwards; the margin check stays the one ``on_bar`` ran.

        This sees the close before trading at it, which no real order can: results
        made with it say "look-ahead" (settings, report).
        """
        if self.fill_timing is not matching.FillTiming.SAME_BAR_CLOSE:
            raise InvalidInputError(
                "fill_timing", self.fill_timing.value, "fill_at_close needs fill_timing='same_bar_close'"
            )
        ts = to_timestamp(timestamp)
        self._roll_month(ts)  # a no-op after on_bar(ts); the engine skips on_bar on quiet bars
        at_close = {s: b.at_close() for s, b in bars.items()}
        fills = self._match(
            ts, at_close, session_open=False, session_close=session_close is not False, same_bar=True
        )
        self._end_bar(ts, {s: b.close for s, b in bars.items()}, bars, check=False)
        return fills

    def _begin_bar(self, ts: pd.Timestamp) -> None:
        """Move the clock to the bar: the account's session, the month, expiries."""
        self.account.advance(ts)
        self._roll_month(ts)
        self._expire(ts)

    def _end_bar(
        self, ts: pd.Timestamp, closes: Mapping[str, int], bars: Mapping[str, Bar], *, check: bool = True
    ) -> None:
        """Mark the account at the closes, keep them as last prices, run the margin check.

        ``closes`` must cover every symbol with a position and a bar (the engine leaves
        out flat symbols, whose mark moves no money); ``bars`` gives the adverse extremes
        when ``check_extremes`` is on.
        """
        self.account.mark_ticks(closes, ts)
        self._last_close.update(closes)
        if check:
            self._check_margin(ts, bars)

    def _match(
        self,
        ts: pd.Timestamp,
        bars: Mapping[str, Bar],
        *,
        session_open: bool = True,
        session_close: bool = True,
        same_bar: bool = False,
    ) -> list[Fill]:
        """Match the working orders against ``bars`` (the account marked at the opens).

        ``bars`` must hold the bar of every symbol with a working order that has one at
        ``ts``; symbols without orders may be left out. With ``same_bar``, only the
        orders submitted at ``ts`` are matched (``fill_at_close``), sharing the volume
        the regular pass of ``ts`` left.
        """
        acct = self.account
        if same_bar and self._budget_ts == ts:
            left = self._budget
            budget = {s: left[s] if s in left else self._volume_budget(b) for s, b in bars.items()}
        elif self.volume_limit is None:
            # ``_volume_budget`` without a cap, inlined (a call per bar and symbol): only a
            # bar without volume limits the fill.
            empty = None if self.zero_volume is ZeroVolume.FILL else 0
            budget = {s: None if b.volume > 0 else empty for s, b in bars.items()}
        else:
            budget = {s: self._volume_budget(b) for s, b in bars.items()}
        prices: dict[str, int] = {}
        todo: list[_Working] = []
        immediate: list[_Working] = []  # IOC/FOK orders get exactly one eligible bar
        # Without OCO groups ``_priority`` is the submission order: one C-level key.
        for w in sorted(self._open, key=self._priority if self._oco_seen else _BY_SEQ):
            order = w.order
            bar = bars.get(order.symbol)
            after = w.eligible_after
            if bar is None or not w.active or after is None:
                continue
            if (after != ts) if same_bar else (after >= ts):
                continue
            tif = order.tif
            if tif is TimeInForce.IOC or tif is TimeInForce.FOK:
                immediate.append(w)
            elif tif is TimeInForce.DAY and w.session is None:
                w.session = ts.date()
            # A market order's reference is the open (``_reference``'s first case, inlined).
            price = (
                bar.open if order.type is _MARKET else self._reference(w, bar, session_open, session_close)
            )
            if price is None:
                continue
            if w.filled == 0:
                if self._counts_month:
                    # An order is charged at the tier in force when it starts to fill.
                    w.month_lots = self._month_lots_for(w.inst)
                if w.value is not None:
                    # An order_value order gets its quantity now, at this bar's fill price.
                    fill_at = self._fill_price(w, price, abs(w.lots), bar)
                    lots = self._lots_for_value(w.inst, w.value, fill_at, 0)
                    if lots == 0:
                        self._finish(
                            w, OrderStatus.CANCELLED, ts, None, "the value buys nothing at the fill price"
                        )
                        continue
                    w.lots = lots if order.side > 0 else -lots
            prices[order.order_id] = price
            todo.append(w)
        fills: list[Fill] = []
        # Each order's (closing, opening) split against its position, as of the exits pass.
        positions = acct._positions  # every working order's symbol is registered
        for w in todo:  # exits first
            order = w.order
            if order.tif is TimeInForce.FOK:
                continue
            pos = positions[order.symbol].qty
            if pos == 0:  # nothing to close (``split_fill``'s first case)
                continue
            closing, opening = rules.split_fill(pos, w.lots - w.filled)
            if closing:
                sym = order.symbol
                if opening:
                    fills += self._execute_flip(
                        w, closing, opening, prices[order.order_id], bars[sym], budget, ts
                    )
                else:
                    fills += self._execute(w, closing, prices[order.order_id], bars[sym], budget, ts)
        cash_account = acct.kind is AccountKind.CASH
        for w in todo:  # then entries
            if not w.status.is_open:
                continue
            order = w.order
            sym = order.symbol
            if order.tif is TimeInForce.FOK:
                fills += self._execute_fok(w, prices[order.order_id], bars[sym], budget, ts)
                continue
            closing, opening = rules.split_fill(positions[sym].qty, w.lots - w.filled)
            if opening and not closing:
                if order.intent is Intent.REDUCE or order.intent is Intent.CLOSE:
                    self._finish(
                        w, OrderStatus.CANCELLED, ts, ReasonCode.INTENT_MISMATCH, "nothing left to reduce"
                    )
                    continue
                # The short check again at the fill: an order placed as a sale while long
                # opens a short when another order closed the long first.
                verdict = gk.check_short(w.inst, cash_account, opening)
                if not verdict.ok:
                    self._refuse_at_fill(w, ts, verdict)
                    continue
                fills += self._execute(w, opening, prices[order.order_id], bars[sym], budget, ts)
        for w in immediate:
            if w.status.is_open:
                what = "IOC remainder" if w.order.tif is TimeInForce.IOC else "fill-or-kill order"
                self._finish(w, OrderStatus.CANCELLED, ts, None, f"{what} cancelled after its first bar")
        if not same_bar and self._trail_seen:
            for w in list(self._open):  # a trailing stop ratchets with every bar it survives
                if w.trail is None:  # most orders: no lookup
                    continue
                bar = bars.get(w.order.symbol)
                if (
                    bar is not None
                    and w.status.is_open
                    and w.eligible_after is not None
                    and w.eligible_after < ts
                ):
                    w.trail = matching.ratchet(w.order.side, w.trail, bar, w.trail_amount, w.trail_ppm)
        self._budget, self._budget_ts = budget, ts
        return fills

    def _submitted_at(self, ts: pd.Timestamp) -> set[str]:
        """Return the symbols of the working orders submitted at ``ts`` (a same-bar pass)."""
        return {w.order.symbol for w in self._open if w.active and w.eligible_after == ts}

    def _priority(self, w: _Working) -> tuple[int, int]:
        # In an OCO group the stop-loss goes first: when a bar touches both, it fills.
        return (1 if w.order.oco_group and w.order.type is OrderType.LIMIT else 0, w.seq)

    def _reference(self, w: _Working, bar: Bar, session_open: bool, session_close: bool) -> int | None:
        side = w.order.side
        t = w.order.type
        if t is OrderType.MARKET:
            return bar.open
        if t is OrderType.MARKET_ON_OPEN:
            return bar.open if session_open else None
        if t is OrderType.MARKET_ON_CLOSE:
            return bar.close if session_close else None
        if t is OrderType.LIMIT:
            assert w.limit is not None  # noqa: S101 - validated in _build
            return matching.limit_price(side, w.limit, bar)
        if t is OrderType.STOP:
            assert w.stop is not None  # noqa: S101
            return matching.stop_price(side, w.stop, bar)
        if t is OrderType.STOP_LIMIT:
            assert w.stop is not None and w.limit is not None  # noqa: S101
            price, w.triggered = matching.stop_limit_price(side, w.stop, w.limit, bar, w.triggered)
            return price
        assert w.trail is not None  # noqa: S101 - trailing stop
        return matching.stop_price(side, w.trail, bar)

    def _fill_price(self, w: _Working, ref: int, lots: int, bar: Bar) -> int:
        model = self.slippage_model
        if type(model) is NoSlippage:  # its ``fill_price`` without its side check (one call)
            price = slip_ticks(1, ref, 0, 1, bar.low, bar.high)
        else:
            price = model.fill_price(w.inst, w.order.side, ref, abs(lots), bar)
        if w.limit is not None:  # slippage never takes a limit order past its limit
            price = min(price, w.limit) if w.order.side > 0 else max(price, w.limit)
        return price

    def _volume_budget(self, bar: Bar) -> int | None:
        if bar.volume <= 0:
            # ZeroVolume.FILL: a bar without volume data, which no cap can apply to.
            return None if self.zero_volume is ZeroVolume.FILL else 0
        if self.volume_limit is None:
            return None
        return int(bar.volume * self.volume_limit)

    def _execute(
        self, w: _Working, lots: int, ref: int, bar: Bar, budget: dict[str, int | None], ts: pd.Timestamp
    ) -> list[Fill]:
        """Fill up to ``lots`` (one direction: all closing or all opening) of ``w``."""
        sym = w.order.symbol
        cap = budget[sym]
        want = abs(lots)
        if cap is not None:
            if cap == 0:
                self._note_deferred(
                    w, ts, ReasonCode.ZERO_VOLUME if bar.volume <= 0 else ReasonCode.VOLUME_LIMIT
                )
                return []
            want = min(want, cap)
        price = self._fill_price(w, ref, want, bar)
        acct = self.account
        pos = acct.position_lots(sym)
        opening = pos == 0 or (pos > 0) == (lots > 0)
        unfunded = False
        costs = None
        if opening and self.validation is not _V_OFF:
            costs = self._covered_costs(w, want, price)
            if costs is None:  # not covered for sure: the full check decides
                n = self._affordable_at_fill(w, want, price, ts)
                unfunded = n < want and self.unfunded is Unfunded.CANCEL
                want = n
                if want == 0:
                    if unfunded:
                        self._cancel_unfunded(w, ts)
                    return []
        legs = self._book(w, want if lots > 0 else -want, price, ts, ref, costs)
        if cap is not None:
            budget[sym] = cap - want
        if unfunded and w.status.is_open:
            self._cancel_unfunded(w, ts)
        return legs

    def _refuse_at_fill(self, w: _Working, ts: pd.Timestamp, verdict: Verdict) -> None:
        """Cancel what is left of an accepted order the fill-time check refuses, with a refusal."""
        assert verdict.reason is not None  # noqa: S101 - refusals carry a reason
        self.rejections.append(
            Rejection(
                w.order.order_id,
                w.order.symbol,
                ts,
                w.inst.quantity(w.remaining),
                verdict.reason,
                verdict.detail,
                at_fill=True,
            )
        )
        self._finish(w, OrderStatus.CANCELLED, ts, verdict.reason, verdict.detail)

    def _cancel_unfunded(self, w: _Working, ts: pd.Timestamp) -> None:
        """Cancel what the fill-time check cannot fund (``Unfunded.CANCEL``), with a refusal."""
        detail = "the fill cannot fund it: cancelled"
        self.rejections.append(
            Rejection(
                w.order.order_id,
                w.order.symbol,
                ts,
                w.inst.quantity(w.remaining),
                ReasonCode.INSUFFICIENT_BUYING_POWER,
                detail,
                at_fill=True,
            )
        )
        self._finish(w, OrderStatus.CANCELLED, ts, ReasonCode.INSUFFICIENT_BUYING_POWER, detail)
        for child in w.children:  # a bracket's exits that never got a fill to protect
            c = self._orders[child]
            if c.status.is_open and not c.active:
                self._finish(c, OrderStatus.CANCELLED, ts, None, "entry cancelled")

    def _execute_flip(
        self,
        w: _Working,
        closing: int,
        opening: int,
        ref: int,
        bar: Bar,
        budget: dict[str, int | None],
        ts: pd.Timestamp,
    ) -> list[Fill]:
        """Fill an order that crosses zero as one fill, in the exits pass.

        The closing part is always allowed; the opening part rides along as far as the
        volume cap and buying power (including what the closing part frees) allow, so
        the ledger books one zero-crossing fill and splits its costs pro rata. Whatever
        of the opening part is left works on in the entries pass with the buying power
        the other exits free.
        """
        sym = w.order.symbol
        cap = budget[sym]
        if cap is not None and cap < abs(closing):
            return self._execute(w, closing, ref, bar, budget, ts)  # not even the close fits
        room = abs(opening) if cap is None else min(abs(opening), cap - abs(closing))
        if not gk.check_short(w.inst, self.account.kind is AccountKind.CASH, opening).ok:
            room = 0  # the short part is refused in the entries pass
        price = self._fill_price(w, ref, abs(closing) + room, bar)
        n = room
        if room and self.validation is not gk.Validation.OFF:
            acct = self.account
            signed = rules.notional_minor(price, closing, w.inst.k_num, w.inst.k_den)
            # Per-leg fees: the closing leg pays its own commission out of what it frees
            # (per order it is part of the opening part's cost below).
            fee = 0
            if self.fixed_fee_per is FixedFeePer.LEG:
                fee = leg_commission(self._commission_of(w), w.closed, abs(closing), abs(signed))
            if self._credit:  # cash: a sale brings its proceeds, a cover costs its price
                freed = rules.fill_cash_delta(signed, fee)
            else:
                freed = rules.closing_bp_credit(
                    abs(signed), fee, acct.im_rate_ppm(sym, -closing), acct.base_im_rate_ppm
                )
            n = self._affordable_at_fill(w, room, price, ts, prior=abs(closing), credit=freed, quiet=True)
        lots = closing + (n if opening > 0 else -n)
        legs = self._book(w, lots, price, ts, ref)
        if cap is not None:
            budget[sym] = cap - abs(lots)
        return legs

    def _affordable_at_fill(
        self,
        w: _Working,
        want: int,
        price: int,
        ts: pd.Timestamp,
        *,
        prior: int = 0,
        credit: int = 0,
        quiet: bool = False,
    ) -> int:
        """Return how many of ``want`` opening lots the account affords at ``price``.

        ``prior`` closing lots of the same fill count toward the order's commission and
        ``credit`` is the buying power they free (with ``ShortCash.CREDIT``: the cash
        they move). ``quiet`` only measures: no strict error, warning or deferral note
        (the caller retries the rest later). Under ``Unfunded.CANCEL`` no deferral note
        either: the caller cancels what is not affordable.
        """
        acct = self.account
        if self._credit and w.order.side < 0:
            return want  # a credited short is not checked (ShortCash.CREDIT)
        own, free = self._free_at_fill(w, credit)
        available = own + free
        if self.fixed_fee_per is FixedFeePer.LEG:
            # The opening side is its own order: its lots, notional and commission so far.
            c_lots, c_notional, c_paid = w.closed
            lots0, notional0, paid = abs(w.filled) - c_lots, w.notional - c_notional, w.commission - c_paid
        elif prior:
            prior_notional = abs(rules.notional_minor(price, prior, w.inst.k_num, w.inst.k_den))
            lots0, notional0, paid = abs(w.filled) + prior, w.notional + prior_notional, w.commission
        else:
            lots0, notional0, paid = abs(w.filled), w.notional, w.commission
        cost = self._cost_fn(
            w.inst,
            price,
            lots0=lots0,
            notional0=notional0,
            paid=paid,
            month_lots=w.month_lots,
            rates=None if self._credit else self._opening_rates(w.order.symbol, w.order.side),
        )
        need = cost(want)
        if need <= available:
            return want
        if quiet:
            return gk.affordable_lots(want, available, cost) if self.partial_fills else 0
        if self.validation is gk.Validation.STRICT:
            raise InsufficientFundsError(
                f"order {w.order.order_id} ({w.order.symbol}) needs {Money(need, acct.currency)} at fill; "
                f"{Money(max(available, 0), acct.currency)} is available",
                order_id=w.order.order_id,
            )
        if self.validation is gk.Validation.WARN:
            self._warn(
                w, ts, ReasonCode.INSUFFICIENT_BUYING_POWER, f"filled needing {Money(need, acct.currency)}"
            )
            return want
        n = gk.affordable_lots(want, available, cost) if self.partial_fills else 0
        if n < want and self.unfunded is Unfunded.DEFER:
            self._note_deferred(w, ts, ReasonCode.INSUFFICIENT_BUYING_POWER)
        return n

    def _free_at_fill(self, w: _Working, credit: int) -> tuple[int, int]:
        """Return ``(own, free)`` for the fill-time check (see ``gk.fill_covered``).

        ``own``: what ``w``'s reservation still holds. ``free``: what the account has less
        what *all* orders hold, plus ``credit``. The check's ``available`` is their sum;
        not ``buying_power + own``: buying power is floored at zero, so after cash fell
        below the reservations (a fee, a loss) that sum would let this order spend money
        the account no longer has. (The ledger's integers directly, as ``_place`` reads
        them: no ``Money`` per fill.)
        """
        acct = self.account
        with acct._lock:
            book = acct._reservations
            r = book._by_id.get(w.order.order_id) if w.reserved else None
            own = 0 if r is None else r.remaining
            if self._credit:
                return own, credit_available(acct._cash, book.total, credit)
            return own, acct._gross_buying_power() - book.total + credit

    def _covered_costs(self, w: _Working, want: int, price: int) -> tuple[int, int] | None:
        """Return the ``(notional, commission)`` to book ``want`` opening lots with, if funded.

        The fill-time check's shortcut: the fill's exact cost, priced as ``_book`` books
        it, against what the order holds plus what the account has free
        (``gk.fill_covered``). ``None`` when that does not show the fill funded, or for
        per-leg fees and credited shorts (their costs are priced differently): the
        caller then runs the full check, ``_affordable_at_fill``.
        """
        if self.fixed_fee_per is _PER_LEG or (self._credit and w.order.side < 0):
            return None
        inst = w.inst
        notional = abs(rules.notional_minor(price, want, inst.k_num, inst.k_den))
        model = self.commission_model
        if type(model) in _VALUE_FEE_MODELS:  # their ``order_commission``, without its input checks
            num, den = model._ratio  # type: ignore[attr-defined]  # both value models have it
            total = value_fee(w.notional + notional, num, den)
        else:
            total = model.order_commission(inst, abs(w.filled) + want, w.notional + notional, w.month_lots)
        comm = total - w.commission
        comm = comm if comm > 0 else 0  # as ``_book`` charges it
        acct = self.account
        if acct.kind is _CASH_ACCOUNT and not self._credit:
            # ``_free_at_fill`` of a cash account, inlined (one per opening fill): its
            # buying power before reservations is its settled cash, floored at zero.
            book = acct._reservations
            r = book._by_id.get(w.order.order_id) if w.reserved else None
            own = 0 if r is None else r.remaining
            free = rules.cash_buying_power(acct._cash - acct._unsettled_total, 0) - book.total
            need = notional + comm  # ``opening_bp_cost`` at 100% / 100%
        else:
            if self._credit:
                need = notional + comm
            else:
                rate, base = self._opening_rates(w.order.symbol, w.order.side)
                need = rules.opening_bp_cost(notional, comm, rate, base)
            own, free = self._free_at_fill(w, 0)
        return (notional, comm) if gk.fill_covered(need, own, free) else None

    def _execute_fok(
        self, w: _Working, ref: int, bar: Bar, budget: dict[str, int | None], ts: pd.Timestamp
    ) -> list[Fill]:
        """Fill a fill-or-kill order whole in this bar, or cancel it."""
        cap = budget[w.order.symbol]
        want = abs(w.remaining)
        reason = None
        if cap is not None and cap < want:
            reason = ReasonCode.ZERO_VOLUME if bar.volume <= 0 else ReasonCode.VOLUME_LIMIT
        else:
            price = self._fill_price(w, ref, want, bar)
            pos = self.account.position_lots(w.order.symbol)
            _, opening = rules.split_fill(pos, w.remaining)
            verdict = gk.check_short(w.inst, self.account.kind is AccountKind.CASH, opening)
            if not verdict.ok:  # placed while the position made it a sale (see ``_match``)
                self._refuse_at_fill(w, ts, verdict)
                return []
            if opening and self.validation is gk.Validation.REJECT:
                saved = self.partial_fills
                self.partial_fills = False
                try:
                    ok = self._affordable_at_fill(w, want, price, ts) == want
                finally:
                    self.partial_fills = saved
                if not ok:
                    reason = ReasonCode.INSUFFICIENT_BUYING_POWER
        if reason is not None:
            self._finish(w, OrderStatus.CANCELLED, ts, reason, "fill-or-kill could not fill whole")
            return []
        legs = self._book(w, w.remaining, price, ts, ref)
        if cap is not None:
            budget[w.order.symbol] = cap - want
        return legs

    def _book(
        self,
        w: _Working,
        lots: int,
        price: int,
        ts: pd.Timestamp,
        ref: int,
        costs: tuple[int, int] | None = None,
    ) -> list[Fill]:
        """Apply one fill of ``w`` to the ledger and update the order.

        ``costs``: the fill's ``(notional, commission)`` when the fill-time check already
        priced them (``_covered_costs``, per-order fees), so they are not priced twice.
        """
        acct = self.account
        inst = w.inst
        k_num, k_den = inst.k_num, inst.k_den
        closed = w.closed
        if costs is not None:
            notional, comm = costs
        elif self.fixed_fee_per is FixedFeePer.LEG:
            notional = abs(rules.notional_minor(price, lots, k_num, k_den))
            comm, closed = self._leg_commissions(w, lots, price)
        else:
            notional = abs(rules.notional_minor(price, lots, k_num, k_den))
            total = self.commission_model.order_commission(
                inst, abs(w.filled + lots), w.notional + notional, w.month_lots
            )
            comm = max(0, total - w.commission)
        # Slippage is the fill's distance from the reference price (none without a model).
        ref_value = 0 if ref == price else abs(notional - abs(rules.notional_minor(ref, lots, k_num, k_den)))
        order = w.order
        # Booking the fill and releasing its reservation is one step for any reader of
        # the account (a monitor thread): otherwise the money would count twice. The
        # ledger books the integers as they are (no round trip through decimals).
        if price <= 0 or comm < 0:  # a broken slippage or commission model: ``book`` names it
            acct.book(order.symbol, lots, price, comm, ref_value, ts, order.order_id, order.tag)
        with acct.lock:
            # ``w.inst`` is the account's instrument and ``lots`` is never zero here: the
            # ledger skips the checks of ``book`` and a second acquisition of the lock.
            legs = acct._book_exact(inst, lots, price, comm, ref_value, ts, order.order_id, order.tag)
            w.filled += lots
            if w.reserved:
                # The book directly, under the lock already held (``Account.release`` and
                # ``confirm`` would take it again and wrap the amount in ``Money``).
                book = acct._reservations
                if abs(lots) == abs(w.lots):  # all of it at once: the share is 1
                    book.release(order.order_id)
                else:
                    book.release_fraction(order.order_id, Fraction(abs(lots), abs(w.lots)))
                if w.remaining == 0:
                    w.reserved = False
        w.notional += notional
        w.commission += comm
        w.closed = closed
        if self._counts_month:
            self._month_units += abs(lots) * inst.lot_size
        self.fills.extend(legs)
        done = w.filled == w.lots
        self._record(w, OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED, ts, None, "")
        if done:
            self._close(w)
        if w.children or order.oco_group is not None:  # bracket bookkeeping only when bracketed
            self._after_fill(w, lots, ts)
        if self.on_fill is not None:
            for leg in legs:
                self.on_fill(leg)
        return list(legs)

    def _commission_of(self, w: _Working) -> Callable[[int, int], int]:
        """Return ``w``'s cumulative commission as a function of (lots, notional)."""
        model, inst, month = self.commission_model, w.inst, w.month_lots
        return lambda lots, notional: model.order_commission(inst, lots, notional, month)

    def _leg_commissions(self, w: _Working, lots: int, price: int) -> tuple[int, tuple[int, int, int]]:
        """Return a fill's commission when each leg is its own order, and the new closing side.

        ``FixedFeePer.LEG``: the closing part and the opening part of ``w`` are charged
        as two orders (each cumulative over its own fills), so a flip pays a fixed fee
        or minimum twice (Backtrader, backtesting.py). Must run before the fill is booked.
        """
        inst = w.inst
        closing, opening = rules.split_fill(self.account.position_lots(w.order.symbol), lots)
        commission = self._commission_of(w)
        c_lots, c_notional, c_paid = w.closed
        c_value = abs(rules.notional_minor(price, closing, inst.k_num, inst.k_den))
        o_value = abs(rules.notional_minor(price, opening, inst.k_num, inst.k_den))
        c_comm = leg_commission(commission, w.closed, abs(closing), c_value)
        o_done = (abs(w.filled) - c_lots, w.notional - c_notional, w.commission - c_paid)
        o_comm = leg_commission(commission, o_done, abs(opening), o_value)
        return c_comm + o_comm, (c_lots + abs(closing), c_notional + c_value, c_paid + c_comm)

    def _after_fill(self, w: _Working, lots: int, ts: pd.Timestamp) -> None:
        """Bracket bookkeeping: arm exits with the entry's fills, keep OCO siblings in step."""
        for cid in w.children:
            c = self._orders[cid]
            if c.status.is_open:
                c.lots -= lots
                c.active = True
                c.eligible_after = ts
        if w.order.oco_group is not None:
            for o in list(self._open):
                if o is w or o.order.oco_group != w.order.oco_group or o.order.parent_id is None:
                    continue
                o.lots -= lots
                if o.remaining == 0 and o.status.is_open:
                    if o.filled == 0 and self._orders[w.order.oco_group].status.is_open:
                        continue  # the entry still fills: the sibling waits for more
                    self._finish(o, OrderStatus.CANCELLED, ts, None, "one-cancels-other")

    def _expire(self, ts: pd.Timestamp) -> None:
        for w in list(self._open):
            o = w.order
            if o.tif is TimeInForce.DAY and w.session is not None and ts.date() > w.session:
                self._finish(w, OrderStatus.EXPIRED, ts, None, "DAY order: session ended")
            elif o.tif is TimeInForce.GTD and o.expire_at is not None and ts > o.expire_at:
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
            self.rejections.append(
                Rejection(
                    w.order.order_id,
                    w.order.symbol,
                    ts,
                    w.inst.quantity(w.remaining),
                    reason,
                    "order stays working",
                    at_fill=True,
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
        reason = w.reason if w.reason is not None else w.cut
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
        digits = self.account.currency.digits
        # Every instrument is in the account's currency (``add_instrument`` checks): one
        # scale for every average price, one zero for every order that paid nothing.
        scale = Decimal(10) ** digits
        no_commission = Decimal(0).scaleb(-digits)
        out: list[OrderState] = []
        append = out.append
        for w in self._orders.values():
            inst = w.inst
            filled = w.filled
            if filled:  # the same quotient as ``_view``'s
                avg = Decimal(w.notional) / (abs(filled) * inst.lot_size * inst.multiplier * scale)
            else:
                avg = None
            comm = w.commission
            append(
                (
                    w.order,
                    w.status,
                    inst.quantity(w.lots),
                    inst.quantity(filled),
                    avg,
                    Decimal(comm).scaleb(-digits) if comm else no_commission,
                    w.reason if w.reason is not None else w.cut,
                )
            )
        return out

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        """Return the working orders (of one symbol, or all)."""
        return [self.view(w.order.order_id) for w in self._open if symbol is None or w.order.symbol == symbol]

    def open_quantity(self, symbol: str) -> Decimal:
        """Return the signed quantity the working orders of ``symbol`` have still to fill."""
        if not self._open:  # the common case in a strategy's loop: nothing is working
            return _ZERO
        lots = sum(w.remaining for w in self._open if w.order.symbol == symbol)
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

    def _risk_verdict(self, w: _Working, opening: int) -> Verdict:
        """Placement checks of the trading state and the PDT ``block`` policy."""
        if w.order.order_id in self._liquidation_ids:
            return ALLOWED
        state = self._trading.state
        if state is _HALTED:
            return Verdict(
                False, ReasonCode.HALTED, f"trading is halted: {self.halt_reason or 'NLV is not positive'}"
            )
        if state is _REDUCE_ONLY and opening:
            return Verdict(
                False,
                ReasonCode.REDUCE_ONLY,
                f"the account is in a margin call ({self._band.value}): only orders that reduce exposure",
            )
        acct = self.account
        if acct.kind is _CASH_ACCOUNT or acct.pdt_policy is not _PDT_BLOCK:
            return ALLOWED  # ``pdt_verdict``'s first answer, without taking the lock
        return acct.pdt_verdict(w.order.symbol, w.lots)

    def _check_margin(self, ts: pd.Timestamp, bars: Mapping[str, Bar]) -> None:
        """Run the margin monitor after a bar's final mark; liquidate when it is due."""
        acct = self.account
        ticks: dict[str, int] | None = None
        if self.check_extremes:
            ticks = {}
            for s, b in bars.items():
                lots = acct.position_lots(s)
                if lots:
                    ticks[s] = b.low if lots > 0 else b.high
        nlv, gross, mm = acct.margin_figures(ticks)
        bands = self.margin_bands
        code = rules.margin_band(
            nlv, gross, mm, bands.at_risk_ppm, bands.margin_call_ppm, bands.liquidating_ppm
        )
        if code == self._band_code and code < rules.BAND_MARGIN_CALL:
            return  # the common case (every bar): nothing changed, nothing to do
        band = bands.classify(nlv, gross, mm)
        halted = rules.is_halted(nlv, gross)
        before = self._trading.state
        step = self._trading.update(band, halted)
        ratio = rules.margin_ratio_ppm(nlv, gross)
        ccy = acct.currency
        if band is not self._band:
            self.margin_events.append(
                MarginEvent(
                    ts, EventKind.MARGIN, self._band.value, band.value, ratio, Money(nlv, ccy), Money(mm, ccy)
                )
            )
            self._band = band
            self._band_code = code
        if step.state is not before:
            detail = ""
            if step.state is TradingState.HALTED:
                debit = Money(max(0, -nlv), ccy)
                detail = f"NLV {Money(nlv, ccy)} at {ts}: a debit of {debit} owed; only liquidation"
                self.halt_reason = detail
            self.margin_events.append(
                MarginEvent(
                    ts,
                    EventKind.TRADING_STATE,
                    before.value,
                    step.state.value,
                    ratio,
                    Money(nlv, ccy),
                    Money(mm, ccy),
                    detail,
                )
            )
        if step.liquidate:
            self._liquidate(ts, ticks, nlv, gross, mm, step.close_all)

    def _liquidate(
        self,
        ts: pd.Timestamp,
        ticks: Mapping[str, int] | None,
        nlv: int,
        gross: int,
        mm: int,
        close_all: bool,
    ) -> None:
        """Cancel what stands in the way, then send market orders tagged ``liquidation``.

        Each check makes a fresh plan at the current positions. Working liquidation
        orders (held back by the volume cap or a zero-volume bar) stay when they are
        exactly the plan, and are replaced otherwise. Orders that would add exposure
        are cancelled, and so are exits on the symbols being sold (together with the
        liquidation they would sell past zero); a halted account keeps no other order.
        """
        acct = self.account
        steps = plan_liquidation(
            acct.holdings(ticks),
            nlv,
            gross,
            mm,
            policy=self.liquidation_policy,
            call_ppm=self.margin_bands.margin_call_ppm,
            close_all=close_all,
            commission=self._liquidation_commission,
        )
        working = [w for w in self._open if w.order.order_id in self._liquidation_ids]
        keep = [(w.order.symbol, w.remaining) for w in working] == [(s.symbol, s.lots) for s in steps]
        selling = {s.symbol for s in steps}
        for w in list(self._open):
            if not w.status.is_open or (keep and w in working):
                continue
            _, opening = rules.split_fill(acct.position_lots(w.order.symbol), w.remaining)
            parent = self._orders.get(w.order.parent_id) if w.order.parent_id else None
            orphan = not w.active and (parent is None or not parent.status.is_open)
            if w in working:
                self._finish(w, OrderStatus.CANCELLED, ts, ReasonCode.LIQUIDATION, "replaced by a new plan")
            elif close_all or opening or w.order.symbol in selling or orphan:
                self._finish(
                    w, OrderStatus.CANCELLED, ts, ReasonCode.LIQUIDATION, "cancelled by the liquidation"
                )
        if keep:
            return
        for step in steps:
            oid = f"liq{next(self._liq_seq)}"
            while oid in self._orders:
                oid = f"liq{next(self._liq_seq)}"
            self._liquidation_ids.add(oid)
            inst = acct.instrument(step.symbol)
            w = self._build(
                step.symbol, inst.quantity(step.lots), ts, OrderType.MARKET, None, None, None, None,
                TimeInForce.GTC, None, "liquidation", Intent.REDUCE, oid, None, None, None,
            )  # fmt: skip
            self._place(w)

    def _liquidation_commission(self, h: Holding, lots: int) -> int:
        """Estimate the commission of a liquidation sale (it lowers NLV)."""
        if lots == 0:
            return 0
        return self.commission_model.order_commission(self.account.instrument(h.symbol), lots, h.value(lots))
