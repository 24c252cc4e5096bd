"""Calibration of the inverse problem (issue 17) on real stars the model never trained on.

Reads real, unfolded curves with the survey readers and keeps the stars of the model's
test split (``--split val`` for the validation split, the one to tune on): SDSS Stripe 82
RR Lyrae (u, g, r, i, z fitted together) drawn among the stars with a known Teff, OGLE-III
LMC Cepheids (I band) drawn among those with a catalogue mean V and I, and Catalina SSS
stars (V_CSS; class and RR Lyrae mode known), drawn per class (``--per-group`` of each, all of a class with fewer: the class
mix is balanced, not the survey's). Each star is inferred on its whole curve and on
sparse versions (``--sparse``: that many epochs drawn at random from its own; points
within 0.1 d are one epoch, all bands of a drawn epoch kept). Printed per group and version:

* period within 1 % of the catalogue's (all, and RR Lyrae and Cepheids with >= 60 epochs;
  target >= 95 %), and the share inside the 16-84 % period interval (against catalogue
  periods measured from the same kind of data, whose own errors are not counted);
* class accuracy, beside a random forest on Fourier features of the same curves (the usual
  baseline: Richards et al. 2011, ApJ 733, 10) trained on training-split curves of the
  same survey, per true class too; the mean top class probability (calibrated when it
  equals the accuracy);
* RRab/RRc accuracy where the survey gives the mode (target >= 90 %);
* Teff: coverage of the 16-84 % and 2.5-97.5 % intervals (targets 68 +- 5 % and 95 +- 3 %),
  the RMS error of the median against the prior's spread (the training stars' std);
* LMC Cepheids, absolute magnitude M_I: each star is inferred at the LMC distance
  (Pietrzynski et al. 2019, :data:`~pelsvae_core.data.calibration.LMC_DISTANCE_MODULUS`),
  the mean LMC extinction A_I = 1.55 x 0.100 mag
  (:data:`~pelsvae_core.data.calibration.LMC_MEAN_REDDENING`; ``infer`` corrects none) is
  taken off, and the result is compared with the star's M_I from the OGLE-III catalogue's
  intensity-mean V and I (:func:`~pelsvae_core.data.calibration.lmc_parameters`). The
  coverage counts a star inside when the difference lies within the 68 % (95 %) interval of
  the two uncertainties together (the inference's, and the catalogue value's LMC depth and
  reddening spread); the RMS error is set against the spread of the training Cepheids' M_G;
* CPU seconds per star (one thread) and wall seconds (median).

    .venv/bin/python benchmarks/infer.py --per-group 80   # ~40 min on a busy 2-core CPU
    .venv/bin/python benchmarks/infer.py --per-group 10 --groups "OGLE CEP I"   # a quick look
    .venv/bin/python benchmarks/infer.py --fit-mode-boundary  # refit inference.posterior.RRC_LOGIT
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from pelsvae_core import fourier, load_model, paths
from pelsvae_core.data.calibration import (LMC_DISTANCE_MODULUS, LMC_MEAN_REDDENING,
                                           OGLE_WESENHEIT_R, lmc_parameters)
from pelsvae_core.data.catalogues import read_ogle3_catalogue
from pelsvae_core.data.surveys import SURVEYS, DataRoot
from pelsvae_core.evaluation.suite import star_id
from pelsvae_core.inference import analyse
from pelsvae_core.periodogram import search_period

#: Survey registry key, group label, band kept (None: every band, fitted together), and the
#: parameter it measures (only stars that have it are drawn), or None.
GROUPS = (("sdss_s82_rrlyrae", "SDSS RRLYR ugriz", None, "teff"),
          ("ogle3_lmc_cep", "OGLE CEP I", "I", "abs_mag"),
          ("catalina_sss", "Catalina V_CSS", "V_CSS", None))
#: The LMC's distance in parsecs, and the mean LMC extinction in I (see the module docstring).
LMC_DISTANCE_PC = 10 ** (LMC_DISTANCE_MODULUS.value / 5 + 1)
LMC_A_I = OGLE_WESENHEIT_R.value * LMC_MEAN_REDDENING.value
#: The issue's period target applies to these classes with at least this many epochs.
PERIOD_CLASSES, PERIOD_MIN_EPOCHS = ("RRLYR", "CEP"), 60
#: Epochs closer than this (days) are one epoch (SDSS observes u, g, r, i, z within minutes).
EPOCH_GAP = 0.1
#: Training curves per class for the random-forest baseline.
BASELINE_PER_CLASS = 150


@dataclass
class Star:
    key: str
    cls: str
    subtype: str
    period: float
    teff: float
    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    band: np.ndarray
    abs_mag: float = float("nan")        # M_I from the catalogue (LMC Cepheids), and its
    abs_mag_sigma: float = float("nan")  # uncertainty

    def epochs(self) -> np.ndarray:
        """Epoch number of every point (points within :data:`EPOCH_GAP` days share one)."""
        order = np.argsort(self.time)
        new = np.concatenate([[True], np.diff(self.time[order]) > EPOCH_GAP])
        label = np.empty(self.time.size, int)
        label[order] = np.cumsum(new) - 1
        return label

    def sparse(self, n_epochs: int, rng: np.random.Generator) -> "Star | None":
        """The star on ``n_epochs`` of its epochs drawn at random; None if it has fewer."""
        label = self.epochs()
        if label.max() + 1 < n_epochs:
            return None
        keep = np.isin(label, rng.choice(label.max() + 1, n_epochs, replace=False))
        return dataclasses.replace(self, time=self.time[keep], mag=self.mag[keep],
                                   err=self.err[keep], band=self.band[keep])


def read_stars(model, per_group: int, seed: int, splits=("test",), baseline_split: str | None = None,
               groups=tuple(g[1] for g in GROUPS)) -> dict[str, dict[str, list[Star]]]:
    """Per split, up to ``per_group`` stars per group (Catalina: per class), from the readers;
    with ``baseline_split`` also :data:`BASELINE_PER_CLASS` Catalina stars per class of it."""
    latents = model.latents()
    star_split = latents.groupby("star")["split"].first()
    teff = latents.groupby("star")["teff"].first()
    root = DataRoot(paths.data_root())
    registry = {s.key: s for s in SURVEYS}
    wanted = {split: per_group for split in splits}
    out = {split: {} for split in [*splits, *([baseline_split] if baseline_split else [])]}
    abs_i = lmc_abs_i() if any(g[3] == "abs_mag" and g[1] in groups for g in GROUPS) else {}
    for index, (key, label, band, measures) in enumerate(GROUPS):
        if label not in groups:
            continue
        rng = np.random.default_rng([seed, index])  # the same stars whichever groups run
        counts = {**wanted, **({baseline_split: BASELINE_PER_CLASS}
                               if baseline_split and key == "catalina_sss" else {})}
        curves = defaultdict(list)
        for lc in registry[key].read(root):
            if (lc.read_problem or lc.time.size == 0 or star_split.get(lc.star_key) not in counts
                    or (band is not None and lc.band != band)):
                continue
            curves[lc.star_key].append(lc)
        for split, n in counts.items():
            by_class = defaultdict(list)
            for star_key, lcs in curves.items():
                if star_split[star_key] != split:
                    continue
                first = lcs[0]
                m_i = abs_i.get(star_id(star_key), (np.nan, np.nan))
                truth = {"teff": teff.get(star_key, np.nan), "abs_mag": m_i[0]}
                if measures and not np.isfinite(truth[measures]):
                    continue
                star = Star(star_key, first.cls, first.subtype, first.period, float(truth["teff"]),
                            *(np.concatenate([getattr(lc, a) for lc in lcs]) for a in ("time", "mag", "err")),
                            np.concatenate([[lc.band] * lc.time.size for lc in lcs]).astype(object),
                            *m_i)
                by_class[star.cls if key == "catalina_sss" else "all"].append(star)
            out[split][label] = [members[i] for _, members in sorted(by_class.items())
                                 for i in rng.permutation(len(members))[:n]]
    return out


def lmc_abs_i() -> dict[str, tuple[float, float]]:
    """M_I and its uncertainty by OGLE-III ID for the catalogue's LMC stars with a mean V and I
    (:func:`pelsvae_core.data.calibration.lmc_parameters`)."""
    catalogue = read_ogle3_catalogue(paths.data_root() / "ogle3_catalog")
    catalogue = catalogue[catalogue.index.str.startswith("OGLE-LMC")]
    derived = lmc_parameters(catalogue["V"].to_numpy(), catalogue["I"].to_numpy()).abs_i
    return {name: (float(v), float(s)) for name, v, s, ok in
            zip(catalogue.index, derived.value, derived.sigma, derived.ok) if ok}


def features(star: Star) -> np.ndarray:
    """Fourier features of the usual classifier (Richards et al. 2011): log period (highest
    Lomb-Scargle peak), first amplitude, R21, R31, phi21, phi31, skewness, and the scatter
    over the median error; one band (the curve's own)."""
    period = search_period(star.time, star.mag, star.err, min_period=0.05).period
    phase = np.mod(star.time / period, 1.0)
    coeffs = fourier.fit(phase, star.mag, star.err, 4)
    amp, _ = fourier.amplitudes_phases(coeffs)
    p = fourier.fourier_parameters(coeffs)
    return np.nan_to_num(np.array([math.log10(period), amp[0], p["R21"], p["R31"], p["phi21"],
                                   p["phi31"], stats.skew(star.mag),
                                   np.std(star.mag) / np.median(star.err)]))


def baseline(train: list[Star], seed: int) -> RandomForestClassifier:
    """The random forest on :func:`features` of training-split curves."""
    x = np.array([features(s) for s in train])
    return RandomForestClassifier(n_estimators=300, random_state=seed).fit(x, [s.cls for s in train])


def share(values: list) -> str:
    return f"{100 * np.mean(values):.0f}% ({len(values)})" if values else "-"


def per_class(row: dict[str, list]) -> None:
    """Accuracy per true class, of the inference and of the random forest."""
    truth = np.array(row["true_class"])
    lines = []
    for cls in sorted(set(truth)):
        mine = np.array(row["class_ok"])[truth == cls]
        forest = np.array(row["baseline_ok"])[truth == cls] if row["baseline_ok"] else []
        lines.append(f"{cls} {share(list(mine))} / RF {share(list(forest))}")
    print("  class accuracy per true class (inference / random forest): " + "; ".join(lines))


def run(model, stars: dict[str, list[Star]], versions: list[int | None], forest, seed: int) -> pd.DataFrame:
    rows = []
    latents = model.latents()
    for label, members in stars.items():
        in_class = latents["cls"].isin({s.cls for s in members})
        prior_sd = latents[(latents["split"] == "train") & in_class]["teff"].std()
        prior_m_sd = latents[(latents["split"] == "train") & in_class]["abs_mag"].std()
        for version in versions:
            row, rng = defaultdict(list), np.random.default_rng(seed)
            for star in members:
                star = star if version is None else star.sparse(version, rng)
                if star is None:
                    continue
                started, cpu = time.perf_counter(), time.process_time()
                at_lmc = np.isfinite(star.abs_mag)
                try:
                    found = analyse(model, star.time, star.mag, star.err, band=star.band,
                                    distance_pc=LMC_DISTANCE_PC if at_lmc else None)
                except ValueError as error:
                    print(f"  {star.key}: {error}")
                    row["failed"].append(star.key)
                    continue
                row["cpu"].append(time.process_time() - cpu)
                row["wall"].append(time.perf_counter() - started)
                r = found.result
                ok = abs(r["period"] / star.period - 1) < 0.01
                row["period_ok"].append(ok)
                if star.cls in PERIOD_CLASSES and star.epochs().max() + 1 >= PERIOD_MIN_EPOCHS:
                    row["period_target"].append(ok)
                interval = r["period_interval"]
                row["period_covered"].append(interval["p16"] <= star.period <= interval["p84"])
                row["class_ok"].append(r["class"] == star.cls)
                row["true_class"].append(star.cls)
                row["class_prob"].append(r["class_probabilities"][r["class"]])
                if forest is not None and label.startswith("Catalina"):
                    row["baseline_ok"].append(forest.predict(features(star)[None])[0] == star.cls)
                if star.cls == "RRLYR" and star.subtype in ("RRab", "RRc") and r["subtype"]:
                    row["mode_ok"].append(r["subtype"] == star.subtype)
                if np.isfinite(star.teff) and r["teff"] is not None:
                    lo95, hi95 = found.teff_quantiles([0.025, 0.975])
                    row["teff_68"].append(r["teff"]["p16"] <= star.teff <= r["teff"]["p84"])
                    row["teff_95"].append(lo95 <= star.teff <= hi95)
                    row["teff_error"].append(r["teff"]["median"] - star.teff)
                if at_lmc and r["abs_mag"] is not None:
                    error = r["abs_mag"]["median"] - LMC_A_I - star.abs_mag
                    sigma = math.hypot((r["abs_mag"]["p84"] - r["abs_mag"]["p16"]) / 2, star.abs_mag_sigma)
                    row["m_68"].append(abs(error) <= sigma)
                    row["m_95"].append(abs(error) <= 1.96 * sigma)
                    row["m_error"].append(error)
            if len(set(row["true_class"])) > 1:
                per_class(row)
            rows.append({
                "group": label, "epochs": "all" if version is None else version,
                "stars": len(row["cpu"]), "failed": len(row["failed"]),
                "period 1%": share(row["period_ok"]), "RR/CEP >=60 ep": share(row["period_target"]),
                "P in 16-84": share(row["period_covered"]),
                "class": share(row["class_ok"]),
                "mean p(class)": f"{np.mean(row['class_prob']):.2f}" if row["class_prob"] else "-",
                "RF baseline": share(row["baseline_ok"]), "RRab/RRc": share(row["mode_ok"]),
                "Teff 16-84": share(row["teff_68"]), "Teff 2.5-97.5": share(row["teff_95"]),
                "Teff RMS / prior sd": (f"{np.sqrt(np.mean(np.square(row['teff_error']))):.0f} / "
                                        f"{prior_sd:.0f} K" if row["teff_error"] else "-"),
                "M_I 16-84": share(row["m_68"]), "M_I 2.5-97.5": share(row["m_95"]),
                "M_I bias, RMS / prior sd": (
                    f"{np.mean(row['m_error']):+.3f}, {np.sqrt(np.mean(np.square(row['m_error']))):.3f} / "
                    f"{prior_m_sd:.2f} mag" if row["m_error"] else "-"),
                "CPU s/star": f"{np.median(row['cpu']):.2f}" if row["cpu"] else "-",
                "wall s/star": f"{np.median(row['wall']):.2f}" if row["wall"] else "-",
            })
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def fit_mode_boundary() -> None:
    """Refit :data:`pelsvae_core.inference.posterior.RRC_LOGIT` on the OGLE-III catalogue."""
    catalogue = read_ogle3_catalogue(paths.data_root() / "ogle3_catalog")
    rr = catalogue[(catalogue["Type"] == "RRLyr") & catalogue["Subtype"].isin(["RRab", "RRc"])
                   & (catalogue["R21_1"] > 0) & (catalogue["P_1"] > 0)]
    x = np.column_stack([np.log10(rr["P_1"]), rr["R21_1"]])
    y = (rr["Subtype"] == "RRc").to_numpy()
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(x, y)
    print(f"{len(y)} OGLE-III RRab/RRc stars; logit P(RRc) = {fit.intercept_[0]:.3f} "
          f"{fit.coef_[0, 0]:+.3f} log10 P {fit.coef_[0, 1]:+.3f} R21; agreement "
          f"{100 * (fit.predict(x) == y).mean():.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--per-group", type=int, default=40,
                        help="stars per group (Catalina: per class)")
    parser.add_argument("--sparse", default="60,30", help="epoch counts of the sparse versions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the random forest")
    parser.add_argument("--groups", default=",".join(g[1] for g in GROUPS),
                        help="comma-separated group labels to run (default: all)")
    parser.add_argument("--fit-mode-boundary", action="store_true")
    args = parser.parse_args()
    if args.fit_mode_boundary:
        fit_mode_boundary()
        return
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        model = load_model()
        groups = tuple(args.groups.split(","))
        with_forest = not args.no_baseline and "Catalina V_CSS" in groups
        stars = read_stars(model, args.per_group, args.seed, (args.split,),
                           "train" if with_forest else None, groups)
        forest = baseline(stars["train"]["Catalina V_CSS"], args.seed) if with_forest else None
        versions = [None] + [int(v) for v in args.sparse.split(",") if v]
        table = run(model, stars[args.split], versions, forest, args.seed)
    print()
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
