"""The gatekeeper's checks, as small functions the broker calls at placement and at fill.

One verdict taxonomy (``ReasonCode``) for backtest, paper and live. The broker owns
the state; these functions only decide.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from solvent.accounting import rules
from solvent.model.instrument import Instrument
from solvent.model.orders import Intent
from solvent.model.records import ALLOWED, ReasonCode, Verdict


class Validation(StrEnum):
    """What the gatekeeper does with an order the account cannot afford."""

    REJECT = "reject"  # refuse it with a reason; the run goes on (default)
    WARN = "warn"  # let it through and record a warning
    STRICT = "strict"  # raise InsufficientFundsError
    OFF = "off"  # no affordability checks at all; results say so


def check_intent(intent: Intent | None, position_lots: int, order_lots: int) -> Verdict:
    """Refuse an order whose declared intent does not match the position."""
    if intent is None:
        return ALLOWED
    p, q = position_lots, order_lots
    opposite = p != 0 and (p > 0) != (q > 0)
    ok = {
        Intent.OPEN: p == 0,
        Intent.INCREASE: p != 0 and not opposite,
        Intent.REDUCE: opposite and abs(q) <= abs(p),
        Intent.CLOSE: q == -p and p != 0,
        Intent.REVERSE: opposite and abs(q) > abs(p),
    }[intent]
    if ok:
        return ALLOWED
    return Verdict(
        False,
        ReasonCode.INTENT_MISMATCH,
        f"intent {intent.value} does not match a position of {p} lots and an order of {q} lots",
    )


def check_short(inst: Instrument, cash_account: bool, opening_lots: int) -> Verdict:
    """Refuse opening a short in a cash account or in an instrument that cannot be shorted."""
    if opening_lots >= 0:
        return ALLOWED
    if cash_account:
        return Verdict(False, ReasonCode.SHORTING_NOT_ALLOWED, "cash accounts cannot sell short")
    if not inst.shortable:
        return Verdict(False, ReasonCode.NOT_SHORTABLE, f"{inst.symbol} is not shortable")
    return ALLOWED


def affordable_lots(max_lots: int, available: int, cost: Callable[[int], int], *, over: bool = False) -> int:
    """Return the largest ``n <= max_lots`` with ``cost(n) <= available`` (0 if none).

    ``cost`` must be non-decreasing in ``n`` (notional plus commission is), so the
    answer is unique. The search gallops down from ``max_lots`` (an all-in order is
    usually a few lots short of it: the commission) and then bisects, O(log n) even
    with per-order minimum commissions. ``over=True``: the caller already found
    ``cost(max_lots) > available`` (it is not asked again).
    """
    if max_lots <= 0 or available <= 0:
        return 0
    if not over and cost(max_lots) <= available:
        return max_lots
    hi, step = max_lots, 1  # cost(hi) > available
    while True:
        lo = hi - step
        if lo <= 0:
            lo = 0
            break
        if cost(lo) <= available:
            break
        hi, step = lo, step * 2
    # cost(lo) <= available < cost(hi), taking cost(0) as affordable
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cost(mid) <= available:
            lo = mid
        else:
            hi = mid
    return lo


def bp_cost(notional: int, commission: int, rate_ppm: int, base_rate_ppm: int) -> int:
    """Return the buying power an opening leg needs (see ``rules.opening_bp_cost``)."""
    return rules.opening_bp_cost(abs(notional), commission, rate_ppm, base_rate_ppm)
