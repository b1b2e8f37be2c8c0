"""End to end in a real browser: headless Chromium (Debian's package) opens the app, clicks an example, waits for
the annotated result and its labels, downloads the masks zip, and saves a screenshot as a test artifact.

Playwright drives the system browser through `executable_path`; nothing is downloaded. Every request that is not
for the app on 127.0.0.1 is aborted, so the test also shows that the page works with no outside network.
`.ci/run` installs Chromium; elsewhere the test skips when no browser is there.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import REPO
from .live_server import serve_app

ARTIFACTS = REPO / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: install Debian's chromium (see .ci/run)")
        pytest.skip("no Chromium here (apt-get install chromium); .ci/run installs it")
    return path


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with serve_app() as (url, proc, log), sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh --user-data-dir
            executable_path=executable, headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
            viewport={"width": 1280, "height": 900})
        outside = []

        def only_the_app(route):
            if route.request.url.startswith(url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page = ctx.new_page()
        page.route("**/*", only_the_app)
        try:
            yield page, url, outside
        finally:
            ctx.close()


def test_click_example_see_labels_download_masks(browser_page, tmp_path):
    page, url, outside = browser_page
    page.goto(url, wait_until="domcontentloaded")
    example = page.locator("button:has(img[src*='three_portraits'])")
    example.wait_for(timeout=60_000)
    example.click()

    # The annotated result: its legend lists one button per mask label; the status line says what was found.
    legend = page.get_by_role("button", name="face-1", exact=True)
    legend.wait_for(timeout=60_000)
    assert page.get_by_role("button", name="face-3", exact=True).is_visible()  # the collage's third face: tiles
    assert page.get_by_text("3 faces and 0 hands").is_visible()
    for name in ("annotated.png", "result.json", "coco.json"):
        assert page.locator(f"a[download='{name}']").count() == 1

    link = page.locator("a[download='masks.zip']")  # the download link in the masks.zip row of the file list
    link.wait_for(timeout=30_000)
    with page.expect_download(timeout=30_000) as info:
        link.click()
    saved = tmp_path / "masks.zip"
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        names = sorted(z.namelist())
        assert names == ["coco.json", "masks/face-1.png", "masks/face-2.png", "masks/face-3.png", "result.json"]
        doc = json.loads(z.read("result.json"))
        assert (doc["width"], doc["height"]) == Image.open(REPO / "examples" / "three_portraits.jpg").size
        with z.open("masks/face-1.png") as fh:
            mask = np.asarray(Image.open(fh))
        assert mask.shape == (doc["height"], doc["width"]) and set(np.unique(mask).tolist()) == {0, 255}

    legend.hover()  # Gradio highlights that mask: the screenshot shows one label picked out
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):  # refresh the README's picture on purpose only
        shutil.copy(shot, REPO / "docs" / "screenshot.png")
    assert outside == []  # the page asked for nothing outside the app
