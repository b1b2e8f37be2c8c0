"""Every kind of upload a public Space gets, sent to the running app through gradio_client.

Each bad file gets one clear sentence (no traceback) and each odd-but-valid photo gets a result; at the end the
same server still answers a normal photo and its log holds no traceback. Decoding rules themselves are unit-tested
in test_loading.py; this file checks what a visitor of the served app sees.
"""
from __future__ import annotations

import io
import json
import os
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from .conftest import PHOTOS
from .live_server import serve_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402



DOWNLOADS_KEEP = 3


@pytest.fixture(scope="module")
def server_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("server-tmp")  # the server's TMPDIR: its download folders are counted here


@pytest.fixture(scope="module")
def server(server_tmp):
    env = {"TMPDIR": str(server_tmp), "DOWNLOADS_KEEP": str(DOWNLOADS_KEEP)}
    with serve_app(env=env) as (url, proc, log):
        yield gradio_client.Client(url, verbose=False), proc, log


@pytest.fixture(scope="module")
def client(server):
    return server[0]


def ask(client, path):
    annotated, status, files, *_ = client.predict(gradio_client.handle_file(str(path)), "landmarks", 0.5, 6, 1.5,
                                                  "", api_name="/segment")
    return annotated, status, files


def refused(client, path, *phrases) -> str:
    with pytest.raises(AppError) as info:
        ask(client, path)
    msg = str(info.value).strip()
    assert "\n" not in msg and "Traceback" not in msg and 'File "' not in msg, msg
    for phrase in phrases:
        assert phrase in msg, msg
    return msg


def outputs(files) -> tuple:
    """(result.json as dict, {label: bool mask}) from the downloads."""
    archive = next(f for f in files if f.endswith("masks.zip"))
    with zipfile.ZipFile(archive) as z:
        doc = json.loads(z.read("result.json"))
        masks = {}
        for inst in doc["instances"]:
            with Image.open(io.BytesIO(z.read(inst["mask_file"]))) as im:
                masks[inst["label"]] = np.asarray(im) == 255
    return doc, masks


def face_photo() -> Image.Image:
    return Image.open(PHOTOS / "grace_hopper.jpg").convert("RGB")  # 512 x 600, one face


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


# ------------------------------------------------------------------------------------ refused, one sentence

