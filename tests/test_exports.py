"""Exports: COCO instance JSON (RLE round trip bit for bit), the masks zip with cut-outs, download names that carry
the photo's name, and the merged folder document."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from core import segment
from core.cutouts import cutouts
from core.effects import anonymise
from core.export import (coco_document, decode_rle, download_stem, encode_rle, merge_coco, safe_name, write_coco,
                         write_downloads, write_result)

from .conftest import face_and_hands


@pytest.fixture(scope="module")
def result():
    return segment(face_and_hands(), backend="landmarks")


def test_rle_round_trip_is_exact_for_awkward_masks():
    rng = np.random.default_rng(3)
    masks = [
        rng.random((37, 53)) > 0.5,  # salt and pepper: the longest RLE
        np.zeros((20, 30), bool),  # empty
        np.ones((20, 30), bool),  # full
    ]
    edge = np.zeros((15, 9), bool)
    edge[0, :] = edge[-1, -1] = edge[:, 0] = True  # touches every border, one isolated corner pixel
    masks.append(edge)
    for mask in masks:
        rle = json.loads(json.dumps(encode_rle(mask)))  # through JSON text, as a file reader sees it
        assert rle["size"] == list(mask.shape) and isinstance(rle["counts"], str)
        back = decode_rle(rle)
        assert back.dtype == bool and back.shape == mask.shape
        assert np.array_equal(back, mask)


def test_coco_document_decodes_back_to_the_masks_bit_for_bit(result, tmp_path):
    assert [i.label for i in result.instances] == ["face-1", "hand-1 (right)", "hand-2 (left)"]
    path = write_coco(result, tmp_path / "coco.json", file_name="01.jpg")
    coco = COCO(str(path))  # the reference reader loads it
    h, w = result.image.shape[:2]  # EgoHands 01: 1280x720; the example: 800x465
    assert coco.imgs == {1: {"id": 1, "file_name": "01.jpg", "width": w, "height": h}}
    assert {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())} == {"face": 1, "hand": 2}
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert len(anns) == len(result.instances)
    for ann, inst in zip(anns, result.instances):
        mask = coco.annToMask(ann).astype(bool)
        assert mask.shape == (h, w)
        assert np.array_equal(mask, inst.mask)  # bit for bit
        assert ann["area"] == int(inst.mask.sum()) > 0
        x0, y0, x1, y1 = inst.box
        assert ann["bbox"] == [x0, y0, x1 - x0, y1 - y0]
        ys, xs = np.nonzero(inst.mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)  # box is the mask's extent
        assert coco.cats[ann["category_id"]]["name"] == inst.kind
        assert ann["handedness"] == inst.handedness and ann["label"] == inst.label
        assert 0 < ann["score"] <= 1 and ann["iscrowd"] == 0
    assert [a["handedness"] for a in anns] == [None, "right", "left"]


def test_downloads_hold_exact_pngs_and_both_jsons(result, tmp_path):
    files = write_downloads(result, tmp_path / "dl", source_name="01.jpg")
    names = [f.rsplit("/", 1)[-1] for f in files]
    assert names == ["01_annotated.png", "01_masks.zip", "01_result.json", "01_coco.json"]
    labels = ["face-1", "hand-1_right", "hand-2_left"]
    with zipfile.ZipFile(tmp_path / "dl" / "01_masks.zip") as z:
        assert sorted(z.namelist()) == sorted(["coco.json", "result.json"] + [f"masks/{n}.png" for n in labels]
                                              + [f"cutouts/{n}.png" for n in labels])
        doc = json.loads(z.read("coco.json"))
        for inst, ann in zip(result.instances, doc["annotations"]):
            with Image.open(io.BytesIO(z.read(f"masks/{safe_name(inst.label)}.png"))) as im:
                assert np.array_equal(np.asarray(im) == 255, inst.mask)
            assert np.array_equal(decode_rle(ann["segmentation"]), inst.mask)
        for label, rgba in cutouts(result):  # transparent PNGs, pixel for pixel the cut-outs
            with Image.open(io.BytesIO(z.read(f"cutouts/{safe_name(label)}.png"))) as im:
                assert im.mode == "RGBA" and np.array_equal(np.asarray(im), rgba)
        inside = json.loads(z.read("result.json"))
        assert [i["cutout_file"] for i in inside["instances"]] == [f"cutouts/{n}.png" for n in labels]
    assert doc["images"][0]["file_name"] == "01.jpg"
    # The gallery's folder: the same cut-outs, under out_dir/cutouts/.
    assert sorted(p.name for p in (tmp_path / "dl" / "cutouts").iterdir()) == [f"{n}.png" for n in labels]
    assert json.loads((tmp_path / "dl" / "01_result.json").read_text()) == inside


def test_download_names_carry_the_photo_and_the_anonymised_copy(result, tmp_path):
    hidden = anonymise(result, "faces", "pixelate")
    files = write_downloads(result, tmp_path / "a", source_name="/tmp/x/My Beach (2).JPG", anonymised=hidden)
    assert [f.rsplit("/", 1)[-1] for f in files] == [
        "My_Beach_2_annotated.png", "My_Beach_2_masks.zip", "My_Beach_2_result.json", "My_Beach_2_coco.json",
        "My_Beach_2_anonymised.png"]
    with Image.open(files[-1]) as im:
        assert np.array_equal(np.asarray(im), hidden)
    plain = write_downloads(result, tmp_path / "b", cutouts=False)
    assert [f.rsplit("/", 1)[-1] for f in plain] == ["image_annotated.png", "image_masks.zip", "image_result.json",
                                                     "image_coco.json"]
    with zipfile.ZipFile(plain[1]) as z:
        assert not [n for n in z.namelist() if n.startswith("cutouts/")]
    assert not (tmp_path / "b" / "cutouts").exists()
    assert download_stem("???.png") == "image" and len(download_stem("x" * 300 + ".jpg")) == 80
    assert download_stem("02_woman_hand_at_neck_publicdomainpictures.jpg", 16) == "02_woman_hand_at"
    assert download_stem("01_card_thrower_gesturing.jpg", 16) == "01_card_thrower"  # no "_" left at the cut


def test_batch_layout_keeps_its_names(result, tmp_path):
    """write_result (the batch's per-photo folder) keeps annotated.png, masks/ and result.json unprefixed."""
    out = write_result(result, tmp_path / "p", source_name="01.jpg", cutouts=True, anonymised=result.image)
    assert sorted(p.name for p in out.iterdir()) == ["annotated.png", "anonymised.png", "cutouts", "masks",
                                                     "result.json"]


def test_merge_renumbers_ids_across_photos(result):
    one = coco_document(result, "a.jpg")
    two = coco_document(result, "b.jpg")
    two["annotations"] = two["annotations"][:1]
    merged = merge_coco([one, two])
    assert [(i["id"], i["file_name"]) for i in merged["images"]] == [(1, "a.jpg"), (2, "b.jpg")]
    assert [a["id"] for a in merged["annotations"]] == [1, 2, 3, 4]
    assert [a["image_id"] for a in merged["annotations"]] == [1, 1, 1, 2]
    assert merged["annotations"][3]["segmentation"] == one["annotations"][0]["segmentation"]
