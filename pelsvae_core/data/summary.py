"""The analogue of the paper's Table 1, and the account of everything dropped."""
from __future__ import annotations

import pandas as pd

from .cache import KEPT, Cache
from .dataset import DatasetConfig, TrainingSet, build_training_set


def class_table(cache: Cache, training: TrainingSet | None = None) -> pd.DataFrame:
    """Per class and survey: stars read, kept, with Teff, with absolute magnitude, after augmentation.

    Counts are of stars (a star observed in several bands counts once); a star is
    kept if at least one of its bands survives cleaning.
    """
    stars = cache.stars
    grouped = stars.assign(kept=stars["status"] == KEPT).groupby(["cls", "survey", "star_key"])
    per_star = grouped.agg(kept=("kept", "any"), teff=("teff", "first"), abs_mag=("abs_mag", "first"))
    kept = per_star[per_star["kept"]]
    table = pd.DataFrame({
        "read": per_star.groupby(level=[0, 1]).size(),
        "kept": kept.groupby(level=[0, 1]).size(),
        "with_teff": kept["teff"].notna().groupby(level=[0, 1]).sum(),
        "with_abs_mag": kept["abs_mag"].notna().groupby(level=[0, 1]).sum(),
    })
    if training is not None:
        train = training.split_part("train")
        surveys = pd.Series(train.star_key).str.split(":").str[0]
        curves = pd.DataFrame({"cls": [training.classes[i] for i in train.cls], "survey": surveys})
        table["train_curves_augmented"] = curves.groupby(["cls", "survey"]).size()
    return table.fillna(0).astype(int)


def drop_table(cache: Cache) -> pd.DataFrame:
    """Curves dropped, by survey and reason (each band of a star is a curve)."""
    dropped = cache.stars[cache.stars["status"] != KEPT]
    return dropped.groupby(["survey", "status"]).size().rename("curves").to_frame()


def render(cache: Cache, dataset_cfg: DatasetConfig | None = None) -> str:
    """The full text summary printed by ``pelsvae data summary``."""
    training = build_training_set(cache.kept, dataset_cfg)
    classes = class_table(cache, training)
    totals = classes.groupby(level=0).sum()
    lines = ["Stars per class and survey (paper Table 1 analogue)", "",
             classes.to_string(), "", "Totals per class", "", totals.to_string(), "",
             "Training curves per split (all bands; train includes augmented copies)", ""]
    splits = pd.Series(training.split).value_counts().reindex(["train", "val", "test"]).fillna(0)
    lines.append(splits.astype(int).to_string())
    lines += ["", "Curves dropped, by reason", "", drop_table(cache).to_string()]
    bad = cache.manifest.get("bad_lines", {})
    lines += ["", "Observations (lines) rejected while reading: "
              + (", ".join(f"{k}: {v}" for k, v in sorted(bad.items())) or "none")]
    lines += ["", f"cache: {cache.directory} (built in {cache.manifest.get('build_seconds')} s "
              f"from {cache.manifest.get('data_root')})"]
    return "\n".join(lines)
