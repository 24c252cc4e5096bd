"""Subtypes (modes, eclipsing morphologies) as optional inputs: the subtype model recovers a known
law, a given subtype conditions the density, a missing one is drawn from the real mix at that
physics, the table says which, bad subtypes are clear errors, old folders still generate, and
the simulation passes its prior's subtypes or draws them with the same function."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import fourier, load_model
from pelsvae_core.model import storage
from pelsvae_core.physics.classes import ClassPhysics, class_subtypes
from pelsvae_core.physics.density import MEAN_PREFIX, MixtureDensity
from pelsvae_core.physics.regressors import DENSITY_KINDS, load_predictors, save_predictors
from pelsvae_core.physics.subtype_model import PREFIX, SubtypeModel, fit_subtype_model
from pelsvae_core.simulate import curves
from pelsvae_core.simulate.errors import SimulationError
from pelsvae_core.simulate.run import simulate

#: Uniform phases at which generated curves are measured.
PHASES = np.linspace(0.0, 1.0, 100, endpoint=False)


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def raw_coefficients(model: SubtypeModel) -> np.ndarray:
    """The fitted coefficients on the unstandardised inputs, relative to the first subtype."""
    coef = model.arrays["coef"] / model.arrays["x_scale"][:, None]
    return coef - coef[:, :1]


def r21(star) -> np.ndarray:
    """R21 of each sample's noise-free curve (4th-order Fourier fit, OGLE's convention)."""
    mag = star.magnitudes(PHASES)[0]
    return np.array([fourier.fourier_parameters(fourier.fit(PHASES, row, order=4))["R21"] for row in mag])


# ------------------------------------------------------------------ the subtype model alone

def test_the_subtype_model_recovers_a_known_logistic_law():
    """Labels drawn from a known softmax law of two inputs on their own scales (a log period and
    a Teff): the coefficients, the probabilities and the draws' frequencies come back."""
    rng = np.random.default_rng(0)
    n = 20_000
    x = np.column_stack([rng.normal(-0.3, 0.15, n), rng.normal(7000, 400, n)])
    truth = np.array([[0.0, 8.0, -5.0], [0.0, 0.002, 0.001]])
    probabilities = softmax(x @ truth + [0.0, -12.0, -8.0])
    labels = (rng.uniform(size=n)[:, None] > probabilities.cumsum(1)).sum(1)
    model = fit_subtype_model(x, labels, 3)
    np.testing.assert_allclose(raw_coefficients(model), truth, rtol=0.1, atol=1e-4)
    assert np.abs(model.probabilities(x) - probabilities).max() < 0.03
    drawn = model.draw([x], np.random.default_rng(1))
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / n, probabilities.mean(0), atol=0.01)
    # two subtypes: scikit-learn's single score becomes the second column against the first
    two = (rng.uniform(size=n) < softmax(x @ truth[:, :2] + [0.0, -12.0])[:, 1]).astype(int)
    binary = fit_subtype_model(x, two, 2)
    np.testing.assert_allclose(raw_coefficients(binary)[:, 1], truth[:, 1], rtol=0.1)
    assert binary.probabilities(x[:5]).shape == (5, 2)
    with pytest.raises(ValueError, match="missing"):
        fit_subtype_model(x, np.zeros(n, int), 2)


def test_the_subtype_model_rides_with_the_density_through_the_folder_arrays(small_model):
    density = small_model.physics.predictor("RRLYR", "mdn")
    assert any(key.startswith(PREFIX) for key in density.arrays)
    content = save_predictors({"RRLYR/mdn": density})
    with np.load(io.BytesIO(content), allow_pickle=False) as stored:
        assert all(stored[key].dtype != object for key in stored.files)
    restored = load_predictors(content)["RRLYR/mdn"]
    assert isinstance(restored, MixtureDensity)
    x = small_model.class_physics["RRLYR"].regressor_inputs(np.array([[7400.0, 0.3, -0.4]]), ["g"])
    np.testing.assert_array_equal(SubtypeModel.from_prefixed(restored.arrays).probabilities(x),
                                  small_model.physics.subtype_model("RRLYR").probabilities(x))


