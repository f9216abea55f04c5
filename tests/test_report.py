"""The HTML report: self-contained, well-formed, escaped, and honest about validation."""

from __future__ import annotations

import dataclasses
import html
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import solvent
from solvent.data import from_frame, sample
from solvent.engine import Context, Strategy
from solvent.results.report import MAX_ROWS, _downsample, render_report, write_report
from solvent.results.result import Result

EVIL = "<script>alert(1)</script>"
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
# SVG children written as self-closing tags.
SELF_CLOSING = {"line", "polyline", "polygon"}


class TagChecker(HTMLParser):
    """Record every start tag and fail on any end tag that does not close the innermost one."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:]}")
        else:
            self.stack.pop()


def parse(text: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    return checker


def frame_panel(symbols: list[str], opens: list[float]) -> pd.DataFrame:
    stamps = pd.bdate_range("2024-01-02", periods=len(opens))
    rows = [
        {
            "timestamp": ts,
            "symbol": s,
            "open": o,
            "high": o + 1,
            "low": o - 1,
            "close": o + 0.5,
            "volume": 1e6,
        }
        for s in symbols
        for ts, o in zip(stamps, opens, strict=True)
    ]
    return pd.DataFrame(rows)


class Churn(Strategy):
    """Buy on even bars and sell on odd ones, every symbol; one oversized order too."""

    def on_bar(self, ctx: Context) -> None:
        for sym in ctx.data.symbols:
            ctx.order(sym, 10 if ctx.i % 2 == 0 else -10, tag=f"t-{sym}")
        if ctx.i == 0:
            ctx.order(ctx.data.symbols[0], 1_000_000, tag="too big")


@pytest.fixture(scope="module")
def evil_result() -> Result:
    data = from_frame(frame_panel([EVIL, "AAA"], [10.0, 11.0, 12.0, 11.0, 13.0, 12.0]))
    return solvent.backtest(Churn, data, cash=10_000, account="cash")


@pytest.fixture(scope="module")
def evil_html(evil_result: Result, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = evil_result.report(tmp_path_factory.mktemp("report") / "run.html")
    return path.read_text(encoding="utf-8")


def test_report_method_writes_file_returns_path(evil_result: Result, tmp_path: Path) -> None:
    out = evil_result.report(str(tmp_path / "r.html"))
    assert isinstance(out, Path) and out.is_file()
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert write_report(evil_result, tmp_path / "w.html") == tmp_path / "w.html"


def test_report_html_parses_tags_balanced(evil_html: str) -> None:
    checker = parse(evil_html)
    assert checker.errors == []
    assert checker.stack == []
    for tag in ("html", "head", "body", "table", "svg", "section", "style", "polyline"):
        assert tag in checker.seen, tag
    assert "script" not in checker.seen


def test_report_contents_final_equity_and_metrics(evil_result: Result, evil_html: str) -> None:
    assert str(evil_result.final_equity) in evil_html
    for key in ("total_return", "sharpe", "max_drawdown", "commission", "trades", "win_rate"):
        assert f"<th>{key}</th>" in evil_html
    assert evil_result.metrics["trades"] != 0
    assert html.escape(str(evil_result.metrics["commission"])) in evil_html
    assert "Buying power and margin in use" in evil_html
    assert "buying power" in evil_html


def test_report_no_external_urls_or_scripts(evil_html: str) -> None:
    assert "http://" not in evil_html
    assert "https://" not in evil_html
    assert "<script" not in evil_html.lower()
    assert "<link" not in evil_html.lower()


def test_report_evil_symbol_escaped(evil_html: str) -> None:
    assert EVIL not in evil_html
    assert html.escape(EVIL) in evil_html


def test_report_rejections_counts_and_list(evil_result: Result, evil_html: str) -> None:
    assert not evil_result.rejections.empty
    for reason, count in evil_result.rejections["reason"].value_counts().items():
        assert f'<tr><th>{html.escape(str(reason))}</th><td class="n">{count}</td></tr>' in evil_html
    assert "too big" in evil_html


def test_report_validation_on_says_mode_not_off(evil_html: str) -> None:
    assert "Validation mode: reject" in evil_html
    assert "VALIDATION OFF" not in evil_html


def test_report_validation_off_says_so_prominently(tmp_path: Path) -> None:
    data = from_frame(frame_panel(["AAA"], [10.0, 11.0, 12.0]))
    res = solvent.backtest(Churn, data, cash=1_000, validation="off")
    assert res.settings["validated"] is False
    text = write_report(res, tmp_path / "off.html").read_text(encoding="utf-8")
    assert 'class="banner off"' in text
    assert text.count("VALIDATION OFF") >= 2
    assert parse(text).errors == []


def test_report_long_trades_truncated_with_note(evil_result: Result) -> None:
    n = 2 * MAX_ROWS + 37
    trades = pd.concat([evil_result.trades] * (n // len(evil_result.trades) + 1)).iloc[:n]
    fake = dataclasses.replace(evil_result, _built={**evil_result._built, "trades": trades})
    text = render_report(fake)
    assert f"Truncated: {n} trades in total" in text
    assert "37 rows not shown" in text
    assert parse(text).errors == []


def test_downsample_long_series_at_most_max_points() -> None:
    idx = _downsample(100_000)
    assert len(idx) <= 2000 and idx[0] == 0 and idx[-1] == 99_999
    assert np.all(np.diff(idx) > 0)
    assert len(_downsample(10)) == 10


def test_report_sample_2520_bars_fast(tmp_path: Path) -> None:
    class Hold(Strategy):
        def on_bar(self, ctx: Context) -> None:
            if ctx.i == 0:
                for sym in ctx.data.symbols:
                    ctx.order(sym, 10)

    data = sample()
    res = solvent.backtest(Hold, data, cash=100_000)
    assert len(res.equity) >= 2520
    start = time.perf_counter()
    text = write_report(res, tmp_path / "sample.html").read_text(encoding="utf-8")
    elapsed = time.perf_counter() - start
    print(f"report of {len(res.equity)} bars: {elapsed:.3f}s")
    assert elapsed < 0.5
    # Each chart line is downsampled to at most 2,000 points.
    for chunk in text.split('<polyline points="')[1:]:
        assert chunk.split('"', 1)[0].count(",") <= 2000
