"""Video: frames in, one `Result` per frame out, with labels kept stable by tracking.

The MediaPipe graphs are created for one video and closed at its end (never the photo graphs of
`core.detect.graphs`, never shared with another request or webcam visitor). Hands run in MediaPipe's video
(tracking) mode, which follows each hand from the previous frame's landmarks. Faces are followed the same way by
hand: FaceMesh (or, where it sees none, CenterFace) on the crop where each face is heading, with BlazeFace (full
range, so small faces too) looking for new faces every few frames and whenever a face is lost, and CenterFace on
the whole frame now and then for the masked and turned faces BlazeFace misses. A face is tracked only under the
photo rule (`core.detect.faces`): BlazeFace and CenterFace agree, or CenterFace is sure and sees the face again
at its own scale; BlazeFace's "faces" on fists and on hands holding cards never get a number.

A small tracker gives every face and hand a number for as long as it is seen: detections are matched to tracks by
distance to where the track was heading (and handedness for hands), a track missed for a few frames is carried on
its last landmarks (moved by its recent velocity) so one missed frame does not renumber anyone, one that reappears
within a second near where it was lost takes its number back, a new face or hand gets the next unused number, and
a scene cut ends every track. The numbered detections then go through the photo pipeline's own later stages
(`pipeline.finish`: prompts, backend, selection, labels, drawing), which keep each detection's number in its
label. Detection of frame i+1 runs on another thread while frame i is masked and drawn.

The files, in the order a frame meets them:
- `decode.py`: the decoder and the limits a file must meet (runs as a script in a child process);
- `child.py`: starts, watches and stops that child; `reader.py`: a clip's frames one at a time;
- `graphs.py`: the clip's own MediaPipe graphs, faces and hands at once on both cores;
- `faces.py`: faces followed on crops under the photo rule; `schedule.py`: when each face detector looks;
- `tracking.py`: numbers that stay with each face and hand; `skin.py`: hands must look like the face's skin;
- `segmenter.py`: one frame's tracked detections through the photo pipeline's later stages, and `segment_video`;
- `writer.py`: H.264 out, audio kept; `batch.py`: clips on the command line; `live.py`: the webcam streams' pool.
"""
from .reader import VideoInfo, VideoLoadError, VideoReader, probe
from .segmenter import VideoSegmenter, segment_video
from .tracking import Tracker
from .writer import VideoWriter

__all__ = ["VideoInfo", "VideoLoadError", "VideoReader", "VideoWriter", "probe", "Tracker", "VideoSegmenter",
           "segment_video"]
