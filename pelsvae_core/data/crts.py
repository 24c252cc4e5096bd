"""Catalina Real-Time Transient Survey periodic variables, CSDR1 (Drake et al. 2014, ApJS 213, 9).

Files are ``lightcurves/<ID>-<CLASS>.csv`` with header ``ID,MJD,mag,magerr,RA,Dec``.
There is no period table: the pipeline estimates periods (see :mod:`.periods`). The
file-name label gives the class and, through :mod:`.subtypes`, the subtype (Blazhko as a flag).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

from .records import OTHER, LightCurve, empty_curve
from .sources import survey_files
from .subtypes import normalise
from .table import parse_rows, screen_observations

SURVEY = "CRTS CSDR1"
BAND = "V_CSS"
#: File-name labels of Drake et al. (2014) mapped to the paper's classes.
LABELS: dict[str, str] = {
    "RRab": "RRLYR", "RRc": "RRLYR", "RRd": "RRLYR", "Blazhko": "RRLYR",
    "EW": "ECL", "EA": "ECL", "beta_lyrae": "ECL", "ELL": "ELL", "LPV": "LPV",
    "HADS": "DSCT", "LADS": "DSCT", "Cep_II": "T2CEP", "ACEP": "ACEP",
    "RS_CVn": OTHER, "PCEB": OTHER, "Hump": OTHER,
}
PERIOD_SOURCE = "Lomb-Scargle within the class's period limits, refined (this pipeline)"


def read_crts(folder: Path) -> Iterator[LightCurve]:
    """Every CRTS light curve, class from the file name, period left to be estimated."""
    for name, content in survey_files(folder, "lightcurves.tar.xz", "lightcurves", ".csv"):
        star_id, _, label = name.removesuffix(".csv").rpartition("-")
        if not star_id:
            star_id, label = label, ""
        cls = LABELS.get(label, OTHER)
        if label not in LABELS:
            yield empty_curve(SURVEY, BAND, star_id, OTHER, label, "unknown type code")
            continue
        body = content.split(b"\n", 1)[1] if content.startswith(b'"ID"') else content
        data, bad = parse_rows(body, 6, sep=b",")
        if data.shape[0] == 0:
            yield empty_curve(SURVEY, BAND, star_id, cls, label, "empty file")
            continue
        subtype, blazhko = normalise(cls, label)
        time, mag, err = screen_observations(data[:, 1], data[:, 2], data[:, 3], bad)
        yield LightCurve(SURVEY, BAND, star_id, cls, subtype, math.nan, PERIOD_SOURCE,
                         time, mag, err, bad_lines=dict(bad), blazhko=blazhko, subtype_label=label)
