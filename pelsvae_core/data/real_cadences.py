"""Real survey cadences: the observation times of real stars, as small tables shipped with pelsvae.

A real cadence is what a survey actually delivered for one star: the times of its usable
epochs in one band, read by the survey's own reader (:mod:`.gaia_dr3`, :mod:`.ogle4_bulge`)
with every rejected or unreadable row already left out and counted there (for Gaia DR3, the
rows Gaia flagged ``rejected_by_photometry`` or ``rejected_by_variability``). Only the times
are kept, for a fixed random subset of the survey's stars, in
``pelsvae_core/cadence_tables/<name>.npz``, beside ``<name>.json``, which records where they
came from: the source files and their SHA-256, the reader, the selection rule and seed, every
curve not used by reason, the rows the reader rejected by reason, the star IDs, the numbers of
epochs and baselines, and a checksum of the table's content. :func:`build_tables` (``pelsvae
data cadences``) rebuilds them from the survey data; :func:`compare_tables` says whether two
sets of tables agree.

Time scale: the readers' own, days on the axis JD - 2450000 (MJD = value + 49999.5):

- OGLE-IV: HJD - 2450000 exactly as OGLE gives it (Udalski, Szymanski & Szymanski 2015,
  AcA 65, 1; :mod:`.ogle4_bulge`);
- Gaia DR3: BJD in TCB - 2450000, Gaia's ``time`` (BJD_TCB - 2455197.5) plus 5197.5 d by
  :func:`.gaia_dr3.gaia_to_ogle_time` (what it neglects, about 0.001 d, is in that module).

So one star's OGLE and Gaia epochs share one axis, and a cadence's times are the dates the
survey observed (2010-2017 for OGLE-IV, 2014-2017 for Gaia DR3).

Storage (``allow_pickle=False``): ``star_id`` (strings), ``n_epochs`` (one per star, in the
order of ``star_id``) and the stars' times one after another, either as ``time`` (float64) or,
where every time has a fixed number of decimals (OGLE gives five), as ``time_ticks``: whole
multiples of 1 / ``ticks_per_day`` day, each the difference from the previous one (int32
where they fit). Dividing the whole number of ticks by ``ticks_per_day`` gives back exactly
the float the reader gave (a correctly rounded division of two exact numbers);
:func:`encode_times` checks it for every time before choosing ticks. The differences
compress to about a third of the size of float64.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..atomic import atomic_path, write_text
from ..paths import data_root
from . import gaia_dr3, ogle4_bulge
from .records import LightCurve
from .sources import require, sha256_of

#: Where the shipped tables live (package data of ``pelsvae_core``).
TABLE_DIR = Path(__file__).resolve().parents[1] / "cadence_tables"
#: Seed of the random choice of stored stars; the stars are stored in the order drawn.
SELECTION_SEED = 0
#: A curve with fewer usable epochs than this is not a cadence (counted, not stored).
MIN_EPOCHS = 3
#: Tick sizes tried for exact storage, finest last: 1/10**k day for k in this range.
TICK_DECIMALS = range(0, 9)
#: Version of the tables' layout, recorded in their metadata.
FORMAT = 1


@dataclass(frozen=True)
class TableSpec:
    """One real cadence: a survey's stars in one band, read by ``reader`` from ``folder``."""

    name: str
    folder: str               # under the data root
    sources: tuple[str, ...]  # the files the reader reads there
    reader: Callable[[Path], Iterator[LightCurve]]
    survey: str
    band: str
    n_stars: int
    time_scale: str
    description: str


OGLE_TIME = "HJD - 2450000 (d), as OGLE gives it (pelsvae_core.data.ogle4_bulge)"
GAIA_TIME = ("BJD(TCB) - 2450000 (d): Gaia DR3 time (BJD(TCB) - 2455197.5) + 5197.5 d, "
             "pelsvae_core.data.gaia_dr3.gaia_to_ogle_time")
