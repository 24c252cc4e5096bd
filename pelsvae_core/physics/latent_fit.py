"""Fitting the physics -> latent map of a trained model (paper Sect. 4.2, and a density).

Each class gets its own regressors (linear, random forest, MLP) on the
parameters its training curves carry, and a conditional density (``"mdn"``,
:mod:`.density`) of the same targets. Targets are the latent vector and the
log10 amplitude (so generated curves come out in magnitudes). The paper's
regressors learn from its regression set (repeated physical vectors with fresh
dummies, latents drawn from the encoder's N(mu, sigma)); the density learns from
the posterior means of the real curves, the positions of the stars themselves.

Validation uses the model's own by-star split: everything is fit on ``train``
curves and scored on ``val`` curves, never on stars it saw (paper Table 3,
without the original's in-sample errors), against their posterior means: the
point prediction's RMSE and R^2, the likelihood (:func:`family_log_prob` gives
the point regressors one), and the coverage of the sampled 16-84 % interval.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from ..data.dataset import TrainingSet
from .classes import PARAMETERS, ClassPhysics, describe_class, physics_matrix
from .density import KIND as DENSITY_KIND
from .density import MixtureDensity, fit_density, gaussian_log_prob
from .regressors import KINDS, Predictor, make_estimator, with_dummy

#: Paper Sect. 4.2 uses 100 dummy repeats x 10 latent draws per star; fewer keep the forests small.
REPEATS = 10
#: Draws per validation curve for the coverage of the 16-84 % interval.
COVERAGE_DRAWS = 100


def _class_rows(decoder, data: TrainingSet, info: ClassPhysics):
    """The class's curves with all its parameters in its bands: inputs (physics and band, no
    dummy), posterior mean and log-variance, log10 amplitude and star."""
    columns = [PARAMETERS.index(p) for p in info.parameters]
    physics = physics_matrix(data)[:, columns]
    keep = np.isfinite(physics).all(axis=1) & np.isin(data.band, [data.bands.index(b) for b in info.bands])
    part = data.subset(keep)
    if not len(part):
        return None
    mu, logvar = decoder.encode(part)
    x = info.regressor_inputs(physics[keep], [data.bands[b] for b in part.band])
    return x, mu, logvar, np.log10(part.amplitude.astype(np.float64)), part.star_key


def _regression_set(x, mu, logvar, log_amplitude, repeats: int, rng: np.random.Generator):
    """The paper's regression set: repeated physical vectors with fresh dummies, z ~ N(mu, sigma)."""
    inputs, targets = [], []
    for _ in range(repeats):
        z = mu + rng.standard_normal(mu.shape) * np.exp(0.5 * logvar)
        inputs.append(with_dummy(x, rng.uniform(0, 1, len(x))))
        targets.append(np.column_stack([z, log_amplitude]))
    return np.concatenate(inputs), np.concatenate(targets)


def _fit_kind(kind: str, rows, seed: int, repeats: int = REPEATS, progress: bool = False, desc: str = ""):
    """One class's predictor of ``kind`` from its training rows (:func:`_class_rows`); the
    paper's kinds all see the same regression set, drawn under ``seed``."""
    x, mu, logvar, log_amplitude, stars = rows
    if kind == DENSITY_KIND:
        return fit_density(x, np.column_stack([mu, log_amplitude]), stars, seed=seed,
                           progress=progress, desc=desc)
    x_train, y_train = _regression_set(x, mu, logvar, log_amplitude, repeats, np.random.default_rng(seed))
    scaler = StandardScaler().fit(x_train)
    scaler.scale_[scaler.scale_ == 0] = 1.0
    estimator = make_estimator(kind, seed).fit(scaler.transform(x_train), y_train)
    return Predictor.from_sklearn(kind, scaler, estimator)


