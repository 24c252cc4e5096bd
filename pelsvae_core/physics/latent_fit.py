"""Fitting the physics -> latent regressors on a trained model, and describing each class's physics.

Each class gets its own regressors (linear, random forest, MLP) on the
parameters its training curves carry. Targets are the latent vector and the
log10 amplitude (so generated curves come out in magnitudes). Validation uses
the model's own by-star split: regressors fit on ``train`` curves, are scored on
``val`` curves, never on stars they saw (paper Table 3, without the original's
in-sample errors).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from .data.dataset import TrainingSet
from .regressors import (KINDS, MIN_CURVES_WITH_PARAMETER, PARAMETERS, Predictor, design,
                         make_estimator)

#: Paper Sect. 4.2 uses 100 dummy repeats x 10 latent draws per star; fewer keep the forests small.
REPEATS = 10


@dataclass
class ClassPhysics:
    """Which parameters a class responds to, in which bands, and their real ranges."""

    cls: str
    parameters: tuple[str, ...]
    bands: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]   # min and max over the training stars
    typical: dict[str, float]                # median over the training stars
    n_stars: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ClassPhysics":
        return cls(cls=data["cls"], parameters=tuple(data["parameters"]), bands=tuple(data["bands"]),
                   ranges={k: tuple(v) for k, v in data["ranges"].items()},
                   typical=data["typical"], n_stars=data["n_stars"])


def physics_matrix(data: TrainingSet) -> np.ndarray:
    return np.column_stack([data.teff, data.abs_mag, data.log_period]).astype(np.float64)


def describe_class(data: TrainingSet, c: int) -> ClassPhysics | None:
    """Parameters with enough training curves, the bands those curves are in, their ranges."""
    real = data.subset((data.cls == c) & ~data.augmented & (data.split == "train"))
    if not len(real):
        return None
    physics = physics_matrix(real)
    known = np.isfinite(physics)
    parameters = tuple(p for i, p in enumerate(PARAMETERS) if known[:, i].sum() >= MIN_CURVES_WITH_PARAMETER)
    if "log_period" not in parameters:
        parameters = ("log_period",)
    columns = [PARAMETERS.index(p) for p in parameters]
    usable = known[:, columns].all(axis=1)
    values = physics[usable][:, columns]
    return ClassPhysics(
        cls=data.classes[c], parameters=parameters,
        bands=tuple(sorted({data.bands[b] for b in real.band[usable]})),
        ranges={p: (float(values[:, i].min()), float(values[:, i].max())) for i, p in enumerate(parameters)},
        typical={p: float(np.median(values[:, i])) for i, p in enumerate(parameters)},
        n_stars=int(len(set(real.star_key[usable]))))


def _samples(model, data: TrainingSet, info: ClassPhysics, repeats: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The paper's regression set: repeated physical vectors with fresh dummies, z ~ N(mu, sigma)."""
    columns = [PARAMETERS.index(p) for p in info.parameters]
    physics = physics_matrix(data)[:, columns]
    keep = np.isfinite(physics).all(axis=1) & np.isin(data.band, [data.bands.index(b) for b in info.bands])
    part = data.subset(keep)
    if not len(part):
        return np.empty((0, 0)), np.empty((0, 0))
    mu, logvar = model.encode(part)
    band_onehot = (part.band[:, None] == np.array([data.bands.index(b) for b in info.bands])).astype(float)
    x, y = [], []
    for _ in range(repeats):
        z = mu + rng.standard_normal(mu.shape) * np.exp(0.5 * logvar)
        x.append(design(physics[keep], band_onehot, rng.uniform(0, 1, len(part))))
        y.append(np.column_stack([z, np.log10(part.amplitude)]))
    return np.concatenate(x), np.concatenate(y)


