"""Detection recall per box size on the box-labelled photos, for the product and for raw MediaPipe, in one run.

    python -m bench.recall [--data ../shared/data_boxes] [--sources egohands_csv,facemask_kaggle] [--limit N]
                           [--misses misses.json] [--raw-hand-complexity 0[,1]] [--centerface 0.35@1,0.5@1]

Why: mask scores on a few photos hide detection misses; recall on many boxed photos, next to what MediaPipe alone
finds on the same photos, says whether the product's detection adds to MediaPipe or loses what it found.

Methods, each on every photo of the source's kind (faces or hands):
- product: `core.segment(path, backend="landmarks", draw=False)`, its instances of that kind (box and mask).
- blazeface: BlazeFace short and full range (`FaceDetection` model_selection 0 and 1, confidence 0.5), merged (a
  detection overlapping an already kept one at box IoU > 0.5 is the same face).
- centerface@T@S: CenterFace alone (`core.detect.centerface`) at threshold T on the photo scaled by S.
- raw (hand sources): `Hands` (static mode, 6 hands, confidence 0.5, model_complexity 0 unless told), each hand's
  box around its 21 landmarks.
A raw detection's box, filled, stands in for its mask.

Face methods run on hand photos too: `faces on hands` counts predicted faces whose box centre lies in a labelled
hand box (a fist or a hand around a chess piece called a face). On face sources, `unmatched/photo` counts predicted
faces that match no labelled box (IoU < 0.3 and mask cover < 0.3): false faces where the source boxes every face,
partly unlabelled real faces where it does not (`complete: false`).

Found: a labelled box is found when an instance of its kind has box IoU >= 0.3 with it, or that instance's mask
covers >= 30% of the box. Recall is split by the box's shorter side: < 32, 32-64, 64-128, >= 128 px.

False positives (only on sources whose photos have every instance boxed, `complete: true`): a predicted instance
is false when it touches no labelled box, i.e. for every box its box IoU is < 0.1, its mask covers < 30% of the box,
and less than half of its mask lies inside the box. A second prediction on an already found instance is therefore
not counted as false (it lies on a labelled box).

ms: median wall time per photo, decoding the file included for both methods (the product takes the path).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.data import SHARED  # noqa: E402
from core import segment  # noqa: E402
from core.detect.centerface import centerface_faces  # noqa: E402
from core.detect.geometry import box_iou  # noqa: E402
from core.loading import load_image  # noqa: E402

DEFAULT_BOX_DATA = SHARED / "data_boxes"

FOUND_IOU = 0.3  # box IoU that makes a prediction and a labelled box the same instance
FOUND_COVER = 0.3  # or: share of the labelled box that the prediction's mask covers
FALSE_IOU = 0.1  # below this IoU with every box (and little mask on any box) a prediction is a false positive
FALSE_INSIDE = 0.5  # share of a prediction's own mask inside a box that makes it "on" that box
SIZE_BUCKETS = ((0, 32, "<32"), (32, 64, "32-64"), (64, 128, "64-128"), (128, float("inf"), ">=128"))
FACE_DUPLICATE_IOU = 0.5  # two BlazeFace ranges reporting the same face


@dataclass
class BoxedPhoto:
    source: str
    stem: str
    image: Path
    kind: str  # "face" | "hand"
    boxes: list  # [(x0, y0, x1, y1), ...] pixels
    complete: bool  # every instance of `kind` is boxed


@dataclass
class Prediction:
    box: tuple  # (x0, y0, x1, y1) pixels
    mask: np.ndarray  # bool HxW


def boxed_photos(data_dir=DEFAULT_BOX_DATA, sources=None, limit=0) -> list:
    """The photos of `data_dir` (layout in its MANIFEST.md), optionally only some sources, at most `limit` each."""
    out = []
    for src in sorted(p for p in Path(data_dir).iterdir() if (p / "boxes").is_dir()):
        if sources and src.name not in sources:
            continue
        labels = sorted((src / "boxes").glob("*.json"))
        for label in labels[:limit or None]:
            meta = json.loads(label.read_text())
            image = next((src / "images").glob(f"{label.stem}.*"))
            out.append(BoxedPhoto(src.name, label.stem, image, meta["kind"],
                                  [tuple(float(v) for v in b) for b in meta["boxes"]], bool(meta["complete"])))
    return out


def size_bucket(box) -> str:
    side = min(box[2] - box[0], box[3] - box[1])
    return next(name for lo, hi, name in SIZE_BUCKETS if lo <= side < hi)


def pixel_box(box, shape) -> tuple:
    """Integer slice bounds of a float box, clipped to the photo, at least one pixel wide and high."""
    h, w = shape
    x0, y0 = min(max(int(np.floor(box[0])), 0), w - 1), min(max(int(np.floor(box[1])), 0), h - 1)
    x1, y1 = max(min(int(np.ceil(box[2])), w), x0 + 1), max(min(int(np.ceil(box[3])), h), y0 + 1)
    return x0, y0, x1, y1


def filled(box, shape) -> np.ndarray:
    m = np.zeros(shape, bool)
    x0, y0, x1, y1 = pixel_box(box, shape)
    m[y0:y1, x0:x1] = True
    return m


def cover(mask, box) -> float:
    """Share of `box` covered by `mask`."""
    x0, y0, x1, y1 = pixel_box(box, mask.shape)
    return float(mask[y0:y1, x0:x1].mean())


def inside(mask, box) -> float:
    """Share of `mask` lying inside `box`."""
    area = mask.sum()
    if not area:
        return 0.0
    x0, y0, x1, y1 = pixel_box(box, mask.shape)
    return float(mask[y0:y1, x0:x1].sum() / area)


def match(truth_box, pred: Prediction) -> tuple:
    """(box IoU, share of the labelled box covered by the prediction's mask): the two ways to count as found."""
    return box_iou(truth_box, pred.box), cover(pred.mask, truth_box)


def is_false_positive(pred: Prediction, boxes) -> bool:
    return all(box_iou(b, pred.box) < FALSE_IOU and cover(pred.mask, b) < FOUND_COVER
               and inside(pred.mask, b) < FALSE_INSIDE for b in boxes)


class RawMediaPipe:
    """MediaPipe alone, as a naive pipeline would call it: the reference the product must not fall below."""

    def __init__(self, hand_complexities=(0,), centerface=((0.5, 1.0),)):
        import mediapipe as mp

        self.centerface = tuple(centerface)
        fd = mp.solutions.face_detection
        self.face_ranges = [fd.FaceDetection(model_selection=m, min_detection_confidence=0.5) for m in (0, 1)]
        self.hands = {c: mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=6, model_complexity=c,
                                                  min_detection_confidence=0.5) for c in hand_complexities}

    def face_methods(self) -> dict:
        """Method name -> function(rgb) -> face boxes."""
        out = {"blazeface": self.face_boxes}
        for conf, scale in self.centerface:
            out[f"centerface@{conf:g}@{scale:g}"] = (
                lambda rgb, conf=conf, scale=scale: [f[0] for f in centerface_faces(rgb, conf, scale)])
        return out

    def hand_methods(self) -> dict:
        """Method name -> function(rgb) -> hand boxes."""
        if len(self.hands) == 1:
            return {"raw": lambda rgb: self.hand_boxes(rgb, next(iter(self.hands)))}
        return {f"raw-c{c}": (lambda rgb, c=c: self.hand_boxes(rgb, c)) for c in self.hands}

    def face_boxes(self, rgb) -> list:
        h, w = rgb.shape[:2]
        found = []  # (score, box)
        for graph in self.face_ranges:
            for d in graph.process(rgb).detections or []:
                r = d.location_data.relative_bounding_box
                box = (r.xmin * w, r.ymin * h, (r.xmin + r.width) * w, (r.ymin + r.height) * h)
                found.append((d.score[0], box))
        kept = []
        for _, box in sorted(found, key=lambda f: -f[0]):
            if all(box_iou(box, k) <= FACE_DUPLICATE_IOU for k in kept):
                kept.append(box)
        return kept

    def hand_boxes(self, rgb, complexity) -> list:
        h, w = rgb.shape[:2]
        out = []
        for lm in self.hands[complexity].process(rgb).multi_hand_landmarks or []:
            xs = [p.x * w for p in lm.landmark]
            ys = [p.y * h for p in lm.landmark]
            out.append((min(xs), min(ys), max(xs), max(ys)))
        return out


