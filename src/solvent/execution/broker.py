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

The class is built in layers, one module each, every layer calling only those below
it: ``broker_state`` (settings, working orders, the records of every order),
``placement`` (building, sizing and checking an order), ``filling`` (a bar's matching
pass and the booking of its fills), ``market`` (beside ``filling``, on ``placement``:
plain market orders placed in one pass) and this module (the order API, the bar cycle,
the margin watch).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import pandas as pd

from solvent.accounting import rules
from solvent.errors import InvalidInputError
from solvent.execution import matching
from solvent.execution.broker_state import (
    _GTC,
    _LIMIT,
    _MARKET,
    OrderState,
    OrderView,
)
from solvent.execution.filling import Matching
from solvent.execution.market import MarketPlacement
from solvent.model.bar import Bar
from solvent.model.money import Money, Number, to_decimal, to_minor
from solvent.model.orders import (
    Intent,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from solvent.model.records import Fill, ReasonCode, TimeLike, to_timestamp
from solvent.risk.liquidation import Holding, plan_liquidation
from solvent.risk.monitor import EventKind, MarginEvent
from solvent.risk.state import TradingState

__all__ = ["OrderState", "OrderView", "SimulatedBroker"]


class SimulatedBroker(Matching, MarketPlacement):
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
        if (
            type is _MARKET
            and tif is _GTC
            and limit is None
            and stop is None
            and trail_amount is None
            and trail_percent is None
            and expire_at is None
            and order_id is None
            and client_id is None
        ):
            return self._submit_market(symbol, quantity, timestamp, tag, intent)
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

    def _submit_market(
        self, symbol: str, quantity: Number, timestamp: TimeLike, tag: str | None, intent: Intent | str | None
    ) -> OrderView:
        """``submit`` of a GTC market order with a generated id (``Context.order``'s common case).

        The same conversions and errors as ``_build``, in its order: the symbol, the
        stamp, the quantity, the intent.
        """
        inst = self.account.instrument(symbol)
        if type(timestamp) is not pd.Timestamp:  # ``_build`` converts it and names the field
            return self._submit_built(symbol, quantity, timestamp, tag, intent)
        if type(quantity) is int and inst.lot_size == 1:  # whole shares: lots as given
            lots = quantity
        else:
            lots = inst.qty_lots(quantity, "order.quantity")
        if lots == 0:  # ``_build`` names the zero quantity as given
            return self._submit_built(symbol, quantity, timestamp, tag, intent)
        if intent is not None and type(intent) is not Intent:
            try:
                intent = Intent(intent)
            except ValueError:  # ``_build`` raises it, after taking an id as it always does
                return self._submit_built(symbol, quantity, timestamp, tag, intent)
        return self._market(inst, lots, timestamp, tag, intent)

    def _submit_built(
        self, symbol: str, quantity: Number, timestamp: TimeLike, tag: str | None, intent: Intent | str | None
    ) -> OrderView:
        """``submit`` of a GTC market order through ``_build`` and ``_place``."""
        w = self._build(
            symbol, quantity, timestamp, _MARKET, None, None, None, None,
            _GTC, None, tag, intent, None, None, None, None,
        )  # fmt: skip
        self._place(w)
        return self._view(w)

    def _submit_lots(
        self, symbol: str, lots: int, timestamp: pd.Timestamp, tag: str | None, intent: Intent | None
    ) -> OrderView:
        """``submit`` of a GTC market order of ``lots`` lot steps (``Context.close_position``).

        The quantity is already on the lot grid (a position's): no decimal to check.
        """
        if type(timestamp) is pd.Timestamp and lots != 0:
            return self._market(self.account.instrument(symbol), lots, timestamp, tag, intent)
        # ``_build`` converts the stamp and names a zero quantity
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
            return self._market(inst, side * est, timestamp, tag, None, abs(budget), ref)
        otype = _LIMIT if limit is not None else _MARKET
        w = self._build(
            symbol, side * est, timestamp, otype,
            limit, None, None, None, tif, None, tag, None, order_id, None, None, None, lots=side * est,
        )  # fmt: skip
        w.value = abs(budget)
        self._place(w, None if limit is not None else ref)  # a market order's estimate starts at ref
        return self._view(w)

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

    # -- margin watch and liquidation (solvent.risk) ------------------------------

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
