"""numba compiler pipelines for the fast path: a cold compile with less overhead.

A cold first call compiles the kernel and every function it calls (docs/fast.md,
*Speed and compilation*). Apart from the code compiled, a good part of that time was
numba's handling: comparing compilation flags, optimizing and emitting machine code for
functions that only ever run inside the kernel, two IR passes that change nothing here,
and Python's collector walking the whole process. The pipelines here (used by
``solvent.fast._jit``) avoid those; the code they produce is numba's own.

They use numba's compiler-pipeline, code-library and flags classes (``numba.core``, a
documented extension point and its internals); with a numba where these differ, each
function here returns ``None`` (or its input unchanged) and numba's defaults apply.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _quick_flags() -> Any:
    """Return numba's compilation flags with a cheap ``values()``, or ``None``.

    numba resolves every overloadable operation of a function being typed (each array
    read and write, each branch's truth test, each call of a shared rule) against every
    ``@overload`` template registered for it, and each template looks its answer up in a
    cache keyed on the compilation's flags: the key's hash and equality each build
    ``Flags.values()``, a dict of about forty options read one by one through Python
    properties. About 59,000 such dicts are built for a cold default kernel, 0.8-0.9 s
    of its 6.6 s (docs/fast.md, *Speed and compilation*). This subclass builds the same
    dict from the defaults and the options set, and returns numba's own hash (which
    depends only on the option names), so the cache answers exactly as before. It uses
    numba's ``TargetConfig`` internals (``options``, ``_values``); with a numba where they
    differ, ``None`` is returned and numba's flags are used unchanged.
    """
    try:
        from numba.core import compiler  # noqa: PLC0415 - numba internals, guarded

        base: Any = compiler.Flags
        defaults = {name: option.default for name, option in base.options.items()}
        probe = base()
        probe.no_cpython_wrapper = True
        if probe._values != {"no_cpython_wrapper": True} or probe.values() != {**defaults, **probe._values}:
            return None  # pragma: no cover - another numba
        key = hash(probe)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - another numba
        return None

    class QuickFlags(base):  # type: ignore[misc]
        """numba's ``Flags``; ``values()`` without a property read per option."""

        __slots__ = ()

        def values(self) -> dict[str, Any]:
            """Return every option's value (the defaults, overridden by the set ones)."""
            out = dict(defaults)
            out.update(self._values)
            return out

        def __hash__(self) -> int:
            return key

    # numba writes the flags' class name into the compiled functions' symbol names
    # (``Flags.summary``): keep numba's, so the machine code is the same as before.
    QuickFlags.__name__ = QuickFlags.__qualname__ = base.__name__
    return QuickFlags


#: numba's ``Flags`` with a cheap ``values()`` (``_quick_flags``), or ``None``.
QUICK_FLAGS = _quick_flags()


def _with_quick_flags(pipeline: Any) -> Any:
    """Return a subclass of the compiler ``pipeline`` that compiles with ``QUICK_FLAGS``.

    The flags are copied once, when the pipeline starts; everything numba derives from
    them (the configuration stack that the typing caches read, the flags of functions
    compiled for this one) copies this object, so keeps its class.
    """
    if QUICK_FLAGS is None:  # pragma: no cover - another numba
        return pipeline

    class QuickFlagsPipeline(pipeline):  # type: ignore[misc]
        """``pipeline``, with its flags copied into ``QUICK_FLAGS``."""

        def __init__(
            self,
            typingctx: Any,
            targetctx: Any,
            library: Any,
            args: Any,
            return_type: Any,
            flags: Any,
            locals: Any,
        ) -> None:
            super().__init__(typingctx, targetctx, library, args, return_type, QUICK_FLAGS(flags), locals)

    QuickFlagsPipeline.__name__ = QuickFlagsPipeline.__qualname__ = f"QuickFlags{pipeline.__name__}"
    return QuickFlagsPipeline


def lean_passes(passes: list[Any]) -> list[Any]:
    """Return numba's nopython passes less two that change nothing in this package's code.

    ``InlineClosureLikes`` inlines closures, ``functools.reduce`` calls, stencils and
    array comprehensions; ``NopythonRewrites`` rewrites string-literal indexing, array
    expressions and arrays of constants. The compiled code here has none of these
    (``tests/test_fast_kernels.py`` compiles every kernel; no rewrite matches), yet
    both passes walk every function's IR: about 0.45 s of a cold first call
    (docs/fast.md). Code that needed them would fail to compile (a closure cannot be
    typed; an array expression allocates, and the loop is compiled without reference
    counting), not run differently. With a numba without these passes, nothing is
    removed.
    """
    try:
        from numba.core import typed_passes, untyped_passes  # noqa: PLC0415

        unused = (untyped_passes.InlineClosureLikes, typed_passes.NopythonRewrites)
    except (ImportError, AttributeError):  # pragma: no cover - another numba
        return passes
    return [(p, d) for p, d in passes if p not in unused]


def link_only_pipeline() -> Any:
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
            pm.passes = lean_passes(pm.passes)
            pm.finalize()
            return [pm]

    return _with_quick_flags(LinkOnlyPipeline)


@contextmanager
def collect_young_only() -> Iterator[None]:
    """Let Python's collector skip the objects that exist before a kernel compiles.

    A cold compile allocates enough for a few full collections, and each walks every
    object of the process (pandas, numba, the user's data): about 0.5 s of a first
    call's 6 s here (docs/fast.md). ``gc.freeze`` sets the existing objects aside for
    the compilation, so those collections walk only what it allocates, and
    ``gc.unfreeze`` puts them back in the oldest generation (nothing is left to
    collect later: the compilation's own garbage is collected as it goes). Skipped when
    the collector is off or the process has frozen objects of its own (unfreezing
    would release those too).
    """
    if not gc.isenabled() or gc.get_freeze_count() != 0:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def kernel_pipeline() -> Any:
    """Return numba's pipeline for the kernels: cheaper flags, passes and collections.

    numba's nopython pipeline less ``lean_passes``' two, compiling with ``QUICK_FLAGS``
    under ``collect_young_only``. ``compile_extra`` runs once per kernel compilation
    (not when numba loads the kernel from its cache), the compilation of every
    function it calls included.
    """
    try:
        from numba.core import compiler  # noqa: PLC0415 - numba internals, guarded

        base: Any = _with_quick_flags(compiler.Compiler)
        passes: Any = compiler.DefaultPassBuilder
        base.compile_extra  # noqa: B018 - fail here, not in a compilation, if renamed
    except (ImportError, AttributeError):  # pragma: no cover - another numba
        return None

    class KernelPipeline(base):  # type: ignore[misc]
        """numba's nopython pipeline, lean, compiling under ``collect_young_only``."""

        def compile_extra(self, func: Any) -> Any:
            with collect_young_only():
                return super().compile_extra(func)

        def define_pipelines(self) -> list[Any]:
            pm = passes.define_nopython_pipeline(self.state)
            pm.passes = lean_passes(pm.passes)
            pm.finalize()
            return [pm]

    return KernelPipeline
