"""The observed curve through the model's own encoder, as its training stars went through it.

The reference latents (``model.latents()``, :func:`pelsvae_core.latents.inference_columns`)
are the encoder's posterior means of the training curves, each cleaned, folded with phase
zero at maximum light (primary minimum for binaries), min-max scaled and resampled to the
model's curve length (:mod:`pelsvae_core.data.preprocess`), with Teff and M unknown (the
encoder's missing-value mask) and log period known. The observed curve is put through the
same steps at the fitted period, so that its latent vector and the reference latents are
comparable: a latent vector fitted through the decoder is not (on real LMC Cepheids it lay
0.3-0.8 prior widths from the encoder's for the same star, far outside the fit's own
uncertainty), nor are latents encoded with the physics the observed curve lacks (hiding Teff
and M moved the training RR Lyrae's means by a median of 2.6 posterior widths on the
16-dimensional v2, 16 on the shipped 32-dimensional v3; see
:func:`pelsvae_core.latents.latent_table`).
Folders fitted before the hidden-physics columns keep the told latents as reference.

The S/N cut of the training data is not applied (inference is asked about any curve),
and a band needs only :data:`.observed.MIN_POINTS_PER_BAND` points.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import torch

from ..data.preprocess import PreprocessConfig, fold, resample
from ..data.records import LightCurve
from ..model.vae import Batch
from .observed import MIN_POINTS_PER_BAND, Observed

#: Curve length when a model folder does not record it (the paper's 300, Sect. 2.1).
DEFAULT_POINTS = 300
#: Resamplings of each band averaged (see :func:`encode`).
RESAMPLINGS = 8
#: Bootstrap resamples of each band's observations whose spread of encodings is the latent
#: vector's sampling variance (see :func:`encode`).
BOOTSTRAPS = 16


def encode(model, obs: Observed, cls: str, period: float) -> tuple[np.ndarray, np.ndarray] | str:
    """Posterior mean and variance (len(bands) * d,) of the curve folded at ``period``, one
    latent block per band in ``obs.bands`` order, or the reason a band could not be folded.

    A short curve reaches the model's length by repeating points drawn at random (masked
    out), and which ones moves the encoder's mean (by 0.05-0.4 prior widths on 40-60 point
    SDSS curves). The mean is therefore averaged over :data:`RESAMPLINGS` draws.

    The variance is the encoder's mean posterior variance plus the spread of the encodings of
    :data:`BOOTSTRAPS` bootstrap resamples of the band's observations (Efron 1979, Ann. Stat.
    7, 1), each resampled to length too, so it holds the draws' noise that each training
    star's single draw carries as well. The encoder's own variance does not know how few
    points it read: it never trained on curves as sparse as a survey's, and a 30-epoch curve
    encodes as confidently as a 300-epoch one, though another 30 epochs of the same star would
    land elsewhere; the bootstrap's spread is the latent vector's sampling variance given
    these points, large for sparse curves, small for dense ones.
    Deterministic: the draws come from a generator seeded by the curve's values."""
    cfg = PreprocessConfig(min_observations=MIN_POINTS_PER_BAND, snr_min=0.0)
    n_points = int(model.metadata.get("dataset_config", {}).get("n_points", DEFAULT_POINTS))
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(obs.mag).tobytes()))
    rows, bands = [], []
    for band in obs.bands:
        m = obs.in_band(band)
        curve = LightCurve("observed", band, "observed", cls, "unknown", period, "inferred",
                           obs.time[m], obs.mag[m], obs.err[m])
        folded = fold(curve, cfg)
        if isinstance(folded, str):
            return f"band {band}: {folded}"
        rows += [resample(folded.phase, folded.mag, folded.err, n_points, rng)
                 for _ in range(RESAMPLINGS)]
        for _ in range(BOOTSTRAPS):
            pick = rng.choice(folded.phase.size, folded.phase.size)
            rows.append(resample(folded.phase[pick], folded.mag[pick], folded.err[pick], n_points, rng))
        bands += [model.decoder.bands.index(band)] * (RESAMPLINGS + BOOTSTRAPS)
    tensor = lambda i, dtype: torch.tensor(np.stack([r[i] for r in rows]), dtype=dtype)
    n = len(rows)
    batch = Batch(phase=tensor(0, torch.float32), mag=tensor(1, torch.float32),
                  err=tensor(2, torch.float32), mask=tensor(3, torch.bool),
                  cls=torch.full((n,), model.decoder.classes.index(cls), dtype=torch.long),
                  band=torch.tensor(bands), physics=torch.tensor(
                      [[math.nan, math.nan, math.log10(period)]] * n, dtype=torch.float32))
    with torch.inference_mode():
        mu, logvar = model.network.encode(batch)
    mu = mu.numpy().astype(np.float64).reshape(len(obs.bands), RESAMPLINGS + BOOTSTRAPS, -1)
    var = np.exp(logvar.numpy().astype(np.float64)).reshape(mu.shape)
    plain, bootstrap = mu[:, :RESAMPLINGS], mu[:, RESAMPLINGS:]
    return plain.mean(1).ravel(), (var[:, :RESAMPLINGS].mean(1) + bootstrap.var(1, ddof=1)).ravel()
