"""The inverse problem (issue 17) on the shipped model: curves generated from known physics are
recovered within their intervals, aliases are resolved, several bands are fitted together,
bad input is refused or repaired with a word, and the CLI writes its JSON atomically."""
from __future__ import annotations

import argparse
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import load_model
from pelsvae_core.data import relations
from pelsvae_core.inference import analyse, infer
from pelsvae_core.infer_command import add_parser
from pelsvae_core.inference.inverse import KEYS
from pelsvae_core.inference.observed import MAX_POINTS, MIN_POINTS, prepare
from pelsvae_core.periodogram import is_recovered, search_period


@pytest.fixture(scope="module")
def model():
    return load_model()


def generated(model, cls="RRLYR", band="g", times=None, seed=0, noise=True, **physics):
    """One noisy curve of ``cls`` from known physics, apparent at 5 kpc, as arrays."""
    times = np.sort(np.random.default_rng(seed).uniform(0, 1500, 60)) if times is None else times
    table = model.generate(cls, times=times, n_samples=1, band=band, distance_pc=5000,
                           noise=noise, seed=seed, regressor="rf", **physics)
    return table["time"].to_numpy(), table["mag"].to_numpy(), table["mag_err"].to_numpy()


def test_result_has_exactly_the_issue_keys(model):
    time, mag, err = generated(model, teff=7300, abs_mag=0.3, period=0.57)
    result = infer(model, time, mag, err, band="g")
    assert tuple(result) == KEYS
    assert set(result["period_interval"]) == set(result["teff"]) == {"median", "p16", "p84"}
    assert result["abs_mag"] is None and any("distance" in w for w in result["warnings"])
    assert result["n_points"] == time.size
    assert abs(sum(result["class_probabilities"].values()) - 1) < 1e-9
    json.dumps(result, allow_nan=False)  # plain JSON, no NaN


def test_physics_drawn_from_the_training_stars_is_recovered_within_its_intervals(model):
    """16 RR Lyrae with the Teff, M and period of real test stars, generated with noise and
    inferred back: coverage counted, and the intervals narrower than the prior's."""
    stars = model.latents()
    stars = stars[(stars["cls"] == "RRLYR") & (stars["band"] == "g") & (stars["split"] == "test")]
    stars = stars.dropna(subset=["teff", "abs_mag"]).sample(16, random_state=1)
    inside68 = inside95 = period_inside = period_ok = 0
    widths, abs_mag_z = [], []
    for i, star in enumerate(stars.itertuples()):
        time, mag, err = generated(model, seed=i, teff=star.teff, abs_mag=star.abs_mag,
                                   period=star.period)
        found = analyse(model, time, mag, err, band="g", distance_pc=5000)
        r = found.result
        lo95, lo68, hi68, hi95 = found.teff_quantiles([0.025, 0.16, 0.84, 0.975])
        inside68 += lo68 <= star.teff <= hi68
        inside95 += lo95 <= star.teff <= hi95
        widths.append(hi68 - lo68)
        period_ok += is_recovered(r["period"], star.period)
        period_inside += r["period_interval"]["p16"] <= star.period <= r["period_interval"]["p84"]
        sigma = r["abs_mag"]["p84"] - r["abs_mag"]["median"]
        # the inferred M is the star's in the observed band: M_G plus its intrinsic g - G
        abs_g = star.abs_mag + relations.intrinsic_colour("RRLYR", "g", math.log10(star.period),
                                                        star.teff).value[0]
        abs_mag_z.append((r["abs_mag"]["median"] - abs_g) / max(sigma, 1e-3))
    train = model.latents()
    train = train[(train["cls"] == "RRLYR") & (train["band"] == "g") & (train["split"] == "train")]
    prior_width = np.subtract(*np.nanpercentile(train["teff"], [84, 16]))
    assert period_ok == 16
    assert 7 <= period_inside <= 16          # 68 % intervals: ~11 of 16
    assert 8 <= inside68 <= 16 and inside95 >= 13
    assert np.median(widths) < prior_width   # informative, not the prior again
    assert np.max(np.abs(abs_mag_z)) < 4     # M from the fitted mean and the distance


def test_a_daily_alias_that_fools_the_periodogram_is_resolved(model):
    """One point a night at the same hour: the periodogram's highest peak is the 1-day alias
    (0.355 d for 0.55 d), the decoder fit of the candidates finds the true period."""
    fooled = 0
    for seed in range(2, 14, 2):
        rng = np.random.default_rng(200 + seed)
        nights = np.sort(rng.choice(200, 40, replace=False))
        times = nights + 0.3 + rng.normal(0, 0.03, nights.size)
        time, mag, err = generated(model, times=times, seed=seed, teff=7000, abs_mag=0.5, period=0.55)
        if is_recovered(search_period(time, mag, err, 0.1, 5).period, 0.55):
            continue  # this draw's periodogram is not fooled: not the case under test
        fooled += 1
        result = infer(model, time, mag, err, band="g")
        assert is_recovered(result["period"], 0.55), (seed, result["period"])
    assert fooled >= 3, fooled


