"""The fast path's settings: a profile, the keywords that override it, and their checks.

A profile (``solvent.profiles``) is only a bundle of ordinary settings, resolved here
exactly as ``solvent.backtest`` resolves it: the profile's value for every setting
left at ``PROFILE``, the keyword's value otherwise. The compiled loop then reads the
settings as flags in its parameter row (``_layout.P_*``); there is no second code path
per profile. Two settings are not taken from the profile (docs/fast.md):

* ``volume_limit`` defaults to ``None`` (no cap), as issue 6 specifies for the fast
  path, where ``solvent.backtest``'s realistic default is 10%; the peer profiles all
  have ``None``.
* ``pdt`` defaults to ``None``: the loop does not apply the Pattern Day Trader rule.
  ``"block"`` and ``"downgrade"`` are accepted only where they cannot change a fill
  (``check_pdt``), and refused with ``NotLoweredError`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.accounting import rules
from solvent.errors import InvalidInputError
from solvent.execution.matching import FillTiming
from solvent.execution.policies import FixedFeePer, ShortCash, Unfunded, ZeroVolume, setting
from solvent.fast import _layout as ly
from solvent.fast._costs import NotLoweredError
from solvent.model.instrument import Instrument, default_instruments
from solvent.model.money import Number, to_decimal
from solvent.profiles import PROFILE, Profile, choose, permissive, resolve_profile
from solvent.risk.pdt import resolve_pdt

I64 = npt.NDArray[np.int64]

__all__ = ["PROFILE", "Settings", "check_pdt", "resolve"]


#: Nanoseconds per day: sessions are the calendar dates of the timestamps (the engine's rule).
_NS_PER_DAY = 86_400_000_000_000


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidInputError(name, value, "must be True or False")
    return bool(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of one run, resolved and checked."""

    profile: str
    fill_timing: FillTiming
    derived_prices: str
    fixed_fee_per: FixedFeePer
    short_cash: ShortCash
    initial_margin: Decimal
    placement_check: bool
    partial_fills: bool
    unfunded: Unfunded
    zero_volume: ZeroVolume
    volume_limit: Number | None
    pdt: str | None
    lot_size: Decimal

    @property
    def base_ppm(self) -> int:
        """Return the rate a margin account quotes buying power at (``Account(initial_margin=)``)."""
        return int(self.initial_margin * rules.RATE_SCALE)

    def default_instruments(self) -> Callable[[tuple[str, ...]], tuple[Instrument, ...]]:
        """Return the maker of symbols' instruments under these settings (``solvent.backtest``'s)."""
        dp, im, lot = self.derived_prices, self.initial_margin, self.lot_size
        return lambda symbols: _default_instruments(symbols, dp, im, lot)

    def write(self, prm: I64) -> None:
        """Write the broker settings into the loop's parameter row."""
        prm[ly.P_PARTIAL] = int(self.partial_fills)
        prm[ly.P_SAME_BAR] = int(self.fill_timing is FillTiming.SAME_BAR_CLOSE)
        prm[ly.P_ZERO_FILL] = int(self.zero_volume is ZeroVolume.FILL)
        prm[ly.P_CREDIT] = int(self.short_cash is ShortCash.CREDIT)
        prm[ly.P_LEG_FEES] = int(self.fixed_fee_per is FixedFeePer.LEG)
        prm[ly.P_PLACE_CHECK] = int(self.placement_check)
        prm[ly.P_CANCEL] = int(self.unfunded is Unfunded.CANCEL)

    def record(self, base: dict[str, Any], instruments_given: bool) -> dict[str, Any]:
        """Return a result's ``settings``: ``base``, then every setting and ``permissive``."""
        out = dict(base)
        out.update(
            {
                "profile": self.profile,
                "partial_fills": self.partial_fills,
                "pdt": self.pdt,
                "fill_timing": self.fill_timing.value,
                # Same-bar fills trade at a close the strategy has already seen.
                "look_ahead": self.fill_timing is FillTiming.SAME_BAR_CLOSE,
                "derived_prices": self.derived_prices,
                "fixed_fee_per": self.fixed_fee_per.value,
                "short_cash": self.short_cash.value,
                "initial_margin": self.initial_margin,
                "placement_check": self.placement_check,
                "unfunded": self.unfunded.value,
                "zero_volume": self.zero_volume.value,
                "lot_size": self.lot_size,
                "instruments": "given, US equity for the others" if instruments_given else "US equity",
            }
        )
        # The settings that turn a protection off (look-ahead, unchecked shorts, ...).
        out["permissive"] = permissive(out)
        return out


