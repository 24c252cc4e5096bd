"""OGLE-III classical Cepheids in the LMC (Soszynski et al. 2008, AcA 58, 163), I and V bands.

Layout as OGLE distributes it: ``phot/I/<ID>.dat`` and ``phot/V/<ID>.dat`` with
``HJD-2450000 mag err``; ``ident.dat`` gives pulsation modes. Periods come from
the OGLE-III catalogue (``P_1``), falling back to ``cepFO3.dat`` for F-mode stars.
Gaia DR2 Teff and absolute G magnitude are attached from the paper's cross-match.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import pandas as pd

from .records import LightCurve, PhysicalParameters, empty_curve
from .sources import require, survey_files
from .table import OGLE_TIME_RANGE, parse_rows, screen_observations

SURVEY = "OGLE-III LMC CEP"
BANDS = ("I", "V")
TEFF_SOURCE = "Gaia DR2 teff_val"
ABS_MAG_SOURCE = "Gaia DR2 abs_Gmag (Bailer-Jones et al. 2018 distance)"


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


def gaia_parameters(gaia: pd.DataFrame, star_id: str) -> PhysicalParameters:
    """Gaia DR2 Teff and absolute G of one OGLE star, if cross-matched."""
    if star_id not in gaia.index:
        return PhysicalParameters()
    row = gaia.loc[star_id]
    teff, abs_g = float(row["teff_val"]), float(row["abs_Gmag"])
    return PhysicalParameters(
        teff=teff, abs_mag=abs_g, abs_mag_band="G",
        teff_source=TEFF_SOURCE if math.isfinite(teff) else "",
        abs_mag_source=ABS_MAG_SOURCE if math.isfinite(abs_g) else "")


def read_ogle_cep(folder: Path, catalogue: pd.DataFrame, gaia: pd.DataFrame) -> Iterator[LightCurve]:
    """Every I- and V-band light curve with mode, period and Gaia parameters."""
    modes = read_ident(folder)
    fmode = read_fmode_periods(folder)
    catalogue_periods = catalogue["P_1"] if "P_1" in catalogue else pd.Series(dtype=float)
    for band in BANDS:
        for name, content in survey_files(folder, "phot.tar.gz", f"phot/{band}", ".dat"):
            star_id = name.removesuffix(".dat")
            if star_id not in modes.index:
                yield empty_curve(SURVEY, band, star_id, "CEP", "", "missing catalogue row")
                continue
            period, source = math.nan, ""
            if pd.notna(catalogue_periods.get(star_id, math.nan)):
                period, source = float(catalogue_periods[star_id]), "OGLE-III catalogue P_1"
            elif star_id in fmode.index:
                period, source = float(fmode[star_id]), "OGLE cepFO3.dat"
            data, bad = parse_rows(content, 3)
            if data.shape[0] == 0:
                yield empty_curve(SURVEY, band, star_id, "CEP", modes[star_id], "empty file",
                                  period, source)
                continue
            time, mag, err = screen_observations(data[:, 0], data[:, 1], data[:, 2], bad,
                                                 time_range=OGLE_TIME_RANGE)
            yield LightCurve(SURVEY, band, star_id, "CEP", modes[star_id], period, source,
                             time, mag, err, gaia_parameters(gaia, star_id), bad_lines=dict(bad))
