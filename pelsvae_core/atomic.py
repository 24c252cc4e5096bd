"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The temporary file is ``.<target name>.<8 random characters>.tmp`` beside the
target, removed on any failure; only a killed process (SIGKILL, power loss) can
leave one behind, and :func:`remove_stale` clears those by that exact pattern.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Iterable, Iterator


def _create_temporary(target: Path) -> Path:
    """Create an empty, unique temporary file beside ``target``, with the mode the umask gives.

    Not :func:`tempfile.mkstemp`: its files are 0600, and that mode would
    outlive the rename and lock others out of a file meant to be shared.
    """
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only if the block succeeds.

    A replaced file keeps its mode; a new one gets the mode the umask gives.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(target)
    try:
        yield tmp
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def remove_stale(folder: str | os.PathLike, names: Iterable[str]) -> list[Path]:
    """Delete temporaries that killed writers of ``folder/<name>`` left behind; return them.

    Only files named exactly as :func:`atomic_path` names them are touched (the
    random part also matches :func:`tempfile.mkstemp`'s, used by earlier versions).
    """
    pattern = re.compile("|".join(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp" for name in names))
    removed = []
    for path in Path(folder).iterdir():
        if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
