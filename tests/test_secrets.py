"""Secrets: the whole app, run with a sentinel Replicate token (the Space secret) and a second sentinel typed in
by a visitor, through every Replicate failure (401, 429, 5xx, timeout, model failure) against the local fake
Replicate server. Neither sentinel may appear in the server's log, in any answer, in any file the app wrote
(downloads and Gradio's cache), or in an error a visitor sees."""
from __future__ import annotations

import io
import json
import secrets
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO
from .fake_replicate import FakeReplicate, Plan
from .live_server import serve_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

PHOTO = REPO / "tests" / "photos" / "astronaut.png"
SECRET = "r8_SENTINELsecret" + secrets.token_hex(12)  # the Space's REPLICATE_API_TOKEN
VISITOR = "r8_SENTINELvisitor" + secrets.token_hex(12)  # a visitor's own token, pasted in Settings


def failure_plans(token: str) -> dict:
    """name -> (plan, what the status line must say). Every plan also echoes the Authorization header into its
    error bodies, as a careless proxy might, so a leak through an error text would show."""
    return {
        "401": (Plan(token="r8_the_server_expects_another_token_000", echo_auth_in_errors=True), "token rejected"),
        "429": (Plan(token=token, create_statuses_forever=429, retry_after="1", echo_auth_in_errors=True),
                "rate limit"),
        "5xx": (Plan(token=token, create_statuses_forever=502), "server error"),
        "timeout": (Plan(token=token, service_s=30), "deadline"),
        "model failure": (Plan(token=token, outcome="failed", error=f"invalid credentials {token} rejected"),
                          "model failed"),
    }


def leaks(blob: bytes) -> list:
    found = []
    for name, s in (("secret", SECRET), ("visitor", VISITOR)):
        for form in (s, s[3:], s[-16:]):  # whole, without the r8_ prefix, a tail
            if form.encode() in blob:
                found.append(f"{name}:{form[:12]}...")
    return found


def answer_bytes(answer) -> bytes:
    """Everything an API caller receives: the JSON of the answer and the bytes of every file in it."""
    annotated, status, files, details, cutouts, anonymised = answer
    parts = [json.dumps(answer, default=str).encode()]
    paths = [annotated["image"]] + [a["image"] for a in annotated["annotations"]] + list(files or [])
    paths += [c["image"] for c in cutouts or []] + ([anonymised] if anonymised else [])
    for p in paths:
        data = Path(p).read_bytes()
        parts.append(data)
        if p.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                parts += [z.read(n) for n in z.namelist()]
    return b"\n".join(parts)


@pytest.fixture(scope="module")
def app_with_secret(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("secret-app")
    with FakeReplicate(Plan(token=SECRET)) as fake:
        env = {"REPLICATE_API_TOKEN": SECRET, "REPLICATE_BASE_URL": fake.base_url, "REPLICATE_POLL_INTERVAL": "0.05",
               "REPLICATE_DEADLINE": "3", "TMPDIR": str(tmp / "tmp"), "GRADIO_TEMP_DIR": str(tmp / "gradio")}
        (tmp / "tmp").mkdir()
        with serve_app(env=env) as (url, proc, log):
            yield gradio_client.Client(url, verbose=False), fake, proc, log, tmp


def ask(client, token: str = ""):
    return client.predict(gradio_client.handle_file(str(PHOTO)), "replicate", 0.5, 6, 1.5, token,
                          api_name="/segment")


@pytest.mark.parametrize("who", ["space secret", "visitor token"])
def test_every_failure_path_keeps_the_token_secret(app_with_secret, who):
    client, fake, proc, log, _ = app_with_secret
    token = SECRET if who == "space secret" else VISITOR
    field = "" if who == "space secret" else VISITOR
    fake.plan = Plan(token=token)
    ok = ask(client, field)
    assert ok[3]["backend"] == "replicate", ok[1]  # the token path really runs
    assert f"Bearer {token}" in fake.sent_auth("/v1/")
    assert leaks(answer_bytes(ok)) == []
    for name, (plan, says) in failure_plans(token).items():
        fake.plan = plan
        answer = ask(client, field)
        status = answer[1]
        assert answer[3]["backend"] == "landmarks" and says in status, (name, status)  # fell back, said why
        assert [a["label"] for a in answer[0]["annotations"]] == ["face-1"]
        assert leaks(answer_bytes(answer)) == [], name
    assert proc.poll() is None


def test_error_texts_a_visitor_sees_hold_no_token(app_with_secret, tmp_path):
    client, fake, _, _, _ = app_with_secret
    fake.plan = Plan(token=SECRET)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    for token in ("", VISITOR):
        with pytest.raises(AppError) as info:
            client.predict(gradio_client.handle_file(str(bad)), "replicate", 0.5, 6, 1.5, token,
                           api_name="/segment")
        text = f"{info.value!s} {info.value!r} {info.value.args}"
        assert "not an image" in text and leaks(text.encode()) == []


def test_nothing_on_disk_or_in_the_log_holds_the_token(app_with_secret):
    """Runs after the tests above (file order): scans the server log and every file the app wrote."""
    client, fake, proc, log, tmp = app_with_secret
    assert fake.creates >= 10  # the failure paths above did reach the fake server
    text = log.read_bytes()
    assert b"HTTP Request" in text or b"Running on" in text  # the log is the real one, not empty
    assert leaks(text) == []
    files = [p for p in tmp.rglob("*") if p.is_file()]
    assert any(p.name.endswith("_result.json") for p in files) and any(p.suffix == ".webp" for p in files)
    for p in files:
        assert leaks(p.read_bytes()) == [], p
    api = json.dumps(client.view_api(print_info=False, return_format="dict")).encode()
    assert leaks(api) == []
