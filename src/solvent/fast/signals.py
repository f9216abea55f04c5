"""``from_signals`` and ``from_targets``: the fast path's public entry points.

Both validate and lower their inputs (``_inputs``, ``_costs``), run the compiled loop
once (``_loop.run_nb``) and wrap what it returns in a ``FastResult``. The semantics are
those of ``solvent.backtest`` running the twin strategies in ``solvent.fast.twin``
(``SignalStrategy``, ``TargetStrategy``) through ``SimulatedBroker``; docs/fast.md
states them and the differential tests hold the two engines to identical fills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from solvent.accounting import rules
from solvent.accounting.account import AccountKind
from solvent.data.frame import BarData
from solvent.errors import InvalidInputError
from solvent.execution.costs import CommissionModel, SlippageModel, resolve_commission, resolve_slippage
from solvent.fast import _inputs as inp
from solvent.fast import _layout as ly
from solvent.fast import decide
from solvent.fast._costs import NotLoweredError, lower_commission, lower_slippage
from solvent.fast._loop import generic_kernel, kernel_for
from solvent.fast._settings import PROFILE, Settings, check_pdt, resolve
from solvent.fast.result import FastResult
from solvent.model.instrument import Instrument
from solvent.model.money import USD, Number, to_minor
from solvent.profiles import Profile
from solvent.risk.monitor import MarginBands

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

Instruments = Mapping[str, Instrument] | Sequence[Instrument] | None

#: The margin monitor's default bands (immutable; built once, its checks cost 0.1 ms a call).
_BANDS = MarginBands()


def _params(
    *,
    cash: Number,
    account: str,
    slippage: SlippageModel | Number | None,
    settings: Settings,
    mode: int,
) -> I64:
    cash_minor = to_minor(cash, USD, "cash")
    if cash_minor < 0 or cash_minor > inp.MAX_CASH_MINOR:
        raise InvalidInputError("cash", cash, "must be between 0 and 10,000,000,000")
    try:
        kind = AccountKind(account)
    except ValueError:
        raise InvalidInputError("account", account, 'must be "cash" or "margin"') from None
    prm = np.zeros(ly.NP, dtype=np.int64)
    prm[ly.P_CASH] = cash_minor
    prm[ly.P_KIND_CASH] = int(kind is AccountKind.CASH)
    # Buying power is quoted at 100% in a cash account, at the initial-margin rate
    # (Reg T 50% by default) in a margin account.
    prm[ly.P_BASE] = rules.RATE_SCALE if kind is AccountKind.CASH else settings.base_ppm
    prm[ly.P_VOL_NUM], prm[ly.P_VOL_DEN] = inp.volume_limit_of(settings.volume_limit)
    settings.write(prm)
    prm[ly.P_SLIP_NUM], prm[ly.P_SLIP_DEN] = lower_slippage(slippage)
    prm[ly.P_MODE] = mode
    prm[ly.P_PCT_NUM] = 1
    prm[ly.P_PCT_DEN] = 1
    bands = _BANDS
    prm[ly.P_AT_RISK] = bands.at_risk_ppm
    prm[ly.P_CALL] = bands.margin_call_ppm
    prm[ly.P_LIQUIDATING] = bands.liquidating_ppm
    return prm


def _run(
    mkt: inp.Market,
    cols: inp.Columns,
    lay: inp.Layout,
    prm: I64,
    cm: I64,
    size_lots: I64,
    sig: tuple[B, B, B, B],
    weights: I64,
    rebalance: B,
    capacity: int,
    settings: dict[str, Any],
) -> FastResult:
    """Run the compiled loop (twice only if the record buffers were too small)."""
    t = len(mkt.index)
    n_acct = len(lay.labels)
    m = len(cols.symbols)
    # Inputs go in read-only and C-contiguous, outputs writable: one array type per
    # argument, so numba compiles (and caches) the loop once for every call.
    ro = inp.readonly
    sig = (ro(sig[0]), ro(sig[1]), ro(sig[2]), ro(sig[3]))
    weights, rebalance = ro(weights), ro(rebalance)
    cnt = np.zeros(ly.NCNT, dtype=np.int64)
    # The loop's working tables, sized for the largest account (the loop allocates
    # nothing: every allocation inside it would be one more function to compile).
    nmax = max(1, int(np.diff(lay.start).max()))
    work = (
        np.zeros((nmax, ly.NY), dtype=np.int64),  # ys: the account's symbols
        np.zeros((2 * nmax, ly.NO), dtype=np.int64),  # od: working orders
        np.zeros(2 * nmax, dtype=np.int64),  # olist: their rows, in placement order
        np.zeros(2 * nmax, dtype=np.int64),  # todo: a bar's orders
        np.zeros(6, dtype=np.int64),  # leg: one fill leg
        np.zeros(ly.NA, dtype=np.int64),  # acc: the account's scalars
    )
    fill_cap = rej_cap = max(64, capacity)
    exact = False
    run = kernel_for(prm, cm, mkt.dividends)
    while True:
        equity = np.empty((n_acct, t), dtype=np.int64)  # the loop writes every cell
        # The loop writes every field of each record it counts, and only counted rows are
        # kept: no zero-fill (pages of a generous buffer the loop never reaches are never
        # touched).
        fb = np.empty((fill_cap, ly.NF), dtype=np.int64)
        rb = np.empty((rej_cap, ly.NR), dtype=np.int64)
        final_cash = np.zeros(n_acct, dtype=np.int64)
        final_qty = np.zeros(m, dtype=np.int64)
        first_call = np.zeros(n_acct, dtype=np.int64)
        cnt[:] = 0
        run(
            mkt.open, mkt.high, mkt.low, mkt.close, mkt.volume, mkt.tick, mkt.lot, mkt.present,
            *sig, weights, rebalance,
            lay.start, lay.slots, cols.data_col, mkt.inst, mkt.dividends, size_lots, cm, prm,
            equity, fb, rb, cnt, final_cash, final_qty, first_call, *work,
        )  # fmt: skip
        if cnt[ly.N_OVERFLOW]:
            bar = mkt.index[int(cnt[ly.N_OVERFLOW]) - 1]
            raise NotLoweredError(
                f"weights @ {bar}",
                "NLV x weight",
                "too large for the fast path's 64-bit arithmetic (see docs/fast.md); use solvent.backtest",
            )
        if cnt[ly.N_GENERIC]:  # a lean kernel met what it leaves out (``_spec.LONG_SPEC``)
            run = generic_kernel(prm)
            continue
        if cnt[ly.N_UNSETTLED]:
            if exact:  # pragma: no cover - exact ticks are whole and positive
                raise AssertionError("a price in exact ticks could not be read")
            mkt = inp.exact(mkt)  # a price near a half tick: convert exactly, run again
            exact = True
            continue
        if cnt[ly.N_FILLS] <= fill_cap and cnt[ly.N_REJ] <= rej_cap:
            break
        fill_cap = max(fill_cap, int(cnt[ly.N_FILLS]))
        rej_cap = max(rej_cap, int(cnt[ly.N_REJ]))
    insts = tuple(mkt.instruments[j] for j in cols.data_col.tolist())
    return FastResult(
        equity_minor=equity.T,
        cash_minor=final_cash,
        positions_lots=final_qty,
        first_call=first_call,
        fill_records=fb[: cnt[ly.N_FILLS]],
        rejection_records=rb[: cnt[ly.N_REJ]],
        index=mkt.index,
        columns=lay.labels,
        input_columns=cols.labels,
        slot_symbols=cols.symbols,
        slot_instruments=insts,
        settings=settings,
    )


def _settings(
    prm: I64,
    settings: Settings,
    commission: object,
    slippage: object,
    instruments: Instruments,
    extra: dict[str, Any],
) -> dict[str, Any]:
    vl = None if prm[ly.P_VOL_DEN] == 0 else Decimal(int(prm[ly.P_VOL_NUM])) / int(prm[ly.P_VOL_DEN])
    base = {
        "engine": "solvent.fast",
        "cash": Decimal(int(prm[ly.P_CASH])).scaleb(-2),
        "account": "cash" if prm[ly.P_KIND_CASH] else "margin",
        "validation": "reject",
        "volume_limit": vl,
        "commission": repr(resolve_commission(commission)),  # type: ignore[arg-type]
        "slippage": repr(resolve_slippage(slippage)),  # type: ignore[arg-type]
        **extra,
    }
    return settings.record(base, instruments is not None)


_SETTINGS_DOC = """
    profile
        ``"realistic"`` (default), ``"vectorbt"``, ``"backtrader"`` or ``"backtesting"``
        (``solvent.profiles``): the value of every setting left at ``PROFILE`` below, as
        in ``solvent.backtest``. A setting given explicitly wins over the profile's.
    fill_timing, derived_prices, fixed_fee_per, short_cash, initial_margin,
    placement_check, partial_fills, unfunded, zero_volume, lot_size
        As in ``solvent.backtest`` (docs/parity.md has what each does): same-bar close
        fills (look-ahead), prices on an exact 0.000001 grid, a flip's fixed fee per
        leg, credited short proceeds, the initial-margin rate, no placement check,
        scale-down or refusal, cancelling what the fill cannot fund, fills on
        zero-volume bars, the quantity step. ``derived_prices``, ``initial_margin`` and
        ``lot_size`` make the instrument of every symbol without one in
        ``instruments``; ``initial_margin`` is also the rate buying power is quoted at.
    volume_limit
        Largest share of a bar's volume that fills per symbol and bar. Not taken from
        the profile: ``None`` (the default here, unlike ``solvent.backtest``'s
        realistic 10%) means no cap; pass ``0.1`` for the realistic profile's cap.
    pdt
        The Pattern Day Trader policy. The fast path does not apply the rule:
        ``None`` (default; also ``"off"``) turns it off; ``"block"`` and
        ``"downgrade"`` are accepted where no day trade can happen (a cash account, or
        next-bar fills with no two bars on one date), where they change nothing, and
        refused with ``NotLoweredError`` elsewhere."""


def from_signals(
    data: BarData | Any,
    entries: Any,
    exits: Any = None,
    *,
    short_entries: Any = None,
    short_exits: Any = None,
    size: str | Number = "all",
    cash: Number,
    profile: str | Profile = "realistic",
    account: str = "margin",
    commission: CommissionModel | Number | None = None,
    slippage: SlippageModel | Number | None = None,
    volume_limit: Number | None = None,
    partial_fills: bool = PROFILE,
    group: bool | None = None,
    instruments: Instruments = None,
    fill_timing: str = PROFILE,
    derived_prices: str = PROFILE,
    fixed_fee_per: str = PROFILE,
    short_cash: str = PROFILE,
    initial_margin: Number = PROFILE,
    placement_check: bool = PROFILE,
    unfunded: str = PROFILE,
    zero_volume: str = PROFILE,
    lot_size: Number = 1,
    pdt: str | None = None,
) -> FastResult:
    """Backtest entry/exit signals in the compiled loop, with the event engine's rules.

    A signal seen on bar ``t`` places a market order that fills from bar ``t + 1``'s
    open (or at bar ``t``'s close with ``fill_timing="same_bar_close"``), through the
    same checks, costs and ledger as ``solvent.backtest``: exits before entries, flips
    as a close and an entry, zero-volume and missing bars fill nothing (the order
    waits), an optional volume cap, entries scaled down to what buying power funds (or
    refused), shorts only in margin accounts, exact money.

    Parameters
    ----------
    data
        A ``BarData`` panel, or anything ``solvent.data.from_frame`` accepts.
    entries, exits, short_entries, short_exits
        Boolean DataFrames indexed like the data, one column per symbol, or with outer
        column levels for parameter combinations (columns ``(combo..., symbol)``);
        ``exits`` and the short signals may also have one column per symbol, shared by
        every combination. A boolean numpy array shaped ``(timestamps, symbols)`` in the
        data's symbol order is accepted too. ``None``: no such signal.
    size
        ``"all"`` (default): the cash the account would hold after closing the symbol's
        position, spent at the fill price (the most lots whose notional plus commission
        fit, like ``ctx.order_value``); ``"50%"``: that fraction of it; a number: that
        many units per entry (on each instrument's lot grid).
    cash
        Starting cash of each account, exact to the cent.
    account
        ``"margin"`` (the default as in ``solvent.backtest``) or ``"cash"`` (no shorts:
        a short entry is refused with ``SHORTING_NOT_ALLOWED``).
    commission, slippage
        Models from ``solvent.execution.costs`` or a number (a fraction of traded value
        / price). Lowered: ``NoCommission``, ``PercentOfValue``, ``BasisPoints``,
        ``PerShare``, ``FixedPerOrder``, ``Combined``; ``NoSlippage``, ``FixedBps``,
        ``HalfSpread``. Others raise ``NotLoweredError``.
    group
        ``None``/``False`` (default): every input column is its own account with
        ``cash``. ``True``: the columns of one combination (all columns, without outer
        levels) share one account.
    instruments
        ``Instrument`` per symbol (tick, lot, multiplier, margin rates, shortable),
        used as given; the others are US equities under the settings below. Futures
        and borrow fees are not lowered.{settings_doc}

    Returns
    -------
    FastResult
        Equity per account, fills, refusals, ``stats()`` and ``settings`` (the profile,
        every setting, and under ``permissive`` those that turn a protection off).
    """
    st = resolve(
        profile, fill_timing=fill_timing, derived_prices=derived_prices, fixed_fee_per=fixed_fee_per,
        short_cash=short_cash, initial_margin=initial_margin, placement_check=placement_check,
        partial_fills=partial_fills, unfunded=unfunded, zero_volume=zero_volume,
        volume_limit=volume_limit, pdt=pdt, lot_size=lot_size,
    )  # fmt: skip
    mkt = inp.market(data, instruments, st.default_instruments())
    le, cols = inp.signals(entries, "entries", mkt)
    inp.refuse_splits(mkt, cols)
    t = len(mkt.index)
    dummy = np.zeros((1, 1), dtype=np.bool_)
    lx = se = sx = dummy
    if exits is not None:
        lx, _ = inp.signals(exits, "exits", mkt, cols)
    if short_entries is not None:
        se, _ = inp.signals(short_entries, "short_entries", mkt, cols)
    if short_exits is not None:
        sx, _ = inp.signals(short_exits, "short_exits", mkt, cols)
    has_short = short_entries is not None or short_exits is not None
    if has_short:
        se = se if short_entries is not None else np.zeros_like(le)
        sx = sx if short_exits is not None else np.zeros_like(le)
    sz = inp.size_of(size, mkt)
    prm = _params(cash=cash, account=account, slippage=slippage, settings=st, mode=ly.MODE_SIGNALS)
    check_pdt(st, bool(prm[ly.P_KIND_CASH]), mkt.index)
    prm[ly.P_SIZE_KIND] = sz.kind
    prm[ly.P_PCT_NUM] = sz.pct.numerator
    prm[ly.P_PCT_DEN] = sz.pct.denominator
    prm[ly.P_HAS_EXITS] = int(exits is not None)
    prm[ly.P_HAS_SHORT] = int(has_short)
    cm = lower_commission(commission, mkt.instruments)
    lay = inp.layout(cols, bool(group))
    # ``count_nonzero``: a boolean ``sum`` goes through an integer reduction, 8x slower.
    signal_count = int(np.count_nonzero(le)) + (int(np.count_nonzero(lx)) if exits is not None else 0)
    if has_short:
        signal_count += int(np.count_nonzero(se)) + int(np.count_nonzero(sx))
    extra = {"size": sz.text, "group": bool(group), "bars": t}
    settings = _settings(prm, st, commission, slippage, instruments, extra)
    return _run(
        mkt, cols, lay, prm, cm, sz.lots, (le, lx, se, sx), np.zeros((1, 1), dtype=np.int64),
        np.zeros((1, 1), dtype=np.bool_), 3 * signal_count + 16, settings,
    )  # fmt: skip


def _rebalance_mask(rebalance: str | Any, w: I64, lay: inp.Layout, t: int) -> B:
    """Return ``(A, T)``: on which bars each account trades to its targets."""
    out = np.zeros((len(lay.labels), t), dtype=np.bool_)
    for a in range(len(lay.labels)):
        rows = w[lay.slots[lay.start[a] : lay.start[a + 1]]]
        out[a] = decide.rebalance_bars(rows.T, rebalance)
    return out


def from_targets(
    data: BarData | Any,
    weights: Any,
    *,
    cash: Number,
    profile: str | Profile = "realistic",
    account: str = "margin",
    commission: CommissionModel | Number | None = None,
    slippage: SlippageModel | Number | None = None,
    volume_limit: Number | None = None,
    partial_fills: bool = PROFILE,
    group: bool = True,
    rebalance: str | Any = "change",
    instruments: Instruments = None,
    fill_timing: str = PROFILE,
    derived_prices: str = PROFILE,
    fixed_fee_per: str = PROFILE,
    short_cash: str = PROFILE,
    initial_margin: Number = PROFILE,
    placement_check: bool = PROFILE,
    unfunded: str = PROFILE,
    zero_volume: str = PROFILE,
    lot_size: Number = 1,
    pdt: str | None = None,
) -> FastResult:
    """Backtest target portfolio weights in the compiled loop, with the event engine's rules.

    On a rebalance bar ``t`` each symbol with a bar is traded toward ``weight × NLV``
    at bar ``t``'s close, in whole lots truncated toward zero (``order_target_percent``
    in integers): its working orders are cancelled, then orders that reduce positions
    are placed before those that add, and all fill from bar ``t + 1`` (or at bar
    ``t``'s close with ``fill_timing="same_bar_close"``) under the same rules as
    ``from_signals``.

    Parameters
    ----------
    data
        A ``BarData`` panel, or anything ``solvent.data.from_frame`` accepts.
    weights
        Numeric DataFrame indexed like the data: a fraction of NLV per symbol (negative:
        short), one column per symbol or ``(combo..., symbol)``. Weights are rounded
        half-even to 1 ppm; NaN is refused (a weight is a target, not "no change").
    cash, account, commission, slippage, instruments
        As in ``from_signals``.
    group
        ``True`` (default): the columns of a combination share one account (a
        portfolio); ``False``: every column is its own account.
    rebalance
        ``"change"`` (default): on the first bar with a non-zero weight and whenever an
        account's row of weights changes; ``"always"``: every bar; or one boolean per bar.{settings_doc}

    Returns
    -------
    FastResult
    """
    st = resolve(
        profile, fill_timing=fill_timing, derived_prices=derived_prices, fixed_fee_per=fixed_fee_per,
        short_cash=short_cash, initial_margin=initial_margin, placement_check=placement_check,
        partial_fills=partial_fills, unfunded=unfunded, zero_volume=zero_volume,
        volume_limit=volume_limit, pdt=pdt, lot_size=lot_size,
    )  # fmt: skip
    mkt = inp.market(data, instruments, st.default_instruments())
    w, cols = inp.weights(weights, mkt)
    inp.refuse_splits(mkt, cols)
    prm = _params(cash=cash, account=account, slippage=slippage, settings=st, mode=ly.MODE_TARGETS)
    check_pdt(st, bool(prm[ly.P_KIND_CASH]), mkt.index)
    cm = lower_commission(commission, mkt.instruments)
    lay = inp.layout(cols, bool(group))
    mask = _rebalance_mask(rebalance, w, lay, len(mkt.index))
    dummy = np.zeros((1, 1), dtype=np.bool_)
    label = rebalance if isinstance(rebalance, str) else "mask"
    extra = {"group": bool(group), "rebalance": label, "bars": len(mkt.index)}
    settings = _settings(prm, st, commission, slippage, instruments, extra)
    capacity = 3 * int(mask.sum()) * max(1, int(np.diff(lay.start).max())) + 16
    return _run(
        mkt, cols, lay, prm, cm, np.zeros(len(mkt.instruments), dtype=np.int64),
        (dummy, dummy, dummy, dummy), w, mask, capacity, settings,
    )  # fmt: skip


for _f in (from_signals, from_targets):
    if _f.__doc__ is not None:  # under ``python -OO`` there are no docstrings
        _f.__doc__ = _f.__doc__.replace("{settings_doc}", _SETTINGS_DOC)
