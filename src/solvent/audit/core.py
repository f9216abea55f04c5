"""``audit``: run a strategy under a peer's profile and under solvent's realistic one.

The difference between the two final equities is attributed by a waterfall. Start
from the peer's profile; switch each setting in which the realistic profile differs,
one at a time, in ``solvent.profiles.WATERFALL_ORDER`` (settings that were switched stay
switched); run the strategy after each switch; the change in final equity at each step
is that setting's share. The last step runs the realistic profile itself, so the steps
add up exactly, in minor units, to the total difference (a telescoping sum). A share
depends on the order: a setting's effect is measured with the settings before it
already realistic (``docs/audit.md`` says why the order is what it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from solvent.audit.runs import RunSummary, summarize
from solvent.data.frame import BarData
from solvent.data.io import from_frame
from solvent.engine.backtest import backtest
from solvent.engine.strategy import Strategy
from solvent.errors import InvalidInputError
from solvent.execution.costs import CommissionModel, SlippageModel
from solvent.model.money import Money, Number
from solvent.profiles import PROFILES, diff, resolve_profile

if TYPE_CHECKING:
    from rich.console import Group

__all__ = ["PEERS", "REALISTIC", "AuditResult", "WaterfallStep", "audit"]

REALISTIC = "realistic"
#: The profiles an audit can compare against (every profile but the realistic one).
PEERS: tuple[str, ...] = tuple(name for name in PROFILES if name != REALISTIC)


@dataclass(frozen=True, slots=True)
class WaterfallStep:
    """One step of the waterfall: a setting switched from the peer's value to solvent's.

    ``final_equity`` is the run's final equity with this setting (and every one before
    it) switched; ``change`` is that less the previous step's (the first step's
    previous is the peer's run).
    """

    setting: str
    peer_value: object
    realistic_value: object
    final_equity: Money
    change: Money


# _RENDER_NOTE: ``render`` reuses ``backtest_cli``'s JSON helper, and importing that
# module loads ``solvent.cli``, which imports the ``solvent`` package: at import time
# of ``solvent`` itself (which imports ``audit``) that would be circular.


@dataclass(frozen=True, slots=True, eq=False)
class AuditResult:
    """What ``audit`` found.

    Attributes
    ----------
    strategy, params
        The strategy's class name and the parameters in force.
    against
        The peer profile's name.
    peer, realistic
        The two runs (``RunSummary``: headline figures, refusals, quantity cuts,
        margin; ``.result`` is the full ``Result``).
    steps
        The waterfall, in ``WATERFALL_ORDER``: one step per setting that differs.
    data
        The panel's description: symbols, first and last timestamp, bars, meta.
    """

    strategy: str
    params: Mapping[str, Any]
    against: str
    cash: Money
    peer: RunSummary
    realistic: RunSummary
    steps: tuple[WaterfallStep, ...]
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_difference(self) -> Money:
        """Return the realistic run's final equity less the peer's (exact)."""
        return self.realistic.final_equity - self.peer.final_equity

    @property
    def explained(self) -> Money:
        """Return the sum of the waterfall's steps (equals ``total_difference``)."""
        total = Money(0, self.cash.currency)
        for step in self.steps:
            total = total + step.change
        return total

    def to_dict(self) -> dict[str, Any]:
        """Return the audit as a JSON-ready dict (the ``audit.json`` schema)."""
        from solvent.audit.render import to_dict  # noqa: PLC0415 - see _RENDER_NOTE

        return to_dict(self)

    def table(self) -> Group:
        """Return the audit as Rich tables (print it with a ``rich.console.Console``)."""
        from solvent.audit.render import to_rich  # noqa: PLC0415 - see _RENDER_NOTE

        return to_rich(self)

    def to_html(self) -> str:
        """Return the audit as one self-contained HTML document."""
        from solvent.audit.render import to_html  # noqa: PLC0415 - see _RENDER_NOTE

        return to_html(self)

    def write(self, out: str | Path) -> tuple[Path, Path]:
        """Write ``audit.json`` and ``audit.html`` into the directory ``out``; return both."""
        from solvent.audit.render import write  # noqa: PLC0415 - see _RENDER_NOTE

        return write(self, Path(out))


