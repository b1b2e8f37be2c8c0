"""The Space as an MCP server (demo.launch(mcp_server=True), gradio[mcp]): the tools an agent sees, their
descriptions, the README's call and its JSON answer, and a refused photo URL.

Gradio names each tool after the Python function (on a Space with a "<space name>_" prefix). The tools are
`segment_photo` (ui/api.py, endpoint /segment_json: the answer is JSON) and `run_video` (ui/video.py); the page's
/segment endpoint (six outputs, for gradio_client) is no tool. Skipped where the `mcp` package is not installed."""
from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re

import httpx
import pytest

from .conftest import PHOTOS, REPO
from .live_server import serve_app

pytest.importorskip("mcp", reason="the mcp package (gradio[mcp] extra) is not installed")

README_CALL = "Call `segment_photo` from Python"  # the sentence right before the README's MCP code block
PAGE_ADVICE = ("Click", "click", "Settings")


@pytest.fixture(scope="module")
def served():
    with serve_app() as (url, _proc, log):
        yield url, log


@pytest.fixture(scope="module")
def app_url(served):
    return served[0]


@pytest.fixture(scope="module")
def tools(app_url):
    """The MCP tools by name (what list_tools gives: the schema's entries of type "tool")."""
    response = httpx.get(app_url + "gradio_api/mcp/schema", timeout=30)
    response.raise_for_status()
    return {tool["name"]: tool for tool in response.json() if tool["meta"]["mcp_type"] == "tool"}


