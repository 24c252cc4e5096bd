"""The analogue of the paper's Table 1, and the account of everything dropped."""
from __future__ import annotations

import pandas as pd

from .cache import KEPT, Cache
from .dataset import DatasetConfig, TrainingSet, build_training_set, surveys_of

#: Separator of the per-subtype counts in :func:`class_table`'s ``subtypes`` column.
SUBTYPE_SEPARATOR = " · "


def _per_star(cache: Cache) -> pd.DataFrame:
    """One row per star of each survey (a star observed in several bands counts once): kept if
    at least one of its bands survives cleaning."""
    stars = cache.stars.assign(kept=cache.stars["status"] == KEPT)
    return stars.groupby(["cls", "survey", "star_key"]).agg(
        kept=("kept", "any"), physical_star=("physical_star", "first"),
        subtype=("subtype", "first"), blazhko=("blazhko", "any"),
        teff=("teff", "first"), abs_mag=("abs_mag", "first"),
        teff_paper=("teff_paper", "first"), abs_mag_paper=("abs_mag_paper", "first"))


def _subtypes(stars: pd.DataFrame) -> str:
    """``RRab 690 · RRc 342 · unknown 3`` (Blazhko-flagged stars counted apart)."""
    counts = stars["subtype"].value_counts().sort_index()
    text = [f"{name} {n}" for name, n in counts.items()]
    if stars["blazhko"].any():
        text.append(f"Blazhko {int(stars['blazhko'].sum())}")
    return SUBTYPE_SEPARATOR.join(text)


def class_table(cache: Cache, training: TrainingSet | None = None) -> pd.DataFrame:
    """Per class and survey: stars read, kept, with Teff and absolute magnitude (calibrated, and
    in the paper's convention), training curves after augmentation, and the kept stars per subtype.

    Counts are of stars (a star observed in several bands counts once); a star is
    kept if at least one of its bands survives cleaning.
    """
    per_star = _per_star(cache)
    kept = per_star[per_star["kept"]]
    levels = [0, 1]
    table = pd.DataFrame({
        "read": per_star.groupby(level=levels).size(),
        "kept": kept.groupby(level=levels).size(),
        "with_teff": kept["teff"].notna().groupby(level=levels).sum(),
        "with_abs_mag": kept["abs_mag"].notna().groupby(level=levels).sum(),
        "with_teff_paper": kept["teff_paper"].notna().groupby(level=levels).sum(),
        "with_abs_mag_paper": kept["abs_mag_paper"].notna().groupby(level=levels).sum(),
    })
    if training is not None:
        train = training.split_part("train")
        curves = pd.DataFrame({"cls": [training.classes[i] for i in train.cls],
                               "survey": surveys_of(train.star_key)})
        table["train_curves_augmented"] = curves.groupby(["cls", "survey"]).size()
    table = table.fillna(0).astype(int)
    table["subtypes"] = kept.groupby(level=levels).apply(_subtypes).reindex(table.index).fillna("")
    return table


def multi_survey_table(cache: Cache) -> pd.DataFrame:
    """Physical stars seen by more than one survey, per class and combination of surveys: how
    many were read, and how many are kept in at least two of them."""
    per_star = _per_star(cache).reset_index()
    grouped = per_star.groupby("physical_star")
    stars = pd.DataFrame({
        "cls": grouped["cls"].first(),
        "surveys": grouped["survey"].agg(lambda s: " + ".join(sorted(set(s)))),
        "n_surveys": grouped["survey"].nunique(),
        "n_kept": per_star[per_star["kept"]].groupby("physical_star")["survey"].nunique()})
    shared = stars[stars["n_surveys"] > 1].fillna({"n_kept": 0})
    if shared.empty:
        return pd.DataFrame(columns=["read", "kept_in_two_or_more"])
    return shared.groupby(["cls", "surveys"]).agg(
        read=("n_surveys", "size"), kept_in_two_or_more=("n_kept", lambda n: int((n > 1).sum())))


def drop_table(cache: Cache) -> pd.DataFrame:
    """Curves dropped, by survey and reason (each band of a star is a curve)."""
    dropped = cache.stars[cache.stars["status"] != KEPT]
    return dropped.groupby(["survey", "status"]).size().rename("curves").to_frame()


def render(cache: Cache, dataset_cfg: DatasetConfig | None = None) -> str:
    """The full text summary printed by ``pelsvae data summary``."""
    dataset_cfg = dataset_cfg or DatasetConfig()
    training = build_training_set(cache.kept, dataset_cfg)
    classes = class_table(cache, training)
    totals = classes.drop(columns="subtypes").groupby(level=0).sum()
    shared = multi_survey_table(cache)
    lines = ["Stars per class and survey (paper Table 1 analogue; Teff and absolute magnitude "
             "calibrated, and in the paper's convention; kept stars per subtype)", "",
             classes.to_string(), "", "Totals per class", "", totals.to_string(), "",
             f"Physical stars seen by more than one survey: {int(shared['read'].sum())} "
             f"(kept in two or more: {int(shared['kept_in_two_or_more'].sum())}); each is one star "
             f"for the splits", "", shared.to_string(), "",
             f"Training curves per split (all bands; train includes augmented copies; physics "
             f"{dataset_cfg.physics!r}, surveys {', '.join(dataset_cfg.surveys)})", ""]
    splits = pd.Series(training.split).value_counts().reindex(["train", "val", "test"]).fillna(0)
    lines.append(splits.astype(int).to_string())
    lines += ["", "Curves dropped, by reason", "", drop_table(cache).to_string()]
    bad = cache.manifest.get("bad_lines", {})
    lines += ["", "Observations (lines) rejected while reading: "
              + (", ".join(f"{k}: {v}" for k, v in sorted(bad.items())) or "none")]
    lines += ["", f"cache: {cache.directory} (built in {cache.manifest.get('build_seconds')} s "
              f"from {cache.manifest.get('data_root')})"]
    return "\n".join(lines)
