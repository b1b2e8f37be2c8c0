"""Turn whatever a user hands us (path, bytes, PIL image, ndarray) into an RGB uint8 array.

Everything downstream assumes RGB uint8 in the orientation the user sees, so this is the one place
that decodes, applies EXIF orientation, flattens transparency and rejects what is not a usable photo.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Anything whose declared size is above this is refused before decoding (decompression bombs).
MAX_DECLARED_PIXELS = 200_000_000
# Photos larger than this are downscaled on load; masks are returned at the downscaled size (documented cap).
MAX_WORKING_PIXELS = 24_000_000
MIN_SIDE = 8
MAX_FILE_BYTES = 100 * 1024 * 1024

ImageInput = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]


class ImageLoadError(ValueError):
    """A user-facing, one-sentence reason why an input is not a usable photo."""


def load_image(source: ImageInput) -> np.ndarray:
    """Return the photo as an HxWx3 uint8 RGB array, EXIF-rotated, at most MAX_WORKING_PIXELS."""
    return load_image_with_pixels(source)[0]


def load_image_with_pixels(source: ImageInput) -> tuple:
    """`load_image` plus the photo's pixel count before any downscaling, so callers can say it was downscaled."""
    if source is None:
        raise ImageLoadError("No image was given.")
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
        pixels = rgb.shape[0] * rgb.shape[1]
    else:
        img = _open(source)
        pixels = img.info.get("declared_pixels", img.size[0] * img.size[1])
        rgb = _pil_to_rgb(img)
    return _cap_size(rgb), int(pixels)


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "the uploaded data"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = path.name
        if not path.is_file():
            raise ImageLoadError(f"File not found: {name}.")
        size = path.stat().st_size
        if size == 0:
            raise ImageLoadError(f"{name} is empty (0 bytes).")
        if size > MAX_FILE_BYTES:
            raise ImageLoadError(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB.")
        data = path.read_bytes()
    else:
        raise ImageLoadError(f"Unsupported input type {type(source).__name__}; give a path, PIL image or array.")
    if not data:
        raise ImageLoadError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            # PIL warns above ~89 MP; our own MAX_DECLARED_PIXELS check below is the limit (a 12000x12000 photo is fine).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_DECLARED_PIXELS:
                raise ImageLoadError(f"{name} declares {w}x{h} pixels, more than we accept.")
            img.info["declared_pixels"] = w * h  # before a draft decode shrinks it
            if w * h > MAX_WORKING_PIXELS:  # JPEG decodes at 1/2..1/8 scale: a fraction of the memory and time
                s = (MAX_WORKING_PIXELS / (w * h)) ** 0.5
                img.draft(None, (max(1, int(w * s)), max(1, int(h * s))))
            img.load()
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageLoadError(f"{name} is not an image we can read.") from None
        raise ImageLoadError(f"{name} declares more pixels than we accept.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageLoadError(f"{name} is damaged or truncated and cannot be decoded.") from None
    return img


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    w, h = img.size
    if w * h > MAX_DECLARED_PIXELS:
        raise ImageLoadError(f"The image is {w}x{h} pixels, more than we accept.")
    try:
        img.seek(0)  # animated GIF/WebP/APNG: the first frame
    except (EOFError, AttributeError):
        pass
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        return _array_to_rgb(arr)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageLoadError(f"An image array must be HxW, HxWx3 or HxWx4; got shape {arr.shape}.")
    if arr.size == 0:
        raise ImageLoadError("The image array is empty.")
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ImageLoadError("The image array contains NaN or infinite values.")
        top = arr.max() if arr.size else 0
        if top <= 1.0:
            scale = 255.0
        elif top <= 255:
            scale = 1.0
        else:
            scale = 255.0 / 65535.0
        arr = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = np.rint(arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    h, w = arr.shape[:2]
    if w * h > MAX_DECLARED_PIXELS:
        raise ImageLoadError(f"The image is {w}x{h} pixels, more than we accept.")
    return np.ascontiguousarray(arr)


def _cap_size(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageLoadError(f"The image is {w}x{h} pixels; each side must be at least {MIN_SIDE}.")
    if w * h > MAX_WORKING_PIXELS:
        s = (MAX_WORKING_PIXELS / (w * h)) ** 0.5
        size = (max(MIN_SIDE, int(w * s)), max(MIN_SIDE, int(h * s)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
    return rgb
