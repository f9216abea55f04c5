"""Run one engine on one data set in this (fresh) process; write seconds, memory and outcome as JSON.

``python -m benchmarks.worker ENGINE DATA.npz OUT.json [--no-warmup] [--profile PATH]``

Order: import the adapter (and its library), load the data, convert it to the engine's
format, warm up on a small slice (imports, numba cache loads, first-call paths), then
time one full run with ``time.perf_counter``. Memory is the process's peak resident set
size (``VmHWM``, see ``peak_mb``) and, for reference, the resident size just before the
timed run (``/proc/self/statm``): a fresh process per measurement, so one engine's
allocations never count against another. RSS sees every allocation (numpy, numba's
NRT, C extensions); ``tracemalloc`` would miss numba's and slow the Python engines
while tracing.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.data import load  # noqa: E402
from benchmarks.engines import load as load_engine  # noqa: E402
from benchmarks.memory import peak_mb, rss_mb  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("engine")
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--profile", type=Path, help="write a pyinstrument profile of the timed run (text)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    engine = load_engine(args.engine)
    import_s = time.perf_counter() - t0
    if hasattr(engine, "available") and (why := engine.available()) is not None:
        args.out.write_text(json.dumps({"skipped": why}))
        return 0
    ds = load(args.data)
    small = ds.head(min(len(ds.index), 300), min(len(ds.symbols), 3), min(len(ds.pairs), 2))
    prepared = engine.prepare(ds)
    # Each engine keeps the data in its own format: an adapter whose ``prepare`` copies it
    # (the fast path's ``BarData``) does not keep the raw arrays, so they go here.
    del ds
    warmup_s = 0.0
    if not args.no_warmup:
        t1 = time.perf_counter()
        try:
            engine.run(engine.prepare(small))
        except NotImplementedError as exc:  # an engine still being written
            args.out.write_text(json.dumps({"skipped": f"NotImplementedError: {exc}"}))
            return 0
        warmup_s = time.perf_counter() - t1
    gc.collect()
    base = rss_mb()
    profiler = None
    if args.profile is not None:
        from pyinstrument import Profiler  # noqa: PLC0415 (only when profiling)

        profiler = Profiler(interval=0.001)
        profiler.start()
    t2 = time.perf_counter()
    raw = engine.run(prepared)
    seconds = time.perf_counter() - t2
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
        root = profiler.last_session.root_frame() if profiler.last_session else None
        split = self_time_by_area(root) if root is not None else {}
        args.profile.with_suffix(".json").write_text(json.dumps(split))
    peak = peak_mb()
    result = engine.outcome(raw, prepared)
    args.out.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "import_s": import_s,
                "warmup_s": warmup_s,
                "base_rss_mb": base,
                "peak_rss_mb": peak,
                "outcome": result.to_json(),
            }
        )
    )
    return 0


AREAS = (
    # (label, path fragment): the first match wins, so the strategy's files come first.
    ("strategy code", "examples/"),
    ("strategy code", "benchmarks/engines/event.py"),
    ("strategy code", "benchmarks/signals.py"),
    ("solvent engine loop + context", "solvent/engine/"),
    ("solvent broker + matching + gatekeeper", "solvent/execution/"),
    ("solvent accounting (ledger)", "solvent/accounting/"),
    ("solvent model (records, money)", "solvent/model/"),
    ("solvent results + metrics", "solvent/results/"),
    ("solvent (other)", "solvent/"),
    ("dataclass __init__ (generated code)", "<string>"),
    ("stdlib fractions (Fraction)", "/fractions.py"),
    ("pandas", "/pandas/"),
    ("numpy", "/numpy/"),
)


def area_of(path: str | None) -> str:
    if not path:
        return "builtins / C"
    p = path.replace("\\", "/")
    for label, fragment in AREAS:
        if fragment in p:
            return label
    return "python stdlib / other" if "site-packages" not in p else "other libraries"


def self_time_by_area(root: Any) -> dict[str, float]:
    """Return seconds of self time per area (a frame's time less its real children's)."""
    out: dict[str, float] = {}
    stack = [root]
    while stack:
        frame = stack.pop()
        real = [c for c in frame.children if not c.is_synthetic]
        own = frame.time - sum(c.time for c in real)
        key = area_of(frame.file_path)
        out[key] = out.get(key, 0.0) + own
        stack.extend(real)
    return out


if __name__ == "__main__":
    sys.exit(main())