def test_several_bands_are_fitted_together_each_with_its_own_amplitude(model):
    rng = np.random.default_rng(5)
    parts, truth = [], {}
    for band in ("V", "I"):
        times = np.sort(rng.uniform(0, 1500, 50))
        time, mag, _ = generated(model, band=band, times=times, seed=3, noise=False,
                                 teff=7100, abs_mag=0.4, period=0.61)
        truth[band] = np.ptp(model.generate("RRLYR", teff=7100, abs_mag=0.4, period=0.61,
                                            n_samples=1, band=band, seed=3, regressor="rf")["mag"])
        err = np.full(time.size, 0.01)
        parts.append(pd.DataFrame({"time": time, "mag": mag + rng.normal(0, 0.01, time.size),
                                   "err": err, "band": band}))
    curve = pd.concat(parts).sort_values("time")
    found = analyse(model, curve["time"], curve["mag"], curve["err"], band=curve["band"].to_numpy())
    assert found.result["n_points"] == 100 and set(found.best.bands) == {"V", "I"}
    assert found.best.z.size == 2 * model.config.latent_dim
    for band in ("V", "I"):
        fitted = found.best.amplitude[found.best.bands.index(band)] * np.ptp(
            found.best.grids[found.best.bands.index(band)])
        assert fitted == pytest.approx(truth[band], rel=0.1), band
    assert truth["V"] > truth["I"] * 1.1  # the bands differ, and each fit follows its own
    assert is_recovered(found.result["period"], 0.61)


def curve(n=40, seed=0):
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(0, 300, n))
    return time, 15 + 0.5 * np.sin(2 * np.pi * time / 0.6) + rng.normal(0, 0.02, n), np.full(n, 0.02)


@pytest.mark.parametrize("change, message", [
    (lambda t, m, e: (t[:MIN_POINTS - 1], m[:MIN_POINTS - 1], e[:MIN_POINTS - 1]), "at least 10"),
    (lambda t, m, e: (t, m, np.where(np.arange(e.size) == 3, 0.0, e)), "errors must be positive"),
    (lambda t, m, e: (t, m, -e), "errors must be positive"),
    (lambda t, m, e: (t, np.full(m.size, 15.0), e), "every magnitude is the same"),
    (lambda t, m, e: (t, m[:-1], e), "differ in length"),
])
def test_bad_input_is_refused_naming_the_problem(model, change, message):
    with pytest.raises(ValueError, match=message):
        infer(model, *change(*curve()), band="V_CSS")


def test_an_unknown_band_or_a_bad_distance_is_refused(model):
    with pytest.raises(ValueError, match=r"unknown band\(s\) 'Ks'"):
        infer(model, *curve(), band="Ks")
    for distance in (-10.0, 0.5, True, "8000"):   # the rules of generation (photometry.checked_distance)
        with pytest.raises(ValueError, match="distance_pc must be"):
            infer(model, *curve(), band="V_CSS", distance_pc=distance)
    many = np.arange(MAX_POINTS + 1.0)
    with pytest.raises(ValueError, match=f"{MAX_POINTS + 1} points; inference takes at most {MAX_POINTS}"):
        infer(model, many, many * 0 + 15, many * 0 + 0.1, band="V_CSS")
    with pytest.raises(ValueError, match=r"unknown band\(s\) '3'"):   # not a string: still a name
        infer(model, *curve(), band=3)
    mixed = np.where(np.arange(40) % 2, "V_CSS", "I")   # no class was trained in both
    with pytest.raises(ValueError, match="give the bands one at a time"):
        infer(model, *curve(), band=mixed)


