"""Margin health: bands, the monitor that files an account into them, and its events.

The margin ratio is ``NLV / gross exposure`` (1 when flat). Bands (DESIGN.md §5,
configurable with ``MarginBands``)::

    healthy       ratio > 35%
    at risk       25% <= ratio <= 35%
    margin call   ratio < 25%, or NLV below maintenance margin
    liquidating   ratio < 10%, or NLV <= 0 with positions, or NLV < 0

Every change of band is an immutable ``MarginEvent``. The classification is the pure
integer rule ``rules.margin_band``; this module only keeps the state between checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import pandas as pd

from solvent.accounting import rules
from solvent.errors import InvalidInputError
from solvent.model.money import Money, Number, to_decimal


class MarginBand(StrEnum):
    """How healthy an account's margin is, least to most severe."""

    HEALTHY = "healthy"
    AT_RISK = "at_risk"
    MARGIN_CALL = "margin_call"
    LIQUIDATING = "liquidating"

    @property
    def in_call(self) -> bool:
        """Return whether the band is a margin call (or worse)."""
        return self in (MarginBand.MARGIN_CALL, MarginBand.LIQUIDATING)


_BY_CODE = {
    rules.BAND_HEALTHY: MarginBand.HEALTHY,
    rules.BAND_AT_RISK: MarginBand.AT_RISK,
    rules.BAND_MARGIN_CALL: MarginBand.MARGIN_CALL,
    rules.BAND_LIQUIDATING: MarginBand.LIQUIDATING,
}


class EventKind(StrEnum):
    """What a ``MarginEvent`` records a transition of."""

    MARGIN = "margin"  # the margin band
    TRADING_STATE = "trading_state"  # active / reduce_only / halted


def _threshold_ppm(value: Number, name: str) -> int:
    d = to_decimal(value, f"margin_bands.{name}")
    if d <= 0 or d > 1:
        raise InvalidInputError(f"margin_bands.{name}", value, "a ratio threshold must be in (0, 1]")
    scaled = d * rules.RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise InvalidInputError(f"margin_bands.{name}", value, "thresholds are kept to 6 decimal places")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class MarginBands:
    """The band thresholds, as margin ratios (``NLV / gross exposure``).

    Parameters
    ----------
    at_risk
        At or below this ratio the account is at risk (default 35%); above it, healthy.
    margin_call
        Below this ratio (or with NLV below maintenance margin) it is in a margin call
        (default 25%).
    liquidating
        Below this ratio the account is liquidated at once (default 10%).

    Raises
    ------
    InvalidInputError
        A threshold outside (0, 1], off the 1 ppm grid, or the three not strictly
        decreasing (``at_risk > margin_call > liquidating``).
    """

    at_risk: Decimal = Decimal("0.35")
    margin_call: Decimal = Decimal("0.25")
    liquidating: Decimal = Decimal("0.10")
    # The thresholds in parts per million, computed once (the check runs every bar).
    at_risk_ppm: int = field(init=False, repr=False, compare=False)
    margin_call_ppm: int = field(init=False, repr=False, compare=False)
    liquidating_ppm: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ppm = [_threshold_ppm(getattr(self, k), k) for k in ("at_risk", "margin_call", "liquidating")]
        for k, v in zip(("at_risk", "margin_call", "liquidating"), ppm, strict=True):
            object.__setattr__(self, k, to_decimal(getattr(self, k), f"margin_bands.{k}"))
            object.__setattr__(self, f"{k}_ppm", v)
        if not ppm[0] > ppm[1] > ppm[2]:
            raise InvalidInputError(
                "margin_bands",
                (str(self.at_risk), str(self.margin_call), str(self.liquidating)),
                "thresholds must decrease strictly: at_risk > margin_call > liquidating",
            )

    def classify(self, nlv: int, gross_exposure: int, maintenance: int) -> MarginBand:
        """Return the band of an account with these figures (minor units)."""
        code = rules.margin_band(
            nlv, gross_exposure, maintenance, self.at_risk_ppm, self.margin_call_ppm, self.liquidating_ppm
        )
        return _BY_CODE[code]

    def to_dict(self) -> dict[str, str]:
        """Return the thresholds as exact decimal strings (for results and settings)."""
        return {
            "at_risk": str(self.at_risk),
            "margin_call": str(self.margin_call),
            "liquidating": str(self.liquidating),
        }


DEFAULT_BANDS = MarginBands()


def resolve_bands(value: MarginBands | Mapping[str, Number] | None) -> MarginBands:
    """Return ``MarginBands`` from bands, a mapping of thresholds, or ``None`` (defaults)."""
    if value is None:
        return DEFAULT_BANDS
    if isinstance(value, MarginBands):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"at_risk", "margin_call", "liquidating"}
        if unknown:
            raise InvalidInputError(
                "margin_bands", sorted(unknown), "unknown threshold(s); use at_risk, margin_call, liquidating"
            )
        return MarginBands(**{k: to_decimal(v, f"margin_bands.{k}") for k, v in value.items()})
    raise InvalidInputError("margin_bands", value, "must be MarginBands, a mapping of thresholds, or None")


def ratio_decimal(ratio_ppm: int) -> Decimal:
    """Return a ratio in parts per million as an exact decimal (``250000 -> 0.25``)."""
    d = Decimal(ratio_ppm).scaleb(-6).normalize()
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d  # 1E+1 -> 10


@dataclass(frozen=True, slots=True)
class MarginEvent:
    """One transition of the margin band or of the trading state.

    Attributes
    ----------
    timestamp
        When the check that saw it ran (simulation time in a backtest).
    kind
        ``"margin"`` (band) or ``"trading_state"``.
    from_, to
        The band (``healthy``, ``at_risk``, ``margin_call``, ``liquidating``) or the
        state (``active``, ``reduce_only``, ``halted``) before and after.
    ratio_ppm
        ``NLV / gross exposure`` in parts per million (rounded half-even; 1,000,000
        when flat); ``margin_ratio`` is the same as a decimal.
    nlv, maintenance_margin
        The account's figures at the prices the check used.
    detail
        Why, in words (e.g. the debit when NLV fell below zero).
    """

    timestamp: pd.Timestamp
    kind: EventKind
    from_: str
    to: str
    ratio_ppm: int
    nlv: Money
    maintenance_margin: Money
    detail: str = ""

    @property
    def margin_ratio(self) -> Decimal:
        """Return the margin ratio as an exact decimal."""
        return ratio_decimal(self.ratio_ppm)


class MarginMonitor:
    """Files an account into its band at each check and reports changes of band.

    The first check compares against ``healthy`` (an account starts healthy), so an
    account that starts in trouble reports it at once.
    """

    __slots__ = ("band", "bands")

    def __init__(self, bands: MarginBands | None = None) -> None:
        self.bands = bands or DEFAULT_BANDS
        self.band = MarginBand.HEALTHY

    def check(
        self, timestamp: pd.Timestamp, nlv: Money, gross_exposure: Money, maintenance: Money
    ) -> MarginEvent | None:
        """Classify the figures; return the transition, or ``None`` if the band held."""
        band = self.bands.classify(nlv.minor, gross_exposure.minor, maintenance.minor)
        if band is self.band:
            return None
        event = MarginEvent(
            timestamp,
            EventKind.MARGIN,
            self.band.value,
            band.value,
            rules.margin_ratio_ppm(nlv.minor, gross_exposure.minor),
            nlv,
            maintenance,
        )
        self.band = band
        return event
