"""The dashboard's state and logic as ``param`` classes, testable without a browser.

All science lives in :mod:`pelsvae_core`; this module only turns widget values
into calls to it and keeps the results (tables ready to plot) and a message
for the user when an input cannot be used. :class:`Explorer` is the forward
direction (physics to curves), :class:`YourStar` the inverse (the user's curve to
class, mode, period and physics, through :meth:`pelsvae_core.api.Model.analyse`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import io
import logging
import math
import os
import warnings

import numpy as np
import pandas as pd
import param

from pelsvae_core import load_model
from pelsvae_core.cadences import (CADENCE_NAMES, PRESETS, REAL_CADENCES, YEAR_DAYS, parse_times,
                                   real_cadence, times_for)
from pelsvae_core.data.real_shapes import read_real_shapes
from pelsvae_core.data.subtypes import UNKNOWN
from pelsvae_core.evaluation.lesson import (FIXED_PERIOD_NOTE, LESSON_SAMPLES, NearestStars,
                                            lesson_band, mode_of_period, real_median_curve,
                                            strip_point, strip_stars, strip_teff_range, where_axes)
from pelsvae_core.evaluation.morph import PHASES, rr_lyrae_morph, shape_parameters
from pelsvae_core.evaluation.recovery import (Recovery, describe_noise, noise_for_cadence,
                                              period_recovery)
from pelsvae_core.generation import Observation
from pelsvae_core.inference.fit import NO_DIAGRAM_REASON
from pelsvae_core.inference.observed import read_curve_from
from pelsvae_core.latents import latent_columns, pca_basis, project, projections, unproject
from pelsvae_core.periodogram import is_recovered, search_near
from pelsvae_core.physics.regressors import KINDS
from pelsvae_core.tables import table_bytes

log = logging.getLogger(__name__)
MODEL_ENV = "PELSVAE_MODEL"
CADENCES = ("uniform", *PRESETS, *REAL_CADENCES, "custom")
PERIODOGRAM_POINTS = 1000  # what the browser draws (about one per pixel): the search grid, max-pooled
MINUTES_PER_DAY = 1440.0
PHASE_GRID = np.linspace(0.0, 1.0, 200, endpoint=False)
#: The cadence numbers each kind of cadence uses; the others are disabled and not exported.
CADENCE_FIELDS = {"uniform": ("baseline_days", "nights"), "custom": (),
                  **{name: () for name in REAL_CADENCES}}  # real epochs: nothing to change
PRESET_FIELDS = ("baseline_days", "nights", "season_days", "visits_per_night", "visit_gap_minutes")
#: What the number fields accept (inclusive); anything else is answered with a message.
LIMITS = {"baseline_days": (1.0, 20_000.0), "nights": (1, 5000), "season_days": (1.0, YEAR_DAYS),
          "visits_per_night": (1, 10), "visit_gap_minutes": (0.0, 720.0),
          "distance_pc": (10.0, 1e7)}
RECOVERY_REALISATIONS = 100
#: The epoch counts of the recovery-versus-epochs curve, as multiples of the current count.
EPOCH_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
EPOCH_CURVE_REALISATIONS = 40
#: The largest upload or pasted table accepted (bytes): 5 MB, well below Bokeh's 20 MiB websocket
#: message limit (a larger message ends the session silently; uploads travel in chunks anyway).
MAX_UPLOAD_BYTES = 5 * 1024**2
MAX_UPLOAD_TEXT = "5 MB"


@functools.lru_cache(maxsize=None)
def real_shapes():
    """The shipped real curves' shapes, read once per server (the morph view's real curves and
    the nearest real star's own curve)."""
    return read_real_shapes()


@functools.lru_cache(maxsize=None)
def shared_model(path: str | None = None):
    """The model, loaded once per server process and shared by every session.

    What the server holds from then on (the model, its tables, the libraries) is moved out of
    the garbage collector's reach (``gc.freeze``): Panel runs a full collection after every
    closed session, and walking those ~360,000 long-lived objects took 0.3-0.7 s, a pause
    every open session felt as a frozen slider."""
    model = load_model(path or os.environ.get(MODEL_ENV) or None)
    gc.collect()
    gc.freeze()
    return model


@dataclasses.dataclass
class ModelTables:
    """What every session reads from a model and none changes: its latent table and PCA
    basis, and, filled as sessions ask, the real stars per class and band, the training curves
    of a class and band indexed for the nearest-star search, and the decoded shapes of nearest
    stars. One per model and server process (:func:`model_tables`): read once, not once per
    page (40 ms of each), and held once, not once per open session."""

    latents: pd.DataFrame
    basis: np.ndarray
    #: :meth:`Model.report_status <pelsvae_core.Model.report_status>` when the server loaded the
    #: model (it hashes the model's files: 20 ms of every page when asked per page)
    report_status: str
    stars: dict[tuple[str, str | None], pd.DataFrame] = dataclasses.field(default_factory=dict)
    nearest: dict[tuple[str, str], NearestStars] = dataclasses.field(default_factory=dict)
    shapes: dict[tuple[str, str], tuple[np.ndarray, str]] = dataclasses.field(default_factory=dict)


@functools.lru_cache(maxsize=None)
def model_tables(model) -> ModelTables:
    """The :class:`ModelTables` of ``model``, made at its first session."""
    latents = model.latents()
    return ModelTables(latents, pca_basis(latents), model.report_status())


