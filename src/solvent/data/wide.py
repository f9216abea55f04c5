"""Wide frames: one column per (field, symbol), as ``yfinance.download`` returns them.

A pandas frame whose columns have two levels, one of them the bar fields (``Open``,
``High``, ``Low``, ``Close``, ``Volume``, optionally ``Dividend``, ``Split``; other fields
such as ``Adj Close`` are ignored like any extra column) and the other the symbols, in
either order (``group_by="column"`` or ``"ticker"``). ``wide_parts`` splits it into one
frame per symbol for ``from_frame``'s mapping path. A row where a symbol's four prices are
all missing is that symbol having no bar there (a wide frame has a cell for every symbol
at every timestamp); a row missing only some of them is left for validation to name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from solvent.data.checks import PRICE_FIELDS, DataError


def _field_level(columns: pd.MultiIndex) -> int | None:
    """Return the level whose names include every price field (case-insensitive), if one does."""
    found = [
        k
        for k in range(columns.nlevels)
        if set(PRICE_FIELDS) <= {str(v).strip().lower() for v in columns.levels[k]}
    ]
    return found[0] if len(found) == 1 else None


def wide_parts(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split a frame with ``(field, symbol)`` or ``(symbol, field)`` columns into ``{symbol: frame}``.

    Symbols keep the order of their first column. Raises ``DataError`` when the columns
    do not have exactly two levels or when neither level (or both) holds the price fields.
    """
    columns = df.columns
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels != 2:
        raise DataError(
            "data.columns", columns.nlevels, "a wide frame has two column levels: field and symbol"
        )
    field = _field_level(columns)
    if field is None:
        raise DataError(
            "data.columns",
            [list(map(str, level)) for level in columns.levels],
            f"two column levels, but not one holding the fields {list(PRICE_FIELDS)}",
        )
    sym_level = 1 - field
    parts: dict[str, pd.DataFrame] = {}
    for sym in dict.fromkeys(columns.get_level_values(sym_level)):
        name = str(sym).strip()
        if not name:
            raise DataError("symbol", sym, "empty symbol in the frame's columns")
        if name in parts:
            raise DataError("symbol", name, "the same symbol twice in the frame's columns")
        frame = df.xs(sym, axis=1, level=sym_level)
        assert isinstance(frame, pd.DataFrame)  # noqa: S101 - a level of a two-level index
        lowered = {str(c).strip().lower(): c for c in frame.columns}
        empty = frame[[lowered[f] for f in PRICE_FIELDS if f in lowered]].isna().to_numpy()
        parts[name] = frame.iloc[np.flatnonzero(~empty.all(axis=1))]
    return parts
