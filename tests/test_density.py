"""The conditional densities ("mdn", "kernel"): they recover known conditional distributions,
the mixture's NumPy evaluation is the torch network's, the kernel density is a normalised
density whose marginals and draws agree with it and chooses its bandwidths from the data, both
round-trip through the model folder's arrays, they generate end to end, and no regressor
returns an amplitude outside the class's bounds."""
from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import json

import numpy as np
import pytest
import torch

from pelsvae_core.data.dataset import TrainingSet
from pelsvae_core.physics import density, latent_fit
from pelsvae_core.physics.classes import PHYSICAL_LOG_AMPLITUDE, ClassPhysics
from pelsvae_core.physics.density import (MEAN_PREFIX, MixtureDensity, build_mlp, build_network,
                                          categorical, fit_density, forward, mixture_log_prob,
                                          mlp_arrays, network_arrays, standardised_inputs)
from pelsvae_core.physics.kernel_density import KIND as KERNEL_KIND
from pelsvae_core.physics.kernel_density import (SAMPLING_FLOOR, KernelDensity, fit_kernel_density,
                                                 log_weights, sampling_weights, shrink_factor)
from pelsvae_core.physics.regressors import (DENSITY_KINDS, KINDS, PAPER_KINDS, Predictor, load_predictors,
                                             save_predictors)


