"""A read-only, per-tag view of an account (one strategy's book inside a shared account)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from solvent.accounting import rules
from solvent.accounting.position import Position
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import Currency, Money
from solvent.model.records import Fill, Trade


@dataclass(frozen=True, slots=True)
class SplitRecord:
    """A split as the ledger applied it, so a view can replay it between the fills."""

    at: int  # how many legs the account had booked when the split happened
    symbol: str
    ratio: Fraction
    mark_ticks: int  # the mark just before the split (cash in lieu is paid at mark / ratio)


class AccountView:
    """What the fills carrying one tag did: positions, P&L, capital, cash flow.

    The view replays the tagged legs through fresh FIFO positions, marked at the
    account's current marks. It owns no cash (a tag shares the account's cash), so it
    reports ``cash_flow``: the net cash the tag's fills moved.
    """

    def __init__(
        self,
        tag: str,
        ccy: Currency,
        instruments: Mapping[str, Instrument],
        entries: Sequence[Fill | SplitRecord],
        marks: Mapping[str, int],
        pending: tuple[int, int],
    ) -> None:
        self.tag = tag
        self.currency = ccy
        self._positions: dict[str, Position] = {}
        self._fills = tuple(e for e in entries if isinstance(e, Fill))
        trades: list[Trade] = []
        cash_flow = 0
        commission = 0
        for leg in entries:
            if isinstance(leg, SplitRecord):
                held = self._positions.get(leg.symbol)
                if held is not None:
                    held.mark(leg.mark_ticks)
                    cash_flow += held.split(leg.ratio)[0]
                continue
            inst = instruments[leg.symbol]
            pos = self._positions.get(leg.symbol)
            if pos is None:
                pos = self._positions[leg.symbol] = Position(inst)
            lots = inst.qty_lots(leg.quantity)
            ticks = inst.price_ticks(leg.price)
            comm = int(leg.commission / ccy.step)
            notional = rules.notional_minor(ticks, lots, inst.k_num, inst.k_den)
            # Legs never cross zero, but a tag's own position may differ from the
            # account's (another tag may hold the rest), so split again by the view.
            closing, opening = rules.split_fill(pos.qty, lots)
            realized = 0
            if closing:
                n_close = rules.prorate(notional, abs(closing), abs(lots))
                c_close = rules.prorate(comm, abs(closing), abs(lots))
                for portion in pos.close(leg, closing, n_close, c_close):
                    trades.append(portion.trade)
                    realized += portion.realized
                if opening:
                    pos.open(leg, opening, notional - n_close, comm - c_close)
            else:
                pos.open(leg, opening, notional, comm)
            if inst.asset_class is AssetClass.FUTURE:
                cash_flow += rules.futures_cash_delta(realized, comm)
            else:
                cash_flow += rules.fill_cash_delta(notional, comm)
            commission += comm
        for sym, pos in self._positions.items():
            pos.mark(marks.get(sym, 0) or inst_ticks(pos))
        self._trades = tuple(trades)
        self._cash_flow = cash_flow
        self._commission = commission
        self._pending = pending

    def _m(self, minor: int) -> Money:
        return Money(minor, self.currency)

    @property
    def fills(self) -> tuple[Fill, ...]:
        """Return the tag's legs, in order."""
        return self._fills

    @property
    def trades(self) -> tuple[Trade, ...]:
        """Return the tag's matched round trips."""
        return self._trades

    def quantity(self, symbol: str) -> Decimal:
        """Return the tag's signed quantity in ``symbol`` (0 if it never traded it)."""
        pos = self._positions.get(symbol)
        return Decimal(0) if pos is None else pos.instrument.quantity(pos.qty)

    @property
    def open_symbols(self) -> tuple[str, ...]:
        """Return the symbols the tag holds."""
        return tuple(s for s, p in self._positions.items() if p.qty != 0)

    @property
    def cash_flow(self) -> Money:
        """Return the net cash the tag's fills moved (negative when it bought)."""
        return self._m(self._cash_flow)

    @property
    def commission(self) -> Money:
        """Return the commission paid on the tag's fills."""
        return self._m(self._commission)

    @property
    def realized_pnl(self) -> Money:
        """Return the tag's realized P&L (entry basis, gross of commission)."""
        return self._m(sum(p.realized for p in self._positions.values()))

    @property
    def unrealized_pnl(self) -> Money:
        """Return the tag's unrealized P&L at the account's current marks."""
        return self._m(sum(p.unrealized for p in self._positions.values()))

    @property
    def long_capital(self) -> Money:
        """Return the market value of the tag's long positions."""
        return self._m(sum(p.market_value for p in self._positions.values() if p.market_value > 0))

    @property
    def short_capital(self) -> Money:
        """Return the absolute market value of the tag's short positions."""
        return self._m(-sum(p.market_value for p in self._positions.values() if p.market_value < 0))

    @property
    def market_value(self) -> Money:
        """Return the net market value of the tag's positions."""
        return self._m(sum(p.market_value for p in self._positions.values()))

    @property
    def pending_long(self) -> Money:
        """Return buying power held by the tag's pending long orders."""
        return self._m(self._pending[0])

    @property
    def pending_short(self) -> Money:
        """Return buying power held by the tag's pending short orders."""
        return self._m(self._pending[1])


def inst_ticks(pos: Position) -> int:
    """Return a fallback mark for a view position: its last entry price."""
    if pos.lots:
        return pos.instrument.price_ticks(pos.lots[-1].entry.price)
    return pos.mark_ticks
