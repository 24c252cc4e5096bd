"""SDSS Stripe 82 RR Lyrae in u, g, r, i, z (Sesar et al. 2010, ApJ 708, 717).

``table1.tar.gz`` holds one file per star, one row per epoch:
``ra dec MJD_u u u_err MJD_g g g_err ... MJD_z z z_err`` (+-99.99 missing);
``table2`` gives type (ab/c) and period, ``table3`` extinction, distance and
flux-averaged magnitudes, from which :mod:`.sdss_physics` derives Teff and M_G.
"""
from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Iterator

import pandas as pd

from . import sdss_physics
from .records import LightCurve, PhysicalParameters, empty_curve
from .sources import require, survey_files
from .table import parse_rows, screen_observations

SURVEY = "SDSS Stripe 82"
BANDS = ("u", "g", "r", "i", "z")
MISSING = 99.99


def _read_table(path: Path) -> pd.DataFrame:
    with gzip.open(require(path), "rt") as handle:
        names = handle.readline().lstrip("#").split()
    table = pd.read_csv(path, sep=r"\s+", comment="#", names=names, dtype={"id": str})
    return table.set_index("id")


def read_table2(folder: Path) -> pd.DataFrame:
    """Type (ab/c), period and per-band mean magnitudes and amplitudes."""
    return _read_table(folder / "table2.dat.gz")


def read_table3(folder: Path) -> pd.DataFrame:
    """Extinction A_r, distance (kpc) and flux-averaged magnitudes."""
    return _read_table(folder / "table3.dat.gz")


def read_stripe82(folder: Path) -> Iterator[LightCurve]:
    """Five light curves (u, g, r, i, z) per star, with derived Teff and absolute G."""
    table2 = read_table2(folder)
    derived = sdss_physics.stripe82_parameters(read_table3(folder))
    for name, content in survey_files(folder, "table1.tar.gz", "table1", ".dat"):
        star_id = name.removesuffix(".dat")
        if star_id not in table2.index:
            for band in BANDS:
                yield empty_curve(SURVEY, band, star_id, "RRLYR", "", "missing catalogue row")
            continue
        subtype = "RR" + str(table2.loc[star_id, "type"])
        period = float(table2.loc[star_id, "P"])
        params = PhysicalParameters()
        if star_id in derived.index:
            teff, abs_g = derived.loc[star_id, ["teff", "abs_mag"]]
            params = PhysicalParameters(
                teff=float(teff), abs_mag=float(abs_g), abs_mag_band="G",
                teff_source=sdss_physics.TEFF_SOURCE if math.isfinite(teff) else "",
                abs_mag_source=sdss_physics.ABS_MAG_SOURCE if math.isfinite(abs_g) else "")
        data, bad = parse_rows(content, 17)
        for i, band in enumerate(BANDS):
            if data.shape[0] == 0:
                yield empty_curve(SURVEY, band, star_id, "RRLYR", subtype, "empty file",
                                  period, "Sesar et al. 2010 table 2")
                continue
            band_bad = bad.copy()
            time, mag, err = screen_observations(data[:, 2 + 3 * i], data[:, 3 + 3 * i],
                                                 data[:, 4 + 3 * i], band_bad, missing=MISSING)
            yield LightCurve(SURVEY, band, star_id, "RRLYR", subtype, period,
                             "Sesar et al. 2010 table 2", time, mag, err, params,
                             bad_lines=dict(band_bad))
