"""The Video tab: a clip in, the clip with every face and hand tracked and drawn (and an anonymised copy) out."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import gradio as gr

from core.options import check_options

from .files import EXAMPLES_DIR, VIDEO_DOWNLOADS
from .inputs import OpenSlider, choice
from .photo import ANONYMISE
from .queue_guard import Limit, still_wanted

log = logging.getLogger("app")
VIDEO_MAX_SECONDS = float(os.environ.get("VIDEO_MAX_SECONDS", "60"))  # longest clip the Space accepts (CPU)
# A faster clip is thinned to every n-th frame: 240 fps slow motion is 14,400 frames a minute (~50 min here).
VIDEO_MAX_FPS = float(os.environ.get("VIDEO_MAX_FPS", "30"))
# Clips run one at a time (each uses both cores): a few may wait, one per visitor, so that clips never fill the
# queue that photos and the webcam share (app.py installs it).
VIDEO_WAITING = 4
VIDEO_LIMIT = Limit(waiting=VIDEO_WAITING, per_visitor=1,
                    busy=f"{VIDEO_WAITING} clips are already waiting to be processed; please try again in a few "
                         "minutes.",
                    again="Your earlier clip is still being processed; wait for it, or press Stop, then send this one.")
VIDEO_EXAMPLES = [str(p) for p in sorted(EXAMPLES_DIR.glob("*.mp4"))]
READY = "Upload a clip or pick the example. Offline backend (landmark masks)."
RUNNING = "Segmenting every frame of the clip..."
NOT_DONE = "Not done (the message says why). Upload a clip or pick the example."


class AnonymiseChoice(gr.Radio):
    """The anonymise choices, the photo tab's words ("off", "faces", "hands", "all"); "no", the video API's word
    for "off" before both said the same, is still taken as "off" from API callers. Same frontend as gr.Radio;
    like ui.inputs' components it passes any other value on, and `run_video` says what is wrong with it."""

    is_template = True

    def preprocess(self, payload):
        return "off" if payload == "no" else payload


class VideoInput(gr.Video):
    """gr.Video whose API help says what to send in our words (gr.Video's printed Gradio's whole FileData
    docstring on the API page and in view_api())."""

    is_template = True

    def api_info(self) -> dict:
        return dict(super().api_info(), additional_description=(
            "The clip: a file (gradio_client's handle_file) or a public http(s) URL; MP4, MOV, WebM, MKV or AVI of "
            f"up to {VIDEO_MAX_SECONDS:.0f} s."))


def run_video(video, anonymise="off", min_confidence=0.5, max_hands=6, progress=gr.Progress()):
    """Find and mask every face and hand in every frame of a video clip, with labels that follow each one.

    Args:
        video: The clip to segment: MP4, MOV, WebM, MKV or AVI of up to 60 s; a clip above 30 fps is thinned.
        anonymise: "off" (default), or blur the "faces", "hands" or "all" of them in an extra anonymised video.
        min_confidence: The minimum detector confidence for a face or hand, from 0.1 to 0.9.
        max_hands: The most hands to find in one frame, from 1 to 12.

    Returns:
        the annotated H.264 video with every face and hand outlined and labelled (face-1, hand-2 left)
        the anonymised H.264 video (none when anonymise is off)
        a status line with the faces and hands tracked and the frames per second of this run in the Space
        the downloads: annotated MP4, anonymised MP4 when made, COCO JSON with one image per frame, result JSON
    """
    from core.video.batch import process_video

    started = time.perf_counter()
    if not video:
        raise gr.Error("Please upload a video first (or pick the example).", print_exception=False)
    what = _hidden(choice("anonymise", "off" if anonymise is None else anonymise, ANONYMISE))
    try:
        numbers = check_options(min_confidence=0.5 if min_confidence is None else min_confidence,
                                max_hands=6 if max_hands is None else max_hands)
    except ValueError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    progress(0, desc="Reading the video")

    def on_frame(done, total):
        if total:
            progress(min(done / total, 1.0), desc=f"Frame {done} of {total}")
        else:
            progress(None, desc=f"Frame {done}")

    with VIDEO_DOWNLOADS.new() as folder:  # never pruned while the clip runs; removed if it fails
        out = folder / Path(video).stem
        try:
            res = process_video(video, str(out), anonymise=what, max_seconds=VIDEO_MAX_SECONDS,
                                max_fps=VIDEO_MAX_FPS, progress=False, on_frame=on_frame,
                                should_stop=lambda: not still_wanted(), min_confidence=numbers["min_confidence"],
                                max_hands=numbers["max_hands"])
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        if not res["ok"]:
            log.info("video not done: %s", res["error"])
            raise gr.Error(res["error"], print_exception=False)
    anonymised = str(out / "anonymised.mp4") if what else None
    return str(out / "annotated.mp4"), anonymised, video_status(res, time.perf_counter() - started), res["files"]


