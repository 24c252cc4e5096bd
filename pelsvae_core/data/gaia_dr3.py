"""Gaia DR3 epoch photometry of Galactic-bulge RR Lyrae, G, BP and RP.

Gaia Collaboration, Vallenari et al. 2023, A&A 674, A1; photometry: Riello et al.
2021, A&A 649, A3; RR Lyrae: Clementini et al. 2023, A&A 674, A18.

The Gaia archive's DataLink epoch photometry, one CSV per star,
``epoch_photometry/EPOCH_PHOTOMETRY-Gaia DR3 <source_id>.dat``, read from
``epoch_photometry.tar.xz`` or a plain folder; columns are found by their header
names. ``Gaia_RR.csv`` gives each source_id its OGLE ID, mode and OGLE period P_1.

Identity: ``star_id`` is the Gaia source_id. :class:`.records.LightCurve` has no
field for another survey's ID, so :func:`ogle_ids` maps source_id to OGLE ID,
for a by-star split that must keep a star's Gaia and OGLE curves together.

Rows Gaia itself rejected (``rejected_by_photometry``, ``rejected_by_variability``)
are dropped and counted under those names; a row flagged both counts once, as
``rejected_by_photometry``.

Time: Gaia's ``time`` is BJD in TCB minus 2455197.5 d (Gaia DR3 documentation,
datamodel of ``epoch_photometry``, field ``time``). Adding :data:`TO_OGLE_TIME`
= 2455197.5 - 2450000 = 5197.5 d (exact) gives BJD - 2450000, the HJD - 2450000
scale of the OGLE readers (:mod:`.ogle`, :mod:`.ogle4_bulge`), so a star's Gaia
and OGLE epochs fold together. Neglected, for Gaia DR3's epochs (2014-09 to 2017-05):

- TCB vs TDB: TCB - TDB = L_B (JD - 2443144.5003725) 86400 s + 6.55e-5 s with
  L_B = 1.550519768e-8 (IAU 2006 Resolution B3): 18.4-19.7 s; TCB's rate
  differs by L_B, so periods differ by 1.6e-8 of themselves.
- TDB vs UTC, taking OGLE's HJDs as UTC-based as is usual for HJD (Eastman, Siverd
  & Gaudi 2010, PASP 122, 935): TDB - UTC = 32.184 s + (35 to 37) leap s = 67.2-69.2 s.
- barycentric vs heliocentric: |BJD - HJD| up to about 4 s (Eastman et al. 2010).

Together a Gaia epoch reads about 82-93 s (1.0e-3 d) later than OGLE's stamp of
the same instant: under 0.006 of a cycle for the shortest RR Lyrae periods (0.2 d).
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .ogle4_bulge import mode_and_period
from .records import LightCurve, empty_curve
from .sources import read_keyed_csv, survey_files
from .subtypes import UNKNOWN
from .table import MALFORMED, OGLE_TIME_RANGE, screen_observations

SURVEY = "Gaia DR3"
BANDS = ("G", "BP", "RP")
CLS = "RRLYR"
ARCHIVE = "epoch_photometry.tar.xz"
INNER = "epoch_photometry"
FILE_PREFIX = "EPOCH_PHOTOMETRY-Gaia DR3 "
CATALOGUE = "Gaia_RR.csv"
CATALOGUE_COLUMNS = ("ID", "Type", "P_1", "Source")
PERIOD_SOURCE = "OGLE P_1 (Gaia_RR.csv)"
REJECTED_BY_PHOTOMETRY = "rejected_by_photometry"
REJECTED_BY_VARIABILITY = "rejected_by_variability"
UNKNOWN_BAND = "unknown band"
MISSING_VALUE = "missing value"
NONPOSITIVE_FLUX = "non-positive flux"
COLUMNS = ("band", "time", "mag", "flux", "flux_error", REJECTED_BY_PHOTOMETRY,
           REJECTED_BY_VARIABILITY)
#: Julian Date of Gaia's time origin, 2010-01-01T00:00 TCB (Gaia DR3 documentation,
#: epoch_photometry datamodel, field ``time``).
GAIA_TIME_ORIGIN_JD = 2455197.5
#: Julian Date of OGLE's time origin: OGLE photometry files give HJD - 2450000 (OGLE README.txt).
OGLE_TIME_ORIGIN_JD = 2450000.0
#: Days added to a Gaia time to put it on the OGLE scale; 5197.5 exactly.
TO_OGLE_TIME = GAIA_TIME_ORIGIN_JD - OGLE_TIME_ORIGIN_JD
#: d(mag)/d(ln flux) for m = -2.5 log10(F) + ZP, i.e. 2.5 / ln 10 = 1.0857...: first-order
#: propagation gives sigma_m = (2.5 / ln 10) sigma_F / F (Gaia's magnitude definition:
#: Riello et al. 2021, A&A 649, A3); DR3 epoch photometry gives no magnitude error.
MAG_PER_LN_FLUX = 2.5 / math.log(10)


def read_catalogue(folder: Path) -> pd.DataFrame:
    """``Gaia_RR.csv`` indexed by Gaia source_id (a string), with ``P_1`` numeric."""
    return read_keyed_csv(folder / CATALOGUE, "Source", CATALOGUE_COLUMNS, ("ID", "Type", "Source"))


def ogle_ids(folder: Path) -> dict[str, str]:
    """Gaia DR3 source_id -> OGLE ID (``OGLE-BLG-RRLYR-NNNNN``), the join to :mod:`.ogle4_bulge`."""
    return read_catalogue(folder)["ID"].to_dict()


def gaia_to_ogle_time(time: np.ndarray | float) -> np.ndarray | float:
    """Gaia ``time`` (BJD_TCB - 2455197.5) on OGLE's HJD - 2450000 scale; see the module docstring."""
    return time + TO_OGLE_TIME