def linear_gaussian_data() -> tuple[np.ndarray, np.ndarray]:
    """y0 ~ N(2x, 0.5), y1 ~ N(x^2, 0.1), independent, x ~ U(-1, 1)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3000, 1))
    y = np.column_stack([2 * x[:, 0] + 0.5 * rng.standard_normal(3000),
                         x[:, 0] ** 2 + 0.1 * rng.standard_normal(3000)])
    return x, y


@pytest.fixture(scope="module")
def linear_gaussian() -> MixtureDensity:
    """The mixture density of :func:`linear_gaussian_data`."""
    x, y = linear_gaussian_data()
    return fit_density(x, y, np.arange(3000), components=3, hidden=(32, 32))


@pytest.fixture(scope="module")
def kernel_linear_gaussian() -> KernelDensity:
    """The kernel density of :func:`linear_gaussian_data`."""
    x, y = linear_gaussian_data()
    return fit_kernel_density(x, y, np.arange(3000), hidden=(32, 32))


def test_recovers_the_mean_and_width_of_a_known_conditional(linear_gaussian):
    rng = np.random.default_rng(1)
    for x in (-0.5, 0.0, 0.5):
        draws = linear_gaussian.sample(np.full((20_000, 1), x), rng)
        assert draws[:, 0].mean() == pytest.approx(2 * x, abs=0.05)
        assert draws[:, 0].std() == pytest.approx(0.5, rel=0.08)
        assert draws[:, 1].mean() == pytest.approx(x ** 2, abs=0.02)
        assert draws[:, 1].std() == pytest.approx(0.1, rel=0.15)
        np.testing.assert_allclose(linear_gaussian.mean(np.array([[x]])), [[2 * x, x ** 2]], atol=0.05)
    # the density itself: close to the true log density where the data are
    x = np.full((3, 1), 0.25)
    y = np.array([[0.5, 0.0625], [1.0, 0.0625], [0.5, 0.2]])
    true = (-0.5 * ((y[:, 0] - 0.5) / 0.5) ** 2 - np.log(0.5) - 0.5 * ((y[:, 1] - 0.0625) / 0.1) ** 2
            - np.log(0.1) - np.log(2 * np.pi))
    np.testing.assert_allclose(linear_gaussian.log_prob(x, y), true, atol=0.15)
    marginal = -0.5 * ((y[:, 0] - 0.5) / 0.5) ** 2 - np.log(0.5) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(linear_gaussian.marginal_log_prob(x, y[:, 0], 0), marginal, atol=0.1)


@pytest.mark.parametrize("fit", [functools.partial(fit_density, components=3, hidden=(32, 32)),
                                 functools.partial(fit_kernel_density, hidden=(32, 32))],
                         ids=["mdn", "kernel"])
def test_a_bimodal_conditional_gets_both_modes_and_nothing_between(fit):
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (3000, 1))
    y = (x[:, 0] + rng.choice([-1.0, 1.0], 3000) + 0.1 * rng.standard_normal(3000))[:, None]
    model = fit(x, y, np.arange(3000))
    draws = model.sample(np.zeros((20_000, 1)), rng)[:, 0]
    assert np.mean(np.abs(draws + 1) < 0.3) == pytest.approx(0.5, abs=0.05)
    assert np.mean(np.abs(draws - 1) < 0.3) == pytest.approx(0.5, abs=0.05)
    assert np.mean(np.abs(draws) < 0.5) < 0.01
    density_at = np.exp(model.log_prob(np.zeros((3, 1)), np.array([[-1.0], [0.0], [1.0]])))
    assert density_at[1] < 0.01 * min(density_at[0], density_at[2])


def test_the_kernel_density_recovers_the_mean_and_width_of_a_known_conditional(kernel_linear_gaussian):
    rng = np.random.default_rng(1)
    for x in (-0.5, 0.0, 0.5):
        draws = kernel_linear_gaussian.sample(np.full((20_000, 1), x), rng)
        assert draws[:, 0].mean() == pytest.approx(2 * x, abs=0.05)
        assert draws[:, 0].std() == pytest.approx(0.5, rel=0.05)
        assert draws[:, 1].mean() == pytest.approx(x ** 2, abs=0.02)
        assert draws[:, 1].std() == pytest.approx(0.1, rel=0.1)
        np.testing.assert_allclose(kernel_linear_gaussian.mean(np.array([[x]])), [[2 * x, x ** 2]],
                                   atol=0.05)
    # the density itself: with its small target bandwidth it is spikier than the truth, so
    # fresh draws of the true conditional are less likely under it, but not by much
    x = rng.uniform(-0.8, 0.8, (4000, 1))
    y = np.column_stack([2 * x[:, 0] + 0.5 * rng.standard_normal(4000),
                         x[:, 0] ** 2 + 0.1 * rng.standard_normal(4000)])
    true = (-0.5 * ((y[:, 0] - 2 * x[:, 0]) / 0.5) ** 2 - np.log(0.5)
            - 0.5 * ((y[:, 1] - x[:, 0] ** 2) / 0.1) ** 2 - np.log(0.1) - np.log(2 * np.pi))
    assert -1.0 < kernel_linear_gaussian.log_prob(x, y).mean() - true.mean() < 0.0


def test_the_kernel_density_is_normalised_and_its_marginal_and_draws_agree_with_it(kernel_linear_gaussian):
    """Integrated over a grid, the joint density is 1 and the joint integrated over y1 is the
    marginal of y0; the draws' histogram follows the marginal."""
    y0, y1 = np.linspace(-3, 4, 281), np.linspace(-0.8, 1.2, 201)
    grid = np.array(np.meshgrid(y0, y1, indexing="ij")).reshape(2, -1).T
    x = np.full((len(grid), 1), 0.6)
    joint = np.exp(kernel_linear_gaussian.log_prob(x, grid)).reshape(len(y0), len(y1))
    assert np.trapezoid(np.trapezoid(joint, y1, axis=1), y0) == pytest.approx(1.0, abs=2e-3)
    marginal = np.exp(kernel_linear_gaussian.marginal_log_prob(np.full((len(y0), 1), 0.6), y0, 0))
    np.testing.assert_allclose(np.trapezoid(joint, y1, axis=1), marginal, atol=2e-3)
    draws = kernel_linear_gaussian.sample(np.full((50_000, 1), 0.6), np.random.default_rng(2))[:, 0]
    counts, edges = np.histogram(draws, bins=y0[::10], density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    expected = np.exp(kernel_linear_gaussian.marginal_log_prob(np.full((len(centres), 1), 0.6),
                                                                centres, 0))
    np.testing.assert_allclose(counts, expected, atol=0.03)


def test_the_kernel_bandwidths_follow_the_data_and_draws_are_not_copies(kernel_linear_gaussian):
    """A conditional that jumps with x gets a narrower input kernel than a smooth one; and no
    draw repeats a training target."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2000, 1))
    y = np.column_stack([np.where(x[:, 0] > 0, 3.0, -3.0) * np.sin(8 * x[:, 0])
                         + 0.05 * rng.standard_normal(2000)])
    jumpy = fit_kernel_density(x, y, np.arange(2000), hidden=(8,))
    assert float(jumpy.arrays["bandwidth_x"]) < float(kernel_linear_gaussian.arrays["bandwidth_x"])
    draws = jumpy.sample(x[:200], rng)
    assert np.abs(draws[:, None, 0] - y[None, :, 0]).min() > 0
    assert float(jumpy.arrays["bandwidth_y"]) > 0


def test_without_mean_adjustment_each_kernel_is_a_neighbours_own_target(kernel_linear_gaussian):
    """Unadjusted, the density has no mean network: its conditional mean is the Nadaraya-Watson
    average of the training targets themselves (with its bias where the targets slope over a
    wide kernel: the price the mean adjustment avoids), with a narrow kernel its draws follow
    the known conditional, and a folder keeps it unadjusted."""
    plain = kernel_linear_gaussian.unadjusted()
    assert kernel_linear_gaussian.adjusted and not plain.adjusted
    assert not any(name.startswith(MEAN_PREFIX) for name in plain.arrays)
    x, y = linear_gaussian_data()
    a, query = plain.arrays, np.array([[-0.5], [0.0], [0.5]])
    w = np.exp(log_weights(standardised_inputs(a, query), standardised_inputs(a, x), float(a["bandwidth_x"])))
    np.testing.assert_allclose(plain.mean(query), w @ y, atol=1e-5)
    plain.arrays["bandwidth_x"] = np.array(0.05)  # local enough that the slope hardly widens it
    draws = plain.sample(np.full((20_000, 1), 0.5), np.random.default_rng(1))
    np.testing.assert_allclose(draws.mean(0), [1.0, 0.25], atol=0.05)
    np.testing.assert_allclose(draws.std(0), [0.5, 0.1], rtol=0.15)  # ~50 neighbours set it
    restored = load_predictors(save_predictors({"X/kernel": plain}))["X/kernel"]
    assert not restored.adjusted
    np.testing.assert_allclose(restored.mean(query), plain.mean(query))


def test_each_kernel_gives_back_the_training_row_it_was_made_from(kernel_linear_gaussian):
    """``kernel_targets`` undoes the standardisation, the mean network and the whitening: row i
    is training target i (to the single precision the kernels are stored in), adjusted or
    not, which is what lets a benchmark decode each donor's latent vector."""
    _, y = linear_gaussian_data()
    scale = np.abs(y).max()
    np.testing.assert_allclose(kernel_linear_gaussian.kernel_targets(), y, atol=1e-5 * scale)
    np.testing.assert_allclose(kernel_linear_gaussian.unadjusted().kernel_targets(), y, atol=1e-5 * scale)


def test_only_the_rows_named_become_kernels_and_the_rest_still_teach_the_mean():
    """``kernels`` keeps those rows as the draws' starting points; the mean network and the
    bandwidth still learn from every row, so the two fits share them; no kernel is an error."""
    x, y = linear_gaussian_data()
    every = fit_kernel_density(x, y, np.arange(3000), hidden=(8,))
    chosen = np.arange(3000) % 3 == 0
    some = fit_kernel_density(x, y, np.arange(3000), hidden=(8,), kernels=chosen)
    np.testing.assert_allclose(some.kernel_targets(), y[chosen], atol=1e-5 * np.abs(y).max())
    assert float(some.arrays["bandwidth_x"]) == float(every.arrays["bandwidth_x"])
    np.testing.assert_array_equal(some.arrays[MEAN_PREFIX + "w_out"], every.arrays[MEAN_PREFIX + "w_out"])
    with pytest.raises(ValueError, match="at least one"):
        fit_kernel_density(x, y, np.arange(3000), hidden=(8,), kernels=np.zeros(3000, bool))


class WigglingDecoder:
    """A stand-in decoder: latent (k, w) decodes to the k-th test shape plus a harmonic-10
    ripple of amplitude w, which no observed phase of the test curves constrains."""

    shapes = (lambda p: 0.5 + 0.4 * np.cos(2 * np.pi * p),
              lambda p: 0.5 + 0.3 * np.sin(2 * np.pi * p) + 0.15 * np.sin(4 * np.pi * p))

    def decode(self, z, cls, phases, band):
        curves = np.array([self.shapes[int(k)](p) for k, p in zip(z[:, 0], phases)])
        return curves + z[:, 1:2] * np.sin(20 * np.pi * phases), None


def test_a_donor_must_decode_to_its_own_curve_over_the_whole_cycle(caplog):
    """A curve whose latent decodes to its own shape is a kernel donor; one whose decoded curve
    matches at its points but ripples between them by much more than its fit's standard
    error is not; and a class with no faithful curve keeps them all, with a warning."""
    rng = np.random.default_rng(0)
    n, points = 8, 40
    phase = np.sort(rng.uniform(0, 1, (n, points)), axis=1)
    shape = np.arange(n) % 2
    mag = np.array([WigglingDecoder.shapes[k](p) for k, p in zip(shape, phase)])
    mag += 0.01 * rng.standard_normal(mag.shape)
    part = TrainingSet(phase=phase, mag=mag, err=np.full_like(mag, 0.01), mask=np.ones_like(mag, bool),
                       cls=np.zeros(n, int), band=np.zeros(n, int), teff=np.full(n, np.nan),
                       abs_mag=np.full(n, np.nan), log_period=np.zeros(n), amplitude=np.ones(n),
                       mean_mag=np.zeros(n), split=np.full(n, "train"), star_key=np.arange(n).astype(str),
                       augmented=np.zeros(n, bool), classes=("X",), bands=("g",))
    ripple = np.where(np.arange(n) < n // 2, 0.0, 0.05)
    mu = np.column_stack([shape, ripple])
    departure, standard_error = latent_fit.whole_cycle_departure(WigglingDecoder(), part, mu)
    np.testing.assert_allclose(standard_error, 0.01 * np.sqrt(np.where(shape == 0, 3, 5) / points), rtol=0.3)
    np.testing.assert_allclose(departure[ripple > 0], 0.05 / np.sqrt(2), rtol=0.1)
    np.testing.assert_array_equal(latent_fit.faithful_rows(WigglingDecoder(), part, mu), ripple == 0)
    with caplog.at_level("WARNING"):
        kept = latent_fit.faithful_rows(WigglingDecoder(), part, np.column_stack([shape, np.full(n, 0.05)]))
    assert kept.all() and "every one stays a kernel" in caplog.text


def test_one_stars_samples_share_their_kernel_weights_and_draw_as_if_each_had_its_own(
        kernel_linear_gaussian):
    """Rows with the same inputs (one star's samples) get their kernel weights once, and draw
    exactly what each row's own weights would give: the same picks at the same uniforms, the
    same draws (the estimator of the module docstring, written out row by row here)."""
    rng = np.random.default_rng(4)
    weights = rng.gamma(0.3, size=(3, 50))
    inverse = rng.integers(0, 3, 400)
    np.testing.assert_array_equal(categorical(weights, np.random.default_rng(5), inverse),
                                  categorical(weights[inverse], np.random.default_rng(5)))
    density, a = kernel_linear_gaussian, kernel_linear_gaussian.arrays
    x = np.repeat([[0.1], [0.6], [-0.4]], 40, axis=0)[rng.permutation(120)]
    h = standardised_inputs(a, x)
    w = np.exp(log_weights(h, a["centres"].astype(float), float(a["bandwidth_x"])))
    residuals = a["residuals"].astype(float)
    local, draw_rng = w @ residuals, np.random.default_rng(6)
    picked = residuals[categorical(w, draw_rng)]
    noise = float(a["bandwidth_y"]) * draw_rng.standard_normal(picked.shape)
    white = local + (picked - local + noise) / shrink_factor(float(a["bandwidth_y"]))
    expected = (forward(a, h, MEAN_PREFIX) + white @ a["tril"].T) * a["y_scale"] + a["y_mean"]
    np.testing.assert_allclose(density.sample(x, np.random.default_rng(6)), expected, rtol=1e-12)
    np.testing.assert_allclose(density.mean(x), np.vstack([density.mean(row[None]) for row in x]))


def test_sampling_weights_are_the_kernel_weights_less_those_that_can_never_be_drawn():
    """For each row, the kernels within exp(-SAMPLING_FLOOR) of its nearest carry the
    normalised weights' proportions; the others weigh exactly 0, and when most kernels are
    far from every row of a block (stars of one band) they are not formed at all."""
    rng = np.random.default_rng(8)
    near, far = rng.normal(size=(300, 3)), rng.normal(size=(900, 3)) + [0.0, 0.0, 6.0]
    centres = np.vstack([near, far])
    for h, gathered in ((rng.normal(size=(20, 3)) * 0.5, True),      # one cluster: far skipped
                        (centres[rng.integers(0, 1200, 40)], False)):  # both: every kernel kept
        weights, kernels = sampling_weights(h, centres, 0.3)
        assert (kernels.size < 400) == gathered
        full = np.zeros((len(h), len(centres)))
        full[:, kernels] = weights
        log_w = log_weights(h, centres, 0.3)
        drawable = log_w > log_w.max(1, keepdims=True) - SAMPLING_FLOOR
        assert np.all(full[~drawable] == 0) and np.all(full[drawable] > 0)
        np.testing.assert_allclose(full / full.sum(1, keepdims=True), np.where(drawable, np.exp(log_w), 0),
                                   rtol=1e-9, atol=1e-300)


def as_stored(net, arrays: dict, prefix: str = "") -> None:
    """Give a torch network the weights its stored arrays hold (single precision, the
    mixture's output layer half): what the NumPy evaluation must reproduce exactly."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for name, layer in zip([*range(len(linears) - 1), "_out"], linears):
            layer.weight.copy_(torch.as_tensor(arrays[f"{prefix}w{name}"].T.astype(np.float64)))
            layer.bias.copy_(torch.as_tensor(arrays[f"{prefix}b{name}"].astype(np.float64)))


def test_numpy_evaluation_is_the_torch_network():
    """The arrays written to the folder, evaluated in NumPy, give the torch network's loss."""
    torch.manual_seed(3)
    k, d = 3, 5
    net = build_network(4, (16, 16), k, d)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, d))
    arrays = {"x_mean": np.zeros(4), "x_scale": np.ones(4), "y_mean": np.zeros(d), "y_scale": np.ones(d),
              **network_arrays(net, k)}
    model = MixtureDensity(arrays)
    as_stored(net, arrays)
    with torch.no_grad():
        expected = mixture_log_prob(net(torch.as_tensor(x)), torch.as_tensor(y), k, torch).numpy()
    np.testing.assert_allclose(model.log_prob(x, y), expected, rtol=1e-10, atol=1e-10)
    # and in the targets' own units, the standardisation's Jacobian
    scaled = MixtureDensity({**arrays, "y_mean": np.full(d, 3.0), "y_scale": np.full(d, 2.0)})
    np.testing.assert_allclose(scaled.log_prob(x, 3 + 2 * y), expected - d * np.log(2.0), rtol=1e-10)
    with pytest.raises(ValueError, match="inputs must be"):
        model.log_prob(x[:, :3], y)


