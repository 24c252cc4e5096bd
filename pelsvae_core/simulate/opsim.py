"""Survey cadences for a population: OpSim tables and the presets, and each visit's noise.

An OpSim table is the SQLite output of Rubin Observatory's scheduler (the
``observations`` table of rubin_scheduler / rubin_sim runs, e.g. the
``baseline_v4.0_10yrs.db`` runs): one row per visit with its start
(``observationStartMJD``), pointing (``fieldRA``, ``fieldDec``, degrees), band
(``band``; ``filter`` in runs before v3.6) and five-sigma point-source depth
(``fiveSigmaDepth``, AB mag). It is read with the standard library's
:mod:`sqlite3`; a star is observed by every visit whose pointing lies within the
field-of-view radius of it (LSST: 9.6 deg^2, a 3.5 deg wide field, so 1.75 deg;
Ivezic et al. 2019, ApJ 873, 111, Sect. 2.2), found with a k-d tree on unit vectors.

Each visit's photometric error follows from its depth by Ivezic et al. (2019,
eq. 5), sigma_rand^2 = (0.04 - gamma) x + gamma x^2 with x = 10^(0.4 (m - m5)),
plus a systematic floor in quadrature (their eq. 4): the relation of
:class:`pelsvae_core.physics.noise.ErrorModel`, evaluated here with per-visit depths.
"""
from __future__ import annotations

import functools
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from .. import cadences
from ..physics.noise import DEFAULT_GAMMA, LSST_GAMMA, LSST_SIGMA_SYS, ErrorModel
from .errors import SimulationError

#: LSST's field of view, 9.6 deg^2 (Ivezic et al. 2019, Sect. 2.2): a circle of radius 1.75 deg.
LSST_FOV_RADIUS_DEG = 1.75
#: The columns read from an OpSim table, and the two spellings of its band column.
REQUIRED = ("observationStartMJD", "fieldRA", "fieldDec", "fiveSigmaDepth")
BAND_COLUMNS = ("band", "filter")
TABLE = "observations"


@dataclass
class Visits:
    """Visits of a survey: time (MJD or days), band name, five-sigma depth (AB), and the
    pointing (degrees; NaN for a preset, which observes every star)."""

    time: np.ndarray
    band: np.ndarray         # str
    depth: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.time)

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.band.tolist())))


