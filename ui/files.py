"""Files the Space writes for visitors: one download folder per request (pruned), and Gradio's image cache written
atomically. Also the photo input that lets core's loader explain a file it cannot read."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import logging
from urllib.parse import urlsplit

import gradio as gr
from gradio import processing_utils
from gradio_client.utils import is_http_url_like

log = logging.getLogger("app")
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
OUT_ROOT = Path(tempfile.gettempdir()) / "face-hand-segmentation"
# Each request writes its downloads into a folder of its own; Gradio copies them into its own cache (emptied by
# delete_cache) when it sends the answer, so ours are pruned when a request of the same kind starts: the newest
# `keep` folders younger than `max_age_s` are kept, the rest deleted, except folders still being written.
DOWNLOADS_KEEP = int(os.environ.get("DOWNLOADS_KEEP", "32"))
DOWNLOADS_MAX_AGE_S = float(os.environ.get("DOWNLOADS_MAX_AGE_S", "600"))
VIDEO_DOWNLOADS_KEEP = int(os.environ.get("VIDEO_DOWNLOADS_KEEP", "4"))  # a clip's folder holds two MP4s


class DownloadFolders:
    """One kind of request's download folders under one root. Photos and videos have a root each, so that many
    quick photo requests never prune a clip's folder; and a folder is never pruned while its request is still
    writing into it (a 60 s clip takes minutes, and its folder was deleted under it: issue 18, item 4)."""

    def __init__(self, name: str, keep: int, max_age_s: float = DOWNLOADS_MAX_AGE_S):
        self.name, self.keep, self.max_age_s = name, keep, max_age_s
        self._in_use: set = set()
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return OUT_ROOT / self.name

    @contextmanager
    def new(self):
        """A fresh folder for one request (after pruning old ones), kept from pruning until the block ends; a
        request that fails leaves no empty folder behind."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self.prune()
            folder = tempfile.mkdtemp(dir=self.root)
            self._in_use.add(folder)
        try:
            yield Path(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            with self._lock:
                self._in_use.discard(folder)

    def prune(self) -> None:
        """Delete this root's earlier folders: all but the newest `keep`, and any older than `max_age_s`; never
        one in use."""
        folders = []
        for entry in os.scandir(self.root):
            try:
                if entry.is_dir(follow_symlinks=False) and entry.path not in self._in_use:
                    folders.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
            except OSError:  # deleted meanwhile
                pass
        folders.sort(reverse=True)
        now = time.time()
        for n, (mtime, path) in enumerate(folders):
            if n >= self.keep or now - mtime > self.max_age_s:
                shutil.rmtree(path, ignore_errors=True)


PHOTO_DOWNLOADS = DownloadFolders("photos", DOWNLOADS_KEEP)
VIDEO_DOWNLOADS = DownloadFolders("videos", VIDEO_DOWNLOADS_KEEP)


def save_pil_to_cache_atomically(img, cache_dir, name: str = "image", format: str = "webp") -> str:
    """Gradio 6.31's save_pil_to_cache rewrites its content-addressed file in place, so two visitors whose results
    share an image (the same photo, the same mask) race: one download arrives truncated ("Too little data for
    declared Content-Length"). Same file name and content, written to a temporary file and renamed into place."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    target = (folder / f"{name}.{format}").resolve()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
    return str(target)


processing_utils.save_pil_to_cache = save_pil_to_cache_atomically  # used by AnnotatedImage for photo and masks


class PhotoInput(gr.Image):
    """gr.Image that hands an undecodable upload to core's loader, which explains what is wrong in one
    sentence (Gradio's own decoder would fail first with a generic error). Same frontend as gr.Image.

    Gradio fetches a photo given by http(s) URL itself, before the function runs, and refuses private and local
    addresses (rightly); it printed a full traceback in the server log for each refused URL and told the caller
    only "Hostname 127.0.0.1 failed validation". Here such a URL is one line in the log and one sentence."""

    is_template = True

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        try:
            return await super().async_move_resource_to_block_cache(url_or_file_path)
        except Exception as exc:
            if isinstance(exc, gr.Error) or not is_http_url_like(str(url_or_file_path)):
                raise
            host = urlsplit(str(url_or_file_path)).hostname or "?"
            log.info("refused photo URL (host %s): %s", host, " ".join(str(exc).split()))
            raise gr.Error(url_refused(host, exc), print_exception=False) from None

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            return str(payload.path) if payload is not None and payload.path else None


def url_refused(host: str, exc: Exception) -> str:
    """One sentence for a caller whose photo URL was refused or could not be fetched."""
    if "failed validation" in str(exc):
        return (f"The photo's URL was refused because {host} is a private or local address; pass a public http(s) "
                f"URL or a data: URL (data:image/jpeg;base64,...).")
    return (f"The photo could not be downloaded from {host}; pass a public http(s) URL that serves the image, or a "
            f"data: URL (data:image/jpeg;base64,...).")
