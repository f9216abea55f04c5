"""Show an ``AuditResult``: Rich tables, the ``audit.json`` dict, and one HTML page.

The HTML page is self-contained like the backtest report (``results.report``, whose
helpers it reuses): inline CSS and SVG, no scripts or URLs, and every string that
comes from the user (strategy, parameters, symbols, data description, refusal
details) goes through ``html.escape``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from solvent.audit.runs import CUT_CAUSES, Cut, RunSummary
from solvent.backtest_cli import json_safe
from solvent.profiles import WATERFALL_ORDER
from solvent.results.report import _CSS, _cell, _e, _fmt, _frame_table, _kv_table, _svg_chart

if TYPE_CHECKING:
    from solvent.audit.core import AuditResult

__all__ = ["SCHEMA", "to_dict", "to_html", "to_rich", "write"]

#: The ``schema`` field of ``audit.json``; bumped when a field changes meaning.
SCHEMA = "solvent.audit/1"
MAX_REFUSED_ROWS = 100  # refused orders listed from each end in the HTML page


_NOT_SETTINGS = frozenset({"data", "params", "strategy"})


def _value(v: object) -> str:
    """Return a setting's value for display (``None`` is a switched-off setting)."""
    return "off" if v is None else str(v)


def _pct(v: float) -> str:
    return "n/a" if np.isnan(v) else f"{v:.2%}"


def _pp(v: float) -> str:
    """Return a difference of two fractions in percentage points."""
    return "" if np.isnan(v) else f"{v * 100:+.2f} pp"


def _signed(m: Any) -> str:
    s = str(m)
    return s if s.startswith("-") else f"+{s}"


# -- JSON ------------------------------------------------------------------------------


def _cut_dict(c: Cut) -> dict[str, Any]:
    return {
        "orders": c.orders,
        "quantity": str(c.quantity),
        "filled_later": str(c.filled_later),
        "never_filled": str(c.never_filled),
    }


def _run_dict(run: RunSummary) -> dict[str, Any]:
    m = run.margin
    return {
        "profile": run.profile,
        # Every setting in force but the data's description (top level) and parameters.
        "settings": json_safe({k: v for k, v in run.settings.items() if k not in _NOT_SETTINGS}),
        "permissive": list(run.permissive),
        "final_equity": str(run.final_equity),
        "final_equity_minor": run.final_equity.minor,
        "total_return": json_safe(run.total_return),
        "max_drawdown": json_safe(run.max_drawdown),
        "trades": run.trades,
        "fills": run.fills,
        "orders": run.orders,
        "commission": str(run.commission),
        "refusals": [
            {"reason": r.reason, "stage": r.stage, "count": r.count, "quantity": str(r.quantity)}
            for r in run.refusals
        ],
        "quantity_cut": {c.cause: _cut_dict(c) for c in run.cuts},
        "margin": {
            "margin_calls": m.margin_calls,
            "liquidating": m.liquidating,
            "halted": m.halted,
            "liquidation_fills": m.liquidation_fills,
            "liquidation_quantity": str(m.liquidation_quantity),
            "liquidation_value": str(m.liquidation_value),
        },
    }


def to_dict(a: AuditResult) -> dict[str, Any]:
    """Return the audit as a JSON-ready dict; money as exact strings plus ``*_minor`` ints.

    Keys: ``schema``, ``strategy``, ``params``, ``against``, ``cash``, ``currency``,
    ``data``, ``runs`` (``peer`` and ``realistic``), ``waterfall`` (``order``,
    ``start``, ``steps``, ``end``, ``total_difference``, ``explained``).
    """
    total = a.total_difference
    return {
        "schema": SCHEMA,
        "strategy": a.strategy,
        "params": json_safe(dict(a.params)),
        "against": a.against,
        "cash": str(a.cash),
        "currency": a.cash.currency.code,
        "data": json_safe(dict(a.data)),
        "runs": {"peer": _run_dict(a.peer), "realistic": _run_dict(a.realistic)},
        "waterfall": {
            "order": list(WATERFALL_ORDER),
            "start": str(a.peer.final_equity),
            "start_minor": a.peer.final_equity.minor,
            "steps": [
                {
                    "setting": s.setting,
                    "peer_value": json_safe(s.peer_value),
                    "realistic_value": json_safe(s.realistic_value),
                    "change": str(s.change),
                    "change_minor": s.change.minor,
                    "final_equity": str(s.final_equity),
                    "final_equity_minor": s.final_equity.minor,
                }
                for s in a.steps
            ],
            "end": str(a.realistic.final_equity),
            "end_minor": a.realistic.final_equity.minor,
            "total_difference": str(total),
            "total_difference_minor": total.minor,
            "explained_minor": a.explained.minor,
        },
    }


