"""The Pattern Day Trader rule: counting day trades, and the two policies.

A **day trade** is opening and closing (any part of) a position in the same symbol in
the same session. Counted as FINRA counts them, by sequence: each time, within one
session, a symbol goes from a fill that opened quantity (bought to open or to add, or
sold short) to a fill that closes quantity while some of the session's opened quantity
is still held, that is one day trade. Buy, buy, sell all = 1; buy, sell, buy, sell = 2;
buy, sell half, sell half = 1. A position held overnight and sold is not a day trade.

Day trades are counted in a rolling window of the last **5 business days** (the
current session included), in simulation time, on a ``BusinessCalendar`` that skips
weekends and the configured holidays. Four or more in the window make the account a
pattern day trader. For margin accounts whose equity (the prior session's closing NLV)
is below $25,000:

``block`` (default, as retail brokers' PDT protection does)
    With 3 day trades in the window, an order that would complete a 4th (one that
    closes quantity opened in the current session) is refused at placement with
    ``PDT_RESTRICTED``.
``downgrade``
    Day trades go through; with 4 or more in the window the account is restricted and
    its buying power falls back to cash buying power until the window clears or
    equity reaches $25,000.

Cash accounts are not subject to the rule (day trades are still counted and reported).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from solvent.accounting import rules
from solvent.errors import InvalidInputError
from solvent.model.calendar import BusinessCalendar

#: Business days in the rolling window (the current session included).
WINDOW_BUSINESS_DAYS = 5
#: Day trades in the window that make an account a pattern day trader.
PATTERN_DAY_TRADES = 4


class PdtPolicy(StrEnum):
    """What happens to a margin account under $25,000 that day-trades too often."""

    BLOCK = "block"
    DOWNGRADE = "downgrade"


def resolve_pdt(value: PdtPolicy | str | None) -> PdtPolicy | None:
    """Return the policy named by ``value``; ``None``, ``"off"`` or ``"none"`` turn the rule off."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("off", "none"):
        return None
    try:
        return PdtPolicy(value)
    except ValueError:
        raise InvalidInputError("pdt", value, "unknown policy; use block, downgrade or None (off)") from None


@dataclass(slots=True)
class _SymbolSession:
    """Per symbol: what the current session opened, and whether the last fill opened."""

    session: date
    opened: int = 0  # lots opened this session and still held (absolute)
    last_opened: bool = False


class DayTradeCounter:
    """Counts day trades from fill legs, in a rolling window of business days.

    Parameters
    ----------
    calendar
        Business days (weekends and holidays skipped) for the rolling window.
    """

    __slots__ = ("_cache", "_sessions", "_symbols", "calendar")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._sessions: deque[tuple[date, int]] = deque()  # (session, day trades), oldest first
        self._symbols: dict[str, _SymbolSession] = {}
        self._cache: tuple[date, int] | None = None

    def set_calendar(self, calendar: BusinessCalendar) -> None:
        """Count the window on ``calendar`` from now on."""
        self.calendar = calendar
        self._cache = None

    def record(self, symbol: str, session: date, position_lots: int, fill_lots: int) -> bool:
        """Book a fill of ``fill_lots`` against a position of ``position_lots``.

        Returns whether the fill completed a day trade.
        """
        closing, opening = rules.split_fill(position_lots, fill_lots)
        return self.record_legs(symbol, session, position_lots, closing, opening)

    def record_legs(self, symbol: str, session: date, position_lots: int, closing: int, opening: int) -> bool:
        """``record`` of a fill already split against the position (``rules.split_fill``).

        The ledger splits every fill anyway: it passes the legs rather than split twice.
        """
        s = self._symbols.get(symbol)
        if s is None or s.session != session:
            if not opening:
                # Closing what an earlier session opened: no day trade, and a fresh
                # record would hold nothing (``would_count`` reads a missing one alike).
                return False
            s = self._symbols[symbol] = _SymbolSession(session)
        counted = False
        if closing:
            if s.opened > 0 and s.last_opened:
                counted = True
                self._add(session)
            s.last_opened = False
            s.opened = min(s.opened, abs(position_lots + closing))
        if opening:
            s.opened += abs(opening)
            s.last_opened = True
        return counted

    def _add(self, session: date) -> None:
        if self._sessions and self._sessions[-1][0] == session:
            self._sessions[-1] = (session, self._sessions[-1][1] + 1)
        else:
            self._sessions.append((session, 1))
        self._cache = None

    def would_count(self, symbol: str, session: date, position_lots: int, order_lots: int) -> bool:
        """Return whether an order filled in ``session`` would complete a day trade."""
        closing, _ = rules.split_fill(position_lots, order_lots)
        s = self._symbols.get(symbol)
        return bool(closing) and s is not None and s.session == session and s.opened > 0 and s.last_opened

    def in_window(self, day: date, today: date) -> bool:
        """Return whether session ``day`` lies in the window that ends with ``today``."""
        return self.calendar.business_days_between(day, today + timedelta(days=1)) <= WINDOW_BUSINESS_DAYS

    def count(self, today: date | None) -> int:
        """Return the day trades in the rolling window ending with session ``today``."""
        if today is None or not self._sessions:
            return 0
        if self._cache is not None and self._cache[0] == today:
            return self._cache[1]
        while self._sessions and not self.in_window(self._sessions[0][0], today):
            self._sessions.popleft()  # time only moves forward: an old session never returns
        n = sum(k for _, k in self._sessions)
        self._cache = (today, n)
        return n

    def sessions(self) -> tuple[tuple[date, int], ...]:
        """Return ``(session, day trades)`` for the sessions still kept, oldest first."""
        return tuple(self._sessions)
