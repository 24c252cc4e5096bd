"""Run a simulation on Dask, resumably, and the ``pelsvae simulate`` command.

The driver checks every option (:func:`.plan.make_plan`) before writing anything,
then writes the fitted priors and the manifest, and hands shards to Dask
(``dask.distributed``: a ``LocalCluster`` of ``workers`` single-threaded processes,
or the cluster at ``scheduler``). At most two shards per worker are in flight, and a
task returns only a few numbers, so the driver never holds the population; each
worker loads the model once (:func:`worker_model`) and writes its shards itself,
atomically. The driver records each finished shard in the manifest, so an
interrupted run started again with the same options makes only the shards it
lacks; a shard file not in the manifest, or whose checksum differs, is made again.
``workers=0`` runs the shards in this process, without Dask.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import tomllib
from pathlib import Path

from tqdm.auto import tqdm

from .errors import SimulationError

PRIORS_FILE = "priors.npz"
#: Shards in flight per worker: one running, one queued, so no worker waits on the driver.
IN_FLIGHT_PER_WORKER = 2
#: Options a config file may set (the keywords of :func:`simulate`).
OPTIONS = ("model", "n", "classes", "cadence", "bands", "out", "workers", "scheduler", "seed",
           "shard_size", "distance", "region", "a_v", "positions", "fixed", "prior_table",
           "band_map", "depth", "radius_deg", "start_mjd", "regressor", "noise", "lclib",
           "data_root", "progress")


#: Models loaded in this process, by folder: each Dask worker loads its model once.
MODELS: dict = {}


def worker_model(folder: str):
    """The model of ``folder``, loaded once per process; a worker that loads it runs torch on
    one thread (a worker is one core's worth of work)."""
    if folder not in MODELS:
        import torch

        from ..api import load_model

        torch.set_num_threads(1)
        MODELS[folder] = load_model(folder)
    return MODELS[folder]


def run_shard(plan, index: int, out: str) -> dict:
    """Make, write and checksum shard ``index`` (and its LCLIB files); a few numbers back.
    A shard is one core's work on one BLAS thread, in a Dask worker (Dask's default) and in
    this process alike: OpenBLAS sums some products in another order on two threads (the
    density's per-component products of 63 rows, measured), and the shard's bytes must not
    depend on where it ran."""
    from threadpoolctl import threadpool_limits

    from . import output
    from .shard import make_shard

    model = worker_model(plan.model)
    started = time.process_time()
    with threadpool_limits(limits=1):
        stars, bands, epochs, lclib = make_shard(model, plan, index)
    metadata = {"format": output.FORMAT_VERSION, "run": plan.fingerprint(), "shard": index,
                "time": "MJD" if plan.cadence.opsim else f"days from start_mjd={plan.cadence.start_mjd}",
                "mag": "the model band's system (Vega for V, V_CSS, I; AB for ugriz); flux AB nJy"}
    record = output.write_shard(output.shard_table(stars, bands, epochs, plan.band_names, metadata),
                                output.shard_path(Path(out), index))
    record["lclib"] = {}
    for cls, events in lclib.items():
        path = output.lclib_path(Path(out), cls, index)
        filters = [band for band, _ in plan.band_map[cls]]
        output.write_lclib(path, f"PELSVAE-{cls}", survey_name(plan), filters,
                           ["PERIOD", "TEFF", "ABS_MAG", "DISTANCE_PC"], events)
        record["lclib"][cls] = output.sha256(path)
    record.update(epochs=int(len(epochs["time"])), cpu_s=time.process_time() - started)
    return record


def survey_name(plan) -> str:
    return "LSST" if plan.cadence.opsim else str(plan.cadence.preset_spec() if isinstance(
        plan.cadence.preset, str) else dict(plan.cadence.preset)["name"]).upper()


def _start(out: Path, model, options: dict):
    """The plan, and the manifest's finished shards when ``out`` holds this run already."""
    from . import output
    from .plan import make_plan
    from .priors import load_priors

    manifest = output.read_manifest(out)
    reused = None
    if manifest is not None and (out / PRIORS_FILE).is_file():
        reused = load_priors((out / PRIORS_FILE).read_bytes())
    plan = make_plan(model, priors=reused, **options)
    if manifest is None:
        if out.is_dir() and any(out.iterdir()):
            raise SimulationError(f"{out} is not empty and holds no simulation: choose an empty or "
                                  "new folder")
        return plan, {}
    if manifest.get("fingerprint") != plan.fingerprint():
        raise SimulationError(f"{out} holds a simulation with other settings (run "
                              f"{manifest.get('fingerprint')}); choose another folder")
    return plan, output.trusted_shards(out, manifest)


def simulate(model=None, *, n: int | None = None, classes=None, cadence=None, out=None,
             bands=None, workers: int = 1, scheduler: str | None = None, seed: int = 0,
             progress: bool = True, data_root=None, **options) -> dict:
    """Simulate ``n`` stars of ``classes`` (a name, a list, or {class: fraction}) under a
    ``cadence`` (a preset of :mod:`pelsvae_core.cadences`, a dict with ``name`` and changed
    numbers, or an OpSim ``.db``) in ``bands``, into Parquet shards under ``out``.

    ``model``: a folder or a loaded :class:`~pelsvae_core.Model` (default: the shipped one).
    ``workers``: Dask worker processes of a local cluster (0: this process, no Dask), or
    ``scheduler``: the address of a running Dask cluster. Further options (see
    :func:`.plan.make_plan`): ``shard_size``, ``distance`` (pc, or [min, max] uniform in
    volume), ``region`` ({"ra": [lo, hi], "dec": [lo, hi]}), ``a_v``, ``positions`` (a
    table with distance_pc [, ra, dec, a_v]), ``fixed`` ({"period": ..., "teff": ...,
    "abs_mag": ...}), ``prior_table``, ``band_map`` ({survey band: model band}), ``depth``
    ({band: five-sigma AB depth} for presets), ``radius_deg``, ``start_mjd``,
    ``regressor``, ``noise``, ``lclib``. Results do not depend on ``workers``; a run
    started again on the same ``out`` with the same options resumes. Returns a summary.
    """
    from ..api import Model, load_model
    from ..atomic import atomic_path, remove_stale
    from . import output
    from .priors import save_priors

    if out is None:
        raise SimulationError("choose an output folder (out=...)")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise SimulationError(f"workers must be a whole number >= 0, not {workers!r}")
    out = Path(out).expanduser().resolve()
    loaded = model if isinstance(model, Model) else load_model(model)
    plan, done = _start(out, loaded, {"n": n, "classes": classes, "cadence": cadence,
                                      "bands": bands, "seed": seed, "data_root_path": data_root,
                                      **options})
    output.check_writable(out)
    if workers == 0 and scheduler is None:
        MODELS[plan.model] = loaded
    with atomic_path(out / PRIORS_FILE) as tmp:
        tmp.write_bytes(save_priors({c: p for c, p in plan.priors.items() if hasattr(p, "primary")}))
    manifest = {"format": output.FORMAT_VERSION, "fingerprint": plan.fingerprint(),
                "settings": plan.settings(), "prior_source": plan.prior_source,
                "n_shards": plan.n_shards, "shards": {str(k): v for k, v in done.items()}}
    output.write_manifest(out, manifest)
    remove_stale(out / output.SHARDS, [output.shard_path(out, i).name for i in range(plan.n_shards)])
    todo = [i for i in range(plan.n_shards) if i not in done]
    started = time.time()
    bar = tqdm(total=plan.n, initial=sum(r["rows"] for r in done.values()), unit="star",
               desc="simulate", disable=not progress)
    try:
        for record_index, record in _execute(plan, todo, out, workers, scheduler):
            manifest["shards"][str(record_index)] = record
            output.write_manifest(out, manifest)
            bar.update(record["rows"])
    finally:
        bar.close()
    wall = time.time() - started
    made = [manifest["shards"][str(i)] for i in todo]
    return {"out": str(out), "stars": plan.n, "shards": plan.n_shards, "made": len(todo),
            "kept": len(done), "wall_s": wall, "cpu_s": sum(r["cpu_s"] for r in made),
            "epochs": sum(r["epochs"] for r in made), "fingerprint": plan.fingerprint()}


def local_cluster(workers: int):
    """A Dask ``LocalCluster`` of ``workers`` single-threaded worker processes, without a
    dashboard. Dask's default ``MALLOC_TRIM_THRESHOLD_`` for workers is left out: it turns off
    glibc's adaptive mmap threshold, so every large array is mapped afresh, and a shard took
    2.5x the CPU (half of it in the kernel) of the same shard outside Dask; its other defaults
    (one BLAS thread per worker) stay."""
    import dask
    from dask.distributed import LocalCluster

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            scheduler_kwargs={"dashboard": False})


