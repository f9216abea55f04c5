"""``solvent.model.slots.maker``: the hot path's records equal the ones ``__init__`` builds."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

import pandas as pd
import pytest

from solvent.model.bar import Bar
from solvent.model.money import USD, Money
from solvent.model.orders import OrderStatus, StatusChange
from solvent.model.records import Fill, ReasonCode, Side, Trade, exact_fill
from solvent.model.slots import maker

T0 = pd.Timestamp("2024-01-02")


def test_maker_builds_the_record_init_builds_equal_and_frozen() -> None:
    values = (
        "AAA",
        Decimal(3),
        T0,
        Decimal("1.5"),
        T0,
        Decimal(2),
        Money(1, USD),
        Money(2, USD),
        Money(0, USD),
    )
    values += ("o1", "o2", None)
    made = maker(Trade)(*values)
    assert made == Trade(*values)
    assert [getattr(made, f.name) for f in fields(Trade)] == list(values)
    with pytest.raises(AttributeError):
        made.symbol = "BBB"  # type: ignore[misc]


def test_maker_follows_field_order_of_each_class() -> None:
    change = maker(StatusChange)("o1", T0, OrderStatus.FILLED, Decimal(5), ReasonCode.SCALED_DOWN, "cut")
    assert change == StatusChange("o1", T0, OrderStatus.FILLED, Decimal(5), ReasonCode.SCALED_DOWN, "cut")
    assert maker(Bar)(T0, 1, 2, 0, 1, 10) == Bar(T0, 1, 2, 0, 1, 10)


def test_maker_missing_field_raises_type_error() -> None:
    with pytest.raises(TypeError):
        maker(Bar)(T0, 1, 2, 0, 1)


@dataclass(frozen=True)
class _NoSlots:
    a: int


@dataclass(frozen=True, slots=True)
class _Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a")


@pytest.mark.parametrize("cls", [_NoSlots, _Checked, int])
def test_maker_of_unslotted_or_checked_class_raises_type_error(cls: type) -> None:
    with pytest.raises(TypeError, match="slotted dataclass"):
        maker(cls)


@dataclass(frozen=True, slots=True)
class _Base:
    a: int


@dataclass(frozen=True, slots=True)
class _Derived(_Base):
    b: int


def test_maker_record_is_of_the_class_hashes_and_stays_frozen() -> None:
    made = maker(StatusChange)("o1", T0, OrderStatus.FILLED, Decimal(5), None, "")
    built = StatusChange("o1", T0, OrderStatus.FILLED, Decimal(5), None, "")
    assert type(made) is StatusChange
    assert hash(made) == hash(built)
    assert repr(made) == repr(built)
    with pytest.raises(AttributeError):
        made.detail = "changed"  # type: ignore[misc]


def test_maker_of_class_with_slotted_base_sets_every_field() -> None:
    made = maker(_Derived)(1, 2)
    assert type(made) is _Derived
    assert made == _Derived(1, 2)
    with pytest.raises(AttributeError):
        made.b = 3  # type: ignore[misc]


def test_exact_fill_equals_checked_fill_and_maker_refuses_fill_without_opt_in() -> None:
    values = (
        "AAA",
        Decimal(-3),
        Decimal("10.25"),
        T0,
        Decimal("0.03"),
        Decimal("0.00"),
        "o7",
        "t",
        Side.SELL,
    )
    assert exact_fill(*values) == Fill(*values)
    assert type(exact_fill(*values)) is Fill
    with pytest.raises(TypeError, match="slotted dataclass"):
        maker(Fill)


def test_renamer_copies_every_slot_of_an_instrument_under_another_symbol() -> None:
    from dataclasses import FrozenInstanceError

    from solvent.model.instrument import Instrument, default_instruments
    from solvent.model.slots import renamer

    template = Instrument("AAA", lot_size=Decimal("0.1"), multiplier=3, initial_margin_long=Decimal("0.4"))
    copy = renamer(Instrument, "symbol")(template, "BBB")
    fresh = Instrument("BBB", lot_size=Decimal("0.1"), multiplier=3, initial_margin_long=Decimal("0.4"))
    assert type(copy) is Instrument and copy == fresh and hash(copy) == hash(fresh)
    for name in Instrument.__slots__:  # derived slots (k_num, the ppm rates) too
        assert getattr(copy, name) == getattr(fresh, name), name
    with pytest.raises(FrozenInstanceError):
        copy.symbol = "CCC"  # type: ignore[misc]
    # The defaults of a run: each symbol's instrument is the one its constructor builds.
    for inst in default_instruments(["X", "Y", "Z"], "tick", Decimal("0.5"), 1):
        built = Instrument(
            inst.symbol,
            initial_margin_long=Decimal("0.5"),
            initial_margin_short=Decimal("0.5"),
            maintenance_margin_long=Decimal("0.25"),
            maintenance_margin_short=Decimal("0.30"),
        )
        assert all(getattr(inst, n) == getattr(built, n) for n in Instrument.__slots__)


def test_renamer_of_a_missing_slot_raises_type_error() -> None:
    from solvent.model.instrument import Instrument
    from solvent.model.slots import renamer

    with pytest.raises(TypeError, match="no slot 'name'"):
        renamer(Instrument, "name")
