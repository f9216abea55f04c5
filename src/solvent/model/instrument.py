"""Instruments: what can be traded, on which grid, with which margin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from solvent.accounting.rules import RATE_SCALE
from solvent.errors import InvalidInputError, PrecisionError
from solvent.model.money import USD, Currency, Number, currency, to_decimal, to_steps
from solvent.model.slots import renamer


class AssetClass(StrEnum):
    """Broad asset class; decides defaults only, never a separate code path."""

    EQUITY = "equity"
    FUTURE = "future"
    FX = "fx"
    CRYPTO = "crypto"


def _rate_ppm(value: Decimal, name: str) -> int:
    if value < 0 or value > 1:
        raise InvalidInputError(name, value, "a rate must be between 0 and 1")
    scaled = value * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise PrecisionError(name, value, "rates are kept to 6 decimal places (1 ppm)")
    return int(scaled)


def _frac(x: Decimal) -> tuple[int, int]:
    f = Fraction(x)
    return f.numerator, f.denominator


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument and the grid and margin it trades on.

    Defaults describe a US equity under Reg T: tick 0.01, lot 1, multiplier 1, 50%
    initial margin, 25% long / 30% short maintenance, shortable, no borrow fee.

    Parameters
    ----------
    symbol
        The identifier used in data and orders.
    asset_class
        Equity, future, fx or crypto.
    currency
        The currency prices are quoted in (the account currency in this version).
    tick_size, lot_size, multiplier
        Price grid, quantity grid (fractional lots allowed, e.g. ``0.0001``) and
        contract multiplier.
    initial_margin_long, initial_margin_short, maintenance_margin_long, maintenance_margin_short
        Margin rates as fractions of position value.
    initial_margin_fixed, maintenance_margin_fixed
        Fixed margin per contract (futures); when set they replace the rates.
    shortable
        Whether short sales are allowed at all.
    borrow_fee_rate
        Annual borrow fee on short market value, accrued daily (ACT/360).
    """

    symbol: str
    asset_class: AssetClass = AssetClass.EQUITY
    currency: Currency = USD
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal("1")
    multiplier: Decimal = Decimal("1")
    initial_margin_long: Decimal = Decimal("0.5")
    initial_margin_short: Decimal = Decimal("0.5")
    maintenance_margin_long: Decimal = Decimal("0.25")
    maintenance_margin_short: Decimal = Decimal("0.30")
    initial_margin_fixed: Decimal | None = None
    maintenance_margin_fixed: Decimal | None = None
    shortable: bool = True
    borrow_fee_rate: Decimal = Decimal("0")
    # Derived integer constants, filled in __post_init__ (not constructor arguments).
    k_num: int = field(init=False, repr=False, compare=False)
    k_den: int = field(init=False, repr=False, compare=False)
    im_long_ppm: int = field(init=False, repr=False, compare=False)
    im_short_ppm: int = field(init=False, repr=False, compare=False)
    mm_long_ppm: int = field(init=False, repr=False, compare=False)
    mm_short_ppm: int = field(init=False, repr=False, compare=False)
    borrow_ppm: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not self.symbol:
            raise InvalidInputError("symbol", self.symbol, "must be a non-empty string")
        sym = self.symbol
        setattr_ = object.__setattr__
        setattr_(self, "asset_class", AssetClass(self.asset_class))
        setattr_(self, "currency", currency(self.currency))
        for name in ("tick_size", "lot_size", "multiplier"):
            setattr_(self, name, to_decimal(getattr(self, name), f"{sym}.{name}", positive=True))
        for name in (
            "initial_margin_long",
            "initial_margin_short",
            "maintenance_margin_long",
            "maintenance_margin_short",
            "borrow_fee_rate",
        ):
            setattr_(self, name, to_decimal(getattr(self, name), f"{sym}.{name}"))
        for name in ("initial_margin_fixed", "maintenance_margin_fixed"):
            v = getattr(self, name)
            if v is not None:
                setattr_(self, name, to_decimal(v, f"{sym}.{name}", positive=True))
        if (self.initial_margin_fixed is None) != (self.maintenance_margin_fixed is None):
            raise InvalidInputError(
                f"{sym}.initial_margin_fixed",
                self.initial_margin_fixed,
                "set both fixed initial and fixed maintenance margin, or neither",
            )
        k = (
            Fraction(self.tick_size)
            * Fraction(self.lot_size)
            * Fraction(self.multiplier)
            * 10**self.currency.digits
        )
        setattr_(self, "k_num", k.numerator)
        setattr_(self, "k_den", k.denominator)
        setattr_(self, "im_long_ppm", _rate_ppm(self.initial_margin_long, f"{sym}.initial_margin_long"))
        setattr_(self, "im_short_ppm", _rate_ppm(self.initial_margin_short, f"{sym}.initial_margin_short"))
        setattr_(
            self, "mm_long_ppm", _rate_ppm(self.maintenance_margin_long, f"{sym}.maintenance_margin_long")
        )
        setattr_(
            self, "mm_short_ppm", _rate_ppm(self.maintenance_margin_short, f"{sym}.maintenance_margin_short")
        )
        setattr_(self, "borrow_ppm", _rate_ppm(self.borrow_fee_rate, f"{sym}.borrow_fee_rate"))
        # After the range checks, so a rate out of [0, 1] is reported as itself.
        for side in ("long", "short", "fixed"):
            im, mm = getattr(self, f"initial_margin_{side}"), getattr(self, f"maintenance_margin_{side}")
            if im is not None and mm is not None and mm > im:
                raise InvalidInputError(
                    f"{sym}.maintenance_margin_{side}", mm, "maintenance margin cannot exceed initial margin"
                )

    # -- conversions between user numbers and the integer grid -----------------------

    def price_ticks(self, price: Number, field: str = "price") -> int:
        """Return a positive price in ticks; refuse prices off the tick grid."""
        return to_steps(price, self.tick_size, f"{self.symbol}.{field}", positive=True)

    def qty_lots(self, quantity: Number, field: str = "quantity") -> int:
        """Return a signed quantity in lot steps; refuse quantities off the lot grid."""
        return to_steps(quantity, self.lot_size, f"{self.symbol}.{field}")

    def price(self, ticks: int) -> Decimal:
        """Return the decimal price of ``ticks``."""
        return ticks * self.tick_size

    def quantity(self, lots: int) -> Decimal:
        """Return the decimal quantity of ``lots``."""
        return lots * self.lot_size

    def snap_price(self, price: Number, field: str = "price") -> int:
        """Return a finite positive price rounded half-even to the nearest tick.

        Used for prices the engine computes or reads from bar data (which arrive as
        floats); prices a user types are checked with ``price_ticks`` instead.
        """
        d = to_decimal(price, f"{self.symbol}.{field}", positive=True)
        ticks = int((d / self.tick_size).to_integral_value())  # default context: half-even
        if ticks <= 0:
            raise InvalidInputError(f"{self.symbol}.{field}", price, "rounds to zero ticks")
        return ticks

    def fixed_margin_fraction(self, maintenance: bool) -> tuple[int, int]:
        """Return the fixed margin per lot in minor units as ``(num, den)``."""
        fixed = self.maintenance_margin_fixed if maintenance else self.initial_margin_fixed
        assert fixed is not None  # noqa: S101 - internal: only called when set
        f = Fraction(fixed) * Fraction(self.lot_size) * 10**self.currency.digits
        return f.numerator, f.denominator


