"""Video in and out with PyAV (FFmpeg in the wheel): decode frames one at a time, encode H.264, keep the audio.

Frames stream: the reader yields one RGB frame at a time and the writer encodes each as it comes, so memory does
not grow with a clip's length. Every way a file can be unusable (not a video, no video track, zero frames, too
large, an absurd frame rate, too long) is a `VideoLoadError` with one sentence, never a crash or a traceback.

Documented limits: frames larger than `MAX_SIDE` on their longer side are refused (8K); frames larger than
`WORK_SIDE` are downscaled to it for processing and output (4K -> 1920x1080); frame rates above `MAX_FPS` are
refused; `max_seconds` (None for no limit) caps the duration, e.g. 60 s on the Space.
"""
from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

MAX_SIDE = 4096  # longer side of a frame we accept (8K is refused)
WORK_SIDE = 1920  # longer side frames are downscaled to for processing and output
MAX_FPS = 240.0
MAX_FILE_BYTES = 2 * 1024**3
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif", ".mpg", ".mpeg", ".ts"}
# Audio codecs an MP4 takes as they are; others (pcm, vorbis, ...) are re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}


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


def probe(path, max_seconds: float | None = None) -> VideoInfo:
    """What the file declares, checked against the limits (raises VideoLoadError with one sentence)."""
    name = Path(path).name
    with _open(path, name) as c:
        return _check(c, name, max_seconds)


def _check(c, name: str, max_seconds) -> VideoInfo:
    if not c.streams.video:
        what = "only audio" if c.streams.audio else "no video track"
        raise VideoLoadError(f"{name} has {what}; give a video with pictures.")
    s = c.streams.video[0]
    w, h = s.codec_context.width, s.codec_context.height
    if not w or not h:
        raise VideoLoadError(f"{name} has a video track without a frame size (damaged file).")
    if max(w, h) > MAX_SIDE:
        raise VideoLoadError(f"{name} is {w}x{h}; videos up to {MAX_SIDE} px on the longer side are accepted.")
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
    return VideoInfo(int(w), int(h), fps or 25.0, int(s.frames or 0), duration, bool(c.streams.audio),
                     s.codec_context.name, rotation)


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


class VideoReader:
    """Iterate a video file as (frame_index, time_s, RGB uint8 array), one frame in memory at a time.

    A file that breaks off part-way (truncated download) yields the frames before the break and records why in
    `self.warning`; a file with no decodable frame at all raises VideoLoadError."""

    def __init__(self, path, max_seconds: float | None = None):
        self.path = str(path)
        self.name = Path(path).name
        self.max_seconds = max_seconds
        self.info = probe(path, max_seconds)
        self.warning = ""
        self.frames_read = 0

    def __iter__(self):
        av = _av()
        sw, sh = self.info.stored_size
        turns = self.info.rotation // 90
        with _open(self.path, self.name) as c:
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"  # FFmpeg's frame threads: decoding overlaps our work on the other core
            first_t = None
            fps = self.info.fps
            frames = c.decode(stream)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except (av.FFmpegError, ValueError, OSError) as exc:
                    if self.frames_read == 0:
                        raise VideoLoadError(f"{self.name} could not be decoded (damaged or truncated file).") \
                            from None
                    self.warning = (f"{self.name} broke off after frame {self.frames_read} "
                                    f"({type(exc).__name__}); the frames before it were processed.")
                    break
                t = float(frame.time) if frame.time is not None else self.frames_read / fps
                if first_t is None:
                    first_t = t
                t -= first_t
                if self.max_seconds and t > self.max_seconds:
                    self.warning = f"{self.name} was cut at {self.max_seconds:.0f} s."
                    break
                if (frame.width, frame.height) != (sw, sh):
                    frame = frame.reformat(width=sw, height=sh, format="rgb24", interpolation="AREA")
                rgb = frame.to_ndarray(format="rgb24")
                if turns:  # as the phone meant it to be seen
                    rgb = np.ascontiguousarray(np.rot90(rgb, turns))
                self.frames_read += 1
                yield self.frames_read - 1, round(t, 6), rgb
        if self.frames_read == 0 and not self.warning:
            raise VideoLoadError(f"{self.name} has no video frames.")