@lru_cache(maxsize=256)
def _default_instruments(
    symbols: tuple[str, ...], derived_prices: str, initial_margin: Decimal, lot_size: Decimal
) -> tuple[Instrument, ...]:
    """Return the instruments ``solvent.backtest`` trades ``symbols`` as (immutable, so shared).

    One call for all of a panel's symbols: ``default_instruments`` checks the settings
    once and copies one instrument per symbol (100 symbols: 1.2 ms one by one, 0.3 ms
    together); a panel's symbols are cached together, as the next run uses them again.
    """
    return tuple(default_instruments(symbols, derived_prices, initial_margin, lot_size))


def resolve(
    profile: str | Profile,
    *,
    fill_timing: object,
    derived_prices: object,
    fixed_fee_per: object,
    short_cash: object,
    initial_margin: object,
    placement_check: object,
    partial_fills: object,
    unfunded: object,
    zero_volume: object,
    volume_limit: Number | None,
    pdt: object,
    lot_size: Number,
) -> Settings:
    """Return the settings of a run: the profile's, overridden by the keywords given.

    Raises
    ------
    InvalidInputError
        An unknown profile, or a setting outside its values (named).
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
        },
    )
    derived = chosen["derived_prices"]
    im = to_decimal(chosen["initial_margin"], "initial_margin", positive=True)
    lot = to_decimal(lot_size, "lot_size", positive=True)
    default_instruments([], derived, im, lot)  # the engine's checks of the three
    if im * rules.RATE_SCALE != (im * rules.RATE_SCALE).to_integral_value():
        raise InvalidInputError(
            "initial_margin", chosen["initial_margin"], "rates are kept to 6 decimal places"
        )
    policy = resolve_pdt(pdt)  # type: ignore[arg-type]
    return Settings(
        profile=prof.name,
        fill_timing=setting(FillTiming, chosen["fill_timing"], "fill_timing"),
        derived_prices=str(derived),
        fixed_fee_per=setting(FixedFeePer, chosen["fixed_fee_per"], "fixed_fee_per"),
        short_cash=setting(ShortCash, chosen["short_cash"], "short_cash"),
        initial_margin=im,
        placement_check=_flag(chosen["placement_check"], "placement_check"),
        partial_fills=bool(chosen["partial_fills"]),  # as the broker takes it
        unfunded=setting(Unfunded, chosen["unfunded"], "unfunded"),
        zero_volume=setting(ZeroVolume, chosen["zero_volume"], "zero_volume"),
        volume_limit=volume_limit,
        pdt=None if policy is None else policy.value,
        lot_size=lot,
    )


def check_pdt(settings: Settings, account_is_cash: bool, index: pd.DatetimeIndex) -> None:
    """Refuse a Pattern Day Trader policy where the loop's results could differ.

    The loop has no PDT rule. A policy changes nothing where no day trade can happen
    (a day trade opens and closes a symbol in one session, a calendar date): in a cash
    account, which the rule does not cover, or with next-bar fills on bars of which no
    two share a date. Each bar then fills every order of a symbol in one direction
    (the orders the rules place for a symbol all head the same way), so nothing is
    opened and closed in one session, no day trade is counted and neither ``block``
    nor ``downgrade`` ever acts. Elsewhere the policy is refused.

    Raises
    ------
    NotLoweredError
        ``pdt`` is ``"block"`` or ``"downgrade"`` and a day trade could happen.
    """
    if settings.pdt is None or account_is_cash:
        return
    why = ""
    if settings.fill_timing is FillTiming.SAME_BAR_CLOSE:
        why = "with same-bar fills a position opened at a bar's open can close at its close"
    else:
        days = index.values.astype("datetime64[ns]").view(np.int64) // _NS_PER_DAY
        same = np.flatnonzero(days[1:] == days[:-1])
        if same.size:
            why = f"several bars share the date of {index[int(same[0])]}, so a day trade can happen"
    if why:
        raise NotLoweredError(
            "pdt",
            settings.pdt,
            f"the fast path does not apply the Pattern Day Trader rule and {why}; "
            "pass pdt=None or use solvent.backtest",
        )
