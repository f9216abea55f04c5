"""Compare an engine's outcome with solvent's event engine, column by column.

**Exact rule** (every engine): the fills ``(timestamp, side, quantity, price in cents)``
are the same list, and the final equities differ by at most ``0.005 × fills`` in that
column: solvent rounds each fill's commission to the cent, the float peers keep
fractions, so each fill may move the two cash balances apart by up to half a cent.

**Split rule** (the float peers only: VectorBT, backtesting.py, Backtrader). That drift
is a random walk: after ``k`` fills the peer's cash is up to ``0.005 × k`` away from
solvent's. An all-in buy is ``floor(cash / (open × 1.001))`` shares in the peers and the
most shares whose notional plus *rounded* commission fits in the cash in solvent, so
when the cash sits within that drift of a whole share the two buy one share apart, and
from then on they are two different accounts. Over thousands of fills (data set ``b``)
or hundreds of columns this happens by design. A column passes the split rule when:

1. every fill before the split is identical;
2. the split is one all-in buy on the same bar at the same price, one share apart;
3. the two cash balances just before it, rebuilt from each engine's own fills and
   commissions, differ by at most ``0.005 × k`` (``k`` fills before it);
4. each side bought exactly its own rule's size from its own cash: solvent the most
   shares with ``q × open + half_even(q × open × 0.001) <= cash`` (to the cent), the peer
   ``floor(cash / (open × 1.001))`` (to float noise).

After a split the column's later fills and final equity are reported, not compared.
solvent's fast path is held to the exact rule everywhere: same rules, same integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd

from benchmarks.engines.common import CASH, COMMISSION, Fill, Outcome

HALF_CENT = 0.005
# ``python-loop`` keeps the commission unrounded (exact milli-cents): the same drift.
FLOAT_PEERS = frozenset({"vectorbt", "backtesting.py", "backtrader", "python-loop"})


@dataclass(frozen=True)
class Parity:
    ok: bool
    columns: int
    fills: int
    split: int  # columns that passed under the split rule
    max_diff: float  # largest |Δ final equity| over the exactly matching columns
    message: str


def _fmt(f: Fill | None) -> str:
    if f is None:
        return "none"
    ts, side, qty, price = f
    return f"{pd.Timestamp(ts)} {'BUY' if side > 0 else 'SELL'} {qty} @ {price / 100:.2f}"


def _solvent_commission_cents(quantity: int, price_cents: int) -> int:
    """solvent's ``PercentOfValue(0.001)``: notional × 0.001 in cents, rounded half-even."""
    raw = Decimal(quantity * price_cents) * Decimal(str(COMMISSION))
    return int(raw.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def explain_split(ref: Outcome, other: Outcome, col: str, k: int) -> str | None:
    """Return why fill ``k`` of ``col`` is not an explained all-in split (``None``: it is)."""
    mine, theirs = ref.fills[col], other.fills[col]
    if k >= len(mine) or k >= len(theirs):
        return "one engine has no fill there"
    (ts_a, side_a, q_a, p_a), (ts_b, side_b, q_b, p_b) = mine[k], theirs[k]
    if (ts_a, side_a, p_a) != (ts_b, side_b, p_b) or side_a != 1 or abs(q_a - q_b) != 1:
        return "not an all-in buy one share apart on the same bar"
    cash_ref = (
        CASH * 100
        - sum(s * q * p for _, s, q, p in mine[:k])
        - sum(round(c * 100) for c in ref.commission[col][:k])
    )
    cash_other = CASH - sum(s * q * p / 100 for _, s, q, p in theirs[:k]) - sum(other.commission[col][:k])
    drift = abs(cash_ref / 100 - cash_other)
    if drift > HALF_CENT * k + 1e-6:
        return f"cash {cash_ref / 100:.2f} vs {cash_other:.6f} differ by {drift:.4f} > 0.005 × {k}"
    fits = q_a * p_a + _solvent_commission_cents(q_a, p_a) <= cash_ref
    next_fits = (q_a + 1) * p_a + _solvent_commission_cents(q_a + 1, p_a) <= cash_ref
    if not fits or next_fits:
        return f"solvent's {q_a} is not its all-in size for cash {cash_ref / 100:.2f}"
    per_share = p_b / 100 * (1 + COMMISSION)
    if not (q_b * per_share <= cash_other * (1 + 1e-12) and (q_b + 1) * per_share > cash_other * (1 - 1e-12)):
        return f"the peer's {q_b} is not floor({cash_other:.6f} / {per_share:.6f})"
    return None


def compare(ref: Outcome, other: Outcome, ref_name: str, other_name: str) -> Parity:
    """Return whether ``other`` reproduces ``ref``: the exact rule, or the split rule for float peers."""
    if set(ref.fills) != set(other.fills):
        missing = sorted(set(ref.fills) ^ set(other.fills))[:3]
        return Parity(False, len(ref.fills), ref.n_fills, 0, math.nan, f"columns differ: {missing}")
    problems: list[str] = []
    split_notes: list[str] = []
    bad = split = 0
    max_diff = 0.0
    for col, mine in ref.fills.items():
        theirs = other.fills[col]
        diff = abs(ref.equity[col] - other.equity[col])
        if mine == theirs:
            max_diff = max(max_diff, diff)
            bound = HALF_CENT * max(len(mine), 1)
            if diff > bound:
                bad += 1
                problems.append(f"{col}: final equity {diff:.6f} apart > {bound:.3f} ({len(mine)} fills)")
            continue
        k = next(
            (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
            min(len(mine), len(theirs)),
        )
        why = (
            explain_split(ref, other, col, k) if other_name in FLOAT_PEERS else "exact engines may not split"
        )
        if why is None:
            split += 1
            if len(split_notes) < 2:
                split_notes.append(
                    f"{col} at fill #{k} of {len(mine)}: {_fmt(mine[k])} vs {theirs[k][2]} shares;"
                    f" final equity then {diff:,.2f} apart"
                )
            continue
        bad += 1
        problems.append(
            f"{col}: {len(mine)} vs {len(theirs)} fills; first difference #{k}: "
            f"{ref_name} {_fmt(mine[k] if k < len(mine) else None)} / "
            f"{other_name} {_fmt(theirs[k] if k < len(theirs) else None)} ({why})"
        )
    exact = len(ref.fills) - split - bad
    msg = f"{exact} of {len(ref.fills)} columns identical ({ref.n_fills:,} fills in all)"
    if exact:
        msg += f", their final equity at most {max_diff:.4f} apart"
    if split:
        msg += (
            f"; {split} split by float cash at an all-in buy, explained (e.g. " + "; ".join(split_notes) + ")"
        )
    if bad:
        msg += f"; **{bad} unexplained**: " + "; ".join(problems[:3])
    return Parity(bad == 0, len(ref.fills), ref.n_fills, split, max_diff, msg)
