"""The registry of survey data sets: where each lives under the data root and how it is read.

The registry also joins what one survey's reader cannot know alone: an OGLE-IV
bulge star and the Gaia DR3 curves of the same star share its OGLE ID as
``physical_star`` (through ``Gaia_RR.csv``, :func:`.gaia_dr3.ogle_ids`) and the
same Teff and absolute magnitude, derived once from the star's OGLE-IV V and I
curves and ``OGLE_RR.csv`` (:func:`.star_physics.bulge_rr_lyrae`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import catalina, crts, gaia_dr3, ogle, ogle4_bulge, sdss, star_physics
from .catalogues import read_gaia_xmatch, read_ogle3_catalogue
from .records import LightCurve, PhysicalParameters

OGLE4_FOLDER = "ogle4_blg_rrlyr"
GAIA_DR3_FOLDER = "gaia_dr3_rrlyr"
#: Why a bulge star has no physics when ``OGLE_RR.csv`` does not list it (or is absent).
NOT_IN_OGLE4_CATALOGUE = ("not derived: the star is not in the OGLE-IV bulge catalogue "
                          f"({OGLE4_FOLDER}/{ogle4_bulge.CATALOGUE}) that gives its mean V and I")
NO_BULGE_PHYSICS = PhysicalParameters(teff_reason=NOT_IN_OGLE4_CATALOGUE,
                                      abs_mag_reason=NOT_IN_OGLE4_CATALOGUE)


@dataclass(frozen=True)
class Survey:
    key: str
    name: str
    folder: str
    read: Callable[["DataRoot"], Iterator[LightCurve]]


class DataRoot:
    """One data folder, with its catalogues (and what is derived from them) loaded once on first use."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @cached_property
    def ogle3_catalogue(self) -> pd.DataFrame:
        return read_ogle3_catalogue(self.path / "ogle3_catalog")

    @cached_property
    def gaia_xmatch(self) -> pd.DataFrame:
        return read_gaia_xmatch(self.path / "gaia_dr2_xmatch")

    @cached_property
    def ogle4_curves(self) -> list[LightCurve]:
        """Every OGLE-IV bulge curve, read once: the bulge physics needs each star's V and I."""
        return list(ogle4_bulge.read_ogle4_bulge(self.path / OGLE4_FOLDER))

    @cached_property
    def bulge_physics(self) -> dict[str, PhysicalParameters]:
        """Teff and M_G per OGLE ID of the bulge catalogue, with the paper's values beside them;
        empty without the OGLE-IV folder."""
        if not (self.path / OGLE4_FOLDER).is_dir():
            return {}
        catalogue = ogle4_bulge.read_catalogue(self.path / OGLE4_FOLDER)
        return star_physics.by_star(star_physics.bulge_rr_lyrae(catalogue, self.ogle4_curves),
                                    star_physics.paper_from_xmatch(self.gaia_xmatch))


def read_ogle4(root: DataRoot) -> Iterator[LightCurve]:
    """OGLE-IV bulge curves with their star's physics; the OGLE ID is the physical star."""
    for lc in root.ogle4_curves:
        yield replace(lc, params=root.bulge_physics.get(lc.star_id, NO_BULGE_PHYSICS),
                      physical_star=lc.star_id)


def read_gaia(root: DataRoot) -> Iterator[LightCurve]:
    """Gaia DR3 curves; those of a star in ``Gaia_RR.csv`` are that OGLE star (``physical_star``)
    and get its physics. A curve without a catalogue row stays its own star, without physics."""
    folder = root.path / GAIA_DR3_FOLDER
    ogle_id = gaia_dr3.ogle_ids(folder)
    for lc in gaia_dr3.read_gaia_dr3(folder):
        if lc.star_id in ogle_id:
            star = ogle_id[lc.star_id]
            lc = replace(lc, params=root.bulge_physics.get(star, NO_BULGE_PHYSICS),
                         physical_star=star)
        yield lc


SURVEYS: tuple[Survey, ...] = (
    Survey("catalina_sss", catalina.SURVEY, "catalina_sss",
           lambda root: catalina.read_sss(root.path / "catalina_sss")),
    Survey("crts_csdr1", crts.SURVEY, "crts_csdr1",
           lambda root: crts.read_crts(root.path / "crts_csdr1")),
    Survey("ogle3_lmc_cep", ogle.SURVEY, "ogle3_lmc_cep",
           lambda root: ogle.read_ogle_cep(root.path / "ogle3_lmc_cep", root.ogle3_catalogue,
                                           root.gaia_xmatch)),
    Survey("sdss_s82_rrlyrae", sdss.SURVEY, "sdss_s82_rrlyrae",
           lambda root: sdss.read_stripe82(root.path / "sdss_s82_rrlyrae")),
    Survey(OGLE4_FOLDER, ogle4_bulge.SURVEY, OGLE4_FOLDER, read_ogle4),
    Survey(GAIA_DR3_FOLDER, gaia_dr3.SURVEY, GAIA_DR3_FOLDER, read_gaia),
)
#: Every registered survey's key, in the registry's order.
SURVEY_KEYS: tuple[str, ...] = tuple(s.key for s in SURVEYS)
#: Survey name (as in the cache's ``survey`` column) by key.
SURVEY_NAMES: dict[str, str] = {s.key: s.name for s in SURVEYS}
#: Folders read only as catalogues, still part of the cache fingerprint.
CATALOGUE_FOLDERS = ("gaia_dr2_xmatch", "ogle3_catalog")
