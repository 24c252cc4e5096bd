"""Period search for surveys that publish none (CRTS CSDR1).

Lomb–Scargle (Lomb 1976; Scargle 1982; the nifty-ls implementation,
Garrison et al. 2024) finds the
strongest period. Eclipsing and ellipsoidal binaries show two minima per
orbit, so Lomb–Scargle usually reports half the orbital period: a binary
whose curve folded at the found period shows a single dip is given twice
that period (the check of Drake et al. 2014, Sect. 3.2, made automatic).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import nifty_ls

from .. import fourier
from .records import BINARY_CLASSES

MIN_PERIOD_DAYS = 0.05
#: Shortest period searched per class (days), a survey label being a strong prior;
#: binaries' limits are for Lomb–Scargle's half period. Narrower ranges make the search cheaper.
CLASS_MIN_PERIOD = {"DSCT": 0.02, "RRLYR": 0.15, "ECL": 0.08, "ELL": 0.08, "LPV": 10.0,
                    "ACEP": 0.25, "T2CEP": 0.5, "CEP": 0.5}
SAMPLES_PER_PEAK = 10
COARSE_SAMPLES_PER_PEAK = 2
REFINED_PEAKS = 3
MAX_FREQUENCIES = 2_000_000  # bounds memory whatever the baseline
DIP_PROMINENCE = 0.15  # a dip counts if deeper than this fraction of the peak-to-peak amplitude


def _periodogram(time, mag, err, f_min: float, f_max: float, n_freq: int):
    result = nifty_ls.lombscargle(time, mag, err, fmin=f_min, fmax=f_max,
                                  Nf=min(n_freq, MAX_FREQUENCIES), nthreads=1)
    return result.fmin + result.df * np.arange(result.power.size), result.power


def generalised_lomb_scargle(time, mag, err, frequency: np.ndarray) -> np.ndarray:
    """Generalised (floating-mean, error-weighted) Lomb–Scargle power at a few frequencies,
    evaluated directly (Zechmeister & Kürster 2009, eqs. 4-15; the "standard" normalisation,
    as nifty-ls and astropy). For a short fine grid this is far cheaper than planning a NUFFT."""
    w = 1.0 / np.asarray(err, dtype=float) ** 2
    w /= w.sum()
    y = np.asarray(mag, dtype=float)
    angle = 2 * np.pi * np.outer(frequency, np.asarray(time, dtype=float) - time[0])
    cos, sin = np.cos(angle), np.sin(angle)
    mean_y, mean_c, mean_s = w @ y, cos @ w, sin @ w
    yy = w @ y**2 - mean_y**2
    yc = cos @ (w * y) - mean_y * mean_c
    ys = sin @ (w * y) - mean_y * mean_s
    cc = cos**2 @ w - mean_c**2
    ss = sin**2 @ w - mean_s**2
    cs = (cos * sin) @ w - mean_c * mean_s
    return (ss * yc**2 + cc * ys**2 - 2 * cs * yc * ys) / (yy * (cc * ss - cs**2))


@dataclass
class PeriodSearch:
    """The best period and the coarse periodogram it was found on."""

    period: float
    frequency: np.ndarray   # 1/day, uniform, COARSE_SAMPLES_PER_PEAK per peak width
    power: np.ndarray


def search_period(time: np.ndarray, mag: np.ndarray, err: np.ndarray,
                  min_period: float = MIN_PERIOD_DAYS, max_period: float | None = None) -> PeriodSearch:
    """The highest Lomb–Scargle peak between ``min_period`` and ``max_period`` (default: half
    the baseline).

    A coarse grid (``COARSE_SAMPLES_PER_PEAK``) finds candidate peaks; a fine grid
    around the best few fixes the period to ``SAMPLES_PER_PEAK`` resolution at a
    fraction of the cost of a fine grid everywhere.
    """
    baseline = float(np.ptp(time))
    if baseline <= 0:
        return PeriodSearch(float("nan"), np.empty(0), np.empty(0))
    max_period = max_period or max(baseline / 2, 2 * min_period)
    f_min, f_max = 1 / max_period, 1 / min_period
    coarse_step = 1 / (COARSE_SAMPLES_PER_PEAK * baseline)
    fine_points = 4 * SAMPLES_PER_PEAK // COARSE_SAMPLES_PER_PEAK + 1  # +-2 coarse steps
    freq, power = _periodogram(time, mag, err, f_min, f_max,
                               int(np.ceil((f_max - f_min) / coarse_step)) + 1)
    best_f, best_p = np.nan, -np.inf
    peaks = min(REFINED_PEAKS, power.size)
    for i in np.argpartition(power, -peaks)[-peaks:]:
        fine_f = np.linspace(max(f_min, freq[i] - 2 * coarse_step), freq[i] + 2 * coarse_step, fine_points)
        fine_p = generalised_lomb_scargle(time, mag, err, fine_f)
        if fine_p.max() > best_p:
            best_f, best_p = fine_f[np.argmax(fine_p)], fine_p.max()
    return PeriodSearch(float(1 / best_f), freq, power)


def lomb_scargle_period(time: np.ndarray, mag: np.ndarray, err: np.ndarray,
                        min_period: float = MIN_PERIOD_DAYS) -> float:
    """Period of the highest Lomb–Scargle peak between ``min_period`` and half the baseline."""
    return search_period(time, mag, err, min_period).period


def count_dips(time: np.ndarray, mag: np.ndarray, err: np.ndarray, period: float,
               order: int = 6, grid: int = 400) -> int:
    """Number of distinct brightness minima per cycle of the smooth folded curve."""
    phase = np.mod(time / period, 1.0)
    curve = fourier.evaluate(fourier.fit(phase, mag, err, order), np.linspace(0, 1, grid,
                                                                               endpoint=False))
    threshold = DIP_PROMINENCE * np.ptp(curve)
    # Local maxima of magnitude (= minima of brightness) on the circle.
    peaks = np.flatnonzero((curve >= np.roll(curve, 1)) & (curve > np.roll(curve, -1)))
    dips = 0
    for p in peaks:
        # prominence: drop to the lowest point on the way to the next higher peak, either side
        rolled = np.roll(curve, -p)
        higher = np.flatnonzero(rolled > rolled[0])
        if higher.size == 0:
            dips += 1
            continue
        left, right = rolled[higher[-1]:], rolled[:higher[0] + 1]
        if curve[p] - max(left.min(), right.min()) >= threshold:
            dips += 1
    return dips


def estimate_period(time: np.ndarray, mag: np.ndarray, err: np.ndarray, cls: str) -> float:
    """Lomb–Scargle period, doubled for a binary whose folded curve shows one dip."""
    period = lomb_scargle_period(time, mag, err, CLASS_MIN_PERIOD.get(cls, MIN_PERIOD_DAYS))
    if cls in BINARY_CLASSES and np.isfinite(period) and count_dips(time, mag, err, period) < 2:
        period *= 2
    return period
