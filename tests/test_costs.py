"""Commission and slippage models, checked to the cent against hand-worked numbers.

Units: an equity ("AAPL", tick 0.01, lot 1) has k = 1 minor unit per tick per lot, so
its notional in cents is ``ticks × lots``. Fractional crypto ("BTC", lot 0.001) has
k = 0.01 × 0.001 × 100 = 1/1000. The E-mini future ("ES", tick 0.25, multiplier 50)
has k = 0.25 × 50 × 100 = 1,250 cents per tick per contract.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent import AssetClass, Instrument, InvalidInputError, PrecisionError
from solvent.accounting.rules import notional_minor
from solvent.execution.costs import (
    BasisPoints,
    Combined,
    CommissionModel,
    FixedBps,
    FixedPerOrder,
    HalfSpread,
    NoCommission,
    NoSlippage,
    PercentOfValue,
    PerShare,
    SlippageModel,
    Tiered,
    VolumeShareImpact,
    resolve_commission,
    resolve_slippage,
)
from solvent.model.bar import Bar
from solvent.model.money import JPY

STOCK = Instrument("AAPL")
BTC = Instrument("BTC", asset_class=AssetClass.CRYPTO, lot_size=Decimal("0.001"))
ES = Instrument("ES", asset_class=AssetClass.FUTURE, tick_size=Decimal("0.25"), multiplier=Decimal(50))
TOYOTA = Instrument("7203", currency=JPY, tick_size=Decimal(1))

IB_FIXED = PerShare("0.005", minimum="1.00", maximum_pct="0.01")
IB_TIERS = [(300_000, "0.0035"), (3_000_000, "0.002"), (None, "0.0015")]

BUY, SELL = 1, -1


def make_bar(low: int, high: int, volume: int = 1_000_000) -> Bar:
    """Return a bar spanning ``[low, high]`` ticks (open and close at the extremes)."""
    return Bar(pd.Timestamp("2024-01-02 14:30", tz="UTC"), low, high, low, high, volume)


def increments(model: CommissionModel, inst: Instrument, fills: list[tuple[int, int]]) -> list[int]:
    """Return what each fill of one order is charged: the increase of the order's total."""
    paid, cum_lots, cum_notional, out = 0, 0, 0, []
    for lots, notional in fills:
        cum_lots += lots
        cum_notional += notional
        total = model.order_commission(inst, cum_lots, cum_notional)
        out.append(total - paid)
        paid = total
    return out


# -- commission: the models one by one -------------------------------------------------


def test_no_commission_any_order_zero() -> None:
    assert NoCommission().order_commission(STOCK, 1_000, 5_000_000, 10**9) == 0


def test_per_share_ib_fixed_small_order_minimum() -> None:
    # 100 sh × $0.005 = $0.50 < $1.00 minimum; cap 1% of $5,000 = $50 does not bind.
    assert IB_FIXED.order_commission(STOCK, 100, 500_000) == 100


def test_per_share_ib_fixed_large_order_rate() -> None:
    # 1,000 sh × $0.005 = $5.00 > minimum; cap 1% of $50,000 = $500.
    assert IB_FIXED.order_commission(STOCK, 1_000, 5_000_000) == 500


def test_per_share_max_pct_cap_binds() -> None:
    # 1,000 sh at $0.30 = $300 notional: rate gives $5.00, cap 1% × $300 = $3.00.
    assert IB_FIXED.order_commission(STOCK, 1_000, 30_000) == 300


def test_per_share_cap_below_minimum_cap_wins() -> None:
    # 100 sh at $0.50 = $50: minimum lifts $0.50 to $1.00, cap 1% × $50 = $0.50 wins (IB).
    assert IB_FIXED.order_commission(STOCK, 100, 5_000) == 50


def test_per_share_cap_tie_rounds_half_even() -> None:
    # cap = 1% × 12,250c = 122.5c -> 122 (even); 1% × 12,350c = 123.5c -> 124 (even).
    assert IB_FIXED.order_commission(STOCK, 1_000, 12_250) == 122
    assert IB_FIXED.order_commission(STOCK, 1_000, 12_350) == 124


