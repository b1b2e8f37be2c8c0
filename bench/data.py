"""The shared labelled photos (../shared/data): list them with their ground-truth masks."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# ../shared beside the repository, or the folder SHARED_DIR names (CI hides it this way: the suite must pass on a fresh
# clone, where it is absent).
SHARED = Path(os.environ.get("SHARED_DIR") or Path(__file__).resolve().parent.parent.parent / "shared")
DEFAULT_DATA = SHARED / "data"


@dataclass
class Sample:
    source: str
    stem: str
    image: Path
    masks: dict  # class -> Path

    def mask(self, cls: str) -> np.ndarray:
        return np.asarray(Image.open(self.masks[cls]).convert("L")) > 127


def samples(data_dir=DEFAULT_DATA, sources=None) -> list:
    data_dir = Path(data_dir)
    out = []
    for src in sorted(p for p in data_dir.iterdir() if (p / "images").is_dir()):
        if sources and src.name not in sources:
            continue
        for img in sorted((src / "images").iterdir()):
            masks = {}
            for m in (src / "masks").glob(f"{img.stem}_*.png"):
                cls = m.stem[len(img.stem) + 1:]
                masks[cls] = m
            out.append(Sample(src.name, img.stem, img, masks))
    return out
