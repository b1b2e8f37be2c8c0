"""Choosing Segment Anything's masks: our landmark-and-photo judge against the seed's rectangle rule and against
the best choice possible (the oracle), per source and class, on the shared photos' realistic candidate sets.

`tests/fake_replicate.py` builds, for each labelled face and hand, the exact mask beside what SAM's automatic mode
really offers around it (the object grown by a rim of background, its filled box, halves, a hand's filled hull and
its palm and fingers as pieces, hand with forearm, face with neck or hair, the whole person, background pieces),
degraded like SAM's own output. Three ways a backend meets them:

- `whole`: Replicate on the whole photo (one shared pool of candidates for every instance);
- `mosaic`: Replicate on a mosaic of the instances' expanded crops (candidates per instance);
- `sam2`: the local backend's three multimask outputs per prompt (a part, the object, something larger), with
  model scores that do not know which is right.

    python -m bench.selection [--data ../shared/data] [--seeds 3] [--sources egohands,...] [--whole-prob 1.0]
                              [--kinds issue] [--losses 0.1]

`--kinds issue` offers on the Replicate paths only the kinds issue 28's own fake offers beside the exact masks (rim,
box, halves, face plus neck, background); `--kinds rim,box` any others.

Per detected instance, IoU with the true instance its prior overlaps most (detection misses are bench.quality's
business, not the chooser's). `oracle` = the best single candidate or union of candidates that lie inside the true
instance; `seed` = the candidate with the highest IoU with the 1.5x box (the seed's rule). The confusion table says
what the chosen mask is: the exact mask, a union that rebuilds it, or which distractor won.
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.backends.replicate import SAM_SIDE, MosaicLayout, _fit  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402
from core.masks.selection import choose, make_exclusive, rectangle_choice, within_wrist  # noqa: E402
from core.types import Candidates  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402
from .mask_metrics import iou  # noqa: E402

from tests.fake_replicate import instances_of, realistic_regions, simulate_sam_named  # noqa: E402

PATHS = ("whole", "mosaic", "sam2")
EXACT = 0.95  # a chosen mask this close (IoU) to the true instance is the exact one


def scene_for(sample, rgb, prompts, seed: int, whole_prob: float = 1.0) -> tuple:
    """(regions, faces, hands) for one photo: realistic named regions and the true instances they were built from.
    Photos without face truth get their detected faces' priors (minus the true hands) as the face in the scene, so
    hands still meet face+hand blobs; those faces are not scored."""
    shape = rgb.shape[:2]
    hand_truth = sample.mask("hand") if "hand" in sample.masks else np.zeros(shape, bool)
    if "face" in sample.masks:
        faces = instances_of(sample.mask("face"))
    else:
        faces = [p.prior & ~hand_truth for p in prompts if p.detection.kind == "face" and (p.prior & ~hand_truth).any()]
    hands = instances_of(hand_truth)
    return realistic_regions(faces, hands, shape, seed=seed, whole_prob=whole_prob), faces, hands


def _to_photo(masks, shape) -> list:
    h, w = shape[:2]
    return [(n, cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0) for n, m in masks]


def whole_candidates(rgb, regions, seed) -> list:
    """[(name, mask)] Replicate returns for the whole photo, at photo size."""
    sent = _fit(rgb, SAM_SIDE)
    return _to_photo(simulate_sam_named(regions, sent.shape, seed=seed), rgb.shape)


def mosaic_candidates(rgb, prompts, regions, seed) -> list:
    """Per prompt, [(name, mask)] Replicate returns for a mosaic of the expanded crops, split back per prompt."""
    layout = MosaicLayout(rgb.shape, [p.expanded_box for p in prompts], SAM_SIDE)
    sent_shape = (layout.rows * layout.cell, layout.cols * layout.cell)
    per_prompt = [[] for _ in prompts]
    for name, m in simulate_sam_named([(n, layout.compose(r)) for n, r in regions], sent_shape, seed=seed):
        for i, piece in layout.split(m):
            per_prompt[i].append((name, piece))
    return per_prompt


LARGER = {"hand": ("hand:+arm", "hand:rim", "hand:box", "hand:hull", "person"),
          "face": ("face:+neck", "face:head", "face:rim", "face:box", "person")}
PARTS = ("top-half", "bottom-half", "piece")


def sam2_candidates(rgb, prompts, truth_of, seed) -> tuple:
    """Per prompt, SAM 2's three multimask outputs as the local backend gets them (a part, the object, something
    larger, in a random order, at the decoder's 256-cell resolution) and model scores that do not know which is
    right: ([[(name, mask)] * 3], [[score] * 3])."""
    rng = np.random.default_rng(1000 + seed)
    sent_shape = _fit(rgb, SAM_SIDE).shape  # the decoder's frame, the same for every prompt
    per_prompt, scores = [], []
    for p in prompts:
        g = truth_of(p)
        if g is None:
            per_prompt.append([])
            scores.append([])
            continue
        kind = p.detection.kind
        faces, hands = ([g], []) if kind == "face" else ([], [g])
        pool = realistic_regions(faces, hands, rgb.shape, seed=seed)
        parts = [r for r in pool if r[0].startswith(kind) and r[0].split(":")[1] in PARTS]
        larger = [r for r in pool if r[0] in LARGER[kind]]
        three = [(f"{kind}:exact", g)]
        three.append(parts[rng.integers(len(parts))] if parts else three[0])
        three.append(larger[rng.integers(len(larger))] if larger else three[0])
        three = [three[k] for k in rng.permutation(3)]
        per_prompt.append(_to_photo(simulate_sam_named(three, sent_shape, points_per_side=1024, seed=seed), rgb.shape))
        scores.append(list(rng.uniform(0.7, 1.0, len(per_prompt[-1]))))
    return per_prompt, scores


def oracle(g, cands) -> float:
    """The best a chooser could do: the best single candidate, or the union of every candidate that lies inside
    the true instance (pieces that rebuild it)."""
    best = max((iou(c, g) for c in cands), default=0.0)
    inside = [c for c in cands if c.any() and (c & g).sum() >= 0.9 * c.sum()]
    if inside:
        best = max(best, iou(np.logical_or.reduce(inside), g))
    return best


def what_won(chosen, g, named) -> str:
    """The chosen mask's kind: `exact` (IoU >= EXACT with the true instance), else the candidate it is closest to
    (`union` when no single candidate is)."""
    if iou(chosen, g) >= EXACT:
        return "exact"
    name, best = "union", 0.9
    for n, c in named:
        v = iou(chosen, c)
        if v > best:
            name, best = n.split(":")[-1], v
    return name


# The kinds of mask issue 28's own Replicate fake offers beside the exact ones (`--kinds issue`): the object grown by a
# rim, its filled box, its top or bottom half, face plus neck, the background.
ISSUE_KINDS = ("exact", "rim", "box", "top-half", "bottom-half", "+neck", "background")


def offered(named: list, kinds) -> list:
    """[(name, mask)] of the kinds asked for (a name's part after "hand:" / "face:"); all of them for None."""
    return named if kinds is None else [(n, m) for n, m in named if n.split(":")[-1] in kinds]


def run(data_dir, seeds: int, sources=None, whole_prob: float = 1.0, kinds=None) -> dict:
    """{(source, class, column): [IoU per detected instance x seed]} and {(class, path): Counter of what won}.
    `kinds`: offer only these kinds of candidate on the Replicate paths (whole, mosaic); None: all."""
    stats = defaultdict(list)
    won = defaultdict(Counter)
    losses = []  # (shortfall, path, source, photo, prompt, seed, what won, ours, oracle)
    ms = defaultdict(list)  # path -> ms per photo to choose every instance's mask
    for s in samples(data_dir, sources):
        if not any(c in s.masks for c in ("face", "hand")):
            continue
        rgb = load_image(s.image)
        prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape, 1.5)
        if not prompts:
            continue
        for seed in range(seeds):
            regions, faces, hands = scene_for(s, rgb, prompts, seed, whole_prob)
            truth = {"face": faces if "face" in s.masks else None, "hand": hands if "hand" in s.masks else None}

            def truth_of(p, _truth=truth, _faces=faces, _hands=hands):
                inst = _faces if p.detection.kind == "face" else _hands
                overlap = [int((g & p.prior).sum()) for g in inst]
                return inst[int(np.argmax(overlap))] if overlap and max(overlap) else None

            whole = offered(whole_candidates(rgb, regions, seed), kinds)
            mosaic = [offered(c, kinds) for c in mosaic_candidates(rgb, prompts, regions, seed)]
            sam2, sam2_scores = sam2_candidates(rgb, prompts, truth_of, seed)
            named = {"whole": [whole] * len(prompts), "mosaic": mosaic, "sam2": sam2}
            cands = {
                "whole": Candidates(per_prompt=[[] for _ in prompts], shared=[m for _, m in whole]),
                "mosaic": Candidates(per_prompt=[[m for _, m in c] for c in mosaic]),
                "sam2": Candidates(per_prompt=[[m for _, m in c] for c in sam2], scores=sam2_scores),
            }
            chosen = {}
            for path, c in cands.items():
                t0 = time.perf_counter()
                chosen[path] = _ours(prompts, c, rgb)
                ms[path].append(1000 * (time.perf_counter() - t0))
            for i, p in enumerate(prompts):
                cls = p.detection.kind
                if truth[cls] is None:
                    continue
                g = truth_of(p)
                if g is None:
                    continue
                for path in PATHS:
                    cands = [m for _, m in named[path][i]]
                    ours, best = iou(chosen[path][i], g), oracle(g, cands)
                    stats[(s.source, cls, "ours-" + path)].append(ours)
                    stats[(s.source, cls, "oracle-" + path)].append(best)
                    kind = what_won(chosen[path][i], g, named[path][i])
                    won[(cls, path)][kind] += 1
                    losses.append((best - ours, path, s.source, Path(s.image).name, i, seed, kind, ours, best))
                seed_rule = rectangle_choice(p, [m for _, m in whole]) if whole else p.prior
                stats[(s.source, cls, "seed")].append(iou(seed_rule, g))
                stats[(s.source, cls, "prior")].append(iou(p.prior, g))
    return {"iou": stats, "won": won, "ms": ms, "losses": sorted(losses, reverse=True)}


