"""Quiet bars of a one-symbol signal account: recorded in one pass up to the next signal.

Most of a signal run's cells are quiet: the account has no working order and the bar
brings no signal, so the bar only moves the mark of the position, and the equity
recorded is the cash plus the position at the close. ``quiet_nb`` finds where such a
stretch ends and records it in one pass, instead of the loop's full step (the broker,
the margin monitor, the rule) on each bar.

The stretch stops at the next bar with a signal (whether or not it turns into an
order: the rule decides that, on that bar). The loop takes it only where nothing else
can happen on a quiet bar: long-only kernels (no short, hence no margin call while the
cash is not negative, which the loop checks; ``_loop._make_run_nb``) without dividends
(only the generic kernel pays them), for accounts of one symbol (the usual signal run:
a column per account). Everything else takes the loop's step on every bar.

Memory: the loop walks a symbol's bars down a column of the panel's ``(T, N)`` arrays,
one cache line per bar. The closes a held position's marks read are prefetched
``AHEAD`` bars early, and the lines the bar ending the stretch reads (its close, and
the next bar's prices, where an order it places fills) while the stretch is recorded:
on 100 symbols x 2,520 days, waiting for them was about a third of the loop's time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from solvent.fast._intrinsics import bytes8_nb, prefetch_nb
from solvent.fast._jit import internal
from solvent.fast._layout import A_CASH, Y_COL, Y_KDEN, Y_KNUM, Y_LAST, Y_MARK, Y_QTY, Y_SLOT, Y_STALE
from solvent.fast._sizing import notional_nb
from solvent.fast._snap import ticks_nb

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: How many bars ahead a held position's closes are prefetched.
AHEAD = 16


@internal
def quiet_nb(
    a: int,
    t: int,
    acc: I64,
    ys: I64,
    le: B,
    lx: B,
    has_exits: bool,
    present: B,
    op: F64,
    hi: F64,
    lo: F64,
    cl: F64,
    vo: F64,
    tick: F64,
    equity: I64,
) -> int:
    """Record bars ``t .. u - 1`` of account ``a`` (one symbol, long or flat, no working order).

    ``u`` is the next bar with a signal, or the end; ``u == t`` when bar ``t`` has one
    (nothing is recorded). A position is marked at each close its symbol has and keeps
    its last mark and close, as the loop's own pass over these bars would leave them;
    the equity is the cash plus the position at its mark. Whether the symbol has a bar
    is not kept: bar ``u``'s pass sets it before anything reads it. Returns ``u``, or
    ``-1`` when a close must be converted exactly (``ticks_nb``), as the loop does.
    """
    end = le.shape[1]
    m = ys[0, Y_SLOT]
    j = ys[0, Y_COL]
    u = t
    while u + 8 <= end:  # eight bars at a time while none of them has a signal
        w = bytes8_nb(le, m, u)
        if has_exits:
            w |= bytes8_nb(lx, m, u)
        if w != 0:
            break
        u += 8
    while u < end and not (le[m, u] or (has_exits and lx[m, u])):
        u += 1
    if u == t:
        return t
    if u + 1 < end:
        prefetch_nb(present, u, j)
        prefetch_nb(cl, u, j)
        prefetch_nb(present, u + 1, j)
        prefetch_nb(op, u + 1, j)
        prefetch_nb(hi, u + 1, j)
        prefetch_nb(lo, u + 1, j)
        prefetch_nb(cl, u + 1, j)
        prefetch_nb(vo, u + 1, j)
    cash = acc[A_CASH]
    q = ys[0, Y_QTY]
    mark = ys[0, Y_MARK]
    seen = False
    for v in range(t, u):
        if q != 0:
            prefetch_nb(cl, v + AHEAD, j)  # a hint: a row past the end is never read
            if present[v, j]:
                c = ticks_nb(cl[v, j], tick[j])
                if c < 0:
                    return -1
                mark = c
                seen = True
            equity[a, v] = cash + notional_nb(mark, q, ys[0, Y_KNUM], ys[0, Y_KDEN])
        else:
            equity[a, v] = cash
    if seen:
        ys[0, Y_STALE] = 0
        ys[0, Y_MARK] = mark
        ys[0, Y_LAST] = mark
    return u
