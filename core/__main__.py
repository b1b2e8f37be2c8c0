"""Command line: `python -m core PATH_OR_DIR... --out DIR [--format png,coco] [--workers N] [--backend NAME]`.

Photos named directly go to DIR/<file name>/ (suffix kept: a.jpg -> DIR/a.jpg/); folders are walked and mirrored
(DIR/<relative path>/). Each photo folder holds result.json, and per `--format`: annotated.png and
masks/<label>.png (png), coco.json (coco), masks.zip (zip); with `--cutouts` cutouts/<label>.png (each face and
hand on a transparent background, also in masks.zip), with `--anonymise faces|hands|all` anonymised.png. With coco,
DIR/coco.json holds every photo. Photos already done (result.json made from the same file, size and time stamp,
with every output asked for) are skipped, so an interrupted run resumes where it stopped. Ctrl-C stops at once:
half-written folders are removed, DIR/coco.json lists what is done, exit code 130. Videos (named, or found in
folders) go to DIR/<file name>/ too, as annotated.mp4, coco.json (one image per frame) and result.json, plus masks
and an anonymised video on request (core/video/batch.py).

Every message is one line on stderr. Exit codes: 0 all done, 1 some photos failed (the others were processed),
2 a usage error (bad option or --out; nothing was processed), 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class UsageError(Exception):
    """A bad command line: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints the usage block and the error on two or more lines
        raise UsageError(f"{message} (see python -m core --help)")


def _parser():
    from .batch import default_workers

    ap = _Parser(prog="python -m core", description="Mask every face and hand in photos.")
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
    ap.add_argument("--max-hands", type=float, default=6)
    ap.add_argument("--box-scale", type=float, default=1.5)
    ap.add_argument("--cutouts", action="store_true",
                    help="photos: also write cutouts/<label>.png, each face and hand on a transparent background")
    from .video.batch import add_arguments as add_video_arguments

    add_video_arguments(ap)
    return ap


def check_out(out: str) -> None:
    """--out must be a folder we can create files in (not a file, not /proc or /sys)."""
    from pathlib import Path

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"--out {out} is not a folder we can write to ({exc.strerror or type(exc).__name__}).")


def main(argv=None) -> int:
    try:
        return _main(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        counts = getattr(exc, "counts", None)
        line = "interrupted"
        if counts:
            line += (f": {counts['done']} done, {counts['failed']} failed, {counts['cancelled']} not done "
                     f"(partial folders removed)")
            if "coco" in counts:
                line += f"; COCO for those done: {counts['coco']}"
        print(line, file=sys.stderr)
        return 130


def _main(argv) -> int:
    args = _parser().parse_args(argv)
    from tqdm import tqdm

    from . import backends
    from .batch import find_jobs, parse_formats, run_batch
    from .options import check_options
    from .video.batch import run_videos, split_paths

    try:
        formats = parse_formats(args.format)
        if args.backend not in ("", "auto"):
            backends.get(args.backend)  # an unknown name fails here, before any worker starts
        opts = check_options(min_confidence=args.min_confidence, max_hands=args.max_hands, box_scale=args.box_scale)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.workers < 1:
        raise UsageError(f"--workers must be 1 or more (got {args.workers}).")
    check_out(args.out)

    def report(line: str, error: bool = False) -> None:
        tqdm.write(line, file=sys.stderr if error else sys.stdout)

    video_jobs, photo_paths = split_paths(args.paths, args.out)
    jobs = find_jobs(photo_paths, args.out)
    video_jobs, _ = split_paths(args.paths, args.out, taken={j.name for j in jobs})
    t0 = time.perf_counter()
    vcounts = run_videos(video_jobs, args.out, resume=not args.overwrite, masks=args.masks,
                         anonymise=args.anonymise, anonymise_style=args.anonymise_style, max_seconds=args.max_seconds,
                         progress=args.progress, report=report, backend=args.backend, **opts)
    if video_jobs:
        print(f"{vcounts['total']} videos: {vcounts['done']} done, {vcounts['skipped']} already done, "
              f"{vcounts['failed']} failed")
        if not jobs:
            return 1 if vcounts["failed"] else 0
    try:
        counts = run_batch(jobs, args.out, formats, workers=args.workers, resume=not args.overwrite,
                           progress=args.progress, report=report, cutouts=args.cutouts, anonymise=args.anonymise,
                           anonymise_style=args.anonymise_style, backend=args.backend, **opts)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # the output folder vanished or filled up under us
        print(f"error: {exc.strerror or type(exc).__name__}: {exc.filename or args.out}", file=sys.stderr)
        return 1
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
