"""The training stars' positions in latent space, and 2-D projections of them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .data.dataset import TrainingSet

#: Prefix of the columns of the posterior means with Teff and M hidden from the encoder.
HIDDEN_PREFIX = "h"


def latent_table(model, data: TrainingSet) -> pd.DataFrame:
    """Posterior means of real curves, with class, subtype, band, period and parameters, one row
    per curve: ``z0``... as the encoder reads the curve with the star's physics, and ``h0``...
    with its Teff and absolute magnitude hidden (the period kept), as the inverse problem
    encodes an observed curve (:mod:`pelsvae_core.inference.encoding`), for the training curves
    only: they are the inverse problem's reference, and NaN elsewhere keeps the shipped folder
    within its 20 MB (a second copy of every validation and test curve's 32 means took it
    over). The two differ: hiding Teff and M moved the training RR Lyrae's means by a median of
    2.6 posterior standard deviations on the 16-dimensional v2 and 16 on the 32-dimensional
    v3, whose told latents carry the Teff they were told (a nearest-neighbour regression of
    Teff fitted on told latents and asked about hidden ones: 385 K in I against 256 K told to
    told and a prior of 370 K)."""
    mu, _ = model.encode(data)
    train = data.split == "train"
    hidden = np.full_like(mu, np.nan)
    if train.any():
        part = data.split_part("train")
        hidden[train] = model.encode(dataclasses.replace(
            part, teff=np.full_like(part.teff, np.nan), abs_mag=np.full_like(part.abs_mag, np.nan)))[0]
    frame = pd.DataFrame(np.hstack([mu, hidden]),
                         columns=[f"z{i}" for i in range(mu.shape[1])]
                         + [f"{HIDDEN_PREFIX}{i}" for i in range(hidden.shape[1])])
    frame.insert(0, "star", data.star_key)
    frame.insert(1, "cls", [data.classes[c] for c in data.cls])
    frame.insert(2, "band", [data.bands[b] for b in data.band])
    frame.insert(3, "period", 10.0 ** data.log_period.astype(float))
    frame.insert(4, "teff", data.teff)
    frame.insert(5, "abs_mag", data.abs_mag)
    frame.insert(6, "split", data.split)
    frame.insert(7, "subtype", data.subtype)
    return frame


def latent_columns(frame: pd.DataFrame, prefix: str = "z") -> list[str]:
    """The latent columns of a table (:func:`latent_table`) with ``prefix``, in index order."""
    return [c for c in frame.columns if c.startswith(prefix) and c[len(prefix):].isdigit()]


def inference_columns(frame: pd.DataFrame) -> list[str]:
    """The columns the inverse problem compares an observed curve with: the hidden-physics
    means where the table has them, else (tables written before them) the told ones."""
    return latent_columns(frame, HIDDEN_PREFIX) or latent_columns(frame)


def pca_basis(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Centre and the two leading principal axes of the latent vectors."""
    z = frame[latent_columns(frame)].to_numpy(float)
    centre = z.mean(0)
    _, _, axes = np.linalg.svd(z - centre, full_matrices=False)
    return centre, axes[:2]


#: Pairs of latent dimensions offered beside the PCA plane: those among this many of the
#: dimensions whose training stars spread most (16 dimensions would give 120 pairs).
PAIRED_DIMENSIONS = 4


def projections(frame: pd.DataFrame) -> list[str]:
    """The projections to offer for a latent table (:func:`latent_table`): ``"pca"``, then the
    pairs among the :data:`PAIRED_DIMENSIONS` dimensions of largest variance, in index order.
    :func:`project` knows any pair, offered or not."""
    columns = latent_columns(frame)
    spread = frame[columns].to_numpy(float).var(axis=0)
    widest = sorted(np.argsort(-spread, kind="stable")[:PAIRED_DIMENSIONS])
    return ["pca"] + [f"z{a}-z{b}" for i, a in enumerate(widest) for b in widest[i + 1:]]


def _pair(projection: str) -> tuple[int, int]:
    try:
        a, b = (int(part.lstrip("z")) for part in projection.split("-"))
    except ValueError:
        raise ValueError(f"projection must be 'pca' or like 'z0-z1', not {projection!r}") from None
    return a, b


def project(z: np.ndarray, projection: str, basis: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(n, 2) coordinates: ``"pca"``, or a pair of latent dimensions such as ``"z0-z2"``."""
    z = np.atleast_2d(z)
    if projection == "pca":
        centre, axes = basis
        return (z - centre) @ axes.T
    return z[:, list(_pair(projection))]


def unproject(x: float, y: float, projection: str, basis: tuple[np.ndarray, np.ndarray],
              around: np.ndarray) -> np.ndarray:
    """A latent vector at a point of a projection: on the PCA plane through the centre, or
    ``around`` with the two projected dimensions set to (x, y)."""
    if projection == "pca":
        centre, axes = basis
        return centre + np.array([x, y]) @ axes
    a, b = _pair(projection)
    z = np.array(around, dtype=float)
    z[a], z[b] = x, y
    return z