#: The tables, by cadence name. Gaia DR3 G (Gaia Collaboration, Vallenari et al. 2023, A&A 674,
#: A1; Riello et al. 2021, A&A 649, A3) and OGLE-IV I and V (Soszynski et al. 2014, AcA 64, 177)
#: of the Galactic-bulge RR Lyrae in the shared data. OGLE-IV's I band has ~2,000 epochs a star
#: (up to 15,000 in its densest fields), hence fewer stars, to keep the tables small.
SPECS: dict[str, TableSpec] = {spec.name: spec for spec in (
    TableSpec("gaia-dr3-bulge", "gaia_dr3_rrlyr", (gaia_dr3.CATALOGUE, gaia_dr3.ARCHIVE),
              gaia_dr3.read_gaia_dr3, gaia_dr3.SURVEY, "G", 200, GAIA_TIME,
              "Gaia DR3 G-band epochs of Galactic-bulge RR Lyrae (Gaia's rejected rows left out)"),
    TableSpec("ogle4-bulge-I", "ogle4_blg_rrlyr", (ogle4_bulge.CATALOGUE, ogle4_bulge.ARCHIVE),
              ogle4_bulge.read_ogle4_bulge, ogle4_bulge.SURVEY, "I", 30, OGLE_TIME,
              "OGLE-IV I-band epochs of Galactic-bulge RR Lyrae"),
    TableSpec("ogle4-bulge-V", "ogle4_blg_rrlyr", (ogle4_bulge.CATALOGUE, ogle4_bulge.ARCHIVE),
              ogle4_bulge.read_ogle4_bulge, ogle4_bulge.SURVEY, "V", 200, OGLE_TIME,
              "OGLE-IV V-band epochs of Galactic-bulge RR Lyrae"),
)}


@dataclass(frozen=True)
class CadenceTable:
    """A real cadence's stars (``star_ids``, in stored order), their times and the provenance."""

    name: str
    star_ids: tuple[str, ...]
    times: tuple[np.ndarray, ...]
    metadata: dict

    def __len__(self) -> int:
        return len(self.star_ids)


def content_sha256(star_ids: Iterable[str], times: Iterable[np.ndarray]) -> str:
    """A checksum of what a table holds, independent of how it is stored: each star's ID and
    its times as little-endian float64, in order."""
    digest = hashlib.sha256()
    for star, t in zip(star_ids, times):
        digest.update(star.encode() + b"\0")
        digest.update(np.asarray(t, dtype="<f8").tobytes())
    return digest.hexdigest()


def encode_times(flat: np.ndarray) -> dict[str, np.ndarray]:
    """``flat`` times as the fewest-decimals exact ticks (differences), else as float64."""
    for decimals in TICK_DECIMALS:
        per_day = 10**decimals
        ticks = np.round(flat * per_day).astype(np.int64)
        if np.array_equal(ticks / per_day, flat):
            steps = np.diff(ticks, prepend=np.int64(0))
            small = np.abs(steps).max() < 2**31  # int32 steps compress ~10 % better
            return {"time_ticks": steps.astype(np.int32) if small else steps,
                    "ticks_per_day": np.array(per_day, dtype=np.int64)}
    return {"time": flat.astype(np.float64)}


def decode_times(arrays) -> np.ndarray:
    """The flat times of a table's arrays (:func:`encode_times`)."""
    if "time" in arrays:
        return np.asarray(arrays["time"], dtype=float)
    return np.cumsum(arrays["time_ticks"], dtype=np.int64) / int(arrays["ticks_per_day"])


def _summary(values: np.ndarray, digits: int) -> dict:
    """Min, median and max, rounded to ``digits`` (whole numbers stay whole, but a median)."""
    whole = np.issubdtype(values.dtype, np.integer)
    ends = (int(values.min()), int(values.max())) if whole else \
        (round(float(values.min()), digits), round(float(values.max()), digits))
    return {"min": ends[0], "median": round(float(np.median(values)), digits), "max": ends[1]}


