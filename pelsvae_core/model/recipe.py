"""A training recipe (TOML): which data, which network, how to train, where to save.

``pelsvae train --config train/default.toml`` runs one through
:func:`pelsvae_core.pipeline.train`: it loads (or builds) the data cache, makes the
by-star splits, trains, measures reconstruction on the test split, and writes the
model folder with its metadata.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from .. import paths
from ..data.dataset import DatasetConfig, TrainingSet, surveys_of
from .config import ModelConfig, TrainConfig


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
                          "survey": surveys_of(data.star_key),
                          "augmented": data.augmented})
    counts = {}
    for (split, cls, survey, augmented), n in frame.value_counts().sort_index().items():
        kind = "augmented" if augmented else "real"
        counts.setdefault(split, {}).setdefault(cls, {}).setdefault(survey, {})[kind] = int(n)
    return counts
