"""The broker's last prices, written from the runner's grid only when the broker reads one.

``Runner`` (``runner_state``) installs a ``LastCloses`` as the broker's ``_last_close``
and moves it forward with ``catch_up`` (``marking.Marking._sync_last_close``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class LastCloses(dict[str, int]):
    """The broker's last prices, each written from the runner's row when first read.

    After quiet bars every symbol's last close has moved, but placing an order reads
    only its own symbol's (and those of working orders): writing all of them at each
    placement bar cost more than the placement. ``catch_up(row)`` makes ``row`` (the
    last closes as of a bar, 0 where a symbol had no bar yet) the truth for every symbol;
    a read of one symbol (``get``, ``[]``, ``in``: the broker reads no other way) writes
    its entry from it first. A write by the broker (a bar's close, a split) is newer than
    the row and stays.
    """

    __slots__ = ("_col", "_gen", "_row", "_seen")

    def __init__(self, col: dict[str, int], seed: Mapping[str, int]) -> None:
        super().__init__(seed)
        self._col = col
        self._row: IntArray = np.zeros(len(col), dtype=np.int64)
        self._gen = 0  # bumped by each ``catch_up``
        self._seen = [0] * len(col)  # the generation each symbol's entry is up to date with

    def catch_up(self, row: IntArray) -> None:
        """Let every symbol's entry be ``row``'s from now on (0: leave the entry as it is)."""
        self._row = row
        self._gen += 1

    def _read(self, key: str) -> None:
        j = self._col.get(key)
        if j is not None and self._seen[j] != self._gen:
            self._seen[j] = self._gen
            ticks: int = self._row.item(j)
            if ticks:
                dict.__setitem__(self, key, ticks)

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """Return the last price of ``key`` (``default`` when it has none)."""
        self._read(key)
        return dict.get(self, key, default)

    def __getitem__(self, key: str) -> int:
        self._read(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._read(key)
        return dict.__contains__(self, key)

    def __setitem__(self, key: str, value: int) -> None:
        j = self._col.get(key)
        if j is not None:
            self._seen[j] = self._gen
        dict.__setitem__(self, key, value)

    def update(self, other: Mapping[str, int]) -> None:  # type: ignore[override]
        """Write the entries of ``other`` (newer than the row)."""
        col, seen, gen = self._col, self._seen, self._gen
        for key in other:
            j = col.get(key)
            if j is not None:
                seen[j] = gen
        dict.update(self, other)
