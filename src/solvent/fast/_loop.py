"""The compiled loop: every account, every bar, the broker then the strategy's rule.

One ``njit`` kernel (``run_nb``, compiled per entry point, fill timing and variant:
``KERNELS``, ``kernel_for``) walks the accounts (columns, or groups of columns that
share cash) and, for each, the bars in order. Per bar it does what ``solvent.backtest``
does with the twin strategies of ``solvent.fast.twin``:

1. dividends going ex on the bar are paid (or charged to shorts);
2. the broker processes the bar (``_broker.on_bar_nb``: marks at the open, exits
   first, entries, marks at the close);
3. equity (NLV, exact minor units) is recorded, and the first bar at which the margin
   monitor would file the account into a margin call;
4. the rule decides, for each symbol with a bar, from the signals or the target
   weights of this bar, and places market orders that can fill from the next bar;
5. with ``fill_timing="same_bar_close"`` the orders just placed get one pass at this
   bar's close (``on_bar_nb`` again, as ``SimulatedBroker.fill_at_close``), and equity
   is recorded after it.

Where nothing can happen until the next signal (a long-only signal account of one
symbol, no working order, cash not negative), the bars up to it are recorded in one
pass instead (``_quiet.quiet_nb``): the same equity and state as these steps.

Outputs and working tables are preallocated by the caller (the loop allocates
nothing); the fill and refusal buffers count past their end so the caller can size
them exactly and run again if they were too small.

Constants and shared functions are imported by name, not read as module attributes
(``ly.Y_QTY``): each attribute read is one more operation for numba to type and lower,
hundreds of them in the loop (docs/fast.md, *Speed and compilation*).
"""

from __future__ import annotations

import types
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from solvent.accounting.rules import (
    BAND_MARGIN_CALL,
    margin_band,
    margin_requirement,
    notional_minor,
    per_unit_cash,
)
from solvent.fast._broker import close_order_nb, make_broker, nlv_nb
from solvent.fast._jit import kernel
from solvent.fast._layout import (
    A_CASH,
    A_INDEX,
    A_NEXT_ID,
    A_NOPEN,
    A_RESERVED,
    ACT_NONE,
    FALSE,
    FULL_PPM,
    I_IML,
    I_IMS,
    I_KDEN,
    I_KNUM,
    I_MML,
    I_MMS,
    I_SHORTABLE,
    MODE_TARGETS,
    N_GENERIC,
    N_OVERFLOW,
    N_UNSETTLED,
    NY,
    O_ALIVE,
    O_BAR,
    O_FILLED,
    O_K,
    O_LOTS,
    P_AT_RISK,
    P_CALL,
    P_CASH,
    P_HAS_EXITS,
    P_HAS_SHORT,
    P_KIND_CASH,
    P_LIQUIDATING,
    P_MODE,
    P_PCT_DEN,
    P_PCT_NUM,
    P_SAME_BAR,
    P_SIZE_KIND,
    SIZE_VALUE,
    TRUE,
    Y_CLOSE,
    Y_COL,
    Y_HIGH,
    Y_IML,
    Y_IMS,
    Y_KDEN,
    Y_KNUM,
    Y_LAST,
    Y_LOW,
    Y_MARK,
    Y_MML,
    Y_MMS,
    Y_OPEN,
    Y_PRESENT,
    Y_QTY,
    Y_SHORTABLE,
    Y_SIZE,
    Y_SLOT,
    Y_STALE,
    Y_VOL,
    ZERO,
)
from solvent.fast._quiet import quiet_nb
from solvent.fast._sizing import notional_nb
from solvent.fast._snap import lots_nb, ticks_nb
from solvent.fast._spec import (
    GENERIC_SPEC,
    LEAN_SPEC,
    LONG_CASH_SPEC,
    LONG_MARGIN_SPEC,
    LONG_SPEC,
    BrokerSpec,
    spec_for,
    spec_tag,
)
from solvent.fast.decide import already_heading, orders_for, resolve_action, target_lots

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: ``NLV x weight x k_den`` at or above this would overflow ``decide.target_lots``.
_INT64_SAFE = 4.0e18


