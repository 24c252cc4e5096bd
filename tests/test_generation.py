"""Regressors, generation in physical units, cadences, and the shape measures of the morph."""
from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from pelsvae_core import cadences, load_model
from pelsvae_core.data.relations import CLASS_PERIOD_ENDS, class_period_limits
from pelsvae_core.evaluation.morph import rr_lyrae_morph, shape_parameters
from pelsvae_core.physics.regressors import (PAPER_KINDS, Predictor, load_predictors, make_estimator,
                                             save_predictors)


@pytest.mark.parametrize("kind", PAPER_KINDS)
def test_array_predictors_match_scikit_learn_and_round_trip(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)) * [1000, 1, 0.3, 1]
    y = np.column_stack([np.sin(x[:, 0] / 500), x[:, 1] * x[:, 2], x[:, 3] ** 2])
    scaler = StandardScaler().fit(x)
    estimator = make_estimator(kind, 0).fit(scaler.transform(x), y)
    predictor = Predictor.from_sklearn(kind, scaler, estimator)
    expected = estimator.predict(scaler.transform(x[:50]))
    tolerance = 1e-6 if kind == "rf" else 1e-9  # a forest's leaf values are kept in single precision
    np.testing.assert_allclose(predictor.predict(x[:50]), expected, rtol=tolerance, atol=tolerance)
    restored = load_predictors(save_predictors({"X/" + kind: predictor}))["X/" + kind]
    np.testing.assert_array_equal(restored.predict(x[:50]), predictor.predict(x[:50]))
    if kind == "rf":  # a forest saved before leaves alone kept values: one value row per node
        old = {k: v for k, v in predictor.arrays.items() if k != "leaf"}
        old["value"] = predictor.arrays["value"][np.maximum(predictor.arrays["leaf"], 0)]
        np.testing.assert_array_equal(Predictor("rf", old).predict(x[:50]), predictor.predict(x[:50]))


def test_model_folder_lists_each_class_parameters(small_model):
    params = small_model.parameters()
    assert params["CEP"]["parameters"] == ["teff", "abs_mag", "log_period"] or \
        tuple(params["CEP"]["parameters"]) == ("teff", "abs_mag", "log_period")
    assert tuple(params["ECL"]["parameters"]) == ("log_period",)
    lo, hi = params["CEP"]["ranges"]["teff"]
    assert 3000 < lo < hi < 10000
    assert small_model.metadata["physics"]["regressor_validation"]


def test_generation_shapes_units_and_determinism(small_model):
    kwargs = dict(cls="CEP", teff=5800, abs_mag=-3.0, period=5.0, n_samples=4, band="I")
    a = small_model.generate(**kwargs, phases=np.linspace(0, 1, 50), seed=3)
    b = small_model.generate(**kwargs, phases=np.linspace(0, 1, 50), seed=3)
    c = small_model.generate(**kwargs, phases=np.linspace(0, 1, 50), seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["mag"], c["mag"])
    assert len(a) == 4 * 50 and set(a["sample"]) == {0, 1, 2, 3}
    assert (a["mag_kind"] == "absolute").all() and (a["mag_err"] > 0).all()
    assert abs(a["mag"].mean() - (-3.0)) < 1.5
    far = small_model.generate(**kwargs, phases=np.linspace(0, 1, 50), seed=3, distance_pc=50_000)
    np.testing.assert_allclose(far["mag"] - a["mag"], 5 * np.log10(50_000 / 10))
    assert (far["mag_kind"] == "apparent").all()
    timed = small_model.generate(**kwargs, times=[0.0, 2.5, 5.0, 12.5])
    np.testing.assert_allclose(timed["phase"][:4], [0.0, 0.5, 0.0, 0.5])
    assert (a["abs_mag_source"] == "given").all()


def test_class_without_m_takes_its_mean_from_the_gaia_period_luminosity_relation(small_model):
    reference = small_model.references["ECL"]
    assert reference.n_stars > 1000 and reference.luminosity is not None
    curves = small_model.generate("ECL", period=0.4, n_samples=3, distance_pc=1000)
    expected = reference.abs_mag(0.4) + 5 * np.log10(1000 / 10)
    assert (curves["mag_kind"] == "apparent").all()
    assert curves["abs_mag_source"].str.startswith("period-luminosity").all()
    np.testing.assert_allclose(curves["abs_mag"], reference.abs_mag(0.4))
    assert abs(curves["mag"].mean() - expected) < 0.5  # the curve is centred on its mean


