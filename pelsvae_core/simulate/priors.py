"""Physics priors: per class, the joint distribution of (log10 P, Teff, M) that real stars have.

Each class's prior has two parts, stored as plain arrays:

- ``primary``: a Gaussian mixture (Pedregosa et al. 2011, scikit-learn's ``GaussianMixture``,
  full covariances; the number of components chosen by the Bayesian information criterion,
  Schwarz 1978, Ann. Stat. 6, 461; fitted in standardised units) over the parameters the
  class's model responds to (``model.class_physics``), fitted on the model's own training
  stars (``model.latents()``, split ``train``, one row per star), so the physics drawn is
  the physics the model learned; one mixture
  per survey the stars come from, weighted by its stars (:func:`fit_by_survey`), because
  each survey's physics went through its own calibration chain.
- ``secondary``: for classes whose training stars have only a period (Catalina and
  CRTS), (log10 P, Teff) of the class's stars in the OGLE-III x Gaia DR2 cross-match
  (Martinez-Palomera et al. 2022, Sect. 2.1), used *conditioned on* the drawn
  period, so each star's Teff follows the real period relation and scatter: a star takes
  the Teff of one of the :data:`DONOR_NEIGHBOURS` cross-matched stars nearest to it in
  period (:class:`Donors`, a nearest-neighbour conditional bootstrap). Given the held-out
  cross-match stars' own periods, a mixture's Teff (and M_G) were told from theirs with
  accuracy 0.62 (ECL) and 0.61 (LPV), where the real stars it was fitted on score 0.53 and
  0.52: Gaia DR2's Teff has edges and pile-ups (the ECL's hot edge at 9,566 K, the Miras'
  at 3,281 K) that up to 18 components did not follow; the donors' score 0.533 and 0.487
  (controls 0.526, 0.517; 2026-12-04, five draws each, :func:`prior_report`). Beyond the
  donors' period range their values follow the donors' linear trend (:meth:`Donors.sample`):
  5 % of ECL periods, 2 % of LPV's, and every ELL period (the Catalina ELL span log P -0.68
  to -0.55, the cross-match's start at -0.52), whose Teff and M_G are extrapolated. M_G is
  not drawn from it where the class has a period-luminosity relation measured on the
  OGLE-III LMC stars (:func:`pelsvae_core.data.relations.period_luminosity`, drawn with
  its scatter when the shard is made): the cross-match's M_G uses Gaia DR2 parallax
  distances without extinction correction, the paper's convention, which put anomalous
  Cepheids at M_G +4.6 at 1 d; eclipsing and ellipsoidal binaries, which have no such
  relation here, keep it (see :mod:`pelsvae_core.physics.reference`).

Draws are restricted to bounds, by redrawing (a truncated mixture): the model's
training range for the parameters the model responds to (its period range cut to the class's
limits, :func:`pelsvae_core.data.relations.class_period_limits`), the cross-match's 1st to
99th percentiles (``model.references``) for the others (donors outside them are left out).
Fixed values condition the mixture: a Gaussian mixture conditioned on some coordinates is
again a Gaussian mixture, with the conditional means and covariances of Bishop (2006, Pattern
Recognition and Machine Learning, eqs. 2.81-2.82) and each component reweighted
by its marginal density at the given values; the donors are then the nearest in the period
and the fixed values together.

A user's own table of parameters (:func:`table_prior`) replaces the fitted
mixtures: its rows are drawn with replacement. :func:`two_sample_accuracy` measures
how well a classifier tells drawn from held-out real physics (0.5: not at all).
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

from ..data.dataset import surveys_of
from ..data.relations import class_period_limits, outside_class_periods, read_relations
from ..data.subtypes import UNKNOWN
from ..physics.density import categorical
from .errors import SimulationError

#: The prior's parameters, in its column order.
PARAMETERS = ("log_period", "teff", "abs_mag")
#: Components tried by the BIC, at most; and at least this many stars per component tried.
MAX_COMPONENTS = 6
STARS_PER_COMPONENT = 20
#: Fewest cross-matched stars of a class for a parameter to enter its secondary part
#: (the same floor as the period-luminosity fit of :mod:`pelsvae_core.physics.reference`).
MIN_XMATCH_STARS = 10
#: Redraw rounds for bounded draws; a row still outside after them is clipped to the bound
#: (a truncated Gaussian mixture whose bounds hold most of its mass needs a handful).
MAX_ROUNDS = 50
#: Share of the cross-matched stars held out of the secondary fit for its two-sample test.
XMATCH_HOLDOUT = 0.2
#: Folds of the two-sample classifier's cross-validation.
FOLDS = 5
#: Cross-matched stars nearest in period (and fixed values) among which a secondary draw picks
#: its donor: 5 and 20 gave the same two-sample accuracies (ECL 0.570, 0.566; LPV 0.546, 0.545;
#: 2026-12-04, the joint test with periods drawn from a mixture of the cross-match, before the
#: report's test given the held-out stars' own periods was settled on).
DONOR_NEIGHBOURS = 10


def split_given(columns: tuple[str, ...], n: int, given: dict | None
                ) -> tuple[dict[str, np.ndarray], list[int], list[int]]:
    """The values of ``given`` (per row or scalars) that are among ``columns``, as ``n`` rows
    each, their column indices, and the indices of the columns left to draw."""
    given = {k: np.broadcast_to(np.asarray(v, float), (n,)) for k, v in (given or {}).items()
             if k in columns}
    a = [columns.index(k) for k in given]
    return given, a, [i for i in range(len(columns)) if i not in a]


def no_rows(given: dict[str, np.ndarray]) -> np.ndarray:
    """An all-False flag per row of ``given`` (values per row or scalars)."""
    return np.zeros(np.broadcast(*[np.asarray(v) for v in given.values()], 0).shape, bool)


@dataclass
class Mixture:
    """A Gaussian mixture over ``columns`` (a subset of :data:`PARAMETERS`), in their own
    units, with the box ``low``/``high`` its draws are held to."""

    columns: tuple[str, ...]
    weights: np.ndarray       # (K,)
    means: np.ndarray         # (K, D)
    covariances: np.ndarray   # (K, D, D)
    low: np.ndarray           # (D,)
    high: np.ndarray          # (D,)

    def arrays(self) -> dict[str, np.ndarray]:
        """As stored; without a ``kind`` (:func:`part_from_arrays`), so a run written before
        donors existed fingerprints its priors to the same bytes and resumes."""
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances,
                "low": self.low, "high": self.high, "columns": np.array(self.columns)}

    def describe(self) -> str:
        return f"Gaussian mixture of {len(self.weights)}"

    def beyond(self, given: dict[str, np.ndarray]) -> np.ndarray:
        """No row is flagged: a mixture's conditional is defined everywhere (and its draws held
        to the bounds); :meth:`Donors.beyond` is what marks extrapolation."""
        return no_rows(given)

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> "Mixture":
        return cls(tuple(str(c) for c in a["columns"]), a["weights"], a["means"], a["covariances"],
                   a["low"], a["high"])

    def sample(self, n: int, rng: np.random.Generator,
               given: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """``n`` draws of the columns not in ``given`` (values per row or scalars), from the
        mixture conditioned on ``given`` (Bishop 2006, eqs. 2.81-2.82), redrawn until within
        the bounds (:data:`MAX_ROUNDS` at most, then clipped)."""
        given, a, b = split_given(self.columns, n, given)
        if not b:
            return {}
        x_a = np.column_stack([given[k] for k in given]) if a else np.zeros((n, 0))
        log_w, mean, chol = self._conditional(x_a, a, b)
        out = np.empty((n, len(b)))
        todo = np.arange(n)
        for _ in range(MAX_ROUNDS):
            out[todo] = self._draw(log_w[todo], mean[todo], chol, rng)
            inside = ((out[todo] >= self.low[b]) & (out[todo] <= self.high[b])).all(1)
            todo = todo[~inside]
            if not todo.size:
                break
        out = np.clip(out, self.low[b], self.high[b])
        return {self.columns[j]: out[:, i] for i, j in enumerate(b)}

    def _conditional(self, x_a: np.ndarray, a: list[int], b: list[int]):
        """Per row log weights (n, K) and means (n, K, B), and per component the Cholesky
        factor (K, B, B) of the mixture over ``b`` given the values ``x_a`` of ``a``."""
        n, k = len(x_a), len(self.weights)
        log_w = np.tile(np.log(self.weights), (n, 1))
        mean = np.repeat(self.means[None][:, :, b], n, axis=0)
        chol = np.empty((k, len(b), len(b)))
        for j in range(k):
            s = self.covariances[j]
            s_bb = s[np.ix_(b, b)]
            if a:
                s_aa, s_ba = s[np.ix_(a, a)], s[np.ix_(b, a)]
                gain = np.linalg.solve(s_aa, s_ba.T).T                  # Sigma_ba Sigma_aa^-1
                residual = x_a - self.means[j, a]
                mean[:, j] += residual @ gain.T
                s_bb = s_bb - gain @ s_ba.T
                factor = np.linalg.cholesky(s_aa)
                z = np.linalg.solve(factor, residual.T)
                log_w[:, j] += (-0.5 * (z ** 2).sum(0) - np.log(np.diag(factor)).sum()
                                - 0.5 * len(a) * math.log(2 * math.pi))
            chol[j] = np.linalg.cholesky(s_bb)
        return log_w - log_w.max(1, keepdims=True), mean, chol

    @staticmethod
    def _draw(log_w: np.ndarray, mean: np.ndarray, chol: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        """One draw per row: a component by its weight, then its mean + L eps."""
        pick = categorical(np.exp(log_w), rng)
        eps = rng.standard_normal((len(log_w), chol.shape[-1]))
        rows = np.arange(len(log_w))
        return mean[rows, pick] + np.einsum("nij,nj->ni", chol[pick], eps)


@dataclass
class Donors:
    """Real stars as a conditional prior over ``columns``: given some columns' values, a draw
    takes the other columns of one of the :data:`DONOR_NEIGHBOURS` stars nearest in the given
    columns (each scaled by its spread), picked at random; given none, a star at random.
    ``values`` holds only stars inside the box ``low``/``high``, so every draw is in it."""

    columns: tuple[str, ...]
    values: np.ndarray        # (N, D)
    low: np.ndarray           # (D,)
    high: np.ndarray          # (D,)
    #: per tuple of given columns, the k-d tree over them and the trend of the others: built
    #: once, not again for every shard
    _searches: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"kind": np.array("donors"), "values": self.values, "low": self.low,
                "high": self.high, "columns": np.array(self.columns)}

    def describe(self) -> str:
        return f"{len(self.values)} donor stars, {DONOR_NEIGHBOURS} nearest"

    def sample(self, n: int, rng: np.random.Generator,
               given: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """``n`` draws of the columns not in ``given`` (values per row or scalars)."""
        given, a, b = split_given(self.columns, n, given)
        if not b:
            return {}
        if not a:
            rows = rng.integers(0, len(self.values), n)
            return {self.columns[j]: self.values[rows, j] for j in b}
        x = np.column_stack([given[c] for c in given])
        if not np.isfinite(x).all():
            raise SimulationError(f"cannot draw {', '.join(self.columns[j] for j in b)} given "
                                  "non-finite values")
        tree, scale, trend = self._search(tuple(a), tuple(b))
        k = min(DONOR_NEIGHBOURS, len(self.values))
        _, nearest = tree.query(x / scale, k=k)
        donor = self.values[nearest.reshape(n, k)[np.arange(n), rng.integers(0, k, n)]]
        seen = self.values[:, a]
        beyond = x - np.clip(x, seen.min(0), seen.max(0))
        out = np.clip(donor[:, b] + beyond @ trend, self.low[b], self.high[b])
        return {self.columns[j]: out[:, i] for i, j in enumerate(b)}

    def beyond(self, given: dict[str, np.ndarray]) -> np.ndarray:
        """Per row of ``given``, whether a value it gives lies outside the donors' range (the
        draw there is extrapolated along the trend of :meth:`_search`)."""
        out = no_rows(given)
        for k in (k for k in given if k in self.columns):
            span = self.values[:, self.columns.index(k)]
            out |= (given[k] < span.min()) | (given[k] > span.max())
        return out

    def _search(self, a: tuple[int, ...], b: tuple[int, ...]):
        """For given columns ``a``: a k-d tree over the donors in them, each scaled by its
        spread, the scale, and the least-squares slopes (A, B) of columns ``b`` on them. Where
        a star lies beyond the donors' range in ``a`` (the model's period range outreaches the
        cross-match's: ELL, the Catalina stars' log P -0.68 to -0.55 against the cross-match's
        from -0.52; ECL, 5 % of drawn periods below its shortest), its donor's values move
        along these slopes by the distance beyond, rather than being copied unchanged; inside,
        the donors' own values stand (moved by their distance from the star as well, ECL's
        Teff given the period was told apart 0.06 more often than the control's, its
        Teff-period relation being far from a line)."""
        if a not in self._searches:
            seen = self.values[:, list(a)]
            scale = seen.std(0)
            scale[scale == 0] = 1.0
            design = np.column_stack([np.ones(len(seen)), seen])
            trend = np.linalg.lstsq(design, self.values[:, list(b)], rcond=None)[0][1:]
            self._searches[a] = (cKDTree(seen / scale), scale, trend)
        return self._searches[a]


def fit_donors(values: np.ndarray, columns: tuple[str, ...], low, high) -> Donors:
    """:class:`Donors` of the rows of ``values`` (n, D) inside the box."""
    values = np.asarray(values, float)
    low, high = np.asarray(low, float), np.asarray(high, float)
    inside = values[np.isfinite(values).all(1) & ((values >= low) & (values <= high)).all(1)]
    if len(inside) < 2:
        raise SimulationError(f"a prior over {', '.join(columns)} needs at least 2 stars inside its "
                              f"range, got {len(inside)}")
    return Donors(tuple(columns), inside, low, high)


def part_from_arrays(a: dict[str, np.ndarray]) -> "Mixture | Donors":
    """A stored prior part back (:meth:`Mixture.arrays`, :meth:`Donors.arrays`); files written
    before donors existed hold mixtures alone, without a ``kind``."""
    if str(a.get("kind", "mixture")) == "donors":
        return Donors(tuple(str(c) for c in a["columns"]), a["values"], a["low"], a["high"])
    return Mixture.from_arrays(a)


def fit_mixture(values: np.ndarray, columns: tuple[str, ...], low, high, seed: int = 0) -> Mixture:
    """The Gaussian mixture of ``values`` (n, D) with the fewest BIC over 1 to
    :data:`MAX_COMPONENTS` components (at most one per :data:`STARS_PER_COMPONENT` stars),
    fitted on standardised values and returned in the values' own units."""
    values = np.asarray(values, float)
    if values.ndim != 2 or len(values) < 2 or not np.isfinite(values).all():
        raise SimulationError(f"a prior over {', '.join(columns)} needs at least 2 stars with finite "
                         f"values, got {len(values)}")
    centre, scale = values.mean(0), values.std(0)
    scale[scale == 0] = 1.0
    unit = (values - centre) / scale
    best = None
    with threadpool_limits(1):   # small fits: threads only contend (measured 10x the CPU time)
        for k in range(1, min(MAX_COMPONENTS, max(1, len(values) // STARS_PER_COMPONENT)) + 1):
            gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, n_init=2,
                                  random_state=seed).fit(unit)
            bic = gmm.bic(unit)
            if best is None or bic < best[0]:
                best = (bic, gmm)
    gmm = best[1]
    return Mixture(tuple(columns), gmm.weights_, gmm.means_ * scale + centre,
                   gmm.covariances_ * np.outer(scale, scale)[None], np.asarray(low, float),
                   np.asarray(high, float))


def fit_by_survey(stars: pd.DataFrame, columns: tuple[str, ...], low, high, seed: int = 0) -> Mixture:
    """:func:`fit_mixture` per survey of ``stars`` (the part of their ``star`` key before
    ":"), the components of all weighted by each survey's share of the stars; a survey with
    fewer than :data:`STARS_PER_COMPONENT` stars joins the largest one's fit. Why: a survey's
    stars carry the physics of its own calibration chain, and one mixture over their union
    smears the narrower: Stripe 82 RR Lyrae have the M_V-[Fe/H] relation's M_V at one assumed
    metallicity (a spike 0.03 mag wide), the bulge stars a spread of 0.36 mag; the RR Lyrae
    prior's two-sample accuracy against the held-out test stars, over eight draw seeds, was
    0.594 +- 0.022 with one mixture and is 0.581 +- 0.019 with one per survey (the real
    training stars themselves score 0.555 +- 0.018). With one survey this is
    :func:`fit_mixture` itself."""
    survey = surveys_of(stars["star"].to_numpy())
    counts = survey.value_counts()
    survey = survey.where(survey.map(counts) >= STARS_PER_COMPONENT, counts.index[0])
    parts = [(len(group), fit_mixture(group[list(columns)].to_numpy(), columns, low, high, seed))
             for _, group in stars.groupby(survey.to_numpy(), sort=True)]
    if len(parts) == 1:
        return parts[0][1]
    total = sum(n for n, _ in parts)
    return Mixture(tuple(columns), np.concatenate([m.weights * n / total for n, m in parts]),
                   np.concatenate([m.means for _, m in parts]),
                   np.concatenate([m.covariances for _, m in parts]),
                   np.asarray(low, float), np.asarray(high, float))


@dataclass
class ClassPrior:
    """The prior of one class: the primary mixture over the model's parameters and, for the
    parameters its training stars lack, the cross-match's stars used given the period."""

    cls: str
    primary: Mixture
    secondary: Donors | Mixture | None = None
    sources: dict[str, str] = field(default_factory=dict)   # parameter -> where it comes from
    n_stars: dict[str, int] = field(default_factory=dict)   # "primary"/"secondary" -> stars fitted

    def bounds(self, name: str) -> tuple[float, float] | None:
        for mixture in (self.primary, self.secondary):
            if mixture is not None and name in mixture.columns:
                i = mixture.columns.index(name)
                return float(mixture.low[i]), float(mixture.high[i])
        return None

    def sample(self, n: int, rng: np.random.Generator, fixed: dict[str, float] | None = None
               ) -> dict[str, np.ndarray]:
        """``n`` draws of every parameter of :data:`PARAMETERS` (NaN where the class has no
        source for it), ``fixed`` values holding and conditioning the others, and per star
        where its Teff came from (``teff_source``, :func:`teff_sources`)."""
        fixed = check_fixed(self, fixed)
        out = {k: np.full(n, v, float) for k, v in fixed.items()}
        out.update(self.primary.sample(n, rng, out))
        beyond = np.zeros(n, bool)
        if self.secondary is not None:
            beyond = self.secondary.beyond(out)
            out.update(self.secondary.sample(n, rng, out))
        drawn = {name: out.get(name, np.full(n, np.nan)) for name in PARAMETERS}
        return {**drawn, "teff_source": teff_sources(drawn["teff"], self.sources.get("teff", ""),
                                                     "teff" in fixed, beyond)}


def teff_sources(teff: np.ndarray, source: str, fixed: bool, beyond: np.ndarray | None = None
                 ) -> np.ndarray:
    """Per star where its Teff came from: ``fixed``; the prior's source, marked where the star's
    period lies beyond the donors' (:meth:`Donors.sample` extrapolated it); or ``none`` (NaN)."""
    if fixed:
        return np.full(len(teff), "fixed")
    labels = source if beyond is None else np.where(
        beyond, f"{source}, extrapolated beyond its periods", source)
    return np.where(np.isfinite(teff), labels, "none")


def check_fixed(prior, fixed: dict[str, float] | None) -> dict[str, float]:
    """Fixed values as the prior's parameters (``period`` in days becomes ``log_period``),
    each finite and within the prior's bounds for it."""
    out = {}
    for name, value in (fixed or {}).items():
        if name not in (*PARAMETERS, "period"):
            raise SimulationError(f"cannot fix {name!r}; fix one of period, teff, abs_mag")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SimulationError(f"fixed {name} must be a number, not {value!r}") from None
        if not math.isfinite(value) or (name == "period" and value <= 0):
            raise SimulationError(f"fixed {name} must be finite{' and positive' if name == 'period' else ''}")
        if name == "period":
            name, value = "log_period", math.log10(value)
        bounds = prior.bounds(name)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            shown = (lambda v: f"period {10 ** v:.4g} d") if name == "log_period" else (lambda v: f"{name} {v:.4g}")
            raise SimulationError(f"{prior.cls}: fixed {shown(value)} lies outside the prior's range "
                             f"{shown(bounds[0])} to {shown(bounds[1])} (the model's training range "
                             "for the parameters it responds to)")
        out[name] = value
    return out


def training_stars(model, cls: str, split: str) -> pd.DataFrame:
    """One row per real star of ``cls`` in ``split`` of the model's latent table, with
    log_period, teff and abs_mag, restricted to stars that have the class's parameters and a
    period inside the class's limits (:func:`pelsvae_core.data.relations.outside_class_periods`:
    a survey's type II Cepheid at 0.5 d is not drawn from)."""
    table = model.latents()
    stars = table[(table["cls"] == cls) & (table["split"] == split)].drop_duplicates("star")
    stars = stars[~outside_class_periods(cls, stars["period"].to_numpy(float))]
    stars = stars.assign(log_period=np.log10(stars["period"].where(stars["period"] > 0)))
    info = model.class_physics[cls]
    return stars[np.isfinite(stars[list(info.parameters)]).all(axis=1)]


def xmatch_stars(xmatch: pd.DataFrame, cls: str) -> pd.DataFrame:
    """The cross-match rows of ``cls`` as log_period, teff and abs_mag (its M_G)."""
    rows = xmatch[xmatch["Type"] == cls]
    period = rows["Period"].where(rows["Period"] > 0)
    return pd.DataFrame({"log_period": np.log10(period), "teff": rows["teff_val"],
                         "abs_mag": rows["abs_Gmag"]}).astype(float)


def fit_class_prior(model, cls: str, xmatch: pd.DataFrame | None, seed: int = 0
                    ) -> tuple[ClassPrior, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The class's prior, the held-out real physics for its two-sample test (``primary``:
    the model's test-split stars; ``secondary``: :data:`XMATCH_HOLDOUT` of the cross-match),
    and the real rows each part was fitted on (its two-sample control)."""
    info = model.class_physics[cls]
    columns = tuple(p for p in PARAMETERS if p in info.parameters)
    train = training_stars(model, cls, "train")
    low, high = ([info.ranges[c][end] for c in columns] for end in (0, 1))
    if "log_period" in columns:  # the class's period limits cut the training range where tighter
        with np.errstate(divide="ignore"):  # no lower limit: log10(0) = -inf
            limits = np.log10(class_period_limits(cls))
        k = columns.index("log_period")
        low[k], high[k] = max(low[k], limits[0]), min(high[k], limits[1])
    primary = fit_by_survey(train, columns, low, high, seed)
    held = {"primary": training_stars(model, cls, "test")[list(columns)].to_numpy()}
    fitted = {"primary": train[list(columns)].to_numpy()}
    prior = ClassPrior(cls, primary, None, {c: "model training stars" for c in columns},
                       {"primary": int(len(train))})
    missing = [p for p in PARAMETERS if p not in columns]
    if xmatch is None or not missing:
        return prior, held, fitted
    stars = xmatch_stars(xmatch, cls)
    stars = stars[np.isfinite(stars["log_period"])]
    extra = [p for p in missing if np.isfinite(stars[p]).sum() >= MIN_XMATCH_STARS]
    if cls in read_relations()["period"]:   # M_G from the calibrated relation, not DR2 parallaxes
        extra = [p for p in extra if p != "abs_mag"]
    reference = model.references.get(cls)
    extra = [p for p in extra if reference is not None and p in reference.ranges]
    if not extra:
        return prior, held, fitted
    both = stars[np.isfinite(stars[extra]).all(axis=1)][["log_period", *extra]].to_numpy()
    order = np.random.default_rng(seed).permutation(len(both))
    n_held = max(1, round(XMATCH_HOLDOUT * len(both))) if len(both) >= 2 * MIN_XMATCH_STARS else 0
    fit_rows, held_rows = both[order[n_held:]], both[order[:n_held]]
    secondary_columns = ("log_period", *extra)
    low = [-np.inf] + [reference.ranges[p][0] for p in extra]
    high = [np.inf] + [reference.ranges[p][1] for p in extra]
    prior.secondary = fit_donors(fit_rows, secondary_columns, low, high)
    prior.sources.update({p: "OGLE-III x Gaia DR2 cross-match, given the period" for p in extra})
    prior.n_stars["secondary"] = int(len(prior.secondary.values))
    held["secondary"] = held_rows
    fitted["secondary"] = fit_rows
    return prior, held, fitted


def fit_priors(model, classes, xmatch: pd.DataFrame | None, seed: int = 0) -> dict[str, ClassPrior]:
    """:func:`fit_class_prior` for each of ``classes`` (without the held-out stars)."""
    return {cls: fit_class_prior(model, cls, xmatch, seed)[0] for cls in classes}


#: Independent draws the prior report averages its two-sample accuracies over.
PRIOR_REPORT_DRAWS = 5
#: The two-sample classifier's smallest leaf (scikit-learn's default): a training fold of fewer
#: than twice as many rows cannot be split, and its accuracy is the folds' balance whatever the
#: rows (19 held-out DSCT: 0.471 for every draw and for the control alike).
TREE_MIN_LEAF = 20
#: Periods drawn from a class's primary part to count the share beyond its donors' range.
OUTSIDE_DRAWS = 20_000


def two_sample_accuracy(real: np.ndarray, drawn: np.ndarray, seed: int = 0) -> float:
    """Cross-validated accuracy (:data:`FOLDS` folds, balanced classes) of a gradient-boosted
    tree classifier (scikit-learn's HistGradientBoostingClassifier) telling ``drawn`` from
    ``real`` rows: 0.5 when the two are indistinguishable (the classifier two-sample test of
    Lopez-Paz & Oquab 2017, ICLR)."""
    n = min(len(real), len(drawn))
    if n < FOLDS:
        raise SimulationError(f"a two-sample test needs at least {FOLDS} rows per side, got {n}")
    x = np.vstack([real[:n], drawn[:n]])
    y = np.r_[np.zeros(n), np.ones(n)]
    classifier = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1,
                                                min_samples_leaf=TREE_MIN_LEAF, random_state=seed)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    with threadpool_limits(1):
        return float(cross_val_score(classifier, x, y, cv=folds, scoring="accuracy").mean())


def prior_report(model, xmatch: pd.DataFrame | None, classes, seed: int = 0,
                 draws: int = PRIOR_REPORT_DRAWS) -> pd.DataFrame:
    """Per class and part, the two-sample accuracy of drawn against held-out real physics (mean
    and standard deviation over ``draws`` independent draws: one draw of a few hundred stars
    moves it by +-0.03), the number of held-out stars, the half-width of chance's 95 % band
    (1.96 sqrt(0.25 / 2n), the binomial spread of a coin-flip accuracy over 2n predictions),
    and the control: the same test of real stars the part was made from (a random subset of
    the held-out count, drawn afresh each time; NaN where they are fewer than the folds)
    against the held-out ones, what a prior drawing real stars would score. ``excess``: the
    mean and standard deviation over draws of accuracy minus control, each pair on the same
    held-out stars, so their shared noise cancels (:func:`prior_verdict` reads it).
    ``outside``: for the secondary part, the share of periods the primary draws beyond the
    donors' (:meth:`Donors.sample` carries them there). ``testable``: False where the held-out
    stars are too few for the classifier to split at all (:func:`testable`), so the accuracy
    says nothing. A class whose prior cannot be made is a row with the ``reason``."""
    rows = []
    rng = np.random.default_rng(seed)
    for cls in classes:
        try:
            prior, held, fitted = fit_class_prior(model, cls, xmatch, seed)
        except SimulationError as error:
            rows.append({"class": cls, "part": "", "testable": False, "reason": str(error)})
            continue
        for part, real in held.items():
            density = getattr(prior, part)
            if len(real) < FOLDS:
                continue
            # the primary's joint; the secondary given the held-out stars' own periods, as a
            # simulation uses it (its period from the primary): Teff | P is what is tested
            given = {} if part == "primary" else {"log_period": real[:, 0]}
            accuracy, control = [], []
            for _ in range(draws):
                drawn = {**given, **density.sample(len(real), rng, given)}
                accuracy.append(two_sample_accuracy(
                    real, np.column_stack([drawn[c] for c in density.columns]), seed))
                own = fitted[part][rng.permutation(len(fitted[part]))[:len(real)]]
                control.append(two_sample_accuracy(real, own, seed) if len(own) >= FOLDS else np.nan)
            excess = np.subtract(accuracy, control)
            outside = np.nan
            if part == "secondary":
                periods = prior.primary.sample(OUTSIDE_DRAWS, rng)["log_period"]
                outside = float(np.mean(density.beyond({"log_period": periods})))
            rows.append({"class": cls, "part": part, "parameters": ", ".join(density.columns),
                         "density": density.describe(), "held_out": len(real),
                         "accuracy": float(np.mean(accuracy)), "accuracy_sd": float(np.std(accuracy)),
                         "control": float(np.mean(control)), "control_sd": float(np.std(control)),
                         "excess": float(np.mean(excess)), "excess_sd": float(np.std(excess, ddof=1)),
                         "draws": draws, "outside": outside,
                         "chance_95": 1.96 * math.sqrt(0.25 / (2 * len(real))),
                         "testable": testable(len(real)), "reason": ""})
    return pd.DataFrame(rows)


def testable(n_real: int) -> bool:
    """Whether :func:`two_sample_accuracy` on ``n_real`` rows a side can tell anything: its
    training folds must hold at least two of the classifier's smallest leaves."""
    return 2 * n_real * (FOLDS - 1) / FOLDS >= 2 * TREE_MIN_LEAF


def table_prior(table: pd.DataFrame, model, source: str = "table") -> dict[str, "TablePrior"]:
    """Per class, a :class:`TablePrior` from a user's table: columns ``cls`` and ``period``
    (days) or ``log_period``; optional ``teff``, ``abs_mag``, ``subtype``. Every row's
    parameters the model responds to must lie in the class's training range."""
    if "cls" not in table.columns or not ({"period", "log_period"} & set(table.columns)):
        raise SimulationError(f"{source} needs columns cls and period (days) or log_period; it has "
                         f"{', '.join(map(str, table.columns)) or 'none'}")
    table = table.copy()
    if "log_period" not in table.columns:
        period = pd.to_numeric(table["period"], errors="coerce")
        table["log_period"] = np.log10(period.where(period > 0))
    for name in ("teff", "abs_mag"):
        table[name] = pd.to_numeric(table[name], errors="coerce") if name in table.columns else np.nan
    table["log_period"] = pd.to_numeric(table["log_period"], errors="coerce")
    unknown = sorted(set(table["cls"].astype(str)) - set(model.class_physics))
    if unknown:
        raise SimulationError(f"{source}: unknown class(es) {', '.join(unknown)}; this model generates "
                         f"{', '.join(sorted(model.class_physics))}")
    priors = {}
    for cls, rows in table.groupby(table["cls"].astype(str), sort=True):
        info = model.class_physics[cls]
        for name in info.parameters:
            values = rows[name].to_numpy(float)
            lo, hi = info.ranges[name]
            bad = ~np.isfinite(values) | (values < lo) | (values > hi)
            if bad.any():
                raise SimulationError(f"{source}: {int(bad.sum())} {cls} row(s) have {name} missing or "
                                 f"outside the model's training range {lo:.4g} to {hi:.4g}")
        # a blank cell is "not said", as in the cache's vocabulary
        subtype = (rows["subtype"].fillna(UNKNOWN).astype(str).str.strip().replace("", UNKNOWN)
                   .to_numpy() if "subtype" in rows else None)
        priors[cls] = TablePrior(cls, rows[list(PARAMETERS)].to_numpy(float), subtype, source)
    return priors


@dataclass
class TablePrior:
    """A user's parameter rows of one class, drawn with replacement."""

    cls: str
    values: np.ndarray            # (rows, len(PARAMETERS))
    subtype: np.ndarray | None
    source: str

    @property
    def sources(self) -> dict[str, str]:
        return {p: self.source for p in PARAMETERS}

    def bounds(self, name: str) -> tuple[float, float] | None:
        column = self.values[:, PARAMETERS.index(name)]
        known = column[np.isfinite(column)]
        return (float(known.min()), float(known.max())) if known.size else None

    def sample(self, n: int, rng: np.random.Generator, fixed: dict[str, float] | None = None
               ) -> dict[str, np.ndarray]:
        fixed = check_fixed(self, fixed)
        rows = rng.integers(0, len(self.values), n)
        out = {p: self.values[rows, i] for i, p in enumerate(PARAMETERS)}
        out.update({k: np.full(n, v) for k, v in fixed.items()})
        out["teff_source"] = teff_sources(out["teff"], self.source, "teff" in fixed)
        if self.subtype is not None:
            out["subtype"] = self.subtype[rows]
        return out


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet table (by suffix), with a clear error when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise SimulationError(f"table {path} does not exist")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise SimulationError(f"could not read {path}: {error}") from None
    raise SimulationError(f"table {path} must end in .csv or .parquet")


def save_priors(priors: dict[str, ClassPrior]) -> bytes:
    """The fitted priors as one ``.npz`` of arrays (``<class>/<part>/<array>``) and a JSON
    record of sources and star counts; read back by :func:`load_priors` without pickle."""
    flat = {"__meta__": np.array(json.dumps({cls: {"sources": p.sources, "n_stars": p.n_stars}
                                             for cls, p in priors.items()}))}
    for cls, prior in priors.items():
        for part in ("primary", "secondary"):
            mixture = getattr(prior, part)
            if mixture is not None:
                flat.update({f"{cls}/{part}/{k}": v for k, v in mixture.arrays().items()})
    buffer = io.BytesIO()
    np.savez(buffer, **flat)
    return buffer.getvalue()


def load_priors(content: bytes) -> dict[str, ClassPrior]:
    with np.load(io.BytesIO(content), allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        parts: dict[tuple[str, str], dict] = {}
        for key in data.files:
            if key != "__meta__":
                cls, part, name = key.split("/")
                parts.setdefault((cls, part), {})[name] = data[key]
    return {cls: ClassPrior(cls, Mixture.from_arrays(parts[(cls, "primary")]),
                            part_from_arrays(parts[(cls, "secondary")])
                            if (cls, "secondary") in parts else None,
                            record["sources"], record["n_stars"])
            for cls, record in meta.items()}
