"""OGLE-III classical Cepheids in the LMC (Soszynski et al. 2008, AcA 58, 163), I and V bands.

Layout as OGLE distributes it: ``phot/I/<ID>.dat`` and ``phot/V/<ID>.dat`` with
``HJD-2450000 mag err``; ``ident.dat`` gives pulsation modes, put into the
vocabulary of :mod:`.subtypes`. Periods come from the OGLE-III catalogue
(``P_1``), falling back to ``cepFO3.dat`` for F-mode stars. Absolute G comes
from the catalogue's mean V and I at the LMC distance (:func:`.star_physics.lmc_cepheids`);
the paper's Gaia DR2 Teff and absolute G are kept beside it as its convention.
The OGLE ID names the physical star (``physical_star``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import pandas as pd

from . import star_physics
from .records import LightCurve, empty_curve
from .sources import require, survey_files
from .subtypes import normalise
from .table import OGLE_TIME_RANGE, parse_rows, screen_observations

SURVEY = "OGLE-III LMC CEP"
BANDS = ("I", "V")
CLS = "CEP"


def read_ident(folder: Path) -> pd.Series:
    """Pulsation mode(s) per star from the fixed-width ``ident.dat`` (bytes 1-17 ID, 19-26 mode)."""
    modes = {}
    for line in require(folder / "ident.dat").read_text().splitlines():
        if line.strip():
            modes[line[0:17].strip()] = line[18:26].strip()
    return pd.Series(modes, name="mode")


def read_fmode_periods(folder: Path) -> pd.Series:
    """F-mode periods from ``cepFO3.dat`` (bytes 34-44)."""
    periods = {}
    for line in require(folder / "cepFO3.dat").read_text().splitlines():
        if line.strip():
            periods[line[0:17].strip()] = float(line[33:44])
    return pd.Series(periods, name="period")


def read_ogle_cep(folder: Path, catalogue: pd.DataFrame, gaia: pd.DataFrame) -> Iterator[LightCurve]:
    """Every I- and V-band light curve with mode, period, calibrated M_G and the paper's values."""
    modes = read_ident(folder)
    fmode = read_fmode_periods(folder)
    catalogue_periods = catalogue["P_1"] if "P_1" in catalogue else pd.Series(dtype=float)
    physics = star_physics.by_star([star_physics.lmc_cepheids(modes.index, catalogue, modes)],
                                   star_physics.paper_from_xmatch(gaia))
    for band in BANDS:
        for name, content in survey_files(folder, "phot.tar.gz", f"phot/{band}", ".dat"):
            star_id = name.removesuffix(".dat")
            if star_id not in modes.index:
                yield empty_curve(SURVEY, band, star_id, CLS, "", "missing catalogue row",
                                  physical_star=star_id)
                continue
            subtype, blazhko = normalise(CLS, modes[star_id])
            period, source = math.nan, ""
            if pd.notna(catalogue_periods.get(star_id, math.nan)):
                period, source = float(catalogue_periods[star_id]), "OGLE-III catalogue P_1"
            elif star_id in fmode.index:
                period, source = float(fmode[star_id]), "OGLE cepFO3.dat"
            data, bad = parse_rows(content, 3)
            if data.shape[0] == 0:
                yield empty_curve(SURVEY, band, star_id, CLS, modes[star_id], "empty file",
                                  period, source, physical_star=star_id)
                continue
            time, mag, err = screen_observations(data[:, 0], data[:, 1], data[:, 2], bad,
                                                 time_range=OGLE_TIME_RANGE)
            yield LightCurve(SURVEY, band, star_id, CLS, subtype, period, source, time, mag, err,
                             physics[star_id], bad_lines=dict(bad), blazhko=blazhko,
                             subtype_label=modes[star_id], physical_star=star_id)
