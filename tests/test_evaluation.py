"""Each evaluation measure on constructed cases whose answer is known, and the suite end to end."""
from __future__ import annotations

import json
from types import SimpleNamespace

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
                           "generate_100_ms", "regressor_validation"}
    assert results["cadence_invariance"] < 1e-5
    assert 0 <= results["tstr"]["trained_on_synthetic"] <= 1
    for name in ("report.md", "rr_lyrae_morph.png", "rr_lyrae_shapes.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert (tmp_path / "report" / "rr_lyrae_morph.png").read_bytes()[:4] == b"\x89PNG"
    assert "Table 3 analogue" in (tmp_path / "report" / "report.md").read_text()


def test_regressor_table_sets_cvae_beside_cvae_p():
    def fake(physics, r2):
        rows = [{"class": "CEP", "regressor": "rf", "n_val": 10, "rmse_latent": 1 - r2, "r2_latent": r2}]
        return SimpleNamespace(config=SimpleNamespace(physics=physics),
                               metadata={"physics": {"regressor_validation": rows}})
    table = suite.regressor_validation(fake(True, 0.6), fake(False, 0.2))
    row = table.iloc[0]
    assert (row["class"], row["regressor"]) == ("CEP", "rf")
    assert row["r2 cVAE-P"] == 0.6 and row["r2 cVAE"] == 0.2 and row["rmse cVAE"] == 0.8
