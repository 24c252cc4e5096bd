"""The real server in a real browser: ``panel serve dashboard/app.py --warm`` driven by headless
Chromium at a projector's 1280 x 720."""
from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from browser import CHROMIUM, READ_PLOTS, launch, served_app  # noqa: E402

from pelsvae_core.evaluation.morph import shape_parameters  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/run installs it)")
PROJECTOR = {"width": 1280, "height": 720}


@pytest.fixture(scope="module")
def server(small_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "panel.log"
    with served_app(small_model.folder, log) as running:
        yield running, log


@pytest.fixture(scope="module")
def shipped_server(tmp_path_factory):
    """The shipped model: the lesson's morph is a claim about it, not about the small test model."""
    log = tmp_path_factory.mktemp("shipped") / "panel.log"
    with served_app(None, log) as running:
        yield running, log


def open_page(playwright, url):
    browser = launch(playwright)
    page = browser.new_page(viewport=PROJECTOR)
    page.failed, page.external = [], []
    page.on("request", lambda r: None if urlparse(r.url).hostname in ("127.0.0.1", "localhost")
            or not r.url.startswith("http") else page.external.append(r.url))
    page.on("requestfailed", lambda r: page.failed.append(r.url))
    page.on("response", lambda r: page.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url)
    page.wait_for_selector("canvas", timeout=60_000)
    return browser, page


def browsing(server):
    """A page of a running server; afterwards, no request left the server and the app logged
    no error."""
    running, log = server
    with playwright_api.sync_playwright() as p:
        browser, page = open_page(p, running.url)
        yield page
        browser.close()
    assert page.external == []  # works offline: every script, style and font from the server
    assert app_errors(log) == []


@pytest.fixture
def page(server):
    yield from browsing(server)


@pytest.fixture
def shipped_page(shipped_server):
    yield from browsing(shipped_server)


def app_errors(log: Path) -> list[str]:
    """Lines of the server log that show an error in the dashboard or the core: a traceback
    through their code, a refresh that failed, a Bokeh change outside the session's lock (a
    browser closing while the server writes to it is no error of the app's)."""
    return [line for line in log.read_text().splitlines()
            if any(mark in line for mark in ("/dashboard/", "/pelsvae_core/", "refresh failed",
                                             "_pending_writes"))]


def wait_for(page, condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(READ_PLOTS)
        if condition(state):
            return state
        time.sleep(0.2)
    raise AssertionError(f"the page did not reach the expected state: {page.evaluate(READ_PLOTS)['titles']}")


def drag(page, handle_index: int, dx: float):
    box = page.locator(".noUi-handle").nth(handle_index).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=5)
    page.mouse.up()


def title(state, start: str) -> str:
    return next((t for t in state["titles"] if t.startswith(start)), "")


def true_period(state) -> float:
    """The true period written in the periodogram's title, days (0 before there is one)."""
    match = re.search(r"true ([0-9.eE+-]+) d", title(state, "Periodogram"))
    return float(match.group(1)) if match else 0.0


def r21(state) -> float:
    """R21 of the median curve as plotted (magnitudes at 200 phases)."""
    median = np.array(state["median"])
    return shape_parameters(np.linspace(0, 1, median.size, endpoint=False), median)["R21"]


def number_input(page, label: str):
    return page.get_by_label(label, exact=True)


def checkbox(page, label: str):
    return page.locator(".bk-Checkbox", has_text=label).locator("input[type=checkbox]")


def tab(page, name: str):
    page.locator(".bk-tab", has_text=name).click()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth "
                         "&& document.body.scrollWidth <= window.innerWidth")


def test_page_renders_fast_without_traceback_or_failed_requests(page, server):
    assert server[0].first_page_s <= 2.0  # the model was loaded while the server started
    state = wait_for(page, lambda s: s["median"] is not None)
    assert title(state, "Phase-folded: R21 ")
    assert page.get_by_text("How to use").count() == 1
    assert "Traceback" not in page.content()
    assert page.failed == []
    assert no_horizontal_scroll(page)
    log = server[1].read_text()
    assert "Traceback" not in log and "ERROR" not in log


def test_moving_teff_moves_the_curve_and_the_star_on_the_strip(page):
    before = wait_for(page, lambda s: s["median"] is not None and s["marker"] and s["marker"]["x"])
    drag(page, 0, 80)  # the first slider is Teff
    after = wait_for(page, lambda s: s["median"] != before["median"]
                     and s["marker"]["x"] != before["marker"]["x"])
    assert after["marker"]["x"][0] > before["marker"]["x"][0]  # hotter: to the right


