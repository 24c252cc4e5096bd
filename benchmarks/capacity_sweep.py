"""Which decoder capacity do real curves need? Trains one model per setting on the shipped
recipe's data and splits, and prints, per setting, what issue 14 asks the capacity to buy
and what it may cost:

- the grouped classifier two-sample accuracy of real test curves against their
  reconstructions (encode, decode at the same phases, plus noise of the quoted errors),
  per class with at least 100 test stars, beside the same test against each curve's own
  8th-order Fourier fit plus noise (the reference the target is measured from: reconstructed
  <= own-Fourier-8 + 0.05, :mod:`pelsvae_core.evaluation.fidelity`);
- the test reconstruction RMSE in magnitudes (median over the classes) and the active latent units;
- the training time (on this machine, loaded or not) and the decode time of 100 curves at
  300 phases on one thread (target <= 5 ms; the shipped model is timed in the same run).

    .venv/bin/python benchmarks/capacity_sweep.py                 # the settings below
    .venv/bin/python benchmarks/capacity_sweep.py --setting wide model.hidden=128 \\
        model.latent_dim=24 --json sweep.json

Each setting is a name and ``section.name=value`` overrides of train/default.toml (as
``pelsvae train --set``); each training set is built once. Checkpoints go to a temporary
folder and are deleted.

On a machine with a GPU but without ``../shared/data``, pack the shipped model's training set
here and sweep there, several settings at once (``train.device=cuda`` in each setting):

    .venv/bin/python benchmarks/capacity_sweep.py --pack sweep_set.npz
    python3 benchmarks/capacity_sweep.py --training-set sweep_set.npz --jobs 8 --json out.json \
        --setting wide-gpu train.device=cuda model.hidden=128

A packed set holds phases and normalised magnitudes (both in [0, 1]) as 16-bit integers
(rounding error <= 7.7e-6 of a curve's range) and errors as 16-bit floats (relative rounding
<= 4.9e-4): far below any curve's noise, and a third of the size (a transfer limit of 64 MB).
Settings that need another training set (``data.*``) cannot use a packed set.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from threadpoolctl import threadpool_limits

from pelsvae_core import load_model
from pelsvae_core.atomic import write_text
from pelsvae_core.data.dataset import TrainingSet, build_training_set
from pelsvae_core.data.preprocess import PreprocessConfig
from pelsvae_core.data.surveys import SURVEY_KEYS
from pelsvae_core.evaluation.fidelity import TARGET_CURVES, two_sample_accuracy
from pelsvae_core.evaluation.reconstruction import reconstruction_table
from pelsvae_core.evaluation.suite import reconstruction_features
from pelsvae_core.model.decoder import Decoder
from pelsvae_core.model.recipe import load_recipe, model_config
from pelsvae_core.model.training import fit
from pelsvae_core.paths import REPO_ROOT

RECIPE = REPO_ROOT / "train" / "default.toml"
#: The settings swept by default, each a change to the shipped recipe (models/default is
#: measured as it is): narrower, more latent dimensions, more harmonics, longer, and every survey
#: with the calibrated physics (a different test split: compare its classes with care).
SETTINGS = {
    "hidden128": ["model.hidden=128"],
    "latent24": ["model.latent_dim=24"],
    "order16": ["model.encoder_fourier_order=16", "model.decoder_fourier_order=16"],
    "long": ["train.epochs=120", "train.patience=20"],
    "all-calibrated": ["data.physics='calibrated'",
                       "data.surveys=" + repr(list(SURVEY_KEYS)).replace("'", '"')],
}
N_CURVES, N_PHASES = 100, 300
#: Arrays of a packed training set stored as 16-bit integers over [0, 1].
UNIT_INTERVAL = ("phase", "mag")
QUANTUM = 65535


def pack_training_set(data: TrainingSet, path: Path) -> None:
    """Write ``data`` compactly (module docstring) for a sweep on a machine without the survey data."""
    arrays = {}
    for name, value in vars(data).items():
        if name in UNIT_INTERVAL:
            if value.min() < 0 or value.max() > 1:
                raise ValueError(f"{name} leaves [0, 1]: it cannot be packed as 16-bit integers")
            arrays[name] = np.round(value * QUANTUM).astype(np.uint16)
        elif name == "err":
            arrays[name] = value.astype(np.float16)
        elif isinstance(value, np.ndarray):
            arrays[name] = value
    arrays["labels"] = np.array([json.dumps({"classes": data.classes, "bands": data.bands})])
    with open(path, "wb") as stream:
        np.savez_compressed(stream, **arrays)


def unpack_training_set(path: Path) -> TrainingSet:
    """The set :func:`pack_training_set` wrote, as float32 arrays again."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    labels = json.loads(str(arrays.pop("labels")[0]))
    for name in (*UNIT_INTERVAL, "err"):
        scale = QUANTUM if name in UNIT_INTERVAL else 1
        arrays[name] = (arrays[name].astype(np.float64) / scale).astype(np.float32)
    return TrainingSet(**arrays, classes=tuple(labels["classes"]), bands=tuple(labels["bands"]))


