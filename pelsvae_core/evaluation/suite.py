"""``pelsvae evaluate``: how real are the generated curves? Measured on real test stars.

1. reconstruction RMSE per class, against a per-class median template and Fourier fits;
2. physics -> curve error: each test star's curve generated from its own parameters,
   against the template and against the training curves nearest in period (what the period
   alone can tell), in normalised units and in magnitudes;
3. a classifier two-sample test per class (real vs generated at the same parameters,
   observed at the same phases with the same errors; 0.5 = indistinguishable);
4. train on synthetic, test on real: a class classifier trained on generated curves only;
5. the RR Lyrae morph against the real Stripe 82 stars (R21, phi31, skewness);
6. cadence invariance, and memorisation (distance to the nearest training curve);
7. timing of generating 100 curves end to end.
Curves are compared as features: a Fourier fit of order 6 to the observed points,
evaluated on 50 phases, so real and generated curves go through the same pipeline.

This module measures; :mod:`.report` writes the numbers as Markdown (for the CLI's
report and the dashboard alike) and :mod:`.figures` draws them.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from tqdm.auto import tqdm

from .. import fourier
from ..data.dataset import TrainingSet
from ..generation import predict_latents
from ..physics.classes import PARAMETERS, physics_matrix
from ..physics.regressors import KINDS
from .morph import rr_lyrae_morph, shape_parameters
from .reconstruction import (binned_median, masked_rmse, median_templates, reconstruction_table,
                             template_values)

FEATURE_PHASES = np.linspace(0, 1, 50, endpoint=False)
FEATURE_ORDER = 6
PERIOD_NEIGHBOURS = 100  # training curves nearest in period, for the period-only reference
UNITS = ("", "_mag")  # column suffixes: normalised units, magnitudes
log = logging.getLogger(__name__)
PHYSICS_COLUMNS = ["class", "generated", "template", "period_neighbours", "generated_mag",
                   "template_mag", "period_neighbours_mag"]


def curve_features(phase: np.ndarray, mag: np.ndarray, err: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each curve as its order-6 Fourier fit on 50 phases, rescaled to [0, 1]."""
    out = np.empty((len(phase), FEATURE_PHASES.size))
    for i in range(len(phase)):
        m = mask[i]
        smooth = fourier.evaluate(fourier.fit(phase[i][m], mag[i][m], err[i][m], FEATURE_ORDER),
                                  FEATURE_PHASES)
        span = np.ptp(smooth)
        out[i] = (smooth - smooth.min()) / (span if span > 0 else 1.0)
    return out


def own_physics(model, data: TrainingSet):
    """For each curve whose class's parameters are all known and whose band the class was trained
    in: yield (row, class, its ClassPhysics, band, its parameter values)."""
    physics = physics_matrix(data)
    for i in range(len(data)):
        cls = data.classes[data.cls[i]]
        info, band = model.class_physics.get(cls), data.bands[data.band[i]]
        if info is None or band not in info.bands:
            continue
        values = {p: physics[i, PARAMETERS.index(p)] for p in info.parameters}
        if np.isfinite(list(values.values())).all():
            yield i, cls, info, band, values


def from_own_physics(model, data: TrainingSet, regressor: str, n_samples: int,
                     rng: np.random.Generator):
    """Yield (row, class, normalised curves (n_samples, L) generated at its phases from its own
    parameters, their amplitudes in magnitudes (n_samples,)) for each row of :func:`own_physics`."""
    for i, cls, info, band, values in own_physics(model, data):
        z, amplitude = predict_latents(model.physics, info, values, band, regressor, n_samples, rng)
        yield i, cls, model.decode(z, cls, data.phase[i], band=band)[0], amplitude


def generated_like(model, data: TrainingSet, regressor: str, seed: int = 0):
    """A generated curve per usable row, at the same phases with Gaussian noise of the same
    errors. Returns (rows used, magnitudes)."""
    rng = np.random.default_rng(seed)
    rows, mags = [], []
    for i, _, mag, _ in from_own_physics(model, data, regressor, 1, rng):
        rows.append(i)
        mags.append(mag[0] + rng.standard_normal(mag.shape[1]) * data.err[i])
    return np.array(rows, dtype=int), np.array(mags)


