"""Drawing a Result (core.render) on real photos: translucent fills, labels above every fill, readable label sizes."""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np
import pytest
from PIL import Image

from core import segment
from core.render import (GRADIO_MASK_OPACITY, LABEL_TEXT_SHARE, LEADER_GAP, OUTLINE_SHARE, PALETTE, PREVIEW_FILL,
                         annotate, fit, label_colour, label_tags, preview, text_colour)

from .conftest import EXAMPLES_DIR, PHOTOS, box_data_path

CARD = EXAMPLES_DIR / "01_card_thrower_gesturing_pxhere.jpg"  # 800 x 465: one face, both hands
PORTRAIT = EXAMPLES_DIR / "02_woman_hand_at_neck_publicdomainpictures.jpg"  # 1067 x 1600: face and hand
PREVIEW_PIXELS = 1_000_000  # app.py's: the portrait is shown downscaled, the card photo at its own size
# Real photos for the label layout: the examples, the test photos, and a street crowd with 15 faces (a CC0 photo of
# Kaggle's "Face Mask Detection", read from ../shared/data_boxes; skipped when absent).
LAYOUT_PHOTOS = sorted(p.name for p in EXAMPLES_DIR.glob("*.jpg")) + sorted(
    p.name for p in PHOTOS.iterdir() if p.suffix in (".jpg", ".png")) + ["facemask_kaggle/images/maksssksksss656.jpg"]


@pytest.fixture(scope="module")
def card():
    return segment(CARD)


@pytest.fixture(scope="module")
def portrait():
    return segment(PORTRAIT)


@pytest.fixture(scope="module")
def card_4000(card):
    """The card photo at 4000 px wide, as a large camera photo would come: segmented at that size."""
    big = Image.fromarray(card.image).resize((4000, 2325), Image.LANCZOS)
    return segment(np.asarray(big))


def with_backdrop(instances, shape):
    """The instances plus one more whose mask is the whole picture: every label tag then lies on some mask, so a
    fill drawn over a tag would show."""
    full = dataclasses.replace(instances[0], label="hand-7 (left)", kind="hand", mask=np.ones(shape[:2], bool),
                               box=(0, 0, shape[1] - 1, shape[0] - 1))
    return [full] + list(instances)


def shown_opacity(value: float) -> float:
    """What a visitor sees of a preview mask value: Gradio's AnnotatedImage writes alpha uint8(value * 255) and its
    CSS shows the layer at opacity .85."""
    return float(np.uint8(np.float32(value) * 255)) / 255 * GRADIO_MASK_OPACITY


