"""Where the survey data and the derived cache live.

The survey files are never copied into the repository: they are read from a
data root chosen, in order, by an explicit argument, the ``PELSVAE_DATA``
environment variable, or ``../shared/data`` next to the working directory or
the source checkout.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "PELSVAE_DATA"
CACHE_ENV = "PELSVAE_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[1]


class DataRootError(FileNotFoundError):
    """The survey data could not be found or read; the message says where we looked."""


def _candidates(explicit: str | os.PathLike | None) -> list[tuple[Path, str]]:
    if explicit is not None:
        return [(Path(explicit).expanduser(), "the --data-root option")]
    if os.environ.get(DATA_ENV):
        return [(Path(os.environ[DATA_ENV]).expanduser(), f"${DATA_ENV}")]
    return [
        (Path.cwd() / ".." / "shared" / "data", "../shared/data from the working directory"),
        (REPO_ROOT / ".." / "shared" / "data", "../shared/data next to the pelsvae checkout"),
    ]


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Return the survey data folder, or raise :class:`DataRootError` naming every place tried."""
    tried = []
    for path, how in _candidates(explicit):
        path = path.resolve()
        if path.is_dir() and os.access(path, os.R_OK | os.X_OK):
            return path
        state = "is not a readable folder" if path.exists() else "does not exist"
        tried.append(f"  {path} ({how}) {state}")
    raise DataRootError(
        "survey data not found; looked in:\n" + "\n".join(tried)
        + f"\nPass --data-root DIR or set {DATA_ENV}=DIR to the folder holding "
        "catalina_sss/, crts_csdr1/, ogle3_lmc_cep/, ... (see README)."
    )


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Folder for the derived Parquet cache (``$PELSVAE_CACHE`` or ``~/.cache/pelsvae``)."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return (base / "pelsvae").resolve()
