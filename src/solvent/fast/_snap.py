"""Bar prices to ticks and volume to lots, when the compiled loop reads them.

The rules are the event engine's (``solvent.engine.backtest._snap_ticks`` and
``_volume_lots``): a price is its float quotient by the tick rounded half-even, except
within 1e-6 of a half tick, where the exact decimal rule of ``Instrument.snap_price``
decides; volume is floored to lots with a hair of tolerance.

The loop converts a cell only when it reads it (every close, and the open, high, low
and volume of bars on which orders work), which saves converting whole arrays up
front. A cell the float rule cannot settle (a near tie, or a price that rounds to
nothing) stops the loop; ``exact`` then converts the panel with the engine's own
function (whose results, and errors, are the engine's) and the loop runs again on
those exact ticks, passed as floats with a tick of 1.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from solvent.data.frame import BarData
from solvent.engine.backtest import _snap_ticks
from solvent.fast._jit import internal
from solvent.model.instrument import Instrument

F64 = npt.NDArray[np.float64]

#: Distance from a half tick within which the float quotient does not decide.
TIE_TOLERANCE = 1e-6
#: Volume tolerance: 300.0 / 0.1 (2999.9999...) counts as 3000 lots.
VOLUME_TOLERANCE = 1e-9


@internal
def ticks_nb(price: float, tick: float) -> int:
    """Return ``price`` in ticks (half-even), or -1 when the exact rule must decide."""
    q = price / tick
    r = np.rint(q)
    if abs(q - np.floor(q) - 0.5) < TIE_TOLERANCE or r <= 0:
        return -1
    # ``math.floor`` of the whole float: numba compiles it in place (``int()`` would be
    # one more compiled function).
    ticks: int = math.floor(r)
    return ticks


@internal
def lots_nb(volume: float, lot: float) -> int:
    """Return ``volume`` in whole lot steps, floored."""
    return math.floor(volume / lot + VOLUME_TOLERANCE)


def _readonly(a: F64) -> F64:
    a.setflags(write=False)
    return a


def exact(panel: BarData, insts: list[Instrument]) -> tuple[F64, F64, F64, F64, F64]:
    """Return open, high, low, close as exact ticks (floats) and a tick of 1 per column."""
    present = panel.present
    out = tuple(
        _readonly(_snap_ticks(getattr(panel, k), present, insts, k).astype(np.float64))
        for k in ("open", "high", "low", "close")
    )
    return out[0], out[1], out[2], out[3], _readonly(np.ones(len(insts), dtype=np.float64))
