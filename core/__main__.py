"""Command line: `python -m core PATH... --out DIR [--backend NAME]`.

Writes DIR/<stem>/annotated.png, DIR/<stem>/masks/<label>.png and DIR/<stem>/result.json per photo.
Unreadable inputs get a one-line message on stderr; the others are still processed; the exit code is 1.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core", description="Mask every face and hand in photos.")
    ap.add_argument("paths", nargs="+", help="photos")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--backend", default="auto", help="auto (default), landmarks, or a model backend")
    ap.add_argument("--min-confidence", type=float, default=0.5)
    ap.add_argument("--max-hands", type=int, default=6)
    ap.add_argument("--box-scale", type=float, default=1.5)
    args = ap.parse_args(argv)

    from . import ImageLoadError, segment
    from .export import write_result

    failures = 0
    used = set()
    for p in args.paths:
        path = Path(p)
        stem = path.stem
        while stem in used:  # two photos with one stem (a.jpg, a.png) must not overwrite each other
            stem += "_"
        try:
            result = segment(path, backend=args.backend, min_confidence=args.min_confidence,
                             max_hands=args.max_hands, box_scale=args.box_scale)
        except ImageLoadError as exc:
            print(f"{p}: {exc}", file=sys.stderr)
            failures += 1
            continue
        except ValueError as exc:  # e.g. an unknown backend name: the same for every photo
            print(f"error: {exc}", file=sys.stderr)
            return 2
        used.add(stem)
        out = write_result(result, Path(args.out) / stem, source_name=str(path))
        print(f"{p}: {result.summary()} -> {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
