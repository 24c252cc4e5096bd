"""``pelsvae evaluate``: how real are the generated curves? Measured on real test stars.

1. reconstruction RMSE per class, against a per-class median template and Fourier fits;
2. physics -> curve error: each test star's curve generated from its own parameters,
   against the template and against the training curves nearest in period (what the period
   alone can tell), in normalised units and in magnitudes;
3. a classifier two-sample test per class (real vs generated at the same parameters,
   observed at the same phases with the same errors; 0.5 = indistinguishable), with folds
   grouped by star and, as references, the reconstructions and each star's own 8th-order
   Fourier fit plus its noise;
4. train on synthetic, test on real: a class classifier trained on generated curves only;
5. the RR Lyrae morph against the real Stripe 82 stars (R21, phi31, skewness);
6. cadence invariance, and memorisation (distance to the nearest training curve);
7. timing of generating 100 curves end to end;
8. the fidelity suite of issue 14 (:mod:`.fidelity`): spread of R21, phi21 and amplitude
   per class and period bin, against the test stars and, as a control, the validation
   split's real stars in the generator's place; the Cepheid Hertzsprung progression against the OGLE-III LMC
   fundamental-mode Cepheids; RR Lyrae phi21, R21 and amplitude against log P against the
   OGLE-IV bulge, with the RRab phi21-log P slope; the Leavitt law of generated Cepheids.
Curves are compared as features: a Fourier fit of order 6 to the observed points,
evaluated on 50 phases from the fit's own phase zero, so real and generated curves go
through the same pipeline; a rival of a real curve gets noise as large as that curve's
own scatter (:func:`real_noise`).

This module draws the curves and measures; :mod:`.report` writes the numbers as Markdown
(for the CLI's report and the dashboard alike) and :mod:`.figures` draws them.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from sklearn.ensemble import RandomForestClassifier
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import fourier, paths
from ..data.records import BINARY_CLASSES
from ..data.catalogues import read_ogle3_catalogue
from ..data.dataset import TrainingSet
from ..data.sdss import read_table2
from ..generation import predict_latents
from ..physics.classes import PARAMETERS, physics_matrix
from ..physics.noise import scatter_ratio
from .fidelity import (COVERED_GAP, DENSE_ORDER, GENERATED_DRAWS, GRID, HERTZSPRUNG_EDGES,
                       MIN_BIN_STARS, RR_LYRAE_EDGES, RR_LYRAE_MODES, SHAPES, SURVEY_ORDER,
                       bulge_rr_lyrae, fit_many, fraction_inside, largest_phase_gap, leavitt_comparison,
                       lmc_fundamental_cepheids, progression, slope_comparison, spread_table,
                       two_sample_table)
from .inference import inference_calibration
from .morph import MORPH_BAND, rr_lyrae_morph, shape_parameters
from .reconstruction import (binned_median, decode_own_band, masked_rmse,
                             median_templates, reconstruction_table, template_values)

FEATURE_PHASES = np.linspace(0, 1, 50, endpoint=False)
FEATURE_ORDER = 6
#: Width of the log-period bins of :func:`shape_progression` (dex), as the Hertzsprung check's.
PROGRESSION_BIN = 0.1
PERIOD_NEIGHBOURS = 100  # training curves nearest in period, for the period-only reference
UNITS = ("", "_mag")  # column suffixes: normalised units, magnitudes
log = logging.getLogger(__name__)
PHYSICS_COLUMNS = ["class", "generated", "template", "period_neighbours", "generated_mag",
                   "template_mag", "period_neighbours_mag"]
#: Curves generated per test star for the spread (:func:`shape_samples`).
SPREAD_SAMPLES = 10
#: Real test stars per group (Catalina: per class) for the inverse problem's calibration:
#: enough for the report to show each measure, in about four minutes on one core
#: (``benchmarks/infer.py --per-group 80`` for the full count).
INFERENCE_STARS = 20
#: Bands nearest to Cousins I (0.79 um) in effective wavelength: SDSS i 0.75, z 0.89, r 0.62,
#: V 0.55, g 0.47, u 0.36 um (Bessell 2005, ARA&A 43, 293; Fukugita et al. 1996, AJ 111, 1748);
#: Catalina's unfiltered V_CSS is calibrated to V (Drake et al. 2009, ApJ 696, 870).
NEAR_I = ("I", "i", "z", "r", "V", "V_CSS", "g", "u")


def curve_features(phase: np.ndarray, mag: np.ndarray, err: np.ndarray, mask: np.ndarray,
                   binary: np.ndarray) -> np.ndarray:
    """Each curve as its order-6 Fourier fit on 50 phases counted from the fit's own phase zero
    (:func:`pelsvae_core.fourier.phase_zero`; ``binary``: per curve, whether it is an
    eclipsing or ellipsoidal binary), rescaled to [0, 1].

    Why from its own phase zero: a real curve was folded with phase zero at the extremum of
    its own order-6 fit (:func:`pelsvae_core.data.preprocess.fold`, the same order), so its
    features put that extremum exactly at phase 0, noise and all; any other curve under the
    same phases and fresh noise has its fitted extremum a little off. Without the same rule
    for every curve, a classifier tells real from rival by that alone: measured on the test
    split, each star's own 8th-order fit plus noise was told from the star at 0.60 (CEP),
    0.69 (RRLYR), 0.64 (LPV), 0.83 (ECL); counted from its own phase zero, 0.50-0.66."""
    out = np.empty((len(phase), FEATURE_PHASES.size))
    for i in range(len(phase)):
        m = mask[i]
        coeffs = fourier.fit(phase[i][m], mag[i][m], err[i][m], FEATURE_ORDER)
        smooth = fourier.evaluate(coeffs, FEATURE_PHASES + fourier.phase_zero(coeffs, binary[i]))
        span = np.ptp(smooth)
        out[i] = (smooth - smooth.min()) / (span if span > 0 else 1.0)
    return out


def binary_rows(data: TrainingSet) -> np.ndarray:
    """Per row of ``data``: whether its class counts phase zero at primary minimum."""
    return np.isin(np.asarray(data.classes)[data.cls], list(BINARY_CLASSES))


def features_of(data: TrainingSet, mag: np.ndarray | None = None) -> np.ndarray:
    """:func:`curve_features` of ``mag`` (default: the real curves) at ``data``'s phases."""
    return curve_features(data.phase, data.mag if mag is None else mag, data.err, data.mask,
                          binary_rows(data))