def test_the_teff_slider_morphs_rrab_into_rrc(shipped_page):
    """The lesson, on the shipped model with the defaults: from the coolest to the hottest end of
    the strip the plotted curve goes from sawtooth (R21 >= 0.35) to sinusoid (R21 <= 0.2)."""
    page = shipped_page
    wait_for(page, lambda s: s["median"] is not None)
    start = page.evaluate(READ_PLOTS)["median"]
    drag(page, 0, -400)
    cool = wait_for(page, lambda s: s["median"] != start and "RRab" in title(s, "Phase-folded"))
    drag(page, 0, 600)
    hot = wait_for(page, lambda s: "RRc" in title(s, "Phase-folded"))
    assert r21(cool) >= 0.35 and r21(hot) <= 0.2, (r21(cool), r21(hot))
    shown = float(re.search(r"R21 ([0-9.]+)", title(hot, "Phase-folded")).group(1))
    assert shown == pytest.approx(r21(hot), abs=0.006)  # the title is the plotted curve's
    assert page.get_by_text(re.compile(r"^[0-9.]+ d$")).first.is_visible()  # the period slider, in days
    checkbox(page, "Lesson: Teff moves the star along the instability strip").uncheck()
    page.get_by_text("Period held fixed").wait_for(timeout=20_000)


def test_pasted_times_are_used_as_given(page, server):
    wait_for(page, lambda s: s["median"] is not None)
    page.locator("textarea").fill("55000.1\n55001.3\n55002.9\n55007.5\n55011\n55013.2\n")
    page.get_by_text("Use pasted times").click()  # at once: the text change is still pending
    state = wait_for(page, lambda s: title(s, "Observed: 6 epochs"))
    assert state["observed"]["time"][0] == pytest.approx(55000.1)  # MJDs, not shifted to 0
    page.get_by_text("6 uploaded times, 55000 to 55013 d").wait_for(timeout=10_000)
    assert app_errors(server[1]) == []


