"""Many photos: find them, skip the ones already done, segment the rest on every core, merge one COCO file.

`process_photo` is the unit of work: one photo in, its output folder written, a small summary out. The local
runner maps it over a process pool (each worker builds its own MediaPipe graphs once and reuses them); a
distributed engine such as Ray Data can map the very same function over a cluster (see README).

A photo's folder appears only when it is complete (written under a temporary name, then renamed), so an
interrupted run is resumed by running the same command again.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FORMATS = ("png", "coco", "zip")
FOLDER_COCO = "coco.json"


@dataclass(frozen=True)
class Job:
    """One photo and the name of its output folder (relative to the output root)."""

    path: str
    name: str
    file_name: str  # how the photo is named in the folder-wide COCO file


def parse_formats(text: str) -> tuple:
    """`"png,coco"` -> ("png", "coco"); unknown names are a ValueError with the choices."""
    items = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise ValueError(f"Unknown format {', '.join(bad) or repr(text)}. Choose from: {', '.join(FORMATS)}.")
    return items


def find_jobs(paths, out_dir) -> list:
    """Photos named directly keep their stem as folder name; folders are walked (sorted) and mirrored.

    Two photos that would share a folder name (a.jpg and a.png) get distinct, stable names. Anything under
    `out_dir` is skipped, so an output folder inside the input folder is not read back as input.
    """
    out = Path(out_dir).resolve()
    jobs, used = [], set()

    def add(path: Path, name: str, file_name: str):
        while name in used:
            name += "_"
        used.add(name)
        jobs.append(Job(str(path), name, file_name))

    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.suffix.lower() not in PHOTO_SUFFIXES or not f.is_file() or f.name.startswith("."):
                    continue
                if out == f.resolve() or out in f.resolve().parents:
                    continue
                rel = f.relative_to(path)
                add(f, rel.with_suffix("").as_posix(), rel.as_posix())
        else:
            add(path, path.stem, path.name)
    return jobs


def expected_files(formats) -> list:
    files = ["result.json"]
    if "png" in formats:
        files.append("annotated.png")
    if "coco" in formats:
        files.append("coco.json")
    if "zip" in formats:
        files.append("masks.zip")
    return files


def is_done(folder: Path, formats) -> bool:
    return all((folder / f).is_file() for f in expected_files(formats))


def process_photo(path: str, out_dir: str, formats=("png", "coco"), file_name: str = "", **options) -> dict:
    """Segment one photo and write its outputs into `out_dir` (created, replaced if incomplete).

    Returns a small JSON-ready summary: {"path", "out", "ok", "summary" | "error", "faces", "hands"}.
    Unusable photos are reported (`ok` False, one-sentence `error`), not raised, so one bad file never stops a
    batch; an unknown backend name still raises ValueError (it would fail for every photo).
    """
    from . import ImageLoadError, segment
    from .export import write_coco, write_result, write_zip

    final = Path(out_dir)
    try:
        result = segment(path, **options)
    except ImageLoadError as exc:
        return {"path": str(path), "out": str(final), "ok": False, "error": str(exc)}
    except ValueError:  # bad options (an unknown backend): the same for every photo, so the caller stops
        raise
    except Exception as exc:  # anything else is this photo's problem; the batch goes on
        return {"path": str(path), "out": str(final), "ok": False,
                "error": f"processing failed ({type(exc).__name__}: {exc})"}
    # Written under a temporary name, then moved in with result.json last: a folder with result.json is complete.
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    write_result(result, tmp, source_name=str(path), pngs="png" in formats)
    if "coco" in formats:
        write_coco(result, tmp / "coco.json", file_name=file_name or Path(path).name)
    if "zip" in formats:
        write_zip(tmp)
    final.mkdir(parents=True, exist_ok=True)
    (final / "result.json").unlink(missing_ok=True)
    for item in sorted(tmp.iterdir(), key=lambda f: f.name == "result.json"):
        target = final / item.name
        if target.is_dir():  # masks/ of an earlier, interrupted run
            shutil.rmtree(target)
        os.replace(item, target)
    tmp.rmdir()
    return {"path": str(path), "out": str(final), "ok": True, "summary": result.summary(),
            "faces": len(result.faces), "hands": len(result.hands)}


def process_row(row: dict, out_root: str, formats="png,coco", **options) -> dict:
    """`process_photo` for engines that map a function over rows (Ray Data's `Dataset.map`, Spark, Dask):
    `row` is a `Job` as a dict ({"path", "name", "file_name"}); outputs go to `out_root/<name>/`."""
    formats = parse_formats(formats) if isinstance(formats, str) else tuple(formats)
    return process_photo(row["path"], str(Path(out_root) / row["name"]), formats, row["file_name"], **options)


def _worker_init() -> None:
    """Per worker process: quiet native logs, one OpenCV thread (the pool is the parallelism), warm graphs."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import cv2

    cv2.setNumThreads(1)
    from .detect import warm_up

    warm_up()


def _run_job(job: Job, out_root: str, formats, options) -> dict:
    return process_photo(job.path, str(Path(out_root) / job.name), formats, job.file_name, **options)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_batch(jobs, out_root, formats=("png", "coco"), workers: int | None = None, resume: bool = True,
              progress=None, report=print, **options) -> dict:
    """Process `jobs` (from `find_jobs`) into `out_root`; return counts and the folder COCO path.

    `progress`: None shows a tqdm bar on a terminal only, True/False force it. `report(line, error=False)` gets
    one line per processed photo (failures are flagged). Photos whose folder is complete are skipped when
    `resume` is on.
    """
    from tqdm import tqdm

    out = Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()
    todo = [j for j in jobs if not (resume and is_done(out / j.name, formats))]
    counts = {"total": len(jobs), "skipped": len(jobs) - len(todo), "done": 0, "failed": 0}
    bar = tqdm(total=len(jobs), initial=counts["skipped"], unit="photo", file=sys.stderr,
               disable=(not progress) if progress is not None else None, dynamic_ncols=True)

    def handle(res: dict) -> None:
        if res["ok"]:
            counts["done"] += 1
            report(f"{res['path']}: {res['summary']} -> {res['out']}", error=False)
        else:
            counts["failed"] += 1
            report(f"{res['path']}: {res['error']}", error=True)
        bar.update(1)

    try:
        if workers == 1 or len(todo) <= 1:
            for job in todo:
                handle(_run_job(job, str(out), formats, options))
        else:
            # spawn: a fresh interpreter per worker, no MediaPipe/OpenCV threads inherited through fork
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn"),
                                     initializer=_worker_init) as pool:
                futures = [pool.submit(_run_job, job, str(out), formats, options) for job in todo]
                for fut in as_completed(futures):
                    handle(fut.result())
    finally:
        bar.close()
    if "coco" in formats:
        counts["coco"] = str(write_folder_coco(jobs, out))
    return counts


def write_folder_coco(jobs, out_root) -> Path:
    """One COCO file for every photo done so far (this run and earlier ones), in job order."""
    from .export import merge_coco, write_json_atomic

    out = Path(out_root)
    docs = []
    for job in jobs:
        f = out / job.name / "coco.json"
        if f.is_file():
            doc = json.loads(f.read_text())
            for img in doc["images"]:
                img["file_name"] = job.file_name
            docs.append(doc)
    return write_json_atomic(out / FOLDER_COCO, merge_coco(docs))