def points_subtype(star) -> str:
    """What the plotted points are, where the draw has subtypes: the first sample's, and how
    common it is among the samples when they are mixed (a 3-d Cepheid is an F or a 1O pulsator,
    and the points can be the one the median is not)."""
    subtypes = np.atleast_1d(star.subtype)
    if subtypes[0] == UNKNOWN:
        return ""
    share = float(np.mean(subtypes == subtypes[0]))
    return f"one drawn star, {subtypes[0]}" + (f" (like {100 * share:.0f} % of the samples)" if share < 1 else "")


def model_problem(error: Exception) -> str:
    """One line saying why the model could not be loaded, for a page that shows it instead of
    the explorer."""
    where = os.environ.get(MODEL_ENV)
    source = f"{MODEL_ENV}={where}" if where else "the shipped models/default"
    reason = " ".join(str(error).split()) or type(error).__name__
    return (f"The model could not be loaded ({source}): {reason}. Point {MODEL_ENV} at a model "
            f"folder (or unset it for the shipped model) and restart the server.")


def too_large(content: bytes | str) -> str | None:
    """Why an upload or a pasted table is refused for its size, or None."""
    size = len(content.encode() if isinstance(content, str) else content)
    if size <= MAX_UPLOAD_BYTES:
        return None
    return (f"it is {size:,} bytes; uploads and pasted tables are limited to {MAX_UPLOAD_TEXT} "
            f"({MAX_UPLOAD_BYTES:,} bytes)")


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


def magnitude_note(star, messages: list[str]) -> str:
    """Where the curve's mean magnitude comes from (M_G and the band's intrinsic colour, as the
    core derived them) and any warning the core gave for this draw."""
    band = star.request.band
    if star.abs_mag is None:
        lines = ["No absolute magnitude: magnitudes are relative to the intensity mean "
                 "(the magnitude of the mean flux)."]
    elif str(star.colour_source[0]).startswith("none:"):
        lines = [f"Mean {band} magnitude = M_G {star.abs_mag:.2f} ({star.abs_mag_source}); "
                 f"no intrinsic {band} − G colour is known for {star.request.cls}."]
    else:
        what = str(star.colour_source[0]).split(" (")[0].split(",")[0]
        lines = [f"Mean {band} magnitude = M_G {star.abs_mag:.2f} ({star.abs_mag_source}) "
                 f"+ intrinsic {band} − G colour {float(np.mean(star.colour)):+.2f} ({what})."]
    return " ".join(lines + [m for m in messages if "colour" not in m])


