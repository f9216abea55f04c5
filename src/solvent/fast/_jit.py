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


def _link_only_pipeline() -> Any:
    """Return a numba compiler pipeline that leaves a function's machine code to its callers.

    numba optimizes every compiled function's module on its own (LLVM's full ``-O3``
    module pipeline) and emits machine code for it, then links it into each caller and
    optimizes and emits it again there. A function that only compiled code calls
    (``internal``, the shared rules) never runs from its own machine code, so both
    steps are wasted: with this pipeline its library keeps numba's per-function passes
    and is optimized and emitted once, inside the kernel that links it (about a seventh
    of a cold first call, docs/fast.md). The kernel itself is compiled as numba always
    does. This uses numba's compiler-pipeline and code-library classes
    (``numba.core``); with another numba where they differ, ``None`` (numba's default
    pipeline) is returned.
    """
    try:
        from numba.core import codegen, compiler, compiler_machinery, typed_passes  # noqa: PLC0415

        base_library: Any = codegen.JITCodeLibrary
        base_pipeline: Any = compiler.CompilerBase
        passes: Any = compiler.DefaultPassBuilder
        native: Any = typed_passes.NativeLowering
        register_pass: Any = compiler_machinery.register_pass
        for name in (
            "_optimize_final_module",
            "_finalize_final_module",
            "_finalize_dynamic_globals",
            "_verify_declare_only_symbols",
            "codegen",
        ):
            getattr(base_library, name)
    except (ImportError, AttributeError):  # pragma: no cover - another numba
        return None

    class _NoEnv:
        """The codegen, less ``set_env``: the function's environment lives in the kernel."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def set_env(self, name: str, env: Any) -> None:
            """Do nothing: the code is never run from this library, so has no environment."""

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    class LinkOnlyLibrary(base_library):  # type: ignore[misc]
        """A code library that is only ever linked into another one."""

        @property
        def codegen(self) -> Any:
            return _NoEnv(self._codegen)

        def _optimize_final_module(self) -> None:
            """Skip: the kernel's module is optimized with this code linked in."""

        def _finalize_final_module(self) -> None:
            """Mark the library final without emitting machine code for it."""
            self._finalize_dynamic_globals()
            self._verify_declare_only_symbols()
            self._finalized = True

    @register_pass(mutates_CFG=True, analysis_only=False)
    class LinkOnlyLowering(native):  # type: ignore[misc]
        """numba's lowering, into a ``LinkOnlyLibrary``."""

        _name = "solvent_link_only_lowering"

        def run_pass(self, state: Any) -> bool:
            if state.library is None:  # as numba's own pass, with the library class changed
                state.library = LinkOnlyLibrary(state.targetctx.codegen(), state.func_id.func_qualname)
                state.library.enable_object_caching()
            return bool(super().run_pass(state))

    class LinkOnlyPipeline(base_pipeline):  # type: ignore[misc]
        """numba's nopython pipeline with ``LinkOnlyLowering`` for its lowering pass."""

        def define_pipelines(self) -> list[Any]:
            pm = passes.define_nopython_pipeline(self.state)
            pm.passes = [(LinkOnlyLowering if p is native else p, d) for p, d in pm.passes]
            pm.finalize()
            return [pm]

    return LinkOnlyPipeline


#: Options of every compiled function here. numba accepts them but does not declare
#: them in its stubs. Each one removes code numba would otherwise generate, type and
#: optimize for every function (measured in docs/fast.md, *Speed and compilation*):
#: no C-callable wrapper (nothing calls these from C), and no reference counting
#: (``_nrt=False``: the loop allocates nothing, its arrays belong to the caller).
_LEAN: dict[str, Any] = {"no_cfunc_wrapper": True, "_nrt": False}
#: ... and no Python entry wrapper for functions only compiled code calls, whose
#: machine code is only emitted inside the kernel (``_link_only_pipeline``).
_INTERNAL: dict[str, Any] = {"no_cpython_wrapper": True, **_LEAN}
if (_pipeline := _link_only_pipeline()) is not None:
    _INTERNAL["pipeline_class"] = _pipeline


def internal(fn: F) -> F:
    """Compile ``fn`` for calls from compiled code only (no Python or C entry wrapper)."""
    return cast(F, njit(**_INTERNAL)(fn))


def kernel(fn: F) -> F:
    """Compile ``fn`` as an entry point, cached on disk (``__pycache__`` next to it)."""
    return cast(F, njit(cache=True, **_LEAN)(fn))


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
