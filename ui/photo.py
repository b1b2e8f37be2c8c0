"""The Photo tab: a photo in; every face and hand masked, labelled and downloadable; a click fixes a miss.

A click, as in the Segment Anything demo, is a point: in "add" mode, on a miss it finds the face or hand there, or
next to a mask it adds that part (an uncovered finger, a forehead) to that mask; in "cut" mode, on a mask it cuts
that part off. A click inside a mask in "add" mode selects it (to remove it). What a click finds takes the next
free number: nobody else's label changes.

One visitor's photo lives in a `PhotoSession` (kept in `SESSIONS` by Gradio's session id): the automatic result,
the visitor's edits (points where something was missed, added or cut parts, masks removed) and the result with
those edits (`core.segment(photo, edits=...)`). Every
action ends in `_present`, which draws, writes the downloads and says what happened, so all views agree. Only the
page keeps sessions: API and MCP callers cannot click, so their `/segment` calls must not push a visitor's edits out
of the few slots; a visitor whose session went anyway (idle, or a busy Space) is told so, once.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import gradio as gr
import numpy as np

import core
from core import backends
from core.edits import MAX_HINTS, Edits, apply_removals, same_instance
from core.effects import STYLES, anonymise
from core.export import safe_name, write_downloads
from core.loading import MAX_SIDE
from core.render import WEBP_MAX_SIDE, label_colour, preview
from core.status import caller_status, owner_notes, visitor_status

from .files import EXAMPLES_DIR, PHOTO_DOWNLOADS, PhotoInput
from .inputs import OpenDropdown, OpenRadio, OpenSlider, choice
from .sessions import IDLE, RecentSessions

log = logging.getLogger("app")
EXAMPLES = [str(p) for p in sorted(EXAMPLES_DIR.glob("*")) if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]
PREVIEW_PIXELS = 1_000_000  # the shown overlay; downloads keep the photo's (working) size
# Download names start with the photo's name cut to this many characters, so that the longest,
# "<name>_anonymised.png", stays on one line on a phone (390 px, where app.py's CSS gives the name the row's width):
# "02_woman_hand_at_neck_publicdomainpictures_annotated.png" wrapped over five lines there.
DOWNLOAD_STEM_CHARS = 16
ANONYMISE = ["off", "faces", "hands", "all"]
# What a click on the photo does (the SAM demo's positive and negative points), in words short enough for a phone.
CLICK_MODES = [("Click adds", "add"), ("Click cuts", "cut")]
# On a phone the result is below the input and the examples: bring it into view when it changes.
SCROLL_TO_RESULT = """() => { if (window.innerWidth < 768) {
  document.getElementById('result')?.scrollIntoView({behavior: 'smooth', block: 'start'}); } }"""
_logged: set = set()
OUTSIDE_PHOTO = "That click was outside the photo; click on the photo itself."
BAD_MODE = 'A click is "add" (Click adds) or "cut" (Click cuts); choose one above the settings.'
AGAIN = "it was segmented again without them."
START_AGAIN = "press Segment or click the photo to start again."


@dataclasses.dataclass
class PhotoSession:
    """One visitor's photo: what was asked, the automatic result, the edits, and the result with the hints."""

    photo: str
    options: dict
    auto: core.Result
    edits: Edits = Edits()
    edited: Optional[core.Result] = None  # segment(photo, edits=...) for hints, added and cut points; or None
    selected: Optional[str] = None  # label of the mask picked in the result

    @property
    def result(self) -> core.Result:
        """What is shown: the latest segmentation without the removed masks."""
        return apply_removals(self.edited or self.auto, self.edits.removed)


def _keepsake(session: PhotoSession) -> tuple:
    """What is remembered of a session that went: its photo and edits (a few hundred bytes, no Result)."""
    return session.photo, session.edits


SESSIONS = RecentSessions(remember=_keepsake)  # by Gradio's session id: the visitor's photo, results and edits


