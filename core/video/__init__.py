"""Clips and live streams: decoded in a watched child, detected with tracking, masked by the photo pipeline."""
from .reader import VideoInfo, VideoLoadError, VideoReader, VideoWriter, probe
from .segmenter import Tracker, VideoSegmenter, segment_video

__all__ = ["VideoInfo", "VideoLoadError", "VideoReader", "VideoWriter", "probe", "Tracker", "VideoSegmenter",
           "segment_video"]
