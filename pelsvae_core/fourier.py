"""Truncated Fourier series of phase-folded light curves.

Convention of the OGLE-III catalogue (Soszynski et al. 2008, AcA 58, 163, eq. 1):
m(phi) = A0 + sum_k A_k cos(2 pi k phi + phi_k), with amplitude ratios
R_k1 = A_k / A_1 and phase differences phi_k1 = phi_k - k phi_1 (mod 2 pi).
"""
from __future__ import annotations

import numpy as np


def design_matrix(phase: np.ndarray, order: int) -> np.ndarray:
    """Columns 1, cos(2 pi k phi), sin(2 pi k phi) for k = 1..order."""
    angle = 2 * np.pi * np.asarray(phase)[..., None] * np.arange(1, order + 1)
    ones = np.ones(angle.shape[:-1] + (1,))
    return np.concatenate([ones, np.cos(angle), np.sin(angle)], axis=-1)


def fit(phase: np.ndarray, mag: np.ndarray, err: np.ndarray | None = None,
        order: int = 4) -> np.ndarray:
    """Weighted least-squares coefficients ``[a0, a_1..a_K (cos), b_1..b_K (sin)]``.

    The order is lowered when there are too few points to constrain it.
    """
    order = max(1, min(order, (len(phase) - 1) // 2 - 1))
    weights = np.ones_like(mag) if err is None else 1.0 / np.asarray(err)
    design = design_matrix(phase, order)
    coeffs, *_ = np.linalg.lstsq(design * weights[:, None], mag * weights, rcond=None)
    return coeffs


def fit_by_bic(phase: np.ndarray, mag: np.ndarray, err: np.ndarray | None = None,
               max_order: int = 8) -> np.ndarray:
    """:func:`fit` at the order, up to ``max_order``, that the points support: the least
    Bayesian information criterion for a Gaussian of unknown variance, n ln(chi^2 / n) + k ln n
    with k = 2K + 1 coefficients (Schwarz 1978, Ann. Stat. 6, 461). The unknown-variance form
    because quoted errors are not the real scatter (OGLE's are too small, Catalina's too
    large: :func:`pelsvae_core.physics.noise.scatter_ratio`), and a chi^2 in them would pick
    high orders wherever the errors are underestimated."""
    weights = np.ones_like(mag, dtype=float) if err is None else 1.0 / np.asarray(err, dtype=float)
    n, best = len(phase), None
    for order in range(1, max(1, min(max_order, (n - 1) // 2 - 1)) + 1):
        coeffs = fit(phase, mag, err, order)
        chi2 = float((((mag - evaluate(coeffs, phase)) * weights) ** 2).sum())
        score = n * np.log(max(chi2, np.finfo(float).tiny) / n) + (2 * order + 1) * np.log(n)
        if best is None or score < best[0]:
            best = (score, coeffs)
    return best[1]


def evaluate(coeffs: np.ndarray, phase: np.ndarray) -> np.ndarray:
    order = (len(coeffs) - 1) // 2
    return design_matrix(phase, order) @ coeffs


#: Phases on which :func:`phase_zero` looks for the extremum (a step of 0.001 in phase).
ZERO_GRID = np.linspace(0.0, 1.0, 1000, endpoint=False)


def phase_zero(coeffs: np.ndarray, binary: bool) -> float:
    """The phase the project calls zero for a fitted series: maximum light (the smallest
    magnitude) of a pulsator, primary minimum (the largest magnitude) of a binary."""
    model = evaluate(coeffs, ZERO_GRID)
    return float(ZERO_GRID[np.argmax(model) if binary else np.argmin(model)])


def amplitudes_phases(coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A_k and phi_k of the cosine form: a cos x + b sin x = A cos(x + phi), A >= 0."""
    order = (len(coeffs) - 1) // 2
    a, b = coeffs[1:order + 1], coeffs[order + 1:]
    return np.hypot(a, b), np.arctan2(-b, a)


def fourier_parameters(coeffs: np.ndarray) -> dict[str, float]:
    """R21, R31, phi21, phi31 (radians in [0, 2 pi)); NaN where the order is too low."""
    amp, ph = amplitudes_phases(coeffs)
    out = {"R21": np.nan, "R31": np.nan, "phi21": np.nan, "phi31": np.nan}
    for k in (2, 3):
        if len(amp) >= k and amp[0] > 0:
            out[f"R{k}1"] = float(amp[k - 1] / amp[0])
            out[f"phi{k}1"] = float(np.mod(ph[k - 1] - k * ph[0], 2 * np.pi))
    return out
