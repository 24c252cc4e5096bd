"""Encoder and decoder networks of the PELS-VAE (Martinez-Palomera et al. 2022, Sect. 3.1, Fig. 3).

The encoder reads a phase-sorted light curve with a causal, dilated, residual
temporal convolutional network (Bai et al. 2018) or a GRU/LSTM, takes the last
step, appends the class (and band, and for cVAE-P the physical parameters with
a mask) and predicts the mean and log-variance of the latent Gaussian.

The decoder differs from the paper's on purpose. The original repeats the
latent vector along the requested time stamps and runs a causal network over
them, so a value depends on how many phases were asked for and where they sit
in the sequence. Here the decoder produces the curve on a fixed periodic grid
of phases in [0, 1), with circular (wrap-around) temporal convolutions that
upsample a learned seed, or an RNN run twice around the cycle; any requested
phase is then read off the grid by periodic interpolation. A decoded value
therefore depends on its phase alone, and the curve is periodic, by construction.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from .config import ModelConfig

#: Encoder input channels: sin 2 pi phi, cos 2 pi phi, magnitude, error, real-observation mask.
ENCODER_CHANNELS = 5
N_PHYSICS = 3  # Teff, absolute magnitude, log10 period


class TemporalBlock(nn.Module):
    """Two weight-normalised dilated convolutions with a residual connection (Bai et al. 2018, Fig. 1).

    ``causal`` pads on the left only (no information from later steps);
    otherwise padding wraps around, for sequences that are periodic.
    """

    def __init__(self, channels_in: int, channels_out: int, kernel: int, dilation: int,
                 dropout: float, causal: bool):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.causal = causal
        self.conv1 = weight_norm(nn.Conv1d(channels_in, channels_out, kernel, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(channels_out, channels_out, kernel, dilation=dilation))
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv1d(channels_in, channels_out, 1) if channels_in != channels_out else None

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        if self.causal:
            return F.pad(x, (self.pad, 0))
        left = self.pad // 2
        return F.pad(x, (left, self.pad - left), mode="circular")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(F.relu(self.conv1(self._padded(x))))
        out = self.dropout(F.relu(self.conv2(self._padded(out))))
        return F.relu(out + (x if self.skip is None else self.skip(x)))


def _rnn(cfg: ModelConfig, input_size: int) -> nn.Module:
    kind = nn.GRU if cfg.architecture == "gru" else nn.LSTM
    return kind(input_size, cfg.hidden, num_layers=cfg.rnn_layers, batch_first=True,
                dropout=cfg.dropout if cfg.rnn_layers > 1 else 0.0)


#: Ridge added to the Fourier normal equations, relative to their mean diagonal: it keeps a curve
#: with fewer distinct phases than coefficients solvable, and moves a well-sampled one by < 1e-4.
FOURIER_RIDGE = 1e-4


def fourier_design(phase: torch.Tensor, order: int) -> torch.Tensor:
    """Columns 1, cos 2 pi k phi, sin 2 pi k phi (k = 1..order) at phases (..., n): (..., n, 2K + 1),
    the torch twin of :func:`pelsvae_core.fourier.design_matrix`, for the Fourier encoder and decoder."""
    angle = 2 * torch.pi * phase[..., None] * torch.arange(1, order + 1, device=phase.device,
                                                            dtype=phase.dtype)
    return torch.cat([torch.ones_like(angle[..., :1]), torch.cos(angle), torch.sin(angle)], -1)


def fourier_coefficients(phase, mag, err, mask, order: int, floor: float = 0.02) -> torch.Tensor:
    """Weighted least-squares Fourier series of each curve, ``[a0, a_1..a_K, b_1..b_K]`` of
    a0 + sum_k a_k cos 2 pi k phi + b_k sin 2 pi k phi (B, 2K + 1), weights 1 / max(err, floor)^2
    on real observations: the form in which variable-star light curves are classically
    described (Simon & Lee 1981, ApJ 248, 291), whatever the number and spacing of the phases."""
    design = fourier_design(phase, order)
    weight = mask.to(phase.dtype) / err.clamp_min(floor) ** 2
    weight = weight / weight.sum(1, keepdim=True).clamp_min(1e-12)
    normal = design.transpose(1, 2) @ (design * weight[..., None])
    ridge = FOURIER_RIDGE * normal.diagonal(dim1=1, dim2=2).mean(1)
    normal = normal + ridge[:, None, None] * torch.eye(design.shape[-1], device=phase.device)
    target = design.transpose(1, 2) @ (weight * mag)[..., None]
    return torch.linalg.solve(normal, target)[..., 0]


class Encoder(nn.Module):
    """q(z | light curve, class, band[, physics]) as a diagonal Gaussian."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        extra = len(cfg.classes) + len(cfg.bands) + (2 * N_PHYSICS if cfg.physics else 0)
        self.early = bool(cfg.encoder_fourier_order and cfg.early_conditions)
        if cfg.encoder_fourier_order:
            width = 2 * cfg.encoder_fourier_order + 1 + (extra if self.early else 0)
            self.sequence = nn.Sequential(nn.Linear(width, cfg.hidden), nn.ReLU(),
                                          nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU())
        elif cfg.architecture == "tcn":
            self.sequence = nn.Sequential(*[
                TemporalBlock(ENCODER_CHANNELS if i == 0 else cfg.hidden, cfg.hidden, cfg.kernel,
                              2**i, cfg.dropout, causal=True) for i in range(cfg.blocks)])
        else:
            self.sequence = _rnn(cfg, ENCODER_CHANNELS)
        self.dense = None if self.early else nn.Sequential(
            nn.Linear(cfg.hidden + extra, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout))
        # with early conditions there is no dense layer: the dropout acts on the sequence's
        # output instead, where the dense layer's would (it has no weights, so folders keep
        # their layout)
        self.early_dropout = nn.Dropout(cfg.dropout) if self.early else None
        self.mu = nn.Linear(cfg.hidden, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.hidden, cfg.latent_dim)

    def forward(self, phase, mag, err, mask, conditions, series: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``series``: for a Fourier encoder, the curves' :func:`fourier_coefficients` of its
        order when the caller has them (computed here otherwise)."""
        if self.cfg.encoder_fourier_order:
            if series is None:
                series = fourier_coefficients(phase, mag, err, mask, self.cfg.encoder_fourier_order)
            if self.early:
                h = self.early_dropout(self.sequence(torch.cat([series, conditions], dim=1)))
                return self.mu(h), self.logvar(h)
            return self._head(self.sequence(series), conditions)
        angle = 2 * torch.pi * phase
        x = torch.stack([torch.sin(angle), torch.cos(angle), mag, err, mask.float()], dim=1)
        if self.cfg.architecture == "tcn":
            last = self.sequence(x)[:, :, -1]
        else:
            last = self.sequence(x.transpose(1, 2))[0][:, -1]
        return self._head(last, conditions)

    def _head(self, summary: torch.Tensor, conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.dense(torch.cat([summary, conditions], dim=1))
        return self.mu(h), self.logvar(h)


class GridDecoder(nn.Module):
    """p(curve | z, class, band) on a fixed periodic grid of ``grid_size`` phases."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        cond = cfg.latent_dim + len(cfg.classes) + len(cfg.bands)
        widths = cfg.decoder_widths
        angle = 2 * torch.pi * torch.arange(cfg.grid_size) / cfg.grid_size
        if cfg.decoder_fourier_order:
            terms = 2 * cfg.decoder_fourier_order + 1
            self.seed = nn.Sequential(nn.Linear(cond, cfg.hidden), nn.ReLU(),
                                      nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(),
                                      nn.Linear(cfg.hidden, 2 * terms))
            grid = torch.arange(cfg.grid_size) / cfg.grid_size
            self.register_buffer("basis", fourier_design(grid, cfg.decoder_fourier_order).T,
                                 persistent=False)
        elif cfg.architecture == "tcn":
            self.seed = nn.Sequential(nn.Linear(cond, cfg.hidden), nn.ReLU(),
                                      nn.Linear(cfg.hidden, widths[0] * cfg.decoder_seed_size))
            self.levels = nn.ModuleList(
                TemporalBlock(width_in, width, cfg.decoder_kernel or cfg.kernel, 1, 0.0, causal=False)
                for width_in, width in zip(widths[:1] + widths[:-1], widths))
            self.head = nn.Conv1d(widths[-1], 2, 1)
        else:
            self.rnn = _rnn(cfg, cond + 2)
            self.head = nn.Conv1d(cfg.hidden, 2, 1)
        self.register_buffer("grid_angle", torch.stack([torch.sin(angle), torch.cos(angle)]),
                             persistent=False)

    def series(self, conditions: torch.Tensor) -> torch.Tensor:
        """A Fourier decoder's coefficients (batch, 2, 2K + 1), ``[a0, a_1..a_K, b_1..b_K]`` of the
        magnitude and the error channel before their output functions (as :func:`fourier_design`)."""
        return self.seed(conditions).view(len(conditions), 2, -1)

    def forward(self, conditions: torch.Tensor, series: torch.Tensor | None = None) -> torch.Tensor:
        """Grid of normalised magnitude and error, shape (batch, 2, grid_size); a Fourier decoder
        sums ``series`` when given (:meth:`series` of the same conditions)."""
        if self.cfg.decoder_fourier_order:
            out = (self.series(conditions) if series is None else series) @ self.basis
        elif self.cfg.architecture == "tcn":
            x = self.seed(conditions).view(len(conditions), self.cfg.decoder_widths[0], -1)
            for i, level in enumerate(self.levels):
                if i:
                    x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = level(x)
            out = self.head(x)
        else:
            steps = self.grid_angle.expand(len(conditions), -1, -1)
            inputs = torch.cat([conditions[:, :, None].expand(-1, -1, steps.shape[-1]), steps], 1)
            # two turns around the cycle; the second starts from the state the first ends in
            out, _ = self.rnn(inputs.repeat(1, 1, 2).transpose(1, 2))
            out = self.head(out[:, self.cfg.grid_size:].transpose(1, 2))
        curve = torch.sigmoid(out[:, 0]) if self.cfg.curve_output == "sigmoid" else out[:, 0]
        return torch.stack([curve, F.softplus(out[:, 1]) + 1e-4], dim=1)


def periodic_interpolate(grid: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Values of a periodic grid (batch, channels, G) at phases (batch, n), linear in phase."""
    size = grid.shape[-1]
    position = torch.remainder(phase, 1.0) * size
    left = torch.floor(position)
    weight = (position - left).unsqueeze(1)
    left = left.long() % size
    right = (left + 1) % size
    channels = grid.shape[1]
    take = lambda index: torch.gather(grid, 2, index.unsqueeze(1).expand(-1, channels, -1))
    return take(left) * (1 - weight) + take(right) * weight
