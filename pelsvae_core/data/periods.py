"""Periods for survey stars that come without one (CRTS CSDR1).

The generalised Lomb–Scargle search (:mod:`pelsvae_core.periodogram`) runs from
a shortest period set by the star's survey class, and within the class's period limits
where classes meet (:func:`.relations.class_period_limits`): of the CRTS RR Lyrae, 123 had
their highest peak at 1.0-101 d and 29 below 0.2 d, where no RR Lyrae of the OGLE-III catalogue
lies; within the limits they take the peak at 0.25-0.84 d. Eclipsing and ellipsoidal
binaries show two minima per orbit, so Lomb–Scargle usually reports half the
orbital period: a binary whose curve folded at the found period shows a single
dip is given twice that period (the check of Drake et al. 2014, Sect. 3.2, made
automatic).
"""
from __future__ import annotations

import numpy as np

from .. import fourier
from ..periodogram import MIN_PERIOD_DAYS, search_period
from .records import BINARY_CLASSES
from .relations import class_period_limits

#: Shortest period searched per class (days), a survey label being a strong prior;
#: binaries' limits are for Lomb–Scargle's half period. Narrower ranges make the search cheaper.
CLASS_MIN_PERIOD = {"DSCT": 0.02, "RRLYR": 0.15, "ECL": 0.08, "ELL": 0.08, "LPV": 10.0,
                    "ACEP": 0.25, "T2CEP": 0.5, "CEP": 0.5}
DIP_PROMINENCE = 0.15  # a dip counts if deeper than this fraction of the peak-to-peak amplitude


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
    """Lomb–Scargle period from :data:`CLASS_MIN_PERIOD`; where its highest peak lies outside
    the class's limits, the highest peak within them; doubled for a binary whose folded curve
    shows one dip. (A search within the limits from the start would move every period by the
    refinement's grid, ~1e-5 relative, for nothing.)"""
    shortest = CLASS_MIN_PERIOD.get(cls, MIN_PERIOD_DAYS)
    found = search_period(time, mag, err, shortest)
    period = found.period
    lo, hi = class_period_limits(cls)
    if not lo <= period <= hi:  # the same times again: the first search's plans serve
        period = search_period(time, mag, err, max(shortest, lo), hi if np.isfinite(hi) else None,
                               reuse=found.periodogram).period
    if cls in BINARY_CLASSES and np.isfinite(period) and count_dips(time, mag, err, period) < 2:
        period *= 2
    return period
