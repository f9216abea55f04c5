"""Bar data: aligned panels from pandas, polars, CSV and Parquet, with validation.

``BarData`` holds ``T`` timestamps × ``N`` symbols as numpy arrays; ``from_frame``,
``read_csv`` and ``read_parquet`` validate everything before building one; ``sample``
is a bundled, deterministic, synthetic panel. See ``docs/data.md``.
"""

from solvent.data.files import read_csv, read_parquet
from solvent.data.frame import BarData, DataError
from solvent.data.io import from_frame
from solvent.data.sample import sample

__all__ = ["BarData", "DataError", "from_frame", "read_csv", "read_parquet", "sample"]
