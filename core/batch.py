"""Many photos: find them, skip the ones already done, segment the rest on every core, merge one COCO file.

`process_photo` is the unit of work: one photo in, its output folder written (per format, plus cut-outs and an
anonymised copy on request), a small summary out. The local runner maps it over a process pool (each worker builds
its own MediaPipe graphs once and reuses them); a distributed engine such as Ray Data can map the very same
function over a cluster (see README).

A photo's folder appears only when it is complete (written under a temporary name, then renamed), so an
interrupted run is resumed by running the same command again. A folder counts as done only when its result.json
names the same source file with the same size and time stamp (a replaced or edited photo is redone) and holds
every output asked for this time (cut-outs or an anonymised copy asked for on a later run are made then). Ctrl-C
cancels what has not started, stops the workers, removes half-written folders and still writes the folder COCO
for the photos that are done (`BatchInterrupted`).
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FORMATS = ("png", "coco", "zip")
FOLDER_COCO = "coco.json"
RESERVED = {FOLDER_COCO}  # names at the output root that are not photo folders


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during `run_batch`, raised after the clean-up; `counts` says what was done."""

    def __init__(self, counts: dict):
        super().__init__("interrupted")
        self.counts = counts


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
    """Photos named directly get their file name (suffix kept) as folder name; folders are walked (sorted) and
    mirrored: photos/sub/a.jpg -> OUT/sub/a.jpg/.

    Names never collide and no photo's folder lies inside another's: a name that is taken, or that is or lies
    under another photo's folder, gets "~2", "~3", ... on the component that clashes (a.jpg~2). Anything under
    `out_dir` is skipped, so an output folder inside the input folder is not read back as input.
    """
    out = Path(out_dir).resolve()
    jobs, used, ancestors, seen = [], set(), set(), set()

    def clash(parts: list):
        """Index of the first component that makes `parts` collide, or None."""
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            if prefix in used or (i == 0 and prefix in RESERVED) or (i == len(parts) - 1 and prefix in ancestors):
                return i
        return None

    def add(path: Path, name: str, file_name: str):
        key = os.path.realpath(path)
        if key in seen:  # the same photo named twice (or inside a folder also given): once is enough
            return
        seen.add(key)
        parts = name.split("/")
        while (i := clash(parts)) is not None:
            base, k = parts[i], 2
            while clash(parts[:i] + [f"{base}~{k}"] + parts[i + 1:]) == i:
                k += 1
            parts[i] = f"{base}~{k}"
        name = "/".join(parts)
        used.add(name)
        ancestors.update("/".join(parts[:i]) for i in range(1, len(parts)))
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
                add(f, rel.as_posix(), rel.as_posix())
        else:
            add(path, path.name or "photo", path.name)
    return jobs


def expected_files(formats, anonymise=None) -> list:
    files = ["result.json"] + (["anonymised.png"] if anonymise else [])
    if "png" in formats:
        files.append("annotated.png")
    if "coco" in formats:
        files.append("coco.json")
    if "zip" in formats:
        files.append("masks.zip")
    return files


def count_result(counts: dict, res: dict, report) -> None:
    """Count one finished photo or video (a `process_*` summary) as done or failed, and say so in one line."""
    if res["ok"]:
        counts["done"] += 1
        report(f"{res['path']}: {res['summary']} -> {res['out']}", error=False)
    else:
        counts["failed"] += 1
        report(f"{res['path']}: {res['error']}", error=True)


def source_stamp(path) -> dict:
    """What result.json records about the photo it was made from: absolute path, size and time stamp."""
    st = os.stat(path)
    return {"source_file": str(Path(path).resolve()), "source_bytes": st.st_size, "source_mtime_ns": st.st_mtime_ns}


def made_from(folder: Path, path, **fields) -> bool:
    """True when `folder`'s result.json was made from `path` as it is now (same file, size and time stamp) and
    holds `fields` (top-level keys) with these values."""
    try:
        doc = json.loads((Path(folder) / "result.json").read_text())
        want = source_stamp(path)
    except (OSError, ValueError):
        return False
    return all(doc.get(k) == v for k, v in {**want, **fields}.items())


def extras_record(cutouts: bool = False, anonymise=None, anonymise_style: str = "blur") -> dict:
    """What result.json records about the extra outputs written (none: nothing), so a resumed run can tell."""
    return {**({"cutouts": True} if cutouts else {}),
            **({"anonymised": {"what": anonymise, "style": anonymise_style}} if anonymise else {})}


