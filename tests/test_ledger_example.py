"""Replay the hand-worked ledger in ``docs/ledger-example.md`` and check every cell.

The tables are parsed from the markdown itself, so the documented example and the
engine cannot drift apart: the ``event`` column is replayed through the public API
(``Account``, ``make_fill``, ``Account.mark``, ``Account.dividend``) and every figure
in the row is compared to the cent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from solvent import Account, AccountSnapshot, FillReport, Money, make_fill

DOC = Path(__file__).resolve().parents[1] / "docs" / "ledger-example.md"
STARTING_CASH = 100_000

_NUM = r"\d+(?:\.\d+)?"
_FILL = re.compile(rf"^fill (?P<symbol>\S+) (?P<qty>[+-]{_NUM}) @ (?P<price>{_NUM}) fee (?P<fee>\d+\.\d\d)$")
_MARK = re.compile(rf"^mark (?P<symbol>\S+) (?P<price>{_NUM})$")
_DIVIDEND = re.compile(rf"^dividend (?P<symbol>\S+) (?P<amount>{_NUM})$")

# Money columns of the ledger table and the snapshot field each one is checked against.
MONEY_COLUMNS = {
    "cash": "cash",
    "NLV": "nlv",
    "buying power": "buying_power",
    "initial margin": "initial_margin",
    "maintenance margin": "maintenance_margin",
    "realized P&L": "realized_pnl",
    "commission": "commission",
}


def _tables(text: str) -> list[list[dict[str, str]]]:
    """Return every markdown table in ``text`` as a list of rows keyed by header."""
    tables: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    for line in [*text.splitlines(), ""]:
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip().strip("`").strip() for c in s[1:-1].split("|")]
            if header is None:
                header = cells
            elif all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                continue
            else:
                assert len(cells) == len(header), f"ragged table row: {line!r}"
                rows.append(dict(zip(header, cells, strict=True)))
        elif header is not None:
            tables.append(rows)
            header, rows = None, []
    return tables


def _table_with(tables: list[list[dict[str, str]]], *columns: str) -> list[dict[str, str]]:
    for rows in tables:
        if rows and all(c in rows[0] for c in columns):
            return rows
    raise AssertionError(f"docs/ledger-example.md has no table with columns {columns}")


def _money(cell: str) -> Money:
    return Money.of(cell.replace(",", "").replace("−", "-"))


def _number(cell: str) -> Decimal:
    return Decimal(cell.replace(",", "").replace("−", "-"))


@dataclass(frozen=True)
class Replayed:
    """The account state after each documented row, and each fill's report."""

    rows: list[dict[str, str]]
    snapshots: dict[int, AccountSnapshot]
    reports: dict[int, FillReport]
    symbols: list[str]


def _replay() -> Replayed:
    tables = _tables(DOC.read_text(encoding="utf-8"))
    rows = _table_with(tables, "#", "time", "event", *MONEY_COLUMNS)
    symbols = [h.removesuffix(" qty") for h in rows[0] if h.endswith(" qty")]
    account = Account(STARTING_CASH, kind="margin", instruments=symbols)
    snapshots: dict[int, AccountSnapshot] = {}
    reports: dict[int, FillReport] = {}
    for row in rows:
        n = int(row["#"])
        event, ts = row["event"], row["time"]
        if m := _FILL.match(event):
            fill = make_fill(m["symbol"], m["qty"], m["price"], ts, commission=m["fee"])
            reports[n] = account.apply_fill(fill)
        elif m := _MARK.match(event):
            account.mark(m["symbol"], m["price"], ts)
        elif m := _DIVIDEND.match(event):
            account.dividend(m["symbol"], m["amount"], ts)
        else:
            raise AssertionError(f"row {n}: cannot parse event {event!r}")
        snapshots[n] = account.snapshot()
    return Replayed(rows, snapshots, reports, symbols)


REPLAYED = _replay()
ROW_IDS = [f"row{r['#']}" for r in REPLAYED.rows]


def test_doc_example_has_enough_events_on_two_symbols() -> None:
    # The brief for the example: at least 7 events on two symbols.
    assert len(REPLAYED.rows) >= 7
    assert len(REPLAYED.symbols) == 2


@pytest.mark.parametrize("row", REPLAYED.rows, ids=ROW_IDS)
def test_doc_row_money_figures_match_engine_to_the_cent(row: dict[str, str]) -> None:
    snap = REPLAYED.snapshots[int(row["#"])]
    for column, field in MONEY_COLUMNS.items():
        assert getattr(snap, field) == _money(row[column]), f"row {row['#']} {column}"


@pytest.mark.parametrize("row", REPLAYED.rows, ids=ROW_IDS)
def test_doc_row_quantities_match_engine(row: dict[str, str]) -> None:
    snap = REPLAYED.snapshots[int(row["#"])]
    held = {p.symbol: p.quantity for p in snap.positions}
    for symbol in REPLAYED.symbols:
        assert held.get(symbol, Decimal(0)) == _number(row[f"{symbol} qty"]), f"row {row['#']} {symbol}"


@pytest.mark.parametrize("row", REPLAYED.rows, ids=ROW_IDS)
def test_doc_row_pnl_identity_holds(row: dict[str, str]) -> None:
    # realized + unrealized - commission - fees = NLV - starting cash (no deposits here).
    snap = REPLAYED.snapshots[int(row["#"])]
    lhs = snap.realized_pnl + snap.unrealized_pnl - snap.commission - snap.fees
    assert lhs == snap.nlv - Money.of(STARTING_CASH)
    # Margin account, no reservations: buying power = max(0, NLV - IM) / 0.5.
    assert snap.buying_power == Money(max(0, (snap.nlv - snap.initial_margin).minor) * 2)


def test_doc_trades_table_matches_engine_trades() -> None:
    expected = _table_with(_tables(DOC.read_text(encoding="utf-8")), "row", "entry price", "exit price")
    got = [(n, t) for n, report in REPLAYED.reports.items() for t in report.trades]
    assert len(got) == len(expected)
    for (n, trade), row in zip(got, expected, strict=True):
        assert n == int(row["row"])
        assert trade.symbol == row["symbol"]
        assert trade.quantity == _number(row["quantity"])
        assert trade.entry_price == _number(row["entry price"])
        assert trade.exit_price == _number(row["exit price"])
        assert trade.pnl == _money(row["P&L"])
        assert trade.commission == _money(row["commission"])


def test_doc_legs_table_matches_engine_legs() -> None:
    expected = _table_with(_tables(DOC.read_text(encoding="utf-8")), "row", "side", "quantity", "commission")
    got = [(n, leg) for n, report in REPLAYED.reports.items() for leg in report.legs]
    assert len(got) == len(expected)
    for (n, leg), row in zip(got, expected, strict=True):
        assert n == int(row["row"])
        assert leg.side is not None
        assert leg.side.value == row["side"]
        assert leg.quantity == _number(row["quantity"])
        assert leg.commission == _number(row["commission"])