def equity(symbol: str, **overrides: object) -> Instrument:
    """Return a US-equity ``Instrument`` with Reg T defaults, optionally overridden."""
    return Instrument(symbol, **overrides)  # type: ignore[arg-type]


#: The exact grid of ``derived_prices="exact"`` (slippage and percentage levels of cent
#: prices in whole basis points are exact on it).
EXACT_TICK = Decimal("0.000001")

# Checked default instruments by grid, keyed on the decimals' text so that "0.5" and
# "0.50" (equal, but printed differently) each keep their own.
_TEMPLATES: dict[tuple[str, str, str], Instrument] = {}


#: ``_renamed(template, symbol)``: ``template`` under another symbol, without re-running its
#: checks. Nothing ``__post_init__`` derives depends on the symbol (it only names fields
#: in errors), so a copy of a checked instrument is the instrument ``Instrument(symbol,
#: ...)`` would build, at a fraction of the cost (no ``Fraction`` or ``Decimal`` work,
#: and the slots assigned through a twin class: 0.5 µs, not 3.5).
_renamed = renamer(Instrument, "symbol")


def default_instruments(
    symbols: Iterable[str], derived_prices: object, initial_margin: Number, lot_size: Number
) -> list[Instrument]:
    """Return each symbol's default instrument under a run's settings.

    The one definition of the instrument ``solvent.backtest`` and ``solvent.fast``
    trade a symbol as when the user gives none: a US equity (``Instrument``'s
    defaults) on the tick of ``derived_prices`` (0.01, or ``EXACT_TICK`` for
    ``"exact"``), with the run's lot size and initial margin, long and short;
    maintenance stays at Reg T's 25% / 30% unless the initial rate is lower.

    Parameters
    ----------
    symbols
        The symbols (an empty iterable only checks the settings).
    derived_prices
        ``"tick"`` or ``"exact"``.
    initial_margin
        The initial margin rate, in ``(0, 1]``.
    lot_size
        The quantity grid, positive.

    Raises
    ------
    InvalidInputError
        A setting outside its values (named), or a symbol that is not a non-empty string.
    PrecisionError
        A margin rate finer than 1 ppm (named after the first symbol).
    """
    if derived_prices not in ("tick", "exact"):
        raise InvalidInputError("derived_prices", derived_prices, "must be 'tick' or 'exact'")
    im = to_decimal(initial_margin, "initial_margin", positive=True)
    if im > 1:
        raise InvalidInputError("initial_margin", initial_margin, "is a rate: at most 1")
    lot = to_decimal(lot_size, "lot_size", positive=True)
    tick = EXACT_TICK if derived_prices == "exact" else Decimal("0.01")
    key = (str(tick), str(im), str(lot))
    out: list[Instrument] = []
    for s in symbols:
        template = _TEMPLATES.get(key)
        if template is None:
            # Built (and checked) under the first symbol asked for, so an error names it.
            template = Instrument(
                s,
                tick_size=tick,
                lot_size=lot,
                initial_margin_long=im,
                initial_margin_short=im,
                maintenance_margin_long=min(im, Decimal("0.25")),
                maintenance_margin_short=min(im, Decimal("0.30")),
            )
            if len(_TEMPLATES) >= 256:  # a sweep over many grids: stay bounded
                _TEMPLATES.clear()
            _TEMPLATES[key] = template
            out.append(template)
            continue
        if not isinstance(s, str) or not s:
            raise InvalidInputError("symbol", s, "must be a non-empty string")
        out.append(_renamed(template, s))
    return out
