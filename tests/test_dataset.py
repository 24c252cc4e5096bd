"""Splits by star without leakage, class balancing, and the Table 1 summary."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core.data import summary
from pelsvae_core.data.dataset import DatasetConfig, build_training_set, split_by_star
from pelsvae_core.evaluation.reconstruction import binned_median


@pytest.fixture(scope="module")
def training(subset_cache):
    cfg = DatasetConfig(large_class=100, large_target=300, small_target=120)
    return build_training_set(subset_cache.kept, cfg)


def test_no_star_crosses_splits(training):
    split_of = pd.DataFrame({"star": training.star_key, "split": training.split})
    assert (split_of.groupby("star")["split"].nunique() == 1).all()
    # several bands of one star (Stripe 82, OGLE) stay together
    assert (split_of.groupby("star").size() > 1).any()


def test_augmented_copies_only_in_training_and_test_is_real(training):
    assert training.augmented.any()
    assert set(training.split[training.augmented]) == {"train"}
    test = training.split_part("test")
    assert len(test) > 0 and not test.augmented.any()
    assert np.all(test.mask.sum(axis=1) >= 1)


def test_arrays_are_fixed_length_scaled_and_sorted(training):
    n, length = training.mag.shape
    assert length == 300 and training.phase.shape == training.err.shape == training.mask.shape
    assert training.mag.min() >= 0 and training.mag.max() <= 1
    assert np.all(np.diff(training.phase, axis=1) >= 0)
    assert np.isfinite(training.log_period).all()


def test_classes_are_balanced_to_targets(training):
    train = training.split_part("train")
    counts = pd.Series([training.classes[c] for c in train.cls]).value_counts()
    assert set(counts.values) <= {300, 120}


def test_split_is_stratified_and_reproducible(subset_cache):
    kept = subset_cache.kept
    a = split_by_star(kept, seed=3)
    b = split_by_star(kept.sample(frac=1.0, random_state=0), seed=3)
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    classes = kept.drop_duplicates("star_key").set_index("star_key")["cls"]
    for cls, keys in classes.groupby(classes):
        if len(keys) >= 20:
            share = (a[keys.index] == "train").mean()
            assert 0.5 <= share <= 0.7, cls


def test_summary_table_accounts_for_every_star(subset_cache, training):
    table = summary.class_table(subset_cache, training)
    assert (table["kept"] <= table["read"]).all()
    assert (table["with_teff"] <= table["kept"]).all()
    assert table.loc[("CEP", "OGLE-III LMC CEP"), "with_teff"] > 0
    assert table.loc[("RRLYR", "SDSS Stripe 82"), "with_abs_mag"] > 0
    assert table["read"].sum() == subset_cache.stars["star_key"].nunique()
    text = summary.render(subset_cache, DatasetConfig(large_class=100, large_target=300,
                                                      small_target=120))
    assert "Curves dropped, by reason" in text and "irregular subtype" in text


def copies_over_real_span(training) -> dict[str, float]:
    """Per class with copies: span of the copies' median curve over that of the real curves'."""
    train = training.split_part("train")
    ratios = {}
    for c, cls in enumerate(training.classes):
        real, copies = (train.subset((train.cls == c) & (train.augmented == a)) for a in (False, True))
        if len(copies):
            ratios[cls] = (np.ptp(binned_median(copies.phase[copies.mask], copies.mag[copies.mask]))
                           / np.ptp(binned_median(real.phase[real.mask], real.mag[real.mask])))
    return ratios


def test_bootstrap_copies_keep_the_real_shape_where_the_papers_flatten_it(subset_cache):
    """On real curves: copies drawn from a star's own observations have the real curves' median
    shape; the paper's Gaussian resampling (twice the noise variance, scaled again) flattens it."""
    cfg = dict(large_class=100, large_target=300, small_target=120, max_phase_shift=0.0)
    bootstrap = copies_over_real_span(build_training_set(subset_cache.kept, DatasetConfig(**cfg)))
    paper = copies_over_real_span(build_training_set(subset_cache.kept,
                                                     DatasetConfig(**cfg, augmentation="paper")))
    assert len(bootstrap) >= 3
    off_bootstrap = np.abs(np.array(list(bootstrap.values())) - 1)
    off_paper = np.abs(np.array([paper[cls] for cls in bootstrap]) - 1)
    assert off_bootstrap.max() < 0.07, bootstrap  # a few stars per class here: sampling noise
    assert np.median(list(paper.values())) < 0.9, paper
    assert off_bootstrap.mean() < off_paper.mean() / 2, (bootstrap, paper)


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="augmentation='noise'"):
        DatasetConfig(augmentation="noise")