# The Args: lines of the options both photo endpoints take (the page's /segment here, the MCP tool's /segment_json
# in ui/api.py). Gradio reads each entry from its first line only (the API page and the MCP schema): one line each.
PHOTO_OPTIONS_DOC = """        backend: "auto" (Segment Anything 2 via Replicate with a token, else offline landmark masks), "landmarks" (offline masks from MediaPipe landmarks), "replicate" (Segment Anything 2 on Replicate, needs a token) or "sam2" (Segment Anything 2 on this Space, needs its weights).
        min_confidence: the minimum detector confidence for a face or hand, from 0.1 to 0.9 (default 0.5).
        max_hands: the most hands to report, from 1 to 12 (default 6).
        box_scale: how far around each face or hand its mask may reach, from 1.0 to 2.5 times its box (default 1.5).
        replicate_token: a Replicate API token for Segment Anything 2 masks, used for this request only; empty for none.
        anonymise: "off" (default), or hide "faces", "hands" or "all" of them in an extra image.
        anonymise_style: how to hide them: "blur" (default), "pixelate" or "fill"."""


def segment_photo(image, backend="auto", min_confidence=0.5, max_hands=6, box_scale=1.5, replicate_token="",
                  anonymise="off", anonymise_style="blur", request: gr.Request = None, progress=gr.Progress(),
                  evt: gr.EventData = None):
    # The page's Segment button names itself as the trigger; gradio_client and MCP calls name none and keep no
    # session (they cannot click, and 8 of them used to push a visitor's edits out of the slots).
    page = request if evt is not None and evt.target is not None else None
    options = _options(backend, min_confidence, max_hands, box_scale, replicate_token)
    anonymise, anonymise_style = _effect(anonymise, anonymise_style)
    outputs = _new_session(image, options, anonymise, anonymise_style, page, progress)
    if page is not None:
        return outputs
    shown, status, files, details, cutouts, hidden = outputs
    return shown, caller_status(status), files, details, cutouts, hidden  # no "click the photo", no "Settings"


# `/segment` (six outputs) is for the page and gradio_client, not an MCP tool: Gradio would give an agent its outputs
# as six Python reprs. gradio.mcp lists a function as a tool only without `_mcp_type` (or with "tool"), as its own
# gr.mcp.resource/prompt decorators set it; the tool `segment_photo` is ui/api.py's, answering in JSON.
segment_photo._mcp_type = "api_only"
segment_photo.__doc__ = f"""Find every face and hand in a photo and cut each one out with its own mask.

    Gradio reads each Args: entry from its first line only (the API page and the MCP schema), so each is one line.

    Args:
        image: the photo (JPEG, PNG, WebP, HEIC, ...; up to 100 MB): a file (gradio_client's handle_file), a public http(s) URL, or a data: URL (data:image/jpeg;base64,...).
{PHOTO_OPTIONS_DOC}

    Returns:
        the photo with every mask drawn and labelled ("face-1", "hand-1 (left)", ...)
        a status line saying what was found
        downloads: annotated PNG, zip of 0/255 mask PNGs and transparent cut-outs, result JSON, COCO JSON
        JSON summary: per instance label, kind, box, score, handedness, area, backend; width, height, timings
        one transparent cut-out PNG per face and hand
        the anonymised photo, when asked for
    """


def on_upload(image, backend, min_confidence, max_hands, box_scale, replicate_token, anonymise_, style,
              request: gr.Request, progress=gr.Progress()):
    """An upload runs at once; a file that cannot be used is said in the status line and clears the result."""
    try:
        options = _options(backend, min_confidence, max_hands, box_scale, replicate_token)
        anonymise_, style = _effect(anonymise_, style)
        return _new_session(image, options, anonymise_, style, request, progress)
    except gr.Error as exc:
        return _cleared(request, f"**{exc.message}**")


