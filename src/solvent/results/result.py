"""``Result``: what a backtest produced, as pandas objects plus exact integer arrays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from rich.table import Table

from solvent.accounting.account import Account
from solvent.errors import InvalidInputError
from solvent.execution.broker import OrderState, OrderView
from solvent.model.money import Money
from solvent.model.orders import Intent, OrderStatus, OrderType, Rejection, TimeInForce
from solvent.model.records import Fill, ReasonCode, Side, Trade
from solvent.results.report import write_report
from solvent.risk.monitor import MarginEvent

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_ZERO = Decimal(0)
# Plain strings of the enums in the frames (``.value`` is a slow property, per row).
_TEXT: dict[StrEnum, str] = {
    m: m.value for enum in (OrderType, TimeInForce, OrderStatus, Intent, ReasonCode, Side) for m in enum
}

_ORDER_COLUMNS = (
    "order_id", "submitted_at", "symbol", "quantity", "accepted_quantity", "type", "tif", "limit",
    "stop", "tag", "intent", "status", "filled_quantity", "avg_fill_price", "commission", "reason",
)  # fmt: skip
_FILL_COLUMNS = (
    "timestamp",
    "order_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "commission",
    "slippage",
    "tag",
)
#: The columns of ``Result.events`` and of ``events.csv`` (replay and backtest).
EVENT_COLUMNS = ("timestamp", "kind", "from", "to", "margin_ratio", "nlv", "maintenance_margin")
_TRADE_COLUMNS = tuple(Trade.__dataclass_fields__)
_REJECTION_COLUMNS = tuple(Rejection.__dataclass_fields__)
# The frames read the records field by field in this order (``trades_frame``,
# ``rejections_frame``): a new field must be added there too.
assert _TRADE_COLUMNS == (  # noqa: S101 - a guard for whoever edits the records
    "symbol", "quantity", "entry_time", "entry_price", "exit_time", "exit_price", "pnl", "pnl_mtm",
    "commission", "entry_order_id", "exit_order_id", "tag",
)  # fmt: skip
assert _REJECTION_COLUMNS == (  # noqa: S101
    "order_id", "symbol", "timestamp", "quantity", "reason", "detail", "at_fill",
)  # fmt: skip


#: Columns of the record frames that are not exact decimals (those stay ``object``):
#: every frame has these dtypes whatever its rows, none included, so a run that never
#: trades gives the same schema (``.dt`` and string methods work on its empty tables).
_TEXT_COLUMNS = frozenset(
    {
        "order_id", "symbol", "side", "tag", "type", "tif", "intent", "status", "reason", "detail",
        "entry_order_id", "exit_order_id", "kind", "from", "to",
    }
)  # fmt: skip
_TIME_COLUMNS = frozenset({"timestamp", "submitted_at", "entry_time", "exit_time"})
_BOOL_COLUMNS = frozenset({"at_fill"})


def _typed(columns: Sequence[str], data: Mapping[str, Any] | None) -> pd.DataFrame:
    """Return a frame of ``columns`` (lists in ``data``, or empty) with the records' dtypes."""
    out = {}
    for c in columns:
        values = [] if data is None else data[c]
        if c in _TEXT_COLUMNS:
            out[c] = pd.Series(values, dtype="str")
        elif c in _TIME_COLUMNS and data is None:
            out[c] = pd.Series(values, dtype="datetime64[ns]")
        elif c in _BOOL_COLUMNS:
            out[c] = pd.Series(values, dtype=bool)
        elif c in _TIME_COLUMNS:
            # Stamps as they come (an aware one keeps its zone), at nanoseconds whatever
            # unit they were given in, as an empty table's column is.
            stamps = pd.Series(values)
            if pd.api.types.is_datetime64_any_dtype(stamps) and stamps.dt.unit != "ns":
                stamps = stamps.dt.as_unit("ns")
            out[c] = stamps
        else:  # exact decimals
            out[c] = pd.Series(values, dtype=None if values else object)
    return pd.DataFrame(out)


