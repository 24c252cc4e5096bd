"""The inverse problem: an observed, unfolded curve -> class, mode, period and physics.

1. :func:`.observed.prepare` checks the input.
2. :mod:`.periods`: periodogram peaks and their aliases, ranked by a multi-harmonic fit.
3. Per class the model was trained on in the curve's bands (with at least
   :data:`.reference.MIN_STARS` stars), and per candidate period the
   class's period density allows, :func:`.fit.scan` finds the best latent centre and
   phase; the best-scoring (class, period) pairs are fitted in full (:func:`.fit.refine`),
   each giving a Laplace evidence under the class's prior of latent and period, its training
   stars as a kernel density (:meth:`.reference.ClassReference.log_class_prior`). A class
   none of whose pairs is fitted gets probability 0.
4. With equal prior odds for the classes, the evidences give the class probabilities
   (with a share of the prior kept, :data:`CLASS_PRIOR_WEIGHT`) and a mixture over periods;
   :mod:`.posterior` turns the winning class's fits into Teff (with a share of the class's
   prior kept, :data:`TEFF_PRIOR_WEIGHT`) and, with a distance, M intervals and the subtype (the RR Lyrae mode from the
   OGLE-III boundary; other classes' from their training stars' own). Residuals correlated
   along phase or time (a shape the model misses) mean fewer independent points than
   points: the log evidences are divided by beta^2 of the best fit
   (:func:`.fit.correlated_noise_factor`; a power likelihood, as the covariances are
   multiplied by beta^2), so that such misfits do not turn into false certainty. The
   class's prior of latent and period is a prior, not a likelihood, and is not tempered (Bissiri,
   Holmes & Walker 2016, JRSS B 78, 1103: a power posterior raises the likelihood alone):
   tempered with the rest, a 400-day type II Cepheid, which no training star comes near
   (period density e^-7.5 per dex against e^0 for a long-period variable), cost the
   class only e^-1, and a third of the Catalina Miras went to T2CEP or, at twice the
   period, to ECL (``benchmarks/infer.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..data.subtypes import UNKNOWN
from ..periodogram import RECOVERY_TOLERANCE
from . import periods, posterior
from .encoding import encode
from .fit import Fit, refine, scan
from ..photometry import checked_distance, distance_modulus
from .observed import Observed, prepare
from .recalibration import TeffRecalibration
from .reference import MIN_STARS, references

#: The O-C diagram's frequency uncertainty (:func:`.fit.o_minus_c`) this many times the fit's
#: own is reported as a wandering phase.
WANDER_FACTOR = 2.0
#: Candidate periods fitted in full per class, and in all.
FITS_PER_CLASS, MAX_FITS = 2, 6
#: Candidates whose scan score (log-likelihood of the best latent centre plus the log period
#: prior) falls this far below the best are not fitted: odds below e^-30 (~1e-13) before the
#: full fit, whose gain over the centres rarely reaches this (see benchmarks/infer.py).
SCAN_MARGIN = 30.0
#: A class is not tried at a period with none of its training stars within this many kernel
#: widths (:attr:`.reference.ClassReference.period_bandwidth`) in log period.
PERIOD_REACH = 4.0
#: The period search spans the classes' training periods widened by these factors.
SHORTEST_FACTOR, LONGEST_FACTOR = 0.8, 1.25
#: Weight of the class's Teff prior (its training stars' Teff, each alike) mixed into the Teff
#: posterior: a defensive mixture (Hesterberg 1995, Technometrics 37, 185) for the curves whose
#: latent fit the posterior trusts too much. Chosen on the validation split by the mean log
#: predictive density of the stars' own Teff, the smallest weight within 0.01 nat per curve of
#: the best (``benchmarks/posterior_shares.py --split val``, models/default, 2026-12-03: 339
#: curves of 40 Stripe 82 and 40 OGLE-IV RR Lyrae and 40 LMC Cepheids, whole and at 60 and 30
#: epochs; -6.708 nats without it, -6.690 at 0.02, -6.704 at 0.1, -6.735 at 0.2). It was 0.2
#: (chosen on the RR Lyrae alone, 2026-12-02: -8.12 nats without it) while a sparse curve's
#: latent vector came with the encoder's variance only; with its bootstrap variance
#: (:func:`.encoding.encode`) the posterior no longer leans on the prior.
TEFF_PRIOR_WEIGHT = 0.02
#: Weight of the prior (every class considered alike) mixed into the class probabilities, the
#: same defensive mixture: the evidences of two fitted classes differ by tens of nats, and a
#: class none of whose periods survives the scan gets none, so a misclassified curve had
#: p = 1.00 for the wrong class and 0 for its own. Chosen on the validation split by the mean
#: log probability of the true class: the smallest weight within 0.01 nat per curve of the
#: best whose mean top probability is not above the accuracy (``benchmarks/posterior_shares.py
#: --split val``, models/default v3, 2026-12-02: 619 curves of OGLE-IV RR Lyrae, LMC Cepheids
#: and Catalina stars, whole and at 60 / 30 epochs, with the class prior of
#: :data:`.reference.CLASS_KERNEL_SCALE`: -8.15 nats without it, -0.284 with 0.05 (the best),
#: -0.292 with 0.10; mean top probability 0.946 and 0.912 against an accuracy of 0.927: 0.05
#: claimed more than it got). Run again on 2026-12-03 (638 curves, sparse latents with their
#: bootstrap variance): -0.374 with 0.10 (the best), top probability 0.912 against an accuracy
#: of 0.906; -0.384 with 0.15 (0.0100 nat below the best, on the rule's edge), 0.878. Kept at
#: 0.10: on 40 test stars per group it promises 681 classes right where 693 are (+1.7 SD), and
#: 0.15 would promise ~30 fewer.
CLASS_PRIOR_WEIGHT = 0.1
#: Fewer effective training stars than this behind a physics interval earns a warning.
MIN_EFFECTIVE_STARS = 20
KEYS = ("class", "class_probabilities", "subtype", "subtype_probabilities", "period",
        "period_interval", "teff", "abs_mag", "amplitude", "n_points", "warnings")


@dataclass
class Inference:
    """What :func:`analyse` found: ``result`` (the dictionary of :func:`infer`), the fits
    behind it with their mixture weights, the best fit, the checked curve, and the weighted
    training stars behind the Teff interval ((values, kernel width, weights), or None)."""

    result: dict
    fits: list[Fit]
    weights: np.ndarray
    best: Fit
    observed: Observed
    teff_samples: tuple[np.ndarray, float, np.ndarray] | None
    teff_recalibration: TeffRecalibration | None = None

    def teff_quantiles(self, q) -> np.ndarray | None:
        """Quantiles ``q`` (e.g. 0.025, 0.975) of the Teff posterior, recalibrated where the
        model holds a map for the class (:mod:`.recalibration`), or None without a posterior."""
        return _teff_quantiles(self.teff_samples, self.teff_recalibration, q)

    def teff_pit(self, teff: float) -> float | None:
        """The raw (not recalibrated) Teff posterior's distribution function at ``teff``: the
        PIT value a recalibration is fitted on (:mod:`.recalibration`)."""
        if self.teff_samples is None:
            return None
        values, width, weights = self.teff_samples
        return posterior.mixture_cdf(teff, values, width, weights)

    def curve(self, times, band: str | None = None) -> np.ndarray:
        """The best-fitting curve (magnitudes) at ``times`` in ``band`` (default: the band with
        the most points)."""
        band = band or _main_band(self.observed)
        if band not in self.best.bands:
            raise ValueError(f"band {band!r} was not fitted; the fit has {', '.join(self.best.bands)}")
        return self.best.magnitudes(np.asarray(times, float), self.best.bands.index(band))


def _teff_quantiles(samples, recalibration: TeffRecalibration | None, q) -> np.ndarray | None:
    """Quantiles ``q`` of the Teff posterior ``samples`` (:func:`_teff`) at the levels of the
    class's ``recalibration`` (none: the raw levels)."""
    if samples is None:
        return None
    q = np.asarray(q, float)
    return posterior.mixture_quantiles(*samples, q if recalibration is None else recalibration.levels(q))


