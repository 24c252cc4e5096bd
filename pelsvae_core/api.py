"""The public Python interface: load a trained model, encode curves, decode at any phases."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .data.dataset import TrainingSet
from .model.storage import load_folder
from .model.training import batch_from
from .model.vae import PELSVAE


class Model:
    """A trained PELS-VAE with NumPy in and out. Use :func:`load_model` to get one."""

    def __init__(self, network: PELSVAE, metadata: dict, folder: Path):
        self.network = network
        self.metadata = metadata
        self.folder = folder
        self.config = network.cfg

    @property
    def classes(self) -> tuple[str, ...]:
        return self.config.classes

    @property
    def bands(self) -> tuple[str, ...]:
        return self.config.bands

    def class_index(self, cls: str | int | Sequence, n: int) -> torch.Tensor:
        """Class names or indices as a (n,) tensor; an unknown name is a clear error."""
        values = [cls] * n if isinstance(cls, (str, int, np.integer)) else list(cls)
        if len(values) != n:
            raise ValueError(f"got {len(values)} classes for {n} curves")
        out = []
        for value in values:
            if isinstance(value, str):
                if value not in self.classes:
                    raise ValueError(f"unknown class {value!r}; this model knows {', '.join(self.classes)}")
                value = self.classes.index(value)
            out.append(int(value))
        return torch.tensor(out, dtype=torch.long)

    def band_index(self, band: str | None, n: int) -> torch.Tensor:
        band = band or self.default_band
        if band not in self.bands:
            raise ValueError(f"unknown band {band!r}; this model knows {', '.join(self.bands)}")
        return torch.full((n,), self.bands.index(band), dtype=torch.long)

    @property
    def default_band(self) -> str:
        return self.metadata.get("default_band", self.bands[0])

    def encode(self, curves: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and log-variance (n, latent_dim) of preprocessed curves."""
        with torch.no_grad():
            mu, logvar = self.network.encode(batch_from(curves))
        return mu.numpy(), logvar.numpy()

    def decode(self, z, cls, phases, band: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised magnitude and error of latent vectors ``z`` (n, d) at ``phases``.

        ``phases`` is (n, m) or (m,) for all curves; any number, any order; values
        outside [0, 1) wrap around, as a periodic curve should.
        """
        z = torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float32)))
        n = len(z)
        if z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z has {z.shape[1]} dimensions; the model's latent space has "
                             f"{self.config.latent_dim}")
        phase = np.asarray(phases, dtype=np.float32)
        if phase.ndim == 1:
            phase = np.broadcast_to(phase, (n, phase.size))
        if phase.shape[0] != n or not np.isfinite(phase).all():
            raise ValueError("phases must be finite, shaped (m,) or (n_curves, m)")
        with torch.no_grad():
            mag, err = self.network.decode(z, self.class_index(cls, n), self.band_index(band, n),
                                           torch.from_numpy(np.ascontiguousarray(phase)))
        return mag.numpy(), err.numpy()


def load_model(path: str | os.PathLike | None = None) -> Model:
    """Load a model folder (default: the shipped ``models/default``); checksums are verified."""
    return Model(*load_folder(path))
