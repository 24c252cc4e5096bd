"""The inverse problem measured on real stars the model never trained on (issue 17, point 3).

Real, unfolded curves are read with the survey readers, and the stars of the model's test
split kept (``split="val"``: the validation split, the one to tune on), in four groups
(:data:`GROUPS`): SDSS Stripe 82 RR Lyrae (u, g, r, i, z fitted together) and OGLE-IV bulge
RR Lyrae (I, the paper's band; Teff from each star's own minimum-light reddening) among the
stars with a known Teff, OGLE-III LMC Cepheids (I) among those with a catalogue mean V and I, and
Catalina SSS stars (V_CSS; class and RR Lyrae mode known) drawn per class, so the class mix
is balanced, not the survey's. Each star is inferred (:func:`pelsvae_core.inference.analyse`)
on its whole curve and on sparse versions, that many epochs drawn at random from its own
(points within :data:`EPOCH_GAP` days are one epoch, all bands of a drawn epoch kept): how
much a survey like Gaia can tell. Measured per group and version (:func:`calibrate`):

* period within 1 % of the catalogue's (all, and RR Lyrae and Cepheids with at least
  :data:`PERIOD_MIN_EPOCHS` epochs: the issue's target, 95 %), the share inside the 16-84 %
  period interval, and the median of |P - P_catalogue| / sigma (sigma: half the interval)
  where the period is right. The catalogue periods are estimates from the same kind of data
  whose errors the catalogues do not give: were they exact, a calibrated interval would give
  a median of 0.67 and a share of 68 %; were they as uncertain as ours, 0.95 and 52 %. So
  each whole curve is also inferred on its two halves (cut at the median time: independent
  data of one star), and where both find the period, the share of stars whose halves agree
  within their intervals' half widths together, |P_a - P_b| / sqrt(sigma_a^2 + sigma_b^2)
  < 1 (calibrated: 68 %, median 0.67), whatever the catalogue's errors; and for the
  star's periodic twin (:func:`periodic_twin`: the whole curve's best fit at the same
  times, with noise as large as the fit's errors and jitter), whose period is known
  exactly, the share whose whole curve's 16-84 % interval holds it (:func:`twin_covered`)
  and the same halves check: the intervals' own calibration on these cadences, told from
  what real stars add (a period that changes, a wandering phase, a shape the model misses).
  The halves check is also split by the whole curve's O-C diagram
  (:func:`pelsvae_core.inference.fit.o_minus_c`): stars whose seasonal phase shifts lie on a
  line within their errors (a constant period: probability above :data:`CONSTANT_PERIOD_P`)
  and stars whose phase wanders (no constant period explains their seasons' phases), each
  beside its own stars' twins, paired star by star: the twins keep the cadences and the noise
  and lose the wander, so where they agree as a calibrated interval should and the real halves
  agree less often, the cadences and the noise are not what the halves disagree by. The twins'
  own O-C verdicts are counted too: a 1 % test should call about 1 % of strictly periodic
  twins wandering;
* class accuracy, beside a random forest on Fourier features of the same curves (the usual
  baseline: Richards et al. 2011, ApJ 733, 10) trained on training-split curves of the same
  survey, and per true class, also without the stars whose catalogue period lies outside their
  class's limits (:func:`pelsvae_core.data.relations.outside_class_periods`: a type II
  Cepheid at 0.5 d), whose label or period is doubtful; the mean top class probability
  (calibrated when it equals the accuracy), and the count right against the count the
  probabilities promise, in standard deviations of a Poisson binomial (:func:`class_calibration`);
* RRab/RRc accuracy where the survey gives the mode (target 90 %), and the other classes'
  subtypes (Cepheid F/1O, eclipsing EA/EB/EW) where the survey gives them, both among the
  stars whose class was right;
* Teff: coverage of the 16-84 % and 2.5-97.5 % intervals (targets 68 +- 5 % and 95 +- 3 %), and
  the RMS error of the median against the prior's spread (the training stars' std);
* LMC Cepheids, absolute magnitude M_I: inferred at the LMC distance (Pietrzynski et al. 2019,
  :data:`~pelsvae_core.data.calibration.LMC_DISTANCE_MODULUS`), the mean LMC extinction
  A_I = R_I E(B-V) (:data:`~pelsvae_core.data.calibration.OGLE_WESENHEIT_R` times
  :data:`~pelsvae_core.data.calibration.LMC_MEAN_REDDENING`; inference corrects none) taken
  off, against the star's M_I from the OGLE-III catalogue's intensity-mean V and I
  (:func:`~pelsvae_core.data.calibration.lmc_parameters`): the bias and RMS of the
  difference. No coverage: the catalogue value is computed with the same distance and
  reddening the inference is given, so the difference is our intensity-mean magnitude against
  OGLE's alone, and a coverage counted with the LMC's depth and reddening spread (as it was)
  held every star whatever the fit (100 % of 20, RMS 0.00 mag) and could not fail;
* CPU and wall seconds per star (medians).
"""
from __future__ import annotations

