"""Intrinsic colours: the mean magnitude of a star in each band from its absolute G, checked
against the real survey files, published relations and physics a student can see."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import load_model
from pelsvae_core.cli import build_parser
from pelsvae_core.data import calibration as cal
from pelsvae_core.data import relations
from pelsvae_core.data.sdss import read_table3
from pelsvae_core.data.sources import sha256_of

RELATIONS = relations.read_relations()


def test_the_shipped_relations_match_a_rebuild_from_the_survey_data(data_root, tmp_path):
    rebuilt = relations.build_relations(data_root)
    assert rebuilt == RELATIONS
    for source, recorded in rebuilt["sources"].items():
        assert recorded["sha256"] == sha256_of(data_root / source)
    # the CLI's --check agrees, and names the way to rebuild when they differ
    args = build_parser().parse_args(["data", "relations", "--data-root", str(data_root), "--check"])
    assert args.func(args) == 0
    changed = json.loads(relations.TABLE.read_text())
    changed["sdss"]["g"]["slope"] += 0.1
    (tmp_path / "relations.json").write_text(json.dumps(changed))
    args = build_parser().parse_args(["data", "relations", "--data-root", str(data_root), "--check",
                                      "--out", str(tmp_path / "relations.json")])
    assert args.func(args) == 1


def test_teff_gives_back_the_colour_it_was_derived_from():
    teff = np.linspace(5100, 7800, 28)
    vi0 = cal.vi0_from_teff(teff)
    assert vi0.ok.all() and np.all(np.diff(vi0.value) < 0)      # hotter is bluer
    again = cal.teff_from_vi0(cal.Calibrated(vi0.value, 0.0, "test"))
    assert np.allclose(again.value, teff, atol=2.0)
    assert np.all((vi0.sigma > 0.03) & (vi0.sigma < 0.06))       # 80 K and Riello's 0.03 mag
    refused = cal.vi0_from_teff([3500.0, 12000.0])
    assert not refused.ok.any() and "Teff outside" in refused.reason[0]


def test_gaia_bands_agree_with_the_independent_bp_rp_polynomial():
    """BP - G and RP - G come from two Riello et al. (2021) polynomials transcribed here; their
    difference must be the BP - RP polynomial transcribed separately in :mod:`calibration`."""
    vi = cal.Calibrated(np.linspace(-0.3, 4.9, 27), 0.0, "test")
    bp, rp = (relations.band_minus_g(RELATIONS, band, vi) for band in ("BP", "RP"))
    assert np.allclose(bp.value - rp.value, cal.bp_rp_from_vi(vi).value, atol=1e-3)
    v, i = (relations.band_minus_g(RELATIONS, band, vi) for band in ("V", "I"))
    assert np.allclose(v.value - i.value, vi.value)
    assert np.allclose(relations.band_minus_g(RELATIONS, "V_CSS", vi).value, v.value)
    assert np.all(relations.band_minus_g(RELATIONS, "G", vi).value == 0)
    with pytest.raises(ValueError, match="no colour relation for band 'y'"):
        relations.band_minus_g(RELATIONS, "y", vi)


def test_class_period_limits_are_where_the_catalogue_s_classes_meet(data_root):
    """In the OGLE-III catalogue RR Lyrae end below 1 d where type II Cepheids begin; a survey's
    type II Cepheid at 0.53 d, RR Lyrae at 1.3 d or anomalous Cepheid at 14.5 d is doubtful,
    while ends that are only the catalogue's sample (the longest type II Cepheid, 84.8 d; any
    Cepheid or eclipsing binary) limit nothing."""
    rr_lo, rr_hi = relations.class_period_limits("RRLYR")
    t2_lo, t2_hi = relations.class_period_limits("T2CEP")
    assert 0.20 < rr_lo < 0.21 and rr_hi < 1.0 < t2_lo < 1.01 and math.isinf(t2_hi)
    assert relations.class_period_limits("CEP") == (0.0, math.inf)
    flags = relations.outside_class_periods(["T2CEP", "T2CEP", "T2CEP", "RRLYR", "RRLYR", "ACEP", "ECL"],
                                            [0.53, 1.2, 120.0, 1.3, 0.55, 14.5, 185.0])
    assert flags.tolist() == [True, False, False, True, False, True, False]
    assert relations.class_period_note("T2CEP") == "T2CEP ≥ 1.003 d (603 stars)"
    # the Catalina survey's own labels: a few of its type II Cepheids lie below the limit
    from pelsvae_core.data.surveys import SURVEYS, DataRoot
    catalina = next(s for s in SURVEYS if s.key == "catalina_sss")
    t2 = pd.Series({lc.star_id: lc.period for lc in catalina.read(DataRoot(data_root))
                    if lc.cls == "T2CEP"})
    doubtful = relations.outside_class_periods("T2CEP", t2.to_numpy())
    assert 0 < doubtful.sum() < 0.1 * len(t2) and t2[doubtful].max() < 1.0


def test_cepheid_period_colour_relation_agrees_with_sandage_tammann_reindl():
    """LMC fundamental-mode Cepheids: (V-I)_0 = 0.256 log P + 0.497 (Sandage, Tammann & Reindl
    2004, A&A 424, 43, below 10 d), measured independently with per-star reddenings."""
    log_p = np.array([0.3, 0.5, 0.75, 1.0])
    found = relations.period_colour("CEP", log_p, "F")
    assert found.ok.all()
    assert np.allclose(found.value, 0.256 * log_p + 0.497, atol=0.04)
    # first overtones are bluer than fundamental-mode stars of the same period
    overtone = relations.period_colour("CEP", [0.3, 0.5], "1O")
    assert np.all(overtone.value < found.value[:2])


def test_classes_have_the_colours_of_their_stars():
    pc = RELATIONS["period"]
    rr = relations.intrinsic_vi0("RRLYR", [-0.3]).value[0]
    lpv = relations.intrinsic_vi0("LPV", [2.3]).value[0]
    cep = relations.intrinsic_vi0("CEP", [np.log10(30.0)]).value[0]
    assert 0.35 < rr < 0.6 and lpv > 1.3 and cep > 0.7     # RR Lyrae blue, Miras red
    assert sum(pc["CEP"]["all"]["n"]) > 3000 and sum(pc["LPV"]["all"]["n"]) > 50000
    # the counts add up: every OGLE-III LMC Cepheid is used or counted as not used
    assert sum(pc["CEP"]["all"]["n"]) + pc["CEP"]["all"]["n_in_sparse_bins"] + RELATIONS[
        "period_not_used"]["CEP"]["no V or I mean magnitude or no period"] == 3375
    # no relation, no colour: refused with the reason, never a silent zero
    ecl = relations.intrinsic_colour("ECL", "V", [-0.4])
    assert not ecl.ok.any() and "no period relation for ECL" in ecl.reason[0]
    far = relations.intrinsic_vi0("CEP", [3.0])
    assert not far.ok.any() and "beyond the OGLE-III LMC CEP stars" in far.reason[0]


def test_sdss_colours_of_rr_lyrae_match_stripe_82(data_root):
    """Each Stripe 82 RR Lyrae's own dereddened g - r and u - g against those predicted from its
    calibrated Teff: the chain Teff -> (V-I)_0 -> (X-G)_0 returns its photometry."""
    table3 = read_table3(data_root / "sdss_s82_rrlyrae")
    g0, r0, i0, u0 = (table3[f"{b}F"].to_numpy(float) for b in ("g", "r", "i", "u"))
    teff = cal.stripe82_rr_lyrae_parameters(g0, r0, i0, table3["rExt"].to_numpy(float),
                                            table3["d"].to_numpy(float)).teff
    ok = teff.ok & (u0 < 90)
    predicted = {b: relations.intrinsic_colour("RRLYR", b, np.zeros(ok.sum()), teff.value[ok])
                 for b in ("u", "g", "r")}
    gr = predicted["g"].value - predicted["r"].value
    ug = predicted["u"].value - predicted["g"].value
    assert np.nanmedian(np.abs(gr - (g0 - r0)[ok])) < 0.02
    assert np.nanmedian(np.abs(ug - (u0 - g0)[ok])) < 0.06    # u - g also carries [Fe/H]
    assert 1.0 < np.nanmedian(ug) < 1.3                        # RR Lyrae's Balmer-jump u - g


def test_generated_curves_have_the_colours_of_their_class():
    model = load_model("models/default")
    period = 10.0
    v, i = (model.draw("CEP", abs_mag=-4.0, period=period, band=band, n_samples=4, seed=1,
                       subtype="F") for band in ("V", "I"))
    vi0 = v.mean_abs_mag - i.mean_abs_mag
    expected = relations.period_colour("CEP", 1.0, "F").value[0]
    assert np.allclose(vi0, expected) and 0.65 < expected < 0.85
    table = model.generate("CEP", abs_mag=-4.0, period=period, band="I", n_samples=2,
                           phases=np.linspace(0, 1, 50, endpoint=False), subtype="F")
    assert np.allclose(table.groupby("sample")["mag"].mean() - table.groupby("sample")["colour"].first(),
                       -4.0, atol=0.05)      # the curve is centred on M_G + (I - G)_0
    # a Cepheid's model responds to Teff: without one given, its Teff follows the period-colour
    # relation (as M the period-luminosity one) and the colour is that Teff's, the same colour
    assert table["teff_source"].str.startswith("period-colour relation").all()
    assert table["colour_source"].str.contains("from Teff").all()
    hot = model.draw("CEP", teff=6200.0, abs_mag=-4.0, period=period, band="V", n_samples=2, seed=1)
    assert hot.teff_source == "given" and hot.colour[0] < v.colour[0]   # hotter is bluer
    assert hot.colour[0] == pytest.approx(relations.band_minus_g(
        relations.read_relations(), "V", cal.vi0_from_teff([6200.0], cal.teff_scale("CEP"))).value[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ecl = model.draw("ECL", period=0.4, band="V_CSS", n_samples=2)
    assert any("no intrinsic V_CSS - G colour for this ECL" in str(w.message) for w in caught)
    assert (ecl.colour == 0).all() and all(s.startswith("none: ") for s in ecl.colour_source)
    rr = model.draw("RRLYR", teff=6500.0, abs_mag=0.6, period=0.55, band="u", n_samples=2)
    assert np.allclose(rr.colour, relations.intrinsic_colour("RRLYR", "u", math.log10(0.55), 6500.0).value)
    assert 1.0 < rr.colour[0] < 1.6       # an RR Lyrae is much fainter in u than in G


def test_period_luminosity_relations_are_physical_and_replace_dr2_parallaxes():
    model = load_model("models/default")
    # F-mode Cepheids: the Leavitt law of the model's own LMC training stars (M_G from the same
    # chain, fitted here as a clipped line) at every period they span
    stars = model.latents()
    cep = stars[(stars["cls"] == "CEP") & (stars["split"] == "train") & (stars["subtype"] == "F")]
    cep = cep.drop_duplicates("star").dropna(subset=["abs_mag"])
    slope, intercept, _, _ = cal.clipped_line(np.log10(cep["period"]), cep["abs_mag"])
    log_p = np.linspace(0.2, 1.3, 12)
    found = relations.period_luminosity("CEP", log_p, "F")
    assert found.ok.all() and np.allclose(found.value, intercept + slope * log_p, atol=0.15)
    assert -3.2 < slope < -2.5                                  # Leavitt slope in G
    # other classes at their typical periods, where the DR2-parallax cross-match was wildly off
    # (anomalous Cepheids at M_G +4.6 at 1 d): ACEP about -1 (Fiorentino & Monelli 2012 give
    # M_V -0.5 to -1.5 near 1 d), type II Cepheids at 10 d about -2 (W Vir), RR Lyrae +0.6
    assert -1.5 < relations.period_luminosity("ACEP", 0.0).value[0] < -0.3
    assert -2.6 < relations.period_luminosity("T2CEP", 1.0).value[0] < -1.2
    assert 0.3 < relations.period_luminosity("RRLYR", -0.27).value[0] < 0.9
    assert model.references["ACEP"].abs_mag(1.0) > 4     # what it replaces
    mean, source = model.physics.period_luminosity("ACEP", 1.0)
    assert mean == pytest.approx(relations.period_luminosity("ACEP", 0.0).value[0])
    assert source.startswith("period-luminosity, OGLE-III LMC ACEP")
    # no calibrated relation for eclipsing binaries: the cross-match's, labelled as such
    assert "paper convention" in model.physics.period_luminosity("ECL", 0.4)[1]
    # a Cepheid generated from its period alone follows the Leavitt law, not the class median
    short, long_ = (model.draw("CEP", period=p, n_samples=1, subtype="F") for p in (3.0, 30.0))
    assert long_.abs_mag < short.abs_mag - 2.5
    assert long_.request.values["abs_mag"] == long_.abs_mag   # the density is told that M_G


def test_simulated_populations_take_calibrated_luminosities(tmp_path):
    from pelsvae_core.simulate.run import simulate

    model = load_model("models/default")
    out = tmp_path / "t2"
    simulate(model, out=out, n=200, classes="T2CEP", cadence={"name": "ztf", "nights": 30},
             shard_size=100, workers=0, progress=False, seed=3)
    stars = pd.read_parquet(out / "shards")
    expected = relations.period_luminosity("T2CEP", np.log10(stars["period"]))
    lmc = stars["abs_mag_source"] == "period-luminosity, OGLE-III LMC"
    # beyond the LMC stars' periods (RV Tau stars of 80-100 d) the cross-match's line, so labelled
    assert lmc.mean() > 0.9 and (lmc == expected.ok).all()
    assert stars.loc[~lmc, "abs_mag_source"].str.contains("paper convention").all()
    stars, expected = stars[lmc], expected[lmc.to_numpy()]
    pulls = (stars["abs_mag"] - expected.value) / expected.sigma
    assert abs(np.median(pulls)) < 0.3 and 0.7 < np.std(pulls) < 1.3   # the relation and its scatter
    # each star's colour drawn about its period-colour relation, its V_CSS - G from it
    colour = np.array([row[0]["colour"] for row in stars["bands"]])
    vi0 = cal.Calibrated(stars["vi0"].to_numpy(), 0.0, "test")
    assert np.allclose(colour, relations.band_minus_g(RELATIONS, "V_CSS", vi0).value)
    expected_vi0 = relations.period_colour("T2CEP", np.log10(stars["period"]))
    pulls = (stars["vi0"] - expected_vi0.value) / expected_vi0.sigma
    assert abs(np.median(pulls)) < 0.3 and 0.7 < np.std(pulls) < 1.3
