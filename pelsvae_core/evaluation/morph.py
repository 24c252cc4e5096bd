"""The RR Lyrae temperature-shape morph (Martinez-Palomera et al. 2022, Fig. 8).

Cool RR Lyrae pulsate in the fundamental mode with sawtooth light curves (RRab);
hot ones in the first overtone with near-sinusoids (RRc). Generated curves across
the Teff range of the real RR Lyrae training stars should show that, measured by
the Fourier amplitude ratio R21 and phase difference phi31 (Simon & Lee 1981;
OGLE convention, see :mod:`pelsvae_core.fourier`) and the skewness of the curve.

In nature Teff does not vary alone: hot RR Lyrae are also the short-period
ones. By default (``along="sequence"``) the period and absolute magnitude at
each Teff are the medians of the real training stars within ``window`` K of
it, so the morph follows the real RR Lyrae sequence; ``along="fixed"`` holds
them at the class medians, as the paper's figure does, which at an RRab period
asks the model about stars that do not exist.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import fourier
from ..physics.regressors import KINDS

#: The band of the real RR Lyrae Teff-shape sequence (Stripe 82 g, whose Teff comes from the
#: stars' own colours): generated morphs are measured in it so that the two compare.
MORPH_BAND = "g"
PHASES = np.linspace(0.0, 1.0, 200, endpoint=False)


def shape_parameters(phase: np.ndarray, mag: np.ndarray, order: int = 4) -> dict[str, float]:
    """R21, phi31 and the skewness of the magnitudes of one curve."""
    params = fourier.fourier_parameters(fourier.fit(phase, mag, None, order))
    centred = mag - mag.mean()
    spread = centred.std()
    skew = float((centred**3).mean() / spread**3) if spread > 0 else 0.0
    return {"R21": params["R21"], "phi31": params["phi31"], "skewness": skew}


def sequence_parameters(model, teff: float, window: float) -> tuple[float, float]:
    """Median period and absolute magnitude of the real RR Lyrae training stars near ``teff``."""
    stars = model.latents()
    stars = stars[(stars["cls"] == "RRLYR") & (stars["split"] == "train") & stars["teff"].notna()]
    near = stars[(stars["teff"] - teff).abs() <= window]
    if near.empty:
        near = stars.iloc[[int((stars["teff"] - teff).abs().argmin())]]
    return float(near["period"].median()), float(near["abs_mag"].median())


def _central_teff_range(model) -> tuple[float, float]:
    """5th to 95th percentile of the real RR Lyrae training stars' Teff (the extremes are outliers)."""
    stars = model.latents()
    teff = stars.loc[(stars["cls"] == "RRLYR") & (stars["split"] == "train"), "teff"].dropna()
    return float(np.percentile(teff, 5)), float(np.percentile(teff, 95))


def rr_lyrae_morph(model, n_teff: int = 5, regressors=KINDS, teff_range=None, n_samples: int = 10,
                   seed: int = 0, along: str = "sequence", window: float = 300.0,
                   band: str = MORPH_BAND) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves and shape parameters across the Teff range of the real RR Lyrae training stars
    (by default their 5th to 95th percentile), in ``band`` (by default that of the real
    Stripe 82 Teff-shape sequence they are compared with).

    Returns ``curves`` (regressor, teff, period, phase, median mag) and ``shapes``
    (regressor, teff, period, R21, phi31, skewness), measured on the median curve.
    """
    info = model.class_physics["RRLYR"]
    if "teff" not in info.parameters:
        raise ValueError("this model's RR Lyrae regressors do not use Teff")
    if along not in ("sequence", "fixed"):
        raise ValueError(f"along must be 'sequence' or 'fixed', not {along!r}")
    lo, hi = teff_range or _central_teff_range(model)
    curves, shapes = [], []
    for teff in np.linspace(lo, hi, n_teff):
        if along == "sequence":
            period, abs_mag = sequence_parameters(model, teff, window)
        else:
            period, abs_mag = 10 ** info.typical["log_period"], info.typical.get("abs_mag")
        for regressor in regressors:
            table = model.generate("RRLYR", teff=teff, abs_mag=abs_mag, period=period,
                                   phases=PHASES, n_samples=n_samples, regressor=regressor,
                                   seed=seed, band=band)
            median = table.groupby("phase")["mag"].median()
            curves.append(pd.DataFrame({"regressor": regressor, "teff": teff, "period": period,
                                        "phase": median.index, "mag": median.to_numpy()}))
            shapes.append({"regressor": regressor, "teff": teff, "period": period,
                           **shape_parameters(median.index.to_numpy(), median.to_numpy())})
    order = {r: i for i, r in enumerate(regressors)}
    curves = pd.concat(curves, ignore_index=True).sort_values(["regressor", "teff"], key=lambda c:
                                                              c.map(order) if c.name == "regressor" else c,
                                                              kind="stable")
    shapes = pd.DataFrame(shapes).sort_values(["regressor", "teff"], key=lambda c: c.map(order)
                                              if c.name == "regressor" else c, kind="stable")
    return curves.reset_index(drop=True), shapes.reset_index(drop=True)


@dataclass(frozen=True)
class MorphPanel:
    """One panel of the morph grid: its row (regressor) and column (Teff), title and curve."""

    row: int
    column: int
    regressor: str
    teff: float
    title: str
    phase: np.ndarray
    mag: np.ndarray


def morph_panels(curves: pd.DataFrame, shapes: pd.DataFrame) -> list[MorphPanel]:
    """The morph grid as :func:`rr_lyrae_morph` returns it, one row per regressor and one column
    per Teff, each titled with its Teff, period, R21 and phi31: the one layout that the report's
    figure and the dashboard both draw."""
    regressors = list(dict.fromkeys(curves["regressor"]))
    teffs = sorted(curves["teff"].unique())
    panels = []
    for r, regressor in enumerate(regressors):
        for t, teff in enumerate(teffs):
            part = curves[(curves["regressor"] == regressor) & (curves["teff"] == teff)]
            shape = shapes[(shapes["regressor"] == regressor) & (shapes["teff"] == teff)].iloc[0]
            title = (f"{teff:.0f} K  P={shape['period']:.2f} d  "
                     f"R21={shape['R21']:.2f} φ31={shape['phi31']:.2f}")
            panels.append(MorphPanel(r, t, regressor, float(teff), title,
                                     part["phase"].to_numpy(), part["mag"].to_numpy()))
    return panels
