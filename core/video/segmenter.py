"""The segmenter of one clip or webcam visitor: tracked detections per frame, then the photo pipeline's later
stages (`pipeline.finish`); `segment_video` runs it over a file or frames, detecting frame i+1 while frame i is
masked and drawn."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Optional

import cv2
import numpy as np

from ..pipeline import _Timer, finish
from ..types import Detection, Result
from .graphs import VideoGraphs
from .reuse import ReusedRefinement
from .tracking import CARRY_FRAMES, Tracker

OFFLINE = "landmarks"
CUT_DIFFERENCE = 40.0  # mean grey-level change (0..255) of 32x18 thumbnails between frames that counts as a cut


class VideoSegmenter:
    """Stateful per-video (or per-webcam-visitor) segmenter: `process(rgb)` one frame after another, then
    `close()`. Owns its MediaPipe graphs and its tracker; not shared between videos or visitors."""

    def __init__(self, backend: str = OFFLINE, *, min_confidence: float = 0.5, max_hands: int = 6,
                 max_faces: int = 4, box_scale: float = 1.5, refine: bool = True, draw: bool = True,
                 carry_frames: int = CARRY_FRAMES, hand_complexity: int = 0, selfie: bool = False,
                 **backend_options):
        self.backend, self.messages = _video_backend(backend, backend_options)
        self.options = dict(box_scale=box_scale, refine=refine, draw=draw, **backend_options)
        self.max_faces, self.max_hands = int(max_faces), int(max_hands)
        self.graphs = VideoGraphs(max_faces, max_hands, min_confidence, hand_complexity, selfie)
        self.tracker = Tracker(carry_frames)
        # The offline masks keep each tracked instance's refinement while it only moves (`core.video.reuse`).
        self.masks = ReusedRefinement() if self.backend == OFFLINE else None
        self.frames = 0
        self._thumb = None

    def detect(self, rgb: np.ndarray) -> list:
        """The frame's numbered detections (tracked), before any mask."""
        last = [(t.predicted_box(), t.detection.score, t.missed == 0 and t.detection.landmark_kind == "face_mesh")
                for t in self.tracker.tracks if t.kind == "face"]
        if self._scene_cut(rgb):
            self.tracker.cut()  # every track ends, and with it its kept mask (`ReusedRefinement` keys by track)
            self.graphs.cut()
            last = []
        faces, hands = self.graphs.detect(rgb, last)
        dets = [Detection("face", box, score, pts, kind, "face_detection") for box, score, pts, kind in faces]
        dets += [Detection("hand", box, score, pts, "hand_21", "hands", side)
                 for box, score, pts, side in hands[:self.max_hands]]
        return self.tracker.update(dets, rgb.shape, rgb)

    def _scene_cut(self, rgb: np.ndarray) -> bool:
        """True when this frame looks nothing like the last one (a cut in an edited clip): the mean difference of
        32x18 grey thumbnails is above CUT_DIFFERENCE. A pan or a moving hand stays far below it."""
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)
        thumb = thumb.astype(np.int16)
        prev, self._thumb = self._thumb, thumb
        return prev is not None and float(np.abs(thumb - prev).mean()) > CUT_DIFFERENCE

    def process(self, rgb: np.ndarray, time_s: Optional[float] = None, frame_index: Optional[int] = None,
                messages: Optional[list] = None) -> Result:
        """Detect, track and mask one frame (frames must come in order)."""
        t = _Timer()
        detections = self.detect(rgb)
        t.lap("detect")
        return self.finish(rgb, detections, t, time_s, frame_index, messages)

    def finish(self, rgb, detections, t: Optional[_Timer] = None, time_s=None, frame_index=None,
               messages=None) -> Result:
        """The pipeline's stages after detection for one frame's tracked detections."""
        t = t or _Timer()
        msgs = list(messages or [])
        if self.frames == 0:
            msgs = self.messages + msgs
        result = finish(rgb, detections, self.masks or self.backend, msgs, t, **self.options)
        result.frame_index = self.frames if frame_index is None else int(frame_index)
        result.time_s = time_s
        self.frames += 1
        return result

    def close(self) -> None:
        self.graphs.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _video_backend(requested: str, options: dict) -> tuple:
    """(backend to run per frame, messages). Replicate's image models would be one paid prediction per frame, so
    video uses the offline masks unless the local SAM2 backend is asked for by name."""
    requested = requested or "auto"
    if requested in ("auto", OFFLINE):
        return OFFLINE, []
    from .. import backends

    backends.get(requested)  # unknown names: a ValueError with the choices
    if requested == "replicate":
        return OFFLINE, ["replicate not used: video would cost one paid prediction per frame; "
                         "used the offline landmarks backend."]
    return requested, []


