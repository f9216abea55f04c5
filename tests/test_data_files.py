"""Bars from files as vendors export them: one symbol per file, other timestamp names, directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from solvent.cli import main
from solvent.data import DataError, from_frame, read_csv, read_parquet, sample

ROOT = Path(__file__).resolve().parents[1]
SMA = str(ROOT / "examples" / "sma_cross.py")


def _one(symbol: str = "SYNA") -> pd.DataFrame:
    """One symbol's bars from the sample, as a frame with a ``timestamp`` column."""
    return sample().slice(None, "2015-06-30").symbol_frame(symbol).reset_index()


def _yahoo(frame: pd.DataFrame) -> pd.DataFrame:
    """The same bars as Yahoo Finance exports them: ``Date``, capitalized, ``Adj Close``."""
    out = frame.rename(columns={"timestamp": "Date"}).rename(columns=str.title)
    out["Date"] = out["Date"].dt.strftime("%Y-%m-%d")
    out.insert(5, "Adj Close", out["Close"] * 0.98)
    return out[["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]]


def test_single_symbol_csv_named_by_its_stem(tmp_path: Path) -> None:
    _one().to_csv(tmp_path / "SYNA.csv", index=False)
    panel = read_csv(tmp_path / "SYNA.csv")
    assert panel.symbols == ("SYNA",)
    assert panel.equals(from_frame(_one(), symbol="SYNA"))
    assert read_csv(tmp_path / "SYNA.csv", symbol=" SPY ").symbols == ("SPY",)


def test_yahoo_csv_date_column_and_extra_columns_load(tmp_path: Path) -> None:
    path = tmp_path / "AAPL.csv"
    _yahoo(_one()).to_csv(path, index=False)
    panel = read_csv(path)
    assert panel.symbols == ("AAPL",)
    np.testing.assert_array_equal(panel.close[:, 0], _one()["close"].to_numpy())
    np.testing.assert_array_equal(panel.timestamps, _one()["timestamp"].to_numpy())


def test_date_and_time_columns_are_joined(tmp_path: Path) -> None:
    path = tmp_path / "ES.csv.gz"
    frame = pd.DataFrame(
        {
            "Date": ["2024-01-02", "2024-01-02", "2024-01-03"],
            "Time": ["09:30", "09:31", "09:30"],
            "Open": [10.0, 10.1, 10.2],
            "High": [10.2, 10.3, 10.4],
            "Low": [9.9, 10.0, 10.1],
            "Close": [10.1, 10.2, 10.3],
            "Volume": [100, 200, 300],
        }
    )
    frame.to_csv(path, index=False)
    panel = read_csv(path)
    assert panel.symbols == ("ES",)
    assert [str(pd.Timestamp(t)) for t in panel.timestamps] == [
        "2024-01-02 09:30:00",
        "2024-01-02 09:31:00",
        "2024-01-03 09:30:00",
    ]


@pytest.mark.parametrize("name", ["Date", "Datetime", "timestamp"])
def test_frame_indexed_by_named_stamps_loads(name: str) -> None:
    frame = _one().set_index("timestamp").rename_axis(name)
    frame.index = frame.index.astype(str) if name == "Date" else frame.index  # a plain index named Date
    assert from_frame(frame, symbol="SYNA").equals(from_frame(_one(), symbol="SYNA"))


def test_datetime_column_preferred_over_date() -> None:
    frame = _one().rename(columns={"timestamp": "datetime"})
    frame["date"] = "1999-01-01"  # a label column, not the stamp
    assert from_frame(frame, symbol="SYNA").equals(from_frame(_one(), symbol="SYNA"))


def test_csv_directory_mixes_single_symbol_and_long_files(tmp_path: Path) -> None:
    _one("SYNA").to_csv(tmp_path / "SYNA.csv", index=False)
    _yahoo(_one("SYNB")).to_csv(tmp_path / "SYNB.csv", index=False)
    _one("SYNC").assign(symbol="SYNC").to_csv(tmp_path / "more.csv", index=False)
    (tmp_path / "notes.md").write_text("not bars")
    panel = read_csv(tmp_path)
    assert panel.symbols == ("SYNA", "SYNB", "SYNC")
    want = sample().slice(None, "2015-06-30").select(["SYNA", "SYNB", "SYNC"])
    np.testing.assert_array_equal(panel.close, want.close)


def test_directory_with_symbol_argument_raises(tmp_path: Path) -> None:
    _one().to_csv(tmp_path / "SYNA.csv", index=False)
    with pytest.raises(DataError, match="directory"):
        read_csv(tmp_path, symbol="X")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"no \.csv files"):
        read_csv(empty)


def test_single_symbol_parquet_named_by_its_stem(tmp_path: Path) -> None:
    _one().to_parquet(tmp_path / "SYNA.parquet")
    assert read_parquet(tmp_path / "SYNA.parquet").equals(from_frame(_one(), symbol="SYNA"))


def test_file_of_another_symbol_than_given_raises(tmp_path: Path) -> None:
    _one().assign(symbol="SYNA").to_csv(tmp_path / "bars.csv", index=False)
    with pytest.raises(DataError, match="holds another symbol"):
        read_csv(tmp_path / "bars.csv", symbol="SYNB")


def test_cli_single_symbol_yahoo_csv_and_symbol_flag(tmp_path: Path) -> None:
    path = tmp_path / "AAPL.csv"
    _yahoo(_one()).to_csv(path, index=False)
    args = ["--data", str(path), "--commission-bps", "10", "--volume-limit", "none"]
    assert main(["backtest", SMA, *args, "--out", str(tmp_path / "a")]) == 0
    assert main(["backtest", SMA, *args, "--symbol", "SPY", "--out", str(tmp_path / "b")]) == 0
    fills_a = pd.read_csv(tmp_path / "a" / "fills.csv")
    fills_b = pd.read_csv(tmp_path / "b" / "fills.csv")
    assert len(fills_a) > 0 and set(fills_a["symbol"]) == {"AAPL"} and set(fills_b["symbol"]) == {"SPY"}
    assert fills_a.drop(columns="symbol").equals(fills_b.drop(columns="symbol"))
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["fills"] == len(fills_a)


def test_cli_symbol_flag_with_sample_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", SMA, "--data", "sample", "--symbol", "X"]) == 2
    assert "--symbol" in capsys.readouterr().err


def test_cli_notes_orders_that_waited_on_zero_volume_bars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every bar after a cross-up trades nothing: the all-in buy waits (solvent), where the
    # peers would fill; the note says so and names the flag that fills on such bars.
    frame = _one()
    frame["volume"] = 0.0
    frame.loc[frame.index % 7 == 0, "volume"] = 1e6
    path = tmp_path / "THIN.csv"
    frame.to_csv(path, index=False)
    args = ["backtest", SMA, "--data", str(path), "--commission-bps", "10", "--volume-limit", "none"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "waited on zero-volume bars" in out and "--zero-volume fill" in out
    assert main([*args, "--zero-volume", "fill"]) == 0
    assert "waited on zero-volume bars" not in capsys.readouterr().out


def test_panel_knows_whether_it_has_dividends_and_splits() -> None:
    full = sample()
    assert full.has_dividends and full.has_splits  # the sample has both
    window = full.slice(None, "2014-02-01")
    assert window.has_dividends == bool(window.dividend.any())
    assert window.has_splits == bool((window.split != 1.0).any())
    plain = from_frame(_one(), symbol="SYNA")
    assert not plain.has_dividends and not plain.has_splits
    frame = _one().assign(dividend=0.0, split=1.0)
    frame.loc[3, "dividend"] = 0.25
    frame.loc[5, "split"] = 2.0
    both = from_frame(frame, symbol="SYNA")
    assert both.has_dividends and both.has_splits
    split_cols = set(np.flatnonzero((full.split != 1.0).any(axis=0)).tolist())
    assert split_cols and len(split_cols) < len(full.symbols)
    for j, sym in enumerate(full.symbols):
        assert full.select([sym]).has_splits == (j in split_cols)


# --- wide CSV files: yfinance.download(...).to_csv(), two header rows -----------------


def _wide_frame() -> pd.DataFrame:
    """Two symbols of the sample as ``yfinance.download`` returns them: (Price, Ticker) columns."""
    parts = {s: _one(s).set_index("timestamp").rename(columns=str.title) for s in ("SYNA", "SYNB")}
    wide = pd.concat(parts, axis=1, names=["Ticker", "Price"]).swaplevel(axis=1)
    wide.index.name = "Date"
    return wide


@pytest.mark.parametrize("layout", ["price-ticker", "ticker-price", "unnamed-levels", "no-index-name"])
def test_wide_csv_with_two_header_rows_loads_every_symbol(tmp_path: Path, layout: str) -> None:
    wide = _wide_frame()
    if layout == "ticker-price":
        wide = wide.swaplevel(axis=1).sort_index(axis=1)
    elif layout == "unnamed-levels":
        wide.columns = wide.columns.set_names([None, None])
    elif layout == "no-index-name":
        wide.index.name = None
    path = tmp_path / "prices.csv"
    wide.to_csv(path)
    panel = read_csv(path)
    assert panel.symbols == ("SYNA", "SYNB")
    assert panel.equals(from_frame(wide))


def test_wide_csv_missing_symbol_rows_are_no_bar_and_gz_reads(tmp_path: Path) -> None:
    wide = _wide_frame()
    wide.loc[wide.index[:3], pd.IndexSlice[:, "SYNB"]] = np.nan  # listed on the fourth day
    path = tmp_path / "prices.csv.gz"
    wide.to_csv(path)
    panel = read_csv(path)
    assert panel.present[:4, 1].tolist() == [False, False, False, True]
    assert panel.present[:, 0].all()
    assert panel.equals(from_frame(wide))


def test_wide_csv_with_symbol_argument_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    _wide_frame().to_csv(path)
    with pytest.raises(DataError, match=r"prices\.csv is a wide file"):
        read_csv(path, symbol="SYNA")


def test_wide_csv_partly_empty_row_raises_naming_symbol_timestamp_field(tmp_path: Path) -> None:
    wide = _wide_frame()
    stamp = wide.index[5]
    wide.loc[stamp, ("Low", "SYNA")] = np.nan
    path = tmp_path / "prices.csv"
    wide.to_csv(path)
    with pytest.raises(DataError, match=rf"SYNA @ {stamp:%Y-%m-%d}.*low"):
        read_csv(path)


def test_long_csv_whose_second_row_has_text_is_not_read_as_wide(tmp_path: Path) -> None:
    # A long file's second row holds a symbol and a date, but numbers too: not a header.
    long = sample().slice(None, "2015-03-31").to_frame()
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    assert read_csv(path).equals(from_frame(long))
