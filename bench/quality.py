"""Mask quality on the shared labelled photos, per source and class, for each backend and the box baseline.

    python -m bench.quality [--data ../shared/data] [--backends landmarks] [--sources egohands,...] [--per-photo]
                            [--show DIR] [--photos PATH ...]

Two tables, one for faces and one for hands; a row is a source and a method: a backend, `box-1.5x` (the peers'
answer: each detection's 1.5x box, filled) or `truth` (the labels themselves, scored where that makes sense).

Exact sources (`_face`, `_hand` masks), per class on the union of predicted masks of that kind:
  iou    mean IoU with the truth.
  bF     mean boundary F (`bench.mask_metrics.boundary_f`, the DAVIS contour measure): how much of the predicted
         outline lies within 0.8% of the photo diagonal of the true outline and the reverse, harmonic mean. It sees
         a lost finger or a ragged hairline that IoU, ruled by the mask's bulk, hardly notices.
  miss   photos where the truth has the class and nothing of that kind was predicted.
FASSEG sources (`_skin`, `_features`; skin includes neck and ears, so no exact face): `found` = share of photos
with a face predicted, `precision` = share of predicted face pixels on skin, `coverage` = share of the eyes, nose
and mouth covered.

hand found: labelled hands found / labelled hands. A photo's hand mask is split into connected components (one per
hand; hands that touch count as one), components under 0.1% of the photo are specks and ignored, and a hand is
found when the union of predicted hand masks covers at least 30% of it. An IoU over the union of all hands can
stay high while a small hand is missed; this column does not.

Skeleton (hand sources), per predicted hand with MediaPipe's 21 landmarks (the box baseline's boxes carry their
detection's landmarks): skeleton kept = `core.masks.skeleton.skeleton_coverage(mask, landmarks, within=truth)`,
the share of points along the hand's 20 bones inside its mask, counting only points the label says are hand (a
predicted hand the label does not know is skipped). `skel` is its mean, `skel min` its minimum and `skel<0.95`
how many hands keep less than 0.95 of their bones, of how many. A hand can score a high IoU with a finger cut off;
it cannot keep its skeleton.

web, spill, edge miss (`bench.hand_errors`): per photo, the share of its union of labelled and predicted hand
pixels that is predicted but not labelled inside the predicted hands' landmark hulls (webbing between fingers,
mostly), predicted but not labelled outside them (a neck, a held card, skin around the hand), and labelled but
missed outside them (finger sides, tips, the wrist); mean over photos. With what is missed inside the hulls
(about nil) they add up to 1 - IoU.
wrist, wrist lab: median over predicted hands the label knows of how far the hand's mask, and the labelled hand
holding most of its bone points, run behind the wrist landmark, in palm lengths (`bench.hand_errors.wrist_reach`).
on edge, lab edge: where the predicted and labelled hand outlines lie beyond bF's tolerance apart, the mean edge
strength of the photo (0-1) along ours and along the label's (`bench.hand_errors.edges_where_apart`); mean over
photos. The outline on the edges is the one that follows the hand: a low `on edge` beside a high `lab edge` is our
error, the other way round the label's.

straight: mean over masks of that kind of the straight-edge figure (`bench.edges`: share of the outline, off the
photo border, on axis-parallel runs longer than a quarter of the box side). The `truth` rows score each
ground-truth component of the exact sources the same way, as the reference for outlines drawn by people.

--per-photo: one line per hand photo for the first backend: hands labelled, found, hand IoU, hand boundary F, the
smallest skeleton kept of its hands and its web, spill and edge-miss shares.
--show DIR: for each photo, DIR/<source>/<stem>.png (see `bench.overlays`: the first backend's masks, the true
outline in white, each hand's bone points green inside its mask, red outside) and each instance's cut-out beside
it as <stem>__<label>.png.
--photos PATH ...: also segment these unlabelled photos with the first backend and print, per hand, the skeleton
kept (within nothing: every bone point counts); with --show, their overlays and cut-outs go to DIR/photos/.
"""
from __future__ import annotations

import argparse
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import segment  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402
from core.masks.skeleton import skeleton_coverage, skeleton_points  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402
from .edges import straight_edge_share  # noqa: E402
from .hand_errors import edges_where_apart, error_shares, wrist_reach  # noqa: E402
from .mask_metrics import boundary_f, boundary_tolerance, iou, union_of  # noqa: E402
from .overlays import hand_landmarks, write_cutouts, write_overlay  # noqa: E402

BOX = "box-1.5x"
TRUTH = "truth"
EXACT_CLASSES = ("face", "hand")  # classes whose masks are drawn outlines (FASSEG skin includes neck and ears)
SPECK_SHARE = 0.001  # a ground-truth component smaller than this share of the photo is a labelling speck
HAND_FOUND_COVER = 0.3  # a labelled hand is found when predicted hand masks cover this share of it
SKELETON_KEPT = 0.95  # a hand keeping less of its skeleton than this has lost part of a finger (or more)


