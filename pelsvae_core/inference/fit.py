"""The decoder as likelihood: one class, one candidate period, the best latent curve.

The model of band b's magnitudes (as :meth:`pelsvae_core.generation.Draw.magnitudes`
makes them) is

    m_i = A_b * (g_b(phi_i) - mean(g_b)) + m0_b,    phi_i = f * (t_i - t_ref) + phi0,

with g_b the decoder's normalised grid for the latent block z_b (0 = brightest, read by
linear interpolation, :func:`interpolate`), A_b the amplitude scale and m0_b the
phase-averaged mean magnitude. Errors are the quoted ones plus a per-band jitter tau_b
added in quadrature (:func:`.periods.jitter`). The fit's prior over the latent blocks is the
class's Gaussian (:class:`.reference.ClassReference`); the evidence's is the class's kernel
density of latent and period (:meth:`.reference.ClassReference.log_class_prior`).

:func:`scan` tries every k-means centre of the class at every phase offset with the
amplitude and mean solved in closed form (weighted linear least squares, A >= 0);
:func:`refine` then fits all parameters at once with ``scipy.optimize.least_squares``
(trust-region reflective; Branch, Coleman & Li 1999) from the best centre, the decoder's
latent derivatives by forward differences of one batched decode. Its result carries the
Laplace approximation of the evidence (MacKay 2003, *Information Theory, Inference, and
Learning Algorithms*, chs. 27-28): the log posterior at the optimum plus
(k/2) log 2 pi - (1/2) log det(J^T J), J the Jacobian of the whitened residuals (prior rows
included), k the number of parameters, taken with the Gaussian latent prior and a flat prior
in log period, then carried over to the class's kernel prior of latent and period by
:meth:`.reference.ClassReference.log_class_prior` (the expectation of the prior ratio under
the Laplace posterior).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

from ..photometry import intensity_mean
from ..physics.classes import PHYSICAL_LOG_AMPLITUDE
from .observed import Observed
from .periods import jitter, log_likelihood
from .reference import CLASS_KERNEL_SCALE, ClassReference

#: Forward-difference step of the latent derivatives (latent units; the class spreads span ~1).
LATENT_STEP = 3e-3
#: Phase offsets tried by :func:`scan`: every ``SCAN_STRIDE``-th grid phase.
SCAN_STRIDE = 4
#: Width (mag) of the uniform prior on each band's mean magnitude: the same for every
#: candidate, so it cancels between them; stated so that the evidence is proper.
MEAN_MAG_PRIOR_WIDTH = 40.0
#: The amplitude prior is log-uniform over the physical range of :mod:`..physics.classes`.
LOG_AMPLITUDE_RANGE = PHYSICAL_LOG_AMPLITUDE
#: Jitter updates (each followed by a refit) in :func:`refine`.
JITTER_ROUNDS = 2
#: Function evaluations per least-squares run.
MAX_EVALUATIONS = 40
#: :func:`o_minus_c`: the fewest points of a chunk per parameter it fits (its phase shift and
#: each band's mean), the fewest chunks that make an O-C diagram, and the gap (days) that ends
#: an observing season.
CHUNK_POINTS_PER_PARAMETER = 10
MIN_CHUNKS = 4
SEASON_GAP_DAYS = 60.0


def interpolate(grid: np.ndarray, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and slopes (per unit phase) of periodic grids (..., G) linearly interpolated at
    ``phase`` (any shape), as the decoder reads its own grid: shaped (..., *phase.shape)."""
    size = grid.shape[-1]
    position = np.mod(phase, 1.0) * size
    left = np.floor(position).astype(np.intp) % size
    weight = position - np.floor(position)
    low, high = grid[..., left], grid[..., (left + 1) % size]
    return low + (high - low) * weight, (high - low) * size