def fit_regressors(model, data: TrainingSet, kinds=KINDS, seed: int = 0, repeats: int = REPEATS,
                   progress: bool = True):
    """Fit every kind for every class; return predictors, class descriptions and a metrics table."""
    rng = np.random.default_rng(seed)
    train = data.subset((data.split == "train") & ~data.augmented)
    val = data.split_part("val")
    predictors, infos, rows = {}, {}, []
    bar = tqdm(total=len(data.classes) * len(kinds), desc="regressors", unit="fit",
               disable=not progress)
    for c, cls in enumerate(data.classes):
        info = describe_class(data, c)
        if info is None:
            bar.update(len(kinds))
            continue
        infos[cls] = info
        x_train, y_train = _samples(model, train.subset(train.cls == c), info, repeats, rng)
        x_val, y_val = _samples(model, val.subset(val.cls == c), info, 1, rng)
        for kind in kinds:
            bar.set_postfix_str(f"{cls} {kind}")
            bar.update()
            if not len(x_train):
                continue
            scaler = StandardScaler().fit(x_train)
            scaler.scale_[scaler.scale_ == 0] = 1.0
            estimator = make_estimator(kind, seed).fit(scaler.transform(x_train), y_train)
            predictor = Predictor.from_sklearn(kind, scaler, estimator)
            predictors[f"{cls}/{kind}"] = predictor
            if len(x_val):
                rows.append({"class": cls, "regressor": kind, "n_val": len(x_val),
                             **_validation_scores(predictor.predict(x_val), y_val)})
    bar.close()
    return predictors, infos, pd.DataFrame(rows)


def _validation_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """RMSE and R^2 of the latent part (all columns but the last), RMSE of log10 amplitude."""
    latent = slice(0, truth.shape[1] - 1)
    return {"rmse_latent": float(np.sqrt(np.mean((pred[:, latent] - truth[:, latent]) ** 2))),
            "r2_latent": float(r2_score(truth[:, latent], pred[:, latent]))
            if len(truth) > 1 else float("nan"),
            "rmse_log_amplitude": float(np.sqrt(np.mean((pred[:, -1] - truth[:, -1]) ** 2)))}


def _training_inputs(model, data_root=None, cache_dir=None, progress: bool = True):
    """The cache and the training set, with the same splits and augmentation, ``model`` was trained on."""
    from .data import cache
    from .data.dataset import DatasetConfig, build_training_set
    from .data.preprocess import PreprocessConfig

    dataset_cfg = DatasetConfig(**{k: tuple(v) if isinstance(v, list) else v
                                   for k, v in model.metadata["dataset_config"].items()})
    loaded = cache.load(data_root, cache_dir, PreprocessConfig(n_points=dataset_cfg.n_points),
                        progress=progress)
    return loaded, build_training_set(loaded.kept, dataset_cfg)


def model_training_set(model, data_root=None, cache_dir=None, progress: bool = True) -> TrainingSet:
    """The training set, with the same splits and augmentation, that ``model`` was trained on."""
    return _training_inputs(model, data_root, cache_dir, progress)[1]


def fit_into_folder(folder=None, data_root=None, cache_dir=None, kinds=KINDS, seed: int = 0,
                    progress: bool = True):
    """Fit regressors for the model in ``folder`` on its own training data and splits, the
    survey error models on its training stars, the class references on the Gaia cross-match,
    and rewrite the folder with them and the real curves' latent vectors (atomically).
    Returns the validation metrics table."""
    import io

    from . import paths
    from .api import LATENTS_FILE, REGRESSORS_FILE, load_model
    from .data.surveys import DataRoot
    from .latents import latent_table
    from .model.storage import WEIGHTS, save_folder
    from .noise import fit_error_models
    from .reference import class_references
    from .regressors import save_predictors

    model = load_model(folder)
    loaded, data = _training_inputs(model, data_root, cache_dir, progress)
    predictors, infos, table = fit_regressors(model, data, kinds, seed, progress=progress)
    train_stars = set(data.star_key[(data.split == "train") & ~data.augmented])
    error_models = fit_error_models(loaded.kept[loaded.kept["star_key"].isin(train_stars)])
    references = class_references(DataRoot(paths.data_root(data_root)).gaia_xmatch)
    metadata = {**model.metadata, "physics": {
        "classes": {cls: info.to_dict() for cls, info in infos.items()},
        "regressor_validation": table.to_dict(orient="records"),
        "regressor_format": "npz arrays read with allow_pickle=False; evaluated in NumPy",
        "repeats": REPEATS, "seed": seed,
        "error_models": {key: m.to_dict() for key, m in error_models.items()},
        "references": {cls: r.to_dict() for cls, r in references.items() if cls in model.classes}}}
    for key in ("library_versions", "git_commit"):
        metadata.pop(key, None)
    latents = io.BytesIO()
    latent_table(model, data.subset(~data.augmented)).to_parquet(latents, index=False)
    save_folder(model.folder, model.network, metadata,
                extra_files={REGRESSORS_FILE: save_predictors(predictors),
                             LATENTS_FILE: latents.getvalue()},
                weights=(model.folder / WEIGHTS).read_bytes())
    return table