#: Long-only signal kernels record an account's quiet stretches in one pass
#: (``_quiet``; docs/fast.md, *Speed and compilation*). ``False`` leaves that code out
#: of every kernel: about 0.4 s less CPU in a cold first call, about 2 ms more in the
#: loop on 100 symbols x 2,520 days.
QUIET_STRETCHES = True

#: The broker specs a kernel is compiled with, per (``from_targets``, same-bar fills)
#: (``variant_for``): signals without short signals are long only, and with next-bar
#: fills (the default run) take the account kind as a constant too; target weights may
#: be negative. Each has a generic kernel. A handful of kernels, not one per
#: combination: each is a few seconds to compile, in every fresh test run too.
SPECS = {
    (False, False): (LONG_MARGIN_SPEC, LONG_CASH_SPEC, GENERIC_SPEC),
    (False, True): (LONG_SPEC, GENERIC_SPEC),
    (True, False): (LEAN_SPEC, GENERIC_SPEC),
    (True, True): (LEAN_SPEC, GENERIC_SPEC),
}
#: The broker steps compiled per spec (each compiled on first use, by the kernel using it).
BROKERS = {spec: make_broker(spec) for spec in dict.fromkeys(s for specs in SPECS.values() for s in specs)}
# The default run's broker steps; each kernel's globals name its own (``_make_run_nb``).
place_nb, on_bar_nb, affordable_nb = BROKERS[LONG_MARGIN_SPEC]


