"""Trading states (active, reduce-only, halted) and when the engine must liquidate.

::

    active       healthy or at risk: every order goes through the usual checks
    reduce_only  margin call or liquidating: an order that would increase exposure is
                 refused (REDUCE_ONLY); reducing orders still go through
    halted       NLV below zero (or zero with positions): nothing but the engine's
                 liquidation orders (HALTED)

Liquidation is due when a margin call was not cured by the next check (two checks in a
row in a call), when the band is liquidating, or when the account is halted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from solvent.risk.monitor import MarginBand


class TradingState(StrEnum):
    """What the account may still do."""

    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"


def state_for(band: MarginBand, halted: bool) -> TradingState:
    """Return the trading state that a band (and a halt) calls for."""
    if halted:
        return TradingState.HALTED
    if band.in_call:
        return TradingState.REDUCE_ONLY
    return TradingState.ACTIVE


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one check: the state in force, and whether to liquidate now."""

    state: TradingState
    liquidate: bool
    close_all: bool  # halted: selling part cannot cure a debit, so everything goes


class TradingStateMachine:
    """Tracks the trading state across checks and decides when to liquidate."""

    __slots__ = ("calls_in_row", "state")

    def __init__(self) -> None:
        self.state = TradingState.ACTIVE
        self.calls_in_row = 0

    def update(self, band: MarginBand, halted: bool) -> Step:
        """Advance by one check with the band it found; return the state and the decision."""
        self.calls_in_row = self.calls_in_row + 1 if band.in_call else 0
        self.state = state_for(band, halted)
        uncured = band is MarginBand.MARGIN_CALL and self.calls_in_row >= 2
        liquidate = halted or band is MarginBand.LIQUIDATING or uncured
        return Step(self.state, liquidate, halted)
