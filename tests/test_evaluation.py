"""Each evaluation measure on constructed cases whose answer is known, and the suite end to end."""
from __future__ import annotations

import json
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import load_model, pipeline
from pelsvae_core.data.dataset import TrainingSet
from pelsvae_core.evaluation import suite
from pelsvae_core.evaluation.reconstruction import binned_median, excess_over_noise, masked_rmse
from pelsvae_core.evaluation.figures import fidelity_figures
from pelsvae_core.evaluation.inference import Star
from pelsvae_core.evaluation.report import (SPREAD_FIGURE, headline_lines, inference_lines,
                                            prior_verdict, priors_lines)
from pelsvae_core.model import storage
from pelsvae_core.physics.kernel_density import INPUT_BANDWIDTHS


def test_masked_rmse_counts_each_real_observation_once():
    truth = np.array([[0.0, 1.0, 1.0]])
    model = np.array([[0.0, 0.0, 0.0]])
    assert masked_rmse(truth, model, np.array([[True, True, False]]))[0] == pytest.approx(np.sqrt(0.5))


def test_excess_over_noise_recovers_the_error_against_the_noise_free_curve():
    rng = np.random.default_rng(1)
    truth = np.sin(np.linspace(0, 2 * np.pi, 400))[None].repeat(300, 0)
    sigma = rng.uniform(0.05, 0.2, (300, 1))
    observed = truth + rng.standard_normal(truth.shape) * sigma
    mask = np.ones_like(truth, bool)
    floor = masked_rmse(np.broadcast_to(sigma, truth.shape), np.zeros_like(truth), mask)
    assert excess_over_noise(masked_rmse(observed, truth, mask), floor) < 0.01  # the true curve
    assert excess_over_noise(masked_rmse(observed, truth + 0.1, mask), floor) == pytest.approx(0.1, abs=0.01)


def test_binned_median_is_the_median_per_bin_and_fills_empty_bins_around_the_cycle():
    rng = np.random.default_rng(0)
    phase, mag = rng.uniform(0, 1, 4000), rng.normal(size=4000)
    which = (phase * 20).astype(int)
    expected = [np.median(mag[which == b]) for b in range(20)]
    np.testing.assert_allclose(binned_median(phase, mag, 20), expected)
    only_first_half = binned_median(np.array([0.05, 0.45]), np.array([1.0, 3.0]), 10)
    assert only_first_half[0] == 1.0 and only_first_half[4] == 3.0
    assert 1.0 < only_first_half[7] < 3.0  # between the two filled bins, the short way round


def test_offset_free_rmse_ignores_the_mean_magnitude_but_not_the_shape():
    truth = np.sin(np.linspace(0, 6, 50))
    mask = np.ones(50, bool)
    assert suite.offset_free_rmse(truth, truth + 4.2, mask) == pytest.approx(0, abs=1e-12)
    assert suite.offset_free_rmse(truth, 2 * truth, mask) == pytest.approx(np.std(truth))


