"""``write_report``: one self-contained HTML page describing a backtest ``Result``.

The page has no scripts, no external stylesheets, fonts or images and no URLs: CSS is
inline and the charts are inline SVG drawn here from numpy arrays (long series are
downsampled to at most ``MAX_POINTS`` points). Every string that comes from the user
(symbols, tags, reasons, details, strategy name, settings) goes through
``html.escape``. Money and exact quantities are shown as their exact decimal strings.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from solvent.results.result import Result

__all__ = ["MAX_POINTS", "MAX_ROWS", "write_report"]

#: Most points drawn per line in a chart.
MAX_POINTS = 2000
#: Rows shown from each end of a long table (first and last ``MAX_ROWS``).
MAX_ROWS = 500

FloatArray = npt.NDArray[np.float64]

_W, _H = 900, 260
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 80, 20, 24, 28

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1d2330;background:#fff;max-width:1000px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px;
border-bottom:1px solid #dde;padding-bottom:4px}
.sub{color:#667;margin-top:0}
.banner{padding:12px 16px;border-radius:6px;margin:12px 0;font-weight:600}
.off{background:#fde2e1;border:2px solid #c0392b;color:#7b1d14;font-size:1.15em}
.on{background:#e6f4ea;border:1px solid #7bb38a;color:#1e4d2b}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}
th,td{border:1px solid #dde;padding:3px 8px;text-align:left}
th{background:#f3f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.gap td{background:#fff8dc;font-style:italic;text-align:center}
.note{color:#8a5a00;font-size:.9em}
svg{display:block;margin:6px 0;background:#fcfcfe;border:1px solid #e4e6ee}
svg text{font-size:11px;fill:#556}
.legend span{display:inline-block;margin-right:14px;font-size:.85em}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
"""


def _e(value: object) -> str:
    """Return ``value`` as an escaped string (quotes too)."""
    return html.escape(str(value), quote=True)


def _fmt(value: object) -> str:
    """Return a readable, exact where it matters, *unescaped* string for ``value``."""
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.6g}"
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "{}"
    return str(value)


def _cell(value: object) -> str:
    numeric = isinstance(value, int | float | Decimal | np.number) and not isinstance(value, bool)
    cls = ' class="n"' if numeric else ""
    return f"<td{cls}>{_e(_fmt(value))}</td>"


