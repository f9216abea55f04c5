"""Building panels without temporary copies: chunked checks report what a whole-array check would.

``check_cells`` walks the arrays a block of rows at a time. These tests shrink the block
to a few cells so that every panel crosses many block boundaries, and compare the error
with a straightforward whole-array reference (gather the present cells, test each rule in
order), the way the checks were written before they were chunked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.data import BarData, DataError, checks, from_frame

T0 = np.datetime64("2024-01-02T00:00", "ns")
SYMS = ("AAA", "BBB", "CCC")


def _reference_error(grids: dict[str, np.ndarray], present: np.ndarray) -> str | None:
    """The message a whole-array check gives: first rule broken, first present cell, count."""
    rows, cols = np.nonzero(present)
    v = {k: a[rows, cols] for k, a in grids.items()}
    o, h, lo, c = v["open"], v["high"], v["low"], v["close"]
    rules: list[tuple[str, np.ndarray, str]] = []
    for k in ("open", "high", "low", "close"):
        rules += [(k, ~np.isfinite(v[k]), "price must be finite"), (k, v[k] <= 0, "price must be positive")]
    rules += [
        ("high", h < np.maximum(o, c), "high is below max(open, close)"),
        ("low", lo > np.minimum(o, c), "low is above min(open, close)"),
        ("volume", ~np.isfinite(v["volume"]), "volume must be finite"),
        ("volume", v["volume"] < 0, "volume cannot be negative"),
    ]
    for name, bad, problem in rules:
        idx = np.flatnonzero(bad)
        if idx.size:
            i = idx[0]
            more = f" ({idx.size} rows in all)" if idx.size > 1 else ""
            where = f"{SYMS[cols[i]]} @ {pd.Timestamp(T0 + np.timedelta64(int(rows[i]), 'm'))}"
            return f"data[{where}].{name}={v[name][i].item()!r}: {problem}{more}"
    return None


def _grids(seed: int, t: int, n: int, bad_cells: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Valid random bars, then ``bad_cells`` cells overwritten with a random bad value."""
    rng = np.random.default_rng(seed)
    o = np.round(rng.uniform(10, 20, (t, n)), 2)
    c = np.round(rng.uniform(10, 20, (t, n)), 2)
    grids = {
        "open": o,
        "high": np.maximum(o, c) + 0.5,
        "low": np.minimum(o, c) - 0.5,
        "close": c,
        "volume": np.round(rng.uniform(0, 100, (t, n))),
    }
    present = rng.random((t, n)) < 0.8
    bad_values = (np.nan, np.inf, -np.inf, 0.0, -1.0, 5.0, 25.0)
    for _ in range(bad_cells):
        field = ("open", "high", "low", "close", "volume")[rng.integers(5)]
        grids[field][rng.integers(t), rng.integers(n)] = bad_values[rng.integers(len(bad_values))]
    return grids, present


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(1, 12),
    n=st.integers(1, 3),
    bad_cells=st.integers(0, 4),
    chunk=st.integers(1, 7),
    fortran=st.booleans(),
)
def test_chunked_checks_report_same_error_as_whole_array_check(
    seed: int, t: int, n: int, bad_cells: int, chunk: int, fortran: bool
) -> None:
    grids, present = _grids(seed, t, n, bad_cells)
    expected = _reference_error(grids, present)
    if fortran:  # e.g. ``wide_frame.to_numpy()``: blocks of rows are strided views
        grids = {k: np.asfortranarray(a) for k, a in grids.items()}
    stamps = T0 + np.arange(t).astype("timedelta64[m]")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checks, "CHUNK_CELLS", chunk)
        try:
            panel = BarData(stamps, SYMS[:n], **grids, present=present)
        except DataError as exc:
            assert str(exc) == expected
        else:
            assert expected is None
        # The same bars as a long frame, rows in the panel's row-major order: same verdict.
        rows, cols = np.nonzero(present)
        long = pd.DataFrame(
            {"timestamp": stamps[rows], "symbol": np.array(SYMS, dtype=object)[cols]}
            | {k: a[rows, cols] for k, a in grids.items()}
        )
        try:
            loaded = from_frame(long)
        except DataError as exc:
            assert str(exc) == expected
        else:
            assert expected is None
            assert loaded.equals(panel.select(loaded.symbols))