@dataclass
class BoxInstance:
    """One box of the baseline, shaped like a `core.types.Instance` where the scores look."""

    kind: str
    label: str
    mask: np.ndarray
    landmarks: np.ndarray
    landmark_kind: str


def components(mask) -> list:
    """The mask's connected components (8-connected) larger than a speck, one bool mask each."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    min_area = SPECK_SHARE * mask.size
    parts = [labels == i for i in range(1, n)]
    return [p for p in parts if p.sum() >= min_area]


def box_baseline(rgb) -> list:
    """The peers' answer: each detection's 1.5x expanded rectangle, filled."""
    prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape, 1.5)
    out = []
    for p in prompts:
        m = np.zeros(rgb.shape[:2], bool)
        x0, y0, x1, y1 = p.expanded_box
        m[y0:y1, x0:x1] = True
        d = p.detection
        out.append(BoxInstance(d.kind, f"{d.kind}-{p.index + 1}", m, d.landmarks, d.landmark_kind))
    return out


def masks_of(pred: list, kind: str) -> list:
    return [inst.mask for inst in pred if inst.kind == kind]


def skeleton_kept(pred: list, truth_hand) -> list:
    """Skeleton kept by each predicted hand with 21 landmarks, counting the bone points inside `truth_hand`
    (None: all); hands with no point that counts are left out."""
    out = []
    for inst in pred:
        lm = hand_landmarks(inst)
        if lm is not None:
            kept = skeleton_coverage(inst.mask, lm, within=truth_hand)
            if kept is not None:
                out.append(kept)
    return out


def score_sample(sample, pred: list, shape, stats, rgb=None):
    """Add one photo's scores for one method to `stats` (key -> list of values); `rgb`, the photo, for the edge
    columns."""
    stats[("photo", "n")].append(1.0)
    for cls in EXACT_CLASSES:
        if cls in sample.masks:
            truth = sample.mask(cls)
            p = union_of(shape, masks_of(pred, cls))
            stats[(cls, "iou")].append(iou(p, truth))
            stats[(cls, "bF")].append(boundary_f(p, truth))
            stats[(cls, "miss")].append(float(truth.any() and not p.any()))
    if "hand" in sample.masks:
        truth = sample.mask("hand")
        p = union_of(shape, masks_of(pred, "hand"))
        for hand in components(truth):
            stats[("hand", "found")].append(float((p & hand).sum() / hand.sum() >= HAND_FOUND_COVER))
        stats[("hand", "skel")].extend(skeleton_kept(pred, truth))
        add_hand_errors(stats, pred, truth)
        apart = edges_where_apart(p, truth, rgb, boundary_tolerance(shape)) if rgb is not None else None
        if apart is not None:
            stats[("hand", "on edge")].append(apart[0])
            stats[("hand", "lab edge")].append(apart[1])
    if "skin" in sample.masks:
        skin, feat = sample.mask("skin"), sample.mask("features")
        p = union_of(shape, masks_of(pred, "face"))
        found = p.any()
        stats[("face", "found")].append(float(found))
        if found:
            stats[("face", "precision")].append(float((p & skin).sum() / p.sum()))
            stats[("face", "coverage")].append(float((p & feat).sum() / max(feat.sum(), 1)))
        else:
            stats[("face", "coverage")].append(0.0)
    for inst in pred:
        add_straight(stats, inst.kind, inst.mask)


def add_hand_errors(stats, pred: list, truth):
    """The photo's error shares by kind (`bench.hand_errors`) against the predicted hands' landmark hull, and each
    predicted hand's wrist reach beside its label's (the labelled component holding most of its bone points)."""
    hands = [(inst, hand_landmarks(inst)) for inst in pred]
    hands = [(inst, lm) for inst, lm in hands if lm is not None]
    p = union_of(truth.shape, masks_of(pred, "hand"))
    shares = error_shares(p, truth, [lm for _, lm in hands])
    if shares is not None:
        for name in ("web", "spill", "edge miss"):
            stats[("hand", name)].append(shares[name])
    parts = components(truth)
    for inst, lm in hands:
        pts = np.floor(skeleton_points(lm)).astype(int)
        h, w = truth.shape
        pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
        held = [part[pts[:, 1], pts[:, 0]].sum() for part in parts]
        if not held or max(held) == 0:
            continue  # a hand the label does not know
        ours, theirs = wrist_reach(inst.mask, lm), wrist_reach(parts[int(np.argmax(held))], lm)
        if ours is not None and theirs is not None:
            stats[("hand", "wrist")].append(ours)
            stats[("hand", "wrist lab")].append(theirs)


def score_truth(sample, stats):
    """The reference row: the straight-edge figure of each ground-truth component of the exact classes."""
    exact = [cls for cls in EXACT_CLASSES if cls in sample.masks]
    if not exact:
        return
    stats[("photo", "n")].append(1.0)
    for cls in exact:
        for part in components(sample.mask(cls)):
            add_straight(stats, cls, part)


def add_straight(stats, kind, mask):
    share = straight_edge_share(mask)
    if share is not None:
        stats[(kind, "straight")].append(share)


def per_photo_hands(sample, pred: list, shape) -> dict:
    """One hand photo's line for --per-photo."""
    truth = sample.mask("hand")
    p = union_of(shape, masks_of(pred, "hand"))
    hands = components(truth)
    found = sum((p & h).sum() / h.sum() >= HAND_FOUND_COVER for h in hands)
    kept = skeleton_kept(pred, truth)
    shares = error_shares(p, truth, [lm for lm in map(hand_landmarks, pred) if lm is not None]) or {}
    return {"source": sample.source, "stem": sample.stem, "labelled": len(hands), "found": int(found),
            "iou": iou(p, truth), "bF": boundary_f(p, truth), "skel_min": min(kept) if kept else None,
            "web": shares.get("web", 0.0), "spill": shares.get("spill", 0.0),
            "edge": shares.get("edge miss", 0.0)}