import dataclasses
import math
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.ensemble import RandomForestClassifier
from tqdm.auto import tqdm

from .. import fourier
from ..data.calibration import LMC_DISTANCE_MODULUS, LMC_MEAN_REDDENING, OGLE_WESENHEIT_R, lmc_parameters
from ..data.relations import outside_class_periods
from ..data.subtypes import UNKNOWN
from ..data.surveys import SURVEYS, DataRoot
from ..inference import analyse
from ..periodogram import is_recovered, search_period

#: Survey registry key, group label, band kept (None: every band, fitted together), and the
#: parameter it measures (only stars that have it are drawn), or None.
GROUPS = (("sdss_s82_rrlyrae", "SDSS RRLYR ugriz", None, "teff"),
          ("ogle4_blg_rrlyr", "OGLE-IV RRLYR I", "I", "teff"),
          ("ogle3_lmc_cep", "OGLE CEP I", "I", "abs_mag"),
          ("catalina_sss", "Catalina V_CSS", "V_CSS", None))
#: The group whose training stars train the random-forest baseline (one band, classes mixed).
BASELINE_GROUP = "Catalina V_CSS"
#: The LMC's distance in parsecs, and the mean LMC extinction in I (module docstring).
LMC_DISTANCE_PC = 10 ** (LMC_DISTANCE_MODULUS.value / 5 + 1)
LMC_A_I = OGLE_WESENHEIT_R.value * LMC_MEAN_REDDENING.value
#: The issue's period target applies to these classes with at least this many epochs.
PERIOD_CLASSES, PERIOD_MIN_EPOCHS = ("RRLYR", "CEP"), 60
#: Epochs closer than this (days) are one epoch (SDSS observes u, g, r, i, z within minutes).
EPOCH_GAP = 0.1
#: Training curves per class for the random-forest baseline.
BASELINE_PER_CLASS = 150
#: Epoch counts of the sparse versions.
SPARSE_EPOCHS = (60, 30)
#: The groups whose stars have a known Teff (the model's training-set Teff: the RR Lyrae's and
#: the LMC Cepheids'), on which Teff intervals are measured and recalibrated.
TEFF_GROUPS = ("SDSS RRLYR ugriz", "OGLE-IV RRLYR I", "OGLE CEP I")
#: Targets of the issue: share of periods within 1 %, RRab/RRc accuracy, and the coverage of
#: the Teff 68 % and 95 % intervals and of the period 68 % intervals (by halves and twins,
#: :func:`halves_z`) with their tolerances.
PERIOD_TARGET, MODE_TARGET = 0.95, 0.90
COVERAGE_TARGETS = {"teff_68": (0.68, 0.05), "teff_95": (0.95, 0.03),
                    "period_twin_in_68": (0.68, 0.05), "period_halves_68": (0.68, 0.05),
                    "period_twin_68": (0.68, 0.05), "period_halves_constant_68": (0.68, 0.05),
                    "period_twin_constant_68": (0.68, 0.05)}
#: Below this probability of its O-C diagram under a constant period (a 1 % test), a star's
#: phase wanders (:attr:`pelsvae_core.inference.fit.Fit.constant_period_p`).
CONSTANT_PERIOD_P = 0.01


@dataclass
class Star:
    """One real star's unfolded curve (all its bands in the group) and what is known of it."""

    key: str
    cls: str
    subtype: str
    period: float
    teff: float
    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    band: np.ndarray
    abs_mag: float = float("nan")  # M_I from the catalogue (LMC Cepheids)

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