def _main_band(obs: Observed) -> str:
    return max(obs.bands, key=lambda b: int(obs.in_band(b).sum()))


def _search_range(refs, classes: list[str], obs: Observed) -> tuple[float, float]:
    log_p = np.concatenate([refs.get(c, obs.bands).log_period for c in classes])
    shortest = SHORTEST_FACTOR * 10 ** log_p.min()
    longest = min(LONGEST_FACTOR * 10 ** log_p.max(), obs.baseline)
    if longest <= shortest:
        raise ValueError(f"the time baseline ({obs.baseline:.3g} d) is shorter than the shortest "
                         f"period the candidate classes have ({shortest:.3g} d)")
    return 1 / longest, 1 / shortest


def _fits(model, obs: Observed, classes: list[str]) -> list[Fit]:
    refs = references(model)
    t_ref = float(obs.time.mean())
    ranked = periods.ranked(obs, periods.candidates(obs, *_search_range(refs, classes, obs)), t_ref)
    tried = []
    for cls in classes:
        reference = refs.get(cls, obs.bands)
        grids = refs.centre_grids(reference)
        for f, taus in ranked:
            log_p = math.log10(1 / f)
            if np.abs(reference.log_period - log_p).min() > PERIOD_REACH * reference.period_bandwidth:
                continue
            start = scan(obs, grids, reference.centres, f, t_ref, taus)
            score = (start.log_likelihood - math.log(f)
                     + float(reference.log_period_density(np.array([log_p]))[0]))
            tried.append((score, cls, f, start, taus))
    if not tried:
        raise ValueError("no candidate period lies within the period range of any class trained "
                         f"in band(s) {', '.join(obs.bands)}")
    tried.sort(key=lambda item: -item[0])
    fits, per_class = [], {}
    for score, cls, f, start, taus in tried:
        if score < tried[0][0] - SCAN_MARGIN or len(fits) == MAX_FITS:
            break
        if per_class.get(cls, 0) == FITS_PER_CLASS:
            continue
        fit = refine(obs, refs.get(cls, obs.bands), model.decoder, f, t_ref, start, taus)
        if np.isfinite(fit.log_evidence):
            fits.append(fit)
            per_class[cls] = per_class.get(cls, 0) + 1
    return fits


