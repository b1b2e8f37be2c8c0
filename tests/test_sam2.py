"""The local SAM2 backend, exercised end to end with a RANDOMLY INITIALISED tiny Sam2Model.

Random weights give meaningless masks: these tests check the plumbing (one embedding per photo, one batched decode,
shapes, the processor's coordinate convention on a non-square photo, candidates flowing into the shared selection,
loading and falling back), never mask quality. Real weights cannot be downloaded here.
"""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="optional SAM2 install absent (pip install -r requirements-sam2.txt)")
pytest.importorskip("transformers", reason="optional SAM2 install absent (pip install -r requirements-sam2.txt)")

import core  # noqa: E402
from core import backends  # noqa: E402
from core.masks import selection  # noqa: E402
from core.backends import BackendUnavailable, sam2  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402
from core.types import Detection, Prompt  # noqa: E402

from .conftest import DATA, EXAMPLES_DIR, iou  # noqa: E402

PHOTO = "hand_over_face/images/21.jpg"  # 384x216 (non-square), one face and one hand over it
TINY = 128  # input size of the random test model (the real one is 1024)
KEY = "random-tiny-sam2 (test only: random weights)"


def random_tiny_sam2_config():
    """A Sam2Config of the same shape as hiera-tiny but a fraction of its width and depth: fast on 2 cores."""
    from transformers import Sam2Config
    from transformers.models.sam2.configuration_sam2 import (Sam2HieraDetConfig, Sam2MaskDecoderConfig,
                                                             Sam2PromptEncoderConfig, Sam2VisionConfig)

    s = TINY
    trunk = Sam2HieraDetConfig(hidden_size=12, num_attention_heads=1, image_size=[s, s], blocks_per_stage=[1, 1, 2, 1],
                               embed_dim_per_stage=[12, 24, 48, 96], num_attention_heads_per_stage=[1, 1, 2, 2],
                               window_size_per_stage=[8, 4, 4, 2], global_attention_blocks=[3],
                               window_positional_embedding_background_size=[4, 4])
    vision = Sam2VisionConfig(backbone_config=trunk, backbone_channel_list=[96, 48, 24, 12], fpn_hidden_size=32,
                              backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]])
    return Sam2Config(vision_config=vision,
                      prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=32, image_size=s, patch_size=16,
                                                                    mask_input_channels=4),
                      mask_decoder_config=Sam2MaskDecoderConfig(hidden_size=32, mlp_dim=64, num_attention_heads=2,
                                                                iou_head_hidden_dim=32))


def random_tiny_sam2(seed: int = 0):
    """A Sam2Model with RANDOM weights (seeded) from `random_tiny_sam2_config`."""
    from transformers import Sam2Model

    torch.manual_seed(seed)
    return Sam2Model(random_tiny_sam2_config()).eval()


@pytest.fixture(scope="module")
def tiny():
    loaded = sam2.install(KEY, random_tiny_sam2(), device="cpu")
    yield loaded
    sam2.uninstall(KEY)


@pytest.fixture
def use_tiny(tiny, monkeypatch):
    monkeypatch.setenv("SAM2_MODEL", KEY)
    return tiny


@pytest.fixture(scope="module")
def photo():
    if (DATA / PHOTO).exists():
        rgb = load_image(DATA / PHOTO)
    else:  # a fresh clone: the first example's face and a hand, at the same non-square 384x216
        import cv2

        crop = load_image(EXAMPLES_DIR / "01_card_thrower_gesturing_pxhere.jpg")[100:325, 70:470]
        rgb = cv2.resize(crop, (384, 216), interpolation=cv2.INTER_AREA)
    prompts = build_prompts(detect(rgb, DetectOptions()), rgb.shape)
    assert rgb.shape[:2] == (216, 384) and len(prompts) >= 2
    return rgb, prompts


