"""The registry of survey data sets: where each lives under the data root and how it is read."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import catalina, crts, ogle, sdss
from .catalogues import read_gaia_xmatch, read_ogle3_catalogue
from .records import LightCurve


@dataclass(frozen=True)
class Survey:
    key: str
    name: str
    folder: str
    read: Callable[["DataRoot"], Iterator[LightCurve]]


class DataRoot:
    """One data folder, with its catalogues loaded once on first use."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @cached_property
    def ogle3_catalogue(self) -> pd.DataFrame:
        return read_ogle3_catalogue(self.path / "ogle3_catalog")

    @cached_property
    def gaia_xmatch(self) -> pd.DataFrame:
        return read_gaia_xmatch(self.path / "gaia_dr2_xmatch")


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
)
#: Folders read only as catalogues, still part of the cache fingerprint.
CATALOGUE_FOLDERS = ("gaia_dr2_xmatch", "ogle3_catalog")

