"""The simulated broker for market orders, compiled: placement, one bar, the ledger.

This is ``SimulatedBroker`` (``solvent/execution/broker.py``) restricted to what the
fast path places: GTC market orders (sized in lots, or by a money budget resolved at
the fill as ``submit_value`` does, or closing with intent CLOSE) in the ``reject``
validation mode. Comments name the broker method each step follows; the order of the
steps, the checks and every rounding are the broker's, and every accounting rule and
cost formula is the shared pure function from ``solvent.accounting.rules`` and
``solvent.execution.costs`` (compiled, not copied; see ``_jit``). The differential
tests (``tests/test_fast_differential.py``) hold the two to identical fills.

State lives in small ``int64`` tables laid out in ``_layout``: the account scalars
``acc``, the account's symbols ``ys`` (position, mark, last close and the current bar),
the working orders ``od`` with ``olist`` (their rows in placement order, the broker's
``_open``), commission components ``cm`` and the output buffers ``fb``/``rb``.

Why few, large functions: numba builds every compiled function into its own machine
code with all the functions it calls linked in, so a deep tree of small helpers is
compiled many times over. The broker's ``_execute``, ``_execute_flip``,
``_affordable_at_fill`` and ``_book`` steps are therefore one pass in ``on_bar_nb``,
``_pending_exit_credit`` is part of ``place_nb``, and only leaves (commission, buying
power, records) and the search for an affordable quantity are separate functions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from solvent.accounting import rules
from solvent.execution import costs
from solvent.fast import _layout as ly
from solvent.fast._jit import internal

I64 = npt.NDArray[np.int64]

# -- leaves ---------------------------------------------------------------------------


@internal
def commission_nb(cm: I64, col: int, cum_lots: int, cum_notional: int) -> int:
    """Return an order's total commission after ``cum_lots`` (``order_commission``)."""
    total = 0
    for c in range(cm.shape[1]):
        kind = cm[col, c, ly.C_TYPE]
        if kind == ly.C_VALUE:
            total += costs.value_fee(cum_notional, cm[col, c, 1], cm[col, c, 2])
        elif kind == ly.C_PER_SHARE:
            total += costs.per_share_fee(
                cum_lots,
                cum_notional,
                cm[col, c, 1],
                cm[col, c, 2],
                cm[col, c, 3],
                cm[col, c, 4],
                cm[col, c, 5],
            )
        elif kind == ly.C_FIXED:
            total += costs.fixed_fee(cum_lots, cm[col, c, 1])
    return total


@internal
def im_rate_nb(prm: I64, ys: I64, k: int, lots: int) -> int:
    """Return the initial-margin rate an opening of ``lots`` uses (``Account.im_rate_ppm``)."""
    if prm[ly.P_KIND_CASH]:
        return int(ly.FULL_PPM)
    return int(ys[k, ly.Y_IML] if lots > 0 else ys[k, ly.Y_IMS])


@internal
def nlv_nb(acc: I64, ys: I64, na: int) -> int:
    """Return net liquidating value: cash plus every position at its mark."""
    nlv = acc[ly.A_CASH]
    for k in range(na):
        q = ys[k, ly.Y_QTY]
        if q != 0:
            nlv += rules.notional_minor(ys[k, ly.Y_MARK], q, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN])
    return int(nlv)


@internal
def gross_bp_nb(prm: I64, acc: I64, ys: I64, na: int) -> int:
    """Return buying power before reservations (``Account._gross_buying_power``)."""
    if prm[ly.P_KIND_CASH]:
        return int(rules.cash_buying_power(acc[ly.A_CASH], ly.ZERO))
    nlv = acc[ly.A_CASH]
    im = 0
    for k in range(na):
        q = ys[k, ly.Y_QTY]
        if q != 0:
            mv = rules.notional_minor(ys[k, ly.Y_MARK], q, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN])
            nlv += mv
            im += rules.margin_requirement(abs(mv), ys[k, ly.Y_IML] if q > 0 else ys[k, ly.Y_IMS])
    return int(rules.margin_buying_power(nlv - im, prm[ly.P_BASE]))