def _ours(prompts, cands, rgb) -> list:
    picked = choose(prompts, cands, rgb)
    masks = [within_wrist(p, m) for p, (m, _) in zip(prompts, picked)]  # as the pipeline does
    return make_exclusive(prompts, masks)


def print_table(result: dict) -> None:
    stats, won = result["iou"], result["won"]
    print("choosing, ms per photo (median / max): " + ", ".join(
        f"{p} {np.median(v):.0f} / {np.max(v):.0f}" for p, v in result["ms"].items() if v))
    cols = ["seed", "prior"] + [f"{k}-{p}" for p in PATHS for k in ("ours", "oracle")]
    print("mean IoU per detected instance (x seeds), with the true instance its prior overlaps most")
    print(f"  {'source':15} {'class':5} {'n':>4} " + " ".join(f"{c:>13}" for c in cols)
          + " " + " ".join(f"{'ours/or-' + p:>14}" for p in PATHS))
    keys = sorted({(src, cls) for src, cls, _ in stats})
    for cls in ("face", "hand"):
        rows = [k for k in keys if k[1] == cls] + [("all", cls)]
        for src, c in rows:
            vals = {}
            for col in cols:
                v = [x for (s2, c2, k), xs in stats.items() for x in xs
                     if c2 == c and k == col and (src == "all" or s2 == src)]
                vals[col] = float(np.mean(v)) if v else float("nan")
            n = len([x for (s2, c2, k), xs in stats.items() for x in xs
                     if c2 == c and k == "seed" and (src == "all" or s2 == src)])
            if not n:
                continue
            ratios = [vals[f"ours-{p}"] / vals[f"oracle-{p}"] if vals[f"oracle-{p}"] else float("nan") for p in PATHS]
            print(f"  {src:15} {c:5} {n:>4} " + " ".join(f"{vals[col]:>13.3f}" for col in cols)
                  + " " + " ".join(f"{r:>14.3f}" for r in ratios))
    print("what the chosen mask is (count of instances x seeds)")
    kinds = sorted({k for cnt in won.values() for k in cnt}, key=lambda k: (k != "exact", k))
    print(f"  {'class':5} {'path':7} " + " ".join(f"{k:>11}" for k in kinds))
    for (cls, path), cnt in sorted(won.items()):
        print(f"  {cls:5} {path:7} " + " ".join(f"{cnt.get(k, 0):>11}" for k in kinds))