def is_done(folder: Path, formats, path, cutouts: bool = False, anonymise=None, anonymise_style: str = "blur") -> bool:
    """`folder` holds every output of `formats`, cutouts/ when `cutouts`, anonymised.png (same target and style)
    when `anonymise`, all made from the photo at `path` as it is now."""
    folder = Path(folder)
    return (all((folder / f).is_file() for f in expected_files(formats, anonymise))
            and (not cutouts or (folder / "cutouts").is_dir())
            and made_from(folder, path, **extras_record(cutouts, anonymise, anonymise_style)))


def process_photo(path: str, out_dir: str, formats=("png", "coco"), file_name: str = "", cutouts: bool = False,
                  anonymise=None, anonymise_style: str = "blur", **options) -> dict:
    """Segment one photo and write its outputs into `out_dir` (created, replaced if incomplete). `cutouts`: also
    cutouts/<label>.png (transparent, core/cutouts.py; in masks.zip too with the zip format). `anonymise` ("faces",
    "hands" or "all"): also anonymised.png, those hidden in `anonymise_style` (blur, pixelate, fill).

    Returns a small JSON-ready summary: {"path", "out", "ok", "summary" | "error", "faces", "hands"}.
    Unusable photos are reported (`ok` False, one-sentence `error`), not raised, so one bad file never stops a
    batch; an unknown backend name still raises ValueError (it would fail for every photo).
    """
    from .loading import ImageLoadError
    from .pipeline import segment
    from .effects import anonymise as hide, check
    from .export import write_coco, write_result, write_zip

    if anonymise:
        check(anonymise, anonymise_style)  # a bad name is the same for every photo: raised, like a bad backend
    final = Path(out_dir)
    try:
        stamp = source_stamp(path)  # before reading: a photo changed meanwhile is redone next run
    except OSError:
        stamp = {}
    try:
        result = segment(path, **options)
        hidden = hide(result, anonymise, anonymise_style) if anonymise else None
    except ImageLoadError as exc:
        return {"path": str(path), "out": str(final), "ok": False, "error": str(exc)}
    except ValueError:  # bad options (an unknown backend): the same for every photo, so the caller stops
        raise
    except Exception as exc:  # anything else is this photo's problem; the batch goes on
        detail = " ".join(str(exc).split())[:200]  # one line on stderr, whatever the exception says
        return {"path": str(path), "out": str(final), "ok": False,
                "error": f"processing failed ({type(exc).__name__}: {detail})"}
    # Written under a temporary name, then moved in with result.json last: a folder with result.json is complete.
    tmp = partial_folder(final)
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        write_result(result, tmp, source_name=str(path), pngs="png" in formats, cutouts=cutouts, anonymised=hidden,
                     extra={**stamp, **extras_record(cutouts, anonymise, anonymise_style)})
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
    except OSError as exc:  # disk full, permissions: this photo's outputs could not be written
        shutil.rmtree(tmp, ignore_errors=True)
        return {"path": str(path), "out": str(final), "ok": False,
                "error": f"could not write {final} ({exc.strerror or type(exc).__name__})"}
    return {"path": str(path), "out": str(final), "ok": True, "summary": result.summary(),
            "faces": len(result.faces), "hands": len(result.hands)}


def partial_folder(final: Path, pid: int | None = None) -> Path:
    """Where a photo's or video's outputs are written before they are moved into `final`. Earlier ones of the
    same `final` whose process is gone (a run that was killed) are removed first."""
    for old in _partial_folders(final):
        owner = old.name.rsplit("-", 1)[1]
        if owner.isdigit() and int(owner) != os.getpid() and not _process_alive(int(owner)):
            shutil.rmtree(old, ignore_errors=True)
    return final.parent / f".{final.name}.partial-{os.getpid() if pid is None else pid}"


def _partial_folders(final: Path):
    """Every run's temporary folder for `final`, whatever process made it."""
    return final.parent.glob(f".{glob.escape(final.name)}.partial-*")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        pass
    return True


def process_row(row: dict, out_root: str, formats="png,coco", **options) -> dict:
    """`process_photo` for engines that map a function over rows (Ray Data's `Dataset.map`, Spark, Dask):
    `row` is a `Job` as a dict ({"path", "name", "file_name"}); outputs go to `out_root/<name>/`. `options`: those
    of `process_photo` (cutouts, anonymise, anonymise_style) and of `core.segment`."""
    formats = parse_formats(formats) if isinstance(formats, str) else tuple(formats)
    return process_photo(row["path"], str(Path(out_root) / row["name"]), formats, row["file_name"], **options)


