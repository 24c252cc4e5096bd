"""Which kernel donors make generated curves easy to tell from real ones (issue 14).

The kernel density (:mod:`pelsvae_core.physics.kernel_density`) generates a curve by moving
a training curve's latent vector (a "donor") to the requested physics. A donor encoded from
a sparse curve can carry shape detail its own points never constrained: the decoder is free
between the observations. Moved to another star and sampled at that star's phases, that
detail shows. The fit therefore keeps as donors only the curves whose latent vector decodes
to their own curve over the whole cycle (:func:`pelsvae_core.physics.latent_fit.faithful_rows`).

For one class of the model, per band, this prints:

1. the training curves' high-harmonic share: each curve's latent vector decoded in its band
   on 256 phases, the power in harmonics 7-12 over that in 1-12 (the decoder has 12),
   quantiles; and how many of them the fit keeps as donors;
2. on the validation split (the test split stays unseen), the grouped two-sample accuracy of
   curves generated from the validation stars' own physics against the real ones
   (:func:`pelsvae_core.evaluation.suite.generated_like`), the class's kernel density refitted
   on the training curves with the folder's bandwidth and adjustment, and drawing from
   (a) every training curve, (b) the donors the fit keeps, (c) the control: every curve but
   this band's above the band's median high-harmonic share (a cut by detail alone, which
   also removes real detail where a band's curves are well sampled).

Asserts nothing; the figures are the point.

    .venv/bin/python benchmarks/donor_detail.py [--cls CEP] [--split val]   # ~30 s with the data cache built
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from pelsvae_core import load_model
from pelsvae_core.evaluation import fidelity, suite
from pelsvae_core.physics.kernel_density import KernelDensity, fit_kernel_density
from pelsvae_core.physics.latent_fit import class_rows
from pelsvae_core.physics.subtype_model import PREFIX as SUBTYPE_PREFIX
from pelsvae_core.pipeline import model_training_set

PHASES = np.linspace(0, 1, 256, endpoint=False)
HIGH = slice(7, 13)  # harmonics 7-12
ALL = slice(1, 13)   # harmonics 1-12


def high_harmonic_share(model, cls: str, z: np.ndarray, band: str) -> np.ndarray:
    curves = model.decode(z, cls, np.tile(PHASES, (len(z), 1)), band=band)[0]
    power = np.abs(np.fft.rfft(curves - curves.mean(1, keepdims=True), axis=1)) ** 2
    return power[:, HIGH].sum(1) / power[:, ALL].sum(1)


def with_kernels(density: KernelDensity, keep: np.ndarray) -> KernelDensity:
    """The same density drawing from the kernels in ``keep`` alone."""
    return KernelDensity({**density.arrays, "centres": density.arrays["centres"][keep],
                          "residuals": density.arrays["residuals"][keep]})


def accuracy(model, part) -> str:
    rows, generated = suite.generated_like(model, part, "kernel")
    used = part.subset(rows)
    folds = fidelity.two_sample_folds(suite.features_of(used), suite.features_of(used, generated),
                                      used.star_key)
    return f"{folds.mean():.3f} ± {fidelity.standard_error(folds):.3f}"


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
    data = model_training_set(model, progress=False)
    c = data.classes.index(args.cls)
    with threadpool_limits(1):
        rows = class_rows(model.decoder, data.subset((data.split == "train") & ~data.augmented
                                                     & (data.cls == c)), info, donors=True)
        first = len(info.parameters)
        bands = np.array(info.bands)[np.argmax(rows.x[:, first:first + len(info.bands)], axis=1)]
        share = np.empty(len(bands))
        for band in info.bands:
            mine = bands == band
            share[mine] = high_harmonic_share(model, args.cls, rows.mu[mine], band)
            q = np.percentile(share[mine], [50, 84, 95])
            print(f"{args.cls} {band}: {mine.sum()} training curves, high-harmonic share (7-12 of 1-12) "
                  f"median {q[0]:.2g}, 84 % {q[1]:.2g}, 95 % {q[2]:.2g}; "
                  f"{rows.faithful[mine].sum()} kept as donors")
        every = fit_kernel_density(rows.density_x(info), np.column_stack([rows.mu, rows.log_amplitude]),
                                   rows.stars)
        every.arrays.update({"bandwidth_x": shipped.arrays["bandwidth_x"],
                             **{k: v for k, v in shipped.arrays.items() if k.startswith(SUBTYPE_PREFIX)}})
        if not shipped.adjusted:
            every = every.unadjusted()
        split = data.split_part(args.split)
        names, band_names = np.asarray(split.classes)[split.cls], np.asarray(split.bands)[split.band]
        print(f"two-sample accuracy on the {args.split} split (0.5: indistinguishable), drawing from: "
              "every training curve / the donors the fit keeps / the control (this band's curves "
              "above its median share left out)")
        for band in info.bands:
            part = split.subset(np.flatnonzero((names == args.cls) & (band_names == band)))
            if len(part) < fidelity.MIN_CURVES:
                continue
            mine = bands == band
            figures = []
            for keep in (np.ones(len(bands), bool), rows.faithful,
                         ~mine | (share <= np.median(share[mine]))):
                model.physics.predictors[key] = with_kernels(every, keep)
                figures.append(accuracy(model, part))
            model.physics.predictors[key] = shipped
            print(f"{args.cls} {band}, {len(part)} curves: " + " / ".join(figures))


if __name__ == "__main__":
    main()
