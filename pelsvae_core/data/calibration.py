"""Physical parameters (Teff, absolute magnitudes) from published calibrations.

Why this module exists
----------------------
The PELS-VAE paper took Teff and absolute magnitudes from its OGLE x Gaia DR2
cross-match (``teff_val``, ``abs_Gmag``). Those are wrong for the stars it
trained on: Gaia DR2 parallax distances put the LMC (50 kpc) at a median of
6.8 kpc, so LMC Cepheids get M_G ~ +1 instead of -2 to -6; Gaia DR2 Teff
ignores extinction, so heavily reddened bulge RR Lyrae get 3,500-5,250 K.
This module replaces them with calibrations an astronomer can check, one
function per step, each citing its source.

Conventions
-----------
* Every derived quantity is a :class:`Calibrated`: value, 1-sigma uncertainty
  (``sigma``, total), the part of it shared by every star (``sigma_sys``:
  zero points such as the LMC distance or the Teff scale), a provenance string
  naming every source used, and a per-element ``reason``. A value that cannot
  be derived, or would be physically impossible, is NaN *with a reason*; no NaN
  is ever returned without one.
* Constants are :class:`Constant` objects carrying their own citation.
  Numbers written "adopted" are this module's choices, argued in the
  docstring, not values read from a paper.
* Colours are Johnson-Cousins V-I (OGLE's system); Gaia quantities are in the
  Gaia (E)DR3 photometric system (Riello et al. 2021); the paper's Gaia DR2
  ``teff_val`` / ``abs_Gmag`` survive only as :data:`PAPER_CONVENTION`.
* Pure NumPy; nothing reads files. The readers / cache wire these in.

Uncertainties are propagated to first order; correlations between outputs
that share an input (e.g. Teff and M_V both use E(V-I)) are not tracked.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..fourier import design_matrix


__all__ = [
    "Calibrated", "Constant", "FourierFit", "StellarParameters",
    "PAPER_CONVENTION", "PAPER_CONVENTION_TEFF", "PAPER_CONVENTION_ABS_G",
    "LMC_DISTANCE_MODULUS", "LMC_MEAN_REDDENING", "LMC_DEPTH", "OGLE_WESENHEIT_R",
    "RRAB_MIN_LIGHT_COLOUR", "MIN_LIGHT_PHASES", "BULGE_R_I", "BULGE_DIFFERENTIAL_REDDENING",
    "GALACTIC_CENTRE_DISTANCE_PC", "BULGE_DEPTH", "BULGE_DISTANCE_OUTLIER", "BULGE_FEH", "HALO_FEH", "RR_LYRAE_LOGG",
    "LMC_CEPHEID_FEH", "CEPHEID_LOGG", "CEPHEID_TEFF_SCALE_SYS", "CEPHEID_TEFF_RANGE", "TeffScale",
    "RR_LYRAE_TEFF_SCALE", "CEPHEID_TEFF_SCALE", "teff_scale",
    "RR_LYRAE_MV_AT_FEH_M15", "RR_LYRAE_MV_FEH_SLOPE", "SFD_EXTINCTION_SCALE",
    "STRIPE82_DISTANCE_MODULUS_SIGMA",
    "distance_modulus_from_pc", "fit_fourier", "colour_at_minimum",
    "reddening_from_minimum_colour", "reddening_from_neighbours",
    "bp_rp_from_vi", "g_minus_v_from_vi", "teff_from_bp_rp0", "teff_from_vi0", "vi0_from_teff",
    "RIELLO_BANDS", "band_minus_g", "stripe82_g0", "SFD_R",
    "lmc_absolute_wesenheit", "lmc_parameters", "bulge_rr_lyrae_parameters",
    "stripe82_vi0", "stripe82_rr_lyrae_parameters", "expected_rr_lyrae_abs_v", "clipped_line",
    "paper_convention",
]


# --------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Constant:
    """A published (or explicitly adopted) number with its uncertainty and source.

    ``sigma_stat`` is the part that differs from star to star or is the quoted
    statistical error; ``sigma_sys`` the part every star shares.
    """

    value: float
    sigma_stat: float
    sigma_sys: float
    source: str

    @property
    def sigma(self) -> float:
        """Total uncertainty, stat and sys in quadrature."""
        return float(np.hypot(self.sigma_stat, self.sigma_sys))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Calibrated:
    """Derived values with uncertainties, provenance and per-element refusal reasons.

    value:     float array; NaN exactly where ``reason`` is non-empty.
    sigma:     total 1-sigma uncertainty (random and systematic in quadrature);
               NaN where the source gives none (only :func:`paper_convention`).
    sigma_sys: the part of ``sigma`` common to all elements (scale zero points).
    source:    provenance: every relation and constant used, in order.
    reason:    '' for a valid element, otherwise why it was refused.
    unit:      'mag', 'K', 'dex' ...

    Arrays are read-only. Scalars are 0-d arrays; :meth:`stack` joins them.
    """

    value: np.ndarray
    sigma: np.ndarray
    source: str
    reason: np.ndarray | None = None
    sigma_sys: np.ndarray | float = 0.0
    unit: str = ""

    def __post_init__(self) -> None:
        value = np.asarray(self.value, dtype=float)
        sigma = np.broadcast_to(np.asarray(self.sigma, dtype=float), value.shape).copy()
        sys_ = np.broadcast_to(np.asarray(self.sigma_sys, dtype=float), value.shape).copy()
        if self.reason is None:
            reason = np.full(value.shape, "", dtype=object)
        else:
            reason = np.broadcast_to(np.asarray(self.reason, dtype=object), value.shape).copy()
            reason = np.where(reason == None, "", reason).astype(object)  # noqa: E711
        value = value.copy()
        unexplained = ~np.isfinite(value) & (reason == "")
        reason[unexplained] = "undefined: a required input is missing or not finite"
        refused = reason != ""
        value[refused] = np.nan
        sigma[refused] = np.nan
        sys_[refused] = np.nan
        object.__setattr__(self, "value", _frozen(value))
        object.__setattr__(self, "sigma", _frozen(sigma))
        object.__setattr__(self, "sigma_sys", _frozen(sys_))
        object.__setattr__(self, "reason", _frozen(reason))

    # -- access -------------------------------------------------------------
    @property
    def ok(self) -> np.ndarray:
        """True where a value was derived."""
        return self.reason == ""

    def __len__(self) -> int:
        return int(self.value.size)

    def __getitem__(self, index) -> "Calibrated":
        return Calibrated(self.value[index], self.sigma[index], self.source, self.reason[index],
                          self.sigma_sys[index], self.unit)

    def refusals(self) -> dict[str, int]:
        """Count of refused elements by reason."""
        reasons, counts = np.unique(self.reason[~self.ok].astype(str), return_counts=True)
        return dict(zip(reasons.tolist(), counts.tolist()))

    def refuse(self, mask: np.ndarray, why: str) -> "Calibrated":
        """A copy with the elements in ``mask`` (not yet refused) refused for ``why``."""
        reason = self.reason.copy()
        reason[np.asarray(mask, dtype=bool) & (reason == "")] = why
        return Calibrated(self.value, self.sigma, self.source, reason, self.sigma_sys, self.unit)

    @classmethod
    def stack(cls, items: Sequence["Calibrated"]) -> "Calibrated":
        """Join 0-d or 1-d results (same source) into one 1-d result."""
        if not items:
            raise ValueError("nothing to stack")
        sources = {it.source for it in items}
        if len(sources) != 1:
            raise ValueError("cannot stack results of different provenance")
        cat = lambda name: np.concatenate([np.atleast_1d(getattr(it, name)) for it in items])  # noqa: E731
        return cls(cat("value"), cat("sigma"), items[0].source, cat("reason"), cat("sigma_sys"),
                   items[0].unit)

    def __repr__(self) -> str:
        n_ok = int(np.sum(self.ok))
        med = np.nanmedian(self.value) if n_ok else float("nan")
        return (f"Calibrated(n={len(self)}, ok={n_ok}, median={med:.4g} {self.unit}, "
                f"source={self.source[:60]!r}...)")


@dataclass(frozen=True)
class StellarParameters:
    """The physical parameters derived for a set of stars, each with provenance."""

    reddening: Calibrated   # E(V-I)
    vi0: Calibrated         # intrinsic (V-I)_0
    abs_v: Calibrated
    abs_i: Calibrated
    abs_g: Calibrated       # Gaia (E)DR3 G
    teff: Calibrated


# --------------------------------------------------------------------------
# Constants, each with its source
# --------------------------------------------------------------------------

PAPER_CONVENTION = (
    "paper convention (NOT physical): Gaia DR2 teff_val / abs_Gmag from the OGLE x Gaia DR2 "
    "cross-match of Martinez-Palomera, Bloom & Abrahams 2022, AJ 164, 263; Teff ignores "
    "extinction, abs_Gmag uses Gaia DR2 parallax distances (Bailer-Jones et al. 2018) that are "
    "far too small for the LMC")
PAPER_CONVENTION_TEFF = PAPER_CONVENTION + " [teff_val]"
PAPER_CONVENTION_ABS_G = PAPER_CONVENTION + " [abs_Gmag]"

LMC_DISTANCE_MODULUS = Constant(
    18.477, 0.004, 0.026,
    "Pietrzynski et al. 2019, Nature 567, 200: LMC mu0 = 18.477 +- 0.004 (stat) +- 0.026 (sys), "
    "20 detached eclipsing binaries")

LMC_DEPTH = Constant(
    0.0, 0.05, 0.0,
    "adopted 0.05 mag per-star scatter of the true distance modulus about the LMC mean "
    "(inclined disc and depth across the OGLE-III field); bounded above by the ~0.08 mag total "
    "scatter of the OGLE LMC Wesenheit PL relation (Soszynski et al. 2008, AcA 58, 163)")

OGLE_WESENHEIT_R = Constant(
    1.55, 0.0, 0.0,
    "OGLE Wesenheit W_I = I - 1.55 (V - I) (Udalski et al. 1999, AcA 49, 201; Soszynski et al. "
    "2008, AcA 58, 163); 1.55 = A_I / E(V-I) for the standard Galactic extinction curve "
    "(Schlegel, Finkbeiner & Davis 1998) as adopted by OGLE; hence A_V = 2.55 E(V-I)")

LMC_MEAN_REDDENING = Constant(
    0.100, 0.043, 0.0,
    "Skowron et al. 2021, ApJS 252, 23 (OGLE-IV red clump map): mean LMC E(V-I) = 0.100 +- 0.043 "
    "mag; the 0.043 spread is used as the per-star uncertainty")

RRAB_MIN_LIGHT_COLOUR = Constant(
    0.58, 0.07, 0.02,
    "Guldenschuh et al. 2005, PASP 117, 721: intrinsic RRab colour at minimum light "
    "(V-I)_0,min = 0.58 +- 0.02 mag (mean colour over phases 0.5-0.8 after V maximum), the "
    "+-0.02 kept as a shared zero point; per-star term 0.07 mag = the star-to-star scatter of "
    "the minimum-light V-I colour of OGLE bulge RRab found by Collinge, Sumi & Fabrycky 2006, "
    "ApJ 651, 197 (astro-ph/0601137), who also see a slow reddening with period")

MIN_LIGHT_PHASES = (0.5, 0.8)
"""Phase window after V maximum over which the minimum-light colour is averaged
(Guldenschuh et al. 2005; Kunder, Chaboyer & Layden 2010, AJ 139, 415)."""

BULGE_R_I = Constant(
    1.217, 0.0, 0.14,
    "Nataf et al. 2013, ApJ 769, 88: A_I = 1.217 E(V-I) (1 + 1.126 (E(J-Ks)/E(V-I) - 0.3433)), "
    "mean R_I = A_I/E(V-I) = 1.217 toward the bulge (R_V ~ 2.5 law); the adopted +-0.14 "
    "systematic spans the RR-Lyrae-based R_I = 1.080 +- 0.007 of Pietrukowicz et al. 2012, "
    "ApJ 750, 169")

BULGE_DIFFERENTIAL_REDDENING = Constant(
    0.09, 0.0, 0.0,
    "Nataf et al. 2013, ApJ 769, 88: 1-sigma differential reddening within 6 arcmin fields "
    "averages 9 % of the total reddening")

GALACTIC_CENTRE_DISTANCE_PC = Constant(
    8178.0, 13.0, 22.0,
    "GRAVITY Collaboration 2019, A&A 625, L10: R0 = 8178 +- 13 (stat) +- 22 (sys) pc from the "
    "orbit of S2 (the 2021 update, A&A 647, A59, gives 8275 pc: 0.026 mag, inside BULGE_DEPTH)")

BULGE_DEPTH = Constant(
    0.0, 0.25, 0.0,
    "adopted 0.25 mag (about 1 kpc at 8.2 kpc) per-star line-of-sight spread of bulge RR Lyrae "
    "about R0; they fill a triaxial bar-like spheroid (Pietrukowicz et al. 2015, ApJ 811, 113, "
    "who derive R0 = 8.27 +- 0.01 (stat) +- 0.40 (sys) kpc from them)")

BULGE_DISTANCE_OUTLIER = Constant(
    4.0, 0.0, 0.0,
    "adopted: an absolute magnitude more than 4 sigma (the star's and the M_V-[Fe/H] relation's "
    "in quadrature) from the published RR Lyrae M_V is refused: the star is not at the bulge "
    "distance, e.g. an RR Lyrae of the Sagittarius dwarf galaxy behind the bulge, (m-M)0 = "
    "17.10 +- 0.15, 26.3 kpc (Monaco et al. 2004, MNRAS 353, 874; its RR Lyrae are 2.41 mag "
    "fainter than the bulge's: Kunder & Chaboyer 2009, AJ 137, 4478), a foreground disc star, "
    "or a blend")

BULGE_FEH = Constant(
    -1.02, 0.25, 0.18,
    "Pietrukowicz et al. 2012, ApJ 750, 169: photometric [Fe/H] of OGLE-III bulge RR Lyrae "
    "peaks at -1.02 +- 0.18 with a 0.25 dex dispersion")

HALO_FEH = Constant(
    -1.5, 0.3, 0.1,
    "adopted [Fe/H] = -1.5 +- 0.3 for Stripe 82 (inner-halo) RR Lyrae: the halo metallicity "
    "distribution of Ivezic et al. 2008, ApJ 684, 287 peaks near -1.5")

RR_LYRAE_LOGG = Constant(
    2.75, 0.25, 0.0,
    "adopted mean log g = 2.75 +- 0.25 for RR Lyrae (spectroscopic log g of RRab/RRc spans about "
    "2.5-3.0 over the cycle, e.g. For, Sneden & Preston 2011, ApJS 197, 29; Sneden et al. 2017, "
    "arXiv:1709.00494 for RRc)")

LMC_CEPHEID_FEH = Constant(
    -0.41, 0.08, 0.0,
    "Romaniello et al. 2022, A&A 658, A29: high-resolution spectra of 89 LMC classical Cepheids, "
    "mean [Fe/H] = -0.409 with a 0.076 dex star-to-star dispersion (rounded: -0.41 +- 0.08)")

CEPHEID_LOGG = Constant(
    1.5, 0.5, 0.0,
    "adopted mean log g = 1.5 +- 0.5 for classical Cepheids: their spectroscopic gravities span "
    "about 0.5-2.5 dex, lower at longer periods (e.g. Luck 2018, AJ 156, 171); at Cepheid colours "
    "the Casagrande et al. 2021 relation moves by about 90 K per dex of log g, so +-0.5 dex is "
    "+-45 K")

CEPHEID_TEFF_SCALE_SYS = Constant(
    0.0, 0.0, 150.0,
    "adopted 150 K shared uncertainty for applying the Casagrande et al. 2021 relation, "
    "calibrated on static GALAH dwarfs and giants (few of them supergiants of log g ~ 1.5), to "
    "pulsating supergiants' intensity-mean colours; twice its per-star scatter. Control: on the "
    "1,126 LMC Cepheids of the OGLE x Gaia DR2 cross-match the result lies a median 148 K above "
    "Gaia DR2 teff_val (Spearman 0.76), which ignores the LMC's E(V-I) = 0.10 and so should "
    "come out cooler")

CEPHEID_TEFF_RANGE = (4300.0, 7500.0)
"""Mean Teff (K) outside which a derived classical-Cepheid Teff is refused. Adopted: the chain
gives the OGLE-III LMC Cepheids 4,670-6,670 K (1-99 %), the strip Sandage, Tammann & Reindl
2004 (A&A 424, 43) map; the window lies 370 K below and 830 K above that, and refuses 15 of
the 3,322 LMC Cepheid colours (blends, or a reddening far from the LMC mean)."""

RR_LYRAE_MV_AT_FEH_M15 = Constant(
    0.59, 0.03, 0.0,
    "Cacciari & Clementini 2003, Lect. Notes Phys. 635, 105: <M_V(RR)> = 0.59 +- 0.03 at "
    "[Fe/H] = -1.5")
RR_LYRAE_MV_FEH_SLOPE = Constant(
    0.214, 0.047, 0.0,
    "Clementini et al. 2003, AJ 125, 1309: dM_V/d[Fe/H] = 0.214 +- 0.047 (LMC RR Lyrae)")

SFD_EXTINCTION_SCALE = Constant(
    1.0, 0.0, 0.14,
    "SFD98 reddening kept at face value as in Sesar et al. 2010; Schlafly & Finkbeiner 2011, "
    "ApJ 737, 103 find SFD over-predicts by ~14 % (E_SF11 = 0.86 E_SFD): carried as a 14 % "
    "systematic on every SDSS extinction")

STRIPE82_DISTANCE_MODULUS_SIGMA = Constant(
    0.0, 0.10, 0.05,
    "adopted 0.10 mag (5 %) per-star and 0.05 mag shared uncertainty on the distance moduli of "
    "Sesar et al. 2010, ApJ 708, 717 (table 3), which rest on an RR Lyrae M_V-[Fe/H] relation: "
    "an absolute magnitude m_0 - mu from them returns that relation, not each star's own "
    "luminosity (the 483 stars' M_V: robust spread 0.01 mag, per-star uncertainty 0.12 mag)")

# Extinction per unit E(B-V), R_V = 3.1: Schlegel, Finkbeiner & Davis 1998 (SFD98), ApJ 500,
# 525, Table 6 (SDSS u g r i z and Landolt V, I). The SDSS values are those Sesar et al. 2010 use
# (and sdss_physics, which imports them from here).
SFD_R = {"u": 5.155, "g": 3.793, "r": 2.751, "i": 2.086, "z": 1.479}
_SFD_LANDOLT_V = 3.315
_SFD_LANDOLT_I = 1.940

# Riello et al. 2021, A&A 649, A3, Table C.2 (Gaia EDR3 = DR3 photometry) polynomials in
# x = V - I_C, valid -0.4 < x < 5.0 (their Table C.1). Coefficients as transcribed in
# agabrown/PyGaia (pygaia.photometry.transformations, citing the Gaia DR3 documentation 5.5.1).
_RIELLO_G_MINUS_V = (-0.01597, -0.02809, -0.2483, 0.03656, -0.002939)
_RIELLO_BP_MINUS_RP = (-0.03298, 1.259, -0.1279, 0.01631)
_RIELLO_VI_RANGE = (-0.4, 5.0)
# Adopted scatter of those transformations (Riello et al. 2021 list each fit's residual sigma,
# a few hundredths of a magnitude; we adopt 0.03 mag for both).
_RIELLO_SIGMA = 0.03

# Casagrande et al. 2021, MNRAS 507, 2684 (GALAH IRFM), Gaia DR3 BP-RP colour-Teff relation,
# coefficients as distributed with the authors' code (casaluca/colte, colte.py, cpol[0] for DR3):
# Teff = a0 + a1 X + a2 X^2 + a3 X^3 + a4 X^5 + logg (a5 + a6 X + a7 X^2 + a8 X^3 + a9 X^5)
#        + feh (a10 + a11 X + a12 X^2 + a13 X^3) + a14 feh logg X,   X = (BP-RP)_0.
_CASAGRANDE21_BPRP_DR3 = (7980.8845, -4138.3457, 1264.9366, -130.4388, 0.0, 285.8393, -324.2196,
                          106.8511, -4.9825, 0.0, 4.5138, -203.7774, 126.6981, -14.7442, 40.7376)
# Validity as applied in colte: BP-RP within [0.20, 2.55] for log g <= 3.2 (giants) and
# [0.20, 2.00] above; 0 <= log g <= 5; [Fe/H] <= 0.6, and [Fe/H] < -4 treated as -4.
_CASAGRANDE21_GIANT_RANGE = (0.20, 2.55)
_CASAGRANDE21_DWARF_RANGE = (0.20, 2.00)
# Adopted per-star scatter of the relation for RR Lyrae: 80 K (Casagrande et al. 2021 quote
# several tens of K per colour; rounded up because RR Lyrae are hot, metal-poor giants near the
# edge of the calibration sample and their mean colour only approximates an equilibrium colour),
# plus the 20 K zero point of the IRFM scale that colte adds to every uncertainty.
_CASAGRANDE21_SCATTER_K = 80.0
_CASAGRANDE21_ZERO_POINT_K = 20.0

# Lupton (2005), SDSS-to-Johnson-Cousins transformations fitted to Stetson standards, as given
# on the SDSS "Transformations between SDSS magnitudes and UBVRcIc" page (DR4-DR16):
#   V = g - 0.5784 (g - r) - 0.0038     rms 0.0054
#   I = r - 1.2444 (r - i) - 0.3820     rms 0.0078
# hence V - I = 0.4216 (g - r) + 1.2444 (r - i) + 0.3782 (rms 0.0095). Chosen over the linear
# V-I(g-i) of Jordi, Grebel & Ammon 2006 (A&A 460, 339) because the transcription of it we could
# check (V-I = 0.674 (g-i) + 0.406) gives the Sun V-I = 0.78 instead of 0.70, whereas Lupton's
# relations reproduce the solar colour (see the tests).
_LUPTON_V = (-0.5784, -0.0038, 0.0054)     # V - g = a (g - r) + b, rms
_LUPTON_I = (-1.2444, -0.3820, 0.0078)     # I - r = a (r - i) + b, rms
# Adopted extra scatter for applying a fit to normal stars to RR Lyrae mean colours.
_LUPTON_SIGMA = 0.02

# Physically allowed windows used to refuse nonsense.
_RR_LYRAE_TEFF_RANGE = (5000.0, 8500.0)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _join(*sources: str) -> str:
    return " | ".join(s for s in sources if s)


def _reason_like(shape) -> np.ndarray:
    return np.full(shape, "", dtype=object)


def _add_reason(reason: np.ndarray, mask, why: str) -> None:
    mask = np.asarray(mask, dtype=bool) & (reason == "")
    reason[mask] = why


def _as_constant_arrays(x, shape) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(value, sigma_stat, sigma_sys, source) from a Constant, a Calibrated or plain numbers."""
    if isinstance(x, Constant):
        return (np.full(shape, x.value), np.full(shape, x.sigma_stat),
                np.full(shape, x.sigma_sys), x.source)
    if isinstance(x, Calibrated):
        stat = np.sqrt(np.clip(x.sigma ** 2 - x.sigma_sys ** 2, 0.0, None))
        return (np.broadcast_to(x.value, shape), np.broadcast_to(stat, shape),
                np.broadcast_to(x.sigma_sys, shape), x.source)
    v = np.broadcast_to(_arr(x), shape)
    return v, np.zeros(shape), np.zeros(shape), "caller-supplied value"


