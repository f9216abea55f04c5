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

# Read once: each ``Enum.MEMBER`` lookup costs about a function call on Python 3.11.
_OPEN, _INCREASE, _REDUCE, _CLOSE = Intent.OPEN, Intent.INCREASE, Intent.REDUCE, Intent.CLOSE


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
    # A chain, not a table of every intent's test: ``close_position`` asks this per order.
    if intent is _CLOSE:
        ok = q == -p and p != 0
    elif intent is _REDUCE:
        ok = opposite and abs(q) <= abs(p)
    elif intent is _OPEN:
        ok = p == 0
    elif intent is _INCREASE:
        ok = p != 0 and not opposite
    else:  # Intent.REVERSE
        ok = opposite and abs(q) > abs(p)
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


def affordable_lots(
    max_lots: int,
    available: int,
    cost: Callable[[int], int],
    *,
    over: bool = False,
    hint: int | None = None,
) -> int:
    """Return the largest ``n <= max_lots`` with ``cost(n) <= available`` (0 if none).

    ``cost`` must be non-decreasing in ``n`` (notional plus commission is), so the
    answer is unique. The search gallops down from ``max_lots`` (an all-in order is
    usually a few lots short of it: the commission) and then bisects, O(log n) even
    with per-order minimum commissions. ``over=True``: the caller already found
    ``cost(max_lots) > available`` (it is not asked again). ``hint``: a guess of the
    answer (``value_hint``); two calls confirm it (``cost(hint)`` fits and
    ``cost(hint + 1)`` does not), else the search runs on the side the guess showed.
    The answer does not depend on the hint, only the number of calls does.
    """
    if max_lots <= 0 or available <= 0:
        return 0
    if hint is not None and 0 < hint < max_lots:
        if cost(hint) <= available:
            if cost(hint + 1) > available:
                return hint
            # The answer is above the hint: search (hint, max_lots] as usual.
        else:
            return affordable_lots(hint - 1, available, cost)
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


def value_hint(budget: int, upper: int, cost_upper: int) -> int:
    """Return a guess of the lots ``budget`` buys, from the cost of ``upper`` lots.

    Cost is nearly proportional to quantity (notional plus a share of it), so
    ``budget × upper / cost(upper)`` is the answer or one lot off it; the search
    (``affordable_lots(..., hint=)``) confirms or corrects it with the exact cost.
    """
    if cost_upper <= 0:
        return upper
    return budget * upper // cost_upper


def bp_cost(notional: int, commission: int, rate_ppm: int, base_rate_ppm: int) -> int:
    """Return the buying power an opening leg needs (see ``rules.opening_bp_cost``)."""
    return rules.opening_bp_cost(abs(notional), commission, rate_ppm, base_rate_ppm)


def fill_covered(need: int, own: int, free: int) -> bool:
    """Return whether an opening fill is funded, so the fill-time check may be skipped.

    Parameters
    ----------
    need
        The fill's exact cost in buying power (minor units), from the notional and the
        commission it is booked with: ``notional + commission`` at cash rates,
        ``rules.opening_bp_cost`` at margin rates. Those are the figures the full check
        prices the same lots with, except that booking floors the commission at zero,
        so ``need`` is never below the full check's cost.
    own
        What the order's reservation still holds (0 without one).
    free
        What the account has beyond *all* reservations, read now: buying power before
        reservations (or cash, with ``ShortCash.CREDIT``), less every reservation's
        remainder, plus what the same fill's closing part frees. May be negative.

    Returns
    -------
    bool
        ``need <= own + free``: exactly the full check's test (its ``available`` is
        ``own + free``), so when this holds the full check cannot refuse and sizes
        nothing down; when it fails the broker runs the full check, which cuts, defers,
        warns or raises.

    Notes
    -----
    ``need <= own`` alone (the reservation covers the fill) would not be enough:
    ``free`` can be negative at the fill. A partial fill at a price above the estimate
    spends more than the share of the reservation it releases; a fee, debit interest or
    a falling mark (margin accounts) lowers buying power after the reservation was
    made; a PDT downgrade switches a margin account to cash rates. Reading ``free``
    from the ledger at the fill covers all of these; other orders' fills at the same
    bar cannot consume this order's ``own``, which they see as reserved.
    """
    return need <= own + free
