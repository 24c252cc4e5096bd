"""The RR Lyrae temperature-shape morph (Martinez-Palomera et al. 2022, Fig. 8).

Cool RR Lyrae pulsate in the fundamental mode with sawtooth light curves (RRab);
hot ones in the first overtone with near-sinusoids (RRc). Generated curves across
the Teff range of the real RR Lyrae training stars should show that, measured by
the Fourier amplitude ratio R21 and phase difference phi31 (Simon & Lee 1981;
OGLE convention, see :mod:`pelsvae_core.fourier`) and the skewness of the curve.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import fourier
from ..regressors import KINDS

PHASES = np.linspace(0.0, 1.0, 200, endpoint=False)


def shape_parameters(phase: np.ndarray, mag: np.ndarray, order: int = 4) -> dict[str, float]:
    """R21, phi31 and the skewness of the magnitudes of one curve."""
    params = fourier.fourier_parameters(fourier.fit(phase, mag, None, order))
    centred = mag - mag.mean()
    spread = centred.std()
    skew = float((centred**3).mean() / spread**3) if spread > 0 else 0.0
    return {"R21": params["R21"], "phi31": params["phi31"], "skewness": skew}


def rr_lyrae_morph(model, n_teff: int = 5, regressors=KINDS, teff_range=None, n_samples: int = 10,
                   seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves and shape parameters across Teff, other parameters at the class medians.

    Returns ``curves`` (regressor, teff, phase, median mag) and ``shapes``
    (regressor, teff, R21, phi31, skewness), measured on the median curve.
    """
    info = model.class_physics["RRLYR"]
    if "teff" not in info.parameters:
        raise ValueError("this model's RR Lyrae regressors do not use Teff")
    lo, hi = teff_range or info.ranges["teff"]
    period = 10 ** info.typical["log_period"]
    curves, shapes = [], []
    for regressor in regressors:
        for teff in np.linspace(lo, hi, n_teff):
            table = model.generate("RRLYR", teff=teff, period=period, phases=PHASES,
                                   n_samples=n_samples, regressor=regressor, seed=seed)
            median = table.groupby("phase")["mag"].median()
            curves.append(pd.DataFrame({"regressor": regressor, "teff": teff,
                                        "phase": median.index, "mag": median.to_numpy()}))
            shapes.append({"regressor": regressor, "teff": teff,
                           **shape_parameters(median.index.to_numpy(), median.to_numpy())})
    return pd.concat(curves, ignore_index=True), pd.DataFrame(shapes)
