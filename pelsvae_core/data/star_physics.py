"""Per-star Teff and absolute G for the cache: :mod:`.calibration` applied to each survey's stars.

:mod:`.calibration` derives values from arrays and reads no files; this module
feeds it the catalogues and light curves the readers read, and packs one
:class:`.records.PhysicalParameters` per star, every value with its uncertainty,
its source, or the reason it is missing:

- OGLE-III LMC classical Cepheids (:func:`lmc_cepheids`): the OGLE-III
  catalogue's intensity-mean V and I, the mean LMC reddening and the LMC
  distance modulus (:func:`.calibration.lmc_parameters`) give M_G, and (V-I)_0
  gives Teff on the Cepheids' scale (:data:`.calibration.CEPHEID_TEFF_SCALE`).
- OGLE-IV bulge RR Lyrae (:func:`bulge_rr_lyrae`), and the Gaia DR3 curves of the
  same stars (same OGLE ID, same values): E(V-I) from each RRab's own V and I
  curves (colour at minimum light), for every other star from its RRab
  neighbours; ``OGLE_RR.csv``'s mean V and I, the Galactic-centre distance;
  Teff from (V-I)_0 and M_G (:func:`.calibration.bulge_rr_lyrae_parameters`).
- SDSS Stripe 82 RR Lyrae (:func:`stripe82_rr_lyrae`): Sesar et al. 2010
  table 3 (already extinction-corrected magnitudes, distances) through
  :func:`.calibration.stripe82_rr_lyrae_parameters`, on the bulge stars' Teff scale.

Beside them, the convention models were trained on before the calibration
(``teff_paper``, ``abs_mag_paper``): the OGLE x Gaia DR2 cross-match's
``teff_val`` and ``abs_Gmag`` for OGLE stars (:func:`paper_from_xmatch`), and the
old Stripe 82 derivation of :mod:`.sdss_physics` (:func:`paper_from_sdss`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from . import calibration as cal
from . import sdss_physics
from .records import LightCurve, PhysicalParameters
from .subtypes import normalise

#: The band of every absolute magnitude here: Gaia G (Riello et al. 2021 transformation).
ABS_MAG_BAND = "G"
#: OGLE writes -99.99 for a mean magnitude it has not measured (OGLE_RR.csv, as the OGLE-III
#: catalogue: :data:`.catalogues.OGLE_MISSING`); anything at or below -99 is missing.
OGLE_MISSING_BELOW = -99.0
#: The paper's columns per cross-matched OGLE star, and their sources.
PAPER_COLUMNS = ("teff_paper", "teff_paper_source", "abs_mag_paper", "abs_mag_paper_source")


@dataclass(frozen=True)
class Derived:
    """Stars (``ids``) and the parameters :mod:`.calibration` derived for them, one provenance."""

    ids: np.ndarray
    params: cal.StellarParameters
    mode: np.ndarray  # the vocabulary's subtype of each star (:mod:`.subtypes`)


def lmc_cepheids(ids: Iterable[str], catalogue: pd.DataFrame, modes: pd.Series) -> Derived:
    """Teff and M_G of OGLE-III LMC Cepheids from the OGLE-III catalogue's mean V and I.

    ``catalogue``: :func:`.catalogues.read_ogle3_catalogue` (columns ``V``, ``I``;
    NaN where missing, which :func:`.calibration.lmc_parameters` refuses with
    that reason); ``modes``: OGLE mode labels (``ident.dat``) by ID.
    """
    ids = np.asarray(list(ids), dtype=object)
    rows = catalogue.reindex(ids)
    mean = {band: rows[band].to_numpy(float) if band in rows else np.full(ids.size, np.nan)
            for band in ("V", "I")}
    mode = np.array([normalise("CEP", str(modes.get(star, "")))[0] for star in ids], dtype=object)
    return Derived(ids, cal.lmc_parameters(mean["V"], mean["I"]), mode)


def _mean_magnitude(catalogue: pd.DataFrame, band: str) -> np.ndarray:
    values = pd.to_numeric(catalogue[band], errors="coerce").to_numpy(float)
    return np.where(values > OGLE_MISSING_BELOW, values, np.nan)


def bulge_rr_lyrae(catalogue: pd.DataFrame, curves: Iterable[LightCurve]) -> tuple[Derived, ...]:
    """Teff and M_G of every star of ``OGLE_RR.csv`` (:func:`.ogle4_bulge.read_catalogue`).

    Reddening, in order of preference (each star's provenance says which):

    1. an RRab with V and I curves among ``curves``: its own colour at minimum
       light (:func:`.calibration.colour_at_minimum`, folded on ``P_1``) minus the
       intrinsic RRab value (:func:`.calibration.reddening_from_minimum_colour`);
    2. any other star (RRc, RRd, an RRab without a V curve or whose minimum-light
       colour was refused): the median of its RRab neighbours of step 1
       (:func:`.calibration.reddening_from_neighbours`): reddening belongs to the
       line of sight, not to the pulsation mode.

    Then :func:`.calibration.bulge_rr_lyrae_parameters` with the catalogue's
    intensity-mean V and I. Returns the two groups, own reddening first.
    """
    ids = catalogue.index.to_numpy(dtype=object)
    mode = np.array([normalise("RRLYR", str(t))[0] for t in catalogue["Type"]], dtype=object)
    v_mean, i_mean = _mean_magnitude(catalogue, "V"), _mean_magnitude(catalogue, "I")
    ra, dec = catalogue["RA"].to_numpy(float), catalogue["Decl"].to_numpy(float)
    period = catalogue["P_1"].to_numpy(float)
    bands: dict[str, dict[str, LightCurve]] = {}
    for lc in curves:
        if not lc.read_problem:
            bands.setdefault(lc.star_id, {})[lc.band] = lc
    candidates = np.flatnonzero([m == "RRab" and {"V", "I"} <= set(bands.get(s, {}))
                                 for s, m in zip(ids, mode)])
    colours = [cal.colour_at_minimum(bands[ids[k]]["V"].time, bands[ids[k]]["V"].mag,
                                     bands[ids[k]]["I"].time, bands[ids[k]]["I"].mag, period[k])
               for k in candidates]
    own_e = cal.reddening_from_minimum_colour(cal.Calibrated.stack(colours) if colours
                                              else np.empty(0))
    own, own_e = candidates[own_e.ok], own_e[own_e.ok]
    rest = np.setdiff1d(np.arange(ids.size), own)
    rest_e = cal.reddening_from_neighbours(ra[rest], dec[rest], ra[own], dec[own], own_e)
    return tuple(Derived(ids[k], cal.bulge_rr_lyrae_parameters(v_mean[k], i_mean[k], e), mode[k])
                 for k, e in ((own, own_e), (rest, rest_e)) if k.size)


def stripe82_rr_lyrae(table3: pd.DataFrame, table2: pd.DataFrame) -> Derived:
    """Teff and M_G of Stripe 82 RR Lyrae from Sesar et al. 2010 table 3 (``gF``, ``rF``,
    ``iF``: flux-averaged and already extinction-corrected; ``rExt``; ``d`` in kpc); modes
    from table 2 (``type``)."""
    ids = table3.index.to_numpy(dtype=object)
    mode = np.array([normalise("RRLYR", str(t))[0]
                     for t in table2["type"].reindex(ids).fillna("")], dtype=object)
    return Derived(ids, cal.stripe82_rr_lyrae_parameters(
        table3["gF"], table3["rF"], table3["iF"], table3["rExt"], table3["d"]), mode)


def paper_from_xmatch(xmatch: pd.DataFrame) -> pd.DataFrame:
    """The paper's convention per OGLE ID: the cross-match's Gaia DR2 ``teff_val``, ``abs_Gmag``."""
    teff = xmatch["teff_val"].astype(float)
    abs_g = xmatch["abs_Gmag"].astype(float)
    return pd.DataFrame({
        "teff_paper": teff, "abs_mag_paper": abs_g,
        "teff_paper_source": np.where(np.isfinite(teff), cal.PAPER_CONVENTION_TEFF, ""),
        "abs_mag_paper_source": np.where(np.isfinite(abs_g), cal.PAPER_CONVENTION_ABS_G, "")},
        index=xmatch.index)[list(PAPER_COLUMNS)]


def paper_from_sdss(table3: pd.DataFrame) -> pd.DataFrame:
    """The old Stripe 82 values (:mod:`.sdss_physics`) per star: models/default's convention."""
    old = sdss_physics.stripe82_parameters(table3)
    return pd.DataFrame({
        "teff_paper": old["teff"], "abs_mag_paper": old["abs_mag"],
        "teff_paper_source": np.where(np.isfinite(old["teff"]), sdss_physics.TEFF_SOURCE, ""),
        "abs_mag_paper_source": np.where(np.isfinite(old["abs_mag"]), sdss_physics.ABS_MAG_SOURCE, "")},
        index=old.index)[list(PAPER_COLUMNS)]


def _value(result: cal.Calibrated, k: int) -> tuple[float, float, str, str]:
    """(value, sigma, source, reason) of element ``k``."""
    if result.ok[k]:
        return float(result.value[k]), float(result.sigma[k]), result.source, ""
    return math.nan, math.nan, "", str(result.reason[k])


def by_star(groups: Iterable[Derived], paper: pd.DataFrame | None = None
            ) -> dict[str, PhysicalParameters]:
    """One :class:`.records.PhysicalParameters` per star of ``groups``, with the paper's values
    (``paper``, indexed by star, columns :data:`PAPER_COLUMNS`) where it lists the star."""
    result = {}
    for group in groups:
        extra = (paper.reindex(group.ids) if paper is not None
                 else pd.DataFrame(index=group.ids, columns=list(PAPER_COLUMNS)))
        extra["teff_paper_source"] = extra["teff_paper_source"].fillna("")
        extra["abs_mag_paper_source"] = extra["abs_mag_paper_source"].fillna("")
        records = extra.astype({"teff_paper": float, "abs_mag_paper": float}).to_dict("records")
        for k, star in enumerate(group.ids):
            teff, teff_sigma, teff_source, teff_reason = _value(group.params.teff, k)
            abs_g, abs_sigma, abs_source, abs_reason = _value(group.params.abs_g, k)
            result[star] = PhysicalParameters(
                teff=teff, teff_sigma=teff_sigma, teff_source=teff_source, teff_reason=teff_reason,
                abs_mag=abs_g, abs_mag_sigma=abs_sigma, abs_mag_band=ABS_MAG_BAND,
                abs_mag_source=abs_source, abs_mag_reason=abs_reason, **records[k])
    return result
