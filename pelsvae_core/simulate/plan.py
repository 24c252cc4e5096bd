"""A simulation's plan: every option checked and resolved before anything is written.

:func:`make_plan` turns the user's options (the Python API's keywords, a TOML
config, CLI flags) into a :class:`Plan`: exact class counts, a prior per class,
the model band each survey band is drawn in per class, the cadence with its depths,
where the stars are, and the shard boundaries. A plan is small and picklable, the
one thing sent to each Dask worker besides the shard index; its :meth:`Plan.settings`
(everything that changes the output, not the worker count) decide whether an
output folder's finished shards belong to this run.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import cadences
from ..data.catalogues import read_gaia_xmatch
from ..data.subtypes import UNKNOWN
from ..generation import check_subtype
from ..paths import DataRootError, data_root
from . import priors as priors_module
from .curves import AB_OFFSET
from .errors import SimulationError
from ..physics.noise import LSST_SIGMA_SYS, PUBLISHED_NOISE
from .opsim import LSST_FOV_RADIUS_DEG, SurveyCadence, footprint
from .population import DEFAULT_DISTANCE_PC, Space, class_counts, sky_uniform

#: Stars per shard by default: a shard of 300-epoch curves holds ~15 MB of Parquet and a few
#: hundred MB while being made, and takes ~0.5 s of one core.
DEFAULT_SHARD_SIZE = 5_000
#: Positions probed to tell an empty sky region before any shard is made.
PROBES = 2_000
SUFFIXES_OPSIM = (".db", ".sqlite", ".sqlite3")


@dataclass
class Plan:
    model: str                         # the model folder
    n: int
    seed: int
    shard_size: int
    counts: dict[str, int]             # class -> stars, in star order
    priors: dict                       # class -> ClassPrior or TablePrior
    fixed: dict[str, float]
    regressors: dict[str, str]         # class -> regressor kind
    band_map: dict[str, tuple[tuple[str, str], ...]]   # class -> (survey band, model band) pairs
    cadence: SurveyCadence
    space: Space
    noise: bool
    prior_source: str
    lclib: bool = False                # also write each star's noise-free curve as SNANA LCLIB
    options: dict = field(default_factory=dict)   # the resolved options, JSON-ready

    @property
    def band_names(self) -> tuple[str, ...]:
        """Every survey and model band of the run, sorted: the codes of the band columns."""
        return tuple(sorted({b for pairs in self.band_map.values() for pair in pairs for b in pair}))

    @property
    def n_shards(self) -> int:
        return math.ceil(self.n / self.shard_size)

    def shard_range(self, index: int) -> tuple[int, int]:
        return index * self.shard_size, min((index + 1) * self.shard_size, self.n)

    def settings(self) -> dict:
        """Everything that changes the output, as JSON; its hash names the run."""
        return {**self.options, "prior_sha256": hashlib.sha256(self.priors_bytes()).hexdigest()}

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()[:16]

    def priors_bytes(self) -> bytes:
        fitted = {c: p for c, p in self.priors.items() if isinstance(p, priors_module.ClassPrior)}
        tables = b"".join(p.values.tobytes() + (b"" if p.subtype is None else p.subtype.tobytes())
                          for p in self.priors.values() if isinstance(p, priors_module.TablePrior))
        return priors_module.save_priors(fitted) + tables


def _mix(classes, model) -> dict[str, float]:
    """A class name, a list of names (equal shares) or a {class: fraction} mix; each known."""
    if classes is None:
        raise SimulationError("choose the class(es) to simulate (e.g. --class RRLYR or "
                              "classes={'RRLYR': 0.7, 'CEP': 0.3})")
    if isinstance(classes, str):
        mix = {c.strip(): 1.0 for c in classes.split(",") if c.strip()}
    elif isinstance(classes, dict):
        mix = dict(classes)
    else:
        mix = {str(c): 1.0 for c in classes}
    unknown = sorted(set(map(str, mix)) - set(model.class_physics))
    if unknown:
        raise SimulationError(f"unknown class(es) {', '.join(unknown)} in the mix; this model "
                              f"generates {', '.join(sorted(model.class_physics))}")
    return mix


def _bands(model, classes, survey_bands, band_map: dict[str, str]) -> dict[str, tuple]:
    """Per class, the model band each survey band is drawn in: the same name where the class
    was trained in it, else ``band_map``'s, else a clear refusal."""
    out = {}
    for cls in classes:
        known = model.class_physics[cls].bands
        pairs = []
        for band in survey_bands or (known[0],):
            chosen = band if band in known else band_map.get(band)
            if chosen not in known:
                via = f" (band_map sends it to {chosen!r})" if band in band_map else ""
                raise SimulationError(
                    f"{cls} was trained in band(s) {', '.join(known)}, not {band!r}{via}; drop the "
                    f"band or map it explicitly, e.g. band_map={{'{band}': '{known[0]}'}}")
            pairs.append((band, chosen))
        out[cls] = tuple(pairs)
    return out


