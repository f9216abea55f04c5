"""What the run allocates less of: shared arrays, session lookups, frames built on read.

On a panel where every symbol has every bar the runner shares the panel's close and open
ticks instead of forward-filled copies; sessions are looked up in a few thousand starts
and ends instead of run-sized arrays; the quiet bars' figures are written block by block
in place; ``Result.cash``, ``margin`` and ``positions`` are built on first read. Each
must give what the run-sized versions gave.
"""

from __future__ import annotations

import sys
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from _bars import minute_sessions
from solvent.accounting.account import Account
from solvent.data import BarData
from solvent.data.frame import DataError
from solvent.engine import Context, Strategy, backtest
from solvent.engine.backtest import _snap_ticks, _volume_lots
from solvent.engine.figures import BLOCK_ROWS, FigureModel
from solvent.engine.runner import Runner
from solvent.engine.runner_state import NS_PER_DAY
from solvent.execution.broker import SimulatedBroker
from solvent.model.instrument import Instrument
from test_speed_lazy import RandomTrader, assert_same


def full_panel(seed: int, n_bars: int, n_symbols: int, *, intraday: bool) -> BarData:
    """Return a cent-grid random walk where every symbol has every bar (no holes)."""
    rng = np.random.default_rng(seed)
    if intraday:  # sessions of 45 one-minute bars
        stamps = minute_sessions(n_bars, 45, "2024-01-02")
    else:
        stamps = pd.bdate_range("2020-01-02", periods=n_bars).to_numpy()
    close = np.round(40.0 * np.exp(np.cumsum(rng.normal(0.001, 0.01, (n_bars, n_symbols)), axis=0)), 2)
    opens = np.round(np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.002, close.shape)), 2)
    high = np.maximum(opens, close) + 0.05
    low = np.minimum(opens, close) - 0.05
    volume = rng.integers(1, 5_000, close.shape).astype(float)
    return BarData(stamps, [f"S{j}" for j in range(n_symbols)], opens, high, low, close, volume)