def fit_regressors(decoder, data: TrainingSet, kinds=KINDS, seed: int = 0, repeats: int = REPEATS,
                   progress: bool = True):
    """Fit every kind for every class; return predictors, class descriptions and a metrics table."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown regressor(s) {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
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
        fit_rows = _class_rows(decoder, train.subset(train.cls == c), info)
        val_rows = _class_rows(decoder, val.subset(val.cls == c), info)
        for kind in kinds:
            bar.set_postfix_str(f"{cls} {kind}")
            bar.update()
            if fit_rows is None or (kind == DENSITY_KIND and len(np.unique(fit_rows[4])) < 2):
                continue  # no curve; the density also needs two stars, one held out to stop early
            predictor = _fit_kind(kind, fit_rows, seed, repeats, progress, f"{cls} {kind}")
            predictors[f"{cls}/{kind}"] = predictor
            if val_rows is not None:
                x_val, mu_val, _, log_amplitude_val, _ = val_rows
                y_val = np.column_stack([mu_val, log_amplitude_val])
                rows.append({"class": cls, "regressor": kind, "n_val": len(x_val),
                             **validation_scores(predictor, x_val, y_val, np.random.default_rng(seed))})
    bar.close()
    return predictors, infos, pd.DataFrame(rows)


def family_log_prob(family: np.ndarray, y: np.ndarray, dims: slice = slice(None)) -> np.ndarray:
    """Log-likelihood of ``y`` (n, D) under a point regressor's family (n, U, D) with Gaussian
    residuals: the mean over the U dummies of N(y; f(x, u), Sigma), Sigma the covariance of the
    residuals of these very rows (an oracle: it favours the point regressors). ``dims`` picks
    the target columns (their marginal)."""
    residual = (y[:, None, :] - family)[..., dims]
    flat = residual.reshape(-1, residual.shape[-1])
    tril = np.linalg.cholesky(np.atleast_2d(np.cov(flat.T)) + 1e-12 * np.eye(flat.shape[1]))
    return logsumexp(gaussian_log_prob(residual, tril, np), axis=1) - np.log(family.shape[1])


def validation_scores(predictor: Predictor | MixtureDensity, x: np.ndarray, y: np.ndarray,
                      rng: np.random.Generator) -> dict[str, float]:
    """Scores on validation curves: inputs ``x`` (no dummy), targets ``y`` = (posterior mean,
    log10 amplitude). RMSE and R^2 of the latent part and RMSE of log10 amplitude for the point
    prediction (``mean``); mean negative log-likelihood per curve, joint and of log10 amplitude
    alone (nats); the fraction of targets inside the 16-84 % interval of
    :data:`COVERAGE_DRAWS` draws (0.68 for a calibrated spread) and the median width of that
    interval in log10 amplitude."""
    latent = slice(0, y.shape[1] - 1)
    mean = predictor.mean(x)
    if isinstance(predictor, MixtureDensity):
        log_prob = predictor.log_prob(x, y)
        amplitude_log_prob = predictor.marginal_log_prob(x, y[:, -1], y.shape[1] - 1)
    else:
        family = predictor.family(x)
        log_prob = family_log_prob(family, y)
        amplitude_log_prob = family_log_prob(family, y, slice(-1, None))
    draws = np.stack([predictor.sample(x, rng) for _ in range(COVERAGE_DRAWS)], 1)
    low, high = np.percentile(draws, [16, 84], axis=1)
    return {"rmse_latent": float(np.sqrt(np.mean((mean[:, latent] - y[:, latent]) ** 2))),
            "r2_latent": float(r2_score(y[:, latent], mean[:, latent])) if len(y) > 1 else float("nan"),
            "rmse_log_amplitude": float(np.sqrt(np.mean((mean[:, -1] - y[:, -1]) ** 2))),
            "nll": float(-log_prob.mean()) if len(y) > 1 else float("nan"),
            "nll_log_amplitude": float(-amplitude_log_prob.mean()) if len(y) > 1 else float("nan"),
            "coverage_68": float(((y > low) & (y < high)).mean()),
            "width_log_amplitude": float(np.median(high[:, -1] - low[:, -1]))}