def _saved_checkpoint(tmp_path, model_type="sam2"):
    """Write the random tiny model to a folder the way the hub ships SAM2 checkpoints. The hub's
    facebook/sam2.1-hiera-tiny is a `sam2_video` checkpoint with a preprocessor_config.json."""
    from transformers import Sam2VideoConfig, Sam2VideoModel

    model = random_tiny_sam2(seed=1)
    if model_type == "sam2_video":
        cfg = random_tiny_sam2_config()
        video = Sam2VideoModel(Sam2VideoConfig(vision_config=cfg.vision_config,
                                               prompt_encoder_config=cfg.prompt_encoder_config.to_dict(),
                                               mask_decoder_config=cfg.mask_decoder_config.to_dict()))
        video.load_state_dict(model.state_dict(), strict=False)
        model = video
    model.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "Sam2ImageProcessorFast", "processor_class": "Sam2VideoProcessor",
        "size": {"height": TINY, "width": TINY}, "mask_size": {"height": 256, "width": 256},
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "rescale_factor": 1 / 255, "do_resize": True, "do_rescale": True, "do_normalize": True}))
    return model, tmp_path


# ---------------------------------------------------------------------------------------------- coordinates


def test_coordinates_map_to_the_same_spot_as_the_pixels_on_a_non_square_photo(tiny):
    """A bright patch at (x=400, y=70) of a 517x300 photo and a point prompt at the same pixel must land on the same
    spot of the model's square input, and a mask there must come back at (400, 70) of the photo."""
    h, w, x, y = 300, 517, 400, 70
    img = np.zeros((h, w, 3), np.uint8)
    img[y - 4:y + 5, x - 4:x + 5] = 255
    det = Detection("hand", (x - 10, y - 5, x + 10, y + 5), 0.9, np.zeros((21, 2)), "hand_21", "hands")
    prompt = Prompt(0, det, (x - 20, y - 10, x + 20, y + 10), np.zeros((h, w), bool), np.array([[x, y]], float),
                    np.zeros((0, 2)))
    enc = sam2.encode_prompts(tiny.processor, [prompt], img.shape[:2])
    pv = tiny.processor(images=img, return_tensors="pt")["pixel_values"][0].mean(0)
    assert pv.shape == (TINY, TINY)
    rows, cols = np.nonzero((pv > pv.max() - 0.5).numpy())
    px, py = enc["input_points"][0, 0, 0].tolist()
    assert abs(px - x * TINY / w) < 1e-4 and abs(py - y * TINY / h) < 1e-4  # x scaled by width, y by height
    assert abs(cols.mean() - px) <= 1.0 and abs(rows.mean() - py) <= 1.0  # ...where the image content went
    box = enc["input_boxes"][0, 0].tolist()
    assert box == pytest.approx([(x - 20) * TINY / w, (y - 10) * TINY / h, (x + 20) * TINY / w, (y + 10) * TINY / h])

    low = torch.full((1, 1, 256, 256), -10.0)  # post-processing: a blob at the same place of the low-res logits
    ly, lx = int(py / TINY * 256), int(px / TINY * 256)
    low[0, 0, ly - 2:ly + 3, lx - 2:lx + 3] = 10.0
    back = tiny.processor.post_process_masks([low], [[h, w]])[0][0, 0].numpy()
    assert back.shape == (h, w)
    ys, xs = np.nonzero(back)
    assert abs(xs.mean() - x) < 3 and abs(ys.mean() - y) < 3


def test_preprocessing_is_identical_to_transformers_sam2_image_processor():
    """The torch-only preprocessing stands in for Sam2ImageProcessor, which needs torchvision."""
    try:
        from transformers.models.sam2.image_processing_sam2 import Sam2ImageProcessor
        reference = Sam2ImageProcessor()
    except Exception as exc:
        pytest.skip("reference Sam2ImageProcessor needs torchvision, which requirements-sam2.txt leaves out (the "
                    f"backend resizes in torch; a torchvision matching torch runs this): {exc}")
    ours = sam2.torch_image_processor()
    img = np.random.default_rng(0).integers(0, 256, (300, 517, 3), dtype=np.uint8)
    a, b = reference(images=img, return_tensors="pt"), ours(images=img, return_tensors="pt")
    assert a["original_sizes"].tolist() == b["original_sizes"].tolist() == [[300, 517]]
    assert torch.allclose(a["pixel_values"], b["pixel_values"], atol=1e-5)
    logits = torch.randn(1, 3, 256, 256)
    assert torch.equal(reference.post_process_masks([logits], [[300, 517]])[0],
                       ours.post_process_masks([logits], [[300, 517]])[0])


