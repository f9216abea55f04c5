"""``solvent.audit`` and ``solvent audit``: both runs, refusals, cuts and the waterfall.

The hand-worked cases use tiny panels where every fill is known; the examples run on
a 500-bar, one-symbol subset of ``sample()`` to keep the suite fast.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import solvent
from solvent.audit import PEERS, AuditResult
from solvent.audit.render import SCHEMA
from solvent.backtest_cli import load_module, pick_strategy
from solvent.cli import main
from solvent.data import BarData, from_frame, sample
from solvent.errors import InvalidInputError
from solvent.profiles import WATERFALL_ORDER, diff

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str) -> type[solvent.Strategy]:
    path = EXAMPLES / f"{name}.py"
    return pick_strategy(load_module(path), path, None)


def _syna() -> BarData:
    """About two years of ``SYNA`` (no zero-volume bar: the first is in December 2016)."""
    return sample().select(["SYNA"]).slice(end="2016-01-01")


def _panel(opens: list[str], closes: list[str], volumes: list[int], symbol: str = "XYZ") -> BarData:
    stamps = pd.bdate_range("2024-01-02", periods=len(opens))
    rows = [
        {
            "timestamp": t,
            "symbol": symbol,
            "open": float(o),
            "high": max(float(o), float(c)),
            "low": min(float(o), float(c)),
            "close": float(c),
            "volume": v,
        }
        for t, o, c, v in zip(stamps, opens, closes, volumes, strict=True)
    ]
    return from_frame(pd.DataFrame(rows))


class BuyOnce(solvent.Strategy):
    """Buy ``quantity`` shares of the first symbol on the first bar (a GTC market order)."""

    quantity = 250

    def on_bar(self, ctx: solvent.Context) -> None:
        if ctx.i == 0:
            ctx.order(ctx.symbols[0], self.quantity)


class SmallLots(solvent.Strategy):
    """Buy 10 shares every 20 bars and sell them 10 bars later: far within its means."""

    def on_bar(self, ctx: solvent.Context) -> None:
        sym = ctx.symbols[0]
        if ctx.i % 20 == 0:
            ctx.order(sym, 10)
        elif ctx.i % 20 == 10 and ctx.position(sym) > 0:
            ctx.close_position(sym)


def _assert_waterfall_adds_up(a: AuditResult) -> None:
    """The steps telescope from the peer's final equity to the realistic one, exactly."""
    assert [s.setting for s in a.steps] == diff(a.against, "realistic")
    prev = a.peer.final_equity.minor
    for s in a.steps:
        assert s.change.minor == s.final_equity.minor - prev
        prev = s.final_equity.minor
    assert prev == a.realistic.final_equity.minor
    total = a.realistic.final_equity.minor - a.peer.final_equity.minor
    assert sum(s.change.minor for s in a.steps) == total
    assert a.explained.minor == a.total_difference.minor == total


# -- the waterfall -------------------------------------------------------------------------


def test_hand_worked_volume_cap_and_zero_volume_waterfall_to_the_cent() -> None:
    # Bar 1 trades nothing; 1,000 shares a bar otherwise, so the 10% cap is 100 shares.
    panel = _panel(
        ["10.00", "10.10", "10.20", "10.30", "10.40", "11.00"],
        ["10.00", "10.10", "10.20", "10.30", "10.40", "11.00"],
        [1000, 0, 1000, 1000, 1000, 1000],
    )
    a = solvent.audit(BuyOnce, panel, against="vectorbt", cash=100_000)
    _assert_waterfall_adds_up(a)
    # VectorBT profile: 250 @ 10.00 (bar 0's close) -> 100,000 - 2,500 + 250 x 11.00.
    assert str(a.peer.final_equity) == "100250.00"
    changes = {s.setting: str(s.change) for s in a.steps}
    assert changes == {
        "fill_timing": "-25.00",  # 250 @ 10.10, bar 1's open (it fills on the zero-volume bar)
        "derived_prices": "0.00",
        "short_cash": "0.00",
        "placement_check": "0.00",
        "unfunded": "0.00",
        "zero_volume": "-25.00",  # bar 1 fills nothing: 250 @ 10.20
        "volume_limit": "-20.00",  # 100 @ 10.20 + 100 @ 10.30 + 50 @ 10.40 = 2,570.00
        "pdt": "0.00",
    }
    assert str(a.realistic.final_equity) == "100180.00"
    assert str(a.total_difference) == "-70.00"
    fills = a.realistic.result.fills
    assert [(str(q), str(p)) for q, p in zip(fills["quantity"], fills["price"], strict=True)] == [
        ("100", "10.20"),
        ("100", "10.30"),
        ("50", "10.40"),
    ]
    cuts = {c.cause: c for c in a.realistic.cuts}
    zero, cap = cuts["zero_volume"], cuts["volume_cap"]
    assert (zero.orders, zero.quantity, zero.filled_later, zero.never_filled) == (1, 250, 250, 0)
    # Bar 2 fills 100 of the 250: 150 cut by the cap, all filled on bars 3 and 4.
    assert (cap.orders, cap.quantity, cap.filled_later, cap.never_filled) == (1, 150, 150, 0)
    assert [(r.reason, r.stage, r.count, r.quantity) for r in a.realistic.refusals] == [
        ("ZERO_VOLUME", "fill", 1, Decimal(250))
    ]
    assert a.peer.refusals == ()
    assert all(c.orders == 0 for c in a.peer.cuts)