def product_predictions(photo: BoxedPhoto) -> dict:
    """The product's instances, per kind, as a user would get them (from the file path)."""
    r = segment(str(photo.image), backend="landmarks", draw=False)
    out = {"face": [], "hand": []}
    for i in r.instances:
        out[i.kind].append(Prediction(tuple(float(v) for v in i.box), i.mask))
    return out


def faces_on_hands(faces: list, hand_boxes) -> int:
    """Predicted faces whose box centre lies in a labelled hand box."""
    def on(p, b):
        cx, cy = (p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2
        return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]
    return sum(any(on(p, b) for b in hand_boxes) for p in faces)


def score_photo(photo, preds, stats, misses=None):
    """Add one photo's found/total per size bucket and its false positives to `stats`; list misses if asked."""
    for box in photo.boxes:
        bucket = size_bucket(box)
        matches = [match(box, p) for p in preds]
        found = any(iou >= FOUND_IOU or cov >= FOUND_COVER for iou, cov in matches)
        stats["total", bucket] += 1
        stats["found", bucket] += found
        if not found and misses is not None:
            misses.append({
                "photo": str(photo.image), "source": photo.source, "stem": photo.stem, "kind": photo.kind,
                "box": [round(v, 1) for v in box], "size": round(min(box[2] - box[0], box[3] - box[1]), 1),
                "bucket": bucket,
                "best_iou": round(max((m[0] for m in matches), default=0.0), 3),
                "best_cover": round(max((m[1] for m in matches), default=0.0), 3),
            })
    stats["photos"] += 1
    if photo.complete:
        stats["false"] += sum(is_false_positive(p, photo.boxes) for p in preds)
    stats["unmatched"] += sum(not any(iou >= FOUND_IOU or cov >= FOUND_COVER for iou, cov in
                                      (match(b, p) for b in photo.boxes)) for p in preds)