def paired_features(model, data: TrainingSet, regressor: str, seed: int = 0
                    ) -> tuple[TrainingSet, np.ndarray, np.ndarray]:
    """The rows of :func:`generated_like`, and the features of their real and of their
    generated curves, row for row."""
    rows_used, generated = generated_like(model, data, regressor, seed)
    part = data.subset(rows_used)
    return (part, curve_features(part.phase, part.mag, part.err, part.mask),
            curve_features(part.phase, generated, part.err, part.mask))


def offset_free_rmse(truth: np.ndarray, model: np.ndarray, mask: np.ndarray) -> float:
    """RMSE over real observations after removing the mean residual: the shape and amplitude
    in magnitudes, not the mean magnitude (which needs the star's distance)."""
    residual = (truth - model)[mask]
    return float(np.sqrt(np.mean((residual - residual.mean()) ** 2)))


class PeriodNeighbours:
    """The best a predictor from the period alone can do without a model: for a test star, the
    median curve and median amplitude of the ``k`` training curves of its class nearest in
    log period (a fifth of the class at most, so that small classes are not one template).
    It tells whether a class's period carries shape information at all. ``real``: the real
    (not augmented) training curves."""

    def __init__(self, real: TrainingSet, k: int = PERIOD_NEIGHBOURS):
        self.real, self.k = real, k
        self.rows = {c: np.flatnonzero(real.cls == c) for c in np.unique(real.cls)}

    def predict(self, data: TrainingSet, i: int) -> tuple[np.ndarray, float]:
        t, rows = self.real, self.rows[data.cls[i]]
        k = min(self.k, max(len(rows) // 5, 1))
        near = rows[np.argsort(np.abs(t.log_period[rows] - data.log_period[i]))[:k]]
        template = binned_median(t.phase[near][t.mask[near]], t.mag[near][t.mask[near]])
        return template_values(template, data.phase[i]), float(np.median(t.amplitude[near]))


def physics_to_curve(model, test: TrainingSet, train: TrainingSet,
                     regressors: tuple[str, ...] = KINDS) -> pd.DataFrame:
    """Per class and regressor, median over test stars of the RMSE against the real curve of:
    the median of 10 noise-free curves generated from the star's own parameters; the class's
    median template; the median curve of the training stars nearest in period
    (:class:`PeriodNeighbours`). In normalised units (shape) and in magnitudes, offset-free
    (shape times amplitude; the template and the neighbours scaled by their median amplitude).
    The references do not depend on the regressor, so they are computed once per star."""
    references = _reference_errors(model, test, train.subset(~train.augmented))
    frames = []
    for regressor in regressors:
        rows = []
        for i, cls, norm, amplitude in from_own_physics(model, test, regressor, 10, np.random.default_rng(1)):
            truth_mag = test.mag[i] * test.amplitude[i]
            rows.append({"class": cls, "generated": _star_rmse(test, i, np.median(norm, 0)),
                         "generated_mag": offset_free_rmse(truth_mag, np.median(norm * amplitude[:, None], 0),
                                                           test.mask[i]),
                         **references[i]})
        frames.append(_per_class(pd.DataFrame(rows)[PHYSICS_COLUMNS]).assign(regressor=regressor))
    return pd.concat(frames)


def _reference_errors(model, test: TrainingSet, real: TrainingSet) -> dict[int, dict[str, float]]:
    """For each test row with usable parameters, the errors of the template and of the period
    neighbours, normalised and in magnitudes. ``real``: the real training curves."""
    templates = median_templates(real)
    class_amplitude = {c: np.median(real.amplitude[real.cls == c]) for c in np.unique(real.cls)}
    neighbours = PeriodNeighbours(real)
    references = {}
    for i, *_ in own_physics(model, test):
        c, mask = test.cls[i], test.mask[i]
        template = template_values(templates[c], test.phase[i])
        near, near_amplitude = neighbours.predict(test, i)
        truth_mag = test.mag[i] * test.amplitude[i]
        references[i] = {
            "template": _star_rmse(test, i, template),
            "period_neighbours": _star_rmse(test, i, near),
            "template_mag": offset_free_rmse(truth_mag, template * class_amplitude[c], mask),
            "period_neighbours_mag": offset_free_rmse(truth_mag, near * near_amplitude, mask)}
    return references


def _star_rmse(data: TrainingSet, i: int, curve: np.ndarray) -> float:
    """RMSE of one curve of ``data`` against a prediction at its phases."""
    return float(masked_rmse(data.mag[i][None], curve[None], data.mask[i][None])[0])


def _per_class(frame: pd.DataFrame) -> pd.DataFrame:
    """Medians per class and, in each unit (normalised, and magnitudes with the suffix
    ``_mag``), :func:`paired_comparison` against the template of the generated curves and of
    the period neighbours (whether the period tells anything that a model could learn)."""
    groups = frame.groupby("class")
    summary = groups.agg(n=("generated", "size"), **{
        column: (column, "median") for column in frame.columns if column != "class"}).reset_index()
    for unit in UNITS:
        for rival, columns in (("generated", ["beats_template", "p_vs_template"]),
                               ("period_neighbours", ["neighbours_beat_template", "p_neighbours"])):
            summary[[c + unit for c in columns]] = [
                paired_comparison(part[rival + unit].to_numpy(), part["template" + unit].to_numpy())
                for _, part in groups]
    return summary


def paired_comparison(errors: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Share of stars on which ``errors`` are below ``reference``, and the two-sided p-value
    of the Wilcoxon signed-rank test of the per-star differences (Wilcoxon 1945, Biometrics
    Bull. 1, 80): whether a difference of medians is more than chance over so few stars
    (NaN under 6 stars, or when every difference is zero)."""
    differences = np.asarray(errors) - np.asarray(reference)
    share = float(np.mean(differences < 0)) if differences.size else float("nan")
    if differences.size < 6 or not np.any(differences):
        return share, float("nan")
    return share, float(wilcoxon(differences).pvalue)


def two_sample_accuracy(first: np.ndarray, second: np.ndarray, seed: int = 0) -> float:
    """Classifier two-sample test (Lopez-Paz & Oquab 2017): 5-fold accuracy of a random forest
    telling the two sets apart; 0.5 when they are indistinguishable, 1 when disjoint."""
    x = np.vstack([first, second])
    y = np.r_[np.zeros(len(first)), np.ones(len(second))]
    classifier = RandomForestClassifier(100, random_state=seed, n_jobs=1)
    return float(cross_val_score(classifier, x, y, cv=StratifiedKFold(5, shuffle=True,
                                                                        random_state=seed)).mean())


def two_sample(model, test: TrainingSet, regressor: str) -> pd.DataFrame:
    """Per class, real test curves against curves generated from the same stars' parameters."""
    part, real_x, gen_x = paired_features(model, test, regressor)
    out = []
    for c in np.unique(part.cls):
        pick = part.cls == c
        if pick.sum() >= 10:
            out.append({"class": test.classes[c], "n_real": int(pick.sum()),
                        "accuracy": two_sample_accuracy(real_x[pick], gen_x[pick])})
    return pd.DataFrame(out)


def train_synthetic_test_real(model, train: TrainingSet, test: TrainingSet, regressor: str) -> dict:
    """Class accuracy on real test curves of a classifier trained on generated vs on real curves."""
    part, real_x, synthetic_x = paired_features(model, train, regressor, seed=2)
    target = test.subset(np.array([i for i, *_ in own_physics(model, test)], dtype=int))
    test_x = curve_features(target.phase, target.mag, target.err, target.mask)
    result = {"n_train": int(len(part)), "n_test": int(len(target))}
    for name, x in (("trained_on_synthetic", synthetic_x), ("trained_on_real", real_x)):
        clf = RandomForestClassifier(200, random_state=0, n_jobs=1).fit(x, part.cls)
        result[name] = float((clf.predict(test_x) == target.cls).mean())
    return result


def real_rr_lyrae_shapes(data: TrainingSet, teffs: np.ndarray, window: float = 300.0) -> pd.DataFrame:
    """R21, phi31, skewness of real RR Lyrae curves with Teff, median per Teff window."""
    c = data.classes.index("RRLYR")
    part = data.subset((data.cls == c) & np.isfinite(data.teff) & ~data.augmented
                       & (data.band == data.bands.index("g")))
    shapes = pd.DataFrame([shape_parameters(part.phase[i][part.mask[i]], part.mag[i][part.mask[i]])
                           for i in range(len(part))]).assign(teff=part.teff)
    rows = []
    for teff in teffs:
        near = shapes[(shapes["teff"] - teff).abs() <= window]
        rows.append({"teff": teff, "n": len(near), **near[["R21", "phi31", "skewness"]].median().to_dict()})
    return pd.DataFrame(rows)


def memorisation(model, train: TrainingSet, test: TrainingSet, regressor: str) -> dict:
    """Median distance from generated (and from real test) curves to their nearest training curve."""
    part, real_x, gen_x = paired_features(model, test, regressor, seed=4)
    reference = train.subset(~train.augmented)
    ref_x = curve_features(reference.phase, reference.mag, reference.err, reference.mask)

    def nearest(x):
        return np.array([np.sqrt(((ref_x - row) ** 2).mean(1)).min() for row in x])

    gen_d, real_d = nearest(gen_x), nearest(real_x)
    return {"generated_to_train": float(np.median(gen_d)), "real_test_to_train": float(np.median(real_d)),
            "ratio": float(np.median(gen_d) / np.median(real_d))}


def cadence_invariance(model) -> float:
    """Largest difference between a decode on n random phases and the same phases on a dense grid."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(8, model.config.latent_dim))
    dense = np.linspace(0, 1, 3000, endpoint=False)
    worst = 0.0
    for cls in model.classes:
        ref, _ = model.decode(z, cls, dense)
        for n in (30, 100, 300, 1000):
            idx = rng.choice(dense.size, n)
            part, _ = model.decode(z, cls, dense[idx])
            worst = max(worst, float(np.abs(part - ref[:, idx]).max()))
    return worst


def generation_ms(model, repeats: int = 20) -> float:
    info = model.parameters()["RRLYR"]
    period = 10 ** info["typical"]["log_period"]
    model.generate("RRLYR", period=period, n_samples=100)
    started = time.perf_counter()
    for _ in range(repeats):
        model.generate("RRLYR", period=period, n_samples=100, phases=np.linspace(0, 1, 300))
    return (time.perf_counter() - started) / repeats * 1000


def variant(model) -> str:
    """The paper's name for a model: cVAE-P when its encoder sees the physics, else cVAE."""
    return "cVAE-P" if model.config.physics else "cVAE"


def regressor_validation(*models) -> pd.DataFrame:
    """The paper's Table 3 analogue: each model's physics -> latent regressors scored on the
    by-star validation split (stored by ``pelsvae fit-regressors``). R^2 compares across
    models; RMSE is in each model's own latent units."""
    rows = [{"model": variant(m), **row} for m in models
            for row in m.metadata.get("physics", {}).get("regressor_validation", [])]
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).pivot_table(index=["class", "regressor"], columns="model",
                                           values=["r2_latent", "rmse_latent"])
    table.columns = [f"{value.split('_')[0]} {name}" for value, name in table.columns]
    return table.reset_index()


def evaluate(model, data: TrainingSet, regressor: str = "rf", progress: bool = True,
             compare=None) -> tuple[dict, pd.DataFrame]:
    """Run every measurement on the test split: the results (JSON-ready), and the generated
    RR Lyrae morph curves the figures draw. ``compare``: another model (e.g. the cVAE beside
    a cVAE-P) for the regressor table."""
    train, test = data.subset((data.split == "train")), data.split_part("test")
    steps = {}
    plan = [
        ("reconstruction", lambda: reconstruction_table(model, test, train)),
        ("physics_to_curve", lambda: physics_to_curve(model, test, train)),
        ("two_sample", lambda: two_sample(model, test, regressor)),
        ("tstr", lambda: train_synthetic_test_real(model, train.subset(~train.augmented), test,
                                                   regressor)),
        ("morph", lambda: rr_lyrae_morph(model, n_teff=5)),
        ("morph_real", lambda: real_rr_lyrae_shapes(
            data, np.sort(steps["morph"][1]["teff"].unique()))),
        ("memorisation", lambda: memorisation(model, train, test, regressor)),
        ("cadence_invariance", lambda: cadence_invariance(model)),
        ("generate_100_ms", lambda: generation_ms(model)),
        ("regressor_validation", lambda: regressor_validation(model, *([compare] if compare else []))),
    ]
    with tqdm(plan, desc="evaluate", unit="measure", disable=not progress) as bar:
        for name, measure in bar:
            bar.set_postfix_str(name)
            started = time.perf_counter()
            steps[name] = measure()
            log.info("%s took %.1f s", name, time.perf_counter() - started)
    curves, shapes = steps.pop("morph")
    results = {k: (v.to_dict(orient="records") if isinstance(v, pd.DataFrame) else v)
               for k, v in steps.items()}
    results["morph_generated"] = shapes.to_dict(orient="records")
    results["regressor"] = regressor
    return results, curves
