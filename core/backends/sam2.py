"""Local SAM2 backend: `transformers` Sam2Model + Sam2Processor, run in-process (CUDA if present, else CPU).

The expensive step (the image embedding) runs once per photo; every instance's prompt (expanded box, landmark
points, negative points on neighbouring instances) is decoded in one batched call. Each prompt gets the model's three
multimask candidates with its IoU predictions; `core.masks.selection.choose` picks among them against the landmark prior,
like every other backend.

Optional install (`pip install -r requirements-sam2.txt`); nothing here imports torch until the backend is used.
Weights come from `SAM2_MODEL` / the `sam2_model` option (a hub id or a local folder, default
`facebook/sam2.1-hiera-tiny`). Only weights already on this machine are used, unless `SAM2_DOWNLOAD=1` lets the
first request fetch them from the hub. A Space owner either sets that variable, or fetches the weights once with
`hf download facebook/sam2.1-hiera-tiny` (or `sam2.load(model_id, allow_download=True)`).

On a Hugging Face Space (the `spaces` package imports) the model calls of a photo run inside `@spaces.GPU`, as
ZeroGPU hardware requires: see `_on_gpu`. Elsewhere `spaces` is not imported and nothing is wrapped.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, BackendUnavailable, Candidates

log = logging.getLogger(__name__)

try:  # Hugging Face Spaces; not a requirement (absent everywhere else)
    import spaces
except ImportError:
    spaces = None
if not hasattr(spaces, "GPU"):  # a folder named "spaces" on the path imports as an empty namespace package
    spaces = None

DEFAULT_MODEL = "facebook/sam2.1-hiera-tiny"
WEIGHT_FILES = ("config.json", "model.safetensors")  # what `from_pretrained` needs before it can run offline
MAX_NEGATIVES = 8  # negatives per prompt, nearest to the instance first: a crowd must not drown the positives
INSTALL_HINT = "pip install -r requirements-sam2.txt"


def model_id(option: Optional[str] = None) -> str:
    """The weights to use: the `sam2_model` option, else `SAM2_MODEL`, else the default hub id."""
    return str(option or os.environ.get("SAM2_MODEL") or DEFAULT_MODEL)


def download_allowed() -> bool:
    """`SAM2_DOWNLOAD=1` (e.g. a Space variable): fetch missing weights from the hub on first use."""
    return os.environ.get("SAM2_DOWNLOAD", "").strip().lower() in ("1", "true", "yes")


def missing_dependencies() -> list:
    """Optional packages that are not installed (a cheap spec lookup: nothing is imported)."""
    return [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]


def local_weights(mid: str) -> Optional[str]:
    """Folder holding `mid`'s weights on this machine (a local directory or the HF cache), or None. No network."""
    path = Path(mid).expanduser()
    if path.is_dir():
        return str(path) if all((path / f).is_file() for f in WEIGHT_FILES) else None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = [try_to_load_from_cache(mid, f) for f in WEIGHT_FILES]
    except Exception:  # not a valid repo id, hub library missing: treat as "not here"
        return None
    if all(isinstance(f, str) for f in found):
        return str(Path(found[0]).parent)
    return None


def not_here(mid: str) -> str:
    return f"weights '{mid}' not on this machine (run `hf download {mid}` once, or set SAM2_DOWNLOAD=1)."


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


