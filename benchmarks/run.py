"""Benchmark the SMA(10/50) all-in long-only strategy in solvent and its peers (issue 6 §3).

``python benchmarks/run.py [--runs 3] [--datasets a,b,c,grid] [--engines ...] [--quick]
[--skip-slow] [--no-first-call] [--no-profile] [--out benchmarks/RESULTS.md]``

Every measurement runs in a fresh worker process (``benchmarks/worker.py``): the
engines alternate within each round (the order rotates from round to round), and the
table shows the median of the rounds. Each engine's fills and final equity are compared
with solvent's event engine; the script exits 1 when an engine held to parity
disagrees (fills not identical, or final equity off by more than half a cent per fill)
or a worker fails. It also times numba's first call with an empty and a warm cache
(``benchmarks/first_call.py``), measures each engine's memory floor (its libraries
alone, ``benchmarks/floor.py``) and profiles the event engine with pyinstrument on ``b``
and ``c``. Results are printed as Rich tables and written to ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks.data import DATASETS, build  # noqa: E402
from benchmarks.engines import ENGINES, MAIN, OVERHEADS, VARIANTS  # noqa: E402
from benchmarks.engines.common import Outcome  # noqa: E402
from benchmarks.parity import Parity, compare  # noqa: E402

REFERENCE = "solvent-event"
SLOW = {("backtrader", "b")}  # dropped by --skip-slow (about a minute per run)
FIRST_CALL_ENGINES = ("solvent-fast", "vectorbt")
PROFILED = ("b", "c")
WORKER_TIMEOUT = 4 * 3600


@dataclass
class Measure:
    engine: str
    dataset: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    delta_mb: list[float] = field(default_factory=list)
    outcome: Outcome | None = None
    deterministic: bool = True
    skipped: str | None = None
    error: str | None = None
    parity: Parity | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def median_peak(self) -> float:
        return statistics.median(self.peak_mb) if self.peak_mb else float("nan")

    @property
    def median_delta(self) -> float:
        return statistics.median(self.delta_mb) if self.delta_mb else float("nan")


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["TQDM_DISABLE"] = "1"  # backtesting.py's progress bar: no output, no overhead
    env.update(extra or {})
    return env


def _worker(args: list[str], extra_env: dict[str, str] | None = None) -> tuple[dict[str, Any] | None, str]:
    """Run a worker module; return its JSON (None on failure) and its stderr tail."""
    out = Path(args[-1])
    out.unlink(missing_ok=True)
    proc = subprocess.run(  # noqa: S603 (our own worker modules, with this interpreter)
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=_env(extra_env),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    tail = "\n".join((proc.stderr or "").strip().splitlines()[-12:])
    if proc.returncode != 0 or not out.exists():
        return None, tail or f"exit status {proc.returncode}"
    data: dict[str, Any] = json.loads(out.read_text())
    return data, tail


def measure_all(
    engines: list[str],
    datasets: list[str],
    runs: int,
    files: dict[str, Path],
    tmp: Path,
    console: Console,
    skip: set[tuple[str, str]],
) -> dict[tuple[str, str], Measure]:
    results = {(e, d): Measure(e, d) for d in datasets for e in engines}
    for key in skip & set(results):
        results[key].skipped = "--skip-slow"
    for r in range(runs):
        for d in datasets:
            order = engines[r % len(engines) :] + engines[: r % len(engines)]
            for e in order:
                m = results[(e, d)]
                if m.skipped or m.error:
                    continue
                out = tmp / f"{d}-{e}-{r}.json"
                data, tail = _worker(["benchmarks.worker", e, str(files[d]), str(out)])
                if data is None:
                    m.error = tail
                    console.print(f"[red]run {r + 1}/{runs} {d} {e}: failed[/red]\n{tail}")
                    continue
                if "skipped" in data:
                    m.skipped = data["skipped"]
                    console.print(f"run {r + 1}/{runs} {d} {e}: skipped ({m.skipped})")
                    continue
                m.seconds.append(data["seconds"])
                m.peak_mb.append(data["peak_rss_mb"])
                m.delta_mb.append(max(0.0, data["peak_rss_mb"] - data["base_rss_mb"]))
                outcome = Outcome.from_json(data["outcome"])
                if m.outcome is None:
                    m.outcome = outcome
                elif outcome.fills != m.outcome.fills or outcome.equity != m.outcome.equity:
                    m.deterministic = False
                console.print(
                    f"run {r + 1}/{runs} {d:>4} {e:<20} {data['seconds']:9.3f} s"
                    f"  peak {data['peak_rss_mb']:7.1f} MB  equity {outcome.total_equity:,.2f}"
                    f"  fills {outcome.n_fills:,}"
                )
    return results


def check_parity(results: dict[tuple[str, str], Measure], datasets: list[str], engines: list[str]) -> bool:
    ok = True
    for d in datasets:
        ref_name = REFERENCE if REFERENCE in engines else engines[0]
        ref = results[(ref_name, d)].outcome
        for e in engines:
            m = results[(e, d)]
            if m.error:
                ok = False
            if not m.deterministic:
                ok = False
            if ref is None or m.outcome is None or e == ref_name or not ENGINES[e].parity:
                continue
            m.parity = compare(ref, m.outcome, ref_name, e)
            ok = ok and m.parity.ok
            both = ref.refused is not None and m.outcome.refused is not None
            if both and ref.refused != m.outcome.refused:
                # Same rules, so the same refusals are expected; reported, not a parity failure.
                m.parity = replace(
                    m.parity,
                    message=f"{m.parity.message}; refused {m.outcome.refused} vs {ref_name} {ref.refused}",
                )
    return ok


def first_calls(
    files: dict[str, Path], engines: list[str], tmp: Path, console: Console
) -> dict[str, dict[str, Any]]:
    """Time import + first call with an empty numba cache, then again with the cache it left."""
    out: dict[str, dict[str, Any]] = {}
    for e in (x for x in FIRST_CALL_ENGINES if x in engines):
        cache = Path(tempfile.mkdtemp(prefix=f"numba-{e}-", dir=tmp))
        rows: dict[str, Any] = {}
        for label in ("cold", "warm"):
            data, tail = _worker(
                ["benchmarks.first_call", e, str(files["a"]), str(tmp / f"first-{e}-{label}.json")],
                {"NUMBA_CACHE_DIR": str(cache)},
            )
            if data is None:
                rows[label] = {"error": tail}
                console.print(f"[red]first call {e} ({label}) failed[/red]\n{tail}")
            else:
                rows[label] = data
                if "skipped" not in data:
                    console.print(
                        f"first call {e:<14} {label}: import {data['import_s']:.2f} s,"
                        f" first run {data['first_s']:.2f} s, second run {data['second_s']:.3f} s"
                    )
        out[e] = rows
    return out


def floors(engines: list[str], tmp: Path, console: Console) -> dict[str, dict[str, Any]]:
    """Measure each engine's memory floor (``benchmarks/floor.py``): its libraries, no data."""
    out: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[tuple[str, ...], bool], dict[str, Any]] = {}
    for e in engines:
        key = (ENGINES[e].libraries, ENGINES[e].jit)
        if key in seen:  # a variant of an engine already measured: the same libraries
            out[e] = seen[key]
            continue
        data, tail = _worker(["benchmarks.floor", e, str(tmp / f"floor-{e}.json")])
        if data is None:
            console.print(f"[red]memory floor of {e} failed[/red]\n{tail}")
            continue
        out[e] = seen[key] = data
        jit = "" if data["jit_mb"] is None else f", {data['jit_mb']:.0f} MB after a first jitted call"
        console.print(f"memory floor {e:<20} {data['imports_mb']:.0f} MB after imports{jit}")
    return out


