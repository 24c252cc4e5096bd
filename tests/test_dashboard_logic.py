"""The dashboard's state and views without a browser."""
from __future__ import annotations

import asyncio
import gc
import io
import math
import weakref

import numpy as np
import pandas as pd
import pytest

from dashboard.state import (FROM_FILE, LIMITS, MAX_UPLOAD_BYTES, Explorer, OneFitAtATime, YourStar,
                             max_pooled, model_problem)
from pelsvae_core.evaluation.lesson import FIXED_PERIOD_NOTE, STRIP_PERCENTILES, strip_point


@pytest.fixture
def explorer(small_model):
    return Explorer(small_model)


def exported(explorer) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(explorer.export("csv").getvalue()))


def test_starts_with_a_curve_its_shape_and_no_message(explorer):
    assert explorer.message == ""
    assert explorer.curve is not None and len(explorer.curve) == 200
    assert (explorer.curve["low"] <= explorer.curve["high"]).all()
    assert explorer.observed is not None and len(explorer.observed) > 0
    assert set(explorer.shape) >= {"R21", "phi31"} and explorer.star_class == "RRLYR"
    assert explorer.lesson_active and explorer.mode.startswith(("RRab", "RRc"))
    assert explorer.nearest["star"] and len(explorer.nearest["curve"]) == 200


def test_the_nearest_real_star_is_drawn_from_its_own_curve_in_every_class(explorer):
    """An RR Lyrae in g: the nearest training star's own Stripe 82 curve (its Fourier fit), on
    the decoder's 0-1 scale, and the page says whose; a Cepheid in I likewise from OGLE."""
    nearest = explorer.nearest
    assert explorer.band == "g" and nearest["source"].startswith("its own SDSS Stripe 82 curve")
    assert nearest["curve"].min() == 0 and nearest["curve"].max() == pytest.approx(1)
    explorer.star_class = "CEP"
    explorer.band = "I"
    assert explorer.nearest["source"].startswith("its own OGLE-III LMC CEP curve, a fit of order")
    assert explorer.nearest["star"].startswith("OGLE-III LMC CEP:")


def test_teff_slider_changes_the_curve_and_latent_position(explorer):
    before, position = explorer.curve["median"].copy(), explorer.position.copy()
    lo, hi = explorer.param["teff"].bounds
    explorer.teff = hi
    assert not np.allclose(before, explorer.curve["median"])
    assert not np.allclose(position, explorer.position)


def test_lesson_mode_moves_period_and_magnitude_along_the_strip(explorer):
    stars = explorer.lesson_stars()
    lo, hi = explorer.param["teff"].bounds
    assert (lo, hi) == pytest.approx(tuple(np.percentile(stars["teff"], STRIP_PERCENTILES)))
    assert (stars.index.isin(explorer._latents.query("band == @explorer.band")["star"])).all()
    for teff in (lo, hi):
        explorer.teff = teff
        point = strip_point(stars, teff)
        assert 10**explorer.log_period == pytest.approx(point.period, rel=1e-6)
        assert explorer.abs_mag == pytest.approx(point.abs_mag)
        assert explorer.mode.startswith(point.mode)
    assert explorer.responds("log_period") == (False, "follows Teff along the strip of the real RR Lyrae "
                                                      "(lesson mode)")
    other = next(b for b in explorer.param["band"].objects if b != explorer.band)
    explorer.band = other  # the strip of the stars seen in the new band
    b_lo, b_hi = explorer.param["teff"].bounds
    assert (b_lo, b_hi) == pytest.approx(tuple(np.percentile(explorer.lesson_stars()["teff"], STRIP_PERCENTILES)))
    assert b_lo <= explorer.teff <= b_hi
    assert 10**explorer.log_period == pytest.approx(strip_point(explorer.lesson_stars(), explorer.teff).period)
    assert explorer.lesson_available() == (True, "")
    explorer.lesson = False  # the period now stays where it is when Teff moves
    period = explorer.log_period
    assert explorer.lesson_available() == (True, FIXED_PERIOD_NOTE)
    assert explorer.responds("log_period") == (True, "")
    explorer.teff = explorer.param["teff"].bounds[0]
    assert explorer.log_period == period and explorer.message == ""
    assert explorer.param["teff"].bounds[0] < lo  # the class's whole training range again


