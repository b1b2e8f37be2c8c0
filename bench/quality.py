"""Mask quality on the shared labelled photos, per source and class, for each backend and the box baseline.

    python -m bench.quality --data ../shared/data [--backends landmarks] [--sources egohands,...] [--per-photo]

Exact sources (`_face`, `_hand` masks): mean IoU of the union of predicted masks of that kind with the truth, and
misses (truth present, nothing predicted). FASSEG sources (`_skin`, `_features`): face precision (share of
predicted face pixels on skin), feature coverage (share of eyes+nose+mouth covered) and found rate.

hand found: labelled hands found / labelled hands. A photo's hand mask is split into connected components (one per
hand; hands that touch count as one), components under 0.1% of the photo are specks and ignored, and a hand is
found when the union of predicted hand masks covers at least 30% of it. An IoU over the union of all hands can
stay high while a small hand is missed; this column does not.

straight: mean over predicted instances of the straight-edge figure (`bench.edges`: share of the outline, off the
photo border, on axis-parallel runs longer than a quarter of the box side). The `truth` rows score each
ground-truth component of the exact sources the same way, as the reference for outlines drawn by people.

--per-photo: one line per hand photo for the first backend: hands labelled, hands found, hand IoU.
"""
from __future__ import annotations

import argparse
import logging
import os
from collections import defaultdict

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import segment  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402
from .edges import straight_edge_share  # noqa: E402

BOX = "box-1.5x"
TRUTH = "truth"
EXACT_CLASSES = ("face", "hand")  # classes whose masks are drawn outlines (FASSEG skin includes neck and ears)
SPECK_SHARE = 0.001  # a ground-truth component smaller than this share of the photo is a labelling speck
HAND_FOUND_COVER = 0.3  # a labelled hand is found when predicted hand masks cover this share of it


def iou(a, b) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 1.0


def union_of(shape, masks) -> np.ndarray:
    out = np.zeros(shape, bool)
    for m in masks:
        out |= m
    return out


def components(mask) -> list:
    """The mask's connected components (8-connected) larger than a speck, one bool mask each."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    min_area = SPECK_SHARE * mask.size
    parts = [labels == i for i in range(1, n)]
    return [p for p in parts if p.sum() >= min_area]


def box_baseline(rgb) -> dict:
    """The peers' answer: each detection's 1.5x expanded rectangle, filled."""
    prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape, 1.5)
    out = defaultdict(list)
    for p in prompts:
        m = np.zeros(rgb.shape[:2], bool)
        x0, y0, x1, y1 = p.expanded_box
        m[y0:y1, x0:x1] = True
        out[p.detection.kind].append(m)
    return out


def score_sample(sample, pred: dict, shape, stats):
    """Add one photo's scores for one method to `stats` (key -> list of values)."""
    stats[("photo", "n")].append(1.0)
    for cls in ("face", "hand"):
        if cls in sample.masks:
            truth = sample.mask(cls)
            p = union_of(shape, pred.get(cls, []))
            stats[(cls, "iou")].append(iou(p, truth))
            stats[(cls, "miss")].append(float(truth.any() and not p.any()))
    if "hand" in sample.masks:
        p = union_of(shape, pred.get("hand", []))
        for hand in components(sample.mask("hand")):
            stats[("hand", "found")].append(float((p & hand).sum() / hand.sum() >= HAND_FOUND_COVER))
    if "skin" in sample.masks:
        skin, feat = sample.mask("skin"), sample.mask("features")
        p = union_of(shape, pred.get("face", []))
        found = p.any()
        stats[("face", "found")].append(float(found))
        if found:
            stats[("face", "precision")].append(float((p & skin).sum() / p.sum()))
            stats[("face", "coverage")].append(float((p & feat).sum() / max(feat.sum(), 1)))
        else:
            stats[("face", "coverage")].append(0.0)
    for masks in pred.values():
        for m in masks:
            add_straight(stats, m)