def run(photos, raw_complexities=(0,), misses=None, progress=False, centerface=((0.5, 1.0),)):
    """Score every photo with every method; returns ({(source, method): stats}, {(source, method): [ms, ...]}).

    A face method on a hand photo only counts its faces on hands (stats["photos"] and ["on_hands"])."""
    raw = RawMediaPipe(raw_complexities, centerface)
    table = defaultdict(lambda: defaultdict(int))
    times = defaultdict(list)
    for n, photo in enumerate(photos, 1):
        t = time.perf_counter()
        preds = product_predictions(photo)
        times[photo.source, "product"].append((time.perf_counter() - t) * 1000)
        score_photo(photo, preds[photo.kind], table[photo.source, "product"], misses)
        if photo.kind == "hand":
            table[photo.source, "product"]["on_hands"] += faces_on_hands(preds["face"], photo.boxes)
        methods = raw.face_methods() if photo.kind == "face" else {**raw.hand_methods(), **raw.face_methods()}
        for name, raw_boxes in methods.items():
            t = time.perf_counter()
            rgb = load_image(photo.image)
            boxes = raw_boxes(rgb)
            times[photo.source, name].append((time.perf_counter() - t) * 1000)
            preds = [Prediction(b, filled(b, rgb.shape[:2])) for b in boxes]
            if photo.kind == "hand" and name in raw.face_methods():
                table[photo.source, name]["photos"] += 1
                table[photo.source, name]["on_hands"] += faces_on_hands(preds, photo.boxes)
            else:
                score_photo(photo, preds, table[photo.source, name])
        if progress and n % 20 == 0:
            print(f"  {n}/{len(photos)} photos", file=sys.stderr, flush=True)
    return table, times