def test_repairable_input_is_repaired_with_a_warning(model):
    time, mag, err = curve()
    bands = model.decoder.bands
    mag_nan = mag.copy()
    mag_nan[[2, 7]] = np.nan
    checked = prepare(time, mag_nan, err, "V_CSS", bands, "V_CSS")
    assert len(checked) == time.size - 2 and "dropped 2 of 40" in checked.warnings[0]
    shuffled = np.random.default_rng(0).permutation(time.size)
    checked = prepare(time[shuffled], mag[shuffled], err[shuffled], "V_CSS", bands, "V_CSS")
    assert np.all(np.diff(checked.time) > 0) and "sorted" in checked.warnings[0]
    assert np.array_equal(checked.mag, mag)
    twice = prepare(np.r_[time, time[:3]], np.r_[mag, mag[:3] + 0.02], np.r_[err, err[:3]], "V_CSS",
                    bands, "V_CSS")
    assert len(twice) == time.size and any("weighted mean" in w for w in twice.warnings)
    assert twice.mag[np.searchsorted(twice.time, time[0])] == pytest.approx(mag[0] + 0.01)
    assert "default band" in prepare(time, mag, err, None, bands, "V_CSS").warnings[0]
    noise = 15 + np.random.default_rng(1).normal(0, 0.02, time.size)
    assert "consistent with constant brightness" in prepare(time, noise, err, "V_CSS", bands,
                                                            "V_CSS").warnings[0]
    result = infer(model, time, mag_nan, err, band="V_CSS")
    assert any("non-finite" in w for w in result["warnings"])


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pelsvae")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_writes_a_json_list_in_input_order_atomically(model, tmp_path):
    files = []
    for i, n in enumerate((45, 60)):
        time, mag, err = generated(model, times=np.sort(np.random.default_rng(i).uniform(0, 900, n)),
                                   seed=i, teff=7200, abs_mag=0.3, period=0.5 + 0.1 * i)
        frame = pd.DataFrame({"time": time, "mag": mag, "err": err})
        if i:
            frame["band"] = "g"
        frames = tmp_path / f"star{i}.csv"
        frame.to_csv(frames, index=False)
        files.append(str(frames))
    out, png = tmp_path / "out.json", tmp_path / "fit.png"
    assert run_cli(["infer", *files, "--band", "g", "--json", str(out), "--plot", str(png)]) == 0
    written = json.loads(out.read_text())
    assert [r["n_points"] for r in written] == [45, 60]         # a list, in input order
    assert all(tuple(r) == KEYS for r in written)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.png", "out.json", "star0.csv", "star1.csv"]

    assert run_cli(["infer", files[1], "--json", str(out)]) == 0   # one file: one object
    single = json.loads(out.read_text())
    assert isinstance(single, dict) and single["n_points"] == 60

    bad = tmp_path / "bad.csv"
    five = pd.DataFrame({"time": np.arange(5.0), "mag": 15 + 0.1 * np.arange(5), "err": 0.1})
    five.to_csv(bad, index=False)
    with pytest.raises(ValueError, match="bad.csv: 5 usable points"):
        run_cli(["infer", files[0], str(bad), "--band", "g", "--json", str(out)])
    assert json.loads(out.read_text()) == single                  # the old file, untouched
    assert not list(tmp_path.glob(".*.tmp"))                      # and no temporary left