def read_stars(model, root, per_group: int, seed: int, splits=("test",),
               baseline_split: str | None = None, groups=tuple(g[1] for g in GROUPS)
               ) -> dict[str, dict[str, list[Star]]]:
    """Per split, up to ``per_group`` stars per group (Catalina: per class) from the data root
    ``root``, the same stars whichever groups are read; with ``baseline_split`` also
    :data:`BASELINE_PER_CLASS` stars per class of :data:`BASELINE_GROUP` from that split."""
    latents = model.latents()
    star_split = latents.groupby("star")["split"].first()
    teff = latents.groupby("star")["teff"].first()
    data = DataRoot(root)
    registry = {s.key: s for s in SURVEYS}
    out = {split: {} for split in [*splits, *([baseline_split] if baseline_split else [])]}
    abs_i = lmc_abs_i(data) if any(g[3] == "abs_mag" and g[1] in groups for g in GROUPS) else {}
    for index, (key, label, band, measures) in enumerate(GROUPS):
        if label not in groups:
            continue
        rng = np.random.default_rng([seed, index])
        counts = {**{split: per_group for split in splits},
                  **({baseline_split: BASELINE_PER_CLASS} if baseline_split and label == BASELINE_GROUP
                     else {})}
        curves = defaultdict(list)
        for lc in registry[key].read(data):
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
                truth = {"teff": teff.get(star_key, np.nan), "abs_mag": abs_i.get(first.star_id, np.nan)}
                if measures and not np.isfinite(truth[measures]):
                    continue
                star = Star(star_key, first.cls, first.subtype, first.period, float(truth["teff"]),
                            *(np.concatenate([getattr(lc, a) for lc in lcs]) for a in ("time", "mag", "err")),
                            np.concatenate([[lc.band] * lc.time.size for lc in lcs]).astype(object),
                            truth["abs_mag"])
                by_class[star.cls if label == BASELINE_GROUP else "all"].append(star)
            out[split][label] = [members[i] for _, members in sorted(by_class.items())
                                 for i in rng.permutation(len(members))[:n]]
    return out


def lmc_abs_i(data: DataRoot) -> dict[str, float]:
    """M_I by OGLE-III ID for the catalogue's LMC stars with a mean V and I
    (:func:`pelsvae_core.data.calibration.lmc_parameters`)."""
    catalogue = data.ogle3_catalogue
    catalogue = catalogue[catalogue.index.str.startswith("OGLE-LMC")]
    derived = lmc_parameters(catalogue["V"].to_numpy(), catalogue["I"].to_numpy()).abs_i
    return {name: float(v) for name, v, ok in zip(catalogue.index, derived.value, derived.ok) if ok}


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


def _fraction(values: list) -> tuple[float | None, int]:
    """The share of true values (None without any) and how many there are."""
    return _summary(np.mean, values), len(values)


def _summary(statistic, values: list) -> float | None:
    """``statistic`` of ``values`` as a float, or None without any (JSON-ready)."""
    return float(statistic(values)) if len(values) else None


def class_calibration(right: list[bool], top_probability: list[float],
                      stars: list[str] | None = None) -> dict:
    """How many classes were right against how many the top probabilities promised: were
    they calibrated, the count right is a sum of independent Bernoulli trials of those
    probabilities (a Poisson binomial), of mean sum p and variance sum p (1 - p). Returns
    ``class_right``, ``class_expected`` and ``class_expected_var`` (None without curves), so
    rows can be pooled and a shortfall read in standard deviations, not by eye; with the
    curves' ``stars``, also ``class_residual_by_star``, each star's right - p summed over its
    curves: a star inferred whole and on its sparse versions enters several rows, and pooling
    the rows as if those curves were independent trials understates the spread
    (:func:`pelsvae_core.evaluation.report.class_calibration_line` pools by star)."""
    p = np.clip(np.asarray(top_probability, float), 0.0, 1.0)  # sums may round past 1
    if not p.size:
        return {"class_right": None, "class_expected": None, "class_expected_var": None,
                "class_residual_by_star": None}
    by_star = None
    if stars is not None:
        by_star = defaultdict(float)
        for star, ok, p_top in zip(stars, right, p):
            by_star[star] += float(ok) - float(p_top)
        by_star = dict(by_star)
    return {"class_right": float(np.sum(right)), "class_expected": float(p.sum()),
            "class_expected_var": float((p * (1 - p)).sum()), "class_residual_by_star": by_star}


def _rms(values) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def curve_versions(members: list[Star], version: int | None, seed: int):
    """Each star whole (``version`` None) or on ``version`` of its epochs (None where it has
    fewer), drawn with one generator of ``seed`` per version: the same draws in every measure."""
    rng = np.random.default_rng(seed)
    for star in members:
        yield star if version is None else star.sparse(version, rng)


