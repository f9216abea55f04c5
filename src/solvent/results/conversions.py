"""Reading the inputs of the metrics: equity and money-like values as arrays or exact amounts.

Shared by every metric module (``periods``, ``returns``, ``drawdown``, ``exposure``,
``trades``, ``metrics``): values may be floats, ints, ``Decimal`` or ``Money``; ratios
are computed in ``float64`` and money stays an exact ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.model.money import Money

FloatArray = npt.NDArray[np.float64]
MoneyLike = Money | Decimal | int | float

_NAN = float("nan")


def _as_decimal(value: object) -> Decimal:
    """Return a money-like scalar as an exact ``Decimal`` (floats via their ``repr``)."""
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    if isinstance(value, int | np.integer):
        return Decimal(int(value))
    if isinstance(value, float | np.floating):
        return Decimal(repr(float(value)))
    raise TypeError(f"cannot read {type(value).__name__} as an amount")


def _to_float_array(values: pd.Series | Sequence[object] | npt.ArrayLike) -> FloatArray:
    """Return values as ``float64``; ``Decimal`` and ``Money`` objects are accepted."""
    if isinstance(values, pd.Series):
        raw = values.to_numpy()
    elif isinstance(values, np.ndarray):
        raw = values
    else:
        raw = np.asarray(values, dtype=object)
    if raw.dtype.kind in "biuf":  # numbers already: one vectorized cast, no Python objects
        return raw.astype(np.float64, copy=False)
    try:
        return np.asarray(raw, dtype=np.float64)
    except TypeError:
        # Money has no __float__; read its exact amount first (object path, per value).
        return np.asarray([float(_as_decimal(v)) for v in raw.ravel()], dtype=np.float64)


def _ns(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Return timestamps as int64 nanoseconds whatever the index's unit."""
    if index.unit != "ns":  # ``as_unit`` copies even when the unit is already right
        index = index.as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def _index_of(series: pd.Series) -> pd.Index:
    return series.index
