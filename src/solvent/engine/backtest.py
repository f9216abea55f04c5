"""``backtest``: run a ``Strategy`` over a ``BarData`` panel through the simulated broker.

Per timestamp ``i``, in this order (the look-ahead rule is the broker's: an order
submitted at bar ``i`` can fill from bar ``i + 1``):

1. dividends going ex and splits effective on bar ``i`` are applied to the account
   (as ``solvent replay`` does), before the bar trades;
2. the broker processes the bars of the symbols present at ``i`` (fills, marks, then
   the margin check, which may send liquidation orders for bar ``i + 1``);
3. equity, cash, buying power and margin are recorded (exact minor units);
4. the strategy gets ``on_fill`` for each fill leg, ``on_reject`` for each refusal
   (at fill), ``on_margin_call`` for each margin or trading-state transition, then
   ``on_bar``; refusals of orders placed there follow as ``on_reject``.

The loop (``engine.runner``) does steps 2 and 3 through the broker only on bars where
something can happen, and fills the figures of the other bars in afterwards, exactly.

Prices arrive as floats and are snapped to each instrument's tick once for the whole
panel, vectorized, before the loop (half-even, the same rule as
``Instrument.snap_price``); volume is converted to lot steps, rounded down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.accounting.account import Account
from solvent.data.frame import BarData, DataError
from solvent.data.io import from_frame
from solvent.engine.gcpause import fewer_collections
from solvent.engine.runner import Runner
from solvent.engine.runner_state import Progress
from solvent.engine.strategy import Strategy
from solvent.errors import InvalidInputError
from solvent.execution.broker import SimulatedBroker
from solvent.execution.broker_state import order_states_of
from solvent.execution.costs import CommissionModel, SlippageModel
from solvent.execution.matching import FillTiming
from solvent.model.instrument import Instrument, default_instruments
from solvent.model.money import Money, Number, to_decimal
from solvent.profiles import PROFILE, Profile, choose, permissive, resolve_profile
from solvent.results.metrics import compute_metrics
from solvent.results.result import Result, RunRecords
from solvent.risk.monitor import MarginBands

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


#: Cells converted per block in ``_snap_ticks``: its temporaries (two float and two bool
#: buffers of this many cells, 1.25 MB) are reused block after block, where run-sized
#: temporaries cost fresh pages of memory on every run (dearer than the arithmetic).
SNAP_BLOCK = 1 << 17


#: Below this many ticks or lots a table may be held as int32 (``narrow``), with room.
NARROW_LIMIT = 2**31 - 2**20


def _out_type(bound: float, narrow: bool) -> type[np.signedinteger[Any]]:
    """Return int32 for a ``narrow`` table whose cells stay below ``NARROW_LIMIT``, else int64."""
    return np.int32 if narrow and bound < NARROW_LIMIT else np.int64


def _bound(values: FloatArray, unit: FloatArray) -> float:
    """Return the largest ``value / unit`` of the table, NaN (no bar) aside: one pass, no copy."""
    if values.size == 0:
        return 0.0
    return float(np.fmax.reduce(np.fmax.reduce(values, axis=0) / unit, initial=0.0))


def _snap_ticks(
    prices: FloatArray,
    present: npt.NDArray[np.bool_],
    insts: list[Instrument],
    name: str,
    *,
    narrow: bool = False,
) -> IntArray:
    """Return ``prices`` in ticks per column (0 where absent), rounded half-even.

    The float quotient ``price / tick`` decides, except within 1e-6 of a half tick,
    where the exact decimal rule of ``Instrument.snap_price`` is applied cell by cell.
    Near ties are settled (or raise) in row order before any cell that rounds to zero
    ticks is reported. ``narrow``: int32 cells when every price fits (half the memory,
    for tables the engine only reads cell by cell); int64 otherwise.
    """
    t, n = prices.shape
    tick = np.array([float(i.tick_size) for i in insts])
    full = bool(present.all())
    bound = _bound(prices, tick) if narrow else 0.0
    out: IntArray = np.empty((t, n), dtype=_out_type(bound + 1.0, narrow))
    rows = max(1, SNAP_BLOCK // max(n, 1))
    size = min(t, rows) * n
    q_buf, whole_buf = np.empty(size), np.empty(size)
    tie_buf, bad_buf = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    first_bad: tuple[int, int] | None = None
    for r0 in range(0, t, rows):
        r1 = min(t, r0 + rows)
        m = (r1 - r0) * n
        q = q_buf[:m].reshape(r1 - r0, n)
        whole = whole_buf[:m].reshape(r1 - r0, n)
        near_tie = tie_buf[:m].reshape(r1 - r0, n)
        bad = bad_buf[:m].reshape(r1 - r0, n)
        block = prices[r0:r1]
        if full:
            np.divide(block, tick, out=q)
        else:
            q.fill(0.0)  # absent cells (NaN prices) are 0 ticks
            np.divide(block, tick, out=q, where=present[r0:r1])
        np.rint(q, out=whole)
        out[r0:r1] = whole
        # Within 1e-6 of a half tick: ``|q - rint(q)|`` (at most 0.5) above 0.5 - 1e-6.
        np.subtract(q, whole, out=q)
        np.abs(q, out=q)
        np.greater(q, 0.5 - 1e-6, out=near_tie)
        if not full:
            near_tie &= present[r0:r1]
        for r, c in zip(*np.nonzero(near_tie), strict=True):
            out[r0 + r, c] = insts[c].snap_price(float(block[r, c]), f"bar.{name}")
        if first_bad is None:
            np.less_equal(out[r0:r1], 0, out=bad)
            if not full:
                bad &= present[r0:r1]
            if bad.any():
                r, c = (int(x[0]) for x in np.nonzero(bad))
                first_bad = (r0 + r, c)
    if first_bad is not None:
        r, c = first_bad
        raise DataError(
            name, float(prices[r, c]), "rounds to zero ticks", symbol=insts[c].symbol, timestamp=r
        )
    return out


def _volume_lots(volume: FloatArray, insts: list[Instrument], *, narrow: bool = False) -> IntArray:
    """Return ``volume`` in whole lot steps, floored (block by block, as ``_snap_ticks``)."""
    t, n = volume.shape
    lot = np.array([float(i.lot_size) for i in insts])
    bound = _bound(volume, lot) if narrow else 0.0
    out: IntArray = np.empty((t, n), dtype=_out_type(bound + 1.0, narrow))
    rows = max(1, SNAP_BLOCK // max(n, 1))
    q_buf = np.empty(min(t, rows) * n)
    for r0 in range(0, t, rows):
        r1 = min(t, r0 + rows)
        q = q_buf[: (r1 - r0) * n].reshape(r1 - r0, n)
        np.divide(volume[r0:r1], lot, out=q)
        # A hair of tolerance so 300.0 / 0.1 (2999.9999...) counts as 3000 lots.
        q += 1e-9
        np.floor(q, out=q)
        out[r0:r1] = q
    return out


def _last_close(close: FloatArray, present: npt.NDArray[np.bool_]) -> FloatArray:
    """Forward-fill each symbol's close over timestamps where it has no bar (NaN before)."""
    t = close.shape[0]
    idx = np.where(present, np.arange(t)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = close[np.maximum(idx, 0), np.arange(close.shape[1])]
    return np.where(idx >= 0, filled, np.nan)


def backtest(
    strategy: type[Strategy] | Strategy,
    data: BarData | Any,
    *,
    cash: Number,
    profile: str | Profile = "realistic",
    account: str = "margin",
    commission: CommissionModel | Number | None = None,
    slippage: SlippageModel | Number | None = None,
    volume_limit: Number | None = PROFILE,
    partial_fills: bool = PROFILE,
    validation: str = "reject",
    pdt: str | None = PROFILE,
    liquidation: str = "smallest_first_then_losers",
    margin_bands: MarginBands | Mapping[str, Number] | None = None,
    check_extremes: bool = False,
    holidays: Iterable[Any] | None = None,
    day_trading: bool = False,
    fill_timing: str = PROFILE,
    derived_prices: str = PROFILE,
    fixed_fee_per: str = PROFILE,
    short_cash: str = PROFILE,
    initial_margin: Number = PROFILE,
    placement_check: bool = PROFILE,
    unfunded: str = PROFILE,
    zero_volume: str = PROFILE,
    lot_size: Number = 1,
    instruments: Mapping[str, Instrument] | Iterable[Instrument] | None = None,
    progress: Progress | None = None,
    _lazy: bool = True,
    **params: Any,
) -> Result:
    """Run ``strategy`` over ``data`` and return a ``Result``.

    Parameters
    ----------
    strategy
        A ``Strategy`` subclass (instantiated here) or an instance.
    data
        A ``BarData`` panel, or anything ``solvent.data.from_frame`` accepts.
    cash
        Starting cash, exact to the cent.
    profile
        ``"realistic"`` (default), ``"vectorbt"``, ``"backtrader"``, ``"backtesting"``
        (``solvent.profiles``): the values of the settings left at ``PROFILE`` below.
        A setting given explicitly wins over the profile's value.
    account
        ``"margin"`` (Reg T defaults) or ``"cash"`` (no shorts, no leverage).
    commission, slippage, volume_limit, partial_fills, validation
        Passed to ``SimulatedBroker``; ``volume_limit=None`` turns the cap off
        (realistic: 10% of each bar's volume).
    pdt, liquidation, margin_bands, check_extremes, holidays
        Margin health and the Pattern Day Trader rule, passed to ``SimulatedBroker``
        (``docs/margin.md``): PDT policy ``"block"`` (default), ``"downgrade"`` or
        ``None``; liquidation policy; band thresholds; check at each bar's adverse
        extreme instead of its close; market holidays for the PDT window.
    day_trading
        The account is a pattern day trader's: during a session its buying power is
        day-trade buying power, 4 × (prior-close NLV − prior-close maintenance margin),
        while prior-close equity is at least $25,000 (margin accounts only).
    fill_timing
        ``"next_bar"`` (default): an order placed at bar ``t`` fills from bar ``t + 1``.
        ``"same_bar_close"``: it fills at bar ``t``'s close, which the strategy has
        already seen: **look-ahead**, for comparisons with engines that fill there
        (VectorBT's default). The result's settings and report say so.
    derived_prices
        ``"tick"`` (realistic): every price is on the instruments' cent tick, and
        slippage rounds adverse to it. ``"exact"``: prices sit on a 0.000001 grid, so
        ``price × (1 ± bps)`` and percentage stop levels stay exact (the peers' floats).
    fixed_fee_per
        ``"order"`` (realistic) or ``"leg"``: a flip's legs each pay a fixed fee or
        minimum (``SimulatedBroker``).
    short_cash
        ``"reg_t"`` (realistic) or ``"credit"``: short proceeds are spendable cash and
        opening a short is not checked (permissive).
    initial_margin
        The initial-margin rate of every position, long and short, and of buying power
        (realistic: Reg T 0.5; 1 = no leverage, backtesting.py's ``margin=1``).
    placement_check, unfunded, zero_volume
        ``SimulatedBroker`` settings: check and reserve entries when placed (realistic)
        or only at the fill; an entry the fill cannot fund is left working
        (``"defer"``, realistic) or cancelled; a zero-volume bar fills nothing
        (``"defer"``, realistic) or as an uncapped bar (``"fill"``, permissive).
    lot_size
        The quantity step of every symbol (default 1 share; ``0.1`` for fractions).
    instruments
        Per-symbol ``Instrument`` objects (a mapping symbol → instrument, or a list):
        tick, lot, multiplier, margin rates, shortability, borrow fee. A symbol given
        here trades exactly as its instrument says (``derived_prices``,
        ``initial_margin`` and ``lot_size`` then apply only to the other symbols); a
        symbol that is not in the data raises ``InvalidInputError``.
    progress
        Called as ``progress(bars_done, bars_total)`` about 200 times during the run
        (``solvent backtest`` draws its progress bar with it).
    **params
        Strategy parameter overrides for this run; unknown names raise
        ``ParameterError``.

    Notes
    -----
    A symbol without an entry in ``instruments`` trades as a US equity with default
    settings (tick 0.01, lot 1, Reg T margin) but for ``derived_prices``,
    ``initial_margin`` and ``lot_size``. The
    result's ``settings`` record the profile, every setting in force, and under
    ``"permissive"`` those that turn a protection off.
    """
    prof = resolve_profile(profile)
    chosen = choose(
        prof,
        {
            "fill_timing": fill_timing,
            "derived_prices": derived_prices,
            "fixed_fee_per": fixed_fee_per,
            "short_cash": short_cash,
            "initial_margin": initial_margin,
            "placement_check": placement_check,
            "partial_fills": partial_fills,
            "unfunded": unfunded,
            "zero_volume": zero_volume,
            "volume_limit": volume_limit,
            "pdt": pdt,
        },
    )
    strat = strategy(**params) if isinstance(strategy, type) else strategy
    if not isinstance(strategy, type):
        strat.set_params(params)
    panel = data if isinstance(data, BarData) else from_frame(data)
    symbols = panel.symbols
    t = panel.shape[0]
    if t == 0:
        raise DataError("timestamp", None, "the panel has no bars")
    insts = default_instruments(symbols, chosen["derived_prices"], chosen["initial_margin"], lot_size)
    custom = _given_instruments(instruments, symbols)
    insts = [custom.get(i.symbol, i) for i in insts]
    acct = Account(
        cash,
        kind=account,
        instruments=insts,
        initial_margin=chosen["initial_margin"],
        day_trading=day_trading,
    )
    broker = SimulatedBroker(
        acct,
        commission=commission,
        slippage=slippage,
        volume_limit=chosen["volume_limit"],
        partial_fills=chosen["partial_fills"],
        validation=validation,
        pdt=chosen["pdt"],
        liquidation=liquidation,
        margin_bands=margin_bands,
        check_extremes=check_extremes,
        holidays=holidays,
        fill_timing=chosen["fill_timing"],
        zero_volume=chosen["zero_volume"],
        short_cash=chosen["short_cash"],
        fixed_fee_per=chosen["fixed_fee_per"],
        placement_check=chosen["placement_check"],
        unfunded=chosen["unfunded"],
    )

    # Everything the loop needs, computed once and vectorized.
    present = panel.present
    # Highs, lows and volumes are read cell by cell (a bar to match): int32 when they fit.
    o_t, h_t, l_t, c_t = (
        _snap_ticks(getattr(panel, k), present, insts, k, narrow=k in ("high", "low"))
        for k in ("open", "high", "low", "close")
    )
    v_t = _volume_lots(panel.volume, insts, narrow=True)
    runner = Runner(strat, panel, broker, insts, (o_t, h_t, l_t, c_t, v_t), lazy=_lazy, progress=progress)
    del o_t, h_t, l_t, c_t, v_t  # the runner's now: it lets them go when the run is over
    runner.run()
    return _result(strat, panel, acct, broker, insts, runner, prof.name, chosen)


def _given_instruments(
    given: Mapping[str, Instrument] | Iterable[Instrument] | None, symbols: Iterable[str]
) -> dict[str, Instrument]:
    """Return the user's instruments by symbol, checked against the data's symbols."""
    if given is None:
        return {}
    known = set(symbols)
    items = list(given.items()) if isinstance(given, Mapping) else [(None, i) for i in given]
    out: dict[str, Instrument] = {}
    for key, inst in items:
        if not isinstance(inst, Instrument):
            raise InvalidInputError("instruments", inst, "expected Instrument objects")
        if key is not None and key != inst.symbol:
            raise InvalidInputError(f"instruments[{key!r}]", inst.symbol, "is keyed under another symbol")
        if inst.symbol not in known:
            raise InvalidInputError("instruments", inst.symbol, "is not a symbol of the data")
        if inst.symbol in out:
            raise InvalidInputError("instruments", inst.symbol, "is given twice")
        out[inst.symbol] = inst
    return out


def _result(
    strat: Strategy,
    panel: BarData,
    acct: Account,
    broker: SimulatedBroker,
    insts: list[Instrument],
    runner: Runner,
    profile: str,
    chosen: Mapping[str, Any],
) -> Result:
    with fewer_collections():  # the frames read every record (``gcpause``)
        return _build_result(strat, panel, acct, broker, insts, runner, profile, chosen)


def _build_result(
    strat: Strategy,
    panel: BarData,
    acct: Account,
    broker: SimulatedBroker,
    insts: list[Instrument],
    runner: Runner,
    profile: str,
    chosen: Mapping[str, Any],
) -> Result:
    equity, cash_arr, bp, im, mm = runner.equity, runner.cash, runner.bp, runner.im, runner.mm
    traded, lots_hist = runner.traded, runner.lots_hist
    scale = 10.0**acct.currency.digits
    # ``copy=False``: the panel's stamps as they are (a run-sized copy is fresh memory).
    index = pd.DatetimeIndex(panel.timestamps, name="timestamp", copy=False)
    # ``copy=False``: the quotient is a new array already (pandas would copy it again).
    eq = pd.Series(equity / scale, index=index, name="equity", copy=False)
    unit = np.array([float(i.lot_size * i.multiplier) for i in insts])
    present = panel.present
    marks = panel.close if present.all() else _last_close(panel.close, present)
    # ``nansum(abs(lots × unit × marks))`` in one buffer (NaN marks come before a
    # symbol's first bar, where it holds nothing): a frame-sized array, not four.
    value = lots_hist * unit
    value *= marks
    np.abs(value, out=value)
    np.nan_to_num(value, copy=False)
    # One symbol: its column is the sum (no second run-sized array).
    gross = value[:, 0] if value.shape[1] == 1 else value.sum(axis=1)
    snap = acct.snapshot()
    metrics = compute_metrics(
        eq,
        trades=acct.trades,
        rejections=broker.rejections,
        commission=snap.commission,
        traded_value=traded,
        gross_exposure=gross,
        max_capital_used=snap.max_capital_used,
    )
    vl = broker.volume_limit
    settings: dict[str, Any] = {
        "strategy": type(strat).__name__,
        "params": strat.params,
        "cash": snap.starting_cash.amount,
        "account": acct.kind.value,
        "validation": broker.validation.value,
        "validated": broker.validation.value != "off",
        "partial_fills": broker.partial_fills,
        "volume_limit": None if vl is None else Decimal(vl.numerator) / vl.denominator,
        "commission": repr(broker.commission_model),
        "slippage": repr(broker.slippage_model),
        "pdt": None if acct.pdt_policy is None else acct.pdt_policy.value,
        "liquidation": broker.liquidation_policy.value,
        "margin_bands": broker.margin_bands.to_dict(),
        "check_extremes": broker.check_extremes,
        "day_trading": acct.day_trading,
        "trading_state": broker.trading_state.value,
        "halted": broker.halt_reason,
        "fill_timing": broker.fill_timing.value,
        # Same-bar fills trade at a close the strategy has already seen.
        "look_ahead": broker.fill_timing is FillTiming.SAME_BAR_CLOSE,
        "profile": profile,
        "derived_prices": chosen["derived_prices"],
        "fixed_fee_per": broker.fixed_fee_per.value,
        "short_cash": broker.short_cash.value,
        "initial_margin": to_decimal(chosen["initial_margin"], "initial_margin"),
        "placement_check": broker.placement_check,
        "unfunded": broker.unfunded.value,
        "zero_volume": broker.zero_volume.value,
        "instruments": _describe_instruments(insts),
        "data": dict(panel.meta),
    }
    # The settings that turn a protection off (look-ahead, unchecked shorts, ...).
    settings["permissive"] = permissive(settings)
    margin_minor = {"buying_power": bp, "initial_margin": im, "maintenance_margin": mm}
    final = Money(int(equity[-1]), acct.currency)
    # ``cash``, ``margin`` and ``positions`` frames are built on first read (``Result``).
    return Result(
        equity=eq,
        equity_minor=equity,
        cash_minor=cash_arr,
        margin_minor=margin_minor,
        position_lots=(lots_hist, np.array([float(i.lot_size) for i in insts]), tuple(panel.symbols)),
        # The orders' raw figures now (the broker is freed with the run), the table on first read.
        _order_states=partial(order_states_of, *broker.order_facts()),
        # The records as they are (lists the run is done with), the frames on first read.
        _records=RunRecords(broker.fills, acct.trades, broker.rejections, broker.margin_events),
        metrics=metrics,
        settings=settings,
        final_equity=final,
        account=acct,
    )


def _describe_instruments(insts: list[Instrument]) -> str:
    """Summarize the run's instruments for the settings (one line per distinct kind)."""
    kinds: dict[str, list[str]] = {}
    for i in insts:
        key = (
            f"{i.asset_class.value} tick {i.tick_size}, lot {i.lot_size}, multiplier {i.multiplier}, "
            f"IM {i.initial_margin_long}/{i.initial_margin_short}"
        )
        kinds.setdefault(key, []).append(i.symbol)
    if len(kinds) == 1:
        return next(iter(kinds))
    return "; ".join(f"{', '.join(syms)}: {key}" for key, syms in kinds.items())