def _worker_init() -> None:
    """Per worker process: quiet native logs, one OpenCV thread (the pool is the parallelism), warm graphs.
    Ctrl-C is the parent's to handle (a terminal sends it to every process of the group): workers ignore it and
    are stopped by the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
              progress=None, report=print, cutouts: bool = False, anonymise=None, anonymise_style: str = "blur",
              **options) -> dict:
    """Process `jobs` (from `find_jobs`) into `out_root`; return counts and the folder COCO path.

    `progress`: None shows a tqdm bar on a terminal only, True/False force it. `report(line, error=False)` gets
    one line per processed photo (failures are flagged). Photos whose folder is complete and made from the same
    file are skipped when `resume` is on (a folder without an output asked for now, such as `cutouts` or an
    `anonymise` target or style not made before, is redone). `cutouts`, `anonymise`, `anonymise_style`: as for
    `process_photo`; `options` go to `core.segment`. Ctrl-C (KeyboardInterrupt): pending photos are cancelled,
    the workers stopped, half-written folders removed, the folder COCO written for what is done, then
    `BatchInterrupted` (with the counts) is raised.
    """
    from tqdm import tqdm

    out = Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()
    extras = {"cutouts": cutouts, "anonymise": anonymise, "anonymise_style": anonymise_style}
    if anonymise:
        from .effects import check

        check(anonymise, anonymise_style)  # before any worker starts
    todo = [j for j in jobs if not (resume and is_done(out / j.name, formats, j.path, **extras))]
    options = {**options, **extras}
    counts = {"total": len(jobs), "skipped": len(jobs) - len(todo), "done": 0, "failed": 0}
    bar = tqdm(total=len(jobs), initial=counts["skipped"], unit="photo", file=sys.stderr,
               disable=(not progress) if progress is not None else None, dynamic_ncols=True)
    finished: set = set()

    def handle(job: Job, res: dict) -> None:
        with _ctrl_c_deferred():
            finished.add(job.name)
            count_result(counts, res, report)
            bar.update(1)

    try:
        if workers == 1 or len(todo) <= 1:
            for job in todo:
                handle(job, _run_job(job, str(out), formats, options))
        else:
            _run_pool(todo, out, formats, options, min(workers, len(todo)), handle)
    except KeyboardInterrupt:
        bar.close()
        unfinished = [j for j in todo if j.name not in finished]
        _remove_partials(out, unfinished)
        counts["cancelled"] = len(unfinished)
        if "coco" in formats:
            counts["coco"] = str(write_folder_coco(jobs, out))
        raise BatchInterrupted(counts) from None
    finally:
        bar.close()
    if "coco" in formats:
        counts["coco"] = str(write_folder_coco(jobs, out))
    return counts


@contextmanager
def _ctrl_c_deferred():
    """Hold a Ctrl-C until the block is done. Counting a finished photo and moving the bar must not be cut in
    half: a KeyboardInterrupt inside tqdm's lock left it unacquired, its release raised RuntimeError instead, and
    the batch exited 1 with a traceback (seen once in test_batch_hardening's Ctrl-C test). A Ctrl-C that comes
    meanwhile is delivered when the block ends, where the batch stops cleanly."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _run_pool(todo, out: Path, formats, options, workers: int, handle) -> None:
    # spawn: a fresh interpreter per worker, no MediaPipe/OpenCV threads inherited through fork. Workers are
    # started with SIGINT ignored (inherited through exec), so a Ctrl-C during their start-up prints nothing there.
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init)
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            futures = {pool.submit(_run_job, job, str(out), formats, options): job for job in todo}
        finally:
            signal.signal(signal.SIGINT, previous)
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                res = fut.result()
            except BrokenProcessPool:
                res = {"path": job.path, "out": str(out / job.name), "ok": False,
                       "error": "a worker process died while this photo was being processed"}
            handle(job, res)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown()


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and stop the workers now (a photo in progress is abandoned)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(2)


def _remove_partials(out: Path, jobs) -> None:
    """Half-written output of unfinished photos: their temporary folders, and a final folder whose files were
    being moved in (no result.json made from this photo)."""
    for job in jobs:
        final = out / job.name
        for tmp in _partial_folders(final):
            shutil.rmtree(tmp, ignore_errors=True)
        if final.is_dir() and not (final / "result.json").is_file():
            shutil.rmtree(final, ignore_errors=True)


def write_folder_coco(jobs, out_root) -> Path:
    """One COCO file for every photo done so far (this run and earlier ones), in job order."""
    from .export import merge_coco, write_json_atomic

    out = Path(out_root)
    docs = []
    for job in jobs:
        f = out / job.name / "coco.json"
        if f.is_file() and made_from(out / job.name, job.path):
            doc = json.loads(f.read_text())
            for img in doc["images"]:
                img["file_name"] = job.file_name
            docs.append(doc)
    return write_json_atomic(out / FOLDER_COCO, merge_coco(docs))