class Explorer(param.Parameterized):
    """Physics in, light curves out: one user's session."""

    star_class = param.Selector(objects=["RRLYR"], label="Class")
    regressor = param.Selector(objects=list(KINDS), label="Regressor")
    band = param.Selector(objects=["g"], label="Band")
    lesson = param.Boolean(True, label="Lesson: Teff moves the star along the instability strip")
    teff = param.Number(7000.0, bounds=(3000, 12000), label="Teff (K)")
    abs_mag = param.Number(0.5, bounds=(-8, 8), label="Absolute magnitude M_G")
    log_period = param.Number(-0.3, bounds=(-2, 3), label="Period (days, log scale)")
    n_samples = param.Integer(LESSON_SAMPLES, bounds=(1, 200), label="Variational samples")
    seed = param.Integer(0, bounds=(0, None), label="Seed of the samples")

    cadence = param.Selector(objects=list(CADENCES), default="lsst", label="Cadence")
    baseline_days = param.Number(3652.5, label="Baseline (days)")
    nights = param.Integer(90, label="Epochs / nights")
    season_days = param.Number(180.0, label="Season length (days)")
    visits_per_night = param.Integer(2, label="Visits per night")
    visit_gap_minutes = param.Number(33.0, label="Minutes between a night's visits")
    cadence_seed = param.Integer(0, bounds=(0, None), label="Seed of the cadence")
    noise = param.Boolean(True, label="Survey noise")
    noise_survey = param.Selector(objects=[], allow_None=True, label="Noise of survey")
    distance_pc = param.Number(10_000.0, label="Distance (pc)")
    custom_times = param.Array(default=None, allow_None=True, precedence=-1)

    projection = param.Selector(objects=["pca"], default="pca", label="Latent projection")

    # results, read by the views
    message = param.String("", precedence=-1)
    cadence_note = param.String("", precedence=-1)   # the epochs actually used
    noise_note = param.String("", precedence=-1)     # which survey's noise, or none
    magnitude_note = param.String("", precedence=-1)  # M_G, the band's colour, and the core's warnings
    curve = param.DataFrame(default=None, allow_None=True, precedence=-1)
    observed = param.DataFrame(default=None, allow_None=True, precedence=-1)
    search = param.Dict(default={}, precedence=-1)
    shape = param.Dict(default={}, precedence=-1)     # R21, phi31 of the plotted median curve
    mode = param.String("", precedence=-1)            # RR Lyrae mode and how sure, in words
    points = param.String("", precedence=-1)          # the plotted star's subtype, where drawn
    nearest = param.Dict(default={}, precedence=-1)   # the nearest real training star
    position = param.Array(default=None, allow_None=True, precedence=-1)
    observation = param.ClassSelector(class_=Observation, default=None, allow_None=True,
                                      precedence=-1)  # every sample; a table only on export
    z_override = param.Array(default=None, allow_None=True, precedence=-1)
    recovery = param.ClassSelector(class_=Recovery, default=None, allow_None=True, precedence=-1)
    recovery_curve = param.DataFrame(default=None, allow_None=True, precedence=-1)

    _depth = 0  # how many _one_refresh blocks are open: changes wait for one final refresh
    _periodogram = None  # the last period search's, reused while the cadence and period hold
    _last_strip_point = (None, None)  # ((band, teff), its StripPoint)

    def __init__(self, model=None, **params):
        self.model = model or shared_model()
        tables = model_tables(self.model)
        self._latents, self._basis = tables.latents, tables.basis
        self._stars, self._nearest_index, self._shapes = tables.stars, tables.nearest, tables.shapes
        params.setdefault("regressor", self.model.physics.default_regressor)
        super().__init__(**params)
        self.param["star_class"].objects = sorted(self.model.class_physics)
        self.param["regressor"].objects = list(self.model.physics.fitted_kinds())
        self.param["projection"].objects = projections(self._latents)
        self.param.watch(self._settle, list(self.SETTLE))
        with self._one_refresh():
            self._apply_class_defaults()
            self._apply_cadence_defaults()

    # -- what the class responds to ------------------------------------------------
    @property
    def info(self):
        return self.model.class_physics[self.star_class]

    @property
    def lesson_active(self) -> bool:
        """Whether Teff now sets period and magnitude (RR Lyrae whose model uses Teff, lesson on)."""
        return self.lesson and self.lesson_available()[0]

    def lesson_available(self) -> tuple[bool, str]:
        """Whether lesson mode applies to the current class, and if not, why in one line."""
        if self.star_class != "RRLYR":
            return False, "lesson mode follows the RR Lyrae instability strip: choose RRLYR"
        if "teff" not in self.info.parameters or self.lesson_stars().empty:
            return False, "this model's RR Lyrae do not use Teff"
        return True, "" if self.lesson else FIXED_PERIOD_NOTE

    def responds(self, parameter: str) -> tuple[bool, str]:
        """Whether the user sets a parameter, and if not, why in one line."""
        if self.lesson_active and parameter in ("abs_mag", "log_period"):
            return False, "follows Teff along the strip of the real RR Lyrae (lesson mode)"
        if parameter in self.info.parameters:
            return True, ""
        reason = f"not used: {self.star_class} training stars have no {parameter.replace('_', ' ')}"
        if parameter == "abs_mag" and self.star_class in self.model.references:
            return False, f"{reason}; the mean comes from the OGLE x Gaia period-luminosity relation"
        return False, reason

    def cadence_fields(self) -> tuple[str, ...]:
        """The cadence numbers the chosen cadence uses."""
        return CADENCE_FIELDS.get(self.cadence, PRESET_FIELDS)

    def noise_surveys(self) -> list[str]:
        """Surveys with an error model in the current band, most stars first."""
        return [m.survey for m in sorted(self.model.error_models.values(), key=lambda m: -m.n_stars)
                if m.band == self.band]

    def strip_stars(self, cls: str = "RRLYR", band: str | None = None) -> pd.DataFrame:
        """The real training stars of a class, one row per star (:func:`strip_stars`), all or
        those seen in ``band``."""
        if (cls, band) not in self._stars:
            self._stars[cls, band] = strip_stars(self._latents, cls, band=band)
        return self._stars[cls, band]

    def lesson_stars(self) -> pd.DataFrame:
        """The strip the lesson follows: the real RR Lyrae seen in the plotted band."""
        return self.strip_stars("RRLYR", self.band)

    def _strip_point(self):
        """Where the lesson places the current Teff (:func:`strip_point`): asked twice per move
        (for the period and for the mode's text), found once."""
        key = (self.band, self.teff)
        if self._last_strip_point[0] != key:
            self._last_strip_point = (key, strip_point(self.lesson_stars(), self.teff))
        return self._last_strip_point[1]

    @contextlib.contextmanager
    def _one_refresh(self):
        """Apply several changes, each still shown by its widget, and recompute once at the end
        (of the outermost block, where blocks nest)."""
        self._depth += 1
        try:
            with param.parameterized.batch_call_watchers(self):
                yield
        finally:
            self._depth -= 1
        if not self._depth:
            self.refresh()

    def _apply_class_defaults(self):
        info = self.info
        self.param["band"].objects = list(info.bands)
        self.band = lesson_band(info)
        for name in ("teff", "abs_mag", "log_period"):
            if name in info.ranges:
                self.param[name].bounds = self._training_bounds(name)
                setattr(self, name, info.typical[name])
        self._apply_lesson()
        self._apply_noise_defaults()
        self.z_override = None

    def _apply_lesson(self):
        """In lesson mode Teff spans the real strip and sets period and magnitude; out of it,
        the class's training range, the period held where it is."""
        if not self.lesson_available()[0]:
            return
        self.param["teff"].bounds = (strip_teff_range(self.lesson_stars()) if self.lesson_active
                                     else self._training_bounds("teff"))
        lo, hi = self.param["teff"].bounds
        self.teff = min(max(self.teff, lo), hi)
        self._follow_strip()

    def _apply_band(self):
        """A band has its own survey noise, and its own real stars for the lesson's strip."""
        self._apply_noise_defaults()
        self._apply_lesson()

    def _training_bounds(self, name: str) -> tuple[float, float]:
        """A slider's range: the class's training range and 5 % either side."""
        lo, hi = self.info.ranges[name]
        pad = 0.05 * (hi - lo) or 0.1
        return lo - pad, hi + pad

    def _follow_strip(self):
        if self.lesson_active:
            point = self._strip_point()
            self.param.update(log_period=self._clipped("log_period", math.log10(point.period)),
                              abs_mag=self._clipped("abs_mag", point.abs_mag))

    def _clipped(self, name: str, value: float) -> float:
        lo, hi = self.param[name].bounds
        return min(max(value, lo), hi)

    def _apply_cadence_defaults(self):
        if self.cadence in PRESETS:
            preset = PRESETS[self.cadence]
            self.param.update(baseline_days=preset.baseline_days, nights=preset.nights,
                              season_days=preset.season_days,
                              visits_per_night=preset.visits_per_night,
                              visit_gap_minutes=preset.visit_gap_days * MINUTES_PER_DAY)
        self._apply_noise_defaults()

    def _apply_noise_defaults(self):
        """The noise of the cadence's own survey where the model has it, else the band's
        best-sampled survey."""
        self.param["noise_survey"].objects = self.noise_surveys()
        chosen, _ = noise_for_cadence(self.model.error_models, self.cadence, self.band)
        self.noise_survey = None if chosen is None else chosen.survey

    #: What a change of each of these puts in order (one refresh afterwards, however many change).
    SETTLE = {"star_class": "_apply_class_defaults", "lesson": "_apply_lesson",
              "band": "_apply_band", "cadence": "_apply_cadence_defaults",
              "teff": "_follow_strip"}

    def _settle(self, *events):
        with self._one_refresh():
            if any(event.name == "teff" for event in events):
                self.z_override = None  # a physics slider returns from a clicked latent point
            for event in events:
                getattr(self, self.SETTLE[event.name])()

    @param.depends("abs_mag", "log_period", "regressor", "n_samples", "seed", watch=True)
    def _physics_changed(self):
        self.z_override = None
        self.refresh()

    @param.depends("baseline_days", "nights", "season_days", "visits_per_night",
                   "visit_gap_minutes", "cadence_seed", "noise", "noise_survey",
                   "distance_pc", "custom_times", watch=True)
    def _observation_changed(self):
        self.refresh()

    # -- actions --------------------------------------------------------------------
    def redraw(self):
        """New variational samples for the same physics and cadence."""
        self.seed += 1

    def redraw_cadence(self):
        """New observing nights (and noise) for the same star."""
        self.cadence_seed += 1

    def upload_times(self, content: bytes) -> bool:
        """Use times from an uploaded CSV as the cadence; a bad file leaves a message, no change."""
        try:
            if reason := too_large(content):
                raise ValueError(reason)
            times = parse_times(content)
        except ValueError as error:
            self.message = f"Custom cadence not used: {error}"
            return False
        with self._one_refresh():
            self.custom_times = times
            self.cadence = "custom"
        return True

    def upload_refused(self, reason: str):
        """The browser refused an upload before sending it (e.g. above :data:`MAX_UPLOAD_BYTES`)."""
        self.message = f"Custom cadence not used: {reason}"

    def decode_latent_point(self, x: float, y: float):
        """Decode from a clicked point of the latent plot (other dimensions at the current curve)."""
        around = (self.position.mean(0) if self.position is not None
                  else np.zeros(self.model.config.latent_dim))
        z = unproject(x, y, self.projection, self._basis, around)
        self.z_override = np.atleast_2d(z)
        self.refresh()

    # -- results ----------------------------------------------------------------------
    def check_numbers(self):
        """A ValueError naming the first number field, in use, outside what it accepts."""
        for name in (*self.cadence_fields(), "distance_pc"):
            lo, hi = LIMITS[name]
            value = getattr(self, name)
            if value is None or not lo <= value <= hi:
                raise ValueError(f"{self.param[name].label} must be between {lo:g} and {hi:g}, "
                                 f"not {value}; the last good curve is shown.")

    def cadence_times(self, seed: int | None = None, nights: int | None = None) -> np.ndarray:
        """The chosen cadence's times (``seed``: of the nights, default the cadence seed;
        ``nights``: another number of epochs)."""
        seed = self.cadence_seed if seed is None else seed
        nights = self.nights if nights is None else nights
        if self.cadence == "custom":
            if self.custom_times is None:
                raise ValueError("upload a CSV of observation times for a custom cadence")
            return self.custom_times
        if self.cadence == "uniform":
            return times_for({"name": "uniform", "n": nights, "baseline_days": self.baseline_days})
        if self.cadence in REAL_CADENCES:
            return times_for(self.cadence, seed)
        return times_for({"name": self.cadence, "baseline_days": self.baseline_days,
                          "nights": nights, "season_days": self.season_days,
                          "visits_per_night": self.visits_per_night,
                          "visit_gap_days": self.visit_gap_minutes / MINUTES_PER_DAY}, seed)

    def physics(self) -> dict[str, float]:
        """The parameters the class uses, as set (teff, abs_mag, log_period)."""
        return {name: getattr(self, name) for name in self.info.parameters}

    def _draw(self):
        uses = self.info.parameters  # a parameter the class ignores is not passed at all
        teff = self.teff if "teff" in uses else None
        abs_mag = self.abs_mag if "abs_mag" in uses else None
        return self.model.draw(self.star_class, teff=teff, abs_mag=abs_mag,
                               period=10**self.log_period, n_samples=self.n_samples,
                               regressor=self.regressor, band=self.band, seed=self.seed,
                               latent=None if self.z_override is None else self.z_override[0])

    def _noise(self):
        return self.noise_survey if self.noise and self.noise_survey else False

    def refresh(self):
        """Recompute every result; an input that cannot be used becomes a message, not an error."""
        if self._depth:
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
        self.check_numbers()
        period = 10**self.log_period
        with warnings.catch_warnings(record=True) as caught:   # shown on the page, not logged
            warnings.simplefilter("always")
            star = self._draw()
        times = self.cadence_times()
        observation = star.observation(times=times, distance_pc=self.distance_pc, noise=self._noise())
        low, median, high = np.quantile(star.magnitudes(PHASE_GRID, self.distance_pc)[0],
                                        [0.16, 0.5, 0.84], axis=0)
        curve = pd.DataFrame({"phase": PHASE_GRID, "median": median, "low": low, "high": high})
        noisy = observation.noise != "none"
        first = pd.DataFrame({"time": observation.times, "phase": observation.phase,
                              "mag": observation.mag[0],
                              "mag_err": observation.err[0] if noisy else np.zeros(len(times)),
                              "detected": observation.detected[0]})
        # one batched update, so each plot redraws once per change, not once per result
        self.param.update(search=self._period_search(observation, period), position=np.array(star.z),
                          observation=observation, observed=first, curve=curve,
                          shape=shape_parameters(PHASE_GRID, median), mode=self._mode_text(period),
                          points=points_subtype(star),
                          nearest=self._nearest(), cadence_note=self._cadence_note(times),
                          noise_note=self._noise_note(), recovery=None, recovery_curve=None,
                          magnitude_note=magnitude_note(star, [str(w.message) for w in caught]))

    def _mode_text(self, period: float) -> str:
        if self.star_class != "RRLYR":
            return ""
        if self.lesson_active:
            point = self._strip_point()
            return f"{point.mode} ({100 * point.mode_probability:.0f} % of {point.neighbours} real stars at this Teff)"
        return f"{mode_of_period(period)} by its period"

    def _nearest(self) -> dict:
        """The real training star nearest in the parameters the class uses, and where it sits."""
        key = (self.star_class, self.band)
        if key not in self._nearest_index:
            self._nearest_index[key] = NearestStars(self._latents, self.star_class, self.band)
        row = self._nearest_index[key].to(self.physics())
        key = (row["star"], self.band)
        if key not in self._shapes:
            observed = real_shapes().curve(row["star"], self.band, PHASE_GRID)
            if observed is not None:  # on the decoder's scale: 0 at maximum light, 1 at minimum
                mags, real = observed
                self._shapes[key] = ((mags - mags.min()) / np.ptp(mags),
                                     f"its own {real['survey']} curve, a fit of order {real['order']} "
                                     f"to {real['n_points']} points")
            else:
                z = row[latent_columns(self._latents)].to_numpy(float)[None]
                decoded = self.model.decode(z, self.star_class, PHASE_GRID, band=self.band)[0][0]
                self._shapes[key] = (decoded, "the model's curve of it")
        shape_curve, source = self._shapes[key]
        return {"star": row["star"], "teff": row["teff"], "period": row["period"],
                "abs_mag": row["abs_mag"], "curve": shape_curve, "source": source,
                **shape_parameters(PHASE_GRID, shape_curve)}

    def _cadence_note(self, times: np.ndarray) -> str:
        if self.cadence == "custom":
            return f"{len(times)} uploaded times, {times[0]:.5g} to {times[-1]:.5g} d (kept as given)"
        if self.cadence in REAL_CADENCES:
            real = real_cadence(self.cadence)
            return (f"{len(times)} epochs over {np.ptp(times):.0f} days: the real {real.survey} "
                    f"{real.band}-band epochs of star {real.star(self.cadence_seed)} (the cadence seed picks "
                    f"one of {len(real.table)} stars; times kept as the survey dates them)")
        return f"{len(times)} epochs over {np.ptp(times):.0f} days"

    def _noise_note(self) -> str:
        if not self.noise:
            return "No noise: the points lie on the generated curve."
        if not self.noise_survey:
            return f"No survey error model in band {self.band}: no noise added."
        _, has_own = noise_for_cadence(self.model.error_models, self.cadence, self.band)
        whose = (real_cadence(self.cadence).survey if self.cadence in REAL_CADENCES
                 else f"{self.cadence.upper()}-like")
        missing = "" if has_own or self.cadence not in CADENCE_NAMES else \
            f" This model has no {whose} errors in {self.band}."
        return f"Noise: {describe_noise(self.model.physics.error_model(self.noise_survey, self.band), self.star_class)}.{missing}"

    def _period_search(self, observation: Observation, period: float) -> dict:
        """The first sample's periodogram around the period (its detected epochs), and whether
        its peak is the period."""
        search = search_near(*observation.detections(0), period, reuse=self._periodogram)
        if search is None:
            return {"periods": np.array([]), "power": np.array([]), "found": math.nan,
                    "recovered": False, "true": period}
        self._periodogram = search.periodogram  # the same cadence next time: no new NUFFT plans
        frequency, power = max_pooled(search.frequency, search.power, PERIODOGRAM_POINTS)
        return {"periods": 1 / frequency, "power": power, "found": search.period, "true": period,
                "recovered": is_recovered(search.period, period)}

    def measure_recovery(self, realisations: int = RECOVERY_REALISATIONS,
                         curve_realisations: int = EPOCH_CURVE_REALISATIONS):
        """Period recovery of the current star under the current cadence over many realisations,
        and (for generated cadences) its rate at other numbers of epochs: on demand, never on a
        slider move."""
        try:
            self.check_numbers()
            star, noise = self._draw(), self._noise()
            seeds = range(self.cadence_seed, self.cadence_seed + realisations)
            recovery = period_recovery(star, [self.cadence_times(s) for s in seeds],
                                       self.distance_pc, noise)
            rows = []
            if "nights" in self.cadence_fields():  # a cadence with a number of epochs to vary
                for factor in EPOCH_FACTORS:
                    nights = max(LIMITS["nights"][0], min(LIMITS["nights"][1], round(self.nights * factor)))
                    cadences = [self.cadence_times(s, nights) for s in seeds[:curve_realisations]]
                    rows.append({"nights": nights, "epochs": len(cadences[0]),
                                 "rate": period_recovery(star, cadences, self.distance_pc, noise).rate})
            self.param.update(recovery=recovery,
                              recovery_curve=pd.DataFrame(rows, columns=["nights", "epochs", "rate"]))
        except ValueError as error:
            self.message = f"Period recovery not measured: {error}"

    def latent_points(self) -> pd.DataFrame:
        """Training stars projected with the current projection, for the scatter plot."""
        xy = project(self._latents[latent_columns(self._latents)].to_numpy(), self.projection,
                     self._basis)
        return self._latents.assign(x=xy[:, 0], y=xy[:, 1])

    def current_point(self) -> np.ndarray:
        return project(self.position, self.projection, self._basis) if self.position is not None \
            else np.empty((0, 2))

    def where_view(self) -> tuple[pd.DataFrame, str, str | None]:
        """The real training stars of the class (one row per star) and the two parameters that
        place the current star among them (:func:`where_axes`)."""
        x, y = where_axes(self.info.parameters, self.star_class)
        return self.strip_stars(self.star_class), x, y

    def current_physics(self) -> dict[str, float]:
        """The current star's Teff, period and mean absolute magnitude as used (NaN if unused)."""
        star = self.observation.draw if self.observation is not None else None
        return {"teff": self.teff if "teff" in self.info.parameters else math.nan,
                "period": 10**self.log_period,
                "abs_mag": math.nan if star is None or star.abs_mag is None else star.abs_mag}

    def morph(self, n_teff: int = 5):
        """Generated RR Lyrae across the real training stars' Teff range for the chosen regressor,
        with each column's mode by its period, the median shape of the real RR Lyrae nearest in
        Teff to each column (``real``: teff, phase, mag about its mean), and the core's warnings
        (shown, not logged)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            curves, shapes = rr_lyrae_morph(self.model, n_teff=n_teff, regressors=(self.regressor,),
                                            n_samples=self.n_samples, seed=self.seed)
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        real = [pd.DataFrame({"teff": teff, "phase": PHASES,
                              "mag": real_median_curve(real_shapes(), teff)[0]})
                for teff in shapes["teff"]]
        shapes = shapes.assign(mode=[mode_of_period(p) for p in shapes["period"]])
        return curves, shapes, pd.concat(real, ignore_index=True), notes

    # -- export -------------------------------------------------------------------------
    def export(self, fmt: str) -> io.BytesIO:
        """The generated curves under the current cadence, with the parameters, cadence and
        noise used (``noise``: the survey and band of the errors, or none)."""
        if self.observation is None:
            raise ValueError("nothing generated yet")
        used = {name: getattr(self, name) for name in self.cadence_fields()}
        table = self.observation.table().assign(cadence=self.cadence, **used,
                                                cadence_seed=self.cadence_seed, seed=self.seed,
                                                model=str(self.model.folder.name))
        return io.BytesIO(table_bytes(table, fmt))


#: The band choice that leaves the band to the curve: its band column, else the model's default.
FROM_FILE = "from the file"
#: How the example curve is made: a generated RR Lyrae (the dashboard has no survey light curves).
EXAMPLE = {"cls": "RRLYR", "cadence": "ztf", "distance_pc": 8000.0, "seed": 0}


@dataclasses.dataclass(frozen=True)
class StarRequest:
    """A checked request for inference: the curve's columns, the band, the distance."""

    times: np.ndarray
    mags: np.ndarray
    errs: np.ndarray
    band: object  # one name, one per point, or None (the model's default)
    distance_pc: float | None
    notes: tuple[str, ...] = ()


