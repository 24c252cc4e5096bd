"""Splits by star without leakage, class balancing, and the Table 1 summary."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import pipeline
from pelsvae_core.data import summary
from pelsvae_core.data.dataset import DatasetConfig, build_training_set, split_by_star
from pelsvae_core.data.surveys import SURVEY_KEYS
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
    classes = kept.drop_duplicates("physical_star").set_index("physical_star")["cls"]
    for cls, keys in classes.groupby(classes):
        if len(keys) >= 20:
            share = (a[keys.index] == "train").mean()
            assert 0.5 <= share <= 0.7, cls


def test_summary_table_accounts_for_every_star(subset_cache, training):
    table = summary.class_table(subset_cache, training)
    assert (table["kept"] <= table["read"]).all()
    assert (table["with_teff"] <= table["kept"]).all()
    # LMC Cepheids: calibrated M_G and Teff; the paper's Gaia DR2 values beside them
    cep = table.loc[("CEP", "OGLE-III LMC CEP")]
    assert cep["with_abs_mag"] > 0 and cep["with_teff"] > 0.9 * cep["kept"] and cep["with_teff_paper"] > 0
    assert table.loc[("RRLYR", "SDSS Stripe 82"), "with_abs_mag"] > 0
    assert table["read"].sum() == subset_cache.stars["star_key"].nunique()
    # kept stars per subtype, "unknown" counted like any other
    kept = subset_cache.kept.drop_duplicates("star_key")
    for (cls, survey), text in table["subtypes"].items():
        counts = {name: int(n) for name, n in (part.rsplit(" ", 1) for part in
                                                text.split(summary.SUBTYPE_SEPARATOR) if part)}
        part = kept[(kept["cls"] == cls) & (kept["survey"] == survey)]
        expected = part["subtype"].value_counts().to_dict()
        if part["blazhko"].any():
            expected["Blazhko"] = int(part["blazhko"].sum())
        assert counts == expected, (cls, survey)
    assert "unknown" in " ".join(table["subtypes"])
    text = summary.render(subset_cache, DatasetConfig(large_class=100, large_target=300,
                                                      small_target=120))
    assert "Curves dropped, by reason" in text and "irregular subtype" in text
    assert "Physical stars seen by more than one survey: 0" in text


SMALL = dict(large_class=100, large_target=300, small_target=120)


def test_missing_settings_of_a_saved_model_read_as_legacy(subset_root, subset_cache):
    """A model's dataset_config from before ``physics`` and ``surveys`` (models/default's) gives
    the training set of the paper's physics and the four surveys of the time, not today's."""
    saved = {k: list(v) if isinstance(v, tuple) else v for k, v in DatasetConfig(**SMALL).to_dict().items()
             if k not in ("physics", "surveys")}
    _, data = pipeline.training_inputs(SimpleNamespace(metadata={"dataset_config": saved}),
                                       subset_root, subset_cache.directory, progress=False)
    legacy = build_training_set(subset_cache.kept, DatasetConfig(
        **SMALL, physics="paper", surveys=("catalina_sss", "crts_csdr1", "ogle3_lmc_cep",
                                           "sdss_s82_rrlyrae")))
    for name in ("star_key", "split", "teff", "abs_mag", "mag"):
        np.testing.assert_array_equal(getattr(data, name), getattr(legacy, name), err_msg=name)
    # and it is not today's default: the Cepheids keep the paper's Gaia DR2 M_G (parallaxes
    # that put the LMC at 6.8 kpc), where today's is the LMC distance's
    today = build_training_set(subset_cache.kept, DatasetConfig(**SMALL))
    cep = data.classes.index("CEP")
    assert np.isfinite(data.teff[data.cls == cep]).any()
    assert np.nanmedian(data.abs_mag[data.cls == cep]) > 0 > -2 > np.nanmedian(today.abs_mag[today.cls == cep])


def _split_of_each_star(data) -> pd.Series:
    return pd.Series(data.split, index=data.star_key).groupby(level=0).first()


def test_recorded_splits_hold_when_the_build_keeps_other_stars(subset_cache):
    """When one star leaves the build, drawn splits move only the few stars at their class's
    cuts (they are ranked by a hash; a shuffle moved dozens, and a model trained before saw
    its training stars in the new test split); a model's recorded splits keep every other
    star where it was, with real curves only outside training, and a star the record does
    not name is left out."""
    cfg = DatasetConfig(**SMALL)
    full = build_training_set(subset_cache.kept, cfg)
    recorded = _split_of_each_star(full)
    curves = pd.Series(full.split, index=pd.MultiIndex.from_arrays(
        [full.star_key, np.array(full.bands)[full.band]]))[~full.augmented]
    largest = subset_cache.kept["cls"].value_counts().index[0]
    gone = subset_cache.kept.loc[subset_cache.kept["cls"] == largest, "star_key"].iloc[0]
    unnamed = recorded.index[recorded.index != gone][0]
    fewer = subset_cache.kept[subset_cache.kept["star_key"] != gone]
    redrawn = _split_of_each_star(build_training_set(fewer, cfg))
    assert (redrawn != recorded.reindex(redrawn.index)).sum() <= 4
    kept = build_training_set(fewer, cfg, curves.drop(unnamed, level=0))
    held = _split_of_each_star(kept)
    assert (held == recorded.reindex(held.index)).all()
    assert not {gone, unnamed} & set(kept.star_key)
    outside_training = set(recorded.index[recorded != "train"]) - {gone, unnamed}
    assert outside_training <= set(held.index) <= set(recorded.index) - {gone, unnamed}
    assert not kept.augmented[kept.split != "train"].any()


def test_physics_choice_changes_only_the_physics(subset_cache):
    kept = subset_cache.kept
    calibrated = build_training_set(kept, DatasetConfig(**SMALL))
    paper = build_training_set(kept, DatasetConfig(**SMALL, physics="paper"))
    np.testing.assert_array_equal(calibrated.star_key, paper.star_key)
    np.testing.assert_array_equal(calibrated.split, paper.split)
    real = ~calibrated.augmented
    by_key = kept.drop_duplicates("star_key").set_index("star_key")
    np.testing.assert_array_equal(calibrated.teff[real],
                                  by_key.loc[calibrated.star_key[real], "teff"].to_numpy(np.float32))
    np.testing.assert_array_equal(paper.teff[real],
                                  by_key.loc[paper.star_key[real], "teff_paper"].to_numpy(np.float32))
    rr = calibrated.cls == calibrated.classes.index("RRLYR")
    assert np.nanmedian(paper.teff[rr]) > np.nanmedian(calibrated.teff[rr]) + 500  # old S82 scale


def test_survey_choice(subset_cache):
    only = build_training_set(subset_cache.kept, DatasetConfig(**SMALL, surveys=("sdss_s82_rrlyrae",)))
    assert set(pd.Series(only.star_key).str.split(":").str[0]) == {"SDSS Stripe 82"}
    assert DatasetConfig().surveys == SURVEY_KEYS and "gaia_dr3_rrlyr" in SURVEY_KEYS


@pytest.mark.parametrize("setting, match", [({"physics": "gaia"}, "physics='gaia'"),
                                            ({"surveys": ("ztf",)}, "surveys=\\['ztf'\\]"),
                                            ({"surveys": ()}, "surveys=\\[\\]")])
def test_unknown_physics_or_survey_is_refused(setting, match):
    with pytest.raises(ValueError, match=match):
        DatasetConfig(**setting)


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


def test_smoothed_curves_are_their_own_fourier_fits_on_real_data(training):
    part = training.subset(np.flatnonzero(~training.augmented)[:40])
    smooth = part.smoothed(8)
    for name in ("phase", "err", "mask", "cls", "band", "amplitude", "star_key"):
        np.testing.assert_array_equal(getattr(smooth, name), getattr(part, name))
    residual = (part.mag - smooth.mag)[part.mask]
    assert 0 < np.std(residual) < np.std(part.mag[part.mask])  # the noise is gone, the shape kept
    # a fit of a fit of the same order gives it back: nothing but the shape is left
    np.testing.assert_allclose(smooth.smoothed(8).mag[part.mask], smooth.mag[part.mask], atol=1e-4)
