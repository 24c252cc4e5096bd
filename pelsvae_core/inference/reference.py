"""What the model knows about each class, as the prior of inference: its training stars.

For a class and a set of bands, the reference is the model's *training-split* stars of
that class observed in every one of those bands (validation and test stars are left
out, so a test star never meets itself; so are stars whose period lies outside their class's
limits in the OGLE-III catalogue, :func:`pelsvae_core.data.relations.outside_class_periods`,
whose label or period is doubtful): their latent vectors side by side, one block
per band (the encoder's posterior means with Teff and M hidden, as an observed curve is
encoded, from ``model.latents()``: :func:`pelsvae_core.latents.inference_columns`), their
periods and, where known, Teff and subtype. From them:

* a Gaussian prior over the latent blocks (mean and Ledoit–Wolf-shrunk covariance,
  Ledoit & Wolf 2004, J. Multivar. Anal. 88, 365, stable with a handful of stars);
* a kernel density of log10 period (Gaussian kernel, Silverman's rule of thumb for its
  width, Silverman 1986, *Density Estimation*, eq. 3.31), the class's period prior;
* the kernel widths that turn the stars into a smooth joint density of (latent, period,
  physics): a multiple of the latent covariance and of the period bandwidth, the multiples
  chosen by cross-validating the stars' own Teff (:attr:`ClassReference.kernel_scales`);
* the class's prior for the class probabilities (:meth:`ClassReference.log_class_prior`): the
  same stars as a kernel density of (latent, log period), kernels :data:`CLASS_KERNEL_SCALE`
  times the latent covariance and the period bandwidth. A single Gaussian over the latent
  blocks is too coarse a description of a class where the decoder can draw most curves from
  most classes' latent spaces; it then tells classes apart by how far the fit lies from the
  class's mean, not from its stars. Amplitude was tried as a third kernel dimension (each
  star's peak-to-peak as the decoder draws it, Silverman widths per band, against the fit's)
  and measured on the validation split (2026-12-04, 638 curves of OGLE-IV RR Lyrae, LMC
  Cepheids and Catalina stars whole and at 60 / 30 epochs, the same fits rescored): 583
  classes right against 582 without it, the true class's mean log probability -0.371
  against -0.358, the type II Cepheids 32 of 43 either way (their confusion with anomalous
  Cepheids, 9 each way, unchanged) and 3 more Miras taken for type II Cepheids; not kept;
* k-means centres of the latent blocks (Lloyd 1982), decoded once: the starting points
  of the latent fit.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2
from sklearn.covariance import LedoitWolf
from tqdm.auto import tqdm

from ..data.relations import outside_class_periods
from ..data.subtypes import UNKNOWN
from ..latents import inference_columns
from . import recalibration

#: Latent starting points per class and band set (fewer for classes with fewer stars).
CENTRES = 24
#: Fewest training stars a class needs in a band set to be inferred: its prior is a mean and
#: covariance of latent vectors and a period density, which a handful of stars cannot give
#: (the shipped model has 4 ELL stars).
MIN_STARS = 20
#: Seed of the k-means initialisation (deterministic inference).
KMEANS_SEED = 0
#: Period kernel scales c_P tried by :attr:`ClassReference.kernel_scales` (a factor 2 apart).
KERNEL_SCALES = (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
#: Latent kernel scales c_z tried: the same ladder on to 1024, then infinity (the latent
#: vector ignored, Teff from the period alone), so that the cross-validation, not the ladder,
#: decides how little a band's latents say. Measured with a ladder that stopped at 16: the
#: shipped model's Gaia RP reference took 16 and chooses infinity on the longer one; the
#: 32-dimensional candidate's Stripe 82 ugriz reference takes 64, its G and RP infinity.
LATENT_KERNEL_SCALES = KERNEL_SCALES + (32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, math.inf)
#: Fewest stars with Teff for the kernel cross-validation.
MIN_CROSS_VALIDATION = 30
#: c of the class prior's latent kernels c * Sigma (:meth:`ClassReference.log_class_prior`).
#: Chosen on the validation split by the mean log probability of the true class
#: (``benchmarks/posterior_shares.py --split val --kernel-scales``, shipped and 32-dimensional
#: models alike): the leave-one-out density of the stars' own latents would pick 1/4 to 1/2,
#: which blurs neighbouring classes together; narrower than 1/32 the kernels no longer
#: bridge the gaps between stars.
CLASS_KERNEL_SCALE = 1 / 16


def _silverman(x: np.ndarray, floor: float) -> float:
    """Silverman's rule of thumb, 0.9 min(sd, IQR / 1.34) n^(-1/5), at least ``floor``."""
    spread = min(np.std(x), np.subtract(*np.percentile(x, [75, 25])) / 1.34) if x.size > 1 else 0
    return max(0.9 * spread * x.size ** -0.2, floor)


