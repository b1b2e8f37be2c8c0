"""Turn whatever a user hands us (path, bytes, PIL image, ndarray) into an RGB uint8 array.

Everything downstream assumes RGB uint8 in the orientation the user sees, so this is the one place
that decodes, applies EXIF orientation, flattens transparency and rejects what is not a usable photo.

Shapes MediaPipe can take (measured with `python -m bench.shape_limits`, mediapipe 0.10.21, one subprocess per
probe because a failure aborts the process): FaceDetection short- and full-range, FaceMesh, Hands (complexity 0
and 1) and Pose all work up to 32766 px on either side and all fail from 32767 px on, whatever the other side
(1, 8 or 64 px): MediaPipe's image-to-tensor step calls OpenCV's `remap`, which asserts that every side is below
SHRT_MAX (32767), and the uncaught C++ exception aborts the whole process (SIGABRT). There is no separate
aspect-ratio limit: 32766x1 and 1x32766 work in every graph. So a photo is refused here, from its header and
before any pixel is decoded, when a side is above MAX_SIDE; the working downscale does not help (a 200000x200 photo
is still 126491x126 after a 16 MP one). The whole pipeline (views, tiles, crops, masks, exports) was run at 32766x8,
8x32766, 32766x64 and 32766x732.

Cost limits (2 cores, measured with the app's own request path, see README): a photo declaring more than
MAX_DECLARED_PIXELS is refused before decoding; one above MAX_WORKING_PIXELS is decoded (JPEG at a reduced
scale), downscaled in Pillow, and processed at that size.
"""
from __future__ import annotations

import io
import os
import re
import stat
import struct
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

# The cost rule (README "Limits"): the worst accepted photo costs at most about 3 s and 1.5 GB on 2 cores, from
# upload to downloads. Measured on the app's request path (2 shared cores; python -m bench.limits):
# - decoding is paid in full for every format but JPEG: a flat 50 MP WebP (the slowest decoder) loads in ~0.8-1.1 s
#   with a 0.9 GB peak, 100 MP in ~2.1 s and 1.6 GB (PNG is ~0.9 s at 50 MP);
# - JPEG decodes at 1/2..1/8 scale (draft): a 108 MP JPEG loads in ~0.4 s and 0.35 GB;
# - processing costs ~0.1 s per megapixel of working size (detection views, one full-size prior and mask per
#   face or hand, exports): a crowd photo at 24 MP took ~4 s, at 16 MP ~2.4 s (5 faces); each more face or
#   hand adds ~0.3 s at 16 MP (14 faces: ~6 s), a cost in the per-instance stages, not in decoding.
# Anything whose header declares more than this is refused before decoding (and before Pillow's own 179 MP limit).
MAX_DECLARED_PIXELS = 50_000_000
MAX_DECLARED_JPEG_PIXELS = 150_000_000  # decoded at reduced scale, so large phone JPEGs (108 MP) still work
# Photos larger than this are downscaled on load; masks are returned at the downscaled size (documented cap).
MAX_WORKING_PIXELS = 16_000_000
MIN_SIDE = 8
# Every MediaPipe graph aborts the process on a side of 32767 px or more (see the module docstring).
MAX_SIDE = 32766
MAX_FILE_BYTES = 100 * 1024 * 1024
# PNG text (tEXt/zTXt/iTXt) and ICC profile chunks: Pillow refuses one that inflates beyond 1 MB
# (PngImagePlugin.MAX_TEXT_CHUNK), which made a photo with a large XMP packet or printer profile "damaged". We
# allow up to this much per chunk; Pillow's total for all text chunks (MAX_TEXT_MEMORY, 64 MB) stays.
MAX_PNG_CHUNK_BYTES = 16 * 1024 * 1024

if PngImagePlugin.MAX_TEXT_CHUNK < MAX_PNG_CHUNK_BYTES:  # a bounded raise of Pillow's per-chunk limit
    PngImagePlugin.MAX_TEXT_CHUNK = MAX_PNG_CHUNK_BYTES

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


def check_shape(w: int, h: int, name: str = "The image", verb: str = "is", limit: int = MAX_DECLARED_PIXELS):
    """Refuse, in one sentence, a shape no MediaPipe graph can take or one above our pixel limit."""
    if max(w, h) > MAX_SIDE:
        raise ImageLoadError(f"{name} is {w}x{h} pixels; sides above {MAX_SIDE} px are not supported.")
    if w * h > limit:
        fmt = " for JPEG" if limit == MAX_DECLARED_JPEG_PIXELS else ""
        raise ImageLoadError(f"{name} {verb} {w}x{h} pixels ({w * h / 1e6:.0f} MP), more than the "
                             f"{limit / 1e6:.0f} MP we accept{fmt}.")


