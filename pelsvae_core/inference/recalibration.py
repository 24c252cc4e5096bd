"""Recalibrated Teff intervals: quantile levels chosen so that intervals hold what they claim.

The Teff posterior (:mod:`.posterior`) is a mixture over training stars; on stars it never
trained on, its 16-84 % intervals held 77 % of the true values on the shipped model (the RR
Lyrae's too wide, the Cepheids' too narrow: ``benchmarks/infer.py``). Recalibration
(Kuleshov, Fenner & Ermon 2018, *Accurate Uncertainties for Deep Learning Using Calibrated
Regression*, ICML, Algorithm 1) fixes that from held-out stars of known Teff: each star's
probability integral transform u = F(Teff_true), the posterior's distribution function at the
truth, is uniform for a calibrated posterior (Dawid 1984, JRSS A 147, 278). Where it is not,
the q quantile of the recalibrated posterior is the posterior's quantile at level Q_u(q), Q_u
the empirical quantile function of the u's (the inverse of Kuleshov's map R(p) = #{u_i <= p} / n).

One map per class (the class the posterior is drawn from, the inferred one), fitted on the
validation split by :func:`fit`: the test split stays untouched for the report. Each map
stores its u's, its provenance, and the coverage it gives in a two-fold cross-fit by star
(fitted on half the stars, counted on the other half), the honest estimate of what it does
for stars it has not seen. A map is applied only where that held-out coverage lies nearer the
nominal 68 and 95 % than the raw posterior's (:func:`coverage_miss`): a class whose raw
intervals already hold what they claim keeps them, rather than take on the noise of an
empirical quantile. A class with fewer than :data:`MIN_CURVES` validation curves has no
map, and its intervals say so in a warning.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

#: Validation stars per group of :data:`pelsvae_core.evaluation.inference.TEFF_GROUPS` a map is
#: fitted on, each whole and at the sparse epoch counts: 60 gives the shipped model 360 RR Lyrae
#: and 180 Cepheid curves (its 2.5 % level rests on ~9 and ~4 of them), in about 5 minutes on
#: 2 cores.
CALIBRATION_STARS = 60
#: Fewest validation curves of a class for a map: Q_u(0.025) from fewer rests on one or two.
MIN_CURVES = 50
#: The intervals whose held-out coverage a map records.
LEVELS = {"68": (0.16, 0.84), "95": (0.025, 0.975)}


@dataclass(frozen=True)
class TeffRecalibration:
    """One class's map: the sorted PIT values ``pit`` of its validation curves, and whether it
    is ``applied`` (else the raw levels were found to hold what they claim, and are kept)."""

    cls: str
    pit: np.ndarray
    applied: bool

    def levels(self, q) -> np.ndarray:
        """The posterior's quantile levels that give the recalibrated quantiles ``q``."""
        return empirical_quantiles(self.pit, q) if self.applied else np.asarray(q, float)

    @classmethod
    def from_dict(cls, name: str, content: dict) -> "TeffRecalibration":
        pit = np.sort(np.asarray(content["pit"], float))
        if pit.size < MIN_CURVES or not ((pit >= 0) & (pit <= 1)).all():
            raise ValueError(f"the Teff recalibration of {name} needs at least {MIN_CURVES} "
                             f"PIT values in [0, 1]; it has {pit.size}")
        return cls(name, pit, bool(content["applied"]))


def empirical_quantiles(pit: np.ndarray, q) -> np.ndarray:
    """Q_u(q) of PIT values: the order statistics at plotting positions q (n + 1) (Weibull 1939),
    where a new draw falls below the k-th of n with probability k / (n + 1), so an interval
    between them holds the share it names on average. NumPy's default, 1 + q (n - 1), puts the
    tails about one order statistic inwards (on the shipped model's validation RR Lyrae, fitted
    on half of them, the 95 % interval held 93 % of the other half; at these positions 94 %)."""
    return np.quantile(pit, np.asarray(q, float), method="weibull")


def maps(content: dict | None) -> dict[str, TeffRecalibration]:
    """The per-class maps of a model's stored calibration (:func:`fit`'s output), or none."""
    if not content:
        return {}
    return {name: TeffRecalibration.from_dict(name, entry)
            for name, entry in content.get("teff", {}).items()}


