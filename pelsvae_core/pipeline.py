"""A model folder's life cycle, and the only writer of model folders.

    train (a recipe) -> fit physics (regressors, error models, references, latents)
    -> calibrate inference (the Teff intervals' recalibration on the validation split)
    -> evaluate (numbers, report, figures into ``report/``)

Each step reads the folder, adds its part, and rewrites the whole folder
atomically through :func:`pelsvae_core.model.storage.save_folder`, so the
checksums always cover every file, ``report/`` included. A step that changes
what an existing report measured (retraining, refitting) keeps the report; the
report records the checksums of the files it measured, so it reads as stale
(:func:`pelsvae_core.model.storage.report_status`) until ``evaluate`` runs again.
"""
from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import paths
from .api import Model, load_model
from .atomic import atomic_path
from .data import cache
from .data.dataset import DatasetConfig, TrainingSet, build_training_set
from .data.preprocess import PreprocessConfig
from .data.surveys import DataRoot
from .evaluation import figures, report, suite
from .evaluation.fidelity import GENERATED_DRAWS, two_sample_accuracy
from .evaluation.inference import SPARSE_EPOCHS, TEFF_GROUPS, teff_pits
from .inference import recalibration
from .inference.reference import scale_records
from .evaluation.reconstruction import reconstruction_table
from .latents import latent_table
from .model import storage
from .model.decoder import Decoder
from .model.recipe import Recipe, model_config, training_counts
from .model.training import fit
from .physics import classes, density, kernel_density, subtype_model
from .physics.latent_fit import REPEATS, TARGET_ORDER, fit_regressors
from .physics.noise import fit_error_models
from .physics.reference import class_references
from .physics.regressors import DENSITY_KINDS, KINDS, save_predictors
from .simulate.plan import cross_match
from .simulate.priors import FOLDS, PRIOR_REPORT_DRAWS, XMATCH_HOLDOUT, prior_report

log = logging.getLogger(__name__)
#: Metadata that :func:`storage.save_folder` writes afresh on every save.
_STAMPS = ("library_versions", "git_commit")


def _rewrite(model: Model, metadata: dict, files: dict[str, bytes], dropped=()) -> Path:
    """Rewrite a loaded model's folder with new metadata and files; every other file it had
    (the report included) but the ``dropped`` ones is carried over unchanged."""
    folder = model.folder
    kept = storage.read_files(folder, [n for n in storage.folder_files(folder) if n not in
                                       (storage.CONFIG, storage.WEIGHTS, storage.METADATA, *dropped)])
    metadata = {k: v for k, v in metadata.items() if k not in _STAMPS}
    return storage.save_folder(folder, model.network, metadata, extra_files={**kept, **files},
                               weights=(folder / storage.WEIGHTS).read_bytes())


#: What a model's ``dataset_config`` means where it lacks a setting added since. Models trained
#: before the OGLE-IV bulge, Gaia DR3 and the calibrated physics (models/default among them)
#: were trained on the four surveys of the time with the paper's Teff and absolute magnitudes;
#: reading them with today's defaults ("calibrated", every survey) would give another training
#: set and other test stars than the ones they were trained and evaluated on.
LEGACY_DATASET_SETTINGS = {"physics": "paper",
                           "surveys": ("catalina_sss", "crts_csdr1", "ogle3_lmc_cep", "sdss_s82_rrlyrae")}