def segment_video(source, backend: str = OFFLINE, *, fps: float = 30.0, max_seconds: Optional[float] = None,
                  min_confidence: float = 0.5, max_hands: int = 6, max_faces: int = 4, box_scale: float = 1.5,
                  refine: bool = True, draw: bool = True, carry_frames: int = CARRY_FRAMES,
                  profile_faces: bool = True, mirror_hands: bool = True, **backend_options) -> Iterator[Result]:
    """Every face and hand in every frame of a clip: an iterator of `Result`, one per frame, in order.

    `source`: a path to a video file (mp4, mov, webm, avi, gif, ...), a `core.video.VideoReader` of one, or an
    iterable of RGB uint8 frames (then `fps` gives their time stamps). Each Result has `frame_index` and `time_s`;
    labels (`face-1`, `hand-2 (left)`) stay with the same face or hand while it is tracked, through brief misses,
    and a new one gets the next unused number (`Instance.track_id`). Frames stream: nothing of earlier frames is kept.

    Options as for `core.segment` (`profile_faces` and `mirror_hands` are photo-only and ignored). `backend`:
    "landmarks" (offline, the default; "auto" means it too) or "sam2" (local, one model run per frame).
    Raises `core.VideoLoadError` (one sentence) for an unusable file; a file that breaks off part-way yields its
    good frames and the last Result's messages say where it stopped.
    """
    from .reader import VideoReader

    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        source = VideoReader(source, max_seconds=max_seconds)
    if isinstance(source, VideoReader):  # process_video passes its own, already probed: one probe per file
        reader = source
        frames = iter(reader)
    else:
        reader = None
        step = 1.0 / fps if fps and fps > 0 else 1.0 / 30
        frames = ((i, round(i * step, 6), np.asarray(f)) for i, f in enumerate(source))
    seg = VideoSegmenter(backend, min_confidence=min_confidence, max_hands=max_hands, max_faces=max_faces,
                         box_scale=box_scale, refine=refine, draw=draw, carry_frames=carry_frames,
                         **backend_options)
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-detect")

    def detect(rgb):
        t0 = time.perf_counter()
        return seg.detect(rgb), (time.perf_counter() - t0) * 1000

    try:
        # Pipelined: while frame i goes through masks and drawing here, frame i+1 is read and its faces and hands
        # are found on the other thread(s). At most two frames are in flight, so memory stays flat. Knowing the
        # next frame also tells whether a file broke off before the last Result is handed out.
        pending = next(frames, None)
        job = ahead.submit(detect, _check_frame(pending[2])) if pending is not None else None
        while pending is not None:
            index, ts, rgb = pending
            detections, detect_ms = job.result()
            pending = next(frames, None)
            if pending is not None:
                job = ahead.submit(detect, _check_frame(pending[2]))
            notes = [reader.warning] if (pending is None and reader is not None and reader.warning) else []
            timer = _Timer()
            timer.laps["detect"] = detect_ms
            yield seg.finish(np.ascontiguousarray(rgb[:, :, :3]), detections, timer, ts, index, notes)
    finally:
        ahead.shutdown(wait=True)
        seg.close()
        if reader is not None:
            frames.close()  # its decoding child is stopped now, not when the generator is collected


def _check_frame(rgb) -> np.ndarray:
    from ..loading import ImageLoadError

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ImageLoadError(f"Video frames must be RGB uint8 arrays (HxWx3); got {rgb.dtype} {rgb.shape}.")
    if max(rgb.shape[:2]) >= 32767 or min(rgb.shape[:2]) < 8:
        raise ImageLoadError(f"A video frame of {rgb.shape[1]}x{rgb.shape[0]} pixels cannot be processed.")
    return np.ascontiguousarray(rgb[:, :, :3])
