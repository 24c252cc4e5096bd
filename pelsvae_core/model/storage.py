"""A model is a folder: config, weights, metadata and checksums, loaded without running code.

``config.json``      format version and the :class:`ModelConfig`
``weights.pt``       a state dict, read with ``torch.load(..., weights_only=True)``
``metadata.json``    training data, split seed, metrics, physics, library versions, git commit
``regressors.npz``   the physics -> latent regressors as plain arrays (after ``fit-regressors``)
``latents.parquet``  the real training curves' latent vectors (after ``fit-regressors``)
``report/``          ``pelsvae evaluate``'s numbers, Markdown and figures, and ``measured.json``:
                     the checksums of the model files the report measured
``checksums.json``   SHA-256 of every other file in the folder, ``report/`` included, checked on load

The folder is written beside its destination and moved into place in one
step, so a reader never sees a half-written model. Only
:mod:`pelsvae_core.pipeline` writes model folders (through :func:`save_folder`).
A report whose measured files have changed since (the regressors refitted,
say) is kept and called stale (:func:`report_status`), not deleted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from .. import paths
from .config import FORMAT_VERSION, ModelConfig
from .vae import PELSVAE

log = logging.getLogger(__name__)
CONFIG, WEIGHTS, METADATA, CHECKSUMS = "config.json", "weights.pt", "metadata.json", "checksums.json"
REGRESSORS_FILE, LATENTS_FILE = "regressors.npz", "latents.parquet"
REPORT_DIR = "report"
EVALUATION_FILE = f"{REPORT_DIR}/evaluation.json"
MEASURED_FILE = f"{REPORT_DIR}/measured.json"
#: The files whose content a report describes: a change to any of them makes the report stale.
MEASURED = (CONFIG, WEIGHTS, REGRESSORS_FILE, LATENTS_FILE)
DEFAULT_MODEL = paths.REPO_ROOT / "models" / "default"


class ModelFormatError(ValueError):
    """A model folder is missing, corrupted, or written by an incompatible version."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, text=True,
                             capture_output=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    import numpy, pandas, sklearn
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "pandas": pandas.__version__,
            "scikit-learn": sklearn.__version__}


def config_bytes(cfg: ModelConfig) -> bytes:
    """The content of ``config.json`` for a network configuration."""
    return json.dumps({"format_version": FORMAT_VERSION, "model": cfg.to_dict()}, indent=2).encode()


def folder_files(folder: Path) -> list[str]:
    """Every file of a model folder but the checksums, as sorted relative POSIX paths;
    a link anywhere inside is refused (a folder must not reach outside itself)."""
    names = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise ModelFormatError(f"{path} is a symbolic link; a model folder holds plain files only")
        if path.is_file():
            names.append(path.relative_to(folder).as_posix())
    return [n for n in names if n != CHECKSUMS]


def save_folder(folder: str | os.PathLike, model: PELSVAE, metadata: dict,
                extra_files: dict[str, bytes] | None = None, weights: bytes | None = None) -> Path:
    """Write a model folder atomically; ``extra_files`` (relative path -> bytes, e.g.
    ``report/report.md``) are checksummed too.

    ``weights`` is the content of an existing weights file, for rewriting a loaded model's
    folder: a loaded network has its weight normalisation folded for speed and is not
    saved again (its state would have another layout)."""
    if model.folded and weights is None:
        raise ValueError("a loaded model's network is folded for inference; pass its weights file")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / CONFIG).write_bytes(config_bytes(model.cfg))
        if weights is None:
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, staging / WEIGHTS)
        else:
            (staging / WEIGHTS).write_bytes(weights)
        metadata = {**metadata, "library_versions": library_versions(), "git_commit": git_commit()}
        (staging / METADATA).write_text(json.dumps(metadata, indent=2, default=float))
        for name, content in (extra_files or {}).items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        files = folder_files(staging)
        (staging / CHECKSUMS).write_text(json.dumps({n: sha256(staging / n) for n in files}, indent=2))
        previous = None
        if folder.exists():
            dropped = sorted(set(folder_files(folder)) - set(files))
            if dropped:
                log.warning("replacing %s drops %s", folder, ", ".join(dropped))
            previous = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(folder, previous)
        os.replace(staging, folder)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def read_files(folder: Path, names) -> dict[str, bytes]:
    """The content of those of ``names`` (relative paths) that the folder has."""
    return {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}


