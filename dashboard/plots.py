"""Plots of the explorer's results (Bokeh for the live views, HoloViews for the latent space):
presentation only."""
from __future__ import annotations

import math

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the renderer the options below need)
import numpy as np
import pandas as pd
from bokeh.layouts import gridplot
from bokeh.models import (BooleanFilter, CDSView, ColumnDataSource, FactorRange, HoverTool,
                          NumeralTickFormatter, Range1d, Span, Title)
from bokeh.plotting import figure

CLASS_COLOURS = {"ACEP": "#1f77b4", "CEP": "#ff7f0e", "DSCT": "#2ca02c", "ECL": "#d62728",
                 "ELL": "#9467bd", "LPV": "#8c564b", "RRLYR": "#e377c2", "T2CEP": "#17becf"}
MODE_COLOURS = {"RRab": "#d62728", "RRc": "#1f77b4"}
SUBTYPE_COLOURS = {**MODE_COLOURS, "F": "#d62728", "1O": "#1f77b4", "2O": "#17becf",
                   "EA": "#8c564b", "EB": "#e377c2", "EW": "#7f7f7f"}
BAND_COLOURS = {"u": "#6a3d9a", "g": "#2ca02c", "r": "#d62728", "i": "#8c564b", "z": "#444444",
                "V": "#1f77b4", "I": "#ff7f0e", "V_CSS": "#17becf"}
AXIS_LABELS = {"teff": "Teff (K)", "period": "period (days)", "abs_mag": "absolute magnitude M_G"}
SHORT = {"teff": "Teff {:.0f} K", "period": "P {:.3f} d", "abs_mag": "M {:.2f}"}
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
HISTOGRAM_BINS = 40


def _legend_above(fig) -> None:
    """Move a figure's legend above the plot area, so it never covers a curve."""
    legend = fig.legend[0]
    fig.center = [item for item in fig.center if item is not legend]
    legend.orientation = "horizontal"
    legend.click_policy = "hide"
    fig.add_layout(legend, "above")


def latent_points(points: pd.DataFrame, projection: str) -> hv.Points:
    """Training curves in the chosen 2-D projection, coloured by class; click to decode."""
    vdims = ["cls", "band", "period", "teff", "abs_mag"]
    xlabel, ylabel = (("latent PCA axis 1", "latent PCA axis 2") if projection == "pca"
                      else tuple(f"latent {z}" for z in projection.split("-")))
    return hv.Points(points, ["x", "y"], vdims).opts(
        color="cls", cmap=CLASS_COLOURS, size=3, alpha=0.5, tools=["hover", "tap"],
        legend_position="right", responsive=True, min_height=420, xlabel=xlabel, ylabel=ylabel,
        title="Latent space (click to decode from a point)")


def current_marker(current: np.ndarray) -> hv.Points:
    """The current curve's samples in the same projection."""
    return hv.Points(current, ["x", "y"], label="current curve").opts(
        color="black", marker="star", size=14)


def morph(curves: pd.DataFrame, shapes: pd.DataFrame, real: pd.DataFrame):
    """The RR Lyrae morph for one regressor: one panel per Teff in a row, on one shared
    magnitude axis (so the amplitude drop shows), each titled with Teff, mode, period, R21
    and phi31; beside each generated curve (solid) the real stars' median shape at that Teff
    (``real``, dashed grey, placed on the generated curve's mean)."""
    mean = curves.groupby("teff")["mag"].mean()
    real = real.assign(mag=real["mag"] + real["teff"].map(mean))
    low, high = min(curves["mag"].min(), real["mag"].min()), max(curves["mag"].max(), real["mag"].max())
    pad = 0.05 * (high - low)
    shared = Range1d(high + pad, low - pad)  # magnitudes: bright up
    panels = []
    for _, shape in shapes.iterrows():
        part = curves[curves["teff"] == shape["teff"]]
        nature = real[real["teff"] == shape["teff"]]
        colour = MODE_COLOURS[shape["mode"]]
        first = not panels
        fig = figure(width=200 if first else 170, height=250, y_range=shared, x_range=(0, 1),
                     toolbar_location=None, x_axis_label="phase",
                     y_axis_label="absolute magnitude" if first else None,
                     title=f"{shape['teff']:.0f} K · {shape['mode']}")
        fig.yaxis.visible = first
        fig.title.text_font_size, fig.title.text_color = "11pt", colour
        for line in (f"R21 {shape['R21']:.2f} · φ31 {shape['phi31']:.2f}", f"P {shape['period']:.2f} d"):
            fig.add_layout(Title(text=line, text_font_size="10pt", text_font_style="normal"), "above")
        fig.line(part["phase"], part["mag"], line_width=2, color=colour)
        fig.line(nature["phase"], nature["mag"], line_width=2, color="#555555",
                 line_dash="dashed", name="real median")
        panels.append(fig)
    return gridplot([panels], toolbar_location=None)