def distance_modulus_from_pc(distance_pc: Constant) -> Constant:
    """mu = 5 log10(d / 10 pc), with d's uncertainties propagated (d sigma_d / (d ln 10) * 5)."""
    k = 5.0 / np.log(10.0) / distance_pc.value
    return Constant(5.0 * np.log10(distance_pc.value / 10.0), k * distance_pc.sigma_stat,
                    k * distance_pc.sigma_sys, "mu = 5 log10(d/10 pc) with " + distance_pc.source)


# --------------------------------------------------------------------------
# Light-curve helper: colour at minimum light from folded V and I curves
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class FourierFit:
    """Least-squares Fourier series m(phi) = a0 + sum_k a_k cos 2pi k phi + b_k sin 2pi k phi."""

    coeffs: np.ndarray
    cov: np.ndarray
    order: int
    rms: float
    n_used: int
    n_rejected: int

    def __call__(self, phase) -> np.ndarray:
        return design_matrix(phase, self.order) @ self.coeffs


def _normal_solve(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares by the normal equations (the Fourier basis is well conditioned)."""
    return np.linalg.solve(design.T @ design, design.T @ y)


def fit_fourier(phase, mag, order: int, clip: float = 4.0, max_iter: int = 5) -> FourierFit:
    """Fourier fit with iterative clipping at ``clip`` robust sigmas (1.4826 MAD).

    The covariance is s^2 (A^T A)^-1 with s^2 the residual variance, so pulsation
    jitter (Blazhko modulation, blending) enters the uncertainty honestly.
    """
    phase, mag = _arr(phase).ravel(), _arr(mag).ravel()
    good = np.isfinite(phase) & np.isfinite(mag)
    phase, mag = phase[good], mag[good]
    n_par = 2 * order + 1
    if phase.size < n_par + 3:
        raise ValueError(f"{phase.size} points cannot constrain a Fourier series of order {order}")
    full = design_matrix(phase, order)
    keep = np.ones(phase.size, dtype=bool)
    for _ in range(max_iter):
        coeffs = _normal_solve(full[keep], mag[keep])
        resid = mag - full @ coeffs
        scale = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))
        if not scale > 0:
            break
        new_keep = np.abs(resid) < clip * scale
        if new_keep.sum() < n_par + 3 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    design = full[keep]
    coeffs = _normal_solve(design, mag[keep])
    resid = mag[keep] - design @ coeffs
    dof = max(int(keep.sum()) - n_par, 1)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.pinv(design.T @ design)
    return FourierFit(coeffs, cov, order, float(np.sqrt(s2)), int(keep.sum()),
                      int(phase.size - keep.sum()))


_MIN_COLOUR_SOURCE = ("colour at minimum light: mean of Fourier-fitted V - I over phases "
                      "0.5-0.8 after V maximum (Guldenschuh et al. 2005, PASP 117, 721; "
                      "Kunder, Chaboyer & Layden 2010, AJ 139, 415)")


def colour_at_minimum(time_v, mag_v, time_i, mag_i, period: float, *,
                      order_v: int | None = None, order_i: int | None = None,
                      window: tuple[float, float] = MIN_LIGHT_PHASES,
                      max_phase_gap: float = 0.15, max_points: int = 3000) -> Calibrated:
    """(V - I) at minimum light of one star from its V and I time series (0-d result).

    Both bands are folded on ``period`` (same time origin), fitted with Fourier
    series (order from the number of points unless given), the phase of V
    maximum is found on the V fit, and the model colour V(phi) - I(phi) is
    averaged over ``window`` (phases after V maximum). The uncertainty is the
    propagated covariance of both fits. A band with more than ``max_points``
    epochs is thinned to every k-th epoch (OGLE I curves reach 15,000 points;
    3,000 already fix the mean colour far below the 0.07 mag intrinsic scatter).
    Refused (NaN with a reason) when the period is not positive, a band has
    too few points or leaves a phase gap wider than ``max_phase_gap``, or V
    has fewer than 3 points near minimum light.
    """
    t_v, v = _arr(time_v).ravel(), _arr(mag_v).ravel()
    t_i, i = _arr(time_i).ravel(), _arr(mag_i).ravel()
    ok_v, ok_i = np.isfinite(t_v) & np.isfinite(v), np.isfinite(t_i) & np.isfinite(i)
    t_v, v, t_i, i = t_v[ok_v], v[ok_v], t_i[ok_i], i[ok_i]
    if i.size > max_points:
        step = int(np.ceil(i.size / max_points))
        t_i, i = t_i[::step], i[::step]
    if v.size > max_points:
        step = int(np.ceil(v.size / max_points))
        t_v, v = t_v[::step], v[::step]

    def refused(why: str) -> Calibrated:
        return Calibrated(np.nan, np.nan, _MIN_COLOUR_SOURCE, why, unit="mag")

    if not (np.isfinite(period) and period > 0):
        return refused("period missing or not positive")
    if order_v is None:
        order_v = int(np.clip((v.size - 1) // 10, 2, 5))
    if order_i is None:
        order_i = int(np.clip((i.size - 1) // 10, 2, 8))
    if v.size < 2 * order_v + 6:
        return refused("too few V points for a minimum-light colour")
    if i.size < 2 * order_i + 6:
        return refused("too few I points for a minimum-light colour")
    phase_v, phase_i = np.mod(t_v / period, 1.0), np.mod(t_i / period, 1.0)
    for band, phase in (("V", phase_v), ("I", phase_i)):
        ordered = np.sort(phase)
        gap = np.diff(np.concatenate([ordered, ordered[:1] + 1.0])).max()
        if gap > max_phase_gap:
            return refused(f"{band} phase coverage has a gap wider than {max_phase_gap:g} in phase")
    try:
        fit_v, fit_i = fit_fourier(phase_v, v, order_v), fit_fourier(phase_i, i, order_i)
    except np.linalg.LinAlgError:
        return refused("Fourier fit is singular")
    grid = np.linspace(0.0, 1.0, 2000, endpoint=False)
    phase_max = grid[np.argmin(fit_v(grid))]
    rel = np.mod(phase_v - phase_max, 1.0)
    if np.sum((rel >= window[0] - 0.05) & (rel <= window[1] + 0.05)) < 3:
        return refused("fewer than 3 V points near minimum light")
    win = np.mod(phase_max + np.linspace(window[0], window[1], 61), 1.0)
    g_v = design_matrix(win, order_v).mean(axis=0)
    g_i = design_matrix(win, order_i).mean(axis=0)
    colour = float(g_v @ fit_v.coeffs - g_i @ fit_i.coeffs)
    var = float(g_v @ fit_v.cov @ g_v + g_i @ fit_i.cov @ g_i)
    return Calibrated(colour, np.sqrt(var), _MIN_COLOUR_SOURCE, unit="mag")


# --------------------------------------------------------------------------
# Reddening
# --------------------------------------------------------------------------

def reddening_from_minimum_colour(vi_min, sigma=0.0, *,
                                  intrinsic: Constant = RRAB_MIN_LIGHT_COLOUR,
                                  ) -> Calibrated:
    """E(V-I) of RRab stars = observed (V-I)_min - intrinsic (V-I)_0,min.

    ``vi_min``: a :class:`Calibrated` from :func:`colour_at_minimum` (stacked),
    or plain colours with their measurement ``sigma``. Valid for
    fundamental-mode (RRab) stars only: the near-constant colour at minimum is
    an RRab property (Guldenschuh et al. 2005). A reddening more than 3 sigma
    below zero (a star bluer than any RRab at minimum) is refused.
    """
    if not isinstance(vi_min, Calibrated):
        vi_min = Calibrated(vi_min, sigma, "caller-supplied (V-I) at minimum light", unit="mag")
    value = vi_min.value - intrinsic.value
    stat = np.sqrt(np.clip(vi_min.sigma ** 2 - vi_min.sigma_sys ** 2, 0, None)
                   + intrinsic.sigma_stat ** 2)
    sys_ = np.hypot(vi_min.sigma_sys, intrinsic.sigma_sys)
    sigma = np.hypot(stat, sys_)
    reason = vi_min.reason.copy()
    _add_reason(reason, value < -3.0 * sigma,
                "negative reddening: minimum-light colour bluer than the intrinsic RRab colour")
    return Calibrated(value, sigma, _join(vi_min.source, "E(V-I) = (V-I)_min - " + intrinsic.source),
                      reason, sys_, "mag")


def _angular_sep_arcmin(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle separation (haversine), degrees in, arcmin out."""
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = (np.sin((dec2 - dec1) / 2) ** 2
         + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2)
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 60.0


def reddening_from_neighbours(ra, dec, ref_ra, ref_dec, ref: Calibrated, *,
                              radius_arcmin: float = 6.0, min_neighbours: int = 3,
                              max_neighbours: int = 8,
                              differential: Constant = BULGE_DIFFERENTIAL_REDDENING,
                              ) -> Calibrated:
    """E(V-I) at (ra, dec) from the median of the nearest reference stars (e.g. RRab).

    For RRc (no calibrated minimum-light colour) the reddening of the line of
    sight is taken from up to ``max_neighbours`` RRab within ``radius_arcmin``
    (6' is the field size over which Nataf et al. 2013 measure differential
    reddening). The uncertainty is the neighbours' scatter / sqrt(n) (1.2533 x
    for a median) in quadrature with the differential reddening expected
    within such a field (``differential`` x E). A reference star at zero
    separation (the star itself) is skipped. Refused when fewer than
    ``min_neighbours`` valid references lie within the radius.
    """
    ra, dec = _arr(ra).ravel(), _arr(dec).ravel()
    ref_ra, ref_dec = _arr(ref_ra).ravel(), _arr(ref_dec).ravel()
    good = ref.ok.ravel() & np.isfinite(ref_ra) & np.isfinite(ref_dec)
    r_ra, r_dec = ref_ra[good], ref_dec[good]
    r_val, r_sys = ref.value.ravel()[good], ref.sigma_sys.ravel()[good]
    value = np.full(ra.size, np.nan)
    sigma = np.full(ra.size, np.nan)
    sys_ = np.full(ra.size, np.nan)
    reason = _reason_like(ra.size)
    for k in range(ra.size):
        if not (np.isfinite(ra[k]) and np.isfinite(dec[k])):
            reason[k] = "position missing"
            continue
        sep = _angular_sep_arcmin(ra[k], dec[k], r_ra, r_dec)
        near = np.flatnonzero((sep < radius_arcmin) & (sep > 1e-4))
        near = near[np.argsort(sep[near])][:max_neighbours]
        if near.size < min_neighbours:
            reason[k] = (f"fewer than {min_neighbours} reference stars within "
                         f"{radius_arcmin:g} arcmin")
            continue
        vals = r_val[near]
        med = float(np.median(vals))
        spread = float(np.std(vals, ddof=1)) * 1.2533 / np.sqrt(near.size)
        value[k] = med
        sys_[k] = float(np.median(r_sys[near]))
        sigma[k] = float(np.sqrt(spread ** 2 + (differential.value * med) ** 2 + sys_[k] ** 2))
    src = _join(ref.source, f"median E(V-I) of <= {max_neighbours} neighbours within "
                            f"{radius_arcmin:g} arcmin; " + differential.source)
    return Calibrated(value, sigma, src, reason, sys_, "mag")


# --------------------------------------------------------------------------
# Colour transformations and Teff
# --------------------------------------------------------------------------

def _poly(coeffs: Sequence[float], x: np.ndarray) -> np.ndarray:
    return sum(c * x ** n for n, c in enumerate(coeffs))


def _dpoly(coeffs: Sequence[float], x: np.ndarray) -> np.ndarray:
    return sum(n * c * x ** (n - 1) for n, c in enumerate(coeffs) if n > 0)


_RIELLO_SOURCE = ("Riello et al. 2021, A&A 649, A3, Table C.2 (Gaia EDR3 vs Johnson-Cousins, "
                  "valid -0.4 < V-I < 5.0; adopted 0.03 mag scatter)")


def _vi_in_riello_range(vi: np.ndarray) -> np.ndarray:
    return (vi > _RIELLO_VI_RANGE[0]) & (vi < _RIELLO_VI_RANGE[1])


def bp_rp_from_vi(vi: Calibrated) -> Calibrated:
    """Gaia (BP - RP) from Johnson-Cousins (V - I): Riello et al. 2021 Table C.2."""
    x = vi.value
    value = _poly(_RIELLO_BP_MINUS_RP, x)
    deriv = _dpoly(_RIELLO_BP_MINUS_RP, x)
    stat = np.sqrt((deriv ** 2) * np.clip(vi.sigma ** 2 - vi.sigma_sys ** 2, 0, None)
                   + _RIELLO_SIGMA ** 2)
    sys_ = np.abs(deriv) * vi.sigma_sys
    reason = vi.reason.copy()
    _add_reason(reason, ~_vi_in_riello_range(x), "V-I outside -0.4..5.0 (Riello et al. 2021 range)")
    return Calibrated(value, np.hypot(stat, sys_), _join(vi.source, "BP-RP from " + _RIELLO_SOURCE),
                      reason, sys_, "mag")


def g_minus_v_from_vi(vi) -> np.ndarray:
    """Gaia G - V as a function of V - I_C (Riello et al. 2021 Table C.2); NaN outside -0.4..5.0."""
    x = _arr(vi)
    return np.where(_vi_in_riello_range(x), _poly(_RIELLO_G_MINUS_V, x), np.nan)


def _casagrande21(bprp: np.ndarray, logg: np.ndarray, feh: np.ndarray) -> np.ndarray:
    a = _CASAGRANDE21_BPRP_DR3
    x = bprp
    feh = np.maximum(feh, -4.0)   # colte: [Fe/H] < -4 treated as -4
    return (a[0] + a[1] * x + a[2] * x ** 2 + a[3] * x ** 3 + a[4] * x ** 5
            + logg * (a[5] + a[6] * x + a[7] * x ** 2 + a[8] * x ** 3 + a[9] * x ** 5)
            + feh * (a[10] + a[11] * x + a[12] * x ** 2 + a[13] * x ** 3)
            + a[14] * feh * logg * x)


@dataclass(frozen=True)
class TeffScale:
    """What a kind of star's Teff is derived from its colour with: its [Fe/H] and log g, the
    window outside which a Teff is refused, and any systematic of applying the relation to it."""

    kind: str
    feh: Constant
    logg: Constant
    plausible: tuple[float, float]
    extra_sys: Constant = Constant(0.0, 0.0, 0.0, "")


#: RR Lyrae (halo [Fe/H]; the bulge stars pass their own :data:`BULGE_FEH`).
RR_LYRAE_TEFF_SCALE = TeffScale("RR Lyrae", HALO_FEH, RR_LYRAE_LOGG, _RR_LYRAE_TEFF_RANGE)
#: LMC classical Cepheids.
CEPHEID_TEFF_SCALE = TeffScale("classical Cepheid", LMC_CEPHEID_FEH, CEPHEID_LOGG,
                               CEPHEID_TEFF_RANGE, CEPHEID_TEFF_SCALE_SYS)


def teff_scale(cls: str) -> TeffScale:
    """The scale a class's training Teff was derived on: the LMC Cepheids' for CEP, the RR
    Lyrae's for every other class (only RR Lyrae and CEP get a Teff from :mod:`.star_physics`)."""
    return CEPHEID_TEFF_SCALE if cls == "CEP" else RR_LYRAE_TEFF_SCALE


_TEFF_SOURCE = ("Teff from (BP-RP)_0 with the Gaia DR3 IRFM colour-Teff relation of Casagrande "
                "et al. 2021, MNRAS 507, 2684 (coefficients of their colte code; valid BP-RP "
                "0.20-2.55 for log g <= 3.2; adopted 80 K scatter + 20 K IRFM zero point)")


def teff_from_bp_rp0(bprp: Calibrated, feh=None, logg=None, *,
                     scale: TeffScale | None = None) -> Calibrated:
    """Effective temperature from the dereddened Gaia (BP-RP)_0 colour.

    Casagrande et al. 2021 (MNRAS 507, 2684) Gaia DR3 IRFM relation at the given
    log g and [Fe/H] (a :class:`Constant`, a :class:`Calibrated` or numbers; None: the
    ``scale``'s, default :data:`RR_LYRAE_TEFF_SCALE`). Uncertainty: colour, [Fe/H] and log g
    errors through numerical derivatives, an adopted 80 K relation scatter (random), the 20 K
    IRFM zero point and the scale's own systematic (shared). Refused outside the relation's
    validity (BP-RP range for giants (log g <= 3.2) or dwarfs, log g outside 0..5, [Fe/H] >
    0.6) and outside the scale's plausible window (5,000-8,500 K for RR Lyrae).
    """
    scale = RR_LYRAE_TEFF_SCALE if scale is None else scale
    feh = scale.feh if feh is None else feh
    logg = scale.logg if logg is None else logg
    plausible = scale.plausible
    shape = bprp.value.shape
    f_val, f_stat, f_sys, f_src = _as_constant_arrays(feh, shape)
    g_val, g_stat, g_sys, g_src = _as_constant_arrays(logg, shape)
    x = bprp.value
    teff = _casagrande21(x, g_val, f_val)
    h = 1e-3
    d_x = (_casagrande21(x + h, g_val, f_val) - _casagrande21(x - h, g_val, f_val)) / (2 * h)
    d_g = (_casagrande21(x, g_val + h, f_val) - _casagrande21(x, g_val - h, f_val)) / (2 * h)
    d_f = (_casagrande21(x, g_val, f_val + h) - _casagrande21(x, g_val, f_val - h)) / (2 * h)
    x_stat = np.sqrt(np.clip(bprp.sigma ** 2 - bprp.sigma_sys ** 2, 0, None))
    stat = np.sqrt((d_x * x_stat) ** 2 + (d_g * g_stat) ** 2 + (d_f * f_stat) ** 2
                   + _CASAGRANDE21_SCATTER_K ** 2)
    sys_ = np.sqrt((d_x * bprp.sigma_sys) ** 2 + (d_g * g_sys) ** 2 + (d_f * f_sys) ** 2
                   + _CASAGRANDE21_ZERO_POINT_K ** 2 + scale.extra_sys.sigma_sys ** 2)
    reason = bprp.reason.copy()
    giant = g_val <= 3.2
    lo = np.where(giant, _CASAGRANDE21_GIANT_RANGE[0], _CASAGRANDE21_DWARF_RANGE[0])
    hi = np.where(giant, _CASAGRANDE21_GIANT_RANGE[1], _CASAGRANDE21_DWARF_RANGE[1])
    _add_reason(reason, ~((g_val >= 0) & (g_val <= 5)), "log g outside 0..5 (Casagrande et al. 2021)")
    _add_reason(reason, ~(f_val <= 0.6), "[Fe/H] above +0.6 (Casagrande et al. 2021)")
    _add_reason(reason, ~((x >= lo) & (x <= hi)),
                "(BP-RP)_0 outside the Casagrande et al. 2021 validity range")
    _add_reason(reason, ~((teff >= plausible[0]) & (teff <= plausible[1])),
                f"Teff outside {plausible[0]:,.0f}-{plausible[1]:,.0f} K: not a {scale.kind} colour")
    src = _join(bprp.source, _TEFF_SOURCE, "[Fe/H]: " + f_src, "log g: " + g_src,
                *([scale.extra_sys.source] if scale.extra_sys.sigma_sys else []))
    return Calibrated(teff, np.hypot(stat, sys_), src, reason, sys_, "K")


def teff_from_vi0(vi0: Calibrated, feh=None, logg=None, *,
                  scale: TeffScale | None = None) -> Calibrated:
    """Effective temperature from the dereddened Johnson-Cousins (V - I)_0 colour.

    Chain: (V-I)_0 -> (BP-RP)_0 by Riello et al. (2021) Table C.2
    (:func:`bp_rp_from_vi`, 0.03 mag scatter) -> Teff by
    :func:`teff_from_bp_rp0` (Casagrande et al. 2021). Every survey goes
    through this one function, so a star of a given colour and metallicity
    gets the same Teff whichever survey measured it. The mean colour of a
    pulsating star stands in for its equilibrium colour (intensity means, as
    OGLE and Sesar et al. 2010 publish).
    """
    return teff_from_bp_rp0(bp_rp_from_vi(vi0), feh=feh, logg=logg, scale=scale)


#: (V - I)_0 grid (mag, 0.001 mag steps) on which :func:`vi0_from_teff` inverts :func:`teff_from_vi0`.
_VI_GRID = np.round(np.arange(-0.3, 2.5, 0.001), 3)


@lru_cache(maxsize=4)
def _teff_grid(scale: TeffScale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`teff_from_vi0` on :data:`_VI_GRID` where it is derived, Teff rising: the colours,
    their Teff and |d(V-I)/dTeff| (computed once per scale: 3 ms, every draw asks)."""
    grid = teff_from_vi0(Calibrated(_VI_GRID, 0.0, "grid"), scale=scale)
    colour, on_grid = _VI_GRID[grid.ok][::-1], grid.value[grid.ok][::-1]
    return colour, on_grid, np.abs(np.gradient(colour, on_grid))


def vi0_from_teff(teff, scale: TeffScale | None = None) -> Calibrated:
    """(V - I)_0 of stars of effective temperature ``teff`` (K): the inverse of
    :func:`teff_from_vi0` on ``scale`` (default :data:`RR_LYRAE_TEFF_SCALE`; on a 0.001 mag
    grid), so the colour a training star's Teff was derived from. Uncertainty: the relation's
    80 K scatter, 20 K zero point and the scale's own systematic through its slope (about
    0.02 mag for RR Lyrae) and Riello's 0.03 mag.
    Refused outside the Teff the relation gives a colour of the scale's stars for."""
    scale = RR_LYRAE_TEFF_SCALE if scale is None else scale
    teff = _arr(teff)
    colour, on_grid, slope = _teff_grid(scale)
    teff_sigma = float(np.sqrt(_CASAGRANDE21_SCATTER_K ** 2 + _CASAGRANDE21_ZERO_POINT_K ** 2
                               + scale.extra_sys.sigma_sys ** 2))
    sigma = np.hypot(np.interp(teff, on_grid, slope) * teff_sigma, _RIELLO_SIGMA)
    reason = _reason_like(teff.shape)
    _add_reason(reason, ~((teff >= on_grid[0]) & (teff <= on_grid[-1])),
                f"Teff outside {on_grid[0]:,.0f}-{on_grid[-1]:,.0f} K, where the colour-Teff "
                f"relation gives a {scale.kind} colour")
    return Calibrated(np.interp(teff, on_grid, colour), sigma,
                      "(V-I)_0 from Teff, the inverse of: " + _join(_RIELLO_SOURCE, _TEFF_SOURCE),
                      reason, unit="mag")


# Riello et al. 2021 Table C.2 polynomials in x = V - I_C (coefficients as transcribed in
# agabrown/PyGaia, pygaia.photometry.transformations.gbrminv_from_vminic): G_BP - V and
# G_RP - V; their difference is _RIELLO_BP_MINUS_RP.
_RIELLO_BP_MINUS_V = (-0.0143, 0.3564, -0.1332, 0.01212)
_RIELLO_RP_MINUS_V = (0.01868, -0.9028, -0.005321, -0.004186)
#: (X - G) as a polynomial in x = V - I_C for the bands of Riello et al. 2021 Table C.2.
_RIELLO_MINUS_G = {
    "G": lambda x: 0.0 * x,
    "V": lambda x: -_poly(_RIELLO_G_MINUS_V, x),
    "I": lambda x: -_poly(_RIELLO_G_MINUS_V, x) - x,
    "BP": lambda x: _poly(_RIELLO_BP_MINUS_V, x) - _poly(_RIELLO_G_MINUS_V, x),
    "RP": lambda x: _poly(_RIELLO_RP_MINUS_V, x) - _poly(_RIELLO_G_MINUS_V, x),
}
RIELLO_BANDS = tuple(_RIELLO_MINUS_G)


def band_minus_g(band: str, vi: Calibrated, offset=None, scatter: float = _RIELLO_SIGMA,
                 source: str = "", valid=None, invalid_reason: str = "") -> Calibrated:
    """The colour (X - G) of ``band`` for stars of colour ``vi`` (V - I): by Riello et al. 2021
    Table C.2 for :data:`RIELLO_BANDS`, or by a caller's ``offset`` (a function of V - I, with
    its ``scatter``, ``source`` and ``valid`` range of V - I, refused outside with
    ``invalid_reason``). Uncertainty: the colour's through the relation's slope and the
    relation's scatter (none for G - G)."""
    x = vi.value
    if offset is None:
        if band not in _RIELLO_MINUS_G:
            raise ValueError(f"Riello et al. 2021 give no relation for band {band!r}; they cover "
                             f"{', '.join(RIELLO_BANDS)}")
        offset, source = _RIELLO_MINUS_G[band], f"{band} - G from {_RIELLO_SOURCE}"
        valid, invalid_reason = _vi_in_riello_range, "V-I outside -0.4..5.0 (Riello et al. 2021 range)"
        scatter = 0.0 if band == "G" else scatter
    h = 1e-3
    slope = (offset(x + h) - offset(x - h)) / (2 * h)
    reason = vi.reason.copy()
    _add_reason(reason, ~valid(x), invalid_reason)
    return Calibrated(offset(x), np.hypot(slope * vi.sigma, scatter), _join(vi.source, source),
                      reason, unit="mag")


# --------------------------------------------------------------------------
# LMC
# --------------------------------------------------------------------------

def _mag_inputs(mag, name: str, reason: np.ndarray) -> np.ndarray:
    m = _arr(mag)
    _add_reason(reason, ~np.isfinite(m), f"missing mean {name}")
    _add_reason(reason, np.isfinite(m) & ((m < -5) | (m > 30)), f"mean {name} not a magnitude")
    return m


def lmc_absolute_wesenheit(v_mag, i_mag, *, phot_sigma: float = 0.02,
                           mu: Constant = LMC_DISTANCE_MODULUS,
                           depth: Constant = LMC_DEPTH) -> Calibrated:
    """Absolute Wesenheit M_W = I - 1.55 (V - I) - mu0 for LMC stars.

    Reddening-free for the adopted law (:data:`OGLE_WESENHEIT_R`); mu0 from
    Pietrzynski et al. 2019. Uncertainty: photometry (``phot_sigma`` per band,
    independent), LMC depth (:data:`LMC_DEPTH`), and mu0 stat (random) and sys
    (shared).
    """
    v_mag, i_mag = np.broadcast_arrays(_arr(v_mag), _arr(i_mag))
    reason = _reason_like(v_mag.shape)
    v = _mag_inputs(v_mag, "V", reason)
    i = _mag_inputs(i_mag, "I", reason)
    r = OGLE_WESENHEIT_R.value
    w = i - r * (v - i)
    phot = phot_sigma * np.hypot(1 + r, r)
    stat = np.sqrt(phot ** 2 + depth.sigma_stat ** 2 + mu.sigma_stat ** 2)
    sys_ = np.full(v.shape, mu.sigma_sys)
    return Calibrated(w - mu.value, np.hypot(stat, sys_),
                      _join(OGLE_WESENHEIT_R.source, mu.source, depth.source), reason, sys_, "mag")


def lmc_parameters(v_mag, i_mag, *, phot_sigma: float = 0.02,
                   reddening: Constant = LMC_MEAN_REDDENING,
                   mu: Constant = LMC_DISTANCE_MODULUS,
                   depth: Constant = LMC_DEPTH,
                   scale: TeffScale = CEPHEID_TEFF_SCALE) -> StellarParameters:
    """Absolute V, I, Gaia G, (V-I)_0 and Teff of LMC stars from intensity-mean V and I.

    A_I = 1.55 E(V-I), A_V = 2.55 E(V-I) (:data:`OGLE_WESENHEIT_R`) with the
    mean LMC reddening of Skowron et al. 2021 (its 0.043 mag spread as the
    per-star error); mu0 of Pietrzynski et al. 2019; G from V and (V-I)_0 by
    Riello et al. 2021 Table C.2. Teff from (V-I)_0 by :func:`teff_from_vi0` on ``scale``
    (default :data:`CEPHEID_TEFF_SCALE`: the LMC Cepheids' [Fe/H], a supergiant's log g and the
    adopted systematic :data:`CEPHEID_TEFF_SCALE_SYS`).
    """
    v_mag, i_mag = np.broadcast_arrays(_arr(v_mag), _arr(i_mag))
    reason = _reason_like(v_mag.shape)
    v = _mag_inputs(v_mag, "V", reason)
    i = _mag_inputs(i_mag, "I", reason)
    r_i = OGLE_WESENHEIT_R.value
    r_v = r_i + 1.0
    e, s_e = reddening.value, reddening.sigma_stat
    src_base = _join(reddening.source, OGLE_WESENHEIT_R.source, mu.source, depth.source)
    mu_stat = np.hypot(depth.sigma_stat, mu.sigma_stat)
    sys_ = np.full(v.shape, mu.sigma_sys)

    ebv = Calibrated(np.full(v.shape, e), s_e, reddening.source, reason.copy(), 0.0, "mag")
    vi0_val = v - i - e
    vi0 = Calibrated(vi0_val, np.hypot(phot_sigma * np.sqrt(2), s_e),
                     _join(reddening.source, "(V-I)_0 = <V> - <I> - E(V-I)"), reason.copy(), 0.0, "mag")
    abs_v = Calibrated(v - r_v * e - mu.value,
                       np.hypot(np.sqrt(phot_sigma ** 2 + (r_v * s_e) ** 2 + mu_stat ** 2), sys_),
                       src_base, reason.copy(), sys_, "mag")
    abs_i = Calibrated(i - r_i * e - mu.value,
                       np.hypot(np.sqrt(phot_sigma ** 2 + (r_i * s_e) ** 2 + mu_stat ** 2), sys_),
                       src_base, reason.copy(), sys_, "mag")
    abs_g = _abs_g_from_v0(v - r_v * e, vi0, mu.value, phot_sigma, r_v * s_e, mu_stat, sys_,
                           src_base, reason)
    teff = teff_from_vi0(vi0, scale=scale)
    return StellarParameters(ebv, vi0, abs_v, abs_i, abs_g, teff)


def _abs_g_from_v0(v0, vi0: Calibrated, mu_value, phot_sigma, a_v_sigma, mu_stat, sys_,
                   source: str, reason: np.ndarray) -> Calibrated:
    """M_G = V_0 + (G-V)((V-I)_0) - mu, errors from V_0, the colour term, the fit and mu."""
    gv = g_minus_v_from_vi(vi0.value)
    d_gv = _dpoly(_RIELLO_G_MINUS_V, vi0.value)
    r = reason.copy()
    _add_reason(r, ~vi0.ok, "no intrinsic colour")
    _add_reason(r, ~np.isfinite(gv), "V-I outside -0.4..5.0 (Riello et al. 2021 range)")
    vi_stat = np.sqrt(np.clip(vi0.sigma ** 2 - vi0.sigma_sys ** 2, 0, None))
    stat = np.sqrt(phot_sigma ** 2 + a_v_sigma ** 2 + (d_gv * vi_stat) ** 2 + _RIELLO_SIGMA ** 2
                   + mu_stat ** 2)
    total_sys = np.hypot(sys_, np.abs(d_gv) * vi0.sigma_sys)
    return Calibrated(v0 + gv - mu_value, np.hypot(stat, total_sys),
                      _join(source, "G from " + _RIELLO_SOURCE), r, total_sys, "mag")


# --------------------------------------------------------------------------
# Galactic bulge RR Lyrae
# --------------------------------------------------------------------------

def bulge_rr_lyrae_parameters(v_mean, i_mean, reddening: Calibrated, *,
                              phot_sigma: float = 0.02,
                              feh=BULGE_FEH, logg=RR_LYRAE_LOGG,
                              r_i: Constant = BULGE_R_I,
                              distance_pc: Constant = GALACTIC_CENTRE_DISTANCE_PC,
                              depth: Constant = BULGE_DEPTH,
                              outlier: Constant = BULGE_DISTANCE_OUTLIER) -> StellarParameters:
    """Teff and absolute V, I, G of bulge RR Lyrae from mean V, I and each star's E(V-I).

    ``reddening``: from :func:`reddening_from_minimum_colour` (RRab) or
    :func:`reddening_from_neighbours` (RRc). Extinction A_I = R_I E(V-I),
    A_V = (R_I + 1) E(V-I) with R_I of Nataf et al. 2013; distance modulus of
    the Galactic centre (GRAVITY 2019) with the bulge depth as per-star error;
    Teff by :func:`teff_from_vi0` from (V-I)_0 = <V> - <I> - E(V-I) (OGLE's
    intensity means). Absolute magnitudes of a star not at the bulge distance
    (M_V more than ``outlier`` sigma from :func:`expected_rr_lyrae_abs_v`) are
    refused with that reason (:data:`BULGE_DISTANCE_OUTLIER`); its Teff, which
    does not depend on the distance, is kept.
    """
    v_mean, i_mean = np.broadcast_arrays(_arr(v_mean), _arr(i_mean))
    shape = v_mean.shape
    reason = _reason_like(shape)
    v = _mag_inputs(v_mean, "V", reason)
    i = _mag_inputs(i_mean, "I", reason)
    e = np.broadcast_to(reddening.value, shape)
    _add_reason(reason, ~np.broadcast_to(reddening.ok, shape), "no reddening for this star")
    e_stat = np.broadcast_to(np.sqrt(np.clip(reddening.sigma ** 2 - reddening.sigma_sys ** 2, 0, None)), shape)
    e_sys = np.broadcast_to(reddening.sigma_sys, shape)
    mu = distance_modulus_from_pc(distance_pc)
    mu_stat = np.hypot(depth.sigma_stat, mu.sigma_stat)

    vi0 = Calibrated(v - i - e, np.hypot(np.hypot(phot_sigma * np.sqrt(2), e_stat), e_sys),
                     _join(reddening.source, "(V-I)_0 = <V> - <I> - E(V-I)"), reason.copy(),
                     e_sys, "mag")
    a_i = r_i.value * e
    a_v = (r_i.value + 1.0) * e
    src = _join(reddening.source, r_i.source, mu.source, depth.source)

    def absolute(m0, coef, band_reason):
        stat = np.sqrt(phot_sigma ** 2 + (coef * e_stat) ** 2 + mu_stat ** 2)
        sys_ = np.sqrt((coef * e_sys) ** 2 + (e * r_i.sigma_sys) ** 2 + mu.sigma_sys ** 2)
        return Calibrated(m0 - mu.value, np.hypot(stat, sys_), src, band_reason, sys_, "mag")

    abs_v = absolute(v - a_v, r_i.value + 1.0, reason.copy())
    abs_i = absolute(i - a_i, r_i.value, reason.copy())
    a_v_sys = np.sqrt(((r_i.value + 1.0) * e_sys) ** 2 + (e * r_i.sigma_sys) ** 2)
    abs_g = _abs_g_from_v0(v - a_v, vi0, mu.value, phot_sigma, (r_i.value + 1.0) * e_stat, mu_stat,
                           np.hypot(a_v_sys, mu.sigma_sys), src, reason)
    expected = expected_rr_lyrae_abs_v(feh)
    with np.errstate(invalid="ignore"):
        far = (np.abs(abs_v.value - expected.value)
               > outlier.value * np.hypot(abs_v.sigma, expected.sigma))
    why = ("absolute magnitude inconsistent with an RR Lyrae at the bulge distance: "
           + outlier.source)
    abs_v, abs_i, abs_g = (m.refuse(far, why) for m in (abs_v, abs_i, abs_g))
    teff = teff_from_vi0(vi0, feh=feh, logg=logg)
    return StellarParameters(reddening, vi0, abs_v, abs_i, abs_g, teff)


# --------------------------------------------------------------------------
# SDSS Stripe 82 RR Lyrae
# --------------------------------------------------------------------------

_LUPTON_SOURCE = ("Lupton 2005 (SDSS DR4+ 'Transformations between SDSS magnitudes and "
                  "UBVRcIc'): V = g - 0.5784 (g-r) - 0.0038, I = r - 1.2444 (r-i) - 0.3820 "
                  "(rms 0.0054, 0.0078; adopted +0.02 mag for RR Lyrae)")
_SESAR_SOURCE = ("Sesar et al. 2010, ApJ 708, 717, table 3: flux-averaged g, r, i already corrected "
                 "for SFD98 extinction (A_r listed; checked against the table 1 epochs), distances")


def _sdss_extinction(a_r, band: str) -> np.ndarray:
    """A_band from A_r with the SFD98 Table 6 ratios used by Sesar et al. 2010 (as :mod:`.sdss_physics`)."""
    return _arr(a_r) * SFD_R[band] / SFD_R["r"]


def _lupton_v(g, r) -> np.ndarray:
    return g + _LUPTON_V[0] * (g - r) + _LUPTON_V[1]


def _lupton_i(r, i) -> np.ndarray:
    return r + _LUPTON_I[0] * (r - i) + _LUPTON_I[1]


def stripe82_g0(g0, r0, vi0) -> np.ndarray:
    """Gaia G_0 of Stripe 82 stars from their dereddened g_0, r_0 and (V-I)_0
    (:func:`stripe82_vi0`): Lupton's (2005) V, then G - V of Riello et al. (2021) Table C.2."""
    return _lupton_v(_arr(g0), _arr(r0)) + g_minus_v_from_vi(vi0)


def stripe82_vi0(g0, r0, i0, a_r, *, phot_sigma: float = 0.02) -> Calibrated:
    """Johnson-Cousins (V-I)_0 of Stripe 82 stars from Sesar et al. 2010 table 3.

    ``g0``, ``r0``, ``i0``: table 3 flux-averaged magnitudes, which are ALREADY
    corrected for extinction (table-1 epochs flux-averaged minus ``gF`` equals
    A_g = A_r 3.793/2.751; do not deredden them again). ``a_r`` (table 3
    ``rExt``) only sets the systematic error: SFD98 may over-predict reddening by
    14 % (Schlafly & Finkbeiner 2011). V and I from Lupton (2005):
    V - I = 0.4216 (g-r) + 1.2444 (r-i) + 0.3782.
    """
    g0, r0, i0, a_r = np.broadcast_arrays(_arr(g0), _arr(r0), _arr(i0), _arr(a_r))
    reason = _reason_like(g0.shape)
    _add_reason(reason, ~(np.isfinite(g0) & np.isfinite(r0) & np.isfinite(i0)), "missing g, r or i")
    _add_reason(reason, ~(np.isfinite(a_r) & (a_r >= 0)), "extinction missing or negative")
    value = _lupton_v(g0, r0) - _lupton_i(r0, i0)
    # d(V-I)/dg, /dr, /di for independent photometric errors
    dg, dr, di = 1 + _LUPTON_V[0], -_LUPTON_V[0] - 1 - _LUPTON_I[0], _LUPTON_I[0]
    stat = np.sqrt(phot_sigma ** 2 * (dg ** 2 + dr ** 2 + di ** 2)
                   + _LUPTON_V[2] ** 2 + _LUPTON_I[2] ** 2 + _LUPTON_SIGMA ** 2)
    a_g, a_rr, a_i = (_sdss_extinction(a_r, b) for b in ("g", "r", "i"))
    e_vi_removed = dg * a_g + dr * a_rr + di * a_i
    sys_ = SFD_EXTINCTION_SCALE.sigma_sys * np.abs(e_vi_removed)
    return Calibrated(value, np.hypot(stat, sys_),
                      _join(_SESAR_SOURCE, SFD_EXTINCTION_SCALE.source, _LUPTON_SOURCE), reason,
                      sys_, "mag")


def stripe82_rr_lyrae_parameters(g0, r0, i0, a_r, distance_kpc, *, phot_sigma: float = 0.02,
                                 feh=HALO_FEH, logg=RR_LYRAE_LOGG,
                                 mu_sigma: Constant = STRIPE82_DISTANCE_MODULUS_SIGMA,
                                 ) -> StellarParameters:
    """Teff and absolute V, I, G of Stripe 82 RR Lyrae from Sesar et al. 2010 table 3.

    Inputs are table 3's extinction-corrected flux-averaged ``gF``, ``rF``,
    ``iF``, its ``rExt`` (A_r, for the systematic error only) and distance
    ``d`` (kpc). Sesar et al.'s distances and SFD98 extinction are kept; Teff
    comes from (V-I)_0 (:func:`stripe82_vi0`) through the same
    :func:`teff_from_vi0` as the bulge stars, so both surveys share one Teff
    scale. V_0, I_0 from Lupton (2005); G_0 from V_0 and (V-I)_0 by Riello et
    al. 2021. The E(V-I) reported is the SFD98 value Sesar et al. already
    removed, A_r (3.315 - 1.940) / 2.751 (SFD98 Table 6, Landolt V, I).
    """
    g0, r0, i0, a_r, d = np.broadcast_arrays(_arr(g0), _arr(r0), _arr(i0), _arr(a_r),
                                             _arr(distance_kpc))
    vi0 = stripe82_vi0(g0, r0, i0, a_r, phot_sigma=phot_sigma)
    reason = vi0.reason.copy()
    _add_reason(reason, ~(np.isfinite(d) & (d > 0)), "distance missing or not positive")
    v0 = _lupton_v(g0, r0)
    i0_j = _lupton_i(r0, i0)
    a_g, a_rr, a_i = (_sdss_extinction(a_r, b) for b in ("g", "r", "i"))
    a_v = a_g + _LUPTON_V[0] * (a_g - a_rr)            # extinction Sesar removed from V_0
    a_iband = a_rr + _LUPTON_I[0] * (a_rr - a_i)       # ... and from I_0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = 5.0 * np.log10(d * 100.0)
    mu_stat, mu_sys = mu_sigma.sigma_stat, mu_sigma.sigma_sys
    scale = SFD_EXTINCTION_SCALE.sigma_sys
    v_stat = np.sqrt(phot_sigma ** 2 + _LUPTON_V[2] ** 2 + _LUPTON_SIGMA ** 2)
    i_stat = np.sqrt(phot_sigma ** 2 + _LUPTON_I[2] ** 2 + _LUPTON_SIGMA ** 2)
    sys_v = np.hypot(scale * a_v, mu_sys)
    sys_i = np.hypot(scale * a_iband, mu_sys)
    src = _join(_SESAR_SOURCE, SFD_EXTINCTION_SCALE.source, _LUPTON_SOURCE, mu_sigma.source)
    abs_v = Calibrated(v0 - mu, np.hypot(np.hypot(v_stat, mu_stat), sys_v), src, reason.copy(),
                       sys_v, "mag")
    abs_i = Calibrated(i0_j - mu, np.hypot(np.hypot(i_stat, mu_stat), sys_i), src, reason.copy(),
                       sys_i, "mag")
    abs_g = _abs_g_from_v0(v0, vi0, mu, 0.0, v_stat, mu_stat, sys_v, src, reason)
    e_vi = a_r * (_SFD_LANDOLT_V - _SFD_LANDOLT_I) / SFD_R["r"]
    ebv = Calibrated(e_vi, scale * e_vi,
                     _join(_SESAR_SOURCE, SFD_EXTINCTION_SCALE.source,
                           "E(V-I) = A_r (3.315 - 1.940) / 2.751, SFD98 Table 6"),
                     vi0.reason.copy(), scale * e_vi, "mag")
    teff = teff_from_vi0(vi0, feh=feh, logg=logg)
    return StellarParameters(ebv, vi0, abs_v, abs_i, abs_g, teff)


# --------------------------------------------------------------------------
# Reference relations and the paper's convention
# --------------------------------------------------------------------------

def expected_rr_lyrae_abs_v(feh) -> Calibrated:
    """Published mean RR Lyrae M_V at [Fe/H]: 0.59 + 0.214 ([Fe/H] + 1.5).

    Zero point Cacciari & Clementini 2003 (0.59 +- 0.03 at [Fe/H] = -1.5),
    slope Clementini et al. 2003 (0.214 +- 0.047). A reference for checks and
    priors, not a per-star measurement.
    """
    f_val, f_stat, f_sys, f_src = _as_constant_arrays(feh, np.shape(getattr(feh, "value", feh)))
    zp, sl = RR_LYRAE_MV_AT_FEH_M15, RR_LYRAE_MV_FEH_SLOPE
    value = zp.value + sl.value * (f_val + 1.5)
    sigma = np.sqrt(zp.sigma ** 2 + (sl.sigma_stat * (f_val + 1.5)) ** 2
                    + (sl.value * np.hypot(f_stat, f_sys)) ** 2)
    return Calibrated(value, sigma, _join(zp.source, sl.source, "[Fe/H]: " + f_src), unit="mag")


def clipped_line(x, y, clip: float = 3.0, max_iter: int = 20) -> tuple[float, float, float, int]:
    """Least-squares line y = a x + b, iteratively dropping points beyond ``clip`` times the rms
    of the residuals (the usual way period-luminosity relations are fitted, e.g. Soszynski et al.
    2008, AcA 58, 163): (a, b, rms of the kept residuals, number kept)."""
    x, y = _arr(x), _arr(y)
    keep = np.isfinite(x) & np.isfinite(y)
    for _ in range(max_iter):
        a, b = np.polyfit(x[keep], y[keep], 1)
        resid = y - (a * x + b)
        rms = float(np.std(resid[keep]))
        new = np.isfinite(resid) & (np.abs(resid) < clip * rms)
        if np.array_equal(new, keep):
            break
        keep = new
    return float(a), float(b), rms, int(keep.sum())


def paper_convention(teff_val=None, abs_gmag=None) -> tuple[Calibrated | None, Calibrated | None]:
    """The PELS-VAE paper's Gaia DR2 ``teff_val`` / ``abs_Gmag``, labelled as such.

    Kept only so results can be compared with the paper; never a default. No
    uncertainty is attached (sigma NaN): the cross-match carries none that
    covers the extinction and distance errors that dominate.
    """
    teff = None if teff_val is None else Calibrated(
        _arr(teff_val), np.nan, PAPER_CONVENTION_TEFF, unit="K")
    abs_g = None if abs_gmag is None else Calibrated(
        _arr(abs_gmag), np.nan, PAPER_CONVENTION_ABS_G, unit="mag")
    return teff, abs_g
