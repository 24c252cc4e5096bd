"""The shipped real curves' shapes: rebuilt from the survey files, complete for the shipped
model, and each one its own star's curve."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core import fourier, load_model
from pelsvae_core.data import cache
from pelsvae_core.data.real_shapes import (COEFFICIENTS, MAX_ORDER, RealShapes, build_real_shapes,
                                           read_real_shapes, write_real_shapes)

PHASES = np.linspace(0.0, 1.0, 100, endpoint=False)


@pytest.fixture(scope="module")
def rebuilt(data_root, tmp_path_factory):
    """The cache of two surveys read from the real files (each in its own format), and the
    shapes rebuilt from it."""
    built = cache.build(data_root, tmp_path_factory.mktemp("cache"),
                        surveys=["sdss_s82_rrlyrae", "ogle4_blg_rrlyr"], progress=False)
    return built.kept, build_real_shapes(built.kept)


def test_the_shipped_shapes_match_a_rebuild_from_the_survey_files(rebuilt):
    _, table = rebuilt
    shipped = read_real_shapes().table
    mine = shipped[shipped["survey"].isin(set(table["survey"]))].reset_index(drop=True)
    assert set(table["survey"]) == {"SDSS Stripe 82", "OGLE-IV BLG RRLYR"}
    assert RealShapes(mine).matches(table)
    assert not RealShapes(mine).matches(table.assign(c1=table["c1"] + 1e-3))


def test_every_curve_of_the_shipped_model_has_its_own_shape():
    """The nearest real star the dashboard shows is a curve of the model's latent table, in any
    class and band: every one of them is in the shipped table."""
    shapes = read_real_shapes()
    latents = load_model().latents()
    held = {(s, b) for s, b in zip(shapes.table["star"], shapes.table["band"])}
    assert all(key in held for key in zip(latents["star"], latents["band"]))
    assert set(latents["cls"]) <= set(shapes.table["cls"])


def test_a_shape_is_its_star_s_own_curve_about_its_mean(rebuilt):
    """Each fit follows its star's points (magnitudes about its mean): it leaves under half of
    their scatter, and no more than a sinusoid fitted to them would; at the order the points
    support, the higher coefficients zero; a star the table does not hold has none."""
    kept, table = rebuilt
    shapes = RealShapes(table)
    for row in kept.sample(40, random_state=0).itertuples():
        mags, described = shapes.curve(row.star_key, row.band, np.asarray(row.phase))
        points, errors = row.amplitude * np.asarray(row.mag), row.amplitude * np.asarray(row.err)
        residual = points - mags
        residual -= np.average(residual, weights=errors ** -2.0)  # the fit's own mean
        assert described["order"] <= MAX_ORDER and described["n_points"] == len(points)
        sinusoid = points - fourier.evaluate(fourier.fit(np.asarray(row.phase), points, errors, 1),
                                             np.asarray(row.phase))
        assert np.sqrt(np.mean(residual ** 2)) < points.std() / 2
        # weighted alike, it fits them at least as well as a sinusoid (to its single precision)
        assert ((residual / errors) ** 2).sum() <= ((sinusoid / errors) ** 2).sum() * (1 + 1e-6)
        unused = [f"c{k}" for k in range(1, 2 * MAX_ORDER + 1)
                  if (k - 1) % MAX_ORDER + 1 > described["order"]]
        assert (described[unused] == 0).all() and described["c0"] == 0
    assert shapes.curve("SDSS Stripe 82:no-such-star", "g", PHASES) is None
    assert shapes.curve(row.star_key, "no-such-band", PHASES) is None


def test_a_cepheid_in_i_is_held_and_on_the_grid_asked_for():
    shapes = read_real_shapes()
    cepheid = shapes.table[(shapes.table["cls"] == "CEP") & (shapes.table["band"] == "I")].iloc[0]
    mags, described = shapes.curve(cepheid["star"], "I", PHASES)
    assert mags.shape == PHASES.shape and abs(mags.mean()) < 1e-3 and np.ptp(mags) > 0.05
    assert described["survey"] == "OGLE-III LMC CEP"
    expected = fourier.evaluate(cepheid[list(COEFFICIENTS)].to_numpy(float), PHASES)
    np.testing.assert_allclose(mags, expected)


def test_a_table_without_its_columns_is_refused_and_a_write_is_atomic(rebuilt, tmp_path):
    _, table = rebuilt
    with pytest.raises(ValueError, match="c16"):
        RealShapes(table.drop(columns="c16"))
    with pytest.raises(FileNotFoundError, match="pelsvae data shapes"):
        read_real_shapes(tmp_path / "absent.parquet")
    target = tmp_path / "shapes.parquet"
    write_real_shapes(table, target)
    assert RealShapes(pd.read_parquet(target)).matches(table)
    assert [p.name for p in tmp_path.iterdir()] == ["shapes.parquet"]
