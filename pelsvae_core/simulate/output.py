"""What a simulation writes: Parquet shards with nested light curves, a manifest, SNANA LCLIB.

A shard is one Parquet file, one row per star: its true parameters as plain columns,
and two nested columns, ``bands`` (per band: the survey and model band, mean
magnitude, amplitude, extinction, intrinsic colour (band - G)_0 (NaN where none could be
derived: the mean magnitude is then M_G-based), latent vector) and ``lightcurve`` (per epoch:
time, band, mag, mag_err, flux in nJy, flux_err, detected), both Arrow
list<struct> columns that pandas, pyarrow and nested-pandas read as they are. Units
sit in each field's metadata (``unit``) and in the file's (``pelsvae`` JSON).

Every file is written atomically (:mod:`pelsvae_core.atomic`): a reader, or a resumed
run, sees a whole shard or none. The manifest (``manifest.json``) records the run's
settings and, per finished shard, its rows and SHA-256; only the driver writes it,
after the shard file is in place, so a shard absent from it is never trusted.

SNANA's LCLIB (Kessler et al. 2019, PASP 131, 094501, Sect. 6.5; the format read by
``genmag_LCLIB.c``: a global header of SURVEY, FILTERS (one character per band),
MODEL, MODEL_PARNAMES, RECUR_CLASS and NEVENT, then per event START_EVENT, NROW,
PARVAL, ``S:`` rows of day and one magnitude per filter, END_EVENT) holds each
star's noise-free curve over one period, first and last rows equal, as the
PLAsTiCC and ELAsTiCC libraries of Galactic variables do.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_path, write_text
from ..model.storage import sha256
from .errors import SimulationError

MANIFEST = "manifest.json"
SHARDS = "shards"
FORMAT_VERSION = 1
#: Units of the columns (field metadata ``unit``); the rest are dimensionless or labels.
UNITS = {"period": "d", "teff": "K", "abs_mag": "mag", "distance_pc": "pc", "ra": "deg",
         "dec": "deg", "a_v": "mag", "epoch": "d", "time": "d", "mag": "mag", "mag_err": "mag",
         "flux": "nJy", "flux_err": "nJy", "mean_mag": "mag", "amplitude": "mag",
         "extinction": "mag", "colour": "mag", "vi0": "mag"}
#: Columns only the Parquet writer's dictionary encoding helps (the rest are random floats).
DICTIONARY_COLUMNS = ["cls", "subtype", "regressor", "abs_mag_source", "teff_source",
                      "lightcurve.list.element.time", "lightcurve.list.element.band",
                      "bands.list.element.band", "bands.list.element.model_band"]
#: SNANA's LCLIB reader refuses magnitudes outside 5 to 99.01 (MAGBRIGHT_LCLIB, MAGFAINT_LCLIB
#: of genmag_LCLIB.h), lines longer than 200 characters, and marks an unset PARVAL -999.
LCLIB_MAG_RANGE = (5.0, 99.01)
LCLIB_LINE = 200
LCLIB_MISSING = -999.0


def _field(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, metadata={"unit": UNITS[name]} if name in UNITS else None)


def _list(offsets: np.ndarray, columns: dict[str, pa.Array]) -> pa.ListArray:
    struct = pa.StructArray.from_arrays(list(columns.values()),
                                        fields=[_field(k, v.type) for k, v in columns.items()])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct)


def _dictionary(codes: np.ndarray, names) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(list(names), pa.string()))


def shard_table(stars: dict[str, np.ndarray], bands: dict[str, np.ndarray],
                epochs: dict[str, np.ndarray], band_names, metadata: dict) -> pa.Table:
    """The Arrow table of a shard. ``stars``: one array per column, one value per star;
    ``bands``: per (star, band) rows in star order, with ``offsets`` (n + 1) and ``band``/
    ``model_band`` codes into ``band_names``; ``epochs``: per epoch rows in star then time
    order, with ``offsets`` and a ``band`` code."""
    columns = {}
    for name, values in stars.items():
        values = np.asarray(values)
        columns[name] = pa.array(values.astype(str) if values.dtype.kind in "UO" else values)
    z = bands["z"]
    columns["bands"] = _list(bands["offsets"], {
        "band": _dictionary(bands["band"], band_names),
        "model_band": _dictionary(bands["model_band"], band_names),
        "mean_mag": pa.array(bands["mean_mag"]), "amplitude": pa.array(bands["amplitude"]),
        "amplitude_clipped": pa.array(bands["amplitude_clipped"]),
        "extinction": pa.array(bands["extinction"]), "colour": pa.array(bands["colour"]),
        "z": pa.FixedSizeListArray.from_arrays(pa.array(z.ravel()), z.shape[1])})
    columns["lightcurve"] = _list(epochs["offsets"], {
        "time": pa.array(epochs["time"]), "band": _dictionary(epochs["band"], band_names),
        **{k: pa.array(epochs[k].astype(np.float32, copy=False)) for k in ("mag", "mag_err", "flux", "flux_err")},
        "detected": pa.array(epochs["detected"])})
    schema = pa.schema([_field(k, v.type) for k, v in columns.items()],
                       metadata={"pelsvae": json.dumps(metadata, sort_keys=True)})
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def shard_path(out: Path, index: int) -> Path:
    return Path(out) / SHARDS / f"part-{index:05d}.parquet"


def write_shard(table: pa.Table, path: Path) -> dict:
    """Write a shard atomically; its rows and SHA-256 for the manifest."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="snappy", write_statistics=False,
                       use_dictionary=[c for c in DICTIONARY_COLUMNS
                                       if c.split(".")[0] in table.column_names])
    return {"rows": table.num_rows, "sha256": sha256(path)}


