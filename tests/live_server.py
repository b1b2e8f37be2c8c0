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


def frames_from_webcam_tab(page, url: str, seconds: float, enough: int | None = None) -> int:
    """Open the app in a Playwright `page` (a browser with a fake camera), start the Webcam tab, and count the
    distinct live frames it shows in `seconds` (each answer the app streams back is a new JPEG data URL), or
    until `enough` have been seen."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Webcam").first.click()
    page.get_by_role("button", name="Click to Access Webcam").click()
    page.locator("button:visible:has-text('Record')").first.click()
    live = page.locator("img:visible[src^='data:image/jpeg']").first
    live.wait_for(timeout=60_000)
    seen, t0 = set(), time.monotonic()
    while time.monotonic() - t0 < seconds and (enough is None or len(seen) < enough):
        seen.add(live.get_attribute("src"))
        time.sleep(0.01)
    page.locator("button:visible:has-text('Stop')").first.click()
    return len(seen)


class QueueVisitor:
    """One visitor (one session) talking to the app's queue over HTTP as the browser does: join an event, listen to
    its messages, cancel it. For tests of what the queue accepts, refuses and stops; gradio_client hides these."""

    def __init__(self, url: str, name: str):
        import httpx

        self.url, self.session = url, f"{name}-{os.getpid()}-{time.monotonic_ns()}"
        self.http = httpx.Client(timeout=60)
        self.messages: list = []  # every message of this session, as it came
        self._listener = None
        self._config = None

    def fn_index(self, api_name: str) -> int:
        if self._config is None:
            self._config = self.http.get(self.url + "config").json()
        return next(i for i, d in enumerate(self._config["dependencies"]) if d.get("api_name") == api_name)

    def upload(self, path) -> dict:
        with open(path, "rb") as fh:
            answer = self.http.post(self.url + "gradio_api/upload", files={"files": (Path(path).name, fh)})
        answer.raise_for_status()
        return {"path": answer.json()[0], "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}

    def join(self, api_name: str, data: list):
        """(HTTP status, the event id or the refusal's text)."""
        body = {"data": data, "fn_index": self.fn_index(api_name), "session_hash": self.session,
                "trigger_id": None, "event_data": None}
        answer = self.http.post(self.url + "gradio_api/queue/join", json=body)
        payload = answer.json()
        if answer.status_code == 200:  # as the browser: the message stream opens for a joined event only
            self._listen()
        return answer.status_code, payload.get("event_id") if answer.status_code == 200 else payload.get("detail")

    def cancel(self, api_name: str, event_id: str) -> None:
        self.http.post(self.url + "gradio_api/cancel", json={"session_hash": self.session, "event_id": event_id,
                                                              "fn_index": self.fn_index(api_name)})

    def wait_for(self, predicate, seconds: float = 120.0):
        """The first message (dict) for which `predicate` is true, or None after `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if predicate(message):
                    return message
            time.sleep(0.05)
        return None

    def _listen(self) -> None:
        import threading

        if self._listener is None or not self._listener.is_alive():  # Gradio ends the stream when idle
            self._listener = threading.Thread(target=self._read, daemon=True)
            self._listener.start()

    def _read(self) -> None:
        import json

        import httpx

        try:
            with httpx.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.session},
                              timeout=None) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        self.messages.append(json.loads(line[5:]))
        except httpx.HTTPError:
            pass  # the server went away at the end of a test
