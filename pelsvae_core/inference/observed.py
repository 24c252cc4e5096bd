"""An observed, unfolded light curve, checked: what :func:`pelsvae_core.inference.infer` reads.

Every problem with the input is either refused with an error that names it (too few
points, errors that are not positive, a band the model does not know, a curve without
any scatter) or repaired or flagged with a warning that says what was done (non-finite
rows dropped, unsorted times sorted, duplicated times merged, a band with too few points
left out, a curve consistent with constant brightness within its errors).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..cadences import TIME_COLUMNS

#: Fewest points inference accepts: the latent fit alone has four free parameters per band
#: besides the period, phase, amplitude and mean magnitude.
MIN_POINTS = 10
#: Fewest points a band needs to count: its amplitude and mean magnitude are fitted per band.
MIN_POINTS_PER_BAND = 3
#: Most points inference accepts: the period scan's memory grows with them (about 30 MB per
#: 1,000 points); the densest real curves here, OGLE-IV bulge I, have up to 14,985 epochs.
MAX_POINTS = 20_000
#: A curve whose scatter about its weighted mean is this likely under its quoted errors alone
#: (the chi-square test with n - 1 degrees of freedom) is flagged as consistent with constant.
CONSTANT_P_VALUE = 0.01
#: CSV column names for each quantity, first match wins (case-insensitive).
COLUMNS = {"time": TIME_COLUMNS, "mag": ("mag", "magnitude", "m"),
           "err": ("err", "mag_err", "magerr", "error", "sigma"), "band": ("band", "filter")}


@dataclass
class Observed:
    """Times (days), magnitudes, errors and per-point bands, sorted by time, every band known
    to the model; ``bands`` in order of first appearance; ``warnings`` says what was repaired."""

    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    band: np.ndarray
    bands: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.time.size)

    @property
    def baseline(self) -> float:
        return float(np.ptp(self.time))

    def in_band(self, band: str) -> np.ndarray:
        return self.band == band


def _vector(name: str, values) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {array.shape}")
    return array


def _bands(band, n: int, known: tuple[str, ...], default: str, warnings: list[str]) -> np.ndarray:
    if band is None:
        warnings.append(f"no band given: the magnitudes are taken to be in the model's default "
                        f"band {default}")
        band = default
    bands = np.full(n, band, dtype=object) if np.ndim(band) == 0 else np.asarray(band, dtype=object)
    if bands.shape != (n,):
        raise ValueError(f"band must be one name or one per point ({n}), not {bands.size} values")
    bands = np.array([str(b).strip() for b in bands], dtype=object)
    unknown = sorted(set(bands) - set(known))
    if unknown:
        raise ValueError(f"unknown band(s) {', '.join(map(repr, unknown))}; this model knows "
                         f"{', '.join(known)}")
    return bands


def prepare(times, mags, errs, band, known_bands: tuple[str, ...], default_band: str) -> Observed:
    """Check and tidy one curve; ``band`` is one name for all points, one per point, or None
    (the model's default band, with a warning)."""
    time, mag, err = _vector("times", times), _vector("mags", mags), _vector("errs", errs)
    if not time.size == mag.size == err.size:
        raise ValueError(f"times, mags and errs differ in length ({time.size}, {mag.size}, {err.size})")
    if time.size > MAX_POINTS:
        raise ValueError(f"{time.size} points; inference takes at most {MAX_POINTS} (bin or thin the "
                         "curve: its memory grows with the points)")
    warnings: list[str] = []
    bands = _bands(band, time.size, known_bands, default_band, warnings)
    finite = np.isfinite(time) & np.isfinite(mag) & np.isfinite(err)
    if not finite.all():
        warnings.append(f"dropped {int((~finite).sum())} of {time.size} rows with a non-finite "
                        f"time, magnitude or error (NaN or infinite)")
        time, mag, err, bands = time[finite], mag[finite], err[finite], bands[finite]
    if (err <= 0).any():
        bad = np.flatnonzero(err <= 0)
        raise ValueError(f"errors must be positive: {bad.size} point(s) have err <= 0 (first at "
                         f"time {time[bad[0]]:g}, err {err[bad[0]]:g})")
    if np.any(np.diff(time) < 0):
        warnings.append("times were not in increasing order; the points were sorted by time")
    order = np.argsort(time, kind="stable")
    time, mag, err, bands = time[order], mag[order], err[order], bands[order]
    time, mag, err, bands = _merge_duplicates(time, mag, err, bands, warnings)
    names = tuple(dict.fromkeys(bands))
    for name in names:
        if (bands == name).sum() < MIN_POINTS_PER_BAND:
            warnings.append(f"band {name} has only {int((bands == name).sum())} point(s) (fewer "
                            f"than {MIN_POINTS_PER_BAND}); it is left out")
    names = tuple(b for b in names if (bands == b).sum() >= MIN_POINTS_PER_BAND)
    keep = np.isin(bands, names)
    time, mag, err, bands = time[keep], mag[keep], err[keep], bands[keep]
    if time.size < MIN_POINTS:
        raise ValueError(f"{time.size} usable points; inference needs at least {MIN_POINTS}")
    _constancy(mag, err, bands, names, warnings)
    return Observed(time, mag, err, bands, names, warnings)


def _merge_duplicates(time, mag, err, bands, warnings: list[str]):
    """Points sharing a time and band become one: their inverse-variance weighted mean, with
    error (sum 1/err^2)^(-1/2); a warning counts them (a model curve has one value per time)."""
    frame = pd.DataFrame({"time": time, "band": bands, "w": 1 / err**2, "wm": mag / err**2})
    duplicated = frame.duplicated(["time", "band"], keep=False).to_numpy()
    if not duplicated.any():
        return time, mag, err, bands
    warnings.append(f"{int(duplicated.sum())} points share a time and band with another (first "
                    f"at time {time[duplicated][0]:g}, band {bands[duplicated][0]}); each group "
                    f"was replaced by its weighted mean")
    merged = frame.groupby(["time", "band"], sort=False)[["w", "wm"]].sum().reset_index()
    merged = merged.sort_values("time", kind="stable")
    return (merged["time"].to_numpy(float), (merged["wm"] / merged["w"]).to_numpy(float),
            (1 / np.sqrt(merged["w"])).to_numpy(float), merged["band"].to_numpy(object))


def _constancy(mag: np.ndarray, err: np.ndarray, bands: np.ndarray, names: tuple[str, ...],
               warnings: list[str]) -> None:
    """Refuse a curve without any scatter; warn when every band scatters about its weighted
    mean no more than its quoted errors allow (chi-square test, p > :data:`CONSTANT_P_VALUE`):
    then the variability, and all that is inferred from it, is not established (real
    variables with overestimated errors land here too, so they are not refused)."""
    if all(np.ptp(mag[bands == name]) == 0 for name in names):
        raise ValueError("every magnitude is the same: a constant curve has no class or period")
    chi2, dof = 0.0, 0
    for name in names:
        m, e = mag[bands == name], err[bands == name]
        w = 1 / e**2
        chi2 += float(w @ (m - (w @ m) / w.sum()) ** 2)
        dof += m.size - 1
    p_value = float(stats.chi2.sf(chi2, dof))
    if p_value > CONSTANT_P_VALUE:
        warnings.append(f"the curve is consistent with constant brightness (chi2 = {chi2:.1f} for "
                        f"{dof} degrees of freedom about the mean, p = {p_value:.2g}): its "
                        f"variability, and all inferred from it, is not established")


def _column(frame: pd.DataFrame, quantity: str, path, required: bool = True) -> str | None:
    lower = {c.strip().lower(): c for c in frame.columns}
    for name in COLUMNS[quantity]:
        if name in lower:
            return lower[name]
    if required:
        raise ValueError(f"{path}: no {quantity} column (looked for {', '.join(COLUMNS[quantity])}; "
                         f"found {', '.join(map(str, frame.columns))})")
    return None


def read_curve(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Times, magnitudes, errors and per-point bands (None without a band column) of a CSV file
    with a header naming its columns (see :data:`COLUMNS`)."""
    path = Path(path)
    return read_curve_from(io.BytesIO(path.read_bytes()), path)


def read_curve_from(file, path: str | Path = "the curve"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`read_curve` of a file-like object holding the CSV (bytes or text: an upload, a
    pasted table); ``path`` is what the error messages call it."""
    try:
        frame = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable CSV table ({error})") from None
    columns = [_column(frame, q, path) for q in ("time", "mag", "err")]
    band = _column(frame, "band", path, required=False)
    values = []
    for name in columns:
        numbers = pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
        text = frame[name].astype(str).str.strip().str.lower()
        garbage = np.isnan(numbers) & ~text.isin(["nan", ""]).to_numpy() & frame[name].notna().to_numpy()
        if garbage.any():
            raise ValueError(f"{path}: column {name!r} holds non-numbers, e.g. "
                             f"{frame[name][garbage].iloc[0]!r} (row {int(np.flatnonzero(garbage)[0]) + 2})")
        values.append(numbers)
    bands = None if band is None else frame[band].astype(str).to_numpy(object)
    return values[0], values[1], values[2], bands