def test_cli_reads_a_csv_with_the_problem_named(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("time,mag,err\n1,15,0.1\n2,x,0.1\n")
    with pytest.raises(ValueError, match="column 'mag' holds non-numbers, e.g. 'x' \\(row 3\\)"):
        run_cli(["infer", str(path), "--json", str(tmp_path / "o.json")])
    path.write_text("t,magnitude\n1,15\n")
    with pytest.raises(ValueError, match="no err column"):
        run_cli(["infer", str(path), "--json", str(tmp_path / "o.json")])


def test_misfit_tempers_the_likelihood_but_not_the_class_prior():
    """Two fits that explain the data equally well, one at a period its class's training stars
    never come near (density e^-7.5 per dex against e^0): with residuals correlated enough to
    temper the likelihood by beta^2 = 9, the period prior still counts in full (odds e^7.5,
    not e^0.8); and of two fits at equally likely periods, the better one's likelihood edge
    of 9 nats is tempered to odds e^1."""
    from types import SimpleNamespace

    from pelsvae_core.inference.posterior import fit_weights

    def fit(log_like, log_prior):
        return SimpleNamespace(log_evidence=log_like + log_prior, log_class_prior=log_prior, beta=3.0)
    odds = np.divide(*fit_weights([fit(40.0, 0.0), fit(40.0, -7.5)]))
    assert odds == pytest.approx(np.exp(7.5))
    odds = np.divide(*fit_weights([fit(49.0, -1.0), fit(40.0, -1.0)]))
    assert odds == pytest.approx(np.exp(1.0))


def _sine_fit(phase_wander=0.0, zero_points=0.0, seed=0):
    """A sine curve (1 mag, P = 0.5 d) of 2,000 points over 8 seasons at 0.02 mag noise, its
    phase wandering by ``phase_wander`` cycles (a 300-day modulation, as the Blazhko effect)
    and each season's zero point off by up to ``zero_points`` mag: the whitened residuals of
    the strictly periodic fit and their derivatives, as :func:`inference.fit.refine` hands
    them to ``o_minus_c``, and the frequency's uncertainty from the full least squares."""
    rng = np.random.default_rng(seed)
    season = np.repeat(np.arange(8), 250)
    time = np.sort(season * 365.25 + rng.uniform(0, 200, season.size))
    season = (time // 365.25).astype(int)
    sigma, f = 0.02, 2.0
    wander = phase_wander * np.sin(2 * np.pi * time / 300)
    observed = (np.sin(2 * np.pi * (f * time + wander)) + rng.uniform(-1, 1, 8)[season] * zero_points
                + rng.normal(0, sigma, time.size))
    model = np.sin(2 * np.pi * f * time)
    d_phase = -2 * np.pi * np.cos(2 * np.pi * f * time) / sigma
    d_mean = np.full((time.size, 1), -1 / sigma)
    full = np.column_stack([d_phase * (time - time.mean()), d_phase, d_mean])
    return time, (observed - model) / sigma, d_phase, d_mean, math.sqrt(np.linalg.inv(full.T @ full)[0, 0])


def test_the_period_interval_widens_where_the_phase_wanders_not_where_zero_points_drift():
    """The O-C diagram of the fit (``o_minus_c``) gives the frequency's least-squares
    uncertainty for a strictly periodic star, even with seasons' zero points 0.1 mag apart,
    and a far larger one when the phase wanders by 0.02 cycles, which the residuals' time
    averages (the correlated-noise factor) cannot see; its constant-period probability is
    uniform for strictly periodic stars and vanishes for the wandering one."""
    from pelsvae_core.inference.fit import correlated_noise_factor, o_minus_c

    for zero_points in (0.0, 0.1):
        time, residual, d_phase, d_mean, white = _sine_fit(zero_points=zero_points)
        diagram = o_minus_c(time, residual, d_phase, d_mean)
        assert 0.9 < diagram.frequency_sigma / white < 1.4 and diagram.constant_period_p > 0.01
        assert diagram.seasons == 8 and diagram.seasonal and np.all(np.abs(diagram.shift) < 4 * diagram.error)
    periodic = [o_minus_c(*_sine_fit(seed=seed)[:4]).constant_period_p for seed in range(40)]
    assert 0.25 < np.mean(periodic) < 0.75 and np.mean(np.array(periodic) < 0.1) < 0.3
    time, residual, d_phase, d_mean, white = _sine_fit(phase_wander=0.02)
    diagram = o_minus_c(time, residual, d_phase, d_mean)
    assert diagram.frequency_sigma / white > 5 and diagram.constant_period_p < 1e-6
    # the seasons' shifts follow the wander: 0.02 sin(2 pi t / 300) at each season's mean time
    # (a shift is the phase the season runs ahead of the fit; the season's own spread averages some)
    expected = 0.02 * np.sin(2 * np.pi * diagram.time / 300)
    assert np.corrcoef(diagram.shift, expected)[0, 1] > 0.9
    assert correlated_noise_factor(residual) < 1.5   # the beta factor alone misses it
    few = slice(0, 60)                               # too few points for four chunks
    diagram = o_minus_c(time[few], residual[few], d_phase[few], d_mean[few])
    assert diagram.frequency_sigma == 0.0 and math.isnan(diagram.constant_period_p)
    assert diagram.seasons == 0


def test_class_prior_is_the_kernel_density_averaged_over_the_posterior():
    """The closed form of ``log_class_prior`` against a Monte Carlo average of q(z, log P) /
    g(z) over the posterior, for 40 stars in 3 latent dimensions (q the kernel density of the
    stars, g the class Gaussian): they agree to the Monte Carlo error."""
    from scipy import stats

    from pelsvae_core.inference.reference import CLASS_KERNEL_SCALE, ClassReference

    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 3)) * [1.0, 0.5, 2.0]
    reference = ClassReference("RRLYR", ("V",), z, rng.normal(-0.3, 0.1, 40), np.full(40, np.nan), 3)
    mean, root = np.array([0.4, -0.2, 1.0]), rng.normal(size=(3, 3)) * 0.3
    cov = root @ root.T + 0.05 * np.eye(3)
    log_p, var_log_p = -0.25, 0.02**2
    draws = rng.multivariate_normal(mean, cov, 400_000)
    p_draws = rng.normal(log_p, math.sqrt(var_log_p), draws.shape[0])
    kernel = CLASS_KERNEL_SCALE * reference.prior_cov
    q = np.mean([stats.multivariate_normal(star, kernel).pdf(draws)
                 * stats.norm(star_p, reference.period_bandwidth).pdf(p_draws)
                 for star, star_p in zip(z, reference.log_period)], axis=0)
    g = stats.multivariate_normal(reference.prior_mean, reference.prior_cov).pdf(draws)
    ratio = q / g
    expected = np.log(ratio.mean())
    assert reference.log_class_prior(mean, cov, log_p, var_log_p) == pytest.approx(
        expected, abs=4 * ratio.std() / ratio.mean() / math.sqrt(ratio.size) + 1e-3)