@dataclass
class ClassReference:
    """The training stars of one class seen in every band of ``bands`` (see the module)."""

    cls: str
    bands: tuple[str, ...]
    z: np.ndarray            # (n, len(bands) * d): latent blocks in ``bands`` order
    log_period: np.ndarray   # (n,) log10 days
    teff: np.ndarray         # (n,) K, NaN where unknown
    latent_dim: int
    subtype: np.ndarray | None = None  # (n,) str, UNKNOWN where the survey does not say
    doubtful: int = 0        # training stars left out, their period outside the class's limits

    def __post_init__(self):
        if self.subtype is None:
            self.subtype = np.full(self.n_stars, UNKNOWN)

    @property
    def n_stars(self) -> int:
        return int(self.log_period.size)

    @cached_property
    def prior_mean(self) -> np.ndarray:
        return self.z.mean(0)

    @cached_property
    def prior_cov(self) -> np.ndarray:
        return LedoitWolf().fit(self.z).covariance_ if self.n_stars > 1 else np.eye(self.z.shape[1])

    @cached_property
    def prior_precision(self) -> np.ndarray:
        """Sigma^-1, the inverse of :attr:`prior_cov`."""
        return np.linalg.inv(self.prior_cov)

    @cached_property
    def prior_root(self) -> np.ndarray:
        """L with L L^T = prior precision: ||L^T (z - mean)||^2 is the prior's Mahalanobis term."""
        return np.linalg.cholesky(self.prior_precision)

    @cached_property
    def _centred_stars(self) -> tuple[np.ndarray, np.ndarray]:
        """The stars' latents about the prior mean, z_k - mu, and their squared Mahalanobis
        distances under Sigma (the same for every fit :meth:`log_class_prior` scores)."""
        stars = self.z - self.prior_mean
        return stars, np.einsum("ki,kj,ij->k", stars, stars, self.prior_precision)

    def log_prior_z(self, z: np.ndarray) -> float:
        """log N(z; mean, cov)."""
        r = self.prior_root.T @ (z - self.prior_mean)
        return float(-0.5 * r @ r + np.log(np.diag(self.prior_root)).sum()
                     - 0.5 * z.size * math.log(2 * math.pi))

    @cached_property
    def period_bandwidth(self) -> float:
        """Silverman's rule, 0.9 min(sd, IQR / 1.34) n^(-1/5) (module docstring), in dex."""
        return _silverman(self.log_period, 0.01)

    @cached_property
    def teff_bandwidth(self) -> float:
        """Silverman's rule over the stars' known Teff (K): the width of each star's Teff kernel."""
        return _silverman(self.teff[np.isfinite(self.teff)], 1.0)

    @cached_property
    def kernel_scales(self) -> tuple[float, float]:
        """(c_z, c_P): the kernels of :meth:`log_kernel` are c_z * Sigma in latent space and
        c_P * :attr:`period_bandwidth` in log period, chosen among :data:`LATENT_KERNEL_SCALES`
        and :data:`KERNEL_SCALES` by
        leave-one-out likelihood cross-validation of the stars' own Teff (each star's Teff
        predicted from the others' by the weighted kernel density; Hall, Racine & Li 2004,
        JASA 99, 1015). (1, 1) where fewer than :data:`MIN_CROSS_VALIDATION` stars have Teff."""
        known = np.isfinite(self.teff)
        if known.sum() < MIN_CROSS_VALIDATION:
            return 1.0, 1.0
        teff = self.teff[known]
        return self._cross_validated_scales(
            known, np.exp(-0.5 * (teff[:, None] - teff[None, :]) ** 2 / self.teff_bandwidth**2))

    @cached_property
    def subtype_kernel_scales(self) -> tuple[float, float]:
        """(c_z, c_P) for the subtype vote, chosen as :attr:`kernel_scales` but by the stars' own
        subtypes (each star's subtype predicted by the others' weighted vote): how far the
        latents tell a mode is not how far they tell Teff (LMC Cepheids: their I-band shape
        tells F from first overtone at one period, hardly their Teff). (1, 1) where fewer than
        :data:`MIN_CROSS_VALIDATION` stars have a known subtype."""
        known = self.subtype != UNKNOWN
        if known.sum() < MIN_CROSS_VALIDATION:
            return 1.0, 1.0
        same = self.subtype[known][:, None] == self.subtype[known][None, :]
        return self._cross_validated_scales(known, same.astype(float))

    def scales_record(self) -> dict:
        """The cross-validated kernel scales as a JSON-ready record (an infinite latent scale as
        "inf"), keyed by class, band set (sorted: the scales do not depend on the blocks' order)
        and star count; :meth:`References.get` seeds a reference with it."""
        def as_json(scales):
            return ["inf" if math.isinf(c) else c for c in scales]
        return {"cls": self.cls, "bands": sorted(self.bands), "n_stars": self.n_stars,
                "teff": as_json(self.kernel_scales), "subtype": as_json(self.subtype_kernel_scales)}

    def seed_scales(self, record: dict) -> None:
        """Take the kernel scales of a stored :meth:`scales_record` of the same stars instead of
        cross-validating them again (the eclipsing binaries' subtype cross-validation takes 15 s)."""
        if (record["cls"], sorted(record["bands"]), record["n_stars"]) != (
                self.cls, sorted(self.bands), self.n_stars):
            raise ValueError(f"the stored kernel scales of {record['cls']} in {record['bands']} "
                             f"({record['n_stars']} stars) are not this reference's")
        # cached_property stores its value in the instance dict: seeding it skips the computation
        self.__dict__["kernel_scales"] = tuple(float(c) for c in record["teff"])
        self.__dict__["subtype_kernel_scales"] = tuple(float(c) for c in record["subtype"])

    @cached_property
    def _latent_distances(self) -> np.ndarray:
        """(n, n) squared Mahalanobis distances between the stars' latent vectors under the
        prior's precision, shared by the Teff and the subtype cross-validations: squared
        Euclidean distances of the whitened vectors y = L^T z (:attr:`prior_root`), as
        |y_j|^2 + |y_k|^2 - 2 y_j . y_k, one matrix product (3,000 eclipsing binaries in 32
        dimensions: 10 s as a quadratic form per pair, 0.1 s so; the two agree to 1e-12)."""
        white = self.z @ self.prior_root
        norms = np.einsum("ij,ij->i", white, white)
        out = np.maximum(norms[:, None] + norms[None, :] - 2 * white @ white.T, 0.0)
        np.fill_diagonal(out, 0.0)
        return out

    def _cross_validated_scales(self, known: np.ndarray, target: np.ndarray) -> tuple[float, float]:
        """The (c_z, c_P) of :data:`LATENT_KERNEL_SCALES` x :data:`KERNEL_SCALES` that maximise
        the leave-one-out log likelihood of the ``known`` stars' own values, ``target`` (n, n)
        being the kernel K(value_i, value_j)."""
        latent = self._latent_distances[np.ix_(known, known)]
        log_p = self.log_period[known]
        period = (log_p[:, None] - log_p[None, :]) ** 2 / self.period_bandwidth**2
        target = target.copy()
        np.fill_diagonal(target, 0.0)  # leave each star out
        best, chosen = -np.inf, (1.0, 1.0)
        for c_z in LATENT_KERNEL_SCALES:
            for c_p in KERNEL_SCALES:
                log_w = -0.5 * (latent / c_z + period / c_p**2)
                np.fill_diagonal(log_w, -np.inf)
                w = np.exp(log_w - log_w.max(1, keepdims=True))
                density = np.log((w * target).sum(1) / w.sum(1) + 1e-300)
                if density.sum() > best:
                    best, chosen = density.sum(), (c_z, c_p)
        return chosen

    def log_kernel(self, mean: np.ndarray, variance: np.ndarray, log_period: float,
                   log_period_variance: float, scales: tuple[float, float] | None = None
                   ) -> np.ndarray:
        """log of each star's kernel (up to a constant) at a curve whose latent vector is
        N(mean, diag variance) and log period N(log_period, log_period_variance), with kernel
        ``scales`` (default :attr:`kernel_scales`, Teff's)."""
        c_z, c_p = self.kernel_scales if scales is None else scales
        width2 = (c_p * self.period_bandwidth) ** 2 + log_period_variance
        period = -0.5 * (self.log_period - log_period) ** 2 / width2
        if math.isinf(c_z):  # the latents say nothing of Teff beyond the period
            return period
        cov = c_z * self.prior_cov + np.diag(variance)
        d = self.z - mean
        return -0.5 * np.einsum("ki,ij,kj->k", d, np.linalg.inv(cov), d) + period

    def log_class_prior(self, z: np.ndarray, z_cov: np.ndarray, log_period: float,
                        log_period_variance: float, scale: float = CLASS_KERNEL_SCALE) -> float:
        """log E[q(z, log P) / g(z)] under a fit's posterior N(z, z_cov) x N(log_period,
        log_period_variance), where q is the class's kernel density of (latent, log period)
        (module docstring; latent kernels ``scale`` times Sigma) and g the Gaussian latent prior
        of the fit's Laplace evidence (:meth:`log_prior_z`): the factor that turns that evidence,
        taken with a flat prior in log period, into the evidence under q. Closed form: each
        kernel N(z_k, K), K = c Sigma, gives the integral of N(z; m, C) N(z; z_k, K) / N(z; mu, Sigma), a Gaussian
        integral with precision P = C^-1 + K^-1 - Sigma^-1 (positive definite: C^-1 is the
        prior's precision plus the data's). The latent and period parts are taken as
        independent (the fit's correlation between them is dropped)."""
        sigma_inv = self.prior_precision
        c_inv = np.linalg.inv(0.5 * (z_cov + z_cov.T))
        k_inv = sigma_inv / scale
        precision = c_inv + k_inv - sigma_inv
        stars, star_mahalanobis = self._centred_stars
        m = z - self.prior_mean
        b = c_inv @ m + stars @ k_inv
        log_det = lambda a: np.linalg.slogdet(a)[1]
        d = z.size
        log_latent = (0.5 * (log_det(c_inv) - log_det(precision) - d * math.log(scale))
                      + 0.5 * np.einsum("ki,kj,ij->k", b, b, np.linalg.inv(precision))
                      - 0.5 * m @ c_inv @ m - 0.5 * star_mahalanobis / scale)
        width2 = self.period_bandwidth**2 + log_period_variance
        log_period_kernel = (-0.5 * (self.log_period - log_period) ** 2 / width2
                             - 0.5 * math.log(2 * math.pi * width2))
        terms = log_latent + log_period_kernel
        top = terms.max()
        return float(top + math.log(np.exp(terms - top).mean()))

    def log_period_density(self, log_period: np.ndarray) -> np.ndarray:
        """The class's kernel density of log10 period at ``log_period`` (per dex)."""
        h = self.period_bandwidth
        u = (np.atleast_1d(log_period)[:, None] - self.log_period[None, :]) / h
        log_k = -0.5 * u**2 - math.log(h * math.sqrt(2 * math.pi))
        top = log_k.max(1)
        return top + np.log(np.exp(log_k - top[:, None]).mean(1))

    @cached_property
    def centres(self) -> np.ndarray:
        """k-means centres of the latent blocks, (k, len(bands) * d)."""
        k = min(CENTRES, self.n_stars)
        if k == self.n_stars:
            return self.z.copy()
        centres, labels = kmeans2(self.z, k, seed=KMEANS_SEED, minit="++")
        return centres[np.isin(np.arange(k), labels)]