def recovery(found: np.ndarray, true_period: float, rate: float, aliases: list[tuple[float, float]]):
    """Histogram of the periods found over many realisations, the true period marked."""
    good = found[np.isfinite(found)]
    title = f"Period recovered in {100 * rate:.0f} % of {found.size} realisations"
    fig = figure(title=title, x_axis_type="log", x_axis_label="period found (days)",
                 y_axis_label="realisations", height=260, sizing_mode="stretch_width", tools=TOOLS)
    if good.size:
        edges = np.geomspace(min(good.min(), true_period) / 1.02, max(good.max(), true_period) * 1.02,
                             HISTOGRAM_BINS + 1)
        counts, _ = np.histogram(good, edges)
        fig.quad(left=edges[:-1], right=edges[1:], bottom=0, top=counts, color="#444444", alpha=0.7)
    fig.add_layout(Span(location=true_period, dimension="height", line_color="#2ca02c",
                        line_dash="dashed", line_width=2))
    if aliases:
        fig.add_layout(Title(text="commonest wrong periods: " + ", ".join(
            f"{p:.4g} d ({100 * f:.0f} %)" for p, f in aliases), text_font_size="10pt"), "above")
    return fig


def recovery_curve(rates: pd.DataFrame, current_nights: int):
    """Recovery rate against the number of epochs (nights) of the cadence."""
    fig = figure(title="Recovery against the number of nights", x_axis_type="log",
                 x_axis_label="nights", y_axis_label="recovered (%)", y_range=(-5, 105),
                 height=260, sizing_mode="stretch_width", tools=TOOLS)
    fig.line(rates["nights"], 100 * rates["rate"], line_width=2, color="#444444")
    fig.scatter(rates["nights"], 100 * rates["rate"], size=8, color="#444444")
    fig.add_layout(Span(location=current_nights, dimension="height", line_color="#2ca02c",
                        line_dash="dashed"))
    return fig


class WhereFigure:
    """The real training stars of a class in the two parameters that place them (the RR
    Lyrae instability strip, a period-luminosity diagram, or a period histogram), the
    current star marked; the marker moves in place."""

    def __init__(self, stars: pd.DataFrame, x: str, y: str | None, cls: str):
        self.x, self.y = x, y
        self.marker = ColumnDataSource({"x": [], "y": []}, name="current star")
        kinds = {"x_axis_type": "log" if x == "period" else "linear",
                 "y_axis_type": "log" if y == "period" else "linear"}
        self.figure = figure(height=320, sizing_mode="stretch_width", tools=TOOLS,
                             x_axis_label=AXIS_LABELS[x],
                             y_axis_label=AXIS_LABELS[y] if y else "real training stars", **kinds)
        known = stars.dropna(subset=[c for c in (x, y) if c])
        if y is None:
            self.figure.title.text = f"Where the star sits: the periods of {len(known)} real {cls} stars"
            edges = np.geomspace(known[x].min(), known[x].max(), HISTOGRAM_BINS + 1)
            counts, _ = np.histogram(known[x], edges)
            self.figure.quad(left=edges[:-1], right=edges[1:], bottom=0, top=counts, color="#bbbbbb")
            self.line = Span(location=1.0, dimension="height", line_color="black", line_width=3)
            self.figure.add_layout(self.line)
            return
        self.line = None
        what = "the instability strip" if cls == "RRLYR" else f"{len(known)} real {cls} stars"
        self.figure.title.text = f"Where the star sits: {what}"
        if "mode" in known:
            for mode, colour in MODE_COLOURS.items():
                part = known[known["mode"] == mode]
                self.figure.scatter(part[x], part[y], size=5, alpha=0.6, color=colour,
                                    legend_label=f"real {mode} ({len(part)})")
        else:
            self.figure.scatter(known[x], known[y], size=4, alpha=0.4, color=CLASS_COLOURS.get(cls, "grey"),
                                legend_label=f"real {cls}")
        self.interval = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        self.figure.segment("x0", "y0", "x1", "y1", source=self.interval, color="black", line_width=2)
        self.figure.scatter("x", "y", source=self.marker, marker="star", size=22, color="black",
                            line_color="white", legend_label="this star")
        if y == "abs_mag":
            self.figure.y_range.flipped = True
        _legend_above(self.figure)

    def update(self, current: dict[str, float],
               intervals: dict[str, tuple[float, float]] | None = None) -> None:
        """Move the marker to ``current``; ``intervals`` (low, high) of either axis draw as bars."""
        if self.line is not None:
            self.line.location = current[self.x]
            return
        x, y = current[self.x], current[self.y]
        if math.isnan(x) or math.isnan(y):  # not placed: no marker at all
            self.marker.data = {"x": [], "y": []}
            self.interval.data = {"x0": [], "y0": [], "x1": [], "y1": []}
            return
        self.marker.data = {"x": [x], "y": [y]}
        bars = {"x0": [], "y0": [], "x1": [], "y1": []}
        for axis, (low, high) in (intervals or {}).items():
            if axis in (self.x, self.y):
                ends = ((low, y), (high, y)) if axis == self.x else ((x, low), (x, high))
                for key, value in zip(("x0", "y0", "x1", "y1"), (*ends[0], *ends[1])):
                    bars[key].append(value)
        self.interval.data = bars


