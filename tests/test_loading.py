"""Loading: every input kind and image mode becomes RGB uint8 as the user sees it; bad input is a clear error."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.loading import ImageLoadError, load_image


def _png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_path_pil_array_and_bytes_agree(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    p = tmp_path / "x.png"
    Image.fromarray(rgb).save(p)
    for src in (p, str(p), p.read_bytes(), Image.fromarray(rgb), rgb):
        out = load_image(src)
        assert out.dtype == np.uint8 and out.shape == (40, 60, 3)
        assert np.array_equal(out, rgb)


def test_exif_orientation_is_applied(tmp_path):
    # A 60 wide x 40 high photo stored with orientation 6 ("rotate 90 CW to view") is 40 wide x 60 high on screen.
    img = Image.new("RGB", (60, 40), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 40))  # blue stripe on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rotated.jpg"
    img.save(p, exif=exif.tobytes(), quality=95)
    out = load_image(p)
    assert out.shape == (60, 40, 3)
    assert out[2, 20, 2] > 200 and out[2, 20, 0] < 60  # the stored left edge is now the top


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "1"])
def test_modes_become_rgb(mode, tmp_path):
    base = Image.new("RGB", (32, 24), (200, 100, 50))
    img = base.convert(mode) if mode != "I;16" else Image.new("I;16", (32, 24), 40000)
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    p = tmp_path / f"img.{fmt.lower()}"
    img.save(p, format=fmt)
    out = load_image(p)
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8
    if mode == "I;16":  # 16-bit values are scaled, not clipped: 40000/65535 of white
        assert abs(int(out[0, 0, 0]) - round(40000 / 257)) <= 1


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    out = load_image(rgba)
    assert (out == 255).all()


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 255, 0)]]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    out = load_image(p)
    assert out[0, 0, 0] > 200 and out[0, 0, 1] < 60


def test_16bit_array_is_scaled():
    arr = np.full((10, 10), 65535, np.uint16)
    assert (load_image(arr) == 255).all()


@pytest.mark.parametrize("content,expect", [
    (b"", "empty"),
    (b"%PDF-1.4 this is not an image", "not an image"),
])
def test_bad_files_are_clear_errors(tmp_path, content, expect):
    p = tmp_path / "photo.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageLoadError, match=expect):
        load_image(p)


def test_truncated_jpeg_is_a_clear_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(ImageLoadError, match="damaged or truncated"):
        load_image(p)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # A tiny PNG whose header declares 30000 x 30000 pixels.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    p = tmp_path / "bomb.png"
    p.write_bytes(png)
    with pytest.raises(ImageLoadError, match="more"):
        load_image(p)


def test_tiny_and_missing_inputs():
    with pytest.raises(ImageLoadError, match="at least"):
        load_image(np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(ImageLoadError, match="not found"):
        load_image("/no/such/photo.jpg")
    with pytest.raises(ImageLoadError):
        load_image(None)
    with pytest.raises(ImageLoadError, match="shape"):
        load_image(np.zeros((5, 5, 2), np.uint8))


def test_huge_photo_is_downscaled_to_the_working_cap():
    from core.loading import MAX_WORKING_PIXELS

    out = load_image(np.zeros((6000, 5000, 3), np.uint8))
    assert out.shape[0] * out.shape[1] <= MAX_WORKING_PIXELS
    assert abs(out.shape[1] / out.shape[0] - 5000 / 6000) < 0.01


# ------------------------------------------------------------------ shapes MediaPipe cannot take (issue 9, item 1)

def _flat_png(tmp_path, w, h, name="strip.png"):
    p = tmp_path / name
    Image.new("RGB", (w, h), (90, 90, 90)).save(p)
    return p


def _png_header_only(path, w, h):
    """A PNG whose header declares w x h pixels, with almost no data (refused before decoding, never read)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    path.write_bytes(png + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("w,h", [(32766, 8), (8, 32766), (32765, 8), (20000, 64)])
def test_sides_up_to_the_mediapipe_limit_load(tmp_path, w, h):
    from core.loading import MAX_SIDE

    assert MAX_SIDE == 32766  # measured: every graph aborts from 32767 px on (bench/shape_limits.py)
    assert load_image(_flat_png(tmp_path, w, h)).shape == (h, w, 3)


@pytest.mark.parametrize("w,h", [(32767, 8), (8, 32767), (33000, 8), (8, 33000)])
def test_sides_above_the_mediapipe_limit_are_refused_in_one_sentence(tmp_path, w, h):
    p = _flat_png(tmp_path, w, h, "x.png")
    with pytest.raises(ImageLoadError) as info:
        load_image(p)
    assert str(info.value) == f"x.png is {w}x{h} pixels; sides above 32766 px are not supported."
    with pytest.raises(ImageLoadError, match="sides above 32766 px"):
        load_image(np.zeros((h, w, 3), np.uint8))  # arrays and PIL images too
    with pytest.raises(ImageLoadError, match="sides above 32766 px"):
        load_image(Image.new("RGB", (w, h)))


def test_extreme_shape_still_extreme_after_the_working_downscale_is_refused_from_the_header(tmp_path):
    # 200000 x 200 is 40 MP: the working downscale alone would leave 154919 x 154.
    p = _png_header_only(tmp_path / "long.png", 200000, 200)
    with pytest.raises(ImageLoadError, match=r"^long.png is 200000x200 pixels; sides above 32766 px"):
        load_image(p)


def test_the_pipeline_survives_the_largest_accepted_sides():
    """Run in a subprocess: if a graph still aborted on these shapes, it would take pytest down with it."""
    import subprocess
    import sys

    from .conftest import REPO

    code = ("import numpy as np\nfrom core import segment\n"
            "for w, h in ((32766, 8), (8, 32766)):\n"
            "    img = np.full((h, w, 3), 127, np.uint8)\n"
            "    r = segment(img, backend='landmarks')\n"
            "    assert r.image.shape == (h, w, 3) and r.annotated.shape == (h, w, 3)\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stderr[-2000:])


# ------------------------------------------------------------- true reasons, our own pixel limit (issue 9, item 6)

def test_fifo_and_devices_are_named_for_what_they_are(tmp_path):
    import os

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError) as info:
        load_image(fifo)  # never opened: opening a FIFO with no writer would block forever
    assert str(info.value) == "photo.jpg is a named pipe (FIFO), not a photo file."
    with pytest.raises(ImageLoadError) as info:
        load_image("/dev/zero")
    assert str(info.value) == "zero is a device, not a photo file."
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def _png_with(tmp_path, name, **save):
    p = tmp_path / name
    Image.new("RGB", (64, 48), (200, 120, 90)).save(p, **save)
    return p


def test_large_text_and_icc_chunks_are_accepted_up_to_a_bound(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("XML:com.adobe.xmp", "x" * (3 * 2**20), zip=True)  # a 3 MB XMP packet (Pillow's own cap: 1 MB)
    for p in (_png_with(tmp_path, "xmp.png", pnginfo=text),
              _png_with(tmp_path, "icc.png", icc_profile=b"\0" * (3 * 2**20))):  # a 3 MB printer profile
        out = load_image(p)
        assert out.shape == (48, 64, 3) and tuple(out[0, 0]) == (200, 120, 90)


def test_chunk_beyond_the_bound_is_refused_with_the_true_reason(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("comment", "x" * (20 * 2**20), zip=True)  # 20 MB of text in a ~20 KB file
    with pytest.raises(ImageLoadError) as info:
        load_image(_png_with(tmp_path, "note.png", pnginfo=text))
    assert str(info.value).startswith("note.png carries a text or colour-profile (ICC) chunk larger than 16 MB")
    assert "damaged" not in str(info.value)


def test_our_pixel_limit_applies_before_decoding_and_before_pillows(tmp_path):
    from core.loading import MAX_DECLARED_JPEG_PIXELS, MAX_DECLARED_PIXELS

    assert MAX_DECLARED_PIXELS == 50_000_000 and MAX_DECLARED_JPEG_PIXELS == 150_000_000
    # Just above our limit: ours, with the size, not "damaged" (the header-only file cannot be decoded).
    p = _png_header_only(tmp_path / "big.png", 7100, 7100)
    with pytest.raises(ImageLoadError) as info:
        load_image(p)
    assert str(info.value) == "big.png declares 7100x7100 pixels (50 MP), more than the 50 MP we accept."
    # 177 MP (the audit's 500 KB PNG) and 190 MP (above Pillow's 179 MP bomb limit): both ours.
    for side, mp in ((13304, 177), (13784, 190)):
        with pytest.raises(ImageLoadError) as info:
            load_image(_png_header_only(tmp_path / "huge.png", side, side))
        assert str(info.value).startswith("huge.png declares") and f"({mp} MP)" in str(info.value)
        assert "50 MP" in str(info.value)
