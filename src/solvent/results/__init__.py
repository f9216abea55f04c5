"""Backtest results: the ``Result`` object and its performance metrics.

The metric functions are pure and vectorized; see :mod:`solvent.results.metrics` for
the exact formulas and conventions (simple returns, sample volatility, NaN for
undefined ratios, exact ``Decimal`` for money).
"""

from solvent.results.drawdown import DrawdownStats, max_drawdown
from solvent.results.exposure import ExposureStats, exposure, turnover
from solvent.results.metrics import compute_metrics
from solvent.results.periods import BUSINESS_DAYS_PER_YEAR, SESSION_LENGTH, infer_periods_per_year
from solvent.results.result import Result
from solvent.results.returns import cagr, sharpe, simple_returns, sortino, total_return, volatility
from solvent.results.trades import TradeStats, profit_factor, rejections_by_reason, trade_stats, win_rate

__all__ = [
    "BUSINESS_DAYS_PER_YEAR",
    "SESSION_LENGTH",
    "DrawdownStats",
    "ExposureStats",
    "Result",
    "TradeStats",
    "cagr",
    "compute_metrics",
    "exposure",
    "infer_periods_per_year",
    "max_drawdown",
    "profit_factor",
    "rejections_by_reason",
    "sharpe",
    "simple_returns",
    "sortino",
    "total_return",
    "trade_stats",
    "turnover",
    "volatility",
    "win_rate",
]