def test_per_share_rate_ties_round_half_even() -> None:
    # $0.005/sh: 1 sh = 0.5c -> 0; 3 sh = 1.5c -> 2; 5 sh = 2.5c -> 2; 7 sh = 3.5c -> 4.
    model = PerShare("0.005")
    assert [model.order_commission(STOCK, n, n * 10_000) for n in (1, 3, 5, 7)] == [0, 2, 2, 4]


def test_per_share_minimum_partial_fills_charged_once() -> None:
    # 100-share order filled 30 then 70: total after 30 is max($0.15, $1.00) = $1.00,
    # after 100 it is max($0.50, $1.00) = $1.00; fills pay 100c + 0c, not 2 × 100c.
    assert IB_FIXED.order_commission(STOCK, 30, 150_000) == 100
    assert IB_FIXED.order_commission(STOCK, 100, 500_000) == 100
    assert increments(IB_FIXED, STOCK, [(30, 150_000), (70, 350_000)]) == [100, 0]


def test_per_share_partial_fills_increments_sum_to_order_total() -> None:
    # 300-share order at $50 filled 30 then 270: $1.00 (minimum), then 300 × 0.005 = $1.50
    # in total, so the second fill pays 50c; 100 + 50 = 150 = the single-fill commission.
    assert increments(IB_FIXED, STOCK, [(30, 150_000), (270, 1_350_000)]) == [100, 50]
    assert IB_FIXED.order_commission(STOCK, 300, 1_500_000) == 150


def test_per_share_nothing_filled_zero() -> None:
    # An order that has filled nothing owes nothing, minimum or not.
    assert IB_FIXED.order_commission(STOCK, 0, 0) == 0


def test_per_share_fractional_lots_rate_per_unit() -> None:
    # BTC lot 0.001: 1,500 lots = 1.5 coins; $2.50/coin × 1.5 = $3.75.
    assert PerShare("2.50").order_commission(BTC, 1_500, 6_481_582) == 375
    # $0.01/coin: 0.5 coin = 0.5c -> 0; 1.5 coins = 1.5c -> 2; 2.5 coins = 2.5c -> 2.
    model = PerShare("0.01")
    assert [model.order_commission(BTC, n, 10**6) for n in (500, 1_500, 2_500)] == [0, 2, 2]


def test_per_share_futures_per_contract() -> None:
    # $2.25 per ES contract × 3 = $6.75.
    assert PerShare("2.25").order_commission(ES, 3, 60_000_000) == 675


def test_per_share_jpy_minimum_in_yen() -> None:
    # ¥0.5/sh × 3 sh = ¥1.5 -> ¥2 (half-even), lifted to the ¥100 minimum.
    assert PerShare("0.5", minimum=100).order_commission(TOYOTA, 3, 7_500) == 100
    # 1,001 sh × ¥0.5 = ¥500.5 -> ¥500 (even).
    assert PerShare("0.5", minimum=100).order_commission(TOYOTA, 1_001, 2_502_500) == 500


def test_basis_points_notional_exact() -> None:
    # 5 bps of $10,000 = $5.00.
    assert BasisPoints(5).order_commission(STOCK, 100, 1_000_000) == 500


def test_basis_points_ties_round_half_even() -> None:
    # 5 bps of 1,000c = 0.5c -> 0; of 3,000c = 1.5c -> 2.
    assert BasisPoints(5).order_commission(STOCK, 1, 1_000) == 0
    assert BasisPoints(5).order_commission(STOCK, 1, 3_000) == 2


def test_basis_points_futures_fractional_bps() -> None:
    # 2 ES at 4000.00 = 16,000 ticks: notional 16,000 × 2 × 1,250 = 40,000,000c ($400,000);
    # 0.5 bp of it = $20.00.
    notional = notional_minor(16_000, 2, ES.k_num, ES.k_den)
    assert notional == 40_000_000
    assert BasisPoints("0.5").order_commission(ES, 2, notional) == 2_000


def test_percent_of_value_vectorbt_fees() -> None:
    # 0.1% of $12,345.67 = $12.34567 -> 1,235c.
    assert PercentOfValue(0.001).order_commission(STOCK, 1, 1_234_567) == 1_235


