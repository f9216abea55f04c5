"""solvent: backtests and paper trading that cannot spend money they do not have."""

from solvent import fast as fast  # the compiled fast path: solvent.fast.from_signals, ...
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

__version__ = "0.1.0"

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