def on_click_photo(image, backend, min_confidence, max_hands, box_scale, replicate_token, anonymise_, style,
                   mode="add", evt: gr.SelectData = None, request: gr.Request = None, progress=gr.Progress()):
    """A click on the photo. "add": inside a mask it selects that mask; elsewhere it looks for a missed face or
    hand there (`segment(..., hints=[...])`, with the earlier clicks on this photo that found one), and when there
    is none but a mask is next to it, adds that part to the mask. "cut": on a mask, cuts that part off. A click
    that found nothing is not looked at again, and one at the place of an earlier click is answered without a
    look."""
    if image is None:
        return _unchanged("Upload a photo first, then click where a face or hand was missed.")
    if (mode or "add") not in [value for _, value in CLICK_MODES]:
        return _unchanged(BAD_MODE)
    point = _click_point(getattr(evt, "index", None))
    if point is None:
        return _unchanged(OUTSIDE_PHOTO)
    x, y = point
    session = SESSIONS.get(request.session_hash)
    try:
        options = _options(backend, min_confidence, max_hands, box_scale, replicate_token)
        anonymise_, style = _effect(anonymise_, style)
    except gr.Error as exc:
        return _unchanged(f"**{exc.message}**")
    lost = ""
    if session is None or session.photo != image or session.options != options:
        lost = _lost(request, image, AGAIN) if session is None else ""
        try:
            session = PhotoSession(photo=image, options=options, auto=_segment(image, options))
        except gr.Error as exc:
            return _cleared(request, f"**{exc.message}**")
    hit = _instance_at(session.result, x, y)
    if mode == "cut":
        if hit is None:
            return _present(session, anonymise_, style, request,
                            _join(lost, f"Your click at ({x:.0f}, {y:.0f}) is on no mask; in Cut mode, click the "
                                        "part of a mask to remove."))
        return _edit_point(session, x, y, True, hit.label, anonymise_, style, request, lost, progress)
    if hit is not None:
        session.selected = hit.label
        return _present(session, anonymise_, style, request, _join(lost, _selected(hit.label)))
    earlier = session.edits.earlier_click(x, y, min(session.result.image.shape[:2]))
    if earlier is not None:
        did = f"Your click at ({x:.0f}, {y:.0f}) is where you clicked before; nothing new was found there."
        return _present(session, anonymise_, style, request, _join(lost, did))
    if session.edits.full:
        did = f"You have added {MAX_HINTS} faces and hands by clicking, the most one photo keeps; Reset starts again."
        return _present(session, anonymise_, style, request, _join(lost, did))
    progress(0.2, desc="Looking again where you clicked")
    before = session.result
    edits = session.edits.with_hint(x, y)
    hinted = _segment(image, options, edits=edits)
    added = [inst.label for inst in apply_removals(hinted, session.edits.removed, draw=False).instances
             if not any(same_instance(inst.box, old.box) for old in before.instances)]
    if added:
        session = dataclasses.replace(session, edits=edits, edited=hinted, selected=None)
        did = f"Your click at ({x:.0f}, {y:.0f}) added {', '.join(added)}."
        return _present(session, anonymise_, style, request, _join(lost, did))
    nearest = _nearest_instance(before, x, y)
    if nearest is not None:  # nothing new there, but a mask is next to it: the visitor means this part of it
        return _edit_point(session, x, y, False, nearest.label, anonymise_, style, request, lost, progress)
    # kept as a miss only: the result and its notes stay those of the clicks that found something
    session = dataclasses.replace(session, edits=session.edits.with_miss(x, y), selected=None)
    notes = [f"- {m}" for m in hinted.messages if m not in before.messages]  # said for this click only
    did = "\n\n".join([f"Your click at ({x:.0f}, {y:.0f}) found nothing new."] + notes)
    return _present(session, anonymise_, style, request, _join(lost, did))


def _edit_point(session, x, y, cut: bool, label: str, anonymise_, style, request, lost: str, progress):
    """An added or cut point on the instance `label` names: segment again with it, and say what changed."""
    progress(0.3, desc="Cutting that part" if cut else "Adding that part")
    before = {inst.label: inst.area for inst in session.result.instances}
    edits = session.edits.with_point(x, y, cut=cut)
    edited = _segment(session.photo, session.options, edits=edits)
    session = dataclasses.replace(session, edits=edits, edited=edited, selected=None)
    after = next((inst for inst in session.result.instances if inst.label == label), None)
    change = 0 if after is None else after.area - before.get(label, 0)
    verb = "cut" if cut else "added"
    did = (f"Your click at ({x:.0f}, {y:.0f}) {verb} {abs(change):,} pixels {'from' if cut else 'to'} {label}."
           if change else f"Your click at ({x:.0f}, {y:.0f}) is kept as a point {verb} {'from' if cut else 'to'} "
                          f"{label}; its mask did not change.")
    return _present(session, anonymise_, style, request, _join(lost, did))