def _flag(value: str) -> bool:
    """A Gaia CSV boolean, written ``True``/``False``; anything else raises :class:`ValueError`."""
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"not a boolean: {value!r}")
    return lowered == "true"


def parse_epochs(content: bytes) -> dict[str, tuple[list[tuple[float, float, float]], Counter]] | str:
    """Per band, the usable ``(time on OGLE scale, mag, err)`` rows and the rejected rows by reason.

    Returns a read problem instead when the file holds no rows or lacks a needed column.
    A band appears only if some row names it. Rows that name no known band (wrong number
    of fields, unknown band) are counted once, on the G band, so that the counts over a
    star's curves add up to the rejected rows of its file.
    """
    lines = [line for line in content.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return "empty file"
    header = [h.strip() for h in lines[0].split(",")]
    if any(c not in header for c in COLUMNS):
        return "missing columns"
    at = {c: header.index(c) for c in COLUMNS}
    bands: dict[str, tuple[list, Counter]] = {}
    unattributed = Counter()
    for line in lines[1:]:
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(header):
            unattributed[MALFORMED] += 1
            continue
        band = fields[at["band"]]
        if band not in BANDS:
            unattributed[UNKNOWN_BAND] += 1
            continue
        rows, bad = bands.setdefault(band, ([], Counter()))
        try:
            by_photometry = _flag(fields[at[REJECTED_BY_PHOTOMETRY]])
            by_variability = _flag(fields[at[REJECTED_BY_VARIABILITY]])
        except ValueError:
            bad[MALFORMED] += 1
            continue
        if by_photometry or by_variability:
            bad[REJECTED_BY_PHOTOMETRY if by_photometry else REJECTED_BY_VARIABILITY] += 1
            continue
        values = [fields[at[c]] for c in ("time", "mag", "flux", "flux_error")]
        if "" in values:
            bad[MISSING_VALUE] += 1
            continue
        try:
            time, mag, flux, flux_error = (float(v) for v in values)
        except ValueError:
            bad[MALFORMED] += 1
            continue
        if flux <= 0:
            bad[NONPOSITIVE_FLUX] += 1
            continue
        rows.append((gaia_to_ogle_time(time), mag, MAG_PER_LN_FLUX * flux_error / flux))
    if unattributed:
        bands.setdefault("G", ([], Counter()))[1].update(unattributed)
    return bands


def read_gaia_dr3(folder: Path) -> Iterator[LightCurve]:
    """G, BP and RP curves per star, with OGLE mode and period.

    A star without a catalogue row, or a band without a single epoch, gives a dropped
    curve carrying that reason, so every file and band is accounted for.
    """
    catalogue = read_catalogue(folder)
    for name, content in survey_files(folder, ARCHIVE, INNER, ".dat"):
        star_id = name.removesuffix(".dat").removeprefix(FILE_PREFIX)
        if star_id not in catalogue.index:
            for band in BANDS:
                yield empty_curve(SURVEY, band, star_id, CLS, UNKNOWN, "missing catalogue row")
            continue
        subtype, period, source = mode_and_period(catalogue.loc[star_id], PERIOD_SOURCE)
        parsed = parse_epochs(content)
        for band in BANDS:
            if isinstance(parsed, str) or band not in parsed:
                problem = parsed if isinstance(parsed, str) else "no epochs in band"
                yield empty_curve(SURVEY, band, star_id, CLS, subtype, problem, period, source)
                continue
            rows, bad = parsed[band]
            data = np.array(rows, dtype=float).reshape(-1, 3)
            time, mag, err = screen_observations(data[:, 0], data[:, 1], data[:, 2], bad,
                                                 time_range=OGLE_TIME_RANGE)
            yield LightCurve(SURVEY, band, star_id, CLS, subtype, period, source,
                             time, mag, err, bad_lines=dict(bad))
