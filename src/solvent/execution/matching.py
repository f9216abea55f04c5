"""Where in a bar an order fills: pure price rules over integer ticks.

Every function returns the *reference* fill price in ticks (before slippage) or
``None`` when the order does not fill in this bar. The bar's timestamp is its open
time and orders only ever see bars after the one they were placed on, so nothing here
looks ahead. The intrabar path is unknown; the rules assume the pessimistic one:

* a gap through a limit or stop fills at the open (better for limits, worse for stops);
* a limit fills when the bar touches it (low <= buy limit, high >= sell limit);
* a stop triggers when touched and fills at the stop;
* a stop-limit triggered inside the bar fills in that bar only if the stop price itself
  is within the limit; otherwise it waits as a limit order from the next bar;
* a trailing stop is checked against the level set by *previous* bars, then ratchets
  with this bar's extreme for the next one;
* when a bar touches both a bracket's stop-loss and its take-profit, the stop-loss
  fills (the broker processes it first).
"""

from __future__ import annotations

from enum import StrEnum

from solvent.model.bar import Bar


class FillTiming(StrEnum):
    """When an order placed after bar ``t`` can first fill."""

    NEXT_BAR = "next_bar"  # from bar t + 1 (default; no look-ahead)
    # At bar t's own close: look-ahead (the strategy saw that close before trading at
    # it). Opt-in, for comparisons with engines that fill there (VectorBT's default).
    SAME_BAR_CLOSE = "same_bar_close"


def limit_price(side: int, limit: int, bar: Bar) -> int | None:
    """Return the fill price of a limit order in ``bar``, or ``None``."""
    if side > 0:
        if bar.open <= limit:
            return bar.open
        return limit if bar.low <= limit else None
    if bar.open >= limit:
        return bar.open
    return limit if bar.high >= limit else None


def stop_price(side: int, stop: int, bar: Bar) -> int | None:
    """Return the fill price of a stop (market) order in ``bar``, or ``None``."""
    if side > 0:
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if bar.open <= stop:
        return bar.open
    return stop if bar.low <= stop else None


def stop_limit_price(side: int, stop: int, limit: int, bar: Bar, triggered: bool) -> tuple[int | None, bool]:
    """Return ``(fill price or None, triggered)`` of a stop-limit order in ``bar``."""
    if triggered:
        return limit_price(side, limit, bar), True
    gapped = bar.open >= stop if side > 0 else bar.open <= stop
    if gapped:
        return limit_price(side, limit, bar), True
    touched = bar.high >= stop if side > 0 else bar.low <= stop
    if not touched:
        return None, False
    within = stop <= limit if side > 0 else stop >= limit
    return (stop if within else None), True


def trail_level(side: int, reference: int, amount_ticks: int | None, percent_ppm: int | None) -> int:
    """Return a trailing stop's level from a reference price (the best price so far).

    A sell stop trails below the highs, a buy stop above the lows; the distance is a
    fixed number of ticks or a percentage (ppm) of the reference, rounded to the tick
    away from the reference (so the stop is never tighter than asked).
    """
    if amount_ticks is not None:
        distance = amount_ticks
    else:
        assert percent_ppm is not None  # noqa: S101 - the broker validated one is set
        distance = -((-reference * percent_ppm) // 1_000_000)  # ceil
    level = reference - distance if side < 0 else reference + distance
    return max(1, level)


def ratchet(side: int, level: int, bar: Bar, amount_ticks: int | None, percent_ppm: int | None) -> int:
    """Return the trailing level after ``bar``: it only ever moves in the order's favour."""
    if side < 0:
        return max(level, trail_level(side, bar.high, amount_ticks, percent_ppm))
    return min(level, trail_level(side, bar.low, amount_ticks, percent_ppm))
