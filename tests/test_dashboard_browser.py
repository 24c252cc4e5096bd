"""The real server in a real browser: ``panel serve dashboard/app.py`` driven by headless Chromium."""
from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from browser import CHROMIUM, READ_PLOTS, launch, served_app  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def server(small_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "panel.log"
    with served_app(small_model.folder, log) as running:
        yield running.url, log


@pytest.fixture
def page(server):
    url, _ = server
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.failed, page.external = [], []
        page.on("request", lambda r: None if urlparse(r.url).hostname in ("127.0.0.1", "localhost")
                or not r.url.startswith("http") else page.external.append(r.url))
        page.on("requestfailed", lambda r: page.failed.append(r.url))
        page.on("response", lambda r: page.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(url)
        page.wait_for_selector("canvas", timeout=60_000)
        yield page
        browser.close()


def wait_for(page, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(READ_PLOTS)
        if condition(state):
            return state
        time.sleep(0.2)
    raise AssertionError(f"the page did not reach the expected state: {page.evaluate(READ_PLOTS)}")


def drag(page, handle_index: int, dx: float):
    box = page.locator(".noUi-handle").nth(handle_index).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=5)
    page.mouse.up()


def test_page_renders_without_traceback_or_failed_requests(page, server):
    state = wait_for(page, lambda s: s["median"] is not None)
    assert any(t.startswith("Phase-folded") for t in state["titles"])
    assert "Traceback" not in page.content()
    assert page.failed == []
    assert page.external == []  # works offline: every script, style and font from the server
    log = server[1].read_text()
    assert "Traceback" not in log and "ERROR" not in log


def test_moving_teff_slider_changes_the_plotted_curve(page):
    before = wait_for(page, lambda s: s["median"] is not None)["median"]
    drag(page, 0, 80)  # the first slider is Teff
    wait_for(page, lambda s: s["median"] != before)


def true_period(state) -> float | None:
    """The true period written in the periodogram's title, days."""
    for title in state["titles"]:
        match = re.search(r"true ([0-9.eE+-]+) d", title)
        if match:
            return float(match.group(1))
    return None


def test_switching_class_and_cadence_preset(page):
    state = wait_for(page, lambda s: s["median"] is not None and true_period(s) is not None)
    assert true_period(state) < 1.5  # the app opens on an RR Lyrae
    selects = page.locator("select")
    selects.nth(0).select_option("CEP")
    wait_for(page, lambda s: (true_period(s) or 0) > 1.5)  # classical Cepheids: days
    cadence = page.locator("select").filter(has=page.locator("option[value='gaia']"))
    cadence.select_option("gaia")
    wait_for(page, lambda s: "Observed: 70 epochs" in s["titles"])
    assert "Traceback" not in page.content()


def test_uploading_a_cadence_and_a_bad_file(page, tmp_path):
    wait_for(page, lambda s: s["median"] is not None)
    good = tmp_path / "times.csv"
    good.write_text("time\n0.0\n1.3\n2.9\n7.5\n11.0\n")
    page.locator("input[type=file]").set_input_files(str(good))
    wait_for(page, lambda s: "Observed: 5 epochs" in s["titles"])
    bad = tmp_path / "bad.csv"
    bad.write_text("time\n1\nnot-a-time\n3\n")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("Custom cadence not used").wait_for(timeout=20_000)
    # the page keeps working
    before = page.evaluate(READ_PLOTS)["median"]
    drag(page, 0, -60)
    wait_for(page, lambda s: s["median"] != before)
    assert "Traceback" not in page.content()


def test_clicking_the_latent_plane_decodes_from_there(page):
    before = wait_for(page, lambda s: s["median"] is not None)["median"]
    page.get_by_text("Latent space", exact=True).click()
    canvas = page.locator("canvas:visible").first
    canvas.wait_for(timeout=20_000)
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
    page.get_by_text("Light curve", exact=True).click()
    wait_for(page, lambda s: s["median"] != before)
    assert "Traceback" not in page.content()
    assert page.external == []  # the HoloViews tab, built on demand, needs nothing online either