def test_percent_of_value_ties_round_half_even() -> None:
    # 0.1% of 2,500c = 2.5c -> 2; of 3,500c = 3.5c -> 4.
    assert PercentOfValue("0.001").order_commission(STOCK, 1, 2_500) == 2
    assert PercentOfValue("0.001").order_commission(STOCK, 1, 3_500) == 4


def test_percent_of_value_fractional_lots() -> None:
    # 1.5 BTC at $43,210.55 = 4,321,055 ticks × 1,500 lots / 1,000 = 6,481,582.5c -> 6,481,582
    # (notional, half-even); 0.1% = 6,481.582c -> 6,482c ($64.82).
    notional = notional_minor(4_321_055, 1_500, BTC.k_num, BTC.k_den)
    assert notional == 6_481_582
    assert PercentOfValue("0.001").order_commission(BTC, 1_500, notional) == 6_482


def test_fixed_per_order_charged_once_across_fills() -> None:
    # $1.50 per order: 0 before any fill, then 150c on the first fill and nothing after.
    model = FixedPerOrder("1.50")
    assert model.order_commission(STOCK, 0, 0) == 0
    assert increments(model, STOCK, [(10, 50_000), (40, 200_000), (50, 250_000)]) == [150, 0, 0]


def test_fixed_per_order_jpy_amount_in_yen() -> None:
    assert FixedPerOrder(100).order_commission(TOYOTA, 100, 250_000) == 100


def test_fixed_per_order_off_currency_grid_precision_error() -> None:
    # ¥1.5 is not a whole yen; $1.005 is not a whole cent.
    with pytest.raises(PrecisionError) as exc:
        FixedPerOrder("1.5").order_commission(TOYOTA, 1, 2_500)
    assert exc.value.field == "FixedPerOrder.amount"
    with pytest.raises(PrecisionError):
        FixedPerOrder("1.005").order_commission(STOCK, 1, 2_500)


def test_tiered_first_tier_below_boundary() -> None:
    # Month so far 299,999 sh: the order starts on share 300,000, tier 1 ($0.0035):
    # 1,000 sh × $0.0035 = $3.50, the whole order at that tier.
    model = Tiered(IB_TIERS)
    assert model.order_commission(STOCK, 1_000, 5_000_000, month_lots=0) == 350
    assert model.order_commission(STOCK, 1_000, 5_000_000, month_lots=299_999) == 350


def test_tiered_second_tier_at_boundary() -> None:
    # Month so far 300,000 sh: the next share is number 300,001, tier 2 ($0.002): $2.00.
    model = Tiered(IB_TIERS)
    assert model.order_commission(STOCK, 1_000, 5_000_000, month_lots=300_000) == 200
    assert model.order_commission(STOCK, 1_000, 5_000_000, month_lots=2_999_999) == 200


def test_tiered_last_tier_open_ended() -> None:
    # 3,000,000 sh or more: $0.0015 × 1,000 = $1.50.
    model = Tiered(IB_TIERS)
    assert model.order_commission(STOCK, 1_000, 5_000_000, month_lots=3_000_000) == 150
    assert model.order_commission(STOCK, 1_000, 5_000_000, month_lots=10**12) == 150


def test_tiered_minimum_once_per_order() -> None:
    # 50 sh × $0.0035 = 17.5c -> 18c, lifted to the $0.35 minimum; fills of 20 + 30 sh pay
    # 35c then 0c. 200 sh = 70c: the second fill of 150 pays 35c more.
    model = Tiered(IB_TIERS, minimum="0.35")
    assert model.order_commission(STOCK, 50, 250_000) == 35
    assert increments(model, STOCK, [(20, 100_000), (30, 150_000)]) == [35, 0]
    assert increments(model, STOCK, [(50, 250_000), (150, 750_000)]) == [35, 35]


def test_tiered_ties_round_half_even() -> None:
    # Tier 3 ($0.0015): 10 sh = 1.5c -> 2; 30 sh = 4.5c -> 4.
    model = Tiered(IB_TIERS)
    assert model.order_commission(STOCK, 10, 1, month_lots=5_000_000) == 2
    assert model.order_commission(STOCK, 30, 1, month_lots=5_000_000) == 4