def shape_progression(log_period: np.ndarray, bands: np.ndarray, real_features: np.ndarray,
                      generated_features: np.ndarray) -> dict[str, float]:
    """How well generated curves follow one class's shape-period progression: per band, bins
    of :data:`PROGRESSION_BIN` dex in log P, and per Fourier parameter of :data:`.fidelity.SHAPES`
    the share of the bins (of at least :data:`.fidelity.MIN_BIN_STARS` real curves) whose
    generated median lies inside the real curves' 16-84 % band (:func:`.fidelity.progression`),
    pooled over bands; NaN where no bin has enough curves. Curves are given as
    :func:`curve_features` (an order-:data:`FEATURE_ORDER` series on :data:`FEATURE_PHASES`, so
    the fit recovers it exactly). What a two-sample test pooled over periods cannot see: a
    generator that gives every period the shapes of the class at large (measured on a
    32-dimensional model: the kernel density without its mean adjustment won that test for the
    Cepheids, 0.570 against 0.589, while its Hertzsprung progression fell to 27 % of OGLE's
    bins from 93 %)."""
    def shapes(features: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame([fourier.fourier_parameters(c)
                             for c in fit_many(FEATURE_PHASES, features, None, FEATURE_ORDER)])
    real, generated = shapes(real_features), shapes(generated_features)
    real["log_period"] = generated["log_period"] = np.asarray(log_period, float)
    if not len(real):
        return {q: float("nan") for q in SHAPES}
    lo = np.floor(real["log_period"].min() / PROGRESSION_BIN) * PROGRESSION_BIN
    edges = np.arange(lo, real["log_period"].max() + PROGRESSION_BIN, PROGRESSION_BIN)
    bins = pd.concat([progression(real[bands == band], generated[bands == band], SHAPES, edges)
                      for band in np.unique(bands)], ignore_index=True)
    scored = bins[bins["n_real"] >= MIN_BIN_STARS].astype({"inside": bool})
    return {q: float(scored.loc[scored["quantity"] == q, "inside"].mean()) if (scored["quantity"] == q).any()
            else float("nan") for q in SHAPES}


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
    parameters, their amplitudes in magnitudes (n_samples,)) for each row of :func:`own_physics`.
    The star's own subtype is told where the regressor takes one and the survey says it;
    otherwise it is drawn."""
    for i, cls, info, band, values in own_physics(model, data):
        own = info.told_subtype(regressor, data.subtype[i])
        z, amplitude = predict_latents(model.physics, info, values, band, regressor, n_samples, rng, own)
        yield i, cls, model.decode(z, cls, data.phase[i], band=band)[0], amplitude


def generated_like(model, data: TrainingSet, regressor: str, seed: int = 0):
    """A generated curve per usable row, at the same phases, with Gaussian noise as large as
    the real curve's scatter (:func:`real_noise`). Returns (rows used, magnitudes)."""
    rng = np.random.default_rng(seed)
    rows, mags = [], []
    for i, _, mag, _ in from_own_physics(model, data, regressor, 1, rng):
        rows.append(i)
        mags.append(mag[0])
    rows = np.array(rows, dtype=int)
    if not len(rows):
        return rows, np.empty((0, data.mag.shape[1]))
    mags = np.array(mags)
    return rows, mags + rng.standard_normal(mags.shape) * real_noise(data.subset(rows))


