"""Decoding, generation and training speed of the shipped model, on one CPU thread.

Targets (issues 3 and 4): decode 100 curves at 300 phases in under 5 ms; generate
100 curves end to end from physical parameters in under 20 ms. The baseline,
timed in the same run, is a decoder built like the original PELS-VAE's: the
latent vector and class repeated along the 300 requested phases through a
causal TCN of the paper's size (9 blocks, 48 units, kernel 5).

    .venv/bin/python benchmarks/model_speed.py
"""
from __future__ import annotations

import resource
import statistics
import time

import numpy as np
import torch
from torch import nn

from pelsvae_core import load_model
from pelsvae_core.model.networks import TemporalBlock
from pelsvae_core.model.vae import batch_from

N_CURVES, N_PHASES = 100, 300


def timed(function, repeats: int = 30) -> float:
    """Median wall time in milliseconds (after one warm-up call)."""
    function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


class OriginalStyleDecoder(nn.Module):
    """The 2021 decoder's shape: [z, one-hot, phase] repeated per step, causal TCN, linear + sigmoid."""

    def __init__(self, latent: int = 4, classes: int = 8, hidden: int = 48, blocks: int = 9):
        super().__init__()
        self.tcn = nn.Sequential(*[TemporalBlock(latent + classes + 1 if i == 0 else hidden, hidden,
                                                 5, 2**i, 0.0, causal=True) for i in range(blocks)])
        self.head = nn.Linear(hidden, 1)

    def forward(self, z, onehot, phase):
        steps = phase.shape[1]
        x = torch.cat([z[:, :, None].expand(-1, -1, steps), onehot[:, :, None].expand(-1, -1, steps),
                       phase[:, None]], dim=1)
        return torch.sigmoid(self.head(self.tcn(x).transpose(1, 2)))


def main() -> None:
    torch.set_num_threads(1)
    model = load_model()
    rng = np.random.default_rng(0)
    z = rng.normal(size=(N_CURVES, model.config.latent_dim)).astype(np.float32)
    phases = np.sort(rng.uniform(0, 1, (N_CURVES, N_PHASES)), axis=1)
    ours = timed(lambda: model.decode(z, "RRLYR", phases))

    baseline = OriginalStyleDecoder(latent=model.config.latent_dim).eval()
    zt, ph = torch.from_numpy(z), torch.from_numpy(phases.astype(np.float32))
    onehot = torch.zeros(N_CURVES, 8)
    onehot[:, 6] = 1
    with torch.no_grad():
        original = timed(lambda: baseline(zt, onehot, ph), repeats=10)

    print(f"decode {N_CURVES} curves x {N_PHASES} phases, 1 thread")
    print(f"  pelsvae decoder            {ours:8.2f} ms   (target < 5 ms)")
    print(f"  original-style decoder     {original:8.2f} ms   ratio {original / ours:.0f}x slower")

    if model.physics.predictors:
        info = model.parameters()["RRLYR"]
        period = 10 ** info["typical"]["log_period"]
        print(f"generate {N_CURVES} RR Lyrae curves from (Teff, M, P) at 300 phases, 1 thread")
        grid = np.linspace(0, 1, N_PHASES, endpoint=False)
        for regressor in model.physics.fitted_kinds():
            ms = timed(lambda: model.generate("RRLYR", teff=info["typical"]["teff"], period=period,
                                              phases=grid, n_samples=N_CURVES, regressor=regressor))
            print(f"  {regressor:<6}                     {ms:8.2f} ms   (target < 20 ms)")

    print("training step (batch 128, forward + backward + Adam), 1 thread")
    from pelsvae_core.model.losses import vae_loss
    from pelsvae_core.model.vae import PELSVAE
    network = PELSVAE(model.config)
    optimizer = torch.optim.Adam(network.parameters())
    fake = _fake_training_set(model, 128, rng)
    batch = batch_from(fake)

    def step():
        mu, logvar, mag, err = network(batch)
        loss = vae_loss(batch.mag, mag, batch.err, err, batch.mask, mu, logvar, 0.75, 1.0, 0.02)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()

    ms = timed(step, repeats=5)
    print(f"  {128 / ms * 1000:8.0f} curves/s per thread; peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def _fake_training_set(model, n, rng):
    from pelsvae_core.data.dataset import TrainingSet
    length = 300
    phase = np.sort(rng.uniform(0, 1, (n, length)), axis=1).astype(np.float32)
    floats = lambda: rng.uniform(0, 1, n).astype(np.float32)
    return TrainingSet(phase=phase, mag=rng.uniform(0, 1, (n, length)).astype(np.float32),
                       err=np.full((n, length), 0.05, np.float32), mask=np.ones((n, length), bool),
                       cls=np.zeros(n, np.int64), band=np.zeros(n, np.int64), teff=floats(),
                       abs_mag=floats(), log_period=floats(), amplitude=floats(), mean_mag=floats(),
                       split=np.array(["train"] * n), star_key=np.array(["x"] * n),
                       augmented=np.zeros(n, bool), classes=model.classes, bands=model.bands)


if __name__ == "__main__":
    main()