def _read_file(path: Path) -> tuple:
    """(bytes, name) of a regular file, with a sentence for everything else (never opens a FIFO or a device)."""
    name = path.name or str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(f"File not found: {name}.") from None
    except OSError as exc:
        raise ImageLoadError(f"{name} cannot be read ({exc.strerror or type(exc).__name__}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError(f"{name} is a folder, not a photo.")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ImageLoadError(f"{name} is {kind}, not a photo file.")
    if st.st_size == 0:
        raise ImageLoadError(f"{name} is empty (0 bytes).")
    if st.st_size > MAX_FILE_BYTES:
        raise ImageLoadError(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB.")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ImageLoadError(f"{name} cannot be read ({exc.strerror or type(exc).__name__}).") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageLoadError(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB.")
    return data, name


_BOMB = re.compile(r"\((\d+) pixels\)")


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "the uploaded data"
    elif isinstance(source, (str, os.PathLike)):
        data, name = _read_file(Path(source))
    else:
        raise ImageLoadError(f"Unsupported input type {type(source).__name__}; give a path, PIL image or array.")
    if not data:
        raise ImageLoadError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            # PIL warns above ~89 MP; our own MAX_DECLARED_PIXELS check below is the limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            jpeg = img.format == "JPEG"
            check_shape(w, h, name, "declares", MAX_DECLARED_JPEG_PIXELS if jpeg else MAX_DECLARED_PIXELS)
            img.info["declared_pixels"] = w * h  # before a draft decode shrinks it
            if w * h > MAX_WORKING_PIXELS:  # JPEG decodes at 1/2..1/8 scale: a fraction of the memory and time
                s = (MAX_WORKING_PIXELS / (w * h)) ** 0.5
                img.draft(None, (max(1, int(w * s)), max(1, int(h * s))))
            img.load()
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit (above ours): say what the header declared
        m = _BOMB.search(str(exc))
        size = f" ({int(m.group(1)) / 1e6:.0f} MP)" if m else ""
        raise ImageLoadError(f"{name} declares more pixels{size} than we accept ({MAX_DECLARED_PIXELS / 1e6:.0f} MP, "
                             f"{MAX_DECLARED_JPEG_PIXELS / 1e6:.0f} MP for JPEG).") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{name} is not an image we can read.") from None
    except ValueError as exc:
        if "MAX_TEXT" in str(exc):  # Pillow's PNG text/ICC chunk limits: the true reason, not "damaged"
            raise ImageLoadError(f"{name} carries a text or colour-profile (ICC) chunk larger than "
                                 f"{MAX_PNG_CHUNK_BYTES // 2**20} MB (or more than "
                                 f"{PngImagePlugin.MAX_TEXT_MEMORY // 2**20} MB of text in all); "
                                 f"such files are not supported.") from None
        raise ImageLoadError(f"{name} is damaged or truncated and cannot be decoded.") from None
    except (OSError, SyntaxError, EOFError, struct.error, IndexError):
        raise ImageLoadError(f"{name} is damaged or truncated and cannot be decoded.") from None
    return img


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    w, h = img.size
    check_shape(w, h, limit=MAX_DECLARED_JPEG_PIXELS if img.format == "JPEG" else MAX_DECLARED_PIXELS)
    try:
        img.seek(0)  # animated GIF/WebP/APNG: the first frame
    except (EOFError, AttributeError):
        pass
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block: the pixels are still good, show them as stored
        orientation = 1
    if img.mode in ("P", "PA", "1"):  # palette images cannot be resized smoothly
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    if w * h > MAX_WORKING_PIXELS:
        # Downscale in Pillow before any copy to numpy: a 100 MP PNG then costs one decoded copy, not four.
        s = (MAX_WORKING_PIXELS / (w * h)) ** 0.5
        size = (max(MIN_SIDE, int(w * s)), max(MIN_SIDE, int(h * s)))
        try:
            img = img.resize(size, Image.BILINEAR, reducing_gap=2.0)
        except (ValueError, OSError):  # a mode Pillow cannot resize: numpy does it below (_cap_size)
            pass
    if orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[orientation])
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        return _array_to_rgb(arr)
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageLoadError(f"An image array must be HxW, HxWx3 or HxWx4; got shape {arr.shape}.")
    if arr.size == 0:
        raise ImageLoadError("The image array is empty.")
    check_shape(arr.shape[1], arr.shape[0])
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
    return np.ascontiguousarray(arr)


def _cap_size(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageLoadError(f"The image is {w}x{h} pixels; each side must be at least {MIN_SIDE}.")
    check_shape(w, h)  # the last guard before any detector sees the pixels
    if w * h > MAX_WORKING_PIXELS:
        s = (MAX_WORKING_PIXELS / (w * h)) ** 0.5
        size = (max(MIN_SIDE, int(w * s)), max(MIN_SIDE, int(h * s)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
    return rgb