def _make_run_nb(targets_mode: bool, same_bar_pass: bool, spec: BrokerSpec) -> Callable[..., None]:
    """Return the kernel for one entry point, fill timing and variant (see ``KERNELS``).

    ``targets_mode`` and ``same_bar_pass`` are constants of the compiled code (numba
    reads a closure's variables as constants and drops the branches they rule out
    before typing), so a kernel compiles only the rule and the passes its runs use.
    ``spec`` (``_spec.BrokerSpec``) says which settings are constants too: the kernel
    calls the broker steps compiled for it, and reads the account kind as they do. Only
    the generic spec's kernel has the code of short signals and dividends. The code is
    the same source for all kernels; ``tests/test_fast_kernels.py`` runs each against
    the event engine (docs/fast.md, *Speed and compilation*).
    """
    broker = BROKERS[spec]
    generic = spec == GENERIC_SPEC
    s_cash = spec.cash
    # A long-only cash account holds no short, and its cash does not go below zero
    # (each buy is checked against it; fees on value are below 100% of a sale): it is
    # never in a margin call, so its kernel leaves the margin monitor out. Should its
    # cash go negative after all, the run is made again with the generic kernel.
    no_call = spec.cash == 1 and spec.shorts == 0
    # Long-only signal kernels record the bars on which nothing can happen in one pass
    # (``_quiet``: no short, so no margin call while cash >= 0; no dividends).
    skip_quiet = QUIET_STRETCHES and not targets_mode and spec.shorts == 0

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
        ys: I64,
        od: I64,
        olist: I64,
        todo: I64,
        leg: I64,
        acc: I64,
    ) -> None:
        """Run every account over every bar; see the module docstring.

        Bars are the panel's own ``(T, N)`` arrays over data columns (open, high, low,
        close, volume and ``present``), passed as read-only views, not transposed copies:
        a copy of the close cost more (allocation, page faults of fresh memory, the
        transposition) than reading a column with a stride saves in the loop. Prices are
        converted to ticks of ``tick`` when read, volume to lots of ``lot``. Signals ``le, lx, se, sx``
        and ``weights`` are ``(M, T)`` over input columns; the slots of account ``a``
        are ``acct_slots[acct_start[a]:acct_start[a+1]]``; input column ``m`` trades data
        column ``slot_col[m]``, whose instrument is ``inst`` (``_layout.I_*``). ``equity``
        is ``(A, T)``. ``ys``, ``od``, ``olist``, ``todo``, ``leg`` and ``acc`` are working
        tables (``_layout``), sized for the largest account.
        """
        n_bars = op.shape[0]
        n_acct = acct_start.shape[0] - 1
        targets = targets_mode  # constants of the compiled code (``_make_run_nb``)
        has_exits = prm[P_HAS_EXITS] != 0
        has_short = generic and prm[P_HAS_SHORT] != 0
        cash_account = prm[P_KIND_CASH] != 0 if s_cash < 0 else s_cash > 0
        size_value = prm[P_SIZE_KIND] == SIZE_VALUE
        same_bar = same_bar_pass
        for a in range(n_acct):
            s0 = acct_start[a]
            na = acct_start[a + 1] - s0
            for k in range(na):
                m = acct_slots[s0 + k]
                j = slot_col[m]
                for f in range(NY):
                    ys[k, f] = 0
                ys[k, Y_COL] = j
                ys[k, Y_SLOT] = m
                ys[k, Y_KNUM] = inst[j, I_KNUM]
                ys[k, Y_KDEN] = inst[j, I_KDEN]
                ys[k, Y_IML] = inst[j, I_IML]
                ys[k, Y_IMS] = inst[j, I_IMS]
                ys[k, Y_SHORTABLE] = inst[j, I_SHORTABLE]
                ys[k, Y_SIZE] = size_lots[j]
                ys[k, Y_MML] = inst[j, I_MML]
                ys[k, Y_MMS] = inst[j, I_MMS]
            for r in range(od.shape[0]):
                od[r, O_ALIVE] = 0
            acc[A_CASH] = prm[P_CASH]
            acc[A_RESERVED] = 0
            acc[A_NEXT_ID] = 1
            acc[A_NOPEN] = 0
            acc[A_INDEX] = a
            first_call[a] = -1
            ev = 0
            resume = 0  # the first bar not recorded yet by a quiet stretch
            for t in range(n_bars):
                if t < resume:
                    # A canonical counted loop: jumping ``t`` in a ``while`` loop made the
                    # kernel's compilation about 1 s longer.
                    continue
                while generic and ev < dividends.shape[0] and dividends[ev, 0] == t:
                    # Dividends going ex on this bar are paid before it trades (backtest step 1).
                    for k in range(na):
                        q = ys[k, Y_QTY]
                        if ys[k, Y_COL] == dividends[ev, 1] and q != 0:
                            acc[A_CASH] += per_unit_cash(q, dividends[ev, 2], dividends[ev, 3])
                    ev += 1
                ran = acc[A_NOPEN] > 0
                if skip_quiet and na == 1 and not ran and acc[A_CASH] >= 0:
                    # A quiet stretch (``_quiet``): recorded up to the next signal.
                    u = quiet_nb(a, t, acc, ys, le, lx, has_exits, present, op, hi, lo, cl, vo, tick, equity)
                    if u < 0:
                        cnt[N_UNSETTLED] = 1
                        return
                    if u > t:
                        resume = u
                        continue
                if ran:
                    for k in range(na):
                        j = ys[k, Y_COL]
                        if present[t, j]:
                            o = ticks_nb(op[t, j], tick[j])
                            h = ticks_nb(hi[t, j], tick[j])
                            lw = ticks_nb(lo[t, j], tick[j])
                            c = ticks_nb(cl[t, j], tick[j])
                            if o < 0 or h < 0 or lw < 0 or c < 0:
                                cnt[N_UNSETTLED] = 1
                                return
                            ys[k, Y_PRESENT] = 1
                            ys[k, Y_STALE] = 0
                            ys[k, Y_OPEN] = o
                            ys[k, Y_HIGH] = h
                            ys[k, Y_LOW] = lw
                            ys[k, Y_CLOSE] = c
                            ys[k, Y_VOL] = lots_nb(vo[t, j], lot[j])
                        else:
                            ys[k, Y_PRESENT] = 0
                    on_bar_nb(t, FALSE, TRUE, prm, acc, ys, na, od, olist, todo, leg, cm, fb, rb, cnt)
                nlv = acc[A_CASH]
                gross = 0
                mm = 0
                shorts = False
                for k in range(na):
                    if not ran:
                        # No working order: the bar only moves the marks (the open's mark
                        # would be replaced by the close's before anyone reads it). A flat
                        # symbol's close is read only if something needs it (a decision
                        # below), so a quiet bar costs almost nothing. One pass over the
                        # symbols does this and the NLV below.
                        j = ys[k, Y_COL]
                        if not present[t, j]:
                            ys[k, Y_PRESENT] = 0
                        elif ys[k, Y_QTY] == 0:
                            ys[k, Y_PRESENT] = 1
                            ys[k, Y_STALE] = 1
                            continue
                        else:
                            c = ticks_nb(cl[t, j], tick[j])
                            if c < 0:
                                cnt[N_UNSETTLED] = 1
                                return
                            ys[k, Y_PRESENT] = 1
                            ys[k, Y_STALE] = 0
                            ys[k, Y_MARK] = c
                            ys[k, Y_LAST] = c
                    q = ys[k, Y_QTY]
                    if q != 0:
                        kden = ys[k, Y_KDEN]
                        if kden == 1:
                            # Cent ticks and whole shares: the same rule with a constant
                            # divisor, which compiles to no division. An integer division is
                            # most of what a quiet bar of a held symbol costs.
                            mv = notional_minor(ys[k, Y_MARK], q, ys[k, Y_KNUM], 1)
                        else:
                            mv = notional_minor(ys[k, Y_MARK], q, ys[k, Y_KNUM], kden)
                        nlv += mv
                        gross += abs(mv)
                        shorts = shorts or q < 0
                equity[a, t] = nlv
                # The margin monitor's band (``Account.margin_figures``, ``rules.margin_band``):
                # from a margin call on, the event engine goes reduce-only and liquidates,
                # which this loop does not (docs/fast.md), so the first such bar is reported.
                # Without shorts and with cash >= 0, NLV covers gross exposure: no call.
                if first_call[a] < 0 and gross > 0 and (shorts or acc[A_CASH] < 0):
                    if no_call:  # a constant; see ``_make_run_nb``
                        cnt[N_GENERIC] = 1
                        return
                    for k in range(na):
                        q = ys[k, Y_QTY]
                        if q != 0:
                            mv = notional_minor(ys[k, Y_MARK], q, ys[k, Y_KNUM], ys[k, Y_KDEN])
                            if cash_account:  # a cash account's "margin" is the whole value
                                mm += abs(mv)
                            else:
                                mm += margin_requirement(abs(mv), ys[k, Y_MML] if q > 0 else ys[k, Y_MMS])
                    at_risk, call, liquidating = prm[P_AT_RISK], prm[P_CALL], prm[P_LIQUIDATING]
                    if margin_band(nlv, gross, mm, at_risk, call, liquidating) >= BAND_MARGIN_CALL:
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
                            if ys[k, Y_PRESENT] and ys[k, Y_STALE]:
                                c = ticks_nb(cl[t, ys[k, Y_COL]], tick[ys[k, Y_COL]])
                                if c < 0:
                                    cnt[N_UNSETTLED] = 1
                                    return
                                ys[k, Y_STALE] = 0
                                ys[k, Y_MARK] = c
                                ys[k, Y_LAST] = c
                        for k in range(na):
                            if ys[k, Y_PRESENT]:
                                i = 0
                                while i < acc[A_NOPEN]:
                                    r = olist[i]
                                    if od[r, O_K] == k:
                                        close_order_nb(r, acc, od, olist)
                                    else:
                                        i += 1
                        for phase in range(2):
                            for k in range(na):
                                if ys[k, Y_PRESENT] == 0:
                                    continue
                                pos = ys[k, Y_QTY]
                                weight = weights[ys[k, Y_SLOT], t]
                                last = ys[k, Y_LAST]
                                kden = ys[k, Y_KDEN]
                                if abs(float(nlv)) * abs(float(weight)) * float(kden) >= _INT64_SAFE:
                                    cnt[N_OVERFLOW] = t + 1  # NLV x weight too large for int64
                                    return
                                target = target_lots(nlv, weight, last, ys[k, Y_KNUM], kden)
                                delta = target - pos
                                if delta == 0:
                                    continue
                                reducing = pos != 0 and (delta > 0) != (pos > 0)
                                if reducing == (phase == 0):
                                    place_nb(
                                        t, k, delta, ZERO, FALSE, prm, acc, ys, na, od, olist, cm, rb, cnt
                                    )
                else:
                    for k in range(na):
                        if ys[k, Y_PRESENT] == 0:
                            continue
                        m = ys[k, Y_SLOT]
                        action = resolve_action(
                            le[m, t], has_exits and lx[m, t], has_short and se[m, t], has_short and sx[m, t]
                        )
                        if action == ACT_NONE:
                            continue
                        if ys[k, Y_STALE]:  # the decision needs this bar's close
                            c = ticks_nb(cl[t, ys[k, Y_COL]], tick[ys[k, Y_COL]])
                            if c < 0:
                                cnt[N_UNSETTLED] = 1
                                return
                            ys[k, Y_STALE] = 0
                            ys[k, Y_MARK] = c
                            ys[k, Y_LAST] = c
                        # ``SignalStrategy.on_bar``: nothing to do when the position plus what its
                        # working orders will still fill already heads where the action asks.
                        pos = ys[k, Y_QTY]
                        heading = pos
                        for i in range(acc[A_NOPEN]):
                            r = olist[i]
                            if od[r, O_K] == k:
                                heading += od[r, O_LOTS] - od[r, O_FILLED]
                        if already_heading(action, heading):
                            continue
                        # Otherwise the symbol's working orders are cancelled and the action is
                        # taken from the position as filled.
                        i = 0
                        while i < acc[A_NOPEN]:
                            r = olist[i]
                            if od[r, O_K] == k:
                                close_order_nb(r, acc, od, olist)
                            else:
                                i += 1
                        close, side = orders_for(action, pos)
                        if close:  # ``ctx.close_position``: intent CLOSE
                            place_nb(t, k, -pos, ZERO, TRUE, prm, acc, ys, na, od, olist, cm, rb, cnt)
                        if side == 0:
                            continue
                        lots = side * ys[k, Y_SIZE]  # ``ctx.order``
                        budget = ZERO
                        if size_value:
                            # ``ctx.order_value``: the budget is the cash the account would hold
                            # after closing this position at the last close, times the size
                            # fraction; the order is placed at an estimate of what it buys.
                            last = ys[k, Y_LAST]
                            budget = acc[A_CASH] + notional_nb(last, pos, ys[k, Y_KNUM], ys[k, Y_KDEN])
                            budget = budget * prm[P_PCT_NUM] // prm[P_PCT_DEN]
                            if budget <= 0:
                                continue
                            # ``submit_value``'s estimate: what the budget buys at the last close.
                            upper = budget * ys[k, Y_KDEN] // (last * ys[k, Y_KNUM]) + 1
                            full = FULL_PPM
                            est = affordable_nb(upper, budget, cm, ys, k, last, ZERO, ZERO, ZERO, full, full)
                            lots = side * (est if est > 1 else 1)
                        place_nb(t, k, lots, budget, FALSE, prm, acc, ys, na, od, olist, cm, rb, cnt)
                if same_bar:
                    # ``fill_at_close``: the orders placed at this bar get one pass at its close
                    # (look-ahead), against the bar seen from its close with the volume the
                    # first pass left (all of it if no order worked at the open).
                    placed = False
                    for i in range(acc[A_NOPEN]):
                        placed = placed or od[olist[i], O_BAR] == t
                    if placed:
                        for k in range(na):
                            if ys[k, Y_PRESENT] and ys[k, Y_STALE] == 0:
                                c = ys[k, Y_LAST]
                                ys[k, Y_OPEN] = c
                                ys[k, Y_HIGH] = c
                                ys[k, Y_LOW] = c
                                ys[k, Y_CLOSE] = c
                                if not ran:
                                    j = ys[k, Y_COL]
                                    ys[k, Y_VOL] = lots_nb(vo[t, j], lot[j])
                        on_bar_nb(t, TRUE, not ran, prm, acc, ys, na, od, olist, todo, leg, cm, fb, rb, cnt)
                        equity[a, t] = nlv_nb(acc, ys, na)
            final_cash[a] = acc[A_CASH]
            for k in range(na):
                final_qty[ys[k, Y_SLOT]] = ys[k, Y_QTY]

    # ``on_bar_nb``, ``place_nb`` and ``affordable_nb`` are looked up in the kernel's
    # globals: this kernel's are the module's with the broker compiled for ``spec`` (a
    # dispatcher in the closure would not do, numba's cache key pickles the closure).
    scope = {**run_nb.__globals__, **broker._asdict()}
    fn = types.FunctionType(run_nb.__code__, scope, run_nb.__name__, run_nb.__defaults__, run_nb.__closure__)
    # A qualified name per kernel: numba names compiled code after it (``_spec.internal_for``).
    rule = "targets" if targets_mode else "signals"
    timing = "same_bar" if same_bar_pass else "next_bar"
    fn.__qualname__ = f"{run_nb.__qualname__}_{rule}_{timing}_{spec_tag(spec)}"
    fn.__doc__ = run_nb.__doc__
    return kernel(fn)


