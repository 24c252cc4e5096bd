"""Everything a model folder knows about physics -> curve besides the network.

Per class: which parameters and subtypes it responds to (:class:`ClassPhysics`), its
fitted regressors and, stored with its density, P(subtype | physics, band)
(:class:`SubtypeModel`), the real OGLE x Gaia DR2 ranges and period-luminosity
relation (:class:`ClassReference`); per survey and band: the error-versus-magnitude
relation (:class:`ErrorModel`). Written by ``pelsvae fit-regressors`` into the
folder's metadata and ``regressors.npz``; read here without running any code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..data.calibration import Calibrated
from ..data.relations import period_luminosity
from .classes import ClassPhysics
from .density import MixtureDensity
from .kernel_density import KernelDensity
from .noise import ErrorModel, published_error_models
from .reference import ClassReference
from .regressors import DEFAULT_REGRESSOR, DENSITY_KINDS, KINDS, Predictor
from .subtype_model import SubtypeModel

#: The paper's regressor a folder fitted before the conditional density existed generates with.
PAPER_DEFAULT = "rf"


@dataclass
class PhysicsMap:
    classes: dict[str, ClassPhysics] = field(default_factory=dict)
    predictors: dict[str, Predictor | MixtureDensity | KernelDensity] = field(default_factory=dict)
    error_models: dict[str, ErrorModel] = field(default_factory=dict)   # "<survey>/<band>"
    references: dict[str, ClassReference] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)  # per class and regressor, on the val split
    #: The density a folder's fit chose to generate with (:func:`pelsvae_core.pipeline.choose_generator`);
    #: folders fitted before the choice existed generate with :data:`DEFAULT_REGRESSOR`.
    preferred: str = DEFAULT_REGRESSOR

    @classmethod
    def from_metadata(cls, physics: dict) -> "PhysicsMap":
        """From a model folder's ``metadata["physics"]``; the predictors of its ``regressors.npz``
        are set by :func:`pelsvae_core.load_model`, which checks them file by file."""
        classes = {name: ClassPhysics.from_dict(info) for name, info in physics.get("classes", {}).items()}
        fitted = {key: ErrorModel.from_dict(m) for key, m in physics.get("error_models", {}).items()}
        return cls(classes=classes,
                   # beside the surveys fitted on the training stars, the published errors of
                   # LSST and ZTF in the model's bands they share (their cadence presets' noise)
                   error_models={**published_error_models(
                       {b for info in classes.values() for b in info.bands}), **fitted},
                   references={name: ClassReference.from_dict(r)
                               for name, r in physics.get("references", {}).items()},
                   validation=list(physics.get("regressor_validation", [])),
                   preferred=physics.get("density", {}).get("generator", DEFAULT_REGRESSOR))

    def class_info(self, cls: str, folder=None) -> ClassPhysics:
        """The class's physics, or a clear error naming what the model can generate."""
        if not self.classes:
            raise ValueError(f"the model in {folder} has no regressors; run `pelsvae fit-regressors`")
        if not isinstance(cls, str) or cls not in self.classes:  # ['RRLYR'] is not a class name
            raise ValueError(f"unknown class {cls!r}; this model generates {', '.join(sorted(self.classes))}")
        return self.classes[cls]

    def fitted_kinds(self) -> tuple[str, ...]:
        """The regressor kinds (:data:`KINDS` order) fitted for every class: a folder fitted before
        the density ``"mdn"`` existed has only the paper's three."""
        return tuple(k for k in KINDS if self.classes
                     and all(f"{c}/{k}" in self.predictors for c in self.classes))

    @property
    def default_regressor(self) -> str:
        """One kind for every class (what the dashboard and the evaluation offer first): the
        conditional density the fit chose (:attr:`preferred`) where the folder has it for every
        class, else the paper's random forest."""
        return self.preferred if self.preferred in self.fitted_kinds() else PAPER_DEFAULT

    def default_for(self, cls: str) -> str:
        """What generates ``cls`` when no regressor is named: its conditional density where the
        folder has one, else the paper's random forest (generation and simulation alike)."""
        return self.preferred if f"{cls}/{self.preferred}" in self.predictors else PAPER_DEFAULT

    def regressor_for(self, cls: str, regressor: str | None = None) -> str:
        """The kind that generates ``cls``: ``regressor``, or :meth:`default_for` when None;
        a clear error when the folder has none of that kind for the class."""
        regressor = self.default_for(cls) if regressor is None else regressor
        self.predictor(cls, regressor)
        return regressor

    def predictor(self, cls: str, regressor: str) -> Predictor | MixtureDensity | KernelDensity:
        """The class's regressor of kind ``regressor`` (the paper's, or a density)."""
        if regressor not in KINDS:
            raise ValueError(f"unknown regressor {regressor!r}; choose from {', '.join(KINDS)}")
        if f"{cls}/{regressor}" not in self.predictors:
            fitted = sorted(k.partition("/")[2] for k in self.predictors if k.startswith(f"{cls}/"))
            raise ValueError(f"this model has no {regressor!r} regressor for {cls} (it has "
                             f"{', '.join(fitted) or 'none'}); run `pelsvae fit-regressors`")
        return self.predictors[f"{cls}/{regressor}"]

    def subtype_model(self, cls: str) -> SubtypeModel | None:
        """The class's P(subtype | physics, band), stored with each of its densities (the same
        fit); None for classes without subtypes and folders fitted before subtypes."""
        for kind in DENSITY_KINDS:
            if f"{cls}/{kind}" in self.predictors:
                return SubtypeModel.from_prefixed(self.predictors[f"{cls}/{kind}"].arrays)
        return None

    def validation_rmse(self, cls: str, regressor: str) -> float:
        """Latent-space RMSE of a class's regressor on the by-star validation split (NaN if none)."""
        for row in self.validation:
            if row["class"] == cls and row["regressor"] == regressor:
                return row["rmse_latent"]
        return math.nan

    def period_luminosities(self, cls: str, log_period, subtype=None) -> tuple[np.ndarray, Calibrated]:
        """M_G at each ``log_period`` (log10 days): the class's (and subtype's) period-luminosity
        relation measured on the OGLE-III LMC stars
        (:func:`pelsvae_core.data.relations.period_luminosity`) where it has one for the period
        (``found.ok``), else (eclipsing and ellipsoidal binaries, periods beyond its stars) the
        relation of the OGLE x Gaia DR2 cross-match, which rests on DR2 parallaxes and no
        extinction (the paper's convention), NaN without either; and the LMC relation's result
        ``found`` (its scatter, and why it has none)."""
        found = period_luminosity(cls, log_period, subtype)
        reference = self.references.get(cls)
        line = (np.full(found.value.shape, np.nan) if reference is None or reference.luminosity is None
                else reference.abs_mag(10 ** np.atleast_1d(np.asarray(log_period, float))))
        return np.where(found.ok, found.value, line), found

    def period_luminosity(self, cls: str, period: float, subtype: str | None = None
                          ) -> tuple[float | None, str]:
        """Mean absolute magnitude M_G at ``period`` (days) and its source
        (:meth:`period_luminosities`); (None, "none") without a relation."""
        values, found = self.period_luminosities(cls, math.log10(period), subtype)
        if found.ok[0]:   # one label per class (its scatter varies with the period: the relation's)
            return float(values[0]), f"period-luminosity, OGLE-III LMC {cls}"
        if not np.isfinite(values[0]):
            return None, "none"
        return (float(values[0]), "period-luminosity, OGLE x Gaia DR2 (paper convention: DR2 "
                f"parallaxes, no extinction; scatter {self.references[cls].luminosity_scatter:.2f} "
                f"mag; {found.reason[0]})")

    def error_model(self, noise, band: str) -> ErrorModel | None:
        """The error model that ``noise`` names: None/False for none, True for the survey with the
        most stars in ``band``, or a survey name."""
        if noise is None or noise is False:
            return None
        in_band = sorted((m for m in self.error_models.values() if m.band == band),
                         key=lambda m: -m.n_stars)
        if not in_band:
            raise ValueError(f"no survey error model in band {band}; this model has "
                             f"{', '.join(sorted(self.error_models)) or 'none (run pelsvae fit-regressors)'}")
        if noise is True:
            return in_band[0]
        for candidate in in_band:
            if candidate.survey == noise:
                return candidate
        raise ValueError(f"noise={noise!r}: choose True or a survey observed in band {band}: "
                         f"{', '.join(m.survey for m in in_band)}")
