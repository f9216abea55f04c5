"""The default instrument of a symbol: one definition, shared by both engines, built cheaply."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

import numpy as np
import pytest

import solvent
from solvent.data import BarData
from solvent.errors import InvalidInputError, PrecisionError
from solvent.fast import from_signals
from solvent.model.instrument import EXACT_TICK, Instrument, default_instruments


def _built(symbol: str, tick: str, im: str, lot: str) -> Instrument:
    """The instrument ``Instrument(...)`` builds (and checks) for the default grid."""
    rate = Decimal(im)
    return Instrument(
        symbol,
        tick_size=Decimal(tick),
        lot_size=Decimal(lot),
        initial_margin_long=rate,
        initial_margin_short=rate,
        maintenance_margin_long=min(rate, Decimal("0.25")),
        maintenance_margin_short=min(rate, Decimal("0.30")),
    )


def _every_field(inst: Instrument) -> tuple[object, ...]:
    # Derived fields are compare=False, so ``==`` alone would not see them.
    return tuple((f.name, repr(getattr(inst, f.name))) for f in fields(inst))


@pytest.mark.parametrize(
    ("derived", "tick", "im", "lot"),
    [("tick", "0.01", "0.5", "1"), ("exact", str(EXACT_TICK), "0.2", "0.1"), ("tick", "0.01", "1", "1")],
)
def test_default_instruments_equal_a_checked_build_field_for_field(
    derived: str, tick: str, im: str, lot: str
) -> None:
    got = default_instruments(["AAA", "BBB", "CCC"], derived, Decimal(im), Decimal(lot))
    for inst, symbol in zip(got, ["AAA", "BBB", "CCC"], strict=True):
        assert _every_field(inst) == _every_field(_built(symbol, tick, im, lot))
    # 0.2 initial margin: maintenance drops to 0.2 long and short (never above initial).
    assert got[1].mm_short_ppm == min(int(Decimal(im) * 1_000_000), 300_000)


def test_default_instruments_keep_the_rate_as_written() -> None:
    # 0.5 and 0.50 are equal decimals but print differently; each run keeps its own.
    half = default_instruments(["X"], "tick", Decimal("0.5"), 1)[0]
    halves = default_instruments(["X"], "tick", Decimal("0.50"), 1)[0]
    assert repr(half.initial_margin_long) == "Decimal('0.5')"
    assert repr(halves.initial_margin_long) == "Decimal('0.50')"


def test_default_instruments_bad_settings_raise_naming_the_field() -> None:
    with pytest.raises(InvalidInputError, match="derived_prices"):
        default_instruments([], "float", Decimal("0.5"), 1)
    with pytest.raises(InvalidInputError, match="initial_margin"):
        default_instruments([], "tick", Decimal("1.5"), 1)
    with pytest.raises(InvalidInputError, match="lot_size"):
        default_instruments([], "tick", Decimal("0.5"), 0)
    # A rate finer than 1 ppm is refused by the instrument, named after the first symbol.
    with pytest.raises(PrecisionError, match=r"ZZZ\.initial_margin_long"):
        default_instruments(["ZZZ", "X"], "tick", Decimal("0.1234567"), 1)
    with pytest.raises(InvalidInputError, match="symbol"):
        default_instruments(["X", ""], "tick", Decimal("0.5"), 1)


def test_both_engines_trade_the_default_instrument_at_the_same_fill() -> None:
    # 1,000.00 cash, margin 0.25 (4x), lot 0.5: buys 1,000 / 0.25 / 10.00 = 400 shares.
    o = np.full((3, 1), 10.0)
    panel = BarData(
        np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[ns]"),
        ["X"],
        o,
        o,
        o,
        o,
        np.full((3, 1), 1e6),
    )
    entries = np.array([[True], [False], [False]])
    kw = {"cash": 1_000, "initial_margin": Decimal("0.25"), "lot_size": Decimal("0.5")}
    fast = from_signals(panel, entries, size=400, **kw)
    event = solvent.backtest(_Buy400, panel, **kw)
    assert fast.fills["quantity"].tolist() == [Decimal("400")]
    assert event.fills["quantity"].tolist() == [Decimal("400")]
    assert fast.cash_minor.tolist() == [100_000 - 400_000]


class _Buy400(solvent.Strategy):
    def on_bar(self, ctx: solvent.Context) -> None:
        if ctx.position("X") == 0 and not ctx.open_orders("X"):
            ctx.order("X", 400)