def test_empty_file(client, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    refused(client, tmp_path / "empty.jpg", "empty.jpg is empty (0 bytes).")


def test_truncated_jpeg(client, tmp_path):
    data = jpeg_bytes(face_photo())
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    refused(client, tmp_path / "cut.jpg", "cut.jpg is damaged or truncated")


def test_non_image_renamed_jpg(client, tmp_path):
    (tmp_path / "holiday.jpg").write_text("<!doctype html><html><body>not a photo</body></html>")
    refused(client, tmp_path / "holiday.jpg", "holiday.jpg is not an image we can read.")


def test_decompression_bomb(client, tmp_path):
    """A 200-byte PNG whose header declares 30000 x 30000 pixels: refused before any pixel is decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    refused(client, tmp_path / "bomb.png", "bomb.png declares", "more")


def test_one_pixel_image(client, tmp_path):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "dot.png")
    refused(client, tmp_path / "dot.png", "1x1 pixels", "at least")


# ------------------------------------------------------------------------------- odd but valid: a result

def test_huge_photo_is_downscaled_and_masks_match_the_cap(client, tmp_path):
    from core.loading import MAX_WORKING_PIXELS

    big = Image.new("RGB", (12000, 12000), (120, 140, 160))
    big.paste(face_photo().resize((2560, 3000)), (4000, 3000))
    big.save(tmp_path / "huge.jpg", quality=85)
    annotated, status, files = ask(client, tmp_path / "huge.jpg")
    with Image.open(annotated["image"]) as shown:  # the viewer gets a <= 1 MP overlay, not the 16 MP photo
        assert shown.width * shown.height <= 1_000_000 and abs(shown.width - shown.height) <= 1
    doc, masks = outputs(files)
    side = doc["width"]
    assert doc["height"] == side and side * side <= MAX_WORKING_PIXELS and side >= 0.99 * MAX_WORKING_PIXELS ** 0.5
    assert list(masks) == ["face-1"] and masks["face-1"].shape == (side, side)
    ys, xs = np.nonzero(masks["face-1"])  # the face is where it was pasted, in capped coordinates
    scale = side / 12000
    assert 4000 * scale < xs.mean() < 6560 * scale and 3000 * scale < ys.mean() < 6000 * scale


def test_long_thin_image(client, tmp_path):
    Image.new("RGB", (4000, 10), (90, 90, 90)).save(tmp_path / "strip.png")
    annotated, status, files = ask(client, tmp_path / "strip.png")
    assert status.startswith("**No face or hand found") and annotated["annotations"] == []
    doc, _ = outputs(files)
    assert (doc["width"], doc["height"]) == (4000, 10)


@pytest.mark.parametrize("w,h", [(8, 20000), (20000, 8), (20000, 50), (16384, 8)])
def test_photos_thinner_than_webp_allows_are_shown_smaller_and_said_so(client, tmp_path, w, h):
    """Gradio sends the shown overlay as WebP (16383 px a side at most): these photos answered "Could not
    postprocess output component at index 0 ... encoding error 5: Image size exceeds WebP limit", with pixel
    values. The overlay is shown smaller, the status says so, and the downloads keep the photo's size."""
    Image.new("RGB", (w, h), (90, 90, 90)).save(tmp_path / "thin.png")
    annotated, status, files = ask(client, tmp_path / "thin.png")
    with Image.open(annotated["image"]) as shown:
        assert max(shown.size) <= 16383 and (shown.size[0] < shown.size[1]) == (w < h), shown.size
        said = f"The photo is shown at {shown.size[0]}x{shown.size[1]} px"
    assert said in status and f"the downloads keep its {w}x{h}." in status, status
    doc, _ = outputs(files)
    assert (doc["width"], doc["height"]) == (w, h)
    with Image.open(next(f for f in files if f.endswith("_annotated.png"))) as png:
        assert png.size == (w, h)


def test_sixteen_bit_pngs(client, tmp_path):
    import cv2

    grey16 = (np.asarray(face_photo().convert("L"), np.uint16) * 257)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    rgb16 = np.asarray(face_photo(), np.uint16) * 257
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[:, :, ::-1])
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    for name in ("grey16.png", "rgb16.png"):
        annotated, status, _ = ask(client, tmp_path / name)
        assert [a["label"] for a in annotated["annotations"]] == ["face-1"], (name, status)


def test_cmyk_jpeg(client, tmp_path):
    face_photo().convert("CMYK").save(tmp_path / "print.jpg", quality=92)
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    annotated, _, _ = ask(client, tmp_path / "print.jpg")
    assert [a["label"] for a in annotated["annotations"]] == ["face-1"]