def _execute(plan, todo: list[int], out: Path, workers: int, scheduler: str | None):
    """(index, record) of each shard as it finishes: here, or on Dask with a bounded window."""
    if not todo:
        return
    if workers == 0 and scheduler is None:
        for index in todo:
            yield index, run_shard(plan, index, str(out))
        return
    from dask.distributed import Client, as_completed

    cluster = None if scheduler else local_cluster(workers)
    try:
        with Client(scheduler or cluster) as client:
            window = IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))
            shared = client.scatter(plan, broadcast=True)
            futures, index_of = as_completed(), {}

            def submit(index: int) -> None:
                future = client.submit(run_shard, shared, index, str(out), pure=False)
                index_of[future.key] = index
                futures.add(future)

            for index in todo[:window]:
                submit(index)
            pending = iter(todo[window:])
            for future in futures:
                yield index_of.pop(future.key), future.result()
                following = next(pending, None)
                if following is not None:
                    submit(following)
    finally:
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------- command line

def _pairs(values: list[str], flag: str, number: bool = False) -> dict:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SimulationError(f"{flag} takes KEY=VALUE, not {item!r}")
        try:
            out[key.strip()] = float(value) if number else value.strip()
        except ValueError:
            raise SimulationError(f"{flag} {key}: {value!r} is not a number") from None
    return out