def test_hand_worked_scale_down_against_backtrader_is_worth_the_scaled_part() -> None:
    # 1,200 shares at 100.00 with 100,000 in a cash account: Backtrader refuses the whole
    # order; solvent scales it down to the 1,000 shares the cash affords.
    panel = _panel(["100.00"] * 4, ["100.00", "100.00", "100.00", "110.00"], [10**6] * 4)
    a = solvent.audit(BuyOnce, panel, against="backtrader", cash=100_000, account="cash", quantity=1200)
    _assert_waterfall_adds_up(a)
    assert str(a.peer.final_equity) == "100000.00"
    assert str(a.realistic.final_equity) == "110000.00"  # 1,000 x 110.00, no cash left
    nonzero = [(s.setting, str(s.change)) for s in a.steps if s.change.minor]
    assert nonzero == [("partial_fills", "10000.00")]
    assert [(r.reason, r.stage, r.count, r.quantity) for r in a.peer.refusals] == [
        ("INSUFFICIENT_BUYING_POWER", "placement", 1, Decimal(1200))
    ]
    assert a.realistic.refusals == ()
    scaled = a.realistic.cuts[0]
    assert scaled.cause == "scaled_down"
    assert (scaled.orders, scaled.quantity, scaled.filled_later, scaled.never_filled) == (1, 200, 0, 200)


def test_hand_worked_margin_call_and_liquidation_are_reported() -> None:
    # 2,000 shares at 100.00 on 100,000 of cash: all of Reg T's 2x buying power. The
    # price falls to 60.00: NLV 100,000 - 200,000 + 120,000 = 20,000 < maintenance
    # 25% x 120,000 = 30,000, a margin call; not cured at the next check, so the broker
    # sells the fewest shares that restore NLV >= 25% x (2,000 - q) x 60.00:
    # q >= 666.67, i.e. 667 at 60.00 = 40,020.00.
    panel = _panel(
        ["100.00", "100.00", "100.00", "60.00", "60.00", "60.00"],
        ["100.00", "100.00", "60.00", "60.00", "60.00", "60.00"],
        [10**6] * 6,
    )
    a = solvent.audit(BuyOnce, panel, against="backtesting", cash=100_000, quantity=2000)
    _assert_waterfall_adds_up(a)
    m = a.realistic.margin
    assert (m.margin_calls, m.liquidating, m.halted) == (1, 0, False)
    assert (m.liquidation_fills, m.liquidation_quantity, m.liquidation_value) == (1, 667, Decimal("40020.00"))
    assert str(a.realistic.final_equity) == "20000.00"
    # backtesting.py's margin=1 cannot fund 200,000 and cancels the whole order.
    assert a.peer.margin == type(m)(0, 0, False, 0, Decimal(0), Decimal(0))
    assert str(a.peer.final_equity) == "100000.00"
    assert [(s.setting, str(s.change)) for s in a.steps if s.change.minor] == [
        ("initial_margin", "-80000.00")
    ]


