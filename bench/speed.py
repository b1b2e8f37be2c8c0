"""Speed on the shared photos: median per-stage and end-to-end ms of `segment()`, against raw MediaPipe.

    python -m bench.speed [--backend landmarks] [--data ../shared/data] [--per-source 10]
                          [--crowds ../shared/data_boxes/facemask_kaggle] [--crowd-photos 20] [--examples]

"raw" is what a naive pipeline pays: one BlazeFace (full-range) pass and one Hands pass on the photo. The ratio
column is segment() end to end divided by raw, per photo, then the median. The "cpu" rows are the same calls'
CPU time (all threads of the process, `cpu_ms`): on a machine others share, wall times swing with their load and
CPU times far less. Peak RSS is the process's maximum.

Columns: each labelled source, then "1-2 people" (all of them: portraits, first-person frames, hands over faces,
one or two people each) and "crowds" (street and transit photos of 2-20 mostly masked faces, where CenterFace
looks at the whole photo): the two costs a visitor meets, kept apart because one median would hide either.

`--backend sam2` adds the SAM2 rows: image embedding and batched decode of all instances per photo, and the decode
cost per extra instance. Without weights on this machine it times a randomly initialised model of the real
hiera-tiny architecture (random weights cost the same arithmetic as real ones) and says so.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import segment  # noqa: E402
from core.loading import load_image  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402

DEFAULT_CROWDS = DEFAULT_DATA.parent / "data_boxes" / "facemask_kaggle"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def raw_mediapipe(rgb, fd, hands, clock=time.perf_counter) -> float:
    t = clock()
    fd.process(rgb)
    hands.process(rgb)
    return (clock() - t) * 1000


def cpu_ms(fn, *args, **kwargs) -> float:
    """CPU time of the whole process (all its threads) while `fn` runs: the work a call costs, which other
    processes on a busy machine change far less than its wall time (raw MediaPipe is sequential, so its CPU time
    is about its wall time on an idle machine; segment() works on both cores, so its CPU time is an upper bound
    of its idle wall time)."""
    t = time.process_time()
    fn(*args, **kwargs)
    return (time.process_time() - t) * 1000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--backend", default="landmarks")
    ap.add_argument("--per-source", type=int, default=10, help="photos per source (0 = all)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per photo (median kept)")
    ap.add_argument("--crowds", default=str(DEFAULT_CROWDS), help="a folder of crowd photos (its images/ folder)")
    ap.add_argument("--crowd-photos", type=int, default=20, help="crowd photos timed (0 = none)")
    ap.add_argument("--examples", action="store_true", help="also time each photo of examples/, a column each")
    args = ap.parse_args(argv)

    import mediapipe as mp

    fd = mp.solutions.face_detection.FaceDetection(model_selection=1)
    hands = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=6)
    by_source = defaultdict(list)
    for s in samples(args.data):
        if not args.per_source or len(by_source[s.source]) < args.per_source:
            by_source[s.source].append(s)
    photos = [(s.source, s.image, "1-2 people") for group in by_source.values() for s in group]
    crowd_dir = Path(args.crowds) / "images"
    if args.crowd_photos and crowd_dir.is_dir():
        photos += [("crowds", p, "crowds") for p in sorted(crowd_dir.iterdir())[:args.crowd_photos]]

    if args.examples:
        photos += [(p.stem[:16], p, p.stem[:16]) for p in sorted(EXAMPLES.glob("*.jpg"))]
    sam2_note = prepare_sam2() if args.backend == "sam2" else ""
    sam2_photos = [s for group in by_source.values() for s in group]

    first = load_image(photos[0][1])
    t = time.perf_counter()
    segment(first, backend=args.backend)
    cold_ms = (time.perf_counter() - t) * 1000
    raw_mediapipe(first, fd, hands)

    rows = defaultdict(list)
    for source, image, group in photos:
        path = str(image)
        rgb = load_image(path)
        raw = np.median([raw_mediapipe(rgb, fd, hands) for _ in range(args.repeat)])
        runs = [segment(path, backend=args.backend).timings for _ in range(args.repeat)]
        stages = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        raw_cpu = float(np.median([raw_mediapipe(rgb, fd, hands, time.process_time) for _ in range(args.repeat)]))
        seg_cpu = float(np.median([cpu_ms(segment, path, backend=args.backend) for _ in range(args.repeat)]))
        keys = (source, group) if source != group else (source,)
        for key in keys:
            for k, v in stages.items():
                rows[(key, k)].append(v)
            rows[(key, "raw mediapipe")].append(raw)
            rows[(key, "ratio")].append(stages["total"] / raw)
            rows[(key, "cpu: segment")].append(seg_cpu)
            rows[(key, "cpu: raw")].append(raw_cpu)
            rows[(key, "cpu ratio")].append(seg_cpu / max(raw_cpu, 1e-3))
            rows[(key, "megapixels")].append(rgb.shape[0] * rgb.shape[1] / 1e6)

    stage_names = [k for k in runs[0] if k != "total"] + ["total", "raw mediapipe", "ratio", "cpu: segment",
                                                          "cpu: raw", "cpu ratio", "megapixels"]
    sources = list(by_source) + ["1-2 people"] + (["crowds"] if rows[("crowds", "total")] else [])
    sources += [source for source, _, group in photos if source == group and source != "crowds"]
    print(f"backend={args.backend}  photos={len(photos)}  repeat={args.repeat}  cold first call={cold_ms:.0f} ms")
    print(f"{'stage (median ms)':18}" + "".join(f"{s[:16]:>18}" for s in sources))
    for k in stage_names:
        print(f"{k:18}" + "".join(f"{np.median(rows[(s, k)]):>18.2f}" for s in sources))
    if args.backend == "sam2":
        sam2_rows(sam2_photos, by_source, args.repeat, sam2_note)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


RANDOM_SAM2 = "random hiera-tiny (benchmark only: random weights)"


def prepare_sam2() -> str:
    """Use real SAM2 weights if they are on this machine, else a random model of the real hiera-tiny shape."""
    from core.backends import sam2

    ready, why = sam2.Sam2Backend().available()
    if ready:
        return f"SAM2 weights: {sam2.model_id()}"
    if sam2.missing_dependencies():
        raise SystemExit(f"sam2: {why}")
    from transformers import Sam2Config, Sam2Model

    sam2.install(RANDOM_SAM2, Sam2Model(Sam2Config()))  # Sam2Config() defaults are hiera-tiny's shape
    os.environ["SAM2_MODEL"] = RANDOM_SAM2
    return f"SAM2 weights: {RANDOM_SAM2} ({why})"


def sam2_rows(photos, by_source, repeat: int, note: str) -> None:
    """Median ms per photo of the image embedding and of one batched decode of all its instances."""
    import torch

    from core.backends import sam2
    from core.detect import DetectOptions, detect
    from core.masks.prompts import build_prompts

    backend, loaded = sam2.Sam2Backend(), sam2.load(sam2.model_id())
    rows = defaultdict(list)
    biggest = None
    for s in photos:
        rgb = load_image(str(s.image))
        prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape)
        embs = [backend.embed(loaded, rgb) for _ in range(repeat)]
        dec = []
        for _ in range(repeat):
            t = time.perf_counter()
            backend.decode(loaded, embs[-1], prompts)
            dec.append((time.perf_counter() - t) * 1000)
        for key in (s.source, "ALL"):
            rows[(key, "sam2 embed")].append(float(np.median([e.ms for e in embs])))
            rows[(key, "embed (min)")].append(float(min(e.ms for e in embs)))
            rows[(key, "sam2 decode all")].append(float(np.median(dec)) if prompts else 0.0)
            rows[(key, "decode all (min)")].append(float(min(dec)) if prompts else 0.0)
            rows[(key, "instances")].append(len(prompts))
        if prompts and (biggest is None or rgb.size > biggest[0].size):
            biggest = (rgb, prompts, embs[-1])
    sources = list(by_source) + ["ALL"]
    print(f"\n{note}; device {loaded.device}, torch threads {torch.get_num_threads()}")
    print(f"{'sam2 (median ms)':18}" + "".join(f"{s[:16]:>18}" for s in sources))
    # min rows: the best of `repeat` runs, a steadier figure than the median when other work shares the cores
    for k in ("sam2 embed", "embed (min)", "sam2 decode all", "decode all (min)", "instances"):
        print(f"{k:18}" + "".join(f"{np.median(rows[(s, k)]):>18.2f}" for s in sources))
    if biggest:  # cost of each extra instance: decode 1, 2, 4, 8 prompts on the largest photo
        rgb, prompts, emb = biggest
        sizes, ms = [1, 2, 4, 8], []
        for n in sizes:
            batch = (prompts * n)[:n]
            runs = []
            for _ in range(max(repeat, 3)):
                t = time.perf_counter()
                backend.decode(loaded, emb, batch)
                runs.append((time.perf_counter() - t) * 1000)
            ms.append(float(min(runs)))
        slope = np.polyfit(sizes, ms, 1)[0]
        h, w = rgb.shape[:2]
        print(f"decode {w}x{h} (best of {max(repeat, 3)}), instances "
              + ", ".join(f"{n}: {m:.0f} ms" for n, m in zip(sizes, ms))
              + f"  -> {slope:.1f} ms per extra instance")


if __name__ == "__main__":
    main()
