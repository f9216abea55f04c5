"""Speed round 4: the cash account's shortcuts give the records the generic paths give.

For a cash account with a value fee (``PercentOfValue``, ``BasisPoints``) on the cent
grid, the broker prices the placement check, the fill-time check and ``order_value``
sizing directly instead of through ``_cost_fn``. A subclass of ``PercentOfValue`` owes
the very same fees but is not one of the lowered types, so it takes the generic paths:
every order, fill, refusal and reservation must come out the same under both.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent import Account
from solvent.execution.broker import SimulatedBroker
from solvent.execution.costs import PercentOfValue
from solvent.model.bar import Bar


class _SameFeeGeneric(PercentOfValue):
    """``PercentOfValue``'s fee through the generic cost function (not a lowered type)."""

    __slots__ = ()


_STAMPS = pd.date_range("2024-01-02", periods=40, freq="D")

# One step: ("buy", lots) | ("value", cents) | ("sell", lots) | ("close",), then a bar
# opening at ``open_cents`` (high 2% above, low 2% below).
_steps = st.lists(
    st.tuples(
        st.sampled_from(["buy", "value", "sell", "close", "none"]),
        st.integers(1, 400),
        st.integers(1, 3_000_000),
        st.integers(500, 30_000),
    ),
    min_size=1,
    max_size=12,
)


def _run(model: PercentOfValue, cash: int, steps: list[tuple[str, int, int, int]], partial: bool) -> tuple:
    acct = Account(Decimal(cash) / 100, kind="cash", instruments=["X", "Y"])
    broker = SimulatedBroker(acct, commission=model, volume_limit=None, partial_fills=partial)
    broker.observe_close("X", 10_000)
    broker.observe_close("Y", 2_500)
    for k, (what, lots, cents, open_cents) in enumerate(steps):
        ts = _STAMPS[2 * k]
        sym = "X" if k % 2 == 0 else "Y"
        if what == "buy":
            broker.submit(sym, lots, ts)
        elif what == "value":
            broker.submit_value(sym, Decimal(cents) / 100, ts)
        elif what == "sell" and acct.position_lots(sym) > 0:
            broker.submit(sym, -min(lots, acct.position_lots(sym)), ts)
        elif what == "close" and acct.position_lots(sym) > 0:
            broker._submit_lots(sym, -acct.position_lots(sym), ts, None, None)
        nxt = _STAMPS[2 * k + 1]
        bars = {
            s: Bar(nxt, open_cents, open_cents * 102 // 100, open_cents * 98 // 100, open_cents, 10**9)
            for s in ("X", "Y")
        }
        broker.on_bar(nxt, bars)
    views = [
        (v.status, v.quantity, v.filled_quantity, v.avg_fill_price, v.commission, v.reason)
        for v in broker.orders()
    ]
    return views, list(broker.fills), [(r.reason, r.detail, r.at_fill) for r in broker.rejections], acct._cash


@settings(max_examples=150, deadline=None)
@given(
    fee_ppm=st.integers(0, 30_000),
    cash=st.integers(0, 50_000_000),
    steps=_steps,
    partial=st.booleans(),
)
def test_cash_account_value_fee_shortcuts_same_records_as_generic(
    fee_ppm: int, cash: int, steps: list[tuple[str, int, int, int]], partial: bool
) -> None:
    fraction = Decimal(fee_ppm) / 1_000_000
    lowered = _run(PercentOfValue(fraction), cash, steps, partial)
    generic = _run(_SameFeeGeneric(fraction), cash, steps, partial)
    assert lowered == generic
