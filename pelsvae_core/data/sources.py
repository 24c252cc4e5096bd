"""Iterate the files of a survey from its archive, read in place, or from a plain folder.

The shared data keep each survey's many small files packed in one archive; a
user who downloads from OGLE or Catalina has a folder of the same files. Both
are read the same way and nothing is unpacked to disk.
"""
from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Iterator

from ..paths import DataRootError


def survey_files(folder: Path, archive: str, inner: str, suffix: str) -> Iterator[tuple[str, bytes]]:
    """Yield ``(file name, content)`` for files ``inner/*suffix`` of ``folder/archive`` or ``folder/inner``.

    ``inner`` may be nested (``"phot/I"``). Archive members are streamed in
    archive order; folder files are read in sorted order.
    """
    packed, loose = folder / archive, folder / inner
    prefix = inner.rstrip("/") + "/"
    if packed.is_file():
        with tarfile.open(packed, mode="r|*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and name.startswith(prefix) and name.endswith(suffix) \
                        and "/" not in name[len(prefix):]:
                    handle = tar.extractfile(member)
                    yield name[len(prefix):], handle.read() if handle else b""
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
