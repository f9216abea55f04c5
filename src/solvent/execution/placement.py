"""Placing orders: build one, size it, check it against buying power, reserve it.

The placement half of the gatekeeper (docs/execution.md, "Placement"): every check here
runs again at the fill (``filling``), which is the authoritative one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pandas as pd

from solvent.accounting import rules
from solvent.errors import InsufficientFundsError, InvalidInputError
from solvent.execution import gatekeeper as gk
from solvent.execution import matching
from solvent.execution.broker_state import (
    _ACCEPTED,
    _CASH_ACCOUNT,
    _CASH_RATES,
    _GTC,
    _GTD,
    _HALTED,
    _MARKET,
    _NO_BP,
    _PDT_BLOCK,
    _PRICED,
    _REDUCE_ONLY,
    _STOP,
    _STOP_LIMIT,
    _TRAILING_STOP,
    _V_OFF,
    _V_REJECT,
    _V_STRICT,
    _V_WARN,
    _VALUE_FEE_MODELS,
    BrokerState,
    _Working,
)
from solvent.execution.costs import (
    NoSlippage,
    value_fee,
)
from solvent.execution.policies import (
    credit_available,
)
from solvent.model.bar import Bar
from solvent.model.instrument import Instrument
from solvent.model.money import Number, to_decimal
from solvent.model.orders import (
    Intent,
    OrderType,
    TimeInForce,
    new_order,
)
from solvent.model.records import ALLOWED, ReasonCode, TimeLike, Verdict, to_timestamp


class Placement(BrokerState):
    """Order building, sizing and the placement checks of ``SimulatedBroker``."""

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
            if upper == 1:  # one lot's notional is over the budget (their fees are >= 0)
                return 0
            # What ``budget`` buys at ``1 + num/den`` per unit of value: but for the fee's
            # rounding (half a minor unit) the answer, else one lot off it.
            hint: int = budget * den // (per_lot * (den + num))
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
                rates = (
                    _CASH_RATES if acct.kind is _CASH_ACCOUNT else self._opening_rates(order.symbol, opening)
                )
                credit = self._pending_exit_credit() if self._open else 0
                if closing:  # a flip: its own closing leg frees buying power before the opening leg
                    # (no commission here: ``cost`` below charges the whole order's commission)
                    credit += self._closing_credit(inst, pos, closing, price, 0)
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
                        self._refuse_unaffordable(w, ts, need, available)
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

    def _refuse_unaffordable(self, w: _Working, ts: pd.Timestamp, need: int, available: int) -> None:
        """Refuse ``w`` at placement: it needs ``need`` of buying power, ``available`` is there."""
        detail = f"needs {self._text(need)}, {self._text(max(available, 0))} available"
        self._refuse_for(w, ts, _NO_BP, detail)

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

    def _pending_exits(self) -> tuple[int, list[tuple[_Working, int, int, int]]]:
        """Return what working orders rely on, and each pending exit's figures.

        ``(relied, exits)``: the credit every active order relied on at placement, and
        per active order that closes part of its position ``(order, position lots,
        closing lots, price)``, priced at the last close (else its limit, else its stop;
        an exit with no price is left out).
        """
        positions = self.account._positions  # every working order's symbol is registered
        relied = 0
        exits = []
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
                if price is not None:
                    exits.append((o, pos, closing, price))
        return relied, exits

    def _pending_exit_credit(self) -> int:
        """Buying power that pending exits will free, less what entries already rely on."""
        relied, exits = self._pending_exits()
        credit = 0
        for o, pos, closing, price in exits:
            notional = abs(rules.notional_minor(price, closing, o.inst.k_num, o.inst.k_den))
            comm = self.commission_model.order_commission(o.inst, abs(closing), notional)
            credit += self._closing_credit(o.inst, pos, closing, price, comm)
        return max(0, credit - relied)

    def _pending_cash_credit(self) -> int:
        """Cash that pending exits will bring (``ShortCash.CREDIT``): sales add, covers cost."""
        relied, exits = self._pending_exits()
        return sum(self._closing_cash(o.inst, closing, price) for o, _, closing, price in exits) - relied

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
