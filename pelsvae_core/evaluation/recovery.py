"""What a survey would see of a generated star: period recovery over many realisations, and
which survey's noise goes with a cadence.

One periodogram says whether one realisation of a cadence finds the period. Over many
realisations (new observing nights where the cadence is random, new noise, each
variational sample in turn) :func:`period_recovery` gives the rate at which the period
is found and the distribution of what is found instead: the aliases of the cadence
(e.g. the daily alias 1/f' = |1/P - k/1 d|) and the harmonics P/2, 2P.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..cadences import REAL_CADENCES, real_cadence
from ..generation import Draw
from ..periodogram import is_recovered, search_near
from ..physics.noise import ErrorModel

#: A cadence preset's survey, as the start of an error model's survey name.
PRESET_SURVEYS = {"ogle": "OGLE", "gaia": "Gaia", "lsst": "LSST", "ztf": "ZTF"}
#: Found periods within this relative distance count as the same alias.
ALIAS_TOLERANCE = 0.01


@dataclass(frozen=True)
class Recovery:
    """Periods found in many realisations of one star under one cadence."""

    true_period: float
    found: np.ndarray         # days, one per realisation searched (NaN: too few epochs)
    recovered: np.ndarray     # bool, one per realisation

    @property
    def rate(self) -> float:
        """Fraction of the realisations whose strongest peak is the true period."""
        return float(self.recovered.mean()) if self.recovered.size else float("nan")

    def aliases(self, top: int = 3) -> list[tuple[float, float]]:
        """The ``top`` commonest wrong periods found, each (period in days, fraction of the
        realisations), realisations within :data:`ALIAS_TOLERANCE` of each other merged."""
        wrong = np.sort(self.found[~self.recovered & np.isfinite(self.found)])
        groups: list[list[float]] = []
        for period in wrong:
            if groups and period / groups[-1][0] - 1 < ALIAS_TOLERANCE:
                groups[-1].append(period)
            else:
                groups.append([period])
        groups.sort(key=len, reverse=True)
        return [(float(np.median(g)), len(g) / self.found.size) for g in groups[:top]]


def period_recovery(star: Draw, cadences: Sequence[np.ndarray], distance_pc: float | None,
                    noise: bool | str) -> Recovery:
    """Search the period of ``star`` once per cadence in ``cadences`` (arrays of times, days):
    realisation ``i`` observes variational sample ``i mod n_samples`` with noise drawn from seed
    ``i``, searched as the dashboard's periodogram does (:func:`~pelsvae_core.periodogram.search_near`:
    a quarter to four times the true period), on its detected epochs alone
    (:meth:`~pelsvae_core.generation.Observation.detections`)."""
    if not len(cadences):
        raise ValueError("period recovery needs at least one realisation")
    period = star.request.period
    found = np.full(len(cadences), np.nan)
    periodogram = None
    for i, times in enumerate(cadences):
        observation = dataclasses.replace(star, seed=i).observation(
            times=times, distance_pc=distance_pc, noise=noise)
        sample = i % observation.mag.shape[0]
        search = search_near(*observation.detections(sample), period, reuse=periodogram)
        if search is not None:
            found[i], periodogram = search.period, search.periodogram
    recovered = np.array([np.isfinite(f) and is_recovered(f, period) for f in found], dtype=bool)
    return Recovery(period, found, recovered)


def noise_for_cadence(error_models: dict[str, ErrorModel], cadence: str, band: str
                      ) -> tuple[ErrorModel | None, bool]:
    """The error model for a cadence in ``band``: that of the preset's own survey if the model
    has one in this band (:data:`PRESET_SURVEYS`; a real cadence's own survey), else the survey with the most stars in the
    band; and whether it is the preset's own. (None, False) without an error model in the band."""
    in_band = sorted((m for m in error_models.values() if m.band == band), key=lambda m: -m.n_stars)
    prefix = PRESET_SURVEYS.get(cadence) or (real_cadence(cadence).survey if cadence in REAL_CADENCES
                                             else None)
    own = [m for m in in_band if prefix and m.survey.startswith(prefix)]
    if own:
        return own[0], True
    return (in_band[0], False) if in_band else (None, False)


def describe_noise(error_model: ErrorModel, cls: str | None = None) -> str:
    """One line on an error model: its survey and band, the stars it was fitted on (or where a
    predicted one comes from), its floor and 5-sigma depth, and with ``cls`` the noise drawn for
    that class."""
    whence = error_model.source or f"fitted on {error_model.n_stars} stars"
    line = (f"{error_model.survey} {error_model.band}-band errors, {whence}: floor "
            f"{error_model.sigma_sys:.3f} mag, 5σ depth {error_model.band} = {error_model.m5:.1f}")
    return line if cls is None else f"{line}; {error_model.describe_scatter(cls)}"