def select(spec: TableSpec, root: Path) -> tuple[list[LightCurve], dict]:
    """The stored stars' curves, in stored order, and how they were chosen: the reader's curves
    in the band, those it could not use or with fewer than :data:`MIN_EPOCHS` epochs counted by
    reason, then :attr:`TableSpec.n_stars` of the rest (sorted by ID) drawn with
    :data:`SELECTION_SEED`."""
    usable, unused = [], Counter()
    rejected_all = Counter()
    curves = 0
    for curve in spec.reader(root / spec.folder):
        if curve.band != spec.band:
            continue
        curves += 1
        rejected_all.update(curve.bad_lines)
        if curve.read_problem is not None:
            unused[curve.read_problem] += 1
        elif curve.n_obs < MIN_EPOCHS:
            unused[f"fewer than {MIN_EPOCHS} epochs"] += 1
        else:
            usable.append(curve)
    if len(usable) < spec.n_stars:
        raise ValueError(f"{spec.name}: only {len(usable)} usable {spec.band}-band curves in "
                         f"{root / spec.folder}, {spec.n_stars} wanted")
    usable.sort(key=lambda c: c.star_id)
    order = np.random.default_rng(SELECTION_SEED).choice(len(usable), spec.n_stars, replace=False)
    chosen = [usable[i] for i in order]
    rejected_chosen = Counter()
    for curve in chosen:
        rejected_chosen.update(curve.bad_lines)
    selection = {
        "rule": (f"the reader's {spec.band}-band curves without a read problem and with at least "
                 f"{MIN_EPOCHS} epochs, sorted by star ID; {spec.n_stars} drawn without "
                 f"replacement by numpy.random.default_rng({SELECTION_SEED}).choice, stored in "
                 f"the order drawn; cadence seed s uses stored star s mod {spec.n_stars}"),
        "seed": SELECTION_SEED, "curves_read": curves, "usable": len(usable),
        "not_usable": dict(sorted(unused.items())), "stored": spec.n_stars,
        "rows_rejected_by_reader_all_curves": dict(sorted(rejected_all.items())),
        "rows_rejected_by_reader_stored_stars": dict(sorted(rejected_chosen.items())),
    }
    return chosen, selection


