"""pelsvae explorer: physics-driven light curves, the RR Lyrae morph, cadence effects, latent space.

Run with ``panel serve dashboard/app.py --warm``: ``--warm`` builds one page while the
server starts, so the model is loaded (once per server process, ``PELSVAE_MODEL``
chooses another model folder) before the first visitor arrives.
"""
from __future__ import annotations

import asyncio
import logging

import holoviews as hv
import panel as pn
import panel_material_ui as pmui
from panel.util import edit_readonly
from bokeh.models import CustomJSTickFormatter

from dashboard import plots
from dashboard.state import (MAX_UPLOAD_BYTES, MAX_UPLOAD_TEXT, Explorer, OneFitAtATime, YourStar,
                             model_problem, model_tables, shared_model)
from pelsvae_core.evaluation import report
from pelsvae_core.evaluation.lesson import NEIGHBOURS
from pelsvae_core.evaluation.morph import MORPH_BAND

log = logging.getLogger(__name__)

SLIDERS = {"teff": 10.0, "abs_mag": 0.01, "log_period": 0.002}  # parameter: slider step
#: The period slider moves in log10(days) and shows days.
DAYS = CustomJSTickFormatter(code="return (10 ** tick).toPrecision(3) + ' d'")
NOTE = {"color": "#666", "font-size": "0.85em"}
HOW_TO = """Move **Teff**: in lesson mode an RR Lyrae walks along the real instability strip (right),
from RRab sawtooths (cool) to RRc sinusoids (hot); R21 and φ31 are in the curve's title.
Pick a **cadence** or paste times; **Cadence effects** counts how often the period is found."""