def calibrate(model, stars: dict[str, list[Star]], versions, forest, seed: int,
              progress: bool = False) -> dict[str, list[dict]]:
    """Every measure of the module docstring per group and version (``None``: the whole
    curve; an int: that many epochs): ``rows``, one dict per group and version, each share as
    ``<name>`` (None without cases) and ``<name>_n``; ``per_class``, class accuracy per true
    class where a group mixes classes."""
    rows, per_class = [], []
    latents = model.latents()
    bar = tqdm(total=sum(len(m) for m in stars.values()) * len(versions), desc="inference",
               unit="curve", disable=not progress, leave=False)
    for label, members in stars.items():
        train = latents[(latents["split"] == "train") & latents["cls"].isin({s.cls for s in members})]
        for version in versions:
            row = defaultdict(list)
            for star in curve_versions(members, version, seed):
                bar.update()
                if star is None:
                    continue
                _measure(model, star, forest if label == BASELINE_GROUP else None, row,
                         halves=version is None)
            out = {"group": label, "epochs": "all" if version is None else version,
                   "stars": len(row["cpu"]), "failed": len(row["failed"])}
            for name in ("period_1pct", "period_target", "period_in_68", "period_twin_in_68",
                         "period_halves_68", "period_halves_constant_68", "period_halves_wander_68",
                         "period_twin_68", "period_twin_constant_68", "period_twin_wander_68",
                         "period_twin_wanders", "class", "baseline_class", "mode", "subtype",
                         "teff_68", "teff_95"):
                out[name], out[name + "_n"] = _fraction(row[name])
            pairs = np.array(row["period_wander_pairs"], dtype=bool).reshape(-1, 2)
            out.update(period_wander_only_real=int((pairs[:, 0] & ~pairs[:, 1]).sum()),
                       period_wander_only_twin=int((~pairs[:, 0] & pairs[:, 1]).sum()),
                       period_median_z=_summary(np.median, row["period_z"]),
                       period_halves_median_z=_summary(np.median, row["period_halves_z"]),
                       mean_class_probability=_summary(np.mean, row["class_prob"]),
                       **class_calibration(row["class"], row["class_prob"], row["class_star"]),
                       teff_rms=_summary(_rms, row["teff_error"]), teff_prior_sd=float(train["teff"].std()),
                       abs_mag_bias=_summary(np.mean, row["m_error"]), abs_mag_rms=_summary(_rms, row["m_error"]),
                       abs_mag_prior_sd=float(train["abs_mag"].std()),
                       cpu_s=_summary(np.median, row["cpu"]), wall_s=_summary(np.median, row["wall"]))
            rows.append(out)
            truth = np.array(row["true_class"])
            for cls in sorted(set(truth)) if len(set(truth)) > 1 else []:
                mine = np.array(row["class"])[truth == cls]
                forest_ok = np.array(row["baseline_class"])[truth == cls] if row["baseline_class"] else None
                doubtful = np.array(row["doubtful"])[truth == cls]
                per_class.append({"group": label, "epochs": out["epochs"], "class": cls,
                                  "n": int(mine.size), "doubtful": int(doubtful.sum()),
                                  **_accuracies(mine, forest_ok, np.ones_like(doubtful), ""),
                                  **_accuracies(mine, forest_ok, ~doubtful, "_consistent")})
    bar.close()
    return {"rows": rows, "per_class": per_class}


def _accuracies(mine: np.ndarray, forest_ok: np.ndarray | None, keep: np.ndarray, suffix: str) -> dict:
    """``inference<suffix>`` and ``baseline<suffix>``: the shares right among the curves ``keep``
    marks (None without curves or without the forest)."""
    return {f"inference{suffix}": _summary(np.mean, mine[keep]),
            f"baseline{suffix}": None if forest_ok is None else _summary(np.mean, forest_ok[keep])}


