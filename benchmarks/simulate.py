"""`pelsvae simulate` end to end to Parquet: curves per second per core, scaling, memory.

Targets (issue 16): >= 10,000 curves/s per core end to end (300 epochs, one band),
>= 1.8x from 1 to 2 workers. Measured here:

- one band: RR Lyrae in g under the LSST-like preset with 150 nights x 2 visits
  (300 epochs); five bands: u, g, r, i, z with 30 nights x 2 visits each (300 epochs
  in all, one physical star and one draw per star);
- per core: stars / CPU seconds spent making and writing the shards, after a warm-up run of
  one full shard (each process one torch thread; the one-off prior fit and planning are in
  ``driver_cpu_s``), so a machine shared with other work still measures the work itself;
  each single-core run is repeated (``--repeat``) and the median reported beside every run,
  because on a shared machine one run can be 20 % off; wall time and the load average are
  printed beside it;
- scaling: the same run on a warm Dask cluster of 1, then of 2 single-threaded workers (or
  the counts ``--workers`` names),
  reached by its scheduler's address (startup and model loading excluded), wall time of the
  whole call and of its shards alone (after the plan: reading the cross-match and fitting
  the priors, serial whatever the workers, a one-off that a long run amortises);
- peak memory: this process's peak resident set after the single-core runs, and each
  Dask worker's after the scaling runs;
- LightCurveLynx's SinWaveModel on the same cadence and count, where it is installed
  (its ``simulate_lightcurves``, serial, with its own LSST noise model).

    .venv/bin/python benchmarks/simulate.py [--n 20000] [--repeat 3] [--skip-dask] [--workers 1,2] [--skip-lynx] [--regressor KIND]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pelsvae_core import load_model
from pelsvae_core.simulate.plan import DEFAULT_SHARD_SIZE
from pelsvae_core.simulate.run import local_cluster, simulate

ONE_BAND = dict(cadence={"name": "lsst", "nights": 150}, bands=["g"])
FIVE_BANDS = dict(cadence={"name": "lsst", "nights": 30}, bands=["u", "g", "r", "i", "z"])


def timed_run(model, out: Path, n: int, **options) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cpu, wall = time.process_time(), time.time()
    summary = simulate(model, n=n, classes="RRLYR", out=out, seed=1, progress=False, **options)
    cpu, wall = time.process_time() - cpu, time.time() - wall
    size = sum(p.stat().st_size for p in (out / "shards").glob("*.parquet"))
    return {"stars": n, "epochs_per_star": summary["epochs"] / n, "wall_s": round(wall, 2),
            "shards_wall_s": round(summary["wall_s"], 2), "driver_cpu_s": round(cpu, 2),
            "shard_cpu_s": round(summary["cpu_s"], 2),
            "curves_per_s_per_core": round(n / summary["cpu_s"]),
            "curves_per_s_wall": round(n / wall), "parquet_bytes_per_epoch": round(size / summary["epochs"], 1)}


def repeated_runs(model, out: Path, n: int, repeat: int, **options) -> dict:
    """:func:`timed_run` ``repeat`` times: the last run's numbers, every run's rate per core, and
    their median as the rate."""
    runs = [timed_run(model, out, n, **options) for _ in range(repeat)]
    rates = [run["curves_per_s_per_core"] for run in runs]
    return {**runs[-1], "curves_per_s_per_core": round(float(np.median(rates))),
            "curves_per_s_per_core_runs": rates}


def dask_scaling(model, root: Path, n: int, worker_counts: list[int], **options) -> dict:
    """The same run on a cluster of each number of workers in turn, each cluster warmed by a
    small run first (its workers start and load the model), reached by its scheduler's address;
    speed-ups against the first count (1 unless told otherwise)."""
    from dask.distributed import Client

    runs, rss = {}, {}
    for workers in worker_counts:
        with local_cluster(workers) as cluster, Client(cluster) as client:
            address = cluster.scheduler_address
            simulate(model, n=2000 * workers, classes="RRLYR", out=root / f"warm{workers}", seed=2,
                     progress=False, scheduler=address, shard_size=1000, **ONE_BAND, **options)
            runs[workers] = timed_run(model, root / f"dask{workers}", n, scheduler=address,
                                      **ONE_BAND, **options)
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            rss[workers] = sorted(round(v / 1024) for v in peaks.values())
    base = runs[worker_counts[0]]
    return {"runs": {str(w): run for w, run in runs.items()},
            "speedup": {f"{worker_counts[0]}_to_{w}": round(base["wall_s"] / run["wall_s"], 2)
                        for w, run in runs.items()},
            "shards_speedup": {f"{worker_counts[0]}_to_{w}":
                               round(base["shards_wall_s"] / run["shards_wall_s"], 2)
                               for w, run in runs.items()},
            "worker_peak_rss_mb": {str(w): peaks for w, peaks in rss.items()}}


def lightcurvelynx_sine(n: int, times: np.ndarray) -> dict:
    """LightCurveLynx's sine model on the same times (one band), serial, noise from the same
    five-sigma depth (its FiveSigmaDepthNoiseModel), into a NestedFrame in memory."""
    import pandas as pd
    from lightcurvelynx.astro_utils.passbands import Passband, PassbandGroup
    from lightcurvelynx.math_nodes.np_random import NumpyRandomFunc
    from lightcurvelynx.models.basic_models import SinWaveModel
    from lightcurvelynx.noise_models.base_noise_models import FiveSigmaDepthNoiseModel
    from lightcurvelynx.obstable.fake_obs_table import FakeObsTable
    from lightcurvelynx.simulate import simulate_lightcurves
    from lightcurvelynx.survey_info import SurveyInfo

    wave = np.arange(3800.0, 5600.0, 10.0)
    box = np.column_stack([wave, ((wave > 4000) & (wave < 5500)).astype(float)])
    passbands = PassbandGroup([Passband(box, "LSST", "g", trim_quantile=None)])
    table = pd.DataFrame({"time": times, "ra": 0.0, "dec": 0.0, "filter": "g", "zp": 31.4,
                          "five_sigma_depth": 25.0})   # LSST g single visit, as pelsvae's preset
    survey = SurveyInfo(FakeObsTable(table, radius=1.75), passbands=passbands,
                        noise_model=FiveSigmaDepthNoiseModel())
    model = SinWaveModel(brightness=1e5, amplitude=NumpyRandomFunc("uniform", low=1e4, high=5e4),
                         frequency=NumpyRandomFunc("uniform", low=1.0, high=3.0),
                         t0=0.0, ra=0.0, dec=0.0, redshift=0.0)
    cpu, wall = time.process_time(), time.time()
    result = simulate_lightcurves(model, n, survey, progress_bar=False,
                                  rng=np.random.default_rng(0))
    cpu, wall = time.process_time() - cpu, time.time() - wall
    return {"stars": n, "epochs_per_star": len(times), "rows": len(result), "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "curves_per_s_per_core": round(n / cpu)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="stars per single-core run")
    parser.add_argument("--repeat", type=int, default=3, help="single-core runs of each kind")
    parser.add_argument("--dask-n", type=int, default=40_000, help="stars per scaling run")
    parser.add_argument("--workers", default="1,2", help="worker counts of the scaling runs, comma-separated")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-lynx", action="store_true")
    parser.add_argument("--regressor", help="what generates the stars (default: the model's choice)")
    args = parser.parse_args()
    try:
        worker_counts = sorted({int(w) for w in args.workers.split(",")})
    except ValueError:
        parser.error(f"--workers takes whole numbers separated by commas, not {args.workers!r}")
    if worker_counts[0] < 1:
        parser.error("--workers counts must be at least 1")
    torch.set_num_threads(1)
    model = load_model()
    report = {"load_average_before": os.getloadavg(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # warm, as the Dask workers are and as every shard after a long run's first is: the
        # first shard pays one-off costs (lazy imports, the model's first decode, the memory
        # allocator's first arrays of a shard's size, page by page)
        chosen = {"regressor": args.regressor}
        report["regressor"] = model.physics.regressor_for("RRLYR", args.regressor)
        timed_run(model, root / "warm", DEFAULT_SHARD_SIZE, workers=0, **ONE_BAND, **chosen)
        report["one_band_300_epochs"] = repeated_runs(model, root / "one", args.n, args.repeat,
                                                      workers=0, **ONE_BAND, **chosen)
        report["five_bands_300_epochs"] = repeated_runs(model, root / "five", args.n, args.repeat,
                                                        workers=0, **FIVE_BANDS, **chosen)
        report["peak_rss_mb_single_core"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        if not args.skip_dask:
            report["dask"] = dask_scaling(model, root, args.dask_n,
                                          worker_counts, **chosen)
        if not args.skip_lynx:
            try:
                from pelsvae_core.cadences import times_for
                report["lightcurvelynx_sine"] = lightcurvelynx_sine(
                    min(args.n, 2_000), times_for(ONE_BAND["cadence"], 0))
            except ImportError as error:
                report["lightcurvelynx_sine"] = f"not installed ({error})"
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
