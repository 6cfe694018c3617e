"""The explorer page in a real browser: Playwright for Python driving the system's Chromium (headless).

Needs ``playwright`` (the ``explore`` extra) and a Chromium binary (Debian's ``chromium``; never
``playwright install``). Where either is missing the tests skip with the reason, except under CI (``CI`` set),
where they fail: .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import numpy as np
import pytest

from musicneurons import load_model
from musicneurons.data.defaults import default_windows
from musicneurons.explore.server import start_server
from musicneurons.explore.session import build_session

CHROMIUM = (
    os.environ.get("MUSICNEURONS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
TIMEOUT_MS = 60_000  # generous: CI shares 2 cores


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'musicneurons[explore]')"
    if CHROMIUM is None:
        return "no chromium binary on PATH (apt-get install chromium)"
    return None


if (reason := _missing()) is not None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason}", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    model = load_model(device="cpu")
    windows = default_windows(2)[::50][:12]
    session = build_session(model, windows=windows, ranking_windows=len(windows))
    server = start_server(session, "127.0.0.1", 0)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"]
        )
        print(f"chromium {browser.version} ({CHROMIUM})")
        yield browser
        browser.close()


class PageLog:
    """Console errors, page errors, failed requests, HTTP errors and requests leaving localhost."""

    def __init__(self, page, origin: str) -> None:
        self.problems: list[str] = []
        self.decodes: list[dict] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("request", lambda r: self._check_origin(r.url, origin))
        page.on("response", self._response)

    def _check_origin(self, url: str, origin: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("blob", "data"):  # made in the page itself (Tone.js's audio worklet)
            return
        if f"{parts.scheme}://{parts.netloc}/" != origin:
            self.problems.append(f"request outside localhost: {url}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")
        elif response.url.endswith("/api/decode"):
            self.decodes.append(response.json())


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog(page, server.url)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    yield page, log
    page.close()


def _roll_notes(page, selector: str = "#roll") -> int:
    return page.eval_on_selector_all(f"{selector} rect.note", "rects => rects.length")


# JS: the pitches of a roll's drawn notes in note order (the visualizer tags each rect.note with
# data-index and data-pitch)
ROLL_PITCHES = """sel => [...document.querySelectorAll(sel + ' rect.note')]
    .sort((a, b) => a.dataset.index - b.dataset.index).map(r => Number(r.dataset.pitch))"""


def _roll_pitches(page, selector: str = "#roll") -> list[int]:
    return page.evaluate(f"({ROLL_PITCHES})", selector)


def _wait_roll(page, count: int, selector: str = "#roll") -> None:
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ' rect.note').length === n", arg=[selector, count]
    )


def test_page_loads_offline_without_errors(page):
    page, log = page
    assert page.title() == "musicneurons explorer"
    assert page.locator("#melody-select option").count() == 12
    assert page.locator("#sliders input[type=range]").count() >= 1
    page.wait_for_timeout(300)  # let late requests and console messages arrive
    assert log.problems == []


def test_roll_draws_the_decoded_notes(page, server):
    page, log = page
    assert len(log.decodes) == 1
    notes = log.decodes[0]["notes"]
    assert notes, "the first melody's decode should have notes"
    _wait_roll(page, len(notes))
    assert page.get_attribute("#roll", "data-notes") == str(len(notes))
    assert _roll_pitches(page) == [n["pitch"] for n in notes]
    # the decode the page shows is the model's greedy decode of the melody's posterior mean
    model = server.session.model
    _, mu, _ = model.encode(server.session.windows[:1])
    assert log.decodes[0]["window"] == model.decode(mu, temperature=0.0)[0].tolist()


def test_moving_a_slider_changes_the_notes(page):
    page, log = page
    before = log.decodes[-1]["window"]
    slider = page.locator("#sliders input[type=range]").first
    value = float(slider.input_value())
    with page.expect_response("**/api/decode") as info:
        slider.fill("3" if value < 0 else "-3")  # the far end: rank 1 is the most specific neuron
    after = info.value.json()
    assert after["window"] != before
    _wait_roll(page, len(after["notes"]))
    pitches = [n["pitch"] for n in after["notes"]]
    page.wait_for_function(f"p => ({ROLL_PITCHES})('#roll').join() === p", arg=",".join(map(str, pitches)))
    assert log.problems == []


def test_interpolation_shows_one_roll_per_step(page):
    page, log = page
    page.select_option("#melody-b", "3")
    page.fill("#interp-steps", "4")
    with page.expect_response("**/api/interpolate") as info:
        page.click("#interp-go")
    answer = info.value.json()
    page.wait_for_function("() => document.querySelectorAll('#interp-strip figure').length === 4")
    for i, notes in enumerate(answer["notes"]):
        cell = f"#interp-strip figure:nth-child({i + 1}) midi-visualizer"
        if notes:
            _wait_roll(page, len(notes), cell)
        assert page.get_attribute(cell, "data-notes") == str(len(notes))
    assert log.problems == []


def test_traverse_shows_seven_rolls(page):
    page, log = page
    with page.expect_response("**/api/traverse") as info:
        page.click("#traverse-go")
    assert np.allclose(info.value.json()["values"], np.linspace(-3, 3, 7))
    page.wait_for_function("() => document.querySelectorAll('#traverse-strip figure').length === 7")
    assert log.problems == []


def test_player_starts(page):
    page, log = page
    page.wait_for_function("() => document.getElementById('player').playButton?.disabled === false")
    page.evaluate("() => document.getElementById('player').start()")
    page.wait_for_function("() => document.getElementById('player').playing === true")
    page.evaluate("() => document.getElementById('player').stop()")
    assert log.problems == []


def test_bad_upload_shows_an_error_not_a_crash(page, tmp_path):
    page, log = page
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"this is not a MIDI file")
    with page.expect_response("**/api/upload") as info:
        page.set_input_files("#upload", str(bad))
    assert info.value.status == 400
    page.wait_for_selector("#status.error")
    assert "not a readable MIDI file" in page.text_content("#status")
    log.problems = [p for p in log.problems if "/api/upload" not in p and "400" not in p]
    assert log.problems == []


def test_the_original_melody_plays_and_shows(page, server):
    from musicneurons.data.encoding import notes_from_classes

    page, log = page
    expected = [p for p, _, _ in notes_from_classes(server.session.windows[0])]
    page.click("#play-original")
    _wait_roll(page, len(expected))
    assert _roll_pitches(page) == expected
    page.wait_for_function("() => document.getElementById('player').playing === true")
    page.evaluate("() => document.getElementById('player').stop()")
    assert log.problems == []


def test_clicking_a_strip_roll_plays_it(page):
    page, log = page
    page.click("#traverse-go")
    page.wait_for_function("() => document.querySelectorAll('#traverse-strip figure').length === 7")
    page.click("#traverse-strip figure:nth-child(7) figcaption")
    page.wait_for_function("() => document.getElementById('player').playing === true")
    page.evaluate("() => document.getElementById('player').stop()")
    assert log.problems == []
