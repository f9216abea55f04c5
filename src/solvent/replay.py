"""``solvent replay``: run a list of intended orders through the simulated broker.

Reads ``BARS.csv`` (``timestamp,symbol,open,high,low,close,volume[,dividend,split]``)
and ``ORDERS.csv`` (``timestamp,symbol,quantity,type,limit,stop,tif,tag``), where an
order's timestamp is the bar after whose close it is submitted, and writes
``fills.csv``, ``orders.csv``, ``equity.csv`` and ``account.json`` with money as exact
decimal strings.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from solvent.accounting.account import Account
from solvent.errors import InvalidInputError
from solvent.execution.broker import SimulatedBroker
from solvent.execution.costs import CommissionModel, SlippageModel
from solvent.model.bar import Bar
from solvent.model.instrument import Instrument
from solvent.model.money import Money, to_decimal
from solvent.model.orders import OrderStatus
from solvent.model.records import to_timestamp
from solvent.results.result import EVENT_COLUMNS
from solvent.risk.monitor import MarginBands

_BAR_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
_ORDER_COLUMNS = ("timestamp", "symbol", "quantity", "type")
# The order types and times in force a CSV row can express (no trail or expire_at column).
_ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "market_on_open", "market_on_close")
_TIFS = ("GTC", "DAY", "IOC", "FOK")


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """The broker and account settings of a replay (the CLI flags)."""

    cash: Decimal
    account: str = "cash"
    commission: CommissionModel | None = None
    slippage: SlippageModel | None = None
    volume_limit: Decimal | None = Decimal("0.1")
    validation: str = "reject"
    partial_fills: bool = True
    tick_size: Decimal = Decimal("0.01")
    pdt: str | None = "block"
    liquidation: str = "smallest_first_then_losers"
    margin_bands: MarginBands | None = None
    check_extremes: bool = False
    holidays: tuple[str, ...] = ()
    day_trading: bool = False


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay produced: the account and broker after the last bar."""

    account: Account
    broker: SimulatedBroker
    order_ids: tuple[str, ...]
    equity: tuple[dict[str, str], ...]
    labels: dict[pd.Timestamp, str]
    order_labels: tuple[str, ...]


def _read_csv(path: Path, required: Iterable[str], what: str) -> pd.DataFrame:
    # Read as text: numbers stay exact decimals, never pass through binary floats.
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InvalidInputError(f"{what}.columns", list(df.columns), f"missing column(s) {missing}")
    return df


def _decimals(values: Iterable[str]) -> int:
    places = 0
    for v in values:
        if v.strip():
            exp = to_decimal(v, "quantity").normalize().as_tuple().exponent
            if isinstance(exp, int):
                places = max(places, -exp)
    return places


def _instruments(bars: pd.DataFrame, orders: pd.DataFrame, tick: Decimal) -> list[Instrument]:
    """Equity defaults; the lot step is the finest quantity the orders use."""
    for i, (sym, ts, qty) in enumerate(
        zip(orders["symbol"], orders["timestamp"], orders["quantity"], strict=True)
    ):
        to_decimal(qty, f"orders[row {i + 2}: {sym.strip()} @ {ts.strip()}].quantity")
    out = []
    for sym in sorted(set(bars["symbol"]) | set(orders["symbol"])):
        places = _decimals(orders.loc[orders["symbol"] == sym, "quantity"])
        out.append(Instrument(sym, tick_size=tick, lot_size=Decimal(1).scaleb(-places)))
    return out


def _cell(row: Any, name: str) -> str:
    v = row.get(name, "")
    return "" if v is None else str(v).strip()