@pytest.mark.parametrize("against", PEERS)
def test_leveraged_example_waterfall_adds_up_exactly(against: str) -> None:
    a = solvent.audit(_example("leveraged"), _syna(), against=against, cash=100_000)
    _assert_waterfall_adds_up(a)
    assert a.total_difference.minor != 0
    # The realistic run refuses or cuts what 3x leverage asks beyond Reg T's 2x.
    assert a.realistic.refused_count > 0
    assert a.realistic.cuts[0].quantity > 0
    # The two ends are the profiles' own runs.
    peer = solvent.backtest(_example("leveraged"), _syna(), cash=100_000, profile=against)
    real = solvent.backtest(_example("leveraged"), _syna(), cash=100_000)
    assert a.peer.final_equity == peer.final_equity
    assert a.realistic.final_equity == real.final_equity
    assert a.realistic.result.settings["profile"] == "realistic"


def test_martingale_example_waterfall_adds_up_exactly() -> None:
    a = solvent.audit(_example("martingale"), _syna(), against="backtesting", cash=100_000, base_pct=0.2)
    _assert_waterfall_adds_up(a)
    assert a.params["base_pct"] == 0.2


def test_sma_example_against_vectorbt_differs_by_fill_timing_only() -> None:
    a = solvent.audit(_example("sma_cross"), _syna(), against="vectorbt", cash=100_000, commission=0.001)
    _assert_waterfall_adds_up(a)
    # All-in at the fill price on liquid bars: nothing is refused or cut, so only
    # trading at the next open instead of the signal's close moves the result.
    nonzero = [s.setting for s in a.steps if s.change.minor]
    assert nonzero == ["fill_timing"]
    assert a.total_difference.minor != 0
    assert a.peer.refusals == a.realistic.refusals == ()
    assert a.peer.commission > 0


def test_strategy_within_its_means_shows_no_refused_fills() -> None:
    a = solvent.audit(SmallLots, _syna(), against="vectorbt", cash=100_000)
    assert a.realistic.fills > 0
    for run in (a.peer, a.realistic):
        assert run.refusals == ()
        assert run.refused_count == 0
        assert all(c.orders == 0 and c.quantity == 0 for c in run.cuts)
        assert run.margin.margin_calls == 0 and run.margin.liquidation_fills == 0
    _assert_waterfall_adds_up(a)


def test_strategy_instance_runs_fresh_with_its_parameters() -> None:
    panel = _panel(["10.00"] * 3, ["10.00"] * 3, [10**6] * 3)
    a = solvent.audit(BuyOnce(quantity=7), panel, against="backtesting", cash=1_000)
    assert a.params == {"quantity": 7}
    assert list(a.realistic.result.fills["quantity"]) == [7]


def test_realistic_or_unknown_peer_is_refused_naming_the_peers() -> None:
    panel = _panel(["10.00"] * 2, ["10.00"] * 2, [1000] * 2)
    for bad in ("realistic", "zipline"):
        with pytest.raises(InvalidInputError, match="vectorbt, backtrader, backtesting") as exc:
            solvent.audit(BuyOnce, panel, against=bad, cash=1_000)
        assert exc.value.field == "against"


# -- JSON, HTML and the command ------------------------------------------------------------


