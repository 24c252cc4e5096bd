"""The real curves' own shapes, shipped with the package: what a generated curve is set beside.

Every curve the pipeline keeps (:attr:`.cache.Cache.kept`: cleaned, folded and aligned as the
model's training curves are) as its weighted Fourier fit in magnitudes about its own mean, at
the order its points support (:func:`pelsvae_core.fourier.fit_by_bic`, at most
:data:`MAX_ORDER`), with the star's class, survey, band, subtype, Teff (and its uncertainty)
and period. Derived from the survey data, never the data themselves: 17 coefficients a curve,
not its points.

Why a fit and not the points: the dashboard has no survey data, only the shipped model and
package; and a curve is shown over the whole cycle, where a sparse one has gaps. Why the
order its points support and not a fixed 8: a fit of order 8 to a noisy Catalina curve of 100
points puts wiggles in its gaps that no star has, and they would be shown as the star's own.

Rebuilt (or checked against a rebuild) by ``pelsvae data shapes``.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .. import fourier
from ..atomic import atomic_path

#: The shipped table (package data).
TABLE = Path(__file__).resolve().parents[1] / "relation_tables" / "real_shapes.parquet"
#: The highest Fourier order of a curve's fit: the order whose own fit a classifier can hardly
#: tell from the real curve (two-sample accuracy 0.53-0.58 per class, issue 14).
MAX_ORDER = 8
#: The coefficient columns, ``[a0, a_1..a_K (cos), b_1..b_K (sin)]`` at K = :data:`MAX_ORDER`
#: (:func:`pelsvae_core.fourier.fit`), zero above a curve's own order.
COEFFICIENTS = tuple(f"c{k}" for k in range(2 * MAX_ORDER + 1))
#: The columns describing each curve.
DESCRIPTION = ("star", "survey", "cls", "band", "subtype", "teff", "teff_sigma", "period",
               "n_points", "order")


def padded(coeffs: np.ndarray, order: int) -> np.ndarray:
    """Coefficients of order ``order`` as the :data:`COEFFICIENTS` layout (higher ones 0)."""
    out = np.zeros(len(COEFFICIENTS))
    out[0] = coeffs[0]
    out[1:order + 1] = coeffs[1:order + 1]
    out[1 + MAX_ORDER:1 + MAX_ORDER + order] = coeffs[order + 1:]
    return out


def build_real_shapes(kept: pd.DataFrame) -> pd.DataFrame:
    """One row per kept curve (``kept``: :attr:`.cache.Cache.kept`): its description
    (:data:`DESCRIPTION`) and its fit's coefficients in magnitudes about its mean, single
    precision (:data:`COEFFICIENTS`), sorted by star and band."""
    if kept.empty:
        raise ValueError("no kept curve in the survey data to take shapes from")
    rows, coefficients = [], []
    for row in kept.sort_values(["star_key", "band"]).itertuples():
        phase, mag = np.asarray(row.phase, float), row.amplitude * np.asarray(row.mag, float)
        coeffs = fourier.fit_by_bic(phase, mag, row.amplitude * np.asarray(row.err, float), MAX_ORDER)
        order = (coeffs.size - 1) // 2
        coeffs[0] = 0.0  # about its own mean, as a generated curve is compared
        coefficients.append(padded(coeffs, order))
        rows.append((row.star_key, row.survey, row.cls, row.band, row.subtype,
                     float(row.teff), float(row.teff_sigma), float(row.period), int(phase.size), order))
    table = pd.DataFrame(rows, columns=list(DESCRIPTION))
    table[list(COEFFICIENTS)] = np.asarray(coefficients, dtype=np.float32)
    return table.astype({"teff": np.float32, "teff_sigma": np.float32, "n_points": np.int32,
                         "order": np.int8})


def write_real_shapes(table: pd.DataFrame, path: str | Path = TABLE) -> None:
    """Write the table (:func:`build_real_shapes`) atomically."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False, compression="zstd")


def read_real_shapes(path: str | Path = TABLE) -> "RealShapes":
    """The shipped shapes (``pelsvae data shapes`` rebuilds them)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the real curves' shapes {path} are missing; rebuild them with "
                                "`pelsvae data shapes`")
    return RealShapes(pd.read_parquet(path))


class RealShapes:
    """The table of :func:`build_real_shapes`, looked up by star and band."""

    def __init__(self, table: pd.DataFrame):
        missing = set(DESCRIPTION + COEFFICIENTS) - set(table.columns)
        if missing:
            raise ValueError(f"a real-shapes table needs the columns {', '.join(sorted(missing))}")
        self.table = table

    @cached_property
    def _rows(self) -> dict[tuple[str, str], int]:
        return {key: i for i, key in enumerate(zip(self.table["star"], self.table["band"]))}

    def matches(self, other: pd.DataFrame) -> bool:
        """Whether ``other`` (a rebuild) describes the same curves in the same order, with numbers
        (coefficients, Teff, period) agreeing to 1e-6: the single precision they are stored in,
        not the last bit of another machine's least squares."""
        mine = self.table
        if list(other.columns) != list(mine.columns) or len(other) != len(mine):
            return False
        text = [c for c in DESCRIPTION if c not in ("teff", "teff_sigma", "period")]
        numbers = [c for c in DESCRIPTION + COEFFICIENTS if c not in text]
        return (all((mine[c].to_numpy() == other[c].to_numpy()).all() for c in text)
                and np.allclose(mine[numbers].to_numpy(float), other[numbers].to_numpy(float),
                                rtol=1e-6, atol=1e-6, equal_nan=True))

    def magnitudes(self, rows, phases: np.ndarray) -> np.ndarray:
        """The curves of table rows ``rows`` (positions) at ``phases``: (rows, phases), in
        magnitudes about each one's mean."""
        coeffs = self.table.iloc[np.atleast_1d(rows)][list(COEFFICIENTS)].to_numpy(np.float64)
        return coeffs @ fourier.design_matrix(np.asarray(phases, float), MAX_ORDER).T

    def curve(self, star: str, band: str, phases: np.ndarray) -> tuple[np.ndarray, pd.Series] | None:
        """Real star ``star``'s own curve in ``band`` at ``phases`` and its row, or None where the
        table does not hold it (a star of a survey not in the data it was built from)."""
        row = self._rows.get((star, band))
        if row is None:
            return None
        return self.magnitudes(row, phases)[0], self.table.iloc[row]
