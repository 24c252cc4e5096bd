"""The trained network with NumPy in and out: encode curves, decode latent vectors at any phases.

Generation, evaluation and the regressor fit all talk to the network through
this class, so none of them needs the public :class:`pelsvae_core.Model` facade.
Latent vectors are checked (shape, finite values), classes named or indexed within
the model's, and any number of vectors decoded in bounded memory (:data:`DECODE_CHUNK`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..data.dataset import TrainingSet
from .vae import PELSVAE, batch_from

#: Latent vectors run through the network at once, so that its working memory (about 40 kB per
#: vector for models/default; 10**6 vectors at once asked for 2 GB in one layer) stays near 40 MB
#: whatever the number decoded. Larger batches are no faster on a CPU (one thread: 42 us per
#: vector at 1024, 82 us at 4096), and a vector decodes to the same values in any batch of 8 or more.
DECODE_CHUNK = 1024


def periodic_values(grid: np.ndarray, phase: np.ndarray, channels=(0, 1)) -> tuple[np.ndarray, ...]:
    """Linear periodic interpolation of decoded grids (n, 2, G) at phases (m,) or (n, m), one
    array per channel of ``channels`` (0: the normalised curve, 1: its error): the NumPy twin
    of :func:`pelsvae_core.model.networks.periodic_interpolate`, for inference and simulation.
    Phases are wrapped as floats and each grid gets its first point again at the end, so the
    right neighbour is the next index: no integer modulo or ``where`` over every point (a third
    of the time for a shard's 1.5 million epochs). Indexes the flattened grid with ``take``
    (three times faster than 2-D fancy indexing); a channel not asked for costs nothing (a
    simulation needs the curve only)."""
    n, _, size = grid.shape
    phase = np.broadcast_to(np.asarray(phase, dtype=np.float64), (n, np.shape(phase)[-1]))
    with np.errstate(invalid="ignore"):    # a phase not finite is refused just below
        position = phase - np.floor(phase)  # in [0, 1]: a tiny negative phase wraps to 1.0
        position *= size
        left = position.astype(np.intp)
    if left.size and left.min() < 0:       # NaN or infinite phases cast to the most negative int
        raise ValueError("phases must be finite")
    np.minimum(left, size - 1, out=left)   # position == size reads the wrapped end point
    position -= left
    weight = position.astype(grid.dtype)
    first = min(channels)
    span = grid[:, first:max(channels) + 1]   # a view: the channels not asked for are not copied
    stride = size + 1
    wrapped = np.concatenate([span, span[..., :1]], axis=-1).reshape(-1)
    left += (np.arange(n) * span.shape[1] * stride)[:, None]

    def channel(k: int) -> np.ndarray:
        index = left + (k - first) * stride if k != first else left
        low = wrapped.take(index)
        value = wrapped.take(index + 1)
        value -= low
        value *= weight
        value += low
        return value

    return tuple(channel(k) for k in channels)


class Decoder:
    """A network in eval mode, its classes and bands, and the band used when none is named."""

    def __init__(self, network: PELSVAE, default_band: str | None = None):
        self.network = network
        self.config = network.cfg
        self.default_band = default_band or self.config.bands[0]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.config.classes

    @property
    def bands(self) -> tuple[str, ...]:
        return self.config.bands

    def class_index(self, cls: str | int | Sequence, n: int) -> torch.Tensor:
        """Class names or indices (one for all curves, or one per curve) as a (n,) tensor; an
        unknown name or an index outside the model's classes (``True`` included) is a clear error."""
        values = [cls] * n if np.ndim(cls) == 0 else list(cls)
        if len(values) != n:
            raise ValueError(f"got {len(values)} classes for {n} curves")
        out = []
        for value in values:
            if isinstance(value, str) and value in self.classes:
                value = self.classes.index(value)
            elif not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                      and 0 <= value < len(self.classes)):
                raise ValueError(f"unknown class {value!r}; this model knows {', '.join(self.classes)} "
                                 f"(or their indices 0 to {len(self.classes) - 1})")
            out.append(int(value))
        return torch.tensor(out, dtype=torch.long)

    def latent_vectors(self, z) -> np.ndarray:
        """``z`` as float32 (n, latent_dim), n >= 1, every value finite (one vector may be 1-D);
        anything else is a one-line error, never a NaN curve or a torch traceback."""
        d = self.config.latent_dim
        try:
            with np.errstate(over="ignore"):  # beyond float32: infinite, refused below
                z = np.asarray(z, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"z must be numbers, shaped (n, {d})") from None
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != d:
            raise ValueError(f"z must be shaped (n, {d}): the model's latent space has {d} "
                             f"dimensions; got shape {z.shape}")
        if len(z) == 0:
            raise ValueError(f"z holds no latent vector (shape {z.shape}); give at least one")
        if not np.isfinite(z).all():
            raise ValueError("z must be finite: NaN or infinite latent values decode to nothing")
        return z

    def band_index(self, band: str | None, n: int) -> torch.Tensor:
        band = band or self.default_band
        if band not in self.bands:
            raise ValueError(f"unknown band {band!r}; this model knows {', '.join(self.bands)}")
        return torch.full((n,), self.bands.index(band), dtype=torch.long)

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
        z = self.latent_vectors(z)
        n = len(z)
        phase = np.asarray(phases, dtype=np.float64)
        if phase.ndim == 1:
            phase = np.broadcast_to(phase, (n, phase.size))
        if phase.ndim != 2 or phase.shape[0] != n or not np.isfinite(phase).all():
            raise ValueError("phases must be finite, shaped (m,) or (n_curves, m)")
        mag, err = periodic_values(self.decode_grid(z, cls, band), phase)
        return mag.astype(np.float32), err.astype(np.float32)

    def decode_grid(self, z, cls, band: str | None = None) -> np.ndarray:
        """The decoder's own periodic grid, (n, 2, grid_size): magnitude and error over one cycle
        at phases ``arange(grid_size) / grid_size``; what :meth:`decode` interpolates. Decoded
        :data:`DECODE_CHUNK` vectors at a time."""
        z = torch.as_tensor(self.latent_vectors(z))
        classes, bands = self.class_index(cls, len(z)), self.band_index(band, len(z))
        with torch.inference_mode():
            grids = [self.network.decode_grid(z[i:i + DECODE_CHUNK], classes[i:i + DECODE_CHUNK],
                                              bands[i:i + DECODE_CHUNK]).numpy()
                     for i in range(0, len(z), DECODE_CHUNK)]
        return grids[0] if len(grids) == 1 else np.concatenate(grids)
