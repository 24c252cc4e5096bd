"""The kernel conditional density ("kernel"): it recovers known conditional distributions, is a
normalised density whose marginals and draws agree with it, chooses its bandwidths from the
data, draws new values rather than copies, and round-trips through the folder's arrays."""
from __future__ import annotations

import io

import numpy as np
import pytest

from pelsvae_core.physics.kernel_density import KernelDensity, fit_kernel_density
from pelsvae_core.physics.regressors import load_predictors, save_predictors


@pytest.fixture(scope="module")
def linear_gaussian() -> KernelDensity:
    """y0 ~ N(2x, 0.5), y1 ~ N(x^2, 0.1), independent, x ~ U(-1, 1)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3000, 1))
    y = np.column_stack([2 * x[:, 0] + 0.5 * rng.standard_normal(3000),
                         x[:, 0] ** 2 + 0.1 * rng.standard_normal(3000)])
    return fit_kernel_density(x, y, np.arange(3000), hidden=(32, 32))


def test_recovers_the_mean_and_width_of_a_known_conditional(linear_gaussian):
    rng = np.random.default_rng(1)
    for x in (-0.5, 0.0, 0.5):
        draws = linear_gaussian.sample(np.full((20_000, 1), x), rng)
        assert draws[:, 0].mean() == pytest.approx(2 * x, abs=0.05)
        assert draws[:, 0].std() == pytest.approx(0.5, rel=0.05)
        assert draws[:, 1].mean() == pytest.approx(x ** 2, abs=0.02)
        assert draws[:, 1].std() == pytest.approx(0.1, rel=0.1)
        np.testing.assert_allclose(linear_gaussian.mean(np.array([[x]])), [[2 * x, x ** 2]], atol=0.05)
    # the density itself: with its small target bandwidth it is spikier than the truth, so
    # fresh draws of the true conditional are less likely under it, but not by much
    x = rng.uniform(-0.8, 0.8, (4000, 1))
    y = np.column_stack([2 * x[:, 0] + 0.5 * rng.standard_normal(4000),
                         x[:, 0] ** 2 + 0.1 * rng.standard_normal(4000)])
    true = (-0.5 * ((y[:, 0] - 2 * x[:, 0]) / 0.5) ** 2 - np.log(0.5)
            - 0.5 * ((y[:, 1] - x[:, 0] ** 2) / 0.1) ** 2 - np.log(0.1) - np.log(2 * np.pi))
    assert -1.0 < linear_gaussian.log_prob(x, y).mean() - true.mean() < 0.0


def test_it_is_a_normalised_density_whose_marginal_and_draws_agree_with_it(linear_gaussian):
    """Integrated over a grid, the joint density is 1 and the joint integrated over y1 is the
    marginal of y0; the draws' histogram follows the marginal."""
    y0, y1 = np.linspace(-3, 4, 281), np.linspace(-0.8, 1.2, 201)
    grid = np.array(np.meshgrid(y0, y1, indexing="ij")).reshape(2, -1).T
    x = np.full((len(grid), 1), 0.6)
    joint = np.exp(linear_gaussian.log_prob(x, grid)).reshape(len(y0), len(y1))
    assert np.trapezoid(np.trapezoid(joint, y1, axis=1), y0) == pytest.approx(1.0, abs=2e-3)
    marginal = np.exp(linear_gaussian.marginal_log_prob(np.full((len(y0), 1), 0.6), y0, 0))
    np.testing.assert_allclose(np.trapezoid(joint, y1, axis=1), marginal, atol=2e-3)
    draws = linear_gaussian.sample(np.full((50_000, 1), 0.6), np.random.default_rng(2))[:, 0]
    counts, edges = np.histogram(draws, bins=y0[::10], density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    expected = np.exp(linear_gaussian.marginal_log_prob(np.full((len(centres), 1), 0.6), centres, 0))
    np.testing.assert_allclose(counts, expected, atol=0.03)


def test_a_bimodal_conditional_gets_both_modes_and_nothing_between():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (3000, 1))
    y = (x[:, 0] + rng.choice([-1.0, 1.0], 3000) + 0.1 * rng.standard_normal(3000))[:, None]
    model = fit_kernel_density(x, y, np.arange(3000), hidden=(32, 32))
    draws = model.sample(np.zeros((20_000, 1)), rng)[:, 0]
    assert np.mean(np.abs(draws + 1) < 0.3) == pytest.approx(0.5, abs=0.05)
    assert np.mean(np.abs(draws - 1) < 0.3) == pytest.approx(0.5, abs=0.05)
    assert np.mean(np.abs(draws) < 0.5) < 0.01
    density_at = np.exp(model.log_prob(np.zeros((3, 1)), np.array([[-1.0], [0.0], [1.0]])))
    assert density_at[1] < 0.01 * min(density_at[0], density_at[2])


def test_bandwidths_follow_the_data_and_draws_are_not_copies(linear_gaussian):
    """A conditional that jumps with x gets a narrower input kernel than a smooth one; and no
    draw repeats a training target."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2000, 1))
    y = np.column_stack([np.where(x[:, 0] > 0, 3.0, -3.0) * np.sin(8 * x[:, 0])
                         + 0.05 * rng.standard_normal(2000)])
    jumpy = fit_kernel_density(x, y, np.arange(2000), hidden=(8,))
    assert float(jumpy.arrays["bandwidth_x"]) < float(linear_gaussian.arrays["bandwidth_x"])
    draws = jumpy.sample(x[:200], rng)
    assert np.abs(draws[:, None, 0] - y[None, :, 0]).min() > 0
    assert float(jumpy.arrays["bandwidth_y"]) > 0


def test_round_trips_through_the_folder_arrays_without_pickles(linear_gaussian):
    content = save_predictors({"X/kernel": linear_gaussian})
    with np.load(io.BytesIO(content), allow_pickle=False) as stored:
        assert all(stored[key].dtype != object for key in stored.files)
    restored = load_predictors(content)["X/kernel"]
    assert isinstance(restored, KernelDensity) and restored.kind == "kernel"
    x, y = np.array([[0.1], [0.7]]), np.array([[0.2, 0.0], [1.4, 0.5]])
    np.testing.assert_array_equal(restored.log_prob(x, y), linear_gaussian.log_prob(x, y))
    np.testing.assert_array_equal(restored.sample(x, np.random.default_rng(4)),
                                  linear_gaussian.sample(x, np.random.default_rng(4)))
    with pytest.raises(ValueError, match="inputs must be"):
        restored.sample(np.zeros((2, 3)), np.random.default_rng(0))