def print_losses(result: dict, shortfall: float) -> None:
    """Every instance whose choice falls short of the oracle by more than `shortfall`, worst first: where to look."""
    rows = [x for x in result["losses"] if x[0] > shortfall]
    print(f"instances more than {shortfall} below the oracle ({len(rows)}): shortfall, path, photo, prompt, seed, "
          "what won, ours, oracle")
    for short, path, source, photo, i, seed, kind, ours, best in rows:
        print(f"  {short:.3f}  {path:6} {source:15} {photo:12} p{i} seed {seed}  {kind:11} {ours:.3f} {best:.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--seeds", type=int, default=3, help="candidate sets per photo (distractor draws)")
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all with exact masks)")
    ap.add_argument("--whole-prob", type=float, default=1.0,
                    help="chance the exact mask is offered whole (else only its pieces, which a union must join)")
    ap.add_argument("--kinds", default="", help="offer only these kinds on the Replicate paths, comma-separated "
                    "(rim, box, hull, +arm, piece, ...), or 'issue': those issue 28's fake offers (" +
                    ", ".join(ISSUE_KINDS) + ")")
    ap.add_argument("--losses", type=float, default=None, metavar="SHORTFALL",
                    help="also list every instance this much or more below the oracle (e.g. 0.1)")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    kinds = ISSUE_KINDS if args.kinds == "issue" else tuple(k for k in args.kinds.split(",") if k) or None
    if kinds is not None and "exact" not in kinds:
        kinds += ("exact",)
    result = run(args.data, args.seeds, [s for s in args.sources.split(",") if s] or None, args.whole_prob, kinds)
    print_table(result)
    if args.losses is not None:
        print_losses(result, args.losses)
    print(f"({time.perf_counter() - t:.0f} s; whole-prob {args.whole_prob})")


if __name__ == "__main__":
    main()
