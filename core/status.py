"""What a visitor is told about a Result: what they got, and what they can do next.

A Space's visitor cannot add a secret or install weights, so notes about how the Space is set up ("replicate not
used: no REPLICATE_API_TOKEN set ...") are for its owner: `owner_notes` returns them for the server log, and
`visitor_status` leaves them out and says instead what the visitor can do (paste their own token, click a miss).
"""
from __future__ import annotations

BACKEND_WORDS = {
    "landmarks": "Offline masks from landmarks",
    "replicate": "Segment Anything 2 masks (Replicate)",
    "sam2": "Segment Anything 2 masks (on this Space)",
}
TOKEN_TIP = "For Segment Anything 2 masks, paste a Replicate token in Settings."
CLICK_TIP = ("Missed one, or part of one? Click it on the photo (“Click cuts” takes a part off). To remove a mask, "
             "click its label.")
NONE_TIP = "Click the photo where a face or hand is to look again there."
# A caller without the page (gradio_client, MCP) has no Settings to open and no photo to click.
API_TOKEN_TIP = "For Segment Anything 2 masks, pass replicate_token (a Replicate API token)."
PAGE_TIPS = {TOKEN_TIP: API_TOKEN_TIP, CLICK_TIP: "", NONE_TIP: ""}


def owner_notes(result, visitor_token: bool = False) -> list:
    """The messages about this Space's set-up (a backend "auto" skipped as not set up), for the server log.
    A token the visitor pasted themselves is theirs to fix, so notes about it stay with the visitor."""
    notes = []
    for name, why in result.skipped.items():
        if name == "replicate" and visitor_token:
            continue
        notes.append(f"{name} not used: {why}")
    return notes


def visitor_status(result, visitor_token: bool = False, did: str = "", token_tip: bool = True) -> str:
    """Markdown for the status line: the count in bold, the kind of masks and time, `did` (what the visitor's
    last action did, e.g. "Your click added hand-3."), notes about this photo, and the next step. `token_tip`:
    whether to say where a Replicate token goes (a visitor is told once, not on every result)."""
    owner = set(owner_notes(result, visitor_token))
    how = BACKEND_WORDS.get(result.backend, f"Masks from {result.backend}")
    ms = result.timings.get("total", 0)
    took = f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
    found = result.found() + (" found" if result.instances else "")
    lines = [f"**{found}** · {how}, {took}."]
    if did:
        lines.append(did)
    lines += [f"- {m}" for m in result.messages if m not in owner]
    tips = []
    if token_tip and result.backend == "landmarks" and "replicate" in result.skipped and not visitor_token:
        tips.append(TOKEN_TIP)
    tips.append(CLICK_TIP if result.instances else NONE_TIP)
    lines.append(" ".join(tips))
    return "\n\n".join(lines)


def caller_status(status: str) -> str:
    """`visitor_status`'s text for a caller without the page (gradio_client, MCP): the advice to click the photo
    is left out, and the one to paste a token in Settings becomes "pass replicate_token"."""
    paragraphs = status.split("\n\n")
    last = paragraphs[-1]
    for tip, instead in PAGE_TIPS.items():
        last = last.replace(tip, instead)
    paragraphs[-1] = " ".join(last.split())
    return "\n\n".join(p for p in paragraphs if p)