# --------------------------------------------------------------------------------------------------------------
# Image preprocessing. transformers' Sam2ImageProcessor needs torchvision, and PyPI's torchvision only imports
# beside PyPI's (CUDA) torch build, not beside a CPU wheel. The steps are few and fixed (stretch to the model's
# square input size with antialiased bilinear resampling, rescale, normalise; post-process = bilinear upsampling of
# the low-res logits to the photo's size, threshold 0), so they are done here in torch, configured from the
# checkpoint's preprocessor_config.json, and Sam2Processor keeps the prompt side (coordinate convention, padding).
# tests/test_sam2.py compares this with Sam2ImageProcessor wherever torchvision imports.
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _image_processor_class():
    """Built on first use so that importing this module never imports torch or transformers."""
    import torch
    import torch.nn.functional as F
    from transformers.image_processing_base import BatchFeature, ImageProcessingMixin

    class _TorchSam2ImageProcessor(ImageProcessingMixin):
        model_input_names = ["pixel_values"]

        def __init__(self, size=None, image_mean=None, image_std=None, rescale_factor=1 / 255, **kw):
            kw = {k: v for k, v in kw.items() if k in ("mask_size",)}
            super().__init__(**kw)
            self.size = dict(size or {"height": 1024, "width": 1024})
            self.image_mean = list(image_mean or [0.485, 0.456, 0.406])
            self.image_std = list(image_std or [0.229, 0.224, 0.225])
            self.rescale_factor = float(rescale_factor)

        def __call__(self, images, return_tensors=None, **_):
            """One RGB uint8 HxWx3 array (or a list of them) -> pixel_values (B,3,S,S) and original_sizes."""
            images = images if isinstance(images, (list, tuple)) else [images]
            out, sizes = [], []
            for img in images:
                arr = np.ascontiguousarray(np.asarray(img, dtype=np.uint8)[..., :3])
                if not arr.flags.writeable:  # torch.from_numpy wants a writable array (a cached photo may not be)
                    arr = arr.copy()
                sizes.append([int(arr.shape[0]), int(arr.shape[1])])
                # uint8 antialiased bilinear on the CPU: the kernel torchvision's resize uses for uint8 tensors,
                # so the result is bit-identical to Sam2ImageProcessor's (checked in tests/test_sam2.py).
                x = torch.from_numpy(arr).permute(2, 0, 1)[None]
                x = F.interpolate(x, size=(self.size["height"], self.size["width"]), mode="bilinear",
                                  align_corners=False, antialias=True)
                mean = torch.tensor(self.image_mean).view(1, 3, 1, 1) / self.rescale_factor
                std = torch.tensor(self.image_std).view(1, 3, 1, 1) / self.rescale_factor
                out.append((x.float() - mean) / std)
            data = {"pixel_values": torch.cat(out), "original_sizes": sizes}
            return BatchFeature(data=data, tensor_type=return_tensors)

        def post_process_masks(self, masks, original_sizes, mask_threshold=0.0, binarize=True, max_hole_area=0.0,
                               max_sprinkle_area=0.0, apply_non_overlapping_constraints=False, **_):
            """Low-res logits (B,C,h,w) per image -> (B,C,H,W) at the photo's size, as Sam2ImageProcessor does
            (which, like this, does not act on the hole and sprinkle areas)."""
            if apply_non_overlapping_constraints:
                raise NotImplementedError("non-overlapping constraints are applied by core.masks.selection instead")
            if isinstance(original_sizes, torch.Tensor):
                original_sizes = original_sizes.tolist()
            result = []
            for m, size in zip(masks, original_sizes):
                m = torch.as_tensor(m)
                up = F.interpolate(m, [int(s) for s in size], mode="bilinear", align_corners=False)
                result.append(up > mask_threshold if binarize else up)
            return result

    return _TorchSam2ImageProcessor


def torch_image_processor(**config):
    """Sam2ImageProcessor's preprocessing and `post_process_masks` in plain torch (no torchvision)."""
    return _image_processor_class()(**config)


# --------------------------------------------------------------------------------------------------------------
# The model: loaded once per process, lazily, under a lock; released with the process.
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Loaded:
    model: object  # transformers Sam2Model, eval mode, on `device`
    processor: object  # transformers Sam2Processor
    device: str
    source: str  # where the weights came from (folder, cache path, or "in-memory")


_LOCK = threading.Lock()
_LOADED: dict = {}


def default_device() -> str:
    """CUDA if present, else the CPU. Where `spaces` imports, always the CPU: ZeroGPU emulates CUDA outside its GPU
    calls, so the model is loaded on the CPU and moved to CUDA inside the first GPU call (`_on_device`)."""
    import torch

    if spaces is not None:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_processor(image_processor):
    from transformers import Sam2Processor

    return Sam2Processor(image_processor=image_processor, target_size=int(image_processor.size["height"]))


def install(key: str, model, processor=None, device: Optional[str] = None) -> Loaded:
    """Register an already-built model under `key` (tests and benchmarks use randomly initialised ones)."""
    device = device or default_device()
    if processor is None:
        size = int(model.config.vision_config.backbone_config.image_size[0])
        processor = make_processor(torch_image_processor(size={"height": size, "width": size}))
    loaded = Loaded(model.to(device).eval(), processor, device, "in-memory")
    with _LOCK:
        _LOADED[key] = loaded
    return loaded


def uninstall(key: str) -> None:
    with _LOCK:
        _LOADED.pop(key, None)