def training_inputs(model: Model, data_root=None, cache_dir=None, progress: bool = True):
    """The cache and the training set, with the same splits and augmentation, ``model`` was trained on.

    A setting missing from the model's recorded ``dataset_config`` takes its legacy value
    (:data:`LEGACY_DATASET_SETTINGS`), explicitly, never today's default. Where the model's
    folder has its latent table (every real curve it was trained, validated and tested on,
    with its split), those curves alone are used, in their recorded splits
    (:func:`recorded_splits`), whatever splits today's build would draw. Splits drawn by a
    shuffle of each class's stars dealt them all anew when a build kept a few other stars:
    measured on models/default after a rebuild that no longer keeps 21 of its CRTS curves
    (their periods come from the period search, changed since), the rebuilt test split held
    1,176 real curves of its training stars and 629 of its validation stars, and only 2,272
    of its own test curves. (Drawn splits are now ranked by a hash, :func:`.dataset.split_by_star`.)
    """
    saved = {k: tuple(v) if isinstance(v, list) else v
             for k, v in model.metadata["dataset_config"].items()}
    dataset_cfg = DatasetConfig(**{**LEGACY_DATASET_SETTINGS, **saved})
    loaded = cache.load(data_root, cache_dir, PreprocessConfig(n_points=dataset_cfg.n_points),
                        progress=progress)
    splits = recorded_splits(model)
    data = build_training_set(loaded.kept, dataset_cfg, splits)
    missing = 0 if splits is None else splits.size - int((~data.augmented).sum())
    if missing > 0:
        log.warning("%d of the %d real curves recorded in %s's latent table are not in today's "
                    "data build; the others keep their recorded splits", missing, splits.size,
                    model.folder)
    return loaded, data


def recorded_splits(model) -> pd.Series | None:
    """The split of each real curve, by (star key, band), as the model's latent table records
    them, or None for a folder without one (a model before ``pelsvae fit-regressors``, which
    writes it)."""
    try:
        table = model.latents()
    except (AttributeError, ValueError):   # no latent table (Model.latents says so), or not a Model
        return None
    return table.set_index(["star", "band"])["split"]


def model_training_set(model: Model, data_root=None, cache_dir=None, progress: bool = True) -> TrainingSet:
    """The training set, with the same splits and augmentation, that ``model`` was trained on."""
    return training_inputs(model, data_root, cache_dir, progress)[1]


def train(recipe: Recipe, data_root=None, cache_dir=None, output: Path | None = None,
          resume: bool = False, progress: bool = True) -> Path:
    """Train a model from a recipe, measure its test reconstruction, write its folder; return it.
    A report already in that folder is kept, and reads as stale."""
    started = time.perf_counter()
    loaded = cache.load(data_root, cache_dir, PreprocessConfig(n_points=recipe.data.n_points),
                        progress=progress)
    data = build_training_set(loaded.kept, recipe.data)
    cfg = model_config(recipe, data)
    output = Path(output or recipe.output)
    work_dir = output.with_name(output.name + ".training")
    network, history = fit(data, cfg, recipe.train, work_dir, resume=resume, progress=progress)
    seconds = time.perf_counter() - started

    table = reconstruction_table(Decoder(network), data.split_part("test"), data.split_part("train"))
    metadata = {
        "description": "PELS-VAE trained by pelsvae",
        "trained_on": {"surveys": loaded.manifest["surveys"], "data_root": loaded.manifest["data_root"],
                       "cache_fingerprint": loaded.manifest["fingerprint"],
                       "counts": training_counts(data)},
        "splits": {"seed": recipe.data.seed, "fractions": list(recipe.data.fractions),
                   "by": "star"},
        "dataset_config": recipe.data.to_dict(), "train_config": recipe.train.to_dict(),
        "preset": recipe.preset,
        "history": {"best_epoch": history.best_epoch, "best_val_loss": history.best_val,
                    "epochs": history.epochs},
        "metrics": {"test_reconstruction": table.to_dict(orient="records"),
                    "active_units": history.epochs[-1]["val_active_units"] if history.epochs else None},
        "training_seconds": round(seconds, 1),
        "default_band": data.bands[int(np.bincount(data.band).argmax())],
    }
    previous_report = storage.report_files(output) if output.is_dir() else {}
    storage.save_folder(output, network, metadata, extra_files=previous_report)
    log.info("model written to %s", output)
    return output