def truth_outline_mask(sample):
    """Union of the exact classes' labels (the white outline of an overlay), or None when the photo has none."""
    exact = [sample.mask(cls) for cls in EXACT_CLASSES if cls in sample.masks]
    return union_of(exact[0].shape, exact) if exact else None


def run(data_dir, backends, sources=None, show_dir=None):
    """Score every photo; returns ({(source, method): stats}, per-photo hand lines for the first backend).
    With `show_dir`, writes the first backend's overlays and cut-outs there."""
    table = defaultdict(lambda: defaultdict(list))  # (source, method) -> stats
    hand_lines = []
    for s in samples(data_dir, sources):
        rgb = load_image(s.image)
        preds = {BOX: box_baseline(rgb)}
        results = {}
        for b in backends:
            results[b] = segment(rgb, backend=b, draw=False)
            preds[b] = results[b].instances
        for method, pred in preds.items():
            score_sample(s, pred, rgb.shape[:2], table[(s.source, method)], rgb)
        score_truth(s, table[(s.source, TRUTH)])
        if "hand" in s.masks and backends:
            hand_lines.append(per_photo_hands(s, preds[backends[0]], rgb.shape[:2]))
        if show_dir and backends:
            r = results[backends[0]]
            folder = Path(show_dir) / s.source
            write_overlay(folder / f"{s.stem}.png", r.image, r.instances, truth_outline_mask(s))
            write_cutouts(folder, s.stem, r)
    return {k: v for k, v in table.items() if v}, hand_lines


def run_photos(paths, backend, show_dir=None):
    """Segment unlabelled photos; print each hand's skeleton kept (every bone point counts) and, with
    `show_dir`, write overlays and cut-outs under show_dir/photos."""
    print(f"\nUnlabelled photos ({backend}): skeleton kept per hand (its mask's share of its bone points in the photo)")
    print(f"{'photo':44} {'instance':18} {'skel':>6} {'off mask':>9}")
    for path in paths:
        path = Path(path)
        r = segment(load_image(path), backend=backend, draw=False)
        hands = [inst for inst in r.instances if hand_landmarks(inst) is not None]
        print(f"{path.stem:44} {r.found()}")
        for inst in hands:
            lm = hand_landmarks(inst)
            kept = skeleton_coverage(inst.mask, lm)
            counted = _points_in_photo(lm, inst.mask.shape)
            cell = "-" if kept is None else f"{kept:.3f}"
            off = counted - round((kept or 0.0) * counted)
            print(f"{'':44} {inst.label:18} {cell:>6} {f'{off}/{counted}':>9}")
        if show_dir:
            folder = Path(show_dir) / "photos"
            write_overlay(folder / f"{path.stem}.png", r.image, r.instances)
            write_cutouts(folder, path.stem, r)


def _points_in_photo(landmarks, shape) -> int:
    """How many of the skeleton's points `skeleton_coverage` counts without `within`: those inside the photo."""
    pts = np.floor(skeleton_points(landmarks))
    return int(((pts[:, 0] >= 0) & (pts[:, 0] < shape[1]) & (pts[:, 1] >= 0) & (pts[:, 1] < shape[0])).sum())


