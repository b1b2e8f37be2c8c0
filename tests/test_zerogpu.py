"""ZeroGPU: where the `spaces` package imports (a Hugging Face Space), the SAM2 model calls of a photo go through
`@spaces.GPU`; elsewhere `spaces` is not imported and nothing is wrapped.

A fake `spaces` module records the calls. Its GPU decorator pickles the arguments and the result, as ZeroGPU does
when it runs the call in a forked worker process. The backend module is loaded a second time under another name
with the fake in place (or with `spaces` absent), so the real `core.backends.sam2` is left untouched."""
from __future__ import annotations

import importlib.util
import pickle
import sys
import types

import numpy as np
import pytest

pytest.importorskip("torch", reason="optional SAM2 install absent (pip install -r requirements-sam2.txt)")
pytest.importorskip("transformers", reason="optional SAM2 install absent (pip install -r requirements-sam2.txt)")

from core.backends import sam2  # noqa: E402
from core.detect import DetectOptions, detect  # noqa: E402
from core.loading import load_image  # noqa: E402
from core.masks.prompts import build_prompts  # noqa: E402

from .conftest import PHOTOS  # noqa: E402
from .test_sam2 import KEY, random_tiny_sam2  # noqa: E402


def fresh_sam2(monkeypatch, spaces_module):
    """A second copy of core/backends/sam2.py, imported with `spaces_module` as `spaces` (None: not installed)."""
    monkeypatch.setitem(sys.modules, "spaces", spaces_module)
    name = "core.backends._sam2_zerogpu_test"
    spec = importlib.util.spec_from_file_location(name, sam2.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def fake_spaces():
    calls = []

    def GPU(fn):
        def wrapper(*args, **kwargs):
            calls.append(fn.__name__)
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # across the worker process boundary
            return pickle.loads(pickle.dumps(fn(*args, **kwargs)))

        return wrapper

    return types.SimpleNamespace(GPU=GPU, calls=calls)


@pytest.fixture(scope="module")
def photo():
    rgb = load_image(PHOTOS / "three_portraits.jpg")
    return rgb, build_prompts(detect(rgb, DetectOptions()), rgb.shape)


def test_with_spaces_the_model_call_goes_through_spaces_gpu(monkeypatch, photo):
    spaces = fake_spaces()
    module = fresh_sam2(monkeypatch, spaces)
    assert module.spaces is spaces and module._model_call is not module._run_model
    assert module.default_device() == "cpu"  # ZeroGPU: loaded on the CPU, moved to CUDA inside the GPU call
    loaded = module.install(KEY, random_tiny_sam2())
    assert loaded.device == "cpu"
    rgb, prompts = photo
    cands = module.Sam2Backend().propose(rgb, prompts, sam2_model=KEY)
    assert spaces.calls == ["_run_model"]  # one GPU call per photo: embedding and batched decode together
    assert len(cands.per_prompt) == len(cands.scores) == len(prompts) >= 3
    assert all(len(masks) == 3 and all(m.shape == rgb.shape[:2] and m.dtype == bool for m in masks)
               for masks in cands.per_prompt)
    # The same candidates as without the wrapper: the photo-sized prior masks stay out of the GPU call, the
    # upsampling happens here.
    masks, scores = module.Sam2Backend().decode(loaded, module.Sam2Backend().embed(loaded, rgb), prompts)
    assert scores == cands.scores
    assert all(np.array_equal(a, b) for ms, cs in zip(masks, cands.per_prompt) for a, b in zip(ms, cs))


def test_inside_the_gpu_call_the_model_moves_to_cuda_once(monkeypatch):
    import torch

    module = fresh_sam2(monkeypatch, fake_spaces())
    moves = []
    model = types.SimpleNamespace(to=lambda device: moves.append(device))
    loaded = module.Loaded(model, processor=None, device="cpu", source="in-memory")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert module._on_device(loaded) is loaded and loaded.device == "cuda"
    module._on_device(loaded)
    assert moves == ["cuda"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # CPU Upgrade hardware: stays on the CPU
    cpu = module.Loaded(model, processor=None, device="cpu", source="in-memory")
    assert module._on_device(cpu).device == "cpu" and moves == ["cuda"]


def test_without_spaces_nothing_is_wrapped(monkeypatch):
    module = fresh_sam2(monkeypatch, None)  # None in sys.modules: `import spaces` raises ImportError
    assert module.spaces is None
    assert module._model_call is module._run_model
    loaded = module.Loaded(types.SimpleNamespace(to=None), processor=None, device="cpu", source="in-memory")
    assert module._on_device(loaded).device == "cpu"


def test_the_backend_the_app_uses_has_no_wrapper_where_spaces_is_absent():
    if importlib.util.find_spec("spaces") is not None:
        pytest.skip("the spaces package is installed here")
    assert sam2.spaces is None and sam2._model_call is sam2._run_model
    assert "spaces" not in sys.modules


def test_a_folder_named_spaces_is_not_the_package(monkeypatch):
    """A folder "spaces" on the path (a download of the package's sources, say) imports as an empty namespace
    package; the backend used to call its missing `GPU` at import and took `import core` down with it."""
    module = fresh_sam2(monkeypatch, types.ModuleType("spaces"))
    assert module.spaces is None and module._model_call is module._run_model
