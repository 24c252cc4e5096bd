"""What each class's physics is: the parameters it responds to, its bands, its subtypes, their
real ranges, and the one builder of the physics -> latent regressors' inputs.

The same :meth:`ClassPhysics.regressor_inputs` (and, for the density, the subtype
one-hot of :meth:`ClassPhysics.with_subtypes`) makes the regressors' training rows
(:mod:`.latent_fit`) and their inputs at generation (:meth:`ClassPhysics.inputs`,
:mod:`pelsvae_core.generation`), so the two cannot drift apart. Each class also records the range of its real
amplitudes per band, which bounds the amplitudes it generates, and the subtypes
(modes, eclipsing morphologies) the conditional density is told.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from ..data.dataset import TrainingSet
from ..data.subtypes import SUBTYPES, UNKNOWN
from .regressors import DENSITY_KINDS

#: The physical parameters a class may respond to, in the regressors' column order.
PARAMETERS = ("teff", "abs_mag", "log_period")
#: A parameter is used for a class when at least this many of its training curves have it.
MIN_CURVES_WITH_PARAMETER = 30
#: Generated log10 amplitudes are held to the class's real range in the band widened by this
#: much on each side (0.1 dex: 26 % above the largest and below the smallest real amplitude);
#: beyond it the model has seen no star, and an unbounded regressor reaches absurd amplitudes
#: (the paper's MLP: 1.9e6 mag for CEP at a corner of the inputs generation accepts, its
#: ranges widened by one width).
AMPLITUDE_MARGIN_DEX = 0.1
#: Without a recorded range (folders fitted before it was recorded): no periodic variable of
#: these classes exceeds the Miras' 11 mag in V (GCVS variability types, "M"; Samus et al.
#: 2017, ARep 61, 80), and none below 1 mmag would pass the S/N >= 5 cut of any survey here.
PHYSICAL_LOG_AMPLITUDE = (-3.0, math.log10(11.0))
#: A subtype is an input of the class's density when at least this many of its usable training
#: curves carry it. Fewer leave the density a handful of curves to learn the subtype's shape
#: from (its early stopping holds out a fifth of the stars), and the by-star validation split
#: (a third as many curves again) too few to tell whether the subtype model predicts it. On
#: models/default's training curves it keeps RRab/RRc (1,038/297), F/1O (796/490) and
#: EA/EW/EB (422/2,549/29); DSCT keeps HADS alone (25; the rest unknown), so none.
MIN_CURVES_WITH_SUBTYPE = 20


@dataclass
class ClassPhysics:
    """Which parameters a class responds to, in which bands, and their real ranges."""

    cls: str
    parameters: tuple[str, ...]
    bands: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]   # min and max over the training stars
    typical: dict[str, float]                # median over the training stars
    n_stars: int
    #: per band, min and max log10 amplitude (mag) of the training curves
    log_amplitude: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the subtypes the density is conditioned on (:func:`class_subtypes`); none in folders
    #: fitted before subtypes, and for classes with fewer than two
    subtypes: tuple[str, ...] = ()
    #: per band, (kept, of): the training curves that may start kernel draws, of those fitted
    #: (:func:`pelsvae_core.physics.latent_fit.faithful_rows`); none in folders fitted before
    donors: dict[str, tuple[int, int]] = field(default_factory=dict)

    def amplitude_bounds(self, band: str) -> tuple[float, float]:
        """The log10 amplitudes (mag) generation may return in ``band``: the real range widened
        by :data:`AMPLITUDE_MARGIN_DEX`, or :data:`PHYSICAL_LOG_AMPLITUDE` where none is recorded."""
        if band not in self.log_amplitude:
            return PHYSICAL_LOG_AMPLITUDE
        lo, hi = self.log_amplitude[band]
        return (max(lo - AMPLITUDE_MARGIN_DEX, PHYSICAL_LOG_AMPLITUDE[0]),
                min(hi + AMPLITUDE_MARGIN_DEX, PHYSICAL_LOG_AMPLITUDE[1]))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ClassPhysics":
        return cls(cls=data["cls"], parameters=tuple(data["parameters"]), bands=tuple(data["bands"]),
                   ranges={k: tuple(v) for k, v in data["ranges"].items()},
                   typical=data["typical"], n_stars=data["n_stars"],
                   log_amplitude={k: tuple(v) for k, v in data.get("log_amplitude", {}).items()},
                   subtypes=tuple(data.get("subtypes", ())),
                   donors={k: tuple(v) for k, v in data.get("donors", {}).items()})

    def regressor_inputs(self, physics: np.ndarray, bands: Sequence[str]) -> np.ndarray:
        """Regressor inputs, one row per curve: this class's parameters (``physics``, columns in
        ``self.parameters`` order) and the band one-hot over ``self.bands``: the paper's point
        regressors' inputs (they add their dummy column themselves, :func:`.regressors.with_dummy`)
        and the subtype model's."""
        return np.column_stack([np.asarray(physics, dtype=float), _onehot(bands, self.bands)])

    def with_subtypes(self, x: np.ndarray, subtypes: Sequence[str] | None) -> np.ndarray:
        """The density's inputs: regressor inputs ``x`` and the one-hot over ``self.subtypes``; a
        row whose subtype is none of them (unknown: the survey does not say) is all zeros, "not
        said", and so is every row when ``subtypes`` is None."""
        subtypes = np.full(len(x), UNKNOWN) if subtypes is None else subtypes
        return np.column_stack([x, _onehot(subtypes, self.subtypes)])

    def takes_subtype(self, kind: str) -> bool:
        """Whether a predictor of ``kind`` is told the subtype: a density of a class with
        subtypes; never the paper's point regressors."""
        return kind in DENSITY_KINDS and bool(self.subtypes)

    def told_subtype(self, kind: str, subtype) -> str | None:
        """``subtype`` where a predictor of ``kind`` takes it and it is one of the class's own,
        else None (to be drawn): what a known subtype of a real star tells a generator."""
        return subtype if self.takes_subtype(kind) and subtype in self.subtypes else None

    def inputs(self, kind: str, physics: np.ndarray, bands: Sequence[str],
               subtypes: Sequence[str] | None = None) -> np.ndarray:
        """What a predictor of ``kind`` reads: a density, :meth:`with_subtypes`; the paper's
        point regressors, :meth:`regressor_inputs` (they take no subtype, as in the paper)."""
        x = self.regressor_inputs(physics, bands)
        return self.with_subtypes(x, subtypes) if kind in DENSITY_KINDS else x


