"""Candidate periods of an unfolded curve: periodogram peaks and their aliases, ranked by a
multi-harmonic fit, for the decoder to decide between.

The generalised Lomb–Scargle power (:mod:`pelsvae_core.periodogram`) of each band on one
shared frequency grid is summed with weights proportional to the band's number of points
(a simple stand-in for the multi-band periodogram of VanderPlas & Ivezić 2015, ApJ 812,
18). Its highest peaks, refined on a fine grid, are the seeds; each seed adds the aliases
a survey's sampling and the light curve's shape make likely (VanderPlas 2018, ApJS 236, 16,
on the window function and its aliases):

* half and twice the period: an eclipsing binary's two eclipses put the strongest
  sinusoid at half the orbital period;
* f ± k cycles per sidereal day (k = 1, 2), of ground-based surveys observing a field at
  the same sidereal time night after night (sidereal day 0.99727 d; 1.0027379 cycles/d);
* f ± 1 cycle per year (365.25 d), of seasonal visibility.

Daily and yearly aliases are then moved to their own local periodogram maximum. Each
candidate is ranked by the likelihood of a third-order Fourier series fitted per band
(the multi-harmonic periodogram of Schwarzenberg-Czerny 1996, ApJ 460, L107) with a
fitted jitter (:func:`jitter`), which, unlike the single-sinusoid power, credits a
period for the curve's harmonics; the best ones go on to the decoder fit.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from .. import fourier
from ..periodogram import COARSE_SAMPLES_PER_PEAK, SAMPLES_PER_PEAK, Periodogram, generalised_lomb_scargle
from .observed import Observed

#: Periodogram peaks seeded with aliases.
PEAKS = 5
#: Cycles per day of the sidereal day (1 / 0.99726957 d; Astronomical Almanac).
SIDEREAL = 1.0027379
#: Cycles per day of one year (Julian year, 365.25 d).
YEARLY = 1 / 365.25
#: Fourier order of the ranking fit (lowered per band where points are few, :func:`fourier.fit`).
RANK_ORDER = 3
#: Candidates passed on to the decoder fit.
KEEP = 8
#: Most frequencies of one periodogram (memory bound, as :data:`periodogram.MAX_FREQUENCIES`).
MAX_FREQUENCIES = 400_000


def jitter(residual: np.ndarray, err: np.ndarray, n_params: float) -> float:
    """Extra scatter tau (magnitudes) added in quadrature to the errors so that
    sum r^2 / (err^2 + tau^2) = n - p: the Paule & Mandel (1982, J. Res. NBS 87, 377)
    estimator of an unknown extra variance; 0 when the quoted errors already explain the
    residuals. Here it absorbs what the model cannot fit (shape mismatch, underestimated errors)."""
    dof = max(residual.size - n_params, 1.0)
    r2, e2 = residual**2, err**2
    if np.sum(r2 / e2) <= dof:
        return 0.0
    top = float(np.sum(r2) / dof) + 1e-12
    return math.sqrt(optimize.brentq(lambda t2: np.sum(r2 / (e2 + t2)) - dof, 0.0, top, xtol=1e-12))


def log_likelihood(residual: np.ndarray, err: np.ndarray, tau: float) -> float:
    """Gaussian log-likelihood of residuals with variances err^2 + tau^2."""
    s2 = err**2 + tau**2
    return float(-0.5 * np.sum(residual**2 / s2 + np.log(2 * np.pi * s2)))


def _power(obs: Observed, periodograms: list[tuple[Periodogram, np.ndarray]]) -> np.ndarray:
    total = 0.0
    for pg, mask in periodograms:
        total = total + mask.sum() * pg.power(obs.mag[mask], obs.err[mask])
    return total / len(obs)


def _fine_power(obs: Observed, frequency: np.ndarray) -> np.ndarray:
    total = 0.0
    for band in obs.bands:
        m = obs.in_band(band)
        total = total + m.sum() * generalised_lomb_scargle(obs.time[m], obs.mag[m], obs.err[m], frequency)
    return total / len(obs)


def _refine(obs: Observed, f: float, width: float) -> float:
    """The highest summed power within one peak width of ``f`` (``SAMPLES_PER_PEAK`` per width)."""
    grid = np.linspace(f - width, f + width, 2 * SAMPLES_PER_PEAK + 1)
    grid = grid[grid > 0]
    return float(grid[np.argmax(_fine_power(obs, grid))])


def peaks(obs: Observed, f_min: float, f_max: float) -> list[float]:
    """The :data:`PEAKS` highest local maxima of the summed periodogram, refined."""
    width = 1 / obs.baseline
    n_freq = min(int(math.ceil((f_max - f_min) / width * COARSE_SAMPLES_PER_PEAK)) + 1, MAX_FREQUENCIES)
    df = (f_max - f_min) / max(n_freq - 1, 1)
    periodograms = [(Periodogram(obs.time[m], f_min, df, n_freq), m)
                    for m in (obs.in_band(b) for b in obs.bands)]
    power = _power(obs, periodograms)
    local = np.flatnonzero((power[1:-1] >= power[:-2]) & (power[1:-1] >= power[2:])) + 1
    if local.size == 0:
        local = np.array([int(np.argmax(power))])
    top = local[np.argsort(power[local])[::-1][:PEAKS]]
    return [_refine(obs, f_min + df * i, width) for i in top]


def candidates(obs: Observed, f_min: float, f_max: float) -> np.ndarray:
    """Periodogram peaks and their aliases (module docstring) in [f_min, f_max], one per peak width."""
    width = 1 / obs.baseline
    found = []
    for f in peaks(obs, f_min, f_max):
        found += [f, f / 2, 2 * f]
        for shift in (SIDEREAL, -SIDEREAL, 2 * SIDEREAL, -2 * SIDEREAL, YEARLY, -YEARLY):
            alias = f + shift
            if f_min <= alias <= f_max:
                found.append(_refine(obs, alias, width))
    unique: list[float] = []
    for f in found:
        if f_min <= f <= f_max and all(abs(f - u) > 0.5 * width for u in unique):
            unique.append(f)
    return np.array(unique)


def harmonic_log_likelihood(obs: Observed, f: float, t_ref: float) -> tuple[float, np.ndarray]:
    """Gaussian log-likelihood of a per-band Fourier series of order :data:`RANK_ORDER` at
    frequency ``f`` with each band's fitted :func:`jitter`, and those jitters."""
    total, taus = 0.0, []
    for band in obs.bands:
        m = obs.in_band(band)
        phase = np.mod((obs.time[m] - t_ref) * f, 1.0)
        coeffs = fourier.fit(phase, obs.mag[m], obs.err[m], RANK_ORDER)
        residual = obs.mag[m] - fourier.evaluate(coeffs, phase)
        tau = jitter(residual, obs.err[m], coeffs.size)
        total += log_likelihood(residual, obs.err[m], tau)
        taus.append(tau)
    return total, np.array(taus)


def ranked(obs: Observed, frequencies: np.ndarray, t_ref: float) -> list[tuple[float, np.ndarray]]:
    """The :data:`KEEP` candidates of highest :func:`harmonic_log_likelihood` with their band
    jitters, best first; the best one's half and double always among them (the binary case)."""
    scored = [(harmonic_log_likelihood(obs, f, t_ref), f) for f in frequencies]
    scored.sort(key=lambda item: -item[0][0])
    kept = scored[:KEEP]
    best = scored[0][1]
    width = 1 / obs.baseline
    for (score, taus), f in scored[KEEP:]:
        if min(abs(f - best / 2), abs(f - 2 * best)) < 0.5 * width:
            kept.append(((score, taus), f))
    return [(f, taus) for (score, taus), f in kept]
