"""Real survey cadences (Gaia DR3, OGLE-IV): the shipped tables, checked against the real files."""
from __future__ import annotations

import io
import json
import shutil
import tarfile

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import cadences, load_model
from pelsvae_core.cli import build_parser
from pelsvae_core.data import gaia_dr3, ogle4_bulge, real_cadences

REAL = ("gaia-dr3-bulge", "ogle4-bulge-I", "ogle4-bulge-V")
#: The surveys' epochs on the tables' JD - 2450000 axis: OGLE-IV 5260.9-7975.7 (its README,
#: rounded); Gaia DR3 2014-07-25 to 2017-05-28 (JD 2456863.5-2457901.5; Gaia Collaboration,
#: Vallenari et al. 2023).
TIME_SPAN = {"gaia-dr3-bulge": (6863.5, 7901.5), "ogle4-bulge-I": (5260.0, 7976.0),
             "ogle4-bulge-V": (5260.0, 7976.0)}


def member(archive, name: str) -> bytes:
    """One file of a survey archive, read independently of the project's readers."""
    with tarfile.open(archive, mode="r|*") as tar:
        for entry in tar:
            if entry.name.removeprefix("./") == name:
                return tar.extractfile(entry).read()
    raise KeyError(name)


def test_the_real_cadences_are_listed_with_the_presets():
    assert cadences.REAL_CADENCES == REAL
    assert cadences.CADENCE_NAMES == (*cadences.PRESETS, *REAL)
    assert not set(REAL) & set(cadences.PRESETS)  # PRESETS stay the ones with settable numbers
    generate = build_parser()._subparsers._group_actions[0].choices["generate"]
    cadence_help = next(a.help for a in generate._actions if a.dest == "cadence")
    assert all(name in cadence_help for name in cadences.CADENCE_NAMES)
    with pytest.raises(ValueError, match="unknown cadence 'kepler'.*gaia-dr3-bulge, ogle4-bulge-I"):
        cadences.times_for("kepler")


@pytest.mark.parametrize("name", REAL)
def test_times_are_sorted_finite_and_as_many_and_as_long_as_the_real_data(name):
    real = cadences.real_cadence(name)
    meta = real.table.metadata
    low, high = TIME_SPAN[name]
    counts, spans = [], []
    for seed in range(len(real.table)):
        times = cadences.times_for(name, seed)
        assert np.isfinite(times).all() and np.all(np.diff(times) > 0)
        assert low <= times[0] and times[-1] <= high  # dates kept, not shifted to zero
        counts.append(times.size)
        spans.append(np.ptp(times))
    numbers = cadences.cadence_numbers(name)
    assert numbers["stars"] == len(real.table) == meta["selection"]["stored"]
    assert (numbers["epochs"]["min"], numbers["epochs"]["max"]) == (min(counts), max(counts))
    assert sum(counts) == meta["epochs"]["total"]
    assert numbers["baseline_days"]["max"] == pytest.approx(max(spans), abs=1e-3)
    # the surveys' own figures: Gaia DR3 14-53 G epochs a star (README), ~34 months; OGLE-IV
    # thousands of I epochs over 2010-2017, ~140 in V
    expected = {"gaia-dr3-bulge": ((14, 53), (700, 1040)), "ogle4-bulge-I": ((400, 16000), (2500, 2715)),
                "ogle4-bulge-V": ((9, 180), (1000, 2715))}[name]
    assert expected[0][0] <= min(counts) and max(counts) <= expected[0][1]
    assert expected[1][0] <= min(spans) and max(spans) <= expected[1][1]
    assert (real.survey, real.band) == {"gaia-dr3-bulge": (gaia_dr3.SURVEY, "G"),
                                        "ogle4-bulge-I": (ogle4_bulge.SURVEY, "I"),
                                        "ogle4-bulge-V": (ogle4_bulge.SURVEY, "V")}[name]
    assert "2450000" in real.time_scale