def _downsample(n: int, max_points: int = MAX_POINTS) -> npt.NDArray[np.intp]:
    """Return sorted indices of at most ``max_points`` points (first and last kept)."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.intp))


def _svg_chart(
    title: str,
    times: npt.NDArray[np.datetime64],
    lines: Sequence[tuple[str, FloatArray, str]],
    *,
    percent: bool = False,
    fill: bool = False,
) -> str:
    """Return an inline SVG line chart of ``lines`` (``(label, values, colour)``)."""
    n = len(times)
    idx = _downsample(n)
    ys = [np.asarray(v, dtype=np.float64)[idx] for _, v, _ in lines]
    finite = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.empty(0)
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{_e(label)}</span>' for label, _, colour in lines
    )
    if n == 0 or finite.size == 0:
        return f"<h3>{_e(title)}</h3><p class='note'>no data</p>"
    lo, hi = float(finite.min()), float(finite.max())
    if fill:
        hi = max(hi, 0.0)
        lo = min(lo, 0.0)
    if hi == lo:
        pad = abs(hi) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    pw, ph = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    xs = _PAD_L + (np.linspace(0.0, 1.0, len(idx)) if len(idx) > 1 else np.zeros(1)) * pw

    def ypix(v: FloatArray | float) -> Any:
        return _PAD_T + (hi - np.asarray(v)) / (hi - lo) * ph

    parts = [f'<svg viewBox="0 0 {_W} {_H}" width="100%" role="img" aria-label="{_e(title)}">']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        gy = float(ypix(v))
        label = f"{v:.1%}" if percent else f"{v:,.2f}"
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#e4e6ee"/>'
            f'<text x="{_PAD_L - 6}" y="{gy + 4:.1f}" text-anchor="end">{_e(label)}</text>'
        )
    t0, t1 = pd.Timestamp(times[0]), pd.Timestamp(times[-1])
    parts.append(
        f'<text x="{_PAD_L}" y="{_H - 8}">{_e(t0.date())}</text>'
        f'<text x="{_W - _PAD_R}" y="{_H - 8}" text-anchor="end">{_e(t1.date())}</text>'
    )
    for (_, _, colour), y in zip(lines, ys, strict=True):
        ok = np.isfinite(y)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs[ok], ypix(y[ok]), strict=True))
        if not pts:
            continue
        if fill:
            base = float(ypix(0.0))
            x_ok = xs[ok]
            poly = f"{x_ok[0]:.1f},{base:.1f} {pts} {x_ok[-1]:.1f},{base:.1f}"
            parts.append(f'<polygon points="{poly}" fill="{colour}" fill-opacity="0.25" stroke="none"/>')
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.4"/>')
    parts.append("</svg>")
    return f'<h3>{_e(title)}</h3><div class="legend">{legend}</div>{"".join(parts)}'


def _rows_html(rows: Iterable[Sequence[object]]) -> list[str]:
    return ["<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows]


def _frame_table(df: pd.DataFrame, what: str, limit: int = MAX_ROWS) -> str:
    """Return ``df`` as an HTML table, only the first and last ``limit`` rows if longer."""
    if df.empty:
        return f"<p>No {_e(what)}.</p>"
    cols = list(df.columns)
    head = "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"
    n = len(df)
    note = ""
    if n > 2 * limit:
        hidden = n - 2 * limit
        body = _rows_html(df.iloc[:limit].itertuples(index=False, name=None))
        body.append(f'<tr class="gap"><td colspan="{len(cols)}">… {hidden} rows not shown …</td></tr>')
        body += _rows_html(df.iloc[-limit:].itertuples(index=False, name=None))
        note = (
            f'<p class="note">Truncated: {n} {_e(what)} in total; showing the first {limit} '
            f"and the last {limit} ({hidden} omitted). The full list is in the Result.</p>"
        )
    else:
        body = _rows_html(df.itertuples(index=False, name=None))
    return f"{note}<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _kv_table(items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th>{_cell(v)}</tr>" for k, v in items)
    return f"<table><tbody>{rows}</tbody></table>"


_PCT_KEYS = frozenset({"total_return", "cagr", "volatility", "max_drawdown", "time_in_market", "win_rate"})


def _metric_items(metrics: Mapping[str, object]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for key, value in metrics.items():
        if key == "rejections_by_reason":
            continue
        if key in _PCT_KEYS and isinstance(value, float) and math.isfinite(value):
            out.append((key, f"{value:.2%}"))
        else:
            out.append((key, value))
    return out


#: What each permissive setting (``settings["permissive"]``) lets a backtest do.
_PERMISSIVE = {
    "fill_timing": "orders fill at the close the strategy had already seen (look-ahead)",
    "short_cash": "short sales are not checked and their proceeds are spent as cash",
    "initial_margin": "positions are margined below Reg T's 50% (more leverage)",
    "placement_check": "orders are not checked or reserved when placed, only at the fill",
    "zero_volume": "orders fill on bars where nothing traded",
    "volume_limit": "a fill may take any share of the bar's volume",
    "pdt": "the Pattern Day Trader rule is not enforced",
    "validation": "orders the account cannot afford are not refused",
}


def _permissive_banner(settings: Mapping[str, Any]) -> str:
    """Return a warning listing the settings that turned a protection off ("" if none)."""
    names = [str(n) for n in settings.get("permissive") or ()]
    if not names:
        return ""
    items = "".join(f"<li><code>{_e(n)}</code>: {_e(_PERMISSIVE.get(n, 'permissive'))}</li>" for n in names)
    return (
        f'<div class="banner off" id="permissive">PERMISSIVE SETTINGS (profile '
        f"{_e(settings.get('profile', 'realistic'))}): this run allowed what a broker would not."
        f"<ul>{items}</ul></div>"
    )


def render_report(result: Result) -> str:
    """Return the report of ``result`` as one HTML document (a string)."""
    settings = result.settings
    strategy = settings.get("strategy", "strategy")
    validated = bool(settings.get("validated", True))
    mode = settings.get("validation", "n/a")
    m = result.metrics

    if validated:
        banner = f'<div class="banner on">Validation mode: {_e(mode)}</div>'
    else:
        banner = (
            f'<div class="banner off">VALIDATION OFF (mode: {_e(mode)}): orders were not '
            "checked against buying power, margin or cash, so these results may spend "
            "money the account does not have.</div>"
        )
    if settings.get("look_ahead"):
        banner += (
            '<div class="banner off" id="look-ahead">LOOK-AHEAD: fill timing '
            f"{_e(settings.get('fill_timing', 'same_bar_close'))}: orders filled at the close of "
            "the bar the strategy decided on, a price it had already seen. No real order "
            "can do that; use it only to compare with engines that fill there.</div>"
        )

    banner += _permissive_banner(settings)

    times = result.equity.index.to_numpy(dtype="datetime64[ns]")
    eq = result.equity.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.maximum.accumulate(np.where(np.isfinite(eq), eq, -np.inf)) if eq.size else eq
        dd = np.where(peak > 0, eq / peak - 1.0, np.nan)
    margin = result.margin
    charts = [
        _svg_chart("Equity (net liquidating value)", times, [("equity", eq, "#2b6cb0")]),
        _svg_chart("Drawdown", times, [("drawdown", dd, "#c0392b")], percent=True, fill=True),
    ]
    mlines = [
        (col.replace("_", " "), margin[col].to_numpy(dtype=np.float64), colour)
        for col, colour in (
            ("buying_power", "#2f855a"),
            ("initial_margin", "#d69e2e"),
            ("maintenance_margin", "#805ad5"),
        )
        if col in margin.columns
    ]
    if mlines:
        charts.append(_svg_chart("Buying power and margin in use", times, mlines))

    headline = [
        ("final equity", str(result.final_equity)),
        ("initial equity", m.get("initial_equity")),
        ("period", f"{_fmt(m.get('start'))} .. {_fmt(m.get('end'))}"),
        ("bars", m.get("bars")),
    ]

    rej = result.rejections
    if rej.empty:
        counts_html = "<p>No rejections.</p>"
    else:
        counts = rej["reason"].astype(str).value_counts()
        counts_html = _kv_table((str(k), int(v)) for k, v in counts.items())

    settings_items = [(k, v) for k, v in settings.items()]

    doc = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Backtest report: {_e(strategy)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Backtest report: {_e(strategy)}</h1>",
        f'<p class="sub">Final equity <strong id="final-equity">{_e(result.final_equity)}</strong>'
        f" · account {_e(settings.get('account', 'n/a'))}"
        f" · profile {_e(settings.get('profile', 'realistic'))}</p>",
        banner,
        '<section id="summary"><h2>Summary</h2>',
        _kv_table(headline),
        "</section>",
        '<section id="charts"><h2>Charts</h2>',
        *charts,
        "</section>",
        '<section id="metrics"><h2>Metrics</h2>',
        _kv_table(_metric_items(m)),
        "</section>",
        f'<section id="trades"><h2>Trades ({len(result.trades)})</h2>',
        _frame_table(result.trades, "trades"),
        "</section>",
        f'<section id="rejections"><h2>Rejections ({len(rej)})</h2>',
        "<h3>By reason</h3>",
        counts_html,
        "<h3>Rejected orders</h3>",
        _frame_table(rej, "rejections"),
        "</section>",
        '<section id="settings"><h2>Settings</h2>',
        banner,
        _kv_table(settings_items),
        "</section>",
        "</body></html>",
    ]
    return "\n".join(doc)


def write_report(result: Result, path: str | Path) -> Path:
    """Write the HTML report of ``result`` to ``path`` and return it as a ``Path``."""
    out = Path(path)
    out.write_text(render_report(result), encoding="utf-8")
    return out
