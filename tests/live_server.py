"""Start the real Space (`python app.py`) on 127.0.0.1 for tests that talk to it as a visitor or API user would."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(env: dict | None = None, timeout: float = 90.0):
    """Yield (url, process, log_path). The server's stdout+stderr go to log_path (tests scan it)."""
    import gradio_client

    port = free_port()
    full_env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
                    GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    full_env.pop("REPLICATE_API_TOKEN", None)
    full_env.update(env or {})
    log_dir = Path(tempfile.mkdtemp(prefix="app-log-"))
    log_path = log_dir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                gradio_client.Client(url, verbose=False)
                break
            except Exception:
                if time.time() > deadline:
                    raise RuntimeError(f"app did not start in {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, proc, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def frames_from_webcam_tab(page, url: str, seconds: float) -> int:
    """Open the app in a Playwright `page` (a browser with a fake camera), start the Webcam tab, and count the
    distinct live frames it shows in `seconds` (each answer the app streams back is a new JPEG data URL)."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Webcam").first.click()
    page.get_by_role("button", name="Click to Access Webcam").click()
    page.locator("button:visible:has-text('Record')").first.click()
    live = page.locator("img:visible[src^='data:image/jpeg']").first
    live.wait_for(timeout=60_000)
    seen, t0 = set(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        seen.add(live.get_attribute("src"))
        time.sleep(0.01)
    page.locator("button:visible:has-text('Stop')").first.click()
    return len(seen)
