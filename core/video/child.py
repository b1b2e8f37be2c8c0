"""Video files are opened and decoded in a child process that the server watches and can always stop.

Why: a damaged file can make FFmpeg hang inside a call that holds the GIL (seen: a frame-threaded H.264 decoder
freed after a corrupt packet). In the server's own process that stops every thread, so the whole Space stops
answering and only SIGKILL ends it; no timeout, thread or signal handler inside the process can help. In a child,
the parent waits for each answer with a deadline (`STALL_SECONDS`) and kills a child that misses it, dies, or does
not exit soon after its last frame (`EXIT_GRACE`); the frames before are kept, with one sentence on why it stopped.

Cost, measured on a 1080p clip on 2 cores: a child starts in about 0.2 s (a fresh Python with NumPy and PyAV only:
`core/video/decode.py` runs as a script, not through the server's modules or `app.py`) and takes about 55 MB; a
frame crosses in a shared memory map (an anonymous memfd) for about 2 ms, where a pipe took about 30 ms. The
decoding itself moves off the server's process onto the other core.
"""
from __future__ import annotations

import json
import mmap
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .decode import VideoInfo, VideoLoadError

DECODER = Path(__file__).with_name("decode.py")
STALL_SECONDS = 60.0  # no answer from the child for this long: it is stuck (a frame takes milliseconds)
EXIT_GRACE = 2.0  # after its last answer the child closes the file; one still running after this is killed


class _Child:
    """One decoding child: JSON lines from its stdout, read with a deadline; killed when closed."""

    def __init__(self, request: dict, shared_fd: int | None = None):
        self.proc = subprocess.Popen(  # -I: the decoder script alone, no user site, no server modules
            [sys.executable, "-I", str(DECODER), json.dumps(dict(request, fd=shared_fd))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            pass_fds=(shared_fd,) if shared_fd is not None else (), start_new_session=True)
        self._buffer = b""

    def answer(self) -> dict | None:
        """The child's next message; None when it died or said nothing for STALL_SECONDS."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + STALL_SECONDS
        while True:
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue  # not ours (a library printing): skip it
            if isinstance(message, dict):
                return message

    def took_frame(self) -> None:
        """Tell the child its frame was copied out, so it may write the next one (a dead child shows in answer)."""
        try:
            self.proc.stdin.write(b"\n")
            self.proc.stdin.flush()
        except OSError:
            pass

    def close(self, grace: float = 0.0) -> None:
        """Let the child finish within `grace` seconds, else kill it; always reaped, pipes closed."""
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


def probe(path, name: str, max_seconds, max_fps=None) -> VideoInfo:
    """The file's VideoInfo checked against the limits, read by a watched child (VideoLoadError otherwise)."""
    child = _Child({"mode": "probe", "path": str(path), "name": name, "max_seconds": max_seconds,
                    "max_fps": max_fps})
    try:
        message = child.answer()
    finally:
        child.close(EXIT_GRACE)
    if message is None:
        raise VideoLoadError(f"{name} could not be read (the decoder stopped answering on this file).")
    if "error" in message:
        raise VideoLoadError(message["error"])
    return VideoInfo(**message["info"])


def frames(path, name: str, info: VideoInfo, max_seconds):
    """Yield (frame_index, time_s, RGB uint8 array of `info.out_size`) decoded by a watched child; returns the
    warning ("" when the clip ended): a file that breaks off or hangs part-way keeps the frames before."""
    w, h = info.out_size
    size = w * h * 3
    fd = _shared_memory(size)
    shared = mmap.mmap(fd, size)
    child = None
    try:
        child = _Child({"mode": "decode", "path": str(path), "name": name, "info": asdict(info),
                        "max_seconds": max_seconds}, shared_fd=fd)
        read = 0
        while True:
            message = child.answer()
            if message is None:
                child.close()  # stuck or dead: killed now
                why = "the decoder stopped answering" if child.proc.returncode == -9 else "the decoder crashed"
                if read == 0:
                    raise VideoLoadError(f"{name} could not be decoded ({why} on this file).")
                return f"{name} stopped after frame {read} ({why}); the frames before it were processed."
            if "error" in message:
                if read == 0:
                    raise VideoLoadError(message["error"])
                return message["error"]
            if "end" in message:
                child.close(EXIT_GRACE)
                return message["end"]
            rgb = np.frombuffer(shared, np.uint8, size).reshape(h, w, 3).copy()  # ours; the map is the child's
            read += 1
            child.took_frame()
            yield message["frame"], message["t"], rgb
    finally:
        if child is not None:
            child.close()
        shared.close()
        os.close(fd)


def _shared_memory(size: int) -> int:
    """A file descriptor of `size` bytes that lives in memory only and disappears with its last user."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("video-frame", os.MFD_CLOEXEC)
    else:  # not Linux: an already unlinked temporary file
        with tempfile.TemporaryFile() as f:
            fd = os.dup(f.fileno())
    os.ftruncate(fd, size)
    return fd