def load(mid: str, allow_download: bool = False) -> Loaded:
    """The model and processor for `mid`, loaded on first use. Raises BackendUnavailable with one line on failure.

    Requests never download: on a machine without the hub, `from_pretrained` would spend ~30 s in retries before
    failing. `allow_download=True` is for a one-off setup step where the hub is reachable."""
    loaded = _LOADED.get(mid)
    if loaded is not None:
        return loaded
    with _LOCK:
        if mid in _LOADED:  # another thread loaded it while we waited
            return _LOADED[mid]
        missing = missing_dependencies()
        if missing:
            raise BackendUnavailable(f"{' and '.join(missing)} not installed ({INSTALL_HINT}).")
        folder = local_weights(mid)
        if folder is None and not (allow_download or download_allowed()):
            raise BackendUnavailable(not_here(mid))
        t = time.perf_counter()
        try:
            from transformers import Sam2Model
            from transformers.image_processing_base import ImageProcessingMixin

            device = default_device()
            # Weights already on this machine load with no network call; anything else is a real download.
            kwargs = {"local_files_only": True} if folder else {}
            source = folder if folder and Path(mid).expanduser().is_dir() else mid
            model = Sam2Model.from_pretrained(source, **kwargs)
            try:
                cfg, _ = ImageProcessingMixin.get_image_processor_dict(source, **kwargs)
            except OSError:  # a checkpoint without preprocessor_config.json: SAM2's fixed defaults
                cfg = {}
            image_processor = torch_image_processor(
                size=cfg.get("size"), image_mean=cfg.get("image_mean"), image_std=cfg.get("image_std"),
                rescale_factor=cfg.get("rescale_factor", 1 / 255))
            model = model.to(device).eval()
        except Exception as exc:
            raise BackendUnavailable(f"could not load SAM2 weights '{mid}' ({_one_line(exc)}).") from exc
        loaded = Loaded(model, make_processor(image_processor), device, folder or mid)
        _LOADED[mid] = loaded
        log.info("SAM2 %s loaded on %s in %.1f s", mid, device, time.perf_counter() - t)
        return loaded


# --------------------------------------------------------------------------------------------------------------
# Prompts -> processor inputs, and the two steps.
# --------------------------------------------------------------------------------------------------------------


def prompt_inputs(prompts: list, max_negatives: int = MAX_NEGATIVES) -> tuple:
    """Per prompt, points and labels (1 = on the instance, 0 = on a neighbour) and the expanded box, all in the
    photo's pixel coordinates (x, y): Sam2Processor maps them to the model's square input itself."""
    points, labels, boxes = [], [], []
    for p in prompts:
        pos = np.asarray(p.positive_points, np.float64).reshape(-1, 2)
        neg = np.asarray(p.negative_points, np.float64).reshape(-1, 2)
        if len(neg) > max_negatives:
            x0, y0, x1, y1 = p.expanded_box
            centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            neg = neg[np.argsort(np.linalg.norm(neg - centre, axis=1), kind="stable")[:max_negatives]]
        pts = np.vstack([pos, neg])
        points.append(pts.tolist())
        labels.append([1] * len(pos) + [0] * len(neg))
        boxes.append([float(v) for v in p.expanded_box])
    return points, labels, boxes


def encode_prompts(processor, prompts: list, original_size) -> dict:
    """The prompts as model inputs, through Sam2Processor: points scaled by the model's input size over the photo's
    width (x) and height (y), ragged point lists padded with label -10 (ignored by the prompt encoder)."""
    points, labels, boxes = prompt_inputs(prompts)
    return processor(original_sizes=[list(original_size)], input_points=[points], input_labels=[labels],
                     input_boxes=[boxes], return_tensors="pt")


@dataclass
class Embedding:
    features: list  # the model's multi-scale image embeddings
    original_size: tuple  # (H, W) of the photo
    ms: float


