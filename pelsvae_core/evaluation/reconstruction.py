"""Reconstruction error on real test stars, against a per-class median template and Fourier fits."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.dataset import TrainingSet

TEMPLATE_BINS = 100


def masked_rmse(truth: np.ndarray, model: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RMSE of each curve over its distinct real observations."""
    weights = mask.astype(float)
    return np.sqrt(((truth - model) ** 2 * weights).sum(1) / weights.sum(1))


def binned_median(phase: np.ndarray, mag: np.ndarray, bins: int = TEMPLATE_BINS) -> np.ndarray:
    """Median of observations (any number of curves, flattened) in ``bins`` phase bins; an
    empty bin is filled from its neighbours around the cycle."""
    which = np.minimum((phase * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    if not counts.any():
        return np.full(bins, 0.5)
    ordered = mag[np.lexsort((mag, which))]
    starts = np.cumsum(counts) - counts
    last = max(len(ordered) - 1, 0)
    low = ordered[np.minimum(starts + (counts - 1) // 2, last)]
    high = ordered[np.minimum(starts + counts // 2, last)]
    row = np.where(counts > 0, (low + high) / 2, np.nan)
    good = np.flatnonzero(counts)
    return np.interp(np.arange(bins), good, row[good], period=bins)


def median_templates(train: TrainingSet, bins: int = TEMPLATE_BINS) -> np.ndarray:
    """Per class, the median normalised magnitude in phase bins of the real training curves."""
    real = train.subset(~train.augmented)
    return np.stack([binned_median(real.phase[rows][real.mask[rows]], real.mag[rows][real.mask[rows]], bins)
                     for rows in (real.cls == c for c in range(len(train.classes)))])


def template_values(template: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """A binned template read at any phases (linear, periodic)."""
    bins = template.shape[-1]
    return np.interp(phase, (np.arange(bins) + 0.5) / bins, template, period=1.0)


def template_predictions(templates: np.ndarray, data: TrainingSet) -> np.ndarray:
    return np.stack([template_values(templates[c], p) for p, c in zip(data.phase, data.cls)])


def excess_over_noise(rmse: np.ndarray, floor: np.ndarray) -> float:
    """The error against the noise-free curves, estimated from RMSEs against noisy ones: with
    independent noise, E[RMSE^2] = error^2 + floor^2, so sqrt(mean(RMSE^2 - floor^2)) over the
    curves (0 for a method at the noise)."""
    return float(np.sqrt(max(np.mean(rmse**2 - floor**2), 0.0)))


def reconstruction_table(model, data: TrainingSet, train: TrainingSet) -> pd.DataFrame:
    """Per class: median RMSE (normalised and in magnitudes) of the VAE, the template, Fourier 1-4,
    and the noise floor: the RMSE of the photometric errors themselves, which even the true
    curve would score against the observations.

    ``excess_norm`` (:func:`excess_over_noise`) separates methods on noise-dominated classes,
    where the plain RMSE of every decent method sits at the floor."""
    z, _ = model.encode(data)
    vae, _ = decode_own_band(model, z, data)
    predictions = {"vae": vae, "median_template": template_predictions(median_templates(train), data)}
    for order in range(1, 5):
        predictions[f"fourier_{order}"] = data.own_fourier_fits(order)
    errors = {name: masked_rmse(data.mag, prediction, data.mask) for name, prediction in predictions.items()}
    floor = masked_rmse(data.err, np.zeros_like(data.err), data.mask)
    errors["noise_floor"] = floor
    rows = []
    for name, rmse in errors.items():
        for c, cls in enumerate(data.classes):
            rows_c = data.cls == c
            if rows_c.any():
                rows.append({"class": cls, "method": name, "n_curves": int(rows_c.sum()),
                             "rmse_norm": float(np.median(rmse[rows_c])),
                             "rmse_mag": float(np.median(rmse[rows_c] * data.amplitude[rows_c])),
                             "excess_norm": excess_over_noise(rmse[rows_c], floor[rows_c])})
    return pd.DataFrame(rows)


def decode_own_band(model, z: np.ndarray, data: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
    """Decode each curve in its own band."""
    mag = np.empty_like(data.mag)
    err = np.empty_like(data.err)
    for b, band in enumerate(data.bands):
        rows = data.band == b
        if rows.any():
            mag[rows], err[rows] = model.decode(z[rows], data.cls[rows], data.phase[rows], band=band)
    return mag, err
