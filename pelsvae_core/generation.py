"""Light curves from physical parameters (Martinez-Palomera et al. 2022, Sect. 4.3), in magnitudes.

class + (Teff, M, P) + band  --density or regressor-->  z, log10 amplitude
z + class + band + phases  --decoder-->  normalised curve  -->  magnitudes

The default, ``"mdn"``, draws z and the amplitude from a conditional density fitted
on the real stars (:mod:`pelsvae_core.physics.density`; ``"kernel"``, the kernel density of
:mod:`pelsvae_core.physics.kernel_density`, alike), told the subtype (mode,
eclipsing morphology) where the class has them: the one asked for, else one drawn
from P(subtype | physics, band) of the real stars (:mod:`pelsvae_core.physics.subtype_model`);
the paper's regressors (linear, rf, mlp) map the physics and a dummy ~ U(0, 1) to
them (Sect. 4.2) and take no subtype. Either
way the amplitude is held to the class's real range in the band, widened by a stated
margin (:meth:`ClassPhysics.amplitude_bounds`); a sample held there says so
(``amplitude_clipped``). The normalised curve (0 = brightest, 1 = faintest) is
scaled by the amplitude around the mean absolute magnitude in the band, plus the distance
modulus when a distance is given. That is M_G (every absolute magnitude here is Gaia G) plus
the star's intrinsic colour in the band, (band - G)_0, from its Teff or its class's period-
colour relation (:func:`pelsvae_core.data.relations.intrinsic_colour`); where no colour can be
derived (eclipsing binaries, a period beyond the relation's stars) the mean is M_G, with a
warning and the reason in ``colour_source``. M_G is the one given, else the class's (and
subtype's) period-luminosity relation measured on the OGLE-III LMC stars
(:meth:`PhysicsMap.period_luminosity`; the OGLE x Gaia DR2 cross-match's, labelled as the
paper's parallax convention, for classes without one), which the density is then told too
where the class responds to M. Survey noise
takes the survey's error-versus-magnitude relation (:mod:`pelsvae_core.physics.noise`)
at each apparent magnitude as the quoted error, and draws noise as large as the real scatter
of the class's curves in that survey; a star fainter than the survey's 5-sigma depth is a
non-detection, reported at that depth (an upper limit) and flagged (``detected``).

Every input is checked by the rules gathered under "Inputs" below, each refusal one
line naming the argument and what it may be; every returned value is finite.
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cadences
from .data.calibration import teff_from_vi0, teff_scale
from .data.relations import class_period_note, intrinsic_colour, outside_class_periods, period_colour
from .data.subtypes import SUBTYPES, UNKNOWN
from .model.decoder import Decoder, periodic_values
from .photometry import checked_abs_mag, checked_distance, distance_modulus, intensity_mean
from .physics.classes import MIN_CURVES_WITH_SUBTYPE, ClassPhysics
from .physics.mapping import PhysicsMap
from .physics.reference import ClassReference

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


# -- Inputs: what generation accepts ---------------------------------------------------------

#: How far outside a class's training range (in range widths) a parameter may go before it is refused.
MAX_EXTRAPOLATION = 1.0
#: The most curves one call draws, and the most rows (curves x observations) it returns: 10,000
#: curves at the default 200 phases, a table of about 0.4 GB. Larger populations are what
#: ``pelsvae simulate`` writes, shard by shard in bounded memory.
MAX_SAMPLES = 10_000
MAX_ROWS = MAX_SAMPLES * DEFAULT_PHASES
#: The faintest mean apparent magnitude generated. The deepest images ever taken reach point
#: sources of about 30-31 mag at 5 sigma (the Hubble eXtreme Deep Field; Illingworth et al. 2013,
#: ApJS 209, 6); 40 mag, 4,000 times fainter still, refuses only distances that put a star
#: beyond anything observable (1e30 pc gave 145 mag).
FAINT_LIMIT_MAG = 40.0
#: How a parameter is named to the user.
LABELS = {"teff": "teff", "abs_mag": "abs_mag", "log_period": "period"}


def _finite(name: str, value) -> float:
    """A finite real number: ``True`` is not 1 and ``"5"`` is not 5."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value}")
    return value