def _measure(model, star: Star, forest, row: dict, halves: bool = False) -> None:
    """Infer one star and append what :func:`calibrate` counts to ``row`` (``halves``: also
    its two halves' periods against each other, :func:`halves_z`)."""
    started, cpu = time.perf_counter(), time.process_time()
    at_lmc = np.isfinite(star.abs_mag)
    try:
        found = analyse(model, star.time, star.mag, star.err, band=star.band,
                        distance_pc=LMC_DISTANCE_PC if at_lmc else None)
    except ValueError:
        row["failed"].append(star.key)
        return
    row["cpu"].append(time.process_time() - cpu)
    row["wall"].append(time.perf_counter() - started)
    r = found.result
    ok = is_recovered(r["period"], star.period)
    row["period_1pct"].append(ok)
    if star.cls in PERIOD_CLASSES and star.epochs().max() + 1 >= PERIOD_MIN_EPOCHS:
        row["period_target"].append(ok)
    interval = r["period_interval"]
    row["period_in_68"].append(interval["p16"] <= star.period <= interval["p84"])
    if ok:  # the error in units of the interval's half width, for the right period only
        row["period_z"].append(abs(r["period"] - star.period) / max((interval["p84"] - interval["p16"]) / 2, 1e-300))
    if halves and ok:
        _period_checks(model, star, found, row)
    row["class"].append(r["class"] == star.cls)
    row["class_star"].append(star.key)
    row["true_class"].append(star.cls)
    row["doubtful"].append(bool(outside_class_periods(star.cls, star.period)[0]))
    row["class_prob"].append(r["class_probabilities"][r["class"]])
    if forest is not None:
        row["baseline_class"].append(forest.predict(features(star)[None])[0] == star.cls)
    if r["class"] == star.cls and r["subtype"] and star.subtype != UNKNOWN:
        row["mode" if star.cls == "RRLYR" else "subtype"].append(r["subtype"] == star.subtype)
    if np.isfinite(star.teff) and r["teff"] is not None:
        lo95, hi95 = found.teff_quantiles([0.025, 0.975])
        row["teff_68"].append(r["teff"]["p16"] <= star.teff <= r["teff"]["p84"])
        row["teff_95"].append(lo95 <= star.teff <= hi95)
        row["teff_error"].append(r["teff"]["median"] - star.teff)
    if at_lmc and r["abs_mag"] is not None:
        row["m_error"].append(r["abs_mag"]["median"] - LMC_A_I - star.abs_mag)


def _period_checks(model, star: Star, found, row: dict) -> None:
    """The period intervals' checks without the catalogue, appended to ``row``: the periodic
    twin's whole curve against its own period and its O-C verdict; the star's two halves
    against each other and its twin's, each also under the star's own O-C verdict, and for a
    wandering star the pair (its halves agree, its twin's agree)."""
    twin = periodic_twin(found, star, np.random.default_rng(zlib.crc32(star.key.encode())))
    if (twin_found := twin_covered(model, twin, found.best.period)) is not None:
        covered, twin_constant_p = twin_found
        row["period_twin_in_68"].append(covered)
        if (twin_kind := o_c_verdict(twin_constant_p)) is not None:
            row["period_twin_wanders"].append(twin_kind == "wander")
    if (z := halves_z(model, star)) is None:
        return
    kind = o_c_verdict(found.best.constant_period_p)
    row["period_halves_z"].append(z)
    row["period_halves_68"].append(z < 1)
    if kind:
        row[f"period_halves_{kind}_68"].append(z < 1)
    if (twin_z := halves_z(model, twin)) is None:
        return
    row["period_twin_68"].append(twin_z < 1)
    if kind:  # the same cadences and noise with a constant period: the control
        row[f"period_twin_{kind}_68"].append(twin_z < 1)
    if kind == "wander":
        row["period_wander_pairs"].append((z < 1, twin_z < 1))


def periodic_twin(found, star: Star, rng: np.random.Generator) -> Star:
    """``star`` with its magnitudes replaced by the best fit ``found`` on its whole curve
    (:class:`pelsvae_core.inference.Inference`) at the same times, in each band, plus
    Gaussian noise of the quoted errors and the fit's jitter in quadrature: a strictly
    periodic star the model can draw exactly, observed as the real one was."""
    mag = np.empty_like(star.mag)
    for b, band in enumerate(found.best.bands):
        here = star.band == band
        sigma = np.hypot(star.err[here], found.best.jitter[b])
        mag[here] = found.curve(star.time[here], band) + rng.normal(0.0, sigma)
    return dataclasses.replace(star, mag=mag)


def o_c_verdict(constant_p: float) -> str | None:
    """"constant" where a constant period explains a fit's O-C diagram (probability above
    :data:`CONSTANT_PERIOD_P`), "wander" where it does not, None without a diagram (NaN)."""
    if not np.isfinite(constant_p):
        return None
    return "constant" if constant_p > CONSTANT_PERIOD_P else "wander"


