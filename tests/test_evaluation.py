"""Each evaluation measure on constructed cases whose answer is known, and the suite end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pelsvae_core.evaluation import suite
from pelsvae_core.evaluation.reconstruction import masked_rmse
from pelsvae_core.physics_map import model_training_set


def test_two_sample_accuracy_near_half_for_identical_sets_and_one_for_disjoint():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 10)), rng.normal(size=(300, 10))
    assert abs(suite.two_sample_accuracy(a, b) - 0.5) < 0.08
    assert suite.two_sample_accuracy(a, b + 3.0) > 0.97


def test_masked_rmse_counts_each_real_observation_once():
    truth = np.array([[0.0, 1.0, 1.0]])
    model = np.array([[0.0, 0.0, 0.0]])
    assert masked_rmse(truth, model, np.array([[True, True, False]]))[0] == pytest.approx(np.sqrt(0.5))


def test_curve_features_are_scaled_fourier_fits():
    phase = np.tile(np.linspace(0, 1, 120, endpoint=False), (2, 1))
    mag = np.vstack([np.cos(2 * np.pi * phase[0]), 3 + 5 * np.cos(2 * np.pi * phase[1])])
    features = suite.curve_features(phase, mag, np.full_like(mag, 0.01), np.ones_like(mag, bool))
    assert features.shape == (2, suite.FEATURE_PHASES.size)
    np.testing.assert_allclose(features[0], features[1], atol=1e-6)  # same shape, other scale
    assert features.min() == pytest.approx(0) and features.max() == pytest.approx(1)


def test_evaluate_writes_numbers_figures_and_report(small_model, subset_root, subset_cache, tmp_path):
    data = model_training_set(small_model, subset_root, subset_cache.directory, progress=False)
    results = suite.evaluate(small_model, data, tmp_path / "eval.json", tmp_path / "report",
                             progress=False)
    stored = json.loads((tmp_path / "eval.json").read_text())
    assert set(stored) >= {"reconstruction", "physics_to_curve", "two_sample", "tstr",
                           "morph_generated", "morph_real", "memorisation", "cadence_invariance",
                           "generate_100_ms"}
    assert results["cadence_invariance"] < 1e-5
    assert 0 <= results["tstr"]["trained_on_synthetic"] <= 1
    for name in ("report.md", "rr_lyrae_morph.png", "rr_lyrae_shapes.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert (tmp_path / "report" / "rr_lyrae_morph.png").read_bytes()[:4] == b"\x89PNG"
