"""The Video tab: a clip in, the clip with every face and hand tracked and drawn (and an anonymised copy) out."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import gradio as gr

from .files import EXAMPLES_DIR, VIDEO_DOWNLOADS
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


def run_video(video, anonymise="no", min_confidence=0.5, max_hands=6, progress=gr.Progress()):
    """Find and mask every face and hand in every frame of a video clip, with labels that follow each one.

    Args:
        video: the clip (MP4, MOV, WebM, MKV, AVI, ...; up to 60 s; faster than 30 fps is thinned to about 30).
        anonymise: "no", or blur the "faces", "hands" or "all" of them in an extra video.
        min_confidence: minimum detector confidence for a face or hand, 0.1 to 0.9.
        max_hands: most hands per frame, 1 to 12.

    Returns:
        the annotated H.264 video, every face and hand outlined and labelled ("face-1", "hand-2 (left)")
        the anonymised video, when asked for
        a status line saying what was found
        downloads: the MP4s, COCO JSON with one image per frame, result JSON
    """
    from core.video_batch import process_video

    if not video:
        raise gr.Error("Please upload a video first (or pick the example).", print_exception=False)
    what = anonymise if anonymise in ("faces", "hands", "all") else None
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
                                should_stop=lambda: not still_wanted(), min_confidence=float(min_confidence),
                                max_hands=int(max_hands))
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        if not res["ok"]:
            log.info("video not done: %s", res["error"])
            raise gr.Error(res["error"], print_exception=False)
    anonymised = str(out / "anonymised.mp4") if what else None
    status = "\n".join([f"**{res['headline']}**"] + [f"- {m}" for m in res["messages"]])
    return str(out / "annotated.mp4"), anonymised, status, res["files"]


def build_video_tab() -> None:
    with gr.Tab("Video"):
        with gr.Row():
            with gr.Column():
                video = gr.Video(label=f"Clip (up to {VIDEO_MAX_SECONDS:.0f} s)", sources=["upload"], height=360)
                anonymise = gr.Radio(["no", "faces", "hands", "all"], value="no", label="Also make an anonymised video",
                                     info="blurs the chosen faces and hands in every frame")
                with gr.Row():
                    run = gr.Button("Segment every frame", variant="primary", scale=3)
                    stop = gr.Button("Stop", variant="secondary", scale=1)  # stops a running clip after its frame
                with gr.Accordion("Settings", open=False):
                    min_conf = gr.Slider(0.1, 0.9, value=0.5, step=0.05, label="Minimum detection confidence")
                    max_hands = gr.Slider(1, 12, value=6, step=1, label="Maximum hands")
            with gr.Column():
                annotated = gr.Video(label="Faces and hands, tracked", height=360)
                anonymised = gr.Video(label="Anonymised", height=240)
                status = gr.Markdown("Upload a clip or pick the example. Offline backend (landmark masks).")
                downloads = gr.File(label="Downloads: annotated MP4, anonymised MP4, COCO JSON (per frame), "
                                    "result JSON", file_count="multiple")
        outputs = [annotated, anonymised, status, downloads]
        # One clip at a time (each uses both cores); photos keep their own two workers.
        running = run.click(run_video, [video, anonymise, min_conf, max_hands], outputs, api_name="segment_video",
                            concurrency_limit=1, concurrency_id="video")
        # Cancelling frees the worker at once; the clip itself stops after its current frame (still_wanted).
        stop.click(None, cancels=[running])
        if VIDEO_EXAMPLES:
            gr.Examples(VIDEO_EXAMPLES, inputs=[video], label="Example (CC BY 4.0, Intel sample videos)")
