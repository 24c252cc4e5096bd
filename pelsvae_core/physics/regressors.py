"""Physics -> latent regressors (Martinez-Palomera et al. 2022, Sect. 4.2-4.3).

For each class, a regressor maps the physical parameters that class has
(Teff, absolute magnitude, log period: whichever its training stars carry),
the band, and a uniform "dummy" dimension to the latent space. Its training
set follows the paper: each star's physical vector is repeated with fresh
dummy values, and paired with latent vectors drawn from the encoder's
N(mu, sigma), so one physical vector yields a family of slightly different curves.

Three kinds, all scikit-learn fits with standardised inputs: linear, random
forest and MLP (:data:`PAPER_KINDS`). Two more are not point regressions but
conditional densities of the same targets given the same inputs, without the
dummy, sampled at generation (:data:`DENSITY_KINDS`): ``"mdn"``, a mixture density
network (:mod:`.density`), and ``"kernel"``, a kernel density over the training
stars (:mod:`.kernel_density`). All are stored as
plain arrays (``.npz`` read with ``allow_pickle=False``) and evaluated in NumPy,
so loading a model folder never unpickles anything, and scikit-learn is imported by
the fit alone (:func:`make_estimator`): generating curves does not load it.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .density import KIND as MIXTURE_KIND
from .density import MixtureDensity
from .kernel_density import KIND as KERNEL_KIND
from .kernel_density import KernelDensity

if TYPE_CHECKING:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.preprocessing import StandardScaler

#: The paper's point regressors (Sect. 4.2): physics, band and a dummy ~ U(0, 1) -> targets.
PAPER_KINDS = ("linear", "rf", "mlp")
#: The conditional densities, each told the subtype and carrying P(subtype | physics, band).
DENSITIES = {MIXTURE_KIND: MixtureDensity, KERNEL_KIND: KernelDensity}
DENSITY_KINDS = tuple(DENSITIES)
KINDS = (*PAPER_KINDS, *DENSITY_KINDS)
#: What generation draws from unless told otherwise, in folders fitted before the fit chose
#: between the densities (:func:`pelsvae_core.pipeline.choose_generator`): a density matches
#: the spread of real stars (16-84 % widths 0.7-1.4x theirs) where the point regressors give
#: 0.01-0.1x.
DEFAULT_REGRESSOR = MIXTURE_KIND
#: Dummy values at which a point regressor's family is evaluated (its mean, its likelihood).
DUMMY_GRID = (np.arange(16) + 0.5) / 16


def with_dummy(x: np.ndarray, dummy: np.ndarray) -> np.ndarray:
    """The paper's regressor input: ``x`` (physics and band columns) and the dummy ~ U(0, 1)
    (Sect. 4.2) as the last column, which makes one physical vector a family of curves."""
    return np.column_stack([x, dummy])


@dataclass
class Predictor:
    """A fitted regressor as arrays: standardisation, then linear / MLP / forest arithmetic."""

    kind: str
    arrays: dict[str, np.ndarray]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Targets at inputs ``x`` whose last column is the dummy (:func:`with_dummy`)."""
        a = self.arrays
        x = (np.asarray(x, dtype=np.float64) - a["x_mean"]) / a["x_scale"]
        if self.kind == "linear":
            return x @ a["coef"] + a["intercept"]
        if self.kind == "mlp":
            n_layers = int(a["n_layers"])
            for i in range(n_layers):
                x = x @ a[f"w{i}"] + a[f"b{i}"]
                if i < n_layers - 1:
                    x = np.maximum(x, 0.0)
            return x
        return _forest_predict(a, x)

    def family(self, x: np.ndarray) -> np.ndarray:
        """(n, len(DUMMY_GRID), D): the family of targets of each input row (no dummy column)."""
        return np.stack([self.predict(with_dummy(x, np.full(len(x), u))) for u in DUMMY_GRID], 1)

    def mean(self, x: np.ndarray) -> np.ndarray:
        """The point prediction: the family's mean over the dummy."""
        return self.family(x).mean(1)

    def sample(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One member of each row's family, at a dummy ~ U(0, 1) (the paper's generation)."""
        return self.predict(with_dummy(x, rng.uniform(0, 1, len(x))))

    @classmethod
    def from_sklearn(cls, kind: str, scaler: StandardScaler, estimator) -> "Predictor":
        arrays = {"x_mean": scaler.mean_, "x_scale": scaler.scale_}
        if kind == "linear":
            arrays.update(coef=estimator.coef_.T, intercept=estimator.intercept_)
        elif kind == "mlp":
            arrays["n_layers"] = np.array(len(estimator.coefs_))
            for i, (w, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
                arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        else:
            arrays.update(_forest_arrays(estimator))
        return cls(kind, arrays)


def _forest_arrays(forest: RandomForestRegressor) -> dict[str, np.ndarray]:
    """Concatenate the trees' node arrays, with per-tree offsets. Only leaves keep their values
    (``leaf`` maps a node to its row of ``value``, -1 inside), in single precision: a forest
    predicting 16 latent dimensions is a fifth of the size that way, and predicts the same."""
    trees = [t.tree_ for t in forest.estimators_]
    offsets = np.cumsum([0] + [t.node_count for t in trees])[:-1]
    shift = lambda child, off: np.where(child >= 0, child + off, -1).astype(np.int32)
    left = np.concatenate([shift(t.children_left, o) for t, o in zip(trees, offsets)])
    is_leaf = left < 0
    leaf = np.full(left.size, -1, dtype=np.int32)
    leaf[is_leaf] = np.arange(is_leaf.sum())
    return {
        "left": left,
        "right": np.concatenate([shift(t.children_right, o) for t, o in zip(trees, offsets)]),
        "feature": np.concatenate([t.feature for t in trees]).astype(np.int32),
        "threshold": np.concatenate([t.threshold for t in trees]),
        "value": np.concatenate([t.value[:, :, 0] for t in trees])[is_leaf].astype(np.float32),
        "leaf": leaf,
        "roots": offsets,
    }


def _forest_predict(a: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Walk every tree at once, one level per step: nodes are (trees, rows). Forests saved before
    values were kept for leaves alone have no ``leaf`` map and index ``value`` by node."""
    node = np.repeat(a["roots"][:, None], len(x), axis=1)
    rows = np.arange(len(x))[None, :]
    while True:
        left = a["left"][node]
        inner = left >= 0
        if not inner.any():
            break
        go_left = x[rows, np.maximum(a["feature"][node], 0)] <= a["threshold"][node]
        node = np.where(inner, np.where(go_left, left, a["right"][node]), node)
    values = a["value"][a["leaf"][node]] if "leaf" in a else a["value"][node]
    return values.astype(np.float64).mean(axis=0)


