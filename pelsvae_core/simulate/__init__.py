"""Ensembles at survey scale: ``simulate(...)`` writes populations of variable stars under a
survey's cadence, from physics priors fitted on the real stars, on Dask.

Layers inside (ARCHITECTURE.md, "simulation"): ``priors`` (physics per class),
``population`` (classes, distances, positions, extinction), ``opsim`` (cadences:
presets and OpSim tables, per-visit noise), ``curves`` (many stars at once through the
model), ``plan`` (options checked and resolved), ``shard`` (one shard's stars),
``output`` (Parquet, manifest, LCLIB), ``run`` (Dask, resume, the CLI sub-command),
``lightcurvelynx`` (a LightCurveLynx model of pelsvae, where that package is installed).
The heavy modules load on first use, so the command line starts quickly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["simulate"]

if TYPE_CHECKING:
    from .run import simulate


def __getattr__(name: str):
    if name == "simulate":
        from .run import simulate
        return simulate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