def _star_log_weights(model, obs: Observed, fits: list[Fit], reference, vote: bool
                      ) -> tuple[list[np.ndarray], list[np.ndarray]] | str:
    """Per fit of the class, log w_k of every reference star (:func:`.posterior.star_log_weights`)
    with the Teff kernels and, where the training stars' ``vote`` names the subtype, with the
    subtype kernels (else the Teff ones again: the RR Lyrae mode comes from the OGLE-III
    boundary); or why the curve could not be encoded."""
    teff, subtype = [], []
    for fit in fits:
        encoded = encode(model, obs, fit.cls, fit.period)
        if isinstance(encoded, str):
            return f"the curve could not be encoded ({encoded})"
        teff.append(posterior.star_log_weights(*encoded, fit, reference))
        subtype.append(posterior.star_log_weights(*encoded, fit, reference,
                                                  reference.subtype_kernel_scales)
                       if vote else teff[-1])
    return teff, subtype


def _mixed(log_weights: list[np.ndarray], weights: np.ndarray, among: np.ndarray) -> np.ndarray:
    """The posterior weights of the reference stars ``among`` (a mask): each fit's, normalised
    over them, mixed by the fits' ``weights``."""
    total = np.zeros(among.sum())
    for log_w, weight in zip(log_weights, weights):
        w = np.exp(log_w[among] - log_w[among].max())
        total += weight * w / w.sum()
    return total


def _teff(log_weights: list[np.ndarray] | str, weights: np.ndarray, reference
          ) -> tuple[np.ndarray, float, np.ndarray] | str:
    """The reference stars' known Teff, their kernel width and their posterior weights under
    the class's fits (mixed by ``weights``), with :data:`TEFF_PRIOR_WEIGHT` of the class's
    prior (every star alike) mixed in, or why there are none."""
    known = np.isfinite(reference.teff)
    if not known.any():
        return (f"the model's training stars of {reference.cls} in band(s) "
                f"{', '.join(reference.bands)} have no Teff")
    if isinstance(log_weights, str):
        return log_weights
    posterior = _mixed(log_weights, weights, known)
    prior = np.full(posterior.size, 1.0 / posterior.size)
    return (reference.teff[known], reference.teff_bandwidth,
            (1 - TEFF_PRIOR_WEIGHT) * posterior + TEFF_PRIOR_WEIGHT * prior)


def analyse(model, times, mags, errs, band=None, distance_pc: float | None = None) -> Inference:
    """Infer class, mode, period and physics of one curve (see :func:`infer`); the
    :class:`Inference` also holds the fits and the best-fitting curve.

    Runs with one BLAS thread: its matrices are tiny, and threads only contend (a periodogram
    refinement took 100 times longer with OpenBLAS's default threads on a busy 2-core machine).
    """
    with threadpool_limits(limits=1):
        return _analyse(model, times, mags, errs, band, distance_pc)


