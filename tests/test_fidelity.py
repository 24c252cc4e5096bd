"""The fidelity measures (issue 14) on constructed cases whose answer is known, and their
conventions on real OGLE curves and catalogues."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import fourier
from pelsvae_core.data.catalogues import read_ogle3_catalogue
from pelsvae_core.evaluation import fidelity


@pytest.fixture(scope="module")
def lmc_cepheids(data_root) -> pd.DataFrame:
    return fidelity.lmc_fundamental_cepheids(read_ogle3_catalogue(data_root / "ogle3_catalog"))


def test_grouped_two_sample_is_one_half_for_copies_and_one_for_disjoint_sets():
    """A star's real curve and its rival share a fold: exact copies and near-copies give 0.5
    (ungrouped folds gave near-copies less than 0.5), disjoint sets 1."""
    rng = np.random.default_rng(0)
    real, stars = rng.normal(size=(300, 10)), np.arange(300).astype(str)
    assert fidelity.two_sample_accuracy(real, real.copy(), stars) == pytest.approx(0.5)
    near = real + rng.normal(0, 1e-3, real.shape)
    assert abs(fidelity.two_sample_accuracy(real, near, stars) - 0.5) < 0.06
    assert fidelity.two_sample_accuracy(real, real + 3.0, stars) > 0.97


def test_two_sample_table_scores_the_target_against_the_own_fourier_reference():
    """A: generated, reconstructed and reference all near-copies (met); B: generated curves
    apart from the real ones (not met); C: too few curves for the target; D: too few to test."""
    rng = np.random.default_rng(1)
    sizes = {"A": 120, "B": 120, "C": 40, "D": 5}
    classes = np.concatenate([[c] * n for c, n in sizes.items()])
    stars = np.array([f"{c}{i // 2}" for c, n in sizes.items() for i in range(n)])  # two bands each
    real = rng.normal(size=(len(classes), 8))
    copy = real + rng.normal(0, 1e-3, real.shape)
    generated = np.where((classes == "B")[:, None], real + 3.0, copy)
    covered = np.arange(len(classes)) % 4 != 0
    rivals = {"accuracy": [generated, generated.copy()],  # two draws (here alike)
              "reconstructed": copy, "own_fourier_8": copy, "other_star_fourier_8": real + 3.0}
    table = fidelity.two_sample_table(real, rivals, classes, stars, covered).set_index("class")
    assert list(table.index) == ["A", "B", "C"]
    # the control and the well-covered subset are scored too, and the target does not read them
    assert (table["other_star_fourier_8"] > 0.97).all()
    assert table.loc["A", "covered_n_real"] == 90 and table.loc["B", "covered_accuracy"] > 0.97
    assert abs(table.loc["A", "covered_accuracy"] - 0.5) < 0.12
    assert table.loc["A", "target"] == "met" and table.loc["B", "target"] == "not met"
    assert table.loc["C", "target"] == "n/a"
    assert table.loc["B", "accuracy"] > 0.97 and abs(table.loc["A", "own_fourier_8"] - 0.5) < 0.1
    assert table.loc["A", "n_real"] == 120 and table.loc["A", "n_stars"] == 60
    # each accuracy on all curves has its standard error over the folds; the verdict its
    # distance from the limit in those errors: B far beyond it; A's near-copies score exactly
    # 0.5 in every fold, an error of zero, and then no distance is claimed
    for name in rivals:
        assert (table[name + "_se"] >= 0).all() and (table[name + "_se"] < 0.1).all()
    assert table.loc["B", "target_sigma"] > 2
    assert table.loc["A", "accuracy_se"] == 0 and np.isnan(table.loc["A", "target_sigma"])


def test_a_rival_drawn_several_times_is_scored_on_every_draw():
    """A list of independent draws: the mean of their accuracies, with an error no smaller
    than the folds' and grown by the draws' spread; one draw in a list scores as the array."""
    rng = np.random.default_rng(2)
    real, stars = rng.normal(size=(200, 6)), np.arange(200).astype(str)
    draws = [real + shift for shift in (0.2, 0.5, 0.8)]
    each = [fidelity.two_sample_folds(real, draw, stars) for draw in draws]
    accuracy, error = fidelity.rival_accuracy(real, draws, stars)
    assert accuracy == pytest.approx(np.mean([f.mean() for f in each]))
    assert min(f.mean() for f in each) < accuracy < max(f.mean() for f in each)
    spread = np.std([f.mean() for f in each], ddof=1) / np.sqrt(3)
    assert error == pytest.approx(np.hypot(np.sqrt(np.mean([fidelity.standard_error(f) ** 2 for f in each])),
                                           spread))
    assert error > spread
    assert fidelity.rival_accuracy(real, [draws[0]], stars) == fidelity.rival_accuracy(real, draws[0], stars)


def test_the_standard_error_over_folds():
    """The sample standard deviation of the fold accuracies over the root of their number."""
    assert fidelity.standard_error(np.array([0.5, 0.6, 0.7, 0.6, 0.6])) == pytest.approx(
        np.sqrt(0.02 / 4) / np.sqrt(5))


def shapes(coeffs: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame([fourier.fourier_parameters(c) for c in coeffs])


def test_fourier_parameters_of_known_series_in_one_batch():
    """A pure sinusoid has R21 = R31 = 0; cos(x + p1) + 0.3 cos(2x + p2) has R21 = 0.3 and
    phi21 = p2 - 2 p1; the batch fit equals the one-curve fit of pelsvae_core.fourier."""
    phase = np.sort(np.random.default_rng(2).uniform(0, 1, 150))
    x = 2 * np.pi * phase
    sine = 0.5 + np.cos(x + 1.0)
    two = np.cos(x + 0.4) + 0.3 * np.cos(2 * x + 2.5)
    err = np.full(phase.size, 0.02)
    coeffs = fidelity.fit_many(phase, np.vstack([sine, two]), err, 8)
    np.testing.assert_allclose(coeffs[1], fourier.fit(phase, two, err, 8), atol=1e-10)
    found = shapes(coeffs)
    assert found.loc[0, ["R21", "R31"]].tolist() == pytest.approx([0, 0], abs=1e-9)
    assert found.loc[1, "R21"] == pytest.approx(0.3)
    assert found.loc[1, "phi21"] == pytest.approx(np.mod(2.5 - 2 * 0.4, 2 * np.pi))
    np.testing.assert_allclose(fidelity.peak_to_peak(coeffs[:1]), [2.0], rtol=1e-3)


def test_phase_convention_matches_the_ogle3_catalogue_on_real_lmc_cepheids(subset_cache, data_root):
    """Cached OGLE-III LMC I curves (normalised, 0 = brightest, phase zero at maximum light)
    fitted here give the catalogue's R21 and phi21; as fluxes (brightest = largest) the phase
    difference would be off by pi."""
    catalogue = read_ogle3_catalogue(data_root / "ogle3_catalog")
    kept = subset_cache.kept
    curves = kept[(kept["survey"] == "OGLE-III LMC CEP") & (kept["band"] == "I")]
    rows = []
    for _, row in curves.iterrows():
        phase, mag, err = (np.asarray(row[c]) for c in ("phase", "mag", "err"))
        ours = shapes(fidelity.fit_many(phase, np.vstack([mag, 1 - mag]), err, 8))
        rows.append({"R21": ours.loc[0, "R21"], "phi21": ours.loc[0, "phi21"],
                     "phi21_flux": ours.loc[1, "phi21"], **catalogue.loc[row["star_id"], ["R21_1", "phi21_1"]]})
    found = pd.DataFrame(rows).dropna()
    assert len(found) >= 50

    def angle(a, b):
        return np.abs(np.angle(np.exp(1j * (a - b))))

    assert np.median(np.abs(found["R21"] - found["R21_1"])) < 0.01
    assert np.median(angle(found["phi21"], found["phi21_1"])) < 0.03
    assert np.median(angle(found["phi21_flux"], found["phi21_1"])) > 3.0


def test_angles_are_unwrapped_about_their_circular_mean():
    rng = np.random.default_rng(3)
    angles = np.mod(rng.normal(0.0, 0.1, 500), 2 * np.pi)  # straddles 0 = 2 pi
    assert np.ptp(angles) > 6  # cut apart without unwrapping
    unwrapped = fidelity.unwrap_about(angles, fidelity.circular_mean(angles))
    assert fidelity.width(unwrapped) == pytest.approx(0.2, rel=0.15)


def test_spread_table_compares_pooled_widths_and_per_star_families():
    """X: the generated curves scatter as widely as the real stars (met); Y: each star's family
    is a tenth as wide and centred on the star, so the pooled width is right but every family
    is narrow; Z: the generated population is half as wide (not met). phi21 scatters across
    0 = 2 pi and is still measured as narrow."""
    rng = np.random.default_rng(4)
    rows = []
    for cls, sd, centred in (("X", 0.05, False), ("Y", 0.005, True), ("Z", 0.025, False)):
        for star in range(1000):
            log_period, value = rng.uniform(-0.5, 0.5), rng.normal(0.4, 0.05)
            samples = rng.normal(value if centred else 0.4, sd, 10)
            for kind, v in [("real", value)] + [("generated", v) for v in samples]:
                rows.append({"class": cls, "band": "I", "kind": kind, "curve": f"{cls}{star}",
                             "log_period": log_period, "R21": v, "amplitude": v,
                             "phi21": np.mod(v - 0.4, 2 * np.pi)})
    table = fidelity.spread_table(pd.DataFrame(rows))
    assert set(table.groupby("class").size()) == {fidelity.SPREAD_BINS * 3}
    by_class = table.groupby("class")
    assert by_class["met"].all()["X"] and by_class["met"].all()["Y"] and not by_class["met"].any()["Z"]
    assert by_class["ratio"].median()["Z"] == pytest.approx(0.5, abs=0.1)
    assert by_class["per_star"].median()["Y"] < 0.2 * by_class["real"].median()["Y"]
    assert by_class["per_star"].median()["X"] == pytest.approx(0.1, rel=0.3)
    assert table["real"].max() < 0.12  # phi21 across the cut is as narrow as R21


def test_spread_table_scores_other_real_stars_as_a_control():
    """Rows of kind "other" (real curves of other stars) take the generated ones' place in a
    second comparison: a sample from the same distribution meets the target, one half as
    wide does not, and a class without such rows has none (NaN width, not met), while the
    generated comparison is untouched by them."""
    rng = np.random.default_rng(6)
    rows = []
    for cls, other_sd in (("same", 0.05), ("narrow", 0.025), ("none", None)):
        for star in range(800):
            log_period = rng.uniform(-0.5, 0.5)
            kinds = [("real", rng.normal(0.4, 0.05)), ("generated", rng.normal(0.4, 0.05))]
            kinds += [("other", rng.normal(0.4, other_sd))] if other_sd else []
            rows += [{"class": cls, "band": "V", "kind": kind, "curve": star, "log_period": log_period,
                      "R21": v, "amplitude": v, "phi21": v} for kind, v in kinds]
    table = fidelity.spread_table(pd.DataFrame(rows)).set_index("class")
    assert table["met"].all()
    assert table.loc["same", "other_met"].all() and (table.loc["same", "n_other"] > 150).all()
    assert table.loc["same", "other_ratio"].between(0.85, 1.15).all()
    assert not table.loc["narrow", "other_met"].any()
    assert table.loc["narrow", "other_ratio"].between(0.4, 0.6).all()
    none = table.loc["none"]
    assert (none["n_other"] == 0).all() and none["other_stars"].isna().all() and not none["other_met"].any()


def test_the_spread_control_is_the_chance_that_the_true_distribution_meets_the_target():
    """A generator drawing from the true distribution meets the 20 % target against a sample
    of n real curves only as often as the sample's own width lands within 20 % of the true one:
    simulated directly for normal samples (25 curves: about two times in three; 400: always),
    the bootstrap's chance agrees within 0.1; a sample without spread has no chance (NaN)."""
    rng = np.random.default_rng(5)
    for n in (25, 100, 400):
        samples = rng.normal(0.0, 1.0, (300, n))
        true = 2 * 0.9944578832097535   # 16-84 % width of a unit normal (2 x its 84th percentile)
        direct = np.mean([abs(true / fidelity.width(s) - 1) <= fidelity.SPREAD_TOLERANCE for s in samples])
        bootstrap = np.mean([fidelity.perfect_chance(s, rng) for s in samples[:60]])
        assert abs(bootstrap - direct) < 0.1, (n, bootstrap, direct)
        assert (0.5 < direct < 0.85) if n == 25 else direct > 0.9
    assert np.isnan(fidelity.perfect_chance(np.full(30, 0.4), rng))