def test_sampling_evaluates_only_the_drawn_component_yet_draws_from_the_whole_mixture():
    """The fast sampler (logits first, then each row's own component's columns, L eps without
    building L) gives exactly what the full output layer gives: the component drawn from
    the weights of split_heads, then its mean plus its Cholesky factor times eps."""
    torch.manual_seed(5)
    k, d = 4, 6
    net = build_network(3, (16, 16), k, d)
    x = np.random.default_rng(6).normal(size=(300, 3))
    arrays = {"x_mean": np.zeros(3), "x_scale": np.ones(3), "y_mean": np.zeros(d), "y_scale": np.ones(d),
              **network_arrays(net, k)}
    drawn = MixtureDensity(arrays).sample(x, np.random.default_rng(7))
    as_stored(net, arrays)
    with torch.no_grad():
        log_w, mean, tril = density.split_heads(net(torch.as_tensor(x)).numpy(), k, d, np)
    rng = np.random.default_rng(7)
    pick = density.categorical(np.exp(log_w), rng)
    rows = np.arange(len(x))
    expected = mean[rows, pick] + np.einsum("nij,nj->ni", tril[rows, pick], rng.standard_normal((len(x), d)))
    np.testing.assert_allclose(drawn, expected, rtol=1e-10, atol=1e-12)
    assert len(np.unique(pick)) == k  # every component's columns were exercised