def test_tiered_fractional_lots_boundary_in_units() -> None:
    # BTC lot 0.001: 299,999,999 lots = 299,999.999 units (< 300,000) -> tier 1;
    # 300,000,000 lots = 300,000 units -> tier 2. 1,000 units: $3.50 vs $2.00.
    model = Tiered(IB_TIERS)
    assert model.rate_for(BTC, 299_999_999) == Decimal("0.0035")
    assert model.order_commission(BTC, 1_000_000, 10**9, month_lots=299_999_999) == 350
    assert model.order_commission(BTC, 1_000_000, 10**9, month_lots=300_000_000) == 200


def test_combined_percent_plus_fixed_sums() -> None:
    # 0.1% of $5,000 = $5.00, plus $1.00 per order = $6.00; as fills of $1,500 and $3,500:
    # first 150 + 100 = 250c, then 600 - 250 = 350c.
    model = Combined(PercentOfValue("0.001"), FixedPerOrder("1.00"))
    assert model.order_commission(STOCK, 100, 500_000) == 600
    assert increments(model, STOCK, [(30, 150_000), (70, 350_000)]) == [250, 350]


def test_combined_nothing_zero() -> None:
    assert Combined().order_commission(STOCK, 100, 500_000) == 0


# -- slippage --------------------------------------------------------------------------

WIDE = make_bar(9_900, 10_100)


def test_no_slippage_reference_price() -> None:
    assert NoSlippage().fill_price(STOCK, BUY, 10_000, 100, WIDE) == 10_000
    assert NoSlippage().fill_price(STOCK, SELL, 10_000, 100, WIDE) == 10_000


def test_fixed_bps_exact_move_both_sides() -> None:
    # 10 bps of $100.00 (10,000 ticks) = 10 ticks: buy 10,010, sell 9,990.
    assert FixedBps(10).fill_price(STOCK, BUY, 10_000, 100, WIDE) == 10_010
    assert FixedBps(10).fill_price(STOCK, SELL, 10_000, 100, WIDE) == 9_990


def test_fixed_bps_off_grid_rounds_adverse() -> None:
    # 10,001 × 1.001 = 10,011.001 -> 10,012 (up for a buy);
    # 10,001 × 0.999 = 9,990.999 -> 9,990 (down for a sell).
    assert FixedBps(10).fill_price(STOCK, BUY, 10_001, 100, WIDE) == 10_012
    assert FixedBps(10).fill_price(STOCK, SELL, 10_001, 100, WIDE) == 9_990


def test_fixed_bps_any_slippage_costs_one_tick() -> None:
    # 1 tick × 0.1% = 0.001 tick: a buy pays a whole tick (2); a sell would be 0 ticks,
    # which the bar's low (1) clamps back up.
    bar = make_bar(1, 3)
    assert FixedBps(10).fill_price(STOCK, BUY, 1, 1, bar) == 2
    assert FixedBps(10).fill_price(STOCK, SELL, 1, 1, bar) == 1


def test_fixed_bps_clamped_into_bar_both_sides() -> None:
    # A buy slipped to 10,010 above a high of 10,005 fills at 10,005; a sell slipped to
    # 9,990 below a low of 9,995 fills at 9,995.
    bar = make_bar(9_995, 10_005)
    assert FixedBps(10).fill_price(STOCK, BUY, 10_000, 100, bar) == 10_005
    assert FixedBps(10).fill_price(STOCK, SELL, 10_000, 100, bar) == 9_995


def test_fixed_bps_futures_tick_grid() -> None:
    # ES at 4000.00 = 16,000 ticks of 0.25; 1 bp = 1.6 ticks: buy 16,002 (4000.50),
    # sell 15,998 (3999.50).
    bar = make_bar(15_960, 16_040)
    assert FixedBps(1).fill_price(ES, BUY, 16_000, 2, bar) == 16_002
    assert FixedBps(1).fill_price(ES, SELL, 16_000, 2, bar) == 15_998
    assert ES.price(16_002) == Decimal("4000.50")


def test_fixed_bps_zero_reference() -> None:
    assert FixedBps(0).fill_price(STOCK, BUY, 10_001, 100, WIDE) == 10_001


def test_half_spread_pays_half_both_sides() -> None:
    # A 20 bp spread costs 10 bp each way: 10,010 / 9,990.
    assert HalfSpread(20).fill_price(STOCK, BUY, 10_000, 1, WIDE) == 10_010
    assert HalfSpread(20).fill_price(STOCK, SELL, 10_000, 1, WIDE) == 9_990