def fit_physics(folder=None, data_root=None, cache_dir=None, kinds=KINDS, seed: int = 0,
                progress: bool = True):
    """Fit the regressors of the model in ``folder`` on its own training data and splits, the
    survey error models on its training stars, the class references on the Gaia cross-match,
    and rewrite the folder with them and the real curves' latent vectors.
    Returns the validation metrics table."""
    model = load_model(folder)
    loaded, data = training_inputs(model, data_root, cache_dir, progress)
    predictors, infos, table = fit_regressors(model.decoder, data, kinds, seed, progress=progress)
    error_models = _training_error_models(loaded, data)
    references = class_references(DataRoot(paths.data_root(data_root)).gaia_xmatch)
    metadata = {**model.metadata, "physics": {
        "classes": {cls: info.to_dict() for cls, info in infos.items()},
        "regressor_validation": table.to_dict(orient="records"),
        "regressor_format": "npz arrays read with allow_pickle=False; evaluated in NumPy",
        "repeats": REPEATS, "seed": seed,
        "density": {"kind": "mdn", "components": density.COMPONENTS, "hidden": list(density.HIDDEN),
                    "kernel": {"kind": kernel_density.KIND, "mean_network_hidden": list(density.HIDDEN),
                               "input_bandwidths": list(kernel_density.INPUT_BANDWIDTHS),
                               "target_bandwidth": kernel_density.TARGET_BANDWIDTH,
                               "chosen": "bandwidth_x per class, by by-star cross-validation of "
                                         "the kernel regression of the residuals (among the "
                                         "class's arrays)"},
                    "targets": "posterior means of the real training curves' own order-"
                               f"{TARGET_ORDER} Fourier fits (read at their phases), "
                               "and their log10 amplitudes",
                    "subtypes": {
                        "inputs": "one-hot over each class's subtypes with at least "
                                  f"{classes.MIN_CURVES_WITH_SUBTYPE} training curves (none if "
                                  "fewer than two); all zeros where the survey gives none",
                        "model": "P(subtype | physics, band): multinomial logistic regression on "
                                 f"the standardised regressor inputs, L2 C={subtype_model.PENALTY_C}, "
                                 f"stored among the density's arrays ({subtype_model.PREFIX}*)",
                        "validation": "regressor_validation, mdn rows: subtype_accuracy against "
                                      "subtype_commonest (always the commonest training subtype)"}},
        "error_models": {key: m.to_dict() for key, m in error_models.items()},
        "references": {cls: r.to_dict() for cls, r in references.items() if cls in model.classes}}}
    latents = io.BytesIO()
    latent_table(model, data.subset(~data.augmented)).to_parquet(latents, index=False,
                                                                 compression="zstd")
    # the inverse problem's recalibration was fitted with the old latents: dropped, not kept stale
    _rewrite(model, metadata, {storage.REGRESSORS_FILE: save_predictors(predictors),
                               storage.LATENTS_FILE: latents.getvalue()},
             dropped=(storage.INFERENCE_CALIBRATION_FILE,))
    if set(DENSITY_KINDS) <= set(kinds):
        choose_generator(load_model(model.folder), data, progress)
    return table


def _training_error_models(loaded, data: TrainingSet) -> dict:
    """The survey error models and real scatter (:mod:`.physics.noise`) of the training split's
    stars (not their augmented copies)."""
    train_stars = set(data.star_key[(data.split == "train") & ~data.augmented])
    return fit_error_models(loaded.kept[loaded.kept["star_key"].isin(train_stars)])


def fit_noise(folder=None, data_root=None, cache_dir=None, progress: bool = True) -> dict:
    """Fit the survey error models and real scatter of the model in ``folder`` again, on its own
    training stars, and rewrite the folder with them, everything else kept (the noise depends on
    the data, not on the network or the regressors). Returns the error models."""
    model = load_model(folder)
    if "physics" not in model.metadata:
        raise ValueError(f"{model.folder} has no physics yet: run pelsvae fit-regressors")
    loaded, data = training_inputs(model, data_root, cache_dir, progress)
    error_models = _training_error_models(loaded, data)
    physics = {**model.metadata["physics"],
               "error_models": {key: m.to_dict() for key, m in error_models.items()}}
    _rewrite(model, {**model.metadata, "physics": physics}, {})
    return error_models


#: Classes with fewer validation curves keep the kernel density's cross-validated bandwidth:
#: a two-sample accuracy on fewer curves is mostly chance.
BANDWIDTH_CURVES = 100
#: Accuracies within this of the best are ties, and the widest bandwidth among them is kept
#: (the scatter of one draw's two-sample accuracy between seeds is about this size; the mean of
#: :func:`validation_scores` over its draws scatters by less than half).
BANDWIDTH_TIE = 0.01


