"""The compiled loop: every account, every bar, the broker then the strategy's rule.

One ``njit`` kernel (``run_nb``) walks the accounts (columns, or groups of columns that
share cash) and, for each, the bars in order. Per bar it does what ``solvent.backtest``
does with the twin strategies of ``solvent.fast.twin``:

1. dividends going ex on the bar are paid (or charged to shorts);
2. the broker processes the bar (``_broker.on_bar_nb``: marks at the open, exits
   first, entries, marks at the close);
3. equity (NLV, exact minor units) is recorded, and the first bar at which the margin
   monitor would file the account into a margin call;
4. the rule decides, for each symbol with a bar, from the signals or the target
   weights of this bar, and places market orders that can fill from the next bar.

Outputs are preallocated by the caller; the fill and refusal buffers count past their
end so the caller can size them exactly and run again if they were too small.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from solvent.accounting import rules
from solvent.fast import _broker as br
from solvent.fast import _layout as ly
from solvent.fast import _snap, decide
from solvent.fast._jit import kernel

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


@kernel
def run_nb(
    op: F64,
    hi: F64,
    lo: F64,
    cl: F64,
    vo: F64,
    tick: F64,
    lot: F64,
    present: B,
    le: B,
    lx: B,
    se: B,
    sx: B,
    weights: I64,
    rebalance: B,
    acct_start: I64,
    acct_slots: I64,
    slot_col: I64,
    inst: I64,
    dividends: I64,
    size_lots: I64,
    cm: I64,
    prm: I64,
    equity: I64,
    fb: I64,
    rb: I64,
    cnt: I64,
    final_cash: I64,
    final_qty: I64,
    first_call: I64,
) -> None:
    """Run every account over every bar; see the module docstring.

    Bars are float arrays over data columns, ``(T, N)`` for open, high, low and volume
    (read on bars with working orders) and ``(N, T)`` for the close and ``present``
    (read every bar, so each symbol's stream is contiguous); prices are converted to
    ticks of ``tick`` when read, volume to lots of ``lot``. Signals ``le, lx, se, sx``
    and ``weights`` are ``(M, T)`` over input columns; the slots of account ``a``
    are ``acct_slots[acct_start[a]:acct_start[a+1]]``. ``equity`` is ``(A, T)``.
    """
    n_bars = op.shape[0]
    n_acct = acct_start.shape[0] - 1
    nmax = 1
    for a in range(n_acct):
        nmax = max(nmax, acct_start[a + 1] - acct_start[a])
    ys = np.zeros((nmax, ly.NY), dtype=np.int64)
    od = np.zeros((2 * nmax, ly.NO), dtype=np.int64)
    olist = np.zeros(2 * nmax, dtype=np.int64)
    todo = np.zeros(2 * nmax, dtype=np.int64)
    leg = np.zeros(6, dtype=np.int64)
    acc = np.zeros(ly.NA, dtype=np.int64)
    targets = prm[ly.P_MODE] == ly.MODE_TARGETS
    has_exits = prm[ly.P_HAS_EXITS] != 0
    has_short = prm[ly.P_HAS_SHORT] != 0
    cash_account = prm[ly.P_KIND_CASH] != 0
    for a in range(n_acct):
        s0 = acct_start[a]
        na = acct_start[a + 1] - s0
        for k in range(na):
            m = acct_slots[s0 + k]
            j = slot_col[m]
            for f in range(ly.NY):
                ys[k, f] = 0
            ys[k, ly.Y_COL] = j
            ys[k, ly.Y_SLOT] = m
            ys[k, ly.Y_KNUM] = inst[j, ly.I_KNUM]
            ys[k, ly.Y_KDEN] = inst[j, ly.I_KDEN]
            ys[k, ly.Y_IML] = inst[j, ly.I_IML]
            ys[k, ly.Y_IMS] = inst[j, ly.I_IMS]
            ys[k, ly.Y_SHORTABLE] = inst[j, ly.I_SHORTABLE]
            ys[k, ly.Y_SIZE] = size_lots[j]
            ys[k, ly.Y_MML] = inst[j, ly.I_MML]
            ys[k, ly.Y_MMS] = inst[j, ly.I_MMS]
        for r in range(2 * nmax):
            od[r, ly.O_ALIVE] = 0
        acc[ly.A_CASH] = prm[ly.P_CASH]
        acc[ly.A_RESERVED] = 0
        acc[ly.A_NEXT_ID] = 1
        acc[ly.A_NOPEN] = 0
        acc[ly.A_INDEX] = a
        first_call[a] = -1
        ev = 0
        for t in range(n_bars):
            while ev < dividends.shape[0] and dividends[ev, 0] == t:
                # Dividends going ex on this bar are paid before it trades (backtest step 1).
                for k in range(na):
                    q = ys[k, ly.Y_QTY]
                    if ys[k, ly.Y_COL] == dividends[ev, 1] and q != 0:
                        acc[ly.A_CASH] += rules.per_unit_cash(q, dividends[ev, 2], dividends[ev, 3])
                ev += 1
            if acc[ly.A_NOPEN] > 0:
                for k in range(na):
                    j = ys[k, ly.Y_COL]
                    if present[j, t]:
                        o = _snap.ticks_nb(op[t, j], tick[j])
                        h = _snap.ticks_nb(hi[t, j], tick[j])
                        lw = _snap.ticks_nb(lo[t, j], tick[j])
                        c = _snap.ticks_nb(cl[j, t], tick[j])
                        if o < 0 or h < 0 or lw < 0 or c < 0:
                            cnt[ly.N_UNSETTLED] = 1
                            return
                        ys[k, ly.Y_PRESENT] = 1
                        ys[k, ly.Y_STALE] = 0
                        ys[k, ly.Y_OPEN] = o
                        ys[k, ly.Y_HIGH] = h
                        ys[k, ly.Y_LOW] = lw
                        ys[k, ly.Y_CLOSE] = c
                        ys[k, ly.Y_VOL] = _snap.lots_nb(vo[t, j], lot[j])
                    else:
                        ys[k, ly.Y_PRESENT] = 0
                br.on_bar_nb(t, prm, acc, ys, na, od, olist, todo, leg, cm, fb, rb, cnt)
            else:
                # No working order: the bar only moves the marks (the open's mark would
                # be replaced by the close's before anyone reads it). A flat symbol's close
                # is read only if something needs it (a decision below), so a quiet bar
                # costs almost nothing.
                for k in range(na):
                    j = ys[k, ly.Y_COL]
                    if present[j, t]:
                        ys[k, ly.Y_PRESENT] = 1
                        if ys[k, ly.Y_QTY] == 0:
                            ys[k, ly.Y_STALE] = 1
                            continue
                        c = _snap.ticks_nb(cl[j, t], tick[j])
                        if c < 0:
                            cnt[ly.N_UNSETTLED] = 1
                            return
                        ys[k, ly.Y_STALE] = 0
                        ys[k, ly.Y_MARK] = c
                        ys[k, ly.Y_LAST] = c
                    else:
                        ys[k, ly.Y_PRESENT] = 0
            nlv = acc[ly.A_CASH]
            gross = 0
            mm = 0
            shorts = False
            for k in range(na):
                q = ys[k, ly.Y_QTY]
                if q != 0:
                    mv = rules.notional_minor(ys[k, ly.Y_MARK], q, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN])
                    nlv += mv
                    gross += abs(mv)
                    shorts = shorts or q < 0
            equity[a, t] = nlv
            # The margin monitor's band (``Account.margin_figures``, ``rules.margin_band``):
            # from a margin call on, the event engine goes reduce-only and liquidates,
            # which this loop does not (docs/fast.md), so the first such bar is reported.
            # Without shorts and with cash >= 0, NLV covers gross exposure: no call.
            if first_call[a] < 0 and gross > 0 and (shorts or acc[ly.A_CASH] < 0):
                for k in range(na):
                    q = ys[k, ly.Y_QTY]
                    if q != 0:
                        mv = rules.notional_minor(ys[k, ly.Y_MARK], q, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN])
                        if cash_account:  # a cash account's "margin" is the whole value
                            mm += abs(mv)
                        else:
                            mm += rules.margin_requirement(
                                abs(mv), ys[k, ly.Y_MML] if q > 0 else ys[k, ly.Y_MMS]
                            )
                at_risk, call, liquidating = prm[ly.P_AT_RISK], prm[ly.P_CALL], prm[ly.P_LIQUIDATING]
                if rules.margin_band(nlv, gross, mm, at_risk, call, liquidating) >= rules.BAND_MARGIN_CALL:
                    first_call[a] = t
            elif first_call[a] < 0 and nlv < 0:
                first_call[a] = t  # halted
            if targets:
                if rebalance[a, t]:
                    # ``TargetStrategy.on_bar``: cancel the symbols' working orders, then
                    # trade each symbol with a bar to its target (``decide.target_lots``).
                    # Orders that reduce a position go first, so what they free counts
                    # for the orders placed after them.
                    for k in range(na):
                        if ys[k, ly.Y_PRESENT] and ys[k, ly.Y_STALE]:
                            c = _snap.ticks_nb(cl[ys[k, ly.Y_COL], t], tick[ys[k, ly.Y_COL]])
                            if c < 0:
                                cnt[ly.N_UNSETTLED] = 1
                                return
                            ys[k, ly.Y_STALE] = 0
                            ys[k, ly.Y_MARK] = c
                            ys[k, ly.Y_LAST] = c
                    for k in range(na):
                        if ys[k, ly.Y_PRESENT]:
                            i = 0
                            while i < acc[ly.A_NOPEN]:
                                r = olist[i]
                                if od[r, ly.O_K] == k:
                                    br.close_order_nb(r, acc, od, olist)
                                else:
                                    i += 1
                    for phase in range(2):
                        for k in range(na):
                            if ys[k, ly.Y_PRESENT] == 0:
                                continue
                            pos = ys[k, ly.Y_QTY]
                            weight = weights[ys[k, ly.Y_SLOT], t]
                            last = ys[k, ly.Y_LAST]
                            target = decide.target_lots(nlv, weight, last, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN])
                            delta = target - pos
                            if delta == 0:
                                continue
                            reducing = pos != 0 and (delta > 0) != (pos > 0)
                            if reducing == (phase == 0):
                                br.place_nb(
                                    t, k, delta, ly.ZERO, ly.FALSE, prm, acc, ys, na, od, olist, cm, rb, cnt
                                )
                continue
            for k in range(na):
                if ys[k, ly.Y_PRESENT] == 0:
                    continue
                m = ys[k, ly.Y_SLOT]
                action = decide.resolve_action(
                    le[m, t], has_exits and lx[m, t], has_short and se[m, t], has_short and sx[m, t]
                )
                if action == ly.ACT_NONE:
                    continue
                if ys[k, ly.Y_STALE]:  # the decision needs this bar's close
                    c = _snap.ticks_nb(cl[ys[k, ly.Y_COL], t], tick[ys[k, ly.Y_COL]])
                    if c < 0:
                        cnt[ly.N_UNSETTLED] = 1
                        return
                    ys[k, ly.Y_STALE] = 0
                    ys[k, ly.Y_MARK] = c
                    ys[k, ly.Y_LAST] = c
                # ``SignalStrategy.on_bar``: nothing to do when the position plus what its
                # working orders will still fill already heads where the action asks.
                pos = ys[k, ly.Y_QTY]
                heading = pos
                for i in range(acc[ly.A_NOPEN]):
                    r = olist[i]
                    if od[r, ly.O_K] == k:
                        heading += od[r, ly.O_LOTS] - od[r, ly.O_FILLED]
                if decide.already_heading(action, heading):
                    continue
                # Otherwise the symbol's working orders are cancelled and the action is
                # taken from the position as filled.
                i = 0
                while i < acc[ly.A_NOPEN]:
                    r = olist[i]
                    if od[r, ly.O_K] == k:
                        br.close_order_nb(r, acc, od, olist)
                    else:
                        i += 1
                close, side = decide.orders_for(action, pos)
                if close:  # ``ctx.close_position``: intent CLOSE
                    br.place_nb(t, k, -pos, ly.ZERO, ly.TRUE, prm, acc, ys, na, od, olist, cm, rb, cnt)
                if side == 0:
                    continue
                if prm[ly.P_SIZE_KIND] == ly.SIZE_LOTS:  # ``ctx.order``
                    br.place_nb(
                        t,
                        k,
                        side * ys[k, ly.Y_SIZE],
                        ly.ZERO,
                        ly.FALSE,
                        prm,
                        acc,
                        ys,
                        na,
                        od,
                        olist,
                        cm,
                        rb,
                        cnt,
                    )
                    continue
                # ``ctx.order_value``: the budget is the cash the account would hold after
                # closing this position at the last close, times the size fraction.
                last = ys[k, ly.Y_LAST]
                budget = acc[ly.A_CASH] + rules.notional_minor(last, pos, ys[k, ly.Y_KNUM], ys[k, ly.Y_KDEN])
                budget = budget * prm[ly.P_PCT_NUM] // prm[ly.P_PCT_DEN]
                if budget > 0:
                    # ``submit_value``'s estimate: what the budget buys at the last close.
                    per_lot = last * ys[k, ly.Y_KNUM]
                    upper = budget * ys[k, ly.Y_KDEN] // per_lot + 1
                    full = ly.FULL_PPM
                    est = br.affordable_nb(
                        upper, budget, cm, ys, k, last, ly.ZERO, ly.ZERO, ly.ZERO, full, full
                    )
                    est = max(1, est)
                    br.place_nb(t, k, side * est, budget, ly.FALSE, prm, acc, ys, na, od, olist, cm, rb, cnt)
        final_cash[a] = acc[ly.A_CASH]
        for k in range(na):
            final_qty[ys[k, ly.Y_SLOT]] = ys[k, ly.Y_QTY]