def _widths_outside(value: float, bounds: tuple[float, float]) -> float:
    """How far ``value`` lies outside ``bounds``, in range widths (0 inside)."""
    lo, hi = bounds
    return max(lo - value, value - hi, 0.0) / max(hi - lo, 1e-6)


def _within_range(name: str, value: float, bounds: tuple[float, float], where: str) -> float:
    """How far ``value`` lies outside ``bounds`` in range widths; beyond :data:`MAX_EXTRAPOLATION`
    an error naming the parameter and the range (``where``: whose range it is)."""
    lo, hi = bounds
    outside = _widths_outside(value, bounds)
    if outside > MAX_EXTRAPOLATION:
        shown = (lambda v: f"{10**v:.4g} d") if name == "log_period" else (lambda v: f"{v:.4g}")
        raise ValueError(f"{LABELS[name]}={shown(value)} is far outside {where} "
                         f"{shown(lo)} to {shown(hi)}")
    return outside


def validate(info: ClassPhysics, teff, abs_mag, period, band: str | None,
             reference: ClassReference | None = None) -> Request:
    """Check inputs against what the class knows; measure extrapolation beyond its training range.
    A period outside the class's limits (:func:`.data.relations.outside_class_periods`, e.g. a
    type II Cepheid under 1 d) is a warning: the physics fit leaves out the survey stars
    labelled so (:mod:`.physics.latent_fit`), whose label or period is doubtful. A given
    ``abs_mag`` of a class trained without M must be a star's (:func:`.photometry.
    checked_abs_mag`) and is a warning far outside its stars in the OGLE x Gaia DR2 cross-match
    (``reference``); a ``teff`` the class does not respond to is a warning."""
    period = _finite("period", period)
    if period <= 0:
        raise ValueError(f"period must be positive (days), not {period}")
    if outside_class_periods(info.cls, period)[0]:
        warnings.warn(f"a {info.cls} at P = {period:g} d is outside the class's periods in the "
                      f"OGLE-III catalogue, {class_period_note(info.cls)}: no such star is known "
                      "there, and the model's physics map has none")
    given = {"teff": None if teff is None else _finite("teff", teff),
             "abs_mag": None if abs_mag is None else _finite("abs_mag", abs_mag),
             "log_period": math.log10(period)}
    values, worst = {}, 0.0
    for name in info.parameters:
        value = info.typical[name] if given[name] is None else given[name]
        worst = max(worst, _within_range(name, value, info.ranges[name],
                                         f"the {info.cls} training range"))
        values[name] = value
    if given["teff"] is not None and "teff" not in info.parameters:
        uses = ", ".join(LABELS[name] for name in info.parameters)
        warnings.warn(f"{info.cls} does not respond to teff (its curves depend on {uses} only); "
                      f"teff={given['teff']:g} is ignored")
    if given["abs_mag"] is not None and "abs_mag" not in info.parameters:
        _warn_outside_reference(info.cls, checked_abs_mag(given["abs_mag"]), reference)
    band = band or info.bands[0]
    if band not in info.bands:
        raise ValueError(f"{info.cls} was trained in band(s) {', '.join(info.bands)}, not {band!r}")
    return Request(info.cls, values, period, values.get("abs_mag", given["abs_mag"]), band, worst)


def check_subtype(info: ClassPhysics, regressor: str, subtype) -> str | None:
    """``subtype`` None (drawn where the class has subtypes), or one of the class's subtypes,
    which only the conditional densities ("mdn", "kernel") are told."""
    if subtype is None:
        return None
    if not isinstance(subtype, str):
        raise ValueError(f"subtype must be a name such as 'RRc', not {subtype!r}")
    if not info.subtypes:
        why = (f"this model's {info.cls} density is told no subtype (it was fitted before subtypes, "
               f"or fewer than two have {MIN_CURVES_WITH_SUBTYPE} training curves; "
               "`pelsvae fit-regressors` refits it)" if SUBTYPES.get(info.cls)
               else f"{info.cls} has no subtypes")
        raise ValueError(f"subtype={subtype!r}: {why}; leave subtype out")
    if subtype not in info.subtypes:
        raise ValueError(f"unknown {info.cls} subtype {subtype!r}; choose from {', '.join(info.subtypes)}")
    if not info.takes_subtype(regressor):
        raise ValueError(f"subtype={subtype!r} needs a conditional density, regressor 'mdn' or "
                         f"'kernel'; the paper's {regressor!r} regressor takes no subtype")
    return subtype