def on_select_mask(anonymise_, style, evt: gr.SelectData, request: gr.Request):
    """A label chip (or mask) picked in the result: remember it, offer to remove it."""
    session = SESSIONS.get(request.session_hash)
    if session is None:
        return _unchanged(_expired(request))
    label = getattr(evt, "value", None)
    if label not in [inst.label for inst in session.result.instances]:  # a stale chip, or any JSON via the API
        return _unchanged("")
    session.selected = label if evt.selected else None
    did = _selected(label) if evt.selected else ""
    return _present(session, anonymise_, style, request, did)


def on_remove(anonymise_, style, request: gr.Request):
    """Remove the selected mask from the view and from every download."""
    session = SESSIONS.get(request.session_hash)
    if session is None and _expired(request):
        return _unchanged(_expired(request))
    if session is None or session.selected is None:
        return _unchanged("Click a label under the result (or a mask on the photo) to select it first.")
    inst = next((i for i in session.result.instances if i.label == session.selected), None)
    if inst is None:
        return _unchanged("That mask is already gone.")
    session = dataclasses.replace(session, edits=session.edits.without(inst), selected=None)
    return _present(session, anonymise_, style, request, f"Removed {inst.label}; “Reset” brings it back.")


def on_reset(anonymise_, style, request: gr.Request):
    """Back to the automatic result: every click and removal on this photo forgotten."""
    session = SESSIONS.get(request.session_hash)
    if session is None:
        return _unchanged(_expired(request))
    session = dataclasses.replace(session, edits=Edits(), edited=None, selected=None)
    return _present(session, anonymise_, style, request, "Back to the automatic result.")


def on_effect(anonymise_, style, request: gr.Request):
    """The anonymise choice changed: redo the anonymised image and the downloads (no new segmentation)."""
    session = SESSIONS.get(request.session_hash)
    if session is None:
        return _unchanged(_expired(request))
    return _present(session, anonymise_, style, request)


def on_clear(request: gr.Request):
    return _cleared(request, "Upload a photo or pick an example.")


def show_buttons(request: gr.Request):
    """After every action: the remove button (named after the selected mask) and the reset button (when there
    is something to undo)."""
    session = SESSIONS.get(request.session_hash)
    selected = session.selected if session is not None else None
    remove = gr.update(value=f"Remove {selected}", visible=True) if selected else gr.update(visible=False)
    reset = gr.update(visible=bool(session is not None and session.edits))
    return remove, reset


# --------------------------------------------------------------------------------------------------- internals

def _new_session(image, options: dict, what: str, style: str, request, progress):
    """Segment a photo afresh; with `request` (the page), the visitor's session starts over on it."""
    if image is None:
        raise gr.Error("Please upload a photo first (or pick an example).", print_exception=False)
    progress(0.1, desc="Finding faces and hands")
    session = PhotoSession(photo=image, options=options, auto=_segment(image, options))
    progress(0.9, desc="Preparing downloads")
    return _present(session, what, style, request, _lost(request, image, AGAIN))


def _segment(image, options: dict, edits: Optional[Edits] = None) -> core.Result:
    """core.segment with errors turned into one sentence for the visitor (never a traceback). Removals are the
    session's to apply (`PhotoSession.result`): removing a mask needs no new segmentation."""
    extra = {"replicate_token": options["replicate_token"]} if options["replicate_token"] else {}
    edits = dataclasses.replace(edits, removed=(), misses=()) if edits is not None else None
    try:
        result = core.segment(image, backend=options["backend"], min_confidence=options["min_confidence"],
                              max_hands=options["max_hands"], box_scale=options["box_scale"], edits=edits,
                              **extra)  # core checks NaN and ranges
    except ValueError as exc:  # ImageLoadError and bad options: a sentence the user can act on
        log.info("refused: %s", exc)  # one line in the server log; an expected outcome, not a crash
        raise gr.Error(str(exc), print_exception=False) from None
    except Exception as exc:  # never show a traceback to a visitor
        log.error("segmentation failed: %s", type(exc).__name__)
        raise gr.Error("Something went wrong while processing this photo. Please try another one.",
                       print_exception=False) from None
    for note in owner_notes(result, visitor_token=bool(extra)):
        if note not in _logged:  # the Space's owner reads this once in the log, not in every visitor's status
            _logged.add(note)
            log.warning("%s", note)
    return result