def test_json_schema_has_both_runs_and_a_waterfall_in_minor_units(tmp_path: Path) -> None:
    panel = _panel(
        ["10.00", "10.10", "10.20", "10.30", "10.40", "11.00"],
        ["10.00", "10.10", "10.20", "10.30", "10.40", "11.00"],
        [1000, 0, 1000, 1000, 1000, 1000],
    )
    a = solvent.audit(BuyOnce, panel, against="vectorbt", cash=100_000)
    js, _ = a.write(tmp_path)
    doc = json.loads(js.read_text())
    assert doc == a.to_dict()
    assert set(doc) == {
        "schema",
        "strategy",
        "params",
        "against",
        "cash",
        "currency",
        "data",
        "runs",
        "waterfall",
    }
    assert (doc["schema"], doc["strategy"], doc["against"], doc["cash"]) == (
        SCHEMA,
        "BuyOnce",
        "vectorbt",
        "100000.00",
    )
    assert doc["data"]["symbols"] == ["XYZ"] and doc["data"]["bars"] == 6
    run_keys = {
        "profile", "settings", "permissive", "final_equity", "final_equity_minor", "total_return",
        "max_drawdown", "trades", "fills", "orders", "commission", "refusals", "quantity_cut", "margin",
    }  # fmt: skip
    for side, profile in (("peer", "vectorbt"), ("realistic", "realistic")):
        run = doc["runs"][side]
        assert set(run) == run_keys
        assert run["profile"] == profile
        assert set(run["quantity_cut"]) == {
            "scaled_down",
            "buying_power_at_fill",
            "volume_cap",
            "zero_volume",
        }
        assert set(run["margin"]) == {
            "margin_calls", "liquidating", "halted", "liquidation_fills", "liquidation_quantity",
            "liquidation_value",
        }  # fmt: skip
    real = doc["runs"]["realistic"]
    assert real["final_equity"] == "100180.00" and real["final_equity_minor"] == 10_018_000
    assert real["refusals"] == [{"reason": "ZERO_VOLUME", "stage": "fill", "count": 1, "quantity": "250"}]
    assert real["quantity_cut"]["volume_cap"] == {
        "orders": 1,
        "quantity": "150",
        "filled_later": "150",
        "never_filled": "0",
    }
    assert real["settings"]["volume_limit"] == "0.1"
    assert "fill_timing" in doc["runs"]["peer"]["permissive"]
    w = doc["waterfall"]
    assert w["order"] == list(WATERFALL_ORDER)
    assert (w["start"], w["end"], w["total_difference"]) == ("100250.00", "100180.00", "-70.00")
    assert w["start_minor"] + sum(s["change_minor"] for s in w["steps"]) == w["end_minor"]
    assert w["explained_minor"] == w["total_difference_minor"] == -7_000
    first = w["steps"][0]
    assert first == {
        "setting": "fill_timing",
        "peer_value": "same_bar_close",
        "realistic_value": "next_bar",
        "change": "-25.00",
        "change_minor": -2_500,
        "final_equity": "100225.00",
        "final_equity_minor": 10_022_500,
    }
    assert w["steps"][-1]["peer_value"] is None  # pdt off in the peer's profile


def test_html_escapes_a_symbol_named_script(tmp_path: Path) -> None:
    sym = "<script>alert(1)</script>"
    panel = _panel(["100.00"] * 4, ["100.00", "100.00", "100.00", "110.00"], [10**6] * 4, symbol=sym)
    a = solvent.audit(BuyOnce, panel, against="backtrader", cash=100_000, account="cash", quantity=1200)
    _, page = a.write(tmp_path)
    text = page.read_text()
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.startswith("<!DOCTYPE html>") and "http" not in text
    assert 'id="waterfall-table"' in text and "partial_fills" in text


def test_cli_audit_prints_the_tables_and_writes_json_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bars.csv"
    _syna().to_frame().to_csv(data, index=False)
    out = tmp_path / "out"
    argv = ["audit", str(EXAMPLES / "sma_cross.py"), "--data", str(data), "--against", "backtrader"]
    code = main([*argv, "--commission-bps", "10", "--param", "fast=20", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Waterfall" in printed and "backtrader profile" in printed and "Refusals" in printed
    doc = json.loads((out / "audit.json").read_text())
    assert doc["against"] == "backtrader" and doc["params"] == {"fast": 20, "slow": 50}
    assert doc["runs"]["realistic"]["settings"]["commission"].startswith("BasisPoints")
    direct = solvent.audit(
        _example("sma_cross"), _syna(), against="backtrader", cash=100_000, commission=0.001, fast=20
    )
    assert doc["waterfall"]["total_difference_minor"] == direct.total_difference.minor
    assert doc["runs"]["realistic"]["final_equity"] == str(direct.realistic.final_equity)
    assert (out / "audit.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_audit_bad_against_exits_2_naming_the_peers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(EXAMPLES / "sma_cross.py"), "--against", "zipline"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--against" in err and "'zipline'" in err and "vectorbt" in err and "backtesting" in err


def test_cli_audit_unknown_parameter_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(EXAMPLES / "sma_cross.py"), "--against", "vectorbt", "--param", "nope=1"]) == 2
    assert "nope=1: is not a parameter of SmaCross" in capsys.readouterr().err


def test_cli_audit_missing_strategy_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path / "nope.py"), "--against", "vectorbt"]) == 2
    assert "solvent audit: strategy file not found" in capsys.readouterr().err


def test_solvent_audit_is_the_function_of_the_audit_package() -> None:
    from solvent.audit.core import audit

    assert solvent.audit is audit  # the package's name does not shadow the export
