"""Distances and magnitudes: the distance modulus, the distances a star can be given at, and
a variable star's mean magnitude.

One definition for the whole package (generation, inference, the simulation and the
Stripe 82 physics all turn distances into magnitudes with it, and place a curve at its
intensity-mean magnitude with :func:`intensity_mean`).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

#: No star but the Sun is nearer than Proxima Centauri, 1.30 pc (parallax 768 mas, Gaia
#: Collaboration, Brown et al. 2021, A&A 649, A1), so a smaller distance is a mistake.
MIN_DISTANCE_PC = 1.0
#: The absolute magnitudes a star can have. The most luminous stable stars reach M_V ~ -10 (the
#: Humphreys-Davidson limit; Humphreys & Davidson 1979, ApJ 232, 409); the faintest stars in
#: Gaia's Hertzsprung-Russell diagram, cool white dwarfs and late M dwarfs, M_G ~ +16 to +17
#: (Gaia Collaboration, Babusiaux et al. 2018, A&A 616, A10, Fig. 5).
ABS_MAG_BOUNDS = (-10.0, 17.0)


def distance_modulus(distance_pc):
    """mu = m - M = 5 log10(d / 10 pc): the definition of the absolute magnitude as the
    apparent magnitude at 10 pc (e.g. Carroll & Ostlie 2007, Introduction to Modern
    Astrophysics, eq. 3.6). Arrays in, arrays out; no extinction."""
    return 5.0 * np.log10(np.asarray(distance_pc, dtype=float) / 10.0)


def checked_abs_mag(abs_mag: float) -> float:
    """An absolute magnitude within :data:`ABS_MAG_BOUNDS`, else a one-line error: beyond them
    no star is that bright or that faint."""
    lo, hi = ABS_MAG_BOUNDS
    if not lo <= abs_mag <= hi:
        raise ValueError(f"abs_mag={abs_mag:g} is no star's: absolute magnitudes run from about {lo:g} "
                         f"(the most luminous stars) to {hi:g} (the faintest dwarfs)")
    return abs_mag


def checked_distance(distance_pc) -> float:
    """A distance a user gave, in parsecs: a finite real number (``True`` is not 1 pc; NumPy
    numbers are numbers) of at least :data:`MIN_DISTANCE_PC`, else a one-line error."""
    if isinstance(distance_pc, (bool, np.bool_)) or not isinstance(distance_pc, numbers.Real):
        raise ValueError(f"distance_pc must be a number of parsecs, not {distance_pc!r}")
    distance_pc = float(distance_pc)
    if not math.isfinite(distance_pc) or distance_pc < MIN_DISTANCE_PC:
        raise ValueError(f"distance_pc must be at least {MIN_DISTANCE_PC:g} pc (no star is nearer "
                         f"than Proxima Centauri, 1.3 pc), not {distance_pc:g}")
    return distance_pc


def intensity_mean(mags, axis: int = -1) -> np.ndarray:
    """-2.5 log10 < 10^(-0.4 m) >: the magnitude of the mean flux of magnitudes sampled evenly
    over a cycle. It is the mean magnitude the catalogues quote for variable stars and the one
    every absolute magnitude in pelsvae refers to: OGLE's mean I and V are intensity means
    (Soszynski et al. 2008, AcA 58, 163, sect. 3) and Gaia's mean G is the magnitude of the mean
    flux (Riello et al. 2021, A&A 649, A3). It is brighter than the mean of the magnitudes by
    about (0.4 ln 10)^2 / 2 x 2.5 / ln 10 x sigma_m^2 = 0.46 sigma_m^2 (sigma_m the curve's rms in
    magnitudes, to second order): 0.01 mag for a Cepheid of 0.5 mag amplitude in I, ~0.05 mag
    for an RRab of 1 mag in V, far more for a Mira."""
    m = np.asarray(mags, float)
    bright = m.min(axis=axis, keepdims=True)   # referred to the brightest point: no overflow
    return np.squeeze(bright, axis) - 2.5 * np.log10(np.mean(10 ** (-0.4 * (m - bright)), axis=axis))