def ink_rows(img, tag) -> int:
    """Height of the text's ink in a tag: rows holding pixels nearer the text colour than the tag colour."""
    x0, y0, x1, y1 = tag.rect
    sub = img[y0:y1, x0:x1].astype(int)
    near = np.abs(sub - text_colour(tag.colour)).sum(-1) < np.abs(sub - tag.colour).sum(-1)
    rows = np.flatnonzero(near.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def test_preview_masks_are_float_and_shown_about_40_percent_opaque(card, portrait):
    for result in (card, portrait):
        base, layers = preview(result.image, result.instances, PREVIEW_PIXELS)
        assert [label for _, label in layers] == [inst.label for inst in result.instances]
        for (mask, _), inst in zip(layers, result.instances):
            assert mask.dtype == np.float32 and mask.shape == base.shape[:2]
            assert np.unique(mask).tolist() == [0.0, pytest.approx(PREVIEW_FILL)]
            assert 0.35 <= shown_opacity(mask.max()) <= 0.45
    assert max(base.shape[:2]) < max(portrait.image.shape[:2])  # the portrait was shown downscaled


def test_gradio_writes_the_fill_as_a_40_percent_layer(card):
    """The same through Gradio's own AnnotatedImage: the alpha of the mask PNG it serves."""
    gr = pytest.importorskip("gradio")
    base, layers = preview(card.image, card.instances, PREVIEW_PIXELS)
    value = gr.AnnotatedImage().postprocess((base, layers))
    for ann in value.annotations:
        alpha = np.asarray(Image.open(ann.image.path))[:, :, 3]
        assert 0.35 <= alpha.max() / 255 * GRADIO_MASK_OPACITY <= 0.45, ann.label


def test_preview_masks_are_zero_under_every_label_tag(card, portrait):
    for result in (card, portrait):
        instances = with_backdrop(result.instances, result.image.shape)
        base, layers = preview(result.image, instances, PREVIEW_PIXELS)
        shown, shown_instances = fit(result.image, instances, PREVIEW_PIXELS)
        tags = label_tags(shown.shape, shown_instances)
        assert len(tags) == len(instances)
        for x0, y0, x1, y1 in (t.rect for t in tags):
            assert layers[0][0][y0:y1, x0:x1].size and not layers[0][0][y0:y1, x0:x1].any()  # the backdrop
            for mask, _ in layers:
                assert not mask[y0:y1, x0:x1].any()
        # ... and only there: the backdrop's fill covers the rest of the picture
        holes = sum((y1 - y0) * (x1 - x0) for x0, y0, x1, y1 in (t.rect for t in tags))
        assert (layers[0][0] == 0).sum() <= holes


@pytest.mark.parametrize("which", ["card", "portrait", "card_4000"])
def test_label_text_is_a_readable_share_of_the_picture(which, request):
    """The ink of "hand-1 (right)" (top of "(" to its bottom) is LABEL_TEXT_SHARE of the longer side plus the stroke
    (up to a quarter more), on the preview and on the downloadable photo (800-4000 px): 10 px or more when a phone
    shows the picture 324 px large."""
    result = request.getfixturevalue(which)
    shown, instances = fit(result.image, result.instances, PREVIEW_PIXELS)
    base, _ = preview(result.image, result.instances, PREVIEW_PIXELS)
    for img, insts in ((base, instances), (annotate(result.image, result.instances), result.instances)):
        h, w = img.shape[:2]
        tags = label_tags(img.shape, insts)
        hands = [t for t in tags if "(" in t.text]
        assert hands
        for tag in hands:
            share = ink_rows(img, tag) / max(h, w)
            assert LABEL_TEXT_SHARE <= share <= 1.25 * LABEL_TEXT_SHARE and share * 324 >= 10, (tag.text, share)
        for x0, y0, x1, y1 in (t.rect for t in tags):
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h  # on the picture


def test_label_tags_do_not_cover_each_other(portrait):
    # Two hands with the same box (the worst case of touching hands) still get two separate tags.
    inst = next(i for i in portrait.instances if i.kind == "hand")
    twins = [inst, dataclasses.replace(inst, label="hand-2 (left)")]
    a, b = (t.rect for t in label_tags(portrait.image.shape, twins))
    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_annotate_fill_is_a_40_percent_blend_of_photo_and_label_colour(card):
    out = annotate(card.image, card.instances)
    h, w = card.image.shape[:2]
    thick = max(1, round(max(h, w) * OUTLINE_SHARE))
    lines = np.zeros((h, w), np.uint8)  # every outline, box and tag, widened: not fill
    for inst in card.instances:
        box = tuple(int(round(v)) for v in inst.box)
        cv2.rectangle(lines, box[:2], box[2:], 1, thick + 4)
    for x0, y0, x1, y1 in (t.rect for t in label_tags(card.image.shape, card.instances)):
        lines[y0:y1, x0:x1] = 1
    kernel = np.ones((2 * thick + 5, 2 * thick + 5), np.uint8)
    for inst in card.instances:
        others = np.zeros((h, w), bool)
        for other in card.instances:
            if other is not inst:
                others |= other.mask
        inside = cv2.erode(inst.mask.astype(np.uint8), kernel).astype(bool) & ~others & ~lines.astype(bool)
        assert inside.sum() > 200, inst.label
        photo, drawn = card.image[inside].astype(float), out[inside].astype(float)
        c = np.array(label_colour(inst.label), float)
        far = np.abs(c - photo) > 60  # channels where the label colour differs enough from the photo to measure
        alpha = (drawn - photo)[far] / (c - photo)[far]
        assert far.sum() > 200 and 0.35 <= np.median(alpha) <= 0.45, (inst.label, np.median(alpha))


@pytest.mark.parametrize("which", ["card", "card_4000"])
def test_annotate_draws_every_label_tag_above_all_fills(which, request):
    """Each tag holds only its own colour and its text colour (and their anti-aliased mix), even where another
    instance's mask lies under it."""
    result = request.getfixturevalue(which)
    instances = with_backdrop(result.instances, result.image.shape)
    out = annotate(result.image, instances)
    for tag in label_tags(out.shape, instances):
        x0, y0, x1, y1 = tag.rect
        px = out[y0:y1, x0:x1].reshape(-1, 3).astype(float)
        c, t = np.array(tag.colour, float), np.array(text_colour(tag.colour), float)
        k = np.clip((px - c) @ (t - c) / ((t - c) @ (t - c)), 0, 1)  # where each pixel sits between the two
        off_line = np.linalg.norm(px - (c + k[:, None] * (t - c)), axis=1)
        assert off_line.max() <= 8, (tag.text, off_line.max())
        assert (np.abs(px - c).max(axis=1) == 0).mean() > 0.4, tag.text  # mostly the bare tag colour


@functools.lru_cache(maxsize=None)
def layout_photo(name: str):
    path = EXAMPLES_DIR / name if (EXAMPLES_DIR / name).exists() else PHOTOS / name
    return segment(path if path.exists() else box_data_path(name))


def rect_overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


@pytest.mark.parametrize("name", LAYOUT_PHOTOS)
def test_label_tags_never_cover_their_own_mask_nor_another_tag(name):
    """On the downloadable photo and on the preview: no tag covers a pixel of the mask it names (a hand's fingers)
    or another tag, every tag lies on the picture, and a tag away from its mask has a leader line to it."""
    result = layout_photo(name)
    assert result.instances, name
    shown, shown_instances = fit(result.image, result.instances, PREVIEW_PIXELS)
    for img, instances in ((result.image, result.instances), (shown, shown_instances)):
        h, w = img.shape[:2]
        tags = label_tags(img.shape, instances)
        assert [t.text for t in tags] == [inst.label for inst in instances]
        for k, (tag, inst) in enumerate(zip(tags, instances)):
            x0, y0, x1, y1 = tag.rect
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, tag
            assert not inst.mask[y0:y1, x0:x1].any(), (name, tag.text, "covers its own mask")
            for other in tags[k + 1:]:
                assert rect_overlap(tag.rect, other.rect) == 0, (name, tag.text, other.text)
            ys, xs = np.nonzero(inst.mask)
            gap = np.sqrt(np.min(np.maximum(np.maximum(x0 - xs, xs - (x1 - 1)), 0) ** 2
                                 + np.maximum(np.maximum(y0 - ys, ys - (y1 - 1)), 0) ** 2))
            tag_h = y1 - y0
            if tag.leader is None:
                assert gap <= LEADER_GAP * tag_h + 0.5, (name, tag.text, gap)
            else:
                (ax, ay), (bx, by) = tag.leader
                assert x0 <= ax < x1 and y0 <= ay < y1 and inst.mask[by, bx], (name, tag.text, tag.leader)
                assert np.hypot(ax - bx, ay - by) <= gap + 2 * tag_h, (name, tag.text, "leader too long")


@pytest.mark.parametrize("name", LAYOUT_PHOTOS)
def test_every_label_in_a_photo_has_its_own_colour(name):
    result = layout_photo(name)
    colours = [label_colour(inst.label) for inst in result.instances]
    assert len(set(colours)) == len(colours), [inst.label for inst in result.instances]
    tags = label_tags(result.image.shape, result.instances)
    assert [t.colour for t in tags] == [tuple(c) for c in colours]


def test_label_colour_gives_64_distinct_colours():
    """Every label one photo can hold (core.options: up to 40 faces and 24 hands) has a colour of its own, fixed by
    the label text (a hand's side does not change it); the first faces and hands keep their Okabe-Ito colours; text
    on every colour is readable."""
    labels = [f"face-{n}" for n in range(1, 41)] + [f"hand-{n}" for n in range(1, 25)]
    colours = np.array([label_colour(lab) for lab in labels], float)
    d = np.linalg.norm(colours[:, None] - colours[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 30, d.min()  # Euclidean RGB; the palette's closest pair is 33 apart
    for n in range(1, 25):
        assert label_colour(f"hand-{n} (left)") == label_colour(f"hand-{n} (right)") == label_colour(f"hand-{n}")
    assert [label_colour(f"face-{n}") for n in (1, 2, 3)] == [(230, 159, 0), (86, 180, 233), (0, 158, 115)]
    assert [label_colour(f"hand-{n}") for n in (1, 2, 3)] == [(240, 228, 66), (0, 114, 178), (213, 94, 0)]

    def luminance(c):
        lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in np.asarray(c) / 255]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for c in PALETTE:
        lo, hi = sorted((luminance(c), luminance(text_colour(c))))
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, c  # WCAG AA for text


def test_a_mask_over_the_whole_picture_still_gets_its_tag_on_the_picture(card):
    """No spot is free of a mask that covers the picture: its tag takes a spot anyway, covers no other tag, and the
    other instances' tags still keep off their own masks."""
    instances = with_backdrop(card.instances, card.image.shape)
    tags = label_tags(card.image.shape, instances)
    for k, (tag, inst) in enumerate(zip(tags, instances)):
        x0, y0, x1, y1 = tag.rect
        assert 0 <= x0 < x1 <= card.image.shape[1] and 0 <= y0 < y1 <= card.image.shape[0]
        assert all(rect_overlap(tag.rect, other.rect) == 0 for other in tags[k + 1:])
        if k:
            assert not inst.mask[y0:y1, x0:x1].any(), tag.text
