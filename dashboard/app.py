"""pelsvae explorer: physics-driven light curves, cadence effects, latent space, RR Lyrae morph.

Run with ``panel serve dashboard/app.py``; the shipped model is loaded once per
server process (``PELSVAE_MODEL`` chooses another model folder).
"""
from __future__ import annotations

import holoviews as hv
import panel as pn
import torch

from dashboard import plots
from pelsvae_core.evaluation import report
from dashboard.state import Explorer, shared_model

SLIDERS = {"teff": 10.0, "abs_mag": 0.01, "log_period": 0.002}  # parameter: slider step


def physics_controls(state: Explorer) -> pn.Column:
    """Class, regressor and physics sliders; a slider the class ignores is disabled with the reason."""
    rmse = pn.pane.Markdown(sizing_mode="stretch_width", margin=(0, 10))
    rows = []
    reasons = {}
    sliders = {}
    for name, step in SLIDERS.items():
        sliders[name] = pn.widgets.FloatSlider.from_param(state.param[name], step=step)
        reasons[name] = pn.pane.Markdown("", styles={"color": "#888", "font-size": "0.85em"},
                                         margin=(-10, 10, 0, 10))
        rows += [sliders[name], reasons[name]]

    def sync(*_):
        for name in SLIDERS:
            ok, why = state.responds(name)
            sliders[name].disabled = not ok
            reasons[name].object = why
        rmse.object = f"Validation RMSE in latent space: **{state.validation_rmse():.3f}**"

    state.param.watch(sync, ["star_class", "regressor"])
    sync()
    redraw = pn.widgets.Button(label="Redraw samples", color="primary")
    redraw.on_click(lambda _: state.redraw())
    return pn.Column(
        pn.widgets.Select.from_param(state.param.star_class),
        pn.widgets.Select.from_param(state.param.regressor), rmse,
        pn.widgets.Select.from_param(state.param.band), *rows,
        pn.widgets.IntSlider.from_param(state.param.n_samples), redraw)


def cadence_controls(state: Explorer) -> pn.Column:
    upload = pn.widgets.FileInput(accept=".csv", label="Custom cadence (CSV of times)")
    upload.param.watch(lambda event: state.upload_times(event.new), "value")
    pasted = pn.widgets.TextAreaInput(placeholder="or paste times (days), one per line", height=90)
    use_pasted = pn.widgets.Button(label="Use pasted times")
    use_pasted.on_click(lambda _: state.upload_times(pasted.value.encode()))
    return pn.Column(
        pn.widgets.Select.from_param(state.param.cadence),
        pn.widgets.FloatInput.from_param(state.param.baseline_days),
        pn.widgets.IntInput.from_param(state.param.nights),
        pn.widgets.FloatInput.from_param(state.param.season_days),
        pn.widgets.IntInput.from_param(state.param.visits_per_night),
        pn.widgets.FloatInput.from_param(state.param.visit_gap_minutes),
        pn.widgets.Checkbox.from_param(state.param.noise),
        pn.widgets.FloatInput.from_param(state.param.distance_pc),
        pn.pane.Markdown("Custom cadence: a CSV whose `time` (or first) column holds days."),
        upload, pasted, use_pasted)


def export_controls(state: Explorer) -> pn.Row:
    def download(fmt):
        return pn.widgets.FileDownload(callback=lambda: state.export(fmt), filename=f"pelsvae_curves.{fmt}",
                                       label=f"Download {fmt.upper()}", color="success")
    return pn.Row(download("csv"), download("parquet"))


def message_banner(state: Explorer) -> pn.pane.Alert:
    banner = pn.pane.Alert(alert_type="warning", visible=False, sizing_mode="stretch_width")

    def show(*_):
        banner.object = state.message
        banner.visible = bool(state.message)

    state.param.watch(show, "message")
    show()
    return banner


def curve_tab(state: Explorer) -> pn.Column:
    figures = plots.CurveFigures()
    state.param.watch(lambda *_: figures.update(state.curve, state.observed, state.search),
                      ["curve", "observed", "search"])
    figures.update(state.curve, state.observed, state.search)
    return pn.Column(*(pn.pane.Bokeh(f, sizing_mode="stretch_width")
                       for f in (figures.folded, figures.series, figures.periodogram)),
                     sizing_mode="stretch_width")


def latent_tab(state: Explorer) -> pn.Column:
    # Two DynamicMaps, not one returning an overlay: a Tap stream whose source returns an
    # overlay never fires (holoviz/holoviews#3533), and a slider move now re-sends only the
    # marker, not the thousands of training points.
    points = hv.DynamicMap(lambda **_: plots.latent_points(state.latent_points()),
                           streams=[hv.streams.Params(state, ["projection"])])
    marker = hv.DynamicMap(lambda **_: plots.current_marker(state.current_point()),
                           streams=[hv.streams.Params(state, ["position", "projection"])])
    tap = hv.streams.Tap(source=points)
    tap.add_subscriber(lambda x, y: state.decode_latent_point(x, y) if x is not None else None)
    return pn.Column(pn.widgets.Select.from_param(state.param.projection),
                     pn.pane.HoloViews(points * marker, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")


def morph_tab(state: Explorer) -> pn.Column:
    output = pn.Column(pn.pane.Markdown(
        "Generated RR Lyrae across the Teff range of the real training stars, with period and "
        "absolute magnitude following the real stars at each Teff; one row per regressor "
        "(paper Fig. 8). Cool stars should look like RRab sawtooths, hot ones like RRc sinusoids."), sizing_mode="stretch_width")
    button = pn.widgets.Button(label="Show the RR Lyrae morph", color="primary")

    def show(_):
        button.loading = True
        try:
            curves, shapes = state.morph()
            output[:] = [output[0], pn.pane.HoloViews(plots.morph(curves, shapes))]
        except ValueError as error:
            output[:] = [output[0], pn.pane.Alert(str(error), alert_type="warning")]
        finally:
            button.loading = False

    button.on_click(show)
    return pn.Column(button, output, sizing_mode="stretch_width")


def model_tab(state: Explorer) -> pn.Column:
    model = state.model
    provenance = pn.pane.Markdown("\n".join(report.training_lines(model.metadata, model.folder.name)),
                                  sizing_mode="stretch_width")
    evaluation = model.evaluation()
    if not evaluation:
        return pn.Column(provenance, sizing_mode="stretch_width")
    status = model.report_status()
    stale = [f"**The stored evaluation is {status}.**"] if status.startswith("stale") else []
    results = pn.bind(lambda regressor: "\n".join(stale + report.headline_lines(evaluation, regressor)),
                      state.param.regressor)
    return pn.Column(provenance, pn.pane.Markdown(results, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")


def build(state: Explorer | None = None) -> pn.Row:
    state = state or Explorer(shared_model())
    sidebar = pn.Column(
        "## pelsvae", pn.pane.Markdown("Physics in, light curves out."),
        physics_controls(state), pn.layout.Divider(), "### Cadence", cadence_controls(state),
        pn.layout.Divider(), "### Export", export_controls(state), width=330)
    tabs = pn.Tabs(("Light curve", curve_tab(state)), ("Latent space", latent_tab(state)),
                   ("RR Lyrae morph", morph_tab(state)), ("Model", model_tab(state)),
                   dynamic=True, sizing_mode="stretch_width")
    return pn.Row(sidebar, pn.Column(message_banner(state), tabs, sizing_mode="stretch_width"),
                  sizing_mode="stretch_width")


if pn.state.served:
    torch.set_num_threads(1)
    pn.extension(throttled=True, notifications=False)
    hv.extension("bokeh")
    build().servable(title="pelsvae explorer")
