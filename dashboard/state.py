"""The dashboard's state and logic as ``param`` classes, testable without a browser.

All science lives in :mod:`pelsvae_core`; this module only turns widget values
into calls to it and keeps the results (tables ready to plot) and a message
for the user when an input cannot be used.
"""
from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os

import numpy as np
import pandas as pd
import param

from pelsvae_core import load_model
from pelsvae_core.cadences import PRESETS, YEAR_DAYS, parse_times, times_for
from pelsvae_core.evaluation.morph import rr_lyrae_morph
from pelsvae_core.generation import Observation
from pelsvae_core.latents import latent_columns, pca_basis, project, projections, unproject
from pelsvae_core.periodogram import is_recovered, search_near
from pelsvae_core.physics.regressors import KINDS
from pelsvae_core.tables import table_bytes

log = logging.getLogger(__name__)
MODEL_ENV = "PELSVAE_MODEL"
CADENCES = ("uniform", *PRESETS, "custom")
PERIODOGRAM_POINTS = 1000  # what the browser draws (about one per pixel): the search grid, max-pooled
MINUTES_PER_DAY = 1440.0
PHASE_GRID = np.linspace(0.0, 1.0, 200, endpoint=False)


@functools.lru_cache(maxsize=None)
def shared_model(path: str | None = None):
    """The model, loaded once per server process and shared by every session."""
    return load_model(path or os.environ.get(MODEL_ENV) or None)