def test_uploading_a_cadence_and_a_bad_file(page, tmp_path):
    wait_for(page, lambda s: s["median"] is not None)
    good = tmp_path / "times.csv"
    good.write_text("mjd\n58000.0\n58001.3\n58002.9\n58007.5\n58011.0\n")
    page.locator("input[type=file]").set_input_files(str(good))
    state = wait_for(page, lambda s: title(s, "Observed: 5 epochs"))
    assert state["observed"]["time"][0] == pytest.approx(58000.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("time\n1\nnot-a-time\n3\n")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("Custom cadence not used").wait_for(timeout=20_000)
    huge = tmp_path / "huge.csv"  # above the 5 MB limit: refused in the browser, said on the page
    huge.write_text("time\n" + "1.0\n" * (2 * 1024**2))
    page.locator("input[type=file]").set_input_files(str(huge))
    page.get_by_text(re.compile(r'Custom cadence not used: File "huge.csv" .* exceeds maximum file '
                                r'size of 5 MB')).wait_for(timeout=20_000)
    # the page keeps working
    before = page.evaluate(READ_PLOTS)["median"]
    drag(page, 0, -60)
    wait_for(page, lambda s: s["median"] != before)
    assert "Traceback" not in page.content()


@pytest.mark.parametrize("label, value, words", [("Epochs / nights", "0", "Epochs / nights must be"),
                                                 ("Baseline (days)", "-10", "Baseline (days) must be"),
                                                 ("Season length (days)", "0", "Season length (days) must be")])
def test_rejected_numbers_get_a_message(page, label, value, words):
    wait_for(page, lambda s: s["median"] is not None)
    field = number_input(page, label)
    field.fill(value)
    field.press("Enter")
    page.get_by_text(words).wait_for(timeout=20_000)
    page.locator("select").filter(has=page.locator("option[value='gaia']")).select_option("gaia")
    page.get_by_text(words).wait_for(state="hidden", timeout=20_000)


def test_a_cadence_disables_the_numbers_it_does_not_use(page):
    wait_for(page, lambda s: s["median"] is not None)
    season = number_input(page, "Season length (days)")
    assert season.is_enabled()
    page.locator("select").filter(has=page.locator("option[value='gaia']")).select_option("uniform")
    deadline = time.monotonic() + 20
    while season.is_enabled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not season.is_enabled() and number_input(page, "Epochs / nights").is_enabled()


def test_noise_off_draws_no_error_bars_and_the_page_names_the_noise(page):
    state = wait_for(page, lambda s: s["observed"] is not None)
    assert max(state["observed"]["mag_err"]) > 0
    page.get_by_text("Noise: LSST g-band errors, LSST single-visit depth").wait_for(timeout=10_000)
    cadence = page.locator("select").filter(has=page.locator("option[value='ztf']"))
    cadence.select_option("ztf")
    page.get_by_text("Noise: ZTF g-band errors, ZTF median 30 s depth").wait_for(timeout=10_000)
    checkbox(page, "Survey noise").uncheck()
    wait_for(page, lambda s: s["observed"] is not None and max(s["observed"]["mag_err"]) == 0)
    page.get_by_text("No noise: the points lie on the generated curve.").wait_for(timeout=10_000)


def test_switching_class_hides_what_it_does_not_use(page):
    state = wait_for(page, lambda s: s["median"] is not None and title(s, "Periodogram, searched"))
    assert "Where the star sits: the instability strip" in state["titles"]
    page.locator("select").nth(0).select_option("ECL")
    wait_for(page, lambda s: any("periods of" in t and "ECL" in t for t in s["titles"]))
    page.get_by_text("not used: ECL training stars have no teff").first.wait_for(timeout=10_000)
    assert page.get_by_text("Teff (K):").is_hidden()  # no stale value on a slider that does nothing
    page.locator("select").nth(0).select_option("CEP")
    wait_for(page, lambda s: any("real CEP stars" in t for t in s["titles"])
             and true_period(s) > 1.5)  # classical Cepheids: days
    cadence = page.locator("select").filter(has=page.locator("option[value='gaia']"))
    cadence.select_option("gaia")
    wait_for(page, lambda s: title(s, "Observed: 70 epochs"))
    assert "Traceback" not in page.content()


def test_period_recovery_on_demand(page):
    wait_for(page, lambda s: s["median"] is not None)
    tab(page, "Cadence effects")
    page.get_by_text("Measure period recovery").click()
    state = wait_for(page, lambda s: title(s, "Period recovered in "), timeout=120)
    assert re.match(r"Period recovered in \d+ % of 100 realisations", title(state, "Period recovered"))
    assert "Recovery against the number of nights" in state["titles"]


def test_morph_view_fits_a_projector(page):
    wait_for(page, lambda s: s["median"] is not None)
    tab(page, "RR Lyrae morph")
    page.get_by_text("Show the RR Lyrae morph").click()
    state = wait_for(page, lambda s: sum(t.startswith("R21 ") for t in s["titles"]) == 5, timeout=60)
    assert all("φ31" in t for t in state["titles"] if t.startswith("R21 "))
    real_medians = page.evaluate("() => Bokeh.documents.flatMap(d => Array.from(d.all_models))"
                                 ".filter(m => m.name === 'real median').length")
    assert real_medians == 5  # the real stars' median shape beside every generated curve
    assert no_horizontal_scroll(page)
    panels = page.locator(".bk-GridPlot, .bk-grid").first.bounding_box()
    assert panels["x"] + panels["width"] <= PROJECTOR["width"]


def test_clicking_the_latent_plane_decodes_from_there(page):
    before = wait_for(page, lambda s: s["median"] is not None)["median"]
    for attempt in range(3):  # a loaded machine may render the plot before its tap tool listens
        tab(page, "Latent space")
        canvas = page.locator("canvas:visible").first
        canvas.wait_for(timeout=20_000)
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
        tab(page, "Light curve")
        try:
            wait_for(page, lambda s: s["median"] != before, timeout=20.0)
            break
        except AssertionError:
            if attempt == 2:
                raise
    assert "Traceback" not in page.content()


def test_your_star_infers_the_example(page, server, tmp_path):
    wait_for(page, lambda s: s["median"] is not None)
    tab(page, "Your star")
    page.get_by_text("Load an example").click()
    page.get_by_text("The example is generated by this model, not a real star").wait_for(timeout=20_000)
    page.get_by_role("button", name="Infer").click()
    state = wait_for(page, lambda s: title(s, "Your star folded on P = "), timeout=60)
    assert re.match(r"Your star folded on P = [0-9.]+ d: [A-Z0-9]+", title(state, "Your star folded"))
    # the fit's O-C diagram beside it (the example's ZTF-like seasons are few: runs of points)
    assert re.match(r"O−C of its \d+ (seasons|runs of points)$", title(state, "O−C of its"))
    for words in (r"Class [A-Z0-9]+ \(\d+ %\)", r"Period [0-9.]+ d \(16–84 %: [0-9.]+–[0-9.]+ d\)"):
        page.get_by_text(re.compile(words)).first.wait_for(timeout=10_000)
    assert "Not inferred" not in page.content() and "Traceback" not in page.content()
    pasted = page.get_by_role("textbox", name="Paste a CSV light curve")
    pasted.fill("time,mag,err\n1,15.1,0.02\n2,15.3,0.02\n")  # then a bad curve
    page.get_by_role("button", name="Infer").click()
    page.get_by_text("Not inferred: ").wait_for(timeout=20_000)
    assert "Traceback" not in page.content()
    # a curve uploaded while another may still be fitted is not lost (the queue itself:
    # test_dashboard_logic, where the timing is controlled)
    page.get_by_text("Load an example").click()
    page.get_by_role("button", name="Infer").click()
    late = tmp_path / "late.csv"
    late.write_text("time,mag,err\n1,bright,0.02\n2,15.3,0.02\n")  # unreadable: its reason shows
    page.locator("input[type=file]").last.set_input_files(str(late))
    page.get_by_text(re.compile("Not inferred: late.csv")).wait_for(timeout=60_000)
    assert "Traceback" not in page.content()
    assert app_errors(server[1]) == []


@pytest.mark.parametrize("folder", ["missing", "corrupt"])
def test_a_bad_model_folder_shows_the_reason_on_the_page(folder, tmp_path):
    model = tmp_path / folder
    if folder == "corrupt":
        model.mkdir()
        (model / "config.json").write_text("{not json")
    with served_app(model, tmp_path / "panel.log") as running, \
            playwright_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport=PROJECTOR)
        page.goto(running.url)
        page.get_by_text(f"The model could not be loaded (PELSVAE_MODEL={model})").wait_for(timeout=60_000)
        assert "Traceback" not in page.content()
        browser.close()
