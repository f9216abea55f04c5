"""The data layer: loading, validation, alignment, Parquet round trips, the sample panel."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from solvent.data import BarData, DataError, from_frame, read_csv, read_parquet, sample
from solvent.errors import InvalidInputError, UnknownSymbolError


def _long() -> pd.DataFrame:
    """Two symbols, three days; BBB has no bar on the 3rd (misaligned)."""
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-04"]
            ),
            "symbol": ["AAA", "BBB", "AAA", "AAA", "BBB"],
            "open": [10.0, 20.0, 10.5, 11.0, 21.0],
            "high": [10.8, 20.5, 11.0, 11.5, 21.5],
            "low": [9.9, 19.5, 10.2, 10.8, 20.8],
            "close": [10.5, 20.2, 10.9, 11.2, 21.1],
            "volume": [1000.0, 500.0, 0.0, 1200.0, 600.0],
        }
    )


def _bad(column: str, row: int, value: object) -> pd.DataFrame:
    df = _long()
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    return df


# -- validation: every bad input names symbol, timestamp and field ----------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("open", np.nan), ("high", np.inf), ("close", 0.0), ("low", -1.0)],
)
def test_non_finite_or_non_positive_price_raises_naming_row(column: str, value: float) -> None:
    with pytest.raises(DataError, match=rf"AAA @ 2024-01-03 00:00:00\]\.{column}"):
        from_frame(_bad(column, 2, value))


def test_high_below_open_close_raises_naming_row() -> None:
    with pytest.raises(DataError, match=r"BBB @ 2024-01-04 00:00:00\]\.high.*max\(open, close\)"):
        from_frame(_bad("high", 4, 21.05))


def test_low_above_open_close_raises_naming_row() -> None:
    with pytest.raises(DataError, match=r"AAA @ 2024-01-02 00:00:00\]\.low.*min\(open, close\)"):
        from_frame(_bad("low", 0, 10.1))


@pytest.mark.parametrize("value", [-5.0, np.nan, np.inf])
def test_bad_volume_raises_naming_row(value: float) -> None:
    with pytest.raises(DataError, match=r"BBB @ 2024-01-02 00:00:00\]\.volume") as info:
        from_frame(_bad("volume", 1, value))
    assert info.value.symbol == "BBB"
    assert info.value.column == "volume"
    assert info.value.timestamp == pd.Timestamp("2024-01-02")
    assert isinstance(info.value, InvalidInputError)


def test_non_numeric_price_raises_naming_row() -> None:
    with pytest.raises(DataError, match=r"AAA @ 2024-01-04 00:00:00\]\.close.*not a number"):
        from_frame(_bad("close", 3, "abc"))


def test_duplicate_timestamp_long_format_raises() -> None:
    df = pd.concat([_long(), _long().iloc[[3]]], ignore_index=True)
    with pytest.raises(DataError, match=r"AAA @ 2024-01-04 00:00:00\]\.timestamp.*duplicate"):
        from_frame(df)


def test_unsorted_long_format_is_sorted() -> None:
    df = _long()
    panel = from_frame(df.iloc[::-1])
    assert panel.equals(from_frame(df))


def test_unsorted_per_symbol_frame_raises() -> None:
    a = _long().query("symbol == 'AAA'").drop(columns="symbol").iloc[[0, 2, 1]]
    with pytest.raises(DataError, match=r"AAA @ 2024-01-03 00:00:00\]\.timestamp.*not sorted"):
        from_frame({"AAA": a})


def test_duplicate_per_symbol_frame_raises() -> None:
    a = _long().query("symbol == 'AAA'").drop(columns="symbol").iloc[[0, 1, 1, 2]]
    with pytest.raises(DataError, match=r"AAA @ 2024-01-03 00:00:00\]\.timestamp.*duplicate"):
        from_frame({"AAA": a})


@pytest.mark.parametrize("column", ["timestamp", "close", "volume"])
def test_missing_required_column_raises(column: str) -> None:
    with pytest.raises(DataError, match=rf"missing required column.*'{column}'"):
        from_frame(_long().drop(columns=column))


def test_missing_symbol_column_raises_with_hint() -> None:
    with pytest.raises(DataError, match="symbol='X'"):
        from_frame(_long().drop(columns="symbol"))


def test_bad_timestamp_raises_naming_symbol() -> None:
    with pytest.raises(DataError, match=r"data\[BBB\]\.timestamp"):
        from_frame(_bad("timestamp", 4, "not a date"))


def test_negative_dividend_and_zero_split_rules() -> None:
    df = _long().assign(dividend=[0, 0, -0.1, 0, 0])
    with pytest.raises(DataError, match=r"AAA @ 2024-01-03 00:00:00\]\.dividend"):
        from_frame(df)
    df = _long().assign(split=[np.nan, 0, -2, 1, 1])
    with pytest.raises(DataError, match=r"AAA @ 2024-01-03 00:00:00\]\.split"):
        from_frame(df)


def test_blank_dividend_and_split_mean_no_event() -> None:
    panel = from_frame(_long().assign(dividend=[np.nan] * 5, split=[np.nan, 0, 2, 1, np.nan]))
    assert (panel.dividend == 0).all()
    assert panel.split[:, 0].tolist() == [1.0, 2.0, 1.0]
    assert panel.split[:, 1].tolist() == [1.0, 1.0, 1.0]


def test_error_builds_nothing_from_later_bad_row() -> None:
    """The bad row is the very last one: the error still comes before any panel."""
    with pytest.raises(DataError):
        from_frame(_bad("close", 4, -1.0))


# -- formats --------------------------------------------------------------------------


def test_polars_and_pandas_give_identical_panels() -> None:
    df = _long()
    a = from_frame(df)
    b = from_frame(pl.from_pandas(df))
    assert a.equals(b)
    assert a.symbols == b.symbols == ("AAA", "BBB")


def test_polars_per_symbol_dict_matches_long() -> None:
    df = _long()
    frames = {
        s: pl.from_pandas(g.drop(columns="symbol").reset_index(drop=True)) for s, g in df.groupby("symbol")
    }
    assert from_frame(frames).equals(from_frame(df))


def test_dict_of_indexed_frames_matches_long() -> None:
    df = _long()
    frames = {s: g.drop(columns="symbol").set_index("timestamp") for s, g in df.groupby("symbol")}
    assert from_frame(frames).equals(from_frame(df))


def test_column_names_are_case_insensitive() -> None:
    df = _long().rename(columns=str.upper)
    assert from_frame(df).equals(from_frame(_long()))


def test_single_symbol_frame_with_symbol_argument() -> None:
    a = _long().query("symbol == 'AAA'").drop(columns="symbol")
    panel = from_frame(a, symbol="AAA")
    assert panel.symbols == ("AAA",)
    assert len(panel) == 3
    assert panel.present.all()


def test_misaligned_symbols_aligned_on_union_with_absent_bars() -> None:
    panel = from_frame(_long())
    assert panel.shape == (3, 2)
    assert panel.timestamps.dtype == np.dtype("datetime64[ns]")
    assert panel.present[:, 1].tolist() == [True, False, True]
    assert np.isnan(panel.close[1, 1])
    assert panel.volume[1, 1] == 0
    assert panel.volume[1, 0] == 0  # a real zero-volume bar is present
    assert panel.present[1, 0]


def test_tz_aware_timestamps_stored_as_utc() -> None:
    df = _long()
    df["timestamp"] = df["timestamp"].dt.tz_localize("America/New_York")
    panel = from_frame(df)
    assert pd.Timestamp(panel.timestamps[0]) == pd.Timestamp("2024-01-02 05:00")
    assert "UTC" in panel.meta["timezone"]


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    _long().to_csv(path, index=False)
    assert read_csv(path).equals(from_frame(_long()))


def test_parquet_file_round_trip(tmp_path: Path) -> None:
    panel = sample()
    path = tmp_path / "bars.parquet"
    panel.to_frame().to_parquet(path)
    assert read_parquet(path).equals(panel)


def test_parquet_directory_one_file_per_symbol_round_trip(tmp_path: Path) -> None:
    panel = sample()
    for sym in panel.symbols:
        panel.symbol_frame(sym).to_parquet(tmp_path / f"{sym}.parquet")
    assert read_parquet(tmp_path).equals(panel)


def test_parquet_directory_long_files_round_trip(tmp_path: Path) -> None:
    frame = sample().to_frame()
    frame.iloc[: len(frame) // 2].to_parquet(tmp_path / "part-0.parquet")
    frame.iloc[len(frame) // 2 :].to_parquet(tmp_path / "part-1.parquet")
    assert read_parquet(tmp_path).equals(sample())


def test_empty_parquet_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no \.parquet files"):
        read_parquet(tmp_path)


# -- the panel ------------------------------------------------------------------------


def test_to_frame_round_trip_and_symbol_frame() -> None:
    panel = from_frame(_long())
    assert from_frame(panel.to_frame()).equals(panel)
    b = panel.symbol_frame("BBB")
    assert list(b.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-04")]
    assert len(panel.symbol_frame("BBB", aligned=True)) == 3
    with pytest.raises(UnknownSymbolError):
        panel.symbol_frame("ZZZ")


def test_slice_is_half_open() -> None:
    panel = from_frame(_long())
    part = panel.slice("2024-01-03", "2024-01-04")
    assert len(part) == 1
    assert part.symbols == panel.symbols
    assert len(panel.slice(None, None)) == 3
    assert len(panel.slice("2024-01-03")) == 2


def test_arrays_are_read_only() -> None:
    panel = from_frame(_long())
    with pytest.raises(ValueError, match="read-only"):
        panel.close[0, 0] = 1.0


def test_constructor_validates_present_cells() -> None:
    t = np.array(["2024-01-02"], dtype="datetime64[ns]")
    with pytest.raises(DataError, match=r"X @ 2024-01-02 00:00:00\]\.close"):
        BarData(t, ("X",), [[1.0]], [[1.0]], [[1.0]], [[-1.0]], [[0.0]])


# -- sample ---------------------------------------------------------------------------


def _on_cent_grid(a: np.ndarray) -> bool:
    """Each float is the double nearest to a whole number of cents."""
    return bool(np.array_equal(np.round(a, 2), a) and np.abs(a * 100 - np.round(a * 100)).max() < 1e-6)


def test_sample_is_deterministic_synthetic_and_large() -> None:
    s = sample()
    sample.cache_clear()
    start = time.perf_counter()
    again = sample()
    assert time.perf_counter() - start < 1.0
    assert again.equals(s)
    assert s.meta["synthetic"] is True
    assert "SYNTHETIC" in s.meta["description"]
    assert len(s.symbols) >= 5
    assert len(s) >= 2500


def test_sample_prices_on_cent_grid_and_consistent() -> None:
    s = sample()
    p = s.present
    for a in (s.open, s.high, s.low, s.close):
        assert _on_cent_grid(a[p])
    assert (s.high[p] >= np.maximum(s.open[p], s.close[p])).all()
    assert (s.low[p] <= np.minimum(s.open[p], s.close[p])).all()
    assert np.array_equal(s.volume, np.round(s.volume))


def test_sample_has_zero_volume_split_and_dividends() -> None:
    s = sample()
    assert ((s.volume == 0) & s.present).sum() >= 3
    (rows, cols) = np.nonzero(s.split != 1)
    assert len(rows) == 1
    assert s.split[rows[0], cols[0]] == 2.0
    ratio = s.close[rows[0] - 1, cols[0]] / s.close[rows[0], cols[0]]
    assert 1.6 < ratio < 2.5
    paying = np.flatnonzero((s.dividend > 0).any(axis=0))
    assert len(paying) == 2
    assert (s.dividend > 0).sum(axis=0)[paying].min() >= 30
    assert _on_cent_grid(s.dividend)


# --- wide frames (two column levels: field and symbol) -------------------------------


def _wide(order: str = "field-symbol") -> pd.DataFrame:
    idx = pd.date_range("2024-01-02", periods=4, freq="B", name="Date")
    fields = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    cols = pd.MultiIndex.from_product([fields, ["MSFT", "AAPL"]], names=["Price", "Ticker"])
    base = {"Close": 10.5, "High": 11.0, "Low": 9.5, "Open": 10.0, "Adj Close": 9.9, "Volume": 500.0}
    data = {(f, s): [base[f] * (2 if s == "MSFT" else 1)] * 4 for f, s in cols}
    df = pd.DataFrame(data, index=idx, columns=cols)
    # MSFT lists on the third day: its first two rows are empty cells, not bars.
    df.loc[idx[:2], pd.IndexSlice[:, "MSFT"]] = np.nan
    return df if order == "field-symbol" else df.swaplevel(axis=1)


def test_wide_frame_loads_each_symbol_and_empty_rows_are_no_bar() -> None:
    panel = from_frame(_wide())
    assert panel.symbols == ("MSFT", "AAPL")  # the columns' order
    assert panel.present.tolist() == [[False, True], [False, True], [True, True], [True, True]]
    assert panel.close[2:, 0].tolist() == [21.0, 21.0]
    assert panel.open[:, 1].tolist() == [10.0] * 4
    assert panel.volume[0].tolist() == [0.0, 500.0]


def test_wide_frame_symbol_then_field_levels_give_the_same_panel() -> None:
    assert from_frame(_wide("symbol-field")).equals(from_frame(_wide()))


def test_wide_frame_row_missing_one_price_raises_naming_symbol_and_timestamp() -> None:
    df = _wide()
    df.loc[df.index[3], ("Low", "AAPL")] = np.nan
    with pytest.raises(DataError, match=r"AAPL @ 2024-01-05.*low"):
        from_frame(df)


def test_wide_frame_without_a_field_level_raises() -> None:
    df = _wide()
    df.columns = pd.MultiIndex.from_tuples([(f"x{k}", s) for k, (_, s) in enumerate(df.columns)])
    with pytest.raises(DataError, match="not one holding the fields"):
        from_frame(df)


def test_wide_frame_with_symbol_argument_raises() -> None:
    with pytest.raises(DataError, match="names its symbols in its columns"):
        from_frame(_wide(), symbol="AAPL")


def test_long_frame_indexed_by_timestamp_and_symbol_loads_as_the_flat_one() -> None:
    flat = sample().to_frame()
    ref = from_frame(flat)
    assert from_frame(flat.set_index(["timestamp", "symbol"])).equals(ref)
    assert from_frame(flat.set_index(["symbol", "timestamp"])).equals(ref)


def test_ticker_column_is_the_symbol_when_there_is_no_symbol_column() -> None:
    flat = sample().to_frame()
    renamed = flat.rename(columns={"timestamp": "Date", "symbol": "Ticker"}).set_index(["Date", "Ticker"])
    assert from_frame(renamed).equals(from_frame(flat))
    # With both, ``symbol`` is the symbol and ``ticker`` an ignored extra column.
    both = flat.assign(ticker="ZZZ")
    assert from_frame(both).symbols == from_frame(flat).symbols