def real_noise(data: TrainingSet) -> np.ndarray:
    """Per point, the noise a rival of each curve gets: its quoted error times the curve's
    :func:`.physics.noise.scatter_ratio`, so that the rival scatters about its shape as much as the real
    curve does about its own. Quoted errors alone are the wrong size, and differently per
    survey: measured on the test split, the median ratio is 0.64-0.76 for Catalina (its
    errors are conservative), 1.3-1.8 for OGLE-III LMC Cepheids (OGLE underestimates its
    errors: Skowron et al. 2016, AcA 66, 1), 2.6 for the OGLE-IV bulge RR Lyrae and 5-8 for
    Gaia DR3 epochs (with the real scatter that a fold over years adds). Rivals with quoted
    errors were told apart by their noise, not their shape."""
    ratio = np.array([scatter_ratio(data.phase[i][m], data.mag[i][m], data.err[i][m], DENSE_ORDER)
                      for i, m in enumerate(data.mask)])
    return data.err * ratio[:, None]


def paired_features(model, data: TrainingSet, regressor: str, seed: int = 0
                    ) -> tuple[TrainingSet, np.ndarray, np.ndarray]:
    """The rows of :func:`generated_like`, and the features of their real and of their
    generated curves, row for row."""
    rows_used, generated = generated_like(model, data, regressor, seed)
    part = data.subset(rows_used)
    return part, features_of(part), features_of(part, generated)


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
                     regressors: tuple[str, ...]) -> pd.DataFrame:
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


