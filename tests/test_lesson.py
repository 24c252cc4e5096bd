"""The instability strip as a lesson: real stars placed by Teff, their mode, the nearest real star."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import load_model
from pelsvae_core.data.real_shapes import read_real_shapes
from pelsvae_core.evaluation.lesson import (FIXED_PERIOD_NOTE, LESSON_SAMPLES, NEIGHBOURS,
                                            RRC_MAX_PERIOD, NearestStars, lesson_band,
                                            mode_of_period, real_median_curve, strip_point,
                                            strip_stars, strip_teff_range, where_axes)
from pelsvae_core.evaluation.morph import PHASES, shape_parameters


def latents(rows) -> pd.DataFrame:
    """A latent table as the model writes it, from (star, cls, band, period, teff, abs_mag, split, z0)."""
    return pd.DataFrame(rows, columns=["star", "cls", "band", "period", "teff", "abs_mag", "split", "z0"])


def test_strip_stars_keeps_one_row_per_training_star_with_its_mode():
    table = latents([("a", "RRLYR", "g", 0.6, 6800, 0.5, "train", 0.1),
                     ("a", "RRLYR", "r", 0.6, 6800, 0.5, "train", 0.2),   # the same star in r
                     ("b", "RRLYR", "g", 0.3, 8200, 0.4, "train", 0.3),
                     ("c", "RRLYR", "g", 0.31, 8300, 0.4, "test", 0.3),   # not a training star
                     ("d", "CEP", "V", 5.0, 5500, -3.0, "train", 0.0)])
    stars = strip_stars(table)
    assert list(stars.index) == ["a", "b"]
    assert list(stars["mode"]) == ["RRab", "RRc"]
    assert "mode" not in strip_stars(table, "CEP")
    assert list(strip_stars(table, band="r").index) == ["a"]  # the lesson's strip: stars seen in r


def test_mode_of_period_splits_at_the_gap():
    assert mode_of_period(RRC_MAX_PERIOD - 0.01) == "RRc" and mode_of_period(RRC_MAX_PERIOD) == "RRab"
    assert list(mode_of_period(np.array([0.3, 0.6]))) == ["RRc", "RRab"]


def test_strip_point_is_the_median_of_the_nearest_stars_in_teff():
    rng = np.random.default_rng(0)
    teff = np.linspace(6500, 8500, 200)
    period = np.where(teff < 7500, 0.6, 0.3) + rng.normal(0, 0.01, 200)
    stars = pd.DataFrame({"teff": teff, "period": period, "abs_mag": 0.5 + 0 * teff,
                          "mode": mode_of_period(period)})
    cool, hot = strip_point(stars, 6500), strip_point(stars, 8500)
    assert cool.period == pytest.approx(0.6, abs=0.01) and cool.mode == "RRab" and cool.p_rrc == 0
    assert hot.period == pytest.approx(0.3, abs=0.01) and hot.mode == "RRc" and hot.mode_probability == 1
    assert cool.neighbours == NEIGHBOURS
    edge = strip_point(stars, 7500, neighbours=40)  # half and half at the boundary
    assert 0.3 < edge.p_rrc < 0.7
    with pytest.raises(ValueError, match="no real RR Lyrae"):
        strip_point(stars.assign(teff=np.nan), 7000)


def test_strip_range_is_the_central_95_percent_and_ignores_extreme_stars():
    stars = pd.DataFrame({"teff": np.r_[np.linspace(6800, 8200, 300), 9300.0]})
    lo, hi = strip_teff_range(stars)
    assert lo == pytest.approx(6800 + 0.025 * 1400, abs=5) and 8150 < hi < 8200  # not 9300


def test_where_axes_per_class():
    assert where_axes(("teff", "abs_mag", "log_period"), "RRLYR") == ("teff", "period")
    assert where_axes(("teff", "abs_mag", "log_period"), "CEP") == ("period", "abs_mag")
    assert where_axes(("log_period",), "ECL") == ("period", None)


def test_the_nearest_star_in_the_parameters_given_and_band():
    table = latents([("a", "RRLYR", "g", 0.6, 6800, 0.5, "train", 0.1),
                     ("b", "RRLYR", "g", 0.3, 8200, 0.4, "train", 0.3),
                     ("c", "RRLYR", "r", 0.3, 8200, 0.4, "train", 0.3),
                     ("d", "RRLYR", "g", 0.31, 8210, 0.4, "test", 0.3)])
    stars = NearestStars(table, "RRLYR", "g")
    assert stars.to({"teff": 8000, "log_period": np.log10(0.32)})["star"] == "b"
    assert stars.to({"log_period": np.log10(0.58)})["star"] == "a"
    with pytest.raises(ValueError, match="no real ECL"):
        NearestStars(table, "ECL", "g")


def test_the_shipped_model_morphs_along_the_strip():
    """The lesson's claim on the shipped model: from the coolest to the hottest end of the strip
    the plotted median curve (default regressor, the lesson's band, the lesson's number of
    draws) goes from sawtooth to sinusoid."""
    model = load_model()
    band = lesson_band(model.class_physics["RRLYR"])
    stars = strip_stars(model.latents(), band=band)
    r21 = {}
    for teff in strip_teff_range(stars):
        point = strip_point(stars, teff)
        star = model.draw("RRLYR", teff=teff, abs_mag=point.abs_mag, period=point.period, seed=0,
                          band=band, n_samples=LESSON_SAMPLES)
        median = np.median(star.magnitudes(PHASES)[0], axis=0)
        r21[point.mode] = shape_parameters(PHASES, median)["R21"]
    assert r21["RRab"] >= 0.35 and r21["RRc"] <= 0.2, r21
    assert "fixed" in FIXED_PERIOD_NOTE and "RRc" in FIXED_PERIOD_NOTE


def test_nature_morphs_along_the_strip_too():
    """The real stars' median shapes at the ends of the lesson's strip: sawtooth where it is cool,
    near-sinusoid where it is hot, each about its mean, from the stars nearest in Teff."""
    shapes = read_real_shapes()
    stars = strip_stars(load_model().latents(), band="g")
    cool, hot = strip_teff_range(stars)
    r21 = {}
    for teff in (cool, hot):
        median, teffs = real_median_curve(shapes, teff)
        assert teffs.size == NEIGHBOURS and abs(median.mean()) < 0.01
        table = shapes.table
        everyone = table["teff"][(table["cls"] == "RRLYR") & (table["band"] == "g")].dropna().to_numpy(float)
        assert np.abs(teffs - teff).max() <= np.sort(np.abs(everyone - teff))[NEIGHBOURS - 1]
        r21[teff] = shape_parameters(PHASES, median)["R21"]
    assert r21[cool] >= 0.3 and r21[hot] <= 0.2, r21
