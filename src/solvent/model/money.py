"""Exact money and exact decimal conversion at the API boundary.

Inside the ledger every amount is an ``int`` in the currency's minor unit (cents for
USD). ``Money`` is the value type users see: an integer of minor units plus its
currency, printed with exactly the currency's digits (``"7020.00"``).

Floats are accepted at the boundary only when they are *exactly* on the grid they must
sit on. "Exactly" means the float's shortest round-trip representation (``repr``) is a
multiple of the step: ``0.1`` is accepted as a dollar amount (it prints as ``0.1``),
``100.005`` is refused for a 0.01 tick, and ``0.1 + 0.2`` (``0.30000000000000004``) is
refused everywhere. Pass a ``Decimal``, an ``int`` or a ``str`` to be unambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

from solvent.errors import CurrencyMismatchError, InvalidInputError, PrecisionError
from solvent.model.slots import maker

#: Anything the public API accepts where a decimal number is expected.
Number = int | float | Decimal | str


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO-style currency code and how many decimal digits its minor unit has."""

    code: str
    digits: int = 2

    def __post_init__(self) -> None:
        if not self.code or not isinstance(self.code, str):
            raise InvalidInputError("currency.code", self.code, "must be a non-empty string")
        if not 0 <= self.digits <= 18:
            raise InvalidInputError("currency.digits", self.digits, "must be between 0 and 18")

    @property
    def step(self) -> Decimal:
        """Return the minor unit as a decimal amount (``0.01`` for USD)."""
        return Decimal(1).scaleb(-self.digits)

    def __str__(self) -> str:
        return self.code


USD = Currency("USD", 2)
EUR = Currency("EUR", 2)
GBP = Currency("GBP", 2)
JPY = Currency("JPY", 0)
USDT = Currency("USDT", 2)

_CURRENCIES = {c.code: c for c in (USD, EUR, GBP, JPY, USDT)}


def currency(code: str | Currency) -> Currency:
    """Return the ``Currency`` for a code (``"USD"``) or pass a ``Currency`` through."""
    if isinstance(code, Currency):
        return code
    try:
        return _CURRENCIES[code.upper()]
    except (KeyError, AttributeError):
        raise InvalidInputError(
            "currency", code, "unknown currency code; pass Currency(code, digits)"
        ) from None


def to_decimal(value: Number | object, field: str, *, positive: bool = False) -> Decimal:
    """Convert a boundary value to ``Decimal`` without inventing digits.

    Parameters
    ----------
    value
        An ``int``, ``Decimal``, ``str`` or ``float``. A float is read through its
        shortest round-trip representation, so ``0.1`` becomes ``Decimal("0.1")``.
    field
        Name used in the error message (``"price"``, ``"fill.quantity"`` ...).
    positive
        Refuse zero and negative values.

    Raises
    ------
    InvalidInputError
        For NaN, infinities, booleans, unparsable strings, or non-positive values when
        ``positive`` is set.
    """
    if isinstance(value, bool):
        raise InvalidInputError(field, value, "a boolean is not a number")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(field, value, "must be a finite number")
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInputError(field, value, "is not a decimal number") from None
    else:
        # numpy scalars land here: convert through their Python equivalent.
        item = getattr(value, "item", None)
        if callable(item):
            return to_decimal(item(), field, positive=positive)
        raise InvalidInputError(field, value, f"expected a number, got {type(value).__name__}")
    if not d.is_finite():
        raise InvalidInputError(field, value, "must be a finite number")
    if positive and d <= 0:
        raise InvalidInputError(field, value, "must be greater than zero")
    return d


def to_steps(value: Number, step: Decimal, field: str, *, positive: bool = False) -> int:
    """Return ``value / step`` as an exact integer, or raise ``PrecisionError``.

    This is the one place where user numbers enter the integer ledger: prices become
    ticks, quantities become lot steps, money becomes minor units.
    """
    d = to_decimal(value, field, positive=positive)
    # Integer arithmetic, not ``d / step``: Decimal division rounds to the context's 28
    # digits, which would accept a value off the grid in its 29th digit and round huge
    # quantities silently.
    num, den = d.as_integer_ratio()
    step_num, step_den = step.as_integer_ratio()
    q, r = divmod(num * step_den, den * step_num)
    if r:
        # The hint names the nearest multiple of the step (ties to even), or the smallest
        # non-zero one when that is zero. Not ``quantize``: it rounds to the step's
        # exponent, not to the step (25.5 with a step of 5 would suggest 26).
        steps = round(Fraction(num * step_den, den * step_num))
        what = "the nearest"
        if steps == 0:
            steps, what = (1 if d > 0 else -1), "the smallest"
        with localcontext() as exact:  # wide enough for any product: no rounding
            exact.prec = len(str(abs(steps))) + len(step.as_tuple().digits) + 2
            hint = f" ({what} is Decimal('{step * steps}'))"
        raise PrecisionError(field, value, f"is not a multiple of {step}; round it to the grid{hint}")
    return q


def to_minor(value: Number, ccy: Currency, field: str) -> int:
    """Return an amount in minor units; the amount must be exact to the minor unit."""
    return to_steps(value, ccy.step, field)


def fraction_of(d: Decimal) -> Fraction:
    """Return a ``Decimal`` as an exact ``Fraction``."""
    return Fraction(d)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units of a currency.

    Compare and add only with ``Money`` of the same currency. ``str(Money)`` prints
    exactly the currency's digits, e.g. ``"7020.00"``.
    """

    minor: int
    currency: Currency = USD

    @classmethod
    def of(cls, value: Number, ccy: Currency | str = USD) -> Money:
        """Build ``Money`` from a decimal amount that is exact to the minor unit."""
        c = currency(ccy)
        return cls(to_minor(value, c, "money"), c)

    @property
    def amount(self) -> Decimal:
        """Return the amount as a ``Decimal`` with the currency's digits."""
        return Decimal(self.minor).scaleb(-self.currency.digits)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def __str__(self) -> str:
        return format(self.amount, "f")

    def __repr__(self) -> str:
        return f"Money('{self}', {self.currency.code})"


#: ``Money(minor, currency)`` for an ``int`` the ledger computed, without the frozen
#: ``__init__`` (``Money`` checks nothing in it): three per closed trade, one per view.
new_money: Callable[[int, Currency], Money] = maker(Money)