def make_estimator(kind: str, seed: int):
    """A scikit-learn estimator of one of :data:`PAPER_KINDS`."""
    if kind == "linear":
        from sklearn.linear_model import LinearRegression
        return LinearRegression()
    if kind == "rf":
        from sklearn.ensemble import RandomForestRegressor
        # a leaf holds at least one star's worth of rows (latent_fit.REPEATS = 10 per star),
        # which halves the stored forest (9 MB of the model folder at 5); depth 8: a leaf
        # stores the whole target (33 values for a 32-dimensional latent space), and at depth
        # 12 the forest was 11.6 MB of a 20 MB folder
        return RandomForestRegressor(n_estimators=40, max_depth=8, min_samples_leaf=10,
                                     random_state=seed, n_jobs=1)
    if kind == "mlp":
        from sklearn.neural_network import MLPRegressor
        return MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=300, early_stopping=True,
                            random_state=seed)
    raise ValueError(f"unknown point regressor {kind!r}; choose from {', '.join(PAPER_KINDS)}")


def save_predictors(predictors: dict[str, Predictor | MixtureDensity | KernelDensity]) -> bytes:
    """All predictors in one ``.npz`` (keys ``<name>/<array>``), no pickled objects."""
    flat = {}
    for name, predictor in predictors.items():
        flat[f"{name}/__kind__"] = np.array(predictor.kind)
        for key, value in predictor.arrays.items():
            flat[f"{name}/{key}"] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **flat)
    return buffer.getvalue()


def load_predictors(content: bytes) -> dict[str, Predictor | MixtureDensity | KernelDensity]:
    """The predictors of :func:`save_predictors`, each density as its class (:data:`DENSITIES`)."""
    with np.load(io.BytesIO(content), allow_pickle=False) as data:
        grouped: dict[str, dict[str, np.ndarray]] = {}
        for key in data.files:
            name, _, field = key.rpartition("/")
            grouped.setdefault(name, {})[field] = data[key]
    loaded = {}
    for name, arrays in grouped.items():
        kind = str(arrays.pop("__kind__"))
        loaded[name] = DENSITIES[kind](arrays) if kind in DENSITIES else Predictor(kind, arrays)
    return loaded
