"""Opening, checking and decoding a video file: the part of video reading that runs in a child process.

This file imports only the standard library, NumPy and PyAV, and runs as a script (`python decode.py
REQUEST`), so that a child starts in about 0.2 s without the server's modules; `core.video.child` starts and
watches it (why: see there). Frames are decoded with PyAV's default slice threads: frame threads
(`thread_type="AUTO"`) hung for good inside `avcodec_free_context` after a corrupt packet on 3-5 of 6 damaged
copies of the example clip, slice threads on none of 12, and cost no more here (6 ms per 1080p frame).

Documented limits: frames larger than `MAX_SIDE` on their longer side are refused (8K), and so are frames that
would be under `MIN_SIDE` once downscaled; frames larger than `WORK_SIDE` are downscaled to it for processing and
output (4K -> 1920x1080); frame rates above `MAX_FPS` are refused; `max_seconds` (None for no limit) caps the
duration, e.g. 60 s on the Space; `max_fps` (None: every frame) keeps every `step`-th frame of a faster clip.

The duration cap does not trust time stamps: a file can say anything in them (all frames at 0 s, time that
restarts every 20 s: both ran for minutes past a 60 s cap). A time stamp that does not move forward is taken as
one frame after the last, and the frames read are counted against the cap at the declared frame rate too.

The child talks in JSON lines on stdout and reads one line on stdin per frame the parent has taken: see `main`.
"""
from __future__ import annotations

import json
import math
import mmap
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MAX_SIDE = 4096  # longer side of a frame we accept (8K is refused)
WORK_SIDE = 1920  # longer side frames are downscaled to for processing and output
MAX_FPS = 240.0
MIN_SIDE = 8  # shorter side of a processed frame; a 4x4 clip is refused at the probe, before any work
MAX_FILE_BYTES = 2 * 1024**3


class VideoLoadError(ValueError):
    """A user-facing, one-sentence reason why a file is not a usable video."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as displayed (after the rotation a phone recorded), before any downscale
    height: int
    fps: float
    frames: int  # declared frame count (0 when the container does not say)
    duration_s: float  # declared duration (0.0 when unknown)
    has_audio: bool
    codec: str
    rotation: int = 0  # degrees counterclockwise the stored frames are turned for display (0, 90, 180, 270)
    step: int = 1  # every step-th frame is processed (a clip faster than the caller's max_fps is thinned)

    @property
    def out_fps(self) -> float:
        """Frame rate of the frames we yield (and of the videos written from them)."""
        return self.fps / self.step

    @property
    def expected_frames(self) -> int:
        """Frames we expect to yield, from the declared count (0 when the container does not say)."""
        return -(-self.frames // self.step)

    @property
    def out_size(self) -> tuple:
        """(width, height) of the frames we yield: downscaled to WORK_SIDE, even for H.264's 4:2:0."""
        return out_size(self.width, self.height)

    @property
    def stored_size(self) -> tuple:
        """(width, height) to scale the stored (unrotated) frames to, so that turned they are `out_size`."""
        w, h = self.out_size
        return (h, w) if self.rotation in (90, 270) else (w, h)


def out_size(width: int, height: int) -> tuple:
    s = min(1.0, WORK_SIDE / max(width, height))
    w, h = max(2, int(round(width * s))), max(2, int(round(height * s)))
    return w - w % 2, h - h % 2


def _av():
    import av

    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own console chatter; we report in sentences
    return av


def _open(path, name: str):
    av = _av()
    p = Path(path)
    if not p.is_file():
        raise VideoLoadError(f"File not found: {name}.")
    size = p.stat().st_size
    if size == 0:
        raise VideoLoadError(f"{name} is empty (0 bytes).")
    if size > MAX_FILE_BYTES:
        raise VideoLoadError(f"{name} is larger than {MAX_FILE_BYTES // 2**30} GB.")
    try:
        return av.open(str(p), "r")
    except Exception:
        raise VideoLoadError(f"{name} is not a video we can read (unknown or damaged format).") from None


def probe_here(path, name: str, max_seconds, max_fps=None) -> VideoInfo:
    """What the file declares, checked against the limits (raises VideoLoadError with one sentence)."""
    with _open(path, name) as c:
        return _check(c, name, max_seconds, max_fps)


def _check(c, name: str, max_seconds, max_fps=None) -> VideoInfo:
    if not c.streams.video:
        what = "only audio" if c.streams.audio else "no video track"
        raise VideoLoadError(f"{name} has {what}; give a video with pictures.")
    s = c.streams.video[0]
    w, h = s.codec_context.width, s.codec_context.height
    if not w or not h:
        raise VideoLoadError(f"{name} has a video track without a frame size (damaged file).")
    if max(w, h) > MAX_SIDE:
        raise VideoLoadError(f"{name} is {w}x{h}; videos up to {MAX_SIDE} px on the longer side are accepted.")
    if min(out_size(w, h)) < MIN_SIDE:
        raise VideoLoadError(f"{name} is {w}x{h} pixels, too small to find faces or hands in.")
    rate = s.average_rate or s.guessed_rate or s.base_rate
    fps = float(rate) if rate else 0.0
    if fps > MAX_FPS:
        raise VideoLoadError(f"{name} declares {fps:.0f} frames per second; up to {MAX_FPS:.0f} are accepted.")
    duration = 0.0
    if s.duration and s.time_base:
        duration = float(s.duration * s.time_base)
    elif c.duration:
        duration = c.duration / 1_000_000
    if max_seconds and duration > max_seconds + 0.5:
        raise VideoLoadError(f"{name} is {duration:.0f} s long; up to {max_seconds:.0f} s are accepted here.")
    rotation = _first_frame_rotation(c, s, name)
    if rotation in (90, 270):
        w, h = h, w
    fps = fps or 25.0
    step = max(1, math.ceil(fps / max_fps - 1e-6)) if max_fps else 1
    return VideoInfo(int(w), int(h), fps, int(s.frames or 0), duration, bool(c.streams.audio),
                     s.codec_context.name, rotation, step)