# -- rows shared by Rich and HTML --------------------------------------------------------


def _headline_rows(a: AuditResult) -> list[tuple[str, str, str, str]]:
    p, r = a.peer, a.realistic
    pm, rm = p.margin, r.margin
    return [
        ("final equity", str(p.final_equity), str(r.final_equity), _signed(a.total_difference)),
        ("total return", _pct(p.total_return), _pct(r.total_return), _pp(r.total_return - p.total_return)),
        ("max drawdown", _pct(p.max_drawdown), _pct(r.max_drawdown), _pp(r.max_drawdown - p.max_drawdown)),
        ("trades", str(p.trades), str(r.trades), f"{r.trades - p.trades:+d}"),
        ("fills", str(p.fills), str(r.fills), f"{r.fills - p.fills:+d}"),
        ("commission", str(p.commission), str(r.commission), _signed(r.commission - p.commission)),
        ("refusals", str(p.refused_count), str(r.refused_count), f"{r.refused_count - p.refused_count:+d}"),
        ("margin calls", str(pm.margin_calls), str(rm.margin_calls), ""),
        ("liquidating", str(pm.liquidating), str(rm.liquidating), ""),
        ("liquidation fills", str(pm.liquidation_fills), str(rm.liquidation_fills), ""),
        ("liquidated value", str(pm.liquidation_value), str(rm.liquidation_value), ""),
        ("halted", "yes" if pm.halted else "no", "yes" if rm.halted else "no", ""),
    ]


def _refusal_rows(a: AuditResult) -> list[tuple[str, str, str, str]]:
    keys: dict[tuple[str, str], None] = {}
    for run in (a.realistic, a.peer):
        for row in run.refusals:
            keys[row.reason, row.stage] = None

    def cell(run: RunSummary, key: tuple[str, str]) -> str:
        for row in run.refusals:
            if (row.reason, row.stage) == key:
                return f"{row.count} ({row.quantity})"
        return "0"

    return [
        (reason, stage, cell(a.peer, (reason, stage)), cell(a.realistic, (reason, stage)))
        for reason, stage in keys
    ]


def _cut_rows(a: AuditResult) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for i, cause in enumerate(CUT_CAUSES):
        p, r = a.peer.cuts[i], a.realistic.cuts[i]
        rows.append(
            (
                cause,
                f"{p.orders} ({p.quantity})",
                f"{r.orders} ({r.quantity})",
                str(r.filled_later),
                str(r.never_filled),
            )
        )
    return rows


def _waterfall_rows(a: AuditResult) -> list[tuple[str, str, str, str]]:
    rows = [(f"{a.against} profile", "", "", str(a.peer.final_equity))]
    for s in a.steps:
        move = f"{_value(s.peer_value)} → {_value(s.realistic_value)}"
        rows.append((s.setting, move, _signed(s.change), str(s.final_equity)))
    rows.append(("total difference", "", _signed(a.total_difference), str(a.realistic.final_equity)))
    return rows


def _title(a: AuditResult) -> str:
    params = ", ".join(f"{k}={v}" for k, v in a.params.items())
    return f"Audit of {a.strategy}({params}) against {a.against}"


# -- Rich ------------------------------------------------------------------------------


def _rich_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], right_from: int = 1
) -> Table:
    # Text, not markup: parameter values and symbols are user strings ("[red]" stays).
    table = Table(title=Text(title, style="italic"))
    for i, c in enumerate(columns):
        table.add_column(Text(c), justify="right" if i >= right_from else "left")
    for row in rows:
        table.add_row(*(Text(v) for v in row))
    return table


def to_rich(a: AuditResult) -> Group:
    """Return the audit's tables (headline, refusals, quantity cuts, waterfall)."""
    peer = a.against
    refusals = _refusal_rows(a) or [("none", "", "0", "0")]
    parts: list[Any] = [
        _rich_table(_title(a), ["", peer, "realistic", "difference"], _headline_rows(a)),
        _rich_table("Refusals: count (quantity)", ["reason", "stage", peer, "realistic"], refusals, 2),
        _rich_table(
            "Quantity cut: orders (quantity)",
            ["cause", peer, "realistic", "filled later", "never filled"],
            _cut_rows(a),
        ),
        _rich_table(
            f"Waterfall: final equity from the {a.against} profile to the realistic one",
            ["setting", f"{peer} → realistic", "change", "final equity"],
            _waterfall_rows(a),
            2,
        ),
    ]
    if a.peer.permissive:
        parts.append(Text(f"{a.against} profile turns off: {', '.join(a.peer.permissive)}"))
    return Group(*parts)