def mcp_call(app_url: str, name: str, arguments: dict):
    """(names of the listed tools, the CallToolResult) over streamable HTTP at /gradio_api/mcp/."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def call():
        async with streamable_http_client(app_url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = [tool.name for tool in (await session.list_tools()).tools]
                return listed, await session.call_tool(name, arguments)

    return asyncio.run(call())


def data_url(path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()


def test_the_tools_are_segment_photo_and_run_video(tools):
    # Fails on the old code in its endpoint: segment_photo was the page's /segment, whose six outputs an agent got as
    # six Python reprs.
    assert set(tools) == {"segment_photo", "run_video"}, sorted(tools)
    assert tools["segment_photo"]["meta"]["endpoint_name"] == "segment_json"
    schema = tools["segment_photo"]["inputSchema"]
    assert schema["properties"]["image"]["type"] == "string"  # an http(s) URL, or a data: URL with base64
    assert "url" in schema["properties"]["image"]["format"]
    assert schema["required"] == ["image"]  # every other input has its default


def test_the_schema_holds_exactly_the_two_tools(app_url):
    """/gradio_api/mcp/schema listed a third entry, `segment_photo_1` (the page's /segment, api_only), beside the
    two tools the README names."""
    response = httpx.get(app_url + "gradio_api/mcp/schema", timeout=30)
    response.raise_for_status()
    assert sorted(entry["name"] for entry in response.json()) == ["run_video", "segment_photo"], response.json()
    readme = (REPO / "README.md").read_text()
    assert "**`segment_photo`**" in readme and "**`run_video`**" in readme


def test_webcam_stream_is_not_a_tool(tools):
    assert "webcam" not in " ".join(tools), sorted(tools)


def _docstring_entries(fn) -> dict:
    """Each Args: entry of `fn`'s docstring with its continuation lines (what a reader of the code sees)."""
    entries, name = {}, None
    lines = inspect.getdoc(fn).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    for line in lines[start + 1:]:
        if line.strip().startswith("Returns:"):
            break
        match = re.match(r"    (\w+): (.*)", line)
        if match and match.group(1) in inspect.signature(fn).parameters:
            name = match.group(1)
            entries[name] = match.group(2)
        elif name and line.strip():
            entries[name] += " " + line.strip()
    return entries


@pytest.mark.parametrize("tool", ["segment_photo", "run_video"])
def test_every_parameter_is_described_in_full(tools, tool):
    """Gradio takes each parameter's description from the first line of its Args: entry; a wrapped entry was cut
    (backend's ended at '"landmarks",'). Each description must be a whole sentence, name every choice its docstring
    entry names, and every value its schema allows. For run_video only what is there is checked (ui/video.py's own)."""
    from ui.api import segment_photo
    from ui.video import run_video

    fn = {"segment_photo": segment_photo, "run_video": run_video}[tool]
    entries = _docstring_entries(fn)
    for name, prop in tools[tool]["inputSchema"]["properties"].items():
        description = prop.get("description", "")
        assert description, f"{tool}.{name}: no description"
        assert description.rstrip().endswith((".", ")")), f"{tool}.{name} is cut: {description!r}"
        for choice in re.findall(r'"([^"]+)"', entries.get(name, "")):
            assert f'"{choice}"' in description, f"{tool}.{name} lacks {choice!r}: {description!r}"
        for value in prop.get("enum", []):
            assert f'"{value}"' in description, f"{tool}.{name} lacks the choice {value!r}: {description!r}"


def _readme_call() -> str:
    """The README's MCP code block: the first ```python block after README_CALL."""
    text = (REPO / "README.md").read_text()
    after = text[text.index(README_CALL):]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def test_the_readme_call_answers_json(app_url):
    """Runs the README's MCP snippet as written, with two lines changed: MCP_URL points at this test's server, and
    PHOTO is tests/photos/three_portraits.jpg as a data: URL (this machine has no internet, so the README's public
    http(s) URL cannot be fetched here). Fails on the old code: the answer was a Python repr, not JSON."""
    code = _readme_call()
    code, n_url = re.subn(r'^MCP_URL = .*$', f'MCP_URL = "{app_url}gradio_api/mcp/"', code, flags=re.M)
    photo = data_url(PHOTOS / "three_portraits.jpg")
    code, n_photo = re.subn(r'^PHOTO = .*$', lambda _: f'PHOTO = "{photo}"', code, flags=re.M)
    assert n_url == 1 and n_photo == 1, "the README's snippet no longer sets MCP_URL and PHOTO on lines of their own"
    scope: dict = {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (our own README)
    answer = scope["answer"]
    assert [inst["label"] for inst in answer["instances"]] == ["face-1", "face-2", "face-3"]
    assert answer["faces"] == 3 and answer["hands"] == 0
    for inst in answer["instances"]:
        assert {"kind", "box", "score", "handedness", "area", "mask_url", "cutout_url"} <= set(inst)
        assert len(inst["box"]) == 4 and inst["kind"] == "face"
    assert not any(word in answer["status"] for word in PAGE_ADVICE), answer["status"]
    for url in (answer["files"]["masks_zip"], answer["files"]["annotated_png"], answer["instances"][0]["mask_url"]):
        assert url.startswith(app_url), url
        assert httpx.get(url, timeout=30).status_code == 200, url


def test_the_answer_is_one_json_text(app_url):
    listed, result = mcp_call(app_url, "segment_photo", {"image": data_url(PHOTOS / "grace_hopper.jpg")})
    assert "segment_photo" in listed and not result.isError, result.content
    assert len(result.content) == 1 and result.content[0].type == "text"
    answer = json.loads(result.content[0].text)
    assert answer["faces"] >= 1 and answer["instances"][0]["label"] == "face-1"
    assert answer["files"]["masks_zip"].endswith("_masks.zip")
    assert not any(word in result.content[0].text for word in PAGE_ADVICE)


def test_the_api_status_has_no_page_advice(app_url):
    """gradio_client's /segment keeps its six outputs; its status says nothing of clicks or Settings (the old code
    told API callers "Missed one? Click it on the photo" and "paste a Replicate token in Settings")."""
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    answer = client.predict(handle_file(str(PHOTOS / "three_portraits.jpg")), api_name="/segment")
    assert len(answer) == 6
    status = answer[1]
    assert "3 faces" in status and not any(word in status for word in PAGE_ADVICE), status
    assert "replicate_token" in status  # no token and no secret: how to get Segment Anything 2 masks


def _one_sentence(text: str) -> bool:
    return text.endswith(".") and not re.search(r"\.\s+[A-Z]", text.rstrip(".")) and "\n" not in text


def test_a_refused_url_is_one_sentence_and_one_log_line(served):
    """A private address as the photo: the caller (MCP and gradio_client) gets one sentence, the server log one line
    per refusal and no traceback. Fails on the old code: "Hostname 127.0.0.1 failed validation" and a traceback."""
    from gradio_client import Client, handle_file

    app_url, log = served
    _, result = mcp_call(app_url, "segment_photo", {"image": "http://127.0.0.1:9/photo.jpg"})
    assert result.isError
    said = result.content[0].text
    assert _one_sentence(said) and "127.0.0.1" in said and "data: URL" in said, said

    client = Client(app_url, verbose=False)
    with pytest.raises(Exception) as refused:
        client.predict(handle_file("http://10.0.0.1/photo.jpg"), api_name="/segment_json")
    assert _one_sentence(str(refused.value)) and "10.0.0.1" in str(refused.value), str(refused.value)

    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert text.count("refused photo URL (host 127.0.0.1)") == 1 and text.count("refused photo URL (host 10.0.0.1)") == 1
