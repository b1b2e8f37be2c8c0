"""Video out: H.264 MP4 encoded frame by frame as it comes (memory stays flat), with the source's audio kept."""
from __future__ import annotations

import heapq
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from .decode import _av

# Audio codecs an MP4 takes as they are; others (pcm, vorbis, ...) are re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}


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
