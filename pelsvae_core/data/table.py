"""Fast, strict parsing of the surveys' small numeric text tables.

Every light-curve file is a plain table of numbers. The fast path converts the
whole file at once; only a file with a malformed line takes the slow path,
which keeps the good rows and counts the bad ones by reason.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

MALFORMED = "malformed line"


def parse_rows(text: bytes, ncols: int, sep: bytes | None = None) -> tuple[np.ndarray, Counter]:
    """Parse ``text`` into an ``(n, ncols)`` float array and a count of rejected lines."""
    if sep is not None:
        text = text.replace(sep, b" ")
    lines = [line for line in text.splitlines() if line.strip()]
    tokens = text.split()
    if len(tokens) == ncols * len(lines):
        try:
            return np.array(tokens, dtype=float).reshape(-1, ncols), Counter()
        except ValueError:
            pass
    rows, bad = [], Counter()
    for line in lines:
        fields = line.split()
        if len(fields) != ncols:
            bad[MALFORMED] += 1
            continue
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            bad[MALFORMED] += 1
    return np.array(rows, dtype=float).reshape(-1, ncols), bad


#: Plausible Modified Julian Dates for the surveys read here (1968 to 2050); CRTS files hold
#: some epochs at MJD -2409998.5 (a zero Julian Date).
MJD_RANGE = (40_000.0, 70_000.0)
#: OGLE's HJD - 2450000 over the same span.
OGLE_TIME_RANGE = (MJD_RANGE[0] - 49_999.5, MJD_RANGE[1] - 49_999.5)


def screen_observations(time: np.ndarray, mag: np.ndarray, err: np.ndarray, bad: Counter,
                        missing: float | None = None,
                        time_range: tuple[float, float] = MJD_RANGE
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop observations no fit can use, counting each by reason in ``bad``.

    ``missing`` is a survey's sentinel for "no measurement": any value at least that large
    in absolute value is treated as missing (SDSS uses 99.99, -99.99 and 99.999);
    ``time_range`` bounds plausible epochs in the survey's time system.
    """
    keep = np.ones(time.size, dtype=bool)
    if missing is not None:
        sentinel = (np.abs(mag) >= missing) | (np.abs(err) >= missing) | (np.abs(time) == missing)
        bad["missing value"] += int(sentinel.sum())
        keep &= ~sentinel
    nonfinite = keep & ~(np.isfinite(time) & np.isfinite(mag) & np.isfinite(err))
    bad["NaN value"] += int(nonfinite.sum())
    keep &= ~nonfinite
    bad_time = keep & ~((time >= time_range[0]) & (time <= time_range[1]))
    bad["time out of range"] += int(bad_time.sum())
    keep &= ~bad_time
    nonpositive = keep & ~(err > 0)
    bad["non-positive error"] += int(nonpositive.sum())
    keep &= ~nonpositive
    for reason in [r for r, n in bad.items() if n == 0]:
        del bad[reason]
    return time[keep], mag[keep], err[keep]