def test_palette_png_with_transparency(client, tmp_path):
    face = face_photo().quantize(255)  # palette indices 0..254; 255 is the transparent border
    canvas = Image.new("P", (face.width + 200, face.height + 200), 255)
    canvas.putpalette(face.getpalette()[: 255 * 3] + [0, 0, 0])
    canvas.paste(face, (100, 100))
    canvas.save(tmp_path / "sticker.png", transparency=255)
    annotated, _, files = ask(client, tmp_path / "sticker.png")
    assert [a["label"] for a in annotated["annotations"]] == ["face-1"]
    doc, _ = outputs(files)
    assert (doc["width"], doc["height"]) == (face.width + 200, face.height + 200)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_image_uses_the_first_frame(client, tmp_path, fmt):
    face, blank = face_photo(), Image.new("RGB", face_photo().size, (128, 128, 128))
    for order, expect in (((face, blank), ["face-1"]), ((blank, face), [])):
        path = tmp_path / f"anim_{len(expect)}.{fmt.lower()}"
        order[0].save(path, format=fmt, save_all=True, append_images=[order[1]], duration=200, loop=0)
        assert getattr(Image.open(path), "n_frames", 1) == 2
        annotated, _, _ = ask(client, path)
        assert [a["label"] for a in annotated["annotations"]] == expect


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_photo_masks_line_up_with_what_the_user_sees(client, tmp_path, orientation):
    upright = face_photo()
    # Stored pixels such that applying the EXIF orientation gives the upright photo back.
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    stored = upright.transpose(undo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    (tmp_path / "phone.jpg").write_bytes(jpeg_bytes(stored, exif=exif.tobytes()))
    (tmp_path / "upright.jpg").write_bytes(jpeg_bytes(upright))

    _, ref = outputs(ask(client, tmp_path / "upright.jpg")[2])
    doc, got = outputs(ask(client, tmp_path / "phone.jpg")[2])
    assert (doc["width"], doc["height"]) == upright.size
    assert list(got) == list(ref) == ["face-1"]
    a, b = got["face-1"], ref["face-1"]
    assert a.shape == b.shape == (upright.height, upright.width)
    assert (a & b).sum() / (a | b).sum() > 0.9  # same place on screen (JPEG re-encoding differs slightly)


def test_photo_with_no_people(client, tmp_path):
    rng = np.random.default_rng(7)
    sky = np.linspace([90, 140, 220], [230, 240, 250], 300)[:, None, :].repeat(400, axis=1)
    land = sky + rng.normal(0, 6, sky.shape)
    Image.fromarray(np.clip(land, 0, 255).astype(np.uint8)).save(tmp_path / "landscape.png")
    annotated, status, files = ask(client, tmp_path / "landscape.png")
    assert status.startswith("**No face or hand found") and annotated["annotations"] == []
    coco = json.loads(open(next(f for f in files if f.endswith("coco.json"))).read())
    assert coco["annotations"] == [] and coco["images"][0]["width"] == 400


def _crowd(tmp_path) -> str:
    """12 public-domain portraits (examples/) in a 4 x 3 grid."""
    faces = [face_photo().resize((256, 300)), Image.open(PHOTOS / "astronaut.png").convert("RGB").resize((256, 300))]
    grid = Image.new("RGB", (256 * 4, 300 * 3), (200, 200, 200))
    for k in range(12):
        grid.paste(faces[k % 2], ((k % 4) * 256, (k // 4) * 300))
    path = tmp_path / "crowd.png"
    grid.save(path)
    return path


def test_many_faces_are_each_labelled_once(client, tmp_path):
    annotated, status, files = ask(client, _crowd(tmp_path))
    labels = [a["label"] for a in annotated["annotations"]]
    assert labels == [f"face-{n}" for n in range(1, len(labels) + 1)] and len(labels) >= 5
    doc, masks = outputs(files)
    total = sum(m.astype(int) for m in masks.values())
    assert total.max() == 1  # no pixel belongs to two faces


def test_ten_or_more_faces_are_all_found(client, tmp_path):
    annotated, _, _ = ask(client, _crowd(tmp_path))
    assert len(annotated["annotations"]) >= 10


# ------------------------------------------------------------------------------- issue 9: hostile requests

@pytest.mark.parametrize("w,h", [(32767, 8), (8, 33000)])
def test_shape_that_aborts_mediapipe_is_refused_and_the_server_lives(server, tmp_path, w, h):
    """An 870-byte 32767x8 PNG used to abort the whole server process (SIGABRT in MediaPipe's OpenCV code)."""
    client, proc, _ = server
    Image.new("RGB", (w, h), (90, 90, 90)).save(tmp_path / "strip.png")
    refused(client, tmp_path / "strip.png", f"strip.png is {w}x{h} pixels; sides above 32766 px are not supported.")
    assert proc.poll() is None
    annotated, _, _ = ask(client, PHOTOS / "astronaut.png")
    assert [a["label"] for a in annotated["annotations"]] == ["face-1"]


@pytest.mark.parametrize("position,value,phrase", [
    (2, float("nan"), "min_confidence must be a number from 0 to 1 (got nan)."),
    (3, float("nan"), "max_hands must be a whole number from 1 to 24 (got nan)."),
    (4, float("nan"), "box_scale must be a number from 1 to 4 (got nan)."),
    (3, 6.5, "max_hands must be a whole number from 1 to 24 (got 6.5)."),
])
def test_nan_and_odd_slider_values_through_the_api_get_one_sentence(server, position, value, phrase):
    """Raw HTTP, as the audit did: gradio_client itself refuses to encode NaN, a hostile caller does not."""
    import httpx

    base = server[0].src.rstrip("/")
    with open(PHOTOS / "astronaut.png", "rb") as fh:
        uploaded = httpx.post(f"{base}/gradio_api/upload", files={"files": ("astronaut.png", fh)}).json()[0]
    args = [{"path": uploaded, "meta": {"_type": "gradio.FileData"}, "orig_name": "astronaut.png"},
            "landmarks", 0.5, 6, 1.5, "", "off", "blur"]
    args[position] = value
    body = json.dumps({"data": args})  # NaN as the bare literal Python's json writes
    event = httpx.post(f"{base}/gradio_api/call/segment", content=body,
                       headers={"Content-Type": "application/json"}).json()["event_id"]
    stream = httpx.get(f"{base}/gradio_api/call/segment/{event}", timeout=60).text
    assert "event: error" in stream, stream
    assert phrase in stream and "cannot convert" not in stream and "Traceback" not in stream, stream


def _call(base: str, api: str, args: list) -> str:
    """POST /gradio_api/call/<api> as any HTTP caller may (no client-side checks); the event stream's text."""
    import httpx

    event = httpx.post(f"{base}/gradio_api/call/{api}", json={"data": args}).json()["event_id"]
    return httpx.get(f"{base}/gradio_api/call/{api}/{event}", timeout=120).text


def _uploaded(base: str, path) -> dict:
    import httpx

    with open(path, "rb") as fh:
        uploaded = httpx.post(f"{base}/gradio_api/upload", files={"files": (path.name, fh)}).json()[0]
    return {"path": uploaded, "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}


def _error(stream: str) -> str:
    """The one message of an error event."""
    assert "event: error" in stream, stream[:500]
    message = json.loads(stream.split("event: error", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
    message = message["error"] if isinstance(message, dict) else message
    assert message and "\n" not in message.strip() and "Traceback" not in message and "Value:" not in message, message
    assert len(message) < 200, message[:300]  # never the caller's long value echoed back
    return message


LONG = "x" * 100_000


@pytest.mark.parametrize("api,position,value,phrase", [
    ("segment", 6, "bogus", 'anonymise must be one of "off", "faces", "hands", "all".'),
    ("segment", 7, LONG, 'anonymise_style must be one of "blur", "pixelate", "fill".'),
    ("segment", 1, LONG, 'backend must be one of "auto", "landmarks", "replicate", "sam2".'),
    ("segment", 3, LONG, "max_hands must be a whole number from 1 to 24 (got 'xxxxxxxxx"),
    ("segment", 2, [0.5, 0.6], "min_confidence must be a number from 0 to 1 (got [0.5, 0.6])."),
    ("segment_json", 6, "bogus", 'anonymise must be one of "off", "faces", "hands", "all".'),
    ("segment_json", 3, 6.5, "max_hands must be a whole number from 1 to 24 (got 6.5)."),
    ("segment_json", 4, "wide", "box_scale must be a number from 1 to 4 (got 'wide')."),
])
def test_bad_choices_and_values_through_the_api_get_our_one_sentence(server, api, position, value, phrase):
    """Gradio checked radio, dropdown and number values before our code ran and answered in its own words
    ("Value: 'bogus' (type: <class 'str'>) is not in the list of choices: [...]"), echoing a 100,000-character
    value whole."""
    base = server[0].src.rstrip("/")
    args = [_uploaded(base, PHOTOS / "astronaut.png"), "landmarks", 0.5, 6, 1.5, "", "off", "blur"]
    args[position] = value
    message = _error(_call(base, api, args))
    assert phrase in message, message


def test_a_bad_video_choice_gets_our_sentence(server):
    from .conftest import EXAMPLES_DIR

    base = server[0].src.rstrip("/")
    clip = _uploaded(base, EXAMPLES_DIR / "asl_walk_intel.mp4")
    for args, phrase in (([clip, LONG, 0.5, 6], 'anonymise must be one of "off", "faces", "hands", "all".'),
                         ([clip, "off", 0.5, LONG], "max_hands must be a whole number from 1 to 24 (got 'xxx")):
        message = _error(_call(base, "segment_video", args))
        assert phrase in message, message


def test_a_click_mode_other_than_add_or_cut_and_a_click_at_minus_zero_get_our_sentences(server):
    """The page's click event over the queue, as the browser sends it: a mode other than add/cut got Gradio's
    list-of-choices text; a click at [-0.0, -0.0] was reported as "(-0, -0)"."""
    from .live_server import QueueVisitor

    base = server[0].src
    visitor = QueueVisitor(base, "clicks")
    photo = visitor.upload(PHOTOS / "astronaut.png")

    def click(mode, index) -> str:
        settings = [photo, "landmarks", 0.5, 6, 1.5, "", "off", "blur", mode]
        body = {"data": settings, "fn_index": visitor.fn_index("on_click_photo"), "session_hash": visitor.session,
                "trigger_id": None, "event_data": {"index": index, "value": None, "selected": False}}
        event = visitor.http.post(base + "gradio_api/queue/join", json=body).json()["event_id"]
        visitor._listen()
        done = visitor.wait_for(lambda m: m.get("event_id") == event and m.get("msg") == "process_completed")
        assert done is not None and done.get("success"), done
        return done["output"]["data"][1]

    said = click("bogus" * 20_000, [10, 10])
    assert said == 'A click is "add" (Click adds) or "cut" (Click cuts); choose one above the settings.', said
    said = click("add", [-0.0, -0.0])
    assert "(0, 0)" in said and "-0" not in said, said


def test_upload_above_the_loader_limit_is_refused_by_the_server(client, tmp_path):
    """launch(max_file_size=...) equals core.loading.MAX_FILE_BYTES: a larger upload is not even stored."""
    from core.loading import MAX_FILE_BYTES

    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used here
    with pytest.raises(Exception) as info:
        ask(client, big)
    assert "Traceback" not in str(info.value)
    assert "size" in str(info.value).lower() or "413" in str(info.value), str(info.value)
    # A raw HTTP upload (no client-side check): the server itself refuses it.
    import httpx

    with open(big, "rb") as fh:
        answer = httpx.post(f"{client.src.rstrip('/')}/gradio_api/upload", files={"files": ("big.png", fh)}, timeout=60)
    assert answer.status_code == 413, (answer.status_code, answer.text[:200])


def test_download_folders_are_pruned_by_count_and_age(server, server_tmp):
    client = server[0]
    root = server_tmp / "face-hand-segmentation" / "photos"  # clips have a root of their own (test_video_queue)
    old = root / "tmp_from_an_hour_ago"
    old.mkdir(parents=True, exist_ok=True)
    (old / "annotated.png").write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    for _ in range(DOWNLOADS_KEEP + 2):
        _, _, files = ask(client, PHOTOS / "astronaut.png")
        assert all(os.path.getsize(f) > 0 for f in files)  # what the client got is complete
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert not old.exists() and len(folders) <= DOWNLOADS_KEEP + 1, folders


# -------------------------------------------------------------------------------------------- still serving

def test_server_still_serves_after_all_of_the_above(server):
    client, proc, log = server
    annotated, status, _ = ask(client, PHOTOS / "astronaut.png")
    assert [a["label"] for a in annotated["annotations"]] == ["face-1"] and "Offline masks from landmarks" in status
    assert proc.poll() is None
    assert "Traceback" not in log.read_text()
