"""Video in: a clip's frames one at a time, decoded with PyAV (FFmpeg in the wheel).

Frames stream: the reader yields one RGB frame at a time, so memory does not grow with a clip's length. Every
way a file can be unusable (not a video, no video track, zero frames, too large, an absurd frame rate, too long)
is a `VideoLoadError` with one sentence, never a crash or a traceback. Visitors' files are opened and decoded in
a watched child process (`core.video.child`), so that a damaged file cannot freeze the server; the limits are in
`core.video.decode`.
"""
from __future__ import annotations

from pathlib import Path

from . import child
from .decode import VideoInfo, VideoLoadError

__all__ = ["VideoInfo", "VideoLoadError", "VideoReader", "probe", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif", ".mpg", ".mpeg", ".ts"}


def probe(path, max_seconds: float | None = None, max_fps: float | None = None) -> VideoInfo:
    """What the file declares, checked against the limits (raises VideoLoadError with one sentence). `max_fps`:
    a faster clip is thinned to every `info.step`-th frame."""
    return child.probe(path, Path(path).name, max_seconds, max_fps)


class VideoReader:
    """Iterate a video file as (frame_index, time_s, RGB uint8 array), one frame in memory at a time.

    A file that breaks off part-way (truncated download, damaged, or a decoder that stops answering) yields the
    frames before the break and records why in `self.warning`; a file with no decodable frame at all raises
    VideoLoadError."""

    def __init__(self, path, max_seconds: float | None = None, max_fps: float | None = None):
        self.path = str(path)
        self.name = Path(path).name
        self.max_seconds = max_seconds
        self.info = probe(path, max_seconds, max_fps)
        self.warning = ""
        self.frames_read = 0

    def __iter__(self):
        frames = child.frames(self.path, self.name, self.info, self.max_seconds)
        try:
            while True:
                try:
                    item = next(frames)
                except StopIteration as end:
                    self.warning = end.value or ""
                    return
                self.frames_read += 1
                yield item
        finally:
            frames.close()  # a caller that stops early stops the child at once
