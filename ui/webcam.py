"""The Webcam tab: the browser's camera in, each frame with its faces and hands drawn out, live (offline)."""
from __future__ import annotations

import base64
import logging
import os

import gradio as gr
from gradio.data_classes import ImageData

from core.video.live import LivePool, PoolFull

from .queue_guard import Limit

log = logging.getLogger("app")
WEBCAM_SECONDS = int(os.environ.get("WEBCAM_SECONDS", "120"))  # per visitor and stream
WEBCAM_SIDE = 640  # webcam frames are downscaled to this longer side before processing
WEBCAM_STREAMS = 4  # streams processed at once (each holds a worker and a tracker for the whole stream)
WEBCAM_IDLE_S = float(os.environ.get("WEBCAM_IDLE_S", "10"))  # a stream that sent nothing for this long has ended
WEBCAM_LIMIT = Limit(waiting=8, per_visitor=2,  # 2: a stream stopped and started again may overlap its end
                     busy="The webcam is busy with other visitors; please try again in a few minutes.",
                     again="Your camera is already streaming; stop it before starting it again.")
BUSY = f"The webcam is busy: {WEBCAM_STREAMS} visitors are streaming; please try again in a minute."


class LiveTracker:
    """One stream's tracker and MediaPipe graphs. The browser sends the mirrored (selfie) view, which is what
    MediaPipe's handedness assumes."""

    def __init__(self):
        from core.video import VideoSegmenter

        self.segmenter = VideoSegmenter("landmarks", max_faces=2, max_hands=4, selfie=True)

    def process(self, frame):
        import cv2

        h, w = frame.shape[:2]
        if max(h, w) > WEBCAM_SIDE:
            s = WEBCAM_SIDE / max(h, w)
            frame = cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        return self.segmenter.process(frame).annotated

    def close(self):
        self.segmenter.close()


TRACKERS = LivePool(LiveTracker, WEBCAM_STREAMS, WEBCAM_IDLE_S)


class CameraInput(gr.Image):
    """gr.Image for the camera stream: a frame that cannot be decoded is skipped (None), where Gradio's own
    preprocess ended the stream with "Could not preprocess input component" and echoed the payload."""

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            return None


class LiveImage(gr.Image):
    """gr.Image output whose frames travel inside the answer as a JPEG data URL and never touch the disk: Gradio
    saves every output image to its cache folder (61 frames left 59 files, fetchable by URL for an hour), and the
    tab promises that frames are never stored."""

    is_template = True

    def postprocess(self, value):
        import cv2

        if value is None:
            return None
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(value, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        return ImageData(url="data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii"))


def webcam_frame(frame, request: gr.Request = None):
    """One webcam frame in, the frame with every face and hand drawn out (offline backend, labels tracked)."""
    if frame is None:
        return gr.skip()  # no frame yet, or one that could not be decoded: keep showing the last answer
    key = getattr(request, "session_hash", None) or "local"
    try:
        return TRACKERS.run(key, lambda tracker: tracker.process(frame[:, :, :3]))
    except PoolFull:
        raise gr.Error(BUSY, print_exception=False) from None
    except Exception as exc:  # a bad frame must not end the stream with a traceback
        log.warning("webcam frame failed: %s", type(exc).__name__)
        return gr.skip()


def end_webcam_stream(request: gr.Request = None) -> None:
    """The visitor closed or reloaded the tab: their tracker goes now, not after WEBCAM_IDLE_S."""
    key = getattr(request, "session_hash", None)
    if key:
        TRACKERS.release(key)


def build_webcam_tab() -> None:
    with gr.Tab("Webcam"):
        gr.Markdown(f"Live overlay from your camera, offline backend only; up to {WEBCAM_SECONDS} s per stream. "
                    "Frames are processed in memory and dropped, never stored.")
        with gr.Row():
            # Ask the camera for 640x480: Gradio's default (1920x1440) makes the browser encode and send a 3 MP
            # JPEG per frame, which halves the frame rate, and the frames are processed at 640 px anyway.
            cam = CameraInput(label="Camera", sources=["webcam"], streaming=True, type="numpy", height=360,
                              webcam_options=gr.WebcamOptions(mirror=True, constraints={
                                  "video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}))
            live = LiveImage(label="Faces and hands, live", streaming=True, height=360)
        # A stream holds its worker for the whole stream: at most WEBCAM_STREAMS visitors at once, the next ones
        # wait. The browser sends the next frame only once the last answer is back, on the next `stream_every`.
        cam.stream(webcam_frame, [cam], [live], stream_every=0.05, time_limit=WEBCAM_SECONDS,
                   concurrency_limit=WEBCAM_STREAMS, concurrency_id="webcam", api_name="webcam",
                   show_progress="hidden",
                   api_visibility="undocumented")  # callable, but no MCP tool: a frame stream is none