def report_files(folder: Path) -> dict[str, bytes]:
    """Every file under the folder's ``report/``, by relative path: carried over when the
    folder is rewritten, so that a report is marked stale rather than lost."""
    report = folder / REPORT_DIR
    names = [n for n in folder_files(folder) if n.startswith(REPORT_DIR + "/")] if report.is_dir() else []
    return read_files(folder, names)


def measured_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of the folder's :data:`MEASURED` files: what a report records it measured."""
    return {name: sha256(folder / name) for name in MEASURED if (folder / name).is_file()}


def content_checksums(files: dict[str, bytes]) -> dict[str, str]:
    """SHA-256 of the :data:`MEASURED` files among ``files`` (name -> content), before writing."""
    return {name: hashlib.sha256(files[name]).hexdigest() for name in MEASURED if name in files}


def report_status(folder: Path) -> str:
    """"none" without a report; "current" when the model files it measured are unchanged;
    else "stale: <files> changed since the report"."""
    path = folder / MEASURED_FILE
    if not path.is_file():
        return "none"
    measured, now = _read_json(path), measured_checksums(folder)
    changed = sorted(n for n in set(measured) | set(now) if measured.get(n) != now.get(n))
    return "current" if not changed else f"stale: {', '.join(changed)} changed since the report"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFormatError(f"{path} is not valid JSON ({error}); the model folder is "
                               "corrupted; retrain or restore it") from None


def verify(folder: Path) -> dict:
    """Check presence, that the checksums cover exactly the folder's files, each digest, and
    the format version; return the parsed config."""
    if not folder.is_dir():
        raise ModelFormatError(f"{folder} is not a model folder")
    missing = [n for n in (CONFIG, WEIGHTS, METADATA, CHECKSUMS) if not (folder / n).is_file()]
    if missing:
        raise ModelFormatError(f"{folder} is not a complete model folder: missing {', '.join(missing)}")
    expected = _read_json(folder / CHECKSUMS)
    if not isinstance(expected, dict) or not all(isinstance(v, str) for v in expected.values()):
        raise ModelFormatError(f"{folder / CHECKSUMS} must map file names to SHA-256 digests")
    present = set(folder_files(folder))
    unlisted, absent = sorted(present - set(expected)), sorted(set(expected) - present)
    if unlisted or absent:
        problem = (f"files not covered by its checksums: {', '.join(unlisted)}" if unlisted
                   else f"files listed in its checksums are missing: {', '.join(absent)}")
        raise ModelFormatError(f"{folder} has {problem}; the folder was edited by hand; retrain "
                               "or restore it")
    for name, digest in expected.items():
        if sha256(folder / name) != digest:
            raise ModelFormatError(f"{folder / name} does not match its checksum: the model folder "
                                   "is corrupted or was edited; retrain or restore it")
    config = _read_json(folder / CONFIG)
    version = config.get("format_version") if isinstance(config, dict) else None
    if version != FORMAT_VERSION:
        raise ModelFormatError(f"{folder} has model format version {version}; this pelsvae reads "
                               f"version {FORMAT_VERSION}")
    return config


def load_folder(folder: str | os.PathLike | None = None) -> tuple[PELSVAE, dict, Path]:
    """The network (in eval mode), its metadata, and the resolved folder."""
    folder = Path(folder) if folder is not None else DEFAULT_MODEL
    config = verify(folder)
    model = PELSVAE(ModelConfig.from_dict(config["model"]))
    state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval().fold_weight_norm(), _read_json(folder / METADATA), folder