def test_the_teff_kernel_ignores_latents_that_say_nothing_of_teff():
    """Cross-validated on the stars' own Teff: where one latent dimension tracks Teff the
    latent kernel stays finite; where the latents are noise and the period tracks Teff the
    chosen scale is infinite and each star's weight is its period kernel alone."""
    from pelsvae_core.inference.reference import ClassReference

    rng = np.random.default_rng(3)
    teff = rng.uniform(6000, 7500, 200)
    log_p = -0.2 - (teff - 6000) / 5000 + rng.normal(0, 0.01, 200)
    noise = rng.normal(size=(200, 4))
    informative = ClassReference("RRLYR", ("g",), np.c_[(teff - 6750) / 400 + rng.normal(0, 0.05, 200),
                                                        noise[:, 1:]], rng.normal(-0.3, 0.1, 200), teff, 4)
    assert math.isfinite(informative.kernel_scales[0])
    silent = ClassReference("RRLYR", ("RP",), noise, log_p, teff, 4)
    assert math.isinf(silent.kernel_scales[0])
    weights = silent.log_kernel(noise[0] + 5.0, np.full(4, 0.1), float(log_p[0]), 1e-4)
    c_p = silent.kernel_scales[1]
    np.testing.assert_allclose(weights, -0.5 * (log_p - log_p[0]) ** 2
                               / ((c_p * silent.period_bandwidth) ** 2 + 1e-4))


def test_training_stars_of_doubtful_label_are_left_out_of_their_class_s_prior(model):
    """The shipped model trained on Catalina "type II Cepheids" below 1 d, the OGLE-III
    catalogue's limit between RR Lyrae and type II Cepheids: the class's prior leaves them out
    (and says how many), so a short-period RR Lyrae is not drawn towards type II Cepheids."""
    from pelsvae_core.inference.reference import class_reference

    latents = model.latents()
    train = latents[(latents["cls"] == "T2CEP") & (latents["split"] == "train")
                    & (latents["band"] == "V_CSS")]
    below = train.loc[train["period"] < relations.class_period_limits("T2CEP")[0], "star"].nunique()
    reference = class_reference(latents, "T2CEP", ("V_CSS",))
    assert below > 0 and reference.doubtful == below
    assert reference.n_stars == train["star"].nunique() - below
    assert 10 ** reference.log_period.min() >= relations.class_period_limits("T2CEP")[0]


def test_latent_distances_are_the_prior_mahalanobis_distances(model):
    """The cross-validations' pairwise distances, from whitened latents in one matrix product,
    equal (z_j - z_k)^T Sigma^-1 (z_j - z_k) pair by pair on a real reference (the shipped
    model's Gaia G RR Lyrae), zero on the diagonal and symmetric to rounding."""
    from pelsvae_core.inference.reference import references

    reference = references(model).get("RRLYR", ("G",))
    difference = reference.z[:, None, :] - reference.z[None, :, :]
    direct = np.einsum("jki,il,jkl->jk", difference, reference.prior_precision, difference)
    distances = reference._latent_distances
    np.testing.assert_allclose(distances, direct, rtol=1e-9, atol=1e-9 * direct.max())
    assert np.all(np.diag(distances) == 0)
    np.testing.assert_allclose(distances, distances.T, atol=1e-9 * direct.max())