def test_survey_noise_follows_the_fitted_error_relation_and_the_real_scatter(small_model):
    """The error reported is the survey's quoted error at each magnitude; the noise drawn is
    as large as the real scatter of the class's curves in that survey, a different size."""
    error_model = small_model.error_models["Catalina SSS/V_CSS"]
    kwargs = dict(cls="ECL", period=0.4, n_samples=20, band="V_CSS", distance_pc=3000, seed=5,
                  phases=np.linspace(0, 1, 100, endpoint=False))
    clean = small_model.generate(**kwargs)
    noisy = small_model.generate(**kwargs, noise=True)
    assert (noisy["noise"] == "Catalina SSS V_CSS").all() and (clean["noise"] == "none").all()
    np.testing.assert_allclose(noisy["mag_err"], error_model.sigma(clean["mag"]), rtol=1e-6)
    scatter = error_model.real_sigma(clean["mag"].to_numpy(), "ECL")
    pulls = (noisy["mag"] - clean["mag"]) / scatter
    assert abs(pulls.std() - 1) < 0.1 and abs(pulls.mean()) < 0.1
    ratio = ((noisy["mag"] - clean["mag"]) / noisy["mag_err"]).std()
    assert not 0.9 < ratio < 1.1  # the real scatter, measured, is not the quoted error
    with pytest.raises(ValueError, match="give distance_pc"):
        small_model.generate(**{**kwargs, "distance_pc": None}, noise=True)
    with pytest.raises(ValueError, match="choose True or a survey observed in band V_CSS"):
        small_model.generate(**kwargs, noise="Kepler")


def test_one_draw_observed_under_several_cadences_matches_generate(small_model):
    kwargs = dict(teff=5800, abs_mag=-3.0, period=5.0, n_samples=3, band="I", seed=2)
    star = small_model.draw("CEP", **kwargs)
    for cadence in ("ogle", "lsst"):
        pd.testing.assert_frame_equal(star.observe(cadence=cadence, distance_pc=5e4),
                                      small_model.generate("CEP", **kwargs, cadence=cadence,
                                                           distance_pc=5e4))
    # the noise-free magnitudes alone, without the table, are the table's
    phases = np.linspace(0, 1, 50, endpoint=False)
    mag, err, kind = star.magnitudes(phases, distance_pc=5e4)
    table = star.observe(phases=phases, distance_pc=5e4)
    np.testing.assert_array_equal(mag.ravel(), table["mag"].to_numpy())
    np.testing.assert_array_equal(err.ravel(), table["mag_err"].to_numpy())
    assert kind == "apparent" == table["mag_kind"].iloc[0]
    # and the observation's arrays, noise included, are the table's
    noisy = star.observation(cadence="ogle", distance_pc=5e4, noise=True)
    table = star.observe(cadence="ogle", distance_pc=5e4, noise=True)
    np.testing.assert_array_equal(noisy.mag.ravel(), table["mag"].to_numpy())
    np.testing.assert_array_equal(np.tile(noisy.times, 3), table["time"].to_numpy())
    pd.testing.assert_frame_equal(noisy.table(), table)


def test_band_choice_and_refusal(small_model):
    with pytest.raises(ValueError, match="trained in band"):
        small_model.generate("CEP", period=5.0, band="u")


@pytest.mark.parametrize("bad, message", [
    (dict(cls="MIRA", period=300.0), "unknown class"),
    (dict(cls="CEP", period=0.0), "period must be positive"),
    (dict(cls="CEP", period=5.0, teff=float("nan")), "teff must be finite"),
    (dict(cls="CEP", period=5.0, teff="hot"), "teff must be a number"),
    (dict(cls="CEP", period=5.0, times=[]), "no observation times"),
    (dict(cls="CEP", period=5.0, teff=60_000), "far outside the CEP training range"),
    (dict(cls="CEP", period=5.0, cadence="kepler"), "unknown cadence"),
    (dict(cls="CEP", period=5.0, regressor="svm"), "unknown regressor"),
])
def test_bad_input_is_a_clear_error(small_model, bad, message):
    with pytest.raises(ValueError, match=message):
        small_model.generate(**bad)