def two_sample(model, test: TrainingSet, regressor: str, seed: int = 3) -> pd.DataFrame:
    """Per class, real test curves against curves generated from the same stars' parameters,
    and, on the same curves, against their reconstructions (encode, decode at the same
    phases), their own 8th-order Fourier fits and another star's (:func:`other_star_fourier`),
    each plus Gaussian noise as large as the real curve's scatter (:func:`real_noise`); on all
    curves and on the well-covered ones (:func:`.fidelity.two_sample_table`). The generated
    curves are :data:`.fidelity.GENERATED_DRAWS` independent draws, each tested, their
    accuracies averaged."""
    draws = [generated_like(model, test, regressor, seed) for seed in range(GENERATED_DRAWS)]
    rows_used = draws[0][0]
    part = test.subset(rows_used)
    noise = real_noise(part)
    real, reconstructed, own_fourier = reconstruction_features(model, part, seed, noise)
    other = other_star_fourier(part, DENSE_ORDER, np.random.default_rng(seed))
    rivals = {"accuracy": [features_of(part, generated) for _, generated in draws],
              "reconstructed": reconstructed, "own_fourier_8": own_fourier,
              "other_star_fourier_8": noisy_features(part, other, noise,
                                                     np.random.default_rng(seed + 1))}
    covered = largest_phase_gap(part.phase, part.mask) < COVERED_GAP
    return two_sample_table(real, rivals, np.array(test.classes)[part.cls], part.star_key, covered)


def other_star_fourier(part: TrainingSet, order: int, rng: np.random.Generator) -> np.ndarray:
    """For each curve, the own Fourier fit of another star of its class and band, drawn at
    random, evaluated at this curve's phases: what a generator that draws real shapes
    perfectly, knowing class and band but not this star, gives under this star's sampling
    (a curve without such a neighbour keeps its own fit)."""
    fits = [fourier.fit(part.phase[i][part.mask[i]], part.mag[i][part.mask[i]],
                        part.err[i][part.mask[i]], order) for i in range(len(part))]
    out = np.empty_like(part.mag, dtype=float)
    for i in range(len(part)):
        others = np.flatnonzero((part.cls == part.cls[i]) & (part.band == part.band[i])
                                & (part.star_key != part.star_key[i]))
        donor = rng.choice(others) if len(others) else i
        out[i] = fourier.evaluate(fits[donor], part.phase[i])
    return out


