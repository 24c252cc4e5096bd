"""Catalina Surveys Southern periodic variables (Drake et al. 2017, MNRAS 469, 3688).

``SSS_Per_Tab.txt`` lists ``ID RA Dec Period V_CSS Npts V_amp Type [names]``;
``lightcurves/<ID>.dat`` holds ``MJD mag mag_err`` in V_CSS. Type codes give class and a
label, put into the vocabulary of :mod:`.subtypes` (code 4, Blazhko, as a flag).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd

from .records import OTHER, LightCurve, empty_curve
from .sources import require, survey_files
from .subtypes import normalise
from .table import parse_rows, screen_observations

SURVEY = "Catalina SSS"
BAND = "V_CSS"
#: Drake et al. (2017), Table 2 type codes; 11 and 13 (unidentified) have no light curves.
TYPE_CODES: dict[int, tuple[str, str]] = {
    1: ("RRLYR", "RRab"), 2: ("RRLYR", "RRc"), 3: ("RRLYR", "RRd"), 4: ("RRLYR", "Blazhko"),
    5: ("ECL", "EW"), 6: ("ECL", "EA"), 7: (OTHER, "rotational"), 8: ("LPV", "LPV"),
    9: ("DSCT", "DSCT"), 10: ("ACEP", "ACEP"), 12: ("T2CEP", "T2CEP"),
}


def read_catalogue(folder: Path) -> pd.DataFrame:
    """The SSS periodic-variable table, indexed by Catalina ID (as a string)."""
    rows = []
    for line in require(folder / "SSS_Per_Tab.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        rows.append(fields[:8] + [" ".join(fields[8:])])
    table = pd.DataFrame(rows, columns=["id", "ra", "dec", "period", "v_mean", "n_points",
                                        "v_amp", "type_code", "other_name"])
    for column in ["ra", "dec", "period", "v_mean", "v_amp"]:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table["type_code"] = pd.to_numeric(table["type_code"], errors="coerce").astype("Int64")
    return table.drop_duplicates("id").set_index("id")


def read_sss(folder: Path) -> Iterator[LightCurve]:
    """Every SSS light curve joined to its catalogue row."""
    catalogue = read_catalogue(folder)
    for name, content in survey_files(folder, "lightcurves.tar.xz", "lightcurves", ".dat"):
        star_id = name.removesuffix(".dat")
        if star_id not in catalogue.index:
            yield empty_curve(SURVEY, BAND, star_id, OTHER, "", "missing catalogue row")
            continue
        row = catalogue.loc[star_id]
        code = row["type_code"]
        if pd.isna(code) or int(code) not in TYPE_CODES:
            yield empty_curve(SURVEY, BAND, star_id, OTHER, f"type {code}", "unknown type code")
            continue
        cls, label = TYPE_CODES[int(code)]
        data, bad = parse_rows(content, 3)
        if data.shape[0] == 0:
            yield empty_curve(SURVEY, BAND, star_id, cls, label, "empty file",
                              float(row["period"]), "Catalina SSS catalogue")
            continue
        subtype, blazhko = normalise(cls, label)
        time, mag, err = screen_observations(data[:, 0], data[:, 1], data[:, 2], bad)
        yield LightCurve(SURVEY, BAND, star_id, cls, subtype, float(row["period"]),
                         "Catalina SSS catalogue", time, mag, err, bad_lines=dict(bad),
                         blazhko=blazhko, subtype_label=label)

