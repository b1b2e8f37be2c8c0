"""Command line: `python -m core PATH_OR_DIR... --out DIR [--format png,coco] [--workers N] [--backend NAME]`.

Videos (named or found in folders) go to DIR/<stem>/ as annotated.mp4, coco.json, result.json (core/video_batch.py).

Photos named directly go to DIR/<stem>/; folders are walked and mirrored (DIR/<relative path without suffix>/).
Each photo folder holds result.json, and per `--format`: annotated.png and masks/<label>.png (png), coco.json
(coco), masks.zip (zip). With coco, DIR/coco.json holds every photo. Photos already done are skipped, so an
interrupted run resumes where it stopped. Unreadable inputs get a one-line message on stderr; the others are still
processed; the exit code is 1 (2 for a bad option).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    from .batch import default_workers, find_jobs, parse_formats, run_batch

    ap = argparse.ArgumentParser(prog="python -m core", description="Mask every face and hand in photos.")
    ap.add_argument("paths", nargs="+", help="photos and/or folders of photos (walked recursively)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--format", default="png,coco",
                    help="comma-separated: png (annotated.png + masks/*.png), coco (coco.json), zip (masks.zip); "
                         "default png,coco")
    ap.add_argument("--workers", type=int, default=default_workers(), help="processes (default: all cores)")
    ap.add_argument("--overwrite", action="store_true", help="redo photos that are already done")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="progress bar (default: on a terminal only)")
    ap.add_argument("--backend", default="auto", help="auto (default), landmarks, or a model backend")
    ap.add_argument("--min-confidence", type=float, default=0.5)
    ap.add_argument("--max-hands", type=int, default=6)
    ap.add_argument("--box-scale", type=float, default=1.5)
    from .video_batch import add_arguments as add_video_arguments, run_videos, split_paths

    add_video_arguments(ap)
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from . import backends

    try:
        formats = parse_formats(args.format)
        if args.backend not in ("", "auto"):
            backends.get(args.backend)  # an unknown name fails here, before any worker starts
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def report(line: str, error: bool = False) -> None:
        tqdm.write(line, file=sys.stderr if error else sys.stdout)

    video_jobs, photo_paths = split_paths(args.paths, args.out)
    jobs = find_jobs(photo_paths, args.out)
    video_jobs, _ = split_paths(args.paths, args.out, taken={j.name for j in jobs})
    t0 = time.perf_counter()
    vcounts = run_videos(video_jobs, args.out, resume=not args.overwrite, masks=args.masks,
                         anonymise=args.anonymise, anonymise_style=args.anonymise_style, max_seconds=args.max_seconds,
                         progress=args.progress, report=report, backend=args.backend,
                         min_confidence=args.min_confidence, max_hands=args.max_hands, box_scale=args.box_scale)
    if video_jobs:
        print(f"{vcounts['total']} videos: {vcounts['done']} done, {vcounts['skipped']} already done, "
              f"{vcounts['failed']} failed")
        if not jobs:
            return 1 if vcounts["failed"] else 0
    try:
        counts = run_batch(jobs, args.out, formats, workers=max(1, args.workers), resume=not args.overwrite,
                           progress=args.progress, report=report, backend=args.backend,
                           min_confidence=args.min_confidence, max_hands=args.max_hands, box_scale=args.box_scale)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    rate = counts["done"] / seconds if seconds > 0 else 0.0
    line = (f"{counts['total']} photos: {counts['done']} done, {counts['skipped']} already done, "
            f"{counts['failed']} failed in {seconds:.1f} s ({rate:.2f} photos/s)")
    if "coco" in counts:
        line += f"; COCO for all: {counts['coco']}"
    print(line)
    return 1 if counts["failed"] or vcounts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