def twin_covered(model, twin: Star, period: float) -> tuple[bool, float] | None:
    """Whether the 16-84 % period interval inferred from the whole curve of a periodic twin
    (:func:`periodic_twin`) holds the period it was made with: the intervals' coverage where
    the truth is known exactly; and the probability that a constant period explains the twin's
    own O-C diagram (:attr:`pelsvae_core.inference.fit.Fit.constant_period_p`: a calibrated
    test calls 1 % of such twins wandering at :data:`CONSTANT_PERIOD_P`). None where the
    inference refuses the curve."""
    try:
        found = analyse(model, twin.time, twin.mag, twin.err, band=twin.band)
    except ValueError:
        return None
    interval = found.result["period_interval"]
    return interval["p16"] <= period <= interval["p84"], found.best.constant_period_p


def halves_z(model, star: Star) -> float | None:
    """|P_a - P_b| / sqrt(sigma_a^2 + sigma_b^2) of the periods inferred from the star's two
    halves (cut at the median time; sigma: half the 16-84 % interval); None unless both find
    the catalogue period within 1 %."""
    cut = np.median(star.time)
    found = []
    for part in (star.time <= cut, star.time > cut):
        try:
            interval = analyse(model, star.time[part], star.mag[part], star.err[part],
                               band=star.band[part]).result["period_interval"]
        except ValueError:
            return None
        if not is_recovered(interval["median"], star.period):
            return None
        found.append((interval["median"], (interval["p84"] - interval["p16"]) / 2))
    (p_a, s_a), (p_b, s_b) = found
    return abs(p_a - p_b) / max(math.hypot(s_a, s_b), 1e-300)


def inference_calibration(model, root, per_group: int, sparse=SPARSE_EPOCHS, seed: int = 0,
                          split: str = "test", groups=tuple(g[1] for g in GROUPS),
                          with_baseline: bool = True, progress: bool = False) -> dict:
    """:func:`calibrate` on ``per_group`` stars per group of ``split`` read from ``root``,
    whole and at each epoch count of ``sparse``, with the random-forest baseline where its
    group runs: the ``rows`` and ``per_class`` of :func:`calibrate` and the settings."""
    with_forest = with_baseline and BASELINE_GROUP in groups
    stars = read_stars(model, root, per_group, seed, (split,), "train" if with_forest else None, groups)
    train = stars.get("train", {}).get(BASELINE_GROUP, [])
    forest = baseline(train, seed) if with_forest and len({s.cls for s in train}) > 1 else None
    result = calibrate(model, stars[split], [None, *sparse], forest, seed, progress)
    return {**result, "split": split, "per_group": per_group, "seed": seed,
            "baseline_curves": len(train) if forest is not None else 0,
            "teff_recalibration": recalibration_summary(model.inference_calibration())}


def recalibration_summary(content: dict | None) -> dict | None:
    """What the report says of the model's Teff recalibration (:mod:`pelsvae_core.inference.
    recalibration`): its split, and per class its curves and held-out coverage; None without one."""
    if content is None:
        return None
    return {"split": content["split"], "per_group": content["per_group"],
            "classes": {cls: {k: entry[k] for k in ("curves", "stars", "raw_coverage", "held_out_coverage",
                                                            "applied")}
                        for cls, entry in content["teff"].items()}}


def teff_pits(model, root, per_group: int, seed: int = 0, split: str = "val",
              sparse=SPARSE_EPOCHS, progress: bool = False) -> list[dict]:
    """The raw Teff posterior's PIT value at the true Teff (:meth:`pelsvae_core.inference.
    Inference.teff_pit`) of ``per_group`` stars of ``split`` per group of :data:`TEFF_GROUPS`,
    whole and at each epoch count of ``sparse``: what :func:`pelsvae_core.inference.
    recalibration.fit` fits its maps on. One dict per curve (``cls``, the inferred class;
    ``star``; ``group``; ``epochs``; ``pit``); curves that cannot be inferred are left out."""
    stars = read_stars(model, root, per_group, seed, (split,), None, TEFF_GROUPS)[split]
    versions = [None, *sparse]
    out = []
    bar = tqdm(total=sum(map(len, stars.values())) * len(versions), desc="Teff PIT",
               unit="curve", disable=not progress, leave=False)
    for label, members in stars.items():
        for version in versions:
            for star in curve_versions(members, version, seed):
                bar.update()
                if star is None or not np.isfinite(star.teff):
                    continue
                try:
                    found = analyse(model, star.time, star.mag, star.err, band=star.band)
                except ValueError:
                    continue
                pit = found.teff_pit(star.teff)
                if pit is not None:
                    out.append({"cls": found.result["class"], "star": star.key, "group": label,
                                "epochs": "all" if version is None else version, "pit": pit})
    bar.close()
    return out
