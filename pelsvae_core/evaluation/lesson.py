"""Where a star sits among the real training stars, and the RR Lyrae instability strip as a lesson.

In nature an RR Lyrae's temperature does not vary alone: along the instability
strip the hotter stars are also the shorter-period ones, and from about 7,600 K
most pulsate in the first overtone (RRc, near-sinusoidal curves) rather than the
fundamental mode (RRab, sawtooths). :func:`strip_point` places a star at a given
Teff the way the real training stars are placed: the period and absolute
magnitude are the medians of the ``NEIGHBOURS`` real stars nearest in Teff, and
the probability of the first-overtone mode is the fraction of them that are RRc.
Dragging Teff along the strip with these values reproduces the morph of
:mod:`pelsvae_core.evaluation.morph`; holding the period fixed does not, and
:data:`FIXED_PERIOD_NOTE` says why in one line.

The model folder records no pulsation mode, so a star's mode is read from its
period (:data:`RRC_MAX_PERIOD`); when the latent table gains the survey's own
subtype, :func:`strip_stars` is the one place to read it instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.real_shapes import RealShapes
from .morph import MORPH_BAND, PHASES

#: RR Lyrae with shorter periods than this (days) count as first-overtone (RRc) pulsators: the
#: gap between the two modes in the period histogram of the SDSS Stripe 82 training stars
#: (fewest stars per 0.025 d between 0.40 and 0.45 d, against 10-35 either side).
RRC_MAX_PERIOD = 0.43
#: How many real stars nearest in Teff set the period, magnitude and mode at a Teff.
NEIGHBOURS = 25
#: Curves drawn for one star of the lesson, whose per-phase median is the curve it plots. At
#: the coolest end of the strip (6,159 K, 0.640 d, g) the R21 of the median of 50 draws
#: ranged 0.324-0.402 over seeds 0-7 on the 32-dimensional model (models/default v3), of 100
#: draws 0.356-0.382 (throwaway script, 2026-12-02); the 16-dimensional v2, of 10 draws
#: 0.28-0.40. The real stars there, each order-8 fit about its own mean as a generated curve
#: is: the median of 50 drawn from the 25 nearest in Teff has R21 0.359 (0.344-0.373,
#: 16-84 %), of 10 0.361 (0.333-0.388).
LESSON_SAMPLES = 100
#: The strip's Teff range: these percentiles of the Teff of the real stars seen in the plotted
#: band (:func:`strip_stars` with ``band``). Beyond them each end has fewer than 7 of the 266
#: Stripe 82 stars in g, and the density extrapolates: at the 1st percentile (6,105 K) its
#: curves' R21 is 0.35 against 0.42 for the real stars of 6,000-6,300 K (``pelsvae evaluate``
#: morph; measured on models/default v2).
STRIP_PERCENTILES = (2.5, 97.5)
#: What holding the period fixed means, in one line.
FIXED_PERIOD_NOTE = ("Period held fixed: a real RR Lyrae does not change Teff alone. Hotter ones "
                     "pulsate faster and switch from the fundamental mode (RRab, sawtooth) to the "
                     "first overtone (RRc, sinusoid); at a fixed period the real stars' shape "
                     "hardly follows Teff.")


def lesson_band(info) -> str:
    """The band a class is shown in (``info``: its :class:`ClassPhysics`): for RR Lyrae the band
    of the real Teff-shape sequence the lesson follows (:data:`MORPH_BAND`, Stripe 82 g, where
    the amplitude is largest and the Teff comes from the stars' own colours) when the model was
    trained in it; otherwise, and for every other class, its commonest training band."""
    if info.cls == "RRLYR" and MORPH_BAND in info.bands:
        return MORPH_BAND
    return info.bands[0]


def mode_of_period(period) -> np.ndarray | str:
    """RR Lyrae pulsation mode from the period (days): ``"RRc"`` below :data:`RRC_MAX_PERIOD`,
    else ``"RRab"``; element-wise for an array."""
    mode = np.where(np.asarray(period) < RRC_MAX_PERIOD, "RRc", "RRab")
    return str(mode) if mode.ndim == 0 else mode


def strip_stars(latents: pd.DataFrame, cls: str = "RRLYR", split: str = "train",
                band: str | None = None) -> pd.DataFrame:
    """One row per real star of ``cls`` in ``split`` (index: star), with its teff, period,
    abs_mag and, for RR Lyrae, ``mode`` (RRab / RRc by :data:`RRC_MAX_PERIOD`); with ``band``,
    only the stars observed in it (where the model has seen such curves: the lesson's strip).

    ``latents``: :meth:`pelsvae_core.Model.latents` (one row per star and band)."""
    rows = latents[(latents["cls"] == cls) & (latents["split"] == split)
                   & (band is None or latents["band"] == band)]
    stars = rows.groupby("star")[["teff", "period", "abs_mag"]].first()
    if cls == "RRLYR":
        stars["mode"] = mode_of_period(stars["period"].to_numpy())
    return stars


@dataclass(frozen=True)
class StripPoint:
    """A place on the instability strip: the medians of the real stars nearest in Teff."""

    teff: float
    period: float       # days
    abs_mag: float
    p_rrc: float        # fraction of the neighbours pulsating in the first overtone
    neighbours: int

    @property
    def mode(self) -> str:
        """The likelier mode: RRc when at least half the neighbours are RRc."""
        return "RRc" if self.p_rrc >= 0.5 else "RRab"

    @property
    def mode_probability(self) -> float:
        """The fraction of the neighbours in :attr:`mode`."""
        return self.p_rrc if self.mode == "RRc" else 1.0 - self.p_rrc


def strip_point(stars: pd.DataFrame, teff: float, neighbours: int = NEIGHBOURS) -> StripPoint:
    """Period, absolute magnitude and first-overtone fraction of the ``neighbours`` real RR
    Lyrae nearest to ``teff`` (``stars``: :func:`strip_stars`)."""
    teff_all, period, abs_mag = (stars[c].to_numpy(float) for c in ("teff", "period", "abs_mag"))
    known = np.isfinite(teff_all) & np.isfinite(period) & np.isfinite(abs_mag)
    if not known.any():
        raise ValueError("no real RR Lyrae with Teff, period and absolute magnitude in this model")
    rrc = stars["mode"].to_numpy()[known] == "RRc"
    near = np.argsort(np.abs(teff_all[known] - teff), kind="stable")[:neighbours]
    return StripPoint(float(teff), float(np.median(period[known][near])),
                      float(np.median(abs_mag[known][near])), float(rrc[near].mean()), len(near))


def strip_teff_range(stars: pd.DataFrame) -> tuple[float, float]:
    """The Teff range of the strip: :data:`STRIP_PERCENTILES` of the real stars' Teff."""
    teff = stars["teff"].dropna()
    if teff.empty:
        raise ValueError("no real star with a Teff in this model")
    lo, hi = np.percentile(teff, STRIP_PERCENTILES)
    return float(lo), float(hi)


def where_axes(parameters: tuple[str, ...], cls: str) -> tuple[str, str | None]:
    """The two parameters that place a star of ``cls`` among the real ones: Teff and period
    for RR Lyrae (the instability strip), period and absolute magnitude where the class has
    them (period-luminosity), else period and Teff, else period alone (``None``)."""
    if cls == "RRLYR" and "teff" in parameters:
        return "teff", "period"
    for second in ("abs_mag", "teff"):
        if second in parameters:
            return "period", second
    return "period", None


class NearestStars:
    """The real training curves of ``cls`` in ``band`` (rows of the latent table), indexed once
    for :meth:`to`: the dashboard asks on every slider move, and filtering the whole table and
    measuring the spreads each time cost more than the search itself."""

    def __init__(self, latents: pd.DataFrame, cls: str, band: str):
        self.rows = latents[(latents["cls"] == cls) & (latents["band"] == band)
                            & (latents["split"] == "train")]
        if self.rows.empty:
            raise ValueError(f"no real {cls} training star in band {band}")
        self.cls, self.band = cls, band
        self._columns = {"teff": self.rows["teff"].to_numpy(float),
                         "abs_mag": self.rows["abs_mag"].to_numpy(float),
                         "log_period": np.log10(self.rows["period"].to_numpy(float))}
        self._spreads = {name: np.nanstd(column) or 1.0 for name, column in self._columns.items()
                         if np.isfinite(column).any()}

    def to(self, values: dict[str, float]) -> pd.Series:
        """The row nearest to ``values`` (teff, abs_mag, log_period, as given), each parameter in
        units of its spread among these curves."""
        distance = np.zeros(len(self.rows))
        for name, value in values.items():
            column = self._columns[name]
            distance += np.nan_to_num((column - value) / self._spreads.get(name, 1.0), nan=np.inf) ** 2
        if not np.isfinite(distance).any():
            raise ValueError(f"no real {self.cls} training star in band {self.band} with these parameters")
        return self.rows.iloc[int(np.argmin(distance))]


def real_median_curve(shapes: RealShapes, teff: float, neighbours: int = NEIGHBOURS
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The per-phase median (at :data:`.morph.PHASES`) of the ``neighbours`` real RR Lyrae with
    a Teff in :data:`.morph.MORPH_BAND` (of ``shapes``, :func:`pelsvae_core.data.real_shapes.
    read_real_shapes`) nearest to ``teff``, each about its own mean, and their Teffs: what
    nature's curve looks like there, beside a generated one."""
    table = shapes.table
    rows = np.flatnonzero((table["cls"] == "RRLYR").to_numpy() & (table["band"] == MORPH_BAND).to_numpy()
                          & np.isfinite(table["teff"].to_numpy(float)))
    if not rows.size:
        raise ValueError(f"the real shapes hold no RR Lyrae with a Teff in {MORPH_BAND}")
    teffs = table["teff"].to_numpy(float)[rows]
    near = np.argsort(np.abs(teffs - teff), kind="stable")[:neighbours]
    return np.median(shapes.magnitudes(rows[near], PHASES), axis=0), teffs[near]
