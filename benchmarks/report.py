"""Render benchmark results: Rich tables for the terminal, ``RESULTS.md`` for the repository."""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from benchmarks.data import DESCRIPTIONS, Dataset
from benchmarks.engines import ENGINES, OVERHEADS

if TYPE_CHECKING:
    from benchmarks.run import Measure

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("solvent", "numpy", "pandas", "numba", "vectorbt", "backtesting", "backtrader", "pyinstrument")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _git(*args: str) -> str:
    try:
        # Read-only git queries (commit id, dirty state) for the report header.
        out = subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def machine_info() -> dict[str, str]:
    versions = []
    for p in PACKAGES:
        try:
            versions.append(f"{p} {md.version(p)}")
        except md.PackageNotFoundError:
            versions.append(f"{p} (not installed)")
    # RESULTS.md is this report's own output: an earlier run's copy does not make the tree
    # it measures another one.
    dirty = _git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/RESULTS.md"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu()}, {os.cpu_count()} logical CPUs, {_ram_gb():.0f} GiB RAM",
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": ", ".join(versions),
        "commit": (_git("rev-parse", "--short", "HEAD") or "unknown")
        + (" + uncommitted changes" if dirty else ""),
        "load": "{:.2f} / {:.2f} / {:.2f}".format(*load),
    }


