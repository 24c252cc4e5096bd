"""Which kernel donors make generated curves easy to tell from real ones (issue 14).

The kernel density (:mod:`pelsvae_core.physics.kernel_density`) generates a curve by moving
a training curve's latent vector (a "donor") to the requested physics. A donor encoded from
a sparse curve can carry shape detail its own points never constrained: harmonics 7-12 that
the decoder is free to put between the observations. Moved to another star and sampled at
that star's phases, that detail shows.

Per band of a class this prints:

1. the donors' high-harmonic share: each kernel's latent decoded in its own band on 256
   phases, the power in harmonics 7-12 over that in 1-12 (the decoder has 12), quantiles;
   the same stars in a well-sampled band are the reference;
2. on the validation split (the test split stays unseen), the grouped two-sample accuracy
   of curves generated from the validation stars' own physics against the real ones
   (:func:`pelsvae_core.evaluation.suite.generated_like`), with every donor, and with that
   band's donors above the band's median share left out (the other bands' untouched).

Asserts nothing; the figures are the point.

    .venv/bin/python benchmarks/donor_detail.py [--cls CEP] [--split val]   # ~20 s with the data cache built
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from pelsvae_core import load_model
from pelsvae_core.evaluation import fidelity, suite
from pelsvae_core.physics.kernel_density import KernelDensity
from pelsvae_core.pipeline import model_training_set

PHASES = np.linspace(0, 1, 256, endpoint=False)
HIGH = slice(7, 13)  # harmonics 7-12
ALL = slice(1, 13)   # harmonics 1-12


def donor_bands(density: KernelDensity, info) -> np.ndarray:
    """Each kernel's band, from the one-hot columns after the physics in its inputs
    (:meth:`pelsvae_core.physics.classes.ClassPhysics.regressor_inputs`)."""
    a = density.arrays
    inputs = a["centres"].astype(float) * a["x_scale"] + a["x_mean"]
    first = len(info.parameters)
    return np.array(info.bands)[np.argmax(inputs[:, first:first + len(info.bands)], axis=1)]


def high_harmonic_share(model, cls: str, z: np.ndarray, band: str) -> np.ndarray:
    curves = model.decode(z, cls, np.tile(PHASES, (len(z), 1)), band=band)[0]
    power = np.abs(np.fft.rfft(curves - curves.mean(1, keepdims=True), axis=1)) ** 2
    return power[:, HIGH].sum(1) / power[:, ALL].sum(1)


def accuracy(model, part) -> tuple[float, float]:
    rows, generated = suite.generated_like(model, part, "kernel")
    used = part.subset(rows)
    folds = fidelity.two_sample_folds(suite.features_of(used), suite.features_of(used, generated),
                                      used.star_key)
    return float(folds.mean()), fidelity.standard_error(folds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cls", default="CEP")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model()
    info = model.class_physics[args.cls]
    key = f"{args.cls}/kernel"
    shipped = model.physics.predictors[key]
    bands = donor_bands(shipped, info)
    z = shipped.kernel_targets()[:, :-1]  # the latent vectors, without the log amplitude
    share = np.empty(len(z))
    with threadpool_limits(1):
        for band in info.bands:
            mine = bands == band
            share[mine] = high_harmonic_share(model, args.cls, z[mine], band)
            q = np.percentile(share[mine], [50, 84, 95])
            print(f"{args.cls} {band}: {mine.sum()} donors, high-harmonic share (7-12 of 1-12) "
                  f"median {q[0]:.2g}, 84 % {q[1]:.2g}, 95 % {q[2]:.2g}")
        data = model_training_set(model, progress=False).split_part(args.split)
        names, band_names = np.asarray(data.classes)[data.cls], np.asarray(data.bands)[data.band]
        for band in info.bands:
            part = data.subset(np.flatnonzero((names == args.cls) & (band_names == band)))
            if len(part) < fidelity.MIN_CURVES:
                continue
            mine = bands == band
            keep = ~mine | (share <= np.median(share[mine]))
            kept = KernelDensity({**shipped.arrays, "centres": shipped.arrays["centres"][keep],
                                  "residuals": shipped.arrays["residuals"][keep]})
            every, every_se = accuracy(model, part)
            model.physics.predictors[key] = kept
            smooth, smooth_se = accuracy(model, part)
            model.physics.predictors[key] = shipped
            print(f"{args.cls} {band}, {len(part)} {args.split} curves: two-sample accuracy "
                  f"{every:.3f} ± {every_se:.3f} with every donor, {smooth:.3f} ± {smooth_se:.3f} "
                  f"without the {band} donors above the median share")


if __name__ == "__main__":
    main()
