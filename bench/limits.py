"""What the worst accepted photos cost through the Space's own request path (decode, segment, downloads, the
shown overlay), each in a fresh process: wall and CPU seconds, and peak RSS above the warmed-up app.

The README's "Limits" rule: the worst accepted photo costs at most about 3 s and 1.5 GB on 2 cores.

    python -m bench.limits
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.data import DEFAULT_DATA

REPO = Path(__file__).resolve().parents[1]
DATA = DEFAULT_DATA


def _crowd(megapixels: float, path: Path) -> None:
    """16 photos of people (shared data, else the examples) in a 4x4 grid, scaled to `megapixels`."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    srcs = sorted(glob.glob(str(DATA / "hand_over_face" / "images" / "*")))[:16]
    srcs = srcs or sorted(str(p) for p in (REPO / "examples").glob("*.[jp][pn]g"))
    tiles = [Image.open(srcs[k % len(srcs)]).convert("RGB").resize((640, 480)) for k in range(16)]
    grid = Image.new("RGB", (2560, 1920))
    for k, t in enumerate(tiles):
        grid.paste(t, ((k % 4) * 640, (k // 4) * 480))
    s = (megapixels * 1e6 / (grid.width * grid.height)) ** 0.5
    grid.resize((int(grid.width * s), int(grid.height * s)), Image.BILINEAR).save(path, quality=92)


def _group(megapixels: float, path: Path) -> None:
    """tests/photos/three_portraits.jpg (a few people, the common case) scaled up to `megapixels`."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    im = Image.open(REPO / "tests" / "photos" / "three_portraits.jpg").convert("RGB")
    s = (megapixels * 1e6 / (im.width * im.height)) ** 0.5
    im.resize((int(im.width * s), int(im.height * s)), Image.BILINEAR).save(path, quality=90)


def _flat(megapixels: float, path: Path) -> None:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    side = int((megapixels * 1e6) ** 0.5)
    Image.new("RGB", (side, side), (120, 140, 160)).save(path)


CHILD = r"""
import os, resource, sys, time
sys.path.insert(0, os.getcwd())
import psutil
import app
from core.detect import warm_up
warm_up()
app.segment_photo(app.EXAMPLES[0], "landmarks", progress=lambda *a, **k: None)
base = psutil.Process().memory_info().rss
t0, c0 = time.perf_counter(), time.process_time()
try:
    shown, status, files, *_ = app.segment_photo(sys.argv[1], "landmarks", progress=lambda *a, **k: None)
    app.gr.AnnotatedImage().postprocess(shown)  # what Gradio encodes for the viewer
    status = status.splitlines()[0]
except Exception as exc:
    status = f"refused: {exc}"
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"wall {wall:5.2f} s  cpu {cpu:5.2f} s  peak RSS +{(peak - base) / 2**30:.2f} GB  | {status}")
"""


def main() -> None:
    from core.loading import MAX_DECLARED_JPEG_PIXELS, MAX_DECLARED_PIXELS, MAX_WORKING_PIXELS

    top, jpeg_top = MAX_DECLARED_PIXELS / 1e6 - 0.1, MAX_DECLARED_JPEG_PIXELS / 1e6 - 1
    cases = [(f"flat {top:.0f} MP WebP (slowest decoder)", _flat, top, "webp"),
             (f"group {top:.0f} MP WebP (three portraits)", _group, top, "webp"),
             (f"crowd {top:.0f} MP WebP", _crowd, top, "webp"),
             (f"crowd {top:.0f} MP PNG", _crowd, top, "png"),
             (f"crowd {jpeg_top:.0f} MP JPEG", _crowd, jpeg_top, "jpg"),
             (f"crowd {MAX_WORKING_PIXELS / 1e6:.0f} MP PNG (working size)", _crowd, MAX_WORKING_PIXELS / 1e6, "png"),
             (f"flat {top + 1:.0f} MP PNG (refused)", _flat, top + 1, "png")]
    env = dict(os.environ, GLOG_minloglevel="3", TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as tmp:
        for title, make, mp, ext in cases:
            path = Path(tmp) / f"case.{ext}"
            make(mp, path)
            proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=REPO, env=env, capture_output=True,
                                  text=True)
            line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
            print(f"{title:40s} {path.stat().st_size / 2**20:6.1f} MB  {line}")


if __name__ == "__main__":
    main()