def test_the_subtype_vote_has_its_own_kernels_where_the_latents_tell_the_mode_not_teff():
    """Cepheid-like stars: one latent dimension carries the mode, none carries Teff, which
    follows the period. Cross-validated on Teff the latent kernel is infinite (the latents
    ignored); cross-validated on the subtypes it is finite, so the vote reads the shape."""
    from pelsvae_core.inference.reference import ClassReference

    rng = np.random.default_rng(5)
    n = 200
    mode = np.where(rng.uniform(size=n) < 0.4, "1O", "F")
    log_p = rng.uniform(0.2, 0.6, n)
    teff = 6500 - 1000 * log_p + rng.normal(0, 30, n)
    z = np.c_[np.where(mode == "1O", 1.0, -1.0) + rng.normal(0, 0.3, n), rng.normal(size=(n, 3))]
    reference = ClassReference("CEP", ("I",), z, log_p, teff, 4, mode)
    assert math.isinf(reference.kernel_scales[0])
    assert math.isfinite(reference.subtype_kernel_scales[0])
    star = int(np.flatnonzero(mode == "1O")[0])
    log_w = reference.log_kernel(z[star], np.full(4, 0.01), float(log_p[star]), 1e-4,
                                 reference.subtype_kernel_scales)
    w = np.exp(log_w - log_w.max())
    assert w[mode == "1O"].sum() / w.sum() > 0.9     # the vote names the mode


def test_cepheid_modes_of_real_test_stars_are_told_by_their_training_stars(model):
    """OGLE-III LMC Cepheids the model never trained on, three fundamental-mode and three
    first-overtone, read from the survey's own files: each mode is named by the vote of the
    training Cepheids nearest in latent space and period, and named with confidence."""
    from pelsvae_core import paths
    from pelsvae_core.evaluation.inference import read_stars

    stars = read_stars(model, paths.data_root(), 30, 0, groups=("OGLE CEP I",))["test"]["OGLE CEP I"]
    # first overtones under a day are RR Lyrae (RRc) lookalikes in one band without a distance
    chosen = ([s for s in stars if s.subtype == "F"][:3]
              + [s for s in stars if s.subtype == "1O" and s.period > 1.0][:3])
    assert len(chosen) == 6
    right = 0
    for star in chosen:
        result = infer(model, star.time, star.mag, star.err, band="I")
        assert result["class"] == "CEP" and set(result["subtype_probabilities"]) >= {"F", "1O"}
        right += result["subtype"] == star.subtype and result["subtype_probabilities"][star.subtype] > 0.8
    assert right >= 5


def test_a_sparse_curve_encodes_with_the_uncertainty_of_its_few_points(model):
    """Twelve OGLE-III LMC Cepheids the model never trained on, each encoded from its whole
    curve and from 30 of its own epochs: the sparse latent variance is far larger, and the
    whole curve's latent vector lies where it says (chi^2 per dimension near 1; with the
    encoder's own variance alone, which does not know how few points it read, ~30,000)."""
    from pelsvae_core import paths
    from pelsvae_core.evaluation.inference import read_stars
    from pelsvae_core.inference.encoding import encode
    from pelsvae_core.inference.observed import prepare

    stars = read_stars(model, paths.data_root(), 12, 0, groups=("OGLE CEP I",))["test"]["OGLE CEP I"]
    observed = lambda t, m, e: prepare(t, m, e, "I", model.decoder.bands, model.decoder.default_band)
    chi2, widening = [], []
    for k, star in enumerate(stars[:12]):
        whole, whole_var = encode(model, observed(star.time, star.mag, star.err), "CEP", star.period)
        pick = np.sort(np.random.default_rng(k).choice(star.time.size, 30, replace=False))
        mu, var = encode(model, observed(star.time[pick], star.mag[pick], star.err[pick]), "CEP",
                         star.period)
        chi2.append(np.mean((mu - whole) ** 2 / var))
        widening.append(np.median(var / whole_var))
    assert len(chi2) == 12
    assert 0.3 < np.median(chi2) < 3, chi2
    assert np.median(widening) > 10, widening


def test_a_phase_that_wanders_widens_the_period_interval_and_says_so(model):
    """An RR Lyrae of 0.55 d observed 400 times over eight seasons, its phase wandering by
    0.03 cycles over 500 days (a Blazhko-like modulation): the O-C diagram widens the period's
    interval and a warning names it; the same star strictly periodic gets neither."""
    rng = np.random.default_rng(3)
    season = np.repeat(np.arange(8), 50)
    time = np.sort(season * 365.25 + rng.uniform(0, 200, season.size))
    period = 0.55
    widths, warned = [], []
    for wander in (0.0, 0.03):
        shifted = time + wander * period * np.sin(2 * np.pi * time / 500)
        _, mag, err = generated(model, times=shifted, seed=1, teff=6500.0, abs_mag=0.6, period=period)
        result = infer(model, time, mag, err, band="g")
        interval = result["period_interval"]
        widths.append(interval["p84"] - interval["p16"])
        warned.append(next((w for w in result["warnings"] if "phase wanders" in w), None))
        assert is_recovered(result["period"], period)
    assert warned[0] is None and warned[1] is not None
    assert float(re.search(r"O-C diagram with p = ([0-9.e+-]+),", warned[1]).group(1)) < 0.01
    assert widths[1] > 2 * widths[0]


