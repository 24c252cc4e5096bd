"""Populations in space: which class each star is, where it is, how far, behind how much dust.

Stars are laid out in a fixed order: the class mix becomes exact counts (largest
remainders, Hamilton's method), stars ordered by class, so star ``i`` has the same
class however the run is split into shards. Distances are fixed, uniform in volume
between two limits (the density of r is proportional to r^2, so r^3 is uniform), or
one per row of a table; positions are uniform on the sphere within a box in RA and
Dec (sin(Dec) uniform), or from the table. Extinction is A_V, fixed or a table
column, scaled to each band by the A_b / E(B-V) of Schlafly & Finkbeiner (2011, ApJ
737, 103, Table 6, R_V = 3.1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SimulationError
from .priors import read_table

#: A_b / E(B-V) for R_V = 3.1 (Schlafly & Finkbeiner 2011, Table 6): SDSS u g r i z, Landolt V
#: and I, and PS1 y for LSST y. LSST's u-z are taken as SDSS's (filters within a few per cent
#: in effective wavelength), Catalina's unfiltered V_CSS as V, to which it is calibrated
#: (Drake et al. 2013, ApJ 763, 32).
EXTINCTION_PER_EBV = {"u": 4.239, "g": 3.303, "r": 2.285, "i": 1.698, "z": 1.263, "y": 1.087,
                      "V": 2.742, "V_CSS": 2.742, "I": 1.505}
#: Default distances when none are given: uniform in volume from 1 to 20 kpc (the Galactic
#: disc and inner halo, where the classes' real stars in the training surveys lie).
DEFAULT_DISTANCE_PC = (1_000.0, 20_000.0)
POSITION_COLUMNS = ("distance_pc", "ra", "dec", "a_v")


def class_counts(mix: dict[str, float], n: int) -> dict[str, int]:
    """Exact star counts from fractions (normalised) by largest remainders."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise SimulationError(f"the number of stars must be a positive whole number, not {n!r}")
    if not mix:
        raise SimulationError("give at least one class")
    weights = {}
    for cls, fraction in mix.items():
        try:
            fraction = float(fraction)
        except (TypeError, ValueError):
            raise SimulationError(f"the fraction of {cls} must be a number, not {fraction!r}") from None
        if not math.isfinite(fraction) or fraction < 0:
            raise SimulationError(f"the fraction of {cls} must be finite and >= 0, not {fraction}")
        weights[cls] = fraction
    total = sum(weights.values())
    if total <= 0:
        raise SimulationError("the class fractions add up to zero")
    exact = {cls: n * w / total for cls, w in weights.items()}
    counts = {cls: int(math.floor(v)) for cls, v in exact.items()}
    order = sorted(exact, key=lambda c: (-(exact[c] - counts[c]), list(exact).index(c)))
    for cls in order[:n - sum(counts.values())]:
        counts[cls] += 1
    return {cls: c for cls, c in counts.items() if c}


def classes_of(counts: dict[str, int], start: int, stop: int) -> list[tuple[str, int, int]]:
    """The class blocks (class, first, stop) of stars ``start`` to ``stop`` in the fixed order."""
    blocks, first = [], 0
    for cls, count in counts.items():
        lo, hi = max(first, start), min(first + count, stop)
        if lo < hi:
            blocks.append((cls, lo, hi))
        first += count
    return blocks