def test_progression_of_the_ogle3_catalogue_against_itself_is_inside_its_band(lmc_cepheids):
    """The catalogue's LMC F-mode Cepheids fill every 0.1-dex bin from 1 to 30 d; against
    themselves every median lies inside the band, shifted by 0.2 in R21 none does."""
    assert lmc_cepheids.index.str.startswith("OGLE-LMC-CEP").all()
    assert 10 ** lmc_cepheids["log_period"].min() >= 1 and 10 ** lmc_cepheids["log_period"].max() <= 30
    bins = fidelity.progression(lmc_cepheids, lmc_cepheids, fidelity.SHAPES, fidelity.HERTZSPRUNG_EDGES)
    assert len(bins) == 3 * (len(fidelity.HERTZSPRUNG_EDGES) - 1)
    assert (bins["n_real"] >= fidelity.MIN_BIN_STARS).all()
    assert fidelity.fraction_inside(bins) == {"R21": 1.0, "phi21": 1.0, "R31": 1.0, "all": 1.0}
    shifted = lmc_cepheids.assign(R21=lmc_cepheids["R21"] + 0.2)
    assert fidelity.fraction_inside(fidelity.progression(lmc_cepheids, shifted, ["R21"],
                                                         fidelity.HERTZSPRUNG_EDGES))["R21"] == 0.0
    # the Hertzsprung progression itself: R21 dips near 10 d (Simon & Lee 1981)
    r21 = bins[bins["quantity"] == "R21"].set_index("log_p_lo")["real_median"]
    assert r21.loc[1.0] < 0.5 * r21.loc[0.5]


