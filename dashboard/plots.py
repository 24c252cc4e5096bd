"""HoloViews plots of the explorer's results: presentation only, no science."""
from __future__ import annotations

import math

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the renderer the options below need)
import numpy as np
import pandas as pd

MAG_AXIS = dict(invert_yaxis=True, ylabel="magnitude", tools=["hover"], responsive=True,
                min_height=260, show_grid=True)
CLASS_COLOURS = {"ACEP": "#1f77b4", "CEP": "#ff7f0e", "DSCT": "#2ca02c", "ECL": "#d62728",
                 "ELL": "#9467bd", "LPV": "#8c564b", "RRLYR": "#e377c2", "T2CEP": "#17becf"}


def folded(curve: pd.DataFrame | None, observed: pd.DataFrame | None) -> hv.Overlay:
    """Median and 16-84 % spread of the samples over phase, with the observed points."""
    if curve is None:
        return hv.Overlay([hv.Curve([], "phase", "mag")])
    spread = hv.Area(curve, "phase", ["low", "high"], label="16-84 % of samples").opts(
        alpha=0.3, color="#1f77b4", line_alpha=0)
    median = hv.Curve(curve, "phase", ("median", "mag"), label="median").opts(color="#1f77b4",
                                                                             line_width=2)
    layers = [spread, median]
    if observed is not None and len(observed):
        layers.append(hv.Scatter(observed, "phase", ["mag", "time"], label="observed").opts(
            color="black", size=4))
    return hv.Overlay(layers).opts(title="Phase-folded light curve", xlim=(0, 1), **MAG_AXIS,
                                   legend_position="bottom_right")


def time_series(observed: pd.DataFrame | None) -> hv.Element:
    """The same star as the cadence sees it, over time."""
    data = observed if observed is not None else pd.DataFrame({"time": [], "mag": [], "mag_err": []})
    points = hv.Scatter(data, "time", ["mag", "mag_err", "phase"] if "phase" in data else ["mag"])
    bars = hv.ErrorBars(data, "time", ["mag", "mag_err"])
    return (bars * points.opts(color="black", size=4)).opts(
        hv.opts.Overlay(title=f"Observed: {len(data)} epochs", xlabel="time (days)", **MAG_AXIS))


def periodogram(search: dict) -> hv.Overlay:
    """Lomb-Scargle power with the true period marked and the recovered period reported."""
    if not search or not len(search.get("periods", [])):
        return hv.Overlay([hv.Curve([], "period (days)", "power")]).opts(
            title="Periodogram: too few epochs")
    power = hv.Curve((search["periods"], search["power"]), "period (days)", "power").opts(
        logx=True, color="#444444")
    true = hv.VLine(search["true"]).opts(color="#2ca02c", line_dash="dashed")
    found = search["found"]
    verdict = "recovered" if search["recovered"] else "NOT recovered"
    title = (f"Periodogram: true {search['true']:.5g} d, found "
             f"{found:.5g} d ({verdict})" if math.isfinite(found) else "Periodogram")
    return (power * true).opts(title=title, responsive=True, min_height=220, show_grid=True)


def latent_space(points: pd.DataFrame, current: np.ndarray) -> hv.Overlay:
    """Training curves in the chosen 2-D projection, coloured by class; the current curve marked."""
    vdims = ["cls", "band", "period", "teff", "abs_mag"]
    scatter = hv.Points(points, ["x", "y"], vdims).opts(
        color="cls", cmap=CLASS_COLOURS, size=3, alpha=0.5, tools=["hover", "tap"],
        legend_position="right", responsive=True, min_height=420)
    marker = hv.Points(current, ["x", "y"], label="current curve").opts(
        color="black", marker="star", size=14)
    return (scatter * marker).opts(title="Latent space (click to decode from a point)")


def morph(curves: pd.DataFrame, shapes: pd.DataFrame) -> hv.Layout:
    """Small multiples: one row per regressor, one column per Teff, R21 and phi31 on each."""
    panels = []
    for (regressor, teff), part in curves.groupby(["regressor", "teff"], sort=False):
        shape = shapes[(shapes["regressor"] == regressor) & (shapes["teff"] == teff)].iloc[0]
        title = (f"{regressor} {teff:.0f} K P={shape['period']:.2f} d  "
                 f"R21={shape['R21']:.2f} φ31={shape['phi31']:.2f}")
        panels.append(hv.Curve(part, "phase", "mag").opts(
            title=title, invert_yaxis=True, width=230, height=170, fontsize={"title": 9},
            color="#e377c2", line_width=2))
    n_cols = curves["teff"].nunique()
    return hv.Layout(panels).cols(n_cols).opts(shared_axes=False)
