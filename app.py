"""Gradio Space: drop in a photo, get every face and hand masked and labelled. UI wiring only; logic is in core/."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path


def _limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each request thread its own malloc arena; freed photo buffers then stay spread over many arenas
    and the server's RSS creeps up under concurrent load (+108 MB over 150 requests measured, +33 MB with 2 arenas;
    bench/soak.py). Same as MALLOC_ARENA_MAX=2, set before any request thread exists. No-op off glibc."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass


_limit_malloc_arenas()
os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import gradio as gr  # noqa: E402
from gradio import processing_utils  # noqa: E402

import core  # noqa: E402
from core import backends  # noqa: E402
from core.detect import warm_up  # noqa: E402
from core.export import write_downloads  # noqa: E402
from core.loading import MAX_FILE_BYTES  # noqa: E402  (uploads above the loader's own limit never reach the disk)
from core.render import label_colour, preview  # noqa: E402

log = logging.getLogger("app")
HERE = Path(__file__).resolve().parent
EXAMPLES = [str(p) for p in sorted((HERE / "examples").glob("*")) if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]
OUT_ROOT = Path(tempfile.gettempdir()) / "face-hand-segmentation"
PREVIEW_PIXELS = 1_000_000  # the shown overlay; downloads keep the photo's (working) size
# Each request writes its downloads into a folder of OUT_ROOT; Gradio copies them into its own cache (emptied by
# delete_cache) when it sends the answer, so ours are pruned: the newest DOWNLOADS_KEEP folders younger than
# DOWNLOADS_MAX_AGE_S are kept, the rest deleted at the start of each request.
DOWNLOADS_KEEP = int(os.environ.get("DOWNLOADS_KEEP", "32"))
DOWNLOADS_MAX_AGE_S = float(os.environ.get("DOWNLOADS_MAX_AGE_S", "600"))

DESCRIPTION = """# Face & hand segmentation
Drop in a photo: MediaPipe finds every face and hand, and each one gets its own labelled mask.
Works offline (landmark masks); with a `REPLICATE_API_TOKEN` secret or your own token it uses Segment Anything 2.
"""


def _colour_map() -> dict:
    """Colours for every label the app can produce, matching the outlines drawn by core.render."""
    labels = [f"face-{n}" for n in range(1, 41)]
    labels += [f"hand-{n}{side}" for n in range(1, 25) for side in ("", " (left)", " (right)")]
    return {lab: "#%02x%02x%02x" % label_colour(lab) for lab in labels}


def run_segmentation(image, backend="auto", min_confidence=0.5, max_hands=6, box_scale=1.5, replicate_token="",
                     progress=gr.Progress()):
    """Segment one photo. Returns (annotated image with masks, status line, download files)."""
    if image is None:
        raise gr.Error("Please upload a photo first (or pick an example).", print_exception=False)
    progress(0.1, desc="Finding faces and hands")
    options = {"replicate_token": replicate_token.strip()} if replicate_token and replicate_token.strip() else {}
    try:
        result = core.segment(image, backend=backend or "auto", min_confidence=min_confidence,
                              max_hands=max_hands, box_scale=box_scale, **options)  # core checks NaN, ranges
    except ValueError as exc:  # ImageLoadError and bad options: a sentence the user can act on
        log.info("refused: %s", exc)  # one line in the server log; an expected outcome, not a crash
        raise gr.Error(str(exc), print_exception=False) from None
    except Exception as exc:  # never show a traceback to a visitor
        log.error("segmentation failed: %s", type(exc).__name__)
        raise gr.Error("Something went wrong while processing this photo. Please try another one.",
                       print_exception=False) from None
    progress(0.9, desc="Preparing downloads")
    name = Path(image).name if isinstance(image, (str, Path)) else "image.png"
    _prune_downloads(_out_root())
    files = write_downloads(result, tempfile.mkdtemp(dir=_out_root()), source_name=name)
    shown = preview(result.image, result.instances, PREVIEW_PIXELS)  # outlines and labels; fills by Gradio
    status = "\n".join([f"**{result.headline()}**"] + [f"- {m}" for m in result.messages])
    return shown, status, files


def _save_pil_to_cache_atomically(img, cache_dir, name: str = "image", format: str = "webp") -> str:
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


processing_utils.save_pil_to_cache = _save_pil_to_cache_atomically  # used by AnnotatedImage for photo and masks


class PhotoInput(gr.Image):
    """gr.Image that hands an undecodable upload to core's loader, which explains what is wrong in one
    sentence (Gradio's own decoder would fail first with a generic error). Same frontend as gr.Image."""

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            return str(payload.path) if payload is not None and payload.path else None


def _out_root() -> Path:
    OUT_ROOT.mkdir(parents=True, exist_ok=True)
    return OUT_ROOT


def _prune_downloads(root: Path, keep: int = DOWNLOADS_KEEP, max_age_s: float = DOWNLOADS_MAX_AGE_S) -> None:
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


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Face & hand segmentation", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(DESCRIPTION)
        with gr.Row():
            with gr.Column():
                image = PhotoInput(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                                   image_mode=None, height=420)
                run = gr.Button("Segment faces and hands", variant="primary")
                with gr.Accordion("Settings", open=False):
                    backend = gr.Dropdown(["auto"] + backends.names(), value="auto", label="Backend",
                                          info="auto: Replicate SAM2 with a token, else the best local backend")
                    min_conf = gr.Slider(0.1, 0.9, value=0.5, step=0.05, label="Minimum detection confidence")
                    max_hands = gr.Slider(1, 12, value=6, step=1, label="Maximum hands")
                    box_scale = gr.Slider(1.0, 2.5, value=1.5, step=0.1, label="Box expansion scale")
                    token = gr.Textbox(label="Replicate API token (optional, used for your requests only)",
                                       type="password", placeholder="r8_...")
            with gr.Column():
                result = gr.AnnotatedImage(label="Faces and hands", height=420, color_map=_colour_map())
                status = gr.Markdown("Upload a photo or pick an example.")
                downloads = gr.File(label="Downloads: annotated PNG, masks (zip of PNGs), result JSON, COCO JSON",
                                    file_count="multiple")
        inputs = [image, backend, min_conf, max_hands, box_scale, token]
        outputs = [result, status, downloads]
        run.click(run_segmentation, inputs, outputs, api_name="segment")
        if EXAMPLES:
            gr.Examples(EXAMPLES, inputs=[image], outputs=outputs, fn=run_segmentation, run_on_click=True,
                        cache_examples=False, label="Examples (public-domain photos)")
    demo.queue(default_concurrency_limit=2, max_size=32)
    return demo


demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    threading.Thread(target=warm_up, daemon=True).start()  # load the MediaPipe graphs while the server starts
    demo.launch(show_error=True, max_file_size=MAX_FILE_BYTES, server_name=os.environ.get("GRADIO_SERVER_NAME"),
                server_port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None)