def _check_subtypes(model, priors: dict, regressors: dict[str, str], source: str) -> None:
    """A prior table's subtypes must be the class's own wherever its regressor is told the
    subtype (:func:`pelsvae_core.generation.check_subtype`); "unknown" ones are drawn."""
    for cls, prior in priors.items():
        info, labels = model.class_physics[cls], getattr(prior, "subtype", None)
        if labels is None or not info.takes_subtype(regressors[cls]):
            continue
        for label in sorted(set(labels.tolist()) - {UNKNOWN}):
            try:
                check_subtype(info, regressors[cls], label)
            except ValueError as error:
                raise SimulationError(f"{source}: {error}") from None


def cross_match(root):
    """The OGLE x Gaia DR2 cross-match, or None (and why) when the survey data is not here."""
    try:
        return read_gaia_xmatch(data_root(root) / "gaia_dr2_xmatch"), "fitted"
    except (DataRootError, FileNotFoundError, OSError) as error:
        return None, f"cross-match not read ({type(error).__name__}): classes without Teff or M in " \
                     "their training stars take M from the period-luminosity relation, Teff unknown"


def _cadence(model, cadence, band_pairs, depth, radius_deg, start_mjd):
    """The survey cadence, and the OpSim footprint it reads (None for a preset)."""
    if cadence is None:
        raise SimulationError("choose a cadence: a preset (" + ", ".join(cadences.PRESETS)
                              + "), {'name': ..., <changes>}, or an OpSim .db file")
    is_opsim = isinstance(cadence, (str, Path)) and str(cadence).lower().endswith(SUFFIXES_OPSIM)
    survey_bands = tuple(dict.fromkeys(b for pairs in band_pairs.values() for b, _ in pairs))
    if is_opsim:
        path = str(Path(cadence).expanduser().resolve())
        found = footprint(path, float(radius_deg), survey_bands)
        return SurveyCadence(survey_bands, opsim=path, radius_deg=float(radius_deg)), found
    try:
        cadences.times_for(cadence, 0)
    except ValueError as error:
        raise SimulationError(str(error)) from None
    name = cadence if isinstance(cadence, str) else cadence.get("name")
    published = PUBLISHED_NOISE.get(name)
    chosen = {}
    for band in survey_bands:
        if band in depth:
            chosen[band] = float(depth[band])
        elif published is not None and band in published.depth:
            chosen[band] = published.depth[band]
        else:
            models = sorted((m for m in model.error_models.values() if m.band == band),
                            key=lambda m: -m.n_stars)
            if not models:
                raise SimulationError(f"no five-sigma depth for band {band!r} under the {name!r} "
                                      f"cadence: give depth={{'{band}': <AB mag>}}")
            chosen[band] = models[0].m5 + AB_OFFSET.get(band, 0.0)
    preset = cadence if isinstance(cadence, str) else tuple(sorted(cadence.items()))
    floor = LSST_SIGMA_SYS if published is None else published.sigma_sys
    return SurveyCadence(survey_bands, preset=preset, depth=tuple(sorted(chosen.items())), floor=floor,
                         start_mjd=float(start_mjd)), None


def _check_sky(found, space: Space, rng: np.random.Generator) -> None:
    """An OpSim run needs stars where it looks: refuse a region (or table) no visit covers."""
    if space.table is not None and "ra" in space.rows():
        rows = space.rows().iloc[:PROBES]
        ra, dec = rows["ra"].to_numpy(float), rows["dec"].to_numpy(float)
        where = "the table's first positions"
    else:
        ra, dec = sky_uniform(space.region, PROBES, rng)
        where = f"the sky region RA {space.region['ra']}, Dec {space.region['dec']}"
    if not found.count(ra, dec).any():
        raise SimulationError(f"no visit of {found.visits.source} within {found.radius_deg} deg of "
                              f"{where}: an empty sky region for this survey")