def _warn_outside_reference(cls: str, abs_mag: float, reference: ClassReference | None) -> None:
    """A given mean absolute magnitude of a class trained without M is used as given (it sets
    only the mean), with a warning where it lies far outside the class's stars in the OGLE x
    Gaia DR2 cross-match: their M_G has no extinction correction (:mod:`.physics.reference`),
    so a right value can lie outside (anomalous Cepheids are near M ~ -1, their cross-match
    range 3.4 to 5.9), and a wrong one is the user's to see."""
    if reference is None or "abs_mag" not in reference.ranges:
        return
    lo, hi = reference.ranges["abs_mag"]
    if _widths_outside(abs_mag, (lo, hi)) > MAX_EXTRAPOLATION:
        warnings.warn(f"abs_mag={abs_mag:g} is far outside the {cls} stars of the OGLE x Gaia DR2 "
                      f"cross-match ({lo:.3g} to {hi:.3g}, M_G without extinction correction); "
                      "used as given")


def _latent(latent, latent_dim: int) -> np.ndarray | None:
    """The vector ``latent`` to decode instead of the regressor's, (latent_dim,) finite numbers."""
    if latent is None:
        return None
    vector = cadences.checked_series("latent values", latent)
    if vector.size != latent_dim:
        raise ValueError(f"latent must have {latent_dim} values (the model's latent dimensions), "
                         f"not {vector.size}")
    return vector


