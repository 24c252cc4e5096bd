"""Fitting the physics -> latent regressors of a trained model (paper Sect. 4.2).

Each class gets its own regressors (linear, random forest, MLP) on the
parameters its training curves carry. Targets are the latent vector and the
log10 amplitude (so generated curves come out in magnitudes). Validation uses
the model's own by-star split: regressors fit on ``train`` curves, are scored on
``val`` curves, never on stars they saw (paper Table 3, without the original's
in-sample errors).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from ..data.dataset import TrainingSet
from .classes import PARAMETERS, ClassPhysics, describe_class, physics_matrix
from .regressors import KINDS, Predictor, make_estimator

#: Paper Sect. 4.2 uses 100 dummy repeats x 10 latent draws per star; fewer keep the forests small.
REPEATS = 10


def _samples(decoder, data: TrainingSet, info: ClassPhysics, repeats: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The paper's regression set: repeated physical vectors with fresh dummies, z ~ N(mu, sigma)."""
    columns = [PARAMETERS.index(p) for p in info.parameters]
    physics = physics_matrix(data)[:, columns]
    keep = np.isfinite(physics).all(axis=1) & np.isin(data.band, [data.bands.index(b) for b in info.bands])
    part = data.subset(keep)
    if not len(part):
        return np.empty((0, 0)), np.empty((0, 0))
    mu, logvar = decoder.encode(part)
    bands = [data.bands[b] for b in part.band]
    x, y = [], []
    for _ in range(repeats):
        z = mu + rng.standard_normal(mu.shape) * np.exp(0.5 * logvar)
        x.append(info.regressor_inputs(physics[keep], bands, rng.uniform(0, 1, len(part))))
        y.append(np.column_stack([z, np.log10(part.amplitude)]))
    return np.concatenate(x), np.concatenate(y)


def fit_regressors(decoder, data: TrainingSet, kinds=KINDS, seed: int = 0, repeats: int = REPEATS,
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
        x_train, y_train = _samples(decoder, train.subset(train.cls == c), info, repeats, rng)
        x_val, y_val = _samples(decoder, val.subset(val.cls == c), info, 1, rng)
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