def _frame(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Return a frame of ``rows`` built column by column (no row-wise transposition)."""
    if not rows:
        return _typed(columns, None)
    return _typed(columns, dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True)))


def orders_frame(views: Iterable[OrderView]) -> pd.DataFrame:
    """Return one row per order: the request and what became of it (exact decimals).

    ``quantity`` is the request; ``accepted_quantity`` what the broker worked: less
    when the order was cut at placement to what buying power affords (``reason``
    ``SCALED_DOWN``), sized at the fill for ``order_value`` orders, 0 when refused.
    """
    return orders_frame_of(
        (v.order, v.status, v.quantity, v.filled_quantity, v.avg_fill_price, v.commission.amount, v.reason)
        for v in views
    )


def orders_frame_of(states: Iterable[OrderState]) -> pd.DataFrame:
    """Return ``orders_frame``'s table from the broker's order states (``order_states()``)."""
    text = _TEXT
    rejected = OrderStatus.REJECTED
    rows = [
        (
            o.order_id,
            o.submitted_at,
            o.symbol,
            o.quantity,
            _ZERO if status is rejected else quantity,
            text[o.type],
            text[o.tif],
            o.limit,
            o.stop,
            o.tag,
            None if o.intent is None else text[o.intent],
            text[status],
            filled,
            avg,
            commission,
            None if reason is None else text[reason],
        )
        for o, status, quantity, filled, avg, commission, reason in states
    ]
    return _frame(_ORDER_COLUMNS, rows)


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    """Return one row per fill leg (a fill crossing zero is two legs)."""
    text = _TEXT
    rows = [
        (
            f.timestamp,
            f.order_id,
            f.symbol,
            None if f.side is None else text[f.side],
            f.quantity,
            f.price,
            f.commission,
            f.slippage,
            f.tag,
        )
        for f in fills
    ]
    return _frame(_FILL_COLUMNS, rows)


def trades_frame(trades: Iterable[Trade]) -> pd.DataFrame:
    """Return one row per matched FIFO round trip; money columns as exact ``Decimal``."""
    # ``Money.amount`` of each amount from its integer (no property call per cell), and
    # ``net_pnl`` without the intermediate ``Money`` (same currency by construction).
    rows = [
        (
            t.symbol,
            t.quantity,
            t.entry_time,
            t.entry_price,
            t.exit_time,
            t.exit_price,
            Decimal(t.pnl.minor).scaleb(-t.pnl.currency.digits),
            Decimal(t.pnl_mtm.minor).scaleb(-t.pnl_mtm.currency.digits),
            Decimal(t.commission.minor).scaleb(-t.commission.currency.digits),
            t.entry_order_id,
            t.exit_order_id,
            t.tag,
            Decimal(t.pnl.minor - t.commission.minor).scaleb(-t.pnl.currency.digits),
        )
        for t in trades
    ]
    return _frame((*_TRADE_COLUMNS, "net_pnl"), rows)


def events_frame(events: Iterable[MarginEvent]) -> pd.DataFrame:
    """Return one row per margin-band or trading-state transition (exact decimals)."""
    rows = [
        (
            e.timestamp,
            e.kind.value,
            e.from_,
            e.to,
            e.margin_ratio,
            e.nlv.amount,
            e.maintenance_margin.amount,
        )
        for e in events
    ]
    return _frame(EVENT_COLUMNS, rows)


def rejections_frame(rejections: Iterable[Rejection]) -> pd.DataFrame:
    """Return one row per refusal, with its reason code as a string."""
    text = _TEXT
    rows = [
        (r.order_id, r.symbol, r.timestamp, r.quantity, text[r.reason], r.detail, r.at_fill)
        for r in rejections
    ]
    return _frame(_REJECTION_COLUMNS, rows)


#: The tables ``Result.to_polars`` converts; the first four are per bar.
_POLARS_TABLES = (
    "equity",
    "cash",
    "margin",
    "positions",
    "orders",
    "fills",
    "trades",
    "rejections",
    "events",
)
_PER_BAR = frozenset(_POLARS_TABLES[:4])


class RunRecords(NamedTuple):
    """The records a run leaves: ``Result``'s frames are built from them on first read."""

    fills: Sequence[Fill]
    trades: Sequence[Trade]
    rejections: Sequence[Rejection]
    events: Sequence[MarginEvent]


@dataclass(frozen=True, slots=True, eq=False)
class Result:
    """The outcome of a backtest.

    Attributes
    ----------
    equity, cash
        Net liquidating value and cash per bar as float ``Series`` indexed by timestamp
        (for plots and metrics); ``equity_minor`` and ``cash_minor`` hold the exact
        values in the currency's minor unit (int64).
    margin
        Per bar: ``buying_power``, ``initial_margin``, ``maintenance_margin`` (floats;
        exact minor units in ``margin_minor``).
    positions
        Signed quantity held per symbol (columns) after each bar (index), as floats for
        analysis and plots; the ledger's exact lots are in ``account``.

        ``cash``, ``margin`` and ``positions`` are built from the exact arrays on first
        read and kept: a run of a million bars need not allocate frames nobody reads.
    orders, fills, trades, rejections
        One row per record; quantities, prices and money as exact ``Decimal``.
        Each is built on first read and kept (``orders`` from the broker's order
        states, the others from the run's records): a sweep that reads the metrics
        only builds none of them.
    events
        One row per transition of margin band (``kind == "margin"``: healthy, at_risk,
        margin_call, liquidating) or trading state (``"trading_state"``: active,
        reduce_only, halted): ``timestamp, kind, from, to, margin_ratio, nlv,
        maintenance_margin`` (``docs/margin.md``).
    metrics
        ``compute_metrics`` of the run.
    settings
        What the run assumed (account kind, validation mode, costs, limits, parameters,
        PDT and liquidation policies, margin bands); ``validated`` is ``False`` when
        validation was off; ``trading_state`` is the state at the end and ``halted``
        says why trading halted (the debit), or is ``None``.
    final_equity
        NLV after the last bar, exact.
    account
        The final ledger (for drill-down: lots, cash events, tag views).
    """

    equity: pd.Series
    equity_minor: IntArray
    cash_minor: IntArray
    margin_minor: Mapping[str, IntArray]
    #: Lots held per symbol after each bar (T, N), each symbol's lot size, the symbols.
    position_lots: tuple[IntArray, FloatArray, tuple[str, ...]] = field(repr=False)
    #: The broker's order states at the end of the run: ``orders`` is built from them
    #: on first read (a run's orders outnumber its fills where entries are refused).
    _order_states: Callable[[], Iterable[OrderState]] = field(repr=False)
    #: The run's records, as the frames ``fills``, ``trades``, ``rejections`` and
    #: ``events`` are built from on first read.
    _records: RunRecords = field(repr=False)
    metrics: dict[str, object]
    settings: dict[str, Any]
    final_equity: Money
    account: Account = field(repr=False)
    #: The frames built so far (``cash``, ``margin``, ``positions``, ``orders``, ...).
    _built: dict[str, Any] = field(default_factory=dict, repr=False)

    def _scale(self) -> float:
        return 10.0**self.account.currency.digits

    @property
    def cash(self) -> pd.Series:
        """Cash per bar as a float ``Series`` (exact minor units in ``cash_minor``)."""
        out = self._built.get("cash")
        if out is None:
            # ``copy=False``: the quotient is a new array already (pandas would copy it).
            out = pd.Series(self.cash_minor / self._scale(), index=self.equity.index, name="cash", copy=False)
            self._built["cash"] = out
        return cast(pd.Series, out)

    @property
    def margin(self) -> pd.DataFrame:
        """Per bar: ``buying_power``, ``initial_margin``, ``maintenance_margin`` (floats)."""
        out = self._built.get("margin")
        if out is None:
            names = list(self.margin_minor)
            # One 2-D block written column by column: the frame takes it without a copy.
            block = np.empty((len(names), len(self.equity_minor)))
            scale = self._scale()
            for k, name in enumerate(names):
                np.divide(self.margin_minor[name], scale, out=block[k])
            out = pd.DataFrame(block.T, index=self.equity.index, columns=names, copy=False)
            self._built["margin"] = out
        return cast(pd.DataFrame, out)

    @property
    def orders(self) -> pd.DataFrame:
        """One row per order: the request and what became of it (``orders_frame``)."""
        out = self._built.get("orders")
        if out is None:
            out = orders_frame_of(self._order_states())
            self._built["orders"] = out
        return cast(pd.DataFrame, out)

    def _frame_of(self, name: str, build: Callable[[Any], pd.DataFrame]) -> pd.DataFrame:
        out = self._built.get(name)
        if out is None:
            out = build(getattr(self._records, name))
            self._built[name] = out
        return cast(pd.DataFrame, out)

    @property
    def fills(self) -> pd.DataFrame:
        """One row per fill leg (``fills_frame``); a fill crossing zero is two legs."""
        return self._frame_of("fills", fills_frame)

    @property
    def trades(self) -> pd.DataFrame:
        """One row per FIFO round trip (``trades_frame``), money as exact ``Decimal``."""
        return self._frame_of("trades", trades_frame)

    @property
    def rejections(self) -> pd.DataFrame:
        """One row per refusal (``rejections_frame``), with its reason code."""
        return self._frame_of("rejections", rejections_frame)

    @property
    def events(self) -> pd.DataFrame:
        """One row per margin-band or trading-state transition (``events_frame``)."""
        return self._frame_of("events", events_frame)

    @property
    def positions(self) -> pd.DataFrame:
        """Signed quantity held per symbol (columns) after each bar (index), as floats."""
        out = self._built.get("positions")
        if out is None:
            lots, lot_size, symbols = self.position_lots
            out = pd.DataFrame(lots * lot_size, index=self.equity.index, columns=list(symbols), copy=False)
            self._built["positions"] = out
        return cast(pd.DataFrame, out)

    def summary(self) -> Table:
        """Return the headline figures as a Rich ``Table`` (print it with a Console)."""
        m = self.metrics
        title = "Backtest summary"
        if not self.settings.get("validated", True):
            title += " (VALIDATION OFF: results may spend money the account does not have)"
        if self.settings.get("look_ahead"):
            title += " (LOOK-AHEAD: orders filled at the close the strategy had seen)"
        table = Table(title=title)
        table.add_column("metric")
        table.add_column("value", justify="right")

        def pct(key: str) -> str:
            v = m.get(key)
            return "n/a" if not isinstance(v, float) or np.isnan(v) else f"{v:.2%}"

        def num(key: str) -> str:
            v = m.get(key)
            return "n/a" if not isinstance(v, float) or np.isnan(v) else f"{v:.2f}"

        start, end = m.get("start"), m.get("end")
        rows = [
            ("period", f"{start} .. {end}"),
            ("bars", str(m.get("bars"))),
            ("account", f"{self.settings.get('account')} / validation {self.settings.get('validation')}"),
            ("starting cash", str(self.account.snapshot().starting_cash)),
            ("final equity", str(self.final_equity)),
            ("total return", pct("total_return")),
            ("CAGR", pct("cagr")),
            ("volatility", pct("volatility")),
            ("Sharpe", num("sharpe")),
            ("max drawdown", pct("max_drawdown")),
            ("trades", str(m.get("trades"))),
            ("win rate", pct("win_rate")),
            ("commission", str(m.get("commission"))),
            ("rejections", str(m.get("rejections"))),
        ]
        by_reason = m.get("rejections_by_reason")
        if isinstance(by_reason, dict):
            rows += [(f"  {reason}", str(count)) for reason, count in by_reason.items()]
        profile = self.settings.get("profile")
        if profile not in (None, "realistic"):
            rows.append(("profile", str(profile)))
        loose = self.settings.get("permissive")
        if loose:
            # The settings that switch a protection off: the numbers above rely on them.
            rows.append(("PERMISSIVE", ", ".join(map(str, loose))))
        halted = self.settings.get("halted")
        if halted:
            rows.append(("HALTED", str(halted)))
        for name, value in rows:
            table.add_row(name, value)
        return table

    def report(self, path: str | Path) -> Path:
        """Write a self-contained HTML report of this run to ``path`` and return it."""
        return write_report(self, path)

    def to_polars(self, table: str) -> Any:
        """Return one of the result's tables as a polars ``DataFrame``.

        Parameters
        ----------
        table
            ``"equity"``, ``"cash"``, ``"margin"`` or ``"positions"`` (per bar, with the
            ``timestamp`` as the first column), or ``"orders"``, ``"fills"``,
            ``"trades"``, ``"rejections"``, ``"events"`` (one row per record; exact
            decimals become polars ``Decimal`` columns).

        Raises
        ------
        InvalidInputError
            ``table`` is not one of those names.
        """
        if table not in _POLARS_TABLES:
            raise InvalidInputError("table", table, f"must be one of {', '.join(_POLARS_TABLES)}")
        import polars as pl  # noqa: PLC0415 - only for callers who ask for polars

        frame = getattr(self, table)
        if table in _PER_BAR:
            frame = frame.reset_index()  # the timestamp index as a column (polars has none)
        return pl.from_pandas(frame)