def read_opsim(path: str | Path) -> Visits:
    """Every visit of an OpSim SQLite file, sorted by time; a clear error naming what is
    missing when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise SimulationError(f"OpSim table {path} does not exist")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if TABLE not in tables:
                raise SimulationError(f"{path} has no {TABLE!r} table (it has {', '.join(sorted(tables)) or 'none'}); "
                                   "an OpSim run from rubin_scheduler >= 1.0 is expected")
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({TABLE})")]
            band = next((c for c in BAND_COLUMNS if c in columns), None)
            missing = [c for c in REQUIRED if c not in columns] + ([] if band else ["band (or filter)"])
            if missing:
                raise SimulationError(f"{path}: the {TABLE} table lacks column(s) {', '.join(missing)}")
            rows = db.execute(f"SELECT {', '.join(REQUIRED)}, {band} FROM {TABLE} "
                              "ORDER BY observationStartMJD").fetchall()
    except sqlite3.DatabaseError as error:
        raise SimulationError(f"{path} is not a readable SQLite file ({error})") from None
    if not rows:
        raise SimulationError(f"{path}: the {TABLE} table has no visits")
    time, ra, dec, depth, bands = zip(*rows)
    visits = Visits(np.asarray(time, float), np.asarray(bands, str), np.asarray(depth, float),
                    np.asarray(ra, float), np.asarray(dec, float), str(path))
    numbers = np.column_stack([visits.time, visits.ra, visits.dec, visits.depth])
    if not np.isfinite(numbers).all():
        raise SimulationError(f"{path}: {int((~np.isfinite(numbers)).any(1).sum())} visit(s) have a "
                           "missing or non-finite time, pointing or depth")
    return visits


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


class Footprint:
    """The visits of an OpSim table indexed by pointing, to find the visits covering a star."""

    def __init__(self, visits: Visits, radius_deg: float = LSST_FOV_RADIUS_DEG):
        if not (math.isfinite(radius_deg) and 0 < radius_deg <= 90):
            raise SimulationError(f"the field-of-view radius must be in (0, 90] degrees, not {radius_deg}")
        self.visits = visits
        self.radius_deg = radius_deg
        #: the chord between two unit vectors radius_deg apart
        self.chord = 2 * math.sin(math.radians(radius_deg) / 2)
        self.tree = cKDTree(unit_vectors(visits.ra, visits.dec))

    def covering(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(star, visit) index pairs of every visit within the radius of each star, sorted by star
        then time (the visits are in time order)."""
        found = self.tree.query_ball_point(unit_vectors(ra, dec), self.chord)
        counts = np.fromiter((len(f) for f in found), np.int64, len(found))
        visit = np.fromiter((v for f in found for v in sorted(f)), np.int64, int(counts.sum()))
        return np.repeat(np.arange(len(found)), counts), visit

    def count(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """How many visits cover each position."""
        return self.tree.query_ball_point(unit_vectors(ra, dec), self.chord, return_length=True)


def depth_sigma(mag_ab, depth, band: str, floor: float = LSST_SIGMA_SYS) -> np.ndarray:
    """Photometric error (mag) of AB magnitude(s) ``mag_ab`` in visits of five-sigma depth(s)
    ``depth``: Ivezic et al. (2019) eq. 5 with their Table 2 gamma, plus a systematic ``floor``
    (LSST's, :data:`pelsvae_core.physics.noise.LSST_SIGMA_SYS`, unless a survey's own)."""
    model = ErrorModel(survey="visit depth", band=band, sigma_sys=floor, m5=depth,
                       gamma=LSST_GAMMA.get(band, DEFAULT_GAMMA), mag_range=(math.nan, math.nan), n_stars=0)
    return model.sigma(mag_ab)


@functools.lru_cache(maxsize=4)
def footprint(path: str, radius_deg: float, bands: tuple[str, ...]) -> Footprint:
    """The footprint of an OpSim file's visits in ``bands``, read and indexed once per process
    (each Dask worker keeps its own)."""
    visits = read_opsim(path)
    keep = np.isin(visits.band, bands)
    if not keep.any():
        raise SimulationError(f"{path} has no visit in band(s) {', '.join(bands)}; it has "
                           f"{', '.join(visits.bands)}")
    kept = Visits(visits.time[keep], visits.band[keep], visits.depth[keep], visits.ra[keep],
                  visits.dec[keep], visits.source)
    return Footprint(kept, radius_deg)


@dataclass(frozen=True)
class SurveyCadence:
    """What observes the stars: a ``preset`` of :mod:`pelsvae_core.cadences` (a name, or a dict
    with ``name`` and changed numbers), every star of a shard seeing the same visits, one
    realisation per shard and band, at the ``depth`` (AB) given per band; or an ``opsim`` table,
    each star seeing the visits that cover it. Times: MJD for OpSim; days from
    ``start_mjd`` for a preset."""

    bands: tuple[str, ...]
    preset: str | tuple | None = None        # name, or sorted (key, value) pairs of a dict
    opsim: str | None = None
    depth: tuple = ()                        # sorted (band, five-sigma depth) pairs, presets
    floor: float = LSST_SIGMA_SYS            # the visits' systematic floor (mag)
    radius_deg: float = LSST_FOV_RADIUS_DEG
    start_mjd: float = 0.0

    def preset_spec(self):
        return dict(self.preset) if isinstance(self.preset, tuple) else self.preset

    def epochs(self, ra: np.ndarray, dec: np.ndarray, seed: int
               ) -> tuple[Visits, np.ndarray, np.ndarray]:
        """The visits, and (star, visit) index pairs sorted by star then time."""
        n = len(ra)
        if self.opsim is not None:
            found = footprint(self.opsim, self.radius_deg, self.bands)
            star, visit = found.covering(ra, dec)
            return found.visits, star, visit
        depth = dict(self.depth)
        times = [cadences.times_for(self.preset_spec(), seed + k) + self.start_mjd
                 for k in range(len(self.bands))]
        band = np.concatenate([np.full(t.size, b) for b, t in zip(self.bands, times)])
        time = np.concatenate(times)
        order = np.argsort(time, kind="stable")
        nan = np.full(time.size, np.nan)
        visits = Visits(time[order], band[order], np.array([depth[b] for b in band])[order],
                        nan, nan, f"preset {self.preset_spec()}")
        return visits, np.repeat(np.arange(n), time.size), np.tile(np.arange(time.size), n)
