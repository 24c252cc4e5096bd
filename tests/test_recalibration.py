"""The Teff intervals' recalibration (Kuleshov et al. 2018): a map fitted on PIT values puts
the quantile levels where intervals hold what they claim, the inverse problem applies the map
of the inferred class, and the shipped model's maps meet the coverage targets held out."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pelsvae_core import load_model
from pelsvae_core.evaluation.inference import COVERAGE_TARGETS
from pelsvae_core.inference import analyse
from pelsvae_core.inference.posterior import mixture_quantiles
from pelsvae_core.inference.recalibration import (MIN_CURVES, TeffRecalibration, coverage_miss,
                                                   empirical_quantiles, fit, maps)


def _pits(n_stars: int, scale: float, seed: int = 0) -> list[dict]:
    """PIT values of a Gaussian posterior ``scale`` times as wide as the truth's scatter
    around its median, three curves per star."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n_stars, 3))
    return [{"cls": "RRLYR", "star": f"star {i}", "pit": float(stats.norm.cdf(t / scale))}
            for i, row in enumerate(truth) for t in row]


def test_a_too_wide_posterior_is_narrowed_to_hold_what_it_claims():
    content = fit(_pits(400, 2.0), {"split": "val"})
    entry = content["teff"]["RRLYR"]
    assert entry["applied"] and entry["curves"] == 1200 and entry["stars"] == 400
    # twice too wide: the raw 68 % interval holds P(|x| < 2 * 0.994) = 95 %
    assert entry["raw_coverage"]["68"] == pytest.approx(0.95, abs=0.03)
    assert entry["held_out_coverage"]["68"] == pytest.approx(0.68, abs=0.04)
    assert entry["held_out_coverage"]["95"] == pytest.approx(0.95, abs=0.03)
    lo, hi = maps(content)["RRLYR"].levels([0.16, 0.84])
    # the levels that give +-1 sigma of the truth: Phi(-1 / 2) and Phi(1 / 2)
    assert lo == pytest.approx(stats.norm.cdf(-0.5), abs=0.03)
    assert hi == pytest.approx(stats.norm.cdf(0.5), abs=0.03)
    assert content["split"] == "val" and content["too_few"] == {}


def test_a_calibrated_posterior_keeps_its_levels_and_too_few_curves_make_no_map():
    levels = [0.025, 0.16, 0.5, 0.84, 0.975]
    drawn = maps(fit(_pits(300, 1.0), {}))["RRLYR"]
    assert drawn.levels(levels) == pytest.approx(levels, abs=0.03)  # applied or not
    # PIT values exactly uniform: the raw levels hold what they claim, and a map fitted on
    # half the curves would only add its own noise: not applied, the levels stay exact
    even = [{"cls": "RRLYR", "star": f"star {i // 3}", "pit": (i + 0.5) / 600} for i in range(600)]
    even += [{"cls": "CEP", "star": "c", "pit": 0.5}] * (MIN_CURVES - 1)
    content = fit(even, {})
    fitted = maps(content)["RRLYR"]
    assert not fitted.applied and list(fitted.levels(levels)) == levels
    assert empirical_quantiles(fitted.pit, levels) == pytest.approx(levels, abs=0.002)
    assert "CEP" not in content["teff"] and content["too_few"] == {"CEP": MIN_CURVES - 1}
    with pytest.raises(ValueError, match="at least 50 PIT values in"):
        TeffRecalibration.from_dict("CEP", {"pit": [0.5] * MIN_CURVES + [1.5], "applied": True})


@pytest.fixture(scope="module")
def model():
    return load_model()


def _rr_lyrae_curve(model):
    table = model.generate("RRLYR", teff=6600, abs_mag=0.6, period=0.56, n_samples=1, band="g",
                           times=np.sort(np.random.default_rng(4).uniform(0, 1500, 80)),
                           distance_pc=5000, seed=4, regressor="rf")
    return table["time"].to_numpy(), table["mag"].to_numpy(), table["mag_err"].to_numpy()


