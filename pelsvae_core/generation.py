"""Light curves from physical parameters (Martinez-Palomera et al. 2022, Sect. 4.3), in magnitudes.

class + (Teff, M, P) + band  --density or regressor-->  z, log10 amplitude
z + class + band + phases  --decoder-->  normalised curve  -->  magnitudes

The default, ``"mdn"``, draws z and the amplitude from a conditional density fitted
on the real stars (:mod:`pelsvae_core.physics.density`); the paper's regressors
(linear, rf, mlp) map the physics and a dummy ~ U(0, 1) to them (Sect. 4.2). Either
way the amplitude is held to the class's real range in the band, widened by a stated
margin (:meth:`ClassPhysics.amplitude_bounds`); a sample held there says so
(``amplitude_clipped``). The normalised curve (0 = brightest, 1 = faintest) is
scaled by the amplitude around the absolute magnitude, plus the distance modulus
when a distance is given. The absolute magnitude is the one given, else the class's
own prediction: its median (classes trained with M) or the period-luminosity relation
of the OGLE x Gaia DR2 cross-match (:mod:`pelsvae_core.reference`). Survey noise
draws from the survey's error-versus-magnitude relation (:mod:`pelsvae_core.noise`)
at each apparent magnitude.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cadences
from .model.decoder import Decoder, periodic_values
from .physics.classes import ClassPhysics
from .physics.mapping import PhysicsMap
from .physics.regressors import DEFAULT_REGRESSOR

#: How far outside a class's training range (in range widths) a parameter may go before it is refused.
MAX_EXTRAPOLATION = 1.0
DEFAULT_PHASES = 200
#: Noise draws come from their own random stream, so adding noise leaves the samples as they were.
NOISE_STREAM = 1


@dataclass
class Request:
    """Validated inputs of one generation."""

    cls: str
    values: dict[str, float]       # the class's parameters, as used
    period: float
    abs_mag: float | None
    band: str
    extrapolation: float


def _finite(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value}")
    return value


def validate(info: ClassPhysics, teff, abs_mag, period, band: str | None) -> Request:
    """Check inputs against what the class knows; measure extrapolation beyond its training range."""
    period = _finite("period", period)
    if period <= 0:
        raise ValueError(f"period must be positive (days), not {period}")
    given = {"teff": teff, "abs_mag": abs_mag, "log_period": math.log10(period)}
    values, worst = {}, 0.0
    for name in info.parameters:
        value = info.typical[name] if given[name] is None else _finite(name, given[name])
        lo, hi = info.ranges[name]
        width = max(hi - lo, 1e-6)
        outside = max(lo - value, value - hi, 0.0) / width
        if outside > MAX_EXTRAPOLATION:
            shown = (lambda v: f"{10**v:.4g} d") if name == "log_period" else (lambda v: f"{v:.4g}")
            label = "period" if name == "log_period" else name
            raise ValueError(f"{label}={shown(value)} is far outside the {info.cls} training range "
                             f"{shown(lo)} to {shown(hi)}")
        values[name], worst = value, max(worst, outside)
    band = band or info.bands[0]
    if band not in info.bands:
        raise ValueError(f"{info.cls} was trained in band(s) {', '.join(info.bands)}, not {band!r}")
    used_abs_mag = values.get("abs_mag", None if abs_mag is None else _finite("abs_mag", abs_mag))
    return Request(info.cls, values, period, used_abs_mag, band, worst)


def observation_phases(period: float, times=None, phases=None, cadence=None, epoch: float = 0.0,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(times, phases) from exactly one of times, phases or a cadence (preset name, or a dict with
    ``name`` and changed numbers); phases only: times are NaN. Default: 200 uniform phases."""
    chosen = [x is not None for x in (times, phases, cadence)]
    if sum(chosen) > 1:
        raise ValueError("give at most one of times, phases and cadence")
    if cadence is not None:
        times = cadences.times_for(cadence, seed)
    if times is not None:
        times = np.asarray(times, dtype=float).ravel()
        if times.size == 0:
            raise ValueError("the cadence has no observation times")
        if not np.isfinite(times).all():
            raise ValueError("observation times must be finite numbers")
        return times, np.mod((times - epoch) / period, 1.0)
    if phases is None:
        phases = np.linspace(0.0, 1.0, DEFAULT_PHASES, endpoint=False)
    phases = np.asarray(phases, dtype=float).ravel()
    if phases.size == 0 or not np.isfinite(phases).all():
        raise ValueError("phases must be a non-empty list of finite numbers")
    return np.full(phases.size, np.nan), phases


