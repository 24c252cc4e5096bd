"""Every reader on the real survey files, from archives and from plain folders."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from pelsvae_core.data import calibration, catalina, crts, ogle, sdss, sdss_physics
from pelsvae_core.data.catalogues import read_gaia_xmatch, read_ogle3_catalogue
from pelsvae_core.data.records import CLASSES, OTHER
from pelsvae_core.data.subtypes import SUBTYPES, UNKNOWN
from pelsvae_core.data.surveys import DataRoot


def assert_in_vocabulary(curves):
    """Every subtype is one of its class's vocabulary or "unknown"; Blazhko only on RR Lyrae."""
    for c in curves:
        assert c.subtype in SUBTYPES.get(c.cls, ()) + (UNKNOWN,), (c.cls, c.subtype, c.subtype_label)
        assert not c.blazhko or c.cls == "RRLYR"


def by_key(curves):
    return {(c.star_id, c.band): c for c in curves}


def assert_same_curves(a, b):
    assert a.keys() == b.keys() and a
    for key in a:
        x, y = a[key], b[key]
        assert (x.cls, x.subtype, x.period) == (y.cls, y.subtype, y.period) or np.isnan(x.period)
        np.testing.assert_array_equal(x.time, y.time)
        np.testing.assert_array_equal(x.mag, y.mag)
        np.testing.assert_array_equal(x.err, y.err)


def test_catalina_catalogue(data_root):
    table = catalina.read_catalogue(data_root / "catalina_sss")
    assert len(table) == 37745
    counts = table["type_code"].value_counts()
    assert counts[5] == 18803 and counts[1] == 4325 and counts[12] == 153
    # names with spaces survive in the last column
    assert (table["other_name"] == "TZ Scl").sum() == 1


def test_catalina_archive_matches_folder(data_root, subset_root):
    from_folder = by_key(catalina.read_sss(subset_root / "catalina_sss"))
    wanted = {key[0] for key in from_folder}
    from_archive = by_key(c for c in catalina.read_sss(data_root / "catalina_sss")
                          if c.star_id in wanted)
    assert_same_curves(from_folder, from_archive)
    sample = next(iter(from_folder.values()))
    assert sample.survey == "Catalina SSS" and sample.band == "V_CSS"
    assert sample.period_source == "Catalina SSS catalogue"


def test_catalina_type_codes_map_to_paper_classes(subset_root):
    classes = Counter(c.cls for c in catalina.read_sss(subset_root / "catalina_sss"))
    assert set(classes) <= set(CLASSES) | {OTHER}
    assert classes["ECL"] > classes["RRLYR"] > 0


def test_catalina_subtypes_in_the_vocabulary(subset_root):
    curves = list(catalina.read_sss(subset_root / "catalina_sss"))
    assert_in_vocabulary(curves)
    # Drake et al. 2017 type codes (Table 2): modes and eclipsing types kept; code 4 is a
    # Blazhko flag on an RR Lyrae of unstated mode; bare "DSCT", "LPV", ... name no subtype
    expected = {"RRab": ("RRab", False), "RRc": ("RRc", False), "RRd": ("RRd", False),
                "Blazhko": (UNKNOWN, True), "EW": ("EW", False), "EA": ("EA", False),
                "rotational": (UNKNOWN, False), "LPV": (UNKNOWN, False), "DSCT": (UNKNOWN, False),
                "ACEP": (UNKNOWN, False), "T2CEP": (UNKNOWN, False)}
    seen = Counter((c.subtype_label, c.subtype, c.blazhko) for c in curves if not c.read_problem)
    assert {label: (sub, flag) for label, sub, flag in seen} == \
        {label: expected[label] for label, _, _ in seen}
    assert {"RRab", "EW", "EA"} <= {label for label, _, _ in seen}


def test_crts_class_from_file_name_and_no_period(subset_root):
    curves = list(crts.read_crts(subset_root / "crts_csdr1"))
    assert len(curves) == 150
    labels = Counter(c.subtype_label for c in curves)
    assert set(labels) <= set(crts.LABELS)
    for c in curves:
        assert c.cls == crts.LABELS[c.subtype_label]
        assert np.isnan(c.period) and c.n_obs > 0
        assert np.all(c.err > 0)


