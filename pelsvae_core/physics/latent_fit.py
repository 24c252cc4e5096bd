"""Fitting the physics -> latent map of a trained model (paper Sect. 4.2, and a density).

Each class gets its own regressors (linear, random forest, MLP) on the
parameters its training curves carry, and two conditional densities of the same
targets (``"mdn"``, :mod:`.density`; ``"kernel"``, :mod:`.kernel_density`). Targets are
the latent vector and the log10 amplitude (so generated curves come out in magnitudes). The paper's
regressors learn from its regression set (repeated physical vectors with fresh
dummies, latents drawn from the encoder's N(mu, sigma)); the densities learn from
the posterior means, the positions of the stars themselves. Either way the encoder reads
each curve's own order-8 Fourier fit, not its noisy points (:data:`TARGET_ORDER`).

Classes with subtypes (:attr:`ClassPhysics.subtypes`) also tell the densities each
curve's subtype (a one-hot, all zeros where the survey does not say), and get
P(subtype | physics, band) (:mod:`.subtype_model`), fitted on the curves whose
subtype is known and stored with each density.

Curves whose survey label or period lies outside their class's period limits in the OGLE-III
catalogue (:func:`pelsvae_core.data.relations.outside_class_periods`: Catalina "type II
Cepheids" at 0.3-0.9 d) are left out of every fit and of the class's ranges, as of the inverse
problem's priors: the decoder may have learnt them, but the physics map does not send a type II
Cepheid's physics to their latents.

Validation uses the model's own by-star split: everything is fit on ``train``
curves and scored on ``val`` curves, never on stars it saw (paper Table 3,
without the original's in-sample errors), against their posterior means: the
point prediction's RMSE and R^2, the likelihood (:func:`family_log_prob` gives
the point regressors one), and the coverage of the sampled 16-84 % interval; the
subtype model by its accuracy beside that of always naming the commonest subtype.
"""
from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from .. import fourier
from ..data.dataset import TrainingSet
from ..data.relations import outside_class_periods
from .classes import PARAMETERS, ClassPhysics, describe_class, physics_matrix
from .density import KIND as MIXTURE_KIND
from .density import MixtureDensity, fit_density, gaussian_log_prob
from .kernel_density import KIND as KERNEL_KIND
from .kernel_density import KernelDensity, fit_kernel_density
from .regressors import DENSITY_KINDS, KINDS, Predictor, make_estimator, with_dummy
from .subtype_model import SubtypeModel, fit_subtype_model

log = logging.getLogger(__name__)

#: Paper Sect. 4.2 uses 100 dummy repeats x 10 latent draws per star; fewer keep the forests small.
REPEATS = 10
#: The fits learn the latent vectors of the training curves' own Fourier fits of this order (the
#: encoder reads the fit at the curve's phases), not of the noisy points: a decoder with the
#: detail real curves need also learns its training curves' noise, and a generator that
#: hands it on draws shapes no star has. Measured (grouped two-sample accuracy of generated
#: against real test curves, 32-dimensional model, kernel density): CEP 0.629 -> 0.616,
#: ECL 0.617 -> 0.592, LPV 0.695 -> 0.583, RRLYR 0.681 -> 0.636. Order 8: the reference the
#: same test scores near 0.5 (:mod:`pelsvae_core.evaluation.fidelity`).
TARGET_ORDER = 8
#: Phases on which a kernel donor's decoded shape is compared with its own curve
#: (:func:`faithful_rows`).
DONOR_PHASES = np.linspace(0.0, 1.0, 256, endpoint=False)
#: How far, in standard errors of a curve's own Fourier fit, its decoded latent vector may
#: depart from that fit over the whole cycle (RMS) for the curve to start kernel draws
#: (:func:`faithful_rows`). Measured on models/default (validation split, the CEP kernel
#: refitted, grouped two-sample accuracy of generated V / I curves): every donor 0.642 /
#: 0.531; at most 3: 0.582 / 0.529; 5: 0.607 / 0.542; 8: 0.607 / 0.537. At 3, every band of
#: every class keeps kernels (the fewest: RR Lyrae in Gaia BP and RP, 35 of 64 and 30 of 57);
#: a fixed 0.03 (normalised magnitudes) did as well for the Cepheids but kept no BP or RP curve.
DONOR_SIGMAS = 3.0
#: Draws per validation curve for the coverage of the 16-84 % interval.
COVERAGE_DRAWS = 100
#: The fit of each conditional density kind (:data:`.regressors.DENSITY_KINDS`).
DENSITY_FITS = {MIXTURE_KIND: fit_density, KERNEL_KIND: fit_kernel_density}


