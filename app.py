"""Gradio Space: drop in a photo, get every face and hand masked and labelled. UI wiring only; logic is in core/."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path


from core.malloc import limit_malloc_arenas  # noqa: E402  (before any request thread exists)

limit_malloc_arenas()
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
Drop in a photo or a clip, or turn on your webcam: MediaPipe finds every face and hand, and each one gets its own
labelled mask.
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
        with gr.Tab("Photo"):
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
        build_video_tab()
        build_webcam_tab()
    demo.queue(default_concurrency_limit=2, max_size=32)
    return demo


# ------------------------------------------------------------------------------------------- video and webcam

VIDEO_MAX_SECONDS = float(os.environ.get("VIDEO_MAX_SECONDS", "60"))  # longest clip the Space accepts (CPU)
WEBCAM_SECONDS = int(os.environ.get("WEBCAM_SECONDS", "120"))  # per visitor and stream
WEBCAM_SIDE = 640  # webcam frames are downscaled to this longer side before processing
VIDEO_EXAMPLES = [str(p) for p in sorted((HERE / "examples").glob("*.mp4"))]


def run_video(video, anonymise="no", min_confidence=0.5, max_hands=6, progress=gr.Progress()):
    """Segment every frame of a clip. Returns (annotated H.264 video, anonymised video or None, status, files)."""
    from core.video_batch import process_video

    if not video:
        raise gr.Error("Please upload a video first (or pick the example).", print_exception=False)
    what = anonymise if anonymise in ("faces", "hands", "all") else None
    progress(0, desc="Reading the video")

    def on_frame(done, total):
        if total:
            progress(min(done / total, 1.0), desc=f"Frame {done} of {total}")
        else:
            progress(None, desc=f"Frame {done}")

    out = Path(tempfile.mkdtemp(dir=_out_root())) / Path(video).stem
    try:
        res = process_video(video, str(out), anonymise=what, max_seconds=VIDEO_MAX_SECONDS, progress=False,
                            on_frame=on_frame, min_confidence=float(min_confidence), max_hands=int(max_hands))
    except ValueError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    if not res["ok"]:
        log.info("video refused: %s", res["error"])
        raise gr.Error(res["error"], print_exception=False)
    anonymised = str(out / "anonymised.mp4") if what else None
    status = "\n".join([f"**{res['headline']}**"] + [f"- {m}" for m in res["messages"]])
    return str(out / "annotated.mp4"), anonymised, status, res["files"]


def build_video_tab() -> None:
    with gr.Tab("Video"):
        with gr.Row():
            with gr.Column():
                video = gr.Video(label=f"Clip (up to {VIDEO_MAX_SECONDS:.0f} s)", sources=["upload"], height=360)
                anonymise = gr.Radio(["no", "faces", "hands", "all"], value="no", label="Also make an anonymised video",
                                     info="blurs the chosen faces and hands in every frame")
                run = gr.Button("Segment every frame", variant="primary")
                with gr.Accordion("Settings", open=False):
                    min_conf = gr.Slider(0.1, 0.9, value=0.5, step=0.05, label="Minimum detection confidence")
                    max_hands = gr.Slider(1, 12, value=6, step=1, label="Maximum hands")
            with gr.Column():
                annotated = gr.Video(label="Faces and hands, tracked", height=360)
                anonymised = gr.Video(label="Anonymised", height=240)
                status = gr.Markdown("Upload a clip or pick the example. Offline backend (landmark masks).")
                downloads = gr.File(label="Downloads: annotated MP4, anonymised MP4, COCO JSON (per frame), "
                                    "result JSON", file_count="multiple")
        outputs = [annotated, anonymised, status, downloads]
        # One clip at a time (each uses both cores); photos keep their own two workers.
        run.click(run_video, [video, anonymise, min_conf, max_hands], outputs, api_name="segment_video",
                  concurrency_limit=1, concurrency_id="video")
        if VIDEO_EXAMPLES:
            gr.Examples(VIDEO_EXAMPLES, inputs=[video], label="Example (CC BY 4.0, Intel sample videos)")


class LiveSession:
    """One webcam visitor's tracker and MediaPipe graphs (closed when the visitor's session ends)."""

    def __init__(self):
        from core.video import VideoSegmenter

        # The browser sends the mirrored (selfie) view, which is what MediaPipe's handedness assumes.
        self.segmenter = VideoSegmenter("landmarks", max_faces=2, max_hands=4, selfie=True)
        self.lock = threading.Lock()  # a stream stopped and restarted at once must not interleave its frames

    def process(self, frame):
        import cv2

        h, w = frame.shape[:2]
        if max(h, w) > WEBCAM_SIDE:
            s = WEBCAM_SIDE / max(h, w)
            frame = cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        with self.lock:
            return self.segmenter.process(frame).annotated

    def close(self):
        with self.lock:
            self.segmenter.close()


def _close_session(session) -> None:
    if session is not None:
        session.close()


def webcam_frame(frame, session):
    """One webcam frame in, the frame with every face and hand drawn out (offline backend, labels tracked)."""
    if frame is None:
        return None, session
    if session is None:
        session = LiveSession()
    try:
        return session.process(frame[:, :, :3]), session
    except Exception as exc:  # a bad frame must not end the stream with a traceback
        log.warning("webcam frame failed: %s", type(exc).__name__)
        return frame, session


def build_webcam_tab() -> None:
    with gr.Tab("Webcam"):
        gr.Markdown(f"Live overlay from your camera, offline backend only; up to {WEBCAM_SECONDS} s per stream. "
                    "Frames are processed and dropped, never stored.")
        with gr.Row():
            # Ask the camera for 640x480: Gradio's default (1920x1440) makes the browser encode and send a 3 MP
            # JPEG per frame, which halves the frame rate, and the frames are processed at 640 px anyway.
            cam = gr.Image(label="Camera", sources=["webcam"], streaming=True, type="numpy", height=360,
                           webcam_options=gr.WebcamOptions(mirror=True, constraints={
                               "video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}))
            live = gr.Image(label="Faces and hands, live", streaming=True, height=360, format="jpeg")
        session = gr.State(None, time_to_live=WEBCAM_SECONDS + 60, delete_callback=_close_session)
        # A stream holds its worker for the whole stream: at most 4 visitors at once, the next ones wait. The
        # browser sends the next frame only once the last answer is back, on the next `stream_every` tick.
        cam.stream(webcam_frame, [cam, session], [live, session], stream_every=0.05, time_limit=WEBCAM_SECONDS,
                   concurrency_limit=4, concurrency_id="webcam", api_name="webcam", show_progress="hidden")


demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    threading.Thread(target=warm_up, daemon=True).start()  # load the MediaPipe graphs while the server starts
    demo.launch(show_error=True, max_file_size=MAX_FILE_BYTES, server_name=os.environ.get("GRADIO_SERVER_NAME"),
                server_port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None,
                mcp_server=True)  # MCP tools at /gradio_api/mcp/ (needs the `mcp` package: gradio[mcp])
