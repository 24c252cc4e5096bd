"""A model is a folder: config, weights, metadata and checksums, loaded without running code.

``config.json``    format version and the :class:`ModelConfig`
``weights.pt``     a state dict, read with ``torch.load(..., weights_only=True)``
``metadata.json``  training data, split seed, metrics, library versions, git commit
``checksums.json`` SHA-256 of each file above, checked on load

The folder is written beside its destination and moved into place in one
step, so a reader never sees a half-written model.
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


def save_folder(folder: str | os.PathLike, model: PELSVAE, metadata: dict,
                extra_files: dict[str, bytes] | None = None, weights: bytes | None = None) -> Path:
    """Write a model folder atomically; ``extra_files`` (name -> bytes) are checksummed too.

    ``weights`` is the content of an existing weights file, for rewriting a loaded model's
    folder: a loaded network has its weight normalisation folded for speed and is not
    saved again (its state would have another layout)."""
    if model.folded and weights is None:
        raise ValueError("a loaded model's network is folded for inference; pass its weights file")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / CONFIG).write_text(json.dumps(
            {"format_version": FORMAT_VERSION, "model": model.cfg.to_dict()}, indent=2))
        if weights is None:
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, staging / WEIGHTS)
        else:
            (staging / WEIGHTS).write_bytes(weights)
        metadata = {**metadata, "library_versions": library_versions(), "git_commit": git_commit()}
        (staging / METADATA).write_text(json.dumps(metadata, indent=2, default=float))
        for name, content in (extra_files or {}).items():
            (staging / name).write_bytes(content)
        files = sorted(p.name for p in staging.iterdir())
        (staging / CHECKSUMS).write_text(json.dumps({n: sha256(staging / n) for n in files}, indent=2))
        previous = None
        if folder.exists():
            dropped = sorted({p.name for p in folder.iterdir()} - set(files) - {CHECKSUMS})
            if dropped:
                log.warning("replacing %s drops %s, which described the previous model "
                            "(re-run `pelsvae evaluate` for a new report)", folder, ", ".join(dropped))
            previous = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(folder, previous)
        os.replace(staging, folder)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def verify(folder: Path) -> dict:
    """Check presence, format version and checksums; return the parsed config."""
    if not folder.is_dir():
        raise ModelFormatError(f"{folder} is not a model folder")
    missing = [n for n in (CONFIG, WEIGHTS, METADATA, CHECKSUMS) if not (folder / n).is_file()]
    if missing:
        raise ModelFormatError(f"{folder} is not a complete model folder: missing {', '.join(missing)}")
    expected = json.loads((folder / CHECKSUMS).read_text())
    for name, digest in expected.items():
        if not (folder / name).is_file() or sha256(folder / name) != digest:
            raise ModelFormatError(f"{folder / name} does not match its checksum: the model folder "
                                   "is corrupted or was edited; retrain or restore it")
    config = json.loads((folder / CONFIG).read_text())
    version = config.get("format_version")
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
    return model.eval().fold_weight_norm(), json.loads((folder / METADATA).read_text()), folder