def test_the_mixture_models_the_residual_about_the_mean_network():
    """With a mean network stored, the NumPy density is the torch mixture of y - mean(x), and
    its draws and mean are centred on it."""
    torch.manual_seed(4)
    k, d = 2, 3
    net, centre = build_network(4, (8,), k, d), build_mlp(4, (8,), d)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 4)), rng.normal(size=(40, d))
    arrays = {"x_mean": np.zeros(4), "x_scale": np.ones(4), "y_mean": np.zeros(d), "y_scale": np.ones(d),
              **network_arrays(net, k)}
    mean_arrays = mlp_arrays(centre, MEAN_PREFIX)
    with_mean = MixtureDensity({**arrays, **mean_arrays})
    as_stored(net, arrays)
    as_stored(centre, mean_arrays, MEAN_PREFIX)
    with torch.no_grad():
        shift = centre(torch.as_tensor(x))
        expected = mixture_log_prob(net(torch.as_tensor(x)), torch.as_tensor(y) - shift, k, torch).numpy()
    np.testing.assert_allclose(with_mean.log_prob(x, y), expected, rtol=1e-10, atol=1e-10)
    without = MixtureDensity(arrays)
    np.testing.assert_allclose(with_mean.mean(x) - without.mean(x), shift.numpy(), atol=1e-12)
    np.testing.assert_allclose(with_mean.sample(x, np.random.default_rng(5)) - without.sample(x, np.random.default_rng(5)),
                               shift.numpy(), atol=1e-12)


