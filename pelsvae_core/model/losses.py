"""The loss of Martinez-Palomera et al. (2022), eq. 4, with each term normalised per light curve.

L = weighted MSE + beta * KL(q(z|x) || N(0, I)) + w * KL(true errors || decoded errors)

(or, for a Fourier decoder, the distance of its series to the curve's own in place of the
weighted MSE: :func:`series_distance`).

Every term is a mean over light curves (and, inside a curve, over its distinct
real observations), so beta keeps the meaning it has in the paper; the original
code divided the KL term by batch size x 10^4, which made it vanish.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossTerms:
    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    error: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in vars(self).items()}


def _masked_curve_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each curve's masked points, then over curves."""
    weights = mask.float()
    return ((values * weights).sum(1) / weights.sum(1).clamp_min(1)).mean()


def weighted_mse(mag, mag_hat, err, mask, floor: float) -> torch.Tensor:
    """First term of eq. 4: squared residuals weighted by 1 / sigma^2 (sigma floored at ``floor``)."""
    return _masked_curve_mean((mag - mag_hat) ** 2 / err.clamp_min(floor) ** 2, mask)


def series_distance(series: torch.Tensor, target: torch.Tensor, floor: float) -> torch.Tensor:
    """Mean over one cycle of the squared difference between two Fourier series (B, 2K + 1),
    ``[a0, a_1..a_K, b_1..b_K]``: (delta a0)^2 + sum_k (delta a_k^2 + delta b_k^2) / 2 (Parseval),
    in units of ``floor``^2 so that it weighs against the KL term like :func:`weighted_mse`; the
    mean over curves. Against each curve's own weighted series (the encoder's input) every phase
    of the cycle counts alike, where the points' MSE counts the phases a survey happened to
    observe and each point's noise: measured to keep more of the curves' detail (README "Capacity")."""
    weights = torch.full_like(series[0], 0.5)
    weights[0] = 1.0
    return (((series - target) ** 2 * weights).sum(1) / floor**2).mean()


def kl_to_unit_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over latent dimensions, averaged over curves
    (Kingma & Welling 2013, Appendix B)."""
    return (0.5 * (logvar.exp() + mu**2 - logvar - 1).sum(1)).mean()


def error_kl(err, err_hat, mask) -> torch.Tensor:
    """Third term of eq. 4: KL(N(0, sigma^2) || N(0, sigma_hat^2)) per point,
    = log(sigma_hat / sigma) + sigma^2 / (2 sigma_hat^2) - 1/2, zero when they agree."""
    ratio = err / err_hat
    return _masked_curve_mean(-torch.log(ratio) + 0.5 * ratio**2 - 0.5, mask)


def vae_loss(mag, mag_hat, err, err_hat, mask, mu, logvar, beta: float, error_weight: float,
             floor: float, reconstruction: torch.Tensor | None = None) -> LossTerms:
    """Eq. 4; ``reconstruction``: the first term when measured otherwise
    (:func:`series_distance`), else the points' :func:`weighted_mse`."""
    if reconstruction is None:
        reconstruction = weighted_mse(mag, mag_hat, err, mask, floor)
    kl = kl_to_unit_gaussian(mu, logvar)
    error = error_kl(err, err_hat, mask)
    return LossTerms(reconstruction + beta * kl + error_weight * error, reconstruction, kl, error)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies across curves (Burda et al. 2016, Sect. 5.2):
    Var_x(E[z|x]) > ``threshold``; a collapsed dimension has variance ~ 0."""
    return int((mu.var(0) > threshold).sum())
