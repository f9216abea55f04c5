"""The fast path's compile helpers (``solvent.fast._pipelines``) leave numba's answers unchanged.

They only make a cold compile cheaper (docs/fast.md, *Speed and compilation*): the
flags compare as numba's do, the collector is left as it was found, and the passes left
out are exactly the two that never change this package's code. The kernels compiled
with them are checked against the event engine in ``test_fast_kernels.py``.
"""

from __future__ import annotations

import gc

from numba.core import compiler, typed_passes, untyped_passes

from solvent.fast import _pipelines


def _flags() -> compiler.Flags:
    flags = compiler.Flags()
    flags.no_cpython_wrapper = True
    flags.nrt = False
    flags.error_model = "numpy"
    return flags


def test_quick_flags_values_equality_and_hash_same_as_numbas() -> None:
    assert _pipelines.QUICK_FLAGS is not None
    plain = _flags()
    quick = _pipelines.QUICK_FLAGS(plain)
    assert quick.values() == plain.values()
    assert quick == plain and plain == quick
    assert hash(quick) == hash(plain)
    # Class name, summary and mangled name as numba's own (they name compiled symbols).
    assert type(quick).__name__ == "Flags"
    assert quick.summary() == plain.summary()
    assert quick.get_mangle_string() == plain.get_mangle_string()


def test_quick_flags_differing_option_compares_unequal() -> None:
    assert _pipelines.QUICK_FLAGS is not None
    quick = _pipelines.QUICK_FLAGS(_flags())
    other = _flags()
    other.error_model = "python"
    assert quick != other
    assert quick.copy() == quick and type(quick.copy()) is type(quick)


def test_collect_young_only_unfreezes_after_compile_and_on_error() -> None:
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with _pipelines.collect_young_only():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    try:
        with _pipelines.collect_young_only():
            raise ValueError("compile failed")
    except ValueError:
        pass
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_collect_young_only_leaves_callers_frozen_objects_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with _pipelines.collect_young_only():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_lean_passes_drop_only_closure_inlining_and_post_inference_rewrites() -> None:
    state = compiler.StateDict()
    state.flags = _flags()
    state.func_ir = None  # not built yet: the pipeline starts from the bytecode
    pm = compiler.DefaultPassBuilder.define_nopython_pipeline(state)
    kept = [p for p, _ in _pipelines.lean_passes(pm.passes)]
    dropped = [p for p, _ in pm.passes if p not in kept]
    assert dropped == [untyped_passes.InlineClosureLikes, typed_passes.NopythonRewrites]
    assert len(kept) == len(pm.passes) - 2
