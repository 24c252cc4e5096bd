"""The public Python interface: load a trained model, generate curves, encode and decode at any phases.

:class:`Model` joins the network (:class:`~pelsvae_core.model.decoder.Decoder`) and
the physics -> latent map (:class:`~pelsvae_core.physics.mapping.PhysicsMap`) read
from a model folder, and hands both to :mod:`pelsvae_core.generation`.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import generation, inference
from .data.dataset import TrainingSet
from .model.decoder import Decoder
from .model.storage import (EVALUATION_FILE, INFERENCE_CALIBRATION_FILE, LATENTS_FILE, METADATA,
                            REGRESSORS_FILE, ModelFormatError, load_folder, read_json, report_status)
from .model.vae import PELSVAE
from .physics.mapping import PhysicsMap
from .physics.regressors import KINDS, Predictor, load_predictors


class Model:
    """A trained PELS-VAE with NumPy in and out. Use :func:`load_model` to get one."""

    def __init__(self, network: PELSVAE, metadata: dict, folder: Path):
        self.metadata = metadata
        self.folder = Path(folder)
        self.decoder = Decoder(network, metadata.get("default_band"))
        self.network = network
        self.config = network.cfg
        self.physics = PhysicsMap.from_metadata(metadata.get("physics", {}))

    @property
    def class_physics(self):
        """Per class, the parameters it responds to and their real ranges (:class:`ClassPhysics`)."""
        return self.physics.classes

    @property
    def references(self):
        """Per class, what the OGLE x Gaia DR2 cross-match says (:class:`ClassReference`)."""
        return self.physics.references

    @property
    def error_models(self):
        """Error-versus-magnitude relation per ``"<survey>/<band>"`` (:class:`ErrorModel`)."""
        return self.physics.error_models

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

    def inference_calibration(self) -> dict | None:
        """The inverse problem's stored recalibration (``pelsvae calibrate-inference``), if any."""
        path = self.folder / INFERENCE_CALIBRATION_FILE
        return read_json(path) if path.is_file() else None

    def report_status(self) -> str:
        """"current", "none", or "stale: ..." naming the model files changed since the report."""
        return report_status(self.folder)

    def parameters(self) -> dict[str, dict]:
        """Per class: the parameters it responds to (of teff, abs_mag, log_period), its bands,
        the range and median of each over the real training stars, and under ``reference``
        the class's real ranges in the OGLE x Gaia DR2 cross-match with its period-luminosity
        relation (what gives a mean magnitude to classes trained without M)."""
        return {cls: {**info.to_dict(), "reference": self.references[cls].to_dict()
                      if cls in self.references else None}
                for cls, info in self.class_physics.items()}

    def draw(self, cls: str, teff=None, abs_mag=None, period=None, n_samples: int = 10,
             regressor: str | None = None, band: str | None = None, seed: int = 0,
             latent=None, subtype: str | None = None) -> generation.Draw:
        """The first half of :meth:`generate`: samples for one physical vector, which
        ``.observe(times=..., phases=..., cadence=..., distance_pc=..., noise=...)`` turns
        into the table (``.observation(...)``: the same as arrays); draw once to observe one
        star under several cadences. ``subtype`` as in :meth:`generate` (``.subtype`` and
        ``.subtype_source`` hold each sample's)."""
        return generation.draw(self.decoder, self.physics, cls, teff, abs_mag, period, n_samples,
                               regressor, band, seed, latent, subtype, folder=self.folder)

    def generate(self, cls: str, teff=None, abs_mag=None, period=None, times=None, phases=None,
                 cadence=None, n_samples: int = 10, regressor: str | None = None, band: str | None = None,
                 distance_pc: float | None = None, noise: bool | str = False, epoch: float = 0.0,
                 seed: int = 0, latent=None, subtype: str | None = None) -> pd.DataFrame:
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
        amplitude, and the subtype reported, still follow the physics: the shape is then
        the vector's, whatever its subtype). ``subtype`` (e.g. ``"RRc"``; the class's own in
        ``parameters()[cls]["subtypes"]``) conditions the density ``"mdn"``; without it each
        sample's subtype is drawn from its real distribution given the physics and band
        (columns ``subtype`` and ``subtype_source``: "given", "drawn", or "none" for a class,
        or a paper regressor, without subtypes). Deterministic under ``seed``.
        """
        return self.draw(cls, teff, abs_mag, period, n_samples, regressor, band, seed, latent,
                         subtype).observe(times, phases, cadence, distance_pc, noise, epoch)

    def infer(self, times, mags, errs, band=None, distance_pc: float | None = None) -> dict:
        """The inverse problem: class, mode, period and physics, with intervals, of an observed,
        unfolded light curve (:func:`pelsvae_core.inference.infer`, whose docstring lists the
        keys); :meth:`analyse` also gives the best-fitting curve."""
        return inference.infer(self, times, mags, errs, band, distance_pc)

    def analyse(self, times, mags, errs, band=None, distance_pc: float | None = None):
        """:meth:`infer`, kept as an :class:`~pelsvae_core.inference.Inference` with the
        best-fitting curve (``.curve(times, band)``) and the fit of every class."""
        return inference.analyse(self, times, mags, errs, band, distance_pc)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.decoder.classes

    @property
    def bands(self) -> tuple[str, ...]:
        return self.decoder.bands

    @property
    def default_band(self) -> str:
        return self.decoder.default_band

    def encode(self, curves: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and log-variance (n, latent_dim) of preprocessed curves."""
        return self.decoder.encode(curves)

    def decode(self, z, cls, phases, band: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised magnitude and error of latent vectors ``z`` (n, d) at ``phases``
        (see :meth:`Decoder.decode <pelsvae_core.model.decoder.Decoder.decode>`)."""
        return self.decoder.decode(z, cls, phases, band)

    def decode_grid(self, z, cls, band: str | None = None) -> np.ndarray:
        """The decoder's own periodic grid, (n, 2, grid_size), that :meth:`decode` interpolates."""
        return self.decoder.decode_grid(z, cls, band)


def load_model(path: str | os.PathLike | None = None) -> Model:
    """Load a model folder (default: the shipped ``models/default``); checksums are verified,
    and malformed content is a :class:`ModelFormatError` naming its file, never a raw error."""
    network, metadata, folder = load_folder(path)
    try:
        model = Model(network, metadata, folder)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFormatError(f"{folder / METADATA} is malformed ({type(error).__name__}: "
                               f"{error}); retrain or restore the folder") from None
    regressors = folder / REGRESSORS_FILE
    if regressors.is_file():
        model.physics.predictors = _predictors(regressors)
    return model


def _predictors(path: Path) -> dict[str, Predictor]:
    """The regressors of ``regressors.npz`` (its unpacked size already bounded by
    :func:`load_folder`), each of a known kind and with finite arrays."""
    try:
        predictors = load_predictors(path.read_bytes())
    except (KeyError, ValueError, OSError, MemoryError, zipfile.BadZipFile) as error:
        raise ModelFormatError(f"{path} is malformed ({type(error).__name__}: {error}); retrain "
                               "or run `pelsvae fit-regressors` again") from None
    for name, predictor in predictors.items():
        if predictor.kind not in KINDS or not all(
                np.isfinite(a).all() for a in predictor.arrays.values() if a.dtype.kind in "fc"):
            raise ModelFormatError(f"{path}: regressor {name!r} is of an unknown kind or holds "
                                   "non-finite values; retrain or run `pelsvae fit-regressors` again")
    return predictors
