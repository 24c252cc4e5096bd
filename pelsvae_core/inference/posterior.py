"""From fits to posteriors: the period, the physics of the training stars, the RR Lyrae mode.

**Physics.** The training stars of the class are draws from the model's joint distribution
of (latent, log period, Teff); weighting each by how likely the observed curve's latent
vector and period are under it gives draws from the posterior (importance sampling with
the prior as proposal). The curve's latent vector is its encoder posterior N(mu, diag v)
(:mod:`.encoding`: the same map that placed the training stars), and each star stands for
a kernel around it whose width is cross-validated on the stars themselves
(:meth:`.reference.ClassReference.log_kernel`):

    log w_k = -(z_k - mu) (c_z Sigma + diag v)^-1 (z_k - mu) / 2
              - (log P_k - log P-hat)^2 / (2 ((c_P h)^2 + sigma_logP^2)).

The interval is the 16, 50 and 84 % quantiles of the weighted stars' Teff (at levels
recalibrated on the validation split where the model holds a map: :mod:`.recalibration`), each
smoothed by the Teff kernel of the cross-validation (a weighted kernel density, not the bare weighted
sample, whose quantiles are too narrow: on the shipped model's LMC Cepheids the bare
sample's 2.5-97.5 % intervals held 91 % of the true values); ``effective_stars`` is Kish's
effective sample size (sum w)^2 / sum w^2 (Kish 1965, *Survey Sampling*).

**Period.** A mixture over the candidate fits, each a Gaussian in frequency of its fitted
width, weighted by its evidence; quantiles of 1/f. Each width is widened where the curve says
little (:func:`period_width_scale`), as simulation-based calibration on the validation split
found the Laplace width too narrow there.

**RR Lyrae mode.** P(RRc) is a logistic function of log10 P and the fitted curve's R21
(:data:`RRC_LOGIT`), averaged over latent draws from the fit's posterior.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from .. import fourier
from .fit import Fit
from .reference import ClassReference

#: logit P(RRc) = c0 + c1 log10(P / d) + c2 R21: a logistic regression fitted (by
#: ``benchmarks/infer.py --fit-mode-boundary``) on the 40,309 RRab and RRc stars of the OGLE-III
#: catalogue with R21 and P (I band; LMC: Soszynski et al. 2009, AcA 59, 1; SMC: Soszynski et
#: al. 2010, AcA 60, 165; bulge: Soszynski et al. 2011, AcA 61, 1): 99.7 % of them on OGLE's
#: side, and calibrated (of stars given 0.7-0.9, 79 % are RRc). R21 is taken as the same in
#: other optical bands, an approximation the benchmark measures.
RRC_LOGIT = (-11.585, -48.900, -30.771)
#: Latent draws averaged for the mode probability.
MODE_DRAWS = 32
#: Fourier order of the R21 measurement on the decoded grid.
MODE_ORDER = 4
QUANTILES = (0.16, 0.5, 0.84)
#: :func:`period_width_scale` = max(1, (Q / Q_ref)^-slope): simulation-based calibration (Talts
#: et al. 2018, arXiv:1804.06788) of the period intervals on 732 periodic twins of validation
#: stars (each star's best fit at its own times with noise of its errors and jitter, inferred
#: again; throwaway script, models/default, 2026-12-04). Unscaled, |P - P_true| / sigma was
#: below 1 for 63.5 % of them (60 % of Catalina's, 63 % of Stripe 82's, 72 % and 69 % of the
#: OGLE Cepheids and bulge RR Lyrae), its 68th percentile 1.27 where Q < 12 and 0.88 where
#: Q > 120: the Laplace width is too narrow where noise moves a free shape's optimum further
#: than the curvature there says. Q_ref and the slope make the share below 1 68 % in each of
#: eight bins of Q up to Q_ref (69.5 % overall; beyond it the intervals were already
#: conservative and are kept).
PERIOD_WIDTH_REFERENCE, PERIOD_WIDTH_SLOPE = 94.0, 0.111


def mixture_cdf(x: float, centres: np.ndarray, widths, weights: np.ndarray) -> float:
    """The distribution function at ``x`` of the Gaussian mixture sum_k w_k N(centres_k,
    widths_k^2) (weights summing to 1)."""
    return float(weights @ stats.norm.cdf((x - centres) / widths))


def mixture_quantiles(centres: np.ndarray, widths, weights: np.ndarray, q=QUANTILES) -> np.ndarray:
    """Quantiles ``q`` of the Gaussian mixture of :func:`mixture_cdf`, by root-finding on its
    distribution function."""
    centres = np.asarray(centres, float)
    widths = np.broadcast_to(np.maximum(np.asarray(widths, float), 1e-300), centres.shape)
    lo, hi = float((centres - 10 * widths).min()), float((centres + 10 * widths).max())
    cdf = lambda x: mixture_cdf(x, centres, widths, weights)
    return np.array([optimize.brentq(lambda x: cdf(x) - p, lo, hi, xtol=1e-12 * max(abs(lo), abs(hi)))
                     for p in np.atleast_1d(q)])


def as_interval(quantiles) -> dict[str, float]:
    """The 16, 50 and 84 % quantiles (:data:`QUANTILES`) as the result's interval."""
    p16, p50, p84 = quantiles
    return {"median": float(p50), "p16": float(p16), "p84": float(p84)}