def run_replay(bars_path: Path, orders_path: Path, settings: ReplaySettings) -> ReplayResult:
    """Replay the orders against the bars and return the final state."""
    bars = _read_csv(bars_path, _BAR_COLUMNS, "bars")
    orders = _read_csv(orders_path, _ORDER_COLUMNS, "orders")
    bars["_ts"] = [to_timestamp(v, f"bars.timestamp (row {i + 2})") for i, v in enumerate(bars["timestamp"])]
    orders["_ts"] = [
        to_timestamp(v, f"orders.timestamp (row {i + 2})") for i, v in enumerate(orders["timestamp"])
    ]
    instruments = _instruments(bars, orders, settings.tick_size)
    account = Account(
        settings.cash, kind=settings.account, instruments=instruments, day_trading=settings.day_trading
    )
    broker = SimulatedBroker(
        account,
        commission=settings.commission,
        slippage=settings.slippage,
        volume_limit=settings.volume_limit,
        partial_fills=settings.partial_fills,
        validation=settings.validation,
        pdt=settings.pdt,
        liquidation=settings.liquidation,
        margin_bands=settings.margin_bands,
        check_extremes=settings.check_extremes,
        holidays=settings.holidays,
    )
    by_symbol = {i.symbol: i for i in instruments}
    order_rows = sorted(range(len(orders)), key=lambda i: (orders["_ts"].iloc[i], i))
    order_ids = tuple(str(i + 1) for i in range(len(orders)))
    next_order = 0
    equity: list[dict[str, str]] = []

    def submit_until(limit: pd.Timestamp, inclusive: bool) -> None:
        nonlocal next_order
        while next_order < len(order_rows):
            i = order_rows[next_order]
            ts = orders["_ts"].iloc[i]
            if ts > limit or (ts == limit and not inclusive):
                return
            row = orders.iloc[i]
            where = f"orders[row {i + 2}: {_cell(row, 'symbol')} @ {_cell(row, 'timestamp')}]"
            otype = (_cell(row, "type") or "market").lower()
            tif = (_cell(row, "tif") or "GTC").upper()
            if otype not in _ORDER_TYPES:
                raise InvalidInputError(f"{where}.type", otype, f"must be one of {', '.join(_ORDER_TYPES)}")
            if tif not in _TIFS:
                raise InvalidInputError(f"{where}.tif", tif, f"must be one of {', '.join(_TIFS)}")
            try:
                broker.submit(
                    _cell(row, "symbol"),
                    _cell(row, "quantity"),
                    ts,
                    type=otype,
                    limit=_cell(row, "limit") or None,
                    stop=_cell(row, "stop") or None,
                    tif=tif,
                    tag=_cell(row, "tag") or None,
                    order_id=order_ids[i],
                )
            except InvalidInputError as exc:
                raise InvalidInputError(f"{where}: {exc.field}", exc.value, exc.problem) from exc
            next_order += 1

    # Timestamps are written back exactly as the input spelled them.
    labels = dict(zip(bars["_ts"], bars["timestamp"], strict=True))
    # A session is a calendar date: its last timestamp in the file closes it (the close
    # market-on-close orders fill at). The bars file is the schedule, known up front.
    stamps = sorted(labels)
    closes_session = {a: a.date() != b.date() for a, b in zip(stamps, [*stamps[1:], None], strict=True) if b}
    for stamp, group in bars.groupby("_ts", sort=True):
        assert isinstance(stamp, pd.Timestamp)  # noqa: S101 - the column holds Timestamps
        submit_until(stamp, inclusive=False)
        frame: dict[str, Bar] = {}
        for _, row in group.iterrows():
            sym = _cell(row, "symbol")
            inst = by_symbol[sym]
            where = f"bars[{sym} @ {stamp}]"
            o, h, low, c = (
                inst.snap_price(_cell(row, k), f"{where}.{k}") for k in ("open", "high", "low", "close")
            )
            vol = to_decimal(_cell(row, "volume") or "0", f"{where}.volume")
            if vol < 0:
                raise InvalidInputError(f"{where}.volume", vol, "cannot be negative")
            if h < max(o, c) or low > min(o, c):
                raise InvalidInputError(
                    f"{where}.high/low", (h, low), "high/low do not bracket open and close"
                )
            div = _cell(row, "dividend")
            if div and to_decimal(div, f"{where}.dividend") != 0:
                account.dividend(sym, div, stamp)
            split = _cell(row, "split")
            if split and to_decimal(split, f"{where}.split") not in (0, 1):
                broker.apply_split(sym, split, stamp)
            frame[sym] = Bar(stamp, o, h, low, c, int(vol / inst.lot_size))
        broker.on_bar(stamp, frame, session_close=closes_session.get(stamp, True))
        s = account.snapshot()
        equity.append(
            {
                "timestamp": labels[stamp].strip(),
                "cash": str(s.cash),
                "nlv": str(s.nlv),
                "buying_power": str(s.buying_power),
                "initial_margin": str(s.initial_margin),
                "maintenance_margin": str(s.maintenance_margin),
            }
        )
        submit_until(stamp, inclusive=True)
    submit_until(pd.Timestamp.max, inclusive=True)
    order_labels = tuple(str(v).strip() for v in orders["timestamp"])
    return ReplayResult(account, broker, order_ids, tuple(equity), labels, order_labels)


def _plain(d: Decimal | None) -> str:
    """Return a decimal without exponent or trailing zeros ("30", "0.5", "101.25")."""
    if d is None:
        return ""
    if d != d.quantize(Decimal("0.000001")):
        d = d.quantize(Decimal("0.000001"))
    text = format(d.normalize(), "f")
    return text