def test_class_switch_sets_ranges_bands_and_hides_unused_sliders(explorer, small_model):
    explorer.star_class = "ECL"
    info = small_model.parameters()["ECL"]
    assert explorer.band in info["bands"]
    assert explorer.responds("teff")[0] is False and "no teff" in explorer.responds("teff")[1]
    assert explorer.responds("log_period")[0] is True
    assert "period-luminosity" in explorer.responds("abs_mag")[1]
    assert not explorer.lesson_active and "choose RRLYR" in explorer.lesson_available()[1]
    assert explorer.mode == ""
    assert explorer.observed["mag"].between(0, 30).all()  # apparent magnitudes from the relation
    assert math.isnan(explorer.current_physics()["teff"])
    assert explorer.where_view()[1:] == ("period", None)
    lo, hi = info["ranges"]["log_period"]
    b_lo, b_hi = explorer.param["log_period"].bounds
    assert b_lo <= lo and hi <= b_hi
    assert exported(explorer)["teff"].isna().all()  # the hidden Teff is not used
    explorer.star_class = "CEP"
    cep = small_model.class_physics["CEP"]
    assert all(explorer.responds(p)[0] == (p in cep.parameters) for p in ("teff", "abs_mag", "log_period"))
    assert explorer.where_view()[1:] == ("period", "abs_mag")  # period-luminosity
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


def test_redrawing_the_cadence_keeps_the_star(explorer):
    curve, times = explorer.curve["median"].copy(), explorer.observed["time"].copy()
    explorer.redraw_cadence()
    assert np.allclose(curve, explorer.curve["median"])
    assert not np.allclose(times, explorer.observed["time"])


def test_fields_a_cadence_does_not_use_are_named_and_not_exported(explorer):
    assert explorer.cadence_fields() == ("baseline_days", "nights", "season_days",
                                         "visits_per_night", "visit_gap_minutes")
    table = exported(explorer)
    assert (table["cadence"] == "lsst").all() and (table["visits_per_night"] == 2).all()
    explorer.cadence = "uniform"
    assert explorer.cadence_fields() == ("baseline_days", "nights")
    table = exported(explorer)
    assert "season_days" not in table and "visits_per_night" not in table
    assert (table["nights"] == explorer.nights).all()
    explorer.upload_times(b"0\n1.5\n2.2\n3.9\n7.1\n")
    table = exported(explorer)
    assert explorer.cadence_fields() == () and "nights" not in table and "baseline_days" not in table
    assert (table["cadence"] == "custom").all()


@pytest.mark.parametrize("name, value", [("nights", 0), ("baseline_days", -10.0), ("season_days", 0.0),
                                         ("visits_per_night", 11), ("distance_pc", 0.0)])
def test_rejected_numbers_are_answered_with_a_message(explorer, name, value):
    kept = explorer.observed.copy()
    setattr(explorer, name, value)
    label = explorer.param[name].label
    lo, hi = LIMITS[name]
    assert explorer.message == (f"{label} must be between {lo:g} and {hi:g}, not {value}; "
                                "the last good curve is shown.")
    pd.testing.assert_frame_equal(explorer.observed, kept)
    explorer.cadence = "gaia"  # a preset puts every number back: the message goes
    explorer.distance_pc = 10_000.0
    assert explorer.message == ""


def test_a_field_the_cadence_ignores_is_not_checked(explorer):
    explorer.cadence = "uniform"
    explorer.season_days = 0.0
    assert explorer.message == ""


def test_more_nights_than_the_seasons_hold_are_refused_with_a_message(explorer):
    explorer.cadence = "ztf"
    assert explorer.cadence_note.startswith("240 epochs over ")
    explorer.nights = 5000  # three 8-month seasons hold 720 nights
    assert "nights must be at most 720" in explorer.message
    assert len(explorer.observed) == 240
    explorer.nights = 100
    assert explorer.message == "" and explorer.cadence_note.startswith("100 epochs over ")


def test_uploaded_cadence_keeps_its_times_and_bad_files_change_nothing(explorer):
    assert explorer.upload_times(b"mjd,flux\n55000.1,1\n55001.7,2\n55003.2,3\n55010.9,4\n")
    assert explorer.cadence == "custom" and len(explorer.observed) == 4
    assert explorer.observed["time"].tolist() == [55000.1, 55001.7, 55003.2, 55010.9]  # MJDs kept
    assert exported(explorer)["time"].min() == 55000.1
    assert "4 uploaded times, 55000 to 55011 d" in explorer.cadence_note
    kept = explorer.observed.copy()
    for content, reason in [(b"", "empty"), (b"time\n1\n2\nthree\n", "not numbers"),
                            (b"time\n", "no rows"),
                            (b"time\n1\n", "at least 3"), (b"\xff\xfe\x00garbage", "")]:
        assert not explorer.upload_times(content)
        assert "Custom cadence not used" in explorer.message and reason in explorer.message
        pd.testing.assert_frame_equal(explorer.observed, kept)
    explorer.nights = 20  # the app keeps working
    assert explorer.curve is not None


