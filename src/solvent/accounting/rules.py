"""The accounting rules, each written once as a small pure function over integers.

Every function here takes and returns plain ``int`` values (minor units of money,
price ticks, quantity lot steps, rates in parts per million) and uses only integer
arithmetic that numba compiles unchanged. The event-driven ledger calls them as plain
Python (unbounded integers); the compiled fast path compiles the very same functions
with ``numba.njit`` (64-bit integers), so no rule has a second copy.

Units
-----
* money: minor units of the account currency (cents for USD);
* price: ticks of the instrument (``price = ticks * tick_size``);
* quantity: lot steps of the instrument, signed (long > 0, short < 0);
* rates: parts per million (``RATE_SCALE``), so 50% is ``500_000``.

An instrument turns ``ticks * lots`` into minor units with the exact rational factor
``k_num / k_den = tick_size * lot_size * multiplier * 10**currency_digits``.
"""

from __future__ import annotations

#: Rates (margin, commission, borrow fees) are integers in parts per million.
RATE_SCALE = 1_000_000
#: Day count of annual rates (borrow fees, debit interest): brokers' ACT/360.
DAYS_PER_YEAR = 360


def div_round_half_even(n: int, d: int) -> int:
    """Return ``n / d`` rounded to the nearest integer, ties to even (``d > 0``).

    This is *the* rounding rule of the ledger: a fill's notional, a dividend, a fee and
    a pro-rata split are each rounded once with it. Ties to even do not drift in either
    direction over many fills.
    """
    q = n // d
    r = n - q * d  # 0 <= r < d because // floors
    twice = 2 * r
    if twice > d or (twice == d and q % 2 != 0):
        q += 1
    return q


