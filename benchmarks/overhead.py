"""Measure what a check costs: a base engine and its variant, alternated in one process.

``python -m benchmarks.overhead BASE VARIANT DATA.npz OUT.json [--repeats 7]``

The overhead targets of issue 6 §4 are a few per cent (validation below 2 %, volume cap
and margin checks below 5 %), smaller than the spread between separate worker
processes on a shared machine. So both runs happen in the same warmed-up process, in
pairs whose order alternates (base first, then variant first), and the result is the
median of the per-pair ratios ``variant / base``. A load spike then hits one pair, not
one side. Pairs: ``solvent-event-noval`` / ``solvent-event`` (validation off vs on) and
``solvent-fast`` / ``solvent-fast-checks``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.data import load  # noqa: E402
from benchmarks.engines import load as load_engine  # noqa: E402


def timed(name: str, prepared: object) -> float:
    engine = load_engine(name)  # re-applies this engine's settings to the shared adapter module
    t0 = time.perf_counter()
    engine.run(prepared)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("base")
    ap.add_argument("variant")
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    engine = load_engine(args.base)
    if hasattr(engine, "available") and (why := engine.available()) is not None:
        args.out.write_text(json.dumps({"skipped": why}))
        return 0
    ds = load(args.data)
    prepared = engine.prepare(ds)  # the two names share one adapter module and its data format
    small = engine.prepare(ds.head(min(len(ds.index), 300), min(len(ds.symbols), 3), min(len(ds.pairs), 2)))
    for name in (args.base, args.variant):
        timed(name, small)
    ratios, base_s, variant_s = [], [], []
    for k in range(args.repeats):
        order = (args.base, args.variant) if k % 2 == 0 else (args.variant, args.base)
        t = {name: timed(name, prepared) for name in order}
        base_s.append(t[args.base])
        variant_s.append(t[args.variant])
        ratios.append(t[args.variant] / t[args.base])
    args.out.write_text(
        json.dumps(
            {
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                "base_s": statistics.median(base_s),
                "variant_s": statistics.median(variant_s),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
