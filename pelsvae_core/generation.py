"""Light curves from physical parameters (Martinez-Palomera et al. 2022, Sect. 4.3), in magnitudes.

class + (Teff, M, P) + dummy ~ U(0, 1)  --regressor-->  z, log10 amplitude
z + class + band + phases  --decoder-->  normalised curve  -->  magnitudes

The normalised curve (0 = brightest, 1 = faintest) is scaled by the predicted
amplitude around the given absolute magnitude, plus the distance modulus when
a distance is given. Classes trained without M give curves relative to their mean.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cadences
from .physics_map import ClassPhysics
from .regressors import KINDS, design

#: How far outside a class's training range (in range widths) a parameter may go before it is refused.
MAX_EXTRAPOLATION = 1.0
DEFAULT_PHASES = 200


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
        if isinstance(cadence, str):
            times = cadences.preset(cadence, seed)
        elif isinstance(cadence, dict):
            options = dict(cadence)
            name = options.pop("name", None)
            times = (cadences.uniform(**options) if name == "uniform"
                     else cadences.preset(name, seed, **options))
        else:
            raise ValueError("cadence must be a preset name or a dict with 'name'")
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


def predict_latents(model, info: ClassPhysics, values: dict[str, float], band: str, regressor: str,
                    n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Latent vectors (n_samples, d) and amplitudes (magnitudes) for one physical vector,
    each sample with its own dummy ~ U(0, 1) (paper Sect. 4.2)."""
    physics = np.tile([values[p] for p in info.parameters], (n_samples, 1))
    band_onehot = np.tile([b == band for b in info.bands], (n_samples, 1)).astype(float)
    out = model.predictors[f"{info.cls}/{regressor}"].predict(
        design(physics, band_onehot, rng.uniform(0, 1, n_samples)))
    return out[:, :-1], 10 ** out[:, -1]


def periodic_values(grid: np.ndarray, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear periodic interpolation of decoded grids (n, 2, G) at phases (m,) or (n, m):
    the NumPy twin of :func:`pelsvae_core.model.networks.periodic_interpolate`, for inference."""
    size = grid.shape[-1]
    phase = np.broadcast_to(np.asarray(phase, dtype=np.float64), (grid.shape[0], np.shape(phase)[-1]))
    position = np.mod(phase, 1.0) * size
    left = np.floor(position).astype(int) % size
    weight = position - np.floor(position)
    rows = np.arange(grid.shape[0])[:, None]
    values = [grid[rows, k, left] * (1 - weight) + grid[rows, k, (left + 1) % size] * weight
              for k in (0, 1)]
    return values[0], values[1]


def generate(model, cls: str, teff=None, abs_mag=None, period=None, times=None, phases=None,
             cadence=None, n_samples: int = 10, regressor: str = "rf", band: str | None = None,
             distance_pc: float | None = None, noise: bool = False, epoch: float = 0.0,
             seed: int = 0, latent=None) -> pd.DataFrame:
    """A tidy table: one row per sample and observation (see :meth:`pelsvae_core.Model.generate`)."""
    if not model.class_physics:
        raise ValueError(f"the model in {model.folder} has no regressors; run `pelsvae fit-regressors`")
    if cls not in model.class_physics:
        raise ValueError(f"unknown class {cls!r}; this model generates "
                         f"{', '.join(sorted(model.class_physics))}")
    if regressor not in KINDS:
        raise ValueError(f"unknown regressor {regressor!r}; choose from {', '.join(KINDS)}")
    if period is None:
        raise ValueError("period is required (days)")
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 1):
        raise ValueError(f"n_samples must be a positive integer, not {n_samples!r}")
    info = model.class_physics[cls]
    request = validate(info, teff, abs_mag, period, band)
    times, phase = observation_phases(request.period, times, phases, cadence, epoch, seed)
    modulus = 0.0
    if distance_pc is not None:
        distance_pc = _finite("distance_pc", distance_pc)
        if distance_pc <= 0:
            raise ValueError("distance_pc must be positive")
        modulus = 5 * math.log10(distance_pc / 10)

    rng = np.random.default_rng(seed)
    z, amplitude = predict_latents(model, info, request.values, request.band, regressor, n_samples, rng)
    if latent is not None:
        z = np.broadcast_to(np.asarray(latent, dtype=float).reshape(1, -1), z.shape)
    grid = model.decode_grid(z, cls, band=request.band)
    norm, norm_err = periodic_values(grid, phase)
    grid_mean = grid[:, 0].mean(1)
    mag = (norm - grid_mean[:, None]) * amplitude[:, None]
    err = norm_err * amplitude[:, None]
    kind = "relative to mean"
    if request.abs_mag is not None:
        mag += request.abs_mag + modulus
        kind = "apparent" if distance_pc is not None else "absolute"
    if noise:
        mag = mag + rng.standard_normal(mag.shape) * err
    n_obs = phase.size
    latents = {f"z{i}": np.repeat(z[:, i], n_obs) for i in range(z.shape[1])}
    return pd.DataFrame({
        "sample": np.repeat(np.arange(n_samples), n_obs),
        "time": np.tile(times, n_samples), "phase": np.tile(phase, n_samples),
        "mag": mag.ravel(), "mag_err": err.ravel(),
        "band": request.band, "cls": cls, "teff": request.values.get("teff", np.nan),
        "abs_mag": np.nan if request.abs_mag is None else request.abs_mag,
        "period": request.period, "regressor": regressor, "mag_kind": kind,
        "distance_pc": np.nan if distance_pc is None else distance_pc,
        "extrapolation": request.extrapolation, **latents,
    })
