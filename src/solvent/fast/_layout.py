"""Column layouts of the integer tables the compiled kernels share (no logic here).

Numba freezes module-level globals as compile-time constants, so ``od[row, O_LOTS]``
compiles to a fixed offset. The constants are numpy ``int64`` scalars rather than
Python ints: numba types a Python int as its own literal type, and every distinct
literal would make another specialization of the code that receives it. Every table is
``int64``; flags are 0/1.
"""

from __future__ import annotations

import numpy as np

from solvent.model.records import ReasonCode, Side


def _i(value: int) -> int:
    """Return ``value`` as a numpy ``int64`` (typed ``int``: it is one, for the kernels)."""
    return np.int64(value)  # type: ignore[return-value]


def _b(value: bool) -> bool:
    """Return ``value`` as a numpy ``bool_``."""
    return np.bool_(value)  # type: ignore[return-value]


# Constants passed as arguments between compiled functions. numba types a literal
# argument (``f(x, 0)``) as ``Literal[int](0)`` and compiles the callee once more for
# it; numpy scalars are plain ``int64``/``bool``, so every call shares one compilation.
ZERO = _i(0)
ONE = _i(1)
BUY = _i(1)
SELL = _i(-1)
FULL_PPM = _i(1_000_000)
TRUE = _b(True)
FALSE = _b(False)

# -- run parameters (P) ------------------------------------------------------------------
P_CASH = _i(0)  # starting cash of each account, minor units
P_KIND_CASH = _i(1)  # 1: cash account, 0: margin account
P_BASE = _i(2)  # ppm the account quotes buying power at (100% cash, 50% Reg T margin)
P_PARTIAL = _i(3)  # 1: scale entries down to what is affordable
P_VOL_NUM = _i(4)  # volume cap as num/den of bar volume; den 0: no cap
P_VOL_DEN = _i(5)
P_SLIP_NUM = _i(6)  # slippage as num/den of price (0/1: none)
P_SLIP_DEN = _i(7)
P_SIZE_KIND = _i(8)  # SIZE_LOTS or SIZE_VALUE
P_PCT_NUM = _i(9)  # value sizes: budget = all * num // den
P_PCT_DEN = _i(10)
P_HAS_EXITS = _i(11)
P_HAS_SHORT = _i(12)
P_MODE = _i(13)  # MODE_SIGNALS or MODE_TARGETS
P_AT_RISK = _i(14)  # margin bands (ppm of NLV / gross exposure), the monitor's defaults
P_CALL = _i(15)
P_LIQUIDATING = _i(16)
# The broker settings a profile chooses (``execution.policies``), 1 for the permissive value.
P_SAME_BAR = _i(17)  # fill_timing="same_bar_close": a second pass at the decision bar's close
P_ZERO_FILL = _i(18)  # zero_volume="fill": a zero-volume bar fills as one without volume data
P_CREDIT = _i(19)  # short_cash="credit": shorts unchecked, buys checked against cash
P_LEG_FEES = _i(20)  # fixed_fee_per="leg": a flip's legs are charged as two orders
P_PLACE_CHECK = _i(21)  # placement_check: check and reserve entries when placed
P_CANCEL = _i(22)  # unfunded="cancel": what the fill cannot fund is cancelled
NP = _i(23)

MODE_SIGNALS = _i(0)
MODE_TARGETS = _i(1)

# signal actions, resolved per symbol and bar
ACT_NONE = _i(0)
ACT_LONG = _i(1)
ACT_SHORT = _i(2)
ACT_EXIT_LONG = _i(3)
ACT_EXIT_SHORT = _i(4)
ACT_EXIT_ANY = _i(5)

SIZE_LOTS = _i(0)
SIZE_VALUE = _i(1)

# -- one account's scalars (AC) ----------------------------------------------------------
A_CASH = _i(0)
A_RESERVED = _i(1)  # total buying power held by working orders
A_NEXT_ID = _i(2)  # the next order number (o1, o2, ... as the event engine names them)
A_NOPEN = _i(3)  # working orders, in placement order, in ``olist[:A_NOPEN]``
A_INDEX = _i(4)  # the account's column in the outputs
NA = _i(5)

# -- one account's symbols (Y): static part, then per-bar state ------------------------
Y_COL = _i(0)  # data column
Y_SLOT = _i(1)  # input (signal / weight) column
Y_KNUM = _i(2)  # ticks * lots -> minor units is k_num / k_den
Y_KDEN = _i(3)
Y_IML = _i(4)  # initial margin, long / short, ppm
Y_IMS = _i(5)
Y_SHORTABLE = _i(6)
Y_SIZE = _i(7)  # fixed entry size in lots (SIZE_LOTS)
Y_QTY = _i(8)  # signed position, lots
Y_MARK = _i(9)  # the position's mark, ticks
Y_LAST = _i(10)  # last close seen, ticks (0: none yet)
Y_BUDGET = _i(11)  # volume left this bar, lots (-1: no cap)
Y_PRESENT = _i(12)  # the symbol has a bar now
Y_OPEN = _i(13)
Y_HIGH = _i(14)
Y_LOW = _i(15)
Y_CLOSE = _i(16)
Y_VOL = _i(17)
Y_MML = _i(18)
Y_MMS = _i(19)
Y_STALE = _i(20)  # 1: Y_LAST/Y_MARK not yet read from this bar's close (flat, no orders)
NY = _i(21)

