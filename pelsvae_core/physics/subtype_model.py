"""P(subtype | physics, band) of a class: which mode or morphology a star with this physics is.

A multinomial logistic regression (a softmax of linear scores; Bishop 2006, Pattern
Recognition and Machine Learning, Sect. 4.3.4) on the class's standardised regressor
inputs (its parameters and the band one-hot, :meth:`.classes.ClassPhysics.regressor_inputs`),
fitted with scikit-learn on the training curves whose subtype is known and evaluated
here in NumPy. Generation draws a subtype from it wherever none is given, so an RR
Lyrae at 0.3 d comes out mostly RRc and one at 0.65 d mostly RRab, as in the data.

It is stored with the class's conditional density: its arrays sit among the density's
in ``regressors.npz`` under :data:`PREFIX` (plain arrays, read with
``allow_pickle=False``, like every predictor). The pair is the joint distribution of
(subtype, latent vector, amplitude) given physics and band that the density ``"mdn"``
stands for; the paper's point regressors take no subtype, and a model folder's
predictors are all of a regressor kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .density import categorical, logsumexp, standardised_inputs

#: Key prefix of the subtype model's arrays among its density's arrays.
PREFIX = "subtype_"
#: Inverse strength of the L2 penalty on the standardised inputs (scikit-learn's default C):
#: with at least :data:`.classes.MIN_CURVES_WITH_SUBTYPE` curves per subtype it shrinks the
#: coefficients little, and it keeps them finite where the inputs separate a subtype perfectly
#: (a band whose survey reports one subtype only), where the unpenalised fit diverges.
PENALTY_C = 1.0
#: L-BFGS iterations: the default 100 can stop short of convergence (with a warning) on inputs
#: as collinear as a band one-hot beside the physics; these fits are small enough to run to it.
MAX_ITER = 1000
#: The arrays: input standardisation (p,), coefficients (p, K) and intercepts (K,).
ARRAYS = ("x_mean", "x_scale", "coef", "intercept")


@dataclass
class SubtypeModel:
    """A fitted multinomial logistic regression as arrays (:data:`ARRAYS`); column k of
    ``coef`` scores the class's k-th subtype (:attr:`.classes.ClassPhysics.subtypes`)."""

    arrays: dict[str, np.ndarray]

    @property
    def n_subtypes(self) -> int:
        return int(self.arrays["intercept"].size)

    def log_probabilities(self, x: np.ndarray) -> np.ndarray:
        """log P(subtype k | x), (n, K), for regressor inputs ``x`` (n, p)."""
        a = self.arrays
        scores = standardised_inputs(a, x) @ a["coef"] + a["intercept"]
        return scores - logsumexp(scores, 1)[:, None]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_probabilities(x))

    def draw(self, inputs: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """One subtype index per row, drawn from the mean of the probabilities at each of
        ``inputs`` (one array per band a star is drawn in: one star, one subtype)."""
        return categorical(np.mean([self.probabilities(x) for x in inputs], axis=0), rng)

    def prefixed(self) -> dict[str, np.ndarray]:
        """The arrays as they sit among the density's (:data:`PREFIX`)."""
        return {PREFIX + k: np.asarray(v) for k, v in self.arrays.items()}

    @classmethod
    def from_prefixed(cls, arrays: dict[str, np.ndarray]) -> "SubtypeModel | None":
        """The model stored among a density's ``arrays``; None where there is none."""
        if PREFIX + "coef" not in arrays:
            return None
        return cls({k: arrays[PREFIX + k] for k in ARRAYS})


def fit_subtype_model(x: np.ndarray, labels: np.ndarray, n_subtypes: int) -> SubtypeModel:
    """Fit P(subtype | x) on regressor inputs ``x`` (n, p) and subtype indices ``labels``
    (n,) in 0..n_subtypes-1, each of which must occur (maximum penalised likelihood, L-BFGS)."""
    from sklearn.linear_model import LogisticRegression

    x, labels = np.asarray(x, np.float64), np.asarray(labels)
    if x.ndim != 2 or labels.shape != (len(x),) or not np.isfinite(x).all():
        raise ValueError(f"x (n, p) finite and labels (n,) must agree: {x.shape}, {labels.shape}")
    missing = sorted(set(range(n_subtypes)) - set(labels.tolist()))
    if n_subtypes < 2 or missing:
        raise ValueError(f"need every one of {n_subtypes} (>= 2) subtypes among the labels; "
                         f"missing {missing}")
    x_mean, x_scale = x.mean(0), x.std(0)
    x_scale[x_scale == 0] = 1.0
    fit = LogisticRegression(C=PENALTY_C, max_iter=MAX_ITER).fit((x - x_mean) / x_scale, labels)
    coef, intercept = fit.coef_.T, fit.intercept_
    if n_subtypes == 2:  # scikit-learn scores the second class against the first alone
        coef, intercept = np.column_stack([np.zeros(len(coef)), coef]), np.r_[0.0, intercept]
    return SubtypeModel({"x_mean": x_mean, "x_scale": x_scale, "coef": coef, "intercept": intercept})
