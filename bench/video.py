"""Video benchmark: speed against raw MediaPipe, label stability, peak memory against clip length, webcam round trip.

    python -m bench.video [--frames 90] [--rounds 3] [--no-webcam] [--no-rss]
    python -m bench.video --space [--rounds 3]   # the Space's example clip: library, process_video, the app

Clips are 640x360 pans across still photos (bench/clips.py). Rows:
- raw detection: BlazeFace full range + Hands in video (tracking) mode per frame, nothing else: the floor any
  face + hand video pipeline pays. raw + landmarks adds FaceMesh on each face's crop (what segment_video's
  detection runs). Both use graphs of their own, sequentially, as a plain loop would.
- segment_video: the whole offline path (detection, tracking, landmark masks, drawing), per frame.
- segment() per frame: the photo function called on every frame, for comparison (labels by position).
Times are the best of `--rounds` runs (the machine is shared; the best run is the least disturbed), wall clock.
Stability: share of frames with the clip's most common label set, and label jumps (a label's mask centre leaping
more than 0.75 of the instance's size between frames: the label moved to another instance).
Memory: a fresh process segments a short and a 10x longer clip file end to end (decode, segment, encode, COCO);
its RSS is sampled every 10 frames (ru_maxrss is not used: after fork+exec it keeps the parent's high-water mark).
Webcam: `python app.py` on 127.0.0.1, driven as the browser does it (queue/join once, then one POST
/gradio_api/stream/<event> per frame with a JPEG data URL, results read from the SSE stream), closed loop: the next
frame is sent when the previous answer arrived. 640x480 frames. And, when Chromium is installed, the Webcam tab
in headless Chromium with its fake camera: distinct live frames shown per second (the browser's own JPEG
encoding, image loading and drawing run on the same 2 cores as the server here; a visitor's browser would not).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .clips import SHARED, example_file, frame_labels, load_rgb, pan_frames, stability, write_clip  # noqa


def pan_clip_frames(n: int) -> list:
    """The benchmark clip: one face and two raised hands (CC0 photo), then an egocentric frame (two people's
    hands), each panned and zoomed for n/2 frames at 640x360."""
    photos = [example_file("card_thrower_gesturing_pxhere.jpg"), SHARED / "data/egohands/images/01.jpg"]
    photos = [p for p in photos if p.exists()]  # the first is committed in examples/ too
    per = n // len(photos)
    return [f for p in photos for f in pan_frames(load_rgb(p), per)], len(photos)


def raw_detection(frames, with_mesh: bool) -> float:
    """ms per frame of BlazeFace (full range) + Hands (tracking mode) [+ FaceMesh per face crop]."""
    import cv2
    import mediapipe as mp

    from core.detect.geometry import box_crop

    fd = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
    hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=6, model_complexity=0,
                                     min_detection_confidence=0.5)
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) if with_mesh else None
    t = time.perf_counter()
    for f in frames:
        res = fd.process(f)
        if mesh is not None:
            h, w = f.shape[:2]
            for d in res.detections or []:
                rb = d.location_data.relative_bounding_box
                crop, _, _ = box_crop(f, (rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w,
                                          (rb.ymin + rb.height) * h), 2.0)
                if crop is not None:
                    mesh.process(cv2.resize(crop, (256, 256)))
        hands.process(f)
    ms = (time.perf_counter() - t) * 1000 / len(frames)
    for g in (fd, hands, mesh):
        if g is not None:
            g.close()
    return ms


def video_path(frames) -> tuple:
    """(ms per frame, per-frame labels) of segment_video over the frames."""
    from core import segment_video

    per_frame = []
    t = time.perf_counter()
    for r in segment_video(frames):
        per_frame.append(frame_labels(r))
    return (time.perf_counter() - t) * 1000 / len(frames), per_frame


def photo_path(frames) -> tuple:
    from core import segment

    per_frame = []
    t = time.perf_counter()
    for f in frames:
        per_frame.append(frame_labels(segment(f, backend="landmarks")))
    return (time.perf_counter() - t) * 1000 / len(frames), per_frame


def segment_stability(per_frame: list, parts: int) -> dict:
    """Stability of each photo's part of the clip (each pans over one photo): the lowest share of frames with
    the part's usual label set, and all jumps."""
    n = len(per_frame) // parts
    stats = [stability(per_frame[i * n:(i + 1) * n]) for i in range(parts)]
    return {"same_set": min(st["same_set"] for st in stats), "jumps": [j for st in stats for j in st["jumps"]]}


def rss_run(path: str) -> None:
    """Child process: segment a clip file end to end (decode, segment, encode annotated.mp4); print peak RSS MB."""
    import psutil

    from core.video.batch import process_video

    out = tempfile.mkdtemp()
    before = psutil.Process().memory_info().rss / 2**20  # imports done, nothing processed
    samples = []
    res = process_video(path, os.path.join(out, "clip"), progress=False,
                        on_frame=lambda i, n: samples.append(psutil.Process().memory_info().rss / 2**20)
                        if i % 10 == 0 else None)
    assert res["ok"], res
    print(json.dumps({"frames": res["frames"], "before_mb": before,
                      "max_during_mb": max(samples), "end_mb": samples[-1]}))