def check_writable(out: Path) -> None:
    """The output folder exists or can be made, and files can be written in it."""
    out = Path(out)
    try:
        (out / SHARDS).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SimulationError(f"cannot create the output folder {out}: {error.strerror or error}") from None
    if not os.access(out, os.W_OK | os.X_OK) or not os.access(out / SHARDS, os.W_OK | os.X_OK):
        raise SimulationError(f"the output folder {out} is not writable")


def read_manifest(out: Path) -> dict | None:
    path = Path(out) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise SimulationError(f"{path} is unreadable ({error}); remove the folder or choose another") from None


def write_manifest(out: Path, manifest: dict) -> None:
    write_text(Path(out) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


def trusted_shards(out: Path, manifest: dict) -> dict[int, dict]:
    """The manifest's finished shards whose files (the shard, its LCLIB files) are there with
    the recorded checksums."""
    done = {}
    for key, record in manifest.get("shards", {}).items():
        paths = {shard_path(out, int(key)): record["sha256"]}
        paths.update({lclib_path(out, cls, int(key)): digest
                      for cls, digest in record.get("lclib", {}).items()})
        if all(path.is_file() and sha256(path) == digest for path, digest in paths.items()):
            done[int(key)] = record
    return done


def lclib_path(out: Path, cls: str, index: int) -> Path:
    return Path(out) / "lclib" / cls / f"part-{index:05d}.TEXT"


def write_lclib(path: Path, model_name: str, survey: str, filters: str, parnames: list[str],
                events: list[dict]) -> None:
    """An LCLIB text file of periodic events: each ``{"id", "parval" (list), "ra", "dec",
    "day" (rows), "mag" (rows x filters)}``, its first and last rows equal. Refuses magnitudes
    SNANA would refuse and band names longer than one character."""
    if any(len(f) != 1 for f in filters):
        raise SimulationError(f"LCLIB names each band with one character; bands {list(filters)!r} "
                          "cannot be written (map them to one-character survey bands)")
    lines = ["DOCUMENTATION:",
             "  PURPOSE: periodic variables generated by pelsvae from physics (Teff, M, period)",
             "  REF:",
             "  - AUTHOR: Martinez-Palomera, Bloom & Abrahams 2022, AJ 164, 263 (PELS-VAE)",
             "  NOTES: noise-free apparent magnitudes over one period; PARVAL -999 = unknown",
             "DOCUMENTATION_END:", "",
             f"SURVEY: {survey}", f"FILTERS: {''.join(filters)}", f"MODEL: {model_name}",
             f"MODEL_PARNAMES: {','.join(parnames)}", "RECUR_CLASS: RECUR-PERIODIC",
             f"NEVENT: {len(events)}", ""]
    for event in events:
        mag = np.asarray(event["mag"], float)
        low, high = LCLIB_MAG_RANGE
        if not (np.isfinite(mag).all() and mag.min() >= low and mag.max() <= high):
            raise SimulationError(f"LCLIB event {event['id']}: magnitudes {mag.min():.2f} to "
                              f"{mag.max():.2f} fall outside SNANA's {low} to {high} (give a distance)")
        values = [LCLIB_MISSING if not math.isfinite(v) else v for v in event["parval"]]
        position = "" if not math.isfinite(event["ra"]) else f" RA: {event['ra']:.6f} DEC: {event['dec']:.6f}"
        lines += [f"START_EVENT: {event['id']}", f"NROW: {len(event['day'])}{position}",
                  "PARVAL: " + ",".join(f"{v:.6g}" for v in values)]
        lines += [f"S: {day:10.5f} " + " ".join(f"{m:8.4f}" for m in row)
                  for day, row in zip(event["day"], mag)]
        lines += [f"END_EVENT: {event['id']}", ""]
    if max(map(len, lines)) >= LCLIB_LINE:
        raise SimulationError(f"an LCLIB line would exceed SNANA's {LCLIB_LINE} characters")
    write_text(path, "\n".join(lines))


def read_lclib(path: Path) -> tuple[dict, list[dict]]:
    """The global header and the events of an LCLIB file written by :func:`write_lclib`."""
    header, events, event, in_doc = {}, [], None, False
    for number, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.split("#")[0].strip()
        if not line or ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        if key in ("DOCUMENTATION", "DOCUMENTATION_END"):
            in_doc = key == "DOCUMENTATION"
            continue
        if in_doc:
            continue
        if key == "START_EVENT":
            event = {"id": value, "day": [], "mag": []}
        elif event is None:
            header[key] = value
        elif key == "NROW":
            words = value.split()
            event["nrow"] = int(words[0])
            extra = dict(zip(words[1::2], words[2::2]))
            event["ra"] = float(extra.get("RA:", "nan"))
            event["dec"] = float(extra.get("DEC:", "nan"))
        elif key == "PARVAL":
            names = header["MODEL_PARNAMES"].split(",")
            event["parval"] = dict(zip(names, (float(v) for v in value.split(","))))
        elif key == "S":
            numbers = [float(v) for v in value.split()]
            if len(numbers) != 1 + len(header["FILTERS"]):
                raise SimulationError(f"{path}:{number}: expected day and {len(header['FILTERS'])} magnitudes")
            event["day"].append(numbers[0])
            event["mag"].append(numbers[1:])
        elif key == "END_EVENT":
            if value != event["id"] or len(event["day"]) != event["nrow"]:
                raise SimulationError(f"{path}:{number}: event {event['id']} ends badly")
            events.append({**event, "day": np.array(event["day"]), "mag": np.array(event["mag"])})
            event = None
    return header, events
