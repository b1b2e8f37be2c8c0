"""SAM 2 on Replicate: one prediction per photo, candidates downloaded once, every failure a clear message.

The image SAM 2 models on Replicate (`meta/sam-2`, `lucataco/segment-anything-2`) do automatic mask generation
only: they take no boxes or points. So one prediction per photo yields every candidate mask, and the landmark
judge in `core.masks.selection` picks each instance's mask from that shared pool.

The token comes from the `replicate_token` option (a visitor's own, per request) or `REPLICATE_API_TOKEN`
(the Space secret). It is sent only to the API host and never written anywhere: every message that leaves this
module passes through `_scrub`.
"""
from __future__ import annotations

import base64
import io
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import cv2
import httpx
import numpy as np
from PIL import Image

from .base import Backend, BackendUnavailable, Candidates

log = logging.getLogger(__name__)

DEFAULT_MODEL = "meta/sam-2"
DEFAULT_BASE_URL = "https://api.replicate.com"
NO_TOKEN = "no REPLICATE_API_TOKEN set; add it as a Space secret or paste your own token."
# Replicate tokens are ASCII letters, digits and a few marks ("r8_..."); anything else (a non-ASCII character
# pasted along, a space inside) cannot be sent in an HTTP header and used to surface as a UnicodeEncodeError.
BAD_TOKEN = "This token is not valid (it contains characters a Replicate token never has)."
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.:=+/-]+")
TERMINAL = ("succeeded", "failed", "canceled")
CANCEL_GRACE_S = 0.5  # we give up this long before the deadline, to cancel what we abandon (it costs money)
SAM_SIDE = 1024  # SAM resizes every input to this long side; sending more only costs upload time


@dataclass
class Settings:
    """Everything one request needs, resolved from options and the environment (env first, option wins)."""

    token: str = ""
    model: str = DEFAULT_MODEL
    base_url: str = DEFAULT_BASE_URL
    deadline_s: float = 60.0  # the whole call, create to last download
    mode: str = "whole"  # "whole" photo or "mosaic" of expanded crops (see bench.selection for why whole)
    max_side: int = SAM_SIDE
    create_retries: int = 2  # extra attempts on 5xx / connection errors (POST is not retried by the client)
    max_rate_wait_s: float = 10.0  # total time we honour Retry-After on 429 before giving up
    workers: int = 8  # parallel mask downloads
    download_timeout_s: float = 15.0
    max_mask_bytes: int = 8 * 1024 * 1024
    max_masks: int = 400
    model_input: dict = field(default_factory=dict)


