"""Which conditional density follows the physics? The shipped density (a mean network plus a
mixture of the residuals) against a mixture density network alone and against the kernel
density (the same mean network plus the training stars' own residuals), all fitted on the
shipped model's training stars exactly as ``pelsvae fit-regressors`` fits them, for each
class given by ``--classes``. Printed per class and variant:

* the validation stars' mean negative log-likelihood per curve (nats; lower is better), the
  latent R^2 of the point prediction, and the share of targets inside the 16-84 % interval
  of the draws (0.68 when calibrated): :func:`pelsvae_core.physics.latent_fit.validation_scores`;
* for RR Lyrae, what issue 14 asks of the shapes: the phi21-log P slope (rad/dex, Theil-Sen)
  of the fundamental-mode (RRab) training curves in I, decoded from their own posterior
  means (what the latent space holds), and of curves generated from those stars' own physics
  by each density (one draw per star, three seeds; the real OGLE-IV bulge slope is in the
  evaluation report, about 3.7).

    .venv/bin/python benchmarks/density_choice.py                   # RRLYR and CEP, ~5 min
    .venv/bin/python benchmarks/density_choice.py --classes RRLYR
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from pelsvae_core import fourier, load_model
from pelsvae_core.evaluation.fidelity import DENSE_ORDER, GRID, fit_many, robust_line, unwrap_about
from pelsvae_core.physics.density import fit_density
from pelsvae_core.physics.kernel_density import fit_kernel_density
from pelsvae_core.physics.latent_fit import class_rows, validation_scores
from pelsvae_core.pipeline import model_training_set

VARIANTS = {"mean network + residual mixture (mdn, default)": fit_density,
            "mixture alone": lambda *args, **kw: fit_density(*args, mean_network=False, **kw),
            "mean network + stars' residuals (kernel)": fit_kernel_density}
SEEDS = (0, 1, 2)


def phi21(model, cls: str, z: np.ndarray, band: str) -> np.ndarray:
    """phi21 of the curves decoded from latent vectors ``z`` in ``band`` (order-8 fits on
    :data:`GRID`, as the evaluation fits generated curves)."""
    mags = model.decode(z, cls, GRID, band=band)[0]
    return np.array([fourier.fourier_parameters(c)["phi21"] for c in fit_many(GRID, mags, None, DENSE_ORDER)])


def rrab_slopes(model, info, rows, densities: dict) -> dict[str, str]:
    """phi21-log P slopes of the RRab training curves in I: decoded posterior means, and each
    density's draws at the stars' own physics."""
    if "I" not in info.bands or "RRab" not in info.subtypes:
        return {}
    pick = (rows.x[:, len(info.parameters) + info.bands.index("I")] == 1) & (rows.subtype == "RRab")
    log_p = rows.x[pick, info.parameters.index("log_period")]
    own = phi21(model, info.cls, rows.mu[pick], "I")
    centre = float(np.median(own))
    out = {"decoded posterior means": f"{robust_line(log_p, unwrap_about(own, centre))['slope']:.2f}"}
    x = rows.density_x(info)[pick]
    for name, density in densities.items():
        slopes = [robust_line(log_p, unwrap_about(phi21(model, info.cls, density.sample(
            x, np.random.default_rng(seed))[:, :-1], "I"), centre))["slope"] for seed in SEEDS]
        out[name] = f"{np.mean(slopes):.2f} (seeds {', '.join(f'{s:.2f}' for s in slopes)})"
    return {"RRab curves in I": pick.sum(), **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="RRLYR,CEP")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model()
    data = model_training_set(model, progress=False)
    train = data.subset((data.split == "train") & ~data.augmented)
    val = data.split_part("val")
    with threadpool_limits(limits=1):
        for cls in args.classes.split(","):
            info = model.class_physics[cls]
            c = data.classes.index(cls)
            fit_rows = class_rows(model.decoder, train.subset(train.cls == c), info)
            val_rows = class_rows(model.decoder, val.subset(val.cls == c), info)
            y_val = np.column_stack([val_rows.mu, val_rows.log_amplitude])
            densities, scores = {}, []
            for name, fit in VARIANTS.items():
                densities[name] = fit(
                    fit_rows.density_x(info), np.column_stack([fit_rows.mu, fit_rows.log_amplitude]),
                    fit_rows.stars, progress=True, desc=f"{cls} {name}")
                s = validation_scores(densities[name], val_rows.density_x(info), y_val,
                                      np.random.default_rng(0))
                scores.append({"density": name, "val nll": round(s["nll"], 2),
                               "latent R2": round(s["r2_latent"], 3),
                               "in 16-84 %": round(s["coverage_68"], 3)})
            print(f"\n{cls}: {len(fit_rows.x)} training curves, {len(val_rows.x)} validation curves")
            print(pd.DataFrame(scores).to_string(index=False))
            for key, value in rrab_slopes(model, info, fit_rows, densities).items():
                print(f"  phi21-log P slope, {key}: {value}")


if __name__ == "__main__":
    main()
