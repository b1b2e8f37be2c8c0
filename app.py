"""Gradio Space: drop in a photo, get every face and hand masked and labelled. UI wiring only: the tabs are in
ui/ (photo, video, webcam), all logic in core/."""
from __future__ import annotations

import logging
import os
import threading

from core.malloc import limit_malloc_arenas  # noqa: E402  (before any request thread exists)

limit_malloc_arenas()
os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import gradio as gr  # noqa: E402

from core.detect import warm_up  # noqa: E402
from core.loading import MAX_FILE_BYTES  # noqa: E402  (uploads above the loader's own limit never reach the disk)
from ui.files import save_pil_to_cache_atomically  # noqa: E402,F401  (importing it installs the cache fix)
from ui.photo import EXAMPLES, segment_photo  # noqa: E402,F401  (bench/limits.py calls segment_photo)
from ui.queue_guard import install as install_queue_guard  # noqa: E402
from ui.video import VIDEO_LIMIT, build_video_tab  # noqa: E402
from ui.webcam import WEBCAM_LIMIT, build_webcam_tab, end_webcam_stream  # noqa: E402

DESCRIPTION = """# Face & hand segmentation
Every face and hand gets its own labelled mask: pick an example or drop in a photo, a clip or your webcam.
"""


# Download names wrap instead of being cut to "04_apollo1….png" on a phone; the photo input is shorter there, so the
# first example is inside the first screen. The names' column takes the width the size column does not need (Gradio's
# fixed layout gave it 99 of 298 px on a phone), and the downloads, which are not the visitor's to remove, have no
# remove button.
CSS = """
#downloads td.download { width: auto; min-width: 0; }
@media (max-width: 480px) {
  #downloads tr.file { flex-wrap: wrap; }
  #downloads td.filename { flex-basis: 100%; padding-bottom: 0; }
  #downloads td.download { margin-left: auto; padding-top: 2px; }
}
#downloads td:has(> .label-clear-button) { display: none; }
#downloads .filename { flex-wrap: wrap; overflow: visible; }
#downloads .filename .stem { white-space: normal; overflow-wrap: anywhere; min-width: 0; }
#cutouts .grid-container { grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)) !important; }
"""


def build_demo() -> gr.Blocks:
    from ui.api import build_api
    from ui.photo import build_photo_tab

    with gr.Blocks(title="Face & hand segmentation", delete_cache=(1800, 3600)) as demo:
        build_api()  # hidden: the MCP tool segment_photo (JSON); first, so that Gradio gives it that name
        gr.Markdown(DESCRIPTION)
        build_photo_tab()
        build_video_tab()
        build_webcam_tab()
        demo.unload(end_webcam_stream)
    demo.queue(default_concurrency_limit=2, max_size=32)
    # Clips and webcam streams are limited per visitor and in how many may wait, so that they never fill the
    # queue that every request shares (32 waiting clips locked photos and the webcam out).
    install_queue_guard(demo, {"video": VIDEO_LIMIT, "webcam": WEBCAM_LIMIT})
    return demo


demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    threading.Thread(target=warm_up, daemon=True).start()  # load the MediaPipe graphs while the server starts
    demo.launch(show_error=True, max_file_size=MAX_FILE_BYTES, server_name=os.environ.get("GRADIO_SERVER_NAME"),
                server_port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None,
                mcp_server=True, css=CSS)  # MCP tools at /gradio_api/mcp/ (needs the `mcp` package: gradio[mcp])
