"""The fast path's decision rules, as pure functions both engines call.

The compiled loop (``_loop.run_nb``) and the event-driven twins (``twin.SignalStrategy``,
``twin.TargetStrategy``) decide with these same functions: compiled with numba in the
loop (``_jit.register``), plain Python in the twins. Codes are the ``ACT_*`` values
of ``_layout``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from solvent.errors import InvalidInputError
from solvent.fast import _layout as ly

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]

#: Target weights are integers in parts per million of NLV.
WEIGHT_SCALE = 1_000_000


def resolve_action(le: bool, lx: bool, se: bool, sx: bool) -> int:
    """Resolve one bar's four signals of a symbol into one action (``ACT_*``).

    An entry and an exit of the same side cancel each other, as do a long and a short
    entry; an entry wins over the other side's exit; both exits together exit either.
    """
    if le and lx:
        le = False
        lx = False
    if se and sx:
        se = False
        sx = False
    if le and se:
        le = False
        se = False
    if le:
        return ly.ACT_LONG
    if se:
        return ly.ACT_SHORT
    if lx and sx:
        return ly.ACT_EXIT_ANY
    if lx:
        return ly.ACT_EXIT_LONG
    if sx:
        return ly.ACT_EXIT_SHORT
    return ly.ACT_NONE


def already_heading(action: int, heading: int) -> bool:
    """Return whether position plus pending orders (``heading``) already go where asked."""
    if action == ly.ACT_LONG:
        return heading > 0
    if action == ly.ACT_SHORT:
        return heading < 0
    if action == ly.ACT_EXIT_LONG:
        return heading <= 0
    if action == ly.ACT_EXIT_SHORT:
        return heading >= 0
    return heading == 0  # ACT_EXIT_ANY


def orders_for(action: int, pos: int) -> tuple[bool, int]:
    """Return ``(close the position first, entry side +1/-1 or 0)`` for an action.

    A long entry closes a short and enters long unless already long; a short entry
    likewise; an exit closes a position of its side (``ACT_EXIT_ANY``: any side).
    """
    if action == ly.ACT_LONG:
        return pos < 0, (1 if pos <= 0 else 0)
    if action == ly.ACT_SHORT:
        return pos > 0, (-1 if pos >= 0 else 0)
    if action == ly.ACT_EXIT_LONG:
        return pos > 0, 0
    if action == ly.ACT_EXIT_SHORT:
        return pos < 0, 0
    return pos != 0, 0


def target_lots(nlv: int, weight_ppm: int, last: int, knum: int, kden: int) -> int:
    """Return ``NLV × weight / (last × unit)`` in lots, truncated toward zero.

    ``order_target_percent``'s quantity in integers: a lot at ``last`` ticks is worth
    ``last × knum / kden`` minor units.
    """
    num = nlv * weight_ppm * kden
    q = abs(num) // (WEIGHT_SCALE * last * knum)
    return q if num >= 0 else -q


def weights_ppm(weights: Any) -> I64:
    """Return weights as integers in parts per million (rounded half-even)."""
    w = np.asarray(weights, dtype=np.float64)
    return np.rint(w * WEIGHT_SCALE).astype(np.int64)


def rebalance_bars(w_ppm: I64, rebalance: str | Any = "change") -> B:
    """Return on which bars an account with weights ``(bars, symbols)`` rebalances.

    ``"change"``: the first bar if any weight is non-zero, then every bar whose row
    differs from the previous one; ``"always"``: every bar; or one boolean per bar.
    """
    t = w_ppm.shape[0]
    if isinstance(rebalance, str) and rebalance == "always":
        return np.ones(t, dtype=np.bool_)
    if isinstance(rebalance, str) and rebalance == "change":
        out = np.zeros(t, dtype=np.bool_)
        if t:
            out[0] = bool((w_ppm[0] != 0).any())
            out[1:] = (w_ppm[1:] != w_ppm[:-1]).any(axis=1)
        return out
    mask = rebalance.to_numpy() if hasattr(rebalance, "to_numpy") else np.asarray(rebalance)
    if mask.dtype != np.bool_ or mask.shape != (t,):
        raise InvalidInputError(
            "rebalance",
            getattr(mask, "shape", rebalance),
            f'must be "change", "always" or {t} booleans (one per bar)',
        )
    return np.asarray(mask)