def test_prompt_inputs_positives_negatives_and_box():
    det = Detection("face", (10, 10, 50, 50), 0.9, np.zeros((468, 2)), "face_mesh", "face_detection")
    pos = np.array([[20.0, 21.0], [30.0, 31.0]])
    neg = np.array([[float(40 + i), 40.0] for i in range(sam2.MAX_NEGATIVES + 4)][::-1])  # far ones first
    p = Prompt(0, det, (0, 0, 60, 60), np.zeros((80, 100), bool), pos, neg)
    points, labels, boxes = sam2.prompt_inputs([p])
    assert labels[0] == [1, 1] + [0] * sam2.MAX_NEGATIVES
    assert points[0][:2] == pos.tolist()
    kept = np.array(points[0][2:])  # capped to the ones nearest the box centre (30, 30)
    assert sorted(kept[:, 0].tolist()) == [float(40 + i) for i in range(sam2.MAX_NEGATIVES)]
    assert boxes == [[0.0, 0.0, 60.0, 60.0]]


# --------------------------------------------------------------------------------------- embedding + decoding


def test_one_embedding_and_one_batched_decode_per_photo(tiny, photo, monkeypatch):
    rgb, prompts = photo
    calls = {"embed": 0, "decode": []}
    embed, forward = tiny.model.get_image_embeddings, tiny.model.forward

    def counting_embed(*a, **k):
        calls["embed"] += 1
        return embed(*a, **k)

    def counting_forward(*a, **k):
        calls["decode"].append((tuple(k["input_points"].shape), tuple(k["input_boxes"].shape)))
        return forward(*a, **k)

    monkeypatch.setattr(tiny.model, "get_image_embeddings", counting_embed)
    monkeypatch.setattr(tiny.model, "forward", counting_forward)
    cands = sam2.Sam2Backend().propose(rgb, prompts, sam2_model=KEY)
    n = len(prompts)
    most_points = max(len(p.positive_points) + min(len(p.negative_points), sam2.MAX_NEGATIVES) for p in prompts)
    assert calls["embed"] == 1
    assert calls["decode"] == [((1, n, most_points, 2), (1, n, 4))]
    assert len(cands.per_prompt) == len(cands.scores) == n and not cands.trusted
    for masks, scores in zip(cands.per_prompt, cands.scores):
        assert len(masks) == len(scores) == 3  # the multimask candidates and their predicted IoUs
        assert all(m.shape == rgb.shape[:2] and m.dtype == bool for m in masks)
        assert all(isinstance(s, float) for s in scores)


def test_batched_decode_keeps_each_prompt_its_own_masks(tiny, photo):
    """Reversing the prompts reverses the outputs: no prompt's mask or score leaks into another's slot."""
    rgb, prompts = photo
    b = sam2.Sam2Backend()
    emb = b.embed(tiny, rgb)
    masks, scores = b.decode(tiny, emb, prompts)
    rmasks, rscores = b.decode(tiny, emb, prompts[::-1])
    assert np.allclose(scores, rscores[::-1], atol=1e-5)
    for a, r in zip(masks, rmasks[::-1]):
        for ma, mr in zip(a, r):
            assert (ma != mr).mean() < 1e-3
    assert not np.allclose(scores[0], scores[1])  # different prompts do give different outputs


def test_batched_decode_equals_decoding_each_prompt_alone(tiny, photo):
    """With equal point counts (no padding), the batched call gives each prompt exactly what a call of its own does:
    masks and scores stay aligned with their prompt."""
    rgb = photo[0]
    h, w = rgb.shape[:2]
    det = Detection("hand", (0, 0, 10, 10), 0.9, np.zeros((21, 2)), "hand_21", "hands")
    prompts = [Prompt(i, det, box, np.zeros((h, w), bool), np.array(pts, float), np.zeros((0, 2)))
               for i, (box, pts) in enumerate([((20, 30, 150, 200), [[60, 90], [80, 120], [100, 150]]),
                                               ((200, 10, 380, 120), [[250, 40], [300, 60], [340, 90]])])]
    b = sam2.Sam2Backend()
    emb = b.embed(tiny, rgb)
    masks, scores = b.decode(tiny, emb, prompts)
    for i, p in enumerate(prompts):
        alone_masks, alone_scores = b.decode(tiny, emb, [p])
        assert np.allclose(scores[i], alone_scores[0], atol=1e-5)
        assert all((m != a).mean() < 1e-3 for m, a in zip(masks[i], alone_masks[0]))
    assert not np.allclose(scores[0], scores[1])