def test_noise_off_puts_the_points_on_the_curve_and_the_page_says_which_noise(explorer):
    """The LSST- and ZTF-like cadences in g are seen with their surveys' published errors (their
    single-visit depths); another cadence with the survey whose g-band errors the model has."""
    assert explorer.cadence == "lsst" and explorer.noise_survey == "LSST"
    assert explorer.noise_note.startswith("Noise: LSST g-band errors, LSST single-visit depth "
                                          "(Ivezić et al. 2019") and "depth g = 25.0" in explorer.noise_note
    assert (exported(explorer)["noise"] == "LSST g").all()
    explorer.cadence = "ztf"  # ZTF's published errors (Masci et al. 2019): fainter limit than LSST
    assert explorer.noise_survey == "ZTF" and "depth g = 20.8" in explorer.noise_note
    assert "Masci et al. 2019" in explorer.noise_note and "has no" not in explorer.noise_note
    assert (exported(explorer)["noise"] == "ZTF g").all()
    explorer.cadence = "gaia"
    assert explorer.noise_survey == "SDSS Stripe 82"  # the only fitted survey with g-band errors
    assert explorer.noise_note.startswith("Noise: SDSS Stripe 82 g-band errors")
    assert "no GAIA-like errors" in explorer.noise_note
    noisy = explorer.observed.copy()
    assert (noisy["mag_err"] > 0).all()
    assert (exported(explorer)["noise"] == "SDSS Stripe 82 g").all()
    explorer.noise = False
    quiet = explorer.observed
    assert (quiet["mag_err"] == 0).all()  # no error bars: the points are noise-free
    star = explorer.observation.draw
    expected = star.magnitudes(quiet["phase"].to_numpy(), explorer.distance_pc)[0][0]
    np.testing.assert_allclose(quiet["mag"], expected)
    assert explorer.noise_note.startswith("No noise")
    assert (exported(explorer)["noise"] == "none").all()


def test_a_preset_with_its_own_survey_noise_uses_it(explorer):
    explorer.star_class = "CEP"
    explorer.band = "I"
    explorer.cadence = "ogle"
    assert explorer.noise_survey == "OGLE-III LMC CEP"
    assert "no OGLE" not in explorer.noise_note and "OGLE-III LMC CEP I-band" in explorer.noise_note
    assert (exported(explorer)["noise"] == "OGLE-III LMC CEP I").all()


def test_redraw_and_sample_count(explorer):
    before, times = explorer.position.copy(), explorer.observed["time"].copy()
    curve = explorer.curve["median"].copy()
    explorer.redraw()
    # new latent samples, hence another curve (by how much depends on the model's spread)
    assert explorer.seed == 1 and not np.allclose(before, explorer.position)
    assert not np.array_equal(curve, explorer.curve["median"])
    np.testing.assert_array_equal(times, explorer.observed["time"])  # the same nights
    explorer.n_samples = 3
    assert explorer.position.shape[0] == 3


def test_period_recovery_on_demand_and_cleared_by_a_change(explorer):
    explorer.cadence = "gaia"
    assert explorer.recovery is None
    explorer.measure_recovery(realisations=12, curve_realisations=4)
    found = explorer.recovery
    assert found.found.shape == (12,) and 0 <= found.rate <= 1
    assert found.true_period == pytest.approx(10**explorer.log_period)
    curve = explorer.recovery_curve
    assert list(curve["nights"]) == [9, 18, 35, 70, 140] and curve["rate"].between(0, 1).all()
    assert (np.diff(curve["epochs"]) > 0).all()
    explorer.teff = explorer.teff + 50  # another star: the numbers no longer apply
    assert explorer.recovery is None and explorer.recovery_curve is None
    explorer.upload_times(b"0\n1.5\n2.2\n3.9\n7.1\n9\n")
    explorer.measure_recovery(realisations=3)
    assert explorer.recovery.found.shape == (3,) and explorer.recovery_curve.empty
    explorer.cadence = "lsst"
    explorer.nights = 0
    explorer.measure_recovery(realisations=3)
    assert explorer.message.startswith("Period recovery not measured: Epochs / nights")


def test_latent_projection_and_click(explorer):
    explorer.projection = "z0-z1"
    points = explorer.latent_points()
    assert {"x", "y", "cls", "period", "teff"} <= set(points.columns)
    np.testing.assert_allclose(points["x"], points["z0"])
    explorer.decode_latent_point(0.7, -0.4)
    assert explorer.message == "" and np.allclose(explorer.position[:, :2], [0.7, -0.4])
    explorer.teff = explorer.teff + 1  # moving a slider returns to the physics
    assert explorer.z_override is None
    from dashboard import plots
    assert plots.latent_points(points, "z0-z1").opts.get().kwargs["xlabel"] == "latent z0"
    assert plots.latent_points(points, "pca").opts.get().kwargs["ylabel"] == "latent PCA axis 2"


