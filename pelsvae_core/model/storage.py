"""A model is a folder: config, weights, metadata and checksums, loaded without running code.

``config.json``      format version and the :class:`ModelConfig`
``weights.pt``       a state dict, read with ``torch.load(..., weights_only=True)``
``metadata.json``    training data, split seed, metrics, physics, library versions, git commit
``regressors.npz``   the physics -> latent regressors as plain arrays (after ``fit-regressors``)
``latents.parquet``  the real training curves' latent vectors (after ``fit-regressors``)
``report/``          ``pelsvae evaluate``'s numbers, Markdown and figures, and ``measured.json``:
                     the checksums of the model files the report measured
``checksums.json``   SHA-256 of every other file in the folder, ``report/`` included, checked on load

The format fixes the names: the first three files and the checksums are required, the
regressors and latents optional, and ``report/`` holds plain files one level deep;
anything else, a name leading outside the folder, or a link is refused. Sizes are
bounded before anything is read into memory (:data:`MAX_FILE_BYTES`,
:data:`MAX_JSON_BYTES`, :data:`MAX_UNPACKED_BYTES`; the network's shape by
:class:`ModelConfig`), and weights must fit the config and be finite. Every refusal is
a :class:`ModelFormatError` naming the file.

The folder is written beside its destination (``.<name>.<8 characters>``) and moved
into place in one step, so a reader never sees a half-written model; a save killed
midway leaves that staging folder (or, between its two renames, the previous model as
``.<name>.old``), and the next save of the same folder puts the previous model back
and removes the staging folder. Only
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
import re
import secrets
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import torch

from .. import paths
from .config import FORMAT_VERSION, ModelConfig
from .vae import PELSVAE

log = logging.getLogger(__name__)
CONFIG, WEIGHTS, METADATA, CHECKSUMS = "config.json", "weights.pt", "metadata.json", "checksums.json"
REGRESSORS_FILE, LATENTS_FILE = "regressors.npz", "latents.parquet"
#: The inverse problem's recalibration of its Teff intervals (:mod:`pelsvae_core.inference.recalibration`).
INFERENCE_CALIBRATION_FILE = "inference_calibration.json"
REPORT_DIR = "report"
EVALUATION_FILE = f"{REPORT_DIR}/evaluation.json"
MEASURED_FILE = f"{REPORT_DIR}/measured.json"
#: The files whose content a report describes: a change to any of them makes the report stale.
MEASURED = (CONFIG, WEIGHTS, REGRESSORS_FILE, LATENTS_FILE, INFERENCE_CALIBRATION_FILE)
#: What the format allows besides the checksums: these files, and plain files in ``report/``.
REQUIRED = (CONFIG, WEIGHTS, METADATA)
OPTIONAL = (REGRESSORS_FILE, LATENTS_FILE, INFERENCE_CALIBRATION_FILE)
#: Bounds checked before a file is read (the shipped model's largest file is 9 MB, its
#: regressors unpack to 15 MB, its JSON files are under 50 kB): a tampered folder
#: cannot make loading allocate gigabytes.
MAX_FILE_BYTES = 256 * 2**20
MAX_JSON_BYTES = 16 * 2**20
MAX_UNPACKED_BYTES = 256 * 2**20
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
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise ModelFormatError(f"{path} is a link or a special file; a model folder holds "
                                   "plain files only")
        if path.is_file():
            names.append(path.relative_to(folder).as_posix())
    return [n for n in names if n != CHECKSUMS]


def _check_name(name, where: Path) -> None:
    """Refuse a name the format does not allow: only :data:`REQUIRED`, :data:`OPTIONAL` and
    ``report/<file>``, as plain relative paths, so no name can reach outside the folder."""
    parts = name.split("/") if isinstance(name, str) else []
    if not parts or "\\" in name or any(part in ("", ".", "..") for part in parts):
        raise ModelFormatError(f"{where} names {name!r}, which is not a plain relative path "
                               "inside the model folder")
    if name not in REQUIRED + OPTIONAL and not (len(parts) == 2 and parts[0] == REPORT_DIR):
        raise ModelFormatError(f"{where} names {name!r}, which is not a file of a model folder "
                               f"(allowed: {', '.join(REQUIRED + OPTIONAL)}, {REPORT_DIR}/<file>)")


def _set_aside(folder: Path) -> Path:
    """Where a save keeps the previous model between its two renames."""
    return folder.with_name(f".{folder.name}.old")


def _recover_interrupted_save(folder: Path) -> None:
    """Undo what a killed save of ``folder`` left beside it: put a set-aside previous model
    back if the folder is gone, and delete staging folders (``.<name>.<8 characters>``, as
    :func:`_make_staging` and the ``tempfile.mkdtemp`` of earlier versions name them). Two
    processes must not save the same folder at once: the later would delete the earlier's
    staging folder."""
    previous = _set_aside(folder)
    if previous.is_dir() and not previous.is_symlink() and not folder.exists():
        os.replace(previous, folder)
        log.warning("put back %s, set aside by an interrupted save", folder)
    pattern = re.compile(rf"\.{re.escape(folder.name)}\.([a-z0-9_]{{8}}|old)")
    for path in folder.parent.iterdir():
        if pattern.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            log.warning("removed %s, left by an interrupted save", path)


def _make_staging(folder: Path) -> Path:
    """An empty folder beside ``folder``, with the mode of the folder it replaces or, for a
    new one, the mode the umask gives (not :func:`tempfile.mkdtemp`'s 0700, which would
    outlive the rename and lock others out of a shared model)."""
    while True:
        staging = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}")
        try:
            staging.mkdir()
            break
        except FileExistsError:
            continue
    if folder.is_dir():
        os.chmod(staging, stat.S_IMODE(folder.stat().st_mode))
    return staging


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
    for name in extra_files or {}:
        _check_name(name, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _recover_interrupted_save(folder)
    staging = _make_staging(folder)
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
            previous = _set_aside(folder)
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
    measured, now = read_json(path), measured_checksums(folder)
    changed = sorted(n for n in set(measured) | set(now) if measured.get(n) != now.get(n))
    return "current" if not changed else f"stale: {', '.join(changed)} changed since the report"


def read_json(path: Path) -> dict:
    """A JSON object from the folder, its size bounded before it is read."""
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ModelFormatError(f"{path} is larger than {MAX_JSON_BYTES // 2**20} MiB; the model "
                               "folder is corrupted; retrain or restore it")
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ModelFormatError(f"{path} is not valid JSON ({error}); the model folder is "
                               "corrupted; retrain or restore it") from None
    if not isinstance(content, dict):
        raise ModelFormatError(f"{path} must hold a JSON object, not {type(content).__name__}; "
                               "retrain or restore the folder")
    return content


def _check_archive(path: Path) -> None:
    """A zip archive (``weights.pt``, ``regressors.npz``) whose members, as its directory
    states them, unpack to at most :data:`MAX_UNPACKED_BYTES`: no zip bomb is opened."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise ModelFormatError(f"{path} is not a readable zip archive ({error}); retrain or "
                               "restore the folder") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ModelFormatError(f"{path} unpacks to {unpacked / 2**20:.0f} MiB, above the "
                               f"{MAX_UNPACKED_BYTES // 2**20} MiB a model folder may hold; "
                               "retrain or restore it")