def test_mild_extrapolation_is_flagged_not_refused(small_model):
    lo, hi = small_model.parameters()["CEP"]["ranges"]["teff"]
    table = small_model.generate("CEP", teff=hi + 0.3 * (hi - lo), period=5.0, n_samples=1)
    assert table["extrapolation"].iloc[0] == pytest.approx(0.3, abs=0.01)
    inside = small_model.generate("CEP", teff=(lo + hi) / 2, period=5.0, n_samples=1)
    assert inside["extrapolation"].iloc[0] == 0.0


def test_the_shipped_model_s_physics_stays_inside_each_class_s_period_limits():
    """The shipped model's physics map never learnt a type II Cepheid under 1 d or an RR Lyrae
    over 1 d (the Catalina labels that say so are left out of its fit), so its class ranges
    lie inside the OGLE-III limits, and a request outside them is flagged with a warning."""
    model = load_model()
    for cls in CLASS_PERIOD_ENDS:
        lo, hi = model.parameters()[cls]["ranges"]["log_period"]
        limit_lo, limit_hi = class_period_limits(cls)
        assert 10 ** lo >= limit_lo * (1 - 1e-6) and 10 ** hi <= limit_hi * (1 + 1e-6), cls
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = model.generate("T2CEP", period=0.9, n_samples=1, phases=np.linspace(0, 1, 5))
    assert table["extrapolation"].iloc[0] > 0
    assert any("outside the class's periods in the OGLE-III catalogue, T2CEP ≥ 1.003 d"
               in str(w.message) for w in caught)
    assert not math.isnan(table["mag"].iloc[0])


@pytest.mark.parametrize("name", list(cadences.PRESETS))
def test_cadence_presets(name):
    spec = cadences.PRESETS[name]
    times = cadences.preset(name, seed=1)
    assert np.all(np.diff(times) >= 0) and times[0] == 0
    assert len(times) == spec.nights * spec.visits_per_night
    assert times[-1] <= spec.baseline_days + 1
    np.testing.assert_array_equal(times, cadences.preset(name, seed=1))
    assert not np.array_equal(times, cadences.preset(name, seed=2))
    if spec.season_days < cadences.YEAR_DAYS:
        # no observations in the off-season gaps: the largest gaps are at least the off-season
        assert np.sort(np.diff(times))[-2] > 0.5 * (cadences.YEAR_DAYS - spec.season_days)
    fewer = cadences.preset(name, seed=1, nights=10)
    assert len(fewer) == 10 * spec.visits_per_night


def test_uniform_cadence_and_its_errors():
    np.testing.assert_allclose(cadences.uniform(5, 4.0), [0, 1, 2, 3, 4])
    with pytest.raises(ValueError):
        cadences.uniform(0, 10.0)


def test_shape_parameters_tell_sawtooth_from_sinusoid():
    phase = np.linspace(0, 1, 400, endpoint=False)
    sinusoid = shape_parameters(phase, np.cos(2 * np.pi * phase))
    sawtooth = shape_parameters(phase, phase - 0.5 + 0.02 * np.cos(2 * np.pi * phase))
    assert sinusoid["R21"] < 0.01 < 0.3 < sawtooth["R21"]
    assert abs(sinusoid["skewness"]) < 0.05


def test_rr_lyrae_morph_covers_the_training_range(small_model):
    curves, shapes = rr_lyrae_morph(small_model, n_teff=3, regressors=("linear", "rf"), n_samples=2)
    lo, hi = small_model.parameters()["RRLYR"]["ranges"]["teff"]
    assert len(shapes) == 6 and lo <= shapes["teff"].min() < shapes["teff"].max() <= hi
    assert set(curves["regressor"]) == {"linear", "rf"} and np.isfinite(shapes["R21"]).all()
    stars = small_model.latents()
    stars = stars[(stars["cls"] == "RRLYR") & stars["teff"].notna() & (stars["split"] == "train")]
    # along the real sequence, the hottest curve gets the period of the hot real stars
    hot = shapes.loc[shapes["teff"].idxmax()]
    near = stars[(stars["teff"] - hot["teff"]).abs() <= 300]
    assert hot["period"] == pytest.approx(near["period"].median())
    fixed = rr_lyrae_morph(small_model, n_teff=2, regressors=("rf",), n_samples=2, along="fixed")[1]
    assert fixed["period"].nunique() == 1


