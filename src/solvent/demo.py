"""``solvent demo``: a short ledger walk-through printed as a Rich table.

Until the event-driven engine exists this shows what the ledger does with a handful of
fills: a long, a partial close, a short, a flip, a dividend and marks, with every figure
exact to the cent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from solvent.accounting.account import Account
from solvent.model.instrument import Instrument
from solvent.model.records import make_fill

Step = tuple[str, Callable[[Account], object]]


def demo_steps() -> list[Step]:
    """Return the demo's events: a label and what it does to the account."""
    return [
        (
            "buy 100 AAPL @ 101.37, fee 1.00",
            lambda a: a.apply_fill(make_fill("AAPL", 100, "101.37", "2024-01-02 10:00", commission="1.00")),
        ),
        ("mark AAPL 104.00", lambda a: a.mark("AAPL", "104.00", "2024-01-02 16:00")),
        (
            "sell 37 AAPL @ 105.10, fee 1.00",
            lambda a: a.apply_fill(make_fill("AAPL", -37, "105.10", "2024-01-03 10:00", commission="1.00")),
        ),
        (
            "short 50 MSFT @ 370.25, fee 1.00",
            lambda a: a.apply_fill(make_fill("MSFT", -50, "370.25", "2024-01-03 11:00", commission="1.00")),
        ),
        (
            "sell 100 AAPL @ 103.00 (flip), fee 2.00",
            lambda a: a.apply_fill(make_fill("AAPL", -100, "103.00", "2024-01-04 10:00", commission="2.00")),
        ),
        ("AAPL dividend 0.24 (short pays)", lambda a: a.dividend("AAPL", "0.24", "2024-01-05 09:00")),
        (
            "mark MSFT 380.00, AAPL 99.50",
            lambda a: a.mark_prices({"MSFT": "380.00", "AAPL": "99.50"}, "2024-01-05 16:00"),
        ),
    ]


def run_demo(console: Console | None = None) -> Account:
    """Replay the demo events on a $100,000 Reg T margin account and print the ledger."""
    # Piped output (make demo, CI logs) gets a fixed width so the table stays readable.
    console = console or Console(width=None if sys.stdout.isatty() else 130)
    account = Account(
        100_000,
        kind="margin",
        instruments=[Instrument("AAPL"), Instrument("MSFT")],
    )
    table = Table(title="solvent ledger demo: Reg T margin account, $100,000.00", show_lines=False)
    for col in ("event", "cash", "NLV", "buying power", "init. margin", "maint. margin", "realized P&L"):
        table.add_column(col, justify="left" if col == "event" else "right", no_wrap=col != "event")
    for label, action in demo_steps():
        action(account)
        s = account.snapshot()
        table.add_row(
            label,
            str(s.cash),
            str(s.nlv),
            str(s.buying_power),
            str(s.initial_margin),
            str(s.maintenance_margin),
            str(s.realized_pnl),
        )
    console.print(table)
    s = account.snapshot()
    identity = s.realized_pnl.amount + s.unrealized_pnl.amount - s.commission.amount - s.fees.amount
    console.print(
        f"realized {s.realized_pnl} + unrealized {s.unrealized_pnl} - costs "
        f"{s.commission.amount + s.fees.amount} = {identity} = NLV - start = "
        f"{s.nlv.amount - Decimal(100_000)}"
    )
    return account
