"""End-to-end tests of ``solvent replay``: CSV in, exact CSV/JSON out.

Every expected number is worked out by hand in the comments. Conventions the scenarios
rely on (docs/execution.md):

* an order stamped ``t`` is submitted after the close of bar ``t`` and first fills on
  the next bar; market orders fill at that bar's open;
* the volume cap is 10% of the bar's volume by default, shared per symbol per bar;
* ``equity.csv`` is written after each bar, marked at the bar's close.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from solvent.cli import main

BARS_HEADER = "timestamp,symbol,open,high,low,close,volume"
ORDERS_HEADER = "timestamp,symbol,quantity,type,limit,stop,tif,tag"
FILL_COLS = ["timestamp", "order_id", "symbol", "side", "quantity", "price", "commission", "slippage", "tag"]
ORDER_COLS = [
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
EQUITY_COLS = ["timestamp", "cash", "nlv", "buying_power", "initial_margin", "maintenance_margin"]


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _replay(
    tmp_path: Path,
    bars: list[str],
    orders: list[str],
    *args: str,
    bars_header: str = BARS_HEADER,
    cash: str = "100000",
) -> tuple[int, Path]:
    """Run ``solvent replay`` in-process; return the exit code and the output directory."""
    b = _write(tmp_path / "bars.csv", bars_header, bars)
    o = _write(tmp_path / "orders.csv", ORDERS_HEADER, orders)
    out = tmp_path / "out"
    code = main(["replay", "--bars", str(b), "--orders", str(o), "--cash", cash, *args, "--out", str(out)])
    return code, out


def _rows(path: Path, cols: list[str]) -> list[list[str]]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == cols
        return list(reader)


def _fills(out: Path) -> list[list[str]]:
    return _rows(out / "fills.csv", FILL_COLS)


def _orders(out: Path) -> list[list[str]]:
    # The cells up to ``reason``; ``accepted_quantity`` is checked in tests/test_broker.py.
    return [row[:-1] for row in _rows(out / "orders.csv", ORDER_COLS)]


def _equity(out: Path) -> list[list[str]]:
    return _rows(out / "equity.csv", EQUITY_COLS)


def _account(out: Path) -> dict[str, object]:
    doc = json.loads((out / "account.json").read_text())
    assert isinstance(doc, dict)
    return doc


# -- cash account round trip, bps commission -------------------------------------------


def test_cash_round_trip_with_bps_commission_books_exact_cents(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,101.00,99.00,100.50,10000",
        "2024-01-03,AAA,101.00,102.00,100.00,101.50,10000",
        "2024-01-04,AAA,102.00,103.00,101.00,102.50,10000",
    ]
    orders = ["2024-01-02,AAA,100,market,,,,entry", "2024-01-03,AAA,-100,market,,,,exit"]
    code, out = _replay(tmp_path, bars, orders, "--commission-bps", "10")
    assert code == 0
    # Buy 100 at 01-03's open 101.00: notional 10100.00, commission 10 bp = 10.10.
    # Sell 100 at 01-04's open 102.00: notional 10200.00, commission 10.20.
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "100", "101.00", "10.10", "0.00", "entry"],
        ["2024-01-04", "2", "AAA", "SELL", "100", "102.00", "10.20", "0.00", "exit"],
    ]
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "100", "market", "filled", "100", "101.00", ""],
        ["2", "2024-01-03", "AAA", "-100", "market", "filled", "100", "102.00", ""],
    ]
    # 01-02: nothing filled.
    # 01-03: cash 100000 - 10100 - 10.10 = 89889.90; mark 100 x 101.50 = 10150.00;
    #        NLV 89889.90 + 10150.00 = 100039.90; cash account BP = cash = 89889.90;
    #        a cash account's "margin" is the full value: IM = MM = 10150.00.
    # 01-04: cash 89889.90 + 10200 - 10.20 = 100079.70, flat.
    assert _equity(out) == [
        ["2024-01-02", "100000.00", "100000.00", "100000.00", "0.00", "0.00"],
        ["2024-01-03", "89889.90", "100039.90", "89889.90", "10150.00", "10150.00"],
        ["2024-01-04", "100079.70", "100079.70", "100079.70", "0.00", "0.00"],
    ]
    acct = _account(out)
    # Realized 100 x (102 - 101) = 100.00; commission 10.10 + 10.20 = 20.30;
    # 100000 + 100.00 - 20.30 = 100079.70.
    assert {k: acct[k] for k in ("cash", "nlv", "realized_pnl", "unrealized_pnl", "commission")} == {
        "cash": "100079.70",
        "nlv": "100079.70",
        "realized_pnl": "100.00",
        "unrealized_pnl": "0.00",
        "commission": "20.30",
    }
    assert acct["positions"] == {}


# -- margin account short ---------------------------------------------------------------


def test_margin_short_then_cover_marks_liability_and_margin(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,XYZ,50.00,51.00,49.00,50.00,100000",
        "2024-01-03,XYZ,50.00,50.50,48.00,48.00,100000",
        "2024-01-04,XYZ,45.00,46.00,44.00,45.00,100000",
    ]
    orders = ["2024-01-02,XYZ,-200,market,,,,short", "2024-01-03,XYZ,200,market,,,,cover"]
    code, out = _replay(tmp_path, bars, orders, "--account", "margin", cash="10000")
    assert code == 0
    assert _fills(out) == [
        ["2024-01-03", "1", "XYZ", "SELL_SHORT", "200", "50.00", "0.00", "0.00", "short"],
        ["2024-01-04", "2", "XYZ", "BUY_TO_COVER", "200", "45.00", "0.00", "0.00", "cover"],
    ]
    # 01-02: flat; BP = 10000 / 50% = 20000.00.
    # 01-03: short proceeds 200 x 50 = 10000 -> cash 20000.00; mark 200 x 48 = 9600
    #        liability -> NLV 20000 - 9600 = 10400.00; IM 9600 x 50% = 4800.00,
    #        MM 9600 x 30% (short) = 2880.00; BP (10400 - 4800) / 50% = 11200.00.
    # 01-04: cover 200 x 45 = 9000 -> cash 11000.00, flat; BP 22000.00.
    assert _equity(out) == [
        ["2024-01-02", "10000.00", "10000.00", "20000.00", "0.00", "0.00"],
        ["2024-01-03", "20000.00", "10400.00", "11200.00", "4800.00", "2880.00"],
        ["2024-01-04", "11000.00", "11000.00", "22000.00", "0.00", "0.00"],
    ]
    acct = _account(out)
    # Realized 200 x (50 - 45) = 1000.00.
    assert acct["realized_pnl"] == "1000.00"
    assert acct["nlv"] == "11000.00"


def test_margin_flip_long_to_short_is_split_with_commission_pro_rata(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-03,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-04,AAA,100.00,100.00,100.00,100.00,100000",
    ]
    orders = ["2024-01-02,AAA,100,market,,,,", "2024-01-03,AAA,-200,market,,,,flip"]
    code, out = _replay(tmp_path, bars, orders, "--account", "margin", "--commission-bps", "10")
    assert code == 0
    # Sell 200 at 100.00 from +100: a closing leg of 100 and an opening short of 100.
    # Commission 10 bp of 20000.00 = 20.00, split 10.00 / 10.00.
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "100", "100.00", "10.00", "0.00", ""],
        ["2024-01-04", "2", "AAA", "SELL", "100", "100.00", "10.00", "0.00", "flip"],
        ["2024-01-04", "2", "AAA", "SELL_SHORT", "100", "100.00", "10.00", "0.00", "flip"],
    ]
    assert _orders(out)[1] == ["2", "2024-01-03", "AAA", "-200", "market", "filled", "200", "100.00", ""]
    # 01-04: cash 100000 - 10000 - 10 + 20000 - 20 = 109970.00; short 100 x 100 = 10000
    # liability -> NLV 99970.00; IM 5000.00; MM 30% = 3000.00; BP (99970 - 5000)/0.5 = 189940.00.
    assert _equity(out)[-1] == ["2024-01-04", "109970.00", "99970.00", "189940.00", "5000.00", "3000.00"]


# -- exits first --------------------------------------------------------------------------


def test_exit_frees_cash_for_same_bar_entry_in_cash_account(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-02,BBB,50.00,50.00,50.00,50.00,100000",
        "2024-01-03,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-03,BBB,50.00,50.00,50.00,50.00,100000",
        "2024-01-04,AAA,110.00,110.00,110.00,110.00,100000",
        "2024-01-04,BBB,50.00,50.00,50.00,50.00,100000",
    ]
    # The sell is submitted first, so the buy is accepted on the credit of the pending
    # exit (100 x 100.00 = 10000.00); at 01-04 the exit fills first at 110.00, freeing
    # 11000.00, then the buy of 200 x 50.00 = 10000.00 fits.
    orders = [
        "2024-01-02,AAA,100,market,,,,",
        "2024-01-03,AAA,-100,market,,,,",
        "2024-01-03,BBB,200,market,,,,",
    ]
    code, out = _replay(tmp_path, bars, orders, cash="10000")
    assert code == 0
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "100", "100.00", "0.00", "0.00", ""],
        ["2024-01-04", "2", "AAA", "SELL", "100", "110.00", "0.00", "0.00", ""],
        ["2024-01-04", "3", "BBB", "BUY", "200", "50.00", "0.00", "0.00", ""],
    ]
    # Cash 0 + 11000 - 10000 = 1000.00; BBB 200 x 50 = 10000 -> NLV 11000.00.
    assert _equity(out)[-1] == ["2024-01-04", "1000.00", "11000.00", "1000.00", "10000.00", "10000.00"]


def test_entry_submitted_before_the_exit_is_refused_without_credit(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-02,BBB,50.00,50.00,50.00,50.00,100000",
        "2024-01-03,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-03,BBB,50.00,50.00,50.00,50.00,100000",
        "2024-01-04,AAA,110.00,110.00,110.00,110.00,100000",
        "2024-01-04,BBB,50.00,50.00,50.00,50.00,100000",
    ]
    # Orders are submitted in file order: when the BBB buy is checked, the AAA sell is not
    # pending yet, cash is 0 after the AAA buy, so the buy is refused outright.
    orders = [
        "2024-01-02,AAA,100,market,,,,",
        "2024-01-03,BBB,200,market,,,,",
        "2024-01-03,AAA,-100,market,,,,",
    ]
    code, out = _replay(tmp_path, bars, orders, cash="10000")
    assert code == 0
    assert _orders(out)[1] == [
        "2",
        "2024-01-03",
        "BBB",
        "200",
        "market",
        "rejected",
        "0",
        "",
        "INSUFFICIENT_BUYING_POWER",
    ]


# -- liquidity: the volume cap, zero-volume bars -------------------------------------------

VOLUME_BARS = [
    "2024-01-02,AAA,10.00,10.00,10.00,10.00,1000",
    "2024-01-03,AAA,10.00,10.50,9.50,10.00,1000",
    "2024-01-04,AAA,11.00,11.00,11.00,11.00,0",
    "2024-01-05,AAA,12.00,12.50,11.50,12.00,2000",
    "2024-01-08,AAA,13.00,13.00,13.00,13.00,5000",
]


def test_volume_cap_leaves_order_partially_filled_when_bars_run_out(tmp_path: Path) -> None:
    # Only 01-02 and 01-03: the cap is 10% x 1000 = 100 shares, so 100 of 250 fill.
    code, out = _replay(tmp_path, VOLUME_BARS[:2], ["2024-01-02,AAA,250,market,,,,big"])
    assert code == 0
    assert _fills(out) == [["2024-01-03", "1", "AAA", "BUY", "100", "10.00", "0.00", "0.00", "big"]]
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "250", "market", "partially_filled", "100", "10.00", ""]
    ]
    # The remaining 150 stay reserved at the estimate (last close 10.00): 1500.00.
    # Cash 100000 - 1000 = 99000.00; BP 99000 - 1500 = 97500.00.
    assert _equity(out)[-1] == ["2024-01-03", "99000.00", "100000.00", "97500.00", "1000.00", "1000.00"]


def test_volume_cap_shared_per_symbol_over_several_bars_then_filled(tmp_path: Path) -> None:
    orders = ["2024-01-02,AAA,250,market,,,,big", "2024-01-02,AAA,50,market,,,,second"]
    code, out = _replay(tmp_path, VOLUME_BARS, orders)
    assert code == 0
    # 01-03: cap 100; order 1 (submitted first) takes all 100 at 10.00, order 2 nothing.
    # 01-04: volume 0 -> nothing fills at all (not at the 11.00 open).
    # 01-05: cap 10% x 2000 = 200, shared: order 1 takes its remaining 150, order 2 its 50,
    #        both at 12.00.
    # 01-08: nothing left.
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "100", "10.00", "0.00", "0.00", "big"],
        ["2024-01-05", "1", "AAA", "BUY", "150", "12.00", "0.00", "0.00", "big"],
        ["2024-01-05", "2", "AAA", "BUY", "50", "12.00", "0.00", "0.00", "second"],
    ]
    # Order 1 average: (100 x 10 + 150 x 12) / 250 = 2800 / 250 = 11.20.
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "250", "market", "filled", "250", "11.20", ""],
        ["2", "2024-01-02", "AAA", "50", "market", "filled", "50", "12.00", ""],
    ]
    # 01-03: cash 99000.00; mark 100 x 10 = 1000 -> NLV 100000.00; reserved 150 x 10
    #        + 50 x 10 = 2000.00 -> BP 97000.00.
    # 01-04: mark 100 x 11 = 1100 -> NLV 100100.00; nothing filled, BP unchanged.
    # 01-05: cash 99000 - 1800 - 600 = 96600.00; 300 x 12 = 3600 -> NLV 100200.00;
    #        reservations released -> BP 96600.00.
    # 01-08: 300 x 13 = 3900 -> NLV 100500.00.
    assert _equity(out) == [
        ["2024-01-02", "100000.00", "100000.00", "100000.00", "0.00", "0.00"],
        ["2024-01-03", "99000.00", "100000.00", "97000.00", "1000.00", "1000.00"],
        ["2024-01-04", "99000.00", "100100.00", "97000.00", "1100.00", "1100.00"],
        ["2024-01-05", "96600.00", "100200.00", "96600.00", "3600.00", "3600.00"],
        ["2024-01-08", "96600.00", "100500.00", "96600.00", "3900.00", "3900.00"],
    ]
    acct = _account(out)
    # Cost 1000 + 1800 + 600 = 3400 for 300 -> avg 11.333333 (6 places); unrealized
    # 3900 - 3400 = 500.00.
    assert acct["positions"] == {
        "AAA": {"quantity": "300", "avg_price": "11.333333", "market_value": "3900.00"}
    }
    assert acct["unrealized_pnl"] == "500.00"


def test_zero_volume_bar_fills_nothing_order_waits(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,10.00,10.00,10.00,10.00,1000",
        "2024-01-03,AAA,11.00,11.00,11.00,11.00,0",
        "2024-01-04,AAA,12.00,12.00,12.00,12.00,1000",
    ]
    code, out = _replay(tmp_path, bars, ["2024-01-02,AAA,10,market,,,,"], "--volume-limit", "none")
    assert code == 0
    # Even with the cap off, 01-03 traded nothing: the fill comes at 01-04's open 12.00.
    assert _fills(out) == [["2024-01-04", "1", "AAA", "BUY", "10", "12.00", "0.00", "0.00", ""]]
    assert _orders(out)[0][5:8] == ["filled", "10", "12.00"]


def test_volume_limit_none_fills_whole_order_in_one_bar(tmp_path: Path) -> None:
    code, out = _replay(
        tmp_path, VOLUME_BARS[:2], ["2024-01-02,AAA,250,market,,,,"], "--volume-limit", "none"
    )
    assert code == 0
    # No cap: 250 > 10% x 1000 fills whole at 10.00.
    assert _fills(out) == [["2024-01-03", "1", "AAA", "BUY", "250", "10.00", "0.00", "0.00", ""]]


# -- refusals, scale-down, validation modes -----------------------------------------------

FLAT_100 = [
    "2024-01-02,AAA,100.00,100.00,100.00,100.00,1000000",
    "2024-01-03,AAA,100.00,100.00,100.00,100.00,1000000",
]


def test_cash_account_cannot_afford_one_share_refused_insufficient_buying_power(tmp_path: Path) -> None:
    # 50.00 of cash, one share costs 100.00: even scaled down nothing is affordable.
    code, out = _replay(tmp_path, FLAT_100, ["2024-01-02,AAA,1,market,,,,"], cash="50")
    assert code == 0
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "1", "market", "rejected", "0", "", "INSUFFICIENT_BUYING_POWER"]
    ]
    assert _fills(out) == []
    assert _account(out)["cash"] == "50.00"


def test_cash_account_short_sale_refused_shorting_not_allowed(tmp_path: Path) -> None:
    code, out = _replay(tmp_path, FLAT_100, ["2024-01-02,AAA,-10,market,,,,"])
    assert code == 0
    assert _orders(out)[0][5:] == ["rejected", "0", "", "SHORTING_NOT_ALLOWED"]


def test_default_scale_down_fills_the_affordable_part(tmp_path: Path) -> None:
    # 10000.00 buys 100 of the 150 at the estimate 100.00: the order is cut to 100 at
    # placement (a warning, not a refusal) and that working quantity fills whole.
    code, out = _replay(tmp_path, FLAT_100, ["2024-01-02,AAA,150,market,,,,"], cash="10000")
    assert code == 0
    assert _fills(out) == [["2024-01-03", "1", "AAA", "BUY", "100", "100.00", "0.00", "0.00", ""]]
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "150", "market", "filled", "100", "100.00", "SCALED_DOWN"]
    ]
    assert _equity(out)[-1] == ["2024-01-03", "0.00", "10000.00", "0.00", "10000.00", "10000.00"]


def test_no_partial_refuses_the_order_whole(tmp_path: Path) -> None:
    code, out = _replay(tmp_path, FLAT_100, ["2024-01-02,AAA,150,market,,,,"], "--no-partial", cash="10000")
    assert code == 0
    assert _fills(out) == []
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "150", "market", "rejected", "0", "", "INSUFFICIENT_BUYING_POWER"]
    ]
    assert _account(out)["cash"] == "10000.00"


def test_warn_mode_lets_the_unaffordable_order_through(tmp_path: Path) -> None:
    code, out = _replay(
        tmp_path, FLAT_100, ["2024-01-02,AAA,150,market,,,,"], "--validation", "warn", cash="10000"
    )
    assert code == 0
    # warn records a warning and fills all 150: cash 10000 - 15000 = -5000.00.
    assert _orders(out)[0][5:7] == ["filled", "150"]
    assert _account(out)["cash"] == "-5000.00"


def test_strict_mode_insufficient_funds_exits_nonzero_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _replay(
        tmp_path, FLAT_100, ["2024-01-02,AAA,150,market,,,,"], "--validation", "strict", cash="10000"
    )
    assert code != 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    # 150 x 100.00 = 15000.00 needed, 10000.00 available; the order is named by its id.
    assert lines[0] == (
        "solvent replay: insufficient funds: order 1 (AAA 150) needs 15000.00 of buying power; "
        "10000.00 is available"
    )
    assert not out.exists()


# -- costs ----------------------------------------------------------------------------------

COST_BARS = [
    "2024-01-02,AAA,20.00,20.00,20.00,20.00,1000000",
    "2024-01-03,AAA,20.00,20.50,19.50,20.00,1000000",
    "2024-01-04,AAA,21.00,21.50,20.50,21.00,1000000",
]
COST_ORDERS = [
    "2024-01-02,AAA,100,market,,,,small",
    "2024-01-03,AAA,-100,market,,,,",
    "2024-01-03,AAA,500,market,,,,big",
]


def test_per_share_commission_with_minimum(tmp_path: Path) -> None:
    code, out = _replay(
        tmp_path, COST_BARS, COST_ORDERS, "--commission-per-share", "0.005", "--commission-min", "1.00"
    )
    assert code == 0
    # 100 x 0.005 = 0.50 -> raised to the 1.00 minimum (buy and sell);
    # 500 x 0.005 = 2.50 (above the minimum).
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "100", "20.00", "1.00", "0.00", "small"],
        ["2024-01-04", "2", "AAA", "SELL", "100", "21.00", "1.00", "0.00", ""],
        ["2024-01-04", "3", "AAA", "BUY", "500", "21.00", "2.50", "0.00", "big"],
    ]
    # Cash: 100000 - 2000 - 1 + 2100 - 1 - 10500 - 2.50 = 89595.50; 500 x 21 = 10500
    # -> NLV 100095.50 = 100000 + realized 100 - commission 4.50.
    acct = _account(out)
    assert (acct["cash"], acct["nlv"], acct["commission"], acct["realized_pnl"]) == (
        "89595.50",
        "100095.50",
        "4.50",
        "100.00",
    )


def test_per_share_minimum_charged_once_across_partial_fills(tmp_path: Path) -> None:
    # Cap 10% x 1000 = 100 per bar: 150 shares fill 100 then 50. The order owes
    # max(1.00, 150 x 0.005 = 0.75) = 1.00 in total: 1.00 on the first fill (its total
    # so far is max(1.00, 0.50)), 0.00 on the second.
    bars = [
        "2024-01-02,AAA,20.00,20.00,20.00,20.00,1000",
        "2024-01-03,AAA,20.00,20.00,20.00,20.00,1000",
        "2024-01-04,AAA,20.00,20.00,20.00,20.00,1000",
    ]
    code, out = _replay(
        tmp_path, bars, ["2024-01-02,AAA,150,market,,,,"], "--commission-per-share", "0.005",
        "--commission-min", "1.00",
    )  # fmt: skip
    assert code == 0
    assert [r[4:7] for r in _fills(out)] == [["100", "20.00", "1.00"], ["50", "20.00", "0.00"]]


def test_slippage_bps_is_adverse_and_snapped_to_tick(tmp_path: Path) -> None:
    code, out = _replay(tmp_path, COST_BARS, COST_ORDERS, "--slippage-bps", "10")
    assert code == 0
    # 10 bp of 20.00 = 0.02 -> buy at 20.02 (slippage 100 x 0.02 = 2.00).
    # 10 bp of 21.00 = 0.021 -> rounded adverse to a whole tick 0.03:
    #   sell at 20.97 (100 x 0.03 = 3.00), buy at 21.03 (500 x 0.03 = 15.00).
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "100", "20.02", "0.00", "2.00", "small"],
        ["2024-01-04", "2", "AAA", "SELL", "100", "20.97", "0.00", "3.00", ""],
        ["2024-01-04", "3", "AAA", "BUY", "500", "21.03", "0.00", "15.00", "big"],
    ]
    acct = _account(out)
    # Realized 100 x (20.97 - 20.02) = 95.00; unrealized 500 x (21.00 - 21.03) = -15.00;
    # cash 100000 - 2002 + 2097 - 10515 = 89580.00.
    assert (acct["cash"], acct["realized_pnl"], acct["unrealized_pnl"]) == ("89580.00", "95.00", "-15.00")
    assert acct["positions"] == {"AAA": {"quantity": "500", "avg_price": "21.03", "market_value": "10500.00"}}


def test_both_commission_models_is_a_usage_error(tmp_path: Path) -> None:
    # The two flags are mutually exclusive in argparse: a usage error, exit status 2.
    with pytest.raises(SystemExit) as exc:
        _replay(tmp_path, FLAT_100, [], "--commission-bps", "1", "--commission-per-share", "0.01")
    assert exc.value.code == 2


# -- corporate actions ------------------------------------------------------------------------


def test_dividend_and_two_for_one_split_columns(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000,,",
        "2024-01-03,AAA,100.00,100.00,100.00,100.00,100000,,",
        "2024-01-04,AAA,100.00,100.00,100.00,100.00,100000,0.50,",
        "2024-01-05,AAA,50.00,50.00,50.00,50.00,200000,,2",
    ]
    code, out = _replay(
        tmp_path,
        bars,
        ["2024-01-02,AAA,100,market,,,,"],
        bars_header=BARS_HEADER + ",dividend,split",
        cash="20000",
    )
    assert code == 0
    # 01-03: buy 100 at 100.00 -> cash 10000.00.
    # 01-04: ex-dividend 0.50 x 100 = 50.00 -> cash 10050.00, NLV 20050.00.
    # 01-05: 2-for-1: 200 shares, mark 100 / 2 = 50.00; value 10000.00 unchanged.
    assert _equity(out) == [
        ["2024-01-02", "20000.00", "20000.00", "20000.00", "0.00", "0.00"],
        ["2024-01-03", "10000.00", "20000.00", "10000.00", "10000.00", "10000.00"],
        ["2024-01-04", "10050.00", "20050.00", "10050.00", "10000.00", "10000.00"],
        ["2024-01-05", "10050.00", "20050.00", "10050.00", "10000.00", "10000.00"],
    ]
    acct = _account(out)
    assert acct["positions"] == {"AAA": {"quantity": "200", "avg_price": "50.00", "market_value": "10000.00"}}
    # The dividend counts in realized P&L.
    assert acct["realized_pnl"] == "50.00"


# -- fractional quantities ----------------------------------------------------------------------


def test_fractional_quantity_half_share(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,BTC,40000.00,40000.00,40000.00,40000.00,1000",
        "2024-01-03,BTC,40100.00,40500.00,39900.00,40200.00,1000",
    ]
    code, out = _replay(tmp_path, bars, ["2024-01-02,BTC,0.5,market,,,,"], cash="30000")
    assert code == 0
    # 0.5 x 40100.00 = 20050.00; cash 30000 - 20050 = 9950.00; mark 0.5 x 40200 = 20100.00.
    assert _fills(out) == [["2024-01-03", "1", "BTC", "BUY", "0.5", "40100.00", "0.00", "0.00", ""]]
    assert _orders(out) == [["1", "2024-01-02", "BTC", "0.5", "market", "filled", "0.5", "40100.00", ""]]
    assert _equity(out)[-1] == ["2024-01-03", "9950.00", "30050.00", "9950.00", "20100.00", "20100.00"]
    assert _account(out)["positions"] == {
        "BTC": {"quantity": "0.5", "avg_price": "40100.00", "market_value": "20100.00"}
    }


# -- intrabar rules through the CLI ---------------------------------------------------------------


def test_limit_fills_on_touch_and_at_the_open_on_a_gap(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-03,AAA,100.00,100.50,98.50,99.00,100000",
        "2024-01-04,AAA,97.00,97.50,96.00,97.00,100000",
    ]
    orders = [
        # Buy limit 98.50: 01-03 opens above it and its low touches 98.50 -> fill at 98.50.
        "2024-01-02,AAA,10,limit,98.50,,,touch",
        # Buy limit 98.00: 01-03's low 98.50 does not reach it; 01-04 opens at 97.00,
        # below the limit -> fill at the better open 97.00.
        "2024-01-02,AAA,10,limit,98.00,,,gap",
        # Sell stop 96.50 on the 20 bought (placed after 01-03): 01-04 opens 97.00 above
        # it and trades down to 96.00 -> fill at the stop 96.50.
        "2024-01-03,AAA,-10,stop,,96.50,,stop",
    ]
    code, out = _replay(tmp_path, bars, orders)
    assert code == 0
    assert _fills(out) == [
        ["2024-01-03", "1", "AAA", "BUY", "10", "98.50", "0.00", "0.00", "touch"],
        ["2024-01-04", "3", "AAA", "SELL", "10", "96.50", "0.00", "0.00", "stop"],
        ["2024-01-04", "2", "AAA", "BUY", "10", "97.00", "0.00", "0.00", "gap"],
    ]


def test_ioc_remainder_cancelled_and_fok_cancelled_when_cap_too_small(tmp_path: Path) -> None:
    orders = ["2024-01-02,AAA,250,market,,,IOC,", "2024-01-02,AAA,250,market,,,FOK,"]
    code, out = _replay(tmp_path, VOLUME_BARS[:3], orders)
    assert code == 0
    # 01-03 cap 100: the IOC fills 100 and its 150 remainder is cancelled; the FOK
    # cannot fill 250 whole in the 0 left -> cancelled with VOLUME_LIMIT.
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "250", "market", "cancelled", "100", "10.00", ""],
        ["2", "2024-01-02", "AAA", "250", "market", "cancelled", "0", "", "VOLUME_LIMIT"],
    ]


def test_day_order_expires_and_stop_limit_waits_as_limit(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-03,AAA,100.00,100.00,99.00,100.00,100000",
        "2024-01-04,AAA,97.00,97.00,97.00,97.00,100000",
    ]
    orders = [
        # DAY buy limit 98.00: 01-03 (its session) never trades at 98.00 (low 99.00) ->
        # expired at the start of 01-04, before that bar's 97.00 open could fill it.
        "2024-01-02,AAA,10,limit,98.00,,DAY,",
        # Buy stop-limit stop 99.00 limit 98.00: 01-03's high touches the stop, but the
        # stop price is outside the limit, so nothing fills that bar; the order then works
        # as a limit and fills at 01-04's open 97.00 (better than 98.00).
        "2024-01-02,AAA,10,stop_limit,98.00,99.00,,",
    ]
    code, out = _replay(tmp_path, bars, orders)
    assert code == 0
    assert _orders(out) == [
        ["1", "2024-01-02", "AAA", "10", "limit", "expired", "0", "", ""],
        ["2", "2024-01-02", "AAA", "10", "stop_limit", "filled", "10", "97.00", ""],
    ]


def test_ioc_and_fok_limits_not_crossing_first_bar_are_cancelled(tmp_path: Path) -> None:
    bars = [
        "2024-01-02,AAA,100.00,100.00,100.00,100.00,100000",
        "2024-01-03,AAA,100.00,100.00,99.00,100.00,100000",
        "2024-01-04,AAA,97.00,97.00,97.00,97.00,100000",
    ]
    # Buy limits at 98.00: 01-03 (the first eligible bar) has low 99.00, so nothing can
    # fill; IOC and FOK must be cancelled then, not fill at 01-04's 97.00 open.
    orders = ["2024-01-02,AAA,10,limit,98.00,,IOC,", "2024-01-02,AAA,10,limit,98.00,,FOK,"]
    code, out = _replay(tmp_path, bars, orders)
    assert code == 0
    assert [r[5:7] for r in _orders(out)] == [["cancelled", "0"], ["cancelled", "0"]]
    assert _fills(out) == []


# -- bad inputs ------------------------------------------------------------------------------------


def _bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], bars: list[str], **kw: str) -> str:
    code, _ = _replay(tmp_path, bars, [], **kw)
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    return err


def test_missing_volume_column_exits_nonzero_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _bad(
        tmp_path, capsys, ["2024-01-02,AAA,1,1,1,1"], bars_header="timestamp,symbol,open,high,low,close"
    )
    assert "missing column" in err and "volume" in err


@pytest.mark.parametrize(("cell", "field"), [("NaN", "close"), ("abc", "close"), ("", "close")])
def test_bad_price_exits_nonzero_naming_symbol_timestamp_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str, field: str
) -> None:
    bars = ["2024-01-02,AAA,10,10,10,10,100", f"2024-01-03,AAA,10,10,10,{cell},100"]
    err = _bad(tmp_path, capsys, bars)
    assert "AAA" in err and "2024-01-03" in err and f".{field}" in err


def test_high_below_low_exits_nonzero_naming_the_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _bad(tmp_path, capsys, ["2024-01-02,AAA,10,9,11,10,100"])
    assert "AAA" in err and "2024-01-02" in err and "high/low" in err


def test_garbage_timestamp_exits_nonzero_naming_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _bad(tmp_path, capsys, ["notadate,AAA,10,10,10,10,100"])
    assert "bars.timestamp (row 2)" in err and "notadate" in err


@pytest.mark.parametrize(
    ("order", "needle"),
    [
        ("2024-01-02,AAA,abc,market,,,,", "quantity"),
        ("2024-01-02,AAA,1,bogus,,,,", "type"),
        ("2024-01-02,AAA,1,limit,,,,", "limit"),
        ("2024-01-02,AAA,1,market,,,XYZ,", "tif"),
    ],
)
def test_bad_order_row_exits_nonzero_naming_row_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], order: str, needle: str
) -> None:
    code, _ = _replay(tmp_path, ["2024-01-02,AAA,10,10,10,10,100"], [order])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "orders[row 2: AAA @ 2024-01-02]" in err and needle in err


def test_missing_input_file_exits_nonzero_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["replay", "--bars", str(tmp_path / "nope.csv"), "--orders", str(tmp_path / "nope2.csv"),
         "--cash", "100", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 2
    assert "nope.csv" in capsys.readouterr().err


def test_non_numeric_cash_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _replay(tmp_path, FLAT_100, [], cash="abc")
    assert exc.value.code == 2


# -- the installed console script --------------------------------------------------------------------


def test_console_script_subprocess_round_trip(tmp_path: Path) -> None:
    exe = shutil.which("solvent", path=str(Path(sys.executable).parent))
    assert exe is not None, "the solvent console script is not installed next to this Python"
    b = _write(tmp_path / "bars.csv", BARS_HEADER, FLAT_100)
    o = _write(tmp_path / "orders.csv", ORDERS_HEADER, ["2024-01-02,AAA,30,market,,,,"])
    out = tmp_path / "out"
    proc = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [exe, "replay", "--bars", str(b), "--orders", str(o), "--cash", "10000", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # 30 x 100.00 = 3000.00 -> cash 7000.00.
    assert _account(out)["cash"] == "7000.00"
    names = ["account.json", "equity.csv", "events.csv", "fills.csv", "orders.csv"]
    assert sorted(p.name for p in out.iterdir()) == names


# -- margin calls, liquidation and the Pattern Day Trader rule (docs/margin.md) ----------------

EVENT_COLS = ["timestamp", "kind", "from", "to", "margin_ratio", "nlv", "maintenance_margin"]
CRASH = [
    "2024-01-02,XYZ,100.00,100.00,100.00,100.00,1000000",
    "2024-01-03,XYZ,100.00,100.00,100.00,100.00,1000000",
    "2024-01-04,XYZ,40.00,41.00,39.00,40.00,1000000",
    "2024-01-05,XYZ,42.50,43.00,42.00,42.50,1000000",
    "2024-01-08,XYZ,50.00,50.00,50.00,50.00,1000000",
]


def _events(out: Path) -> list[list[str]]:
    return _rows(out / "events.csv", EVENT_COLS)


def test_leveraged_crash_replay_halts_liquidates_next_bar_and_reports_the_debit(tmp_path: Path) -> None:
    code, out = _replay(
        tmp_path, CRASH, ["2024-01-02,XYZ,200,market,,,,lev"], "--account", "margin", cash="10000"
    )
    assert code == 0
    # 01-03: bought 200 at 100.00 on 10,000: cash -10,000, NLV 10,000, 50%: healthy.
    # 01-04 close 40.00: value 8,000, NLV -2,000, MM 25% = 2,000, ratio -0.25 -> halted.
    assert _events(out) == [
        ["2024-01-04", "margin", "healthy", "liquidating", "-0.25", "-2000.00", "2000.00"],
        ["2024-01-04", "trading_state", "active", "halted", "-0.25", "-2000.00", "2000.00"],
    ]
    # The liquidation fills at the next bar's open: 200 x 42.50 = 8,500.
    assert _fills(out) == [
        ["2024-01-03", "1", "XYZ", "BUY", "200", "100.00", "0.00", "0.00", "lev"],
        ["2024-01-05", "liq1", "XYZ", "SELL", "200", "42.50", "0.00", "0.00", "liquidation"],
    ]
    acct = _account(out)
    # cash -10,000 + 8,500 = -1,500: flat, a debit of 1,500 owed; the rebound does not help.
    assert (acct["cash"], acct["nlv"], acct["debit"]) == ("-1500.00", "-1500.00", "1500.00")
    assert acct["positions"] == {}
    assert acct["trading_state"] == "halted"
    assert isinstance(acct["halted"], str) and "debit of 2000.00" in acct["halted"]
    settings = acct["settings"]
    assert isinstance(settings, dict)
    assert (settings["pdt"], settings["liquidation"]) == ("block", "smallest_first_then_losers")
    assert _orders(out) == [["1", "2024-01-02", "XYZ", "200", "market", "filled", "200", "100.00", ""]]


def test_replay_margin_call_then_largest_losers_first_liquidation(tmp_path: Path) -> None:
    bars = []
    for d, a, b in (("02", 50, 50), ("03", 50, 50), ("04", 60, 20), ("05", 60, 20), ("08", 60, 20)):
        bars += [
            f"2024-01-{d},AAA,{a}.00,{a}.00,{a}.00,{a}.00,1000000",
            f"2024-01-{d},BBB,{b}.00,{b}.00,{b}.00,{b}.00,1000000",
        ]
    orders = ["2024-01-02,AAA,100,market,,,,", "2024-01-02,BBB,100,market,,,,"]
    flags = ("--account", "margin", "--liquidation", "largest_losers_first")
    code, out = _replay(tmp_path, bars, orders, *flags, cash="5000")
    assert code == 0
    # 01-03: 10,000 of stock on 5,000 (50%). 01-04: AAA 6,000 (+1,000), BBB 2,000
    # (-3,000): NLV -5,000 + 8,000 = 3,000 on 8,000 = 37.5% > 35%: healthy, no event.
    assert _events(out) == []
    code, out = _replay(tmp_path, bars, orders, *flags, "--margin-bands", "0.45,0.4,0.1", cash="5000")
    assert code == 0
    # With a 40% call, 37.5% is a call on 01-04 (MM 1,500 + 500), still one at 01-05's
    # check: the largest loser BBB goes first, gross <= 3,000 / 40% = 7,500 -> sell
    # 500 / 20 = 25 BBB at 01-08's open; then 3,000 / 7,500 = 40%: at risk, cured.
    assert _events(out) == [
        ["2024-01-04", "margin", "healthy", "margin_call", "0.375", "3000.00", "2000.00"],
        ["2024-01-04", "trading_state", "active", "reduce_only", "0.375", "3000.00", "2000.00"],
        ["2024-01-08", "margin", "margin_call", "at_risk", "0.4", "3000.00", "1875.00"],
        ["2024-01-08", "trading_state", "reduce_only", "active", "0.4", "3000.00", "1875.00"],
    ]
    assert _fills(out)[2:] == [
        ["2024-01-08", "liq1", "BBB", "SELL", "25", "20.00", "0.00", "0.00", "liquidation"]
    ]
    acct = _account(out)
    assert acct["settings"]["margin_bands"] == {"at_risk": "0.45", "margin_call": "0.4", "liquidating": "0.1"}  # type: ignore[index]
    assert (acct["trading_state"], acct["debit"]) == ("active", "0.00")


def _intraday_day_trades() -> tuple[list[str], list[str]]:
    """Four sessions (Mon 8th - Thu 11th), each: buy 10 at 10:30, sell them at 11:30."""
    bars, orders = [], []
    for d in (8, 9, 10, 11):
        for h in (9, 10, 11):
            bars.append(f"2024-01-{d:02d} {h:02d}:30,XYZ,100.00,100.00,100.00,100.00,100000")
        orders += [f"2024-01-{d:02d} 09:30,XYZ,10,market,,,,", f"2024-01-{d:02d} 10:30,XYZ,-10,market,,,,"]
    return bars, orders


def test_replay_pdt_block_refuses_the_fourth_day_trade(tmp_path: Path) -> None:
    bars, orders = _intraday_day_trades()
    code, out = _replay(tmp_path, bars, orders, "--account", "margin", cash="24500")
    assert code == 0
    rows = _orders(out)
    assert [r[5] for r in rows] == ["filled"] * 7 + ["rejected"]
    assert rows[7][8] == "PDT_RESTRICTED"
    acct = _account(out)
    assert acct["positions"] == {"XYZ": {"quantity": "10", "avg_price": "100.00", "market_value": "1000.00"}}
    assert (acct["day_trades"], acct["pdt_restricted"], acct["mode"]) == (3, True, "margin")


def test_replay_pdt_downgrade_falls_back_to_cash_buying_power(tmp_path: Path) -> None:
    bars, orders = _intraday_day_trades()
    code, out = _replay(tmp_path, bars, orders, "--account", "margin", "--pdt", "downgrade", cash="24500")
    assert code == 0
    assert {r[5] for r in _orders(out)} == {"filled"}
    acct = _account(out)
    assert (acct["day_trades"], acct["pdt_restricted"], acct["mode"]) == (4, True, "cash")
    assert acct["buying_power"] == "24500.00"  # the cash; Reg T would be 49,000.00
    assert acct["settings"]["pdt"] == "downgrade"  # type: ignore[index]


def test_replay_pdt_off_and_bad_risk_flags(tmp_path: Path) -> None:
    bars, orders = _intraday_day_trades()
    code, out = _replay(tmp_path, bars, orders, "--account", "margin", "--pdt", "off", cash="24500")
    assert code == 0
    assert _account(out)["pdt_restricted"] is False
    with pytest.raises(SystemExit) as exc:
        _replay(tmp_path, bars, orders, "--pdt", "sometimes")
    assert exc.value.code == 2
    assert _replay(tmp_path, bars, orders, "--margin-bands", "0.2,0.25,0.1")[0] == 2
    assert _replay(tmp_path, bars, orders, "--holiday", "someday")[0] == 2


@pytest.mark.parametrize(("flag", "bp"), [((), "60000.00"), (("--day-trading",), "120000.00")])
def test_day_trading_flag_30000_margin_account_gets_4x_day_trade_buying_power(
    tmp_path: Path, flag: tuple[str, ...], bp: str
) -> None:
    # $30,000, flat: overnight margin buying power is 2 x 30,000 = 60,000; a pattern day
    # trader's account (--day-trading) gets 4 x (prior-close NLV 30,000 - MM 0) = 120,000.
    bars = ["2024-01-02,X,100,100,100,100,1000000", "2024-01-03,X,100,100,100,100,1000000"]
    code, out = _replay(tmp_path, bars, [], "--account", "margin", *flag, cash="30000")
    assert code == 0
    equity = _rows(out / "equity.csv", EQUITY_COLS)
    assert [row[3] for row in equity] == [bp, bp]
    doc = json.loads((out / "account.json").read_text())
    assert doc["mode"] == ("day_trade" if flag else "margin")
    assert doc["settings"]["day_trading"] is bool(flag)
