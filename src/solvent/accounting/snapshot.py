"""Immutable account and position snapshots: what every later stage reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from solvent.model.money import Money

if TYPE_CHECKING:
    from solvent.accounting.position import LotView, Position


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One position at a moment: quantity, average entry price, mark, value, P&L."""

    symbol: str
    quantity: Decimal
    avg_price: Decimal
    mark: Decimal
    market_value: Money
    unrealized_pnl: Money
    unrealized_pnl_mtm: Money
    realized_pnl: Money
    lots: tuple[LotView, ...]

    @classmethod
    def of(cls, pos: Position) -> PositionSnapshot:
        """Build the snapshot of a live position (call under the account lock)."""
        inst = pos.instrument
        ccy = inst.currency
        return cls(
            inst.symbol,
            inst.quantity(pos.qty),
            pos.avg_price(),
            inst.price(pos.mark_ticks),
            Money(pos.market_value, ccy),
            Money(pos.unrealized, ccy),
            Money(pos.unrealized_mtm, ccy),
            Money(pos.realized, ccy),
            pos.lot_views(),
        )


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Every account figure at one moment, taken consistently under the account lock.

    ``realized_pnl`` includes dividends and cash in lieu of fractional shares; costs
    (``commission`` and ``fees``) are reported separately, so that
    ``realized_pnl + unrealized_pnl - commission - fees ==
    nlv - starting_cash - deposits + withdrawals`` exactly.

    ``mode`` is the buying power in force: ``"cash"``, ``"margin"`` (overnight, Reg T)
    or ``"day_trade"``. ``day_trades`` counts the day trades in the rolling window of 5
    business days; ``pattern_day_trader`` is 4 or more of them; ``pdt_restricted`` says
    the PDT policy (``pdt_policy``) restricts the account now: under ``block`` the next
    day trade would be refused, under ``downgrade`` cash buying power is in force
    (``solvent.risk.pdt``).
    """

    timestamp: pd.Timestamp | None
    kind: str
    mode: str
    cash: Money
    settled_cash: Money
    nlv: Money
    long_capital: Money
    short_capital: Money
    gross_exposure: Money
    initial_margin: Money
    maintenance_margin: Money
    excess: Money
    reserved: Money
    buying_power: Money
    day_trade_buying_power: Money
    realized_pnl: Money
    unrealized_pnl: Money
    realized_pnl_mtm: Money
    unrealized_pnl_mtm: Money
    commission: Money
    fees: Money
    dividends: Money
    slippage: Money
    deposits: Money
    withdrawals: Money
    starting_cash: Money
    capital_used: Money
    max_capital_used: Money
    max_capital_used_at: pd.Timestamp | None
    pending_long: Money
    pending_short: Money
    open_symbols: tuple[str, ...]
    pending_symbols: tuple[str, ...]
    positions: tuple[PositionSnapshot, ...]
    currency: str
    day_trades: int = 0
    pattern_day_trader: bool = False
    pdt_restricted: bool = False
    pdt_policy: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the snapshot as JSON-ready data: money as exact decimal strings."""
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"minor", "currency"}:
            return format(Decimal(value["minor"]).scaleb(-value["currency"]["digits"]), "f")
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