def hint_recovery(misses: list) -> dict:
    """Per source: (recovered, tried): each missed box of 32 px or more, hinted at its centre, as a user clicking
    a missed face or hand would (`segment(..., hints=[centre])`); recovered when the box is then found."""
    out = defaultdict(lambda: [0, 0])
    for m in misses:
        if m["size"] < 32:
            continue
        x0, y0, x1, y1 = m["box"]
        r = segment(m["photo"], backend="landmarks", draw=False, hints=[((x0 + x1) / 2, (y0 + y1) / 2)])
        preds = [Prediction(tuple(float(v) for v in i.box), i.mask) for i in r.instances if i.kind == m["kind"]]
        found = any(iou >= FOUND_IOU or cov >= FOUND_COVER for iou, cov in (match(m["box"], p) for p in preds))
        out[m["source"]][0] += found
        out[m["source"]][1] += 1
    return out


def print_table(table, times, complete_sources, hand_sources=()):
    """One row per (source, method): recall by size, false positives per photo where every instance is boxed,
    unmatched predictions per photo, faces on hands (hand sources) and the median ms per photo."""
    buckets = [name for _, _, name in SIZE_BUCKETS]
    head = (f"{'source':16} {'method':20} {'photos':>6} " + " ".join(f"{b:>17}" for b in buckets)
            + f" {'all':>17} {'FP/photo':>8} {'unmatched/photo':>15} {'faces on hands':>14} {'ms':>6}")
    print(head)
    print("-" * len(head))
    for (source, method), s in sorted(table.items()):
        cells = [_recall_cell(s["found", b], s["total", b]) for b in buckets]
        found = sum(s["found", b] for b in buckets)
        total = sum(s["total", b] for b in buckets)
        fp = f"{s['false'] / s['photos']:>8.2f}" if source in complete_sources and total else f"{'-':>8}"
        unmatched = f"{s['unmatched'] / s['photos']:>15.2f}" if total else f"{'-':>15}"
        on_hands = f"{s['on_hands']:>14}" if source in hand_sources and (total == 0 or method == "product") \
            else f"{'-':>14}"
        print(f"{source:16} {method:20} {s['photos']:>6} " + " ".join(cells)
              + f" {_recall_cell(found, total)} {fp} {unmatched} {on_hands} {np.median(times[source, method]):>6.0f}")


def _recall_cell(found, total) -> str:
    if not total:
        return f"{'-':>17}"
    return f"{found / total:>5.1%} ({found:>3}/{total:>3})".rjust(17)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_BOX_DATA))
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="photos per source (0 = all)")
    ap.add_argument("--misses", default="", help="write the product's missed boxes to this JSON file")
    ap.add_argument("--raw-hand-complexity", default="0",
                    help="Hands model_complexity for the raw reference; '0,1' reports both")
    ap.add_argument("--centerface", default="0.5@1",
                    help="CenterFace alone at THRESHOLD@SCALE, comma-separated (e.g. 0.35@1,0.35@2)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--hints", action="store_true",
                    help="also hint each missed box (32 px or more) at its centre and report how many are recovered")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    sources = [s for s in args.sources.split(",") if s] or None
    photos = boxed_photos(args.data, sources, args.limit)
    if not photos:
        sys.exit(f"No boxed photos under {args.data}.")
    complexities = tuple(int(c) for c in args.raw_hand_complexity.split(",") if c)
    misses = [] if args.misses or args.hints else None
    centerface = [tuple(float(v) for v in c.split("@")) for c in args.centerface.split(",") if c]
    table, times = run(photos, complexities, misses, progress=not args.quiet, centerface=centerface)
    print_table(table, times, {p.source for p in photos if p.complete}, {p.source for p in photos if p.kind == "hand"})
    if args.misses:
        Path(args.misses).write_text("[\n" + ",\n".join(json.dumps(m) for m in misses) + "\n]\n")  # one miss a line
        print(f"\n{len(misses)} missed boxes written to {args.misses}")
    if args.hints:
        print()
        for source, (recovered, tried) in sorted(hint_recovery(misses).items()):
            print(f"{source:16} a hint at the centre of a missed box (>= 32 px) recovers it: "
                  f"{_recall_cell(recovered, tried).strip()}")


if __name__ == "__main__":
    main()
