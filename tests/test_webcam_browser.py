"""The Webcam tab in a real browser: headless Chromium with its fake camera (a test pattern) streams to the app,
and the live output keeps changing, frame after frame. Skips without Chromium, like test_browser."""
from __future__ import annotations

import time

import pytest

from .live_server import serve_app
from .test_browser import CHROMIUM_ARGS, _chromium

FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def test_webcam_tab_streams_frames_back(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with serve_app() as (url, _proc, log), sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS + FAKE_CAMERA)
        try:
            page = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900}).new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_role("tab", name="Webcam").first.click()
            page.get_by_role("button", name="Click to Access Webcam").click()
            page.locator("button:visible:has-text('Record')").first.click()
            live = page.locator("img:visible[src*='/gradio_api/file=']").first
            live.wait_for(timeout=60_000)
            seen, t0 = set(), time.monotonic()
            while time.monotonic() - t0 < 4.0:  # the browser sends a frame every stream_every (80 ms)
                seen.add(live.get_attribute("src"))
                time.sleep(0.02)
            page.locator("button:visible:has-text('Stop')").first.click()
        finally:
            browser.close()
    assert len(seen) >= 8, f"only {len(seen)} distinct frames came back in 4 s"
    assert "Traceback" not in log.read_text()
