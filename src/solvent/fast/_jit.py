"""Make the shared pure rules callable from numba, without changing them for Python.

``numba.extending.register_jitable`` registers a compiled twin of a plain Python
function *and returns the function unchanged*: the event-driven ledger keeps calling
``rules.fill_cash_delta`` as ordinary Python (unbounded integers), while a compiled
kernel that names ``rules.fill_cash_delta`` gets the very same source compiled for
64-bit integers. No rule is copied into this package.

Import this module before any kernel module so the registrations exist when the
kernels are compiled (or loaded from numba's cache).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit
from numba.extending import register_jitable

from solvent.accounting import rules
from solvent.execution import costs
from solvent.fast import decide

#: The accounting rules the fast path uses (``solvent.accounting.rules``).
RULES = (
    "div_round_half_even",
    "ceil_div",
    "notional_minor",
    "fill_cash_delta",
    "split_fill",
    "prorate",
    "margin_requirement",
    "margin_buying_power",
    "cash_buying_power",
    "opening_bp_cost",
    "closing_bp_credit",
    "per_unit_cash",
    "ratio_below",
    "is_halted",
    "margin_band",
)
#: The integer cores of the cost models (``solvent.execution.costs``).
COST_CORES = ("value_fee", "per_share_fee", "fixed_fee", "slip_ticks")
#: The fast path's own decision rules (``solvent.fast.decide``), shared with the twins.
DECISIONS = ("resolve_action", "already_heading", "orders_for", "target_lots")

_done = False

F = TypeVar("F", bound=Callable[..., Any])


def internal(fn: F) -> F:
    """Compile ``fn`` for calls from compiled code only (no Python or C entry wrapper)."""
    # Target options numba accepts but does not declare in its stubs.
    options: dict[str, Any] = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
    return cast(F, njit(**options)(fn))


def kernel(fn: F) -> F:
    """Compile ``fn`` as an entry point, cached on disk (``__pycache__`` next to it)."""
    return cast(F, njit(cache=True)(fn))


def register() -> None:
    """Register the shared functions with numba (idempotent)."""
    global _done  # noqa: PLW0603 - a one-time registration flag
    if _done:
        return
    for name in RULES:
        register_jitable(getattr(rules, name))
    for name in COST_CORES:
        register_jitable(getattr(costs, name))
    for name in DECISIONS:
        register_jitable(getattr(decide, name))
    _done = True


register()
