"""What each class's physics is: the parameters it responds to, its bands, their real ranges,
and the one builder of the physics -> latent regressors' inputs.

The same :func:`regressor_inputs` makes the regressors' training rows
(:mod:`.latent_fit`) and their inputs at generation (:mod:`pelsvae_core.generation`),
so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..data.dataset import TrainingSet

#: The physical parameters a class may respond to, in the regressors' column order.
PARAMETERS = ("teff", "abs_mag", "log_period")
#: A parameter is used for a class when at least this many of its training curves have it.
MIN_CURVES_WITH_PARAMETER = 30


@dataclass
class ClassPhysics:
    """Which parameters a class responds to, in which bands, and their real ranges."""

    cls: str
    parameters: tuple[str, ...]
    bands: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]   # min and max over the training stars
    typical: dict[str, float]                # median over the training stars
    n_stars: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ClassPhysics":
        return cls(cls=data["cls"], parameters=tuple(data["parameters"]), bands=tuple(data["bands"]),
                   ranges={k: tuple(v) for k, v in data["ranges"].items()},
                   typical=data["typical"], n_stars=data["n_stars"])

    def regressor_inputs(self, physics: np.ndarray, bands: Sequence[str],
                         dummy: np.ndarray) -> np.ndarray:
        """Regressor inputs, one row per curve: this class's parameters (``physics``, columns in
        ``self.parameters`` order), the band one-hot over ``self.bands``, and the dummy ~ U(0, 1)
        (paper Sect. 4.2) that makes one physical vector a family of curves."""
        band_onehot = (np.asarray(bands)[:, None] == np.array(self.bands)[None, :]).astype(float)
        return np.column_stack([np.asarray(physics, dtype=float), band_onehot, dummy])


def physics_matrix(data: TrainingSet) -> np.ndarray:
    """(n, 3) Teff, absolute magnitude and log10 period of each curve, in :data:`PARAMETERS` order."""
    return np.column_stack([data.teff, data.abs_mag, data.log_period]).astype(np.float64)


def describe_class(data: TrainingSet, c: int) -> ClassPhysics | None:
    """Parameters with enough training curves, the bands those curves are in, their ranges."""
    real = data.subset((data.cls == c) & ~data.augmented & (data.split == "train"))
    if not len(real):
        return None
    physics = physics_matrix(real)
    known = np.isfinite(physics)
    parameters = tuple(p for i, p in enumerate(PARAMETERS) if known[:, i].sum() >= MIN_CURVES_WITH_PARAMETER)
    if "log_period" not in parameters:
        parameters = ("log_period",)
    columns = [PARAMETERS.index(p) for p in parameters]
    usable = known[:, columns].all(axis=1)
    values = physics[usable][:, columns]
    return ClassPhysics(
        cls=data.classes[c], parameters=parameters,
        bands=tuple(sorted({data.bands[b] for b in real.band[usable]})),
        ranges={p: (float(values[:, i].min()), float(values[:, i].max())) for i, p in enumerate(parameters)},
        typical={p: float(np.median(values[:, i])) for i, p in enumerate(parameters)},
        n_stars=int(len(set(real.star_key[usable]))))