class VideoWriter:
    """H.264 MP4 (yuv420p, plays in browsers) written frame by frame. Use as a context manager.

    `audio_from`: a video file whose first audio track is copied into the output (re-encoded to AAC when an MP4
    cannot carry it as it is) when the writer closes."""

    def __init__(self, path, width: int, height: int, fps: float, audio_from=None, crf: int = 23,
                 preset: str = "veryfast"):
        av = _av()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.audio_from = audio_from
        self.size = (int(width) - int(width) % 2, int(height) - int(height) % 2)
        self._tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.video.mp4") if audio_from else self.path
        self._c = av.open(str(self._tmp), "w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001) if fps and fps > 0 else Fraction(25)
        self._s = self._c.add_stream("libx264", rate=rate)
        self._s.width, self._s.height = self.size
        self._s.pix_fmt = "yuv420p"
        self._s.options = {"crf": str(crf), "preset": preset, "movflags": "+faststart"}
        self._s.codec_context.thread_count = 2
        self.frames = 0
        self.audio_copied = False
        self.audio_error = ""  # one sentence when the source's audio could not be kept

    def write(self, rgb: np.ndarray) -> None:
        av = _av()
        w, h = self.size
        if rgb.shape[1] != w or rgb.shape[0] != h:
            rgb = rgb[:h, :w]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self._s.encode(frame):
            self._c.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        if self._c is None:
            return self.path
        for packet in self._s.encode():
            self._c.mux(packet)
        self._c.close()
        self._c = None
        if self.audio_from:
            try:
                self.audio_copied = mux_audio(self._tmp, self.audio_from, self.path)
            except Exception as exc:  # the pictures matter more than the sound: keep the video, say why
                self.audio_error = f"the audio track could not be copied ({type(exc).__name__}); the video has none."
            finally:
                if self._tmp != self.path and self._tmp.exists():
                    if not self.path.exists() or not self.audio_copied:
                        os.replace(self._tmp, self.path)
                    else:
                        self._tmp.unlink()
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def has_audio(path) -> bool:
    try:
        with _av().open(str(path)) as c:
            return bool(c.streams.audio)
    except Exception:
        return False


def mux_audio(video_path, audio_source, out_path) -> bool:
    """Write `out_path`: the video track of `video_path` plus the first audio track of `audio_source`, both read
    and written packet by packet in time order (memory stays flat). Returns False (and writes nothing) when the
    source has no audio."""
    av = _av()
    with av.open(str(audio_source)) as src:
        if not src.streams.audio:
            return False
    tmp = Path(out_path).with_name(f".{Path(out_path).name}.{os.getpid()}.mux.mp4")
    with av.open(str(video_path)) as vin, av.open(str(audio_source)) as ain, \
            av.open(str(tmp), "w", format="mp4") as out:
        vs, as_ = vin.streams.video[0], ain.streams.audio[0]
        ov = out.add_stream_from_template(vs)
        copy = as_.codec_context.name in MP4_AUDIO
        if copy:
            oa = out.add_stream_from_template(as_)
        else:
            oa = out.add_stream("aac", rate=as_.codec_context.sample_rate or 44100)
        video_end = float(vs.duration * vs.time_base) if vs.duration else None

        def packets(container, stream, tag):
            for p in container.demux(stream):
                if p.dts is None and p.size == 0:
                    continue
                t = float((p.dts if p.dts is not None else (p.pts or 0)) * p.time_base)
                yield t, tag, p

        for t, tag, p in heapq.merge(packets(vin, vs, 0), packets(ain, as_, 1), key=lambda x: (x[0], x[1])):
            if tag == 0:
                p.stream = ov
                out.mux(p)
            elif video_end is not None and t > video_end + 0.1:
                continue  # audio beyond a cut video (max_seconds) is left out
            elif copy:
                p.stream = oa
                out.mux(p)
            else:
                for frame in p.decode():
                    frame.pts = None
                    for q in oa.encode(frame):
                        out.mux(q)
        if not copy:
            for q in oa.encode():
                out.mux(q)
    os.replace(tmp, out_path)
    return True