def star_log_weights(mean: np.ndarray, variance: np.ndarray, fit: Fit,
                     reference: ClassReference, scales: tuple[float, float] | None = None
                     ) -> np.ndarray:
    """log w_k of every reference star (module docstring), up to a constant, for the curve's
    encoder posterior (``mean``, ``variance``: :func:`.encoding.encode`) at ``fit``'s period;
    ``scales``: the kernels' (:meth:`.reference.ClassReference.log_kernel`)."""
    sigma_log_p = fit.frequency_sigma / (fit.frequency * math.log(10))
    return reference.log_kernel(mean, variance, math.log10(fit.period), sigma_log_p**2, scales)


def effective_stars(weights: np.ndarray) -> float:
    """Kish's effective sample size of weights (module docstring)."""
    return float(weights.sum() ** 2 / (weights**2).sum()) if weights.sum() > 0 else 0.0


def mixture_weights(log_evidence: np.ndarray) -> np.ndarray:
    """Posterior weights of hypotheses with equal prior odds from their log evidences."""
    w = np.exp(log_evidence - np.max(log_evidence))
    return w / w.sum()


def fit_weights(fits: list[Fit]) -> np.ndarray:
    """Posterior weights of the fits (classes and periods, equal prior odds per class): each
    log evidence with its data part tempered by beta^2 of the best fit and the class's prior
    of latent and period kept whole (:mod:`.inverse`, step 4)."""
    log_evidence = np.array([f.log_evidence for f in fits])
    class_prior = np.array([f.log_class_prior for f in fits])
    beta = fits[int(np.argmax(log_evidence))].beta
    return mixture_weights((log_evidence - class_prior) / beta**2 + class_prior)


def fit_quality(fit: Fit, band_index: int, typical_err: float, n_points: int) -> float:
    """Q: the fitted curve's peak-to-peak amplitude in ``bands[band_index]`` over the noise
    (``typical_err``, the curve's median quoted error, and the fit's largest jitter in
    quadrature), times the square root of the points per fitted parameter."""
    amplitude = fit.amplitude[band_index] * np.ptp(fit.grids[band_index])
    noise = math.hypot(typical_err, float(np.max(fit.jitter)))
    return float(amplitude / max(noise, 1e-300) * math.sqrt(n_points / fit.n_parameters))


def period_width_scale(quality: float) -> float:
    """How much wider than its Laplace width a fit of quality Q (:func:`fit_quality`) makes its
    frequency's Gaussian: max(1, (Q / :data:`PERIOD_WIDTH_REFERENCE`)^-:data:`PERIOD_WIDTH_SLOPE`),
    e.g. 1.28 at Q = 10 (a 200-point Catalina curve of S/N 5), 1 from Q = 94."""
    return max(1.0, (max(quality, 1e-300) / PERIOD_WIDTH_REFERENCE) ** -PERIOD_WIDTH_SLOPE)


def period_interval(fits: list[Fit], weights: np.ndarray, scales) -> dict[str, float]:
    """Median and 16/84 % of the period under the mixture of the fits (module docstring), each
    fit's frequency width times its ``scales`` entry (:func:`period_width_scale`): quantile q
    of the period is quantile 1 - q of the frequency."""
    f = np.array([fit.frequency for fit in fits])
    s = np.array([max(fit.frequency_sigma, 1e-12) for fit in fits]) * np.asarray(scales, float)
    return as_interval(1 / mixture_quantiles(f, s, weights, QUANTILES)[::-1])


def r21(grids: np.ndarray) -> np.ndarray:
    """R21 (Fourier amplitude ratio A2/A1, :mod:`pelsvae_core.fourier`) of decoded grids (n, G)."""
    phase = np.arange(grids.shape[-1]) / grids.shape[-1]
    return np.array([fourier.fourier_parameters(fourier.fit(phase, g, None, MODE_ORDER))["R21"]
                     for g in grids])


def rrc_probability(fit: Fit, decoder, band_index: int, seed: int = 0) -> float:
    """P(RRc) averaged over :data:`MODE_DRAWS` latent draws from the fit's posterior of the
    block of ``bands[band_index]`` (module docstring); P(RRab) is its complement."""
    d = fit.z.size // len(fit.bands)
    block = slice(band_index * d, (band_index + 1) * d)
    cov = fit.z_covariance()[block, block]
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(fit.z[block], 0.5 * (cov + cov.T), MODE_DRAWS, method="eigh")
    grids = decoder.decode_grid(np.vstack([fit.z[block], draws]), fit.cls,
                                fit.bands[band_index])[:, 0].astype(np.float64)
    c0, c1, c2 = RRC_LOGIT
    logit = c0 + c1 * math.log10(fit.period) + c2 * r21(grids)
    return float(np.mean(1 / (1 + np.exp(-logit))))
