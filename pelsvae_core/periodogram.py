"""Generalised Lomb–Scargle period search, for any observation times.

Lomb–Scargle (Lomb 1976; Scargle 1982), in its generalised, error-weighted,
floating-mean form (Zechmeister & Kürster 2009), finds the strongest period. Used
by the data pipeline for surveys that publish no period (CRTS CSDR1, through
:mod:`pelsvae_core.data.periods`) and live by the dashboard on every cadence.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import finufft
import numpy as np

MIN_PERIOD_DAYS = 0.05
SAMPLES_PER_PEAK = 10
COARSE_SAMPLES_PER_PEAK = 2
REFINED_PEAKS = 3
MAX_FREQUENCIES = 2_000_000  # bounds memory whatever the baseline


def _weights_and_centred(mag, err) -> tuple[np.ndarray, np.ndarray]:
    """Normalised weights 1/err^2 and the magnitudes less their weighted mean."""
    w = 1.0 / np.asarray(err, dtype=float) ** 2
    w /= w.sum()
    y = np.asarray(mag, dtype=float)
    return w, y - w @ y


def _power(sum_y: np.ndarray, sum_1: np.ndarray, sum_2: np.ndarray, yy: float) -> np.ndarray:
    """Generalised Lomb–Scargle power (Zechmeister & Kürster 2009, eqs. 4-15; the "standard"
    normalisation, as astropy) from the weighted sums at each frequency f: sum w y e^{i2πft}
    (y centred), sum w e^{i2πft}, sum w e^{i4πft}; ``yy``: sum w y^2."""
    yc, ys, c, s = sum_y.real, sum_y.imag, sum_1.real, sum_1.imag
    cc = 0.5 * (1 + sum_2.real) - c**2
    ss = 0.5 * (1 - sum_2.real) - s**2
    cs = 0.5 * sum_2.imag - c * s
    return (ss * yc**2 + cc * ys**2 - 2 * cs * yc * ys) / (yy * (cc * ss - cs**2))


def generalised_lomb_scargle(time, mag, err, frequency: np.ndarray) -> np.ndarray:
    """Generalised Lomb–Scargle power at a few frequencies, the sums evaluated directly: for a
    short fine grid far cheaper than the NUFFTs of :class:`Periodogram`."""
    w, y = _weights_and_centred(mag, err)
    phasor = np.exp(2j * np.pi * np.outer(frequency, np.asarray(time, dtype=float) - time[0]))
    return _power(phasor @ (w * y), phasor @ w, phasor**2 @ w, w @ y**2)


@dataclass
class PeriodSearch:
    """The best period and the coarse periodogram it was found on (``periodogram``: to search
    the same times again, see :func:`search_period`)."""

    period: float
    frequency: np.ndarray   # 1/day, uniform, COARSE_SAMPLES_PER_PEAK per peak width
    power: np.ndarray
    periodogram: "Periodogram | None" = None


class Periodogram:
    """Generalised Lomb–Scargle power on a uniform frequency grid, for fixed observation times
    and any number of magnitude vectors.

    The weighted sums over observations at every grid frequency f and at 2f that the power
    needs (Zechmeister & Kürster 2009, eqs. 4-15) are type-1 non-uniform FFTs, as in Press &
    Rybicki (1989) and nifty-ls (Garrison et al. 2024), computed with FINUFFT (Barnett et al.
    2019). Their plans depend on the times and the grid's spacing and length only, not on
    where it starts, so they are made once: the dashboard searches the same cadence again on
    every slider move (around a new period in its lesson mode), and planning cost more than
    the transforms.
    """

    def __init__(self, time: np.ndarray, f_min: float, df: float, n_freq: int, eps: float = 1e-9,
                 n_modes: int | None = None):
        self.time = np.asarray(time, dtype=float)
        self.f_min, self.df, self.n_freq = float(f_min), float(df), int(n_freq)
        self.frequency = self.f_min + self.df * np.arange(self.n_freq)
        # the plans' modes: at least the grid; more (``n_modes``) lets the same plans serve any
        # grid of this spacing up to that length (:meth:`on_grid`)
        self.n_modes = max(self.n_freq, int(n_modes or 0))
        self._t = self.time - self.time[0]
        self._plans = []
        for harmonic, n_trans in ((1, 2), (2, 1)):  # at f: sums of w*y and w; at 2f: of w
            x = np.mod(2 * np.pi * harmonic * self.df * self._t, 2 * np.pi)
            plan = finufft.Plan(1, (self.n_modes,), n_trans=n_trans, eps=eps, isign=1, nthreads=1,
                                 upsampfac=1.25)  # a smaller FFT than the default 2 (as nifty-ls)
            plan.setpts(x)
            self._plans.append((plan, x))

    @staticmethod
    def search_grid(time: np.ndarray, min_period: float, max_period: float) -> tuple[float, float, int]:
        """(f_min, df, n_freq) of :func:`search_period`'s coarse grid, from 1 / max_period to
        1 / min_period: ``COARSE_SAMPLES_PER_PEAK`` per peak width (1 / baseline), a spacing
        that depends on the times only, so that every search of the same times can share one
        set of plans (:meth:`on_grid`); or ``MAX_FREQUENCIES`` evenly spread if fewer."""
        f_min, f_max = 1 / max_period, 1 / min_period
        step = 1 / (COARSE_SAMPLES_PER_PEAK * float(np.ptp(time)))
        n_freq = int(np.floor((f_max - f_min) / step)) + 1
        if n_freq <= MAX_FREQUENCIES:
            return f_min, step, n_freq
        return f_min, (f_max - f_min) / (MAX_FREQUENCIES - 1), MAX_FREQUENCIES

    @classmethod
    def for_search(cls, time: np.ndarray, min_period: float, max_period: float) -> "Periodogram":
        """The periodogram :func:`search_period` scans for these times and periods, its plans
        sized to the next power of two (at most ``MAX_FREQUENCIES``), so that they serve the
        searches of nearby periods."""
        f_min, df, n_freq = cls.search_grid(time, min_period, max_period)
        return cls(time, f_min, df, n_freq, n_modes=min(1 << (n_freq - 1).bit_length(), MAX_FREQUENCIES))

    def on_grid(self, time: np.ndarray, f_min: float, df: float, n_freq: int) -> "Periodogram | None":
        """This periodogram moved to another grid of the same times and spacing, its plans
        shared (itself if the grid is its own); None if the plans cannot serve that grid."""
        if not (np.array_equal(self.time, time) and df == self.df and n_freq <= self.n_modes):
            return None
        if (f_min, n_freq) == (self.f_min, self.n_freq):
            return self
        moved = copy.copy(self)
        moved.f_min, moved.n_freq = float(f_min), int(n_freq)
        moved.frequency = moved.f_min + moved.df * np.arange(moved.n_freq)
        return moved

    def power(self, mag: np.ndarray, err: np.ndarray) -> np.ndarray:
        """Power at every grid frequency (:func:`_power`)."""
        w, y = _weights_and_centred(mag, err)
        # FINUFFT's modes run from -n/2; these factors start them at f_min (or 2 f_min) instead
        (plan, x), (plan2, x2) = self._plans
        start = np.exp(1j * (2 * np.pi * self.f_min * self._t + (self.n_modes // 2) * x))
        start2 = np.exp(1j * (4 * np.pi * self.f_min * self._t + (self.n_modes // 2) * x2))
        sum_y, sum_1 = plan.execute(np.stack([w * y * start, w * start]))[:, :self.n_freq]
        return _power(sum_y, sum_1, plan2.execute(w * start2)[:self.n_freq], w @ y**2)

    def search(self, mag: np.ndarray, err: np.ndarray) -> PeriodSearch:
        """The highest peak: candidates on this coarse grid, each refined directly on a fine
        grid (``SAMPLES_PER_PEAK`` per peak width) one peak width either side, at a fraction of
        the cost of a fine grid everywhere."""
        power = self.power(mag, err)
        width = 1 / float(np.ptp(self.time))
        fine_points = 2 * SAMPLES_PER_PEAK + 1
        best_f, best_p = np.nan, -np.inf
        peaks = min(REFINED_PEAKS, power.size)
        for i in np.argpartition(power, -peaks)[-peaks:]:
            centre = self.frequency[i]
            fine_f = np.linspace(max(self.f_min, centre - width), centre + width, fine_points)
            fine_p = generalised_lomb_scargle(self.time, mag, err, fine_f)
            if fine_p.max() > best_p:
                best_f, best_p = fine_f[np.argmax(fine_p)], fine_p.max()
        return PeriodSearch(float(1 / best_f), self.frequency, power, self)


def search_period(time: np.ndarray, mag: np.ndarray, err: np.ndarray,
                  min_period: float = MIN_PERIOD_DAYS, max_period: float | None = None,
                  reuse: Periodogram | None = None) -> PeriodSearch:
    """The highest Lomb–Scargle peak between ``min_period`` and ``max_period`` (default: half
    the baseline). ``reuse``: the ``periodogram`` of an earlier search, whose plans serve again
    if it was made for the same times (whatever the periods, unless the grid outgrows them)."""
    baseline = float(np.ptp(time))
    if baseline <= 0:
        return PeriodSearch(float("nan"), np.empty(0), np.empty(0))
    max_period = max_period or max(baseline / 2, 2 * min_period)
    periodogram = reuse and reuse.on_grid(time, *Periodogram.search_grid(time, min_period, max_period))
    return (periodogram or Periodogram.for_search(time, min_period, max_period)).search(mag, err)


#: A period counts as recovered when found within this fraction of the true one.
RECOVERY_TOLERANCE = 0.01
#: :func:`search_near` looks from a quarter to four times the expected period: wide enough for
#: the daily and yearly aliases of survey cadences, narrow enough to run on every slider move.
SEARCH_WINDOW = 4.0
#: Fewest epochs :func:`search_near` searches.
MIN_EPOCHS = 5


def is_recovered(found: float, true: float, tolerance: float = RECOVERY_TOLERANCE) -> bool:
    """Whether a found period is the true one, within ``tolerance`` (relative)."""
    return bool(abs(found / true - 1) < tolerance)


def search_near(time: np.ndarray, mag: np.ndarray, err: np.ndarray, period: float,
                reuse: Periodogram | None = None) -> PeriodSearch | None:
    """The highest peak from ``period / SEARCH_WINDOW`` to ``SEARCH_WINDOW * period`` (at most
    half the baseline, but never below 1.5 ``period``); None with fewer than ``MIN_EPOCHS``
    epochs or no baseline. ``reuse`` as in :func:`search_period`."""
    if np.size(time) < MIN_EPOCHS or np.ptp(time) <= 0:
        return None
    longest = min(SEARCH_WINDOW * period, max(np.ptp(time) / 2, period * 1.5))
    return search_period(time, mag, err, min_period=period / SEARCH_WINDOW, max_period=longest,
                         reuse=reuse)
