"""The Parquet cache of cleaned, folded curves: built once, rebuilt when inputs or settings change.

``stars.parquet`` has one row per star and band, kept or not: a dropped star
carries the reason in ``status``, so every light curve read is accounted for.
Each row names its star in its survey (``star_key``) and across surveys
(``physical_star``), its subtype in the one vocabulary (``subtype``, ``blazhko``;
the survey's own ``subtype_label``), and the star's Teff and absolute G on the
calibrated scale (``teff``, ``teff_sigma``, ``teff_source``, ``teff_reason``,
likewise ``abs_mag_*``) and in the paper's convention (``teff_paper``,
``abs_mag_paper`` and their sources): :class:`.records.PhysicalParameters`.
``manifest.json`` records the fingerprint (input files, settings, pipeline
version) the table was built from, and the size and SHA-256 of ``stars.parquet``
so that a truncated or damaged table is rebuilt rather than read. It is written
last, so an interrupted build leaves no manifest that matches and the next load
rebuilds; the next build also removes the temporary files a killed one left.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import paths
from ..paths import DataRootError
from ..atomic import atomic_path, remove_stale, write_text
from .periods import estimate_period
from .preprocess import FoldedCurve, PreprocessConfig, fold
from .records import LightCurve
from .surveys import CATALOGUE_FOLDERS, SURVEYS, DataRoot

log = logging.getLogger(__name__)
#: Bump when the pipeline's output changes for the same inputs and settings.
#: 2: OGLE-IV bulge and Gaia DR3; physical_star, subtype vocabulary, calibrated and paper physics.
#: 3: the Stripe 82 absolute magnitudes' provenance says they return an assumed M_V relation.
#: 4: periods searched within the class's limits (152 CRTS RR Lyrae no longer at 1-101 d or < 0.2 d).
PIPELINE_VERSION = 4
KEPT = "kept"
STARS_FILE = "stars.parquet"
MANIFEST_FILE = "manifest.json"
CURVE_COLUMNS = ("phase", "mag", "err")


@dataclass
class Cache:
    """A loaded cache: the star table and the manifest it was built with."""

    stars: pd.DataFrame
    manifest: dict
    directory: Path

    @property
    def kept(self) -> pd.DataFrame:
        return self.stars[self.stars["status"] == KEPT]


def fingerprint(root: Path, cfg: PreprocessConfig) -> str:
    """Hash of every input file's name, size and modification time, the settings and the pipeline."""
    digest = hashlib.sha256(json.dumps({"cfg": cfg.to_dict(), "version": PIPELINE_VERSION},
                                       sort_keys=True).encode())
    folders = [s.folder for s in SURVEYS] + list(CATALOGUE_FOLDERS)
    for folder in sorted(folders):
        for dirpath, _, files in sorted(os.walk(root / folder)):
            for name in sorted(files):
                stat = (Path(dirpath) / name).stat()
                rel = os.path.relpath(Path(dirpath) / name, root)
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _describe(path: Path) -> dict:
    """The size and SHA-256 of ``path``, which the manifest pins."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"size": path.stat().st_size, "sha256": digest}


def _mismatch(path: Path, recorded: dict) -> str | None:
    """How ``path`` differs from the size and SHA-256 the manifest recorded, or None."""
    if not path.is_file():
        return f"{path} is missing"
    size = path.stat().st_size
    if size != recorded.get("size"):
        return (f"{path} is {size} bytes, not the {recorded.get('size')} bytes its manifest "
                f"records (truncated or damaged)")
    if _describe(path)["sha256"] != recorded.get("sha256"):
        return f"{path} does not have the SHA-256 its manifest records (damaged)"
    return None


def process(lc: LightCurve, cfg: PreprocessConfig) -> dict:
    """One row of the star table: metadata, status and, if kept, the folded curve."""
    if not lc.read_problem and not np.isfinite(lc.period) and lc.n_obs >= cfg.min_observations:
        lc.period = estimate_period(lc.time, lc.mag, lc.err, lc.cls)
    result = fold(lc, cfg)
    row = {
        "survey": lc.survey, "band": lc.band, "star_id": lc.star_id, "star_key": lc.star_key,
        "physical_star": lc.physical_star, "cls": lc.cls, "subtype": lc.subtype,
        "blazhko": lc.blazhko, "subtype_label": lc.subtype_label, "period": lc.period,
        "period_source": lc.period_source, "n_read": lc.n_obs,
        "n_bad_lines": int(sum(lc.bad_lines.values())), "bad_lines": json.dumps(lc.bad_lines),
        **asdict(lc.params),
    }
    if isinstance(result, FoldedCurve):
        row.update(status=KEPT, n_kept=int(result.phase.size), amplitude=result.amplitude,
                   mean_mag=result.mean_mag, snr=result.snr, epoch=result.epoch,
                   n_clipped=result.n_clipped,
                   **{c: getattr(result, c).astype(np.float32) for c in CURVE_COLUMNS})
    else:
        empty = np.empty(0, dtype=np.float32)
        row.update(status=result, n_kept=0, amplitude=np.nan, mean_mag=np.nan, snr=np.nan,
                   epoch=np.nan, n_clipped=0, **{c: empty for c in CURVE_COLUMNS})
    return row


def _process_star(args: tuple[LightCurve, PreprocessConfig]) -> dict:
    return process(*args)


#: A worker's thread limit, kept alive for the worker's life (:func:`_one_thread`).
_WORKER_LIMITS: list = []


def _one_thread() -> None:
    """Pool initializer: one BLAS and OpenMP thread per worker process. The pool already runs one
    worker per core; left at their default, each worker's NumPy least squares and FINUFFT's
    OpenMP runtime start a thread per core too, and on the 2-core machine the CRTS period
    searches took 130 s with two workers against 67 s with one (38 s with this limit)."""
    _WORKER_LIMITS.append(threadpool_limits(limits=1))


def _shared_text(row: dict) -> dict:
    """``row`` with its text values interned: the long provenance strings, equal for thousands of
    curves, come back from the worker processes as separate copies otherwise."""
    return {k: sys.intern(v) if isinstance(v, str) else v for k, v in row.items()}


def _rows(root: DataRoot, cfg: PreprocessConfig, workers: int, progress: bool,
          surveys: Iterable[str] | None) -> list[dict]:
    chosen = [s for s in SURVEYS if (surveys is None or s.key in surveys)
              and (root.path / s.folder).is_dir()]
    if not chosen:
        raise DataRootError(f"{root.path} holds none of the survey folders "
                            f"{', '.join(s.folder for s in SURVEYS)}")
    rows: list[dict] = []
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    pool = context.Pool(workers, initializer=_one_thread) if workers > 1 else None
    try:
        for s in chosen:
            work = ((lc, cfg) for lc in s.read(root))
            results = pool.imap(_process_star, work, chunksize=16) if pool else map(_process_star, work)
            rows.extend(map(_shared_text, tqdm(results, desc=f"{s.name:<18}", unit=" curves",
                                               disable=not progress, mininterval=0.5)))
    finally:
        if pool:
            pool.terminate()
    return rows


def build(data_root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
          cfg: PreprocessConfig | None = None, workers: int | None = None,
          progress: bool = True, surveys: Iterable[str] | None = None) -> Cache:
    """Read every survey present under the data root, clean and fold each curve, write the cache.

    ``surveys`` (keys of :data:`SURVEYS`) restricts the build to some surveys; such
    a partial cache is never taken as current by :func:`load`.
    """
    cfg = cfg or PreprocessConfig()
    root = paths.data_root(data_root)
    directory = paths.cache_dir(cache_dir)
    workers = workers or min(2, os.cpu_count() or 1)
    started = time.perf_counter()
    rows = _rows(DataRoot(root), cfg, workers, progress, surveys)
    stars = pd.DataFrame(rows)
    table = pa.Table.from_pandas(stars, preserve_index=False)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale(directory, (STARS_FILE, MANIFEST_FILE)):
        log.info("removed %s, left behind by an interrupted build", stale)
    (directory / MANIFEST_FILE).unlink(missing_ok=True)
    with atomic_path(directory / STARS_FILE) as tmp:
        pq.write_table(table, tmp, compression="zstd")
        files = {STARS_FILE: _describe(tmp)}
    manifest = {
        "fingerprint": fingerprint(root, cfg), "pipeline_version": PIPELINE_VERSION,
        "files": files,
        "data_root": str(root), "config": cfg.to_dict(),
        "surveys": sorted(set(stars["survey"])),
        "surveys_missing": [s.folder for s in SURVEYS if not (root / s.folder).is_dir()],
        "surveys_requested": None if surveys is None else sorted(surveys),
        "bad_lines": dict(sum((Counter(json.loads(b)) for b in stars["bad_lines"]), Counter())),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=2))
    log.info("cache written to %s (%d curves, %.0f s)", directory, len(stars),
             manifest["build_seconds"])
    return Cache(stars, manifest, directory)


def is_current(data_root: str | os.PathLike | None = None,
               cache_dir: str | os.PathLike | None = None,
               cfg: PreprocessConfig | None = None) -> bool:
    """Whether the cache on disk was built, completely, from these inputs and settings, and is intact.

    Why it is not is logged: as a warning when its files no longer match the manifest.
    """
    directory = paths.cache_dir(cache_dir)
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        return _not_current(directory, f"it has no {MANIFEST_FILE}")
    except ValueError:
        return _not_current(directory, f"its {MANIFEST_FILE} is not valid JSON", damaged=True)
    if manifest.get("surveys_requested") is not None:
        return _not_current(directory, "it was built from only some of the surveys")
    if manifest.get("fingerprint") != fingerprint(paths.data_root(data_root),
                                                  cfg or PreprocessConfig()):
        return _not_current(directory, "the input files, settings or pipeline version changed")
    files = manifest.get("files") or {}
    if STARS_FILE not in files:
        return _not_current(directory, f"its {MANIFEST_FILE} does not record the size and SHA-256 "
                                       f"of {STARS_FILE} (written by an older version)")
    for name, recorded in files.items():
        problem = _mismatch(directory / name, recorded)
        if problem:
            return _not_current(directory, problem, damaged=True)
    return True


def _not_current(directory: Path, reason: str, damaged: bool = False) -> bool:
    """Log why the cache cannot be used (a warning if it is damaged); return False."""
    log.log(logging.WARNING if damaged else logging.INFO, "cache in %s is not current: %s",
            directory, reason)
    return False


def load(data_root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
         cfg: PreprocessConfig | None = None, rebuild: bool = True, progress: bool = True) -> Cache:
    """The cache for these inputs and settings, rebuilt first if it is missing or stale."""
    directory = paths.cache_dir(cache_dir)
    if not is_current(data_root, directory, cfg):
        if not rebuild:
            raise FileNotFoundError(f"no current cache in {directory}; run `pelsvae data build`")
        log.info("cache in %s is missing or stale: rebuilding", directory)
        return build(data_root, directory, cfg, progress=progress)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    stars = pq.read_table(directory / STARS_FILE).to_pandas()
    return Cache(stars, manifest, directory)
