"""Survey-like photometric noise: an error-versus-magnitude relation per survey and band.

Each relation is fitted on the real curves a model was trained on (one point per
star: its mean magnitude and median error) with the random-error model of
Ivezić et al. (2019, ApJ 873, 111, eq. 5) plus a systematic floor,

    sigma(m)^2 = sigma_sys^2 + (0.04 - gamma) x + gamma x^2,   x = 10^(0.4 (m - m5)),

where m5 is the 5-sigma depth. The form follows photon noise of source and sky,
so it extrapolates sensibly a little beyond the magnitudes a survey observed;
the relation records that range and callers flag values outside it. Fainter than m5
a star is not detected (S/N < 5), and generation reports m5 as its upper limit.

SciPy is imported by the fit alone, so that generating curves does not load it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

#: Fewest stars for which a survey/band relation is fitted.
MIN_STARS = 20


@dataclass(frozen=True)
class ErrorModel:
    """sigma(m) of one survey in one band (Ivezić et al. 2019, eq. 5, plus a floor)."""

    survey: str
    band: str
    sigma_sys: float
    m5: float                        # 5-sigma depth: fainter than this, a star is not detected
    gamma: float
    mag_range: tuple[float, float]   # 1st and 99th percentile of the stars' mean magnitudes
    n_stars: int

    def sigma(self, mag) -> np.ndarray:
        """Photometric error (mag) at apparent magnitude(s) ``mag``."""
        x = 10 ** (0.4 * (np.asarray(mag, dtype=float) - self.m5))
        return np.sqrt(self.sigma_sys**2 + (0.04 - self.gamma) * x + self.gamma * x**2)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ErrorModel":
        return cls(**{**data, "mag_range": tuple(data["mag_range"])})


def fit_error_model(survey: str, band: str, mean_mag: np.ndarray, median_err: np.ndarray) -> ErrorModel:
    """Fit sigma_sys, m5 and gamma to stars' (mean magnitude, median error), robustly in log10 error."""
    from scipy.optimize import least_squares
    mag, err = np.asarray(mean_mag, float), np.asarray(median_err, float)
    good = np.isfinite(mag) & np.isfinite(err) & (err > 0)
    mag, err = mag[good], err[good]
    if len(mag) < MIN_STARS:
        raise ValueError(f"{survey} {band}: {len(mag)} stars, need {MIN_STARS} to fit an error model")

    def residuals(p):
        log_sys, m5, gamma = p
        model = ErrorModel(survey, band, 10**log_sys, m5, gamma, (0, 0), 0)
        return np.log10(model.sigma(mag)) - np.log10(err)

    start = [np.log10(np.percentile(err, 5)), np.percentile(mag, 95) + 1.0, 0.039]
    fit = least_squares(residuals, start, loss="soft_l1", f_scale=0.1,
                        bounds=([-4, mag.min() - 5, 0.0], [0, mag.max() + 10, 0.04]))
    log_sys, m5, gamma = fit.x
    low, high = np.percentile(mag, [1, 99])
    return ErrorModel(survey, band, float(10**log_sys), float(m5), float(gamma),
                      (float(low), float(high)), int(len(mag)))


def fit_error_models(stars: pd.DataFrame) -> dict[str, ErrorModel]:
    """One relation per survey and band, keyed ``"<survey>/<band>"``, from cached stars with
    columns survey, band, mean_mag, amplitude and normalised ``err`` arrays."""
    models = {}
    for (survey, band), group in stars.groupby(["survey", "band"], sort=True):
        if len(group) < MIN_STARS:
            continue
        median_err = np.array([np.median(e) for e in group["err"]]) * group["amplitude"].to_numpy()
        models[f"{survey}/{band}"] = fit_error_model(survey, band, group["mean_mag"].to_numpy(), median_err)
    return models
