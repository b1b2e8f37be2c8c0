"""Test and benchmark clips made from still photos: a camera panning and zooming across a photo.

`pan_frames` moves a window smoothly across a photo (and optionally zooms in), the way a hand-held camera would;
`through_frames` pans from an empty grey margin across the photo and out the other side, so every face and hand
enters the frame, stays a while and leaves. `write_clip` encodes frames to a file with PyAV, optionally with a
tone as audio track.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import SHARED

EXAMPLES_CANDIDATES = SHARED / "examples-candidates"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example_file(name: str) -> Path:
    """A photo or clip of ../shared/examples-candidates, or the same file committed in examples/ as `NN_<name>` (the
    Space's examples were chosen from the candidates): so a fresh clone has it too. The candidates' path (which may
    not exist) when neither has it."""
    shared = EXAMPLES_CANDIDATES / name
    committed = [EXAMPLES / name, *sorted(EXAMPLES.glob(f"[0-9][0-9]_{name}"))]
    return next((p for p in [shared, *committed] if p.exists()), shared)


def load_rgb(path) -> np.ndarray:
    from core.loading import load_image

    return load_image(str(path))


def _crop_resize(photo: np.ndarray, cx: float, cy: float, cw: float, ch: float, size) -> np.ndarray:
    import cv2

    W, H = size
    # An affine map from the window (cx, cy, cw, ch) of the photo onto the output frame, sub-pixel smooth.
    sx, sy = W / cw, H / ch
    m = np.array([[sx, 0, -(cx - cw / 2) * sx], [0, sy, -(cy - ch / 2) * sy]], np.float32)
    return cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))


def pan_frames(photo: np.ndarray, n: int = 60, size=(640, 360), zoom: float = 1.25, travel: float = 0.5):
    """`n` frames of `size` (w, h): a window with the frame's aspect ratio covering most of the photo, moving
    left to right across `travel` of the free width and zooming from 1 to `zoom`."""
    for window in pan_windows(photo.shape, n, size, zoom, travel):
        yield _crop_resize(photo, *window, size)


def pan_windows(photo_shape, n: int = 60, size=(640, 360), zoom: float = 1.25, travel: float = 0.5) -> list:
    """The part of the photo each of `pan_frames`' frames shows: [(centre x, centre y, width, height)]."""
    H, W = photo_shape[:2]
    aspect = size[0] / size[1]
    base_w = min(W, H * aspect) * 0.9
    windows = []
    for i in range(n):
        s = i / max(n - 1, 1)
        cw = base_w / (1 + (zoom - 1) * s)
        free = W - cw
        windows.append((cw / 2 + free * ((1 - travel) / 2 + travel * s), H / 2, cw, cw / aspect))
    return windows


def box_in_frame(box, window, size=(640, 360)) -> tuple:
    """A photo box (x0, y0, x1, y1) in the pixels of the frame that shows `window` of the photo at `size`."""
    cx, cy, cw, ch = window
    sx, sy = size[0] / cw, size[1] / ch
    left, top = cx - cw / 2, cy - ch / 2
    return (box[0] - left) * sx, (box[1] - top) * sy, (box[2] - left) * sx, (box[3] - top) * sy


def through_frames(photo: np.ndarray, n: int = 60, size=(640, 360)):
    """`n` frames panning from grey (left of the photo) across the whole photo to grey (right of it): everything
    in the photo enters at the frame's right edge and leaves at its left edge."""
    H, W = photo.shape[:2]
    aspect = size[0] / size[1]
    ch = H
    cw = ch * aspect
    for i in range(n):
        s = i / max(n - 1, 1)
        cx = -cw / 2 + s * (W + cw)
        yield _crop_resize(photo, cx, H / 2, cw, ch, size)


def write_clip(frames, path, fps: float = 30.0, audio: bool = False) -> Path:
    """Encode RGB frames to an H.264 MP4 (or other container by suffix) with PyAV; `audio` adds a 440 Hz tone."""
    import av

    path = Path(path)
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264" if path.suffix in (".mp4", ".mov", ".mkv") else "mpeg4", rate=int(fps))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        a_s = c.add_stream("aac", rate=44100, layout="mono") if audio else None
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a_s is not None:
            seconds = len(frames) / fps
            t = np.arange(int(44100 * seconds)) / 44100
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(tone), 1024):
                af = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = start
                for p in a_s.encode(af):
                    c.mux(p)
            for p in a_s.encode():
                c.mux(p)
    return path


# ------------------------------------------------------------------------------------------- label stability

def frame_labels(result) -> dict:
    """{label: (centre x, centre y, size)} of one Result's masks (centre of mass; size = sqrt of box area)."""
    out = {}
    for inst in result.instances:
        ys, xs = np.nonzero(inst.mask)
        if len(xs) == 0:
            continue
        x0, y0, x1, y1 = inst.box
        out[inst.label] = (float(xs.mean()), float(ys.mean()), float(np.sqrt(max(x1 - x0, 1) * max(y1 - y0, 1))))
    return out


def through_shift(photo_shape, n: int = 60, size=(640, 360)) -> float:
    """How far (output pixels) everything moves left per frame in `through_frames`."""
    H, W = photo_shape[:2]
    cw = H * size[0] / size[1]
    return (W + cw) / max(n - 1, 1) * size[0] / cw


def stability(per_frame: list, leap: float = 0.75, shift: float = 0.0, min_leap: float = 24.0) -> dict:
    """Label stability over a clip, from `frame_labels` of each frame.

    `same_set`: share of frames whose label set is the clip's most common one. `jumps`: times a label's mask
    centre moved more than `leap` times the instance's size between consecutive frames (the label went to
    another instance; at least `min_leap` pixels, as tiny masks wobble), after taking out the camera's own motion
    (`shift` pixels to the left per frame).
    `labels`: every label seen."""
    from collections import Counter

    sets = Counter(tuple(sorted(f)) for f in per_frame)
    jumps = []
    for i in range(1, len(per_frame)):
        for label, (x, y, size) in per_frame[i].items():
            prev = per_frame[i - 1].get(label)
            if prev is None:
                continue
            d = float(np.hypot(x - (prev[0] - shift), y - prev[1]))
            if d > max(leap * max(size, prev[2]), min_leap):
                jumps.append((i, label, round(d, 1)))
    labels = sorted({lab for f in per_frame for lab in f})
    modal = sets.most_common(1)[0] if sets else ((), 0)
    return {"frames": len(per_frame), "same_set": modal[1] / max(len(per_frame), 1), "modal_set": list(modal[0]),
            "jumps": jumps, "labels": labels}