def test_gaia_times_are_each_star_s_unrejected_g_epochs_on_the_ogle_axis(data_root):
    real = cadences.real_cadence("gaia-dr3-bulge")
    wanted = {f"{gaia_dr3.INNER}/{gaia_dr3.FILE_PREFIX}{star}.dat": star for star in real.table.star_ids}
    files = {}
    with tarfile.open(data_root / "gaia_dr3_rrlyr" / gaia_dr3.ARCHIVE, mode="r|*") as tar:
        for entry in tar:
            if entry.name.removeprefix("./") in wanted:
                files[wanted[entry.name.removeprefix("./")]] = tar.extractfile(entry).read()
    assert len(files) == len(real.table)
    rejected = 0
    for seed, star in enumerate(real.table.star_ids):
        raw = pd.read_csv(io.BytesIO(files[star]))
        g = raw[raw["band"] == "G"]
        kept = g[~g["rejected_by_photometry"] & ~g["rejected_by_variability"]]
        rejected += len(g) - len(kept)
        np.testing.assert_array_equal(cadences.times_for("gaia-dr3-bulge", seed),
                                      gaia_dr3.gaia_to_ogle_time(kept["time"].to_numpy(float)))
    assert rejected == real.table.metadata["selection"]["rows_rejected_by_reader_stored_stars"][
        "rejected_by_variability"] > 0  # Gaia's own rejections are left out, and counted
    first = pd.read_csv(io.BytesIO(files[real.star(0)]))
    assert cadences.times_for("gaia-dr3-bulge", 0)[0] == first["time"].iloc[0] + 5197.5  # BJD - 2450000


@pytest.mark.parametrize("name", ["ogle4-bulge-I", "ogle4-bulge-V"])
def test_ogle_times_are_the_star_s_file_as_given(name, data_root):
    real = cadences.real_cadence(name)
    seed = 7
    text = member(data_root / "ogle4_blg_rrlyr" / ogle4_bulge.ARCHIVE,
                  f"phot/{real.band}/{real.star(seed)}.dat")
    given = np.loadtxt(io.BytesIO(text))[:, 0]
    np.testing.assert_array_equal(cadences.times_for({"name": name}, seed), given)  # bit for bit


@pytest.mark.parametrize("name", REAL)
def test_the_seed_picks_the_star_deterministically(name):
    real = cadences.real_cadence(name)
    n = len(real.table)
    np.testing.assert_array_equal(cadences.times_for(name, 3), cadences.times_for(name, 3))
    stars = [real.star(seed) for seed in range(n)]
    assert len(set(stars)) == n  # seeds 0 .. n-1: every stored star once
    assert not np.array_equal(cadences.times_for(name, 0), cadences.times_for(name, 1))
    assert real.star(n) == real.star(0)
    assert stars == real.table.metadata["star_ids"]
    times = cadences.times_for(name, 0)
    times[:] = 0.0  # a caller's copy: the table is not changed
    assert cadences.times_for(name, 0)[0] > 0
    with pytest.raises(ValueError, match="cadence seed must be a whole number"):
        cadences.times_for(name, -1)


@pytest.mark.parametrize("change", [{"nights": 50}, {"baseline_days": 100.0}, {"shift": 1}])
def test_changing_a_real_cadence_is_refused_naming_it(change):
    pattern = r"cadence 'gaia-dr3-bulge' is the observation times of real Gaia DR3 G-band stars" \
              r".*no numbers to change: " + next(iter(change)) + " refused"
    with pytest.raises(ValueError, match=pattern):
        cadences.times_for({"name": "gaia-dr3-bulge", **change})
    with pytest.raises(ValueError, match="'gaia-dr3-bulge'.*no numbers to change"):
        cadences.preset("gaia-dr3-bulge", 0, **change)