def _price(d: Decimal | None, tick: Decimal) -> str:
    if d is None:
        return ""
    if d == d.quantize(tick):
        return format(d.quantize(tick), "f")
    return _plain(d)


def write_outputs(result: ReplayResult, out: Path, tick: Decimal = Decimal("0.01")) -> None:
    """Write ``fills.csv``, ``orders.csv``, ``equity.csv``, ``events.csv`` and ``account.json``."""
    out.mkdir(parents=True, exist_ok=True)
    account, broker = result.account, result.broker
    with (out / "fills.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["timestamp", "order_id", "symbol", "side", "quantity", "price", "commission", "slippage", "tag"]
        )
        for leg in broker.fills:
            w.writerow(
                [
                    result.labels.get(leg.timestamp, leg.timestamp.isoformat()),
                    leg.order_id,
                    leg.symbol,
                    leg.side.value if leg.side else "",
                    _plain(abs(leg.quantity)),
                    _price(leg.price, tick),
                    leg.commission,
                    leg.slippage,
                    leg.tag or "",
                ]
            )
    with (out / "orders.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "order_id",
                "timestamp",
                "symbol",
                "quantity",
                "type",
                "status",
                "filled_quantity",
                "avg_fill_price",
                "reason",
                "accepted_quantity",
            ]
        )
        for oid, label in zip(result.order_ids, result.order_labels, strict=True):
            v = broker.view(oid)
            o = v.order
            w.writerow(
                [
                    oid,
                    label,
                    o.symbol,
                    _plain(o.quantity),
                    o.type.value,
                    v.status.value,
                    _plain(abs(v.filled_quantity)),
                    _price(v.avg_fill_price, tick),
                    v.reason.value if v.reason else "",
                    # What the broker worked: less than ``quantity`` when cut at placement
                    # (reason SCALED_DOWN), 0 when refused.
                    "0" if v.status is OrderStatus.REJECTED else _plain(v.quantity),
                ]
            )
    with (out / "equity.csv").open("w", newline="") as f:
        cols = ["timestamp", "cash", "nlv", "buying_power", "initial_margin", "maintenance_margin"]
        dw = csv.DictWriter(f, fieldnames=cols)
        dw.writeheader()
        dw.writerows(result.equity)
    with (out / "events.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EVENT_COLUMNS)
        for e in broker.margin_events:
            w.writerow(
                [
                    result.labels.get(e.timestamp, e.timestamp.isoformat()),
                    e.kind.value,
                    e.from_,
                    e.to,
                    format(e.margin_ratio, "f"),
                    str(e.nlv),
                    str(e.maintenance_margin),
                ]
            )
    s = account.snapshot()
    doc = {
        "cash": str(s.cash),
        "nlv": str(s.nlv),
        "buying_power": str(s.buying_power),
        "initial_margin": str(s.initial_margin),
        "maintenance_margin": str(s.maintenance_margin),
        "realized_pnl": str(s.realized_pnl),
        "unrealized_pnl": str(s.unrealized_pnl),
        "commission": str(s.commission),
        "fees": str(s.fees),
        "dividends": str(s.dividends),
        "positions": {
            p.symbol: {
                "quantity": _plain(p.quantity),
                "avg_price": _price(p.avg_price, tick),
                "market_value": str(p.market_value),
            }
            for p in s.positions
        },
        "rejections": len(broker.rejections),
        "margin_band": broker.margin_band,
        "trading_state": broker.trading_state.value,
        # A negative NLV is what the account owes its broker after the liquidation.
        "debit": str(Money(max(0, -s.nlv.minor), s.nlv.currency)),
        "halted": broker.halt_reason,
        "mode": s.mode,
        "day_trades": s.day_trades,
        "pdt_restricted": s.pdt_restricted,
        # What the run assumed, so a result says when checks were off or relaxed.
        "settings": {
            "account": account.kind.value,
            "validation": broker.validation.value,
            "validated": broker.validation.value != "off",
            "partial_fills": broker.partial_fills,
            "volume_limit": "none"
            if broker.volume_limit is None
            else _plain(Decimal(broker.volume_limit.numerator) / broker.volume_limit.denominator),
            "commission": repr(broker.commission_model),
            "slippage": repr(broker.slippage_model),
            "pdt": s.pdt_policy or "off",
            "liquidation": broker.liquidation_policy.value,
            "margin_bands": broker.margin_bands.to_dict(),
            "check_extremes": broker.check_extremes,
            "day_trading": result.account.day_trading,
            "holidays": [d.isoformat() for d in broker.holidays],
        },
    }
    (out / "account.json").write_text(json.dumps(doc, indent=2) + "\n")
