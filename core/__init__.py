"""Face and hand segmentation: MediaPipe finds faces and hands, a backend masks each one.

Public API (other tools depend on it): `segment(image, backend="auto", **options) -> Result`.
"""
from .loading import ImageLoadError, load_image
from .pipeline import segment
from .types import Detection, Instance, Result

__all__ = ["segment", "Result", "Instance", "Detection", "ImageLoadError", "load_image"]