def _numbers(text: str, flag: str, count: tuple[int, ...]) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise SimulationError(f"{flag} takes comma-separated numbers, not {text!r}") from None
    if len(values) not in count:
        raise SimulationError(f"{flag} takes {' or '.join(map(str, count))} numbers, not {text!r}")
    return values


def _classes(text: str):
    """``RRLYR`` / ``RRLYR,CEP`` (equal shares) / ``RRLYR=0.7,CEP=0.3``."""
    if "=" not in text:
        return text
    return _pairs(text.split(","), "--class", number=True)


def read_config(path: str | os.PathLike) -> dict:
    """A TOML config whose keys are :func:`simulate`'s keywords (unknown keys refused)."""
    try:
        config = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SimulationError(f"cannot read the config {path}: {error}") from None
    unknown = sorted(set(config) - set(OPTIONS))
    if unknown:
        raise SimulationError(f"{path}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(OPTIONS)}")
    return config


def options_from_args(args: argparse.Namespace) -> dict:
    """The config's options, overridden by every flag given on the command line."""
    options = read_config(args.config) if args.config else {}
    flags = {"model": args.model, "n": args.n, "cadence": args.cadence, "out": args.out,
             "workers": args.workers, "scheduler": args.scheduler, "seed": args.seed,
             "shard_size": args.shard_size, "a_v": args.a_v, "positions": args.positions,
             "prior_table": args.prior_table, "radius_deg": args.radius_deg,
             "start_mjd": args.start_mjd, "regressor": args.regressor, "data_root": args.data_root}
    options.update({k: v for k, v in flags.items() if v is not None})
    if args.cls:
        options["classes"] = _classes(args.cls)
    if args.band:
        options["bands"] = [b.strip() for item in args.band for b in item.split(",") if b.strip()]
    if args.distance:
        values = _numbers(args.distance, "--distance", (1, 2))
        options["distance"] = values[0] if len(values) == 1 else values
    if args.region:
        ra0, ra1, dec0, dec1 = _numbers(args.region, "--region", (4,))
        options["region"] = {"ra": [ra0, ra1], "dec": [dec0, dec1]}
    for flag, key, number in (("--fix", "fixed", True), ("--band-map", "band_map", False),
                              ("--depth", "depth", True)):
        given = _pairs(getattr(args, key), flag, number)
        if given:
            options[key] = {**options.get(key, {}), **given}
    if args.no_noise:
        options["noise"] = False
    if args.lclib:
        options["lclib"] = True
    if args.no_progress:
        options["progress"] = False
    if isinstance(options.get("cadence"), str) and options["cadence"] == "":
        options.pop("cadence")
    return options