def test_half_spread_half_tick_rounds_adverse() -> None:
    # 5 bp spread -> 2.5 bp of 10,000 ticks = 2.5 ticks: buy 10,003, sell 9,997.
    assert HalfSpread(5).fill_price(STOCK, BUY, 10_000, 1, WIDE) == 10_003
    assert HalfSpread(5).fill_price(STOCK, SELL, 10_000, 1, WIDE) == 9_997


def test_half_spread_clamped_to_low() -> None:
    assert HalfSpread(20).fill_price(STOCK, SELL, 10_000, 1, make_bar(9_998, 10_002)) == 9_998


def test_volume_share_impact_zipline_default() -> None:
    # 100 of 1,000 lots: 0.1 × 0.1² = 0.1% of 10,000 = 10 ticks -> 10,010 / 9,990.
    bar = make_bar(9_900, 10_100, volume=1_000)
    assert VolumeShareImpact().fill_price(STOCK, BUY, 10_000, 100, bar) == 10_010
    assert VolumeShareImpact().fill_price(STOCK, SELL, 10_000, 100, bar) == 9_990


def test_volume_share_impact_half_tick_rounds_adverse() -> None:
    # 250 of 1,000: 0.1 × 0.25² = 0.625% of 10,000 = 62.5 ticks -> buy 10,063, sell 9,937.
    bar = make_bar(9_900, 10_100, volume=1_000)
    assert VolumeShareImpact(0.1).fill_price(STOCK, BUY, 10_000, 250, bar) == 10_063
    assert VolumeShareImpact(0.1).fill_price(STOCK, SELL, 10_000, 250, bar) == 9_937


def test_volume_share_impact_whole_bar_clamped_both_sides() -> None:
    # 1,000 of 1,000: 10% = 1,000 ticks -> 11,000 / 9,000, clamped to 10,100 / 9,900.
    bar = make_bar(9_900, 10_100, volume=1_000)
    assert VolumeShareImpact().fill_price(STOCK, BUY, 10_000, 1_000, bar) == 10_100
    assert VolumeShareImpact().fill_price(STOCK, SELL, 10_000, 1_000, bar) == 9_900


def test_volume_share_impact_zero_volume_reference() -> None:
    bar = make_bar(9_900, 10_100, volume=0)
    assert VolumeShareImpact().fill_price(STOCK, BUY, 10_000, 100, bar) == 10_000
    assert VolumeShareImpact().fill_price(STOCK, BUY, 10_200, 100, bar) == 10_100


def test_volume_share_impact_fractional_lots() -> None:
    # BTC: 0.5 of 5 coins (500 of 5,000 lots) -> 0.1% of 4,321,055 ticks = 4,321.055
    # -> buy 4,325,377 (+4,322), sell 4,316,733 (-4,322).
    bar = make_bar(4_300_000, 4_340_000, volume=5_000)
    assert VolumeShareImpact().fill_price(BTC, BUY, 4_321_055, 500, bar) == 4_325_377
    assert VolumeShareImpact().fill_price(BTC, SELL, 4_321_055, 500, bar) == 4_316_733


# -- resolving user arguments ----------------------------------------------------------


def test_resolve_commission_none_no_commission() -> None:
    assert resolve_commission(None) == NoCommission()


def test_resolve_commission_model_itself() -> None:
    assert resolve_commission(IB_FIXED) is IB_FIXED


def test_resolve_commission_number_percent_of_value() -> None:
    assert resolve_commission(0.001) == PercentOfValue("0.001")
    assert resolve_commission(Decimal("0.001")).order_commission(STOCK, 1, 500_000) == 500


def test_resolve_slippage_number_fixed_bps() -> None:
    # 0.001 of price = 10 bps.
    assert resolve_slippage(0.001) == FixedBps(10)
    assert resolve_slippage(None) == NoSlippage()
    model = HalfSpread(4)
    assert resolve_slippage(model) is model


def test_resolve_bad_values_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        resolve_commission(True)  # a bool is not a number
    with pytest.raises(InvalidInputError):
        resolve_commission("abc")
    with pytest.raises(InvalidInputError):
        resolve_slippage(float("nan"))
    with pytest.raises(InvalidInputError):
        resolve_slippage(1)  # 100% of price
    with pytest.raises(InvalidInputError):
        resolve_commission(object())  # type: ignore[arg-type]


