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

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from numba import njit
from numba.extending import register_jitable

from solvent.accounting import rules
from solvent.execution import costs, policies
from solvent.fast import decide
from solvent.fast._pipelines import kernel_pipeline, link_only_pipeline

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
#: The broker-setting rules of ``solvent.execution.policies``.
POLICIES = ("credit_available",)
#: The fast path's own decision rules (``solvent.fast.decide``), shared with the twins.
DECISIONS = ("resolve_action", "already_heading", "orders_for", "target_lots")

_done = False

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE = Path(__file__).resolve().parent


def _dependencies() -> list[str]:
    """Return the source files compiled into the fast path's kernels."""
    files = sorted(str(p) for p in _PACKAGE.glob("*.py"))
    shared = (rules.__file__, costs.__file__, policies.__file__)
    return [*files, *(str(Path(f).resolve()) for f in shared)]


def _install_dependency_stamps() -> None:
    """Make numba's on-disk cache of our kernels depend on every file they compile.

    numba keys a cached function on its own source file only, so a kernel cached
    before an edit of ``rules.py`` (or of a helper in another file) would keep running
    the old rule. For the files of this package, numba's cache locators are replaced
    by subclasses whose source stamp covers ``_dependencies()`` too. This uses numba's
    locator classes (``numba.core.caching``); if they change, numba's own per-file
    stamps apply (docs/fast.md).
    """
    try:
        from numba.core import caching  # noqa: PLC0415 - numba internals, guarded

        impl = caching.CacheImpl
        mixin = caching._SourceFileBackedLocatorMixin
        bases = [k for k in impl._locator_classes if issubclass(k, mixin)]
    except (ImportError, AttributeError):  # pragma: no cover - another numba
        return
    files = _dependencies()

    def stamp(self: Any, base: Any) -> Any:
        own = base.get_source_stamp(self)
        return (own, *((f, os.stat(f).st_mtime, os.stat(f).st_size) for f in files))

    ours: list[Any] = []
    for base in bases:

        def from_function(cls: Any, py_func: Any, py_file: str, base: Any = base) -> Any:
            if not str(Path(py_file).resolve()).startswith(str(_PACKAGE)):
                return None
            return base.from_function.__func__(cls, py_func, py_file)

        ours.append(
            type(
                f"Solvent{base.__name__}",
                (base,),
                {
                    "get_source_stamp": lambda self, base=base: stamp(self, base),
                    "from_function": classmethod(from_function),
                },
            )
        )
    impl._locator_classes[:0] = ours


#: Options of every compiled function here. numba accepts them but does not declare
#: them in its stubs. Each one removes code numba would otherwise generate, type and
#: optimize for every function (measured in docs/fast.md, *Speed and compilation*):
#: no C-callable wrapper (nothing calls these from C), and no reference counting
#: (``_nrt=False``: the loop allocates nothing, its arrays belong to the caller).
_LEAN: dict[str, Any] = {"no_cfunc_wrapper": True, "_nrt": False}
#: ... and no Python entry wrapper for functions only compiled code calls, whose
#: machine code is only emitted inside the kernel (``_pipelines.link_only_pipeline``).
_INTERNAL: dict[str, Any] = {"no_cpython_wrapper": True, **_LEAN}
if (_pipeline := link_only_pipeline()) is not None:
    _INTERNAL["pipeline_class"] = _pipeline


#: ... and the kernels: numba's own pipeline (``_pipelines.kernel_pipeline``).
_KERNEL: dict[str, Any] = dict(_LEAN)
if (_kernel_pipe := kernel_pipeline()) is not None:
    _KERNEL["pipeline_class"] = _kernel_pipe


def internal(fn: F) -> F:
    """Compile ``fn`` for calls from compiled code only (no Python or C entry wrapper)."""
    return cast(F, njit(**_INTERNAL)(fn))


def kernel(fn: F) -> F:
    """Compile ``fn`` as an entry point, cached on disk (``__pycache__`` next to it)."""
    return cast(F, njit(cache=True, **_KERNEL)(fn))


def register() -> None:
    """Register the shared functions with numba (idempotent)."""
    global _done  # noqa: PLW0603 - a one-time registration flag
    if _done:
        return
    # Compiled for calls from compiled code only, as ``internal`` functions are.
    shared = register_jitable(**_INTERNAL)
    for name in RULES:
        shared(getattr(rules, name))
    for name in COST_CORES:
        shared(getattr(costs, name))
    for name in POLICIES:
        shared(getattr(policies, name))
    for name in DECISIONS:
        shared(getattr(decide, name))
    _install_dependency_stamps()
    _done = True


register()