def profiles(
    files: dict[str, Path], datasets: list[str], tmp: Path, console: Console
) -> dict[str, dict[str, Any]]:
    """Profile the event engine (pyinstrument) on the data sets in ``PROFILED``."""
    out: dict[str, dict[str, Any]] = {}
    for d in (x for x in PROFILED if x in datasets):
        path = tmp / f"profile-{d}.txt"
        data, tail = _worker(
            [
                "benchmarks.worker",
                REFERENCE,
                str(files[d]),
                "--profile",
                str(path),
                str(tmp / f"profile-{d}-outcome.json"),
            ]
        )
        if data is None:
            console.print(f"[red]profile {d} failed[/red]\n{tail}")
            continue
        split = json.loads(path.with_suffix(".json").read_text())
        out[d] = {"seconds": data["seconds"], "text": path.read_text(), "split": split}
        console.print(f"profile {d}: {data['seconds']:.2f} s under pyinstrument")
    return out


def overheads(
    files: dict[str, Path], datasets: list[str], engines: list[str], repeats: int, tmp: Path, console: Console
) -> dict[tuple[str, str], dict[str, Any]]:
    """Time each (base, variant) pair alternately in one process (``benchmarks/overhead.py``)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for base, variant, _limit, label in OVERHEADS:
        if base not in engines or variant not in engines:
            continue
        for d in datasets:
            path = tmp / f"overhead-{base}-{d}.json"
            data, tail = _worker(
                ["benchmarks.overhead", base, variant, str(files[d]), "--repeats", str(repeats), str(path)]
            )
            if data is None:
                console.print(f"[red]overhead {label} on {d} failed[/red]\n{tail}")
                continue
            out[(label, d)] = data
            if "skipped" not in data:
                console.print(
                    f"overhead {label} on {d}: {100 * (data['ratio'] - 1):+.1f} %"
                    f" ({data['base_s']:.3f} s vs {data['variant_s']:.3f} s)"
                )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--runs", type=int, default=None, help="rounds per engine and data set (default 3; 1 with --quick)"
    )
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: a,b,c,grid")
    ap.add_argument(
        "--engines", default=",".join(MAIN + VARIANTS), help=f"comma-separated from {', '.join(ENGINES)}"
    )
    ap.add_argument("--quick", action="store_true", help="small data sets: a smoke test of the whole script")
    ap.add_argument("--skip-slow", action="store_true", help="drop Backtrader on b (about a minute per run)")
    ap.add_argument("--no-first-call", action="store_true", help="skip the numba first-call timings")
    ap.add_argument("--no-profile", action="store_true", help="skip the pyinstrument profiles")
    ap.add_argument("--no-overhead", action="store_true", help="skip the paired overhead timings")
    ap.add_argument("--no-floor", action="store_true", help="skip the memory floors (libraries only)")
    ap.add_argument("--out", type=Path, default=None, help="markdown report (default benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)

    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for d in datasets:
        if d not in DATASETS:
            ap.error(f"unknown data set {d!r}")
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}")
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        ap.error("--runs must be at least 1")
    out_path = args.out
    if out_path is None:
        out_path = (
            Path(tempfile.gettempdir()) / "solvent-bench-quick.md"
            if args.quick
            else REPO / "benchmarks" / "RESULTS.md"
        )

    # Wide enough for the tables when the output is not a terminal (make bench | tee).
    console = Console(width=None if sys.stdout.isatty() else 200)
    started = time.time()
    info = report.machine_info()
    with tempfile.TemporaryDirectory(prefix="solvent-bench-") as tmp_name:
        tmp = Path(tmp_name)
        files: dict[str, Path] = {}
        sets = {}
        for d in sorted(set(datasets) | ({"a"} if not args.no_first_call else set())):
            ds = build(d, quick=args.quick)
            files[d] = tmp / f"{d}.npz"
            ds.save(files[d])
            sets[d] = ds
        results = measure_all(engines, datasets, runs, files, tmp, console, SLOW if args.skip_slow else set())
        parity_ok = check_parity(results, datasets, engines)
        floor = {} if args.no_floor else floors(engines, tmp, console)
        first = {} if args.no_first_call else first_calls(files, engines, tmp, console)
        over = (
            {}
            if args.no_overhead
            else overheads(files, datasets, engines, 3 if args.quick else 7, tmp, console)
        )
        profs = {} if args.no_profile or REFERENCE not in engines else profiles(files, datasets, tmp, console)
    elapsed = time.time() - started

    for d in datasets:
        console.print(report.rich_table(d, sets[d], [results[(e, d)] for e in engines], floor))
    md = report.markdown(
        info=info,
        argv=sys.argv[1:] if argv is None else argv,
        runs=runs,
        quick=args.quick,
        sets=sets,
        datasets=datasets,
        engines=engines,
        results=results,
        first=first,
        floors=floor,
        overheads=over,
        profiles=profs,
        parity_ok=parity_ok,
        elapsed=elapsed,
    )
    out_path.write_text(md)
    console.print(f"wrote {out_path} ({elapsed / 60:.1f} min)")
    if not parity_ok:
        console.print("[red]engines disagree (or a worker failed): see the parity section[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