class CurveFigures:
    """The light-curve tab as Bokeh figures whose data are replaced in place on each change,
    much cheaper than re-rendering HoloViews plots (and zoom is kept)."""

    def __init__(self):
        self.curve = ColumnDataSource({"phase": [], "median": [], "low": [], "high": [], "nearest": []})
        self.points = ColumnDataSource({"time": [], "phase": [], "mag": [], "mag_err": [],
                                        "top": [], "bottom": []})
        # points fainter than the survey's 5-sigma depth are upper limits, at that depth: drawn
        # apart, so a row of them is not read as a flat light curve
        self.seen, self.unseen = CDSView(filter=BooleanFilter([])), CDSView(filter=BooleanFilter([]))
        self.power = ColumnDataSource({"period": [], "power": []})
        common = dict(sizing_mode="stretch_width", height=300, tools=TOOLS)
        self.folded = figure(title="Phase-folded light curve", x_axis_label="phase",
                             y_axis_label="magnitude", x_range=(0, 1), **{**common, "height": 340})
        self.folded.varea("phase", "low", "high", source=self.curve, fill_alpha=0.3,
                          legend_label="16-84 % of samples")
        self.folded.line("phase", "median", source=self.curve, line_width=2, legend_label="median")
        self.folded.line("phase", "nearest", source=self.curve, line_width=2, line_dash="dashed",
                         color="#2ca02c", legend_label="nearest real star (shape)")
        self.folded.scatter("phase", "mag", source=self.points, view=self.seen, color="black", size=4,
                            legend_label="observed")
        limits = self.folded.scatter("phase", "mag", source=self.points, view=self.unseen,
                                     color="#888888", marker="inverted_triangle", size=7,
                                     legend_label="upper limit (5σ depth)")
        # two lines: which real star and its shape; whose curve it is
        self.subtitle, self.source_line = (Title(text="", text_font_size="10pt", text_font_style="normal")
                                           for _ in range(2))
        self.folded.add_layout(self.source_line, "above")
        self.folded.add_layout(self.subtitle, "above")
        _legend_above(self.folded)
        self.folded.legend[0].nrows = 2  # five entries do not fit one row beside the strip view
        self.limits_item = next(item for item in self.folded.legend[0].items if limits in item.renderers)
        self.series = figure(title="Observed", x_axis_label="time (days, as given)",
                             y_axis_label="magnitude", **{**common, "height": 240})
        self.errors = self.series.segment("time", "top", "time", "bottom", source=self.points,
                                          view=self.seen, color="black")
        self.series.scatter("time", "mag", source=self.points, view=self.seen, color="black", size=4)
        self.series.scatter("time", "mag", source=self.points, view=self.unseen, color="#888888",
                            marker="inverted_triangle", size=7)
        for fig in (self.folded, self.series):
            fig.y_range.flipped = True
            fig.add_tools(HoverTool(tooltips=[("time", "@time{0.000}"), ("phase", "@phase{0.000}"),
                                              ("mag", "@mag{0.000}")]))
        self.periodogram = figure(title="Periodogram", x_axis_label="period (days)",
                                  y_axis_label="power", x_axis_type="log", **{**common, "height": 230})
        self.periodogram.line("period", "power", source=self.power, color="#444444")
        self.true_period = Span(dimension="height", line_color="#2ca02c", line_dash="dashed",
                                location=1.0)
        self.periodogram.add_layout(self.true_period)

    def update(self, curve: pd.DataFrame | None, observed: pd.DataFrame | None, search: dict,
               shape: dict, mode: str, nearest: dict, points: str = "") -> None:
        if curve is not None:
            data = {c: curve[c].to_numpy() for c in ("phase", "median", "low", "high")}
            shown = nearest.get("curve")
            # the nearest real star's shape, drawn over the generated curve's range
            data["nearest"] = (data["median"].min() + np.ptp(data["median"]) * shown
                               if shown is not None else np.full(len(curve), np.nan))
            self.curve.data = data
        if shape:
            self.folded.title.text = (f"Phase-folded: R21 {shape['R21']:.2f} · φ31 {shape['phi31']:.2f}"
                                      + (f" · {mode}" if mode else ""))
        if nearest:
            where = ", ".join(SHORT[k].format(nearest[k]) for k in SHORT if not math.isnan(nearest[k]))
            self.subtitle.text = (f"Nearest real star (dashed; {where}): "
                                  f"R21 {nearest['R21']:.2f} · φ31 {nearest['phi31']:.2f}")
            self.source_line.text = f"drawn from {nearest['source']}"
        if observed is not None:
            data = {c: observed[c].to_numpy() for c in ("time", "phase", "mag", "mag_err")}
            data["top"], data["bottom"] = data["mag"] - data["mag_err"], data["mag"] + data["mag_err"]
            detected = observed["detected"].to_numpy(bool)
            self.points.data = data
            self.seen.filter.booleans, self.unseen.filter.booleans = list(detected), list(~detected)
            self.limits_item.visible = not detected.all()
            self.errors.visible = bool(data["mag_err"].any())
            limits = (f", {np.sum(~detected)} fainter than the survey's 5σ depth (▽, upper limits at it)"
                      if not detected.all() else "")
            self.series.title.text = (f"Observed: {len(observed)} epochs" + (f" of {points}" if points else "")
                                      + limits)
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


