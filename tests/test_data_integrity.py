"""Damaged inputs stop with a message naming the file; a damaged cache is rebuilt, never read.

Every archive here is a real survey file copied into ``tmp_path`` (or a small
archive packed from real members) and then damaged the way a broken download or
disk does: bytes changed in the middle, the end cut off, a checksum altered.
"""
from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from pelsvae_core import atomic, cli
from pelsvae_core.data import cache, sdss
from pelsvae_core.data.sources import ArchiveError, survey_files

SDSS_FILES = ("table1.tar.gz", "table2.dat.gz", "table3.dat.gz")
SDSS_STARS = 483


def flip_middle(path: Path, n: int = 64) -> None:
    """Invert ``n`` bytes in the middle of ``path``, keeping its size."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + n] = bytes(b ^ 0xFF for b in data[middle:middle + n])
    path.write_bytes(data)


def cut_in_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def gzip_crc_altered(path: Path) -> None:
    """Change only the gzip trailer's CRC-32: every tar member still reads cleanly."""
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF
    path.write_bytes(data)


def damaged(path: Path):
    """The ``pytest.raises`` for an :class:`ArchiveError` that names ``path``."""
    return pytest.raises(ArchiveError, match=re.escape(str(path)) + " is damaged or truncated")


@pytest.fixture
def sdss_root(data_root, tmp_path) -> Path:
    """A data root holding a copy of the real Stripe 82 files, archive included."""
    folder = tmp_path / "data" / "sdss_s82_rrlyrae"
    folder.mkdir(parents=True)
    for name in SDSS_FILES:
        shutil.copy(data_root / "sdss_s82_rrlyrae" / name, folder)
    return folder.parent


@pytest.fixture(scope="module")
def sdss_tar(data_root) -> tuple[bytes, list[tarfile.TarInfo]]:
    """The uncompressed tar inside the real ``table1.tar.gz`` and its members."""
    data = gzip.decompress((data_root / "sdss_s82_rrlyrae/table1.tar.gz").read_bytes())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return data, tar.getmembers()


@pytest.fixture(scope="module")
def catalina_members(data_root) -> dict[str, bytes]:
    """The first 40 real Catalina light curves, streamed from the start of their archive."""
    with tarfile.open(data_root / "catalina_sss/lightcurves.tar.xz", mode="r|xz") as tar:
        files = (m for m in tar if m.isfile() and m.name.endswith(".dat"))
        return {m.name: tar.extractfile(m).read() for m in itertools.islice(files, 40)}


def packed(members: dict[str, bytes], path: Path, compression: str) -> Path:
    """Write ``members`` to the tar archive ``path`` (``compression``: gz, xz or bz2)."""
    with tarfile.open(path, mode=f"w:{compression}") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def read_sdss(root: Path) -> list:
    return list(sdss.read_stripe82(root / "sdss_s82_rrlyrae"))


def test_intact_copy_reads_every_star(sdss_root):
    curves = read_sdss(sdss_root)
    assert len({c.star_id for c in curves}) == SDSS_STARS and len(curves) == 5 * SDSS_STARS


@pytest.mark.parametrize("damage", [flip_middle, cut_in_half, gzip_crc_altered])
def test_damaged_gzip_archive_names_the_file(sdss_root, damage):
    archive = sdss_root / "sdss_s82_rrlyrae" / "table1.tar.gz"
    damage(archive)
    with damaged(archive):
        read_sdss(sdss_root)


def test_altered_crc_is_reported_as_such(sdss_root):
    archive = sdss_root / "sdss_s82_rrlyrae" / "table1.tar.gz"
    gzip_crc_altered(archive)
    with pytest.raises(ArchiveError, match="CRC check failed"):
        read_sdss(sdss_root)


