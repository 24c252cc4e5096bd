"""What the OGLE-III x Gaia DR2 cross-match says about each class.

The paper's validated cross-match (Martinez-Palomera et al. 2022, Sect. 2.1;
Gaia Collaboration 2018; distances of Bailer-Jones et al. 2018) covers all eight
classes, whereas the light curves with physical parameters cover only a few.
From it come, per class, the real ranges of Teff, absolute magnitude M_G and
period, and a period-luminosity relation M_G = a + b log10 P that gives a mean
magnitude to classes whose training stars have no absolute magnitude. Its
magnitudes are the catalogue's (parallax distances, no extinction correction),
so the relation is as rough as the paper's inputs, and its scatter is recorded.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

#: Fewest cross-matched stars for a period-luminosity fit.
MIN_STARS = 10
CLIP_SIGMA = 3.0


@dataclass(frozen=True)
class ClassReference:
    """Real parameter ranges of one class and its mean-magnitude relation."""

    cls: str
    n_stars: int
    ranges: dict[str, tuple[float, float]]   # 1st and 99th percentile of teff, abs_mag, log_period
    luminosity: tuple[float, float] | None   # (a, b) of M_G = a + b log10 P; None: too few stars
    luminosity_scatter: float | None         # rms about the relation, mag

    def abs_mag(self, period):
        """Mean absolute magnitude M_G at ``period`` (days, a number or an array) from the
        relation, if there is one."""
        if self.luminosity is None:
            return None
        a, b = self.luminosity
        return a + b * np.log10(period)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ClassReference":
        luminosity = data["luminosity"]
        return cls(cls=data["cls"], n_stars=data["n_stars"],
                   ranges={k: tuple(v) for k, v in data["ranges"].items()},
                   luminosity=None if luminosity is None else tuple(luminosity),
                   luminosity_scatter=data["luminosity_scatter"])


def _clipped_line(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], float]:
    """Least-squares line with iterative 3-sigma clipping; (intercept, slope) and rms."""
    keep = np.ones(len(x), bool)
    for _ in range(5):
        slope, intercept = np.polyfit(x[keep], y[keep], 1)
        residual = y - (intercept + slope * x)
        rms = float(np.sqrt(np.mean(residual[keep] ** 2)))
        new = np.abs(residual) <= CLIP_SIGMA * rms
        if (new == keep).all() or new.sum() < MIN_STARS:
            break
        keep = new
    return (float(intercept), float(slope)), rms


def class_references(xmatch: pd.DataFrame) -> dict[str, ClassReference]:
    """One :class:`ClassReference` per class in the cross-match (columns Type, Period,
    teff_val, abs_Gmag, as read by :func:`pelsvae_core.data.catalogues.read_gaia_xmatch`)."""
    references = {}
    for cls, group in xmatch.groupby("Type", sort=True):
        columns = {"teff": group["teff_val"], "abs_mag": group["abs_Gmag"],
                   "log_period": np.log10(group["Period"].where(group["Period"] > 0))}
        ranges = {}
        for name, values in columns.items():
            values = values.to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values):
                low, high = np.percentile(values, [1, 99])
                ranges[name] = (float(low), float(high))
        both = np.isfinite(columns["abs_mag"]) & np.isfinite(columns["log_period"])
        luminosity, scatter = None, None
        if both.sum() >= MIN_STARS:
            luminosity, scatter = _clipped_line(columns["log_period"][both].to_numpy(float),
                                                columns["abs_mag"][both].to_numpy(float))
        references[str(cls)] = ClassReference(str(cls), int(len(group)), ranges, luminosity, scatter)
    return references