@pytest.mark.parametrize("fixture, kind, cls", [("linear_gaussian", "mdn", MixtureDensity),
                                                 ("kernel_linear_gaussian", "kernel", KernelDensity)])
def test_density_round_trips_through_the_folder_arrays_without_pickles(request, fixture, kind, cls):
    fitted = request.getfixturevalue(fixture)
    content = save_predictors({f"X/{kind}": fitted})
    with np.load(io.BytesIO(content), allow_pickle=False) as stored:
        assert all(stored[key].dtype != object for key in stored.files)
    restored = load_predictors(content)[f"X/{kind}"]
    assert isinstance(restored, cls) and restored.kind == kind
    x, y = np.array([[0.1], [0.7]]), np.array([[0.2, 0.0], [1.4, 0.5]])
    np.testing.assert_array_equal(restored.log_prob(x, y), fitted.log_prob(x, y))
    np.testing.assert_array_equal(restored.sample(x, np.random.default_rng(4)),
                                  fitted.sample(x, np.random.default_rng(4)))
    with pytest.raises(ValueError, match="inputs must be"):
        restored.sample(np.zeros((2, 3)), np.random.default_rng(0))


def test_fit_refuses_what_it_cannot_fit():
    x, y = np.zeros((10, 1)), np.zeros((10, 2))
    with pytest.raises(ValueError, match="at least 2 groups"):
        fit_density(x, y, np.zeros(10))
    with pytest.raises(ValueError, match="must be finite"):
        fit_density(x, np.full((10, 2), np.nan), np.arange(10))
    with pytest.raises(ValueError, match="must agree"):
        fit_density(x, y[:5], np.arange(10))