def test_crts_archive_count(data_root):
    curves = list(crts.read_crts(data_root / "crts_csdr1"))
    labels = Counter(c.subtype_label for c in curves)
    assert sum(labels.values()) == 5757
    assert labels["RRab"] == 994 and labels["ELL"] == 71 and labels["RS_CVn"] == 757
    assert_in_vocabulary(curves)
    subtypes = Counter((c.cls, c.subtype, c.blazhko) for c in curves)
    # beta_lyrae is the GCVS EB type; Blazhko a flag; Cep_II, ELL, RS_CVn name no subtype
    assert subtypes[("ECL", "EB", False)] == labels["beta_lyrae"] == 139
    assert subtypes[("RRLYR", UNKNOWN, True)] == labels["Blazhko"] == 36
    assert subtypes[("DSCT", "HADS", False)] == 121 and subtypes[("DSCT", "LADS", False)] == 3
    assert subtypes[("T2CEP", UNKNOWN, False)] == labels["Cep_II"]


def test_ogle_cepheids_with_calibrated_and_paper_parameters(data_root):
    root = DataRoot(data_root)
    curves = list(ogle.read_ogle_cep(data_root / "ogle3_lmc_cep", root.ogle3_catalogue,
                                     root.gaia_xmatch))
    bands = Counter(c.band for c in curves)
    assert bands == {"I": 3344, "V": 3353}
    i_band = [c for c in curves if c.band == "I" and not c.read_problem]
    # calibrated: M_G from the catalogue's mean V, I at the LMC distance; Teff from (V-I)_0
    calibrated = [c for c in i_band if c.params.has_abs_mag]
    assert len(calibrated) > 3300
    assert all("Pietrzynski et al. 2019" in c.params.abs_mag_source and c.params.abs_mag_sigma > 0.026
               for c in calibrated)
    assert -5.0 < np.median([c.params.abs_mag for c in calibrated]) < -2.0  # luminous supergiants
    assert sum(c.params.has_teff for c in i_band) > 3250
    assert all("Romaniello et al. 2022" in c.params.teff_source and c.params.teff_sigma > 150
               for c in i_band if c.params.has_teff)
    # the paper's Gaia DR2 values kept beside them, named as its convention
    paper = [c for c in i_band if np.isfinite(c.params.teff_paper) and np.isfinite(c.params.abs_mag_paper)]
    assert len(paper) > 1100
    assert all(c.params.teff_paper_source == calibration.PAPER_CONVENTION_TEFF for c in paper)
    assert all(3000 < c.params.teff_paper < 10000 for c in paper)
    assert np.median([c.params.abs_mag_paper for c in paper]) > 0  # the paper's M_G: too faint
    assert sum(c.period_source == "OGLE-III catalogue P_1" for c in i_band) > 3000
    assert_in_vocabulary(curves)
    modes = Counter((c.subtype_label, c.subtype) for c in i_band)
    assert modes[("F", "F")] > 1500 and modes[("1O", "1O")] > 1000
    assert modes[("F/1O", "multi-mode")] > 50 and modes[("1O/2O/3O", "multi-mode")] > 0
    assert all(c.physical_star == c.star_id for c in curves)  # the OGLE ID names the star


def test_lmc_cepheid_teff_follows_the_instability_strip(data_root):
    """The Cepheids' Teff (:data:`calibration.CEPHEID_TEFF_SCALE`) on the real stars: F-mode
    Cepheids cool as their period grows (the period-colour relation, Sandage, Tammann & Reindl
    2004), first overtones are hotter than F-mode stars of the same period, and the Gaia DR2
    teff_val of the cross-match, which ignores the LMC's reddening, lies below it."""
    root = DataRoot(data_root)
    curves = [c for c in ogle.read_ogle_cep(data_root / "ogle3_lmc_cep", root.ogle3_catalogue,
                                            root.gaia_xmatch)
              if c.band == "I" and not c.read_problem and c.params.has_teff]
    table = pd.DataFrame({"teff": [c.params.teff for c in curves],
                          "log_p": [np.log10(c.period) for c in curves],
                          "mode": [c.subtype_label for c in curves],
                          "dr2": [c.params.teff_paper for c in curves]})
    low, high = calibration.CEPHEID_TEFF_RANGE
    assert table["teff"].between(low, high).all() and 5400 < table["teff"].median() < 6200
    f_mode = table[table["mode"] == "F"]
    assert spearmanr(f_mode["log_p"], f_mode["teff"]).statistic < -0.35  # the strip is wide
    binned = f_mode.groupby(pd.cut(f_mode["log_p"], [0.0, 0.3, 0.6, 0.9, 1.2]), observed=True)
    assert np.all(np.diff(binned["teff"].median().to_numpy()) < 0)          # 3 bins cooler each
    overlap = table[table["log_p"].between(0.0, 0.5)]
    by_mode = overlap.groupby("mode")["teff"].median()
    assert by_mode["1O"] > by_mode["F"] + 100
    paper = table.dropna(subset=["dr2"])
    assert len(paper) > 1000
    assert 0 < (paper["teff"] - paper["dr2"]).median() < 400
    assert spearmanr(paper["teff"], paper["dr2"]).statistic > 0.6


