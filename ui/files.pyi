"""Files the Space writes for visitors: one download folder per request (pruned), and Gradio's image cache written
atomically. Also the photo input that lets core's loader explain a file it cannot read."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
from gradio import processing_utils

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
OUT_ROOT = Path(tempfile.gettempdir()) / "face-hand-segmentation"
# Each request writes its downloads into a folder of OUT_ROOT; Gradio copies them into its own cache (emptied by
# delete_cache) when it sends the answer, so ours are pruned: the newest DOWNLOADS_KEEP folders younger than
# DOWNLOADS_MAX_AGE_S are kept, the rest deleted at the start of each request.
DOWNLOADS_KEEP = int(os.environ.get("DOWNLOADS_KEEP", "32"))
DOWNLOADS_MAX_AGE_S = float(os.environ.get("DOWNLOADS_MAX_AGE_S", "600"))


def out_root() -> Path:
    OUT_ROOT.mkdir(parents=True, exist_ok=True)
    return OUT_ROOT


def new_download_folder() -> str:
    """A fresh folder for one request's downloads, after deleting old ones."""
    prune_downloads(out_root())
    return tempfile.mkdtemp(dir=out_root())


def prune_downloads(root: Path, keep: int = DOWNLOADS_KEEP, max_age_s: float = DOWNLOADS_MAX_AGE_S) -> None:
    """Delete earlier requests' download folders: all but the newest `keep`, and any older than `max_age_s`."""
    folders = []
    for entry in os.scandir(root):
        try:
            if entry.is_dir(follow_symlinks=False):
                folders.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
        except OSError:  # deleted meanwhile by another request
            pass
    folders.sort(reverse=True)
    now = time.time()
    for n, (mtime, path) in enumerate(folders):
        if n >= keep or now - mtime > max_age_s:
            shutil.rmtree(path, ignore_errors=True)


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

from gradio.events import Dependency

class PhotoInput(gr.Image):
    """gr.Image that hands an undecodable upload to core's loader, which explains what is wrong in one
    sentence (Gradio's own decoder would fail first with a generic error). Same frontend as gr.Image."""

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            return str(payload.path) if payload is not None and payload.path else None
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component