"""Shared fixtures: the real survey data, and small real subsets of it laid out as plain folders."""
from __future__ import annotations

import itertools
import shutil
import tarfile
from pathlib import Path

import pytest

from pelsvae_core import paths


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real survey data (``../shared/data`` or ``$PELSVAE_DATA``)."""
    return paths.data_root()


def extract_first(archive: Path, inner: str, suffix: str, n: int, dest: Path,
                  step: int = 1) -> list[str]:
    """Unpack every ``step``-th of the first ``n * step`` files ``inner/*suffix`` into ``dest/inner``."""
    names = []
    with tarfile.open(archive, mode="r|*") as tar:
        members = (m for m in tar if m.isfile() and m.name.startswith(inner + "/")
                   and m.name.endswith(suffix))
        for member in itertools.islice(members, 0, n * step, step):
            target = dest / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            names.append(Path(member.name).name)
    return names


@pytest.fixture(scope="session")
def subset_root(data_root: Path, tmp_path_factory) -> Path:
    """A data root holding a few hundred real light curves per survey, as unpacked folders."""
    root = tmp_path_factory.mktemp("subset_data")
    for folder in ["catalina_sss", "crts_csdr1", "ogle3_lmc_cep", "sdss_s82_rrlyrae"]:
        (root / folder).mkdir()
    extract_first(data_root / "catalina_sss/lightcurves.tar.xz", "lightcurves", ".dat", 300,
                  root / "catalina_sss", step=20)
    shutil.copy(data_root / "catalina_sss/SSS_Per_Tab.txt", root / "catalina_sss")
    extract_first(data_root / "crts_csdr1/lightcurves.tar.xz", "lightcurves", ".csv", 150,
                  root / "crts_csdr1", step=10)
    for band in ("I", "V"):
        extract_first(data_root / "ogle3_lmc_cep/phot.tar.gz", f"phot/{band}", ".dat", 200,
                      root / "ogle3_lmc_cep", step=5)
    for name in ("ident.dat", "cepFO3.dat"):
        shutil.copy(data_root / "ogle3_lmc_cep" / name, root / "ogle3_lmc_cep")
    extract_first(data_root / "sdss_s82_rrlyrae/table1.tar.gz", "table1", ".dat", 120,
                  root / "sdss_s82_rrlyrae")
    for name in ("table2.dat.gz", "table3.dat.gz"):
        shutil.copy(data_root / "sdss_s82_rrlyrae" / name, root / "sdss_s82_rrlyrae")
    for folder in ("gaia_dr2_xmatch", "ogle3_catalog"):
        (root / folder).symlink_to(data_root / folder)
    return root


@pytest.fixture(scope="session")
def subset_cache(subset_root: Path, tmp_path_factory):
    """The cache built from :func:`subset_root`."""
    from pelsvae_core.data import cache
    return cache.build(subset_root, tmp_path_factory.mktemp("subset_cache"), progress=False)


@pytest.fixture(scope="session")
def small_model(subset_root: Path, subset_cache, tmp_path_factory):
    """A small model trained briefly on the real subset, with regressors and latents fitted."""
    from pelsvae_core import load_model
    from pelsvae_core.data.dataset import DatasetConfig
    from pelsvae_core.model.config import TrainConfig
    from pelsvae_core.model.recipe import Recipe
    from pelsvae_core.pipeline import fit_physics, train

    folder = tmp_path_factory.mktemp("models") / "small"
    # the paper's Gaia DR2 physics (models/default has the calibrated physics), so the tests
    # below exercise the paper convention's path with a class (CEP) of all three parameters
    recipe = Recipe(data=DatasetConfig(large_class=100, large_target=200, small_target=60,
                                       n_points=100, physics="paper"),
                    model={"hidden": 16, "blocks": 3, "physics": True, "decoder_channels": 16,
                           "grid_size": 64},
                    train=TrainConfig(epochs=2, batch_size=64, learning_rate=3e-3),
                    output=folder)
    train(recipe, subset_root, subset_cache.directory, progress=False)
    fit_physics(folder, subset_root, subset_cache.directory, progress=False)
    return load_model(folder)