def test_rule_order_beats_position_across_chunks_names_first_and_count(monkeypatch: Any) -> None:
    # A bad high in the first block and NaN closes in two later blocks: the NaN rule ranks
    # first, so it is reported, at its first cell, with the count over every block.
    monkeypatch.setattr(checks, "CHUNK_CELLS", 2)
    t = 8
    close = np.full((t, 1), 10.0)
    high = np.full((t, 1), 11.0)
    high[0, 0] = 9.0
    close[5, 0] = np.nan
    close[7, 0] = np.nan
    stamps = T0 + np.arange(t).astype("timedelta64[D]")
    with pytest.raises(
        DataError, match=r"X @ 2024-01-07 00:00:00\]\.close=nan: price must be finite \(2 rows"
    ):
        BarData(stamps, ("X",), np.full((t, 1), 10.0), high, np.full((t, 1), 9.5), close, np.ones((t, 1)),
                present=np.ones((t, 1), dtype=bool))  # fmt: skip


def test_constructor_copies_once_leaves_input_untouched() -> None:
    # Absent cells are reset in the panel's own copy: the caller's arrays keep their junk
    # and stay writeable; the panel's arrays are owned, C-ordered and read-only.
    stamps = T0 + np.arange(2).astype("timedelta64[D]")
    o = np.array([[10.0, 10.0], [10.0, -5.0]])
    present = np.array([[True, True], [True, False]])
    panel = BarData(stamps, ("A", "B"), o, o + 1, o - 1, o, np.ones((2, 2)), present=present)
    assert o[1, 1] == -5.0 and o.flags.writeable
    assert np.isnan(panel.open[1, 1]) and panel.volume[1, 1] == 0.0 and panel.split[1, 1] == 1.0
    for name in ("timestamps", "open", "volume", "dividend", "split", "present"):
        a = getattr(panel, name)
        assert a.flags.owndata and a.flags.c_contiguous and not a.flags.writeable
    assert not np.shares_memory(panel.open, o)


def test_from_frame_arrays_owned_read_only_and_frame_unchanged() -> None:
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-02"]),
            "symbol": ["B", "B", "A"],
            "open": [2.0, 3.0, 4.0],
            "high": [2.0, 3.0, 4.0],
            "low": [2.0, 3.0, 4.0],
            "close": [2.0, 3.0, 4.0],
            "volume": [1.0, 2.0, 3.0],
            "split": [np.nan, 0.0, 2.0],
        }
    )
    before = df.copy()
    panel = from_frame(df)
    pd.testing.assert_frame_equal(df, before)
    assert panel.symbols == ("A", "B")
    np.testing.assert_array_equal(panel.close, [[4.0, 3.0], [np.nan, 2.0]])
    np.testing.assert_array_equal(panel.split, [[2.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(panel.present, [[True, True], [False, True]])
    for name in ("timestamps", "close", "split", "present"):
        a = getattr(panel, name)
        assert a.flags.owndata and a.flags.c_contiguous and not a.flags.writeable


def test_symbols_equal_after_stripping_are_one_symbol() -> None:
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"]),
            "symbol": [" AAA", "AAA "],
            **{k: [1.0, 1.0] for k in ("open", "high", "low", "close", "volume")},
        }
    )
    panel = from_frame(df)
    assert panel.symbols == ("AAA",) and panel.present.all()


def test_duplicate_in_unsorted_long_frame_names_first_symbol_then_time() -> None:
    # Two duplicated cells: (BBB, 3rd) and (AAA, 4th). Reported: AAA's, the first in
    # (symbol, time) order, at its second row.
    stamps = pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-03", "2024-01-04", "2024-01-02"])
    df = pd.DataFrame(
        {
            "timestamp": stamps,
            "symbol": ["BBB", "AAA", "BBB", "AAA", "AAA"],
            **{k: [1.0, 1.0, 1.0, 2.0, 1.0] for k in ("open", "high", "low", "close")},
            "volume": [1.0] * 5,
        }
    )
    with pytest.raises(DataError, match=r"AAA @ 2024-01-04 00:00:00\]\.timestamp=.*duplicate") as info:
        from_frame(df)
    assert info.value.symbol == "AAA"