@pytest.mark.parametrize(
    ("seed", "intraday", "account", "shorts"),
    [(21, True, "cash", False), (22, False, "cash", False), (23, True, "margin", True)],
)
def test_full_panel_lazy_engine_identical_to_marking_every_bar(
    seed: int, intraday: bool, account: str, shorts: bool
) -> None:
    data = full_panel(seed, 400, 3, intraday=intraday)
    assert data.present.all()
    kw = {"cash": 50_000, "account": account, "commission": 0.001, "seed": seed, "shorts": shorts}
    lazy = backtest(RandomTrader, data, **kw)  # type: ignore[arg-type]
    eager = backtest(RandomTrader, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert len(eager.fills) > 10
    assert_same(lazy, eager)


def _runner(data: BarData) -> Runner:
    insts = [Instrument(s) for s in data.symbols]
    broker = SimulatedBroker(Account(10_000, kind="cash", instruments=insts), volume_limit=None)
    ticks = tuple(
        _snap_ticks(getattr(data, k), data.present, insts, k) for k in ("open", "high", "low", "close")
    )
    return Runner(Strategy(), data, broker, insts, (*ticks, _volume_lots(data.volume, insts)))


@pytest.mark.parametrize("lazy", [True, False])
def test_cash_account_margin_arrays_are_one_array_of_the_long_value(lazy: bool) -> None:
    # A cash account's initial and maintenance margin are both what it holds, in full:
    # the run keeps one array for both, and it is NLV less cash on every bar.
    data = full_panel(31, 300, 3, intraday=False)
    kw = {"cash": 50_000, "account": "cash", "commission": 0.001, "seed": 31, "rate": 0.05}
    res = backtest(RandomTrader, data, _lazy=lazy, **kw)  # type: ignore[arg-type]
    im, mm = res.margin_minor["initial_margin"], res.margin_minor["maintenance_margin"]
    assert im is mm
    assert (im > 0).sum() > 100
    np.testing.assert_array_equal(im, res.equity_minor - res.cash_minor)


def test_margin_account_margin_arrays_are_two() -> None:
    data = full_panel(32, 200, 2, intraday=False)
    res = backtest(RandomTrader, data, cash=50_000, account="margin", seed=32, rate=0.05)  # type: ignore[arg-type]
    im, mm = res.margin_minor["initial_margin"], res.margin_minor["maintenance_margin"]
    assert im is not mm and (im > mm).any()


@pytest.mark.parametrize("block", [1, 3, 4, 1 << 16])
def test_session_lookups_equal_the_run_sized_arrays(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Day numbers read in blocks of 1, 3 and 4 stamps: new days fall on block edges too.
    monkeypatch.setattr(sys.modules["solvent.engine.runner_state"], "DAY_BLOCK", block)
    # Uneven sessions: 1, 3, 2 and 4 bars, the last one alone on its day.
    stamps = pd.to_datetime(
        ["2024-01-02 15:59", "2024-01-03 09:30", "2024-01-03 09:31", "2024-01-03 15:59", "2024-01-04 09:30",
         "2024-01-04 12:00", "2024-01-05 09:30", "2024-01-05 09:31", "2024-01-05 09:32", "2024-01-05 16:00"]
    ).to_numpy()  # fmt: skip
    t = len(stamps)
    px = np.full((t, 1), 10.0)
    runner = _runner(BarData(stamps, ["A"], px, px, px, px, np.full((t, 1), 100.0)))
    # The arrays the runner kept before (``np.maximum.accumulate`` and ``np.repeat``).
    day = stamps.astype("datetime64[ns]").view(np.int64) // NS_PER_DAY
    new_day = np.zeros(t, dtype=bool)
    new_day[1:] = day[1:] != day[:-1]
    last_new_day = np.maximum.accumulate(np.where(new_day, np.arange(t), -1))
    starts = np.flatnonzero(np.r_[True, new_day[1:]])
    ends = np.append(starts[1:] - 1, t - 1)
    session_end = np.repeat(ends, np.diff(np.append(starts, t)))
    assert [runner.last_new_day(k) for k in range(t)] == [-1, 1, 1, 1, 4, 4, 6, 6, 6, 6]
    assert [runner.last_new_day(k) for k in range(t)] == last_new_day.tolist()
    assert [runner.session_end(k) for k in range(t)] == [0, 3, 3, 3, 5, 5, 9, 9, 9, 9]
    assert [runner.session_end(k) for k in range(t)] == session_end.tolist()
    assert sorted(runner.opens_session) == [0, 1, 4, 6]
    assert sorted(runner.closes_session) == [0, 3, 5, 9]


def test_full_panel_runner_shares_the_close_and_open_ticks() -> None:
    data = full_panel(3, 50, 2, intraday=False)
    runner = _runner(data)
    assert runner.lastc is runner.c and runner.open_eff is runner.o


def test_snap_ticks_near_half_ticks_equal_the_exact_rule() -> None:
    # Ties, hairs either side of a tie, and plain prices: every cell as ``snap_price``.
    rng = np.random.default_rng(7)
    base = np.round(rng.uniform(1, 500, 400), 2)
    prices = np.concatenate(
        [base + 0.005, base + 0.0049999, base + 0.0050001, base + 0.00500000001, base + 0.0049999999, base]
    ).reshape(-1, 1)
    inst = Instrument("A")
    got = _snap_ticks(prices, np.ones_like(prices, dtype=bool), [inst], "close")
    want = [inst.snap_price(float(p)) for p in prices[:, 0]]
    assert got[:, 0].tolist() == want
    assert got[0, 0] == inst.snap_price(Decimal(str(prices[0, 0])))


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 17])
def test_snap_ticks_in_blocks_equal_every_cell_exact(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Holes, ties and plain prices on three symbols of different ticks, converted in
    # blocks of a few cells: every present cell as ``snap_price``, every absent one 0.
    monkeypatch.setattr(sys.modules["solvent.engine.backtest"], "SNAP_BLOCK", block)
    rng = np.random.default_rng(11)
    t = 61
    base = np.round(rng.uniform(1, 50, (t, 3)), 2)
    hairs = rng.choice([0.0, 0.005, 0.0049999999, 0.0050000001, 0.025], (t, 3))
    prices = base + hairs
    present = rng.random((t, 3)) > 0.2
    prices[~present] = np.nan
    insts = [Instrument("A"), Instrument("B", tick_size=Decimal("0.05")), Instrument("C")]
    got = _snap_ticks(prices, present, insts, "open")
    for j, inst in enumerate(insts):
        want = [
            inst.snap_price(float(p)) if ok else 0 for p, ok in zip(prices[:, j], present[:, j], strict=True)
        ]
        assert got[:, j].tolist() == want


def test_snap_ticks_narrow_is_int32_with_the_same_ticks_unless_too_large() -> None:
    data = full_panel(5, 120, 3, intraday=False)
    insts = [Instrument(s) for s in data.symbols]
    wide = _snap_ticks(data.high, data.present, insts, "high")
    narrow = _snap_ticks(data.high, data.present, insts, "high", narrow=True)
    assert wide.dtype == np.int64 and narrow.dtype == np.int32
    np.testing.assert_array_equal(narrow, wide)
    lots = _volume_lots(data.volume, insts, narrow=True)
    assert lots.dtype == np.int32
    np.testing.assert_array_equal(lots, _volume_lots(data.volume, insts))
    # 30 million dollars is 3e9 cents: past int32, so the table stays int64.
    big = np.full((4, 1), 30_000_000.0)
    out = _snap_ticks(big, np.ones_like(big, dtype=bool), [Instrument("A")], "high", narrow=True)
    assert out.dtype == np.int64 and out[0, 0] == 3_000_000_000


def test_narrow_tables_run_identical_to_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    data = full_panel(41, 300, 3, intraday=True)
    kw = {"cash": 50_000, "account": "margin", "commission": 0.001, "seed": 41, "shorts": True, "rate": 0.05}
    narrow = backtest(RandomTrader, data, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(sys.modules["solvent.engine.backtest"], "NARROW_LIMIT", 0)
    wide = backtest(RandomTrader, data, **kw)  # type: ignore[arg-type]
    assert len(wide.fills) > 20
    assert_same(narrow, wide)


@pytest.mark.parametrize("block", [2, 1 << 17])
def test_snap_ticks_zero_tick_cell_raises_naming_the_first_cell(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["solvent.engine.backtest"], "SNAP_BLOCK", block)
    prices = np.full((6, 2), 10.0)
    prices[4, 1] = 0.004  # rounds to 0 ticks, after a cell at row 2 that does too
    prices[2, 0] = 0.001
    insts = [Instrument("A"), Instrument("B")]
    with pytest.raises(DataError, match="rounds to zero ticks") as info:
        _snap_ticks(prices, np.ones_like(prices, dtype=bool), insts, "low")
    assert info.value.symbol == "A" and info.value.timestamp == 2


def test_figure_model_fill_writes_only_the_picked_rows() -> None:
    model = FigureModel(
        k_num=np.array([1, 1], dtype=np.int64),
        im_ppm=np.array([500_000, 500_000], dtype=np.int64),
        mm_ppm=np.array([250_000, 300_000], dtype=np.int64),
        base_ppm=500_000,
        cash_account=False,
    )
    t = BLOCK_ROWS + 5  # two blocks, the second one short
    rng = np.random.default_rng(1)
    cash = rng.integers(0, 10**6, t)
    lots = rng.integers(0, 50, (t, 2))
    marks = rng.integers(1, 10**4, (t, 2))
    rows = np.zeros(t, dtype=bool)
    rows[[0, 3, BLOCK_ROWS - 1, BLOCK_ROWS + 2]] = True
    keep_bp = np.zeros(t, dtype=bool)
    keep_bp[3] = True
    out = tuple(np.full(t, -7, dtype=np.int64) for _ in range(4))
    model.fill(rows, keep_bp, cash, lots, marks, out)
    for r in range(t):
        if rows[r]:
            nlv, bp, im, mm = model.row(int(cash[r]), dict(enumerate(lots[r].tolist())), marks[r].tolist())
            assert (out[0][r], out[2][r], out[3][r]) == (nlv, im, mm)
            assert out[1][r] == (-7 if keep_bp[r] else bp)
    assert all(int((o[~rows] != -7).sum()) == 0 for o in out)
    # Row 0 by hand: cash 0 + 3 lots at 1.00 and 2 at 2.50 → NLV 8.00 (800 cents).
    one = tuple(np.zeros(1, dtype=np.int64) for _ in range(4))
    model.fill(
        np.ones(1, dtype=bool),
        np.zeros(1, dtype=bool),
        np.zeros(1, dtype=np.int64),
        np.array([[3, 2]]),
        np.array([[100, 250]]),
        one,
    )
    # IM 50% of 300 + 500 = 400; MM 25% of 300 + 30% of 500 = 75 + 150; BP (800 - 400) / 0.5.
    assert [int(o[0]) for o in one] == [800, 800, 400, 225]


class BuyTenOnce(Strategy):
    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            ctx.order("A", 10)


def test_result_frames_built_on_first_read_from_the_exact_arrays() -> None:
    stamps = pd.bdate_range("2024-01-02", periods=3).to_numpy()
    opens = np.array([[99.0], [100.0], [101.0]])
    close = np.array([[99.5], [100.25], [102.0]])
    data = BarData(stamps, ["A"], opens, close + 1, opens - 1, close, np.full((3, 1), 1_000.0))
    res = backtest(BuyTenOnce, data, cash=10_000, account="cash", volume_limit=None)
    # 10 shares at bar 1's open (100.00): cash 9,000.00; held at 100.25 and 102.00.
    assert res.cash.tolist() == [10_000.0, 9_000.0, 9_000.0]
    assert res.cash.name == "cash" and res.cash.index.equals(res.equity.index)
    assert res.equity.tolist() == [10_000.0, 10_002.5, 10_020.0]
    assert list(res.margin.columns) == ["buying_power", "initial_margin", "maintenance_margin"]
    # A cash account: buying power is the cash, margin the full value of the position.
    assert res.margin["buying_power"].tolist() == [10_000.0, 9_000.0, 9_000.0]
    assert res.margin["initial_margin"].tolist() == [0.0, 1_002.5, 1_020.0]
    assert res.margin["maintenance_margin"].tolist() == [0.0, 1_002.5, 1_020.0]
    assert res.positions["A"].tolist() == [0.0, 10.0, 10.0]
    # Built once and kept: the same objects on every read.
    assert res.cash is res.cash and res.margin is res.margin and res.positions is res.positions
