"""The one light-curve record shared by every survey reader."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .subtypes import normalise

#: The eight classes of the PELS-VAE paper (Martinez-Palomera et al. 2022, Table 1).
CLASSES: tuple[str, ...] = ("ACEP", "CEP", "DSCT", "ECL", "ELL", "LPV", "RRLYR", "T2CEP")
#: Class given to stars whose survey label is none of the eight; the label is kept in ``subtype_label``.
OTHER = "OTHER"
#: Classes whose phase zero point is the primary minimum rather than maximum light.
BINARY_CLASSES = frozenset({"ECL", "ELL"})
#: Why a curve has no Teff or absolute magnitude when its reader derives none.
NO_PHYSICS = "not derived: this survey gives no colours, distance or cross-match for its stars"


@dataclass(frozen=True)
class PhysicalParameters:
    """Teff and absolute Gaia G magnitude of a star, on two scales, each value with its provenance.

    The calibrated values (``teff``, ``abs_mag``; :mod:`.calibration`) carry a 1-sigma
    uncertainty, a source naming every relation and constant used, and, where a value
    could not be derived, the reason instead (a value and a reason never come
    together: :meth:`__post_init__` refuses both and neither). ``teff_paper`` and
    ``abs_mag_paper`` are the convention a model was trained on before the
    calibration (the PELS-VAE paper's Gaia DR2 ``teff_val``/``abs_Gmag``;
    :mod:`.sdss_physics` for Stripe 82), kept apart and named so they are never
    taken for physics; their sources say what they are.
    """

    teff: float = math.nan
    teff_sigma: float = math.nan
    teff_source: str = ""
    teff_reason: str = NO_PHYSICS
    abs_mag: float = math.nan
    abs_mag_sigma: float = math.nan
    abs_mag_band: str = ""
    abs_mag_source: str = ""
    abs_mag_reason: str = NO_PHYSICS
    teff_paper: float = math.nan
    teff_paper_source: str = ""
    abs_mag_paper: float = math.nan
    abs_mag_paper_source: str = ""

    def __post_init__(self):
        for name in ("teff", "abs_mag"):
            value, reason = getattr(self, name), getattr(self, f"{name}_reason")
            if math.isfinite(value) == bool(reason):
                raise ValueError(f"{name}={value!r} with reason {reason!r}: a value needs no "
                                 f"reason and a missing value needs one")
            if math.isfinite(value) and not getattr(self, f"{name}_source"):
                raise ValueError(f"{name}={value!r} has no source")
        if math.isfinite(self.teff) and not self.teff > 0:
            raise ValueError(f"teff={self.teff!r} K is not a temperature")

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

    ``subtype`` is in the vocabulary of :mod:`.subtypes` (``"unknown"`` where the
    survey gives none), ``blazhko`` its modulation flag, ``subtype_label`` the
    survey's own label (the subtype itself where the reader got it already in the
    vocabulary). ``physical_star`` names the star across surveys: curves of one
    star from several surveys share it (an OGLE ID for OGLE-III, OGLE-IV and the
    Gaia DR3 curves joined to them); by default it is :attr:`star_key`.

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
    blazhko: bool = False
    subtype_label: str = ""
    physical_star: str = ""

    def __post_init__(self):
        self.subtype_label = self.subtype_label or self.subtype
        self.physical_star = self.physical_star or self.star_key

    @property
    def star_key(self) -> str:
        """Identifies the star in its survey, across bands."""
        return f"{self.survey}:{self.star_id}"

    @property
    def n_obs(self) -> int:
        return int(self.time.size)


def empty_curve(survey: str, band: str, star_id: str, cls: str, label: str, problem: str,
                period: float = math.nan, period_source: str = "",
                physical_star: str = "") -> LightCurve:
    """A record for a star that was found but cannot be used, carrying the reason.

    ``label`` is the survey's subtype label, put into the vocabulary here.
    """
    nothing = np.empty(0)
    subtype, blazhko = normalise(cls, label)
    return LightCurve(survey, band, star_id, cls, subtype, period, period_source,
                      nothing, nothing, nothing, read_problem=problem, blazhko=blazhko,
                      subtype_label=label, physical_star=physical_star)
