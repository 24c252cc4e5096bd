"""The OGLE-IV bulge and Gaia DR3 readers on the real files, and the subtype vocabulary."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import extract_first
from pelsvae_core import fourier
from pelsvae_core.data import catalina, crts, gaia_dr3, ogle, ogle4_bulge, sdss
from pelsvae_core.data.subtypes import SUBTYPES, UNKNOWN, normalise

OGLE4 = "ogle4_blg_rrlyr"
GAIA = "gaia_dr3_rrlyr"
#: A real Gaia file: its first G row and its one rejected_by_variability G row, as written there.
GAIA_STAR = "4044227036598778624"
GAIA_FILE = f"{gaia_dr3.FILE_PREFIX}{GAIA_STAR}.dat"
FIRST_G = {"time": 1748.0947566655116, "mag": 17.030387002137708, "flux": 2902.6317804149553,
           "flux_error": 7.819404269103878, "flux_over_error": 371.2088}
REJECTED_G_TIME = 2590.7589725933867


def by_key(curves):
    return {(c.star_id, c.band): c for c in curves}


def assert_same_curves(a: dict, b: dict):
    assert a.keys() == b.keys() and a
    for key in a:
        x, y = a[key], b[key]
        assert (x.cls, x.subtype, x.period, x.read_problem, x.bad_lines) == \
               (y.cls, y.subtype, y.period, y.read_problem, y.bad_lines)
        np.testing.assert_array_equal(x.time, y.time)
        np.testing.assert_array_equal(x.mag, y.mag)
        np.testing.assert_array_equal(x.err, y.err)


@pytest.fixture(scope="module")
def ogle4_curves(data_root):
    """One full pass over the OGLE-IV archive (about 10 s)."""
    return list(ogle4_bulge.read_ogle4_bulge(data_root / OGLE4))


@pytest.fixture(scope="module")
def gaia_curves(data_root):
    return list(gaia_dr3.read_gaia_dr3(data_root / GAIA))


@pytest.fixture(scope="module")
def ogle4_folder(data_root, tmp_path_factory) -> Path:
    """Every 40th of the first 1,000 I and V files, unpacked, with the real catalogue."""
    folder = tmp_path_factory.mktemp("ogle4") / OGLE4
    for band in ogle4_bulge.BANDS:
        extract_first(data_root / OGLE4 / ogle4_bulge.ARCHIVE, f"phot/{band}", ".dat", 25, folder,
                      step=40)
    shutil.copy(data_root / OGLE4 / ogle4_bulge.CATALOGUE, folder)
    return folder


@pytest.fixture(scope="module")
def gaia_folder(data_root, tmp_path_factory) -> Path:
    """Every 30th of the first 900 Gaia files (GAIA_STAR's first), unpacked, with the catalogue."""
    folder = tmp_path_factory.mktemp("gaia") / GAIA
    extract_first(data_root / GAIA / gaia_dr3.ARCHIVE, gaia_dr3.INNER, ".dat", 30, folder, step=30)
    shutil.copy(data_root / GAIA / gaia_dr3.CATALOGUE, folder)
    return folder


# --- OGLE-IV bulge RR Lyrae ------------------------------------------------------------------

def test_ogle4_counts_modes_and_stars_without_catalogue_row(ogle4_curves, data_root):
    assert Counter(c.band for c in ogle4_curves) == {"I": 1039, "V": 1004}
    dropped = {(c.star_id, c.band): c.read_problem for c in ogle4_curves if c.read_problem}
    missing = {"OGLE-BLG-RRLYR-11311", "OGLE-BLG-RRLYR-13442"}
    assert dropped == {(s, b): "missing catalogue row" for s in missing for b in ("I", "V")}
    assert not missing & set(ogle4_bulge.read_catalogue(data_root / OGLE4).index)
    i_band = [c for c in ogle4_curves if c.band == "I" and not c.read_problem]
    assert Counter(c.subtype for c in i_band) == {"RRab": 690, "RRc": 342, "RRd": 5}
    assert sum(sum(c.bad_lines.values()) for c in ogle4_curves) == 0  # the real files are clean
    assert all(c.period_source == ogle4_bulge.PERIOD_SOURCE and 0.2 < c.period < 1.0 for c in i_band)


def test_ogle4_keeps_ogle_time_scale(ogle4_curves):
    star = by_key(ogle4_curves)[("OGLE-BLG-RRLYR-13722", "I")]
    # the file's first line is "5260.89178 15.773 0.006": HJD - 2450000 kept as is, as
    # the OGLE-III reader keeps it; its OGLE_RR.csv row gives RRc and P_1 = 0.363242
    assert (star.time[0], star.mag[0], star.err[0]) == (5260.89178, 15.773, 0.006)
    assert (star.subtype, star.period) == ("RRc", 0.363242)
    # 2010-2017 is 5260-7976 on this scale
    assert 5260.8 < min(c.time.min() for c in ogle4_curves if c.n_obs)
    assert max(c.time.max() for c in ogle4_curves if c.n_obs) < 7976.0


def test_ogle4_folder_matches_archive(ogle4_curves, ogle4_folder):
    from_folder = by_key(ogle4_bulge.read_ogle4_bulge(ogle4_folder))
    assert Counter(band for _, band in from_folder) == {"I": 25, "V": 25}
    from_archive = {k: c for k, c in by_key(ogle4_curves).items() if k in from_folder}
    assert_same_curves(from_folder, from_archive)


def test_ogle4_bad_rows_counted_by_reason(ogle4_folder, tmp_path):
    real = sorted((ogle4_folder / "phot/I").glob("*.dat"))
    folder = tmp_path / OGLE4
    (folder / "phot/I").mkdir(parents=True)
    (folder / "phot/V").mkdir(parents=True)
    shutil.copy(ogle4_folder / ogle4_bulge.CATALOGUE, folder)
    lines = real[0].read_text().splitlines()
    planted = ["5300.1 not-a-number 0.010",   # malformed
               "5300.2 15.0",                 # malformed
               "5300.3 15.1 nan",             # NaN value
               "5300.4 15.2 -0.010",          # non-positive error
               "55300.5 15.0 0.010"]          # an MJD, not HJD - 2450000: time out of range
    (folder / "phot/I" / real[0].name).write_text("\n".join(lines[:3] + planted + lines[3:]) + "\n")
    shutil.copy(real[1], folder / "phot/I/OGLE-BLG-RRLYR-99999.dat")  # no catalogue row
    (folder / "phot/V" / real[0].name).write_text("")
    (folder / "phot/V" / real[1].name).write_text("garbage\n1 2\n")
    curves = by_key(ogle4_bulge.read_ogle4_bulge(folder))
    planted_curve = curves[(real[0].stem, "I")]
    assert planted_curve.bad_lines == {"malformed line": 2, "NaN value": 1,
                                       "non-positive error": 1, "time out of range": 1}
    assert planted_curve.n_obs == len(lines)
    assert curves[("OGLE-BLG-RRLYR-99999", "I")].read_problem == "missing catalogue row"
    assert curves[(real[0].stem, "V")].read_problem == "empty file"
    unreadable = curves[(real[1].stem, "V")]
    assert unreadable.read_problem == "no readable rows"
    assert unreadable.bad_lines == {"malformed line": 2}


# --- Gaia DR3 epoch photometry ---------------------------------------------------------------

def test_gaia_counts_and_rejections(gaia_curves, data_root):
    assert Counter(c.band for c in gaia_curves) == {"G": 1091, "BP": 1091, "RP": 1091}
    problems = Counter((c.band, c.read_problem) for c in gaia_curves if c.read_problem)
    assert problems == {("BP", "no epochs in band"): 8, ("RP", "no epochs in band"): 9}
    rejected = {band: sum((Counter(c.bad_lines) for c in gaia_curves if c.band == band), Counter())
                for band in gaia_dr3.BANDS}
    assert rejected == {"G": {"rejected_by_variability": 345}, "BP": {"rejected_by_variability": 131},
                        "RP": {"rejected_by_variability": 289}}
    g = [c for c in gaia_curves if c.band == "G"]
    assert Counter(c.subtype for c in g) == {"RRab": 720, "RRc": 366, "RRd": 5}
    # Gaia_RR.csv's NG counts the G epochs Gaia kept: the reader keeps exactly those
    catalogue = gaia_dr3.read_catalogue(data_root / GAIA)
    assert all(c.n_obs == int(catalogue.loc[c.star_id, "NG"]) for c in g)


def test_gaia_real_row_error_flags_and_time(gaia_curves):
    g = by_key(gaia_curves)[(GAIA_STAR, "G")]
    assert g.n_obs == 43 and g.bad_lines == {"rejected_by_variability": 1}
    # time: BJD_TCB - 2455197.5 + 5197.5 = BJD - 2450000, by hand
    assert g.time[0] == pytest.approx(6945.5947566655116, abs=1e-9)
    assert not np.any(np.isclose(g.time, REJECTED_G_TIME + 5197.5, rtol=0, atol=1e-6))
    assert g.mag[0] == FIRST_G["mag"]
    # sigma_m = 2.5 / ln 10 * flux_error / flux, by hand, and from Gaia's own flux_over_error
    assert g.err[0] == pytest.approx(0.0029248664511599435, rel=1e-12)
    assert g.err[0] == pytest.approx(1.0857362047581294 / FIRST_G["flux_over_error"], rel=1e-6)
    assert g.period == 0.64412728 and g.subtype == "RRab"


def test_gaia_folder_matches_archive(gaia_curves, gaia_folder):
    from_folder = by_key(gaia_dr3.read_gaia_dr3(gaia_folder))
    assert len(from_folder) == 30 * 3 and (GAIA_STAR, "G") in from_folder
    from_archive = {k: c for k, c in by_key(gaia_curves).items() if k in from_folder}
    assert_same_curves(from_folder, from_archive)


def test_gaia_bad_rows_unknown_band_and_missing_catalogue_row(gaia_folder, tmp_path):
    content = (gaia_folder / gaia_dr3.INNER / GAIA_FILE).read_text().splitlines()
    header, rows = content[0], content[1:]
    names = header.split(",")
    clean_g = next(r.split(",") for r in rows if r.split(",")[names.index("band")] == "G"
                   and r.split(",")[names.index("rejected_by_variability")] == "False")

    def edit(**changes):
        """The clean G row with some fields replaced."""
        out = list(clean_g)
        for key, value in changes.items():
            out[names.index(key)] = value
        return ",".join(out)

    planted = [edit(rejected_by_photometry="True"),
               edit(rejected_by_photometry="True", rejected_by_variability="True"),
               edit(band="XP"),                          # unknown band: counted on G
               "garbage",                                # wrong number of fields: counted on G
               edit(rejected_by_variability="maybe"),    # malformed flag
               edit(time="abc"),                         # malformed number
               edit(time="-3000000"),                    # time out of range once converted
               edit(flux_error="-1.0"),                  # non-positive error
               edit(mag="nan"),                          # NaN value
               edit(band="BP", flux="0"),                # non-positive flux
               edit(band="RP", mag="")]                  # missing value
    folder = tmp_path / GAIA
    (folder / gaia_dr3.INNER).mkdir(parents=True)
    shutil.copy(gaia_folder / gaia_dr3.CATALOGUE, folder)
    (folder / gaia_dr3.INNER / GAIA_FILE).write_text("\n".join([header] + rows + planted) + "\n")
    shutil.copy(gaia_folder / gaia_dr3.INNER / GAIA_FILE,
                folder / gaia_dr3.INNER / f"{gaia_dr3.FILE_PREFIX}1234.dat")  # no catalogue row
    empty, no_flux_error = "4050333659758388864", "4050076374048538624"  # real catalogue rows
    (folder / gaia_dr3.INNER / f"{gaia_dr3.FILE_PREFIX}{empty}.dat").write_text(header + "\n")
    (folder / gaia_dr3.INNER / f"{gaia_dr3.FILE_PREFIX}{no_flux_error}.dat").write_text(
        header.replace("flux_error", "flux_err") + "\n" + "\n".join(rows) + "\n")
    curves = by_key(gaia_dr3.read_gaia_dr3(folder))
    g = curves[(GAIA_STAR, "G")]
    assert g.n_obs == 43
    assert g.bad_lines == {"rejected_by_variability": 1, "rejected_by_photometry": 2,
                           "unknown band": 1, "malformed line": 3, "time out of range": 1,
                           "non-positive error": 1, "NaN value": 1}
    assert curves[(GAIA_STAR, "BP")].bad_lines == {"non-positive flux": 1}
    assert curves[(GAIA_STAR, "RP")].bad_lines == {"missing value": 1}
    assert {curves[("1234", b)].read_problem for b in gaia_dr3.BANDS} == {"missing catalogue row"}
    assert {curves[(empty, b)].read_problem for b in gaia_dr3.BANDS} == {"empty file"}
    assert {curves[(no_flux_error, b)].read_problem for b in gaia_dr3.BANDS} == {"missing columns"}


def test_gaia_source_ids_map_to_ogle_ids(data_root, gaia_curves, ogle4_curves):
    ids = gaia_dr3.ogle_ids(data_root / GAIA)
    assert len(ids) == 1091 and ids["4050333659758388864"] == "OGLE-BLG-RRLYR-13756"
    assert set(ids.values()) <= set(ogle4_bulge.read_catalogue(data_root / OGLE4).index)
    ogle_i = {c.star_id for c in ogle4_curves if c.band == "I" and c.n_obs}
    assert sum(ids[c.star_id] in ogle_i for c in gaia_curves if c.band == "G") == 832


def max_light_phase(time, mag, err, period, order):
    """Phase (in [0, 1)) of maximum light of a Fourier fit, with phase zero at time 0."""
    grid = np.linspace(0, 1, 1000, endpoint=False)
    coeffs = fourier.fit(np.mod(time / period, 1.0), mag, err, order)
    model = fourier.evaluate(coeffs, grid)
    return grid[np.argmin(model)], np.ptp(model)


def test_gaia_and_ogle_maxima_line_up_on_one_time_axis(data_root, gaia_curves, ogle4_curves):
    """Folded on one period with one origin, a star's Gaia G and OGLE I maxima coincide.

    A Gaia time origin wrong by as little as 0.05 d (or MJD used for HJD - 2450000) moves the
    Gaia maxima away; the small band-to-band lag of maximum light remains.
    """
    ids = gaia_dr3.ogle_ids(data_root / GAIA)
    ogle_i = {c.star_id: c for c in ogle4_curves if c.band == "I" and c.n_obs}
    pairs = [(c, ogle_i[ids[c.star_id]]) for c in gaia_curves
             if c.band == "G" and c.subtype == "RRab" and ids[c.star_id] in ogle_i][:250]

    ogle_max = [max_light_phase(o.time, o.mag, o.err, gaia.period, 6)[0] for gaia, o in pairs]

    def offsets(shift):
        out = []
        for (gaia, _), po in zip(pairs, ogle_max):
            pg, amplitude = max_light_phase(gaia.time + shift, gaia.mag, gaia.err, gaia.period, 3)
            if amplitude > 0.4:  # clear maxima only
                out.append((pg - po + 0.5) % 1.0 - 0.5)
        return np.abs(out)

    right = offsets(0.0)
    assert len(right) > 150
    assert np.median(right) < 0.05 and np.mean(right < 0.05) > 0.8
    assert np.median(offsets(0.05)) > 0.08
    assert np.median(offsets(gaia_dr3.OGLE_TIME_ORIGIN_JD - 2400000.5)) > 0.08  # MJD instead


# --- the subtype vocabulary ------------------------------------------------------------------

def test_vocabulary_catalina_type_codes():
    expected = {1: ("RRab", False), 2: ("RRc", False), 3: ("RRd", False), 4: (UNKNOWN, True),
                5: ("EW", False), 6: ("EA", False), 7: (UNKNOWN, False), 8: (UNKNOWN, False),
                9: (UNKNOWN, False), 10: (UNKNOWN, False), 12: (UNKNOWN, False)}
    assert {code: normalise(*catalina.TYPE_CODES[code]) for code in catalina.TYPE_CODES} == expected


def test_vocabulary_crts_labels():
    expected = {"RRab": "RRab", "RRc": "RRc", "RRd": "RRd", "Blazhko": UNKNOWN, "EW": "EW",
                "EA": "EA", "beta_lyrae": "EB", "ELL": UNKNOWN, "LPV": UNKNOWN, "HADS": "HADS",
                "LADS": "LADS", "Cep_II": UNKNOWN, "ACEP": UNKNOWN, "RS_CVn": UNKNOWN,
                "PCEB": UNKNOWN, "Hump": UNKNOWN}
    got = {label: normalise(cls, label) for label, cls in crts.LABELS.items()}
    assert got == {label: (sub, label == "Blazhko") for label, sub in expected.items()}


def test_vocabulary_ogle_cepheid_modes(data_root):
    modes = set(ogle.read_ident(data_root / "ogle3_lmc_cep"))
    single = {"F": "F", "1O": "1O", "2O": "2O"}
    assert modes == set(single) | {"F/1O", "1O/2O", "1O/3O", "2O/3O", "F/1O/2O", "1O/2O/3O"}
    assert {m: normalise("CEP", m) for m in modes} == {
        m: (single.get(m, "multi-mode"), False) for m in modes}
    # the same modes as the OGLE-III catalogue and the brief write them
    for label, sub in {"F1O": "multi-mode", "1O2O": "multi-mode", "F1": "multi-mode",
                       "12": "multi-mode", "123": "multi-mode", "1": "1O", "2": "2O"}.items():
        assert normalise("CEP", label) == (sub, False), label


def test_vocabulary_rr_lyrae_catalogues(data_root):
    sdss_types = set(sdss.read_table2(data_root / "sdss_s82_rrlyrae")["type"].astype(str))
    assert sdss_types == {"ab", "c"}
    for t in sdss_types:
        assert normalise("RRLYR", t) == normalise("RRLYR", "RR" + t) == ("RR" + t, False)
    for table in (ogle4_bulge.read_catalogue(data_root / OGLE4),
                  gaia_dr3.read_catalogue(data_root / GAIA)):
        assert set(table["Type"]) == {"RRab", "RRc", "RRd"}
        assert {t: normalise("RRLYR", t) for t in table["Type"]} == {
            t: (t, False) for t in ("RRab", "RRc", "RRd")}


@pytest.mark.parametrize("cls, label, subtype", [
    ("T2CEP", "BLHer", "BLHer"), ("T2CEP", "WVir", "WVir"), ("T2CEP", "RVTau", "RVTau"),
    ("ECL", "EB", "EB"), ("RRLYR", " RRc ", "RRc"),
    ("T2CEP", "pWVir", UNKNOWN), ("RRLYR", "RRe", UNKNOWN), ("CEP", "3O", UNKNOWN),
    ("CEP", "F/F", UNKNOWN), ("CEP", "F/", UNKNOWN), ("CEP", "", UNKNOWN),
    ("ECL", "ESD", UNKNOWN), ("LPV", "Mira", UNKNOWN), ("DSCT", "F/1O", UNKNOWN),
    ("ECL", "RRab", UNKNOWN), ("OTHER", "RS_CVn", UNKNOWN), ("ACEP", "F", UNKNOWN),
    ("RRLYR", "blazhko", UNKNOWN)])
def test_vocabulary_known_and_unknown_labels(cls, label, subtype):
    assert normalise(cls, label) == (subtype, False)
    assert subtype in SUBTYPES.get(cls, ()) + (UNKNOWN,)