def _options(backend, min_confidence, max_hands, box_scale, replicate_token) -> dict:
    """The segmentation options, the backend's name and the token checked here (gr.Error, one sentence); the numbers
    are checked by core.segment, before any work (its ValueError becomes the visitor's sentence in `_segment`)."""
    if replicate_token is not None and not isinstance(replicate_token, str):
        raise gr.Error("replicate_token must be text (a Replicate API token) or empty.", print_exception=False)
    return dict(backend=choice("backend", backend or "auto", ["auto"] + backends.names()),
                min_confidence=min_confidence, max_hands=max_hands, box_scale=box_scale,
                replicate_token=(replicate_token or "").strip())


def _effect(what, style) -> tuple:
    """The anonymise choice and style, checked (gr.Error, one sentence); None (not sent) is the default."""
    return choice("anonymise", "off" if what is None else what, ANONYMISE), \
        choice("anonymise_style", "blur" if style is None else style, list(STYLES))


def _present(session: PhotoSession, what: str, style: str, request, did: str = ""):
    """All outputs for the session's current result (overlay, status, downloads, JSON, cut-outs, anonymised), and
    the session kept for the visitor's next action. Plain values only: API and MCP callers get them as they are."""
    # The Replicate token tip is said with a visitor's first result only: a visitor with a session (here, or gone
    # and remembered) has had one. API and MCP callers keep no session and get it every time.
    token_tip = request is None or (SESSIONS.get(request.session_hash) is None
                                    and SESSIONS.gone(request.session_hash) is None)
    if request is not None:
        SESSIONS.put(request.session_hash, session)
    result = session.result
    what, style = _effect(what, style)
    hidden = anonymise(result, what, style) if what != "off" else None
    name = Path(session.photo).name
    with PHOTO_DOWNLOADS.new() as folder:
        files = write_downloads(result, folder, source_name=name, anonymised=hidden, stem_chars=DOWNLOAD_STEM_CHARS)
    visitor_token = bool(session.options["replicate_token"])
    owner = set(owner_notes(result, visitor_token))
    details = dict(result.to_dict(), source=name, messages=[m for m in result.messages if m not in owner])
    cutouts = [(str(folder / "cutouts" / f"{safe_name(inst.label)}.png"), inst.label) for inst in result.instances]
    cutouts = [(path, label) for path, label in cutouts if Path(path).exists()]
    shown = preview(result.image, result.instances, PREVIEW_PIXELS)
    did = _join(did, _shown_smaller(result.image, shown[0]))
    status = visitor_status(result, visitor_token=visitor_token, did=did, token_tip=token_tip)
    return shown, status, files, details, cutouts, hidden


def _shown_smaller(image: np.ndarray, shown: np.ndarray) -> str:
    """One sentence when the shown overlay was downscaled to fit WebP's side limit (a very long, thin photo); ""
    otherwise (the usual 1 MP overlay of a large photo needs no word: the downloads are full size)."""
    h, w = image.shape[:2]
    if max(h, w) <= WEBP_MAX_SIDE:
        return ""
    return (f"The photo is shown at {shown.shape[1]}x{shown.shape[0]} px (an image on the page may be at most "
            f"{WEBP_MAX_SIDE:,} px a side); the downloads keep its {w}x{h}.")


