"""SDSS Stripe 82 RR Lyrae in u, g, r, i, z (Sesar et al. 2010, ApJ 708, 717).

``table1.tar.gz`` holds one file per star, one row per epoch:
``ra dec MJD_u u u_err MJD_g g g_err ... MJD_z z z_err`` (+-99.99 missing);
``table2`` gives type (ab/c) and period, ``table3`` extinction, distance and
flux-averaged (already extinction-corrected) magnitudes, from which
:mod:`.star_physics` derives Teff and M_G (and keeps :mod:`.sdss_physics`'s old
values as the paper convention).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pandas as pd

from . import star_physics
from .catalogues import read_compressed
from .records import LightCurve, PhysicalParameters, empty_curve
from .sources import survey_files
from .subtypes import normalise
from .table import parse_rows, screen_observations

SURVEY = "SDSS Stripe 82"
BANDS = ("u", "g", "r", "i", "z")
MISSING = 99.99
CLS = "RRLYR"
PERIOD_SOURCE = "Sesar et al. 2010 table 2"
#: Why a star of table 1 has no physics: table 3 does not list it.
NOT_IN_TABLE3 = "not derived: the star has no row in Sesar et al. 2010 table 3"


def _read_table(path: Path) -> pd.DataFrame:
    """A whitespace table whose first line (``#`` and column names) names its columns; a damaged
    or truncated file raises :class:`.sources.ArchiveError` naming it."""
    raw = read_compressed(path)
    names = raw.split(b"\n", 1)[0].decode().lstrip("#").split()
    table = pd.read_csv(io.BytesIO(raw), sep=r"\s+", comment="#", names=names, dtype={"id": str})
    return table.set_index("id")


def read_table2(folder: Path) -> pd.DataFrame:
    """Type (ab/c), period and per-band mean magnitudes and amplitudes."""
    return _read_table(folder / "table2.dat.gz")


def read_table3(folder: Path) -> pd.DataFrame:
    """Extinction A_r, distance (kpc) and flux-averaged magnitudes."""
    return _read_table(folder / "table3.dat.gz")


def read_stripe82(folder: Path) -> Iterator[LightCurve]:
    """Five light curves (u, g, r, i, z) per star, with calibrated Teff and absolute G."""
    table2, table3 = read_table2(folder), read_table3(folder)
    physics = star_physics.by_star([star_physics.stripe82_rr_lyrae(table3, table2)],
                                   star_physics.paper_from_sdss(table3))
    missing = PhysicalParameters(teff_reason=NOT_IN_TABLE3, abs_mag_reason=NOT_IN_TABLE3)
    for name, content in survey_files(folder, "table1.tar.gz", "table1", ".dat"):
        star_id = name.removesuffix(".dat")
        if star_id not in table2.index:
            for band in BANDS:
                yield empty_curve(SURVEY, band, star_id, CLS, "", "missing catalogue row")
            continue
        label = str(table2.loc[star_id, "type"])
        subtype, blazhko = normalise(CLS, label)
        period = float(table2.loc[star_id, "P"])
        params = physics.get(star_id, missing)
        data, bad = parse_rows(content, 17)
        for i, band in enumerate(BANDS):
            if data.shape[0] == 0:
                yield empty_curve(SURVEY, band, star_id, CLS, label, "empty file", period,
                                  PERIOD_SOURCE)
                continue
            band_bad = bad.copy()
            time, mag, err = screen_observations(data[:, 2 + 3 * i], data[:, 3 + 3 * i],
                                                 data[:, 4 + 3 * i], band_bad, missing=MISSING)
            yield LightCurve(SURVEY, band, star_id, CLS, subtype, period, PERIOD_SOURCE,
                             time, mag, err, params, bad_lines=dict(band_bad), blazhko=blazhko,
                             subtype_label=label)
