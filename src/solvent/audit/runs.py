"""What one run of an audit shows: headline figures, refusals, quantity cuts, margin.

Each function reads a finished ``Result`` (its orders, fills, rejections and events
frames) and, for the volume cap, the bar panel the run traded on. Nothing here runs a
backtest; ``solvent.audit.core`` does.

Quantities are exact ``Decimal`` (absolute values: a cut sell counts like a cut buy);
money is ``Money``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pandas as pd

from solvent.data.frame import BarData
from solvent.engine.backtest import _volume_lots
from solvent.model.instrument import Instrument
from solvent.model.money import Money
from solvent.model.records import ReasonCode
from solvent.results.result import Result

__all__ = ["CUT_CAUSES", "Cut", "MarginSummary", "Refusals", "RunSummary", "summarize"]

_ZERO = Decimal(0)

#: The causes a quantity cut is attributed to, in the order they are reported.
#: ``scaled_down``: cut at placement to what buying power affords (the rest is never
#: worked); ``buying_power_at_fill``: the fill could fund only part (the rest kept
#: working, or was cancelled); ``volume_cap``: the bar's volume cap was reached;
#: ``zero_volume``: the bar traded nothing.
CUT_CAUSES = ("scaled_down", "buying_power_at_fill", "volume_cap", "zero_volume")

# At-fill deferrals (``Rejection.at_fill``) by the cause they are counted under.
_DEFERRAL_CAUSE = {
    ReasonCode.INSUFFICIENT_BUYING_POWER.value: "buying_power_at_fill",
    ReasonCode.VOLUME_LIMIT.value: "volume_cap",
    ReasonCode.ZERO_VOLUME.value: "zero_volume",
}
LIQUIDATION_TAG = "liquidation"  # the tag of the broker's liquidation orders


@dataclass(frozen=True, slots=True)
class Refusals:
    """The refusals of one reason at one stage.

    ``stage`` is ``"placement"`` (the whole order was refused when placed) or
    ``"fill"`` (a working order could not fill, or fill whole, on a bar; it kept
    working unless its time in force ended it). ``quantity`` sums the quantities the
    refusals name: the order's request at placement, its remainder at the fill.
    """

    reason: str
    stage: str
    count: int
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Cut:
    """Quantity the account or the market did not let orders trade when they asked.

    For each order and cause, the first bar the cause cut the order is taken:
    ``quantity`` sums what the orders did not fill there (for ``scaled_down``, the
    request less the accepted quantity), ``filled_later`` what of that they filled on
    later bars, and ``never_filled`` the rest (cancelled, expired, or still working at
    the end). An order cut by two causes counts under both, each at its own bar.
    """

    cause: str
    orders: int
    quantity: Decimal
    filled_later: Decimal
    never_filled: Decimal


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """Margin calls and liquidations of one run (``Result.events`` and fills).

    ``margin_calls`` and ``liquidating`` count transitions into those margin bands;
    ``halted`` says whether trading halted (NLV at or below zero); the liquidation
    figures sum the fills of orders tagged ``liquidation``.
    """

    margin_calls: int
    liquidating: int
    halted: bool
    liquidation_fills: int
    liquidation_quantity: Decimal
    liquidation_value: Decimal


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run of an audit: its profile, headline figures and what was refused or cut.

    ``settings`` is the run's ``Result.settings`` (every setting in force);
    ``permissive`` lists those that turn a protection off.
    """

    profile: str
    settings: Mapping[str, object]
    permissive: tuple[str, ...]
    final_equity: Money
    total_return: float
    max_drawdown: float
    trades: int
    fills: int
    orders: int
    commission: Decimal
    refusals: tuple[Refusals, ...]
    cuts: tuple[Cut, ...]
    margin: MarginSummary
    result: Result = field(repr=False)

    @property
    def refused_count(self) -> int:
        """Return how many refusals the run recorded (placement and fill)."""
        return sum(r.count for r in self.refusals)


def summarize(profile: str, result: Result, panel: BarData) -> RunSummary:
    """Return the ``RunSummary`` of ``result``, a run under ``profile`` on ``panel``."""
    m = result.metrics
    commission = m.get("commission")
    return RunSummary(
        profile=profile,
        settings=result.settings,
        permissive=tuple(result.settings.get("permissive", ())),
        final_equity=result.final_equity,
        total_return=_float(m.get("total_return")),
        max_drawdown=_float(m.get("max_drawdown")),
        trades=len(result.trades),
        fills=len(result.fills),
        orders=len(result.orders),
        commission=commission if isinstance(commission, Decimal) else _ZERO,
        refusals=refusals(result.rejections),
        cuts=quantity_cuts(result, panel),
        margin=margin_summary(result),
        result=result,
    )


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def refusals(rejections: pd.DataFrame) -> tuple[Refusals, ...]:
    """Return the refusals grouped by reason and stage, most frequent first."""
    groups: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for reason, qty, at_fill in zip(
        rejections["reason"], rejections["quantity"], rejections["at_fill"], strict=True
    ):
        groups[str(reason), "fill" if at_fill else "placement"].append(abs(Decimal(qty)))
    rows = [Refusals(r, s, len(q), sum(q, _ZERO)) for (r, s), q in groups.items()]
    return tuple(sorted(rows, key=lambda r: (-r.count, r.reason, r.stage)))


