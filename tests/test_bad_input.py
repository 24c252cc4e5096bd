"""Bad input is counted by reason, never dropped silently, and never leaves a half-written cache."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pelsvae_core import paths
from pelsvae_core.data import cache
from pelsvae_core.data.preprocess import PreprocessConfig


@pytest.fixture
def broken_root(subset_root, tmp_path):
    """A Catalina folder built from real curves, with each kind of defect planted once."""
    source = subset_root / "catalina_sss" / "lightcurves"
    real = sorted(source.glob("*.dat"))
    catalogue = {line.split()[0]: line for line in
                 (subset_root / "catalina_sss/SSS_Per_Tab.txt").read_text().splitlines()}
    # bright, large-amplitude RRab stars with plenty of points
    good = [p for p in real if catalogue[p.stem].split()[7] == "1"
            and float(catalogue[p.stem].split()[6]) > 0.7 and float(catalogue[p.stem].split()[4]) < 17
            and len(p.read_text().splitlines()) > 150][:4]
    root = tmp_path / "data"
    lc_dir = root / "catalina_sss" / "lightcurves"
    lc_dir.mkdir(parents=True)
    for p in good:
        shutil.copy(p, lc_dir)
    lines = good[0].read_text().splitlines()
    (lc_dir / good[0].name).write_text("\n".join(
        lines[:5] + ["53700.1 not-a-number 0.05", "53700.2 15.0", "53700.3 15.1 nan",
                     "53700.4 15.2 -0.01"] + lines[5:]) + "\n")
    (lc_dir / "9999000000001.dat").write_text("")                       # empty file
    shutil.copy(good[1], lc_dir / "9999000000002.dat")                  # unknown type code
    shutil.copy(good[2], lc_dir / "9999000000003.dat")                  # no catalogue row
    rows = [catalogue[p.stem] for p in good]
    rows.append("9999000000001 1.0 -30.0 0.5 15.0 200 0.5 1")
    rows.append("9999000000002 1.0 -30.0 0.5 15.0 200 0.5 42")
    (root / "catalina_sss" / "SSS_Per_Tab.txt").write_text("\n".join(rows) + "\n")
    return root


def test_each_defect_is_counted_by_reason(broken_root, tmp_path):
    built = cache.build(broken_root, tmp_path / "cache", surveys=["catalina_sss"], progress=False)
    status = built.stars.set_index("star_id")["status"]
    assert status["9999000000001"] == "empty file"
    assert status["9999000000002"] == "unknown type code"
    assert status["9999000000003"] == "missing catalogue row"
    assert (status == "kept").sum() == 4
    assert built.manifest["bad_lines"] == {"malformed line": 2, "NaN value": 1,
                                           "non-positive error": 1}
    assert len(built.stars) == 7  # every file read is accounted for


def test_missing_data_root_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(paths.DataRootError, match="nowhere"):
        paths.data_root()
    result = subprocess.run([sys.executable, "-m", "pelsvae_core.cli", "data", "summary"],
                            capture_output=True, text=True, env=os.environ | {
                                paths.DATA_ENV: str(tmp_path / "nowhere"),
                                paths.CACHE_ENV: str(tmp_path / "cache")})
    assert result.returncode == 2
    assert "survey data not found" in result.stderr and "nowhere" in result.stderr
    assert "Traceback" not in result.stderr


def test_cache_rebuild_rule(broken_root, tmp_path):
    directory = tmp_path / "cache"
    cache.build(broken_root, directory, progress=False)
    assert cache.is_current(broken_root, directory)
    assert not cache.is_current(broken_root, directory, PreprocessConfig(n_points=200))
    touched = next((broken_root / "catalina_sss" / "lightcurves").glob("*.dat"))
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not cache.is_current(broken_root, directory)
    reloaded = cache.load(broken_root, directory, progress=False)
    assert cache.is_current(broken_root, directory) and len(reloaded.stars) == 7


def test_interrupted_build_leaves_no_current_cache(broken_root, tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    cache.build(broken_root, directory, progress=False)
    os.utime(broken_root / "catalina_sss" / "SSS_Per_Tab.txt", ns=(0, 0))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.build(broken_root, directory, progress=False)
    assert not cache.is_current(broken_root, directory)
    assert not list(directory.glob(".*.tmp"))
    assert not (directory / cache.MANIFEST_FILE).exists()