def observation_phases(period: float, times=None, phases=None, cadence=None, epoch: float = 0.0,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(times, phases) from exactly one of times, phases or a cadence (preset name, or a dict with
    ``name`` and changed numbers); phases only: times are NaN. Default: 200 uniform phases.
    Times and phases are one number or a 1-D sequence (:func:`cadences.checked_series`)."""
    chosen = [x is not None for x in (times, phases, cadence)]
    if sum(chosen) > 1:
        raise ValueError("give at most one of times, phases and cadence")
    epoch = _finite("epoch", epoch)
    if cadence is not None:
        times = cadences.times_for(cadence, seed)
    if times is not None:
        times = cadences.checked_times(times)
        with np.errstate(over="ignore", invalid="ignore"):
            phases = np.mod((times - epoch) / period, 1.0)
        if not np.isfinite(phases).all():
            raise ValueError(f"epoch={epoch:g} is too far from the observation times to fold them")
        return times, phases
    if phases is None:
        phases = np.linspace(0.0, 1.0, DEFAULT_PHASES, endpoint=False)
    phases = cadences.checked_series("phases", phases)
    return np.full(phases.size, np.nan), phases


def _check_samples(n_samples, seed) -> tuple[int, int]:
    """``n_samples`` a whole number from 1 to :data:`MAX_SAMPLES`; ``seed`` a whole number >= 0
    (None is refused: the same seed must give the same curves, noise included)."""
    return (cadences.checked_number("n_samples", n_samples, 1, MAX_SAMPLES, whole=True),
            cadences.checked_number("seed", seed, 0, math.inf, whole=True))


def _check_rows(n_samples: int, n_observations: int) -> None:
    """Refuse more than :data:`MAX_ROWS` magnitudes (curves x observations) in one call."""
    rows = n_samples * n_observations
    if rows > MAX_ROWS:
        raise ValueError(f"n_samples x observations = {n_samples} x {n_observations} = {rows} rows; "
                         f"at most {MAX_ROWS} per call (pelsvae simulate writes larger populations)")


def _distance_modulus(distance_pc, abs_mag: float | None, band: str) -> float:
    """The distance modulus (:func:`.photometry.distance_modulus`) of a checked distance
    (:func:`.photometry.checked_distance`) that leaves a star of mean absolute magnitude
    ``abs_mag`` in ``band`` no fainter than :data:`FAINT_LIMIT_MAG`."""
    distance_pc = checked_distance(distance_pc)
    modulus = float(distance_modulus(distance_pc))
    if abs_mag is not None and abs_mag + modulus > FAINT_LIMIT_MAG:
        farthest = 10 ** ((FAINT_LIMIT_MAG - abs_mag) / 5 + 1)
        raise ValueError(f"distance_pc={distance_pc:g} puts the star at mean magnitude "
                         f"{abs_mag + modulus:.1f}, fainter than {FAINT_LIMIT_MAG:g}, beyond anything "
                         f"observable; at most {farthest:.3g} pc at mean absolute {band} magnitude "
                         f"{abs_mag:.3g}")
    return modulus


# -- Generation ------------------------------------------------------------------------------

def choose_subtypes(physics: PhysicsMap, info: ClassPhysics, regressor: str, inputs, given,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each star's subtype and its source, (n,) each: ``given`` (n,) where it names one of the
    class's subtypes ("given"), else drawn from P(subtype | physics, band) at the regressor
    inputs ``inputs`` (one (n, p) array per band the stars are drawn in; their probabilities
    averaged) ("drawn"). Where ``regressor`` is told no subtype (the paper's kinds, classes and
    folders without subtypes) the given labels are kept and the source is "none". Draws come
    from a stream spawned off ``rng`` (``Generator.spawn``), which leaves ``rng``'s own numbers,
    the latent draws, as they would be without subtypes."""
    given = np.asarray(given, dtype=str)
    if not info.takes_subtype(regressor):
        return given, np.full(len(given), "none")
    for label in set(given.tolist()) - set(info.subtypes) - {UNKNOWN}:
        check_subtype(info, regressor, label)
    known = np.isin(given, info.subtypes)
    if not known.all():
        model = physics.subtype_model(info.cls)
        if model is None or model.n_subtypes != len(info.subtypes):
            raise ValueError(f"the model's {info.cls} density has subtypes {', '.join(info.subtypes)} "
                             "but no matching subtype model; run `pelsvae fit-regressors`")
        drawn = np.array(info.subtypes)[model.draw(inputs, rng.spawn(1)[0])]
        given = np.where(known, given, drawn)
    return given, np.where(known, "given", "drawn")


def sample_targets(physics: PhysicsMap, info: ClassPhysics, values: dict[str, float], band: str,
                   regressor: str, n_samples: int, rng: np.random.Generator, subtype: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Latent vectors (n_samples, d), amplitudes (magnitudes), whether each amplitude was held
    to the class's bounds, and each sample's subtype and its source (:func:`choose_subtypes`),
    for one physical vector: draws from the density given the subtype, or the paper's
    regressor at a dummy ~ U(0, 1) per sample (Sect. 4.2)."""
    physics_rows = np.tile([values[p] for p in info.parameters], (n_samples, 1))
    bands = [band] * n_samples
    subtypes, source = choose_subtypes(physics, info, regressor, [info.regressor_inputs(physics_rows, bands)],
                                       np.full(n_samples, subtype or UNKNOWN), rng)
    inputs = info.inputs(regressor, physics_rows, bands, subtypes)
    out = physics.predictor(info.cls, regressor).sample(inputs, rng)
    low, high = info.amplitude_bounds(band)
    log_amplitude = np.clip(out[:, -1], low, high)
    return out[:, :-1], 10 ** log_amplitude, log_amplitude != out[:, -1], subtypes, source


def predict_latents(physics: PhysicsMap, info: ClassPhysics, values: dict[str, float], band: str,
                    regressor: str, n_samples: int, rng: np.random.Generator, subtype: str | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Latent vectors and bounded amplitudes of :func:`sample_targets`, without the flags."""
    return sample_targets(physics, info, values, band, regressor, n_samples, rng, subtype)[:2]


def relative_magnitudes(grid: np.ndarray, amplitude: np.ndarray, phase: np.ndarray,
                        channels=(0,)) -> tuple[np.ndarray, ...]:
    """Per channel of ``channels`` (as :func:`~pelsvae_core.model.decoder.periodic_values`), an
    (n, m) array at ``phase`` ((m,) or (n, m)): channel 0, magnitudes about each curve's
    intensity mean, the normalised curve of ``grid`` (n, 2, G; 0 brightest, 1 faintest) times
    ``amplitude`` (n,), shifted so that its mean flux over the cycle (the decoder's evenly
    spaced grid) is that of magnitude 0; channel 1, the decoder's error in magnitudes. A curve
    placed at M then has M as its intensity-mean magnitude
    (:func:`pelsvae_core.photometry.intensity_mean`), as the training stars' M are; placed at
    its mean magnitude instead, an RRab of 1 mag amplitude would be ~0.05 mag too bright."""
    values = periodic_values(grid, phase, channels=channels)
    scale = amplitude[:, None].astype(values[0].dtype)
    offset = intensity_mean(grid[:, 0] * amplitude[:, None]).astype(values[0].dtype)[:, None]
    return tuple(v * scale - (offset if k == 0 else 0) for k, v in zip(channels, values))


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
    subtype: np.ndarray     # (n_samples,) str: the subtype the density was told, else "unknown"
    subtype_source: np.ndarray  # (n_samples,) "given", "drawn", or "none" (told no subtype)
    grid: np.ndarray        # (n_samples, 2, grid_size) normalised magnitude and error
    abs_mag: float | None
    abs_mag_source: str
    seed: int
    colour: np.ndarray      # (n_samples,) intrinsic (band - G)_0, 0 where none could be derived
    colour_source: np.ndarray  # (n_samples,) str: the relation used, or why there is none
    teff_source: str = ""   # "given", where a default Teff came from, or "" (no Teff used)

    @property
    def mean_abs_mag(self) -> np.ndarray | None:
        """Each sample's intensity-mean absolute magnitude in the band: M_G plus its colour."""
        return None if self.abs_mag is None else self.abs_mag + self.colour

    def magnitudes(self, phase: np.ndarray, distance_pc: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, str]:
        """Noise-free magnitudes and the model's errors, (n_samples, len(phase)) each, and
        what the magnitudes are: absolute, apparent (with ``distance_pc``) or relative to
        the mean (no mean magnitude known)."""
        mean = self.mean_abs_mag
        modulus = 0.0 if distance_pc is None else _distance_modulus(
            distance_pc, None if mean is None else float(mean.max()), self.request.band)
        mag, err = relative_magnitudes(self.grid, self.amplitude, phase, channels=(0, 1))
        if mean is None:
            return mag, err, "relative to mean"
        return mag + (mean + modulus)[:, None], err, "apparent" if distance_pc is not None else "absolute"

    def observation(self, times=None, phases=None, cadence=None, distance_pc: float | None = None,
                    noise: bool | str = False, epoch: float = 0.0) -> "Observation":
        """Every sample observed at the given times (arrays; :meth:`observe` makes the table).
        With noise, a magnitude fainter than the survey's 5-sigma depth m5 (S/N < 5; Ivezić et al.
        2019, eq. 5) is a non-detection: reported at m5, an upper limit, with the error there,
        and flagged (``detected``). Noise is drawn only where its error is about 0.2 mag or less
        (at 10 Mpc it reached +-500 mag). The error reported is the one the survey would quote;
        the noise drawn is as large as the real scatter of the class's curves in that survey
        (:meth:`pelsvae_core.physics.noise.ErrorModel.real_sigma`), which differs from it."""
        times, phase = observation_phases(self.request.period, times, phases, cadence, epoch, self.seed)
        _check_rows(len(self.z), phase.size)
        mag, err, kind = self.magnitudes(phase, distance_pc)
        detected = np.ones(mag.shape, bool)
        error_model = self.physics.error_model(noise, self.request.band)
        if error_model is not None and (self.abs_mag is None or distance_pc is None):
            missing = "abs_mag and distance_pc" if self.abs_mag is None else "distance_pc"
            raise ValueError(f"{error_model.survey} noise depends on the apparent magnitude: "
                             f"give {missing}")
        if error_model is not None:
            detected = mag <= error_model.m5
            seen = np.where(detected, mag, error_model.m5)
            err = error_model.sigma(seen)
            scatter = error_model.real_from_quoted(err, self.request.cls)
            draws = np.random.default_rng([self.seed, NOISE_STREAM]).standard_normal(mag.shape)
            mag = np.where(detected, mag + draws * scatter, error_model.m5)
        return Observation(self, times, phase, mag, err, detected, kind, distance_pc,
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
    detected: np.ndarray    # False: fainter than the survey's 5-sigma depth; mag is that depth
    mag_kind: str           # absolute, apparent or "relative to mean" (the intensity mean)
    distance_pc: float | None
    noise: str              # "none", or the survey and band of the error model

    def detections(self, sample: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, magnitudes and errors of sample ``sample``'s detected epochs: what a survey's
        period search has. An upper limit, reported at the depth, is no measurement of the
        star's brightness, and searched as one it puts a flat floor under the faint half of
        the cycle."""
        seen = self.detected[sample]
        return self.times[seen], self.mag[sample][seen], self.err[sample][seen]

    def table(self) -> pd.DataFrame:
        """One row per sample and observation, with the parameters that made it. Text columns
        are categorical: a few labels repeated over every row (building them as strings took
        most of the time of a 100-curve call), their dtypes made once per set of labels. The
        latent vector's columns are built as one block, already in pandas' layout (column by
        column, they took 12 ms of a 100-curve call)."""
        star, request = self.draw, self.draw.request
        n_samples, n_obs = self.mag.shape
        n_rows = n_samples * n_obs

        def per_sample(labels) -> pd.Categorical:
            categories, codes = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
            return pd.Categorical.from_codes(np.repeat(codes, n_obs), dtype=_labels(*categories),
                                             validate=False)

        def constant(label: str) -> pd.Categorical:
            return pd.Categorical.from_codes(np.zeros(n_rows, dtype=np.int8), dtype=_labels(label),
                                             validate=False)

        parameters = pd.DataFrame({
            "sample": np.repeat(np.arange(n_samples), n_obs),
            "time": np.tile(self.times, n_samples), "phase": np.tile(self.phase, n_samples),
            "mag": self.mag.ravel(), "mag_err": self.err.ravel(), "detected": self.detected.ravel(),
            "band": constant(request.band), "cls": constant(request.cls),
            "subtype": per_sample(star.subtype), "subtype_source": per_sample(star.subtype_source),
            "teff": request.values.get("teff", np.nan), "teff_source": constant(star.teff_source),
            "abs_mag": np.nan if star.abs_mag is None else star.abs_mag,
            "abs_mag_source": constant(star.abs_mag_source),
            "colour": np.repeat(star.colour, n_obs), "colour_source": per_sample(star.colour_source),
            "period": request.period, "regressor": constant(star.regressor),
            "mag_kind": constant(self.mag_kind),
            "distance_pc": np.nan if self.distance_pc is None else self.distance_pc,
            "noise": constant(self.noise), "extrapolation": request.extrapolation,
            "amplitude_clipped": np.repeat(star.amplitude_clipped, n_obs),
        })
        # (latent_dim, rows) in C order is the (rows, latent_dim) frame's own block: no copy
        latents = np.repeat(np.asarray(star.z, dtype=float).T, n_obs, axis=1).T
        return pd.concat([parameters, pd.DataFrame(
            latents, columns=[f"z{i}" for i in range(latents.shape[1])])], axis=1)


@functools.lru_cache(maxsize=256)
def _labels(*labels: str) -> pd.CategoricalDtype:
    """The categorical dtype of these labels (validating categories costs more than the codes)."""
    return pd.CategoricalDtype(list(labels))


def draw(decoder: Decoder, physics: PhysicsMap, cls: str, teff=None, abs_mag=None, period=None,
         n_samples: int = 10, regressor: str | None = None, band: str | None = None, seed: int = 0,
         latent=None, subtype: str | None = None, folder=None) -> Draw:
    """Validate the physics and draw ``n_samples`` curves for it (see :meth:`pelsvae_core.Model.draw`);
    ``folder`` names the model in errors."""
    info = physics.class_info(cls, folder)
    regressor = physics.regressor_for(cls, regressor)  # an unknown one fails before any other check
    if period is None:
        raise ValueError("period is required (days)")
    n_samples, seed = _check_samples(n_samples, seed)
    request = validate(info, teff, abs_mag, period, band, physics.references.get(cls))
    latent = _latent(latent, decoder.config.latent_dim)
    subtype = check_subtype(info, regressor, subtype)
    mean_mag, source = request.abs_mag, "given"
    teff_source = "given" if "teff" in info.parameters else ""
    told_abs_mag, defaulted = abs_mag, False
    if abs_mag is None:
        mean_mag, source = _default_abs_mag(physics, info, request)
        if "abs_mag" in info.parameters:
            told_abs_mag, defaulted = mean_mag, True
    if teff is None and "teff" in info.parameters:
        (teff, teff_source), defaulted = _default_teff(info, request.period), True
    if defaulted:   # the density is told the defaults too
        request = validate(info, teff, told_abs_mag, period, band, physics.references.get(cls))
    rng = np.random.default_rng(seed)
    z, amplitude, clipped, subtypes, subtype_source = sample_targets(
        physics, info, request.values, request.band, regressor, n_samples, rng, subtype)
    if latent is not None:
        z = np.broadcast_to(latent, z.shape)
    colour, colour_source = band_colour(info, request.band, request.period, request.values, subtypes)
    return Draw(physics, request, regressor, z, amplitude, clipped, subtypes, subtype_source,
                decoder.decode_grid(z, cls, band=request.band), mean_mag, source, seed,
                colour, colour_source, teff_source)


def _default_abs_mag(physics: PhysicsMap, info: ClassPhysics, request: Request
                     ) -> tuple[float | None, str]:
    """M_G of a star given without one, and its source: the class's period-luminosity relation
    (:meth:`PhysicsMap.period_luminosity`; the class's, not a subtype's, so a drawn and an asked
    subtype see the same physics), held to the training range where the class's model responds
    to M (it can only draw curves there), else the class median."""
    mean_mag, source = physics.period_luminosity(info.cls, request.period)
    if "abs_mag" not in info.parameters:
        return mean_mag, source
    if mean_mag is None:
        return request.abs_mag, "class median"
    lo, hi = info.ranges["abs_mag"]
    if not lo <= mean_mag <= hi:
        mean_mag, source = min(max(mean_mag, lo), hi), f"{source}; held to the training range"
    return mean_mag, source


def _default_teff(info: ClassPhysics, period: float) -> tuple[float, str]:
    """The Teff of a star of ``period`` (days) whose Teff is not given, for a class whose model
    responds to Teff, and where it comes from: the (V - I)_0 of the class's period-colour
    relation (:func:`pelsvae_core.data.relations.period_colour`, OGLE-III LMC stars) through
    the Teff scale the class's training Teff was derived on (:func:`pelsvae_core.data.
    calibration.teff_scale`), held to the training range; as M follows the period-luminosity
    relation (:func:`_default_abs_mag`), so a 10-day Cepheid is not given the class's median
    Teff of its 3-day stars. Where neither gives one, the class median."""
    vi0 = period_colour(info.cls, np.array([math.log10(period)]))
    teff = teff_from_vi0(vi0, scale=teff_scale(info.cls))
    if not teff.ok[0]:
        return info.typical["teff"], f"class median ({teff.reason[0]})"
    lo, hi = info.ranges["teff"]
    value, source = float(teff.value[0]), "period-colour relation, OGLE-III LMC"
    if not lo <= value <= hi:
        value, source = min(max(value, lo), hi), f"{source}; held to the training range"
    return value, source


def band_colour(info: ClassPhysics, band: str, period: float, values: dict[str, float],
                subtypes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample (one per subtype) the intrinsic colour (band - G)_0 of a star of ``period``
    (days) and physics ``values``, and where it comes from: its Teff where the class's model
    responds to Teff, else its class's (and subtype's) period-colour relation; where none can
    be derived, 0 (the mean magnitude is M_G), a warning, and the reason as the source."""
    teff = values.get("teff") if "teff" in info.parameters else None
    found = intrinsic_colour(info.cls, band, np.full(len(subtypes), math.log10(period)), teff, subtypes)
    if not found.ok.all():
        why = sorted(set(found.reason[~found.ok].tolist()))
        warnings.warn(f"no intrinsic {band} - G colour for this {info.cls}: {'; '.join(why)}; "
                      f"its mean {band} magnitude is M_G")
    source = np.where(found.ok, found.source, "none: " + found.reason.astype(str) + "; the mean is M_G")
    return np.nan_to_num(found.value, nan=0.0), source
