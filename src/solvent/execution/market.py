"""Plain market orders: the placement most orders take, in one pass.

``order_value``, ``close_position``, ``order_target_percent`` and a plain ``order``
place a GTC market order under a generated id at the engine's bar stamp. Such an order
has nothing to parse, and most of ``Placement._place``'s branches cannot apply to it:
``_market`` builds it, runs the same checks in the same order and, when they all pass
(and a checked opening fits), reserves and records it directly, with its first status
change and its view built from the values at hand. Everything else (a check that
refuses, a cut, a ``warn`` or ``strict`` gatekeeper, credited shorts, a flip, a
commission tier) is handed to ``_place`` with nothing done yet but what ``_place`` does
first itself (register the order, move the clock); an order that buying power cannot
fund and that cannot be cut is refused by ``_place``'s own helper. So every refusal,
warning and cut has one implementation.

The money is ``_place``'s: integers in minor units, the commission by the model's own
integer rule (``value_fee``) or its ``_cost_fn``, buying power from the ledger.

``tests/test_place_market.py`` runs every order through both paths and compares the
records, reservations and views.
"""

from __future__ import annotations

import pandas as pd

from solvent.accounting import rules
from solvent.execution import gatekeeper as gk
from solvent.execution.broker_state import (
    _ACCEPTED,
    _CASH_ACCOUNT,
    _CASH_RATES,
    _PDT_BLOCK,
    _V_OFF,
    _V_REJECT,
    _VALUE_FEE_MODELS,
    OrderView,
    _new_view,
    _Working,
)
from solvent.execution.costs import NoSlippage, value_fee
from solvent.execution.placement import Placement
from solvent.model.instrument import Instrument
from solvent.model.orders import Intent, new_status_change
from solvent.risk.state import TradingState

_ACTIVE = TradingState.ACTIVE


class MarketPlacement(Placement):
    """The one-pass placement of plain market orders (``SimulatedBroker``'s common case)."""

    #: Take the one-pass path (tests turn it off to compare it with ``_place``).
    _one_pass = True

    def _market(
        self,
        inst: Instrument,
        lots: int,
        ts: pd.Timestamp,
        tag: str | None,
        intent: Intent | None,
        value: int | None = None,
        last: int | None = None,
    ) -> OrderView:
        """Place a GTC market order of ``lots`` (non-zero, on the lot grid) at ``ts``; return its view.

        ``value``: an ``order_value`` budget (minor units). ``last``: the symbol's last
        close as the caller just read it (``_place``'s ``last``).
        """
        w = self._build_market(inst, lots, ts, tag, intent)
        if value is not None:
            w.value = value
        order = w.order
        self._orders[order.order_id] = w  # registered first, as ``_place`` does
        if not self._one_pass or self._counts_month:
            return self._placed(w, last)
        acct = self.account
        if ts is not acct._last_ts:  # ``_place``'s clock first: a session roll moves cash
            acct.advance(ts)
        pos = acct.position_lots(inst.symbol)
        # ``rules.split_fill``'s first case (most orders): all of it opens. A flip or a
        # reduction takes the rule itself.
        opening = lots if pos == 0 or (pos > 0) == (lots > 0) else rules.split_fill(pos, lots)[1]
        if intent is not None and not gk.check_intent(intent, pos, lots).ok:
            return self._placed(w, last)  # ``_place`` refuses it
        if opening < 0 and not gk.check_short(inst, acct.kind is _CASH_ACCOUNT, opening).ok:
            return self._placed(w, last)
        if (self._trading.state is not _ACTIVE or acct.pdt_policy is _PDT_BLOCK) and not self._risk_verdict(
            w, opening
        ).ok:
            return self._placed(w, last)
        validation = self.validation
        if opening and self.placement_check and validation is not _V_OFF:
            if validation is not _V_REJECT or self._credit or opening != lots:
                return self._placed(w, last)  # warnings, credited shorts, flips: ``_place``
            price = last
            if price is None or type(self.slippage_model) is not NoSlippage:
                price = self._estimate_price(w, last)
                if price is None:  # no price to estimate from: ``_place`` refuses it
                    return self._placed(w, last)
            need = self._opening_need(inst, price, opening)
            credit = self._exit_credit() if self._open else 0
            bp = acct._buying_power()
            if need > bp + credit:
                if self.partial_fills and abs(opening) > 1:
                    return self._placed(w, last)  # ``_place`` cuts it to what fits, or refuses it
                # Not one lot fits, or no cut is allowed: ``_place``'s refusal.
                self._refuse_unaffordable(w, ts, need, bp + credit)
                return self._view(w)
            # As ``_place`` books it: what pending exits free counts first (a negative
            # credit is none), the rest is reserved, at most ``bp`` by construction.
            # (``min(need, max(0, credit))`` and ``min(own, bp)``, without the calls.)
            credit = credit if credit > 0 else 0
            relied = need if need < credit else credit
            own = need - relied
            w.credit = relied
            if own > 0:
                with acct._lock:
                    w.reserved = acct._reservations.add_new(
                        order.order_id, own if own < bp else bp, inst.symbol, opening < 0, tag
                    )
        # ``_record(w, ACCEPTED, ...)`` and ``_view(w)`` of an order that filled nothing,
        # with one zero quantity for both.
        zero = inst.quantity(0)
        change = new_status_change(order.order_id, ts, _ACCEPTED, zero, None, "")
        w.status = _ACCEPTED
        w.history.append(change)
        self.status_changes.append(change)
        self._open.append(w)
        return _new_view(order, _ACCEPTED, order.quantity, zero, None, self._zero, None, (change,))

    def _placed(self, w: _Working, last: int | None) -> OrderView:
        """``_place(w, last)`` and the order's view: whatever ``_market`` does not settle itself."""
        self._place(w, last)
        return self._view(w)

    def _opening_need(self, inst: Instrument, price: int, opening: int) -> int:
        """Return what opening ``opening`` lots at ``price`` costs in buying power (``_place``'s ``need``).

        An order that closes nothing: its commission is the whole order's.
        """
        acct = self.account
        rates = _CASH_RATES if acct.kind is _CASH_ACCOUNT else self._opening_rates(inst.symbol, opening)
        model = self.commission_model
        if inst.k_den == 1 and type(model) in _VALUE_FEE_MODELS:
            # ``_cost_fn``'s value-fee costs for this one question, without building them.
            notional = price * inst.k_num * abs(opening)
            num, den = model._ratio  # type: ignore[attr-defined]  # both value models have it
            fee = value_fee(notional, num, den)
            if rates is _CASH_RATES or rates == _CASH_RATES:
                return notional + fee
            return rules.opening_bp_cost(notional, fee, rates[0], rates[1])
        return self._cost_fn(inst, price, rates=rates)(abs(opening))

    def _exit_credit(self) -> int:
        """``_pending_exit_credit()``, answered without pricing when no exit is pending.

        With no working order on a symbol held, no order closes anything and the credit
        is ``max(0, 0 - relied)``.
        """
        positions = self.account._positions
        relied = 0
        for o in self._open:
            if o.active:
                if positions[o.order.symbol].qty:
                    return self._pending_exit_credit()
                relied += o.credit
        return max(0, -relied)