def test_the_halves_of_a_real_curve_are_compared_in_units_of_their_intervals(model):
    """The report's catalogue-free check of the period intervals on real OGLE-III Cepheids:
    each star's two halves give a finite |z|; a star whose second half is made to run slow
    (its phase drifting by a tenth of a cycle over the half) is told apart by far more than its
    intervals allow; halves that do not find the catalogue period count as none. The star's
    periodic twin keeps its times and carries noise of its errors and the fit's jitter, and its
    whole curve's interval is checked against the period it was made with."""
    import dataclasses

    from pelsvae_core import paths
    from pelsvae_core.evaluation.inference import halves_z, periodic_twin, read_stars, twin_covered

    stars = read_stars(model, paths.data_root(), 3, 0, groups=("OGLE CEP I",))["test"]["OGLE CEP I"]
    z = [halves_z(model, star) for star in stars]
    assert all(value is not None and 0 <= value < 30 for value in z), z
    star = stars[0]
    second = star.time > np.median(star.time)
    drift = 0.1 / (np.ptp(star.time[second]) / star.period) * star.period  # 0.1 cycle over the half
    stretched = star.time.copy()
    stretched[second] = star.time[second][0] + (star.time[second] - star.time[second][0]) * (1 + drift / star.period)
    assert halves_z(model, dataclasses.replace(star, time=stretched)) > 5 * max(z[0], 1)
    assert halves_z(model, dataclasses.replace(star, period=star.period * 1.5)) is None
    # the periodic twin: the whole curve's best fit at the same times, noise of its errors
    found = analyse(model, star.time, star.mag, star.err, band=star.band)
    twin = periodic_twin(found, star, np.random.default_rng(0))
    assert np.array_equal(twin.time, star.time) and not np.array_equal(twin.mag, star.mag)
    residual = twin.mag - found.curve(star.time, "I")
    assert 0.7 < np.std(residual / np.hypot(star.err, found.best.jitter[0])) < 1.3
    assert halves_z(model, twin) is not None
    # the twin's whole curve against the period it was made with: a period 1 % off is outside
    covered, constant_p = twin_covered(model, twin, found.best.period)  # not refused
    assert 0 <= constant_p <= 1        # the twin's own O-C verdict: a strictly periodic star
    assert twin_covered(model, twin, found.best.period * 1.01)[0] is False


def test_a_latent_table_without_subtypes_gives_a_null_subtype_with_the_reason(model):
    """Model folders written before the latent table kept subtypes still infer; the subtype of
    a Cepheid is then null, and the warning says why."""
    old = load_model()  # its own reference cache
    table = old.latents().drop(columns="subtype")
    old.latents = lambda: table
    time, mag, err = generated(model, cls="CEP", band="I", abs_mag=-3.5, period=5.2)
    result = infer(old, time, mag, err, band="I")
    assert result["class"] == "CEP" and result["subtype"] is None and result["subtype_probabilities"] is None
    assert any("name no subtypes" in w for w in result["warnings"])


def test_teff_posterior_keeps_a_prior_share(model):
    """Every training star keeps at least TEFF_PRIOR_WEIGHT / n of the Teff posterior (the
    defensive mixture chosen on the validation split), so a curve the latent fit places wrongly
    keeps some weight across the class's whole Teff range."""
    from pelsvae_core.inference.inverse import TEFF_PRIOR_WEIGHT

    time, mag, err = generated(model, seed=3, teff=6400, abs_mag=0.6, period=0.58)
    found = analyse(model, time, mag, err, band="g")
    values, width, weights = found.teff_samples
    assert weights.sum() == pytest.approx(1.0)
    assert weights.min() >= TEFF_PRIOR_WEIGHT / weights.size * (1 - 1e-9)
    assert 0 < TEFF_PRIOR_WEIGHT < 0.5 and weights.max() > 2 * weights.min()   # still informed
    # whatever the fit says, each outer sixth of the class's Teff range keeps its share of the prior
    sixths = np.percentile(values, [100 / 6, 500 / 6])
    assert weights[values <= sixths[0]].sum() >= TEFF_PRIOR_WEIGHT / 6 * (1 - 1e-9)
    assert weights[values >= sixths[1]].sum() >= TEFF_PRIOR_WEIGHT / 6 * (1 - 1e-9)