def _lost(request, image, then: str) -> str:
    """One sentence when this visitor's session on `image` went with edits in it (removals, clicks that found
    something), ending in `then`; "" otherwise (nothing to lose, or another photo)."""
    gone = SESSIONS.gone(request.session_hash) if request is not None else None
    if gone is None or gone.kept is None:
        return ""
    photo, edits = gone.kept
    if (image is not None and photo != image) or not edits:
        return ""
    parts = [_count(len(edits.removed), "removed mask"), _count(len(edits.hints), "click")]
    return f"Your earlier edits on this photo ({' and '.join(p for p in parts if p)}) {_went(gone, 'were')}; {then}"


def _expired(request) -> str:
    """For an action that needs the session (remove, reset, anonymise) when it went: what went, and what to do."""
    gone = SESSIONS.gone(request.session_hash) if request is not None else None
    if gone is None:
        return ""
    return _lost(request, None, START_AGAIN) or f"This photo's result {_went(gone, 'was')}; {START_AGAIN}"


def _went(gone, verb: str) -> str:
    return (f"expired after {SESSIONS.ttl_s / 60:.0f} minutes idle" if gone.why == IDLE
            else f"{verb} let go to make room for other visitors")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}" if n else ""


def _join(*sentences: str) -> str:
    return " ".join(s for s in sentences if s)


def _click_point(index):
    """(x, y) of a click on the photo, or None for anything else: the API lets a caller send any JSON as the
    index (NaN, 1e308, strings, one number), and no Python error text or 309-digit number may reach the status."""
    if not isinstance(index, (list, tuple)) or len(index) != 2:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= MAX_SIDE for v in index):
        return None  # NaN and infinity fail the comparison; no photo has a side beyond MAX_SIDE (core.loading)
    return float(index[0]) + 0.0, float(index[1]) + 0.0  # + 0.0: a click at -0.0 is said as (0, 0), not (-0, -0)


def _unchanged(message: str):
    """Only the status line changes."""
    return gr.skip(), message or gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()


def _cleared(request, message: str):
    if request is not None:
        SESSIONS.drop(request.session_hash)
    return None, message, None, None, [], None


def _selected(label: str) -> str:
    return f"Selected {label}: “Remove {label}” drops it."


# A click this close to a mask (share of the photo's shorter side), where nothing new was found, adds that part to
# the mask: a fingertip or a forehead the mask missed lies within a few per cent of the photo from the mask's edge.
NEXT_TO_MASK = 0.06


def _nearest_instance(result, x: float, y: float):
    """The instance whose mask is nearest to (x, y), if within NEXT_TO_MASK of the photo's shorter side."""
    h, w = result.image.shape[:2]
    near = NEXT_TO_MASK * min(h, w)
    best, best_d = None, near
    xi, yi = int(x), int(y)
    for inst in result.instances:
        x0, y0, x1, y1 = (int(v) for v in inst.box)
        if not (x0 - near <= xi <= x1 + near and y0 - near <= yi <= y1 + near):
            continue
        ys, xs = np.nonzero(inst.mask[max(0, yi - int(near)):yi + int(near) + 1,
                                      max(0, xi - int(near)):xi + int(near) + 1])
        if len(xs):
            d = float(np.min(np.hypot(xs + max(0, xi - int(near)) - xi, ys + max(0, yi - int(near)) - yi)))
            if d < best_d:
                best, best_d = inst, d
    return best


def _instance_at(result, x: float, y: float):
    h, w = result.image.shape[:2]
    xi, yi = int(x), int(y)
    if not (0 <= xi < w and 0 <= yi < h):
        return None
    return next((inst for inst in result.instances if inst.mask[yi, xi]), None)


def _colour_map() -> dict:
    """Colours for every label the app can produce, matching the outlines drawn by core.render."""
    labels = [f"face-{n}" for n in range(1, 41)]
    labels += [f"hand-{n}{side}" for n in range(1, 25) for side in ("", " (left)", " (right)")]
    return {lab: "#%02x%02x%02x" % label_colour(lab) for lab in labels}


