"""The Replicate backend against a faithful local Replicate server (tests/fake_replicate.py), through the real
`replicate` client: the request contract, every failure mode, and that the token never leaks."""
from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path

import numpy as np
import pytest

import core
from core.backends import get
from core.backends.replicate import allowed_url, mask_urls
from core.loading import load_image

from .conftest import data_path, iou, truth
from .fake_replicate import FakeReplicate, Plan, Scene, instances_of, realistic_regions

EXAMPLE = Path(__file__).resolve().parents[1] / "tests" / "photos" / "astronaut.png"


@pytest.fixture(autouse=True)
def _fast_poll(monkeypatch):
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.05")
    monkeypatch.delenv("REPLICATE_SAM2_MODEL", raising=False)
    monkeypatch.delenv("REPLICATE_BASE_URL", raising=False)


@pytest.fixture(scope="module")
def photo():
    return load_image(EXAMPLE)


def segment(fake, rgb, monkeypatch, **options):
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    options.setdefault("replicate_token", fake.plan.token)
    return core.segment(rgb, backend=options.pop("backend", "replicate"), draw=False, refine=False, **options)


# --------------------------------------------------------------------------------------------- availability
def test_available_is_cheap_and_says_why_without_a_token():
    t = time.perf_counter()
    ready, why = get("replicate").available()
    assert not ready and why.startswith("no REPLICATE_API_TOKEN set")
    assert time.perf_counter() - t < 0.1


def test_no_token_runs_offline_and_says_why(photo, monkeypatch):
    with FakeReplicate() as fake:
        monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
        r = core.segment(photo, backend="replicate", draw=False, refine=False)
        assert fake.requests == []
    assert r.backend == "landmarks" and r.instances
    assert any(m.startswith("replicate not used: no REPLICATE_API_TOKEN set") for m in r.messages)


def test_auto_uses_replicate_with_the_env_secret(photo, monkeypatch):
    with FakeReplicate() as fake:
        monkeypatch.setenv("REPLICATE_API_TOKEN", fake.plan.token)
        r = segment(fake, photo, monkeypatch, backend="auto", replicate_token=None)
        assert fake.creates == 1
    assert r.backend == "replicate"


def test_a_visitors_own_token_works_without_the_env_secret(photo, monkeypatch):
    with FakeReplicate() as fake:
        r = segment(fake, photo, monkeypatch, backend="auto")
        assert fake.creates == 1 and set(fake.sent_auth("/v1/")) == {f"Bearer {fake.plan.token}"}
    assert r.backend == "replicate"


# ---------------------------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("model,shape,create_path", [
    ("meta/sam-2", "dict", "/v1/models/meta/sam-2/predictions"),
    ("lucataco/segment-anything-2:be7cbde9fdf0eecdc8b52e8a04d6a3c9d39b5e8f8a0b3e6e5e5c5b5a59a5c5a5", "list",
     "/v1/predictions"),
])
@pytest.mark.parametrize("max_wait", [60.0, 0.05])  # answered by `Prefer: wait`, or by polling
def test_one_photo_is_one_create_and_each_mask_is_downloaded_once(photo, monkeypatch, model, shape, create_path,
                                                                   max_wait):
    with FakeReplicate(Plan(service_s=0.3, output_shape=shape, max_wait_s=max_wait)) as fake:
        r = segment(fake, photo, monkeypatch, replicate_model=model)
        posts = [p for m, p in fake.requests if m == "POST"]
        assert posts == [create_path]
        pid = next(iter(fake.predictions))
        served = {f"/delivery/{pid}/{k}.png" for k in range(fake.predictions[pid]["n"])}
        assert sorted(fake.downloads) == sorted(served)  # every candidate, once; never combined_mask
        assert all(a is None for a in fake.sent_auth("/delivery/"))  # the token goes to the API host only
        polls = fake.count("GET", r"/v1/predictions/\w+")
        assert (polls == 0) if max_wait == 60.0 else (polls >= 1)
        assert {p for _, p in fake.requests} <= served | {create_path, f"/v1/predictions/{pid}"}
    assert r.backend == "replicate" and not r.messages