def test_slope_comparison_recovers_a_slope_across_the_phase_cut():
    """phi21 = 5.5 + 3.5 log P reaches past 2 pi within the sample; unwrapped about the circular
    mean the slope is found; a generated slope of 1.5 misses the 15 % target."""
    rng = np.random.default_rng(5)
    log_p = rng.uniform(-0.4, 0.0, 400)
    real = np.mod(5.5 + 3.5 * log_p + rng.normal(0, 0.1, 400), 2 * np.pi)
    same = fidelity.slope_comparison(log_p, real, log_p, real)
    assert same["real"]["slope"] == pytest.approx(3.5, abs=0.1) and same["met"]
    flat = fidelity.slope_comparison(log_p, real, log_p, np.mod(5.0 + 1.5 * log_p, 2 * np.pi))
    assert flat["ratio"] == pytest.approx(1.5 / 3.5, abs=0.05) and not flat["met"]


def test_leavitt_comparison_measures_an_offset_of_the_zero_point(lmc_cepheids):
    """Against the catalogue's own calibrated M_G, the catalogue is on its line; the same stars
    3.9 mag fainter are off by 3.9 mag, beyond the scatter."""
    log_p, mag = lmc_cepheids["log_period"], lmc_cepheids["abs_mag"]
    itself = fidelity.leavitt_comparison(log_p, mag, log_p, mag)
    assert itself["met"] and abs(itself["offset_median"]) < 0.02
    assert -3.1 < itself["catalogue"]["slope"] < -2.5  # the LMC V/G Leavitt slope, ~ -2.8
    assert 0.1 < itself["catalogue_scatter"] < 0.4
    fainter = fidelity.leavitt_comparison(log_p, mag, log_p, mag + 3.9)
    assert fainter["offset_median"] == pytest.approx(3.9, abs=0.02) and not fainter["met"]


