"""Plots of the explorer's results (Bokeh for the live curve, HoloViews for the rest): presentation only."""
from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the renderer the options below need)
import numpy as np
import pandas as pd

from pelsvae_core.evaluation.morph import morph_panels

CLASS_COLOURS = {"ACEP": "#1f77b4", "CEP": "#ff7f0e", "DSCT": "#2ca02c", "ECL": "#d62728",
                 "ELL": "#9467bd", "LPV": "#8c564b", "RRLYR": "#e377c2", "T2CEP": "#17becf"}


def latent_points(points: pd.DataFrame) -> hv.Points:
    """Training curves in the chosen 2-D projection, coloured by class; click to decode."""
    vdims = ["cls", "band", "period", "teff", "abs_mag"]
    return hv.Points(points, ["x", "y"], vdims).opts(
        color="cls", cmap=CLASS_COLOURS, size=3, alpha=0.5, tools=["hover", "tap"],
        legend_position="right", responsive=True, min_height=420,
        title="Latent space (click to decode from a point)")


def current_marker(current: np.ndarray) -> hv.Points:
    """The current curve's samples in the same projection."""
    return hv.Points(current, ["x", "y"], label="current curve").opts(
        color="black", marker="star", size=14)


def morph(curves: pd.DataFrame, shapes: pd.DataFrame) -> hv.Layout:
    """Small multiples of :func:`pelsvae_core.evaluation.morph.morph_panels`: one row per
    regressor, one column per Teff, R21 and phi31 on each."""
    panels = morph_panels(curves, shapes)
    layout = [hv.Curve((p.phase, p.mag), "phase", "mag").opts(
        title=p.title, invert_yaxis=True, width=230, height=170, fontsize={"title": 9},
        color="#e377c2", line_width=2) for p in panels]
    return hv.Layout(layout).cols(max(p.column for p in panels) + 1).opts(shared_axes=False)


class CurveFigures:
    """The light-curve tab as Bokeh figures whose data are replaced in place on each change,
    much cheaper than re-rendering HoloViews plots (and zoom is kept)."""

    def __init__(self):
        from bokeh.models import ColumnDataSource, HoverTool, Span
        from bokeh.plotting import figure

        self.curve = ColumnDataSource({"phase": [], "median": [], "low": [], "high": []})
        self.points = ColumnDataSource({"time": [], "phase": [], "mag": [], "mag_err": [],
                                        "top": [], "bottom": []})
        self.power = ColumnDataSource({"period": [], "power": []})
        common = dict(sizing_mode="stretch_width", height=280, tools="pan,wheel_zoom,box_zoom,reset,save")
        self.folded = figure(title="Phase-folded light curve", x_axis_label="phase",
                             y_axis_label="magnitude", x_range=(0, 1), **common)
        self.folded.varea("phase", "low", "high", source=self.curve, fill_alpha=0.3,
                          legend_label="16-84 % of samples")
        self.folded.line("phase", "median", source=self.curve, line_width=2, legend_label="median")
        self.folded.scatter("phase", "mag", source=self.points, color="black", size=4,
                            legend_label="observed")
        self.series = figure(title="Observed", x_axis_label="time (days)",
                             y_axis_label="magnitude", **common)
        self.series.segment("time", "top", "time", "bottom", source=self.points, color="black")
        self.series.scatter("time", "mag", source=self.points, color="black", size=4)
        for fig in (self.folded, self.series):
            fig.y_range.flipped = True
            fig.add_tools(HoverTool(tooltips=[("time", "@time{0.000}"), ("phase", "@phase{0.000}"),
                                              ("mag", "@mag{0.000}")]))
        self.folded.legend.location = "bottom_right"
        self.periodogram = figure(title="Periodogram", x_axis_label="period (days)",
                                  y_axis_label="power", x_axis_type="log", **{**common, "height": 230})
        self.periodogram.line("period", "power", source=self.power, color="#444444")
        self.true_period = Span(dimension="height", line_color="#2ca02c", line_dash="dashed",
                                location=1.0)
        self.periodogram.add_layout(self.true_period)

    def update(self, curve: pd.DataFrame | None, observed: pd.DataFrame | None, search: dict) -> None:
        if curve is not None:
            self.curve.data = {c: curve[c].to_numpy() for c in ("phase", "median", "low", "high")}
        if observed is not None:
            data = {c: observed[c].to_numpy() for c in ("time", "phase", "mag", "mag_err")}
            data["top"], data["bottom"] = data["mag"] - data["mag_err"], data["mag"] + data["mag_err"]
            self.points.data = data
            self.series.title.text = f"Observed: {len(observed)} epochs"
        if search and len(search.get("periods", [])):
            self.power.data = {"period": search["periods"], "power": search["power"]}
            self.true_period.location = search["true"]
            found = search["found"]
            verdict = "recovered" if search["recovered"] else "NOT recovered"
            self.periodogram.title.text = (f"Periodogram, searched P/4 to 4P: true {search['true']:.5g} d, "
                                           f"found {found:.5g} d ({verdict})")
        else:
            self.power.data = {"period": [], "power": []}
            self.periodogram.title.text = "Periodogram: too few epochs"