def test_candidates_are_judged_by_the_shared_landmark_scorer(tiny, photo):
    """The model's IoU predictions only break ties: a candidate equal to the landmark prior wins even when the
    model scores it lowest, and a pick is made of the prompt's own candidates, or is the prior with a note."""
    rgb, prompts = photo
    cands = sam2.Sam2Backend().propose(rgb, prompts, sam2_model=KEY)
    for (mask, note), p, own in zip(selection.choose(prompts, cands), prompts, cands.per_prompt):
        if note:
            assert np.array_equal(mask, p.prior)
        else:  # one candidate, or a union of a few of them
            assert not (mask & ~np.logical_or.reduce(own)).any()
            assert any(m.any() and not (m & ~mask).any() for m in own)
    cands.per_prompt[0][1] = prompts[0].prior.copy()
    cands.scores[0] = [1.0, -1.0, 1.0]
    mask, note = selection.choose(prompts, cands)[0]
    assert note == "" and np.array_equal(mask, prompts[0].prior)


def test_no_prompts_costs_nothing(tiny):
    cands = sam2.Sam2Backend().propose(np.zeros((50, 80, 3), np.uint8), [], sam2_model="never-loaded/model")
    assert cands.per_prompt == []


# ------------------------------------------------------------------------------------------- through segment()


def test_segment_runs_end_to_end_on_sam2(use_tiny, photo):
    rgb, prompts = photo
    result = core.segment(rgb, backend="sam2")
    assert result.backend == "sam2"
    assert not any(m.startswith("sam2") for m in result.messages)
    assert len(result.instances) == len(prompts)
    for inst in result.instances:
        assert inst.mask.shape == rgb.shape[:2] and inst.mask.dtype == bool and inst.mask.any()
        assert inst.backend in ("sam2", "landmarks")  # "landmarks" only with the note saying it fell back
        assert (inst.backend == "landmarks") == bool(inst.note)


def test_auto_picks_sam2_when_weights_are_here_and_no_token(use_tiny, photo):
    assert backends.AUTO_ORDER.index("sam2") < backends.AUTO_ORDER.index("landmarks")
    if "replicate" in backends.AUTO_ORDER:
        assert backends.AUTO_ORDER.index("replicate") < backends.AUTO_ORDER.index("sam2")
    assert core.segment(photo[0], backend="auto").backend == "sam2"


def test_sam2_model_option_is_honoured(tiny, photo, monkeypatch):
    monkeypatch.setenv("SAM2_MODEL", "no-such-org/no-such-sam2")
    assert core.segment(photo[0], backend="sam2", sam2_model=KEY).backend == "sam2"


# ---------------------------------------------------------------------------------------- loading, fallback


def test_missing_weights_fall_back_to_landmarks_with_one_line(photo, monkeypatch, tmp_path):
    monkeypatch.setenv("SAM2_MODEL", "no-such-org/no-such-sam2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ready, why = sam2.Sam2Backend().available()
    assert not ready and "no-such-org/no-such-sam2" in why and "hf download" in why
    result = core.segment(photo[0], backend="sam2")
    assert result.backend == "landmarks"
    said = [m for m in result.messages if m.startswith("sam2")]
    assert len(said) == 1 and "\n" not in said[0] and "not on this machine" in said[0]
    assert len(result.instances) == len(photo[1]) and all(i.backend == "landmarks" for i in result.instances)
    t = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="not on this machine"):
        sam2.load("no-such-org/no-such-sam2")  # a request never waits on the hub's retries
    assert time.perf_counter() - t < 2.0


