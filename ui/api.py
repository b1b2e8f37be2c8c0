"""The photo segmentation as an MCP tool: one JSON answer an agent can read, with URLs for the files.

Gradio makes every public API endpoint an MCP tool named after its Python function, and gives the tool's answer
as one text item per output: the Segment button's `/segment` endpoint (six outputs, for the page and
gradio_client) would answer an agent with six Python reprs (dicts and lists, not JSON). So `/segment` is no tool
(ui/photo.py marks its function), and the tool `segment_photo` is this module's endpoint `/segment_json`: the same inputs, the same
work (`ui.photo.segment_photo`, as an API call: no session, no advice about the page), one Textbox output holding
JSON. Its files are put in Gradio's cache (as the page's downloads are) and named by absolute URL.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import gradio as gr
from gradio import route_utils

from core import backends
from core.effects import STYLES
from core.export import safe_name

from . import photo
from .files import PhotoInput
from .inputs import OpenDropdown, OpenNumber

log = logging.getLogger("app")
_answer: gr.Textbox | None = None  # the endpoint's output, whose cache the answer's files go to
# The download names (after "<photo stem>_") and their keys in the answer's "files".
FILE_KEYS = {"annotated.png": "annotated_png", "masks.zip": "masks_zip", "result.json": "result_json",
             "coco.json": "coco_json", "anonymised.png": "anonymised_png"}


def segment_photo(image, backend="auto", min_confidence=0.5, max_hands=6, box_scale=1.5, replicate_token="",
                  anonymise="off", anonymise_style="blur", request: gr.Request = None, progress=gr.Progress()):
    _, status, files, details, cutouts, _ = photo.segment_photo(
        image, backend, min_confidence, max_hands, box_scale, replicate_token, anonymise, anonymise_style,
        request=request, progress=progress)  # no event: an API call, no session
    root = _root_url(request)

    def url(path) -> str:
        return _url(path, root)

    folder = Path(files[0]).parent if files else None
    instances = []
    for inst in details["instances"]:
        mask = folder / "masks" / f"{safe_name(inst['label'])}.png" if folder else None
        cutout = folder / "cutouts" / f"{safe_name(inst['label'])}.png" if folder else None
        instances.append(dict(inst, mask_url=url(mask) if mask and mask.exists() else None,
                              cutout_url=url(cutout) if cutout and cutout.exists() else None))
    named = {}
    for path in files:
        key = next((k for end, k in FILE_KEYS.items() if path.endswith("_" + end)), Path(path).name)
        named[key] = url(path)
    kinds = [inst["kind"] for inst in instances]
    answer = {
        "status": status.replace("**", ""),  # the page's Markdown status, plain
        "faces": kinds.count("face"), "hands": kinds.count("hand"),
        "width": details["width"], "height": details["height"], "backend": details["backend"],
        "source": details.get("source"),
        "instances": instances,
        "files": named,
        "messages": details["messages"],
        "timings_ms": details["timings_ms"],
    }
    return json.dumps(answer, ensure_ascii=False)


segment_photo.__doc__ = f"""Find every face and hand in a photo and cut each one out with its own mask; the answer is JSON.

    Gradio reads each Args: entry from its first line only (the MCP schema), so each is one line.

    Args:
        image: the photo (JPEG, PNG, WebP, HEIC, ...; up to 100 MB) as a public http(s) URL or a data: URL (data:image/jpeg;base64,...); private and local addresses are refused.
{photo.PHOTO_OPTIONS_DOC}

    Returns:
        JSON text: "status" (what was found, in words), "faces" and "hands" (counts), "width", "height", "backend", "instances" (per face or hand: label, kind, box [x0, y0, x1, y1], score, handedness, area, mask_url of its 0/255 PNG, cutout_url of its transparent PNG), "files" (annotated_png, masks_zip, result_json, coco_json and anonymised_png when asked for: URLs), "messages" and "timings_ms"
    """


def _root_url(request) -> str:
    """The app's public root URL as the caller reached it (behind a proxy too), without a trailing slash."""
    raw = getattr(request, "request", None)
    if raw is None:
        return ""
    try:
        return route_utils.get_root_url(request=raw, route_path=route_utils.get_api_call_path(request=raw),
                                        root_path=None)
    except Exception:  # no usable request (a direct Python call): relative URLs
        return ""


def _url(path, root: str) -> str:
    """`path` copied into Gradio's cache (served at /gradio_api/file=..., emptied by delete_cache like the page's
    downloads) and its URL."""
    cached = _answer.move_resource_to_block_cache(str(path)) if _answer is not None else str(path)
    return f"{root}/gradio_api/file={quote(str(cached))}"


def _tools_only(get_tool_to_endpoint):
    """Gradio's MCP server lists every public endpoint in its schema (/gradio_api/mcp/schema), the page's /segment
    too, as a third entry `segment_photo_1` marked api_only, beside the two tools the README names; list_tools
    already left it out. Both now see only functions that are tools (no `_mcp_type`, or "tool")."""

    def tools(self) -> dict:
        named = get_tool_to_endpoint(self)
        return {tool: endpoint for tool, endpoint in named.items()
                if getattr(getattr(self.get_block_fn_from_endpoint_name(endpoint), "fn", None), "_mcp_type",
                           "tool") == "tool"}

    tools.__wrapped__ = get_tool_to_endpoint
    return tools


try:
    from gradio.mcp import GradioMCPServer
except ImportError:  # no `mcp` package: no MCP server either
    GradioMCPServer = None
if GradioMCPServer is not None and not hasattr(GradioMCPServer.get_tool_to_endpoint, "__wrapped__"):
    GradioMCPServer.get_tool_to_endpoint = _tools_only(GradioMCPServer.get_tool_to_endpoint)


def build_api() -> None:
    """The MCP tool's endpoint, `/segment_json`, on hidden components (call it inside the Blocks, before the photo
    tab: Gradio names tools in the order of their endpoints, and the tool is to be `segment_photo`, not
    `segment_photo_1`)."""
    global _answer
    with gr.Column(visible=False):
        inputs = [PhotoInput(type="filepath", label="Photo"),
                  OpenDropdown(["auto"] + backends.names(), value="auto", label="Backend"),
                  OpenNumber(0.5, label="Minimum detection confidence", minimum=0.1, maximum=0.9),
                  OpenNumber(6, label="Maximum hands", minimum=1, maximum=12, precision=0),
                  OpenNumber(1.5, label="Box expansion scale", minimum=1.0, maximum=2.5),
                  gr.Textbox("", label="Replicate API token"),
                  OpenDropdown(photo.ANONYMISE, value="off", label="Hide"),
                  OpenDropdown(list(STYLES), value="blur", label="Style")]
        _answer = gr.Textbox(label="JSON answer")
        run = gr.Button("Segment (API)")
    run.click(segment_photo, inputs, _answer, api_name="segment_json", show_progress="hidden")