@internal
def push_fill_nb(acc: I64, ys: I64, k: int, fb: I64, cnt: I64, t: int, row: I64) -> None:
    """Append one fill leg ``row`` (order, side, lots, price, commission, slippage).

    Counted even when the buffer is full: the caller sizes it and runs again.
    """
    n = cnt[ly.N_FILLS]
    if n < fb.shape[0]:
        fb[n, ly.F_ACCT] = acc[ly.A_INDEX]
        fb[n, ly.F_SLOT] = ys[k, ly.Y_SLOT]
        fb[n, ly.F_BAR] = t
        for f in range(6):
            fb[n, ly.F_ORDER + f] = row[f]
    cnt[ly.N_FILLS] = n + 1


@internal
def push_rejection_nb(
    acc: I64, ys: I64, k: int, rb: I64, cnt: I64, t: int, oid: int, lots: int, reason: int, at_fill: int
) -> None:
    """Append one refusal (counted even when the buffer is full: the caller resizes)."""
    n = cnt[ly.N_REJ]
    if n < rb.shape[0]:
        rb[n, ly.R_ACCT] = acc[ly.A_INDEX]
        rb[n, ly.R_SLOT] = ys[k, ly.Y_SLOT]
        rb[n, ly.R_BAR] = t
        rb[n, ly.R_ORDER] = oid
        rb[n, ly.R_LOTS] = lots
        rb[n, ly.R_REASON] = reason
        rb[n, ly.R_AT_FILL] = at_fill
    cnt[ly.N_REJ] = n + 1


@internal
def close_order_nb(r: int, acc: I64, od: I64, olist: I64) -> None:
    """End a working order: release what it holds, drop it from the book (``_close``)."""
    if od[r, ly.O_RESERVED]:
        acc[ly.A_RESERVED] -= od[r, ly.O_RES_LEFT]
        od[r, ly.O_RES_LEFT] = 0
        od[r, ly.O_RESERVED] = 0
    od[r, ly.O_CREDIT] = 0
    j = 0
    for i in range(acc[ly.A_NOPEN]):
        if olist[i] != r:
            olist[j] = olist[i]
            j += 1
    acc[ly.A_NOPEN] = j
    od[r, ly.O_ALIVE] = 0


# -- sizing -------------------------------------------------------------------------------


