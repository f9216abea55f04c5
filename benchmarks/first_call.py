"""Time a numba engine's first call in a fresh process: import, first run (compilation included), second run.

``NUMBA_CACHE_DIR=DIR python -m benchmarks.first_call ENGINE DATA.npz OUT.json``

``run.py`` calls it twice with the same new, empty ``NUMBA_CACHE_DIR``: the first time
numba compiles everything and writes its cache there ("cold"), the second time it loads
it ("warm"). No warm-up run here, on purpose.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main(argv: list[str]) -> int:
    engine_name, data, out = argv[0], Path(argv[1]), Path(argv[2])
    t0 = time.perf_counter()
    # Imported here on purpose: the import is part of what is timed.
    from benchmarks.data import load  # noqa: PLC0415
    from benchmarks.engines import load as load_engine  # noqa: PLC0415

    engine = load_engine(engine_name)
    import_s = time.perf_counter() - t0
    if hasattr(engine, "available") and (why := engine.available()) is not None:
        out.write_text(json.dumps({"skipped": why}))
        return 0
    prepared = engine.prepare(load(data))
    t1 = time.perf_counter()
    try:
        engine.run(prepared)
    except NotImplementedError as exc:
        out.write_text(json.dumps({"skipped": f"NotImplementedError: {exc}"}))
        return 0
    first_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    engine.run(prepared)
    second_s = time.perf_counter() - t2
    out.write_text(json.dumps({"import_s": import_s, "first_s": first_s, "second_s": second_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
