"""The Space serves its photo segmentation as an MCP tool (demo.launch(mcp_server=True), gradio[mcp]).

Gradio names each tool after the Python function (on a Space with a "<space name>_" prefix), not after api_name,
so the tool is found by the endpoint it calls ("segment"). Skipped where the `mcp` package is not installed (the
app then starts without MCP and logs "Error launching MCP server: The `mcp` package is required ...")."""
from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from .conftest import PHOTOS
from .live_server import serve_app

pytest.importorskip("mcp", reason="the mcp package (gradio[mcp] extra) is not installed")


@pytest.fixture(scope="module")
def app_url():
    with serve_app() as (url, _proc, _log):
        yield url


@pytest.fixture(scope="module")
def tools(app_url):
    response = httpx.get(app_url + "gradio_api/mcp/schema", timeout=30)
    response.raise_for_status()
    return {tool["meta"]["endpoint_name"]: tool for tool in response.json()}


def test_segment_is_a_tool_taking_the_photo_as_a_url(tools):
    tool = tools["segment"]
    assert tool["meta"]["mcp_type"] == "tool"
    schema = tool["inputSchema"]
    assert schema["properties"]["image"]["type"] == "string"  # an http(s) URL, or a data: URL with base64
    assert "url" in schema["properties"]["image"]["format"]
    assert "image" in schema["required"]


def test_segment_only_needs_the_photo(tools):
    # Every other input has a default. Fails while the token Textbox has no value and run_segmentation's default
    # is "" rather than None: Gradio then lists replicate_token as required, and a call without it is refused
    # ("Input validation error: 'replicate_token' is a required property").
    assert tools["segment"]["inputSchema"]["required"] == ["image"]


def test_segment_description_says_what_it_returns(tools):
    # DOCSTRING ASSERTION: the tool description is run_segmentation's docstring (first paragraph, plus
    # " Returns: " and the lines of its Google-style Returns: section joined by ", "), and each parameter's
    # description comes from its Args: line. Adjust the words here to the docstring app.py settles on.
    tool = tools["segment"]
    description = tool["description"].lower()
    assert "mask" in description and "label" in description, tool["description"]
    assert "returns:" in description, tool["description"]
    assert tool["inputSchema"]["properties"]["image"]["description"], "no Args: line for `image`"


def test_webcam_stream_is_not_a_tool(tools):
    # A stream of frames with a gr.State is no tool for an agent: app.py keeps it out with
    # api_visibility="undocumented" (or "private") on cam.stream(...). Fails until that lands.
    assert "webcam" not in tools, sorted(tools)


def test_an_mcp_client_segments_a_photo(app_url, tools):
    """The whole path an agent takes: streamable HTTP at /gradio_api/mcp/, the photo as a base64 data: URL
    (Gradio refuses to download http URLs of private hosts such as 127.0.0.1)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    photo = "data:image/jpeg;base64," + base64.b64encode((PHOTOS / "three_portraits.jpg").read_bytes()).decode()
    name = tools["segment"]["name"]  # "segment_photo" here; on a Space "<space name>_segment_photo"
    arguments = {"image": photo}  # every other input has its default

    async def call():
        async with streamable_http_client(app_url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = [tool.name for tool in (await session.list_tools()).tools]
                return listed, await session.call_tool(name, arguments)

    listed, result = asyncio.run(call())
    assert name in listed
    assert not result.isError, result.content
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert "3 faces" in text and "face-1" in text and "masks.zip" in text, text[:500]
