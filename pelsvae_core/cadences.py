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

Real cadences (:data:`REAL_CADENCES`) are what a survey actually delivered: the observation
times of one real star, chosen by the seed (stored star ``seed mod n``), from a small shipped
table of a survey's stars (:mod:`pelsvae_core.data.real_cadences`, which rebuilds it from the
survey data with the survey's own reader and records its provenance):

- ``gaia-dr3-bulge``: Gaia DR3 G-band epochs of Galactic-bulge RR Lyrae, rows Gaia rejected
  left out (Gaia Collaboration, Vallenari et al. 2023; Riello et al. 2021): 20-49 a star
  (median 28) over 2.1-2.7 years;
- ``ogle4-bulge-I``, ``ogle4-bulge-V``: OGLE-IV epochs of Galactic-bulge RR Lyrae (Soszynski
  et al. 2014; Udalski, Szymanski & Szymanski 2015): in I about 2,000 a star (up to 15,000 in
  the densest fields) over 7.4 years, in V 10-174 (median 139) over 5.4-7.4 years.

Their times are not shifted to start at zero: days on the axis JD - 2450000 (MJD = value
+ 49999.5), HJD for OGLE-IV as OGLE gives it, BJD in TCB for Gaia DR3 (its own
``time`` + 5197.5 d, by :func:`pelsvae_core.data.gaia_dr3.gaia_to_ogle_time`). They have no
numbers to change: a change is refused, naming the cadence; :func:`cadence_numbers` reports their
stars, epochs and baselines.

User times (a CSV file or pasted numbers) are read by :func:`parse_times`, the one
parser behind the CLI's ``--times`` and the dashboard's upload and paste; they, and
times given to generation as an array, are checked by :func:`checked_times`.

