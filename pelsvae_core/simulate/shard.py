"""One shard of a simulation: its stars drawn, observed and made into an Arrow table.

A shard depends on the plan and its index only: its random numbers come from
``SeedSequence(seed, spawn_key=(index,))`` (NumPy's independent streams for parallel
work), split into the population, the cadence, the latent draws (one stream per
class block, so every band of a star uses the same numbers; the drawn subtypes a
stream spawned off it), the noise, the stars' colours and their luminosities where drawn
from a period-luminosity relation. So a shard is the same whichever worker makes it, and a
run the same for any number of workers.

A star's mean magnitude in a band is M_G + (band - G)_0 + distance modulus + extinction:
the intrinsic colour from its Teff where its class's model responds to Teff, else from its
class's period-colour relation plus the relation's spread drawn once per star, so all its
bands are coherent (:mod:`pelsvae_core.data.relations`). Where no colour can be derived (no
relation for the class, a colour beyond a relation's stars) the band's ``colour`` is NaN and
its mean magnitude M_G-based: flagged, not guessed.
"""
from __future__ import annotations

import numpy as np

from ..data import relations
from ..data.calibration import Calibrated
from ..data.subtypes import UNKNOWN
from . import curves
from .plan import Plan
from ..generation import relative_magnitudes
from ..photometry import distance_modulus
from .population import classes_of, extinction

#: Rows over one period in an LCLIB event (first and last equal): 1/64 of a period apart.
LCLIB_ROWS = 65
PRIOR_SOURCE = "prior"


def _matrix(rows: np.ndarray, values: np.ndarray, m: int):
    """``values`` of epochs belonging to stars ``rows`` (sorted) as an (m, width) matrix, and
    each epoch's column (None when every star has the same number: a plain reshape)."""
    counts = np.bincount(rows, minlength=m)
    width = int(counts.max()) if m else 0
    if (counts == width).all():
        return values.reshape(m, width), None
    column = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    matrix = np.zeros((m, width), values.dtype)
    matrix[rows, column] = values
    return matrix, column


def _abs_mag(model, cls: str, drawn: np.ndarray, log_period: np.ndarray, subtype,
             rng: np.random.Generator):
    """The drawn absolute magnitude, else the class's (and subtype's) period-luminosity relation
    measured on the OGLE-III LMC stars plus its scatter drawn per star, else (eclipsing and
    ellipsoidal binaries) the OGLE x Gaia DR2 cross-match's line, the paper's parallax
    convention (:meth:`pelsvae_core.physics.mapping.PhysicsMap.period_luminosities`); and which
    it was per star. One normal per star is drawn whichever it needs, so the stream's later
    numbers do not depend on it."""
    missing = ~np.isfinite(drawn)
    scatter = rng.standard_normal(len(drawn))
    if not missing.any():
        return drawn, np.full(len(drawn), PRIOR_SOURCE)
    line, found = model.physics.period_luminosities(cls, log_period, subtype)
    spread = np.where(found.ok, np.nan_to_num(found.sigma) * scatter, 0.0)
    source = np.select([missing & found.ok, missing],
                       ["period-luminosity, OGLE-III LMC",
                        "period-luminosity, OGLE x Gaia DR2 (paper convention)"], PRIOR_SOURCE)
    return np.where(missing, line + spread, drawn), source


def _colour_index(cls: str, physics: dict, parameters, subtype: np.ndarray,
                  rng: np.random.Generator) -> Calibrated:
    """Each star's intrinsic (V - I)_0: from its Teff where the class's model responds to Teff,
    else its class's period-colour relation plus the relation's spread times one normal draw
    (real stars scatter about it: intrinsically, by photometric errors and by differential
    reddening, so the spread is an upper bound). One normal per star is drawn either way, so
    the stream's later numbers do not depend on the path."""
    teff = physics["teff"] if "teff" in parameters else None
    vi0 = relations.intrinsic_vi0(cls, physics["log_period"], teff, subtype)
    scatter = rng.standard_normal(len(vi0))
    if teff is not None:
        return vi0
    return Calibrated(vi0.value + np.nan_to_num(vi0.sigma) * scatter, vi0.sigma, vi0.source,
                      vi0.reason, unit="mag")


