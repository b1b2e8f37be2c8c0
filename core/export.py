"""Write a Result to disk: annotated PNG, one 0/255 PNG per mask (input size), result.json, COCO instance JSON.

COCO is what annotation tools and dataset loaders read (CVAT, Label Studio, FiftyOne, detectron2, pycocotools):
one image entry, categories `face` and `hand`, one annotation per instance with a compressed RLE mask (pycocotools),
an `[x, y, w, h]` box, the detector's score and, for hands, the handedness.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


# zlib level for the annotated photo: level 1 writes a 24 MP overlay in ~1.6 s instead of ~6.7 s (level 6, Pillow's
# default) for a file ~14% larger; photo pixels barely compress either way. Masks (two values) keep the default.
ANNOTATED_PNG_LEVEL = 1


def safe_name(label: str) -> str:
    """A file name from a label: 'hand-1 (left)' -> 'hand-1_left'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "mask"


def mask_png(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")


def write_result(result, out_dir, source_name: str = "", pngs: bool = True, extra: dict | None = None) -> Path:
    """Write one photo's outputs under `out_dir` (created); return the folder. `pngs=False`: result.json only.
    `extra`: more top-level fields for result.json (the batch records which file, size and time stamp it read)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    if pngs:
        (out / "masks").mkdir(exist_ok=True)
        if result.annotated is not None:
            Image.fromarray(result.annotated).save(out / "annotated.png", compress_level=ANNOTATED_PNG_LEVEL)
        for inst in result.instances:
            name = f"{safe_name(inst.label)}.png"
            mask_png(inst.mask).save(out / "masks" / name)
            files[inst.label] = f"masks/{name}"
    doc = result.to_dict()
    doc["source"] = source_name
    doc.update(extra or {})
    if pngs:
        for item in doc["instances"]:
            item["mask_file"] = files[item["label"]]
    (out / "result.json").write_text(json.dumps(doc, indent=2))
    return out


def write_zip(out_dir) -> Path:
    """masks.zip next to the masks: the 0/255 PNGs, result.json and coco.json (when written)."""
    out = Path(out_dir)
    archive = out / "masks.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for png in sorted((out / "masks").glob("*.png")):
            z.write(png, f"masks/{png.name}")
        for doc in ("result.json", "coco.json"):
            if (out / doc).exists():
                z.write(out / doc, doc)
    return archive


def write_downloads(result, out_dir, source_name: str = "", cutouts: bool = True, anonymised=None) -> list:
    """Files a user downloads: the annotated PNG, a zip of 0/255 mask PNGs (with the JSONs), result.json and
    coco.json. (TEMPORARY stand-in until the cut-outs branch lands.)"""
    out = write_result(result, out_dir, source_name=source_name)
    if cutouts:
        (out / "cutouts").mkdir(exist_ok=True)
        for inst in result.instances:
            rgba = np.dstack([result.image, np.where(inst.mask, 255, 0).astype(np.uint8)])
            Image.fromarray(rgba, "RGBA").save(out / "cutouts" / f"{safe_name(inst.label)}.png")
    if anonymised is not None:
        Image.fromarray(anonymised).save(out / "anonymised.png")
    write_coco(result, out / "coco.json", file_name=Path(source_name).name if source_name else "image.png")
    archive = write_zip(out)
    files = [out / "annotated.png", archive, out / "result.json", out / "coco.json", out / "anonymised.png"]
    return [str(f) for f in files if f.exists()]


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