def test_a_wide_latent_space_offers_pairs_of_its_widest_dimensions():
    """16 dimensions would make 120 pairs; the menu offers PCA and the 6 pairs among the 4
    dimensions whose training stars spread most."""
    from pelsvae_core import load_model
    from pelsvae_core.latents import PAIRED_DIMENSIONS, latent_columns, projections
    latents = load_model().latents()
    offered = projections(latents)
    assert offered[0] == "pca" and len(offered) == 1 + PAIRED_DIMENSIONS * (PAIRED_DIMENSIONS - 1) // 2
    spread = latents[latent_columns(latents)].var()
    used = {f"z{i}" for pair in offered[1:] for i in pair.replace("z", "").split("-")}
    assert used == set(spread.nlargest(PAIRED_DIMENSIONS).index)


def test_morph_view_one_regressor_on_a_shared_axis(explorer):
    explorer.regressor = "mlp"
    curves, shapes, real, notes = explorer.morph(n_teff=3)
    assert set(shapes["regressor"]) == {"mlp"} and len(shapes) == 3
    # beside each generated curve the real stars' median shape at its Teff, about its mean
    assert sorted(real["teff"].unique()) == sorted(shapes["teff"])
    assert real.groupby("teff")["mag"].mean().abs().max() < 0.01
    # the test model's Teff (the paper's hot scale) reaches beyond the colour-Teff relation:
    # said on the page once, not per curve, and not in the log
    assert len(notes) == len(set(notes)) and all("colour" in note for note in notes)
    assert set(shapes["mode"]) <= {"RRab", "RRc"}
    from dashboard import plots
    grid = plots.morph(curves, shapes, real)
    figures = [child[0] for child in grid.children]
    assert len(figures) == 3 and len({id(f.y_range) for f in figures}) == 1
    for figure in figures:  # the real median dashed, on the shared axis, centred on the generated
        nature = next(r for r in figure.renderers if r.name == "real median")
        generated = next(r for r in figure.renderers if r.name != "real median")
        assert nature.glyph.line_dash == [6]  # "dashed"
        y_real, y_generated = np.array(nature.data_source.data["y"]), generated.data_source.data["y"]
        assert y_real.mean() == pytest.approx(np.mean(y_generated), abs=0.01)
        assert figure.y_range.end <= y_real.min() and y_real.max() <= figure.y_range.start
    assert figures[0].y_range.start > figures[0].y_range.end  # magnitudes: bright up
    lines = [t.text for t in figures[0].above]
    assert any(line.startswith("R21 ") and "φ31" in line for line in lines)


def test_legends_sit_outside_the_curves(explorer):
    """Every legend of the light-curve, strip and *Your star* figures is laid out above the plot
    area, where it cannot cover a rising branch."""
    from bokeh.models import Legend
    from dashboard import plots
    stars, x, y = explorer.where_view()
    figures = [*vars(plots.CurveFigures()).values(), plots.WhereFigure(stars, x, y, "RRLYR").figure,
               *vars(plots.StarFigures(["CEP", "RRLYR"])).values()]
    with_legends = [f for f in figures if hasattr(f, "legend") and f.legend]
    assert len(with_legends) >= 3
    for figure in with_legends:
        assert not any(isinstance(item, Legend) for item in figure.center), figure.title.text
        assert any(isinstance(item, Legend) for item in figure.above), figure.title.text


def test_strip_view_marks_the_current_star(explorer):
    from dashboard import plots
    stars, x, y = explorer.where_view()
    view = plots.WhereFigure(stars, x, y, explorer.star_class)
    view.update(explorer.current_physics())
    assert view.marker.data["x"] == [explorer.teff]
    assert view.marker.data["y"] == [pytest.approx(10**explorer.log_period)]


def test_export_holds_curves_parameters_and_cadence(explorer):
    table = exported(explorer)
    assert {"time", "phase", "mag", "mag_err", "teff", "period", "cadence", "seed", "cadence_seed",
            "noise"} <= set(table)
    assert (table["cadence"] == explorer.cadence).all()
    assert table["sample"].nunique() == explorer.n_samples
    parquet = pd.read_parquet(explorer.export("parquet"))
    assert len(parquet) == len(table)


def test_out_of_range_value_gives_a_message_not_an_exception(explorer):
    explorer.lesson = False
    explorer.param["teff"].bounds = (0, 1e6)
    explorer.teff = 500_000
    assert "far outside" in explorer.message
    assert explorer.curve is not None