def decode_ms(decoder: Decoder, threads: int, repeats: int = 30) -> float:
    """Median time (ms, one thread) to decode 100 curves at 300 random phases."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(N_CURVES, decoder.network.cfg.latent_dim)).astype(np.float32)
    phases = np.sort(rng.uniform(0, 1, (N_CURVES, N_PHASES)), axis=1)
    with threadpool_limits(1):
        torch.set_num_threads(1)
        decoder.decode(z, "RRLYR", phases)
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            decoder.decode(z, "RRLYR", phases)
            samples.append((time.perf_counter() - started) * 1000)
    torch.set_num_threads(threads)
    return statistics.median(samples)


def measure(decoder: Decoder, data: TrainingSet, active_units, threads: int) -> dict:
    """The two-sample accuracies, RMSE, active units and decode time of one trained decoder
    on the test split of ``data`` (the set it was trained on)."""
    test = data.subset((data.split == "test") & ~data.augmented)
    real, reconstructed, own_fourier = reconstruction_features(decoder, test)
    classes = np.array(test.classes)[test.cls]
    two_sample = {}
    for cls in sorted(set(classes)):
        pick = classes == cls
        if len(set(test.star_key[pick])) < TARGET_CURVES:
            continue
        two_sample[cls] = {
            "reconstructed": two_sample_accuracy(real[pick], reconstructed[pick], test.star_key[pick]),
            "own_fourier_8": two_sample_accuracy(real[pick], own_fourier[pick], test.star_key[pick])}
    table = reconstruction_table(decoder, data.split_part("test"), data.split_part("train"))
    return {"two_sample": two_sample,
            "median_class_rmse": float(table.loc[table["method"] == "vae", "rmse_mag"].median()),
            "active_units": active_units, "latent_dim": decoder.network.cfg.latent_dim,
            "decode_ms": decode_ms(decoder, threads)}


def train_and_measure(overrides: list[str], recipe, data: TrainingSet, threads: int) -> dict:
    """Train one setting (``recipe``: train/default.toml with ``overrides``) on ``data`` and
    measure it (in a worker process when sweeping in parallel)."""
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        network, history = fit(data, model_config(recipe, data), recipe.train, Path(scratch), progress=False)
    seconds = time.perf_counter() - started
    return {"overrides": overrides, "training_seconds": seconds,
            "best_epoch": history.best_epoch, "epochs_run": len(history.epochs),
            "best_val_loss": history.best_val,
            **measure(Decoder(network), data, history.epochs[-1]["val_active_units"], threads)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", nargs="+", action="append", metavar=("NAME", "SECTION.KEY=VALUE"),
                        help="a setting to sweep instead of the defaults (repeatable)")
    parser.add_argument("--data-root", help="survey data (default: ../shared/data or PELSVAE_DATA)")
    parser.add_argument("--json", type=Path, help="also write the results here (after each setting)")
    parser.add_argument("--pack", type=Path, metavar="FILE",
                        help="write the shipped model's training set to FILE and stop")
    parser.add_argument("--training-set", type=Path, metavar="FILE",
                        help="a set written by --pack, instead of building it from the survey data")
    parser.add_argument("--jobs", type=int, default=1,
                        help="settings trained at once, each in its own process (default 1)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    settings = ({name: overrides for name, *overrides in args.setting} if args.setting else SETTINGS)

    torch.set_num_threads(2)
    shipped = load_model()
    if args.training_set:
        shipped_data = unpack_training_set(args.training_set)
    else:
        from pelsvae_core.pipeline import model_training_set  # reads the survey data (and needs finufft)
        shipped_data = model_training_set(shipped, args.data_root, progress=False)
    if args.pack:
        pack_training_set(shipped_data, args.pack)
        print(f"packed {len(shipped_data)} curves into {args.pack} "
              f"({args.pack.stat().st_size / 1e6:.1f} MB)")
        return 0
    recipes = {name: load_recipe(RECIPE, overrides) for name, overrides in settings.items()}
    # models/default was trained on train/default.toml's data: its set is reused, not rebuilt.
    datasets = {repr(load_recipe(RECIPE).data.to_dict()): shipped_data}
    for name, recipe in recipes.items():
        key = repr(recipe.data.to_dict())
        if key in datasets:
            continue
        if args.training_set:
            parser.error(f"setting {name} needs another training set than the packed one")
        from pelsvae_core.data import cache
        loaded = cache.load(args.data_root, None, PreprocessConfig(n_points=recipe.data.n_points),
                            progress=False)
        datasets[key] = build_training_set(loaded.kept, recipe.data)

    results = {}

    def record(name: str, result: dict) -> None:
        results[name] = result
        print(json.dumps({name: result}), file=sys.stderr, flush=True)
        if args.json:
            write_text(args.json, json.dumps(results, indent=2))

    threads = max(1, (multiprocessing.cpu_count() // args.jobs)) if args.jobs > 1 else 2
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked process
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        running = {pool.submit(train_and_measure, settings[name], recipe,
                               datasets[repr(recipe.data.to_dict())], threads): name
                   for name, recipe in recipes.items()}
        print("measuring models/default", file=sys.stderr, flush=True)
        record("models/default", {"overrides": [], "training_seconds": shipped.metadata["training_seconds"],
                                  **measure(shipped.decoder, shipped_data,
                                            shipped.metadata["metrics"]["active_units"], 2)})
        for done in concurrent.futures.as_completed(running):
            name = running[done]
            try:
                record(name, done.result())
            except Exception as error:  # one failed setting must not lose the others
                print(f"setting {name} failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)

    classes = sorted({cls for r in results.values() for cls in r["two_sample"]})
    print("two-sample accuracy of reconstructions (own-Fourier-8 reference in brackets; "
          "target: reconstructed <= reference + 0.05)")
    print(f"{'setting':<14}" + "".join(f"{cls:>14}" for cls in classes)
          + f"{'rmse':>8}{'active':>8}{'train s':>9}{'decode ms':>11}")
    for name, r in results.items():
        cells = "".join(f"{r['two_sample'][c]['reconstructed']:>7.2f} ({r['two_sample'][c]['own_fourier_8']:.2f})"
                        if c in r["two_sample"] else f"{'-':>14}" for c in classes)
        print(f"{name:<14}{cells}{r['median_class_rmse']:>8.3f}"
              f"{r['active_units']!s:>5}/{r['latent_dim']:<2}{r['training_seconds']:>9.0f}"
              f"{r['decode_ms']:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