def test_subtypes_need_enough_curves_and_two_of_them():
    assert class_subtypes("RRLYR", ["RRab"] * 30 + ["RRc"] * 20 + ["unknown"] * 99) == ("RRab", "RRc")
    assert class_subtypes("RRLYR", ["RRab"] * 30 + ["RRc"] * 19) == ()
    assert class_subtypes("CEP", ["1O"] * 25 + ["F"] * 25 + ["2O"] * 5) == ("F", "1O")   # vocabulary order
    assert class_subtypes("LPV", ["unknown"] * 100) == ()


# ------------------------------------------------------------------ generation

def test_the_small_model_learns_its_subtypes_and_reports_how_well(small_model):
    info = small_model.class_physics["RRLYR"]
    assert info.subtypes == ("RRab", "RRc")
    # the density reads physics, band and the subtype one-hot; the paper's regressors no subtype
    mdn = small_model.physics.predictor("RRLYR", "mdn")
    assert mdn.arrays["x_mean"].size == len(info.parameters) + len(info.bands) + len(info.subtypes)
    assert small_model.physics.predictor("RRLYR", "rf").arrays["x_mean"].size == \
        len(info.parameters) + len(info.bands) + 1
    row = next(r for r in small_model.metadata["physics"]["regressor_validation"]
               if r["class"] == "RRLYR" and r["regressor"] == "mdn")
    assert row["n_subtype_val"] > 20 and row["subtype_accuracy"] >= row["subtype_commonest"]
    assert small_model.metadata["physics"]["density"]["subtypes"]["model"].startswith("P(subtype")
    assert tuple(small_model.parameters()["RRLYR"]["subtypes"]) == ("RRab", "RRc")


@pytest.mark.parametrize("regressor", DENSITY_KINDS)
def test_a_given_subtype_changes_the_curves_as_the_mode_does(regressor):
    """At 0.35 d, where both modes occur, on the shipped model with either density: RRc (first
    overtone) curves are more sinusoidal (lower R21) and of smaller amplitude than RRab
    (fundamental) ones. (The small test model's decoder is too little trained to show the
    shape: its R21 is ~0.10 for either mode.)"""
    model = load_model()
    kwargs = dict(period=0.35, n_samples=300, band="g", seed=0, regressor=regressor)
    rrab = model.draw("RRLYR", subtype="RRab", **kwargs)
    rrc = model.draw("RRLYR", subtype="RRc", **kwargs)
    assert set(rrab.subtype) == {"RRab"} and set(rrc.subtype_source) == {"given"}
    assert np.median(r21(rrc)) < 0.6 * np.median(r21(rrab))
    assert np.median(rrc.amplitude) < 0.8 * np.median(rrab.amplitude)


def test_a_missing_subtype_is_drawn_from_the_real_mix_at_that_period(small_model):
    short = small_model.draw("RRLYR", period=0.3, n_samples=400, band="g", seed=1)
    long = small_model.draw("RRLYR", period=0.65, n_samples=400, band="g", seed=1)
    assert set(short.subtype_source) == set(long.subtype_source) == {"drawn"}
    assert np.mean(short.subtype == "RRc") > 0.8
    assert np.mean(long.subtype == "RRab") > 0.8


def test_subtype_draws_have_their_own_stream(small_model):
    """Drawing the subtype leaves the latent stream as it was: a sample drawn RRab has the latent
    vector that asking for RRab gives; a class without subtypes draws what it drew before."""
    kwargs = dict(period=0.45, n_samples=60, band="g", seed=5)
    drawn = small_model.draw("RRLYR", **kwargs)
    assert {"RRab", "RRc"} <= set(drawn.subtype)
    for subtype in ("RRab", "RRc"):
        given = small_model.draw("RRLYR", subtype=subtype, **kwargs)
        same = drawn.subtype == subtype
        # equal to rounding: the kernel density forms one weight row per distinct input, and a
        # product over two distinct rows may round its last bit unlike one over a single row
        np.testing.assert_allclose(drawn.z[same], given.z[same], rtol=1e-12, atol=1e-12)
    info = small_model.class_physics["ECL"]
    star = small_model.draw("ECL", period=0.4, n_samples=5, seed=2, regressor="mdn")
    inputs = info.regressor_inputs(np.full((5, 1), np.log10(0.4)), [info.bands[0]] * 5)
    before = small_model.physics.predictor("ECL", "mdn").sample(inputs, np.random.default_rng(2))
    np.testing.assert_array_equal(star.z, before[:, :-1])


