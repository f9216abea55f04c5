"""``import solvent`` stays light: the compiled fast path (numba, LLVM) loads on first use.

Each check runs in a fresh interpreter, because this test process has usually imported
``solvent.fast`` already (other test modules use it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object, returned here."""
    proc = subprocess.run(  # noqa: S603 - this interpreter, our own snippet
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_import_solvent_does_not_import_numba() -> None:
    got = _run(
        """
        import json, sys
        import solvent
        before = sorted(m for m in ("numba", "llvmlite", "solvent.fast") if m in sys.modules)
        fs = solvent.fast.from_signals  # first use: the fast path loads now
        after = sorted(m for m in ("numba", "solvent.fast") if m in sys.modules)
        print(json.dumps({
            "before": before,
            "after": after,
            "name": fs.__module__,
            "same": solvent.fast is sys.modules["solvent.fast"],
            "listed": "fast" in dir(solvent),
        }))
        """
    )
    assert got == {
        "before": [],
        "after": ["numba", "solvent.fast"],
        "name": "solvent.fast.signals",
        "same": True,
        "listed": True,
    }


def test_event_engine_backtest_does_not_import_numba() -> None:
    got = _run(
        """
        import json, sys
        import numpy as np
        import solvent
        from solvent.data import BarData

        class Buy(solvent.Strategy):
            def on_bar(self, ctx):
                if ctx.i == 0:
                    ctx.order_value("X", 50)

        ts = np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[ns]")
        px = np.array([[10.0], [11.0], [12.0]])
        panel = BarData(ts, ("X",), px, px, px, px, np.full((3, 1), 1000.0))
        res = solvent.backtest(Buy, panel, cash=100, account="cash", commission=0)
        print(json.dumps({"fills": len(res.fills), "numba": "numba" in sys.modules}))
        """
    )
    assert got == {"fills": 1, "numba": False}


@pytest.mark.parametrize(
    "code",
    [
        "import solvent.fast as f; import solvent; assert solvent.fast is f",
        "from solvent import fast; from solvent.fast import from_signals as f; assert fast.from_signals is f",
    ],
)
def test_import_fast_explicitly_gives_the_module(code: str) -> None:
    got = _run(f"{code}\nimport json, sys; print(json.dumps({{'numba': 'numba' in sys.modules}}))")
    assert got == {"numba": True}


def test_unknown_attribute_raises_attribute_error() -> None:
    import solvent

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = solvent.nope  # type: ignore[attr-defined]
