"""The public Python interface: load a trained model, encode curves, decode at any phases."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

import pandas as pd

from . import generation
from .data.dataset import TrainingSet
from .model.storage import load_folder
from .model.training import batch_from
from .model.vae import PELSVAE
from .noise import ErrorModel
from .physics_map import ClassPhysics
from .reference import ClassReference
from .regressors import Predictor, load_predictors

REGRESSORS_FILE = "regressors.npz"
LATENTS_FILE = "latents.parquet"
#: Where ``pelsvae evaluate --json`` results are kept inside a model folder (the shipped
#: model's: ``models/default/report/``, beside the Markdown report and figures).
EVALUATION_FILE = Path("report") / "evaluation.json"


class Model:
    """A trained PELS-VAE with NumPy in and out. Use :func:`load_model` to get one."""

    def __init__(self, network: PELSVAE, metadata: dict, folder: Path,
                 predictors: dict[str, Predictor] | None = None):
        self.network = network
        self.metadata = metadata
        self.folder = folder
        self.config = network.cfg
        self.predictors = predictors or {}
        physics = metadata.get("physics", {})
        self.class_physics = {cls: ClassPhysics.from_dict(info) for cls, info
                              in physics.get("classes", {}).items()}
        #: Error-versus-magnitude relation per ``"<survey>/<band>"`` (:mod:`pelsvae_core.noise`).
        self.error_models = {key: ErrorModel.from_dict(m) for key, m
                             in physics.get("error_models", {}).items()}
        #: Per class, what the OGLE x Gaia DR2 cross-match says (:mod:`pelsvae_core.reference`).
        self.references = {cls: ClassReference.from_dict(r) for cls, r
                           in physics.get("references", {}).items()}

    def latents(self) -> pd.DataFrame:
        """Latent vectors of the real curves the model was trained and validated on."""
        path = self.folder / LATENTS_FILE
        if not path.is_file():
            raise ValueError(f"{self.folder} has no latent table; run `pelsvae fit-regressors`")
        return pd.read_parquet(path)

    def evaluation(self) -> dict | None:
        """The stored results of ``pelsvae evaluate`` on this model (real test stars), if any."""
        path = self.folder / EVALUATION_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def parameters(self) -> dict[str, dict]:
        """Per class: the parameters it responds to (of teff, abs_mag, log_period), its bands,
        the range and median of each over the real training stars, and under ``reference``
        the class's real ranges in the OGLE x Gaia DR2 cross-match with its period-luminosity
        relation (what gives a mean magnitude to classes trained without M)."""
        return {cls: {**info.to_dict(), "reference": self.references[cls].to_dict()
                      if cls in self.references else None}
                for cls, info in self.class_physics.items()}

    def draw(self, cls: str, teff=None, abs_mag=None, period=None, n_samples: int = 10,
             regressor: str = "rf", band: str | None = None, seed: int = 0,
             latent=None) -> generation.Draw:
        """The first half of :meth:`generate`: samples for one physical vector, which
        ``.observe(times=..., phases=..., cadence=..., distance_pc=..., noise=...)`` turns
        into the table (``.observation(...)``: the same as arrays); draw once to observe one
        star under several cadences."""
        return generation.draw(self, cls, teff, abs_mag, period, n_samples, regressor, band, seed,
                               latent)

    def generate(self, cls: str, teff=None, abs_mag=None, period=None, times=None, phases=None,
                 cadence=None, n_samples: int = 10, regressor: str = "rf", band: str | None = None,
                 distance_pc: float | None = None, noise: bool | str = False, epoch: float = 0.0,
                 seed: int = 0, latent=None) -> pd.DataFrame:
        """Light curves from physical parameters, one row per sample and observation.

        Give ``times`` (days; phases follow from ``period`` and ``epoch``), ``phases``,
        or a ``cadence`` (a preset name of :mod:`pelsvae_core.cadences` or a dict
        ``{"name": ..., <changed numbers>}``); none gives 200 uniform phases.
        Parameters a class does not respond to are ignored; missing ones take the
        class's median. Magnitudes are absolute, or apparent with a ``distance_pc``;
        the mean absolute magnitude is ``abs_mag`` if given, else the class's median
        (classes trained with M) or its period-luminosity relation from the OGLE x Gaia
        DR2 cross-match (column ``abs_mag_source`` says which). ``noise=True`` (or a
        survey name) adds that survey's photometric noise at each apparent magnitude
        and reports its errors (needs ``distance_pc``). The
        ``extrapolation`` column says how far outside the training range, in range
        widths, the parameters lie (beyond 1 is refused); ``z0``... hold each sample's
        latent vector. ``latent`` decodes that vector instead of the regressor's (the
        amplitude still follows the physics). Deterministic under ``seed``.
        """
        return self.draw(cls, teff, abs_mag, period, n_samples, regressor, band, seed, latent).observe(
            times, phases, cadence, distance_pc, noise, epoch)

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
        with torch.inference_mode():
            mu, logvar = self.network.encode(batch_from(curves))
        return mu.numpy(), logvar.numpy()

    def decode(self, z, cls, phases, band: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised magnitude and error of latent vectors ``z`` (n, d) at ``phases``.

        ``phases`` is (n, m) or (m,) for all curves; any number, any order; values
        outside [0, 1) wrap around, as a periodic curve should.
        """
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        n = len(z)
        if z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z has {z.shape[1]} dimensions; the model's latent space has "
                             f"{self.config.latent_dim}")
        phase = np.asarray(phases, dtype=np.float64)
        if phase.ndim == 1:
            phase = np.broadcast_to(phase, (n, phase.size))
        if phase.shape[0] != n or not np.isfinite(phase).all():
            raise ValueError("phases must be finite, shaped (m,) or (n_curves, m)")
        mag, err = generation.periodic_values(self.decode_grid(z, cls, band), phase)
        return mag.astype(np.float32), err.astype(np.float32)

    def decode_grid(self, z, cls, band: str | None = None) -> np.ndarray:
        """The decoder's own periodic grid, (n, 2, grid_size): magnitude and error over one cycle
        at phases ``arange(grid_size) / grid_size``; what :meth:`decode` interpolates."""
        z = torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float32)))
        with torch.inference_mode():
            return self.network.decode_grid(z, self.class_index(cls, len(z)),
                                            self.band_index(band, len(z))).numpy()


def load_model(path: str | os.PathLike | None = None) -> Model:
    """Load a model folder (default: the shipped ``models/default``); checksums are verified."""
    network, metadata, folder = load_folder(path)
    regressors = folder / REGRESSORS_FILE
    predictors = load_predictors(regressors.read_bytes()) if regressors.is_file() else None
    return Model(network, metadata, folder, predictors)