def class_reference(latents: pd.DataFrame, cls: str, bands: tuple[str, ...]) -> ClassReference | None:
    """The reference of ``cls`` in ``bands`` from a latent table (``model.latents()``), or None
    when no training star of the class was seen in all of them.

    Stars whose period is outside the class's limits are left out (``doubtful`` counts them):
    measured on 40 validation stars per Catalina class (2026-12-04), with the 2026-12-03
    model's 7 type II Cepheids below 1 d, 3 anomalous Cepheids above 2.35 d and 2 RR Lyrae
    above 1 d in the priors (refitted on the CRTS periods searched within the limits, 4 and 1
    Catalina stars remain to leave out), 153 of 168 curves were inferred in their class (RR
    Lyrae 85 %, type II Cepheids 68 %); without them, 156 (92 %, 74 %)."""
    columns = inference_columns(latents)
    rows = latents[(latents["cls"] == cls) & (latents["split"] == "train")
                   & latents["band"].isin(bands)]
    doubtful = outside_class_periods(cls, rows["period"].to_numpy(float))
    n_doubtful = rows.loc[doubtful, "star"].nunique()
    rows = rows[~doubtful]
    if rows.empty:
        return None
    wide = rows.pivot_table(index="star", columns="band", values=columns, aggfunc="first")
    blocks = [wide.xs(b, axis=1, level="band")[columns] if b in wide.columns.get_level_values("band")
              else None for b in bands]
    if any(b is None for b in blocks):
        return None
    z = np.concatenate([b.to_numpy(float) for b in blocks], axis=1)
    complete = np.isfinite(z).all(1)
    if not complete.any():
        return None
    star = wide.index[complete]
    # latent tables written before the subtype column read as subtypes unknown
    per_star = rows.assign(subtype=rows.get("subtype", UNKNOWN)).groupby("star")[
        ["period", "teff", "subtype"]].first().loc[star]
    return ClassReference(cls, tuple(bands), z[complete], np.log10(per_star["period"].to_numpy(float)),
                          per_star["teff"].to_numpy(float), len(columns),
                          per_star["subtype"].fillna(UNKNOWN).to_numpy(str), n_doubtful)


