"""Concurrency and soak: N gradio_client callers x M requests against the app on 127.0.0.1.

    python -m bench.soak [--callers 8] [--requests 25] [--url http://127.0.0.1:7860/] [--backend landmarks]
    python -m bench.soak --mix [--videos 4] [--webcams 20] [--photos 40] [--settle 60]

--mix: video, webcam and photo visitors at once against a fresh `python app.py`; prints the server's RSS,
threads, open files, processes and disk (its TMPDIR) before, at the peak and --settle seconds after, with the
errors and lost results (a clip without its files or all 89 frames, a photo answer that differs from the lone one,
a webcam stream with no frame back).

Without --url it starts `python app.py` on a free loopback port and measures that process's RSS (with children)
after every request. Each photo is first sent once, alone: that is the sequential reference. Then every
concurrent answer must equal it (labels, status without the timing, every mask bit, the result JSON without
timings). Reports errors, mismatches, latency percentiles and the RSS growth from request 50 to the last one
(request 200 with the defaults), as the rise of its floor (`floor_growth`). Traffic goes only to the loopback
address; the loop is bounded by callers x requests and stops by itself.
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

from bench.data import DEFAULT_DATA

REPO = Path(__file__).resolve().parent.parent
DATA = DEFAULT_DATA


def default_photos() -> list:
    """The public-domain examples, plus photos with hands from ../shared/data when it is there."""
    photos = [p for p in sorted((REPO / "examples").iterdir()) if p.suffix.lower() in (".jpg", ".png")]
    photos += [p for p in (DATA / "egohands" / "images" / "01.jpg", DATA / "hand_over_face" / "images" / "25.jpg")
               if p.exists()]
    return photos


# Every timing core.status.visitor_status writes ("551 ms", "1.3 s", "12.0 s"), and any "2.5 frames/s", "3 min" or
# "1,234 ms" a status line may come to hold: a comparison must not depend on the machine's speed.
TIMING = re.compile(r"\d[\d,]*(\.\d+)?\s*(ms|s|sec|seconds?|min|minutes?|frames/s|fps)\b")


def status_without_timings(status: str) -> str:
    """The status line with its timings taken out, for comparing two answers."""
    return TIMING.sub("", status)


def fingerprint(answer) -> str:
    """What must not change between a lone request and a concurrent one: everything but the timings."""
    annotated, status, files, *_ = answer
    archive = next(f for f in files if f.endswith("masks.zip"))
    h = hashlib.sha256()
    h.update(status_without_timings(status).encode())
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
                       "rss_growth_mb": round(floor_growth(rss, first) / 2**20, 1), "mark": first, "end": last,
                       "rss_peak_mb": round(max(rss.values()) / 2**20, 1)})
    return report


def floor_growth(rss: dict, mark: int) -> float:
    """How far the server's RSS floor rose from request `mark` to the last: the lowest sample of the last third
    of requests after `mark` minus the lowest of the first third. Each sample is taken while other callers' requests
    are still in flight, which adds whatever they hold at that instant (±60 MB for 8 callers here, depending on the
    machine's timing), so two single samples differ by more than a leak of this run could; a leak raises every
    sample, the lowest ones too."""
    after = [rss[n] for n in sorted(rss) if n >= mark]
    third = max(1, len(after) // 3)
    return min(after[-third:]) - min(after[:third])


# ------------------------------------------------------------------------------------------------ the mix

class Sampler:
    """The server's RSS (with children), threads (with children), open files and the disk under its TMPDIR, every
    `every` seconds on a thread of its own."""

    def __init__(self, pid: int, tmp: Path, every: float = 0.5):
        self.pid, self.tmp, self.every = pid, tmp, every
        self.samples: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> dict:
        import psutil

        proc = psutil.Process(self.pid)
        procs = [proc] + proc.children(recursive=True)
        rss = threads = files = 0
        for p in procs:
            try:
                rss += p.memory_info().rss
                threads += p.num_threads()
                files += p.num_fds()
            except psutil.NoSuchProcess:
                pass
        disk = 0
        for f in self.tmp.rglob("*"):
            try:
                if f.is_file():
                    disk += f.stat().st_size
            except OSError:
                pass
        return {"rss_mb": rss / 2**20, "threads": threads, "open_files": files, "disk_mb": disk / 2**20,
                "processes": len(procs)}

    def _run(self):
        while not self._stop.wait(self.every):
            self.samples.append(self.now())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self) -> dict:
        return {k: max(s[k] for s in self.samples) for k in self.samples[0]} if self.samples else {}


def mix(url: str, pid: int, tmp: Path, videos: int = 4, webcams: int = 20, photos_n: int = 40,
        settle_s: float = 60.0) -> dict:
    """Video, webcam and photo visitors at once: `videos` clip visitors (one clip each), `webcams` webcam sessions
    (4 at a time, each a 3 s stream) and `photos_n` photo requests (4 callers); then `settle_s` of quiet."""
    from gradio_client import Client, handle_file

    from bench.clips import example_file, load_rgb, pan_frames
    from bench.video import webcam_round_trip

    clip = REPO / "examples" / "asl_walk_intel.mp4"
    photos = default_photos()
    cam = list(pan_frames(load_rgb(example_file("card_thrower_gesturing_pxhere.jpg")), 10, size=(640, 480)))
    ref_client = Client(url, verbose=False)
    reference = {str(p): fingerprint(ref_client.predict(handle_file(str(p)), "landmarks", 0.5, 6, 1.5, "",
                                                        api_name="/segment")) for p in photos}
    sampler = Sampler(pid, tmp)
    before = sampler.now()
    errors, lost = [], []
    counts = {"videos": 0, "webcam_sessions": 0, "webcam_frames": 0, "photos": 0}
    lock = threading.Lock()

    def video_visitor(k: int):
        try:
            _, _, status, files = Client(url, verbose=False).predict(handle_file(str(clip)), "no", 0.5, 6,
                                                                    api_name="/segment_video")
        except Exception as exc:
            with lock:
                errors.append(f"video {k}: {type(exc).__name__}: {str(exc)[:200]}")
            return
        names = {Path(f).name for f in files if Path(f).is_file()}
        coco = next((f for f in files if f.endswith("coco.json")), None)
        frames = len(json.loads(Path(coco).read_text())["images"]) if coco and Path(coco).is_file() else 0
        with lock:
            if not {"annotated.mp4", "coco.json", "result.json"} <= names or frames != 89:
                lost.append(f"video {k}: {sorted(names)}, {frames} frames")
            counts["videos"] += 1

    def webcam_visitor(k: int):
        for _ in range(webcams // 4):
            out = webcam_round_trip(cam, seconds=3.0, url=url)
            with lock:
                counts["webcam_sessions"] += 1
                counts["webcam_frames"] += out["frames"]
                if out["errors"]:
                    errors.append(f"webcam {k}: {out['error_messages'][:1]}")
                elif not out["frames"]:
                    lost.append(f"webcam {k}: no frame came back")

    def photo_caller(k: int):
        client = Client(url, verbose=False)
        for i in range(photos_n // 4):
            photo = photos[(k + i) % len(photos)]
            try:
                fp = fingerprint(client.predict(handle_file(str(photo)), "landmarks", 0.5, 6, 1.5, "",
                                                api_name="/segment"))
            except Exception as exc:
                with lock:
                    errors.append(f"photo {photo.name}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            with lock:
                counts["photos"] += 1
                if fp != reference[str(photo)]:
                    lost.append(f"photo {photo.name}: differs from the lone request")

    t0 = time.perf_counter()
    with sampler, ThreadPoolExecutor(videos + 8) as pool:
        jobs = [pool.submit(video_visitor, k) for k in range(videos)]
        jobs += [pool.submit(webcam_visitor, k) for k in range(4)]
        jobs += [pool.submit(photo_caller, k) for k in range(4)]
        for job in jobs:
            job.result()
        busy_s = time.perf_counter() - t0
        time.sleep(settle_s)
    after = sampler.now()
    return {"counts": counts, "errors": errors, "lost": lost, "busy_s": round(busy_s, 1), "before": before,
            "peak": sampler.peak(), "after": after}


def print_mix(report: dict, settle_s: float) -> None:
    rows = [("before", report["before"]), ("peak", report["peak"]), (f"{settle_s:.0f} s after", report["after"])]
    print(f"mix: {report['counts']} in {report['busy_s']} s; errors {len(report['errors'])}, "
          f"lost results {len(report['lost'])}")
    print("| when | RSS MB | threads | open files | processes | disk MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, s in rows:
        print(f"| {name} | {s['rss_mb']:.0f} | {s['threads']} | {s['open_files']} | {s['processes']} | "
              f"{s['disk_mb']:.1f} |")
    for line in report["errors"] + report["lost"]:
        print("-", line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--callers", type=int, default=8)
    ap.add_argument("--requests", type=int, default=25, help="per caller")
    ap.add_argument("--url", help="a running app (RSS is then not measured); default: start app.py here")
    ap.add_argument("--backend", default="landmarks")
    ap.add_argument("--mark", type=int, default=50,
                    help="RSS growth (of its floor) is measured from this request to the last")
    ap.add_argument("--mix", action="store_true",
                    help="video + webcam + photo visitors at once (--videos, --webcams, --photos), then --settle s")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--webcams", type=int, default=20)
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--settle", type=float, default=60.0)
    args = ap.parse_args(argv)
    if args.mix:
        import tempfile

        sys.path.insert(0, str(REPO))
        from tests.live_server import serve_app

        tmp = Path(tempfile.mkdtemp(prefix="soak-mix-"))
        with serve_app(env={"TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio")}) as (url, proc, _log):
            report = mix(url, proc.pid, tmp, args.videos, args.webcams, args.photos, args.settle)
        print_mix(report, args.settle)
        return 1 if report["errors"] or report["lost"] else 0
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