def test_the_table_reports_the_subtype_and_its_source(small_model):
    given = small_model.generate("RRLYR", period=0.5, subtype="RRc", n_samples=3, phases=[0.0, 0.5])
    assert (given["subtype"] == "RRc").all() and (given["subtype_source"] == "given").all()
    drawn = small_model.generate("RRLYR", period=0.5, n_samples=20, phases=[0.0, 0.5], seed=3)
    assert (drawn["subtype_source"] == "drawn").all() and set(drawn["subtype"]) <= {"RRab", "RRc"}
    assert (drawn.groupby("sample")["subtype"].nunique() == 1).all()
    for table in (small_model.generate("LPV", period=300.0, n_samples=2, phases=[0.0]),
                  small_model.generate("RRLYR", period=0.5, n_samples=2, phases=[0.0], regressor="rf")):
        assert (table["subtype"] == "unknown").all() and (table["subtype_source"] == "none").all()
    again = small_model.generate("RRLYR", period=0.5, n_samples=20, phases=[0.0, 0.5], seed=3)
    pd.testing.assert_frame_equal(drawn, again)
    other = small_model.generate("RRLYR", period=0.45, n_samples=40, phases=[0.0], seed=4)
    assert not other["subtype"].equals(small_model.generate("RRLYR", period=0.45, n_samples=40,
                                                            phases=[0.0], seed=6)["subtype"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(cls="RRLYR", subtype="RRx"), r"unknown RRLYR subtype 'RRx'; choose from RRab, RRc$"),
    (dict(cls="RRLYR", subtype="RRc", regressor="rf"), r"regressor 'mdn'.*'rf' regressor takes no subtype"),
    (dict(cls="LPV", period=300.0, subtype="RRc"), r"LPV has no subtypes"),
    (dict(cls="ECL", period=0.4, subtype="EW"), r"density is told no subtype"),
    (dict(cls="RRLYR", subtype=["RRc"]), r"subtype must be a name"),
])
def test_a_bad_subtype_is_one_clear_line(small_model, kwargs, message):
    kwargs = {"period": 0.5, "n_samples": 2, **kwargs}
    with pytest.raises(ValueError, match=message) as error:
        small_model.generate(kwargs.pop("cls"), **kwargs)
    assert "\n" not in str(error.value)


