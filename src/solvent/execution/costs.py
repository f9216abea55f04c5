"""Commission and slippage: one pluggable hook each, exact integer arithmetic.

A commission model answers one question, :meth:`CommissionModel.order_commission`:
*what does this order owe in total once it has filled this much?* The broker charges
each fill the increment over what the order has already paid, so a per-order minimum
or a fixed per-order fee is charged once per order however many partial fills it takes,
and the fills' commissions add up to the commission of the whole order exactly.

A slippage model answers :meth:`SlippageModel.fill_price`: *at what price, in ticks,
does this fill happen given its reference price?* Slippage is always adverse or zero,
is snapped to the tick grid in the adverse direction (any positive slippage costs at
least one tick), and never leaves the bar's ``[low, high]`` range: a bar is the record
of every price that traded, so no fill can be outside it.

Conventions
-----------
* Parameters arrive as ``Decimal``, ``int``, ``str`` or an exactly representable
  ``float`` and are kept as ``Decimal``; all arithmetic is on integers and exact ratios
  (``Decimal.as_integer_ratio``), never binary floats.
* Money amounts (minimums, fixed fees) are checked against the instrument's currency
  when first used: ``FixedPerOrder("1.005")`` raises ``PrecisionError`` on a USD
  instrument, ``FixedPerOrder("1.5")`` on a JPY one.
* Every commission result is rounded once, half-even, to the minor unit (the ledger's
  rule, :func:`solvent.accounting.rules.div_round_half_even`); a cap is rounded the same
  way before it is applied.
* An order that has filled nothing owes nothing: ``cum_lots == 0`` gives 0 for every
  model, including per-order minimums and fixed fees.
* Rates given as fractions of value (``maximum_pct``, ``PercentOfValue``) must be
  below 1: ``0.01`` means 1%. A value of 1 or more is refused, since it almost always
  means a percentage was passed where a fraction was expected.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from solvent.accounting.rules import ceil_div, div_round_half_even
from solvent.errors import InvalidInputError
from solvent.model.bar import Bar
from solvent.model.instrument import Instrument
from solvent.model.money import Currency, Number, to_decimal, to_minor

__all__ = [
    "BasisPoints",
    "Combined",
    "CommissionModel",
    "FixedBps",
    "FixedPerOrder",
    "HalfSpread",
    "NoCommission",
    "NoSlippage",
    "PerShare",
    "PercentOfValue",
    "SlippageModel",
    "Tiered",
    "VolumeShareImpact",
    "fixed_fee",
    "per_share_fee",
    "per_unit_ratio",
    "resolve_commission",
    "resolve_slippage",
    "slip_ticks",
    "value_fee",
]

#: Basis points in one (1 bp = 0.01%).
BPS_SCALE = 10_000


# -- helpers ------------------------------------------------------------------------


def _non_negative(value: object, field: str) -> Decimal:
    d = to_decimal(value, field)
    if d < 0:
        raise InvalidInputError(field, value, "must not be negative")
    return d


def _below(value: object, field: str, limit: int, hint: str) -> Decimal:
    d = _non_negative(value, field)
    if d >= limit:
        raise InvalidInputError(field, value, f"must be below {limit}; {hint}")
    return d


def _fmt(d: Decimal | None) -> str:
    """Return ``d`` for a ``__repr__``: plain digits, no trailing zeros, no exponent."""
    if d is None:
        return "None"
    return format(d.normalize(), "f")


@lru_cache(maxsize=256)
def _minor(amount: Decimal, ccy: Currency, field: str) -> int:
    # Exact or refused: a minimum of 1.005 USD is a caller bug, not something to round.
    # Cached: it runs on every fill, and (amount, currency) pairs are few.
    return to_minor(amount, ccy, field)


def per_unit_ratio(rate: Decimal, instrument: Instrument) -> tuple[int, int]:
    """Return ``rate`` per unit of quantity as an exact ``(num, den)`` per lot in minor units.

    ``cum_lots * num / den`` is the fee of ``cum_lots`` lots before rounding; the compiled
    fast path lowers per-share models with it, so both engines share the conversion.
    """
    r_num, r_den = rate.as_integer_ratio()
    l_num, l_den = instrument.lot_size.as_integer_ratio()
    scale = 10**instrument.currency.digits
    return r_num * l_num * scale, r_den * l_den


def _per_unit_fee(rate: Decimal, cum_lots: int, instrument: Instrument) -> int:
    """Return ``rate`` per unit of quantity times ``cum_lots`` lots, in minor units, half-even."""
    num, den = per_unit_ratio(rate, instrument)
    return div_round_half_even(cum_lots * num, den)


def _fraction_of(amount: int, fraction: Decimal) -> int:
    """Return ``amount * fraction`` rounded half-even."""
    num, den = fraction.as_integer_ratio()
    return value_fee(amount, num, den)


# -- integer cores ------------------------------------------------------------------
# Each model's arithmetic as a pure function of integers, so the event-driven broker
# (through the model classes) and the compiled fast path (``solvent.fast``, which
# compiles these very functions with numba) share one copy of every cost rule.


def value_fee(cum_notional: int, num: int, den: int) -> int:
    """Return a fee of ``num/den`` of ``cum_notional``, rounded half-even once."""
    return div_round_half_even(cum_notional * num, den)


def per_share_fee(
    cum_lots: int, cum_notional: int, fee_num: int, fee_den: int, minimum: int, cap_num: int, cap_den: int
) -> int:
    """Return ``PerShare``'s fee: ``min(cap, max(minimum, cum_lots × fee_num / fee_den))``.

    ``fee_num / fee_den`` is the fee per lot in minor units (``per_unit_ratio``),
    ``minimum`` is in minor units and the cap is ``cap_num / cap_den`` of the notional
    (``cap_den == 0``: no cap). An order that filled nothing owes nothing.
    """
    if cum_lots == 0:
        return 0
    fee = div_round_half_even(cum_lots * fee_num, fee_den)
    # Comparisons rather than ``max``/``min``: the same integers, and the compiled twin
    # (``solvent.fast._jit``) needs no extra compiled builtin for them.
    fee = fee if fee >= minimum else minimum
    if cap_den != 0:
        cap = div_round_half_even(cum_notional * cap_num, cap_den)
        fee = fee if fee <= cap else cap
    return fee


def fixed_fee(cum_lots: int, amount: int) -> int:
    """Return a fixed per-order ``amount`` once anything has filled, else 0."""
    return 0 if cum_lots == 0 else amount


def slip_ticks(side: int, ref: int, num: int, den: int, low: int, high: int) -> int:
    """Move ``ref`` adversely by ``num/den`` of itself, round adverse to the tick, clamp.

    ``ref + ceil(ref*f)`` is ``ceil(ref*(1+f))`` and ``ref - ceil(ref*f)`` is
    ``floor(ref*(1-f))`` because ``ref`` is a whole number of ticks. The result is
    clamped into ``[low, high]`` (the bar's range); ``num == 0`` only clamps.
    """
    move = ceil_div(ref * num, den) if num else 0
    price = ref + move if side > 0 else ref - move
    if price < low:
        return low
    if price > high:
        return high
    return price


def _check_order(model: str, cum_lots: int, cum_notional: int, month_lots: int) -> None:
    if cum_lots < 0:
        raise InvalidInputError(f"{model}.cum_lots", cum_lots, "must not be negative (absolute lots)")
    if cum_notional < 0:
        raise InvalidInputError(f"{model}.cum_notional", cum_notional, "must not be negative (absolute)")
    if month_lots < 0:
        raise InvalidInputError(f"{model}.month_lots", month_lots, "must not be negative")


def _check_side(side: int) -> None:
    if side not in (1, -1):
        raise InvalidInputError("side", side, "must be +1 (buy) or -1 (sell)")


def _slip(side: int, ref: int, num: int, den: int, bar: Bar) -> int:
    """Move ``ref`` adversely by ``num/den`` of itself within ``bar`` (see ``slip_ticks``)."""
    return slip_ticks(side, ref, num, den, bar.low, bar.high)


# -- commission -----------------------------------------------------------------------


class CommissionModel(abc.ABC):
    """What an order owes its broker in commission: the one commission hook.

    Subclasses implement :meth:`order_commission` as a pure function of its arguments,
    non-decreasing in ``cum_lots`` and ``cum_notional`` (the gatekeeper's search for the
    largest affordable quantity relies on it, and a fill is never paid a rebate).
    """

    __slots__ = ()

    @property
    def uses_month_volume(self) -> bool:
        """Whether the fee depends on the month's traded volume (the broker then tracks it)."""
        return False

    @abc.abstractmethod
    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return the total commission an order owes after filling ``cum_lots``.

        Parameters
        ----------
        instrument
            The instrument traded (lot size and currency decide the units).
        cum_lots
            Absolute lot steps the order has filled so far, this fill included.
        cum_notional
            Absolute notional of those fills in minor units (the sum of each fill's
            rounded notional).
        month_lots
            Lot steps traded earlier in the calendar month, before this order started
            (for tiered pricing); the same value for every fill of one order.

        Returns
        -------
        int
            The order's total commission in minor units, ``>= 0``. The broker charges
            each fill the increment over the previous total, so per-order minimums and
            fixed fees are paid once per order, not once per partial fill.
        """


@dataclass(frozen=True, slots=True, repr=False)
class NoCommission(CommissionModel):
    """Charge nothing."""

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return 0."""
        _check_order("NoCommission", cum_lots, cum_notional, month_lots)
        return 0

    def __repr__(self) -> str:
        return "NoCommission()"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class PerShare(CommissionModel):
    """Charge a rate per unit of quantity, with a per-order minimum and an optional cap.

    The fee is ``rate × quantity`` (quantity = lots × lot size) rounded half-even to
    the minor unit, raised to ``minimum``, then capped at ``maximum_pct × notional``
    (rounded half-even). The cap wins over the minimum, as at Interactive Brokers ("if
    the calculated maximum per order is less than the minimum per order, the maximum
    per order will be assessed"). IB's fixed US stock pricing is
    ``PerShare("0.005", minimum="1.00", maximum_pct="0.01")``; for futures, "per share"
    reads "per contract".

    Parameters
    ----------
    rate
        Currency per unit of quantity, ``>= 0``.
    minimum
        Per-order minimum in currency, ``>= 0``; charged once per order.
    maximum_pct
        Cap as a fraction of the order's notional (``0.01`` is 1%), ``0 < x < 1``, or
        ``None`` for no cap.

    Raises
    ------
    InvalidInputError
        For a negative, non-numeric or out-of-range parameter (``PrecisionError`` for a
        minimum that is not exact to the instrument's currency, when first used).
    """

    rate: Decimal
    minimum: Decimal
    maximum_pct: Decimal | None

    def __init__(self, rate: Number, minimum: Number = 0, maximum_pct: Number | None = None) -> None:
        object.__setattr__(self, "rate", _non_negative(rate, "PerShare.rate"))
        object.__setattr__(self, "minimum", _non_negative(minimum, "PerShare.minimum"))
        cap = None
        if maximum_pct is not None:
            cap = _below(maximum_pct, "PerShare.maximum_pct", 1, "a fraction of value: 0.01 is 1%")
            if cap == 0:
                raise InvalidInputError("PerShare.maximum_pct", maximum_pct, "must be greater than zero")
        object.__setattr__(self, "maximum_pct", cap)

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return ``min(cap, max(minimum, rate × quantity))`` in minor units (0 if unfilled)."""
        _check_order("PerShare", cum_lots, cum_notional, month_lots)
        if cum_lots == 0:
            return 0
        fee_num, fee_den = per_unit_ratio(self.rate, instrument)
        minimum = _minor(self.minimum, instrument.currency, "PerShare.minimum")
        cap_num, cap_den = (0, 0) if self.maximum_pct is None else self.maximum_pct.as_integer_ratio()
        return per_share_fee(cum_lots, cum_notional, fee_num, fee_den, minimum, cap_num, cap_den)

    def __repr__(self) -> str:
        return (
            f"PerShare(rate={_fmt(self.rate)}, minimum={_fmt(self.minimum)}, "
            f"maximum_pct={_fmt(self.maximum_pct)})"
        )


@dataclass(frozen=True, slots=True, init=False, repr=False)
class BasisPoints(CommissionModel):
    """Charge basis points of the order's notional, rounded half-even.

    Parameters
    ----------
    bps
        Basis points of notional (``5`` is 0.05%), ``0 <= bps < 10_000``.
    """

    bps: Decimal
    # ``bps`` as an exact ratio, computed once (every order's commission uses it).
    _ratio: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __init__(self, bps: Number) -> None:
        object.__setattr__(self, "bps", _below(bps, "BasisPoints.bps", BPS_SCALE, "5 bps is 0.05% of value"))
        num, den = self.bps.as_integer_ratio()
        object.__setattr__(self, "_ratio", (num, den * BPS_SCALE))

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return ``notional × bps / 10_000`` in minor units, half-even."""
        _check_order("BasisPoints", cum_lots, cum_notional, month_lots)
        num, den = self._ratio
        return value_fee(cum_notional, num, den)

    def __repr__(self) -> str:
        return f"BasisPoints(bps={_fmt(self.bps)})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class PercentOfValue(CommissionModel):
    """Charge a fraction of the order's notional, rounded half-even (VectorBT's ``fees``).

    Parameters
    ----------
    fraction
        Fraction of notional (``0.001`` is 0.1%), ``0 <= fraction < 1``.
    """

    fraction: Decimal
    # ``fraction`` as an exact ratio, computed once (every order's commission uses it).
    _ratio: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __init__(self, fraction: Number) -> None:
        object.__setattr__(
            self,
            "fraction",
            _below(fraction, "PercentOfValue.fraction", 1, "a fraction of value: 0.001 is 0.1%"),
        )
        object.__setattr__(self, "_ratio", self.fraction.as_integer_ratio())

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return ``notional × fraction`` in minor units, half-even."""
        _check_order("PercentOfValue", cum_lots, cum_notional, month_lots)
        num, den = self._ratio
        return value_fee(cum_notional, num, den)

    def __repr__(self) -> str:
        return f"PercentOfValue(fraction={_fmt(self.fraction)})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class FixedPerOrder(CommissionModel):
    """Charge a fixed amount per order, once, on its first fill.

    Parameters
    ----------
    amount
        Currency per order, ``>= 0``; must be exact to the instrument currency's minor
        unit (checked when used, since the currency comes with the instrument).
    """

    amount: Decimal

    def __init__(self, amount: Number) -> None:
        object.__setattr__(self, "amount", _non_negative(amount, "FixedPerOrder.amount"))

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return ``amount`` in minor units once anything has filled, else 0."""
        _check_order("FixedPerOrder", cum_lots, cum_notional, month_lots)
        if cum_lots == 0:
            return 0
        return fixed_fee(cum_lots, _minor(self.amount, instrument.currency, "FixedPerOrder.amount"))

    def __repr__(self) -> str:
        return f"FixedPerOrder(amount={_fmt(self.amount)})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class Tiered(CommissionModel):
    """Charge a per-unit rate that falls with the month's traded volume.

    A tier ``(up_to, rate)`` covers the month's units number ``previous up_to + 1``
    through ``up_to``; the last tier is open-ended (``None``). The *whole order* is
    charged at the tier in force when it starts: the tier of the next unit the month
    trades, i.e. the first tier with ``month volume < up_to``, where month volume is
    ``month_lots × lot_size`` units traded earlier in the month. An order does not
    change tier midway, which is how Interactive Brokers applies its tiers (on monthly
    cumulative volume at the time the order is charged) and keeps every partial fill's
    increment non-negative. The fee is rounded half-even, then raised to ``minimum``.

    IB's tiered US stock pricing (commission part, before exchange fees and without
    its 1% cap)::

        Tiered([(300_000, "0.0035"), (3_000_000, "0.002"), (20_000_000, "0.0015"),
                (100_000_000, "0.001"), (None, "0.0005")], minimum="0.35")

    Parameters
    ----------
    tiers
        ``[(up_to_units or None, rate), ...]``: bounds positive and strictly
        increasing, only the last one ``None``; rates in currency per unit, ``>= 0``.
    minimum
        Per-order minimum in currency, ``>= 0``; charged once per order.
    """

    tiers: tuple[tuple[Decimal | None, Decimal], ...]
    minimum: Decimal

    @property
    def uses_month_volume(self) -> bool:
        """Tiers are chosen by the month's volume."""
        return True

    def __init__(self, tiers: Iterable[tuple[Number | None, Number]], minimum: Number = 0) -> None:
        try:
            given = list(tiers)
        except TypeError:
            raise InvalidInputError("Tiered.tiers", tiers, "must be a list of (up_to, rate) pairs") from None
        if not given:
            raise InvalidInputError("Tiered.tiers", tiers, "needs at least one tier")
        parsed: list[tuple[Decimal | None, Decimal]] = []
        previous: Decimal | None = None
        for i, tier in enumerate(given):
            field = f"Tiered.tiers[{i}]"
            if not isinstance(tier, tuple | list) or len(tier) != 2:
                raise InvalidInputError(field, tier, "must be an (up_to, rate) pair")
            raw_up_to, raw_rate = tier
            last = i == len(given) - 1
            up_to: Decimal | None
            if raw_up_to is None:
                if not last:
                    raise InvalidInputError(field, tier, "only the last tier can be open-ended (None)")
                up_to = None
            else:
                if last:
                    raise InvalidInputError(field, tier, "the last tier must be open-ended: (None, rate)")
                up_to = to_decimal(raw_up_to, f"{field}.up_to", positive=True)
                if previous is not None and up_to <= previous:
                    raise InvalidInputError(f"{field}.up_to", raw_up_to, "tier bounds must increase")
                previous = up_to
            parsed.append((up_to, _non_negative(raw_rate, f"{field}.rate")))
        object.__setattr__(self, "tiers", tuple(parsed))
        object.__setattr__(self, "minimum", _non_negative(minimum, "Tiered.minimum"))

    def rate_for(self, instrument: Instrument, month_lots: int) -> Decimal:
        """Return the per-unit rate of an order that starts after ``month_lots`` this month."""
        l_num, l_den = instrument.lot_size.as_integer_ratio()
        for up_to, rate in self.tiers:
            if up_to is None:
                return rate
            u_num, u_den = up_to.as_integer_ratio()
            # month_lots * lot_size < up_to, in integers
            if month_lots * l_num * u_den < u_num * l_den:
                return rate
        raise AssertionError("unreachable: the last tier is open-ended")  # pragma: no cover

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return ``max(minimum, tier rate × quantity)`` in minor units (0 if unfilled)."""
        _check_order("Tiered", cum_lots, cum_notional, month_lots)
        if cum_lots == 0:
            return 0
        fee = _per_unit_fee(self.rate_for(instrument, month_lots), cum_lots, instrument)
        return max(fee, _minor(self.minimum, instrument.currency, "Tiered.minimum"))

    def __repr__(self) -> str:
        tiers = ", ".join(f"({_fmt(u)}, {_fmt(r)})" for u, r in self.tiers)
        return f"Tiered(tiers=[{tiers}], minimum={_fmt(self.minimum)})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class Combined(CommissionModel):
    """Charge the sum of several models, e.g. a percentage plus a fixed fee per order.

    Parameters
    ----------
    *models
        Commission models whose results are added (each rounded on its own).
    """

    models: tuple[CommissionModel, ...]

    def __init__(self, *models: CommissionModel) -> None:
        for i, m in enumerate(models):
            if not isinstance(m, CommissionModel):
                raise InvalidInputError(f"Combined.models[{i}]", m, "is not a CommissionModel")
        object.__setattr__(self, "models", tuple(models))

    @property
    def uses_month_volume(self) -> bool:
        """Whether any part depends on the month's volume."""
        return any(m.uses_month_volume for m in self.models)

    def order_commission(
        self, instrument: Instrument, cum_lots: int, cum_notional: int, month_lots: int = 0
    ) -> int:
        """Return the sum of the models' commissions."""
        return sum(m.order_commission(instrument, cum_lots, cum_notional, month_lots) for m in self.models)

    def __repr__(self) -> str:
        return f"Combined({', '.join(repr(m) for m in self.models)})"


# -- slippage -------------------------------------------------------------------------


class SlippageModel(abc.ABC):
    """Where a fill happens relative to its reference price: the one slippage hook."""

    __slots__ = ()

    @abc.abstractmethod
    def fill_price(self, instrument: Instrument, side: int, price_ticks: int, lots: int, bar: Bar) -> int:
        """Return the fill price in ticks after slippage.

        Parameters
        ----------
        instrument
            The instrument traded.
        side
            ``+1`` for a buy, ``-1`` for a sell.
        price_ticks
            The reference price (from the matching rules), inside the bar's range.
        lots
            Absolute lot steps of this fill.
        bar
            The bar the fill happens in.

        Returns
        -------
        int
            A price adverse or equal to the reference (buy ``>=``, sell ``<=``), rounded
            to the tick in the adverse direction and clamped into ``[bar.low,
            bar.high]``. The bar wins over the reference: a reference outside the bar
            (which the matching rules never produce) is clamped too.
        """


@dataclass(frozen=True, slots=True, repr=False)
class NoSlippage(SlippageModel):
    """Fill at the reference price (clamped into the bar's range)."""

    def fill_price(self, instrument: Instrument, side: int, price_ticks: int, lots: int, bar: Bar) -> int:
        """Return the reference price, clamped into ``[low, high]``."""
        _check_side(side)
        return slip_ticks(side, price_ticks, 0, 1, bar.low, bar.high)

    def __repr__(self) -> str:
        return "NoSlippage()"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class FixedBps(SlippageModel):
    """Move the price a fixed number of basis points against the trader.

    A buy fills at ``ceil(ref × (1 + bps/10_000))`` ticks, a sell at
    ``floor(ref × (1 − bps/10_000))``, both clamped into the bar's range.

    Parameters
    ----------
    bps
        Basis points of the reference price, ``0 <= bps < 10_000``.
    """

    bps: Decimal
    # ``bps`` as an exact ratio, computed once (every fill price uses it).
    _ratio: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __init__(self, bps: Number) -> None:
        object.__setattr__(self, "bps", _below(bps, "FixedBps.bps", BPS_SCALE, "10 bps is 0.1% of price"))
        num, den = self.bps.as_integer_ratio()
        object.__setattr__(self, "_ratio", (num, den * BPS_SCALE))

    def fill_price(self, instrument: Instrument, side: int, price_ticks: int, lots: int, bar: Bar) -> int:
        """Return the reference moved ``bps`` adversely, snapped adverse, clamped."""
        _check_side(side)
        num, den = self._ratio
        return _slip(side, price_ticks, num, den, bar)

    def __repr__(self) -> str:
        return f"FixedBps(bps={_fmt(self.bps)})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class HalfSpread(SlippageModel):
    """Pay half of an assumed quoted bid–ask spread: a market order crosses to the far side.

    The reference price is taken as the mid; a buy fills at ``ceil(ref × (1 +
    spread_bps/20_000))`` ticks, a sell at ``floor(ref × (1 − spread_bps/20_000))``,
    both clamped into the bar's range.

    Parameters
    ----------
    spread_bps
        The full quoted spread in basis points of price, ``0 <= spread_bps < 20_000``.
    """

    spread_bps: Decimal

    def __init__(self, spread_bps: Number) -> None:
        object.__setattr__(
            self,
            "spread_bps",
            _below(spread_bps, "HalfSpread.spread_bps", 2 * BPS_SCALE, "the full spread in bps of price"),
        )

    def fill_price(self, instrument: Instrument, side: int, price_ticks: int, lots: int, bar: Bar) -> int:
        """Return the reference moved half the spread adversely, snapped adverse, clamped."""
        _check_side(side)
        num, den = self.spread_bps.as_integer_ratio()
        return _slip(side, price_ticks, num, den * 2 * BPS_SCALE, bar)

    def __repr__(self) -> str:
        return f"HalfSpread(spread_bps={_fmt(self.spread_bps)})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class VolumeShareImpact(SlippageModel):
    """Move the price by the square of the fill's share of bar volume (zipline's model).

    ``impact = price_impact × (lots / bar.volume)² × ref``, adverse, snapped adverse to
    the tick and clamped into the bar's range. Unlike zipline the share is not capped
    here: the liquidity cap belongs to matching, and a fill larger than the bar simply
    lands on the bar's extreme. On a zero-volume bar (which fills nothing anyway) the
    reference is returned, clamped.

    Parameters
    ----------
    price_impact
        Scale of the impact, ``>= 0`` (zipline's default 0.1: a fill of 10% of the
        bar's volume moves the price 0.1%).
    """

    price_impact: Decimal

    def __init__(self, price_impact: Number = Decimal("0.1")) -> None:
        object.__setattr__(
            self, "price_impact", _non_negative(price_impact, "VolumeShareImpact.price_impact")
        )

    def fill_price(self, instrument: Instrument, side: int, price_ticks: int, lots: int, bar: Bar) -> int:
        """Return the reference moved by the volume-share impact, snapped adverse, clamped."""
        _check_side(side)
        if bar.volume <= 0:
            return bar.clamp(price_ticks)
        num, den = self.price_impact.as_integer_ratio()
        return _slip(side, price_ticks, num * lots * lots, den * bar.volume * bar.volume, bar)

    def __repr__(self) -> str:
        return f"VolumeShareImpact(price_impact={_fmt(self.price_impact)})"


# -- resolving user arguments ---------------------------------------------------------


def resolve_commission(x: CommissionModel | Number | None) -> CommissionModel:
    """Return a commission model for a user's ``commission=`` argument.

    ``None`` is :class:`NoCommission`, a model is returned as is, and a plain number is
    a fraction of traded value, :class:`PercentOfValue` (``0.001`` is 0.1%, like
    VectorBT's ``fees``).

    Raises
    ------
    InvalidInputError
        For anything else (a boolean, a non-numeric string, an out-of-range number).
    """
    if x is None:
        return NoCommission()
    if isinstance(x, CommissionModel):
        return x
    return PercentOfValue(x)


def resolve_slippage(x: SlippageModel | Number | None) -> SlippageModel:
    """Return a slippage model for a user's ``slippage=`` argument.

    ``None`` is :class:`NoSlippage`, a model is returned as is, and a plain number is a
    fraction of price, :class:`FixedBps` of ``number × 10_000`` (``0.001`` is 10 bps).

    Raises
    ------
    InvalidInputError
        For anything else (a boolean, a non-numeric string, an out-of-range number).
    """
    if x is None:
        return NoSlippage()
    if isinstance(x, SlippageModel):
        return x
    fraction = _below(x, "slippage", 1, "a fraction of price: 0.001 is 10 bps")
    return FixedBps(fraction * BPS_SCALE)