def test_mosaic_mode_is_also_one_prediction(photo, monkeypatch):
    with FakeReplicate() as fake:
        r = segment(fake, photo, monkeypatch, replicate_mode="mosaic")
        assert fake.creates == 1
    assert r.backend == "replicate"


def test_realistic_candidates_give_a_good_hand_mask(monkeypatch):
    """Hand over a face: candidates from the ground truth plus head, hair, neck, arm, face+hand, pieces."""
    rgb = load_image(data_path("hand_over_face/images/23.jpg"))
    hand = truth("hand_over_face/masks/23_hand.png")
    face_guess = core.segment(rgb, backend="landmarks", draw=False, refine=False).faces
    regions = realistic_regions([f.mask & ~hand for f in face_guess], instances_of(hand), rgb.shape, seed=1)
    with FakeReplicate(scene=Scene(regions, seed=1)) as fake:
        r = segment(fake, rgb, monkeypatch)
    assert r.backend == "replicate" and r.hands
    got = np.zeros(hand.shape, bool)
    for h in r.hands:
        got |= h.mask
    assert iou(got, hand) >= 0.85


# ------------------------------------------------------------------------------------------------- failures
FAILURES = {
    # name: (plan, options, expected message part, creates)
    "401": (Plan(token="r8_the_server_expects_another_token_000"), {}, "token rejected", 1),
    "403": (Plan(create_statuses=[403]), {}, "token rejected", 1),
    "402": (Plan(create_statuses=[402]), {}, "billing", 1),
    "429 forever": (Plan(create_statuses_forever=429, retry_after="1"), {"replicate_max_rate_wait": 1.5},
                    "rate limit", 2),
    "5xx forever": (Plan(create_statuses_forever=502), {}, "server error (HTTP 502) after 3 attempts", 3),
    "model failed": (Plan(outcome="failed"), {}, "model failed on Replicate: CUDA out of memory", 1),
    "canceled": (Plan(outcome="canceled"), {}, "canceled", 1),
    "422": (Plan(create_statuses=[422]), {}, "refused the prediction (HTTP 422)", 1),
    "foreign host": (Plan(extra_urls=["http://127.0.0.2:9/evil.png"]), {}, "unexpected host", 1),
    "size cap": (Plan(pad_bytes=4096), {"replicate_max_mask_bytes": 2048}, "could be downloaded", 1),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_failures_fall_back_offline_with_a_clear_message(photo, monkeypatch, name):
    plan, options, expected, creates = FAILURES[name]
    with FakeReplicate(plan) as fake:
        r = segment(fake, photo, monkeypatch, replicate_token="r8_fake_test_token_0000000000000000", **options)
        assert fake.creates == creates
        if name == "foreign host":
            assert fake.downloads == []  # nothing fetched once an unexpected host shows up
    assert r.backend == "landmarks" and r.instances
    msg = next(m for m in r.messages if m.startswith("replicate not used: "))
    assert expected in msg, msg
    assert "Traceback" not in msg and "\n" not in msg and len(msg) < 240


@pytest.mark.parametrize("statuses,creates", [([429], 2), ([500, 503], 3)])
def test_transient_create_errors_are_retried_then_succeed(photo, monkeypatch, statuses, creates):
    with FakeReplicate(Plan(create_statuses=list(statuses), retry_after="1")) as fake:
        t = time.perf_counter()
        r = segment(fake, photo, monkeypatch)
        assert fake.creates == creates
    assert r.backend == "replicate"
    if 429 in statuses:
        assert time.perf_counter() - t >= 1.0  # Retry-After honoured


def test_poll_errors_are_retried(photo, monkeypatch):
    with FakeReplicate(Plan(service_s=0.3, max_wait_s=0.05, get_statuses=[500])) as fake:
        r = segment(fake, photo, monkeypatch)
    assert r.backend == "replicate"


@pytest.mark.parametrize("plan", [Plan(service_s=30), Plan(create_delay_s=30), Plan(download_s=30)],
                         ids=["slow model", "slow create", "slow download"])
def test_never_hangs_past_the_deadline(photo, monkeypatch, plan):
    with FakeReplicate(plan) as fake:
        t = time.perf_counter()
        r = segment(fake, photo, monkeypatch, replicate_deadline=1.5)
        took = time.perf_counter() - t
        if plan.service_s:
            assert fake.count("POST", r"/v1/predictions/\w+/cancel") == 1  # we cancel what we abandon
    assert took < 4.0
    assert r.backend == "landmarks" and any("deadline" in m or "timed out" in m for m in r.messages), r.messages


def test_unreachable_service_falls_back_quickly(photo, monkeypatch):
    monkeypatch.setenv("REPLICATE_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    t = time.perf_counter()
    r = core.segment(photo, backend="replicate", replicate_token="r8_x", draw=False, refine=False)
    assert time.perf_counter() - t < 8.0
    assert r.backend == "landmarks" and any("could not reach Replicate" in m for m in r.messages), r.messages


# ------------------------------------------------------------------------------------------------- secrecy
def test_the_token_never_appears_in_messages_json_logs_or_output(photo, monkeypatch, caplog, capsys):
    sentinel = "r8_SENTINEL" + secrets.token_hex(12)
    caplog.set_level(logging.DEBUG)
    plans = [Plan(token=sentinel, create_statuses=[422], echo_auth_in_errors=True),  # server echoes the header
             Plan(token="r8_someone_elses_token_00000000000", echo_auth_in_errors=True),
             Plan(token=sentinel, outcome="failed", error=f"bad token {sentinel}"),
             Plan(token=sentinel, create_statuses_forever=500), Plan(token=sentinel)]
    seen = []
    for plan in plans:
        with FakeReplicate(plan) as fake:
            r = segment(fake, photo, monkeypatch, replicate_token=sentinel, replicate_retries=0)
        seen += [json.dumps(r.to_dict()), r.summary(), *[i.note for i in r.instances]]
    out, err = capsys.readouterr()
    blob = "\n".join(seen + [out, err, caplog.text])
    assert "replicate not used" in blob  # the failures above did produce messages
    assert sentinel not in blob and sentinel[3:] not in blob


# ---------------------------------------------------------------------------------------------- small parts
def test_mask_urls_accepts_both_output_shapes_strings_and_file_outputs():
    from replicate.helpers import FileOutput

    a, b = "https://replicate.delivery/p/a.png", "https://replicate.delivery/p/b.png"
    assert mask_urls({"combined_mask": "https://replicate.delivery/p/c.png", "individual_masks": [a, b]}) == [a, b]
    assert mask_urls([a, b, a]) == [a, b]
    assert mask_urls([FileOutput(a, None), FileOutput(b, None)]) == [a, b]
    assert mask_urls(FileOutput(a, None)) == [a]


@pytest.mark.parametrize("url,base,ok", [
    ("https://replicate.delivery/pbxt/x/mask.png", "https://api.replicate.com", True),
    ("https://pbxt.replicate.delivery/x/mask.png", "https://api.replicate.com", True),
    ("http://replicate.delivery/x/mask.png", "https://api.replicate.com", False),
    ("https://replicate.delivery.evil.example/x.png", "https://api.replicate.com", False),
    ("https://evil.example/replicate.delivery/x.png", "https://api.replicate.com", False),
    ("http://127.0.0.1:8000/delivery/x.png", "http://127.0.0.1:8000", True),
    ("http://127.0.0.1:8001/delivery/x.png", "http://127.0.0.1:8000", False),
    ("https://replicate.delivery/x.png", "http://127.0.0.1:8000", False),
])
def test_masks_only_come_from_expected_hosts(url, base, ok):
    assert allowed_url(url, base) is ok
