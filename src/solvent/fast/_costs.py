"""Lower commission and slippage models to the integers the compiled loop evaluates.

Each supported model becomes a row of parameters for its integer core in
``solvent.execution.costs`` (``value_fee``, ``per_share_fee``, ``fixed_fee``,
``slip_ticks``), the same functions the model classes call, so a lowered model charges
exactly what the event engine charges. Anything else is refused with
``NotLoweredError`` naming the model: the fast path never approximates a cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from solvent.errors import InvalidInputError
from solvent.execution.costs import (
    BPS_SCALE,
    BasisPoints,
    Combined,
    CommissionModel,
    FixedBps,
    FixedPerOrder,
    HalfSpread,
    NoCommission,
    NoSlippage,
    PercentOfValue,
    PerShare,
    SlippageModel,
    per_unit_ratio,
    resolve_commission,
    resolve_slippage,
)
from solvent.fast import _layout as ly
from solvent.model.instrument import Instrument
from solvent.model.money import Number, to_minor

I64 = npt.NDArray[np.int64]

#: Lowered parameters stay below this so products with notionals fit in 64 bits.
_PARAM_LIMIT = 2**31


class NotLoweredError(InvalidInputError):
    """A model or setting has no compiled equivalent; run it with ``solvent.backtest``."""


def _checked(values: tuple[int, ...], model: object) -> tuple[int, ...]:
    for v in values:
        if abs(v) >= _PARAM_LIMIT:
            raise NotLoweredError(
                repr(model), v, "a parameter this fine does not fit the fast path's 64-bit arithmetic"
            )
    return values


def _components(model: CommissionModel, inst: Instrument) -> list[tuple[int, ...]]:
    """Return the model as ``(kind, params...)`` rows for one instrument."""
    kind = type(model)
    if kind is NoCommission:
        return []
    if isinstance(model, PercentOfValue) and kind is PercentOfValue:
        num, den = model.fraction.as_integer_ratio()
        return [(ly.C_VALUE, *_checked((num, den), model))]
    if isinstance(model, BasisPoints) and kind is BasisPoints:
        num, den = model.bps.as_integer_ratio()
        return [(ly.C_VALUE, *_checked((num, den * BPS_SCALE), model))]
    if isinstance(model, PerShare) and kind is PerShare:
        fee_num, fee_den = per_unit_ratio(model.rate, inst)
        minimum = to_minor(model.minimum, inst.currency, "PerShare.minimum")
        cap = (0, 0) if model.maximum_pct is None else model.maximum_pct.as_integer_ratio()
        return [(ly.C_PER_SHARE, *_checked((fee_num, fee_den, minimum, *cap), model))]
    if isinstance(model, FixedPerOrder) and kind is FixedPerOrder:
        amount = to_minor(model.amount, inst.currency, "FixedPerOrder.amount")
        return [(ly.C_FIXED, *_checked((amount,), model))]
    if isinstance(model, Combined) and kind is Combined:
        return [row for m in model.models for row in _components(m, inst)]
    raise NotLoweredError(
        "commission",
        model,
        "is not lowered to the fast path (supported: NoCommission, PercentOfValue, "
        "BasisPoints, PerShare, FixedPerOrder and Combined of them); use solvent.backtest",
    )


def lower_commission(commission: CommissionModel | Number | None, instruments: Sequence[Instrument]) -> I64:
    """Return ``(N, K, NC)`` commission components per instrument (``C_NONE`` rows pad)."""
    model = resolve_commission(commission)
    # The rows depend on the instrument only through its lot size and currency: each
    # distinct pair is lowered once and the instruments index its table (a numpy
    # assignment per instrument would cost more than the rest of the call).
    keys: list[tuple[object, object]] = [(inst.lot_size, inst.currency) for inst in instruments]
    memo: dict[tuple[object, object], list[tuple[int, ...]]] = {}
    for key, inst in zip(keys, instruments, strict=True):
        if key not in memo:
            memo[key] = _components(model, inst)
    k = max([1, *(len(r) for r in memo.values())])
    table = np.zeros((len(memo), k, ly.NC), dtype=np.int64)
    where: dict[tuple[object, object], int] = {}
    for g, (pair, comps) in enumerate(memo.items()):
        where[pair] = g
        for c, comp in enumerate(comps):
            table[g, c, : len(comp)] = comp
    return table[np.array([where[key] for key in keys], dtype=np.intp)]


def lower_slippage(slippage: SlippageModel | Number | None) -> tuple[int, int]:
    """Return slippage as ``(num, den)`` of the reference price (``(0, 1)``: none)."""
    model = resolve_slippage(slippage)
    kind = type(model)
    if kind is NoSlippage:
        return 0, 1
    if isinstance(model, FixedBps) and kind is FixedBps:
        num, den = model.bps.as_integer_ratio()
        _checked((num, den * BPS_SCALE), model)
        return num, den * BPS_SCALE
    if isinstance(model, HalfSpread) and kind is HalfSpread:
        num, den = model.spread_bps.as_integer_ratio()
        _checked((num, den * 2 * BPS_SCALE), model)
        return num, den * 2 * BPS_SCALE
    raise NotLoweredError(
        "slippage",
        model,
        "is not lowered to the fast path (supported: NoSlippage, FixedBps, HalfSpread); use solvent.backtest",
    )
