"""The dashboard's state and views without a browser."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from dashboard.state import Explorer, max_pooled


@pytest.fixture
def explorer(small_model):
    return Explorer(small_model)


def test_starts_with_a_curve_and_no_message(explorer):
    assert explorer.message == ""
    assert explorer.curve is not None and len(explorer.curve) == 200
    assert (explorer.curve["low"] <= explorer.curve["high"]).all()
    assert explorer.observed is not None and len(explorer.observed) > 0


def test_teff_slider_changes_the_curve_and_latent_position(explorer):
    before, position = explorer.curve["median"].copy(), explorer.position.copy()
    lo, hi = explorer.param["teff"].bounds
    explorer.teff = hi
    assert not np.allclose(before, explorer.curve["median"])
    assert not np.allclose(position, explorer.position)


def test_class_switch_sets_ranges_bands_and_disables_unused_sliders(explorer, small_model):
    explorer.star_class = "ECL"
    info = small_model.parameters()["ECL"]
    assert explorer.band in info["bands"]
    assert explorer.responds("teff")[0] is False and "no teff" in explorer.responds("teff")[1]
    assert explorer.responds("log_period")[0] is True
    assert "period-luminosity" in explorer.responds("abs_mag")[1]
    assert explorer.observed["mag"].between(0, 30).all()  # apparent magnitudes from the relation
    lo, hi = info["ranges"]["log_period"]
    b_lo, b_hi = explorer.param["log_period"].bounds
    assert b_lo <= lo and hi <= b_hi
    explorer.star_class = "CEP"
    assert explorer.responds("teff")[0] is True
    assert explorer.message == ""


def test_cadence_presets_and_edits_change_the_observations(explorer):
    explorer.cadence = "gaia"
    assert explorer.nights == 35 and len(explorer.observed) == 70
    explorer.nights = 10
    assert len(explorer.observed) == 20
    explorer.cadence = "lsst"
    assert explorer.visit_gap_minutes == pytest.approx(33.0)
    explorer.visit_gap_minutes = 120.0
    pairs = np.diff(explorer.observed["time"].to_numpy())
    assert np.isclose(pairs, 120.0 / 1440).sum() == explorer.nights  # each night's second visit
    explorer.cadence = "uniform"
    explorer.nights = 50
    assert len(explorer.observed) == 50
    assert set(explorer.search) >= {"periods", "power", "found", "recovered", "true"}


def test_uploaded_cadence_and_bad_files(explorer):
    assert explorer.upload_times(b"mjd,flux\n55000.1,1\n55001.7,2\n55003.2,3\n55010.9,4\n")
    assert explorer.cadence == "custom" and len(explorer.observed) == 4
    kept = explorer.observed.copy()
    for content, reason in [(b"", "empty"), (b"time\n1\n2\nthree\n", "not numbers"),
                            (b"time\n", "no rows"),
                            (b"time\n1\n", "at least 3"), (b"\xff\xfe\x00garbage", "")]:
        assert not explorer.upload_times(content)
        assert "Custom cadence not used" in explorer.message and reason in explorer.message
        pd.testing.assert_frame_equal(explorer.observed, kept)
    explorer.nights = 20  # the app keeps working
    assert explorer.curve is not None


def test_redraw_and_sample_count(explorer):
    before = explorer.curve["median"].copy()
    explorer.redraw()
    assert explorer.seed == 1 and not np.allclose(before, explorer.curve["median"])
    explorer.n_samples = 3
    assert explorer.position.shape[0] == 3


def test_latent_projection_and_click(explorer):
    explorer.projection = "z0-z1"
    points = explorer.latent_points()
    assert {"x", "y", "cls", "period", "teff"} <= set(points.columns)
    np.testing.assert_allclose(points["x"], points["z0"])
    explorer.decode_latent_point(0.7, -0.4)
    assert explorer.message == "" and np.allclose(explorer.position[:, :2], [0.7, -0.4])
    explorer.teff = explorer.teff + 1  # moving a slider returns to the physics
    assert explorer.z_override is None


def test_morph_view(explorer):
    curves, shapes = explorer.morph(n_teff=3)
    assert set(shapes["regressor"]) == {"linear", "rf", "mlp"} and len(shapes) == 9
    from dashboard import plots
    layout = plots.morph(curves, shapes)
    assert len(layout) == 9 and "R21=" in layout[0].opts.get().kwargs["title"]


def test_export_holds_curves_parameters_and_cadence(explorer):
    table = pd.read_csv(io.BytesIO(explorer.export("csv").getvalue()))
    assert {"time", "phase", "mag", "mag_err", "teff", "period", "cadence", "seed"} <= set(table)
    assert (table["cadence"] == explorer.cadence).all()
    assert table["sample"].nunique() == explorer.n_samples
    parquet = pd.read_parquet(explorer.export("parquet"))
    assert len(parquet) == len(table)


def test_out_of_range_value_gives_a_message_not_an_exception(explorer):
    explorer.param["teff"].bounds = (0, 1e6)
    explorer.teff = 500_000
    assert "far outside" in explorer.message
    assert explorer.curve is not None


def test_app_builds_without_a_server(explorer):
    from dashboard.app import build
    tabs = build(explorer).objects[1].objects[1]
    assert [name for name in tabs._names] == ["Light curve", "Latent space", "RR Lyrae morph", "Model"]


def test_model_tab_quotes_the_stored_evaluation_for_the_chosen_regressor(explorer, monkeypatch):
    from dashboard.app import model_tab
    from pelsvae_core.evaluation.report import headline_lines
    evaluation = {
        "regressor": "mlp",
        "physics_to_curve": [{"class": "CEP", "regressor": "mlp", "n": 436, "generated": 0.055,
                              "template": 0.116, "beats_template": 0.81, "p_vs_template": 2e-39,
                              "beats_template_mag": 0.6, "p_vs_template_mag": 0.003},
                             {"class": "ECL", "regressor": "mlp", "n": 9, "generated": 0.111,
                              "template": 0.111},  # an evaluation without the paired columns
                             {"class": "CEP", "regressor": "rf", "n": 436, "generated": 0.9,
                              "template": 0.116}],
        "two_sample": [{"class": "CEP", "n_real": 436, "accuracy": 0.825}],
        "tstr": {"trained_on_synthetic": 0.863, "trained_on_real": 0.928},
        "memorisation": {"ratio": 0.97}, "generate_100_ms": 9.3}
    text = "\n".join(headline_lines(evaluation))
    assert "| CEP | 436 | 0.055 | 0.116 | 81% (p = 2e-39) | 60% (p = 0.003) | 0.82 |" in text  # mlp, not rf
    assert "| ECL | 9 | 0.111 | 0.111 | – | – | – |" in text
    assert "0.900" not in text
    assert "0.863" in text and "0.928" in text and "9.3 ms" in text
    monkeypatch.setattr(type(explorer.model), "evaluation", lambda self: evaluation)
    explorer.regressor = "mlp"
    shown = model_tab(explorer)[1]
    assert "| CEP | 436 | 0.055 |" in shown.object
    explorer.regressor = "rf"
    assert "| CEP | 436 | 0.900 | 0.116 | – | – | 0.82 |" in shown.object
    assert "two-sample accuracy (mlp)" in shown.object


def test_dense_uniform_cadence_recovers_the_period_and_the_plot_keeps_the_peak(explorer):
    explorer.cadence = "uniform"
    # 0.05 d spacing: Nyquist frequency 10 / d, above the search's 4 / P (~7 / d), so no alias
    # mirrors the peak (at 0.2 d spacing, 1 / 0.2 - 1 / P has the same power as 1 / P)
    explorer.param.update(baseline_days=200.0, nights=4001, noise=False)
    assert explorer.search["recovered"], explorer.search
    assert len(explorer.search["periods"]) <= 4000
    rng = np.random.default_rng(0)
    x, y = np.arange(100_000.0), rng.random(100_000)
    y[56_789] = 5.0
    thin_x, thin_y = max_pooled(x, y, 4000)
    assert len(thin_x) <= 4000 and thin_y.max() == 5.0 and thin_x[thin_y.argmax()] == 56_789