@dataclass
class Space:
    """Where the stars are: ``distance`` a number (pc), a (min, max) pair for uniform in volume,
    or None with a ``table``; ``region`` {"ra": [lo, hi], "dec": [lo, hi]} in degrees for
    positions; ``a_v`` a number or None (a table's ``a_v`` column, else 0)."""

    distance: float | tuple[float, float] | None = DEFAULT_DISTANCE_PC
    region: dict | None = None
    a_v: float | None = None
    table: str | None = None
    _rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.table is None and self.distance is None:
            raise SimulationError("give a distance (pc), a [min, max] range, or a table of positions")
        if self.table is None:
            self.distance = check_distance(self.distance)
        if self.region is not None:
            self.region = check_region(self.region)
        if self.a_v is not None:
            if not (isinstance(self.a_v, (int, float)) and math.isfinite(self.a_v) and self.a_v >= 0):
                raise SimulationError(f"a_v must be a number >= 0 (mag), not {self.a_v!r}")

    def rows(self) -> pd.DataFrame:
        """The position table, read once and checked (see :func:`read_positions`)."""
        if self._rows is None:
            self._rows = read_positions(self.table)
        return self._rows

    def draw(self, start: int, stop: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """distance_pc, ra, dec (NaN without a region or table) and a_v of stars start..stop."""
        n = stop - start
        out = {"ra": np.full(n, np.nan), "dec": np.full(n, np.nan), "a_v": np.zeros(n)}
        if self.table is not None:
            rows = self.rows().iloc[start:stop]
            out.update({c: rows[c].to_numpy(float) for c in POSITION_COLUMNS if c in rows})
        elif isinstance(self.distance, tuple):
            low, high = self.distance
            out["distance_pc"] = np.cbrt(rng.uniform(low ** 3, high ** 3, n))
        else:
            out["distance_pc"] = np.full(n, float(self.distance))
        if self.region is not None and not (self.table is not None and "ra" in self.rows()):
            out["ra"], out["dec"] = sky_uniform(self.region, n, rng)
        if self.a_v is not None:
            out["a_v"] = np.full(n, float(self.a_v))
        return out


def check_distance(distance) -> float | tuple[float, float]:
    if isinstance(distance, (list, tuple)):
        if len(distance) != 2:
            raise SimulationError(f"a distance range is [min, max] in pc, not {distance!r}")
        low, high = (check_distance(d) for d in distance)
        if not low < high:
            raise SimulationError(f"the distance range must have min < max, not {low} to {high}")
        return (low, high)
    if isinstance(distance, bool) or not isinstance(distance, (int, float)) \
            or not math.isfinite(distance) or distance <= 0:
        raise SimulationError(f"a distance must be a positive number of pc, not {distance!r}")
    return float(distance)


def check_region(region: dict) -> dict:
    """{"ra": [lo, hi], "dec": [lo, hi]} in degrees, 0 <= ra <= 360 and -90 <= dec <= 90."""
    if not isinstance(region, dict) or set(region) != {"ra", "dec"}:
        raise SimulationError(f"a sky region is {{'ra': [lo, hi], 'dec': [lo, hi]}} in degrees, not {region!r}")
    out = {}
    for key, (low_limit, high_limit) in {"ra": (0, 360), "dec": (-90, 90)}.items():
        try:
            low, high = (float(v) for v in region[key])
        except (TypeError, ValueError):
            raise SimulationError(f"region {key} must be two numbers [lo, hi], not {region[key]!r}") from None
        if not (low_limit <= low < high <= high_limit):
            raise SimulationError(f"region {key} must satisfy {low_limit} <= lo < hi <= {high_limit}, "
                                  f"not {low} to {high}")
        out[key] = (low, high)
    return out


def sky_uniform(region: dict, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform on the sphere within the box: RA uniform, sin(Dec) uniform."""
    (ra_lo, ra_hi), (dec_lo, dec_hi) = region["ra"], region["dec"]
    ra = rng.uniform(ra_lo, ra_hi, n)
    sin_dec = rng.uniform(math.sin(math.radians(dec_lo)), math.sin(math.radians(dec_hi)), n)
    return ra, np.degrees(np.arcsin(sin_dec))


def read_positions(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet table with ``distance_pc`` (pc, > 0) and optionally ``ra``, ``dec``
    (degrees, both or neither) and ``a_v`` (mag, >= 0); one star per row."""
    table = read_table(path)
    if "distance_pc" not in table.columns:
        raise SimulationError(f"{path} needs a distance_pc column (pc); it has "
                              f"{', '.join(map(str, table.columns)) or 'none'}")
    if ("ra" in table.columns) != ("dec" in table.columns):
        raise SimulationError(f"{path}: give both ra and dec, or neither")
    table = table[[c for c in POSITION_COLUMNS if c in table.columns]].apply(pd.to_numeric, errors="coerce")
    checks = {"distance_pc": lambda v: v > 0, "ra": lambda v: (v >= 0) & (v <= 360),
              "dec": lambda v: (v >= -90) & (v <= 90), "a_v": lambda v: v >= 0}
    for column in table.columns:
        values = table[column].to_numpy(float)
        bad = ~np.isfinite(values) | ~checks[column](values)
        if bad.any():
            raise SimulationError(f"{path}: {int(bad.sum())} row(s) have {column} missing or out of range")
    if table.empty:
        raise SimulationError(f"{path} has no rows")
    return table.reset_index(drop=True)


def extinction(a_v: np.ndarray, band: str) -> np.ndarray:
    """A in ``band`` for A_V (mag), by the ratios of :data:`EXTINCTION_PER_EBV`."""
    if band not in EXTINCTION_PER_EBV:
        if np.any(a_v > 0):
            raise SimulationError(f"no extinction law for band {band!r}; known: "
                                  f"{', '.join(EXTINCTION_PER_EBV)}")
        return np.zeros_like(a_v)
    return a_v * EXTINCTION_PER_EBV[band] / EXTINCTION_PER_EBV["V"]


