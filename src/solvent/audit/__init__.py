"""``solvent audit``: how much of a peer engine's backtest a broker would have allowed.

``audit(strategy, data, against="vectorbt", cash=...)`` runs the strategy under the
peer's profile and under solvent's realistic one, reports both runs (return, drawdown,
trades, refusals, quantity cuts, margin calls and liquidations) and attributes the
difference in final equity to each setting by a waterfall (``docs/audit.md``).
"""

from solvent.audit.core import PEERS, AuditResult, WaterfallStep, audit
from solvent.audit.runs import Cut, MarginSummary, Refusals, RunSummary

__all__ = ["PEERS", "AuditResult", "Cut", "MarginSummary", "Refusals", "RunSummary", "WaterfallStep", "audit"]
