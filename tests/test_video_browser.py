"""The Video tab in a real browser, at 1280x900 and on a phone (390x844): the example clip sits beside the upload
(in the first screen on a desktop, within two screens on a phone, right after the upload box), a click on it runs
it, one progress bar shows while it runs (on the annotated video, not over the status), the Anonymised box stays
hidden when no anonymised video was asked for, and the status ends with the frames per second this run achieved in
the Space. Screenshots of both sizes are saved in artifacts/video-<w>x<h>.png.

Same browser set-up as tests/test_browser.py (Debian's Chromium through Playwright, requests outside the app
aborted). No timing is asserted: timeouts are generous, for a loaded 2-core machine.
"""
from __future__ import annotations

import re
import time

import pytest

from .test_browser import ARTIFACTS, _page, browser  # noqa: F401  (the module-scoped fixture)

EXAMPLE = "button:has(video[src*='asl_walk_intel'])"
EXAMPLE_VIDEO = "video[src*='asl_walk_intel']"
# Gradio's loading status over an output: one per output that shows progress (four before, one over the status).
TRACKERS = "() => [...document.querySelectorAll('[data-testid=status-tracker]:not(.hide)')]" \
           ".filter(e => e.getBoundingClientRect().width > 0).length"
BARS = "() => [...document.querySelectorAll('.progress-level')].filter(e => e.getBoundingClientRect().width > 0)" \
       ".length"


def _settled(page, locators, deadline_s: float = 60.0) -> list:
    """The locators' boxes once the layout has settled: the example's thumbnail is a <video> whose size is known only
    once its metadata has loaded (later on a loaded machine: a box read before was 25 px off once), so boxes are
    read until two reads 300 ms apart agree."""
    page.wait_for_function(f"() => {{ const v = document.querySelector({EXAMPLE_VIDEO!r}); "
                           "return v && v.readyState >= 1; }", timeout=deadline_s * 1000)
    end, last = time.monotonic() + deadline_s, None
    while True:
        boxes = [loc.bounding_box() for loc in locators]
        if boxes == last or time.monotonic() > end:
            return boxes
        last = boxes
        page.wait_for_timeout(300)


def _status(page) -> str:
    return page.locator("#video-status").inner_text()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_example_runs_with_one_progress_bar_and_says_its_speed(browser, size):  # noqa: F811
    ctx, page, outside = _page(browser, size)
    try:
        page.get_by_role("tab", name="Video").click()
        example = page.locator(EXAMPLE)
        example.wait_for(timeout=60_000)
        viewport = page.viewport_size
        box, upload = _settled(page, [example, page.locator("#video-clip")])
        screens = 1 if size == "desktop" else 2
        assert box["y"] + box["height"] <= screens * viewport["height"], (box, viewport)
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        assert upload["y"] + upload["height"] <= box["y"] < upload["y"] + upload["height"] + 120, (upload, box)
        assert not page.locator("#video-anonymised").is_visible()
        example.click()

        trackers, bars, deadline = set(), set(), time.monotonic() + 300
        while "frames/s" not in _status(page):
            assert time.monotonic() < deadline, _status(page)
            trackers.add(page.evaluate(TRACKERS))
            bars.add(page.evaluate(BARS))
            page.wait_for_timeout(200)
        assert "Upload a clip" not in _status(page)
        assert max(trackers) == 1 and max(bars) <= 1, (trackers, bars)  # one progress bar at most, ever
        page.locator("#video-annotated video").wait_for(timeout=60_000)
        assert not page.locator("#video-anonymised").is_visible()
        status = _status(page)
        assert status.startswith("89 frames, 1 face and 2 hands tracked"), status
        assert re.search(r"89 frames in [\d.]+ s \([\d.]+ frames/s\)$", status.strip()), status

        page.evaluate("window.scrollTo(0, 0)")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"video-{viewport['width']}x{viewport['height']}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert outside == []
    finally:
        ctx.close()