def max_pooled(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` samples of a curve, keeping each block's highest value: a
    periodogram thinned for drawing without losing its peaks."""
    block = -(-len(x) // points)
    if block <= 1:
        return x, y
    usable = len(x) // block * block
    rows = y[:usable].reshape(-1, block)
    best = rows.argmax(axis=1) + np.arange(len(rows)) * block
    return x[best], y[best]


class Explorer(param.Parameterized):
    """Physics in, light curves out: one user's session."""

    star_class = param.Selector(objects=["RRLYR"], label="Class")
    regressor = param.Selector(objects=list(KINDS), default="rf", label="Regressor")
    band = param.Selector(objects=["g"], label="Band")
    teff = param.Number(7000.0, bounds=(3000, 12000), label="Teff (K)")
    abs_mag = param.Number(0.5, bounds=(-8, 8), label="Absolute magnitude M_G")
    log_period = param.Number(-0.3, bounds=(-2, 3), label="log10 period (days)")
    n_samples = param.Integer(10, bounds=(1, 50), label="Variational samples")
    seed = param.Integer(0, bounds=(0, None), label="Seed")

    cadence = param.Selector(objects=list(CADENCES), default="lsst", label="Cadence")
    baseline_days = param.Number(3652.5, bounds=(1, 20000), label="Baseline (days)")
    nights = param.Integer(90, bounds=(1, 5000), label="Epochs / nights")
    season_days = param.Number(180.0, bounds=(1, YEAR_DAYS), label="Season length (days)")
    visits_per_night = param.Integer(2, bounds=(1, 10), label="Visits per night")
    visit_gap_minutes = param.Number(33.0, bounds=(0, 720), label="Minutes between a night's visits")
    noise = param.Boolean(True, label="Survey noise")
    distance_pc = param.Number(10_000.0, bounds=(10, 1e7), label="Distance (pc)")
    custom_times = param.Array(default=None, allow_None=True, precedence=-1)

    projection = param.Selector(objects=["pca"], default="pca", label="Latent projection")

    # results, read by the views
    message = param.String("", precedence=-1)
    curve = param.DataFrame(default=None, allow_None=True, precedence=-1)
    observed = param.DataFrame(default=None, allow_None=True, precedence=-1)
    search = param.Dict(default={}, precedence=-1)
    position = param.Array(default=None, allow_None=True, precedence=-1)
    observation = param.ClassSelector(class_=Observation, default=None, allow_None=True,
                                      precedence=-1)  # every sample; a table only on export
    z_override = param.Array(default=None, allow_None=True, precedence=-1)

    _deferred = False  # inside _one_refresh: changes wait for one final refresh
    _periodogram = None  # the last period search's, reused while the cadence and period hold

    def __init__(self, model=None, **params):
        self.model = model or shared_model()
        super().__init__(**params)
        self.param["star_class"].objects = sorted(self.model.class_physics)
        self.param["projection"].objects = projections(self.model.config.latent_dim)
        self._latents = self.model.latents()
        self._basis = pca_basis(self._latents)
        with self._one_refresh():
            self._apply_class_defaults()
            self._apply_cadence_defaults()

    # -- what the class responds to ------------------------------------------------
    @property
    def info(self):
        return self.model.class_physics[self.star_class]

    def responds(self, parameter: str) -> tuple[bool, str]:
        """Whether the current class's model uses a parameter, and if not, why in one line."""
        if parameter in self.info.parameters:
            return True, ""
        reason = f"{self.star_class} training stars have no {parameter.replace('_', ' ')}"
        if parameter == "abs_mag" and self.star_class in self.model.references:
            return False, f"{reason}: mean from the OGLE x Gaia period-luminosity relation"
        return False, f"{reason}: fixed"

    def validation_rmse(self, regressor: str | None = None) -> float:
        return self.model.physics.validation_rmse(self.star_class, regressor or self.regressor)

    @contextlib.contextmanager
    def _one_refresh(self):
        """Apply several changes, each still shown by its widget, and recompute once at the end."""
        self._deferred = True
        try:
            with param.parameterized.batch_call_watchers(self):
                yield
        finally:
            self._deferred = False
        self.refresh()

    def _apply_class_defaults(self):
        info = self.info
        self.param["band"].objects = list(info.bands)
        self.band = info.bands[0]
        for name in ("teff", "abs_mag", "log_period"):
            if name in info.ranges:
                lo, hi = info.ranges[name]
                pad = 0.05 * (hi - lo) or 0.1
                self.param[name].bounds = (lo - pad, hi + pad)
                setattr(self, name, info.typical[name])
        self.z_override = None

    def _apply_cadence_defaults(self):
        if self.cadence in PRESETS:
            preset = PRESETS[self.cadence]
            self.param.update(baseline_days=preset.baseline_days, nights=preset.nights,
                              season_days=preset.season_days,
                              visits_per_night=preset.visits_per_night,
                              visit_gap_minutes=preset.visit_gap_days * MINUTES_PER_DAY)

    @param.depends("star_class", watch=True)
    def _class_changed(self):
        with self._one_refresh():
            self._apply_class_defaults()

    @param.depends("cadence", watch=True)
    def _cadence_changed(self):
        with self._one_refresh():
            self._apply_cadence_defaults()

    @param.depends("teff", "abs_mag", "log_period", "regressor", "band", "n_samples", "seed",
                   watch=True)
    def _physics_changed(self):
        self.z_override = None
        self.refresh()

    @param.depends("baseline_days", "nights", "season_days", "visits_per_night",
                   "visit_gap_minutes", "noise",
                   "distance_pc", "custom_times", watch=True)
    def _observation_changed(self):
        self.refresh()

    # -- actions --------------------------------------------------------------------
    def redraw(self):
        """New variational samples for the same physics."""
        self.seed += 1

    def upload_times(self, content: bytes) -> bool:
        """Use times from an uploaded CSV as the cadence; a bad file leaves a message, no change."""
        try:
            times = parse_times(content)
        except ValueError as error:
            self.message = f"Custom cadence not used: {error}"
            return False
        with self._one_refresh():
            self.custom_times = times
            self.cadence = "custom"
        return True

    def decode_latent_point(self, x: float, y: float):
        """Decode from a clicked point of the latent plot (other dimensions at the current curve)."""
        around = (self.position.mean(0) if self.position is not None
                  else np.zeros(self.model.config.latent_dim))
        z = unproject(x, y, self.projection, self._basis, around)
        self.z_override = np.atleast_2d(z)
        self.refresh()

    # -- results ----------------------------------------------------------------------
    def cadence_times(self) -> np.ndarray:
        if self.cadence == "custom":
            if self.custom_times is None:
                raise ValueError("upload a CSV of observation times for a custom cadence")
            return self.custom_times
        if self.cadence == "uniform":
            return times_for({"name": "uniform", "n": self.nights, "baseline_days": self.baseline_days})
        return times_for({"name": self.cadence, "baseline_days": self.baseline_days,
                          "nights": self.nights, "season_days": self.season_days,
                          "visits_per_night": self.visits_per_night,
                          "visit_gap_days": self.visit_gap_minutes / MINUTES_PER_DAY}, self.seed)

    def _draw(self):
        abs_mag = self.abs_mag if self.responds("abs_mag")[0] else None
        return self.model.draw(self.star_class, teff=self.teff, abs_mag=abs_mag,
                               period=10**self.log_period, n_samples=self.n_samples,
                               regressor=self.regressor, band=self.band, seed=self.seed,
                               latent=None if self.z_override is None else self.z_override[0])

    def refresh(self):
        """Recompute every result; an input that cannot be used becomes a message, not an error."""
        if self._deferred:
            return
        try:
            self._refresh()
            self.message = ""
        except ValueError as error:
            self.message = str(error)
        except Exception as error:  # never let a traceback reach the page
            log.exception("dashboard refresh failed")
            self.message = f"Something went wrong ({type(error).__name__}); the last good curve is shown."

    def _refresh(self):
        period = 10**self.log_period
        star = self._draw()
        observation = star.observation(times=self.cadence_times(), distance_pc=self.distance_pc,
                                       noise=self.noise)
        low, median, high = np.quantile(star.magnitudes(PHASE_GRID, self.distance_pc)[0],
                                         [0.16, 0.5, 0.84], axis=0)
        curve = pd.DataFrame({"phase": PHASE_GRID, "median": median, "low": low, "high": high})
        first = pd.DataFrame({"time": observation.times, "phase": observation.phase,
                              "mag": observation.mag[0], "mag_err": observation.err[0]})
        # one batched update, so each plot redraws once per change, not once per result
        self.param.update(search=self._period_search(observation, period), position=np.array(star.z),
                          observation=observation, observed=first, curve=curve)

    def _period_search(self, observation: Observation, period: float) -> dict:
        """The first sample's periodogram around the period, and whether its peak is the period."""
        search = search_near(observation.times, observation.mag[0], observation.err[0], period,
                             reuse=self._periodogram)
        if search is None:
            return {"periods": np.array([]), "power": np.array([]), "found": math.nan,
                    "recovered": False, "true": period}
        self._periodogram = search.periodogram  # the same cadence next time: no new NUFFT plans
        frequency, power = max_pooled(search.frequency, search.power, PERIODOGRAM_POINTS)
        return {"periods": 1 / frequency, "power": power, "found": search.period, "true": period,
                "recovered": is_recovered(search.period, period)}

    def latent_points(self) -> pd.DataFrame:
        """Training stars projected with the current projection, for the scatter plot."""
        xy = project(self._latents[latent_columns(self._latents)].to_numpy(), self.projection,
                     self._basis)
        return self._latents.assign(x=xy[:, 0], y=xy[:, 1])

    def current_point(self) -> np.ndarray:
        return project(self.position, self.projection, self._basis) if self.position is not None \
            else np.empty((0, 2))

    def morph(self, n_teff: int = 5):
        """Generated RR Lyrae across the real training stars' Teff range, one row per regressor."""
        return rr_lyrae_morph(self.model, n_teff=n_teff, n_samples=self.n_samples, seed=self.seed)

    # -- export -------------------------------------------------------------------------
    def export(self, fmt: str) -> io.BytesIO:
        """The generated curves under the current cadence, with the parameters and cadence used."""
        if self.observation is None:
            raise ValueError("nothing generated yet")
        table = self.observation.table().assign(cadence=self.cadence, baseline_days=self.baseline_days,
                                  nights=self.nights, season_days=self.season_days,
                                  visits_per_night=self.visits_per_night,
                                  visit_gap_minutes=self.visit_gap_minutes, noise=self.noise,
                                  seed=self.seed, model=str(self.model.folder.name))
        return io.BytesIO(table_bytes(table, fmt))
