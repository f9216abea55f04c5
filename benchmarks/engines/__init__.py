"""Engine adapters: ``prepare(ds)`` (untimed), ``run(prepared)`` (timed), ``outcome(raw, prepared)``.

Each adapter imports only its own library, so a worker process holds one engine's
imports and its memory is that engine's alone.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class EngineSpec:
    module: str
    settings: dict[str, Any] = field(default_factory=dict)
    parity: bool = True  # held to identical fills and final equity within half a cent per fill
    note: str = ""
    # The third-party libraries the engine cannot run without, and whether it runs numba
    # code: what ``benchmarks/floor.py`` loads to measure the memory floor.
    libraries: tuple[str, ...] = ("pandas",)
    jit: bool = False


ENGINES: dict[str, EngineSpec] = {
    # The variants below share these adapter modules with other settings, so the base
    # engines state their defaults: ``load`` re-applies them (benchmarks/overhead.py).
    "solvent-event": EngineSpec(
        "benchmarks.engines.event", {"VALIDATION": "reject"}, note="solvent.backtest + examples/sma_cross.py"
    ),
    "solvent-fast": EngineSpec(
        "benchmarks.engines.fast",
        {"CHECKS": False},
        note="solvent.fast.from_signals",
        libraries=("pandas", "numba"),
        jit=True,
    ),
    "vectorbt": EngineSpec(
        "benchmarks.engines.vbt",
        note="vbt.Portfolio.from_signals",
        libraries=("pandas", "vectorbt"),
        jit=True,
    ),
    "backtesting.py": EngineSpec(
        "benchmarks.engines.btpy",
        note="one Backtest per symbol and pair",
        libraries=("pandas", "backtesting"),
    ),
    "backtrader": EngineSpec(
        "benchmarks.engines.bt", note="one Cerebro per symbol and pair", libraries=("pandas", "backtrader")
    ),
    "python-loop": EngineSpec(
        "benchmarks.engines.bare",
        note="a bare Python loop over the shared decisions: no engine, no rules (a floor, not a peer)",
    ),
    "solvent-event-noval": EngineSpec(
        "benchmarks.engines.event", {"VALIDATION": "off"}, note="validation='off' (gatekeeper overhead)"
    ),
    "solvent-fast-checks": EngineSpec(
        "benchmarks.engines.fast",
        {"CHECKS": True},
        parity=False,
        note="margin account + 10 % volume cap (fills differ by design)",
        libraries=("pandas", "numba"),
        jit=True,
    ),
}
MAIN = ("solvent-event", "solvent-fast", "vectorbt", "backtesting.py", "backtrader", "python-loop")
# (base, variant) pairs whose cost benchmarks/overhead.py measures, with the target's limit.
OVERHEADS = (
    ("solvent-event-noval", "solvent-event", 0.02, "event: validation (reject vs off)"),
    ("solvent-fast", "solvent-fast-checks", 0.05, "fast: volume cap + margin checks"),
)
VARIANTS = ("solvent-event-noval", "solvent-fast-checks")


def load(name: str) -> ModuleType:
    """Import engine ``name``'s adapter with its settings applied."""
    spec = ENGINES[name]
    module = importlib.import_module(spec.module)
    for key, value in spec.settings.items():
        setattr(module, key, value)
    return module
