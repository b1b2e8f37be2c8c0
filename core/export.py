"""Write a Result to disk: annotated PNG, one 0/255 PNG per mask (input size), result.json, COCO instance JSON, and
on request transparent cut-outs (core/cutouts.py) and an anonymised copy of the photo (core/effects.py).

COCO is what annotation tools and dataset loaders read (CVAT, Label Studio, FiftyOne, detectron2, pycocotools):
one image entry, categories `face` and `hand`, one annotation per instance with a compressed RLE mask (pycocotools),
an `[x, y, w, h]` box, the detector's score and, for hands, the handedness.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


# zlib level for photo pixels (annotated, anonymised, cut-outs): level 1 writes a 24 MP overlay in ~1.6 s instead of
# ~6.7 s (level 6, Pillow's default) for a file ~14% larger (a 1.6 MP face cut-out: 0.13 s instead of 0.53 s, ~30%
# larger); photo pixels barely compress either way. Masks (two values) keep the default.
ANNOTATED_PNG_LEVEL = 1


def safe_name(label: str, default: str = "mask") -> str:
    """A file name from a label: 'hand-1 (left)' -> 'hand-1_left' (`default` when nothing usable is left)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or default


def download_stem(source_name: str, max_chars: int = 80) -> str:
    """What a photo's downloads start with: 'holiday/beach 2.jpg' -> 'beach_2'; no usable name -> 'image'.
    Kept short (80 characters, or `max_chars`), so '<stem>_annotated.png' stays a valid file name everywhere."""
    stem = safe_name(Path(source_name).stem, default="image")
    return stem if len(stem) <= max_chars else stem[:max_chars].rstrip("._-") or "image"


