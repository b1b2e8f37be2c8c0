"""Write a Result to disk: annotated PNG, one 0/255 PNG per mask (input size), result.json."""
from __future__ import annotations

import json
import zipfile
import re
from pathlib import Path

import numpy as np
from PIL import Image


def safe_name(label: str) -> str:
    """A file name from a label: 'hand-1 (left)' -> 'hand-1_left'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "mask"


def mask_png(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")


def write_result(result, out_dir, source_name: str = "") -> Path:
    """Write one photo's outputs under `out_dir` (created); return the folder."""
    out = Path(out_dir)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    if result.annotated is not None:
        Image.fromarray(result.annotated).save(out / "annotated.png")
    files = {}
    for inst in result.instances:
        name = f"{safe_name(inst.label)}.png"
        mask_png(inst.mask).save(out / "masks" / name)
        files[inst.label] = f"masks/{name}"
    doc = result.to_dict()
    doc["source"] = source_name
    for item in doc["instances"]:
        item["mask_file"] = files[item["label"]]
    (out / "result.json").write_text(json.dumps(doc, indent=2))
    return out


def write_downloads(result, out_dir) -> list:
    """Files a user downloads: the annotated PNG, a zip of 0/255 mask PNGs (with result.json), result.json."""
    out = write_result(result, out_dir)
    archive = out / "masks.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for png in sorted((out / "masks").glob("*.png")):
            z.write(png, f"masks/{png.name}")
        z.write(out / "result.json", "result.json")
    files = [out / "annotated.png", archive, out / "result.json"]
    return [str(f) for f in files if f.exists()]