# -- instruments (I), one row per data column -------------------------------------------
I_KNUM = _i(0)
I_KDEN = _i(1)
I_IML = _i(2)
I_IMS = _i(3)
I_SHORTABLE = _i(4)
I_MML = _i(5)  # maintenance margin, long / short, ppm
I_MMS = _i(6)
NI = _i(7)

# -- orders (O), one row per working market order ---------------------------------------
O_K = _i(0)  # symbol row in Y
O_LOTS = _i(1)  # signed working quantity (after a placement cut; value orders: resolved at fill)
O_FILLED = _i(2)  # signed
O_NOTIONAL = _i(3)  # cumulative absolute notional filled
O_COMM = _i(4)  # commission charged so far
O_VALUE = _i(5)  # money budget of a value order (0: a quantity order)
O_RESERVED = _i(6)
O_RES_AMT = _i(7)  # reservation as placed
O_RES_LEFT = _i(8)  # what it still holds
O_CREDIT = _i(9)  # pending-exit buying power it relied on at placement
O_DEFERRED = _i(10)  # a deferral note was recorded
O_CLOSE = _i(11)  # intent CLOSE
O_BAR = _i(12)  # bar it was placed after (fills from the next one)
O_ID = _i(13)
O_SIDE = _i(14)  # +1 buy, -1 sell
O_ALIVE = _i(15)
O_C_LOTS = _i(16)  # the closing side's lots, notional and commission (fixed_fee_per="leg")
O_C_NOTIONAL = _i(17)
O_C_PAID = _i(18)
NO = _i(19)

# -- commission components (CM[column, component, :]) -----------------------------------
C_TYPE = _i(0)
C_NONE = _i(0)
C_VALUE = _i(1)  # (num, den) of notional
C_PER_SHARE = _i(2)  # (fee_num, fee_den, minimum, cap_num, cap_den)
C_FIXED = _i(3)  # (amount)
NC = _i(6)

# -- fill legs (FB) -----------------------------------------------------------------------
F_ACCT = _i(0)
F_SLOT = _i(1)
F_BAR = _i(2)
F_ORDER = _i(3)
F_SIDE = _i(4)
F_LOTS = _i(5)  # unsigned
F_PRICE = _i(6)  # ticks
F_COMM = _i(7)  # minor units
F_SLIP = _i(8)  # minor units
NF = _i(9)

SIDE_BUY = _i(0)
SIDE_SELL = _i(1)
SIDE_SELL_SHORT = _i(2)
SIDE_BUY_TO_COVER = _i(3)
SIDES = (Side.BUY, Side.SELL, Side.SELL_SHORT, Side.BUY_TO_COVER)

# -- rejections (RB) ----------------------------------------------------------------------
R_ACCT = _i(0)
R_SLOT = _i(1)
R_BAR = _i(2)
R_ORDER = _i(3)
R_LOTS = _i(4)  # signed: the order's quantity (placement) or what is left (at fill)
R_REASON = _i(5)
R_AT_FILL = _i(6)
NR = _i(7)

REASON_BP = _i(0)
REASON_SHORTING = _i(1)
REASON_NOT_SHORTABLE = _i(2)
REASON_ZERO_VOLUME = _i(3)
REASON_VOLUME_LIMIT = _i(4)
REASON_MARKET_CLOSED = _i(5)
REASON_INTENT = _i(6)
REASONS = (
    ReasonCode.INSUFFICIENT_BUYING_POWER,
    ReasonCode.SHORTING_NOT_ALLOWED,
    ReasonCode.NOT_SHORTABLE,
    ReasonCode.ZERO_VOLUME,
    ReasonCode.VOLUME_LIMIT,
    ReasonCode.MARKET_CLOSED,
    ReasonCode.INTENT_MISMATCH,
)

# counters (CNT)
N_FILLS = _i(0)
N_REJ = _i(1)
N_UNSETTLED = _i(2)  # a price the float rule cannot snap: convert exactly and rerun
N_OVERFLOW = _i(3)  # the bar at which a target would overflow 64 bits, plus one (0: none)
N_GENERIC = _i(4)  # a lean kernel met what it leaves out (a short, a margin call): rerun generic
NCNT = _i(5)