def on_session(update):
    """``update`` (which changes Bokeh models) as a watcher callback that runs on the session's
    own event loop under its document lock, once per burst of changes: a widget event can reach
    a watcher outside the lock (a button clicked while a text change is still pending), and
    Bokeh refuses changes made there. What it changes goes to the browser as one message
    (``pn.io.unlocked``), not one per property: a slider move changes nine, each a message of
    its own before. Without a server session it runs at once."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return lambda *_: update()
    pending = []

    def run():
        pending.clear()
        with pn.io.unlocked():
            update()

    def schedule(*_):
        if not pending:
            pending.append(True)
            doc.add_next_tick_callback(run)
    return schedule


class Upload(pmui.FileInput):
    """A file upload bounded to :data:`MAX_UPLOAD_BYTES`: the browser sends the file in chunks
    (so no message nears Bokeh's 20 MiB websocket limit, which would end the session) and
    refuses a larger file before sending it; that refusal, which the widget would only show as
    an icon, reaches ``on_refused`` (one line) so the page can say it."""

    def __init__(self, on_refused, **params):
        super().__init__(max_file_size=MAX_UPLOAD_BYTES, **params)
        self._on_refused = on_refused

    def _handle_msg(self, msg):
        if isinstance(msg, dict) and msg.get("status") == "error":
            self._on_refused(msg.get("error") or f"the browser did not send the file (uploads are "
                                                  f"limited to {MAX_UPLOAD_TEXT})")
            return
        super()._handle_msg(msg)


def text_box(parameter=None, **params) -> pn.widgets.TextAreaInput:
    """A paste box (of ``parameter`` if given) that holds one character more than an upload may
    have, so that a table the browser cut at the limit is refused, not read partly."""
    params["max_length"] = MAX_UPLOAD_BYTES + 1
    if parameter is None:
        return pn.widgets.TextAreaInput(**params)
    return pn.widgets.TextAreaInput.from_param(parameter, **params)


def note(text: str = "") -> pn.pane.Markdown:
    return pn.pane.Markdown(text, styles=NOTE, margin=(-6, 10, 4, 10), sizing_mode="stretch_width")


class Prompt:
    """A control whose committed value is handled at once. Panel waits 50 ms after a browser
    change (``Syncable._debounce``) to gather a burst of them into one; a released slider or
    an entered number sends one, so the wait was pure delay: measured with
    ``benchmarks/dashboard_latency.py --app floor``, change to data in the page took 59 ms for
    7 ms of server work."""

    _debounce = 0


class PromptSlider(Prompt, pn.widgets.FloatSlider):
    """A physics slider, handled at once (:class:`Prompt`)."""


class PromptIntSlider(Prompt, pn.widgets.IntSlider):
    """The sample-count slider, handled at once (:class:`Prompt`)."""


class PromptFloatInput(Prompt, pn.widgets.FloatInput):
    """A cadence number or a distance, handled at once (:class:`Prompt`)."""


class PromptIntInput(Prompt, pn.widgets.IntInput):
    """A whole cadence number (nights, visits), handled at once (:class:`Prompt`)."""


def physics_controls(state: Explorer) -> pn.Column:
    """Class, regressor, lesson mode and physics sliders; a slider the class ignores is hidden
    behind its reason, one that follows Teff is disabled and says so."""
    rows, reasons, sliders = [], {}, {}
    lesson = pn.widgets.Checkbox.from_param(state.param.lesson)
    lesson_note = note()
    for name, step in SLIDERS.items():
        options = {"format": DAYS} if name == "log_period" else {}
        sliders[name] = PromptSlider.from_param(state.param[name], step=step, **options)
        reasons[name] = note()
        rows += [sliders[name], reasons[name]]

    def sync(*_):
        available, why = state.lesson_available()
        lesson.disabled = not available
        lesson_note.object = why
        for name in SLIDERS:
            used, reason = state.responds(name)
            known = name in state.info.parameters  # else hidden: its value would mean nothing
            sliders[name].visible = known
            sliders[name].disabled = not used
            reasons[name].object = reason if known else f"**{state.param[name].label}** {reason}"

    state.param.watch(sync, ["star_class", "lesson"])
    sync()
    redraw = pn.widgets.Button(label="Redraw samples", color="primary")
    redraw.on_click(lambda _: state.redraw())
    return pn.Column(
        pn.widgets.Select.from_param(state.param.star_class),
        pn.widgets.Select.from_param(state.param.regressor),
        pn.widgets.Select.from_param(state.param.band), lesson, lesson_note, *rows,
        PromptIntSlider.from_param(state.param.n_samples), redraw, sizing_mode="stretch_width")


def cadence_controls(state: Explorer) -> pn.Column:
    """The cadence and its numbers (those the cadence does not use disabled), or user times."""
    numbers = {name: (PromptIntInput if state.param[name].__class__.__name__ == "Integer"
                      else PromptFloatInput).from_param(state.param[name])
               for name in ("baseline_days", "nights", "season_days", "visits_per_night",
                            "visit_gap_minutes")}
    redraw = pn.widgets.Button(label="New observing nights")
    redraw.on_click(lambda _: state.redraw_cadence())

    def sync(*_):
        used = state.cadence_fields()
        for name, widget in numbers.items():
            widget.disabled = name not in used
        redraw.disabled = state.cadence in ("uniform", "custom")

    state.param.watch(sync, "cadence")
    sync()
    upload = Upload(state.upload_refused, accept=".csv", label="Upload times (CSV)")
    upload.param.watch(lambda event: state.upload_times(event.new) if event.new else None, "value")
    pasted = text_box(placeholder="or paste times (days), one per line", height=90)
    use_pasted = pn.widgets.Button(label="Use pasted times")
    use_pasted.on_click(lambda _: state.upload_times(pasted.value.encode()))
    return pn.Column(
        pn.widgets.Select.from_param(state.param.cadence), *numbers.values(),
        pn.pane.Markdown(state.param.cadence_note, styles=NOTE), redraw,
        pn.pane.Markdown("Your own cadence: a CSV whose `time`/`mjd` (or first) column holds days; "
                         f"MJDs stay MJDs. At most {MAX_UPLOAD_TEXT}.", styles=NOTE),
        upload, pasted, use_pasted, sizing_mode="stretch_width")


def noise_controls(state: Explorer) -> pn.Column:
    survey = pn.widgets.Select.from_param(state.param.noise_survey)
    state.param.watch(lambda *_: setattr(survey, "disabled", not state.noise), "noise")
    survey.disabled = not state.noise
    return pn.Column(pn.widgets.Checkbox.from_param(state.param.noise), survey,
                     pn.pane.Markdown(state.param.noise_note, styles=NOTE, sizing_mode="stretch_width"),
                     PromptFloatInput.from_param(state.param.distance_pc),
                     pn.pane.Markdown(state.param.magnitude_note, styles=NOTE, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")


def export_controls(state: Explorer) -> pn.Column:
    def download(fmt):
        return pn.widgets.FileDownload(callback=lambda: state.export(fmt), filename=f"pelsvae_curves.{fmt}",
                                       label=f"Download {fmt.upper()}", color="success")
    return pn.Column(pn.Row(download("csv"), download("parquet")),
                     pn.pane.Markdown("Every sample at the cadence's times, with the physics, cadence "
                                      "numbers and noise survey used.", styles=NOTE))


def message_banner(state: Explorer) -> pn.pane.Alert:
    banner = pn.pane.Alert(alert_type="warning", visible=False, sizing_mode="stretch_width")

    def show(*_):
        banner.object = state.message
        banner.visible = bool(state.message)

    state.param.watch(show, "message")
    show()
    return banner


def curve_tab(state: Explorer) -> pn.Column:
    """The folded curve beside the strip view, the observed series and the periodogram."""
    figures = plots.CurveFigures()
    where = pn.pane.Bokeh(sizing_mode="stretch_width")
    drawn = {}

    def update():
        figures.update(state.curve, state.observed, state.search, state.shape, state.mode,
                       state.nearest, state.points)
        if drawn.get("class") != state.star_class:  # a new class: new stars and axes
            drawn.update({"class": state.star_class, "view": plots.WhereFigure(*state.where_view(),
                                                                                state.star_class)})
            where.object = drawn["view"].figure
        drawn["view"].update(state.current_physics())

    state.param.watch(on_session(update), ["curve", "observed", "search", "star_class"])
    update()
    return pn.Column(
        pn.Row(pn.pane.Bokeh(figures.folded, sizing_mode="stretch_width"),
               pn.Column(where, width=360), sizing_mode="stretch_width"),
        pn.pane.Bokeh(figures.series, sizing_mode="stretch_width"),
        pn.pane.Bokeh(figures.periodogram, sizing_mode="stretch_width"), sizing_mode="stretch_width")


def recovery_tab(state: Explorer) -> pn.Column:
    """Period recovery over many realisations, measured on demand."""
    button = pn.widgets.Button(label="Measure period recovery (100 realisations)", color="primary")
    output = pn.Column(sizing_mode="stretch_width")

    def show(*_):
        if state.recovery is None:
            output[:] = [pn.pane.Markdown("Press the button to observe this star 100 times under "
                                          "this cadence (new nights, noise and sample each time) "
                                          "and count how often the periodogram finds the period.")]
            return
        found = state.recovery
        figures = [plots.recovery(found.found, found.true_period, found.rate, found.aliases())]
        if state.recovery_curve is not None and len(state.recovery_curve):
            figures.append(plots.recovery_curve(state.recovery_curve, state.nights))
        output[:] = [pn.Row(*(pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figures),
                            sizing_mode="stretch_width")]

    def measure(_):
        button.loading = True
        try:
            state.measure_recovery()
        finally:
            button.loading = False

    button.on_click(measure)
    state.param.watch(show, "recovery")
    show()
    return pn.Column(button, output, sizing_mode="stretch_width")


def latent_tab(state: Explorer) -> pn.Column:
    # Two DynamicMaps, not one returning an overlay: a Tap stream whose source returns an
    # overlay never fires (holoviz/holoviews#3533), and a slider move now re-sends only the
    # marker, not the thousands of training points.
    points = hv.DynamicMap(lambda **_: plots.latent_points(state.latent_points(), state.projection),
                           streams=[hv.streams.Params(state, ["projection"])])
    marker = hv.DynamicMap(lambda **_: plots.current_marker(state.current_point()),
                           streams=[hv.streams.Params(state, ["position", "projection"])])
    tap = hv.streams.Tap(source=points)
    tap.add_subscriber(lambda x, y: state.decode_latent_point(x, y) if x is not None else None)
    return pn.Column(pn.widgets.Select.from_param(state.param.projection),
                     pn.pane.HoloViews(points * marker, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")


def morph_tab(state: Explorer) -> pn.Column:
    output = pn.Column(sizing_mode="stretch_width")
    button = pn.widgets.Button(label="Show the RR Lyrae morph", color="primary")

    def show(_):
        button.loading = True
        try:
            curves, shapes, real, notes = state.morph()
            output[:] = [pn.pane.Bokeh(plots.morph(curves, shapes, real)),
                         *[pn.pane.Markdown(f"- {note}", styles=NOTE, sizing_mode="stretch_width")
                           for note in notes]]
        except ValueError as error:
            output[:] = [pn.pane.Alert(str(error), alert_type="warning")]
        finally:
            button.loading = False

    button.on_click(show)
    return pn.Column(
        pn.pane.Markdown("Generated RR Lyrae from the coolest to the hottest real training stars "
                         "(5th to 95th percentile of Teff), period and absolute magnitude following "
                         "the real stars at each Teff, on one magnitude axis. Cool stars pulsate in "
                         "the fundamental mode (RRab, red: sawtooth), hot ones in the first overtone "
                         "(RRc, blue: near-sinusoid, smaller R21). Dashed grey: the median shape of the "
                         f"{NEIGHBOURS} real Stripe 82 RR Lyrae nearest in Teff ({MORPH_BAND} band), each about "
                         "its mean, set on the generated curve's mean.", sizing_mode="stretch_width"),
        pn.Row(pn.widgets.Select.from_param(state.param.regressor, width=200), button),
        output, sizing_mode="stretch_width")


def model_tab(state: Explorer) -> pn.Column:
    model = state.model
    provenance = pn.pane.Markdown("\n".join(report.training_lines(model.metadata, model.folder.name)),
                                  sizing_mode="stretch_width")
    evaluation = model.evaluation()
    if not evaluation:
        return pn.Column(provenance, sizing_mode="stretch_width")
    status = model_tables(model).report_status
    stale = [f"**The stored evaluation is {status}.**"] if status.startswith("stale") else []
    results = pn.bind(lambda regressor: "\n".join(stale + report.headline_lines(evaluation, regressor)),
                      state.param.regressor)
    return pn.Column(provenance, pn.pane.Markdown(results, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")


YOUR_STAR_HELP = f"""Upload or paste a light curve as CSV with a header: columns **time** (days),
**mag**, **err** and optionally **band** (one of the model's bands per row), the format of
`pelsvae infer`; at least 10 points, at most {MAX_UPLOAD_TEXT}. The model fits every class it
was trained on in the curve's bands and gives the class, its subtype or mode (RR Lyrae
RRab/RRc, Cepheid F/1O, eclipsing EA/EB/EW), the period (aliases considered) and the physics
with their 16–84 % intervals; a distance gives the absolute magnitude. The O−C diagram shows
each observing season's timing against the fit: a constant period puts the seasons on a line, a
changing period or a Blazhko star scatters them. The rest of the page stays usable while it
works (about a second)."""


def your_star_tab(state: Explorer) -> pn.Column:
    """The inverse problem on the user's own curve: upload or paste, infer, see the result."""
    star = YourStar(state)
    figures = plots.StarFigures(sorted(state.model.classes))
    where = pn.pane.Bokeh(sizing_mode="stretch_width")
    where_note = note()
    summary = pn.pane.Markdown("", sizing_mode="stretch_width")
    notes = pn.pane.Markdown("", styles=NOTE, sizing_mode="stretch_width")
    banner = pn.pane.Alert(alert_type="warning", visible=False, sizing_mode="stretch_width")
    pasted = text_box(star.param.text, placeholder="time,mag,err,band\n58000.113,15.21,0.02,g\n...",
                      height=160, sizing_mode="stretch_width")
    infer = pn.widgets.Button(label="Infer", color="primary")
    example = pn.widgets.Button(label="Load an example")
    results = pn.Column(sizing_mode="stretch_width")
    queued_note = note()
    drawn = {}

    def show_message(*_):
        banner.object = star.message
        banner.visible = bool(star.message)

    def show_results():
        result = star.result
        figures.update(result, star.folded, star.fitted)
        figures.update_timing(star.timing)
        summary.object = star.summary()
        notes.object = "\n".join(f"- {line}" for line in star.notes)
        view = star.where
        if not view:
            where.visible, where_note.object = False, ""
            return
        if drawn.get("cls") != view["cls"]:  # a new class: its real stars and axes
            drawn.update(cls=view["cls"], figure=plots.WhereFigure(view["stars"], view["x"], view["y"],
                                                                   view["cls"]))
            where.object = drawn["figure"].figure
        drawn["figure"].update(view["values"], view["intervals"])
        where.visible, where_note.object = True, view["note"]

    async def fit(content, name):
        queued_note.object = ""
        request = star.request(content, name)  # quick: read and check the table
        if request is None:
            return
        results.loading = infer.loading = True
        try:  # the fit runs off the event loop: sliders and plots elsewhere keep answering
            outcome = await asyncio.to_thread(star.analyse, request)
        finally:
            results.loading = infer.loading = False
        star.show(request, outcome)

    fits = OneFitAtATime(fit)

    async def run(content=None, name="the pasted table"):
        if fits.busy:
            queued_note.object = (f"{name} arrived while the previous curve was being fitted: "
                                  f"it is fitted next.")
        await fits.submit(star.text if content is None else content, name)

    async def uploaded(event):
        if not event.new:
            return
        try:  # shown in the paste box, so that Infer runs it again with another band or distance
            star.text = event.new.decode()
        except UnicodeDecodeError:
            pass  # the reader names the problem
        await run(event.new, upload.filename or "the uploaded file")

    async def clicked(_):
        await run()

    upload = Upload(star.upload_refused, accept=".csv,.txt", label="Upload a light curve (CSV)")
    upload.param.watch(uploaded, "value")

    infer.on_click(clicked)
    example.on_click(lambda _: star.load_example())
    star.param.watch(show_message, "message")
    star.param.watch(on_session(show_results), ["result", "folded", "where", "timing"])
    show_message()
    show_results()
    results[:] = [summary,
                  pn.Row(pn.pane.Bokeh(figures.folded, sizing_mode="stretch_width"),
                         pn.Column(where, where_note, width=380), sizing_mode="stretch_width"),
                  pn.Row(pn.pane.Bokeh(figures.classes, sizing_mode="stretch_width"),
                         pn.pane.Bokeh(figures.modes, sizing_mode="stretch_width"),
                         pn.pane.Bokeh(figures.timing, width=380),
                         sizing_mode="stretch_width"),
                  notes]
    return pn.Column(
        pn.pane.Markdown(YOUR_STAR_HELP, sizing_mode="stretch_width"), banner,
        pn.Row(upload, pn.widgets.Select.from_param(star.param.band, width=200),
               PromptFloatInput.from_param(star.param.distance_pc, width=200)),
        note("Band: used for a curve without a band column; “from the file” then means the "
             f"model's default band, {state.model.default_band}."),
        pasted, pn.Row(infer, example), queued_note,
        pn.pane.Markdown(star.param.example_note, styles=NOTE, sizing_mode="stretch_width"),
        results, sizing_mode="stretch_width")


def built_when_shown(build_tab) -> pn.param.ParamFunction:
    """A tab built the first time it is shown, not with every page (with ``dynamic`` tabs):
    "Your star" took 180 ms of the server's 1.5 s per new page, for a tab most visits never
    open."""
    return pn.param.ParamFunction(build_tab, lazy=True, sizing_mode="stretch_width")


def section(title: str, *objects, collapsed: bool = False) -> pn.Card:
    return pn.Card(*objects, title=title, collapsed=collapsed, sizing_mode="stretch_width")


def build(state: Explorer | None = None) -> pmui.Page:
    state = state or Explorer(shared_model())
    sidebar = [section("Star", physics_controls(state)),
               section("Cadence", cadence_controls(state)),
               section("Noise and distance", noise_controls(state)),
               section("Export", export_controls(state))]
    tabs = pn.Tabs(("Light curve", curve_tab(state)), ("Cadence effects", recovery_tab(state)),
                   ("RR Lyrae morph", morph_tab(state)), ("Latent space", latent_tab(state)),
                   ("Your star", built_when_shown(lambda: your_star_tab(state))),
                   ("Model", model_tab(state)),
                   dynamic=True, sizing_mode="stretch_width")
    main = [message_banner(state), section("How to use", pn.pane.Markdown(HOW_TO)), tabs]
    return unlinked_from_busy(pmui.Page(title="pelsvae: light curves from physics", sidebar=sidebar,
                                        main=main, sidebar_width=330, busy_indicator=None))


def unlinked_from_busy(page: pmui.Page) -> pmui.Page:
    """``page`` without its link to ``pn.state.busy``, measured twice over:

    - that flag flips twice on every slider move, and each flip made Panel walk every Bokeh
      model of the page (``reactive._patch_datamodel_ref``): half of the server's CPU per
      move (py-spy during ``benchmarks/dashboard_latency.py``);
    - the link is a watcher on the process-wide ``pn.state``, never removed, so every closed
      session's page, with its state and figures, stayed alive (server memory +70 % from 5
      to 50 sessions).

    What takes long (an inference, a recovery measurement) shows its own loading spinner."""
    private = page._param__private  # param keeps a reference's watchers here (param 2)
    for names, watcher in list(private.ref_watchers):
        if "busy" in names:
            pn.state.param.unwatch(watcher)
            private.ref_watchers.remove((names, watcher))
    private.refs.pop("busy", None)
    with edit_readonly(page):
        page.busy = False
    return page


def page() -> pmui.Page:
    """The explorer on the model (``PELSVAE_MODEL`` or the shipped one), or, when that model
    cannot be loaded (a missing or broken folder), a page that says why instead of a blank one."""
    try:
        model = shared_model()
    except Exception as error:
        message = model_problem(error)
        log.error(message)
        return pmui.Page(title="pelsvae: light curves from physics", main=[
            pn.pane.Alert(message, alert_type="danger", sizing_mode="stretch_width")])
    return build(Explorer(model))


if pn.state.served:
    import threadpoolctl
    import torch

    torch.set_num_threads(1)  # one request at a time per core, not every core per request
    threadpoolctl.threadpool_limits(1)  # likewise BLAS (a small matrix product took 60x longer)
    pn.extension(throttled=True, notifications=False)
    hv.extension("bokeh")
    page().servable(title="pelsvae explorer")
