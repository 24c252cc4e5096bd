"""OGLE-IV Galactic-bulge RR Lyrae, I and V bands.

Soszynski et al. 2014, AcA 64, 177; Udalski, Szymanski & Szymanski 2015, AcA 65, 1.

OGLE's layout, read from ``phot.tar.xz`` or a plain ``phot/`` folder:
``phot/I/<ID>.dat`` and ``phot/V/<ID>.dat``, whitespace, ``HJD-2450000 mag err``.
``OGLE_RR.csv`` (``ID,Type,RA,Decl,I,V,P_1,REMARKS``) gives the mode (RRab/RRc/RRd,
normalised by :mod:`.subtypes`) and the period ``P_1``.

Times are kept as OGLE gives them, HJD - 2450000 in days: the scale of the
OGLE-III reader (:mod:`.ogle`), so one star's OGLE-III, OGLE-IV and Gaia DR3
(:mod:`.gaia_dr3`) epochs share one axis; they are screened with
:data:`.table.OGLE_TIME_RANGE`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import pandas as pd

from .records import LightCurve, empty_curve
from .sources import read_keyed_csv, survey_files
from .subtypes import UNKNOWN, normalise
from .table import OGLE_TIME_RANGE, parse_rows, screen_observations

SURVEY = "OGLE-IV BLG RRLYR"
BANDS = ("I", "V")
CLS = "RRLYR"
ARCHIVE = "phot.tar.xz"
CATALOGUE = "OGLE_RR.csv"
PERIOD_SOURCE = "OGLE-IV OGLE_RR.csv P_1"
CATALOGUE_COLUMNS = ("ID", "Type", "P_1")


def read_catalogue(folder: Path) -> pd.DataFrame:
    """``OGLE_RR.csv`` indexed by OGLE ID, with ``P_1`` numeric (unparsable periods become NaN)."""
    return read_keyed_csv(folder / CATALOGUE, "ID", CATALOGUE_COLUMNS, ("ID", "Type"))


def mode_and_period(row: pd.Series, source: str) -> tuple[str, float, str]:
    """Subtype, period and period source of an RR Lyrae catalogue row with OGLE's ``Type`` and
    ``P_1`` (``OGLE_RR.csv``, and ``Gaia_RR.csv``, which copies them); the source is empty
    where the period is not a number."""
    subtype, _ = normalise(CLS, row["Type"])  # the catalogues flag no Blazhko stars
    period = float(row["P_1"])
    return subtype, period, source if math.isfinite(period) else ""


def read_ogle4_bulge(folder: Path) -> Iterator[LightCurve]:
    """One curve per star and band, all I then all V, with mode and period from the catalogue.

    A star without a catalogue row gives a dropped curve carrying that reason.
    """
    catalogue = read_catalogue(folder)
    for band in BANDS:
        for name, content in survey_files(folder, ARCHIVE, f"phot/{band}", ".dat"):
            star_id = name.removesuffix(".dat")
            if star_id not in catalogue.index:
                yield empty_curve(SURVEY, band, star_id, CLS, UNKNOWN, "missing catalogue row")
                continue
            subtype, period, source = mode_and_period(catalogue.loc[star_id], PERIOD_SOURCE)
            data, bad = parse_rows(content, 3)
            if data.shape[0] == 0:
                curve = empty_curve(SURVEY, band, star_id, CLS, subtype,
                                    "no readable rows" if bad else "empty file", period, source)
                curve.bad_lines = dict(bad)
                yield curve
                continue
            time, mag, err = screen_observations(data[:, 0], data[:, 1], data[:, 2], bad,
                                                 time_range=OGLE_TIME_RANGE)
            yield LightCurve(SURVEY, band, star_id, CLS, subtype, period, source,
                             time, mag, err, bad_lines=dict(bad))