def score_truth(sample, stats):
    """The reference row: the straight-edge figure of each ground-truth component of the exact classes."""
    exact = [cls for cls in EXACT_CLASSES if cls in sample.masks]
    if not exact:
        return
    stats[("photo", "n")].append(1.0)
    for cls in exact:
        for part in components(sample.mask(cls)):
            add_straight(stats, part)


def add_straight(stats, mask):
    share = straight_edge_share(mask)
    if share is not None:
        stats[("all", "straight")].append(share)


def per_photo_hands(sample, pred: dict, shape) -> dict:
    """One hand photo's line for --per-photo."""
    p = union_of(shape, pred.get("hand", []))
    hands = components(sample.mask("hand"))
    found = sum((p & h).sum() / h.sum() >= HAND_FOUND_COVER for h in hands)
    return {"source": sample.source, "stem": sample.stem, "labelled": len(hands), "found": int(found),
            "iou": iou(p, sample.mask("hand"))}


def run(data_dir, backends, sources=None):
    """Score every photo; returns ({(source, method): stats}, per-photo hand lines for the first backend)."""
    table = defaultdict(lambda: defaultdict(list))  # (source, method) -> stats
    hand_lines = []
    for s in samples(data_dir, sources):
        rgb = load_image(s.image)
        preds = {BOX: box_baseline(rgb)}
        for b in backends:
            r = segment(rgb, backend=b, draw=False)
            pred = defaultdict(list)
            for inst in r.instances:
                pred[inst.kind].append(inst.mask)
            preds[b] = pred
        for method, pred in preds.items():
            score_sample(s, pred, rgb.shape[:2], table[(s.source, method)])
        score_truth(s, table[(s.source, TRUTH)])
        if "hand" in s.masks and backends:
            hand_lines.append(per_photo_hands(s, preds[backends[0]], rgb.shape[:2]))
    return {k: v for k, v in table.items() if v}, hand_lines


def print_table(table):
    cols = [("face", "iou"), ("face", "miss"), ("hand", "iou"), ("hand", "miss"), ("hand", "found"),
            ("all", "straight"), ("face", "found"), ("face", "precision"), ("face", "coverage")]
    head = f"{'source':18} {'method':10} {'n':>4} " + " ".join(f"{_col_name(c):>14}" for c in cols)
    print(head)
    print("-" * len(head))
    for (source, method), stats in sorted(table.items()):
        n = len(stats[("photo", "n")])
        cells = []
        for c in cols:
            v = stats.get(c)
            if not v:
                cells.append(f"{'':>14}")
            elif c[1] == "miss":
                cells.append(f"{int(sum(v)):>14d}")
            elif c == ("hand", "found"):
                cells.append(f"{f'{int(sum(v))}/{len(v)}':>14}")
            else:
                cells.append(f"{np.mean(v):>14.3f}")
        print(f"{source:18} {method:10} {n:>4} " + " ".join(cells))


def _col_name(col) -> str:
    return "straight" if col == ("all", "straight") else f"{col[0]} {col[1]}"


def print_hand_lines(lines, method):
    print(f"\nPer hand photo ({method}):")
    print(f"{'source':18} {'stem':40} {'labelled':>8} {'found':>6} {'hand IoU':>8}")
    for ln in lines:
        print(f"{ln['source']:18} {ln['stem']:40} {ln['labelled']:>8} {ln['found']:>6} {ln['iou']:>8.3f}")
    labelled, found = sum(ln["labelled"] for ln in lines), sum(ln["found"] for ln in lines)
    print(f"{'all':18} {'':40} {labelled:>8} {found:>6} {np.mean([ln['iou'] for ln in lines]):>8.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--backends", default="landmarks", help="comma-separated backend names")
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    ap.add_argument("--per-photo", action="store_true",
                    help="also print one line per hand photo (labelled, found, IoU) for the first backend")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sources = [s for s in args.sources.split(",") if s] or None
    backends = [b for b in args.backends.split(",") if b]
    table, hand_lines = run(args.data, backends, sources)
    print_table(table)
    if args.per_photo and hand_lines:
        print_hand_lines(hand_lines, backends[0])


if __name__ == "__main__":
    main()