def test_small_model_generates_from_the_density_with_the_spread_of_real_stars(small_model):
    rows = {r["regressor"]: r for r in small_model.metadata["physics"]["regressor_validation"]
            if r["class"] == "CEP"}
    assert set(rows) == set(KINDS)
    assert rows["mdn"]["nll"] < min(rows[k]["nll"] for k in PAPER_KINDS)
    # the density's 16-84 % interval holds about 68 % of the validation stars' targets; the
    # point regressors' families are far narrower
    assert 0.5 < rows["mdn"]["coverage_68"] < 0.85
    assert rows["mdn"]["width_log_amplitude"] > 2 * max(rows[k]["width_log_amplitude"] for k in PAPER_KINDS)
    kwargs = dict(teff=5800, abs_mag=-3.0, period=5.0, n_samples=200, band="I", seed=0)
    mdn = small_model.draw("CEP", regressor="mdn", **kwargs)
    rf = small_model.draw("CEP", regressor="rf", **kwargs)
    assert mdn.regressor == "mdn" and mdn.grid.shape[0] == 200
    info = small_model.class_physics["CEP"]   # the density reads physics, band and subtype, no dummy
    assert small_model.physics.predictor("CEP", "mdn").arrays["x_mean"].size == \
        len(info.parameters) + len(info.bands) + len(info.subtypes)
    assert np.log10(mdn.amplitude).std() > 2 * np.log10(rf.amplitude).std()
    table = small_model.generate("CEP", regressor="mdn", phases=[0.0, 0.5], **kwargs)
    assert (table["regressor"] == "mdn").all() and "amplitude_clipped" in table