def _onehot(values: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """(len(values), len(names)) indicator of each value among ``names``."""
    return (np.asarray(values).reshape(-1, 1) == np.array(names, dtype=str).reshape(1, -1)).astype(float)


def class_subtypes(cls: str, subtypes: np.ndarray) -> tuple[str, ...]:
    """The subtypes of a class's usable training curves (``subtypes``, one per curve) with at
    least :data:`MIN_CURVES_WITH_SUBTYPE` curves, in the vocabulary's order
    (:data:`pelsvae_core.data.subtypes.SUBTYPES`); none unless at least two qualify, since a
    single subtype leaves nothing to choose or draw."""
    names, counts = np.unique(np.asarray(subtypes, dtype=str), return_counts=True)
    common = {n for n, c in zip(names, counts) if c >= MIN_CURVES_WITH_SUBTYPE and n != UNKNOWN}
    chosen = tuple(s for s in SUBTYPES.get(cls, ()) if s in common)
    return chosen if len(chosen) >= 2 else ()


def physics_matrix(data: TrainingSet) -> np.ndarray:
    """(n, 3) Teff, absolute magnitude and log10 period of each curve, in :data:`PARAMETERS` order."""
    return np.column_stack([data.teff, data.abs_mag, data.log_period]).astype(np.float64)


def describe_class(data: TrainingSet, c: int) -> ClassPhysics | None:
    """Parameters with enough training curves, the bands those curves are in (commonest first:
    the first is the band a class is generated in when none is named, which for RR Lyrae
    trained on OGLE-IV, Stripe 82 and Gaia is OGLE I, not Gaia BP by the alphabet), their ranges."""
    real = data.subset((data.cls == c) & ~data.augmented & (data.split == "train"))
    if not len(real):
        return None
    physics = physics_matrix(real)
    known = np.isfinite(physics)
    parameters = tuple(p for i, p in enumerate(PARAMETERS) if known[:, i].sum() >= MIN_CURVES_WITH_PARAMETER)
    if "log_period" not in parameters:
        parameters = ("log_period",)
    columns = [PARAMETERS.index(p) for p in parameters]
    usable = known[:, columns].all(axis=1)
    values = physics[usable][:, columns]
    band_names = np.array(data.bands)[real.band[usable]]
    log_amplitude = np.log10(real.amplitude[usable].astype(float))
    return ClassPhysics(
        cls=data.classes[c], parameters=parameters,
        bands=tuple(str(b) for b in sorted(set(band_names),
                                           key=lambda b: (-int((band_names == b).sum()), b))),
        ranges={p: (float(values[:, i].min()), float(values[:, i].max())) for i, p in enumerate(parameters)},
        typical={p: float(np.median(values[:, i])) for i, p in enumerate(parameters)},
        n_stars=int(len(set(real.star_key[usable]))),
        log_amplitude={b: (float(log_amplitude[band_names == b].min()),
                           float(log_amplitude[band_names == b].max())) for b in sorted(set(band_names))},
        subtypes=class_subtypes(data.classes[c], real.subtype[usable]))