def build_photo_tab() -> None:
    with gr.Tab("Photo"):
        with gr.Row(equal_height=False):
            with gr.Column():
                photo = PhotoInput(label="Photo (click it to fix a mask)", type="filepath",
                                   sources=["upload", "webcam", "clipboard"], image_mode=None, height=300,
                                   elem_id="photo")
                examples_slot = gr.Column()
                with gr.Row(equal_height=True):
                    run = gr.Button("Segment", variant="primary", scale=1, min_width=120)
                    click_mode = OpenRadio(CLICK_MODES, value="add", show_label=False, container=False, scale=2,
                                           min_width=200, elem_id="click-mode")
                with gr.Accordion("Settings", open=False):
                    backend = OpenDropdown(["auto"] + backends.names(), value="auto", label="Backend",
                                           info="auto: Segment Anything 2 on Replicate with a token, else offline "
                                                "landmark masks")
                    min_conf = OpenSlider(0.1, 0.9, value=0.5, step=0.05, label="Minimum detection confidence")
                    max_hands = OpenSlider(1, 12, value=6, step=1, label="Maximum hands", precision=0)
                    box_scale = OpenSlider(1.0, 2.5, value=1.5, step=0.1, label="Box expansion scale")
                    token = gr.Textbox(value="", label="Replicate API token (optional, used for your requests only)",
                                       type="password", placeholder="r8_...")
            with gr.Column():
                shown = gr.AnnotatedImage(label="Faces and hands", show_label=False, height=360,
                                          color_map=_colour_map(), elem_id="result")
                status = gr.Markdown("Upload a photo or pick an example.", label="Status", elem_id="status")
                with gr.Row():
                    remove = gr.Button("Remove", visible=False, size="sm", variant="stop")
                    reset = gr.Button("Reset to the automatic result", visible=False, size="sm")
                # Accordions, not tabs: on a phone, tabs that do not fit go behind a "..." menu.
                with gr.Accordion("Downloads", open=True):
                    downloads = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                        show_label=False, elem_id="downloads")
                with gr.Accordion("Cut-outs", open=True):
                    cutouts = gr.Gallery(label="Cut-outs", columns=3, height=260, object_fit="contain",
                                         format="png", interactive=False, show_label=False, elem_id="cutouts",
                                         buttons=["download", "fullscreen"])
                with gr.Accordion("Anonymise", open=False):
                    with gr.Row():
                        what = OpenRadio(ANONYMISE, value="off", label="Hide", scale=1, min_width=160)
                        style = OpenRadio(list(STYLES), value="blur", label="Style", scale=1, min_width=160)
                    hidden = gr.Image(label="Anonymised", height=300, format="png", interactive=False,
                                      buttons=["download", "fullscreen"])
                with gr.Accordion("JSON", open=False):
                    details = gr.JSON(label="Result JSON", show_label=False)
        settings = [backend, min_conf, max_hands, box_scale, token]
        outputs = [shown, status, downloads, details, cutouts, hidden]
        private = dict(api_visibility="private", show_progress_on=[shown])

        def then_buttons(event):
            event.then(show_buttons, None, [remove, reset], api_visibility="private", show_progress="hidden")

        then_buttons(run.click(segment_photo, [photo, *settings, what, style], outputs, api_name="segment",
                               show_progress_on=[shown]))
        then_buttons(photo.upload(on_upload, [photo, *settings, what, style], outputs, **private))
        then_buttons(photo.clear(on_clear, None, outputs, api_visibility="private"))
        then_buttons(photo.select(on_click_photo, [photo, *settings, what, style, click_mode], outputs, **private))
        then_buttons(shown.select(on_select_mask, [what, style], outputs, api_visibility="private"))
        then_buttons(remove.click(on_remove, [what, style], outputs, api_visibility="private"))
        then_buttons(reset.click(on_reset, [what, style], outputs, api_visibility="private"))
        then_buttons(what.change(on_effect, [what, style], outputs, api_visibility="private"))
        then_buttons(style.change(on_effect, [what, style], outputs, api_visibility="private"))
        shown.change(None, js=SCROLL_TO_RESULT)
        if EXAMPLES:
            with examples_slot:  # directly below the input, so visible without scrolling (also on a phone)
                examples = gr.Examples(EXAMPLES, inputs=[photo], label="Examples: click one", examples_per_page=8)
            then_buttons(examples.load_input_event.then(on_upload, [photo, *settings, what, style], outputs,
                                                         **private))
