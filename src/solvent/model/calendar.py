"""A business-day calendar (weekends and configurable holidays skipped).

Sessions are calendar dates of bar timestamps. Settlement (T+n) and the Pattern Day
Trader window count business days in *simulation* time, never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np

from solvent.model.records import TimeLike, to_timestamp


class BusinessCalendar:
    """Business days: Monday to Friday, minus ``holidays``.

    Parameters
    ----------
    holidays
        Dates (anything ``pd.Timestamp`` accepts) on which markets are closed.
    """

    def __init__(self, holidays: Iterable[TimeLike] = ()) -> None:
        days = sorted({to_timestamp(h, "holiday").date() for h in holidays})
        self._holidays = np.array(days, dtype="datetime64[D]")

    def add_business_days(self, day: date, n: int) -> date:
        """Return the business day ``n`` business days after ``day`` (``day`` if n=0).

        A non-business ``day`` is first rolled forward to the next business day.
        """
        d = np.datetime64(day, "D")
        out = np.busday_offset(d, n, roll="forward", holidays=self._holidays)
        result: date = out.astype(object)
        return result

    def business_days_between(self, start: date, end: date) -> int:
        """Return how many business days lie in ``[start, end)``."""
        return int(
            np.busday_count(np.datetime64(start, "D"), np.datetime64(end, "D"), holidays=self._holidays)
        )

    def is_business_day(self, day: date) -> bool:
        """Return whether ``day`` is a business day."""
        return bool(np.is_busday(np.datetime64(day, "D"), holidays=self._holidays))


DEFAULT_CALENDAR = BusinessCalendar()