class Rows(NamedTuple):
    """A class's curves as the fits see them."""

    x: np.ndarray              # regressor inputs: physics and band, no dummy, no subtype
    subtype: np.ndarray        # (n,) str, "unknown" where the survey does not say
    mu: np.ndarray             # posterior mean
    logvar: np.ndarray         # posterior log-variance
    log_amplitude: np.ndarray  # log10 amplitude (mag)
    stars: np.ndarray          # star keys
    bands: np.ndarray          # (n,) str, the band of each curve
    faithful: np.ndarray | None = None  # (n,) bool: may start kernel draws (:func:`faithful_rows`)

    def density_x(self, info: ClassPhysics) -> np.ndarray:
        """The density's inputs: :attr:`x` and the subtype one-hot."""
        return info.with_subtypes(self.x, self.subtype)

    def donor_counts(self) -> dict[str, tuple[int, int]]:
        """Per band, how many curves may start kernel draws and of how many (empty when the
        rows were not judged: :func:`class_rows` with ``donors=False``)."""
        if self.faithful is None:
            return {}
        return {str(b): (int(self.faithful[self.bands == b].sum()), int((self.bands == b).sum()))
                for b in np.unique(self.bands)}

    def known_subtypes(self, info: ClassPhysics) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose subtype is one of the class's, and that subtype's index."""
        known = np.isin(self.subtype, info.subtypes)
        return known, np.array([info.subtypes.index(s) for s in self.subtype[known]], dtype=int)


def class_rows(decoder, data: TrainingSet, info: ClassPhysics,
               target_order: int | None = TARGET_ORDER, donors: bool = False) -> Rows | None:
    """The class's curves with all its parameters in its bands (:class:`Rows`), their latent
    vectors those of their own order-``target_order`` Fourier fits (None: of the curves);
    ``donors``: also which may start kernel draws (:func:`faithful_rows`: a decode and Fourier
    fits per curve, wanted for the rows a kernel density is fitted on, not for the others)."""
    columns = [PARAMETERS.index(p) for p in info.parameters]
    physics = physics_matrix(data)[:, columns]
    keep = np.isfinite(physics).all(axis=1) & np.isin(data.band, [data.bands.index(b) for b in info.bands])
    part = data.subset(keep)
    if not len(part):
        return None
    mu, logvar = decoder.encode(part if target_order is None else part.smoothed(target_order))
    bands = np.array([data.bands[b] for b in part.band])
    x = info.regressor_inputs(physics[keep], list(bands))
    return Rows(x, part.subtype, mu, logvar, np.log10(part.amplitude.astype(np.float64)), part.star_key,
                bands, faithful_rows(decoder, part, mu) if donors else None)


def whole_cycle_departure(decoder, part: TrainingSet, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per curve, the RMS over :data:`DONOR_PHASES` of its decoded latent vector ``mu`` less its
    own Fourier fit (:func:`pelsvae_core.fourier.fit_by_bic` on its observations), both about
    their means, in normalised magnitudes; and that fit's standard error, as an RMS over its
    observations: the RMS residual times sqrt(k / n) for k coefficients and n points (the
    hat matrix of a least-squares fit has trace k, so its fitted values have mean variance
    sigma^2 k / n; Hoaglin & Welsch 1978, Am. Stat. 32, 17)."""
    decoded = np.empty((len(part), DONOR_PHASES.size))
    for b in np.unique(part.band):
        rows = part.band == b
        decoded[rows] = decoder.decode(mu[rows], part.cls[rows], np.tile(DONOR_PHASES, (rows.sum(), 1)),
                                       part.bands[b])[0]
    own = np.empty_like(decoded)
    standard_error = np.empty(len(part))
    for i, m in enumerate(part.mask):
        phase, mag = part.phase[i][m], part.mag[i][m]
        coeffs = fourier.fit_by_bic(phase, mag, part.err[i][m], TARGET_ORDER)
        own[i] = fourier.evaluate(coeffs, DONOR_PHASES)
        residual = mag - fourier.evaluate(coeffs, phase)
        standard_error[i] = np.sqrt(np.mean(residual ** 2) * coeffs.size / phase.size)
    difference = (decoded - decoded.mean(1, keepdims=True)) - (own - own.mean(1, keepdims=True))
    return np.sqrt((difference ** 2).mean(1)), standard_error