def test_download_failure_offline_is_one_line_and_landmarks_run(photo, monkeypatch):
    """With SAM2_DOWNLOAD=1 the real `from_pretrained` download runs; offline, it fails fast with one line."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("SAM2_DOWNLOAD", "1")
    monkeypatch.setenv("SAM2_MODEL", "no-such-org/no-such-sam2")
    assert sam2.Sam2Backend().available() == (True, "")  # may fetch: only loading can tell
    result = core.segment(photo[0], backend="sam2")
    assert result.backend == "landmarks"
    said = [m for m in result.messages if m.startswith("sam2")]
    assert len(said) == 1 and "\n" not in said[0]
    assert "could not load SAM2 weights 'no-such-org/no-such-sam2'" in said[0]


def test_broken_weights_fall_back_with_one_line(photo, monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 64)
    monkeypatch.setenv("SAM2_MODEL", str(tmp_path))
    assert sam2.Sam2Backend().available() == (True, "")  # files are there: only loading can tell
    with pytest.raises(BackendUnavailable) as err:
        sam2.load(str(tmp_path))
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value)
    result = core.segment(photo[0], backend="sam2")
    assert result.backend == "landmarks"
    assert [m for m in result.messages if m.startswith("sam2")] == [f"sam2 not used: {err.value}"]


@pytest.mark.parametrize("model_type", ["sam2", "sam2_video"])
def test_from_pretrained_loads_a_local_checkpoint_with_every_weight(tmp_path, model_type):
    """The real loading code, offline: a saved folder (in the hub's sam2_video layout too) loads into Sam2Model."""
    model, folder = _saved_checkpoint(tmp_path, model_type)
    try:
        loaded = sam2.load(str(folder))
        assert loaded.source == str(folder) and loaded.processor.target_size == TINY
        saved = dict(model.named_parameters())
        got = dict(loaded.model.named_parameters())
        assert set(got) <= set(saved)
        assert all(torch.equal(saved[k], got[k]) for k in got)
        assert sam2.load(str(folder)) is loaded  # once per process
    finally:
        sam2.uninstall(str(folder))


def test_hub_cache_is_found_offline(tmp_path, monkeypatch):
    """Weights fetched earlier with `hf download` sit in the HF cache: found and loaded with no network."""
    import huggingface_hub.constants as hub_constants

    repo = "example-org/sam2-test-random"
    _, folder = _saved_checkpoint(tmp_path / "src")
    snap = tmp_path / "hub" / "models--example-org--sam2-test-random" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert sam2.local_weights(repo) == str(snap)
    assert sam2.Sam2Backend().available(repo) == (True, "")
    try:
        assert sam2.load(repo).processor.target_size == TINY
    except BackendUnavailable as exc:  # transformers read the cache location at import: pass it explicitly
        pytest.fail(f"cached weights did not load offline: {exc}")
    finally:
        sam2.uninstall(repo)


def test_model_is_loaded_once_across_threads(tmp_path, monkeypatch):
    from transformers import Sam2Model

    _, folder = _saved_checkpoint(tmp_path)
    real = Sam2Model.from_pretrained.__func__
    count = []

    def counting(cls, *a, **k):
        count.append(1)
        return real(cls, *a, **k)

    monkeypatch.setattr(Sam2Model, "from_pretrained", classmethod(counting))
    got, barrier = [], threading.Barrier(4)

    def worker():
        barrier.wait()
        got.append(sam2.load(str(folder)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(count) == 1 and len(got) == 4 and all(g is got[0] for g in got)
    finally:
        sam2.uninstall(str(folder))


def test_multimask_outputs_the_exact_hand_is_chosen_among_a_part_and_a_looser_cut(tiny, monkeypatch):
    """SAM 2's three outputs per prompt as the decoder gives them (a part, the object, the object with the gaps
    between its fingers filled, as 256x256 logits) through the backend's own upsampling and the shared chooser:
    the exact hand wins whatever the model's scores say."""
    import cv2

    from core.masks import selection

    from .test_selection import drawn_hand, hand_prompt

    rgb, hand, landmarks = drawn_hand(2.0)
    prompt = hand_prompt(rgb, landmarks)
    top = hand & (np.arange(hand.shape[0])[:, None] < 200)
    pts = cv2.findNonZero(hand.astype(np.uint8))
    hull = np.zeros(hand.shape, np.uint8)
    cv2.fillPoly(hull, [cv2.convexHull(pts)], 1)
    three = [top, hand, hull > 0]
    logits = np.stack([np.where(cv2.resize(m.astype(np.uint8), (256, 256), interpolation=cv2.INTER_AREA) > 0,
                                10.0, -10.0) for m in three])[None].astype(np.float32)
    monkeypatch.setattr(sam2, "_model_call", lambda mid, image, prompts: (logits, [[0.99, 0.5, 0.98]], 1.0))
    cands = sam2.Sam2Backend().propose(rgb, [prompt], sam2_model=KEY)
    assert len(cands.per_prompt[0]) == 3
    (mask, note), = selection.choose([prompt], cands, rgb)
    assert note == "" and iou(mask, hand) > 0.95
    assert max(iou(m, hand) for m in (cands.per_prompt[0][0], cands.per_prompt[0][2])) < 0.9