class References:
    """The references of one model, built on first use per class and band set, and the
    recalibrations of its Teff intervals per class (:mod:`.recalibration`)."""

    def __init__(self, model):
        self.decoder = model.decoder
        self.latents = model.latents()
        calibration = model.inference_calibration() or {}
        self.teff_recalibrations = recalibration.maps(calibration)
        self._stored_scales = {(r["cls"], tuple(sorted(r["bands"])), r["n_stars"]): r
                               for r in calibration.get("kernel_scales", [])}
        self._built: dict[tuple[str, tuple[str, ...]], ClassReference | None] = {}
        self._grids: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def get(self, cls: str, bands: tuple[str, ...]) -> ClassReference | None:
        """The reference of ``cls`` in ``bands``, with its kernel scales from the model's stored
        calibration where it holds them for these stars (:func:`scale_records`)."""
        key = (cls, tuple(bands))
        if key not in self._built:
            reference = class_reference(self.latents, cls, key[1])
            stored = reference and self._stored_scales.get((cls, tuple(sorted(bands)), reference.n_stars))
            if stored:
                reference.seed_scales(stored)
            self._built[key] = reference
        return self._built[key]

    def classes_for(self, bands: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """Classes with at least :data:`MIN_STARS` training stars seen in every one of
        ``bands``, in the model's order, and those with some but fewer (left out)."""
        found = [(c, self.get(c, bands)) for c in self.decoder.classes]
        return ([c for c, r in found if r is not None and r.n_stars >= MIN_STARS],
                [c for c, r in found if r is not None and r.n_stars < MIN_STARS])

    def centre_grids(self, reference: ClassReference) -> np.ndarray:
        """The decoded magnitude grids of the reference's centres, (k, len(bands), grid)."""
        key = (reference.cls, reference.bands)
        if key not in self._grids:
            d = reference.latent_dim
            self._grids[key] = np.stack(
                [self.decoder.decode_grid(reference.centres[:, i * d:(i + 1) * d], reference.cls,
                                          band)[:, 0] for i, band in enumerate(reference.bands)],
                axis=1).astype(np.float64)
        return self._grids[key]


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def references(model) -> References:
    """The model's :class:`References`, kept while the model lives (built once per model)."""
    if model not in _CACHE:
        _CACHE[model] = References(model)
    return _CACHE[model]


def scale_records(model, progress: bool = False) -> list[dict]:
    """The cross-validated kernel scales (:meth:`ClassReference.scales_record`) of every class's
    reference in each single band and in each band set a training star of it was seen in
    whole, where at least :data:`MIN_STARS` stars make it: what a model folder stores so that
    the first inference of a class in a process does not pay for the cross-validations."""
    refs = References(model)
    train = refs.latents[refs.latents["split"] == "train"]
    wanted = set()
    for cls, rows in train.groupby("cls"):
        wanted |= {(cls, (b,)) for b in rows["band"].unique()}
        wanted |= {(cls, tuple(sorted(b))) for b in rows.groupby("star")["band"].agg(frozenset)}
    records = []
    for cls, bands in tqdm(sorted(wanted), desc="kernel scales", unit="reference", disable=not progress):
        reference = refs.get(cls, bands)
        if reference is not None and reference.n_stars >= MIN_STARS:
            records.append(reference.scales_record())
    return records
