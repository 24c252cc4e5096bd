"""A conditional density of (latent vector, log10 amplitude) given a class's physics and band.

Two small tanh MLPs on the inputs (the class's parameters, the band and subtype one-hots,
no dummy). The first, the *mean network*, regresses the conditional mean E[y | x] by least
squares; the second, a mixture density network (Bishop 1994, "Mixture Density Networks",
Aston University NCRG/94/004), models the residual y - E[y | x] as a mixture of K Gaussians,
each with a full covariance given by its lower-triangular Cholesky factor L (Sigma = L L^T).
Sampling adds to the mean a draw of the mixture: a component by its weight, then m + L eps,
eps ~ N(0, I). So one physical vector yields the spread of curves that real stars with that
physics show (the paper's point regressors plus a uniform dummy, Sect. 4.2, give a much
narrower family), centred where the physics puts it.

Why two networks: a single MDN fitted by likelihood on these few hundred stars per class
stops early (by-star holdout) while its 17-dimensional covariances overfit, before its
means have learnt how the shape moves with the physics: the RR Lyrae phi21 of its curves
barely changed with the period (0.2 against 3.4 rad/dex in the decoded latents of the same
stars, ``benchmarks/density_choice.py``). The mean network, with nothing else to learn,
follows the physics; the mixture then only has to learn the scatter about it.

Trained with torch on the CPU; stored as plain arrays (``kind``, ``arrays``, like
:class:`~.regressors.Predictor`) and evaluated here in NumPy, so generation needs no
torch and loading a model folder unpickles nothing. A density stored without a mean network
(models fitted before it) reads as one with a zero mean.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    import torch

KIND = "mdn"
#: Array names of the mean network (the mixture network's without it).
MEAN_PREFIX = "mean_"
#: Floor of each Cholesky diagonal, in standardised target units: keeps a component from
#: collapsing onto one training curve (the classic MDN failure, Bishop 1994 Sect. 6).
MIN_SCALE = 1e-2
#: Mixture components and hidden layer widths (tanh), chosen on the validation stars.
COMPONENTS = 8
HIDDEN = (64, 64)
#: Training: a fifth of the stars held out for early stopping; Adam with a little weight decay.
HOLDOUT = 0.2
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4
BATCH = 256
MAX_EPOCHS = 400
PATIENCE = 25
#: log(2 pi), the Gaussian normalisation.
LOG_2PI = math.log(2 * math.pi)


@dataclass
class MixtureDensity:
    """A fitted density as arrays: input and target standardisation; the mixture network's
    hidden layers ``w<i>``/``b<i>`` (tanh) and output layer ``w_out``/``b_out``, giving per
    component a logit, a mean and the raw lower triangle of its Cholesky factor; and the mean
    network's, the same names prefixed with :data:`MEAN_PREFIX`."""

    arrays: dict[str, np.ndarray]
    kind: str = KIND

    @property
    def components(self) -> int:
        return int(self.arrays["components"])

    @property
    def dims(self) -> int:
        return int(self.arrays["y_mean"].size)

    def _centre(self, h: np.ndarray) -> np.ndarray:
        """The mean network's E[y | x] (n, D) at standardised inputs ``h``, in standardised
        target units (zero for a density stored without one)."""
        return (forward(self.arrays, h, MEAN_PREFIX) if MEAN_PREFIX + "w_out" in self.arrays
                else np.zeros((len(h), self.dims)))

    def _networks(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For inputs ``x`` (n, p), standardised once: the mixture network's output layer, and
        the mean network's E[y | x] (:meth:`_centre`)."""
        h = standardised_inputs(self.arrays, x)
        return forward(self.arrays, h), self._centre(h)

    def log_prob(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Log density of targets ``y`` (n, D) at inputs ``x`` (n, p), in the targets' own units."""
        a = self.arrays
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (len(x), self.dims):
            raise ValueError(f"targets must be ({len(x)}, {self.dims}), not {y.shape}")
        out, centre = self._networks(x)
        return (mixture_log_prob(out, (y - a["y_mean"]) / a["y_scale"] - centre, self.components, np)
                - np.log(a["y_scale"]).sum())

    def marginal_log_prob(self, x: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
        """Log density of target column ``dim`` alone (the mixture of the components' marginals)."""
        out, centre = self._networks(x)
        log_w, mean, tril = split_heads(out, self.components, self.dims, np)
        a = self.arrays
        value = (np.asarray(y, dtype=np.float64) - a["y_mean"][dim]) / a["y_scale"][dim] - centre[:, dim]
        sd = np.sqrt((tril[:, :, dim, :] ** 2).sum(-1))           # (n, K): sqrt(Sigma_dd)
        component = -0.5 * ((value[:, None] - mean[:, :, dim]) / sd) ** 2 - np.log(sd) - 0.5 * LOG_2PI
        return logsumexp(log_w + component, axis=1) - math.log(a["y_scale"][dim])

    def mean(self, x: np.ndarray) -> np.ndarray:
        """The mixture's mean (n, D): the point prediction, comparable with the regressors'."""
        out, centre = self._networks(x)
        log_w, mean, _ = split_heads(out, self.components, self.dims, np)
        centre = centre + (np.exp(log_w)[:, :, None] * mean).sum(1)
        return centre * self.arrays["y_scale"] + self.arrays["y_mean"]

    def sample(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw (n, D) per input row: a component by its weight, then m + L eps. The output
        layer is evaluated for the logits, then for each row only on its drawn component's
        mean and Cholesky columns (:func:`component_columns`): with 17 targets and K
        components the others would be K - 1 times the work (most of a simulation's time)."""
        a, k, d = self.arrays, self.components, self.dims
        h = standardised_inputs(self.arrays, x)
        last = hidden_layer(a, h)
        logits = last @ a["w_out"][:, :k] + a["b_out"][:k]
        pick = categorical(np.exp(logits - logsumexp(logits, 1)[:, None]), rng)
        picked = np.empty((len(pick), d + d * (d + 1) // 2))
        for component in np.unique(pick):
            rows, columns = pick == component, component_columns(component, k, d)
            picked[rows] = last[rows] @ a["w_out"][:, columns] + a["b_out"][columns]
        eps = rng.standard_normal((len(pick), d))
        y = self._centre(h) + picked[:, :d] + cholesky_times(picked[:, d:], eps)
        return y * a["y_scale"] + a["y_mean"]


def standardised_inputs(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Inputs ``x`` (n, p) standardised by the stored ``x_mean`` and ``x_scale``, or a clear
    error for inputs of another shape (every stored predictor reads its inputs this way)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != arrays["x_mean"].size:
        raise ValueError(f"inputs must be (n, {arrays['x_mean'].size}), not {x.shape}")
    return (x - arrays["x_mean"]) / arrays["x_scale"]


def hidden_layer(arrays: dict[str, np.ndarray], h: np.ndarray, prefix: str = "") -> np.ndarray:
    """The last hidden layer of the stored MLP ``prefix`` (tanh layers ``w<i>``/``b<i>``) on
    standardised inputs ``h``."""
    for i in range(int(arrays[prefix + "n_hidden"])):
        h = np.tanh(h @ arrays[f"{prefix}w{i}"] + arrays[f"{prefix}b{i}"])
    return h


def forward(arrays: dict[str, np.ndarray], h: np.ndarray, prefix: str = "") -> np.ndarray:
    """The stored MLP ``prefix``: :func:`hidden_layer`, then the linear ``w_out``/``b_out``."""
    return hidden_layer(arrays, h, prefix) @ arrays[prefix + "w_out"] + arrays[prefix + "b_out"]


def categorical(weights: np.ndarray, rng: np.random.Generator, rows: np.ndarray | None = None
                ) -> np.ndarray:
    """One index per row of ``weights`` (n, K), non-negative with a positive sum: the inverse
    CDF at one uniform per row (a mixture's component, a subtype). With ``rows``, one index per
    entry, drawn from ``weights[rows]`` (rows sharing weights: their sums are formed once)."""
    cumulative = np.cumsum(weights, axis=1)
    rows = np.arange(len(cumulative)) if rows is None else np.asarray(rows)
    target = rng.uniform(0, 1, len(rows)) * cumulative[rows, -1]
    # the first column whose cumulative weight is not below the target: a binary search for all
    # rows at once, log2(K) steps over n entries, not n K comparisons (a simulation's 10,000
    # stars over 2,598 kernels)
    low = np.zeros(len(rows), np.intp)
    high = np.full(len(rows), weights.shape[1] - 1, np.intp)
    while (searching := low < high).any():
        middle = (low + high) // 2
        below = cumulative[rows, middle] < target
        low = np.where(searching & below, middle + 1, low)
        high = np.where(searching & ~below, middle, high)
    return low


def head_columns(out, components: int, dims: int):
    """The output layer's (n, K (1 + D + D(D+1)/2)) columns as component logits (n, K), means
    (n, K, D) and the raw lower-triangular entries of the Cholesky factors (n, K, D(D+1)/2)."""
    n, k, d = out.shape[0], components, dims
    return (out[:, :k], out[:, k:k + k * d].reshape(n, k, d),
            out[:, k + k * d:].reshape(n, k, d * (d + 1) // 2))


def component_columns(component: int, components: int, dims: int) -> np.ndarray:
    """The output-layer columns of one component's mean (D) then raw Cholesky entries
    (D(D+1)/2), in the layout :func:`head_columns` reads."""
    k, d, t = components, dims, dims * (dims + 1) // 2
    return np.r_[k + component * d:k + (component + 1) * d,
                 k + k * d + component * t:k + k * d + (component + 1) * t]


def cholesky_factors(raw, dims: int, xp):
    """Lower-triangular factors (..., D, D) from raw entries (..., D(D+1)/2): the diagonal is
    softplus(raw) + :data:`MIN_SCALE` (positive, so L is a valid factor)."""
    rows, cols = np.tril_indices(dims)
    if xp is np:
        positive, tril = np.logaddexp(0.0, raw), np.zeros(raw.shape[:-1] + (dims, dims))
    else:
        positive, tril = xp.nn.functional.softplus(raw), raw.new_zeros(raw.shape[:-1] + (dims, dims))
    tril[..., rows, cols] = xp.where(xp.asarray(rows == cols), positive + MIN_SCALE, raw)
    return tril


def cholesky_times(raw: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """L eps (n, D) for the factors L that :func:`cholesky_factors` builds from raw entries
    (n, D(D+1)/2), without building them: each entry of the lower triangle (row-major, as
    ``np.tril_indices``) times eps at its column, summed per row. Sampling's hot path: the
    (n, D, D) factors cost ten times the draws."""
    dims = eps.shape[1]
    rows, cols = np.tril_indices(dims)
    entries = raw.copy()
    diagonal = rows == cols
    entries[:, diagonal] = np.logaddexp(0.0, raw[:, diagonal]) + MIN_SCALE
    return np.add.reduceat(entries * eps[:, cols], np.flatnonzero(np.r_[True, np.diff(rows) > 0]), axis=1)


def split_heads(out, components: int, dims: int, xp):
    """The output layer as log weights, means and Cholesky factors (:func:`head_columns`,
    :func:`cholesky_factors`); ``xp`` is ``numpy`` or ``torch``, so training and generation
    share one layout."""
    logits, mean, raw = head_columns(out, components, dims)
    log_w = logits - logsumexp(logits, 1)[:, None] if xp is np else xp.log_softmax(logits, 1)
    return log_w, mean, cholesky_factors(raw, dims, xp)


def mixture_log_prob(out, y, components: int, xp):
    """Log density of standardised targets ``y`` (n, D) under the mixture that the output layer
    ``out`` describes; NumPy or torch (``xp``): the training loss and generation's density are
    this one function."""
    log_w, mean, tril = split_heads(out, components, y.shape[1], xp)
    joint = log_w + gaussian_log_prob(y[:, None, :] - mean, tril, xp)
    return logsumexp(joint, axis=1) if xp is np else xp.logsumexp(joint, 1)


def gaussian_log_prob(residual, tril, xp):
    """log N(r; 0, L L^T) with z = L^-1 r, for NumPy or torch (``xp``) arrays (..., D) and
    (..., D, D): -|z|^2 / 2 - sum log L_ii - D log(2 pi) / 2. Torch solves in one batched
    triangular solve, NumPy substitutes a row at a time: D steps, not the D^2 / 2 of an
    element at a time, which dominated the density's fit at 33 dimensions."""
    d = residual.shape[-1]
    shape = xp.broadcast_shapes(residual.shape, tril.shape[:-1])
    residual, tril = xp.broadcast_to(residual, shape), xp.broadcast_to(tril, shape + (d,))
    if xp is np:  # forward substitution, a row at a time (LU's solve loses 1e-6 at 33 dimensions)
        z = np.zeros(shape)
        for i in range(d):
            z[..., i] = (residual[..., i] - (tril[..., i, :i] * z[..., :i]).sum(-1)) / tril[..., i, i]
    else:
        z = xp.linalg.solve_triangular(tril, residual[..., None], upper=False)[..., 0]
    log_det = xp.log(xp.diagonal(tril, 0, -2, -1)).sum(-1)
    return -0.5 * (z ** 2).sum(-1) - log_det - 0.5 * d * LOG_2PI


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(a))) along ``axis`` without overflow, in NumPy (generation loads no SciPy)."""
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def fit_density(x: np.ndarray, y: np.ndarray, groups: np.ndarray, components: int = COMPONENTS,
                hidden: tuple[int, ...] = HIDDEN, seed: int = 0, progress: bool = False,
                desc: str = "mdn", mean_network: bool = True) -> MixtureDensity:
    """Fit the density of ``y`` (n, D) given ``x`` (n, p): the mean network by least squares,
    then the mixture of the residuals by maximum likelihood (both Adam, Kingma & Ba 2015),
    each stopping early on one by-group holdout (:data:`HOLDOUT` of the ``groups``, i.e.
    stars, never a star on both sides) and keeping its best epoch. ``mean_network=False``:
    the mixture alone, of ``y`` itself (the control of ``benchmarks/density_choice.py``)."""
    import torch

    data = standardised_fit_data(x, y, groups, seed, desc)
    with one_torch_thread():
        mean_arrays, residual = {}, data.ys
        if mean_network:
            mean_arrays, residual = fit_mean_network(data, hidden, progress, desc)
        mixture_net = _train(build_network(x.shape[1], hidden, components, data.ys.shape[1]),
                             lambda net, rows: -mixture_log_prob(net(data.xs[rows]), residual[rows],
                                                                 components, torch).mean(),
                             data.held, data.rng, progress, desc)
    return MixtureDensity({**data.scales, **network_arrays(mixture_net, components), **mean_arrays})


@contextmanager
def one_torch_thread():
    """Torch on one thread for the block: matrices this small gain nothing from threads, and
    lose on a busy CPU; the caller's setting is restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class FitData:
    """A density's training data: standardisation (``x_mean``, ``x_scale``, ``y_mean``,
    ``y_scale``), the standardised inputs and targets as float64 tensors, the rows of the
    by-star holdout, and the fit's random stream."""

    scales: dict[str, np.ndarray]
    xs: torch.Tensor
    ys: torch.Tensor
    held: np.ndarray
    rng: np.random.Generator


def standardised_fit_data(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int,
                          desc: str) -> FitData:
    """Check and standardise a density's inputs ``x`` (n, p) and targets ``y`` (n, D), and hold
    out :data:`HOLDOUT` of the ``groups`` (stars) for early stopping and bandwidths."""
    import torch

    x, y, groups = np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(groups)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(groups) != len(x):
        raise ValueError(f"x (n, p), y (n, D) and groups (n,) must agree: {x.shape}, {y.shape}, "
                         f"{groups.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("inputs and targets must be finite")
    unique = np.unique(groups)
    if len(unique) < 2:
        raise ValueError(f"{desc}: need at least 2 groups (stars) to fit and stop early, got {len(unique)}")
    rng = np.random.default_rng(seed)
    held = np.isin(groups, rng.choice(unique, max(1, round(HOLDOUT * len(unique))), replace=False))
    x_mean, x_scale = x.mean(0), x.std(0)
    x_scale[x_scale == 0] = 1.0
    y_mean, y_scale = y.mean(0), y.std(0)
    y_scale[y_scale == 0] = 1.0
    torch.manual_seed(seed)
    return FitData({"x_mean": x_mean, "x_scale": x_scale, "y_mean": y_mean, "y_scale": y_scale},
                   torch.as_tensor((x - x_mean) / x_scale, dtype=torch.float64),
                   torch.as_tensor((y - y_mean) / y_scale, dtype=torch.float64), held, rng)


def fit_mean_network(data: FitData, hidden: tuple[int, ...], progress: bool, desc: str):
    """The mean network E[y | x] fitted by least squares on ``data`` (standardised units): its
    arrays (prefixed :data:`MEAN_PREFIX`) and the residuals y - E[y | x] of every row (tensor)."""
    import torch

    net = _train(build_mlp(data.xs.shape[1], hidden, data.ys.shape[1]),
                 lambda net, rows: ((net(data.xs[rows]) - data.ys[rows]) ** 2).sum(1).mean(),
                 data.held, data.rng, progress, desc + " mean")
    with torch.no_grad():
        return mlp_arrays(net, MEAN_PREFIX), data.ys - net(data.xs)


def _train(net, loss, held: np.ndarray, rng: np.random.Generator, progress: bool, desc: str):
    """Minimise ``loss(net, rows)`` with Adam over mini-batches of the rows not ``held``,
    stopping when the held rows' loss has not improved for :data:`PATIENCE` epochs; ``net``
    with its best weights."""
    import torch

    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    fit_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    best, best_state, waited = math.inf, None, 0
    bar = tqdm(range(MAX_EPOCHS), desc=desc, unit="epoch", disable=not progress, leave=False)
    for _ in bar:
        for batch in np.array_split(rng.permutation(fit_rows), max(1, len(fit_rows) // BATCH)):
            optimiser.zero_grad()
            loss(net, batch).backward()
            optimiser.step()
        with torch.no_grad():
            score = float(loss(net, held_rows))
        if score < best - 1e-4:
            best, waited = score, 0
            best_state = {key: v.detach().clone() for key, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= PATIENCE:
                break
        bar.set_postfix(holdout_loss=f"{best:.3f}")
    if best_state is None:
        raise ValueError(f"{desc}: the holdout loss was never finite; check the targets")
    net.load_state_dict(best_state)
    return net


def build_mlp(n_inputs: int, hidden: tuple[int, ...], n_outputs: int):
    """A torch MLP in float64: tanh hidden layers, then a linear output layer (what
    :func:`forward` evaluates from :func:`mlp_arrays`)."""
    import torch

    layers, width = [], n_inputs
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.Tanh()]
        width = size
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_outputs)).double()


def build_network(n_inputs: int, hidden: tuple[int, ...], components: int, dims: int):
    """The mixture network: an MLP whose output :func:`split_heads` reads."""
    return build_mlp(n_inputs, hidden, components * (1 + dims + dims * (dims + 1) // 2))


def mlp_arrays(net, prefix: str = "") -> dict[str, np.ndarray]:
    """The weights of a :func:`build_mlp` network as the arrays :func:`forward` reads, in single
    precision (evaluated in double, as the inputs are): the mixture's output layer of a
    33-dimensional latent space is 64 x 4,760 per class, 19.6 MB of a model folder in double
    (the folder's limit is 20 MB), and rounding the weights to 7 digits moves nothing a
    sample or a log density shows."""
    import torch

    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    arrays = {prefix + "n_hidden": np.array(len(linears) - 1)}
    for name, layer in zip([*range(len(linears) - 1), "_out"], linears):
        arrays[f"{prefix}w{name}"] = layer.weight.detach().numpy().T.astype(np.float32)
        arrays[f"{prefix}b{name}"] = layer.bias.detach().numpy().astype(np.float32)
    return arrays


def network_arrays(net, components: int) -> dict[str, np.ndarray]:
    """The weights of :func:`build_network`'s MLP as the arrays :class:`MixtureDensity` reads,
    its output layer in half precision: 64 x 4,760 weights per class for a 32-dimensional
    latent space (a full Cholesky factor per component) were 9.5 MB of a 20 MB model folder
    in single precision. Measured on models/default's validation stars (CEP, RRLYR, ECL): the
    log density moves by 0.005 nat per curve (of 60-90), a draw by at most 8e-5."""
    arrays = {"components": np.array(components), **mlp_arrays(net)}
    arrays["w_out"] = arrays["w_out"].astype(np.float16)
    return arrays