def _fingerprint(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": sha256_of(path)}


def build_table(spec: TableSpec, root: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the metadata of one table, from the survey data under ``root`` (the
    provenance records the files of the shared data: a survey read from a plain folder of
    its files instead of its archive is refused here, as it has no archive to fingerprint)."""
    sources = {f"{spec.folder}/{name}": _fingerprint(require(root / spec.folder / name))
               for name in spec.sources}
    chosen, selection = select(spec, root)
    star_ids = [c.star_id for c in chosen]
    times = [np.asarray(c.time, dtype=float) for c in chosen]
    for star, t in zip(star_ids, times):
        if not (np.all(np.isfinite(t)) and np.all(np.diff(t) >= 0)):
            raise ValueError(f"{spec.name}: the reader gave {star} unsorted or non-finite times")
    n_epochs = np.array([t.size for t in times], dtype=np.int64)
    baselines = np.array([t[-1] - t[0] for t in times])
    arrays = {"star_id": np.array(star_ids, dtype=str), "n_epochs": n_epochs,
              **encode_times(np.concatenate(times))}
    metadata = {
        "format": FORMAT, "name": spec.name, "description": spec.description,
        "survey": spec.survey, "band": spec.band, "time_scale": spec.time_scale,
        "reader": f"{spec.reader.__module__}.{spec.reader.__name__}",
        "sources": sources,
        "selection": selection,
        "encoding": ("float64" if "time" in arrays else
                     f"ticks of 1/{int(arrays['ticks_per_day'])} d, differences"),
        "epochs": {"total": int(n_epochs.sum()), **_summary(n_epochs, 1)},
        "baseline_days": _summary(baselines, 3),
        "first_time": round(float(min(t[0] for t in times)), 5),
        "last_time": round(float(max(t[-1] for t in times)), 5),
        "star_ids": star_ids,
        "content_sha256": content_sha256(star_ids, times),
        "rebuild": "pelsvae data cadences (pelsvae_core.data.real_cadences.build_tables)",
    }
    return arrays, metadata


def write_table(folder: Path, name: str, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """``<name>.npz`` and ``<name>.json`` in ``folder``, each written atomically."""
    with atomic_path(folder / f"{name}.npz") as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    write_text(folder / f"{name}.json", json.dumps(metadata, indent=1) + "\n")


def build_tables(root: str | Path | None = None, out: str | Path = TABLE_DIR,
                 names: Iterable[str] | None = None) -> dict[str, dict]:
    """Rebuild the tables ``names`` (default all of :data:`SPECS`) from the survey data under
    ``root`` (default :func:`~pelsvae_core.paths.data_root`) into ``out``; their metadata."""
    root, out = data_root(root), Path(out)
    chosen = list(SPECS) if names is None else list(names)
    unknown = [n for n in chosen if n not in SPECS]
    if unknown:
        raise ValueError(f"unknown real cadence(s) {', '.join(unknown)}; known: {', '.join(SPECS)}")
    built = {}
    for name in chosen:
        arrays, metadata = build_table(SPECS[name], root)
        write_table(out, name, arrays, metadata)
        built[name] = metadata
    return built


def read_table(name: str, folder: str | Path = TABLE_DIR) -> CadenceTable:
    """A stored table, checked against its metadata (name, star IDs, content checksum)."""
    folder = Path(folder)
    if name not in SPECS:
        raise ValueError(f"unknown real cadence {name!r}; known: {', '.join(SPECS)}")
    paths = folder / f"{name}.npz", folder / f"{name}.json"
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"real cadence table {path} is missing; rebuild it with "
                                    f"`pelsvae data cadences`")
    metadata = json.loads(paths[1].read_text())
    with np.load(paths[0], allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    star_ids = tuple(str(s) for s in arrays["star_id"])
    bounds = np.concatenate([[0], np.cumsum(arrays["n_epochs"])])
    flat = decode_times(arrays)
    times = tuple(flat[bounds[i]:bounds[i + 1]] for i in range(len(star_ids)))
    problems = []
    if metadata.get("name") != name:
        problems.append(f"its metadata names {metadata.get('name')!r}")
    if bounds[-1] != flat.size:
        problems.append(f"{flat.size} times for {bounds[-1]} epochs")
    elif list(star_ids) != metadata.get("star_ids") or \
            content_sha256(star_ids, times) != metadata.get("content_sha256"):
        problems.append("its content does not match the checksum in its metadata")
    if problems:
        raise ValueError(f"real cadence table {paths[0]} is inconsistent ({'; '.join(problems)}); "
                         f"rebuild it with `pelsvae data cadences`")
    for t in times:
        t.setflags(write=False)
    return CadenceTable(name, star_ids, times, metadata)


def compare_tables(built: str | Path, stored: str | Path = TABLE_DIR,
                   names: Iterable[str] | None = None) -> list[str]:
    """What differs between two folders of tables (e.g. a fresh rebuild and the shipped ones):
    content, star IDs or any metadata; an empty list when they agree."""
    differences = []
    for name in (list(SPECS) if names is None else list(names)):
        try:
            new, old = read_table(name, built), read_table(name, stored)
        except (OSError, ValueError) as error:
            differences.append(f"{name}: {error}")
            continue
        keys = sorted(set(new.metadata) | set(old.metadata))
        changed = [k for k in keys if new.metadata.get(k) != old.metadata.get(k)]
        if changed:
            differences.append(f"{name}: metadata differ in {', '.join(changed)}")
    return differences

