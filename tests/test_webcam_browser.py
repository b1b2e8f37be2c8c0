"""The Webcam tab in a real browser: headless Chromium with its fake camera (a test pattern) streams to the app,
and the live output keeps changing, frame after frame. Skips without Chromium, like test_browser."""
from __future__ import annotations

import pytest

from .live_server import frames_from_webcam_tab, serve_app
from .test_browser import CHROMIUM_ARGS, _chromium

FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def test_webcam_tab_streams_frames_back(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with serve_app() as (url, _proc, log), sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS + FAKE_CAMERA)
        try:
            page = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900}).new_page()
            # The browser sends a frame every stream_every; the rate is bench.video's, here only that they come.
            frames = frames_from_webcam_tab(page, url, 120.0, enough=8)
        finally:
            browser.close()
    assert frames >= 8, f"only {frames} distinct frames came back in 120 s"
    assert "Traceback" not in log.read_text()
