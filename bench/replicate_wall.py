"""Wall time per photo against the fake Replicate server: the seed's procedure versus ours.

Seed: a prediction per detected box (the same whole photo each time: its `input_boxes` is not an input of the
model), a 5 s sleep between calls, every candidate mask downloaded twice, one after another, then the
rectangle-IoU choice. Ours: one prediction per photo, each mask downloaded once by a bounded parallel pool, then
the landmark choice. Both go through the real `replicate` client over HTTP on 127.0.0.1.

    python -m bench.replicate_wall [--scale 0.15] [--sources egohands,...] [--limit N]

`--scale 1` is the real-world timing (2 s per prediction, 0.1 s per mask download, 5 s sleeps); the default
scales every service time and sleep by 0.1 so the run takes about a minute; the ratio barely depends on it.
"""
from __future__ import annotations

import argparse
import io
import os
import time

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import httpx  # noqa: E402
import replicate  # noqa: E402,F401  (imported up front so neither procedure pays for it)
from PIL import Image  # noqa: E402

from core.backends.base import Candidates  # noqa: E402
from core.backends.replicate import SAM_SIDE, ReplicateBackend, _data_uri, _fit  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402
from core.masks.selection import choose, make_exclusive, rectangle_choice  # noqa: E402
from tests.fake_replicate import FakeReplicate, Plan, Scene  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402
from .selection import scene_for  # noqa: E402

SEED_MODEL = "lucataco/segment-anything-2:be7cbde9fdf0eecdc8b52e8a04d6a3c9d39b5e8f8a0b3e6e5e5c5b5a59a5c5a5"
PREDICT_S, DOWNLOAD_S, SLEEP_S = 2.0, 0.1, 5.0


def seed_procedure(rgb, prompts, base_url: str, token: str, sleep_s: float) -> list:
    import replicate

    client = replicate.Client(api_token=token, base_url=base_url)
    image = _data_uri(rgb)
    chosen = []
    with httpx.Client(timeout=30) as http:
        for k, p in enumerate(prompts):
            if k:
                time.sleep(sleep_s)
            out = client.run(SEED_MODEL, input={"image": image, "input_boxes": [list(p.expanded_box)]})
            urls = [str(getattr(o, "url", o)) for o in out]
            masks = [np.asarray(Image.open(io.BytesIO(http.get(u).content)).convert("L")) > 127 for u in urls]
            chosen.append(rectangle_choice(p, masks))
            for u in urls:  # the seed fetched every candidate a second time to save it
                http.get(u).content
    return chosen


def ours(rgb, prompts, base_url: str, token: str) -> list:
    os.environ["REPLICATE_BASE_URL"] = base_url
    cands: Candidates = ReplicateBackend().propose(rgb, prompts, replicate_token=token)
    return make_exclusive(prompts, [m for m, _ in choose(prompts, cands, rgb)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--scale", type=float, default=0.1, help="multiplies prediction, download and sleep times")
    ap.add_argument("--sources", default="egohands,hand_over_face,celebamask_hq")
    ap.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    args = ap.parse_args(argv)
    predict_s, download_s, sleep_s = PREDICT_S * args.scale, DOWNLOAD_S * args.scale, SLEEP_S * args.scale
    print(f"prediction {predict_s:.2f} s, download {download_s:.3f} s per mask, seed sleep {sleep_s:.2f} s")
    print(f"{'photo':22} {'regions':>7} {'masks':>6} {'seed s':>8} {'ours s':>8} {'ratio':>7}")
    rows = []
    photos = samples(args.data, [s for s in args.sources.split(",") if s])
    photos = photos[: args.limit] if args.limit else photos
    for s in photos:
        rgb = load_image(s.image)
        prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape, 1.5)
        if not prompts:
            continue
        regions, _, _ = scene_for(s, rgb, prompts, seed=0)
        scene = Scene(regions)
        times = {}
        for name, shape in (("seed", "list"), ("ours", "dict")):
            plan = Plan(service_s=predict_s, download_s=download_s, output_shape=shape)
            with FakeReplicate(plan, scene) as fake:
                fake.files_for(rgb.shape if name == "seed" else _fit(rgb, SAM_SIDE).shape)  # warm, untimed
                t = time.perf_counter()
                if name == "seed":
                    seed_procedure(rgb, prompts, fake.base_url, plan.token, sleep_s)
                else:
                    ours(rgb, prompts, fake.base_url, plan.token)
                times[name] = time.perf_counter() - t
                n_masks = next(iter(fake.predictions.values()))["n"]
        rows.append((len(prompts), times["seed"], times["ours"]))
        print(f"{s.source + '/' + s.stem:22} {len(prompts):>7} {n_masks:>6} {times['seed']:>8.2f} "
              f"{times['ours']:>8.2f} {times['seed'] / times['ours']:>6.1f}x")
    many = [r for r in rows if r[0] >= 3]
    ratio = lambda rs: sum(r[1] for r in rs) / sum(r[2] for r in rs)  # noqa: E731
    print(f"total: seed {sum(r[1] for r in rows):.1f} s, ours {sum(r[2] for r in rows):.1f} s, "
          f"ratio {ratio(rows):.1f}x; photos with 3+ regions: {len(many)}, ratio "
          f"{ratio(many) if many else float('nan'):.1f}x; slowest photo ratio {min(r[1] / r[2] for r in rows):.1f}x")


if __name__ == "__main__":
    main()