def test_command_line_stops_on_damaged_archive_and_caches_nothing(sdss_root, tmp_path, capsys):
    archive = sdss_root / "sdss_s82_rrlyrae" / "table1.tar.gz"
    flip_middle(archive)
    directory = tmp_path / "cache"
    code = cli.main(["data", "summary", "--data-root", str(sdss_root),
                     "--cache-dir", str(directory)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"\npelsvae: error: the archive {archive} is damaged or truncated (" in err
    assert "download it again" in err and "Traceback" not in err
    assert not (directory / cache.MANIFEST_FILE).exists()
    assert not cache.is_current(sdss_root, directory)


def test_damaged_tar_header_inside_intact_compression(sdss_root, sdss_tar):
    """The gzip stream is valid; only the tar header of member 100 is damaged (tarfile stops quietly)."""
    data, members = sdss_tar
    header = members[100].offset
    broken = bytearray(data)
    broken[header + 100:header + 164] = bytes(b ^ 0xFF for b in broken[header + 100:header + 164])
    archive = sdss_root / "sdss_s82_rrlyrae" / "table1.tar.gz"
    archive.write_bytes(gzip.compress(bytes(broken)))
    with pytest.raises(ArchiveError, match="damaged tar header"):
        read_sdss(sdss_root)


def test_tar_cut_before_its_end_marker(sdss_root, sdss_tar):
    """A tar cut at a member boundary, then compressed whole: only the missing end marker tells."""
    data, members = sdss_tar
    archive = sdss_root / "sdss_s82_rrlyrae" / "table1.tar.gz"
    archive.write_bytes(gzip.compress(data[:members[100].offset]))
    with pytest.raises(ArchiveError, match="end before the end-of-archive marker"):
        read_sdss(sdss_root)


@pytest.mark.parametrize("compression", ["xz", "bz2"])
def test_small_archive_of_real_members(catalina_members, tmp_path, compression):
    folder = tmp_path / "catalina_sss"
    folder.mkdir()
    archive = packed(catalina_members, folder / f"lightcurves.tar.{compression}", compression)
    intact = archive.read_bytes()
    read = dict(survey_files(folder, archive.name, "lightcurves", ".dat"))
    assert read == {name.removeprefix("lightcurves/"): content
                    for name, content in catalina_members.items()}
    for damage in (flip_middle, cut_in_half):
        archive.write_bytes(intact)
        damage(archive)
        with damaged(archive):
            list(survey_files(folder, archive.name, "lightcurves", ".dat"))


# --- the cache -------------------------------------------------------------------------------

@pytest.fixture
def tiny_root(sdss_root, sdss_tar) -> Path:
    """Six real Stripe 82 stars as a plain folder (quick to build a cache from)."""
    data, members = sdss_tar
    folder = sdss_root / "sdss_s82_rrlyrae"
    (folder / "table1.tar.gz").unlink()
    (folder / "table1").mkdir()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in [m for m in members if m.isfile()][:6]:
            (folder / member.name).write_bytes(tar.extractfile(member).read())
    return sdss_root


def test_manifest_pins_the_star_table(tiny_root, tmp_path):
    built = cache.build(tiny_root, tmp_path / "cache", workers=1, progress=False)
    stars = built.directory / cache.STARS_FILE
    record = built.manifest["files"][cache.STARS_FILE]
    assert record["size"] == stars.stat().st_size
    assert record["sha256"] == cache._describe(stars)["sha256"]
    assert json.loads((built.directory / cache.MANIFEST_FILE).read_text())["files"] == \
        built.manifest["files"]


@pytest.mark.parametrize("damage, reason", [(cut_in_half, "bytes, not the"),
                                            (flip_middle, "SHA-256")])
def test_damaged_star_table_is_rebuilt(tiny_root, tmp_path, caplog, damage, reason):
    directory = tmp_path / "cache"
    built = cache.build(tiny_root, directory, workers=1, progress=False)
    assert cache.is_current(tiny_root, directory)
    damage(directory / cache.STARS_FILE)
    with caplog.at_level(logging.WARNING, logger=cache.log.name):
        assert not cache.is_current(tiny_root, directory)
    assert f"{directory / cache.STARS_FILE}" in caplog.text and reason in caplog.text
    reloaded = cache.load(tiny_root, directory, progress=False)
    pd.testing.assert_frame_equal(reloaded.stars, built.stars)
    assert cache.is_current(tiny_root, directory)


def test_manifest_without_checksums_is_not_current(tiny_root, tmp_path, caplog):
    directory = tmp_path / "cache"
    cache.build(tiny_root, directory, workers=1, progress=False)
    manifest_path = directory / cache.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"]
    manifest_path.write_text(json.dumps(manifest))
    with caplog.at_level(logging.INFO, logger=cache.log.name):
        assert not cache.is_current(tiny_root, directory)
    assert "does not record the size and SHA-256" in caplog.text


def test_build_removes_temporaries_of_a_killed_build_and_nothing_else(tiny_root, tmp_path):
    directory = tmp_path / "cache"
    directory.mkdir()
    killed = ("from pelsvae_core.atomic import atomic_path\nimport os, signal, sys\n"
              "with atomic_path(sys.argv[1]) as tmp:\n"
              "    tmp.write_bytes(b'half a table')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    run = subprocess.run([sys.executable, "-c", killed, str(directory / cache.STARS_FILE)])
    assert run.returncode == -9
    leftovers = list(directory.glob(f".{cache.STARS_FILE}.*.tmp"))
    assert len(leftovers) == 1
    # an earlier version's tempfile.mkstemp name
    leftovers.append(directory / f".{cache.MANIFEST_FILE}.k_3x9q0z.tmp")
    leftovers[-1].write_text("{")
    kept = ["notes.tmp", f".{cache.STARS_FILE}.tmp", f"{cache.STARS_FILE}.abcd1234.tmp",
            ".other.parquet.abcd1234.tmp", f".{cache.STARS_FILE}.abcd12345.tmp"]
    for name in kept:
        (directory / name).write_text("not ours")
    cache.build(tiny_root, directory, workers=1, progress=False)
    assert not any(path.exists() for path in leftovers)
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        kept + [cache.STARS_FILE, cache.MANIFEST_FILE])


# --- atomic writes ---------------------------------------------------------------------------

def test_interrupted_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(tmp_path.iterdir()) == [target]


def test_failed_replace_leaves_no_temporary(tmp_path):
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        atomic.write_text(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied"]


@pytest.fixture
def umask():
    """Set the process umask for one test, then restore it."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_new_file_gets_the_umask_mode(tmp_path, umask, mask):
    umask(mask)
    atomic.write_text(tmp_path / "new.json", "{}")
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o666 & ~mask


def test_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    target = tmp_path / "shared.json"
    target.write_text("{}")
    target.chmod(0o664)
    atomic.write_text(target, '{"new": 1}')
    assert stat.S_IMODE(target.stat().st_mode) == 0o664 and target.read_text() == '{"new": 1}'