def faithful_rows(decoder, part: TrainingSet, mu: np.ndarray) -> np.ndarray:
    """Which curves' latent vectors decode to their own curve over the whole cycle, within
    :data:`DONOR_SIGMAS` standard errors of their own fit (:func:`whole_cycle_departure`),
    not only at the phases they were observed at: the curves a kernel draw may start from.

    Why: the kernel density generates a star by moving a training curve's latent vector to new
    physics. The decoder is free between a curve's observations, and for sparse curves
    (OGLE's LMC Cepheids in V: 36-86 points against 300 in I) it puts detail there that no
    point constrains (power in harmonics 7-12 5-23x that of the same stars in I,
    ``benchmarks/donor_detail.py``); moved to another star and seen at its phases, that detail
    is what made generated V Cepheids easy to tell from real ones (:data:`DONOR_SIGMAS`).
    In standard errors, not magnitudes, so that noisy curves (Gaia BP and RP, Catalina's
    Miras) are held to what their points can say. A class none of whose curves passes keeps
    them all (a warning says so)."""
    departure, standard_error = whole_cycle_departure(decoder, part, mu)
    faithful = departure <= DONOR_SIGMAS * standard_error
    if not faithful.any():
        log.warning("no curve of %d decodes within %g standard errors of its own fit; every one "
                    "stays a kernel", len(part), DONOR_SIGMAS)
        return np.ones(len(part), dtype=bool)
    return faithful


def _regression_set(x, mu, logvar, log_amplitude, repeats: int, rng: np.random.Generator):
    """The paper's regression set: repeated physical vectors with fresh dummies, z ~ N(mu, sigma)."""
    inputs, targets = [], []
    for _ in range(repeats):
        z = mu + rng.standard_normal(mu.shape) * np.exp(0.5 * logvar)
        inputs.append(with_dummy(x, rng.uniform(0, 1, len(x))))
        targets.append(np.column_stack([z, log_amplitude]))
    return np.concatenate(inputs), np.concatenate(targets)


def _fit_kind(kind: str, rows: Rows, info: ClassPhysics, seed: int, repeats: int = REPEATS,
              progress: bool = False, desc: str = ""):
    """One class's predictor of ``kind`` from its training rows (:func:`class_rows`); the
    paper's kinds all see the same regression set, drawn under ``seed``. A density of a class
    with subtypes is told them, and carries P(subtype | physics, band) (:mod:`.subtype_model`)."""
    if kind in DENSITY_KINDS:
        kernels = {"kernels": rows.faithful} if kind == KERNEL_KIND else {}
        density = DENSITY_FITS[kind](rows.density_x(info), np.column_stack([rows.mu, rows.log_amplitude]),
                                     rows.stars, seed=seed, progress=progress, desc=desc, **kernels)
        if kernels and rows.faithful is not None:
            log.info("%s: %d of %d training curves start kernel draws (the others depart more than "
                     "%g standard errors from their own fit)", desc, rows.faithful.sum(),
                     len(rows.faithful), DONOR_SIGMAS)
        if info.subtypes:
            known, labels = rows.known_subtypes(info)
            density.arrays.update(fit_subtype_model(rows.x[known], labels, len(info.subtypes)).prefixed())
        return density
    x_train, y_train = _regression_set(rows.x, rows.mu, rows.logvar, rows.log_amplitude, repeats,
                                       np.random.default_rng(seed))
    scaler = StandardScaler().fit(x_train)
    scaler.scale_[scaler.scale_ == 0] = 1.0
    estimator = make_estimator(kind, seed).fit(scaler.transform(x_train), y_train)
    return Predictor.from_sklearn(kind, scaler, estimator)