def test_a_curve_under_a_real_cadence_end_to_end():
    model = load_model()
    table = model.generate("RRLYR", period=0.55, cadence="gaia-dr3-bulge", n_samples=2)
    times = cadences.times_for("gaia-dr3-bulge", 0)  # generate's seed 0 picks the star
    assert len(table) == 2 * times.size
    for _, sample in table.groupby("sample"):
        np.testing.assert_array_equal(sample["time"].to_numpy(), times)
        np.testing.assert_allclose(sample["phase"].to_numpy(), np.mod(times / 0.55, 1.0))
        assert np.isfinite(sample["mag"]).all() and sample["mag"].std() > 0
    other = model.generate("RRLYR", period=0.55, cadence={"name": "ogle4-bulge-V"}, n_samples=1,
                           seed=4)
    np.testing.assert_array_equal(other["time"].to_numpy(), cadences.times_for("ogle4-bulge-V", 4))
    with pytest.raises(ValueError, match="'ogle4-bulge-I'.*no numbers to change"):
        model.generate("RRLYR", period=0.55, cadence={"name": "ogle4-bulge-I", "nights": 9})


def test_the_tables_are_small_and_record_their_provenance():
    folder = real_cadences.TABLE_DIR
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(f"{n}.{ext}" for n in REAL for ext in ("json", "npz"))
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1_000_000
    stars = 0
    for name in REAL:
        meta = json.loads((folder / f"{name}.json").read_text())
        stars += meta["selection"]["stored"]
        assert set(meta["sources"]) == {f"{real_cadences.SPECS[name].folder}/{f}"
                                        for f in real_cadences.SPECS[name].sources}
        assert all(len(s["sha256"]) == 64 for s in meta["sources"].values())
        assert meta["reader"].startswith("pelsvae_core.data.")
        assert meta["selection"]["curves_read"] == meta["selection"]["usable"] + \
            sum(meta["selection"]["not_usable"].values())
    assert stars <= 500
    gaia = json.loads((folder / "gaia-dr3-bulge.json").read_text())["selection"]
    assert gaia["rows_rejected_by_reader_all_curves"]["rejected_by_variability"] > 0  # Gaia's flags
    ogle = json.loads((folder / "ogle4-bulge-I.json").read_text())["selection"]
    assert ogle["not_usable"] == {"missing catalogue row": 2}  # the README's 2 of 1,039


def test_the_shipped_tables_match_a_rebuild_from_the_survey_data(data_root, tmp_path):
    built = real_cadences.build_tables(data_root, tmp_path)
    assert real_cadences.compare_tables(tmp_path) == []
    for name, meta in built.items():
        for source, recorded in meta["sources"].items():
            assert recorded["sha256"] == real_cadences.sha256_of(data_root / source)


def test_a_damaged_or_mismatched_table_is_refused(tmp_path):
    for path in real_cadences.TABLE_DIR.iterdir():
        shutil.copy(path, tmp_path)
    with np.load(tmp_path / "ogle4-bulge-V.npz") as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["time_ticks"] = arrays["time_ticks"].copy()
    arrays["time_ticks"][5] += 1  # one epoch 0.864 s later
    with open(tmp_path / "ogle4-bulge-V.npz", "wb") as handle:
        np.savez_compressed(handle, **arrays)
    with pytest.raises(ValueError, match="does not match the checksum.*pelsvae data cadences"):
        real_cadences.read_table("ogle4-bulge-V", tmp_path)
    assert real_cadences.compare_tables(tmp_path, names=["ogle4-bulge-V"])
    assert real_cadences.compare_tables(tmp_path, names=["ogle4-bulge-I"]) == []
    (tmp_path / "gaia-dr3-bulge.npz").unlink()
    with pytest.raises(FileNotFoundError, match="pelsvae data cadences"):
        real_cadences.read_table("gaia-dr3-bulge", tmp_path)


def test_times_are_stored_exactly():
    ogle_like = np.round(np.sort(np.random.default_rng(1).uniform(5260, 7976, 1000)), 5)
    stored = real_cadences.encode_times(ogle_like)
    assert int(stored["ticks_per_day"]) == 100_000
    np.testing.assert_array_equal(real_cadences.decode_times(stored), ogle_like)
    gaia_like = gaia_dr3.gaia_to_ogle_time(np.array([1748.0947566655116, 1882.8875396635174]))
    stored = real_cadences.encode_times(gaia_like)
    assert "time" in stored
    np.testing.assert_array_equal(real_cadences.decode_times(stored), gaia_like)
