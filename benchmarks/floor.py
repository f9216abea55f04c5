"""Measure an engine's memory floor: the peak RSS of a process that only loads its libraries.

``python -m benchmarks.floor ENGINE OUT.json``

Imports the third-party libraries the engine cannot run without (``EngineSpec.libraries``:
pandas, which in pandas 3 imports pyarrow; numba; vectorbt, ...) and records the peak
resident set size. For an engine that runs numba code (``EngineSpec.jit``) it then calls
one trivial compiled function and records the peak again: numba's first call of *any*
jitted function, compiled or loaded from the cache, sets up its compiler target (every
typing and lowering registry, LLVM, the runtime), about 60 MB that no engine built on
numba avoids. No data, no engine code: what is left of a worker's peak above this is the
engine's own (its modules, the data in its format, the run).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.engines import ENGINES  # noqa: E402 (imports nothing heavy)
from benchmarks.memory import peak_mb  # noqa: E402


def main(argv: list[str]) -> int:
    spec = ENGINES[argv[0]]
    out = Path(argv[1])
    for name in spec.libraries:
        importlib.import_module(name)
    result = {"libraries": list(spec.libraries), "imports_mb": peak_mb(), "jit_mb": None}
    if spec.jit:
        import numba  # noqa: PLC0415

        @numba.njit(cache=False)  # no cache file: nothing written
        def one(x: int) -> int:
            return x + 1

        one(1)
        result["jit_mb"] = peak_mb()
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
