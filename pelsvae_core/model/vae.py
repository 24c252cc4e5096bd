"""The conditional VAE (cVAE, and cVAE-P when ``physics`` is on) as one torch module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from ..data.dataset import TrainingSet
from .config import ModelConfig
from .networks import Encoder, GridDecoder, fourier_coefficients, periodic_interpolate

#: Physical inputs are standardised with these centres and scales (Teff in K, M in mag, log10 P in days)
#: so that no raw 6000 K value meets a saturating unit.
PHYSICS_CENTRE = (6000.0, 0.0, 0.0)
PHYSICS_SCALE = (1500.0, 2.0, 1.0)


@dataclass
class Batch:
    """Tensors of one batch: curves (B, L) and per-curve conditions (B,)."""

    phase: torch.Tensor
    mag: torch.Tensor
    err: torch.Tensor
    mask: torch.Tensor
    cls: torch.Tensor
    band: torch.Tensor
    physics: torch.Tensor  # (B, 3), NaN where unknown

    def to(self, device) -> "Batch":
        return Batch(**{k: v.to(device) for k, v in vars(self).items()})


def batch_from(data: TrainingSet, index: np.ndarray | slice | None = None) -> Batch:
    """A :class:`Batch` of tensors from rows of a training set."""
    pick = slice(None) if index is None else index
    tensor = lambda values: torch.from_numpy(np.array(values[pick]))  # a writable copy
    physics = np.stack([data.teff, data.abs_mag, data.log_period], axis=1).astype(np.float32)
    return Batch(phase=tensor(data.phase), mag=tensor(data.mag), err=tensor(data.err),
                 mask=tensor(data.mask), cls=tensor(data.cls), band=tensor(data.band),
                 physics=tensor(physics))


class Reconstruction(NamedTuple):
    """The posterior (mu, logvar), the decoded normalised magnitude and error at the batch's
    phases (B, L), a Fourier decoder's coefficients (B, 2, 2K + 1), and the curves' own
    weighted series that a Fourier encoder read (B, 2K + 1); each None without such a network."""

    mu: torch.Tensor
    logvar: torch.Tensor
    mag: torch.Tensor
    err: torch.Tensor
    series: torch.Tensor | None
    observed: torch.Tensor | None


class PELSVAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = GridDecoder(cfg)
        self.folded = False
        self.register_buffer("physics_centre", torch.tensor(PHYSICS_CENTRE), persistent=False)
        self.register_buffer("physics_scale", torch.tensor(PHYSICS_SCALE), persistent=False)

    def labels(self, cls: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.one_hot(cls, len(self.cfg.classes)).float(),
                          F.one_hot(band, len(self.cfg.bands)).float()], dim=1)

    def physics_inputs(self, physics: torch.Tensor) -> torch.Tensor:
        """Standardised values with missing ones set to 0, followed by a known/unknown mask."""
        known = torch.isfinite(physics)
        values = torch.where(known, (physics - self.physics_centre) / self.physics_scale,
                             torch.zeros_like(physics))
        return torch.cat([values, known.float()], dim=1)

    def encode(self, batch: Batch, series: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance; ``series``: the curves' own Fourier series for a
        Fourier encoder, when the caller has it already."""
        conditions = self.labels(batch.cls, batch.band)
        if self.cfg.physics:
            conditions = torch.cat([conditions, self.physics_inputs(batch.physics)], dim=1)
        return self.encoder(batch.phase, batch.mag, batch.err, batch.mask, conditions, series)

    def decoder_conditions(self, z: torch.Tensor, cls: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
        """What the decoder reads: the latent vector, then the class and band one-hots."""
        return torch.cat([z, self.labels(cls, band)], dim=1)

    def decode_grid(self, z: torch.Tensor, cls: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
        """(B, 2, grid_size): normalised magnitude and error over one cycle."""
        return self.decoder(self.decoder_conditions(z, cls, band))

    def decode(self, z, cls, band, phase) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised magnitude and error at any phases (B, n): a value depends on its phase only."""
        values = periodic_interpolate(self.decode_grid(z, cls, band), phase)
        return values[:, 0], values[:, 1]

    def fold_weight_norm(self) -> "PELSVAE":
        """Replace each weight-normalised weight by its value, for inference: the same numbers,
        computed once instead of on every call. Training a folded network would no longer
        normalise its weights, so only loaded models are folded."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight")
        self.folded = True
        return self

    def reconstruct(self, batch: Batch, sample: bool = True) -> Reconstruction:
        """Encode, draw z (or take the posterior mean), decode at the batch's phases; a Fourier
        decoder's coefficients and the curves' own series (each computed once) come along, for a
        loss on the series themselves."""
        order = self.cfg.encoder_fourier_order
        observed = (fourier_coefficients(batch.phase, batch.mag, batch.err, batch.mask, order)
                    if order else None)
        mu, logvar = self.encode(batch, observed)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        conditions = self.decoder_conditions(z, batch.cls, batch.band)
        series = self.decoder.series(conditions) if self.cfg.decoder_fourier_order else None
        values = periodic_interpolate(self.decoder(conditions, series), batch.phase)
        return Reconstruction(mu, logvar, values[:, 0], values[:, 1], series, observed)

    def forward(self, batch: Batch, sample: bool = True):
        """(mu, logvar, magnitude, error) of :meth:`reconstruct`."""
        return self.reconstruct(batch, sample)[:4]