def validation_scores(model: Model, val: TrainingSet, kind: str) -> dict[str, dict]:
    """Per class of at least :data:`BANDWIDTH_CURVES` validation curves, for curves generated
    by ``kind`` from the validation stars' own physics, at their phases and with their noise:
    ``accuracy``, the grouped two-sample accuracy against the real ones (as
    :func:`.evaluation.suite.two_sample`), and ``progression``, how well they follow the real
    curves' shapes against period (:func:`.evaluation.suite.shape_progression`); both the mean
    over :data:`.evaluation.fidelity.GENERATED_DRAWS` independent draws, as the report measures
    the test split. One draw scatters by about 0.01 in accuracy, as much as the differences
    between bandwidths: on models/default after the CRTS periods were corrected (2026-12-04)
    one draw put the RR Lyrae's mean-adjusted accuracy at 0.583 / 0.599 / 0.607 / 0.585 for
    bandwidths 0.1 / 0.2 / 0.4 / 0.8, so 0.8 was chosen, and its test curves scored 0.616
    against 0.572 at 0.1 the day before."""
    draws = [suite.generated_like(model, val, kind, seed) for seed in range(GENERATED_DRAWS)]
    rows = draws[0][0]
    assert all(np.array_equal(rows, other) for other, _ in draws), "usable rows depend on the draw"
    part = val.subset(rows)
    real = suite.features_of(part)
    fakes = [suite.features_of(part, generated) for _, generated in draws]
    names = np.asarray(part.classes)[part.cls]
    bands = np.asarray(part.bands)[part.band]
    scores = {}
    for cls in sorted(set(names)):
        if (mine := names == cls).sum() < BANDWIDTH_CURVES:
            continue
        progressions = [suite.shape_progression(part.log_period[mine], bands[mine], real[mine],
                                                fake[mine]) for fake in fakes]
        accuracies = [two_sample_accuracy(real[mine], fake[mine], part.star_key[mine]) for fake in fakes]
        scores[cls] = {"accuracy": float(np.mean(accuracies)),
                       "progression": {q: float(np.mean([p[q] for p in progressions]))
                                       for q in progressions[0]}}
    return scores


def widest_best(by_bandwidth: dict[float, dict]) -> float:
    """The widest bandwidth whose accuracy is within :data:`BANDWIDTH_TIE` of the best."""
    best = min(score["accuracy"] for score in by_bandwidth.values())
    return max(h for h, score in by_bandwidth.items() if score["accuracy"] <= best + BANDWIDTH_TIE)


def choose_kernel(by_try: dict[tuple[bool, float], dict]) -> tuple[bool, float]:
    """(mean-adjusted, bandwidth) of one class's kernel density from its validation scores by
    try (:func:`validation_scores`): the mean-adjusted estimator at :func:`widest_best`, unless
    the plain one at its own is more than :data:`BANDWIDTH_TIE` harder to tell from the real
    curves *and* follows their shape-period progression at least as well in every Fourier
    parameter measured (a progression that cannot be measured keeps the adjustment)."""
    adjusted = {h: s for (mean_adjusted, h), s in by_try.items() if mean_adjusted}
    plain = {h: s for (mean_adjusted, h), s in by_try.items() if not mean_adjusted}
    h_adjusted = widest_best(adjusted)
    if not plain:
        return True, h_adjusted
    h_plain = widest_best(plain)
    a, p = adjusted[h_adjusted], plain[h_plain]
    keeps_progression = all(np.isfinite(p["progression"][q]) and np.isfinite(a["progression"][q])
                            and p["progression"][q] >= a["progression"][q] for q in a["progression"])
    if p["accuracy"] < a["accuracy"] - BANDWIDTH_TIE and keeps_progression:
        return False, h_plain
    return True, h_adjusted


def _json_ready(score: dict) -> dict:
    """A validation score for the metadata: NaN (a progression without bins) as null."""
    return {"accuracy": score["accuracy"],
            "progression": {q: v if np.isfinite(v) else None for q, v in score["progression"].items()}}


