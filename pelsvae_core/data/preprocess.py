"""Cleaning, folding and scaling, as in Martinez-Palomera et al. (2022), Sect. 2.1.

Steps, in order: three iterations of 3-sigma clipping on magnitude and error;
a signal-to-noise cut (amplitude / mean error >= 5); folding on the period
with phase zero at maximum light (pulsators) or primary minimum (binaries), so
that equal shapes line up; min–max scaling to [0, 1] keeping amplitude and
mean magnitude; and resampling to a fixed length.

By default the amplitude in the S/N cut is the peak-to-peak of a Fourier fit
to the folded curve (``snr_amplitude="fit"``). The paper's raw max - min
(``"range"``) grows with the number of points for pure noise: 300 points of
noise alone reach S/N ~ 6 and pass, while the fitted amplitude of noise is near zero.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import fourier
from .records import BINARY_CLASSES, LightCurve
from .subtypes import MULTI_MODE


@dataclass(frozen=True)
class PreprocessConfig:
    """Every setting that changes the cleaned curves; part of the cache fingerprint."""

    n_points: int = 300
    min_observations: int = 30
    snr_min: float = 5.0
    snr_amplitude: str = "fit"  # "fit" (Fourier peak-to-peak) or "range" (max - min, the paper's)
    clip_sigma: float = 3.0
    clip_iterations: int = 3
    fourier_order: int = 6
    #: Subtypes (:mod:`.subtypes` vocabulary) without one regular folded shape: paper Sect. 2.1
    #: drops multi-mode pulsators (double-mode RRd, multi-mode Cepheids).
    irregular_subtypes: tuple[str, ...] = ("RRd", MULTI_MODE)
    #: Drop Blazhko-modulated RR Lyrae (the ``blazhko`` flag): their shape changes from cycle
    #: to cycle (Blazhko 1907, AN 175, 325), so a folded curve has no single shape either.
    drop_blazhko: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FoldedCurve:
    """A cleaned light curve folded and scaled to [0, 1] (0 = brightest), sorted by phase."""

    phase: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    amplitude: float
    mean_mag: float
    snr: float
    epoch: float
    n_clipped: int


def sigma_clip(mag: np.ndarray, err: np.ndarray, sigma: float, iterations: int) -> np.ndarray:
    """Mask of points within ``sigma`` standard deviations of the median, in magnitude and error."""
    keep = np.ones(mag.size, dtype=bool)
    for _ in range(iterations):
        before = keep.sum()
        for values in (mag, err):
            kept = values[keep]
            if kept.size < 3:
                return keep
            keep &= np.abs(values - np.median(kept)) <= sigma * np.std(kept)
        if keep.sum() == before:
            break
    return keep


def is_irregular(lc: LightCurve, cfg: PreprocessConfig) -> bool:
    """Multi-mode or modulated pulsators (RRd, multi-mode Cepheids, Blazhko stars) have no single
    shape. A subtype still in OGLE's notation for several modes ("F/1O", as a caller may build a
    :class:`.records.LightCurve` by hand; the readers write ``multi-mode``) counts as multi-mode."""
    return (lc.subtype in cfg.irregular_subtypes or "/" in lc.subtype
            or (cfg.drop_blazhko and lc.blazhko))


def fold(lc: LightCurve, cfg: PreprocessConfig) -> FoldedCurve | str:
    """Clean, fold and scale one light curve, or return the reason it cannot be used."""
    if lc.read_problem:
        return lc.read_problem
    if is_irregular(lc, cfg):
        return "irregular subtype (multi-mode or modulated)"
    if not (np.isfinite(lc.period) and lc.period > 0):
        return "no period"
    if lc.n_obs < cfg.min_observations:
        return "too few observations"
    keep = sigma_clip(lc.mag, lc.err, cfg.clip_sigma, cfg.clip_iterations)
    time, mag, err = lc.time[keep], lc.mag[keep], lc.err[keep]
    if time.size < cfg.min_observations:
        return "too few observations"

    phase = np.mod((time - time.min()) / lc.period, 1.0)
    coeffs = fourier.fit(phase, mag, err, cfg.fourier_order)
    model = fourier.evaluate(coeffs, fourier.ZERO_GRID)
    amplitude_for_snr = np.ptp(model) if cfg.snr_amplitude == "fit" else np.ptp(mag)
    snr = float(amplitude_for_snr / np.mean(err))
    if snr < cfg.snr_min:
        return "S/N < 5" if cfg.snr_min == 5.0 else f"S/N < {cfg.snr_min:g}"
    zero = fourier.phase_zero(coeffs, binary=lc.cls in BINARY_CLASSES)
    phase = np.mod(phase - zero, 1.0)
    order = np.argsort(phase, kind="stable")
    low, high = float(mag.min()), float(mag.max())
    amplitude = high - low
    return FoldedCurve(
        phase=phase[order], mag=(mag[order] - low) / amplitude, err=err[order] / amplitude,
        amplitude=amplitude, mean_mag=float(np.average(mag, weights=1 / err**2)), snr=snr,
        epoch=float(time.min() + zero * lc.period), n_clipped=int((~keep).sum()))


def resample(phase: np.ndarray, mag: np.ndarray, err: np.ndarray, n_points: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed-length, phase-sorted arrays plus a mask of distinct observations.

    A longer curve is randomly undersampled (paper Sect. 2.1). A shorter one
    keeps every observation and fills the remaining slots by repeating
    observations, masked out so each real point counts once in a loss.
    """
    n = phase.size
    if n >= n_points:
        pick = rng.choice(n, size=n_points, replace=False)
        mask = np.ones(n_points, dtype=bool)
    else:
        extra = rng.choice(n, size=n_points - n, replace=True)
        pick = np.concatenate([np.arange(n), extra])
        mask = np.concatenate([np.ones(n, dtype=bool), np.zeros(n_points - n, dtype=bool)])
    order = np.argsort(phase[pick], kind="stable")
    pick, mask = pick[order], mask[order]
    return phase[pick], mag[pick], err[pick], mask
