"""How much of the class's Teff prior the Teff posterior of inference should hold.

The Teff posterior of :func:`pelsvae_core.inference.analyse` weights the training stars'
Teff by how well their latents and periods match the curve's fit, and mixes in a share
:data:`~pelsvae_core.inference.inverse.TEFF_PRIOR_WEIGHT` of the class's prior (every star
alike). This script infers real RR Lyrae of one split (Stripe 82 ugriz and OGLE-IV I, whole
and at 60 and 30 of their epochs), then, for each candidate share, prints the coverage of the
16-84 % and 2.5-97.5 % intervals and the mean log predictive density of the stars' own Teff
(a proper score: the choice rule is the smallest share within 0.01 nat per curve of the best).
Choose on ``--split val``; ``--split test`` is the held-out check.

    .venv/bin/python benchmarks/teff_tails.py --split val    # ~3 min on a quiet 2-core CPU
    .venv/bin/python benchmarks/teff_tails.py --split test
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import stats

from pelsvae_core import load_model, paths
from pelsvae_core.evaluation.inference import read_stars
from pelsvae_core.inference import analyse
from pelsvae_core.inference.inverse import TEFF_PRIOR_WEIGHT
from pelsvae_core.inference.posterior import mixture_quantiles

GROUPS = ("SDSS RRLYR ugriz", "OGLE-IV RRLYR I")
SHARES = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def posteriors(model, split: str, per_group: int) -> list[tuple]:
    """(Teff values, kernel width, weights without the prior share, true Teff) per curve."""
    stars = read_stars(model, paths.data_root(), per_group, 0, (split,), None, GROUPS)[split]
    out = []
    for members in stars.values():
        for version in (None, 60, 30):
            rng = np.random.default_rng(0)
            for star in members:
                star = star if version is None else star.sparse(version, rng)
                if star is None or not np.isfinite(star.teff):
                    continue
                try:
                    found = analyse(model, star.time, star.mag, star.err, band=star.band)
                except ValueError:
                    continue
                if found.teff_samples is not None:
                    values, width, weights = found.teff_samples
                    own = (weights - TEFF_PRIOR_WEIGHT / weights.size) / (1 - TEFF_PRIOR_WEIGHT)
                    out.append((values, width, own, star.teff))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--per-group", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("models/default")
    started = time.perf_counter()
    cases = posteriors(model, args.split, args.per_group)
    print(f"{len(cases)} curves of {args.split} RR Lyrae ({', '.join(GROUPS)}) in "
          f"{time.perf_counter() - started:.0f} s; shipped share {TEFF_PRIOR_WEIGHT}")
    print("share  in 16-84 %  in 2.5-97.5 %  mean log predictive density")
    for share in SHARES:
        inside68 = inside95 = 0
        score = 0.0
        for values, width, own, truth in cases:
            weights = (1 - share) * own + share / own.size
            lo95, lo68, hi68, hi95 = mixture_quantiles(values, width, weights, [0.025, 0.16, 0.84, 0.975])
            inside68 += lo68 <= truth <= hi68
            inside95 += lo95 <= truth <= hi95
            score += np.log(weights @ stats.norm.pdf(truth, values, width) + 1e-300)
        n = len(cases)
        print(f"{share:5.2f}  {inside68 / n:10.1%}  {inside95 / n:13.1%}  {score / n:10.3f}")


if __name__ == "__main__":
    main()
