"""Every reader on the real survey files, from archives and from plain folders."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pelsvae_core.data import catalina, crts, ogle, sdss
from pelsvae_core.data.catalogues import read_gaia_xmatch, read_ogle3_catalogue
from pelsvae_core.data.records import CLASSES, OTHER
from pelsvae_core.data.surveys import DataRoot


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


def test_crts_class_from_file_name_and_no_period(subset_root):
    curves = list(crts.read_crts(subset_root / "crts_csdr1"))
    assert len(curves) == 150
    labels = Counter(c.subtype for c in curves)
    assert set(labels) <= set(crts.LABELS)
    for c in curves:
        assert c.cls == crts.LABELS[c.subtype]
        assert np.isnan(c.period) and c.n_obs > 0
        assert np.all(c.err > 0)


def test_crts_archive_count(data_root):
    labels = Counter(c.subtype for c in crts.read_crts(data_root / "crts_csdr1"))
    assert sum(labels.values()) == 5757
    assert labels["RRab"] == 994 and labels["ELL"] == 71 and labels["RS_CVn"] == 757


def test_ogle_cepheids_with_gaia_parameters(data_root):
    root = DataRoot(data_root)
    curves = list(ogle.read_ogle_cep(data_root / "ogle3_lmc_cep", root.ogle3_catalogue,
                                     root.gaia_xmatch))
    bands = Counter(c.band for c in curves)
    assert bands == {"I": 3344, "V": 3353}
    i_band = [c for c in curves if c.band == "I" and not c.read_problem]
    both = [c for c in i_band if c.params.has_teff and c.params.has_abs_mag]
    assert len(both) > 1100
    assert all(c.params.teff_source == ogle.TEFF_SOURCE for c in both)
    assert all(3000 < c.params.teff < 10000 for c in both)
    assert sum(c.period_source == "OGLE-III catalogue P_1" for c in i_band) > 3000
    modes = Counter(c.subtype for c in i_band)
    assert modes["F"] > 1500 and modes["1O"] > 1000


def test_ogle_folder_matches_archive(data_root, subset_root):
    root = DataRoot(data_root)
    read = lambda folder: by_key(ogle.read_ogle_cep(folder, root.ogle3_catalogue, root.gaia_xmatch))
    from_folder = read(subset_root / "ogle3_lmc_cep")
    from_archive = {k: v for k, v in read(data_root / "ogle3_lmc_cep").items() if k in from_folder}
    assert_same_curves(from_folder, from_archive)


def test_stripe82_five_bands_and_temperature_ordering(data_root):
    curves = list(sdss.read_stripe82(data_root / "sdss_s82_rrlyrae"))
    assert Counter(c.band for c in curves) == {b: 483 for b in sdss.BANDS}
    g = [c for c in curves if c.band == "g"]
    assert sum(c.params.has_teff for c in g) > 0.95 * len(g)
    teff = {sub: np.nanmedian([c.params.teff for c in g if c.subtype == sub]) for sub in ("RRab", "RRc")}
    # physics: fundamental-mode RRab pulsators are cooler than first-overtone RRc
    assert teff["RRab"] + 300 < teff["RRc"]
    assert 5500 < teff["RRab"] < 8000 and 6000 < teff["RRc"] < 9000
    abs_g = np.array([c.params.abs_mag for c in g])
    assert 0.0 < np.nanmedian(abs_g) < 1.0  # RR Lyrae M_G ~ 0.3-0.8
    assert all(c.params.teff_source.startswith("derived:") for c in g if c.params.has_teff)
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
