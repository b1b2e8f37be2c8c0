"""Face and hand segmentation: MediaPipe finds faces and hands, a backend masks each one.

Public API (other tools depend on it): `segment(image, backend="auto", **options) -> Result` for photos and
`segment_video(source, backend="landmarks", **options)`, an iterator of one `Result` per frame, for clips.
"""
from .edits import Edits
from .loading import ImageLoadError, load_image
from .pipeline import segment
from .types import Detection, Instance, Result
from .video import VideoLoadError, segment_video

__all__ = ["segment", "segment_video", "Edits", "Result", "Instance", "Detection", "ImageLoadError", "VideoLoadError",
           "load_image"]
