"""Period recovery over many realisations, and the survey noise that goes with a cadence."""
from __future__ import annotations

import numpy as np
import pytest

from pelsvae_core import load_model
from pelsvae_core.cadences import times_for
from pelsvae_core.evaluation.recovery import (Recovery, describe_noise, noise_for_cadence,
                                              period_recovery)
from pelsvae_core.physics.noise import ErrorModel, published_error_models


@pytest.fixture(scope="module")
def star():
    return load_model().draw("RRLYR", teff=7300, abs_mag=0.3, period=0.55, n_samples=4, seed=0)


def test_dense_cadences_find_the_period_and_each_realisation_differs(star):
    # 0.05 d spacing over 60 d: well above the Nyquist rate of the search window, no alias
    dense = [np.sort(np.random.default_rng(s).uniform(0, 60, 600)) for s in range(6)]
    found = period_recovery(star, dense, distance_pc=10_000, noise=True)
    assert found.rate == 1.0 and found.found.shape == (6,) and found.aliases() == []
    assert np.all(np.abs(found.found / 0.55 - 1) < 0.01)
    assert len(set(found.found)) > 1  # new times, noise and sample each time


def test_one_epoch_a_night_confuses_the_period_with_its_daily_aliases(star):
    # the same hour every night: frequencies 1/P and 1/P - 1 per day look alike
    nightly = [np.arange(60.0) + np.random.default_rng(s).uniform(-0.02, 0.02, 60) for s in range(20)]
    found = period_recovery(star, nightly, distance_pc=10_000, noise=True)
    assert found.rate < 0.95
    daily_alias = 1 / abs(1 / 0.55 - 1)  # 1.22 d
    assert any(abs(period / daily_alias - 1) < 0.01 for period, _ in found.aliases())


def test_too_few_epochs_count_as_not_recovered(star):
    found = period_recovery(star, [np.arange(3.0)], distance_pc=None, noise=False)
    assert np.isnan(found.found[0]) and found.rate == 0.0
    with pytest.raises(ValueError, match="at least one"):
        period_recovery(star, [], distance_pc=None, noise=False)


def test_only_detections_are_searched(star):
    """A star near the survey's depth: its upper limits (reported at the depth) are not searched
    as measurements; what is searched is exactly the detected epochs, and too few of them count
    as a miss."""
    from pelsvae_core.periodogram import search_near
    dense = np.sort(np.random.default_rng(1).uniform(0, 60, 400))
    depth = load_model().physics.error_model(True, star.request.band).m5
    near = star.observation(times=dense, distance_pc=10_000, noise=False).mag[0]
    far = 10_000 * 10 ** ((depth - np.median(near)) / 5)  # its median at the depth
    observation = star.observation(times=dense, distance_pc=far, noise=True)
    detected = observation.detected[0]
    assert 0 < detected.sum() < detected.size
    times, mag, err = observation.detections(0)
    assert times.size == detected.sum() and (mag <= observation.mag[0].max()).all()
    found = period_recovery(star, [dense], distance_pc=far, noise=True)
    assert found.found[0] == search_near(times, mag, err, 0.55).period
    very_far = far * 10 ** (2 / 5)  # 2 mag fainter still: fewer than five of 40 epochs detected
    faint = star.observation(times=dense[:40], distance_pc=very_far, noise=True)
    assert faint.detections(0)[0].size < 5 <= faint.times.size
    lost = period_recovery(star, [dense[:40]], distance_pc=very_far, noise=True)
    assert np.isnan(lost.found[0]) and lost.rate == 0.0  # not a search of 40 upper limits


def test_sparse_survey_cadence_loses_the_period_sometimes(star):
    """Gaia-like sampling (70 epochs in 5 years) misses an RR Lyrae's period now and then; the
    LSST-like cadence, with its pairs of visits on 90 nights a year, does not."""
    gaia = period_recovery(star, [times_for("gaia", s) for s in range(40)], 10_000, True)
    lsst = period_recovery(star, [times_for("lsst", s) for s in range(40)], 10_000, True)
    assert lsst.rate > gaia.rate and lsst.rate >= 0.95


def test_aliases_merge_nearby_periods_and_rank_by_frequency():
    found = Recovery(1.0, np.array([1.0, 0.5, 0.501, 0.502, 2.0, 2.01, np.nan]),
                     np.array([True, False, False, False, False, False, False]))
    (first, share), (second, _) = found.aliases(top=2)
    assert first == pytest.approx(0.501) and share == pytest.approx(3 / 7)
    assert second == pytest.approx(2.005)
    assert found.rate == pytest.approx(1 / 7)


def model(survey, band, n_stars):
    return ErrorModel(survey, band, 0.01, 21.0, 0.04, (15.0, 20.0), n_stars)


def test_the_cadence_survey_noise_is_preferred_in_its_band():
    models = {"a": model("SDSS Stripe 82", "g", 300), "b": model("OGLE-III LMC CEP", "I", 100),
              "c": model("Catalina SSS", "I", 900)}
    assert noise_for_cadence(models, "ogle", "I") == (models["b"], True)
    assert noise_for_cadence(models, "lsst", "I") == (models["c"], False)  # the most stars
    assert noise_for_cadence(models, "ogle", "z") == (None, False)
    published = published_error_models(["g", "V"])
    assert list(published) == ["LSST/g", "ZTF/g"]  # neither has V
    assert noise_for_cadence({**models, **published}, "lsst", "g") == (published["LSST/g"], True)
    assert noise_for_cadence({**models, **published}, "gaia", "g") == (models["a"], False)
    lsst = published["LSST/g"]
    # Ivezic et al. (2019) eq. 5 by hand at g = 24: m5 = 25.0, gamma = 0.039, floor 0.005
    x = 10 ** (0.4 * (24.0 - 25.0))
    assert lsst.sigma(24.0) == pytest.approx(np.sqrt(0.005 ** 2 + 0.001 * x + 0.039 * x ** 2), rel=1e-6)
    assert lsst.real_sigma(24.0, "RRLYR") == lsst.sigma(24.0)  # predicted errors are the noise
    assert "Ivezić et al. 2019" in describe_noise(lsst, "RRLYR") and "fitted on" not in describe_noise(lsst)
    ztf = published["ZTF/g"]
    assert noise_for_cadence({**models, **published}, "ztf", "g") == (ztf, True)
    # at ZTF's median g depth (Masci et al. 2019: 20.8) eq. 5 gives S/N ~ 5 over the 0.008 floor
    assert ztf.sigma(20.8) == pytest.approx(np.sqrt(0.008 ** 2 + 0.001 + 0.039), rel=1e-6)
    assert "Masci et al. 2019" in describe_noise(ztf)
    line = describe_noise(models["b"])
    assert "OGLE-III LMC CEP I-band" in line and "100 stars" in line and "depth I = 21.0" in line
