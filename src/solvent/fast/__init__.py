"""The compiled fast path: signals and target weights for many columns at once.

``from_signals`` and ``from_targets`` run a numba-compiled loop over bars × columns
with the event engine's rules (the same pure functions from
``solvent.accounting.rules`` and ``solvent.execution.costs``, compiled). Each column,
or each group of columns, is an account that cannot spend money it does not have.
``SignalStrategy`` and ``TargetStrategy`` are the same rules as event-driven
strategies for ``solvent.backtest``: run either engine, get the same fills. See
docs/fast.md.
"""

from solvent.fast._costs import NotLoweredError
from solvent.fast.result import FastResult
from solvent.fast.signals import from_signals, from_targets
from solvent.fast.twin import SignalStrategy, TargetStrategy

__all__ = [
    "FastResult",
    "NotLoweredError",
    "SignalStrategy",
    "TargetStrategy",
    "from_signals",
    "from_targets",
]