def audit(
    strategy: type[Strategy] | Strategy,
    data: BarData | Any,
    *,
    against: str,
    cash: Number,
    account: str = "margin",
    commission: CommissionModel | Number | None = None,
    slippage: SlippageModel | Number | None = None,
    **params: Any,
) -> AuditResult:
    """Run ``strategy`` under the ``against`` peer's profile and the realistic one.

    Parameters
    ----------
    strategy
        A ``Strategy`` subclass, or an instance (its class is run with its
        parameters; each run gets a fresh instance, so no state leaks between runs).
    data
        A ``BarData`` panel, or anything ``solvent.data.from_frame`` accepts.
    against
        ``"vectorbt"``, ``"backtrader"`` or ``"backtesting"``.
    cash, account, commission, slippage
        Passed to every run alike (``solvent.backtest``); they are not part of the
        comparison.
    **params
        Strategy parameter overrides.

    Returns
    -------
    AuditResult
        Both runs and the waterfall from the peer's final equity to the realistic one.

    Raises
    ------
    InvalidInputError
        ``against`` is not a peer profile.

    Notes
    -----
    The strategy runs ``1 + len(diff(against, "realistic"))`` times (the peer, then
    one run per switched setting, the last being the realistic profile).
    """
    if against not in PEERS:
        choices = ", ".join(PEERS)
        raise InvalidInputError("against", against, f"is not a peer profile; choose one of {choices}")
    if isinstance(strategy, type):
        cls, run_params = strategy, dict(params)
    else:
        cls, run_params = type(strategy), {**strategy.params, **params}
    panel = data if isinstance(data, BarData) else from_frame(data)
    common: dict[str, Any] = {"cash": cash, "account": account}
    # Only what the caller gave: an explicit None would override a profile's cost.
    if commission is not None:
        common["commission"] = commission
    if slippage is not None:
        common["slippage"] = slippage

    peer_p, real_p = resolve_profile(against), resolve_profile(REALISTIC)
    switch = diff(peer_p, real_p)
    missing = [k for k in switch if k not in real_p.settings]
    if missing:  # a profile setting the realistic profile leaves to the default cannot be switched
        raise InvalidInputError(f"profile.{against}", missing, "settings the realistic profile does not set")

    peer_run = backtest(cls, panel, profile=against, **common, **run_params)
    steps: list[WaterfallStep] = []
    prev, run = peer_run, peer_run
    switched: dict[str, Any] = {}
    for k, name in enumerate(switch):
        switched[name] = real_p.settings[name]
        if k == len(switch) - 1:
            # Every differing setting is now solvent's: this *is* the realistic run.
            run = backtest(cls, panel, profile=REALISTIC, **common, **run_params)
        else:
            run = backtest(cls, panel, profile=against, **common, **switched, **run_params)
        steps.append(
            WaterfallStep(
                name,
                peer_p.settings.get(name),
                real_p.settings[name],
                run.final_equity,
                run.final_equity - prev.final_equity,
            )
        )
        prev = run

    stamps = panel.timestamps
    info = {
        "symbols": list(panel.symbols),
        "bars": int(panel.shape[0]),
        "start": pd.Timestamp(stamps[0]) if len(stamps) else None,
        "end": pd.Timestamp(stamps[-1]) if len(stamps) else None,
        "meta": dict(panel.meta),
    }
    return AuditResult(
        strategy=cls.__name__,
        params=peer_run.settings.get("params", run_params),
        against=against,
        cash=peer_run.account.snapshot().starting_cash,
        peer=summarize(against, peer_run, panel),
        realistic=summarize(REALISTIC, run, panel),
        steps=tuple(steps),
        data=info,
    )