def test_inference_reports_the_teff_interval_at_the_classes_recalibrated_levels(model):
    """The shipped model holds maps for the classes with Teff (RR Lyrae, Cepheids); the
    interval is the raw posterior's quantiles at the map's levels, and a model without the
    map says that its interval is not recalibrated."""
    assert {"RRLYR", "CEP"} <= set(maps(model.inference_calibration()))
    time, mag, err = _rr_lyrae_curve(model)
    found = analyse(model, time, mag, err, band="g")
    recalibration = found.teff_recalibration
    assert found.result["class"] == "RRLYR" and recalibration.cls == "RRLYR"
    raw = mixture_quantiles(*found.teff_samples, recalibration.levels([0.16, 0.5, 0.84]))
    teff = found.result["teff"]
    assert [teff["p16"], teff["median"], teff["p84"]] == pytest.approx(raw, rel=1e-9)
    assert not any("not recalibrated" in w for w in found.result["warnings"])
    assert 0 < found.teff_pit(teff["median"]) < 1

    bare = load_model(model.folder)
    bare.inference_calibration = lambda: None
    plain = analyse(bare, time, mag, err, band="g")
    assert any("not recalibrated" in w for w in plain.result["warnings"])
    unmapped = mixture_quantiles(*plain.teff_samples, [0.16, 0.5, 0.84])
    assert [plain.result["teff"][k] for k in ("p16", "median", "p84")] == pytest.approx(unmapped, rel=1e-9)
    # RR Lyrae posteriors were too wide on the validation split: the map narrows them
    assert teff["p84"] - teff["p16"] < plain.result["teff"]["p84"] - plain.result["teff"]["p16"]


def test_the_shipped_maps_meet_the_coverage_targets_on_stars_they_were_not_fitted_on(model):
    """On the validation split each class's intervals as used (recalibrated: held out in two
    folds by star; raw levels kept: as they are) hold 68 +- 5 % and 95 +- 3 % of the true Teff,
    and a map is applied only where it brings the coverage nearer the nominal shares."""
    content = model.inference_calibration()
    assert content["teff"]["RRLYR"]["applied"]  # its raw intervals were too wide
    for cls in ("RRLYR", "CEP"):
        entry = content["teff"][cls]
        used = entry["held_out_coverage"] if entry["applied"] else entry["raw_coverage"]
        other = entry["raw_coverage"] if entry["applied"] else entry["held_out_coverage"]
        assert coverage_miss(used) <= coverage_miss(other)
        for name, level in (("68", "teff_68"), ("95", "teff_95")):
            target, tolerance = COVERAGE_TARGETS[level]
            assert abs(used[name] - target) <= tolerance, (cls, name, used[name])


def test_stored_kernel_scales_are_the_cross_validated_ones_and_spare_the_first_inference(model):
    """The shipped folder stores each reference's kernel scales; they equal a fresh
    cross-validation's, a reference of other stars refuses them, and a model's references
    take them instead of cross-validating again."""
    from pelsvae_core.inference.reference import References, class_reference

    records = {(r["cls"], tuple(r["bands"])): r for r in model.inference_calibration()["kernel_scales"]}
    assert {("ECL", ("V_CSS",)), ("CEP", ("I",)), ("RRLYR", ("g", "i", "r", "u", "z"))} <= set(records)
    fresh = class_reference(model.latents(), "RRLYR", ("I",))
    assert fresh.scales_record() == records[("RRLYR", ("I",))]
    other = class_reference(model.latents(), "RRLYR", ("V",))
    with pytest.raises(ValueError, match="are not this reference's"):
        other.seed_scales(records[("RRLYR", ("I",))])
    ecl = References(model).get("ECL", ("V_CSS",))
    assert "subtype_kernel_scales" in vars(ecl)  # seeded: no 3000-star cross-validation to come
    assert list(ecl.subtype_kernel_scales) == records[("ECL", ("V_CSS",))]["subtype"]