def test_generate_command_takes_a_subtype(small_model, tmp_path):
    out = tmp_path / "rrc.csv"
    command = [sys.executable, "-m", "pelsvae_core.cli", "generate", "--model", str(small_model.folder),
               "--class", "RRLYR", "--period", "0.5", "--n-samples", "2", "--band", "g"]
    result = subprocess.run([*command, "--subtype", "RRc", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert (table["subtype"] == "RRc").all() and (table["subtype_source"] == "given").all()
    bad = subprocess.run([*command, "--subtype", "RRd", "--out", str(tmp_path / "x.csv")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "choose from RRab, RRc" in bad.stderr


# ------------------------------------------------------------------ old folders

def old_density(density: MixtureDensity, n_subtypes: int) -> MixtureDensity:
    """The density as a folder fitted before subtypes holds it: no subtype model, no mean
    network (it came later still), and inputs without the subtype one-hot (its columns cut
    from the first layer)."""
    arrays = {k: v for k, v in density.arrays.items() if not k.startswith((PREFIX, MEAN_PREFIX))}
    keep = arrays["x_mean"].size - n_subtypes
    arrays.update(x_mean=arrays["x_mean"][:keep], x_scale=arrays["x_scale"][:keep], w0=arrays["w0"][:keep])
    return MixtureDensity(arrays)


def test_a_folder_from_before_subtypes_loads_and_generates(small_model, tmp_path):
    folder = small_model.folder
    metadata = json.loads((folder / storage.METADATA).read_text())
    classes = metadata["physics"]["classes"]
    metadata["physics"].pop("density", None)  # the choice of generator came later still,
    predictors = {k: v for k, v in small_model.physics.predictors.items()  # and so did the kernel
                  if not k.endswith("/kernel")}
    for cls, info in classes.items():
        if info.pop("subtypes", None):
            predictors[f"{cls}/mdn"] = old_density(predictors[f"{cls}/mdn"], len(small_model.class_physics[cls].subtypes))
    old = storage.save_folder(
        tmp_path / "old", small_model.network, metadata,
        extra_files={storage.REGRESSORS_FILE: save_predictors(predictors),
                     storage.LATENTS_FILE: (folder / storage.LATENTS_FILE).read_bytes()},
        weights=(folder / storage.WEIGHTS).read_bytes())
    model = load_model(old)
    assert model.class_physics["RRLYR"].subtypes == () and model.physics.subtype_model("RRLYR") is None
    assert ClassPhysics.from_dict(classes["RRLYR"]).subtypes == ()
    table = model.generate("RRLYR", period=0.5, n_samples=3, phases=[0.0, 0.5])
    assert (table["subtype"] == "unknown").all() and (table["subtype_source"] == "none").all()
    with pytest.raises(ValueError, match="fitted before subtypes.*pelsvae fit-regressors"):
        model.generate("RRLYR", period=0.5, subtype="RRc")
    shutil.rmtree(old)


# ------------------------------------------------------------------ simulation

def test_simulation_passes_the_prior_subtype_or_draws_it(small_model, tmp_path):
    table = tmp_path / "prior.csv"
    pd.DataFrame({"cls": ["RRLYR"] * 3, "period": [0.35, 0.6, 0.3], "teff": [7400.0] * 3,
                  "abs_mag": [0.3] * 3, "subtype": ["RRc", "RRab", "unknown"]}).to_csv(table, index=False)
    out = tmp_path / "sim"
    simulate(small_model, n=40, classes="RRLYR", cadence="lsst", bands=["g", "r"], prior_table=table,
             out=out, workers=0, progress=False)
    stars = pd.read_parquet(out / "shards")
    given = np.isclose(stars["period"], 0.35) | np.isclose(stars["period"], 0.6)
    assert (stars.loc[given, "subtype_source"] == "given").all()
    assert (stars.loc[np.isclose(stars["period"], 0.35), "subtype"] == "RRc").all()
    assert (stars.loc[~given, "subtype_source"] == "drawn").all() and (~given).any()
    assert set(stars.loc[~given, "subtype"]) <= {"RRab", "RRc"}
    pd.DataFrame({"cls": ["RRLYR"], "period": [0.5], "teff": [7400.0], "abs_mag": [0.3],
                  "subtype": ["RRx"]}).to_csv(table, index=False)
    with pytest.raises(SimulationError, match="unknown RRLYR subtype 'RRx'; choose from RRab, RRc"):
        simulate(small_model, n=5, classes="RRLYR", cadence="lsst", bands=["g"], prior_table=table,
                 out=tmp_path / "bad", workers=0, progress=False)


def test_simulation_draws_one_subtype_per_star_and_repeats_it(small_model):
    physics = np.array([[7400.0, 0.3, np.log10(0.3)], [7400.0, 0.3, np.log10(0.65)]] * 50)
    given = np.full(len(physics), "unknown")
    seed = np.random.SeedSequence(11)
    first = curves.subtypes(small_model, "RRLYR", "mdn", physics, ["g", "r"], given, seed)
    again = curves.subtypes(small_model, "RRLYR", "mdn", physics, ["g", "r"], given, seed)
    np.testing.assert_array_equal(first[0], again[0])
    assert np.mean(first[0][0::2] == "RRc") > 0.8 and np.mean(first[0][1::2] == "RRab") > 0.8
    drawn = curves.latents(small_model, "RRLYR", "mdn", physics, ["g", "r"], seed)
    told = curves.latents(small_model, "RRLYR", "mdn", physics, ["g", "r"], seed, first[0])
    for band in ("g", "r"):
        np.testing.assert_array_equal(drawn[band][0], told[band][0])