def test_generate_command_writes_a_table(small_model, tmp_path):
    out = tmp_path / "curves.csv"
    result = subprocess.run([sys.executable, "-m", "pelsvae_core.cli", "generate", "--model",
                             str(small_model.folder), "--class", "CEP", "--period", "5",
                             "--cadence", "ogle", "--set", "nights=30", "--n-samples", "2",
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert len(table) == 60 and {"time", "phase", "mag", "mag_err", "band", "teff"} <= set(table)
    bad = subprocess.run([sys.executable, "-m", "pelsvae_core.cli", "generate", "--model",
                          str(small_model.folder), "--class", "CEP", "--period", "5",
                          "--out", str(tmp_path / "x.txt")], capture_output=True, text=True)
    assert bad.returncode == 2 and "must end in .csv or .parquet" in bad.stderr
    assert not (tmp_path / "x.txt").exists()


def test_parse_times_prefers_a_time_column_keeps_the_times_and_accepts_pasted_numbers():
    """One parser for the CLI's --times and the dashboard's upload and paste."""
    np.testing.assert_allclose(cadences.parse_times(b"x,time\n5,55010.5\n1,55011.5\n7,55010.0\n"),
                               [55010.0, 55010.5, 55011.5])
    np.testing.assert_allclose(cadences.parse_times(b"3.0\n1.0\n 2.5\n"), [1.0, 2.5, 3.0])
    for content, reason in [(b"", "empty"), (b"time\n1\n2\nthree\n", "not numbers"),
                            (b"time\n", "no rows"), (b"time\n1\n", "at least 3")]:
        with pytest.raises(ValueError, match=reason):
            cadences.parse_times(content)


def test_cli_times_file_without_a_header_keeps_its_first_time(small_model, tmp_path):
    (tmp_path / "times.csv").write_text("55000.25\n55001.5\n55003.0\n")
    out = tmp_path / "curves.csv"
    result = subprocess.run([sys.executable, "-m", "pelsvae_core.cli", "generate", "--model",
                             str(small_model.folder), "--class", "CEP", "--period", "5",
                             "--times", str(tmp_path / "times.csv"), "--n-samples", "1",
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(pd.read_csv(out)["time"], [55000.25, 55001.5, 55003.0])


def test_folder_with_regressors_reloads(small_model):
    again = load_model(small_model.folder)
    assert set(again.physics.predictors) == set(small_model.physics.predictors)


def test_a_star_placed_at_m_has_m_as_its_intensity_mean_magnitude():
    """Absolute magnitudes in pelsvae are of the mean flux (Gaia's G, OGLE's I and V means):
    a generated curve's mean flux over the cycle is that of M + colour + mu, and the mean of its
    magnitudes is fainter by about 0.46 sigma_m^2 (second order in the curve's rms)."""
    from pelsvae_core.photometry import intensity_mean

    model = load_model()
    phases = np.linspace(0, 1, 4000, endpoint=False)
    table = model.generate("RRLYR", teff=6300, abs_mag=0.6, period=0.58, n_samples=3, band="V",
                           phases=phases, distance_pc=1000, seed=2)
    for _, curve in table.groupby("sample"):
        expected = 0.6 + curve["colour"].iloc[0] + 5 * np.log10(1000 / 10)
        mag = curve["mag"].to_numpy()
        assert intensity_mean(mag) == pytest.approx(expected, abs=2e-3)  # 4000 phases of a 300-point grid
        assert 0.3 < np.ptp(mag) and mag.mean() - expected == pytest.approx(0.46 * mag.var(), rel=0.25)
    # the definition itself: a flat curve's intensity mean is its magnitude; two equal halves at
    # m and m + 2.5 log10(3) carry fluxes 1 and 1/3, mean 2/3
    assert intensity_mean(np.full(5, 12.3)) == pytest.approx(12.3)
    assert intensity_mean([10.0, 10 + 2.5 * np.log10(3)]) == pytest.approx(10 - 2.5 * np.log10(2 / 3))