def reconstruction_features(model, part: TrainingSet, seed: int = 3, noise: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (:func:`curve_features`) of the real curves, of their reconstructions (encode,
    decode at the same phases) and of their own 8th-order Fourier fits, the last two plus
    Gaussian noise of the real curves' scatter (``noise``, default :func:`real_noise`) so
    that all three are equally noisy."""
    rng = np.random.default_rng(seed)
    noise = real_noise(part) if noise is None else noise
    reconstructed, _ = decode_own_band(model, model.encode(part)[0], part)
    return (features_of(part), noisy_features(part, reconstructed, noise, rng),
            noisy_features(part, part.own_fourier_fits(DENSE_ORDER), noise, rng))


def noisy_features(part: TrainingSet, curves: np.ndarray, noise: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Features (:func:`curve_features`) of noise-free ``curves`` at ``part``'s phases plus
    Gaussian noise of standard deviations ``noise`` (per point, :func:`real_noise`)."""
    return features_of(part, curves + rng.standard_normal(curves.shape) * noise)


def train_synthetic_test_real(model, train: TrainingSet, test: TrainingSet, regressor: str) -> dict:
    """Class accuracy on real test curves of a classifier trained on generated vs on real curves."""
    part, real_x, synthetic_x = paired_features(model, train, regressor, seed=2)
    target = test.subset(np.array([i for i, *_ in own_physics(model, test)], dtype=int))
    test_x = features_of(target)
    result = {"n_train": int(len(part)), "n_test": int(len(target))}
    for name, x in (("trained_on_synthetic", synthetic_x), ("trained_on_real", real_x)):
        clf = RandomForestClassifier(200, random_state=0, n_jobs=1).fit(x, part.cls)
        result[name] = float((clf.predict(test_x) == target.cls).mean())
    return result


def real_rr_lyrae_shapes(data: TrainingSet, teffs: np.ndarray, window: float = 300.0) -> pd.DataFrame:
    """R21, phi31, skewness of real RR Lyrae curves with Teff, median per Teff window."""
    c = data.classes.index("RRLYR")
    part = data.subset((data.cls == c) & np.isfinite(data.teff) & ~data.augmented
                       & (data.band == data.bands.index(MORPH_BAND)))
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
    ref_x = features_of(reference)

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


def shape_samples(model, test: TrainingSet, regressor: str, n_samples: int = SPREAD_SAMPLES,
                  seed: int = 6) -> pd.DataFrame:
    """For each test curve with its own physics: its R21, phi21 and amplitude, and those of
    ``n_samples`` curves generated from its physics, observed at its phases with Gaussian
    noise of its errors; all fitted alike (order :data:`.fidelity.SURVEY_ORDER`). The amplitude
    of a generated curve is the one the model predicts (what the real curve's max - min is)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, cls, norm, amplitude in from_own_physics(model, test, regressor, n_samples, rng):
        m = test.mask[i]
        noisy = norm[:, m] + rng.standard_normal((n_samples, m.sum())) * test.err[i][m]
        rows += _shape_rows(test, i, cls, np.vstack([test.mag[i][m], noisy]),
                            np.r_[test.amplitude[i], amplitude], ["real"] + ["generated"] * n_samples)
    return pd.DataFrame(rows)


def other_star_shapes(model, other: TrainingSet) -> pd.DataFrame:
    """The rows of :func:`shape_samples` for the real curves of ``other`` stars (e.g. the
    validation split's) that have their own physics, as kind "other": the spread target's
    control of another sample of real stars (:func:`.fidelity.spread_table`)."""
    rows = []
    for i, cls, _, _, _ in own_physics(model, other):
        m = other.mask[i]
        rows += _shape_rows(other, i, cls, other.mag[i][m][None], np.r_[other.amplitude[i]], ["other"])
    return pd.DataFrame(rows)


def _shape_rows(data: TrainingSet, i: int, cls: str, curves: np.ndarray, amplitudes: np.ndarray,
                kinds: list[str]) -> list[dict]:
    """One row per curve observed at row ``i``'s phases (``curves``: (k, its points)): its
    Fourier parameters (order :data:`.fidelity.SURVEY_ORDER`, weighted by the row's errors) and
    amplitude, with the row's class, band, star and log P."""
    m = data.mask[i]
    coeffs = fit_many(data.phase[i][m], curves, data.err[i][m], SURVEY_ORDER)
    common = {"class": cls, "band": data.bands[data.band[i]], "curve": i,
              "star": data.star_key[i], "log_period": float(data.log_period[i])}
    return [{**common, "kind": kind, "amplitude": float(a), **fourier.fourier_parameters(c)}
            for c, a, kind in zip(coeffs, amplitudes, kinds)]


def star_id(star_key: str) -> str:
    """The survey's own ID in a star key ``"<survey>:<ID>"``."""
    return star_key.partition(":")[2]


def star_modes(root, catalogue: pd.DataFrame) -> pd.Series:
    """Pulsation mode by star ID: the OGLE-III catalogue's subtype (Cepheids: F, 1, ...) and
    the Stripe 82 RR Lyrae type (Sesar et al. 2010, table 2: RRab, RRc)."""
    stripe82 = "RR" + read_table2(root / "sdss_s82_rrlyrae")["type"].astype(str)
    return pd.concat([catalogue["Subtype"], stripe82])


def physics_donors(model, data: TrainingSet, cls: str, modes: pd.Series) -> pd.DataFrame:
    """One row per real (not augmented) star of ``cls`` whose parameters are all known: its
    mode (``modes`` by star ID), log P and parameter values."""
    real = data.subset((data.cls == data.classes.index(cls)) & ~data.augmented)
    rows = {}
    for i, _, _, _, values in own_physics(model, real):
        name = star_id(real.star_key[i])
        rows.setdefault(name, {"mode": modes.get(name), "log_period": float(real.log_period[i]),
                               **values})
    return pd.DataFrame(list(rows.values()), columns=["mode", *PARAMETERS])


def supported_draw(model, cls: str, **request):
    """``model.draw(cls, **request)``, or None where generation refuses the physics as far
    outside the class's training range (:func:`pelsvae_core.generation.validate`)."""
    try:
        return model.draw(cls, **request)
    except ValueError:
        return None


def generated_population(model, cls: str, band: str, log_periods, modes, donors: pd.DataFrame,
                         regressor: str, n_samples: int = 2, seed: int = 7,
                         progress: bool = True) -> tuple[pd.DataFrame, int]:
    """Curves generated at each period in ``band`` with the physics of the real star of the
    same mode nearest in log P (``donors``; a star's own where it has physics), told that
    mode where the regressor takes subtypes and the class has it (else drawn): per curve,
    its mode, log P, Fourier parameters (order :data:`.fidelity.DENSE_ORDER`, noise-free on
    :data:`.fidelity.GRID`), peak-to-peak amplitude and mean absolute magnitude (NaN where the
    model gives none). Also the number of periods refused as outside the training support."""
    info, rows, refused = model.class_physics[cls], [], 0
    wanted = [p for p in ("teff", "abs_mag") if p in info.parameters]
    pairs = list(zip(np.asarray(log_periods, float), modes))
    for k, (log_p, mode) in enumerate(tqdm(pairs, desc=f"generate {cls}", unit="star",
                                           disable=not progress)):
        same = donors[donors["mode"] == mode]
        donor = same.iloc[int(np.argmin(np.abs(same["log_period"].to_numpy() - log_p)))]
        draw = supported_draw(model, cls, period=10 ** log_p, n_samples=n_samples, regressor=regressor,
                              band=band, seed=seed + k, subtype=info.told_subtype(regressor, mode),
                              **{p: float(donor[p]) for p in wanted})
        if draw is None:
            refused += 1
            continue
        mag = draw.observation(phases=GRID).mag
        abs_mag = np.nan if draw.abs_mag is None else draw.abs_mag
        for c, amplitude in zip(fit_many(GRID, mag, None, DENSE_ORDER), np.ptp(mag, axis=1)):
            rows.append({"mode": mode, "log_period": log_p, "amplitude": float(amplitude),
                         "abs_mag": abs_mag, **fourier.fourier_parameters(c)})
    return pd.DataFrame(rows, columns=["mode", "log_period", "amplitude", "abs_mag", *SHAPES,
                                       "phi31"]), refused


def cepheid_population(model, data: TrainingSet, catalogue: pd.DataFrame, modes: pd.Series,
                       regressor: str, progress: bool = True) -> dict:
    """The OGLE-III LMC fundamental-mode Cepheids (:func:`.fidelity.lmc_fundamental_cepheids`)
    and Cepheids generated in I at their periods (:func:`generated_population`, with the
    physics of the real F-mode Cepheids), or why there are none."""
    info = model.class_physics.get("CEP")
    if info is None or "I" not in info.bands:
        return {"skipped": "the model has no Cepheids in I"}
    donors = physics_donors(model, data, "CEP", modes)
    donors = donors[donors["mode"] == "F"]
    if donors.empty:
        return {"skipped": "no fundamental-mode Cepheid with known physics in the data"}
    real = lmc_fundamental_cepheids(catalogue)
    generated, refused = generated_population(model, "CEP", "I", real["log_period"],
                                              ["F"] * len(real), donors, regressor, progress=progress)
    return {"real": real, "generated": generated, "refused": refused, "donors": len(donors)}


def hertzsprung(population: dict) -> dict:
    """Binned R21, phi21, R31 against log P (0.1 dex, 1-30 d) of the generated Cepheids
    against the catalogue's, and the share of bins whose generated median lies inside the
    catalogue's 16-84 % band (issue 14: every bin)."""
    if "skipped" in population:
        return population
    bins = progression(population["real"], population["generated"], SHAPES, HERTZSPRUNG_EDGES)
    return {"band": "I", "n_catalogue": len(population["real"]),
            "n_generated": len(population["generated"]), "n_refused": population["refused"],
            "n_donors": population["donors"], "bins": bins.to_dict(orient="records"),
            "fraction_inside": fraction_inside(bins)}


def leavitt(model, population: dict, regressor: str) -> dict:
    """The period-luminosity relation of generated Cepheids against the catalogue's LMC F-mode
    Cepheids (absolute Gaia G), twice: generated with the physics of real Cepheids (the
    magnitude they were given) and from the period alone (what the model supplies), at the
    centres of the Hertzsprung bins."""
    if "skipped" in population:
        return population
    real, generated = population["real"], population["generated"]
    centres = (HERTZSPRUNG_EDGES[:-1] + HERTZSPRUNG_EDGES[1:]) / 2
    draws = [supported_draw(model, "CEP", period=10 ** c, n_samples=1, regressor=regressor)
             for c in centres]
    period_only = [np.nan if d is None or d.abs_mag is None else d.abs_mag for d in draws]
    sources = {d.abs_mag_source for d in draws if d is not None}
    return {"band": "G", "with_real_physics": leavitt_comparison(
                real["log_period"], real["abs_mag"], generated["log_period"], generated["abs_mag"]),
            "period_only": {**leavitt_comparison(real["log_period"], real["abs_mag"], centres,
                                                 period_only),
                            "abs_mag_source": ", ".join(sorted(sources)) or "none"}}


def rr_lyrae_fidelity(model, data: TrainingSet, shapes: pd.DataFrame, modes: pd.Series, root,
                      regressor: str, progress: bool = True) -> dict:
    """RR Lyrae generated at the periods of the OGLE-IV bulge RRab and RRc, with the physics of
    the real RR Lyrae of the same mode nearest in period, in I or the model's band nearest to
    it (:data:`NEAR_I`): phi21, R21 and amplitude (Bailey diagram) against log P per mode
    against the bulge stars in I; the RRab phi21-log P slope against the bulge and against
    the real test stars in the generated band (``shapes``, :func:`shape_samples`). The
    target compares in one band: with the bulge when generated in I, else with the test
    stars."""
    info = model.class_physics.get("RRLYR")
    if info is None:
        return {"skipped": "the model has no RR Lyrae"}
    band = next(b for b in (*NEAR_I, *info.bands) if b in info.bands)
    donors = physics_donors(model, data, "RRLYR", modes)
    donors = donors[donors["mode"].isin(RR_LYRAE_MODES)]
    if donors.empty:
        return {"skipped": "no RR Lyrae of known mode with known physics in the data"}
    real = bulge_rr_lyrae(root / "ogle4_blg_rrlyr", progress)
    real = real[real["subtype"].isin(set(donors["mode"]))]
    generated, refused = generated_population(model, "RRLYR", band, real["log_period"],
                                              real["subtype"], donors, regressor, progress=progress)
    present = [m for m in RR_LYRAE_MODES if m in set(real["subtype"])]
    bins = pd.concat([progression(real[real["subtype"] == m], generated[generated["mode"] == m],
                                  ("phi21", "R21", "amplitude"), RR_LYRAE_EDGES).assign(mode=m)
                      for m in present], ignore_index=True)
    bulge_ab, generated_ab = real[real["subtype"] == "RRab"], generated[generated["mode"] == "RRab"]
    test = shapes[(shapes["class"] == "RRLYR") & (shapes["band"] == band)]
    test = test[test["star"].map(star_id).map(modes) == "RRab"]
    test_real, test_generated = test[test["kind"] == "real"], test[test["kind"] == "generated"]
    same_band = {**slope_comparison(test_real["log_period"], test_real["phi21"],
                                    test_generated["log_period"], test_generated["phi21"]),
                 "n_stars": int(test_real["star"].nunique())}
    bulge = slope_comparison(bulge_ab["log_period"], bulge_ab["phi21"], generated_ab["log_period"],
                             generated_ab["phi21"])
    return {"band_generated": band, "band_real": "I", "model_bands": list(info.bands),
            "n_bulge": {m: int((real["subtype"] == m).sum()) for m in present},
            "n_generated": len(generated), "n_refused": refused,
            "bins": bins.to_dict(orient="records"),
            "fraction_inside": {m: fraction_inside(bins[bins["mode"] == m]) for m in present},
            "rrab_slope_bulge": bulge, "rrab_slope_test": same_band,
            "target": "bulge" if band == "I" else "test"}


def evaluate(model, data: TrainingSet, regressor: str | None = None, progress: bool = True,
             compare=None, data_root=None, inference_stars: int = INFERENCE_STARS
             ) -> tuple[dict, pd.DataFrame]:
    """Run every measurement on the test split: the results (JSON-ready), and the generated
    RR Lyrae morph curves the figures draw. ``regressor``: what generates (default: the
    model's, :attr:`PhysicsMap.default_regressor <pelsvae_core.physics.mapping.PhysicsMap.default_regressor>`). ``compare``: another model (e.g. the cVAE beside
    a cVAE-P) for the regressor table. ``data_root``: where the reference catalogues are
    (:func:`pelsvae_core.paths.data_root`). ``inference_stars``: stars per group of the
    inverse problem's calibration (:mod:`.inference`). Steps named with a leading underscore
    are intermediate and not in the results."""
    regressor = regressor or model.physics.default_regressor
    train, test = data.subset((data.split == "train")), data.split_part("test")
    root = paths.data_root(data_root)
    steps = {}
    plan = [
        ("reconstruction", lambda: reconstruction_table(model, test, train)),
        ("physics_to_curve", lambda: physics_to_curve(model, test, train, model.physics.fitted_kinds())),
        ("two_sample", lambda: two_sample(model, test, regressor)),
        ("tstr", lambda: train_synthetic_test_real(model, train.subset(~train.augmented), test,
                                                   regressor)),
        ("morph", lambda: rr_lyrae_morph(model, n_teff=5, regressors=model.physics.fitted_kinds())),
        ("morph_real", lambda: real_rr_lyrae_shapes(
            data, np.sort(steps["morph"][1]["teff"].unique()))),
        ("memorisation", lambda: memorisation(model, train, test, regressor)),
        ("cadence_invariance", lambda: cadence_invariance(model)),
        ("generate_100_ms", lambda: generation_ms(model)),
        ("regressor_validation", lambda: regressor_validation(model, *([compare] if compare else []))),
        ("_shapes", lambda: shape_samples(model, test, regressor)),
        ("spread", lambda: spread_table(pd.concat([steps["_shapes"],
                                                   other_star_shapes(model, data.split_part("val"))]))),
        ("spread_validation", lambda: spread_table(shape_samples(model, data.split_part("val"), regressor))),
        ("_catalogue", lambda: read_ogle3_catalogue(root / "ogle3_catalog")),
        ("_modes", lambda: star_modes(root, steps["_catalogue"])),
        ("_cepheids", lambda: cepheid_population(model, data, steps["_catalogue"], steps["_modes"],
                                                 regressor, progress)),
        ("hertzsprung", lambda: hertzsprung(steps["_cepheids"])),
        ("leavitt", lambda: leavitt(model, steps["_cepheids"], regressor)),
        ("rr_lyrae", lambda: rr_lyrae_fidelity(model, data, steps["_shapes"], steps["_modes"], root,
                                               regressor, progress)),
        ("inference", lambda: inference_calibration(model, root, inference_stars, progress=progress)),
    ]
    seconds = {}
    # Many small least-squares fits: BLAS threads only contend on a shared machine (see
    # fidelity.bulge_rr_lyrae).
    with threadpool_limits(limits=1), tqdm(plan, desc="evaluate", unit="measure",
                                           disable=not progress) as bar:
        for name, measure in bar:
            bar.set_postfix_str(name)
            started = time.perf_counter()
            steps[name] = measure()
            seconds[name] = round(time.perf_counter() - started, 1)
            log.info("%s took %.1f s", name, seconds[name])
    curves, shapes = steps.pop("morph")
    results = {k: (v.to_dict(orient="records") if isinstance(v, pd.DataFrame) else v)
               for k, v in steps.items() if not k.startswith("_")}
    results["morph_generated"] = shapes.to_dict(orient="records")
    results["regressor"] = regressor
    results["seconds"] = seconds
    return results, curves