def main(args: argparse.Namespace) -> int:
    """The ``simulate`` sub-command: a summary line on success, one error line otherwise."""
    try:
        options = options_from_args(args)
        summary = simulate(**options)
    except (SimulationError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rate = summary["stars"] / summary["wall_s"] if summary["made"] and summary["wall_s"] > 0 else math.nan
    print(json.dumps({**summary, "stars_per_s": rate}, indent=1))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``pelsvae simulate`` on the CLI's sub-parsers (the handler is ``args.func``)."""
    p = subparsers.add_parser(
        "simulate", help="ensembles of variable stars under a survey cadence, on Dask",
        description="Simulate a population of variable stars (physics from priors fitted on the "
                    "real stars) observed under a cadence preset or an OpSim table, into "
                    "Parquet shards (one row per star, nested light curves). Flags override "
                    "--config; a run started again on the same --out resumes.")
    p.add_argument("--config", help="TOML file of options (the keywords of pelsvae_core.simulate.simulate)")
    p.add_argument("--class", dest="cls", help="class, CLS1,CLS2 (equal shares) or CLS1=0.7,CLS2=0.3")
    p.add_argument("--n", type=int, help="number of stars")
    p.add_argument("--cadence", help="preset (ogle, gaia, lsst, ztf) or an OpSim .db file")
    p.add_argument("--band", action="append", help="survey band(s), repeatable or comma-separated")
    p.add_argument("--out", help="output folder (resumes a run of the same options)")
    p.add_argument("--workers", type=int, help="local Dask worker processes (0: no Dask); default 1")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--seed", type=int)
    p.add_argument("--shard-size", type=int, help="stars per Parquet shard")
    p.add_argument("--distance", help="pc, or MIN,MAX (uniform in volume); default 1000,20000")
    p.add_argument("--region", help="RA0,RA1,DEC0,DEC1 in degrees: positions uniform on the sphere")
    p.add_argument("--a-v", type=float, help="extinction A_V (mag) for every star")
    p.add_argument("--positions", help="CSV/Parquet with distance_pc [, ra, dec, a_v], one star per row")
    p.add_argument("--prior-table", help="CSV/Parquet of cls, period [, teff, abs_mag, subtype] rows to draw from")
    p.add_argument("--fix", action="append", default=[], dest="fixed", help="period=0.55, teff=7000 or abs_mag=0.5")
    p.add_argument("--band-map", action="append", default=[], dest="band_map",
                   help="SURVEY=MODEL: draw a survey band with a model band the class was trained in")
    p.add_argument("--depth", action="append", default=[], help="BAND=M5: five-sigma AB depth for a preset")
    p.add_argument("--radius-deg", type=float, help="field-of-view radius of OpSim visits (default 1.75, LSST)")
    p.add_argument("--start-mjd", type=float, help="time of a preset's first night (default 0)")
    p.add_argument("--regressor", help="linear, rf, mlp, mdn or kernel (default: the conditional density the model's fit chose, where fitted, else rf)")
    p.add_argument("--no-noise", action="store_true", help="noise-free magnitudes (errors still given)")
    p.add_argument("--lclib", action="store_true", help="also write SNANA LCLIB files per class")
    p.add_argument("--model", help="model folder (default: the shipped model)")
    p.add_argument("--data-root", help="survey data folder (for the cross-match priors)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=main)
    return p
