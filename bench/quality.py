"""Mask quality on the shared labelled photos, per source and class, for each backend and the box baseline.

    python -m bench.quality --data ../shared/data [--backends landmarks] [--sources egohands,...]

Exact sources (`_face`, `_hand` masks): mean IoU of the union of predicted masks of that kind with the truth, and
misses (truth present, nothing predicted). FASSEG sources (`_skin`, `_features`): face precision (share of
predicted face pixels on skin), feature coverage (share of eyes+nose+mouth covered) and found rate.
"""
from __future__ import annotations

import argparse
import logging
import os
from collections import defaultdict

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import segment  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.prompts import build_prompts  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402

BOX = "box-1.5x"


def iou(a, b) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 1.0


def union_of(shape, masks) -> np.ndarray:
    out = np.zeros(shape, bool)
    for m in masks:
        out |= m
    return out


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
    for cls in ("face", "hand"):
        if cls in sample.masks:
            truth = sample.mask(cls)
            p = union_of(shape, pred.get(cls, []))
            stats[(cls, "iou")].append(iou(p, truth))
            stats[(cls, "miss")].append(float(truth.any() and not p.any()))
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


def run(data_dir, backends, sources=None):
    table = defaultdict(lambda: defaultdict(list))  # (source, method) -> stats
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
    return table


def print_table(table):
    cols = [("face", "iou"), ("face", "miss"), ("hand", "iou"), ("hand", "miss"), ("face", "found"),
            ("face", "precision"), ("face", "coverage")]
    head = f"{'source':18} {'method':10} {'n':>4} " + " ".join(f"{c[0] + ' ' + c[1]:>14}" for c in cols)
    print(head)
    print("-" * len(head))
    for (source, method), stats in sorted(table.items()):
        n = max(len(v) for v in stats.values())
        cells = []
        for c in cols:
            v = stats.get(c)
            if not v:
                cells.append(f"{'':>14}")
            elif c[1] == "miss":
                cells.append(f"{int(sum(v)):>14d}")
            else:
                cells.append(f"{np.mean(v):>14.3f}")
        print(f"{source:18} {method:10} {n:>4} " + " ".join(cells))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--backends", default="landmarks", help="comma-separated backend names")
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sources = [s for s in args.sources.split(",") if s] or None
    print_table(run(args.data, [b for b in args.backends.split(",") if b], sources))


if __name__ == "__main__":
    main()