def fit_regressors(decoder, data: TrainingSet, kinds=KINDS, seed: int = 0, repeats: int = REPEATS,
                   progress: bool = True, target_order: int | None = TARGET_ORDER):
    """Fit every kind for every class; return predictors, class descriptions and a metrics
    table. ``target_order``: see :func:`class_rows`."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown regressor(s) {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
    doubtful = outside_class_periods(np.asarray(data.classes)[data.cls],
                                     10.0 ** data.log_period.astype(float))
    if doubtful.any():
        log.info("%d curves of doubtful label or period left out of the physics fit",
                 int((doubtful & ~data.augmented).sum()))
    data = data.subset(~doubtful)
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
        fit_rows = class_rows(decoder, train.subset(train.cls == c), info, target_order, donors=True)
        if fit_rows is not None:
            info.donors = fit_rows.donor_counts()
        val_rows = class_rows(decoder, val.subset(val.cls == c), info, target_order)
        for kind in kinds:
            bar.set_postfix_str(f"{cls} {kind}")
            bar.update()
            if fit_rows is None or (kind in DENSITY_KINDS and len(np.unique(fit_rows.stars)) < 2):
                continue  # no curve; a density also needs two stars, one held out to stop early
            predictor = _fit_kind(kind, fit_rows, info, seed, repeats, progress, f"{cls} {kind}")
            predictors[f"{cls}/{kind}"] = predictor
            if val_rows is not None:
                x_val = val_rows.density_x(info) if kind in DENSITY_KINDS else val_rows.x
                y_val = np.column_stack([val_rows.mu, val_rows.log_amplitude])
                subtype_model = SubtypeModel.from_prefixed(predictor.arrays)
                rows.append({"class": cls, "regressor": kind, "n_val": len(x_val),
                             **validation_scores(predictor, x_val, y_val, np.random.default_rng(seed)),
                             **({} if subtype_model is None else
                                subtype_scores(subtype_model, info, fit_rows, val_rows))})
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


def validation_scores(predictor: Predictor | MixtureDensity | KernelDensity, x: np.ndarray, y: np.ndarray,
                      rng: np.random.Generator) -> dict[str, float]:
    """Scores on validation curves: inputs ``x`` (no dummy), targets ``y`` = (posterior mean,
    log10 amplitude). RMSE and R^2 of the latent part and RMSE of log10 amplitude for the point
    prediction (``mean``); mean negative log-likelihood per curve, joint and of log10 amplitude
    alone (nats); the fraction of targets inside the 16-84 % interval of
    :data:`COVERAGE_DRAWS` draws (0.68 for a calibrated spread) and the median width of that
    interval in log10 amplitude."""
    latent = slice(0, y.shape[1] - 1)
    mean = predictor.mean(x)
    if predictor.kind in DENSITY_KINDS:
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


def subtype_scores(model: SubtypeModel, info: ClassPhysics, train: Rows, val: Rows) -> dict:
    """The subtype model on the validation curves whose subtype is known: the fraction whose
    most probable subtype is theirs, beside the fraction a model always naming the training
    curves' commonest subtype gets (what the physics and band add), and how many curves."""
    known, labels = val.known_subtypes(info)
    commonest = np.bincount(train.known_subtypes(info)[1], minlength=len(info.subtypes)).argmax()
    predicted = model.log_probabilities(val.x[known]).argmax(1)
    return {"subtype_accuracy": float(np.mean(predicted == labels)) if len(labels) else float("nan"),
            "subtype_commonest": float(np.mean(labels == commonest)) if len(labels) else float("nan"),
            "n_subtype_val": int(len(labels))}