def mask_png(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")


def write_result(result, out_dir, source_name: str = "", pngs: bool = True, extra: dict | None = None,
                 cutouts: bool = False, anonymised: np.ndarray | None = None) -> Path:
    """Write one photo's outputs under `out_dir` (created); return the folder. `pngs=False`: no annotated.png and
    masks/. `extra`: more top-level fields for result.json (the batch records which file, size and time stamp it
    read). `cutouts`: also cutouts/<label>.png, one transparent PNG per instance with a non-empty mask (the folder
    is made even when there is none). `anonymised`: an RGB image saved as anonymised.png."""
    from .cutouts import cutouts as cut

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files, cut_files = {}, {}
    if pngs:
        (out / "masks").mkdir(exist_ok=True)
        if result.annotated is not None:
            Image.fromarray(result.annotated).save(out / "annotated.png", compress_level=ANNOTATED_PNG_LEVEL)
        for inst in result.instances:
            name = f"{safe_name(inst.label)}.png"
            mask_png(inst.mask).save(out / "masks" / name)
            files[inst.label] = f"masks/{name}"
    if cutouts:
        shutil.rmtree(out / "cutouts", ignore_errors=True)  # no cut-out of an earlier result in this folder
        (out / "cutouts").mkdir()
        for label, rgba in cut(result):
            name = f"{safe_name(label)}.png"
            Image.fromarray(rgba, mode="RGBA").save(out / "cutouts" / name, compress_level=ANNOTATED_PNG_LEVEL)
            cut_files[label] = f"cutouts/{name}"
    if anonymised is not None:
        Image.fromarray(anonymised).save(out / "anonymised.png", compress_level=ANNOTATED_PNG_LEVEL)
    doc = result.to_dict()
    doc["source"] = source_name
    doc.update(extra or {})
    for item in doc["instances"]:
        if pngs:
            item["mask_file"] = files[item["label"]]
        if cutouts:
            item["cutout_file"] = cut_files.get(item["label"])  # None: an empty mask has no cut-out
    (out / "result.json").write_text(json.dumps(doc, indent=2))
    return out


def write_zip(out_dir) -> Path:
    """masks.zip next to the masks: the 0/255 PNGs, the cut-outs, result.json and coco.json (those written).
    Cut-outs are stored as they are (photo pixels: deflating them again costs time and saves little); the mask PNGs
    (two values) still shrink by half when deflated again."""
    out = Path(out_dir)
    archive = out / "masks.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for folder, how in (("masks", zipfile.ZIP_DEFLATED), ("cutouts", zipfile.ZIP_STORED)):
            for png in sorted((out / folder).glob("*.png")):
                z.write(png, f"{folder}/{png.name}", compress_type=how)
        for doc in ("result.json", "coco.json"):
            if (out / doc).exists():
                z.write(out / doc, doc)
    return archive


DOWNLOADS = ("annotated.png", "masks.zip", "result.json", "coco.json", "anonymised.png")


def write_downloads(result, out_dir, source_name: str = "", cutouts: bool = True,
                    anonymised: np.ndarray | None = None, stem_chars: int = 80) -> list:
    """The files a visitor downloads, written into `out_dir` (use a fresh folder per photo); returns their paths.

    Each starts with the photo's name (`download_stem`), so downloads from several photos stay apart: for
    "beach.jpg" `beach_annotated.png`, `beach_masks.zip` (masks/<label>.png at 0/255, cutouts/<label>.png
    transparent, result.json, coco.json), `beach_result.json`, `beach_coco.json` and, when `anonymised` (an RGB
    image, e.g. from `core.effects.anonymise`) is given, `beach_anonymised.png`; the name is cut to `stem_chars`.
    The files are written under the batch's names, zipped, then renamed (nothing is encoded twice). `out_dir` also
    keeps masks/<label>.png and, with `cutouts`, cutouts/<label>.png: one transparent PNG per face and hand (none for
    an empty mask), for a gallery.
    """
    out = write_result(result, out_dir, source_name=source_name, cutouts=cutouts, anonymised=anonymised)
    write_coco(result, out / "coco.json", file_name=Path(source_name).name if source_name else "image.png")
    write_zip(out)
    stem = download_stem(source_name, stem_chars)
    files = []
    for name in DOWNLOADS:
        if (out / name).exists():
            files.append(str(out / f"{stem}_{name}"))
            os.replace(out / name, files[-1])
    return files


# ---------------------------------------------------------------------------------------------------- COCO

CATEGORIES = [
    {"id": 1, "name": "face", "supercategory": "person"},
    {"id": 2, "name": "hand", "supercategory": "person"},
]
_CATEGORY_ID = {c["name"]: c["id"] for c in CATEGORIES}


def encode_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a bool HxW mask, JSON-ready (`counts` as text)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """The bool HxW mask back from `encode_rle`'s output (or any COCO compressed RLE)."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"]}).astype(bool)


def coco_document(result, file_name: str = "image.png", image_id: int = 1) -> dict:
    """One photo as a COCO instance-segmentation document (ids start at 1)."""
    h, w = result.image.shape[:2]
    annotations = []
    for n, inst in enumerate(result.instances, 1):
        x0, y0, x1, y1 = (int(v) for v in inst.box)
        annotations.append({
            "id": n,
            "image_id": image_id,
            "category_id": _CATEGORY_ID[inst.kind],
            "segmentation": encode_rle(inst.mask),
            "area": int(inst.area),
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "iscrowd": 0,
            "score": round(float(inst.score), 4),
            "label": inst.label,
            "handedness": inst.handedness,
            "backend": inst.backend,
        })
    return {
        "info": {"description": "Faces and hands, one mask each", "backend": result.backend},
        "images": [{"id": image_id, "file_name": file_name, "width": int(w), "height": int(h)}],
        "categories": CATEGORIES,
        "annotations": annotations,
    }


def write_coco(result, path, file_name: str = "image.png") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco_document(result, file_name)))
    return path


def merge_coco(docs) -> dict:
    """One COCO document for many photos: image and annotation ids renumbered in the order given."""
    images, annotations = [], []
    for doc in docs:
        remap = {}
        for img in doc["images"]:
            remap[img["id"]] = len(images) + 1
            images.append(dict(img, id=remap[img["id"]]))
        for ann in doc["annotations"]:
            annotations.append(dict(ann, id=len(annotations) + 1, image_id=remap[ann["image_id"]]))
    return {"info": {"description": "Faces and hands, one mask each"}, "images": images,
            "categories": CATEGORIES, "annotations": annotations}


def write_json_atomic(path, doc) -> Path:
    """Write JSON via a temporary file and a rename, so a reader (or a resumed run) never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return path
