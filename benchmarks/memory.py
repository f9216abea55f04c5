"""Resident memory of this process: now (``rss_mb``) and its peak so far (``peak_mb``).

Standard library only, so a process can read its floor before importing anything else.
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path


def rss_mb() -> float:
    """Return the current resident set size in MiB (Linux ``/proc``; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """Return the peak resident set size of this process in MiB.

    Linux: ``VmHWM`` from ``/proc/self/status``, the high-water mark of this program's
    own memory. Not ``getrusage().ru_maxrss``: Linux carries the RSS of the process
    image before ``exec`` into it, so a worker forked from a 300 MB parent reports at
    least 300 MB. Elsewhere, ``ru_maxrss`` is the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
