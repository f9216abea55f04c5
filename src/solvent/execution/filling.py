"""Matching working orders against a bar and booking their fills (exits first).

One bar's pass of ``SimulatedBroker`` (docs/execution.md): reference prices and slippage,
the volume budget, the fill-time check, the split of flips and the ledger booking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import pandas as pd

from solvent.accounting import rules
from solvent.errors import InsufficientFundsError
from solvent.execution import gatekeeper as gk
from solvent.execution import matching
from solvent.execution.broker_state import (
    _BY_SEQ,
    _CASH_ACCOUNT,
    _MARKET,
    _PER_LEG,
    _V_OFF,
    _VALUE_FEE_MODELS,
    _Working,
)
from solvent.execution.costs import (
    NoSlippage,
    slip_ticks,
    value_fee,
)
from solvent.execution.placement import Placement
from solvent.execution.policies import (
    Unfunded,
    ZeroVolume,
    credit_available,
    leg_commission,
)
from solvent.model.bar import Bar
from solvent.model.money import Money
from solvent.model.orders import (
    Intent,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from solvent.model.records import Fill, ReasonCode, Verdict

# Enum members the matching pass compares with, read once: on Python 3.11 every
# ``Enum.MEMBER`` lookup costs about as much as a small function call (~0.15 µs).
_IOC, _FOK, _DAY = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY
_REDUCE, _CLOSE = Intent.REDUCE, Intent.CLOSE
_CANCELLED, _FILLED, _PARTIAL = OrderStatus.CANCELLED, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED
_ZV_FILL = ZeroVolume.FILL
_UNFUNDED_CANCEL, _UNFUNDED_DEFER = Unfunded.CANCEL, Unfunded.DEFER


class Matching(Placement):
    """The matching pass and fill booking of ``SimulatedBroker``."""

    #: Value traded since the engine last read it, in minor units (the fills' exact
    #: notionals, contract multiplier included): the engine's turnover per bar.
    traded_minor: int = 0

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
            empty = None if self.zero_volume is _ZV_FILL else 0
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
            if tif is _IOC or tif is _FOK:
                immediate.append(w)
            elif tif is _DAY and w.session is None:
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
                        self._finish(w, _CANCELLED, ts, None, "the value buys nothing at the fill price")
                        continue
                    w.lots = lots if order.side > 0 else -lots
            prices[order.order_id] = price
            todo.append(w)
        fills: list[Fill] = []
        # Each order's (closing, opening) split against its position, as of the exits pass.
        positions = acct._positions  # every working order's symbol is registered
        for w in todo:  # exits first
            order = w.order
            if order.tif is _FOK:
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
        cash_account = acct.kind is _CASH_ACCOUNT
        for w in todo:  # then entries
            if not w.status.is_open:
                continue
            order = w.order
            sym = order.symbol
            if order.tif is _FOK:
                fills += self._execute_fok(w, prices[order.order_id], bars[sym], budget, ts)
                continue
            closing, opening = rules.split_fill(positions[sym].qty, w.lots - w.filled)
            if opening and not closing:
                if order.intent is _REDUCE or order.intent is _CLOSE:
                    self._finish(w, _CANCELLED, ts, ReasonCode.INTENT_MISMATCH, "nothing left to reduce")
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
                what = "IOC remainder" if w.order.tif is _IOC else "fill-or-kill order"
                self._finish(w, _CANCELLED, ts, None, f"{what} cancelled after its first bar")
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
            return None if self.zero_volume is _ZV_FILL else 0
        if self.volume_limit is None:
            return None
        return int(bar.volume * self.volume_limit)

    def _execute(
        self, w: _Working, lots: int, ref: int, bar: Bar, budget: dict[str, int | None], ts: pd.Timestamp
    ) -> Sequence[Fill]:
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
        pos = self.account._positions[sym].qty  # registered: the order was placed
        opening = pos == 0 or (pos > 0) == (lots > 0)
        unfunded = False
        costs = None
        if opening and self.validation is not _V_OFF:
            costs = self._covered_costs(w, want, price)
            if costs is None:  # not covered for sure: the full check decides
                n = self._affordable_at_fill(w, want, price, ts)
                unfunded = n < want and self.unfunded is _UNFUNDED_CANCEL
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
        self._refusal_at_fill(w, ts, verdict.reason, verdict.detail)
        self._finish(w, _CANCELLED, ts, verdict.reason, verdict.detail)

    def _cancel_unfunded(self, w: _Working, ts: pd.Timestamp) -> None:
        """Cancel what the fill-time check cannot fund (``Unfunded.CANCEL``), with a refusal."""
        detail = "the fill cannot fund it: cancelled"
        self._refusal_at_fill(w, ts, ReasonCode.INSUFFICIENT_BUYING_POWER, detail)
        self._finish(w, _CANCELLED, ts, ReasonCode.INSUFFICIENT_BUYING_POWER, detail)
        for child in w.children:  # a bracket's exits that never got a fill to protect
            c = self._orders[child]
            if c.status.is_open and not c.active:
                self._finish(c, _CANCELLED, ts, None, "entry cancelled")

    def _execute_flip(
        self,
        w: _Working,
        closing: int,
        opening: int,
        ref: int,
        bar: Bar,
        budget: dict[str, int | None],
        ts: pd.Timestamp,
    ) -> Sequence[Fill]:
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
        if not gk.check_short(w.inst, self.account.kind is _CASH_ACCOUNT, opening).ok:
            room = 0  # the short part is refused in the entries pass
        price = self._fill_price(w, ref, abs(closing) + room, bar)
        n = room
        if room and self.validation is not gk.Validation.OFF:
            acct = self.account
            signed = rules.notional_minor(price, closing, w.inst.k_num, w.inst.k_den)
            # Per-leg fees: the closing leg pays its own commission out of what it frees
            # (per order it is part of the opening part's cost below).
            fee = 0
            if self.fixed_fee_per is _PER_LEG:
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
        if self.fixed_fee_per is _PER_LEG:
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
        if n < want and self.unfunded is _UNFUNDED_DEFER:
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
        comm = self._fill_commission(w, want, notional)  # as ``_book`` charges it
        if self._credit or self.account.kind is _CASH_ACCOUNT:
            need = notional + comm  # ``opening_bp_cost`` at 100% / 100%
        else:
            rate, base = self._opening_rates(w.order.symbol, w.order.side)
            need = rules.opening_bp_cost(notional, comm, rate, base)
        own, free = self._free_at_fill(w, 0)
        return (notional, comm) if gk.fill_covered(need, own, free) else None

    def _execute_fok(
        self, w: _Working, ref: int, bar: Bar, budget: dict[str, int | None], ts: pd.Timestamp
    ) -> Sequence[Fill]:
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
            verdict = gk.check_short(w.inst, self.account.kind is _CASH_ACCOUNT, opening)
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
            self._finish(w, _CANCELLED, ts, reason, "fill-or-kill could not fill whole")
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
    ) -> tuple[Fill, ...]:
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
        elif self.fixed_fee_per is _PER_LEG:
            notional = abs(rules.notional_minor(price, lots, k_num, k_den))
            comm, closed = self._leg_commissions(w, lots, price)
        else:
            notional = abs(rules.notional_minor(price, lots, k_num, k_den))
            comm = self._fill_commission(w, abs(lots), notional)
        # Slippage is the fill's distance from the reference price (none without a model).
        ref_value = 0 if ref == price else abs(notional - abs(rules.notional_minor(ref, lots, k_num, k_den)))
        order = w.order
        # Booking the fill and releasing its reservation is one step for any reader of
        # the account (a monitor thread): otherwise the money would count twice. The
        # ledger books the integers as they are (no round trip through decimals).
        if price <= 0 or comm < 0:  # a broken slippage or commission model: ``book`` names it
            acct.book(order.symbol, lots, price, comm, ref_value, ts, order.order_id, order.tag)
        with acct._lock:
            # ``w.inst`` is the account's instrument and ``lots`` is never zero here: the
            # ledger skips the checks of ``book`` and a second acquisition of the lock.
            # The fill's signed notional (half-even rounding is symmetric in the sign).
            signed = notional if lots > 0 else -notional
            legs = acct._book_exact(inst, lots, price, comm, ref_value, ts, order.order_id, order.tag, signed)
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
        self.traded_minor += notional
        if self._counts_month:
            self._month_units += abs(lots) * inst.lot_size
        self.fills.extend(legs)
        done = w.filled == w.lots
        self._record(w, _FILLED if done else _PARTIAL, ts, None, "")
        if done:
            self._close(w)
        if w.children or order.oco_group is not None:  # bracket bookkeeping only when bracketed
            self._after_fill(w, lots, ts)
        if self.on_fill is not None:
            for leg in legs:
                self.on_fill(leg)
        return legs

    def _fill_commission(self, w: _Working, lots: int, notional: int) -> int:
        """Return the commission a fill of ``lots`` (unsigned) worth ``notional`` adds to ``w``'s.

        Per order: the order's cumulative commission after the fill less what it paid,
        floored at 0 (a tiered or capped model may charge less in total). A value fee
        (``PercentOfValue``, ``BasisPoints``) is its ``order_commission`` without the
        input checks; an order fills in one direction, so its lots add up.
        """
        model = self.commission_model
        if type(model) in _VALUE_FEE_MODELS:
            num, den = model._ratio  # type: ignore[attr-defined]  # both value models have it
            total = value_fee(w.notional + notional, num, den)
        else:
            total = model.order_commission(w.inst, abs(w.filled) + lots, w.notional + notional, w.month_lots)
        comm = total - w.commission
        return comm if comm > 0 else 0

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
                    self._finish(o, _CANCELLED, ts, None, "one-cancels-other")