def rss_rows(frames: list) -> list:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for repeat in (1, 10):
            path = write_clip((f for _ in range(repeat) for f in frames), Path(d) / f"clip{repeat}.mp4")
            out = subprocess.run([sys.executable, "-m", "bench.video", "--rss-run", str(path)], capture_output=True,
                                 text=True, cwd=Path(__file__).resolve().parents[1])
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if not line:
                raise SystemExit(f"rss run failed: {out.stderr[-2000:]}")
            rows.append(json.loads(line[-1]))
    return rows


# ------------------------------------------------------------------------------------------------- webcam

def webcam_round_trip(frames: list, seconds: float = 15.0, url: str | None = None, count: int | None = None) -> dict:
    """Frames per second through the served app's webcam stream, closed loop, as the browser sends them, for
    `seconds`; or, with `count`, exactly that many frames after the first however long they take (for tests on a
    busy machine). Starts `python app.py` unless `url` names a running one."""
    from contextlib import nullcontext

    from tests.live_server import serve_app

    with (nullcontext((url, None, None)) if url else serve_app()) as (served, _proc, _log):
        return _drive_webcam(served, frames, seconds, count)


def _drive_webcam(url: str, frames: list, seconds: float, count: int | None = None) -> dict:
    import cv2
    import httpx

    def data_url(rgb) -> str:
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        return "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode()

    api = url + "gradio_api"
    config = httpx.get(url + "config", timeout=30).json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "webcam")
    dep = config["dependencies"][fn_index]
    trigger = dep["targets"][0][0]
    session = "bench-" + uuid.uuid4().hex[:12]
    answers: list = []
    got = threading.Event()
    errors: list = []

    fetcher = httpx.Client(timeout=30)

    def listen():
        try:
            _listen()
        except httpx.HTTPError:  # the server going away at the end
            pass

    def _listen():
        with httpx.stream("GET", f"{api}/queue/data", params={"session_hash": session}, timeout=None) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                kind = msg.get("msg")
                if os.environ.get("BENCH_VIDEO_DEBUG"):
                    print(str(msg)[:300], file=sys.stderr)
                if kind in ("process_streaming", "process_generating", "process_completed"):
                    if not msg.get("success", True):
                        errors.append(msg)
                    out = ((msg.get("output") or {}).get("data") or [None])[0]
                    if isinstance(out, dict) and out.get("url") and not out["url"].startswith("data:"):
                        fetcher.get(out["url"]).raise_for_status()  # the browser then loads the image
                    answers.append(time.perf_counter())
                    got.set()
                if kind == "close_stream" or (kind == "process_completed" and answers and len(answers) > 1):
                    return

    def body(rgb):  # an RGB frame, or a data URL as it is (tests send damaged ones)
        url = rgb if isinstance(rgb, str) else data_url(rgb)
        return {"data": [{"url": url, "meta": {"_type": "gradio.FileData"}}] + [None] * (len(dep["inputs"]) - 1),
                "fn_index": fn_index, "session_hash": session, "trigger_id": trigger, "event_data": None}

    client = httpx.Client(timeout=60)
    frames = [f if isinstance(f, str) else np.ascontiguousarray(f) for f in frames]
    joined = client.post(f"{api}/queue/join", json=body(frames[0])).json()
    event_id = joined["event_id"]
    listener = threading.Thread(target=listen, daemon=True)  # the SSE stream opens after joining, as in browsers
    listener.start()
    got.wait(60)
    got.clear()
    sent, t0, latencies = 1, time.perf_counter(), []
    while (sent <= count) if count is not None else (time.perf_counter() - t0 < seconds):
        rgb = frames[sent % len(frames)]
        ts = time.perf_counter()
        client.post(f"{api}/stream/{event_id}", json=body(rgb))
        if not got.wait(60 if count is not None else 10):
            break
        got.clear()
        latencies.append((answers[-1] - ts) * 1000)
        sent += 1
    elapsed = time.perf_counter() - t0
    client.post(f"{api}/stream/{event_id}/close")
    client.close()
    return {"frames": len(latencies), "fps": len(latencies) / elapsed if elapsed else 0.0,
        "median_ms": float(np.median(latencies)) if latencies else float("nan"), "errors": len(errors),
        "error_messages": [str((m.get("output") or {}).get("error") or m) for m in errors]}


