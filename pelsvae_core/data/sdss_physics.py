"""The Stripe 82 Teff and M_G of the convention models/default was trained on ("paper" physics).

Before :mod:`.calibration`, Stripe 82 RR Lyrae got Teff and absolute G from the
flux-averaged magnitudes and distances of Sesar et al. (2010, ApJ 708, 717,
table 3) as done here. Those magnitudes are already corrected for SFD98
extinction (:func:`.calibration.stripe82_vi0`; ``tests/test_calibration.py``
checks it on the table 1 epochs), and this derivation removes the extinction a
second time: (g-r)_0 is too blue by E(g-r) and the Teff scale runs hot (RRab
median 7,240 K, against 6,490 K on the calibrated scale shared with the bulge).

The values are kept exactly as they were, as ``teff_paper``/``abs_mag_paper`` of
the cache (:mod:`.star_physics`), only so that a model trained on them
(``physics="paper"``, :class:`.dataset.DatasetConfig`) is evaluated on the
training set it saw; the physical values are
:func:`.calibration.stripe82_rr_lyrae_parameters`. Every value made here carries
a source saying so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..photometry import distance_modulus
from .calibration import SFD_R

TEFF_SOURCE = ("paper convention (models/default, NOT physical): Teff from the twice-dereddened "
               "intensity-mean (g-r)0 of Sesar et al. 2010 table 3, Ivezic et al. 2008 eq. 3")
ABS_MAG_SOURCE = ("paper convention (models/default, NOT physical): G from SDSS g,r via Evans et "
                  "al. 2018 Table A.2, twice dereddened (SFD98), Sesar et al. 2010 distance")


def deredden(mag: np.ndarray, band: str, a_r: np.ndarray) -> np.ndarray:
    """Remove extinction given the r-band extinction A_r, scaling by the SFD98 Table 6 ratios
    (Schlegel, Finkbeiner & Davis 1998, ApJ 500, 525; R_V = 3.1)."""
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


def stripe82_parameters(table3: pd.DataFrame) -> pd.DataFrame:
    """The old Teff and absolute G of each Stripe 82 star (see the module docstring)."""
    g0 = deredden(table3["gF"].to_numpy(), "g", table3["rExt"].to_numpy())
    r0 = deredden(table3["rF"].to_numpy(), "r", table3["rExt"].to_numpy())
    abs_g = gaia_g_from_sdss(g0, r0) - distance_modulus(table3["d"].to_numpy() * 1000.0)  # d in kpc
    return pd.DataFrame({"teff": teff_from_gr(g0 - r0), "abs_mag": abs_g},
                        index=table3.index)
