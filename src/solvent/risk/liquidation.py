"""Liquidation policies: which positions to sell, in which order, and how much.

A plan is computed at the prices the margin check used and stops as soon as the
account is back out of the margin call (NLV at or above maintenance margin and the
ratio at or above the margin-call threshold: ``rules.margin_cured``), counting the
estimated commission of each sale. Selling part of a position does not change NLV
(apart from costs); it lowers gross exposure and maintenance margin, which is what
cures the call. A halted account (NLV <= 0) cannot be cured by selling, so everything
is sold.

Policies
--------
``smallest_first_then_losers`` (default)
    Close whole positions, smallest market value first, as long as the account still
    needs all of the next one (closing it whole does not overshoot the cure). The rest
    is taken from the largest losers first (most negative unrealized P&L), only as
    much as needed.
``largest_losers_first``
    Sell the largest losers first (most negative unrealized P&L; winners last), only as
    much of each as needed.

Ties are broken by larger market value first, then by symbol, so plans are
deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from solvent.accounting import rules
from solvent.errors import InvalidInputError


class LiquidationPolicy(StrEnum):
    """The order in which a liquidation sells positions."""

    SMALLEST_FIRST_THEN_LOSERS = "smallest_first_then_losers"
    LARGEST_LOSERS_FIRST = "largest_losers_first"


def resolve_policy(value: LiquidationPolicy | str) -> LiquidationPolicy:
    """Return the policy named by ``value``; an unknown name raises ``InvalidInputError``."""
    try:
        return LiquidationPolicy(value)
    except ValueError:
        names = ", ".join(p.value for p in LiquidationPolicy)
        raise InvalidInputError("liquidation", value, f"unknown policy; use one of {names}") from None


@dataclass(frozen=True, slots=True)
class Holding:
    """One open position as the liquidation sees it (integers, minor units and ticks).

    ``mm_fixed`` is a fixed maintenance margin per lot as ``(num, den)`` minor units
    (futures); otherwise ``mm_rate_ppm`` of the absolute value applies (100% in a cash
    account). ``unrealized`` is the P&L at ``price``.
    """

    symbol: str
    lots: int
    price: int
    k_num: int
    k_den: int
    mm_rate_ppm: int
    unrealized: int
    mm_fixed: tuple[int, int] | None = None

    def value(self, abs_lots: int) -> int:
        """Return the absolute market value of ``abs_lots`` lots at ``price``."""
        return abs(rules.notional_minor(self.price, abs_lots, self.k_num, self.k_den))

    def maintenance(self, abs_lots: int) -> int:
        """Return the maintenance margin on ``abs_lots`` lots at ``price``."""
        if abs_lots == 0:
            return 0
        if self.mm_fixed is not None:
            return rules.fixed_margin_requirement(abs_lots, *self.mm_fixed)
        return rules.margin_requirement(self.value(abs_lots), self.mm_rate_ppm)


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """Sell (or buy back) ``lots`` of ``symbol``: a signed quantity that reduces it."""

    symbol: str
    lots: int


#: Estimated commission of closing ``n`` lots of a holding (minor units).
CommissionEstimate = Callable[[Holding, int], int]


def _no_commission(h: Holding, n: int) -> int:
    return 0


def _loser_key(h: Holding) -> tuple[int, int, str]:
    return (h.unrealized, -h.value(abs(h.lots)), h.symbol)


def _smallest_key(h: Holding) -> tuple[int, int, str]:
    return (h.value(abs(h.lots)), h.unrealized, h.symbol)


class _Book:
    """The account's figures while a plan is being built (minor units)."""

    __slots__ = ("call_ppm", "commission", "gross", "mm", "nlv")

    def __init__(self, nlv: int, gross: int, mm: int, call_ppm: int, commission: CommissionEstimate) -> None:
        self.nlv, self.gross, self.mm, self.call_ppm = nlv, gross, mm, call_ppm
        self.commission = commission

    def after(self, h: Holding, n: int) -> tuple[int, int, int]:
        """Return ``(nlv, gross, mm)`` after closing ``n`` lots of ``h``."""
        q = abs(h.lots)
        return (
            self.nlv - self.commission(h, n),
            self.gross - h.value(q) + h.value(q - n),
            self.mm - h.maintenance(q) + h.maintenance(q - n),
        )

    def cured(self, h: Holding, n: int) -> bool:
        return rules.margin_cured(*self.after(h, n), self.call_ppm)

    def least_to_cure(self, h: Holding) -> int | None:
        """Return the fewest lots of ``h`` whose sale cures the account, if any does."""
        q = abs(h.lots)
        if not self.cured(h, q):
            return None
        lo, hi = 0, q  # not cured at lo (the caller checked), cured at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.cured(h, mid):
                hi = mid
            else:
                lo = mid
        return hi

    def take(self, h: Holding, n: int, steps: list[LiquidationStep]) -> None:
        self.nlv, self.gross, self.mm = self.after(h, n)
        steps.append(LiquidationStep(h.symbol, -n if h.lots > 0 else n))


def plan_liquidation(
    holdings: Iterable[Holding],
    nlv: int,
    gross_exposure: int,
    maintenance: int,
    *,
    policy: LiquidationPolicy,
    call_ppm: int,
    close_all: bool = False,
    commission: CommissionEstimate = _no_commission,
) -> tuple[LiquidationStep, ...]:
    """Return the sales that bring the account back out of its margin call, in order.

    Parameters
    ----------
    holdings
        The open positions at the check's prices.
    nlv, gross_exposure, maintenance
        The account's figures at the same prices (minor units).
    policy
        The order of sales (module docstring).
    call_ppm
        The margin-call threshold the account must get back to.
    close_all
        Sell everything in the policy's order (a halted account).
    commission
        Estimated commission of each sale, counted against NLV.

    Returns
    -------
    tuple of LiquidationStep
        Empty when the account is not in a call; every position whole (in order) when
        even that does not cure it.
    """
    held = [h for h in holdings if h.lots != 0]
    book = _Book(nlv, gross_exposure, maintenance, call_ppm, commission)
    steps: list[LiquidationStep] = []
    if close_all:
        key = _smallest_key if policy is LiquidationPolicy.SMALLEST_FIRST_THEN_LOSERS else _loser_key
        for h in sorted(held, key=key):
            book.take(h, abs(h.lots), steps)
        return tuple(steps)
    if rules.margin_cured(nlv, gross_exposure, maintenance, call_ppm):
        return ()
    rest = sorted(held, key=_loser_key)
    if policy is LiquidationPolicy.SMALLEST_FIRST_THEN_LOSERS:
        for h in sorted(held, key=_smallest_key):
            need = book.least_to_cure(h)
            if need is not None and need < abs(h.lots):
                break  # closing it whole would overshoot: the losers phase takes over
            book.take(h, abs(h.lots), steps)
            rest.remove(h)
            if need is not None:  # closing it whole is exactly what cures the account
                return tuple(steps)
    for h in rest:
        need = book.least_to_cure(h)
        if need is None:
            book.take(h, abs(h.lots), steps)
            continue
        book.take(h, need, steps)
        return tuple(steps)
    return tuple(steps)