@pytest.mark.parametrize("kind", KINDS)
def test_no_regressor_returns_an_amplitude_outside_the_class_bounds(small_model, kind):
    """Every class, every band, every corner of the inputs generation accepts (each range
    widened by just under one width): amplitudes within the real range widened by the stated
    margin, and a sample held at a bound is flagged."""
    for cls, info in small_model.class_physics.items():
        low, high = info.amplitude_bounds(info.bands[0])
        assert high < np.log10(11.0) and high - low < 4
        edges = [(lo - 0.99 * (hi - lo), lo, hi, hi + 0.99 * (hi - lo)) for lo, hi in
                 (info.ranges[p] for p in info.parameters)]
        for corner in itertools.product(*edges):
            values = dict(zip(info.parameters, corner))
            for band in info.bands:
                star = small_model.draw(cls, teff=values.get("teff"), abs_mag=values.get("abs_mag"),
                                        period=10 ** values["log_period"], n_samples=20,
                                        regressor=kind, band=band)
                low, high = info.amplitude_bounds(band)
                log_amplitude = np.log10(star.amplitude)
                assert (log_amplitude >= low - 1e-12).all() and (log_amplitude <= high + 1e-12).all()
                at_bound = np.isclose(log_amplitude, low) | np.isclose(log_amplitude, high)
                assert (star.amplitude_clipped <= at_bound).all()


