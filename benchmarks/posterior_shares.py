"""How much of the prior the posteriors of inference should keep: Teff, and the class.

:func:`pelsvae_core.inference.analyse` mixes a share of the prior into two posteriors (a
defensive mixture, Hesterberg 1995, Technometrics 37, 185): the Teff posterior keeps
:data:`~pelsvae_core.inference.inverse.TEFF_PRIOR_WEIGHT` of the class's prior (every
training star alike), the class probabilities
:data:`~pelsvae_core.inference.inverse.CLASS_PRIOR_WEIGHT` of a uniform prior over the classes
considered. This script infers real stars of one split once (Stripe 82 ugriz and OGLE-IV I RR
Lyrae and OGLE-III LMC Cepheids for Teff; OGLE-IV RR Lyrae, OGLE-III LMC Cepheids and Catalina stars of every class for
the class: the Stripe 82 bands hold one class only), whole and at 60 and 30 of their epochs,
then for each candidate share prints the coverage of the intervals (Teff) or the accuracy and
mean top probability (class), and the mean log score of the truth (a proper score), then the
share the rule picks: the smallest within 0.01 nat per curve of the best score; for the class,
the smallest of those whose mean top probability is not above the accuracy (the score could
not tell 0.02 from 0.05, 0.001 nat apart on the validation curves, while 0.02 claimed 0.953
against an accuracy of 0.935). Choose on ``--split val``; ``--split test`` is the held-out
check.

    .venv/bin/python benchmarks/posterior_shares.py --split val    # ~6 min on a quiet 2-core CPU
    .venv/bin/python benchmarks/posterior_shares.py --split test

``--kernel-scales`` also prints the class table for each latent kernel scale of the class
prior (:data:`~pelsvae_core.inference.reference.CLASS_KERNEL_SCALE`), the same fits rescored.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import stats

from pelsvae_core import load_model, paths
from pelsvae_core.evaluation.inference import TEFF_GROUPS, curve_versions, read_stars
from pelsvae_core.inference import analyse
from pelsvae_core.inference.inverse import CLASS_PRIOR_WEIGHT, TEFF_PRIOR_WEIGHT, class_probabilities
from pelsvae_core.inference.posterior import fit_weights, mixture_quantiles
from pelsvae_core.inference.reference import CLASS_KERNEL_SCALE, references

CLASS_GROUPS = ("OGLE-IV RRLYR I", "OGLE CEP I", "Catalina V_CSS")
SHARES = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
KERNEL_SCALES = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2)
#: The rule's tolerance on the mean log score (nat per curve).
TOLERANCE = 0.01


def _without(weights: np.ndarray, share: float, support: np.ndarray) -> np.ndarray:
    """The weights before ``share`` of a uniform prior over ``support`` was mixed in."""
    return (weights - share * support / support.sum()) / (1 - share)


def infer_split(model, split: str, per_group: int, scales=()) -> tuple[list, dict]:
    """Per curve, (Teff values, kernel width, own weights, true Teff) and, per class prior
    kernel scale (the shipped one and ``scales``), (own class probabilities, the classes
    inference considered, true class), the shipped shares taken out; curves of a class the
    model cannot infer (ELL: 4 training stars) are left out of the class score, where they
    would count log 0 whatever the share."""
    groups = tuple(dict.fromkeys(TEFF_GROUPS + CLASS_GROUPS))
    stars = read_stars(model, paths.data_root(), per_group, 0, (split,), None, groups)[split]
    teff, classes = [], {scale: [] for scale in (CLASS_KERNEL_SCALE, *scales)}
    refs = references(model)
    known = set(refs.classes_for(("V_CSS",))[0]) | {"RRLYR", "CEP"}
    for label, members in stars.items():
        for version in (None, 60, 30):
            for star in curve_versions(members, version, 0):
                if star is None:
                    continue
                try:
                    found = analyse(model, star.time, star.mag, star.err, band=star.band)
                except ValueError:
                    continue
                if label in TEFF_GROUPS and found.teff_samples is not None and np.isfinite(star.teff):
                    values, width, weights = found.teff_samples
                    own = _without(weights, TEFF_PRIOR_WEIGHT, np.ones(weights.size))
                    teff.append((values, width, own, star.teff))
                if label in CLASS_GROUPS and star.cls in known:
                    tried = refs.classes_for(found.observed.bands)[0]
                    for scale, cases in classes.items():
                        fits = found.fits if scale == CLASS_KERNEL_SCALE else [
                            fit.with_class_prior(refs.get(fit.cls, fit.bands), scale) for fit in found.fits]
                        probabilities = class_probabilities(fits, fit_weights(fits), tried,
                                                            model.decoder.classes)
                        names = list(probabilities)
                        p = np.array([probabilities[c] for c in names])
                        considered = np.isin(names, tried).astype(float)
                        cases.append((names, _without(p, CLASS_PRIOR_WEIGHT, considered), considered,
                                      star.cls))
    return teff, classes


def teff_table(cases: list) -> None:
    print(f"Teff: {len(cases)} RR Lyrae and Cepheid curves; shipped share {TEFF_PRIOR_WEIGHT}")
    print("share  in 16-84 %  in 2.5-97.5 %  mean log predictive density")
    scores = {}
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
        scores[share] = score / n
        print(f"{share:5.2f}  {inside68 / n:10.1%}  {inside95 / n:13.1%}  {score / n:10.3f}")
    print(f"the rule picks {pick(scores, set(scores)):.2f}")


def class_table(cases: list, scale: float) -> None:
    print(f"class: {len(cases)} curves; class prior kernel scale {scale:g}"
          f"{' (shipped)' if scale == CLASS_KERNEL_SCALE else ''}; shipped share {CLASS_PRIOR_WEIGHT}")
    print("share  accuracy  mean top probability  mean log probability of the true class")
    scores, modest = {}, set()
    for share in SHARES:
        right = top = score = 0.0
        for names, own, considered, truth in cases:
            p = (1 - share) * own + share * considered / considered.sum()
            right += names[int(np.argmax(p))] == truth
            top += p.max()
            score += np.log(max(p[names.index(truth)], 1e-300)) if truth in names else 0.0
        n = len(cases)
        scores[share] = score / n
        if top <= right:
            modest.add(share)
        print(f"{share:5.2f}  {right / n:8.1%}  {top / n:20.3f}  {score / n:12.3f}")
    print(f"the rule picks {pick(scores, modest):.2f}")


def pick(scores: dict[float, float], allowed: set[float]) -> float:
    """The smallest share within :data:`TOLERANCE` of the best mean log score among the
    ``allowed`` ones (all of them where none is allowed)."""
    best = max(scores.values())
    near = [share for share, score in scores.items() if score >= best - TOLERANCE]
    return min([share for share in near if share in allowed] or near)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--per-group", type=int, default=40,
                        help="stars per group (Catalina: per class)")
    parser.add_argument("--model", default="models/default",
                        help="model folder (a new latent space needs its shares chosen again)")
    parser.add_argument("--kernel-scales", action="store_true",
                        help=f"also score the class prior's latent kernel scales {KERNEL_SCALES}")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    started = time.perf_counter()
    teff, classes = infer_split(model, args.split, args.per_group,
                                KERNEL_SCALES if args.kernel_scales else ())
    print(f"{args.split} split, inferred in {time.perf_counter() - started:.0f} s")
    teff_table(teff)
    for scale, cases in sorted(classes.items()):
        class_table(cases, scale)


if __name__ == "__main__":
    main()
