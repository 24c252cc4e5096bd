"""One shard of a simulation: its stars drawn, observed and made into an Arrow table.

A shard depends on the plan and its index only: its random numbers come from
``SeedSequence(seed, spawn_key=(index,))`` (NumPy's independent streams for parallel
work), split into the population, the cadence, the latent draws (one stream per
class block, so every band of a star uses the same numbers; the drawn subtypes a
stream spawned off it) and the noise. So a
shard is the same whichever worker makes it, and a run the same for any number of
workers.
"""
from __future__ import annotations

import numpy as np

from ..data.subtypes import UNKNOWN
from . import curves
from .plan import Plan
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
    matrix = np.zeros((m, width))
    matrix[rows, column] = values
    return matrix, column


def _abs_mag(model, cls: str, drawn: np.ndarray, log_period: np.ndarray):
    """The drawn absolute magnitude, else the class's period-luminosity relation (OGLE x Gaia
    DR2, :mod:`pelsvae_core.physics.reference`), and which it was per star."""
    missing = ~np.isfinite(drawn)
    source = np.where(missing, "period-luminosity", PRIOR_SOURCE)
    if missing.any():
        intercept, slope = model.references[cls].luminosity
        drawn = np.where(missing, intercept + slope * log_period, drawn)
    return drawn, source


def make_shard(model, plan: Plan, index: int) -> tuple[dict, dict, dict, dict]:
    """The shard's star columns, per-band rows, per-epoch rows (see
    :func:`.output.shard_table`) and, with LCLIB output, per class its events."""
    start, stop = plan.shard_range(index)
    n = stop - start
    population, cadence, latent, noise = np.random.SeedSequence(plan.seed, spawn_key=(index,)).spawn(4)
    rng = np.random.default_rng(population)
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
    block_of = np.repeat(np.arange(len(blocks)), [hi - lo for _, lo, hi in blocks])
    keep = allowed[block_of[star_of], band_code]
    if not keep.all():
        star_of, visit_of, band_code = star_of[keep], visit_of[keep], band_code[keep]
    time = visits.time[visit_of]
    depth = visits.depth[visit_of]
    first = np.searchsorted(star_of, np.arange(n + 1))
    epochs = {k: np.full(len(time), np.nan) for k in ("mag", "mag_err", "flux", "flux_err")}
    epochs["detected"] = np.zeros(len(time), bool)
    stars, bands, lclib = [], [], {}
    t_ref = float(visits.time.min()) if len(visits) else plan.cadence.start_mjd
    latent_streams = latent.spawn(len(plan.counts))
    for block, (cls, lo, hi) in enumerate(blocks):
        a, b, m = lo - start, hi - start, hi - lo
        physics = plan.priors[cls].sample(m, rng, plan.fixed)
        period = 10 ** physics["log_period"]
        abs_mag, source = _abs_mag(model, cls, physics["abs_mag"], physics["log_period"])
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
        grids, per_band, templates = {}, [], []
        for survey_band, model_band in pairs:
            z, amplitude, clipped = drawn[model_band]
            if model_band not in grids:
                grids[model_band] = curves.decode(model, z, cls, model_band)
            grid = grids[model_band]
            a_band = extinction(space["a_v"][a:b], survey_band)
            mean = abs_mag + modulus + a_band
            e0, e1 = first[a], first[b]
            sel = e0 + np.flatnonzero(band_code[e0:e1] == plan.band_names.index(survey_band))
            if sel.size:
                rows = star_of[sel] - a
                times, column = _matrix(rows, time[sel], m)
                phase = np.mod((times - epoch[:, None]) / period[:, None], 1.0)
                relative = curves.relative_magnitudes(grid, amplitude, phase)
                observed = curves.photometry(relative + mean[:, None].astype(relative.dtype),
                                             _matrix(rows, depth[sel], m)[0], survey_band,
                                             model_band, rng_noise)
                where = slice(e0, e1) if sel.size == e1 - e0 else sel
                for key, values in observed.items():
                    epochs[key][where] = values.ravel() if column is None else values[rows, column]
            per_band.append({"band": survey_band, "model_band": model_band, "mean_mag": mean,
                             "amplitude": amplitude, "amplitude_clipped": clipped,
                             "extinction": a_band, "z": z})
            if plan.lclib:
                grid_phase = np.linspace(0.0, 1.0, LCLIB_ROWS)
                templates.append(curves.relative_magnitudes(grid, amplitude, grid_phase) + mean[:, None])
        stars.append({"star_id": np.arange(lo, hi), "cls": np.full(m, cls),
                      "subtype": subtype, "subtype_source": subtype_source,
                      "period": period, "teff": physics["teff"], "abs_mag": abs_mag,
                      "abs_mag_source": source, "distance_pc": space["distance_pc"][a:b],
                      "ra": space["ra"][a:b], "dec": space["dec"][a:b], "a_v": space["a_v"][a:b],
                      "epoch": epoch, "regressor": np.full(m, plan.regressors[cls])})
        block_bands = {}
        for key in ("mean_mag", "amplitude", "amplitude_clipped", "extinction", "z"):
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
