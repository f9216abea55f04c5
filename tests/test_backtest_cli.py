"""End-to-end tests of ``solvent backtest``, in process through ``solvent.cli.main``."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.data import sample

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SMA = str(EXAMPLES / "sma_cross.py")


def _run(*argv: str) -> int:
    return main(["backtest", *argv])


@pytest.mark.parametrize("name", ["sma_cross", "martingale", "momentum", "leveraged"])
def test_examples_run_on_sample(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(str(EXAMPLES / f"{name}.py"), "--data", "sample", "--out", str(out)) == 0
    for f in ("summary.json", "fills.csv", "equity.csv"):
        assert (out / f).is_file()


def test_leveraged_example_is_cut_by_buying_power(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(str(EXAMPLES / "leveraged.py"), "--account", "margin", "--out", str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rejections"] > 0
    assert "INSUFFICIENT_BUYING_POWER" in summary["metrics"]["rejections_by_reason"]


def test_summary_json_matches_the_result(tmp_path: Path) -> None:
    import solvent
    from solvent.backtest_cli import load_module, pick_strategy
    from solvent.execution.costs import BasisPoints

    out = tmp_path / "out"
    code = _run(SMA, "--commission-bps", "10", "--param", "fast=20", "--param", "slow=100", "--out", str(out))
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    cls = pick_strategy(load_module(Path(SMA)), Path(SMA), None)
    result = solvent.backtest(
        cls, sample(), cash=100_000, commission=BasisPoints(Decimal(10)), fast=20, slow=100
    )
    final = summary["final_equity"]
    assert isinstance(final, str)
    assert len(final.split(".")[1]) == 2
    assert Decimal(final) == result.final_equity.amount
    assert summary["trades"] == len(result.trades)
    assert summary["fills"] == len(result.fills)
    assert summary["rejections"] == len(result.rejections)
    assert summary["settings"]["params"] == {"fast": 20, "slow": 100}
    m = summary["metrics"]
    assert m["start"] == "2014-01-02T00:00:00"
    assert isinstance(m["commission"], str) and Decimal(m["commission"]) > 0
    with (out / "equity.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.equity)
    assert rows[-1]["equity"] == final
    assert Decimal(rows[0]["cash"]) == Decimal("100000.00")
    with (out / "fills.csv").open() as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == len(result.fills)


def test_nan_metrics_become_null(tmp_path: Path) -> None:
    strat = tmp_path / "idle.py"
    strat.write_text("import solvent\n\nclass Idle(solvent.Strategy):\n    pass\n")
    out = tmp_path / "out"
    assert _run(str(strat), "--out", str(out)) == 0
    text = (out / "summary.json").read_text()
    assert "NaN" not in text
    summary = json.loads(text)
    assert summary["final_equity"] == "100000.00"
    assert summary["trades"] == 0


@pytest.mark.parametrize("bad", ["fast", "=3", "fast=inf", "fast=nan"])
def test_bad_param_is_a_usage_error(bad: str) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(SMA, "--param", bad)
    assert exc.value.code == 2


def test_unknown_param_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(SMA, "--param", "nope=1") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("solvent backtest:") and "nope" in err
    assert len(err.splitlines()) == 1


def test_missing_strategy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(str(tmp_path / "nope.py")) == 2
    err = capsys.readouterr().err.strip()
    assert "not found" in err and len(err.splitlines()) == 1


def test_strategy_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strat = tmp_path / "two.py"
    strat.write_text("import solvent\n\nclass A(solvent.Strategy):\n    pass\n\nclass B(A):\n    pass\n")
    assert _run(str(strat)) == 2
    assert "--strategy" in capsys.readouterr().err
    assert _run(str(strat), "--strategy", "B") == 0
    assert _run(str(strat), "--strategy", "C") == 2
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    assert _run(str(none)) == 2
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    assert _run(str(broken)) == 2


def test_data_from_csv(tmp_path: Path) -> None:
    frame = sample().select(["SYNA", "SYNB"]).slice(None, "2016-12-31").to_frame()
    path = tmp_path / "bars.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert _run(SMA, "--data", str(path), "--account", "cash", "--out", str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["start"] == "2014-01-02T00:00:00"
    assert summary["fills"] > 0


def test_bad_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,symbol,open,high,low,close,volume\n2024-01-02,X,10,9,11,10,100\n")
    assert _run(SMA, "--data", str(path)) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert _run(SMA, "--data", str(tmp_path / "missing.csv")) == 2


# -- margin calls and the PDT flags (docs/margin.md) -----------------------------------------

BUY_200 = """
import solvent


class BuyOnce(solvent.Strategy):
    def on_bar(self, ctx):
        if ctx.i == 0:
            ctx.order("XYZ", 200)
"""


def test_backtest_writes_events_csv_for_a_leveraged_crash(tmp_path: Path) -> None:
    strategy = tmp_path / "buy.py"
    strategy.write_text(BUY_200)
    data = tmp_path / "bars.csv"
    rows = ["timestamp,symbol,open,high,low,close,volume"] + [
        f"2024-01-0{d},XYZ,{p},{p},{p},{p},1000000" for d, p in ((2, 100), (3, 100), (4, 40), (5, 42.5))
    ]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    flags = ("--cash", "10000", "--liquidation", "largest_losers_first", "--pdt", "downgrade")
    code = _run(str(strategy), "--data", str(data), *flags, "--out", str(out))
    assert code == 0
    with (out / "events.csv").open(newline="") as fh:
        events = list(csv.reader(fh))
    # Bought 200 at 100.00 on 01-03; 01-04 closes at 40.00: NLV -2,000, MM 2,000.
    assert events == [
        ["timestamp", "kind", "from", "to", "margin_ratio", "nlv", "maintenance_margin"],
        ["2024-01-04T00:00:00", "margin", "healthy", "liquidating", "-0.25", "-2000.00", "2000.00"],
        ["2024-01-04T00:00:00", "trading_state", "active", "halted", "-0.25", "-2000.00", "2000.00"],
    ]
    with (out / "fills.csv").open(newline="") as fh:
        fills = list(csv.DictReader(fh))
    assert [(f["order_id"], f["quantity"], f["price"], f["tag"]) for f in fills][1] == (
        "liq1",
        "-200",
        "42.50",
        "liquidation",
    )
    summary = json.loads((out / "summary.json").read_text())
    # Sold at 42.50: cash -10,000 + 8,500 = -1,500, reported as it is.
    assert summary["final_equity"] == "-1500.00"
    s = summary["settings"]
    assert (s["pdt"], s["liquidation"], s["trading_state"]) == ("downgrade", "largest_losers_first", "halted")
    assert "debit of 2000.00" in s["halted"]


def test_backtest_events_csv_has_the_header_when_nothing_happened(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(SMA, "--pdt", "off", "--check-extremes", "--out", str(out)) == 0
    assert (out / "events.csv").read_text().splitlines() == [
        "timestamp,kind,from,to,margin_ratio,nlv,maintenance_margin"
    ]
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert (settings["pdt"], settings["check_extremes"]) == (None, True)
