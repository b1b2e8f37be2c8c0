"""Concurrency and soak: N gradio_client callers x M requests against the app on 127.0.0.1.

    python -m bench.soak [--callers 8] [--requests 25] [--url http://127.0.0.1:7860/] [--backend landmarks]

Without --url it starts `python app.py` on a free loopback port and measures that process's RSS (with children)
after every request. Each photo is first sent once, alone: that is the sequential reference. Then every
concurrent answer must equal it (labels, status without the timing, every mask bit, the result JSON without
timings). Reports errors, mismatches, latency percentiles and the RSS growth from request 50 to the last one
(request 200 with the defaults). Traffic goes only to the loopback address; the loop is bounded by
callers x requests and stops by itself.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def default_photos() -> list:
    """The public-domain examples, plus photos with hands from ../shared/data when it is there."""
    photos = [p for p in sorted((REPO / "examples").iterdir()) if p.suffix.lower() in (".jpg", ".png")]
    photos += [p for p in (DATA / "egohands" / "images" / "01.jpg", DATA / "hand_over_face" / "images" / "25.jpg")
               if p.exists()]
    return photos


def fingerprint(answer) -> str:
    """What must not change between a lone request and a concurrent one: everything but the timings."""
    annotated, status, files, *_ = answer
    archive = next(f for f in files if f.endswith("masks.zip"))
    h = hashlib.sha256()
    h.update(re.sub(r"\d+(\.\d+)? m?s\b", "", status).encode())  # "551 ms" and "1.3 s" alike
    h.update(json.dumps([a["label"] for a in annotated["annotations"]]).encode())
    with zipfile.ZipFile(archive) as z:
        doc = json.loads(z.read("result.json"))
        doc.pop("timings_ms", None)
        h.update(json.dumps(doc, sort_keys=True).encode())
        for name in sorted(n for n in z.namelist() if n.endswith(".png")):
            with Image.open(io.BytesIO(z.read(name))) as im:
                h.update(name.encode() + np.packbits(np.asarray(im) > 127).tobytes())
        h.update(z.read("coco.json") if "coco.json" in z.namelist() else b"")
    return h.hexdigest()


def process_rss(pid: int) -> int:
    import psutil

    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def soak(url: str, photos: list, callers: int, requests: int, backend: str = "landmarks", pid: int | None = None,
         mark: int = 50) -> dict:
    """Run the load; return a report dict. `pid`: the server process to sample RSS from (None: no RSS)."""
    from gradio_client import Client, handle_file

    def call(client, photo):
        return client.predict(handle_file(str(photo)), backend, 0.5, 6, 1.5, "", api_name="/segment")

    ref_client = Client(url, verbose=False)
    reference = {str(p): fingerprint(call(ref_client, p)) for p in photos}  # sequential, one at a time

    lock = threading.Lock()
    done = [0]
    rss = {}  # request number -> bytes
    errors, mismatches, latencies = [], [], []

    def caller(k: int):
        client = Client(url, verbose=False)
        for i in range(requests):
            photo = photos[(k + i) % len(photos)]
            t0 = time.perf_counter()
            try:
                fp = fingerprint(call(client, photo))
            except Exception as exc:  # counted and reported; the soak goes on
                with lock:
                    errors.append(f"{photo.name}: {type(exc).__name__}: {exc}")
                continue
            finally:
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    done[0] += 1
                    n = done[0]
                    if pid is not None:
                        rss[n] = process_rss(pid)
            if fp != reference[str(photo)]:
                with lock:
                    mismatches.append(photo.name)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(caller, range(callers)))
    wall = time.perf_counter() - t0
    total = callers * requests
    lat = np.array(latencies)
    report = {"requests": total, "callers": callers, "errors": errors, "mismatches": mismatches,
              "wall_s": round(wall, 1), "requests_per_s": round(total / wall, 2),
              "latency_p50_s": round(float(np.percentile(lat, 50)), 3),
              "latency_p95_s": round(float(np.percentile(lat, 95)), 3)}
    if rss:
        first, last = min(mark, total), total
        report.update({"rss_at_mark_mb": round(rss[first] / 2**20, 1), "rss_at_end_mb": round(rss[last] / 2**20, 1),
                       "rss_growth_mb": round((rss[last] - rss[first]) / 2**20, 1), "mark": first, "end": last,
                       "rss_peak_mb": round(max(rss.values()) / 2**20, 1)})
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--callers", type=int, default=8)
    ap.add_argument("--requests", type=int, default=25, help="per caller")
    ap.add_argument("--url", help="a running app (RSS is then not measured); default: start app.py here")
    ap.add_argument("--backend", default="landmarks")
    ap.add_argument("--mark", type=int, default=50, help="RSS growth is measured from this request to the last")
    args = ap.parse_args(argv)
    photos = default_photos()
    if args.url:
        report = soak(args.url, photos, args.callers, args.requests, args.backend)
    else:
        sys.path.insert(0, str(REPO))
        from tests.live_server import serve_app

        with serve_app() as (url, proc, _log):
            report = soak(url, photos, args.callers, args.requests, args.backend, pid=proc.pid, mark=args.mark)
    print(json.dumps(report, indent=2))
    return 1 if report["errors"] or report["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
