"""Which settings a compiled broker takes as constants: the broker specs.

A ``BrokerSpec`` names, per setting, its value fixed when the broker and the kernel
are compiled, or ``AT_RUN`` to read it from the run's parameter row; numba drops the
branches a fixed value rules out, so a kernel compiles only the code its runs can
reach (docs/fast.md, *Speed and compilation*). ``_loop.variant_for`` picks the spec
of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from solvent.fast._jit import internal
from solvent.fast._layout import (
    C_NONE,
    C_TYPE,
    C_VALUE,
    P_CANCEL,
    P_CREDIT,
    P_LEG_FEES,
    P_PARTIAL,
    P_PLACE_CHECK,
    P_SLIP_NUM,
    P_ZERO_FILL,
)

I64 = npt.NDArray[np.int64]
F = TypeVar("F", bound=Callable[..., object])

#: A ``BrokerSpec`` field for a setting read from the run's parameter row at run time.
AT_RUN = -1
#: ``BrokerSpec.fees``: every commission component is a fee on value (or there is none).
VALUE_FEES = 1


class BrokerSpec(NamedTuple):
    """Which settings a compiled broker takes as constants of its code.

    Each field is the setting's value in the parameter row (``prm``; 1 for the
    permissive value) fixed when the broker is compiled, or ``AT_RUN`` to read it from
    ``prm`` on every call. numba reads a closure's variables as constants and drops the
    branches a fixed value rules out before typing them, so a broker fixed to the
    default settings compiles none of the code of the others (credited shorts, per-leg
    fees, cancelling unfunded orders, no placement check, zero-volume fills, refusing
    instead of scaling down, the other account kind, slippage, per-share and fixed
    fees): the same source, fewer branches (docs/fast.md, *Speed and compilation*).
    """

    zero_fill: int  # P_ZERO_FILL
    credit: int  # P_CREDIT
    leg_fees: int  # P_LEG_FEES
    place_check: int  # P_PLACE_CHECK
    cancel: int  # P_CANCEL
    partial: int  # P_PARTIAL
    cash: int  # P_KIND_CASH: 1 a cash account, 0 a margin account
    slippage: int  # 0: none (``P_SLIP_NUM == 0``), else AT_RUN
    fees: int  # VALUE_FEES: only ``C_VALUE`` commission components, else AT_RUN
    shorts: int  # 0: long only (see ``LONG_SPEC``), else AT_RUN


#: A lean run: the realistic profile's broker settings, no slippage, commission on
#: value (or none); the account kind and short sales at run time (target weights).
LEAN_SPEC = BrokerSpec(
    zero_fill=0,
    credit=0,
    leg_fees=0,
    place_check=1,
    cancel=0,
    partial=1,
    cash=AT_RUN,
    slippage=0,
    fees=VALUE_FEES,
    shorts=AT_RUN,
)
#: A lean run of signals without short signals. Its positions never go short and no
#: order crosses zero: each decision cancels the symbol's working orders, then a long
#: entry buys only when flat and an exit sells the position (``SignalStrategy``). So
#: its broker leaves out flips and short sales; should either ever come up, the broker
#: flags ``N_GENERIC`` and the run is made again with the generic kernel
#: (``signals._run``).
LONG_SPEC = LEAN_SPEC._replace(shorts=0)
#: ... with next-bar fills (the default run and the benchmarks'), one per account kind:
#: a cash account compiles no margin arithmetic, a margin account no cash rule.
LONG_MARGIN_SPEC = LONG_SPEC._replace(cash=0)
LONG_CASH_SPEC = LONG_SPEC._replace(cash=1)
#: Every setting read at run time: the broker of any other run.
GENERIC_SPEC = BrokerSpec(*(AT_RUN for _ in LEAN_SPEC))
_SPEC_ROWS = (P_ZERO_FILL, P_CREDIT, P_LEG_FEES, P_PLACE_CHECK, P_CANCEL, P_PARTIAL)


def spec_for(prm: I64, cm: I64) -> BrokerSpec:
    """Return ``LEAN_SPEC`` or ``GENERIC_SPEC`` for the run with ``prm`` and commission ``cm``.

    Lean when the run's broker settings are the default ones, it has no slippage and
    every commission component is a fee on value (``_loop.variant_for`` narrows it
    down further).
    """
    row = tuple(int(prm[i]) for i in _SPEC_ROWS)
    kinds = cm[:, :, C_TYPE]
    lean = (
        row == LEAN_SPEC[: len(_SPEC_ROWS)]
        and prm[P_SLIP_NUM] == 0
        and bool(((kinds == C_NONE) | (kinds == C_VALUE)).all())
    )
    return LEAN_SPEC if lean else GENERIC_SPEC


def spec_tag(spec: BrokerSpec) -> str:
    """Return a name for ``spec``: its fields' values, ``x`` for ``AT_RUN``."""
    return "".join("x" if v == AT_RUN else str(v) for v in spec)


def internal_for(spec: BrokerSpec) -> Callable[[F], F]:
    """Return ``internal`` for the functions compiled for ``spec``, named after it.

    numba names a compiled function after its qualified name and a counter of the
    compilations in the process, and links functions of the same name as one
    (``linkonce_odr``): a kernel loaded from the cache carries the functions it was
    compiled with, under the counters of the process that compiled it, so two specs'
    ``on_bar_nb`` (one qualified name, a closure per spec) could meet under one name in
    another process and a kernel compiled there call the other spec's code. Each
    spec's functions therefore get a qualified name of their own.
    """
    tag = spec_tag(spec)

    def own(fn: F) -> F:
        fn.__qualname__ = f"{fn.__qualname__}_{tag}"
        return internal(fn)

    return own