def test_bulge_rr_lyrae_shapes_are_those_of_rrab_and_rrc(data_root):
    """The OGLE-IV bulge I curves, folded and fitted here: RRab sawtooths (R21 ~ 0.5) with the
    steep phi21-log P relation, RRc near-sinusoids (R21 ~ 0.1), RRab amplitudes falling with
    period (the Bailey diagram)."""
    bulge = fidelity.bulge_rr_lyrae(data_root / "ogle4_blg_rrlyr", progress=False)
    assert set(bulge["subtype"]) == {"RRab", "RRc"} and len(bulge) > 900
    rrab, rrc = bulge[bulge["subtype"] == "RRab"], bulge[bulge["subtype"] == "RRc"]
    assert rrab["R21"].median() > 0.4 and rrc["R21"].median() < 0.2
    slope = fidelity.slope_comparison(rrab["log_period"], rrab["phi21"], rrab["log_period"], rrab["phi21"])
    assert 2.5 < slope["real"]["slope"] < 5.0
    assert fidelity.robust_line(rrab["log_period"], rrab["amplitude"])["slope"] < -1


def test_largest_phase_gap_goes_around_the_cycle_and_ignores_masked_points():
    even = np.linspace(0, 1, 20, endpoint=False)
    half = np.r_[np.linspace(0.1, 0.6, 19), 0.95]          # widest gap 0.6 -> 0.95
    wrapped = np.r_[np.linspace(0.3, 0.9, 19), 0.9]        # widest gap 0.9 -> 1.3, across phase 0
    phase = np.vstack([even, half, wrapped])
    mask = np.ones_like(phase, dtype=bool)
    np.testing.assert_allclose(fidelity.largest_phase_gap(phase, mask), [0.05, 0.35, 0.4])
    mask[1, -1] = False                                    # without 0.95: 0.6 -> 1.1
    assert fidelity.largest_phase_gap(phase, mask)[1] == pytest.approx(0.5)


def test_the_fourier_order_is_the_one_the_points_support_whatever_the_quoted_errors():
    """:func:`fourier.fit_by_bic`: three harmonics under small noise, one where noise swamps
    the others, the same order when the quoted errors are ten times too small (the BIC of an
    unknown variance), and never more coefficients than points."""
    rng = np.random.default_rng(1)
    phase = rng.uniform(0, 1, 80)
    curve = np.sin(2 * np.pi * phase) + 0.3 * np.cos(6 * np.pi * phase)
    for noise, order in ((0.02, 3), (1.5, 1)):
        mag = curve + noise * rng.standard_normal(80)
        for quoted in (noise, noise / 10):
            coeffs = fourier.fit_by_bic(phase, mag, np.full(80, quoted))
            assert (coeffs.size - 1) // 2 == order
    assert fourier.fit_by_bic(phase[:6], curve[:6], None).size < 6
