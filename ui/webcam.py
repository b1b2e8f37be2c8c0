"""The Webcam tab: the browser's camera in, each frame with its faces and hands drawn out, live (offline)."""
from __future__ import annotations

import logging
import os
import threading

import gradio as gr

log = logging.getLogger("app")
WEBCAM_SECONDS = int(os.environ.get("WEBCAM_SECONDS", "120"))  # per visitor and stream
WEBCAM_SIDE = 640  # webcam frames are downscaled to this longer side before processing


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
                   concurrency_limit=4, concurrency_id="webcam", api_name="webcam", show_progress="hidden",
                   api_visibility="undocumented")  # callable, but no MCP tool: a frame stream with a State is none
