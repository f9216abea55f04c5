"""Typed exceptions.

Refusals (an order the account cannot afford, a short in a cash account) are *results*
with a reason code, not exceptions. The exceptions here are for broken preconditions:
caller bugs such as an unknown symbol, a NaN price or a quantity off the lot grid. Each
names the field (and symbol or timestamp where known) so the message says what to fix.
"""

from __future__ import annotations


class SolventError(Exception):
    """Base class of every error solvent raises on purpose."""


class InvalidInputError(SolventError, ValueError):
    """A value at the API boundary is unusable (NaN, infinite, non-positive, wrong type)."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}={value!r}: {problem}")


class PrecisionError(InvalidInputError):
    """A number does not sit exactly on the grid it must sit on (cent, tick, lot step)."""


class UnknownSymbolError(SolventError, KeyError):
    """An operation names a symbol the account or data set does not know."""

    def __init__(self, symbol: str, where: str = "account") -> None:
        self.symbol = symbol
        super().__init__(f"unknown symbol {symbol!r} in {where}; register its Instrument first")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class UnknownReservationError(SolventError, KeyError):
    """``confirm`` or ``release`` names an order id that holds no reservation."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"no reservation is held for order id {order_id!r}")

    def __str__(self) -> str:
        return str(self.args[0])


class CurrencyMismatchError(SolventError, ValueError):
    """Two amounts in different currencies were combined."""


class InsufficientFundsError(SolventError):
    """Raised in ``strict`` validation mode when an order cannot be afforded.

    In the default ``reject`` mode the same situation is a refusal with the reason code
    ``INSUFFICIENT_BUYING_POWER`` and the run continues.
    """

    def __init__(self, message: str, *, order_id: str | None = None) -> None:
        self.order_id = order_id
        super().__init__(message)