def test_lmc_cepheid_absolute_magnitude_by_hand(data_root):
    """One real star's M_G from its catalogue V, I: Skowron et al. 2021 E(V-I) = 0.100,
    A_V = 2.55 E(V-I), mu0 = 18.477 (Pietrzynski et al. 2019), G - V of Riello et al. 2021."""
    root = DataRoot(data_root)
    star = "OGLE-LMC-CEP-0002"
    curve = next(c for c in ogle.read_ogle_cep(data_root / "ogle3_lmc_cep", root.ogle3_catalogue,
                                               root.gaia_xmatch) if c.star_id == star)
    v, i = root.ogle3_catalogue.loc[star, ["V", "I"]]
    vi0 = v - i - 0.100
    g_minus_v = (-0.01597 - 0.02809 * vi0 - 0.2483 * vi0 ** 2 + 0.03656 * vi0 ** 3
                 - 0.002939 * vi0 ** 4)
    assert curve.params.abs_mag == pytest.approx(v - 2.55 * 0.100 + g_minus_v - 18.477, abs=1e-9)
    assert curve.params.abs_mag_band == "G"


def test_ogle_folder_matches_archive(data_root, subset_root):
    root = DataRoot(data_root)
    read = lambda folder: by_key(ogle.read_ogle_cep(folder, root.ogle3_catalogue, root.gaia_xmatch))
    from_folder = read(subset_root / "ogle3_lmc_cep")
    from_archive = {k: v for k, v in read(data_root / "ogle3_lmc_cep").items() if k in from_folder}
    assert_same_curves(from_folder, from_archive)


def test_stripe82_five_bands_and_temperature_ordering(data_root):
    curves = list(sdss.read_stripe82(data_root / "sdss_s82_rrlyrae"))
    assert Counter(c.band for c in curves) == {b: 483 for b in sdss.BANDS}
    assert_in_vocabulary(curves)
    assert Counter((c.subtype_label, c.subtype) for c in curves if c.band == "g") == \
        {("ab", "RRab"): 379, ("c", "RRc"): 104}
    g = [c for c in curves if c.band == "g"]
    assert sum(c.params.has_teff for c in g) > 0.95 * len(g)
    teff = {sub: np.nanmedian([c.params.teff for c in g if c.subtype == sub]) for sub in ("RRab", "RRc")}
    # physics: fundamental-mode RRab pulsators are cooler than first-overtone RRc
    assert teff["RRab"] + 300 < teff["RRc"]
    # the calibrated scale (the bulge's): RRab 6,000-7,000 K, RRc 6,700-7,700 K (test_calibration)
    assert 6000 < teff["RRab"] < 7000 and 6700 < teff["RRc"] < 7700
    abs_g = np.array([c.params.abs_mag for c in g])
    assert 0.0 < np.nanmedian(abs_g) < 1.0  # RR Lyrae M_G ~ 0.3-0.8
    assert all("Casagrande et al. 2021" in c.params.teff_source for c in g if c.params.has_teff)
    # the old derivation, kept as the paper convention, dereddened twice: it runs hotter
    paper = np.array([c.params.teff_paper for c in g if c.subtype == "RRab"])
    assert np.nanmedian(paper) > teff["RRab"] + 500
    assert all(c.params.teff_paper_source == sdss_physics.TEFF_SOURCE
               for c in g if np.isfinite(c.params.teff_paper))
    # missing (99.99) epochs are dropped and counted
    assert sum(c.bad_lines.get("missing value", 0) for c in curves) > 0
    assert all(np.all(c.mag < 50) and np.all(c.err < 50) for c in curves)


def test_gaia_xmatch_union_one_row_per_star(data_root):
    gaia = read_gaia_xmatch(data_root / "gaia_dr2_xmatch")
    assert gaia.index.is_unique and len(gaia) == 13568
    assert set(gaia["Type"].dropna()) == set(CLASSES)
    multi = gaia["xmatch_files"].str.contains(",")
    assert multi.any()  # stars listed in several files were merged, not duplicated


def test_ogle3_catalogue_missing_values(data_root):
    table = read_ogle3_catalogue(data_root / "ogle3_catalog")
    assert len(table) == 399679
    assert (table["P_1"] == -99.99).sum() == 0
    assert table["P_1"].isna().any()
    assert table.loc["OGLE-LMC-ACEP-001", "P_1"] == pytest.approx(0.8502326)