def _bars(title: str, factors: list[str], colours: dict[str, str], height: int):
    fig = figure(title=title, y_range=FactorRange(*reversed(factors)), x_range=(0, 115),
                 x_axis_label="probability (%)", height=height, sizing_mode="stretch_width",
                 toolbar_location=None)
    source = ColumnDataSource(_bar_data(factors, colours, None))
    fig.hbar(y="name", right="percent", height=0.7, source=source, color="colour")
    fig.text(x="percent", y="name", text="label", source=source, x_offset=4, text_font_size="9pt",
             text_baseline="middle")
    fig.ygrid.visible = False
    return fig, source


def _bar_data(names, colours: dict[str, str], probabilities: dict[str, float] | None) -> dict:
    """A bar chart's columns: one bar per name, its colour, its probability in per cent and
    the label written beside it (none without probabilities)."""
    percent = [100 * (probabilities or {}).get(name, 0.0) for name in names]
    return {"name": list(names), "percent": percent,
            "colour": [colours.get(name, "#888888") for name in names],
            "label": [f"{p:.0f} %" if probabilities else "" for p in percent]}


def _set_bars(source: ColumnDataSource, probabilities: dict[str, float] | None) -> None:
    """New probabilities on the bars ``source`` already has, their colours kept."""
    names = source.data["name"]
    source.data = _bar_data(names, dict(zip(names, source.data["colour"])), probabilities)


