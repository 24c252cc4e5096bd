"""Splits by star without leakage, class balancing, and the Table 1 summary."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core.data import summary
from pelsvae_core.data.dataset import DatasetConfig, build_training_set, split_by_star


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