# -- HTML ------------------------------------------------------------------------------


def _html_table(columns: Sequence[str], rows: Iterable[Sequence[object]], table_id: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def to_html(a: AuditResult) -> str:
    """Return the audit as one self-contained HTML document (a string)."""
    peer = f"{a.against} profile"
    eq_p, eq_r = a.peer.result.equity, a.realistic.result.equity
    times = eq_r.index.to_numpy(dtype="datetime64[ns]")
    chart = _svg_chart(
        "Equity (net liquidating value)",
        times,
        [
            (peer, eq_p.to_numpy(dtype=np.float64), "#c0392b"),
            ("realistic", eq_r.to_numpy(dtype=np.float64), "#2b6cb0"),
        ],
    )
    data = a.data
    about = [
        ("strategy", a.strategy),
        ("parameters", dict(a.params)),
        ("against", a.against),
        ("starting cash", str(a.cash)),
        ("symbols", ", ".join(str(s) for s in data.get("symbols", []))),
        ("period", f"{data.get('start')} .. {data.get('end')}"),
        ("bars", data.get("bars")),
        ("data", data.get("meta", {})),
    ]
    settings_rows = [
        (k, _fmt(a.peer.settings.get(k)), _fmt(a.realistic.settings.get(k)))
        for k in dict.fromkeys([*a.realistic.settings, *a.peer.settings])
        if k not in _NOT_SETTINGS
    ]
    permissive = ", ".join(a.peer.permissive) or "none"
    rejected = a.realistic.result.rejections
    doc = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(_title(a))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(_title(a))}</h1>",
        f'<p class="sub">Realistic final equity <strong>{_e(a.realistic.final_equity)}</strong> vs '
        f"<strong>{_e(a.peer.final_equity)}</strong> under the {_e(peer)}: difference "
        f'<strong id="total-difference">{_e(_signed(a.total_difference))}</strong></p>',
        f'<div class="banner off">The {_e(peer)} turns off: {_e(permissive)}</div>',
        '<section id="about"><h2>Run</h2>',
        _kv_table(about),
        "</section>",
        '<section id="headline"><h2>Both runs</h2>',
        _html_table(["", peer, "realistic", "difference"], _headline_rows(a), "headline-table"),
        chart,
        "</section>",
        '<section id="refusals"><h2>Fills refused, by reason: count (quantity)</h2>',
        _html_table(["reason", "stage", peer, "realistic"], _refusal_rows(a), "refusals-table")
        if a.peer.refusals or a.realistic.refusals
        else "<p>No refusals in either run.</p>",
        f"<h3>Refusals of the realistic run ({len(rejected)})</h3>",
        _frame_table(rejected, "refusals", MAX_REFUSED_ROWS),
        "</section>",
        '<section id="cuts"><h2>Quantity cut: orders (quantity)</h2>',
        _html_table(["cause", peer, "realistic", "filled later", "never filled"], _cut_rows(a), "cuts-table"),
        "</section>",
        '<section id="waterfall"><h2>Waterfall</h2>',
        f"<p>From the {_e(peer)}, each differing setting is switched to solvent's value in this "
        "order and kept; each step's change in final equity is attributed to its setting. The "
        "steps add up to the total difference exactly.</p>",
        _html_table(
            ["setting", f"{a.against} → realistic", "change", "final equity"],
            _waterfall_rows(a),
            "waterfall-table",
        ),
        "</section>",
        '<section id="settings"><h2>Settings</h2>',
        _html_table(["setting", peer, "realistic"], settings_rows, "settings-table"),
        "</section>",
        "</body></html>",
    ]
    return "\n".join(doc)


def write(a: AuditResult, out: Path) -> tuple[Path, Path]:
    """Write ``audit.json`` and ``audit.html`` into ``out`` (created); return both paths."""
    out.mkdir(parents=True, exist_ok=True)
    js, page = out / "audit.json", out / "audit.html"
    js.write_text(json.dumps(to_dict(a), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    page.write_text(to_html(a), encoding="utf-8")
    return js, page