Every option is checked, with a one-line error naming it and what it may be: unknown
names (the valid ones are listed), whole numbers for ``nights``, ``visits_per_night``
and ``n`` (2.5 is refused, not rounded; ``True`` is not a number), and bounds that
keep every cadence finite and quick to draw: at most :data:`MAX_TIMES` times and a
baseline of at most :data:`MAX_BASELINE_DAYS` (100 years).
"""
from __future__ import annotations

import functools
import io
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import NoReturn

import numpy as np
import pandas as pd

from .data import real_cadences

YEAR_DAYS = 365.25
#: Column names recognised as observation times in a user's CSV, in order of preference.
TIME_COLUMNS = ("time", "mjd", "hjd", "jd", "t")
MIN_USER_TIMES = 3
#: The most times a cadence may have, from any source: a preset, uniform, or the user's.
MAX_TIMES = 100_000
MAX_BASELINE_DAYS = 100 * YEAR_DAYS
UNIFORM_OPTIONS = ("n", "baseline_days")


def checked_number(label: str, value, low: float, high: float, whole: bool = False,
                   open_low: bool = False) -> float | int:
    """``value`` if it is a finite real number in [low, high] ((low, high] with ``open_low``), whole
    with ``whole`` (100.0 is 100; 2.5 is refused, not rounded); ``True`` and ``"5"`` are not
    numbers. Else a one-line error naming ``label`` and the allowed values. Generation checks
    ``n_samples`` and ``seed`` by the same rule."""
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and (isinstance(value, numbers.Integral) or math.isfinite(value))  # 10**400 has no float
          and (low < value if open_low else low <= value) and value <= high
          and (not whole or value == int(value)))
    if not ok:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{label} must be {kind} in {'(' if open_low else '['}"
                         f"{low:g}, {high:g}], not {value!r}")
    return int(value) if whole else float(value)


def checked_series(name: str, values) -> np.ndarray:
    """``values`` (one number or a 1-D sequence) as a float array of 1 to :data:`MAX_TIMES` finite
    numbers; a 2-D array is refused, never flattened. ``name`` (plural) names them in errors."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers") from None
    if array.ndim > 1:
        raise ValueError(f"{name} must be one sequence of numbers, not an array of shape {array.shape}")
    array = array.reshape(-1)
    if array.size == 0:
        raise ValueError(f"no {name} given")
    if array.size > MAX_TIMES:
        raise ValueError(f"at most {MAX_TIMES} {name}, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def checked_times(values) -> np.ndarray:
    """Observation times (days) by the rules of :func:`checked_series`, spanning at most
    :data:`MAX_BASELINE_DAYS`: the one check of user times, from a file or from Python."""
    times = checked_series("observation times", values)
    span = float(times.max()) - float(times.min())  # Python floats: ±1e308 gives inf, not a warning
    if span > MAX_BASELINE_DAYS:
        raise ValueError(f"observation times must span at most {MAX_BASELINE_DAYS:g} days "
                         f"(100 years), not {span:g}")
    return times


@dataclass(frozen=True)
class Cadence:
    """Nights drawn within yearly observing seasons, a few visits per night. Every field is
    checked on construction (a night's visits within a day, the jitter within half a day)."""

    baseline_days: float
    season_days: float
    nights: int
    visits_per_night: int = 1
    visit_gap_days: float = 0.0
    night_jitter_days: float = 0.15

    def __post_init__(self):
        bounds = {"baseline_days": (1, MAX_BASELINE_DAYS), "season_days": (1, YEAR_DAYS),
                  "nights": (1, MAX_TIMES), "visits_per_night": (1, MAX_TIMES),
                  "visit_gap_days": (0, 1), "night_jitter_days": (0, 0.5)}
        for name, (low, high) in bounds.items():
            value = checked_number(f"cadence option {name}", getattr(self, name), low, high,
                                   whole=name in ("nights", "visits_per_night"))
            object.__setattr__(self, name, value)
        if self.nights * self.visits_per_night > MAX_TIMES:
            raise ValueError(f"cadence options nights x visits_per_night = "
                             f"{self.nights * self.visits_per_night} times; at most {MAX_TIMES}")
        available = self._season_nights().size
        if self.nights > available:
            raise ValueError(f"cadence option nights must be at most {available}: that many nights "
                             f"of a {self.baseline_days:g}-day baseline fall inside "
                             f"{self.season_days:g}-day seasons, not {self.nights}")

    def _season_nights(self) -> np.ndarray:
        """The whole days from the start that fall inside an observing season."""
        night = np.arange(int(self.baseline_days))
        return night[(night % YEAR_DAYS) < self.season_days]

    def times(self, seed: int = 0) -> np.ndarray:
        """Sorted observation times in days from the first night's start."""
        rng = np.random.default_rng(seed)
        chosen = rng.choice(self._season_nights(), size=self.nights, replace=False)
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
#: Real survey cadences, by name: the times of real stars (:class:`RealCadence`).
REAL_CADENCES: tuple[str, ...] = tuple(real_cadences.SPECS)
#: Every named cadence: the survey-like presets, then the real ones ("uniform" takes numbers).
CADENCE_NAMES: tuple[str, ...] = (*PRESETS, *REAL_CADENCES)


@dataclass(frozen=True)
class RealCadence:
    """The observation times of real stars of one survey in one band, one star per seed.

    Seed ``s`` gives the times of stored star ``s mod n`` (the stars are stored in a random
    order, so seeds 0 to n - 1 give n different stars), as the survey's reader gave them:
    days on the axis JD - 2450000 (:attr:`time_scale` says which JD: HJD for OGLE, BJD in TCB
    for Gaia). Nothing in it can be changed."""

    name: str
    table: real_cadences.CadenceTable

    @property
    def survey(self) -> str:
        """The survey whose epochs these are, as its reader names it (e.g. ``Gaia DR3``)."""
        return self.table.metadata["survey"]

    @property
    def band(self) -> str:
        return self.table.metadata["band"]

    @property
    def time_scale(self) -> str:
        return self.table.metadata["time_scale"]

    def _index(self, seed) -> int:
        return checked_number("cadence seed", seed, 0, math.inf, whole=True) % len(self.table)

    def star(self, seed: int = 0) -> str:
        """The survey's ID of the star whose times seed ``seed`` gives."""
        return self.table.star_ids[self._index(seed)]

    def times(self, seed: int = 0) -> np.ndarray:
        """Sorted observation times (days, JD - 2450000) of the star chosen by ``seed``."""
        return np.array(self.table.times[self._index(seed)])

    def to_dict(self) -> dict:
        """Its numbers, reported, not settable: survey, band, stars, epochs and baseline (min,
        median, max over the stars), the time scale."""
        meta = self.table.metadata
        return {"survey": self.survey, "band": self.band, "stars": len(self.table),
                "epochs": {k: meta["epochs"][k] for k in ("min", "median", "max")},
                "baseline_days": dict(meta["baseline_days"]), "time_scale": self.time_scale}

    def refuse_changes(self, changes) -> NoReturn:
        """A one-line error naming the cadence: a real cadence has no numbers to change."""
        epochs, baseline = self.to_dict()["epochs"], self.to_dict()["baseline_days"]
        raise ValueError(
            f"cadence {self.name!r} is the observation times of real {self.survey} "
            f"{self.band}-band stars ({len(self.table)} stars, {epochs['min']}-{epochs['max']} "
            f"epochs over {baseline['min']:.0f}-{baseline['max']:.0f} days; the seed picks the "
            f"star), so it has no numbers to change: {', '.join(map(str, changes))} refused. "
            f"Change the numbers of a survey-like preset ({', '.join(PRESETS)}) or pass times.")


@functools.lru_cache(maxsize=None)
def real_cadence(name: str) -> RealCadence:
    """The real cadence ``name`` of :data:`REAL_CADENCES`, its table read once per process."""
    if name not in REAL_CADENCES:
        raise ValueError(f"unknown real cadence {name!r}; choose one of {', '.join(REAL_CADENCES)}")
    return RealCadence(name, real_cadences.read_table(name))


def cadence_numbers(name: str) -> dict:
    """A named cadence's numbers: a preset's settable ones, a real cadence's reported ones."""
    if name in REAL_CADENCES:
        return real_cadence(name).to_dict()
    _check_name(name)
    return PRESETS[name].to_dict()


def _check_name(name) -> None:
    if not isinstance(name, str) or name not in CADENCE_NAMES:
        raise ValueError(f"unknown cadence {name!r}; choose uniform or a preset: "
                         f"{', '.join(CADENCE_NAMES)} (or pass times)")


def uniform(n: int, baseline_days: float) -> np.ndarray:
    """``n`` evenly spaced times over ``baseline_days``."""
    n = checked_number("cadence option n", n, 1, MAX_TIMES, whole=True)
    baseline_days = checked_number("cadence option baseline_days", baseline_days, 0, MAX_BASELINE_DAYS,
                                   open_low=True)
    return np.linspace(0.0, baseline_days, n)


def preset(name: str, seed: int = 0, **changes) -> np.ndarray:
    """Times of a named preset, with any of its numbers changed (e.g. ``nights=50``), or of a
    real cadence (which takes no changes)."""
    _check_name(name)
    if name in REAL_CADENCES:
        if changes:
            real_cadence(name).refuse_changes(sorted(changes, key=str))
        return real_cadence(name).times(seed)
    valid = [field.name for field in fields(Cadence)]
    unknown = sorted(set(changes) - set(valid), key=str)
    if unknown:
        raise ValueError(f"unknown cadence option(s) {', '.join(map(str, unknown))} for {name!r}; "
                         f"valid: {', '.join(valid)}")
    return replace(PRESETS[name], **changes).times(seed)


def times_for(cadence, seed: int = 0) -> np.ndarray:
    """Times of a cadence given as a name (a preset or a real cadence), or a dict with ``name``
    (a preset, a real cadence with nothing else, or ``"uniform"``, which needs ``n`` and
    ``baseline_days``) and the numbers it changes."""
    if isinstance(cadence, str):
        return preset(cadence, seed)
    if isinstance(cadence, dict):
        options = dict(cadence)
        name = options.pop("name", None)
        if name != "uniform":
            return preset(name, seed, **options)
        if sorted(options, key=str) != sorted(UNIFORM_OPTIONS):
            given = ", ".join(map(str, options)) or "nothing"
            raise ValueError("a uniform cadence takes exactly n (the number of times) and "
                             f"baseline_days (the days they span); given: {given}")
        return uniform(**options)
    raise ValueError(f"cadence must be a preset name or a dict with 'name', not {type(cadence).__name__}")


def parse_times(content: bytes) -> np.ndarray:
    """Sorted observation times (days, as given: MJDs stay MJDs) from CSV text: a column named
    time/mjd/hjd/jd/t, else the first column; a header line is optional, so pasted numbers,
    one per line, work too. A first line is a header only if it has no number and a name
    starting with a letter: a garbled first time is reported, never taken for a header."""
    if not content or not content.strip():
        raise ValueError("no observation times given (the file or text is empty)")
    try:
        table = pd.read_csv(io.BytesIO(content), header=None, dtype=str, skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"could not read the times as CSV: {error}") from None
    first = table.iloc[0].fillna("").str.strip()
    header = pd.to_numeric(first, errors="coerce").isna().all() and first.str.match("[A-Za-z]").any()
    if header:
        table = table.iloc[1:]
        table.columns = [c.lower() for c in first]
    if table.empty:
        raise ValueError("the CSV has a header but no rows")
    column = next((c for c in TIME_COLUMNS if c in table.columns), table.columns[0])
    values = pd.to_numeric(table[column].str.strip(), errors="coerce")
    if values.isna().any():
        where = f"column {column!r}" if header else "the first column"
        raise ValueError(f"{where} has {int(values.isna().sum())} value(s) that are not numbers")
    times = np.sort(values.to_numpy(float))
    if times.size < MIN_USER_TIMES:
        raise ValueError(f"a cadence needs at least {MIN_USER_TIMES} observation times")
    return checked_times(times)