def ceil_div(n: int, d: int) -> int:
    """Return ``n / d`` rounded up (``d > 0``); used for margin requirements."""
    return -((-n) // d)


def notional_minor(price_ticks: int, qty_lots: int, k_num: int, k_den: int) -> int:
    """Return the signed value of ``qty_lots`` at ``price_ticks`` in minor units.

    Positive for a long quantity (cash paid on a buy), negative for a short one.
    Rounded half-even once; exact whenever ``k_den`` is 1 (cent ticks, whole shares).
    """
    return div_round_half_even(price_ticks * qty_lots * k_num, k_den)


def fill_cash_delta(notional: int, commission: int) -> int:
    """Return the cash change of a fill leg: pay the signed notional, pay the commission."""
    return -notional - commission


def futures_cash_delta(realized: int, commission: int) -> int:
    """Return the cash change of a futures leg: only P&L and commission move cash.

    A future costs nothing to open (the margin is a requirement, not a payment); its
    P&L is unrealized while open and settles into cash when the position closes.
    """
    return realized - commission


def split_fill(position_lots: int, fill_lots: int) -> tuple[int, int]:
    """Split a signed fill into ``(closing, opening)`` legs against a signed position.

    A fill that crosses zero (long 100, sell 200) becomes a closing leg of -100 and an
    opening leg of -100. A fill in the position's direction is all opening; a fill that
    only reduces is all closing.
    """
    if position_lots == 0 or (position_lots > 0) == (fill_lots > 0):
        return 0, fill_lots
    if abs(fill_lots) <= abs(position_lots):
        return fill_lots, 0
    closing = -position_lots
    return closing, fill_lots - closing


def prorate(amount: int, part: int, whole: int) -> int:
    """Return ``amount * part / whole`` rounded half-even (``whole > 0``).

    Callers give the remainder (``amount - prorate(...)``) to the other share, so the
    shares always add up to ``amount`` exactly.
    """
    if part == whole:
        return amount
    if whole < 0:  # the rounding rule needs a positive divisor: a short's lots are negative
        part, whole = -part, -whole
    return div_round_half_even(amount * part, whole)


def realized_pnl(close_notional: int, allocated_basis: int) -> int:
    """Return the P&L of a closing leg.

    ``close_notional`` is the signed notional of the closing leg (negative when selling
    a long) and ``allocated_basis`` the signed basis of the closed quantity (positive
    for a long). Selling a long for 1,100 that cost 1,000: ``-(-1100) - 1000 = 100``.
    """
    return -close_notional - allocated_basis


def margin_requirement(abs_value: int, rate_ppm: int) -> int:
    """Return the margin on a position of absolute value ``abs_value``, rounded up."""
    return ceil_div(abs_value * rate_ppm, RATE_SCALE)


def fixed_margin_requirement(abs_lots: int, per_lot_num: int, per_lot_den: int) -> int:
    """Return a fixed per-contract margin (futures) for ``abs_lots``, rounded up."""
    return ceil_div(abs_lots * per_lot_num, per_lot_den)


def margin_excess(nlv: int, initial_margin: int, reserved_margin: int) -> int:
    """Return ``NLV - IM - reserved`` (may be negative)."""
    return nlv - initial_margin - reserved_margin


def margin_buying_power(excess: int, im_rate_ppm: int) -> int:
    """Return ``max(0, excess) / im_rate`` in minor units, rounded down."""
    if excess <= 0:
        return 0
    return excess * RATE_SCALE // im_rate_ppm


def cash_buying_power(settled_cash: int, reserved: int) -> int:
    """Return a cash account's buying power: settled cash less reservations, floored at 0."""
    bp = settled_cash - reserved
    return bp if bp > 0 else 0


def day_trade_buying_power(prior_nlv: int, prior_maintenance: int, multiplier: int, used: int) -> int:
    """Return what is left of ``multiplier * (prior-close NLV - prior-close MM)`` today."""
    bp = multiplier * (prior_nlv - prior_maintenance) - used
    return bp if bp > 0 else 0


def to_buying_power_units(amount: int, rate_ppm: int, base_rate_ppm: int) -> int:
    """Return the buying power an order of ``amount`` uses at an instrument's IM rate.

    Buying power is quoted at the account's base initial-margin rate; an instrument
    with a higher rate uses proportionally more of it. Rounded up (conservative).
    """
    if rate_ppm == base_rate_ppm:
        return amount
    return ceil_div(amount * rate_ppm, base_rate_ppm)


def opening_bp_cost(notional: int, commission: int, rate_ppm: int, base_rate_ppm: int) -> int:
    """Return the buying power an opening leg uses: its margin plus its commission.

    ``notional`` is the absolute value opened. In a margin account buying power is
    quoted at ``base_rate``, so a dollar of commission (which lowers NLV) uses
    ``1 / base_rate`` dollars of it; in a cash account both rates are 100% and the cost
    is simply ``notional + commission``. Rounded up.
    """
    return ceil_div(notional * rate_ppm + commission * RATE_SCALE, base_rate_ppm)


def closing_bp_credit(notional: int, commission: int, rate_ppm: int, base_rate_ppm: int) -> int:
    """Return the buying power a closing leg frees: its margin less its commission.

    Selling a long worth ``notional`` in a cash account returns the proceeds; in a
    margin account it frees the position's initial margin. Rounded down (may be <0).
    """
    return (notional * rate_ppm - commission * RATE_SCALE) // base_rate_ppm


def accrued_fee(abs_value: int, annual_rate_ppm: int, days: int) -> int:
    """Return a daily-accrued annual fee (borrow fee, debit interest), ACT/360, rounded."""
    return div_round_half_even(abs_value * annual_rate_ppm * days, RATE_SCALE * DAYS_PER_YEAR)


def per_unit_cash(qty_lots: int, per_lot_num: int, per_lot_den: int) -> int:
    """Return ``qty_lots`` times an exact per-lot amount (a dividend) in minor units."""
    return div_round_half_even(qty_lots * per_lot_num, per_lot_den)


def margin_ratio_ppm(nlv: int, gross_exposure: int) -> int:
    """Return NLV / gross exposure in parts per million (``RATE_SCALE`` when flat)."""
    if gross_exposure <= 0:
        return RATE_SCALE
    return div_round_half_even(nlv * RATE_SCALE, gross_exposure)


# -- margin health (risk/monitor.py, risk/liquidation.py) ------------------------------

#: Margin bands, least to most severe (``margin_band`` returns one of these).
BAND_HEALTHY = 0
BAND_AT_RISK = 1
BAND_MARGIN_CALL = 2
BAND_LIQUIDATING = 3


def ratio_below(nlv: int, gross_exposure: int, threshold_ppm: int) -> bool:
    """Return whether NLV / gross exposure is below ``threshold_ppm``, exactly.

    Compared by cross-multiplication, never through a rounded ratio, so an account
    exactly at a threshold is never misfiled by a rounding. A flat account's ratio is 1.
    """
    if gross_exposure <= 0:
        return threshold_ppm > RATE_SCALE
    return nlv * RATE_SCALE < threshold_ppm * gross_exposure


def is_halted(nlv: int, gross_exposure: int) -> bool:
    """Return whether the account must halt: NLV below zero, or zero with positions.

    A flat account with exactly zero NLV (a fresh, unfunded account) owes nothing and
    is not halted; a negative NLV is a debit the account owes its broker.
    """
    return nlv < 0 or (nlv == 0 and gross_exposure > 0)


def margin_band(
    nlv: int, gross_exposure: int, maintenance: int, at_risk_ppm: int, call_ppm: int, liquidating_ppm: int
) -> int:
    """Return the account's margin band (``BAND_*``).

    Liquidating: halted (``is_halted``) or ratio below ``liquidating_ppm``. Margin call:
    ratio below ``call_ppm`` or NLV below maintenance margin. At risk: ratio at most
    ``at_risk_ppm``. Healthy: ratio above ``at_risk_ppm``.
    """
    if is_halted(nlv, gross_exposure) or ratio_below(nlv, gross_exposure, liquidating_ppm):
        return BAND_LIQUIDATING
    if nlv < maintenance or ratio_below(nlv, gross_exposure, call_ppm):
        return BAND_MARGIN_CALL
    if gross_exposure > 0 and nlv * RATE_SCALE <= at_risk_ppm * gross_exposure:
        return BAND_AT_RISK
    return BAND_HEALTHY


def margin_cured(nlv: int, gross_exposure: int, maintenance: int, call_ppm: int) -> bool:
    """Return whether the account is out of a margin call: above maintenance and ``call_ppm``."""
    return (
        not is_halted(nlv, gross_exposure)
        and nlv >= maintenance
        and not ratio_below(nlv, gross_exposure, call_ppm)
    )