def verify(folder: Path) -> ModelConfig:
    """Check that the folder holds exactly the files its checksums name, each allowed by the
    format, bounded in size and matching its digest, and the format version; return the
    network's configuration."""
    if not folder.is_dir():
        previous = _set_aside(folder)
        hint = (f"; an interrupted save left the previous model in {previous}: rename it back "
                "(the next save does)" if previous.is_dir() else "")
        raise ModelFormatError(f"{folder} is not a model folder{hint}")
    present = set(folder_files(folder))
    missing = [n for n in REQUIRED + (CHECKSUMS,) if not (folder / n).is_file()]
    if missing:
        raise ModelFormatError(f"{folder} is not a complete model folder: missing {', '.join(missing)}")
    expected = read_json(folder / CHECKSUMS)
    if not all(isinstance(v, str) for v in expected.values()):
        raise ModelFormatError(f"{folder / CHECKSUMS} must map file names to SHA-256 digests")
    for name in expected:
        _check_name(name, folder / CHECKSUMS)
    unlisted, absent = sorted(present - set(expected)), sorted(set(expected) - present)
    if unlisted or absent:
        problem = (f"files not covered by its checksums: {', '.join(unlisted)}" if unlisted
                   else f"files listed in its checksums are missing: {', '.join(absent)}")
        raise ModelFormatError(f"{folder} has {problem}; the folder was edited by hand; retrain "
                               "or restore it")
    for name, digest in expected.items():
        if (folder / name).stat().st_size > MAX_FILE_BYTES:
            raise ModelFormatError(f"{folder / name} is larger than {MAX_FILE_BYTES // 2**20} MiB, "
                                   "the most a model folder's file may be; retrain or restore it")
        if sha256(folder / name) != digest:
            raise ModelFormatError(f"{folder / name} does not match its checksum: the model folder "
                                   "is corrupted or was edited; retrain or restore it")
    for name in (WEIGHTS, REGRESSORS_FILE):
        if name in expected:
            _check_archive(folder / name)
    config = read_json(folder / CONFIG)
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(f"{folder} has model format version {version}; this pelsvae reads "
                               f"version {FORMAT_VERSION}")
    try:
        return ModelConfig.from_dict(config.get("model"))
    except ValueError as error:
        raise ModelFormatError(f"{folder / CONFIG}: {error}; retrain or restore the folder") from None


def _read_weights(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict in ``path``, read without running code, with the names and shapes of
    ``expected`` (the network ``config.json`` describes)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways on crafted content; all mean the same
        raise ModelFormatError(f"{path} is not a state dict that loads without running code "
                               f"({type(error).__name__}); retrain or restore the folder") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFormatError(f"{path} must hold a dict of tensors; retrain or restore the folder")
    unexpected, lacking = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
    if unexpected or lacking:
        raise ModelFormatError(f"{path} does not fit the network of {CONFIG}: {len(unexpected)} "
                               f"unexpected and {len(lacking)} missing tensors (e.g. "
                               f"{(unexpected or lacking)[0]}); retrain or restore the folder")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ModelFormatError(f"{path} does not fit the network of {CONFIG}: {key} has shape "
                                   f"{tuple(value.shape)} where the config gives "
                                   f"{tuple(expected[key].shape)}; retrain or restore the folder")
    return state


def load_folder(folder: str | os.PathLike | None = None) -> tuple[PELSVAE, dict, Path]:
    """The network (in eval mode), its metadata, and the resolved folder. Weights that are not
    finite once folded (NaN, or a weight-normalised direction of zero length) are refused:
    they would decode NaN curves."""
    folder = Path(folder) if folder is not None else DEFAULT_MODEL
    model = PELSVAE(verify(folder))
    model.load_state_dict(_read_weights(folder / WEIGHTS, model.state_dict()))
    model = model.eval().fold_weight_norm()
    bad = next((k for k, v in model.state_dict().items() if not torch.isfinite(v).all()), None)
    if bad is not None:
        raise ModelFormatError(f"{folder / WEIGHTS} gives non-finite weights (in {bad}); retrain "
                               "or restore the folder")
    return model, read_json(folder / METADATA), folder