class OneFitAtATime:
    """The page's fits of uploaded or pasted curves, one at a time: a curve given while one is
    fitted waits and is fitted next, the latest replacing any earlier one still waiting (the
    user meant the last file they gave)."""

    def __init__(self, fit):
        self._fit = fit          # async callable(content, name)
        self._waiting = None
        self.busy = False

    async def submit(self, content, name: str) -> None:
        """Fit ``content`` now, or after the fit under way when there is one."""
        if self.busy:
            self._waiting = (content, name)
            return
        self.busy = True
        try:
            await self._fit(content, name)
            while self._waiting is not None:
                job, self._waiting = self._waiting, None
                await self._fit(*job)
        finally:
            self.busy = False


class YourStar(param.Parameterized):
    """The inverse problem for the user's own light curve: a CSV (time, mag, err[, band]) in,
    the model's class, mode, period and physics with intervals out (:meth:`Model.analyse`)."""

    text = param.String("", label="Paste a CSV light curve (columns time, mag, err[, band])")
    band = param.Selector(objects=[FROM_FILE], default=FROM_FILE, label="Band")
    distance_pc = param.Number(None, allow_None=True, label="Distance (pc, optional)")

    # results, read by the views
    message = param.String("", precedence=-1)        # why the last request gave no result
    example_note = param.String("", precedence=-1)   # what the example curve is
    result = param.Dict(default={}, precedence=-1)   # Model.infer's dictionary
    notes = param.List(default=[], precedence=-1)    # the core's warnings and the page's own
    folded = param.DataFrame(default=None, allow_None=True, precedence=-1)  # the data, folded
    fitted = param.DataFrame(default=None, allow_None=True, precedence=-1)  # the best fit, folded
    where = param.Dict(default={}, precedence=-1)    # the star among the real ones of its class
    timing = param.Dict(default={}, precedence=-1)   # the best fit's O-C diagram, in days

    def __init__(self, explorer: Explorer, **params):
        self.explorer = explorer
        self.model = explorer.model
        super().__init__(**params)
        self.param["band"].objects = [FROM_FILE, *self.model.bands]
        self.example_truth: dict[str, float] = {}

    # -- input ------------------------------------------------------------------------
    def request(self, content: bytes | str | None = None, name: str = "the pasted table"
                ) -> StarRequest | None:
        """The curve of ``content`` (default: the paste box) checked for reading; None, with a
        one-line message, when it cannot be used."""
        content = self.text if content is None else content
        try:
            if not (content.strip() if isinstance(content, str) else content.strip()):
                raise ValueError(f"{name} is empty: paste or upload a CSV with columns time, mag, "
                                 f"err (and optionally band)")
            if reason := too_large(content):
                raise ValueError(f"{name}: {reason}")
            raw = content.encode() if isinstance(content, str) else content
            times, mags, errs, bands = read_curve_from(io.BytesIO(raw), name)
            notes = ()
            if bands is not None and self.band != FROM_FILE:
                notes = (f"the curve's band column was used; the chosen band {self.band} applies "
                         f"only to curves without one",)
            band = bands if bands is not None else (None if self.band == FROM_FILE else self.band)
            return StarRequest(times, mags, errs, band, self.distance_pc, notes)
        except ValueError as error:
            self._fail(str(error))
        except Exception as error:  # never let a traceback reach the page
            log.exception("reading a light curve failed")
            self._fail(f"the table could not be read ({type(error).__name__})")
        return None

    def upload_refused(self, reason: str):
        """The browser refused an upload before sending it (e.g. above :data:`MAX_UPLOAD_BYTES`)."""
        self._fail(reason)

    def _fail(self, reason: str):
        """No result, and the reason in one line (the last result is cleared: it is not this curve's)."""
        self.param.update(message=f"Not inferred: {' '.join(reason.split())}", result={}, notes=[],
                          folded=None, fitted=None, where={}, timing={})

    # -- inference: analyse may run in a worker thread; it changes no parameter --------
    def analyse(self, request: StarRequest):
        """:meth:`Model.analyse` of a request: the Inference, or the one-line reason it failed."""
        try:
            return self.model.analyse(request.times, request.mags, request.errs, request.band,
                                      request.distance_pc)
        except ValueError as error:
            return " ".join(str(error).split())
        except Exception as error:  # never let a traceback reach the page
            log.exception("inference failed")
            return f"the inference failed ({type(error).__name__})"

    def show(self, request: StarRequest, outcome) -> bool:
        """Keep an :meth:`analyse` outcome: the results, or the message saying why there are none."""
        if isinstance(outcome, str):
            self._fail(outcome)
            return False
        result = outcome.result
        folded, fitted = self._folded(outcome, result["period"])
        self.param.update(message="", result=result, notes=[*result["warnings"], *request.notes],
                          folded=folded, fitted=fitted, where=self._where(result),
                          timing=self._timing(outcome.best))
        return True

    def infer(self, content: bytes | str | None = None, name: str = "the pasted table") -> bool:
        """Read, analyse and show in one go (the page runs :meth:`analyse` off the event loop)."""
        request = self.request(content, name)
        return request is not None and self.show(request, self.analyse(request))

    @staticmethod
    def _folded(inference, period: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The checked points and the best-fitting curve of each band, folded on ``period`` with
        the fit's maximum light (of the band with most points) at phase 0."""
        obs = inference.observed
        start = float(obs.time[0])
        grid = start + PHASE_GRID * period
        brightest = float(PHASE_GRID[np.argmin(inference.curve(grid))])
        epoch = start + brightest * period
        fitted = []
        for band in obs.bands:
            fitted.append(pd.DataFrame({"phase": PHASE_GRID, "band": band,
                                        "mag": inference.curve(epoch + PHASE_GRID * period, band)}))
        folded = pd.DataFrame({"time": obs.time, "phase": np.mod((obs.time - epoch) / period, 1.0),
                               "mag": obs.mag, "err": obs.err, "band": obs.band.astype(str)})
        return folded, pd.concat(fitted, ignore_index=True)

    @staticmethod
    def _timing(best) -> dict:
        """The best fit's O-C diagram (:class:`pelsvae_core.inference.fit.OMinusC`): each observing
        season's mean time, O - C and error in days, and the probability that a constant period
        scatters them so; no seasons where the curve has too few."""
        diagram = best.o_c
        o_minus_c, error = diagram.days(best.frequency)
        return {"time": diagram.time, "o_minus_c": o_minus_c, "error": error,
                "constant_period_p": diagram.constant_period_p, "chunks": diagram.chunk_name,
                "absent": NO_DIAGRAM_REASON}

    def _where(self, result: dict) -> dict:
        """The inferred class's real stars and the axes that place a star among them, the star's
        values and 16-84 % intervals there, and a note when it cannot be placed."""
        cls = result["class"]
        x, y = where_axes(self.model.class_physics[cls].parameters, cls)
        values = {"period": result["period"], "teff": math.nan, "abs_mag": math.nan}
        intervals = {"period": (result["period_interval"]["p16"], result["period_interval"]["p84"])}
        for name in ("teff", "abs_mag"):
            if result[name] is not None:
                values[name] = result[name]["median"]
                intervals[name] = (result[name]["p16"], result[name]["p84"])
        missing = [a for a in (x, y) if a and math.isnan(values[a])]
        note = ""
        if missing:
            why = {"teff": "no Teff was inferred (see the notes)",
                   "abs_mag": "the absolute magnitude needs a distance"}
            note = f"Not placed among the real {cls} stars: " + "; ".join(why[m] for m in missing) + "."
        return {"cls": cls, "x": x, "y": y, "values": values, "intervals": intervals, "note": note,
                "stars": self.explorer.strip_stars(cls)}

    # -- the example -------------------------------------------------------------------
    def load_example(self):
        """Fill the paste box with a generated RR Lyrae observed with a ZTF-like cadence, survey
        noise and a distance (this page has the model, not the survey light curves)."""
        try:
            self._load_example()
        except Exception as error:  # never let a traceback reach the page
            log.exception("making the example failed")
            self._fail(f"no example could be made ({type(error).__name__}: {error})")

    def _load_example(self):
        classes = self.model.class_physics
        cls = EXAMPLE["cls"] if EXAMPLE["cls"] in classes else sorted(classes)[0]
        info = classes[cls]
        # the cadence's own survey noise where the model has it in a band (ZTF in g), else the
        # band's best-sampled survey's
        per_band = {b: noise_for_cadence(self.model.error_models, EXAMPLE["cadence"], b)
                    for b in info.bands}
        band = next((b for b, (_, own) in per_band.items() if own),
                    next((b for b, (found, _) in per_band.items() if found), info.bands[0]))
        chosen = per_band[band][0]
        physics = {name: info.typical[name] for name in ("teff", "abs_mag") if name in info.parameters}
        physics["period"] = 10 ** info.typical["log_period"]
        table = self.model.generate(cls, **physics, cadence=EXAMPLE["cadence"], n_samples=1,
                                    band=band, distance_pc=EXAMPLE["distance_pc"],
                                    noise=chosen.survey if chosen else False, seed=EXAMPLE["seed"])
        errs = table["mag_err"] if chosen else np.full(len(table), 0.02)
        csv = pd.DataFrame({"time": table["time"].round(6), "mag": table["mag"].round(4),
                            "err": np.round(errs, 4), "band": band}).to_csv(index=False)
        self.example_truth = {"cls": cls, "band": band, **physics}
        described = ", ".join(SHORT_NAMES[k].format(v) for k, v in physics.items())
        noise = f"{chosen.survey} {band}-band noise" if chosen else "no survey noise in this band"
        self.param.update(text=csv, band=FROM_FILE, distance_pc=EXAMPLE["distance_pc"],
                          example_note=(f"The example is generated by this model, not a real star: a {cls} "
                                        f"with {described}, seen at {EXAMPLE['distance_pc']:.0f} pc "
                                        f"with a ZTF-like cadence ({len(table)} epochs) and {noise}."))

    # -- words ---------------------------------------------------------------------------
    def summary(self) -> str:
        """The result in a few Markdown lines."""
        r = self.result
        if not r:
            return ""
        probability = r["class_probabilities"][r["class"]]
        lines = [f"**Class {r['class']}** ({100 * probability:.0f} %)"
                 + (f" · **{r['subtype']}** ({100 * r['subtype_probabilities'][r['subtype']]:.0f} %)"
                    if r["subtype"] else ""),
                 "**Period** " + _interval({"median": r["period"], **r["period_interval"]},
                                           _digits(r["period_interval"]), " d"),
                 "**Teff** " + (_interval(r["teff"], "{:.0f}", " K") if r["teff"] else "not inferred"),
                 "**Absolute magnitude** " + (_interval(r["abs_mag"], "{:.2f}", " mag") if r["abs_mag"]
                                               else "needs a distance"),
                 f"Amplitude {r['amplitude']:.2f} mag · {r['n_points']} points used"]
        return "  \n".join(lines)


SHORT_NAMES = {"teff": "Teff {:.0f} K", "abs_mag": "M {:.2f}", "period": "P {:.4g} d"}


def _digits(interval: dict) -> str:
    """A format with enough significant digits to tell an interval's ends apart."""
    low, high = interval["p16"], interval["p84"]
    width = abs(high - low) / max(abs(high), 1e-300)
    digits = 4 if width >= 1e-3 else min(12, 2 + math.ceil(-math.log10(max(width, 1e-12))))
    return f"{{:.{digits}g}}"


def _interval(value: dict, fmt: str, unit: str) -> str:
    return (f"{fmt.format(value['median'])}{unit} (16–84 %: {fmt.format(value['p16'])}–"
            f"{fmt.format(value['p84'])}{unit})")