# -- parameters: validation, immutability, repr ----------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: PerShare(-0.005), "PerShare.rate"),
        (lambda: PerShare("abc"), "PerShare.rate"),
        (lambda: PerShare(0.005, minimum=float("nan")), "PerShare.minimum"),
        (lambda: PerShare(0.005, maximum_pct=1), "PerShare.maximum_pct"),
        (lambda: PerShare(0.005, maximum_pct=0), "PerShare.maximum_pct"),
        (lambda: BasisPoints(10_000), "BasisPoints.bps"),
        (lambda: BasisPoints(-1), "BasisPoints.bps"),
        (lambda: PercentOfValue(1), "PercentOfValue.fraction"),
        (lambda: PercentOfValue(float("inf")), "PercentOfValue.fraction"),
        (lambda: FixedPerOrder(-1), "FixedPerOrder.amount"),
        (lambda: FixedPerOrder(True), "FixedPerOrder.amount"),
        (lambda: Tiered([]), "Tiered.tiers"),
        (lambda: Tiered([(100, "0.01")]), "Tiered.tiers[0]"),
        (lambda: Tiered([(None, "0.01"), (None, "0.02")]), "Tiered.tiers[0]"),
        (lambda: Tiered([(200, "0.01"), (100, "0.02"), (None, "0.03")]), "Tiered.tiers[1].up_to"),
        (lambda: Tiered([(0, "0.01"), (None, "0.02")]), "Tiered.tiers[0].up_to"),
        (lambda: Tiered([(100, "-0.01"), (None, "0.02")]), "Tiered.tiers[0].rate"),
        (lambda: Tiered([(None, "0.01", 3)]), "Tiered.tiers[0]"),  # type: ignore[list-item]
        (lambda: Tiered([(None, "0.01")], minimum=-1), "Tiered.minimum"),
        (lambda: Combined(PerShare(0.005), "0.001"), "Combined.models[1]"),  # type: ignore[arg-type]
        (lambda: FixedBps(10_000), "FixedBps.bps"),
        (lambda: FixedBps(-1), "FixedBps.bps"),
        (lambda: HalfSpread(20_000), "HalfSpread.spread_bps"),
        (lambda: VolumeShareImpact(-0.1), "VolumeShareImpact.price_impact"),
    ],
)
def test_bad_parameter_invalid_input_names_field(build: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        build()  # type: ignore[operator]
    assert exc.value.field == field


def test_minimum_off_cent_grid_precision_error_when_used() -> None:
    with pytest.raises(PrecisionError) as exc:
        PerShare("0.005", minimum="0.999").order_commission(STOCK, 1, 100)
    assert exc.value.field == "PerShare.minimum"


def test_bad_call_arguments_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        IB_FIXED.order_commission(STOCK, -1, 100)
    with pytest.raises(InvalidInputError):
        BasisPoints(5).order_commission(STOCK, 1, -100)
    with pytest.raises(InvalidInputError):
        Tiered(IB_TIERS).order_commission(STOCK, 1, 100, month_lots=-1)
    with pytest.raises(InvalidInputError):
        FixedBps(10).fill_price(STOCK, 0, 10_000, 1, WIDE)


def test_models_frozen_and_hashable() -> None:
    models = [IB_FIXED, Tiered(IB_TIERS), Combined(BasisPoints(1)), FixedBps(5), VolumeShareImpact()]
    assert len(set(models)) == len(models)
    with pytest.raises(dataclasses.FrozenInstanceError):
        IB_FIXED.rate = Decimal(1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        FixedBps(5).bps = Decimal(1)  # type: ignore[misc]


def test_float_parameters_exact_decimals() -> None:
    # A float is read through its shortest repr: 0.005 is exactly Decimal("0.005").
    assert PerShare(0.005).rate == Decimal("0.005")
    assert PerShare(0.005) == PerShare("0.005") == PerShare(Decimal("0.0050"))


@pytest.mark.parametrize(
    ("model", "text"),
    [
        (NoCommission(), "NoCommission()"),
        (IB_FIXED, "PerShare(rate=0.005, minimum=1, maximum_pct=0.01)"),
        (PerShare(2), "PerShare(rate=2, minimum=0, maximum_pct=None)"),
        (BasisPoints("0.50"), "BasisPoints(bps=0.5)"),
        (PercentOfValue(0.001), "PercentOfValue(fraction=0.001)"),
        (FixedPerOrder("1.00"), "FixedPerOrder(amount=1)"),
        (
            Tiered(IB_TIERS, minimum="0.35"),
            "Tiered(tiers=[(300000, 0.0035), (3000000, 0.002), (None, 0.0015)], minimum=0.35)",
        ),
        (
            Combined(PercentOfValue("0.001"), FixedPerOrder(1)),
            "Combined(PercentOfValue(fraction=0.001), FixedPerOrder(amount=1))",
        ),
        (NoSlippage(), "NoSlippage()"),
        (resolve_slippage(0.001), "FixedBps(bps=10)"),
        (HalfSpread(5), "HalfSpread(spread_bps=5)"),
        (VolumeShareImpact(), "VolumeShareImpact(price_impact=0.1)"),
    ],
)
def test_repr_shows_parameters(model: object, text: str) -> None:
    assert repr(model) == text


# -- properties ------------------------------------------------------------------------

INSTRUMENTS = st.sampled_from([STOCK, BTC, ES])


def _money(max_value: str, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=Decimal(max_value), places=places)


_BASE_COMMISSIONS: st.SearchStrategy[CommissionModel] = st.one_of(
    st.just(NoCommission()),
    st.builds(
        PerShare,
        rate=_money("0.05", 4),
        minimum=_money("5"),
        maximum_pct=st.none() | st.decimals(min_value=Decimal("0.0001"), max_value="0.5", places=4),
    ),
    st.builds(BasisPoints, _money("100")),
    st.builds(PercentOfValue, _money("0.05", 5)),
    st.builds(FixedPerOrder, _money("10")),
    st.builds(Tiered, st.just(IB_TIERS), minimum=_money("1")),
)
COMMISSIONS = _BASE_COMMISSIONS | st.builds(Combined, _BASE_COMMISSIONS, _BASE_COMMISSIONS)

SLIPPAGES: st.SearchStrategy[SlippageModel] = st.one_of(
    st.just(NoSlippage()),
    st.builds(FixedBps, _money("9999.99")),
    st.builds(HalfSpread, _money("19999.99")),
    st.builds(VolumeShareImpact, _money("10", 3)),
)


@given(
    model=COMMISSIONS,
    inst=INSTRUMENTS,
    month_lots=st.integers(0, 10**10),
    fills=st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 10_000_000)), min_size=1, max_size=8),
)
def test_property_commission_increments_never_negative(
    model: CommissionModel, inst: Instrument, month_lots: int, fills: list[tuple[int, int]]
) -> None:
    paid = model.order_commission(inst, 0, 0, month_lots)
    assert paid >= 0
    cum_lots = cum_notional = 0
    for lots, ticks in fills:
        cum_lots += lots
        cum_notional += notional_minor(ticks, lots, inst.k_num, inst.k_den)
        total = model.order_commission(inst, cum_lots, cum_notional, month_lots)
        assert total >= paid, (model, cum_lots, cum_notional)
        paid = total


@st.composite
def _bar_and_ref(draw: st.DrawFn) -> tuple[Bar, int]:
    low = draw(st.integers(1, 10_000_000))
    high = low + draw(st.integers(0, 100_000))
    bar = make_bar(low, high, volume=draw(st.integers(0, 1_000_000)))
    return bar, draw(st.integers(low, high))


@given(
    model=SLIPPAGES,
    inst=INSTRUMENTS,
    side=st.sampled_from([BUY, SELL]),
    lots=st.integers(0, 2_000_000),
    bar_ref=_bar_and_ref(),
)
def test_property_slippage_adverse_and_inside_bar(
    model: SlippageModel, inst: Instrument, side: int, lots: int, bar_ref: tuple[Bar, int]
) -> None:
    bar, ref = bar_ref
    price = model.fill_price(inst, side, ref, lots, bar)
    assert bar.low <= price <= bar.high
    assert side * (price - ref) >= 0