#: The loop compiled per (entry point is ``from_targets``, ``fill_timing`` is
#: ``"same_bar_close"``, broker spec), each on first use and cached on disk like any
#: kernel: a run compiles only the kernel it needs. The lean specs of ``SPECS`` serve
#: runs with the default broker settings, the generic one every other run
#: (``variant_for``; docs/fast.md, *Speed and compilation*).
KERNELS = {(t, s, spec): _make_run_nb(t, s, spec) for (t, s), specs in SPECS.items() for spec in specs}
#: The kernel of the default run (``from_signals``, next-bar fills, default settings).
run_nb = KERNELS[False, False, LONG_MARGIN_SPEC]


def variant_for(prm: I64, cm: I64, dividends: I64) -> tuple[bool, bool, BrokerSpec]:
    """Return the ``KERNELS`` key of the run described by its parameters, commission and dividends.

    The lean variants (``_spec.spec_for``: a margin or a cash account, long only for
    signals) serve runs with the default broker settings, no slippage, fees on value
    only, no short signals and no dividends; any other run gets the generic one.
    """
    targets = bool(prm[P_MODE] == MODE_TARGETS)
    same_bar = bool(prm[P_SAME_BAR] != 0)
    spec = spec_for(prm, cm)
    if spec == GENERIC_SPEC or prm[P_HAS_SHORT] != 0 or dividends.shape[0] != 0:
        spec = GENERIC_SPEC
    elif targets:
        spec = LEAN_SPEC
    elif same_bar:
        spec = LONG_SPEC
    else:
        spec = LONG_CASH_SPEC if prm[P_KIND_CASH] else LONG_MARGIN_SPEC
    return targets, same_bar, spec


def kernel_for(prm: I64, cm: I64, dividends: I64) -> Callable[..., None]:
    """Return the kernel for the run described by its parameters, commission and dividends."""
    return KERNELS[variant_for(prm, cm, dividends)]


def generic_kernel(prm: I64) -> Callable[..., None]:
    """Return the generic kernel of the run's entry point and fill timing."""
    return KERNELS[bool(prm[P_MODE] == MODE_TARGETS), bool(prm[P_SAME_BAR] != 0), GENERIC_SPEC]
