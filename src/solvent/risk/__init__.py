"""Margin health, trading states, liquidation and the Pattern Day Trader rule.

* ``monitor``: margin bands, ``MarginEvent`` records, the per-check ``MarginMonitor``;
* ``state``: trading states (active, reduce-only, halted) and when to liquidate;
* ``liquidation``: the policies that order and size a liquidation;
* ``pdt``: day-trade counting and the ``block`` / ``downgrade`` policies;
* ``live``: the same monitor on a background thread for live and paper accounts.

The backtest wiring lives in ``SimulatedBroker`` (``solvent.execution.broker``).
"""

from solvent.risk.liquidation import Holding, LiquidationPolicy, LiquidationStep, plan_liquidation
from solvent.risk.live import LiveMarginMonitor
from solvent.risk.monitor import EventKind, MarginBand, MarginBands, MarginEvent, MarginMonitor
from solvent.risk.pdt import DayTradeCounter, PdtPolicy
from solvent.risk.state import TradingState, TradingStateMachine

__all__ = [
    "DayTradeCounter",
    "EventKind",
    "Holding",
    "LiquidationPolicy",
    "LiquidationStep",
    "LiveMarginMonitor",
    "MarginBand",
    "MarginBands",
    "MarginEvent",
    "MarginMonitor",
    "PdtPolicy",
    "TradingState",
    "TradingStateMachine",
    "plan_liquidation",
]
