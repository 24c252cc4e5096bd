"""Physical parameters derived from SDSS photometry for Stripe 82 RR Lyrae.

Gaia DR2 has no Teff or absolute magnitude for these stars, so both are
derived from the dereddened colours and distances of Sesar et al. (2010,
ApJ 708, 717, table 3). Every value made here carries a ``derived:`` source.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Extinction per unit E(B-V) in SDSS bands, R_V = 3.1 (Schlegel, Finkbeiner & Davis 1998, ApJ 500, 525, Table 6).
SFD_R = {"u": 5.155, "g": 3.793, "r": 2.751, "i": 2.086, "z": 1.479}

TEFF_SOURCE = "derived: dereddened intensity-mean (g-r)0, Ivezic et al. 2008 eq. 3"
ABS_MAG_SOURCE = ("derived: G from SDSS g,r via Evans et al. 2018 Table A.2, "
                  "dereddened (SFD98), Sesar et al. 2010 distance")


def deredden(mag: np.ndarray, band: str, a_r: np.ndarray) -> np.ndarray:
    """Remove extinction given the r-band extinction A_r, scaling by SFD98 coefficients."""
    return mag - a_r * SFD_R[band] / SFD_R["r"]


def teff_from_gr(gr0: np.ndarray) -> np.ndarray:
    """Effective temperature from dereddened SDSS g-r.

    Ivezic et al. (2008, ApJ 684, 287), eq. 3:
    log10 Teff = 3.882 - 0.316 x + 0.0488 x^2 + 0.0283 x^3, x = (g-r)0,
    valid for -0.3 < x < 1.3; NaN outside that range.
    """
    x = np.asarray(gr0, dtype=float)
    log_teff = 3.882 - 0.316 * x + 0.0488 * x**2 + 0.0283 * x**3
    return np.where((x > -0.3) & (x < 1.3), 10.0**log_teff, np.nan)


def gaia_g_from_sdss(g: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Gaia G from SDSS g and r.

    Evans et al. (2018, A&A 616, A4), Table A.2 (Gaia DR2 photometric relations):
    G - r = -0.12879 + 0.24662 x - 0.027464 x^2 - 0.049465 x^3, x = g - r
    (scatter 0.066 mag, valid for -0.5 < g-r < 2.0).
    """
    x = np.asarray(g, dtype=float) - np.asarray(r, dtype=float)
    return r - 0.12879 + 0.24662 * x - 0.027464 * x**2 - 0.049465 * x**3


def distance_modulus(distance_kpc: np.ndarray) -> np.ndarray:
    """mu = 5 log10(d / 10 pc)."""
    return 5.0 * np.log10(np.asarray(distance_kpc, dtype=float) * 100.0)


def stripe82_parameters(table3: pd.DataFrame) -> pd.DataFrame:
    """Teff and absolute G for each Stripe 82 star from its flux-averaged g, r, A_r and distance."""
    g0 = deredden(table3["gF"].to_numpy(), "g", table3["rExt"].to_numpy())
    r0 = deredden(table3["rF"].to_numpy(), "r", table3["rExt"].to_numpy())
    abs_g = gaia_g_from_sdss(g0, r0) - distance_modulus(table3["d"].to_numpy())
    return pd.DataFrame({"gr0": g0 - r0, "teff": teff_from_gr(g0 - r0), "abs_mag": abs_g},
                        index=table3.index)
