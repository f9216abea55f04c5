"""The simulated broker for market orders, compiled: placement, one bar, the ledger.

This is ``SimulatedBroker`` (``solvent/execution/broker.py``) restricted to what the
fast path places: GTC market orders (sized in lots, or by a money budget resolved at
the fill as ``submit_value`` does, or closing with intent CLOSE) in the ``reject``
validation mode, under every setting a profile chooses (``execution.policies``:
``fill_timing``, ``zero_volume``, ``short_cash``, ``fixed_fee_per``,
``placement_check``, ``unfunded``). Comments name the broker method each step
follows; the order of the steps, the checks and every rounding are the broker's, and
every accounting rule and cost formula is the shared pure function from
``solvent.accounting.rules``, ``solvent.execution.costs`` and
``solvent.execution.policies`` (compiled, not copied; see ``_jit``). The differential
tests (``tests/test_fast_differential.py``) hold the two to identical fills.

State lives in small ``int64`` tables laid out in ``_layout``: the account scalars
``acc``, the account's symbols ``ys`` (position, mark, last close and the current bar),
the working orders ``od`` with ``olist`` (their rows in placement order, the broker's
``_open``), commission components ``cm`` and the output buffers ``fb``/``rb``.

Why few, large functions: numba compiles every function into machine code of its
own with everything it calls linked in and optimized again, so a deep tree of small
helpers is compiled many times over (docs/fast.md, *Speed and compilation*). The
broker's ``_execute``, ``_execute_flip``, ``_leg_commissions`` and ``_book`` steps are
one pass in ``on_bar_nb``, ``_pending_exit_credit`` and ``_pending_cash_credit`` are
part of ``place_nb``, and only leaves (commission, buying power, records), the
fill-time check and the search for an affordable quantity are separate functions.
The leaves that read a setting (commission, buying power, the affordable quantity)
are in ``_sizing``, the specs that fix settings at compile time in ``_spec``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from solvent.accounting.rules import (
    closing_bp_credit,
    fill_cash_delta,
    notional_minor,
    prorate,
    split_fill,
)
from solvent.execution.costs import slip_ticks
from solvent.execution.policies import credit_available
from solvent.fast._jit import internal
from solvent.fast._layout import (
    A_CASH,
    A_INDEX,
    A_NEXT_ID,
    A_NOPEN,
    A_RESERVED,
    F_ACCT,
    F_BAR,
    F_ORDER,
    F_SLOT,
    FULL_PPM,
    N_FILLS,
    N_GENERIC,
    N_REJ,
    NO,
    O_ALIVE,
    O_BAR,
    O_C_LOTS,
    O_C_NOTIONAL,
    O_C_PAID,
    O_CLOSE,
    O_COMM,
    O_CREDIT,
    O_DEFERRED,
    O_FILLED,
    O_ID,
    O_K,
    O_LOTS,
    O_NOTIONAL,
    O_RES_AMT,
    O_RES_LEFT,
    O_RESERVED,
    O_SIDE,
    O_VALUE,
    ONE,
    P_BASE,
    P_CANCEL,
    P_CREDIT,
    P_KIND_CASH,
    P_LEG_FEES,
    P_PARTIAL,
    P_PLACE_CHECK,
    P_SLIP_DEN,
    P_SLIP_NUM,
    P_VOL_DEN,
    P_VOL_NUM,
    P_ZERO_FILL,
    R_ACCT,
    R_AT_FILL,
    R_BAR,
    R_LOTS,
    R_ORDER,
    R_REASON,
    R_SLOT,
    REASON_BP,
    REASON_INTENT,
    REASON_MARKET_CLOSED,
    REASON_NOT_SHORTABLE,
    REASON_SHORTING,
    REASON_VOLUME_LIMIT,
    REASON_ZERO_VOLUME,
    SIDE_BUY,
    SIDE_BUY_TO_COVER,
    SIDE_SELL,
    SIDE_SELL_SHORT,
    Y_BUDGET,
    Y_CLOSE,
    Y_COL,
    Y_HIGH,
    Y_KDEN,
    Y_KNUM,
    Y_LAST,
    Y_LOW,
    Y_MARK,
    Y_OPEN,
    Y_PRESENT,
    Y_QTY,
    Y_SHORTABLE,
    Y_SLOT,
    Y_STALE,
    Y_VOL,
    ZERO,
)
from solvent.fast._sizing import make_sizing, notional_nb
from solvent.fast._spec import BrokerSpec, internal_for

I64 = npt.NDArray[np.int64]

# -- leaves ---------------------------------------------------------------------------


@internal
def nlv_nb(acc: I64, ys: I64, na: int) -> int:
    """Return net liquidating value: cash plus every position at its mark."""
    nlv: int = acc[A_CASH]
    for k in range(na):
        q = ys[k, Y_QTY]
        if q != 0:
            nlv += notional_minor(ys[k, Y_MARK], q, ys[k, Y_KNUM], ys[k, Y_KDEN])
    return nlv


@internal
def push_fill_nb(acc: I64, ys: I64, k: int, fb: I64, cnt: I64, t: int, row: I64) -> None:
    """Append one fill leg ``row`` (order, side, lots, price, commission, slippage).

    Counted even when the buffer is full: the caller sizes it and runs again.
    """
    n = cnt[N_FILLS]
    if n < fb.shape[0]:
        fb[n, F_ACCT] = acc[A_INDEX]
        fb[n, F_SLOT] = ys[k, Y_SLOT]
        fb[n, F_BAR] = t
        for f in range(6):
            fb[n, F_ORDER + f] = row[f]
    cnt[N_FILLS] = n + 1


@internal
def push_rejection_nb(
    acc: I64, ys: I64, k: int, rb: I64, cnt: I64, t: int, oid: int, lots: int, reason: int, at_fill: int
) -> None:
    """Append one refusal (counted even when the buffer is full: the caller resizes)."""
    n = cnt[N_REJ]
    if n < rb.shape[0]:
        rb[n, R_ACCT] = acc[A_INDEX]
        rb[n, R_SLOT] = ys[k, Y_SLOT]
        rb[n, R_BAR] = t
        rb[n, R_ORDER] = oid
        rb[n, R_LOTS] = lots
        rb[n, R_REASON] = reason
        rb[n, R_AT_FILL] = at_fill
    cnt[N_REJ] = n + 1


@internal
def close_order_nb(r: int, acc: I64, od: I64, olist: I64) -> None:
    """End a working order: release what it holds, drop it from the book (``_close``)."""
    if od[r, O_RESERVED]:
        acc[A_RESERVED] -= od[r, O_RES_LEFT]
        od[r, O_RES_LEFT] = 0
        od[r, O_RESERVED] = 0
    od[r, O_CREDIT] = 0
    j = 0
    for i in range(acc[A_NOPEN]):
        if olist[i] != r:
            olist[j] = olist[i]
            j += 1
    acc[A_NOPEN] = j
    od[r, O_ALIVE] = 0


# -- one bar ------------------------------------------------------------------------------


@internal
def defer_nb(t: int, r: int, reason: int, acc: I64, ys: I64, od: I64, rb: I64, cnt: I64) -> None:
    """Record once per order that it could not fill this bar (``_note_deferred``)."""
    if od[r, O_DEFERRED] == 0:
        od[r, O_DEFERRED] = 1
        left = od[r, O_LOTS] - od[r, O_FILLED]
        push_rejection_nb(acc, ys, od[r, O_K], rb, cnt, t, od[r, O_ID], left, reason, ONE)


@internal
def cancel_unfunded_nb(t: int, r: int, acc: I64, ys: I64, od: I64, olist: I64, rb: I64, cnt: I64) -> None:
    """Cancel what the fill cannot fund, with a refusal (``_cancel_unfunded``)."""
    left = od[r, O_LOTS] - od[r, O_FILLED]
    push_rejection_nb(acc, ys, od[r, O_K], rb, cnt, t, od[r, O_ID], left, REASON_BP, ONE)
    close_order_nb(r, acc, od, olist)


# -- the steps the broker settings change ---------------------------------------------------


class Broker(NamedTuple):
    """The compiled broker steps the kernel calls, for one ``BrokerSpec``."""

    place_nb: Callable[..., None]
    on_bar_nb: Callable[..., None]
    affordable_nb: Callable[..., int]


def make_broker(spec: BrokerSpec) -> Broker:
    """Return the broker steps compiled for ``spec`` (compiled on their first call).

    The steps that read a broker setting (``place_nb``, ``fill_afford_nb``,
    ``on_bar_nb``) are defined here, once, and read each setting as
    ``prm[P_X] != 0 if s_x < 0 else s_x > 0``: with ``s_x`` fixed the expression is a
    constant and numba prunes the branches it rules out; with ``AT_RUN`` it is the
    run-time read. The leaves that read a setting come from ``make_sizing(spec)``; the
    others read none and are shared by every broker.
    """
    s_zero_fill, s_credit, s_leg_fees, s_place_check, s_cancel, s_partial, s_cash, s_slip, _, s_shorts = (
        int(v) for v in spec
    )
    commission_nb, im_rate_nb, gross_bp_nb, open_cost_nb, affordable_nb = make_sizing(spec)
    own = internal_for(spec)

    @own
    def place_nb(
        t: int,
        k: int,
        lots: int,
        value: int,
        close_intent: bool,
        prm: I64,
        acc: I64,
        ys: I64,
        na: int,
        od: I64,
        olist: I64,
        cm: I64,
        rb: I64,
        cnt: I64,
    ) -> None:
        """Place a market order after bar ``t``: check, cut, reserve (``_place``).

        A refusal is recorded in ``rb``; an accepted order joins the book.
        """
        oid = acc[A_NEXT_ID]
        acc[A_NEXT_ID] = oid + 1
        pos = ys[k, Y_QTY]
        closing_part, opening = split_fill(pos, lots)
        if s_shorts == 0 and (opening < 0 or (closing_part != 0 and opening != 0)):
            cnt[N_GENERIC] = 1  # not long only after all: the run is made again (``LONG_SPEC``)
            return
        shorts = s_shorts != 0  # a constant: long only leaves short sales and flips out
        credit_mode = prm[P_CREDIT] != 0 if s_credit < 0 else s_credit > 0
        cash_account = prm[P_KIND_CASH] != 0 if s_cash < 0 else s_cash > 0
        partial = prm[P_PARTIAL] != 0 if s_partial < 0 else s_partial > 0
        reason = -1
        if close_intent and not (lots == -pos and pos != 0):
            reason = REASON_INTENT  # ``check_intent``
        elif shorts and opening < 0 and cash_account:
            reason = REASON_SHORTING  # ``check_short``
        elif shorts and opening < 0 and ys[k, Y_SHORTABLE] == 0:
            reason = REASON_NOT_SHORTABLE
        side = 1 if lots > 0 else -1
        reserve = 0
        reserved = 0
        relied = 0
        # Without the placement check only the fill-time check runs (no reservation); with
        # credited shorts opening a short is never checked.
        place_check = prm[P_PLACE_CHECK] != 0 if s_place_check < 0 else s_place_check > 0
        checked = opening != 0 and place_check and not (credit_mode and opening < 0)
        if reason < 0 and checked:
            last = ys[k, Y_LAST]
            if last == 0:
                reason = REASON_MARKET_CLOSED
            else:
                # The estimate: the last close after slippage, in a bar that is just that close.
                price = (
                    slip_ticks(side, last, prm[P_SLIP_NUM], prm[P_SLIP_DEN], last, last)
                    if s_slip < 0
                    else last
                )
                knum = ys[k, Y_KNUM]
                kden = ys[k, Y_KDEN]
                base = prm[P_BASE]
                # What pending exits will bring (valued at their last close, less their
                # commission as orders of their own), less what working entries rely on:
                # ``_pending_exit_credit`` (buying power) or ``_pending_cash_credit`` (cash).
                credit = 0
                relied_before = 0
                for i in range(acc[A_NOPEN]):
                    ro = olist[i]
                    relied_before += od[ro, O_CREDIT]
                    ko = od[ro, O_K]
                    po = ys[ko, Y_QTY]
                    closing, _ = split_fill(po, od[ro, O_LOTS] - od[ro, O_FILLED])
                    pl = ys[ko, Y_LAST]
                    if closing != 0 and pl != 0:
                        nc = notional_minor(pl, closing, ys[ko, Y_KNUM], ys[ko, Y_KDEN])
                        cc = commission_nb(cm, ys[ko, Y_COL], abs(closing), abs(nc))
                        if credit_mode:  # ``_closing_cash``: a sale brings cash, a cover costs it
                            credit += fill_cash_delta(nc, cc)
                        else:  # ``_closing_credit``
                            c = closing_bp_credit(abs(nc), cc, im_rate_nb(prm, ys, ko, po), base)
                            credit += c if c > 0 else 0
                if credit_mode:
                    credit -= relied_before
                    if (
                        shorts and closing_part != 0
                    ):  # a flip: its closing part's cash, as an order of its own
                        nc = notional_minor(price, closing_part, knum, kden)
                        cc = commission_nb(cm, ys[k, Y_COL], abs(closing_part), abs(nc))
                        credit += fill_cash_delta(nc, cc)
                    available = credit_available(acc[A_CASH], acc[A_RESERVED], credit)
                    rate = FULL_PPM
                    base = FULL_PPM
                else:
                    credit = credit - relied_before if credit > relied_before else 0
                    if shorts and closing_part != 0:  # a flip: its own closing part frees buying power first
                        freed = abs(notional_minor(price, closing_part, knum, kden))
                        c = closing_bp_credit(freed, ZERO, im_rate_nb(prm, ys, k, pos), base)
                        credit += c if c > 0 else 0
                    rate = im_rate_nb(prm, ys, k, opening)
                    available = 0  # set below, from the buying power
                bp = gross_bp_nb(prm, acc, ys, na) - acc[A_RESERVED]
                bp = bp if bp > 0 else 0
                if not credit_mode:
                    available = bp + credit
                lots_off = abs(closing_part)
                need = open_cost_nb(cm, ys, k, abs(opening), price, lots_off, ZERO, ZERO, rate, base)
                if need > available:
                    n = 0
                    if partial:
                        n = affordable_nb(
                            abs(opening), available, cm, ys, k, price, lots_off, ZERO, ZERO, rate, base
                        )
                    if n == 0:
                        reason = REASON_BP
                    else:
                        cut = abs(opening) - n  # scaled down at placement (SCALED_DOWN)
                        lots = lots - cut if lots > 0 else lots + cut
                        need = open_cost_nb(cm, ys, k, n, price, lots_off, ZERO, ZERO, rate, base)
                if reason < 0:
                    # What the order relies on of the credit (a negative credit is none) is
                    # not reserved; the rest is, as far as buying power goes.
                    relied = credit if credit > 0 else 0
                    relied = relied if relied < need else need
                    own = need - relied
                    if own > 0:
                        reserve = own if own < bp else bp
                        reserved = 1
        if reason >= 0:
            push_rejection_nb(acc, ys, k, rb, cnt, t, oid, lots, reason, ZERO)
            return
        r = 0
        while od[r, O_ALIVE]:
            r += 1
        for f in range(NO):
            od[r, f] = 0
        od[r, O_K] = k
        od[r, O_LOTS] = lots
        od[r, O_VALUE] = value
        od[r, O_RESERVED] = reserved
        od[r, O_RES_AMT] = reserve
        od[r, O_RES_LEFT] = reserve
        od[r, O_CREDIT] = relied
        od[r, O_CLOSE] = 1 if close_intent else 0
        od[r, O_BAR] = t
        od[r, O_ID] = oid
        od[r, O_SIDE] = side
        od[r, O_ALIVE] = 1
        acc[A_RESERVED] += reserve
        olist[acc[A_NOPEN]] = r
        acc[A_NOPEN] += 1

    @own
    def fill_afford_nb(
        prm: I64,
        acc: I64,
        ys: I64,
        na: int,
        od: I64,
        r: int,
        cm: I64,
        want: int,
        price: int,
        prior: int,
        credit: int,
    ) -> int:
        """Return how many of ``want`` opening lots of order ``r`` the account affords now.

        The broker's ``_affordable_at_fill`` (the authoritative check, against the account
        at this moment): ``prior`` closing lots of the same fill count toward the order's
        commission and ``credit`` is what they free (buying power, or cash under
        ``short_cash="credit"``, where a short is not checked and a buy costs cash).
        """
        k = od[r, O_K]
        own = od[r, O_RES_LEFT] if od[r, O_RESERVED] else 0
        credit_mode = prm[P_CREDIT] != 0 if s_credit < 0 else s_credit > 0
        leg_fees = prm[P_LEG_FEES] != 0 if s_leg_fees < 0 else s_leg_fees > 0
        partial = prm[P_PARTIAL] != 0 if s_partial < 0 else s_partial > 0
        if credit_mode:
            if od[r, O_SIDE] < 0:
                return want
            rate = FULL_PPM
            base = FULL_PPM
            available = credit_available(acc[A_CASH], acc[A_RESERVED] - own, credit)
        else:
            rate = im_rate_nb(prm, ys, k, od[r, O_SIDE])
            base = prm[P_BASE]
            # What the account has less what *other* orders hold (see the broker).
            available = gross_bp_nb(prm, acc, ys, na) - acc[A_RESERVED] + own + credit
        filled = abs(od[r, O_FILLED])
        if leg_fees:  # the opening side is an order of its own
            lots_off = filled - od[r, O_C_LOTS]
            notional_off = od[r, O_NOTIONAL] - od[r, O_C_NOTIONAL]
            comm_off = od[r, O_COMM] - od[r, O_C_PAID]
        else:
            lots_off = filled + prior
            prior_notional = notional_minor(price, prior, ys[k, Y_KNUM], ys[k, Y_KDEN])
            notional_off = od[r, O_NOTIONAL] + abs(prior_notional)
            comm_off = od[r, O_COMM]
        need = open_cost_nb(cm, ys, k, want, price, lots_off, notional_off, comm_off, rate, base)
        if need <= available:
            return want
        if not partial:
            return 0
        return affordable_nb(want, available, cm, ys, k, price, lots_off, notional_off, comm_off, rate, base)

    @own
    def on_bar_nb(
        t: int,
        same_bar: bool,
        fresh: bool,
        prm: I64,
        acc: I64,
        ys: I64,
        na: int,
        od: I64,
        olist: I64,
        todo: I64,
        leg: I64,
        cm: I64,
        fb: I64,
        rb: I64,
        cnt: I64,
    ) -> None:
        """Process bar ``t`` for one account (``SimulatedBroker.on_bar`` for market orders).

        ``ys`` already holds the bar of each symbol (``Y_PRESENT`` and OHLCV). With
        ``same_bar`` this is ``fill_at_close``: only the orders placed at ``t`` are matched,
        against the bar seen from its close (the caller sets open, high and low to the
        close). ``fresh``: the volume budgets start from the bar's volume (else they are
        what the bar's first pass left).
        """
        zero_fill = prm[P_ZERO_FILL] != 0 if s_zero_fill < 0 else s_zero_fill > 0
        for k in range(na):
            if ys[k, Y_PRESENT] and ys[k, Y_STALE] == 0:
                ys[k, Y_MARK] = ys[k, Y_OPEN]  # mark at the open: buying power knows no more
                if fresh:
                    vol = ys[k, Y_VOL]  # ``_volume_budget``; -1: no cap
                    if vol <= 0:  # zero_volume="fill": a bar without volume data, uncapped
                        ys[k, Y_BUDGET] = -1 if zero_fill else 0
                    elif prm[P_VOL_DEN] == 0:
                        ys[k, Y_BUDGET] = -1
                    else:
                        ys[k, Y_BUDGET] = vol * prm[P_VOL_NUM] // prm[P_VOL_DEN]
        nopen = acc[A_NOPEN]
        snum = prm[P_SLIP_NUM]
        sden = prm[P_SLIP_DEN]
        base = prm[P_BASE]
        cash_account = prm[P_KIND_CASH] != 0 if s_cash < 0 else s_cash > 0
        credit_mode = prm[P_CREDIT] != 0 if s_credit < 0 else s_credit > 0
        leg_fees = prm[P_LEG_FEES] != 0 if s_leg_fees < 0 else s_leg_fees > 0
        cancel = prm[P_CANCEL] != 0 if s_cancel < 0 else s_cancel > 0
        shorts = s_shorts != 0
        for i in range(nopen):
            todo[i] = olist[i]
        ntodo = 0
        for i in range(nopen):
            r = todo[i]
            k = od[r, O_K]
            if ys[k, Y_PRESENT] == 0 or (od[r, O_BAR] != t if same_bar else od[r, O_BAR] >= t):
                continue
            if od[r, O_VALUE] > 0 and od[r, O_FILLED] == 0:
                # A value order gets its quantity now, at this bar's fill price.
                # Without slippage ``slip_ticks`` only clamps the open into the bar's range,
                # where validated bars already hold it (``data.checks``): a constant prunes it.
                fill_at = ys[k, Y_OPEN]
                if s_slip < 0:
                    fill_at = slip_ticks(od[r, O_SIDE], fill_at, snum, sden, ys[k, Y_LOW], ys[k, Y_HIGH])
                # ``_lots_for_value``: the most lots whose notional plus commission fits.
                value = od[r, O_VALUE]
                upper = value * ys[k, Y_KDEN] // (fill_at * ys[k, Y_KNUM]) + 1
                full = FULL_PPM
                n = affordable_nb(upper, value, cm, ys, k, fill_at, ZERO, ZERO, ZERO, full, full)
                if n == 0:
                    close_order_nb(r, acc, od, olist)  # the value buys nothing: cancelled
                    continue
                od[r, O_LOTS] = n * od[r, O_SIDE]
            todo[ntodo] = r
            ntodo += 1
        # Pass 0: exits (closing parts, flips ride along); pass 1: entries.
        for phase in range(2):
            for i in range(ntodo):
                r = todo[i]
                if phase == 1 and od[r, O_ALIVE] == 0:
                    continue
                k = od[r, O_K]
                pos = ys[k, Y_QTY]
                closing, opening = split_fill(pos, od[r, O_LOTS] - od[r, O_FILLED])
                if s_shorts == 0 and (opening < 0 or (closing != 0 and opening != 0)):
                    cnt[N_GENERIC] = 1  # not long only after all: the run is made again
                    continue
                if phase == 0 and closing == 0:
                    continue
                if phase == 1:
                    if opening == 0 or closing != 0:
                        continue
                    if od[r, O_CLOSE]:
                        close_order_nb(r, acc, od, olist)  # INTENT_MISMATCH: nothing to close
                        continue
                    if shorts and opening < 0 and (cash_account or ys[k, Y_SHORTABLE] == 0):
                        # ``check_short`` again at the fill (``_refuse_at_fill``): an order
                        # placed as a sale while long opens a short once another order
                        # closed the long first.
                        left = od[r, O_LOTS] - od[r, O_FILLED]
                        why = REASON_SHORTING if cash_account else REASON_NOT_SHORTABLE
                        push_rejection_nb(acc, ys, k, rb, cnt, t, od[r, O_ID], left, why, ONE)
                        close_order_nb(r, acc, od, olist)
                        continue
                knum = ys[k, Y_KNUM]
                kden = ys[k, Y_KDEN]
                cap = ys[k, Y_BUDGET]
                ref = ys[k, Y_OPEN]
                side = od[r, O_SIDE]
                price = ref
                if s_slip < 0:
                    price = slip_ticks(side, ref, snum, sden, ys[k, Y_LOW], ys[k, Y_HIGH])
                unfunded = False
                if shorts and closing != 0 and opening != 0 and (cap < 0 or cap >= abs(closing)):
                    # ``_execute_flip``: the closing part always; the opening part rides along
                    # as far as the cap and buying power (with what the close frees) allow.
                    ask = abs(opening) if cap < 0 or cap - abs(closing) > abs(opening) else cap - abs(closing)
                    if opening < 0 and (cash_account or ys[k, Y_SHORTABLE] == 0):
                        ask = 0  # the short part is refused in the entries pass
                    if ask > 0:
                        signed = notional_minor(price, closing, knum, kden)
                        fee = 0  # per leg, the closing leg pays its own commission from what it frees
                        if leg_fees:
                            paid = od[r, O_C_PAID]
                            fee = commission_nb(
                                cm,
                                ys[k, Y_COL],
                                od[r, O_C_LOTS] + abs(closing),
                                od[r, O_C_NOTIONAL] + abs(signed),
                            )
                            fee = fee - paid if fee > paid else 0
                        if credit_mode:
                            freed = fill_cash_delta(signed, fee)
                        else:
                            freed = closing_bp_credit(
                                abs(signed), fee, im_rate_nb(prm, ys, k, -closing), base
                            )
                        ask = fill_afford_nb(prm, acc, ys, na, od, r, cm, ask, price, abs(closing), freed)
                    lots = closing + (ask if opening > 0 else -ask)
                    want = abs(lots)
                else:
                    # ``_execute`` of the closing part, or of the opening part (checked).
                    lots = closing if closing != 0 else opening
                    want = abs(lots)
                    if cap >= 0:
                        if cap == 0:
                            reason = REASON_ZERO_VOLUME if ys[k, Y_VOL] <= 0 else REASON_VOLUME_LIMIT
                            defer_nb(t, r, reason, acc, ys, od, rb, cnt)
                            continue
                        want = want if want < cap else cap
                    if closing == 0:
                        n = fill_afford_nb(prm, acc, ys, na, od, r, cm, want, price, ZERO, ZERO)
                        if n < want:
                            if cancel:
                                unfunded = True  # cancelled below, after what it affords fills
                            else:
                                defer_nb(t, r, REASON_BP, acc, ys, od, rb, cnt)
                        want = n
                        if want == 0:
                            if cancel and unfunded:  # ``cancel`` first: a constant prunes this
                                cancel_unfunded_nb(t, r, acc, ys, od, olist, rb, cnt)
                            continue
                    lots = want if lots > 0 else -want
                # ``_book`` then ``Account.apply_fill``: one fill of ``lots`` at ``price``.
                col = ys[k, Y_COL]
                notional = abs(notional_nb(price, lots, knum, kden))
                filled = od[r, O_FILLED]
                f_close, f_open = split_fill(pos, lots)
                if leg_fees:
                    # ``_leg_commissions``: each side of the order is charged as an order of
                    # its own, so a flip pays a fixed fee twice. The two lines per side are
                    # ``policies.leg_commission`` re-expressed, as numba cannot take the
                    # commission closure it is given (the same for the flip's fee above).
                    c_lots = od[r, O_C_LOTS]
                    c_notional = od[r, O_C_NOTIONAL]
                    c_paid = od[r, O_C_PAID]
                    c_value = abs(notional_minor(price, f_close, knum, kden))
                    c_comm = 0
                    if f_close != 0:
                        c_comm = commission_nb(cm, col, c_lots + abs(f_close), c_notional + c_value) - c_paid
                        c_comm = c_comm if c_comm > 0 else 0
                    o_comm = 0
                    if f_open != 0:
                        o_value = abs(notional_minor(price, f_open, knum, kden))
                        o_paid = od[r, O_COMM] - c_paid
                        o_comm = commission_nb(
                            cm,
                            col,
                            abs(filled) - c_lots + abs(f_open),
                            od[r, O_NOTIONAL] - c_notional + o_value,
                        )
                        o_comm = o_comm - o_paid if o_comm > o_paid else 0
                    comm = c_comm + o_comm
                    od[r, O_C_LOTS] = c_lots + abs(f_close)
                    od[r, O_C_NOTIONAL] = c_notional + c_value
                    od[r, O_C_PAID] = c_paid + c_comm
                else:
                    comm = commission_nb(cm, col, abs(filled + lots), od[r, O_NOTIONAL] + notional)
                    comm = comm - od[r, O_COMM] if comm > od[r, O_COMM] else 0
                slip = 0
                if s_slip < 0:
                    slip = abs(notional - abs(notional_minor(ref, lots, knum, kden)))
                # A fill crossing zero is two legs; costs are shared pro rata by quantity.
                c_close = prorate(comm, abs(f_close), abs(lots)) if f_close != 0 else 0
                s_close = prorate(slip, abs(f_close), abs(lots)) if f_close != 0 else 0
                leg[0] = od[r, O_ID]
                leg[3] = price
                if f_close != 0:
                    acc[A_CASH] += fill_cash_delta(notional_nb(price, f_close, knum, kden), c_close)
                    leg[1] = SIDE_SELL if f_close < 0 else SIDE_BUY_TO_COVER
                    leg[2] = abs(f_close)
                    leg[4] = c_close
                    leg[5] = s_close
                    push_fill_nb(acc, ys, k, fb, cnt, t, leg)
                if f_open != 0:
                    acc[A_CASH] += fill_cash_delta(notional_nb(price, f_open, knum, kden), comm - c_close)
                    leg[1] = SIDE_BUY if f_open > 0 else SIDE_SELL_SHORT
                    leg[2] = abs(f_open)
                    leg[4] = comm - c_close
                    leg[5] = slip - s_close
                    push_fill_nb(acc, ys, k, fb, cnt, t, leg)
                ys[k, Y_QTY] = pos + lots
                ys[k, Y_MARK] = price  # the ledger re-marks a position at its fill price
                filled += lots
                od[r, O_FILLED] = filled
                if od[r, O_RESERVED]:
                    # ``confirm``: the reservation keeps amount - prorate(amount, filled, lots).
                    ordered = abs(od[r, O_LOTS])
                    amount = od[r, O_RES_AMT]
                    left = 0 if abs(filled) >= ordered else amount - prorate(amount, abs(filled), ordered)
                    acc[A_RESERVED] -= od[r, O_RES_LEFT] - left
                    od[r, O_RES_LEFT] = left
                    if od[r, O_LOTS] == filled:
                        od[r, O_RESERVED] = 0
                od[r, O_NOTIONAL] += notional
                od[r, O_COMM] += comm
                if od[r, O_LOTS] == filled:
                    close_order_nb(r, acc, od, olist)
                if cap >= 0:
                    ys[k, Y_BUDGET] = cap - want
                if cancel and unfunded and od[r, O_ALIVE]:
                    cancel_unfunded_nb(t, r, acc, ys, od, olist, rb, cnt)
        for k in range(na):
            if ys[k, Y_PRESENT] and ys[k, Y_STALE] == 0:
                ys[k, Y_MARK] = ys[k, Y_CLOSE]
                ys[k, Y_LAST] = ys[k, Y_CLOSE]

    return Broker(place_nb, on_bar_nb, affordable_nb)