def choose_generator(model: Model, data: TrainingSet, progress: bool = True) -> dict:
    """Choose, on the validation split, how the folder generates, and rewrite it so.

    1. Per class, the kernel density's input bandwidth (:data:`kernel_density.INPUT_BANDWIDTHS`)
       and whether it moves its neighbours by the mean network
       (:meth:`~kernel_density.KernelDensity.unadjusted`), by the validation scores of their
       generated curves (:func:`validation_scores`, :func:`choose_kernel`): a classifier tells
       them from the real curves least often, and the plain estimator only where it also keeps
       the shape-period progression. Why not the cross-validated kernel regression the
       density is fitted with: it predicts the mean residual, not whole curves, and for RR
       Lyrae it took the widest bandwidth (1.6), pairing a star's physics with any RR Lyra's
       shape. Measured on the test split of a 32-dimensional model: RRLYR 0.636 at 1.6, 0.603
       at 0.2, 0.589 at 0.1; CEP 0.616 at 0.2, 0.597 at 0.1.
    2. The density (mixture or kernel) of the lower mean accuracy over the classes judged:
       what :attr:`PhysicsMap.default_regressor` then names.

    Both choices and their scores go into the folder's metadata; returns them."""
    val = data.split_part("val")
    predictors = model.physics.predictors
    kernels = {name.partition("/")[0]: p for name, p in predictors.items()
               if name.endswith(f"/{kernel_density.KIND}")}
    variants = {cls: {True: p, False: p.unadjusted()} for cls, p in kernels.items() if p.adjusted}
    chosen = {cls: (p.adjusted, float(p.arrays["bandwidth_x"])) for cls, p in kernels.items()}
    scores: dict[str, dict[tuple[bool, float], dict]] = {}
    tries = [(adjusted, h) for adjusted in (True, False) for h in kernel_density.INPUT_BANDWIDTHS]
    for adjusted, bandwidth in tqdm(tries, desc="kernel density", unit="try", disable=not progress):
        for cls, by_adjustment in variants.items():
            predictors[f"{cls}/{kernel_density.KIND}"] = by_adjustment[adjusted]
            by_adjustment[adjusted].arrays["bandwidth_x"] = np.array(bandwidth)
        for cls, score in validation_scores(model, val, kernel_density.KIND).items():
            scores.setdefault(cls, {})[adjusted, bandwidth] = score
    chosen.update({cls: choose_kernel(by_try) for cls, by_try in scores.items()})
    for cls, by_adjustment in variants.items():
        adjusted, bandwidth = chosen[cls]
        predictors[f"{cls}/{kernel_density.KIND}"] = by_adjustment[adjusted]
        by_adjustment[adjusted].arrays["bandwidth_x"] = np.array(bandwidth)
    # the kernel's accuracies at its chosen tries were measured above (the same seeded draws)
    measured = {kernel_density.KIND: {cls: by_try[chosen[cls]] for cls, by_try in scores.items()}}
    densities = {kind: {cls: score["accuracy"] for cls, score in
                        (measured[kind] if kind in measured else validation_scores(model, val, kind)).items()}
                 for kind in DENSITY_KINDS}
    mean = {kind: float(np.mean(list(by_class.values()))) for kind, by_class in densities.items()
            if by_class}
    generator = min(mean, key=mean.get) if mean else model.physics.preferred
    density_record = model.metadata["physics"]["density"]
    density_record["kernel"]["chosen"] = (
        "bandwidth_x and the mean adjustment per class by curves generated from the validation "
        "stars' physics (classes of at least "
        f"{BANDWIDTH_CURVES} validation curves): the grouped two-sample accuracy against the real "
        f"ones (the widest bandwidth within {BANDWIDTH_TIE} of the best), mean-adjusted unless the "
        f"plain estimator is more than {BANDWIDTH_TIE} better and keeps the shape-period "
        "progression as well in R21, phi21 and R31; else by by-star cross-validation of the "
        "kernel regression of the residuals, mean-adjusted")
    density_record["kernel"]["bandwidth_choice"] = {
        cls: {"scores": {f"{'adjusted' if adjusted else 'plain'} {h}": _json_ready(score)
                         for (adjusted, h), score in by_try.items()},
              "chosen": chosen[cls][1], "mean_adjusted": chosen[cls][0]}
        for cls, by_try in scores.items()}
    density_record["generator"] = generator
    density_record["generator_choice"] = {
        "rule": "the density whose generated validation curves a classifier tells from the real "
                "ones least often, on average over the classes judged",
        "accuracy": densities, "mean": mean}
    _rewrite(model, model.metadata, {storage.REGRESSORS_FILE: save_predictors(predictors)})
    return {"kernels": scores, "densities": densities, "generator": generator}


