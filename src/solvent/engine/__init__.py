"""The event-driven engine: a ``Strategy`` sees each bar through a ``Context`` and trades.

``backtest(MyStrategy, data, cash=...)`` runs a strategy over a ``BarData`` panel through
the ``SimulatedBroker`` and returns a ``Result``. See ``solvent.engine.backtest``.
"""

from solvent.engine.backtest import backtest
from solvent.engine.context import AccountInfo, Context
from solvent.engine.strategy import ParameterError, Strategy

__all__ = ["AccountInfo", "Context", "ParameterError", "Strategy", "backtest"]
