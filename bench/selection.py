"""Choosing SAM 2 candidates: the peers' rectangle-IoU rule versus our landmark judge, per class, on the shared
photos' realistic candidate sets (tests/fake_replicate.py builds them from ground truth plus distractors and
degrades them like SAM's automatic mask generator). Also measures what to send: the whole photo or a mosaic of
expanded crops (one prediction either way).

    python -m bench.selection [--data ../shared/data] [--seeds 3] [--sources egohands,...]

Columns: mean IoU with ground truth of the union of chosen masks per class; `best` is the best IoU any single
candidate reaches per ground-truth instance (the candidates' quality, before choosing).
"""
from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.backends.base import Candidates  # noqa: E402
from core.backends.replicate import SAM_SIDE, MosaicLayout, _fit  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402
from core.masks.selection import choose, make_exclusive, rectangle_choice  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402
from .mask_metrics import iou, union_of  # noqa: E402

from tests.fake_replicate import instances_of, realistic_regions, simulate_sam  # noqa: E402


def scene_for(sample, rgb, prompts, seed: int) -> list:
    """Realistic regions for one photo. Photos without face truth get their detected faces' priors (minus the
    true hands) as the face in the scene, so hands still meet face+hand blobs; those faces are not scored."""
    shape = rgb.shape[:2]
    hand_truth = sample.mask("hand") if "hand" in sample.masks else np.zeros(shape, bool)
    if "face" in sample.masks:
        faces = instances_of(sample.mask("face"))
    else:
        faces = [p.prior & ~hand_truth for p in prompts if p.detection.kind == "face" and (p.prior & ~hand_truth).any()]
    return realistic_regions(faces, instances_of(hand_truth), shape, seed=seed)


def whole_candidates(rgb, regions, seed) -> list:
    sent = _fit(rgb, SAM_SIDE)
    masks = simulate_sam([r for _, r in regions], sent.shape, seed=seed)
    h, w = rgb.shape[:2]
    import cv2
    return [cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0 for m in masks]


def mosaic_candidates(rgb, prompts, regions, seed) -> list:
    layout = MosaicLayout(rgb.shape, [p.expanded_box for p in prompts], SAM_SIDE)
    sent_shape = (layout.rows * layout.cell, layout.cols * layout.cell)
    masks = simulate_sam([layout.compose(r) for _, r in regions], sent_shape, seed=seed)
    per_prompt = [[] for _ in prompts]
    for m in masks:
        for i, piece in layout.split(m):
            per_prompt[i].append(piece)
    return per_prompt


def best_single(truth_instances, cands) -> list:
    return [max((iou(c, t) for c in cands), default=0.0) for t in truth_instances]


def run(data_dir, seeds: int, sources=None) -> dict:
    stats = defaultdict(list)  # (class, method) -> IoUs
    for s in samples(data_dir, sources):
        if not any(c in s.masks for c in ("face", "hand")):
            continue
        rgb = load_image(s.image)
        prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape, 1.5)
        for seed in range(seeds):
            regions = scene_for(s, rgb, prompts, seed)
            whole = whole_candidates(rgb, regions, seed)
            mosaic = mosaic_candidates(rgb, prompts, regions, seed) if prompts else []
            methods = {
                "rectangle": [rectangle_choice(p, whole) if whole else p.prior for p in prompts],
                "ours-whole": _ours(prompts, Candidates(per_prompt=[[] for _ in prompts], shared=whole)),
                "ours-mosaic": _ours(prompts, Candidates(per_prompt=mosaic)),
                "prior": [p.prior for p in prompts],
            }
            for cls in ("face", "hand"):
                if cls not in s.masks:
                    continue
                truth = s.mask(cls)
                for name, masks in methods.items():
                    pred = [m for p, m in zip(prompts, masks) if p.detection.kind == cls and m is not None]
                    stats[(cls, name)].append(iou(union_of(truth.shape, pred), truth))
                inst = instances_of(truth)
                stats[(cls, "best-whole")] += best_single(inst, whole)
                stats[(cls, "best-mosaic")] += best_single(inst, [m for ms in mosaic for m in ms])
                # Per detected instance, against the true instance its prior overlaps most (detection misses
                # and false alarms are bench.quality's business, not the chooser's).
                for i, p in enumerate(prompts):
                    overlap = [int((g & p.prior).sum()) for g in inst]
                    if p.detection.kind != cls or not overlap or max(overlap) == 0:
                        continue
                    g = inst[int(np.argmax(overlap))]
                    for name, masks in methods.items():
                        stats[(cls, "inst:" + name)].append(iou(masks[i], g))
    return stats


def _ours(prompts, cands) -> list:
    picked = choose(prompts, cands)
    return make_exclusive(prompts, [m for m, _ in picked])


def print_table(stats: dict) -> None:
    methods = ["rectangle", "ours-whole", "ours-mosaic", "prior"]
    for title, prefix, extra in (("per detected instance (IoU with the true instance it overlaps)", "inst:", []),
                                 ("per photo (IoU of the class union; detection misses included)", "",
                                  ["best-whole", "best-mosaic"])):
        print(title)
        cols = methods + extra
        print(f"  {'class':6} {'n':>4} " + " ".join(f"{m:>12}" for m in cols) + f" {'ours-rect':>10}")
        for cls in ("face", "hand"):
            key = (cls, prefix + "rectangle")
            if not stats.get(key):
                continue
            vals = {m: float(np.mean(stats[(cls, (prefix if m in methods else "") + m)])) for m in cols}
            ours = max(vals["ours-whole"], vals["ours-mosaic"])
            print(f"  {cls:6} {len(stats[key]):>4} " + " ".join(f"{vals[m]:>12.3f}" for m in cols)
                  + f" {ours - vals['rectangle']:>+10.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--seeds", type=int, default=3, help="candidate sets per photo (distractor draws)")
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all with exact masks)")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    stats = run(args.data, args.seeds, [s for s in args.sources.split(",") if s] or None)
    print_table(stats)
    print(f"({time.perf_counter() - t:.0f} s; n counts photo or instance x seed; best-* = best single candidate "
          "per true instance, i.e. the candidates' quality before choosing)")


if __name__ == "__main__":
    main()
