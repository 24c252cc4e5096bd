"""The one light-curve record shared by every survey reader."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: The eight classes of the PELS-VAE paper (Martinez-Palomera et al. 2022, Table 1).
CLASSES: tuple[str, ...] = ("ACEP", "CEP", "DSCT", "ECL", "ELL", "LPV", "RRLYR", "T2CEP")
#: Class given to stars whose survey label is none of the eight; the label is kept in ``subtype``.
OTHER = "OTHER"
#: Classes whose phase zero point is the primary minimum rather than maximum light.
BINARY_CLASSES = frozenset({"ECL", "ELL"})


@dataclass(frozen=True)
class PhysicalParameters:
    """Effective temperature and absolute magnitude, each with where it came from.

    A source string says whether a value is measured (``"Gaia DR2 teff_val"``) or
    derived here from photometry (``"derived: ..."``), so the two are never confused.
    """

    teff: float = math.nan
    abs_mag: float = math.nan
    abs_mag_band: str = ""
    teff_source: str = ""
    abs_mag_source: str = ""

    @property
    def has_teff(self) -> bool:
        return math.isfinite(self.teff)

    @property
    def has_abs_mag(self) -> bool:
        return math.isfinite(self.abs_mag)


NO_PARAMETERS = PhysicalParameters()


@dataclass
class LightCurve:
    """One star observed in one band, as read from its survey.

    ``read_problem`` is set (and the arrays may be empty) when the reader could
    tell the star cannot be used, e.g. an empty file or an unknown type code;
    the pipeline records it as the reason the star was dropped.
    """

    survey: str
    band: str
    star_id: str
    cls: str
    subtype: str
    period: float
    period_source: str
    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    params: PhysicalParameters = NO_PARAMETERS
    read_problem: str | None = None
    bad_lines: dict[str, int] = field(default_factory=dict)

    @property
    def star_key(self) -> str:
        """Identifies the star across bands: splits are made on this key."""
        return f"{self.survey}:{self.star_id}"

    @property
    def n_obs(self) -> int:
        return int(self.time.size)


def empty_curve(survey: str, band: str, star_id: str, cls: str, subtype: str, problem: str,
                period: float = math.nan, period_source: str = "") -> LightCurve:
    """A record for a star that was found but cannot be used, carrying the reason."""
    nothing = np.empty(0)
    return LightCurve(survey, band, star_id, cls, subtype, period, period_source,
                      nothing, nothing, nothing, read_problem=problem)