class StarFigures:
    """The "Your star" views: the data folded on the inferred period with the best fit over it
    (error bars, bright up), the class probabilities and the subtype (mode) probabilities; data
    replaced in place on each inference."""

    def __init__(self, classes: list[str]):
        self.points = ColumnDataSource({"time": [], "phase": [], "mag": [], "top": [], "bottom": [],
                                        "colour": [], "band": []})
        self.curve = ColumnDataSource({"xs": [], "ys": [], "colour": [], "band": []})
        self.folded = figure(title="Your star, folded (infer to see it)", x_axis_label="phase",
                             y_axis_label="magnitude", x_range=(0, 1), height=320,
                             sizing_mode="stretch_width", tools=TOOLS)
        self.folded.segment("phase", "top", "phase", "bottom", source=self.points, color="colour",
                            alpha=0.35)
        self.folded.scatter("phase", "mag", source=self.points, color="colour", size=4, alpha=0.45,
                            legend_field="band")
        self.folded.multi_line("xs", "ys", source=self.curve, color="colour", line_width=2,
                               legend_label="best fit")
        self.folded.y_range.flipped = True  # magnitudes: bright up
        self.folded.add_tools(HoverTool(tooltips=[("time", "@time{0.00000}"), ("phase", "@phase{0.000}"),
                                                  ("mag", "@mag{0.000}"), ("band", "@band")]))
        self.subtitle = Title(text="", text_font_size="10pt", text_font_style="normal")
        self.folded.add_layout(self.subtitle, "above")
        _legend_above(self.folded)
        self.classes, self.class_bars = _bars("Class probabilities", classes, CLASS_COLOURS,
                                              height=60 + 22 * len(classes))
        self.modes, self.mode_bars = _bars("Subtype (mode)", list(MODE_COLOURS), MODE_COLOURS,
                                           height=170)  # three subtypes (a Cepheid's) readable
        self.seasons = ColumnDataSource({"time": [], "o_minus_c": [], "top": [], "bottom": []})
        self.timing = figure(title="O−C of its observing seasons", x_axis_label="time (d)",
                             y_axis_label="O − C (d)", height=240, width=380, tools=TOOLS)
        self.timing.add_layout(Span(location=0, dimension="width", line_color="grey"))
        self.timing.yaxis.formatter = NumeralTickFormatter(format="0.0000")
        self.timing_verdict = Title(text="", text_font_size="10pt", text_font_style="normal")
        self.timing.add_layout(self.timing_verdict, "above")
        self.timing.segment("time", "top", "time", "bottom", source=self.seasons, color="black")
        self.timing.scatter("time", "o_minus_c", source=self.seasons, color="black", size=7)
        self.timing.add_tools(HoverTool(tooltips=[("time", "@time{0.0}"),
                                                  ("O − C (d)", "@o_minus_c{0.00000}")]))

    def update_timing(self, timing: dict) -> None:
        """The best fit's O-C diagram (the state's ``timing``): each season's O - C with its error
        bar; a constant period puts them on a line."""
        time = timing.get("time", ())
        o_minus_c, error = timing.get("o_minus_c", np.empty(0)), timing.get("error", np.empty(0))
        self.seasons.data = {"time": time, "o_minus_c": o_minus_c, "top": o_minus_c + error,
                             "bottom": o_minus_c - error}
        if not timing:
            title, verdict = "O−C of its observing seasons", "(infer to see it)"
        elif len(time) == 0:
            title, verdict = "No O−C diagram:", timing["absent"]
        else:
            title = f"O−C of its {len(time)} {timing['chunks']}"
            verdict = f"a constant period explains them: p = {timing['constant_period_p']:.2g}"
        self.timing.title.text, self.timing_verdict.text = title, verdict

    def update(self, result: dict, folded: pd.DataFrame | None, fitted: pd.DataFrame | None) -> None:
        _set_bars(self.class_bars, result.get("class_probabilities"))
        probabilities = result.get("subtype_probabilities")
        names = list(probabilities) if probabilities else list(MODE_COLOURS)
        self.modes.y_range.factors = list(reversed(names))  # the class's own subtypes
        self.mode_bars.data = _bar_data(names, SUBTYPE_COLOURS, probabilities)
        if not result:
            self.modes.title.text = "Subtype (mode)"
        elif probabilities:
            self.modes.title.text = f"{result['class']} subtype (mode)"
        else:
            self.modes.title.text = f"Subtype: none inferred for {result['class']}"
        if folded is None or fitted is None:
            self.points.data = {k: [] for k in self.points.data}
            self.curve.data = {k: [] for k in self.curve.data}
            self.folded.title.text, self.subtitle.text = "Your star, folded (infer to see it)", ""
            return
        colours = [BAND_COLOURS.get(b, "#444444") for b in folded["band"]]
        mag, err = folded["mag"].to_numpy(), folded["err"].to_numpy()
        self.points.data = {"time": folded["time"].to_numpy(), "phase": folded["phase"].to_numpy(),
                            "mag": mag, "top": mag - err, "bottom": mag + err, "colour": colours,
                            "band": folded["band"].to_numpy()}
        bands = list(dict.fromkeys(fitted["band"]))
        parts = [fitted[fitted["band"] == b] for b in bands]
        self.curve.data = {"xs": [p["phase"].to_numpy() for p in parts],
                           "ys": [p["mag"].to_numpy() for p in parts],
                           "colour": ["black"] if len(bands) == 1 else  # else one colour a band
                           [BAND_COLOURS.get(b, "#444444") for b in bands], "band": bands}
        self.folded.yaxis.axis_label = f"magnitude ({', '.join(bands)})"
        mode = f" ({result['subtype']})" if result["subtype"] else ""
        self.folded.title.text = f"Your star folded on P = {result['period']:.6g} d: {result['class']}{mode}"
        self.subtitle.text = (f"{len(folded)} points ± errors; line: the model's best fit; "
                              f"maximum light at phase 0")