def sample_targets(physics: PhysicsMap, info: ClassPhysics, values: dict[str, float], band: str,
                   regressor: str, n_samples: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent vectors (n_samples, d), amplitudes (magnitudes) and whether each amplitude was
    held to the class's bounds, for one physical vector: draws from the density, or the
    paper's regressor at a dummy ~ U(0, 1) per sample (Sect. 4.2)."""
    inputs = info.regressor_inputs(np.tile([values[p] for p in info.parameters], (n_samples, 1)),
                                   [band] * n_samples)
    out = physics.predictor(info.cls, regressor).sample(inputs, rng)
    low, high = info.amplitude_bounds(band)
    log_amplitude = np.clip(out[:, -1], low, high)
    return out[:, :-1], 10 ** log_amplitude, log_amplitude != out[:, -1]


def predict_latents(physics: PhysicsMap, info: ClassPhysics, values: dict[str, float], band: str,
                    regressor: str, n_samples: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Latent vectors and bounded amplitudes of :func:`sample_targets`, without the flags."""
    return sample_targets(physics, info, values, band, regressor, n_samples, rng)[:2]


@dataclass
class Draw:
    """Samples for one physical vector: latent vectors, amplitudes and the decoded grids.

    Drawn once, a star can be observed under many cadences (:meth:`observe`) without
    running the regressor and decoder again: what the dashboard does on every change.
    """

    physics: PhysicsMap
    request: Request
    regressor: str
    z: np.ndarray           # (n_samples, latent_dim)
    amplitude: np.ndarray   # (n_samples,) magnitudes, within the class's bounds
    amplitude_clipped: np.ndarray  # (n_samples,) bool: drawn outside the bounds, held at one
    grid: np.ndarray        # (n_samples, 2, grid_size) normalised magnitude and error
    abs_mag: float | None
    abs_mag_source: str
    seed: int

    def magnitudes(self, phase: np.ndarray, distance_pc: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, str]:
        """Noise-free magnitudes and the model's errors, (n_samples, len(phase)) each, and
        what the magnitudes are: absolute, apparent (with ``distance_pc``) or relative to
        the mean (no mean magnitude known)."""
        modulus = 0.0
        if distance_pc is not None:
            distance_pc = _finite("distance_pc", distance_pc)
            if distance_pc <= 0:
                raise ValueError("distance_pc must be positive")
            modulus = 5 * math.log10(distance_pc / 10)
        norm, norm_err = periodic_values(self.grid, phase)
        mag = (norm - self.grid[:, 0].mean(1)[:, None]) * self.amplitude[:, None]
        err = norm_err * self.amplitude[:, None]
        if self.abs_mag is None:
            return mag, err, "relative to mean"
        return mag + self.abs_mag + modulus, err, "apparent" if distance_pc is not None else "absolute"

    def observation(self, times=None, phases=None, cadence=None, distance_pc: float | None = None,
                    noise: bool | str = False, epoch: float = 0.0) -> "Observation":
        """Every sample observed at the given times (arrays; :meth:`observe` makes the table)."""
        times, phase = observation_phases(self.request.period, times, phases, cadence, epoch, self.seed)
        mag, err, kind = self.magnitudes(phase, distance_pc)
        error_model = self.physics.error_model(noise, self.request.band)
        if error_model is not None and (self.abs_mag is None or distance_pc is None):
            missing = "abs_mag and distance_pc" if self.abs_mag is None else "distance_pc"
            raise ValueError(f"{error_model.survey} noise depends on the apparent magnitude: "
                             f"give {missing}")
        if error_model is not None:
            err = error_model.sigma(mag)
            mag = mag + np.random.default_rng([self.seed, NOISE_STREAM]).standard_normal(mag.shape) * err
        return Observation(self, times, phase, mag, err, kind, distance_pc,
                           "none" if error_model is None else f"{error_model.survey} {error_model.band}")

    def observe(self, times=None, phases=None, cadence=None, distance_pc: float | None = None,
                noise: bool | str = False, epoch: float = 0.0) -> pd.DataFrame:
        """The tidy table of :meth:`pelsvae_core.Model.generate` for this draw."""
        return self.observation(times, phases, cadence, distance_pc, noise, epoch).table()


@dataclass
class Observation:
    """A :class:`Draw` observed: times, phases, and magnitudes and errors (n_samples, n_obs)."""

    draw: Draw
    times: np.ndarray
    phase: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    mag_kind: str           # absolute, apparent or relative to mean
    distance_pc: float | None
    noise: str              # "none", or the survey and band of the error model

    def table(self) -> pd.DataFrame:
        """One row per sample and observation, with the parameters that made it."""
        star, request = self.draw, self.draw.request
        n_samples, n_obs = self.mag.shape
        latents = {f"z{i}": np.repeat(star.z[:, i], n_obs) for i in range(star.z.shape[1])}
        return pd.DataFrame({
            "sample": np.repeat(np.arange(n_samples), n_obs),
            "time": np.tile(self.times, n_samples), "phase": np.tile(self.phase, n_samples),
            "mag": self.mag.ravel(), "mag_err": self.err.ravel(),
            "band": request.band, "cls": request.cls, "teff": request.values.get("teff", np.nan),
            "abs_mag": np.nan if star.abs_mag is None else star.abs_mag,
            "abs_mag_source": star.abs_mag_source,
            "period": request.period, "regressor": star.regressor, "mag_kind": self.mag_kind,
            "distance_pc": np.nan if self.distance_pc is None else self.distance_pc,
            "noise": self.noise, "extrapolation": request.extrapolation,
            "amplitude_clipped": np.repeat(star.amplitude_clipped, n_obs), **latents,
        })


def draw(decoder: Decoder, physics: PhysicsMap, cls: str, teff=None, abs_mag=None, period=None,
         n_samples: int = 10, regressor: str = DEFAULT_REGRESSOR, band: str | None = None, seed: int = 0,
         latent=None, folder=None) -> Draw:
    """Validate the physics and draw ``n_samples`` curves for it (see :meth:`pelsvae_core.Model.draw`);
    ``folder`` names the model in errors."""
    info = physics.class_info(cls, folder)
    physics.predictor(cls, regressor)  # an unknown regressor fails before any other check
    if period is None:
        raise ValueError("period is required (days)")
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 1):
        raise ValueError(f"n_samples must be a positive integer, not {n_samples!r}")
    request = validate(info, teff, abs_mag, period, band)
    mean_mag, source = request.abs_mag, ("given" if abs_mag is not None else "class median")
    if mean_mag is None:
        mean_mag, source = physics.period_luminosity(cls, request.period)
    rng = np.random.default_rng(seed)
    z, amplitude, clipped = sample_targets(physics, info, request.values, request.band, regressor,
                                           n_samples, rng)
    if latent is not None:
        z = np.broadcast_to(np.asarray(latent, dtype=float).reshape(1, -1), z.shape)
    return Draw(physics, request, regressor, z, amplitude, clipped,
                decoder.decode_grid(z, cls, band=request.band), mean_mag, source, seed)