def _amplitude_and_mean(u: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Weighted least squares of y = A u + m0 along the last axis with A >= 0: A, m0, chi2."""
    sw, su, sy = w.sum(), u @ w, y @ w
    suu, suy, syy = (u * u) @ w, u @ (w * y), float(w @ (y * y))
    det = sw * suu - su**2
    a = np.where(det > 0, (sw * suy - su * sy) / np.where(det > 0, det, 1), 0.0)
    a = np.maximum(a, 0.0)
    m0 = (sy - a * su) / sw
    chi2 = syy - 2 * a * suy - 2 * m0 * sy + a * a * suu + 2 * a * m0 * su + m0 * m0 * sw
    return a, m0, chi2


@dataclass
class Start:
    """The best centre and phase of :func:`scan`, with each band's amplitude and mean, and its
    log-likelihood with each band's jitter fitted (comparable between candidates)."""

    z: np.ndarray
    phase: float
    amplitude: np.ndarray
    mean_mag: np.ndarray
    log_likelihood: float


def scan(obs: Observed, grids: np.ndarray, centres: np.ndarray, f: float, t_ref: float,
         taus: np.ndarray) -> Start:
    """Every centre (grids (k, bands, G)) at every :data:`SCAN_STRIDE`-th phase offset, the
    amplitude and mean of each band solved in closed form; the lowest chi-square (errors with
    the ``taus`` of the candidate's ranking fit) wins."""
    size = grids.shape[-1]
    offsets = np.arange(0, size, SCAN_STRIDE) / size
    total = 0.0
    per_band = []
    for b, band in enumerate(obs.bands):
        m = obs.in_band(band)
        phase = (obs.time[m] - t_ref) * f
        values, _ = interpolate(grids[:, b], phase[None, :] + offsets[:, None])
        u = values - grids[:, b].mean(-1)[:, None, None]
        w = 1 / (obs.err[m] ** 2 + taus[b] ** 2)
        a, m0, chi2 = _amplitude_and_mean(u, obs.mag[m], w)
        per_band.append((a, m0))
        total = total + chi2
    k, j = np.unravel_index(int(np.argmin(total)), total.shape)
    amplitude = np.array([a[k, j] for a, _ in per_band])
    mean_mag = np.array([m0[k, j] for _, m0 in per_band])
    log_like = 0.0
    for b, band in enumerate(obs.bands):
        m = obs.in_band(band)
        values, _ = interpolate(grids[k, b], (obs.time[m] - t_ref) * f + offsets[j])
        residual = obs.mag[m] - amplitude[b] * (values - grids[k, b].mean()) - mean_mag[b]
        log_like += log_likelihood(residual, obs.err[m], jitter(residual, obs.err[m], 2))
    return Start(centres[k], float(offsets[j]), amplitude, mean_mag, log_like)



@dataclass(frozen=True)
class OMinusC:
    """A fit's O-C diagram (:func:`o_minus_c`): per observing season, the shift of its phase
    against the fit's, with its error, at the season's mean time (weighted as the shift is);
    from them the frequency's uncertainty and how likely a constant period leaves the shifts as
    scattered about a line as they are. O - C in days is ``-shift / frequency``: a season whose
    phase runs ahead reaches each feature of the curve early."""

    time: np.ndarray            # (seasons,) days
    shift: np.ndarray           # (seasons,) cycles
    error: np.ndarray           # (seasons,) cycles, 1 sigma
    frequency_sigma: float      # cycles / day; 0 without a diagram
    constant_period_p: float    # NaN without a diagram
    seasonal: bool = True       # the chunks are observing seasons, else runs of points

    @property
    def seasons(self) -> int:
        """How many chunks (observing seasons, or runs of points: :attr:`chunk_name`)."""
        return int(self.shift.size)

    @property
    def chunk_name(self) -> str:
        return "seasons" if self.seasonal else "runs of points"

    def days(self, frequency: float) -> tuple[np.ndarray, np.ndarray]:
        """O - C and its error in days, at the fit's ``frequency`` (cycles/day)."""
        return -self.shift / frequency, self.error / frequency


#: What a curve of fewer than :data:`MIN_CHUNKS` chunks has: no O-C diagram; and why, in words.
NO_DIAGRAM = OMinusC(np.empty(0), np.empty(0), np.empty(0), 0.0, math.nan)
NO_DIAGRAM_REASON = f"fewer than {MIN_CHUNKS} observing seasons or runs of points"


@dataclass
class Fit:
    """A converged fit of one class at one candidate period (see the module docstring)."""

    cls: str
    bands: tuple[str, ...]
    z: np.ndarray              # (len(bands) * d,)
    frequency: float           # cycles / day
    phase: float               # phi0, at t_ref
    t_ref: float
    amplitude: np.ndarray      # (bands,) A_b, mag per normalised unit
    mean_mag: np.ndarray       # (bands,) m0_b
    jitter: np.ndarray         # (bands,) tau_b, mag
    covariance: np.ndarray     # of every parameter, in :meth:`Problem.unpack` order, times beta^2
    log_evidence: float
    grids: np.ndarray          # (bands, G) decoded at z
    beta: float                # correlated-noise factor of the residuals (>= 1), in the covariance
    log_class_prior: float     # the class's prior of latent and period, part of log_evidence
    o_c: OMinusC = NO_DIAGRAM  # its O-C diagram (:func:`o_minus_c`)

    @property
    def period(self) -> float:
        return 1 / self.frequency

    @property
    def n_parameters(self) -> int:
        """Latent vector, frequency, phase, and each band's amplitude and mean (the covariance's
        size)."""
        return int(self.covariance.shape[0])

    @property
    def own_frequency_sigma(self) -> float:
        """The frequency's uncertainty from the fit alone (its covariance, times beta)."""
        d = self.z.size
        return float(math.sqrt(max(self.covariance[d, d], 0.0)))

    @property
    def timing_sigma(self) -> float:
        """The frequency's uncertainty from the O-C diagram (0 without one)."""
        return self.o_c.frequency_sigma

    @property
    def constant_period_p(self) -> float:
        """How likely a constant period leaves the O-C diagram as scattered (NaN without one)."""
        return self.o_c.constant_period_p

    @property
    def frequency_sigma(self) -> float:
        """The larger of the fit's own uncertainty and the O-C diagram's (:func:`o_minus_c`):
        phase wander that the residuals' correlation cannot show."""
        return max(self.own_frequency_sigma, self.timing_sigma)

    def z_covariance(self) -> np.ndarray:
        d = self.z.size
        return self.covariance[:d, :d]

    def intensity_mean_mag(self) -> np.ndarray:
        """Each band's intensity-mean magnitude of the fitted curve
        (:func:`pelsvae_core.photometry.intensity_mean`): m0_b, the mean of its magnitudes, moved
        to the magnitude of its mean flux, the mean an absolute magnitude refers to."""
        shape = self.amplitude[:, None] * (self.grids - self.grids.mean(1, keepdims=True))
        return self.mean_mag + intensity_mean(shape)

    def mean_mag_sigma(self) -> np.ndarray:
        n = len(self.bands)
        return np.sqrt(np.clip(np.diag(self.covariance)[-n:], 0, None))

    def with_class_prior(self, reference: ClassReference, scale: float) -> "Fit":
        """This fit with its evidence under the class prior of latent kernel ``scale``
        (:func:`class_prior`; for choosing the scale, ``benchmarks/posterior_shares.py``)."""
        log_class_prior = class_prior(reference, self.z, self.frequency, self.covariance / self.beta**2,
                                      scale)
        return replace(self, log_evidence=self.log_evidence - self.log_class_prior + log_class_prior,
                       log_class_prior=log_class_prior)

    def magnitudes(self, times: np.ndarray, band_index: int) -> np.ndarray:
        """The fitted curve of band ``bands[band_index]`` at ``times`` (days)."""
        phase = self.frequency * (np.asarray(times, float) - self.t_ref) + self.phase
        g = self.grids[band_index]
        values, _ = interpolate(g, phase)
        return self.amplitude[band_index] * (values - g.mean()) + self.mean_mag[band_index]


class Problem:
    """The least-squares problem of one class at one candidate frequency (module docstring)."""

    def __init__(self, obs: Observed, reference: ClassReference, decoder, f0: float, t_ref: float):
        self.obs, self.reference, self.decoder = obs, reference, decoder
        self.t_ref, self.d, self.nb = t_ref, reference.latent_dim, len(obs.bands)
        self.masks = [obs.in_band(b) for b in obs.bands]
        half = 0.5 / obs.baseline  # stay on this alias: half a peak width either side
        self.f_bounds = (max(f0 - half, 1e-9), f0 + half)
        self.taus = np.zeros(self.nb)
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def unpack(self, theta: np.ndarray):
        n, nb = self.d * self.nb, self.nb
        return (theta[:n], theta[n], theta[n + 1], theta[n + 2:n + 2 + nb], theta[n + 2 + nb:])

    def grids(self, z: np.ndarray, step: bool = False) -> np.ndarray:
        """Decoded grids (bands, 1 [+ d], G): at z, and with ``step`` at z + h e_j for each j
        (the grids at z are kept, so the Jacobian after a residual decodes only the steps)."""
        if self._last is not None and np.array_equal(self._last[0], z):
            base = self._last[1]
        else:
            base = np.asarray([self.decoder.decode_grid(z[b * self.d:(b + 1) * self.d], self.reference.cls,
                                                        band)[:, 0] for b, band in enumerate(self.obs.bands)],
                              dtype=np.float64)
            self._last = (z.copy(), base)
        if not step:
            return base
        out = []
        for b, band in enumerate(self.obs.bands):
            zb = z[b * self.d:(b + 1) * self.d]
            steps = self.decoder.decode_grid(zb + LATENT_STEP * np.eye(self.d), self.reference.cls, band)
            out.append(np.vstack([base[b], steps[:, 0]]))
        return np.asarray(out, dtype=np.float64)

    def _sigma(self) -> np.ndarray:
        s = np.empty(len(self.obs))
        for b, m in enumerate(self.masks):
            s[m] = np.sqrt(self.obs.err[m] ** 2 + self.taus[b] ** 2)
        return s

    def model(self, theta: np.ndarray, grids: np.ndarray) -> tuple[np.ndarray, ...]:
        """Model magnitudes, the centred decoded values u and the slopes dg/dphi per point."""
        z, f, phi, amp, mean = self.unpack(theta)
        y, u, slope = (np.empty(len(self.obs)) for _ in range(3))
        for b, m in enumerate(self.masks):
            g = grids[b, 0]
            values, slopes = interpolate(g, f * (self.obs.time[m] - self.t_ref) + phi)
            u[m], slope[m] = values - g.mean(), slopes
            y[m] = amp[b] * u[m] + mean[b]
        return y, u, slope

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """Whitened data residuals, then the prior's rows L^T (z - mean)."""
        z = self.unpack(theta)[0]
        y, _, _ = self.model(theta, self.grids(z))
        prior = self.reference.prior_root.T @ (z - self.reference.prior_mean)
        return np.concatenate([(self.obs.mag - y) / self._sigma(), prior])

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """d residuals / d theta: latent columns by forward differences, the rest analytic."""
        z, f, phi, amp, _ = self.unpack(theta)
        grids = self.grids(z, step=True)
        _, u, slope = self.model(theta, grids)
        s = self._sigma()
        n, nz = len(self.obs), self.d * self.nb
        jac = np.zeros((n + nz, theta.size))
        dt = self.obs.time - self.t_ref
        for b, m in enumerate(self.masks):
            rows = np.flatnonzero(m)
            stepped, _ = interpolate(grids[b, 1:], f * dt[m] + phi)
            du = (stepped - grids[b, 1:].mean(-1)[:, None] - u[m][None, :]) / LATENT_STEP
            jac[rows[:, None], b * self.d + np.arange(self.d)[None, :]] = -amp[b] * du.T / s[m, None]
            jac[rows, nz] = -amp[b] * slope[m] * dt[m] / s[m]
            jac[rows, nz + 1] = -amp[b] * slope[m] / s[m]
            jac[rows, nz + 2 + b] = -u[m] / s[m]
            jac[rows, nz + 2 + self.nb + b] = -1 / s[m]
        jac[n:, :nz] = self.reference.prior_root.T
        return jac

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        nz, nb = self.d * self.nb, self.nb
        lo = np.concatenate([np.full(nz, -np.inf), [self.f_bounds[0], -np.inf],
                             np.full(nb, 10 ** LOG_AMPLITUDE_RANGE[0]), np.full(nb, -np.inf)])
        hi = np.concatenate([np.full(nz, np.inf), [self.f_bounds[1], np.inf],
                             np.full(nb, 10 ** LOG_AMPLITUDE_RANGE[1]), np.full(nb, np.inf)])
        return lo, hi

    def log_evidence(self, theta: np.ndarray, jac: np.ndarray, residuals: np.ndarray) -> float:
        """The Laplace approximation (module docstring) with the latent Gaussian, a flat prior
        in log period (per unit log10 P), log-uniform amplitudes, uniform phase and means."""
        z, f, _, amp, _ = self.unpack(theta)
        n = len(self.obs)
        log_like = float(-0.5 * residuals[:n] @ residuals[:n] - np.log(self._sigma()).sum()
                         - 0.5 * n * math.log(2 * math.pi))
        log_prior = (self.reference.log_prior_z(z) - math.log(f * math.log(10))
                     - float(np.sum(np.log(amp * math.log(10) * np.ptp(LOG_AMPLITUDE_RANGE))))
                     - self.nb * math.log(MEAN_MAG_PRIOR_WIDTH))
        sign, logdet = np.linalg.slogdet(jac.T @ jac)
        volume = 0.5 * theta.size * math.log(2 * math.pi) - 0.5 * logdet if sign > 0 else -np.inf
        return log_like + log_prior + volume


def refine(obs: Observed, reference: ClassReference, decoder, f0: float, t_ref: float,
           start: Start, taus: np.ndarray) -> Fit:
    """Least squares over every parameter from ``start``, the jitter re-estimated between
    :data:`JITTER_ROUNDS` runs; the :class:`Fit` with its covariance and Laplace evidence."""
    problem = Problem(obs, reference, decoder, f0, t_ref)
    problem.taus = np.asarray(taus, float).copy()
    theta = np.concatenate([start.z, [f0, start.phase], np.maximum(start.amplitude, 1e-3),
                            start.mean_mag])
    lo, hi = problem.bounds()
    for round_ in range(JITTER_ROUNDS + 1):
        result = optimize.least_squares(problem.residuals, np.clip(theta, lo, hi), problem.jacobian,
                                        bounds=(lo, hi), method="trf", x_scale="jac",
                                        max_nfev=MAX_EVALUATIONS)
        theta = result.x
        if round_ == JITTER_ROUNDS:
            break
        y, _, _ = problem.model(theta, problem.grids(problem.unpack(theta)[0]))
        share = theta.size / len(obs)
        problem.taus = np.array([jitter(obs.mag[m] - y[m], obs.err[m], share * m.sum())
                                 for m in problem.masks])
    jac = problem.jacobian(theta)
    residuals = problem.residuals(theta)
    z, f, phi, amp, mean = problem.unpack(theta)
    data = residuals[:len(obs)]
    beta = max(correlated_noise_factor(data[np.argsort(np.mod(f * (obs.time - t_ref) + phi, 1.0))]),
               correlated_noise_factor(data))
    covariance = np.linalg.pinv(jac.T @ jac)
    log_class_prior = class_prior(reference, z, float(f), covariance)
    _, _, phase_column, _, mean_columns = problem.unpack(np.arange(theta.size))
    o_c = o_minus_c(obs.time, data, jac[:len(obs), phase_column], jac[:len(obs), mean_columns])
    return Fit(reference.cls, obs.bands, z, float(f), float(np.mod(phi, 1.0)), t_ref, amp, mean,
               problem.taus, beta**2 * covariance,
               problem.log_evidence(theta, jac, residuals) + log_class_prior, problem.grids(z)[:, 0],
               beta, log_class_prior, o_c)


def o_minus_c(time: np.ndarray, residual: np.ndarray, d_phase: np.ndarray,
              d_means: np.ndarray) -> OMinusC:
    """The fit's O-C diagram (Sterken 2005, ASP Conf. Ser. 335, 3) with the frequency's
    uncertainty (cycles/day) from it and the probability that a constant period scatters the
    shifts about their line as widely as they are (the chi^2 survival function with n - 2
    degrees of freedom); :data:`NO_DIAGRAM` with fewer than :data:`MIN_CHUNKS` chunks. Each
    chunk's phase shift is found by linear least squares on the whitened residuals (``d_phase``: their derivative
    with respect to the phase; ``d_means``: to each band's mean, which every chunk fits too,
    so that zero points drifting between seasons are not read as timing), a line is fitted
    to the shifts against time, and the slope's uncertainty is scaled by sqrt(chi^2 per
    degree of freedom) where the shifts scatter about the line more than their errors allow.

    A phase that wanders (the Blazhko effect, a changing period) moves every point of a chunk
    along the curve, and residuals of a shift along the curve average to nothing over a
    cycle: the time-averaged residuals of :func:`correlated_noise_factor` do not see it. The
    chunks are observing seasons (:func:`observing_seasons`), as in the classical seasonal
    O-C, where a wander of weeks (a Blazhko cycle) averages out. Measured on 20 validation OGLE-IV bulge RR
    Lyrae (the report's section 12 measure, 2026-12-04): the catalogue period inside the
    16-84 % interval for 55 % of them without this, 90 % with chunks of equal point counts,
    100 % with seasons; each curve's two halves within 1 sigma of each other for 25 %, 25 %
    and 30 % (medians 6.1, 3.7 and 2.3 sigma). The OGLE periods come from the same data as
    ours, so their agreement says less than the halves', which still differ by more than
    their intervals allow."""
    bands_seen = d_means[:, np.any(d_means != 0, axis=0)]
    shifts, variances, times = [], [], []
    chunks, seasonal = observing_seasons(time, CHUNK_POINTS_PER_PARAMETER * (1 + bands_seen.shape[1]))
    for part in chunks:
        design = np.column_stack([d_phase[part], bands_seen[part]])
        design = design[:, np.any(design != 0, axis=0)]
        information = design.T @ design
        if not np.any(d_phase[part]) or np.linalg.matrix_rank(information) < design.shape[1]:
            continue
        inverse = np.linalg.inv(information)
        shifts.append(-(inverse @ design.T @ residual[part])[0])
        variances.append(inverse[0, 0])
        weight = d_phase[part] ** 2
        times.append(float(weight @ time[part] / weight.sum()))
    if len(shifts) < MIN_CHUNKS:
        return NO_DIAGRAM
    shifts, w, times = np.array(shifts), 1 / np.array(variances), np.array(times)
    centred = times - (w @ times) / w.sum()
    slope_variance = 1 / (w @ centred**2)
    slope = slope_variance * (w @ (centred * shifts))
    offset = (w @ shifts) / w.sum()
    chi2 = float(w @ (shifts - offset - slope * centred) ** 2)
    dof = len(shifts) - 2
    sigma = math.sqrt(slope_variance * max(1.0, chi2 / dof))
    return OMinusC(times, shifts, np.sqrt(1 / w), float(sigma), float(stats.chi2.sf(chi2, dof)),
                   seasonal)


def observing_seasons(time: np.ndarray, min_points: int) -> tuple[list[np.ndarray], bool]:
    """Indices of the points in time order, cut into observing seasons (gaps over
    :data:`SEASON_GAP_DAYS`), a season of fewer than ``min_points`` points joined to the one
    before; where that leaves fewer than :data:`MIN_CHUNKS`, equal runs of consecutive points
    of ``min_points`` or more (a curve of one or two seasons); and whether they are seasons."""
    order = np.argsort(time)
    seasons = np.split(order, np.flatnonzero(np.diff(time[order]) > SEASON_GAP_DAYS) + 1)
    merged: list[np.ndarray] = []
    for season in seasons:
        if merged and (season.size < min_points or merged[-1].size < min_points):
            merged[-1] = np.concatenate([merged[-1], season])
        else:
            merged.append(season)
    if len(merged) >= MIN_CHUNKS and merged[-1].size >= min_points:
        return merged, True
    runs = time.size // min_points
    return (np.array_split(order, runs) if runs >= MIN_CHUNKS else []), False


def class_prior(reference: ClassReference, z: np.ndarray, f: float, covariance: np.ndarray,
                scale: float = CLASS_KERNEL_SCALE) -> float:
    """:meth:`.reference.ClassReference.log_class_prior` at a fit's latent vector ``z`` and
    frequency ``f`` with its untempered ``covariance`` (:meth:`Problem.unpack` order)."""
    nz = z.size
    return reference.log_class_prior(z, covariance[:nz, :nz], math.log10(1 / f),
                                     covariance[nz, nz] / (f * math.log(10)) ** 2, scale)


def correlated_noise_factor(residual: np.ndarray) -> float:
    """beta >= 1: how much more the means of runs of M consecutive whitened residuals scatter
    than independent noise would let them (1 / sqrt(M), corrected for the number of runs),
    averaged over M = 2, 4, 8, ... up to an eighth of the points: the time-averaging method of
    Pont, Zucker & Queloz (2006, MNRAS 373, 231) as used by Winn et al. (2008, ApJ 683, 1076,
    Sect. 3). A shape the model misses leaves residuals correlated along phase, a drift along
    time; either way the points say less than their number, and uncertainties scale by beta
    (1 below 16 points, too few runs to tell)."""
    n = residual.size
    sizes = 2 ** np.arange(1, int(np.log2(max(n // 8, 1))) + 1)
    if n < 16 or sizes.size == 0:
        return 1.0
    sigma1 = float(np.std(residual))
    ratios = []
    for m in sizes:
        runs = n // m
        means = residual[:runs * m].reshape(runs, m).mean(1)
        expected = sigma1 / math.sqrt(m) * math.sqrt(runs / (runs - 1))
        ratios.append(float(np.std(means)) / expected)
    return max(1.0, float(np.mean(ratios)))