FACE_COLUMNS = [("face", "iou"), ("face", "bF"), ("face", "miss"), ("face", "found"), ("face", "precision"),
                ("face", "coverage"), ("face", "straight")]
HAND_COLUMNS = [("hand", "iou"), ("hand", "bF"), ("hand", "miss"), ("hand", "found"), ("hand", "skel"),
                ("hand", "skel min"), ("hand", f"skel<{SKELETON_KEPT}"), ("hand", "straight"), ("hand", "web"),
                ("hand", "spill"), ("hand", "edge miss"), ("hand", "wrist"), ("hand", "wrist lab"), ("hand", "on edge"),
                ("hand", "lab edge")]
_FROM_SKEL = {"skel min", f"skel<{SKELETON_KEPT}"}  # columns computed from the ("hand", "skel") values


def print_tables(table):
    print_table(table, "Faces", FACE_COLUMNS)
    print()
    print_table(table, "Hands", HAND_COLUMNS)


def print_table(table, title, cols, width=10):
    """One row per (source, method) with a score in `cols`; the straight-edge figure alone makes a row for the
    `truth` reference only (masks of a class the photos carry no label for are not this table's business)."""
    def shown(method, stats):
        scored = [c for c in cols if _values(stats, c)]
        return any(c[1] != "straight" for c in scored) or (method == TRUTH and bool(scored))

    rows = [(k, stats) for k, stats in sorted(table.items()) if shown(k[1], stats)]
    if not rows:
        return
    head = f"{title:16} {'method':9} {'n':>4} " + " ".join(f"{c[1]:>{width}}" for c in cols)
    print(head)
    print("-" * len(head))
    for (source, method), stats in rows:
        n = len(stats[("photo", "n")])
        cells = [f"{_cell(stats, c):>{width}}" for c in cols]
        print(f"{source:16} {method:9} {n:>4} " + " ".join(cells))


def _values(stats, col) -> list:
    return stats.get(("hand", "skel"), []) if col[1] in _FROM_SKEL else stats.get(col, [])


def _cell(stats, col) -> str:
    v = _values(stats, col)
    if not v:
        return ""
    name = col[1]
    if name == "miss":
        return f"{int(sum(v))}"
    if col == ("hand", "found"):
        return f"{int(sum(v))}/{len(v)}"
    if name in ("wrist", "wrist lab"):
        return f"{np.median(v):.2f}"
    if name == "skel min":
        return f"{min(v):.3f}"
    if name == f"skel<{SKELETON_KEPT}":
        return f"{sum(x < SKELETON_KEPT for x in v)}/{len(v)}"
    return f"{np.mean(v):.3f}"


def print_hand_lines(lines, method):
    print(f"\nPer hand photo ({method}):")
    print(f"{'source':16} {'stem':40} {'labelled':>8} {'found':>6} {'hand IoU':>8} {'hand bF':>8} {'skel min':>8} "
          f"{'web':>6} {'spill':>6} {'edge':>6}")
    for ln in lines:
        skel = "-" if ln["skel_min"] is None else f"{ln['skel_min']:.3f}"
        print(f"{ln['source']:16} {ln['stem']:40} {ln['labelled']:>8} {ln['found']:>6} {ln['iou']:>8.3f} "
              f"{ln['bF']:>8.3f} {skel:>8} {ln['web']:>6.3f} {ln['spill']:>6.3f} {ln['edge']:>6.3f}")
    labelled, found = sum(ln["labelled"] for ln in lines), sum(ln["found"] for ln in lines)
    mins = [ln["skel_min"] for ln in lines if ln["skel_min"] is not None]
    print(f"{'all':16} {'':40} {labelled:>8} {found:>6} {np.mean([ln['iou'] for ln in lines]):>8.3f} "
          f"{np.mean([ln['bF'] for ln in lines]):>8.3f} {(f'{min(mins):.3f}' if mins else '-'):>8}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--backends", default="landmarks", help="comma-separated backend names")
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    ap.add_argument("--per-photo", action="store_true",
                    help="also print one line per hand photo (labelled, found, IoU, bF, skel min), first backend")
    ap.add_argument("--show", metavar="DIR", default=None,
                    help="write overlays and cut-outs to DIR/<source>/ (first backend)")
    ap.add_argument("--photos", nargs="+", metavar="PATH", default=[],
                    help="also segment these unlabelled photos: skeleton kept per hand (overlays with --show)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sources = [s for s in args.sources.split(",") if s] or None
    backends = [b for b in args.backends.split(",") if b]
    table, hand_lines = run(args.data, backends, sources, args.show)
    print_tables(table)
    if args.per_photo and hand_lines:
        print_hand_lines(hand_lines, backends[0])
    if args.photos and backends:
        run_photos(args.photos, backends[0], args.show)


if __name__ == "__main__":
    main()
