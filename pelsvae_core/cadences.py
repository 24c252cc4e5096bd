"""Observation cadences: uniform, survey-like presets built from stated numbers, or user times.

The presets are caricatures of each survey's single-band sampling, built from
round published figures, not survey simulations:

- OGLE-like: OGLE-III, about 8 years (2001-2009), ~8-month seasons, about one
  I-band visit per clear night, ~500 epochs (Udalski et al. 2008).
- Gaia-like: 5 years, ~70 field-of-view transits, arriving in pairs 106.5 min
  apart (the angle between Gaia's two telescopes; Gaia Collaboration 2016).
- LSST-like: 10 years, ~6-month seasons, ~90 nights per band, visits in pairs
  ~33 min apart (Ivezic et al. 2019, wide-fast-deep).
- ZTF-like: 3 years, ~8-month seasons, one visit every ~3 nights in one band
  (Bellm et al. 2019).

User times (a CSV file or pasted numbers) are read by :func:`parse_times`, the one
parser behind the CLI's ``--times`` and the dashboard's upload and paste.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

YEAR_DAYS = 365.25
#: Column names recognised as observation times in a user's CSV, in order of preference.
TIME_COLUMNS = ("time", "mjd", "hjd", "jd", "t")
MIN_USER_TIMES = 3
MAX_USER_TIMES = 100_000


@dataclass(frozen=True)
class Cadence:
    """Nights drawn within yearly observing seasons, a few visits per night."""

    baseline_days: float
    season_days: float
    nights: int
    visits_per_night: int = 1
    visit_gap_days: float = 0.0
    night_jitter_days: float = 0.15

    def times(self, seed: int = 0) -> np.ndarray:
        """Sorted observation times in days from the first night's start."""
        if self.nights < 1 or self.baseline_days <= 0 or self.season_days <= 0:
            raise ValueError("a cadence needs at least one night, and a positive baseline and season")
        available = [night for night in range(int(self.baseline_days))
                     if (night % YEAR_DAYS) < self.season_days]
        if not available:
            raise ValueError("no night falls inside an observing season")
        rng = np.random.default_rng(seed)
        chosen = rng.choice(available, size=min(self.nights, len(available)), replace=False)
        start = chosen + rng.uniform(-self.night_jitter_days, self.night_jitter_days, chosen.size)
        visits = start[:, None] + self.visit_gap_days * np.arange(self.visits_per_night)
        times = np.sort(visits.ravel())
        return times - times[0]

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Cadence] = {
    "ogle": Cadence(baseline_days=8 * YEAR_DAYS, season_days=240, nights=500),
    "gaia": Cadence(baseline_days=5 * YEAR_DAYS, season_days=YEAR_DAYS, nights=35,
                    visits_per_night=2, visit_gap_days=106.5 / 1440, night_jitter_days=0.0),
    "lsst": Cadence(baseline_days=10 * YEAR_DAYS, season_days=180, nights=90,
                    visits_per_night=2, visit_gap_days=33 / 1440),
    "ztf": Cadence(baseline_days=3 * YEAR_DAYS, season_days=240, nights=240),
}


def uniform(n: int, baseline_days: float) -> np.ndarray:
    """``n`` evenly spaced times over ``baseline_days``."""
    if n < 1 or not baseline_days > 0:
        raise ValueError("a uniform cadence needs n >= 1 and a positive baseline")
    return np.linspace(0.0, baseline_days, n)


def preset(name: str, seed: int = 0, **changes) -> np.ndarray:
    """Times of a named preset, with any of its numbers changed (e.g. ``nights=50``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown cadence {name!r}; presets: {', '.join(PRESETS)} (or pass times)")
    return replace(PRESETS[name], **changes).times(seed)


def times_for(cadence, seed: int = 0) -> np.ndarray:
    """Times of a cadence given as a preset name, or a dict with ``name`` (a preset or
    ``"uniform"``) and the numbers it changes."""
    if isinstance(cadence, str):
        return preset(cadence, seed)
    if isinstance(cadence, dict):
        options = dict(cadence)
        name = options.pop("name", None)
        return uniform(**options) if name == "uniform" else preset(name, seed, **options)
    raise ValueError("cadence must be a preset name or a dict with 'name'")


def parse_times(content: bytes) -> np.ndarray:
    """Sorted observation times (days, as given: MJDs stay MJDs) from CSV text: a column named
    time/mjd/hjd/jd/t, else the first column; a header line is optional, so pasted numbers,
    one per line, work too."""
    if not content or not content.strip():
        raise ValueError("no observation times given (the file or text is empty)")
    try:
        table = pd.read_csv(io.BytesIO(content), header=None, dtype=str, skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"could not read the times as CSV: {error}") from None
    first = table.iloc[0]
    if pd.to_numeric(first, errors="coerce").isna().all():  # a header line
        table = table.iloc[1:]
        table.columns = [str(c).strip().lower() for c in first]
    if table.empty:
        raise ValueError("the CSV has a header but no rows")
    column = next((c for c in TIME_COLUMNS if c in table.columns), table.columns[0])
    values = pd.to_numeric(table[column].str.strip(), errors="coerce")
    if values.isna().any():
        bad = int(values.isna().sum())
        raise ValueError(f"column {column!r} has {bad} value(s) that are not numbers")
    times = np.sort(values.to_numpy(float))
    if times.size < MIN_USER_TIMES:
        raise ValueError(f"a cadence needs at least {MIN_USER_TIMES} observation times")
    if times.size > MAX_USER_TIMES:
        raise ValueError(f"at most {MAX_USER_TIMES} observation times, got {times.size}")
    if not np.isfinite(times).all():
        raise ValueError("observation times must be finite")
    return times