def margin_summary(result: Result) -> MarginSummary:
    """Return the margin calls, liquidating bands, halt and liquidation fills of a run."""
    ev = result.events
    kind, to = ev["kind"].astype(str), ev["to"].astype(str)
    liq = result.fills[result.fills["tag"] == LIQUIDATION_TAG]
    qty = [abs(Decimal(q)) for q in liq["quantity"]]
    value = sum((q * Decimal(p) for q, p in zip(qty, liq["price"], strict=True)), _ZERO)
    return MarginSummary(
        margin_calls=int(((kind == "margin") & (to == "margin_call")).sum()),
        liquidating=int(((kind == "margin") & (to == "liquidating")).sum()),
        halted=bool(((kind == "trading_state") & (to == "halted")).any()),
        liquidation_fills=len(liq),
        liquidation_quantity=sum(qty, _ZERO),
        liquidation_value=value,
    )


def quantity_cuts(result: Result, panel: BarData) -> tuple[Cut, ...]:
    """Return the quantity cut per cause (``CUT_CAUSES``), measured on the orders.

    ``scaled_down`` comes from the orders the broker cut at placement (reason
    ``SCALED_DOWN``). For the other causes, per order, the *first* bar where the cause
    kept it from filling what remained: its at-fill refusal (``INSUFFICIENT_BUYING_POWER``,
    ``VOLUME_LIMIT``, ``ZERO_VOLUME``; the broker records the first one per order), or
    a bar where it filled only part while its symbol's fills used up that bar's volume
    cap (``floor(volume × volume_limit)`` lots, the broker's budget; a capped partial
    fill is not a refusal, so the budget is recomputed here from the panel).
    """
    orders = result.orders
    accepted = {
        oid: abs(Decimal(q)) for oid, q in zip(orders["order_id"], orders["accepted_quantity"], strict=True)
    }
    symbol_of = dict(zip(orders["order_id"], orders["symbol"], strict=True))

    # Filled quantity per order per bar, in bar order.
    filled: dict[str, dict[pd.Timestamp, Decimal]] = defaultdict(lambda: defaultdict(lambda: _ZERO))
    per_bar: dict[tuple[pd.Timestamp, str], Decimal] = defaultdict(lambda: _ZERO)
    fills = result.fills
    for oid, ts, sym, q in zip(
        fills["order_id"], fills["timestamp"], fills["symbol"], fills["quantity"], strict=True
    ):
        stamp = pd.Timestamp(ts)
        filled[oid][stamp] += abs(Decimal(q))
        per_bar[stamp, sym] += abs(Decimal(q))

    # The first bar each cause cut each order at.
    first: dict[tuple[str, str], pd.Timestamp] = {}

    def note(oid: str, stamp: pd.Timestamp, cause: str) -> None:
        if (oid, cause) not in first or stamp < first[oid, cause]:
            first[oid, cause] = stamp

    rej = result.rejections
    for oid, ts, reason, at_fill in zip(
        rej["order_id"], rej["timestamp"], rej["reason"], rej["at_fill"], strict=True
    ):
        cause = _DEFERRAL_CAUSE.get(str(reason))
        if at_fill and cause is not None:
            note(oid, pd.Timestamp(ts), cause)
    capped = _capped_bars(result.settings.get("volume_limit"), per_bar, panel, result.account.instruments)
    for oid, by_bar in filled.items():
        sym = symbol_of.get(oid)
        for stamp in by_bar:
            if (stamp, sym) not in capped:
                continue
            through = sum((q for t, q in by_bar.items() if t <= stamp), _ZERO)
            if through < accepted.get(oid, _ZERO):
                note(oid, stamp, "volume_cap")
                break

    sums: dict[str, list[Decimal]] = {c: [_ZERO, _ZERO, _ZERO] for c in CUT_CAUSES}
    counts = dict.fromkeys(CUT_CAUSES, 0)
    for q, a, reason in zip(orders["quantity"], orders["accepted_quantity"], orders["reason"], strict=True):
        if reason == ReasonCode.SCALED_DOWN.value:
            cut = abs(Decimal(q)) - abs(Decimal(a))
            if cut > 0:
                counts["scaled_down"] += 1
                sums["scaled_down"][0] += cut
                sums["scaled_down"][2] += cut
    for (oid, cause), stamp in first.items():
        by_bar = filled.get(oid, {})
        before = sum((q for t, q in by_bar.items() if t < stamp), _ZERO)
        at = by_bar.get(stamp, _ZERO)
        later = sum((q for t, q in by_bar.items() if t > stamp), _ZERO)
        cut = accepted.get(oid, _ZERO) - before - at
        if cut <= 0:
            continue
        counts[cause] += 1
        acc = sums[cause]
        acc[0] += cut
        acc[1] += min(later, cut)
        acc[2] += cut - min(later, cut)
    return tuple(Cut(c, counts[c], *sums[c]) for c in CUT_CAUSES)


def _capped_bars(
    volume_limit: Any,
    per_bar: Mapping[tuple[pd.Timestamp, str], Decimal],
    panel: BarData,
    instruments: Mapping[str, Instrument],
) -> set[tuple[pd.Timestamp, str]]:
    """Return the (bar, symbol) pairs whose fills used up the volume cap."""
    if volume_limit is None or not per_bar:
        return set()
    share = Fraction(Decimal(str(volume_limit)))
    insts = {s: instruments[s] for s in panel.symbols if s in instruments}  # the run's lot steps
    if len(insts) != len(panel.symbols):
        return set()
    lots = _volume_lots(panel.volume, [insts[s] for s in panel.symbols])
    rows = {pd.Timestamp(t): i for i, t in enumerate(panel.timestamps)}
    out: set[tuple[pd.Timestamp, str]] = set()
    for (stamp, sym), total in per_bar.items():
        r = rows.get(stamp, -1)
        if r < 0 or sym not in insts:
            continue
        budget = int(lots[r, panel.index(sym)]) * share.numerator // share.denominator
        if budget > 0 and total / insts[sym].lot_size >= budget:
            out.add((stamp, sym))
    return out
