"""Profiles: named bundles of ordinary ``solvent.backtest`` settings.

A profile is never a separate code path. ``backtest(..., profile="backtrader")`` is
exactly ``backtest(...)`` with the keyword arguments in
``PROFILES["backtrader"].settings``; keyword arguments given explicitly win over the
profile's. ``"realistic"`` holds the defaults. The peer profiles reproduce the
semantics of VectorBT 1.2, Backtrader 1.9 and backtesting.py 0.6 where the event
engine can express them (``docs/parity.md`` has the table, point by point, and what
is not reproduced).

``WATERFALL_ORDER`` is the documented order in which ``solvent audit`` switches each
realistic setting on, one at a time, starting from a peer's profile: first what the
strategy could not have known (fill timing), then the price grid and the costs, then
the cash rules (short proceeds, leverage, when and how an entry is checked), then the
market's limits (zero volume, the volume cap) and last the day-trading rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from solvent.errors import InvalidInputError

#: The settings an audit switches from a peer's value to the realistic one, in order.
WATERFALL_ORDER: tuple[str, ...] = (
    "fill_timing",  # same-bar close (look-ahead) -> next bar
    "derived_prices",  # slippage and %-levels exact -> snapped to the tick
    "fixed_fee_per",  # a flip's fixed fee once per order or per leg
    "short_cash",  # short proceeds as buying power (unchecked) -> Reg T margin
    "initial_margin",  # initial-margin rate of every position (leverage)
    "placement_check",  # entries checked (and reserved) when placed, not only at the fill
    "partial_fills",  # scale an unaffordable entry down, or refuse it
    "unfunded",  # an entry the fill cannot fund: cancelled, or left working
    "zero_volume",  # zero-volume bars fill, or fill nothing
    "volume_limit",  # no cap -> at most 10% of the bar's volume
    "pdt",  # Pattern Day Trader rule off -> block
)


@dataclass(frozen=True, slots=True)
class Profile:
    """A named bundle of ``solvent.backtest`` keyword settings.

    Attributes
    ----------
    name
        The profile's name (``PROFILES`` key).
    description
        One line on whose semantics it reproduces.
    settings
        The ``backtest`` keyword arguments, read-only; every name of
        ``WATERFALL_ORDER`` is present.
    """

    name: str
    description: str
    settings: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [k for k in WATERFALL_ORDER if k not in self.settings]
        if missing:
            raise InvalidInputError(f"profile.{self.name}", missing, "settings missing from the profile")
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def permissive(self) -> list[str]:
        """Return the settings of this profile that turn a protection off."""
        return permissive(self.settings)


def _profile(name: str, description: str, **settings: object) -> Profile:
    return Profile(name, description, settings)


_REALISTIC = _profile(
    "realistic",
    "solvent's defaults: next-bar fills, Reg T, checked and reserved entries, volume cap",
    fill_timing="next_bar",
    derived_prices="tick",
    fixed_fee_per="order",
    short_cash="reg_t",
    initial_margin=Decimal("0.5"),
    placement_check=True,
    partial_fills=True,
    unfunded="defer",
    zero_volume="defer",
    volume_limit=Decimal("0.1"),
    pdt="block",
)

#: Every profile by name.
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "realistic": _REALISTIC,
        "vectorbt": _profile(
            "vectorbt",
            "VectorBT 1.2 Portfolio.from_signals/from_orders defaults (price=close of the signal bar)",
            fill_timing="same_bar_close",
            derived_prices="exact",
            fixed_fee_per="order",
            short_cash="credit",
            initial_margin=Decimal("0.5"),
            placement_check=False,
            partial_fills=True,
            unfunded="cancel",
            zero_volume="fill",
            volume_limit=None,
            pdt=None,
        ),
        "backtrader": _profile(
            "backtrader",
            "Backtrader 1.9 BackBroker defaults (checksubmit, shortcash, no filler)",
            fill_timing="next_bar",
            derived_prices="exact",
            fixed_fee_per="leg",
            short_cash="credit",
            initial_margin=Decimal("0.5"),
            placement_check=True,
            partial_fills=False,
            unfunded="cancel",
            zero_volume="fill",
            volume_limit=None,
            pdt=None,
        ),
        "backtesting": _profile(
            "backtesting",
            "backtesting.py 0.6 Backtest defaults (margin=1, orders checked at the fill)",
            fill_timing="next_bar",
            derived_prices="exact",
            fixed_fee_per="leg",
            short_cash="reg_t",
            initial_margin=Decimal(1),
            placement_check=False,
            partial_fills=False,
            unfunded="cancel",
            zero_volume="fill",
            volume_limit=None,
            pdt=None,
        ),
    }
)


def resolve_profile(name: str | Profile) -> Profile:
    """Return the profile called ``name`` (a ``Profile`` is returned as is).

    Raises
    ------
    InvalidInputError
        ``name`` is not a profile; the message lists the valid names.
    """
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in PROFILES)
        raise InvalidInputError("profile", name, f"is not a profile; choose one of {valid}") from None


class _Default:
    """The type of ``PROFILE``: "the profile's value" for a run's setting."""

    def __repr__(self) -> str:
        return "PROFILE"


#: The default of every profile setting of ``backtest`` and ``fast``: the profile's value.
PROFILE: Any = _Default()


def choose(profile: str | Profile, given: Mapping[str, object]) -> dict[str, Any]:
    """Return the profile's settings with every value in ``given`` that is not ``PROFILE``.

    The one place where explicit keywords win over a profile (``solvent.backtest`` and
    ``solvent.fast`` both call it).
    """
    chosen: dict[str, Any] = dict(resolve_profile(profile).settings)
    chosen.update({k: v for k, v in given.items() if v is not PROFILE})
    return chosen


def diff(a: str | Profile, b: str | Profile) -> list[str]:
    """Return the names of the settings whose values differ between two profiles.

    In ``WATERFALL_ORDER``, then any other setting either profile has, by name.
    """
    pa, pb = resolve_profile(a), resolve_profile(b)
    names = list(WATERFALL_ORDER) + sorted((set(pa.settings) | set(pb.settings)) - set(WATERFALL_ORDER))
    missing = object()
    return [k for k in names if pa.settings.get(k, missing) != pb.settings.get(k, missing)]


def permissive(settings: Mapping[str, object]) -> list[str]:
    """Return the settings in ``settings`` whose values turn a protection off.

    Same-bar fills (look-ahead), short proceeds credited without a margin check, fills
    on zero-volume bars, entries not checked or reserved when placed, no volume cap,
    no Pattern Day Trader rule, leverage beyond Reg T, and validation that does not
    refuse (``warn``, ``off``). A result's ``settings["permissive"]`` lists them and
    its summary and report show them.
    """
    out: list[str] = []
    if settings.get("fill_timing") == "same_bar_close":
        out.append("fill_timing")
    if settings.get("short_cash") == "credit":
        out.append("short_cash")
    im = settings.get("initial_margin")
    if isinstance(im, (Decimal, int, float)) and Decimal(str(im)) < Decimal("0.5"):
        out.append("initial_margin")
    if settings.get("placement_check") is False:
        out.append("placement_check")
    if settings.get("zero_volume") == "fill":
        out.append("zero_volume")
    if "volume_limit" in settings and settings["volume_limit"] is None:
        out.append("volume_limit")
    if "pdt" in settings and settings["pdt"] is None:
        out.append("pdt")
    if settings.get("validation") in ("warn", "off"):
        out.append("validation")
    return out
