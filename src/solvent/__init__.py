"""solvent: backtests and paper trading that cannot spend money they do not have."""

from solvent.accounting.account import Account, AccountKind, BuyingPowerMode
from solvent.accounting.reservations import ReservationResult
from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
from solvent.accounting.view import AccountView
from solvent.errors import (
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidInputError,
    PrecisionError,
    SolventError,
    UnknownReservationError,
    UnknownSymbolError,
)
from solvent.model.calendar import BusinessCalendar
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import USD, Currency, Money
from solvent.model.records import (
    CashEvent,
    CashEventKind,
    Fill,
    FillReport,
    ReasonCode,
    Side,
    Trade,
    Verdict,
    make_fill,
)

__version__ = "0.1.0"

__all__ = [
    "USD",
    "Account",
    "AccountKind",
    "AccountSnapshot",
    "AccountView",
    "AssetClass",
    "BusinessCalendar",
    "BuyingPowerMode",
    "CashEvent",
    "CashEventKind",
    "Currency",
    "CurrencyMismatchError",
    "Fill",
    "FillReport",
    "Instrument",
    "InsufficientFundsError",
    "InvalidInputError",
    "Money",
    "PositionSnapshot",
    "PrecisionError",
    "ReasonCode",
    "ReservationResult",
    "Side",
    "SolventError",
    "Trade",
    "UnknownReservationError",
    "UnknownSymbolError",
    "Verdict",
    "__version__",
    "make_fill",
]