@internal
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
    notional plus commission (``_lots_for_value``).
    """
    notional = abs(rules.notional_minor(price, n, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN]))
    comm = commission_nb(cm, ys[k, ly.Y_COL], lots_off + n, notional_off + notional) - comm_off
    return int(rules.opening_bp_cost(notional, comm, rate, base))


@internal
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
    guess = min(max_lots - 1, max(0, int(max_lots * (available / full))))
    step = 1
    if (
        guess > 0
        and open_cost_nb(cm, ys, k, guess, price, lots_off, notional_off, comm_off, rate, base) > available
    ):
        hi = guess
        lo = hi - step
        while (
            lo > 0
            and open_cost_nb(cm, ys, k, lo, price, lots_off, notional_off, comm_off, rate, base) > available
        ):
            hi = lo
            step *= 2
            lo = max(0, hi - step)
    else:
        lo = guess
        hi = lo + step
        while (
            hi < max_lots
            and open_cost_nb(cm, ys, k, hi, price, lots_off, notional_off, comm_off, rate, base) <= available
        ):
            lo = hi
            step *= 2
            hi = min(max_lots, lo + step)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if open_cost_nb(cm, ys, k, mid, price, lots_off, notional_off, comm_off, rate, base) <= available:
            lo = mid
        else:
            hi = mid
    return lo


@internal
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
) -> int:
    """Place a market order after bar ``t``: check, cut, reserve (``_place``).

    Returns the order's row, or -1 when it was refused (the refusal is recorded).
    """
    oid = acc[ly.A_NEXT_ID]
    acc[ly.A_NEXT_ID] = oid + 1
    pos = ys[k, ly.Y_QTY]
    _, opening = rules.split_fill(pos, lots)
    reason = -1
    if close_intent and not (lots == -pos and pos != 0):
        reason = ly.REASON_INTENT  # ``check_intent``
    elif opening < 0 and prm[ly.P_KIND_CASH]:
        reason = ly.REASON_SHORTING  # ``check_short``
    elif opening < 0 and ys[k, ly.Y_SHORTABLE] == 0:
        reason = ly.REASON_NOT_SHORTABLE
    side = 1 if lots > 0 else -1
    reserve = 0
    reserved = 0
    relied = 0
    if reason < 0 and opening != 0:
        last = ys[k, ly.Y_LAST]
        if last == 0:
            reason = ly.REASON_MARKET_CLOSED
        else:
            # The estimate: the last close after slippage, in a bar that is just that close.
            price = costs.slip_ticks(side, last, prm[ly.P_SLIP_NUM], prm[ly.P_SLIP_DEN], last, last)
            rate = im_rate_nb(prm, ys, k, opening)
            base = prm[ly.P_BASE]
            # ``_pending_exit_credit``: what pending exits will free (valued at the last
            # close, less their commission), less what working entries already rely on.
            credit = 0
            relied_before = 0
            for i in range(acc[ly.A_NOPEN]):
                ro = olist[i]
                relied_before += od[ro, ly.O_CREDIT]
                ko = od[ro, ly.O_K]
                po = ys[ko, ly.Y_QTY]
                closing, _ = rules.split_fill(po, od[ro, ly.O_LOTS] - od[ro, ly.O_FILLED])
                pl = ys[ko, ly.Y_LAST]
                if closing != 0 and pl != 0:
                    nc = abs(rules.notional_minor(pl, closing, ys[ko, ly.Y_KNUM], ys[ko, ly.Y_KDEN]))
                    cc = commission_nb(cm, ys[ko, ly.Y_COL], abs(closing), nc)
                    rc = im_rate_nb(prm, ys, ko, po)
                    credit += max(0, rules.closing_bp_credit(nc, cc, rc, base))  # ``_closing_credit``
            credit = max(0, credit - relied_before)
            closing_part = lots - opening
            if closing_part != 0:  # a flip: its own closing part frees buying power first
                notional = abs(rules.notional_minor(price, closing_part, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN]))
                credit += max(
                    0, rules.closing_bp_credit(notional, ly.ZERO, im_rate_nb(prm, ys, k, pos), base)
                )
            bp = max(0, gross_bp_nb(prm, acc, ys, na) - acc[ly.A_RESERVED])
            available = bp + credit
            lots_off = abs(closing_part)
            need = open_cost_nb(cm, ys, k, abs(opening), price, lots_off, ly.ZERO, ly.ZERO, rate, base)
            if need > available:
                n = 0
                if prm[ly.P_PARTIAL]:
                    n = affordable_nb(
                        abs(opening), available, cm, ys, k, price, lots_off, ly.ZERO, ly.ZERO, rate, base
                    )
                if n == 0:
                    reason = ly.REASON_BP
                else:
                    cut = abs(opening) - n  # scaled down at placement (SCALED_DOWN)
                    lots = lots - cut if lots > 0 else lots + cut
                    need = open_cost_nb(cm, ys, k, n, price, lots_off, ly.ZERO, ly.ZERO, rate, base)
            if reason < 0:
                own = max(0, need - credit)
                relied = min(need, credit)
                if own > 0:
                    reserve = min(own, bp)
                    reserved = 1
    if reason >= 0:
        push_rejection_nb(acc, ys, k, rb, cnt, t, oid, lots, reason, ly.ZERO)
        return -1
    r = 0
    while od[r, ly.O_ALIVE]:
        r += 1
    for f in range(ly.NO):
        od[r, f] = 0
    od[r, ly.O_K] = k
    od[r, ly.O_LOTS] = lots
    od[r, ly.O_VALUE] = value
    od[r, ly.O_RESERVED] = reserved
    od[r, ly.O_RES_AMT] = reserve
    od[r, ly.O_RES_LEFT] = reserve
    od[r, ly.O_CREDIT] = relied
    od[r, ly.O_CLOSE] = 1 if close_intent else 0
    od[r, ly.O_BAR] = t
    od[r, ly.O_ID] = oid
    od[r, ly.O_SIDE] = side
    od[r, ly.O_ALIVE] = 1
    acc[ly.A_RESERVED] += reserve
    olist[acc[ly.A_NOPEN]] = r
    acc[ly.A_NOPEN] += 1
    return r


# -- one bar ------------------------------------------------------------------------------


@internal
def defer_nb(t: int, r: int, reason: int, acc: I64, ys: I64, od: I64, rb: I64, cnt: I64) -> None:
    """Record once per order that it could not fill this bar (``_note_deferred``)."""
    if od[r, ly.O_DEFERRED] == 0:
        od[r, ly.O_DEFERRED] = 1
        left = od[r, ly.O_LOTS] - od[r, ly.O_FILLED]
        push_rejection_nb(acc, ys, od[r, ly.O_K], rb, cnt, t, od[r, ly.O_ID], left, reason, ly.ONE)


@internal
def on_bar_nb(
    t: int,
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

    ``ys`` already holds the bar of each symbol (``Y_PRESENT`` and OHLCV).
    """
    for k in range(na):
        if ys[k, ly.Y_PRESENT]:
            ys[k, ly.Y_MARK] = ys[k, ly.Y_OPEN]  # mark at the open: buying power knows no more
            vol = ys[k, ly.Y_VOL]  # ``_volume_budget``
            if vol <= 0:
                ys[k, ly.Y_BUDGET] = 0
            elif prm[ly.P_VOL_DEN] == 0:
                ys[k, ly.Y_BUDGET] = -1
            else:
                ys[k, ly.Y_BUDGET] = vol * prm[ly.P_VOL_NUM] // prm[ly.P_VOL_DEN]
    nopen = acc[ly.A_NOPEN]
    snum = prm[ly.P_SLIP_NUM]
    sden = prm[ly.P_SLIP_DEN]
    base = prm[ly.P_BASE]
    if nopen > 0:
        for i in range(nopen):
            todo[i] = olist[i]
        ntodo = 0
        for i in range(nopen):
            r = todo[i]
            k = od[r, ly.O_K]
            if ys[k, ly.Y_PRESENT] == 0 or od[r, ly.O_BAR] >= t:
                continue
            if od[r, ly.O_VALUE] > 0 and od[r, ly.O_FILLED] == 0:
                # A value order gets its quantity now, at this bar's fill price.
                fill_at = costs.slip_ticks(
                    od[r, ly.O_SIDE], ys[k, ly.Y_OPEN], snum, sden, ys[k, ly.Y_LOW], ys[k, ly.Y_HIGH]
                )
                # ``_lots_for_value``: the most lots whose notional plus commission fits.
                value = od[r, ly.O_VALUE]
                per_lot = fill_at * ys[k, ly.Y_KNUM]
                upper = value * ys[k, ly.Y_KDEN] // per_lot + 1
                full = ly.FULL_PPM
                n = affordable_nb(upper, value, cm, ys, k, fill_at, ly.ZERO, ly.ZERO, ly.ZERO, full, full)
                if n == 0:
                    close_order_nb(r, acc, od, olist)  # the value buys nothing: cancelled
                    continue
                od[r, ly.O_LOTS] = n * od[r, ly.O_SIDE]
            todo[ntodo] = r
            ntodo += 1
        # Pass 0: exits (closing parts, flips ride along); pass 1: entries.
        for phase in range(2):
            for i in range(ntodo):
                r = todo[i]
                if phase == 1 and od[r, ly.O_ALIVE] == 0:
                    continue
                k = od[r, ly.O_K]
                pos = ys[k, ly.Y_QTY]
                closing, opening = rules.split_fill(pos, od[r, ly.O_LOTS] - od[r, ly.O_FILLED])
                if phase == 0 and closing == 0:
                    continue
                if phase == 1:
                    if opening == 0 or closing != 0:
                        continue
                    if od[r, ly.O_CLOSE]:
                        close_order_nb(r, acc, od, olist)  # INTENT_MISMATCH: nothing to close
                        continue
                    if opening < 0 and (prm[ly.P_KIND_CASH] or ys[k, ly.Y_SHORTABLE] == 0):
                        # ``check_short`` again at the fill (``_refuse_at_fill``): an order
                        # placed as a sale while long opens a short once another order
                        # closed the long first.
                        left = od[r, ly.O_LOTS] - od[r, ly.O_FILLED]
                        why = ly.REASON_SHORTING if prm[ly.P_KIND_CASH] else ly.REASON_NOT_SHORTABLE
                        push_rejection_nb(acc, ys, k, rb, cnt, t, od[r, ly.O_ID], left, why, ly.ONE)
                        close_order_nb(r, acc, od, olist)
                        continue
                cap = ys[k, ly.Y_BUDGET]
                flip = closing != 0 and opening != 0
                if flip and 0 <= cap < abs(closing):
                    flip = False  # not even the close fits: fill what the cap allows of it
                    opening = 0
                ask = 0  # opening lots to check against buying power
                prior = 0  # closing lots of the same fill (a flip)
                if flip:  # ``_execute_flip``
                    ask = abs(opening) if cap < 0 else min(abs(opening), cap - abs(closing))
                    if opening < 0 and (prm[ly.P_KIND_CASH] or ys[k, ly.Y_SHORTABLE] == 0):
                        ask = 0  # the short part is refused in the entries pass
                    prior = abs(closing)
                    want = prior + ask
                else:  # ``_execute``
                    want = abs(closing) if closing != 0 else abs(opening)
                    if cap >= 0:
                        if cap == 0:
                            reason = ly.REASON_ZERO_VOLUME if ys[k, ly.Y_VOL] <= 0 else ly.REASON_VOLUME_LIMIT
                            defer_nb(t, r, reason, acc, ys, od, rb, cnt)
                            continue
                        want = min(want, cap)
                    if closing == 0:
                        ask = want
                ref = ys[k, ly.Y_OPEN]
                side = od[r, ly.O_SIDE]
                price = costs.slip_ticks(side, ref, snum, sden, ys[k, ly.Y_LOW], ys[k, ly.Y_HIGH])
                if ask > 0:  # ``_affordable_at_fill``
                    knum = ys[k, ly.Y_KNUM]
                    kden = ys[k, ly.Y_KDEN]
                    credit = 0
                    if flip:  # what the closing part frees funds the opening part
                        freed = abs(rules.notional_minor(price, closing, knum, kden))
                        credit = rules.closing_bp_credit(
                            freed, ly.ZERO, im_rate_nb(prm, ys, k, -closing), base
                        )
                    rate = im_rate_nb(prm, ys, k, side)
                    own = od[r, ly.O_RES_LEFT] if od[r, ly.O_RESERVED] else 0
                    # What the account has less what *other* orders hold (see the broker).
                    available = gross_bp_nb(prm, acc, ys, na) - acc[ly.A_RESERVED] + own + credit
                    lots_off = abs(od[r, ly.O_FILLED]) + prior
                    notional_off = od[r, ly.O_NOTIONAL] + abs(rules.notional_minor(price, prior, knum, kden))
                    comm_off = od[r, ly.O_COMM]
                    need = open_cost_nb(cm, ys, k, ask, price, lots_off, notional_off, comm_off, rate, base)
                    if need > available:
                        n = 0
                        if prm[ly.P_PARTIAL]:
                            n = affordable_nb(
                                ask, available, cm, ys, k, price, lots_off, notional_off, comm_off, rate, base
                            )
                        if not flip and n < ask:
                            defer_nb(t, r, ly.REASON_BP, acc, ys, od, rb, cnt)
                        ask = n
                    if not flip:
                        if ask == 0:
                            continue
                        want = ask
                    else:
                        want = prior + ask
                if flip:
                    lots = closing + (ask if opening > 0 else -ask)
                elif closing != 0:
                    lots = want if closing > 0 else -want
                else:
                    lots = want if opening > 0 else -want
                # ``_book`` then ``Account.apply_fill``: one fill of ``lots`` at ``price``.
                knum = ys[k, ly.Y_KNUM]
                kden = ys[k, ly.Y_KDEN]
                notional = abs(rules.notional_minor(price, lots, knum, kden))
                filled = od[r, ly.O_FILLED]
                total = commission_nb(
                    cm, ys[k, ly.Y_COL], abs(filled + lots), od[r, ly.O_NOTIONAL] + notional
                )
                comm = max(0, total - od[r, ly.O_COMM])
                slip = abs(notional - abs(rules.notional_minor(ref, lots, knum, kden)))
                f_close, f_open = rules.split_fill(pos, lots)
                # A fill crossing zero is two legs; costs are shared pro rata by quantity.
                c_close = rules.prorate(comm, abs(f_close), abs(lots)) if f_close != 0 else 0
                s_close = rules.prorate(slip, abs(f_close), abs(lots)) if f_close != 0 else 0
                leg[0] = od[r, ly.O_ID]
                leg[3] = price
                if f_close != 0:
                    acc[ly.A_CASH] += rules.fill_cash_delta(
                        rules.notional_minor(price, f_close, knum, kden), c_close
                    )
                    leg[1] = ly.SIDE_SELL if f_close < 0 else ly.SIDE_BUY_TO_COVER
                    leg[2] = abs(f_close)
                    leg[4] = c_close
                    leg[5] = s_close
                    push_fill_nb(acc, ys, k, fb, cnt, t, leg)
                if f_open != 0:
                    acc[ly.A_CASH] += rules.fill_cash_delta(
                        rules.notional_minor(price, f_open, knum, kden), comm - c_close
                    )
                    leg[1] = ly.SIDE_BUY if f_open > 0 else ly.SIDE_SELL_SHORT
                    leg[2] = abs(f_open)
                    leg[4] = comm - c_close
                    leg[5] = slip - s_close
                    push_fill_nb(acc, ys, k, fb, cnt, t, leg)
                ys[k, ly.Y_QTY] = pos + lots
                ys[k, ly.Y_MARK] = price  # the ledger re-marks a position at its fill price
                filled += lots
                od[r, ly.O_FILLED] = filled
                if od[r, ly.O_RESERVED]:
                    # ``confirm``: the reservation keeps amount - prorate(amount, filled, lots).
                    ordered = abs(od[r, ly.O_LOTS])
                    amount = od[r, ly.O_RES_AMT]
                    left = (
                        0 if abs(filled) >= ordered else amount - rules.prorate(amount, abs(filled), ordered)
                    )
                    acc[ly.A_RESERVED] -= od[r, ly.O_RES_LEFT] - left
                    od[r, ly.O_RES_LEFT] = left
                    if od[r, ly.O_LOTS] == filled:
                        od[r, ly.O_RESERVED] = 0
                od[r, ly.O_NOTIONAL] += notional
                od[r, ly.O_COMM] += comm
                if od[r, ly.O_LOTS] == filled:
                    close_order_nb(r, acc, od, olist)
                if cap >= 0:
                    ys[k, ly.Y_BUDGET] = cap - want
    for k in range(na):
        if ys[k, ly.Y_PRESENT]:
            ys[k, ly.Y_MARK] = ys[k, ly.Y_CLOSE]
            ys[k, ly.Y_LAST] = ys[k, ly.Y_CLOSE]
