"""A training recipe (TOML): which data, which network, how to train, where to save.

``pelsvae train --config train/default.toml`` runs one: it loads (or builds) the
data cache, makes the by-star splits, trains, measures reconstruction on the
test split, and writes the model folder with its metadata.
"""
from __future__ import annotations

import logging
import os
import time
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..data import cache
from ..data.dataset import DatasetConfig, TrainingSet, build_training_set
from ..data.preprocess import PreprocessConfig
from .config import ModelConfig, TrainConfig
from .storage import save_folder
from .training import fit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    data: DatasetConfig
    model: dict
    train: TrainConfig
    output: Path
    preset: str = "default"


def _pick(cls, table: dict, section: str):
    known = {f.name for f in fields(cls)}
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"[{section}] has unknown settings: {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(known))}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


def override(raw: dict, settings: list[str]) -> dict:
    """Lay ``section.name=value`` settings (values in TOML syntax) over a recipe's tables,
    so a variant (e.g. ``model.physics=false`` for the plain cVAE) needs no copied file."""
    raw = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    for setting in settings:
        key, sep, value = setting.partition("=")
        section, dot, name = key.strip().rpartition(".")
        if not sep or not name:
            raise ValueError(f"--set {setting!r}: expected SECTION.NAME=VALUE, e.g. model.physics=false")
        try:
            parsed = tomllib.loads(f"value = {value.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()  # a bare word such as a path or a scheduler name
        if dot:
            raw.setdefault(section, {})[name] = parsed
        else:
            raw[name] = parsed
    return raw


def load_recipe(path: str | os.PathLike, settings: list[str] = ()) -> Recipe:
    """Read and validate a recipe, with optional ``section.name=value`` overrides; unknown
    keys are errors, not silently ignored."""
    path = Path(path)
    with open(path, "rb") as handle:
        raw = override(tomllib.load(handle), list(settings))
    unknown = set(raw) - {"data", "model", "train", "output", "preset"}
    if unknown:
        raise ValueError(f"{path}: unknown sections {', '.join(sorted(unknown))}")
    output = Path(raw.get("output", "models/default"))
    if not output.is_absolute():
        output = paths.REPO_ROOT / output
    model = dict(raw.get("model", {}))
    _pick(ModelConfig, {**model, "classes": (), "bands": ()}, "model")
    return Recipe(data=DatasetConfig(**_pick(DatasetConfig, raw.get("data", {}), "data")),
                  model=model, train=TrainConfig(**_pick(TrainConfig, raw.get("train", {}), "train")),
                  output=output, preset=raw.get("preset", "default"))


def model_config(recipe: Recipe, data: TrainingSet) -> ModelConfig:
    if recipe.preset == "paper":
        return ModelConfig.paper(data.classes, data.bands, **recipe.model)
    return ModelConfig(classes=data.classes, bands=data.bands, **recipe.model)


def training_counts(data: TrainingSet) -> dict:
    """Curves per split, class and survey, real and augmented: what the model was trained on."""
    frame = pd.DataFrame({"split": data.split, "cls": [data.classes[c] for c in data.cls],
                          "survey": pd.Series(data.star_key).str.split(":").str[0],
                          "augmented": data.augmented})
    counts = {}
    for (split, cls, survey, augmented), n in frame.value_counts().sort_index().items():
        kind = "augmented" if augmented else "real"
        counts.setdefault(split, {}).setdefault(cls, {}).setdefault(survey, {})[kind] = int(n)
    return counts


def run(recipe: Recipe, data_root=None, cache_dir=None, output: Path | None = None,
        resume: bool = False, progress: bool = True) -> Path:
    """Train a model from a recipe and write its folder; return the folder."""
    from ..api import Model
    from ..evaluation.reconstruction import reconstruction_table

    started = time.perf_counter()
    loaded = cache.load(data_root, cache_dir, PreprocessConfig(n_points=recipe.data.n_points),
                        progress=progress)
    data = build_training_set(loaded.kept, recipe.data)
    cfg = model_config(recipe, data)
    output = Path(output or recipe.output)
    work_dir = output.with_name(output.name + ".training")
    network, history = fit(data, cfg, recipe.train, work_dir, resume=resume, progress=progress)
    seconds = time.perf_counter() - started

    test = data.split_part("test")
    model = Model(network, {}, output)
    table = reconstruction_table(model, test, data.split_part("train"))
    metadata = {
        "description": "PELS-VAE trained by pelsvae",
        "trained_on": {"surveys": loaded.manifest["surveys"], "data_root": loaded.manifest["data_root"],
                       "cache_fingerprint": loaded.manifest["fingerprint"],
                       "counts": training_counts(data)},
        "splits": {"seed": recipe.data.seed, "fractions": list(recipe.data.fractions),
                   "by": "star"},
        "dataset_config": recipe.data.to_dict(), "train_config": recipe.train.to_dict(),
        "preset": recipe.preset,
        "history": {"best_epoch": history.best_epoch, "best_val_loss": history.best_val,
                    "epochs": history.epochs},
        "metrics": {"test_reconstruction": table.to_dict(orient="records"),
                    "active_units": history.epochs[-1]["val_active_units"] if history.epochs else None},
        "training_seconds": round(seconds, 1),
        "default_band": _most_common_band(data),
    }
    save_folder(output, network, metadata)
    log.info("model written to %s", output)
    return output


def _most_common_band(data: TrainingSet) -> str:
    return data.bands[int(np.bincount(data.band).argmax())]