def make_shard(model, plan: Plan, index: int) -> tuple[dict, dict, dict, dict]:
    """The shard's star columns, per-band rows, per-epoch rows (see
    :func:`.output.shard_table`) and, with LCLIB output, per class its events."""
    start, stop = plan.shard_range(index)
    n = stop - start
    population, cadence, latent, noise, colour, luminosity = np.random.SeedSequence(
        plan.seed, spawn_key=(index,)).spawn(6)
    rng = np.random.default_rng(population)
    rng_colour, rng_luminosity = np.random.default_rng(colour), np.random.default_rng(luminosity)
    rng_noise = np.random.default_rng(noise) if plan.noise else None
    space = plan.space.draw(start, stop, rng)
    visits, star_of, visit_of = plan.cadence.epochs(
        space["ra"], space["dec"], int(np.random.default_rng(cadence).integers(2 ** 31)))
    names, visit_code = np.unique(visits.band, return_inverse=True)
    band_code = np.array([plan.band_names.index(b) for b in names], np.int8)[visit_code][visit_of]
    blocks = classes_of(plan.counts, start, stop)
    # a star sees only the visits in its class's survey bands
    allowed = np.zeros((len(blocks), len(plan.band_names)), bool)
    for k, (cls, _, _) in enumerate(blocks):
        allowed[k, [plan.band_names.index(b) for b, _ in plan.band_map[cls]]] = True
    if not allowed.all():   # else nothing to drop: no index over every epoch
        block_of = np.repeat(np.arange(len(blocks)), [hi - lo for _, lo, hi in blocks])
        keep = allowed[block_of[star_of], band_code]
        star_of, visit_of, band_code = star_of[keep], visit_of[keep], band_code[keep]
    time = visits.time[visit_of]
    depth = visits.depth[visit_of].astype(np.float32)   # the noise in single precision, as written
    first = np.searchsorted(star_of, np.arange(n + 1))
    epochs = {k: np.full(len(time), np.nan, np.float32) for k in ("mag", "mag_err", "flux", "flux_err")}
    epochs["detected"] = np.zeros(len(time), bool)
    stars, bands, lclib = [], [], {}
    t_ref = float(visits.time.min()) if len(visits) else plan.cadence.start_mjd
    latent_streams = latent.spawn(len(plan.counts))
    for block, (cls, lo, hi) in enumerate(blocks):
        a, b, m = lo - start, hi - start, hi - lo
        physics = plan.priors[cls].sample(m, rng, plan.fixed)
        period = 10 ** physics["log_period"]
        abs_mag, source = _abs_mag(model, cls, physics["abs_mag"], physics["log_period"],
                                   physics.get("subtype"), rng_luminosity)
        epoch = t_ref + rng.uniform(0, 1, m) * period
        modulus = distance_modulus(space["distance_pc"][a:b])
        info = model.class_physics[cls]
        pairs = plan.band_map[cls]
        parameters = np.column_stack([physics[p] for p in info.parameters])
        model_bands = dict.fromkeys(mb for _, mb in pairs)
        subtype, subtype_source = curves.subtypes(model, cls, plan.regressors[cls], parameters,
                                                  model_bands, physics.get("subtype", np.full(m, UNKNOWN)),
                                                  latent_streams[block])
        drawn = curves.latents(model, cls, plan.regressors[cls], parameters, model_bands,
                               latent_streams[block], subtype)
        vi0 = _colour_index(cls, physics, info.parameters, subtype, rng_colour)
        grids, per_band, templates = {}, [], []
        for survey_band, model_band in pairs:
            z, amplitude, clipped = drawn[model_band]
            if model_band not in grids:
                grids[model_band] = curves.decode(model, z, cls, model_band)
            grid = grids[model_band]
            a_band = extinction(space["a_v"][a:b], survey_band)
            colour = relations.band_minus_g(relations.read_relations(), model_band, vi0).value
            mean = abs_mag + np.nan_to_num(colour) + modulus + a_band
            e0, e1 = first[a], first[b]
            sel = e0 + np.flatnonzero(band_code[e0:e1] == plan.band_names.index(survey_band))
            if sel.size:
                rows = star_of[sel] - a
                times, column = _matrix(rows, time[sel], m)
                phase = (times - epoch[:, None]) / period[:, None]   # wrapped where it is read
                relative, = relative_magnitudes(grid, amplitude, phase)
                observed = curves.photometry(relative + mean[:, None].astype(relative.dtype),
                                             _matrix(rows, depth[sel], m)[0], survey_band,
                                             model_band, rng_noise, plan.cadence.floor)
                where = slice(e0, e1) if sel.size == e1 - e0 else sel
                for key, values in observed.items():
                    epochs[key][where] = values.ravel() if column is None else values[rows, column]
            per_band.append({"band": survey_band, "model_band": model_band, "mean_mag": mean,
                             "amplitude": amplitude, "amplitude_clipped": clipped,
                             "extinction": a_band, "colour": colour, "z": z})
            if plan.lclib:
                grid_phase = np.linspace(0.0, 1.0, LCLIB_ROWS)
                templates.append(relative_magnitudes(grid, amplitude, grid_phase)[0] + mean[:, None])
        stars.append({"star_id": np.arange(lo, hi), "cls": np.full(m, cls),
                      "subtype": subtype, "subtype_source": subtype_source,
                      "period": period, "teff": physics["teff"], "abs_mag": abs_mag,
                      "abs_mag_source": source, "teff_source": physics["teff_source"],
                      "distance_pc": space["distance_pc"][a:b],
                      "ra": space["ra"][a:b], "dec": space["dec"][a:b], "a_v": space["a_v"][a:b],
                      "epoch": epoch, "regressor": np.full(m, plan.regressors[cls]),
                      "vi0": vi0.value})
        block_bands = {}
        for key in ("mean_mag", "amplitude", "amplitude_clipped", "extinction", "colour", "z"):
            stacked = np.stack([row[key] for row in per_band], 1)     # (m, bands) or (m, bands, d)
            block_bands[key] = stacked.reshape(m * len(pairs), *stacked.shape[2:])
        for key in ("band", "model_band"):
            block_bands[key] = np.tile(np.array([plan.band_names.index(row[key]) for row in per_band],
                                                np.int8), m)
        block_bands["per_star"] = np.full(m, len(pairs))
        bands.append(block_bands)
        if plan.lclib:
            lclib.setdefault(cls, []).extend(
                {"id": int(lo + i), "ra": float(space["ra"][a + i]), "dec": float(space["dec"][a + i]),
                 "parval": [period[i], physics["teff"][i], abs_mag[i], space["distance_pc"][a + i]],
                 "day": grid_phase * period[i], "mag": np.stack([t[i] for t in templates], 1)}
                for i in range(m))
    star_columns = {k: np.concatenate([s[k] for s in stars]) for k in stars[0]}
    star_columns["n_obs"] = np.diff(first).astype(np.int32)
    star_columns["n_detected"] = np.bincount(star_of[epochs["detected"]], minlength=n).astype(np.int32)
    band_rows = {k: np.concatenate([b[k] for b in bands]) for k in bands[0] if k != "per_star"}
    band_rows["offsets"] = np.r_[0, np.cumsum(np.concatenate([b["per_star"] for b in bands]))]
    epochs.update({"time": time, "band": band_code, "offsets": first})
    return star_columns, band_rows, epochs, lclib