def video_status(res: dict, seconds: float) -> str:
    """The status line: what was tracked, the notes, and this run's speed in the Space (frames over the wall time
    of the request's handler: reading, segmenting, encoding and writing the downloads)."""
    faces = sum(1 for label in res["labels"] if label.startswith("face"))
    hands = len(res["labels"]) - faces
    n = res["frames"]
    head = (f"**{n} frames, {faces} face{'s' if faces != 1 else ''} and {hands} hand{'s' if hands != 1 else ''} "
            f"tracked**")
    speed = f"This Space: {n} frames in {seconds:.1f} s ({n / max(seconds, 1e-6):.1f} frames/s)"
    return "\n".join([head] + [f"- {m}" for m in res["messages"]] + [f"- {speed}"])


def _starting():
    """Before a clip runs: the status says so, and the anonymised video of an earlier run goes."""
    return RUNNING, gr.update(value=None, visible=False)


def _show_anonymised(anonymise):
    """After a run: the anonymised video's box only when one was asked for (API callers get None for it)."""
    return gr.update(visible=_hidden(anonymise) is not None)


def _hidden(anonymise):
    """What the anonymised video hides ("faces", "hands" or "all"), or None for none (off, or anything else)."""
    return anonymise if anonymise in ANONYMISE and anonymise != "off" else None


def build_video_tab() -> None:
    with gr.Tab("Video"):
        with gr.Row():
            with gr.Column():
                video = VideoInput(label=f"Clip (up to {VIDEO_MAX_SECONDS:.0f} s)", sources=["upload"], height=360,
                                   elem_id="video-clip")
                examples = gr.Examples(VIDEO_EXAMPLES, inputs=[video], label="Example (click to run it; CC BY 4.0, "
                                       "Intel sample videos)") if VIDEO_EXAMPLES else None
                anonymise = AnonymiseChoice(ANONYMISE, value="off", label="Also make an anonymised video",
                                            info="blurs the chosen faces and hands in every frame")
                with gr.Row():
                    run = gr.Button("Segment every frame", variant="primary", scale=3)
                    stop = gr.Button("Stop", variant="secondary", scale=1)  # stops a running clip after its frame
                with gr.Accordion("Settings", open=False):
                    min_conf = OpenSlider(0.1, 0.9, value=0.5, step=0.05, label="Minimum detection confidence")
                    max_hands = OpenSlider(1, 12, value=6, step=1, label="Maximum hands", precision=0)
            with gr.Column():
                annotated = gr.Video(label="Annotated video", height=360, elem_id="video-annotated")
                status = gr.Markdown(READY, label="Status", elem_id="video-status")
                anonymised = gr.Video(label="Anonymised video", height=240, visible=False,
                                      elem_id="video-anonymised")
                downloads = gr.File(label="Downloads", file_count="multiple")
        inputs = [video, anonymise, min_conf, max_hands]
        outputs = [annotated, anonymised, status, downloads]
        # One clip at a time (each uses both cores); photos keep their own two workers. One progress bar, on the
        # annotated video (one per output overlapped the status).
        options = dict(concurrency_limit=1, concurrency_id="video", show_progress="full", show_progress_on=[annotated])
        starting = dict(fn=_starting, inputs=None, outputs=[status, anonymised], queue=False, show_progress="hidden",
                        api_visibility="private")
        not_done = dict(fn=lambda: NOT_DONE, inputs=None, outputs=[status], queue=False, show_progress="hidden",
                        api_visibility="private")
        running = [run.click(**starting).then(run_video, inputs, outputs, api_name="segment_video", **options)]
        if examples is not None:  # a click on the example loads it and runs it (nothing is cached at start-up)
            running.append(examples.load_input_event.then(**starting).then(
                run_video, inputs, outputs, api_visibility="undocumented", **options))
        for event in running:
            event.success(_show_anonymised, [anonymise], [anonymised], queue=False, show_progress="hidden",
                          api_visibility="private")
            event.failure(**not_done)
        # Cancelling frees the worker at once; the clip itself stops after its current frame (still_wanted).
        stop.click(None, cancels=running)