def _num(x: float, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _ratio(a: float, b: float) -> str:
    if any(math.isnan(v) for v in (a, b)) or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def floor_mb(floors: dict[str, dict[str, Any]], engine: str) -> float:
    """Return an engine's memory floor in MB (after its first jitted call if it runs numba code)."""
    f = floors.get(engine)
    if not f:
        return float("nan")
    return float(f["jit_mb"] if f.get("jit_mb") is not None else f["imports_mb"])


def _rows(ds: Dataset, measures: list[Measure], floors: dict[str, dict[str, Any]]) -> list[list[str]]:
    by = {m.engine: m for m in measures}
    ev, fa = by.get("solvent-event"), by.get("solvent-fast")
    rows = []
    for m in measures:
        if m.skipped or m.error or not m.seconds:
            why = m.skipped or ("error: " + (m.error or "").splitlines()[-1][:80] if m.error else "no data")
            rows.append([m.engine, why] + [""] * (len(HEADER) - 2))
            continue
        out = m.outcome
        rng = f"{min(m.seconds):.3f}–{max(m.seconds):.3f}" if len(m.seconds) > 1 else ""
        ev_ratio = _ratio(ev.median_s, m.median_s) if ev and ev.seconds and m is not ev else ""
        fa_ratio = _ratio(fa.median_s, m.median_s) if fa and fa.seconds and m is not fa else ""
        fa_mem = _ratio(fa.median_peak, m.median_peak) if fa and fa.seconds and m is not fa else ""
        rows.append(
            [
                m.engine,
                f"{m.median_s:.3f}",
                rng,
                f"{ds.bars / m.median_s:,.0f}",
                f"{m.median_peak:.0f}",
                _num(floor_mb(floors, m.engine), ".0f"),
                f"{m.median_delta:.0f}",
                f"{out.total_equity:,.2f}" if out else "",
                f"{out.n_fills:,}" if out else "",
                f"{out.n_trades:,}" if out else "",
                "–" if out is None or out.refused is None else f"{out.refused:,}",
                ev_ratio,
                fa_ratio,
                fa_mem,
            ]
        )
    return rows


HEADER = [
    "engine",
    "median s",
    "min–max s",
    "bars/s",
    "peak MB",
    "floor MB",
    "Δ MB",
    "final equity (sum)",
    "fills",
    "trades",
    "refused",
    "event÷this (time)",
    "fast÷this (time)",
    "fast÷this (peak mem)",
]


def rich_table(
    name: str, ds: Dataset, measures: list[Measure], floors: dict[str, dict[str, Any]] | None = None
) -> Table:
    t = Table(title=f"{name}: {DESCRIPTIONS[name]} ({ds.bars:,} bars)")
    for h in HEADER:
        t.add_column(h, justify="left" if h == "engine" else "right")
    for row in _rows(ds, measures, floors or {}):
        t.add_row(*row)
    return t


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _target(label: str, value: float, limit: float, unit: str = "×") -> list[str]:
    if math.isnan(value):
        return [label, f"≤ {limit:g}{unit}", "not measured", ""]
    met = value <= limit
    verdict = "met" if met else f"missed by {value / limit:.1f}× ({value:.2f}{unit} vs {limit:g}{unit})"
    return [label, f"≤ {limit:g}{unit}", f"{value:.3g}{unit}", verdict]


def panel_mb(ds: Dataset) -> float:
    """Return the MB of ``ds``'s bars as a ``BarData`` panel: five float grids, presence, stamps."""
    t, n = len(ds.index), len(ds.symbols)
    return (t * n * (5 * 8 + 1) + t * 8) / 2**20


#: Issue 6 §4: the event engine's time at most this share of backtesting.py's, per data set.
EVENT_TARGETS = {"b": 0.25, "c": 0.1}


def targets(
    datasets: list[str],
    results: dict[tuple[str, str], Measure],
    first: dict[str, dict[str, Any]],
    overheads: dict[tuple[str, str], dict[str, Any]],
    floors: dict[str, dict[str, Any]] | None = None,
    sets: dict[str, Dataset] | None = None,
) -> list[list[str]]:
    def med(e: str, d: str, attr: str = "median_s") -> float:
        m = results.get((e, d))
        return float(getattr(m, attr)) if m is not None and m.seconds else float("nan")

    rows = []
    for d in datasets:
        rows.append(_target(f"fast ÷ VectorBT time, {d}", med("solvent-fast", d) / med("vectorbt", d), 0.5))
    for d, limit in EVENT_TARGETS.items():
        if d in datasets:
            ratio = med("solvent-event", d) / med("backtesting.py", d)
            rows.append(_target(f"event ÷ backtesting.py time, {d}", ratio, limit))
    fast = first.get("solvent-fast", {})
    for label, limit in (("cold", 5.0), ("warm", 1.0)):
        v = fast.get(label, {}).get("first_s", float("nan"))
        rows.append(_target(f"fast first call, {label} numba cache (a)", v, limit, " s"))
    floor = floor_mb(floors or {}, "solvent-fast")
    for d in datasets:
        vbt_peak = med("vectorbt", d, "median_peak")
        row = _target(
            f"fast ÷ VectorBT peak memory, {d}", med("solvent-fast", d, "median_peak") / vbt_peak, 0.5
        )
        data = panel_mb(sets[d]) if sets and d in sets else 0.0
        if floor > 0.5 * vbt_peak:  # (False when either is missing: NaN compares False)
            row[3] += (
                f"; out of reach: the fast path's library floor ({floor:.0f} MB, pandas + numba before any"
                f" data) is above half of VectorBT's peak ({0.5 * vbt_peak:.0f} MB)"
            )
        elif floor + data > 0.5 * vbt_peak:
            row[3] += (
                f"; out of reach: the fast path's library floor ({floor:.0f} MB) and the bars as its"
                f" panel ({data:.0f} MB, before any run) are above half of VectorBT's peak"
                f" ({0.5 * vbt_peak:.0f} MB)"
            )
        rows.append(row)
    for _base, _variant, limit, label in OVERHEADS:
        for d in datasets:
            r = overheads.get((label, d), {})
            value = 100 * (r["ratio"] - 1) if "ratio" in r else float("nan")
            rows.append(_target(f"{label} overhead, {d} (paired)", value, 100 * limit, " %"))
    return rows


def _floor_md(floors: dict[str, dict[str, Any]]) -> list[str]:
    rows = [
        [
            e,
            ", ".join(f["libraries"]),
            f"{f['imports_mb']:.0f}",
            "" if f.get("jit_mb") is None else f"{f['jit_mb']:.0f}",
        ]
        for e, f in floors.items()
    ]
    return [
        "## Memory floor",
        "",
        "Peak resident set size of a fresh process that imports only the engine's libraries"
        " (`benchmarks/floor.py`; pandas 3 imports pyarrow) and, for an engine that runs numba code,"
        " then calls one trivial jitted function: numba's first call of any compiled function, cached"
        " or not, sets up its compiler target (every typing and lowering registry, LLVM, the runtime)."
        " No data and no engine code; the rest of a worker's peak is the engine's own.",
        "",
        *_md_table(["engine", "libraries", "after imports MB", "after a first jitted call MB"], rows),
        "",
    ]


def _loop_md(datasets: list[str], results: dict[tuple[str, str], Measure]) -> list[str]:
    """The event engine's time over ``python-loop``'s (the floor), per fill and per target."""
    rows = []
    for d in datasets:
        ev, loop, peer = (results.get((e, d)) for e in ("solvent-event", "python-loop", "backtesting.py"))
        if ev is None or loop is None or not ev.seconds or not loop.seconds or ev.outcome is None:
            continue
        fills = ev.outcome.n_fills
        own = ev.median_s - loop.median_s
        limit = EVENT_TARGETS.get(d)
        room = ""
        if limit is not None and peer is not None and peer.seconds:
            budget = limit * peer.median_s - loop.median_s
            room = f"{1e6 * budget / fills:.0f} µs" if fills else ""
        rows.append(
            [
                d,
                f"{ev.median_s:.3f}",
                f"{loop.median_s:.3f}",
                f"{own:.3f}",
                f"{fills:,}",
                f"{1e6 * own / fills:.0f} µs" if fills else "",
                room,
            ]
        )
    if not rows:
        return []
    header = ["data", "event s", "python-loop s", "engine's own s", "fills", "per fill", "target allows"]
    return [
        "## The event engine over a bare loop",
        "",
        "`python-loop` runs the same decisions through a plain Python loop with integer cash and no"
        " rules (`benchmarks/engines/bare.py`): what the strategy costs without an engine. The"
        " difference is the engine's own work (orders, the gatekeeper, matching, the ledger, lots,"
        ' records, the equity curve, the strategy\'s calls into them), here per fill; "target allows" is'
        " that budget per fill under the event ÷ backtesting.py target (0.25× on b, 0.1× on c).",
        "",
        *_md_table(header, rows),
        "",
    ]


def _profile_md(name: str, prof: dict[str, Any]) -> list[str]:
    split: dict[str, float] = prof["split"]
    total = sum(split.values()) or 1.0
    rows = [
        [k, f"{v:.2f}", f"{100 * v / total:.1f} %"] for k, v in sorted(split.items(), key=lambda kv: -kv[1])
    ]
    strategy = split.get("strategy code", 0.0) / total
    engine = (
        sum(v for k, v in split.items() if k.startswith(("solvent", "dataclass", "stdlib fractions"))) / total
    )
    verdict = (
        "the engine, not the strategy, dominates" if engine > strategy else "the strategy's code dominates"
    )
    lines = [
        f"### Event engine on {name} ({prof['seconds']:.1f} s under pyinstrument)",
        "",
        f"The strategy's own code (the self time of its file's frames) is {100 * strategy:.0f} % of the run;"
        f" solvent's engine loop, broker, ledger, records and results (with the dataclass constructors and"
        f" `fractions` they call) are {100 * engine:.0f} %: **{verdict}**.",
        "",
        "Self time by area (a frame's time less its callees'; the strategy's own code is its file's frames):",
        "",
        *_md_table(["area", "s", "share"], rows),
        "",
        "Top of the call tree:",
        "",
        "```",
        *prof["text"].splitlines()[:60],
        "```",
        "",
    ]
    return lines


def markdown(
    *,
    info: dict[str, str],
    argv: list[str],
    runs: int,
    quick: bool,
    sets: dict[str, Dataset],
    datasets: list[str],
    engines: list[str],
    results: dict[tuple[str, str], Measure],
    first: dict[str, dict[str, Any]],
    overheads: dict[tuple[str, str], dict[str, Any]],
    profiles: dict[str, dict[str, Any]],
    floors: dict[str, dict[str, Any]] | None = None,
    parity_ok: bool,
    elapsed: float,
) -> str:
    lines = [
        "# Benchmarks: SMA(10/50) all-in long-only, 0.1 % commission",
        "",
        "Written by `python benchmarks/run.py` (`make bench`); see `benchmarks/README.md` for the method.",
        "",
        f"- Date: {info['date']}; command: `benchmarks/run.py {' '.join(argv)}`"
        + (" (QUICK: small data, not a measurement)" if quick else "")
        + f"; {runs} round(s); {elapsed / 60:.1f} min.",
        f"- Machine: {info['machine']}; {info['os']}; Python {info['python']}.",
        f"- Load average at the start (1/5/15 min): {info['load']}. Other work on the machine inflates and"
        " spreads the times; compare engines within one run only.",
        f"- Packages: {info['packages']}.",
        f"- Tree: {info['commit']}.",
        f"- Parity: {'**all engines agree**' if parity_ok else '**FAILED** (see below)'}.",
        "",
        "Columns: median wall seconds of the timed run (each in a fresh process, after a warm-up on a"
        " 300-bar slice); bars/s = timestamps × symbols × pairs ÷ median s; peak MB = the worker's peak"
        " resident set size (interpreter, libraries, data and run); floor MB = the peak of a process that"
        ' only loads the engine\'s libraries (see "Memory floor"); Δ MB = peak less the resident size'
        " just before the timed run; final equity summed over the independent accounts (one per symbol"
        " and pair, 100,000 each); trades = round trips closed. Ratios are solvent ÷ this engine"
        " (below 1: solvent is faster / smaller).",
        "",
    ]
    for d in datasets:
        ds = sets[d]
        lines += [f"## {d}: {DESCRIPTIONS[d]} ({ds.bars:,} bars)", ""]
        lines += _md_table(HEADER, _rows(ds, [results[(e, d)] for e in engines], floors or {}))
        lines.append("")
    lines += ["## Parity (against solvent's event engine)", ""]
    prow = []
    for d in datasets:
        for e in engines:
            m = results[(e, d)]
            if m.error:
                prow.append([d, e, "**worker failed**: " + " ".join(m.error.splitlines()[-2:])[:200]])
            elif m.skipped:
                prow.append([d, e, f"skipped ({m.skipped})"])
            elif not m.deterministic:
                prow.append([d, e, "**not deterministic across rounds**"])
            elif e == "solvent-event":
                prow.append([d, e, "reference"])
            elif not ENGINES[e].parity:
                prow.append([d, e, f"not compared: {ENGINES[e].note}"])
            elif m.parity is not None:
                status = "ok" if m.parity.ok else "**FAIL**"
                prow.append([d, e, f"{status}: {m.parity.message}"])
    lines += _md_table(["data", "engine", "result"], prow)
    lines.append("")
    if first:
        lines += [
            "## First call (numba compilation), data set a",
            "",
            "A fresh process with `NUMBA_CACHE_DIR` pointed at a new empty directory (cold: everything"
            " compiles and is cached there), then a second fresh process on that cache (warm).",
            "",
        ]
        frow = []
        for e, rows in first.items():
            for label in ("cold", "warm"):
                r = rows.get(label, {})
                if "skipped" in r or "error" in r:
                    frow.append([e, label, r.get("skipped") or "error", "", "", ""])
                    continue
                frow.append(
                    [
                        e,
                        label,
                        f"{r['import_s']:.2f}",
                        f"{r['first_s']:.2f}",
                        f"{r['import_s'] + r['first_s']:.2f}",
                        f"{r['second_s']:.3f}",
                    ]
                )
        lines += _md_table(
            ["engine", "cache", "import s", "first call s", "import + first s", "second call s"], frow
        )
        lines.append("")
    if overheads:
        lines += [
            "## Overheads, paired in one process",
            "",
            "Base and variant alternate in one warmed-up process (base first, then variant first, ...);"
            " the overhead is the median of the per-pair ratios variant ÷ base, which a load spike moves"
            " far less than the separate medians in the tables above.",
            "",
        ]
        orow = []
        for (label, d), r in overheads.items():
            if "ratio" not in r:
                orow.append([label, d, r.get("skipped", "failed"), "", "", ""])
                continue
            each = ", ".join(f"{100 * (x - 1):+.1f}" for x in r["ratios"])
            overhead = f"{100 * (r['ratio'] - 1):+.1f} %"
            orow.append([label, d, f"{r['base_s']:.3f}", f"{r['variant_s']:.3f}", overhead, each])
        header = ["check", "data", "base s", "with the check s", "overhead (median)", "each pair, %"]
        lines += _md_table(header, orow)
        lines.append("")
    if floors:
        lines += _floor_md(floors)
    lines += ["## Targets (issue 6 §4)", ""]
    lines += _md_table(
        ["target", "limit", "measured", "verdict"], targets(datasets, results, first, overheads, floors, sets)
    )
    lines.append("")
    lines += _loop_md(datasets, results)
    if profiles:
        lines += ["## Where the event engine's time goes (pyinstrument)", ""]
        for d, prof in profiles.items():
            lines += _profile_md(d, prof)
    lines += [
        "## By design (see benchmarks/README.md)",
        "",
        "- **Same decisions everywhere**: SMA values from pandas' rolling mean (`benchmarks/signals.py`),"
        " so exact cent-grid ties (`fast == slow`) break the same way in every engine; Backtrader gets"
        " them as arrays instead of its own `SMA` indicators (which flatters its speed).",
        "- **b ruins the strategy**: thousands of round trips at 0.2 % each leave about 65 of the"
        " 100,000 by mid-2016; after that no engine can buy one share. solvent refuses each later"
        " cross-up with `INSUFFICIENT_BUYING_POWER` (the `refused` column), the peers skip it silently.",
        "- **Validation 'off' is slower on b**: once the account cannot pay for one share, 'reject' refuses"
        " each all-in order at placement, while 'off' lets it wait for the next bar, where it resolves to"
        " zero shares and is cancelled (more work per cross-up). Fills are identical either way.",
        "- **Float peers may split by one share** at an all-in buy once their float cash has drifted"
        " from solvent's cent-exact cash (up to half a cent per fill); the parity section counts such"
        " columns and each split is checked to be exactly that (see `benchmarks/parity.py`).",
        "- **c in solvent's event engine is one run** of one account with a 100,000 sleeve per"
        " symbol (`SmaCrossSleeves`); the peers run one account per symbol (VectorBT: one call with"
        " 100 columns; backtesting.py and Backtrader: 100 runs). The grid is 100 runs of the event"
        " engine and one call of the fast path and of VectorBT.",
        "- **The timed run is the engine's call**: solvent returns its result with the metrics"
        " computed and every table (orders, fills, trades, refusals, cash, margin, positions) built"
        " when first read, after the clock stops, as VectorBT builds its records' frames on request;"
        " backtesting.py computes its statistics and trades table inside `run()`.",
        "- **Peak MB is the whole worker process**: interpreter, the engine's imports (pandas 3 imports"
        " pyarrow; the fast path and VectorBT numba, which imports scipy; VectorBT also scikit-learn and"
        " plotly; `import solvent` loads numba only when `solvent.fast` is first used), the data in the"
        " engine's format, and the run. The floor column is the part no engine built on those libraries"
        " can avoid.",
        "",
    ]
    lines += ["## Engine notes", ""]
    lines += [f"- `{e}`: {ENGINES[e].note}" for e in engines]
    lines.append("")
    return "\n".join(lines)
