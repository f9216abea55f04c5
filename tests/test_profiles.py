"""Profiles (``solvent.profiles``) and the ordinary settings they bundle, each on its own.

Broker settings are tested on ``SimulatedBroker`` with hand-built bars (``tests/_bars.py``,
daily, cent prices): an order submitted at ``day(i)`` fills from ``day(i + 1)``. Engine
settings (``derived_prices``, ``initial_margin``, ``lot_size``) and the profile plumbing
go through ``solvent.backtest`` on a few bars.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import solvent
from _bars import bar, day, flat
from solvent import Account, InvalidInputError, ReasonCode
from solvent.cli import main
from solvent.execution.broker import SimulatedBroker
from solvent.execution.costs import Combined, FixedBps, FixedPerOrder, PercentOfValue
from solvent.model.orders import OrderStatus
from solvent.profiles import PROFILES, WATERFALL_ORDER, Profile, diff, permissive, resolve_profile


def D(x: str | int) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(x)


def broker(cash: int = 10_000, *, kind: str = "margin", **kwargs: Any) -> tuple[Account, SimulatedBroker]:
    """An account and a broker that has seen A and B at 100.00 (``day(0)``)."""
    acct = Account(cash, kind=kind, instruments=["A", "B"])
    b = SimulatedBroker(acct, volume_limit=None, pdt=None, **kwargs)
    b.on_bar(day(0), {s: flat(day(0), "100") for s in ("A", "B")})
    return acct, b


# -- the profiles --------------------------------------------------------------------------


def test_resolve_profile_unknown_name_raises_naming_the_valid_names() -> None:
    with pytest.raises(InvalidInputError, match="'realistic', 'vectorbt', 'backtrader', 'backtesting'") as e:
        resolve_profile("zipline")
    assert e.value.field == "profile"


def test_every_profile_sets_every_waterfall_setting_and_is_read_only() -> None:
    assert list(PROFILES) == ["realistic", "vectorbt", "backtrader", "backtesting"]
    for name, prof in PROFILES.items():
        assert resolve_profile(name) is prof
        assert set(WATERFALL_ORDER) <= set(prof.settings)
        with pytest.raises(TypeError):
            prof.settings["volume_limit"] = None  # type: ignore[index]
    with pytest.raises(InvalidInputError, match="settings missing"):
        Profile("partial", "lacks most settings", {"fill_timing": "next_bar"})


def test_realistic_profile_is_the_backtest_defaults() -> None:
    res = solvent.backtest(solvent.Strategy, _bars(3), cash=1_000)
    realistic = PROFILES["realistic"].settings
    assert res.settings["profile"] == "realistic"
    assert {k: res.settings[k] for k in WATERFALL_ORDER} == dict(realistic)
    assert res.settings["permissive"] == []


def test_diff_lists_the_differing_settings_in_waterfall_order() -> None:
    assert diff("realistic", "realistic") == []
    assert diff("backtesting", "realistic") == [
        "derived_prices",
        "fixed_fee_per",
        "initial_margin",
        "placement_check",
        "partial_fills",
        "unfunded",
        "zero_volume",
        "volume_limit",
        "pdt",
    ]
    # VectorBT charges a fixed fee once per order, as solvent does; it fills at the close.
    assert diff(PROFILES["vectorbt"], "realistic")[:2] == ["fill_timing", "derived_prices"]
    assert "fixed_fee_per" not in diff("vectorbt", "realistic")
    assert diff("vectorbt", "backtrader") == [
        "fill_timing",
        "fixed_fee_per",
        "placement_check",
        "partial_fills",
    ]


def test_permissive_names_each_protection_turned_off() -> None:
    assert PROFILES["realistic"].permissive() == []
    assert PROFILES["vectorbt"].permissive() == [
        "fill_timing",
        "short_cash",
        "placement_check",
        "zero_volume",
        "volume_limit",
        "pdt",
    ]
    # backtesting.py margins every position at 100%: stricter than Reg T, not permissive.
    assert "initial_margin" not in PROFILES["backtesting"].permissive()
    assert permissive({"initial_margin": D("0.25"), "validation": "off"}) == ["initial_margin", "validation"]


# -- backtest plumbing ---------------------------------------------------------------------


def _bars(n: int, volume: float = 1_000_000.0, **cols: list[float]) -> dict[str, pd.DataFrame]:
    """One symbol ``X`` flat at 100.00 for ``n`` business days, but for ``cols``."""
    idx = pd.bdate_range("2024-01-02", periods=n, name="timestamp")
    frame = pd.DataFrame(
        {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": volume}, index=idx
    )
    for k, v in cols.items():
        frame[k] = v
    return {"X": frame}


class BuyAt(solvent.Strategy):
    """Buy ``qty`` after bar ``at`` (market, or a stop-less limit when ``limit`` is set)."""

    qty = "100"
    at = 0

    def on_bar(self, ctx: solvent.Context) -> None:
        if ctx.i == self.at:
            ctx.order(ctx.symbols[0], Decimal(self.qty))


def test_explicit_setting_overrides_the_profile_and_settings_record_it() -> None:
    res = solvent.backtest(BuyAt, _bars(3), cash=100_000, profile="backtrader", volume_limit=D("0.1"))
    s = res.settings
    assert s["profile"] == "backtrader"
    assert s["volume_limit"] == D("0.1")  # given
    assert (s["short_cash"], s["fixed_fee_per"], s["pdt"]) == ("credit", "leg", None)  # the profile's
    assert "volume_limit" not in s["permissive"]
    assert s["permissive"] == ["short_cash", "zero_volume", "pdt"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("zero_volume", "sometimes"),
        ("short_cash", "free"),
        ("fixed_fee_per", "trade"),
        ("unfunded", "later"),
        ("derived_prices", "float"),
        ("placement_check", "yes"),
        ("initial_margin", "1.5"),
    ],
)
def test_bad_setting_raises_a_typed_error_naming_it(setting: str, value: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        solvent.backtest(BuyAt, _bars(3), cash=100_000, **{setting: value})
    assert e.value.field == setting


def test_derived_prices_exact_keeps_slippage_off_the_cent_grid() -> None:
    # Open 100.01, 10 bps: 100.01 × 1.001 = 100.11001 exactly; on the cent tick it is
    # rounded adverse to 100.12.
    frame = _bars(3, open=[100.0, 100.01, 100.0], high=[100.0, 100.5, 100.0])
    prices = {}
    for mode in ("exact", "tick"):
        res = solvent.backtest(BuyAt, frame, cash=100_000, slippage=FixedBps(10), derived_prices=mode)
        (price,) = res.fills["price"]
        prices[mode] = price
        assert res.settings["derived_prices"] == mode
    assert prices == {"exact": D("100.11001"), "tick": D("100.12")}


def test_initial_margin_one_allows_no_leverage() -> None:
    # 10,000 in a margin account, a buy of 150 at 100: Reg T (50%) affords it; with
    # initial_margin=1 buying power is the 10,000 and the order is cut to 100 shares.
    reg_t = solvent.backtest(BuyAt, _bars(3), cash=10_000, qty="150")
    full = solvent.backtest(BuyAt, _bars(3), cash=10_000, qty="150", initial_margin=1)
    assert list(reg_t.fills["quantity"]) == [D(150)]
    assert list(full.fills["quantity"]) == [D(100)]
    assert full.settings["initial_margin"] == D(1)


def test_lot_size_allows_fractional_quantities() -> None:
    res = solvent.backtest(BuyAt, _bars(3), cash=1_000, qty="2.5", lot_size=D("0.1"))
    assert list(res.fills["quantity"]) == [D("2.5")]
    assert res.final_equity.amount == D(1_000)
    with pytest.raises(InvalidInputError, match=r"2\.5"):
        solvent.backtest(BuyAt, _bars(3), cash=1_000, qty="2.5")


# -- broker settings, each on its own ------------------------------------------------------


@pytest.mark.parametrize("mode", ["defer", "fill"])
def test_zero_volume_bar_defers_or_fills_by_setting(mode: str) -> None:
    _, b = broker(zero_volume=mode)
    b.submit("A", 10, day(0))
    fills = b.on_bar(day(1), {"A": bar(day(1), "101", volume=0)})
    if mode == "fill":
        assert [(f.quantity, f.price) for f in fills] == [(D(10), D(101))]
        assert b.rejections == []
    else:
        assert fills == []
        assert [r.reason for r in b.rejections] == [ReasonCode.ZERO_VOLUME]
        fills = b.on_bar(day(2), {"A": bar(day(2), "102")})
        assert [(f.quantity, f.price) for f in fills] == [(D(10), D(102))]


def test_zero_volume_fill_is_uncapped_under_a_volume_limit() -> None:
    # A bar without volume data cannot be capped at 10% of it: it fills whole.
    acct = Account(10_000, kind="margin", instruments=["A"])
    b = SimulatedBroker(acct, volume_limit=D("0.1"), zero_volume="fill", pdt=None)
    b.on_bar(day(0), {"A": flat(day(0), "100")})
    b.submit("A", 50, day(0))
    assert [f.quantity for f in b.on_bar(day(1), {"A": bar(day(1), "100", volume=0)})] == [D(50)]


def test_credit_shorts_are_unchecked_and_their_proceeds_buy() -> None:
    # 10,000 cash. Short 250 A at 100 (25,000): Reg T buying power is 20,000 and the
    # short needs 25,000; credited, it fills and cash becomes 35,000, which buys 100 B
    # at 100 (10,000), though Reg T buying power is now 0: cash 25,000.
    acct, b = broker(short_cash="credit")
    assert b.submit("A", -250, day(0)).status is OrderStatus.ACCEPTED
    b.on_bar(day(1), {"A": flat(day(1), "100"), "B": flat(day(1), "100")})
    assert (acct.cash.amount, acct.buying_power.amount) == (D(35_000), D(0))
    assert b.submit("B", 100, day(1)).status is OrderStatus.ACCEPTED
    b.on_bar(day(2), {"A": flat(day(2), "100"), "B": flat(day(2), "100")})
    assert (acct.cash.amount, acct.quantity("A"), acct.quantity("B")) == (D(25_000), D(-250), D(100))
    # Reg T: the short is cut to the 200 shares 20,000 of buying power carries.
    _, b2 = broker(short_cash="reg_t")
    view = b2.submit("A", -250, day(0))
    assert (view.quantity, view.reason) == (D(-200), ReasonCode.SCALED_DOWN)


def test_credit_buys_are_limited_to_cash_not_margin() -> None:
    # Credit mode checks buys against cash: 101 shares at 100 on 10,000 is cut to 100
    # (a Reg T margin account would afford 200).
    _, b = broker(short_cash="credit")
    view = b.submit("A", 101, day(0))
    assert (view.quantity, view.reason) == (D(100), ReasonCode.SCALED_DOWN)
    _, b2 = broker(short_cash="reg_t")
    assert b2.submit("A", 101, day(0)).quantity == D(101)


def _flip(fee_per: str) -> tuple[Account, list[Any]]:
    # Long 10 at 100, then sell 30 at 120 (close 10, open short 20); 0.1% + 1.00.
    model = Combined(PercentOfValue(D("0.001")), FixedPerOrder(1))
    acct, b = broker(100_000, commission=model, fixed_fee_per=fee_per)
    b.submit("A", 10, day(0))
    b.on_bar(day(1), {"A": flat(day(1), "100")})
    b.submit("A", -30, day(1))
    return acct, b.on_bar(day(2), {"A": flat(day(2), "120")})


def test_fixed_fee_per_leg_charges_a_flip_twice() -> None:
    # Per leg: 10 × 120 × 0.001 + 1 = 2.20 and 20 × 120 × 0.001 + 1 = 3.40: 5.60.
    # Per order: 30 × 120 × 0.001 + 1 = 4.60. The entry paid 100 × 10 × 0.001 + 1 = 2.00.
    acct, legs = _flip("leg")
    assert sum(f.commission for f in legs) == D("5.60")
    assert acct.snapshot().commission.amount == D("7.60")
    acct, legs = _flip("order")
    assert sum(f.commission for f in legs) == D("4.60")
    assert [f.quantity for f in legs] == [D(-10), D(-20)]


def test_fixed_fee_per_leg_is_per_order_without_a_flip() -> None:
    # An order that only opens (or only closes) is one leg: the same commission.
    model = Combined(PercentOfValue(D("0.001")), FixedPerOrder(1))
    for mode in ("order", "leg"):
        _, b = broker(100_000, commission=model, fixed_fee_per=mode)
        b.submit("A", 10, day(0))
        (fill,) = b.on_bar(day(1), {"A": flat(day(1), "100")})
        assert fill.commission == D("2.00")


@pytest.mark.parametrize(("check", "unfunded"), [(True, "defer"), (False, "defer"), (False, "cancel")])
def test_placement_check_and_unfunded_decide_where_an_entry_is_cut(check: bool, unfunded: str) -> None:
    # Cash account, 10,000, last close 100, buy 200; the next bar opens at 80.
    acct, b = broker(kind="cash", placement_check=check, unfunded=unfunded)
    view = b.submit("A", 200, day(0))
    fills = b.on_bar(day(1), {"A": flat(day(1), "80")})
    after = b.view(view.order_id)
    if check:
        # Cut when placed to what the last close affords: 100 shares (no reservation
        # shortfall at the fill: 100 × 80 = 8,000).
        assert (view.quantity, view.reason) == (D(100), ReasonCode.SCALED_DOWN)
        assert [f.quantity for f in fills] == [D(100)]
        assert acct.cash.amount == D(2_000)
        return
    # Not checked when placed: accepted whole; at the fill 10,000 / 80 = 125 shares.
    assert (view.status, view.quantity, view.reason) == (OrderStatus.ACCEPTED, D(200), None)
    assert [f.quantity for f in fills] == [D(125)]
    assert acct.cash.amount == D(0)
    (rejection,) = b.rejections
    assert rejection.reason is ReasonCode.INSUFFICIENT_BUYING_POWER and rejection.at_fill
    if unfunded == "defer":
        assert after.status is OrderStatus.PARTIALLY_FILLED  # the other 75 keep working
    else:
        assert (after.status, after.reason) == (OrderStatus.CANCELLED, ReasonCode.INSUFFICIENT_BUYING_POWER)
        assert rejection.quantity == D(75)


def test_unfunded_cancel_without_partial_fills_cancels_the_whole_order() -> None:
    # Backtrader's Margin at the fill: nothing is affordable whole, the order dies.
    acct, b = broker(kind="cash", placement_check=False, partial_fills=False, unfunded="cancel")
    view = b.submit("A", 200, day(0))
    assert b.on_bar(day(1), {"A": flat(day(1), "80")}) == []
    assert b.view(view.order_id).status is OrderStatus.CANCELLED
    assert acct.cash.amount == D(10_000) and not b.has_open_orders


# -- the command line and the report -------------------------------------------------------


def _cli(tmp_path: Path, *flags: str) -> dict[str, Any]:
    strategy = tmp_path / "buy.py"
    strategy.write_text(
        "import solvent\n"
        "class Buy(solvent.Strategy):\n"
        "    def on_bar(self, ctx):\n"
        "        if ctx.i == 0:\n"
        "            ctx.order(ctx.symbols[0], 10)\n"
    )
    data = tmp_path / "bars.csv"
    _bars(3)["X"].reset_index().assign(symbol="A").to_csv(data, index=False)
    out = tmp_path / "out"
    assert main(["backtest", str(strategy), "--data", str(data), "--out", str(out), *flags]) == 0
    settings: dict[str, Any] = json.loads((out / "summary.json").read_text())["settings"]
    settings["report"] = (out / "report.html").read_text()
    return settings


def test_cli_profile_flag_sets_the_profile_and_flags_override_it(tmp_path: Path) -> None:
    s = _cli(tmp_path, "--profile", "backtrader", "--volume-limit", "0.1", "--placement-check", "off")
    assert (s["profile"], s["short_cash"], s["fixed_fee_per"]) == ("backtrader", "credit", "leg")
    assert (s["volume_limit"], s["placement_check"]) == ("0.1", False)
    assert s["permissive"] == ["short_cash", "placement_check", "zero_volume", "pdt"]
    assert 'id="permissive"' in s["report"]


def test_cli_defaults_are_the_realistic_profile(tmp_path: Path) -> None:
    s = _cli(tmp_path)
    assert {k: s[k] for k in ("profile", "short_cash", "zero_volume", "pdt")} == {
        "profile": "realistic",
        "short_cash": "reg_t",
        "zero_volume": "defer",
        "pdt": "block",
    }
    assert s["volume_limit"] == "0.1" and s["permissive"] == []
    assert 'id="permissive"' not in s["report"]


def test_unfunded_cancel_takes_a_bracket_entrys_waiting_exits_with_it() -> None:
    acct, b = broker(kind="cash", placement_check=False, partial_fills=False, unfunded="cancel")
    entry, tp, sl = b.submit_bracket("A", 200, day(0), take_profit="120", stop_loss="90")
    b.on_bar(day(1), {"A": flat(day(1), "80")})
    statuses = [b.view(v.order_id).status for v in (entry, tp, sl)]
    assert statuses == [OrderStatus.CANCELLED] * 3
    assert not b.has_open_orders and acct.cash.amount == D(10_000)


def test_credit_buy_may_rely_on_a_sale_submitted_before_it() -> None:
    # Cash account rules for buys under credit: all 10,000 is in 100 A. A sale of A
    # submitted first brings 10,000 (at the last close) that a buy of 100 B may use; a
    # buy submitted before any sale is cut to nothing affordable and refused.
    acct, b = broker(short_cash="credit")
    b.submit("A", 100, day(0))
    b.on_bar(day(1), {"A": flat(day(1), "100")})
    assert acct.cash.amount == D(0)
    first = b.submit("B", 100, day(1))
    assert (first.status, first.reason) == (OrderStatus.REJECTED, ReasonCode.INSUFFICIENT_BUYING_POWER)
    b.submit("A", -100, day(1))
    second = b.submit("B", 100, day(1))
    assert (second.status, second.quantity) == (OrderStatus.ACCEPTED, D(100))
    b.on_bar(day(2), {"A": flat(day(2), "100"), "B": flat(day(2), "100")})
    assert (acct.cash.amount, acct.quantity("A"), acct.quantity("B")) == (D(0), D(0), D(100))
