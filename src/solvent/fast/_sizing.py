"""The compiled leaves that price an order and the account's buying power, per spec.

Commission (``order_commission``), the initial-margin rate, buying power before
reservations, the buying power an opening uses, and the largest affordable quantity:
the leaves of the broker (``_broker``) that read a setting (the account kind, the
commission kinds), compiled per ``BrokerSpec`` like the broker's steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from solvent.accounting.rules import (
    cash_buying_power,
    margin_buying_power,
    margin_requirement,
    notional_minor,
    opening_bp_cost,
)
from solvent.execution.costs import fixed_fee, per_share_fee, value_fee
from solvent.fast._jit import internal
from solvent.fast._layout import (
    A_CASH,
    C_FIXED,
    C_PER_SHARE,
    C_TYPE,
    C_VALUE,
    FULL_PPM,
    P_BASE,
    P_KIND_CASH,
    Y_COL,
    Y_IML,
    Y_IMS,
    Y_KDEN,
    Y_KNUM,
    Y_MARK,
    Y_QTY,
    ZERO,
)
from solvent.fast._spec import BrokerSpec, internal_for

I64 = npt.NDArray[np.int64]


@internal
def notional_nb(price: int, lots: int, k_num: int, k_den: int) -> int:
    """Return ``rules.notional_minor``, with the usual ``k_den == 1`` as a constant.

    Cent ticks and whole shares (``k_den == 1``) are the common case: the same rule
    with a literal divisor of 1 compiles to no division, where a division by the run-time
    ``k_den`` is an integer division on every fill and every cost the search tries.
    """
    if k_den == 1:
        return notional_minor(price, lots, k_num, 1)
    return notional_minor(price, lots, k_num, k_den)


class Sizing(NamedTuple):
    """The compiled leaves that read a setting (account kind, fees), for one ``BrokerSpec``."""

    commission_nb: Callable[..., int]
    im_rate_nb: Callable[..., int]
    gross_bp_nb: Callable[..., int]
    open_cost_nb: Callable[..., int]
    affordable_nb: Callable[..., int]


def make_sizing(spec: BrokerSpec) -> Sizing:
    """Return the leaves that price an order and the account's buying power, for ``spec``.

    They read the account kind and the commission kinds the way ``make_broker``'s steps
    read the broker settings, so a broker fixed to one account kind and to fees on value
    compiles neither the other kind's buying power nor the other fee formulas.
    """
    s_cash, s_fees = spec.cash, spec.fees
    own = internal_for(spec)

    @own
    def commission_nb(cm: I64, col: int, cum_lots: int, cum_notional: int) -> int:
        """Return an order's total commission after ``cum_lots`` (``order_commission``)."""
        total = 0
        for c in range(cm.shape[1]):
            kind = cm[col, c, C_TYPE]
            if kind == C_VALUE:
                total += value_fee(cum_notional, cm[col, c, 1], cm[col, c, 2])
            elif s_fees < 0:  # a constant: fees on value only leave the other kinds out
                if kind == C_PER_SHARE:
                    total += per_share_fee(
                        cum_lots,
                        cum_notional,
                        cm[col, c, 1],
                        cm[col, c, 2],
                        cm[col, c, 3],
                        cm[col, c, 4],
                        cm[col, c, 5],
                    )
                elif kind == C_FIXED:
                    total += fixed_fee(cum_lots, cm[col, c, 1])
        return total

    @own
    def im_rate_nb(prm: I64, ys: I64, k: int, lots: int) -> int:
        """Return the initial-margin rate an opening of ``lots`` uses (``Account.im_rate_ppm``)."""
        cash_account = prm[P_KIND_CASH] != 0 if s_cash < 0 else s_cash > 0
        if cash_account:
            return FULL_PPM
        rate: int = ys[k, Y_IML] if lots > 0 else ys[k, Y_IMS]
        return rate

    @own
    def gross_bp_nb(prm: I64, acc: I64, ys: I64, na: int) -> int:
        """Return buying power before reservations (``Account._gross_buying_power``)."""
        cash_account = prm[P_KIND_CASH] != 0 if s_cash < 0 else s_cash > 0
        if cash_account:
            return cash_buying_power(acc[A_CASH], ZERO)
        nlv = acc[A_CASH]
        im = 0
        for k in range(na):
            q = ys[k, Y_QTY]
            if q != 0:
                mv = notional_minor(ys[k, Y_MARK], q, ys[k, Y_KNUM], ys[k, Y_KDEN])
                nlv += mv
                im += margin_requirement(abs(mv), ys[k, Y_IML] if q > 0 else ys[k, Y_IMS])
        return margin_buying_power(nlv - im, prm[P_BASE])

    @own
    def open_cost_nb(
        cm: I64,
        ys: I64,
        k: int,
        n: int,
        price: int,
        lots_off: int,
        notional_off: int,
        comm_off: int,
        rate: int,
        base: int,
    ) -> int:
        """Return the buying power ``n`` opening lots use, commission increment included.

        The broker's ``_cost_fn``: the order's commission counts ``lots_off`` lots and
        ``notional_off`` of notional filled before (or beside) these ``n`` lots, less
        ``comm_off`` already paid (``gk.bp_cost``). With ``rate == base == 100%`` it is
        notional plus commission (``_lots_for_value``, and cash under ``short_cash="credit"``).
        """
        notional = abs(notional_nb(price, n, ys[k, Y_KNUM], ys[k, Y_KDEN]))
        comm = commission_nb(cm, ys[k, Y_COL], lots_off + n, notional_off + notional) - comm_off
        if rate == FULL_PPM and base == FULL_PPM:
            # Notional plus commission (a cash account, a value order's budget): the same
            # rule with constant rates, whose division by 100% compiles to a multiply.
            return opening_bp_cost(notional, comm, FULL_PPM, FULL_PPM)
        return opening_bp_cost(notional, comm, rate, base)

    @own
    def affordable_nb(
        max_lots: int,
        available: int,
        cm: I64,
        ys: I64,
        k: int,
        price: int,
        lots_off: int,
        notional_off: int,
        comm_off: int,
        rate: int,
        base: int,
    ) -> int:
        """Return the largest ``n <= max_lots`` whose cost fits (``gatekeeper.affordable_lots``).

        The same answer as the gatekeeper's binary search over ``[0, max_lots]`` (the cost
        is non-decreasing in ``n``, so the largest affordable ``n`` is unique), found
        faster: a first guess in proportion to what the whole quantity costs, then
        galloping away from it and bisecting the last step. A value order's quantity is
        usually one or two evaluations from the guess instead of twenty.
        """
        if max_lots <= 0 or available <= 0:
            return 0
        full = open_cost_nb(cm, ys, k, max_lots, price, lots_off, notional_off, comm_off, rate, base)
        if full <= available:
            return max_lots
        # Invariant below: cost(lo) <= available < cost(hi), with cost(0) taken as affordable.
        # A float guess (exactness comes from the integer checks that follow; no overflow).
        guess = math.floor(max_lots * (available / full))
        guess = guess if guess < max_lots - 1 else max_lots - 1
        guess = guess if guess > 0 else 0
        step = 1
        if (
            guess > 0
            and open_cost_nb(cm, ys, k, guess, price, lots_off, notional_off, comm_off, rate, base)
            > available
        ):
            hi = guess
            lo = hi - step
            while (
                lo > 0
                and open_cost_nb(cm, ys, k, lo, price, lots_off, notional_off, comm_off, rate, base)
                > available
            ):
                hi = lo
                step *= 2
                lo = hi - step if hi > step else 0
        else:
            lo = guess
            hi = lo + step
            while (
                hi < max_lots
                and open_cost_nb(cm, ys, k, hi, price, lots_off, notional_off, comm_off, rate, base)
                <= available
            ):
                lo = hi
                step *= 2
                hi = lo + step if lo + step < max_lots else max_lots
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if open_cost_nb(cm, ys, k, mid, price, lots_off, notional_off, comm_off, rate, base) <= available:
                lo = mid
            else:
                hi = mid
        return lo

    return Sizing(commission_nb, im_rate_nb, gross_bp_nb, open_cost_nb, affordable_nb)