def test_app_builds_without_a_server(explorer):
    from dashboard.app import build
    page = build(explorer)
    tabs = page.main[-1]
    assert list(tabs._names) == ["Light curve", "Cadence effects", "RR Lyrae morph", "Latent space",
                                 "Your star", "Model"]
    assert [card.title for card in page.sidebar] == ["Star", "Cadence", "Noise and distance", "Export"]


def test_every_slider_and_number_is_handled_at_once(explorer):
    """A slider's release or an entered number arrives as one change: none of them waits
    Panel's 50 ms for a burst (dashboard.app.Prompt)."""
    import panel as pn
    from dashboard.app import build
    page = build(explorer)
    kinds = (pn.widgets.FloatSlider, pn.widgets.IntSlider, pn.widgets.FloatInput, pn.widgets.IntInput)
    controls = [widget for part in (*page.sidebar, *page.main)
                for widget in part.select(lambda viewable: isinstance(viewable, kinds))]
    waiting = [widget.name for widget in controls if widget._debounce]
    assert len(controls) >= 10 and not waiting, (len(controls), waiting)


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


# -- issue 18: bounded uploads, a bad model folder -----------------------------------------
def test_an_upload_above_the_limit_is_refused_with_a_message(explorer):
    kept = explorer.observed.copy()
    big = b"time\n" + b"1.0\n" * (MAX_UPLOAD_BYTES // 4 + 1)
    assert len(big) > MAX_UPLOAD_BYTES and not explorer.upload_times(big)
    assert explorer.message.startswith("Custom cadence not used: it is ")
    assert "limited to 5 MB" in explorer.message
    pd.testing.assert_frame_equal(explorer.observed, kept)
    explorer.upload_refused('File "big.csv" (12 MB) exceeds maximum file size of 5 MB')  # the browser's
    assert explorer.message == ('Custom cadence not used: File "big.csv" (12 MB) exceeds maximum file '
                                'size of 5 MB')


def test_upload_widgets_are_bounded_and_a_browser_refusal_is_shown(explorer):
    from dashboard.app import Upload, text_box
    refused = []
    upload = Upload(refused.append, accept=".csv")
    assert upload.max_file_size == MAX_UPLOAD_BYTES
    upload._handle_msg({"status": "error", "type": "status", "error": "too big"})
    assert refused == ["too big"] and upload.value is None
    assert text_box().max_length == MAX_UPLOAD_BYTES + 1  # a cut table is refused, not read partly


@pytest.mark.parametrize("folder", ["missing", "corrupt"])
def test_a_bad_model_folder_gives_a_page_with_the_reason(folder, tmp_path, monkeypatch):
    from dashboard import app, state
    path = tmp_path / folder
    if folder == "corrupt":
        path.mkdir()
        (path / "config.json").write_text("{not json")
    monkeypatch.setenv(state.MODEL_ENV, str(path))
    state.shared_model.cache_clear()
    try:
        page = app.page()
    finally:
        state.shared_model.cache_clear()
    alert = page.main[0]
    assert alert.object.startswith(f"The model could not be loaded (PELSVAE_MODEL={path}): {path}")
    assert "\n" not in alert.object and "Traceback" not in alert.object
    assert model_problem(ValueError("x")).endswith("restart the server.")


# -- issue 17: "Your star" ------------------------------------------------------------------
@pytest.fixture
def your_star(explorer):
    return YourStar(explorer)


def curve_csv(small_model, period=0.55, band="g") -> tuple[str, float]:
    """A generated RR Lyrae with ZTF-like nights and survey noise, as CSV (time, mag, err)."""
    table = small_model.generate("RRLYR", period=period, cadence="ztf", n_samples=1, band=band,
                                 distance_pc=5000, noise=True, seed=1)
    frame = pd.DataFrame({"time": table["time"], "mag": table["mag"], "err": table["mag_err"]})
    return frame.to_csv(index=False), period


def test_your_star_recovers_the_period_of_a_generated_curve(your_star, small_model):
    text, period = curve_csv(small_model)
    your_star.param.update(text=text, band="g", distance_pc=5000.0)
    assert your_star.infer() and your_star.message == ""
    result = your_star.result
    assert result["class"] == "RRLYR" and result["n_points"] == text.count("\n") - 1
    assert result["period"] == pytest.approx(period, rel=0.01)
    interval = result["period_interval"]
    assert interval["p16"] <= result["period"] <= interval["p84"]
    assert set(result["subtype_probabilities"]) == {"RRab", "RRc"}
    assert result["abs_mag"] is not None  # a distance was given
    folded, fitted = your_star.folded, your_star.fitted
    assert folded["phase"].between(0, 1).all() and len(folded) == result["n_points"]
    assert set(fitted["band"]) == {"g"} and len(fitted) == 200
    assert fitted["mag"].idxmin() == 0  # maximum light at phase 0
    # the fit follows the data: residuals about the size of the noise, not the amplitude
    model_at_points = np.interp(folded["phase"], fitted["phase"], fitted["mag"], period=1.0)
    assert np.median(np.abs(folded["mag"] - model_at_points)) < 0.3 * result["amplitude"]
    words = your_star.summary()
    assert "**Class RRLYR**" in words and "**Period** " in words and "16–84 %" in words
    assert your_star.notes == result["warnings"]
    where = your_star.where
    assert (where["x"], where["y"]) == ("teff", "period") and where["stars"] is not None
    if result["teff"] is not None:  # placed on the strip, with its Teff interval
        assert where["note"] == "" and where["values"]["teff"] == result["teff"]["median"]
    from dashboard import plots
    view = plots.WhereFigure(where["stars"], where["x"], where["y"], where["cls"])
    view.update(where["values"], where["intervals"])
    figures = plots.StarFigures(sorted(small_model.classes))
    figures.update(result, folded, fitted)
    assert figures.folded.y_range.flipped and figures.folded.title.text.startswith("Your star folded on P = ")
    assert len(figures.points.data["top"]) == len(folded)
    percent = dict(zip(figures.class_bars.data["name"], figures.class_bars.data["percent"]))
    assert percent["RRLYR"] == pytest.approx(100 * result["class_probabilities"]["RRLYR"])
    # the O-C diagram of a strictly periodic (generated) star: its seasons, no wander
    timing = your_star.timing
    assert len(timing["time"]) >= 4 and timing["constant_period_p"] > 1e-3
    assert np.all(np.abs(timing["o_minus_c"]) < 4 * timing["error"] + 0.01 * period)
    figures.update_timing(timing)
    assert figures.timing.title.text == f"O−C of its {len(timing['time'])} {timing['chunks']}"
    assert figures.timing_verdict.text.startswith("a constant period explains them: p = ")
    assert list(figures.seasons.data["o_minus_c"]) == list(timing["o_minus_c"])


def test_the_o_minus_c_view_says_when_a_curve_has_too_few_seasons():
    from dashboard import plots
    from pelsvae_core.inference.fit import NO_DIAGRAM_REASON

    figures = plots.StarFigures(["RRLYR"])
    none = np.empty(0)
    figures.update_timing({"time": none, "o_minus_c": none, "error": none,
                           "constant_period_p": float("nan"), "absent": NO_DIAGRAM_REASON})
    assert figures.timing_verdict.text.startswith("fewer than 4 observing seasons")
    figures.update_timing({})
    assert "infer to see it" in figures.timing_verdict.text and len(figures.seasons.data["time"]) == 0


def test_the_subtype_chart_shows_the_inferred_class_own_subtypes():
    """A Cepheid's chart lists F, 1O and 2O (not RRab/RRc) with their probabilities; a class
    without subtypes says so."""
    from dashboard import plots

    figures = plots.StarFigures(["CEP", "ECL", "RRLYR"])
    result = {"class": "CEP", "class_probabilities": {"CEP": 1.0, "ECL": 0.0, "RRLYR": 0.0},
              "subtype": "F", "subtype_probabilities": {"1O": 0.08, "2O": 0.02, "F": 0.9}}
    figures.update(result, None, None)
    percent = dict(zip(figures.mode_bars.data["name"], figures.mode_bars.data["percent"]))
    assert percent == pytest.approx({"1O": 8.0, "2O": 2.0, "F": 90.0})
    assert list(figures.modes.y_range.factors) == ["F", "2O", "1O"] and "CEP" in figures.modes.title.text
    figures.update({**result, "class": "LPV", "subtype": None, "subtype_probabilities": None}, None, None)
    assert figures.modes.title.text == "Subtype: none inferred for LPV"
    assert set(figures.mode_bars.data["percent"]) == {0.0}


def test_without_a_distance_no_absolute_magnitude_and_the_band_column_is_used(your_star, small_model):
    text, _ = curve_csv(small_model, band="r")
    text = text.replace("\n", ",r\n").replace("err,r", "err,band", 1)
    your_star.param.update(text=text, band="g", distance_pc=None)
    assert your_star.infer(), your_star.message
    assert your_star.result["abs_mag"] is None and "needs a distance" in your_star.summary()
    assert set(your_star.folded["band"]) == {"r"}
    assert any("band column was used" in n for n in your_star.notes)


def test_the_example_is_a_generated_rr_lyrae_whose_period_is_recovered(your_star):
    your_star.load_example()
    truth = your_star.example_truth
    assert truth["cls"] == "RRLYR" and your_star.text.startswith("time,mag,err,band\n")
    assert "generated by this model, not a real star" in your_star.example_note
    assert "ZTF-like" in your_star.example_note and your_star.distance_pc == 8000.0
    # ZTF's own published noise in a band ZTF has, not another survey's
    assert truth["band"] in ("g", "r") and f"ZTF {truth['band']}-band noise" in your_star.example_note
    assert your_star.band == FROM_FILE
    assert your_star.infer(), your_star.message
    assert your_star.result["period"] == pytest.approx(truth["period"], rel=0.01)


BAD_CURVES = {
    "empty": ("", "is empty"),
    "few points": ("time,mag,err\n" + "".join(f"{i},{15 + 0.3 * (i % 2)},0.05\n" for i in range(6)),
                   "inference needs at least 10"),
    "NaN": ("time,mag,err\n" + "".join(f"{i},{'nan' if i < 12 else 15 + 0.01 * i},0.05\n"
                                        for i in range(20)), "inference needs at least 10"),
    "non-numeric": ("time,mag,err\n" + "".join(f"{i},bright,0.05\n" for i in range(20)),
                    "column 'mag' holds non-numbers, e.g. 'bright' (row 2)"),
    "wrong columns": ("when,brightness\n1,2\n", "no time column (looked for time"),
    "unknown band": ("time,mag,err,band\n" + "".join(f"{i},{15 + 0.3 * (i % 3)},0.05,Q\n"
                                                     for i in range(20)), "unknown band(s) 'Q'"),
    "constant": ("time,mag,err\n" + "".join(f"{i},15,0.05\n" for i in range(20)),
                 "a constant curve has no class or period"),
    "zero errors": ("time,mag,err\n" + "".join(f"{i},{15 + 0.3 * (i % 3)},0\n" for i in range(20)),
                    "errors must be positive"),
    "not text": (b"\xff\xfe\x00garbage", "not a readable CSV table"),
    "too large": (b"time,mag,err\n" + b"1,15,0.1\n" * (MAX_UPLOAD_BYTES // 9 + 1),
                  "limited to 5 MB"),
}


@pytest.mark.parametrize("case", list(BAD_CURVES))
def test_bad_curves_get_one_line_and_no_result(your_star, small_model, case):
    your_star.load_example()
    assert your_star.infer()  # a good result first: a bad curve must clear it
    content, words = BAD_CURVES[case]
    assert not your_star.infer(content, "the uploaded file")
    message = your_star.message
    assert message.startswith("Not inferred: ") and words in message, message
    assert "\n" not in message and "Traceback" not in message and "np." not in message
    assert your_star.result == {} and your_star.folded is None and your_star.summary() == ""
    assert your_star.timing == {}


def test_a_bad_distance_gets_a_message(your_star, small_model):
    text, _ = curve_csv(small_model)
    your_star.param.update(text=text, band="g", distance_pc=-5.0)
    assert not your_star.infer()
    assert your_star.message.startswith("Not inferred: distance_pc must be at least 1 pc")


def test_a_real_survey_cadence_is_the_real_epochs_of_one_star_with_nothing_to_edit(explorer):
    from pelsvae_core.cadences import real_cadence
    explorer.cadence = "gaia-dr3-bulge"
    real = real_cadence("gaia-dr3-bulge")
    times = explorer.cadence_times()
    np.testing.assert_array_equal(times, real.times(explorer.cadence_seed))
    assert explorer.cadence_fields() == ()   # every cadence number disabled, none exported
    note = explorer._cadence_note(times)
    assert "Gaia DR3" in note and real.star(explorer.cadence_seed) in note
    explorer.cadence_seed += 1                # the seed picks another real star
    assert not np.array_equal(explorer.cadence_times(), times)
    explorer.measure_recovery(realisations=4, curve_realisations=2)
    assert explorer.recovery is not None and explorer.recovery.found.size == 4
    assert explorer.recovery_curve.empty      # no number of epochs to vary for real epochs


def test_a_curve_given_during_a_fit_is_fitted_next_and_the_latest_wins():
    started, release, fitted = [], asyncio.Event(), []

    async def fit(content, name):
        started.append(name)
        if name == "first":
            await release.wait()  # the first fit is still running while the others arrive
        fitted.append(name)

    async def scenario():
        fits = OneFitAtATime(fit)
        first = asyncio.create_task(fits.submit(b"a", "first"))
        await asyncio.sleep(0)
        assert fits.busy and started == ["first"]
        await fits.submit(b"b", "second")  # waits ...
        await fits.submit(b"c", "third")   # ... and is replaced: the user meant the last file
        assert fitted == []
        release.set()
        await first
        assert not fits.busy

    asyncio.run(scenario())
    assert fitted == ["first", "third"]


def test_a_page_no_longer_shown_can_be_freed(small_model):
    """The Material UI page links itself to the process-wide pn.state.busy with a watcher that
    is never removed, which kept every closed session's page, state and figures alive; the
    dashboard drops that link (and the CPU it cost per slider move)."""
    import panel as pn

    from dashboard import app

    def busy_watchers() -> int:
        return sum(len(w) for w in pn.state._param__private.watchers.get("busy", {}).values())

    before = busy_watchers()
    page = app.build(Explorer(small_model))
    gone = weakref.ref(page)
    assert busy_watchers() == before and page.busy is False
    del page
    gc.collect()
    assert gone() is None


def test_the_page_says_where_the_mean_magnitude_comes_from(explorer, recwarn):
    """M_G plus the band's intrinsic colour, named; where the core knows no colour (eclipsing
    binaries) the page says so instead of the server log."""
    assert explorer.magnitude_note.startswith(f"Mean {explorer.band} magnitude = M_G ")
    assert f"+ intrinsic {explorer.band} − G colour" in explorer.magnitude_note
    assert "(V-I)_0 from Teff" in explorer.magnitude_note
    low = explorer.curve["median"].mean()
    explorer.star_class = "ECL"
    assert explorer.message == ""
    assert "no intrinsic V_CSS − G colour is known for ECL" in explorer.magnitude_note
    assert "period-luminosity" in explorer.magnitude_note and low != explorer.curve["median"].mean()
    assert not [w for w in recwarn if "colour" in str(w.message)]   # nothing left for the log


def test_points_fainter_than_the_depth_are_upper_limits_drawn_apart(explorer):
    """Points fainter than the survey's 5-sigma depth are reported at it: the light-curve figures
    draw them as triangles apart from the detections (a row of them is no flat light curve),
    with a legend entry only while there are some, and the series title counts them."""
    from dashboard import plots
    depth = explorer.model.physics.error_model(explorer.noise_survey, explorer.band).m5
    explorer.distance_pc = 1e4
    # as far as puts the star's median magnitude at the survey's depth: about half below it
    explorer.distance_pc = 1e4 * 10 ** ((depth - explorer.observed["mag"].median()) / 5)
    observed = explorer.observed
    assert (observed["detected"].to_numpy() == explorer.observation.detected[0]).all()
    assert 0 < (~observed["detected"]).sum() < len(observed)
    figures = plots.CurveFigures()
    figures.update(explorer.curve, observed, explorer.search, explorer.shape, explorer.mode,
                   explorer.nearest, explorer.points)
    detected = observed["detected"].to_numpy()
    assert figures.seen.filter.booleans == list(detected)
    assert figures.unseen.filter.booleans == list(~detected)
    assert figures.limits_item.visible
    assert f"{(~detected).sum()} fainter than the survey's 5σ depth" in figures.series.title.text
    explorer.distance_pc = 1e3
    figures.update(explorer.curve, explorer.observed, explorer.search, explorer.shape, explorer.mode,
                   explorer.nearest, explorer.points)
    assert explorer.observed["detected"].all() and not figures.limits_item.visible
    assert "5σ" not in figures.series.title.text


def test_the_points_say_which_subtype_their_star_was_drawn_as():
    """A 3-d Cepheid is an F or a 1O pulsator: when the plotted star is of the rarer subtype the
    page says so, and how common it is among the samples; a class without subtypes says nothing."""
    from types import SimpleNamespace

    from dashboard.state import points_subtype
    assert points_subtype(SimpleNamespace(subtype=np.array(["1O", "F", "F", "F"]))) == \
        "one drawn star, 1O (like 25 % of the samples)"
    assert points_subtype(SimpleNamespace(subtype=np.array(["F", "F"]))) == "one drawn star, F"
    assert points_subtype(SimpleNamespace(subtype=np.array(["unknown", "unknown"]))) == ""


@pytest.mark.parametrize("teff", [6200.0, 7000.0])
def test_the_shipped_model_s_spread_is_visible(teff):
    """The 16-84 % band of the plotted family, on the shipped model and the lesson's RR Lyrae:
    at least 7 % of the amplitude at the median phase and a quarter at its widest (measured
    10-16 % and 31-48 % across the strip), not the 0.004 mag against 1 mag of the first model
    (issue 15)."""
    from pelsvae_core import load_model
    explorer = Explorer(load_model())
    explorer.teff = teff
    width = (explorer.curve["high"] - explorer.curve["low"]).to_numpy()
    amplitude = np.ptp(explorer.curve["median"].to_numpy())
    assert np.median(width) >= 0.07 * amplitude and width.max() >= 0.25 * amplitude
