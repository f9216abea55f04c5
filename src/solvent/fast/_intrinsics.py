"""Two memory operations numba does not offer, as LLVM intrinsics (no effect on results).

``prefetch_nb`` asks the processor to start loading a cache line the loop will read
soon (``llvm.prefetch``); ``bytes8_nb`` reads eight consecutive bytes of a boolean row
as one integer, so a scan for the next signal tests eight bars at once. Both index a
C-contiguous 2-d array; ``bytes8_nb``'s caller keeps the eight bytes inside the row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import cgutils, types
from numba.core.extending import intrinsic


def _address(context: Any, builder: Any, sig: Any, args: Any) -> Any:
    """Return the address of ``args[0][args[1], args[2]]`` as an ``i8*``."""
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
        context, builder, aryty, ary, [args[1], args[2]]
    )
    return builder.bitcast(ptr, ir.IntType(8).as_pointer())


def _is_2d(arr: Any) -> bool:
    return isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"


@intrinsic
def _prefetch(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Hint that ``arr[i, j]`` will be read soon (a read, kept in every cache level)."""
    if not _is_2d(arr):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        # The pointer's own mangling (``p0i8`` with llvmlite's typed pointers, ``p0`` with
        # opaque ones): the name LLVM expects whatever version numba brings.
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "llvm.prefetch." + i8p.intrinsic_name
        )
        builder.call(fn, [_address(context, builder, sig, args), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(arr, i, j), codegen


@intrinsic
def _bytes8(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Return the eight bytes ``arr[i, j : j + 8]`` of a boolean array as one ``int64`` (its bits)."""
    if not (_is_2d(arr) and arr.dtype == types.boolean):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        i64 = ir.IntType(64)
        ptr = builder.bitcast(_address(context, builder, sig, args), i64.as_pointer())
        return builder.load(ptr, align=1)

    return types.int64(arr, i, j), codegen


# What compiled code calls: ``intrinsic`` hides the typing context it passes first.
prefetch_nb = cast(Callable[[Any, int, int], None], _prefetch)
bytes8_nb = cast(Callable[[Any, int, int], int], _bytes8)
