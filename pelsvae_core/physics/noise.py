"""Survey-like photometric noise: an error-versus-magnitude relation per survey and band.

Each relation is fitted on the real curves a model was trained on (one point per
star: its mean magnitude and median error) with the random-error model of
Ivezić et al. (2019, ApJ 873, 111, eq. 5) plus a systematic floor,

    sigma(m)^2 = sigma_sys^2 + (0.04 - gamma) x + gamma x^2,   x = 10^(0.4 (m - m5)),

where m5 is the 5-sigma depth. The form follows photon noise of source and sky,
so it extrapolates sensibly a little beyond the magnitudes a survey observed;
the relation records that range and callers flag values outside it. Fainter than m5
a star is not detected (S/N < 5), and generation reports m5 as its upper limit.

The errors a survey quotes are not the scatter of its curves. Measured on the training stars
as sqrt(reduced chi^2) about each curve's own order-8 Fourier fit (:func:`scatter_ratio`;
Bevington & Robinson 2003, Sect. 11.1), the median ratio is 0.6-0.9 for Catalina (its
errors are conservative), 1.3-1.8 for the OGLE-III LMC Cepheids (OGLE underestimates its
errors: Skowron et al. 2016, AcA 66, 1), 2.5-3 for the OGLE-IV bulge RR Lyrae, 1.6-3.3
for Stripe 82 and 5.7-8 for Gaia DR3, and 2.4-3.2 for Catalina's long-period variables,
whose cycles differ. So each relation also carries, per class, the real scatter
(:class:`Scatter`, which includes what the shape misses: cycle-to-cycle changes, Blazhko
modulation, a fold over years), measured on the same stars; generation draws noise of
that size and reports the quoted error, as the survey would.

SciPy is imported by the fits alone, so that generating curves does not load it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from .. import fourier

#: Fewest stars for which a survey/band relation, or a class's scatter in it, is fitted.
MIN_STARS = 20
#: Fourier order of the shape about which a curve's real scatter is measured (the order of
#: the evaluation's reference fits).
SCATTER_ORDER = 8
#: Key of the scatter of all classes of a survey and band together (for classes with fewer
#: than :data:`MIN_STARS` stars there).
ALL_CLASSES = "*"
#: LSST single-visit (2 x 15 s) five-sigma depths per band, AB mag (Ivezic et al. 2019, ApJ 873,
#: 111, Table 1): the ``lsst`` cadence's noise (:data:`LSST`) and its simulated visits' depth.
#: The model's SDSS u-z are taken as LSST's (filters within a few per cent in wavelength,
#: magnitudes within 0.04 mag of AB).
LSST_DEPTH = {"u": 23.9, "g": 25.0, "r": 24.7, "i": 24.0, "z": 23.3, "y": 22.1}
#: gamma of eq. 5 per LSST band (Ivezic et al. 2019, Table 2); other bands take 0.039.
LSST_GAMMA = {"u": 0.038, "g": 0.039, "r": 0.039, "i": 0.039, "z": 0.039, "y": 0.039}
DEFAULT_GAMMA = 0.039
#: The systematic floor added in quadrature: LSST's requirement of 0.005 mag on the
#: repeatability of bright-star photometry (Ivezic et al. 2019, Sect. 3.2.1, eq. 4).
LSST_SIGMA_SYS = 0.005
#: ZTF's median five-sigma depths of one 30 s exposure, AB mag: g ~ 20.8, r ~ 20.6 (Masci et
#: al. 2019, PASP 131, 018003, abstract). ZTF is calibrated to Pan-STARRS1 (same paper); the
#: model's SDSS g and r are taken as ZTF's, the colour terms between the systems (Tonry et al.
#: 2012, ApJ 750, 99) not applied: they shift a star's magnitude, not how its error grows.
ZTF_DEPTH = {"g": 20.8, "r": 20.6}
#: ZTF's repeatability at bright unsaturated fluxes, 8-25 mmag, the high end at airmass near 2
#: (Masci et al. 2019, abstract): its low end, a star observed at low airmass; the 25 mmag end
#: would apply near airmass 2.
ZTF_SIGMA_SYS = 0.008


def scatter_ratio(phase: np.ndarray, mag: np.ndarray, err: np.ndarray, order: int = SCATTER_ORDER) -> float:
    """A real curve's scatter about its own order-``order`` Fourier fit in units of its quoted
    errors, sqrt(chi^2 / (n - p)) with p the fit's coefficients (the reduced chi^2,
    Bevington & Robinson 2003, Sect. 11.1)."""
    coeffs = fourier.fit(phase, mag, err, order)
    chi2 = np.sum(((mag - fourier.evaluate(coeffs, phase)) / err) ** 2)
    return float(np.sqrt(chi2 / max(len(mag) - len(coeffs), 1)))


@dataclass(frozen=True)
class Scatter:
    """The real scatter of a class's curves in one survey and band about their shape, as a
    function of the quoted error sigma (mag): s^2 = (scale sigma)^2 + extra^2, the quoted errors
    rescaled plus a term in quadrature that does not shrink for bright stars (calibration,
    and what the shape misses: cycle-to-cycle changes, Blazhko modulation, a fold over years).
    That is the form of the error-bar corrections of OGLE photometry (Skowron et al. 2016,
    AcA 66, 1: sigma' = sqrt((gamma sigma)^2 + epsilon^2)), fitted here per class
    (:func:`fit_scatter`). The median ratio of real scatter to quoted error of the ``n_stars``
    training stars is kept with it (``ratio``, 16th-84th percentiles ``spread``). Measured on
    the shipped model's training stars in terciles of quoted error, the form follows the
    ratio where one number cannot: Stripe 82 g 4.4 / 3.3 / 2.2 against 4.9 / 3.2 / 2.3 from
    the fit. A scatter in proportion to the amplitude instead of ``extra`` was tried and
    refused: on Catalina it put the scale at its lower bound and took the photon noise out of
    faint stars."""

    scale: float
    extra: float                    # mag
    ratio: float
    spread: tuple[float, float]
    n_stars: int

    def sigma(self, quoted) -> np.ndarray:
        """The real scatter (mag) for quoted error(s) ``quoted`` (mag)."""
        return np.hypot(self.scale * np.asarray(quoted, float), self.extra)

    def describe(self) -> str:
        """The fitted form and the stars behind it, in one phrase."""
        return (f"{self.scale:.2f} × the quoted error ⊕ {self.extra:.3f} mag; median real / quoted "
                f"{self.ratio:.2f} (16–84 % {self.spread[0]:.2f}–{self.spread[1]:.2f}), "
                f"{self.n_stars} stars")


def fit_scatter(quoted: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """``scale`` and ``extra`` of :class:`Scatter` from stars' typical quoted error and real
    scatter (mag): least squares in log scatter with a soft-L1 loss (a few stars with a
    companion or a wrong period must not set them)."""
    from scipy.optimize import least_squares
    quoted, real = np.asarray(quoted, float), np.asarray(real, float)

    def residuals(p):
        return 0.5 * np.log((p[0] * quoted) ** 2 + p[1] ** 2) - np.log(real)

    fit = least_squares(residuals, [float(np.median(real / quoted)), 0.0], loss="soft_l1",
                        f_scale=0.2, bounds=([0.2, 0.0], [50.0, 0.5]))
    return float(fit.x[0]), float(fit.x[1])


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
    #: per class (and :data:`ALL_CLASSES`); empty in folders fitted before: quoted errors only
    scatter: dict[str, Scatter] = field(default_factory=dict)
    #: where a relation not fitted on stars comes from (empty: fitted on ``n_stars`` stars)
    source: str = ""

    def sigma(self, mag) -> np.ndarray:
        """Photometric error (mag) at apparent magnitude(s) ``mag``, in single precision where
        ``mag`` and the depth are (a simulation's millions of epochs: a quarter of the time,
        with 10^(0.4 dm) as exp(0.4 ln 10 dm))."""
        mag = np.asarray(mag)
        dm = mag.astype(np.result_type(mag, np.float32), copy=False) - self.m5
        x = np.exp(dm * dm.dtype.type(0.4 * math.log(10)))
        return np.sqrt(self.sigma_sys**2 + (0.04 - self.gamma) * x + self.gamma * x**2)

    def scatter_of(self, cls: str) -> Scatter | None:
        """The real scatter of ``cls`` (its own, else all classes'), None if never fitted."""
        return self.scatter.get(cls, self.scatter.get(ALL_CLASSES))

    def real_sigma(self, mag, cls: str) -> np.ndarray:
        """The scatter (mag) real curves of ``cls`` have at apparent magnitude(s) ``mag``."""
        return self.real_from_quoted(self.sigma(mag), cls)

    def real_from_quoted(self, quoted, cls: str) -> np.ndarray:
        """The real scatter of ``cls`` for quoted error(s) ``quoted`` (from :meth:`sigma`):
        :class:`Scatter` on them, or they alone where none was fitted."""
        scatter = self.scatter_of(cls)
        return quoted if scatter is None else scatter.sigma(quoted)

    def describe_scatter(self, cls: str) -> str:
        """One line on the noise drawn for ``cls`` against the quoted error."""
        scatter = self.scatter_of(cls)
        if self.source:
            return ("noise as large as these errors (published for the survey, not measured on its "
                    "curves here)")
        if scatter is None:
            return "noise as large as the quoted errors (no real scatter fitted in this folder)"
        whose = cls if cls in self.scatter else "all classes"
        return f"noise as large as the real scatter of {whose}: {scatter.describe()}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ErrorModel":
        scatter = {key: Scatter(**{**value, "spread": tuple(value["spread"])})
                   for key, value in data.get("scatter", {}).items()}
        return cls(**{**data, "mag_range": tuple(data["mag_range"]), "scatter": scatter})


@dataclass(frozen=True)
class PublishedNoise:
    """A survey's single-visit errors as its team publishes them, for the cadence preset of a
    survey whose curves the model never saw: eq. 5 at its five-sigma depths, its gamma
    (else :data:`DEFAULT_GAMMA`, LSST's in g-y, on which eq. 5 near the depth hardly depends)
    and its floor. Its quoted errors
    are the noise drawn: a survey without curves here has no real scatter to measure."""

    survey: str                  # a cadence preset's survey starts it: recovery.PRESET_SURVEYS
    depth: dict[str, float]      # band -> five-sigma depth of one visit, AB mag
    sigma_sys: float
    source: str                  # where the numbers are published
    gamma: dict[str, float] = field(default_factory=dict)

    def error_models(self, bands) -> dict[str, ErrorModel]:
        """Its error models in those of ``bands`` it has, keyed as fitted ones are."""
        return {f"{self.survey}/{band}": ErrorModel(
            survey=self.survey, band=band, sigma_sys=self.sigma_sys, m5=self.depth[band],
            gamma=self.gamma.get(band, DEFAULT_GAMMA), mag_range=(math.nan, math.nan),
            n_stars=0, source=self.source)
            for band in sorted(set(bands) & set(self.depth))}


LSST = PublishedNoise("LSST", LSST_DEPTH, LSST_SIGMA_SYS,
                      "LSST single-visit depth (Ivezić et al. 2019, Tables 1-2)", LSST_GAMMA)
ZTF = PublishedNoise("ZTF", ZTF_DEPTH, ZTF_SIGMA_SYS,
                     "ZTF median 30 s depth and bright-star repeatability (Masci et al. 2019)")
#: The published noise of each cadence preset that has one, by preset name.
PUBLISHED_NOISE = {"lsst": LSST, "ztf": ZTF}


def published_error_models(bands) -> dict[str, ErrorModel]:
    """Every :data:`PUBLISHED_NOISE` survey's error models in those of ``bands`` it has."""
    return {key: model for survey in PUBLISHED_NOISE.values()
            for key, model in survey.error_models(bands).items()}


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
        relation = fit_error_model(survey, band, group["mean_mag"].to_numpy(), median_err)
        models[f"{survey}/{band}"] = replace(relation, scatter=fit_class_scatter(group))
    return models


def fit_class_scatter(group: pd.DataFrame) -> dict[str, Scatter]:
    """:class:`Scatter` per class of one survey and band with at least :data:`MIN_STARS` stars,
    and of all of them (:data:`ALL_CLASSES`), from cached stars (normalised phase, mag, err and
    the amplitude that turns them into mag)."""
    ratio = np.array([scatter_ratio(np.asarray(p), np.asarray(m), np.asarray(e))
                      for p, m, e in zip(group["phase"], group["mag"], group["err"])])
    quoted = np.array([np.median(e) for e in group["err"]]) * group["amplitude"].to_numpy(float)
    classes = group["cls"].to_numpy(str)
    out = {}
    for cls in [ALL_CLASSES, *sorted(set(classes))]:
        member = np.ones(len(group), bool) if cls == ALL_CLASSES else classes == cls
        if member.sum() < MIN_STARS:
            continue
        scale, extra = fit_scatter(quoted[member], ratio[member] * quoted[member])
        low, median, high = np.percentile(ratio[member], [16, 50, 84])
        out[cls] = Scatter(scale, extra, float(median), (float(low), float(high)), int(member.sum()))
    return out