def _abs_mag(best: Fit, band: str, distance_pc: float | None, warnings: list[str]) -> dict | None:
    """M = <m> - 5 log10(d / 10 pc) in ``band``, <m> the best fit's intensity-mean magnitude
    (:meth:`.fit.Fit.intensity_mean_mag`), with the error of its mean magnitude."""
    if distance_pc is None:
        warnings.append("abs_mag is null: it needs a distance (distance_pc)")
        return None
    b = best.bands.index(band)
    m = float(best.intensity_mean_mag()[b]) - float(distance_modulus(distance_pc))
    s = float(best.mean_mag_sigma()[b])
    warnings.append(f"abs_mag is the intensity-mean absolute magnitude in band {band} (m - 5 "
                    f"log10(d / 10 pc)), not corrected for extinction; the model's training "
                    f"stars use Gaia G")
    return {"median": m, "p16": m - s, "p84": m + s}


def _subtype(model, fits: list[Fit], weights: np.ndarray, band_index: int,
             log_weights: list[np.ndarray] | str, reference, warnings: list[str]
             ) -> tuple[str | None, dict | None]:
    """The subtype and its probabilities, mixed over the class's fits. RR Lyrae: RRab or RRc
    from the OGLE-III boundary (:func:`.posterior.rrc_probability`). Other classes: the vote
    of the training stars whose subtype is known, each weighted by its posterior weight under
    the fits (kernels cross-validated on the subtypes: :attr:`.reference.ClassReference.
    subtype_kernel_scales`); (None, None) where the class's training
    stars in these bands name fewer than two subtypes."""
    cls = fits[0].cls
    if cls == "RRLYR":
        p_c = sum(float(w) * posterior.rrc_probability(fit, model.decoder, band_index)
                  for fit, w in zip(fits, weights))
        warnings.append("subtype (RRab/RRc) is derived from the period and the fitted curve's R21 "
                        "with a boundary fitted on the OGLE-III catalogue (I band), not by the model")
        return ("RRc" if p_c > 0.5 else "RRab"), {"RRab": 1 - p_c, "RRc": p_c}
    known = reference.subtype != UNKNOWN
    names = sorted(set(reference.subtype[known]))
    if len(names) < 2:
        warnings.append(f"subtype is null: the model's training stars of {cls} in band(s) "
                        f"{', '.join(reference.bands)} name {len(names) or 'no'} subtype"
                        f"{'' if len(names) == 1 else 's'}")
        return None, None
    if isinstance(log_weights, str):
        warnings.append(f"subtype is null: {log_weights}")
        return None, None
    w = _mixed(log_weights, weights, known)
    probabilities = {name: float(w[reference.subtype[known] == name].sum()) for name in names}
    warnings.append(f"subtype ({'/'.join(names)}) is the vote of the {known.sum()} training stars "
                    f"of {cls} with a known subtype, weighted by their nearness to the fit in "
                    "latent space and period")
    return max(probabilities, key=probabilities.get), probabilities


def class_probabilities(fits: list[Fit], weights: np.ndarray, considered: list[str],
                        all_classes) -> dict[str, float]:
    """Each class's posterior weight (its fits' summed), with :data:`CLASS_PRIOR_WEIGHT` of the
    prior (every class considered alike) mixed in; 0 for the classes not considered."""
    summed = {c: 0.0 for c in all_classes}
    for fit, w in zip(fits, weights):
        summed[fit.cls] += float(w)
    share = CLASS_PRIOR_WEIGHT / len(considered)
    return {c: (1 - CLASS_PRIOR_WEIGHT) * p + (share if c in considered else 0.0)
            for c, p in summed.items()}


