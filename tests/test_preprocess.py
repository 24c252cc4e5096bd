"""Cleaning, folding, scaling and resampling invariants, on real curves and constructed cases."""
from __future__ import annotations

import numpy as np
import pytest

from pelsvae_core import fourier
from pelsvae_core.data import catalina
from pelsvae_core.data.preprocess import FoldedCurve, PreprocessConfig, fold, resample, sigma_clip
from pelsvae_core.data.records import LightCurve


@pytest.fixture(scope="module")
def real_curves(subset_root):
    return [c for c in catalina.read_sss(subset_root / "catalina_sss") if not c.read_problem]


def synthetic(cls="RRLYR", subtype="RRab", period=0.55, n=250, amplitude=0.8, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(53000, 56000, n))
    phase = np.mod(time / period, 1.0)
    mag = 15 + amplitude * (phase - 0.5) + rng.normal(0, noise, n)  # a sawtooth
    err = np.full(n, noise)
    return LightCurve("test", "V", "star", cls, subtype, period, "test", time, mag, err)


def test_folded_real_curves_are_scaled_sorted_and_finite(real_curves):
    cfg = PreprocessConfig()
    folded = [f for f in (fold(c, cfg) for c in real_curves) if isinstance(f, FoldedCurve)]
    assert len(folded) > 0.2 * len(real_curves)  # Catalina keeps ~30% (faint stars fail S/N)
    for f in folded:
        assert f.mag.min() == 0.0 and f.mag.max() == 1.0
        assert np.all(np.diff(f.phase) >= 0) and f.phase.min() >= 0 and f.phase.max() < 1
        assert np.all(f.err > 0) and np.isfinite(f.amplitude) and f.amplitude > 0
        assert f.snr >= cfg.snr_min


@pytest.mark.parametrize("n_obs", [60, 236, 300, 900])
def test_resample_has_fixed_length_and_keeps_every_observation(n_obs):
    rng = np.random.default_rng(1)
    phase = np.sort(rng.uniform(0, 1, n_obs))
    mag, err = rng.uniform(0, 1, n_obs), np.full(n_obs, 0.01)
    p, m, e, mask = resample(phase, mag, err, 300, rng)
    assert p.shape == m.shape == e.shape == mask.shape == (300,)
    assert np.all(np.diff(p) >= 0)
    assert mask.sum() == min(n_obs, 300)
    # masked-in points are distinct real observations
    assert len(set(p[mask].tolist())) == mask.sum()
    assert set(p.tolist()) <= set(phase.tolist())


def test_phase_zero_is_maximum_light_for_pulsators_and_primary_minimum_for_binaries():
    cfg = PreprocessConfig()
    for cls in ("RRLYR", "ECL"):
        f = fold(synthetic(cls=cls, subtype="X"), cfg)
        smooth = fourier.evaluate(fourier.fit(f.phase, f.mag, f.err, 6), np.linspace(0, 1, 200))
        extreme = np.argmax(smooth) if cls == "ECL" else np.argmin(smooth)
        phase_at = np.linspace(0, 1, 200)[extreme]
        assert min(phase_at, 1 - phase_at) < 0.03, cls


def test_sigma_clipping_removes_outliers_in_magnitude_and_error():
    rng = np.random.default_rng(2)
    mag, err = rng.normal(15, 0.1, 300), rng.normal(0.05, 0.005, 300)
    mag[10], err[20] = 25.0, 2.0
    keep = sigma_clip(mag, err, 3.0, 3)
    assert not keep[10] and not keep[20] and keep.sum() > 280


def test_noise_only_curve_fails_signal_to_noise():
    assert fold(synthetic(amplitude=0.0, noise=0.05), PreprocessConfig()) == "S/N < 5"


def test_reasons_for_unusable_curves():
    cfg = PreprocessConfig()
    assert fold(synthetic(subtype="RRd"), cfg).startswith("irregular subtype")
    assert fold(synthetic(subtype="F/1O"), cfg).startswith("irregular subtype")
    assert fold(synthetic(period=np.nan), cfg) == "no period"
    assert fold(synthetic(n=10), cfg) == "too few observations"