def _first_frame_rotation(c, stream, name: str) -> int:
    """Decode the first frame (a file with none is refused here) and read the rotation a phone recorded."""
    try:
        frame = next(c.decode(stream), None)
    except Exception:
        raise VideoLoadError(f"{name} could not be decoded (damaged or truncated file).") from None
    if frame is None:
        raise VideoLoadError(f"{name} has no video frames.")
    return _rotation(frame)


def _rotation(frame) -> int:
    """FFmpeg's display matrix angle: the frame is shown turned this many degrees counterclockwise."""
    try:
        return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4 * 90
    except (TypeError, ValueError):
        return 0


def decode_here(path, name: str, info: VideoInfo, max_seconds):
    """Yield (frame_index, time_s, RGB uint8 frame of `info.out_size`, upright) for every `info.step`-th frame,
    then one last (None, None, warning) while the file is still open: "" when the clip ended, else one sentence
    on why it stopped early.

    The last item comes before the container is closed because closing is where a damaged file can hang."""
    av = _av()
    sw, sh = info.stored_size
    turns = info.rotation // 90
    read = decoded = 0
    frame_s = 1.0 / info.fps
    budget = math.floor(max_seconds * info.fps) + 1 if max_seconds else None  # frames, whatever the time stamps say
    with _open(path, name) as c:
        stream = c.streams.video[0]  # default slice threads, never frame threads (see the module docstring)
        first_t = last_t = None
        frames = c.decode(stream)
        warning = ""
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except (av.FFmpegError, ValueError, OSError):
                if read == 0:
                    raise VideoLoadError(f"{name} could not be decoded (damaged or truncated file).") from None
                warning = (f"{name} broke off after frame {read} (damaged or truncated); "
                           "the frames before it were processed.")
                break
            stamp = float(frame.time) if frame.time is not None else None
            if first_t is None:
                first_t = stamp or 0.0
            t = stamp - first_t if stamp is not None else None
            if t is None or (last_t is not None and t <= last_t):  # none, or one that does not advance:
                t = 0.0 if last_t is None else last_t + frame_s  # one frame after the last
            last_t = t
            decoded += 1
            if (max_seconds and t > max_seconds) or (budget and decoded > budget):
                warning = f"{name} was cut at {max_seconds:.0f} s."
                break
            if (decoded - 1) % info.step:
                continue  # thinned out: not converted, not sent
            if (frame.width, frame.height) != (sw, sh):
                frame = frame.reformat(width=sw, height=sh, format="rgb24", interpolation="AREA")
            rgb = frame.to_ndarray(format="rgb24")
            if turns:  # as the phone meant it to be seen
                rgb = np.rot90(rgb, turns)
            read += 1
            yield read - 1, round(t, 6), rgb
        if read == 0:
            raise VideoLoadError(f"{name} has no video frames.")
        yield None, None, warning


# ------------------------------------------------------------------------------------------- the child's side

def main(request: dict) -> None:
    """Answer one request as JSON lines on stdout: {"info": {...}} for "probe"; for "decode", {"frame": i, "t": s}
    per frame (its pixels in the shared map passed as file descriptor `fd`, written only after the parent has
    taken the previous frame: one line on stdin each), then {"end": warning}. Any failure is {"error": sentence}."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    out = sys.stdout.buffer
    name = request["name"]

    def send(message: dict) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    try:
        _answer(request, name, send)
    except BrokenPipeError:
        pass  # the parent stopped listening


def _answer(request: dict, name: str, send) -> None:
    try:
        if request["mode"] == "probe":
            send({"info": asdict(probe_here(request["path"], name, request["max_seconds"], request.get("max_fps")))})
            return
        info = VideoInfo(**request["info"])
        w, h = info.out_size
        shared = mmap.mmap(request["fd"], w * h * 3)
        slot = np.ndarray((h, w, 3), np.uint8, buffer=shared)
        taken = sys.stdin.buffer
        for index, t, rgb in decode_here(request["path"], name, info, request["max_seconds"]):
            if index is None:
                send({"end": rgb})
                break
            if index and not taken.readline():
                return  # the parent stopped reading
            slot[...] = rgb
            send({"frame": index, "t": t})
    except VideoLoadError as exc:
        send({"error": str(exc)})
    except BrokenPipeError:
        raise  # the parent is gone: nobody to tell
    except Exception as exc:
        send({"error": f"{name} could not be decoded ({type(exc).__name__})."})


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