def calibrate_inference(folder=None, data_root=None, per_group: int = recalibration.CALIBRATION_STARS,
                        seed: int = 0, sparse=SPARSE_EPOCHS, progress: bool = True) -> dict:
    """Fit the recalibration of the inverse problem's Teff intervals
    (:mod:`.inference.recalibration`) on the validation split's stars of known Teff read from
    ``data_root``, store it with the references' cross-validated kernel scales
    (:func:`.inference.reference.scale_records`), and rewrite the model folder with them.
    Returns what was stored."""
    model = load_model(folder)
    scales = scale_records(model, progress)
    pits = teff_pits(model, paths.data_root(data_root), per_group, seed, "val", sparse, progress)
    content = recalibration.fit(pits, {
        "split": "val", "groups": list(TEFF_GROUPS), "per_group": per_group, "seed": seed,
        "epochs": ["all", *sparse], "pit_definition": "the raw Teff posterior's distribution function at "
                                                      "each curve's catalogue Teff"})
    content["kernel_scales"] = scales
    _rewrite(model, model.metadata,
             {storage.INFERENCE_CALIBRATION_FILE: json.dumps(content, indent=1).encode()})
    return content


def report_files(results: dict, curves: pd.DataFrame) -> dict[str, bytes]:
    """The report's files by name, as they sit under ``report/``: numbers, Markdown, figures."""
    shapes = pd.DataFrame(results["morph_generated"])
    real = pd.DataFrame(results["morph_real"])
    return {"evaluation.json": json.dumps(results, indent=2, default=float).encode(),
            "report.md": report.report_markdown(results).encode(),
            report.MORPH_FIGURE: figures.morph_figure(curves, shapes),
            report.SHAPES_FIGURE: figures.shapes_figure(shapes, real),
            **figures.fidelity_figures(results)}


def evaluate(folder=None, data_root=None, cache_dir=None, regressor: str | None = None, compare=None,
             out: Path | None = None, progress: bool = True) -> dict:
    """Measure the model in ``folder`` on its real test stars (:func:`suite.evaluate`) and store
    the report (:func:`store_report`). ``compare``: another model folder for the regressor
    table. Returns the results."""
    model = load_model(folder)
    data = model_training_set(model, data_root, cache_dir, progress)
    results, curves = suite.evaluate(model, data, regressor=regressor, progress=progress,
                                     compare=load_model(compare) if compare else None)
    results["priors"] = simulation_priors(model, data_root)
    store_report(model, results, curves, out)
    return results


def simulation_priors(model: Model, data_root=None) -> dict:
    """What ``pelsvae simulate`` draws its stars' physics from, tested against held-out real
    stars (:func:`pelsvae_core.simulate.priors.prior_report`), and where its cross-match
    came from (or why it was not read)."""
    xmatch, source = cross_match(data_root)
    log.info("testing the simulation priors against held-out real physics")
    table = prior_report(model, xmatch, sorted(model.class_physics))
    return {"source": source, "rows": table.to_dict("records"), "draws": PRIOR_REPORT_DRAWS,
            "folds": FOLDS, "held_out_share": XMATCH_HOLDOUT}


def store_report(model: Model, results: dict, curves: pd.DataFrame, out: Path | None = None) -> None:
    """Write the report into the model folder's ``report/`` (checksummed, with the checksums of
    the files it measured), or, with ``out``, into that plain folder instead."""
    files = report_files(results, curves)
    if out is not None:
        for name, content in files.items():
            with atomic_path(Path(out) / name) as tmp:
                tmp.write_bytes(content)
        return
    measured = storage.content_checksums({
        storage.CONFIG: storage.config_bytes(model.config),
        **storage.read_files(model.folder, storage.MEASURED[1:])})
    files[Path(storage.MEASURED_FILE).name] = json.dumps(measured, indent=2).encode()
    _rewrite(model, model.metadata, {f"{storage.REPORT_DIR}/{n}": c for n, c in files.items()})