def _coverage(pit: np.ndarray, fitted_on: np.ndarray | None = None) -> dict[str, float]:
    """The share of ``pit`` inside each of :data:`LEVELS`'s intervals: raw, or recalibrated
    on the PIT values ``fitted_on``."""
    bounds = {n: q if fitted_on is None else empirical_quantiles(fitted_on, q) for n, q in LEVELS.items()}
    return {n: float(np.mean((pit >= lo) & (pit <= hi))) for n, (lo, hi) in bounds.items()}


def coverage_miss(coverage: dict[str, float]) -> float:
    """How far coverages of the :data:`LEVELS` intervals lie from their nominal shares: the sum
    of the squared differences, each in units of its binomial variance p (1 - p) per curve."""
    nominal = {n: hi - lo for n, (lo, hi) in LEVELS.items()}
    return float(sum((coverage[n] - p) ** 2 / (p * (1 - p)) for n, p in nominal.items()))


def _fold(star: str) -> int:
    """A star's fold, 0 or 1, fixed by its name (all its curves together)."""
    return zlib.crc32(star.encode()) % 2


def fit(pits: list[dict], provenance: dict) -> dict:
    """Per class, the map of the PIT values ``pits`` (dicts with ``cls``, the inferred class,
    ``star`` and ``pit``, and any other keys), with its curve and star counts, the raw coverage
    of the 68 and 95 % intervals, their coverage held out (mean of the two folds), and whether
    the map is applied (:func:`coverage_miss` of the held-out coverage below the raw's);
    ``provenance`` (split, groups, epochs, seed) and every curve's record are stored beside
    them. Classes with fewer than :data:`MIN_CURVES` curves are listed under ``too_few``."""
    out, too_few = {}, {}
    for cls in sorted({p["cls"] for p in pits}):
        mine = [p for p in pits if p["cls"] == cls]
        pit = np.array([p["pit"] for p in mine])
        if pit.size < MIN_CURVES:
            too_few[cls] = int(pit.size)
            continue
        fold = np.array([_fold(p["star"]) for p in mine])
        held_out = [_coverage(pit[fold == k], pit[fold != k]) for k in (0, 1)
                    if (fold == k).any() and (fold != k).any()]
        raw = _coverage(pit)
        held = {n: float(np.mean([h[n] for h in held_out])) for n in LEVELS} if held_out else None
        out[cls] = {"curves": int(pit.size), "stars": len({p["star"] for p in mine}),
                    "raw_coverage": raw, "held_out_coverage": held,
                    "applied": held is not None and coverage_miss(held) < coverage_miss(raw),
                    "pit": sorted(float(u) for u in pit)}
    return {"method": "Kuleshov et al. 2018 recalibration of the Teff posterior's quantile "
                      "levels, one map per inferred class", **provenance,
            "min_curves": MIN_CURVES, "teff": out, "too_few": too_few,
            "curves": [{**p, "pit": round(float(p["pit"]), 6)} for p in pits]}


def describe(content: dict) -> list[str]:
    """Lines for a person: per class, the curves behind the map, the levels it puts the
    16/84 and 2.5/97.5 % quantiles at, and the coverage before and held out."""
    lines = [f"Teff recalibration on the {content['split']} split ({', '.join(content['groups'])}; "
             f"{content['per_group']} stars per group, epochs {', '.join(map(str, content['epochs']))})"]
    for name, entry in content["teff"].items():
        lo95, lo68, hi68, hi95 = empirical_quantiles(entry["pit"], [0.025, 0.16, 0.84, 0.975])
        raw, held = entry["raw_coverage"], entry["held_out_coverage"] or {"68": np.nan, "95": np.nan}
        lines.append(f"  {name}: {entry['curves']} curves of {entry['stars']} stars; coverage of the 68 / "
                     f"95 % intervals {100 * raw['68']:.0f} / {100 * raw['95']:.0f} % raw, "
                     f"{100 * held['68']:.0f} / {100 * held['95']:.0f} % recalibrated and held out "
                     f"(two folds by star; levels {lo68:.3f}-{hi68:.3f} and {lo95:.3f}-{hi95:.3f}): "
                     + ("recalibrated" if entry["applied"] else "raw levels kept"))
    for name, n in content["too_few"].items():
        lines.append(f"  {name}: not recalibrated ({n} curves, fewer than {content['min_curves']})")
    if "kernel_scales" in content:
        lines.append(f"Kernel scales of {len(content['kernel_scales'])} class references stored "
                     "(no cross-validation at a class's first inference)")
    return lines