def test_an_absurd_amplitude_is_held_to_the_bound_and_flagged(small_model, monkeypatch):
    """A regressor saying 84 mag (what the paper's MLP said at 400 d for LPV) is not returned."""
    cls = "ECL"
    info = small_model.class_physics[cls]
    n_inputs = len(info.parameters) + len(info.bands) + 1
    d = small_model.config.latent_dim
    absurd = Predictor("linear", {"x_mean": np.zeros(n_inputs), "x_scale": np.ones(n_inputs),
                                  "coef": np.zeros((n_inputs, d + 1)),
                                  "intercept": np.r_[np.zeros(d), np.log10(84.0)]})
    monkeypatch.setitem(small_model.physics.predictors, f"{cls}/linear", absurd)
    star = small_model.draw(cls, period=0.4, regressor="linear", n_samples=3)
    np.testing.assert_allclose(star.amplitude, 10 ** info.amplitude_bounds(info.bands[0])[1])
    assert star.amplitude.max() < 11 and star.amplitude_clipped.all()
    assert star.observe(phases=[0.0, 0.5])["amplitude_clipped"].all()


def test_a_folder_without_recorded_amplitudes_falls_back_to_the_physical_bound():
    info = ClassPhysics.from_dict({"cls": "LPV", "parameters": ["log_period"], "bands": ["V"],
                                   "ranges": {"log_period": [2, 3]}, "typical": {"log_period": 2.5},
                                   "n_stars": 10})
    assert info.amplitude_bounds("V") == PHYSICAL_LOG_AMPLITUDE
    info.log_amplitude["V"] = (-0.5, 0.7)
    assert info.amplitude_bounds("V") == pytest.approx((-0.5 - 0.1, 0.7 + 0.1))
    assert density.KIND in KINDS


def test_the_density_generates_by_default_where_fitted_and_old_folders_keep_the_forest(small_model):
    physics = small_model.physics  # the density its fit chose (pipeline.choose_generator)
    assert physics.fitted_kinds() == KINDS and physics.preferred in DENSITY_KINDS
    assert physics.default_regressor == physics.preferred
    assert small_model.draw("CEP", period=5.0, n_samples=2, band="I").regressor == physics.preferred
    # a folder fitted before the density existed: only the paper's three, the forest by default
    old = dataclasses.replace(physics, predictors={k: v for k, v in physics.predictors.items()
                                                   if k.partition("/")[2] in PAPER_KINDS})
    assert old.fitted_kinds() == PAPER_KINDS and old.default_regressor == "rf"
    # one class without its density: that class draws with the forest, the others keep theirs
    mixed = dataclasses.replace(physics, predictors={k: v for k, v in physics.predictors.items()
                                                     if k != f"CEP/{physics.preferred}"})
    assert mixed.default_regressor == "rf"
    assert (mixed.default_for("CEP"), mixed.default_for("RRLYR")) == ("rf", physics.preferred)


def test_the_folder_records_per_band_how_many_curves_start_kernel_draws(small_model):
    """What the kernel's donor rule kept (:func:`latent_fit.faithful_rows`) is in the folder's
    metadata per class and band, and it is what the kernel density holds."""
    for cls, info in small_model.class_physics.items():
        kernel = small_model.physics.predictors.get(f"{cls}/{KERNEL_KIND}")
        if kernel is None:
            continue
        assert set(info.donors) <= set(info.bands) and info.donors
        assert all(0 < of and 0 <= kept <= of for kept, of in info.donors.values())
        assert sum(kept for kept, _ in info.donors.values()) == len(kernel.arrays["centres"])
    again = ClassPhysics.from_dict(json.loads(json.dumps(info.to_dict())))
    assert again.donors == info.donors
