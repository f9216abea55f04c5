"""solvent: backtests and paper trading that cannot spend money they do not have."""

from typing import TYPE_CHECKING, Any

from solvent.accounting.account import Account, AccountKind, BuyingPowerMode
from solvent.accounting.reservations import ReservationResult
from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
from solvent.accounting.view import AccountView
from solvent.audit import audit  # solvent.audit(strategy, data, against="vectorbt", cash=...)
from solvent.engine import Context, ParameterError, Strategy, backtest
from solvent.errors import (
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidInputError,
    PrecisionError,
    SolventError,
    UnknownReservationError,
    UnknownSymbolError,
)
from solvent.execution.broker import OrderView, SimulatedBroker
from solvent.execution.gatekeeper import Validation
from solvent.model.bar import Bar
from solvent.model.calendar import BusinessCalendar
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import USD, Currency, Money
from solvent.model.orders import Intent, Order, OrderStatus, OrderType, Rejection, StatusChange, TimeInForce
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
from solvent.profiles import PROFILES, WATERFALL_ORDER, Profile, resolve_profile
from solvent.results.result import Result
from solvent.risk import (
    LiquidationPolicy,
    LiveMarginMonitor,
    MarginBands,
    MarginEvent,
    PdtPolicy,
    TradingState,
)

if TYPE_CHECKING:  # for type checkers; at run time ``__getattr__`` below imports it on first use
    from solvent import fast as fast  # the compiled fast path: solvent.fast.from_signals, ...

__version__ = "0.1.0"

#: Subpackages imported on first attribute access (PEP 562). ``solvent.fast`` brings numba
#: and LLVM (about 90 MB and 0.3 s to import, 60 MB more on its first call), which
#: ``import solvent`` and the event engine never need; ``solvent.fast.from_signals`` and
#: ``import solvent.fast`` work as before.
_LAZY = ("fast",)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415 - only on first use

        # The import also binds the attribute on this package: later lookups skip this hook.
        return importlib.import_module(f"solvent.{name}")
    raise AttributeError(f"module 'solvent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "PROFILES",
    "USD",
    "WATERFALL_ORDER",
    "Account",
    "AccountKind",
    "AccountSnapshot",
    "AccountView",
    "AssetClass",
    "Bar",
    "BusinessCalendar",
    "BuyingPowerMode",
    "CashEvent",
    "CashEventKind",
    "Context",
    "Currency",
    "CurrencyMismatchError",
    "Fill",
    "FillReport",
    "Instrument",
    "InsufficientFundsError",
    "Intent",
    "InvalidInputError",
    "LiquidationPolicy",
    "LiveMarginMonitor",
    "MarginBands",
    "MarginEvent",
    "Money",
    "Order",
    "OrderStatus",
    "OrderType",
    "OrderView",
    "ParameterError",
    "PdtPolicy",
    "PositionSnapshot",
    "PrecisionError",
    "Profile",
    "ReasonCode",
    "Rejection",
    "ReservationResult",
    "Result",
    "Side",
    "SimulatedBroker",
    "SolventError",
    "StatusChange",
    "Strategy",
    "TimeInForce",
    "Trade",
    "TradingState",
    "UnknownReservationError",
    "UnknownSymbolError",
    "Validation",
    "Verdict",
    "__version__",
    "audit",
    "backtest",
    "make_fill",
    "resolve_profile",
]