class Sam2Backend(Backend):
    name = "sam2"
    announce_absence = False  # optional install: most Spaces never add it, so auto skips it quietly

    def available_for(self, options: dict) -> tuple:
        """The pipeline asks with the request's options, so a `sam2_model` option is honoured here too."""
        return self.available(options.get("sam2_model"))

    def available(self, sam2_model: Optional[str] = None) -> tuple:
        """Ready only if torch and transformers import and the weights are on this machine. No network, no load."""
        mid = model_id(sam2_model)
        if mid in _LOADED:
            return True, ""
        missing = missing_dependencies()
        if missing:
            return False, f"{' and '.join(missing)} not installed ({INSTALL_HINT})."
        if local_weights(mid) is None and not download_allowed():
            return False, not_here(mid)
        try:
            import torch  # noqa: F401
            from transformers import Sam2Model  # noqa: F401
        except Exception as exc:
            return False, f"torch/transformers do not import ({_one_line(exc)})."
        return True, ""

    def embed(self, loaded: Loaded, image: np.ndarray) -> Embedding:
        """The expensive step, once per photo."""
        import torch

        t = time.perf_counter()
        inputs = loaded.processor(images=image, return_tensors="pt")
        with torch.inference_mode():
            feats = loaded.model.get_image_embeddings(inputs["pixel_values"].to(loaded.device))
        if loaded.device == "cuda":
            torch.cuda.synchronize()
        return Embedding(feats, tuple(image.shape[:2]), (time.perf_counter() - t) * 1000)

    def decode(self, loaded: Loaded, emb: Embedding, prompts: list) -> tuple:
        """All prompts in one batched decoder call -> (per-prompt lists of 3 bool HxW masks, per-prompt IoU scores)."""
        if not prompts:
            return [], []
        low_res, scores = self.decode_logits(loaded, emb, prompts)
        return upsample(loaded.processor, low_res, emb.original_size), scores

    def decode_logits(self, loaded: Loaded, emb: Embedding, prompts: list) -> tuple:
        """The batched decoder call -> ((N, 3, 256, 256) float32 logits as numpy, (N, 3) IoU scores as lists)."""
        import torch

        enc = encode_prompts(loaded.processor, prompts, emb.original_size)
        with torch.inference_mode():
            out = loaded.model(image_embeddings=emb.features,
                               input_points=enc["input_points"].to(loaded.device),
                               input_labels=enc["input_labels"].to(loaded.device),
                               input_boxes=enc["input_boxes"].to(loaded.device),
                               multimask_output=True)
            return out.pred_masks[0].float().cpu().numpy(), out.iou_scores[0].float().cpu().tolist()

    def propose(self, image: np.ndarray, prompts: list, sam2_model: Optional[str] = None, **_) -> Candidates:
        mid = model_id(sam2_model)
        if not prompts:
            return Candidates(per_prompt=[], scores=[])
        loaded = load(mid)  # in this process: a ZeroGPU worker forked from it finds the model loaded
        # The model reads only the points and boxes: the photo-sized prior and limit masks stay here.
        light = [dataclasses.replace(p, prior=None, limit=None) for p in prompts]
        t = time.perf_counter()
        low_res, scores, embed_ms = _model_call(mid, image, light)
        masks = upsample(loaded.processor, low_res, image.shape[:2])
        log.debug("sam2 embed %.0f ms, embed+decode of %d prompts %.0f ms", embed_ms, len(prompts),
                  (time.perf_counter() - t) * 1000)
        return Candidates(per_prompt=masks, scores=scores)


def upsample(processor, low_res, original_size) -> list:
    """Low-res logits (N, 3, h, w) -> per prompt, 3 bool masks at the photo's size. One instance at a time: N x 3
    float masks at full resolution would not fit in memory for a large photo with many instances."""
    import torch

    low_res = torch.as_tensor(low_res)
    masks = []
    with torch.inference_mode():
        for i in range(low_res.shape[0]):
            up = processor.post_process_masks(low_res[i:i + 1][None], [list(original_size)])[0][0]
            masks.append([m.numpy().astype(bool) for m in up])
    return masks


# --------------------------------------------------------------------------------------------------------------
# Hugging Face ZeroGPU: a GPU is attached only for the duration of a call to a function decorated with
# `@spaces.GPU` at import time. Such a call runs in a worker process forked from this one, its arguments and result
# pickled across: so it takes the model id, the photo and light prompts, finds the model in the `_LOADED` it
# inherited, and returns the low-res logits (small) rather than photo-sized masks.
# --------------------------------------------------------------------------------------------------------------

_MOVE_LOCK = threading.Lock()


def _on_gpu(fn):
    """`spaces.GPU(fn)` where `spaces` imports (on other Space hardware it returns `fn` itself), else `fn`."""
    return spaces.GPU(fn) if spaces is not None else fn


def _on_device(loaded: Loaded) -> Loaded:
    """Under `spaces` the model was loaded on the CPU (`default_device`): inside the GPU call it moves to CUDA, once
    per process (a ZeroGPU worker, or this one on a GPU Space)."""
    if spaces is not None and loaded.device == "cpu":
        import torch

        if torch.cuda.is_available():
            with _MOVE_LOCK:
                if loaded.device == "cpu":
                    loaded.model.to("cuda")
                    loaded.device = "cuda"
    return loaded


def _run_model(mid: str, image: np.ndarray, prompts: list) -> tuple:
    """One photo's model calls: the image embedding and the batched decode -> (logits, IoU scores, embed ms)."""
    loaded = _on_device(load(mid))
    backend = Sam2Backend()
    emb = backend.embed(loaded, image)
    low_res, scores = backend.decode_logits(loaded, emb, prompts)
    return low_res, scores, emb.ms


_model_call = _on_gpu(_run_model)