def settings_from(options: dict) -> Settings:
    env = os.environ
    s = Settings()
    s.token = (options.get("replicate_token") or env.get("REPLICATE_API_TOKEN") or "").strip()
    s.model = (options.get("replicate_model") or env.get("REPLICATE_SAM2_MODEL") or DEFAULT_MODEL).strip()
    s.base_url = (env.get("REPLICATE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    s.deadline_s = float(options.get("replicate_deadline") or env.get("REPLICATE_DEADLINE") or s.deadline_s)
    s.mode = options.get("replicate_mode") or s.mode
    s.max_rate_wait_s = float(options.get("replicate_max_rate_wait") or s.max_rate_wait_s)
    s.create_retries = int(options.get("replicate_retries", s.create_retries))
    s.max_mask_bytes = int(options.get("replicate_max_mask_bytes") or s.max_mask_bytes)
    s.model_input = dict(options.get("replicate_input") or {})
    return s


class ReplicateBackend(Backend):
    name = "replicate"

    def available(self) -> tuple:
        return self.available_for({})

    def available_for(self, options: dict) -> tuple:
        """Cheap: looks for a token only (no network), so `auto` can skip it without a round trip."""
        s = settings_from(options)
        if not s.token:
            return False, NO_TOKEN
        if not _TOKEN_CHARS.fullmatch(s.token):
            return False, BAD_TOKEN
        try:
            _model_ref(s.model)
        except BackendUnavailable as exc:
            return False, str(exc)
        return True, ""

    def propose(self, image: np.ndarray, prompts: list, **options) -> Candidates:
        s = settings_from(options)
        if not s.token:
            raise BackendUnavailable(NO_TOKEN)
        if not _TOKEN_CHARS.fullmatch(s.token):
            raise BackendUnavailable(BAD_TOKEN)
        if not prompts:  # nothing to mask: do not spend the visitor's money
            return Candidates(per_prompt=[])
        try:
            return _with_deadline(lambda deadline: _propose(image, prompts, s, deadline), s.deadline_s)
        except BackendUnavailable as exc:
            raise BackendUnavailable(_scrub(str(exc), s.token)) from None
        except Exception as exc:  # never let a token-bearing repr escape (httpx errors echo requests)
            log.warning("replicate backend error: %s", type(exc).__name__)
            raise BackendUnavailable(f"unexpected {type(exc).__name__} while calling Replicate.") from None


# ----------------------------------------------------------------------------------------------- the request
def _propose(image, prompts, s: Settings, deadline: float) -> Candidates:
    if s.mode == "mosaic":
        layout = MosaicLayout(image.shape, [p.expanded_box for p in prompts], s.max_side)
        sent = layout.compose(image)
    else:
        layout = None
        sent = _fit(image, s.max_side)
    masks = predict_masks(sent, s, deadline)
    if layout is not None:
        per_prompt = [[] for _ in prompts]
        for m in masks:
            for i, piece in layout.split(m):
                per_prompt[i].append(piece)
        return Candidates(per_prompt=per_prompt)
    return Candidates(per_prompt=[[] for _ in prompts], shared=_to_photo(masks, image.shape, prompts))


def predict_masks(sent: np.ndarray, s: Settings, deadline: float) -> list:
    """Create one prediction for `sent` (RGB), wait for it within `deadline`, download its masks once each."""
    import replicate

    seen: dict = {}
    transport = _DeadlineTransport(deadline)
    client = replicate.Client(
        api_token=s.token, base_url=s.base_url, timeout=httpx.Timeout(10.0, read=30.0), transport=transport,
        event_hooks={"response": [lambda r: seen.__setitem__("headers", r.headers)]})
    version_or_model = _model_ref(s.model)
    payload = dict(s.model_input, image=_data_uri(sent))
    pred = _create(client, version_or_model, payload, s, deadline, seen)
    pred = _wait(client, pred, s, deadline, transport)
    urls = mask_urls(pred.output)
    if not urls:
        raise BackendUnavailable("the model returned no masks.")
    return _download_all(urls[: s.max_masks], sent.shape[:2], s, deadline)


def _model_ref(model: str) -> tuple:
    """("version", id) for owner/name:version, ("model", "owner/name") for an official model reference."""
    m = re.fullmatch(r"([\w.-]+)/([\w.-]+)(?::([0-9a-f]{8,}))?", model or "")
    if not m:
        raise BackendUnavailable("REPLICATE_SAM2_MODEL must look like owner/name or owner/name:version.")
    return ("version", m.group(3)) if m.group(3) else ("model", f"{m.group(1)}/{m.group(2)}")


def _create(client, ref, payload, s: Settings, deadline: float, seen: dict):
    """POST the prediction. The client never retries a POST, so 429/5xx/connection errors are handled here."""
    from replicate.exceptions import ReplicateError

    attempts, rate_waited = 0, 0.0
    while True:
        wait = int(max(1, min(60, deadline - time.monotonic() - 1)))  # Prefer: wait=N, at most the API's 60 s
        try:
            if ref[0] == "version":
                return client.predictions.create(version=ref[1], input=payload, wait=wait)
            return client.models.predictions.create(model=ref[1], input=payload, wait=wait)
        except ReplicateError as exc:
            status = exc.status or 0
            if status in (401, 403):
                raise BackendUnavailable(f"Replicate token rejected (HTTP {status}); check the token.") from None
            if status == 402:
                raise BackendUnavailable("Replicate needs billing set up for this account (HTTP 402 payment "
                                         "required); add credit at replicate.com/account/billing.") from None
            if status == 429:
                delay = _retry_after(seen.get("headers"), exc, rate_waited)
                if rate_waited + delay > s.max_rate_wait_s or time.monotonic() + delay > deadline - 1:
                    raise BackendUnavailable("Replicate rate limit reached (HTTP 429); try again in a minute."
                                             ) from None
                time.sleep(delay)
                rate_waited += delay
                continue
            if status >= 500 and attempts < s.create_retries:
                attempts += 1
                _backoff(attempts, deadline)
                continue
            if status >= 500:
                raise BackendUnavailable(f"Replicate server error (HTTP {status}) after {attempts + 1} "
                                         "attempts.") from None
            raise BackendUnavailable(f"Replicate refused the prediction (HTTP {status}): "
                                     f"{_summary(exc.detail or exc.title)}") from None
        except httpx.TransportError as exc:
            if attempts < s.create_retries and time.monotonic() < deadline - 1:
                attempts += 1
                _backoff(attempts, deadline)
                continue
            raise BackendUnavailable(_transport_message(exc, deadline, s)) from None


def _wait(client, pred, s: Settings, deadline: float, transport):
    """Poll GET /v1/predictions/{id} until a terminal state; cancel it if the deadline passes first."""
    from replicate.exceptions import ReplicateError

    errors = 0
    while pred.status not in TERMINAL:
        if time.monotonic() + max(client.poll_interval, CANCEL_GRACE_S) > deadline:
            transport.deadline = time.monotonic() + CANCEL_GRACE_S  # room for the cancel request itself
            _cancel(client, pred.id)
            raise BackendUnavailable(f"Replicate did not finish within the {s.deadline_s:g} s deadline.")
        time.sleep(client.poll_interval)
        try:
            pred = client.predictions.get(pred.id)
            errors = 0
        except ReplicateError as exc:  # the client already retried 429/503/504 on GET
            if exc.status in (401, 403):
                raise BackendUnavailable(f"Replicate token rejected (HTTP {exc.status}); check the token.") from None
            errors += 1
            if errors > s.create_retries:
                raise BackendUnavailable(f"Replicate kept failing while we waited (HTTP {exc.status}).") from None
        except httpx.TransportError as exc:
            errors += 1
            if errors > s.create_retries or time.monotonic() >= deadline:
                raise BackendUnavailable(_transport_message(exc, deadline, s)) from None
    if pred.status == "failed":
        raise BackendUnavailable(f"the SAM 2 model failed on Replicate: {_summary(pred.error)}")
    if pred.status == "canceled":
        raise BackendUnavailable("the prediction was canceled on Replicate.")
    return pred


def _cancel(client, pid) -> None:
    try:
        client.predictions.cancel(pid)
    except Exception:  # best effort: we are already giving up
        pass


def mask_urls(output) -> list:
    """Mask URLs from either output shape: meta/sam-2's {"individual_masks": [...]} or a plain list;
    items may be URL strings or the client's FileOutput objects (which carry `.url`)."""
    if isinstance(output, Mapping):
        for key in ("individual_masks", "masks"):
            if output.get(key):
                output = output[key]
                break
        else:
            raise BackendUnavailable("the model's output has no individual masks; use meta/sam-2 or "
                                     "lucataco/segment-anything-2.")
    if output is None:
        return []
    if isinstance(output, (str, bytes)) or hasattr(output, "url"):
        output = [output]
    urls = []
    for item in output:
        url = getattr(item, "url", item)
        if isinstance(url, str) and url not in urls:  # each candidate once, even if listed twice
            urls.append(url)
    return urls


# -------------------------------------------------------------------------------------------------- downloads
def allowed_url(url: str, base_url: str) -> bool:
    """Only the configured API host itself, or Replicate's delivery host when the API is Replicate's."""
    u, b = urlsplit(url), urlsplit(base_url)
    if u.scheme == "data":
        return True
    if (u.scheme, u.hostname, u.port) == (b.scheme, b.hostname, b.port):
        return True
    host = u.hostname or ""
    return (u.scheme == "https" and (b.hostname or "").endswith("replicate.com")
            and (host == "replicate.delivery" or host.endswith(".replicate.delivery")))


def _download_all(urls: list, shape, s: Settings, deadline: float) -> list:

    bad = [u for u in urls if not allowed_url(u, s.base_url)]
    if bad:
        raise BackendUnavailable(f"Replicate returned a mask from an unexpected host ({urlsplit(bad[0]).hostname}"
                                 "); nothing was downloaded from it.")
    timeout = httpx.Timeout(min(s.download_timeout_s, 10.0), read=s.download_timeout_s)
    # No Authorization header: delivery URLs are capability URLs, and the token goes to the API host only.
    with httpx.Client(timeout=timeout, transport=_DeadlineTransport(deadline), follow_redirects=False) as http:
        with ThreadPoolExecutor(max_workers=max(1, min(s.workers, len(urls)))) as pool:
            got = list(pool.map(lambda u: _fetch(http, u, shape, s), urls))
    masks = [m for m in got if m is not None]
    if not masks and time.monotonic() >= deadline - 0.05:
        raise BackendUnavailable(f"Replicate's masks did not arrive within the {s.deadline_s:g} s deadline.")
    if not masks:
        raise BackendUnavailable("none of the model's masks could be downloaded.")
    return masks


def _fetch(http, url: str, shape, s: Settings):
    """One GET (one retry on a transport error or 5xx), streamed with a size cap, decoded to a bool mask."""

    if url.startswith("data:"):
        data = base64.b64decode(url.split(",", 1)[1])
        return _decode_mask(data[: s.max_mask_bytes + 1], shape, s)
    for attempt in range(2):
        try:
            with http.stream("GET", url) as resp:
                if resp.status_code >= 500 and attempt == 0:
                    continue
                if resp.status_code != 200:
                    log.warning("mask download failed: HTTP %s", resp.status_code)
                    return None
                if int(resp.headers.get("content-length") or 0) > s.max_mask_bytes:
                    log.warning("mask download refused: larger than %d bytes", s.max_mask_bytes)
                    return None
                buf = bytearray()
                for chunk in resp.iter_bytes():
                    buf += chunk
                    if len(buf) > s.max_mask_bytes:
                        log.warning("mask download stopped: larger than %d bytes", s.max_mask_bytes)
                        return None
            return _decode_mask(bytes(buf), shape, s)
        except httpx.TransportError as exc:
            if attempt == 1:
                log.warning("mask download failed: %s", type(exc).__name__)
    return None


def _decode_mask(data: bytes, shape, s: Settings):
    if len(data) > s.max_mask_bytes:
        return None
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > 4 * SAM_SIDE * SAM_SIDE * 16:
            return None
        arr = np.asarray(img.convert("L")) > 127
    except Exception:
        log.warning("a mask could not be decoded")
        return None
    if arr.shape != tuple(shape):
        arr = cv2.resize(arr.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    return arr


# ------------------------------------------------------------------------------------------ geometry helpers
def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def _to_photo(masks: list, shape, prompts) -> list:
    """Masks at the sent size -> photo size; drops those touching no expanded box (they can win nothing)."""
    h, w = shape[:2]
    out = []
    for m in masks:
        if m.shape != (h, w):
            m = cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        if any(m[y0:y1, x0:x1].any() for x0, y0, x1, y1 in (p.expanded_box for p in prompts)):
            out.append(m)
    return out


class MosaicLayout:
    """Expanded crops tiled on a square grid of equal cells (each crop scaled to fit its cell), so small faces
    and hands get more of SAM's points and pixels; `split` maps a mosaic mask back to per-crop photo masks."""

    def __init__(self, shape, boxes: list, side: int = SAM_SIDE):
        self.shape = shape[:2]
        self.boxes = [tuple(int(v) for v in b) for b in boxes]
        self.cols = int(np.ceil(np.sqrt(len(boxes))))
        self.rows = int(np.ceil(len(boxes) / self.cols))
        self.cell = side // self.cols
        self.cells = []  # (x, y, w, h) of each crop inside the mosaic
        for i, (x0, y0, x1, y1) in enumerate(self.boxes):
            f = self.cell / max(x1 - x0, y1 - y0)
            w, h = max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f))
            self.cells.append(((i % self.cols) * self.cell, (i // self.cols) * self.cell, w, h))

    def compose(self, arr: np.ndarray) -> np.ndarray:
        """The mosaic of `arr` (the photo, or any mask of its size, for simulations)."""
        out = np.zeros((self.rows * self.cell, self.cols * self.cell) + arr.shape[2:], arr.dtype)
        for (x0, y0, x1, y1), (cx, cy, w, h) in zip(self.boxes, self.cells):
            crop = arr[y0:y1, x0:x1]
            interp = cv2.INTER_AREA if w < (x1 - x0) else cv2.INTER_LINEAR
            if arr.dtype == bool:
                out[cy:cy + h, cx:cx + w] = cv2.resize(crop.astype(np.float32), (w, h), interpolation=interp) > 0.5
            else:
                out[cy:cy + h, cx:cx + w] = cv2.resize(crop, (w, h), interpolation=interp)
        return out

    def split(self, mask: np.ndarray) -> list:
        """[(crop index, photo-size bool mask)] for every crop the mosaic mask touches."""
        out = []
        for i, ((x0, y0, x1, y1), (cx, cy, w, h)) in enumerate(zip(self.boxes, self.cells)):
            piece = mask[cy:cy + h, cx:cx + w]
            if not piece.any():
                continue
            full = np.zeros(self.shape, bool)
            full[y0:y1, x0:x1] = cv2.resize(piece.astype(np.float32), (x1 - x0, y1 - y0),
                                            interpolation=cv2.INTER_LINEAR) > 0.5
            out.append((i, full))
        return out


# ------------------------------------------------------------------------------------------- plumbing helpers
def _data_uri(rgb: np.ndarray) -> str:
    """The photo inline as a JPEG data URI: one request, no upload through the files API."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise BackendUnavailable("the photo could not be encoded for upload.")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _retry_after(headers, exc, waited: float) -> float:
    value = (headers or {}).get("retry-after", "") if headers is not None else ""
    try:
        return max(0.0, float(value))
    except ValueError:
        m = re.search(r"(\d+(?:\.\d+)?)\s*second", str(exc.detail or ""))
        return float(m.group(1)) if m else min(8.0, 1.0 + waited)


def _backoff(attempt: int, deadline: float) -> None:
    time.sleep(max(0.0, min(0.5 * 2 ** (attempt - 1), deadline - time.monotonic() - 1)))


def _transport_message(exc, deadline: float, s: Settings) -> str:

    if time.monotonic() >= deadline - 0.05:
        return f"Replicate did not answer within the {s.deadline_s:g} s deadline."
    if isinstance(exc, httpx.TimeoutException):
        return "Replicate timed out; the service may be busy."
    return f"could not reach Replicate ({type(exc).__name__})."


def _summary(text) -> str:
    """The first line of a model's or API's error, short enough for a status bar."""
    line = next((ln.strip() for ln in str(text or "no details").splitlines() if ln.strip()), "no details")
    return line[:160] + ("…" if len(line) > 160 else "")


_TOKENISH = re.compile(r"r8_[A-Za-z0-9]{8,}")


def _scrub(text: str, token: str) -> str:
    """Remove the token (and anything shaped like a Replicate token) from a user-facing message."""
    if token:
        text = text.replace(token, "[token]")
    return _TOKENISH.sub("[token]", text)


def _with_deadline(work, seconds: float):
    """Run `work(deadline)` in a daemon thread and give up after `seconds`, whatever the client is doing
    (its GET retries honour Retry-After without a cap). The transport refuses new requests after the
    deadline, so an abandoned worker ends soon after."""
    deadline = time.monotonic() + seconds
    box: dict = {}

    def run():
        try:
            box["value"] = work(deadline)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=run, name="replicate-call", daemon=True)
    t.start()
    t.join(max(0.0, seconds) + 0.5)
    if t.is_alive():
        raise BackendUnavailable(f"Replicate did not finish within the {seconds:g} s deadline.")
    if "error" in box:
        raise box["error"]
    return box["value"]


class _DeadlineTransport(httpx.HTTPTransport):
    """An httpx transport that clamps each request's timeouts to the time left and refuses to start after it."""

    def __init__(self, deadline: float, **kwargs):
        super().__init__(**kwargs)
        self.deadline = deadline

    def handle_request(self, request):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpx.ConnectTimeout("deadline passed", request=request)
        t = dict(request.extensions.get("timeout") or {})
        request.extensions["timeout"] = ({k: min(v, left) if v else left for k, v in t.items()}
                                         or {"connect": left, "read": left, "write": left, "pool": left})
        return super().handle_request(request)
