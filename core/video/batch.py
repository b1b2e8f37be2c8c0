"""Videos on the command line: `python -m core CLIP.mp4 [FOLDER ...] --out DIR [--masks] [--anonymise faces]`.

Each video gets DIR/<name>/ with:
- `annotated.mp4`: H.264 (plays in browsers), the clip's frame rate and size (frames above 1920 px on the longer
  side are downscaled to it), every face and hand drawn with its tracked label, the clip's audio kept;
- `coco.json`: COCO instance segmentation with one image per frame (`file_name` "<name>#<frame>", `frame_index`,
  `time_s`) and each annotation's `track_id` and `label`;
- `result.json`: frames, frame rate, each label's first and last frame and frame count, messages, seconds taken
  and mean milliseconds per stage;
- with `--masks`: `masks/<label>/<frame>.png` (0/255, frame size) for every frame the instance is in;
- with `--anonymise faces|hands|all`: `anonymised.mp4`, the clip with those instances blurred (audio kept).

Everything streams frame by frame (memory does not grow with the clip). A folder appears complete or not at all
(written under a temporary name, then renamed), so an interrupted run resumes by running the command again.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..batch import count_result, made_from, partial_folder, source_stamp
from .reader import VIDEO_SUFFIXES

# .gif stays with the photo batch (its first frame, as before); segment_video reads animated GIFs when asked.
CLI_VIDEO_SUFFIXES = VIDEO_SUFFIXES - {".gif"}


@dataclass(frozen=True)
class VideoJob:
    path: str
    name: str  # output folder, relative to the output root


def is_video(path) -> bool:
    return Path(path).suffix.lower() in CLI_VIDEO_SUFFIXES


def split_paths(paths, out_dir, taken=()) -> tuple:
    """(video jobs, the other paths): videos named directly, and videos found by walking folders (which are also
    returned, for the photo batch to walk). Video folder names avoid names in `taken` (the photos' folders)."""
    out = Path(out_dir).resolve()
    jobs, rest, used = [], [], set(taken)

    def add(path: Path, name: str):
        while name in used:
            name += "_video"
        used.add(name)
        jobs.append(VideoJob(str(path), name))

    for p in paths:
        path = Path(p)
        if path.is_dir():
            rest.append(p)
            for f in sorted(path.rglob("*")):
                if not is_video(f) or not f.is_file() or f.name.startswith("."):
                    continue
                if out == f.resolve() or out in f.resolve().parents:
                    continue
                add(f, f.relative_to(path).as_posix())  # the suffix kept, as for photos (core/batch.py)
        elif is_video(path):
            add(path, path.name)
        else:
            rest.append(p)
    return jobs, rest


def add_arguments(ap) -> None:
    """The video options of `python -m core`."""
    g = ap.add_argument_group("videos (mp4, mov, webm, mkv, avi, ...)")
    g.add_argument("--masks", action="store_true", help="videos: also write masks/<label>/<frame>.png")
    g.add_argument("--anonymise", "--anonymize", choices=("faces", "hands", "all"), default=None,
                   help="also write anonymised.mp4 (videos) or anonymised.png (photos) with these hidden")
    g.add_argument("--anonymise-style", choices=("blur", "pixelate", "fill"), default="blur",
                   help="how --anonymise hides them (default blur)")
    g.add_argument("--max-seconds", type=float, default=None, help="videos: refuse clips longer than this")


def run_videos(jobs, out_root, *, resume: bool = True, masks: bool = False, anonymise=None,
               anonymise_style: str = "blur", max_seconds=None, progress=None, report=print, **options) -> dict:
    """Process video jobs one after another (each uses both cores); counts like `batch.run_batch`."""
    counts = {"total": len(jobs), "skipped": 0, "done": 0, "failed": 0}
    for job in jobs:
        folder = Path(out_root) / job.name
        if resume and _is_done(folder, masks, anonymise, job.path):
            counts["skipped"] += 1
            continue
        res = process_video(job.path, str(folder), masks=masks, anonymise=anonymise,
                            anonymise_style=anonymise_style, max_seconds=max_seconds, progress=progress, **options)
        count_result(counts, res, report)
    return counts


def _is_done(folder: Path, masks: bool, anonymise, path) -> bool:
    """Every output asked for is there, made from the video at `path` as it is now (same file, size, time)."""
    need = ["result.json", "annotated.mp4", "coco.json"] + (["anonymised.mp4"] if anonymise else [])
    return (all((folder / f).is_file() for f in need) and (not masks or (folder / "masks").is_dir())
            and made_from(folder, path))


def process_video(path: str, out_dir: str, *, masks: bool = False, anonymise=None, anonymise_style: str = "blur",
                  max_seconds=None, max_fps=None, progress=None, file_name: str = "", on_frame=None,
                  should_stop=None, **options) -> dict:
    """Segment every frame of one video and write its folder. Returns {"path", "out", "ok", "summary" | "error",
    "frames", "labels", "files"}; an unusable video is reported (one sentence), not raised. `on_frame(done,
    total)` is called after each frame (total: the frames expected, 0 when the container does not say).
    `max_fps`: a faster clip is thinned to every n-th frame, and its videos are written at that rate.
    `should_stop()` is asked after each frame: True stops the clip there, writes nothing and returns "ok" False
    with "stopped" True (a Space's visitor who left or pressed Stop)."""
    from tqdm import tqdm

    from ..effects import anonymise as hide
    from ..export import coco_document, safe_name
    from .segmenter import segment_video
    from .reader import VideoLoadError, VideoReader
    from .writer import VideoWriter

    final = Path(out_dir)
    name = file_name or Path(path).stem
    fail = {"path": str(path), "out": str(final), "ok": False}
    try:
        reader = VideoReader(path, max_seconds=max_seconds, max_fps=max_fps)
    except VideoLoadError as exc:
        return dict(fail, error=str(exc))
    info = reader.info
    tmp = partial_folder(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    audio = path if info.has_audio else None
    w, h = info.out_size
    labels: dict = {}
    frames, messages, timing = 0, [], {}
    if info.step > 1:
        messages.append(f"{Path(path).name} is {info.fps:.0f} frames per second; every {info.step}"
                        f"{'nd' if info.step == 2 else 'rd' if info.step == 3 else 'th'} frame was processed "
                        f"({info.out_fps:.0f} per second).")
    ann_id = 0
    images_f = open(tmp / ".images.jsonl", "w")
    anns_f = open(tmp / ".annotations.jsonl", "w")
    bar = tqdm(total=info.expected_frames or None, unit="frame", file=sys.stderr, desc=Path(path).name,
               disable=(not progress) if progress is not None else None, leave=False, dynamic_ncols=True)
    started = time.perf_counter()
    try:
        with VideoWriter(tmp / "annotated.mp4", w, h, info.out_fps, audio_from=audio) as annotated_out, \
                _maybe_writer(anonymise, tmp / "anonymised.mp4", w, h, info.out_fps, audio) as anon_out:
            writers = [x for x in (annotated_out, anon_out) if x is not None]
            for result in segment_video(reader, **options):
                i = result.frame_index
                annotated_out.write(result.annotated if result.annotated is not None else result.image)
                if anon_out is not None:
                    anon_out.write(hide(result, anonymise, anonymise_style))
                doc = coco_document(result, file_name=f"{name}#{i}", image_id=i + 1)
                img = dict(doc["images"][0], frame_index=i, time_s=result.time_s)
                images_f.write(json.dumps(img) + "\n")
                for inst, ann in zip(result.instances, doc["annotations"]):
                    ann_id += 1
                    anns_f.write(json.dumps(dict(ann, id=ann_id, track_id=inst.track_id)) + "\n")
                    seen = labels.setdefault(inst.label, {"kind": inst.kind, "track_id": inst.track_id,
                                                          "first_frame": i, "last_frame": i, "frames": 0})
                    seen["last_frame"], seen["frames"] = i, seen["frames"] + 1
                    if masks:
                        from ..export import mask_png

                        d = tmp / "masks" / safe_name(inst.label)
                        d.mkdir(parents=True, exist_ok=True)
                        mask_png(inst.mask).save(d / f"{i:06d}.png")
                for m in result.messages:
                    if m not in messages:
                        messages.append(m)
                for k, v in result.timings.items():
                    timing[k] = timing.get(k, 0.0) + v
                frames += 1
                bar.update(1)
                if on_frame is not None:
                    on_frame(frames, info.expected_frames)
                if should_stop is not None and should_stop():
                    raise _Stopped
    except _Stopped:
        _cleanup(tmp, images_f, anns_f, bar)
        return dict(fail, error=f"Stopped after frame {frames}.", stopped=True)
    except VideoLoadError as exc:
        _cleanup(tmp, images_f, anns_f, bar)
        return dict(fail, error=str(exc))
    except Exception as exc:  # this video's problem; a batch goes on
        _cleanup(tmp, images_f, anns_f, bar)
        return dict(fail, error=f"processing failed ({type(exc).__name__}: {exc})")
    except BaseException:  # Ctrl-C: leave no half-written folder behind, then stop
        _cleanup(tmp, images_f, anns_f, bar)
        raise
    for writer in writers:
        if writer.audio_error and writer.audio_error not in messages:
            messages.append(writer.audio_error)
    images_f.close()
    anns_f.close()
    bar.close()
    _write_coco(tmp, name)
    seconds = time.perf_counter() - started
    summary = {"source": str(path), **source_stamp(path), "frames": frames, "fps": round(info.out_fps, 3),
               "width": w, "height": h,
               "audio": bool(audio) and all(x.audio_copied for x in writers), "labels": labels, "messages": messages,
               "seconds": round(seconds, 2),
               "mean_ms": {k: round(v / max(frames, 1), 2) for k, v in timing.items()}}
    final.mkdir(parents=True, exist_ok=True)
    (final / "result.json").unlink(missing_ok=True)
    (tmp / "result.json").write_text(json.dumps(summary, indent=2))
    for item in sorted(tmp.iterdir(), key=lambda f: f.name == "result.json"):
        target = final / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)
    tmp.rmdir()
    faces = sum(1 for v in labels.values() if v["kind"] == "face")
    hands = len(labels) - faces
    line = (f"{frames} frames, {faces} face{'s' if faces != 1 else ''} and {hands} hand{'s' if hands != 1 else ''}"
            f" tracked in {seconds:.1f} s ({frames / max(seconds, 1e-6):.0f} frames/s)")
    files = [str(final / f) for f in ("annotated.mp4", "anonymised.mp4", "coco.json", "result.json")
             if (final / f).is_file()]
    return {"path": str(path), "out": str(final), "ok": True, "summary": " ".join([line] + messages),
            "headline": line, "messages": messages, "frames": frames, "labels": sorted(labels), "files": files}


class _Stopped(Exception):
    """`should_stop()` said so."""


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _maybe_writer(what, path, w, h, fps, audio):
    from .writer import VideoWriter

    return VideoWriter(path, w, h, fps, audio_from=audio) if what else _Null()


def _cleanup(tmp: Path, *handles) -> None:
    for hnd in handles:
        hnd.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _write_coco(folder: Path, name: str) -> None:
    """coco.json from the per-frame lines written while the clip streamed (then removed)."""
    from ..export import CATEGORIES

    with open(folder / "coco.json", "w") as out:
        out.write('{"info": ' + json.dumps({"description": "Faces and hands, one mask each, per video frame",
                                            "video": name}))
        out.write(', "categories": ' + json.dumps(CATEGORIES))
        for key, part in (("images", ".images.jsonl"), ("annotations", ".annotations.jsonl")):
            out.write(f', "{key}": [')
            with open(folder / part) as f:
                for n, line in enumerate(f):
                    out.write(("," if n else "") + line.rstrip("\n"))
            out.write("]")
            (folder / part).unlink()
        out.write("}")