def make_plan(model, *, n: int, classes, cadence, bands=None, seed: int = 0,
              shard_size: int = DEFAULT_SHARD_SIZE, distance=DEFAULT_DISTANCE_PC, region=None,
              a_v=None, positions=None, fixed=None, prior_table=None, band_map=None, depth=None,
              radius_deg: float = LSST_FOV_RADIUS_DEG, start_mjd: float = 0.0, regressor=None,
              noise: bool = True, lclib: bool = False, data_root_path=None, priors=None) -> Plan:
    """Check and resolve every option (see :func:`pelsvae_core.simulate.simulate`); ``priors``
    reuses fitted priors (a resumed run's) instead of fitting them again."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SimulationError(f"seed must be a whole number >= 0, not {seed!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise SimulationError(f"shard_size must be a positive whole number, not {shard_size!r}")
    bands = [bands] if isinstance(bands, str) else list(bands or [])
    band_map, depth, fixed = dict(band_map or {}), dict(depth or {}), dict(fixed or {})
    space = Space(distance=None if positions is not None else distance, region=region,
                  a_v=a_v, table=None if positions is None else str(positions))
    n_stars = len(space.rows()) if positions is not None and n is None else n
    if positions is not None and n_stars > len(space.rows()):
        raise SimulationError(f"{positions} has {len(space.rows())} rows, fewer than n={n_stars} stars")
    counts = class_counts(_mix(classes, model), n_stars)
    band_pairs = _bands(model, counts, bands, band_map)
    survey, found = _cadence(model, cadence, band_pairs, depth, radius_deg, start_mjd)
    if found is not None:
        if space.region is None and not (space.table is not None and "ra" in space.rows()):
            space.region = {"ra": (0.0, 360.0), "dec": (-90.0, 90.0)}
        _check_sky(found, space, np.random.default_rng(seed))
    if prior_table is not None:
        table = priors_module.table_prior(priors_module.read_table(prior_table), model, str(prior_table))
        missing = sorted(set(counts) - set(table))
        if missing:
            raise SimulationError(f"{prior_table} has no row of class(es) {', '.join(missing)}")
        chosen, source = {c: table[c] for c in counts}, f"table {prior_table}"
    elif priors is not None:
        chosen, source = {c: priors[c] for c in counts}, "fitted (reused from the output folder)"
    else:
        xmatch, source = cross_match(data_root_path)
        chosen = priors_module.fit_priors(model, counts, xmatch, seed)
    for cls, prior in chosen.items():
        priors_module.check_fixed(prior, fixed)
    for cls, prior in chosen.items():
        has_mag = "abs_mag" in prior.sources or "abs_mag" in fixed
        reference = model.references.get(cls)
        if not has_mag and (reference is None or reference.luminosity is None):
            raise SimulationError(f"{cls} has no absolute magnitude: its prior has none and the "
                                  "model no period-luminosity relation; fix abs_mag")
    regressors = {cls: model.physics.regressor_for(cls, regressor) for cls in counts}
    _check_subtypes(model, chosen, regressors, source)
    options = {"model": str(model.folder), "n": int(n_stars), "seed": int(seed),
               "shard_size": int(shard_size), "counts": counts, "fixed": fixed,
               "regressors": regressors, "band_map": {c: list(map(list, p)) for c, p in band_pairs.items()},
               "cadence": {"preset": survey.preset_spec(), "opsim": survey.opsim,
                           "bands": list(survey.bands), "depth": dict(survey.depth),
                           "floor": survey.floor,
                           "radius_deg": survey.radius_deg, "start_mjd": survey.start_mjd},
               "space": {"distance": space.distance, "region": space.region, "a_v": space.a_v,
                         "table": space.table},
               "noise": bool(noise), "lclib": bool(lclib), "prior_table": None if prior_table is None else str(prior_table)}
    return Plan(str(model.folder), int(n_stars), int(seed), int(shard_size), counts, chosen, fixed,
                regressors, band_pairs, survey, space, bool(noise), source, bool(lclib),
                json.loads(json.dumps(options)))