def _analyse(model, times, mags, errs, band, distance_pc) -> Inference:
    if distance_pc is not None:
        distance_pc = checked_distance(distance_pc)  # a bad distance fails before any work
    obs = prepare(times, mags, errs, band, model.decoder.bands, model.decoder.default_band)
    warnings = list(obs.warnings)
    refs = references(model)
    classes, too_few = refs.classes_for(obs.bands)
    if not classes:
        raise ValueError(f"no class of this model was trained on {MIN_STARS} or more stars in all "
                         f"of the band(s) {', '.join(obs.bands)}; give the bands one at a time")
    if too_few:
        warnings.append(f"not considered: {', '.join(too_few)} (fewer than {MIN_STARS} training "
                        f"stars in band(s) {', '.join(obs.bands)})")
    if len(classes) == 1:
        warnings.append(f"only {classes[0]} was trained in band(s) {', '.join(obs.bands)}: the "
                        f"class is certain by construction, not by the data")
    fits = _fits(model, obs, classes)
    weights = posterior.fit_weights(fits)
    probabilities = class_probabilities(fits, weights, classes, model.decoder.classes)
    best_class = max(probabilities, key=probabilities.get)
    own = [i for i, fit in enumerate(fits) if fit.cls == best_class]
    own_fits, own_weights = [fits[i] for i in own], weights[own] / weights[own].sum()
    best = own_fits[int(np.argmax(own_weights))]
    main = _main_band(obs)
    b = obs.bands.index(main)
    reference = refs.get(best_class, obs.bands)

    log_weights = _star_log_weights(model, obs, own_fits, reference, vote=best_class != "RRLYR")
    teff_weights, subtype_weights = ((log_weights, log_weights) if isinstance(log_weights, str)
                                     else log_weights)
    samples = _teff(teff_weights, own_weights, reference)
    if isinstance(samples, str):
        warnings.append(f"teff is null: {samples}")
        samples = None
    recalibration = None
    if samples is not None:
        recalibration = refs.teff_recalibrations.get(best_class)
        if recalibration is None:
            warnings.append(f"the teff interval is not recalibrated: the model holds no "
                            f"recalibration for {best_class} (pelsvae calibrate-inference)")
    teff = None if samples is None else posterior.as_interval(
        _teff_quantiles(samples, recalibration, posterior.QUANTILES))
    if samples is not None and posterior.effective_stars(samples[2]) < MIN_EFFECTIVE_STARS:
        warnings.append(f"the teff interval rests on {posterior.effective_stars(samples[2]):.0f} "
                        f"effective training stars (fewer than {MIN_EFFECTIVE_STARS}): coarse")
    abs_mag = _abs_mag(best, main, distance_pc, warnings)
    subtype, subtype_probabilities = _subtype(model, own_fits, own_weights, b, subtype_weights,
                                              reference, warnings)
    typical_err = float(np.median(obs.err))
    interval = posterior.period_interval(fits, weights, [
        posterior.period_width_scale(posterior.fit_quality(fit, b, typical_err, len(obs)))
        for fit in fits])
    if interval["p84"] / interval["p16"] - 1 > RECOVERY_TOLERANCE:
        warnings.append(f"the period is ambiguous: its 16-84 % interval spans "
                        f"{interval['p16']:.6g}-{interval['p84']:.6g} d, wider than "
                        f"{100 * RECOVERY_TOLERANCE:g} % (aliases compete)")
    if best.timing_sigma > WANDER_FACTOR * best.own_frequency_sigma:
        warnings.append(f"the phase wanders between observing seasons (a Blazhko effect or a "
                        f"changing period?): a constant period explains the fit's O-C diagram with "
                        f"p = {best.constant_period_p:.2g}, and from it the period's interval is "
                        f"{best.timing_sigma / best.own_frequency_sigma:.1f} times as wide as the "
                        f"fit alone gives; it is an interval for the mean period over these data, "
                        f"and other years' data may give a period outside it")
    result = {
        "class": best_class, "class_probabilities": probabilities, "subtype": subtype,
        "subtype_probabilities": subtype_probabilities, "period": best.period,
        "period_interval": interval, "teff": teff, "abs_mag": abs_mag,
        "amplitude": float(best.amplitude[b] * np.ptp(best.grids[b])), "n_points": len(obs),
        "warnings": warnings,
    }
    return Inference(result, fits, weights, best, obs, samples, recalibration)


def infer(model, times, mags, errs, band=None, distance_pc: float | None = None) -> dict:
    """Class, subtype (mode), period and physics of an observed, unfolded light curve.

    ``times`` in days, ``mags`` and ``errs`` in magnitudes, ``band`` one name for all points,
    one per point (several bands are fitted together, one latent block each), or None
    (the model's default band, with a warning). Keys: ``class`` and ``class_probabilities``
    (equal prior odds over the classes trained in the curve's bands), ``subtype`` and
    ``subtype_probabilities`` (RRab/RRc for RR Lyrae; for other classes the subtypes their
    training stars name, e.g. Cepheid F/1O, eclipsing EA/EB/EW; else null), ``period``
    (days, the best fit of the class) and ``period_interval``, ``teff`` and ``abs_mag`` (needs
    ``distance_pc``) as ``{"median", "p16", "p84"}`` or null, ``amplitude`` (peak-to-peak of
    the fitted curve in the band with most points, mag), ``n_points`` and ``warnings``.
    :func:`analyse` gives the best-fitting curve too.
    """
    return analyse(model, times, mags, errs, band, distance_pc).result