def test_period_neighbours_follow_a_shape_that_changes_with_period():
    """Short-period stars are sinusoids and long-period ones skewed (two harmonics): the
    neighbours in period predict each star's shape and amplitude, where one template cannot."""
    n, points = 200, 60
    phase = np.tile(np.linspace(0, 1, points, endpoint=False), (n, 1))
    log_period = np.r_[np.full(n // 2, -0.5), np.full(n // 2, 0.5)]
    angle = 2 * np.pi * phase[0]
    sine, skewed = 0.5 + 0.5 * np.cos(angle), 0.5 + 0.3 * np.sin(angle) + 0.2 * np.sin(2 * angle)
    mag = np.where(log_period[:, None] < 0, sine, skewed)
    data = TrainingSet(phase=phase, mag=mag, err=np.full_like(mag, 0.01), mask=np.ones_like(mag, bool),
                       cls=np.zeros(n, int), band=np.zeros(n, int), teff=np.full(n, np.nan),
                       abs_mag=np.full(n, np.nan), log_period=log_period,
                       amplitude=np.where(log_period < 0, 0.3, 1.0), mean_mag=np.zeros(n),
                       split=np.full(n, "train"), star_key=np.arange(n).astype(str),
                       augmented=np.zeros(n, bool), classes=("X",), bands=("g",))
    neighbours = suite.PeriodNeighbours(data, k=20)
    for row, shape, other, amplitude in ((0, sine, skewed, 0.3), (n - 1, skewed, sine, 1.0)):
        predicted, predicted_amplitude = neighbours.predict(data, row)
        np.testing.assert_allclose(predicted, shape, atol=0.02)  # 100 template bins, 60 phases
        assert np.abs(predicted - other).max() > 0.3
        assert predicted_amplitude == pytest.approx(amplitude)


def test_paired_comparison_separates_a_real_gain_from_chance():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.08, 0.12, 40)
    share, p = suite.paired_comparison(reference - 0.01 + rng.normal(0, 0.002, 40), reference)
    assert share == 1.0 and p < 1e-6
    share, p = suite.paired_comparison(reference + rng.normal(0, 0.01, 40), reference)
    assert 0.25 < share < 0.75 and p > 0.05
    assert np.isnan(suite.paired_comparison(reference[:5] - 0.01, reference[:5])[1])


def test_per_class_summary_compares_with_the_template_in_each_unit():
    """Class A: the period neighbours beat the template on every star in both units, the
    generated curves do not; class B: nothing beats it in shape, but the generated curves do
    in magnitudes (a right amplitude)."""
    rng = np.random.default_rng(1)
    template = rng.uniform(0.08, 0.12, 30)

    def noise():
        return rng.normal(0, 0.01, 30)

    frame = pd.concat([pd.DataFrame({
        "class": name, "template": template, "generated": template + noise(),
        "period_neighbours": template + neighbours, "template_mag": 2 * template,
        "generated_mag": 2 * template + magnitude_gain, "period_neighbours_mag": 2 * template + neighbours})
        for name, neighbours, magnitude_gain in (("A", -0.01, noise()), ("B", noise(), -0.02))])
    summary = suite._per_class(frame).set_index("class")
    for unit in suite.UNITS:
        assert summary.loc["A", "neighbours_beat_template" + unit] == 1.0
        assert summary.loc["A", "p_neighbours" + unit] < 1e-4
        assert summary.loc["B", "p_neighbours" + unit] > 0.05
    assert summary.loc["A", "p_vs_template"] > 0.05 and summary.loc["B", "p_vs_template"] > 0.05
    assert summary.loc["B", "beats_template_mag"] == 1.0 and summary.loc["B", "p_vs_template_mag"] < 1e-4
    assert summary.loc["A", "n"] == 30 and summary.loc["A", "template"] == pytest.approx(np.median(template))


def test_curve_features_are_scaled_fourier_fits_from_their_own_phase_zero():
    phase = np.tile(np.linspace(0, 1, 120, endpoint=False), (3, 1))
    mag = np.vstack([np.cos(2 * np.pi * phase[0]), 3 + 5 * np.cos(2 * np.pi * phase[1]),
                     np.cos(2 * np.pi * (phase[2] - 0.3))])  # maximum light at 0.5, 0.5, 0.8
    features = suite.curve_features(phase, mag, np.full_like(mag, 0.01), np.ones_like(mag, bool),
                                    binary=np.zeros(3, bool))
    assert features.shape == (3, suite.FEATURE_PHASES.size)
    np.testing.assert_allclose(features[0], features[1], atol=1e-6)  # same shape, other scale
    np.testing.assert_allclose(features[0], features[2], atol=1e-2)  # same shape, other phase
    assert features.min() == pytest.approx(0) and features.max() == pytest.approx(1)
    assert features[0, 0] == pytest.approx(0, abs=1e-6)  # pulsator: maximum light at zero
    as_binary = suite.curve_features(phase[:1], mag[:1], np.full_like(mag[:1], 0.01),
                                     np.ones_like(mag[:1], bool), binary=np.ones(1, bool))
    assert as_binary[0, 0] == pytest.approx(1, abs=1e-6)  # binary: faintest at zero


def test_evaluate_writes_numbers_figures_and_report_checksummed_in_the_folder(
        small_model, subset_root, subset_cache, tmp_path):
    data = pipeline.model_training_set(small_model, subset_root, subset_cache.directory,
                                       progress=False)
    results, curves = suite.evaluate(small_model, data, progress=False, inference_stars=2)
    assert set(results) >= {"inference", "reconstruction", "physics_to_curve", "two_sample", "tstr",
                            "morph_generated", "morph_real", "memorisation", "cadence_invariance",
                            "generate_100_ms", "regressor_validation",
                            "spread", "hertzsprung", "leavitt", "rr_lyrae"}
    assert not any(name.startswith("_") for name in results)  # intermediates stay out
    assert any(row["stars"] > 0 for row in results["inference"]["rows"])  # real curves inferred
    for row in results["inference"]["rows"]:  # halves and twins split by the star's O-C verdict
        for check in ("halves", "twin"):
            assert (row[f"period_{check}_constant_68_n"] + row[f"period_{check}_wander_68_n"]
                    <= row[f"period_{check}_68_n"])
        for kind in ("constant", "wander"):   # a twin's halves count only beside its star's
            assert row[f"period_twin_{kind}_68_n"] <= row[f"period_halves_{kind}_68_n"]
        discordant = row["period_wander_only_real"] + row["period_wander_only_twin"]
        assert discordant <= row["period_twin_wander_68_n"]
    assert results["cadence_invariance"] < 1e-5
    assert 0 <= results["tstr"]["trained_on_synthetic"] <= 1
    for row in results["two_sample"]:  # the grouped test and its references, per class
        assert row["target"] in ("met", "not met", "n/a")
        assert all(0 <= row[k] <= 1 for k in ("accuracy", "reconstructed", "own_fourier_8",
                                              "other_star_fourier_8"))
        # the well-covered subset is a part of the class's curves, scored alike where it is big enough
        if "covered_n_real" in row:
            assert 0 < row["covered_n_real"] <= row["n_real"] and 0 <= row["covered_accuracy"] <= 1
    assert any("covered_n_real" in row for row in results["two_sample"])
    assert {row["quantity"] for row in results["spread"]} == {"R21", "phi21", "amplitude"}
    # the control of another sample of real stars (the validation split's) sits in the same rows
    assert any(row["n_other"] > 0 and row["other_stars"] > 0 for row in results["spread"])
    # and the target on a second sample of real stars, the validation split's, in its own rows
    assert results["spread_validation"] and all(row["n_other"] == 0 for row in results["spread_validation"])
    for name in ("hertzsprung", "rr_lyrae"):  # measured, or skipped with the reason
        assert "skipped" in results[name] or results[name]["bins"]
    figures = fidelity_figures(results)
    assert all(png[:4] == b"\x89PNG" for png in figures.values()) and SPREAD_FIGURE in figures

    # elsewhere: a plain folder of files
    pipeline.store_report(small_model, results, curves, out=tmp_path / "elsewhere")
    for name in ("evaluation.json", "report.md", "rr_lyrae_morph.png", "rr_lyrae_shapes.png"):
        assert (tmp_path / "elsewhere" / name).stat().st_size > 0
    assert (tmp_path / "elsewhere" / "rr_lyrae_morph.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (tmp_path / "elsewhere" / "report.md").read_text()
    assert "Table 3 analogue" in markdown and "other stars met" in markdown
    assert "validation: rows" in markdown and "On a second sample, the validation split's stars" in markdown
    assert "## 9. Cepheid Hertzsprung progression" in markdown and "own Fourier 8" in markdown
    assert "## 12. The inverse problem on real test stars" in markdown
    assert "\n".join(headline_lines(results)) in markdown  # the dashboard's formatter, verbatim

    # in the model folder: covered by the checksums, current, stale (not lost) after a refit
    folder = tmp_path / "model"
    shutil.copytree(small_model.folder, folder)
    assert load_model(folder).report_status() == "none" and load_model(folder).evaluation() is None
    pipeline.store_report(load_model(folder), results, curves)
    stored = json.loads((folder / storage.EVALUATION_FILE).read_text())
    assert load_model(folder).evaluation() == stored == json.loads(json.dumps(results, default=float))
    checksums = json.loads((folder / storage.CHECKSUMS).read_text())
    assert {storage.EVALUATION_FILE, "report/report.md", storage.MEASURED_FILE} <= set(checksums)
    assert load_model(folder).report_status() == "current"
    # the inverse problem's recalibration, on its validation stars with a Teff: stored, checksummed,
    # and what the report measured changes with it
    content = pipeline.calibrate_inference(folder, None, per_group=3, sparse=(), progress=False)
    assert content["split"] == "val" and content["per_group"] == 3
    assert sum(e["curves"] for e in content["teff"].values()) + sum(content["too_few"].values()) > 0
    assert load_model(folder).inference_calibration() == json.loads(json.dumps(content))
    assert load_model(folder).report_status() == f"stale: {storage.INFERENCE_CALIBRATION_FILE} changed since the report"
    pipeline.fit_physics(folder, subset_root, subset_cache.directory, seed=3, progress=False)
    refitted = load_model(folder)
    assert refitted.evaluation() == stored
    assert refitted.report_status().startswith("stale: ") and "regressors.npz" in refitted.report_status()
    # fitted with the old latents: dropped by the refit, not kept stale
    assert refitted.inference_calibration() is None
    (folder / "report" / "report.md").write_text("edited")
    with pytest.raises(storage.ModelFormatError, match="report.md does not match its checksum"):
        load_model(folder)


def test_inference_targets_pool_the_rows_by_their_cases():
    """The report's verdicts on the inverse problem weigh each row by its number of cases:
    90 % of 10 and 100 % of 30 is 97.5 % of 40 (the period target of 95 %: met), and a
    coverage 68 +- 5 % is missed on either side."""
    def row(epochs, period, n_period, teff_68, teff_95, n_teff, halves=(None, 0)):
        out = {"group": "SDSS RRLYR ugriz", "epochs": epochs, "stars": n_teff, "failed": 0,
               "period_median_z": 0.9, "period_halves_median_z": 1.1 if halves[1] else None,
               "mean_class_probability": 1.0, "teff_rms": 150.0, "teff_prior_sd": 340.0,
               "abs_mag_bias": None, "abs_mag_rms": None, "cpu_s": 0.3}
        shares = {"period_1pct": (period, n_period), "period_target": (period, n_period),
                  "period_in_68": (0.5, n_period), "class": (1.0, n_teff), "baseline_class": (None, 0),
                  "mode": (None, 0), "subtype": (None, 0), "teff_68": (teff_68, n_teff), "teff_95": (teff_95, n_teff),
                  "period_halves_68": halves,
                  "period_twin_68": (0.75, halves[1]) if halves[1] else (None, 0),
                  "period_twin_in_68": (0.7, n_period) if halves[1] else (None, 0),
                  "period_halves_constant_68": (0.75, 4) if halves[1] else (None, 0),
                  "period_halves_wander_68": (0.25, 4) if halves[1] else (None, 0),
                  "period_twin_wander_68": (0.7, 10) if halves[1] else (None, 0),
                  "period_twin_constant_68": (0.69, 4) if halves[1] else (None, 0),
                  "period_twin_wanders": (0.0, 12) if halves[1] else (None, 0)}
        for name, (share, n) in shares.items():
            out[name], out[name + "_n"] = share, n
        out.update(period_wander_only_real=0, period_wander_only_twin=1 if halves[1] else 0)
        return out
    result = {"rows": [row("all", 0.9, 10, 0.9, 0.9, 10, halves=(0.5, 8)), row(60, 1.0, 30, 0.9, 0.9, 30)],
              "per_class": [], "split": "test", "per_group": 40, "seed": 0, "baseline_curves": 0}
    lines = "\n".join(inference_lines(result))
    assert "≥ 60 epochs: 98% of 40 (target ≥ 95%): met" in lines
    assert "RRab/RRc: no cases" in lines
    assert "Teff 16–84 % intervals: 90% of 40 (target 68% ± 5%): not met; +3.0 SD" in lines  # 0.22 / 0.074
    assert "| SDSS RRLYR ugriz | 60 | 30 (0) | 100% (30) |" in lines
    # the halves of each whole curve against each other: only the whole curves have them
    assert ("| SDSS RRLYR ugriz | all | 10 (0) | 90% (10) | 90% (10) | 50% (10) | 0.90 | 70% (10) | "
            "50% (8) | 1.10 | 75% (8) |") in lines
    assert "| 50% (30) | 0.90 | – | – | – | – |" in lines
    assert "periodic twins (period known exactly): 70% of 10 (target 68% ± 5%): met" in lines
    assert "within 1 σ of each other: 50% of 8 (target 68% ± 5%): not met" in lines
    assert "periodic twin (the intervals' own calibration on these cadences): 75% of 8 (target 68% ± 5%): not met" in lines
    # split by the whole curve's O-C diagram: constant period against wandering phase
    assert "(a constant period; probability > 0.01): 75% of 4 (target 68% ± 5%): not met" in lines
    assert "phase wanders (O-C probability ≤ 0.01: no constant period explains" in lines
    # the wanderers beside their own twins (binomial SD of a calibrated 68 %: 0.233 at 4,
    # 0.147 at 10), paired star by star: too few to say anything
    assert ("seasons): 25% of 4 (-1.8 SD); their periodic twins (the same cadences and noise, a "
            "constant period): 70% of 10 (+0.1 SD); paired by star, only the real halves agree for 0, "
            "only the twins' for 1 (McNemar's exact test, p = 1)\n") in lines
    assert "the same stars' periodic twins: 69% of 4 (target 68% ± 5%): met" in lines
    assert "the twins' own O-C diagrams, every twin strictly periodic: 0% of 12 called wandering" in lines
    # many wanderers whose halves disagree where their twins' agree, eight pairs to none: read
    result["rows"][0].update(period_halves_wander_68=0.1, period_halves_wander_68_n=30,
                             period_wander_only_twin=8)
    text = "\n".join(inference_lines(result))
    assert "10% of 30 (-6.8 SD)" in text and "p = 0.0078): the cadences and the noise are not" in text
    result["rows"][0]["period_wander_only_twin"] = 3      # p = 0.25: the pairs do not say it
    text = "\n".join(inference_lines(result))
    assert "p = 0.25)\n" in text and "are not what" not in text
    result["rows"][0]["period_twin_wander_68"] = 0.3      # -2.2 SD below 63 %: the twins miss too
    assert "the intervals are too narrow on these stars' cadences" in "\n".join(inference_lines(result))
    result["rows"][0]["period_twin_wander_68"] = 0.5      # -0.9 SD below 63 %: no reading
    assert "too narrow" not in "\n".join(inference_lines(result))
    for key in ("period_twin_wander_68", "period_twin_wander_68_n"):  # an evaluation from before the split
        del result["rows"][0][key]
    assert "seasons): 10% of 30 (-6.8 SD)\n" in "\n".join(inference_lines(result))
    result["rows"][0].update(period_halves_wander_68=0.25, period_halves_wander_68_n=4,
                             period_twin_wander_68=0.7, period_twin_wander_68_n=10,
                             period_wander_only_twin=1)
    result["rows"][1]["teff_68"] = 0.6
    assert "Teff 16–84 % intervals: 68% of 40 (target 68% ± 5%): met" in "\n".join(inference_lines(result))
    assert "class probabilities against the classes right: not measured" in lines
    # M's error beside the prior's spread, as Teff's (the LMC Cepheids at a known distance)
    result["rows"][0].update(abs_mag_bias=0.004, abs_mag_rms=0.012, abs_mag_prior_sd=0.71)
    assert "| +0.00, 0.01 / 0.71 |" in "\n".join(inference_lines(result))
    # per class, also without the curves whose label or period is doubtful
    result["per_class"] = [{"group": "Catalina V_CSS", "epochs": "all", "class": "T2CEP", "n": 20,
                            "inference": 0.7, "baseline": 0.85, "doubtful": 2,
                            "inference_consistent": 0.75, "baseline_consistent": 0.9}]
    lines = "\n".join(inference_lines(result))
    assert "| Catalina V_CSS | all | T2CEP | 20 | 70% | 85% | 2 | 75% | 90% |" in lines
    assert "T2CEP ≥ 1.003 d (603 stars)" in lines


def test_class_probabilities_are_checked_against_the_classes_right():
    """Ninety curves each given 0.95 promise 85.5 right (sd 2.07): 84 right is calibrated
    (-0.7 sd), 78 is overconfident (-3.6 sd); the rows pool before the check."""
    from pelsvae_core.evaluation.inference import class_calibration
    from pelsvae_core.evaluation.report import class_calibration_line
    def rows(right):
        return [{"mean_class_probability": 0.95,
                 **class_calibration([True] * k + [False] * (45 - k), [0.95] * 45)} for k in right]
    assert class_calibration([], []) == {"class_right": None, "class_expected": None,
                                         "class_expected_var": None, "class_residual_by_star": None}
    assert class_calibration_line(rows([42, 42])).endswith("(-0.7 standard deviations of a Poisson "
                                                            "binomial; calibrated within ± 2): met")
    assert "78 classes right where the top probabilities promise 85.5 (-3.6" in class_calibration_line(rows([39, 39]))
    assert class_calibration_line(rows([39, 39])).endswith(": not met")
    certain = [{"mean_class_probability": 1.0, **class_calibration([True, True, False], [1.0, 1 + 1e-12, 1.0])}]
    assert "(-inf standard deviations" in class_calibration_line(certain)
    right = [{"mean_class_probability": 1.0, **class_calibration([True, True], [1.0, 1 + 1e-12])}]
    assert class_calibration_line(right).endswith("(+0.0 standard deviations of a Poisson binomial; "
                                                  "calibrated within ± 2): met")


def test_class_calibration_takes_each_star_s_curves_together():
    """30 stars, each inferred whole and at 60 and 30 epochs (three rows), every curve given
    0.95; 27 stars right on all three, 3 wrong on all three: 81 right of 85.5 promised is
    -2.2 SD of a Poisson binomial of 90 independent curves, but the curves of a star fall
    together, and with them taken together (per-star residuals 0.15 and -2.85, cluster-robust
    SD sqrt(30/29 x 24.3) = 5.01) it is -0.9: met. Without per-star residuals (an older
    evaluation) the independent check decides."""
    from pelsvae_core.evaluation.inference import class_calibration
    from pelsvae_core.evaluation.report import class_calibration_line, clustered_class_sd
    stars = [f"star{i}" for i in range(30)]
    right = [i >= 3 for i in range(30)]
    rows = [{"mean_class_probability": 0.95, **class_calibration(right, [0.95] * 30, stars)}
            for _ in range(3)]
    sd, n_stars = clustered_class_sd(rows)
    assert n_stars == 30 and sd == pytest.approx(math.sqrt(30 / 29 * 24.3))
    line = class_calibration_line(rows)
    assert "81 classes right where the top probabilities promise 85.5 (-2.2 standard deviations" in line
    assert "-0.9 with each of the 30 stars' whole and sparse curves taken together" in line
    assert line.endswith(": met")
    older = [{k: v for k, v in row.items() if k != "class_residual_by_star"} for row in rows]
    assert clustered_class_sd(older) is None
    assert class_calibration_line(older).endswith("calibrated within ± 2): not met")


def test_each_row_s_teff_coverage_is_judged_against_its_binomial_spread():
    """A 68 % interval over 40 stars covers 61-75 % at one SD (0.074): 60 % is -1.1 SD, within
    chance; 50 % is -2.4 SD and named; rows without Teff are left out."""
    from pelsvae_core.evaluation.report import row_coverage_line
    def row(group, share, n=40):
        return {"group": group, "epochs": "all", "teff_68": share, "teff_68_n": n}
    line = row_coverage_line([row("A", 0.60), row("B", 0.70), row("C", None, 0)], "teff_68", "16-84 %")
    assert line.endswith("0 of 2 rows beyond 2 standard deviations; the largest departure A all, "
                         "60% of 40 (-1.1 SD)")
    line = row_coverage_line([row("A", 0.50), row("B", 0.70)], "teff_68", "16-84 %")
    assert "1 of 2 rows beyond 2 standard deviations (A all (50% of 40, -2.4 SD))" in line
    assert row_coverage_line([row("C", None, 0)], "teff_68", "16-84 %").endswith("no rows")


def test_sparse_versions_keep_every_band_of_a_drawn_epoch():
    """SDSS observes u, g, r, i, z within minutes: a sparse version draws whole epochs, all
    five bands of each, and a star with fewer epochs than asked has no sparse version."""
    epochs = np.arange(10) * 3.0
    time = (epochs[:, None] + np.arange(5) * 0.003).ravel()
    bands = np.tile(np.array(list("ugriz"), dtype=object), 10)
    star = Star("sdss:1", "RRLYR", "RRab", 0.55, 6500.0, time, np.zeros(50), np.full(50, 0.02), bands)
    sparse = star.sparse(4, np.random.default_rng(0))
    assert sparse.time.size == 20 and np.unique(np.round(sparse.time)).size == 4
    for epoch in np.unique(np.round(sparse.time)):
        assert sorted(sparse.band[np.round(sparse.time) == epoch]) == list("giruz")
    assert star.sparse(11, np.random.default_rng(0)) is None


def test_the_plain_kernel_must_win_clearly_and_keep_the_shape_period_progression():
    """The mean-adjusted kernel generates unless the plain one is more than the tie better in
    the two-sample test and follows the real shapes against period at least as well."""
    def score(accuracy, share):
        return {"accuracy": accuracy, "progression": {"R21": share, "phi21": share, "R31": share}}
    adjusted = {(True, 0.1): score(0.60, 0.9), (True, 0.2): score(0.605, 0.9), (True, 0.4): score(0.65, 0.9)}
    assert pipeline.choose_kernel(adjusted) == (True, 0.2)   # the widest within the tie
    clear_win = {**adjusted, (False, 0.1): score(0.56, 0.95), (False, 0.2): score(0.58, 0.95)}
    assert pipeline.choose_kernel(clear_win) == (False, 0.1)
    assert pipeline.choose_kernel({**clear_win, (False, 0.1): score(0.56, 0.3)}) == (True, 0.2)  # Hertzsprung lost
    assert pipeline.choose_kernel({**adjusted, (False, 0.2): score(0.596, 1.0)}) == (True, 0.2)  # within the tie
    assert pipeline.choose_kernel({**adjusted, (False, 0.2): score(0.5, float("nan"))}) == (True, 0.2)


def test_the_shape_period_progression_sees_what_a_pooled_test_does_not():
    """Real curves whose R21 rises with log P: generated curves that follow it keep every
    bin inside the real band; the same shapes shuffled across periods (the same pool, so a
    test pooled over periods could not tell) fall outside in most bins; bands are binned apart."""
    rng = np.random.default_rng(0)
    from pelsvae_core.evaluation.suite import FEATURE_PHASES
    log_p = np.repeat(np.arange(0.0, 1.0, 0.1) + 0.05, 30)
    r21 = 0.1 + 0.4 * log_p + rng.normal(0, 0.02, log_p.size)
    x = 2 * np.pi * FEATURE_PHASES
    features = np.cos(x) + r21[:, None] * np.cos(2 * x + 1.0)
    bands = np.array(["I"] * log_p.size)
    within_bins = np.concatenate([30 * b + rng.permutation(30) for b in range(10)])
    same = suite.shape_progression(log_p, bands, features, features[within_bins])
    assert same == {"R21": 1.0, "phi21": 1.0, "R31": 1.0}
    shuffled = suite.shape_progression(log_p, bands, features, features[rng.permutation(log_p.size)])
    assert shuffled["R21"] <= 0.4 and shuffled["phi21"] == 1.0
    two_bands = suite.shape_progression(log_p, np.where(np.arange(log_p.size) % 2, "I", "V"), features, features)
    assert two_bands["R21"] == 1.0


def test_regressor_table_sets_cvae_beside_cvae_p():
    def fake(physics, r2):
        rows = [{"class": "CEP", "regressor": "rf", "n_val": 10, "rmse_latent": 1 - r2, "r2_latent": r2}]
        return SimpleNamespace(config=SimpleNamespace(physics=physics),
                               metadata={"physics": {"regressor_validation": rows}})
    table = suite.regressor_validation(fake(True, 0.6), fake(False, 0.2))
    row = table.iloc[0]
    assert (row["class"], row["regressor"]) == ("CEP", "rf")
    assert row["r2 cVAE-P"] == 0.6 and row["r2 cVAE"] == 0.2 and row["rmse cVAE"] == 0.8


def test_the_fit_chooses_the_kernel_bandwidth_adjustment_and_density_by_their_generated_curves(
        small_model, subset_root, subset_cache, tmp_path, monkeypatch):
    folder = tmp_path / "model"
    shutil.copytree(small_model.folder, folder)
    data = pipeline.model_training_set(load_model(folder), subset_root, subset_cache.directory,
                                       progress=False)
    monkeypatch.setattr(pipeline, "BANDWIDTH_CURVES", 10)  # the real subset's validation split is small
    choice = pipeline.choose_generator(load_model(folder), data, progress=False)
    assert choice["kernels"]  # some class had enough validation curves to be judged
    refitted = load_model(folder)
    record = refitted.metadata["physics"]["density"]
    for cls, by_try in choice["kernels"].items():
        kernel = refitted.physics.predictor(cls, "kernel")
        chosen = (kernel.adjusted, float(kernel.arrays["bandwidth_x"]))
        assert len(by_try) == 2 * len(INPUT_BANDWIDTHS)  # each bandwidth with and without adjustment
        assert (record["kernel"]["bandwidth_choice"][cls]["mean_adjusted"],
                record["kernel"]["bandwidth_choice"][cls]["chosen"]) == chosen == pipeline.choose_kernel(by_try)
        assert all(set(score["progression"]) == {"R21", "phi21", "R31"} for score in by_try.values())
    means = {kind: np.mean(list(v.values())) for kind, v in choice["densities"].items()}
    assert choice["generator"] == min(means, key=means.get) == record["generator"]
    assert refitted.physics.default_regressor == choice["generator"]


def test_a_bandwidth_is_scored_by_the_mean_of_independent_draws(small_model, subset_root,
                                                                 subset_cache, monkeypatch):
    """One draw's two-sample accuracy scatters as much as the bandwidths differ; the choice
    reads the mean over the report's independent draws, each its own seed."""
    data = pipeline.model_training_set(small_model, subset_root, subset_cache.directory, progress=False)
    val = data.split_part("val")
    monkeypatch.setattr(pipeline, "BANDWIDTH_CURVES", 10)  # the real subset's validation split is small
    original, seeds = suite.generated_like, []

    def recorded(model, part, kind, seed=0):
        seeds.append(seed)
        return original(model, part, kind, seed)

    monkeypatch.setattr(suite, "generated_like", recorded)
    monkeypatch.setattr(pipeline, "GENERATED_DRAWS", 3)
    scores = pipeline.validation_scores(small_model, val, "kernel")
    assert seeds == [0, 1, 2] and scores

    def one_draw(seed):
        monkeypatch.setattr(suite, "generated_like",
                            lambda model, part, kind, _=0: original(model, part, kind, seed))
        return pipeline.validation_scores(small_model, val, "kernel")

    monkeypatch.setattr(pipeline, "GENERATED_DRAWS", 1)
    singles = [one_draw(seed) for seed in range(3)]
    for cls, score in scores.items():
        assert score["accuracy"] == pytest.approx(np.mean([s[cls]["accuracy"] for s in singles]))


def test_the_spread_s_second_control_is_also_read_against_the_other_stars():
    """Rows whose generated widths lie within 20 % of the other real stars' in three of four
    rows (1.1 / 1.0, 1.0 / 0.95, 1.2 / 1.1; not 1.05 / 0.6) and the test stars' own in two
    (1.0 / 1.0, 1.0 / 1.1; not 0.5 / 0.95 nor 1.0 / 0.6): the report counts both."""
    from pelsvae_core.evaluation.report import spread_lines
    widths = [(1.0, 1.1, 1.0), (0.5, 1.0, 0.95), (1.0, 1.2, 1.1), (1.0, 1.05, 0.6)]
    rows = [{"class": "RRLYR", "band": "V", "log_p_lo": -0.5, "log_p_hi": -0.2, "n_real": 30,
             "quantity": "R21", "real": real, "generated": generated, "per_star": 0.1,
             "ratio": generated / real, "met": abs(generated / real - 1) <= 0.2, "perfect_chance": 0.7,
             "n_other": 30, "other_stars": other, "other_ratio": other / real,
             "other_met": abs(other / real - 1) <= 0.2} for real, generated, other in widths]
    text = spread_lines(rows)[0]
    assert ("Against those stars' widths instead, the generated ones lie within 20% in 3 rows, "
            "the test stars' own in 2.") in text
    # met: generated in rows 1, 3 and 4, the other stars in rows 1 and 3: one row apart, which
    # says nothing
    assert "the generated widths do in 1 and the other stars' in 0 (McNemar's exact test, p = 1;" in text
    assert "no evidence that the generator meets the target less often" in text
    # rows without other stars are not paired; eight rows only the other stars meet: told
    extra = {**rows[0], "n_other": 0, "other_stars": float("nan"), "other_ratio": float("nan"),
             "other_met": False}
    worse = {**rows[0], "generated": 2.0, "ratio": 2.0, "met": False}
    text = spread_lines(rows + [extra] * 5 + [worse] * 8)[0]
    assert "the generated widths do in 1 and the other stars' in 8 (McNemar's exact test, p = 0.039;" in text
    assert "the generator meets the target less often than another sample of real stars does" in text


def test_met_as_often_is_mcnemar_s_exact_test_of_the_discordant_rows():
    """Ten rows only the second meets and none only the first: p = 2 / 2^10; as many each way:
    p = 1; none discordant: p = 1."""
    from pelsvae_core.evaluation.fidelity import met_as_often
    first = np.r_[np.ones(5, bool), np.zeros(10, bool)]
    second = np.ones(15, bool)
    assert met_as_often(first, second) == {"only_first": 0, "only_second": 10,
                                           "p": pytest.approx(2 / 2**10)}
    assert met_as_often(second, first)["only_first"] == 10
    assert met_as_often(np.r_[first, ~first[5:]], np.r_[second, np.zeros(10, bool)])["p"] == pytest.approx(1.0)
    assert met_as_often(first, first)["p"] == 1.0


def test_each_simulation_prior_row_is_read_against_chance_and_its_control():
    """Section 13 by hand: within chance of 0.5; above it but its mean excess over the control
    (paired draw by draw) within chance's band (0.028 here); beyond it; a row too small for the
    classifier to split, whose accuracy is not shown; a class whose prior could not be made. A
    missing cross-match is said."""
    base = {"class": "ECL", "part": "secondary", "parameters": "log_period, teff",
            "held_out": 600, "accuracy_sd": 0.01, "control_sd": 0.01, "chance_95": 0.028,
            "testable": True, "draws": 5, "excess_sd": 0.03, "outside": 0.05, "reason": ""}
    rows = [{**base, "accuracy": 0.52, "control": 0.50, "excess": 0.02},
            {**base, "accuracy": 0.57, "control": 0.54, "excess": 0.027},
            {**base, "accuracy": 0.62, "control": 0.53, "excess": 0.029},
            {**base, "class": "DSCT", "accuracy": 0.471, "control": 0.471, "excess": 0.0,
             "testable": False},
            {"class": "ELL", "part": "", "testable": False, "reason": "too few stars"}]
    assert [prior_verdict(row) for row in rows] == [
        "within chance", "within chance of the control", "told apart (+0.029 over the control)",
        "too few to test", "too few stars"]
    lines = priors_lines({"source": "cross-match not read (DataRootError): ...", "rows": rows,
                          "draws": 5, "folds": 5, "held_out_share": 0.2})
    text = "\n".join(lines)
    assert "Cross-match: cross-match not read" in text
    assert "| DSCT | secondary | log_period, teff | 600 | – | – | ±0.028 | 5% | too few to test |" in text
    assert "| ELL | – | – | – | – | – | – | – | too few stars |" in text
    assert text.endswith("2 of 3 testable rows within chance of 0.5 or of their control.")
