"""Iterate the files of a survey from its archive, read in place, or from a plain folder.

The shared data keep each survey's many small files packed in one archive; a
user who downloads from OGLE or Catalina has a folder of the same files. Both
are read the same way and nothing is unpacked to disk.

An archive is always read to its very end, in the same single pass: every tar
header must be valid up to the end-of-archive marker, and the gzip, xz or bzip2
stream must reach its end-of-stream marker with a matching checksum. Python's
tar reader would otherwise stop quietly at a damaged header and a build would
go on with only the stars before it.
"""
from __future__ import annotations

import bz2
import hashlib
import gzip
import lzma
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import pandas as pd

from ..paths import DataRootError

#: Leading bytes of each compression format, and how to open a stream of it.
_COMPRESSIONS = ((b"\x1f\x8b", gzip.open), (b"\xfd7zXZ\x00", lzma.open), (b"BZh", bz2.open))
#: Errors that the tar reader and the decompressors raise on damaged or truncated data.
_DAMAGE = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


class ArchiveError(DataRootError):
    """A survey archive is damaged or truncated; reading on would silently lose stars."""


class _StrictTarInfo(tarfile.TarInfo):
    """Tar headers that fail loudly where :mod:`tarfile` would end the archive without a word."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        try:
            return super().frombuf(buf, encoding, errors)
        except (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError):
            raise tarfile.ReadError("the tar data end before the end-of-archive marker") from None
        except tarfile.InvalidHeaderError as error:
            raise tarfile.ReadError(f"damaged tar header: {error}") from None


def _decompressed(raw: BinaryIO) -> BinaryIO:
    """The decompressed stream of ``raw`` (by its leading bytes), or ``raw`` for a plain tar."""
    magic = raw.read(6)
    raw.seek(0)
    for prefix, opener in _COMPRESSIONS:
        if magic.startswith(prefix):
            return opener(raw, "rb")
    return raw


def _archive_files(path: Path, prefix: str, suffix: str) -> Iterator[tuple[str, bytes]]:
    """Stream the members ``prefix*suffix`` of ``path``, then drain it so its checksums are checked."""
    with path.open("rb") as raw:
        try:
            with _decompressed(raw) as stream, \
                    tarfile.open(fileobj=stream, mode="r|", tarinfo=_StrictTarInfo) as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if member.isfile() and name.startswith(prefix) and name.endswith(suffix) \
                            and "/" not in name[len(prefix):]:
                        handle = tar.extractfile(member)
                        yield name[len(prefix):], handle.read() if handle else b""
                # the decompressor checks the end-of-stream marker and checksum only once it
                # has read them: the padding after the tar's end-of-archive marker comes first
                while stream.read(1 << 20):
                    pass
        except _DAMAGE as error:
            raise ArchiveError(f"the archive {path} is damaged or truncated ({error}); replace it "
                               f"with a complete copy (download it again)") from error


def survey_files(folder: Path, archive: str, inner: str, suffix: str) -> Iterator[tuple[str, bytes]]:
    """Yield ``(file name, content)`` for files ``inner/*suffix`` of ``folder/archive`` or ``folder/inner``.

    ``inner`` may be nested (``"phot/I"``). Archive members are streamed in
    archive order, and a damaged or truncated archive raises :class:`ArchiveError`
    naming it; folder files are read in sorted order.
    """
    packed, loose = folder / archive, folder / inner
    if packed.is_file():
        yield from _archive_files(packed, inner.rstrip("/") + "/", suffix)
    elif loose.is_dir():
        for path in sorted(loose.glob(f"*{suffix}")):
            yield path.name, path.read_bytes()
    else:
        raise DataRootError(f"neither {packed} nor the folder {loose} exists")


def require(path: Path) -> Path:
    """Return ``path`` if it is a file, else raise a clear :class:`DataRootError`."""
    if not path.is_file():
        raise DataRootError(f"expected survey file {path} is missing")
    return path


def read_keyed_csv(path: Path, key: str, required: tuple[str, ...],
                   text_columns: tuple[str, ...]) -> pd.DataFrame:
    """A survey's CSV catalogue indexed by its ``key`` column, with ``P_1`` numeric (an
    unparsable period becomes NaN); a missing column or a key listed twice is an error naming
    the file, never a silently merged or partial catalogue."""
    path = require(path)
    table = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    duplicated = table[key][table[key].duplicated()]
    if not duplicated.empty:
        raise ValueError(f"{path}: {key} listed twice: {', '.join(duplicated.unique()[:5])}")
    table["P_1"] = pd.to_numeric(table["P_1"], errors="coerce")
    return table.set_index(key)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