def test_class_probabilities_keep_a_prior_share(model):
    """Every class inference considered keeps CLASS_PRIOR_WEIGHT / K of the probability (a
    misfit never makes the true class impossible); the classes it could not consider keep 0."""
    from pelsvae_core.inference.inverse import CLASS_PRIOR_WEIGHT
    from pelsvae_core.inference.reference import references

    time, mag, err = generated(model, cls="CEP", band="I", seed=2, abs_mag=-3.0, period=5.0)
    result = infer(model, time, mag, err, band="I")
    p = result["class_probabilities"]
    considered = references(model).classes_for(("I",))[0]
    assert len(considered) >= 2 and sum(p.values()) == pytest.approx(1.0)
    assert all(p[c] >= CLASS_PRIOR_WEIGHT / len(considered) * (1 - 1e-9) for c in considered)
    assert all(p[c] == 0 for c in p if c not in considered)
    assert result["class"] == "CEP" and p["CEP"] > 0.9


def test_the_inference_reference_is_encoded_as_an_observed_curve_is(small_model, subset_root,
                                                                     subset_cache):
    """The latent table keeps each real curve's means twice: told its Teff and M (``z``) and
    with them hidden (``h``), as an observed curve is encoded; the inverse problem's reference
    takes the hidden ones, and a table written before them keeps the told ones."""
    import dataclasses

    from pelsvae_core import pipeline
    from pelsvae_core.inference.reference import class_reference
    from pelsvae_core.latents import HIDDEN_PREFIX, latent_columns

    latents = small_model.latents()
    told, hidden = latent_columns(latents), latent_columns(latents, HIDDEN_PREFIX)
    assert len(told) == len(hidden) == small_model.decoder.config.latent_dim
    data = pipeline.model_training_set(small_model, subset_root, subset_cache.directory, progress=False)
    real = data.subset(~data.augmented)
    row_of = pd.Series(np.arange(len(real)), index=pd.MultiIndex.from_arrays(
        [real.star_key, np.array(real.bands)[real.band]]))
    real = real.subset(row_of.loc[list(zip(latents["star"], latents["band"]))].to_numpy())  # table order
    masked = dataclasses.replace(real, teff=np.full_like(real.teff, np.nan),
                                 abs_mag=np.full_like(real.abs_mag, np.nan))
    train = real.split == "train"
    np.testing.assert_allclose(latents[hidden].to_numpy()[train], small_model.encode(masked)[0][train],
                               atol=1e-5)
    assert latents.loc[~train, hidden].isna().all().all()     # only the reference is kept twice
    known = np.isfinite(real.teff) & train
    assert np.abs(latents[told].to_numpy()[known] - latents[hidden].to_numpy()[known]).max() > 1e-3
    row = latents[(latents["split"] == "train") & latents["teff"].notna()].iloc[0]
    reference = class_reference(latents, row["cls"], (row["band"],))
    assert any(np.allclose(z, row[hidden].to_numpy(float)) for z in reference.z)
    before = class_reference(latents.drop(columns=hidden), row["cls"], (row["band"],))
    assert any(np.allclose(z, row[told].to_numpy(float)) for z in before.z)
    assert not any(np.allclose(z, row[told].to_numpy(float)) for z in reference.z)


def test_a_curve_that_says_little_gets_a_period_interval_wider_than_its_laplace_width(model):
    """The period widths' calibration on simulated twins: a 60-point RR Lyrae at a quoted error
    of 0.15 mag (Q ~ 5) gets an interval about 1.4 times the fit's own Gaussian width, the same
    star at 0.005 mag keeps its own; the scale never narrows."""
    from pelsvae_core.inference import analyse, posterior
    assert posterior.period_width_scale(posterior.PERIOD_WIDTH_REFERENCE * 10) == 1.0
    assert posterior.period_width_scale(5.0) > posterior.period_width_scale(20.0) > 1.0
    time, clean, _ = generated(model, seed=2, noise=False, teff=6500.0, abs_mag=0.6, period=0.55)
    scales = []
    for sigma in (0.15, 0.005):
        err = np.full(time.size, sigma)
        mag = clean + np.random.default_rng(4).normal(0, sigma, time.size)
        found = analyse(model, time, mag, err, band="g")
        assert is_recovered(found.result["period"], 0.55)
        main = found.best.bands.index("g")
        quality = posterior.fit_quality(found.best, main, sigma, time.size)
        scale = posterior.period_width_scale(quality)
        laplace = posterior.period_interval(found.fits, found.weights, np.ones(len(found.fits)))
        interval = found.result["period_interval"]
        ratio = (interval["p84"] - interval["p16"]) / (laplace["p84"] - laplace["p16"])
        assert ratio == pytest.approx(scale, rel=0.05)  # one fit dominates the mixture
        scales.append(scale)
    assert scales[0] > 1.3 and scales[1] == 1.0, scales