def browser_webcam_fps(seconds: float = 8.0) -> dict | None:
    """Distinct live frames per second shown by headless Chromium (its fake camera, 640x480 test pattern) on the
    Webcam tab; the browser runs on the same cores as the server. None without Chromium or Playwright."""
    import shutil

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium:
        return None
    from tests.live_server import frames_from_webcam_tab, serve_app

    args = ["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    with serve_app() as (url, _proc, _log), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            page = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900}).new_page()
            frames = frames_from_webcam_tab(page, url, seconds)
        finally:
            browser.close()
    return {"frames": frames, "fps": frames / seconds}


def space_example(rounds: int = 3) -> list:
    """The Space's example clip, three ways, `rounds` times each, interleaved (wall seconds): `segment_video`
    alone (no files), `process_video` (decode child, segment, H.264 encode, COCO and result JSON, as the Video tab
    calls it), and `/segment_video` through `python app.py` with gradio_client (upload, queue, the handler, the
    download of the annotated video). Returns [(row, [seconds per round])]."""
    import tempfile

    import gradio_client

    from core import segment_video
    from core.video.batch import process_video
    from tests.live_server import serve_app

    clip = str(Path(__file__).resolve().parents[1] / "examples" / "asl_walk_intel.mp4")
    times = {"segment_video": [], "process_video": [], "app": []}
    with serve_app() as (url, _proc, _log):
        client = gradio_client.Client(url, verbose=False)
        for _ in range(rounds):
            t = time.perf_counter()
            for _r in segment_video(clip):
                pass
            times["segment_video"].append(time.perf_counter() - t)
            with tempfile.TemporaryDirectory() as out:
                t = time.perf_counter()
                process_video(clip, out + "/clip", progress=False, max_fps=30)
                times["process_video"].append(time.perf_counter() - t)
            t = time.perf_counter()
            client.predict(gradio_client.handle_file(clip), "off", 0.5, 6, api_name="/segment_video")
            times["app"].append(time.perf_counter() - t)
    names = {"segment_video": "`segment_video` (frames only: decode, detect, track, masks, drawing)",
             "process_video": "`process_video` (+ decode child, H.264 encode, COCO/result JSON)",
             "app": "`/segment_video` through `python app.py` (+ upload, queue, download), gradio_client"}
    return [(names[k], v) for k, v in times.items()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-webcam", action="store_true")
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--rss-run", help=argparse.SUPPRESS)
    ap.add_argument("--space", action="store_true", help="only the example clip: library, process_video, the app")
    args = ap.parse_args(argv)
    if args.rss_run:
        return rss_run(args.rss_run)
    if args.space:
        print(f"\nexamples/asl_walk_intel.mp4 (89 frames, 640x480), {args.rounds} rounds, {os.cpu_count()} cores\n")
        print("| path | median s | frames/s | all runs s |\n| --- | ---: | ---: | --- |")
        for name, secs in space_example(args.rounds):
            med = float(np.median(secs))
            print(f"| {name} | {med:.2f} | {89 / med:.1f} | {', '.join(f'{x:.2f}' for x in secs)} |")
        return None

    frames, parts = pan_clip_frames(args.frames)
    best = {}
    stab = {}
    for _ in range(max(1, args.rounds)):  # interleaved, so a busy moment hurts every row alike
        for name, fn in (("raw", lambda: raw_detection(frames, False)),
                         ("raw_mesh", lambda: raw_detection(frames, True)),
                         ("video", lambda: video_path(frames)),
                         ("photo", lambda: photo_path(frames))):
            out = fn()
            ms, st = (out if isinstance(out, tuple) else (out, None))
            best[name] = min(best.get(name, float("inf")), ms)
            if st is not None:
                stab[name] = segment_stability(st, parts)
    print(f"\n{len(frames)} frames, 640x360 (pan + zoom over a face with two hands, then an egocentric frame); "
          f"best of {args.rounds}, {os.cpu_count()} cores\n")
    print("| path | ms/frame | frames/s | x raw detection | x raw + landmarks | same label set (worst part) "
          "| label jumps |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    names = {"raw": "raw MediaPipe: BlazeFace + Hands (video mode)",
             "raw_mesh": "raw + FaceMesh on face crops", "video": "**segment_video** (offline)",
             "photo": "segment() per frame"}
    for key in ("raw", "raw_mesh", "video", "photo"):
        ms = best[key]
        st = stab.get(key)
        same = "" if st is None else f"{st['same_set']:.0%}"
        jumps = "" if st is None else str(len(st["jumps"]))
        print(f"| {names[key]} | {ms:.1f} | {1000 / ms:.1f} | {ms / best['raw']:.2f} | {ms / best['raw_mesh']:.2f} | "
              f"{same} | {jumps} |")
    if not args.no_rss:
        rows = rss_rows(frames)
        print("\n| clip file (decode + segment + encode + COCO) | RSS before MB | max RSS while streaming MB "
              "| RSS at the end MB |\n| --- | ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r['frames']} frames | {r['before_mb']:.0f} | {r['max_during_mb']:.0f} | {r['end_mb']:.0f} |")
    if not args.no_webcam:
        cam_frames = [f for f in pan_frames(load_rgb(example_file("card_thrower_gesturing_pxhere.jpg")),
                                            30, size=(640, 480))]
        w = webcam_round_trip(cam_frames)
        print("\n| webcam through Gradio (127.0.0.1, 640x480 JPEG, closed loop) | frames | frames/s | median ms "
              "| errors |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(f"| stream event `/webcam` | {w['frames']} | {w['fps']:.1f} | {w['median_ms']:.0f} | {w['errors']} |")
        b = browser_webcam_fps()
        if b is not None:
            print(f"| headless Chromium, fake camera, on the same 2 cores (frames shown) | {b['frames']} | "
                  f"{b['fps']:.1f} | | |")


if __name__ == "__main__":
    main()
